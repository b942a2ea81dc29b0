//! GitLab's side of the optional merge request labels ([`crate::forge::labels`]): the merge
//! request's labels are read (`GET /projects/:id/merge_requests/:iid`, its `labels`), and
//! when they are not already right one `PUT /projects/:id/merge_requests/:iid` sends
//! `add_labels` (GitLab creates a label the project lacks) and `remove_labels` (only ours that
//! are present). Same token as the notes: `GITLAB_TOKEN`; a refusal (401/403) is
//! [`Labeled::Skipped`] with what to do, never a failed job.

use reqwest::Method;
use serde::Deserialize;

use super::api::api_base;
use super::{auth_headers, project_segment, Answer, GitLabError, GitLabNotes};
use crate::forge::labels::{change, Label, Labeled};

/// What to do when the token may not label the merge request.
pub const LABELS_HELP: &str = "set GITLAB_TOKEN to a project access token with the `api` scope and at least the Developer role (Reporters may not label merge requests; CI_JOB_TOKEN cannot edit them), or turn `labels` off (KESTRA_SYNC_LABELS)";

impl GitLabNotes {
    /// Make our labels on this merge request say `wanted` (`None`: none of ours).
    pub async fn set_labels(&self, wanted: Option<Label>) -> Result<Labeled, GitLabError> {
        #[derive(Deserialize)]
        struct Mr {
            #[serde(default)]
            labels: Vec<String>,
        }
        let Some(token) = &self.token else {
            return Ok(Labeled::Skipped {
                reason: format!("no GitLab token (GITLAB_TOKEN is empty): {LABELS_HELP}"),
            });
        };
        let headers = auth_headers(token)?;
        let url = format!(
            "{}/projects/{}/merge_requests/{}",
            api_base(&self.mr.api_url),
            project_segment(&self.mr.project),
            self.mr.iid
        );
        let skipped = |method: &str| {
            Labeled::Skipped {
            reason: format!(
                "the token may not change this merge request's labels (GitLab refused {method} {url}): {LABELS_HELP}; the labels were not changed"
            ),
        }
        };
        let mr: Mr = match self.send_json(Method::GET, &url, &headers, None).await? {
            Answer::Ok(mr) => mr,
            Answer::Forbidden(_) => return Ok(skipped("GET")),
        };
        let change = change(&mr.labels, wanted);
        if change.is_empty() {
            return Ok(Labeled::Done { change });
        }
        let mut payload = serde_json::Map::new();
        if let Some(add) = change.add {
            payload.insert("add_labels".into(), add.name().into());
        }
        if !change.remove.is_empty() {
            let names: Vec<&str> = change.remove.iter().map(|l| l.name()).collect();
            payload.insert("remove_labels".into(), names.join(",").into());
        }
        let payload = serde_json::Value::Object(payload);
        match self
            .checked(Method::PUT, &url, &headers, Some(&payload))
            .await?
        {
            Answer::Ok(_) => Ok(Labeled::Done { change }),
            Answer::Forbidden(_) => Ok(skipped("PUT")),
        }
    }
}
