//! The one HTTP client setup shared by the Kestra and GitLab clients: user agent, timeouts,
//! retries of transient failures only, and never a secret in a log or an error.
//!
//! # When a request is retried
//!
//! A failure is *transient* when it is a connection error, a timeout or a dropped connection,
//! or an answer `429 Too Many Requests`, `502 Bad Gateway`, `503 Service Unavailable` or
//! `504 Gateway Timeout`. Nothing else is retried (a `404`, `409`, `422` or `500` is an answer,
//! and asking again gives the same one). Whether a transient failure is retried depends on
//! what replaying the request could do, which the caller states with [`Idempotency`]:
//!
//! | failure | [`Idempotency::Idempotent`] (GET, PUT, DELETE, `POST /flows/validate`) | [`Idempotency::NotIdempotent`] (a create: `POST /flows`) |
//! |---|---|---|
//! | connection not established (refused, TLS, connect timeout) | retried | retried: the request was never sent |
//! | host name does not resolve (DNS) | **not retried** | **not retried** |
//! | `429`, `503` | retried | retried: the server says it did not perform it |
//! | timeout or reset after the request was sent | retried | **not retried**: [`HttpError::MaybeApplied`] |
//! | `502`, `504` (a gateway lost the upstream answer) | retried | **not retried**: [`HttpError::MaybeApplied`] |
//! | body of a `2xx` answer cut off | retried | [`HttpError::MaybeApplied`] (the server did it) |
//!
//! [`HttpError::MaybeApplied`] tells the caller to look (a `GET`) before deciding what
//! happened; it never means "failed". Replaying an idempotent request is harmless: a `PUT` of
//! the same source creates no new revision, and a `DELETE` replayed after a lost answer gets a
//! `404` (already gone).
//!
//! A host name that does not resolve is not retried: asking the resolver again gives the same
//! answer, and the user needs the hint (check the URL) at once, not after the backoff.
//!
//! Waits grow exponentially from [`Backoff::initial`] with random jitter (half to all of the
//! step) and never exceed [`Backoff::max`]. A `Retry-After` header (seconds or an HTTP date)
//! replaces the computed wait, also capped by [`Backoff::max`].
//!
//! # Bounded answers
//!
//! Every body is read with a cap ([`DEFAULT_MAX_BODY`], or the caller's with
//! [`HttpClient::send_limited`]): a `Content-Length` over it is refused before reading, and a
//! body without one (chunked, or endless) is read in chunks and refused as soon as it passes
//! the cap. Exceeding it is [`HttpError::TooLarge`], never retried (a server that sent it
//! once sends it again) and never a truncated success. A body that trickles forever ends at
//! the request timeout, which covers the whole body.
//!
//! # Secrets
//!
//! Errors carry the method and the URL with any user-info removed and secret-looking query
//! values masked ([`redact_url`]); never a header. `reqwest::Error`'s own `Display` and `Debug`
//! include the full URL, so they are never shown: messages are rebuilt from the error chain of
//! [`reqwest::Error::without_url`]. Redirects are not followed at all, so an `Authorization`
//! header can never travel to another host; a `3xx` answer is returned as is.
//!
//! # Debug log
//!
//! With `KESTRA_SYNC_LOG=debug`, every request is one line (target `kestra_sync::http`): its
//! method, its path and query (redacted as above), the status or why there was none, and how
//! long it took. The HTTP libraries' own lines (connection pool, TLS) stay at `warn`
//! ([`log_filter`]) unless named in `KESTRA_SYNC_LOG`.

use std::error::Error as _;
use std::time::{Duration, SystemTime};

use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, StatusCode};
use url::Url;

/// User agent sent on every request.
pub const USER_AGENT: &str = concat!("kestra-sync/", env!("CARGO_PKG_VERSION"));

/// Longest wait for establishing a connection; shorter when the request timeout is shorter.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest answer read by [`HttpClient::send`] (32 MiB): a Kestra or GitLab JSON answer is
/// a few KiB to a few MiB (a flow with its source, a page of notes).
pub const DEFAULT_MAX_BODY: usize = 32 << 20;

