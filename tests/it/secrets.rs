//! No secret ever leaves the process: every command (`plan`, `apply`, `validate`, `ci` as a
//! GitHub action and as a GitLab job, `--source git` with a password) runs with known
//! secret values — the Kestra password, an API token, the GitHub and GitLab tokens, a git
//! password — in runs that succeed and runs that fail (wrong password → 401, an unreachable
//! server, invalid flows, a server refusing a flow, credentials inside URLs). Every output
//! (stdout, stderr), every file written (plan file, `GITHUB_OUTPUT`,
//! `GITHUB_STEP_SUMMARY`) and every comment or note body sent to the fake GitHub and
//! GitLab is searched for each secret and for `base64(user:password)`: none may appear.
//! The one exception is GitHub's own `::add-mask::<secret>` command, which exists to make
//! the runner hide the value and must name it.

use crate::github_support;
use crate::gitlab_support;

use std::path::Path;

use base64::Engine as _;
use kestra_emulator::{Auth, Emulator, Options};

const USER: &str = "ops@acme.example";
const PASSWORD: &str = "Kpw-7f3c9e1d5b-SECRET";
const API_TOKEN: &str = "kestra-tok-91ab27cd44-SECRET";
const GIT_PASSWORD: &str = "gitpw-0c8e6a2f11-SECRET";
const GITHUB_TOKEN: &str = github_support::BOT_TOKEN;
const GITLAB_TOKEN: &str = gitlab_support::TOKEN;

fn secrets() -> Vec<String> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    vec![
        PASSWORD.into(),
        API_TOKEN.into(),
        GIT_PASSWORD.into(),
        GITHUB_TOKEN.into(),
        GITLAB_TOKEN.into(),
        b64(&format!("{USER}:{PASSWORD}")),
        b64(&format!("{USER}:{GIT_PASSWORD}")),
        b64(&format!("x-access-token:{GITHUB_TOKEN}")),
    ]
}

/// Fail when any secret appears in `text` (outside `::add-mask::` lines), naming where.
fn assert_clean(what: &str, text: &str, leaks: &mut Vec<String>) {
    for line in text.lines() {
        if line.starts_with("::add-mask::") {
            continue;
        }
        for s in secrets() {
            if line.contains(&s) {
                leaks.push(format!("{what}: a secret appears in: {line}"));
            }
        }
    }
}

fn flow(id: &str, message: &str) -> String {
    format!(
        "id: {id}\nnamespace: prod\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: \"{message}\"\n"
    )
}

fn workspace(files: &[(&str, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("_flows")).unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join("_flows").join(name), text).unwrap();
    }
    dir
}

fn kestra(auth: Auth) -> Emulator {
    let emu = Emulator::start_in_background(Options {
        auth,
        ..Options::default()
    })
    .unwrap();
    emu.seed_flow("main", &flow("old", "v1"));
    emu
}

