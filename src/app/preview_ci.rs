//! Pull-request previews in `kestra-sync ci` (issue 14, option `preview`): the review run
//! deploys the request's preview after the plan comment, the GitHub `closed` run removes it,
//! and the sticky comment's **Preview** section says which (`render::preview`).
//!
//! Two layers, so that other CI features (GitHub deployments) can use the same operations:
//! - [`deploy_for_review`] and [`remove`]: the operations on the server, returning what
//!   happened ([`PreviewOutcome`], [`RemovedOutcome`]); no reporting.
//! - [`close`], [`fork_review`], [`review`], [`plan_failed`]: the hooks [`super::modes`] calls, reporting
//!   through the [`Reporter`] (log, job summary, the comment's Preview section).
//!
//! Decisions (README, "Pull-request previews"):
//! - the preview is deployed only when the plan is: a plan that failed (invalid flows, server
//!   unreachable) or that apply would refuse (blockers) leaves the preview as the last good
//!   push left it, and the comment says "not deployed" and why;
//! - a fork's request never gets a preview, even when the run has the project's secrets
//!   (`pull_request_target`): the preview would put its code on the server, runnable by
//!   anyone with access there;
//! - `dry-run` writes nothing, previews included;
//! - a closed pull request is never planned again (its comment holds the plan lock the
//!   merge's push checks): the `closed` run only removes the preview and edits the Preview
//!   section, keeping every other byte of the comment; without a plan comment of ours it
//!   posts none just to say "removed" (as `preview destroy`, [`super::preview_note`]).
//! - a preview that fails to deploy or to be removed fails the job (the reviewer would
//!   otherwise run a stale preview); the plan comment is posted first either way.

use std::time::SystemTime;

use super::pipeline::{Planned, RunError};
use super::preview::{self, Notes};
use super::report::{findings, Level, Posted, Reporter};
use super::Exit;
use crate::apply::Report;
use crate::flow::Flow;
use crate::nsfiles::LocalFile;
use crate::render::markdown;
use crate::render::preview::{self as section, Section};
use crate::settings::Settings;

/// What a review's preview deployed.
#[derive(Debug)]
pub struct PreviewOutcome {
    /// The request's number.
    pub number: u64,
    /// The preview namespace (root of the preview tree).
    pub root: String,
    /// The preview namespace's page in the Kestra UI, when the server URL makes one.
    pub ui_url: Option<String>,
    /// The preview tree's plan: flows added, updated, deleted, unchanged.
    pub added: usize,
    pub updated: usize,
    pub deleted: usize,
    pub unchanged: usize,
    /// The namespace files' counts, with `--namespace-files` (they go to the preview root).
    pub files: Option<crate::nsfiles::FilesSummary>,
    /// Triggers disabled, calls remapped, calls of the live flow.
    pub notes: Notes,
    /// How many flows the preview holds.
    pub flows: usize,
    /// When it was deployed.
    pub at: SystemTime,
    /// The apply's report; `None` when the preview already matched.
    pub report: Option<Report>,
    /// The preview tree's plan as the log shows it.
    pub plan_text: String,
}

/// What closing a request removed.
#[derive(Debug)]
pub struct RemovedOutcome {
    pub number: u64,
    pub root: String,
    /// `(namespace, id)` of the flows deleted.
    pub deleted: Vec<(String, String)>,
    /// `(namespace, path)` of the namespace files deleted.
    pub deleted_files: Vec<(String, String)>,
    pub at: SystemTime,
}

/// Deploy request `number`'s preview from `flows` (prepared for the target, as the review's
/// plan holds them) and, with `--namespace-files`, `ns_files` (the target's): the preview
/// tree mirrors them exactly.
pub async fn deploy_for_review(
    settings: &Settings,
    number: u64,
    flows: &[Flow],
    ns_files: Option<Vec<LocalFile>>,
) -> Result<PreviewOutcome, RunError> {
    let d = preview::deploy(settings, number, flows, ns_files).await?;
    Ok(outcome(settings, number, d))
}

/// What deploying request `number`'s preview did (`d`), for the log and the comment.
pub fn outcome(settings: &Settings, number: u64, d: preview::Deployed) -> PreviewOutcome {
    let plan = &d.planned.plan;
    let s = &plan.summary;
    PreviewOutcome {
        number,
        ui_url: d.planned.client.ui_namespace_url(&d.prepared.root).ok(),
        added: s.added,
        updated: s.updated,
        deleted: s.deleted,
        unchanged: s.unchanged,
        files: s.files,
        flows: d.prepared.flows.len(),
        plan_text: crate::render::text::render(plan, settings.color),
        root: d.prepared.root,
        notes: d.prepared.notes,
        at: SystemTime::now(),
        report: d.report,
    }
}

