//! A fake GitHub for the tests: the issue-comment, issue-label, `/user`, tarball and pull-request (`GET …/pulls/{n}`) operations, stateful
//! (comments persist across runs of the code under test), served by wiremock over real HTTP.
//! It behaves as GitHub documents: comment objects built from the OpenAPI examples, 100 per
//! page at most with `Link` headers in GitHub's `/repositories/{id}/…` form, `GET /user`
//! refused to integration tokens, 403 "Resource not accessible by integration" on writes
//! with a read-only token, and tarballs behind a 302 to a separate "codeload" host.
//! [`FakeGithub::check`] validates every request it received, and every answer it gave,
//! against GitHub's official OpenAPI description ([`openapi`]).

#![allow(dead_code)]

pub mod openapi;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Who a token belongs to.
#[derive(Debug, Clone)]
pub enum Identity {
    /// The workflow's `GITHUB_TOKEN`: `github-actions[bot]`; `write` = `pull-requests: write`.
    Bot { login: String, write: bool },
    /// A personal access token.
    User { login: String },
}

#[derive(Debug, Clone)]
pub struct StoredComment {
    pub id: u64,
    pub repo: String,
    pub issue: u64,
    pub body: String,
    pub login: String,
    pub kind: String,
}

/// A deployment and its statuses (the request bodies, oldest first).
#[derive(Debug, Clone)]
pub struct StoredDeployment {
    pub id: u64,
    pub repo: String,
    /// The `POST …/deployments` body.
    pub request: Value,
    pub statuses: Vec<Value>,
}

impl StoredDeployment {
    pub fn environment(&self) -> &str {
        self.request["environment"].as_str().unwrap_or("production")
    }

    /// The latest status's state, `None` before any.
    pub fn state(&self) -> Option<&str> {
        self.statuses.last().and_then(|s| s["state"].as_str())
    }
}

#[derive(Default)]
pub struct State {
    pub comments: Vec<StoredComment>,
    pub tokens: HashMap<String, Identity>,
    /// `owner/repo` + pull number → `open` or `closed`.
    pub pulls: HashMap<(String, u64), String>,
    /// `owner/repo` + ref → gzip tarball.
    pub tarballs: HashMap<(String, String), Vec<u8>>,
    /// `owner/repo` + commit sha → `(number, merged)` of the pull requests GitHub associates
    /// with the commit; a merged one has the commit as its merge commit.
    pub commit_pulls: HashMap<(String, String), Vec<(u64, bool)>>,
    /// `owner/repo` + issue number → the names of its labels.
    pub labels: HashMap<(String, u64), Vec<String>>,
    /// Deployments, oldest first.
    pub deployments: Vec<StoredDeployment>,
    /// Every token is refused the deployment operations (a job without
    /// `deployments: write`): 403 "Resource not accessible by integration".
    pub deployments_forbidden: bool,
    /// Answers given: operation id, status, JSON body.
    pub served: Vec<(String, u16, Value)>,
    repo_ids: Vec<String>,
    next_id: u64,
    base: String,
    codeload: String,
    prefix: String,
}

pub struct FakeGithub {
    pub api: MockServer,
    pub codeload: MockServer,
    pub state: Arc<Mutex<State>>,
    /// `""` for github.com, `"/api/v3"` for Enterprise Server.
    pub prefix: String,
    spec: openapi::Spec,
}

pub const BOT_TOKEN: &str = "ghs_writeTokenOfTheWorkflow0001";
pub const READ_ONLY_TOKEN: &str = "ghs_readOnlyForkToken000000002";
pub const USER_TOKEN: &str = "ghp_personalTokenOfAlice0000003";

