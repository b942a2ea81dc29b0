//! GitHub: the one sticky plan comment on a pull request, through `octocrab` with the base
//! URL from `GITHUB_API_URL` (so GitHub Enterprise Server, `https://HOST/api/v3`, works).
//!
//! Finding our comment: we list the PR's comments (`per_page=100`, following `Link`), and a
//! comment is ours only when its body **starts with** the target's marker, at its very first
//! byte (a quote, a copy in a reply, or a marker pasted further down by a flow's text does
//! not count), **and** it was written by the identity that posts: the login `GET /user`
//! answers for a personal or user token; for the workflow's `GITHUB_TOKEN`, which GitHub
//! refuses `GET /user` (403, "Resource not accessible by integration"), exactly the user
//! `github-actions[bot]` of type `Bot`: another bot's comment (another tool, another app)
//! is never edited. With a GitHub App installation token (also refused `GET /user`), the
//! app's own earlier comments are therefore not recognised and a new comment is posted each
//! run: give a user token, or use `GITHUB_TOKEN`. The oldest such comment is updated in place, and
//! left alone when its body is already the one we would write. A token that may not comment
//! (a fork PR's read-only token, missing `pull-requests: write`, no token at all) is not an
//! error: the outcome is [`Posted::Skipped`] with the reason, so the step never fails
//! because of it.

use std::time::Duration;

use http_body_util::BodyExt;
use octocrab::service::middleware::retry::RetryConfig;
use octocrab::Octocrab;
use secrecy::{ExposeSecret, SecretString};

pub use super::Posted;
use serde::Deserialize;

/// The public GitHub API, when `GITHUB_API_URL` is unset.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// How many pages of 100 comments we read at most (a PR with 10,000 comments).
const MAX_PAGES: usize = 100;
/// How many times a GET is retried after a transient failure.
const GET_RETRIES: u32 = 3;

/// A pull request (or issue): `owner/repo#number`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub owner: String,
    pub repo: String,
    pub number: u64,
}

impl Issue {
    /// From `GITHUB_REPOSITORY` (`owner/name`) and the PR number.
    pub fn new(repository: &str, number: u64) -> Result<Issue, GithubError> {
        let (owner, repo) = split_repository(repository)?;
        Ok(Issue {
            owner,
            repo,
            number,
        })
    }
}

/// `owner/name`, checked: both parts non-empty and made of GitHub's name characters.
pub fn split_repository(repository: &str) -> Result<(String, String), GithubError> {
    let ok = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    match repository.trim().split_once('/') {
        Some((o, r)) if ok(o) && ok(r) => Ok((o.to_string(), r.to_string())),
        _ => Err(GithubError::BadRepository(repository.to_string())),
    }
}

/// A GitHub API failure that is not a permission problem.
#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    #[error("the GitHub API URL `{url}` is not usable ({why}): check GITHUB_API_URL, e.g. https://api.github.com or https://github.example.com/api/v3")]
    BadUrl { url: String, why: String },
    #[error("the GitHub token is empty or contains spaces or control characters: check the `github-token` input (or KESTRA_SYNC_GITHUB_TOKEN)")]
    BadToken,
    #[error("`{0}` is not a GitHub repository name: expected `owner/name` (GITHUB_REPOSITORY)")]
    BadRepository(String),
    #[error("GitHub answered {status} to {method} {path}: {message}")]
    Status {
        method: &'static str,
        path: String,
        status: u16,
        message: String,
    },
    #[error("GitHub request {method} {path} failed: {why}")]
    Transport {
        method: &'static str,
        path: String,
        why: String,
    },
    #[error("GitHub answered {method} {path} with a body larger than {} MiB, more than kestra-sync reads from one answer; nothing was used from it. Check GITHUB_API_URL", .limit >> 20)]
    TooLarge {
        method: &'static str,
        path: String,
        limit: u64,
    },
    #[error("GitHub's answer to {method} {path} is not what the API documents: {why}")]
    Unexpected {
        method: &'static str,
        path: String,
        why: String,
    },
}

