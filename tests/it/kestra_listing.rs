//! Listing a scope: one export ZIP plus a paged search for revisions (requests do not grow
//! with the number of flows), scope re-checked on every flow a misbehaving server returns,
//! and the per-flow fallback when the export is not usable. No failure reads as "absent".

use crate::kestra_support;

use kestra_support::*;
use kestra_sync::kestra::{RemoteFlow, Scope};
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn children(ns: &str) -> Scope {
    Scope::new(ns, true)
}

fn entry(ns: &str, id: &str, text: &str) -> (String, String) {
    (format!("{ns}-{id}.yml"), text.to_string())
}

async fn mount_export(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path("/api/v1/main/flows/export/by-query"))
        .respond_with(response)
        .mount(server)
        .await;
}

/// A search answering pages of `page_size` (the server's own cap) out of `flows`.
async fn mount_search(server: &MockServer, flows: Vec<(String, String, u64)>, page_size: usize) {
    Mock::given(method("GET"))
        .and(path("/api/v1/main/flows/search"))
        .respond_with(move |req: &Request| {
            let page: usize = req
                .url
                .query_pairs()
                .find(|(k, _)| k == "page")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(1);
            let start = (page - 1) * page_size;
            let slice: Vec<(&str, &str, u64)> = flows
                .iter()
                .skip(start)
                .take(page_size)
                .map(|(ns, id, r)| (ns.as_str(), id.as_str(), *r))
                .collect();
            ResponseTemplate::new(200).set_body_json(search_page(&slice, flows.len() as u64))
        })
        .mount(server)
        .await;
}

fn owned(flows: &[(&str, &str, u64)]) -> Vec<(String, String, u64)> {
    flows
        .iter()
        .map(|(ns, id, r)| (ns.to_string(), id.to_string(), *r))
        .collect()
}

/// No request may carry the flat parameters Kestra 2.0 ignores.
async fn assert_no_flat_params(server: &MockServer) {
    for req in server.received_requests().await.unwrap() {
        for (k, _) in req.url.query_pairs() {
            assert!(k != "namespace" && k != "q", "flat `{k}` sent: {}", req.url);
        }
    }
}

#[tokio::test]
async fn export_and_one_search_page_list_the_scope_with_sources_and_revisions() {
    if !crate::common::shared_present(
        "corpus",
        "kestra_listing::export_and_one_search_page_list_the_scope_with_sources_and_revisions",
    ) {
        return;
    }
    let (server, client) = connected("1.3.0").await;
    let blueprint =
        blueprint_with_dashes().replace("namespace: company.team", "namespace: prod.blue");
    // Ambiguous names: `prod.team-a` + `b-c` and the misbehaving server's out-of-scope flows.
    let entries = vec![
        entry("prod", "hello", &source("prod", "hello")),
        entry("prod.team-a", "b-c", &source("prod.team-a", "b-c")),
        entry("prod.blue", "ansible-local-message", &blueprint),
        entry("prod2", "evil", &source("prod2", "evil")),
        entry("company.team", "x", &source("company.team", "x")),
    ];
    mount_export(&server, zip_response(&entries)).await;
    mount_search(
        &server,
        owned(&[
            ("company.team", "x", 1),
            ("prod", "hello", 3),
            ("prod.blue", "ansible-local-message", 1),
            ("prod.team-a", "b-c", 7),
            ("prod2", "evil", 2),
        ]),
        1000,
    )
    .await;

    let flows = client
        .list_flows(&children("prod"), &[])
        .await
        .unwrap()
        .flows;
    assert_eq!(
        flows,
        vec![
            RemoteFlow {
                namespace: "prod".into(),
                id: "hello".into(),
                source: source("prod", "hello"),
                revision: Some(3),
            },
            RemoteFlow {
                namespace: "prod.blue".into(),
                id: "ansible-local-message".into(),
                source: blueprint.clone(),
                revision: Some(1),
            },
            RemoteFlow {
                namespace: "prod.team-a".into(),
                id: "b-c".into(),
                source: source("prod.team-a", "b-c"),
                revision: Some(7),
            },
        ]
    );
    // Two requests after connecting, whatever the number of flows.
    assert_eq!(count(&server, "/export/by-query").await, 1);
    assert_eq!(count(&server, "/flows/search").await, 1);
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
    let export = server.received_requests().await.unwrap();
    let export = export
        .iter()
        .find(|r| r.url.path().ends_with("/export/by-query"))
        .unwrap();
    assert_eq!(
        export.url.query_pairs().collect::<Vec<_>>(),
        vec![("filters[namespace][PREFIX]".into(), "prod".into())]
    );
    assert_no_flat_params(&server).await;
}

