//! CI platforms: detect GitHub Actions / GitLab CI, read the event or pipeline, and publish
//! results (GitHub: outputs, summary, annotations, masks; GitLab: the job log and an MR
//! note). `kestra-sync ci` starts here; the steps both run are in [`driver`].

pub mod commands;
pub mod github;
pub mod gitlab;

use crate::cli::CiArgs;

/// Map the platform's inputs onto the environment variables the options read. Runs before
/// the command line is parsed (see `main`). GitLab's CI/CD variables already are those.
pub fn apply_platform_inputs() {
    github::inputs_to_env();
}

/// `kestra-sync ci`: decide from the platform and the event what to do. Returns the exit code.
pub async fn run(args: &CiArgs) -> u8 {
    if github::detect() {
        return crate::app::github::run(args).await;
    }
    if gitlab::detect() {
        return crate::app::gitlab::run(args).await;
    }
    eprintln!("error: no CI platform detected: `kestra-sync ci` runs in GitHub Actions (GITHUB_ACTIONS=true) or GitLab CI (GITLAB_CI=true); on a laptop use `kestra-sync plan` or `apply`");
    1
}
