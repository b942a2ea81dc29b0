//! GitHub deployments of pull-request previews (issue 14, items 4 and 5): a transient
//! environment `kestra-preview/pr-N` whose deployment links the preview namespace in the
//! Kestra UI, marked inactive when the preview is destroyed.
//!
//! - [`GithubClient::create_preview_deployment`]: `POST /repos/{o}/{r}/deployments` for the
//!   pull request's head commit (`required_contexts: []`: the PR's own check is still running
//!   and GitHub answers 409 otherwise; `auto_merge: false`; transient, not production), then
//!   `POST …/deployments/{id}/statuses` `success` with the preview's link (`environment_url`),
//!   the run (`log_url`) and `auto_inactive: true` (the environment's older deployments go
//!   inactive).
//! - [`GithubClient::deactivate_preview_deployments`]: the environment's deployments
//!   (`GET …/deployments?environment=…`, 100 a page, at most [`MAX_PAGES`] pages, newest
//!   first), each given an `inactive` status: GitHub shows a transient one as destroyed.
//!   They are not deleted: GitHub keeps the history of what was previewed, and a `DELETE`
//!   needs the same permission for nothing more a reviewer sees.
//!
//! A token that may not (401, 403, 404, "Resource not accessible by integration", the rate
//! limit) is [`DeploymentOutcome::Skipped`] with what to grant (`deployments: write`): never
//! a failed job. Any other answer is an error the caller shows as a warning. Writes are never
//! retried (the transport retries GETs only). Every string sent is ours or the run's
//! configuration (the Kestra URL, the namespace the template made): none comes from a pull
//! request's text.

use serde::Deserialize;

use crate::github_api::{message, next_link, path_of, refusal, GithubClient, GithubError, Refusal};

/// Pages of 100 deployments read at most when deactivating.
pub const MAX_PAGES: usize = 10;

/// Largest answer read from GitHub for a deployments request.
const MAX_ANSWER: usize = 4 << 20;

/// GitHub's limit on a deployment status description.
const MAX_DESCRIPTION: usize = 140;

/// The GitHub environment of pull request `number`'s preview.
pub fn environment(number: u64) -> String {
    format!("kestra-preview/pr-{number}")
}

/// A preview deployment to create.
#[derive(Debug, Clone)]
pub struct NewDeployment {
    /// `owner/name`.
    pub repository: String,
    /// The pull request's head commit.
    pub sha: String,
    pub number: u64,
    /// The preview namespace (for the description).
    pub namespace: String,
    /// The preview namespace in the Kestra UI.
    pub environment_url: String,
    /// The run that deployed it.
    pub log_url: Option<String>,
}

/// What became of the deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeploymentOutcome {
    /// Created with a `success` status.
    Created { id: u64, environment: String },
    /// `count` deployments of `environment` marked inactive (0: there were none).
    Deactivated { count: usize, environment: String },
    /// Nothing was done: the token may not; why and what to grant. `permission`: the token
    /// lacks `deployments: write` (403/404), rather than being refused or rate-limited.
    Skipped { reason: String, permission: bool },
}

#[derive(Deserialize)]
struct Id {
    id: u64,
}

