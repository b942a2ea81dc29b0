//! GitHub Actions: what the runner tells a Docker action, read once into a [`Context`]: the
//! event (from `GITHUB_EVENT_NAME` and the `GITHUB_EVENT_PATH` payload), the repository,
//! commit, API and server URLs and the job's URL; and the action's inputs (`INPUT_<NAME>`,
//! hyphens kept) mapped onto the environment variables the options read, before the command
//! line is parsed, so the precedence is flags > inputs > env > defaults.

use std::path::PathBuf;

use serde_json::Value;

use super::commands;

/// The action's inputs and the environment variable each one sets. Keep in step with
/// `action.yml` and `cli.rs` (tests check both).
pub const INPUTS: &[(&str, &str)] = &[
    ("target-namespace", "KESTRA_SYNC_TARGET_NAMESPACE"),
    ("git-directory", "KESTRA_SYNC_GIT_DIRECTORY"),
    (
        "include-child-namespaces",
        "KESTRA_SYNC_INCLUDE_CHILD_NAMESPACES",
    ),
    ("preview-namespace", "KESTRA_SYNC_PREVIEW_NAMESPACE"),
    ("delete", "KESTRA_SYNC_DELETE"),
    ("namespace-files", "KESTRA_SYNC_NAMESPACE_FILES"),
    ("files-directory", "KESTRA_SYNC_FILES_DIRECTORY"),
    ("namespace-directory", "KESTRA_SYNC_NAMESPACE_DIRECTORY"),
    ("dry-run", "KESTRA_SYNC_DRY_RUN"),
    ("max-deletes", "KESTRA_SYNC_MAX_DELETES"),
    ("allow-mass-delete", "KESTRA_SYNC_ALLOW_MASS_DELETE"),
    ("ignore-invalid-flows", "KESTRA_SYNC_IGNORE_INVALID_FLOWS"),
    (
        "fail-on-missing-directory",
        "KESTRA_SYNC_FAIL_ON_MISSING_DIRECTORY",
    ),
    ("workspace", "KESTRA_SYNC_WORKSPACE"),
    ("source", "KESTRA_SYNC_SOURCE"),
    ("git-url", "KESTRA_SYNC_GIT_URL"),
    ("git-branch", "KESTRA_SYNC_GIT_BRANCH"),
    ("git-username", "KESTRA_SYNC_GIT_USERNAME"),
    ("git-password", "KESTRA_SYNC_GIT_PASSWORD"),
    ("kestra-url", "KESTRA_URL"),
    ("kestra-tenant", "KESTRA_TENANT"),
    ("kestra-username", "KESTRA_USERNAME"),
    ("kestra-password", "KESTRA_PASSWORD"),
    ("kestra-api-token", "KESTRA_API_TOKEN"),
    ("timeout", "KESTRA_SYNC_TIMEOUT"),
    ("retries", "KESTRA_SYNC_RETRIES"),
    ("concurrency", "KESTRA_SYNC_CONCURRENCY"),
    ("format", "KESTRA_SYNC_FORMAT"),
    ("detailed-exitcode", "KESTRA_SYNC_DETAILED_EXITCODE"),
    ("plan-file", "KESTRA_SYNC_PLAN_FILE"),
    ("reviewed-plan", "KESTRA_SYNC_REVIEWED_PLAN"),
    ("color", "KESTRA_SYNC_COLOR"),
    ("github-token", "KESTRA_SYNC_GITHUB_TOKEN"),
    ("gitlab-token", "GITLAB_TOKEN"),
    ("comment", "KESTRA_SYNC_COMMENT"),
    ("preview", "KESTRA_SYNC_PREVIEW"),
    ("fail-on-drift", "KESTRA_SYNC_FAIL_ON_DRIFT"),
    ("environment-name", "KESTRA_SYNC_ENVIRONMENT_NAME"),
    ("labels", "KESTRA_SYNC_LABELS"),
    ("deploy-branch", "KESTRA_SYNC_DEPLOY_BRANCH"),
    ("on-stale", "KESTRA_SYNC_ON_STALE"),
];

/// The inputs `action.yml` gives a default, with the variables that win over them. The
/// runner sets `INPUT_<NAME>` for a default exactly as for a value, so such an input must not
/// override what the step's `env:` says: for these, the environment wins. Every other input
/// has no default in `action.yml` (its default is the program's) and wins over the environment.
pub const DEFAULTED_INPUTS: &[(&str, &[&str])] = &[(
    "github-token",
    &["KESTRA_SYNC_GITHUB_TOKEN", "GITHUB_TOKEN"],
)];

/// Inputs that are no longer read, and the variable that makes the run fail with what to
/// use instead (see [`crate::settings`]): never silently ignored, since `branch` chose what
/// is applied.
pub const RETIRED_INPUTS: &[(&str, &str)] = &[("branch", crate::settings::RETIRED_BRANCH_VAR)];

