//! The seed's own guard, for CI files. Kestra's SyncFlows refused a password written in
//! plain text ("It looks like you have hard-coded Git credentials. Make sure to pass the
//! credential securely using a Pebble expression (e.g. using secrets or environment
//! variables)."). In CI the same mistake is a secret written as a literal in the CI file,
//! in the repository for everyone who can read it:
//!
//! - GitHub Actions: `kestra-password`, `kestra-api-token`, `github-token` or `git-password`
//!   given to a kestra-sync step's `with:` as anything but an expression (`${{ secrets.… }}`),
//!   in the calling workflow (`GITHUB_WORKFLOW_REF`: the file in the workspace, else read
//!   through the API at the workflow's ref);
//! - GitLab CI: `KESTRA_PASSWORD`, `KESTRA_API_TOKEN` or `GITLAB_TOKEN` in a `variables:`
//!   block of `.gitlab-ci.yml` (or `CI_CONFIG_PATH`) with a value that is not a variable
//!   reference (`$NAME`);
//! - on a terminal: a secret given as a command-line flag (every process on the machine can
//!   read it) gets a warning naming the environment variable to use instead.
//!
//! The CI checks fail the job: the secret is already exposed and must be rotated. A CI
//! file that cannot be read or parsed is not checked (the run goes on; debug log).

use serde_yaml_ng::Value;

/// GitHub inputs that carry a secret.
pub const GITHUB_SECRET_INPUTS: [&str; 4] = [
    "kestra-password",
    "kestra-api-token",
    "github-token",
    "git-password",
];

/// GitLab CI/CD variables that carry a secret.
pub const GITLAB_SECRET_VARIABLES: [&str; 3] =
    ["KESTRA_PASSWORD", "KESTRA_API_TOKEN", "GITLAB_TOKEN"];

/// Command-line flags that carry a secret, and the environment variable to use instead.
pub const SECRET_FLAGS: [(&str, &str); 5] = [
    ("--kestra-password", "KESTRA_PASSWORD"),
    ("--kestra-api-token", "KESTRA_API_TOKEN"),
    ("--git-password", "KESTRA_SYNC_GIT_PASSWORD"),
    ("--github-token", "KESTRA_SYNC_GITHUB_TOKEN"),
    ("--gitlab-token", "GITLAB_TOKEN"),
];

/// One secret written as a literal: where, and under which name. Never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Literal {
    pub file: String,
    /// 1-based, when the key's line could be found.
    pub line: Option<usize>,
    pub key: String,
}

fn at(l: &Literal) -> String {
    match l.line {
        Some(n) => format!("{} line {n}", l.file),
        None => l.file.clone(),
    }
}

/// The job's error for literals found in a GitHub workflow.
pub fn github_message(found: &[Literal]) -> String {
    let list: Vec<String> = found
        .iter()
        .map(|l| format!("`{}` ({})", l.key, at(l)))
        .collect();
    let example = found.first().map_or("kestra-password", |l| l.key.as_str());
    format!(
        "It looks like you have hard-coded Kestra credentials: {} written in plain text in the workflow. Make sure to pass the credential securely using a secret expression (e.g. `{example}: ${{{{ secrets.{} }}}}`), and rotate the exposed credential: it is in the repository's history",
        list.join(", "),
        example.to_ascii_uppercase().replace('-', "_")
    )
}

/// The job's error for literals found in a GitLab CI file.
pub fn gitlab_message(found: &[Literal]) -> String {
    let list: Vec<String> = found
        .iter()
        .map(|l| format!("`{}` ({})", l.key, at(l)))
        .collect();
    format!(
        "It looks like you have hard-coded Kestra credentials: {} written in plain text in `variables:`. Make sure to pass the credential securely using a masked CI/CD variable (Settings > CI/CD > Variables) and remove it from the file, and rotate the exposed credential: it is in the repository's history",
        list.join(", ")
    )
}

/// The 1-based line of the first `key:` whose value is not an expression or reference.
fn line_of(text: &str, key: &str, is_literal: &dyn Fn(&str) -> bool) -> Option<usize> {
    text.lines().enumerate().find_map(|(n, line)| {
        let rest = line.trim_start().trim_start_matches("- ");
        let rest = rest
            .strip_prefix(key)
            .or_else(|| rest.strip_prefix(&format!("\"{key}\"")))
            .or_else(|| rest.strip_prefix(&format!("'{key}'")))?;
        let value = rest.trim_start().strip_prefix(':')?;
        is_literal(value.trim()).then_some(n + 1)
    })
}

