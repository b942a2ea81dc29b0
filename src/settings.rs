//! Raw options ([`crate::cli::SyncArgs`]) turned once into validated [`Settings`]: every
//! later stage can trust them. Errors here say which option is wrong and how to fix it.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use crate::cli::{Format, SourceKind, SyncArgs};
use crate::flow::check::check_namespace;
use crate::kestra::client::{Auth, KestraConfig};
use crate::kestra::Scope;

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
    /// `None` when no server was given (only `validate` may run without one).
    pub kestra: Option<KestraConfig>,
    pub concurrency: usize,
    pub format: Format,
    pub detailed_exitcode: bool,
    pub plan_file: Option<PathBuf>,
    pub color: bool,
}

/// `--git-url` and friends.
#[derive(Debug, Clone)]
pub struct GitSource {
    pub url: String,
    pub branch: String,
    pub username: Option<String>,
    pub password: Option<SecretString>,
}

/// A wrong option: the message names the option and what to do.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(pub String);

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_ref()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

impl Settings {
    /// Validate `args`. `need_server`: the command cannot run without `--kestra-url`.
    pub fn from_args(args: &SyncArgs, need_server: bool) -> Result<Settings, SettingsError> {
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
        let git_directory = args.git_directory.trim().to_string();
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

        let kestra = match non_empty(&args.kestra_url) {
            None if need_server => {
                return Err(SettingsError(
                    "--kestra-url is required (env KESTRA_URL, action input `kestra-url`): the base URL of the Kestra server, e.g. https://kestra.example.com".into(),
                ))
            }
            None => None,
            Some(url) => Some(kestra_config(args, url)?),
        };

        let git = match (args.source, non_empty(&args.git_url)) {
            (SourceKind::Git, None) => {
                return Err(SettingsError(
                    "--source git needs --git-url (env KESTRA_SYNC_GIT_URL)".into(),
                ))
            }
            (_, Some(url)) => Some(GitSource {
                url,
                branch: non_empty(&args.branch).unwrap_or_else(|| "main".into()),
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

        let color = match args.color.as_str() {
            "always" => true,
            "never" => false,
            _ => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::IsTerminal::is_terminal(&std::io::stdout())
            }
        };

        Ok(Settings {
            scope: Scope {
                namespace: target,
                include_children: args.include_child_namespaces,
            },
            git_directory,
            workspace,
            source,
            git,
            delete: args.delete,
            dry_run: args.dry_run,
            max_deletes: args.max_deletes,
            allow_mass_delete: args.allow_mass_delete,
            kestra,
            concurrency: args.concurrency.clamp(1, 64),
            format: args.format,
            detailed_exitcode: args.detailed_exitcode,
            plan_file: args.plan_file.clone(),
            color,
        })
    }
}

fn kestra_config(args: &SyncArgs, url: String) -> Result<KestraConfig, SettingsError> {
    let parsed = url::Url::parse(&url).map_err(|e| {
        SettingsError(format!(
            "--kestra-url is not a URL ({e}): give the base URL, e.g. https://kestra.example.com"
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(SettingsError(
            "--kestra-url must start with http:// or https://".into(),
        ));
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
        timeout: Duration::from_secs(args.timeout.max(1)),
        retries: args.retries,
        backoff: crate::http::Backoff::default(),
    })
}
