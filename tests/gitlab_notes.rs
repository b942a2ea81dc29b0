//! The sticky GitLab merge request note, against a fake GitLab over real HTTP: a stateful
//! notes store behind GitLab's paths, `PRIVATE-TOKEN` auth, offset pagination headers
//! (`X-Next-Page`, empty on the last page) and its 401/403 answers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kestra_sync::forge::gitlab::{GitLabNotes, MergeRequest, NoteOutcome};
use secrecy::SecretString;
use serde_json::{json, Value};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TOKEN: &str = "glpat-S3cr3tT0ken";
const READ_ONLY_TOKEN: &str = "glpat-ReadOnly";
const BOT: u64 = 7;
const MARKER: &str = "<!-- kestra-sync:plan target=prod@kestra.example.com -->";

#[derive(Default)]
struct State {
    notes: Vec<Value>,
    next_id: u64,
    writes: Vec<String>,
}

/// GitLab's notes API for project `project` (as it appears in the path) and MR `!42`.
#[derive(Clone)]
struct FakeGitLab {
    project: &'static str,
    state: Arc<Mutex<State>>,
}

impl FakeGitLab {
    fn new(project: &'static str) -> FakeGitLab {
        let state = State {
            next_id: 1000,
            ..State::default()
        };
        FakeGitLab {
            project,
            state: Arc::new(Mutex::new(state)),
        }
    }

    fn seed(&self, author: u64, body: &str) -> u64 {
        let mut s = self.state.lock().unwrap();
        s.next_id += 1;
        let id = s.next_id;
        s.notes.push(json!({"id": id, "body": body, "author": {"id": author, "username": format!("u{author}")}, "system": false}));
        id
    }

    fn notes_of(&self, author: u64) -> Vec<Value> {
        let s = self.state.lock().unwrap();
        s.notes
            .iter()
            .filter(|n| n["author"]["id"] == author)
            .cloned()
            .collect()
    }

    fn writes(&self) -> Vec<String> {
        self.state.lock().unwrap().writes.clone()
    }
}

impl Respond for FakeGitLab {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let token = req
            .headers
            .get("private-token")
            .and_then(|v| v.to_str().ok());
        let writer = match token {
            Some(TOKEN) => true,
            Some(READ_ONLY_TOKEN) => false,
            _ => {
                return ResponseTemplate::new(401)
                    .set_body_json(json!({"message": "401 Unauthorized"}))
            }
        };
        let p = req.url.path();
        let notes_path = format!("/api/v4/projects/{}/merge_requests/42/notes", self.project);
        let mut s = self.state.lock().unwrap();
        if p == "/api/v4/user" && req.method.as_str() == "GET" {
            return ResponseTemplate::new(200)
                .set_body_json(json!({"id": BOT, "username": "project_1_bot"}));
        }
        if p == notes_path && req.method.as_str() == "GET" {
            let q = |k: &str| {
                req.url
                    .query_pairs()
                    .find(|(n, _)| n == k)
                    .and_then(|(_, v)| v.parse::<usize>().ok())
            };
            let (page, per_page) = (q("page").unwrap_or(1), q("per_page").unwrap_or(20).min(100));
            let total = s.notes.len();
            let pages = total.div_ceil(per_page).max(1);
            let slice: Vec<Value> = s
                .notes
                .iter()
                .skip((page - 1) * per_page)
                .take(per_page)
                .cloned()
                .collect();
            let next = if page < pages {
                (page + 1).to_string()
            } else {
                String::new()
            };
            return ResponseTemplate::new(200)
                .insert_header("x-next-page", next.as_str())
                .insert_header("x-page", page.to_string().as_str())
                .insert_header("x-total-pages", pages.to_string().as_str())
                .set_body_json(Value::Array(slice));
        }
        if !writer {
            return ResponseTemplate::new(403).set_body_json(json!({"message": "403 Forbidden"}));
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let Some(text) = body["body"].as_str().map(String::from) else {
            return ResponseTemplate::new(400)
                .set_body_json(json!({"message": "400 Bad request - body is missing"}));
        };
        if p == notes_path && req.method.as_str() == "POST" {
            s.next_id += 1;
            let id = s.next_id;
            let note = json!({"id": id, "body": text, "author": {"id": BOT}, "system": false});
            s.notes.push(note.clone());
            s.writes.push(format!("POST {id}"));
            return ResponseTemplate::new(201).set_body_json(note);
        }
        if let Some(id) = p
            .strip_prefix(&format!("{notes_path}/"))
            .and_then(|i| i.parse::<u64>().ok())
        {
            if req.method.as_str() == "PUT" {
                s.writes.push(format!("PUT {id}"));
                let Some(note) = s.notes.iter_mut().find(|n| n["id"] == id) else {
                    return ResponseTemplate::new(404)
                        .set_body_json(json!({"message": "404 Not found"}));
                };
                if note["author"]["id"] != BOT {
                    return ResponseTemplate::new(403)
                        .set_body_json(json!({"message": "403 Forbidden"}));
                }
                note["body"] = Value::String(text);
                return ResponseTemplate::new(200).set_body_json(note.clone());
            }
        }
        ResponseTemplate::new(404).set_body_json(json!({"message": "404 Not Found"}))
    }
}

