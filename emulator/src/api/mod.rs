//! The routes of the emulated Kestra API and what they share: the path form per version
//! (`/api/v1/{tenant}/flows/…` since 0.23, `/api/v1/flows/…` before), tenant resolution,
//! the JSON shape of a flow (`Flow` / `FlowWithSource`), content-type checks.
//! Handlers live in [`read`], [`write`] and [`validate`].

mod files;
mod read;
mod validate;
mod write;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequestParts, OriginalUri, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put, MethodRouter};
use axum::Router;
use serde_json::{json, Value};

use crate::errors::ApiError;
use crate::store::Revision;
use crate::version::Version;
use crate::Shared;

pub(crate) type AppState = Arc<Shared>;

/// Routes under the flows prefix: (method, suffix).
const FLOW_ROUTES: [(&str, &str); 8] = [
    ("POST", ""),
    ("GET", "/search"),
    ("GET", "/export/by-query"),
    ("POST", "/validate"),
    ("GET", "/{namespace}"),
    ("GET", "/{namespace}/{id}"),
    ("PUT", "/{namespace}/{id}"),
    ("DELETE", "/{namespace}/{id}"),
];

/// Routes under a namespace's files prefix: (method, suffix).
const FILE_ROUTES: [(&str, &str); 7] = [
    ("GET", ""),
    ("POST", ""),
    ("DELETE", ""),
    ("GET", "/directory"),
    ("POST", "/directory"),
    ("GET", "/revisions"),
    ("GET", "/export"),
];

/// Every (method, path template) served for `version`: the single source the router is
/// built from, exposed so conformance tests can check each against the OpenAPI spec.
pub(crate) fn served_routes(version: Version) -> Vec<(&'static str, String)> {
    let flows = if version.tenanted_paths() {
        "/api/v1/{tenant}/flows"
    } else {
        "/api/v1/flows"
    };
    let mut routes = vec![("GET", "/api/v1/configs".to_string())];
    if !version.configs_open() {
        routes.push(("GET", "/api/v1/configs/login".to_string()));
    }
    routes.extend(
        FLOW_ROUTES
            .iter()
            .map(|(method, suffix)| (*method, format!("{flows}{suffix}"))),
    );
    let files = if version.tenanted_paths() {
        "/api/v1/{tenant}/namespaces/{namespace}/files"
    } else {
        "/api/v1/namespaces/{namespace}/files"
    };
    routes.extend(
        FILE_ROUTES
            .iter()
            .map(|(method, suffix)| (*method, format!("{files}{suffix}"))),
    );
    routes
}

/// The handler of one served route.
fn handler(method: &str, path: &str) -> Option<MethodRouter<AppState>> {
    if let Some((_, rest)) = path.split_once("/{namespace}/files") {
        return Some(match (method, rest) {
            ("GET", "") => get(files::get_file),
            ("POST", "") => post(files::upload),
            ("DELETE", "") => delete(files::delete_file),
            ("GET", "/directory") => get(files::list_folder),
            ("POST", "/directory") => post(files::make_folder),
            ("GET", "/revisions") => get(files::revisions),
            ("GET", "/export") => get(files::export),
            _ => return None,
        });
    }
    let suffix = path.split_once("/flows").map_or(path, |(_, rest)| rest);
    Some(match (method, path, suffix) {
        ("GET", "/api/v1/configs", _) => get(configs),
        ("GET", "/api/v1/configs/login", _) => get(configs_login),
        ("POST", _, "") => post(write::create),
        ("GET", _, "/search") => get(read::search),
        ("GET", _, "/export/by-query") => get(read::export),
        ("POST", _, "/validate") => post(validate::validate),
        ("GET", _, "/{namespace}") => get(read::list_namespace),
        ("GET", _, "/{namespace}/{id}") => get(read::get_flow),
        ("PUT", _, "/{namespace}/{id}") => put(write::update),
        ("DELETE", _, "/{namespace}/{id}") => delete(write::delete),
        _ => return None,
    })
}

/// Every route the emulator serves, for the version it emulates.
pub(crate) fn router(shared: AppState) -> Router {
    let mut r = Router::new();
    for (method, path) in served_routes(shared.version) {
        if let Some(h) = handler(method, &path) {
            r = r.route(&path, h);
        }
    }
    r.fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(shared)
}

