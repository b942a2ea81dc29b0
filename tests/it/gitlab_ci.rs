//! GitLab CI end to end: the built binary run as a GitLab job runs `kestra-sync ci` (GitLab's
//! predefined variables: `GITLAB_CI`, `CI_PIPELINE_SOURCE`, `CI_API_V4_URL` pointing at a fake
//! GitLab, `CI_PROJECT_ID` as a number or a `group/project` path, `CI_MERGE_REQUEST_IID`,
//! `CI_PROJECT_DIR` as the checkout, `CI_DEFAULT_BRANCH`, `CI_COMMIT_BRANCH`; the user's
//! CI/CD variables `GITLAB_TOKEN` and `KESTRA_*`), against the Kestra emulator. Every run is
//! checked for leaked secrets.

use crate::common;
use crate::gitlab_support;

use common::{Emulator, Workspace, PASSWORD, USER};
use gitlab_support::{FakeGitLab, BOT, READ_ONLY_TOKEN, TOKEN};
use wiremock::MockServer;

pub(crate) const IID: u64 = 42;
pub(crate) const MARKER_PREFIX: &str = "<!-- kestra-sync:plan target=prod@127.0.0.1:";
const HEAD_SHA: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";

pub(crate) fn flow(id: &str, message: &str) -> String {
    format!(
        "id: {id}\nnamespace: prod\n\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: \"{message}\"\n"
    )
}

/// Kestra with two flows in `prod`.
pub(crate) fn kestra() -> Emulator {
    let emu = common::emulator();
    emu.seed_flow("main", &flow("cleanup_tmp", "v1"));
    emu.seed_flow("main", &flow("steady", "same"));
    emu
}

/// A checkout: `cleanup_tmp` changed, `steady` the same, `ingest_orders` new.
pub(crate) fn checkout() -> Workspace {
    let ws = Workspace::new();
    ws.write("cleanup_tmp.yml", flow("cleanup_tmp", "v2"));
    ws.write("steady.yml", flow("steady", "same"));
    ws.write("ingest_orders.yml", flow("ingest_orders", "hi"));
    ws
}

