//! What the server checks when a flow is created, updated or validated (kestra.md §4), with
//! messages shaped like Kestra's (Jakarta constraint violations `path: message`). The real
//! server knows every plugin and its properties; the emulator knows the flow model rules,
//! task ids and types that look like Java classes, a small deny-list of plugin types that do
//! not exist, recursive subflows, system labels, and warns about missing subflows.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

/// One constraint violation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Violation {
    pub path: String,
    pub message: String,
}

impl Violation {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Violation {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Jakarta's `ConstraintViolationException.getMessage()`: `path: message, path: message`.
pub(crate) fn joined(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| {
            if v.path.is_empty() {
                v.message.clone()
            } else {
                format!("{}: {}", v.path, v.message)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A source that parsed as a YAML mapping.
#[derive(Debug, Clone)]
pub(crate) struct Parsed {
    pub id: Option<String>,
    pub namespace: Option<String>,
    pub revision: Option<i64>,
    /// The mapping as JSON (what the server would serialize, before defaults).
    pub json: serde_json::Map<String, Value>,
}

/// The parse failure message (`Illegal flow source: …`).
#[derive(Debug, Clone)]
pub(crate) struct ParseError(pub String);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parse a source: YAML, a mapping, convertible to JSON. Duplicate keys are an error, as
/// with the server's strict Jackson parser.
pub(crate) fn parse(source: &str) -> Result<Parsed, ParseError> {
    if source.trim().is_empty() {
        return Err(ParseError(
            "Illegal flow source: the source is empty".to_string(),
        ));
    }
    let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(source)
        .map_err(|e| ParseError(format!("Illegal flow source: {e}")))?;
    let json: Value =
        serde_json::to_value(&yaml).map_err(|e| ParseError(format!("Illegal flow source: {e}")))?;
    let Value::Object(map) = json else {
        return Err(ParseError(
            "Illegal flow source: a flow must be a YAML mapping".to_string(),
        ));
    };
    let text = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_string);
    Ok(Parsed {
        id: text("id"),
        namespace: text("namespace"),
        revision: map.get("revision").and_then(Value::as_i64),
        json: map,
    })
}

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("static regex"))
}

const FLOW_ID_PATTERN: &str = "^[a-zA-Z0-9][a-zA-Z0-9._-]*";
const NAMESPACE_PATTERN: &str = "^[a-z0-9][a-z0-9._-]*";
const TASK_ID_PATTERN: &str = "^[a-zA-Z0-9][a-zA-Z0-9_-]*";

/// Reserved flow ids since 1.0 (they collide with UI/API routes).
pub(crate) const RESERVED_IDS: [&str; 10] = [
    "pause",
    "resume",
    "force-run",
    "change-status",
    "kill",
    "executions",
    "search",
    "source",
    "disable",
    "enable",
];

/// Plugin types the emulated server does not have (beyond anything not shaped like a class).
const UNKNOWN_TYPES: [&str; 4] = [
    "io.kestra.plugin.core.unknown.Nope",
    "io.kestra.plugin.core.debug.MissingOne",
    "io.kestra.plugin.core.debug.MissingTwo",
    "io.kestra.plugin.core.debug.MissingThree",
];

const SUBFLOW_TYPES: [&str; 3] = [
    "io.kestra.plugin.core.flow.Subflow",
    "io.kestra.core.tasks.flows.Subflow",
    "io.kestra.core.tasks.flows.Flow",
];

/// Bean-validation style check of a Java regex constraint (whole-string match).
fn full_match(pattern: &Regex, s: &str) -> bool {
    pattern
        .find(s)
        .is_some_and(|m| m.start() == 0 && m.end() == s.len())
}

fn check_identifier(
    v: &mut Vec<Violation>,
    path: &str,
    value: Option<&Value>,
    pattern: &Regex,
    pattern_text: &str,
    max: usize,
) {
    match value {
        None | Some(Value::Null) => v.push(Violation::new(path, "must not be null")),
        Some(Value::String(s)) => {
            if s.is_empty() || s.chars().count() > max {
                v.push(Violation::new(
                    path,
                    format!("size must be between 1 and {max}"),
                ));
            }
            if !full_match(pattern, s) {
                v.push(Violation::new(
                    path,
                    format!("must match \"{pattern_text}\""),
                ));
            }
        }
        Some(_) => v.push(Violation::new(path, "must be a string")),
    }
}

/// Model validation of a parsed flow: the checks the server does beyond parsing.
pub(crate) fn check(parsed: &Parsed, reserved_ids: bool) -> Vec<Violation> {
    static ID: OnceLock<Regex> = OnceLock::new();
    static NS: OnceLock<Regex> = OnceLock::new();
    let mut v = Vec::new();
    let map = &parsed.json;
    check_identifier(
        &mut v,
        "id",
        map.get("id"),
        re(&ID, FLOW_ID_PATTERN),
        FLOW_ID_PATTERN,
        100,
    );
    if let Some(id) = &parsed.id {
        if reserved_ids && RESERVED_IDS.contains(&id.as_str()) {
            v.push(Violation::new(
                "id",
                format!(
                    "Flow id is a reserved keyword: {id}. List of reserved keywords: {}",
                    RESERVED_IDS.join(", ")
                ),
            ));
        }
    }
    check_identifier(
        &mut v,
        "namespace",
        map.get("namespace"),
        re(&NS, NAMESPACE_PATTERN),
        NAMESPACE_PATTERN,
        150,
    );
    match map.get("tasks") {
        Some(Value::Array(tasks)) if !tasks.is_empty() => {}
        Some(Value::Array(_)) | None | Some(Value::Null) => {
            v.push(Violation::new("tasks", "must not be empty"))
        }
        Some(_) => v.push(Violation::new("tasks", "must be a list of tasks")),
    }
    let mut ids = Vec::new();
    for section in ["tasks", "errors", "finally", "afterExecution"] {
        if let Some(Value::Array(items)) = map.get(section) {
            check_tasks(&mut v, &mut ids, section, items);
        }
    }
    if let Some(Value::Array(triggers)) = map.get("triggers") {
        let mut trigger_ids = Vec::new();
        check_tasks(&mut v, &mut trigger_ids, "triggers", triggers);
        push_duplicates(&mut v, "triggers", "Duplicate trigger id", &trigger_ids);
    }
    push_duplicates(&mut v, "tasks", "Duplicate task id", &ids);
    check_labels(&mut v, map.get("labels"));
    check_recursive_subflow(&mut v, parsed);
    v
}

fn push_duplicates(v: &mut Vec<Violation>, path: &str, what: &str, ids: &[String]) {
    let mut seen = BTreeSet::new();
    let mut dups = BTreeSet::new();
    for id in ids {
        if !seen.insert(id) {
            dups.insert(id.clone());
        }
    }
    if !dups.is_empty() {
        let names: Vec<_> = dups.into_iter().collect();
        v.push(Violation::new(
            path,
            format!("{what} with name [{}]", names.join(", ")),
        ));
    }
}

/// Tasks (or triggers) of one list, recursing into the child lists of flowable tasks.
fn check_tasks(v: &mut Vec<Violation>, ids: &mut Vec<String>, path: &str, items: &[Value]) {
    static TASK_ID: OnceLock<Regex> = OnceLock::new();
    for (i, item) in items.iter().enumerate() {
        let mut here = format!("{path}[{i}]");
        // Dag entries wrap their task: `{task: {id, type, …}, dependsOn: […]}`
        let item = match item.get("task") {
            Some(inner @ Value::Object(_)) if item.get("type").is_none() => {
                here.push_str(".task");
                inner
            }
            _ => item,
        };
        let Value::Object(task) = item else {
            v.push(Violation::new(
                &here,
                "must be a mapping with `id` and `type`",
            ));
            continue;
        };
        match task.get("id") {
            Some(Value::String(id)) => {
                ids.push(id.clone());
                if !full_match(re(&TASK_ID, TASK_ID_PATTERN), id) {
                    v.push(Violation::new(
                        format!("{here}.id"),
                        format!("must match \"{TASK_ID_PATTERN}\""),
                    ));
                }
            }
            _ => v.push(Violation::new(format!("{here}.id"), "must not be null")),
        }
        match task.get("type") {
            Some(Value::String(t)) => {
                if !looks_like_class(t) || UNKNOWN_TYPES.contains(&t.as_str()) {
                    v.push(Violation::new(&here, format!("Invalid type: {t}")));
                }
            }
            _ => v.push(Violation::new(
                format!("{here}.type"),
                "missing type property",
            )),
        }
        for child in ["tasks", "then", "else", "errors", "finally", "defaults"] {
            if let Some(Value::Array(children)) = task.get(child) {
                check_tasks(v, ids, &format!("{here}.{child}"), children);
            }
        }
        if let Some(Value::Object(cases)) = task.get("cases") {
            for (case, children) in cases {
                if let Value::Array(children) = children {
                    check_tasks(v, ids, &format!("{here}.cases.{case}"), children);
                }
            }
        }
    }
}

/// `a.b.C`: at least two dot-separated Java identifiers.
fn looks_like_class(t: &str) -> bool {
    static CLASS: OnceLock<Regex> = OnceLock::new();
    full_match(
        re(
            &CLASS,
            r"[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)+",
        ),
        t,
    )
}

/// Labels with the `system.` prefix are reserved for Kestra itself (but `system.readOnly`).
fn check_labels(v: &mut Vec<Violation>, labels: Option<&Value>) {
    let keys: Vec<String> = match labels {
        Some(Value::Object(map)) => map.keys().cloned().collect(),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|l| l.get("key").and_then(Value::as_str).map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    // `system.readOnly` is the one system label users may set
    for key in keys
        .iter()
        .filter(|k| k.starts_with("system.") && k.as_str() != "system.readOnly")
    {
        v.push(Violation::new(
            "labels",
            format!("System labels can only be set by Kestra itself, offending label: {key}"),
        ));
    }
}

/// Every subflow call in the flow: (namespace, flowId) with plain (non-templated) values.
pub(crate) fn subflow_calls(parsed: &Parsed) -> Vec<(String, String)> {
    fn walk(value: &Value, out: &mut Vec<(String, String)>) {
        match value {
            Value::Object(map) => {
                let is_subflow = map
                    .get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| SUBFLOW_TYPES.contains(&t));
                if is_subflow {
                    let ns = map.get("namespace").and_then(Value::as_str);
                    let id = map.get("flowId").and_then(Value::as_str);
                    if let (Some(ns), Some(id)) = (ns, id) {
                        if !ns.contains("{{") && !id.contains("{{") {
                            out.push((ns.to_string(), id.to_string()));
                        }
                    }
                }
                map.values().for_each(|v| walk(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for section in ["tasks", "errors", "finally", "afterExecution"] {
        if let Some(v) = parsed.json.get(section) {
            walk(v, &mut out);
        }
    }
    out
}

fn check_recursive_subflow(v: &mut Vec<Violation>, parsed: &Parsed) {
    let (Some(ns), Some(id)) = (&parsed.namespace, &parsed.id) else {
        return;
    };
    if subflow_calls(parsed)
        .iter()
        .any(|(cns, cid)| cns == ns && cid == id)
    {
        v.push(Violation::new(
            "tasks",
            format!("Recursive call to flow [{ns}.{id}]"),
        ));
    }
}

/// The warning the server gives for a subflow it cannot find (not an error).
pub(crate) fn missing_subflow_warning(namespace: &str, id: &str) -> String {
    format!("The subflow '{id}' not found in namespace '{namespace}'.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violations(src: &str) -> Vec<Violation> {
        check(&parse(src).unwrap(), true)
    }

    #[test]
    fn a_minimal_flow_is_valid() {
        let v = violations(
            "id: a\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n",
        );
        assert!(v.is_empty(), "{v:?}");
    }

    #[test]
    fn catches_the_model_rules() {
        let v = violations("id: my#flow\nnamespace: MY$NS\ntasks:\n  - type: a.B\n");
        let text = joined(&v);
        assert!(text.contains("id: must match"), "{text}");
        assert!(text.contains("namespace: must match"), "{text}");
        assert!(text.contains("tasks[0].id: must not be null"), "{text}");
        assert!(joined(&violations(
            "id: pause\nnamespace: n\ntasks: [{id: t, type: a.B}]"
        ))
        .contains("reserved"));
        assert!(!check(
            &parse("id: pause\nnamespace: n\ntasks: [{id: t, type: a.B}]").unwrap(),
            false
        )
        .iter()
        .any(|v| v.message.contains("reserved")));
        assert!(joined(&violations("id: a\nnamespace: n\n")).contains("tasks: must not be empty"));
        assert!(joined(&violations(
            "id: a\nnamespace: n\ntasks: [{id: t, type: Log}]"
        ))
        .contains("Invalid type: Log"));
        assert!(joined(&violations(
            "id: a\nnamespace: n\ntasks: [{id: t, type: io.kestra.plugin.core.unknown.Nope}]"
        ))
        .contains("Invalid type"));
        assert!(joined(&violations("id: a\nnamespace: n\ntasks: [{id: t, type: a.B}, {id: s, type: a.B, tasks: [{id: t, type: a.B}]}]")).contains("Duplicate task id with name [t]"));
    }

    #[test]
    fn parse_errors() {
        assert!(parse("").is_err());
        assert!(parse("- a\n- b\n").is_err());
        assert!(parse("id: a\nid: b\n").is_err());
        assert!(parse("id: [\n").is_err());
    }

    #[test]
    fn finds_plain_subflow_calls() {
        let p = parse("id: a\nnamespace: n\ntasks:\n  - id: s\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: x\n    flowId: y\n  - id: t\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: \"{{ inputs.ns }}\"\n    flowId: y\n").unwrap();
        assert_eq!(subflow_calls(&p), vec![("x".to_string(), "y".to_string())]);
    }
}
