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
//! The steps themselves are shared with GitLab CI (`driver`); this file is GitHub's side of
//! them: workflow commands on stdout (the runner reads them there, with every secret masked
//! before anything else is printed by `inputs_to_env`), annotations on files, the step
//! summary and outputs, the sticky comment, and `source: github`.

use std::path::PathBuf;

use secrecy::SecretString;

pub use super::driver::Mode;
use super::driver::{self, Platform, Posted};
use crate::app::pipeline::{self as run, Planned, RunError};
use crate::apply::ApplyError;
use crate::ci::commands::{self, Level};
use crate::ci::github::{Context, Event};
use crate::cli::{CiArgs, SourceKind};
use crate::flow::Flow;
use crate::forge::github::{CommentOutcome, GithubClient, Issue};
use crate::render::markdown::{self, MarkdownContext};
use crate::settings::Settings;

/// The mode for an event; `deployed` is the `branch` input.
pub fn mode(ctx: &Context, deployed: Option<&str>) -> Mode {
    match &ctx.event {
        // `pull_request_target` runs in the base repository, with its secrets and a token
        // that can comment, even for a fork's pull request.
        Event::PullRequest { number, fork, .. } => Mode::Review {
            number: *number,
            fork: *fork && ctx.event_name != "pull_request_target",
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
    let ctx = match crate::ci::github::context() {
        Ok(c) => c,
        Err(e) => {
            print!(
                "{}",
                commands::annotation(
                    Level::Error,
                    None,
                    None,
                    Some("kestra-sync"),
                    &e.to_string()
                )
            );
            return 1;
        }
    };
    let mode = mode(&ctx, driver::deployed_branch(args).as_deref());
    let token = args
        .github_token
        .clone()
        .or_else(|| std::env::var("GITHUB_TOKEN").ok())
        .filter(|t| !t.trim().is_empty())
        .map(SecretString::from);
    let client = match &token {
        Some(t) => GithubClient::new(
            &ctx.api_url,
            t,
            std::time::Duration::from_secs(args.sync.timeout.max(1)),
        )
        .map(Some),
        None => Ok(None),
    };
    let gh = match client {
        Ok(c) => c,
        Err(e) => {
            let platform = GitHub { ctx, gh: None };
            return driver::fail(&platform, &e.to_string());
        }
    };
    driver::run(&GitHub { ctx, gh }, args, mode).await
}

/// GitHub's side of the shared steps.
struct GitHub {
    ctx: Context,
    gh: Option<GithubClient>,
}

impl Platform for GitHub {
    fn review_noun(&self) -> &'static str {
        "pull request"
    }

    fn comment_noun(&self) -> &'static str {
        "comment"
    }

    fn trigger(&self) -> &str {
        &self.ctx.event_name
    }

    fn option(&self, input: &str) -> String {
        input.to_string()
    }

    fn fork_help(&self) -> (&'static str, &'static str) {
        (
            "GitHub does not give secrets to workflows of fork pull requests",
            "Use the `workflow_run` pattern to plan fork pull requests (docs/forks.md)",
        )
    }

    fn print(&self, level: Level, title: Option<&str>, message: &str) {
        print!(
            "{}",
            commands::annotation(level, None, None, title, message)
        );
    }

    fn section(&self, title: &str) {
        print!("{}", commands::group(title));
    }

    fn end_section(&self) {
        print!("{}", commands::endgroup());
    }

    fn problems(&self, err: &RunError) {
        match err {
            RunError::Problems(problems) => {
                for p in problems {
                    print!("{}", commands::problem(p));
                }
            }
            RunError::Apply(ApplyError::Invalid(results)) => {
                for v in results {
                    print!("{}", commands::validation(v));
                }
            }
            _ => {}
        }
    }

    fn summary(&self, render: impl FnOnce(usize) -> String) {
        let Some(path) = &self.ctx.summary_file else {
            return;
        };
        let room = commands::summary_room(path);
        let text = render(room);
        if let Err(e) = commands::append_summary(path, &text) {
            self.print(
                Level::Warning,
                None,
                &format!("cannot write the job summary (GITHUB_STEP_SUMMARY): {e}"),
            );
        }
    }

    fn markdown(&self, marker: Option<String>, full_plan_at: &str) -> MarkdownContext {
        MarkdownContext {
            marker,
            commit: Some(self.ctx.display_commit().to_string()).filter(|c| !c.is_empty()),
            job_url: self.ctx.job_url.clone(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            full_plan_at: full_plan_at.into(),
        }
    }

    fn plan_root(&self) -> Option<PathBuf> {
        self.ctx.workspace.clone()
    }

    fn outputs(&self, planned: &Planned, plan_file: Option<&str>) {
        let Some(out) = &self.ctx.output_file else {
            return;
        };
        let s = &planned.plan.summary;
        let outputs = [
            ("has-changes", s.has_changes().to_string()),
            ("added", s.added.to_string()),
            ("updated", s.updated.to_string()),
            ("unchanged", s.unchanged.to_string()),
            ("deleted", s.deleted.to_string()),
            ("plan-file", plan_file.unwrap_or_default().to_string()),
        ];
        if let Err(e) = commands::write_outputs(out, &outputs) {
            self.print(
                Level::Warning,
                None,
                &format!("cannot write the step outputs to GITHUB_OUTPUT: {e}"),
            );
        }
    }

    fn comment_limit(&self) -> usize {
        markdown::GITHUB_COMMENT_LIMIT
    }

    fn comment_full_plan_at(&self) -> &'static str {
        "the job summary"
    }

    /// `source: github` reads the tarball at `GITHUB_SHA` (for a pull request the merge
    /// commit, i.e. what merging would deploy); other sources as everywhere.
    async fn read_flows(&self, settings: &Settings) -> Result<Vec<Flow>, RunError> {
        if settings.source != SourceKind::Github {
            let loaded = run::read_source(settings).await?;
            return run::prepare(settings, &loaded.files);
        }
        let Some(gh) = &self.gh else {
            return Err(RunError::Source(crate::source::SourceError::Other(
                "`source: github` reads the repository through the API and needs the `github-token` input (with `contents: read`)".into(),
            )));
        };
        let spec = crate::source::SourceSpec {
            workspace: settings.workspace.clone(),
            git_directory: settings.git_directory.clone(),
            include_child_namespaces: settings.scope.include_children,
        };
        let files =
            crate::source::github::read(gh, &self.ctx.repository, &self.ctx.sha, &spec).await?;
        run::prepare(settings, &files)
    }

    async fn post(&self, number: u64, fork: bool, marker: &str, body: &str) -> Posted {
        if fork {
            return Posted::Skipped("this pull request comes from a fork: GitHub gives its workflows a read-only token, so the plan cannot be posted as a comment. Use the `workflow_run` pattern to comment on fork pull requests (docs/forks.md). The plan is in the job summary".into());
        }
        let outcome = match (&self.gh, Issue::new(&self.ctx.repository, number)) {
            (None, _) => return Posted::Skipped("no GitHub token (input `github-token`, default `${{ github.token }}`): the plan was not posted as a comment. It is in the job summary".into()),
            (Some(_), Err(e)) => Err(e),
            (Some(c), Ok(issue)) => c.upsert_comment(&issue, marker, body).await,
        };
        match outcome {
            Ok(CommentOutcome::Created { id }) => Posted::Created(id),
            Ok(CommentOutcome::Updated { id }) => Posted::Updated(id),
            Ok(CommentOutcome::Unchanged { id }) => Posted::Unchanged(id),
            Ok(CommentOutcome::Skipped { reason }) => Posted::Skipped(reason),
            Err(e) => Posted::Failed(e.to_string()),
        }
    }
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
            Mode::Review {
                number: 5,
                fork: true
            }
        );
        assert_eq!(
            mode(&ctx("pull_request_target", pr), None),
            Mode::Review {
                number: 5,
                fork: false
            }
        );
        assert!(matches!(
            mode(&ctx("release", Event::Other("release".into())), None),
            Mode::PlanOnly { .. }
        ));
    }
}
