//! `kestra-sync ci` on GitLab CI: the pipeline decides what happens ([`mode`]), and the
//! modes are the ones GitHub and the terminal run (`modes`). This file is GitLab's side of
//! them:
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
use std::time::{SystemTime, UNIX_EPOCH};

use secrecy::{ExposeSecret, SecretString};

use super::modes::{self, Mode};
use super::pipeline::Planned;
use super::report::{Finding, Label, Labeled, Level, Merged, Posted, Reporter, Upserted};
use super::Exit;
use crate::ci::gitlab::Context;
use crate::forge::gitlab::{GitLabNotes, MergeRequest, LABELS_HELP, TOKEN_HELP};
use crate::http::HttpOptions;
use crate::out;
use crate::render::markdown::{self, MarkdownContext};
use crate::settings::Settings;
use crate::untrusted::visible_line;

/// Run on GitLab CI with `settings` (or the error that stopped them); the exit.
pub async fn run(settings: Result<Settings, String>, color: bool) -> Exit {
    let ctx = match crate::ci::gitlab::context() {
        Ok(c) => c,
        Err(e) => {
            out::message(&prefix(Level::Error, color), &e.to_string());
            return Exit::Error;
        }
    };
    let settings = match settings {
        Ok(s) => s,
        Err(e) => {
            let platform = GitLab::new(ctx, None, HttpOptions::default(), color);
            return modes::fail(&platform, &e);
        }
    };
    let mode = mode(&ctx, settings.ci.deployed_branch.as_deref());
    let literal = crate::ci::guard::check_gitlab();
    let platform = GitLab::new(
        ctx,
        settings.ci.gitlab_token.clone(),
        settings.http,
        settings.color,
    );
    if let Some(e) = literal {
        return modes::fail(&platform, &e);
    }
    modes::run(&platform, &settings, mode).await
}

/// The mode for a pipeline; `deployed` is `--deploy-branch` (KESTRA_SYNC_DEPLOY_BRANCH) when given.
pub fn mode(ctx: &Context, deployed: Option<&str>) -> Mode {
    let deployed = deployed
        .map(str::to_string)
        .or_else(|| ctx.default_branch.clone());
    match ctx.pipeline_source.as_str() {
        // A missing or odd IID still plans; posting the note then says what is wrong.
        "merge_request_event" => Mode::Review {
            number: ctx
                .mr_iid
                .as_deref()
                .and_then(|i| i.parse().ok())
                .unwrap_or(0),
            fork: ctx.fork,
        },
        "schedule" => Mode::Drift,
        source @ ("push" | "web" | "api") => match (&ctx.commit_branch, deployed) {
            (Some(b), Some(d)) if *b == d => Mode::Apply { branch: Some(d) },
            (Some(b), Some(d)) => Mode::Plan {
                why: Some(format!(
                    "`{b}` is not the deployed branch `{d}` (KESTRA_SYNC_DEPLOY_BRANCH, default CI_DEFAULT_BRANCH): plan only"
                )),
            },
            (None, Some(d)) => Mode::Plan {
                why: Some(match &ctx.commit_tag {
                    Some(t) => format!("tag pipelines (`{t}`) only plan; `{d}` is applied"),
                    None => format!(
                        "this `{source}` pipeline is not for a branch (CI_COMMIT_BRANCH is unset): plan only; `{d}` is applied"
                    ),
                }),
            },
            (_, None) => Mode::Plan {
                why: Some("the deployed branch is unknown (CI_DEFAULT_BRANCH is unset; set KESTRA_SYNC_DEPLOY_BRANCH): plan only".into()),
            },
        },
        other => Mode::Plan {
            why: Some(format!(
                "the `{other}` pipeline source only plans (merge_request_event plans and posts a note; push, web or api on the deployed branch applies; schedule checks drift)"
            )),
        },
    }
}

/// GitLab's side of the modes.
pub struct GitLab {
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
    fn new(ctx: Context, token: Option<SecretString>, http: HttpOptions, color: bool) -> GitLab {
        GitLab {
            ctx,
            token,
            http,
            color,
            sections: RefCell::new(Vec::new()),
        }
    }

    /// The merge request whose note we keep: `CI_API_V4_URL`, the MR's project and IID.
    fn merge_request(&self) -> Result<MergeRequest, String> {
        let ctx = &self.ctx;
        MergeRequest::new(
            ctx.api_url.as_deref(),
            ctx.mr_project.as_deref(),
            ctx.mr_iid.as_deref(),
        )
        .map_err(|e| e.to_string())
    }

