//! The one sticky merge request note on GitLab: find the note whose body *starts with* our
//! hidden marker (one per target; a marker anywhere else in a note does not count), written
//! by this token's user (`GET /user`), and edit it in place; create it the first
//! time; leave it alone when the body has not changed, so reviewers are not notified of a
//! non-change.
//!
//! GitLab's REST API v4 (`CI_API_V4_URL`, so self-managed instances work): `GET /user` (who
//! the token is), `GET /projects/:id/merge_requests/:iid/notes` (offset pagination followed
//! through `X-Next-Page`), `POST …/notes`, `PUT …/notes/:note_id`, header `PRIVATE-TOKEN`
//! (marked sensitive, so no HTTP-level debug output shows it). `:id` is the numeric project
//! id or the URL-encoded path (`group%2Fproject`).
//!
//! A token that cannot post (the usual case is `CI_JOB_TOKEN`, which can only read notes) or
//! no token at all is not a failure of the pipeline: the result is [`Posted::Skipped`]
//! with a reason the caller prints as a warning.
//!
//! Requests go through the shared [`crate::http::HttpClient`]: transient failures of `GET`
//! and `PUT` (same body again: harmless) are retried; the `POST` that creates the note is
//! replayed only when GitLab surely did not get it (connection refused, 429, 503). When its
//! answer is lost, the notes are read again: if ours is there, it was created; otherwise the
//! error says the next run will find or create it. Never two notes from one run.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

pub use super::{Posted, Upserted};
use crate::http::{Backoff, HttpClient, HttpError, HttpOptions, Idempotency, Reply};

mod api;
mod labels;

use api::{error_message, next_page, NextPage};
pub use api::{
    note_body, note_url, notes_page_url, notes_url, project_segment, user_url, MergeRequest,
};
pub use labels::LABELS_HELP;

/// GitLab's cap on a note body, in characters.
pub const NOTE_LIMIT: usize = 1_000_000;

/// Notes per page (GitLab's maximum).
const PER_PAGE: usize = 100;

/// Pages read at most (10,000 notes) before giving up the search and creating a new note.
const MAX_PAGES: usize = 100;

/// Retries of a transient failure with [`GitLabNotes::new`].
pub const DEFAULT_RETRIES: u32 = 2;

/// What to do when the token is missing or cannot post.
pub const TOKEN_HELP: &str = "CI_JOB_TOKEN can only read notes; create a project access token (Settings > Access tokens) with the `api` scope and store it as a CI/CD variable GITLAB_TOKEN, masked but not protected (merge request pipelines cannot read protected variables)";

/// A GitLab request that failed for a reason other than the token's rights.
#[derive(Debug, thiserror::Error)]
pub enum GitLabError {
    #[error("{name} is not set: {what}")]
    MissingVariable { name: &'static str, what: String },
    #[error("{name} `{value}` is not valid: {what}")]
    InvalidVariable {
        name: &'static str,
        value: String,
        what: String,
    },
    #[error("cannot reach GitLab at {url}: {message}")]
    Transport { url: String, message: String },
    /// The note's `POST` was sent but its answer was lost, and the note is not (yet) listed.
    #[error("GitLab did not answer {url} ({message}); the note may still appear: the next run finds and updates it, or creates it")]
    MaybePosted { url: String, message: String },
    #[error("GitLab answered {status} to {method} {url}: {message}{hint}")]
    Status {
        method: &'static str,
        url: String,
        status: u16,
        message: String,
        hint: &'static str,
    },
    #[error("unexpected answer from GitLab to {method} {url}: {message}")]
    Decode {
        method: &'static str,
        url: String,
        message: String,
    },
}

#[derive(Debug, Deserialize)]
struct User {
    id: u64,
}

#[derive(Debug, Deserialize)]
struct Note {
    id: u64,
    #[serde(default)]
    body: String,
    author: Option<User>,
    #[serde(default)]
    system: bool,
}

#[derive(Debug, Deserialize)]
struct Created {
    id: u64,
}

/// Notes of one merge request, through one token.
#[derive(Debug, Clone)]
pub struct GitLabNotes {
    http: HttpClient,
    mr: MergeRequest,
    token: Option<SecretString>,
}

impl GitLabNotes {
    /// `token`: `GITLAB_TOKEN` (a project access token with `api` scope); `None` or empty
    /// makes [`GitLabNotes::upsert`] skip with a warning. `timeout` bounds each request;
    /// transient failures are retried [`DEFAULT_RETRIES`] times.
    pub fn new(
        mr: MergeRequest,
        token: Option<SecretString>,
        timeout: Duration,
    ) -> Result<GitLabNotes, GitLabError> {
        let options = HttpOptions {
            timeout,
            retries: DEFAULT_RETRIES,
            backoff: Backoff::default(),
        };
        GitLabNotes::with_options(mr, token, &options)
    }

