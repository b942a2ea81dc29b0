//! Pull-request previews (issue 14): a PR/MR's flows synced into their own namespace tree,
//! `preview-namespace` for its number (default `{target}-pr-{number}`), with every trigger
//! disabled and the Subflow / ForEachItem calls between synced flows pointed into the
//! preview; removed when the request closes.
//!
//! - [`deploy`]: prepare the flows for the target as usual, then give each its preview
//!   namespace (`prod.finance` → `prod-pr-7.finance`) and its preview text
//!   ([`crate::flow::preview`]); plan and apply them against the preview tree with deletes on,
//!   so the preview mirrors the request exactly (a file removed from the request removes its
//!   preview flow). With `--namespace-files`, the target's namespace files go into the
//!   preview root the same way, mirrored. Deletes are scoped to the preview tree: the scope is
//!   the preview root and its children, nothing else.
//! - [`destroy`]: list the preview tree by prefix and delete every flow and namespace file in
//!   it, each namespace checked first against the template and the number (a namespace the
//!   template does not produce for that number is never touched).
//! - [`previews`]: the numbers of the previews present on the server, for a sweep.

use std::collections::{BTreeMap, BTreeSet};

use super::pipeline::{self, Planned, RunError};
use crate::apply::Report;
use crate::flow::preview::{preview_text, Call};
use crate::flow::rewrite::rewrite_namespace;
use crate::flow::{Flow, Problem};
use crate::kestra::{KestraClient, PreviewTemplate, Scope};
use crate::nsfiles::LocalFile;
use crate::settings::{Settings, SettingsError};
use crate::untrusted::visible_line;

/// What a preview copy changed, for the people reading it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notes {
    /// Triggers disabled (all the flows' triggers).
    pub triggers: usize,
    /// `(git path, call, preview namespace)`: calls pointed at a preview flow.
    pub remapped: Vec<(String, Call, String)>,
    /// `(git path, call)`: calls to a flow this sync does not hold: they run the live flow.
    pub live_calls: Vec<(String, Call)>,
    /// `(git path, call)`: calls whose flow is an expression, chosen at run time.
    pub dynamic_calls: Vec<(String, Call)>,
}

/// The preview of one request, ready to plan.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The preview namespace (root of the preview tree).
    pub root: String,
    /// The flows as they go into the preview.
    pub flows: Vec<Flow>,
    pub notes: Notes,
}

/// What a reader of the log needs to know about a preview copy, as text.
pub fn notes_text(root: &str, flows: usize, notes: &Notes) -> String {
    let mut out = format!(
        "Preview `{root}`: {flows} flow(s), {} trigger(s) disabled.\n",
        notes.triggers
    );
    for (path, call, new) in &notes.remapped {
        out.push_str(&format!(
            "  {}:{}: calls the preview flow {}/{} (written {})\n",
            visible_line(path),
            call.line,
            new,
            visible_line(&call.flow_id),
            visible_line(&call.namespace)
        ));
    }
    for (path, call) in &notes.live_calls {
        out.push_str(&format!(
            "  {}:{}: calls the live flow {}/{} (not part of this sync)\n",
            visible_line(path),
            call.line,
            visible_line(&call.namespace),
            visible_line(&call.flow_id)
        ));
    }
    for (path, call) in &notes.dynamic_calls {
        out.push_str(&format!(
            "  {}:{}: calls a flow chosen at run time ({}/{}): it may be the live one\n",
            visible_line(path),
            call.line,
            visible_line(&call.namespace),
            visible_line(&call.flow_id)
        ));
    }
    out
}

/// The preview namespace of request `number`, or why the template cannot make one.
pub fn root(settings: &Settings, number: u64) -> Result<String, RunError> {
    settings
        .scope
        .previews
        .root(&settings.scope.namespace, number)
        .map_err(|why| RunError::Settings(SettingsError(format!("--preview-namespace: {why}"))))
}

/// The settings of a sync of the preview tree `root`: the root and all its children, with
/// deletes (the preview mirrors the request) and no mass-delete guard (the tree is the
/// preview's own: emptying it is what a request that removes every flow asks for).
pub fn tree_settings(settings: &Settings, root: &str) -> Settings {
    let mut s = settings.clone();
    // With `--namespace-files`, the files go with the flows: the target's files into the
    // preview root, mirrored (deletes on), under the same `--namespace-directory`.
    s.scope = Scope {
        namespace: root.to_string(),
        include_children: true,
        previews: settings.scope.previews.clone(),
    };
    s.delete = true;
    s.allow_mass_delete = true;
    s.dry_run = false;
    s
}

