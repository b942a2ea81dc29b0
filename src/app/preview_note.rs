//! The **Preview** section of the plan comment (GitHub) or note (GitLab), written by
//! `kestra-sync preview apply | destroy | sweep` when they run in a job of their own (GitHub
//! `preview.yml`, the GitLab template's stop job, a schedule): GitLab runs no merge request
//! pipeline when a merge request closes, so its stop job is the only one that can say the
//! preview was removed.
//!
//! It is the section `kestra-sync ci` writes ([`crate::render::preview`]), spliced the same
//! way ([`super::preview_ci::with_section`]: the rest of the comment, plan lock included,
//! byte for byte) into the same sticky comment, found the same way: its target's marker at
//! the very first byte, written by the token's own identity. It is **never a new comment**:
//! without a plan comment of ours on the request there is nothing to update. A forge that
//! cannot be written (no token, GitLab's `CI_JOB_TOKEN` only, a refusal, a failure) is a
//! warning in the log, never a failed command: the preview itself is what was asked for.
//!
//! Where: GitHub when `GITHUB_REPOSITORY` is set (API `GITHUB_API_URL`, token
//! `KESTRA_SYNC_GITHUB_TOKEN` or `GITHUB_TOKEN`), pull request N; else GitLab when
//! `CI_PROJECT_ID` is (API `CI_API_V4_URL`, token `GITLAB_TOKEN`), merge request iid N; else
//! (a terminal) nothing is tried and nothing is said.

use std::cell::Cell;

use secrecy::SecretString;

use super::preview::Forge;
use super::preview_ci::with_section;
use crate::forge::github::Issue;
use crate::forge::gitlab::{GitLabNotes, MergeRequest, TOKEN_HELP};
use crate::forge::Posted;
use crate::github_api::GithubClient;
use crate::render::markdown;
use crate::render::preview::{self as section, Section};
use crate::settings::Settings;

/// What became of the Preview section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Noted {
    /// Neither on GitHub nor on GitLab: nothing tried.
    NotHere,
    Updated {
        id: u64,
    },
    /// It already said exactly this: nothing written.
    Unchanged {
        id: u64,
    },
    /// No plan comment of ours on the request: nothing written.
    NoComment,
    /// The comment has no room left for the section: left as it is.
    NoRoom {
        id: u64,
    },
    /// Not updated, and why (no token, a refusal, a failure).
    NotUpdated(String),
}

/// Where request `number` lives, for the log: `("merge request !42", "note")`.
fn names(forge: &Forge, number: u64) -> (String, &'static str) {
    match forge {
        Forge::GitHub { .. } => (format!("pull request #{number}"), "comment"),
        Forge::GitLab(_) => (format!("merge request !{number}"), "note"),
    }
}

impl Noted {
    /// The line for the log, and whether it is a warning; `None`: nothing to say.
    pub fn line(&self, request: &str, noun: &str) -> Option<(bool, String)> {
        Some(match self {
            Noted::NotHere => return None,
            Noted::Updated { id } => (
                false,
                format!("Preview section of the plan {noun} on {request} updated ({noun} {id})"),
            ),
            Noted::Unchanged { id } => (
                false,
                format!(
                    "Preview section of the plan {noun} on {request} already up to date ({noun} {id})"
                ),
            ),
            Noted::NoComment => (
                false,
                format!(
                    "no plan {noun} of this target on {request} (`kestra-sync ci` posts it): no Preview section to update, and no new {noun} is posted just for it"
                ),
            ),
            Noted::NoRoom { id } => (
                true,
                format!(
                    "the plan {noun} on {request} ({noun} {id}) has no room left for the Preview section: it was left as it was"
                ),
            ),
            Noted::NotUpdated(why) => (
                true,
                format!("the Preview section of the plan {noun} on {request} was not updated: {why}"),
            ),
        })
    }
}

