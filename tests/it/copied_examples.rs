//! What a newcomer copies works once copied: the GitHub workflows of `examples/github/` are
//! copied where the README and docs/forks.md say (`.github/workflows/`, names kept) into a
//! fresh repository beside `examples/_flows`, and each `paths:` filter must then match the
//! copied workflow itself and the flow files; the fork workflow must name the plan
//! workflow's copied `name:`. The README's snippets agree with the examples on action
//! versions, and its options table lists exactly the options of `kestra-sync ci --help`
//! (with their environment variables), which are also every `action.yml` input.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use regex::Regex;
use serde_yaml_ng::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The workflow files the docs tell users to copy into `.github/workflows/`: every
/// backticked `*.yml` name in a sentence that ends "into `.github/workflows/`".
fn copy_instructions(doc: &str) -> BTreeSet<String> {
    let text = doc.replace('\n', " ");
    let name = Regex::new(r"`([A-Za-z0-9_.-]+\.ya?ml)`").unwrap();
    let mut names = BTreeSet::new();
    for (at, _) in text.match_indices("into `.github/workflows/`") {
        let start = text[..at].rfind(". ").map_or(0, |i| i + 2);
        let sentence = &text[start..at];
        assert!(
            sentence.to_lowercase().contains("copy"),
            "not a copy instruction: {sentence}"
        );
        names.extend(name.captures_iter(sentence).map(|c| c[1].to_string()));
    }
    names
}

/// A GitHub `paths` filter (or GitLab `changes:`) pattern as a regex: `**/` any folders
/// (none too), `**` any characters, `*` any but `/`. Other special characters of the
/// filter syntaxes are refused (the examples use none).
fn filter_regex(pattern: &str) -> Regex {
    assert!(
        !pattern.contains(['?', '+', '[', ']', '!']),
        "pattern {pattern} uses syntax this check does not model"
    );
    let mut re = String::from("^");
    let mut rest = pattern;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("**/") {
            re.push_str("(?:.*/)?");
            rest = r;
        } else if let Some(r) = rest.strip_prefix("**") {
            re.push_str(".*");
            rest = r;
        } else if let Some(r) = rest.strip_prefix('*') {
            re.push_str("[^/]*");
            rest = r;
        } else {
            let c = rest.chars().next().unwrap();
            re.push_str(&regex::escape(&c.to_string()));
            rest = &rest[c.len_utf8()..];
        }
    }
    re.push('$');
    Regex::new(&re).unwrap()
}

fn matches_any(patterns: &[String], path: &str) -> bool {
    patterns.iter().any(|p| filter_regex(p).is_match(path))
}

