//! The one sticky merge request note on GitLab: find the note carrying our hidden marker
//! (one per target), written by this token's user, and edit it in place; create it the first
//! time; leave it alone when the body has not changed, so reviewers are not notified of a
//! non-change.
//!
//! GitLab's REST API v4 (`CI_API_V4_URL`, so self-managed instances work): `GET /user` (who
//! the token is), `GET /projects/:id/merge_requests/:iid/notes` (offset pagination followed
//! through `X-Next-Page`), `POST …/notes`, `PUT …/notes/:note_id`, header `PRIVATE-TOKEN`.
//! `:id` is the numeric project id or the URL-encoded path (`group%2Fproject`).
//!
//! A token that cannot post (the usual case is `CI_JOB_TOKEN`, which can only read notes) or
//! no token at all is not a failure of the pipeline: the result is [`NoteOutcome::Skipped`]
//! with a reason the caller prints as a warning.
//!
//! The client is a plain `reqwest` client (rustls, user agent, connect and request
//! timeouts): `crate::http` had no shared client setup yet when this was written.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

mod api;

use api::{error_message, next_page, NextPage};
pub use api::{
    note_body, note_url, notes_page_url, notes_url, project_segment, user_url, MergeRequest,
};

/// GitLab's cap on a note body, in characters.
pub const NOTE_LIMIT: usize = 1_000_000;

/// Notes per page (GitLab's maximum).
const PER_PAGE: usize = 100;

/// Pages read at most (10,000 notes) before giving up the search and creating a new note.
const MAX_PAGES: usize = 100;

/// What to do when the token is missing or cannot post.
pub const TOKEN_HELP: &str = "CI_JOB_TOKEN can only read notes; create a project access token with `api` scope, store it as a masked (not protected) variable GITLAB_TOKEN";

/// What happened to the note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteOutcome {
    Created {
        id: u64,
    },
    Updated {
        id: u64,
    },
    /// The note already says exactly this: nothing was sent.
    Unchanged {
        id: u64,
    },
    /// Nothing was posted; `reason` is a warning for the job log and summary.
    Skipped {
        reason: String,
    },
}

impl std::fmt::Display for NoteOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoteOutcome::Created { id } => write!(f, "created merge request note {id}"),
            NoteOutcome::Updated { id } => write!(f, "updated merge request note {id}"),
            NoteOutcome::Unchanged { id } => {
                write!(f, "merge request note {id} is up to date")
            }
            NoteOutcome::Skipped { reason } => write!(f, "plan not posted: {reason}"),
        }
    }
}

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
    client: reqwest::Client,
    mr: MergeRequest,
    token: Option<SecretString>,
}

impl GitLabNotes {
    /// `token`: `GITLAB_TOKEN` (a project access token with `api` scope); `None` or empty
    /// makes [`GitLabNotes::upsert`] skip with a warning. `timeout` bounds each request.
    pub fn new(
        mr: MergeRequest,
        token: Option<SecretString>,
        timeout: Duration,
    ) -> Result<GitLabNotes, GitLabError> {
        let client = reqwest::Client::builder()
            .user_agent(crate::http::USER_AGENT)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .timeout(timeout)
            .build()
            .map_err(|e| GitLabError::Transport {
                url: mr.api_url.clone(),
                message: e.to_string(),
            })?;
        let token = token.filter(|t| !t.expose_secret().trim().is_empty());
        Ok(GitLabNotes { client, mr, token })
    }

    /// Create or edit the one note carrying `marker` so that it reads `body`.
    pub async fn upsert(&self, marker: &str, body: &str) -> Result<NoteOutcome, GitLabError> {
        let Some(token) = &self.token else {
            return Ok(NoteOutcome::Skipped {
                reason: format!("no GitLab token (GITLAB_TOKEN is empty): {TOKEN_HELP}"),
            });
        };
        let headers = auth_headers(token)?;
        let body = note_body(marker, body);

        let me: User = match self
            .send_json("GET", &user_url(&self.mr.api_url), &headers, None)
            .await?
        {
            Answer::Ok(user) => user,
            Answer::Forbidden(reason) => return Ok(NoteOutcome::Skipped { reason }),
        };
        let existing = match self.find(marker, me.id, &headers).await? {
            Answer::Ok(note) => note,
            Answer::Forbidden(reason) => return Ok(NoteOutcome::Skipped { reason }),
        };
        let payload = serde_json::json!({ "body": body });
        match existing {
            Some(note) if note.body.trim_end() == body.trim_end() => {
                Ok(NoteOutcome::Unchanged { id: note.id })
            }
            Some(note) => {
                let url = note_url(&self.mr, note.id);
                match self
                    .send_json::<Created>("PUT", &url, &headers, Some(&payload))
                    .await?
                {
                    Answer::Ok(_) => Ok(NoteOutcome::Updated { id: note.id }),
                    Answer::Forbidden(reason) => Ok(NoteOutcome::Skipped { reason }),
                }
            }
            None => {
                let url = notes_url(&self.mr);
                match self
                    .send_json::<Created>("POST", &url, &headers, Some(&payload))
                    .await?
                {
                    Answer::Ok(created) => Ok(NoteOutcome::Created { id: created.id }),
                    Answer::Forbidden(reason) => Ok(NoteOutcome::Skipped { reason }),
                }
            }
        }
    }

