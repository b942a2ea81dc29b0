//! A fake GitLab for the tests: the merge request notes API (and the merge request itself, its `web_url` and labels:
//! `GET`/`PUT /projects/:id/merge_requests/:iid`) over real HTTP (wiremock), as
//! GitLab documents it: a stateful notes store behind `/api/v4/projects/:id/merge_requests/
//! :iid/notes` (`:id` exactly as GitLab expects it in the path: a number or the URL-encoded
//! `group%2Fproject`), `GET /user`, `PRIVATE-TOKEN` auth (401 for an unknown token, 403 on
//! writes with a read-only one), offset pagination (`X-Next-Page`, empty on the last page),
//! and injectable faults (a `503` on the next `GET`, a `502` on the next `POST` with or
//! without the note being stored: a gateway that lost the answer).

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// A project access token with `api` scope.
pub const TOKEN: &str = "glpat-S3cr3tT0ken";
/// A token that may read but not write notes.
pub const READ_ONLY_TOKEN: &str = "glpat-ReadOnly";
/// The project's web address, as the merge request's `web_url` gives it.
pub const WEB_URL: &str = "https://gitlab.example.com/acme/flows";
/// The user behind both tokens (a project bot).
pub const BOT: u64 = 7;

/// A fault to inject on the next matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The next `GET` of the notes answers 503 Service Unavailable.
    GetUnavailable,
    /// The next `POST` answers 502 Bad Gateway; `stored`: GitLab created the note anyway.
    PostBadGateway { stored: bool },
}

#[derive(Default)]
pub struct State {
    pub notes: Vec<Value>,
    pub next_id: u64,
    /// `POST <id>` / `PUT <id>`, in order.
    pub writes: Vec<String>,
    pub fault: Option<Fault>,
    /// Commit sha → IIDs of merge requests GitLab associates with it, `merged` or not
    /// (`GET /projects/:id/repository/commits/:sha/merge_requests`).
    pub commit_mrs: Vec<(String, u64, bool)>,
    /// The merge request's labels (`GET`/`PUT /projects/:id/merge_requests/:iid`).
    pub labels: Vec<String>,
    /// The bodies of the `PUT`s to the merge request, in order.
    pub mr_puts: Vec<Value>,
    /// The merge request's `state` (`opened` when unset; `closed`, `merged`, `locked`).
    pub mr_state: Option<String>,
}

/// GitLab's notes API for one project (as it appears in the path) and one merge request.
#[derive(Clone)]
pub struct FakeGitLab {
    pub project: String,
    pub iid: u64,
    pub state: Arc<Mutex<State>>,
}

impl FakeGitLab {
    pub fn new(project: &str, iid: u64) -> FakeGitLab {
        let state = State {
            next_id: 1000,
            ..State::default()
        };
        FakeGitLab {
            project: project.to_string(),
            iid,
            state: Arc::new(Mutex::new(state)),
        }
    }

