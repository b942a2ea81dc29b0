//! The one interface every mode reports through: [`Reporter`], implemented once per platform
//! ([`super::terminal::Terminal`], [`super::github::GitHub`], [`super::gitlab::GitLab`]).
//! A mode says *what* happened (a message, a failure with its findings, a plan, a summary);
//! the reporter says it the platform's way (stderr lines, workflow commands and the job
//! summary, GitLab log sections and a note).
//!
//! Also here: the walk over a [`RunError`] for the problems it carries ([`findings`]), written
//! once.

use std::fmt;
use std::path::PathBuf;

use super::pipeline::{self, Loaded, Planned, RunError};
use crate::apply::ApplyError;
pub use crate::forge::labels::{Label, Labeled};
pub use crate::forge::{Posted, Upserted};
use crate::render::markdown::MarkdownContext;
use crate::settings::Settings;
use crate::untrusted::visible_line;

pub use crate::ci::Level;

/// Where a problem was found: in the flow files, or by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A local check (parse, namespace, id, …).
    Local,
    /// The server's verdict when validating.
    Server,
}

/// One problem of a run, on its file (and line when known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding<'a> {
    pub level: Level,
    pub origin: Origin,
    /// Path relative to the workspace, as Git knows it.
    pub file: &'a str,
    pub line: Option<usize>,
    pub message: &'a str,
}

/// `file:line: message` (or `file: message`), with `warning: ` before a warning's message:
/// the form editors and terminals link.
impl fmt::Display for Finding<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", visible_line(self.file))?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        let sep = if self.file.is_empty() { "" } else { ": " };
        if self.level == Level::Warning {
            write!(f, "{sep}warning")?;
            return write!(f, ": {}", visible_line(self.message));
        }
        write!(f, "{sep}{}", visible_line(self.message))
    }
}

