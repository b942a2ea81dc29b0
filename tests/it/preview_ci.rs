//! Pull-request previews in `kestra-sync ci` (issue 14, input `preview`): the built binary
//! run as the GitHub runner and as a GitLab job run it, against the Kestra emulator and a
//! fake GitHub / GitLab. A review run deploys the preview after the plan comment and adds the
//! comment's Preview section; the next push mirrors the request; `closed` removes the
//! preview and nothing else; forks, failed plans and `preview: false` deploy nothing.

use crate::common;
use crate::github_action::{inputs, step, Workspace, PR, REPO};
use crate::github_support::{FakeGithub, BOT_TOKEN, READ_ONLY_TOKEN};

use kestra_emulator::Emulator;

pub(crate) const PARENT: &str = "# the parent flow: calls a synced child and a live one
id: parent
namespace: prod
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

pub(crate) const CHILD: &str = "id: child
namespace: prod.finance
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: abc
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hi
";

pub(crate) const START: &str = "<!-- kestra-sync:preview -->";

fn flow(ns: &str, id: &str) -> String {
    format!(
        "id: {id}\nnamespace: {ns}\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"
    )
}

/// Kestra with a live flow the PR calls, and another PR's preview.
pub(crate) fn kestra() -> Emulator {
    let emu = Emulator::start_in_background(kestra_emulator::Options::default()).unwrap();
    emu.seed_flow("main", &flow("prod", "not_in_git"));
    emu.seed_flow("main", &flow("prod-pr-8", "parent"));
    emu
}

pub(crate) fn live(emu: &Emulator) -> Vec<String> {
    let mut v: Vec<String> = emu
        .flows("main")
        .into_iter()
        .filter(|f| !f.deleted)
        .map(|f| format!("{}/{}", f.namespace, f.id))
        .collect();
    v.sort();
    v
}

fn source_of(emu: &Emulator, ns: &str, id: &str) -> Option<String> {
    emu.flows("main")
        .into_iter()
        .find(|f| !f.deleted && f.namespace == ns && f.id == id)
        .map(|f| f.source)
}

fn payload(action: &str, fork: bool) -> serde_json::Value {
    let head = if fork { "mallory/flows" } else { REPO };
    serde_json::json!({
        "action": action,
        "number": PR,
        "pull_request": {
            "number": PR,
            "merged": action == "closed",
            "head": {"ref": "change", "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e", "repo": {"full_name": head}},
            "base": {"ref": "main", "repo": {"full_name": REPO}}
        },
        "repository": {"full_name": REPO, "default_branch": "main"}
    })
}

fn workspace() -> Workspace {
    Workspace::new(&[
        ("parent.yml", PARENT.to_string()),
        ("finance/child.yml", CHILD.to_string()),
    ])
}

/// The comment as a reader sees it, with what changes from run to run (ports, the lock's
/// bytes, times) named instead.
pub(crate) fn readable(body: &str, emu: &Emulator) -> String {
    let host = emu.url().trim_start_matches("http://").to_string();
    let body = body
        .replace(&emu.url(), "http://kestra.test")
        .replace(&host, "kestra.test");
    let lock = regex::Regex::new(r"<!-- kestra-sync:lock v1 [^ ]+ -->").unwrap();
    let when = regex::Regex::new(r"\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} UTC").unwrap();
    let body = lock.replace_all(&body, "<!-- kestra-sync:lock v1 [lock] -->");
    when.replace_all(&body, "[when, UTC]").into_owned()
}

