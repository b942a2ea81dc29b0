//! Errors of the Kestra client. Each carries the method and URL (never credentials) and the
//! server's own message, read from either error body generation: Micronaut JSON
//! (`{"message", "_embedded": {"errors": [{"message", "path"}]}}`, Kestra ≤ 1.x) and
//! `application/problem+json` (`{type, title, status, detail, instance, errors}`, Kestra 2.0).

use reqwest::StatusCode;
use serde_json::Value;

use crate::http::{HttpError, NoAnswer, Reply};

/// Longest server message kept in an error; validation messages can be long, pages of HTML
/// from a proxy are not worth more.
const MAX_MESSAGE: usize = 4000;

/// A failed Kestra request.
#[derive(Debug, thiserror::Error)]
pub enum KestraError {
    /// The server answered with an error status.
    #[error("{}", status_text(*.status, .method, .url, .message, .hint))]
    Status {
        method: String,
        url: String,
        status: u16,
        /// The server's own message (Micronaut `message` + `_embedded.errors`, or
        /// problem+json `title`/`detail`/`errors`).
        message: String,
        /// What to do, e.g. for 401/403; empty when there is nothing to add.
        hint: String,
    },
    /// No answer: connection refused, a name that does not resolve, reset, timeout.
    #[error("{}", transport_text(.method, .url, .message, *.kind))]
    Transport {
        method: String,
        url: String,
        message: String,
        kind: NoAnswer,
    },
    /// A write was sent but its outcome is unknown (timeout or dropped connection after
    /// sending, a gateway's 502/504). Not retried: look at the flow before acting again.
    #[error("{method} {url}: {message}; the write may have been applied: check the flow on the server before retrying")]
    MaybeApplied {
        method: String,
        url: String,
        message: String,
    },
    /// An answer we could not understand.
    #[error("unexpected answer from Kestra to {url}: {message}")]
    Protocol { url: String, message: String },
    /// A request we refuse to send: a bad `--kestra-url`, an unusable namespace or id.
    #[error("{0}")]
    Invalid(String),
    /// A flow changed on the server while it was being read (a concurrent writer): what
    /// was read does not fit together, so nothing built on it can be trusted. Run again.
    #[error("{0}")]
    Changed(String),
}

/// `Kestra answered 401 to GET url: message. Hint`, without doubling the full stop the
/// server's message may end with. A redirect's hint is the whole message: what answered
/// may not be Kestra (a login proxy).
fn status_text(status: u16, method: &str, url: &str, message: &str, hint: &str) -> String {
    if (300..400).contains(&status) && !hint.is_empty() {
        return hint.to_string();
    }
    let mut text = format!("Kestra answered {status} to {method} {url}: {message}");
    if !hint.is_empty() {
        let keep = text.trim_end().trim_end_matches('.').len();
        text.truncate(keep);
        let mut chars = hint.chars();
        let first: String = chars
            .next()
            .map(|c| c.to_uppercase().collect())
            .unwrap_or_default();
        text.push_str(&format!(". {first}{}", chars.as_str()));
    }
    text
}

/// `http://host:port` of a (redacted) request URL, and the request's path.
fn origin_and_path(url: &str) -> (String, String) {
    match url::Url::parse(url) {
        Ok(u) => {
            let origin = u.origin().ascii_serialization();
            (
                origin.clone(),
                url.strip_prefix(&origin).unwrap_or(url).to_string(),
            )
        }
        Err(_) => (url.to_string(), String::new()),
    }
}

/// One line for a request that got no answer: what happened, in the words of the URL the
/// user gave, and what to check.
fn transport_text(method: &str, url: &str, message: &str, kind: NoAnswer) -> String {
    let (origin, path) = origin_and_path(url);
    let host = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    match kind {
        NoAnswer::Refused => format!(
            "cannot reach Kestra at {origin}: connection refused ({method} {path}), nothing listens there. Check --kestra-url (KESTRA_URL), that Kestra is running, and that this machine or CI runner can reach it"
        ),
        NoAnswer::Dns => format!(
            "cannot reach Kestra at {origin}: the host name `{host}` does not resolve (DNS). Check the spelling of --kestra-url (KESTRA_URL), and that this machine or CI runner can resolve it (a private name is not visible from a hosted runner)"
        ),
        NoAnswer::Timeout => format!(
            "no answer from Kestra at {origin}: {method} {path} {message}. Check that Kestra is running and reachable from this machine or CI runner (a firewall that drops packets looks like this), or raise --timeout (KESTRA_SYNC_TIMEOUT)"
        ),
        NoAnswer::Other => format!(
            "cannot reach Kestra at {origin} ({method} {path}): {message}. Check --kestra-url (KESTRA_URL) and that this machine or CI runner can reach it"
        ),
    }
}

