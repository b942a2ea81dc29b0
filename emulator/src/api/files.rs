//! Namespace-file endpoints (`/api/v1/{tenant}/namespaces/{namespace}/files…`), as
//! Kestra's `NamespaceFileController` serves them: read (octet-stream, `revision=`),
//! upload (multipart part `fileContent`; a file name ending `.zip` is unpacked, one file per
//! entry), delete (recursive, emptied parents too), one-level folder listing, folder
//! creation, revisions, and the ZIP export of every current file (entry names without the
//! leading `/`). The storage rules are in [`crate::nsfiles`]. Refused paths answer 422
//! (`Illegal argument`, the server's answer to an `IllegalArgumentException`); a missing
//! file or folder answers 404.

use std::collections::HashMap;
use std::io::{Read, Write};

use axum::extract::{FromRequest, Multipart, OriginalUri, RawQuery, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::{json_response, tenant, uri_text, AppState, Params};
use crate::errors::ApiError;
use crate::nsfiles::Refused;

fn query_map(raw: &Option<String>) -> HashMap<String, String> {
    raw.as_deref()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

fn illegal(r: Refused) -> ApiError {
    ApiError {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        reason: "Illegal argument".into(),
        detail: Some(r.0),
        violations: Vec::new(),
    }
}

fn missing(what: String) -> ApiError {
    let mut e = ApiError::not_found();
    e.detail = Some(what);
    e
}

/// The required `path` query parameter (Micronaut answers 400 when it is absent).
fn path_param(q: &HashMap<String, String>) -> Result<String, ApiError> {
    q.get("path").cloned().ok_or_else(|| {
        ApiError::bad_request("Bad Request", "Required QueryValue [path] not specified")
    })
}

fn namespace(params: &HashMap<String, String>) -> String {
    params.get("namespace").cloned().unwrap_or_default()
}

fn octets(bytes: Vec<u8>) -> Response {
    let mut resp = (StatusCode::OK, bytes).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

/// `GET /files?path=&revision=`.
pub(super) async fn get_file(
    State(sh): State<AppState>,
    Params(params): Params,
    RawQuery(raw): RawQuery,
    uri: OriginalUri,
) -> Response {
    let uri = uri_text(&uri);
    let q = query_map(&raw);
    let answer = (|| {
        let path = path_param(&q)?;
        let revision = match q.get("revision").filter(|s| !s.is_empty()) {
            None => None,
            Some(r) => Some(r.parse::<u32>().map_err(|_| {
                ApiError::bad_request(
                    "Bad Request",
                    format!("Failed to convert argument [revision] for value [{r}]"),
                )
            })?),
        };
        let tenant = tenant(&sh, &params);
        let found = sh
            .files()
            .get(&tenant, &namespace(&params), &path, revision)
            .map_err(illegal)?;
        found.ok_or_else(|| missing(format!("File not found: {path}")))
    })();
    match answer {
        Ok(bytes) => octets(bytes),
        Err(e) => e.render(sh.version, &uri),
    }
}

/// `POST /files?path=` (multipart, part `fileContent`): a new revision per upload.
pub(super) async fn upload(
    State(sh): State<AppState>,
    Params(params): Params,
    RawQuery(raw): RawQuery,
    uri: OriginalUri,
    req: Request,
) -> Response {
    let uri = uri_text(&uri);
    let q = query_map(&raw);
    let path = match path_param(&q) {
        Ok(p) => p,
        Err(e) => return e.render(sh.version, &uri),
    };
    let (filename, bytes) = match file_part(req).await {
        Ok(part) => part,
        Err(e) => return e.render(sh.version, &uri),
    };
    let tenant = tenant(&sh, &params);
    let ns = namespace(&params);
    let written = if filename.to_ascii_lowercase().ends_with(".zip") {
        unzip(&bytes).and_then(|entries| {
            let mut store = sh.files();
            for (name, content) in entries {
                store
                    .put(&tenant, &ns, &format!("/{name}"), content)
                    .map_err(illegal)?;
            }
            Ok(())
        })
    } else {
        sh.files()
            .put(&tenant, &ns, &path, bytes)
            .map(|_| ())
            .map_err(illegal)
    };
    match written {
        Ok(()) => {
            sh.count_write();
            StatusCode::OK.into_response()
        }
        Err(e) => e.render(sh.version, &uri),
    }
}

/// The `fileContent` part: its file name and bytes (400 when absent).
async fn file_part(req: Request) -> Result<(String, Vec<u8>), ApiError> {
    let mut multipart = Multipart::from_request(req, &())
        .await
        .map_err(|e| ApiError::bad_request("Bad Request", e.body_text()))?;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(ApiError::bad_request("Bad Request", e.body_text())),
        };
        if field.name() != Some("fileContent") {
            continue;
        }
        let filename = field.file_name().unwrap_or_default().to_string();
        let bytes = field
            .bytes()
            .await
            .map_err(|e| ApiError::bad_request("Bad Request", e.body_text()))?;
        return Ok((filename, bytes.to_vec()));
    }
    Err(ApiError::bad_request(
        "Bad Request",
        "Required Part [fileContent] not specified",
    ))
}

/// The file entries of an uploaded ZIP.
fn unzip(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, ApiError> {
    let bad = |e: String| ApiError::bad_request("Bad Request", e);
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| bad(e.to_string()))?;
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).map_err(|e| bad(e.to_string()))?;
        if f.is_dir() {
            continue;
        }
        let name = f.name().to_string();
        let mut content = Vec::new();
        f.read_to_end(&mut content)
            .map_err(|e| bad(e.to_string()))?;
        out.push((name, content));
    }
    Ok(out)
}