/// The preview copies of `flows` (prepared for the target) for request `number`.
pub fn prepare(settings: &Settings, number: u64, flows: &[Flow]) -> Result<Prepared, RunError> {
    let target = settings.scope.namespace.as_str();
    let root = root(settings, number)?;
    let synced: BTreeSet<(&str, &str)> = flows
        .iter()
        .map(|f| (f.namespace.as_str(), f.id.as_str()))
        .collect();
    let remap = |ns: &str, id: &str| {
        synced
            .contains(&(ns, id))
            .then(|| PreviewTemplate::map_into(target, &root, ns))
            .flatten()
    };
    let mut out = Vec::with_capacity(flows.len());
    let mut notes = Notes::default();
    let mut problems = Vec::new();
    for f in flows {
        let problem = |p: crate::flow::parse::FileProblem| Problem {
            file: f.git_path.clone(),
            line: p.line.map(|l| f.git_line(l)),
            message: format!("preview copy: {}", p.message),
        };
        let Some(namespace) = PreviewTemplate::map_into(target, &root, &f.namespace) else {
            // prepared flows are all in the target's tree
            continue;
        };
        let text =
            rewrite_namespace(&f.source, &namespace).and_then(|moved| preview_text(&moved, &remap));
        match text {
            Ok(mut t) => {
                // call lines are lines of `f.source`: give them as lines of the Git file
                for c in t
                    .remapped
                    .iter_mut()
                    .map(|(c, _)| c)
                    .chain(t.live_calls.iter_mut())
                    .chain(t.dynamic_calls.iter_mut())
                {
                    c.line = f.git_line(c.line);
                }
                notes.triggers += t.triggers;
                let path = || f.git_path.clone();
                notes
                    .remapped
                    .extend(t.remapped.into_iter().map(|(c, n)| (path(), c, n)));
                notes
                    .live_calls
                    .extend(t.live_calls.into_iter().map(|c| (path(), c)));
                notes
                    .dynamic_calls
                    .extend(t.dynamic_calls.into_iter().map(|c| (path(), c)));
                out.push(Flow {
                    git_path: f.git_path.clone(),
                    namespace,
                    id: f.id.clone(),
                    source: t.source,
                    // the preview text adds lines of its own: server lines are its lines
                    inserted_line: None,
                });
            }
            Err(p) => problems.push(problem(p)),
        }
    }
    if !problems.is_empty() {
        return Err(RunError::Problems(problems));
    }
    Ok(Prepared {
        root,
        flows: out,
        notes,
    })
}

/// A deployed preview.
pub struct Deployed {
    pub prepared: Prepared,
    pub planned: Planned,
    /// `None` when the preview already matched the request.
    pub report: Option<Report>,
}

/// Sync the request's flows (`flows`, prepared for the target) and, with
/// `--namespace-files`, its namespace files (`ns_files`, the target's: they go to the
/// preview root) into its preview tree, mirroring them exactly.
pub async fn deploy(
    settings: &Settings,
    number: u64,
    flows: &[Flow],
    ns_files: Option<Vec<LocalFile>>,
) -> Result<Deployed, RunError> {
    let prepared = prepare(settings, number, flows)?;
    let tree = tree_settings(settings, &prepared.root);
    let ns_files = tree.files.as_ref().map(|_| ns_files.unwrap_or_default());
    let planned = pipeline::plan(&tree, prepared.flows.clone(), ns_files).await?;
    let report = if planned.plan.summary.has_changes() {
        Some(pipeline::apply(&tree, &planned).await?)
    } else {
        None
    };
    Ok(Deployed {
        prepared,
        planned,
        report,
    })
}

/// A destroyed preview.
pub struct Destroyed {
    pub root: String,
    /// `(namespace, id)` of the flows deleted.
    pub deleted: Vec<(String, String)>,
    /// `(namespace, path)` of the namespace files deleted.
    pub deleted_files: Vec<(String, String)>,
    /// The apply's report, when there was anything to delete.
    pub report: Option<Report>,
}