/// How long an unused connection is kept for reuse.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long to wait between retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Wait before the first retry (before jitter); doubles on each retry.
    pub initial: Duration,
    /// Longest single wait, also the cap on a server's `Retry-After`.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// Wait before retry number `attempt` (0-based), with jitter: a random duration between
    /// half and all of `min(initial * 2^attempt, max)`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let step = self
            .initial
            .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX))
            .min(self.max);
        let factor: f64 = rand::thread_rng().gen_range(0.5..=1.0);
        step.mul_f64(factor)
    }
}

/// Options of one HTTP client.
#[derive(Debug, Clone, Copy)]
pub struct HttpOptions {
    /// Timeout of each request, from connecting until the whole body is read.
    pub timeout: Duration,
    /// How many times a transient failure is retried (0 = never).
    pub retries: u32,
    pub backoff: Backoff,
}

/// The command line's defaults: 30 s per request, 4 retries.
impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            timeout: Duration::from_secs(30),
            retries: 4,
            backoff: Backoff::default(),
        }
    }
}

/// Whether replaying a request can do harm; decides which failures are retried (see the
/// module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Doing it twice is the same as doing it once: GET, PUT, DELETE, validation.
    Idempotent,
    /// Doing it twice is not the same (a create): replayed only when it was surely not done.
    NotIdempotent,
}

/// A complete answer: status, headers and the whole body.
#[derive(Debug)]
pub struct Reply {
    pub method: Method,
    /// The request URL, redacted ([`redact_url`]).
    pub url: String,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    /// A header as text, if present and readable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A request that got no usable answer. Never contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The client could not be set up (TLS backend, system roots).
    #[error("cannot set up the HTTP client: {0}")]
    Setup(String),
    /// The request could not be built (bad URL, bad header).
    #[error("cannot build the HTTP request {method} {url}: {message}")]
    Build {
        method: String,
        url: String,
        message: String,
    },
    /// No answer, and the request was surely not performed (or is idempotent and the retries
    /// ran out): connection refused, DNS, TLS, timeout.
    #[error("{method} {url}: {message}")]
    Transport {
        method: String,
        url: String,
        message: String,
        /// Why there was no answer.
        kind: NoAnswer,
    },
    /// A non-idempotent request was sent but its outcome is unknown (timeout or connection
    /// drop after sending, a gateway's 502/504): look before acting again.
    #[error("{method} {url}: {message}; the request may have been applied on the server")]
    MaybeApplied {
        method: String,
        url: String,
        message: String,
    },
    /// The answer is bigger than the cap: refused, not read further, not retried.
    #[error("{method} {url}: the server answered {status} with a body larger than {} MiB, more than kestra-sync reads from one answer; nothing was used from it. Check that the URL is the server's API (not a proxy or a file server)", .limit >> 20)]
    TooLarge {
        method: String,
        url: String,
        status: u16,
        limit: usize,
    },
}

/// Why a request got no answer, for a message that says what to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoAnswer {
    /// Nothing listens at that host and port (connection refused).
    Refused,
    /// The host name does not resolve.
    Dns,
    /// No answer within the timeout.
    Timeout,
    /// Anything else: TLS, reset, a body cut off.
    Other,
}

impl NoAnswer {
    fn of(e: &reqwest::Error) -> NoAnswer {
        if e.is_timeout() {
            return NoAnswer::Timeout;
        }
        let mut source = e.source();
        while let Some(s) = source {
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::ConnectionRefused {
                    return NoAnswer::Refused;
                }
            }
            // hyper-util's connector names resolver failures `dns error`
            if e.is_connect() && s.to_string().starts_with("dns error") {
                return NoAnswer::Dns;
            }
            source = s.source();
        }
        NoAnswer::Other
    }

    /// Short words for the debug log.
    fn words(self) -> &'static str {
        match self {
            NoAnswer::Refused => "connection refused",
            NoAnswer::Dns => "host name does not resolve",
            NoAnswer::Timeout => "timed out",
            NoAnswer::Other => "no answer",
        }
    }
}

