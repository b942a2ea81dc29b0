//! The end-to-end suite against a real Kestra server, run by the project's GitHub CI with a
//! `kestra/kestra` service container (`.github/workflows/ci.yml`). Set `KESTRA_E2E_URL`
//! (and `KESTRA_E2E_USERNAME` / `KESTRA_E2E_PASSWORD`) to run it against that server; without
//! them it runs against the bundled emulator (no Kestra server can run where `.ci/run` runs).
//! Each run works in its own fresh namespace, so it never touches anything else on the server.

use crate::common;

use common::*;

struct Real {
    url: String,
    user: Option<String>,
    password: Option<String>,
}

/// The real server from the environment, else an emulator (kept alive by the caller).
fn server() -> (Real, Option<Emulator>) {
    match std::env::var("KESTRA_E2E_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        Some(url) => (
            Real {
                url,
                user: std::env::var("KESTRA_E2E_USERNAME")
                    .ok()
                    .filter(|u| !u.is_empty()),
                password: std::env::var("KESTRA_E2E_PASSWORD")
                    .ok()
                    .filter(|u| !u.is_empty()),
            },
            None,
        ),
        None => {
            let emu = emulator();
            let real = Real {
                url: emu.url(),
                user: Some(USER.into()),
                password: Some(PASSWORD.into()),
            };
            (real, Some(emu))
        }
    }
}

fn cmd(k: &Real, ws: &Workspace, target: &str) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("kestra-sync").expect("binary");
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .env("KESTRA_URL", &k.url)
        .env("KESTRA_SYNC_WORKSPACE", ws.path())
        .env("KESTRA_SYNC_TARGET_NAMESPACE", target)
        .env("KESTRA_SYNC_INCLUDE_CHILD_NAMESPACES", "true");
    if let (Some(u), Some(p)) = (&k.user, &k.password) {
        cmd.env("KESTRA_USERNAME", u).env("KESTRA_PASSWORD", p);
    }
    cmd
}

fn plan(k: &Real, ws: &Workspace, target: &str, extra: &[&str]) -> serde_json::Value {
    let out = cmd(k, ws, target)
        .args(["plan", "--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    json_plan(&out)
}

#[test]
fn plan_apply_update_delete_converge_on_a_real_server_or_the_emulator() {
    let (k, _emulator) = server();
    let target = format!("e2e.run{}", std::process::id());
    let ws = Workspace::new();
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/_flows");
    let mut n = 0;
    for e in walkdir::WalkDir::new(&examples) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let rel = e
                .path()
                .strip_prefix(&examples)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            ws.write(&rel, std::fs::read(e.path()).unwrap());
            n += 1;
        }
    }

    let p = plan(&k, &ws, &target, &[]);
    assert_eq!(p["summary"]["added"], n, "{p}");
    let out = cmd(&k, &ws, &target).arg("apply").output().unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(plan(&k, &ws, &target, &[])["summary"]["unchanged"], n);

    // Change one byte of whitespace inside the file: the real server makes a revision, so
    // UPDATED (whitespace at the very end is not a change: see `kestra::same_source`).
    let hello = ws.path().join("_flows/hello.yml");
    let text = std::fs::read_to_string(&hello)
        .unwrap()
        .replacen('\n', " \n", 1);
    std::fs::write(&hello, text).unwrap();
    assert_eq!(plan(&k, &ws, &target, &[])["summary"]["updated"], 1);

    // Remove it from Git: KEPT without --delete, DELETED with it.
    std::fs::remove_file(&hello).unwrap();
    assert_eq!(plan(&k, &ws, &target, &[])["summary"]["kept"], 1);
    let out = cmd(&k, &ws, &target)
        .args(["apply", "--delete"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let p = plan(&k, &ws, &target, &["--delete"]);
    assert_eq!(p["summary"]["deleted"], 0, "{p}");
    assert_eq!(p["summary"]["unchanged"], n - 1);

    // Clean up: an empty folder with --delete is refused by the guard unless allowed.
    for e in std::fs::read_dir(ws.path().join("_flows")).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            std::fs::remove_dir_all(p).unwrap();
        } else {
            std::fs::remove_file(p).unwrap();
        }
    }
    let out = cmd(&k, &ws, &target)
        .args(["apply", "--delete"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "the mass-delete guard refuses");
    let out = cmd(&k, &ws, &target)
        .args(["apply", "--delete", "--allow-mass-delete"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}
