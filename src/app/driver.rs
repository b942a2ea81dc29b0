//! The steps of `kestra-sync ci` that every CI platform shares, so GitHub Actions and GitLab
//! CI behave the same: validate the options (a fork's review without the server's secrets
//! still checks the flow files and passes), read and plan, log the plan, write the JSON plan
//! file, then do what the [`Mode`] says (post the plan on the pull/merge request, apply, plan
//! only, or check drift) and choose the exit code: 0 done or no changes; 2 changes with
//! `detailed-exitcode`; 1 an error, an incomplete apply, or drift with `fail-on-drift`.
//!
//! What differs between platforms (how a message, a file's problem or a log section is
//! written, where the summary and the outputs go, how flows are read and how the plan is
//! posted) is the `Platform` trait, implemented by `github_run` and `gitlab_run`.

use std::path::PathBuf;

use crate::app::pipeline::{self as run, Planned, RunError};
use crate::apply::ApplyError;
use crate::ci::commands::Level;
use crate::cli::{CiArgs, Format, SyncArgs};
use crate::flow::Flow;
use crate::render::markdown::{self, MarkdownContext};
use crate::settings::{Settings, SettingsError};

/// What this run does, decided by the platform from its event or pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Plan and post it on pull/merge request `number`; never apply. `fork`: the run is for a
    /// fork's request without the project's secrets, and its token cannot post.
    Review { number: u64, fork: bool },
    /// Plan, then apply unless dry-run (the deployed branch).
    Apply { branch: String },
    /// Plan only, saying why.
    PlanOnly { why: String },
    /// Drift check: plan; fail only with `fail-on-drift` when the server differs from Git.
    Drift,
}

/// What happened to the plan comment (GitHub) or note (GitLab).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Posted {
    Created(u64),
    Updated(u64),
    /// Already says this: nothing written.
    Unchanged(u64),
    /// Not posted, on purpose or for lack of rights: the reason says what to do.
    Skipped(String),
    /// The forge failed: a warning, never a failed job.
    Failed(String),
}

/// What differs between CI platforms. Everything is printed on stdout, the job log.
pub(crate) trait Platform {
    /// "pull request" or "merge request".
    fn review_noun(&self) -> &'static str;
    /// "comment" or "note".
    fn comment_noun(&self) -> &'static str;
    /// What started the run, for the log (`pull_request`, `merge_request_event`).
    fn trigger(&self) -> &str;
    /// How users set the option whose action input is `input` (e.g. `fail-on-drift`).
    fn option(&self, input: &str) -> String;
    /// Why a fork's review has no secrets, and what to do about it.
    fn fork_help(&self) -> (&'static str, &'static str);
    /// A message in the log.
    fn print(&self, level: Level, title: Option<&str>, message: &str);
    /// Open and close a (foldable) section of the log.
    fn section(&self, title: &str);
    fn end_section(&self);
    /// Every local problem and server verdict of `err`, on its file and line.
    fn problems(&self, err: &RunError);
    /// Add Markdown to the job summary, rendered within the room left; nothing where the
    /// platform has none.
    fn summary(&self, render: impl FnOnce(usize) -> String);
    /// The footer's context (commit, job link) and where the whole plan can be read.
    fn markdown(&self, marker: Option<String>, full_plan_at: &str) -> MarkdownContext;
    /// Where a relative plan file is written (the checkout's root).
    fn plan_root(&self) -> Option<PathBuf>;
    /// Publish the plan's figures and the plan file's path for later steps.
    fn outputs(&self, planned: &Planned, plan_file: Option<&str>);
    /// Largest comment body, and where the whole plan is when it does not fit.
    fn comment_limit(&self) -> usize;
    fn comment_full_plan_at(&self) -> &'static str;
    /// The prepared flows (parsed, checked, rewritten for the target).
    async fn read_flows(&self, settings: &Settings) -> Result<Vec<Flow>, RunError>;
    /// Create or update the one comment carrying `marker` on request `number`.
    async fn post(&self, number: u64, fork: bool, marker: &str, body: &str) -> Posted;
}

/// The deployed branch from `--branch` (KESTRA_SYNC_BRANCH, input `branch`), if given.
pub fn deployed_branch(args: &CiArgs) -> Option<String> {
    args.sync
        .branch
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(str::to_string)
}

/// The plan file when `plan-file` is not given, relative to the workspace.
pub fn default_plan_file(namespace: &str) -> String {
    format!("kestra-sync-plan-{namespace}.json")
}

