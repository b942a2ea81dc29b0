//! The one HTTP client setup shared by the Kestra and GitLab clients: user agent, timeouts,
//! retries of transient failures only (connection errors, 429 with `Retry-After`,
//! 502/503/504) with backoff, and never a secret in a log or an error.

/// User agent sent on every request.
pub const USER_AGENT: &str = concat!("kestra-sync/", env!("CARGO_PKG_VERSION"));
