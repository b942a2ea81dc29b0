//! The plan comment's **Preview** section written by `kestra-sync preview apply | destroy`
//! when they run in a job of their own (the GitLab template's stop job, GitHub's
//! `preview.yml`): the real binary against the Kestra emulator and the fake GitLab / GitHub.
//! GitLab runs no merge request pipeline when an MR closes, so the stop job's `preview
//! destroy` is what turns the note's section into "removed"; `preview apply` adds or
//! refreshes it. Only our own sticky comment is edited (marker at its first byte, written
//! by the token's identity), the rest of it byte for byte, and never a new comment; without
//! a token that may write, the log says why and the command still passes.

use crate::common::{self, kestra_sync, stderr, stdout};
use crate::gitlab_support::{FakeGitLab, BOT, TOKEN};
use crate::preview_ci::{gitlab_job, gitlab_workspace, kestra, live, readable, START};

const END: &str = "<!-- /kestra-sync:preview -->";

/// `body` without its Preview section: what must stay byte for byte.
pub(crate) fn around_section(body: &str) -> (String, String) {
    let s = body
        .find(START)
        .unwrap_or_else(|| panic!("no section: {body}"));
    let e = body.find(END).unwrap() + END.len();
    (body[..s].to_string(), body[e..].to_string())
}

/// Our one note on MR 42 (the plan note), and every note of another author.
fn notes(fake: &FakeGitLab) -> (String, Vec<serde_json::Value>) {
    let ours = fake.notes_of(BOT);
    assert_eq!(ours.len(), 1, "one sticky note: {ours:?}");
    let others = fake
        .state
        .lock()
        .unwrap()
        .notes
        .iter()
        .filter(|n| n["author"]["id"] != BOT)
        .cloned()
        .collect();
    (ours[0]["body"].as_str().unwrap().to_string(), others)
}

/// `preview apply|destroy --number 42` as a GitLab job of project `acme/flows` runs it,
/// with `vars` (the token, or not); no secret in its log.
async fn gitlab_preview(
    emu: &kestra_emulator::Emulator,
    ws: &common::Workspace,
    gitlab: &wiremock::MockServer,
    command: &str,
    vars: &[(&str, &str)],
) -> std::process::Output {
    let mut cmd = kestra_sync(emu, ws, "prod");
    cmd.env("KESTRA_SYNC_INCLUDE_CHILD_NAMESPACES", "true")
        .env("GITLAB_CI", "true")
        .env("CI_PROJECT_ID", "acme/flows")
        .env("CI_API_V4_URL", format!("{}/api/v4", gitlab.uri()))
        .env("CI_MERGE_REQUEST_IID", "42")
        .envs(vars.iter().copied())
        .args(["preview", command, "--number", "42"]);
    let out = run(cmd).await;
    let log = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!log.contains(TOKEN) && !log.contains("job-token"), "{log}");
    out
}