    /// As [`GitLabNotes::new`], with the timeout, retries and backoff of `options`.
    pub fn with_options(
        mr: MergeRequest,
        token: Option<SecretString>,
        options: &HttpOptions,
    ) -> Result<GitLabNotes, GitLabError> {
        let http = HttpClient::new(options).map_err(|e| GitLabError::Transport {
            url: mr.api_url.clone(),
            message: e.to_string(),
        })?;
        let token = token.filter(|t| !t.expose_secret().trim().is_empty());
        Ok(GitLabNotes { http, mr, token })
    }

    /// Create or edit the one note carrying `marker` so that it reads `body`.
    pub async fn upsert(&self, marker: &str, body: &str) -> Result<Posted, GitLabError> {
        self.upsert_sticky(marker, |_| body.to_string())
            .await
            .map(|u| u.posted)
    }

    /// [`Self::upsert`] with the body made from what our note said before (`None`: there is
    /// none yet); also returns that previous body. No URL: [`Self::web_url`] gives the
    /// merge request's, when it is needed.
    pub async fn upsert_sticky(
        &self,
        marker: &str,
        body: impl FnOnce(Option<&str>) -> String,
    ) -> Result<Upserted, GitLabError> {
        Ok(self
            .write_sticky(marker, true, body)
            .await?
            // `create` makes one: never reached
            .unwrap_or_else(|| skipped("no note was written".into())))
    }

    /// Edit our note carrying `marker` (written by this token's user) so that it reads
    /// `body(what it says now)`; never creates one: `Ok(None)` when there is none. An
    /// unchanged body writes nothing; no token, or one that may not, is a skip.
    pub async fn edit_sticky(
        &self,
        marker: &str,
        body: impl FnOnce(&str) -> String,
    ) -> Result<Option<Upserted>, GitLabError> {
        self.write_sticky(marker, false, |previous| body(previous.unwrap_or_default()))
            .await
    }

    /// This project's merge request `iid`, through the same client and token.
    pub fn for_merge_request(&self, iid: u64) -> GitLabNotes {
        let mut other = self.clone();
        other.mr.iid = iid;
        other
    }

