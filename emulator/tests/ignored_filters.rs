//! `Options::ignore_namespace_filters`: a misbehaving server whose search, export and
//! namespace listing answer with the whole tenant whatever the request asks for (Kestra 2.0
//! ignoring parameters it no longer reads, a proxy stripping the query). Each check is run
//! against a well-behaved server too, so the tests show the difference.

mod common;

use common::*;
use kestra_emulator::{Emulator, Options};

const SEEDED: [(&str, &str); 5] = [
    ("prod", "a"),
    ("prod", "b"),
    ("prod.team", "c"),
    ("prod2", "d"),
    ("dev", "e"),
];

async fn seeded(ignore: bool, version: &str) -> (Emulator, reqwest::Client, String) {
    let (emu, c, base) = start(Options {
        ignore_namespace_filters: ignore,
        version: version.into(),
        ..Options::default()
    })
    .await;
    for (ns, id) in SEEDED {
        emu.seed_flow("main", &flow(ns, id));
    }
    (emu, c, base)
}

/// `(status, sorted ids, total)` of a search.
async fn search(c: &reqwest::Client, base: &str, query: &str) -> (u16, Vec<String>, u64) {
    let resp = c
        .get(format!("{base}/search?{query}"))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let v = json(resp).await;
    let mut ids: Vec<String> = v["results"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|f| f["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    (status, ids, v["total"].as_u64().unwrap_or(0))
}

async fn exported(c: &reqwest::Client, base: &str, query: &str) -> Vec<String> {
    let resp = c
        .get(format!("{base}/export/by-query?{query}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let bytes = resp.bytes().await.unwrap();
    let zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut names: Vec<String> = zip.file_names().map(str::to_string).collect();
    names.sort();
    names
}

async fn listed(c: &reqwest::Client, base: &str, ns: &str) -> Vec<String> {
    let v = json(c.get(format!("{base}/{ns}")).send().await.unwrap()).await;
    let mut ids: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn all_ids() -> Vec<String> {
    SEEDED.iter().map(|(_, id)| id.to_string()).collect()
}

#[tokio::test]
async fn search_answers_the_whole_tenant() {
    let query = "filters[namespace][PREFIX]=prod&size=50";
    let (_good, c, base) = seeded(false, "1.3.0").await;
    assert_eq!(
        search(&c, &base, query).await,
        (200, vec!["a".into(), "b".into(), "c".into()], 3)
    );
    let (_bad, c, base) = seeded(true, "1.3.0").await;
    assert_eq!(search(&c, &base, query).await, (200, all_ids(), 5));
    // flat parameters and the flow id filter are ignored as well
    let (_, ids, total) = search(&c, &base, "namespace=dev&q=e&filters[flowId][EQUALS]=a").await;
    assert_eq!((ids, total), (all_ids(), 5));
    // a filter the server would refuse is not even read
    let (status, _, total) = search(&c, &base, "filters[color][LIKE]=red").await;
    assert_eq!((status, total), (200, 5));
    // paging and sorting still apply
    let (_, ids, total) = search(&c, &base, query.replace("50", "2").as_str()).await;
    assert_eq!((ids.len(), total), (2, 5));
    let (_, ids, _) = search(
        &c,
        &base,
        "filters[namespace][EQUALS]=prod&size=1&sort=id:desc",
    )
    .await;
    assert_eq!(ids, ["e"]);
}

#[tokio::test]
async fn export_answers_the_whole_tenant() {
    let query = "filters[namespace][PREFIX]=prod";
    let (_good, c, base) = seeded(false, "1.3.0").await;
    assert_eq!(
        exported(&c, &base, query).await,
        ["prod-a.yml", "prod-b.yml", "prod.team-c.yml"]
    );
    let (_bad, c, base) = seeded(true, "1.3.0").await;
    assert_eq!(
        exported(&c, &base, query).await,
        [
            "dev-e.yml",
            "prod-a.yml",
            "prod-b.yml",
            "prod.team-c.yml",
            "prod2-d.yml"
        ]
    );
}

#[tokio::test]
async fn namespace_listing_answers_the_whole_tenant() {
    let (_good, c, base) = seeded(false, "1.3.0").await;
    assert_eq!(listed(&c, &base, "prod").await, ["a", "b"]);
    let (_bad, c, base) = seeded(true, "1.3.0").await;
    assert_eq!(listed(&c, &base, "prod").await, all_ids());
}

#[tokio::test]
async fn on_2_0_too() {
    // 2.0 already ignores flat parameters; with the option it ignores `filters[…]` too
    let (_good, c, base) = seeded(false, "2.0.0").await;
    assert_eq!(search(&c, &base, "namespace=prod").await.2, 5);
    assert_eq!(
        search(&c, &base, "filters[namespace][EQUALS]=dev").await.2,
        1
    );
    let (_bad, c, base) = seeded(true, "2.0.0").await;
    assert_eq!(
        search(&c, &base, "filters[namespace][EQUALS]=dev").await.2,
        5
    );
}
