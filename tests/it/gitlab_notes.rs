//! The sticky GitLab merge request note, against a fake GitLab over real HTTP
//! (`gitlab_support`): a stateful notes store behind GitLab's paths, `PRIVATE-TOKEN` auth,
//! offset pagination headers (`X-Next-Page`, empty on the last page), its 401/403 answers,
//! and transient failures (a read retried; a create whose answer is lost looked up, never
//! posted twice).

use crate::gitlab_support;

use std::time::Duration;

use gitlab_support::{FakeGitLab, Fault, BOT, READ_ONLY_TOKEN, TOKEN};
use kestra_sync::forge::gitlab::{GitLabNotes, MergeRequest, Posted};
use kestra_sync::http::{Backoff, HttpOptions};
use secrecy::SecretString;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const MARKER: &str = "<!-- kestra-sync:plan target=prod@kestra.example.com -->";

async fn start(fake: &FakeGitLab) -> MockServer {
    fake.start().await
}

/// `GET /user` answers the bot user, for tests with fixed answers.
async fn mount_user(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/api/v4/user"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": BOT})))
        .mount(server)
        .await;
}

fn client(server: &MockServer, project: &str, token: Option<&str>) -> GitLabNotes {
    let mr = MergeRequest {
        api_url: format!("{}/api/v4", server.uri()),
        project: project.into(),
        iid: 42,
    };
    GitLabNotes::new(
        mr,
        token.map(|t| SecretString::from(t.to_string())),
        Duration::from_secs(10),
    )
    .unwrap()
}

fn plan(text: &str) -> String {
    format!("{MARKER}\n### Kestra plan for `prod`: {text}\n")
}

/// Notes that carry our marker but are not ours, left exactly as they were: another
/// target's note quoting a flow whose text holds our marker, the marker after a leading
/// newline or inline, and another user's (another bot's) note starting with it.
#[tokio::test]
async fn spoofed_markers_and_other_users_notes_are_never_edited() {
    let fake = FakeGitLab::new("123", 42);
    let server = start(&fake).await;
    let other = "<!-- kestra-sync:plan target=staging@kestra.example.com -->";
    let by_bot = [
        format!("{other}\n```yaml\n# {MARKER}\n```\n"),
        format!("\n{MARKER}\nleading newline"),
        format!("see {MARKER}"),
    ];
    let mut seeded: Vec<(u64, u64, String)> = by_bot
        .iter()
        .map(|b| (BOT, fake.seed(BOT, b), b.clone()))
        .collect();
    seeded.push((77, fake.seed(77, &plan("another bot")), plan("another bot")));
    let gl = client(&server, "123", Some(TOKEN));
    let out = gl.upsert(MARKER, &plan("1 to add")).await.unwrap();
    let Posted::Created { id } = out else {
        panic!("{out:?}")
    };
    assert_eq!(fake.writes(), [format!("POST {id}")]);
    for (author, nid, b) in &seeded {
        let note = fake
            .notes_of(*author)
            .into_iter()
            .find(|n| n["id"] == *nid)
            .expect("still there");
        assert_eq!(note["body"], *b.as_str(), "note {nid} was edited");
    }
    assert_eq!(
        gl.upsert(MARKER, &plan("2 to add")).await.unwrap(),
        Posted::Updated { id }
    );
}

#[tokio::test]
async fn create_then_edit_then_leave_unchanged() {
    let fake = FakeGitLab::new("123", 42);
    let server = start(&fake).await;
    // Someone quoting our marker in their own note: never touched.
    let quoted = fake.seed(99, &format!("look at this: {MARKER}"));
    let gl = client(&server, "123", Some(TOKEN));

    let first = gl.upsert(MARKER, &plan("1 to add")).await.unwrap();
    let Posted::Created { id } = first else {
        panic!("{first:?}")
    };
    let second = gl.upsert(MARKER, &plan("2 to add")).await.unwrap();
    assert_eq!(second, Posted::Updated { id });
    let third = gl.upsert(MARKER, &plan("2 to add")).await.unwrap();
    assert_eq!(third, Posted::Unchanged { id });

    assert_eq!(fake.writes(), [format!("POST {id}"), format!("PUT {id}")]);
    let ours = fake.notes_of(BOT);
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0]["body"], plan("2 to add"));
    assert_eq!(fake.notes_of(99)[0]["id"], quoted);
    assert_eq!(
        fake.notes_of(99)[0]["body"],
        format!("look at this: {MARKER}")
    );
}

