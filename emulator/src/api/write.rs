//! Write endpoints: create (`POST /flows`), update (`PUT /flows/{ns}/{id}`), soft delete
//! (`DELETE /flows/{ns}/{id}`), with the server's order of checks and its messages.

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{flow_json, json_response, require_yaml, tenant, uri_text, AppState, Params};
use crate::errors::ApiError;
use crate::flowcheck::{self, Parsed, Violation};
use crate::store::{Revision, Store};

fn violation(path: &str, message: impl Into<String>) -> Violation {
    Violation {
        path: path.into(),
        message: message.into(),
    }
}

/// Body as text, parsed and model-checked: what create and update both need.
fn checked_source(
    sh: &AppState,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(String, Parsed, String, String), ApiError> {
    require_yaml(headers)?;
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "Bad Request",
            "Required Body [flow] not specified",
        ));
    }
    let source = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::bad_request("Bad Request", "the body is not valid UTF-8"))?;
    let parsed =
        flowcheck::parse(&source).map_err(|e| ApiError::invalid(vec![violation("", e.0)]))?;
    let violations = flowcheck::check(&parsed, &sh.rules());
    if !violations.is_empty() {
        return Err(ApiError::invalid(violations));
    }
    let (Some(ns), Some(id)) = (parsed.namespace.clone(), parsed.id.clone()) else {
        return Err(ApiError::invalid(vec![violation("id", "must not be null")]));
    };
    Ok((source, parsed, ns, id))
}

/// `POST /flows` (application/x-yaml) → `FlowWithSource`; 422 if the flow exists.
pub(super) async fn create(
    State(sh): State<AppState>,
    Params(params): Params,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let uri = uri_text(&uri);
    let (source, _parsed, ns, id) = match checked_source(&sh, &headers, &body) {
        Ok(c) => c,
        Err(e) => return e.render(sh.version, &uri),
    };
    let tenant = tenant(&sh, &params);
    let store = sh.store();
    if store.live(&tenant, &ns, &id).is_some() {
        return ApiError::invalid(vec![violation("flow.id", "Flow id already exists")])
            .render(sh.version, &uri);
    }
    save_and_answer(&sh, store, &tenant, &ns, &id, &source)
}

/// `PUT /flows/{namespace}/{id}` → `FlowWithSource`; 404 if missing; 422 if invalid or if
/// the body's id/namespace differ from the path. An unchanged source makes no revision.
pub(super) async fn update(
    State(sh): State<AppState>,
    Params(params): Params,
    uri: OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let uri = uri_text(&uri);
    if let Err(e) = require_yaml(&headers) {
        return e.render(sh.version, &uri);
    }
    let (Some(path_ns), Some(path_id)) = (params.get("namespace"), params.get("id")) else {
        return ApiError::not_found().render(sh.version, &uri);
    };
    let tenant = tenant(&sh, &params);
    if sh.store().live(&tenant, path_ns, path_id).is_none() {
        return ApiError::not_found().render(sh.version, &uri);
    }
    let (source, _parsed, ns, id) = match checked_source(&sh, &headers, &body) {
        Ok(c) => c,
        Err(e) => return e.render(sh.version, &uri),
    };
    let mut mismatch = Vec::new();
    if &id != path_id {
        mismatch.push(violation("flow.id", "Illegal flow id update"));
    }
    if &ns != path_ns {
        mismatch.push(violation("flow.namespace", "Illegal namespace update"));
    }
    if !mismatch.is_empty() {
        return ApiError::invalid(mismatch).render(sh.version, &uri);
    }
    let store = sh.store();
    // deleted meanwhile by a concurrent request
    if store.live(&tenant, &ns, &id).is_none() {
        return ApiError::not_found().render(sh.version, &uri);
    }
    save_and_answer(&sh, store, &tenant, &ns, &id, &source)
}

/// Save `source` (a new revision unless it is the stored one), count the write, and answer
/// the `FlowWithSource` both create and update return.
fn save_and_answer(
    sh: &AppState,
    mut store: std::sync::MutexGuard<'_, Store>,
    tenant: &str,
    ns: &str,
    id: &str,
    source: &str,
) -> Response {
    let saved = store.save(tenant, ns, id, source);
    drop(store);
    if saved.changed {
        sh.count_write();
    }
    let rev = Revision {
        source: saved.source,
        revision: saved.revision,
        deleted: false,
    };
    json_response(StatusCode::OK, &flow_json(sh, ns, id, &rev, true))
}

/// `DELETE /flows/{namespace}/{id}` → 204 (soft delete, a new revision marked deleted);
/// 404 if there is no live flow.
pub(super) async fn delete(
    State(sh): State<AppState>,
    Params(params): Params,
    uri: OriginalUri,
) -> Response {
    let uri = uri_text(&uri);
    let (Some(ns), Some(id)) = (params.get("namespace"), params.get("id")) else {
        return ApiError::not_found().render(sh.version, &uri);
    };
    let tenant = tenant(&sh, &params);
    let deleted = sh.store().delete(&tenant, ns, id);
    match deleted {
        Some(_) => {
            sh.count_write();
            StatusCode::NO_CONTENT.into_response()
        }
        None => ApiError::not_found().render(sh.version, &uri),
    }
}
