//! The terminal's side of the modes (`kestra-sync plan | apply | validate`): the product (the
//! plan, the apply report) on stdout, messages on stderr (`error: …`, `warning: …`, each
//! problem indented on its own `file:line: message` line). No sections, no summary, no
//! comment.

use std::path::PathBuf;

use super::report::{Finding, Level, Posted, Reporter, Upserted};
use crate::out;
use crate::render::markdown::{self, MarkdownContext};
use crate::settings::Settings;

/// A person's terminal (or a script reading stdout).
pub struct Terminal;

impl Reporter for Terminal {
    fn review_noun(&self) -> &'static str {
        "pull request"
    }

    fn comment_noun(&self) -> &'static str {
        "comment"
    }

    fn trigger(&self) -> &str {
        "terminal"
    }

    fn option(&self, input: &str) -> String {
        format!("--{input}")
    }

    fn fork_help(&self) -> (&'static str, &'static str) {
        ("", "")
    }

    fn print(&self, level: Level, _title: Option<&str>, message: &str) {
        match level {
            Level::Error => out::message_err(&format!("error: {message}")),
            Level::Warning => out::message_err(&format!("warning: {message}")),
            Level::Notice => out::message_err(message),
        }
    }

    /// The error, then each error-level finding indented below it (warnings were printed
    /// when they were found).
    fn failure(&self, message: &str, findings: &[Finding<'_>]) {
        let mut text = format!("error: {message}\n");
        for f in findings.iter().filter(|f| f.level == Level::Error) {
            text.push_str(&format!("  {f}\n"));
        }
        out::message_err(&text);
    }

    /// The plan shows each flow's warnings under it (text, Markdown) or carries them (JSON).
    fn flow_warnings(&self, _warnings: &[Finding<'_>]) {}

    fn section(&self, _title: &str) {}

    fn end_section(&self) {}

    fn summary(&self, _render: impl FnOnce(usize) -> String) {}

    fn markdown(&self, marker: Option<String>, full_plan_at: &str) -> MarkdownContext {
        MarkdownContext {
            marker,
            commit: None,
            job_url: None,
            tool_version: env!("CARGO_PKG_VERSION").into(),
            full_plan_at: full_plan_at.into(),
            ..MarkdownContext::default()
        }
    }

    /// A relative `--plan-file` is relative to the current directory.
    fn plan_root(&self, _settings: &Settings) -> PathBuf {
        PathBuf::new()
    }

    fn outputs(&self, _planned: &super::pipeline::Planned, _plan_file: Option<&str>) {}

    fn comment_limit(&self) -> usize {
        markdown::GITHUB_COMMENT_LIMIT
    }

    fn comment_full_plan_at(&self) -> &'static str {
        "the terminal"
    }

    async fn post_sticky(
        &self,
        _number: u64,
        _fork: bool,
        _marker: &str,
        _body: impl FnOnce(Option<&str>) -> String,
    ) -> Result<Upserted, String> {
        Ok(Upserted {
            posted: Posted::Skipped {
                reason: "a terminal has no pull request to comment on".into(),
            },
            previous: None,
            url: None,
        })
    }
}
