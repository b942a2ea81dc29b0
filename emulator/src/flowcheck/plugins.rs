//! What the emulated server knows of Kestra's *core* plugin (the `io.kestra.plugin.core.*`
//! classes every server ships): which class names exist, their old aliases, which tasks are
//! not runnable, and the property sets of a few core tasks. The real server resolves a
//! `type` through its `PluginRegistry` and deserializes with Jackson's strict mapper
//! (`YamlParser.STRICT_MAPPER`: unknown properties fail); plugins outside the core are
//! installed per server, so the emulator accepts any other class-shaped type.
//!
//! The class lists are the union, over Kestra's history, of the classes in each core package
//! (kestra-io/kestra `core/src/main/java/io/kestra/plugin/core/<package>/`), minus abstract
//! classes, interfaces and helper types. A union is deliberately permissive: a type any
//! version has is accepted, so the emulator never rejects what some real server accepts.
//! The other core packages hold no flow plugin (`dashboard` charts and data sources, the
//! `purge` interface): a task, trigger or condition type there is unknown.

/// Core packages holding flow plugins (tasks, triggers, conditions, task runners), with
/// their classes.
const CORE_CLASSES: [(&str, &[&str]); 15] = [
    (
        "condition",
        &[
            "AdvancedExecutionsCondition",
            "DateTimeBetween",
            "DateTimeBetweenCondition",
            "DayWeek",
            "DayWeekCondition",
            "DayWeekInMonth",
            "DayWeekInMonthCondition",
            "ExecutionFlow",
            "ExecutionFlowCondition",
            "ExecutionLabels",
            "ExecutionLabelsCondition",
            "ExecutionNamespace",
            "ExecutionNamespaceCondition",
            "ExecutionOutputs",
            "ExecutionOutputsCondition",
            "ExecutionStatus",
            "ExecutionStatusCondition",
            "ExecutionsCondition",
            "Expression",
            "ExpressionCondition",
            "FlowCondition",
            "FlowNamespaceCondition",
            "HasRetryAttempt",
            "HasRetryAttemptCondition",
            "MultipleCondition",
            "Not",
            "NotCondition",
            "Or",
            "OrCondition",
            "PublicHoliday",
            "PublicHolidayCondition",
            "TimeBetween",
            "TimeBetweenCondition",
            "VariableCondition",
            "Weekend",
            "WeekendCondition",
        ],
    ),
    ("debug", &["Echo", "Return", "Wait"]),
    (
        "execution",
        &[
            "Assert",
            "Count",
            "Counts",
            "Exit",
            "Fail",
            "Kill",
            "Labels",
            "PurgeExecutions",
            "Resume",
            "SetVariables",
            "UnsetVariables",
        ],
    ),
    (
        "flow",
        &[
            "AllowFailure",
            "Approval",
            "Dag",
            "EachParallel",
            "EachSequential",
            "Flow",
            "ForEach",
            "ForEachItem",
            "If",
            "Loop",
            "LoopUntil",
            "Parallel",
            "Pause",
            "PurgeFlows",
            "Sequential",
            "Sleep",
            "Subflow",
            "Switch",
            "Template",
            "Wait",
            "WaitFor",
            "Worker",
            "WorkingDirectory",
        ],
    ),
    ("http", &["Download", "Request", "SseRequest", "Trigger"]),
    ("kv", &["Delete", "Get", "GetKeys", "PurgeKV", "Put", "Set"]),
    ("log", &["Fetch", "Log", "PurgeLogs"]),
    ("metric", &["Publish", "PurgeMetrics"]),
    (
        "namespace",
        &["DeleteFiles", "DownloadFiles", "PurgeFiles", "UploadFiles"],
    ),
    ("output", &["OutputValues"]),
    ("runner", &["Process", "ProcessTaskRunner"]),
    ("state", &["Delete", "Get", "Set"]),
    (
        "storage",
        &[
            "Concat",
            "DeduplicateItems",
            "Delete",
            "FilterItems",
            "LocalFiles",
            "Purge",
            "PurgeCurrentExecutionFiles",
            "PurgeExecution",
            "PurgeInternalStorage",
            "PurgeStorage",
            "Reverse",
            "Size",
            "Split",
            "Write",
        ],
    ),
    ("templating", &["TemplatedTask"]),
    (
        "trigger",
        &[
            "BatchWebhook",
            "Flow",
            "McpToolTrigger",
            "Schedule",
            "ScheduleOnDates",
            "Toggle",
            "Webhook",
        ],
    ),
];

const CORE_PREFIX: &str = "io.kestra.plugin.core.";

