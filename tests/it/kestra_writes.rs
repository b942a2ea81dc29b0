//! Writes and the retry rule: create/update/delete as Kestra answers them, transient failures
//! retried (503, 429 with `Retry-After`), answers never retried (404, 422), a create never
//! replayed once it may have reached the server, and the server's message surfaced from both
//! error body generations.

use crate::kestra_support;

use std::time::{Duration, Instant};

use kestra_support::*;
use kestra_sync::http::Backoff;
use kestra_sync::kestra::{KestraClient, KestraError, Written};
use serde_json::json;
use wiremock::matchers::{body_string, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn create_posts_yaml_and_reads_the_written_flow() {
    if !crate::common::shared_present(
        "corpus",
        "kestra_writes::create_posts_yaml_and_reads_the_written_flow",
    ) {
        return;
    }
    let (server, client) = connected("1.3.0").await;
    let src = blueprint_with_dashes();
    Mock::given(method("POST"))
        .and(path("/api/v1/main/flows"))
        .and(header("content-type", "application/x-yaml"))
        .and(body_string(src.clone()))
        .respond_with(ResponseTemplate::new(200).set_body_json(flow_with_source(
            "company.team",
            "ansible-local-message",
            1,
            &src,
        )))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(
        client.create(&src).await.unwrap(),
        Written {
            namespace: "company.team".into(),
            id: "ansible-local-message".into(),
            revision: Some(1),
        }
    );
}

#[tokio::test]
async fn update_puts_yaml_on_the_encoded_flow_path() {
    let (server, client) = connected("1.3.0").await;
    let src = source("prod.marketing", "my-flow_1.v2");
    Mock::given(method("PUT"))
        .and(path("/api/v1/main/flows/prod.marketing/my-flow_1.v2"))
        .and(header("content-type", "application/x-yaml"))
        .and(body_string(src.clone()))
        .respond_with(ResponseTemplate::new(200).set_body_json(flow_with_source(
            "prod.marketing",
            "my-flow_1.v2",
            4,
            &src,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let w = client
        .update("prod.marketing", "my-flow_1.v2", &src)
        .await
        .unwrap();
    assert_eq!(w.revision, Some(4));
}

#[tokio::test]
async fn delete_is_true_on_204_and_false_on_404() {
    let (server, client) = connected("1.3.0").await;
    Mock::given(method("DELETE"))
        .and(path("/api/v1/main/flows/prod/a"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/api/v1/main/flows/prod/gone"))
        .respond_with(not_found("/api/v1/main/flows/prod/gone"))
        .expect(1)
        .mount(&server)
        .await;
    assert!(client.delete("prod", "a").await.unwrap());
    assert!(!client.delete("prod", "gone").await.unwrap());
}

#[tokio::test]
async fn dot_segments_are_refused_before_anything_is_sent() {
    let (server, client) = connected("1.3.0").await;
    let err = client.delete("prod", "..").await.unwrap_err();
    assert!(matches!(err, KestraError::Invalid(_)), "{err:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1); // /configs only
}

#[tokio::test]
async fn a_503_then_200_is_retried() {
    let (server, client) = connected("1.3.0").await;
    mount_once(
        &server,
        "PUT",
        "/api/v1/main/flows/prod/a",
        ResponseTemplate::new(503),
    )
    .await;
    Mock::given(method("PUT"))
        .and(path("/api/v1/main/flows/prod/a"))
        .respond_with(flow_ok("prod", "a", 2))
        .mount(&server)
        .await;
    let w = client
        .update("prod", "a", &source("prod", "a"))
        .await
        .unwrap();
    assert_eq!(w.revision, Some(2));
    assert_eq!(count(&server, "/flows/prod/a").await, 2);
}

#[tokio::test]
async fn retries_run_out_and_the_last_answer_is_reported() {
    let (server, client) = connected("1.3.0").await;
    Mock::given(method("GET"))
        .and(path("/api/v1/main/flows/prod/a"))
        .respond_with(ResponseTemplate::new(504))
        .mount(&server)
        .await;
    let err = client.get_flow("prod", "a").await.unwrap_err();
    assert_eq!(err.status(), Some(504));
    // 1 try + 2 retries (config retries = 2).
    assert_eq!(count(&server, "/flows/prod/a").await, 3);
}

async fn rate_limited_then_ok(retry_after: &str, max_wait: Duration) -> (Duration, usize) {
    let server = MockServer::start().await;
    mount_configs(&server, "1.3.0").await;
    let mut cfg = config(&server);
    cfg.backoff = Backoff {
        initial: Duration::from_millis(1),
        max: max_wait,
    };
    let client = KestraClient::connect(cfg).await.unwrap();
    mount_once(
        &server,
        "DELETE",
        "/api/v1/main/flows/prod/a",
        ResponseTemplate::new(429).insert_header("retry-after", retry_after),
    )
    .await;
    Mock::given(method("DELETE"))
        .and(path("/api/v1/main/flows/prod/a"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let start = Instant::now();
    assert!(client.delete("prod", "a").await.unwrap());
    (start.elapsed(), count(&server, "/flows/prod/a").await)
}

#[tokio::test]
async fn a_429_waits_for_retry_after_up_to_the_configured_cap() {
    // Honoured: Retry-After 1 s under a 5 s cap.
    let (elapsed, requests) = rate_limited_then_ok("1", Duration::from_secs(5)).await;
    assert_eq!(requests, 2);
    assert!(elapsed >= Duration::from_millis(950), "{elapsed:?}");
    // Capped: Retry-After 120 s (as an HTTP date too) under a 50 ms cap.
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120));
    for value in ["120", date.as_str()] {
        let (elapsed, requests) = rate_limited_then_ok(value, Duration::from_millis(50)).await;
        assert_eq!(requests, 2);
        assert!(elapsed < Duration::from_secs(2), "{value}: {elapsed:?}");
    }
}

#[tokio::test]
async fn answers_are_not_retried() {
    let (server, client) = connected("1.3.0").await;
    Mock::given(method("POST"))
        .and(path("/api/v1/main/flows"))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({
            "message": "Invalid entity: flow.id: Flow id already exists",
            "_links": {"self": {"href": "/api/v1/main/flows", "templated": false}},
            "_embedded": {"errors": [{"message": "Flow id already exists", "path": "flow.id"}]}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/api/v1/main/flows/prod/missing"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    let err = client.create(&source("prod", "a")).await.unwrap_err();
    assert_eq!(err.status(), Some(422));
    let shown = err.to_string();
    assert_eq!(
        shown,
        format!(
            "Kestra answered 422 to POST {}/api/v1/main/flows: Invalid entity: flow.id: Flow id already exists",
            server.uri()
        )
    );
    let err = client
        .update("prod", "missing", &source("prod", "missing"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
}

#[tokio::test]
async fn problem_json_errors_of_kestra_2_are_surfaced() {
    let (server, client) = connected("2.0.0").await;
    Mock::given(method("PUT"))
        .and(path("/api/v1/main/flows/prod/a"))
        .respond_with(
            ResponseTemplate::new(422)
                .insert_header("content-type", "application/problem+json")
                .set_body_json(json!({
                    "type": "about:blank",
                    "title": "Invalid entity",
                    "status": 422,
                    "detail": "Flow namespace and id cannot be changed",
                    "instance": "/api/v1/main/flows/prod/a",
                    "errors": [{"detail": "must be `a`", "pointer": "/id", "path": "id"}]
                })),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = client
        .update("prod", "a", &source("prod", "b"))
        .await
        .unwrap_err();
    let shown = err.to_string();
    assert!(
        shown
            .contains("Invalid entity: Flow namespace and id cannot be changed\n- id: must be `a`"),
        "{shown}"
    );
    assert!(
        shown.contains("PUT ") && shown.contains("/api/v1/main/flows/prod/a"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_create_that_timed_out_is_not_replayed_and_says_it_may_have_been_applied() {
    let server = MockServer::start().await;
    mount_configs(&server, "1.3.0").await;
    let mut cfg = config(&server);
    cfg.timeout = Duration::from_millis(300);
    let client = KestraClient::connect(cfg).await.unwrap();
    Mock::given(method("POST"))
        .and(path("/api/v1/main/flows"))
        .respond_with(flow_ok("prod", "a", 1).set_delay(Duration::from_secs(3)))
        .expect(1)
        .mount(&server)
        .await;
    let err = client.create(&source("prod", "a")).await.unwrap_err();
    assert!(err.may_have_been_applied(), "{err:?}");
    assert!(err.to_string().contains("may have been applied"), "{err}");
    assert_eq!(count(&server, "/api/v1/main/flows").await, 1);

    // The same timeout on an idempotent update is retried: 1 + 2 retries.
    Mock::given(method("PUT"))
        .and(path("/api/v1/main/flows/prod/a"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let err = client
        .update("prod", "a", &source("prod", "a"))
        .await
        .unwrap_err();
    assert!(matches!(err, KestraError::Transport { .. }), "{err:?}");
    assert_eq!(count(&server, "/flows/prod/a").await, 3);
}

#[tokio::test]
async fn a_create_behind_a_gateway_502_is_not_replayed() {
    let (server, client) = connected("1.3.0").await;
    Mock::given(method("POST"))
        .and(path("/api/v1/main/flows"))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>bad gateway</html>"))
        .expect(1)
        .mount(&server)
        .await;
    let err = client.create(&source("prod", "a")).await.unwrap_err();
    assert!(err.may_have_been_applied(), "{err:?}");
}

#[tokio::test]
async fn a_create_refused_with_503_or_429_is_retried() {
    for status in [503, 429] {
        let (server, client) = connected("1.3.0").await;
        mount_once(
            &server,
            "POST",
            "/api/v1/main/flows",
            ResponseTemplate::new(status),
        )
        .await;
        Mock::given(method("POST"))
            .and(path("/api/v1/main/flows"))
            .respond_with(flow_ok("prod", "a", 1))
            .mount(&server)
            .await;
        assert_eq!(
            client.create(&source("prod", "a")).await.unwrap().revision,
            Some(1)
        );
        assert_eq!(count(&server, "/api/v1/main/flows").await, 2, "{status}");
    }
}

#[tokio::test]
async fn a_create_that_cannot_connect_is_a_transport_error_not_maybe_applied() {
    // Not pooled: dropping it closes the port, so every attempt is refused. `Connection:
    // close` keeps the client from holding a connection that would then be cut mid-request.
    let server = MockServer::builder().start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/configs"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("connection", "close")
                .set_body_json(configs_body("1.3.0", "OSS")),
        )
        .mount(&server)
        .await;
    let client = KestraClient::connect(config(&server)).await.unwrap();
    drop(server);
    tokio::time::sleep(Duration::from_millis(300)).await; // let the listener close
    let start = Instant::now();
    let err = client.create(&source("prod", "a")).await.unwrap_err();
    assert!(matches!(err, KestraError::Transport { .. }), "{err:?}");
    assert!(!err.may_have_been_applied());
    assert!(start.elapsed() < Duration::from_secs(5));
}