/// Remove request `number`'s preview (every flow of its tree; see [`preview::destroy`]).
pub async fn remove(settings: &Settings, number: u64) -> Result<RemovedOutcome, RunError> {
    let d = preview::destroy(settings, number).await?;
    Ok(RemovedOutcome {
        number,
        root: d.root,
        deleted: d.deleted,
        deleted_files: d.deleted_files,
        at: SystemTime::now(),
    })
}

/// A time as the Preview section shows it, in UTC: `Thu, 03 Dec 2026 09:45:19 UTC` (the
/// HTTP date form, whose `GMT` is UTC).
pub fn when(at: SystemTime) -> String {
    let date = httpdate::fmt_http_date(at);
    match date.strip_suffix("GMT") {
        Some(d) => format!("{d}UTC"),
        None => date,
    }
}

/// The Preview section of a deployed preview; `deployment`: its GitHub deployment's outcome
/// ([`super::preview_deploy::Step::short`]).
pub fn deployed_section(
    o: &PreviewOutcome,
    at: &str,
    deployment: Option<&str>,
    full: bool,
) -> String {
    section::render(
        &Section::Deployed(section::Deployed {
            root: &o.root,
            link: o.ui_url.as_deref(),
            added: o.added,
            updated: o.updated,
            deleted: o.deleted,
            unchanged: o.unchanged,
            files: o
                .files
                .map(|f| (f.added, f.overwritten, f.deleted, f.unchanged)),
            triggers: o.notes.triggers,
            remapped: &o.notes.remapped,
            live_calls: &o.notes.live_calls,
            dynamic_calls: &o.notes.dynamic_calls,
            at,
            deployment,
        }),
        full,
    )
}

/// Hook at the start of a fork's review (the run has no secrets): with `preview` on, say in
/// the log and the job summary that it gets no preview.
pub fn fork_review<R: Reporter>(r: &R, settings: &Settings) {
    if !settings.ci.preview {
        return;
    }
    let why = fork_why(r);
    r.print(Level::Notice, Some("Preview"), &why);
    let md = section::render(
        &Section::NotDeployed {
            root: None,
            why: &why,
            error: None,
        },
        true,
    );
    r.summary(|_| md);
}

fn fork_why<R: Reporter>(r: &R) -> String {
    format!(
        "No preview: this {} comes from a fork. Its run has no Kestra secrets, and its flows are never deployed to the server (anyone with access there could run them). A maintainer can push the branch to this repository to get a preview.",
        r.review_noun()
    )
}