/// A string given to `with:` is a literal unless it holds an expression.
fn github_literal(value: &str) -> bool {
    let v = value.trim().trim_matches(['"', '\'']);
    !v.is_empty() && !v.contains("${{")
}

/// The literal secrets of kestra-sync steps in the workflow `text` (file `file`).
pub fn github_workflow(text: &str, file: &str) -> Vec<Literal> {
    let Ok(doc) = serde_yaml_ng::from_str::<Value>(text) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let Some(jobs) = doc.get("jobs").and_then(Value::as_mapping) else {
        return found;
    };
    for job in jobs.values() {
        let Some(steps) = job.get("steps").and_then(Value::as_sequence) else {
            continue;
        };
        for step in steps {
            let Some(with) = step.get("with").and_then(Value::as_mapping) else {
                continue;
            };
            let ours = step
                .get("uses")
                .and_then(Value::as_str)
                .is_some_and(|u| u.to_ascii_lowercase().contains("kestra-sync"));
            for key in GITHUB_SECRET_INPUTS {
                // `github-token` is a common input of other actions: checked on ours only
                if key == "github-token" && !ours {
                    continue;
                }
                if !ours && !with.contains_key(key) {
                    continue;
                }
                let literal = match with.get(key) {
                    Some(Value::String(s)) => github_literal(s),
                    Some(Value::Number(_)) => true,
                    _ => false,
                };
                if literal && !found.iter().any(|l: &Literal| l.key == key) {
                    found.push(Literal {
                        file: file.to_string(),
                        line: line_of(text, key, &github_literal),
                        key: key.to_string(),
                    });
                }
            }
        }
    }
    found
}

/// A GitLab variable value is a literal unless it references another variable.
fn gitlab_literal(value: &str) -> bool {
    let v = value.trim().trim_matches(['"', '\'']);
    !v.is_empty() && !v.contains('$') && !v.starts_with('{')
}

/// The literal secrets in the `variables:` blocks (global and per job) of a GitLab CI file.
pub fn gitlab_ci(text: &str, file: &str) -> Vec<Literal> {
    let Ok(doc) = serde_yaml_ng::from_str::<Value>(text) else {
        return Vec::new();
    };
    let Some(top) = doc.as_mapping() else {
        return Vec::new();
    };
    let mut blocks: Vec<&Value> = Vec::new();
    if let Some(v) = top.get("variables") {
        blocks.push(v);
    }
    for job in top.values() {
        if let Some(v) = job.get("variables") {
            blocks.push(v);
        }
    }
    let mut found = Vec::new();
    for block in blocks {
        for key in GITLAB_SECRET_VARIABLES {
            let value = match block.get(key) {
                // `KEY: {value: "…", description: "…"}`
                Some(Value::Mapping(m)) => m.get("value").cloned(),
                other => other.cloned(),
            };
            let literal = match value {
                Some(Value::String(s)) => gitlab_literal(&s),
                Some(Value::Number(_)) => true,
                _ => false,
            };
            if literal && !found.iter().any(|l: &Literal| l.key == key) {
                found.push(Literal {
                    file: file.to_string(),
                    line: line_of(text, key, &gitlab_literal)
                        .or_else(|| line_of(text, key, &|_| true)),
                    key: key.to_string(),
                });
            }
        }
    }
    found
}

/// The workflow file of `GITHUB_WORKFLOW_REF` (`owner/repo/.github/workflows/f.yml@ref`):
/// `(path in the repository, ref)`.
pub fn workflow_path(workflow_ref: &str, repository: &str) -> Option<(String, String)> {
    let rest = workflow_ref.strip_prefix(repository)?.strip_prefix('/')?;
    let (path, git_ref) = rest.split_once('@')?;
    let ok = path.starts_with(".github/workflows/")
        && !path.split('/').any(|s| s == ".." || s.is_empty());
    ok.then(|| (path.to_string(), git_ref.to_string()))
}

