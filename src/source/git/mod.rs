//! Sync from a Git URL (`--source git --git-url … --branch …`), as SyncFlows does from inside
//! Kestra: a shallow clone of one branch into a temporary folder, which then serves as the
//! workspace for [`crate::source::workspace::read`].
//!
//! **Why the `git` program and not a library.** `git clone --depth 1 --single-branch` is the
//! one implementation that every Git server, proxy (`HTTPS_PROXY`, `NO_PROXY`), custom CA
//! (`GIT_SSL_CAINFO`) and auth scheme is tested against, and shallow clones are first class.
//! `git2` (libgit2) drags in OpenSSL or a second TLS stack and its shallow support is recent
//! and partial; `gix` is pure Rust but its HTTP transport and shallow negotiation are still
//! feature-gated and it costs minutes of compile on a 2-core runner for one clone per run.
//! The price is that the image must ship `git` (and `sh`, which GitLab CI needs anyway); a
//! missing `git` is a clear error saying to install it.
//!
//! **Credentials never reach process arguments or the URL.** A URL with `user:pass@` is
//! refused (use `--git-username` / `--git-password`). The password goes to git in an
//! environment variable of ours, read by an inline credential helper that git runs only for
//! this URL's origin after a `401`; so curl sends it as HTTP Basic auth, which it does not
//! forward to another host on a redirect (unlike `http.extraHeader`). The child gets a clean
//! environment (no host credential helpers, no `~/.gitconfig`, no system config, no
//! terminal prompt, `HOME` inside the temporary folder, messages in English so that failures
//! can be recognised) and anything git prints is scrubbed of the secret before it is shown.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tempfile::TempDir;

use super::SourceError;

mod inputs;

use inputs::{check_branch, Credentials, Remote, Scrubber};

/// Longest a clone may take before it is abandoned.
pub const CLONE_TIMEOUT: Duration = Duration::from_secs(600);

/// User name sent when only a password (a token) is given: GitHub, GitLab (personal and
/// project access tokens) and Azure DevOps accept any user name with a token.
pub const DEFAULT_TOKEN_USERNAME: &str = "x-access-token";

/// Environment variables (read by the inline credential helper) carrying the credentials.
const ENV_USERNAME: &str = "KESTRA_SYNC_CREDENTIAL_USERNAME";
const ENV_PASSWORD: &str = "KESTRA_SYNC_CREDENTIAL_PASSWORD";

