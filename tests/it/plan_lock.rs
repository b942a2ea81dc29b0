//! The plan lock (issue 12) against the emulator: `apply --reviewed-plan` refuses a plan
//! whose live base moved (STALE) or that has a change the review did not (UNREVIEWED), and
//! writes nothing; changes the server already holds and edits outside the plan pass; and a
//! flow edited on the server between the plan and its write is not overwritten (STALE).

use crate::common::*;

use std::path::PathBuf;
use std::time::Duration;

use kestra_sync::app::pipeline::{self as run, RunError};
use kestra_sync::apply::Outcome;
use kestra_sync::cli::{Format, SourceKind};
use kestra_sync::http::{Backoff, HttpOptions};
use kestra_sync::kestra::client::{Auth as ClientAuth, KestraConfig};
use kestra_sync::kestra::Scope;
use kestra_sync::settings::{CiSettings, Settings};

fn flow(ns: &str, id: &str, message: &str) -> String {
    format!(
        "id: {id}\nnamespace: {ns}\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: {message}\n"
    )
}

/// The server: prod/x (revision 1), prod/keep, other/y. Git: x changed, keep, new added.
fn world() -> (Emulator, Workspace) {
    let emu = emulator();
    emu.seed_flow("main", &flow("prod", "x", "v1"));
    emu.seed_flow("main", &flow("prod", "keep", "same"));
    emu.seed_flow("main", &flow("other", "y", "v1"));
    let ws = Workspace::new();
    ws.write("x.yml", flow("prod", "x", "v2"));
    ws.write("keep.yml", flow("prod", "keep", "same"));
    ws.write("new.yml", flow("prod", "new", "hello"));
    (emu, ws)
}

/// `plan --plan-file`: the reviewed plan's path.
fn review(emu: &Emulator, ws: &Workspace) -> PathBuf {
    let file = ws.path().join("reviewed.json");
    let out = kestra_sync(emu, ws, "prod")
        .args(["plan", "--format", "json", "--plan-file"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    file
}

fn live(emu: &Emulator, ns: &str, id: &str) -> Option<(String, u64)> {
    emu.flows("main")
        .into_iter()
        .find(|f| f.namespace == ns && f.id == id)
        .map(|f| (f.source, f.revision))
}

fn apply_reviewed(emu: &Emulator, ws: &Workspace, file: &PathBuf) -> std::process::Output {
    emu.reset_counts();
    kestra_sync(emu, ws, "prod")
        .args(["apply", "--reviewed-plan"])
        .arg(file)
        .output()
        .unwrap()
}

#[test]
fn the_json_plan_carries_a_lock_for_every_change() {
    let (emu, ws) = world();
    let file = review(&emu, &ws);
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let row = |id: &str| {
        plan["flows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["flowId"] == id)
            .unwrap()
            .clone()
    };
    let x = row("x");
    assert_eq!(x["lock"]["baseRevision"], 1);
    assert_eq!(x["lock"]["baseSha256"].as_str().unwrap().len(), 64);
    assert_eq!(
        x["lock"]["desiredSha256"].as_str().unwrap(),
        kestra_sync::plan::sha256_hex(&flow("prod", "x", "v2"))
    );
    assert_eq!(row("new")["lock"]["baseRevision"], serde_json::Value::Null);
    assert_eq!(row("new")["lock"]["baseSha256"], serde_json::Value::Null);
    assert!(
        row("keep").get("lock").is_none(),
        "unchanged rows have no lock"
    );
}

#[test]
fn a_base_moved_on_the_server_refuses_the_whole_apply() {
    let (emu, ws) = world();
    let file = review(&emu, &ws);
    // someone edits x in the UI after the review
    emu.seed_flow("main", &flow("prod", "x", "edited in the UI"));
    let out = apply_reviewed(&emu, &ws, &file);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("STALE prod/x: revision 1 → 2 on the server since the reviewed plan"),
        "{err}"
    );
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(
        emu.write_count(),
        0,
        "nothing written, not even the reviewed new flow"
    );
    assert_eq!(live(&emu, "prod", "new"), None);
    assert_eq!(
        live(&emu, "prod", "x"),
        Some((flow("prod", "x", "edited in the UI"), 2))
    );
}

#[test]
fn an_extra_change_refuses_the_whole_apply() {
    let (emu, ws) = world();
    let file = review(&emu, &ws);
    ws.write("extra.yml", flow("prod", "extra", "not reviewed"));
    let out = apply_reviewed(&emu, &ws, &file);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(
            "UNREVIEWED prod/extra: not in the reviewed plan (this apply would create it)"
        ),
        "{err}"
    );
    assert_eq!(emu.write_count(), 0);
}

#[test]
fn a_changed_desired_source_refuses_the_whole_apply() {
    let (emu, ws) = world();
    let file = review(&emu, &ws);
    ws.write("x.yml", flow("prod", "x", "v3 pushed after the review"));
    let out = kestra_sync(&emu, &ws, "prod")
        .arg("apply")
        .env("KESTRA_SYNC_REVIEWED_PLAN", &file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("UNREVIEWED prod/x: the source to write differs from the reviewed plan's"),
        "{err}"
    );
    assert_eq!(emu.write_count(), 0);
    assert_eq!(live(&emu, "prod", "x").unwrap().1, 1);
}

#[test]
fn the_reviewed_plan_applies_and_unrelated_or_already_applied_changes_pass() {
    let (emu, ws) = world();
    let file = review(&emu, &ws);
    // outside the plan: another namespace, and an unchanged flow's neighbour namespace
    emu.seed_flow("main", &flow("other", "y", "v2"));
    // one reviewed change already on the server (an earlier, partial apply)
    emu.seed_flow("main", &flow("prod", "new", "hello"));
    let out = apply_reviewed(&emu, &ws, &file);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(live(&emu, "prod", "x"), Some((flow("prod", "x", "v2"), 2)));
    assert_eq!(emu.write_count(), 1, "only x was left to write");
}

#[test]
fn an_unreadable_or_old_reviewed_plan_is_an_error_naming_the_file() {
    let (emu, ws) = world();
    let missing = ws.path().join("nope.json");
    let out = apply_reviewed(&emu, &ws, &missing);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("nope.json"), "{}", stderr(&out));
    let old = ws.path().join("old.json");
    std::fs::write(
        &old,
        r#"{"targetNamespace":"prod","flows":[{"namespace":"prod","flowId":"x","syncState":"UPDATED"}]}"#,
    )
    .unwrap();
    let out = apply_reviewed(&emu, &ws, &old);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("older kestra-sync"),
        "{}",
        stderr(&out)
    );
    assert_eq!(emu.write_count(), 0);
}