/// GitHub Actions: the error for literal secrets in the calling workflow, if any. The file is
/// read from the workspace (a checkout), else through the API at the workflow's ref.
pub async fn check_github(
    ctx: &crate::ci::github::Context,
    gh: Option<&crate::forge::github::GithubClient>,
) -> Option<String> {
    let workflow_ref = std::env::var("GITHUB_WORKFLOW_REF").ok()?;
    let Some((path, git_ref)) = workflow_path(&workflow_ref, &ctx.repository) else {
        tracing::debug!("GITHUB_WORKFLOW_REF `{workflow_ref}` is not a workflow of this repository: not checked");
        return None;
    };
    let local = ctx
        .workspace
        .as_ref()
        .and_then(|ws| std::fs::read(ws.join(&path)).ok())
        .filter(|b| b.len() <= 1 << 20);
    let text = match local {
        Some(bytes) => String::from_utf8(bytes).ok()?,
        None => fetch_workflow(gh?, &ctx.repository, &path, &git_ref).await?,
    };
    let found = github_workflow(&text, &path);
    (!found.is_empty()).then(|| github_message(&found))
}

/// The workflow file through `GET /repos/{repo}/contents/{path}?ref=…` (base64 content).
async fn fetch_workflow(
    gh: &crate::forge::github::GithubClient,
    repository: &str,
    path: &str,
    git_ref: &str,
) -> Option<String> {
    use base64::Engine as _;
    let mut url =
        url::Url::parse(&gh.api_uri(&format!("/repos/{repository}/contents/{path}"))).ok()?;
    url.query_pairs_mut().append_pair("ref", git_ref);
    let answer = match gh.get(url.as_str(), 2 << 20).await {
        Ok(a) if a.status == 200 => a,
        other => {
            tracing::debug!(
                "the workflow file could not be read ({:?}): not checked",
                other.map(|a| a.status)
            );
            return None;
        }
    };
    let v: serde_json::Value = serde_json::from_slice(&answer.body).ok()?;
    let content: String = v["content"].as_str()?.split_whitespace().collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(content)
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// GitLab CI: the error for literal secrets in the pipeline's CI file, if any: `CI_CONFIG_PATH`
/// (default `.gitlab-ci.yml`) under `CI_PROJECT_DIR`, when it is a file of the project.
pub fn check_gitlab() -> Option<String> {
    let dir = std::env::var_os("CI_PROJECT_DIR")?;
    let file = std::env::var("CI_CONFIG_PATH")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| ".gitlab-ci.yml".into());
    let plain = !file.contains("://")
        && !file.contains('@')
        && !file.starts_with('/')
        && !file.split('/').any(|s| s == "..");
    if !plain {
        return None;
    }
    let bytes = std::fs::read(std::path::Path::new(&dir).join(&file)).ok()?;
    if bytes.len() > 1 << 20 {
        return None;
    }
    let text = String::from_utf8(bytes).ok()?;
    let found = gitlab_ci(&text, &file);
    (!found.is_empty()).then(|| gitlab_message(&found))
}

