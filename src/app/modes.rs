//! Every mode, written once for every platform: plan, apply, validate, review (plan and post
//! on the pull/merge request) and drift (plan on a schedule). The [`Reporter`] says it the
//! platform's way; the [`Exit`] is decided here.
//!
//! The steps of a plan: check the options (a fork's review without the server's secrets still
//! checks the flow files and passes), read and plan, show the plan, write the JSON plan
//! file, then what the [`Mode`] says. Exit: 0 done or no changes; 2 changes with
//! `detailed-exitcode` (plan, review, drift); 1 an error, an incomplete apply, or drift with
//! `fail-on-drift`.

use std::path::PathBuf;

use super::labels;
use super::pipeline::{self, Planned, RunError};
use super::report::{findings, Finding, Level, Merged, Origin, Posted, Reporter, Upserted};
use super::Exit;
use crate::apply::{ApplyError, Report};
use crate::cli::Format;
use crate::plan::Plan;
use crate::render::markdown::{self, MarkdownContext};
use crate::risk::State;
use crate::settings::{Settings, SettingsError};

/// What a run does: chosen by the command on a terminal, by the event or pipeline in CI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Plan only; `why` says why when the user did not ask for it (CI on another branch).
    Plan { why: Option<String> },
    /// Plan, then apply unless dry-run. `branch`: the deployed branch, in CI.
    Apply { branch: Option<String> },
    /// Check the flow files locally, and on the server when one is given; write nothing.
    Validate,
    /// Plan and post it on pull/merge request `number`; never apply. `fork`: the run is for a
    /// fork's request without the project's secrets, and its token cannot post.
    Review { number: u64, fork: bool },
    /// Drift check: plan; fail only with `fail-on-drift` when the server differs from Git.
    Drift,
    /// Pull request `number` closed (merged or not): never plans; removes its preview when
    /// `preview` is on ([`super::preview_ci`]). `fork`: the head is a fork's.
    Close { number: u64, fork: bool },
}