/// Run the binary with `env` (on top of a clean environment) and check everything it
/// printed and the plan file it wrote.
fn run(
    what: &str,
    args: &[&str],
    env: &[(&str, String)],
    ws: &Path,
    leaks: &mut Vec<String>,
) -> i32 {
    let plan_file = ws.join("plan.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kestra-sync"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .env("KESTRA_SYNC_LOG", "debug")
        .env("KESTRA_SYNC_WORKSPACE", ws)
        .env("KESTRA_SYNC_TARGET_NAMESPACE", "prod")
        .env("KESTRA_SYNC_PLAN_FILE", &plan_file)
        .env("KESTRA_SYNC_RETRIES", "0")
        .env("KESTRA_SYNC_TIMEOUT", "5")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{what}: panic\n{stderr}");
    assert_clean(&format!("{what} (stdout)"), &stdout, leaks);
    assert_clean(&format!("{what} (stderr)"), &stderr, leaks);
    if let Ok(text) = std::fs::read_to_string(&plan_file) {
        assert_clean(&format!("{what} (plan file)"), &text, leaks);
    }
    out.status.code().unwrap_or(-1)
}

fn basic(emu: &Emulator, password: &str) -> Vec<(&'static str, String)> {
    vec![
        ("KESTRA_URL", emu.url()),
        ("KESTRA_USERNAME", USER.into()),
        ("KESTRA_PASSWORD", password.into()),
    ]
}

#[test]
fn plan_apply_validate_never_show_a_secret() {
    let mut leaks = Vec::new();
    let good = || workspace(&[("a.yml", flow("a", "hi")), ("old.yml", flow("old", "v2"))]);
    let emu = kestra(Auth::Basic {
        username: USER.into(),
        password: PASSWORD.into(),
    });

    // successful runs
    for cmd in ["plan", "validate", "apply"] {
        let ws = good();
        let code = run(cmd, &[cmd], &basic(&emu, PASSWORD), ws.path(), &mut leaks);
        assert_eq!(code, 0, "{cmd} with the right password");
    }
    // wrong password: 401 from the server
    for cmd in ["plan", "validate", "apply"] {
        let ws = good();
        let wrong = Emulator::start_in_background(Options {
            auth: Auth::Basic {
                username: USER.into(),
                password: "another-one".into(),
            },
            ..Options::default()
        })
        .unwrap();
        let code = run(
            &format!("{cmd}, 401"),
            &[cmd],
            &basic(&wrong, PASSWORD),
            ws.path(),
            &mut leaks,
        );
        assert_eq!(code, 1, "{cmd} with a wrong password fails");
    }
    // an API token, right and wrong
    let bearer = kestra(Auth::Bearer(API_TOKEN.into()));
    let token_env = |e: &Emulator| {
        vec![
            ("KESTRA_URL", e.url()),
            ("KESTRA_API_TOKEN", API_TOKEN.to_string()),
        ]
    };
    let ws = good();
    assert_eq!(
        run(
            "plan, token",
            &["plan"],
            &token_env(&bearer),
            ws.path(),
            &mut leaks
        ),
        0
    );
    let other = kestra(Auth::Bearer("not-this-one".into()));
    assert_eq!(
        run(
            "apply, token 401",
            &["apply"],
            &token_env(&other),
            ws.path(),
            &mut leaks
        ),
        1
    );
    // unreachable server, with every credential set
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{closed}");
    let by_password = vec![
        ("KESTRA_URL", url.clone()),
        ("KESTRA_USERNAME", USER.into()),
        ("KESTRA_PASSWORD", PASSWORD.into()),
    ];
    let by_token = vec![("KESTRA_URL", url), ("KESTRA_API_TOKEN", API_TOKEN.into())];
    for env in [&by_password, &by_token] {
        for cmd in ["plan", "apply", "validate"] {
            let ws = good();
            assert_eq!(
                run(
                    &format!("{cmd}, unreachable"),
                    &[cmd],
                    env,
                    ws.path(),
                    &mut leaks
                ),
                1
            );
        }
    }
    // both credentials at once: refused before any request
    let mut both = basic(&emu, PASSWORD);
    both.push(("KESTRA_API_TOKEN", API_TOKEN.into()));
    let ws = good();
    assert_eq!(
        run(
            "plan, password and token",
            &["plan"],
            &both,
            ws.path(),
            &mut leaks
        ),
        1
    );
    // credentials written inside the URL
    let in_url = vec![(
        "KESTRA_URL",
        emu.url().replace(
            "http://",
            &format!("http://{}:{PASSWORD}@", USER.replace('@', "%40")),
        ),
    )];
    let ws = good();
    run(
        "plan, credentials in the URL",
        &["plan"],
        &in_url,
        ws.path(),
        &mut leaks,
    );
    // invalid flows (local problems), and a flow the server refuses
    let ws = workspace(&[("bad.yml", "id: [\n".into())]);
    assert_eq!(
        run(
            "apply, invalid flow",
            &["apply"],
            &basic(&emu, PASSWORD),
            ws.path(),
            &mut leaks
        ),
        1
    );
    let ws = workspace(&[(
        "refused.yml",
        "id: refused\nnamespace: prod\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.NoSuchTask\n".into(),
    )]);
    assert_eq!(
        run(
            "apply, refused by the server",
            &["apply"],
            &basic(&emu, PASSWORD),
            ws.path(),
            &mut leaks
        ),
        1
    );

    // --source git with a password: an unreachable remote, and credentials in the URL
    for url in [
        format!("http://127.0.0.1:{closed}/acme/flows.git"),
        format!("http://{USER}:{GIT_PASSWORD}@127.0.0.1:{closed}/acme/flows.git")
            .replace("ops@", "ops%40"),
    ] {
        let ws = good();
        let mut env = basic(&emu, PASSWORD);
        env.push(("KESTRA_SYNC_SOURCE", "git".into()));
        env.push(("KESTRA_SYNC_GIT_URL", url));
        env.push(("KESTRA_SYNC_GIT_USERNAME", USER.into()));
        env.push(("KESTRA_SYNC_GIT_PASSWORD", GIT_PASSWORD.into()));
        assert_eq!(
            run("plan --source git", &["plan"], &env, ws.path(), &mut leaks),
            1
        );
    }
    assert!(
        leaks.is_empty(),
        "{} leak(s):\n{}",
        leaks.len(),
        leaks.join("\n")
    );
}

/// The CI runs: `(label, the server's auth, whether the job uses the API token)`; the job
/// always sends `PASSWORD` or `API_TOKEN`, so the "401" servers expect something else.
fn ci_cases() -> Vec<(&'static str, Auth, bool)> {
    vec![
        (
            "password",
            Auth::Basic {
                username: USER.into(),
                password: PASSWORD.into(),
            },
            false,
        ),
        (
            "password, 401",
            Auth::Basic {
                username: USER.into(),
                password: "wrong-password-here".into(),
            },
            false,
        ),
        ("token", Auth::Bearer(API_TOKEN.into()), true),
        ("token, 401", Auth::Bearer("another-token".into()), true),
    ]
}

/// `kestra-sync ci` as a GitHub Docker action on a pull request: plan and comment, with
/// the right and a wrong Kestra password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_action_never_shows_a_secret() {
    let mut leaks = Vec::new();
    let mut logs = String::new();
    let gh = github_support::FakeGithub::start("").await;
    for (label, server, use_token) in ci_cases() {
        let emu = kestra(server);
        let ws = workspace(&[("a.yml", flow("a", "hi")), ("old.yml", flow("old", "v2"))]);
        let files = tempfile::tempdir().unwrap();
        let event = files.path().join("event.json");
        std::fs::write(
            &event,
            serde_json::json!({
                "action": "synchronize", "number": 7,
                "pull_request": {"number": 7,
                    "head": {"ref": "change", "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e", "repo": {"full_name": "acme/flows"}},
                    "base": {"ref": "main", "repo": {"full_name": "acme/flows"}}},
                "repository": {"full_name": "acme/flows", "default_branch": "main"}
            })
            .to_string(),
        )
        .unwrap();
        let output = files.path().join("output");
        let summary = files.path().join("summary");
        std::fs::write(&output, "").unwrap();
        std::fs::write(&summary, "").unwrap();
        let mut cmd = github_support::pull_request_runner(
            ws.path(),
            &event,
            &output,
            &summary,
            &gh.api_url(),
        );
        cmd.env("INPUT_TARGET-NAMESPACE", "prod")
            .env("INPUT_KESTRA-URL", emu.url())
            .envs(if use_token {
                vec![("INPUT_KESTRA-API-TOKEN", API_TOKEN)]
            } else {
                vec![
                    ("INPUT_KESTRA-USERNAME", USER),
                    ("INPUT_KESTRA-PASSWORD", PASSWORD),
                ]
            })
            .env("INPUT_GITHUB-TOKEN", GITHUB_TOKEN)
            .env("INPUT_RETRIES", "0");
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .unwrap()
            .unwrap();
        let what = format!("github action, {label}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        logs.push_str(&format!(
            "{what}\n{stdout}\n{}\n",
            String::from_utf8_lossy(&out.stderr)
        ));
        let secret = if use_token { API_TOKEN } else { PASSWORD };
        assert!(
            stdout.lines().any(|l| l == format!("::add-mask::{secret}")),
            "{what}: the Kestra secret is masked first\n{stdout}"
        );
        assert_clean(&format!("{what} (stdout)"), &stdout, &mut leaks);
        assert_clean(
            &format!("{what} (stderr)"),
            &String::from_utf8_lossy(&out.stderr),
            &mut leaks,
        );
        assert_clean(
            &format!("{what} (GITHUB_OUTPUT)"),
            &std::fs::read_to_string(&output).unwrap(),
            &mut leaks,
        );
        assert_clean(
            &format!("{what} (GITHUB_STEP_SUMMARY)"),
            &std::fs::read_to_string(&summary).unwrap(),
            &mut leaks,
        );
    }
    let comments = gh.comments("acme/flows", 7);
    assert!(!comments.is_empty(), "the plan was posted\n{logs}");
    for c in &comments {
        assert_clean("github comment", &c.body, &mut leaks);
    }
    for r in gh.api_requests().await {
        assert_clean(
            "a request body to GitHub",
            &String::from_utf8_lossy(&r.body),
            &mut leaks,
        );
    }
    assert!(
        leaks.is_empty(),
        "{} leak(s):\n{}",
        leaks.len(),
        leaks.join("\n")
    );
}