/// A variable's value, `None` when unset or blank.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Where the plan comments live, from the environment: `Ok(None)` on neither GitHub nor
/// GitLab; `Err(why)` when on one of them but its comments cannot be written (no token, no
/// API URL, a client that cannot be made).
pub fn forge(settings: &Settings) -> Result<Option<Forge>, String> {
    if let Some(repository) = var("GITHUB_REPOSITORY") {
        let token = settings
            .ci
            .github_token
            .clone()
            .or_else(|| {
                var("KESTRA_SYNC_GITHUB_TOKEN")
                    .or_else(|| var("GITHUB_TOKEN"))
                    .map(SecretString::from)
            })
            .ok_or("no GitHub token: set KESTRA_SYNC_GITHUB_TOKEN or GITHUB_TOKEN (permissions: `pull-requests: write`)")?;
        let api =
            var("GITHUB_API_URL").unwrap_or_else(|| crate::github_api::DEFAULT_API_URL.into());
        let client =
            GithubClient::with_options(&api, &token, &settings.http).map_err(|e| e.to_string())?;
        return Ok(Some(Forge::GitHub { client, repository }));
    }
    let Some(project) = var("CI_PROJECT_ID") else {
        return Ok(None);
    };
    let api_url = var("CI_API_V4_URL").ok_or(
        "CI_API_V4_URL is not set: run inside GitLab CI, or set it to https://<gitlab host>/api/v4",
    )?;
    let token = settings
        .ci
        .gitlab_token
        .clone()
        .or_else(|| var("GITLAB_TOKEN").map(SecretString::from));
    let Some(token) = token else {
        let which = if var("CI_JOB_TOKEN").is_some() {
            "only CI_JOB_TOKEN is available (GITLAB_TOKEN is not set), and it cannot write notes"
        } else {
            "GITLAB_TOKEN is not set"
        };
        return Err(format!("{which}: {TOKEN_HELP}"));
    };
    let mr = MergeRequest {
        api_url,
        project,
        iid: 0,
    };
    let notes =
        GitLabNotes::with_options(mr, Some(token), &settings.http).map_err(|e| e.to_string())?;
    Ok(Some(Forge::GitLab(notes)))
}

/// The section `s` as [`update`] takes it: in full, and short (for a comment with little
/// room left).
pub fn rendered(s: &Section<'_>) -> (String, String) {
    (section::render(s, true), section::render(s, false))
}

/// Make the Preview section of request `number`'s plan comment on `forge` read `full` (or
/// `short`, when `full` does not fit), in one read and (when it changes) one write; never
/// a new comment.
pub async fn update(
    forge: &Forge,
    settings: &Settings,
    number: u64,
    full: &str,
    short: &str,
) -> Noted {
    let server = match settings.server() {
        Ok(server) => server,
        Err(e) => return Noted::NotUpdated(e.to_string()),
    };
    let marker = markdown::marker(&settings.scope.namespace, &server.url);
    let limit = match forge {
        Forge::GitHub { .. } => markdown::GITHUB_COMMENT_LIMIT,
        Forge::GitLab(_) => markdown::GITLAB_NOTE_LIMIT,
    };
    let no_room = Cell::new(false);
    let body = |previous: &str| {
        with_section(previous, full, short, limit).unwrap_or_else(|| {
            // an unchanged body writes nothing
            no_room.set(true);
            previous.to_string()
        })
    };
    let written = match forge {
        Forge::GitHub { client, repository } => match Issue::new(repository, number) {
            Ok(issue) => client
                .edit_sticky(&issue, &marker, body)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        },
        Forge::GitLab(notes) => notes
            .for_merge_request(number)
            .edit_sticky(&marker, body)
            .await
            .map_err(|e| e.to_string()),
    };
    match written {
        Ok(None) => Noted::NoComment,
        Ok(Some(u)) => match u.posted {
            Posted::Unchanged { id } if no_room.get() => Noted::NoRoom { id },
            Posted::Unchanged { id } => Noted::Unchanged { id },
            Posted::Updated { id } | Posted::Created { id } => Noted::Updated { id },
            Posted::Skipped { reason } => Noted::NotUpdated(reason),
        },
        Err(e) => Noted::NotUpdated(e),
    }
}

/// [`update`] from the environment ([`forge`]), with the log's line for it.
pub async fn update_from_env(
    settings: &Settings,
    number: u64,
    full: &str,
    short: &str,
) -> Option<(bool, String)> {
    let (noted, request, noun) = match forge(settings) {
        Ok(None) => return None,
        Ok(Some(f)) => {
            let (request, noun) = names(&f, number);
            (
                update(&f, settings, number, full, short).await,
                request,
                noun,
            )
        }
        Err(why) => {
            let (request, noun) = if var("GITHUB_REPOSITORY").is_some() {
                (format!("pull request #{number}"), "comment")
            } else {
                (format!("merge request !{number}"), "note")
            };
            (Noted::NotUpdated(why), request, noun)
        }
    };
    noted.line(&request, noun)
}

/// [`update`] on the `forge` a sweep already has, with the log's line for it.
pub async fn update_on(
    forge: &Forge,
    settings: &Settings,
    number: u64,
    full: &str,
    short: &str,
) -> Option<(bool, String)> {
    let (request, noun) = names(forge, number);
    update(forge, settings, number, full, short)
        .await
        .line(&request, noun)
}