async fn run(mut cmd: assert_cmd::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// The GitLab story: the MR pipeline (previews on) posts the note with its Preview section;
/// a stop job with only CI_JOB_TOKEN removes the preview, says why the note was not
/// updated, and passes; `preview apply` with GITLAB_TOKEN refreshes the section; the stop
/// job with GITLAB_TOKEN turns it into "removed". Every other byte of the note, and another
/// author's note carrying the same marker, stay as they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stop_job_turns_the_notes_preview_section_into_removed() {
    let fake = FakeGitLab::new("acme%2Fflows", 42);
    let gitlab = fake.start().await;
    let emu = kestra();
    let ws = gitlab_workspace();
    let (ok, log) = gitlab_job(&gitlab, &emu, &ws, "acme/flows", &[]).await;
    assert!(ok, "{log}");
    let (deployed, _) = notes(&fake);
    assert!(deployed.contains("2 added, 0 updated"), "{deployed}");
    // someone quoting our note: our marker at the first byte, another author
    let marker = deployed.lines().next().unwrap().to_string();
    let spoof = format!("{marker}\n> quoting the plan\n{START}\nnot ours\n{END}\n");
    fake.seed(99, &spoof);
    let writes = fake.writes();

    // The stop job with CI_JOB_TOKEN only: the preview goes, the note stays, exit 0.
    let out = gitlab_preview(
        &emu,
        &ws,
        &gitlab,
        "destroy",
        &[("CI_JOB_TOKEN", "job-token")],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(live(&emu), ["prod-pr-8/parent", "prod/not_in_git"]);
    let err = stderr(&out);
    assert!(
        err.contains("warning: the Preview section of the plan note on merge request !42 was not updated: only CI_JOB_TOKEN is available (GITLAB_TOKEN is not set), and it cannot write notes"),
        "{err}"
    );
    assert!(err.contains("project access token"), "what to do: {err}");
    assert_eq!(fake.writes(), writes, "nothing written");
    assert_eq!(notes(&fake).0, deployed);

    // `preview apply` with GITLAB_TOKEN (the template's preview job), after a push that
    // removed the child: the section is refreshed in place, the plan and its lock kept.
    ws.remove("finance/child.yml");
    let with_token = [("GITLAB_TOKEN", TOKEN), ("CI_JOB_TOKEN", "job-token")];
    let out = gitlab_preview(&emu, &ws, &gitlab, "apply", &with_token).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let log = stdout(&out);
    assert!(
        log.contains("Preview section of the plan note on merge request !42 updated"),
        "{log}"
    );
    let (applied, others) = notes(&fake);
    assert_eq!(around_section(&applied), around_section(&deployed));
    assert_eq!(applied.matches(START).count(), 1, "{applied}");
    assert!(
        applied.contains("Deployed ") && applied.contains("1 added, 0 updated, 0 deleted"),
        "{applied}"
    );

    // The stop job with GITLAB_TOKEN: "removed", and when; one PUT of our note.
    let before = fake.writes();
    let out = gitlab_preview(&emu, &ws, &gitlab, "destroy", &with_token).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (removed, others_after) = notes(&fake);
    assert_eq!(
        around_section(&removed),
        around_section(&deployed),
        "the plan, its lock, the footer and the risk state are kept byte for byte"
    );
    assert!(
        removed.contains("#### 🔎 Preview `prod-pr-42`: removed\n\nRemoved "),
        "{removed}"
    );
    assert!(
        removed.contains("Removed ")
            && removed.contains("1 flow deleted from the preview namespace and its children"),
        "{removed}"
    );
    assert_eq!(
        others_after, others,
        "another author's note is never edited"
    );
    assert_eq!(others[0]["body"], spoof.as_str());
    let id = fake.notes_of(BOT)[0]["id"].as_u64().unwrap();
    assert_eq!(fake.writes()[before.len()..], [format!("PUT {id}")]);
    assert!(
        stdout(&out).contains("Preview section of the plan note on merge request !42 updated"),
        "{}",
        stdout(&out)
    );
    insta::assert_snapshot!("gitlab_note_after_stop_job", readable(&removed, &emu));

    // The stop job again: nothing left to delete, and the note says so already.
    let out = gitlab_preview(&emu, &ws, &gitlab, "destroy", &with_token).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// Without a plan note of ours (previews deployed by the separate job, plan note never
/// posted, or only someone else's note quoting our marker), `preview apply` and `destroy`
/// post nothing: no new note just for the section.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_plan_note_of_ours_means_no_new_note() {
    let fake = FakeGitLab::new("acme%2Fflows", 42);
    let gitlab = fake.start().await;
    let emu = kestra();
    let ws = gitlab_workspace();
    let host = emu.url().trim_start_matches("http://").to_string();
    let spoof = format!("<!-- kestra-sync:plan target=prod@{host} -->\nsomeone else's\n");
    fake.seed(99, &spoof);
    let with_token = [("GITLAB_TOKEN", TOKEN)];
    for command in ["apply", "destroy"] {
        let out = gitlab_preview(&emu, &ws, &gitlab, command, &with_token).await;
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(
            stdout(&out).contains("no plan note of this target on merge request !42"),
            "{}",
            stdout(&out)
        );
    }
    assert!(fake.writes().is_empty(), "{:?}", fake.writes());
    assert!(fake.notes_of(BOT).is_empty());
    assert_eq!(fake.notes_of(99)[0]["body"], spoof.as_str());
}

/// GitHub (`preview.yml` beside a plan workflow without previews): `preview apply` adds the
/// Preview section to the plan comment (with the deployment's outcome), `preview destroy`
/// turns it into "removed"; the rest of the comment byte for byte, one comment, every
/// request as GitHub's OpenAPI description documents it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_preview_apply_and_destroy_edit_the_plan_comments_section() {
    use crate::github_action::{inputs, pr_payload, step, Workspace as Checkout, PR, REPO};
    use crate::github_support::{FakeGithub, BOT_TOKEN};
    let gh = FakeGithub::start("").await;
    let emu = kestra();
    let flows = [
        ("parent.yml", crate::preview_ci::PARENT.to_string()),
        ("finance/child.yml", crate::preview_ci::CHILD.to_string()),
    ];
    let checkout = Checkout::new(&flows);
    // the plan workflow, previews off: the plan comment, no section
    let s = step(
        &gh,
        &checkout,
        "pull_request",
        pr_payload(false),
        inputs(&emu, BOT_TOKEN, &[("include-child-namespaces", "true")]),
    )
    .await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    let plan = gh.comments(REPO, PR)[0].body.clone();
    assert!(!plan.contains(START), "{plan}");

    // preview.yml's jobs: `preview apply`, then `preview destroy` when the PR closes
    let ws = common::Workspace::new();
    ws.write("parent.yml", crate::preview_ci::PARENT);
    ws.write("finance/child.yml", crate::preview_ci::CHILD);
    let job = |command: &str| {
        let mut cmd = kestra_sync(&emu, &ws, "prod");
        cmd.env("KESTRA_SYNC_INCLUDE_CHILD_NAMESPACES", "true")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_REPOSITORY", REPO)
            .env("GITHUB_SHA", "6dcb09b5b57875f334f61aebed695e2e4193db5e")
            .env("GITHUB_API_URL", gh.api_url())
            .env("GITHUB_TOKEN", BOT_TOKEN)
            .args(["preview", command, "--number", "7"]);
        cmd
    };
    let out = run(job("apply")).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Preview section of the plan comment on pull request #7 updated"),
        "{}",
        stdout(&out)
    );
    let comments = gh.comments(REPO, PR);
    assert_eq!(comments.len(), 1, "never a second comment");
    let applied = comments[0].body.clone();
    // the section went in before the footer; every other byte is the plan's (blank lines
    // around the section aside)
    let (head, tail) = around_section(&applied);
    assert!(plan.starts_with(head.trim_end()), "{applied}");
    assert_eq!(
        plan[head.trim_end().len()..].trim_start(),
        tail.trim_start(),
        "{applied}"
    );
    assert!(
        tail.trim_start().starts_with("<sub>"),
        "before the footer: {applied}"
    );
    assert!(
        applied.contains("GitHub deployment: `kestra-preview/pr-7`, active."),
        "{applied}"
    );
    insta::assert_snapshot!(
        "github_comment_after_preview_apply",
        readable(&applied, &emu)
    );

    let out = run(job("destroy")).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(live(&emu), ["prod-pr-8/parent", "prod/not_in_git"]);
    let comments = gh.comments(REPO, PR);
    assert_eq!(comments.len(), 1);
    let removed = comments[0].body.clone();
    assert_eq!(around_section(&removed), around_section(&applied));
    assert!(
        removed.contains("#### 🔎 Preview `prod-pr-7`: removed"),
        "{removed}"
    );
    assert!(
        removed.contains("GitHub deployment: `kestra-preview/pr-7`, inactive."),
        "{removed}"
    );
    insta::assert_snapshot!(
        "github_comment_after_preview_destroy",
        readable(&removed, &emu)
    );
    let ops = gh.check().await;
    let count = |op: &str| ops.iter().filter(|o| *o == op).count();
    assert_eq!(count("issues/create-comment"), 1, "the plan's: {ops:?}");
    assert_eq!(
        count("issues/update-comment"),
        2,
        "apply's and destroy's: {ops:?}"
    );
}