    /// Find our note and write `body` into it; without one, create it when `create`, else
    /// write nothing and answer `None` (`body` is not called).
    async fn write_sticky(
        &self,
        marker: &str,
        create: bool,
        body: impl FnOnce(Option<&str>) -> String,
    ) -> Result<Option<Upserted>, GitLabError> {
        let Some(token) = &self.token else {
            return Ok(Some(skipped(format!(
                "no GitLab token (GITLAB_TOKEN is empty): {TOKEN_HELP}"
            ))));
        };
        let headers = auth_headers(token)?;

        let me: User = match self
            .send_json(Method::GET, &user_url(&self.mr.api_url), &headers, None)
            .await?
        {
            Answer::Ok(user) => user,
            Answer::Forbidden(reason) => return Ok(Some(skipped(reason))),
        };
        let existing = match self.find(marker, me.id, &headers).await? {
            Answer::Ok(note) => note,
            Answer::Forbidden(reason) => return Ok(Some(skipped(reason))),
        };
        if existing.is_none() && !create {
            return Ok(None);
        }
        let previous = existing.as_ref().map(|n| n.body.clone());
        let body = note_body(marker, &body(previous.as_deref()));
        let payload = serde_json::json!({ "body": body });
        let posted = match existing {
            Some(note) if note.body.trim_end() == body.trim_end() => {
                Posted::Unchanged { id: note.id }
            }
            Some(note) => {
                let url = note_url(&self.mr, note.id);
                match self
                    .send_json::<Created>(Method::PUT, &url, &headers, Some(&payload))
                    .await?
                {
                    Answer::Ok(_) => Posted::Updated { id: note.id },
                    Answer::Forbidden(reason) => return Ok(Some(skipped(reason))),
                }
            }
            None => match self.create(marker, me.id, &headers, &payload).await? {
                Posted::Skipped { reason } => return Ok(Some(skipped(reason))),
                p => p,
            },
        };
        Ok(Some(Upserted {
            posted,
            previous,
            url: None,
        }))
    }

    /// Post a new note (never looked for again: the short note that the plan got riskier).
    /// `POST` once: a lost answer is an error, never a second note.
    pub async fn create_note(&self, body: &str) -> Result<Posted, GitLabError> {
        let Some(token) = &self.token else {
            return Ok(Posted::Skipped {
                reason: format!("no GitLab token (GITLAB_TOKEN is empty): {TOKEN_HELP}"),
            });
        };
        let headers = auth_headers(token)?;
        let payload = serde_json::json!({ "body": body });
        match self
            .send_json::<Created>(Method::POST, &notes_url(&self.mr), &headers, Some(&payload))
            .await?
        {
            Answer::Ok(created) => Ok(Posted::Created { id: created.id }),
            Answer::Forbidden(reason) => Ok(Posted::Skipped { reason }),
        }
    }

    /// The merge request's web address (`web_url` of `GET /projects/:id/merge_requests/:iid`).
    pub async fn web_url(&self) -> Result<String, GitLabError> {
        #[derive(Deserialize)]
        struct Mr {
            web_url: String,
        }
        let url = self.merge_request_url(self.mr.iid);
        match self.merge_request::<Mr>(self.mr.iid).await? {
            Some(mr) => Ok(mr.web_url),
            None => Err(GitLabError::Status {
                method: "GET",
                url,
                status: 404,
                message: "404 Not Found".into(),
                hint: ": check CI_PROJECT_ID and CI_MERGE_REQUEST_IID",
            }),
        }
    }

    /// The merge request of this project that commit `sha` merged
    /// (`GET /projects/:id/repository/commits/:sha/merge_requests`): a `merged` one whose
    /// merge, squash or head commit is `sha` (a fast-forward merge pushes the head); `None`
    /// for a direct push.
    pub async fn merged_merge_request(&self, sha: &str) -> Result<Option<u64>, GitLabError> {
        #[derive(Deserialize)]
        struct Mr {
            iid: u64,
            state: String,
            #[serde(default)]
            sha: Option<String>,
            #[serde(default)]
            merge_commit_sha: Option<String>,
            #[serde(default)]
            squash_commit_sha: Option<String>,
        }
        let Some(token) = &self.token else {
            return Err(GitLabError::MissingVariable {
                name: "GITLAB_TOKEN",
                what: format!("reading merge requests needs a token: {TOKEN_HELP}"),
            });
        };
        if sha.len() < 40 || sha.len() > 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(GitLabError::MissingVariable {
                name: "CI_COMMIT_SHA",
                what: "a commit sha (40 or 64 hex digits)".into(),
            });
        }
        let headers = auth_headers(token)?;
        let url = format!(
            "{}/projects/{}/repository/commits/{sha}/merge_requests",
            self.mr.api_url.trim_end_matches('/'),
            project_segment(&self.mr.project)
        );
        match self
            .send_json::<Vec<Mr>>(Method::GET, &url, &headers, None)
            .await?
        {
            Answer::Ok(mrs) => Ok(mrs
                .iter()
                .find(|m| {
                    m.state == "merged"
                        && [&m.merge_commit_sha, &m.squash_commit_sha, &m.sha]
                            .into_iter()
                            .flatten()
                            .any(|c| c.eq_ignore_ascii_case(sha))
                })
                .map(|m| m.iid)),
            Answer::Forbidden(reason) => Err(GitLabError::Status {
                method: "GET",
                url,
                status: 403,
                message: reason,
                hint: "",
            }),
        }
    }