#[tokio::test]
async fn a_flat_scope_asks_for_equals_and_drops_children_the_server_returns() {
    let (server, client) = connected("1.3.0").await;
    Mock::given(method("GET"))
        .and(path("/api/v1/main/flows/export/by-query"))
        .and(query_param("filters[namespace][EQUALS]", "prod"))
        .respond_with(zip_response(&[
            entry("prod", "a", &source("prod", "a")),
            entry("prod.sub", "b", &source("prod.sub", "b")),
        ]))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/main/flows/search"))
        .and(query_param("filters[namespace][EQUALS]", "prod"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(search_page(&[("prod", "a", 2), ("prod.sub", "b", 1)], 2)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let scope = Scope::new("prod", false);
    let flows = client.list_flows(&scope, &[]).await.unwrap().flows;
    assert_eq!(flows.len(), 1);
    assert_eq!((flows[0].id.as_str(), flows[0].revision), ("a", Some(2)));
    assert_no_flat_params(&server).await;
}

fn k(ns: &str, id: &str) -> (String, String) {
    (ns.to_string(), id.to_string())
}

#[tokio::test]
async fn a_large_scope_costs_one_search_page_and_revisions_are_read_only_when_asked() {
    let (server, client) = connected("1.3.0").await;
    let n = 2500;
    let ids: Vec<String> = (0..n).map(|i| format!("flow-{i:04}")).collect();
    let entries: Vec<(String, String)> = ids
        .iter()
        .map(|id| entry("prod.big", id, &source("prod.big", id)))
        .collect();
    mount_export(&server, zip_response(&entries)).await;
    // revision = 10 + index, so each flow's revision is its own
    let listed: Vec<(String, String, u64)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| ("prod.big".to_string(), id.clone(), 10 + i as u64))
        .collect();
    mount_search(&server, listed, 1000).await;
    let listing = client.list_flows(&children("prod"), &[]).await.unwrap();
    assert_eq!(listing.flows.len(), n);
    assert!(!listing.has_all_revisions());
    assert_eq!(listing.search_pages_left(), 2);
    for (i, f) in listing.flows.iter().enumerate() {
        assert_eq!(f.id, ids[i]);
        assert_eq!(f.source, source("prod.big", &ids[i]));
        let expected = (i < 1000).then_some(10 + i as u64);
        assert_eq!(f.revision, expected, "{}", f.id);
    }
    // 1 export + the first search page, whatever the number of flows.
    assert_eq!(count(&server, "/export/by-query").await, 1);
    assert_eq!(count(&server, "/flows/search").await, 1);

    // Two flows beyond the first page, two pages left: one GET each (the tie goes to the
    // GETs, which also check the source is the one listed). A revision the listing has
    // costs nothing.
    for (id, rev) in [("flow-1500", 1510), ("flow-2400", 2410)] {
        Mock::given(method("GET"))
            .and(path(format!("/api/v1/main/flows/prod.big/{id}")))
            .and(query_param("source", "true"))
            .respond_with(flow_ok("prod.big", id, rev))
            .expect(1)
            .mount(&server)
            .await;
    }
    let revisions = client
        .read_revisions(
            &listing,
            &[
                k("prod.big", "flow-1500"),
                k("prod.big", "flow-2400"),
                k("prod.big", "flow-0010"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        revisions.into_iter().collect::<Vec<_>>(),
        vec![
            (k("prod.big", "flow-0010"), 20),
            (k("prod.big", "flow-1500"), 1510),
            (k("prod.big", "flow-2400"), 2410)
        ]
    );
    assert_eq!(count(&server, "/flows/search").await, 1);
    assert_eq!(server.received_requests().await.unwrap().len(), 3 + 2);

    // Three flows beyond the first page: the two remaining pages instead.
    let revisions = client
        .read_revisions(
            &listing,
            &[
                k("prod.big", "flow-1000"),
                k("prod.big", "flow-1999"),
                k("prod.big", "flow-2499"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        revisions.into_values().collect::<Vec<_>>(),
        vec![1010, 2009, 2509]
    );
    assert_eq!(count(&server, "/flows/search").await, 3);
    assert_eq!(server.received_requests().await.unwrap().len(), 3 + 2 + 2);
}

#[tokio::test]
async fn a_server_capping_the_page_size_is_paged_at_its_own_size() {
    let (server, client) = connected("1.3.0").await;
    let ids: Vec<String> = (0..250).map(|i| format!("f{i:03}")).collect();
    let entries: Vec<(String, String)> = ids
        .iter()
        .map(|id| entry("prod", id, &source("prod", id)))
        .collect();
    mount_export(&server, zip_response(&entries)).await;
    let listed: Vec<(String, String, u64)> = ids
        .iter()
        .map(|id| ("prod".to_string(), id.clone(), 2))
        .collect();
    mount_search(&server, listed, 100).await;
    let listing = client.list_flows(&children("prod"), &[]).await.unwrap();
    assert_eq!(listing.flows.len(), 250);
    assert_eq!(listing.search_pages_left(), 2);
    assert_eq!(
        listing
            .flows
            .iter()
            .filter(|f| f.revision.is_some())
            .count(),
        100
    );
    let wanted: Vec<(String, String)> = ids[100..].iter().map(|id| k("prod", id)).collect();
    let revisions = client.read_revisions(&listing, &wanted).await.unwrap();
    assert_eq!(revisions.len(), 150);
    assert!(revisions.values().all(|r| *r == 2));
    assert_eq!(count(&server, "/flows/search").await, 3);
}

#[tokio::test]
async fn a_flow_that_changed_while_planning_fails_the_revision_read() {
    let (server, client) = connected("1.3.0").await;
    let ids: Vec<String> = (0..1003).map(|i| format!("f{i:04}")).collect();
    let entries: Vec<(String, String)> = ids
        .iter()
        .map(|id| entry("prod", id, &source("prod", id)))
        .collect();
    mount_export(&server, zip_response(&entries)).await;
    // The search lists `f1002` on the first page only (deleted before page 2 is read).
    let mut listed: Vec<(String, String, u64)> = ids
        .iter()
        .map(|id| ("prod".to_string(), id.clone(), 1))
        .collect();
    listed.pop();
    mount_search(&server, listed, 1000).await;
    Mock::given(method("GET"))
        .and(path("/api/v1/main/flows/prod/f1000"))
        .respond_with(not_found("/api/v1/main/flows/prod/f1000"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/main/flows/prod/f1001"))
        .respond_with(ResponseTemplate::new(200).set_body_json(flow_with_source(
            "prod",
            "f1001",
            7,
            &source("prod", "someone else's edit"),
        )))
        .mount(&server)
        .await;
    let listing = client.list_flows(&children("prod"), &[]).await.unwrap();
    assert_eq!(listing.flows.len(), 1003);
    // Deleted since the export: a 404 is not read as "no revision".
    let err = client
        .read_revisions(&listing, &[k("prod", "f1000")])
        .await
        .unwrap_err();
    assert!(
        matches!(err, kestra_sync::kestra::KestraError::Changed(_)),
        "{err:?}"
    );
    assert!(err.to_string().contains("prod/f1000"), "{err}");
    assert!(err.to_string().contains("run the plan again"), "{err}");
    // Another source than the one compared: its revision would not be the plan's.
    let err = client
        .read_revisions(&listing, &[k("prod", "f1001")])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("prod/f1001"), "{err}");
    // Read from the pages (more flows than pages left), one of them no longer listed.
    let err = client
        .read_revisions(
            &listing,
            &[k("prod", "f1000"), k("prod", "f1001"), k("prod", "f1002")],
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("prod/f1002"), "{err}");
    assert!(err.to_string().contains("no longer lists it"), "{err}");
}

#[tokio::test]
async fn a_failed_page_read_fails_the_revision_read() {
    let (server, client) = connected("1.3.0").await;
    let ids: Vec<String> = (0..1002).map(|i| format!("f{i:04}")).collect();
    let entries: Vec<(String, String)> = ids
        .iter()
        .map(|id| entry("prod", id, &source("prod", id)))
        .collect();
    mount_export(&server, zip_response(&entries)).await;
    mount_search(
        &server,
        ids.iter()
            .map(|id| ("prod".to_string(), id.clone(), 1))
            .collect(),
        1000,
    )
    .await;
    let listing = client.list_flows(&children("prod"), &[]).await.unwrap();
    Mock::given(method("GET"))
        .and(path("/api/v1/main/flows/search"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({
            "message": "Internal server error: boom",
            "_links": {"self": {"href": "/api/v1/main/flows/search", "templated": false}}
        })))
        .with_priority(1)
        .mount(&server)
        .await;
    let err = client
        .read_revisions(&listing, &[k("prod", "f1000"), k("prod", "f1001")])
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500), "{err}");
}

#[tokio::test]
async fn without_export_each_listed_flow_is_read_on_its_own() {
    let (server, client) = connected("1.3.0").await;
    mount_export(&server, not_found("/api/v1/main/flows/export/by-query")).await;
    mount_search(
        &server,
        owned(&[
            ("prod", "a", 1),
            ("prod", "b", 2),
            ("prod.x", "c", 3),
            ("prod", "gone", 1),
            ("prod2", "evil", 9),
        ]),
        1000,
    )
    .await;
    for (ns, id, rev) in [("prod", "a", 1), ("prod", "b", 2), ("prod.x", "c", 3)] {
        Mock::given(method("GET"))
            .and(path(format!("/api/v1/main/flows/{ns}/{id}")))
            .and(query_param("source", "true"))
            .respond_with(flow_ok(ns, id, rev))
            .expect(1)
            .mount(&server)
            .await;
    }
    // Deleted between the search and the read: an answer, so absent.
    Mock::given(method("GET"))
        .and(path("/api/v1/main/flows/prod/gone"))
        .respond_with(not_found("/api/v1/main/flows/prod/gone"))
        .expect(1)
        .mount(&server)
        .await;
    let flows = client
        .list_flows(&children("prod"), &[])
        .await
        .unwrap()
        .flows;
    let got: Vec<(&str, &str, Option<u64>)> = flows
        .iter()
        .map(|f| (f.namespace.as_str(), f.id.as_str(), f.revision))
        .collect();
    assert_eq!(
        got,
        vec![
            ("prod", "a", Some(1)),
            ("prod", "b", Some(2)),
            ("prod.x", "c", Some(3))
        ]
    );
    assert_eq!(flows[2].source, source("prod.x", "c"));
    // 1 export (404) + 1 search + 4 reads in scope; never a read of prod2.
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1 + 1 + 1 + 4
    );
    assert_eq!(count(&server, "/evil").await, 0);
}

#[tokio::test]
async fn a_failed_read_fails_the_listing_instead_of_hiding_the_flow() {
    let (server, client) = connected("1.3.0").await;
    mount_export(&server, ResponseTemplate::new(405)).await;
    mount_search(&server, owned(&[("prod", "a", 1), ("prod", "b", 1)]), 1000).await;
    Mock::given(method("GET"))
        .and(path("/api/v1/main/flows/prod/a"))
        .respond_with(flow_ok("prod", "a", 1))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/main/flows/prod/b"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({
            "message": "Internal server error: Connection is not available, request timed out after 30000ms.",
            "_links": {"self": {"href": "/api/v1/main/flows/prod/b?source=true", "templated": false}}
        })))
        .mount(&server)
        .await;
    let err = client.list_flows(&children("prod"), &[]).await.unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert!(
        err.to_string().contains("Connection is not available"),
        "{err}"
    );
}