impl FakeGithub {
    pub async fn start(prefix: &str) -> FakeGithub {
        let api = MockServer::start().await;
        let codeload = MockServer::start().await;
        let mut tokens = HashMap::new();
        tokens.insert(
            BOT_TOKEN.to_string(),
            Identity::Bot {
                login: "github-actions[bot]".into(),
                write: true,
            },
        );
        tokens.insert(
            READ_ONLY_TOKEN.to_string(),
            Identity::Bot {
                login: "github-actions[bot]".into(),
                write: false,
            },
        );
        tokens.insert(
            USER_TOKEN.to_string(),
            Identity::User {
                login: "alice".into(),
            },
        );
        let state = Arc::new(Mutex::new(State {
            tokens,
            next_id: 1_000_000_001,
            base: api.uri(),
            codeload: codeload.uri(),
            prefix: prefix.to_string(),
            ..State::default()
        }));
        let spec = openapi::Spec::load();
        Mock::given(any())
            .respond_with(Api {
                state: state.clone(),
                spec: openapi::Spec::load(),
            })
            .mount(&api)
            .await;
        Mock::given(any())
            .respond_with(Codeload {
                state: state.clone(),
            })
            .mount(&codeload)
            .await;
        FakeGithub {
            api,
            codeload,
            state,
            prefix: prefix.to_string(),
            spec,
        }
    }

    /// What to give as `GITHUB_API_URL`.
    pub fn api_url(&self) -> String {
        format!("{}{}", self.api.uri(), self.prefix)
    }

    /// A pull request of `repo` in `state` (`open` or `closed`).
    pub fn set_pull(&self, repo: &str, number: u64, state: &str) {
        self.state
            .lock()
            .unwrap()
            .pulls
            .insert((repo.to_string(), number), state.to_string());
    }

    /// Add a comment as if someone had written it.
    pub fn seed_comment(&self, repo: &str, issue: u64, body: &str, login: &str, kind: &str) -> u64 {
        let mut s = self.state.lock().unwrap();
        let id = s.next_id;
        s.next_id += 1;
        s.comments.push(StoredComment {
            id,
            repo: repo.into(),
            issue,
            body: body.into(),
            login: login.into(),
            kind: kind.into(),
        });
        id
    }

    pub fn comments(&self, repo: &str, issue: u64) -> Vec<StoredComment> {
        let s = self.state.lock().unwrap();
        s.comments
            .iter()
            .filter(|c| c.repo == repo && c.issue == issue)
            .cloned()
            .collect()
    }

    /// Give issue (pull request) `issue` of `repo` these labels.
    pub fn set_labels(&self, repo: &str, issue: u64, names: &[&str]) {
        self.state.lock().unwrap().labels.insert(
            (repo.to_string(), issue),
            names.iter().map(|n| n.to_string()).collect(),
        );
    }

    /// The labels of issue (pull request) `issue` of `repo`, in the order they were added.
    pub fn labels(&self, repo: &str, issue: u64) -> Vec<String> {
        let s = self.state.lock().unwrap();
        s.labels
            .get(&(repo.to_string(), issue))
            .cloned()
            .unwrap_or_default()
    }

    pub fn add_tarball(&self, repo: &str, git_ref: &str, gz: Vec<u8>) {
        self.state
            .lock()
            .unwrap()
            .tarballs
            .insert((repo.into(), git_ref.into()), gz);
    }

    /// Pull request `number` of `repo` merged as commit `sha` (or, `merged: false`, an open
    /// one that contains it).
    pub fn add_pull(&self, repo: &str, sha: &str, number: u64, merged: bool) {
        self.state
            .lock()
            .unwrap()
            .commit_pulls
            .entry((repo.to_string(), sha.to_string()))
            .or_default()
            .push((number, merged));
    }

    /// The deployments of `repo`, oldest first.
    pub fn deployments(&self, repo: &str) -> Vec<StoredDeployment> {
        let s = self.state.lock().unwrap();
        s.deployments
            .iter()
            .filter(|d| d.repo == repo)
            .cloned()
            .collect()
    }

    /// Requests to the API host (not codeload), in order.
    pub async fn api_requests(&self) -> Vec<Request> {
        self.api.received_requests().await.unwrap_or_default()
    }

    /// `(METHOD, path?query)` of every API request.
    pub async fn calls(&self) -> Vec<(String, String)> {
        self.api_requests()
            .await
            .iter()
            .map(|r| {
                let q = r.url.query().map(|q| format!("?{q}")).unwrap_or_default();
                (r.method.to_string(), format!("{}{q}", r.url.path()))
            })
            .collect()
    }

