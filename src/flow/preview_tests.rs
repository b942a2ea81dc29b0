//! Unit tests of the preview copy's text: triggers disabled, calls to synced flows pointed at
//! the preview, every other byte as in Git; and the same over the real corpus.

use std::collections::BTreeSet;

use super::{preview_text, PreviewText};

/// Calls to `prod.*` flows named `synced*` go to `prod-pr-7.*`.
fn remap(ns: &str, id: &str) -> Option<String> {
    let rest = ns.strip_prefix("prod")?;
    (id.starts_with("synced") && (rest.is_empty() || rest.starts_with('.')))
        .then(|| format!("prod-pr-7{rest}"))
}

#[track_caller]
fn preview(input: &str) -> PreviewText {
    preview_text(input, &remap).unwrap_or_else(|p| panic!("{p:?} for {input:?}"))
}

#[test]
fn a_trigger_without_disabled_gets_it_as_its_first_key() {
    let input = "id: f\nnamespace: prod-pr-7\n# the schedule\ntriggers:\n  - id: daily # every day\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 9 * * *\"\n  -\n    id: hook\n    type: io.kestra.plugin.core.trigger.Webhook\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    let out = preview(input);
    assert_eq!(
        out.source,
        "id: f\nnamespace: prod-pr-7\n# the schedule\ntriggers:\n  - disabled: true\n    id: daily # every day\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 9 * * *\"\n  -\n    disabled: true\n    id: hook\n    type: io.kestra.plugin.core.trigger.Webhook\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    );
    assert_eq!((out.triggers, out.triggers_changed), (2, 2));
}

#[test]
fn an_existing_disabled_is_set_to_true_in_place() {
    let input = "id: f\nnamespace: n\ntriggers:\n  - id: a\n    type: x.Schedule\n    disabled: false # for now\n  - id: b\n    type: x.Schedule\n    disabled: true\n  - id: c\n    type: x.Schedule\n    disabled: \"no\"\n  - id: d\n    type: x.Schedule\n    disabled:\ntasks: [{id: t, type: x.Log}]\n";
    let out = preview(input);
    assert_eq!(
        out.source,
        "id: f\nnamespace: n\ntriggers:\n  - id: a\n    type: x.Schedule\n    disabled: true # for now\n  - id: b\n    type: x.Schedule\n    disabled: true\n  - id: c\n    type: x.Schedule\n    disabled: true\n  - id: d\n    type: x.Schedule\n    disabled: true\ntasks: [{id: t, type: x.Log}]\n"
    );
    assert_eq!((out.triggers, out.triggers_changed), (4, 3));
}

#[test]
fn flow_style_triggers_crlf_and_a_bom() {
    let input = "id: f\r\nnamespace: n\r\ntriggers: [{id: a, type: x.Schedule}, {type: x.Webhook, id: b, disabled: false}]\r\ntasks: []\r\n";
    assert_eq!(
        preview(input).source,
        "id: f\r\nnamespace: n\r\ntriggers: [{disabled: true, id: a, type: x.Schedule}, {type: x.Webhook, id: b, disabled: true}]\r\ntasks: []\r\n"
    );
    let input = "\u{feff}id: f\r\nnamespace: n\r\ntriggers:\r\n- id: a\r\n  type: x.Schedule\r\n";
    assert_eq!(
        preview(input).source,
        "\u{feff}id: f\r\nnamespace: n\r\ntriggers:\r\n- disabled: true\r\n  id: a\r\n  type: x.Schedule\r\n"
    );
}

#[test]
fn a_flow_without_triggers_or_calls_is_returned_as_it_is() {
    for input in [
        "id: f\nnamespace: n\ntasks:\n  - id: t\n    type: x.Log\n",
        "id: f\nnamespace: n\ntriggers:\ntasks: []\n",
        "id: f\nnamespace: n\ntriggers: []\n",
        "id: f\nnamespace: n\ntriggers:\n  - id: a\n    type: x\n    disabled: true\n",
    ] {
        let out = preview(input);
        assert_eq!(out.source, input);
        assert!(out.remapped.is_empty() && out.live_calls.is_empty());
    }
}

#[test]
fn calls_to_synced_flows_point_at_the_preview_and_others_call_the_live_flow() {
    let input = "id: parent\nnamespace: prod-pr-7\ntasks:\n  - id: mine\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: prod.finance # ours\n    flowId: synced_child\n  - id: theirs\n    type: io.kestra.plugin.core.flow.Subflow\n    flowId: other\n    namespace: prod.finance\n  - id: seq\n    type: io.kestra.plugin.core.flow.Sequential\n    tasks:\n      - id: legacy\n        namespace: 'prod'\n        flowId: synced_a\n        type: io.kestra.core.tasks.flows.Flow\n      - id: each\n        type: io.kestra.core.tasks.flows.ForEachItem\n        items: \"{{ inputs.file }}\"\n        namespace: \"prod.x\"\n        flowId: synced_b\n      - id: dyn\n        type: io.kestra.plugin.core.flow.Subflow\n        namespace: \"{{ inputs.ns }}\"\n        flowId: synced_c\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    namespace: prod\n    flowId: synced_d\n";
    let out = preview(input);
    let expected = input
        .replace(
            "namespace: prod.finance # ours",
            "namespace: prod-pr-7.finance # ours",
        )
        .replace("namespace: 'prod'", "namespace: 'prod-pr-7'")
        .replace("namespace: \"prod.x\"", "namespace: \"prod-pr-7.x\"");
    assert_eq!(out.source, expected);
    let remapped: Vec<(&str, &str, &str)> = out
        .remapped
        .iter()
        .map(|(c, new)| {
            (
                c.task_id.as_deref().unwrap(),
                c.namespace.as_str(),
                new.as_str(),
            )
        })
        .collect();
    assert_eq!(
        remapped,
        [
            ("mine", "prod.finance", "prod-pr-7.finance"),
            ("legacy", "prod", "prod-pr-7"),
            ("each", "prod.x", "prod-pr-7.x"),
        ]
    );
    assert_eq!(out.live_calls.len(), 1);
    assert_eq!(out.live_calls[0].task_id.as_deref(), Some("theirs"));
    assert_eq!(out.live_calls[0].line, 11);
    assert_eq!(out.dynamic_calls.len(), 1);
    assert_eq!(out.dynamic_calls[0].flow_id, "synced_c");
}

#[test]
fn the_flows_own_namespace_and_trigger_conditions_are_not_calls() {
    let input = "id: synced_x\nnamespace: prod\ntype: io.kestra.plugin.core.flow.Subflow\nflowId: synced_x\ntriggers:\n  - id: on_flow\n    type: io.kestra.plugin.core.trigger.Flow\n    conditions:\n      - type: io.kestra.plugin.core.condition.ExecutionFlow\n        namespace: prod\n        flowId: synced_y\ntasks: [{id: t, type: x.Log}]\n";
    let out = preview(input);
    assert_eq!(
        out.source,
        input.replace("  - id: on_flow", "  - disabled: true\n    id: on_flow")
    );
    assert!(out.remapped.is_empty() && out.live_calls.is_empty());
}

#[test]
fn what_cannot_be_disabled_safely_is_a_problem_with_its_line() {
    for (input, line, words) in [
        (
            "id: f\nnamespace: n\nx: &t [{id: a, type: s}]\ntriggers: *t\n",
            4,
            "alias",
        ),
        (
            "id: f\nnamespace: n\nx: &t {id: a, type: s}\ntriggers:\n  - *t\n",
            5,
            "not written as a mapping",
        ),
        (
            "id: f\nnamespace: n\ntriggers:\n  - id: a\n    disabled: !!bool false\n",
            5,
            "`disabled: false`",
        ),
        (
            "id: f\nnamespace: n\ntriggers:\n  - {}\n",
            4,
            "empty mapping",
        ),
        (
            "id: f\nnamespace: n\ntriggers:\n  - ? id\n    : a\n",
            4,
            "first key",
        ),
    ] {
        let p = preview_text(input, &remap).expect_err(input);
        assert_eq!(p.line, Some(line), "{input:?}: {p:?}");
        assert!(p.message.contains(words), "{input:?}: {p:?}");
    }
    // an unparsable file is the parser's problem, as for the plan
    assert!(preview_text("id: [", &remap).is_err());
}

#[test]
fn an_aliased_call_namespace_that_would_change_is_refused_not_missed() {
    let input = "id: f\nnamespace: n\nvariables:\n  ns: &ns prod\ntasks:\n  - id: c\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: *ns\n    flowId: synced_a\n  - id: d\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: prod\n    flowId: synced_b\n";
    let p = preview_text(input, &remap).unwrap_err();
    assert!(p.message.contains("could not"), "{p:?}");
}

/// The flows of the shared corpus (Kestra's own test flows and the blueprints): every one
/// the server would take gets a preview copy; it parses; each trigger reads `disabled:
/// true`; calls to corpus flows are remapped; and the only lines that differ from the
/// original are `disabled` lines and the remapped `namespace` lines.
#[test]
fn every_real_flow_gets_a_preview_copy_that_changes_only_the_intended_lines() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let mut flows = Vec::new();
    for dir in ["kestra-core/valids", "blueprints"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue; // the corpus is not beside this checkout
        };
        for entry in entries.flatten() {
            let Ok(text) = std::fs::read_to_string(entry.path()) else {
                continue;
            };
            let (_, body) = super::parse::split_bom(&text);
            let Ok(doc) = super::parse::parse_mapping(body) else {
                continue;
            };
            let (Some(ns), Some(id)) = (
                doc.get("namespace").and_then(|v| v.as_str()),
                doc.get("id").and_then(|v| v.as_str()),
            ) else {
                continue;
            };
            flows.push((entry.path(), text.clone(), ns.to_string(), id.to_string()));
        }
    }
    if !root.exists() {
        return;
    }
    let synced: BTreeSet<(String, String)> = flows
        .iter()
        .map(|(_, _, ns, id)| (ns.clone(), id.clone()))
        .collect();
    let remap = |ns: &str, id: &str| {
        synced
            .contains(&(ns.to_string(), id.to_string()))
            .then(|| format!("{ns}-pr-7"))
    };
    let (mut with_triggers, mut triggers, mut remapped, mut live) = (0, 0, 0, 0);
    for (path, text, _, _) in &flows {
        let out = preview_text(text, &remap).unwrap_or_else(|p| panic!("{}: {p}", path.display()));
        let (_, body) = super::parse::split_bom(&out.source);
        let doc = super::parse::parse_mapping(body)
            .unwrap_or_else(|p| panic!("{}: preview copy does not parse: {p}", path.display()));
        if let Some(serde_yaml_ng::Value::Sequence(ts)) = doc.get("triggers") {
            with_triggers += usize::from(!ts.is_empty());
            for t in ts {
                assert_eq!(
                    t.get("disabled"),
                    Some(&serde_yaml_ng::Value::Bool(true)),
                    "{}",
                    path.display()
                );
            }
        }
        triggers += out.triggers;
        remapped += out.remapped.len();
        live += out.live_calls.len();
        let new_namespaces: Vec<&str> = out.remapped.iter().map(|(_, n)| n.as_str()).collect();
        // the lines that differ, without their `- ` and indentation: once the `disabled`
        // lines and the remapped `namespace` lines are set aside, the two sides are the same
        // lines (a `- key: v` line that became `- disabled: true` + `  key: v`)
        let diff = similar::TextDiff::from_lines(text.as_str(), out.source.as_str());
        let (mut removed, mut added) = (Vec::new(), Vec::new());
        for change in diff.iter_all_changes() {
            let line = change.value().trim().trim_start_matches("- ").to_string();
            match change.tag() {
                similar::ChangeTag::Equal => {}
                similar::ChangeTag::Insert => added.push(line),
                similar::ChangeTag::Delete => removed.push(line),
            }
        }
        let intended = |l: &String, new: bool| {
            if new {
                l == "disabled: true"
                    || (l.starts_with("namespace:") && new_namespaces.iter().any(|n| l.contains(n)))
            } else {
                l.starts_with("disabled:") || l.starts_with("namespace:")
            }
        };
        removed.retain(|l| !intended(l, false));
        added.retain(|l| !intended(l, true));
        removed.sort();
        added.sort();
        assert_eq!(removed, added, "{}: unintended changes", path.display());
    }
    eprintln!(
        "{} flows, {with_triggers} with triggers ({triggers} triggers), {remapped} calls remapped, {live} live",
        flows.len()
    );
    assert!(flows.len() > 500, "only {} corpus flows", flows.len());
    assert!(
        with_triggers > 100,
        "only {with_triggers} flows with triggers"
    );
    assert!(
        remapped >= 10,
        "only {remapped} calls remapped ({live} live)"
    );
    assert!(live > 0, "no call to a flow outside the corpus");
    assert!(triggers >= with_triggers);
}
