//! Server-side validation: `POST /flows/validate` as `multipart/form-data`, one part named
//! `flows` per flow (filename = its git path), at most [`CHUNK`] flows per request. Never a
//! `---`-joined `application/x-yaml` body: Kestra splits that on `\n---` lines, which breaks
//! flows with `---` inside a block scalar (several blueprints have one).
//!
//! Each result (`ValidateConstraintViolation`) is mapped back by its 0-based `index` (by its
//! `filename` when a server gives no index): a non-empty `constraints` string (one message per line) and newer
//! servers' `errors: [{detail, pointer, path}]` are errors; `warnings` (strings, or objects on
//! newer servers) and `deprecationPaths` are warnings, never fatal.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::client::{parse_json, Body, KestraClient};
use super::error::error_line;
use super::{KestraError, Validation};
use crate::flow::Flow;

/// Flows per validation request.
pub const CHUNK: usize = 100;

impl KestraClient {
    /// Validate every flow on the server (`POST /flows/validate`), one result per flow, in
    /// order. Safe with `---` inside block scalars (multipart, one part per flow).
    pub async fn validate(&self, flows: &[&Flow]) -> Result<Vec<Validation>, KestraError> {
        let mut out = Vec::with_capacity(flows.len());
        for chunk in flows.chunks(CHUNK) {
            let parts: Vec<(&str, &str)> = chunk
                .iter()
                .map(|f| (f.git_path.as_str(), f.source.as_str()))
                .collect();
            let url = self.paths.flows(&["validate"])?;
            let reply = self
                .send(Method::POST, url, Body::FlowParts(&parts))
                .await?;
            if reply.status != StatusCode::OK {
                return Err(self.error(&reply));
            }
            let results: Vec<Value> = parse_json(&reply)?;
            let paths: Vec<&str> = chunk.iter().map(|f| f.git_path.as_str()).collect();
            out.extend(
                map_results(&paths, &results).map_err(|message| KestraError::Protocol {
                    url: reply.url.clone(),
                    message,
                })?,
            );
        }
        Ok(out)
    }
}

/// One [`Validation`] per path of `paths`, in order, from the server's results.
fn map_results(paths: &[&str], results: &[Value]) -> Result<Vec<Validation>, String> {
    if results.len() != paths.len() {
        return Err(format!(
            "sent {} flow(s) to validate and got {} result(s)",
            paths.len(),
            results.len()
        ));
    }
    let mut slots: Vec<Option<Validation>> = vec![None; paths.len()];
    for (position, result) in results.iter().enumerate() {
        let index = result_index(result, position, paths);
        let (Some(path), Some(slot)) = (paths.get(index), slots.get_mut(index)) else {
            return Err(format!(
                "a validation result has index {index}, out of range"
            ));
        };
        if slot.is_some() {
            return Err(format!("two validation results for {path}"));
        }
        *slot = Some(Validation {
            git_path: path.to_string(),
            errors: errors_of(result),
            warnings: warnings_of(result),
            infos: infos_of(result),
        });
    }
    slots
        .into_iter()
        .zip(paths)
        .map(|(slot, path)| slot.ok_or_else(|| format!("no validation result for {path}")))
        .collect()
}

/// Which flow a result is about: its 0-based `index` (Kestra numbers the parts in the
/// order received); without one, its `filename` if it names exactly one part, else its
/// position. A `filename` that disagrees with the index is not trusted over it: the server
/// may decode non-ASCII or quoted names differently from how they were sent.
fn result_index(result: &Value, position: usize, paths: &[&str]) -> usize {
    if let Some(i) = result
        .get("index")
        .and_then(Value::as_u64)
        .and_then(|i| usize::try_from(i).ok())
    {
        return i;
    }
    let by_name = result
        .get("filename")
        .and_then(Value::as_str)
        .and_then(|name| {
            let mut hits = paths.iter().enumerate().filter(|(_, p)| **p == name);
            match (hits.next(), hits.next()) {
                (Some((i, _)), None) => Some(i),
                _ => None,
            }
        });
    by_name.unwrap_or(position)
}

fn errors_of(result: &Value) -> Vec<String> {
    let mut errors: Vec<String> = Vec::new();
    if let Some(constraints) = result.get("constraints").and_then(Value::as_str) {
        errors.extend(
            constraints
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string),
        );
    }
    if let Some(list) = result.get("errors").and_then(Value::as_array) {
        for line in list.iter().filter_map(error_line) {
            if !errors.iter().any(|e| e.contains(&line)) {
                errors.push(line);
            }
        }
    }
    dedup(errors)
}

