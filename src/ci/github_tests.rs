//! Event payloads (fixtures shaped like GitHub's webhook payloads) and input mapping.

use super::*;
use std::collections::HashMap;

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/github-events/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn ctx(event: &str, file: &str, extra: &[(&str, &str)]) -> Result<Context, ContextError> {
    let mut vars: HashMap<String, String> = [
        ("GITHUB_EVENT_NAME", event.to_string()),
        ("GITHUB_EVENT_PATH", fixture(file)),
        ("GITHUB_REPOSITORY", "acme/flows".into()),
        (
            "GITHUB_SHA",
            "ffffffffffffffffffffffffffffffffffffffff".into(),
        ),
        ("GITHUB_SERVER_URL", "https://github.com".into()),
        ("GITHUB_RUN_ID", "9876543210".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    context_from(|k| vars.get(k).cloned())
}

#[test]
fn a_pull_request_from_the_same_repository() {
    let c = ctx("pull_request", "pull_request", &[]).unwrap();
    assert_eq!(
        c.event,
        Event::PullRequest {
            number: 42,
            action: "synchronize".into(),
            head_sha: "6dcb09b5b57875f334f61aebed695e2e4193db5e".into(),
            head_ref: "update-report".into(),
            base_ref: "main".into(),
            fork: false,
        }
    );
    assert_eq!(
        c.display_commit(),
        "6dcb09b5b57875f334f61aebed695e2e4193db5e"
    );
    assert_eq!(
        c.job_url.as_deref(),
        Some("https://github.com/acme/flows/actions/runs/9876543210")
    );
    assert_eq!(c.api_url, "https://api.github.com");
    assert_eq!(c.default_branch.as_deref(), Some("main"));
}

#[test]
fn forks_are_detected_even_when_deleted() {
    for (file, n) in [("pull_request_fork", 43), ("pull_request_deleted_fork", 44)] {
        let c = ctx("pull_request", file, &[]).unwrap();
        match c.event {
            Event::PullRequest { number, fork, .. } => {
                assert_eq!((number, fork), (n, true), "{file}")
            }
            other => panic!("{other:?}"),
        }
    }
    let target = ctx("pull_request_target", "pull_request_fork", &[]).unwrap();
    assert!(matches!(
        target.event,
        Event::PullRequest { fork: true, .. }
    ));
}

#[test]
fn pushes_name_their_branch() {
    let c = ctx(
        "push",
        "push_main",
        &[("GITHUB_API_URL", "https://ghe.example.com/api/v3")],
    )
    .unwrap();
    assert_eq!(
        c.event,
        Event::Push {
            git_ref: "refs/heads/main".into(),
            branch: Some("main".into()),
            after: "2222222222222222222222222222222222222222".into(),
            default_branch: Some("main".into()),
            deleted: false,
        }
    );
    assert_eq!(c.api_url, "https://ghe.example.com/api/v3");
    let tag = ctx("push", "push_tag", &[]).unwrap();
    assert!(matches!(tag.event, Event::Push { branch: None, .. }));
}

#[test]
fn schedules_and_manual_runs() {
    assert_eq!(
        ctx("schedule", "schedule", &[]).unwrap().event,
        Event::Schedule
    );
    assert_eq!(
        ctx("workflow_dispatch", "workflow_dispatch", &[])
            .unwrap()
            .event,
        Event::WorkflowDispatch
    );
    assert_eq!(
        ctx("release", "schedule", &[]).unwrap().event,
        Event::Other("release".into())
    );
}

#[test]
fn broken_runner_environments_say_what_is_missing() {
    let err = ctx("pull_request", "nope", &[]).unwrap_err().to_string();
    assert!(
        err.contains("GITHUB_EVENT_PATH") && err.contains("nope.json"),
        "{err}"
    );
    let err = context_from(|_| None).unwrap_err().to_string();
    assert!(err.contains("GITHUB_EVENT_NAME"), "{err}");
    let err = parse_event("pull_request", &serde_json::json!({}))
        .unwrap_err()
        .to_string();
    assert!(err.contains("number"), "{err}");
}

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn inputs_become_option_variables_and_secrets_are_masked() {
    let m = map_inputs(vars(&[
        ("INPUT_TARGET-NAMESPACE", "prod"),
        ("INPUT_KESTRA-URL", "https://k.example.com"),
        ("INPUT_KESTRA-PASSWORD", "hunter2"),
        ("INPUT_GITHUB-TOKEN", "ghs_abc"),
        ("INPUT_GITLAB-TOKEN", ""),
        ("INPUT_DELETE", "true"),
        ("INPUT_GIT-DIRECTORY", ""),
        ("INPUT_SHINY", "x"),
        ("KESTRA_API_TOKEN", "from-env"),
        ("PATH", "/usr/bin"),
    ]));
    let set: HashMap<_, _> = m.set.iter().cloned().collect();
    assert_eq!(
        set.get("KESTRA_SYNC_TARGET_NAMESPACE").map(String::as_str),
        Some("prod")
    );
    assert_eq!(
        set.get("KESTRA_URL").map(String::as_str),
        Some("https://k.example.com")
    );
    assert_eq!(
        set.get("KESTRA_PASSWORD").map(String::as_str),
        Some("hunter2")
    );
    assert_eq!(
        set.get("KESTRA_SYNC_GITHUB_TOKEN").map(String::as_str),
        Some("ghs_abc")
    );
    assert_eq!(
        set.get("KESTRA_SYNC_DELETE").map(String::as_str),
        Some("true")
    );
    assert!(!set.contains_key("GITLAB_TOKEN"), "empty = unset");
    assert!(
        !set.contains_key("KESTRA_SYNC_GIT_DIRECTORY"),
        "empty = unset"
    );
    assert_eq!(m.unknown, vec!["SHINY".to_string()]);
    let mut masks = m.masks.clone();
    masks.sort();
    assert_eq!(masks, vec!["from-env", "ghs_abc", "hunter2"]);
}

#[test]
fn the_runner_form_wins_over_an_underscore_form() {
    let m = map_inputs(vars(&[
        ("INPUT_TARGET_NAMESPACE", "by-hand"),
        ("INPUT_TARGET-NAMESPACE", "runner"),
        ("INPUT_FAIL_ON_DRIFT", "true"),
    ]));
    assert_eq!(
        m.set,
        vec![
            ("KESTRA_SYNC_FAIL_ON_DRIFT", "true".to_string()),
            ("KESTRA_SYNC_TARGET_NAMESPACE", "runner".to_string()),
        ]
    );
}

/// The table and the command line agree: every `ci` option is an input setting the variable
/// clap reads.
#[test]
fn every_ci_option_is_an_input_with_its_variable() {
    use clap::CommandFactory;
    let cli = crate::cli::Cli::command();
    let ci = cli.find_subcommand("ci").expect("ci subcommand");
    let mut options = Vec::new();
    for arg in ci.get_arguments() {
        let (Some(long), Some(env)) = (arg.get_long(), arg.get_env()) else {
            continue;
        };
        let env = env.to_string_lossy().into_owned();
        let input = INPUTS.iter().find(|(i, _)| *i == long);
        assert_eq!(
            input.map(|(_, v)| v.to_string()),
            Some(env.clone()),
            "--{long}"
        );
        options.push(long.to_string());
    }
    for (input, _) in INPUTS {
        assert!(
            options.iter().any(|o| o == input),
            "input `{input}` is no option of `ci`"
        );
    }
}

/// Every input of `action.yml` is one we read.
#[test]
fn action_yml_declares_only_known_inputs() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/action.yml");
    let Ok(text) = std::fs::read_to_string(path) else {
        return; // action.yml not in this tree yet
    };
    let doc: serde_json::Value = serde_yaml_ng::from_str(&text).expect("action.yml is YAML");
    let inputs = doc["inputs"].as_object().expect("action.yml has inputs");
    assert!(!inputs.is_empty());
    for name in inputs.keys() {
        assert!(
            INPUTS.iter().any(|(i, _)| i == name),
            "action.yml input `{name}` is not mapped"
        );
    }
}

/// The runner sets `INPUT_<NAME>` for every input with a `default:` in `action.yml`, given or
/// not: none of those defaults may override the same option set in the step's `env:`.
#[test]
fn no_input_default_overrides_a_step_env() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/action.yml");
    let text = std::fs::read_to_string(path).expect("action.yml");
    let doc: serde_json::Value = serde_yaml_ng::from_str(&text).expect("action.yml is YAML");
    let inputs = doc["inputs"].as_object().expect("inputs");
    let mut defaulted = Vec::new();
    for (name, input) in inputs {
        let Some(default) = input.get("default") else {
            continue;
        };
        defaulted.push(name.clone());
        let default = default
            .as_str()
            .map(str::to_string)
            .unwrap_or(default.to_string());
        let (_, var) = INPUTS.iter().find(|(i, _)| i == name).expect("mapped");
        // What the runner hands the container: the default as an input, the step's env.
        let vars = vec![
            (format!("INPUT_{}", name.to_ascii_uppercase()), default),
            (var.to_string(), "from-the-step-env".to_string()),
        ];
        let m = map_inputs(vars);
        assert!(
            !m.set.iter().any(|(v, _)| v == var),
            "the default of input `{name}` overrides {var} from the step's env: {:?}",
            m.set
        );
    }
    let declared: Vec<String> = DEFAULTED_INPUTS
        .iter()
        .map(|(i, _)| i.to_string())
        .collect();
    assert_eq!(defaulted, declared, "inputs with a default in action.yml");
    // An input without a default, given explicitly, still wins over the environment.
    let m = map_inputs(vec![
        ("INPUT_GIT-DIRECTORY".to_string(), "flows".to_string()),
        ("KESTRA_SYNC_GIT_DIRECTORY".to_string(), "env".to_string()),
    ]);
    assert_eq!(
        m.set,
        vec![("KESTRA_SYNC_GIT_DIRECTORY", "flows".to_string())]
    );
}

/// `branch` was renamed: it is never dropped as unknown (it chose what is applied).
#[test]
fn the_retired_branch_input_reaches_the_settings_check() {
    let m = map_inputs(vec![("INPUT_BRANCH".to_string(), "prod".to_string())]);
    assert!(m.unknown.is_empty(), "{m:?}");
    assert_eq!(m.set, vec![("KESTRA_SYNC_BRANCH", "prod".to_string())]);
}