/// Path and query of the request, as the server echoes it in error bodies.
pub(crate) fn uri_text(uri: &OriginalUri) -> String {
    uri.0
        .path_and_query()
        .map_or_else(|| uri.0.path().to_string(), |pq| pq.as_str().to_string())
}

async fn not_found(State(sh): State<AppState>, uri: OriginalUri) -> Response {
    ApiError::not_found().render(sh.version, &uri_text(&uri))
}

async fn method_not_allowed(State(sh): State<AppState>, uri: OriginalUri) -> Response {
    let mut e = ApiError::not_found();
    e.status = StatusCode::METHOD_NOT_ALLOWED;
    e.reason = "Method Not Allowed".into();
    e.render(sh.version, &uri_text(&uri))
}

/// `GET /api/v1/configs`: what clients use to learn version and edition.
async fn configs(State(sh): State<AppState>) -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "uuid": "00000000-0000-0000-0000-000000000000",
            "version": sh.version_text,
            "edition": sh.edition,
            "commitId": "emulator",
            "commitDate": "2025-01-01T00:00:00Z",
            "isCustomDashboardsEnabled": false,
            "isAnonymousUsageEnabled": false,
            "isUiAnonymousUsageEnabled": false,
            "isBasicAuthInitialized": true,
            "systemNamespace": "system",
            "hiddenLabelsPrefixes": ["system."],
            "isAiEnabled": false,
        }),
    )
}

/// `GET /api/v1/configs/login` (2.0): the part of the configuration readable before login.
async fn configs_login() -> Response {
    json_response(StatusCode::OK, &json!({"isBasicAuthInitialized": true}))
}

pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// Path parameters of the matched route; empty when the route has none (untenanted
/// `/api/v1/flows`) or they do not decode.
pub(crate) struct Params(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Params(
            Path::<HashMap<String, String>>::from_request_parts(parts, state)
                .await
                .map(|p| p.0)
                .unwrap_or_default(),
        ))
    }
}

/// Tenant of a request (OSS: always `main`).
pub(crate) fn tenant(sh: &Shared, params: &HashMap<String, String>) -> String {
    sh.resolve_tenant(params.get("tenant").map(String::as_str))
}

/// The media type of a request without parameters, lower-cased (`""` when absent).
pub(crate) fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Create and update consume `application/x-yaml` only (the JSON variants are deprecated
/// and hidden on the real server; the emulator does not serve them).
pub(crate) fn require_yaml(headers: &HeaderMap) -> Result<(), ApiError> {
    let mt = media_type(headers);
    if mt == "application/x-yaml" {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type(&mt, "application/x-yaml"))
    }
}

/// The JSON of a flow revision: `Flow` (no source) or `FlowWithSource`. The model
/// properties come from the stored YAML; `id`, `namespace`, `revision`, `disabled`,
/// `deleted` (and `draft` on 2.0) always present; labels given as a map become a list of
/// `{key, value}` as the server serializes them.
pub(crate) fn flow_json(
    sh: &Shared,
    namespace: &str,
    id: &str,
    rev: &Revision,
    with_source: bool,
) -> Value {
    let mut map = (*sh.parsed_json(&rev.source)).clone();
    map.insert("id".into(), json!(id));
    map.insert("namespace".into(), json!(namespace));
    map.insert("revision".into(), json!(rev.revision));
    let disabled = map
        .get("disabled")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    map.insert("disabled".into(), json!(disabled));
    map.insert("deleted".into(), json!(rev.deleted));
    if sh.version.has_draft() {
        let draft = map.get("draft").and_then(Value::as_bool).unwrap_or(false);
        map.insert("draft".into(), json!(draft));
    }
    if let Some(Value::Object(labels)) = map.get("labels") {
        let list: Vec<Value> = labels
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                json!({"key": k, "value": value})
            })
            .collect();
        map.insert("labels".into(), Value::Array(list));
    }
    map.retain(|_, v| !v.is_null());
    if with_source {
        map.insert("source".into(), json!(rev.source));
    } else {
        map.remove("source");
    }
    Value::Object(map)
}
