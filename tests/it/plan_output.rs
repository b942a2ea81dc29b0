//! What people read, as snapshots: the terminal plan and the JSON plan, from the binary
//! against the emulator. Review changed snapshots like code.

use crate::common;

use common::*;

const LOG: &str = "    type: io.kestra.plugin.core.log.Log\n";

fn flow(id: &str, msg: &str) -> String {
    format!("id: {id}\nnamespace: anything # rewritten to the target\n\ntasks:\n  - id: log\n{LOG}    message: \"{msg}\"\n")
}

/// A server with three flows and a repo that adds one, updates one, drops one.
fn scenario() -> (Emulator, Workspace) {
    scenario_on(emulator())
}

fn scenario_on(emu: Emulator) -> (Emulator, Workspace) {
    emu.seed_flow(
        "main",
        &flow("cleanup_tmp", "v1").replace(
            "anything # rewritten to the target",
            "prod # rewritten to the target",
        ),
    );
    emu.seed_flow(
        "main",
        &flow("same", "same").replace(
            "anything # rewritten to the target",
            "prod # rewritten to the target",
        ),
    );
    emu.seed_flow(
        "main",
        &flow("old_campaign", "bye")
            .replace("anything # rewritten to the target", "prod.marketing"),
    );
    emu.seed_flow(
        "main",
        &flow("sibling", "not ours").replace("anything # rewritten to the target", "prod2"),
    );
    let ws = Workspace::new();
    ws.write("cleanup_tmp.yml", flow("cleanup_tmp", "v2"));
    ws.write("same.yml", flow("same", "same"));
    ws.write(
        "finance/nightly_report.yaml",
        flow("nightly_report", "numbers"),
    );
    (emu, ws)
}

fn redact(s: &str, emu: &Emulator) -> String {
    s.replace(&emu.url(), "http://kestra.test")
}

#[test]
fn terminal_plan_without_delete_lists_kept_flows() {
    let (emu, ws) = scenario();
    let out = kestra_sync(&emu, &ws, "prod")
        .args(["plan", "--include-child-namespaces"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!(redact(&stdout(&out), &emu));
}

#[test]
fn terminal_plan_with_delete() {
    let (emu, ws) = scenario();
    let out = kestra_sync(&emu, &ws, "prod")
        .args([
            "plan",
            "--include-child-namespaces",
            "--delete",
            "--detailed-exitcode",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    insta::assert_snapshot!(redact(&stdout(&out), &emu));
}

#[test]
fn json_plan_contract() {
    let (emu, ws) = scenario();
    let out = kestra_sync(&emu, &ws, "prod")
        .args([
            "plan",
            "--include-child-namespaces",
            "--delete",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_str(&redact(&stdout(&out), &emu)).unwrap();
    insta::assert_json_snapshot!(plan);
}

#[test]
fn no_changes_is_one_line_and_exit_zero() {
    let (emu, ws) = scenario();
    let ok = kestra_sync(&emu, &ws, "prod")
        .args(["apply", "--include-child-namespaces"])
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", stderr(&ok));
    let out = kestra_sync(&emu, &ws, "prod")
        .args(["plan", "--include-child-namespaces", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!(redact(&stdout(&out), &emu));
}

#[test]
fn deletes_never_touch_a_sibling_namespace_even_when_the_server_lists_it() {
    // A server that ignores the namespace filters and answers with the whole tenant.
    let (emu, ws) = scenario_on(emulator_with(Options {
        ignore_namespace_filters: true,
        ..Options::default()
    }));
    let out = kestra_sync(&emu, &ws, "prod")
        .args(["apply", "--include-child-namespaces", "--delete"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let live: Vec<String> = emu
        .flows("main")
        .iter()
        .map(|f| format!("{}/{}", f.namespace, f.id))
        .collect();
    assert!(live.contains(&"prod2/sibling".to_string()), "{live:?}");
    assert!(
        !live.contains(&"prod.marketing/old_campaign".to_string()),
        "{live:?}"
    );
}

/// Where each of `needles` first appears in `text`, in order of `needles`.
fn positions(text: &str, needles: &[&str]) -> Vec<usize> {
    needles
        .iter()
        .map(|n| {
            text.find(n)
                .unwrap_or_else(|| panic!("`{n}` not found in:\n{text}"))
        })
        .collect()
}

fn ascending(v: &[usize]) -> bool {
    v.windows(2).all(|w| w[0] < w[1])
}

#[test]
fn creates_updates_deletes_in_the_same_order_in_the_text_plan_the_markdown_and_the_apply_report() {
    // Names chosen so that namespace/id order would be delete, update, create.
    let emu = emulator();
    emu.seed_flow(
        "main",
        &flow("a_gone", "bye").replace("anything # rewritten to the target", "prod"),
    );
    emu.seed_flow(
        "main",
        &flow("m_changed", "v1").replace("anything # rewritten to the target", "prod"),
    );
    let ws = Workspace::new();
    ws.write("m_changed.yml", flow("m_changed", "v2"));
    ws.write("z_new.yml", flow("z_new", "hi"));

    let md = kestra_sync(&emu, &ws, "prod")
        .args(["plan", "--delete", "--format", "markdown"])
        .output()
        .unwrap();
    let md = stdout(&md);
    assert!(
        ascending(&positions(
            &md,
            &["`prod/z_new` |", "`prod/m_changed` |", "`prod/a_gone` |"]
        )),
        "{md}"
    );

    let out = kestra_sync(&emu, &ws, "prod")
        .args(["apply", "--delete"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let (plan, report) = text
        .split_once("Plan: ")
        .unwrap_or_else(|| panic!("no verdict:\n{text}"));
    assert!(
        ascending(&positions(
            plan,
            &["+ prod/z_new", "~ prod/m_changed", "- prod/a_gone"]
        )),
        "{plan}"
    );
    assert!(
        ascending(&positions(
            report,
            &[
                "prod/z_new: created",
                "prod/m_changed: updated",
                "prod/a_gone: deleted"
            ]
        )),
        "{report}"
    );
}
