//! The plan a reviewer approves is the truth (issue 11), from the binary against the
//! emulator: the server validates every flow the plan writes (an invalid flow fails the
//! plan with the server's message at its file and line, and nothing is written);
//! `--ignore-invalid-flows` and `--fail-on-missing-directory`; apply's guards shown as
//! blockers in the text, Markdown and JSON plans; and a Git file that differs from the
//! server's copy only by trailing whitespace at the end (SyncFlows trims) is `UNCHANGED`.

use crate::common;

use common::*;

fn flow(id: &str, task_type: &str) -> String {
    format!(
        "id: {id}\nnamespace: prod\n\ntasks:\n  - id: hello\n    type: {task_type}\n    message: hi\n"
    )
}

const LOG: &str = "io.kestra.plugin.core.log.Log";

fn redact(s: &str, emu: &Emulator) -> String {
    s.replace(&emu.url(), "http://kestra.test")
}

fn rows(plan: &serde_json::Value) -> &Vec<serde_json::Value> {
    plan["flows"].as_array().expect("flows")
}

fn row<'p>(plan: &'p serde_json::Value, id: &str) -> &'p serde_json::Value {
    rows(plan)
        .iter()
        .find(|f| f["flowId"] == id)
        .unwrap_or_else(|| panic!("no row {id}: {plan}"))
}

