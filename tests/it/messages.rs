//! What a newcomer reads after the usual mistakes on a laptop, from the binary as typed:
//! each message says what happened and what to do, in one line, in the words of the option
//! or file involved. One snapshot per mistake: a web server that is not Kestra, Kestra behind
//! a single-sign-on page, a redirect to the right address, nothing listening, a host name
//! that does not resolve, no credentials, a wrong password, a tab in the indentation, flow
//! files in subfolders without `--include-child-namespaces`. And `KESTRA_SYNC_LOG=debug`:
//! one line per request (method, path, status, time), no secret, no connection-pool lines.

use crate::common;

use std::process::{Command, Output};

use common::{Emulator, Workspace, PASSWORD, USER};
use regex::Regex;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const FLOW: &str =
    "id: hello\nnamespace: demo\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";

/// `kestra-sync <args>` with only the given environment (no retries: the messages are
/// about the first failure, and a retry's jittered wait would be in the log).
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kestra-sync"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .env("KESTRA_SYNC_RETRIES", "0")
        .env("KESTRA_SYNC_TIMEOUT", "10")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// `plan` of a one-flow workspace against `url`, with `env` added.
fn plan_against(url: &str, env: &[(&str, &str)]) -> String {
    let ws = Workspace::new();
    ws.write("hello.yml", FLOW);
    let workspace = ws.path().display().to_string();
    let mut all = vec![
        ("KESTRA_URL", url),
        ("KESTRA_SYNC_WORKSPACE", workspace.as_str()),
        ("KESTRA_SYNC_TARGET_NAMESPACE", "demo"),
    ];
    all.extend_from_slice(env);
    let out = run(&["plan"], &all);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    shown(&out)
}

/// stderr (and stdout) with the local port numbers taken out.
fn shown(out: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Regex::new(r"127\.0\.0\.1:\d+")
        .unwrap()
        .replace_all(&text, "127.0.0.1:<port>")
        .into_owned()
}

/// The one `error:` line; nothing else but `INFO` progress lines.
fn one_error_line(text: &str) -> &str {
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with(" INFO ")).collect();
    assert_eq!(lines.len(), 1, "one line:\n{text}");
    assert!(lines[0].starts_with("error: "), "{text}");
    lines[0]
}

/// What `python3 -m http.server` answers for a path it does not have.
const PYTHON_404: &str = r#"<!DOCTYPE HTML>
<html lang="en">
    <head>
        <meta charset="utf-8">
        <title>Error response</title>
    </head>
    <body>
        <h1>Error response</h1>
        <p>Error code: 404</p>
        <p>Message: File not found.</p>
        <p>Error code explanation: 404 - Nothing matches the given URI.</p>
    </body>
</html>
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_server_that_is_not_kestra_is_named_so() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_raw(PYTHON_404.as_bytes(), "text/html;charset=utf-8"),
        )
        .mount(&server)
        .await;
    let text = plan_against(&server.uri(), &[]);
    let line = one_error_line(&text);
    assert_eq!(line.matches("Error response").count(), 1, "{line}");
    assert!(!line.contains(".."), "{line}");
    insta::assert_snapshot!("not_kestra__check_kestra_url", line);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_a_login_page_says_kestra_is_behind_a_login_proxy() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/configs"))
        .respond_with(ResponseTemplate::new(302).insert_header(
            "location",
            "https://sso.example.com/realms/corp/protocol/openid-connect/auth?client_id=kestra&state=St4te-SECRET",
        ))
        .mount(&server)
        .await;
    let text = plan_against(&server.uri(), &[]);
    let line = one_error_line(&text);
    assert!(!line.contains("St4te-SECRET"), "{line}");
    insta::assert_snapshot!("sso_redirect__reach_the_api_without_the_login_proxy", line);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_the_same_api_elsewhere_gives_the_address_to_use() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/configs"))
        .respond_with(
            ResponseTemplate::new(301)
                .insert_header("location", "https://kestra.example.com/api/v1/configs"),
        )
        .mount(&server)
        .await;
    let text = plan_against(&server.uri(), &[]);
    insta::assert_snapshot!(
        "https_redirect__give_the_final_address",
        one_error_line(&text)
    );
}

#[test]
fn nothing_listening_says_what_to_check() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let text = plan_against(&format!("http://127.0.0.1:{port}"), &[]);
    insta::assert_snapshot!(
        "connection_refused__check_url_server_and_network",
        one_error_line(&text)
    );
}

#[test]
fn a_host_name_that_does_not_resolve_is_not_retried_and_says_so() {
    // `.invalid` never resolves (RFC 6761). With retries allowed, none is made.
    let ws = Workspace::new();
    ws.write("hello.yml", FLOW);
    let workspace = ws.path().display().to_string();
    let out = run(
        &["plan"],
        &[
            ("KESTRA_URL", "https://kestra.example.invalid"),
            ("KESTRA_SYNC_WORKSPACE", &workspace),
            ("KESTRA_SYNC_TARGET_NAMESPACE", "demo"),
            ("KESTRA_SYNC_RETRIES", "4"),
        ],
    );
    let text = shown(&out);
    assert!(!text.contains("retry"), "{text}");
    insta::assert_snapshot!("dns_failure__check_the_host_name", one_error_line(&text));
}

