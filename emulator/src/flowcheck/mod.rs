//! What the server checks when a flow is created, updated or validated (kestra.md §4), done
//! the way Kestra does it, in two stages:
//!
//! 1. **Deserialization** (`YamlParser` with Jackson's strict mapper): an unknown plugin or
//!    input `type` (`Invalid type: …`), an unknown property of a strictly known core task
//!    (`Unrecognized field …`). Jackson stops at the first one, so only the first (in
//!    document order) is reported and the model is not validated.
//! 2. **Model validation** (Jakarta constraints via `ModelValidator`): every violation, as
//!    `path: message`, where Kestra's `KestraConstraintViolationException` writes a task's
//!    or an input's id in place of its `tasks[i]` / `inputs[i]` path segment, plus the
//!    flow-wide `FlowValidator` messages gathered into one `Invalid Flow: …` violation.
//!
//! The real server knows every installed plugin; the emulator knows Kestra's core plugin
//! ([`plugins`]) and accepts any other class-shaped type. Modules: [`tasks`] (tasks,
//! listeners, triggers), [`inputs`], [`plugins`].

mod inputs;
mod plugins;
mod tasks;

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
    /// The top-level keys in source order (the order Jackson reads them in).
    pub top_keys: Vec<String>,
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
/// with the server's strict Jackson parser. A leading byte-order mark is skipped, as
/// SnakeYAML's scanner does at the start of a stream.
pub(crate) fn parse(source: &str) -> Result<Parsed, ParseError> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    if source.trim().is_empty() {
        return Err(ParseError(
            "Illegal flow source: the source is empty".to_string(),
        ));
    }
    let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(source)
        .map_err(|e| ParseError(format!("Illegal flow source: {e}")))?;
    let top_keys = match &yaml {
        serde_yaml_ng::Value::Mapping(m) => m
            .keys()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
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
        top_keys,
    })
}

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("static regex"))
}

const FLOW_ID_PATTERN: &str = "^[a-zA-Z0-9][a-zA-Z0-9._-]*";
const NAMESPACE_PATTERN: &str = "^[a-z0-9][a-z0-9._-]*";

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

/// What the emulated server is, as far as validation goes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Rules {
    /// Refuse the ids reserved since 1.0.
    pub reserved_ids: bool,
    /// Enterprise Edition (worker groups allowed).
    pub enterprise: bool,
}

/// What one check gathers while walking a flow.
struct Ctx<'r> {
    rules: &'r Rules,
    /// Deserialization errors, in document order: the first one is the answer.
    jackson: Vec<Violation>,
    /// Model violations.
    bean: Vec<Violation>,
    /// Every task id, depth first, in `Flow.allTasksWithChilds()` order (tasks, errors…,
    /// then the listeners' in `listener_task_ids`).
    task_ids: Vec<String>,
    listener_task_ids: Vec<String>,
    trigger_ids: Vec<String>,
    input_ids: Vec<String>,
    /// `(namespace, flowId)` of every executable task (Subflow, ForEachItem).
    calls: Vec<(String, String)>,
}

impl Ctx<'_> {
    fn jackson(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.jackson.push(Violation::new(path, message));
    }
    fn bean(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.bean.push(Violation::new(path, message));
    }
}

/// A YAML scalar as Jackson reads it into a `String` property (`id: 123` is `"123"`).
fn scalar_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A value as Java's `String.valueOf` would print it in a message.
fn java_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "null".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// `KestraConstraintViolationException.replaceId`: in the path of a violation whose leaf
/// bean is a task (`kind` = `tasks`) or an input (`inputs`), every `kind[i]` segment
/// becomes that bean's id; without an id the path stays as it is.
fn leaf_path(path: &str, kind: &str, id: Option<&str>) -> String {
    static TASKS: OnceLock<Regex> = OnceLock::new();
    static INPUTS: OnceLock<Regex> = OnceLock::new();
    let Some(id) = id.filter(|s| !s.is_empty()) else {
        return path.to_string();
    };
    let pattern = if kind == "inputs" {
        re(&INPUTS, r"inputs\[\d+\]")
    } else {
        re(&TASKS, r"tasks\[\d+\]")
    };
    pattern.replace_all(path, regex::NoExpand(id)).into_owned()
}

/// Bean-validation style check of a Java regex constraint (whole-string match).
fn full_match(pattern: &Regex, s: &str) -> bool {
    pattern
        .find(s)
        .is_some_and(|m| m.start() == 0 && m.end() == s.len())
}

/// `@NotNull @NotBlank @Pattern(regexp) @Size(max)` on a string property.
fn check_identifier(
    v: &mut Vec<Violation>,
    path: &str,
    value: Option<&Value>,
    pattern: &Regex,
    pattern_text: &str,
    max: usize,
) {
    match scalar_text(value) {
        None if matches!(value, None | Some(Value::Null)) => {
            v.push(Violation::new(path, "must not be null"))
        }
        None => v.push(Violation::new(path, "must be a string")),
        Some(s) => {
            if s.is_empty() || s.chars().count() > max {
                v.push(Violation::new(
                    path,
                    format!("size must be between 1 and {max}"),
                ));
            }
            if !full_match(pattern, &s) {
                v.push(Violation::new(
                    path,
                    format!("must match \"{pattern_text}\""),
                ));
            }
        }
    }
}

