//! The pipeline every mode shares, wired from the stages: read the source, prepare the
//! flows (parse, check, rewrite), connect, read the live scope, compute the plan; and apply.
//! The modes ([`super::modes`]) call these, whatever the platform, so the CLI, the GitHub
//! action and GitLab CI behave the same.

use crate::apply::{self, ApplyError, ApplyOptions, Report};
use crate::cli::SourceKind;
use crate::flow::{self, Flow, Problem};
use crate::kestra::{Fetched, KestraClient, KestraError, LocalFlow, Scope, Validation};
use crate::lock::{self, LockError, Refusal, Reviewed};
use crate::nsfiles::{self, LocalFile, RemoteFile};
use crate::plan::{self, Plan};
use crate::settings::{Settings, SettingsError};
use crate::source::{self, SourceError, SourceFile, SourceSpec};

/// Everything that can stop a run, each with what the user needs to act.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Source(#[from] SourceError),
    /// Local problems in flow files: all of them, each with file and line.
    #[error("{} problem(s) in flow files: fix them and run again", .0.len())]
    Problems(Vec<Problem>),
    #[error(transparent)]
    Kestra(#[from] KestraError),
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// The reviewed plan (`--reviewed-plan`) could not be read.
    #[error("{0}")]
    Reviewed(#[from] LockError),
    /// The fresh plan is not the reviewed one: nothing was written.
    #[error("the plan is not the one reviewed; nothing was written:\n{0}Review a new plan (run plan again, or push to the pull/merge request) and apply that one.")]
    Unreviewed(Refusal),
}

impl RunError {
    /// Server validation results when the server refused flows.
    pub fn validations(&self) -> Option<&[Validation]> {
        match self {
            RunError::Apply(ApplyError::Invalid(v)) => Some(v),
            _ => None,
        }
    }
}

/// The flow files, and whatever must live as long as they are read (a clone's temp dir).
pub struct Loaded {
    pub files: Vec<SourceFile>,
    /// `git-directory` does not exist and `--fail-on-missing-directory` is off: the source
    /// is empty, and the plan must not delete anything because of it.
    pub missing_directory: bool,
    /// The namespace files, with `--namespace-files`.
    pub ns_files: Option<Vec<LocalFile>>,
    /// Keeps a temporary checkout alive while the files are used.
    pub _keep: Option<Box<dyn std::any::Any + Send>>,
}

fn spec_for(settings: &Settings, root: std::path::PathBuf) -> SourceSpec {
    SourceSpec {
        workspace: root,
        git_directory: settings.git_directory.clone(),
        include_child_namespaces: settings.scope.include_children,
    }
}

/// Files read, or the missing directory `--fail-on-missing-directory false` allows: an
/// empty source (`true`), with a warning.
pub fn allow_missing(
    settings: &Settings,
    read: Result<Vec<SourceFile>, SourceError>,
) -> Result<(Vec<SourceFile>, bool), SourceError> {
    match read {
        Ok(files) => Ok((files, false)),
        Err(SourceError::MissingDirectory { path, .. }) if !settings.fail_on_missing_directory => {
            tracing::warn!(
                "git-directory `{path}` does not exist: no flow is read, and nothing is deleted (fail-on-missing-directory is off)"
            );
            Ok((Vec::new(), true))
        }
        Err(e) => Err(e),
    }
}

/// Read the flow files from the configured source.
pub async fn read_source(settings: &Settings) -> Result<Loaded, RunError> {
    match settings.source {
        SourceKind::Workspace => {
            let read = source::workspace::read(&spec_for(settings, settings.workspace.clone()));
            let (files, missing_directory) = allow_missing(settings, read)?;
            let ns_files = read_ns_files(settings, &settings.workspace)?;
            Ok(Loaded {
                files,
                missing_directory,
                ns_files,
                _keep: None,
            })
        }
        SourceKind::Git => {
            let Some(git) = &settings.git else {
                return Err(RunError::Settings(SettingsError(
                    "--source git needs --git-url (env KESTRA_SYNC_GIT_URL)".into(),
                )));
            };
            let repo = source::git::clone(git).await?;
            tracing::info!("cloned {} at {} ({})", repo.url(), repo.branch(), repo.commit());
            let read = source::workspace::read(&spec_for(settings, repo.path().to_path_buf()));
            let (files, missing_directory) = allow_missing(settings, read)?;
            let ns_files = read_ns_files(settings, repo.path())?;
            Ok(Loaded {
                files,
                missing_directory,
                ns_files,
                _keep: Some(Box::new(repo)),
            })
        }
        SourceKind::Github => Err(RunError::Source(SourceError::Other(
            "--source github reads the repository at the event's commit and runs only under `kestra-sync ci` in GitHub Actions".into(),
        ))),
    }
}

/// The namespace files under `root` (a workspace, a clone, an extracted tarball), with
/// `--namespace-files`; `None` without.
pub fn read_ns_files(
    settings: &Settings,
    root: &std::path::Path,
) -> Result<Option<Vec<LocalFile>>, RunError> {
    match &settings.files {
        None => Ok(None),
        Some(fs) => Ok(Some(nsfiles::local::read(root, fs)?)),
    }
}

/// Parse, check and rewrite the files for the target.
pub fn prepare(settings: &Settings, files: &[SourceFile]) -> Result<Vec<Flow>, RunError> {
    let flows = flow::prepare(files, &settings.scope.namespace).map_err(RunError::Problems)?;
    outside_previews(&settings.scope, flows)
}

/// The flows, or a problem for each that would land in a pull-request preview namespace
/// (a folder the `preview-namespace` template claims, e.g. `pr-8/` with
/// `{target}.pr-{number}`): the target's syncs never see those namespaces, so such a flow
/// would be added again on every run, and removed with the preview.
fn outside_previews(scope: &Scope, flows: Vec<Flow>) -> Result<Vec<Flow>, RunError> {
    let problems: Vec<Problem> = flows
        .iter()
        .filter(|f| scope.is_preview(&f.namespace))
        .map(|f| Problem {
            file: f.git_path.clone(),
            line: None,
            message: format!(
                "this flow would land in `{}`, a pull-request preview namespace by --preview-namespace `{}`: rename its folder, or choose another --preview-namespace",
                f.namespace, scope.previews
            ),
        })
        .collect();
    if problems.is_empty() {
        Ok(flows)
    } else {
        Err(RunError::Problems(problems))
    }
}

/// A computed plan, with what apply needs.
pub struct Planned {
    pub flows: Vec<Flow>,
    pub client: KestraClient,
    pub plan: Plan,
    /// The local namespace files the plan was computed from (with `--namespace-files`), as
    /// read: a review's preview deploys these same bytes, without reading the source again.
    pub ns_files: Option<Vec<LocalFile>>,
}

/// Connect, read the live scope, and compute the plan (the requests do not grow with the
/// number of flows: see [`KestraClient::list_flows`] and [`KestraClient::read_revisions`]).
pub async fn plan(
    settings: &Settings,
    flows: Vec<Flow>,
    ns_files: Option<Vec<LocalFile>>,
) -> Result<Planned, RunError> {
    let (client, fetched) = connect_and_fetch(settings).await?;
    finish_plan(settings, client, fetched, flows, ns_files).await
}

/// Read, prepare and plan in one go. Preparing (parsing and checking every file) and
/// reading the live scope take about as long each for thousands of flows, and one needs
/// the CPU while the other waits on the network: they run at the same time. Local problems
/// win over a server error: they are what the user must fix first.
pub async fn read_and_plan(settings: &Settings) -> Result<Planned, RunError> {
    plan_loaded(settings, read_source(settings).await?).await
}

/// Prepare the files read and plan, the preparing and the reading of the live scope at the
/// same time (see [`read_and_plan`]).
pub async fn plan_loaded(settings: &Settings, loaded: Loaded) -> Result<Planned, RunError> {
    let Loaded {
        files,
        missing_directory,
        ns_files,
        _keep,
    } = loaded;
    let settings = &without_deletes_if(settings, missing_directory);
    let target = settings.scope.namespace.clone();
    let preparing = tokio::task::spawn_blocking(move || flow::prepare(&files, &target));
    let (prepared, fetched) = tokio::join!(preparing, connect_and_fetch(settings));
    let flows = match prepared {
        Ok(prepared) => outside_previews(&settings.scope, prepared.map_err(RunError::Problems)?)?,
        // a panic while checking is a bug: re-raise it where it happened
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    };
    let (client, fetched) = fetched?;
    let mut planned = finish_plan(settings, client, fetched, flows, ns_files).await?;
    if missing_directory {
        planned.plan.warnings.push(format!(
            "git-directory `{}` does not exist: no flow was read and nothing will be deleted (fail-on-missing-directory is off)",
            settings.git_directory
        ));
    }
    Ok(planned)
}

/// `settings` with `delete` off when `missing`: a folder that does not exist is never a
/// reason to delete (`--fail-on-missing-directory false`).
pub fn without_deletes_if(settings: &Settings, missing: bool) -> Settings {
    let mut s = settings.clone();
    if missing && s.delete {
        s.delete = false;
    }
    s
}

/// The live scope read at connection: the flows, and with `--namespace-files` the target
/// namespace's files (one export, read at the same time).
struct Live {
    flows: Fetched,
    files: Option<Vec<RemoteFile>>,
}

async fn connect_and_fetch(settings: &Settings) -> Result<(KestraClient, Live), RunError> {
    let config = settings.server()?.clone();
    let client = KestraClient::connect(config).await?;
    let namespace = &settings.scope.namespace;
    let files = async {
        match &settings.files {
            Some(_) => client.export_files(namespace).await.map(Some),
            None => Ok(None),
        }
    };
    let (flows, files) = tokio::join!(client.fetch_scope(&settings.scope), files);
    let live = Live {
        flows: flows?,
        files: files?,
    };
    Ok((client, live))
}

async fn finish_plan(
    settings: &Settings,
    client: KestraClient,
    live: Live,
    flows: Vec<Flow>,
    ns_files: Option<Vec<LocalFile>>,
) -> Result<Planned, RunError> {
    let Live {
        flows: fetched,
        files: live_files,
    } = live;
    let local: Vec<LocalFlow<'_>> = flows
        .iter()
        .map(|f| LocalFlow {
            namespace: &f.namespace,
            id: &f.id,
            source: &f.source,
        })
        .collect();
    let listing = client.finish_listing(fetched, &local).await?;
    let mut plan = plan::compute(
        &flows,
        &listing.flows,
        &settings.scope,
        settings.delete,
        client.server_info().clone(),
    );
    // Beyond 1,000 flows the listing gives no revision past its first search page: read
    // those of the flows the plan changes (a few requests), never of the unchanged ones.
    let unknown = plan.unknown_revisions();
    if !unknown.is_empty() {
        let revisions = client.read_revisions(&listing, &unknown).await?;
        plan.set_revisions(&revisions);
    }
    if let Some(fs) = &settings.files {
        let rows = nsfiles::plan::compute(
            &settings.scope.namespace,
            ns_files.as_deref().unwrap_or_default(),
            live_files.as_deref().unwrap_or_default(),
            &fs.namespace_directory,
            settings.delete,
        );
        plan.set_files(rows);
    }
    validate_writes(settings, &client, &mut plan, &flows).await?;
    Ok(Planned {
        flows,
        client,
        plan,
        ns_files,
    })
}

/// Have the server validate every flow the plan writes (`POST /flows/validate`, read-only,
/// 100 flows a request, as apply does), then compute the plan's blockers. A plan that
/// writes nothing costs no request. Invalid flows stay in the plan with the server's
/// reasons (they fail it, see [`Plan::check`]), or are skipped with
/// `--ignore-invalid-flows`.
async fn validate_writes(
    settings: &Settings,
    client: &KestraClient,
    plan: &mut Plan,
    flows: &[Flow],
) -> Result<(), RunError> {
    let writes: std::collections::HashSet<(&str, &str)> = plan
        .writes()
        .map(|f| (f.namespace.as_str(), f.flow_id.as_str()))
        .collect();
    let to_validate: Vec<&Flow> = flows
        .iter()
        .filter(|f| writes.contains(&(f.namespace.as_str(), f.id.as_str())))
        .collect();
    let results = if to_validate.is_empty() {
        Vec::new()
    } else {
        client.validate(&to_validate).await?
    };
    plan.set_validation(flows, results, settings.ignore_invalid_flows);
    plan.check(settings.guard());
    if plan.summary.invalid > 0 {
        let message = format!(
            "{} flow(s) refused by the server are skipped (--ignore-invalid-flows): they are not written, and their copies on the server stay as they are",
            plan.summary.invalid
        );
        tracing::warn!("{message}");
        plan.warnings.push(message);
    }
    Ok(())
}

/// Largest reviewed plan file read (a plan of 10,000 flows with diffs is a few MiB).
const MAX_REVIEWED_PLAN: u64 = 256 << 20;

/// Read the reviewed JSON plan at `path`.
pub fn read_reviewed(path: &std::path::Path) -> Result<Reviewed, RunError> {
    use std::io::Read as _;
    let name = path.display().to_string();
    let cannot = |e: std::io::Error| {
        LockError(format!(
            "cannot read the reviewed plan `{name}` ({e}): give the JSON plan file the review wrote (--plan-file, or its CI artifact)"
        ))
    };
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(cannot)?
        .take(MAX_REVIEWED_PLAN + 1)
        .read_to_string(&mut text)
        .map_err(cannot)?;
    if text.len() as u64 > MAX_REVIEWED_PLAN {
        return Err(LockError(format!(
            "the reviewed plan `{name}` is larger than {} MiB: not a kestra-sync plan",
            MAX_REVIEWED_PLAN >> 20
        ))
        .into());
    }
    Ok(Reviewed::from_plan_json(&text, &name)?)
}

/// Refuse `planned` unless it is the `reviewed` plan (see [`crate::lock`]).
pub fn check_reviewed(planned: &Planned, reviewed: &Reviewed) -> Result<(), RunError> {
    lock::check(&planned.plan, reviewed).map_err(RunError::Unreviewed)
}

/// Apply a computed plan; with `--reviewed-plan`, only when it is the reviewed one.
pub async fn apply(settings: &Settings, planned: &Planned) -> Result<Report, RunError> {
    if let Some(path) = &settings.reviewed_plan {
        let reviewed = read_reviewed(path)?;
        check_reviewed(planned, &reviewed)?;
    }
    apply_unchecked(settings, planned).await
}

/// Apply a computed plan, without comparing it with a reviewed one (CI does that itself,
/// with the lock of the pull/merge request's comment).
pub async fn apply_unchecked(settings: &Settings, planned: &Planned) -> Result<Report, RunError> {
    let opts = ApplyOptions {
        concurrency: settings.concurrency,
        max_deletes: settings.max_deletes,
        allow_mass_delete: settings.allow_mass_delete,
    };
    Ok(apply::apply(&planned.client, &planned.plan, &planned.flows, &opts).await?)
}

/// Validate prepared flows on the server at `config` (nothing is written).
pub async fn validate(
    config: crate::kestra::client::KestraConfig,
    flows: &[Flow],
) -> Result<Vec<Validation>, RunError> {
    let client = KestraClient::connect(config).await?;
    let refs: Vec<&Flow> = flows.iter().collect();
    Ok(client.validate(&refs).await?)
}