#[tokio::test]
async fn each_target_keeps_its_own_note() {
    let fake = FakeGitLab::new("123", 42);
    let server = start(&fake).await;
    let gl = client(&server, "123", Some(TOKEN));
    let other = "<!-- kestra-sync:plan target=dev@kestra.example.com -->";
    let a = gl.upsert(MARKER, &plan("1 to add")).await.unwrap();
    let b = gl.upsert(other, "dev plan").await.unwrap();
    assert!(matches!(a, Posted::Created { .. }) && matches!(b, Posted::Created { .. }));
    assert_ne!(a, b);
    let ours = fake.notes_of(BOT);
    assert_eq!(ours.len(), 2);
    // The marker is added when the caller's body lacks it.
    assert_eq!(ours[1]["body"], format!("{other}\ndev plan"));
}

#[tokio::test]
async fn our_note_is_found_beyond_the_first_pages() {
    let fake = FakeGitLab::new("123", 42);
    let server = start(&fake).await;
    for i in 0..230 {
        fake.seed(50 + i % 3, &format!("review comment {i}"));
    }
    let ours = fake.seed(BOT, &plan("old"));
    for i in 0..5 {
        fake.seed(51, &format!("later {i}"));
    }
    let gl = client(&server, "123", Some(TOKEN));
    let outcome = gl.upsert(MARKER, &plan("new")).await.unwrap();
    assert_eq!(outcome, Posted::Updated { id: ours });
    let pages: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "GET" && r.url.path().ends_with("/notes"))
        .map(|r| r.url.query().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        pages,
        [1, 2, 3].map(|p| format!("per_page=100&page={p}&sort=asc&order_by=created_at"))
    );
}

#[tokio::test]
async fn project_path_is_url_encoded() {
    let fake = FakeGitLab::new("acme%2Fdata%2Fflows", 42);
    let server = start(&fake).await;
    let gl = client(&server, "acme/data/flows", Some(TOKEN));
    let outcome = gl.upsert(MARKER, &plan("1 to add")).await.unwrap();
    assert!(matches!(outcome, Posted::Created { .. }), "{outcome:?}");
    let post = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.method.as_str() == "POST")
        .unwrap();
    assert_eq!(
        post.url.path(),
        "/api/v4/projects/acme%2Fdata%2Fflows/merge_requests/42/notes"
    );
    assert_eq!(post.headers.get("private-token").unwrap(), TOKEN);
    assert_eq!(
        post.headers.get("content-type").unwrap(),
        "application/json"
    );
}

#[tokio::test]
async fn read_only_token_is_skipped_with_what_to_do() {
    let fake = FakeGitLab::new("123", 42);
    let server = start(&fake).await;
    let gl = client(&server, "123", Some(READ_ONLY_TOKEN));
    let outcome = gl.upsert(MARKER, &plan("1 to add")).await.unwrap();
    let Posted::Skipped { reason } = &outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        reason.starts_with("the token cannot post notes (GitLab answered 403 to POST "),
        "{reason}"
    );
    assert!(reason.ends_with(": CI_JOB_TOKEN can only read notes; create a project access token (Settings > Access tokens) with the `api` scope and store it as a CI/CD variable GITLAB_TOKEN, masked but not protected (merge request pipelines cannot read protected variables)"), "{reason}");
    assert!(!reason.contains(READ_ONLY_TOKEN));
    assert!(fake.notes_of(BOT).is_empty());
    assert!(outcome.to_string().starts_with("plan not posted: "));
}

#[tokio::test]
async fn invalid_token_is_skipped_at_the_first_request() {
    let fake = FakeGitLab::new("123", 42);
    let server = start(&fake).await;
    let gl = client(&server, "123", Some("glpat-expired"));
    let outcome = gl.upsert(MARKER, &plan("x")).await.unwrap();
    let Posted::Skipped { reason } = &outcome else {
        panic!("{outcome:?}")
    };
    assert!(reason.contains("GitLab answered 401 to GET "), "{reason}");
    assert!(reason.contains("401 Unauthorized"), "{reason}");
    assert!(reason.contains("GITLAB_TOKEN"), "{reason}");
    assert!(!reason.contains("glpat-expired"));
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn missing_token_is_skipped_without_any_request() {
    let fake = FakeGitLab::new("123", 42);
    let server = start(&fake).await;
    for token in [None, Some(""), Some("  ")] {
        let outcome = client(&server, "123", token)
            .upsert(MARKER, &plan("x"))
            .await
            .unwrap();
        let Posted::Skipped { reason } = &outcome else {
            panic!("{outcome:?}")
        };
        assert!(reason.starts_with("no GitLab token (GITLAB_TOKEN is empty): CI_JOB_TOKEN can only read notes; create a project access token (Settings > Access tokens) with the `api` scope"), "{reason}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn server_errors_are_errors_with_gitlab_s_message() {
    let server = MockServer::start().await;
    mount_user(&server).await;
    Mock::given(method("GET"))
        .and(path("/api/v4/projects/123/merge_requests/42/notes"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "404 Not found"})))
        .mount(&server)
        .await;
    let err = client(&server, "123", Some(TOKEN))
        .upsert(MARKER, &plan("x"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("GitLab answered 404 to GET http://"),
        "{err}"
    );
    assert!(
        err.contains("/api/v4/projects/123/merge_requests/42/notes?per_page=100&page=1"),
        "{err}"
    );
    assert!(
        err.contains(": 404 Not found: check CI_PROJECT_ID and CI_MERGE_REQUEST_IID"),
        "{err}"
    );
    assert!(!err.contains(TOKEN));

    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mr = MergeRequest {
        api_url: format!("http://127.0.0.1:{port}/api/v4"),
        project: "123".into(),
        iid: 42,
    };
    let down =
        GitLabNotes::new(mr, Some(SecretString::from(TOKEN)), Duration::from_secs(5)).unwrap();
    let err = down.upsert(MARKER, "x").await.unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "cannot reach GitLab at http://127.0.0.1:{port}/api/v4/user: "
        )),
        "{err}"
    );
    assert!(!err.contains(TOKEN));
}