/// Variables passed through to git from our environment: the search path, proxies, CA
/// bundles and temp dir. Everything else (host credential helpers, `GIT_TRACE`, `GIT_DIR`,
/// askpass programs, the caller's secrets) stays out.
const PASSED_THROUGH: &[&str] = &[
    "PATH",
    "TMPDIR",
    "SYSTEMROOT",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "GIT_SSL_CAINFO",
    "GIT_SSL_CAPATH",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// Why a clone failed. Messages name the URL (never with credentials) and say what to do.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("the Git URL `{url}` contains credentials: remove them from the URL and pass them with --git-username / --git-password (env KESTRA_SYNC_GIT_USERNAME / KESTRA_SYNC_GIT_PASSWORD)")]
    CredentialsInUrl { url: String },
    #[error("--git-url `{url}` is not a URL ({why}): give an HTTPS URL, e.g. https://github.com/acme/flows.git")]
    InvalidUrl { url: String, why: String },
    #[error("--git-url `{url}` uses `{scheme}`: only https:// (or http://) URLs are supported")]
    UnsupportedScheme { url: String, scheme: String },
    #[error("--branch `{branch}` is not a valid branch name: {why}")]
    InvalidBranch { branch: String, why: String },
    #[error("--git-{which} must not contain a line break or a NUL character")]
    InvalidCredential { which: &'static str },
    #[error("the `git` program was not found ({program}): install git in the image or on the machine (e.g. `apk add git`, `apt-get install git`) to use --source git")]
    GitNotInstalled { program: String },
    #[error("branch `{branch}` does not exist in {url}: check --git-branch (env KESTRA_SYNC_GIT_BRANCH, default `main`)")]
    BranchNotFound { branch: String, url: String },
    #[error("authentication failed for {url}: check --git-username / --git-password (env KESTRA_SYNC_GIT_USERNAME / KESTRA_SYNC_GIT_PASSWORD); the password is a token with read access to the repository")]
    AuthenticationFailed { url: String },
    #[error("{url} requires authentication: pass --git-username and --git-password (env KESTRA_SYNC_GIT_USERNAME / KESTRA_SYNC_GIT_PASSWORD)")]
    AuthenticationRequired { url: String },
    #[error("repository {url} not found (or not visible with these credentials): check --git-url and the token's access")]
    RepositoryNotFound { url: String },
    #[error("cloning {url} took longer than {seconds} s: check the network, proxy (HTTPS_PROXY) and the repository size")]
    Timeout { url: String, seconds: u64 },
    #[error("git clone of {url} (branch `{branch}`) failed ({status}): {stderr}")]
    Failed {
        url: String,
        branch: String,
        status: String,
        stderr: String,
    },
    #[error("cannot prepare a temporary folder for the clone: {0}")]
    TempDir(std::io::Error),
    #[error("cannot run `{program}`: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
}

/// A shallow clone in a temporary folder, removed when this value is dropped.
#[derive(Debug)]
pub struct ClonedRepo {
    dir: TempDir,
    checkout: PathBuf,
    commit: String,
    url: String,
    branch: String,
}

impl ClonedRepo {
    /// The checked-out tree: use it as the workspace.
    pub fn path(&self) -> &Path {
        &self.checkout
    }
    /// The commit that was checked out (40 hex digits), for plan footers.
    pub fn commit(&self) -> &str {
        &self.commit
    }
    /// The URL, without credentials, query or fragment.
    pub fn url(&self) -> &str {
        &self.url
    }
    pub fn branch(&self) -> &str {
        &self.branch
    }
    /// The temporary folder holding the clone (and git's empty `HOME`).
    pub fn temp_dir(&self) -> &Path {
        self.dir.path()
    }
}

/// `--git-url` and friends.
#[derive(Debug, Clone)]
pub struct GitSource {
    pub url: String,
    pub branch: String,
    pub username: Option<String>,
    pub password: Option<SecretString>,
}

/// Shallow-clone `src.branch` of `src.url` with the `git` found in `PATH`.
pub async fn clone(src: &GitSource) -> Result<ClonedRepo, SourceError> {
    clone_with(src, "git").await
}

/// [`clone`] with a given git executable (a path, or a name looked up in `PATH`).
pub async fn clone_with(src: &GitSource, git: &str) -> Result<ClonedRepo, SourceError> {
    Ok(clone_inner(src, git).await?)
}

async fn clone_inner(src: &GitSource, git: &str) -> Result<ClonedRepo, GitError> {
    let remote = Remote::parse(&src.url)?;
    check_branch(&src.branch)?;
    let credentials = Credentials::from_source(src)?;
    let dir = tempfile::Builder::new()
        .prefix("kestra-sync-git-")
        .tempdir()
        .map_err(GitError::TempDir)?;
    let home = dir.path().join("home");
    std::fs::create_dir(&home).map_err(GitError::TempDir)?;
    let checkout = dir.path().join("repo");

    let invocation = clone_invocation(&remote, &src.branch, credentials.as_ref(), &checkout);
    let scrubber = Scrubber::new(&remote, credentials.as_ref());
    let output = run(git, &invocation, &home, &remote).await?;
    if !output.status.success() {
        let stderr = scrubber.scrub(&String::from_utf8_lossy(&output.stderr));
        return Err(classify_failure(
            &remote,
            &src.branch,
            credentials.is_some(),
            &output.status.to_string(),
            &stderr,
        ));
    }

    let rev_parse = Invocation {
        args: ["-C", path_str(&checkout).as_str(), "rev-parse", "HEAD"]
            .iter()
            .map(OsString::from)
            .collect(),
        env: Vec::new(),
    };
    let output = run(git, &rev_parse, &home, &remote).await?;
    let commit = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if !output.status.success() || commit.is_empty() {
        return Err(GitError::Failed {
            url: remote.display.clone(),
            branch: src.branch.clone(),
            status: output.status.to_string(),
            stderr: scrubber.scrub(&String::from_utf8_lossy(&output.stderr)),
        });
    }
    Ok(ClonedRepo {
        dir,
        checkout,
        commit,
        url: remote.display,
        branch: src.branch.clone(),
    })
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// What is handed to one git process: arguments (visible to `ps`) and extra environment
/// (visible only to the same user). Secrets may only ever be in `env`.
#[derive(Debug)]
pub(crate) struct Invocation {
    pub(crate) args: Vec<OsString>,
    pub(crate) env: Vec<(&'static str, SecretString)>,
}

/// The inline credential helper: answers `get` from our environment variables, ignores
/// `store` and `erase`. It contains variable *names*, never values.
fn credential_helper() -> String {
    format!(
        "!f() {{ test \"$1\" = get || exit 0; printf 'username=%s\\npassword=%s\\n' \"${ENV_USERNAME}\" \"${ENV_PASSWORD}\"; }}; f"
    )
}

fn clone_invocation(
    remote: &Remote,
    branch: &str,
    credentials: Option<&Credentials>,
    dest: &Path,
) -> Invocation {
    let mut args: Vec<OsString> = Vec::new();
    let mut config = |kv: String| {
        args.push("-c".into());
        args.push(kv.into());
    };
    // Forget every credential helper configured anywhere, then add ours for this origin only.
    config("credential.helper=".into());
    if credentials.is_some() {
        config(format!(
            "credential.{}.helper={}",
            remote.origin,
            credential_helper()
        ));
    }
    // Only HTTP(S); no `ext::` or `file::` transports smuggled in by the remote.
    config("protocol.allow=never".into());
    config("protocol.https.allow=always".into());
    config("protocol.http.allow=always".into());
    config("advice.detachedHead=false".into());
    for a in [
        "clone",
        "--quiet",
        "--depth",
        "1",
        "--single-branch",
        "--no-tags",
        "--branch",
        branch,
        "--",
        remote.url.as_str(),
    ] {
        args.push(a.into());
    }
    args.push(dest.as_os_str().to_owned());
    let env = credentials
        .map(|c| {
            vec![
                (ENV_USERNAME, SecretString::from(c.username.clone())),
                (ENV_PASSWORD, c.password.clone()),
            ]
        })
        .unwrap_or_default();
    Invocation { args, env }
}

/// Run git with a clean environment; a missing program becomes [`GitError::GitNotInstalled`].
async fn run(
    git: &str,
    invocation: &Invocation,
    home: &Path,
    remote: &Remote,
) -> Result<std::process::Output, GitError> {
    let mut cmd = tokio::process::Command::new(git);
    cmd.args(&invocation.args)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for name in PASSED_THROUGH {
        if let Some(v) = std::env::var_os(name) {
            cmd.env(name, v);
        }
    }
    cmd.env("HOME", home)
        .env("XDG_CONFIG_HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GCM_INTERACTIVE", "never")
        .env("LC_ALL", "C")
        .env("LANGUAGE", "C")
        .env("GIT_HTTP_LOW_SPEED_LIMIT", "1000")
        .env("GIT_HTTP_LOW_SPEED_TIME", "60");
    for (name, value) in &invocation.env {
        cmd.env(name, value.expose_secret());
    }
    let child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => GitError::GitNotInstalled {
            program: git.to_string(),
        },
        _ => GitError::Spawn {
            program: git.to_string(),
            source: e,
        },
    })?;
    match tokio::time::timeout(CLONE_TIMEOUT, child.wait_with_output()).await {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(e)) => Err(GitError::Spawn {
            program: git.to_string(),
            source: e,
        }),
        Err(_) => Err(GitError::Timeout {
            url: remote.display.clone(),
            seconds: CLONE_TIMEOUT.as_secs(),
        }),
    }
}

