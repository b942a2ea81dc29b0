//! Every request the tests see our code send to GitHub is checked against GitHub's official
//! OpenAPI description (the operations we use, extracted verbatim from `@octokit/openapi` into
//! `tests/fixtures/github-openapi.json` by `.ci/github-openapi/extract.mjs`): the method and
//! path must be an operation, path and query parameters must be declared with the right type,
//! and a JSON body must validate against the operation's request body schema. The fake
//! GitHub's answers are checked against the documented response schemas the same way, so the
//! fake cannot drift from the real API either.

use serde_json::Value;

/// Path parameters matched in a request: `(name, value)`.
pub type PathParams = Vec<(String, String)>;

/// The extracted operations.
pub struct Spec {
    ops: Vec<Value>,
}

/// A request as wiremock recorded it.
pub struct Seen<'a> {
    pub method: &'a str,
    pub url: &'a url::Url,
    pub body: &'a [u8],
    pub content_type: Option<&'a str>,
}

impl Spec {
    pub fn load() -> Spec {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/github-openapi.json"
        );
        let text = std::fs::read_to_string(path).expect("tests/fixtures/github-openapi.json");
        let v: Value = serde_json::from_str(&text).expect("github-openapi.json is JSON");
        Spec {
            ops: v["operations"].as_array().cloned().unwrap_or_default(),
        }
    }

    /// The operation a request is for, with its path parameters; `prefix` is the GHES
    /// `/api/v3` (or empty). GitHub's pagination `Link`s use `/repositories/{id}/…` for
    /// `/repos/{owner}/{repo}/…` (see "Using pagination in the REST API"); both are accepted.
    pub fn operation(
        &self,
        method: &str,
        path: &str,
        prefix: &str,
    ) -> Result<(&Value, PathParams), String> {
        let path = path
            .strip_prefix(prefix)
            .ok_or_else(|| format!("{path} lacks the API prefix `{prefix}`"))?;
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let segs: Vec<String> = match segs.as_slice() {
            ["repositories", id, rest @ ..] => {
                let mut v = vec![
                    "repos".to_string(),
                    "owner".into(),
                    format!("repository-{id}"),
                ];
                v.extend(rest.iter().map(|s| s.to_string()));
                v
            }
            other => other.iter().map(|s| s.to_string()).collect(),
        };
        for op in &self.ops {
            if !op["method"]
                .as_str()
                .is_some_and(|m| m.eq_ignore_ascii_case(method))
            {
                continue;
            }
            let tmpl: Vec<&str> = op["path"]
                .as_str()
                .unwrap_or("")
                .trim_start_matches('/')
                .split('/')
                .collect();
            if tmpl.len() != segs.len() {
                continue;
            }
            let mut params = Vec::new();
            let ok = tmpl.iter().zip(&segs).all(|(t, s)| {
                if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                    params.push((name.to_string(), decode(s)));
                    !s.is_empty()
                } else {
                    t == s
                }
            });
            if ok {
                return Ok((op, params));
            }
        }
        Err(format!(
            "{method} {path} is not an operation of GitHub's REST API"
        ))
    }

    /// Check one request; the error says what does not match.
    pub fn check_request(&self, r: &Seen<'_>, prefix: &str) -> Result<String, String> {
        let (op, path_params) = self.operation(r.method, r.url.path(), prefix)?;
        let id = op["operationId"].as_str().unwrap_or("?").to_string();
        let declared = op["parameters"].as_array().cloned().unwrap_or_default();
        let find = |name: &str, place: &str| {
            declared
                .iter()
                .find(|p| p["name"] == name && p["in"] == place)
                .cloned()
        };
        for (name, value) in &path_params {
            let p = find(name, "path")
                .ok_or_else(|| format!("{id}: path parameter {name} not declared"))?;
            check_scalar(&p["schema"], value)
                .map_err(|e| format!("{id}: path parameter {name}={value}: {e}"))?;
        }
        let query: Vec<(String, String)> = r
            .url
            .query_pairs()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        for (name, value) in &query {
            let p = find(name, "query")
                .ok_or_else(|| format!("{id}: query parameter `{name}` is not documented"))?;
            check_scalar(&p["schema"], value)
                .map_err(|e| format!("{id}: query {name}={value}: {e}"))?;
            if name == "per_page" && value.parse::<u64>().map_or(true, |n| n > 100) {
                return Err(format!("{id}: per_page={value}: GitHub allows at most 100"));
            }
        }
        for p in &declared {
            if p["required"] == true
                && p["in"] == "query"
                && !query.iter().any(|(k, _)| p["name"] == k.as_str())
            {
                return Err(format!(
                    "{id}: required query parameter {} missing",
                    p["name"]
                ));
            }
        }
        match (&op["requestBody"], r.body.is_empty()) {
            (Value::Null, true) => {}
            (Value::Null, false) => {
                return Err(format!("{id} takes no body, got {} bytes", r.body.len()))
            }
            (rb, true) if rb["required"] == true => {
                return Err(format!("{id}: request body required"))
            }
            (_, true) => {}
            (rb, false) => {
                if !r
                    .content_type
                    .is_some_and(|c| c.starts_with("application/json"))
                {
                    return Err(format!(
                        "{id}: body sent as {:?}, not application/json",
                        r.content_type
                    ));
                }
                let body: Value = serde_json::from_slice(r.body)
                    .map_err(|e| format!("{id}: body is not JSON: {e}"))?;
                validate(&rb["schema"], &body, "body").map_err(|e| format!("{id}: {e}"))?;
            }
        }
        Ok(id)
    }

    /// Check an answer of the fake against the documented response of `operation_id`.
    pub fn check_response(
        &self,
        operation_id: &str,
        status: u16,
        body: &Value,
    ) -> Result<(), String> {
        let op = self
            .ops
            .iter()
            .find(|o| o["operationId"] == operation_id)
            .ok_or_else(|| format!("unknown operation {operation_id}"))?;
        let r = &op["responses"][status.to_string()];
        if r.is_null() {
            return Err(format!("{operation_id} does not document status {status}"));
        }
        match &r["schema"] {
            Value::Null => Ok(()),
            schema => validate(schema, body, "response")
                .map_err(|e| format!("{operation_id} {status}: {e}")),
        }
    }

    /// The documented example answer of `operation_id` for `status`.
    pub fn example(&self, operation_id: &str, status: u16) -> Value {
        self.ops
            .iter()
            .find(|o| o["operationId"] == operation_id)
            .map(|o| o["responses"][status.to_string()]["example"].clone())
            .unwrap_or(Value::Null)
    }
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