/// Which credentials a request carried, for the hint of a 401 (never the secret itself).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Login {
    /// No `Authorization` header.
    #[default]
    None,
    /// HTTP Basic with this user.
    Basic { username: String },
    /// `Authorization: Bearer` (an EE API token).
    Token,
}

/// What to check when `--kestra-url` does not lead to Kestra's API.
pub(crate) const CHECK_URL: &str = "Check --kestra-url (KESTRA_URL): give the address Kestra's UI opens at, without /ui, e.g. https://kestra.example.com";

impl KestraError {
    /// HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            KestraError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether a write may have been performed although it failed: the caller should look
    /// (`get_flow`) before deciding what happened.
    pub fn may_have_been_applied(&self) -> bool {
        matches!(self, KestraError::MaybeApplied { .. })
    }

    /// The error for an answer with an unexpected status to a request sent with `login`.
    pub(crate) fn from_reply(reply: &Reply, login: &Login) -> KestraError {
        let status = reply.status;
        let message = server_message(status, reply.header("content-type"), &reply.body);
        let hint = match status.as_u16() {
            401 => match login {
                Login::None => "the server requires a login and none was given: set KESTRA_USERNAME and KESTRA_PASSWORD (--kestra-username/--kestra-password), or KESTRA_API_TOKEN (--kestra-api-token) on Kestra Enterprise".to_string(),
                Login::Basic { username } => format!("the server refused user `{username}` with this password: check --kestra-username and --kestra-password (KESTRA_USERNAME, KESTRA_PASSWORD); the user is the email you log in to Kestra's UI with"),
                Login::Token => "the server refused the API token: check --kestra-api-token (KESTRA_API_TOKEN): is it expired or revoked, and does it belong to this tenant?".to_string(),
            },
            403 => "the credentials are valid but not allowed to do this: give the user or service account the FLOW permissions on the namespace (and tenant)".to_string(),
            413 => "the request is too large for the server or a proxy in front of it".to_string(),
            300..=399 => match reply.header("location") {
                Some(location) => redirect_hint(reply.method.as_str(), &reply.url, status.as_u16(), location),
                None => format!("{} {} answered {status}, a redirect without a location: check --kestra-url", reply.method, reply.url),
            },
            _ => String::new(),
        };
        KestraError::Status {
            method: reply.method.to_string(),
            url: reply.url.clone(),
            status: status.as_u16(),
            message,
            hint,
        }
    }

    /// The same error with a hint added (keeps any hint already there).
    pub(crate) fn with_hint(mut self, extra: &str) -> KestraError {
        if let KestraError::Status { hint, .. } = &mut self {
            if hint.is_empty() {
                *hint = extra.to_string();
            } else {
                *hint = format!("{hint}; {extra}");
            }
        }
        self
    }
}

impl From<HttpError> for KestraError {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Setup(message) => KestraError::Invalid(format!(
                "cannot set up the HTTP client for Kestra: {message}"
            )),
            HttpError::Build {
                method,
                url,
                message,
            } => KestraError::Invalid(format!(
                "cannot build the request {method} {url}: {message}"
            )),
            HttpError::Transport {
                method,
                url,
                message,
                kind,
            } => KestraError::Transport {
                method,
                url,
                message,
                kind,
            },
            HttpError::MaybeApplied {
                method,
                url,
                message,
            } => KestraError::MaybeApplied {
                method,
                url,
                message,
            },
            HttpError::TooLarge {
                method,
                url,
                status,
                limit,
            } => KestraError::Protocol {
                url,
                message: format!(
                    "{method} was answered {status} with a body larger than {} MiB, more than kestra-sync reads from one answer (nothing was used from it): check that --kestra-url is the Kestra server's base URL, not a proxy or a file server",
                    limit >> 20
                ),
            },
        }
    }
}