async fn start(fake: &FakeGitLab) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(fake.clone())
        .mount(&server)
        .await;
    server
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

#[tokio::test]
async fn create_then_edit_then_leave_unchanged() {
    let fake = FakeGitLab::new("123");
    let server = start(&fake).await;
    // Someone quoting our marker in their own note: never touched.
    let quoted = fake.seed(99, &format!("look at this: {MARKER}"));
    let gl = client(&server, "123", Some(TOKEN));

    let first = gl.upsert(MARKER, &plan("1 to add")).await.unwrap();
    let NoteOutcome::Created { id } = first else {
        panic!("{first:?}")
    };
    let second = gl.upsert(MARKER, &plan("2 to add")).await.unwrap();
    assert_eq!(second, NoteOutcome::Updated { id });
    let third = gl.upsert(MARKER, &plan("2 to add")).await.unwrap();
    assert_eq!(third, NoteOutcome::Unchanged { id });

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
    let fake = FakeGitLab::new("123");
    let server = start(&fake).await;
    let gl = client(&server, "123", Some(TOKEN));
    let other = "<!-- kestra-sync:plan target=dev@kestra.example.com -->";
    let a = gl.upsert(MARKER, &plan("1 to add")).await.unwrap();
    let b = gl.upsert(other, "dev plan").await.unwrap();
    assert!(matches!(a, NoteOutcome::Created { .. }) && matches!(b, NoteOutcome::Created { .. }));
    assert_ne!(a, b);
    let ours = fake.notes_of(BOT);
    assert_eq!(ours.len(), 2);
    // The marker is added when the caller's body lacks it.
    assert_eq!(ours[1]["body"], format!("{other}\ndev plan"));
}

#[tokio::test]
async fn our_note_is_found_beyond_the_first_pages() {
    let fake = FakeGitLab::new("123");
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
    assert_eq!(outcome, NoteOutcome::Updated { id: ours });
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
    let fake = FakeGitLab::new("acme%2Fdata%2Fflows");
    let server = start(&fake).await;
    let gl = client(&server, "acme/data/flows", Some(TOKEN));
    let outcome = gl.upsert(MARKER, &plan("1 to add")).await.unwrap();
    assert!(
        matches!(outcome, NoteOutcome::Created { .. }),
        "{outcome:?}"
    );
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
    let fake = FakeGitLab::new("123");
    let server = start(&fake).await;
    let gl = client(&server, "123", Some(READ_ONLY_TOKEN));
    let outcome = gl.upsert(MARKER, &plan("1 to add")).await.unwrap();
    let NoteOutcome::Skipped { reason } = &outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        reason.starts_with("the token cannot post notes (GitLab answered 403 to POST "),
        "{reason}"
    );
    assert!(reason.ends_with(": CI_JOB_TOKEN can only read notes; create a project access token with `api` scope, store it as a masked (not protected) variable GITLAB_TOKEN"), "{reason}");
    assert!(!reason.contains(READ_ONLY_TOKEN));
    assert!(fake.notes_of(BOT).is_empty());
    assert!(outcome.to_string().starts_with("plan not posted: "));
}

#[tokio::test]
async fn invalid_token_is_skipped_at_the_first_request() {
    let fake = FakeGitLab::new("123");
    let server = start(&fake).await;
    let gl = client(&server, "123", Some("glpat-expired"));
    let outcome = gl.upsert(MARKER, &plan("x")).await.unwrap();
    let NoteOutcome::Skipped { reason } = &outcome else {
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
    let fake = FakeGitLab::new("123");
    let server = start(&fake).await;
    for token in [None, Some(""), Some("  ")] {
        let outcome = client(&server, "123", token)
            .upsert(MARKER, &plan("x"))
            .await
            .unwrap();
        let NoteOutcome::Skipped { reason } = &outcome else {
            panic!("{outcome:?}")
        };
        assert!(reason.starts_with("no GitLab token (GITLAB_TOKEN is empty): CI_JOB_TOKEN can only read notes; create a project access token with `api` scope"), "{reason}");
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
    assert_eq!(outcome, NoteOutcome::Unchanged { id: 501 });
}
