//! `kestra-sync ci` on GitHub Actions: the event decides what happens.
//!
//! - `pull_request` (and `pull_request_target`): plan; post it as the one sticky comment
//!   (unless `comment: false`); job summary; outputs. Never applies. A fork's read-only token
//!   is a warning and a summary line, never a failure.
//! - `push` to the deployed branch (input `deploy-branch`, default the repository's default
//!   branch): plan, then apply unless `dry-run`; the apply report goes to the summary.
//! - `push` elsewhere, and other events: plan only.
//! - `schedule` / `workflow_dispatch`: drift check: plan and summary; the step fails only
//!   with `fail-on-drift` when the server differs from Git.
//!
//! The modes themselves are shared with GitLab CI and the terminal (`modes`); this file is
//! GitHub's side of them: workflow commands on stdout (the runner reads them there, with every secret masked
//! before anything else is printed by `inputs_to_env`), annotations on files, the step
//! summary and outputs, the sticky comment, and `source: github`.

use std::path::PathBuf;

use super::modes::{self, Mode};
use super::pipeline::{Loaded, Planned, RunError};
use super::report::{Finding, Label, Labeled, Level, Merged, Origin, Posted, Reporter, Upserted};
use super::Exit;
use crate::ci::commands;
use crate::ci::github::{Context, Event};
use crate::cli::SourceKind;
use crate::forge::github::Issue;
use crate::github_api::GithubClient;
use crate::render::markdown::{self, MarkdownContext};
use crate::settings::Settings;

/// The mode for an event; `deployed` is the `deploy-branch` input.
pub fn mode(ctx: &Context, deployed: Option<&str>) -> Mode {
    match &ctx.event {
        // `pull_request_target` runs in the base repository, with its secrets and a token
        // that can comment, even for a fork's pull request.
        // A closed request is never planned again: its comment holds the plan lock the
        // merge's push checks, and a plan computed after the merge would replace it. The
        // closed run only removes the preview (when `preview` is on).
        Event::PullRequest {
            number,
            fork,
            action,
            ..
        } if action == "closed" => Mode::Close {
            number: *number,
            fork: *fork,
        },
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
                (Some(b), Some(d)) if *b == d && !deleted => Mode::Apply { branch: Some(d) },
                (_, Some(d)) if *deleted => Mode::Plan {
                    why: Some(format!(
                        "the push deleted `{git_ref}`; only `{d}` is applied"
                    )),
                },
                (_, Some(d)) => Mode::Plan {
                    why: Some(format!(
                        "`{git_ref}` is not the deployed branch `{d}` (input `deploy-branch`): plan only"
                    )),
                },
                (_, None) => Mode::Plan {
                    why: Some(
                        "the deployed branch is unknown (set the `deploy-branch` input): plan only".into(),
                    ),
                },
            }
        }
        Event::Schedule | Event::WorkflowDispatch => Mode::Drift,
        Event::Other(name) => Mode::Plan {
            why: Some(format!("the `{name}` event only plans")),
        },
    }
}

/// Run on GitHub Actions with `settings` (or the error that stopped them); the exit.
pub async fn run(settings: Result<Settings, String>) -> Exit {
    let ctx = match crate::ci::github::context() {
        Ok(c) => c,
        Err(e) => {
            crate::out::command(&commands::annotation(
                Level::Error,
                None,
                None,
                Some("kestra-sync"),
                &e.to_string(),
            ));
            return Exit::Error;
        }
    };
    let settings = match settings {
        Ok(s) => s,
        Err(e) => return modes::fail(&GitHub { ctx, gh: None }, &e),
    };
    let mode = mode(&ctx, settings.ci.deployed_branch.as_deref());
    let gh = match &settings.ci.github_token {
        Some(t) => match GithubClient::with_options(&ctx.api_url, t, &settings.http) {
            Ok(c) => Some(c),
            Err(e) => return modes::fail(&GitHub { ctx, gh: None }, &e.to_string()),
        },
        None => None,
    };
    if let Some(e) = crate::ci::guard::check_github(&ctx, gh.as_ref()).await {
        return modes::fail(&GitHub { ctx, gh }, &e);
    }
    modes::run(&GitHub { ctx, gh }, &settings, mode).await
}

/// GitHub's side of the modes.
pub struct GitHub {
    ctx: Context,
    gh: Option<GithubClient>,
}

