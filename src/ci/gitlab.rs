//! GitLab CI: what the runner tells a job through its predefined variables, read once into a
//! [`Context`] (the mode it asks for is decided from it in `app::gitlab`). Pure (the
//! variables come through a function), so it is table-tested.
//!
//! - `merge_request_event` → plan and keep one note on the merge request; never apply.
//! - `push`, `web` (Run pipeline) or `api` on the deployed branch (`--deploy-branch` /
//!   KESTRA_SYNC_DEPLOY_BRANCH, default `CI_DEFAULT_BRANCH`) → apply; on another branch or a tag →
//!   plan only.
//! - `schedule` → drift check.
//! - Any other source (`trigger`, `pipeline`, `parent_pipeline`, `chat`, …) → plan only.
//!
//! An MR pipeline of a fork's merge request that runs in the fork's project has none of
//! this project's CI/CD variables: `CI_PROJECT_ID` is then the source project, not
//! `CI_MERGE_REQUEST_PROJECT_ID` (GitLab, "Run pipelines in the parent project").

use std::path::PathBuf;

/// Running under GitLab CI.
pub fn detect() -> bool {
    std::env::var("GITLAB_CI").is_ok_and(|v| v == "true")
}

/// Everything kestra-sync uses from GitLab's predefined variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// `CI_PIPELINE_SOURCE`.
    pub pipeline_source: String,
    /// `CI_COMMIT_BRANCH` (unset in merge request and tag pipelines).
    pub commit_branch: Option<String>,
    /// `CI_COMMIT_TAG` (tag pipelines).
    pub commit_tag: Option<String>,
    /// `CI_DEFAULT_BRANCH`.
    pub default_branch: Option<String>,
    /// `CI_COMMIT_SHA`: in a merged results pipeline, the merge commit.
    pub commit_sha: Option<String>,
    /// `CI_MERGE_REQUEST_SOURCE_BRANCH_SHA`: the MR's head (merged results pipelines only).
    pub source_branch_sha: Option<String>,
    /// `CI_MERGE_REQUEST_IID`.
    pub mr_iid: Option<String>,
    /// `CI_MERGE_REQUEST_TARGET_BRANCH_NAME`: the branch the merge request merges into.
    pub target_branch: Option<String>,
    /// The project the merge request belongs to: `CI_MERGE_REQUEST_PROJECT_ID`, else
    /// `CI_PROJECT_ID` (a number or a `group/project` path).
    pub mr_project: Option<String>,
    /// The pipeline runs in a fork's project for a merge request into another project.
    pub fork: bool,
    /// The merge request's source project is not its target project (a fork's merge
    /// request), wherever the pipeline runs.
    pub fork_head: bool,
    /// `CI_PROJECT_DIR`: the checkout.
    pub project_dir: Option<PathBuf>,
    /// `CI_JOB_URL`.
    pub job_url: Option<String>,
    /// `CI_API_V4_URL`.
    pub api_url: Option<String>,
    /// `CI_JOB_TOKEN` is set (it cannot post notes).
    pub job_token: bool,
}

impl Context {
    /// The commit to show people: the MR's head when GitLab says it, else `CI_COMMIT_SHA`.
    pub fn display_commit(&self) -> Option<&str> {
        self.source_branch_sha
            .as_deref()
            .or(self.commit_sha.as_deref())
    }
}

/// The job's variables are missing something.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ContextError(pub String);

/// Read the context from the process environment (empty variables are unset).
pub fn context() -> Result<Context, ContextError> {
    context_from(|k| std::env::var(k).ok())
}

/// Read the context through `var` (the environment, or a test's map).
pub fn context_from(var: impl Fn(&str) -> Option<String>) -> Result<Context, ContextError> {
    let get = |k: &str| {
        var(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let pipeline_source = get("CI_PIPELINE_SOURCE").ok_or_else(|| {
        ContextError(
            "CI_PIPELINE_SOURCE is not set: `kestra-sync ci` on GitLab runs inside a GitLab CI job (GitLab sets it to merge_request_event, push, schedule, …)".into(),
        )
    })?;
    let project = get("CI_PROJECT_ID");
    let mr_project_id = get("CI_MERGE_REQUEST_PROJECT_ID");
    let source_project_id = get("CI_MERGE_REQUEST_SOURCE_PROJECT_ID");
    let fork = match (&mr_project_id, &source_project_id, &project) {
        (Some(target), Some(source), Some(here)) => source != target && here == source,
        _ => false,
    };
    let fork_head = matches!((&mr_project_id, &source_project_id), (Some(t), Some(s)) if s != t);
    Ok(Context {
        pipeline_source,
        commit_branch: get("CI_COMMIT_BRANCH"),
        commit_tag: get("CI_COMMIT_TAG"),
        default_branch: get("CI_DEFAULT_BRANCH"),
        commit_sha: get("CI_COMMIT_SHA"),
        source_branch_sha: get("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA"),
        mr_iid: get("CI_MERGE_REQUEST_IID"),
        target_branch: get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME"),
        mr_project: mr_project_id.or(project),
        fork,
        fork_head,
        project_dir: get("CI_PROJECT_DIR").map(PathBuf::from),
        job_url: get("CI_JOB_URL"),
        api_url: get("CI_API_V4_URL"),
        job_token: get("CI_JOB_TOKEN").is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(vars: &[(&str, &str)]) -> Context {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        context_from(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())).unwrap()
    }

    #[test]
    fn context_reads_the_variables() {
        let c = ctx(&[
            ("CI_PIPELINE_SOURCE", " merge_request_event "),
            ("CI_COMMIT_SHA", "f".repeat(40).as_str()),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", ""),
            ("CI_PROJECT_DIR", "/builds/acme/flows"),
            ("CI_JOB_URL", "https://gitlab.com/acme/flows/-/jobs/1"),
            ("CI_JOB_TOKEN", "x"),
        ]);
        assert_eq!(c.pipeline_source, "merge_request_event");
        assert_eq!(c.display_commit(), Some("f".repeat(40).as_str()));
        assert_eq!(c.project_dir, Some(PathBuf::from("/builds/acme/flows")));
        assert!(c.job_token);
        let merged = ctx(&[
            ("CI_PIPELINE_SOURCE", "merge_request_event"),
            ("CI_COMMIT_SHA", "merge"),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", "head"),
        ]);
        assert_eq!(merged.display_commit(), Some("head"));
        assert_eq!(merged.target_branch, None);
        let into = ctx(&[
            ("CI_PIPELINE_SOURCE", "merge_request_event"),
            ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main"),
        ]);
        assert_eq!(into.target_branch.as_deref(), Some("main"));
        let err = context_from(|_| None).unwrap_err().to_string();
        assert!(err.starts_with("CI_PIPELINE_SOURCE is not set"), "{err}");
    }
}
