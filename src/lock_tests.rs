//! Tests of the plan lock: the check's verdicts, the comment block and the plan file.

use super::*;
use crate::flow::Flow;
use crate::kestra::{RemoteFlow, Scope, ServerInfo};
use crate::plan::{self, SyncState};

fn flow(id: &str, src: &str) -> Flow {
    Flow {
        git_path: format!("_flows/{id}.yml"),
        namespace: "prod".into(),
        id: id.into(),
        source: src.into(),
        inserted_line: None,
    }
}

fn remote(id: &str, src: &str, revision: u64) -> RemoteFlow {
    RemoteFlow {
        namespace: "prod".into(),
        id: id.into(),
        source: src.into(),
        revision: Some(revision),
    }
}

fn plan_of(desired: &[Flow], live: &[RemoteFlow]) -> Plan {
    let scope = Scope::new("prod", false);
    plan::compute(desired, live, &scope, true, ServerInfo::default())
}

/// Git: x (changed), new (added), same (unchanged); server: x at 3, same, gone at 7.
fn reviewed_world() -> (Vec<Flow>, Vec<RemoteFlow>) {
    (
        vec![
            flow("x", "id: x\nnamespace: prod\n# v2\n"),
            flow("new", "id: new\nnamespace: prod\n"),
            flow("same", "id: same\nnamespace: prod\n"),
        ],
        vec![
            remote("x", "id: x\nnamespace: prod\n", 3),
            remote("same", "id: same\nnamespace: prod\n", 1),
            remote("gone", "id: gone\nnamespace: prod\n", 7),
        ],
    )
}

fn messages(r: &Refusal) -> Vec<String> {
    r.flows.iter().map(ToString::to_string).collect()
}

#[test]
fn every_change_carries_its_lock_and_only_changes_do() {
    let (git, live) = reviewed_world();
    let plan = plan_of(&git, &live);
    for f in &plan.flows {
        let changes = matches!(
            f.sync_state,
            SyncState::Added | SyncState::Updated | SyncState::Deleted
        );
        assert_eq!(f.lock.is_some(), changes, "{}", f.flow_id);
    }
    let x = plan.flows.iter().find(|f| f.flow_id == "x").unwrap();
    let lock = x.lock.as_ref().unwrap();
    assert_eq!(lock.base_revision, Some(3));
    assert_eq!(
        lock.base_sha256.as_deref(),
        Some(sha256_hex("id: x\nnamespace: prod\n").as_str())
    );
    assert_eq!(
        lock.desired_sha256.as_deref(),
        Some(sha256_hex("id: x\nnamespace: prod\n# v2\n").as_str())
    );
    let new = plan.flows.iter().find(|f| f.flow_id == "new").unwrap();
    assert_eq!(
        (
            new.lock.as_ref().unwrap().base_revision,
            new.lock.as_ref().unwrap().base_sha256.as_deref()
        ),
        (None, None)
    );
    let gone = plan.flows.iter().find(|f| f.flow_id == "gone").unwrap();
    assert_eq!(gone.lock.as_ref().unwrap().desired_sha256, None);
    assert_eq!(gone.lock.as_ref().unwrap().base_revision, Some(7));
}

#[test]
fn the_base_hash_ignores_the_revision_line_like_the_server() {
    let plain = plan_of(&[flow("x", "id: x\n# b\n")], &[remote("x", "id: x\n", 3)]);
    let with_line = plan_of(
        &[flow("x", "id: x\n# b\n")],
        &[remote("x", "id: x\nrevision: 3\n", 3)],
    );
    assert_eq!(digest(&plain), digest(&with_line));
}

#[test]
fn the_same_plan_passes() {
    let (git, live) = reviewed_world();
    let plan = plan_of(&git, &live);
    assert_eq!(check(&plan, &Reviewed::of_plan(&plan)), Ok(()));
}