/// Old names of core classes (`@Plugin(aliases = …)`), for the rules that depend on the
/// class: (alias, canonical class).
const ALIASES: [(&str, &str); 18] = [
    (
        "io.kestra.core.tasks.flows.AllowFailure",
        "io.kestra.plugin.core.flow.AllowFailure",
    ),
    (
        "io.kestra.core.tasks.flows.Dag",
        "io.kestra.plugin.core.flow.Dag",
    ),
    (
        "io.kestra.core.tasks.flows.EachParallel",
        "io.kestra.plugin.core.flow.EachParallel",
    ),
    (
        "io.kestra.core.tasks.flows.EachSequential",
        "io.kestra.plugin.core.flow.EachSequential",
    ),
    (
        "io.kestra.core.tasks.flows.Flow",
        "io.kestra.plugin.core.flow.Subflow",
    ),
    (
        "io.kestra.core.tasks.flows.ForEachItem",
        "io.kestra.plugin.core.flow.ForEachItem",
    ),
    (
        "io.kestra.core.tasks.flows.If",
        "io.kestra.plugin.core.flow.If",
    ),
    (
        "io.kestra.core.tasks.flows.Parallel",
        "io.kestra.plugin.core.flow.Parallel",
    ),
    (
        "io.kestra.core.tasks.flows.Pause",
        "io.kestra.plugin.core.flow.Pause",
    ),
    (
        "io.kestra.core.tasks.flows.Sequential",
        "io.kestra.plugin.core.flow.Sequential",
    ),
    (
        "io.kestra.core.tasks.flows.Subflow",
        "io.kestra.plugin.core.flow.Subflow",
    ),
    (
        "io.kestra.core.tasks.flows.Switch",
        "io.kestra.plugin.core.flow.Switch",
    ),
    (
        "io.kestra.core.tasks.flows.Template",
        "io.kestra.plugin.core.flow.Template",
    ),
    (
        "io.kestra.core.tasks.flows.Worker",
        "io.kestra.plugin.core.flow.WorkingDirectory",
    ),
    (
        "io.kestra.core.tasks.flows.WorkingDirectory",
        "io.kestra.plugin.core.flow.WorkingDirectory",
    ),
    (
        "io.kestra.core.tasks.debugs.Return",
        "io.kestra.plugin.core.debug.Return",
    ),
    (
        "io.kestra.core.tasks.log.Log",
        "io.kestra.plugin.core.log.Log",
    ),
    // LoopUntil replaced WaitFor (`@Plugin(aliases = "io.kestra.plugin.core.flow.WaitFor")`)
    (
        "io.kestra.plugin.core.flow.WaitFor",
        "io.kestra.plugin.core.flow.LoopUntil",
    ),
];

/// The class a type names, with old aliases resolved (`io.kestra.core.tasks.flows.Pause`
/// → `io.kestra.plugin.core.flow.Pause`); other types are returned as they are.
pub(crate) fn canonical(t: &str) -> &str {
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == t)
        .map_or(t, |(_, class)| class)
}

/// `false` for a core type (`io.kestra.plugin.core.…`) that is not one of the core plugin
/// classes (`io.kestra.plugin.core.debug.MissingOne`): no server has such a plugin. Types
/// of other plugins are accepted (servers install plugins of their own).
pub(crate) fn is_known_type(t: &str) -> bool {
    let Some(rest) = t.strip_prefix(CORE_PREFIX) else {
        return true;
    };
    let Some((package, class)) = rest.split_once('.') else {
        return false;
    };
    CORE_CLASSES
        .iter()
        .any(|(p, classes)| *p == package && classes.contains(&class))
}

/// Core tasks that are not `RunnableTask`s (flowable, executable, or execution-updating),
/// by canonical class: what `WorkingDirectoryTaskValidator` refuses as children.
const NOT_RUNNABLE: [&str; 21] = [
    "io.kestra.plugin.core.flow.AllowFailure",
    "io.kestra.plugin.core.flow.Dag",
    "io.kestra.plugin.core.flow.EachParallel",
    "io.kestra.plugin.core.flow.EachSequential",
    "io.kestra.plugin.core.flow.ForEach",
    "io.kestra.plugin.core.flow.ForEachItem",
    "io.kestra.plugin.core.flow.If",
    "io.kestra.plugin.core.flow.LoopUntil",
    "io.kestra.plugin.core.flow.Parallel",
    "io.kestra.plugin.core.flow.Pause",
    "io.kestra.plugin.core.flow.Sequential",
    "io.kestra.plugin.core.flow.Subflow",
    "io.kestra.plugin.core.flow.Switch",
    "io.kestra.plugin.core.flow.Template",
    "io.kestra.plugin.core.flow.WaitFor",
    "io.kestra.plugin.core.flow.WorkingDirectory",
    "io.kestra.plugin.core.flow.Flow",
    "io.kestra.plugin.core.execution.Exit",
    "io.kestra.plugin.core.execution.Labels",
    "io.kestra.plugin.core.execution.SetVariables",
    "io.kestra.plugin.core.execution.UnsetVariables",
];

