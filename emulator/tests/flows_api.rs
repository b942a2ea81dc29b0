//! The flow endpoints over real HTTP: create/get/update/delete with the revision rules,
//! list, search with filters, export, configs, path forms and versions.

mod common;

use std::io::Read;

use common::*;
use kestra_emulator::{Emulator, Options};

#[tokio::test]
async fn create_get_update_delete_with_revisions() {
    let (emu, c, base) = start(Options::default()).await;
    let src = flow("prod", "a");

    let resp = create(&c, &base, &src).await;
    assert_eq!(resp.status(), 200);
    let body = json(resp).await;
    assert_eq!(body["id"], "a");
    assert_eq!(body["namespace"], "prod");
    assert_eq!(body["revision"], 1);
    assert_eq!(body["source"], src.as_str());
    assert_eq!(body["deleted"], false);
    assert_eq!(body["disabled"], false);

    // create again: 422, the id exists
    let resp = create(&c, &base, &src).await;
    assert_eq!(resp.status(), 422);
    let err = json(resp).await;
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid entity: "),
        "{err}"
    );
    assert!(err["message"]
        .as_str()
        .unwrap()
        .contains("Flow id already exists"));
    assert_eq!(err["_embedded"]["errors"][0]["path"], "flow.id");

    // get with and without source
    let got = json(
        c.get(format!("{base}/prod/a?source=true"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(got["source"], src.as_str());
    let got = json(c.get(format!("{base}/prod/a")).send().await.unwrap()).await;
    assert!(got.get("source").is_none(), "{got}");
    assert_eq!(got["tasks"][0]["id"], "hello");

    // same source: no new revision, not a write
    let writes = emu.write_count();
    let same = json(update(&c, &base, "prod", "a", &src).await).await;
    assert_eq!(same["revision"], 1);
    assert_eq!(emu.write_count(), writes);
    // same once the `revision:` line is removed: no new revision either
    let with_rev = src.replacen("namespace: prod\n", "namespace: prod\nrevision: 1\n", 1);
    assert_eq!(
        json(update(&c, &base, "prod", "a", &with_rev).await).await["revision"],
        1
    );
    // a whitespace difference: new revision, stored verbatim
    let spaced = format!("{src}\n");
    let upd = json(update(&c, &base, "prod", "a", &spaced).await).await;
    assert_eq!(upd["revision"], 2);
    assert_eq!(upd["source"], spaced.as_str());
    assert_eq!(emu.write_count(), writes + 1);

    // update: body id differs from the path → 422; missing flow → 404
    let resp = update(&c, &base, "prod", "a", &flow("prod", "b")).await;
    assert_eq!(resp.status(), 422);
    assert!(json(resp).await["message"]
        .as_str()
        .unwrap()
        .contains("Illegal flow id update"));
    let resp = update(&c, &base, "prod", "zzz", &flow("prod", "zzz")).await;
    assert_eq!(resp.status(), 404);

    // delete: 204, then gone (404), deleting again is 404
    let resp = c.delete(format!("{base}/prod/a")).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(
        c.get(format!("{base}/prod/a"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        c.delete(format!("{base}/prod/a"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let deleted = c
        .get(format!("{base}/prod/a?allowDeleted=true"))
        .send()
        .await
        .unwrap();
    let deleted = json(deleted).await;
    assert_eq!(
        (deleted["revision"].as_u64(), deleted["deleted"].as_bool()),
        (Some(3), Some(true))
    );
    assert!(emu.flows("main").is_empty());
    // update of a deleted flow is 404
    assert_eq!(update(&c, &base, "prod", "a", &src).await.status(), 404);

    // re-create continues the revision numbers (the delete was revision 3)
    let again = json(create(&c, &base, &src).await).await;
    assert_eq!(again["revision"], 4);
    let stored = emu.flows("main");
    assert_eq!(stored.len(), 1);
    assert_eq!(
        (stored[0].revision, stored[0].source.as_str()),
        (4, src.as_str())
    );
}

#[tokio::test]
async fn stored_source_drops_only_the_first_revision_line() {
    let (_emu, c, base) = start(Options::default()).await;
    let src = "revision: 9\nid: r\nnamespace: prod\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    let body = json(create(&c, &base, src).await).await;
    assert_eq!(body["revision"], 1);
    assert_eq!(body["source"], &src["revision: 9\n".len()..]);
}

#[tokio::test]
async fn invalid_flows_are_refused_with_micronaut_errors() {
    let (emu, c, base) = start(Options::default()).await;
    for (src, expected) in [
        ("id: a\nnamespace: prod\n", "tasks: must not be empty"),
        (
            "id: a b\nnamespace: prod\ntasks: [{id: t, type: a.B}]\n",
            "id: must match",
        ),
        (
            "id: a\nnamespace: Prod\ntasks: [{id: t, type: a.B}]\n",
            "namespace: must match",
        ),
        (
            "id: pause\nnamespace: prod\ntasks: [{id: t, type: a.B}]\n",
            "reserved keyword",
        ),
        (
            "id: a\nnamespace: prod\ntasks: [{id: t, type: io.kestra.plugin.core.unknown.Nope}]\n",
            "Invalid type",
        ),
        (
            "id: a\nnamespace: prod\ntasks: [{id: t, type: Nope}]\n",
            "Invalid type: Nope",
        ),
        (
            "id: a\nnamespace: prod\ntasks: [{id: t}]\n",
            "tasks[0]: Invalid type: null",
        ),
        ("id: [\n", "Illegal flow source"),
    ] {
        let resp = create(&c, &base, src).await;
        assert_eq!(resp.status(), 422, "{src}");
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        let err = json(resp).await;
        let msg = err["message"].as_str().unwrap();
        assert!(
            msg.starts_with("Invalid entity: ") && msg.contains(expected),
            "{src}: {msg}"
        );
    }
    // not YAML as content type
    let resp = c
        .post(&base)
        .header("content-type", "text/plain")
        .body(flow("prod", "a"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    assert_eq!(emu.write_count(), 0);
    assert!(emu.flows("main").is_empty());
}

#[tokio::test]
async fn version_2_answers_problem_json() {
    let (_emu, c, base) = start(Options {
        version: "2.0.0".into(),
        ..Options::default()
    })
    .await;
    let resp = create(&c, &base, "id: a\nnamespace: prod\n").await;
    assert_eq!(resp.status(), 422);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let p = json(resp).await;
    assert_eq!(p["status"], 422);
    assert_eq!(p["title"], "Invalid entity");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("tasks: must not be empty"),
        "{p}"
    );
    assert_eq!(p["instance"], "/api/v1/main/flows");
    assert_eq!(p["errors"][0]["path"], "tasks");
    assert!(p.get("type").is_some() && p.get("message").is_none());

    let resp = c.get(format!("{base}/prod/missing")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    assert_eq!(json(resp).await["status"], 404);

    // 2.0 flows carry `draft`
    let created = json(create(&c, &base, &flow("prod", "a")).await).await;
    assert_eq!(created["draft"], false);
}

#[tokio::test]
async fn list_namespace_search_and_filters() {
    let (emu, c, base) = start(Options::default()).await;
    for (ns, id) in [
        ("prod", "a"),
        ("prod", "b"),
        ("prod.team", "c"),
        ("prod2", "d"),
        ("dev", "e"),
    ] {
        emu.seed_flow("main", &flow(ns, id));
    }
    // one namespace exactly, no source
    let list = json(c.get(format!("{base}/prod")).send().await.unwrap()).await;
    let ids: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a", "b"]);
    assert!(list[0].get("source").is_none());

    let search = |q: &'static str| {
        let c = c.clone();
        let base = base.clone();
        async move {
            let v = json(c.get(format!("{base}/search?{q}")).send().await.unwrap()).await;
            let mut ids: Vec<String> = v["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["id"].as_str().unwrap().to_string())
                .collect();
            ids.sort();
            (ids, v["total"].as_u64().unwrap())
        }
    };
    assert_eq!(
        search("page=1&size=50&filters[namespace][PREFIX]=prod").await,
        (vec!["a".into(), "b".into(), "c".into()], 3)
    );
    assert_eq!(
        search("page=1&size=50&filters%5Bnamespace%5D%5BEQUALS%5D=prod").await,
        (vec!["a".into(), "b".into()], 2)
    );
    // STARTS_WITH is a plain string prefix: it catches prod2
    assert_eq!(
        search("page=1&size=50&filters[namespace][STARTS_WITH]=prod")
            .await
            .1,
        4
    );
    // pagination: total counts everything, results one page
    let (page2, total) = search("page=2&size=2&filters[namespace][PREFIX]=prod").await;
    assert_eq!((page2.len(), total), (1, 3));
    // 1.x honours the deprecated flat namespace= (as a string prefix)
    assert_eq!(search("page=1&size=50&namespace=prod").await.1, 4);
    // bad filters and pages
    let bad = c
        .get(format!("{base}/search?filters[color][EQUALS]=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let bad = c
        .get(format!("{base}/search?page=0&size=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
}

#[tokio::test]
async fn version_2_ignores_flat_parameters() {
    let (emu, c, base) = start(Options {
        version: "2.0.0".into(),
        ..Options::default()
    })
    .await;
    for (ns, id) in [("prod", "a"), ("dev", "b"), ("other", "c")] {
        emu.seed_flow("main", &flow(ns, id));
    }
    let v = json(
        c.get(format!("{base}/search?page=1&size=50&namespace=prod"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(v["total"], 3, "the whole tenant: {v}");
    let zip = c
        .get(format!("{base}/export/by-query?namespace=prod"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        zip::ZipArchive::new(std::io::Cursor::new(zip))
            .unwrap()
            .len(),
        3
    );
    let v = json(
        c.get(format!(
            "{base}/search?page=1&size=50&filters[namespace][PREFIX]=prod"
        ))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(v["total"], 1);
}

#[tokio::test]
async fn export_is_a_zip_of_stored_sources() {
    let (emu, c, base) = start(Options::default()).await;
    let a = format!("# a comment\n{}", flow("prod", "a"));
    emu.seed_flow("main", &a);
    emu.seed_flow("main", &flow("prod.sub", "b"));
    emu.seed_flow("main", &flow("prod2", "c"));
    let resp = c
        .get(format!(
            "{base}/export/by-query?filters[namespace][PREFIX]=prod"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/octet-stream");
    let bytes = resp.bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut names: Vec<String> = zip.file_names().map(str::to_string).collect();
    names.sort();
    assert_eq!(names, ["prod-a.yml", "prod.sub-b.yml"]);
    let mut text = String::new();
    zip.by_name("prod-a.yml")
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, a);

    // export switched off: 404
    let (_emu2, c2, base2) = start(Options {
        export_enabled: false,
        ..Options::default()
    })
    .await;
    let resp = c2
        .get(format!(
            "{base2}/export/by-query?filters[namespace][PREFIX]=prod"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn configs_and_path_forms() {
    // 1.3: tenanted only; OSS resolves every tenant to main
    let (emu, c, base) = start(Options::default()).await;
    let cfg = json(
        c.get(format!("{}/api/v1/configs", emu.url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (cfg["version"].as_str(), cfg["edition"].as_str()),
        (Some("1.3.0"), Some("OSS"))
    );
    emu.seed_flow("main", &flow("prod", "a"));
    assert_eq!(
        c.get(format!("{base}/prod/a"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.get(format!("{}/api/v1/flows/prod/a", emu.url()))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        c.get(format!("{}/api/v1/other/flows/prod/a", emu.url()))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // 0.22: untenanted only
    let old = Emulator::start(Options {
        version: "0.22.0".into(),
        ..Options::default()
    })
    .await
    .unwrap();
    old.seed_flow("main", &flow("prod", "a"));
    let url = old.url();
    assert_eq!(
        c.get(format!("{url}/api/v1/flows/prod/a"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.get(format!("{url}/api/v1/main/flows/prod/a"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let created = create(&c, &format!("{url}/api/v1/flows"), &flow("dev", "b")).await;
    assert_eq!(created.status(), 200);
    assert_eq!(old.flows("main").len(), 2);

    // EE: tenants are real
    let ee = Emulator::start(Options {
        edition: "EE".into(),
        ..Options::default()
    })
    .await
    .unwrap();
    ee.seed_flow("acme", &flow("prod", "a"));
    let url = ee.url();
    assert_eq!(
        c.get(format!("{url}/api/v1/acme/flows/prod/a"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.get(format!("{url}/api/v1/main/flows/prod/a"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[test]
fn start_in_background_serves_synchronous_callers() {
    let emu = Emulator::start_in_background(Options::default()).unwrap();
    emu.seed_flow("main", &flow("prod", "a"));
    // a plain blocking client on this (non-async) thread
    let url = format!("{}/api/v1/main/flows/prod/a?source=true", emu.url());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = rt.block_on(async { client().get(url).send().await.unwrap().status() });
    assert_eq!(status, 200);
    assert_eq!(emu.request_count(), 1);
    let r = &emu.requests()[0];
    assert_eq!(
        (
            r.method.as_str(),
            r.path.as_str(),
            r.query.as_str(),
            r.status
        ),
        ("GET", "/api/v1/main/flows/prod/a", "source=true", Some(200))
    );
}

#[tokio::test]
async fn old_servers_name_export_entries_differently() {
    let emu = Emulator::start(Options {
        version: "0.21.0".into(),
        ..Options::default()
    })
    .await
    .unwrap();
    emu.seed_flow("main", &flow("prod", "a"));
    let url = format!("{}/api/v1/flows/export/by-query?namespace=prod", emu.url());
    let bytes = client()
        .get(url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    assert_eq!(zip.file_names().collect::<Vec<_>>(), ["prod.a.yml"]);
    let search = format!(
        "{}/api/v1/flows/search?filters[namespace][EQUALS]=prod",
        emu.url()
    );
    assert_eq!(
        json(client().get(search).send().await.unwrap()).await["total"],
        1
    );
}

#[tokio::test]
async fn odd_requests_get_errors_not_crashes() {
    let (emu, c, base) = start(Options::default()).await;
    // not UTF-8
    let resp = c
        .post(&base)
        .header("content-type", "application/x-yaml")
        .body(vec![0xff, 0xfe, 0x00])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    // empty body
    let resp = c
        .post(&base)
        .header("content-type", "application/x-yaml")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    // a YAML list, a scalar, several documents in one create
    for body in [
        "- a\n- b\n",
        "just text",
        "id: a\nnamespace: n\n---\nid: b\n",
    ] {
        let resp = create(&c, &base, body).await;
        assert_eq!(resp.status(), 422, "{body}");
    }
    // broken multipart
    let resp = c
        .post(format!("{base}/validate"))
        .header("content-type", "multipart/form-data; boundary=XYZ")
        .body("--XYZ\r\nnot a part")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    // validate without a content type, unknown routes and methods
    assert_eq!(
        c.post(format!("{base}/validate"))
            .body("x")
            .send()
            .await
            .unwrap()
            .status(),
        415
    );
    let resp = c
        .get(format!("{}/api/v1/main/nothing/here", emu.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(json(resp).await["message"], "Not Found");
    assert_eq!(
        c.patch(format!("{base}/prod/a"))
            .send()
            .await
            .unwrap()
            .status(),
        405
    );
    // bad query values
    assert_eq!(
        c.get(format!("{base}/prod/a?source=maybe"))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        c.get(format!("{base}/search?size=ten"))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    // still serving
    assert_eq!(create(&c, &base, &flow("prod", "a")).await.status(), 200);
}