#[test]
fn a_moved_base_is_stale_with_both_revisions() {
    let (git, mut live) = reviewed_world();
    let reviewed = Reviewed::of_plan(&plan_of(&git, &live));
    live[0] = remote("x", "id: x\nnamespace: prod\n# ui edit\n", 4);
    let refusal = check(&plan_of(&git, &live), &reviewed).unwrap_err();
    assert_eq!(
        messages(&refusal),
        vec!["STALE prod/x: revision 3 → 4 on the server since the reviewed plan"]
    );
    assert_eq!(refusal.stale().count(), 1);
}

#[test]
fn a_flow_created_or_deleted_on_the_server_since_is_stale() {
    let (git, mut live) = reviewed_world();
    let reviewed = Reviewed::of_plan(&plan_of(&git, &live));
    live.push(remote("new", "id: new\nnamespace: prod\n# ui\n", 1));
    live.retain(|r| r.id != "x");
    let refusal = check(&plan_of(&git, &live), &reviewed).unwrap_err();
    assert_eq!(
        messages(&refusal),
        vec![
            "STALE prod/new: created on the server (revision 1) since the reviewed plan",
            "STALE prod/x: deleted from the server (was revision 3) since the reviewed plan",
        ]
    );
}

#[test]
fn an_extra_change_is_unreviewed() {
    let (mut git, live) = reviewed_world();
    let reviewed = Reviewed::of_plan(&plan_of(&git, &live));
    git[2] = flow("same", "id: same\nnamespace: prod\n# sneaked in\n");
    git.push(flow("other", "id: other\nnamespace: prod\n"));
    let refusal = check(&plan_of(&git, &live), &reviewed).unwrap_err();
    assert_eq!(
        messages(&refusal),
        vec![
            "UNREVIEWED prod/other: not in the reviewed plan (this apply would create it)",
            "UNREVIEWED prod/same: not in the reviewed plan (this apply would update it)",
        ]
    );
    assert_eq!(refusal.stale().count(), 0);
}

#[test]
fn a_changed_desired_source_is_unreviewed() {
    let (mut git, live) = reviewed_world();
    let reviewed = Reviewed::of_plan(&plan_of(&git, &live));
    git[0] = flow("x", "id: x\nnamespace: prod\n# v3, not what was reviewed\n");
    git.push(flow(
        "gone",
        "id: gone\nnamespace: prod\n# kept after all\n",
    ));
    let refusal = check(&plan_of(&git, &live), &reviewed).unwrap_err();
    assert_eq!(
        messages(&refusal),
        vec![
            "UNREVIEWED prod/gone: the reviewed plan would delete it, this apply would update it",
            "UNREVIEWED prod/x: the source to write differs from the reviewed plan's",
        ]
    );
}

#[test]
fn changes_the_server_already_holds_and_unrelated_edits_pass() {
    let (git, mut live) = reviewed_world();
    let reviewed = Reviewed::of_plan(&plan_of(&git, &live));
    // x was applied already (an earlier, partial apply): it is no longer a change
    live[0] = remote("x", "id: x\nnamespace: prod\n# v2\n", 4);
    // a flow of another namespace moved: outside the plan
    live.push(RemoteFlow {
        namespace: "other".into(),
        id: "y".into(),
        source: "id: y\n".into(),
        revision: Some(9),
    });
    assert_eq!(check(&plan_of(&git, &live), &reviewed), Ok(()));
}

#[test]
fn another_target_is_refused_as_a_whole() {
    let (git, live) = reviewed_world();
    let mut reviewed = Reviewed::of_plan(&plan_of(&git, &live));
    reviewed.target_namespace = "staging".into();
    let refusal = check(&plan_of(&git, &live), &reviewed).unwrap_err();
    assert!(refusal.whole.unwrap().contains("`staging`"));
}

