//! Pull-request previews (issue 14) against the emulator: the target's own syncs never list,
//! keep or delete a preview namespace, whatever the `preview-namespace` template; a local
//! folder the template claims is refused.

use crate::common::{emulator, json_plan, kestra_sync, states, stderr, Workspace};

fn flow(ns: &str, id: &str) -> String {
    format!(
        "id: {id}\nnamespace: {ns}\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    )
}

fn live(emu: &kestra_emulator::Emulator) -> Vec<String> {
    let mut v: Vec<String> = emu
        .flows("main")
        .into_iter()
        .filter(|f| !f.deleted)
        .map(|f| format!("{}/{}", f.namespace, f.id))
        .collect();
    v.sort();
    v
}

/// With the default template and with one that puts previews inside the target's tree,
/// `plan` and `apply --delete --include-child-namespaces` see only the target's own flows.
#[test]
fn the_targets_own_syncs_never_list_keep_or_delete_previews() {
    for template in [None, Some("{target}.pr-{number}")] {
        let emu = emulator();
        let ws = Workspace::new();
        ws.write("a.yml", flow("prod", "a"));
        ws.write("finance/b.yml", flow("prod", "b"));
        for (ns, id) in [
            ("prod", "a"),
            ("prod.old", "gone"),
            ("prod-pr-7", "a"),
            ("prod-pr-7.finance", "b"),
            ("prod.pr-8", "a"),
            ("prod.pr-8.finance", "b"),
        ] {
            emu.seed_flow("main", &flow(ns, id));
        }
        let run = |args: &[&str]| {
            let mut cmd = kestra_sync(&emu, &ws, "prod");
            if let Some(t) = template {
                cmd.env("KESTRA_SYNC_PREVIEW_NAMESPACE", t);
            }
            cmd.args(args).output().unwrap()
        };
        let out = run(&[
            "plan",
            "--delete",
            "--include-child-namespaces",
            "--format",
            "json",
        ]);
        let mut listed = states(&json_plan(&out));
        listed.sort();
        let in_tree_preview = template.is_some();
        let mut expected = vec![
            ("prod.finance/b".to_string(), "ADDED".to_string()),
            ("prod.old/gone".into(), "DELETED".into()),
            ("prod/a".into(), "UNCHANGED".into()),
        ];
        if !in_tree_preview {
            // with the default template `prod.pr-8` is an ordinary child of `prod`
            expected.push(("prod.pr-8.finance/b".into(), "DELETED".into()));
            expected.push(("prod.pr-8/a".into(), "DELETED".into()));
        }
        expected.sort();
        assert_eq!(listed, expected, "{template:?}: {}", stderr(&out));

        let out = run(&["apply", "--delete", "--include-child-namespaces"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let mut survivors = vec![
            "prod-pr-7.finance/b",
            "prod-pr-7/a",
            "prod.finance/b",
            "prod/a",
        ];
        if in_tree_preview {
            survivors.extend(["prod.pr-8.finance/b", "prod.pr-8/a"]);
        }
        survivors.sort();
        assert_eq!(live(&emu), survivors, "{template:?}");
        assert!(
            !stderr(&out).contains("outside"),
            "previews are no surprise: {}",
            stderr(&out)
        );
    }
}

#[test]
fn a_folder_the_template_claims_is_refused_naming_the_file() {
    let emu = emulator();
    let ws = Workspace::new();
    ws.write("a.yml", flow("prod", "a"));
    ws.write("pr-8/b.yml", flow("prod", "b"));
    let out = kestra_sync(&emu, &ws, "prod")
        .env("KESTRA_SYNC_PREVIEW_NAMESPACE", "{target}.pr-{number}")
        .args(["plan", "--include-child-namespaces"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("_flows/pr-8/b.yml") && err.contains("`prod.pr-8`"),
        "{err}"
    );
    assert!(err.contains("--preview-namespace"), "{err}");

    let out = kestra_sync(&emu, &ws, "prod")
        .env("KESTRA_SYNC_PREVIEW_NAMESPACE", "{target}-preview")
        .args(["plan"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no `{number}`"), "{}", stderr(&out));
}