/// What to do about a redirect. The same API path at another address (`http` to `https`, a
/// new host): use that address. Anywhere else (a login page): Kestra sits behind a login
/// proxy, which a program cannot pass.
fn redirect_hint(method: &str, request_url: &str, status: u16, location: &str) -> String {
    let shown = redact_location(location);
    let request = url::Url::parse(request_url).ok();
    let target = request
        .as_ref()
        .and_then(|r| r.join(location).ok())
        .or_else(|| url::Url::parse(location).ok());
    if let (Some(request), Some(target)) = (&request, &target) {
        let path = request.path();
        if let Some(base) = target.path().strip_suffix(path) {
            let mut base_url = target.clone();
            base_url.set_path(base);
            base_url.set_query(None);
            let base = crate::http::redact_url(&base_url);
            return format!(
                "{method} {request_url} answered {status}, a redirect to {shown}: give --kestra-url {} (redirects are not followed, so credentials never go to another address)",
                base.trim_end_matches('/')
            );
        }
    }
    // A login page: its query (state, nonce, return address) is nobody's business.
    let page = target.map_or_else(
        || shown.split('?').next().unwrap_or("").to_string(),
        |mut t| {
            t.set_query(None);
            crate::http::redact_url(&t)
        },
    );
    let (origin, path) = origin_and_path(request_url);
    format!(
        "Kestra at {origin} is behind a login page: {method} {path} answered {status}, a redirect to {page}, and kestra-sync cannot pass a single sign-on page. Give --kestra-url an address that reaches Kestra's API directly (an internal URL, or a route your proxy lets API clients through)"
    )
}

fn redact_location(location: &str) -> String {
    match url::Url::parse(location) {
        Ok(url) => crate::http::redact_url(&url),
        // A relative location carries no host and no user-info; drop any query anyway.
        Err(_) => location.split(['?', '#']).next().unwrap_or("").to_string(),
    }
}

/// The server's own message from an error body of either generation; the status reason when
/// the body is empty (Kestra's 401 has none); readable text from anything else.
pub(crate) fn server_message(
    status: StatusCode,
    content_type: Option<&str>,
    body: &[u8],
) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let reason = status.canonical_reason().unwrap_or("error").to_string();
    if text.is_empty() {
        return format!("{reason} (empty answer)");
    }
    let message = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => {
            let json = Value::Object(map);
            problem_message(&json)
                .or_else(|| micronaut_message(&json))
                .unwrap_or_else(|| collapse(text))
        }
        Ok(_) => collapse(text),
        Err(_) => {
            let html = content_type.is_some_and(|c| c.contains("html")) || text.starts_with('<');
            if html {
                html_text(text)
            } else {
                text.to_string()
            }
        }
    };
    if message.trim().is_empty() {
        return reason;
    }
    truncate(message, MAX_MESSAGE)
}

/// `application/problem+json` (RFC 9457), Kestra 2.0: `title`, `detail`, `errors`.
fn problem_message(json: &Value) -> Option<String> {
    let title = json.get("title").and_then(Value::as_str).map(str::trim);
    let detail = json.get("detail").and_then(Value::as_str).map(str::trim);
    if title.is_none() && detail.is_none() {
        return None;
    }
    let mut message = match (title, detail) {
        (Some(t), Some(d)) if !d.is_empty() && !t.is_empty() && d != t => format!("{t}: {d}"),
        (Some(""), Some(d)) => d.to_string(),
        (Some(t), _) => t.to_string(),
        (None, Some(d)) => d.to_string(),
        (None, None) => String::new(),
    };
    if let Some(errors) = json.get("errors").and_then(Value::as_array) {
        append_errors(&mut message, errors);
    }
    Some(message)
}

/// Micronaut `JsonError`, Kestra ≤ 1.x: `message` and `_embedded.errors[{message, path}]`.
fn micronaut_message(json: &Value) -> Option<String> {
    let mut message = json
        .get("message")
        .and_then(Value::as_str)?
        .trim()
        .to_string();
    if let Some(errors) = json
        .get("_embedded")
        .and_then(|e| e.get("errors"))
        .and_then(Value::as_array)
    {
        append_errors(&mut message, errors);
    }
    Some(message)
}

/// Add each detailed error (`{message|detail, path|pointer}`) the main message does not
/// already contain.
fn append_errors(message: &mut String, errors: &[Value]) {
    for error in errors {
        let Some(line) = error_line(error) else {
            continue;
        };
        if message.contains(&line) {
            continue;
        }
        if !message.is_empty() {
            message.push_str("\n- ");
        }
        message.push_str(&line);
    }
}