/// Warnings for secrets given as command-line flags in `args`.
pub fn flag_warnings(args: &[String]) -> Vec<String> {
    SECRET_FLAGS
        .iter()
        .filter(|(flag, _)| {
            args.iter()
                .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
        })
        .map(|(flag, env)| {
            format!(
                "{flag} on the command line can be read by every process on this machine (and lands in shell history): set the environment variable {env} instead"
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_literals_in_kestra_sync_steps_are_found_with_their_line() {
        let wf = "on: push\njobs:\n  sync:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v5\n        with: { github-token: not-ours-to-judge }\n      - uses: kestra-sync/kestra-sync@v0\n        with:\n          target-namespace: prod\n          kestra-url: https://k.example.com\n          kestra-username: admin\n          kestra-password: hunter2\n          kestra-api-token: \"${{ secrets.TOKEN }}\"\n          github-token: ghp_abc123\n          git-password: '${{ secrets.GIT }}'\n";
        let found = github_workflow(wf, ".github/workflows/sync.yml");
        assert_eq!(
            found,
            vec![
                Literal {
                    file: ".github/workflows/sync.yml".into(),
                    line: Some(13),
                    key: "kestra-password".into()
                },
                Literal {
                    file: ".github/workflows/sync.yml".into(),
                    line: Some(15),
                    key: "github-token".into()
                },
            ]
        );
        let msg = github_message(&found);
        assert!(msg.starts_with("It looks like you have hard-coded Kestra credentials"));
        assert!(
            msg.contains("`kestra-password` (.github/workflows/sync.yml line 13)"),
            "{msg}"
        );
        assert!(msg.contains("${{ secrets.KESTRA_PASSWORD }}"), "{msg}");
        assert!(
            !msg.contains("hunter2") && !msg.contains("ghp_abc123"),
            "{msg}"
        );
    }

    #[test]
    fn github_expressions_and_other_files_pass() {
        for wf in [
            "jobs:\n  a:\n    steps:\n      - uses: kestra-sync/kestra-sync@v0\n        with:\n          kestra-password: ${{ secrets.P }}\n          github-token: ${{ github.token }}\n",
            "jobs:\n  a:\n    steps:\n      - uses: kestra-sync/kestra-sync@v0\n        with:\n          kestra-password: ''\n",
            "jobs:\n  a:\n    steps:\n      - run: echo hi\n",
            "not: [valid",
            "",
        ] {
            assert!(github_workflow(wf, "w.yml").is_empty(), "{wf}");
        }
        // a docker:// step, and one of our inputs on any step
        let wf = "jobs:\n  a:\n    steps:\n      - uses: docker://ghcr.io/kestra-sync/kestra-sync:v0\n        with:\n          kestra-api-token: 12345\n      - uses: ./local\n        with:\n          git-password: pw\n";
        let keys: Vec<String> = github_workflow(wf, "w.yml")
            .into_iter()
            .map(|l| l.key)
            .collect();
        assert_eq!(keys, ["kestra-api-token", "git-password"]);
    }

    #[test]
    fn gitlab_literals_in_variables_are_found() {
        let ci = "variables:\n  KESTRA_URL: https://k\n  KESTRA_PASSWORD: hunter2\njob:\n  variables:\n    GITLAB_TOKEN:\n      value: glpat-xyz\n      description: token\n    KESTRA_API_TOKEN: $PROD_TOKEN\n  script: [kestra-sync ci]\n";
        let found = gitlab_ci(ci, ".gitlab-ci.yml");
        let keys: Vec<(String, Option<usize>)> =
            found.iter().map(|l| (l.key.clone(), l.line)).collect();
        assert_eq!(
            keys,
            [
                ("KESTRA_PASSWORD".to_string(), Some(3)),
                ("GITLAB_TOKEN".to_string(), Some(6))
            ]
        );
        let msg = gitlab_message(&found);
        assert!(
            msg.contains("`KESTRA_PASSWORD` (.gitlab-ci.yml line 3)"),
            "{msg}"
        );
        assert!(msg.contains("masked CI/CD variable"), "{msg}");
        assert!(
            !msg.contains("hunter2") && !msg.contains("glpat-xyz"),
            "{msg}"
        );
        for ok in [
            "variables:\n  KESTRA_PASSWORD: $KESTRA_PASSWORD_PROD\n",
            "variables:\n  KESTRA_PASSWORD: \"${VAULT_PW}\"\n",
            "job:\n  script: [echo]\n",
            "[broken",
        ] {
            assert!(gitlab_ci(ok, "c.yml").is_empty(), "{ok}");
        }
    }

    #[test]
    fn workflow_refs_and_flags() {
        assert_eq!(
            workflow_path(
                "acme/flows/.github/workflows/sync.yml@refs/heads/main",
                "acme/flows"
            ),
            Some((
                ".github/workflows/sync.yml".into(),
                "refs/heads/main".into()
            ))
        );
        assert_eq!(workflow_path("acme/flows/../x.yml@r", "acme/flows"), None);
        assert_eq!(
            workflow_path("other/repo/.github/workflows/a.yml@r", "acme/flows"),
            None
        );
        let args: Vec<String> = [
            "plan",
            "--kestra-password=x",
            "--git-password",
            "y",
            "--kestra-url",
            "u",
        ]
        .map(String::from)
        .to_vec();
        let w = flag_warnings(&args);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("--kestra-password") && w[0].contains("KESTRA_PASSWORD"));
        assert!(w[1].contains("KESTRA_SYNC_GIT_PASSWORD"));
    }
}
