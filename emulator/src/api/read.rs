//! Read endpoints: get one flow, list one namespace, search (paged), export (ZIP).

use std::collections::HashMap;
use std::io::Write;

use axum::extract::{OriginalUri, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::{flow_json, json_response, tenant, uri_text, AppState, Params};
use crate::errors::ApiError;
use crate::flowcheck::Violation;
use crate::query::{self, Listing};
use crate::store::StoredFlow;

/// Micronaut's boolean query values: `true`/`false`, anything else is a 400.
fn bool_param(q: &HashMap<String, String>, name: &str) -> Result<bool, ApiError> {
    match q.get(name).map(|s| s.to_ascii_lowercase()) {
        None => Ok(false),
        Some(s) if s == "true" => Ok(true),
        Some(s) if s == "false" || s.is_empty() => Ok(false),
        Some(s) => Err(ApiError::bad_request(
            "Bad Request",
            format!("Failed to convert argument [{name}] for value [{s}]"),
        )),
    }
}

fn query_map(raw: &Option<String>) -> HashMap<String, String> {
    raw.as_deref()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

/// `GET /flows/{namespace}/{id}?source=&revision=&allowDeleted=`.
pub(super) async fn get_flow(
    State(sh): State<AppState>,
    Params(params): Params,
    RawQuery(raw): RawQuery,
    uri: OriginalUri,
) -> Response {
    let uri = uri_text(&uri);
    let q = query_map(&raw);
    let (with_source, allow_deleted) =
        match (bool_param(&q, "source"), bool_param(&q, "allowDeleted")) {
            (Ok(s), Ok(a)) => (s, a),
            (Err(e), _) | (_, Err(e)) => return e.render(sh.version, &uri),
        };
    let revision = match q.get("revision").filter(|s| !s.is_empty()) {
        None => None,
        Some(r) => match r.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                return ApiError::bad_request(
                    "Bad Request",
                    format!("Failed to convert argument [revision] for value [{r}]"),
                )
                .render(sh.version, &uri)
            }
        },
    };
    let (Some(ns), Some(id)) = (params.get("namespace"), params.get("id")) else {
        return ApiError::not_found().render(sh.version, &uri);
    };
    let tenant = tenant(&sh, &params);
    let store = sh.store();
    let found = match revision {
        Some(n) => store.revision(&tenant, ns, id, n),
        None => store.latest(&tenant, ns, id),
    };
    match found {
        Some(rev) if allow_deleted || !rev.deleted => {
            json_response(StatusCode::OK, &flow_json(&sh, ns, id, rev, with_source))
        }
        _ => ApiError::not_found().render(sh.version, &uri),
    }
}

/// `GET /flows/{namespace}`: live flows of exactly that namespace, without source (of
/// the whole tenant on a server told to ignore namespace filters).
pub(super) async fn list_namespace(State(sh): State<AppState>, Params(params): Params) -> Response {
    let tenant = tenant(&sh, &params);
    let ns = params.get("namespace").cloned().unwrap_or_default();
    let flows: Vec<Value> = live_matching(&sh, &tenant, |namespace, _| {
        sh.ignore_namespace_filters || namespace == ns
    })
    .iter()
    .map(|f| stored_json(&sh, f, false))
    .collect();
    json_response(StatusCode::OK, &Value::Array(flows))
}

fn live_matching(
    sh: &AppState,
    tenant: &str,
    keep: impl Fn(&str, &str) -> bool,
) -> Vec<StoredFlow> {
    sh.store().live_flows_matching(tenant, keep, true)
}

fn stored_json(sh: &AppState, f: &StoredFlow, with_source: bool) -> Value {
    let rev = crate::store::Revision {
        source: f.source.clone(),
        revision: f.revision,
        deleted: false,
    };
    flow_json(sh, &f.namespace, &f.id, &rev, with_source)
}

fn parse_listing(sh: &AppState, raw: &Option<String>) -> Result<Listing, ApiError> {
    query::parse(
        raw.as_deref().unwrap_or(""),
        sh.version,
        !sh.ignore_namespace_filters,
    )
    .map_err(|e| ApiError::bad_request("Invalid query filters", e.0))
}

