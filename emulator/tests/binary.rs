//! The `kestra-emulator` binary: prints its URL first, serves with the options given.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// Kills the child when the test ends, pass or fail.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn prints_its_url_and_serves() {
    let child = Command::new(env!("CARGO_BIN_EXE_kestra-emulator"))
        .args([
            "--port",
            "0",
            "--version",
            "2.0.0",
            "--username",
            "u",
            "--password",
            "p",
        ])
        .args(["--api-token", "tok", "--latency-ms", "1", "--no-export"])
        .arg("--ignore-namespace-filters")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the emulator");
    let mut child = Child(child);
    let stdout = child.0.stdout.take().expect("stdout");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("first line");
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = common::client();
        let cfg = format!("{url}/api/v1/configs");
        assert_eq!(c.get(&cfg).send().await.unwrap().status(), 401);
        let v = common::json(c.get(&cfg).basic_auth("u", Some("p")).send().await.unwrap()).await;
        assert_eq!(v["version"], "2.0.0");
        let export = format!("{url}/api/v1/main/flows/export/by-query");
        assert_eq!(
            c.get(&export)
                .bearer_auth("tok")
                .send()
                .await
                .unwrap()
                .status(),
            404
        );
        let search = format!("{url}/api/v1/main/flows/search");
        assert_eq!(
            c.get(&search)
                .bearer_auth("tok")
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        // --ignore-namespace-filters: listing `dev` answers the flow of `prod`
        let created = c
            .post(format!("{url}/api/v1/main/flows"))
            .bearer_auth("tok")
            .header("content-type", "application/x-yaml")
            .body(common::flow("prod", "a"))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 200);
        let dev = common::json(
            c.get(format!("{url}/api/v1/main/flows/dev"))
                .bearer_auth("tok")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(dev[0]["namespace"], "prod", "{dev}");
    });
}

#[test]
fn refuses_a_bad_version() {
    let out = Command::new(env!("CARGO_BIN_EXE_kestra-emulator"))
        .args(["--port", "0", "--version", "latest"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid emulator version"));
}