fn check_scalar(schema: &Value, raw: &str) -> Result<(), String> {
    let v = match schema["type"].as_str() {
        Some("integer") => Value::from(
            raw.parse::<i64>()
                .map_err(|_| "not an integer".to_string())?,
        ),
        Some("number") => Value::from(raw.parse::<f64>().map_err(|_| "not a number".to_string())?),
        Some("boolean") => Value::from(
            raw.parse::<bool>()
                .map_err(|_| "not a boolean".to_string())?,
        ),
        _ => Value::from(raw),
    };
    validate(schema, &v, "parameter")
}

/// The subset of OpenAPI 3.0 schema rules GitHub's schemas for these operations use:
/// type (+ nullable), required, properties, additionalProperties, items, enum, oneOf/anyOf
/// (at least one must match: GitHub's `oneOf`s are not always exclusive), allOf, string and
/// number bounds, `format: date-time` and `uri` shapes.
pub fn validate(schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    if v.is_null() && schema["nullable"] == true {
        return Ok(());
    }
    if let Some(all) = schema["allOf"].as_array() {
        for s in all {
            validate(s, v, at)?;
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alts) = schema[key].as_array() {
            let errs: Vec<String> = alts
                .iter()
                .filter_map(|s| validate(s, v, at).err())
                .collect();
            if errs.len() == alts.len() {
                return Err(format!(
                    "{at}: matches no alternative of {key}: {}",
                    errs.join(" | ")
                ));
            }
        }
    }
    if let Some(t) = schema["type"].as_str() {
        let ok = match t {
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "object" => v.is_object(),
            "array" => v.is_array(),
            "null" => v.is_null(),
            _ => true,
        };
        if !ok {
            return Err(format!("{at}: expected {t}, got {v}"));
        }
    }
    if let Some(e) = schema["enum"].as_array() {
        if !e.contains(v) {
            return Err(format!("{at}: {v} is not one of {e:?}"));
        }
    }
    if let Some(s) = v.as_str() {
        if let Some(max) = schema["maxLength"].as_u64() {
            if s.chars().count() as u64 > max {
                return Err(format!("{at}: longer than {max}"));
            }
        }
        if let Some(min) = schema["minLength"].as_u64() {
            if (s.chars().count() as u64) < min {
                return Err(format!("{at}: shorter than {min}"));
            }
        }
        match schema["format"].as_str() {
            Some("date-time") if !(s.len() >= 20 && s.as_bytes().get(10) == Some(&b'T')) => {
                return Err(format!("{at}: `{s}` is not a date-time"));
            }
            Some("uri") if url::Url::parse(s).is_err() => {
                return Err(format!("{at}: `{s}` is not a URI"))
            }
            _ => {}
        }
    }
    if let Some(n) = v.as_f64() {
        if schema["minimum"].as_f64().is_some_and(|m| n < m)
            || schema["maximum"].as_f64().is_some_and(|m| n > m)
        {
            return Err(format!("{at}: {n} out of bounds"));
        }
    }
    if let Some(obj) = v.as_object() {
        for r in schema["required"].as_array().into_iter().flatten() {
            if let Some(name) = r.as_str() {
                if !obj.contains_key(name) {
                    return Err(format!("{at}: required property `{name}` missing"));
                }
            }
        }
        let props = schema["properties"].as_object();
        for (k, val) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => validate(s, val, &format!("{at}.{k}"))?,
                None => match &schema["additionalProperties"] {
                    Value::Bool(false) => {
                        return Err(format!("{at}: property `{k}` is not allowed"))
                    }
                    s @ Value::Object(_) => validate(s, val, &format!("{at}.{k}"))?,
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            validate(items, x, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}