/// The `tracing` filter for `KESTRA_SYNC_LOG` (`info` when unset or unreadable): the user's
/// directives, with the HTTP libraries' own logs (connection pool, TLS, HTTP/2 frames) kept
/// at `warn` unless the user names them. `debug` then shows one line per request.
pub fn log_filter(user: Option<&str>) -> String {
    const NOISY: &[&str] = &[
        "hyper_util",
        "hyper",
        "reqwest",
        "h2",
        "rustls",
        "tower",
        "octocrab",
    ];
    let user = user
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .unwrap_or("info");
    let mut directives = vec![user.to_string()];
    for name in NOISY {
        if !user.contains(name) {
            directives.push(format!("{name}=warn"));
        }
    }
    directives.join(",")
}

/// `GET /api/v1/configs`: the method and the redacted path and query of a request URL.
fn request_line(method: &Method, url: &Url) -> String {
    let shown = redact_url(url);
    let path = match shown
        .find("://")
        .and_then(|i| shown[i + 3..].find('/').map(|j| i + 3 + j))
    {
        Some(at) => &shown[at..],
        None => "/",
    };
    format!("{method} {path}")
}

/// The shared client: a `reqwest::Client` (one connection pool) plus the retry rule.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    retries: u32,
    backoff: Backoff,
    timeout: Duration,
    max_body: usize,
}

impl HttpClient {
    /// Build the client: rustls, [`USER_AGENT`], connect and request timeouts, no redirects.
    pub fn new(options: &HttpOptions) -> Result<HttpClient, HttpError> {
        let inner = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(USER_AGENT)
            .timeout(options.timeout)
            .connect_timeout(options.timeout.min(MAX_CONNECT_TIMEOUT))
            .redirect(reqwest::redirect::Policy::none())
            // Below the idle timeouts of common load balancers (60 s), so a kept-alive
            // connection is rarely cut under a request (which would leave a create unsure).
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build()
            .map_err(|e| HttpError::Setup(chain_message(e)))?;
        Ok(HttpClient {
            inner,
            retries: options.retries,
            backoff: options.backoff,
            timeout: options.timeout,
            max_body: DEFAULT_MAX_BODY,
        })
    }

    /// The cap on every answer read by [`HttpClient::send`] (default [`DEFAULT_MAX_BODY`]).
    pub fn with_max_body(mut self, max_body: usize) -> HttpClient {
        self.max_body = max_body;
        self
    }