/// Opened, pushed again, closed: the preview follows the pull request, the comment's
/// Preview section says where it is, what was deployed and when, then that it was removed;
/// the target and the other PR's preview are never touched, and the plan (with its lock)
/// stays as reviewed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_requests_preview_is_deployed_mirrored_and_removed_on_close() {
    let gh = FakeGithub::start("").await;
    let emu = kestra();
    let ws = workspace();
    let with_preview = || {
        inputs(
            &emu,
            BOT_TOKEN,
            &[("preview", "true"), ("include-child-namespaces", "true")],
        )
    };

    let s = step(
        &gh,
        &ws,
        "pull_request",
        payload("opened", false),
        with_preview(),
    )
    .await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    assert_eq!(
        live(&emu),
        [
            "prod-pr-7.finance/child",
            "prod-pr-7/parent",
            "prod-pr-8/parent",
            "prod/not_in_git"
        ],
        "the PR's flows in its preview; the review applied nothing to `prod`"
    );
    let parent = source_of(&emu, "prod-pr-7", "parent").unwrap();
    assert_eq!(
        parent,
        PARENT
            .replace(
                "namespace: prod\ntriggers",
                "namespace: prod-pr-7\ntriggers"
            )
            .replace("  - id: nightly", "  - disabled: true\n    id: nightly")
            .replace(
                "namespace: prod.finance # synced",
                "namespace: prod-pr-7.finance # synced"
            ),
        "triggers disabled, comments kept, the synced call remapped, the outside call left"
    );
    let child = source_of(&emu, "prod-pr-7.finance", "child").unwrap();
    assert!(
        child.contains("  - disabled: true\n    id: hook\n"),
        "{child}"
    );
    assert!(child.contains("namespace: prod-pr-7.finance\n"), "{child}");

    let comments = gh.comments(REPO, PR);
    assert_eq!(comments.len(), 1, "one sticky comment");
    let first = comments[0].body.clone();
    assert!(
        first
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("<!-- kestra-sync:lock v1 "),
        "the lock stays right after the marker: {first}"
    );
    assert!(
        first.contains(&format!(
            "#### 🔎 Preview [`prod-pr-7`](<{}/ui/main/namespaces/edit/prod-pr-7>)",
            emu.url()
        )),
        "{first}"
    );
    assert!(
        first.contains("2 added, 0 updated, 0 deleted, 0 unchanged. 2 triggers disabled"),
        "{first}"
    );
    assert!(
        first.contains("- `prod/not_in_git` from `_flows/parent.yml:15`"),
        "{first}"
    );
    assert!(s.summary.contains("🔎 Preview"), "{}", s.summary);
    insta::assert_snapshot!("comment_with_preview", readable(&first, &emu));

    // Second push: the child left the PR, the parent changed.
    std::fs::remove_file(ws.path().join("_flows/finance/child.yml")).unwrap();
    ws.write(
        "parent.yml",
        &PARENT.replace("flowId: not_in_git", "flowId: other"),
    );
    let s = step(
        &gh,
        &ws,
        "pull_request",
        payload("synchronize", false),
        with_preview(),
    )
    .await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    assert_eq!(source_of(&emu, "prod-pr-7.finance", "child"), None);
    let parent = source_of(&emu, "prod-pr-7", "parent").unwrap();
    assert!(parent.contains("flowId: other"), "{parent}");
    assert!(
        parent.contains("namespace: prod.finance # synced"),
        "the child is no longer synced: the call goes to the live flow: {parent}"
    );
    let comments = gh.comments(REPO, PR);
    assert_eq!(comments.len(), 1);
    let second = comments[0].body.clone();
    assert_eq!(second.matches(START).count(), 1, "{second}");
    assert!(
        second.contains("0 added, 1 updated, 1 deleted, 0 unchanged"),
        "{second}"
    );
    assert!(
        second.contains("- `prod.finance/child` from `_flows/parent.yml:11`"),
        "{second}"
    );

    // Closed (merged): the preview goes, nothing else does; the plan is not recomputed, and
    // no checkout is needed (plan-preview.yml skips it on `closed`).
    let no_checkout = Workspace::new(&[]);
    let s = step(
        &gh,
        &no_checkout,
        "pull_request",
        payload("closed", false),
        with_preview(),
    )
    .await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    assert_eq!(live(&emu), ["prod-pr-8/parent", "prod/not_in_git"]);
    assert!(
        s.stdout
            .contains("Preview `prod-pr-7` removed: 1 flow(s) and 0 namespace file(s) deleted."),
        "{}",
        s.stdout
    );
    assert!(!s.stdout.contains("plan for `prod`"), "{}", s.stdout);
    let comments = gh.comments(REPO, PR);
    assert_eq!(comments.len(), 1);
    let closed = comments[0].body.clone();
    let before = |b: &str| b[..b.find(START).unwrap()].to_string();
    assert_eq!(
        before(&closed),
        before(&second),
        "the plan and its lock are kept byte for byte"
    );
    assert!(
        closed.contains("#### 🔎 Preview `prod-pr-7`: removed"),
        "{closed}"
    );
    assert!(s.summary.contains("removed"), "{}", s.summary);
    for body in [&first, &second, &closed] {
        assert!(
            body.trim_end()
                .lines()
                .last()
                .unwrap()
                .starts_with("<!-- kestra-sync:state v1 "),
            "the risk state stays the last line: {body}"
        );
    }
    insta::assert_snapshot!("comment_after_removal", readable(&closed, &emu));
    gh.check().await;
}