    /// Merge request `iid` of this pipeline's project (a push pipeline has no
    /// `CI_MERGE_REQUEST_IID`: the plan lock finds the merged one itself).
    fn merge_request_number(&self, iid: u64) -> Result<MergeRequest, String> {
        let ctx = &self.ctx;
        MergeRequest::new(
            ctx.api_url.as_deref(),
            ctx.mr_project.as_deref(),
            Some(&iid.to_string()),
        )
        .map_err(|e| e.to_string())
    }

    /// Why there is no token that can write (post a note, set labels).
    fn no_token(&self) -> &'static str {
        if self.ctx.job_token {
            "only CI_JOB_TOKEN is available (GITLAB_TOKEN is not set)"
        } else {
            "no GitLab token (GITLAB_TOKEN is not set)"
        }
    }

    /// The notes API of the request `number` posts on (a review: this pipeline's merge
    /// request; the plan lock on a push: the merged one); `Ok(Err(why))` without a token.
    fn notes_for(&self, number: u64) -> Result<Result<GitLabNotes, String>, String> {
        let iid = match self.merge_request() {
            Ok(mr) if mr.iid == number || number == 0 => mr.iid,
            _ => number,
        };
        Ok(self.notes_of(iid)?.ok_or_else(|| {
            format!(
                "{}: {TOKEN_HELP}. The plan is in the job log",
                self.no_token()
            )
        }))
    }

    /// The notes API of merge request `iid` through `GITLAB_TOKEN`, if there is a token.
    fn notes_of(&self, iid: u64) -> Result<Option<GitLabNotes>, String> {
        let Some(token) = self
            .token
            .as_ref()
            .filter(|t| !t.expose_secret().is_empty())
        else {
            return Ok(None);
        };
        let mr = self.merge_request_number(iid)?;
        GitLabNotes::with_options(mr, Some(token.clone()), &self.http)
            .map(Some)
            .map_err(|e| e.to_string())
    }
}