fn emulator_plan(emu: &Emulator, env: &[(&str, &str)]) -> String {
    plan_against(&emu.url(), env)
}

#[test]
fn no_credentials_and_a_wrong_password_read_differently() {
    let emu = common::emulator();
    let none = emulator_plan(&emu, &[]);
    let wrong = emulator_plan(
        &emu,
        &[
            ("KESTRA_USERNAME", USER),
            ("KESTRA_PASSWORD", "not-the-password"),
        ],
    );
    assert_ne!(none, wrong);
    assert!(!wrong.contains("not-the-password") && !wrong.contains(PASSWORD));
    insta::assert_snapshot!(
        "no_credentials__set_username_and_password",
        one_error_line(&none)
    );
    insta::assert_snapshot!(
        "wrong_password__check_username_and_password",
        one_error_line(&wrong)
    );
}

#[test]
fn a_tab_in_the_indentation_says_yaml_forbids_tabs() {
    let ws = Workspace::new();
    ws.write(
        "hello.yml",
        "id: hello\nnamespace: demo\ntasks:\n\t- id: log\n\t  type: io.kestra.plugin.core.log.Log\n",
    );
    let workspace = ws.path().display().to_string();
    let out = run(
        &[
            "validate",
            "--target-namespace",
            "demo",
            "--workspace",
            &workspace,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = shown(&out);
    assert!(
        !text.contains("nothing was written"),
        "validate writes nothing: {text}"
    );
    insta::assert_snapshot!("tab__indent_with_spaces", text);
}

#[test]
fn flow_files_in_subfolders_are_counted_and_how_to_include_them_is_said() {
    let emu = common::emulator();
    let ws = Workspace::new();
    ws.write("hello.yml", FLOW);
    ws.write("team/a.yml", FLOW.replace("hello", "a"));
    ws.write("team/deep/b.yaml", FLOW.replace("hello", "b"));
    ws.write("team/notes.txt", "not a flow");
    let out = common::kestra_sync(&emu, &ws, "demo")
        .arg("plan")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let note: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("subfolders"))
        .collect();
    insta::assert_snapshot!(
        "skipped_subfolders__pass_include_child_namespaces",
        note.join("\n")
    );
    // With the option, nothing is said: they are read.
    let out = common::kestra_sync(&emu, &ws, "demo")
        .args(["plan", "--include-child-namespaces"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("subfolders"));
}

#[test]
fn the_debug_log_is_one_line_per_request_without_secrets() {
    let emu = common::emulator();
    let ws = Workspace::new();
    ws.write("hello.yml", FLOW);
    let out = common::kestra_sync(&emu, &ws, "demo")
        .arg("apply")
        .env("KESTRA_SYNC_LOG", "debug")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let request =
        Regex::new(r"^DEBUG (GET|POST|PUT|DELETE) /api/v1/\S* -> \d{3} [A-Za-z ]+ in \d+ ms$")
            .unwrap();
    let requests: Vec<&str> = stderr.lines().filter(|l| request.is_match(l)).collect();
    for expected in [
        "DEBUG GET /api/v1/configs -> 200 OK in ",
        "DEBUG POST /api/v1/main/flows/validate -> 200 OK in ",
        "DEBUG POST /api/v1/main/flows -> 200 OK in ",
    ] {
        assert!(
            requests.iter().any(|l| l.starts_with(expected)),
            "no `{expected}` line:\n{stderr}"
        );
    }
    // Every DEBUG line is a request line: no connection pool, no TLS, no HTTP/2 frames.
    for line in stderr.lines().filter(|l| l.starts_with("DEBUG")) {
        assert!(
            request.is_match(line),
            "not a request line: {line}\n{stderr}"
        );
    }
    let basic = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
    };
    assert!(
        !stderr.contains(PASSWORD) && !stderr.contains(&basic),
        "{stderr}"
    );
}

#[test]
fn a_kestra_url_without_scheme_says_what_to_write() {
    let typed = |url: &str| {
        let out = run(
            &["plan", "--target-namespace", "demo", "--kestra-url", url],
            &[],
        );
        assert_eq!(out.status.code(), Some(1));
        shown(&out)
    };
    insta::assert_snapshot!(
        "kestra_url_without_scheme__write_http_or_https",
        one_error_line(&typed("localhost:8080"))
    );
    // Something that may hold credentials is never echoed.
    let secret = typed("admin:Pw-SECRET@kestra:8080");
    assert!(!secret.contains("Pw-SECRET"), "{secret}");
    one_error_line(&secret);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_does_not_answer_in_time_says_what_to_check() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(5)))
        .mount(&server)
        .await;
    let text = plan_against(&server.uri(), &[("KESTRA_SYNC_TIMEOUT", "1")]);
    insta::assert_snapshot!(
        "timeout__check_the_server_or_raise_timeout",
        one_error_line(&text)
    );
}