/// A fork's pull request gets no preview, and says why; `preview: false` deploys nothing and
/// adds no section; a closed pull request with previews off is not planned again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forks_and_previews_off_deploy_nothing() {
    let gh = FakeGithub::start("").await;
    let emu = kestra();
    let ws = workspace();
    let seeded = live(&emu);

    let s = step(
        &gh,
        &ws,
        "pull_request",
        payload("opened", true),
        inputs(&emu, READ_ONLY_TOKEN, &[("preview", "true")]),
    )
    .await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    assert!(
        s.stdout
            .contains("No preview: this pull request comes from a fork"),
        "{}",
        s.stdout
    );
    assert!(s.summary.contains("No preview"), "{}", s.summary);
    assert_eq!(live(&emu), seeded);

    // `pull_request_target` has the secrets, and still deploys no fork's code.
    let s = step(
        &gh,
        &ws,
        "pull_request_target",
        payload("opened", true),
        inputs(&emu, BOT_TOKEN, &[("preview", "true")]),
    )
    .await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    assert_eq!(live(&emu), seeded);
    let body = gh.comments(REPO, PR)[0].body.clone();
    assert!(
        body.contains("#### 🔎 Preview `prod-pr-7`: not deployed")
            && body.contains("comes from a fork"),
        "{body}"
    );

    // Previews off: no preview namespace, no section.
    let gh = FakeGithub::start("").await;
    let s = step(
        &gh,
        &ws,
        "pull_request",
        payload("opened", false),
        inputs(&emu, BOT_TOKEN, &[]),
    )
    .await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    assert_eq!(live(&emu), seeded);
    let body = gh.comments(REPO, PR)[0].body.clone();
    assert!(!body.contains(START), "{body}");

    // Closed with previews off: nothing planned, nothing posted.
    let s = step(
        &gh,
        &ws,
        "pull_request",
        payload("closed", false),
        inputs(&emu, BOT_TOKEN, &[]),
    )
    .await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    assert!(s.stdout.contains("closed: nothing to do"), "{}", s.stdout);
    assert_eq!(gh.comments(REPO, PR)[0].body, body);
    assert_eq!(live(&emu), seeded);
}

/// A plan that fails leaves the preview as it was, and the failed-plan comment says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_plan_deploys_no_preview_and_says_so() {
    let gh = FakeGithub::start("").await;
    let emu = kestra();
    let ws = workspace();
    let with_preview = || inputs(&emu, BOT_TOKEN, &[("preview", "true")]);
    let s = step(
        &gh,
        &ws,
        "pull_request",
        payload("opened", false),
        with_preview(),
    )
    .await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    let deployed = live(&emu);
    assert!(
        deployed.contains(&"prod-pr-7/parent".to_string()),
        "{deployed:?}"
    );

    ws.write("parent.yml", "id: parent\nnamespace: prod\ntasks: [\n");
    let s = step(
        &gh,
        &ws,
        "pull_request",
        payload("synchronize", false),
        with_preview(),
    )
    .await;
    assert_eq!(s.code, 1, "{}\n{}", s.stdout, s.stderr);
    assert_eq!(live(&emu), deployed, "the preview is left as it was");
    let body = gh.comments(REPO, PR)[0].body.clone();
    assert!(
        body.contains("#### 🔎 Preview `prod-pr-7`: not deployed")
            && body.contains("the plan failed"),
        "{body}"
    );
    assert_eq!(body.matches(START).count(), 1, "{body}");
}

