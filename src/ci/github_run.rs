//! `kestra-sync ci` on GitHub Actions: the event decides what happens.
//!
//! - `pull_request` (and `pull_request_target`): plan; post it as the one sticky comment
//!   (unless `comment: false`); job summary; outputs. Never applies. A fork's read-only token
//!   is a warning and a summary line, never a failure.
//! - `push` to the deployed branch (input `branch`, default the repository's default
//!   branch): plan, then apply unless `dry-run`; the apply report goes to the summary.
//! - `push` elsewhere, and other events: plan only.
//! - `schedule` / `workflow_dispatch`: drift check: plan and summary; the step fails only
//!   with `fail-on-drift` when the server differs from Git.
//!
//! Workflow commands go to stdout (the runner reads them there), with every secret masked
//! before anything else is printed (`inputs_to_env`).

use std::path::PathBuf;

use secrecy::SecretString;

use super::commands::{self, Level};
use super::github::{Context, Event};
use crate::apply::ApplyError;
use crate::cli::{CiArgs, SourceKind};
use crate::forge::github::{CommentOutcome, GithubClient, Issue};
use crate::render::markdown::{self, MarkdownContext};
use crate::run::{self, Planned, RunError};
use crate::settings::Settings;

/// What this run does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Plan and comment on pull request `number`.
    PullRequest {
        number: u64,
        fork: bool,
        target_event: bool,
    },
    /// Apply (a push to the deployed branch).
    Apply { branch: String },
    /// Plan only, saying why.
    PlanOnly { why: String },
    /// Drift check.
    Drift,
}

/// The mode for an event; `deployed` is the `branch` input.
pub fn mode(ctx: &Context, deployed: Option<&str>) -> Mode {
    match &ctx.event {
        Event::PullRequest { number, fork, .. } => Mode::PullRequest {
            number: *number,
            fork: *fork,
            target_event: ctx.event_name == "pull_request_target",
        },
        Event::Push {
            branch,
            default_branch,
            deleted,
            git_ref,
            ..
        } => {
            let deployed = deployed
                .map(str::to_string)
                .or_else(|| default_branch.clone())
                .or_else(|| ctx.default_branch.clone());
            match (branch, deployed) {
                (Some(b), Some(d)) if *b == d && !deleted => Mode::Apply { branch: d },
                (_, Some(d)) if *deleted => Mode::PlanOnly {
                    why: format!("the push deleted `{git_ref}`; only `{d}` is applied"),
                },
                (_, Some(d)) => Mode::PlanOnly {
                    why: format!(
                        "`{git_ref}` is not the deployed branch `{d}` (input `branch`): plan only"
                    ),
                },
                (_, None) => Mode::PlanOnly {
                    why: "the deployed branch is unknown (set the `branch` input): plan only"
                        .into(),
                },
            }
        }
        Event::Schedule | Event::WorkflowDispatch => Mode::Drift,
        Event::Other(name) => Mode::PlanOnly {
            why: format!("the `{name}` event only plans"),
        },
    }
}