/// Every local problem and server verdict carried by `err`, in order: each file's errors,
/// then its warnings. Empty for errors that concern no file.
pub fn findings(err: &RunError) -> Vec<Finding<'_>> {
    match err {
        RunError::Problems(problems) => problems
            .iter()
            .map(|p| Finding {
                level: Level::Error,
                origin: Origin::Local,
                file: &p.file,
                line: p.line,
                message: &p.message,
            })
            .collect(),
        RunError::Apply(ApplyError::Invalid(results)) => results
            .iter()
            .flat_map(|v| {
                let errors = v.errors.iter().map(|e| (Level::Error, e));
                let warnings = v.warnings.iter().map(|w| (Level::Warning, w));
                errors.chain(warnings).map(|(level, message)| Finding {
                    level,
                    origin: Origin::Server,
                    file: &v.git_path,
                    line: None,
                    message,
                })
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// How a platform shows what a mode does. Everything is printed on stdout (the plan, the
/// job log) except where the platform says otherwise (the terminal's messages go to stderr).
///
/// To add a mode: write it once in [`super::modes`] with these methods. To add something a
/// mode reports: add one method here and implement it in each of the three reporters.
#[allow(async_fn_in_trait)]
pub trait Reporter {
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
    /// A message (a notice, a warning, an error with an optional title).
    fn print(&self, level: Level, title: Option<&str>, message: &str);
    /// The product in the chosen format (the plan, the apply report): stdout.
    fn product(&self, text: &str) {
        crate::out::product(text);
    }
    /// Warnings on flows of the plan (hidden characters, …), each on its file. The default
    /// prints each as a warning message; the terminal shows them in the plan itself.
    fn flow_warnings(&self, warnings: &[Finding<'_>]) {
        for w in warnings {
            self.print(Level::Warning, None, &w.to_string());
        }
    }
    /// A failed run: its message and every finding, each on its file and line.
    fn failure(&self, message: &str, findings: &[Finding<'_>]);
    /// Open and close a (foldable) section of the log.
    fn section(&self, title: &str);
    fn end_section(&self);
    /// Add Markdown to the job summary, rendered within the room left; nothing where the
    /// platform has none.
    fn summary(&self, render: impl FnOnce(usize) -> String);
    /// The footer's context (commit, job link) and where the whole plan can be read.
    fn markdown(&self, marker: Option<String>, full_plan_at: &str) -> MarkdownContext;
    /// Where a relative plan file is written (the checkout's root; empty: the current
    /// directory).
    fn plan_root(&self, settings: &Settings) -> PathBuf;
    /// The plan file to write when `--plan-file` is not given (CI keeps one for artifacts).
    fn default_plan_file(&self, _settings: &Settings) -> Option<PathBuf> {
        None
    }
    /// Publish the plan's figures and the plan file's path for later steps.
    fn outputs(&self, planned: &Planned, plan_file: Option<&str>);
    /// Largest comment body, and where the whole plan is when it does not fit.
    fn comment_limit(&self) -> usize;
    fn comment_full_plan_at(&self) -> &'static str;
    /// The flow files (GitHub may read them through its API).
    async fn read_files(&self, settings: &Settings) -> Result<Loaded, RunError> {
        pipeline::read_source(settings).await
    }
    /// Create or update the one comment carrying `marker` on request `number`; `Err`: the
    /// forge failed (a warning, never a failed job).
    async fn post(
        &self,
        number: u64,
        fork: bool,
        marker: &str,
        body: &str,
    ) -> Result<Posted, String> {
        self.post_sticky(number, fork, marker, |_| body.to_string())
            .await
            .map(|u| u.posted)
    }
    /// [`Self::post`] with the body made from what the comment said before (`None`: no
    /// comment yet); also returns that previous body and the comment's address when the
    /// forge gives one.
    async fn post_sticky(
        &self,
        number: u64,
        fork: bool,
        marker: &str,
        body: impl FnOnce(Option<&str>) -> String,
    ) -> Result<Upserted, String>;
    /// Edit the one comment carrying `marker` on request `number` (found as
    /// [`Self::post_sticky`] finds it) so that it reads `body(what it says now)`; never
    /// creates one: `Ok(None)` when there is none. The default has no comments: `Ok(None)`.
    async fn edit_sticky(
        &self,
        _number: u64,
        _marker: &str,
        _body: impl FnOnce(&str) -> String,
    ) -> Result<Option<Upserted>, String> {
        Ok(None)
    }
    /// Post one new comment on request `number` (it notifies, where an edit does not),
    /// rendered by `body` with the address of the sticky comment `sticky` when the forge
    /// gives one. The default posts nothing.
    async fn notify(
        &self,
        _number: u64,
        _sticky: &Upserted,
        _body: impl FnOnce(Option<&str>) -> String,
    ) -> Result<Posted, String> {
        Ok(Posted::Skipped {
            reason: "this platform has no request to comment on".into(),
        })
    }
    /// Make the `kestra-sync:*` labels of request `number` say `wanted` (`None`: none of
    /// ours, after a failed plan); `Err`: the forge failed (a warning, never a failed job).
    async fn label(
        &self,
        _number: u64,
        _fork: bool,
        _wanted: Option<Label>,
    ) -> Result<Labeled, String> {
        Ok(Labeled::Skipped {
            reason: "this platform has no pull/merge request labels".into(),
        })
    }
    /// The request this push merged and the plan lock of its comment carrying `marker`
    /// (see [`crate::lock`]); an error when the forge could not tell.
    async fn merged(&self, _marker: &str) -> Result<Merged, String> {
        Ok(Merged::Unknown(
            "this platform cannot tell which request a push merged".into(),
        ))
    }
    /// The GitHub deployment of request `number`'s preview (`kestra-preview/pr-N`): with
    /// `created` (`(preview namespace, its page in the Kestra UI)`) a new deployment linking
    /// it, else (the preview removed) the environment's deployments marked inactive. The
    /// default does nothing: only GitHub has deployments.
    async fn preview_deployment(
        &self,
        _number: u64,
        _created: Option<(&str, &str)>,
    ) -> super::preview_deploy::Step {
        super::preview_deploy::Step::NotOnGithub
    }
    /// The request's head is a fork's, even when the run has the project's secrets (GitHub's
    /// `pull_request_target`): its flows are never deployed as a preview.
    fn head_is_fork(&self) -> bool {
        false
    }
    /// `!7` or `#12`: how the platform names request `number`.
    fn request_ref(&self, number: u64) -> String {
        format!("#{number}")
    }
}

/// The request a push to the deployed branch merged, as far as the plan lock goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Merged {
    /// The platform cannot tell (no token, …): why.
    Unknown(String),
    /// The push merged no request (a direct push).
    Direct,
    /// Request `number` has no plan comment with a lock.
    NoLock { number: u64 },
    /// The lock of the plan reviewed on request `number`.
    Lock {
        number: u64,
        reviewed: crate::lock::Reviewed,
    },
}
