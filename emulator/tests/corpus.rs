//! The real flow corpus through `POST /flows/validate` (and create): Kestra's own valid test
//! flows and every public blueprint are accepted; each of Kestra's invalid test flows is
//! rejected with the message of the Kestra rule that rejects it.

mod common;

use common::*;
use kestra_emulator::Options;

fn corpus(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus")
        .join(rel)
}

/// `(file name, source)` of every file of a corpus folder, sorted.
fn read_dir(rel: &str) -> Vec<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(corpus(rel))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            (name, std::fs::read_to_string(p).unwrap())
        })
        .collect()
}

/// One multipart `validate` call with every source; the results in order.
async fn validate_all(opts: Options, sources: &[&str]) -> Vec<serde_json::Value> {
    let (_emu, c, base) = start(opts).await;
    let mut form = reqwest::multipart::Form::new();
    for (i, s) in sources.iter().enumerate() {
        let part = reqwest::multipart::Part::text(s.to_string())
            .file_name(format!("f{i}.yml"))
            .mime_str("application/x-yaml")
            .unwrap();
        form = form.part("flows", part);
    }
    let resp = c
        .post(format!("{base}/validate"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v = json(resp).await;
    let results = v.as_array().unwrap().clone();
    assert_eq!(results.len(), sources.len());
    results
}

#[tokio::test]
async fn kestra_valid_flows_pass_but_the_reserved_id() {
    if !common::shared_present(
        "corpus",
        "emulator corpus::kestra_valid_flows_pass_but_the_reserved_id",
    ) {
        return;
    }
    let files = read_dir("kestra-core/valids");
    assert_eq!(files.len(), 181);
    let sources: Vec<&str> = files.iter().map(|(_, s)| s.as_str()).collect();
    let results = validate_all(Options::default(), &sources).await;
    for ((name, _), r) in files.iter().zip(&results) {
        if name == "pause.yaml" {
            let c = r["constraints"].as_str().unwrap_or_default();
            assert!(c.contains("Flow id is a reserved keyword: pause"), "{r}");
        } else {
            assert!(r.get("constraints").is_none(), "{name}: {r}");
        }
    }
}

/// The one blueprint a real server refuses: its `WorkingDirectory` holds an `If`, a
/// flowable task, which `WorkingDirectoryTaskValidator` refuses (Kestra issue #8655: "You
/// cannot have flowable tasks inside a WorkingDirectory"; still so in 2026, PR #18281).
const REFUSED_BLUEPRINT: (&str, &str) = (
    "opa-policy-gate-ci.yaml",
    "policy_gate: Only runnable tasks are allowed as children of a WorkingDirectory task",
);

#[tokio::test]
async fn every_public_blueprint_is_valid_but_one_kestra_refuses() {
    if !common::shared_present(
        "corpus",
        "emulator corpus::every_public_blueprint_is_valid_but_one_kestra_refuses",
    ) {
        return;
    }
    let files = read_dir("blueprints");
    assert_eq!(files.len(), 399);
    let sources: Vec<&str> = files.iter().map(|(_, s)| s.as_str()).collect();
    let results = validate_all(Options::default(), &sources).await;
    for ((name, _), r) in files.iter().zip(&results) {
        if name == REFUSED_BLUEPRINT.0 {
            assert_eq!(r["constraints"], REFUSED_BLUEPRINT.1, "{r}");
        } else {
            assert!(r.get("constraints").is_none(), "{name}: {r}");
        }
    }
}

/// Each invalid file, the Kestra rule that rejects it, and what its message must say.
const INVALIDS: [(&str, &str, &[&str]); 22] = [
    ("dag-cyclicdependency.yaml", "DagTaskValidator", &["dag: Cyclic dependency detected: task1, task2"]),
    ("dag-notexist-task.yaml", "DagTaskValidator", &["dag: Not existing task id in dependency: taskX"]),
    ("duplicate-inputs.yaml", "FlowValidator", &["Invalid Flow: Duplicate input with name [first_input]"]),
    ("duplicate-key.yaml", "YamlParser (STRICT_DUPLICATE_DETECTION)", &["Illegal flow source", "variables.tf"]),
    ("duplicate-parallel.yaml", "FlowValidator", &["Duplicate task id with name [t3]"]),
    ("duplicate.yaml", "FlowValidator", &["Duplicate task id with name [date, listen]", "Duplicate trigger id with name [trigger]"]),
    ("empty.yaml", "Flow.tasks @NotEmpty", &["tasks: must not be empty"]),
    ("inputs-bad-type.yaml", "YamlParser (InvalidTypeIdException)", &["Invalid type: FOO"]),
    ("inputs-bad-validator-syntax.yaml", "RegexValidator", &["badValidatorSyntax.validator: invalid pattern [\\]"]),
    ("inputs-validation.yaml", "FileInputValidator, ArrayInputValidator", &["file: inputs of type 'FILE' only support `defaults`", "array: `itemType` cannot be `ARRAY`"]),
    ("inputs.yaml", "YamlParser (InvalidTypeIdException)", &["Invalid type: null"]),
    ("invalid-parallel.yaml", "Parallel.tasks @NotEmpty @NotNull", &["para2.tasks: must not be empty", "para3.tasks: must not be empty", "para4.tasks: must not be null"]),
    ("invalid-property.yaml", "YamlParser (UnrecognizedPropertyException)", &["Unrecognized field \"invalid\" (class io.kestra.plugin.core.debug.Return), not marked as ignorable"]),
    ("invalid-task.yaml", "YamlParser (InvalidTypeIdException)", &["Invalid type: io.kestra.plugin.core.debug.MissingOne"]),
    ("invalid.yaml", "Flow.id, Flow.namespace @Pattern; TaskInterface.id @NotNull", &["id: must match", "namespace: must match", "tasks[0].id: must not be null"]),
    ("listener.yaml", "Listener.tasks @NotEmpty", &["listeners[0].tasks: must not be empty", "listeners[1].tasks: must not be empty"]),
    ("recursive-flow.yaml", "FlowValidator", &["Recursive call to flow [io.kestra.tests.recursive-flow]"]),
    ("switch-invalid.yaml", "SwitchTaskValidator", &["impossible: No task defined, neither cases or default have any tasks"]),
    ("system-labels.yaml", "FlowValidator", &["offending label: system.label=system_key", "offending label: system.id=id"]),
    ("worker-group.yaml", "WorkerGroupValidator", &["tasks[0].workerGroup: Worker Group is an Enterprise Edition functionality"]),
    ("workingdirectory-invalid.yaml", "WorkingDirectoryTaskValidator", &["impossible: Only runnable tasks are allowed as children of a WorkingDirectory task"]),
    ("workingdirectory-no-tasks.yaml", "WorkingDirectoryTaskValidator", &["impossible: The 'tasks' property cannot be empty"]),
];

#[tokio::test]
async fn each_kestra_invalid_flow_is_rejected_by_its_rule() {
    if !common::shared_present(
        "corpus",
        "emulator corpus::each_kestra_invalid_flow_is_rejected_by_its_rule",
    ) {
        return;
    }
    let files = read_dir("kestra-core/invalids");
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    let listed: Vec<&str> = INVALIDS.iter().map(|(n, _, _)| *n).collect();
    assert_eq!(names, listed, "every invalid file has its rule here");
    let sources: Vec<&str> = files.iter().map(|(_, s)| s.as_str()).collect();
    let results = validate_all(Options::default(), &sources).await;
    for ((name, rule, expected), r) in INVALIDS.iter().zip(&results) {
        let c = r["constraints"].as_str().unwrap_or_default();
        for e in *expected {
            assert!(c.contains(e), "{name} ({rule}): expected {e:?} in {c:?}");
        }
    }
}

#[tokio::test]
async fn worker_groups_pass_on_enterprise_edition() {
    if !common::shared_present(
        "corpus",
        "emulator corpus::worker_groups_pass_on_enterprise_edition",
    ) {
        return;
    }
    let src = std::fs::read_to_string(corpus("kestra-core/invalids/worker-group.yaml")).unwrap();
    let opts = Options {
        edition: "EE".into(),
        ..Options::default()
    };
    let results = validate_all(opts, &[&src]).await;
    assert!(results[0].get("constraints").is_none(), "{}", results[0]);
}

#[tokio::test]
async fn create_refuses_an_invalid_flow_with_its_message() {
    if !common::shared_present(
        "corpus",
        "emulator corpus::create_refuses_an_invalid_flow_with_its_message",
    ) {
        return;
    }
    let (emu, c, base) = start(Options::default()).await;
    let src = std::fs::read_to_string(corpus("kestra-core/invalids/switch-invalid.yaml")).unwrap();
    let resp = create(&c, &base, &src).await;
    assert_eq!(resp.status(), 422);
    let body = json(resp).await;
    let msg = body["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("No task defined, neither cases or default have any tasks"),
        "{body}"
    );
    assert!(emu.flows("main").is_empty());
}