/// `DELETE /files?path=`: recursive, emptied parents too.
pub(super) async fn delete_file(
    State(sh): State<AppState>,
    Params(params): Params,
    RawQuery(raw): RawQuery,
    uri: OriginalUri,
) -> Response {
    let uri = uri_text(&uri);
    let q = query_map(&raw);
    let answer = path_param(&q).and_then(|path| {
        sh.files()
            .delete(&tenant(&sh, &params), &namespace(&params), &path)
            .map_err(illegal)
    });
    match answer {
        Ok(removed) => {
            if !removed.is_empty() {
                sh.count_write();
            }
            StatusCode::OK.into_response()
        }
        Err(e) => e.render(sh.version, &uri),
    }
}

/// `GET /files/directory?path=`: one level, `FileAttributes` each.
pub(super) async fn list_folder(
    State(sh): State<AppState>,
    Params(params): Params,
    RawQuery(raw): RawQuery,
    uri: OriginalUri,
) -> Response {
    let uri = uri_text(&uri);
    let q = query_map(&raw);
    let folder = q
        .get("path")
        .cloned()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/".into());
    let listed = sh
        .files()
        .list(&tenant(&sh, &params), &namespace(&params), &folder)
        .map_err(illegal)
        .and_then(|l| l.ok_or_else(|| missing(format!("Directory not found: {folder}"))));
    match listed {
        Ok(children) => {
            let items: Vec<Value> = children
                .into_iter()
                .map(|(name, size)| {
                    json!({
                        "fileName": name,
                        "lastModifiedTime": 0,
                        "creationTime": 0,
                        "type": if size.is_some() { "File" } else { "Directory" },
                        "size": size.unwrap_or(0),
                        "metadata": {},
                    })
                })
                .collect();
            json_response(StatusCode::OK, &Value::Array(items))
        }
        Err(e) => e.render(sh.version, &uri),
    }
}

/// `POST /files/directory?path=`.
pub(super) async fn make_folder(
    State(sh): State<AppState>,
    Params(params): Params,
    RawQuery(raw): RawQuery,
    uri: OriginalUri,
) -> Response {
    let uri = uri_text(&uri);
    let q = query_map(&raw);
    let folder = q.get("path").cloned().unwrap_or_else(|| "/".into());
    match sh
        .files()
        .make_folder(&tenant(&sh, &params), &namespace(&params), &folder)
    {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => illegal(e).render(sh.version, &uri),
    }
}

/// `GET /files/revisions?path=`: `[{revision}]`, 404 for a missing or deleted file.
pub(super) async fn revisions(
    State(sh): State<AppState>,
    Params(params): Params,
    RawQuery(raw): RawQuery,
    uri: OriginalUri,
) -> Response {
    let uri = uri_text(&uri);
    let q = query_map(&raw);
    let path = q.get("path").cloned().unwrap_or_else(|| "/".into());
    let found = sh
        .files()
        .revisions(&tenant(&sh, &params), &namespace(&params), &path)
        .map_err(illegal)
        .and_then(|r| r.ok_or_else(|| missing(format!("File not found: {path}"))));
    match found {
        Ok(revs) => json_response(
            StatusCode::OK,
            &Value::Array(revs.into_iter().map(|r| json!({"revision": r})).collect()),
        ),
        Err(e) => e.render(sh.version, &uri),
    }
}

/// `GET /files/export`: a ZIP of every current file, entry names without the leading `/`.
pub(super) async fn export(
    State(sh): State<AppState>,
    Params(params): Params,
    uri: OriginalUri,
) -> Response {
    let uri = uri_text(&uri);
    let ns = namespace(&params);
    let files = sh.files().files(&tenant(&sh, &params), &ns);
    let zipped = (|| -> zip::result::ZipResult<Vec<u8>> {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts =
            zip::write::SimpleFileOptions::default().compression_method(if sh.export_deflate {
                zip::CompressionMethod::Deflated
            } else {
                zip::CompressionMethod::Stored
            });
        for f in &files {
            zip.start_file(f.path.trim_start_matches('/'), opts)?;
            zip.write_all(&f.bytes)?;
        }
        Ok(zip.finish()?.into_inner())
    })();
    match zipped {
        Ok(bytes) => {
            let mut resp = octets(bytes);
            if let Ok(v) =
                HeaderValue::from_str(&format!("attachment; filename=\"{ns}_files.zip\""))
            {
                resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            resp
        }
        Err(e) => ApiError::internal(e.to_string()).render(sh.version, &uri),
    }
}
