//! The command line: `kestra-sync plan | apply | validate | ci`. Option names are the
//! SyncFlows property names in kebab case; each also reads a documented environment
//! variable (and, under `ci` on GitHub, the action input of the same name).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Plan and apply Kestra flows from a Git folder, like `terraform plan` / `apply`.
#[derive(Debug, Parser)]
#[command(
    name = "kestra-sync",
    version,
    about,
    long_about = None,
    max_term_width = 100,
    after_help = "Exit codes: 0 done or no changes, 1 error (a wrong command line too), 2 changes found (--detailed-exitcode).\n\
                  Every option also reads an environment variable, listed in `kestra-sync <command> --help`.\n\
                  Docs and examples: https://github.com/kestra-sync/kestra-sync"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what apply would change on the server (never writes).
    Plan(PlanArgs),
    /// Make the server match Git: validate every flow on the server, write, then delete.
    Apply(ApplyArgs),
    /// Check the flow files locally (and on the server when --kestra-url is given); writes nothing.
    Validate(ValidateArgs),
    /// Run in CI (GitHub Actions or GitLab CI): plan on pull/merge requests and post the plan
    /// as one comment, apply on the deployed branch, report drift on a schedule.
    Ci(CiArgs),
    /// Pull-request previews: a PR/MR's flows in their own namespace (`--preview-namespace`),
    /// every trigger disabled; removed when the request closes.
    #[command(subcommand)]
    Preview(PreviewCommand),
}

/// `kestra-sync preview …`
#[derive(Debug, Subcommand)]
pub enum PreviewCommand {
    /// Sync the flows into the preview namespace of PR/MR `--number`: every trigger disabled,
    /// Subflow/ForEachItem calls between synced flows kept inside the preview; mirrors the
    /// flows exactly, deleting only inside that preview.
    Apply(PreviewArgs),
    /// Delete every flow of the preview namespace of PR/MR `--number` and its children.
    Destroy(PreviewArgs),
    /// Remove the previews whose pull request (GitHub: GITHUB_REPOSITORY, GITHUB_TOKEN) or
    /// merge request (GitLab: CI_PROJECT_ID, CI_API_V4_URL, GITLAB_TOKEN) is closed.
    Sweep(CiArgs),
}

/// Options of `preview apply` and `preview destroy`: what they read, how the plan is shown,
/// and how it is written.
#[derive(Debug, Clone, Args)]
pub struct PreviewArgs {
    /// The pull/merge request number.
    #[arg(long, help_heading = "Preview")]
    pub number: u64,

    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub plan: PlanOptions,
    #[command(flatten)]
    pub write: WriteOptions,
}

/// `plan`: what it reads, how it shows the plan, and `--detailed-exitcode`.
#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub plan: PlanOptions,
    #[command(flatten)]
    pub exit: ExitOptions,
}

/// `apply`: as `plan`, plus how to write (no `--detailed-exitcode`: apply's exit code says
/// whether it worked).
#[derive(Debug, Clone, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub plan: PlanOptions,
    #[command(flatten)]
    pub write: WriteOptions,
}

/// `validate`: only what it reads (it shows no plan).
#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Output formats of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// A coloured terminal plan (colour off with NO_COLOR or when not a terminal).
    #[default]
    Text,
    /// The PR/MR comment body (GitHub-flavoured Markdown).
    Markdown,
    /// The JSON contract (see README, "JSON plan").
    Json,
}

/// Colour on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Color {
    /// When stdout is a terminal (a CI log counts as one) and NO_COLOR is unset.
    #[default]
    Auto,
    Always,
    Never,
}

/// Where the flow files come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum SourceKind {
    /// The checked-out workspace (--workspace).
    #[default]
    Workspace,
    /// The GitHub API at the event's commit (no checkout needed).
    Github,
    /// A shallow clone of --git-url at --git-branch.
    Git,
}