#[tokio::test]
async fn an_unreadable_zip_or_a_duplicate_entry_error_falls_back_to_reads() {
    for export in [
        ResponseTemplate::new(200)
            .insert_header("content-type", "text/html")
            .set_body_string("<!doctype html><html><body>Kestra</body></html>"),
        // What Java's ZipOutputStream does when two flows share an entry name
        // (`prod.a` + `b-c` and `prod.a-b` + `c` both give `prod.a-b-c.yml`).
        ResponseTemplate::new(500).set_body_json(json!({
            "message": "Internal server error: duplicate entry: prod.a-b-c.yml",
            "_links": {"self": {"href": "/api/v1/main/flows/export/by-query", "templated": false}}
        })),
    ] {
        let (server, client) = connected("1.3.0").await;
        mount_export(&server, export).await;
        mount_search(
            &server,
            owned(&[("prod.a", "b-c", 1), ("prod.a-b", "c", 2)]),
            1000,
        )
        .await;
        for (ns, id, rev) in [("prod.a", "b-c", 1), ("prod.a-b", "c", 2)] {
            Mock::given(method("GET"))
                .and(path(format!("/api/v1/main/flows/{ns}/{id}")))
                .respond_with(flow_ok(ns, id, rev))
                .expect(1)
                .mount(&server)
                .await;
        }
        let flows = client
            .list_flows(&children("prod"), &[])
            .await
            .unwrap()
            .flows;
        assert_eq!(flows.len(), 2);
        assert_eq!(flows[1].source, source("prod.a-b", "c"));
    }
}