    /// The body of our note carrying `marker` on this merge request (written by this
    /// token's user), if there is one.
    pub async fn our_note(&self, marker: &str) -> Result<Option<String>, GitLabError> {
        let Some(token) = &self.token else {
            return Ok(None);
        };
        let headers = auth_headers(token)?;
        let forbidden = |url: String, reason: String| GitLabError::Status {
            method: "GET",
            url,
            status: 403,
            message: reason,
            hint: "",
        };
        let me: User = match self
            .send_json(Method::GET, &user_url(&self.mr.api_url), &headers, None)
            .await?
        {
            Answer::Ok(user) => user,
            Answer::Forbidden(reason) => return Err(forbidden(user_url(&self.mr.api_url), reason)),
        };
        match self.find(marker, me.id, &headers).await? {
            Answer::Ok(note) => Ok(note.map(|n| n.body)),
            Answer::Forbidden(reason) => Err(forbidden(notes_url(&self.mr), reason)),
        }
    }

    /// Whether merge request `iid` of this project is open
    /// (`GET /projects/:id/merge_requests/:iid`: `opened` and `locked` are open, `closed`
    /// and `merged` are not); `None` when GitLab has no such merge request (404). Without a
    /// token, or when the token may not read it, an error saying so.
    pub async fn merge_request_is_open(&self, iid: u64) -> Result<Option<bool>, GitLabError> {
        #[derive(Deserialize)]
        struct State {
            state: String,
        }
        Ok(self
            .merge_request::<State>(iid)
            .await?
            .map(|mr| matches!(mr.state.as_str(), "opened" | "locked")))
    }

    fn merge_request_url(&self, iid: u64) -> String {
        format!(
            "{}/projects/{}/merge_requests/{iid}",
            self.mr.api_url.trim_end_matches('/'),
            project_segment(&self.mr.project)
        )
    }