/// What every command reads: the flow files and the server.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Namespace the flows land in (SyncFlows `targetNamespace`). Required.
    #[arg(long, env = "KESTRA_SYNC_TARGET_NAMESPACE", help_heading = "Sync")]
    pub target_namespace: Option<String>,

    /// Folder holding the flow files, relative to the workspace (SyncFlows `gitDirectory`).
    #[arg(
        long,
        env = "KESTRA_SYNC_GIT_DIRECTORY",
        default_value = "_flows",
        help_heading = "Sync"
    )]
    pub git_directory: String,

    /// Also sync subfolders, `a/b/` as `<target>.a.b` (SyncFlows `includeChildNamespaces`).
    #[arg(long, env = "KESTRA_SYNC_INCLUDE_CHILD_NAMESPACES", num_args = 0..=1, default_missing_value = "true", default_value = "false", value_parser = parse_bool, help_heading = "Sync")]
    pub include_child_namespaces: bool,

    /// Where pull-request previews live: `{target}` and `{number}` (the PR/MR number), e.g.
    /// `prod` → `prod-pr-7` and `prod.finance` → `prod-pr-7.finance`. Every command reads it
    /// to leave preview namespaces out of the target's scope.
    #[arg(
        long,
        env = "KESTRA_SYNC_PREVIEW_NAMESPACE",
        default_value = "{target}-pr-{number}",
        help_heading = "Sync"
    )]
    pub preview_namespace: String,

    /// Fail when --git-directory does not exist; with `false`, a missing folder is an empty
    /// source that never plans a delete (SyncFlows `failOnMissingDirectory`).
    #[arg(long, env = "KESTRA_SYNC_FAIL_ON_MISSING_DIRECTORY", num_args = 0..=1, default_missing_value = "true", default_value = "true", value_parser = parse_bool, help_heading = "Sync")]
    pub fail_on_missing_directory: bool,

    /// Also sync namespace files: every file under --files-directory becomes a namespace
    /// file of the target namespace (SyncNamespaceFiles). Child namespaces' files are out of scope.
    #[arg(long, env = "KESTRA_SYNC_NAMESPACE_FILES", num_args = 0..=1, default_missing_value = "true", default_value = "false", value_parser = parse_bool, help_heading = "Namespace files")]
    pub namespace_files: bool,

    /// Folder holding the namespace files, relative to the workspace, walked recursively
    /// (SyncNamespaceFiles `gitDirectory`).
    #[arg(
        long,
        env = "KESTRA_SYNC_FILES_DIRECTORY",
        default_value = "_files",
        help_heading = "Namespace files"
    )]
    pub files_directory: String,

    /// The folder of the namespace's storage Git owns (plugin-git `namespaceDirectory`):
    /// nothing outside it is written or deleted.
    #[arg(
        long,
        env = "KESTRA_SYNC_NAMESPACE_DIRECTORY",
        default_value = "/",
        help_heading = "Namespace files"
    )]
    pub namespace_directory: String,

    /// Root of the checkout. Default: GITHUB_WORKSPACE, then CI_PROJECT_DIR, then the current directory.
    #[arg(long, env = "KESTRA_SYNC_WORKSPACE", help_heading = "Source")]
    pub workspace: Option<PathBuf>,

    /// Where to read flows from.
    #[arg(long, env = "KESTRA_SYNC_SOURCE", value_enum, default_value_t = SourceKind::Workspace, help_heading = "Source")]
    pub source: SourceKind,

    /// Git repository to clone (HTTPS), with --source git (SyncFlows `url`). Never put credentials in it.
    #[arg(long, env = "KESTRA_SYNC_GIT_URL", help_heading = "Source")]
    pub git_url: Option<String>,

    /// Branch to clone with --git-url (SyncFlows `branch`). Default: `main`.
    #[arg(long, env = "KESTRA_SYNC_GIT_BRANCH", help_heading = "Source")]
    pub git_branch: Option<String>,

    /// User name for --git-url (SyncFlows `username`).
    #[arg(long, env = "KESTRA_SYNC_GIT_USERNAME", help_heading = "Source")]
    pub git_username: Option<String>,

    /// Password or token for --git-url (SyncFlows `password`). Prefer the environment variable.
    #[arg(
        long,
        env = "KESTRA_SYNC_GIT_PASSWORD",
        hide_env_values = true,
        help_heading = "Source"
    )]
    pub git_password: Option<String>,

    /// Kestra base URL, e.g. `https://kestra.example.com`.
    #[arg(long, env = "KESTRA_URL", help_heading = "Kestra server")]
    pub kestra_url: Option<String>,

    /// Tenant. Default: detected (`main` on Kestra ≥ 0.23, untenanted paths before).
    #[arg(long, env = "KESTRA_TENANT", help_heading = "Kestra server")]
    pub kestra_tenant: Option<String>,

    /// User for HTTP Basic auth (OSS, or EE users).
    #[arg(long, env = "KESTRA_USERNAME", help_heading = "Kestra server")]
    pub kestra_username: Option<String>,

    /// Password for HTTP Basic auth. Prefer the environment variable.
    #[arg(
        long,
        env = "KESTRA_PASSWORD",
        hide_env_values = true,
        help_heading = "Kestra server"
    )]
    pub kestra_password: Option<String>,

    /// API token (EE), sent as `Authorization: Bearer`. Prefer the environment variable.
    #[arg(
        long,
        env = "KESTRA_API_TOKEN",
        hide_env_values = true,
        help_heading = "Kestra server"
    )]
    pub kestra_api_token: Option<String>,

    /// Timeout of each HTTP request, in seconds.
    #[arg(
        long,
        env = "KESTRA_SYNC_TIMEOUT",
        default_value_t = 30,
        help_heading = "Kestra server"
    )]
    pub timeout: u64,

    /// How many times a transient failure (connection error, 429, 502/503/504) is retried.
    #[arg(
        long,
        env = "KESTRA_SYNC_RETRIES",
        default_value_t = 4,
        help_heading = "Kestra server"
    )]
    pub retries: u32,
}