    /// Start a request (add headers and body on the builder).
    pub fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.inner.request(method, url)
    }

    /// Send the request made by `build`, retrying transient failures as the module docs
    /// describe, and read the whole body. `build` is called once per attempt (bodies such as
    /// multipart forms cannot be cloned). Any final status is returned as a [`Reply`]; only a
    /// missing answer is an error.
    pub async fn send(
        &self,
        idempotency: Idempotency,
        build: impl Fn(&HttpClient) -> RequestBuilder,
    ) -> Result<Reply, HttpError> {
        self.send_limited(idempotency, self.max_body, build).await
    }

    /// [`HttpClient::send`] with its own cap on the body, in bytes.
    pub async fn send_limited(
        &self,
        idempotency: Idempotency,
        max_body: usize,
        build: impl Fn(&HttpClient) -> RequestBuilder,
    ) -> Result<Reply, HttpError> {
        let idempotent = idempotency == Idempotency::Idempotent;
        let mut attempt: u32 = 0;
        loop {
            let builder = build(self);
            let request = builder.build().map_err(|e| HttpError::Build {
                method: String::new(),
                url: e.url().map(redact_url).unwrap_or_default(),
                message: chain_message(e),
            })?;
            let method = request.method().clone();
            let url = redact_url(request.url());
            let line = request_line(&method, request.url());
            let can_retry = attempt < self.retries;
            let started = std::time::Instant::now();
            let took = |started: std::time::Instant| started.elapsed().as_millis();

            let response = match self.inner.execute(request).await {
                Ok(response) => response,
                Err(e) => {
                    // A connect error means nothing was sent: always safe to replay.
                    let sent = !e.is_connect();
                    let kind = NoAnswer::of(&e);
                    tracing::debug!(target: "kestra_sync::http", "{line} -> {} in {} ms", kind.words(), took(started));
                    let message = self.transport_message(e);
                    // A name that does not resolve will not resolve on the next try either.
                    if can_retry && (idempotent || !sent) && kind != NoAnswer::Dns {
                        let wait = self.backoff.delay(attempt);
                        // Refused and timed out read better in words than as an error chain.
                        let why = match kind {
                            NoAnswer::Other => message.as_str(),
                            known => known.words(),
                        };
                        tracing::warn!(
                            "{method} {url}: {why}; retry {} of {} in {:.1}s",
                            attempt + 1,
                            self.retries,
                            wait.as_secs_f64()
                        );
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                        continue;
                    }
                    return Err(if sent && !idempotent {
                        HttpError::MaybeApplied {
                            method: method.to_string(),
                            url,
                            message,
                        }
                    } else {
                        HttpError::Transport {
                            method: method.to_string(),
                            url,
                            message,
                            kind,
                        }
                    });
                }
            };

            let status = response.status();
            tracing::debug!(target: "kestra_sync::http", "{line} -> {status} in {} ms", took(started));
            if can_retry && retriable_status(status, idempotency) {
                let wait = retry_after(response.headers(), SystemTime::now())
                    .map(|d| d.min(self.backoff.max))
                    .unwrap_or_else(|| self.backoff.delay(attempt));
                tracing::warn!(
                    "{method} {url}: answered {status}; retry {} of {} in {:.1}s",
                    attempt + 1,
                    self.retries,
                    wait.as_secs_f64()
                );
                drop(response);
                tokio::time::sleep(wait).await;
                attempt += 1;
                continue;
            }
            if !idempotent && matches!(status.as_u16(), 502 | 504) {
                return Err(HttpError::MaybeApplied {
                    method: method.to_string(),
                    url,
                    message: format!("a gateway answered {status}"),
                });
            }

            let headers = response.headers().clone();
            let too_large = || HttpError::TooLarge {
                method: method.to_string(),
                url: url.clone(),
                status: status.as_u16(),
                limit: max_body,
            };
            match read_capped(response, max_body).await {
                Ok(Some(body)) => {
                    return Ok(Reply {
                        method,
                        url,
                        status,
                        headers,
                        body,
                    })
                }
                Ok(None) => return Err(too_large()),
                Err(e) => {
                    let kind = NoAnswer::of(&e);
                    let message = format!(
                        "answered {status} but the body could not be read: {}",
                        self.transport_message(e)
                    );
                    if idempotent && can_retry {
                        let wait = self.backoff.delay(attempt);
                        tracing::warn!("{method} {url}: {message}; retrying");
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                        continue;
                    }
                    return Err(if idempotent {
                        HttpError::Transport {
                            method: method.to_string(),
                            url,
                            message,
                            kind,
                        }
                    } else {
                        HttpError::MaybeApplied {
                            method: method.to_string(),
                            url,
                            message,
                        }
                    });
                }
            }
        }
    }

    fn transport_message(&self, e: reqwest::Error) -> String {
        if e.is_timeout() {
            format!("timed out after {}s", self.timeout.as_secs_f64())
        } else {
            chain_message(e)
        }
    }
}

