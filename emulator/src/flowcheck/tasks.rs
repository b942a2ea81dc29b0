//! Tasks, listeners and triggers: their types (deserialization), their ids, and the
//! constraints Kestra puts on its core tasks — each rule names the Kestra class it mirrors.

use std::sync::OnceLock;

use serde_json::{Map, Value};

use super::{full_match, java_text, leaf_path, plugins, re, scalar_text, Ctx};

const TASK_ID_PATTERN: &str = "^[a-zA-Z0-9][a-zA-Z0-9_-]*";

/// `a.b.C`: at least two dot-separated Java identifiers. Every plugin class lives in a
/// package, so anything else (`type: Log`) names no plugin.
fn looks_like_class(t: &str) -> bool {
    static CLASS: OnceLock<regex::Regex> = OnceLock::new();
    full_match(
        re(
            &CLASS,
            r"[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)+",
        ),
        t,
    )
}

/// The plugin type of a mapping, or the deserialization error the server gives for it:
/// Jackson's `InvalidTypeIdException` becomes `Invalid type: <id>` (`YamlParser`), also
/// for a missing type (`Invalid type: null`).
fn plugin_type<'v>(cx: &mut Ctx, path: &str, item: &'v Map<String, Value>) -> Option<&'v str> {
    match item.get("type") {
        Some(Value::String(t)) if looks_like_class(t) && plugins::is_known_type(t) => Some(t),
        other => {
            cx.jackson(path, format!("Invalid type: {}", java_text(other)));
            None
        }
    }
}

/// A list of tasks at `path` (`tasks`, `tasks[0].then`…).
pub(super) fn walk_list(cx: &mut Ctx, value: &Value, path: &str) {
    let Value::Array(items) = value else {
        return;
    };
    for (i, item) in items.iter().enumerate() {
        walk_task(cx, item, &format!("{path}[{i}]"));
    }
}

fn walk_task(cx: &mut Ctx, item: &Value, path: &str) {
    let task = match item {
        Value::Object(task) => task,
        Value::Null => {
            cx.bean(path, "must not be null");
            return;
        }
        other => {
            cx.jackson(
                path,
                format!(
                    "Illegal flow yaml: a task must be a mapping with `id` and `type`, got {other}"
                ),
            );
            return;
        }
    };
    let Some(t) = plugin_type(cx, path, task) else {
        return;
    };
    if let Some(message) = plugins::unknown_property(t, task.keys()) {
        cx.jackson(path, message);
        return;
    }
    let id = scalar_text(task.get("id"));
    let here = leaf_path(path, "tasks", id.as_deref());
    // TaskInterface.getId(): @NotNull @NotBlank @Pattern
    match &id {
        None => cx.bean(format!("{path}.id"), "must not be null"),
        Some(s) if s.trim().is_empty() => cx.bean(format!("{path}.id"), "must not be blank"),
        Some(s) => {
            static TASK_ID: OnceLock<regex::Regex> = OnceLock::new();
            if !full_match(re(&TASK_ID, TASK_ID_PATTERN), s) {
                cx.bean(
                    format!("{here}.id"),
                    format!("must match \"{TASK_ID_PATTERN}\""),
                );
            }
        }
    }
    if let Some(id) = &id {
        cx.task_ids.push(id.clone());
    }
    worker_group(cx, path, task.get("workerGroup"));
    if let Some(Value::Object(runner)) = task.get("taskRunner") {
        if runner.get("type").is_some() {
            plugin_type(cx, &format!("{path}.taskRunner"), runner);
        }
    }
    let class = plugins::canonical(t);
    match class {
        "io.kestra.plugin.core.flow.Dag" => dag(cx, task, path, &here),
        "io.kestra.plugin.core.flow.Switch" => switch(cx, task, &here),
        "io.kestra.plugin.core.flow.WorkingDirectory" => working_directory(cx, task, &here),
        "io.kestra.plugin.core.flow.Parallel" | "io.kestra.plugin.core.flow.EachParallel" => {
            parallel(cx, task, &here)
        }
        // If.then: @NotEmpty
        "io.kestra.plugin.core.flow.If" if is_empty_list(task.get("then")) => {
            cx.bean(format!("{here}.then"), "must not be empty")
        }
        _ => {}
    }
    if plugins::is_executable(t) {
        if let (Some(Value::String(ns)), Some(Value::String(flow))) =
            (task.get("namespace"), task.get("flowId"))
        {
            cx.calls.push((ns.clone(), flow.clone()));
        }
    }
    // children, depth first (FlowableTask.allChildTasks)
    for child in ["tasks", "then", "else", "errors", "finally", "defaults"] {
        if child == "tasks" && class == "io.kestra.plugin.core.flow.Dag" {
            continue; // walked by `dag`
        }
        if let Some(children) = task.get(child) {
            walk_list(cx, children, &format!("{path}.{child}"));
        }
    }
    if let Some(Value::Object(cases)) = task.get("cases") {
        for (case, children) in cases {
            walk_list(cx, children, &format!("{path}.cases[{case}]"));
        }
    }
}