/// `page`/`size`: integers ≥ 1 (defaults 1 and 10).
fn page_param(value: Option<&str>, name: &str, default: u64) -> Result<u64, ApiError> {
    let Some(text) = value.filter(|s| !s.is_empty()) else {
        return Ok(default);
    };
    let n: i64 = text.parse().map_err(|_| {
        ApiError::bad_request(
            "Bad Request",
            format!("Failed to convert argument [{name}] for value [{text}]"),
        )
    })?;
    if n < 1 {
        return Err(ApiError::invalid(vec![Violation {
            path: format!("searchFlows.{name}"),
            message: "must be greater than or equal to 1".into(),
        }]));
    }
    Ok(n as u64)
}

/// `GET /flows/search?page=&size=&sort=&filters[…][…]=` → `{results, total}`.
pub(super) async fn search(
    State(sh): State<AppState>,
    Params(params): Params,
    RawQuery(raw): RawQuery,
    uri: OriginalUri,
) -> Response {
    let uri = uri_text(&uri);
    let listing = match parse_listing(&sh, &raw) {
        Ok(l) => l,
        Err(e) => return e.render(sh.version, &uri),
    };
    let (page, size) = match (
        page_param(listing.page.as_deref(), "page", 1),
        page_param(listing.size.as_deref(), "size", 10),
    ) {
        (Ok(p), Ok(s)) => (p, s),
        (Err(e), _) | (_, Err(e)) => return e.render(sh.version, &uri),
    };
    let tenant = tenant(&sh, &params);
    // sources are read only for the page's flows
    let mut flows =
        sh.store()
            .live_flows_matching(&tenant, |ns, id| listing.matches(ns, id), false);
    sort_flows(&mut flows, &listing.sort);
    let total = flows.len();
    let skip = (page - 1).saturating_mul(size);
    let mut page_flows: Vec<StoredFlow> = flows
        .into_iter()
        .skip(usize::try_from(skip).unwrap_or(usize::MAX))
        .take(usize::try_from(size).unwrap_or(usize::MAX))
        .collect();
    {
        let store = sh.store();
        for f in &mut page_flows {
            if let Some(rev) = store.live(&tenant, &f.namespace, &f.id) {
                f.source = rev.source.clone();
            }
        }
    }
    let results: Vec<Value> = page_flows
        .iter()
        .map(|f| stored_json(&sh, f, false))
        .collect();
    json_response(StatusCode::OK, &json!({"results": results, "total": total}))
}

/// `sort=id:desc,namespace:asc`; default namespace then id.
fn sort_flows(flows: &mut [StoredFlow], sort: &[String]) {
    for spec in sort.iter().rev() {
        let (field, dir) = spec.split_once(':').unwrap_or((spec.as_str(), "asc"));
        let desc = dir.eq_ignore_ascii_case("desc");
        fn key<'f>(f: &'f StoredFlow, field: &str) -> &'f str {
            match field {
                "id" => &f.id,
                "namespace" => &f.namespace,
                _ => "",
            }
        }
        flows.sort_by(|a, b| {
            let o = key(a, field).cmp(key(b, field));
            if desc {
                o.reverse()
            } else {
                o
            }
        });
    }
}

/// `GET /flows/export/by-query?filters[…]=` → ZIP of stored sources.
pub(super) async fn export(
    State(sh): State<AppState>,
    Params(params): Params,
    RawQuery(raw): RawQuery,
    uri: OriginalUri,
) -> Response {
    let uri = uri_text(&uri);
    if !sh.export_enabled {
        return ApiError::not_found().render(sh.version, &uri);
    }
    let listing = match parse_listing(&sh, &raw) {
        Ok(l) => l,
        Err(e) => return e.render(sh.version, &uri),
    };
    let tenant = tenant(&sh, &params);
    let flows = live_matching(&sh, &tenant, |ns, id| listing.matches(ns, id));
    match zip_sources(&sh, &flows) {
        Ok(bytes) => {
            let mut resp = (StatusCode::OK, bytes).into_response();
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            h.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"flows.zip\""),
            );
            resp
        }
        Err(e) => ApiError::internal(e.to_string()).render(sh.version, &uri),
    }
}

fn zip_sources(sh: &AppState, flows: &[StoredFlow]) -> zip::result::ZipResult<Vec<u8>> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(if sh.export_deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    });
    for f in flows {
        zip.start_file(sh.version.export_entry_name(&f.namespace, &f.id), opts)?;
        zip.write_all(f.source.as_bytes())?;
    }
    Ok(zip.finish()?.into_inner())
}
