//! Unit tests of the validation rules, one small flow per rule (the corpus tests in
//! `tests/validate_auth.rs` run the real files).

use super::*;

const OSS: Rules = Rules {
    reserved_ids: true,
    enterprise: false,
};

fn text(src: &str) -> String {
    joined(&check(&parse(src).unwrap(), &OSS))
}

fn flow(body: &str) -> String {
    format!("id: a\nnamespace: n\n{body}")
}

#[test]
fn a_minimal_flow_is_valid() {
    let t =
        text("id: a\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n");
    assert!(t.is_empty(), "{t}");
}

#[test]
fn catches_the_model_rules() {
    let t = text("id: my#flow\nnamespace: MY$NS\ntasks:\n  - type: a.B\n");
    assert!(t.contains("id: must match"), "{t}");
    assert!(t.contains("namespace: must match"), "{t}");
    assert!(t.contains("tasks[0].id: must not be null"), "{t}");
    assert!(text("id: pause\nnamespace: n\ntasks: [{id: t, type: a.B}]").contains("reserved"));
    let lenient = Rules {
        reserved_ids: false,
        ..OSS
    };
    let p = parse("id: pause\nnamespace: n\ntasks: [{id: t, type: a.B}]").unwrap();
    assert!(check(&p, &lenient).is_empty());
    assert!(text("id: a\nnamespace: n\n").contains("tasks: must not be empty"));
}

#[test]
fn unknown_types_fail_deserialization_first_one_only() {
    assert_eq!(
        text(&flow("tasks: [{id: t, type: Log}]")),
        "tasks[0]: Invalid type: Log"
    );
    assert_eq!(
        text(&flow("tasks: [{id: t}]")),
        "tasks[0]: Invalid type: null"
    );
    // the first in document order; no model validation after it
    let t = text("id: 'bad id'\nnamespace: n\nerrors: [{id: e, type: io.kestra.plugin.core.debug.MissingTwo}]\ntasks: [{id: t, type: io.kestra.plugin.core.debug.MissingOne}]\n");
    assert_eq!(
        t,
        "errors[0]: Invalid type: io.kestra.plugin.core.debug.MissingTwo"
    );
    // other plugins are installed per server: accepted
    assert!(text(&flow(
        "tasks: [{id: t, type: io.kestra.plugin.scripts.python.Script, anything: 1}]"
    ))
    .is_empty());
    // conditions and task runners are plugins too
    assert!(text(&flow("tasks: [{id: t, type: a.B}]\ntriggers: [{id: s, type: io.kestra.plugin.core.trigger.Schedule, conditions: [{type: io.kestra.plugin.core.condition.Nope}]}]")).contains("Invalid type: io.kestra.plugin.core.condition.Nope"));
    assert!(text(&flow(
        "tasks: [{id: t, type: a.B, taskRunner: {type: io.kestra.plugin.core.runner.Nope}}]"
    ))
    .contains("tasks[0].taskRunner: Invalid type"));
}

#[test]
fn unknown_property_of_a_strict_core_task() {
    let t = text(&flow(
        "tasks: [{id: t, type: io.kestra.plugin.core.debug.Return, invalid: x}]",
    ));
    assert!(t.contains("Unrecognized field \"invalid\" (class io.kestra.plugin.core.debug.Return), not marked as ignorable"), "{t}");
    assert!(text(&flow("tasks: [{id: t, type: io.kestra.plugin.core.log.Log, message: m, level: INFO, logLevel: WARN, runIf: 'true'}]")).is_empty());
}

#[test]
fn duplicate_ids_in_first_seen_order() {
    let t = text(&flow("tasks:\n  - {id: b, type: a.B}\n  - {id: s, type: io.kestra.plugin.core.flow.Sequential, tasks: [{id: b, type: a.B}, {id: a, type: a.B}]}\nerrors: [{id: a, type: a.B}]\nlisteners: [{tasks: [{id: s, type: a.B}]}]\ntriggers: [{id: x, type: a.B}, {id: x, type: a.B}]\n"));
    assert_eq!(
        t,
        "Invalid Flow: Duplicate task id with name [b, s, a], Duplicate trigger id with name [x]"
    );
}

#[test]
fn dag_dependencies() {
    let dag = |deps: &str| {
        text(&flow(&format!("tasks:\n  - id: dag\n    type: io.kestra.plugin.core.flow.Dag\n    tasks:\n      - task: {{id: t1, type: a.B}}\n        dependsOn: [{deps}]\n      - task: {{id: t2, type: a.B}}\n        dependsOn: [t1]\n      - task: {{id: t3, type: a.B}}\n        dependsOn: [t2]\n")))
    };
    assert!(dag("").is_empty(), "{}", dag(""));
    assert_eq!(dag("t3"), "dag: Cyclic dependency detected: t1, t2, t3");
    assert_eq!(dag("tX"), "dag: Not existing task id in dependency: tX");
    let t = text(&flow(
        "tasks: [{id: dag, type: io.kestra.plugin.core.flow.Dag}]",
    ));
    assert!(
        t.contains("dag.tasks: must not be empty") && t.contains("dag: No task defined"),
        "{t}"
    );
}

