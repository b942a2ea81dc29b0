//! The contract of options and exit codes, from the binary (issue 9, item 6): a usage error
//! exits 1 (2 means changes only); each command's `--help` lists only the options it uses;
//! `apply --format json` prints the apply's result; an empty value is unset from every
//! source; `--branch` is split in two and the old name is refused with advice; `action.yml`
//! declares every option the README lists.

use std::collections::BTreeSet;

use regex::Regex;

use crate::common::*;

fn bin() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("kestra-sync").expect("binary");
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd
}

fn flow(id: &str, msg: &str) -> String {
    format!("id: {id}\nnamespace: prod\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: \"{msg}\"\n")
}

#[test]
fn usage_errors_exit_1_never_2_even_with_detailed_exitcode() {
    let emu = emulator();
    let ws = Workspace::new();
    ws.write("a.yml", flow("a", "new"));
    for args in [
        &["plan", "--detailed-exitcode", "--no-such-flag"][..],
        &["plan", "--detailed-exitcode", "--format", "yaml"],
        &["plan", "--detailed-exitcode", "--concurrency", "3"],
        &["plann", "--detailed-exitcode"],
        &["validate", "--format", "json"],
        &["apply", "--dry-run", "--detailed-exitcode"],
        &[],
    ] {
        let out = kestra_sync(&emu, &ws, "prod")
            .env("KESTRA_SYNC_DETAILED_EXITCODE", "true")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).is_empty(), "{args:?} says what is wrong");
    }
    // The same plan with a correct command line has changes: 2.
    let out = kestra_sync(&emu, &ws, "prod")
        .args(["plan", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    for args in [&["--help"][..], &["plan", "--help"], &["--version"]] {
        let out = bin().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(!stdout(&out).is_empty(), "{args:?} prints on stdout");
    }
}

/// The long options of `kestra-sync <command> --help`.
fn help_options(command: &str) -> BTreeSet<String> {
    let out = bin().args([command, "--help"]).output().unwrap();
    assert!(out.status.success());
    let option = Regex::new(r"^ {2,6}(?:-\w, )?--([a-z][a-z0-9-]*)").unwrap();
    stdout(&out)
        .lines()
        .filter_map(|l| option.captures(l).map(|c| c[1].to_string()))
        .filter(|o| o != "help")
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn each_command_lists_only_the_options_it_uses() {
    let common = [
        "target-namespace",
        "git-directory",
        "include-child-namespaces",
        "preview-namespace",
        "workspace",
        "source",
        "git-url",
        "git-branch",
        "git-username",
        "git-password",
        "kestra-url",
        "kestra-tenant",
        "kestra-username",
        "kestra-password",
        "kestra-api-token",
        "timeout",
        "retries",
        "fail-on-missing-directory",
        "namespace-files",
        "files-directory",
        "namespace-directory",
    ];
    // Every plan shows apply's guards as blockers, so the guards are plan options too.
    let show = [
        "delete",
        "ignore-invalid-flows",
        "max-deletes",
        "allow-mass-delete",
        "format",
        "plan-file",
        "color",
    ];
    let write = ["dry-run", "reviewed-plan", "concurrency"];
    let ci = [
        "deploy-branch",
        "github-token",
        "gitlab-token",
        "comment",
        "fail-on-drift",
        "on-stale",
        "environment-name",
        "labels",
        "preview",
    ];
    let with = |parts: &[&[&str]]| set(&parts.concat());
    assert_eq!(help_options("validate"), with(&[&common]));
    assert_eq!(
        help_options("plan"),
        with(&[&common, &show, &["detailed-exitcode"]])
    );
    assert_eq!(help_options("apply"), with(&[&common, &show, &write]));
    assert_eq!(
        help_options("ci"),
        with(&[&common, &show, &write, &["detailed-exitcode"], &ci])
    );
}

#[test]
fn apply_format_json_prints_the_plan_with_what_was_applied() {
    let emu = emulator();
    emu.seed_flow("main", &flow("changed", "v1"));
    let ws = Workspace::new();
    ws.write("changed.yml", flow("changed", "v2"));
    ws.write("added.yml", flow("added", "new"));

    // A dry run writes nothing: `apply` is null, the plan is there.
    let out = kestra_sync(&emu, &ws, "prod")
        .args(["apply", "--format", "json", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert!(doc["apply"].is_null(), "{doc}");
    assert_eq!(doc["summary"]["added"], 1, "{doc}");

    let out = kestra_sync(&emu, &ws, "prod")
        .args(["apply", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc["summary"]["updated"], 1, "the plan is kept: {doc}");
    let apply = &doc["apply"];
    assert_eq!(apply["applied"], 2, "{doc}");
    assert_eq!(apply["failed"], 0, "{doc}");
    let row = |id: &str| {
        apply["flows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["flowId"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} in {doc}"))
    };
    let changed = row("changed");
    assert_eq!(changed["outcome"], "APPLIED");
    assert_eq!(changed["syncState"], "UPDATED");
    assert_eq!(changed["previousRevision"], 1);
    assert_eq!(changed["revision"], 2);
    let added = row("added");
    assert_eq!(added["outcome"], "APPLIED");
    assert_eq!(added["revision"], 1);
    // Nothing but the document on stdout; the text report is not printed.
    assert!(!stdout(&out).contains("created"), "{}", stdout(&out));
}

#[test]
fn an_empty_value_is_unset_from_every_source() {
    let ws = Workspace::new();
    ws.write("a.yml", flow("a", "in _flows"));
    // At the workspace root: read only if the empty folder meant the root.
    std::fs::write(ws.path().join("root.yml"), flow("root", "at the root")).unwrap();
    let validate = |extra_env: &[(&str, &str)], args: &[&str]| {
        let mut cmd = bin();
        cmd.env("KESTRA_SYNC_WORKSPACE", ws.path())
            .env("KESTRA_SYNC_TARGET_NAMESPACE", "prod");
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let out = cmd.arg("validate").args(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{extra_env:?} {args:?}: {}",
            stderr(&out)
        );
        stdout(&out)
    };
    let one = "1 flow(s) valid";
    assert!(validate(&[("KESTRA_SYNC_GIT_DIRECTORY", "")], &[]).starts_with(one));
    assert!(validate(&[("KESTRA_SYNC_GIT_DIRECTORY", "  ")], &[]).starts_with(one));
    assert!(validate(&[], &["--git-directory", ""]).starts_with(one));
    assert!(validate(&[], &["--git-directory="]).starts_with(one));
    // Typed and enum options too: empty is the default, not a bad value.
    let empties = [
        ("KESTRA_SYNC_TIMEOUT", ""),
        ("KESTRA_SYNC_RETRIES", ""),
        ("KESTRA_SYNC_SOURCE", ""),
        ("KESTRA_SYNC_INCLUDE_CHILD_NAMESPACES", ""),
        ("KESTRA_URL", ""),
        ("KESTRA_SYNC_GIT_URL", ""),
    ];
    assert!(validate(&empties, &["--timeout", ""]).starts_with(one));

    // The same for plan's own options, against a server.
    let emu = emulator();
    let out = kestra_sync(&emu, &ws, "prod")
        .env("KESTRA_SYNC_FORMAT", "")
        .env("KESTRA_SYNC_COLOR", "")
        .env("KESTRA_SYNC_DETAILED_EXITCODE", "")
        .env("KESTRA_SYNC_PLAN_FILE", "")
        .arg("plan")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("prod/a will be created (_flows/a.yml)"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn branch_is_two_options_and_the_old_name_is_refused_with_advice() {
    let ws = Workspace::new();
    ws.write("a.yml", flow("a", "x"));
    let out = bin()
        .env("KESTRA_SYNC_WORKSPACE", ws.path())
        .env("KESTRA_SYNC_TARGET_NAMESPACE", "prod")
        .env("KESTRA_SYNC_BRANCH", "main")
        .arg("validate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("KESTRA_SYNC_DEPLOY_BRANCH") && err.contains("KESTRA_SYNC_GIT_BRANCH"),
        "{err}"
    );
    // `--branch` is no option of any command any more: clap names the one to use.
    let out = bin().args(["plan", "--branch", "main"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--branch"), "{}", stderr(&out));
}

/// `--option` names of the README's options table.
fn readme_options() -> BTreeSet<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let section = readme.split("\n## Options\n").nth(1).expect("Options");
    let section = section.split("\n## ").next().unwrap();
    let option = Regex::new(r"`--([a-z][a-z0-9-]*)`").unwrap();
    section
        .lines()
        .filter(|l| l.starts_with("| `--"))
        .flat_map(|row| {
            let cell = row.split('|').nth(1).unwrap_or_default().to_string();
            option
                .captures_iter(&cell)
                .map(|c| c[1].to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn action_yml_declares_every_option_the_readme_lists() {
    let action: serde_json::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/action.yml")).unwrap(),
    )
    .unwrap();
    let inputs: BTreeSet<String> = action["inputs"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let readme = readme_options();
    assert!(readme.len() >= 29, "{readme:?}");
    // The GitLab token has no use in a GitHub action (README says so).
    let missing: Vec<_> = readme
        .iter()
        .filter(|o| !inputs.contains(*o) && *o != "gitlab-token")
        .collect();
    assert!(
        missing.is_empty(),
        "README options without an input: {missing:?}"
    );
}
