//! The GitLab CI files we ship (`examples/gitlab-ci.yml`, `templates/kestra-sync.gitlab-ci.yml`)
//! run what the binary does: each job resolved as GitLab resolves it (top-level `variables`,
//! then its `extends` chain, then its own), checked for the image (`:v0`, empty entrypoint)
//! and script, then run as its pipeline would run it against the Kestra emulator, with the
//! file named by its `KESTRA_SYNC_PLAN_FILE` found where its `artifacts: paths:` looks.
//! Plus: every example names this project's image and action by the `v0` major tag.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{Emulator, Workspace, PASSWORD, USER};
use serde_yaml_ng::Value;

fn read_yaml(rel: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

fn str_map(v: &Value) -> BTreeMap<String, String> {
    v.as_mapping()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| {
                    let value = match v {
                        Value::String(s) => s.clone(),
                        Value::Bool(b) => b.to_string(),
                        Value::Number(n) => n.to_string(),
                        _ => return None,
                    };
                    Some((k.as_str()?.to_string(), value))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A job as GitLab resolves it: keys of the `extends` chain, deepest first, overridden by
/// the job's own; `variables` merged (top-level, then each level).
pub(crate) fn resolve(
    doc: &Value,
    job: &str,
) -> (BTreeMap<String, Value>, BTreeMap<String, String>) {
    let mut chain = vec![job.to_string()];
    let mut at = job.to_string();
    while let Some(parent) = doc[at.as_str()]["extends"].as_str() {
        chain.push(parent.to_string());
        at = parent.to_string();
    }
    let mut keys = BTreeMap::new();
    let mut vars = str_map(&doc["variables"]);
    for name in chain.iter().rev() {
        let def = doc[name.as_str()]
            .as_mapping()
            .unwrap_or_else(|| panic!("job {name} is not defined"));
        for (k, v) in def {
            keys.insert(k.as_str().unwrap().to_string(), v.clone());
        }
        vars.extend(str_map(&doc[name.as_str()]["variables"]));
    }
    (keys, vars)
}

fn flow(id: &str, message: &str) -> String {
    format!(
        "id: {id}\nnamespace: prod\n\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: \"{message}\"\n"
    )
}

/// Run `job` of `doc` as its pipeline runs it; its artifact paths must exist afterwards.
fn run_job(doc: &Value, job: &str, source: &str, emu: &Emulator, ws: &Workspace) {
    let (keys, vars) = resolve(doc, job);
    let image = &keys["image"];
    assert!(
        image["name"]
            .as_str()
            .is_some_and(|n| n.ends_with("/kestra-sync:v0")),
        "{job}: {image:?}"
    );
    assert_eq!(
        image["entrypoint"],
        Value::Sequence(vec![Value::String(String::new())]),
        "{job}: GitLab needs the shell, not the binary, as entrypoint"
    );
    let script: Vec<&str> = keys["script"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(script, ["kestra-sync ci"], "{job}");
    // The user's CI/CD variables, and what GitLab sets for this pipeline.
    let mut env = vars.clone();
    env.entry("KESTRA_SYNC_TARGET_NAMESPACE".into())
        .or_insert_with(|| "prod".into());
    for (k, v) in [
        ("KESTRA_URL", emu.url()),
        ("KESTRA_USERNAME", USER.into()),
        ("KESTRA_PASSWORD", PASSWORD.into()),
        ("KESTRA_SYNC_RETRIES", "1".into()),
        ("GITLAB_CI", "true".into()),
        ("CI_PIPELINE_SOURCE", source.into()),
        ("CI_PROJECT_DIR", ws.path().display().to_string()),
        ("CI_PROJECT_ID", "4242".into()),
        ("CI_DEFAULT_BRANCH", "main".into()),
        ("CI_API_V4_URL", "http://127.0.0.1:9/api/v4".into()),
        ("CI_JOB_TOKEN", "job-token".into()),
    ] {
        env.insert(k.into(), v);
    }
    if source == "merge_request_event" {
        env.insert("CI_MERGE_REQUEST_IID".into(), "1".into());
    } else {
        env.insert("CI_COMMIT_BRANCH".into(), "main".into());
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kestra-sync"))
        .arg("ci")
        .current_dir(ws.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(&env)
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{job}:\n{log}");
    let plan_file = vars
        .get("KESTRA_SYNC_PLAN_FILE")
        .unwrap_or_else(|| panic!("{job} sets no KESTRA_SYNC_PLAN_FILE"));
    let paths: Vec<&str> = keys["artifacts"]["paths"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{job} keeps no artifacts"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(paths.contains(&plan_file.as_str()), "{job}: {paths:?}");
    for p in paths {
        assert!(
            ws.path().join(p).is_file(),
            "{job}: artifact {p} missing\n{log}"
        );
    }
}

/// plan on a merge request, apply on the default branch, then drift on a schedule (none
/// left, so the failing drift job passes).
fn run_pipeline(file: &str, jobs: [&str; 3]) {
    let doc = read_yaml(file);
    let emu = common::emulator();
    emu.seed_flow("main", &flow("old", "v1"));
    let ws = Workspace::new();
    ws.write("old.yml", flow("old", "v2"));
    ws.write("new.yml", flow("new", "hi"));
    run_job(&doc, jobs[0], "merge_request_event", &emu, &ws);
    assert_eq!(emu.write_count(), 0, "{file}: the plan job wrote");
    run_job(&doc, jobs[1], "push", &emu, &ws);
    assert_eq!(
        emu.flows("main").len(),
        2,
        "{file}: the apply job did not apply"
    );
    run_job(&doc, jobs[2], "schedule", &emu, &ws);
    assert_eq!(
        resolve(&doc, jobs[2])
            .1
            .get("KESTRA_SYNC_FAIL_ON_DRIFT")
            .map(String::as_str),
        Some("true")
    );
}

#[test]
fn the_example_pipeline_runs_as_shipped() {
    run_pipeline(
        "examples/gitlab-ci.yml",
        ["kestra-plan", "kestra-apply", "kestra-drift"],
    );
}

#[test]
fn the_template_jobs_run_as_shipped() {
    run_pipeline(
        "templates/kestra-sync.gitlab-ci.yml",
        [
            ".kestra-sync-plan",
            ".kestra-sync-apply",
            ".kestra-sync-drift",
        ],
    );
}

#[test]
fn examples_name_the_v0_major_tag() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![
        root.join("action.yml"),
        root.join("examples/gitlab-ci.yml"),
        root.join("examples/gitlab-ci-include.yml"),
        root.join("templates/kestra-sync.gitlab-ci.yml"),
    ];
    for dir in ["examples/github", "docs"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            files.push(e.unwrap().path());
        }
    }
    let reference = regex::Regex::new(
        r"kestra-sync/kestra-sync(@|:)(v[0-9][0-9.]*)|kestra-sync/kestra-sync/(v[0-9][0-9.]*)/",
    )
    .unwrap();
    let mut seen = 0;
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for c in reference.captures_iter(&text) {
            let tag = c.get(2).or(c.get(3)).unwrap().as_str();
            assert_eq!(tag, "v0", "{}: {}", f.display(), &c[0]);
            seen += 1;
        }
    }
    assert!(seen >= 10, "only {seen} references found");
}

/// GitLab's stages when a pipeline declares none.
const DEFAULT_STAGES: [&str; 5] = [".pre", "build", "test", "deploy", ".post"];

/// Top-level keys that are not jobs.
const GLOBAL_KEYS: [&str; 11] = [
    "stages",
    "variables",
    "include",
    "workflow",
    "default",
    "image",
    "services",
    "before_script",
    "after_script",
    "cache",
    "spec",
];

/// `main` with its `include:`s (files of this repository, by the path their URL ends
/// with) merged as GitLab merges them: included first, keys of `main` deep-merged over them.
fn with_includes(main: &Value) -> Value {
    fn merge(base: &mut Value, over: &Value) {
        match (base, over) {
            (Value::Mapping(b), Value::Mapping(o)) => {
                for (k, v) in o {
                    match b.get_mut(k) {
                        Some(existing) => merge(existing, v),
                        None => {
                            b.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
            (b, o) => *b = o.clone(),
        }
    }
    let mut merged = Value::Mapping(Default::default());
    for include in main["include"].as_sequence().into_iter().flatten() {
        let location = include["remote"]
            .as_str()
            .or(include["local"].as_str())
            .expect("remote or local include");
        let rel = location
            .split_once("/v0/")
            .map_or(location.trim_start_matches('/'), |(_, rel)| rel);
        merge(&mut merged, &read_yaml(rel));
    }
    let mut own = main.clone();
    own.as_mapping_mut().unwrap().remove("include");
    merge(&mut merged, &own);
    merged
}

/// Each visible job of the resolved pipeline with its stage, or the GitLab error.
fn resolved_stages(doc: &Value) -> Result<BTreeMap<String, String>, String> {
    let stages: Vec<String> = match doc["stages"].as_sequence() {
        Some(s) => s.iter().map(|s| s.as_str().unwrap().to_string()).collect(),
        None => DEFAULT_STAGES.iter().map(|s| s.to_string()).collect(),
    };
    let mut jobs = BTreeMap::new();
    for name in doc.as_mapping().unwrap().keys() {
        let name = name.as_str().unwrap();
        if name.starts_with('.') || GLOBAL_KEYS.contains(&name) {
            continue;
        }
        let (keys, _) = resolve(doc, name);
        let stage = keys
            .get("stage")
            .map_or("test", |s| s.as_str().unwrap())
            .to_string();
        if !stages.contains(&stage) {
            return Err(format!(
                "{name}: chosen stage `{stage}` does not exist; available stages are {stages:?}"
            ));
        }
        jobs.insert(name.to_string(), stage);
    }
    Ok(jobs)
}

/// The README's GitLab snippet (the YAML block that includes the template).
fn readme_gitlab_snippet() -> Value {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let block = readme
        .split("```yaml\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .find(|b| b.contains("templates/kestra-sync.gitlab-ci.yml"))
        .expect("the README has a GitLab snippet");
    serde_yaml_ng::from_str(block).unwrap()
}

#[test]
fn every_shipped_pipeline_and_their_mix_resolve_to_existing_stages() {
    let readme = with_includes(&readme_gitlab_snippet());
    let include_example = with_includes(&read_yaml("examples/gitlab-ci-include.yml"));
    let example = read_yaml("examples/gitlab-ci.yml");
    // The example's own jobs plus the template's, side by side in one pipeline: the
    // newcomer who copies the example, then adds a job from the template.
    let mut mixed = example.clone();
    mixed.as_mapping_mut().unwrap().insert(
        "include".into(),
        serde_yaml_ng::from_str(
            "[{remote: 'https://raw.githubusercontent.com/kestra-sync/kestra-sync/v0/templates/kestra-sync.gitlab-ci.yml'}]",
        )
        .unwrap(),
    );
    // One extending job per template job that has a stage (plan, apply, drift, previews…).
    let template = read_yaml("templates/kestra-sync.gitlab-ci.yml");
    let parents: Vec<String> = template
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, def)| def["stage"].is_string())
        .map(|(name, _)| name.as_str().unwrap().to_string())
        .collect();
    assert!(parents.len() >= 3, "{parents:?}");
    for parent in &parents {
        let job = format!("template{parent}");
        mixed.as_mapping_mut().unwrap().insert(
            job.as_str().into(),
            serde_yaml_ng::from_str(&format!("{{extends: {parent}}}")).unwrap(),
        );
    }
    let mixed = with_includes(&mixed);
    for (what, doc) in [
        ("README snippet", &readme),
        ("examples/gitlab-ci-include.yml", &include_example),
        ("examples/gitlab-ci.yml", &example),
        ("examples/gitlab-ci.yml + the template", &mixed),
    ] {
        let jobs = resolved_stages(doc).unwrap_or_else(|e| panic!("{what}: {e}"));
        // Plan and drift before apply, in every pipeline.
        let stage_of = |suffix: &str| {
            jobs.iter()
                .find(|(name, _)| name.ends_with(suffix))
                .map(|(_, s)| s.clone())
                .unwrap_or_else(|| panic!("{what} has no *{suffix} job: {jobs:?}"))
        };
        assert_eq!(stage_of("-plan"), "test", "{what}");
        assert_eq!(stage_of("-drift"), "test", "{what}");
        assert_eq!(stage_of("-apply"), "deploy", "{what}");
    }
    // The README's snippet runs the same three jobs as the example that includes the template.
    assert_eq!(
        resolved_stages(&readme).unwrap(),
        resolved_stages(&include_example).unwrap()
    );
}

#[test]
fn the_template_names_the_stages_its_jobs_use() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/kestra-sync.gitlab-ci.yml"),
    )
    .unwrap();
    let doc: Value = serde_yaml_ng::from_str(&text).unwrap();
    let header: String = text
        .lines()
        .take_while(|l| l.starts_with('#') || l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    let named = header
        .split("# Stages:")
        .nth(1)
        .expect("the template's header has a `Stages:` paragraph");
    // `test` (.kestra-sync-plan, .kestra-sync-drift) and `deploy` (.kestra-sync-apply)
    let paragraph = named.split("\n#\n").next().unwrap().replace("\n#", "");
    let group = regex::Regex::new(r"`([a-z.]+)` \(([^)]*)\)").unwrap();
    let mut listed = BTreeMap::new();
    for c in group.captures_iter(&paragraph) {
        for job in c[2].split(',') {
            listed.insert(job.trim().to_string(), c[1].to_string());
        }
    }
    // Every job of the template that has a stage, whatever jobs are added later.
    let jobs: Vec<&str> = doc
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, def)| def["stage"].is_string())
        .filter_map(|(name, _)| name.as_str())
        .collect();
    assert!(jobs.len() >= 3, "{jobs:?}");
    for job in jobs {
        let stage = doc[job]["stage"].as_str().unwrap();
        assert_eq!(
            listed.get(job).map(String::as_str),
            Some(stage),
            "the header's `Stages:` names {job} in another stage: {paragraph}"
        );
    }
}