#[test]
fn flowable_core_tasks() {
    let t = text(&flow(
        "tasks: [{id: sw, type: io.kestra.plugin.core.flow.Switch, value: x, cases: {}}]",
    ));
    assert_eq!(
        t,
        "sw: No task defined, neither cases or default have any tasks"
    );
    assert!(text(&flow("tasks: [{id: sw, type: io.kestra.plugin.core.flow.Switch, value: x, defaults: [{id: t, type: a.B}]}]")).is_empty());
    let t = text(&flow(
        "tasks: [{id: p, type: io.kestra.core.tasks.flows.Parallel}]",
    ));
    assert_eq!(t, "p.tasks: must not be empty, p.tasks: must not be null");
    let t = text(&flow(
        "tasks: [{id: i, type: io.kestra.plugin.core.flow.If, condition: x}]",
    ));
    assert_eq!(t, "i.then: must not be empty");
    let wd = |children: &str| {
        text(&flow(&format!(
            "tasks: [{{id: wd, type: io.kestra.plugin.core.flow.WorkingDirectory{children}}}]"
        )))
    };
    assert_eq!(wd(""), "wd: The 'tasks' property cannot be empty");
    assert_eq!(
        wd(", tasks: [{id: p, type: io.kestra.plugin.core.flow.Pause}]"),
        "wd: Only runnable tasks are allowed as children of a WorkingDirectory task"
    );
    assert!(wd(", tasks: [{id: c, type: a.B, workerGroup: {key: g}}]")
        .contains("wd: Cannot set a Worker Group in any WorkingDirectory sub-tasks"));
    assert!(wd(", tasks: [{id: c, type: io.kestra.plugin.scripts.shell.Commands}]").is_empty());
}

#[test]
fn worker_groups_are_enterprise_only() {
    let src = flow("tasks: [{id: t, type: a.B, workerGroup: {key: gpu}}]");
    assert_eq!(
        text(&src),
        "tasks[0].workerGroup: Worker Group is an Enterprise Edition functionality"
    );
    let ee = Rules {
        enterprise: true,
        ..OSS
    };
    assert!(check(&parse(&src).unwrap(), &ee).is_empty());
}

#[test]
fn recursive_subflow_and_system_labels() {
    let t = text("id: a\nnamespace: n\nlabels: {system.x: 1, system.readOnly: 'true', team: t}\ntasks: [{id: s, type: io.kestra.plugin.core.flow.Subflow, namespace: n, flowId: a}]\n");
    assert_eq!(t, "Invalid Flow: Recursive call to flow [n.a], System labels can only be set by Kestra itself, offending label: system.x=1");
    let t = text(&flow("labels: [{key: system.y, value: v}]\ntasks: [{id: s, type: io.kestra.plugin.core.flow.ForEachItem, namespace: n, flowId: a}]"));
    assert!(
        t.contains("Recursive call") && t.contains("system.y=v"),
        "{t}"
    );
}

#[test]
fn input_rules() {
    let t = text(&flow(
        "inputs: [{id: x, type: FOO}]\ntasks: [{id: t, type: a.B}]",
    ));
    assert_eq!(t, "inputs[0]: Invalid type: FOO");
    let t = text(&flow("inputs: [{id: x}]\ntasks: [{id: t, type: a.B}]"));
    assert_eq!(t, "inputs[0]: Invalid type: null");
    let t = text(&flow(
        "inputs: [{id: 'wrong one', type: STRING}, {id: ok, type: STRING}, {id: ok, type: INT}]\ntasks: [{id: t, type: a.B}]",
    ));
    assert_eq!(t, "wrong one.id: must match \"^[a-zA-Z0-9][.a-zA-Z0-9_-]*\", Invalid Flow: Duplicate input with name [ok]");
    let t = text(&flow(
        "inputs: [{id: v, type: STRING, validator: '[a'}]\ntasks: [{id: t, type: a.B}]",
    ));
    assert_eq!(t, "v.validator: invalid pattern [[a]");
    let t = text(&flow("inputs: [{id: f, type: FILE, defaults: x}, {id: g, type: FILE, defaults: 'nsfile:///a.txt'}, {id: arr, type: ARRAY, itemType: ARRAY}]\ntasks: [{id: t, type: a.B}]"));
    assert_eq!(t, "f: inputs of type 'FILE' only support `defaults` as local files using a file URI or as namespace files using a nsfile URI, arr: `itemType` cannot be `ARRAY`");
    // the deprecated `name` is the id
    assert!(text(&flow(
        "inputs: [{name: old, type: STRING}]\ntasks: [{id: t, type: a.B}]"
    ))
    .is_empty());
}

#[test]
fn listeners_need_tasks() {
    let t = text(&flow("listeners: [{conditions: [{type: io.kestra.plugin.core.condition.ExecutionStatus}], tasks: []}, {}]\ntasks: [{id: t, type: a.B}]"));
    assert_eq!(
        t,
        "listeners[0].tasks: must not be empty, listeners[1].tasks: must not be empty"
    );
}

#[test]
fn never_panics_on_odd_shapes() {
    for src in [
        "id: a\nnamespace: n\ntasks: [1, null, [x], {id: 5, type: a.B}]",
        "id: a\nnamespace: n\ntasks: x\ninputs: 3\ntriggers: {a: 1}\nlisteners: [1, {tasks: 3}]",
        "id: a\nnamespace: n\ntasks: [{id: d, type: io.kestra.plugin.core.flow.Dag, tasks: [1, {task: null}, {task: {id: x, type: a.B}, dependsOn: x}]}]",
        "id: [1]\nnamespace: {a: 1}\ntasks: [{id: s, type: io.kestra.plugin.core.flow.Switch, cases: [1]}]",
        "id: a\nnamespace: n\ninputs: [1, {type: 2}, {id: {}, type: STRING, validator: 3}]\ntasks: []",
    ] {
        let _ = text(src);
    }
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
