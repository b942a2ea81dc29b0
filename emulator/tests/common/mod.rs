//! Helpers shared by the emulator's integration tests: a reqwest client and small flows.

#![allow(dead_code)]

use kestra_emulator::{Emulator, Options};

pub fn flow(ns: &str, id: &str) -> String {
    format!("id: {id}\nnamespace: {ns}\n\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .expect("client")
}

pub async fn start(opts: Options) -> (Emulator, reqwest::Client, String) {
    let emu = Emulator::start(opts).await.expect("start");
    let base = format!("{}/api/v1/main/flows", emu.url());
    (emu, client(), base)
}

pub async fn create(c: &reqwest::Client, base: &str, source: &str) -> reqwest::Response {
    c.post(base)
        .header("content-type", "application/x-yaml")
        .body(source.to_string())
        .send()
        .await
        .expect("send")
}

pub async fn update(
    c: &reqwest::Client,
    base: &str,
    ns: &str,
    id: &str,
    source: &str,
) -> reqwest::Response {
    c.put(format!("{base}/{ns}/{id}"))
        .header("content-type", "application/x-yaml")
        .body(source.to_string())
        .send()
        .await
        .expect("send")
}

pub async fn json(resp: reqwest::Response) -> serde_json::Value {
    resp.json().await.expect("json body")
}

/// The external test data, beside the clone.
const SHARED: &str = "../../shared";

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
