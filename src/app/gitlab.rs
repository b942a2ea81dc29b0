//! `kestra-sync ci` on GitLab CI: the pipeline decides what happens (`gitlab::mode`), and the
//! steps are the ones GitHub runs (`driver`). This file is GitLab's side of them:
//!
//! - The job log is the only report (GitLab has no job summary and no annotations): the plan,
//!   then `warning:` / `error:` lines, each local problem as `file:line: message`, in
//!   collapsible log sections.
//! - The plan is posted as **one note** on the merge request, found again by its marker and
//!   edited in place (`forge::gitlab`), within GitLab's 1,000,000-character limit. The token
//!   is `GITLAB_TOKEN` (`--gitlab-token`): `CI_JOB_TOKEN` cannot post notes, so when it is all
//!   there is, or the token is refused (401/403), the job warns, says how to create a project
//!   access token, and passes.
//! - The JSON plan file (`KESTRA_SYNC_PLAN_FILE`, default `kestra-sync-plan-<ns>.json`) is
//!   written relative to `CI_PROJECT_DIR`, where `artifacts: paths:` looks.

use std::cell::RefCell;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::{ExposeSecret, SecretString};

use super::driver::{self, Platform, Posted};
use crate::app::pipeline::{self as run, Planned, RunError};
use crate::apply::ApplyError;
use crate::ci::commands::Level;
use crate::ci::gitlab::{self, Context};
use crate::cli::CiArgs;
use crate::flow::Flow;
use crate::forge::gitlab::{GitLabNotes, MergeRequest, NoteOutcome, TOKEN_HELP};
use crate::http::{Backoff, HttpOptions};
use crate::render::markdown::{self, MarkdownContext};
use crate::settings::Settings;

/// Run on GitLab CI; the exit code.
pub async fn run(args: &CiArgs) -> u8 {
    let color = match args.sync.color.as_str() {
        "always" => true,
        "never" => false,
        _ => std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    let ctx = match gitlab::context() {
        Ok(c) => c,
        Err(e) => {
            println!("{} {e}", prefix(Level::Error, color));
            return 1;
        }
    };
    let mode = gitlab::mode(&ctx, driver::deployed_branch(args).as_deref());
    let platform = GitLab {
        ctx,
        token: args
            .gitlab_token
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| SecretString::from(t.to_string())),
        http: HttpOptions {
            timeout: Duration::from_secs(args.sync.timeout.max(1)),
            retries: args.sync.retries,
            backoff: Backoff::default(),
        },
        color,
        sections: RefCell::new(Vec::new()),
    };
    driver::run(&platform, args, mode).await
}

/// GitLab's side of the shared steps.
struct GitLab {
    ctx: Context,
    token: Option<SecretString>,
    http: HttpOptions,
    color: bool,
    /// Open log sections, innermost last.
    sections: RefCell<Vec<String>>,
}