/// One detailed error as `path: message`.
pub(crate) fn error_line(error: &Value) -> Option<String> {
    if let Some(s) = error.as_str() {
        return Some(s.trim().to_string()).filter(|s| !s.is_empty());
    }
    let text = ["detail", "message", "title"]
        .iter()
        .find_map(|k| error.get(*k).and_then(Value::as_str))
        .map(str::trim)
        .filter(|s| !s.is_empty())?;
    let location = ["path", "pointer", "field"]
        .iter()
        .find_map(|k| error.get(*k).and_then(Value::as_str))
        .map(str::trim)
        .filter(|s| !s.is_empty());
    Some(match location {
        Some(path) if !text.contains(path) => format!("{path}: {text}"),
        _ => text.to_string(),
    })
}

/// The readable text of an HTML error page: its body (the `<title>` usually repeats the
/// first heading), or the title when the body has no text.
fn html_text(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let body = match (lower.find("<head"), lower.find("</head>")) {
        (Some(start), Some(end)) if start < end => {
            format!("{}{}", &html[..start], &html[end + "</head>".len()..])
        }
        _ => html.to_string(),
    };
    let text = collapse(&strip_tags(&body));
    if text.is_empty() {
        collapse(&strip_tags(html))
    } else {
        text
    }
}

fn strip_tags(html: &str) -> String {
    // Drop <style>/<script> content and every tag; good enough for a proxy's error page.
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let lower = after.get(..8).unwrap_or(after).to_ascii_lowercase();
        let skip_to = if lower.starts_with("<style") || lower.starts_with("<script") {
            let close = if lower.starts_with("<style") {
                "</style>"
            } else {
                "</script>"
            };
            after
                .to_ascii_lowercase()
                .find(close)
                .map(|i| i + close.len())
        } else {
            after.find('>').map(|i| i + 1)
        };
        match skip_to {
            Some(n) => {
                out.push(' ');
                rest = &after[n..];
            }
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const MICRONAUT_422: &str = r#"{"message":"Invalid entity: flow.id: Flow id already exists","_links":{"self":{"href":"/api/v1/main/flows","templated":false}},"_embedded":{"errors":[{"message":"Flow id already exists","path":"flow.id"}]}}"#;

    #[test]
    fn micronaut_json_error_gives_the_message_without_repeating_it() {
        let m = server_message(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("application/json"),
            MICRONAUT_422.as_bytes(),
        );
        assert_eq!(m, "Invalid entity: flow.id: Flow id already exists");
    }

    #[test]
    fn micronaut_embedded_errors_are_added_when_the_message_lacks_them() {
        let body = r#"{"message":"Invalid entity","_embedded":{"errors":[{"message":"must not be empty","path":"tasks"},{"message":"must match \"^[a-z0-9][a-z0-9._-]*\"","path":"namespace"}]}}"#;
        let m = server_message(StatusCode::UNPROCESSABLE_ENTITY, None, body.as_bytes());
        assert_eq!(
            m,
            "Invalid entity\n- tasks: must not be empty\n- namespace: must match \"^[a-z0-9][a-z0-9._-]*\""
        );
    }

    #[test]
    fn problem_json_gives_title_detail_and_errors() {
        let body = r#"{"type":"about:blank","title":"Unprocessable Entity","status":422,"detail":"Invalid flow","instance":"/api/v1/main/flows","errors":[{"detail":"must not be empty","pointer":"/tasks","path":"tasks"}]}"#;
        let m = server_message(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("application/problem+json"),
            body.as_bytes(),
        );
        assert_eq!(
            m,
            "Unprocessable Entity: Invalid flow\n- tasks: must not be empty"
        );
    }

    #[test]
    fn empty_body_gives_the_status_reason() {
        assert_eq!(
            server_message(StatusCode::UNAUTHORIZED, None, b""),
            "Unauthorized (empty answer)"
        );
    }

    #[test]
    fn html_from_a_proxy_is_reduced_to_its_text() {
        let body = "<html><head><title>502 Bad Gateway</title><style>body{color:red}</style></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>";
        let m = server_message(StatusCode::BAD_GATEWAY, Some("text/html"), body.as_bytes());
        assert_eq!(m, "502 Bad Gateway nginx");
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let body = "é".repeat(5000);
        let m = server_message(StatusCode::INTERNAL_SERVER_ERROR, None, body.as_bytes());
        assert!(m.len() <= MAX_MESSAGE + '…'.len_utf8());
        assert!(m.ends_with('…'));
    }
}
