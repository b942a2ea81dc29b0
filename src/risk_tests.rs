//! The hidden state line, read back strictly, and what counts as riskier.

use super::*;
use crate::flow::Flow;
use crate::model::{RemoteFlow, Scope, ServerInfo};
use crate::plan::{compute, Blocker, BlockerKind};

fn flow(id: &str) -> Flow {
    Flow {
        git_path: format!("_flows/{id}.yml"),
        namespace: "prod".into(),
        id: id.into(),
        source: format!("id: {id}\nnamespace: prod\n"),
        inserted_line: None,
    }
}

fn live(id: &str) -> RemoteFlow {
    RemoteFlow {
        namespace: "prod".into(),
        id: id.into(),
        source: format!("id: {id}\nnamespace: prod\n"),
        revision: Some(1),
    }
}

/// `keep` in Git, every one of `server` on the server, `delete` on.
fn plan(keep: &[&str], server: &[&str]) -> Plan {
    let desired: Vec<Flow> = keep.iter().map(|id| flow(id)).collect();
    let live: Vec<RemoteFlow> = server.iter().map(|id| live(id)).collect();
    compute(
        &desired,
        &live,
        &Scope::new("prod", false),
        true,
        ServerInfo {
            url: "https://kestra.example.com".into(),
            ..ServerInfo::default()
        },
    )
}

fn blocked(mut p: Plan) -> Plan {
    p.blockers.push(Blocker {
        kind: BlockerKind::MaxDeletes,
        message: "too many".into(),
    });
    p
}

#[test]
fn the_state_line_round_trips_and_names_nothing() {
    let p = plan(&["a"], &["a", "old1", "old2"]);
    let s = State::of_plan(&p);
    assert_eq!((s.verdict, s.deletes, s.keys.len()), (Verdict::Ok, 2, 2));
    let line = s.line();
    assert!(line.starts_with(PREFIX) && line.ends_with(" -->"), "{line}");
    // flow names are hashed, never written
    assert!(!line.contains("old1"), "{line}");
    let body = format!("<!-- kestra-sync:plan target=prod@h -->\n### plan\n\n{line}\n");
    assert_eq!(State::from_comment(&body), Some(s.clone()));
    assert_eq!(
        State::from_comment(&body.replace('\n', "\r\n")),
        Some(s.clone())
    );
    let failed = State::failed(Some(&s));
    assert_eq!(failed.keys, s.keys);
    assert_eq!(
        State::from_comment(&failed.line()).map(|f| f.verdict),
        Some(Verdict::Failed)
    );
}

#[test]
fn only_an_exact_last_line_is_a_state() {
    let good = State::of_plan(&plan(&[], &["x"])).line();
    for bad in [
        // not last: flow text quoted above the footer cannot pose as the state
        format!("{good}\n<sub>footer</sub>"),
        good.replace("verdict=ok", "verdict=fine"),
        good.replace("deletes=1", "deletes=-1"),
        good.replace("deletes=1", "deletes=0"),
        good.replace("keys=", "keys=XYZ,"),
        good.replace(" -->", " extra=1 -->"),
        good.replace("v1", "v2"),
        format!("{PREFIX}verdict=ok deletes=99999999999 keys= -->"),
        String::new(),
    ] {
        assert_eq!(State::from_comment(&bad), None, "{bad}");
    }
}

#[test]
fn new_deletes_and_a_turn_to_failure_are_riskier() {
    let before = State::of_plan(&plan(&["a"], &["a", "old1"]));
    // same plan, fewer deletes, no deletes: not riskier
    for same in [
        plan(&["a"], &["a", "old1"]),
        plan(&["a", "old1"], &["a", "old1"]),
        plan(&["a", "b"], &["a"]),
    ] {
        assert_eq!(riskier(&before, Some(&same)), None);
    }
    // one more delete: named
    let more = plan(&["a"], &["a", "old1", "old2"]);
    assert_eq!(
        riskier(&before, Some(&more)),
        Some(Riskier {
            now_fails: None,
            new_deletes: 1,
            names: vec![Deleted::Flow("prod/old2".into())],
        })
    );
    // a plan apply would refuse
    let r = riskier(&before, Some(&blocked(plan(&["a"], &["a", "old1"])))).unwrap();
    assert_eq!((r.now_fails, r.new_deletes), (Some(Verdict::Blocked), 0));
    // a plan that could not be computed; then fixed: its old deletes are not new
    let r = riskier(&before, None).unwrap();
    assert_eq!(r.now_fails, Some(Verdict::Failed));
    let failed = State::failed(Some(&before));
    assert_eq!(riskier(&failed, None), None, "still failing: not riskier");
    assert_eq!(riskier(&failed, Some(&plan(&["a"], &["a", "old1"]))), None);
    // blocked stays blocked: only new deletes count
    let blocked_before = State::of_plan(&blocked(plan(&["a"], &["a", "old1"])));
    assert_eq!(
        riskier(
            &blocked_before,
            Some(&blocked(plan(&["a"], &["a", "old1"])))
        ),
        None
    );
}

#[test]
fn beyond_the_kept_keys_new_deletes_are_counted_not_named() {
    let ids: Vec<String> = (0..MAX_KEYS + 5).map(|i| format!("f{i}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let before = State::of_plan(&plan(&[], &ids));
    assert_eq!(before.keys.len(), MAX_KEYS);
    assert_eq!(before.deletes, MAX_KEYS + 5);
    let read = State::from_comment(&before.line()).unwrap();
    assert_eq!(read, before);
    let mut more = ids.clone();
    more.extend(["g1", "g2"]);
    let r = riskier(&read, Some(&plan(&[], &more))).unwrap();
    assert_eq!((r.new_deletes, r.names.len()), (2, 0));
    assert_eq!(riskier(&read, Some(&plan(&[], &ids))), None);
    assert!(before.line().len() < 4_000, "{}", before.line().len());
}

#[test]
fn a_namespace_file_deleted_now_is_a_new_delete_too() {
    let file = |path: &str, state: FileState| crate::nsfiles::FileChange {
        git_path: None,
        namespace: "prod".into(),
        kestra_path: path.into(),
        sync_state: state,
        size_bytes: 3,
        sha256: "0".repeat(64),
        live_size_bytes: None,
        live_sha256: None,
        binary: false,
        diff: None,
        lines_added: 0,
        lines_removed: 0,
        lock: None,
        content: None,
    };
    let with_files = |files: Vec<crate::nsfiles::FileChange>| {
        let mut p = plan(&["a"], &["a"]);
        p.set_files(files);
        p
    };
    let before = State::of_plan(&with_files(vec![file("/scripts/a.py", FileState::Deleted)]));
    assert_eq!(before.deletes, 1);
    let now = with_files(vec![
        file("/scripts/a.py", FileState::Deleted),
        file("/scripts/b.py", FileState::Deleted),
        file("/scripts/c.py", FileState::Kept),
    ]);
    let r = riskier(&before, Some(&now)).unwrap();
    assert_eq!(
        r.names,
        [Deleted::File("prod".into(), "/scripts/b.py".into())]
    );
    // a flow and a file of the same name are two keys
    assert_ne!(key(&["flow", "prod", "x"]), key(&["file", "prod", "x"]));
}
