//! GitLab CI: what the runner tells a job through its predefined variables, read once into a
//! [`Context`], and the [`Mode`] the pipeline asks for. Pure (the variables come through a
//! function), so the decisions are table-tested.
//!
//! - `merge_request_event` → plan and keep one note on the merge request; never apply.
//! - `push`, `web` (Run pipeline) or `api` on the deployed branch (`--branch` /
//!   KESTRA_SYNC_BRANCH, default `CI_DEFAULT_BRANCH`) → apply; on another branch or a tag →
//!   plan only.
//! - `schedule` → drift check.
//! - Any other source (`trigger`, `pipeline`, `parent_pipeline`, `chat`, …) → plan only.
//!
//! An MR pipeline of a fork's merge request that runs in the fork's project has none of
//! this project's CI/CD variables: `CI_PROJECT_ID` is then the source project, not
//! `CI_MERGE_REQUEST_PROJECT_ID` (GitLab, "Run pipelines in the parent project").

use std::path::PathBuf;

use crate::app::driver::Mode;

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
    /// The project the merge request belongs to: `CI_MERGE_REQUEST_PROJECT_ID`, else
    /// `CI_PROJECT_ID` (a number or a `group/project` path).
    pub mr_project: Option<String>,
    /// The pipeline runs in a fork's project for a merge request into another project.
    pub fork: bool,
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
    Ok(Context {
        pipeline_source,
        commit_branch: get("CI_COMMIT_BRANCH"),
        commit_tag: get("CI_COMMIT_TAG"),
        default_branch: get("CI_DEFAULT_BRANCH"),
        commit_sha: get("CI_COMMIT_SHA"),
        source_branch_sha: get("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA"),
        mr_iid: get("CI_MERGE_REQUEST_IID"),
        mr_project: mr_project_id.or(project),
        fork,
        project_dir: get("CI_PROJECT_DIR").map(PathBuf::from),
        job_url: get("CI_JOB_URL"),
        api_url: get("CI_API_V4_URL"),
        job_token: get("CI_JOB_TOKEN").is_some(),
    })
}

/// The mode for a pipeline; `deployed` is `--branch` (KESTRA_SYNC_BRANCH) when given.
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
            (Some(b), Some(d)) if *b == d => Mode::Apply { branch: d },
            (Some(b), Some(d)) => Mode::PlanOnly {
                why: format!(
                    "`{b}` is not the deployed branch `{d}` (KESTRA_SYNC_BRANCH, default CI_DEFAULT_BRANCH): plan only"
                ),
            },
            (None, Some(d)) => Mode::PlanOnly {
                why: match &ctx.commit_tag {
                    Some(t) => format!("tag pipelines (`{t}`) only plan; `{d}` is applied"),
                    None => format!(
                        "this `{source}` pipeline is not for a branch (CI_COMMIT_BRANCH is unset): plan only; `{d}` is applied"
                    ),
                },
            },
            (_, None) => Mode::PlanOnly {
                why: "the deployed branch is unknown (CI_DEFAULT_BRANCH is unset; set KESTRA_SYNC_BRANCH): plan only".into(),
            },
        },
        other => Mode::PlanOnly {
            why: format!(
                "the `{other}` pipeline source only plans (merge_request_event plans and posts a note; push, web or api on the deployed branch applies; schedule checks drift)"
            ),
        },
    }
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
                    branch: "main".into()
                },
                "{source}"
            );
        }
        assert_eq!(
            mode(&pipeline("push", Some("prod")), Some("prod")),
            Mode::Apply {
                branch: "prod".into()
            }
        );
        let Mode::PlanOnly { why } = mode(&pipeline("push", Some("main")), Some("prod")) else {
            panic!("a push to main with --branch prod applies nothing")
        };
        assert!(
            why.contains("`main` is not the deployed branch `prod`"),
            "{why}"
        );
        assert!(matches!(
            mode(&pipeline("push", Some("feature")), None),
            Mode::PlanOnly { why } if why.contains("`feature` is not the deployed branch `main`")
        ));
        assert_eq!(mode(&pipeline("schedule", Some("main")), None), Mode::Drift);
        assert!(matches!(
            mode(&pipeline("trigger", Some("main")), None),
            Mode::PlanOnly { why } if why.contains("`trigger` pipeline source only plans")
        ));
        let tag = ctx(&[
            ("CI_PIPELINE_SOURCE", "push"),
            ("CI_DEFAULT_BRANCH", "main"),
            ("CI_COMMIT_TAG", "v1.0.0"),
        ]);
        assert!(
            matches!(mode(&tag, None), Mode::PlanOnly { why } if why.contains("tag pipelines (`v1.0.0`)"))
        );
        let unknown = ctx(&[("CI_PIPELINE_SOURCE", "push"), ("CI_COMMIT_BRANCH", "main")]);
        assert!(
            matches!(mode(&unknown, None), Mode::PlanOnly { why } if why.contains("set KESTRA_SYNC_BRANCH"))
        );
        // The deployed branch given explicitly still applies without CI_DEFAULT_BRANCH.
        assert_eq!(
            mode(&unknown, Some("main")),
            Mode::Apply {
                branch: "main".into()
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
        let err = context_from(|_| None).unwrap_err().to_string();
        assert!(err.starts_with("CI_PIPELINE_SOURCE is not set"), "{err}");
    }
}
