//! Real flows end to end: the binary against the Kestra emulator over real HTTP, with the
//! corpora in `../shared/corpus/` (Kestra's own test flows and the blueprint catalogue).

use crate::common;

use common::*;

/// Lay out `kestra-core/valids` by namespace: `io.kestra.tests.trigger` → `io/kestra/tests/trigger/`,
/// so one sync with children covers every namespace of the corpus.
fn valids_workspace() -> (Workspace, Vec<(String, String)>) {
    let ws = Workspace::new();
    let mut placed = Vec::new();
    let dir = corpus("kestra-core/valids");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let text = std::fs::read_to_string(&path).expect("utf-8 corpus file");
        let ns = text
            .lines()
            .find_map(|l| l.strip_prefix("namespace:"))
            .map(|v| v.trim().trim_matches('"').to_string())
            .expect("every valid flow has a namespace");
        let rel = format!(
            "{}/{}",
            ns.replace('.', "/"),
            path.file_name().unwrap().to_string_lossy()
        );
        ws.write(&rel, &text);
        placed.push((rel, text));
    }
    // `pause` is a reserved id since Kestra 1.0: refused locally (see `reserved_id_is_refused`).
    ws.write(
        ".kestraignore",
        "# reserved id since Kestra 1.0\npause.yaml\n",
    );
    (ws, placed)
}