pub(crate) fn is_runnable(t: &str) -> bool {
    !NOT_RUNNABLE.contains(&canonical(t))
}

/// `ExecutableTask`s, whose `subflowId()` is `(namespace, flowId)`: `FlowValidator` refuses
/// one that calls its own flow.
pub(crate) fn is_executable(t: &str) -> bool {
    matches!(
        canonical(t),
        "io.kestra.plugin.core.flow.Subflow"
            | "io.kestra.plugin.core.flow.ForEachItem"
            | "io.kestra.plugin.core.flow.Flow"
    )
}

/// Properties every task has (`io.kestra.core.models.tasks.Task`, union over versions:
/// `version`, `pluginDefaultsRef`, `taskCache`, `assets` came with 1.x).
const TASK_PROPERTIES: [&str; 16] = [
    "id",
    "type",
    "version",
    "pluginDefaultsRef",
    "description",
    "retry",
    "timeout",
    "disabled",
    "workerGroup",
    "logLevel",
    "allowFailure",
    "logToFile",
    "runIf",
    "allowWarning",
    "taskCache",
    "assets",
];

/// Own properties of the core tasks the emulator checks strictly, by canonical class
/// (`Return.format`, `Log.message` and `Log.level` in their Kestra sources). Other types
/// accept any property.
const OWN_PROPERTIES: [(&str, &[&str]); 2] = [
    ("io.kestra.plugin.core.debug.Return", &["format"]),
    ("io.kestra.plugin.core.log.Log", &["message", "level"]),
];

/// Jackson's `UnrecognizedPropertyException` message for the first property of `task` the
/// class of `t` does not have, when `t` is one of the strictly checked classes.
pub(crate) fn unknown_property<'a>(
    t: &str,
    mut keys: impl Iterator<Item = &'a String>,
) -> Option<String> {
    let class = canonical(t);
    let (_, own) = OWN_PROPERTIES.iter().find(|(c, _)| *c == class)?;
    let known = |k: &str| TASK_PROPERTIES.contains(&k) || own.contains(&k);
    let field = keys.find(|k| !known(k))?;
    let mut all: Vec<&str> = TASK_PROPERTIES.iter().chain(own.iter()).copied().collect();
    all.sort_unstable();
    let listed: Vec<String> = all.iter().map(|p| format!("\"{p}\"")).collect();
    Some(format!(
        "Unrecognized field \"{field}\" (class {class}), not marked as ignorable ({} known properties: {}])",
        all.len(),
        listed.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_types() {
        assert!(is_known_type("io.kestra.plugin.core.debug.Return"));
        assert!(is_known_type(
            "io.kestra.plugin.core.condition.ExecutionNamespaceCondition"
        ));
        assert!(!is_known_type("io.kestra.plugin.core.debug.MissingOne"));
        assert!(!is_known_type("io.kestra.plugin.core.Nope"));
        assert!(!is_known_type("io.kestra.plugin.core.unknown.Nope"));
        assert!(!is_known_type("io.kestra.plugin.core.dashboard.chart.Bar"));
        // another plugin: the server may have it installed
        assert!(is_known_type("io.kestra.plugin.scripts.python.Script"));
        assert!(!is_runnable("io.kestra.core.tasks.flows.Pause"));
        assert!(is_runnable("io.kestra.plugin.core.log.Log"));
        assert!(is_runnable("io.kestra.plugin.scripts.shell.Commands"));
        assert!(is_executable("io.kestra.core.tasks.flows.Flow"));
    }

    #[test]
    fn strict_properties() {
        let keys = ["id".to_string(), "type".to_string(), "invalid".to_string()];
        let msg = unknown_property("io.kestra.core.tasks.debugs.Return", keys.iter()).unwrap();
        assert!(msg.starts_with(
            "Unrecognized field \"invalid\" (class io.kestra.plugin.core.debug.Return), not marked as ignorable (17 known properties: "
        ), "{msg}");
        let keys = ["id".to_string(), "message".to_string(), "level".to_string()];
        assert!(unknown_property("io.kestra.plugin.core.log.Log", keys.iter()).is_none());
        let keys = ["anything".to_string()];
        assert!(unknown_property("io.kestra.plugin.core.flow.Pause", keys.iter()).is_none());
    }
}