    /// Validate every request received and every documented answer given against GitHub's
    /// OpenAPI description; panics with the list of violations. Returns the operation ids.
    pub async fn check(&self) -> Vec<String> {
        let mut ids = Vec::new();
        let mut errors = Vec::new();
        for r in self.api_requests().await {
            let method = r.method.to_string();
            let ct = r.headers.get("content-type").and_then(|v| v.to_str().ok());
            let seen = openapi::Seen {
                method: &method,
                url: &r.url,
                body: &r.body,
                content_type: ct,
            };
            match self.spec.check_request(&seen, &self.prefix) {
                Ok(id) => ids.push(id),
                Err(e) => errors.push(e),
            }
            if r.headers.get("x-github-api-version").is_none() {
                errors.push(format!(
                    "{method} {} without X-GitHub-Api-Version",
                    r.url.path()
                ));
            }
        }
        let served = self.state.lock().unwrap().served.clone();
        for (op, status, body) in served {
            if (200..300).contains(&status) {
                if let Err(e) = self.spec.check_response(&op, status, &body) {
                    errors.push(format!("fake answer: {e}"));
                }
            }
        }
        assert!(
            errors.is_empty(),
            "requests or answers not as GitHub documents them:\n{}",
            errors.join("\n")
        );
        ids
    }
}

struct Api {
    state: Arc<Mutex<State>>,
    spec: openapi::Spec,
}

fn error(status: u16, message: &str) -> (u16, Value) {
    (
        status,
        json!({"message": message, "documentation_url": "https://docs.github.com/rest", "status": status.to_string()}),
    )
}

