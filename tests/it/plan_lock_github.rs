//! The plan lock in GitHub Actions (issue 12): a pull request's plan comment carries the lock;
//! the push that merges the pull request finds it (`GET /repos/{o}/{r}/commits/{sha}/pulls`)
//! and refuses to apply when a flow of the plan moved on the server since the review
//! (`on-stale: fail`: nothing written, exit 1, one comment on the pull request), or applies
//! anyway and says so (`on-stale: warn`). Edits outside the plan's flows do not block. Every
//! request to the fake GitHub is validated against GitHub's OpenAPI description.

use crate::github_action::{
    flow, inputs, kestra, pr_payload, push_payload, step, Step, Workspace, PR, REPO,
};
use crate::github_support::{FakeGithub, BOT_TOKEN};

use kestra_emulator::Emulator;

/// The commit the runner's `GITHUB_SHA` names in these tests.
const MERGE_SHA: &str = "ffffffffffffffffffffffffffffffffffffffff";

/// Git changes `cleanup_tmp` (revision 1 on the server) and adds `ingest_orders`.
fn repo() -> Workspace {
    Workspace::new(&[
        ("cleanup_tmp.yml", flow("cleanup_tmp", "v2")),
        ("steady.yml", flow("steady", "same")),
        ("ingest_orders.yml", flow("ingest_orders", "hi")),
    ])
}

/// The pull request's plan, posted with its lock; then GitHub records the merge.
async fn reviewed(gh: &FakeGithub, emu: &Emulator, ws: &Workspace) {
    let s = step(
        gh,
        ws,
        "pull_request",
        pr_payload(false),
        inputs(emu, BOT_TOKEN, &[]),
    )
    .await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    let comments = gh.comments(REPO, PR);
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0]
            .body
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("<!-- kestra-sync:lock v1 ")),
        "{}",
        comments[0].body
    );
    // an open pull request also contains the commit: only the merged one counts
    gh.add_pull(REPO, MERGE_SHA, 99, false);
    gh.add_pull(REPO, MERGE_SHA, PR, true);
}

async fn merge(gh: &FakeGithub, emu: &Emulator, ws: &Workspace, extra: &[(&str, &str)]) -> Step {
    step(
        gh,
        ws,
        "push",
        push_payload("main"),
        inputs(emu, BOT_TOKEN, extra),
    )
    .await
}

fn stale_comments(gh: &FakeGithub) -> Vec<String> {
    gh.comments(REPO, PR)
        .into_iter()
        .map(|c| c.body)
        .filter(|b| b.starts_with("<!-- kestra-sync:stale "))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_edited_on_the_server_after_review_blocks_the_merge() {
    let gh = FakeGithub::start("").await;
    let emu = kestra();
    let ws = repo();
    reviewed(&gh, &emu, &ws).await;
    // someone edits cleanup_tmp in the Kestra UI after the review
    emu.seed_flow("main", &flow("cleanup_tmp", "edited in the UI"));
    emu.reset_counts();
    let s = merge(&gh, &emu, &ws, &[]).await;
    assert_eq!(s.code, 1, "{}\n{}", s.stdout, s.stderr);
    assert_eq!(
        emu.write_count(),
        0,
        "nothing written, not even the new flow"
    );
    assert!(!emu.flows("main").iter().any(|f| f.id == "ingest_orders"));
    assert!(
        s.stdout.contains(
            "STALE prod/cleanup_tmp: revision 1 → 2 on the server since the reviewed plan"
        ),
        "{}",
        s.stdout
    );
    assert!(
        s.summary
            .contains("### ⛔ Kestra apply to `prod` refused: it is not the plan reviewed on #7"),
        "{}",
        s.summary
    );
    assert!(s.summary.contains("Nothing was written"), "{}", s.summary);
    let stale = stale_comments(&gh);
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert!(
        stale[0].contains(
            "- **STALE** `prod/cleanup_tmp`: revision 1 → 2 on the server since the reviewed plan"
        ),
        "{}",
        stale[0]
    );
    assert!(stale[0].contains("plan again"), "{}", stale[0]);
    // the job re-run: still refused, still one comment (updated in place)
    let again = merge(&gh, &emu, &ws, &[]).await;
    assert_eq!(again.code, 1);
    assert_eq!(stale_comments(&gh).len(), 1);
    assert_eq!(emu.write_count(), 0);
    let ops = gh.check().await;
    assert!(
        ops.iter()
            .any(|o| o == "repos/list-pull-requests-associated-with-commit"),
        "{ops:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_stale_warn_applies_and_says_so() {
    let gh = FakeGithub::start("").await;
    let emu = kestra();
    let ws = repo();
    reviewed(&gh, &emu, &ws).await;
    emu.seed_flow("main", &flow("cleanup_tmp", "edited in the UI"));
    let s = merge(&gh, &emu, &ws, &[("on-stale", "warn")]).await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    let cleanup = emu
        .flows("main")
        .into_iter()
        .find(|f| f.id == "cleanup_tmp")
        .unwrap();
    assert!(
        cleanup.source.contains("\"v2\""),
        "applied: {}",
        cleanup.source
    );
    assert!(
        s.stdout.contains("::warning title=Plan lock::"),
        "{}",
        s.stdout
    );
    assert!(
        s.summary.contains(
            "### ⚠️ Kestra apply to `prod`: applied although it is not the plan reviewed on #7"
        ),
        "{}",
        s.summary
    );
    let stale = stale_comments(&gh);
    assert_eq!(stale.len(), 1);
    assert!(
        stale[0].contains("Applied anyway because `on-stale: warn` is set"),
        "{}",
        stale[0]
    );
    assert!(stale[0].contains("`prod/cleanup_tmp`: revision 1 → 2"));
    gh.check().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_outside_the_plans_flows_does_not_block() {
    let gh = FakeGithub::start("").await;
    let emu = kestra();
    emu.seed_flow(
        "main",
        &flow("elsewhere", "v1").replace("namespace: prod", "namespace: other"),
    );
    let ws = repo();
    reviewed(&gh, &emu, &ws).await;
    // edits the plan does not touch: another namespace
    emu.seed_flow(
        "main",
        &flow("elsewhere", "v2").replace("namespace: prod", "namespace: other"),
    );
    let s = merge(&gh, &emu, &ws, &[]).await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    assert!(emu.flows("main").iter().any(|f| f.id == "ingest_orders"));
    assert!(
        s.summary
            .contains("Plan lock: this is the plan reviewed on #7 (2 change(s), none moved on the server since)."),
        "{}",
        s.summary
    );
    assert!(stale_comments(&gh).is_empty());
    gh.check().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merged_pull_request_without_a_lock_applies_as_before_and_says_so() {
    let gh = FakeGithub::start("").await;
    let emu = kestra();
    let ws = repo();
    gh.add_pull(REPO, MERGE_SHA, PR, true);
    let s = merge(&gh, &emu, &ws, &[]).await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    assert!(
        s.summary.contains(
            "The merged pull request #7 has no kestra-sync plan comment with a plan lock for `prod`: applied as planned, without a plan lock."
        ),
        "{}",
        s.summary
    );
    gh.check().await;
}
