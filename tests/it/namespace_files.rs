//! Namespace files in the same plan as the flows (issue 13), from the binary against the
//! emulator: text, binary, empty and nested files plan, apply byte for byte, and re-plan
//! with zero uploads and unchanged revisions; one edit, one removal and one addition make
//! exactly one upload per changed file and one delete; files outside
//! `--namespace-directory` are never touched with `--delete`; a file under `_flows` is
//! refused; a failure part-way reports what the server holds and a re-run converges; the
//! Markdown plan (the PR comment's body) has a "Namespace files" section.

use crate::common;

use common::*;
use kestra_emulator::{FaultKind, Faults};

const FLOW: &str = "id: hello\nnamespace: prod\n\ntasks:\n  - id: run\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ read('scripts/etl.py') }}\"\n";

fn binary() -> Vec<u8> {
    (0..=255u8).cycle().take(5000).collect()
}

/// A repo with one flow and `_files/` holding text, binary, empty and nested files.
fn repo() -> Workspace {
    let ws = Workspace::new();
    ws.write("hello.yml", FLOW);
    let files = ws.path().join("_files");
    for (rel, bytes) in [
        ("scripts/etl.py", b"print('etl')\n".to_vec()),
        ("sql/deep/er/report.sql", b"select 1;\n".to_vec()),
        ("data/blob.bin", binary()),
        ("empty.txt", Vec::new()),
    ] {
        let p = files.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    ws
}

fn write_file(ws: &Workspace, rel: &str, bytes: &[u8]) {
    let p = ws.path().join("_files").join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

fn run(emu: &Emulator, ws: &Workspace, args: &[&str]) -> std::process::Output {
    kestra_sync(emu, ws, "prod")
        .env("KESTRA_SYNC_NAMESPACE_FILES", "true")
        .args(args)
        .output()
        .unwrap()
}

/// `(kestraPath, syncState)` of the JSON plan's `files`.
fn file_states(plan: &serde_json::Value) -> Vec<(String, String)> {
    plan["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            (
                f["kestraPath"].as_str().unwrap().to_string(),
                f["syncState"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// `(method, path)` of the namespace-file requests the emulator received.
fn file_requests(emu: &Emulator) -> Vec<(String, String)> {
    emu.requests()
        .into_iter()
        .filter(|r| r.path.contains("/namespaces/"))
        .map(|r| (r.method, format!("{}?{}", r.path, r.query)))
        .collect()
}

fn revisions(emu: &Emulator) -> Vec<(String, u32)> {
    emu.files("main", "prod")
        .into_iter()
        .map(|f| (f.path, f.revision))
        .collect()
}

#[test]
fn plan_apply_byte_exact_and_replan_without_uploads() {
    let emu = emulator();
    let ws = repo();

    let out = run(&emu, &ws, &["plan", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = json_plan(&out);
    assert_eq!(
        file_states(&plan),
        pairs(&[
            ("/data/blob.bin", "ADDED"),
            ("/empty.txt", "ADDED"),
            ("/scripts/etl.py", "ADDED"),
            ("/sql/deep/er/report.sql", "ADDED"),
        ])
    );
    assert_eq!(
        plan["summary"]["files"],
        serde_json::json!({"added": 4, "overwritten": 0, "unchanged": 0, "deleted": 0, "kept": 0})
    );
    let blob = &plan["files"][0];
    assert_eq!(blob["gitPath"], "_files/data/blob.bin");
    assert_eq!(blob["namespace"], "prod");
    assert_eq!(blob["sizeBytes"], 5000);
    assert_eq!(blob["binary"], true);
    assert!(blob["diff"].is_null());
    assert_eq!(blob["sha256"].as_str().unwrap().len(), 64);
    assert!(plan["files"][2]["diff"]
        .as_str()
        .unwrap()
        .contains("+print('etl')"));
    assert!(emu.files("main", "prod").is_empty(), "plan never writes");

    let out = run(&emu, &ws, &["apply"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stored = emu.files("main", "prod");
    let got: Vec<(&str, &[u8])> = stored
        .iter()
        .map(|f| (f.path.as_str(), f.bytes.as_slice()))
        .collect();
    let bin = binary();
    assert_eq!(
        got,
        [
            ("/data/blob.bin", bin.as_slice()),
            ("/empty.txt", b"".as_slice()),
            ("/scripts/etl.py", b"print('etl')\n".as_slice()),
            ("/sql/deep/er/report.sql", b"select 1;\n".as_slice()),
        ]
    );
    assert_eq!(emu.flows("main").len(), 1, "the flow was applied too");
    let before = revisions(&emu);

    // re-plan and re-apply: one export, zero uploads, revisions unchanged
    emu.reset_counts();
    let out = run(
        &emu,
        &ws,
        &["plan", "--format", "json", "--detailed-exitcode"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan = json_plan(&out);
    assert!(file_states(&plan).iter().all(|(_, s)| s == "UNCHANGED"));
    let out = run(&emu, &ws, &["apply"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let requests = file_requests(&emu);
    assert_eq!(
        requests.len(),
        2,
        "one export per run, nothing else: {requests:?}"
    );
    assert!(requests
        .iter()
        .all(|(m, p)| m == "GET" && p.contains("/files/export")));
    assert_eq!(revisions(&emu), before, "no new revision");
}

#[test]
fn one_edit_one_removal_one_addition_make_exactly_those_requests() {
    let emu = emulator();
    let ws = repo();
    let out = run(&emu, &ws, &["apply"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // a file on the server outside the namespace directory `/scripts`
    emu.seed_file("main", "prod", "/other/keep.txt", b"not Git's");

    write_file(&ws, "scripts/etl.py", b"print('etl v2')\n");
    std::fs::remove_file(ws.path().join("_files/scripts/old.py")).ok();
    write_file(&ws, "scripts/new.py", b"print('new')\n");
    emu.seed_file("main", "prod", "/scripts/gone.py", b"print('gone')\n");
    emu.reset_counts();

    let args = [
        "apply",
        "--delete",
        "--namespace-directory",
        "/scripts",
        "--files-directory",
        "_files/scripts",
        "--format",
        "json",
    ];
    let out = run(&emu, &ws, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let applied = json_plan(&out);
    assert_eq!(
        file_states(&applied),
        pairs(&[
            ("/scripts/etl.py", "OVERWRITTEN"),
            ("/scripts/gone.py", "DELETED"),
            ("/scripts/new.py", "ADDED"),
        ])
    );
    let mut writes: Vec<(String, String)> = file_requests(&emu)
        .into_iter()
        .filter(|(m, _)| m != "GET")
        .collect();
    writes.sort();
    assert_eq!(
        writes,
        [
            (
                "DELETE".to_string(),
                "/api/v1/main/namespaces/prod/files?path=%2Fscripts%2Fgone.py".to_string()
            ),
            (
                "POST".to_string(),
                "/api/v1/main/namespaces/prod/files?path=%2Fscripts%2Fetl.py".to_string()
            ),
            (
                "POST".to_string(),
                "/api/v1/main/namespaces/prod/files?path=%2Fscripts%2Fnew.py".to_string()
            ),
        ]
    );
    let paths: Vec<String> = emu
        .files("main", "prod")
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert!(paths.contains(&"/other/keep.txt".to_string()), "{paths:?}");
    assert!(
        paths.contains(&"/data/blob.bin".to_string()),
        "outside /scripts: {paths:?}"
    );
    assert!(!paths.contains(&"/scripts/gone.py".to_string()));
    assert_eq!(
        emu.files("main", "prod")
            .into_iter()
            .find(|f| f.path == "/scripts/etl.py")
            .unwrap()
            .bytes,
        b"print('etl v2')\n"
    );
}

#[test]
fn a_file_under_flows_is_refused_and_nothing_is_written() {
    let emu = emulator();
    let ws = repo();
    write_file(&ws, "_flows/sneaky.yml", b"id: sneaky\n");
    let out = run(&emu, &ws, &["apply"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("_files/_flows/sneaky.yml") && err.contains("_flows"),
        "{err}"
    );
    assert!(emu.files("main", "prod").is_empty());
    assert!(
        emu.flows("main").is_empty(),
        "nothing written, flows included"
    );
}

#[test]
fn the_delete_guard_counts_files() {
    let emu = emulator();
    let ws = repo();
    for i in 0..3 {
        emu.seed_file("main", "prod", &format!("/stale/{i}.txt"), b"x");
    }
    let out = run(&emu, &ws, &["apply", "--delete", "--max-deletes", "2"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("3 namespace files") && err.contains("--max-deletes"),
        "{err}"
    );
    assert_eq!(emu.files("main", "prod").len(), 3, "nothing written");
}

#[test]
fn a_failure_part_way_reports_what_the_server_holds_and_a_rerun_converges() {
    let emu = emulator();
    let ws = repo();
    // the server refuses one upload (a file `/sql` stands where Git has a folder); the
    // others go through
    emu.seed_file("main", "prod", "/sql", b"a file where Git has a folder");
    let out = run(&emu, &ws, &["apply", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc = json_plan(&out);
    let rows = doc["apply"]["files"].as_array().expect("apply.files");
    let outcome = |p: &str| {
        rows.iter()
            .find(|r| r["kestraPath"] == p)
            .map(|r| r["outcome"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(outcome("/sql/deep/er/report.sql"), "FAILED");
    for p in ["/data/blob.bin", "/empty.txt", "/scripts/etl.py"] {
        assert_eq!(outcome(p), "APPLIED", "{p}");
    }
    // what the report says is what the server holds
    let held: Vec<String> = emu
        .files("main", "prod")
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(
        held,
        ["/data/blob.bin", "/empty.txt", "/scripts/etl.py", "/sql"]
    );
    // the flow waits for every upload
    assert!(emu.flows("main").is_empty());
    let flow_rows = doc["apply"]["flows"].as_array().unwrap();
    assert_eq!(flow_rows[0]["outcome"], "NOT_ATTEMPTED");

    // fix the cause and run again: it converges
    emu.delete_file("main", "prod", "/sql");
    let out = run(&emu, &ws, &["apply"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&emu, &ws, &["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(emu.files("main", "prod").len(), 4);
    assert_eq!(emu.flows("main").len(), 1);
}

#[test]
fn a_lost_upload_answer_is_settled_by_reading_the_file_back() {
    let emu = emulator();
    let ws = repo();
    emu.set_faults(Faults {
        rate: 1.0,
        seed: 7,
        kinds: vec![FaultKind::DropAfterHandling],
        only_methods: Some(vec!["POST".into()]),
        only_paths: Some(vec!["/files".into()]),
        ..Faults::default()
    });
    let out = run(&emu, &ws, &["apply", "--format", "json"]);
    emu.set_faults(Faults::default());
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = json_plan(&out);
    for r in doc["apply"]["files"].as_array().unwrap() {
        assert_eq!(r["outcome"], "APPLIED", "{r}");
    }
    assert_eq!(emu.files("main", "prod").len(), 4);
}

#[test]
fn markdown_plan_has_a_namespace_files_section() {
    let emu = emulator();
    let ws = repo();
    let out = run(&emu, &ws, &["apply"]);
    assert!(out.status.success(), "{}", stderr(&out));
    write_file(&ws, "scripts/etl.py", b"print('etl v2')\n");
    write_file(&ws, "data/blob.bin", &[0, 1, 2, 3]);
    write_file(&ws, "scripts/new `x` | y.py", b"print('new')\n");
    std::fs::remove_file(ws.path().join("_files/empty.txt")).unwrap();
    let out = run(&emu, &ws, &["plan", "--delete", "--format", "markdown"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let host = emu.url().trim_start_matches("http://").to_string();
    let md = stdout(&out)
        .replace(&emu.url(), "http://kestra.test")
        .replace(&host, "kestra.test");
    insta::assert_snapshot!(md);
}