    /// The oldest non-system note by `author` containing `marker`, across all pages.
    async fn find(
        &self,
        marker: &str,
        author: u64,
        headers: &HeaderMap,
    ) -> Result<Answer<Option<Note>>, GitLabError> {
        let mut page = 1;
        for _ in 0..MAX_PAGES {
            let url = notes_page_url(&self.mr, page);
            let (notes, next) = match self.get_page(&url, headers).await? {
                Answer::Ok(x) => x,
                Answer::Forbidden(reason) => return Ok(Answer::Forbidden(reason)),
            };
            let full_page = notes.len() >= PER_PAGE;
            if let Some(note) = notes.into_iter().find(|n| {
                !n.system
                    && n.author.as_ref().is_some_and(|a| a.id == author)
                    && n.body.contains(marker)
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

    async fn get_page(
        &self,
        url: &str,
        headers: &HeaderMap,
    ) -> Result<Answer<(Vec<Note>, NextPage)>, GitLabError> {
        let resp = self.send("GET", url, headers, None).await?;
        let resp = match check(resp, "GET", url).await? {
            Answer::Ok(resp) => resp,
            Answer::Forbidden(reason) => return Ok(Answer::Forbidden(reason)),
        };
        let next = next_page(resp.headers());
        let notes = decode::<Vec<Note>>(resp, "GET", url).await?;
        Ok(Answer::Ok((notes, next)))
    }

    async fn send_json<T: serde::de::DeserializeOwned>(
        &self,
        method: &'static str,
        url: &str,
        headers: &HeaderMap,
        payload: Option<&serde_json::Value>,
    ) -> Result<Answer<T>, GitLabError> {
        let resp = self.send(method, url, headers, payload).await?;
        match check(resp, method, url).await? {
            Answer::Ok(resp) => Ok(Answer::Ok(decode(resp, method, url).await?)),
            Answer::Forbidden(reason) => Ok(Answer::Forbidden(reason)),
        }
    }

    async fn send(
        &self,
        method: &'static str,
        url: &str,
        headers: &HeaderMap,
        payload: Option<&serde_json::Value>,
    ) -> Result<reqwest::Response, GitLabError> {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut req = self.client.request(m, url).headers(headers.clone());
        if let Some(p) = payload {
            req = req.json(p);
        }
        req.send().await.map_err(|e| GitLabError::Transport {
            url: url.to_string(),
            message: e.without_url().to_string(),
        })
    }
}

/// A successful answer, or the token's rights said no (a warning, not an error).
enum Answer<T> {
    Ok(T),
    Forbidden(String),
}

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

/// 2xx → the response; 401/403 → [`Answer::Forbidden`] with what to do; else an error
/// carrying GitLab's message.
async fn check(
    resp: reqwest::Response,
    method: &'static str,
    url: &str,
) -> Result<Answer<reqwest::Response>, GitLabError> {
    let status = resp.status().as_u16();
    if resp.status().is_success() {
        return Ok(Answer::Ok(resp));
    }
    let text = resp.text().await.unwrap_or_default();
    let message = error_message(&text);
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

async fn decode<T: serde::de::DeserializeOwned>(
    resp: reqwest::Response,
    method: &'static str,
    url: &str,
) -> Result<T, GitLabError> {
    let bytes = resp.bytes().await.map_err(|e| GitLabError::Transport {
        url: url.to_string(),
        message: e.without_url().to_string(),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| GitLabError::Decode {
        method,
        url: url.to_string(),
        message: e.to_string(),
    })
}