fn is_empty_list(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(m)) => m.is_empty(),
        Some(_) => false,
    }
}

/// `Task.workerGroup` / `AbstractTrigger.workerGroup`: `WorkerGroup.key` has a
/// `@Pattern`, and `WorkerGroupValidator` refuses any key outside the Enterprise Edition.
fn worker_group(cx: &mut Ctx, path: &str, wg: Option<&Value>) {
    let Some(Value::Object(wg)) = wg else {
        return;
    };
    let Some(key) = scalar_text(wg.get("key")) else {
        return;
    };
    static KEY: OnceLock<regex::Regex> = OnceLock::new();
    if !full_match(re(&KEY, TASK_ID_PATTERN), &key) {
        cx.bean(
            format!("{path}.workerGroup.key"),
            format!("must match \"{TASK_ID_PATTERN}\""),
        );
    }
    if !cx.rules.enterprise {
        cx.bean(
            format!("{path}.workerGroup"),
            "Worker Group is an Enterprise Edition functionality",
        );
    }
}

/// `Dag.tasks` (`@NotEmpty`, entries `{task, dependsOn}`) and `DagTaskValidator`: every
/// `dependsOn` names a task of the DAG, and no task depends on itself through others.
fn dag(cx: &mut Ctx, task: &Map<String, Value>, path: &str, here: &str) {
    let entries = match task.get("tasks") {
        Some(Value::Array(entries)) if !entries.is_empty() => entries,
        _ => {
            cx.bean(format!("{here}.tasks"), "must not be empty");
            cx.bean(here, "No task defined");
            return;
        }
    };
    let mut nodes: Vec<(String, Vec<String>)> = Vec::new();
    for (j, entry) in entries.iter().enumerate() {
        let entry_path = format!("{path}.tasks[{j}]");
        let Some(inner) = entry.get("task").filter(|t| !t.is_null()) else {
            cx.bean(format!("{entry_path}.task"), "must not be null");
            continue;
        };
        walk_task(cx, inner, &format!("{entry_path}.task"));
        let depends: Vec<String> = match entry.get("dependsOn") {
            Some(Value::Array(d)) => d.iter().filter_map(|v| scalar_text(Some(v))).collect(),
            _ => Vec::new(),
        };
        if let Some(id) = scalar_text(inner.get("id")) {
            nodes.push((id, depends));
        }
    }
    let ids: Vec<&String> = nodes.iter().map(|(id, _)| id).collect();
    let missing: Vec<&str> = nodes
        .iter()
        .flat_map(|(_, d)| d.iter())
        .filter(|d| !ids.contains(d))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        cx.bean(
            here,
            format!("Not existing task id in dependency: {}", missing.join(", ")),
        );
        return;
    }
    // Dag.dagCheckCyclicDependencies: a task reachable from its own dependencies
    let cyclic: Vec<&str> = nodes
        .iter()
        .filter(|(id, depends)| !depends.is_empty() && reaches(&nodes, depends, id))
        .map(|(id, _)| id.as_str())
        .collect();
    if !cyclic.is_empty() {
        cx.bean(
            here,
            format!("Cyclic dependency detected: {}", cyclic.join(", ")),
        );
    }
}

/// Whether `target` is reachable from `start` following `dependsOn` edges.
fn reaches(nodes: &[(String, Vec<String>)], start: &[String], target: &str) -> bool {
    let mut seen: Vec<&str> = Vec::new();
    let mut stack: Vec<&str> = start.iter().map(String::as_str).collect();
    while let Some(id) = stack.pop() {
        if id == target {
            return true;
        }
        if seen.contains(&id) {
            continue;
        }
        seen.push(id);
        if let Some((_, next)) = nodes.iter().find(|(n, _)| n == id) {
            stack.extend(next.iter().map(String::as_str));
        }
    }
    false
}

/// `SwitchTaskValidator`: some case or the defaults must hold tasks.
fn switch(cx: &mut Ctx, task: &Map<String, Value>, here: &str) {
    if is_empty_list(task.get("cases")) && is_empty_list(task.get("defaults")) {
        cx.bean(
            here,
            "No task defined, neither cases or default have any tasks",
        );
    }
}