#[tokio::test]
async fn a_full_page_without_pagination_headers_is_followed() {
    // Some proxies strip X-Next-Page: a page of 100 may have a next one.
    let server = MockServer::start().await;
    let others: Vec<Value> = (0..100)
        .map(|i| json!({"id": i, "body": "hi", "author": {"id": 5}, "system": false}))
        .collect();
    mount_user(&server).await;
    Mock::given(method("GET"))
        .and(path("/api/v4/projects/123/merge_requests/42/notes"))
        .and(wiremock::matchers::query_param("page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(Value::Array(others)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v4/projects/123/merge_requests/42/notes"))
        .and(wiremock::matchers::query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": 500, "body": "system note mentioning <!-- kestra-sync:plan target=prod@kestra.example.com -->", "author": {"id": BOT}, "system": true},
            {"id": 501, "body": plan("same"), "author": {"id": BOT}, "system": false}
        ])))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let outcome = client(&server, "123", Some(TOKEN))
        .upsert(MARKER, &plan("same"))
        .await
        .unwrap();
    assert_eq!(outcome, Posted::Unchanged { id: 501 });
}

/// A client that retries quickly.
fn fast_client(server: &MockServer, retries: u32) -> GitLabNotes {
    let mr = MergeRequest {
        api_url: format!("{}/api/v4", server.uri()),
        project: "123".into(),
        iid: 42,
    };
    let options = HttpOptions {
        timeout: Duration::from_secs(10),
        retries,
        backoff: Backoff {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(50),
        },
    };
    GitLabNotes::with_options(mr, Some(SecretString::from(TOKEN)), &options).unwrap()
}

#[tokio::test]
async fn a_transient_failure_of_a_read_is_retried() {
    let fake = FakeGitLab::new("123", 42);
    let server = start(&fake).await;
    fake.inject(Fault::GetUnavailable);
    let outcome = fast_client(&server, 2)
        .upsert(MARKER, &plan("1 to add"))
        .await
        .unwrap();
    assert!(matches!(outcome, Posted::Created { .. }), "{outcome:?}");
    let gets = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "GET" && r.url.path().ends_with("/notes"))
        .count();
    assert_eq!(gets, 2, "the 503 was retried once");

    // Without retries the same failure is an error with GitLab's answer.
    let fake = FakeGitLab::new("123", 42);
    let server = start(&fake).await;
    fake.inject(Fault::GetUnavailable);
    let err = fast_client(&server, 0)
        .upsert(MARKER, &plan("1 to add"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("GitLab answered 503 to GET "), "{err}");
    assert!(fake.writes().is_empty());
}

#[tokio::test]
async fn a_lost_answer_to_the_post_is_looked_up_never_posted_twice() {
    // The gateway lost GitLab's answer, but the note was created: found, not re-posted.
    let fake = FakeGitLab::new("123", 42);
    let server = start(&fake).await;
    fake.inject(Fault::PostBadGateway { stored: true });
    let outcome = fast_client(&server, 3)
        .upsert(MARKER, &plan("1 to add"))
        .await
        .unwrap();
    let Posted::Created { id } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(fake.writes(), [format!("POST {id}")]);
    assert_eq!(fake.notes_of(BOT).len(), 1);

    // Lost and not created: an error saying the next run settles it; still one POST.
    let fake = FakeGitLab::new("123", 42);
    let server = start(&fake).await;
    fake.inject(Fault::PostBadGateway { stored: false });
    let err = fast_client(&server, 3)
        .upsert(MARKER, &plan("1 to add"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("the note may still appear"), "{err}");
    assert!(err.contains("502"), "{err}");
    assert_eq!(fake.writes(), ["POST"]);
    assert!(fake.notes_of(BOT).is_empty());
    assert!(!err.contains(TOKEN));
}