    /// `GET /projects/:id/merge_requests/:iid` of this project; `None` on a 404. Without a
    /// token, or when the token may not read it, an error saying so.
    async fn merge_request<T: serde::de::DeserializeOwned>(
        &self,
        iid: u64,
    ) -> Result<Option<T>, GitLabError> {
        let Some(token) = &self.token else {
            return Err(GitLabError::MissingVariable {
                name: "GITLAB_TOKEN",
                what: format!("reading merge requests needs a token: {TOKEN_HELP}"),
            });
        };
        let headers = auth_headers(token)?;
        let url = self.merge_request_url(iid);
        match self.send_json::<T>(Method::GET, &url, &headers, None).await {
            Ok(Answer::Ok(mr)) => Ok(Some(mr)),
            Ok(Answer::Forbidden(reason)) => Err(GitLabError::Status {
                method: "GET",
                url,
                status: 403,
                message: reason,
                hint: "",
            }),
            Err(GitLabError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST` the note. A lost answer is checked by reading the notes again, never by a
    /// second `POST`.
    async fn create(
        &self,
        marker: &str,
        author: u64,
        headers: &HeaderMap,
        payload: &serde_json::Value,
    ) -> Result<Posted, GitLabError> {
        let url = notes_url(&self.mr);
        match self
            .send_json::<Created>(Method::POST, &url, headers, Some(payload))
            .await
        {
            Ok(Answer::Ok(created)) => Ok(Posted::Created { id: created.id }),
            Ok(Answer::Forbidden(reason)) => Ok(Posted::Skipped { reason }),
            Err(GitLabError::MaybePosted { url, message }) => {
                tracing::warn!(
                    "GitLab did not answer POST {url} ({message}); looking for the note"
                );
                match self.find(marker, author, headers).await {
                    Ok(Answer::Ok(Some(note))) => Ok(Posted::Created { id: note.id }),
                    _ => Err(GitLabError::MaybePosted { url, message }),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The oldest non-system note by `author` starting with `marker`, across all pages.
    async fn find(
        &self,
        marker: &str,
        author: u64,
        headers: &HeaderMap,
    ) -> Result<Answer<Option<Note>>, GitLabError> {
        let mut page = 1;
        for _ in 0..MAX_PAGES {
            let url = notes_page_url(&self.mr, page);
            let reply = match self.checked(Method::GET, &url, headers, None).await? {
                Answer::Ok(reply) => reply,
                Answer::Forbidden(reason) => return Ok(Answer::Forbidden(reason)),
            };
            let next = next_page(&reply.headers);
            let notes: Vec<Note> = decode(&reply, "GET", &url)?;
            let full_page = notes.len() >= PER_PAGE;
            if let Some(note) = notes.into_iter().find(|n| {
                !n.system
                    && n.author.as_ref().is_some_and(|a| a.id == author)
                    && is_ours(&n.body, marker)
            }) {
                return Ok(Answer::Ok(Some(note)));
            }
            page = match next {
                NextPage::Page(n) if n > page => n,
                NextPage::Page(_) | NextPage::Last => break,
                // No pagination headers (stripped by a proxy): a full page may have a next.
                NextPage::Unknown if full_page => page + 1,
                NextPage::Unknown => break,
            };
        }
        Ok(Answer::Ok(None))
    }

    async fn send_json<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        url: &str,
        headers: &HeaderMap,
        payload: Option<&serde_json::Value>,
    ) -> Result<Answer<T>, GitLabError> {
        let name = method_name(&method);
        match self.checked(method, url, headers, payload).await? {
            Answer::Ok(reply) => Ok(Answer::Ok(decode(&reply, name, url)?)),
            Answer::Forbidden(reason) => Ok(Answer::Forbidden(reason)),
        }
    }

    /// Send (with the shared client's retries), then sort the answer: 2xx, the token's
    /// rights said no, or an error.
    async fn checked(
        &self,
        method: Method,
        url: &str,
        headers: &HeaderMap,
        payload: Option<&serde_json::Value>,
    ) -> Result<Answer<Reply>, GitLabError> {
        let name = method_name(&method);
        let parsed = url::Url::parse(url).map_err(|e| GitLabError::Transport {
            url: url.to_string(),
            message: format!("not a URL ({e}): check CI_API_V4_URL"),
        })?;
        // Creating a note twice is not the same as once: replayed only when surely not done.
        let idempotency = if method == Method::POST {
            Idempotency::NotIdempotent
        } else {
            Idempotency::Idempotent
        };
        let sent = self
            .http
            .send(idempotency, |c| {
                let req = c
                    .request(method.clone(), parsed.clone())
                    .headers(headers.clone());
                match payload {
                    Some(p) => req.json(p),
                    None => req,
                }
            })
            .await;
        let reply = match sent {
            Ok(reply) => reply,
            Err(HttpError::MaybeApplied { message, .. }) => {
                return Err(GitLabError::MaybePosted {
                    url: url.to_string(),
                    message,
                })
            }
            Err(e @ HttpError::TooLarge { .. }) => {
                return Err(GitLabError::Transport {
                    url: url.to_string(),
                    message: e.to_string(),
                })
            }
            Err(
                HttpError::Transport { message, .. }
                | HttpError::Build { message, .. }
                | HttpError::Setup(message),
            ) => {
                return Err(GitLabError::Transport {
                    url: url.to_string(),
                    message,
                })
            }
        };
        check(reply, name, url)
    }
}

/// Nothing written, and why (a warning for the caller, never an error).
fn skipped(reason: String) -> Upserted {
    Upserted {
        posted: Posted::Skipped { reason },
        previous: None,
        url: None,
    }
}

/// A note body is ours only when `marker` is at its very start: a flow's text quoted in
/// another target's note (or a reply quoting ours) carries the marker further down, and
/// must never make this job overwrite that note.
fn is_ours(body: &str, marker: &str) -> bool {
    body.starts_with(marker)
}

fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::POST => "POST",
        Method::PUT => "PUT",
        _ => "GET",
    }
}

/// A successful answer, or the token's rights said no (a warning, not an error).
enum Answer<T> {
    Ok(T),
    Forbidden(String),
}

/// The `PRIVATE-TOKEN` header, marked sensitive.
fn auth_headers(token: &SecretString) -> Result<HeaderMap, GitLabError> {
    let mut value = HeaderValue::from_str(token.expose_secret().trim()).map_err(|_| {
        GitLabError::InvalidVariable {
            name: "GITLAB_TOKEN",
            value: "(hidden)".into(),
            what: "it contains characters that cannot be sent in an HTTP header; paste the token again".into(),
        }
    })?;
    value.set_sensitive(true);
    let mut headers = HeaderMap::new();
    headers.insert("PRIVATE-TOKEN", value);
    Ok(headers)
}

/// 2xx → the reply; 401/403 → [`Answer::Forbidden`] with what to do; else an error
/// carrying GitLab's message.
fn check(reply: Reply, method: &'static str, url: &str) -> Result<Answer<Reply>, GitLabError> {
    let status = reply.status.as_u16();
    if reply.status.is_success() {
        return Ok(Answer::Ok(reply));
    }
    let message = error_message(&String::from_utf8_lossy(&reply.body));
    if matches!(status, 401 | 403) {
        return Ok(Answer::Forbidden(format!(
            "the token cannot post notes (GitLab answered {status} to {method} {url}{}): {TOKEN_HELP}",
            if message.is_empty() { String::new() } else { format!(": {message}") }
        )));
    }
    let hint = match status {
        404 => ": check CI_PROJECT_ID and CI_MERGE_REQUEST_IID, and that the token's project is this one",
        429 => ": GitLab's rate limit; retry later",
        _ => "",
    };
    Err(GitLabError::Status {
        method,
        url: url.to_string(),
        status,
        message,
        hint,
    })
}

fn decode<T: serde::de::DeserializeOwned>(
    reply: &Reply,
    method: &'static str,
    url: &str,
) -> Result<T, GitLabError> {
    serde_json::from_slice(&reply.body).map_err(|e| GitLabError::Decode {
        method,
        url: url.to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_marker_at_the_very_start_counts() {
        let m = "<!-- kestra-sync:plan target=prod@k -->";
        assert!(is_ours(&format!("{m}\nplan"), m));
        for spoof in [
            format!("<!-- kestra-sync:plan target=dev@k -->\n```\n{m}\n```"),
            format!("\n{m}"),
            format!(" {m}"),
            format!("> {m}"),
            format!("\u{feff}{m}"),
            "<!-- kestra-sync:plan target=prod.a@k -->".to_string(),
            "<!-- kestra-sync:plan target=prod@k-->".to_string(),
        ] {
            assert!(!is_ours(&spoof, m), "{spoof:?}");
        }
    }

    #[test]
    fn the_token_header_is_sensitive_and_trimmed() {
        let h = auth_headers(&SecretString::from("glpat-abc\n")).unwrap();
        let v = h.get("private-token").unwrap();
        assert!(v.is_sensitive());
        assert_eq!(v.as_bytes(), b"glpat-abc");
        assert!(!format!("{h:?}").contains("glpat-abc"));
        let err = auth_headers(&SecretString::from("glpat-\u{7f}x"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("GITLAB_TOKEN `(hidden)` is not valid"),
            "{err}"
        );
        assert!(!err.contains("glpat"));
    }
}
