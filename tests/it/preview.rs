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

const PARENT: &str = "# the parent flow: calls a synced child and a live one
id: parent
namespace: dev
triggers:
  - id: nightly # every night
    type: io.kestra.plugin.core.trigger.Schedule
    cron: \"0 2 * * *\"
tasks:
  - id: child
    type: io.kestra.plugin.core.flow.Subflow
    namespace: prod.finance # synced by this run
    flowId: child
  - id: outside
    type: io.kestra.plugin.core.flow.Subflow
    namespace: prod
    flowId: not_in_git
";

const CHILD: &str = "id: child
namespace: dev
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: abc
    disabled: false
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hi
";

fn source_of(emu: &kestra_emulator::Emulator, ns: &str, id: &str) -> Option<String> {
    emu.flows("main")
        .into_iter()
        .find(|f| !f.deleted && f.namespace == ns && f.id == id)
        .map(|f| f.source)
}

fn seed_neighbours(emu: &kestra_emulator::Emulator) {
    for (ns, id) in [
        ("prod", "not_in_git"),
        ("prod-pr-8", "parent"),
        ("prod-pr-70", "parent"),
        ("prod-pr-7x", "parent"),
    ] {
        emu.seed_flow("main", &flow(ns, id));
    }
}

/// A PR's run: the preview holds the PR's flows, every trigger disabled and every comment
/// kept; the Subflow to a synced flow points into the preview, the one to an outside flow
/// does not; a second push mirrors the PR exactly; destroy removes the preview and nothing
/// else.
#[test]
fn preview_apply_mirrors_the_pr_and_destroy_removes_only_the_preview() {
    let emu = emulator();
    seed_neighbours(&emu);
    let ws = Workspace::new();
    ws.write("parent.yml", PARENT);
    ws.write("finance/child.yml", CHILD);
    let run = |args: &[&str]| {
        kestra_sync(&emu, &ws, "prod")
            .env("KESTRA_SYNC_INCLUDE_CHILD_NAMESPACES", "true")
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["preview", "apply", "--number", "7"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let log = crate::common::stdout(&out);
    assert!(
        log.contains("Preview `prod-pr-7`: 2 flow(s), 2 trigger(s) disabled"),
        "{log}"
    );
    assert!(
        log.contains("_flows/parent.yml:15: calls the live flow prod/not_in_git"),
        "{log}"
    );

    let parent = source_of(&emu, "prod-pr-7", "parent").expect("preview parent");
    let expected = PARENT
        .replace("namespace: dev", "namespace: prod-pr-7")
        .replace("  - id: nightly", "  - disabled: true\n    id: nightly")
        .replace(
            "namespace: prod.finance # synced",
            "namespace: prod-pr-7.finance # synced",
        );
    assert_eq!(parent, expected);
    let child = source_of(&emu, "prod-pr-7.finance", "child").expect("preview child");
    assert_eq!(
        child,
        CHILD
            .replace("namespace: dev", "namespace: prod-pr-7.finance")
            .replace("disabled: false", "disabled: true")
    );

    // second push: the child is gone from the PR, the parent changed
    ws.remove("finance/child.yml");
    ws.write(
        "parent.yml",
        PARENT.replace("flowId: not_in_git", "flowId: other"),
    );
    let out = run(&["preview", "apply", "--number", "7"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(source_of(&emu, "prod-pr-7.finance", "child"), None);
    let parent = source_of(&emu, "prod-pr-7", "parent").unwrap();
    assert!(parent.contains("flowId: other"), "{parent}");
    // the child is no longer synced: the call now goes to the live flow
    assert!(
        parent.contains("namespace: prod.finance # synced"),
        "{parent}"
    );
    assert!(
        crate::common::stdout(&out).contains("calls the live flow prod.finance/child"),
        "{}",
        crate::common::stdout(&out)
    );

    // the PR closes
    let out = run(&["preview", "destroy", "--number", "7"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        crate::common::stdout(&out).contains("Preview `prod-pr-7` removed: 1 flow(s) deleted"),
        "{}",
        crate::common::stdout(&out)
    );
    assert_eq!(
        live(&emu),
        [
            "prod-pr-70/parent",
            "prod-pr-7x/parent",
            "prod-pr-8/parent",
            "prod/not_in_git"
        ]
    );
    // destroying again finds nothing and touches nothing
    let out = run(&["preview", "destroy", "--number", "7"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(live(&emu).len(), 4);
}

/// A sweep asks GitHub about each preview's pull request: the closed one's preview goes
/// (and its deployments go inactive), the open one's and the unknown one's stay, and the
/// target's flows are never touched.
/// Every request to GitHub is checked against GitHub's OpenAPI description.
#[tokio::test(flavor = "multi_thread")]
async fn sweep_removes_only_the_previews_of_closed_pull_requests() {
    use crate::github_support::{FakeGithub, BOT_TOKEN};
    let gh = FakeGithub::start("").await;
    gh.set_pull("acme/flows", 7, "closed");
    gh.set_pull("acme/flows", 8, "open");
    for (id, pr) in [(1, 7), (2, 8)] {
        gh.state
            .lock()
            .unwrap()
            .deployments
            .push(crate::github_support::StoredDeployment {
                id,
                repo: "acme/flows".into(),
                request: serde_json::json!({"ref": "a".repeat(40), "environment": format!("kestra-preview/pr-{pr}")}),
                statuses: vec![serde_json::json!({"state": "success"})],
            });
    }
    let emu = emulator();
    for (ns, id) in [
        ("prod", "a"),
        ("prod-pr-7", "a"),
        ("prod-pr-7.finance", "b"),
        ("prod-pr-8", "a"),
        ("prod-pr-9", "a"),
        ("prod-pr-x", "a"),
    ] {
        emu.seed_flow("main", &flow(ns, id));
    }
    // #7's plan comment (posted by `ci`): its Preview section goes to "removed"
    let host = emu
        .url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let plan =
        format!("<!-- kestra-sync:plan target=prod@{host} -->\n### Plan\n\n<sub>footer</sub>\n");
    gh.seed_comment("acme/flows", 7, &plan, "github-actions[bot]", "Bot");
    let ws = Workspace::new();
    let mut cmd = kestra_sync(&emu, &ws, "prod");
    cmd.env("GITHUB_REPOSITORY", "acme/flows")
        .env("GITHUB_API_URL", gh.api_url())
        .env("GITHUB_TOKEN", BOT_TOKEN)
        .args(["preview", "sweep"]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let log = crate::common::stdout(&out);
    assert!(
        log.contains("#7: closed, preview removed (2 flow(s) deleted)"),
        "{log}"
    );
    assert!(log.contains("#8: open, preview kept"), "{log}");
    assert!(
        stderr(&out).contains("#9: no such pull/merge request"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        live(&emu),
        ["prod-pr-8/a", "prod-pr-9/a", "prod-pr-x/a", "prod/a"]
    );
    // the closed PR's deployments go inactive with its preview
    assert!(
        log.contains("GitHub deployments of `kestra-preview/pr-7` marked inactive: 1"),
        "{log}"
    );
    let states: Vec<_> = gh
        .deployments("acme/flows")
        .iter()
        .map(|d| (d.environment().to_string(), d.state().map(str::to_string)))
        .collect();
    assert_eq!(
        states,
        [
            (
                "kestra-preview/pr-7".to_string(),
                Some("inactive".to_string())
            ),
            (
                "kestra-preview/pr-8".to_string(),
                Some("success".to_string())
            ),
        ]
    );
    let comment = gh.comments("acme/flows", 7)[0].body.clone();
    assert_eq!(
        comment,
        format!(
            "<!-- kestra-sync:plan target=prod@{host} -->\n### Plan\n\n<!-- kestra-sync:preview -->\n#### 🔎 Preview `prod-pr-7`: removed\n\n{}\n\nGitHub deployment: `kestra-preview/pr-7`, inactive.\n<!-- /kestra-sync:preview -->\n\n<sub>footer</sub>\n",
            comment
                .lines()
                .find(|l| l.starts_with("Removed "))
                .filter(|l| l.ends_with(" UTC: 2 flows deleted from the preview namespace and its children."))
                .unwrap_or_else(|| panic!("{comment}"))
        )
    );
    assert!(
        log.contains("Preview section of the plan comment on pull request #7 updated"),
        "{log}"
    );
    let ops = gh.check().await;
    assert_eq!(
        ops,
        [
            "pulls/get",
            "repos/list-deployments",
            "repos/create-deployment-status",
            "pulls/get",
            "pulls/get",
            "users/get-authenticated",
            "issues/list-comments",
            "issues/update-comment",
        ]
    );
}

/// The same on GitLab: `GET /projects/:id/merge_requests/:iid` with `PRIVATE-TOKEN`.
#[tokio::test(flavor = "multi_thread")]
async fn sweep_on_gitlab_reads_the_merge_requests_state() {
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let gl = MockServer::start().await;
    for (iid, state) in [(3, "merged"), (4, "opened")] {
        Mock::given(method("GET"))
            .and(path(format!("/api/v4/projects/42/merge_requests/{iid}")))
            .and(header("PRIVATE-TOKEN", "glpat-test"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({"iid": iid, "state": state})),
            )
            .mount(&gl)
            .await;
    }
    let emu = emulator();
    for ns in ["prod", "prod-pr-3", "prod-pr-4"] {
        emu.seed_flow("main", &flow(ns, "a"));
    }
    let ws = Workspace::new();
    let mut cmd = kestra_sync(&emu, &ws, "prod");
    cmd.env("CI_PROJECT_ID", "42")
        .env("CI_API_V4_URL", format!("{}/api/v4", gl.uri()))
        .env("GITLAB_TOKEN", "glpat-test")
        .args(["preview", "sweep"]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(live(&emu), ["prod-pr-4/a", "prod/a"]);
}

/// The GitLab template's preview jobs, run as GitLab runs them (their `script` in a shell,
/// with a merge request pipeline's variables): the preview job creates the MR's preview, the
/// stop job (named by the preview job's environment) removes it; both use one environment.
#[test]
fn the_gitlab_template_preview_and_stop_jobs_run_as_shipped() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("templates/kestra-sync.gitlab-ci.yml")).unwrap();
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let job = |name: &str| doc[name].clone();
    let (preview, stop) = (
        job(".kestra-sync-preview"),
        job(".kestra-sync-preview-stop"),
    );
    assert_eq!(
        preview["environment"]["name"], stop["environment"]["name"],
        "one environment"
    );
    assert_eq!(preview["environment"]["on_stop"], "kestra-preview-stop");
    assert!(preview["environment"]["auto_stop_in"].is_string());
    assert_eq!(stop["environment"]["action"], "stop");
    assert_eq!(stop["rules"][0]["when"], "manual");
    assert_eq!(
        stop["needs"],
        serde_yaml_ng::Value::Sequence(vec![]),
        "created even when an earlier stage failed"
    );

    let emu = emulator();
    emu.seed_flow("main", &flow("prod", "live"));
    let ws = Workspace::new();
    ws.write("parent.yml", PARENT);
    ws.write("finance/child.yml", CHILD);
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_kestra-sync"));
    let run = |job: &serde_yaml_ng::Value| {
        let script = job["script"][0].as_str().unwrap().to_string();
        let path = format!(
            "{}:{}",
            bin.parent().unwrap().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        std::process::Command::new("sh")
            .args(["-c", &script])
            .current_dir(ws.path())
            .env_clear()
            .env("PATH", path)
            .env("KESTRA_URL", emu.url())
            .env("KESTRA_USERNAME", crate::common::USER)
            .env("KESTRA_PASSWORD", crate::common::PASSWORD)
            .env("KESTRA_SYNC_TARGET_NAMESPACE", "prod")
            .env("KESTRA_SYNC_INCLUDE_CHILD_NAMESPACES", "true")
            .env("KESTRA_SYNC_RETRIES", "1")
            .env("GITLAB_CI", "true")
            .env("CI_PIPELINE_SOURCE", "merge_request_event")
            .env("CI_PROJECT_DIR", ws.path())
            .env("CI_MERGE_REQUEST_IID", "5")
            .output()
            .unwrap()
    };
    let out = run(&preview);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        live(&emu),
        ["prod-pr-5.finance/child", "prod-pr-5/parent", "prod/live"]
    );
    let out = run(&stop);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(live(&emu), ["prod/live"]);
}

fn file_paths(emu: &kestra_emulator::Emulator, ns: &str) -> Vec<String> {
    emu.files("main", ns).into_iter().map(|f| f.path).collect()
}

/// With `--namespace-files`, the target's files go into the preview root with the flows,
/// mirrored (a file removed from the PR, or one only on the server, leaves the preview);
/// destroy deletes every file of the preview tree, and nothing of the target or of
/// another PR's preview.
#[test]
fn preview_with_namespace_files_mirrors_them_and_destroy_removes_them() {
    let emu = emulator();
    seed_neighbours(&emu);
    emu.seed_file("main", "prod", "/scripts/live.py", b"print('prod')\n");
    emu.seed_file("main", "prod-pr-8", "/scripts/a.py", b"print('pr 8')\n");
    // left in the preview by hand: not in the PR, so the mirror removes it
    emu.seed_file("main", "prod-pr-7", "/by-hand.txt", b"x\n");
    let ws = Workspace::new();
    ws.write("parent.yml", PARENT);
    ws.write("finance/child.yml", CHILD);
    let put = |rel: &str, bytes: &[u8]| {
        let p = ws.path().join("_files").join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    };
    put("scripts/a.py", b"print('pr 7')\n");
    put("queries/q.sql", b"select 1;\n");
    let run = |files: bool, args: &[&str]| {
        kestra_sync(&emu, &ws, "prod")
            .env("KESTRA_SYNC_INCLUDE_CHILD_NAMESPACES", "true")
            .env("KESTRA_SYNC_NAMESPACE_FILES", files.to_string())
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(true, &["preview", "apply", "--number", "7"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        file_paths(&emu, "prod-pr-7"),
        ["/queries/q.sql", "/scripts/a.py"]
    );
    let a = emu.files("main", "prod-pr-7");
    assert_eq!(a[1].bytes, b"print('pr 7')\n");
    // the target's own files are untouched by a preview
    assert_eq!(file_paths(&emu, "prod"), ["/scripts/live.py"]);

    // second push: one file removed from the PR
    std::fs::remove_file(ws.path().join("_files/queries/q.sql")).unwrap();
    let out = run(true, &["preview", "apply", "--number", "7"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(file_paths(&emu, "prod-pr-7"), ["/scripts/a.py"]);

    // a file someone put in the preview's child namespace goes with the preview too
    emu.seed_file("main", "prod-pr-7.finance", "/notes.md", b"hi\n");
    // the stop job may not carry the option: destroy removes the files all the same
    let out = run(false, &["preview", "destroy", "--number", "7"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let log = crate::common::stdout(&out);
    assert!(log.contains("2 namespace file(s) deleted"), "{log}");
    assert!(file_paths(&emu, "prod-pr-7").is_empty());
    assert!(file_paths(&emu, "prod-pr-7.finance").is_empty());
    assert_eq!(file_paths(&emu, "prod"), ["/scripts/live.py"]);
    assert_eq!(file_paths(&emu, "prod-pr-8"), ["/scripts/a.py"]);
    assert_eq!(
        live(&emu),
        [
            "prod-pr-70/parent",
            "prod-pr-7x/parent",
            "prod-pr-8/parent",
            "prod/not_in_git"
        ]
    );
}

/// The GitLab template's simple path: the merge request's plan job with previews on
/// (`.kestra-sync-plan-preview`: `.kestra-sync-plan` with `KESTRA_SYNC_PREVIEW: "true"` and
/// the MR's environment), run as GitLab runs it (its `script` in a shell, with its resolved
/// variables and a merge request pipeline's), posts the note and deploys the preview with
/// the note's Preview section; the environment's stop job removes the preview and, with
/// GITLAB_TOKEN, turns the section into "removed", every other byte of the note kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gitlab_templates_plan_job_with_previews_and_its_stop_job_run_as_shipped() {
    use crate::gitlab_support::{FakeGitLab, BOT, TOKEN};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("templates/kestra-sync.gitlab-ci.yml")).unwrap();
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let resolve = |job: &str| crate::gitlab_ci_files::resolve(&doc, job);
    let (plan, plan_vars) = resolve(".kestra-sync-plan-preview");
    let (stop, stop_vars) = resolve(".kestra-sync-preview-stop");
    assert_eq!(
        plan_vars.get("KESTRA_SYNC_PREVIEW").map(String::as_str),
        Some("true")
    );
    assert_eq!(plan["rules"], resolve(".kestra-sync-plan").0["rules"]);
    assert_eq!(plan["environment"]["name"], stop["environment"]["name"]);
    assert_eq!(plan["environment"]["on_stop"], "kestra-preview-stop");
    assert!(plan["environment"]["auto_stop_in"].is_string());
    assert_eq!(plan["interruptible"], false);

    let fake = FakeGitLab::new("acme%2Fflows", 42);
    let gitlab = fake.start().await;
    let emu = emulator();
    emu.seed_flow("main", &flow("prod", "live"));
    let ws = Workspace::new();
    ws.write("parent.yml", PARENT);
    ws.write("finance/child.yml", CHILD);
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_kestra-sync"));
    let run = |keys: &std::collections::BTreeMap<String, serde_yaml_ng::Value>,
               vars: &std::collections::BTreeMap<String, String>| {
        let script = keys["script"][0].as_str().unwrap().to_string();
        let path = format!(
            "{}:{}",
            bin.parent().unwrap().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = std::process::Command::new("sh");
        cmd.args(["-c", &script])
            .current_dir(ws.path())
            .env_clear()
            .env("PATH", path)
            .envs(vars)
            .env("KESTRA_URL", emu.url())
            .env("KESTRA_USERNAME", crate::common::USER)
            .env("KESTRA_PASSWORD", crate::common::PASSWORD)
            .env("KESTRA_SYNC_TARGET_NAMESPACE", "prod")
            .env("KESTRA_SYNC_INCLUDE_CHILD_NAMESPACES", "true")
            .env("KESTRA_SYNC_RETRIES", "1")
            .env("GITLAB_TOKEN", TOKEN)
            .env("GITLAB_CI", "true")
            .env("CI", "true")
            .env("CI_JOB_TOKEN", "job-token")
            .env("CI_PIPELINE_SOURCE", "merge_request_event")
            .env("CI_PROJECT_DIR", ws.path())
            .env("CI_PROJECT_ID", "acme/flows")
            .env("CI_API_V4_URL", format!("{}/api/v4", gitlab.uri()))
            .env("CI_DEFAULT_BRANCH", "main")
            .env("CI_COMMIT_SHA", "f".repeat(40))
            .env("CI_MERGE_REQUEST_IID", "42");
        cmd
    };
    let output = |mut cmd: std::process::Command| async move {
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap()
    };

    let out = output(run(&plan, &plan_vars)).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        live(&emu),
        ["prod-pr-42.finance/child", "prod-pr-42/parent", "prod/live"]
    );
    let note = |fake: &FakeGitLab| {
        let notes = fake.notes_of(BOT);
        assert_eq!(notes.len(), 1, "{notes:?}");
        notes[0]["body"].as_str().unwrap().to_string()
    };
    let deployed = note(&fake);
    assert!(
        deployed.contains("#### 🔎 Preview [`prod-pr-42`]")
            && deployed.contains("2 added, 0 updated, 0 deleted, 0 unchanged"),
        "{deployed}"
    );

    let out = output(run(&stop, &stop_vars)).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(live(&emu), ["prod/live"]);
    let removed = note(&fake);
    assert_eq!(
        crate::preview_note::around_section(&removed),
        crate::preview_note::around_section(&deployed)
    );
    assert!(
        removed.contains("#### 🔎 Preview `prod-pr-42`: removed")
            && removed.contains("2 flows deleted from the preview namespace"),
        "{removed}"
    );
    let log = format!("{}{}", crate::common::stdout(&out), stderr(&out));
    assert!(!log.contains(TOKEN), "{log}");
}