#[tokio::test]
async fn an_entry_our_yaml_parser_rejects_is_identified_by_its_name() {
    let (server, client) = connected("1.3.0").await;
    // A duplicate key: stored by the server, refused by serde_yaml_ng.
    let odd = "id: odd\nnamespace: prod\ndescription: one\ndescription: two\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: x\n";
    mount_export(&server, zip_response(&[entry("prod", "odd", odd)])).await;
    mount_search(&server, owned(&[("prod", "odd", 5)]), 1000).await;
    let flows = client
        .list_flows(&children("prod"), &[])
        .await
        .unwrap()
        .flows;
    assert_eq!(flows.len(), 1);
    assert_eq!(
        (flows[0].source.as_str(), flows[0].revision),
        (odd, Some(5))
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_flow_listed_but_missing_from_the_export_is_read_on_its_own() {
    let (server, client) = connected("1.3.0").await;
    mount_export(
        &server,
        zip_response(&[entry("prod", "a", &source("prod", "a"))]),
    )
    .await;
    mount_search(
        &server,
        owned(&[("prod", "a", 1), ("prod", "new", 1)]),
        1000,
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/main/flows/prod/new"))
        .respond_with(flow_ok("prod", "new", 1))
        .expect(1)
        .mount(&server)
        .await;
    let flows = client
        .list_flows(&children("prod"), &[])
        .await
        .unwrap()
        .flows;
    assert_eq!(flows.len(), 2);
}

#[tokio::test]
async fn refused_export_or_failed_search_is_an_error_not_an_empty_listing() {
    let (server, client) = connected("1.3.0").await;
    mount_export(&server, ResponseTemplate::new(403)).await;
    let err = client.list_flows(&children("prod"), &[]).await.unwrap_err();
    assert_eq!(err.status(), Some(403));

    let (server, client) = connected("1.3.0").await;
    mount_export(&server, zip_response(&[])).await;
    Mock::given(method("GET"))
        .and(path("/api/v1/main/flows/search"))
        .respond_with(not_found("/api/v1/main/flows/search"))
        .mount(&server)
        .await;
    let err = client.list_flows(&children("prod"), &[]).await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(err.to_string().contains("--kestra-tenant"), "{err}");
}

#[tokio::test]
async fn an_empty_scope_is_an_empty_listing() {
    let (server, client) = connected("1.3.0").await;
    mount_export(&server, zip_response(&[])).await;
    mount_search(&server, Vec::new(), 1000).await;
    assert!(client
        .list_flows(&children("prod"), &[])
        .await
        .unwrap()
        .flows
        .is_empty());
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}