/// Delete every flow and every namespace file of request `number`'s preview tree. Each flow
/// listed, and each namespace whose files are listed (the preview root and the namespaces of
/// the tree's flows), is checked first against the template and the number: one that does
/// not belong to this preview stops the destroy (nothing deleted). Files go whatever
/// `--namespace-files` says (a stop job may not carry the option), and all of them, not only
/// those under `--namespace-directory`: the preview tree is the preview's own. Files are
/// deleted first, one request per file, then the flows.
pub async fn destroy(settings: &Settings, number: u64) -> Result<Destroyed, RunError> {
    let root = root(settings, number)?;
    let mut tree = tree_settings(settings, &root);
    // the files are handled below, per namespace of the tree
    tree.files = None;
    let planned = pipeline::plan(&tree, Vec::new(), None).await?;
    let target = &settings.scope.namespace;
    let ours = |ns: &str| {
        settings.scope.previews.number_of(target, ns) == Some(number) && tree.scope.contains(ns)
    };
    let refuse = |what: String| {
        RunError::Settings(SettingsError(format!(
            "refusing to destroy the preview of #{number}: {what}, which is not in that preview (template `{}`); nothing was deleted",
            settings.scope.previews
        )))
    };
    let mut deleted = Vec::new();
    let mut namespaces = BTreeSet::from([root.clone()]);
    for f in planned.plan.changes() {
        if !ours(&f.namespace) {
            return Err(refuse(format!(
                "the listing of `{root}` holds `{}/{}`",
                f.namespace, f.flow_id
            )));
        }
        deleted.push((f.namespace.clone(), f.flow_id.clone()));
        namespaces.insert(f.namespace.clone());
    }
    if let Some(ns) = namespaces.iter().find(|ns| !ours(ns)) {
        return Err(refuse(format!("its files' namespace `{ns}`")));
    }
    let deleted_files = destroy_files(&tree, &planned.client, &namespaces).await?;
    let report = if deleted.is_empty() {
        None
    } else {
        Some(pipeline::apply(&tree, &planned).await?)
    };
    Ok(Destroyed {
        root,
        deleted,
        deleted_files,
        report,
    })
}

/// Delete every namespace file of `namespaces` (each read with one export): the files
/// deleted, or the first failure (the flows are then left for the next destroy to finish).
async fn destroy_files(
    tree: &Settings,
    client: &KestraClient,
    namespaces: &BTreeSet<String>,
) -> Result<Vec<(String, String)>, RunError> {
    let mut deleted = Vec::new();
    for ns in namespaces {
        let live = client.export_files(ns).await?;
        if live.is_empty() {
            continue;
        }
        let rows = crate::nsfiles::plan::compute(ns, &[], &live, "", true);
        let results = crate::apply::files::delete(client, &rows, tree.concurrency).await;
        let mut failures = Vec::new();
        for r in results {
            use crate::apply::Outcome;
            let why = match r.outcome {
                Outcome::Applied { .. } => {
                    deleted.push((r.namespace, r.kestra_path));
                    continue;
                }
                Outcome::Failed { error } | Outcome::Unknown { error } => error,
                _ => "not deleted".to_string(),
            };
            failures.push(format!(
                "`{}` in `{}`: {why}",
                crate::untrusted::visible_line(&r.kestra_path),
                r.namespace
            ));
        }
        if !failures.is_empty() {
            return Err(RunError::Settings(SettingsError(format!(
                "the preview's namespace files could not all be deleted (its flows were left for the next destroy): {}",
                failures.join("; ")
            ))));
        }
    }
    deleted.sort();
    Ok(deleted)
}

/// The previews of the target on the server: number → preview namespaces holding flows.
pub async fn previews(settings: &Settings) -> Result<BTreeMap<u64, BTreeSet<String>>, RunError> {
    let config = settings.server()?.clone();
    let client = KestraClient::connect(config).await?;
    let target = &settings.scope.namespace;
    let template = &settings.scope.previews;
    let namespaces = client
        .namespaces_starting_with(&template.literal_prefix(target))
        .await?;
    let mut found: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for ns in namespaces {
        if let Some(n) = template.number_of(target, &ns) {
            found.entry(n).or_default().insert(ns);
        }
    }
    Ok(found)
}

/// Where the requests live, for a sweep.
pub enum Forge {
    GitHub {
        client: crate::github_api::GithubClient,
        repository: String,
    },
    GitLab(crate::forge::gitlab::GitLabNotes),
}