/// `WorkingDirectoryTaskValidator`: tasks required, runnable tasks only, no worker group
/// on a child (the first failing rule only, as the validator returns on it).
fn working_directory(cx: &mut Ctx, task: &Map<String, Value>, here: &str) {
    let children = match task.get("tasks") {
        Some(Value::Array(children)) if !children.is_empty() => children,
        _ => {
            cx.bean(here, "The 'tasks' property cannot be empty");
            return;
        }
    };
    let child_type = |c: &Value| c.get("type").and_then(Value::as_str).map(str::to_string);
    if children
        .iter()
        .filter_map(child_type)
        .any(|t| !plugins::is_runnable(&t))
    {
        cx.bean(
            here,
            "Only runnable tasks are allowed as children of a WorkingDirectory task",
        );
        return;
    }
    if children
        .iter()
        .any(|c| c.get("workerGroup").is_some_and(|w| !w.is_null()))
    {
        cx.bean(here, "Cannot set a Worker Group in any WorkingDirectory sub-tasks, it is only supported at the WorkingDirectory level");
    }
}

/// `Parallel.tasks`: `@NotEmpty @NotNull List<@NotNull Task>` (`EachParallel` extends it).
fn parallel(cx: &mut Ctx, task: &Map<String, Value>, here: &str) {
    match task.get("tasks") {
        None | Some(Value::Null) => {
            cx.bean(format!("{here}.tasks"), "must not be empty");
            cx.bean(format!("{here}.tasks"), "must not be null");
        }
        Some(Value::Array(a)) if a.is_empty() => {
            cx.bean(format!("{here}.tasks"), "must not be empty")
        }
        _ => {}
    }
}

/// `Flow.listeners` (`Listener.tasks`: `@NotEmpty`; `conditions` are plugins).
pub(super) fn walk_listeners(cx: &mut Ctx, value: &Value) {
    let Value::Array(listeners) = value else {
        return;
    };
    for (i, listener) in listeners.iter().enumerate() {
        let path = format!("listeners[{i}]");
        if let Some(conditions) = listener.get("conditions") {
            walk_conditions(cx, conditions, &format!("{path}.conditions"));
        }
        match listener.get("tasks") {
            Some(tasks @ Value::Array(list)) if !list.is_empty() => {
                let start = cx.task_ids.len();
                walk_list(cx, tasks, &format!("{path}.tasks"));
                let ids: Vec<String> = cx.task_ids.drain(start..).collect();
                cx.listener_task_ids.extend(ids);
            }
            _ => cx.bean(format!("{path}.tasks"), "must not be empty"),
        }
    }
}

/// Conditions (a list, or `MultipleCondition`'s map of them), nested ones included.
fn walk_conditions(cx: &mut Ctx, value: &Value, path: &str) {
    let items: Vec<(String, &Value)> = match value {
        Value::Array(list) => list
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("{path}[{i}]"), c))
            .collect(),
        Value::Object(map) => map
            .iter()
            .map(|(k, c)| (format!("{path}[{k}]"), c))
            .collect(),
        _ => return,
    };
    for (here, condition) in items {
        let Value::Object(c) = condition else {
            continue;
        };
        plugin_type(cx, &here, c);
        if let Some(nested) = c.get("conditions") {
            walk_conditions(cx, nested, &format!("{here}.conditions"));
        }
    }
}

/// `Flow.triggers`: type, id (`TriggerInterface`), worker group, conditions, and labels
/// (`List<@NoSystemLabelValidation Label>`, `NoSystemLabelValidator`).
pub(super) fn walk_triggers(cx: &mut Ctx, value: &Value) {
    let Value::Array(triggers) = value else {
        return;
    };
    for (i, trigger) in triggers.iter().enumerate() {
        let path = format!("triggers[{i}]");
        let Value::Object(t) = trigger else {
            cx.jackson(
                &path,
                format!("Illegal flow yaml: a trigger must be a mapping with `id` and `type`, got {trigger}"),
            );
            continue;
        };
        plugin_type(cx, &path, t);
        match scalar_text(t.get("id")) {
            None => cx.bean(format!("{path}.id"), "must not be null"),
            Some(id) => {
                static TRIGGER_ID: OnceLock<regex::Regex> = OnceLock::new();
                if !full_match(re(&TRIGGER_ID, TASK_ID_PATTERN), &id) {
                    cx.bean(
                        format!("{path}.id"),
                        format!("must match \"{TASK_ID_PATTERN}\""),
                    );
                }
                cx.trigger_ids.push(id);
            }
        }
        worker_group(cx, &path, t.get("workerGroup"));
        if let Some(conditions) = t.get("conditions") {
            walk_conditions(cx, conditions, &format!("{path}.conditions"));
        }
        for (j, (key, value)) in super::labels(t.get("labels")).into_iter().enumerate() {
            if key.starts_with("system.") {
                cx.bean(
                    format!("{path}.labels[{j}]"),
                    format!("System labels can only be set by Kestra itself, offending label: {key}={value}."),
                );
            }
        }
    }
}
