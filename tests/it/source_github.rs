//! Reading flows from GitHub without a checkout: one tarball request whatever the number of
//! files, the token never sent to the download host, GHES prefixes kept, clear errors.

use crate::github_support;

use std::io::Write;
use std::time::Duration;

use github_support::{FakeGithub, BOT_TOKEN};
use kestra_sync::forge::github::GithubClient;
use kestra_sync::source::github::download;
use secrecy::SecretString;

/// A GitHub-like tarball: pax global header, one top folder, `n` flows under `_flows/`.
fn repo_tarball(n: usize) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    let mut add = |path: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, path, data).unwrap();
    };
    add("acme-flows-abc1234/README.md", b"# flows\n");
    for i in 0..n {
        let team = i % 5;
        let body = format!("id: flow_{i}\nnamespace: prod\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: {i}\n");
        add(
            &format!("acme-flows-abc1234/_flows/team{team}/flow_{i}.yml"),
            body.as_bytes(),
        );
    }
    let mut gz = b.into_inner().unwrap();
    gz.flush().unwrap();
    gz.finish().unwrap()
}

fn client(gh: &FakeGithub) -> GithubClient {
    GithubClient::new(
        &gh.api_url(),
        &SecretString::from(BOT_TOKEN),
        Duration::from_secs(10),
    )
    .unwrap()
}

#[tokio::test]
async fn five_hundred_files_take_one_api_request() {
    let gh = FakeGithub::start("").await;
    gh.add_tarball("acme/flows", "abc1234def", repo_tarball(500));
    let out = download(&client(&gh), "acme/flows", "abc1234def", "_flows")
        .await
        .unwrap();
    assert_eq!(out.files, 500);
    assert!(out.path().join("_flows/team3/flow_498.yml").is_file());
    assert!(
        !out.path().join("README.md").exists(),
        "only git-directory is written"
    );

    let calls = gh.calls().await;
    assert_eq!(
        calls,
        vec![(
            "GET".to_string(),
            "/repos/acme/flows/tarball/abc1234def".to_string()
        )]
    );
    let downloads = gh.codeload.received_requests().await.unwrap();
    assert_eq!(downloads.len(), 1);
    assert!(
        downloads[0].headers.get("authorization").is_none(),
        "the token stays with the API host"
    );
    let api = gh.api_requests().await;
    assert!(api[0].headers.get("authorization").is_some());
    gh.check().await;
}

#[tokio::test]
async fn enterprise_server_keeps_its_prefix() {
    let gh = FakeGithub::start("/api/v3").await;
    let sha = "0123456789abcdef0123456789abcdef01234567";
    gh.add_tarball("acme/flows", sha, repo_tarball(3));
    let out = download(&client(&gh), "acme/flows", sha, "_flows")
        .await
        .unwrap();
    assert_eq!(out.files, 3);
    let want = format!("/api/v3/repos/acme/flows/tarball/{sha}");
    assert_eq!(gh.calls().await, vec![("GET".to_string(), want)]);
    gh.check().await;
}

#[tokio::test]
async fn a_missing_ref_says_what_to_check() {
    let gh = FakeGithub::start("").await;
    let err = download(&client(&gh), "acme/flows", "nope", "_flows")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("404") && err.contains("acme/flows") && err.contains("contents: read"),
        "{err}"
    );
    let err = download(&client(&gh), "not a repo", "x", "_flows")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("owner/name"), "{err}");
}

#[tokio::test]
async fn read_gives_the_same_files_as_a_checkout() {
    use kestra_sync::source::{github::read, workspace, SourceSpec};
    let gh = FakeGithub::start("").await;
    let tarball = repo_tarball(500);
    gh.add_tarball("acme/flows", "abc1234def", tarball.clone());
    let spec = SourceSpec {
        workspace: std::path::PathBuf::from("/nonexistent"),
        git_directory: "_flows".into(),
        include_child_namespaces: true,
    };
    let mut from_api = read(&client(&gh), "acme/flows", "abc1234def", &spec)
        .await
        .unwrap();
    assert_eq!(from_api.len(), 500);
    assert_eq!(gh.calls().await.len(), 1, "one request for 500 files");

    // The same tree unpacked as a checkout, read by the workspace reader.
    let checkout = tempfile::tempdir().unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&tarball[..]));
    archive.unpack(checkout.path()).unwrap();
    let root = checkout.path().join("acme-flows-abc1234");
    let mut from_disk = workspace::read(&SourceSpec {
        workspace: root,
        ..spec
    })
    .unwrap();
    from_api.sort_by(|a, b| a.git_path.cmp(&b.git_path));
    from_disk.sort_by(|a, b| a.git_path.cmp(&b.git_path));
    assert_eq!(from_api, from_disk);
    let f = from_api
        .iter()
        .find(|f| f.git_path == "_flows/team3/flow_498.yml")
        .unwrap();
    assert_eq!(f.subfolders, vec!["team3".to_string()]);
}