/// Environment variables holding secrets: masked in the log whether they came from an input
/// or from the workflow's `env:`.
pub const SECRET_VARS: &[&str] = &[
    "KESTRA_PASSWORD",
    "KESTRA_API_TOKEN",
    "KESTRA_SYNC_GITHUB_TOKEN",
    "GITHUB_TOKEN",
    "GITLAB_TOKEN",
    "KESTRA_SYNC_GIT_PASSWORD",
];

/// Running under GitHub Actions.
pub fn detect() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// What the inputs ask for: variables to set, secrets to mask, inputs we do not know.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct InputMapping {
    pub set: Vec<(&'static str, String)>,
    pub masks: Vec<String>,
    pub unknown: Vec<String>,
}

/// Map `INPUT_*` variables (from `vars`) onto option variables. An empty input is unset; an
/// input is overridden by the environment only when `action.yml` gives it a default
/// ([`DEFAULTED_INPUTS`]).
/// Both the runner's form (`INPUT_TARGET-NAMESPACE`) and an underscore form
/// (`INPUT_TARGET_NAMESPACE`, from a hand-written `docker run`) are read; `vars` must also
/// hold the other variables, to mask secrets given through `env:`.
pub fn map_inputs(vars: impl IntoIterator<Item = (String, String)>) -> InputMapping {
    let mut m = InputMapping::default();
    let mut all: Vec<(String, String)> = vars.into_iter().collect();
    all.sort();
    for (name, value) in &all {
        if SECRET_VARS.contains(&name.as_str()) && !value.is_empty() {
            m.masks.push(value.clone());
        }
        let Some(input) = name.strip_prefix("INPUT_") else {
            continue;
        };
        let key = input.to_ascii_lowercase().replace('_', "-");
        let Some((_, var)) = INPUTS.iter().chain(RETIRED_INPUTS).find(|(i, _)| *i == key) else {
            m.unknown.push(input.to_string());
            continue;
        };
        if value.is_empty() {
            continue;
        }
        let env_wins = DEFAULTED_INPUTS
            .iter()
            .filter(|(i, _)| *i == key)
            .flat_map(|(_, vars)| vars.iter())
            .any(|v| all.iter().any(|(n, val)| n == v && !val.trim().is_empty()));
        if env_wins {
            if SECRET_VARS.contains(var) {
                m.masks.push(value.clone());
            }
            continue;
        }
        if SECRET_VARS.contains(var) {
            m.masks.push(value.clone());
        }
        // The runner's hyphen form wins over an underscore duplicate.
        let hyphen = !input.contains('_');
        match m.set.iter_mut().find(|(v, _)| v == var) {
            Some(slot) if hyphen => slot.1 = value.clone(),
            Some(_) => {}
            None => m.set.push((var, value.clone())),
        }
    }
    m.masks.dedup();
    m
}

/// Under GitHub Actions: print `::add-mask::` for every secret first, then set the option
/// variables from the inputs and warn about unknown inputs. Call before any thread starts
/// and before the command line is parsed.
pub fn inputs_to_env() {
    if !detect() {
        return;
    }
    let m = map_inputs(
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
    );
    let mut out = String::new();
    for secret in &m.masks {
        out.push_str(&commands::add_mask(secret));
    }
    for input in &m.unknown {
        out.push_str(&commands::annotation(
            commands::Level::Warning,
            None,
            None,
            None,
            &format!(
                "unknown input `{}` ignored: see the inputs of kestra-sync's action.yml",
                input.to_ascii_lowercase()
            ),
        ));
    }
    if !out.is_empty() {
        crate::out::command(&out);
    }
    for (var, value) in m.set {
        std::env::set_var(var, value);
    }
}

/// The event that started the workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `pull_request` (or `pull_request_target`).
    PullRequest {
        number: u64,
        /// The payload's `action`: `opened`, `synchronize`, `reopened`, `closed`, … (empty
        /// when absent).
        action: String,
        head_sha: String,
        head_ref: String,
        base_ref: String,
        /// The head repository is not this repository (or was deleted): the token is
        /// read-only and secrets are absent.
        fork: bool,
    },
    Push {
        /// `refs/heads/main`
        git_ref: String,
        /// The branch, when `git_ref` is a branch.
        branch: Option<String>,
        after: String,
        default_branch: Option<String>,
        /// The push deleted the branch.
        deleted: bool,
    },
    Schedule,
    WorkflowDispatch,
    /// Any other event, by name.
    Other(String),
}