/// How the plan is computed and shown (`plan`, `apply`, `ci`).
#[derive(Debug, Clone, Args)]
pub struct PlanOptions {
    /// Delete flows that are on the server (in scope) but not in Git (SyncFlows `delete`).
    #[arg(long, env = "KESTRA_SYNC_DELETE", num_args = 0..=1, default_missing_value = "true", default_value = "false", value_parser = parse_bool, help_heading = "Sync")]
    pub delete: bool,

    /// Skip the flows the server refuses and sync the rest, with a loud warning; their
    /// copies on the server are never deleted (SyncFlows `ignoreInvalidFlows`).
    #[arg(long, env = "KESTRA_SYNC_IGNORE_INVALID_FLOWS", num_args = 0..=1, default_missing_value = "true", default_value = "false", value_parser = parse_bool, help_heading = "Sync")]
    pub ignore_invalid_flows: bool,

    /// Refuse to apply a plan that deletes more flows than this (0 = no deletes allowed
    /// without --allow-mass-delete); every plan shows it as a blocker.
    #[arg(
        long,
        env = "KESTRA_SYNC_MAX_DELETES",
        default_value_t = 10,
        help_heading = "Safety"
    )]
    pub max_deletes: usize,

    /// Apply even a plan that deletes every flow in scope or more than --max-deletes.
    #[arg(long, env = "KESTRA_SYNC_ALLOW_MASS_DELETE", num_args = 0..=1, default_missing_value = "true", default_value = "false", value_parser = parse_bool, help_heading = "Safety")]
    pub allow_mass_delete: bool,

    /// Output format on stdout.
    #[arg(long, env = "KESTRA_SYNC_FORMAT", value_enum, default_value_t = Format::Text, help_heading = "Output")]
    pub format: Format,

    /// Also write the JSON plan to this file (for CI artifacts).
    #[arg(long, env = "KESTRA_SYNC_PLAN_FILE", help_heading = "Output")]
    pub plan_file: Option<PathBuf>,

    /// Colour: auto (a terminal or a CI log, and NO_COLOR unset), always, never.
    #[arg(long, env = "KESTRA_SYNC_COLOR", value_enum, default_value_t = Color::Auto, help_heading = "Output")]
    pub color: Color,
}

