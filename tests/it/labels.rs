//! The optional PR/MR labels (`labels: true`, issue 11 item 6), end to end: the built binary
//! run as the GitHub runner and as a GitLab job, against the Kestra emulator and the fake
//! GitHub (every request validated against GitHub's OpenAPI description) and GitLab. One of
//! `kestra-sync:no-changes`, `kestra-sync:changes`, `kestra-sync:deletes` follows each plan,
//! the other two removed only when present, none after a failed plan; nothing at all when
//! `labels` is off; a token that may not label is one warning naming the permission, and the
//! job's result does not change.

use crate::github_action::{self, flow, inputs, kestra, pr_payload, step, Step, Workspace};
use crate::github_support::{FakeGithub, BOT_TOKEN, READ_ONLY_TOKEN};
use crate::gitlab_ci::{self, job, pipeline, with, IID};
use crate::gitlab_support::{FakeGitLab, TOKEN};

use github_action::{PR, REPO};

const NO_CHANGES: &str = "kestra-sync:no-changes";
const CHANGES: &str = "kestra-sync:changes";
const DELETES: &str = "kestra-sync:deletes";

/// The requests that touched labels: `METHOD path`.
async fn label_calls(gh: &FakeGithub) -> Vec<String> {
    gh.calls()
        .await
        .into_iter()
        .filter(|(_, p)| p.contains("/labels"))
        .map(|(m, p)| format!("{m} {p}"))
        .collect()
}

/// Label writes only (no GET).
async fn label_writes(gh: &FakeGithub) -> Vec<String> {
    label_calls(gh)
        .await
        .into_iter()
        .filter(|c| !c.starts_with("GET "))
        .collect()
}

fn ok(s: &Step) {
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
}