#[test]
fn the_plan_file_reads_back_with_full_hashes() {
    let (git, mut live) = reviewed_world();
    let plan = plan_of(&git, &live);
    let text = crate::render::json::render(&plan);
    let reviewed = Reviewed::from_plan_json(&text, "plan.json").unwrap();
    assert_eq!(reviewed, Reviewed::of_plan(&plan));
    live[0].revision = Some(5);
    live[0].source.push_str("# moved\n");
    assert!(check(&plan_of(&git, &live), &reviewed).is_err());
}

#[test]
fn a_plan_file_without_locks_or_with_bad_hashes_is_an_error_naming_the_flow() {
    let old = r#"{"targetNamespace":"prod","flows":[{"namespace":"prod","flowId":"x","syncState":"UPDATED"}]}"#;
    let e = Reviewed::from_plan_json(old, "p.json").unwrap_err();
    assert!(
        e.0.contains("prod/x") && e.0.contains("older kestra-sync"),
        "{e}"
    );
    let bad = r#"{"targetNamespace":"prod","flows":[{"namespace":"prod","flowId":"x","syncState":"ADDED","lock":{"baseRevision":null,"baseSha256":null,"desiredSha256":"abc"}}]}"#;
    assert!(Reviewed::from_plan_json(bad, "p.json").is_err());
    assert!(Reviewed::from_plan_json("not json", "p.json")
        .unwrap_err()
        .0
        .contains("`p.json`"));
}

fn comment(block: &str) -> String {
    format!("<!-- kestra-sync:plan target=prod@h -->\n{block}\n### plan\n")
}

#[test]
fn the_comment_block_round_trips_and_checks_like_the_file() {
    let (git, mut live) = reviewed_world();
    let plan = plan_of(&git, &live);
    let block = comment_block(&plan, 65_536);
    assert!(block.starts_with(COMMENT_PREFIX) && block.ends_with(" -->"));
    assert!(!block[4..block.len() - 3].contains("--"), "{block}");
    let reviewed = Reviewed::from_comment(&comment(&block)).unwrap().unwrap();
    assert!(reviewed.flows.is_some());
    assert_eq!(reviewed.digest, digest(&plan));
    assert_eq!(check(&plan, &reviewed), Ok(()));
    live[0] = remote("x", "id: x\nnamespace: prod\n# ui\n", 4);
    let refusal = check(&plan_of(&git, &live), &reviewed).unwrap_err();
    assert_eq!(
        messages(&refusal),
        vec!["STALE prod/x: revision 3 → 4 on the server since the reviewed plan"]
    );
}

#[test]
fn a_lock_anywhere_but_the_second_line_is_not_read() {
    let (git, live) = reviewed_world();
    let block = comment_block(&plan_of(&git, &live), 65_536);
    let quoted = format!("<!-- kestra-sync:plan target=prod@h -->\n### plan\n```\n{block}\n```\n");
    assert_eq!(Reviewed::from_comment(&quoted), Ok(None));
    assert_eq!(Reviewed::from_comment(""), Ok(None));
    for broken in [
        format!("{COMMENT_PREFIX}!!!! -->"),
        format!("{COMMENT_PREFIX}aGVsbG8= -->"),
        format!("{COMMENT_PREFIX}aGVsbG8="),
    ] {
        let e = Reviewed::from_comment(&comment(&broken)).unwrap_err();
        assert!(e.0.contains("plan again"), "{e}");
    }
}

/// 5,000 changed flows (`flow_0000` …), each updated from revision 2.
fn big(n: usize, moved: Option<usize>) -> Plan {
    let git: Vec<Flow> = (0..n)
        .map(|i| {
            flow(
                &format!("flow_{i:04}"),
                &format!("id: flow_{i:04}\n# new {i}\n"),
            )
        })
        .collect();
    let live: Vec<RemoteFlow> = (0..n)
        .map(|i| {
            let edited = if moved == Some(i) { "# ui\n" } else { "" };
            let rev = if moved == Some(i) { 3 } else { 2 };
            remote(
                &format!("flow_{i:04}"),
                &format!("id: flow_{i:04}\n{edited}"),
                rev,
            )
        })
        .collect();
    plan_of(&git, &live)
}