/// The `ci` `closed` run on GitHub edits the plan comment's section the same way, and never
/// posts a new comment just to say "removed": here the plan comment was deleted meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_run_without_the_plan_comment_posts_no_new_one() {
    use crate::github_action::{inputs, step, Workspace as Checkout, PR, REPO};
    use crate::github_support::{FakeGithub, BOT_TOKEN};
    let gh = FakeGithub::start("").await;
    let emu = kestra();
    let checkout = Checkout::new(&[("parent.yml", crate::preview_ci::PARENT.to_string())]);
    let payload = |action: &str| {
        let mut p = crate::github_action::pr_payload(false);
        p["action"] = action.into();
        p
    };
    let with_preview = || inputs(&emu, BOT_TOKEN, &[("preview", "true")]);
    let s = step(
        &gh,
        &checkout,
        "pull_request",
        payload("opened"),
        with_preview(),
    )
    .await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    assert!(live(&emu).contains(&"prod-pr-7/parent".to_string()));
    assert_eq!(gh.comments(REPO, PR).len(), 1);
    gh.state.lock().unwrap().comments.clear();

    let s = step(
        &gh,
        &checkout,
        "pull_request",
        payload("closed"),
        with_preview(),
    )
    .await;
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    assert_eq!(live(&emu), ["prod-pr-8/parent", "prod/not_in_git"]);
    assert!(gh.comments(REPO, PR).is_empty(), "no new comment");
    let log = format!("{}{}", s.stdout, s.stderr);
    assert!(
        log.contains("no plan comment of this target on #7"),
        "{log}"
    );
    assert!(s.summary.contains("removed"), "{}", s.summary);
    gh.check().await;
}

