//! Error answers in the two generations the real server has used: Micronaut `JsonError`
//! (`{"message", "_links", "_embedded": {"errors": [{"message", "path"}]}}`, servers < 2.0)
//! and RFC 9457 `application/problem+json` (`{type, title, status, detail, instance,
//! errors?}`, servers ≥ 2.0). 401 is not here: it has an empty body in both.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::flowcheck::{joined, Violation};
use crate::version::Version;

/// An error to answer, independent of the generation.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    /// Micronaut's reason prefix (`Invalid entity`, `Not Found`…), the problem `title`.
    pub reason: String,
    /// The detail after the reason (`flow.id: Flow id already exists`), if any.
    pub detail: Option<String>,
    pub violations: Vec<Violation>,
}

impl ApiError {
    pub fn not_found() -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            reason: "Not Found".into(),
            detail: None,
            violations: Vec::new(),
        }
    }

    /// 422 from constraint violations (`Invalid entity: path: message, …`).
    pub fn invalid(violations: Vec<Violation>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            reason: "Invalid entity".into(),
            detail: Some(joined(&violations)),
            violations,
        }
    }

    pub fn bad_request(reason: &str, detail: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            reason: reason.into(),
            detail: Some(detail.into()),
            violations: Vec::new(),
        }
    }

    pub fn unsupported_media_type(got: &str, allowed: &str) -> Self {
        ApiError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            reason: "Unsupported Media Type".into(),
            detail: Some(format!(
                "Content Type [{got}] not allowed. Allowed types: [{allowed}]"
            )),
            violations: Vec::new(),
        }
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            reason: "Internal server error".into(),
            detail: Some(detail.into()),
            violations: Vec::new(),
        }
    }

    fn message(&self) -> String {
        match &self.detail {
            Some(d) if !d.is_empty() => format!("{}: {}", self.reason, d),
            _ => self.reason.clone(),
        }
    }

    /// The answer for a server of `version`, for a request on `uri` (path and query).
    pub fn render(&self, version: Version, uri: &str) -> Response {
        let (body, content_type) = if version.problem_json() {
            let mut body = json!({
                "type": "about:blank",
                "title": self.reason,
                "status": self.status.as_u16(),
                "detail": self.message(),
                "instance": uri,
            });
            if !self.violations.is_empty() {
                body["errors"] = Value::Array(
                    self.violations
                        .iter()
                        .map(|v| {
                            json!({
                                "detail": v.message,
                                "pointer": format!("/{}", v.path.replace('.', "/")),
                                "path": v.path,
                            })
                        })
                        .collect(),
                );
            }
            (body, "application/problem+json")
        } else {
            let mut body = json!({
                "message": self.message(),
                "_links": {"self": {"href": uri, "templated": false}},
            });
            if !self.violations.is_empty() {
                body["_embedded"] = json!({
                    "errors": self.violations.iter().map(|v| json!({
                        "message": v.message,
                        "path": v.path,
                    })).collect::<Vec<_>>()
                });
            }
            (body, "application/json")
        };
        let mut resp = (self.status, body.to_string()).into_response();
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        resp
    }
}

/// 401: empty body, `WWW-Authenticate: Basic` (as Kestra's `AuthenticationFilter`).
pub(crate) fn unauthorized() -> Response {
    let mut resp = StatusCode::UNAUTHORIZED.into_response();
    resp.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
    resp
}