#[test]
fn five_thousand_changes_fit_a_gitlab_note_and_fall_back_to_the_digest_on_github() {
    let plan = big(5_000, None);
    assert_eq!(plan.summary.updated, 5_000);
    // GitLab: half of its 1,000,000-character note
    let gitlab = comment_block(&plan, 500_000);
    let on_gitlab = Reviewed::from_comment(&comment(&gitlab)).unwrap().unwrap();
    assert_eq!(on_gitlab.flows.as_ref().map(BTreeMap::len), Some(5_000));
    assert!(gitlab.len() <= 500_000, "{}", gitlab.len());
    // GitHub: half of its 65,536-character comment cannot hold 5,000 entries
    let github = comment_block(&plan, 32_768);
    assert!(github.len() < 1_000, "{}", github.len());
    let on_github = Reviewed::from_comment(&comment(&github)).unwrap().unwrap();
    assert_eq!((on_github.flows.as_ref(), on_github.changes), (None, 5_000));
    assert_eq!(check(&plan, &on_github), Ok(()));
    let moved = big(5_000, Some(1234));
    let refusal = check(&moved, &on_github).unwrap_err();
    assert!(refusal.whole.unwrap().contains("--reviewed-plan"));
    // the per-flow entries still name the flow where they fit
    let named = check(&moved, &on_gitlab).unwrap_err();
    assert_eq!(
        messages(&named),
        vec!["STALE prod/flow_1234: revision 2 → 3 on the server since the reviewed plan"]
    );
}

#[test]
fn nine_hundred_entries_fit_half_a_github_comment() {
    let plan = big(900, None);
    let block = comment_block(&plan, 32_768);
    let read = Reviewed::from_comment(&comment(&block)).unwrap().unwrap();
    assert_eq!(read.flows.map(|f| f.len()), Some(900), "{}", block.len());
}

// ---- namespace files -------------------------------------------------------------------

use crate::nsfiles::{self, LocalFile, RemoteFile};

fn git_file(path: &str, bytes: &[u8]) -> LocalFile {
    LocalFile {
        git_path: format!("_files{path}"),
        kestra_path: path.into(),
        bytes: bytes.to_vec(),
    }
}

fn live_file(path: &str, bytes: &[u8]) -> RemoteFile {
    RemoteFile {
        kestra_path: path.into(),
        size_bytes: bytes.len() as u64,
        sha256: nsfiles::sha256_hex(bytes),
        text: nsfiles::as_text(bytes).map(str::to_string),
    }
}

/// The flows of [`reviewed_world`] plus files: Git has `/a.py` (changed), `/new.sql`
/// (added), `/same.txt`; the server has `/a.py`, `/same.txt`, `/gone.py` (deleted).
fn files_world() -> (Vec<LocalFile>, Vec<RemoteFile>) {
    (
        vec![
            git_file("/a.py", b"print(2)\n"),
            git_file("/new.sql", b"select 1;\n"),
            git_file("/same.txt", b"same\n"),
        ],
        vec![
            live_file("/a.py", b"print(1)\n"),
            live_file("/same.txt", b"same\n"),
            live_file("/gone.py", b"bye\n"),
        ],
    )
}

fn plan_with_files(git: &[LocalFile], live: &[RemoteFile]) -> Plan {
    let (flows, remote) = reviewed_world();
    let mut plan = plan_of(&flows, &remote);
    plan.set_files(nsfiles::plan::compute("prod", git, live, "", true));
    plan
}