/// Everything kestra-sync uses from the runner.
#[derive(Debug, Clone)]
pub struct Context {
    pub event_name: String,
    pub event: Event,
    /// `owner/name`.
    pub repository: String,
    /// `GITHUB_SHA`: for a pull request, the merge commit.
    pub sha: String,
    /// `GITHUB_REF`.
    pub git_ref: String,
    pub default_branch: Option<String>,
    pub api_url: String,
    pub server_url: String,
    /// `{server}/{repository}/actions/runs/{run id}`.
    pub job_url: Option<String>,
    pub workspace: Option<PathBuf>,
    pub output_file: Option<PathBuf>,
    pub summary_file: Option<PathBuf>,
}

impl Context {
    /// The commit to show people: a pull request's head, else `GITHUB_SHA`.
    pub fn display_commit(&self) -> &str {
        match &self.event {
            Event::PullRequest { head_sha, .. } if !head_sha.is_empty() => head_sha,
            _ => &self.sha,
        }
    }
}

/// The runner's environment is missing something or holds something unreadable.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ContextError(pub String);

/// Read the context from the process environment.
pub fn context() -> Result<Context, ContextError> {
    context_from(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
}

/// Read the context through `var` (the environment, or a test's map).
pub fn context_from(var: impl Fn(&str) -> Option<String>) -> Result<Context, ContextError> {
    let need = |k: &str| {
        var(k).ok_or_else(|| {
            ContextError(format!(
                "{k} is not set: `kestra-sync ci` on GitHub runs inside a GitHub Actions job"
            ))
        })
    };
    let event_name = need("GITHUB_EVENT_NAME")?;
    let repository = need("GITHUB_REPOSITORY")?;
    let payload = match var("GITHUB_EVENT_PATH") {
        Some(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                ContextError(format!(
                    "cannot read the event payload GITHUB_EVENT_PATH=`{path}`: {e}"
                ))
            })?;
            serde_json::from_str::<Value>(&text)
                .map_err(|e| ContextError(format!("the event payload `{path}` is not JSON: {e}")))?
        }
        None => Value::Null,
    };
    let event = parse_event(&event_name, &payload)?;
    let server_url = var("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into());
    let job_url = var("GITHUB_RUN_ID").map(|id| {
        format!(
            "{}/{repository}/actions/runs/{id}",
            server_url.trim_end_matches('/')
        )
    });
    let default_branch = payload["repository"]["default_branch"]
        .as_str()
        .map(str::to_string);
    let sha = var("GITHUB_SHA").unwrap_or_default();
    Ok(Context {
        event_name,
        event,
        repository,
        sha,
        git_ref: var("GITHUB_REF").unwrap_or_default(),
        default_branch,
        api_url: var("GITHUB_API_URL").unwrap_or_else(|| crate::github_api::DEFAULT_API_URL.into()),
        server_url,
        job_url,
        workspace: var("GITHUB_WORKSPACE").map(PathBuf::from),
        output_file: var("GITHUB_OUTPUT").map(PathBuf::from),
        summary_file: var("GITHUB_STEP_SUMMARY").map(PathBuf::from),
    })
}

/// The event from its name and payload.
pub fn parse_event(name: &str, payload: &Value) -> Result<Event, ContextError> {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    match name {
        "pull_request" | "pull_request_target" => {
            let pr = &payload["pull_request"];
            let number = payload["number"]
                .as_u64()
                .or_else(|| pr["number"].as_u64())
                .ok_or_else(|| {
                    ContextError(format!(
                        "the {name} payload has no pull request number: is GITHUB_EVENT_PATH the event file?"
                    ))
                })?;
            let head_repo = pr["head"]["repo"]["full_name"].as_str();
            let this_repo = payload["repository"]["full_name"].as_str();
            let fork = match (head_repo, this_repo) {
                (Some(h), Some(t)) => !h.eq_ignore_ascii_case(t),
                // A deleted fork has `head.repo: null`.
                _ => true,
            };
            Ok(Event::PullRequest {
                number,
                action: s(&payload["action"]),
                head_sha: s(&pr["head"]["sha"]),
                head_ref: s(&pr["head"]["ref"]),
                base_ref: s(&pr["base"]["ref"]),
                fork,
            })
        }
        "push" => {
            let git_ref = s(&payload["ref"]);
            Ok(Event::Push {
                branch: git_ref.strip_prefix("refs/heads/").map(str::to_string),
                git_ref,
                after: s(&payload["after"]),
                default_branch: payload["repository"]["default_branch"]
                    .as_str()
                    .map(str::to_string),
                deleted: payload["deleted"].as_bool().unwrap_or(false),
            })
        }
        "schedule" => Ok(Event::Schedule),
        "workflow_dispatch" => Ok(Event::WorkflowDispatch),
        other => Ok(Event::Other(other.to_string())),
    }
}

#[cfg(test)]
#[path = "github_tests.rs"]
mod tests;
