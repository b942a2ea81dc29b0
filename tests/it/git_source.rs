//! `--source git`: real shallow clones of a real repository served by `git http-backend`
//! over HTTP on loopback (a wiremock responder acting as the CGI bridge), with and without
//! HTTP Basic auth. Every error is checked for a clear message and for the absence of the
//! password in any form.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use kestra_sync::settings::GitSource;
use kestra_sync::source::git::{self, GitError};
use kestra_sync::source::SourceError;
use secrecy::SecretString;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const USER: &str = "alice";
const PASSWORD: &str = "gl-pat_S3cr3t+/=value";

/// Run git for fixture setup, isolated from the host's configuration.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A bare repository `flows.git` with branches `main` (2 commits) and `dev`.
struct Upstream {
    root: tempfile::TempDir,
    dev_tip: String,
}

fn upstream() -> Upstream {
    let root = tempfile::tempdir().unwrap();
    let work = root.path().join("work");
    std::fs::create_dir_all(work.join("_flows/team")).unwrap();
    git(&work, &["init", "-q"]);
    std::fs::write(
        work.join("_flows/hello.yml"),
        "id: hello\nnamespace: x\n# v1\n",
    )
    .unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "one"]);
    std::fs::write(
        work.join("_flows/hello.yml"),
        "id: hello\nnamespace: x\n# v2\n",
    )
    .unwrap();
    git(&work, &["commit", "-q", "-am", "two"]);
    git(&work, &["checkout", "-q", "-b", "dev"]);
    std::fs::write(work.join("_flows/team/dev_only.yml"), "id: dev_only\n").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "dev"]);
    let dev_tip = git(&work, &["rev-parse", "HEAD"]);
    git(
        root.path(),
        &["clone", "-q", "--bare", "work", "srv/flows.git"],
    );
    Upstream { root, dev_tip }
}

/// The CGI bridge: each request runs `git http-backend`; with `auth`, a request without the
/// right `Authorization: Basic` header gets `401` and a challenge.
struct GitHttpBackend {
    project_root: PathBuf,
    auth: Option<String>,
}

impl Respond for GitHttpBackend {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        if let Some(expected) = &self.auth {
            let given = req
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok());
            if given != Some(expected.as_str()) {
                return ResponseTemplate::new(401)
                    .insert_header("WWW-Authenticate", "Basic realm=\"git\"");
            }
        }
        let header = |name: &str| {
            req.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let mut child = Command::new("git")
            .arg("http-backend")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("GIT_PROJECT_ROOT", &self.project_root)
            .env("GIT_HTTP_EXPORT_ALL", "1")
            .env("REQUEST_METHOD", req.method.as_str())
            .env("PATH_INFO", req.url.path())
            .env("QUERY_STRING", req.url.query().unwrap_or(""))
            .env("CONTENT_TYPE", header("content-type"))
            .env("CONTENT_LENGTH", req.body.len().to_string())
            .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
            .env("GIT_PROTOCOL", header("git-protocol"))
            .env("REMOTE_ADDR", "127.0.0.1")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("git http-backend runs");
        {
            use std::io::Write as _;
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(&req.body).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        // CGI output: headers, a blank line, the body.
        let split = out
            .stdout
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|i| (i, 4))
            .or_else(|| {
                out.stdout
                    .windows(2)
                    .position(|w| w == b"\n\n")
                    .map(|i| (i, 2))
            })
            .expect("CGI headers");
        let (head, body) = (&out.stdout[..split.0], &out.stdout[split.0 + split.1..]);
        let head = String::from_utf8_lossy(head);
        let mut status = 200;
        let mut headers = Vec::new();
        for line in head.lines() {
            if let Some((k, v)) = line.split_once(':') {
                let (k, v) = (k.trim(), v.trim());
                if k.eq_ignore_ascii_case("status") {
                    status = v.split(' ').next().unwrap().parse().unwrap();
                } else {
                    headers.push((k.to_string(), v.to_string()));
                }
            }
        }
        let mut resp = ResponseTemplate::new(status);
        let mut content_type = String::from("application/octet-stream");
        for (k, v) in headers {
            if k.eq_ignore_ascii_case("content-type") {
                content_type = v;
            } else {
                resp = resp.insert_header(k.as_str(), v.as_str());
            }
        }
        resp.set_body_raw(body.to_vec(), &content_type)
    }
}

async fn serve(up: &Upstream, with_auth: bool) -> MockServer {
    let server = MockServer::start().await;
    let auth = with_auth.then(|| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
        )
    });
    Mock::given(wiremock::matchers::any())
        .respond_with(GitHttpBackend {
            project_root: up.root.path().join("srv"),
            auth,
        })
        .mount(&server)
        .await;
    server
}

