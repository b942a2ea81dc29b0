//! Raw options (the [`crate::cli::Command`]) turned once into validated [`Settings`]: every later stage trusts them and nothing downstream reads raw arguments.
//! Errors here say which option is wrong and how to fix it. Secrets become
//! [`SecretString`]s here; colour is decided here (once) for where the output goes.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use crate::cli::{
    CiArgs, Color, Command, CommonArgs, ExitOptions, Format, PlanOptions, PreviewArgs,
    PreviewCommand, SourceKind, WriteOptions,
};
use crate::http::{Backoff, HttpOptions};
use crate::kestra::client::{Auth, KestraConfig};
use crate::model::{check_namespace, PreviewTemplate, Scope};
use crate::nsfiles::{normalize_namespace_directory, FilesSettings};
pub use crate::source::git::GitSource;

/// Validated settings of one run.
#[derive(Debug, Clone)]
pub struct Settings {
    pub scope: Scope,
    pub git_directory: String,
    pub workspace: PathBuf,
    pub source: SourceKind,
    pub git: Option<GitSource>,
    pub delete: bool,
    pub dry_run: bool,
    pub max_deletes: usize,
    pub allow_mass_delete: bool,
    /// Skip the flows the server refuses (SyncFlows `ignoreInvalidFlows`).
    pub ignore_invalid_flows: bool,
    /// A missing `git_directory` is an error (SyncFlows `failOnMissingDirectory`); when
    /// false it is an empty source that never plans a delete.
    pub fail_on_missing_directory: bool,
    /// `None` when no usable server was given (only `validate` and a fork's review run
    /// without one): [`Settings::server`] says why.
    pub kestra: Option<KestraConfig>,
    /// Why `kestra` is `None` although server options were given (e.g. a user without a
    /// password); reported by [`Settings::server`] only to modes that need the server.
    pub server_error: Option<SettingsError>,
    /// Timeout and retries of every HTTP client (Kestra, GitHub, GitLab).
    pub http: HttpOptions,
    pub concurrency: usize,
    pub format: Format,
    pub detailed_exitcode: bool,
    pub plan_file: Option<PathBuf>,
    /// With `apply`: the JSON plan that was reviewed; apply refuses unless the fresh plan
    /// is that one ([`crate::lock::check`]).
    pub reviewed_plan: Option<PathBuf>,
    /// Colour on stdout, decided once for where it goes (a terminal, or a CI log).
    pub color: bool,
    /// What only `kestra-sync ci` reads; the default elsewhere.
    pub ci: CiSettings,
    /// Namespace files, with `--namespace-files` (`None`: flows only).
    pub files: Option<FilesSettings>,
}

/// The options of `kestra-sync ci` beyond the shared ones.
#[derive(Debug, Clone)]
pub struct CiSettings {
    /// `--github-token`, else `GITHUB_TOKEN`.
    pub github_token: Option<SecretString>,
    /// `--gitlab-token` (`GITLAB_TOKEN`).
    pub gitlab_token: Option<SecretString>,
    /// Post the plan as the PR/MR comment.
    pub comment: bool,
    /// On a drift check, fail when the server differs from Git.
    pub fail_on_drift: bool,
    /// The deployed branch, when given (else the platform's default branch).
    pub deployed_branch: Option<String>,
    /// What to do when the merged request's reviewed plan no longer holds.
    pub on_stale: crate::cli::OnStale,
    /// The server's name in the comment's title (`environment-name`), else its host.
    pub environment_name: Option<String>,
    /// Set the `kestra-sync:*` label of a review's plan on the request (`labels`).
    pub labels: bool,
    /// Pull-request previews in `ci` (`--preview`).
    pub preview: bool,
}

impl Default for CiSettings {
    fn default() -> Self {
        CiSettings {
            github_token: None,
            gitlab_token: None,
            comment: true,
            fail_on_drift: false,
            deployed_branch: None,
            on_stale: crate::cli::OnStale::Fail,
            environment_name: None,
            labels: false,
            preview: false,
        }
    }
}

