//! `POST /flows/validate`: `application/x-yaml` (one body, split like the real server on the
//! regex `\n+---\n*?` after trimming, i.e. on every line that *starts* with `---`) or
//! `multipart/form-data` (one flow per part named `flows`, each trimmed). One
//! `ValidateConstraintViolation` per document, always 200; a flow is invalid when
//! `constraints` is set. Absent values are omitted, as the server's serializer does.

use std::sync::OnceLock;

use axum::extract::{FromRequest, Multipart, OriginalUri, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use regex::Regex;
use serde_json::{json, Map, Value};

use super::{json_response, media_type, tenant, uri_text, AppState, Params};
use crate::errors::ApiError;
use crate::flowcheck;

/// The server's `content.split("\\n+---\\n*?")` (Java drops trailing empty pieces).
pub(crate) fn split_documents(body: &str) -> Vec<String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| Regex::new(r"\n+---\n*?").expect("static regex"));
    let mut pieces: Vec<String> = re.split(body.trim()).map(str::to_string).collect();
    while pieces.len() > 1 && pieces.last().is_some_and(String::is_empty) {
        pieces.pop();
    }
    pieces
}

pub(super) async fn validate(
    State(sh): State<AppState>,
    Params(params): Params,
    uri: OriginalUri,
    req: Request,
) -> Response {
    let uri = uri_text(&uri);
    let tenant = tenant(&sh, &params);
    let mt = media_type(req.headers());
    let sources: Vec<(Option<String>, String)> = match mt.as_str() {
        "application/x-yaml" => {
            let body = match axum::body::to_bytes(req.into_body(), usize::MAX).await {
                Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                Err(e) => {
                    return ApiError::bad_request("Bad Request", e.to_string())
                        .render(sh.version, &uri)
                }
            };
            split_documents(&body)
                .into_iter()
                .map(|s| (None, s))
                .collect()
        }
        "multipart/form-data" => match read_parts(req).await {
            Ok(parts) => parts,
            Err(e) => return e.render(sh.version, &uri),
        },
        other => {
            return ApiError::unsupported_media_type(
                other,
                "application/x-yaml, multipart/form-data",
            )
            .render(sh.version, &uri)
        }
    };
    let results: Vec<Value> = sources
        .iter()
        .enumerate()
        .map(|(index, (filename, source))| one(&sh, &tenant, index, filename.as_deref(), source))
        .collect();
    json_response(StatusCode::OK, &Value::Array(results))
}

async fn read_parts(req: Request) -> Result<Vec<(Option<String>, String)>, ApiError> {
    let mut multipart = Multipart::from_request(req, &())
        .await
        .map_err(|e| ApiError::bad_request("Bad Request", e.body_text()))?;
    let mut out = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(ApiError::bad_request("Bad Request", e.body_text())),
        };
        if field.name() != Some("flows") {
            continue;
        }
        let filename = field.file_name().map(str::to_string);
        let bytes = field
            .bytes()
            .await
            .map_err(|e| ApiError::bad_request("Bad Request", e.body_text()))?;
        out.push((filename, String::from_utf8_lossy(&bytes).trim().to_string()));
    }
    Ok(out)
}

/// One result, with the fields the server sets in the order it sets them.
fn one(sh: &AppState, tenant: &str, index: usize, filename: Option<&str>, source: &str) -> Value {
    let mut r = Map::new();
    r.insert("index".into(), json!(index));
    if let Some(f) = filename {
        r.insert("filename".into(), json!(f));
    }
    let mut outdated = false;
    match flowcheck::parse(source) {
        Err(e) => {
            r.insert("constraints".into(), json!(e.0));
        }
        Ok(parsed) => {
            let store = sh.store();
            if let (Some(sent), Some(ns), Some(id)) =
                (parsed.revision, &parsed.namespace, &parsed.id)
            {
                let last = store.latest(tenant, ns, id).map_or(0, |r| r.revision);
                outdated = u64::try_from(sent).ok() != Some(last + 1);
            }
            let warnings: Vec<String> = flowcheck::subflow_calls(&parsed)
                .into_iter()
                .filter(|(ns, id)| store.live(tenant, ns, id).is_none())
                .filter(|(ns, id)| {
                    Some(ns) != parsed.namespace.as_ref() || Some(id) != parsed.id.as_ref()
                })
                .map(|(ns, id)| flowcheck::missing_subflow_warning(&ns, &id))
                .collect();
            drop(store);
            r.insert("deprecationPaths".into(), json!([]));
            r.insert("warnings".into(), json!(warnings));
            r.insert("infos".into(), json!([]));
            if let Some(id) = &parsed.id {
                r.insert("flow".into(), json!(id));
            }
            if let Some(ns) = &parsed.namespace {
                r.insert("namespace".into(), json!(ns));
            }
            let violations = flowcheck::check(&parsed, &sh.rules());
            if !violations.is_empty() {
                let text = flowcheck::joined(&violations);
                let text = if sh.version.problem_json() {
                    format!("Validation error: {text}")
                } else {
                    text
                };
                r.insert("constraints".into(), json!(text));
            }
        }
    }
    r.insert("outdated".into(), json!(outdated));
    Value::Object(r)
}

#[cfg(test)]
mod tests {
    use super::split_documents;

    #[test]
    fn splits_like_the_server() {
        assert_eq!(split_documents("a: 1\n---\nb: 2\n"), vec!["a: 1", "\nb: 2"]);
        // a leading document marker stays with the first document
        assert_eq!(split_documents("---\na: 1\n"), vec!["---\na: 1"]);
        // a column-0 `---` anywhere splits, even `----`
        assert_eq!(
            split_documents("a: |\n x\n----\nb: 2"),
            vec!["a: |\n x", "-\nb: 2"]
        );
        // an indented `---` (inside a block scalar) does not
        assert_eq!(
            split_documents("a: |\n  ---\n  x\n"),
            vec!["a: |\n  ---\n  x"]
        );
        assert_eq!(split_documents("a: 1\n---\n"), vec!["a: 1"]);
        assert_eq!(split_documents(""), vec![""]);
    }
}