impl Forge {
    /// GitHub when `GITHUB_REPOSITORY` is set (API `GITHUB_API_URL`, token
    /// `KESTRA_SYNC_GITHUB_TOKEN` or `GITHUB_TOKEN`), else GitLab when `CI_PROJECT_ID` is
    /// (API `CI_API_V4_URL`, token `GITLAB_TOKEN`).
    pub fn from_env(settings: &Settings) -> Result<Forge, RunError> {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
        let fail = |m: String| RunError::Settings(SettingsError(m));
        if let Some(repository) = var("GITHUB_REPOSITORY") {
            let api = var("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".into());
            let token = settings.ci.github_token.as_ref().ok_or_else(|| {
                fail("preview sweep on GitHub needs a token that may read pull requests: set GITHUB_TOKEN or KESTRA_SYNC_GITHUB_TOKEN (permissions: pull-requests: read)".into())
            })?;
            let client = crate::github_api::GithubClient::with_options(&api, token, &settings.http)
                .map_err(|e| fail(e.to_string()))?;
            return Ok(Forge::GitHub { client, repository });
        }
        if let Some(project) = var("CI_PROJECT_ID") {
            let api_url = var("CI_API_V4_URL").ok_or_else(|| {
                fail("CI_API_V4_URL is not set: run inside GitLab CI, or set it to https://<gitlab host>/api/v4".into())
            })?;
            let mr = crate::forge::gitlab::MergeRequest {
                api_url,
                project,
                iid: 0,
            };
            let notes = crate::forge::gitlab::GitLabNotes::with_options(
                mr,
                settings.ci.gitlab_token.clone(),
                &settings.http,
            )
            .map_err(|e| fail(e.to_string()))?;
            return Ok(Forge::GitLab(notes));
        }
        Err(fail("preview sweep cannot tell where the pull/merge requests live: set GITHUB_REPOSITORY (owner/name) with GITHUB_TOKEN, or CI_PROJECT_ID and CI_API_V4_URL with GITLAB_TOKEN".into()))
    }

    /// Whether request `number` is open; `None` when the forge does not know it.
    pub async fn is_open(&self, number: u64) -> Result<Option<bool>, String> {
        match self {
            Forge::GitHub { client, repository } => client
                .pull_is_open(repository, number)
                .await
                .map_err(|e| e.to_string()),
            Forge::GitLab(notes) => notes
                .merge_request_is_open(number)
                .await
                .map_err(|e| e.to_string()),
        }
    }
}

/// What a sweep did, per preview number.
#[derive(Debug, Default)]
pub struct Swept {
    /// Previews of closed requests, destroyed: number → flows deleted.
    pub removed: BTreeMap<u64, Vec<(String, String)>>,
    /// Namespace files deleted with them: number → how many.
    pub files: BTreeMap<u64, usize>,
    /// Previews of open requests, kept.
    pub kept: Vec<u64>,
    /// Previews whose request the forge does not know: kept.
    pub unknown: Vec<u64>,
    /// Previews that could not be checked or removed: number → why.
    pub failed: BTreeMap<u64, String>,
    /// On GitHub, the removed previews' deployments marked inactive: number → outcome.
    pub deployments: BTreeMap<u64, super::preview_deploy::Step>,
}

/// Remove the previews of the target whose request is closed; keep the others. A failure on
/// one preview is recorded and the sweep goes on.
pub async fn sweep(settings: &Settings, forge: &Forge) -> Result<Swept, RunError> {
    let found = previews(settings).await?;
    let mut swept = Swept::default();
    for number in found.into_keys() {
        match forge.is_open(number).await {
            Ok(Some(true)) => swept.kept.push(number),
            Ok(None) => swept.unknown.push(number),
            Err(e) => {
                swept.failed.insert(number, e);
            }
            Ok(Some(false)) => match destroy(settings, number).await {
                Ok(d) => {
                    swept.removed.insert(number, d.deleted);
                    swept.files.insert(number, d.deleted_files.len());
                    if let Forge::GitHub { client, repository } = forge {
                        let step = super::preview_deploy::Step::of(
                            client
                                .deactivate_preview_deployments(repository, number, None)
                                .await,
                        );
                        swept.deployments.insert(number, step);
                    }
                }
                Err(e) => {
                    swept.failed.insert(number, e.to_string());
                }
            },
        }
    }
    Ok(swept)
}