impl Respond for Api {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut s = self.state.lock().unwrap();
        let token = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("token "))
            })
            .map(str::to_string);
        let who = token.and_then(|t| s.tokens.get(&t).cloned());
        let Some(path) = req
            .url
            .path()
            .strip_prefix(s.prefix.as_str())
            .map(str::to_string)
        else {
            let (st, b) = error(404, "Not Found");
            return ResponseTemplate::new(st).set_body_json(b);
        };
        let segs: Vec<String> = path
            .trim_start_matches('/')
            .split('/')
            .map(str::to_string)
            .collect();
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        // `/repositories/{id}/…` is GitHub's pagination form of `/repos/{owner}/{repo}/…`.
        let (repo, rest): (Option<String>, Vec<&str>) = match segs.as_slice() {
            ["repos", o, r, rest @ ..] => (Some(format!("{o}/{r}")), rest.to_vec()),
            ["repositories", id, rest @ ..] => (
                id.parse::<usize>()
                    .ok()
                    .and_then(|i| s.repo_ids.get(i.wrapping_sub(1)).cloned()),
                rest.to_vec(),
            ),
            _ => (None, Vec::new()),
        };
        let method = req.method.as_str().to_string();
        let Some(who) = who else {
            let (st, b) = error(401, "Bad credentials");
            return ResponseTemplate::new(st).set_body_json(b);
        };
        let (op, status, body, headers): (&str, u16, Value, Vec<(String, String)>) = match (
            method.as_str(),
            segs.as_slice(),
            repo,
            rest.as_slice(),
        ) {
            ("GET", ["user"], _, _) => match &who {
                Identity::User { login } => {
                    let mut u = self.spec.example("users/get-authenticated", 200);
                    u["login"] = json!(login);
                    u["type"] = json!("User");
                    ("users/get-authenticated", 200, u, vec![])
                }
                Identity::Bot { .. } => {
                    let (st, b) = error(403, "Resource not accessible by integration");
                    ("users/get-authenticated", st, b, vec![])
                }
            },
            ("GET", _, Some(repo), ["issues", n, "comments"]) => {
                let n: u64 = n.parse().unwrap_or(0);
                let per_page: usize = query(req, "per_page")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(30)
                    .min(100);
                let page: usize = query(req, "page")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1)
                    .max(1);
                let all: Vec<StoredComment> = s
                    .comments
                    .iter()
                    .filter(|c| c.repo == repo && c.issue == n)
                    .cloned()
                    .collect();
                let items: Vec<Value> = all
                    .iter()
                    .skip((page - 1) * per_page)
                    .take(per_page)
                    .map(|c| self.comment_json(&s, c))
                    .collect();
                let last = all.len().div_ceil(per_page).max(1);
                let id = repo_id(&mut s, &repo);
                let link = |p: usize, rel: &str| {
                    format!("<{}{}/repositories/{id}/issues/{n}/comments?per_page={per_page}&page={p}>; rel=\"{rel}\"", s.base, s.prefix)
                };
                let mut links = Vec::new();
                if page > 1 {
                    links.push(link(page - 1, "prev"));
                }
                if page < last {
                    links.push(link(page + 1, "next"));
                    links.push(link(last, "last"));
                }
                if page > 1 {
                    links.push(link(1, "first"));
                }
                let headers = if links.is_empty() {
                    vec![]
                } else {
                    vec![("link".to_string(), links.join(", "))]
                };
                ("issues/list-comments", 200, Value::Array(items), headers)
            }
            ("POST", _, Some(repo), ["issues", n, "comments"]) => {
                match (&who, req.body_json::<Value>().ok()) {
                    (Identity::Bot { write: false, .. }, _) => {
                        let (st, b) = error(403, "Resource not accessible by integration");
                        ("issues/create-comment", st, b, vec![])
                    }
                    (_, Some(b)) if b["body"].is_string() => {
                        let (login, kind) = identity_user(&who);
                        let id = s.next_id;
                        s.next_id += 1;
                        let c = StoredComment {
                            id,
                            repo,
                            issue: n.parse().unwrap_or(0),
                            body: b["body"].as_str().unwrap_or("").into(),
                            login,
                            kind,
                        };
                        s.comments.push(c.clone());
                        (
                            "issues/create-comment",
                            201,
                            self.comment_json(&s, &c),
                            vec![],
                        )
                    }
                    _ => {
                        let (st, b) = error(422, "Invalid request.\n\n\"body\" wasn't supplied.");
                        ("issues/create-comment", st, b, vec![])
                    }
                }
            }
            ("PATCH", _, Some(repo), ["issues", "comments", id]) => {
                let id: u64 = id.parse().unwrap_or(0);
                let body = req
                    .body_json::<Value>()
                    .ok()
                    .and_then(|b| b["body"].as_str().map(str::to_string));
                let idx = s.comments.iter().position(|c| c.id == id && c.repo == repo);
                match (&who, idx, body) {
                    (Identity::Bot { write: false, .. }, _, _) => {
                        let (st, b) = error(403, "Resource not accessible by integration");
                        ("issues/update-comment", st, b, vec![])
                    }
                    (_, None, _) => {
                        let (st, b) = error(404, "Not Found");
                        ("issues/update-comment", st, b, vec![])
                    }
                    (_, Some(i), Some(text)) => {
                        s.comments[i].body = text;
                        let c = s.comments[i].clone();
                        (
                            "issues/update-comment",
                            200,
                            self.comment_json(&s, &c),
                            vec![],
                        )
                    }
                    (_, Some(_), None) => {
                        let (st, b) = error(422, "Invalid request.");
                        ("issues/update-comment", st, b, vec![])
                    }
                }
            }
            // Labels: GitHub creates a label the repository lacks when it is added.
            ("GET", _, Some(repo), ["issues", n, "labels"]) => {
                let names = s
                    .labels
                    .get(&(repo.clone(), n.parse().unwrap_or(0)))
                    .cloned()
                    .unwrap_or_default();
                let op = "issues/list-labels-on-issue";
                (op, 200, self.labels_json(&s, &repo, &names), vec![])
            }
            ("POST", _, Some(repo), ["issues", n, "labels"]) => {
                let op = "issues/add-labels";
                let wanted: Option<Vec<String>> = req.body_json::<Value>().ok().and_then(|b| {
                    b["labels"].as_array().map(|a| {
                        a.iter()
                            .filter_map(|l| l.as_str().map(str::to_string))
                            .collect()
                    })
                });
                match (&who, wanted) {
                    (Identity::Bot { write: false, .. }, _) => {
                        let (st, b) = error(403, "Resource not accessible by integration");
                        (op, st, b, vec![])
                    }
                    (_, Some(wanted)) if !wanted.is_empty() => {
                        let key = (repo.clone(), n.parse().unwrap_or(0));
                        let names = s.labels.entry(key).or_default();
                        for w in wanted {
                            if !names.iter().any(|n| n.eq_ignore_ascii_case(&w)) {
                                names.push(w);
                            }
                        }
                        let names = names.clone();
                        (op, 200, self.labels_json(&s, &repo, &names), vec![])
                    }
                    _ => {
                        let (st, b) = error(422, "Invalid request.");
                        (op, st, b, vec![])
                    }
                }
            }
            ("DELETE", _, Some(repo), ["issues", n, "labels", name]) => {
                let op = "issues/remove-label";
                let name = percent_encoding::percent_decode_str(name)
                    .decode_utf8_lossy()
                    .into_owned();
                let key = (repo.clone(), n.parse().unwrap_or(0));
                let names = s.labels.get(&key).cloned().unwrap_or_default();
                let at = names.iter().position(|l| l.eq_ignore_ascii_case(&name));
                match (&who, at) {
                    (Identity::Bot { write: false, .. }, _) => {
                        let (st, b) = error(403, "Resource not accessible by integration");
                        (op, st, b, vec![])
                    }
                    (_, None) => {
                        let (st, b) = error(404, "Label does not exist");
                        (op, st, b, vec![])
                    }
                    (_, Some(i)) => {
                        let mut names = names;
                        names.remove(i);
                        s.labels.insert(key, names.clone());
                        (op, 200, self.labels_json(&s, &repo, &names), vec![])
                    }
                }
            }
            // Deployments, as GitHub documents them: a deployment without
            // `required_contexts: []` waits for the commit's checks (409 while they run); a
            // `success` status with `auto_inactive` makes the environment's older deployments
            // inactive; the list is newest first, filtered by `environment`.
            ("POST", _, Some(repo), ["deployments"]) => {
                let op = "repos/create-deployment";
                let body = req.body_json::<Value>().ok();
                match (&who, body) {
                    _ if s.deployments_forbidden => {
                        let (st, b) = error(403, "Resource not accessible by integration");
                        (op, st, b, vec![])
                    }
                    (Identity::Bot { write: false, .. }, _) => {
                        let (st, b) = error(403, "Resource not accessible by integration");
                        (op, st, b, vec![])
                    }
                    (_, Some(b)) if b["ref"].is_string() => {
                        if b["required_contexts"] != json!([]) {
                            let (st, b) = error(
                                409,
                                "Conflict: Commit status checks failed for the ref: a check is still pending.",
                            );
                            (op, st, b, vec![])
                        } else {
                            let id = s.next_id;
                            s.next_id += 1;
                            let d = StoredDeployment {
                                id,
                                repo: repo.clone(),
                                request: b,
                                statuses: Vec::new(),
                            };
                            s.deployments.push(d.clone());
                            (op, 201, self.deployment_json(&s, &d), vec![])
                        }
                    }
                    _ => {
                        let (st, b) = error(422, "Invalid request.\n\n\"ref\" wasn't supplied.");
                        (op, st, b, vec![])
                    }
                }
            }
            ("GET", _, Some(repo), ["deployments"]) => {
                let op = "repos/list-deployments";
                if s.deployments_forbidden {
                    let (st, b) = error(403, "Resource not accessible by integration");
                    (op, st, b, vec![])
                } else {
                    let env = query(req, "environment");
                    let per_page: usize = query(req, "per_page")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(30)
                        .min(100);
                    let page: usize = query(req, "page")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(1)
                        .max(1);
                    let all: Vec<StoredDeployment> = s
                        .deployments
                        .iter()
                        .rev()
                        .filter(|d| d.repo == repo)
                        .filter(|d| env.as_deref().is_none_or(|e| d.environment() == e))
                        .cloned()
                        .collect();
                    let items: Vec<Value> = all
                        .iter()
                        .skip((page - 1) * per_page)
                        .take(per_page)
                        .map(|d| self.deployment_json(&s, d))
                        .collect();
                    let mut headers = vec![];
                    if page * per_page < all.len() {
                        let id = repo_id(&mut s, &repo);
                        let mut next = url::Url::parse(&format!(
                            "{}{}/repositories/{id}/deployments",
                            s.base, s.prefix
                        ))
                        .unwrap();
                        if let Some(e) = &env {
                            next.query_pairs_mut().append_pair("environment", e);
                        }
                        next.query_pairs_mut()
                            .append_pair("per_page", &per_page.to_string())
                            .append_pair("page", &(page + 1).to_string());
                        headers.push(("link".to_string(), format!("<{next}>; rel=\"next\"")));
                    }
                    (op, 200, Value::Array(items), headers)
                }
            }
            ("POST", _, Some(repo), ["deployments", id, "statuses"]) => {
                let op = "repos/create-deployment-status";
                let id: u64 = id.parse().unwrap_or(0);
                let at = s
                    .deployments
                    .iter()
                    .position(|d| d.id == id && d.repo == repo);
                let body = req.body_json::<Value>().ok();
                match (&who, at, body) {
                    _ if s.deployments_forbidden => {
                        let (st, b) = error(403, "Resource not accessible by integration");
                        (op, st, b, vec![])
                    }
                    (Identity::Bot { write: false, .. }, _, _) => {
                        let (st, b) = error(403, "Resource not accessible by integration");
                        (op, st, b, vec![])
                    }
                    (_, None, _) => {
                        let (st, b) = error(404, "Not Found");
                        (op, st, b, vec![])
                    }
                    (_, Some(i), Some(b)) if b["state"].is_string() => {
                        let env = s.deployments[i].environment().to_string();
                        if b["state"] == "success" && b["auto_inactive"] != json!(false) {
                            for d in s.deployments.iter_mut() {
                                if d.id != id
                                    && d.repo == repo
                                    && d.environment() == env
                                    && d.state() == Some("success")
                                {
                                    d.statuses.push(json!({"state": "inactive"}));
                                }
                            }
                        }
                        s.deployments[i].statuses.push(b.clone());
                        let sid = s.next_id;
                        s.next_id += 1;
                        let api = format!("{}{}", s.base, s.prefix);
                        let mut v = self.spec.example(op, 201);
                        v["id"] = json!(sid);
                        v["state"] = b["state"].clone();
                        v["description"] = b.get("description").cloned().unwrap_or(json!(""));
                        v["environment"] = json!(env);
                        // GitHub answers what was given; an absent log_url is absent (the
                        // required target_url then keeps the example's, a URI as documented)
                        match b.get("log_url").cloned() {
                            Some(u) => {
                                v["target_url"] = u.clone();
                                v["log_url"] = u;
                            }
                            None => {
                                v.as_object_mut().map(|o| o.remove("log_url"));
                            }
                        }
                        match b.get("environment_url") {
                            Some(u) => v["environment_url"] = u.clone(),
                            None => {
                                v.as_object_mut().map(|o| o.remove("environment_url"));
                            }
                        }
                        v["url"] = json!(format!(
                            "{api}/repos/{repo}/deployments/{id}/statuses/{sid}"
                        ));
                        v["deployment_url"] = json!(format!("{api}/repos/{repo}/deployments/{id}"));
                        v["repository_url"] = json!(format!("{api}/repos/{repo}"));
                        (op, 201, v, vec![])
                    }
                    _ => {
                        let (st, b) = error(422, "Invalid request.");
                        (op, st, b, vec![])
                    }
                }
            }
            ("GET", _, Some(repo), ["pulls", n]) => {
                let n: u64 = n.parse().unwrap_or(0);
                match s.pulls.get(&(repo.clone(), n)) {
                    Some(state) => {
                        let mut p = self.spec.example("pulls/get", 200);
                        p["number"] = json!(n);
                        p["state"] = json!(state);
                        // GitHub's own example lacks the `type` its schema requires of a team
                        p["requested_teams"] = json!([]);
                        ("pulls/get", 200, p, vec![])
                    }
                    None => {
                        let (st, b) = error(404, "Not Found");
                        ("pulls/get", st, b, vec![])
                    }
                }
            }
            ("GET", _, Some(repo), ["commits", sha, "pulls"]) => {
                let pulls = s
                    .commit_pulls
                    .get(&(repo.clone(), sha.to_string()))
                    .cloned()
                    .unwrap_or_default();
                let op = "repos/list-pull-requests-associated-with-commit";
                let items: Vec<Value> = pulls
                    .iter()
                    .map(|(number, merged)| {
                        let mut v = self.spec.example(op, 200)[0].clone();
                        v["number"] = json!(number);
                        // GitHub's own example lacks the `type` its schema requires of a team
                        v["requested_teams"] = json!([]);
                        v["url"] = json!(format!(
                            "{}{}/repos/{repo}/pulls/{number}",
                            s.base, s.prefix
                        ));
                        v["html_url"] = json!(format!("{}/{repo}/pull/{number}", s.base));
                        if *merged {
                            v["state"] = json!("closed");
                            v["merged_at"] = json!("2026-12-03T07:00:00Z");
                            v["closed_at"] = json!("2026-12-03T07:00:00Z");
                            v["merge_commit_sha"] = json!(sha);
                        } else {
                            v["state"] = json!("open");
                            v["merged_at"] = Value::Null;
                            v["closed_at"] = Value::Null;
                            v["merge_commit_sha"] =
                                json!("0000000000000000000000000000000000000001");
                        }
                        v
                    })
                    .collect();
                (op, 200, Value::Array(items), vec![])
            }
            ("GET", _, Some(repo), ["tarball", git_ref @ ..]) => {
                let git_ref = git_ref.join("/");
                if s.tarballs.contains_key(&(repo.clone(), git_ref.clone())) {
                    let loc = format!("{}/{repo}/legacy.tar.gz/{git_ref}", s.codeload);
                    let t = ResponseTemplate::new(302).insert_header("location", loc.as_str());
                    return t;
                }
                let (st, b) = error(404, "Not Found");
                ("repos/download-tarball-archive", st, b, vec![])
            }
            _ => {
                let (st, b) = error(404, "Not Found");
                ("unknown", st, b, vec![])
            }
        };
        s.served.push((op.to_string(), status, body.clone()));
        let mut t = ResponseTemplate::new(status).set_body_json(body);
        for (k, v) in headers {
            t = t.insert_header(k.as_str(), v.as_str());
        }
        t
    }
}