fn source(url: String, branch: &str, user: Option<&str>, password: Option<&str>) -> GitSource {
    GitSource {
        url,
        branch: branch.into(),
        username: user.map(String::from),
        password: password.map(|p| SecretString::from(p.to_string())),
    }
}

/// The message shown to users, with every form of the password absent.
fn message_without_secret(err: &SourceError) -> String {
    let msg = format!("{err} / {err:?}");
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    for needle in [PASSWORD, "S3cr3t", b64.as_str()] {
        assert!(!msg.contains(needle), "secret `{needle}` leaked: {msg}");
    }
    err.to_string()
}

#[tokio::test]
async fn public_clone_yields_the_files_of_the_branch() {
    let up = upstream();
    let server = serve(&up, false).await;
    let url = format!("{}/flows.git", server.uri());
    let repo = git::clone(&source(url.clone(), "dev", None, None))
        .await
        .unwrap();
    let files = |p: &str| std::fs::read_to_string(repo.path().join(p)).unwrap();
    assert_eq!(files("_flows/hello.yml"), "id: hello\nnamespace: x\n# v2\n");
    assert_eq!(files("_flows/team/dev_only.yml"), "id: dev_only\n");
    assert_eq!(repo.commit(), up.dev_tip);
    assert_eq!(repo.branch(), "dev");
    assert_eq!(repo.url(), url);
    // Shallow: one commit only.
    let count = git(repo.path(), &["rev-list", "--count", "HEAD"]);
    assert_eq!(count, "1");

    let main = git::clone(&source(url, "main", None, None)).await.unwrap();
    assert!(!main.path().join("_flows/team/dev_only.yml").exists());
    // The temporary folder goes away with the value.
    let temp = repo.temp_dir().to_path_buf();
    drop(repo);
    assert!(!temp.exists());
}

#[tokio::test]
async fn private_clone_with_basic_credentials() {
    let up = upstream();
    let server = serve(&up, true).await;
    let url = format!("{}/flows.git", server.uri());
    let repo = git::clone(&source(url, "dev", Some(USER), Some(PASSWORD)))
        .await
        .unwrap();
    assert!(repo.path().join("_flows/team/dev_only.yml").is_file());
    assert_eq!(repo.commit(), up.dev_tip);
    // Nothing of the credentials is left in the clone's config.
    let config = std::fs::read_to_string(repo.path().join(".git/config")).unwrap();
    assert!(
        !config.contains(PASSWORD) && !config.contains(USER),
        "{config}"
    );
}

#[tokio::test]
async fn missing_branch_is_an_error_not_the_default_branch() {
    let up = upstream();
    let server = serve(&up, true).await;
    let url = format!("{}/flows.git", server.uri());
    let err = git::clone(&source(url.clone(), "prod", Some(USER), Some(PASSWORD)))
        .await
        .unwrap_err();
    let msg = message_without_secret(&err);
    assert!(
        matches!(&err, SourceError::Git(GitError::BranchNotFound { .. })),
        "{msg}"
    );
    assert_eq!(
        msg,
        format!("branch `prod` does not exist in {url}: check --git-branch (env KESTRA_SYNC_GIT_BRANCH, default `main`)")
    );
}

#[tokio::test]
async fn wrong_password_says_authentication_failed() {
    let up = upstream();
    let server = serve(&up, true).await;
    let url = format!("{}/flows.git", server.uri());
    let wrong = format!("{PASSWORD}-wrong");
    let err = git::clone(&source(url.clone(), "main", Some(USER), Some(&wrong)))
        .await
        .unwrap_err();
    let msg = message_without_secret(&err);
    assert!(!msg.contains(&wrong));
    assert!(
        matches!(
            &err,
            SourceError::Git(GitError::AuthenticationFailed { .. })
        ),
        "{msg}"
    );
    assert!(
        msg.starts_with(&format!("authentication failed for {url}:")),
        "{msg}"
    );
}

#[tokio::test]
async fn private_repository_without_credentials_asks_for_them() {
    let up = upstream();
    let server = serve(&up, true).await;
    let url = format!("{}/flows.git", server.uri());
    let err = git::clone(&source(url, "main", None, None))
        .await
        .unwrap_err();
    let msg = message_without_secret(&err);
    assert!(
        matches!(
            &err,
            SourceError::Git(GitError::AuthenticationRequired { .. })
        ),
        "{msg}"
    );
    assert!(msg.contains("--git-username and --git-password"), "{msg}");
}

#[tokio::test]
async fn missing_repository() {
    let up = upstream();
    let server = serve(&up, false).await;
    let url = format!("{}/nope.git", server.uri());
    let err = git::clone(&source(url, "main", None, None))
        .await
        .unwrap_err();
    let msg = message_without_secret(&err);
    assert!(
        matches!(&err, SourceError::Git(GitError::RepositoryNotFound { .. })),
        "{msg}"
    );
}