/// The whole body, or `None` as soon as it is known to be longer than `max` bytes (from its
/// `Content-Length`, or while reading it): never more than `max` bytes are held.
async fn read_capped(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Option<Vec<u8>>, reqwest::Error> {
    let declared = response.content_length();
    if declared.is_some_and(|n| n > max as u64) {
        return Ok(None);
    }
    let mut body = Vec::with_capacity(declared.map_or(0, |n| n as usize).min(max));
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > max {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// Whether `status` is a transient failure worth retrying for this kind of request.
fn retriable_status(status: StatusCode, idempotency: Idempotency) -> bool {
    match status.as_u16() {
        429 | 503 => true,
        502 | 504 => idempotency == Idempotency::Idempotent,
        _ => false,
    }
}

/// The wait a `Retry-After` header asks for: whole seconds or an HTTP date (a date in the
/// past means "now"). `None` when absent or unreadable.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The message of a `reqwest::Error` and its causes, without the URL that its own `Display`
/// would print (it can carry user-info or a token in the query).
fn chain_message(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// Query parameter names whose values are never shown.
const SECRET_PARAMS: &[&str] = &[
    "token",
    "password",
    "passwd",
    "secret",
    "key",
    "signature",
    "sig",
    "auth",
    "credential",
    "session",
    "code",
];

/// A URL fit for messages: no user-info, no fragment, and the values of secret-looking query
/// parameters (`access_token`, `private_token`, `api_key`, `sig`, …) replaced by `***`.
pub fn redact_url(url: &Url) -> String {
    let mut clean = url.clone();
    let _ = clean.set_username("");
    let _ = clean.set_password(None);
    clean.set_fragment(None);
    if clean.query().is_some() {
        let pairs: Vec<(String, String)> = clean
            .query_pairs()
            .map(|(k, v)| {
                let lower = k.to_ascii_lowercase();
                let secret = SECRET_PARAMS.iter().any(|s| lower.contains(s));
                (
                    k.into_owned(),
                    if secret { "***".into() } else { v.into_owned() },
                )
            })
            .collect();
        clean.query_pairs_mut().clear().extend_pairs(pairs);
    }
    // Brackets of filter parameters read better unescaped.
    clean.as_str().replace("%5B", "[").replace("%5D", "]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn redact_url_drops_user_info_and_masks_secret_query_values() {
        let url = Url::parse(
            "https://alice:hunter2@git.example.com/api/v4/x?private_token=glpat-XYZ&page=2&api_key=k1#frag",
        )
        .unwrap();
        let shown = redact_url(&url);
        assert_eq!(
            shown,
            "https://git.example.com/api/v4/x?private_token=***&page=2&api_key=***"
        );
        for secret in ["alice", "hunter2", "glpat-XYZ", "k1", "frag"] {
            assert!(!shown.contains(secret), "{secret} leaked in {shown}");
        }
    }

    #[test]
    fn redact_url_keeps_filter_parameters_readable() {
        let mut url = Url::parse("https://k.example.com/api/v1/main/flows/search").unwrap();
        url.query_pairs_mut()
            .append_pair("page", "1")
            .append_pair("filters[namespace][PREFIX]", "prod");
        assert_eq!(
            redact_url(&url),
            "https://k.example.com/api/v1/main/flows/search?page=1&filters[namespace][PREFIX]=prod"
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h, now), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        h.insert(RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(90)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(90));
        h.insert(RETRY_AFTER, HeaderValue::from_str(&earlier).unwrap());
        assert_eq!(retry_after(&h, now), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(1000),
        };
        for _ in 0..50 {
            let d0 = b.delay(0);
            assert!(d0 >= Duration::from_millis(50) && d0 <= Duration::from_millis(100));
            let d2 = b.delay(2);
            assert!(d2 >= Duration::from_millis(200) && d2 <= Duration::from_millis(400));
            let d9 = b.delay(9);
            assert!(d9 >= Duration::from_millis(500) && d9 <= Duration::from_millis(1000));
            assert!(b.delay(u32::MAX) <= Duration::from_millis(1000));
        }
    }

    #[test]
    fn only_transient_statuses_are_retried_and_creates_only_when_not_performed() {
        use Idempotency::*;
        for code in [429, 502, 503, 504] {
            assert!(retriable_status(
                StatusCode::from_u16(code).unwrap(),
                Idempotent
            ));
        }
        for code in [400, 401, 403, 404, 409, 422, 500, 501] {
            assert!(!retriable_status(
                StatusCode::from_u16(code).unwrap(),
                Idempotent
            ));
            assert!(!retriable_status(
                StatusCode::from_u16(code).unwrap(),
                NotIdempotent
            ));
        }
        assert!(retriable_status(
            StatusCode::TOO_MANY_REQUESTS,
            NotIdempotent
        ));
        assert!(retriable_status(
            StatusCode::SERVICE_UNAVAILABLE,
            NotIdempotent
        ));
        assert!(!retriable_status(StatusCode::BAD_GATEWAY, NotIdempotent));
        assert!(!retriable_status(
            StatusCode::GATEWAY_TIMEOUT,
            NotIdempotent
        ));
    }
}
