//! GitHub deployments of pull-request previews (issue 14, items 4 and 5): the real binary's
//! `preview apply` / `preview destroy` against the Kestra emulator and the fake GitHub,
//! every request checked against GitHub's OpenAPI description. A preview apply on GitHub
//! creates one deployment of the PR's head commit to the transient environment
//! `kestra-preview/pr-7` (with `required_contexts: []`, else GitHub answers 409 while the
//! PR's own check runs) and a `success` status linking the preview namespace in the Kestra
//! UI; a destroy marks the environment's deployments inactive; a token without
//! `deployments: write` leaves the preview applied with a warning naming the permission.
//! The same through `kestra-sync ci` with `preview: true` (review and `closed` runs), whose
//! Preview section says what became of the deployment.

use crate::common::{emulator, kestra_sync, stderr, stdout, Workspace};
use crate::github_support::{FakeGithub, BOT_TOKEN};

const HEAD: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
const MERGE: &str = "ffffffffffffffffffffffffffffffffffffffff";

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

/// The binary as a GitHub job for pull request 7 runs it (event payload with the PR's head).
fn on_github(
    emu: &kestra_emulator::Emulator,
    ws: &Workspace,
    gh: &FakeGithub,
    args: &[&str],
) -> assert_cmd::Command {
    let event = ws.path().join("event.json");
    std::fs::write(
        &event,
        serde_json::json!({
            "action": "synchronize",
            "number": 7,
            "pull_request": {
                "number": 7,
                "head": {"sha": HEAD, "ref": "feature", "repo": {"full_name": "acme/flows"}},
                "base": {"ref": "main"}
            },
            "repository": {"full_name": "acme/flows", "default_branch": "main"}
        })
        .to_string(),
    )
    .unwrap();
    let mut cmd = kestra_sync(emu, ws, "prod");
    cmd.env("GITHUB_ACTIONS", "true")
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_EVENT_PATH", &event)
        .env("GITHUB_REPOSITORY", "acme/flows")
        .env("GITHUB_SHA", MERGE)
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_RUN_ID", "42")
        .env("GITHUB_API_URL", gh.api_url())
        .env("GITHUB_TOKEN", BOT_TOKEN)
        .args(args);
    cmd
}