impl GithubError {
    /// The HTTP status, when GitHub answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            GithubError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A response read whole.
pub(crate) struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

/// A GitHub API client for one run.
#[derive(Debug, Clone)]
pub struct GithubClient {
    octo: Octocrab,
    base: url::Url,
}

#[derive(Debug, Deserialize)]
struct Comment {
    id: u64,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    user: Option<User>,
}

#[derive(Debug, Deserialize)]
struct User {
    login: String,
    #[serde(rename = "type", default)]
    kind: String,
}

impl GithubClient {
    /// A client for `api_url` (e.g. `GITHUB_API_URL`) authenticated with `token`.
    pub fn new(
        api_url: &str,
        token: &SecretString,
        timeout: Duration,
    ) -> Result<GithubClient, GithubError> {
        let bad = |why: String| GithubError::BadUrl {
            url: api_url.to_string(),
            why,
        };
        let base = url::Url::parse(api_url.trim()).map_err(|e| bad(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(bad("not an http(s) URL".into()));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(bad("it must not contain credentials".into()));
        }
        // octocrab's stack panics when built outside a runtime: refuse instead.
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(bad(
                "the GitHub client must be created inside the async runtime".into(),
            ));
        }
        // A pasted secret often ends with a newline; anything else unprintable is refused
        // here rather than failing inside the HTTP stack.
        let token = token.expose_secret().trim();
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(GithubError::BadToken);
        }
        let octo = Octocrab::builder()
            .base_uri(base.as_str().trim_end_matches('/'))
            .map_err(|e| bad(e.to_string()))?
            .personal_token(token.to_string())
            // Our own retries, for GETs only: a retried POST could create two comments.
            .add_retry_config(RetryConfig::None)
            .set_connect_timeout(Some(timeout))
            .set_read_timeout(Some(timeout))
            .add_header(
                http::header::ACCEPT,
                "application/vnd.github+json".to_string(),
            )
            .build()
            .map_err(|e| bad(e.to_string()))?;
        Ok(GithubClient { octo, base })
    }

    /// `path` (starting with `/`) under the API base, keeping a GHES `/api/v3` prefix.
    pub(crate) fn api_uri(&self, path: &str) -> String {
        format!("{}{}", self.base.as_str().trim_end_matches('/'), path)
    }

    /// GET with retries of transient failures (connection errors, 429, 5xx, and 403 carrying
    /// `Retry-After`); the whole body is read, up to `max_bytes`.
    pub(crate) async fn get(&self, uri: &str, max_bytes: usize) -> Result<Answer, GithubError> {
        self.get_into(uri, max_bytes as u64, None).await
    }

    /// [`GithubClient::get`] whose `200` body (up to `max_bytes`) goes into `file`, from its
    /// start, instead of memory (a tarball); the returned body is then empty.
    pub(crate) async fn get_to_file(
        &self,
        uri: &str,
        max_bytes: u64,
        file: &std::fs::File,
    ) -> Result<Answer, GithubError> {
        self.get_into(uri, max_bytes, Some(file)).await
    }