/// Where stdout goes: it decides colour under `--color auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// A person's terminal: colour when stdout is a terminal and NO_COLOR is unset.
    Terminal,
    /// A CI job log: logs render ANSI colour though nothing is a terminal; NO_COLOR still wins.
    CiLog,
}

/// The variable `--branch` read before it was split in two (`--git-branch`,
/// `--deploy-branch`); set, it stops the run with what to use instead.
pub const RETIRED_BRANCH_VAR: &str = "KESTRA_SYNC_BRANCH";

/// `--git-directory` when not given (SyncFlows' default).
pub const DEFAULT_GIT_DIRECTORY: &str = "_flows";
/// `--max-deletes` of a command without it (it writes nothing).
const DEFAULT_MAX_DELETES: usize = 10;
/// `--concurrency` of a command without it.
const DEFAULT_CONCURRENCY: usize = 8;

/// A wrong option: the message names the option and what to do.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(pub String);

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_ref()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn secret(v: &Option<String>) -> Option<SecretString> {
    non_empty(v).map(SecretString::from)
}

impl Color {
    /// On or off, for output going to `output`.
    pub fn resolve(self, output: Output) -> bool {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        match (self, output) {
            (Color::Always, _) => true,
            (Color::Never, _) => false,
            (Color::Auto, Output::CiLog) => !no_color,
            (Color::Auto, Output::Terminal) => {
                !no_color && std::io::IsTerminal::is_terminal(&std::io::stdout())
            }
        }
    }
}

impl Settings {
    /// The deletion guards apply checks, for [`crate::plan::Plan::check`].
    pub fn guard(&self) -> crate::plan::Guard {
        crate::plan::Guard {
            max_deletes: self.max_deletes,
            allow_mass_delete: self.allow_mass_delete,
        }
    }

    /// The server, or why there is none: for every mode that reads or writes the server.
    pub fn server(&self) -> Result<&KestraConfig, SettingsError> {
        match (&self.kestra, &self.server_error) {
            (Some(config), _) => Ok(config),
            (None, Some(e)) => Err(e.clone()),
            (None, None) => Err(SettingsError(
                "--kestra-url is required (env KESTRA_URL, action input `kestra-url`): the base URL of the Kestra server, e.g. https://kestra.example.com".into(),
            )),
        }
    }

    /// The server when one was given (`validate` runs without), or why the one given is wrong.
    pub fn server_if_given(&self) -> Result<Option<&KestraConfig>, SettingsError> {
        match (&self.kestra, &self.server_error) {
            (_, Some(e)) => Err(e.clone()),
            (k, None) => Ok(k.as_ref()),
        }
    }

    /// Validate the options of `command`: the one place raw arguments are read.
    pub fn from_command(command: &Command) -> Result<Settings, SettingsError> {
        match command {
            Command::Plan(a) => Settings::build(
                &a.common,
                Some(&a.plan),
                None,
                Some(&a.exit),
                Output::Terminal,
            ),
            Command::Apply(a) => Settings::build(
                &a.common,
                Some(&a.plan),
                Some(&a.write),
                None,
                Output::Terminal,
            ),
            Command::Validate(a) => Settings::build(&a.common, None, None, None, Output::Terminal),
            Command::Ci(a) => Settings::from_ci_args(a),
            Command::Preview(PreviewCommand::Apply(a) | PreviewCommand::Destroy(a)) => {
                Settings::from_preview_args(a)
            }
            Command::Preview(PreviewCommand::Sweep(a)) => Settings::from_ci_args(a),
        }
    }

    /// The settings of `preview apply` and `preview destroy`.
    pub fn from_preview_args(a: &PreviewArgs) -> Result<Settings, SettingsError> {
        Settings::build(
            &a.common,
            Some(&a.plan),
            Some(&a.write),
            None,
            Output::Terminal,
        )
    }

