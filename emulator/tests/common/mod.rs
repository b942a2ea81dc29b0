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