/// Hook after a review's plan comment: deploy the preview (when `preview` is on and nothing
/// stops it), add the Preview section to the comment. Returns the section for the job
/// summary, and `Some(Exit::Error)` when the preview failed.
pub async fn review<R: Reporter>(
    r: &R,
    settings: &Settings,
    planned: &Planned,
    number: u64,
    fork: bool,
) -> (Vec<String>, Option<Exit>) {
    // a fork without secrets was told in `before`
    if !settings.ci.preview || fork {
        return (Vec::new(), None);
    }
    let root = preview::root(settings, number).ok();
    let skip = if number == 0 {
        // GitLab without CI_MERGE_REQUEST_IID: `prod-pr-0` would be no request's preview
        Some(format!(
            "Not deployed: this {} has no number (is CI_MERGE_REQUEST_IID set?).",
            r.review_noun()
        ))
    } else if r.head_is_fork() {
        Some(fork_why(r))
    } else if !planned.plan.blockers.is_empty() {
        Some(format!(
            "Not deployed: apply would refuse this plan (see above), so the preview was left as it was{}. Fix the plan and push again.",
            root.as_deref()
                .map(|_| " (the last push whose plan passed, if any)")
                .unwrap_or_default()
        ))
    } else if settings.dry_run {
        Some(format!(
            "Not deployed: `{}` is on, so nothing is written, previews included.",
            r.option("dry-run")
        ))
    } else {
        None
    };
    if let Some(why) = skip {
        r.print(Level::Notice, Some("Preview"), &why);
        let s = Section::NotDeployed {
            root: root.as_deref(),
            why: &why,
            error: None,
        };
        show(r, settings, number, &s).await;
        return (vec![section::render(&s, true)], None);
    }
    r.section(&format!(
        "kestra-sync: preview of {} in `{}`",
        r.request_ref(number),
        root.as_deref().unwrap_or("?")
    ));
    // The namespace files the plan was computed from: the preview gets the same bytes, and
    // the source is read once (one tarball with `source: github`).
    let result =
        deploy_for_review(settings, number, &planned.flows, planned.ns_files.clone()).await;
    match result {
        Ok(o) => {
            r.product(&o.plan_text);
            if let Some(report) = &o.report {
                r.product(&crate::render::text::render_report(report, settings.color));
            }
            r.product(&preview::notes_text(&o.root, o.flows, &o.notes));
            r.end_section();
            let at = when(o.at);
            r.print(
                Level::Notice,
                Some("Preview"),
                &format!(
                    "{} deployed to `{}`: {} flow(s), {} trigger(s) disabled",
                    r.request_ref(number),
                    o.root,
                    o.flows,
                    o.notes.triggers
                ),
            );
            // GitHub: a deployment linking the preview (never fails the job)
            let deployment = match &o.ui_url {
                Some(url) => r.preview_deployment(number, Some((&o.root, url))).await,
                None => super::preview_deploy::Step::Failed(format!(
                    "no Kestra UI link can be made for `{}` from the server URL",
                    o.root
                )),
            };
            report_deployment(r, &deployment);
            let dep = deployment.short();
            let full = deployed_section(&o, &at, dep.as_deref(), true);
            let short = deployed_section(&o, &at, dep.as_deref(), false);
            post_section(r, settings, number, &full, &short, true).await;
            (vec![full], None)
        }
        Err(e) => {
            r.end_section();
            let why = format!(
                "Not deployed: the preview of {} failed; the plan above still holds. Fix the cause (the job log says more) and push again.",
                r.request_ref(number)
            );
            r.failure(&format!("the preview failed: {e}"), &findings(&e));
            let error = e.to_string();
            let s = Section::NotDeployed {
                root: root.as_deref(),
                why: &why,
                error: Some(&error),
            };
            show(r, settings, number, &s).await;
            (vec![section::render(&s, true)], Some(Exit::Error))
        }
    }
}

/// Hook after a review whose plan failed: the preview is not deployed; the log, and the
/// failed-plan comment's Preview section, say so.
pub async fn plan_failed<R: Reporter>(r: &R, settings: &Settings, number: u64, fork: bool) {
    if !settings.ci.preview || fork || r.head_is_fork() {
        return;
    }
    let root = preview::root(settings, number).ok();
    let why = "Not deployed: the plan failed (see above), so the preview was left as the last push whose plan passed left it. Fix the plan and push again.";
    r.print(Level::Notice, Some("Preview"), why);
    let s = Section::NotDeployed {
        root: root.as_deref(),
        why,
        error: None,
    };
    show(r, settings, number, &s).await;
}

/// A closed pull request (the whole run): remove its preview (when `preview` is on), and say
/// so in the comment's Preview section. Never plans. `Err`: the preview could not be removed
/// (the caller reports it and fails the run).
pub async fn close<R: Reporter>(
    r: &R,
    settings: &Settings,
    number: u64,
    fork: bool,
) -> Result<(), RunError> {
    let request = r.request_ref(number);
    let noun = r.review_noun();
    if !settings.ci.preview {
        let note = format!(
            "{noun} {request} closed: nothing to do (`{}` is off; a closed {noun} is never planned, the push that merges it applies)",
            r.option("preview")
        );
        r.print(Level::Notice, None, &note);
        r.summary(|_| markdown::lock_note(&note));
        return Ok(());
    }
    if fork || r.head_is_fork() {
        let note = format!(
            "{noun} {request} closed: it comes from a fork, so it has no preview to remove"
        );
        r.print(Level::Notice, Some("Preview"), &note);
        return Ok(());
    }
    settings.server().map_err(RunError::Settings)?;
    r.section(&format!("kestra-sync: remove the preview of {request}"));
    let result = remove(settings, number).await;
    r.end_section();
    let o = result?;
    r.product(&format!(
        "Preview `{}` removed: {} flow(s) and {} namespace file(s) deleted.\n",
        o.root,
        o.deleted.len(),
        o.deleted_files.len()
    ));
    for (ns, id) in &o.deleted {
        r.product(&format!("  - {ns}/{id}\n"));
    }
    for (ns, path) in &o.deleted_files {
        r.product(&format!(
            "  - {ns}:{}\n",
            crate::untrusted::visible_line(path)
        ));
    }
    let at = when(o.at);
    // GitHub: the preview's deployments go inactive (never fails the job)
    let deployment = r.preview_deployment(number, None).await;
    report_deployment(r, &deployment);
    let dep = deployment.short();
    let s = Section::Removed {
        root: &o.root,
        deleted: o.deleted.len(),
        files: o.deleted_files.len(),
        at: &at,
        deployment: dep.as_deref(),
    };
    // the plan comment says "removed"; never a new comment just for that
    let (full, short) = (section::render(&s, true), section::render(&s, false));
    post_section(r, settings, number, &full, &short, false).await;
    let md = section::render(&s, true);
    r.summary(|_| md);
    Ok(())
}