impl Api {
    /// A deployment object shaped like GitHub's documented example.
    fn deployment_json(&self, s: &State, d: &StoredDeployment) -> Value {
        let mut v = self.spec.example("repos/create-deployment", 201);
        let api = format!("{}{}", s.base, s.prefix);
        let r = &d.request;
        v["id"] = json!(d.id);
        v["sha"] = r["ref"].clone();
        v["ref"] = r["ref"].clone();
        v["task"] = r.get("task").cloned().unwrap_or(json!("deploy"));
        v["environment"] = json!(d.environment());
        v["original_environment"] = json!(d.environment());
        v["description"] = r.get("description").cloned().unwrap_or(json!(""));
        v["transient_environment"] = r
            .get("transient_environment")
            .cloned()
            .unwrap_or(json!(false));
        v["production_environment"] = r
            .get("production_environment")
            .cloned()
            .unwrap_or(json!(false));
        v["url"] = json!(format!("{api}/repos/{}/deployments/{}", d.repo, d.id));
        v["statuses_url"] = json!(format!(
            "{api}/repos/{}/deployments/{}/statuses",
            d.repo, d.id
        ));
        v["repository_url"] = json!(format!("{api}/repos/{}", d.repo));
        v
    }

    /// A comment object shaped like GitHub's documented example.
    fn comment_json(&self, s: &State, c: &StoredComment) -> Value {
        let mut v = self.spec.example("issues/list-comments", 200)[0].clone();
        let api = format!("{}{}", s.base, s.prefix);
        v["id"] = json!(c.id);
        v["body"] = json!(c.body);
        v["url"] = json!(format!("{api}/repos/{}/issues/comments/{}", c.repo, c.id));
        v["issue_url"] = json!(format!("{api}/repos/{}/issues/{}", c.repo, c.issue));
        v["html_url"] = json!(format!(
            "{}/{}/pull/{}#issuecomment-{}",
            s.base, c.repo, c.issue, c.id
        ));
        v["user"]["login"] = json!(c.login);
        v["user"]["type"] = json!(c.kind);
        v
    }
}