/// Run `mode` on platform `p`; the exit code.
pub(crate) async fn run<P: Platform>(p: &P, args: &CiArgs, mode: Mode) -> u8 {
    // A fork's request runs without the project's secrets: the server may be out of reach,
    // but the flow files can still be checked, and the request must not fail for it.
    let fork = matches!(mode, Mode::Review { fork: true, .. });
    let (mut settings, server) = match Settings::from_args(&args.sync, true) {
        Ok(s) => (s, true),
        Err(e) if fork => match Settings::from_args(&without_server(&args.sync), false) {
            Ok(s) => {
                p.print(
                    Level::Warning,
                    None,
                    &format!("fork {}: {e}", p.review_noun()),
                );
                (s, false)
            }
            Err(e) => return fail(p, &e.to_string()),
        },
        Err(e) => return fail(p, &e.to_string()),
    };
    // CI logs render ANSI colour, but nothing here is a terminal: choose colour explicitly.
    if args.sync.color == "auto" {
        settings.color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    }
    let target = settings.scope.namespace.clone();
    p.section(&format!(
        "kestra-sync: plan for `{target}` ({})",
        p.trigger()
    ));
    let flows = match p.read_flows(&settings).await {
        Ok(f) => f,
        Err(e) => {
            p.end_section();
            return failed(p, &e);
        }
    };
    let n = flows.len();
    let planned = match server {
        true => run::plan(&settings, flows).await,
        false => Err(RunError::Settings(SettingsError(
            "no Kestra server settings".into(),
        ))),
    };
    let planned = match planned {
        Ok(planned) => planned,
        Err(e @ (RunError::Kestra(_) | RunError::Settings(_))) if fork => {
            p.end_section();
            let (no_secrets, advice) = p.fork_help();
            let why = format!(
                "fork {}: the plan against the server was skipped ({e}); {no_secrets}. The {n} flow file(s) passed the local checks. {advice}",
                p.review_noun()
            );
            p.print(Level::Warning, None, &why);
            p.summary(|_| {
                format!(
                    "### Kestra plan for `{target}`: skipped\n\n> [!NOTE]\n> {}.\n",
                    escape_md(&why)
                )
            });
            return 0;
        }
        Err(e) => {
            p.end_section();
            return failed(p, &e);
        }
    };
    // The log: the plan in the chosen format.
    print!("{}", shown(&settings, &planned));
    p.end_section();

    let plan_file = write_plan_file(p, &settings, &planned);
    p.outputs(&planned, plan_file.as_deref());
    let changes = planned.plan.summary.has_changes();
    let detailed = if settings.detailed_exitcode && changes {
        2
    } else {
        0
    };
    let log_md = p.markdown(None, "the job log");

    match mode {
        Mode::Review { number, fork } => {
            let mut notes = Vec::new();
            if args.comment {
                notes.extend(post(p, &planned, number, fork).await);
            }
            summary(p, &planned, &log_md, &notes);
            detailed
        }
        Mode::PlanOnly { why } => {
            p.print(Level::Notice, None, &why);
            summary(p, &planned, &log_md, &[format!("_{why}._\n")]);
            detailed
        }
        Mode::Drift => {
            let verdict = if changes {
                "**Drift check**: the server differs from Git."
            } else {
                "**Drift check**: no drift, the server matches Git."
            };
            summary(p, &planned, &log_md, &[format!("{verdict}\n")]);
            let option = p.option("fail-on-drift");
            if changes && args.fail_on_drift {
                p.print(
                    Level::Error,
                    Some("Drift"),
                    &format!(
                        "the flows of `{target}` on the server differ from Git, and `{option}` is on: failing"
                    ),
                );
                return 1;
            }
            if changes {
                p.print(
                    Level::Warning,
                    None,
                    &format!("drift: the flows of `{target}` on the server differ from Git (set `{option}` to fail on drift)"),
                );
            } else {
                p.print(
                    Level::Notice,
                    None,
                    &format!("no drift: the flows of `{target}` on the server match Git"),
                );
            }
            detailed
        }
        Mode::Apply { branch } => apply(p, &settings, &planned, &branch, &log_md).await,
    }
}

/// Post the plan; the notes for the summary when it was not posted.
async fn post<P: Platform>(p: &P, planned: &Planned, number: u64, fork: bool) -> Option<String> {
    let target = &planned.plan.target_namespace;
    let marker = markdown::marker(target, &planned.plan.server.url);
    let body = markdown::render(
        &planned.plan,
        &p.markdown(Some(marker.clone()), p.comment_full_plan_at()),
        p.comment_limit(),
    );
    let noun = p.comment_noun();
    match p.post(number, fork, &marker, &body).await {
        Posted::Created(id) => tracing::info!("plan {noun} created ({id})"),
        Posted::Updated(id) => tracing::info!("plan {noun} updated ({id})"),
        Posted::Unchanged(id) => tracing::info!("plan {noun} unchanged ({id})"),
        Posted::Skipped(reason) => {
            p.print(
                Level::Warning,
                None,
                &format!("plan {noun} skipped: {reason}"),
            );
            return Some(format!(
                "> [!NOTE]\n> The plan {noun} was skipped: {reason}.\n"
            ));
        }
        Posted::Failed(e) => {
            p.print(
                Level::Warning,
                None,
                &format!("could not post the plan {noun}: {e}"),
            );
            return Some(format!(
                "> [!WARNING]\n> Could not post the plan {noun}: {e}\n"
            ));
        }
    }
    None
}

