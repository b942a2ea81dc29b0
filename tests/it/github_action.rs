//! The GitHub action end to end: the built binary run as the runner runs a Docker action
//! (`ci` argument, event payload file, `INPUT_*` variables with `action.yml`'s defaults,
//! `GITHUB_OUTPUT` / `GITHUB_STEP_SUMMARY` files, `GITHUB_API_URL` pointing at a fake
//! GitHub), against the Kestra emulator. Every request to GitHub is validated against
//! GitHub's official OpenAPI description.

use crate::github_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use github_support::{FakeGithub, BOT_TOKEN, READ_ONLY_TOKEN};
use kestra_emulator::{Emulator, Options};

pub(crate) const REPO: &str = "acme/flows";
pub(crate) const PR: u64 = 7;
const MARKER_PREFIX: &str = "<!-- kestra-sync:plan target=prod@127.0.0.1:";

pub(crate) fn flow(id: &str, message: &str) -> String {
    format!(
        "id: {id}\nnamespace: prod\n\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: \"{message}\"\n"
    )
}

/// A checked-out repository with `_flows/`.
pub(crate) struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    pub(crate) fn new(files: &[(&str, String)]) -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let p = dir.path().join("_flows").join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        Workspace { dir }
    }
    pub(crate) fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join("_flows").join(name), text).unwrap();
    }
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// What one step run left behind.
pub(crate) struct Step {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) outputs: String,
    pub(crate) summary: String,
}

impl Step {
    fn output(&self, name: &str) -> Option<String> {
        self.outputs
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")).map(str::to_string))
    }
}

pub(crate) fn pr_payload(fork: bool) -> serde_json::Value {
    let head = if fork { "mallory/flows" } else { REPO };
    serde_json::json!({
        "action": "synchronize",
        "number": PR,
        "pull_request": {
            "number": PR,
            "head": {"ref": "change", "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e", "repo": {"full_name": head}},
            "base": {"ref": "main", "repo": {"full_name": REPO}}
        },
        "repository": {"full_name": REPO, "default_branch": "main"}
    })
}

pub(crate) fn push_payload(branch: &str) -> serde_json::Value {
    serde_json::json!({
        "ref": format!("refs/heads/{branch}"),
        "before": "1111111111111111111111111111111111111111",
        "after": "2222222222222222222222222222222222222222",
        "deleted": false,
        "repository": {"full_name": REPO, "default_branch": "main"}
    })
}

/// The inputs the runner passes: every input of action.yml with a default, then `inputs`.
pub(crate) fn runner_inputs(token: &str, inputs: &[(&str, &str)]) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/action.yml")).unwrap();
    let doc: serde_json::Value = serde_yaml_ng::from_str(&text).unwrap();
    let mut env = BTreeMap::new();
    for (name, spec) in doc["inputs"].as_object().unwrap() {
        let default = match &spec["default"] {
            serde_json::Value::String(s) => s.replace("${{ github.token }}", token),
            serde_json::Value::Null => continue,
            other => other.to_string(),
        };
        env.insert(format!("INPUT_{}", name.to_uppercase()), default);
    }
    for (k, v) in inputs {
        env.insert(format!("INPUT_{}", k.to_uppercase()), v.to_string());
    }
    env
}