/// `kestra-sync ci` as a GitLab job on a merge request: plan and note, with the right and a
/// wrong Kestra password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_job_never_shows_a_secret() {
    let mut leaks = Vec::new();
    let mut logs = String::new();
    let fake = gitlab_support::FakeGitLab::new("42", 9);
    let gitlab = fake.start().await;
    for (label, server, use_token) in ci_cases() {
        let emu = kestra(server);
        let ws = workspace(&[("a.yml", flow("a", "hi")), ("old.yml", flow("old", "v2"))]);
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kestra-sync"));
        cmd.arg("ci")
            .current_dir(ws.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("KESTRA_SYNC_LOG", "debug")
            .env("GITLAB_CI", "true")
            .env("CI", "true")
            .env("CI_PIPELINE_SOURCE", "merge_request_event")
            .env("CI_API_V4_URL", format!("{}/api/v4", gitlab.uri()))
            .env("CI_PROJECT_ID", "42")
            .env("CI_PROJECT_DIR", ws.path())
            .env("CI_DEFAULT_BRANCH", "main")
            .env("CI_COMMIT_SHA", "f".repeat(40))
            .env("CI_MERGE_REQUEST_IID", "9")
            .env(
                "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA",
                "6dcb09b5b57875f334f61aebed695e2e4193db5e",
            )
            .env("CI_JOB_TOKEN", "glcbt-jobtoken-SECRET")
            .env("GITLAB_TOKEN", GITLAB_TOKEN)
            .env("KESTRA_URL", emu.url())
            .envs(if use_token {
                vec![("KESTRA_API_TOKEN", API_TOKEN)]
            } else {
                vec![("KESTRA_USERNAME", USER), ("KESTRA_PASSWORD", PASSWORD)]
            })
            .env("KESTRA_SYNC_TARGET_NAMESPACE", "prod")
            .env("KESTRA_SYNC_RETRIES", "0")
            .env("NO_COLOR", "1");
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .unwrap()
            .unwrap();
        let what = format!("gitlab job, {label}");
        let log = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !log.contains("glcbt-jobtoken-SECRET"),
            "{what}: the job token leaked"
        );
        logs.push_str(&format!("{what}\n{log}\n"));
        assert_clean(&what, &log, &mut leaks);
    }
    let notes = fake.notes_of(gitlab_support::BOT);
    assert!(!notes.is_empty(), "the plan was posted\n{logs}");
    for n in &notes {
        assert_clean(
            "gitlab note",
            n["body"].as_str().unwrap_or_default(),
            &mut leaks,
        );
    }
    assert!(
        leaks.is_empty(),
        "{} leak(s):\n{}",
        leaks.len(),
        leaks.join("\n")
    );
}