async fn apply<P: Platform>(
    p: &P,
    settings: &Settings,
    planned: &Planned,
    branch: &str,
    md: &MarkdownContext,
) -> u8 {
    if settings.dry_run {
        let option = p.option("dry-run");
        p.print(
            Level::Notice,
            None,
            &format!("`{branch}` is the deployed branch, but `{option}` is on: nothing written"),
        );
        summary(
            p,
            planned,
            md,
            &[format!(
                "_Dry run (`{option}: true`): nothing was written._\n"
            )],
        );
        return 0;
    }
    if !planned.plan.summary.has_changes() {
        summary(p, planned, md, &[]);
        return 0;
    }
    p.section(&format!(
        "kestra-sync: apply to `{}`",
        settings.scope.namespace
    ));
    let result = run::apply(settings, planned).await;
    p.end_section();
    match result {
        Ok(report) => {
            print!(
                "{}",
                crate::render::text::render_report(&report, settings.color)
            );
            p.summary(|room| markdown::render_apply_report(&planned.plan, &report, md, room));
            0
        }
        Err(RunError::Apply(ApplyError::Partial(report))) => {
            print!(
                "{}",
                crate::render::text::render_report(&report, settings.color)
            );
            p.summary(|room| markdown::render_apply_report(&planned.plan, &report, md, room));
            p.print(
                Level::Error,
                Some("Apply incomplete"),
                &format!("apply stopped part-way: {}", report.tally()),
            );
            1
        }
        Err(e) => failed(p, &e),
    }
}

/// The options minus the server: what a fork's request can still check.
fn without_server(args: &SyncArgs) -> SyncArgs {
    let mut a = args.clone();
    a.kestra_url = None;
    a.kestra_username = None;
    a.kestra_password = None;
    a.kestra_api_token = None;
    a
}

/// The plan as the log shows it, in `--format`.
fn shown(settings: &Settings, planned: &Planned) -> String {
    match settings.format {
        Format::Text => crate::render::text::render(&planned.plan, settings.color),
        Format::Json => crate::render::json::render(&planned.plan),
        Format::Markdown => markdown::render_standalone(&planned.plan),
    }
}

/// Write the JSON plan: `plan-file`, else `kestra-sync-plan-<namespace>.json`, relative to
/// the platform's checkout (not hidden: artifact uploads skip hidden files). Returns the path
/// as given, relative to the checkout when it is, so later steps can use it.
fn write_plan_file<P: Platform>(p: &P, settings: &Settings, planned: &Planned) -> Option<String> {
    let root = p.plan_root().unwrap_or_else(|| settings.workspace.clone());
    let given: PathBuf = settings
        .plan_file
        .clone()
        .filter(|f| !f.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from(default_plan_file(&settings.scope.namespace)));
    let full = if given.is_absolute() {
        given.clone()
    } else {
        root.join(&given)
    };
    match std::fs::write(&full, crate::render::json::render(&planned.plan)) {
        Ok(()) => Some(given.to_string_lossy().into_owned()),
        Err(e) => {
            p.print(
                Level::Warning,
                None,
                &format!("cannot write the plan file `{}`: {e}", full.display()),
            );
            None
        }
    }
}

fn summary<P: Platform>(p: &P, planned: &Planned, md: &MarkdownContext, notes: &[String]) {
    let notes: String = notes.iter().map(|n| format!("{n}\n")).collect();
    p.summary(|room| {
        let plan = markdown::render(&planned.plan, md, room.saturating_sub(notes.len()));
        format!("{plan}\n{notes}")
    });
}

/// An error before anything ran: the message, a summary line, exit 1.
pub(crate) fn fail<P: Platform>(p: &P, msg: &str) -> u8 {
    p.print(Level::Error, Some("kestra-sync"), msg);
    p.summary(|_| format!("### ❌ kestra-sync failed\n\n{}\n", escape_md(msg)));
    1
}

/// A failed run: every local problem and server verdict on its file, the error, exit 1.
fn failed<P: Platform>(p: &P, err: &RunError) -> u8 {
    p.problems(err);
    let mut lines = Vec::new();
    match err {
        RunError::Problems(problems) => {
            for pr in problems {
                lines.push(format!("- `{}`: {}", pr.file, escape_md(&pr.message)));
            }
        }
        RunError::Apply(ApplyError::Invalid(results)) => {
            for v in results {
                for e in &v.errors {
                    lines.push(format!("- `{}`: {}", v.git_path, escape_md(e)));
                }
            }
        }
        _ => {}
    }
    p.print(Level::Error, Some("kestra-sync"), &err.to_string());
    let list = if lines.is_empty() {
        String::new()
    } else {
        format!("\n{}\n", lines.join("\n"))
    };
    p.summary(|_| {
        format!(
            "### ❌ kestra-sync failed\n\n{}\n{list}",
            escape_md(&err.to_string())
        )
    });
    1
}

fn escape_md(s: &str) -> String {
    s.replace('<', "&lt;").replace('>', "&gt;")
}
