//! The optional PR/MR labels (`labels: true`): exactly one of [`Label::NoChanges`],
//! [`Label::Changes`], [`Label::Deletes`] on a reviewed request, or none of them when its plan
//! failed. The names are ours (constants), never built from any text a request or a server
//! controls. What to add and what to remove ([`change`]) is decided here, once; GitHub's side
//! is below (`impl GithubClient`), GitLab's in `forge::gitlab::labels`.
//!
//! GitHub: the request's labels are read (`GET …/issues/{n}/labels`, 100 a page, at most
//! [`MAX_PAGES`] pages, each answer read within 1 MiB), the wanted one is added when missing
//! (`POST …/issues/{n}/labels`; GitHub creates a label the repository lacks) and the other two
//! are removed only when present (`DELETE …/issues/{n}/labels/{name}`; a 404 there means
//! already gone). Nothing is written when the labels are already right. A token that may not
//! (401/403/404, the rate limit) is [`Labeled::Skipped`] with what to grant: never a failed
//! job. Writes are never retried (the transport retries GETs only).

use serde::Deserialize;

use crate::github_api::{next_link, refusal, GithubClient, GithubError, Refusal};

use super::github::Issue;

/// The one label a plan gives its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// The plan changes nothing.
    NoChanges,
    /// The plan adds or updates, and deletes nothing.
    Changes,
    /// The plan deletes at least one flow or namespace file (wins over changes).
    Deletes,
}

impl Label {
    /// Every label kestra-sync manages.
    pub const ALL: [Label; 3] = [Label::NoChanges, Label::Changes, Label::Deletes];

    /// The label's name on the forge.
    pub fn name(self) -> &'static str {
        match self {
            Label::NoChanges => "kestra-sync:no-changes",
            Label::Changes => "kestra-sync:changes",
            Label::Deletes => "kestra-sync:deletes",
        }
    }
}

/// What to do to a request's labels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    pub add: Option<Label>,
    pub remove: Vec<Label>,
}

impl Change {
    pub fn is_empty(&self) -> bool {
        self.add.is_none() && self.remove.is_empty()
    }
}

/// From the request's `current` labels to `wanted` (`None`: none of ours, after a failed
/// plan): add `wanted` when missing, remove every other label of ours that is present.
/// Labels that are not ours are never touched. GitHub and GitLab compare label names
/// case-insensitively.
pub fn change<S: AsRef<str>>(current: &[S], wanted: Option<Label>) -> Change {
    let has = |l: Label| {
        current
            .iter()
            .any(|c| c.as_ref().eq_ignore_ascii_case(l.name()))
    };
    Change {
        add: wanted.filter(|w| !has(*w)),
        remove: Label::ALL
            .into_iter()
            .filter(|l| Some(*l) != wanted && has(*l))
            .collect(),
    }
}

/// What became of the labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Labeled {
    /// The request's labels are as wanted; `change` is what was sent (empty: nothing).
    Done { change: Change },
    /// Nothing was changed (no token, a token that may not, a fork): why and what to do, a
    /// warning, never a failed job.
    Skipped { reason: String },
}

/// Pages of 100 labels read at most.
pub const MAX_PAGES: usize = 10;

/// Largest answer read from GitHub for a labels request.
const MAX_ANSWER: usize = 1 << 20;

#[derive(Deserialize)]
struct Named {
    name: String,
}