#[test]
fn every_file_change_carries_its_lock_and_only_changes_do() {
    let (git, live) = files_world();
    let plan = plan_with_files(&git, &live);
    let lock = |path: &str| {
        let row = plan
            .file_rows()
            .iter()
            .find(|f| f.kestra_path == path)
            .unwrap();
        row.lock.clone().map(|l| (l.base_sha256, l.desired_sha256))
    };
    let sha = |b: &[u8]| Some(nsfiles::sha256_hex(b));
    assert_eq!(
        lock("/a.py"),
        Some((sha(b"print(1)\n"), sha(b"print(2)\n")))
    );
    assert_eq!(lock("/new.sql"), Some((None, sha(b"select 1;\n"))));
    assert_eq!(lock("/gone.py"), Some((sha(b"bye\n"), None)));
    assert_eq!(lock("/same.txt"), None);
    // the JSON plan shows it as `lock` on the row, like flows
    let json: serde_json::Value =
        serde_json::from_str(&crate::render::json::render(&plan)).unwrap();
    let a = &json["files"][0];
    assert_eq!(a["kestraPath"], "/a.py");
    assert_eq!(
        a["lock"]["desiredSha256"],
        nsfiles::sha256_hex(b"print(2)\n")
    );
    let reviewed = Reviewed::of_plan(&plan);
    assert_eq!(reviewed.changes, 3 + 3);
    assert_eq!(reviewed.files.as_ref().map(BTreeMap::len), Some(3));
}

#[test]
fn the_same_file_plan_passes_from_the_file_and_the_comment() {
    let (git, live) = files_world();
    let plan = plan_with_files(&git, &live);
    let from_json =
        Reviewed::from_plan_json(&crate::render::json::render(&plan), "plan.json").unwrap();
    assert_eq!(from_json, Reviewed::of_plan(&plan));
    assert_eq!(check(&plan, &from_json), Ok(()));
    let block = comment_block(&plan, 65_536);
    let from_comment = Reviewed::from_comment(&comment(&block)).unwrap().unwrap();
    assert_eq!(from_comment.files.as_ref().map(BTreeMap::len), Some(3));
    assert_eq!(from_comment.digest, digest(&plan));
    assert_eq!(check(&plan, &from_comment), Ok(()));
}

#[test]
fn a_file_changed_in_git_after_review_is_unreviewed_and_named() {
    let (mut git, live) = files_world();
    let plan = plan_with_files(&git, &live);
    let block = comment_block(&plan, 65_536);
    let reviewed = Reviewed::from_comment(&comment(&block)).unwrap().unwrap();
    git[0] = git_file("/a.py", b"print('pushed after review')\n");
    let refusal = check(&plan_with_files(&git, &live), &reviewed).unwrap_err();
    assert_eq!(
        messages(&refusal),
        vec!["UNREVIEWED namespace file prod:/a.py: the content to upload differs from the reviewed plan's (it changed in Git since the review)"]
    );
    assert_eq!(refusal.stale().count(), 0);
}

#[test]
fn a_file_changed_created_or_deleted_on_the_server_after_review_is_stale() {
    let (git, mut live) = files_world();
    let reviewed = Reviewed::of_plan(&plan_with_files(&git, &live));
    live[0] = live_file("/a.py", b"print('ui edit')\n");
    live.push(live_file("/new.sql", b"select 2;\n"));
    live.retain(|f| f.kestra_path != "/gone.py");
    let refusal = check(&plan_with_files(&git, &live), &reviewed).unwrap_err();
    assert_eq!(
        messages(&refusal),
        vec![
            "STALE namespace file prod:/a.py: its content on the server changed since the reviewed plan",
            "STALE namespace file prod:/new.sql: created on the server since the reviewed plan",
        ]
    );
    // /gone.py was deleted on the server: the reviewed delete is already done, not refused
    assert_eq!(refusal.stale().count(), 2);
}

