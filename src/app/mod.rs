//! The application layer: each mode (plan, apply, validate, review, drift) written once in
//! [`modes`], on top of the [`pipeline`] (read, prepare, plan, apply), reporting through one
//! [`report::Reporter`] whatever the platform: [`terminal`], [`github`] (GitHub Actions),
//! [`gitlab`] (GitLab CI). The exit code of every run is decided here ([`Exit`]).
//!
//! `main` parses the command line and calls [`run`]; nothing else reads raw arguments: they
//! become [`Settings`] once, here.

pub mod github;
pub mod gitlab;
pub mod labels;
pub mod modes;
pub mod pipeline;
pub mod preview;
pub mod preview_ci;
pub mod preview_cli;
pub mod preview_deploy;
pub mod preview_note;
pub mod report;
pub mod terminal;

use crate::cli::Command;
use crate::settings::{Output, Settings};

pub use modes::Mode;

/// How a run ended: the one place exit codes are decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done, or no changes.
    Ok,
    /// Changes found, with `--detailed-exitcode` (plan, review, drift): 2.
    Changes,
    /// An error, an incomplete apply, or drift with `fail-on-drift`: 1.
    Error,
    /// The command line is wrong (unknown option, bad value, no command): 1, like an error,
    /// so that a typo is never read as "changes found".
    Usage,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Changes => 2,
            Exit::Error | Exit::Usage => 1,
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

/// Run a parsed command.
pub async fn run(command: Command) -> Exit {
    let settings = Settings::from_command(&command).map_err(|e| e.to_string());
    let mode = match command {
        Command::Plan(_) => Mode::Plan { why: None },
        Command::Apply(_) => Mode::Apply { branch: None },
        Command::Validate(_) => Mode::Validate,
        Command::Preview(command) => return preview_cli::run(command, settings).await,
        Command::Ci(args) => {
            if crate::ci::github::detect() {
                return github::run(settings).await;
            }
            if crate::ci::gitlab::detect() {
                let color = args.plan.color.resolve(Output::CiLog);
                return gitlab::run(settings, color).await;
            }
            let no_platform = "no CI platform detected: `kestra-sync ci` runs in GitHub Actions (GITHUB_ACTIONS=true) or GitLab CI (GITLAB_CI=true); on a laptop use `kestra-sync plan` or `apply`";
            return modes::fail(&terminal::Terminal, no_platform);
        }
    };
    let argv: Vec<String> = std::env::args().collect();
    for warning in crate::ci::guard::flag_warnings(&argv) {
        report::Reporter::print(&terminal::Terminal, report::Level::Warning, None, &warning);
    }
    match settings {
        Ok(settings) => modes::run(&terminal::Terminal, &settings, mode).await,
        Err(e) => modes::fail(&terminal::Terminal, &e),
    }
}

/// Before the command line is parsed (and before any thread starts): map the platform's
/// inputs onto the environment variables the options read (GitLab's CI/CD variables already
/// are those), and unset every option given an empty value, from any source. Returns the
/// command line to parse.
pub fn before_parse() -> Vec<std::ffi::OsString> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "ci") {
        crate::ci::github::inputs_to_env();
    }
    let vars = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    for var in crate::cli::empty_option_vars(vars) {
        std::env::remove_var(var);
    }
    crate::cli::drop_empty_values(args)
}
