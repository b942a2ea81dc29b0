//! The GitHub deployment of a preview, from a run's environment: after a preview apply, a
//! deployment of the pull request's head commit to `kestra-preview/pr-N` linking the preview
//! namespace in the Kestra UI; after a destroy, that environment's deployments marked
//! inactive ([`crate::forge::deployments`]). Only on GitHub with a token
//! (`GITHUB_REPOSITORY`, `KESTRA_SYNC_GITHUB_TOKEN` or `GITHUB_TOKEN`); elsewhere nothing is
//! done. A refusal or any failure is a warning for the caller to print: a preview never
//! fails because of its deployment.

use secrecy::SecretString;

use crate::forge::deployments::{DeploymentOutcome, NewDeployment};
use crate::github_api::GithubClient;
use crate::http::HttpOptions;

/// Where deployments go: the repository, the client, the commit and the run.
pub struct Github {
    pub client: GithubClient,
    /// `owner/name`.
    pub repository: String,
    /// The pull request's head commit (from the event when it is request `number`'s), else
    /// `GITHUB_SHA`.
    pub sha: Option<String>,
    /// `{server}/{repository}/actions/runs/{id}`.
    pub log_url: Option<String>,
}

/// What the deployment step did, for the log and the comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Not on GitHub, or no token: nothing to do.
    NotOnGithub,
    Done(DeploymentOutcome),
    /// A failure: the preview itself stands.
    Failed(String),
}

impl Step {
    /// One line for people: what became of the deployment; `None` when nothing was tried.
    pub fn line(&self) -> Option<String> {
        match self {
            Step::NotOnGithub => None,
            Step::Done(DeploymentOutcome::Created { id, environment }) => Some(format!(
                "GitHub deployment {id} to `{environment}`: success, linking the preview"
            )),
            Step::Done(DeploymentOutcome::Deactivated { count, environment }) => Some(format!(
                "GitHub deployments of `{environment}` marked inactive: {count}"
            )),
            Step::Done(DeploymentOutcome::Skipped { reason, .. }) => {
                Some(format!("GitHub deployment {reason}"))
            }
            Step::Failed(why) => Some(format!(
                "GitHub deployment failed (the preview stands): {why}"
            )),
        }
    }

    /// The outcome in the tool's own words only (no text from GitHub): for the comment.
    pub fn short(&self) -> Option<String> {
        match self {
            Step::NotOnGithub => None,
            Step::Done(DeploymentOutcome::Created { environment, .. }) => {
                Some(format!("`{environment}`, active"))
            }
            Step::Done(DeploymentOutcome::Deactivated { environment, .. }) => {
                Some(format!("`{environment}`, inactive"))
            }
            Step::Done(DeploymentOutcome::Skipped {
                permission: true, ..
            }) => Some("skipped: token lacks `deployments: write`".into()),
            Step::Done(DeploymentOutcome::Skipped { .. }) => {
                Some("skipped: the token was refused (see the job log)".into())
            }
            Step::Failed(_) => Some("failed (see the job log)".into()),
        }
    }

    /// The step of a deployment call's result.
    pub fn of(result: Result<DeploymentOutcome, crate::github_api::GithubError>) -> Step {
        match result {
            Ok(o) => Step::Done(o),
            Err(e) => Step::Failed(e.to_string()),
        }
    }

    /// Whether the line is a warning (skipped or failed).
    pub fn is_warning(&self) -> bool {
        matches!(
            self,
            Step::Failed(_) | Step::Done(DeploymentOutcome::Skipped { .. })
        )
    }
}