/// The server's two flows, the same in Git: a plan with no changes.
fn unchanged() -> Workspace {
    Workspace::new(&[
        ("cleanup_tmp.yml", flow("cleanup_tmp", "v1")),
        ("steady.yml", flow("steady", "same")),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_off_by_default_send_no_label_request() {
    let gh = FakeGithub::start("").await;
    let emu = kestra();
    let ws = unchanged();
    let s = step(
        &gh,
        &ws,
        "pull_request",
        pr_payload(false),
        inputs(&emu, BOT_TOKEN, &[]),
    )
    .await;
    ok(&s);
    assert_eq!(gh.comments(REPO, PR).len(), 1, "the plan comment is posted");
    assert_eq!(label_calls(&gh).await, Vec::<String>::new());
    gh.check().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_label_follows_the_plan_and_only_present_ones_are_removed() {
    let gh = FakeGithub::start("").await;
    let emu = kestra();
    let ws = unchanged();
    gh.set_labels(REPO, PR, &["bug"]);
    let run = || {
        let inputs = inputs(&emu, BOT_TOKEN, &[("labels", "true"), ("delete", "true")]);
        step(&gh, &ws, "pull_request", pr_payload(false), inputs)
    };
    let base = format!("/repos/{REPO}/issues/{PR}/labels");

    // No change: the label is added; the others were never there, so nothing is removed.
    ok(&run().await);
    assert_eq!(gh.labels(REPO, PR), ["bug", NO_CHANGES]);
    assert_eq!(
        label_calls(&gh).await,
        [format!("GET {base}?per_page=100"), format!("POST {base}")]
    );

    // The same plan again: the labels are right, nothing is written.
    ok(&run().await);
    assert_eq!(label_writes(&gh).await, [format!("POST {base}")]);

    // An update: changes replaces no-changes.
    ws.write("steady.yml", &flow("steady", "changed"));
    ok(&run().await);
    assert_eq!(gh.labels(REPO, PR), ["bug", CHANGES]);

    // A later push deletes a flow (and still updates one): deletes wins, only the label
    // that is present (changes) is removed.
    std::fs::remove_file(ws.path().join("_flows/cleanup_tmp.yml")).unwrap();
    ok(&run().await);
    assert_eq!(gh.labels(REPO, PR), ["bug", DELETES]);
    assert_eq!(
        label_writes(&gh).await,
        [
            format!("POST {base}"),
            format!("POST {base}"),
            format!("DELETE {base}/{NO_CHANGES}"),
            format!("POST {base}"),
            format!("DELETE {base}/{CHANGES}"),
        ]
    );
    // what was added, in the body GitHub documents
    let posted: Vec<serde_json::Value> = gh
        .api_requests()
        .await
        .iter()
        .filter(|r| r.method.as_str() == "POST" && r.url.path().ends_with("/labels"))
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(
        posted,
        [NO_CHANGES, CHANGES, DELETES].map(|l| serde_json::json!({ "labels": [l] }))
    );
    gh.check().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_plan_removes_every_label_of_ours() {
    let gh = FakeGithub::start("").await;
    let emu = kestra();
    let ws = unchanged();
    gh.set_labels(REPO, PR, &[CHANGES, "bug"]);
    ws.write("broken.yml", "id: broken\nnamespace: prod\ntasks: [\n");
    let s = step(
        &gh,
        &ws,
        "pull_request",
        pr_payload(false),
        inputs(&emu, BOT_TOKEN, &[("labels", "true")]),
    )
    .await;
    assert_eq!(s.code, 1, "{}\n{}", s.stdout, s.stderr);
    assert_eq!(gh.labels(REPO, PR), ["bug"]);
    assert_eq!(
        label_writes(&gh).await,
        [format!("DELETE /repos/{REPO}/issues/{PR}/labels/{CHANGES}")]
    );
    gh.check().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_may_not_label_warns_once_and_the_result_is_unchanged() {
    let gh = FakeGithub::start("").await;
    let emu = kestra();
    let ws = unchanged();
    ws.write("ingest_orders.yml", &flow("ingest_orders", "hi"));
    let run = |labels: &'static str| {
        step(
            &gh,
            &ws,
            "pull_request",
            pr_payload(false),
            inputs(
                &emu,
                READ_ONLY_TOKEN,
                &[("labels", labels), ("detailed-exitcode", "true")],
            ),
        )
    };
    let without = run("false").await;
    let s = run("true").await;
    assert_eq!(s.code, 2, "changes, with detailed-exitcode: {}", s.stderr);
    assert_eq!(s.code, without.code, "labels never change the result");
    let warnings: Vec<&str> = s
        .stdout
        .lines()
        .filter(|l| l.contains("labels not set"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", s.stdout);
    assert!(
        warnings[0].starts_with("::warning::pull request labels not set: the token may not label this pull request (403 Resource not accessible by integration")
            && warnings[0].contains("grant the job `permissions: pull-requests: write` (or `issues: write`)"),
        "{}",
        warnings[0]
    );
    assert!(gh.labels(REPO, PR).is_empty());
    gh.check().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_pull_request_is_skipped_and_says_so_once() {
    let gh = FakeGithub::start("").await;
    let emu = kestra();
    let ws = unchanged();
    let s = step(
        &gh,
        &ws,
        "pull_request",
        pr_payload(true),
        inputs(&emu, READ_ONLY_TOKEN, &[("labels", "true")]),
    )
    .await;
    ok(&s);
    let warnings = s.stdout.matches("labels not set").count();
    assert_eq!(warnings, 1, "{}", s.stdout);
    assert!(
        s.stdout.contains(
            "::warning::pull request labels not set: this pull request comes from a fork"
        ),
        "{}",
        s.stdout
    );
    assert_eq!(label_calls(&gh).await, Vec::<String>::new());
}

/// `METHOD path` of the requests to the merge request itself (not its notes).
async fn mr_calls(gitlab: &wiremock::MockServer, project: &str) -> Vec<String> {
    let path = format!("/api/v4/projects/{project}/merge_requests/{IID}");
    gitlab
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == path)
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_sets_the_merge_request_labels_in_one_put() {
    let fake = FakeGitLab::new("acme%2Fflows", IID);
    let gitlab = fake.start().await;
    let emu = gitlab_ci::kestra();
    let ws = gitlab_ci::checkout();
    fake.state.lock().unwrap().labels = vec!["bug".into(), NO_CHANGES.into()];
    let vars = |extra: &[(&str, &str)]| {
        let mut all = vec![("GITLAB_TOKEN", TOKEN), ("KESTRA_SYNC_LABELS", "true")];
        all.extend_from_slice(extra);
        with(
            pipeline(&gitlab, &emu, &ws, "merge_request_event", "acme/flows"),
            &all,
        )
    };

    // 1 to add, 1 to update: changes; no-changes removed, `bug` untouched.
    let j = job(&ws, vars(&[])).await;
    assert_eq!(j.code, 0, "{}", j.log());
    let puts = fake.state.lock().unwrap().mr_puts.clone();
    assert_eq!(
        puts,
        [serde_json::json!({"add_labels": CHANGES, "remove_labels": NO_CHANGES})]
    );
    assert_eq!(fake.state.lock().unwrap().labels, ["bug", CHANGES]);

    // The same plan: read, nothing written.
    let j = job(&ws, vars(&[])).await;
    assert_eq!(j.code, 0, "{}", j.log());
    assert_eq!(fake.state.lock().unwrap().mr_puts.len(), 1);

    // A delete: deletes replaces changes.
    ws.remove("steady.yml");
    let j = job(&ws, vars(&[("KESTRA_SYNC_DELETE", "true")])).await;
    assert_eq!(j.code, 0, "{}", j.log());
    let puts = fake.state.lock().unwrap().mr_puts.clone();
    assert_eq!(
        puts[1],
        serde_json::json!({"add_labels": DELETES, "remove_labels": CHANGES})
    );
    assert_eq!(fake.state.lock().unwrap().labels, ["bug", DELETES]);
    assert_eq!(
        mr_calls(&gitlab, "acme%2Fflows").await,
        [
            "GET", "PUT", // changes
            "GET", // already right
            "GET", // a new delete: the short "riskier" note links to the plan (web_url)
            "GET", "PUT", // deletes
        ]
        .map(|m| format!("{m} /api/v4/projects/acme%2Fflows/merge_requests/{IID}"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_without_a_token_or_with_labels_off_never_touches_the_merge_request() {
    let fake = FakeGitLab::new("77", IID);
    let gitlab = fake.start().await;
    let emu = gitlab_ci::kestra();
    let ws = gitlab_ci::checkout();
    let base = pipeline(&gitlab, &emu, &ws, "merge_request_event", "77");

    // Only CI_JOB_TOKEN: one warning saying so and what to do; the job passes.
    let j = job(&ws, with(base.clone(), &[("KESTRA_SYNC_LABELS", "true")])).await;
    assert_eq!(j.code, 0, "{}", j.log());
    let log = j.log();
    assert_eq!(log.matches("labels not set").count(), 1, "{log}");
    assert!(
        log.contains("warning: merge request labels not set: only CI_JOB_TOKEN is available"),
        "{log}"
    );
    assert!(
        log.contains("set GITLAB_TOKEN to a project access token with the `api` scope and at least the Developer role"),
        "{log}"
    );

    // A token, labels off (the default): the merge request is never read or written.
    let j = job(&ws, with(base, &[("GITLAB_TOKEN", TOKEN)])).await;
    assert_eq!(j.code, 0, "{}", j.log());
    assert_eq!(mr_calls(&gitlab, "77").await, Vec::<String>::new());
    assert!(fake.state.lock().unwrap().mr_puts.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_github_error_on_a_label_write_is_one_warning_and_the_job_passes() {
    use wiremock::matchers::{method, path};
    let gh = FakeGithub::start("").await;
    // GitHub fails the add, whatever the token may do
    wiremock::Mock::given(method("POST"))
        .and(path(format!("/repos/{REPO}/issues/{PR}/labels")))
        .respond_with(
            wiremock::ResponseTemplate::new(500)
                .set_body_json(serde_json::json!({"message": "Server Error"})),
        )
        .with_priority(1)
        .mount(&gh.api)
        .await;
    let emu = kestra();
    let ws = unchanged();
    let s = step(
        &gh,
        &ws,
        "pull_request",
        pr_payload(false),
        inputs(&emu, BOT_TOKEN, &[("labels", "true")]),
    )
    .await;
    ok(&s);
    let warnings: Vec<&str> = s
        .stdout
        .lines()
        .filter(|l| l.contains("labels"))
        .filter(|l| l.starts_with("::warning::"))
        .collect();
    assert_eq!(
        warnings,
        [format!("::warning::could not set the pull request labels: GitHub answered 500 to POST /repos/{REPO}/issues/{PR}/labels: Server Error")],
        "{}",
        s.stdout
    );
    // a write is never retried: one POST
    assert_eq!(
        label_writes(&gh).await,
        [format!("POST /repos/{REPO}/issues/{PR}/labels")]
    );
    assert_eq!(
        gh.comments(REPO, PR).len(),
        1,
        "the comment is posted all the same"
    );
    gh.check().await;
}
