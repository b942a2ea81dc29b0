//! CI platforms, as they describe a run: detect GitHub Actions / GitLab CI, read the event
//! or pipeline into a context, map action inputs onto options, and write GitHub's workflow
//! commands, outputs and summary. What a run does with them is the application layer's
//! (`app::github`, `app::gitlab`).

pub mod commands;
pub mod github;
pub mod gitlab;
pub mod guard;

/// How grave a message is: a GitHub annotation level, a GitLab log prefix, a terminal
/// `error:` / `warning:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Notice,
}
