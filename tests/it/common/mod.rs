//! Test support shared by the integration tests: a Kestra emulator over real HTTP, a
//! throw-away workspace, and the `kestra-sync` binary run as a user runs it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

pub use kestra_emulator::{Auth, Emulator, Options};

pub const USER: &str = "admin@kestra.io";
pub const PASSWORD: &str = "S3cret-test-pass";

/// An emulator with HTTP Basic auth, like an OSS server ≥ 0.24.
pub fn emulator() -> Emulator {
    emulator_with(Options::default())
}

pub fn emulator_with(mut opts: Options) -> Emulator {
    if matches!(opts.auth, Auth::None) {
        opts.auth = Auth::Basic {
            username: USER.into(),
            password: PASSWORD.into(),
        };
    }
    Emulator::start_in_background(opts).expect("the emulator starts")
}

/// `../shared/corpus/<rel>` from the crate root.
pub fn corpus(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus")
        .join(rel)
}

/// A temporary workspace with a `_flows` folder.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Workspace {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("_flows")).expect("mkdir");
        Workspace { dir }
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    /// Write `_flows/<rel>` (parents created).
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.dir.path().join("_flows").join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, contents).expect("write");
        p
    }
    pub fn remove(&self, rel: &str) {
        std::fs::remove_file(self.dir.path().join("_flows").join(rel)).expect("remove");
    }
}

/// The binary with a clean environment pointing at `emu`, for `target`.
pub fn kestra_sync(emu: &Emulator, ws: &Workspace, target: &str) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("kestra-sync").expect("binary");
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .env("KESTRA_URL", emu.url())
        .env("KESTRA_USERNAME", USER)
        .env("KESTRA_PASSWORD", PASSWORD)
        .env("KESTRA_SYNC_WORKSPACE", ws.path())
        .env("KESTRA_SYNC_TARGET_NAMESPACE", target)
        .env("KESTRA_SYNC_RETRIES", "1")
        .env("KESTRA_SYNC_TIMEOUT", "10");
    cmd
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Parse the JSON plan printed by `plan --format json`.
pub fn json_plan(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not a JSON plan ({e}):\nstdout:\n{}\nstderr:\n{}",
            stdout(o),
            stderr(o)
        )
    })
}

/// `(namespace/id, state)` pairs of a JSON plan.
pub fn states(plan: &serde_json::Value) -> Vec<(String, String)> {
    plan["flows"]
        .as_array()
        .expect("flows")
        .iter()
        .map(|f| {
            (
                format!(
                    "{}/{}",
                    f["namespace"].as_str().unwrap_or(""),
                    f["flowId"].as_str().unwrap_or("")
                ),
                f["syncState"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The external test data, beside the clone.
const SHARED: &str = "../shared";

/// Whether this clone has the external test data `../shared/<what>` (the corpus of real
/// flows, Kestra's OpenAPI specs). When it does not, the test calling this is skipped: it
/// says so on stderr and, under `bash .ci/test.sh`, in the list of skipped tests the script
/// prints at the end (the file named by `KESTRA_SYNC_SKIPPED`).
pub fn shared_present(what: &str, test: &str) -> bool {
    // KESTRA_SYNC_SHARED: where the data is instead (`/nonexistent` tries the skip path)
    let shared = std::env::var_os("KESTRA_SYNC_SHARED")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(SHARED));
    let dir = shared.join(what);
    if dir.is_dir() {
        return true;
    }
    let line = format!(
        "skipped {test}: needs ../shared/{what}, absent from this clone (scripts/fetch-corpus.sh fetches the pinned copy)"
    );
    eprintln!("{line}");
    if let Some(file) = std::env::var_os("KESTRA_SYNC_SKIPPED") {
        use std::io::Write as _;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(file)
        {
            let _ = writeln!(f, "{line}");
        }
    }
    false
}