/// Validation of a parsed flow: the checks the server does beyond parsing YAML.
pub(crate) fn check(parsed: &Parsed, rules: &Rules) -> Vec<Violation> {
    let map = &parsed.json;
    let mut cx = Ctx {
        rules,
        jackson: Vec::new(),
        bean: Vec::new(),
        task_ids: Vec::new(),
        listener_task_ids: Vec::new(),
        trigger_ids: Vec::new(),
        input_ids: Vec::new(),
        calls: Vec::new(),
    };
    // Jackson reads the properties in source order
    for key in &parsed.top_keys {
        let Some(value) = map.get(key) else { continue };
        match key.as_str() {
            "inputs" => inputs::walk(&mut cx, value),
            "tasks" | "errors" | "finally" | "afterExecution" => {
                tasks::walk_list(&mut cx, value, key)
            }
            "listeners" => tasks::walk_listeners(&mut cx, value),
            "triggers" => tasks::walk_triggers(&mut cx, value),
            _ => {}
        }
    }
    if let Some(first) = cx.jackson.drain(..).next() {
        return vec![first];
    }

    static ID: OnceLock<Regex> = OnceLock::new();
    static NS: OnceLock<Regex> = OnceLock::new();
    let mut v = Vec::new();
    check_identifier(
        &mut v,
        "id",
        map.get("id"),
        re(&ID, FLOW_ID_PATTERN),
        FLOW_ID_PATTERN,
        100,
    );
    if let Some(id) = &parsed.id {
        if rules.reserved_ids && RESERVED_IDS.contains(&id.as_str()) {
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
    // Flow.tasks: @NotEmpty
    match map.get("tasks") {
        Some(Value::Array(tasks)) if !tasks.is_empty() => {}
        Some(Value::Array(_)) | None | Some(Value::Null) => {
            v.push(Violation::new("tasks", "must not be empty"))
        }
        Some(_) => v.push(Violation::new("tasks", "must be a list of tasks")),
    }
    v.append(&mut cx.bean);
    let flow_messages = flow_validator(parsed, &cx);
    if !flow_messages.is_empty() {
        v.push(Violation::new(
            "",
            format!("Invalid Flow: {}", flow_messages.join(", ")),
        ));
    }
    v
}

/// Kestra's `FlowValidator` (core/validations/validator/FlowValidator.java): unique task,
/// trigger and input ids, no recursive subflow call, no system label.
fn flow_validator(parsed: &Parsed, cx: &Ctx) -> Vec<String> {
    let mut out = Vec::new();
    // `Flow.allTasks()`: tasks, errors (finally, afterExecution), then the listeners' tasks
    let all: Vec<String> = cx
        .task_ids
        .iter()
        .chain(&cx.listener_task_ids)
        .cloned()
        .collect();
    let dups = duplicates(&all);
    if !dups.is_empty() {
        out.push(format!("Duplicate task id with name [{}]", dups.join(", ")));
    }
    let dups = duplicates(&cx.trigger_ids);
    if !dups.is_empty() {
        out.push(format!(
            "Duplicate trigger id with name [{}]",
            dups.join(", ")
        ));
    }
    if let (Some(ns), Some(id)) = (&parsed.namespace, &parsed.id) {
        for _ in cx.calls.iter().filter(|(cns, cid)| cns == ns && cid == id) {
            out.push(format!("Recursive call to flow [{ns}.{id}]"));
        }
    }
    let dups = duplicates(&cx.input_ids);
    if !dups.is_empty() {
        out.push(format!("Duplicate input with name [{}]", dups.join(", ")));
    }
    // `system.readOnly` is the one system label users may set (Label.READ_ONLY)
    for (key, value) in labels(parsed.json.get("labels")) {
        if key.starts_with("system.") && key != "system.readOnly" {
            out.push(format!(
                "System labels can only be set by Kestra itself, offending label: {key}={value}"
            ));
        }
    }
    out
}

/// `FlowValidator.getDuplicates`: each id seen more than once, in first-seen order.
fn duplicates(ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for id in ids {
        if !out.contains(id) && ids.iter().filter(|x| *x == id).count() > 1 {
            out.push(id.clone());
        }
    }
    out
}

/// Labels as `(key, value)`, given as a map or as a list of `{key, value}`.
fn labels(labels: Option<&Value>) -> Vec<(String, String)> {
    match labels {
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| (k.clone(), java_text(Some(v))))
            .collect(),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|l| {
                let key = scalar_text(l.get("key"))?;
                Some((key, java_text(l.get("value"))))
            })
            .collect(),
        _ => Vec::new(),
    }
}

const SUBFLOW_TYPES: [&str; 3] = [
    "io.kestra.plugin.core.flow.Subflow",
    "io.kestra.core.tasks.flows.Subflow",
    "io.kestra.core.tasks.flows.Flow",
];

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

/// The warning the server gives for a subflow it cannot find (not an error).
pub(crate) fn missing_subflow_warning(namespace: &str, id: &str) -> String {
    format!("The subflow '{id}' not found in namespace '{namespace}'.")
}

#[cfg(test)]
mod tests;