/// `with:` of the steps that use this action, merged (the examples give the same options).
fn action_inputs(workflow: &Value) -> BTreeMap<String, String> {
    let mut inputs = BTreeMap::new();
    for job in workflow["jobs"].as_mapping().unwrap().values() {
        for step in job["steps"].as_sequence().into_iter().flatten() {
            if step["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("kestra-sync/kestra-sync@"))
            {
                for (k, v) in step["with"].as_mapping().into_iter().flatten() {
                    inputs.insert(
                        k.as_str().unwrap().to_string(),
                        v.as_str().unwrap_or_default().to_string(),
                    );
                }
            }
        }
    }
    inputs
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn the_docs_say_where_to_copy_every_github_example() {
    let readme = copy_instructions(&read("README.md"));
    let forks = copy_instructions(&read("docs/forks.md"));
    assert!(
        forks.contains("plan.yml") && forks.contains("fork-comment.yml"),
        "{forks:?}"
    );
    let told: BTreeSet<String> = readme.union(&forks).cloned().collect();
    let shipped: BTreeSet<String> = std::fs::read_dir(root().join("examples/github"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        told, shipped,
        "the README and docs/forks.md must say where each example goes"
    );
}

#[test]
fn copied_github_examples_trigger_on_their_own_file_and_the_flows() {
    // A fresh repository: the flows of the sample repo, the workflows copied as told.
    let repo = tempfile::tempdir().unwrap();
    copy_dir(&root().join("examples/_flows"), &repo.path().join("_flows"));
    let names: BTreeSet<String> = copy_instructions(&read("README.md"))
        .union(&copy_instructions(&read("docs/forks.md")))
        .cloned()
        .collect();
    let workflows = repo.path().join(".github/workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    let mut copied: Vec<(String, Value)> = Vec::new();
    for name in &names {
        let to: PathBuf = workflows.join(name);
        std::fs::copy(root().join("examples/github").join(name), &to).unwrap();
        let doc: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(&to).unwrap()).unwrap();
        copied.push((format!(".github/workflows/{name}"), doc));
    }

    let mut filtered = 0;
    for (path, doc) in &copied {
        let inputs = action_inputs(doc);
        let dir = inputs
            .get("git-directory")
            .cloned()
            .unwrap_or_else(|| "_flows".into());
        let children = inputs.get("include-child-namespaces").map(String::as_str) == Some("true");
        for (event, spec) in doc["on"].as_mapping().unwrap() {
            let Some(patterns) = spec["paths"].as_sequence() else {
                continue;
            };
            let patterns: Vec<String> = patterns
                .iter()
                .map(|p| p.as_str().unwrap().to_string())
                .collect();
            let event = event.as_str().unwrap();
            filtered += 1;
            assert!(
                matches_any(&patterns, path),
                "{path} ({event}): editing the copied workflow triggers nothing: {patterns:?}"
            );
            // Every flow of the sample repo the workflow syncs, as copied.
            for entry in walkdir::WalkDir::new(repo.path().join(&dir)) {
                let entry = entry.unwrap();
                let rel = entry.path().strip_prefix(repo.path()).unwrap();
                let rel = rel.to_string_lossy().replace('\\', "/");
                let depth = rel.matches('/').count();
                if entry.file_type().is_file() && (children || depth == 1) {
                    assert!(
                        matches_any(&patterns, &rel),
                        "{path} ({event}): a change to {rel} triggers nothing: {patterns:?}"
                    );
                }
            }
        }
    }
    assert!(filtered >= 2, "plan.yml and apply.yml filter on paths");

    // The fork workflow follows the plan workflow by its `name:`.
    let names: BTreeSet<&str> = copied
        .iter()
        .filter_map(|(_, d)| d["name"].as_str())
        .collect();
    let fork = &copied
        .iter()
        .find(|(p, _)| p.ends_with("/fork-comment.yml"))
        .expect("fork-comment.yml is copied")
        .1;
    for followed in fork["on"]["workflow_run"]["workflows"]
        .as_sequence()
        .unwrap()
    {
        assert!(
            names.contains(followed.as_str().unwrap()),
            "fork-comment.yml follows {followed:?}, not a copied workflow: {names:?}"
        );
    }

    // What the fork job runs on the copied repository passes.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kestra-sync"))
        .args([
            "validate",
            "--target-namespace",
            "prod",
            "--include-child-namespaces",
        ])
        .arg("--workspace")
        .arg(repo.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `owner/repo` -> every `ref # comment (file)` it is used with in `text`. This action
/// itself is left out: it is named by its major tag (`examples_name_the_v0_major_tag`).
fn action_refs(text: &str, file: &str, into: &mut BTreeMap<String, BTreeSet<String>>) {
    let uses =
        Regex::new(r"uses:\s*([A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+)@([^\s#`]+)[ \t]*(#[ \t]*\S+)?")
            .unwrap();
    for c in uses.captures_iter(text) {
        if &c[1] == "kestra-sync/kestra-sync" {
            continue;
        }
        let comment = c.get(3).map_or("", |m| m.as_str());
        into.entry(c[1].to_string())
            .or_default()
            .insert(format!("{} {comment} ({file})", &c[2]));
    }
}

#[test]
fn the_readme_and_the_examples_use_the_same_action_versions() {
    let mut refs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files = vec!["README.md".to_string(), "docs/forks.md".to_string()];
    for e in std::fs::read_dir(root().join("examples/github")).unwrap() {
        files.push(format!(
            "examples/github/{}",
            e.unwrap().file_name().to_string_lossy()
        ));
    }
    for f in &files {
        action_refs(&read(f), f, &mut refs);
    }
    assert!(
        refs.get("actions/checkout")
            .is_some_and(|r| r.iter().any(|x| x.ends_with("(README.md)"))),
        "the README snippet uses actions/checkout: {refs:?}"
    );
    for (action, uses) in &refs {
        let versions: BTreeSet<&str> = uses
            .iter()
            .map(|u| u.rsplit_once(" (").unwrap().0)
            .collect();
        assert_eq!(
            versions.len(),
            1,
            "{action} is used at different versions: {uses:#?}"
        );
    }
}

/// `--option` -> env var, from `kestra-sync ci --help` (the superset of every command).
fn help_options() -> BTreeMap<String, String> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kestra-sync"))
        .args(["ci", "--help"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    // Option lines are indented 2 to 6 spaces, their wrapped help 10.
    let option = Regex::new(r"^ {2,6}(?:-\w, )?--([a-z][a-z0-9-]*)").unwrap();
    // `[env: NAME=value]`, or `[env: NAME]` when the value is hidden.
    let env = Regex::new(r"\[env: ([A-Z0-9_]+)[=\]]").unwrap();
    let mut options = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in help.lines() {
        if let Some(c) = option.captures(line) {
            current = Some(c[1].to_string());
            options.insert(c[1].to_string(), String::new());
        } else if let (Some(c), Some(o)) = (env.captures(line), &current) {
            options.insert(o.clone(), c[1].to_string());
        }
    }
    options.remove("help");
    options.remove("version");
    options
}

/// `--option` -> env var, from the README's options table (the `n`-th option of a row has
/// the `n`-th variable).
fn readme_options() -> BTreeMap<String, String> {
    let readme = read("README.md");
    let section = readme
        .split("\n## Options\n")
        .nth(1)
        .expect("README has an Options section");
    let section = section.split("\n## ").next().unwrap();
    let option = Regex::new(r"`--([a-z][a-z0-9-]*)`").unwrap();
    let env = Regex::new(r"`([A-Z][A-Z0-9_]+)`").unwrap();
    let mut options = BTreeMap::new();
    for row in section.lines().filter(|l| l.starts_with("| `--")) {
        let cells: Vec<&str> = row.split('|').collect();
        let names: Vec<String> = option
            .captures_iter(cells[1])
            .map(|c| c[1].to_string())
            .collect();
        let vars: Vec<String> = env
            .captures_iter(cells[2])
            .map(|c| c[1].to_string())
            .collect();
        assert_eq!(names.len(), vars.len(), "README row: {row}");
        options.extend(names.into_iter().zip(vars));
    }
    options
}

#[test]
fn the_readme_options_table_lists_every_option_of_help_and_action_yml() {
    let help = help_options();
    assert!(help.len() >= 25, "{help:?}");
    assert_eq!(
        readme_options(),
        help,
        "README `## Options` table (left) against `kestra-sync ci --help` (right)"
    );
    let action: Value = serde_yaml_ng::from_str(&read("action.yml")).unwrap();
    for input in action["inputs"].as_mapping().unwrap().keys() {
        let input = input.as_str().unwrap();
        assert!(
            help.contains_key(input),
            "action.yml input `{input}` is no option `--{input}` of kestra-sync ci"
        );
    }
}

#[test]
fn the_copied_gitlab_example_runs_on_changes_to_itself_and_the_flows() {
    // The example is a whole `.gitlab-ci.yml`, and says so on its first line.
    let text = read("examples/gitlab-ci.yml");
    assert!(
        text.lines().next().unwrap().starts_with("# .gitlab-ci.yml"),
        "{text}"
    );
    let doc: Value = serde_yaml_ng::from_str(&text).unwrap();
    let flows: Vec<String> = walkdir::WalkDir::new(root().join("examples/_flows"))
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(root().join("examples")).unwrap();
            rel.to_string_lossy().replace('\\', "/")
        })
        .collect();
    assert!(
        flows.iter().any(|f| f.matches('/').count() > 1),
        "{flows:?}"
    );
    let mut filtered = 0;
    for (job, def) in doc.as_mapping().unwrap() {
        for rule in def["rules"].as_sequence().into_iter().flatten() {
            let Some(changes) = rule["changes"].as_sequence() else {
                continue;
            };
            let patterns: Vec<String> = changes
                .iter()
                .map(|p| p.as_str().unwrap().to_string())
                .collect();
            filtered += 1;
            for path in std::iter::once(&".gitlab-ci.yml".to_string()).chain(&flows) {
                assert!(
                    matches_any(&patterns, path),
                    "{job:?}: a change to {path} runs nothing: {patterns:?}"
                );
            }
        }
    }
    assert!(filtered >= 1, "the plan job filters on changes");
}

#[test]
fn the_readme_snippet_and_the_examples_give_only_inputs_action_yml_has() {
    let action: Value = serde_yaml_ng::from_str(&read("action.yml")).unwrap();
    let inputs: BTreeSet<&str> = action["inputs"]
        .as_mapping()
        .unwrap()
        .keys()
        .filter_map(Value::as_str)
        .collect();
    let readme = read("README.md");
    let snippet = readme
        .split("```yaml\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .find(|b| b.contains("uses: kestra-sync/kestra-sync@"))
        .expect("the README has a GitHub snippet");
    let steps: Value = serde_yaml_ng::from_str(snippet).unwrap();
    let mut given: Vec<(String, String)> = Vec::new();
    for step in steps.as_sequence().unwrap() {
        if step["uses"]
            .as_str()
            .is_some_and(|u| u.starts_with("kestra-sync/kestra-sync@"))
        {
            for k in step["with"].as_mapping().unwrap().keys() {
                given.push(("README.md".into(), k.as_str().unwrap().to_string()));
            }
        }
    }
    for e in std::fs::read_dir(root().join("examples/github")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        let doc: Value =
            serde_yaml_ng::from_str(&read(&format!("examples/github/{name}"))).unwrap();
        for k in action_inputs(&doc).keys() {
            given.push((name.clone(), k.clone()));
        }
    }
    assert!(given.len() >= 10, "{given:?}");
    for (file, input) in &given {
        assert!(
            inputs.contains(input.as_str()),
            "{file}: `{input}` is not an input of action.yml"
        );
    }
}
