//! Errors of the Kestra client. Each carries the URL (never credentials) and the server's
//! own message, parsed from either error body generation.

/// A failed Kestra request.
#[derive(Debug, thiserror::Error)]
pub enum KestraError {
    /// The server answered with an error status.
    #[error("Kestra answered {status} to {method} {url}: {message}{hint}")]
    Status {
        method: String,
        url: String,
        status: u16,
        /// The server's own message (Micronaut `message` + `_embedded.errors`, or
        /// problem+json `title`/`detail`/`errors`).
        message: String,
        /// What to do, e.g. for 401/403.
        hint: String,
    },
    /// No answer: connection refused, reset, timeout.
    #[error("cannot reach Kestra at {url}: {message}")]
    Transport { url: String, message: String },
    /// An answer we could not understand.
    #[error("unexpected answer from Kestra to {url}: {message}")]
    Protocol { url: String, message: String },
}

impl KestraError {
    /// HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            KestraError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}