/// What one job run left behind.
pub(crate) struct Job {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Job {
    pub(crate) fn log(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// The variables GitLab sets for a pipeline of `source` on project `project`.
pub(crate) fn pipeline(
    gitlab: &MockServer,
    emu: &Emulator,
    ws: &Workspace,
    source: &str,
    project: &str,
) -> Vec<(String, String)> {
    let mut vars = vec![
        ("GITLAB_CI", "true".to_string()),
        ("CI", "true".into()),
        ("CI_PIPELINE_SOURCE", source.into()),
        ("CI_API_V4_URL", format!("{}/api/v4", gitlab.uri())),
        ("CI_PROJECT_ID", project.into()),
        ("CI_PROJECT_DIR", ws.path().display().to_string()),
        ("CI_DEFAULT_BRANCH", "main".into()),
        ("CI_COMMIT_SHA", "f".repeat(40)),
        (
            "CI_JOB_URL",
            "https://gitlab.example.com/acme/flows/-/jobs/77".into(),
        ),
        ("CI_JOB_TOKEN", "glcbt-jobtoken-ABCDEF".into()),
        // The user's CI/CD variables.
        ("KESTRA_URL", emu.url()),
        ("KESTRA_USERNAME", USER.into()),
        ("KESTRA_PASSWORD", PASSWORD.into()),
        ("KESTRA_SYNC_TARGET_NAMESPACE", "prod".into()),
        ("KESTRA_SYNC_RETRIES", "1".into()),
        ("KESTRA_SYNC_TIMEOUT", "10".into()),
        ("NO_COLOR", "1".into()),
    ];
    if source == "merge_request_event" {
        vars.push(("CI_MERGE_REQUEST_IID", IID.to_string()));
        vars.push(("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", HEAD_SHA.into()));
        vars.push(("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main".into()));
    }
    vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

pub(crate) fn with(
    mut vars: Vec<(String, String)>,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    for (k, v) in extra {
        vars.retain(|(n, _)| n != k);
        vars.push((k.to_string(), v.to_string()));
    }
    vars
}

fn without(mut vars: Vec<(String, String)>, names: &[&str]) -> Vec<(String, String)> {
    vars.retain(|(n, _)| !names.contains(&n.as_str()));
    vars
}

/// Run `kestra-sync ci` as a GitLab job's `script:` would, from the checkout, in a blocking
/// thread (the fake GitLab keeps serving). No secret may appear in the log.
pub(crate) async fn job(ws: &Workspace, vars: Vec<(String, String)>) -> Job {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kestra-sync"));
    cmd.arg("ci")
        .current_dir(ws.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(vars);
    let output = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    let job = Job {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    for secret in [TOKEN, READ_ONLY_TOKEN, PASSWORD, "glcbt-jobtoken-ABCDEF"] {
        assert!(
            !job.log().contains(secret),
            "a secret leaked in the log:\n{}",
            job.log()
        );
    }
    job
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_request_plan_is_one_note_updated_in_place() {
    // CI_PROJECT_ID as a path: it must arrive URL-encoded.
    let fake = FakeGitLab::new("acme%2Fflows", IID);
    let gitlab = fake.start().await;
    let emu = kestra();
    let ws = checkout();
    let vars = || {
        with(
            pipeline(&gitlab, &emu, &ws, "merge_request_event", "acme/flows"),
            &[("GITLAB_TOKEN", TOKEN)],
        )
    };

    // First run: one note.
    let j = job(&ws, vars()).await;
    assert_eq!(j.code, 0, "{}", j.log());
    let notes = fake.notes_of(BOT);
    assert_eq!(notes.len(), 1, "{notes:?}");
    let id = notes[0]["id"].as_u64().unwrap();
    let body = notes[0]["body"].as_str().unwrap().to_string();
    assert!(body.starts_with(MARKER_PREFIX), "{body}");
    assert!(
        body.contains(": changes: 1 to add, 1 to update, 0 to delete"),
        "{body}"
    );
    assert!(body.contains("commit 6dcb09b"), "the MR head: {body}");
    // what merging does, into the MR's target branch (CI_MERGE_REQUEST_TARGET_BRANCH_NAME)
    let host = emu
        .url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    assert!(
        body.contains(&format!("Merging into `main` applies this to **{host}**.")),
        "{body}"
    );
    assert!(
        body.contains("[job log](<https://gitlab.example.com/acme/flows/-/jobs/77>)"),
        "{body}"
    );
    assert_eq!(fake.writes(), [format!("POST {id}")]);
    // The log: the plan, in a collapsible section; the plan file for artifacts.
    assert!(
        j.stdout.contains("section_start:")
            && j.stdout
                .contains("kestra-sync: plan for `prod` (merge_request_event)"),
        "{}",
        j.stdout
    );
    assert!(
        j.stdout.contains("1 to add, 1 to update, 0 to delete"),
        "{}",
        j.stdout
    );
    assert!(
        j.stdout
            .contains("note: JSON plan written to `kestra-sync-plan-prod.json`"),
        "{}",
        j.stdout
    );
    let plan: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ws.path().join("kestra-sync-plan-prod.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(plan["summary"]["added"], 1);
    assert_eq!(plan["summary"]["updated"], 1);
    assert_eq!(emu.write_count(), 0, "a merge request never applies");

    // Second run, a flow changed: the same note is edited.
    ws.write("steady.yml", flow("steady", "changed"));
    let j = job(&ws, vars()).await;
    assert_eq!(j.code, 0, "{}", j.log());
    let notes = fake.notes_of(BOT);
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["id"], id);
    assert!(
        notes[0]["body"]
            .as_str()
            .unwrap()
            .contains("1 to add, 2 to update"),
        "{}",
        notes[0]["body"]
    );
    assert_eq!(fake.writes(), [format!("POST {id}"), format!("PUT {id}")]);

    // Third run, nothing changed: no write.
    let j = job(&ws, vars()).await;
    assert_eq!(j.code, 0, "{}", j.log());
    assert_eq!(fake.writes(), [format!("POST {id}"), format!("PUT {id}")]);
    assert_eq!(fake.notes_of(BOT).len(), 1);
    assert_eq!(emu.write_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_numeric_project_id_and_a_chosen_plan_file() {
    let fake = FakeGitLab::new("4242", IID);
    let gitlab = fake.start().await;
    let emu = kestra();
    let ws = checkout();
    let vars = with(
        pipeline(&gitlab, &emu, &ws, "merge_request_event", "4242"),
        &[
            ("GITLAB_TOKEN", TOKEN),
            ("KESTRA_SYNC_PLAN_FILE", "kestra-plan.json"),
        ],
    );
    let j = job(&ws, vars).await;
    assert_eq!(j.code, 0, "{}", j.log());
    assert_eq!(fake.notes_of(BOT).len(), 1);
    let post = gitlab
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.method.as_str() == "POST")
        .unwrap();
    assert_eq!(
        post.url.path(),
        format!("/api/v4/projects/4242/merge_requests/{IID}/notes")
    );
    assert!(ws.path().join("kestra-plan.json").is_file());
    assert!(!ws.path().join("kestra-sync-plan-prod.json").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_the_job_warns_how_to_make_one_and_passes() {
    let fake = FakeGitLab::new("4242", IID);
    let gitlab = fake.start().await;
    let emu = kestra();
    let ws = checkout();

    // Only the job token, as in any job without GITLAB_TOKEN.
    let j = job(
        &ws,
        pipeline(&gitlab, &emu, &ws, "merge_request_event", "4242"),
    )
    .await;
    assert_eq!(j.code, 0, "{}", j.log());
    let warning = j
        .stdout
        .lines()
        .find(|l| l.starts_with("warning: plan note skipped: "))
        .unwrap_or_else(|| panic!("{}", j.stdout));
    for part in [
        "only CI_JOB_TOKEN is available (GITLAB_TOKEN is not set)",
        "CI_JOB_TOKEN can only read notes",
        "create a project access token",
        "the `api` scope",
        "GITLAB_TOKEN, masked but not protected",
    ] {
        assert!(warning.contains(part), "{part}: {warning}");
    }
    assert!(
        j.stdout.contains("1 to add, 1 to update"),
        "the plan is still in the log"
    );

    // Nothing at all (an empty GITLAB_TOKEN is unset).
    let vars = with(
        without(
            pipeline(&gitlab, &emu, &ws, "merge_request_event", "4242"),
            &["CI_JOB_TOKEN"],
        ),
        &[("GITLAB_TOKEN", "")],
    );
    let j = job(&ws, vars).await;
    assert_eq!(j.code, 0, "{}", j.log());
    assert!(
        j.stdout.contains(
            "warning: plan note skipped: no GitLab token (GITLAB_TOKEN is not set): CI_JOB_TOKEN can only read notes"
        ),
        "{}",
        j.stdout
    );
    assert!(
        gitlab.received_requests().await.unwrap().is_empty(),
        "no token, no request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_token_warns_and_passes() {
    let fake = FakeGitLab::new("acme%2Fflows", IID);
    let gitlab = fake.start().await;
    let emu = kestra();
    let ws = checkout();
    let vars = with(
        pipeline(&gitlab, &emu, &ws, "merge_request_event", "acme/flows"),
        &[("GITLAB_TOKEN", READ_ONLY_TOKEN)],
    );
    let j = job(&ws, vars).await;
    assert_eq!(j.code, 0, "{}", j.log());
    assert!(
        j.stdout.contains(&format!(
            "warning: plan note skipped: the token cannot post notes (GitLab answered 403 to POST {}/api/v4/projects/acme%2Fflows/merge_requests/{IID}/notes: 403 Forbidden): CI_JOB_TOKEN can only read notes; create a project access token",
            gitlab.uri()
        )),
        "{}",
        j.stdout
    );
    assert!(fake.notes_of(BOT).is_empty());

    // A revoked token: 401 at the first request, the same kind of warning.
    let vars = with(
        pipeline(&gitlab, &emu, &ws, "merge_request_event", "acme/flows"),
        &[("GITLAB_TOKEN", "glpat-revoked-0000")],
    );
    let j = job(&ws, vars).await;
    assert_eq!(j.code, 0, "{}", j.log());
    assert!(
        j.stdout.contains(
            "warning: plan note skipped: the token cannot post notes (GitLab answered 401 to GET"
        ),
        "{}",
        j.stdout
    );
    assert!(!j.log().contains("glpat-revoked-0000"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_to_the_default_branch_applies_elsewhere_only_plans() {
    let fake = FakeGitLab::new("4242", IID);
    let gitlab = fake.start().await;
    let emu = kestra();
    let ws = checkout();

    // A push to another branch: plan only.
    let vars = with(
        pipeline(&gitlab, &emu, &ws, "push", "4242"),
        &[("CI_COMMIT_BRANCH", "feature"), ("GITLAB_TOKEN", TOKEN)],
    );
    let j = job(&ws, vars).await;
    assert_eq!(j.code, 0, "{}", j.log());
    assert_eq!(emu.write_count(), 0);
    assert!(
        j.stdout
            .contains("note: `feature` is not the deployed branch `main`"),
        "{}",
        j.stdout
    );

    // Dry run on the default branch: nothing written, and it says so.
    let vars = with(
        pipeline(&gitlab, &emu, &ws, "push", "4242"),
        &[
            ("CI_COMMIT_BRANCH", "main"),
            ("KESTRA_SYNC_DRY_RUN", "true"),
        ],
    );
    let j = job(&ws, vars).await;
    assert_eq!(j.code, 0, "{}", j.log());
    assert_eq!(emu.write_count(), 0);
    assert!(
        j.stdout
            .contains("`KESTRA_SYNC_DRY_RUN` is on: nothing written"),
        "{}",
        j.stdout
    );

    // The default branch: applied.
    let vars = with(
        pipeline(&gitlab, &emu, &ws, "push", "4242"),
        &[("CI_COMMIT_BRANCH", "main"), ("GITLAB_TOKEN", TOKEN)],
    );
    let j = job(&ws, vars).await;
    assert_eq!(j.code, 0, "{}", j.log());
    let live: Vec<(String, String)> = emu
        .flows("main")
        .into_iter()
        .map(|f| (f.id, f.source))
        .collect();
    assert_eq!(live.len(), 3, "{live:?}");
    assert!(
        live.iter()
            .any(|(id, src)| id == "cleanup_tmp" && src.contains("\"v2\"")),
        "{live:?}"
    );
    assert!(live.iter().any(|(id, _)| id == "ingest_orders"));
    assert!(
        j.stdout.contains("kestra-sync: apply to `prod`"),
        "{}",
        j.stdout
    );
    // the plan lock's one look-up: which merge request this commit merged (none here)
    assert!(
        gitlab
            .received_requests()
            .await
            .unwrap()
            .iter()
            .all(|r| r.method.as_str() == "GET"
                && r.url.path().ends_with(&format!(
                    "/repository/commits/{}/merge_requests",
                    "f".repeat(40)
                ))),
        "a push only asks which merge request it merged"
    );

    // A deployed branch chosen with KESTRA_SYNC_DEPLOY_BRANCH: `release` applies, `main` does not.
    ws.write("steady.yml", flow("steady", "release"));
    let writes = emu.write_count();
    let vars = with(
        pipeline(&gitlab, &emu, &ws, "push", "4242"),
        &[
            ("CI_COMMIT_BRANCH", "main"),
            ("KESTRA_SYNC_DEPLOY_BRANCH", "release"),
        ],
    );
    let j = job(&ws, vars).await;
    assert_eq!(j.code, 0, "{}", j.log());
    assert_eq!(emu.write_count(), writes);
    let vars = with(
        pipeline(&gitlab, &emu, &ws, "web", "4242"),
        &[
            ("CI_COMMIT_BRANCH", "release"),
            ("KESTRA_SYNC_DEPLOY_BRANCH", "release"),
        ],
    );
    let j = job(&ws, vars).await;
    assert_eq!(j.code, 0, "{}", j.log());
    assert!(emu
        .flows("main")
        .iter()
        .any(|f| f.id == "steady" && f.source.contains("\"release\"")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_reports_drift_and_fails_only_when_asked() {
    let fake = FakeGitLab::new("4242", IID);
    let gitlab = fake.start().await;
    let emu = kestra();
    let ws = checkout();
    let schedule = || {
        with(
            pipeline(&gitlab, &emu, &ws, "schedule", "4242"),
            &[("CI_COMMIT_BRANCH", "main")],
        )
    };

    let j = job(&ws, schedule()).await;
    assert_eq!(j.code, 0, "{}", j.log());
    assert!(
        j.stdout.contains(
            "warning: drift: the flows of `prod` on the server differ from Git (set `KESTRA_SYNC_FAIL_ON_DRIFT` to fail on drift)"
        ),
        "{}",
        j.stdout
    );

    let j = job(
        &ws,
        with(schedule(), &[("KESTRA_SYNC_FAIL_ON_DRIFT", "true")]),
    )
    .await;
    assert_eq!(j.code, 1, "{}", j.log());
    assert!(
        j.stdout.contains(
            "error: Drift: the flows of `prod` on the server differ from Git, and `KESTRA_SYNC_FAIL_ON_DRIFT` is on: failing"
        ),
        "{}",
        j.stdout
    );
    assert_eq!(emu.write_count(), 0, "a drift check never writes");

    // No drift: passes even with fail-on-drift.
    ws.write("cleanup_tmp.yml", flow("cleanup_tmp", "v1"));
    ws.remove("ingest_orders.yml");
    let j = job(
        &ws,
        with(schedule(), &[("KESTRA_SYNC_FAIL_ON_DRIFT", "true")]),
    )
    .await;
    assert_eq!(j.code, 0, "{}", j.log());
    assert!(
        j.stdout
            .contains("note: no drift: the flows of `prod` on the server match Git"),
        "{}",
        j.stdout
    );
    assert!(gitlab.received_requests().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_flow_is_a_file_line_message() {
    let fake = FakeGitLab::new("4242", IID);
    let gitlab = fake.start().await;
    let emu = kestra();
    let ws = checkout();
    ws.write("bad.yml", "namespace: prod\ntasks: []\n");
    let vars = with(
        pipeline(&gitlab, &emu, &ws, "merge_request_event", "4242"),
        &[("GITLAB_TOKEN", TOKEN)],
    );
    let j = job(&ws, vars).await;
    assert_eq!(j.code, 1, "{}", j.log());
    // Every problem, one `file:line: message` line each.
    let lines: Vec<&str> = j
        .stdout
        .lines()
        .filter(|l| l.starts_with("_flows/bad.yml"))
        .collect();
    assert_eq!(
        lines,
        [
            "_flows/bad.yml: no top-level `id`: a flow needs one, e.g. `id: my_flow`",
            "_flows/bad.yml:2: `tasks` is an empty list: a flow needs at least one task"
        ],
        "{}",
        j.stdout
    );
    assert!(
        j.stdout
            .contains("error: 2 problem(s) in flow files: fix them and run again"),
        "{}",
        j.stdout
    );
    // The note says the plan failed (issue 11: never a stale plan), with each problem.
    assert_eq!(fake.writes().len(), 1, "one note: {:?}", fake.writes());
    let notes = fake.notes_of(BOT);
    let body = notes[0]["body"].as_str().unwrap();
    assert!(body.contains(": failed\n"), "{body}");
    // GitLab's word for it
    assert!(
        body.contains("The previous plan in this note no longer holds"),
        "{body}"
    );
    assert!(body.contains("- `_flows/bad.yml:2`: "), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_a_known_pipeline_source_the_job_is_told_why() {
    let fake = FakeGitLab::new("4242", IID);
    let gitlab = fake.start().await;
    let emu = kestra();
    let ws = checkout();
    let vars = with(
        pipeline(&gitlab, &emu, &ws, "trigger", "4242"),
        &[("CI_COMMIT_BRANCH", "main")],
    );
    let j = job(&ws, vars).await;
    assert_eq!(j.code, 0, "{}", j.log());
    assert!(
        j.stdout
            .contains("note: the `trigger` pipeline source only plans"),
        "{}",
        j.stdout
    );
    assert_eq!(emu.write_count(), 0);

    let vars = without(
        pipeline(&gitlab, &emu, &ws, "push", "4242"),
        &["CI_PIPELINE_SOURCE"],
    );
    let j = job(&ws, vars).await;
    assert_eq!(j.code, 1, "{}", j.log());
    assert!(
        j.stdout.contains("error: CI_PIPELINE_SOURCE is not set"),
        "{}",
        j.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_pipeline_without_secrets_checks_locally_and_passes() {
    let fake = FakeGitLab::new("100", IID);
    let gitlab = fake.start().await;
    let emu = kestra();
    let ws = checkout();
    // GitLab runs it in the fork's project (900): none of the parent's CI/CD variables.
    let vars = with(
        without(
            pipeline(&gitlab, &emu, &ws, "merge_request_event", "900"),
            &["KESTRA_PASSWORD"],
        ),
        &[
            ("CI_MERGE_REQUEST_PROJECT_ID", "100"),
            ("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "900"),
        ],
    );
    let j = job(&ws, vars).await;
    assert_eq!(j.code, 0, "{}", j.log());
    assert!(
        j.stdout
            .contains("warning: fork merge request: the plan against the server was skipped"),
        "{}",
        j.stdout
    );
    assert!(
        j.stdout
            .contains("The 3 flow file(s) passed the local checks"),
        "{}",
        j.stdout
    );
    assert!(gitlab.received_requests().await.unwrap().is_empty());
    assert_eq!(emu.write_count(), 0);

    // A broken file still fails the fork's pipeline.
    ws.write("bad.yml", "id: bad\nnamespace: prod\ntasks: []\n");
    let vars = with(
        without(
            pipeline(&gitlab, &emu, &ws, "merge_request_event", "900"),
            &["KESTRA_PASSWORD"],
        ),
        &[
            ("CI_MERGE_REQUEST_PROJECT_ID", "100"),
            ("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "900"),
        ],
    );
    let j = job(&ws, vars).await;
    assert_eq!(j.code, 1, "{}", j.log());
    assert!(j.stdout.contains("_flows/bad.yml:3: "), "{}", j.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_out_of_reach_is_a_warning_not_a_failure() {
    let emu = kestra();
    let ws = checkout();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gitlab = MockServer::start().await;
    let vars = with(
        pipeline(&gitlab, &emu, &ws, "merge_request_event", "4242"),
        &[
            ("GITLAB_TOKEN", TOKEN),
            ("CI_API_V4_URL", &format!("http://127.0.0.1:{port}/api/v4")),
            ("KESTRA_SYNC_RETRIES", "0"),
        ],
    );
    let j = job(&ws, vars).await;
    assert_eq!(j.code, 0, "{}", j.log());
    assert!(
        j.stdout.contains(&format!(
            "warning: could not post the plan note: cannot reach GitLab at http://127.0.0.1:{port}/api/v4/user: "
        )),
        "{}",
        j.stdout
    );
    assert!(j.stdout.contains("1 to add, 1 to update"), "{}", j.stdout);
}

/// The seed's guard: a secret written as a literal in `.gitlab-ci.yml` `variables:` (global
/// or per job, plain or `value:` form) fails the job with the seed's message naming the
/// variable and line, never its value, and nothing is planned or written; a variable
/// reference (`$…`) passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_literal_secret_in_gitlab_ci_yml_fails_the_job() {
    let fake = FakeGitLab::new("4242", IID);
    let gitlab = fake.start().await;
    let emu = kestra();
    for (file, key, line) in [
        (
            format!("variables:\n  KESTRA_URL: https://k\n  KESTRA_PASSWORD: {PASSWORD}\nplan:\n  script: [kestra-sync ci]\n"),
            "KESTRA_PASSWORD",
            3,
        ),
        (
            "plan:\n  variables:\n    GITLAB_TOKEN:\n      value: glpat-literal-1234\n  script: [kestra-sync ci]\n".to_string(),
            "GITLAB_TOKEN",
            3,
        ),
        (
            "plan:\n  variables:\n    KESTRA_API_TOKEN: \"eyJ-literal\"\n".to_string(),
            "KESTRA_API_TOKEN",
            3,
        ),
    ] {
        let ws = checkout();
        std::fs::write(ws.path().join(".gitlab-ci.yml"), &file).unwrap();
        emu.reset_counts();
        let j = job(
            &ws,
            pipeline(&gitlab, &emu, &ws, "merge_request_event", "4242"),
        )
        .await;
        assert_eq!(j.code, 1, "{}", j.log());
        let said = format!("`{key}` (.gitlab-ci.yml line {line})");
        assert!(
            j.log().contains("It looks like you have hard-coded Kestra credentials")
                && j.log().contains(&said)
                && j.log().contains("masked CI/CD variable"),
            "{said}\n{}",
            j.log()
        );
        for value in ["glpat-literal-1234", "eyJ-literal"] {
            assert!(!j.log().contains(value), "{}", j.log());
        }
        assert_eq!(emu.write_count(), 0);
        assert_eq!(fake.writes(), Vec::<String>::new(), "no note written");
    }
    // references pass
    let ws = checkout();
    std::fs::write(
        ws.path().join(".gitlab-ci.yml"),
        "variables:\n  KESTRA_PASSWORD: $PROD_PASSWORD\n",
    )
    .unwrap();
    let j = job(
        &ws,
        pipeline(&gitlab, &emu, &ws, "merge_request_event", "4242"),
    )
    .await;
    assert_eq!(j.code, 0, "{}", j.log());
}

/// The plan lock on GitLab (issue 12): the merge request's note carries the lock; the push
/// pipeline that merged it (`GET /projects/:id/repository/commits/:sha/merge_requests`)
/// refuses when a flow of the plan moved on the server since the review, writes nothing and
/// posts one note; `KESTRA_SYNC_ON_STALE=warn` applies and says so; a direct push applies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_whose_reviewed_flow_moved_is_refused_with_one_note() {
    let fake = FakeGitLab::new("1234", IID);
    let gitlab = fake.start().await;
    let emu = kestra();
    let ws = checkout();
    let token = [("GITLAB_TOKEN", TOKEN)];
    let review = job(
        &ws,
        with(
            pipeline(&gitlab, &emu, &ws, "merge_request_event", "1234"),
            &token,
        ),
    )
    .await;
    assert_eq!(review.code, 0, "{}", review.log());
    let notes = fake.notes_of(BOT);
    assert_eq!(notes.len(), 1);
    let body = notes[0]["body"].as_str().unwrap().to_string();
    assert!(
        body.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("<!-- kestra-sync:lock v1 ")),
        "{body}"
    );

    // A direct push (GitLab knows no merge request for the commit): applied unlocked.
    let direct_ws = checkout();
    let emu_direct = kestra();
    let push = pipeline(&gitlab, &emu_direct, &direct_ws, "push", "1234");
    let push = with(
        push,
        &[("CI_COMMIT_BRANCH", "main"), ("GITLAB_TOKEN", TOKEN)],
    );
    let direct = job(&direct_ws, push).await;
    assert_eq!(direct.code, 0, "{}", direct.log());
    assert!(
        direct
            .log()
            .contains("This push merged no merge request (a direct push)"),
        "{}",
        direct.log()
    );

    // The merge: GitLab records it; someone edited cleanup_tmp in the UI meanwhile.
    fake.add_commit_mr(&"f".repeat(40), IID, true);
    emu.seed_flow("main", &flow("cleanup_tmp", "edited in the UI"));
    emu.reset_counts();
    let merge = with(
        pipeline(&gitlab, &emu, &ws, "push", "1234"),
        &[("CI_COMMIT_BRANCH", "main"), ("GITLAB_TOKEN", TOKEN)],
    );
    let refused = job(&ws, merge.clone()).await;
    assert_eq!(refused.code, 1, "{}", refused.log());
    assert_eq!(emu.write_count(), 0);
    assert!(
        refused.log().contains(
            "STALE prod/cleanup_tmp: revision 1 → 2 on the server since the reviewed plan"
        ),
        "{}",
        refused.log()
    );
    let stale: Vec<String> = fake
        .notes_of(BOT)
        .iter()
        .filter_map(|n| n["body"].as_str().map(String::from))
        .filter(|b| b.starts_with("<!-- kestra-sync:stale "))
        .collect();
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert!(
        stale[0].contains("refused: it is not the plan reviewed on !42")
            && stale[0].contains("`prod/cleanup_tmp`: revision 1 → 2"),
        "{}",
        stale[0]
    );

    // on-stale warn: applied, and said so
    let warned = job(&ws, with(merge, &[("KESTRA_SYNC_ON_STALE", "warn")])).await;
    assert_eq!(warned.code, 0, "{}", warned.log());
    assert!(emu.write_count() > 0);
    assert!(emu
        .flows("main")
        .iter()
        .any(|f| f.id == "cleanup_tmp" && f.source.contains("\"v2\"")),);
    let stale: Vec<String> = fake
        .notes_of(BOT)
        .iter()
        .filter_map(|n| n["body"].as_str().map(String::from))
        .filter(|b| b.starts_with("<!-- kestra-sync:stale "))
        .collect();
    assert_eq!(stale.len(), 1, "one note, updated in place");
    assert!(stale[0].contains("Applied anyway"), "{}", stale[0]);
}
