//! The plan lock covers namespace files (issues 12 and 13) against the emulator: a reviewed
//! plan with file changes applies them; a file changed in Git after the review (UNREVIEWED)
//! or on the server (STALE) refuses the whole apply, naming the file, with `apply
//! --reviewed-plan` and on the merge push in GitHub Actions and GitLab CI (`on-stale: fail`;
//! `warn` applies and says so); and a file edited between the plan and its write is not
//! overwritten (the re-read before each write).

use crate::common::*;

use kestra_sync::app::pipeline::{self as run, RunError};
use kestra_sync::apply::Outcome;
use kestra_sync::nsfiles::FilesSettings;

const FLOW: &str = "id: hello\nnamespace: prod\n\ntasks:\n  - id: run\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ read('scripts/etl.py') }}\"\n";

fn write_file(root: &std::path::Path, rel: &str, bytes: &[u8]) {
    let p = root.join("_files").join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

/// The server: flow hello, `/scripts/etl.py` v1, `/old.txt`. Git: hello, `etl.py` v2, `new.sql`;
/// `--delete` on, so `/old.txt` is deleted.
fn world() -> (Emulator, Workspace) {
    let emu = emulator();
    emu.seed_flow("main", FLOW);
    emu.seed_file("main", "prod", "/scripts/etl.py", b"print('v1')\n");
    emu.seed_file("main", "prod", "/old.txt", b"old\n");
    let ws = Workspace::new();
    ws.write("hello.yml", FLOW);
    write_file(ws.path(), "scripts/etl.py", b"print('v2')\n");
    write_file(ws.path(), "new.sql", b"select 1;\n");
    (emu, ws)
}

fn run_cli(emu: &Emulator, ws: &Workspace, args: &[&str]) -> std::process::Output {
    kestra_sync(emu, ws, "prod")
        .env("KESTRA_SYNC_NAMESPACE_FILES", "true")
        .env("KESTRA_SYNC_DELETE", "true")
        .args(args)
        .output()
        .unwrap()
}

/// `plan --plan-file`: the reviewed plan's path.
fn review(emu: &Emulator, ws: &Workspace) -> std::path::PathBuf {
    let file = ws.path().join("reviewed.json");
    let out = run_cli(
        emu,
        ws,
        &[
            "plan",
            "--format",
            "json",
            "--plan-file",
            file.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    file
}

fn server_files(emu: &Emulator) -> Vec<(String, Vec<u8>)> {
    emu.files("main", "prod")
        .into_iter()
        .map(|f| (f.path, f.bytes))
        .collect()
}

fn apply_reviewed(emu: &Emulator, ws: &Workspace, file: &std::path::Path) -> std::process::Output {
    emu.reset_counts();
    run_cli(
        emu,
        ws,
        &["apply", "--reviewed-plan", file.to_str().unwrap()],
    )
}

fn writes(emu: &Emulator) -> Vec<String> {
    emu.requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[test]
fn a_reviewed_plan_file_with_file_locks_applies_the_files() {
    let (emu, ws) = world();
    let file = review(&emu, &ws);
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let lock = |path: &str| {
        plan["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["kestraPath"] == path)
            .unwrap()["lock"]
            .clone()
    };
    let sha = |b: &[u8]| kestra_sync::nsfiles::sha256_hex(b);
    assert_eq!(
        lock("/scripts/etl.py"),
        serde_json::json!({"baseSha256": sha(b"print('v1')\n"), "desiredSha256": sha(b"print('v2')\n")})
    );
    assert_eq!(
        lock("/new.sql"),
        serde_json::json!({"baseSha256": null, "desiredSha256": sha(b"select 1;\n")})
    );
    assert_eq!(
        lock("/old.txt"),
        serde_json::json!({"baseSha256": sha(b"old\n"), "desiredSha256": null})
    );
    let out = apply_reviewed(&emu, &ws, &file);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        server_files(&emu),
        vec![
            ("/new.sql".to_string(), b"select 1;\n".to_vec()),
            ("/scripts/etl.py".to_string(), b"print('v2')\n".to_vec()),
        ]
    );
}

#[test]
fn a_file_changed_in_git_after_review_refuses_the_whole_apply_naming_it() {
    let (emu, ws) = world();
    let file = review(&emu, &ws);
    write_file(
        ws.path(),
        "scripts/etl.py",
        b"print('pushed after review')\n",
    );
    let before = server_files(&emu);
    let out = apply_reviewed(&emu, &ws, &file);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("UNREVIEWED namespace file prod:/scripts/etl.py: the content to upload differs from the reviewed plan's (it changed in Git since the review)"),
        "{err}"
    );
    assert!(err.contains("nothing was written"), "{err}");
    assert!(err.contains("Review a new plan"), "{err}");
    assert_eq!(writes(&emu), Vec::<String>::new());
    assert_eq!(server_files(&emu), before);
}

#[test]
fn a_file_changed_on_the_server_after_review_refuses_the_whole_apply_naming_it() {
    let (emu, ws) = world();
    let file = review(&emu, &ws);
    emu.seed_file("main", "prod", "/scripts/etl.py", b"print('ui edit')\n");
    emu.seed_file("main", "prod", "/new.sql", b"select 2;\n");
    let before = server_files(&emu);
    let out = apply_reviewed(&emu, &ws, &file);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    for line in [
        "STALE namespace file prod:/new.sql: created on the server since the reviewed plan",
        "STALE namespace file prod:/scripts/etl.py: its content on the server changed since the reviewed plan",
    ] {
        assert!(err.contains(line), "{line}\n{err}");
    }
    assert_eq!(writes(&emu), Vec::<String>::new());
    assert_eq!(server_files(&emu), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_edited_between_the_plan_and_its_write_is_stale_not_overwritten() {
    let (emu, ws) = world();
    let mut settings = crate::plan_lock::settings(&emu, &ws);
    settings.files = Some(FilesSettings {
        directory: "_files".into(),
        namespace_directory: String::new(),
    });
    let planned = run::read_and_plan(&settings).await.unwrap();
    // during the apply's window: etl.py edited, new.sql created by hand
    emu.seed_file("main", "prod", "/scripts/etl.py", b"print('ui edit')\n");
    emu.seed_file("main", "prod", "/new.sql", b"by hand\n");
    emu.reset_counts();
    let err = run::apply_unchecked(&settings, &planned).await.unwrap_err();
    let RunError::Apply(kestra_sync::apply::ApplyError::Partial(report)) = err else {
        panic!("expected a partial apply, got {err}");
    };
    let outcome = |path: &str| {
        report
            .files
            .iter()
            .find(|r| r.kestra_path == path)
            .map(|r| r.outcome.clone())
            .unwrap()
    };
    assert_eq!(
        outcome("/scripts/etl.py"),
        Outcome::Stale {
            reason: "its content on the server changed since this apply planned it; not written, plan again to see the server's change".into()
        }
    );
    assert!(
        matches!(outcome("/new.sql"), Outcome::Stale { reason } if reason.starts_with("created on the server since")),
    );
    // deletes wait for every write
    assert!(matches!(outcome("/old.txt"), Outcome::NotAttempted { .. }));
    assert_eq!(report.stale, 2);
    assert_eq!(writes(&emu), Vec::<String>::new());
    let text = kestra_sync::render::text::render_report(&report, false);
    assert!(text.contains("STALE"), "{text}");
    assert_eq!(
        server_files(&emu),
        vec![
            ("/new.sql".to_string(), b"by hand\n".to_vec()),
            ("/old.txt".to_string(), b"old\n".to_vec()),
            (
                "/scripts/etl.py".to_string(),
                b"print('ui edit')\n".to_vec()
            ),
        ]
    );
}

/// In GitHub Actions: the pull request's plan comment locks the files; the merge push checks.
mod github {
    use crate::github_action::{
        flow, inputs, kestra, pr_payload, push_payload, step, Step, Workspace, PR, REPO,
    };
    use crate::github_support::{FakeGithub, BOT_TOKEN};
    use kestra_emulator::Emulator;

    const MERGE_SHA: &str = "ffffffffffffffffffffffffffffffffffffffff";
    const FILES: &[(&str, &str)] = &[("namespace-files", "true")];

    fn repo() -> Workspace {
        let ws = Workspace::new(&[
            ("cleanup_tmp.yml", flow("cleanup_tmp", "v1")),
            ("steady.yml", flow("steady", "same")),
        ]);
        super::write_file(ws.path(), "scripts/etl.py", b"print('v2')\n");
        ws
    }

    fn server() -> Emulator {
        let emu = kestra();
        emu.seed_file("main", "prod", "/scripts/etl.py", b"print('v1')\n");
        emu
    }

    async fn reviewed(gh: &FakeGithub, emu: &Emulator, ws: &Workspace) {
        let s = step(
            gh,
            ws,
            "pull_request",
            pr_payload(false),
            inputs(emu, BOT_TOKEN, FILES),
        )
        .await;
        assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
        gh.add_pull(REPO, MERGE_SHA, PR, true);
    }

    async fn merge(gh: &FakeGithub, emu: &Emulator, ws: &Workspace, on_stale: &str) -> Step {
        let mut extra = FILES.to_vec();
        extra.push(("on-stale", on_stale));
        step(
            gh,
            ws,
            "push",
            push_payload("main"),
            inputs(emu, BOT_TOKEN, &extra),
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

    fn etl(emu: &Emulator) -> Vec<u8> {
        emu.files("main", "prod")
            .into_iter()
            .find(|f| f.path == "/scripts/etl.py")
            .unwrap()
            .bytes
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_reviewed_file_change_applies_on_the_merge() {
        let gh = FakeGithub::start("").await;
        let (emu, ws) = (server(), repo());
        reviewed(&gh, &emu, &ws).await;
        let s = merge(&gh, &emu, &ws, "fail").await;
        assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
        assert_eq!(etl(&emu), b"print('v2')\n");
        assert!(
            s.summary.contains("Plan lock: this is the plan reviewed on #7 (1 change(s), none moved on the server since)."),
            "{}",
            s.summary
        );
        assert!(stale_comments(&gh).is_empty());
        gh.check().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_file_pushed_after_review_blocks_the_merge_with_on_stale_fail() {
        let gh = FakeGithub::start("").await;
        let (emu, ws) = (server(), repo());
        reviewed(&gh, &emu, &ws).await;
        super::write_file(ws.path(), "scripts/etl.py", b"print('not reviewed')\n");
        emu.reset_counts();
        let s = merge(&gh, &emu, &ws, "fail").await;
        assert_eq!(s.code, 1, "{}\n{}", s.stdout, s.stderr);
        assert_eq!(etl(&emu), b"print('v1')\n", "nothing written");
        assert_eq!(emu.write_count(), 0);
        assert!(
            s.stdout.contains("UNREVIEWED namespace file prod:/scripts/etl.py: the content to upload differs from the reviewed plan's"),
            "{}",
            s.stdout
        );
        let stale = stale_comments(&gh);
        assert_eq!(stale.len(), 1, "{stale:?}");
        assert!(
            stale[0].contains("- **UNREVIEWED** namespace file `prod:/scripts/etl.py`: the content to upload differs"),
            "{}",
            stale[0]
        );
        assert!(stale[0].contains("plan again"), "{}", stale[0]);
        gh.check().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_file_pushed_after_review_is_applied_and_warned_with_on_stale_warn() {
        let gh = FakeGithub::start("").await;
        let (emu, ws) = (server(), repo());
        reviewed(&gh, &emu, &ws).await;
        super::write_file(ws.path(), "scripts/etl.py", b"print('not reviewed')\n");
        let s = merge(&gh, &emu, &ws, "warn").await;
        assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
        assert_eq!(etl(&emu), b"print('not reviewed')\n");
        assert!(
            s.stdout.contains("::warning title=Plan lock::"),
            "{}",
            s.stdout
        );
        let stale = stale_comments(&gh);
        assert_eq!(stale.len(), 1);
        assert!(
            stale[0].contains("namespace file `prod:/scripts/etl.py`")
                && stale[0].contains("Applied anyway because `on-stale: warn` is set"),
            "{}",
            stale[0]
        );
        gh.check().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_file_edited_on_the_server_after_review_blocks_the_merge() {
        let gh = FakeGithub::start("").await;
        let (emu, ws) = (server(), repo());
        reviewed(&gh, &emu, &ws).await;
        emu.seed_file("main", "prod", "/scripts/etl.py", b"print('ui edit')\n");
        let s = merge(&gh, &emu, &ws, "fail").await;
        assert_eq!(s.code, 1, "{}\n{}", s.stdout, s.stderr);
        assert_eq!(etl(&emu), b"print('ui edit')\n", "not overwritten");
        assert!(
            s.summary.contains("- **STALE** namespace file `prod:/scripts/etl.py`: its content on the server changed since the reviewed plan"),
            "{}",
            s.summary
        );
        gh.check().await;
    }
}

/// In GitLab CI: the merge request's note locks the files; the merge pipeline checks.
mod gitlab {
    use crate::gitlab_ci::{checkout, job, kestra, pipeline, with, IID};
    use crate::gitlab_support::{FakeGitLab, BOT, TOKEN};

    fn stale_notes(fake: &FakeGitLab) -> Vec<String> {
        fake.notes_of(BOT)
            .iter()
            .filter_map(|n| n["body"].as_str().map(String::from))
            .filter(|b| b.starts_with("<!-- kestra-sync:stale "))
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_file_edited_on_the_server_after_review_is_refused_with_one_note_or_warned() {
        let fake = FakeGitLab::new("1234", IID);
        let gitlab = fake.start().await;
        let emu = kestra();
        emu.seed_file("main", "prod", "/scripts/etl.py", b"print('v1')\n");
        let ws = checkout();
        super::write_file(ws.path(), "scripts/etl.py", b"print('v2')\n");
        let vars = [
            ("GITLAB_TOKEN", TOKEN),
            ("KESTRA_SYNC_NAMESPACE_FILES", "true"),
        ];
        let review = job(
            &ws,
            with(
                pipeline(&gitlab, &emu, &ws, "merge_request_event", "1234"),
                &vars,
            ),
        )
        .await;
        assert_eq!(review.code, 0, "{}", review.log());
        fake.add_commit_mr(&"f".repeat(40), IID, true);
        emu.seed_file("main", "prod", "/scripts/etl.py", b"print('ui edit')\n");
        emu.reset_counts();
        let merge = with(
            with(pipeline(&gitlab, &emu, &ws, "push", "1234"), &vars),
            &[("CI_COMMIT_BRANCH", "main")],
        );
        let refused = job(&ws, merge.clone()).await;
        assert_eq!(refused.code, 1, "{}", refused.log());
        assert_eq!(emu.write_count(), 0);
        assert!(
            refused.log().contains("STALE namespace file prod:/scripts/etl.py: its content on the server changed since the reviewed plan"),
            "{}",
            refused.log()
        );
        let etl = |emu: &kestra_emulator::Emulator| {
            emu.files("main", "prod")
                .into_iter()
                .find(|f| f.path == "/scripts/etl.py")
                .unwrap()
                .bytes
        };
        assert_eq!(etl(&emu), b"print('ui edit')\n");
        let stale = stale_notes(&fake);
        assert_eq!(stale.len(), 1, "{stale:?}");
        assert!(
            stale[0].contains("refused: it is not the plan reviewed on !42")
                && stale[0].contains("- **STALE** namespace file `prod:/scripts/etl.py`"),
            "{}",
            stale[0]
        );
        let warned = job(&ws, with(merge, &[("KESTRA_SYNC_ON_STALE", "warn")])).await;
        assert_eq!(warned.code, 0, "{}", warned.log());
        assert_eq!(etl(&emu), b"print('v2')\n");
        let stale = stale_notes(&fake);
        assert_eq!(stale.len(), 1, "one note, updated in place");
        assert!(stale[0].contains("Applied anyway"), "{}", stale[0]);
    }
}