/// How the plan is written to the server (`apply`, `ci`).
#[derive(Debug, Clone, Args)]
pub struct WriteOptions {
    /// Only plan, write nothing (SyncFlows `dryRun`).
    #[arg(long, env = "KESTRA_SYNC_DRY_RUN", num_args = 0..=1, default_missing_value = "true", default_value = "false", value_parser = parse_bool, help_heading = "Sync")]
    pub dry_run: bool,

    /// The JSON plan that was reviewed (`--plan-file` of the review's run). Apply re-plans
    /// and writes nothing unless every change is in it, from the same live base (a flow
    /// edited on the server since is STALE, a change it lacks UNREVIEWED).
    #[arg(long, env = "KESTRA_SYNC_REVIEWED_PLAN", help_heading = "Safety")]
    pub reviewed_plan: Option<PathBuf>,

    /// How many writes run at once during apply.
    #[arg(
        long,
        env = "KESTRA_SYNC_CONCURRENCY",
        default_value_t = 8,
        help_heading = "Kestra server"
    )]
    pub concurrency: usize,
}

/// `--detailed-exitcode` (`plan`, `ci`).
#[derive(Debug, Clone, Args)]
pub struct ExitOptions {
    /// Exit 0 when there are no changes, 2 when there are, 1 on error (like terraform plan).
    #[arg(long, env = "KESTRA_SYNC_DETAILED_EXITCODE", num_args = 0..=1, default_missing_value = "true", default_value = "false", value_parser = parse_bool, help_heading = "Output")]
    pub detailed_exitcode: bool,
}

/// Options of `ci`: everything of `plan` and `apply`, plus the CI-only ones.
#[derive(Debug, Clone, Args)]
pub struct CiArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub plan: PlanOptions,
    #[command(flatten)]
    pub write: WriteOptions,
    #[command(flatten)]
    pub exit: ExitOptions,

    /// The deployed branch: a push to it applies, anything else only plans. Default: the
    /// repository's default branch.
    #[arg(long, env = "KESTRA_SYNC_DEPLOY_BRANCH", help_heading = "CI")]
    pub deploy_branch: Option<String>,

    /// GitHub token used to post the plan comment and, with `--source github`, to read the
    /// repository (the action passes `github.token`).
    #[arg(
        long,
        env = "KESTRA_SYNC_GITHUB_TOKEN",
        hide_env_values = true,
        help_heading = "CI"
    )]
    pub github_token: Option<String>,

    /// GitLab token for MR notes (project access token, scope `api`).
    #[arg(
        long,
        env = "GITLAB_TOKEN",
        hide_env_values = true,
        help_heading = "CI"
    )]
    pub gitlab_token: Option<String>,

    /// Post the plan as a PR/MR comment.
    #[arg(long, env = "KESTRA_SYNC_COMMENT", num_args = 0..=1, default_missing_value = "true", default_value = "true", value_parser = parse_bool, help_heading = "CI")]
    pub comment: bool,

    /// On a pull/merge request, after the plan comment, sync the request's flows into its
    /// preview namespace (`--preview-namespace`, every trigger disabled) and add a Preview
    /// section to the comment; remove the preview when a GitHub pull request closes. See
    /// README, "Pull-request previews".
    #[arg(long, env = "KESTRA_SYNC_PREVIEW", num_args = 0..=1, default_missing_value = "true", default_value = "false", value_parser = parse_bool, help_heading = "CI")]
    pub preview: bool,

    /// The server's name in the plan comment's title, e.g. `production` (default: the host
    /// of --kestra-url), so plans of the same namespace on two servers never look alike.
    #[arg(long, env = "KESTRA_SYNC_ENVIRONMENT_NAME", help_heading = "CI")]
    pub environment_name: Option<String>,

    /// On a pull/merge request, set one label saying what its plan does:
    /// `kestra-sync:no-changes`, `kestra-sync:changes` or `kestra-sync:deletes` (the other two
    /// removed; all three after a failed plan). GitHub needs `pull-requests: write`.
    #[arg(long, env = "KESTRA_SYNC_LABELS", num_args = 0..=1, default_missing_value = "true", default_value = "false", value_parser = parse_bool, help_heading = "CI")]
    pub labels: bool,

    /// On a schedule or manual run, fail the step when the server differs from Git.
    #[arg(long, env = "KESTRA_SYNC_FAIL_ON_DRIFT", num_args = 0..=1, default_missing_value = "true", default_value = "false", value_parser = parse_bool, help_heading = "CI")]
    pub fail_on_drift: bool,

    /// On the push that merges a reviewed pull/merge request, when the server moved since
    /// the reviewed plan (or the plan is not the one reviewed): `fail` writes nothing and
    /// fails the step; `warn` applies anyway and says so. See README, "Plan lock".
    #[arg(long, env = "KESTRA_SYNC_ON_STALE", value_enum, default_value_t = OnStale::Fail, help_heading = "CI")]
    pub on_stale: OnStale,
}