/// `preview sweep` on GitLab (a schedule): the merged MR's preview goes and its note's
/// Preview section says "removed", every other byte kept; an open MR's stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gitlab_sweep_marks_the_removed_previews_note() {
    let fake = FakeGitLab::new("acme%2Fflows", 42);
    let gitlab = fake.start().await;
    let emu = kestra();
    let ws = gitlab_workspace();
    let (ok, log) = gitlab_job(&gitlab, &emu, &ws, "acme/flows", &[]).await;
    assert!(ok, "{log}");
    let (deployed, _) = notes(&fake);

    // still open: kept, note untouched
    let sweep = || {
        let mut cmd = kestra_sync(&emu, &ws, "prod");
        cmd.env("CI_PROJECT_ID", "acme/flows")
            .env("CI_API_V4_URL", format!("{}/api/v4", gitlab.uri()))
            .env("GITLAB_TOKEN", TOKEN)
            .args(["preview", "sweep"]);
        cmd
    };
    let out = run(sweep()).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("#42: open, preview kept"),
        "{}",
        stdout(&out)
    );
    assert_eq!(notes(&fake).0, deployed);

    fake.state.lock().unwrap().mr_state = Some("merged".into());
    let out = run(sweep()).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // prod-pr-8 belongs to no merge request of this project (GitLab answers 404): kept
    assert!(
        stderr(&out).contains("#8: no such pull/merge request"),
        "{}",
        stderr(&out)
    );
    assert_eq!(live(&emu), ["prod-pr-8/parent", "prod/not_in_git"]);
    let (removed, _) = notes(&fake);
    assert_eq!(around_section(&removed), around_section(&deployed));
    assert!(
        removed.contains("#### 🔎 Preview `prod-pr-42`: removed")
            && removed.contains("2 flows deleted from the preview namespace"),
        "{removed}"
    );
    assert!(
        stdout(&out).contains("Preview section of the plan note on merge request !42 updated"),
        "{}",
        stdout(&out)
    );
}