async fn run(mut cmd: assert_cmd::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn ui_link(emu: &kestra_emulator::Emulator, ns: &str) -> String {
    format!(
        "{}/ui/main/namespaces/edit/{ns}",
        emu.url().trim_end_matches('/')
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_creates_one_deployment_linking_the_preview_and_destroy_marks_it_inactive() {
    let gh = FakeGithub::start("").await;
    let emu = emulator();
    emu.seed_flow("main", &flow("prod", "live"));
    let ws = Workspace::new();
    ws.write("a.yml", flow("prod", "a"));

    let out = run(on_github(
        &emu,
        &ws,
        &gh,
        &["preview", "apply", "--number", "7"],
    ))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(live(&emu), ["prod-pr-7/a", "prod/live"]);
    let log = stdout(&out);
    assert!(
        log.contains(&format!(
            "Preview `prod-pr-7` in the Kestra UI: {}",
            ui_link(&emu, "prod-pr-7")
        )),
        "{log}"
    );
    assert!(log.contains("to `kestra-preview/pr-7`: success"), "{log}");

    let deployments = gh.deployments("acme/flows");
    assert_eq!(deployments.len(), 1, "{deployments:?}");
    let d = &deployments[0];
    let r = &d.request;
    assert_eq!(r["ref"], HEAD, "the PR's head, not the merge commit");
    assert_eq!(r["environment"], "kestra-preview/pr-7");
    assert_eq!(r["required_contexts"], serde_json::json!([]));
    assert_eq!(r["transient_environment"], true);
    assert_eq!(r["production_environment"], false);
    assert_eq!(r["auto_merge"], false);
    assert!(r["description"].as_str().unwrap().contains("prod-pr-7"));
    assert_eq!(d.statuses.len(), 1);
    let s = &d.statuses[0];
    assert_eq!(s["state"], "success");
    assert_eq!(s["environment_url"], ui_link(&emu, "prod-pr-7").as_str());
    assert_eq!(
        s["log_url"],
        "https://github.com/acme/flows/actions/runs/42"
    );
    assert_eq!(s["auto_inactive"], true);

    // a second push: a new deployment; GitHub makes the first one inactive
    let out = run(on_github(
        &emu,
        &ws,
        &gh,
        &["preview", "apply", "--number", "7"],
    ))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let deployments = gh.deployments("acme/flows");
    let states: Vec<_> = deployments.iter().map(|d| d.state()).collect();
    assert_eq!(states, [Some("inactive"), Some("success")]);

    // another PR's deployment is not touched by #7's destroy
    gh.state
        .lock()
        .unwrap()
        .deployments
        .push(crate::github_support::StoredDeployment {
            id: 1,
            repo: "acme/flows".into(),
            request: serde_json::json!({"ref": HEAD, "environment": "kestra-preview/pr-8"}),
            statuses: vec![serde_json::json!({"state": "success"})],
        });
    let out = run(on_github(
        &emu,
        &ws,
        &gh,
        &["preview", "destroy", "--number", "7"],
    ))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(live(&emu), ["prod/live"]);
    assert!(
        stdout(&out).contains("GitHub deployments of `kestra-preview/pr-7` marked inactive: 2"),
        "{}",
        stdout(&out)
    );
    let deployments = gh.deployments("acme/flows");
    let states: Vec<_> = deployments
        .iter()
        .map(|d| (d.environment().to_string(), d.state()))
        .collect();
    assert_eq!(
        states,
        [
            ("kestra-preview/pr-7".to_string(), Some("inactive")),
            ("kestra-preview/pr-7".to_string(), Some("inactive")),
            ("kestra-preview/pr-8".to_string(), Some("success")),
        ]
    );
    // and, after each, a look for the plan comment (there is none: nothing posted)
    let ops = gh.check().await;
    let look = ["users/get-authenticated", "issues/list-comments"];
    assert_eq!(
        ops,
        [
            &["repos/create-deployment", "repos/create-deployment-status"][..],
            &look,
            &["repos/create-deployment", "repos/create-deployment-status"],
            &look,
            &[
                "repos/list-deployments",
                "repos/create-deployment-status",
                "repos/create-deployment-status",
            ],
            &look,
        ]
        .concat()
    );
    assert!(gh.comments("acme/flows", 7).is_empty());
}

/// A job without `deployments: write`: the preview is applied and removed all the same,
/// exit 0, with a warning that names the permission.
#[tokio::test(flavor = "multi_thread")]
async fn a_token_without_deployments_write_skips_the_deployment_with_a_warning() {
    let gh = FakeGithub::start("").await;
    gh.state.lock().unwrap().deployments_forbidden = true;
    let emu = emulator();
    let ws = Workspace::new();
    ws.write("a.yml", flow("prod", "a"));
    let out = run(on_github(
        &emu,
        &ws,
        &gh,
        &["preview", "apply", "--number", "7"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(live(&emu), ["prod-pr-7/a"]);
    let err = stderr(&out);
    assert!(err.contains("deployments: write"), "{err}");
    assert!(
        err.contains("Resource not accessible by integration"),
        "{err}"
    );
    assert!(gh.deployments("acme/flows").is_empty());

    let out = run(on_github(
        &emu,
        &ws,
        &gh,
        &["preview", "destroy", "--number", "7"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(live(&emu).is_empty());
    assert!(
        stderr(&out).contains("deployments: write"),
        "{}",
        stderr(&out)
    );
    gh.check().await;
}

/// Any other failure to reach GitHub (here an API URL where nothing listens) is a warning
/// that never shows the token: the preview stands, exit 0.
#[tokio::test(flavor = "multi_thread")]
async fn a_github_failure_is_a_warning_never_a_failed_preview() {
    let gh = FakeGithub::start("").await;
    let emu = emulator();
    let ws = Workspace::new();
    ws.write("a.yml", flow("prod", "a"));
    let mut cmd = on_github(&emu, &ws, &gh, &["preview", "apply", "--number", "7"]);
    // nothing listens there
    cmd.env("GITHUB_API_URL", "http://127.0.0.1:9");
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(live(&emu), ["prod-pr-7/a"]);
    assert!(
        stderr(&out).contains("GitHub deployment failed (the preview stands)"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains(BOT_TOKEN));
}

fn ci_payload(action: &str) -> serde_json::Value {
    serde_json::json!({
        "action": action,
        "number": 7,
        "pull_request": {
            "number": 7,
            "merged": action == "closed",
            "head": {"ref": "change", "sha": HEAD, "repo": {"full_name": "acme/flows"}},
            "base": {"ref": "main", "repo": {"full_name": "acme/flows"}}
        },
        "repository": {"full_name": "acme/flows", "default_branch": "main"}
    })
}

/// `kestra-sync ci` with `preview: true`, as the runner runs the action: the review creates
/// the deployment (PR head, not the merge commit; run URL from GITHUB_RUN_ID) and the Preview
/// section says so; `closed` marks it inactive and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ci_review_deploys_and_the_closed_run_deactivates() {
    use crate::github_action::{inputs, step, Workspace as Checkout};
    let gh = FakeGithub::start("").await;
    let emu = kestra_emulator::Emulator::start_in_background(Default::default()).unwrap();
    let ws = Checkout::new(&[("a.yml", flow("prod", "a"))]);
    let with_preview = || inputs(&emu, BOT_TOKEN, &[("preview", "true")]);

    let s = step(
        &gh,
        &ws,
        "pull_request",
        ci_payload("opened"),
        with_preview(),
    )
    .await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    assert_eq!(live(&emu), ["prod-pr-7/a"]);
    let deployments = gh.deployments("acme/flows");
    assert_eq!(deployments.len(), 1, "{deployments:?}");
    let d = &deployments[0];
    assert_eq!(d.request["ref"], HEAD);
    assert_eq!(d.request["environment"], "kestra-preview/pr-7");
    assert_eq!(d.request["required_contexts"], serde_json::json!([]));
    assert_eq!(d.statuses[0]["state"], "success");
    assert_eq!(
        d.statuses[0]["environment_url"],
        ui_link(&emu, "prod-pr-7").as_str()
    );
    assert_eq!(
        d.statuses[0]["log_url"],
        "https://github.com/acme/flows/actions/runs/424242"
    );
    let body = gh.comments("acme/flows", 7)[0].body.clone();
    assert!(
        body.contains("GitHub deployment: `kestra-preview/pr-7`, active."),
        "{body}"
    );

    let s = step(
        &gh,
        &ws,
        "pull_request",
        ci_payload("closed"),
        with_preview(),
    )
    .await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    assert!(live(&emu).is_empty());
    assert_eq!(gh.deployments("acme/flows")[0].state(), Some("inactive"));
    let body = gh.comments("acme/flows", 7)[0].body.clone();
    assert!(
        body.contains("GitHub deployment: `kestra-preview/pr-7`, inactive."),
        "{body}"
    );
    gh.check().await;
}

/// The same review with a token that may not deploy: the preview is deployed, the job passes,
/// the log warns naming the permission and the Preview section says it was skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ci_review_without_deployments_write_says_skipped_in_the_comment() {
    use crate::github_action::{inputs, step, Workspace as Checkout};
    let gh = FakeGithub::start("").await;
    gh.state.lock().unwrap().deployments_forbidden = true;
    let emu = kestra_emulator::Emulator::start_in_background(Default::default()).unwrap();
    let ws = Checkout::new(&[("a.yml", flow("prod", "a"))]);
    let s = step(
        &gh,
        &ws,
        "pull_request",
        ci_payload("opened"),
        inputs(&emu, BOT_TOKEN, &[("preview", "true")]),
    )
    .await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    assert_eq!(live(&emu), ["prod-pr-7/a"]);
    let log = format!("{}{}", s.stdout, s.stderr);
    assert!(
        log.contains("::warning") && log.contains("deployments: write"),
        "{log}"
    );
    let body = gh.comments("acme/flows", 7)[0].body.clone();
    assert!(
        body.contains("GitHub deployment: skipped: token lacks `deployments: write`."),
        "{body}"
    );
    assert!(
        !body.contains("Resource not accessible"),
        "GitHub's words stay in the log: {body}"
    );
    gh.check().await;
}

/// GitHub Enterprise Server (`GITHUB_API_URL` = `https://HOST/api/v3`): the same operations
/// under the prefix, as GHES documents them (the extract checks they exist there too).
#[tokio::test(flavor = "multi_thread")]
async fn enterprise_server_gets_the_same_requests_under_api_v3() {
    let gh = FakeGithub::start("/api/v3").await;
    let emu = emulator();
    let ws = Workspace::new();
    ws.write("a.yml", flow("prod", "a"));
    let out = run(on_github(
        &emu,
        &ws,
        &gh,
        &["preview", "apply", "--number", "7"],
    ))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(on_github(
        &emu,
        &ws,
        &gh,
        &["preview", "destroy", "--number", "7"],
    ))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(gh.deployments("acme/flows")[0].state(), Some("inactive"));
    let calls = gh.calls().await;
    assert!(
        calls.iter().all(|(_, p)| p == "/api/v3/user"
            || p.starts_with("/api/v3/repos/acme/flows/deployments")
            || p.starts_with("/api/v3/repos/acme/flows/issues/7/comments")),
        "{calls:?}"
    );
    assert!(
        calls.contains(&(
            "GET".to_string(),
            "/api/v3/repos/acme/flows/deployments?environment=kestra-preview%2Fpr-7&per_page=100"
                .to_string()
        )),
        "{calls:?}"
    );
    assert_eq!(
        gh.check().await,
        [
            "repos/create-deployment",
            "repos/create-deployment-status",
            "users/get-authenticated",
            "issues/list-comments",
            "repos/list-deployments",
            "repos/create-deployment-status",
            "users/get-authenticated",
            "issues/list-comments",
        ]
    );
}

/// A long-lived pull request with more deployments than one page: destroy follows GitHub's
/// `Link` pages and marks every one inactive.
#[tokio::test(flavor = "multi_thread")]
async fn destroy_follows_the_pages_of_deployments() {
    let gh = FakeGithub::start("").await;
    for id in 1..=150u64 {
        gh.state
            .lock()
            .unwrap()
            .deployments
            .push(crate::github_support::StoredDeployment {
                id,
                repo: "acme/flows".into(),
                request: serde_json::json!({"ref": HEAD, "environment": "kestra-preview/pr-7"}),
                statuses: vec![serde_json::json!({"state": "success"})],
            });
    }
    let emu = emulator();
    let ws = Workspace::new();
    let out = run(on_github(
        &emu,
        &ws,
        &gh,
        &["preview", "destroy", "--number", "7"],
    ))
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("marked inactive: 150"),
        "{}",
        stdout(&out)
    );
    assert!(gh
        .deployments("acme/flows")
        .iter()
        .all(|d| d.state() == Some("inactive")));
    let ops = gh.check().await;
    assert_eq!(
        ops.iter()
            .filter(|o| *o == "repos/list-deployments")
            .count(),
        2
    );
}