/// Run `kestra-sync ci` as the runner would, in a blocking thread (the fakes keep serving).
pub(crate) async fn step(
    gh: &FakeGithub,
    ws: &Workspace,
    event: &str,
    payload: serde_json::Value,
    inputs: BTreeMap<String, String>,
) -> Step {
    let files = tempfile::tempdir().unwrap();
    let event_path = files.path().join("event.json");
    std::fs::write(&event_path, payload.to_string()).unwrap();
    let out: PathBuf = files.path().join("output");
    let summary: PathBuf = files.path().join("summary");
    std::fs::write(&out, "").unwrap();
    std::fs::write(&summary, "").unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kestra-sync"));
    cmd.arg("ci")
        .current_dir(ws.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GITHUB_ACTIONS", "true")
        .env("CI", "true")
        .env("GITHUB_EVENT_NAME", event)
        .env("GITHUB_EVENT_PATH", &event_path)
        .env("GITHUB_REPOSITORY", REPO)
        .env("GITHUB_SHA", "ffffffffffffffffffffffffffffffffffffffff")
        .env("GITHUB_REF", "refs/pull/7/merge")
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_API_URL", gh.api_url())
        .env("GITHUB_RUN_ID", "424242")
        .env("GITHUB_WORKSPACE", ws.path())
        .env("GITHUB_OUTPUT", &out)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .envs(inputs);
    let output = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    Step {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        outputs: std::fs::read_to_string(&out).unwrap(),
        summary: std::fs::read_to_string(&summary).unwrap(),
    }
}

pub(crate) fn kestra() -> Emulator {
    let emu = Emulator::start_in_background(Options::default()).unwrap();
    emu.seed_flow("main", &flow("cleanup_tmp", "v1"));
    emu.seed_flow("main", &flow("steady", "same"));
    emu
}

pub(crate) fn inputs(
    emu: &Emulator,
    token: &str,
    extra: &[(&str, &str)],
) -> BTreeMap<String, String> {
    let url = emu.url();
    let mut all = vec![("target-namespace", "prod"), ("kestra-url", url.as_str())];
    all.extend_from_slice(extra);
    runner_inputs(token, &all)
}

fn writes(calls: &[(String, String)]) -> Vec<String> {
    calls
        .iter()
        .filter(|(m, _)| m != "GET")
        .map(|(m, p)| format!("{m} {p}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_request_plan_is_one_comment_updated_in_place() {
    let gh = FakeGithub::start("").await;
    let emu = kestra();
    let ws = Workspace::new(&[
        ("cleanup_tmp.yml", flow("cleanup_tmp", "v2")),
        ("steady.yml", flow("steady", "same")),
        ("ingest_orders.yml", flow("ingest_orders", "hi")),
    ]);

    // First run: the plan becomes one comment.
    let s = step(
        &gh,
        &ws,
        "pull_request",
        pr_payload(false),
        inputs(&emu, BOT_TOKEN, &[]),
    )
    .await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    let comments = gh.comments(REPO, PR);
    assert_eq!(comments.len(), 1, "{comments:?}");
    let first = &comments[0];
    assert!(first.body.starts_with(MARKER_PREFIX), "{}", first.body);
    assert!(
        first
            .body
            .contains(": changes: 1 to add, 1 to update, 0 to delete"),
        "{}",
        first.body
    );
    assert!(
        first.body.contains("commit 6dcb09b"),
        "the PR head, not the merge commit: {}",
        first.body
    );
    assert_eq!(s.output("has-changes").as_deref(), Some("true"));
    assert_eq!(
        ["added", "updated", "unchanged", "deleted"].map(|k| s.output(k).unwrap_or_default()),
        ["1", "1", "1", "0"]
    );
    let plan_file = s.output("plan-file").unwrap();
    assert_eq!(plan_file, "kestra-sync-plan-prod.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path().join(&plan_file)).unwrap())
            .unwrap();
    assert_eq!(json["summary"]["added"], 1);
    assert!(
        s.summary
            .starts_with("### 📝 Kestra plan for `prod` on **127.0.0.1:"),
        "summary has no marker: {}",
        s.summary
    );
    assert!(
        s.stdout
            .contains("::group::kestra-sync: plan for `prod` (pull_request)"),
        "{}",
        s.stdout
    );
    assert_eq!(emu.write_count(), 0, "a pull request never applies");

    // Second run, a flow changed: the same comment is edited.
    ws.write("steady.yml", &flow("steady", "changed"));
    let s = step(
        &gh,
        &ws,
        "pull_request",
        pr_payload(false),
        inputs(&emu, BOT_TOKEN, &[]),
    )
    .await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    let comments = gh.comments(REPO, PR);
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].id, first.id);
    assert!(
        comments[0].body.contains("1 to add, 2 to update"),
        "{}",
        comments[0].body
    );

    // Third run, nothing changed: no write at all.
    let before = writes(&gh.calls().await);
    let s = step(
        &gh,
        &ws,
        "pull_request",
        pr_payload(false),
        inputs(&emu, BOT_TOKEN, &[]),
    )
    .await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    let after = writes(&gh.calls().await);
    assert_eq!(before, after, "the third run must not write");
    assert_eq!(
        after,
        vec![
            format!("POST /repos/{REPO}/issues/{PR}/comments"),
            format!("PATCH /repos/{REPO}/issues/comments/{}", first.id)
        ]
    );
    gh.check().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_to_the_default_branch_applies() {
    let gh = FakeGithub::start("").await;
    let emu = kestra();
    let ws = Workspace::new(&[
        ("cleanup_tmp.yml", flow("cleanup_tmp", "v2")),
        ("steady.yml", flow("steady", "same")),
        ("ingest_orders.yml", flow("ingest_orders", "hi")),
    ]);
    let s = step(
        &gh,
        &ws,
        "push",
        push_payload("main"),
        inputs(&emu, BOT_TOKEN, &[]),
    )
    .await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    let live: Vec<(String, String)> = emu
        .flows("main")
        .into_iter()
        .map(|f| (f.id, f.source))
        .collect();
    assert_eq!(live.len(), 3);
    assert!(
        live.iter()
            .any(|(id, src)| id == "cleanup_tmp" && src.contains("\"v2\"")),
        "{live:?}"
    );
    assert!(live.iter().any(|(id, _)| id == "ingest_orders"));
    assert!(
        s.summary
            .contains("### ✅ Kestra apply to `prod`: 1 added, 1 updated, 0 deleted"),
        "{}",
        s.summary
    );
    assert_eq!(s.output("has-changes").as_deref(), Some("true"));
    // a direct push: GitHub knows no pull request merged as this commit; applied unlocked
    assert_eq!(
        gh.calls().await,
        vec![(
            "GET".to_string(),
            "/repos/acme/flows/commits/ffffffffffffffffffffffffffffffffffffffff/pulls?per_page=100"
                .to_string()
        )],
    );
    assert!(
        s.summary
            .contains("This push merged no pull request (a direct push): applied as planned, without a plan lock."),
        "{}",
        s.summary
    );
    gh.check().await;

    // A push elsewhere only plans.
    ws.write("steady.yml", &flow("steady", "feature"));
    let writes_before = emu.write_count();
    let s = step(
        &gh,
        &ws,
        "push",
        push_payload("feature"),
        inputs(&emu, BOT_TOKEN, &[]),
    )
    .await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    assert_eq!(emu.write_count(), writes_before);
    assert!(
        s.stdout
            .contains("::notice::`refs/heads/feature` is not the deployed branch `main`"),
        "{}",
        s.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_token_warns_and_passes() {
    let gh = FakeGithub::start("").await;
    let emu = kestra();
    let ws = Workspace::new(&[("ingest_orders.yml", flow("ingest_orders", "hi"))]);
    let s = step(
        &gh,
        &ws,
        "pull_request",
        pr_payload(false),
        inputs(&emu, READ_ONLY_TOKEN, &[]),
    )
    .await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    assert!(
        s.stdout
            .contains("::warning::plan comment skipped: the token may not comment"),
        "{}",
        s.stdout
    );
    assert!(s.stdout.contains("Resource not accessible by integration"));
    assert!(
        s.summary.contains("> The plan comment was skipped"),
        "{}",
        s.summary
    );
    assert!(
        s.summary.contains("Kestra plan for `prod` on **127.0.0.1:"),
        "{}",
        s.summary
    );
    assert!(gh.comments(REPO, PR).is_empty());
    assert_eq!(s.output("added").as_deref(), Some("1"));
    gh.check().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_pull_request_without_secrets_checks_locally_and_passes() {
    let gh = FakeGithub::start("").await;
    let emu = kestra();
    let ws = Workspace::new(&[("ingest_orders.yml", flow("ingest_orders", "hi"))]);
    // Secrets are empty on a fork's pull request: the username arrives, the password not.
    let s = step(
        &gh,
        &ws,
        "pull_request",
        pr_payload(true),
        inputs(
            &emu,
            READ_ONLY_TOKEN,
            &[("kestra-username", "admin@kestra.io")],
        ),
    )
    .await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    assert!(
        s.stdout.contains("::warning::fork pull request"),
        "{}",
        s.stdout
    );
    assert!(s.summary.contains("skipped"), "{}", s.summary);
    assert!(
        gh.calls().await.is_empty(),
        "nothing is attempted with a fork's token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_masked_first_and_never_printed() {
    let gh = FakeGithub::start("").await;
    let emu = kestra();
    let ws = Workspace::new(&[("ingest_orders.yml", flow("ingest_orders", "hi"))]);
    let s = step(
        &gh,
        &ws,
        "pull_request",
        pr_payload(false),
        inputs(&emu, BOT_TOKEN, &[]),
    )
    .await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    let first = s.stdout.lines().next().unwrap_or_default();
    assert_eq!(first, format!("::add-mask::{BOT_TOKEN}"));
    assert_eq!(s.stdout.matches(BOT_TOKEN).count(), 1, "{}", s.stdout);
    assert!(!s.stderr.contains(BOT_TOKEN));
    assert!(!s.summary.contains(BOT_TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_fails_the_scheduled_run_only_when_asked() {
    let gh = FakeGithub::start("").await;
    let emu = kestra();
    let ws = Workspace::new(&[
        ("cleanup_tmp.yml", flow("cleanup_tmp", "v2")),
        ("steady.yml", flow("steady", "same")),
    ]);
    let schedule = serde_json::json!({"schedule": "0 3 * * *", "repository": {"full_name": REPO, "default_branch": "main"}});
    let s = step(
        &gh,
        &ws,
        "schedule",
        schedule.clone(),
        inputs(&emu, BOT_TOKEN, &[]),
    )
    .await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    assert!(
        s.summary
            .contains("**Drift check**: the server differs from Git."),
        "{}",
        s.summary
    );
    let s = step(
        &gh,
        &ws,
        "schedule",
        schedule,
        inputs(&emu, BOT_TOKEN, &[("fail-on-drift", "true")]),
    )
    .await;
    assert_eq!(s.code, 1, "{}\n{}", s.stdout, s.stderr);
    assert!(s.stdout.contains("::error title=Drift::"), "{}", s.stdout);
    assert_eq!(emu.write_count(), 0, "a drift check never writes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_flow_is_an_annotation_on_its_file() {
    let gh = FakeGithub::start("").await;
    let emu = kestra();
    let ws = Workspace::new(&[
        ("ok.yml", flow("ok", "x")),
        ("bad.yml", "namespace: prod\ntasks: []\n".to_string()),
    ]);
    let s = step(
        &gh,
        &ws,
        "pull_request",
        pr_payload(false),
        inputs(&emu, BOT_TOKEN, &[]),
    )
    .await;
    assert_eq!(s.code, 1, "{}\n{}", s.stdout, s.stderr);
    assert!(
        s.stdout.contains("::error file=_flows/bad.yml"),
        "{}",
        s.stdout
    );
    assert!(s.summary.contains("kestra-sync failed"), "{}", s.summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_github_plans_without_a_checkout() {
    let gh = FakeGithub::start("/api/v3").await;
    let emu = kestra();
    // The runner's workspace is empty: no actions/checkout.
    let ws = Workspace::new(&[]);
    let gz = {
        let enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut b = tar::Builder::new(enc);
        for (name, text) in [
            ("cleanup_tmp.yml", flow("cleanup_tmp", "v1")),
            ("new_one.yml", flow("new_one", "x")),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(text.len() as u64);
            h.set_mode(0o644);
            b.append_data(
                &mut h,
                format!("acme-flows-fffffff/_flows/{name}"),
                text.as_bytes(),
            )
            .unwrap();
        }
        b.into_inner().unwrap().finish().unwrap()
    };
    // GITHUB_SHA: for a pull request, the merge commit: what merging would deploy.
    gh.add_tarball(REPO, "ffffffffffffffffffffffffffffffffffffffff", gz);
    let s = step(
        &gh,
        &ws,
        "pull_request",
        pr_payload(false),
        inputs(&emu, BOT_TOKEN, &[("source", "github")]),
    )
    .await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    assert_eq!(s.output("added").as_deref(), Some("1"));
    assert_eq!(s.output("unchanged").as_deref(), Some("1"));
    let calls = gh.calls().await;
    assert_eq!(
        calls[0],
        (
            "GET".to_string(),
            format!("/api/v3/repos/{REPO}/tarball/ffffffffffffffffffffffffffffffffffffffff")
        )
    );
    assert_eq!(gh.comments(REPO, PR).len(), 1);
    gh.check().await;
}

/// Issue 11 item 3: the sticky comment is never stale. A push that breaks a flow file, or a
/// run that cannot reach the server, edits the same comment to say the plan failed, what
/// to do, and that the previous plan no longer holds; a server-refused flow fails the step
/// with the plan's ❌ title and the server's message at its line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_review_edits_the_same_comment_to_say_the_plan_failed() {
    let gh = FakeGithub::start("").await;
    let emu = kestra();
    let ws = Workspace::new(&[
        ("cleanup_tmp.yml", flow("cleanup_tmp", "v2")),
        ("steady.yml", flow("steady", "same")),
    ]);
    let run = |inputs| step(&gh, &ws, "pull_request", pr_payload(false), inputs);
    let s = run(inputs(&emu, BOT_TOKEN, &[("environment-name", "staging")])).await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    let first = gh.comments(REPO, PR);
    assert_eq!(first.len(), 1);
    // the title names the target and the server (as `environment-name` says), and what
    // merging does
    assert!(
        first[0].body.contains(
            "### 📝 Kestra plan for `prod` on **staging**: changes: 0 to add, 1 to update"
        ),
        "{}",
        first[0].body
    );
    assert!(first[0]
        .body
        .contains("Merging into `main` applies this to **staging**."));
    let id = first[0].id;

    // broken YAML: local problems at file:line
    ws.write("broken.yml", "id: broken\ntasks: [\n");
    let s = run(inputs(&emu, BOT_TOKEN, &[])).await;
    assert_eq!(s.code, 1, "{}", s.stdout);
    let now = sticky(&gh);
    assert_eq!(now.len(), 1, "the same comment, edited: {now:?}");
    assert_eq!(now[0].id, id);
    let body = &now[0].body;
    assert!(body.starts_with(MARKER_PREFIX), "{body}");
    assert!(body.contains(": failed\n"), "{body}");
    assert!(
        body.contains("The previous plan in this comment no longer holds"),
        "{body}"
    );
    assert!(
        body.contains("**What to do:** fix the flow files listed below"),
        "{body}"
    );
    assert!(body.contains("- `_flows/broken.yml:"), "{body}");

    std::fs::remove_file(ws.dir.path().join("_flows/broken.yml")).unwrap();
    // a flow the server refuses: the plan comment itself, failed, with the message and line
    ws.write(
        "bad.yml",
        "id: bad\nnamespace: prod\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Lgo\n",
    );
    let s = run(inputs(&emu, BOT_TOKEN, &[])).await;
    assert_eq!(s.code, 1, "{}", s.stdout);
    let now = sticky(&gh);
    assert_eq!(now.len(), 1);
    let body = &now[0].body;
    assert!(body.contains(": failed: apply would refuse it"), "{body}");
    assert!(body.contains("> [!CAUTION]"), "{body}");
    assert!(
        body.contains("- `_flows/bad.yml:4`: `tasks[0]: Invalid type:"),
        "{body}"
    );
    assert!(
        s.stdout.contains("::error file=_flows/bad.yml,line=4"),
        "{}",
        s.stdout
    );
    // the server out of reach (same URL, server gone): still the same comment, saying so
    std::fs::remove_file(ws.dir.path().join("_flows/bad.yml")).unwrap();
    let url = emu.url();
    drop(emu);
    let s = run(runner_inputs(
        BOT_TOKEN,
        &[("target-namespace", "prod"), ("kestra-url", url.as_str())],
    ))
    .await;
    assert_eq!(s.code, 1, "{}", s.stdout);
    let now = sticky(&gh);
    assert_eq!(now.len(), 1, "{now:?}");
    assert_eq!(now[0].id, id);
    assert!(now[0].body.contains(": failed\n"), "{}", now[0].body);
    assert!(
        now[0].body.contains("check that the Kestra server is up"),
        "{}",
        now[0].body
    );
    // changes → failed was riskier: one short new comment, once (failed → blocked → failed
    // are not)
    let all = gh.comments(REPO, PR);
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(
        all[1]
            .body
            .contains("**The plan now fails**: it could not be computed."),
        "{}",
        all[1].body
    );
}

/// The sticky plan comments on the pull request (the short "riskier" ones left out).
fn sticky(gh: &FakeGithub) -> Vec<github_support::StoredComment> {
    gh.comments(REPO, PR)
        .into_iter()
        .filter(|c| c.body.starts_with(MARKER_PREFIX))
        .collect()
}

/// The seed's guard: a secret input written as a literal in the calling workflow
/// (`GITHUB_WORKFLOW_REF`, read from the checkout) fails the step with the seed's message
/// adapted to GitHub, naming the input and line, never the value; nothing is planned,
/// commented or written. An expression passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_literal_secret_in_the_workflow_fails_the_step() {
    let gh = FakeGithub::start("").await;
    let emu = kestra();
    let workflow = |with: &str| {
        format!(
            "on: pull_request\njobs:\n  plan:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v5\n      - uses: kestra-sync/kestra-sync@v0\n        with:\n          target-namespace: prod\n{with}"
        )
    };
    for (with, key, line) in [
        (
            "          kestra-password: hunter2-literal\n",
            "kestra-password",
            10,
        ),
        (
            "          github-token: ghp_literal0000\n",
            "github-token",
            10,
        ),
        (
            "          kestra-api-token: 'tok-literal'\n",
            "kestra-api-token",
            10,
        ),
        ("          git-password: pw-literal\n", "git-password", 10),
    ] {
        let ws = Workspace::new(&[("steady.yml", flow("steady", "same"))]);
        let dir = ws.path().join(".github/workflows");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("plan.yml"), workflow(with)).unwrap();
        let mut env = inputs(&emu, BOT_TOKEN, &[]);
        env.insert(
            "GITHUB_WORKFLOW_REF".into(),
            format!("{REPO}/.github/workflows/plan.yml@refs/pull/7/merge"),
        );
        emu.reset_counts();
        let s = step(&gh, &ws, "pull_request", pr_payload(false), env).await;
        assert_eq!(s.code, 1, "{}\n{}", s.stdout, s.stderr);
        let said = format!("`{key}` (.github/workflows/plan.yml line {line})");
        let error = s
            .stdout
            .lines()
            .find(|l| l.starts_with("::error"))
            .unwrap_or_else(|| panic!("{}", s.stdout));
        assert!(
            error.contains("It looks like you have hard-coded Kestra credentials")
                && error.contains(&said)
                && error.contains("${{ secrets."),
            "{said}\n{error}"
        );
        for value in [
            "hunter2-literal",
            "ghp_literal0000",
            "tok-literal",
            "pw-literal",
        ] {
            assert!(!s.stdout.contains(value) && !s.stderr.contains(value));
        }
        assert_eq!(emu.write_count(), 0);
        assert!(gh.comments(REPO, PR).is_empty(), "no comment");
    }
    // an expression passes
    let ws = Workspace::new(&[("steady.yml", flow("steady", "same"))]);
    let dir = ws.path().join(".github/workflows");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("plan.yml"),
        workflow("          kestra-password: ${{ secrets.KESTRA_PASSWORD }}\n"),
    )
    .unwrap();
    let mut env = inputs(&emu, BOT_TOKEN, &[]);
    env.insert(
        "GITHUB_WORKFLOW_REF".into(),
        format!("{REPO}/.github/workflows/plan.yml@refs/pull/7/merge"),
    );
    let s = step(&gh, &ws, "pull_request", pr_payload(false), env).await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
}