impl GithubClient {
    /// Make our labels on `issue` say `wanted` (see the module docs).
    pub async fn set_labels(
        &self,
        issue: &Issue,
        wanted: Option<Label>,
    ) -> Result<Labeled, GithubError> {
        let base = format!(
            "/repos/{}/{}/issues/{}/labels",
            issue.owner, issue.repo, issue.number
        );
        let mut current = Vec::new();
        let mut next = Some(self.api_uri(&format!("{base}?per_page=100")));
        let mut pages = 0;
        while let Some(uri) = next.take() {
            pages += 1;
            let a = self.get(&uri, MAX_ANSWER).await?;
            if let Some(skip) = refused(a.status, &a.headers, &a.body, "GET", &base)? {
                return Ok(skip);
            }
            let page: Vec<Named> =
                serde_json::from_slice(&a.body).map_err(|e| GithubError::Unexpected {
                    method: "GET",
                    path: base.clone(),
                    why: e.to_string(),
                })?;
            current.extend(page.into_iter().map(|l| l.name));
            if pages >= MAX_PAGES {
                break;
            }
            next = next_link(&a.headers)
                .filter(|n| url::Url::parse(n).is_ok_and(|u| u.origin() == self.base.origin()));
        }
        let change = change(&current, wanted);
        if let Some(add) = change.add {
            let payload = serde_json::json!({ "labels": [add.name()] });
            let a = self
                .send(
                    http::Method::POST,
                    &self.api_uri(&base),
                    Some(&payload),
                    MAX_ANSWER,
                )
                .await?;
            if let Some(skip) = refused(a.status, &a.headers, &a.body, "POST", &base)? {
                return Ok(skip);
            }
        }
        for l in &change.remove {
            let path = format!("{base}/{}", l.name());
            let a = self
                .send(http::Method::DELETE, &self.api_uri(&path), None, MAX_ANSWER)
                .await?;
            // 404: the label is already gone (removed meanwhile by someone else)
            if a.status == 404 {
                continue;
            }
            if let Some(skip) = refused(a.status, &a.headers, &a.body, "DELETE", &path)? {
                return Ok(skip);
            }
        }
        Ok(Labeled::Done { change })
    }
}

/// `None`: 2xx. A refusal of the token (401, 403, 404, the rate limit): the skip with what
/// to do. Anything else: the error.
fn refused(
    status: u16,
    headers: &http::HeaderMap,
    body: &[u8],
    method: &'static str,
    path: &str,
) -> Result<Option<Labeled>, GithubError> {
    let Some((refusal, msg)) = refusal(status, headers, body, method, path)? else {
        return Ok(None);
    };
    let reason = match refusal {
        Refusal::RateLimited => format!(
            "the GitHub API rate limit of this token is used up ({msg}); the labels were not changed"
        ),
        Refusal::BadToken => format!(
            "the GitHub token was refused (401 {msg}): check the `github-token` input; the labels were not changed"
        ),
        Refusal::NotAllowed => format!(
            "the token may not label this pull request ({status} {msg} to {method} {path}): grant the job `permissions: pull-requests: write` (or `issues: write`) to use `labels: true`; the labels were not changed"
        ),
    };
    Ok(Some(Labeled::Skipped { reason }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_label_wanted_and_only_present_ones_removed() {
        use Label::*;
        let none: [&str; 0] = [];
        assert_eq!(
            change(&none, Some(NoChanges)),
            Change {
                add: Some(NoChanges),
                remove: vec![]
            }
        );
        assert_eq!(
            change(&["bug", "kestra-sync:no-changes"], Some(Deletes)),
            Change {
                add: Some(Deletes),
                remove: vec![NoChanges]
            }
        );
        // already right: nothing to send
        assert!(change(&["Kestra-Sync:Changes", "wip"], Some(Changes)).is_empty());
        // a failed plan: every label of ours goes, others stay
        assert_eq!(
            change(
                &[
                    "kestra-sync:changes",
                    "kestra-sync:deletes",
                    "kestra-sync:x"
                ],
                None
            ),
            Change {
                add: None,
                remove: vec![Changes, Deletes]
            }
        );
        assert!(change(&["kestra-sync:x"], None).is_empty());
    }

    #[test]
    fn refusals_are_skips_that_say_what_to_grant_and_the_rest_are_errors() {
        let body = br#"{"message":"Resource not accessible by integration"}"#;
        let none = http::HeaderMap::new();
        let skip = |status, headers: &http::HeaderMap| match refused(
            status,
            headers,
            body,
            "POST",
            "/repos/a/b/issues/7/labels",
        ) {
            Ok(Some(Labeled::Skipped { reason })) => reason,
            other => panic!("{status}: {other:?}"),
        };
        assert!(matches!(refused(200, &none, b"[]", "GET", "/x"), Ok(None)));
        let r = skip(403, &none);
        assert!(
            r.contains("grant the job `permissions: pull-requests: write` (or `issues: write`)"),
            "{r}"
        );
        assert!(skip(404, &none).contains("pull-requests: write"));
        assert!(skip(401, &none).contains("check the `github-token` input"));
        let mut limited = http::HeaderMap::new();
        limited.insert("x-ratelimit-remaining", http::HeaderValue::from_static("0"));
        assert!(skip(403, &limited).contains("rate limit"));
        let e = refused(422, &none, body, "POST", "/repos/a/b/issues/7/labels").unwrap_err();
        assert_eq!(e.status(), Some(422));
    }
}