#[test]
fn an_extra_or_missing_file_change_is_unreviewed_unless_already_applied() {
    let (mut git, live) = files_world();
    let reviewed = Reviewed::of_plan(&plan_with_files(&git, &live));
    // a file added to Git after review
    git.push(git_file("/extra.py", b"x\n"));
    // the reviewed upload of /new.sql dropped from Git after review
    git.retain(|f| f.kestra_path != "/new.sql");
    let refusal = check(&plan_with_files(&git, &live), &reviewed).unwrap_err();
    assert_eq!(
        messages(&refusal),
        vec![
            "UNREVIEWED namespace file prod:/extra.py: not in the reviewed plan (this apply would upload it)",
            "UNREVIEWED namespace file prod:/new.sql: the reviewed plan would upload it, this apply would not (Git changed since the review)",
        ]
    );
    // the server already holds every reviewed file change (an earlier, partial apply)
    let (git, _) = files_world();
    let applied = vec![
        live_file("/a.py", b"print(2)\n"),
        live_file("/new.sql", b"select 1;\n"),
        live_file("/same.txt", b"same\n"),
    ];
    assert_eq!(check(&plan_with_files(&git, &applied), &reviewed), Ok(()));
    // the same apply without --namespace-files skips reviewed file changes: refused
    let (flows, remote) = reviewed_world();
    let no_files = check(&plan_of(&flows, &remote), &reviewed).unwrap_err();
    assert_eq!(no_files.flows.len(), 3);
    assert!(no_files.flows[0].message().contains("--namespace-files"));
}

#[test]
fn a_lock_posted_before_files_were_locked_refuses_file_changes_only() {
    let (git, live) = files_world();
    let plan = plan_with_files(&git, &live);
    // what the previous kestra-sync wrote: v1, flow entries, no `files`
    let (flows, remote) = reviewed_world();
    let flows_only = plan_of(&flows, &remote);
    let mut old: CommentLock = {
        let block = comment_block(&flows_only, 65_536);
        let reviewed = Reviewed::from_comment(&comment(&block)).unwrap().unwrap();
        assert_eq!(reviewed.files.as_ref().map(BTreeMap::len), Some(0));
        CommentLock {
            target: "prod".into(),
            changes: reviewed.changes,
            digest: reviewed.digest,
            flows: None,
            files: None,
        }
    };
    old.flows = Some(
        Reviewed::of_plan(&flows_only)
            .flows
            .unwrap()
            .into_iter()
            .map(|((ns, id), e)| {
                let short = |h: Option<String>| h.map(|h| h[..SHORT_HASH].to_string());
                (
                    ns,
                    id,
                    e.base_revision,
                    short(e.base_sha256),
                    short(e.desired_sha256),
                )
            })
            .collect(),
    );
    assert!(!serde_json::to_string(&old).unwrap().contains("files"));
    let block = encode(&old);
    let reviewed = Reviewed::from_comment(&comment(&block)).unwrap().unwrap();
    assert_eq!(reviewed.files, None);
    // its flows still pass; no file change was locked at review
    assert_eq!(check(&flows_only, &reviewed), Ok(()));
    let refusal = check(&plan, &reviewed).unwrap_err();
    assert_eq!(refusal.flows.len(), 3);
    assert!(refusal
        .flows
        .iter()
        .all(|m| m.file && m.label() == "UNREVIEWED"));
    assert!(
        refusal.flows[0].message().contains("older kestra-sync"),
        "{refusal}"
    );
}

#[test]
fn the_digest_of_a_plan_without_file_changes_is_the_flows_only_digest() {
    let (flows, remote) = reviewed_world();
    let plan = plan_of(&flows, &remote);
    // the formula of the locks written before files were locked
    let rows: Vec<_> = plan
        .changes()
        .map(|f| {
            let l = f.lock.as_ref().unwrap();
            (
                f.namespace.as_str(),
                f.flow_id.as_str(),
                l.base_revision,
                l.base_sha256.as_deref(),
                l.desired_sha256.as_deref(),
            )
        })
        .collect();
    let old = sha256_hex(&serde_json::to_string(&("prod", rows)).unwrap());
    assert_eq!(digest(&plan), old);
    let (git, live) = files_world();
    assert_ne!(digest(&plan_with_files(&git, &live)), old);
    // files all unchanged: still the flows-only digest
    let same = [git_file("/same.txt", b"same\n")];
    let mut quiet = plan_of(&flows, &remote);
    quiet.set_files(nsfiles::plan::compute(
        "prod",
        &same,
        &same.clone().map(|f| live_file(&f.kestra_path, &f.bytes)),
        "",
        true,
    ));
    assert_eq!(digest(&quiet), old);
}