    async fn get_into(
        &self,
        uri: &str,
        max_bytes: u64,
        file: Option<&std::fs::File>,
    ) -> Result<Answer, GithubError> {
        let mut attempt = 0;
        loop {
            let result = self
                .send_into(http::Method::GET, uri, None, max_bytes, file)
                .await;
            let wait = match &result {
                Err(GithubError::Transport { .. }) => Some(backoff(attempt)),
                Ok(a) if a.status == 429 || a.status >= 500 => {
                    Some(retry_after(&a.headers).unwrap_or_else(|| backoff(attempt)))
                }
                Ok(a) if a.status == 403 => retry_after(&a.headers),
                _ => None,
            };
            match wait {
                Some(wait) if attempt < GET_RETRIES && wait <= Duration::from_secs(60) => {
                    tracing::debug!("GitHub GET {} retried in {:?}", path_of(uri), wait);
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                _ => return result,
            }
        }
    }

    /// One request; never retried.
    pub(crate) async fn send(
        &self,
        method: http::Method,
        uri: &str,
        json: Option<&serde_json::Value>,
        max_bytes: usize,
    ) -> Result<Answer, GithubError> {
        self.send_into(method, uri, json, max_bytes as u64, None)
            .await
    }

    /// One request; a `200` body goes to `file` when one is given. A body over `max_bytes`
    /// is [`GithubError::TooLarge`] (not retried), never a truncated answer.
    async fn send_into(
        &self,
        method: http::Method,
        uri: &str,
        json: Option<&serde_json::Value>,
        max_bytes: u64,
        mut file: Option<&std::fs::File>,
    ) -> Result<Answer, GithubError> {
        use std::io::{Seek, Write};
        let m = method_name(&method);
        let transport = |why: String| GithubError::Transport {
            method: m,
            path: path_of(uri),
            why,
        };
        let request = self
            .octo
            .build_request(http::Request::builder().method(method).uri(uri), json)
            .map_err(|e| transport(e.to_string()))?;
        let response = self
            .octo
            .execute(request)
            .await
            .map_err(|e| transport(e.to_string()))?;
        let (parts, mut body) = response.into_parts();
        if parts.status != http::StatusCode::OK {
            file = None;
        }
        let too_large = || GithubError::TooLarge {
            method: m,
            path: path_of(uri),
            limit: max_bytes,
        };
        let declared = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > max_bytes) {
            return Err(too_large());
        }
        if let Some(mut f) = file {
            f.set_len(0)
                .and_then(|_| f.seek(std::io::SeekFrom::Start(0)))
                .map_err(|e| transport(format!("cannot write the download: {e}")))?;
        }
        let mut bytes = Vec::new();
        let mut seen: u64 = 0;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| transport(e.to_string()))?;
            if let Some(data) = frame.data_ref() {
                seen += data.len() as u64;
                if seen > max_bytes {
                    return Err(too_large());
                }
                match &mut file {
                    Some(f) => f
                        .write_all(data)
                        .map_err(|e| transport(format!("cannot write the download: {e}")))?,
                    None => bytes.extend_from_slice(data),
                }
            }
        }
        Ok(Answer {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: bytes,
        })
    }

    /// The login of the token's user (`GET /user`); `None` when GitHub refuses it with a 403,
    /// as it does for the workflow's `GITHUB_TOKEN` (and app installation tokens). Any other
    /// answer is an error: guessing "no login" would let the wrong comments count as ours.
    async fn login(&self) -> Result<Option<String>, Refused> {
        let uri = self.api_uri("/user");
        let a = self.get(&uri, 1 << 20).await.map_err(Refused::Error)?;
        match a.status {
            200 => serde_json::from_slice::<User>(&a.body)
                .map(|u| Some(u.login))
                .map_err(|e| {
                    Refused::Error(GithubError::Unexpected {
                        method: "GET",
                        path: path_of(&uri),
                        why: e.to_string(),
                    })
                }),
            401 => Err(Refused::Skip(skip_reason(401, &message(&a.body)))),
            403 if a
                .headers
                .get("x-ratelimit-remaining")
                .and_then(|v| v.to_str().ok())
                == Some("0") =>
            {
                check_status(&a, "GET", &uri).map(|_| None)
            }
            403 => Ok(None),
            status => Err(Refused::Error(GithubError::Status {
                method: "GET",
                path: path_of(&uri),
                status,
                message: message(&a.body),
            })),
        }
    }

    async fn comments(&self, issue: &Issue) -> Result<Vec<Comment>, Refused> {
        let first = self.api_uri(&format!(
            "/repos/{}/{}/issues/{}/comments?per_page=100",
            issue.owner, issue.repo, issue.number
        ));
        let mut next = Some(first);
        let mut all = Vec::new();
        let mut pages = 0;
        while let Some(uri) = next.take() {
            pages += 1;
            let a = self.get(&uri, 64 << 20).await.map_err(Refused::Error)?;
            check_status(&a, "GET", &uri)?;
            let page: Vec<Comment> = serde_json::from_slice(&a.body).map_err(|e| {
                Refused::Error(GithubError::Unexpected {
                    method: "GET",
                    path: path_of(&uri),
                    why: e.to_string(),
                })
            })?;
            all.extend(page);
            if pages >= MAX_PAGES {
                tracing::warn!("stopped reading PR comments after {MAX_PAGES} pages");
                break;
            }
            next = next_link(&a.headers).filter(|n| self.same_origin(n));
        }
        Ok(all)
    }

    fn same_origin(&self, uri: &str) -> bool {
        url::Url::parse(uri).is_ok_and(|u| u.origin() == self.base.origin())
    }

    /// Whether pull request `number` of `repository` (`owner/name`) is open
    /// (`GET /repos/{owner}/{repo}/pulls/{pull_number}`, `state` `open` or `closed`);
    /// `None` when GitHub has no such pull request (404).
    pub async fn pull_is_open(
        &self,
        repository: &str,
        number: u64,
    ) -> Result<Option<bool>, GithubError> {
        #[derive(Deserialize)]
        struct Pull {
            state: String,
        }
        let (owner, repo) = split_repository(repository)?;
        let path = format!("/repos/{owner}/{repo}/pulls/{number}");
        let a = self.get(&self.api_uri(&path), 1 << 20).await?;
        match a.status {
            200 => {
                let pull: Pull =
                    serde_json::from_slice(&a.body).map_err(|e| GithubError::Unexpected {
                        method: "GET",
                        path: path.clone(),
                        why: e.to_string(),
                    })?;
                Ok(Some(pull.state == "open"))
            }
            404 => Ok(None),
            status => Err(GithubError::Status {
                method: "GET",
                path,
                status,
                message: message(&a.body),
            }),
        }
    }

    /// The pull request that commit `sha` of `repository` merged: of the pull requests GitHub
    /// associates with the commit (`GET /repos/{owner}/{repo}/commits/{sha}/pulls`), the
    /// merged one whose merge commit is `sha`; `None` for a direct push.
    pub async fn merged_pull(
        &self,
        repository: &str,
        sha: &str,
    ) -> Result<Option<u64>, GithubError> {
        #[derive(Deserialize)]
        struct Pull {
            number: u64,
            #[serde(default)]
            merged_at: Option<String>,
            #[serde(default)]
            merge_commit_sha: Option<String>,
        }
        let issue = Issue::new(repository, 1)?;
        let unexpected = |path: String, why: String| GithubError::Unexpected {
            method: "GET",
            path,
            why,
        };
        if sha.len() < 40 || sha.len() > 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(unexpected(
                "/repos/…/commits/…/pulls".into(),
                format!("`{}` is not a commit sha", sha.escape_debug()),
            ));
        }
        let uri = self.api_uri(&format!(
            "/repos/{}/{}/commits/{sha}/pulls?per_page=100",
            issue.owner, issue.repo
        ));
        let a = self.get(&uri, 16 << 20).await?;
        if !(200..300).contains(&a.status) {
            return Err(GithubError::Status {
                method: "GET",
                path: path_of(&uri),
                status: a.status,
                message: message(&a.body),
            });
        }
        let pulls: Vec<Pull> = serde_json::from_slice(&a.body)
            .map_err(|e| unexpected(path_of(&uri), e.to_string()))?;
        Ok(pulls
            .iter()
            .find(|p| {
                p.merged_at.is_some()
                    && p.merge_commit_sha
                        .as_deref()
                        .is_some_and(|m| m.eq_ignore_ascii_case(sha))
            })
            .map(|p| p.number))
    }

    /// The body of our comment carrying `marker` on `issue` (found as [`Self::upsert_comment`]
    /// finds it: written by this token's identity), if there is one.
    pub async fn our_comment(
        &self,
        issue: &Issue,
        marker: &str,
    ) -> Result<Option<String>, GithubError> {
        let found = async {
            let login = self.login().await?;
            let comments = self.comments(issue).await?;
            Ok::<_, Refused>(
                find_ours(&comments, marker, login.as_deref()).and_then(|c| c.body.clone()),
            )
        };
        match found.await {
            Ok(body) => Ok(body),
            Err(Refused::Error(e)) => Err(e),
            // refused access (401/403/404, or the rate limit): a 403 carrying the reason
            Err(Refused::Skip(reason)) => Err(GithubError::Status {
                method: "GET",
                path: format!(
                    "/repos/{}/{}/issues/{}/comments",
                    issue.owner, issue.repo, issue.number
                ),
                status: 403,
                message: reason,
            }),
        }
    }

    /// Create or update the one comment of `marker` on `issue` with `body` (which must start
    /// with `marker`). See the module docs for how the comment is found.
    pub async fn upsert_comment(
        &self,
        issue: &Issue,
        marker: &str,
        body: &str,
    ) -> Result<Posted, GithubError> {
        match self.upsert(issue, marker, body).await {
            Ok(o) => Ok(o),
            Err(Refused::Skip(reason)) => Ok(Posted::Skipped { reason }),
            Err(Refused::Error(e)) => Err(e),
        }
    }

    async fn upsert(&self, issue: &Issue, marker: &str, body: &str) -> Result<Posted, Refused> {
        let login = self.login().await?;
        let comments = self.comments(issue).await?;
        let payload = serde_json::json!({ "body": body });
        match find_ours(&comments, marker, login.as_deref()) {
            Some(c) if same_body(c.body.as_deref().unwrap_or_default(), body) => {
                Ok(Posted::Unchanged { id: c.id })
            }
            Some(c) => {
                let uri = self.api_uri(&format!(
                    "/repos/{}/{}/issues/comments/{}",
                    issue.owner, issue.repo, c.id
                ));
                let a = self
                    .send(http::Method::PATCH, &uri, Some(&payload), 1 << 20)
                    .await
                    .map_err(Refused::Error)?;
                check_status(&a, "PATCH", &uri)?;
                Ok(Posted::Updated { id: c.id })
            }
            None => {
                let uri = self.api_uri(&format!(
                    "/repos/{}/{}/issues/{}/comments",
                    issue.owner, issue.repo, issue.number
                ));
                let a = self
                    .send(http::Method::POST, &uri, Some(&payload), 1 << 20)
                    .await
                    .map_err(Refused::Error)?;
                check_status(&a, "POST", &uri)?;
                let id = serde_json::from_slice::<Comment>(&a.body)
                    .map(|c| c.id)
                    .map_err(|e| {
                        Refused::Error(GithubError::Unexpected {
                            method: "POST",
                            path: path_of(&uri),
                            why: e.to_string(),
                        })
                    })?;
                Ok(Posted::Created { id })
            }
        }
    }
}