impl GithubClient {
    /// Create the deployment of a preview and its `success` status (see the module docs).
    pub async fn create_preview_deployment(
        &self,
        d: &NewDeployment,
    ) -> Result<DeploymentOutcome, GithubError> {
        let (owner, repo) = crate::github_api::split_repository(&d.repository)?;
        if d.sha.len() < 40 || d.sha.len() > 64 || !d.sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(GithubError::Unexpected {
                method: "POST",
                path: format!("/repos/{owner}/{repo}/deployments"),
                why: format!(
                    "`{}` is not a commit sha (the pull request's head, or GITHUB_SHA)",
                    d.sha.escape_debug()
                ),
            });
        }
        let environment = environment(d.number);
        let path = format!("/repos/{owner}/{repo}/deployments");
        let payload = serde_json::json!({
            "ref": d.sha,
            "task": "deploy:kestra-preview",
            "environment": environment,
            "transient_environment": true,
            "production_environment": false,
            "auto_merge": false,
            "required_contexts": [],
            "description": short(&format!("Kestra preview of #{} in namespace {}", d.number, d.namespace)),
        });
        let a = self
            .send(
                http::Method::POST,
                &self.api_uri(&path),
                Some(&payload),
                MAX_ANSWER,
            )
            .await?;
        if let Some(skip) = refused(a.status, &a.headers, &a.body, "POST", &path)? {
            return Ok(skip);
        }
        if a.status != 201 {
            // 202: GitHub merged the default branch in first (never with auto_merge false)
            return Err(GithubError::Status {
                method: "POST",
                path,
                status: a.status,
                message: message(&a.body),
            });
        }
        let id = serde_json::from_slice::<Id>(&a.body)
            .map_err(|e| GithubError::Unexpected {
                method: "POST",
                path: path.clone(),
                why: e.to_string(),
            })?
            .id;
        let mut status = serde_json::json!({
            "state": "success",
            "environment_url": d.environment_url,
            "auto_inactive": true,
            "description": short(&format!("Preview namespace {}", d.namespace)),
        });
        if let Some(log) = &d.log_url {
            status["log_url"] = serde_json::json!(log);
        }
        if let Some(skip) = self.post_status(&path, id, &status).await? {
            return Ok(skip);
        }
        Ok(DeploymentOutcome::Created { id, environment })
    }

    /// POST `status` to deployment `id` (`deployments` is its collection's path); `Some`:
    /// the token was refused.
    async fn post_status(
        &self,
        deployments: &str,
        id: u64,
        status: &serde_json::Value,
    ) -> Result<Option<DeploymentOutcome>, GithubError> {
        let path = format!("{deployments}/{id}/statuses");
        let a = self
            .send(
                http::Method::POST,
                &self.api_uri(&path),
                Some(status),
                MAX_ANSWER,
            )
            .await?;
        refused(a.status, &a.headers, &a.body, "POST", &path)
    }

    /// Mark every deployment of pull request `number`'s preview environment inactive (see
    /// the module docs).
    pub async fn deactivate_preview_deployments(
        &self,
        repository: &str,
        number: u64,
        log_url: Option<&str>,
    ) -> Result<DeploymentOutcome, GithubError> {
        let (owner, repo) = crate::github_api::split_repository(repository)?;
        let environment = environment(number);
        let path = format!("/repos/{owner}/{repo}/deployments");
        let mut first =
            url::Url::parse(&self.api_uri(&path)).map_err(|e| GithubError::Unexpected {
                method: "GET",
                path: path.clone(),
                why: e.to_string(),
            })?;
        first
            .query_pairs_mut()
            .append_pair("environment", &environment)
            .append_pair("per_page", "100");
        let mut ids = Vec::new();
        let mut next = Some(first.to_string());
        let mut pages = 0;
        while let Some(uri) = next.take() {
            pages += 1;
            let a = self.get(&uri, MAX_ANSWER).await?;
            if let Some(skip) = refused(a.status, &a.headers, &a.body, "GET", &path)? {
                return Ok(skip);
            }
            let page: Vec<Id> =
                serde_json::from_slice(&a.body).map_err(|e| GithubError::Unexpected {
                    method: "GET",
                    path: path_of(&uri),
                    why: e.to_string(),
                })?;
            ids.extend(page.into_iter().map(|d| d.id));
            if pages >= MAX_PAGES {
                tracing::warn!(
                    "stopped listing the deployments of `{environment}` after {MAX_PAGES} pages: older ones keep their state"
                );
                break;
            }
            next = next_link(&a.headers)
                .filter(|n| url::Url::parse(n).is_ok_and(|u| u.origin() == self.base.origin()));
        }
        let mut status = serde_json::json!({
            "state": "inactive",
            "description": short(&format!("Preview of #{number} removed")),
        });
        if let Some(log) = log_url {
            status["log_url"] = serde_json::json!(log);
        }
        for &id in &ids {
            if let Some(skip) = self.post_status(&path, id, &status).await? {
                return Ok(skip);
            }
        }
        Ok(DeploymentOutcome::Deactivated {
            count: ids.len(),
            environment,
        })
    }
}

/// At most [`MAX_DESCRIPTION`] characters.
fn short(s: &str) -> String {
    s.chars().take(MAX_DESCRIPTION).collect()
}

/// `None`: 2xx. A refusal of the token (401, 403, 404, the rate limit): the skip with what
/// to grant. Anything else: the error.
fn refused(
    status: u16,
    headers: &http::HeaderMap,
    body: &[u8],
    method: &'static str,
    path: &str,
) -> Result<Option<DeploymentOutcome>, GithubError> {
    let Some((refusal, msg)) = refusal(status, headers, body, method, path)? else {
        return Ok(None);
    };
    let reason = match refusal {
        Refusal::RateLimited => format!(
            "the GitHub API rate limit of this token is used up ({msg}); the GitHub deployment was skipped"
        ),
        Refusal::BadToken => format!(
            "the GitHub token was refused (401 {msg}); the GitHub deployment was skipped: check GITHUB_TOKEN / KESTRA_SYNC_GITHUB_TOKEN"
        ),
        Refusal::NotAllowed => format!(
            "skipped: token lacks deployments: write ({status} {msg} to {method} {path}); grant the job `permissions: deployments: write` to link the preview from the pull request"
        ),
    };
    Ok(Some(DeploymentOutcome::Skipped {
        reason,
        permission: refusal == Refusal::NotAllowed,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_skip_naming_the_permission_and_other_answers_are_errors() {
        let h = http::HeaderMap::new();
        let body = br#"{"message":"Resource not accessible by integration"}"#;
        for status in [403, 404] {
            match refused(status, &h, body, "POST", "/repos/a/b/deployments").unwrap() {
                Some(DeploymentOutcome::Skipped { reason, permission }) => {
                    assert!(permission);
                    assert!(reason.contains("deployments: write"), "{reason}");
                    assert!(reason.contains("Resource not accessible"), "{reason}");
                }
                other => panic!("{status}: {other:?}"),
            }
        }
        assert!(refused(201, &h, b"{}", "POST", "/x").unwrap().is_none());
        let e = refused(409, &h, br#"{"message":"Conflict"}"#, "POST", "/x").unwrap_err();
        assert_eq!(e.status(), Some(409));
        let mut limited = http::HeaderMap::new();
        limited.insert("x-ratelimit-remaining", "0".parse().unwrap());
        match refused(403, &limited, b"{}", "GET", "/x").unwrap() {
            Some(DeploymentOutcome::Skipped { reason, permission }) => {
                assert!(!permission);
                assert!(reason.contains("rate limit"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn descriptions_fit_githubs_limit() {
        assert_eq!(short(&"é".repeat(200)).chars().count(), 140);
        assert_eq!(environment(7), "kestra-preview/pr-7");
    }
}
