//! GitHub: the one sticky plan comment on a pull request, through `octocrab` with the base
//! URL from `GITHUB_API_URL` (so GitHub Enterprise Server, `https://HOST/api/v3`, works).
//!
//! Finding our comment: we list the PR's comments (`per_page=100`, following `Link`), and a
//! comment is ours only when its body **starts with** the target's marker, at its very first
//! byte (a quote, a copy in a reply, or a marker pasted further down by a flow's text does
//! not count), **and** it was written by the identity that posts: the login `GET /user`
//! answers for a personal or user token; for the workflow's `GITHUB_TOKEN`, which GitHub
//! refuses `GET /user` (403, "Resource not accessible by integration"), exactly the user
//! `github-actions[bot]` of type `Bot`: another bot's comment (another tool, another app)
//! is never edited. With a GitHub App installation token (also refused `GET /user`), the
//! app's own earlier comments are therefore not recognised and a new comment is posted each
//! run: give a user token, or use `GITHUB_TOKEN`. The oldest such comment is updated in place, and
//! left alone when its body is already the one we would write. A token that may not comment
//! (a fork PR's read-only token, missing `pull-requests: write`, no token at all) is not an
//! error: the outcome is [`Posted::Skipped`] with the reason, so the step never fails
//! because of it.

pub use super::{Posted, Upserted};
pub(crate) use crate::github_api::{message, next_link, path_of, Answer};
pub use crate::github_api::{split_repository, GithubClient, GithubError, DEFAULT_API_URL};
use serde::Deserialize;

/// How many pages of 100 comments we read at most (a PR with 10,000 comments).
const MAX_PAGES: usize = 100;

/// A pull request (or issue): `owner/repo#number`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub owner: String,
    pub repo: String,
    pub number: u64,
}

impl Issue {
    /// From `GITHUB_REPOSITORY` (`owner/name`) and the PR number.
    pub fn new(repository: &str, number: u64) -> Result<Issue, GithubError> {
        let (owner, repo) = split_repository(repository)?;
        Ok(Issue {
            owner,
            repo,
            number,
        })
    }
}

#[derive(Debug, Deserialize)]
struct Comment {
    id: u64,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    user: Option<User>,
    #[serde(default)]
    html_url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct User {
    login: String,
    #[serde(rename = "type", default)]
    kind: String,
}

impl GithubClient {
    /// The login of the token's user (`GET /user`); `None` when GitHub refuses it with a 403,
    /// as it does for the workflow's `GITHUB_TOKEN` (and app installation tokens). Any other
    /// answer is an error: guessing "no login" would let the wrong comments count as ours.
    async fn login(&self) -> Result<Option<String>, Refused> {
        let uri = self.api_uri("/user");
        let a = self.get(&uri, 1 << 20).await.map_err(Refused::Error)?;
        match a.status {
            200 => serde_json::from_slice::<User>(&a.body)
                .map(|u| Some(u.login))
                .map_err(|e| {
                    Refused::Error(GithubError::Unexpected {
                        method: "GET",
                        path: path_of(&uri),
                        why: e.to_string(),
                    })
                }),
            401 => Err(Refused::Skip(skip_reason(401, &message(&a.body)))),
            403 if a
                .headers
                .get("x-ratelimit-remaining")
                .and_then(|v| v.to_str().ok())
                == Some("0") =>
            {
                check_status(&a, "GET", &uri).map(|_| None)
            }
            403 => Ok(None),
            status => Err(Refused::Error(GithubError::Status {
                method: "GET",
                path: path_of(&uri),
                status,
                message: message(&a.body),
            })),
        }
    }

    async fn comments(&self, issue: &Issue) -> Result<Vec<Comment>, Refused> {
        let first = self.api_uri(&format!(
            "/repos/{}/{}/issues/{}/comments?per_page=100",
            issue.owner, issue.repo, issue.number
        ));
        let mut next = Some(first);
        let mut all = Vec::new();
        let mut pages = 0;
        while let Some(uri) = next.take() {
            pages += 1;
            let a = self.get(&uri, 64 << 20).await.map_err(Refused::Error)?;
            check_status(&a, "GET", &uri)?;
            let page: Vec<Comment> = serde_json::from_slice(&a.body).map_err(|e| {
                Refused::Error(GithubError::Unexpected {
                    method: "GET",
                    path: path_of(&uri),
                    why: e.to_string(),
                })
            })?;
            all.extend(page);
            if pages >= MAX_PAGES {
                tracing::warn!("stopped reading PR comments after {MAX_PAGES} pages");
                break;
            }
            next = next_link(&a.headers).filter(|n| self.same_origin(n));
        }
        Ok(all)
    }

