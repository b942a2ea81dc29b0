//! Server validation: one multipart part named `flows` per flow (filename = git path, body =
//! the source byte for byte, `---` inside block scalars included), results mapped back by
//! index per chunk of 100, constraints as errors and warnings as warnings.

use crate::kestra_support;

use kestra_support::*;
use kestra_sync::flow::Flow;
use kestra_sync::kestra::{KestraError, Validation};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request, ResponseTemplate};

fn flow(git_path: &str, namespace: &str, id: &str, source: String) -> Flow {
    Flow {
        git_path: git_path.into(),
        namespace: namespace.into(),
        id: id.into(),
        source,
        inserted_line: None,
    }
}

/// Answer like Kestra's `FlowService.validate`: one result per part, 0-based index,
/// the part's filename; a flow without `tasks` gets a constraint, a Subflow to a missing
/// flow gets a warning.
fn kestra_like_validation(req: &Request) -> ResponseTemplate {
    let content_type = req
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with("multipart/form-data") {
        return ResponseTemplate::new(415);
    }
    let results: Vec<Value> = multipart_parts(content_type, &req.body)
        .iter()
        .filter(|p| p.name == "flows")
        .enumerate()
        .map(|(index, part)| {
            let mut r = json!({
                "index": index,
                "filename": part.filename,
                "deprecationPaths": [],
                "warnings": [],
                "infos": []
            });
            if !part.body.contains("\ntasks:") {
                r["constraints"] = json!("tasks: must not be empty\nflow.tasks: must not be null");
            }
            if part.body.contains("io.kestra.plugin.core.flow.Subflow") {
                r["warnings"] = json!(["The subflow 'child' not found in namespace 'prod'."]);
            }
            r
        })
        .collect();
    ResponseTemplate::new(200).set_body_json(results)
}

#[tokio::test]
async fn each_flow_is_one_multipart_part_and_results_come_back_by_path() {
    if !crate::common::shared_present(
        "corpus",
        "kestra_validate::each_flow_is_one_multipart_part_and_results_come_back_by_path",
    ) {
        return;
    }
    let (server, client) = connected("1.3.0").await;
    Mock::given(method("POST"))
        .and(path("/api/v1/main/flows/validate"))
        .respond_with(kestra_like_validation)
        .expect(1)
        .mount(&server)
        .await;
    let blueprint = blueprint_with_dashes();
    let parent = "id: parent\nnamespace: prod\ntasks:\n  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: prod\n    flowId: child\n".to_string();
    let flows = [
        flow(
            "_flows/ansible.yaml",
            "company.team",
            "ansible-local-message",
            blueprint.clone(),
        ),
        flow(
            "_flows/broken.yml",
            "prod",
            "broken",
            "id: broken\nnamespace: prod\n".into(),
        ),
        flow(
            "_flows/sub dir/parent.yml",
            "prod",
            "parent",
            parent.clone(),
        ),
    ];
    let refs: Vec<&Flow> = flows.iter().collect();
    let results = client.validate(&refs).await.unwrap();
    assert_eq!(
        results,
        vec![
            Validation {
                git_path: "_flows/ansible.yaml".into(),
                errors: vec![],
                warnings: vec![],
                infos: vec![],
            },
            Validation {
                git_path: "_flows/broken.yml".into(),
                errors: vec![
                    "tasks: must not be empty".into(),
                    "flow.tasks: must not be null".into()
                ],
                warnings: vec![],
                infos: vec![],
            },
            Validation {
                git_path: "_flows/sub dir/parent.yml".into(),
                errors: vec![],
                warnings: vec!["The subflow 'child' not found in namespace 'prod'.".into()],
                infos: vec![],
            },
        ]
    );

    let requests = server.received_requests().await.unwrap();
    let req = requests
        .iter()
        .find(|r| r.url.path().ends_with("/validate"))
        .unwrap();
    let content_type = req.headers.get("content-type").unwrap().to_str().unwrap();
    let parts = multipart_parts(content_type, &req.body);
    assert_eq!(parts.len(), 3);
    for (part, flow) in parts.iter().zip(&flows) {
        assert_eq!(part.name, "flows");
        assert_eq!(part.filename.as_deref(), Some(flow.git_path.as_str()));
        assert_eq!(part.content_type.as_deref(), Some("application/x-yaml"));
        assert_eq!(part.body, flow.source, "{}", flow.git_path);
    }
    // The `---` of the inline playbook travelled inside its own part, untouched.
    assert!(parts[0].body.contains("\n        ---\n"));
}

#[tokio::test]
async fn many_flows_are_sent_in_chunks_of_100_and_mapped_back_in_order() {
    let (server, client) = connected("1.3.0").await;
    Mock::given(method("POST"))
        .and(path("/api/v1/main/flows/validate"))
        .respond_with(kestra_like_validation)
        .expect(3)
        .mount(&server)
        .await;
    let flows: Vec<Flow> = (0..250)
        .map(|i| {
            let id = format!("f{i:03}");
            let src = if i % 7 == 0 {
                format!("id: {id}\nnamespace: prod\n")
            } else {
                source("prod", &id)
            };
            flow(&format!("_flows/{id}.yml"), "prod", &id, src)
        })
        .collect();
    let refs: Vec<&Flow> = flows.iter().collect();
    let results = client.validate(&refs).await.unwrap();
    assert_eq!(results.len(), 250);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r.git_path, format!("_flows/f{i:03}.yml"));
        assert_eq!(r.errors.is_empty(), i % 7 != 0, "{}", r.git_path);
    }
    let sizes: Vec<usize> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().ends_with("/validate"))
        .map(|r| {
            let ct = r.headers.get("content-type").unwrap().to_str().unwrap();
            multipart_parts(ct, &r.body).len()
        })
        .collect();
    assert_eq!(sizes, vec![100, 100, 50]);
}

#[tokio::test]
async fn a_short_answer_is_a_protocol_error_and_a_refusal_is_surfaced() {
    let (server, client) = connected("1.3.0").await;
    Mock::given(method("POST"))
        .and(path("/api/v1/main/flows/validate"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"index": 0}])))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let flows = [
        flow("a.yml", "prod", "a", source("prod", "a")),
        flow("b.yml", "prod", "b", source("prod", "b")),
    ];
    let refs: Vec<&Flow> = flows.iter().collect();
    let err = client.validate(&refs).await.unwrap_err();
    assert!(matches!(err, KestraError::Protocol { .. }), "{err:?}");
    assert!(err.to_string().contains("got 1 result"), "{err}");

    Mock::given(method("POST"))
        .and(path("/api/v1/main/flows/validate"))
        .respond_with(ResponseTemplate::new(403))
        .mount(&server)
        .await;
    let err = client.validate(&refs).await.unwrap_err();
    assert_eq!(err.status(), Some(403));
    assert!(err.to_string().contains("permission"), "{err}");
}