/// Run `mode` with `settings`, reporting through `r`.
pub async fn run<R: Reporter>(r: &R, settings: &Settings, mode: Mode) -> Exit {
    if mode == Mode::Validate {
        return validate(r, settings).await;
    }
    match mode {
        Mode::Close { number, fork } => {
            return match super::preview_ci::close(r, settings, number, fork).await {
                Ok(()) => Exit::Ok,
                Err(e) => failed(r, &e),
            }
        }
        Mode::Review { fork: true, .. } => super::preview_ci::fork_review(r, settings),
        _ => {}
    }
    // A fork's request runs without the project's secrets: the server may be out of reach,
    // but the flow files can still be checked, and the request must not fail for it.
    let fork = matches!(mode, Mode::Review { fork: true, .. });
    let server = match settings.server() {
        Ok(_) => true,
        Err(e) if fork => {
            r.print(
                Level::Warning,
                None,
                &format!("fork {}: {e}", r.review_noun()),
            );
            false
        }
        Err(e) => {
            // The comment's marker names the target *and* the server, so the plans of one
            // namespace on staging and on prod never overwrite each other: without a usable
            // server URL no comment is this step's, and none is edited (CONTRIBUTING,
            // "Decisions").
            if matches!(mode, Mode::Review { .. }) && settings.ci.comment {
                let noun = r.comment_noun();
                r.print(
                    Level::Warning,
                    None,
                    &format!(
                        "the plan {noun} was not updated: a {noun} belongs to one target and one server, and without a usable `{}` this step cannot tell which is its own; a plan it shows may no longer hold",
                        r.option("kestra-url")
                    ),
                );
            }
            return fail(r, &e.to_string());
        }
    };
    let target = settings.scope.namespace.clone();
    r.section(&format!(
        "kestra-sync: plan for `{target}` ({})",
        r.trigger()
    ));
    let planned = match read_and_plan(r, settings, fork, server).await {
        Ok(Some(planned)) => planned,
        Ok(None) => {
            if let Mode::Review { number, fork } = mode {
                labels::review(r, settings, number, fork, None).await;
            }
            return Exit::Ok;
        }
        Err(e) => {
            r.end_section();
            // A review's comment must never keep a plan that no longer holds.
            if let Mode::Review { number, fork } = mode {
                if settings.ci.comment {
                    post_failure(r, settings, number, fork, &e).await;
                }
                labels::review(r, settings, number, fork, None).await;
                super::preview_ci::plan_failed(r, settings, number, fork).await;
            }
            // Only apply could have written: say that it did not.
            return match (&mode, &e) {
                (Mode::Apply { .. }, RunError::Problems(_)) => {
                    failed_as(r, &e, &format!("{e}; nothing was written"))
                }
                _ => failed(r, &e),
            };
        }
    };
    // Apply in JSON shows one document at the end: the plan with what was applied.
    let json_apply = settings.format == Format::Json && matches!(mode, Mode::Apply { .. });
    if !json_apply {
        r.product(&shown(settings, &planned));
    }
    r.end_section();
    // Each flow's warnings: on its file, or named by the flow when only the server has it.
    let texts: Vec<(&str, String)> = planned
        .plan
        .flows
        .iter()
        .flat_map(|f| {
            f.warnings.iter().map(move |w| match &f.git_path {
                Some(path) => (path.as_str(), w.message.clone()),
                None => ("", format!("{}/{}: {}", f.namespace, f.flow_id, w.message)),
            })
        })
        .collect();
    let warned: Vec<Finding<'_>> = texts
        .iter()
        .map(|(file, message)| Finding {
            level: Level::Warning,
            origin: Origin::Local,
            file,
            line: None,
            message,
        })
        .collect();
    if !warned.is_empty() {
        r.flow_warnings(&warned);
    }

    let plan_file = match write_plan_file(r, settings, &planned) {
        Ok(f) => f,
        Err(exit) => return exit,
    };
    r.outputs(&planned, plan_file.as_deref());
    let changes = planned.plan.summary.has_changes();
    let detailed = if settings.detailed_exitcode && changes {
        Exit::Changes
    } else {
        Exit::Ok
    };
    let log_md = md_context(r, settings, None, "the job log");

    match mode {
        Mode::Review { number, fork } => {
            let mut notes = Vec::new();
            if settings.ci.comment {
                notes.extend(post(r, settings, &planned, number, fork).await);
            }
            let label = labels::for_plan(&planned.plan.summary);
            labels::review(r, settings, number, fork, Some(label)).await;
            let (preview, failed) =
                super::preview_ci::review(r, settings, &planned, number, fork).await;
            notes.extend(preview);
            summary(r, &planned, &log_md, &notes);
            blocked(r, &planned).or(failed).unwrap_or(detailed)
        }
        Mode::Plan { why } => {
            match why {
                Some(why) => {
                    r.print(Level::Notice, None, &why);
                    summary(r, &planned, &log_md, &[markdown::plan_only_note(&why)]);
                }
                None => summary(r, &planned, &log_md, &[]),
            }
            blocked(r, &planned).unwrap_or(detailed)
        }
        Mode::Drift => {
            let exit = drift(r, settings, &planned, &log_md, detailed);
            blocked(r, &planned).unwrap_or(exit)
        }
        Mode::Apply { branch } => {
            let (exit, report) = apply(r, settings, &planned, branch.as_deref(), &log_md).await;
            if json_apply {
                r.product(&crate::render::json::render_applied(
                    &planned.plan,
                    report.as_ref(),
                ));
            }
            exit
        }
        Mode::Validate | Mode::Close { .. } => unreachable!("returned above"),
    }
}