/// `error:` / `warning:` / `note:`, bold and coloured when the log shows colour.
fn prefix(level: Level, color: bool) -> String {
    let (word, code) = match level {
        Level::Error => ("error:", "1;31"),
        Level::Warning => ("warning:", "1;33"),
        Level::Notice => ("note:", "1;36"),
    };
    if color {
        format!("\x1b[{code}m{word}\x1b[0m")
    } else {
        word.to_string()
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl GitLab {
    /// The merge request whose note we keep: `CI_API_V4_URL`, the MR's project and IID.
    fn merge_request(&self) -> Result<MergeRequest, String> {
        let ctx = &self.ctx;
        MergeRequest::from_env(|name| match name {
            "CI_API_V4_URL" => ctx.api_url.clone(),
            "CI_PROJECT_ID" => ctx.mr_project.clone(),
            "CI_MERGE_REQUEST_IID" => ctx.mr_iid.clone(),
            _ => None,
        })
        .map_err(|e| e.to_string())
    }
}

impl Platform for GitLab {
    fn review_noun(&self) -> &'static str {
        "merge request"
    }

    fn comment_noun(&self) -> &'static str {
        "note"
    }

    fn trigger(&self) -> &str {
        &self.ctx.pipeline_source
    }

    /// Options are CI/CD variables here: the variable of the action input.
    fn option(&self, input: &str) -> String {
        crate::ci::github::INPUTS
            .iter()
            .find(|(i, _)| *i == input)
            .map(|(_, var)| var.to_string())
            .unwrap_or_else(|| input.to_string())
    }

    fn fork_help(&self) -> (&'static str, &'static str) {
        (
            "GitLab runs the pipeline of a fork's merge request in the fork's project, without this project's CI/CD variables",
            "A maintainer can run the pipeline in this project from the merge request's Pipelines tab (Run pipeline)",
        )
    }

    fn print(&self, level: Level, title: Option<&str>, message: &str) {
        let p = prefix(level, self.color);
        match title.filter(|t| *t != "kestra-sync") {
            Some(t) => println!("{p} {t}: {message}"),
            None => println!("{p} {message}"),
        }
    }

    /// A collapsible section of the job log (GitLab's `section_start` / `section_end`).
    fn section(&self, title: &str) {
        let mut open = self.sections.borrow_mut();
        let name = format!("kestra_sync_{}", open.len() + 1);
        let title = if self.color {
            format!("\x1b[1m{title}\x1b[0m")
        } else {
            title.to_string()
        };
        println!("\x1b[0Ksection_start:{}:{name}\r\x1b[0K{title}", now());
        open.push(name);
    }

    fn end_section(&self) {
        if let Some(name) = self.sections.borrow_mut().pop() {
            println!("\x1b[0Ksection_end:{}:{name}\r\x1b[0K", now());
        }
    }

    /// `file:line: message`, one line each (the format editors and terminals link).
    fn problems(&self, err: &RunError) {
        match err {
            RunError::Problems(problems) => {
                for p in problems {
                    println!("{p}");
                }
            }
            RunError::Apply(ApplyError::Invalid(results)) => {
                for v in results {
                    for e in &v.errors {
                        println!("{}: {e}", v.git_path);
                    }
                    for w in &v.warnings {
                        println!("{}: warning: {w}", v.git_path);
                    }
                }
            }
            _ => {}
        }
    }

    /// GitLab has no job summary: the log says it all.
    fn summary(&self, _render: impl FnOnce(usize) -> String) {}

    fn markdown(&self, marker: Option<String>, full_plan_at: &str) -> MarkdownContext {
        MarkdownContext {
            marker,
            commit: self.ctx.display_commit().map(str::to_string),
            job_url: self.ctx.job_url.clone(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            full_plan_at: full_plan_at.into(),
        }
    }

    fn plan_root(&self) -> Option<PathBuf> {
        self.ctx.project_dir.clone()
    }

    fn outputs(&self, _planned: &Planned, plan_file: Option<&str>) {
        if let Some(path) = plan_file {
            self.print(
                Level::Notice,
                None,
                &format!("JSON plan written to `{path}` (keep it with `artifacts: paths:`)"),
            );
        }
    }

    fn comment_limit(&self) -> usize {
        markdown::GITLAB_NOTE_LIMIT
    }

    fn comment_full_plan_at(&self) -> &'static str {
        "the job log"
    }

    async fn read_flows(&self, settings: &Settings) -> Result<Vec<Flow>, RunError> {
        let loaded = run::read_source(settings).await?;
        run::prepare(settings, &loaded.files)
    }

    async fn post(&self, _number: u64, fork: bool, marker: &str, body: &str) -> Posted {
        if fork {
            return Posted::Skipped("this merge request comes from a fork and its pipeline runs in the fork's project, whose token cannot post here. A maintainer can run the pipeline in this project from the merge request's Pipelines tab (Run pipeline). The plan is in the job log".into());
        }
        let Some(token) = self
            .token
            .as_ref()
            .filter(|t| !t.expose_secret().is_empty())
        else {
            let why = if self.ctx.job_token {
                "only CI_JOB_TOKEN is available (GITLAB_TOKEN is not set)"
            } else {
                "no GitLab token (GITLAB_TOKEN is not set)"
            };
            return Posted::Skipped(format!("{why}: {TOKEN_HELP}. The plan is in the job log"));
        };
        let mr = match self.merge_request() {
            Ok(mr) => mr,
            Err(e) => return Posted::Failed(e),
        };
        let notes = match GitLabNotes::with_options(mr, Some(token.clone()), &self.http) {
            Ok(n) => n,
            Err(e) => return Posted::Failed(e.to_string()),
        };
        match notes.upsert(marker, body).await {
            Ok(NoteOutcome::Created { id }) => Posted::Created(id),
            Ok(NoteOutcome::Updated { id }) => Posted::Updated(id),
            Ok(NoteOutcome::Unchanged { id }) => Posted::Unchanged(id),
            Ok(NoteOutcome::Skipped { reason }) => Posted::Skipped(reason),
            Err(e) => Posted::Failed(e.to_string()),
        }
    }
}