    /// Serve this fake on a new server; `CI_API_V4_URL` is `{uri}/api/v4`.
    pub async fn start(&self) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(self.clone())
            .mount(&server)
            .await;
        server
    }

    pub fn seed(&self, author: u64, body: &str) -> u64 {
        let mut s = self.state.lock().unwrap();
        s.next_id += 1;
        let id = s.next_id;
        s.notes.push(json!({"id": id, "body": body, "author": {"id": author, "username": format!("u{author}")}, "system": false}));
        id
    }

    pub fn notes_of(&self, author: u64) -> Vec<Value> {
        let s = self.state.lock().unwrap();
        s.notes
            .iter()
            .filter(|n| n["author"]["id"] == author)
            .cloned()
            .collect()
    }

    pub fn writes(&self) -> Vec<String> {
        self.state.lock().unwrap().writes.clone()
    }

    pub fn inject(&self, fault: Fault) {
        self.state.lock().unwrap().fault = Some(fault);
    }

    /// Merge request `iid` merged as commit `sha` (`merged: false`: open, containing it).
    pub fn add_commit_mr(&self, sha: &str, iid: u64, merged: bool) {
        self.state
            .lock()
            .unwrap()
            .commit_mrs
            .push((sha.to_string(), iid, merged));
    }

    fn notes_path(&self) -> String {
        format!(
            "/api/v4/projects/{}/merge_requests/{}/notes",
            self.project, self.iid
        )
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
        // The raw path: a project path must arrive encoded (`acme%2Fflows`).
        let p = req.url.path();
        let notes_path = self.notes_path();
        let mut s = self.state.lock().unwrap();
        if p == "/api/v4/user" && req.method.as_str() == "GET" {
            return ResponseTemplate::new(200)
                .set_body_json(json!({"id": BOT, "username": "project_1_bot"}));
        }
        if p == notes_path && req.method.as_str() == "GET" {
            if s.fault == Some(Fault::GetUnavailable) {
                s.fault = None;
                return ResponseTemplate::new(503)
                    .set_body_json(json!({"message": "503 Service Unavailable"}));
            }
            let q = |k: &str| {
                req.url
                    .query_pairs()
                    .find(|(n, _)| n == k)
                    .and_then(|(_, v)| v.parse::<usize>().ok())
            };
            let page = q("page").unwrap_or(1).max(1);
            let per_page = q("per_page").unwrap_or(20).clamp(1, 100);
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
        let commits = format!("/api/v4/projects/{}/repository/commits/", self.project);
        if let Some(sha) = p
            .strip_prefix(&commits)
            .and_then(|r| r.strip_suffix("/merge_requests"))
        {
            if req.method.as_str() == "GET" {
                // the fields GitLab documents for this list (a subset)
                let mrs: Vec<Value> = s
                    .commit_mrs
                    .iter()
                    .filter(|(c, _, _)| c == sha)
                    .map(|(c, iid, merged)| {
                        json!({
                            "id": 90000 + iid,
                            "iid": iid,
                            "project_id": 1,
                            "state": if *merged { "merged" } else { "opened" },
                            "target_branch": "main",
                            "source_branch": "change",
                            "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
                            "merge_commit_sha": if *merged { Value::String(c.clone()) } else { Value::Null },
                            "squash_commit_sha": Value::Null,
                        })
                    })
                    .collect();
                return ResponseTemplate::new(200).set_body_json(Value::Array(mrs));
            }
        }
        // The merge request itself: its labels, read and changed with `add_labels` /
        // `remove_labels` (comma-separated; GitLab creates a label the project lacks).
        let mr_path = format!(
            "/api/v4/projects/{}/merge_requests/{}",
            self.project, self.iid
        );
        let mr = |s: &State| {
            json!({"id": 90000 + self.iid, "iid": self.iid, "project_id": 1,
                "state": s.mr_state.as_deref().unwrap_or("opened"),
                "title": "change", "labels": s.labels, "target_branch": "main", "source_branch": "change",
                "web_url": format!("{WEB_URL}/-/merge_requests/{}", self.iid)})
        };
        if p == mr_path && req.method.as_str() == "GET" {
            return ResponseTemplate::new(200).set_body_json(mr(&s));
        }
        // another merge request of the project: GitLab has none
        let other_mr = format!("/api/v4/projects/{}/merge_requests/", self.project);
        if req.method.as_str() == "GET"
            && p.strip_prefix(&other_mr)
                .is_some_and(|iid| iid.parse::<u64>().is_ok())
        {
            return ResponseTemplate::new(404).set_body_json(json!({"message": "404 Not found"}));
        }
        if p == mr_path && req.method.as_str() == "PUT" {
            if !writer {
                return ResponseTemplate::new(403)
                    .set_body_json(json!({"message": "403 Forbidden"}));
            }
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            s.mr_puts.push(body.clone());
            let names = |k: &str| -> Vec<String> {
                body[k]
                    .as_str()
                    .unwrap_or("")
                    .split(',')
                    .map(|n| n.trim().to_string())
                    .filter(|n| !n.is_empty())
                    .collect()
            };
            for gone in names("remove_labels") {
                s.labels.retain(|l| *l != gone);
            }
            for new in names("add_labels") {
                if !s.labels.contains(&new) {
                    s.labels.push(new);
                }
            }
            return ResponseTemplate::new(200).set_body_json(mr(&s));
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
            let fault = s.fault.take();
            s.writes.push("POST".into());
            if let Some(Fault::PostBadGateway { stored: false }) = fault {
                return ResponseTemplate::new(502).set_body_string("Bad Gateway");
            }
            s.next_id += 1;
            let id = s.next_id;
            let note = json!({"id": id, "body": text, "author": {"id": BOT}, "system": false});
            s.notes.push(note.clone());
            if let Some(w) = s.writes.last_mut() {
                *w = format!("POST {id}");
            }
            if let Some(Fault::PostBadGateway { stored: true }) = fault {
                return ResponseTemplate::new(502).set_body_string("Bad Gateway");
            }
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