#[tokio::test]
async fn url_with_embedded_credentials_is_refused_before_any_request() {
    let up = upstream();
    let server = serve(&up, true).await;
    let authority = server.uri().replace("http://", "");
    let url = format!("http://{USER}:{PASSWORD}@{authority}/flows.git");
    let err = git::clone(&source(url, "main", None, None))
        .await
        .unwrap_err();
    let msg = message_without_secret(&err);
    assert!(msg.contains("contains credentials"), "{msg}");
    assert!(
        msg.contains("--git-username / --git-password (env KESTRA_SYNC_GIT_USERNAME / KESTRA_SYNC_GIT_PASSWORD)"),
        "{msg}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

/// A stand-in `git` records what a process listing would show (its arguments) and its
/// environment, then fails with the secret in its output: the error must be scrubbed.
#[cfg(unix)]
#[tokio::test]
async fn the_secret_is_never_in_process_arguments_and_never_echoed() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("fake-git");
    let args_file = dir.path().join("args");
    let env_file = dir.path().join("env");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\nenv > '{}'\n\
             echo \"fatal: unable to access 'https://$KESTRA_SYNC_CREDENTIAL_USERNAME:$KESTRA_SYNC_CREDENTIAL_PASSWORD@h.example/': $KESTRA_SYNC_CREDENTIAL_PASSWORD\" >&2\nexit 128\n",
            args_file.display(),
            env_file.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();

    let src = source(
        "https://h.example/acme/flows.git".into(),
        "main",
        Some(USER),
        Some(PASSWORD),
    );
    // Another test thread forking while this script was open for writing makes exec fail
    // with ETXTBSY ("Text file busy") for a moment: a known race of writing executables in a
    // multi-threaded test process, not the behaviour under test. Retry briefly.
    let mut attempt = 0;
    let err = loop {
        let err = git::clone_with(&src, script.to_str().unwrap())
            .await
            .unwrap_err();
        if err.to_string().contains("Text file busy") && attempt < 20 {
            attempt += 1;
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        }
        break err;
    };
    let msg = message_without_secret(&err);
    assert!(
        msg.contains("git clone of https://h.example/acme/flows.git"),
        "{msg}"
    );
    assert!(msg.contains("https://***@h.example/"), "{msg}");

    let args = std::fs::read_to_string(&args_file).unwrap();
    assert!(!args.contains(PASSWORD), "{args}");
    assert!(args.contains("--depth\n1\n--single-branch"), "{args}");
    let env = std::fs::read_to_string(&env_file).unwrap();
    assert!(env.contains(&format!("KESTRA_SYNC_CREDENTIAL_PASSWORD={PASSWORD}")));
    assert!(env.contains("GIT_TERMINAL_PROMPT=0"), "{env}");
    assert!(env.contains("GIT_CONFIG_NOSYSTEM=1"), "{env}");
    // HOME is the clone's own temporary folder, not the user's.
    let home = env
        .lines()
        .find_map(|l| l.strip_prefix("HOME="))
        .unwrap_or_default();
    assert!(home.contains("kestra-sync-git-"), "{home}");
    // Nothing else of ours leaks into git's environment (e.g. CARGO_*, the caller's vars).
    assert!(!env.contains("CARGO_"), "{env}");
}

/// Through the binary: the clone's errors reach the user whole, and the password given in
/// the environment is never printed.
#[tokio::test]
async fn the_binary_reports_clone_errors_without_the_secret() {
    let up = upstream();
    let server = serve(&up, true).await;
    let url = format!("{}/flows.git", server.uri());
    for (branch, password, expected) in [
        (
            "prod",
            PASSWORD.to_string(),
            format!("error: branch `prod` does not exist in {url}: check --git-branch"),
        ),
        (
            "main",
            format!("{PASSWORD}-wrong"),
            format!("error: authentication failed for {url}: check --git-username"),
        ),
    ] {
        let url = url.clone();
        let out = tokio::task::spawn_blocking(move || {
            assert_cmd::Command::cargo_bin("kestra-sync")
                .unwrap()
                .args(["validate", "--target-namespace", "prod", "--git-url", &url])
                .args(["--git-branch", branch])
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("KESTRA_SYNC_GIT_USERNAME", USER)
                .env("KESTRA_SYNC_GIT_PASSWORD", &password)
                .env("KESTRA_SYNC_LOG", "debug")
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(&expected), "{stderr}");
        assert!(
            !stderr.contains("S3cr3t") && !stdout.contains("S3cr3t"),
            "{stderr}"
        );
    }
}