impl Reporter for GitLab {
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
            Some(t) => out::message(&p, &format!("{t}: {message}")),
            None => out::message(&p, message),
        }
    }

    /// A collapsible section of the job log (GitLab's `section_start` / `section_end`).
    fn section(&self, title: &str) {
        let mut open = self.sections.borrow_mut();
        let name = format!("kestra_sync_{}", open.len() + 1);
        // The title may hold a namespace or a message: shown on one line, nothing hidden.
        let title = visible_line(title);
        let title = if self.color {
            format!("\x1b[1m{title}\x1b[0m")
        } else {
            title.into_owned()
        };
        out::control(&format!(
            "\x1b[0Ksection_start:{}:{name}\r\x1b[0K{title}\n",
            now()
        ));
        open.push(name);
    }

    fn end_section(&self) {
        if let Some(name) = self.sections.borrow_mut().pop() {
            out::control(&format!("\x1b[0Ksection_end:{}:{name}\r\x1b[0K\n", now()));
        }
    }

    /// Each finding as `file:line: message`, one line each (the format editors and
    /// terminals link), then the error.
    fn failure(&self, message: &str, findings: &[Finding<'_>]) {
        for f in findings {
            out::message("", &f.to_string());
        }
        self.print(Level::Error, Some("kestra-sync"), message);
    }

    /// GitLab has no job summary: the log says it all.
    fn summary(&self, _render: impl FnOnce(usize) -> String) {}

    /// The note (with a marker) of a merge request pipeline says what merging into
    /// `CI_MERGE_REQUEST_TARGET_BRANCH_NAME` does.
    fn markdown(&self, marker: Option<String>, full_plan_at: &str) -> MarkdownContext {
        let merging_into = match marker {
            Some(_) if self.ctx.pipeline_source == "merge_request_event" => {
                self.ctx.target_branch.clone()
            }
            _ => None,
        };
        MarkdownContext {
            merging_into,
            marker,
            commit: self.ctx.display_commit().map(str::to_string),
            job_url: self.ctx.job_url.clone(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            full_plan_at: full_plan_at.into(),
            ..MarkdownContext::default()
        }
    }

    fn plan_root(&self, settings: &Settings) -> PathBuf {
        self.ctx
            .project_dir
            .clone()
            .unwrap_or_else(|| settings.workspace.clone())
    }

    fn default_plan_file(&self, settings: &Settings) -> Option<PathBuf> {
        Some(modes::default_plan_file(&settings.scope.namespace))
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

    async fn post_sticky(
        &self,
        number: u64,
        fork: bool,
        marker: &str,
        body: impl FnOnce(Option<&str>) -> String,
    ) -> Result<Upserted, String> {
        let skipped = |reason: String| Upserted {
            posted: Posted::Skipped { reason },
            previous: None,
            url: None,
        };
        if fork {
            return Ok(skipped("this merge request comes from a fork and its pipeline runs in the fork's project, whose token cannot post here. A maintainer can run the pipeline in this project from the merge request's Pipelines tab (Run pipeline). The plan is in the job log".into()));
        }
        let notes = match self.notes_for(number)? {
            Ok(notes) => notes,
            Err(why) => return Ok(skipped(why)),
        };
        notes
            .upsert_sticky(marker, body)
            .await
            .map_err(|e| e.to_string())
    }

    async fn edit_sticky(
        &self,
        number: u64,
        marker: &str,
        body: impl FnOnce(&str) -> String,
    ) -> Result<Option<Upserted>, String> {
        match self.notes_for(number)? {
            Ok(notes) => notes
                .edit_sticky(marker, body)
                .await
                .map_err(|e| e.to_string()),
            Err(reason) => Ok(Some(Upserted {
                posted: Posted::Skipped { reason },
                previous: None,
                url: None,
            })),
        }
    }

    /// A new note on the merge request, linking to the sticky one: the merge request's
    /// `web_url` with `#note_<id>` (no link when GitLab does not give the address).
    async fn notify(
        &self,
        number: u64,
        sticky: &Upserted,
        body: impl FnOnce(Option<&str>) -> String,
    ) -> Result<Posted, String> {
        let notes = match self.notes_for(number)? {
            Ok(notes) => notes,
            Err(reason) => return Ok(Posted::Skipped { reason }),
        };
        let link = match &sticky.posted {
            Posted::Created { id } | Posted::Updated { id } | Posted::Unchanged { id } => {
                match notes.web_url().await {
                    Ok(web) => Some(format!("{web}#note_{id}")),
                    Err(e) => {
                        tracing::warn!("no link to the plan note: {e}");
                        None
                    }
                }
            }
            Posted::Skipped { .. } => None,
        };
        notes
            .create_note(&body(link.as_deref()))
            .await
            .map_err(|e| e.to_string())
    }

    fn request_ref(&self, number: u64) -> String {
        format!("!{number}")
    }

    /// The same token rules as the note: `GITLAB_TOKEN`, never `CI_JOB_TOKEN`.
    async fn label(
        &self,
        number: u64,
        fork: bool,
        wanted: Option<Label>,
    ) -> Result<Labeled, String> {
        if fork {
            return Ok(Labeled::Skipped { reason: "this merge request comes from a fork and its pipeline runs in the fork's project, whose token cannot label it here".into() });
        }
        let Some(mr) = self.notes_of(number)? else {
            return Ok(Labeled::Skipped {
                reason: format!("{}: {LABELS_HELP}", self.no_token()),
            });
        };
        mr.set_labels(wanted).await.map_err(|e| e.to_string())
    }

    fn head_is_fork(&self) -> bool {
        self.ctx.fork_head
    }

    /// The merged merge request whose merge (or squash, or fast-forwarded head) commit is
    /// `CI_COMMIT_SHA`, and the lock of its plan note.
    async fn merged(&self, marker: &str) -> Result<Merged, String> {
        let Some(sha) = self.ctx.commit_sha.clone() else {
            return Ok(Merged::Unknown("CI_COMMIT_SHA is not set".into()));
        };
        // any IID: the project's API is what is asked first
        let Some(project) = self.notes_of(1)? else {
            return Ok(Merged::Unknown(
                "no GITLAB_TOKEN to find the merged merge request".into(),
            ));
        };
        let denied = |e: crate::forge::gitlab::GitLabError| {
            match &e {
            crate::forge::gitlab::GitLabError::Status {
                status: 401 | 403 | 404,
                ..
            } => Ok(Merged::Unknown(format!(
                "the token may not read the merged merge request ({e}); give GITLAB_TOKEN the `api` scope to check the plan lock"
            ))),
            _ => Err(e.to_string()),
        }
        };
        let iid = match project.merged_merge_request(&sha).await {
            Ok(Some(iid)) => iid,
            Ok(None) => return Ok(Merged::Direct),
            Err(e) => return denied(e),
        };
        let Some(notes) = self.notes_of(iid)? else {
            return Ok(Merged::NoLock { number: iid });
        };
        let body = match notes.our_note(marker).await {
            Ok(body) => body,
            Err(e) => return denied(e),
        };
        match body.as_deref().map(crate::lock::Reviewed::from_comment) {
            None | Some(Ok(None)) => Ok(Merged::NoLock { number: iid }),
            Some(Ok(Some(reviewed))) => Ok(Merged::Lock {
                number: iid,
                reviewed,
            }),
            Some(Err(e)) => Err(format!("!{iid}: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ci::gitlab::context_from;

    fn ctx(vars: &[(&str, &str)]) -> Context {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        context_from(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())).unwrap()
    }

    fn pipeline(source: &str, branch: Option<&str>) -> Context {
        let mut v = vec![
            ("CI_PIPELINE_SOURCE", source),
            ("CI_DEFAULT_BRANCH", "main"),
        ];
        if let Some(b) = branch {
            v.push(("CI_COMMIT_BRANCH", b));
        }
        ctx(&v)
    }

    #[test]
    fn the_pipeline_decides() {
        for source in ["push", "web", "api"] {
            assert_eq!(
                mode(&pipeline(source, Some("main")), None),
                Mode::Apply {
                    branch: Some("main".into())
                },
                "{source}"
            );
        }
        assert_eq!(
            mode(&pipeline("push", Some("prod")), Some("prod")),
            Mode::Apply {
                branch: Some("prod".into())
            }
        );
        let Mode::Plan { why: Some(why) } = mode(&pipeline("push", Some("main")), Some("prod"))
        else {
            panic!("a push to main with --branch prod applies nothing")
        };
        assert!(
            why.contains("`main` is not the deployed branch `prod`"),
            "{why}"
        );
        assert!(matches!(
            mode(&pipeline("push", Some("feature")), None),
            Mode::Plan { why: Some(why) } if why.contains("`feature` is not the deployed branch `main`")
        ));
        assert_eq!(mode(&pipeline("schedule", Some("main")), None), Mode::Drift);
        assert!(matches!(
            mode(&pipeline("trigger", Some("main")), None),
            Mode::Plan { why: Some(why) } if why.contains("`trigger` pipeline source only plans")
        ));
        let tag = ctx(&[
            ("CI_PIPELINE_SOURCE", "push"),
            ("CI_DEFAULT_BRANCH", "main"),
            ("CI_COMMIT_TAG", "v1.0.0"),
        ]);
        assert!(
            matches!(mode(&tag, None), Mode::Plan { why: Some(why) } if why.contains("tag pipelines (`v1.0.0`)"))
        );
        let unknown = ctx(&[("CI_PIPELINE_SOURCE", "push"), ("CI_COMMIT_BRANCH", "main")]);
        assert!(
            matches!(mode(&unknown, None), Mode::Plan { why: Some(why) } if why.contains("set KESTRA_SYNC_DEPLOY_BRANCH"))
        );
        // The deployed branch given explicitly still applies without CI_DEFAULT_BRANCH.
        assert_eq!(
            mode(&unknown, Some("main")),
            Mode::Apply {
                branch: Some("main".into())
            }
        );
    }

    #[test]
    fn merge_requests_review_and_forks_are_told_apart() {
        let mr = ctx(&[
            ("CI_PIPELINE_SOURCE", "merge_request_event"),
            ("CI_MERGE_REQUEST_IID", "42"),
            ("CI_PROJECT_ID", "acme/flows"),
        ]);
        assert_eq!(
            mode(&mr, None),
            Mode::Review {
                number: 42,
                fork: false
            }
        );
        assert_eq!(mr.mr_project.as_deref(), Some("acme/flows"));
        // In the fork's project: no secrets.
        let fork = ctx(&[
            ("CI_PIPELINE_SOURCE", "merge_request_event"),
            ("CI_MERGE_REQUEST_IID", "7"),
            ("CI_PROJECT_ID", "900"),
            ("CI_MERGE_REQUEST_PROJECT_ID", "100"),
            ("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "900"),
        ]);
        assert_eq!(
            mode(&fork, None),
            Mode::Review {
                number: 7,
                fork: true
            }
        );
        assert_eq!(fork.mr_project.as_deref(), Some("100"));
        // A fork's MR run in the parent project has the parent's variables.
        let parent = ctx(&[
            ("CI_PIPELINE_SOURCE", "merge_request_event"),
            ("CI_MERGE_REQUEST_IID", "7"),
            ("CI_PROJECT_ID", "100"),
            ("CI_MERGE_REQUEST_PROJECT_ID", "100"),
            ("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "900"),
        ]);
        assert!(!parent.fork);
        // A missing IID still plans.
        let no_iid = ctx(&[("CI_PIPELINE_SOURCE", "merge_request_event")]);
        assert_eq!(
            mode(&no_iid, None),
            Mode::Review {
                number: 0,
                fork: false
            }
        );
    }
}