/// Either "skip with this reason" or a real error.
enum Refused {
    Skip(String),
    Error(GithubError),
}

/// 2xx passes; 401/403/404 become a skip with the reason; anything else is an error.
fn check_status(a: &Answer, method: &'static str, uri: &str) -> Result<(), Refused> {
    if (200..300).contains(&a.status) {
        return Ok(());
    }
    let msg = message(&a.body);
    if a.status == 403
        && a.headers
            .get("x-ratelimit-remaining")
            .and_then(|v| v.to_str().ok())
            == Some("0")
    {
        return Err(Refused::Skip(format!(
            "the GitHub API rate limit of this token is used up ({msg}); the plan comment was not posted. It is in the job summary"
        )));
    }
    if matches!(a.status, 401 | 403 | 404) {
        return Err(Refused::Skip(skip_reason(a.status, &msg)));
    }
    Err(Refused::Error(GithubError::Status {
        method,
        path: path_of(uri),
        status: a.status,
        message: msg,
    }))
}

/// Why the comment was not written, and what to do.
fn skip_reason(status: u16, msg: &str) -> String {
    match status {
        401 => format!("the GitHub token was refused (401 {msg}): check the `github-token` input; the plan comment was not posted, it is in the job summary"),
        404 => format!("GitHub answered 404 ({msg}) for the pull request's comments: the token cannot see this repository or pull request; the plan comment was not posted, it is in the job summary"),
        _ => format!(
            "the token may not comment on this pull request ({status} {msg}). On a pull request from a fork GitHub gives the workflow a read-only token; otherwise grant `permissions: pull-requests: write` to the job. To comment on fork pull requests, use the `workflow_run` pattern (docs/forks.md). The plan is in the job summary"
        ),
    }
}