impl Api {
    /// Label objects shaped like GitHub's documented example.
    fn labels_json(&self, s: &State, repo: &str, names: &[String]) -> Value {
        let example = self.spec.example("issues/list-labels-on-issue", 200)[0].clone();
        let items = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let mut v = example.clone();
                v["id"] = json!(208_045_946 + i as u64);
                v["name"] = json!(name);
                v["url"] = json!(format!("{}{}/repos/{repo}/labels/{name}", s.base, s.prefix));
                v["default"] = json!(false);
                v
            })
            .collect();
        Value::Array(items)
    }
}

fn identity_user(who: &Identity) -> (String, String) {
    match who {
        Identity::Bot { login, .. } => (login.clone(), "Bot".into()),
        Identity::User { login } => (login.clone(), "User".into()),
    }
}

fn repo_id(s: &mut State, repo: &str) -> usize {
    if let Some(i) = s.repo_ids.iter().position(|r| r == repo) {
        return i + 1;
    }
    s.repo_ids.push(repo.to_string());
    s.repo_ids.len()
}

fn query(req: &Request, name: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

struct Codeload {
    state: Arc<Mutex<State>>,
}

impl Respond for Codeload {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let s = self.state.lock().unwrap();
        let path = req.url.path().trim_start_matches('/');
        // `{owner}/{repo}/legacy.tar.gz/{ref}`
        let parts: Vec<&str> = path.splitn(4, '/').collect();
        if let [o, r, "legacy.tar.gz", git_ref] = parts.as_slice() {
            if let Some(gz) = s.tarballs.get(&(format!("{o}/{r}"), git_ref.to_string())) {
                return ResponseTemplate::new(200)
                    .insert_header("content-type", "application/x-gzip")
                    .set_body_bytes(gz.clone());
            }
        }
        ResponseTemplate::new(404)
    }
}

/// The binary as the GitHub runner starts a Docker action for a `pull_request` event on
/// `acme/flows` (PR 7): a clean environment with the runner's variables, the event payload at
/// `event`, the `GITHUB_OUTPUT` / `GITHUB_STEP_SUMMARY` files, `GITHUB_API_URL` at `api_url`,
/// and debug logs. Callers add the `INPUT_*` variables.
pub fn pull_request_runner(
    workspace: &std::path::Path,
    event: &std::path::Path,
    output: &std::path::Path,
    summary: &std::path::Path,
    api_url: &str,
) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kestra-sync"));
    cmd.arg("ci")
        .current_dir(workspace)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("KESTRA_SYNC_LOG", "debug")
        .env("GITHUB_ACTIONS", "true")
        .env("CI", "true")
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_EVENT_PATH", event)
        .env("GITHUB_REPOSITORY", "acme/flows")
        .env("GITHUB_SHA", "f".repeat(40))
        .env("GITHUB_REF", "refs/pull/7/merge")
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_API_URL", api_url)
        .env("GITHUB_RUN_ID", "1")
        .env("GITHUB_WORKSPACE", workspace)
        .env("GITHUB_OUTPUT", output)
        .env("GITHUB_STEP_SUMMARY", summary);
    cmd
}