    fn same_origin(&self, uri: &str) -> bool {
        url::Url::parse(uri).is_ok_and(|u| u.origin() == self.base.origin())
    }

    /// Whether pull request `number` of `repository` (`owner/name`) is open
    /// (`GET /repos/{owner}/{repo}/pulls/{pull_number}`, `state` `open` or `closed`);
    /// `None` when GitHub has no such pull request (404).
    pub async fn pull_is_open(
        &self,
        repository: &str,
        number: u64,
    ) -> Result<Option<bool>, GithubError> {
        #[derive(Deserialize)]
        struct Pull {
            state: String,
        }
        let (owner, repo) = split_repository(repository)?;
        let path = format!("/repos/{owner}/{repo}/pulls/{number}");
        let a = self.get(&self.api_uri(&path), 1 << 20).await?;
        match a.status {
            200 => {
                let pull: Pull =
                    serde_json::from_slice(&a.body).map_err(|e| GithubError::Unexpected {
                        method: "GET",
                        path: path.clone(),
                        why: e.to_string(),
                    })?;
                Ok(Some(pull.state == "open"))
            }
            404 => Ok(None),
            status => Err(GithubError::Status {
                method: "GET",
                path,
                status,
                message: message(&a.body),
            }),
        }
    }

    /// The pull request that commit `sha` of `repository` merged: of the pull requests GitHub
    /// associates with the commit (`GET /repos/{owner}/{repo}/commits/{sha}/pulls`), the
    /// merged one whose merge commit is `sha`; `None` for a direct push.
    pub async fn merged_pull(
        &self,
        repository: &str,
        sha: &str,
    ) -> Result<Option<u64>, GithubError> {
        #[derive(Deserialize)]
        struct Pull {
            number: u64,
            #[serde(default)]
            merged_at: Option<String>,
            #[serde(default)]
            merge_commit_sha: Option<String>,
        }
        let issue = Issue::new(repository, 1)?;
        let unexpected = |path: String, why: String| GithubError::Unexpected {
            method: "GET",
            path,
            why,
        };
        if sha.len() < 40 || sha.len() > 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(unexpected(
                "/repos/…/commits/…/pulls".into(),
                format!("`{}` is not a commit sha", sha.escape_debug()),
            ));
        }
        let uri = self.api_uri(&format!(
            "/repos/{}/{}/commits/{sha}/pulls?per_page=100",
            issue.owner, issue.repo
        ));
        let a = self.get(&uri, 16 << 20).await?;
        if !(200..300).contains(&a.status) {
            return Err(GithubError::Status {
                method: "GET",
                path: path_of(&uri),
                status: a.status,
                message: message(&a.body),
            });
        }
        let pulls: Vec<Pull> = serde_json::from_slice(&a.body)
            .map_err(|e| unexpected(path_of(&uri), e.to_string()))?;
        Ok(pulls
            .iter()
            .find(|p| {
                p.merged_at.is_some()
                    && p.merge_commit_sha
                        .as_deref()
                        .is_some_and(|m| m.eq_ignore_ascii_case(sha))
            })
            .map(|p| p.number))
    }

    /// The body of our comment carrying `marker` on `issue` (found as [`Self::upsert_comment`]
    /// finds it: written by this token's identity), if there is one.
    pub async fn our_comment(
        &self,
        issue: &Issue,
        marker: &str,
    ) -> Result<Option<String>, GithubError> {
        let found = async {
            let login = self.login().await?;
            let comments = self.comments(issue).await?;
            Ok::<_, Refused>(
                find_ours(&comments, marker, login.as_deref()).and_then(|c| c.body.clone()),
            )
        };
        match found.await {
            Ok(body) => Ok(body),
            Err(Refused::Error(e)) => Err(e),
            // refused access (401/403/404, or the rate limit): a 403 carrying the reason
            Err(Refused::Skip(reason)) => Err(GithubError::Status {
                method: "GET",
                path: format!(
                    "/repos/{}/{}/issues/{}/comments",
                    issue.owner, issue.repo, issue.number
                ),
                status: 403,
                message: reason,
            }),
        }
    }