/// A secret given as a command-line flag (visible to every process on the machine) gets a
/// warning naming the environment variable to use instead; the run still works, and the
/// warning never shows the value. From the environment: no warning.
#[test]
fn a_secret_flag_on_the_command_line_is_warned_about() {
    let emu = kestra(Auth::Basic {
        username: USER.into(),
        password: PASSWORD.into(),
    });
    let ws = workspace(&[("old.yml", flow("old", "v1"))]);
    let run = |args: &[&str], env: &[(&str, &str)]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kestra-sync"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("NO_COLOR", "1")
            .env("KESTRA_URL", emu.url())
            .env("KESTRA_USERNAME", USER)
            .env("KESTRA_SYNC_WORKSPACE", ws.path())
            .env("KESTRA_SYNC_TARGET_NAMESPACE", "prod")
            .envs(env.iter().copied())
            .output()
            .unwrap()
    };
    let out = run(&["plan", &format!("--kestra-password={PASSWORD}")], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("warning: --kestra-password on the command line can be read by every process on this machine")
            && stderr.contains("set the environment variable KESTRA_PASSWORD instead"),
        "{stderr}"
    );
    let out = run(
        &[
            "validate",
            "--kestra-api-token",
            API_TOKEN,
            "--git-password",
            GIT_PASSWORD,
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("KESTRA_API_TOKEN instead"), "{stderr}");
    assert!(
        stderr.contains("KESTRA_SYNC_GIT_PASSWORD instead"),
        "{stderr}"
    );
    let mut leaks = Vec::new();
    assert_clean("stderr", &stderr, &mut leaks);
    assert!(leaks.is_empty(), "{leaks:?}");
    // the same secret from the environment: no warning
    let out = run(&["plan"], &[("KESTRA_PASSWORD", PASSWORD)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("on the command line"), "{stderr}");
}