fn warnings_of(result: &Value) -> Vec<String> {
    let mut warnings: Vec<String> = result
        .get("warnings")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(error_line).collect())
        .unwrap_or_default();
    if let Some(paths) = result.get("deprecationPaths").and_then(Value::as_array) {
        warnings.extend(
            paths
                .iter()
                .filter_map(Value::as_str)
                .filter(|p| !p.is_empty())
                .map(|p| format!("`{p}` is deprecated")),
        );
    }
    dedup(warnings)
}

fn infos_of(result: &Value) -> Vec<String> {
    let infos = result
        .get("infos")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(error_line).collect())
        .unwrap_or_default();
    dedup(infos)
}

fn dedup(items: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn results_are_mapped_by_index_whatever_their_order() {
        let paths = ["_flows/a.yml", "_flows/b.yml"];
        // Kestra answers in order; shuffle to prove the index is what counts.
        let results = vec![
            json!({"index": 1, "filename": "_flows/b.yml", "namespace": "prod", "flow": "b",
                   "constraints": "tasks[0].type: invalid type\nid: must match \"^[a-zA-Z0-9][a-zA-Z0-9._-]*\"",
                   "warnings": ["The subflow 'x' not found in namespace 'y'."], "infos": []}),
            json!({"index": 0, "filename": "_flows/a.yml", "namespace": "prod", "flow": "a",
                   "warnings": [], "deprecationPaths": ["tasks[0].retry"]}),
        ];
        let v = map_results(&paths, &results).unwrap();
        assert_eq!(v[0].git_path, "_flows/a.yml");
        assert!(v[0].errors.is_empty());
        assert_eq!(v[0].warnings, vec!["`tasks[0].retry` is deprecated"]);
        assert_eq!(v[1].git_path, "_flows/b.yml");
        assert_eq!(
            v[1].errors,
            vec![
                "tasks[0].type: invalid type",
                "id: must match \"^[a-zA-Z0-9][a-zA-Z0-9._-]*\""
            ]
        );
        assert_eq!(
            v[1].warnings,
            vec!["The subflow 'x' not found in namespace 'y'."]
        );
    }

    #[test]
    fn newer_error_objects_and_warning_objects_are_read() {
        let paths = ["f.yml"];
        let results = vec![json!({"index": 0, "filename": "f.yml", "constraints": "",
            "errors": [{"detail": "must not be empty", "pointer": "/tasks", "path": "tasks"}],
            "warnings": [{"message": "deprecated task type"}]})];
        let v = map_results(&paths, &results).unwrap();
        assert_eq!(v[0].errors, vec!["tasks: must not be empty"]);
        assert_eq!(v[0].warnings, vec!["deprecated task type"]);
    }

    #[test]
    fn an_empty_constraints_string_or_null_is_valid() {
        let paths = ["a.yml", "b.yml"];
        let results = vec![
            json!({"index": 0, "constraints": null}),
            json!({"index": 1, "constraints": "  \n"}),
        ];
        let v = map_results(&paths, &results).unwrap();
        assert!(v.iter().all(|r| r.errors.is_empty()));
    }

    #[test]
    fn missing_duplicate_or_out_of_range_results_are_protocol_errors() {
        let paths = ["a.yml", "b.yml"];
        assert!(map_results(&paths, &[json!({"index": 0})]).is_err());
        assert!(map_results(&paths, &[json!({"index": 0}), json!({"index": 0})]).is_err());
        assert!(map_results(&paths, &[json!({"index": 0}), json!({"index": 7})]).is_err());
    }

    #[test]
    fn the_index_wins_over_a_differently_decoded_filename() {
        let paths = ["a.yml", "b.yml"];
        let v = map_results(
            &paths,
            &[
                json!({"index": 0}),
                json!({"index": 1, "filename": "b\u{fffd}.yml"}),
            ],
        )
        .unwrap();
        assert_eq!(v[1].git_path, "b.yml");
        // Without an index, the filename decides.
        let v = map_results(
            &paths,
            &[
                json!({"filename": "b.yml", "constraints": "x"}),
                json!({"filename": "a.yml"}),
            ],
        )
        .unwrap();
        assert_eq!((v[0].git_path.as_str(), v[0].errors.len()), ("a.yml", 0));
        assert_eq!((v[1].git_path.as_str(), v[1].errors.len()), ("b.yml", 1));
    }
}