impl Reporter for GitHub {
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
        crate::out::command(&commands::annotation(level, None, None, title, message));
    }

    fn section(&self, title: &str) {
        crate::out::command(&commands::group(title));
    }

    fn end_section(&self) {
        crate::out::command(&commands::endgroup());
    }

    /// Each warning as an annotation on its file.
    fn flow_warnings(&self, warnings: &[Finding<'_>]) {
        for w in warnings {
            crate::out::command(&commands::annotation(
                Level::Warning,
                Some(w.file),
                w.line,
                Some("kestra-sync: read before approving"),
                w.message,
            ));
        }
    }

    /// Each finding as an annotation on its file and line, then the error.
    fn failure(&self, message: &str, findings: &[Finding<'_>]) {
        for f in findings {
            let title = match (f.origin, f.level) {
                (Origin::Local, _) => "kestra-sync: invalid flow",
                (Origin::Server, Level::Error) => "Kestra refused this flow",
                (Origin::Server, _) => "Kestra warning",
            };
            crate::out::command(&commands::annotation(
                f.level,
                Some(f.file),
                f.line,
                Some(title),
                f.message,
            ));
        }
        self.print(Level::Error, Some("kestra-sync"), message);
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
        let comment = marker.is_some();
        MarkdownContext {
            marker,
            commit: Some(self.ctx.display_commit().to_string()).filter(|c| !c.is_empty()),
            job_url: self.ctx.job_url.clone(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            full_plan_at: full_plan_at.into(),
            merging_into: match &self.ctx.event {
                Event::PullRequest { base_ref, .. } if comment => {
                    Some(base_ref.clone()).filter(|b| !b.is_empty())
                }
                _ => None,
            },
            ..MarkdownContext::default()
        }
    }

    fn plan_root(&self, settings: &Settings) -> PathBuf {
        self.ctx
            .workspace
            .clone()
            .unwrap_or_else(|| settings.workspace.clone())
    }

    fn default_plan_file(&self, settings: &Settings) -> Option<PathBuf> {
        Some(modes::default_plan_file(&settings.scope.namespace))
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
            ("files-added", s.files.map_or(0, |f| f.added).to_string()),
            (
                "files-overwritten",
                s.files.map_or(0, |f| f.overwritten).to_string(),
            ),
            (
                "files-deleted",
                s.files.map_or(0, |f| f.deleted).to_string(),
            ),
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
    async fn read_files(&self, settings: &Settings) -> Result<Loaded, RunError> {
        if settings.source != SourceKind::Github {
            return super::pipeline::read_source(settings).await;
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
        // One download for the flows and the namespace files.
        let mut folders = vec![spec.git_directory.as_str()];
        if let Some(fs) = &settings.files {
            folders.push(fs.directory.as_str());
        }
        let extracted = crate::source::github::download_folders(
            gh,
            &self.ctx.repository,
            &self.ctx.sha,
            &folders,
            match settings.files {
                Some(_) => crate::nsfiles::MAX_FILE_BYTES,
                None => crate::source::github::MAX_FILE,
            },
        )
        .await?;
        let root = extracted.path().to_path_buf();
        let read = crate::source::github::read_extracted(&root, &spec);
        let (files, missing_directory) = super::pipeline::allow_missing(settings, read)?;
        let ns_files = super::pipeline::read_ns_files(settings, &root)?;
        Ok(Loaded {
            files,
            missing_directory,
            ns_files,
            _keep: Some(Box::new(extracted)),
        })
    }

    /// The pull request whose merge commit is `GITHUB_SHA`, and the lock of its plan comment.
    async fn merged(&self, marker: &str) -> Result<Merged, String> {
        let Some(gh) = &self.gh else {
            return Ok(Merged::Unknown(
                "no GitHub token to find the merged pull request (input `github-token`)".into(),
            ));
        };
        // The token may not read pull requests (a job with `contents: read` only): the check
        // cannot be made, and the push applies as it did before plan locks, saying why.
        let denied = |e: crate::forge::github::GithubError| {
            match e.status() {
            Some(401 | 403 | 404) => Ok(Merged::Unknown(format!(
                "the token may not read the merged pull request ({e}); grant the job `permissions: pull-requests: write` to check the plan lock"
            ))),
            _ => Err(e.to_string()),
        }
        };
        let number = match gh.merged_pull(&self.ctx.repository, &self.ctx.sha).await {
            Ok(Some(n)) => n,
            Ok(None) => return Ok(Merged::Direct),
            Err(e) => return denied(e),
        };
        let issue = Issue::new(&self.ctx.repository, number).map_err(|e| e.to_string())?;
        let body = match gh.our_comment(&issue, marker).await {
            Ok(body) => body,
            Err(e) => return denied(e),
        };
        match body.as_deref().map(crate::lock::Reviewed::from_comment) {
            None | Some(Ok(None)) => Ok(Merged::NoLock { number }),
            Some(Ok(Some(reviewed))) => Ok(Merged::Lock { number, reviewed }),
            Some(Err(e)) => Err(format!("#{number}: {e}")),
        }
    }

    async fn label(
        &self,
        number: u64,
        fork: bool,
        wanted: Option<Label>,
    ) -> Result<Labeled, String> {
        if fork {
            return Ok(Labeled::Skipped { reason: "this pull request comes from a fork: GitHub gives its workflows a read-only token, so labels cannot be set".into() });
        }
        match (&self.gh, Issue::new(&self.ctx.repository, number)) {
            (None, _) => Ok(Labeled::Skipped {
                reason: "no GitHub token (input `github-token`, default `${{ github.token }}`)"
                    .into(),
            }),
            (Some(_), Err(e)) => Err(e.to_string()),
            (Some(c), Ok(issue)) => c
                .set_labels(&issue, wanted)
                .await
                .map_err(|e| e.to_string()),
        }
    }

    async fn preview_deployment(
        &self,
        number: u64,
        created: Option<(&str, &str)>,
    ) -> super::preview_deploy::Step {
        use super::preview_deploy::{self as deploy, Step};
        let Some(client) = &self.gh else {
            return Step::NotOnGithub;
        };
        let gh = deploy::Github {
            client: client.clone(),
            repository: self.ctx.repository.clone(),
            // the pull request's head commit (GITHUB_SHA is the merge commit)
            sha: Some(self.ctx.display_commit().to_string()).filter(|s| !s.is_empty()),
            log_url: self.ctx.job_url.clone(),
        };
        match created {
            Some((namespace, url)) => deploy::created(&gh, number, namespace, url).await,
            None => deploy::destroyed(&gh, number).await,
        }
    }

    fn head_is_fork(&self) -> bool {
        matches!(self.ctx.event, Event::PullRequest { fork: true, .. })
    }

    async fn post_sticky(
        &self,
        number: u64,
        fork: bool,
        marker: &str,
        body: impl FnOnce(Option<&str>) -> String,
    ) -> Result<Upserted, String> {
        let skipped = |reason: &str| Upserted {
            posted: Posted::Skipped {
                reason: reason.into(),
            },
            previous: None,
            url: None,
        };
        if fork {
            return Ok(skipped("this pull request comes from a fork: GitHub gives its workflows a read-only token, so the plan cannot be posted as a comment. Use the `workflow_run` pattern to comment on fork pull requests (docs/forks.md). The plan is in the job summary"));
        }
        let outcome = match (&self.gh, Issue::new(&self.ctx.repository, number)) {
            (None, _) => return Ok(skipped("no GitHub token (input `github-token`, default `${{ github.token }}`): the plan was not posted as a comment. It is in the job summary")),
            (Some(_), Err(e)) => Err(e),
            (Some(c), Ok(issue)) => c.upsert_sticky(&issue, marker, body).await,
        };
        outcome.map_err(|e| e.to_string())
    }

    async fn edit_sticky(
        &self,
        number: u64,
        marker: &str,
        body: impl FnOnce(&str) -> String,
    ) -> Result<Option<Upserted>, String> {
        match (&self.gh, Issue::new(&self.ctx.repository, number)) {
            (None, _) => Ok(Some(Upserted {
                posted: Posted::Skipped {
                    reason: "no GitHub token (input `github-token`, default `${{ github.token }}`)"
                        .into(),
                },
                previous: None,
                url: None,
            })),
            (Some(_), Err(e)) => Err(e.to_string()),
            (Some(c), Ok(issue)) => c
                .edit_sticky(&issue, marker, body)
                .await
                .map_err(|e| e.to_string()),
        }
    }

    /// A new comment on the pull request, linking to the sticky one's `html_url`.
    async fn notify(
        &self,
        number: u64,
        sticky: &Upserted,
        body: impl FnOnce(Option<&str>) -> String,
    ) -> Result<Posted, String> {
        let Some(gh) = &self.gh else {
            return Ok(Posted::Skipped {
                reason: "no GitHub token (input `github-token`)".into(),
            });
        };
        let issue = Issue::new(&self.ctx.repository, number).map_err(|e| e.to_string())?;
        gh.create_comment(&issue, &body(sticky.url.as_deref()))
            .await
            .map_err(|e| e.to_string())
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
                branch: Some("main".into())
            }
        );
        assert_eq!(
            mode(&ctx("push", push("prod", false)), Some("prod")),
            Mode::Apply {
                branch: Some("prod".into())
            }
        );
        assert!(
            matches!(mode(&ctx("push", push("feature", false)), None), Mode::Plan { why: Some(why) } if why.contains("not the deployed branch `main`"))
        );
        assert!(matches!(
            mode(&ctx("push", push("main", true)), None),
            Mode::Plan { .. }
        ));
        assert!(matches!(
            mode(&ctx("push", push("main", false)), Some("prod")),
            Mode::Plan { .. }
        ));
        assert_eq!(mode(&ctx("schedule", Event::Schedule), None), Mode::Drift);
        assert_eq!(
            mode(&ctx("workflow_dispatch", Event::WorkflowDispatch), None),
            Mode::Drift
        );
        let pr = Event::PullRequest {
            number: 5,
            action: "opened".into(),
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
        let pr_event = pr.clone();
        assert_eq!(
            mode(&ctx("pull_request_target", pr), None),
            Mode::Review {
                number: 5,
                fork: false
            }
        );
        let closed = |name: &str| {
            let mut e = pr_event.clone();
            if let Event::PullRequest { action, .. } = &mut e {
                *action = "closed".into();
            }
            mode(&ctx(name, e), None)
        };
        assert_eq!(
            closed("pull_request"),
            Mode::Close {
                number: 5,
                fork: true
            }
        );
        assert_eq!(
            closed("pull_request_target"),
            Mode::Close {
                number: 5,
                fork: true
            }
        );
        assert!(matches!(
            mode(&ctx("release", Event::Other("release".into())), None),
            Mode::Plan { .. }
        ));
    }
}
