//! Connecting to Kestra: path form from the version (tenant `main` since 0.23, untenanted
//! before), an explicit tenant, tolerated base URLs, the `/configs` 404 fallback, both auth
//! schemes, and secrets never shown in errors.

use crate::kestra_support;

use std::time::Duration;

use kestra_support::*;
use kestra_sync::kestra::client::Auth;
use kestra_sync::kestra::{KestraClient, KestraError, ServerInfo};
use secrecy::SecretString;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "tok-SECRET-4f9c2a7e";
const PASSWORD: &str = "pw-SECRET-83ad1c";

#[tokio::test]
async fn kestra_1_3_uses_the_main_tenant_paths() {
    let (server, client) = connected("1.3.0").await;
    assert_eq!(
        client.server_info(),
        &ServerInfo {
            url: server.uri(),
            version: Some("1.3.0".into()),
            edition: Some("OSS".into()),
            tenant: Some("main".into()),
        }
    );
    Mock::given(method("GET"))
        .and(path("/api/v1/main/flows/prod/hello"))
        .and(query_param("source", "true"))
        .respond_with(flow_ok("prod", "hello", 3))
        .expect(1)
        .mount(&server)
        .await;
    let flow = client.get_flow("prod", "hello").await.unwrap().unwrap();
    assert_eq!(flow.source, source("prod", "hello"));
    assert_eq!(flow.revision, Some(3));
}

#[tokio::test]
async fn snapshot_and_unknown_versions_count_as_new() {
    for version in ["1.3.0-SNAPSHOT", "2.0.0-SNAPSHOT", "develop"] {
        let (_server, client) = connected(version).await;
        assert_eq!(
            client.server_info().tenant.as_deref(),
            Some("main"),
            "{version}"
        );
    }
}

#[tokio::test]
async fn kestra_0_22_uses_untenanted_paths() {
    let (server, client) = connected("0.22.6").await;
    assert_eq!(client.server_info().tenant, None);
    Mock::given(method("GET"))
        .and(path("/api/v1/flows/prod/hello"))
        .and(query_param("source", "true"))
        .respond_with(flow_ok("prod", "hello", 1))
        .expect(1)
        .mount(&server)
        .await;
    assert!(client.get_flow("prod", "hello").await.unwrap().is_some());
}

#[tokio::test]
async fn an_explicit_tenant_wins_over_detection() {
    for version in ["1.3.0", "0.22.0"] {
        let server = MockServer::start().await;
        mount_configs(&server, version).await;
        let mut cfg = config(&server);
        cfg.tenant = Some("acme".into());
        let client = KestraClient::connect(cfg).await.unwrap();
        assert_eq!(client.server_info().tenant.as_deref(), Some("acme"));
        Mock::given(method("DELETE"))
            .and(path("/api/v1/acme/flows/prod/hello"))
            .respond_with(ResponseTemplate::new(204))
            .expect(1)
            .mount(&server)
            .await;
        assert!(client.delete("prod", "hello").await.unwrap());
    }
}

#[tokio::test]
async fn trailing_slash_api_v1_and_ui_suffixes_are_tolerated() {
    let server = MockServer::start().await;
    mount_configs(&server, "1.3.0").await;
    for suffix in ["/", "/api/v1", "/api/v1/", "/ui/"] {
        let mut cfg = config(&server);
        cfg.url = format!("{}{suffix}", server.uri());
        let client = KestraClient::connect(cfg).await.unwrap();
        assert_eq!(client.server_info().url, server.uri(), "{suffix}");
    }
    // Every request went to /api/v1/configs, never /api/v1/api/v1/configs.
    assert_eq!(count(&server, "/api/v1/configs").await, 4);
    assert_eq!(server.received_requests().await.unwrap().len(), 4);
}