/// `kestra-sync ci` as a GitLab merge request pipeline of MR 42 runs it, previews on, with
/// `extra` variables; the job's log (no secret in it).
pub(crate) async fn gitlab_job(
    gitlab: &wiremock::MockServer,
    emu: &Emulator,
    ws: &common::Workspace,
    project: &str,
    extra: &[(&str, &str)],
) -> (bool, String) {
    use crate::gitlab_support::TOKEN;
    let mut vars: Vec<(String, String)> = [
        ("GITLAB_CI", "true".to_string()),
        ("CI", "true".into()),
        ("CI_PIPELINE_SOURCE", "merge_request_event".into()),
        ("CI_API_V4_URL", format!("{}/api/v4", gitlab.uri())),
        ("CI_PROJECT_ID", project.into()),
        ("CI_PROJECT_DIR", ws.path().display().to_string()),
        ("CI_DEFAULT_BRANCH", "main".into()),
        ("CI_COMMIT_SHA", "f".repeat(40)),
        ("CI_MERGE_REQUEST_IID", "42".into()),
        ("GITLAB_TOKEN", TOKEN.into()),
        ("KESTRA_URL", emu.url()),
        ("KESTRA_USERNAME", common::USER.into()),
        ("KESTRA_PASSWORD", common::PASSWORD.into()),
        ("KESTRA_SYNC_TARGET_NAMESPACE", "prod".into()),
        ("KESTRA_SYNC_INCLUDE_CHILD_NAMESPACES", "true".into()),
        ("KESTRA_SYNC_PREVIEW", "true".into()),
        ("KESTRA_SYNC_RETRIES", "1".into()),
        ("NO_COLOR", "1".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kestra-sync"));
    cmd.arg("ci")
        .current_dir(ws.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(vars);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let log = format!("{}{}", common::stdout(&out), common::stderr(&out));
    assert!(
        !log.contains(TOKEN) && !log.contains(common::PASSWORD),
        "{log}"
    );
    (out.status.success(), log)
}

pub(crate) fn gitlab_workspace() -> common::Workspace {
    let ws = common::Workspace::new();
    ws.write("parent.yml", PARENT);
    ws.write("finance/child.yml", CHILD);
    ws
}

/// GitLab: a merge request pipeline with `KESTRA_SYNC_PREVIEW=true` deploys the preview of
/// MR 42 and adds the Preview section to the plan note.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_request_pipeline_deploys_the_preview_and_its_note_section() {
    use crate::gitlab_support::{FakeGitLab, BOT};
    let fake = FakeGitLab::new("acme%2Fflows", 42);
    let gitlab = fake.start().await;
    let emu = kestra();
    let ws = gitlab_workspace();
    let (ok, log) = gitlab_job(&gitlab, &emu, &ws, "acme/flows", &[]).await;
    assert!(ok, "{log}");
    assert_eq!(
        live(&emu),
        [
            "prod-pr-42.finance/child",
            "prod-pr-42/parent",
            "prod-pr-8/parent",
            "prod/not_in_git"
        ]
    );
    let notes = fake.notes_of(BOT);
    assert_eq!(notes.len(), 1, "{notes:?}");
    let body = notes[0]["body"].as_str().unwrap();
    assert!(
        body.contains(&format!(
            "#### 🔎 Preview [`prod-pr-42`](<{}/ui/main/namespaces/edit/prod-pr-42>)",
            emu.url()
        )),
        "{body}"
    );
    assert!(body.contains("2 triggers disabled"), "{body}");
    assert!(
        body.contains("- `prod/not_in_git` from `_flows/parent.yml:15`"),
        "{body}"
    );
    assert!(
        body.lines()
            .nth(1)
            .unwrap()
            .starts_with("<!-- kestra-sync:lock v1 "),
        "{body}"
    );
}

/// GitLab: a fork's merge request whose pipeline runs in the parent project (a maintainer
/// ran it, with the project's variables) is planned and noted, but gets no preview.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forks_merge_request_run_in_the_parent_project_gets_no_preview() {
    use crate::gitlab_support::{FakeGitLab, BOT};
    let fake = FakeGitLab::new("1", 42);
    let gitlab = fake.start().await;
    let emu = kestra();
    let seeded = live(&emu);
    let ws = gitlab_workspace();
    let (ok, log) = gitlab_job(
        &gitlab,
        &emu,
        &ws,
        "1",
        &[
            ("CI_MERGE_REQUEST_PROJECT_ID", "1"),
            ("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "2"),
        ],
    )
    .await;
    assert!(ok, "{log}");
    assert_eq!(live(&emu), seeded);
    assert!(
        log.contains("No preview: this merge request comes from a fork"),
        "{log}"
    );
    let notes = fake.notes_of(BOT);
    let body = notes[0]["body"].as_str().unwrap();
    assert!(
        body.contains("#### 🔎 Preview `prod-pr-42`: not deployed") && body.contains("from a fork"),
        "{body}"
    );
}

/// With `namespace-files`, the review's preview carries the PR's namespace files (those the
/// plan read) into the preview root, and `closed` removes them with the flows;
/// the target's files are never touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_files_go_into_the_preview_and_leave_with_it() {
    let gh = FakeGithub::start("").await;
    let emu = kestra();
    emu.seed_file("main", "prod", "/scripts/live.py", b"print('prod')\n");
    let ws = workspace();
    for (rel, bytes) in [
        ("scripts/a.py", "print('pr 7')\n"),
        ("queries/q.sql", "select 1;\n"),
    ] {
        let p = ws.path().join("_files").join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    let paths = |ns: &str| {
        let mut v: Vec<String> = emu.files("main", ns).into_iter().map(|f| f.path).collect();
        v.sort();
        v
    };
    let with_files = || {
        inputs(
            &emu,
            BOT_TOKEN,
            &[
                ("preview", "true"),
                ("include-child-namespaces", "true"),
                ("namespace-files", "true"),
            ],
        )
    };
    let s = step(
        &gh,
        &ws,
        "pull_request",
        payload("opened", false),
        with_files(),
    )
    .await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    assert_eq!(paths("prod-pr-7"), ["/queries/q.sql", "/scripts/a.py"]);
    assert_eq!(
        paths("prod"),
        ["/scripts/live.py"],
        "a review writes nothing to `prod`"
    );
    let body = gh.comments(REPO, PR)[0].body.clone();
    assert!(
        body.contains("namespace files: 2 added, 0 overwritten, 0 deleted, 0 unchanged"),
        "{body}"
    );

    let s = step(
        &gh,
        &ws,
        "pull_request",
        payload("closed", false),
        with_files(),
    )
    .await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    assert!(paths("prod-pr-7").is_empty());
    assert_eq!(paths("prod"), ["/scripts/live.py"]);
    let body = gh.comments(REPO, PR)[0].body.clone();
    assert!(
        body.contains("2 flows and 2 namespace files deleted from the preview namespace"),
        "{body}"
    );
}

/// `source: github` with `preview` and `namespace-files`: the review reads the repository
/// once (one tarball request: the plan's read), and the preview gets the namespace files the
/// plan read, byte for byte, with the flows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_github_source_review_with_preview_and_files_downloads_one_tarball() {
    let gh = FakeGithub::start("").await;
    let emu = kestra();
    // no checkout: everything comes from the tarball at GITHUB_SHA
    let ws = Workspace::new(&[]);
    let sha = "ffffffffffffffffffffffffffffffffffffffff";
    let gz = {
        let enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut b = tar::Builder::new(enc);
        for (name, text) in [
            ("_flows/parent.yml", PARENT),
            ("_flows/finance/child.yml", CHILD),
            ("_files/scripts/a.py", "print('pr 7')\n"),
            ("_files/queries/q.sql", "select 1;\n"),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(text.len() as u64);
            h.set_mode(0o644);
            b.append_data(
                &mut h,
                format!("acme-flows-fffffff/{name}"),
                text.as_bytes(),
            )
            .unwrap();
        }
        b.into_inner().unwrap().finish().unwrap()
    };
    gh.add_tarball(REPO, sha, gz);
    let s = step(
        &gh,
        &ws,
        "pull_request",
        payload("opened", false),
        inputs(
            &emu,
            BOT_TOKEN,
            &[
                ("source", "github"),
                ("preview", "true"),
                ("include-child-namespaces", "true"),
                ("namespace-files", "true"),
            ],
        ),
    )
    .await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    let tarballs: Vec<_> = gh
        .calls()
        .await
        .into_iter()
        .filter(|(_, path)| path.contains("/tarball/"))
        .collect();
    assert_eq!(
        tarballs,
        [("GET".to_string(), format!("/repos/{REPO}/tarball/{sha}"))],
        "the review reads the source once"
    );
    let mut files: Vec<(String, Vec<u8>)> = emu
        .files("main", "prod-pr-7")
        .into_iter()
        .map(|f| (f.path, f.bytes))
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            ("/queries/q.sql".to_string(), b"select 1;\n".to_vec()),
            ("/scripts/a.py".to_string(), b"print('pr 7')\n".to_vec()),
        ]
    );
    assert_eq!(
        live(&emu),
        [
            "prod-pr-7.finance/child",
            "prod-pr-7/parent",
            "prod-pr-8/parent",
            "prod/not_in_git"
        ]
    );
    assert!(
        emu.files("main", "prod").is_empty(),
        "a review writes nothing to `prod`"
    );
    gh.check().await;
}

/// A merge request pipeline without its IID deploys no `prod-pr-0` preview.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_request_without_a_number_gets_no_preview() {
    let fake = crate::gitlab_support::FakeGitLab::new("acme%2Fflows", 42);
    let gitlab = fake.start().await;
    let emu = kestra();
    let seeded = live(&emu);
    let ws = gitlab_workspace();
    let (_, log) = gitlab_job(
        &gitlab,
        &emu,
        &ws,
        "acme/flows",
        &[("CI_MERGE_REQUEST_IID", "")],
    )
    .await;
    assert!(log.contains("has no number"), "{log}");
    assert_eq!(live(&emu), seeded);
}