    /// Create or update the one comment of `marker` on `issue` with `body` (which must start
    /// with `marker`). See the module docs for how the comment is found.
    pub async fn upsert_comment(
        &self,
        issue: &Issue,
        marker: &str,
        body: &str,
    ) -> Result<Posted, GithubError> {
        self.upsert_sticky(issue, marker, |_| body.to_string())
            .await
            .map(|u| u.posted)
    }

    /// [`Self::upsert_comment`] with the body made from what our comment said before
    /// (`None`: there is none yet), found as it finds it; also returns that previous body
    /// and the comment's `html_url`. A skip has neither.
    pub async fn upsert_sticky(
        &self,
        issue: &Issue,
        marker: &str,
        body: impl FnOnce(Option<&str>) -> String,
    ) -> Result<Upserted, GithubError> {
        let skipped = |reason: String| Upserted {
            posted: Posted::Skipped { reason },
            previous: None,
            url: None,
        };
        match self.upsert(issue, marker, true, body).await {
            Ok(Some(o)) => Ok(o),
            // `create` makes one: never reached
            Ok(None) => Ok(skipped("no comment was written".into())),
            Err(Refused::Skip(reason)) => Ok(skipped(reason)),
            Err(Refused::Error(e)) => Err(e),
        }
    }

    /// Edit our comment carrying `marker` on `issue` (found as [`Self::upsert_comment`]
    /// finds it) so that it reads `body(what it says now)`; never creates one: `Ok(None)`
    /// when there is none. An unchanged body writes nothing; a refusal is a skip.
    pub async fn edit_sticky(
        &self,
        issue: &Issue,
        marker: &str,
        body: impl FnOnce(&str) -> String,
    ) -> Result<Option<Upserted>, GithubError> {
        let body = |previous: Option<&str>| body(previous.unwrap_or_default());
        match self.upsert(issue, marker, false, body).await {
            Ok(o) => Ok(o),
            Err(Refused::Skip(reason)) => Ok(Some(Upserted {
                posted: Posted::Skipped { reason },
                previous: None,
                url: None,
            })),
            Err(Refused::Error(e)) => Err(e),
        }
    }

    /// Post a new comment on `issue` (never looked for again: the short note that the plan
    /// got riskier). A token that may not comment is a skip, as for the sticky one.
    pub async fn create_comment(&self, issue: &Issue, body: &str) -> Result<Posted, GithubError> {
        let payload = serde_json::json!({ "body": body });
        match self.create(issue, &payload).await {
            Ok(c) => Ok(Posted::Created { id: c.id }),
            Err(Refused::Skip(reason)) => Ok(Posted::Skipped { reason }),
            Err(Refused::Error(e)) => Err(e),
        }
    }

    /// Find our comment and write `body` into it; without one, create it when `create`,
    /// else write nothing and answer `None` (`body` is not called).
    async fn upsert(
        &self,
        issue: &Issue,
        marker: &str,
        create: bool,
        body: impl FnOnce(Option<&str>) -> String,
    ) -> Result<Option<Upserted>, Refused> {
        let login = self.login().await?;
        let comments = self.comments(issue).await?;
        let found = find_ours(&comments, marker, login.as_deref());
        if found.is_none() && !create {
            return Ok(None);
        }
        let previous = found.and_then(|c| c.body.clone());
        let body = body(previous.as_deref());
        let payload = serde_json::json!({ "body": body });
        let (posted, url) = match found {
            Some(c) if same_body(c.body.as_deref().unwrap_or_default(), &body) => {
                (Posted::Unchanged { id: c.id }, c.html_url.clone())
            }
            Some(c) => {
                let uri = self.api_uri(&format!(
                    "/repos/{}/{}/issues/comments/{}",
                    issue.owner, issue.repo, c.id
                ));
                let a = self
                    .send(http::Method::PATCH, &uri, Some(&payload), 1 << 20)
                    .await
                    .map_err(Refused::Error)?;
                check_status(&a, "PATCH", &uri)?;
                let url = serde_json::from_slice::<Comment>(&a.body)
                    .ok()
                    .and_then(|c| c.html_url)
                    .or_else(|| c.html_url.clone());
                (Posted::Updated { id: c.id }, url)
            }
            None => {
                let c = self.create(issue, &payload).await?;
                (Posted::Created { id: c.id }, c.html_url)
            }
        };
        Ok(Some(Upserted {
            posted,
            previous,
            url,
        }))
    }