/// The GitHub side of the run from the environment, for request `number`: `None` when not
/// on GitHub (`GITHUB_REPOSITORY` unset) or without a token (`token`, the run's
/// `github-token` when it has one, else `KESTRA_SYNC_GITHUB_TOKEN` or `GITHUB_TOKEN`);
/// `Err` when the client cannot be made (a bad `GITHUB_API_URL` or token: a warning).
pub fn from_env(
    number: u64,
    http: &HttpOptions,
    token: Option<&SecretString>,
) -> Option<Result<Github, String>> {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
    let repository = var("GITHUB_REPOSITORY")?;
    let token = match token {
        Some(t) => t.clone(),
        None => var("KESTRA_SYNC_GITHUB_TOKEN")
            .or_else(|| var("GITHUB_TOKEN"))
            .map(SecretString::from)?,
    };
    let api = var("GITHUB_API_URL").unwrap_or_else(|| crate::github_api::DEFAULT_API_URL.into());
    let client = match GithubClient::with_options(&api, &token, http) {
        Ok(c) => c,
        Err(e) => return Some(Err(e.to_string())),
    };
    // The event's head commit when the event is this pull request's, else GITHUB_SHA.
    let (sha, log_url) = match crate::ci::github::context() {
        Ok(ctx) => {
            let sha = match &ctx.event {
                crate::ci::github::Event::PullRequest {
                    number: n,
                    head_sha,
                    ..
                } if *n == number && !head_sha.is_empty() => head_sha.clone(),
                _ => ctx.sha.clone(),
            };
            (Some(sha).filter(|s| !s.is_empty()), ctx.job_url)
        }
        Err(_) => (var("GITHUB_SHA"), None),
    };
    Some(Ok(Github {
        client,
        repository,
        sha,
        log_url,
    }))
}

/// The deployment of a preview just applied: `namespace` is its root, `url` its page in the
/// Kestra UI.
pub async fn created(gh: &Github, number: u64, namespace: &str, url: &str) -> Step {
    let Some(sha) = &gh.sha else {
        return Step::Failed(
            "no commit to deploy: the event has no pull request head and GITHUB_SHA is unset"
                .into(),
        );
    };
    let d = NewDeployment {
        repository: gh.repository.clone(),
        sha: sha.clone(),
        number,
        namespace: namespace.to_string(),
        environment_url: url.to_string(),
        log_url: gh.log_url.clone(),
    };
    Step::of(gh.client.create_preview_deployment(&d).await)
}

/// The deployments of a destroyed preview, marked inactive.
pub async fn destroyed(gh: &Github, number: u64) -> Step {
    Step::of(
        gh.client
            .deactivate_preview_deployments(&gh.repository, number, gh.log_url.as_deref())
            .await,
    )
}

/// After a preview apply: the deployment of request `number`'s preview `namespace`, whose
/// page in the Kestra UI is `url` (`token`: see [`from_env`]).
pub async fn after_apply(
    number: u64,
    namespace: &str,
    url: &str,
    http: &HttpOptions,
    token: Option<&SecretString>,
) -> Step {
    match from_env(number, http, token) {
        None => Step::NotOnGithub,
        Some(Err(e)) => Step::Failed(e),
        Some(Ok(gh)) => created(&gh, number, namespace, url).await,
    }
}

/// After a preview destroy: request `number`'s deployments marked inactive (`token`: see
/// [`from_env`]).
pub async fn after_destroy(number: u64, http: &HttpOptions, token: Option<&SecretString>) -> Step {
    match from_env(number, http, token) {
        None => Step::NotOnGithub,
        Some(Err(e)) => Step::Failed(e),
        Some(Ok(gh)) => destroyed(&gh, number).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_comments_words_never_carry_githubs_text() {
        let hostile = "Resource not accessible by integration <img src=x> @team".to_string();
        let cases = [
            (
                Step::Done(DeploymentOutcome::Skipped {
                    reason: hostile.clone(),
                    permission: true,
                }),
                "skipped: token lacks `deployments: write`",
            ),
            (
                Step::Done(DeploymentOutcome::Skipped {
                    reason: hostile.clone(),
                    permission: false,
                }),
                "skipped: the token was refused (see the job log)",
            ),
            (Step::Failed(hostile.clone()), "failed (see the job log)"),
            (
                Step::Done(DeploymentOutcome::Created {
                    id: 1,
                    environment: "kestra-preview/pr-7".into(),
                }),
                "`kestra-preview/pr-7`, active",
            ),
        ];
        for (step, want) in cases {
            assert_eq!(step.short().as_deref(), Some(want));
        }
        assert_eq!(Step::NotOnGithub.short(), None);
        assert_eq!(Step::NotOnGithub.line(), None);
        assert!(Step::Failed(hostile).is_warning());
    }
}