#[tokio::test]
async fn configs_404_falls_back_to_probing_the_flows_search() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/configs"))
        .respond_with(not_found("/api/v1/configs"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/main/flows/search"))
        .respond_with(not_found("/api/v1/main/flows/search"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/flows/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(search_page(&[], 0)))
        .mount(&server)
        .await;
    let client = KestraClient::connect(config(&server)).await.unwrap();
    assert_eq!(client.server_info().tenant, None);
    assert_eq!(client.server_info().version, None);
}

#[tokio::test]
async fn configs_404_with_no_flows_api_is_an_error_that_says_what_to_check() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(not_found("/"))
        .mount(&server)
        .await;
    let err = KestraClient::connect(config(&server)).await.unwrap_err();
    let shown = err.to_string();
    assert!(shown.starts_with("no Kestra API at http://"), "{shown}");
    assert!(shown.contains("/api/v1/configs answered 404"), "{shown}");
    assert!(shown.contains("Check --kestra-url"), "{shown}");
}

#[tokio::test]
async fn an_html_page_instead_of_configs_is_reported() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/configs"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/html")
                .set_body_string("<!doctype html><html><body>Kestra</body></html>"),
        )
        .mount(&server)
        .await;
    let err = KestraClient::connect(config(&server)).await.unwrap_err();
    assert!(matches!(err, KestraError::Invalid { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("GET /api/v1/configs answered 200 with a page of type"),
        "{err}"
    );
    assert!(err.to_string().contains("--kestra-url"), "{err}");
}

#[tokio::test]
async fn basic_auth_is_sent_on_every_request() {
    let server = MockServer::start().await;
    // "admin@kestra.io:pw-SECRET-83ad1c"
    let expected = "Basic YWRtaW5Aa2VzdHJhLmlvOnB3LVNFQ1JFVC04M2FkMWM=";
    Mock::given(method("GET"))
        .and(path("/api/v1/configs"))
        .and(header("authorization", expected))
        .respond_with(ResponseTemplate::new(200).set_body_json(configs_body("1.3.0", "OSS")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/main/flows/prod/x"))
        .and(header("authorization", expected))
        .respond_with(not_found("/api/v1/main/flows/prod/x"))
        .expect(1)
        .mount(&server)
        .await;
    let mut cfg = config(&server);
    cfg.auth = Auth::Basic {
        username: "admin@kestra.io".into(),
        password: SecretString::from(PASSWORD),
    };
    let client = KestraClient::connect(cfg).await.unwrap();
    assert_eq!(client.get_flow("prod", "x").await.unwrap(), None);
    let debug = format!("{client:?}");
    assert!(
        !debug.contains(PASSWORD) && !debug.contains("YWRtaW5A"),
        "{debug}"
    );
}

#[tokio::test]
async fn bearer_token_is_sent_on_every_request() {
    let server = MockServer::start().await;
    let expected = format!("Bearer {TOKEN}");
    Mock::given(method("GET"))
        .and(path("/api/v1/configs"))
        .and(header("authorization", expected.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(configs_body("1.3.0", "EE")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/api/v1/main/flows/prod/x"))
        .and(header("authorization", expected.as_str()))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let mut cfg = config(&server);
    cfg.auth = Auth::Bearer(SecretString::from(TOKEN));
    let client = KestraClient::connect(cfg).await.unwrap();
    assert_eq!(client.server_info().edition.as_deref(), Some("EE"));
    assert!(client.delete("prod", "x").await.unwrap());
    let debug = format!("{client:?}");
    assert!(!debug.contains(TOKEN), "{debug}");
}

#[tokio::test]
async fn empty_401_gives_the_credentials_hint_and_never_the_secret() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/configs"))
        .respond_with(
            ResponseTemplate::new(401).insert_header("www-authenticate", "Basic realm=\"Kestra\""),
        )
        .mount(&server)
        .await;
    let mut cfg = config(&server);
    cfg.auth = Auth::Bearer(SecretString::from(TOKEN));
    let err = KestraClient::connect(cfg).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    let shown = err.to_string();
    assert!(
        shown.contains("The server refused the API token: check --kestra-api-token"),
        "{shown}"
    );
    assert!(shown.contains("GET"), "{shown}");
    assert!(!shown.contains(TOKEN) && !format!("{err:?}").contains(TOKEN));
    // Not retried: a 401 is an answer.
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn transport_and_timeout_errors_never_show_a_secret() {
    // Nothing listens on a just-released port.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cfg = config(&MockServer::start().await);
    cfg.url = format!("http://127.0.0.1:{port}/?api_token={TOKEN}");
    cfg.auth = Auth::Bearer(SecretString::from(TOKEN));
    let err = KestraClient::connect(cfg).await.unwrap_err();
    assert!(matches!(err, KestraError::Transport { .. }), "{err:?}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(shown.contains(&format!("127.0.0.1:{port}")), "{shown}");

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(configs_body("1.3.0", "OSS"))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let mut cfg = config(&server);
    cfg.timeout = Duration::from_millis(200);
    cfg.retries = 1;
    cfg.auth = Auth::Basic {
        username: "admin".into(),
        password: SecretString::from(PASSWORD),
    };
    let err = KestraClient::connect(cfg).await.unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("timed out"), "{shown}");
    assert!(!shown.contains(PASSWORD), "{shown}");
    // An idempotent GET is retried on a timeout: 1 + 1 retry.
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn credentials_in_the_url_are_refused_without_echoing_them() {
    let server = MockServer::start().await;
    let mut cfg = config(&server);
    cfg.url = server
        .uri()
        .replace("http://", &format!("http://admin:{PASSWORD}@"));
    let err = KestraClient::connect(cfg).await.unwrap_err();
    assert!(matches!(err, KestraError::Invalid(_)), "{err:?}");
    assert!(!err.to_string().contains(PASSWORD), "{err}");
    assert!(server.received_requests().await.unwrap().is_empty());
}
