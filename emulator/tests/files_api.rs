//! The namespace-file endpoints over real HTTP, as Kestra's `NamespaceFileController`
//! serves them: a revision per upload (identical bytes included), binary and empty files
//! byte for byte, ZIP uploads unpacked, recursive folder delete that removes emptied
//! parents, one-level listing, the export ZIP, `_flows` and over-long names refused, both
//! path forms.

mod common;

use std::io::Read;

use common::*;
use kestra_emulator::{Emulator, Options};

fn files_base(emu: &Emulator, ns: &str) -> String {
    format!("{}/api/v1/main/namespaces/{ns}/files", emu.url())
}

async fn upload(c: &reqwest::Client, base: &str, path: &str, name: &str, bytes: &[u8]) -> u16 {
    let form = reqwest::multipart::Form::new().part(
        "fileContent",
        reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name.to_string()),
    );
    c.post(base)
        .query(&[("path", path)])
        .multipart(form)
        .send()
        .await
        .expect("send")
        .status()
        .as_u16()
}

async fn export(c: &reqwest::Client, base: &str) -> Vec<(String, Vec<u8>)> {
    let resp = c.get(format!("{base}/export")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let bytes = resp.bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut out = Vec::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let mut b = Vec::new();
        f.read_to_end(&mut b).unwrap();
        out.push((f.name().to_string(), b));
    }
    out
}

#[tokio::test]
async fn uploads_make_revisions_and_the_export_holds_exact_bytes() {
    let (emu, c, _) = start(Options::default()).await;
    let base = files_base(&emu, "prod");
    let binary: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    assert_eq!(
        upload(&c, &base, "/scripts/a.py", "a.py", b"print(1)\n").await,
        200
    );
    assert_eq!(
        upload(&c, &base, "/scripts/a.py", "a.py", b"print(1)\n").await,
        200
    );
    assert_eq!(
        upload(&c, &base, "/data/blob.bin", "blob.bin", &binary).await,
        200
    );
    assert_eq!(upload(&c, &base, "/empty.txt", "empty.txt", b"").await, 200);

    // identical bytes still made a second revision
    let revs: serde_json::Value = c
        .get(format!("{base}/revisions?path=/scripts/a.py"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(revs, serde_json::json!([{"revision": 1}, {"revision": 2}]));

    let got = c
        .get(&base)
        .query(&[("path", "/data/blob.bin")])
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().to_vec(), binary);

    let entries = export(&c, &base).await;
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["data/blob.bin", "empty.txt", "scripts/a.py"]);
    assert_eq!(entries[0].1, binary);
    assert!(entries[1].1.is_empty());

    // another namespace is another storage
    assert!(export(&c, &files_base(&emu, "prod.child")).await.is_empty());
    let missing = c
        .get(&base)
        .query(&[("path", "/nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn a_zip_upload_is_unpacked_one_file_per_entry() {
    let (emu, c, _) = start(Options::default()).await;
    let base = files_base(&emu, "prod");
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    zip.start_file("x/one.txt", opts).unwrap();
    std::io::Write::write_all(&mut zip, b"1").unwrap();
    zip.start_file("two.txt", opts).unwrap();
    std::io::Write::write_all(&mut zip, b"2").unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    assert_eq!(
        upload(&c, &base, "/ignored", "bundle.zip", &bytes).await,
        200
    );
    let paths: Vec<String> = emu
        .files("main", "prod")
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(paths, ["/two.txt", "/x/one.txt"]);
}

#[tokio::test]
async fn delete_is_recursive_and_takes_emptied_parents() {
    let (emu, c, _) = start(Options::default()).await;
    let base = files_base(&emu, "prod");
    emu.seed_file("main", "prod", "/a/b/c.txt", b"c");
    emu.seed_file("main", "prod", "/a/keep.txt", b"k");
    emu.seed_file("main", "prod", "/z/y/x.txt", b"x");

    let del = c
        .delete(&base)
        .query(&[("path", "/a/b/c.txt")])
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 200);
    let listed: serde_json::Value = c
        .get(format!("{base}/directory?path=/a"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["fileName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["keep.txt"],
        "the emptied folder /a/b went with its file"
    );

    // /z/y held only x.txt and /z only y: both folders go
    c.delete(&base)
        .query(&[("path", "z/y/x.txt")])
        .send()
        .await
        .unwrap();
    let gone = c
        .get(format!("{base}/directory?path=/z"))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);

    // a folder path deletes everything below it
    c.delete(&base)
        .query(&[("path", "/a")])
        .send()
        .await
        .unwrap();
    assert!(emu.files("main", "prod").is_empty());
    let root: serde_json::Value = c
        .get(format!("{base}/directory"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(root, serde_json::json!([]));
}

#[tokio::test]
async fn flows_folder_and_long_names_are_refused_with_422() {
    let (emu, c, _) = start(Options::default()).await;
    let base = files_base(&emu, "prod");
    assert_eq!(
        upload(&c, &base, "/_flows/x.yml", "x.yml", b"id: x").await,
        422
    );
    assert_eq!(upload(&c, &base, "/_flows", "f", b"").await, 422);
    let long = format!("/{}.txt", "a".repeat(300));
    assert_eq!(upload(&c, &base, &long, "a.txt", b"").await, 422);
    let del = c
        .delete(&base)
        .query(&[("path", "/_flows")])
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 422);
    let body: serde_json::Value = del.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("Forbidden path"),
        "{body}"
    );
    assert!(emu.files("main", "prod").is_empty());
    // no path at all: 400
    let form = reqwest::multipart::Form::new().part(
        "fileContent",
        reqwest::multipart::Part::bytes(vec![1]).file_name("a"),
    );
    let resp = c.post(&base).multipart(form).send().await.unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn old_servers_serve_files_without_a_tenant_segment() {
    let (emu, c, _) = start(Options {
        version: "0.22.0".into(),
        ..Options::default()
    })
    .await;
    let base = format!("{}/api/v1/namespaces/prod/files", emu.url());
    assert_eq!(upload(&c, &base, "/a.txt", "a.txt", b"a").await, 200);
    assert_eq!(
        export(&c, &base).await,
        [("a.txt".to_string(), b"a".to_vec())]
    );
}