/// The author of the workflow's `GITHUB_TOKEN` comments.
pub const ACTIONS_BOT: &str = "github-actions[bot]";

/// Ours: body starts with `marker` at its first byte, written by `login` when known, else by
/// exactly [`ACTIONS_BOT`]; oldest first.
fn find_ours<'a>(
    comments: &'a [Comment],
    marker: &str,
    login: Option<&str>,
) -> Option<&'a Comment> {
    comments.iter().find(|c| {
        let starts = c.body.as_deref().is_some_and(|b| b.starts_with(marker));
        let by_us = match (&c.user, login) {
            (Some(u), Some(login)) => u.login.eq_ignore_ascii_case(login),
            (Some(u), None) => u.login == ACTIONS_BOT && u.kind == "Bot",
            (None, _) => false,
        };
        starts && by_us
    })
}

/// Bodies compare equal across line-ending and trailing-space differences.
fn same_body(stored: &str, ours: &str) -> bool {
    stored.replace("\r\n", "\n").trim_end() == ours.replace("\r\n", "\n").trim_end()
}

/// GitHub's error `message`, or the start of the body.
fn message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct E {
        message: Option<String>,
    }
    serde_json::from_slice::<E>(body)
        .ok()
        .and_then(|e| e.message)
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect())
}

/// The `rel="next"` URL of a `Link` header.
pub(crate) fn next_link(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|part| {
            let (url, params) = part.split_once(';')?;
            let is_next = params.split(';').any(|p| {
                let p = p.trim();
                p == "rel=\"next\"" || p == "rel=next"
            });
            let url = url.trim().strip_prefix('<')?.strip_suffix('>')?;
            is_next.then(|| url.to_string())
        })
}

fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(500u64 << attempt.min(6))
}

/// The path and query of `uri`, for messages (never a secret: tokens go in headers).
pub(crate) fn path_of(uri: &str) -> String {
    url::Url::parse(uri)
        .map(|u| match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        })
        .unwrap_or_else(|_| uri.to_string())
}

fn method_name(m: &http::Method) -> &'static str {
    match *m {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PATCH => "PATCH",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        _ => "HTTP",
    }
}

#[cfg(test)]
#[path = "github_tests.rs"]
mod tests;