    /// `POST` a new comment; the comment GitHub answers with.
    async fn create(&self, issue: &Issue, payload: &serde_json::Value) -> Result<Comment, Refused> {
        let uri = self.api_uri(&format!(
            "/repos/{}/{}/issues/{}/comments",
            issue.owner, issue.repo, issue.number
        ));
        let a = self
            .send(http::Method::POST, &uri, Some(payload), 1 << 20)
            .await
            .map_err(Refused::Error)?;
        check_status(&a, "POST", &uri)?;
        serde_json::from_slice::<Comment>(&a.body).map_err(|e| {
            Refused::Error(GithubError::Unexpected {
                method: "POST",
                path: path_of(&uri),
                why: e.to_string(),
            })
        })
    }
}

/// Either "skip with this reason" or a real error.
enum Refused {
    Skip(String),
    Error(GithubError),
}

/// 2xx passes; 401/403/404 become a skip with the reason; anything else is an error.
fn check_status(a: &Answer, method: &'static str, uri: &str) -> Result<(), Refused> {
    if (200..300).contains(&a.status) {
        return Ok(());
    }
    let msg = message(&a.body);
    if a.status == 403
        && a.headers
            .get("x-ratelimit-remaining")
            .and_then(|v| v.to_str().ok())
            == Some("0")
    {
        return Err(Refused::Skip(format!(
            "the GitHub API rate limit of this token is used up ({msg}); the plan comment was not posted. It is in the job summary"
        )));
    }
    if matches!(a.status, 401 | 403 | 404) {
        return Err(Refused::Skip(skip_reason(a.status, &msg)));
    }
    Err(Refused::Error(GithubError::Status {
        method,
        path: path_of(uri),
        status: a.status,
        message: msg,
    }))
}

/// Why the comment was not written, and what to do.
fn skip_reason(status: u16, msg: &str) -> String {
    match status {
        401 => format!("the GitHub token was refused (401 {msg}): check the `github-token` input; the plan comment was not posted, it is in the job summary"),
        404 => format!("GitHub answered 404 ({msg}) for the pull request's comments: the token cannot see this repository or pull request; the plan comment was not posted, it is in the job summary"),
        _ => format!(
            "the token may not comment on this pull request ({status} {msg}). On a pull request from a fork GitHub gives the workflow a read-only token; otherwise grant `permissions: pull-requests: write` to the job. To comment on fork pull requests, use the `workflow_run` pattern (docs/forks.md). The plan is in the job summary"
        ),
    }
}

/// The author of the workflow's `GITHUB_TOKEN` comments.
pub const ACTIONS_BOT: &str = "github-actions[bot]";

/// Ours: body starts with `marker` at its first byte, written by `login` when known, else by
/// exactly [`ACTIONS_BOT`]; oldest first.
fn find_ours<'a>(
    comments: &'a [Comment],
    marker: &str,
    login: Option<&str>,
) -> Option<&'a Comment> {
    comments.iter().find(|c| {
        let starts = c.body.as_deref().is_some_and(|b| b.starts_with(marker));
        let by_us = match (&c.user, login) {
            (Some(u), Some(login)) => u.login.eq_ignore_ascii_case(login),
            (Some(u), None) => u.login == ACTIONS_BOT && u.kind == "Bot",
            (None, _) => false,
        };
        starts && by_us
    })
}

/// Bodies compare equal across line-ending and trailing-space differences.
fn same_body(stored: &str, ours: &str) -> bool {
    stored.replace("\r\n", "\n").trim_end() == ours.replace("\r\n", "\n").trim_end()
}

#[cfg(test)]
#[path = "github_tests.rs"]
mod tests;
