//! Shared pieces of the Kestra client tests: answers shaped like a real Kestra server's
//! (from the OpenAPI specs and Kestra's controllers), an export ZIP built like Kestra's
//! `HasSource.asZipFile` (deflated entries `ns-id.yml`), a multipart reader, and fast
//! client settings.
#![allow(dead_code)]

use std::io::Write;
use std::time::Duration;

use kestra_sync::http::Backoff;
use kestra_sync::kestra::client::{Auth, KestraConfig};
use kestra_sync::kestra::KestraClient;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Settings for tests: short timeout, 2 retries, millisecond waits.
pub fn config(server: &MockServer) -> KestraConfig {
    KestraConfig {
        url: server.uri(),
        tenant: None,
        auth: Auth::None,
        timeout: Duration::from_secs(5),
        retries: 2,
        backoff: Backoff {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(20),
        },
    }
}

/// `GET /api/v1/configs` of a Kestra OSS server (fields from `MiscController.Configuration`).
pub fn configs_body(version: &str, edition: &str) -> Value {
    json!({
        "uuid": "6d5c2a4e-0c1f-4a57-9a7e-9f1b2b7f0c11",
        "version": version,
        "edition": edition,
        "commitId": "a1b2c3d",
        "commitDate": "2026-02-27T10:00:00Z",
        "isCustomDashboardsEnabled": true,
        "isAnonymousUsageEnabled": false,
        "isUiAnonymousUsageEnabled": false,
        "isTemplateEnabled": false,
        "environment": {"name": null, "color": null},
        "url": "http://localhost:8080",
        "preview": {"initial": 100, "max": 5000},
        "systemNamespace": "system",
        "hiddenLabelsPrefixes": ["system_"],
        "isAiEnabled": false,
        "isBasicAuthInitialized": true,
        "pluginsHash": 1234567
    })
}

pub async fn mount_configs(server: &MockServer, version: &str) {
    Mock::given(method("GET"))
        .and(path("/api/v1/configs"))
        .respond_with(ResponseTemplate::new(200).set_body_json(configs_body(version, "OSS")))
        .mount(server)
        .await;
}

/// A server answering `/configs` as Kestra `version`, and a client connected to it.
pub async fn connected(version: &str) -> (MockServer, KestraClient) {
    let server = MockServer::start().await;
    mount_configs(&server, version).await;
    let client = KestraClient::connect(config(&server)).await.unwrap();
    (server, client)
}

/// A simple flow source.
pub fn source(namespace: &str, id: &str) -> String {
    format!(
        "id: {id}\nnamespace: {namespace}\n\n# a comment kept verbatim\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: Hello from {id}\n"
    )
}

/// `FlowWithSource` JSON as `GET /flows/{ns}/{id}?source=true`, create and update answer.
pub fn flow_with_source(namespace: &str, id: &str, revision: u64, source: &str) -> Value {
    json!({
        "id": id,
        "namespace": namespace,
        "revision": revision,
        "disabled": false,
        "deleted": false,
        "labels": [],
        "tasks": [{"id": "hello", "type": "io.kestra.plugin.core.log.Log", "message": "Hello"}],
        "source": source
    })
}

/// A 200 answer carrying the `FlowWithSource` of [`source`]`(namespace, id)`.
pub fn flow_ok(namespace: &str, id: &str, revision: u64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(flow_with_source(
        namespace,
        id,
        revision,
        &source(namespace, id),
    ))
}

/// Answer `first` to the next `verb path` request only (before any other mock).
pub async fn mount_once(server: &MockServer, verb: &str, uri: &str, first: ResponseTemplate) {
    Mock::given(method(verb))
        .and(path(uri))
        .respond_with(first)
        .up_to_n_times(1)
        .with_priority(1)
        .mount(server)
        .await;
}

/// `Flow` JSON as in search results (no source).
pub fn flow_summary(namespace: &str, id: &str, revision: u64) -> Value {
    json!({
        "id": id,
        "namespace": namespace,
        "revision": revision,
        "disabled": false,
        "deleted": false,
        "tasks": [{"id": "hello", "type": "io.kestra.plugin.core.log.Log", "message": "Hello"}]
    })
}

/// `PagedResults_Flow_`.
pub fn search_page(flows: &[(&str, &str, u64)], total: u64) -> Value {
    json!({
        "results": flows.iter().map(|(ns, id, rev)| flow_summary(ns, id, *rev)).collect::<Vec<_>>(),
        "total": total
    })
}

/// A ZIP like Kestra's export: one deflated entry per `(name, text)`.
pub fn zip_of(entries: &[(String, String)]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, text) in entries {
            zip.start_file(name.as_str(), options).unwrap();
            zip.write_all(text.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
    }
    out.into_inner()
}

/// The export answer: `application/octet-stream` with Kestra's `Content-Disposition`.
pub fn zip_response(entries: &[(String, String)]) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "application/octet-stream")
        .insert_header("content-disposition", "attachment; filename=\"flows.zip\"")
        .set_body_bytes(zip_of(entries))
}

/// Kestra's Micronaut 404 body.
pub fn not_found(uri: &str) -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_json(json!({
        "message": "Not Found",
        "_links": {"self": {"href": uri, "templated": false}}
    }))
}

/// One part of a multipart body.
#[derive(Debug)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
}

/// Read a `multipart/form-data` request body (enough for our own requests).
pub fn multipart_parts(content_type: &str, body: &[u8]) -> Vec<Part> {
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .expect("multipart boundary")
        .trim_matches('"')
        .to_string();
    let text = String::from_utf8(body.to_vec()).expect("utf-8 body");
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    for chunk in text.split(&delimiter).skip(1) {
        if chunk.starts_with("--") {
            break;
        }
        let chunk = chunk.strip_prefix("\r\n").unwrap_or(chunk);
        let (head, rest) = chunk.split_once("\r\n\r\n").expect("part headers");
        let body = rest.strip_suffix("\r\n").unwrap_or(rest).to_string();
        let mut name = String::new();
        let mut filename = None;
        let mut content_type = None;
        for line in head.lines() {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("content-disposition:") {
                for attr in line.split(';').map(str::trim) {
                    if let Some(v) = attr.strip_prefix("name=") {
                        name = v.trim_matches('"').to_string();
                    }
                    if let Some(v) = attr.strip_prefix("filename=") {
                        filename = Some(v.trim_matches('"').to_string());
                    }
                }
            } else if lower.starts_with("content-type:") {
                content_type = Some(line["content-type:".len()..].trim().to_string());
            }
        }
        parts.push(Part {
            name,
            filename,
            content_type,
            body,
        });
    }
    parts
}

/// A real flow from the corpus with `---` inside a block scalar (an inline Ansible playbook).
pub fn blueprint_with_dashes() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/corpus/blueprints/ansible-local-message.yaml"
    );
    let text = std::fs::read_to_string(path).expect("corpus blueprint");
    assert!(
        text.lines()
            .any(|l| l.trim() == "---" && l.starts_with(' ')),
        "the blueprint should hold an indented `---`"
    );
    text
}

/// Number of requests the server received, optionally only those whose path ends with
/// `suffix`.
pub async fn count(server: &MockServer, suffix: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path().ends_with(suffix))
        .count()
}