#[test]
fn a_flow_the_server_refuses_fails_the_plan_with_its_message_and_line() {
    let emu = emulator();
    let ws = Workspace::new();
    ws.write("good.yml", flow("good", LOG));
    // a namespace-less file: the line must be the Git file's, not the rewritten one's
    ws.write(
        "bad.yml",
        "id: bad\n\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Lgo\n    message: hi\n",
    );
    let out = kestra_sync(&emu, &ws, "prod").arg("plan").output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "error: _flows/bad.yml:4: tasks[0]: Invalid type: io.kestra.plugin.core.log.Lgo"
        ),
        "{text}"
    );
    assert!(
        text.contains("Error: apply would refuse this plan:\n  - invalid-flows:"),
        "{text}"
    );
    let err = stderr(&out);
    assert!(
        err.contains("error: apply would refuse this plan: the server refuses 1 flow(s)"),
        "{err}"
    );
    assert!(
        err.contains("  _flows/bad.yml:4: tasks[0]: Invalid type: io.kestra.plugin.core.log.Lgo"),
        "{err}"
    );
    insta::assert_snapshot!(redact(&text, &emu));

    let out = kestra_sync(&emu, &ws, "prod")
        .args(["plan", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let plan = json_plan(&out);
    assert_eq!(plan["blockers"][0]["kind"], "invalid-flows");
    assert_eq!(row(&plan, "bad")["errors"][0]["line"], 4);
    assert!(row(&plan, "good").get("errors").is_none());

    // apply writes nothing
    let out = kestra_sync(&emu, &ws, "prod")
        .arg("apply")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(emu.write_count(), 0);
    assert!(emu.flows("main").is_empty());
}

#[test]
fn server_warnings_are_per_flow_warnings_and_never_fatal() {
    let emu = emulator();
    let ws = Workspace::new();
    ws.write(
        "parent.yml",
        "id: parent\nnamespace: prod\ntasks:\n  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: prod\n    flowId: child\n",
    );
    let out = kestra_sync(&emu, &ws, "prod")
        .args(["plan", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = json_plan(&out);
    assert_eq!(
        row(&plan, "parent")["warnings"],
        serde_json::json!([{"kind": "server-warning",
            "message": "The subflow 'child' not found in namespace 'prod'."}])
    );
    let out = kestra_sync(&emu, &ws, "prod").arg("plan").output().unwrap();
    assert!(out.status.success());
    assert!(stdout(&out).contains(
        "warning (server-warning): _flows/parent.yml: The subflow 'child' not found in namespace 'prod'."
    ));
}

#[test]
fn ignore_invalid_flows_skips_them_syncs_the_rest_and_never_deletes_them() {
    let emu = emulator();
    emu.seed_flow("main", &flow("bad", LOG));
    emu.seed_flow("main", &flow("gone", LOG));
    let ws = Workspace::new();
    ws.write("good.yml", flow("good", LOG));
    ws.write("bad.yml", flow("bad", "Nope"));
    let out = kestra_sync(&emu, &ws, "prod")
        .args([
            "plan",
            "--delete",
            "--ignore-invalid-flows",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = json_plan(&out);
    assert_eq!(plan["blockers"], serde_json::json!([]));
    assert_eq!(row(&plan, "bad")["syncState"], "INVALID");
    assert_eq!(row(&plan, "gone")["syncState"], "DELETED");
    assert_eq!(plan["summary"]["invalid"], 1);
    assert!(plan["warnings"][0]
        .as_str()
        .unwrap()
        .contains("1 flow(s) refused by the server are skipped"));
    assert!(
        stderr(&out).contains("--ignore-invalid-flows"),
        "{}",
        stderr(&out)
    );

    let out = kestra_sync(&emu, &ws, "prod")
        .args(["apply", "--delete"])
        .env("KESTRA_SYNC_IGNORE_INVALID_FLOWS", "true")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let live: Vec<(String, String)> = emu
        .flows("main")
        .into_iter()
        .map(|f| (f.id, f.source))
        .collect();
    let ids: Vec<&str> = live.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, vec!["bad", "good"]);
    // the server's copy of the invalid flow is the old one
    assert!(live[0].1.contains(LOG), "{}", live[0].1);
}

#[test]
fn a_missing_folder_fails_by_default_and_is_an_empty_source_that_never_deletes_when_allowed() {
    let emu = emulator();
    emu.seed_flow("main", &flow("kept", LOG));
    let ws = Workspace::new();
    let out = kestra_sync(&emu, &ws, "prod")
        .args(["plan", "--delete", "--git-directory", "missing"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("git-directory `missing` does not exist"));

    let out = kestra_sync(&emu, &ws, "prod")
        .args([
            "apply",
            "--delete",
            "--git-directory",
            "missing",
            "--fail-on-missing-directory",
            "false",
            "--allow-mass-delete",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("is not in Git, kept"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("does not exist: no flow was read and nothing will be deleted"));
    assert_eq!(emu.flows("main").len(), 1);
    assert_eq!(emu.write_count(), 0);
}

#[test]
fn blockers_are_at_the_top_of_the_text_markdown_and_json_plans() {
    let emu = emulator();
    for i in 0..4 {
        emu.seed_flow("main", &flow(&format!("old{i}"), LOG));
    }
    let ws = Workspace::new();
    ws.write("keep.yml", flow("keep", LOG));
    let plan = |format: &str| {
        kestra_sync(&emu, &ws, "prod")
            .args(["plan", "--delete", "--max-deletes", "3", "--format", format])
            .output()
            .unwrap()
    };
    let text = plan("text");
    assert_eq!(text.status.code(), Some(1));
    let text = stdout(&text);
    let first = text.lines().nth(2).unwrap_or_default();
    assert_eq!(first, "Error: apply would refuse this plan:", "{text}");
    assert!(text.contains(
        "  - max-deletes: refusing to delete 4 flows in `prod`: more than --max-deletes (3)"
    ));

    let md = stdout(&plan("markdown"));
    let caution = md.find("> [!CAUTION]").expect("a CAUTION alert");
    let table = md.find("| | flow |").unwrap_or(md.len());
    assert!(caution < table, "{md}");
    assert!(md.contains("`max-deletes`"), "{md}");

    let json = json_plan(&plan("json"));
    assert_eq!(json["blockers"][0]["kind"], "max-deletes");
    assert!(json["blockers"][0]["message"]
        .as_str()
        .unwrap()
        .contains("more than --max-deletes (3)"));

    // every flow in scope deleted: mass-delete
    ws.remove("keep.yml");
    let json = json_plan(&plan("json"));
    assert_eq!(json["blockers"][0]["kind"], "mass-delete");
    // allowed: no blocker, the plan passes
    let out = kestra_sync(&emu, &ws, "prod")
        .args([
            "plan",
            "--delete",
            "--allow-mass-delete",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(json_plan(&out)["blockers"], serde_json::json!([]));
}

#[test]
fn trailing_whitespace_at_the_end_is_unchanged_like_a_syncflows_import() {
    let emu = emulator();
    let git = flow("same", LOG);
    // what SyncFlows stores: the trimmed source
    emu.seed_flow("main", git.trim_end());
    emu.seed_flow("main", flow("other", LOG).trim_end());
    let ws = Workspace::new();
    ws.write("same.yml", format!("{git}\n\n"));
    ws.write(
        "other.yml",
        flow("other", LOG).replace("tasks:\n", "tasks: \n"),
    );
    let out = kestra_sync(&emu, &ws, "prod")
        .args(["plan", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = json_plan(&out);
    assert_eq!(row(&plan, "same")["syncState"], "UNCHANGED");
    // trailing whitespace inside the text is still a change
    assert_eq!(row(&plan, "other")["syncState"], "UPDATED");
    emu.reset_counts();
    let out = kestra_sync(&emu, &ws, "prod")
        .arg("apply")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(emu.write_count(), 1);
}