#[test]
fn kestra_core_valids_plan_apply_replan_and_land_byte_for_byte() {
    if !shared_present(
        "corpus",
        "corpus::kestra_core_valids_plan_apply_replan_and_land_byte_for_byte",
    ) {
        return;
    }
    let emu = emulator();
    let (ws, placed) = valids_workspace();
    let expected = placed.len() - 1;

    let out = kestra_sync(&emu, &ws, "prod")
        .args(["plan", "--include-child-namespaces", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = json_plan(&out);
    assert_eq!(plan["summary"]["added"], expected, "{}", stderr(&out));
    assert!(states(&plan).iter().all(|(_, s)| s == "ADDED"));
    assert_eq!(emu.write_count(), 0, "plan never writes");

    let out = kestra_sync(&emu, &ws, "prod")
        .args(["apply", "--include-child-namespaces"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "apply failed:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );

    let out = kestra_sync(&emu, &ws, "prod")
        .args([
            "plan",
            "--include-child-namespaces",
            "--format",
            "json",
            "--detailed-exitcode",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan = json_plan(&out);
    assert_eq!(plan["summary"]["unchanged"], expected);
    assert!(states(&plan).iter().all(|(_, s)| s == "UNCHANGED"));

    // The server holds every file byte for byte, but for the value of its namespace line.
    let stored = emu.flows("main");
    assert_eq!(stored.len(), expected);
    for (rel, text) in placed
        .iter()
        .filter(|(rel, _)| !rel.ends_with("/pause.yaml"))
    {
        let folder = rel
            .rsplit_once('/')
            .map(|(d, _)| d.replace('/', "."))
            .unwrap();
        let ns = format!("prod.{folder}");
        let id = text
            .lines()
            .find_map(|l| l.strip_prefix("id:"))
            .unwrap()
            .trim()
            .trim_matches('"');
        let flow = stored
            .iter()
            .find(|f| f.namespace == ns && f.id == id)
            .unwrap_or_else(|| panic!("{rel} not on the server as {ns}/{id}"));
        // The server keeps the source minus its first `revision:` line (kestra.md §3).
        let text = kestra_sync::kestra::strip_revision(text);
        let (want, got): (Vec<&str>, Vec<&str>) = (
            text.split('\n').collect(),
            flow.source.split('\n').collect(),
        );
        assert_eq!(want.len(), got.len(), "{rel}: line count changed");
        let mut changed = 0;
        for (w, g) in want.iter().zip(&got) {
            if w != g {
                changed += 1;
                assert!(
                    w.starts_with("namespace:") && g.starts_with("namespace:"),
                    "{rel}: `{w}` became `{g}`"
                );
                assert!(g.contains(&ns), "{rel}: `{g}` should name {ns}");
            }
        }
        assert_eq!(changed, 1, "{rel}: exactly the namespace line changes");
    }
}

#[test]
fn reserved_id_is_refused_with_the_file_and_nothing_written() {
    if !shared_present(
        "corpus",
        "corpus::reserved_id_is_refused_with_the_file_and_nothing_written",
    ) {
        return;
    }
    let emu = emulator();
    let ws = Workspace::new();
    ws.write(
        "pause.yaml",
        std::fs::read(corpus("kestra-core/valids/pause.yaml")).unwrap(),
    );
    ws.write("ok.yml", "id: ok\nnamespace: x\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n");
    let out = kestra_sync(&emu, &ws, "prod")
        .arg("apply")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("_flows/pause.yaml"), "{err}");
    assert!(err.contains("reserved"), "{err}");
    assert_eq!(emu.write_count(), 0);
    assert!(emu.flows("main").is_empty());
}

/// The one blueprint a real server refuses: an `If` (flowable) inside a `WorkingDirectory`,
/// which Kestra's `WorkingDirectoryTaskValidator` forbids.
const REFUSED_BLUEPRINT: &str = "opa-policy-gate-ci.yaml";

fn blueprints_workspace() -> (Workspace, usize) {
    let ws = Workspace::new();
    let mut n = 0;
    for e in std::fs::read_dir(corpus("blueprints")).unwrap() {
        let p = e.unwrap().path();
        ws.write(
            &p.file_name().unwrap().to_string_lossy(),
            std::fs::read(&p).unwrap(),
        );
        n += 1;
    }
    assert_eq!(n, 399);
    (ws, n)
}

#[test]
fn blueprints_plan_apply_and_replan_clean() {
    if !shared_present("corpus", "corpus::blueprints_plan_apply_and_replan_clean") {
        return;
    }
    let emu = emulator();
    let (ws, n) = blueprints_workspace();
    let out = kestra_sync(&emu, &ws, "blueprints")
        .args(["plan", "--format", "json"])
        .output()
        .unwrap();
    // The server refuses one of them: the plan fails, saying which, where and why, and
    // that apply would refuse it.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let plan = json_plan(&out);
    assert_eq!(plan["summary"]["added"], n);
    assert_eq!(plan["blockers"][0]["kind"], "invalid-flows");
    let refused: Vec<&serde_json::Value> = plan["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f.get("errors").is_some())
        .collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(
        refused[0]["gitPath"],
        format!("_flows/{REFUSED_BLUEPRINT}").as_str()
    );
    let error = &refused[0]["errors"][0];
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("policy_gate: Only runnable tasks"),
        "{error}"
    );
    // the line of the task the server names (`- id: policy_gate`)
    assert_eq!(error["line"], 5);
    assert_eq!(emu.write_count(), 0);

    // Applying all of them: the server's reason is shown with the file, and nothing is written.
    let out = kestra_sync(&emu, &ws, "blueprints")
        .arg("apply")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "_flows/{REFUSED_BLUEPRINT}: policy_gate: Only runnable tasks"
        )),
        "{err}"
    );
    assert_eq!(emu.write_count(), 0);

    // Without it, the other 398 apply and re-plan clean.
    ws.write(".kestraignore", format!("{REFUSED_BLUEPRINT}\n"));
    let out = kestra_sync(&emu, &ws, "blueprints")
        .arg("apply")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(emu.flows("main").len(), n - 1);

    let out = kestra_sync(&emu, &ws, "blueprints")
        .args(["plan", "--format", "json", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json_plan(&out)["summary"]["unchanged"], n - 1);
    // Sources with `---` inside block scalars reached the server whole.
    let stored = emu.flows("main");
    let with_separator = stored
        .iter()
        .filter(|f| f.source.lines().any(|l| l.trim() == "---"))
        .count();
    assert!(
        with_separator > 0,
        "the corpus has flows with `---` inside block scalars"
    );
    for f in &stored {
        let file = std::fs::read_to_string(corpus("blueprints").join(format!("{}.yaml", f.id)));
        if let Ok(text) = file {
            assert_eq!(
                text.lines().count(),
                f.source.lines().count(),
                "{} stored whole",
                f.id
            );
        }
    }
}

#[test]
fn every_kestra_core_invalid_is_refused_with_its_file_and_nothing_written() {
    if !shared_present(
        "corpus",
        "corpus::every_kestra_core_invalid_is_refused_with_its_file_and_nothing_written",
    ) {
        return;
    }
    let emu = emulator();
    // Something already on the server that must survive every refused run.
    emu.seed_flow("main", "id: keep\nnamespace: io.kestra.tests\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n");
    let mut files: Vec<_> = std::fs::read_dir(corpus("kestra-core/invalids"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 22);
    let before = emu.flows("main");
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let ws = Workspace::new();
        ws.write(&name, std::fs::read(&path).unwrap());
        // Target their own namespace, so a Subflow calling itself stays recursive.
        let out = kestra_sync(&emu, &ws, "io.kestra.tests")
            .args(["apply", "--delete", "--allow-mass-delete"])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{name} was accepted:\n{}\n{err}",
            stdout(&out)
        );
        assert!(
            err.contains(&format!("_flows/{name}")),
            "{name}: the error names the file:\n{err}"
        );
        assert_eq!(emu.write_count(), 0, "{name}: nothing written");
        assert_eq!(emu.flows("main"), before, "{name}: the server is unchanged");
    }
}