/// Read, prepare and plan. `Ok(None)`: a fork's review could not reach the server; what it
/// could check passed and was reported.
async fn read_and_plan<R: Reporter>(
    r: &R,
    settings: &Settings,
    fork: bool,
    server: bool,
) -> Result<Option<Planned>, RunError> {
    let loaded = r.read_files(settings).await?;
    if !fork {
        return pipeline::plan_loaded(settings, loaded).await.map(Some);
    }
    let flows = pipeline::prepare(settings, &loaded.files)?;
    let n = flows.len();
    let planned = match server {
        true => pipeline::plan(settings, flows, loaded.ns_files).await,
        false => Err(RunError::Settings(SettingsError(
            "no Kestra server settings".into(),
        ))),
    };
    match planned {
        Ok(planned) => Ok(Some(planned)),
        Err(e @ (RunError::Kestra(_) | RunError::Settings(_))) => {
            r.end_section();
            let (no_secrets, advice) = r.fork_help();
            let why = format!(
                "fork {}: the plan against the server was skipped ({e}); {no_secrets}. The {n} flow file(s) passed the local checks. {advice}",
                r.review_noun()
            );
            r.print(Level::Warning, None, &why);
            let target = &settings.scope.namespace;
            r.summary(|_| markdown::plan_skipped(target, &why));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// A plan apply would refuse fails its run, as the apply would: every blocker, and every
/// flow the server refuses on its file and line (annotations in CI). `None`: no blocker.
fn blocked<R: Reporter>(r: &R, planned: &Planned) -> Option<Exit> {
    let plan = &planned.plan;
    if plan.blockers.is_empty() {
        return None;
    }
    let found: Vec<Finding<'_>> = plan
        .flows
        .iter()
        .flat_map(|f| {
            let file = f.git_path.as_deref().unwrap_or_default();
            f.errors.iter().map(move |e| Finding {
                level: Level::Error,
                origin: Origin::Server,
                file,
                line: e.line,
                message: &e.message,
            })
        })
        .collect();
    let message = format!(
        "apply would refuse this plan: {}",
        plan.blockers
            .iter()
            .map(|b| format!("{} ({})", b.message, b.kind.as_str()))
            .collect::<Vec<_>>()
            .join("; ")
    );
    r.failure(&message, &found);
    Some(Exit::Error)
}

/// Check the flow files, and on the server when one is given.
async fn validate<R: Reporter>(r: &R, settings: &Settings) -> Exit {
    let server = match settings.server_if_given() {
        Ok(s) => s.cloned(),
        Err(e) => return fail(r, &e.to_string()),
    };
    let mut files_note = String::new();
    let flows = match r.read_files(settings).await {
        Ok(loaded) => {
            if let Some(files) = &loaded.ns_files {
                files_note = format!(" and {} namespace file(s) readable", files.len());
            }
            pipeline::prepare(settings, &loaded.files)
        }
        Err(e) => Err(e),
    };
    let flows = match flows {
        Ok(f) => f,
        Err(e) => return failed(r, &e),
    };
    let Some(config) = server else {
        r.product(&format!(
            "{} flow(s) valid{files_note} (checked locally; pass --kestra-url to check on the server too).\n",
            flows.len()
        ));
        return Exit::Ok;
    };
    let results = match pipeline::validate(config, &flows).await {
        Ok(results) => results,
        Err(e) => return failed(r, &e),
    };
    for v in &results {
        for w in &v.warnings {
            r.print(Level::Warning, None, &format!("{}: {w}", v.git_path));
        }
    }
    let refused = results.iter().filter(|v| !v.errors.is_empty()).count();
    if refused > 0 {
        // validate never writes: not ApplyError's "nothing was written"
        let message = format!("the server refused {refused} flow(s)");
        return failed_as(r, &RunError::Apply(ApplyError::Invalid(results)), &message);
    }
    r.product(&format!(
        "{} flow(s) valid{files_note} (checked locally and on the server).\n",
        flows.len()
    ));
    Exit::Ok
}

fn drift<R: Reporter>(
    r: &R,
    settings: &Settings,
    planned: &Planned,
    md: &MarkdownContext,
    detailed: Exit,
) -> Exit {
    let target = &settings.scope.namespace;
    let changes = planned.plan.summary.has_changes();
    summary(r, planned, md, &[markdown::drift_verdict(changes)]);
    let option = r.option("fail-on-drift");
    if changes && settings.ci.fail_on_drift {
        r.print(
            Level::Error,
            Some("Drift"),
            &format!(
                "the flows of `{target}` on the server differ from Git, and `{option}` is on: failing"
            ),
        );
        return Exit::Error;
    }
    if changes {
        r.print(
            Level::Warning,
            None,
            &format!("drift: the flows of `{target}` on the server differ from Git (set `{option}` to fail on drift)"),
        );
    } else {
        r.print(
            Level::Notice,
            None,
            &format!("no drift: the flows of `{target}` on the server match Git"),
        );
    }
    detailed
}

/// The platform's Markdown context, with the server named as `environment-name` says.
fn md_context<R: Reporter>(
    r: &R,
    settings: &Settings,
    marker: Option<String>,
    full_plan_at: &str,
) -> MarkdownContext {
    let mut ctx = r.markdown(marker, full_plan_at);
    ctx.environment = settings.ci.environment_name.clone();
    ctx
}

/// What to do about a plan that could not be computed.
fn advice(err: &RunError) -> &'static str {
    match err {
        RunError::Problems(_) => "fix the flow files listed below (each at its file and line) and push again.",
        RunError::Kestra(_) => "check that the Kestra server is up and reachable from CI, and its credentials (`kestra-url`, `kestra-username` / `kestra-password` or `kestra-api-token`), then re-run this job.",
        RunError::Source(_) => "check `git-directory`, `workspace` and `source`, then push again or re-run this job.",
        _ => "read the job log, fix the cause, then push again or re-run this job.",
    }
}

/// Replace the review's sticky comment with "the plan failed": why, what to do, and that
/// the previous plan no longer holds; when that turns a plan that was fine into a failure,
/// also the short "riskier" comment. Without a server URL (only a fork's review gets here
/// without one, and it cannot post) there is no comment to find.
async fn post_failure<R: Reporter>(
    r: &R,
    settings: &Settings,
    number: u64,
    fork: bool,
    err: &RunError,
) {
    let Ok(server) = settings.server() else {
        return;
    };
    let marker = markdown::marker(&settings.scope.namespace, &server.url);
    let failure = markdown::Failure {
        target: settings.scope.namespace.clone(),
        server_url: server.url.clone(),
        message: err.to_string(),
        advice: advice(err).into(),
        problems: findings(err)
            .iter()
            .map(|f| {
                let place = match f.line {
                    Some(l) => format!("{}:{l}", f.file),
                    None => f.file.to_string(),
                };
                (place, f.message.to_string())
            })
            .collect(),
        comment_noun: r.comment_noun().into(),
    };
    let ctx = md_context(r, settings, Some(marker.clone()), r.comment_full_plan_at());
    // The failed state keeps the deletes of the plan it replaces (see `risk`).
    let body = |previous: Option<&str>| {
        let before = previous.and_then(State::from_comment);
        let state = State::failed(before.as_ref()).line();
        let room = r.comment_limit().saturating_sub(state.len() + 3);
        let body = markdown::render_failed(&failure, &ctx, room);
        crate::secrets::scrub(&markdown::with_state(&body, &state)).into_owned()
    };
    let noun = r.comment_noun();
    match r.post_sticky(number, fork, &marker, body).await {
        Ok(sticky) => {
            match &sticky.posted {
                Posted::Created { id } | Posted::Updated { id } | Posted::Unchanged { id } => {
                    tracing::info!("plan {noun} now says the plan failed ({id})")
                }
                Posted::Skipped { reason } => r.print(
                    Level::Warning,
                    None,
                    &format!("plan {noun} skipped: {reason}"),
                ),
            }
            tell_if_riskier(r, number, &sticky, None, &failure.target, &server.url, &ctx).await;
        }
        Err(e) => r.print(
            Level::Warning,
            None,
            &format!("could not post the failed plan {noun}: {e}"),
        ),
    }
}

/// When the sticky comment was edited and what it showed before is riskier now (`plan`, or
/// `None`: the plan could not be computed), post one short new comment saying what, linking
/// to the sticky one (see [`crate::risk`]). A failure to post it is a warning.
async fn tell_if_riskier<R: Reporter>(
    r: &R,
    number: u64,
    sticky: &Upserted,
    plan: Option<&Plan>,
    target: &str,
    server_url: &str,
    ctx: &MarkdownContext,
) {
    if !matches!(sticky.posted, Posted::Updated { .. }) {
        return;
    }
    let Some(before) = sticky.previous.as_deref().and_then(State::from_comment) else {
        return;
    };
    let Some(risk) = crate::risk::riskier(&before, plan) else {
        return;
    };
    let noun = r.comment_noun();
    let body = |link: Option<&str>| {
        crate::secrets::scrub(&markdown::render_riskier(
            target, server_url, &risk, link, noun, ctx,
        ))
        .into_owned()
    };
    match r.notify(number, sticky, body).await {
        Ok(Posted::Created { id }) => r.print(
            Level::Notice,
            None,
            &format!("the plan is riskier than the one the plan {noun} showed: a new {noun} says so ({id})"),
        ),
        Ok(Posted::Skipped { reason }) => r.print(
            Level::Warning,
            None,
            &format!("the plan is riskier than before, but no new {noun} was posted: {reason}"),
        ),
        Ok(other) => tracing::info!("riskier {noun}: {other}"),
        Err(e) => r.print(
            Level::Warning,
            None,
            &format!("the plan is riskier than before, but the new {noun} saying so could not be posted: {e}"),
        ),
    }
}

/// Post the plan; the notes for the summary when it was not posted.
async fn post<R: Reporter>(
    r: &R,
    settings: &Settings,
    planned: &Planned,
    number: u64,
    fork: bool,
) -> Option<String> {
    let plan = &planned.plan;
    let target = &plan.target_namespace;
    let marker = markdown::marker(target, &plan.server.url);
    let ctx = md_context(r, settings, Some(marker.clone()), r.comment_full_plan_at());
    // The hidden state goes last (see `risk`): the next run compares its plan with it.
    let state = State::of_plan(plan).line();
    let room = r.comment_limit().saturating_sub(state.len() + 3);
    let body = markdown::with_state(&markdown::render_comment(plan, &ctx, room), &state);
    let noun = r.comment_noun();
    // The last line of defence: a secret's raw forms never reach the forge.
    let body = crate::secrets::scrub(&body).into_owned();
    let sticky = match r.post_sticky(number, fork, &marker, |_| body).await {
        Ok(sticky) => sticky,
        Err(e) => {
            r.print(
                Level::Warning,
                None,
                &format!("could not post the plan {noun}: {e}"),
            );
            return Some(markdown::post_failed(noun, &e));
        }
    };
    match &sticky.posted {
        Posted::Created { id } => tracing::info!("plan {noun} created ({id})"),
        Posted::Updated { id } => tracing::info!("plan {noun} updated ({id})"),
        Posted::Unchanged { id } => tracing::info!("plan {noun} unchanged ({id})"),
        Posted::Skipped { reason } => {
            r.print(
                Level::Warning,
                None,
                &format!("plan {noun} skipped: {reason}"),
            );
            return Some(markdown::post_skipped(noun, reason));
        }
    }
    tell_if_riskier(
        r,
        number,
        &sticky,
        Some(plan),
        target,
        &plan.server.url,
        &ctx,
    )
    .await;
    None
}

/// Apply unless dry-run; the exit and the report when writes were attempted.
async fn apply<R: Reporter>(
    r: &R,
    settings: &Settings,
    planned: &Planned,
    branch: Option<&str>,
    md: &MarkdownContext,
) -> (Exit, Option<Report>) {
    if settings.dry_run {
        let option = r.option("dry-run");
        let message = match branch {
            Some(branch) => {
                format!("`{branch}` is the deployed branch, but `{option}` is on: nothing written")
            }
            None => format!("dry run: nothing was written ({option})"),
        };
        r.print(Level::Notice, None, &message);
        summary(r, planned, md, &[markdown::dry_run_note(&option)]);
        return (Exit::Ok, None);
    }
    if !planned.plan.summary.has_changes() {
        summary(r, planned, md, &[]);
        return (Exit::Ok, None);
    }
    // In CI, on the deployed branch: the plan lock of the request this push merged.
    if branch.is_some() {
        match lock_gate(r, settings, planned).await {
            Ok(note) => r.summary(|_| note),
            Err(exit) => return (exit, None),
        }
    }
    r.section(&format!(
        "kestra-sync: apply to `{}`",
        settings.scope.namespace
    ));
    let result = pipeline::apply(settings, planned).await;
    r.end_section();
    let text_report = |report: &Report| {
        if settings.format != Format::Json {
            r.product(&crate::render::text::render_report(report, settings.color));
        }
        r.summary(|room| markdown::render_apply_report(&planned.plan, report, md, room));
    };
    match result {
        Ok(report) => {
            text_report(&report);
            (Exit::Ok, Some(report))
        }
        Err(RunError::Apply(ApplyError::Partial(report))) => {
            text_report(&report);
            r.print(
                Level::Error,
                Some("Apply incomplete"),
                &format!("apply stopped part-way: {}", report.tally()),
            );
            (Exit::Error, Some(report))
        }
        Err(e) => (failed(r, &e), None),
    }
}

/// On a push to the deployed branch: check the plan against the lock of the plan reviewed on
/// the request this push merged. `Ok(note)`: go on and apply (the note, for the job summary,
/// says how the lock went); `Err(exit)`: refused with `on-stale: fail`, nothing written, the
/// reason in the log, the summary and one comment on the request.
async fn lock_gate<R: Reporter>(
    r: &R,
    settings: &Settings,
    planned: &Planned,
) -> Result<String, Exit> {
    let plan = &planned.plan;
    let target = &plan.target_namespace;
    let marker = markdown::marker(target, &plan.server.url);
    let (noun, comment) = (r.review_noun(), r.comment_noun());
    let unlocked = |why: String| {
        let note = format!("{why}: applied as planned, without a plan lock.");
        r.print(Level::Notice, None, &note);
        Ok(markdown::lock_note(&note))
    };
    let (number, refusal) = match r.merged(&marker).await {
        Ok(Merged::Unknown(why)) => return unlocked(format!("No reviewed plan to check ({why})")),
        Ok(Merged::Direct) => {
            return unlocked(format!("This push merged no {noun} (a direct push)"))
        }
        Ok(Merged::NoLock { number }) => {
            return unlocked(format!(
                "The merged {noun} {} has no kestra-sync plan {comment} with a plan lock for `{target}`",
                r.request_ref(number)
            ))
        }
        Ok(Merged::Lock { number, reviewed }) => match crate::lock::check(plan, &reviewed) {
            Ok(()) => {
                let note = format!(
                    "Plan lock: this is the plan reviewed on {} ({} change(s), none moved on the server since).",
                    r.request_ref(number),
                    reviewed.changes
                );
                r.print(Level::Notice, None, &note);
                return Ok(markdown::lock_note(&note));
            }
            Err(refusal) => (Some(number), refusal),
        },
        Err(e) => (
            None,
            crate::lock::Refusal {
                flows: Vec::new(),
                whole: Some(format!(
                    "could not read the plan reviewed on the merged {noun}: {e}"
                )),
            },
        ),
    };
    let option = r.option("on-stale");
    let request = number.map(|n| r.request_ref(n));
    let warn = settings.ci.on_stale == crate::cli::OnStale::Warn;
    let lines = refusal.to_string();
    if let Some(n) = number {
        let body = markdown::lock_refused(
            Some(&markdown::stale_marker(&marker)),
            target,
            request.as_deref(),
            &refusal,
            warn,
            &option,
        );
        match r
            .post(n, false, &markdown::stale_marker(&marker), &body)
            .await
        {
            Ok(Posted::Created { .. } | Posted::Updated { .. } | Posted::Unchanged { .. }) => {}
            Ok(Posted::Skipped { reason: why }) | Err(why) => r.print(
                Level::Warning,
                None,
                &format!("could not comment on {noun} {}: {why}", r.request_ref(n)),
            ),
        }
    }
    let summary = markdown::lock_refused(None, target, request.as_deref(), &refusal, warn, &option);
    let reviewed_on = request
        .as_deref()
        .map(|r| format!(" reviewed on {r}"))
        .unwrap_or_default();
    if warn {
        r.print(
            Level::Warning,
            Some("Plan lock"),
            &format!(
                "the plan of `{target}` is not the plan{reviewed_on}, applying anyway (`{option}: warn`):\n{lines}"
            ),
        );
        return Ok(summary);
    }
    r.failure(
        &format!(
            "the plan of `{target}` is not the plan{reviewed_on}; nothing was written (`{option}: fail`):\n{lines}"
        ),
        &[],
    );
    r.summary(|_| summary);
    Err(Exit::Error)
}

/// The plan as the log shows it, in `--format`.
fn shown(settings: &Settings, planned: &Planned) -> String {
    match settings.format {
        Format::Text => crate::render::text::render(&planned.plan, settings.color),
        Format::Json => crate::render::json::render(&planned.plan),
        Format::Markdown => markdown::render_standalone(&planned.plan),
    }
}

/// Write the JSON plan: `--plan-file`, else the platform's default (CI:
/// `kestra-sync-plan-<namespace>.json`), relative to the platform's checkout (not hidden:
/// artifact uploads skip hidden files). Returns the path as given, relative to the checkout
/// when it is, so later steps can use it. A file the user named that cannot be written is an
/// error (nothing is applied); the default one is a warning.
fn write_plan_file<R: Reporter>(
    r: &R,
    settings: &Settings,
    planned: &Planned,
) -> Result<Option<String>, Exit> {
    let named = settings
        .plan_file
        .clone()
        .filter(|f| !f.as_os_str().is_empty());
    let explicit = named.is_some();
    let Some(given) = named.or_else(|| r.default_plan_file(settings)) else {
        return Ok(None);
    };
    let full = if given.is_absolute() {
        given.clone()
    } else {
        r.plan_root(settings).join(&given)
    };
    match std::fs::write(&full, crate::render::json::render(&planned.plan)) {
        Ok(()) => Ok(Some(given.to_string_lossy().into_owned())),
        Err(e) => {
            let message = format!(
                "cannot write the plan file `{}`: {e}; check --plan-file (KESTRA_SYNC_PLAN_FILE): its folder must exist and be writable",
                full.display()
            );
            if explicit {
                return Err(fail(r, &message));
            }
            r.print(Level::Warning, None, &message);
            Ok(None)
        }
    }
}

/// The plan file when `plan-file` is not given, relative to the workspace.
pub fn default_plan_file(namespace: &str) -> PathBuf {
    PathBuf::from(format!("kestra-sync-plan-{namespace}.json"))
}

fn summary<R: Reporter>(r: &R, planned: &Planned, md: &MarkdownContext, notes: &[String]) {
    r.summary(|room| markdown::render_with_notes(&planned.plan, md, room, notes));
}

/// An error before anything ran: the message, a summary line, exit 1.
pub fn fail<R: Reporter>(r: &R, msg: &str) -> Exit {
    r.failure(msg, &[]);
    r.summary(|_| markdown::failure(msg, &[]));
    Exit::Error
}

/// A failed run: the error, and every local problem and server verdict on its file; exit 1.
pub fn failed<R: Reporter>(r: &R, err: &RunError) -> Exit {
    failed_as(r, err, &err.to_string())
}

/// [`failed`] with `message` said instead of the error's own.
fn failed_as<R: Reporter>(r: &R, err: &RunError, message: &str) -> Exit {
    let message = message.to_string();
    let found = findings(err);
    r.failure(&message, &found);
    let errors: Vec<(&str, &str)> = found
        .iter()
        .filter(|f| f.level == Level::Error)
        .map(|f| (f.file, f.message))
        .collect();
    r.summary(|_| markdown::failure(&message, &errors));
    Exit::Error
}