/// Turn git's (scrubbed, English) stderr into a specific error when we recognise it.
fn classify_failure(
    remote: &Remote,
    branch: &str,
    had_credentials: bool,
    status: &str,
    stderr: &str,
) -> GitError {
    let lower = stderr.to_ascii_lowercase();
    let url = remote.display.clone();
    if lower.contains("remote branch") && lower.contains("not found") {
        GitError::BranchNotFound {
            branch: branch.to_string(),
            url,
        }
    } else if lower.contains("authentication failed") {
        if had_credentials {
            GitError::AuthenticationFailed { url }
        } else {
            GitError::AuthenticationRequired { url }
        }
    } else if lower.contains("could not read username")
        || lower.contains("could not read password")
        || lower.contains("terminal prompts disabled")
    {
        GitError::AuthenticationRequired { url }
    } else if lower.contains("not found") && lower.contains("repository") {
        GitError::RepositoryNotFound { url }
    } else {
        GitError::Failed {
            url,
            branch: branch.to_string(),
            status: status.to_string(),
            stderr: stderr.trim().to_string(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::GitSource;
    use secrecy::SecretString;

    pub(crate) const PASSWORD: &str = "s3cr3t-T0ken/with+chars";

    pub(crate) fn source(url: &str, user: Option<&str>, password: Option<&str>) -> GitSource {
        GitSource {
            url: url.into(),
            branch: "main".into(),
            username: user.map(String::from),
            password: password.map(|p| SecretString::from(p.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::git::tests_support::*;

    #[test]
    fn secrets_only_in_environment_never_in_arguments() {
        let remote = Remote::parse("https://git.example.com/acme/flows.git").unwrap();
        let src = source(&remote.url, Some("alice"), Some(PASSWORD));
        let creds = Credentials::from_source(&src).unwrap();
        let inv = clone_invocation(&remote, "dev", creds.as_ref(), Path::new("/tmp/x/repo"));
        let args: Vec<String> = inv
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let joined = args.join(" ");
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("alice:{PASSWORD}"));
        assert!(
            !joined.contains(PASSWORD) && !joined.contains(&b64),
            "{joined}"
        );
        assert!(!joined.contains("s3cr3t"), "{joined}");
        // The helper is scoped to the origin and reads the password from the environment.
        assert!(joined.contains("credential.helper= "), "{joined}");
        assert!(
            joined.contains("credential.https://git.example.com.helper=!f()"),
            "{joined}"
        );
        assert!(
            joined.contains("$KESTRA_SYNC_CREDENTIAL_PASSWORD"),
            "{joined}"
        );
        // Options that shape the clone; the URL after `--` so it cannot be an option.
        let tail: Vec<&str> = args
            .iter()
            .map(String::as_str)
            .skip_while(|a| *a != "clone")
            .collect();
        assert_eq!(
            tail,
            [
                "clone",
                "--quiet",
                "--depth",
                "1",
                "--single-branch",
                "--no-tags",
                "--branch",
                "dev",
                "--",
                "https://git.example.com/acme/flows.git",
                "/tmp/x/repo"
            ]
        );
        let env: Vec<(&str, &str)> = inv
            .env
            .iter()
            .map(|(k, v)| (*k, v.expose_secret()))
            .collect();
        assert_eq!(env, [(ENV_USERNAME, "alice"), (ENV_PASSWORD, PASSWORD)]);
        // Debug output of the invocation (e.g. in a log) does not show the secret.
        assert!(!format!("{inv:?}").contains(PASSWORD));
    }

    #[test]
    fn no_credentials_no_helper() {
        let remote = Remote::parse("https://git.example.com/acme/flows.git").unwrap();
        let inv = clone_invocation(&remote, "main", None, Path::new("/tmp/r"));
        let joined: Vec<String> = inv
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(joined.contains(&"credential.helper=".to_string()));
        assert!(!joined.iter().any(|a| a.contains("!f()")));
        assert!(inv.env.is_empty());
    }

    #[test]
    fn failures_are_recognised() {
        let remote = Remote::parse("https://h.example/acme/flows.git").unwrap();
        let c =
            |had, stderr: &str| classify_failure(&remote, "dev", had, "exit status: 128", stderr);
        assert!(matches!(
            c(false, "warning: Could not find remote branch dev to clone.\nfatal: Remote branch dev not found in upstream origin\n"),
            GitError::BranchNotFound { .. }
        ));
        assert!(matches!(
            c(
                true,
                "fatal: Authentication failed for 'https://h.example/acme/flows.git/'\n"
            ),
            GitError::AuthenticationFailed { .. }
        ));
        assert!(matches!(
            c(false, "fatal: could not read Username for 'https://h.example': terminal prompts disabled\n"),
            GitError::AuthenticationRequired { .. }
        ));
        assert!(matches!(
            c(false, "remote: Repository not found.\nfatal: repository 'https://h.example/acme/flows.git/' not found\n"),
            GitError::RepositoryNotFound { .. }
        ));
        let other = c(
            false,
            "fatal: unable to access 'https://h.example/': Could not resolve host: h.example\n",
        );
        assert!(
            other.to_string().contains("Could not resolve host"),
            "{other}"
        );
        assert!(other.to_string().contains("branch `dev`"), "{other}");
        let msg = c(true, "fatal: Authentication failed").to_string();
        assert!(
            msg.starts_with("authentication failed for https://h.example/acme/flows.git"),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn missing_git_program_says_to_install_git() {
        let src = source("https://h.example/acme/flows.git", None, None);
        let err = clone_with(&src, "/nonexistent/kestra-sync-test/git")
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("install git"), "{msg}");
    }
}