pub(crate) fn settings(emu: &Emulator, ws: &Workspace) -> Settings {
    Settings {
        scope: Scope::new("prod", false),
        git_directory: "_flows".into(),
        workspace: ws.path().to_path_buf(),
        source: SourceKind::Workspace,
        git: None,
        delete: true,
        dry_run: false,
        max_deletes: 10,
        allow_mass_delete: false,
        ignore_invalid_flows: false,
        fail_on_missing_directory: true,
        kestra: Some(KestraConfig {
            url: emu.url(),
            tenant: None,
            auth: ClientAuth::Basic {
                username: USER.into(),
                password: PASSWORD.to_string().into(),
            },
            timeout: Duration::from_secs(10),
            retries: 1,
            backoff: Backoff {
                initial: Duration::from_millis(1),
                max: Duration::from_millis(20),
            },
        }),
        server_error: None,
        http: HttpOptions::default(),
        concurrency: 4,
        format: Format::Json,
        detailed_exitcode: false,
        plan_file: None,
        reviewed_plan: None,
        color: false,
        ci: CiSettings::default(),
        files: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flow_edited_between_the_plan_and_its_write_is_stale_not_overwritten() {
    let (emu, ws) = world();
    emu.seed_flow("main", &flow("prod", "doomed", "v1"));
    let settings = settings(&emu, &ws);
    let planned = run::read_and_plan(&settings).await.unwrap();
    // during the apply's window: x edited, `new` created, `doomed` edited (to be deleted)
    emu.seed_flow("main", &flow("prod", "x", "edited while applying"));
    emu.seed_flow("main", &flow("prod", "new", "created by hand"));
    emu.seed_flow("main", &flow("prod", "doomed", "edited while applying"));
    emu.reset_counts();
    let err = run::apply_unchecked(&settings, &planned).await.unwrap_err();
    let RunError::Apply(kestra_sync::apply::ApplyError::Partial(report)) = err else {
        panic!("expected a partial apply, got {err}");
    };
    let outcome = |id: &str| {
        report
            .flows
            .iter()
            .find(|r| r.flow_id == id)
            .map(|r| r.outcome.clone())
            .unwrap()
    };
    let Outcome::Stale { reason } = outcome("x") else {
        panic!("x: {:?}", outcome("x"));
    };
    assert!(
        reason.starts_with("revision 1 → 2 on the server"),
        "{reason}"
    );
    assert!(
        matches!(outcome("new"), Outcome::Stale { reason } if reason.contains("created on the server (revision 1)"))
    );
    // deletes wait for every write: doomed is not attempted (and would be stale anyway)
    assert!(matches!(outcome("doomed"), Outcome::NotAttempted { .. }));
    assert_eq!(report.stale, 2);
    assert!(report.tally().contains("2 stale"), "{}", report.tally());
    assert_eq!(emu.write_count(), 0);
    assert_eq!(
        live(&emu, "prod", "x").unwrap().0,
        flow("prod", "x", "edited while applying")
    );
    let text = kestra_sync::render::text::render_report(&report, false);
    assert!(text.contains("prod/x: STALE: revision 1 → 2"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delete_whose_flow_moved_is_stale_and_the_flow_stays() {
    let emu = emulator();
    emu.seed_flow("main", &flow("prod", "keep", "same"));
    emu.seed_flow("main", &flow("prod", "doomed", "v1"));
    let ws = Workspace::new();
    ws.write("keep.yml", flow("prod", "keep", "same"));
    let settings = settings(&emu, &ws);
    let planned = run::read_and_plan(&settings).await.unwrap();
    assert_eq!(planned.plan.summary.deleted, 1);
    emu.seed_flow("main", &flow("prod", "doomed", "v2 from the UI"));
    emu.reset_counts();
    let err = run::apply_unchecked(&settings, &planned).await.unwrap_err();
    let RunError::Apply(kestra_sync::apply::ApplyError::Partial(report)) = err else {
        panic!("expected a partial apply, got {err}");
    };
    assert_eq!(report.stale, 1);
    assert_eq!(emu.write_count(), 0);
    assert_eq!(live(&emu, "prod", "doomed").unwrap().1, 2);
}