/// Run on GitHub Actions; the exit code.
pub async fn run(args: &CiArgs) -> u8 {
    let ctx = match super::github::context() {
        Ok(c) => c,
        Err(e) => return fail(None, &e.to_string()),
    };
    let mode = mode(&ctx, settings_branch(args).as_deref());
    // A fork's pull request runs without the repository's secrets: the server may be out of
    // reach, but the flow files can still be checked, and the PR must not fail for it.
    let fork_pr = matches!(
        mode,
        Mode::PullRequest {
            fork: true,
            target_event: false,
            ..
        }
    );
    let (mut settings, server) = match Settings::from_args(&args.sync, true) {
        Ok(s) => (s, true),
        Err(e) if fork_pr => match Settings::from_args(&without_server(&args.sync), false) {
            Ok(s) => {
                warn(&format!("fork pull request: {e}"));
                (s, false)
            }
            Err(e) => return fail(Some(&ctx), &e.to_string()),
        },
        Err(e) => return fail(Some(&ctx), &e.to_string()),
    };
    // Logs render ANSI colour, but nothing here is a terminal: choose colour explicitly.
    if args.sync.color == "auto" {
        settings.color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    }
    let token = args
        .github_token
        .clone()
        .or_else(|| std::env::var("GITHUB_TOKEN").ok())
        .filter(|t| !t.trim().is_empty())
        .map(SecretString::from);
    let gh = match &token {
        Some(t) => match GithubClient::new(
            &ctx.api_url,
            t,
            std::time::Duration::from_secs(args.sync.timeout.max(1)),
        ) {
            Ok(c) => Some(c),
            Err(e) => return fail(Some(&ctx), &e.to_string()),
        },
        None => None,
    };
    let target = settings.scope.namespace.clone();
    print!(
        "{}",
        commands::group(&format!(
            "kestra-sync: plan for `{target}` ({})",
            ctx.event_name
        ))
    );

    let flows = match read_flows(&settings, &ctx, gh.as_ref()).await {
        Ok(f) => f,
        Err(e) => {
            print!("{}", commands::endgroup());
            return fail_run(&ctx, &e);
        }
    };
    let n = flows.len();
    let planned = match server {
        true => run::plan(&settings, flows).await,
        false => Err(RunError::Settings(crate::settings::SettingsError(
            "no Kestra server settings".into(),
        ))),
    };
    let planned = match planned {
        Ok(p) => p,
        Err(e @ (RunError::Kestra(_) | RunError::Settings(_))) if fork_pr => {
            print!("{}", commands::endgroup());
            let why = format!(
                "fork pull request: the plan against the server was skipped ({e}); GitHub does not give secrets to workflows of fork pull requests. The {n} flow file(s) passed the local checks. Use the `workflow_run` pattern to plan fork pull requests (docs/forks.md)"
            );
            warn(&why);
            append_summary_line(
                Some(&ctx),
                &format!(
                    "### Kestra plan for `{target}`: skipped\n\n> [!NOTE]\n> {}.\n",
                    escape_md(&why)
                ),
            );
            return 0;
        }
        Err(e) => {
            print!("{}", commands::endgroup());
            return fail_run(&ctx, &e);
        }
    };
    // stdout is the log: the plan in the chosen format.
    let shown = match settings.format {
        crate::cli::Format::Text => crate::render::text::render(&planned.plan, settings.color),
        crate::cli::Format::Json => crate::render::json::render(&planned.plan),
        crate::cli::Format::Markdown => markdown::render_standalone(&planned.plan),
    };
    print!("{shown}");
    print!("{}", commands::endgroup());

    let plan_file = write_plan_file(&settings, &ctx, &planned);
    let mut outputs = plan_outputs(&planned);
    outputs.push(("plan-file", plan_file.clone().unwrap_or_default()));
    if let Some(out) = &ctx.output_file {
        if let Err(e) = commands::write_outputs(out, &outputs) {
            warn(&format!(
                "cannot write the step outputs to GITHUB_OUTPUT: {e}"
            ));
        }
    }
    let md_ctx = |marker: Option<String>, at: &str| MarkdownContext {
        marker,
        commit: Some(ctx.display_commit().to_string()).filter(|c| !c.is_empty()),
        job_url: ctx.job_url.clone(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        full_plan_at: at.into(),
    };
    let changes = planned.plan.summary.has_changes();
    let detailed = if settings.detailed_exitcode && changes {
        2
    } else {
        0
    };

    match mode {
        Mode::PullRequest {
            number,
            fork,
            target_event,
        } => {
            let mut notes = Vec::new();
            if args.comment {
                let marker = markdown::marker(&target, &planned.plan.server.url);
                let body = markdown::render(
                    &planned.plan,
                    &md_ctx(Some(marker.clone()), "the job summary"),
                    markdown::GITHUB_COMMENT_LIMIT,
                );
                let outcome = if fork && !target_event {
                    Ok(CommentOutcome::Skipped { reason: "this pull request comes from a fork: GitHub gives its workflows a read-only token, so the plan cannot be posted as a comment. Use the `workflow_run` pattern to comment on fork pull requests (docs/forks.md). The plan is in the job summary".into() })
                } else {
                    match (&gh, Issue::new(&ctx.repository, number)) {
                        (None, _) => Ok(CommentOutcome::Skipped { reason: "no GitHub token (input `github-token`, default `${{ github.token }}`): the plan was not posted as a comment. It is in the job summary".into() }),
                        (Some(_), Err(e)) => Err(e),
                        (Some(c), Ok(issue)) => c.upsert_comment(&issue, &marker, &body).await,
                    }
                };
                match outcome {
                    Ok(CommentOutcome::Skipped { reason }) => {
                        warn(&format!("plan comment skipped: {reason}"));
                        notes.push(format!(
                            "> [!NOTE]\n> The plan comment was skipped: {reason}.\n"
                        ));
                    }
                    Ok(CommentOutcome::Created { id }) => {
                        tracing::info!("plan comment created ({id})")
                    }
                    Ok(CommentOutcome::Updated { id }) => {
                        tracing::info!("plan comment updated ({id})")
                    }
                    Ok(CommentOutcome::Unchanged { id }) => {
                        tracing::info!("plan comment unchanged ({id})")
                    }
                    Err(e) => {
                        warn(&format!("could not post the plan comment: {e}"));
                        notes.push(format!(
                            "> [!WARNING]\n> Could not post the plan comment: {e}\n"
                        ));
                    }
                }
            }
            summary(&ctx, &planned, &md_ctx(None, "the job log"), &notes);
            detailed
        }
        Mode::PlanOnly { why } => {
            notice(&why);
            summary(
                &ctx,
                &planned,
                &md_ctx(None, "the job log"),
                &[format!("_{why}._\n")],
            );
            detailed
        }
        Mode::Drift => {
            let verdict = if changes {
                "**Drift check**: the server differs from Git."
            } else {
                "**Drift check**: no drift, the server matches Git."
            };
            summary(
                &ctx,
                &planned,
                &md_ctx(None, "the job log"),
                &[format!("{verdict}\n")],
            );
            if changes && args.fail_on_drift {
                print!(
                    "{}",
                    commands::annotation(
                        Level::Error,
                        None,
                        None,
                        Some("Drift"),
                        &format!(
                            "the flows of `{target}` on the server differ from Git (fail-on-drift)"
                        )
                    )
                );
                return 1;
            }
            if changes {
                warn(&format!(
                    "drift: the flows of `{target}` on the server differ from Git"
                ));
            }
            detailed
        }
        Mode::Apply { branch } => {
            apply(
                &settings,
                &ctx,
                &planned,
                &branch,
                &md_ctx(None, "the job log"),
            )
            .await
        }
    }
}

/// The options minus the server: what a fork's pull request can still check.
fn without_server(args: &crate::cli::SyncArgs) -> crate::cli::SyncArgs {
    let mut a = args.clone();
    a.kestra_url = None;
    a.kestra_username = None;
    a.kestra_password = None;
    a.kestra_api_token = None;
    a
}

/// The deployed branch from the `branch` input, unless it names the clone branch of
/// `--source git`.
fn settings_branch(args: &CiArgs) -> Option<String> {
    args.sync.branch.clone().filter(|b| !b.trim().is_empty())
}

async fn apply(
    settings: &Settings,
    ctx: &Context,
    planned: &Planned,
    branch: &str,
    md: &MarkdownContext,
) -> u8 {
    if settings.dry_run {
        notice(&format!("push to `{branch}`: dry-run, nothing written"));
        summary(
            ctx,
            planned,
            md,
            &["_Dry run (`dry-run: true`): nothing was written._\n".into()],
        );
        return 0;
    }
    if !planned.plan.summary.has_changes() {
        summary(ctx, planned, md, &[]);
        return 0;
    }
    print!(
        "{}",
        commands::group(&format!(
            "kestra-sync: apply to `{}`",
            settings.scope.namespace
        ))
    );
    let result = run::apply(settings, planned).await;
    print!("{}", commands::endgroup());
    match result {
        Ok(report) => {
            print!(
                "{}",
                crate::render::text::render_report(&report, settings.color)
            );
            write_summary(ctx, |room| {
                markdown::render_apply_report(&planned.plan, &report, md, room)
            });
            0
        }
        Err(RunError::Apply(ApplyError::Partial(report))) => {
            print!(
                "{}",
                crate::render::text::render_report(&report, settings.color)
            );
            write_summary(ctx, |room| {
                markdown::render_apply_report(&planned.plan, &report, md, room)
            });
            print!(
                "{}",
                commands::annotation(
                    Level::Error,
                    None,
                    None,
                    Some("Apply incomplete"),
                    &format!(
                        "apply stopped part-way: {} applied, {} failed, {} not attempted",
                        report.applied, report.failed, report.not_attempted
                    )
                )
            );
            1
        }
        Err(e) => fail_run(ctx, &e),
    }
}

/// Read and prepare the flow files from the configured source (`github`: the tarball at
/// `GITHUB_SHA`, for a pull request the merge commit, i.e. what merging would deploy).
async fn read_flows(
    settings: &Settings,
    ctx: &Context,
    gh: Option<&GithubClient>,
) -> Result<Vec<crate::flow::Flow>, RunError> {
    if settings.source != SourceKind::Github {
        let loaded = run::read_source(settings).await?;
        return run::prepare(settings, &loaded.files);
    }
    let Some(gh) = gh else {
        return Err(RunError::Source(crate::source::SourceError::Other(
            "`source: github` reads the repository through the API and needs the `github-token` input (with `contents: read`)".into(),
        )));
    };
    let spec = crate::source::SourceSpec {
        workspace: settings.workspace.clone(),
        git_directory: settings.git_directory.clone(),
        include_child_namespaces: settings.scope.include_children,
    };
    let files = crate::source::github::read(gh, &ctx.repository, &ctx.sha, &spec).await?;
    run::prepare(settings, &files)
}

fn plan_outputs(planned: &Planned) -> Vec<(&'static str, String)> {
    let s = &planned.plan.summary;
    vec![
        ("has-changes", s.has_changes().to_string()),
        ("added", s.added.to_string()),
        ("updated", s.updated.to_string()),
        ("unchanged", s.unchanged.to_string()),
        ("deleted", s.deleted.to_string()),
    ]
}

/// Write the JSON plan: `plan-file`, else `kestra-sync-plan-<namespace>.json` in the
/// workspace (not hidden: upload-artifact skips hidden files). Returns the path as given,
/// relative to the workspace when it is, so later steps can use it.
fn write_plan_file(settings: &Settings, ctx: &Context, planned: &Planned) -> Option<String> {
    let root = ctx
        .workspace
        .clone()
        .unwrap_or_else(|| settings.workspace.clone());
    let given: PathBuf = settings
        .plan_file
        .clone()
        .unwrap_or_else(|| PathBuf::from(default_plan_file(&settings.scope.namespace)));
    let full = if given.is_absolute() {
        given.clone()
    } else {
        root.join(&given)
    };
    match std::fs::write(&full, crate::render::json::render(&planned.plan)) {
        Ok(()) => Some(given.to_string_lossy().into_owned()),
        Err(e) => {
            warn(&format!(
                "cannot write the plan file `{}`: {e}",
                full.display()
            ));
            None
        }
    }
}

fn summary(ctx: &Context, planned: &Planned, md: &MarkdownContext, notes: &[String]) {
    let notes: String = notes.iter().map(|n| format!("{n}\n")).collect();
    write_summary(ctx, |room| {
        let plan = markdown::render(&planned.plan, md, room.saturating_sub(notes.len()));
        format!("{plan}\n{notes}")
    });
}

/// Append to the step summary, rendering within the room left.
fn write_summary(ctx: &Context, render: impl FnOnce(usize) -> String) {
    let Some(path) = &ctx.summary_file else {
        return;
    };
    let room = commands::summary_room(path);
    let text = render(room);
    if let Err(e) = commands::append_summary(path, &text) {
        warn(&format!(
            "cannot write the job summary (GITHUB_STEP_SUMMARY): {e}"
        ));
    }
}

fn append_summary_line(ctx: Option<&Context>, text: &str) {
    if let Some(path) = ctx.and_then(|c| c.summary_file.as_deref()) {
        let _ = commands::append_summary(path, text);
    }
}

fn warn(msg: &str) {
    print!(
        "{}",
        commands::annotation(Level::Warning, None, None, None, msg)
    );
}

fn notice(msg: &str) {
    print!(
        "{}",
        commands::annotation(Level::Notice, None, None, None, msg)
    );
}

/// An error before anything ran: annotation, summary line, exit 1.
fn fail(ctx: Option<&Context>, msg: &str) -> u8 {
    print!(
        "{}",
        commands::annotation(Level::Error, None, None, Some("kestra-sync"), msg)
    );
    append_summary_line(
        ctx,
        &format!("### ❌ kestra-sync failed\n\n{}\n", escape_md(msg)),
    );
    1
}

/// A failed run: every local problem and server verdict as an annotation on its file.
fn fail_run(ctx: &Context, err: &RunError) -> u8 {
    let mut lines = Vec::new();
    match err {
        RunError::Problems(problems) => {
            for p in problems {
                print!("{}", commands::problem(p));
                lines.push(format!("- `{}`: {}", p.file, escape_md(&p.message)));
            }
        }
        RunError::Apply(ApplyError::Invalid(results)) => {
            for v in results {
                print!("{}", commands::validation(v));
                for e in &v.errors {
                    lines.push(format!("- `{}`: {}", v.git_path, escape_md(e)));
                }
            }
        }
        _ => {}
    }
    print!(
        "{}",
        commands::annotation(
            Level::Error,
            None,
            None,
            Some("kestra-sync"),
            &err.to_string()
        )
    );
    let list = if lines.is_empty() {
        String::new()
    } else {
        format!("\n{}\n", lines.join("\n"))
    };
    append_summary_line(
        Some(ctx),
        &format!(
            "### ❌ kestra-sync failed\n\n{}\n{list}",
            escape_md(&err.to_string())
        ),
    );
    1
}

fn escape_md(s: &str) -> String {
    s.replace('<', "&lt;").replace('>', "&gt;")
}

/// The plan file when `plan-file` is not given, relative to the workspace.
pub fn default_plan_file(namespace: &str) -> String {
    format!("kestra-sync-plan-{namespace}.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(event_name: &str, event: Event) -> Context {
        Context {
            event_name: event_name.into(),
            event,
            repository: "acme/flows".into(),
            sha: "f".repeat(40),
            git_ref: String::new(),
            default_branch: Some("main".into()),
            api_url: "https://api.github.com".into(),
            server_url: "https://github.com".into(),
            job_url: None,
            workspace: None,
            output_file: None,
            summary_file: None,
        }
    }

    fn push(branch: &str, deleted: bool) -> Event {
        Event::Push {
            git_ref: format!("refs/heads/{branch}"),
            branch: Some(branch.into()),
            after: "a".repeat(40),
            default_branch: Some("main".into()),
            deleted,
        }
    }

    #[test]
    fn the_event_decides() {
        assert_eq!(
            mode(&ctx("push", push("main", false)), None),
            Mode::Apply {
                branch: "main".into()
            }
        );
        assert_eq!(
            mode(&ctx("push", push("prod", false)), Some("prod")),
            Mode::Apply {
                branch: "prod".into()
            }
        );
        assert!(
            matches!(mode(&ctx("push", push("feature", false)), None), Mode::PlanOnly { why } if why.contains("not the deployed branch `main`"))
        );
        assert!(matches!(
            mode(&ctx("push", push("main", true)), None),
            Mode::PlanOnly { .. }
        ));
        assert!(matches!(
            mode(&ctx("push", push("main", false)), Some("prod")),
            Mode::PlanOnly { .. }
        ));
        assert_eq!(mode(&ctx("schedule", Event::Schedule), None), Mode::Drift);
        assert_eq!(
            mode(&ctx("workflow_dispatch", Event::WorkflowDispatch), None),
            Mode::Drift
        );
        let pr = Event::PullRequest {
            number: 5,
            head_sha: String::new(),
            head_ref: String::new(),
            base_ref: String::new(),
            fork: true,
        };
        assert_eq!(
            mode(&ctx("pull_request", pr.clone()), None),
            Mode::PullRequest {
                number: 5,
                fork: true,
                target_event: false
            }
        );
        assert_eq!(
            mode(&ctx("pull_request_target", pr), None),
            Mode::PullRequest {
                number: 5,
                fork: true,
                target_event: true
            }
        );
        assert!(matches!(
            mode(&ctx("release", Event::Other("release".into())), None),
            Mode::PlanOnly { .. }
        ));
    }
}