/// What CI does when the merged request's reviewed plan no longer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OnStale {
    /// Write nothing, fail the step, comment on the request.
    #[default]
    Fail,
    /// Apply anyway; say so in the job summary and on the request.
    Warn,
}

/// Every environment variable an option reads, with whether the option takes a value, for
/// every command.
fn option_args() -> Vec<clap::Arg> {
    let mut cli = <Cli as clap::CommandFactory>::command();
    cli.build();
    cli.get_subcommands()
        .flat_map(|c| c.get_arguments().cloned().collect::<Vec<_>>())
        .collect()
}

/// The environment variables the options read (each once).
pub fn option_env_vars() -> Vec<String> {
    let mut vars: Vec<String> = option_args()
        .iter()
        .filter_map(|a| a.get_env())
        .filter_map(|v| v.to_str().map(str::to_string))
        .collect();
    vars.sort();
    vars.dedup();
    vars
}

/// An empty value means unset, from every source. Returns the option variables of `vars`
/// that are set but empty (or blank): the caller removes them before parsing.
pub fn empty_option_vars(vars: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
    let options = option_env_vars();
    vars.into_iter()
        .filter(|(k, v)| v.trim().is_empty() && options.contains(k))
        .map(|(k, _)| k)
        .collect()
}

/// The command line without options given an empty value (`--git-directory ""`,
/// `--git-directory=`): an empty value means unset, from every source.
pub fn drop_empty_values(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let takes_value: Vec<String> = option_args()
        .iter()
        .filter(|a| a.get_action().takes_values())
        .filter_map(|a| a.get_long().map(str::to_string))
        .collect();
    let mut out = Vec::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].to_string_lossy();
        if let Some(long) = arg.strip_prefix("--") {
            if let Some((name, value)) = long.split_once('=') {
                if value.trim().is_empty() && takes_value.iter().any(|t| t == name) {
                    i += 1;
                    continue;
                }
            } else if takes_value.iter().any(|t| t == long)
                && args
                    .get(i + 1)
                    .is_some_and(|v| v.to_string_lossy().trim().is_empty())
            {
                i += 2;
                continue;
            }
        }
        out.push(args[i].clone());
        i += 1;
    }
    out
}

/// Booleans as CI systems write them: `true/false`, `yes/no`, `1/0`, `on/off`; empty = false.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Ok(true),
        "false" | "no" | "0" | "off" | "" => Ok(false),
        other => Err(format!("`{other}` is not a boolean: use true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn booleans_read_like_ci_writes_them() {
        assert_eq!(parse_bool("TRUE"), Ok(true));
        assert_eq!(parse_bool(""), Ok(false));
        assert!(parse_bool("maybe").is_err());
    }
}