    /// The settings of `kestra-sync ci`: the shared options for a CI log, plus the CI ones.
    pub fn from_ci_args(args: &CiArgs) -> Result<Settings, SettingsError> {
        let mut settings = Settings::build(
            &args.common,
            Some(&args.plan),
            Some(&args.write),
            Some(&args.exit),
            Output::CiLog,
        )?;
        settings.ci = CiSettings {
            github_token: secret(&args.github_token)
                .or_else(|| secret(&std::env::var("GITHUB_TOKEN").ok())),
            gitlab_token: secret(&args.gitlab_token),
            comment: args.comment,
            fail_on_drift: args.fail_on_drift,
            deployed_branch: non_empty(&args.deploy_branch),
            on_stale: args.on_stale,
            environment_name: non_empty(&args.environment_name),
            labels: args.labels,
            preview: args.preview,
        };
        Ok(settings)
    }

    /// `plan`, `write`, `exit`: `None` for a command without those options (their defaults).
    fn build(
        args: &CommonArgs,
        plan: Option<&PlanOptions>,
        write: Option<&WriteOptions>,
        exit: Option<&ExitOptions>,
        output: Output,
    ) -> Result<Settings, SettingsError> {
        if non_empty(&std::env::var(RETIRED_BRANCH_VAR).ok()).is_some() {
            return Err(SettingsError(format!(
                "{RETIRED_BRANCH_VAR} (action input `branch`) is no longer read: it meant two things. Set KESTRA_SYNC_DEPLOY_BRANCH (action input `deploy-branch`, `ci --deploy-branch`) for the branch whose pushes are applied, or KESTRA_SYNC_GIT_BRANCH (`--git-branch`) for the branch cloned with --git-url"
            )));
        }
        let target = non_empty(&args.target_namespace).ok_or_else(|| {
            SettingsError(
                "--target-namespace is required (env KESTRA_SYNC_TARGET_NAMESPACE, action input `target-namespace`): the namespace the flows land in, e.g. `prod`".into(),
            )
        })?;
        if let Err(why) = check_namespace(&target) {
            return Err(SettingsError(format!(
                "--target-namespace `{target}` is not a valid Kestra namespace: {why}"
            )));
        }
        // an empty value (an unset action input) is the default
        let previews = match args.preview_namespace.trim() {
            "" => PreviewTemplate::default(),
            text => PreviewTemplate::parse(text).map_err(|why| {
                SettingsError(format!(
                    "--preview-namespace (env KESTRA_SYNC_PREVIEW_NAMESPACE, action input `preview-namespace`): {why}"
                ))
            })?,
        };
        // An empty value is unset, from every source: the default folder.
        let git_directory = match args.git_directory.trim() {
            "" => DEFAULT_GIT_DIRECTORY.to_string(),
            dir => dir.to_string(),
        };
        let workspace = args
            .workspace
            .clone()
            .filter(|p| !p.as_os_str().is_empty())
            .or_else(|| {
                std::env::var_os("GITHUB_WORKSPACE")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .or_else(|| {
                std::env::var_os("CI_PROJECT_DIR")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| PathBuf::from("."));

        let http = HttpOptions {
            timeout: Duration::from_secs(args.timeout.max(1)),
            retries: args.retries,
            backoff: Backoff::default(),
        };
        let (kestra, server_error) = match non_empty(&args.kestra_url) {
            None => (None, None),
            Some(url) => match kestra_config(args, url, &http) {
                Ok(config) => (Some(config), None),
                Err(e) => (None, Some(e)),
            },
        };

        let git = match (args.source, non_empty(&args.git_url)) {
            (SourceKind::Git, None) => {
                return Err(SettingsError(
                    "--source git needs --git-url (env KESTRA_SYNC_GIT_URL)".into(),
                ))
            }
            (_, Some(url)) => Some(GitSource {
                url,
                branch: non_empty(&args.git_branch).unwrap_or_else(|| "main".into()),
                username: non_empty(&args.git_username),
                password: non_empty(&args.git_password).map(SecretString::from),
            }),
            (_, None) => None,
        };
        let source = if git.is_some() && args.source == SourceKind::Workspace {
            SourceKind::Git
        } else {
            args.source
        };

        let color = plan.map_or(Color::Auto, |p| p.color).resolve(output);
        let files = if args.namespace_files {
            Some(FilesSettings {
                directory: args.files_directory.trim().to_string(),
                namespace_directory: normalize_namespace_directory(&args.namespace_directory)
                    .map_err(SettingsError)?,
            })
        } else {
            None
        };

        Ok(Settings {
            scope: Scope {
                namespace: target,
                include_children: args.include_child_namespaces,
                previews,
            },
            git_directory,
            workspace,
            source,
            git,
            delete: plan.is_some_and(|p| p.delete),
            dry_run: write.is_some_and(|w| w.dry_run),
            max_deletes: plan.map_or(DEFAULT_MAX_DELETES, |p| p.max_deletes),
            allow_mass_delete: plan.is_some_and(|p| p.allow_mass_delete),
            ignore_invalid_flows: plan.is_some_and(|p| p.ignore_invalid_flows),
            fail_on_missing_directory: args.fail_on_missing_directory,
            kestra,
            server_error,
            http,
            concurrency: write
                .map_or(DEFAULT_CONCURRENCY, |w| w.concurrency)
                .clamp(1, 64),
            format: plan.map_or(Format::Text, |p| p.format),
            detailed_exitcode: exit.is_some_and(|e| e.detailed_exitcode),
            plan_file: plan
                .and_then(|p| p.plan_file.clone())
                .filter(|f| !f.as_os_str().is_empty()),
            reviewed_plan: write
                .and_then(|w| w.reviewed_plan.clone())
                .filter(|p| !p.as_os_str().is_empty()),
            color,
            ci: CiSettings::default(),
            files,
        })
    }
}

fn kestra_config(
    args: &CommonArgs,
    url: String,
    http: &HttpOptions,
) -> Result<KestraConfig, SettingsError> {
    let advice = || SettingsError(crate::kestra::paths::url_advice(&url));
    let parsed = url::Url::parse(&url).map_err(|_| advice())?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.cannot_be_a_base() {
        return Err(advice());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(SettingsError(
            "--kestra-url must not contain credentials: pass them with KESTRA_USERNAME/KESTRA_PASSWORD or KESTRA_API_TOKEN".into(),
        ));
    }
    let token = non_empty(&args.kestra_api_token);
    let user = non_empty(&args.kestra_username);
    let password = args.kestra_password.clone().filter(|p| !p.is_empty());
    let auth =
        match (token, user, password) {
            (Some(_), Some(_), _) => return Err(SettingsError(
                "give either --kestra-api-token or --kestra-username/--kestra-password, not both"
                    .into(),
            )),
            (Some(t), None, _) => Auth::Bearer(SecretString::from(t)),
            (None, Some(u), Some(p)) => Auth::Basic {
                username: u,
                password: SecretString::from(p),
            },
            (None, Some(_), None) => {
                return Err(SettingsError(
                    "--kestra-username needs --kestra-password (env KESTRA_PASSWORD)".into(),
                ))
            }
            (None, None, Some(_)) => {
                return Err(SettingsError(
                    "--kestra-password needs --kestra-username (env KESTRA_USERNAME)".into(),
                ))
            }
            (None, None, None) => Auth::None,
        };
    Ok(KestraConfig {
        url,
        tenant: non_empty(&args.kestra_tenant),
        auth,
        timeout: http.timeout,
        retries: http.retries,
        backoff: http.backoff,
    })
}
