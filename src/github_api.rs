//! The one GitHub transport, shared by the plan comment (`forge::github`), the tarball source
//! (`source::github`) and the preview sweep: `octocrab`'s HTTP stack with the base URL from
//! `GITHUB_API_URL` (so GitHub Enterprise Server, `https://HOST/api/v3`, works), answers read
//! whole within a size cap, and the retry policy of [`crate::http`] ([`Backoff`],
//! [`retry_after`]): only GETs are retried (a retried POST could create two comments), on a
//! connection error, 429, 5xx, or a 403 carrying `Retry-After`.

use std::time::{Duration, SystemTime};

use http_body_util::BodyExt;
use octocrab::service::middleware::retry::RetryConfig;
use octocrab::Octocrab;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::http::{retry_after, Backoff, HttpOptions};

/// The public GitHub API, when `GITHUB_API_URL` is unset.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// How many times a GET is retried after a transient failure, by [`GithubClient::new`].
const DEFAULT_GET_RETRIES: u32 = 3;

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
    pub(crate) base: url::Url,
    /// Retries of a GET and the waits between them: the shared policy of [`crate::http`].
    retries: u32,
    backoff: Backoff,
}

impl GithubClient {
    /// A client for `api_url` (e.g. `GITHUB_API_URL`) authenticated with `token`, with
    /// `timeout` per request and the default retries of a GET.
    pub fn new(
        api_url: &str,
        token: &SecretString,
        timeout: Duration,
    ) -> Result<GithubClient, GithubError> {
        let options = HttpOptions {
            timeout,
            retries: DEFAULT_GET_RETRIES,
            backoff: Backoff::default(),
        };
        GithubClient::with_options(api_url, token, &options)
    }

    /// A client with the run's HTTP options (timeout, retries of a GET, backoff).
    pub fn with_options(
        api_url: &str,
        token: &SecretString,
        options: &HttpOptions,
    ) -> Result<GithubClient, GithubError> {
        let timeout = options.timeout;
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
        Ok(GithubClient {
            octo,
            base,
            retries: options.retries,
            backoff: options.backoff,
        })
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
                Err(GithubError::Transport { .. }) => Some(self.backoff.delay(attempt)),
                Ok(a) if a.status == 429 || a.status >= 500 => Some(
                    self.retry_after(a)
                        .unwrap_or_else(|| self.backoff.delay(attempt)),
                ),
                Ok(a) if a.status == 403 => self.retry_after(a),
                _ => None,
            };
            match wait {
                Some(wait) if attempt < self.retries => {
                    tracing::debug!("GitHub GET {} retried in {:?}", path_of(uri), wait);
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                _ => return result,
            }
        }
    }

    /// The server's `Retry-After`, capped like every client's (`crate::http`).
    fn retry_after(&self, a: &Answer) -> Option<Duration> {
        retry_after(&a.headers, SystemTime::now()).map(|d| d.min(self.backoff.max))
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
}

/// GitHub's error `message`, or the start of the body.
pub(crate) fn message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct E {
        message: Option<String>,
    }
    serde_json::from_slice::<E>(body)
        .ok()
        .and_then(|e| e.message)
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect())
}

/// How GitHub refused a token's request: the callers that skip a side task (labels, a
/// deployment) on it, never failing the job, say what to grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// 403 with `x-ratelimit-remaining: 0`.
    RateLimited,
    /// 401: the token itself.
    BadToken,
    /// 403 or 404: the token may not do this (a missing permission).
    NotAllowed,
}

/// `Ok(None)`: 2xx. `Ok(Some((refusal, GitHub's message)))`: the token was refused.
/// Anything else: the error, naming the request.
pub(crate) fn refusal(
    status: u16,
    headers: &http::HeaderMap,
    body: &[u8],
    method: &'static str,
    path: &str,
) -> Result<Option<(Refusal, String)>, GithubError> {
    if (200..300).contains(&status) {
        return Ok(None);
    }
    let msg = message(body);
    let limited = headers
        .get("x-ratelimit-remaining")
        .and_then(|v| v.to_str().ok())
        == Some("0");
    let refusal = match status {
        403 if limited => Refusal::RateLimited,
        401 => Refusal::BadToken,
        403 | 404 => Refusal::NotAllowed,
        _ => {
            return Err(GithubError::Status {
                method,
                path: path.to_string(),
                status,
                message: msg,
            })
        }
    };
    Ok(Some((refusal, msg)))
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