/// The deployment step in the log: a warning when skipped or failed, never a failed job.
fn report_deployment<R: Reporter>(r: &R, step: &super::preview_deploy::Step) {
    if let Some(line) = step.line() {
        let level = if step.is_warning() {
            Level::Warning
        } else {
            Level::Notice
        };
        r.print(level, Some("Preview"), &line);
    }
}

/// Put `s` in the comment's Preview section.
async fn show<R: Reporter>(r: &R, settings: &Settings, number: u64, s: &Section<'_>) {
    let full = section::render(s, true);
    let short = section::render(s, false);
    post_section(r, settings, number, &full, &short, true).await;
}

/// The sticky comment `previous` with its Preview section made `full`, or `short` when
/// `full` does not fit in `limit` bytes; secrets scrubbed. `None`: neither fits (the
/// comment is best left as it is). The one way every command writes the section.
pub fn with_section(previous: &str, full: &str, short: &str, limit: usize) -> Option<String> {
    [full, short]
        .into_iter()
        .map(|s| crate::secrets::scrub(&section::splice(previous, s)).into_owned())
        .find(|b| b.len() <= limit)
}

/// Replace the Preview section of the sticky comment of request `number` with `full` (or
/// `short` when `full` does not fit the forge's limit), in one read and one write; the rest
/// of the comment is kept byte for byte. Without a comment of ours yet (its plan could not be
/// posted), the section becomes the comment, under the marker: the next plan replaces it;
/// unless `!create` (a closed request: never a new comment just to say "removed"), when
/// nothing is written. Nothing when comments are off; a warning when the forge fails (never
/// a failed job).
async fn post_section<R: Reporter>(
    r: &R,
    settings: &Settings,
    number: u64,
    full: &str,
    short: &str,
    create: bool,
) {
    if !settings.ci.comment {
        return;
    }
    let Ok(server) = settings.server() else {
        return;
    };
    let marker = markdown::marker(&settings.scope.namespace, &server.url);
    let noun = r.comment_noun();
    let limit = r.comment_limit();
    let no_room = std::cell::Cell::new(false);
    let body = |previous: Option<&str>| {
        let previous = previous.map_or_else(|| format!("{marker}\n"), str::to_string);
        with_section(&previous, full, short, limit).unwrap_or_else(|| {
            // no room: the comment stays as it is (an unchanged body writes nothing)
            no_room.set(true);
            previous
        })
    };
    let written = if create {
        r.post_sticky(number, false, &marker, body).await.map(Some)
    } else {
        r.edit_sticky(number, &marker, |previous| body(Some(previous)))
            .await
    };
    let posted = match written {
        Ok(Some(u)) => Ok(u.posted),
        Ok(None) => {
            r.print(
                Level::Notice,
                Some("Preview"),
                &format!("no plan {noun} of this target on {}: no Preview section to update, and no new {noun} is posted just for it", r.request_ref(number)),
            );
            return;
        }
        Err(e) => Err(e),
    };
    match posted {
        Ok(Posted::Created { id } | Posted::Updated { id } | Posted::Unchanged { id }) => {
            tracing::info!("plan {noun} has its Preview section ({id})")
        }
        Ok(Posted::Skipped { reason }) => r.print(
            Level::Warning,
            None,
            &format!("Preview section not posted: {reason}"),
        ),
        Err(e) => r.print(
            Level::Warning,
            None,
            &format!("could not post the Preview section: {e}"),
        ),
    }
    if no_room.get() {
        r.print(
            Level::Warning,
            None,
            &format!(
                "the plan {noun} has no room left for the Preview section: it is in the job log"
            ),
        );
    }
}