#[test]
fn the_digest_only_fallback_covers_files() {
    let (mut git, live) = files_world();
    let plan = plan_with_files(&git, &live);
    // room for the digest alone
    let block = comment_block(&plan, 10);
    let reviewed = Reviewed::from_comment(&comment(&block)).unwrap().unwrap();
    assert_eq!(
        (reviewed.flows.as_ref(), reviewed.files.as_ref()),
        (None, None)
    );
    assert_eq!(check(&plan, &reviewed), Ok(()));
    git[0] = git_file("/a.py", b"print(3)\n");
    let refusal = check(&plan_with_files(&git, &live), &reviewed).unwrap_err();
    assert!(refusal.whole.unwrap().contains("--reviewed-plan"));
}

#[test]
fn a_plan_file_with_an_unlocked_or_bad_file_change_is_an_error_naming_the_file() {
    let old = r#"{"targetNamespace":"prod","flows":[],"files":[{"namespace":"prod","kestraPath":"/a.py","syncState":"OVERWRITTEN"}]}"#;
    let e = Reviewed::from_plan_json(old, "p.json").unwrap_err();
    assert!(
        e.0.contains("prod:/a.py") && e.0.contains("older kestra-sync"),
        "{e}"
    );
    let bad = r#"{"targetNamespace":"prod","flows":[],"files":[{"namespace":"prod","kestraPath":"/a.py","syncState":"ADDED","lock":{"baseSha256":null,"desiredSha256":"abc"}}]}"#;
    assert!(Reviewed::from_plan_json(bad, "p.json")
        .unwrap_err()
        .0
        .contains("prod:/a.py"));
    // unchanged and kept rows need no lock
    let quiet = r#"{"targetNamespace":"prod","flows":[],"files":[{"namespace":"prod","kestraPath":"/a.py","syncState":"UNCHANGED"}]}"#;
    assert_eq!(
        Reviewed::from_plan_json(quiet, "p.json").unwrap().changes,
        0
    );
}

#[test]
fn a_refusal_naming_files_reads_well_in_the_log_and_the_comment() {
    let (git, live) = files_world();
    let reviewed = Reviewed::of_plan(&plan_with_files(&git, &live));
    let mut git2 = git.clone();
    git2[0] = git_file("/a.py", b"print('pushed')\n");
    git2.push(git_file("/scripts/extra.py", b"x\n"));
    let mut live2 = live.clone();
    live2[2] = live_file("/gone.py", b"edited\n");
    let (flows, mut remote) = reviewed_world();
    remote[0] = remote_flow_moved();
    let mut plan = plan_of(&flows, &remote);
    plan.set_files(nsfiles::plan::compute("prod", &git2, &live2, "", true));
    let refusal = check(&plan, &reviewed).unwrap_err();
    insta::assert_snapshot!("refusal_with_files_text", refusal.to_string());
    insta::assert_snapshot!(
        "refusal_with_files_comment",
        crate::render::markdown::lock_refused(
            Some("<!-- kestra-sync:stale target=prod@h -->"),
            "prod",
            Some("#7"),
            &refusal,
            false,
            "on-stale",
        )
    );
}

fn remote_flow_moved() -> RemoteFlow {
    remote("x", "id: x\nnamespace: prod\n# ui\n", 4)
}
