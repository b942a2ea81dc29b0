//! `kestra-sync`: a thin entry point. Parse the command line, set up logging (stderr, through
//! [`kestra_sync::out`] like every output), call
//! the application layer ([`kestra_sync::app`]), and turn its [`Exit`] into the exit code.

use std::process::ExitCode;

use clap::Parser;
use kestra_sync::app::{self, Exit};
use kestra_sync::cli::Cli;
use kestra_sync::out;

fn main() -> ExitCode {
    // Action inputs (`INPUT_TARGET-NAMESPACE`, …) become the env vars the options read, and
    // empty values are unset, before any thread exists and before clap parses.
    let args = app::before_parse();
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` print on stdout and succeed; a usage error exits 1.
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Ok
            }
            .into();
        }
    };
    // Every secret the options name, in every form the tool sends it, is scrubbed from all
    // output from now on; on GitHub Actions, text is printed with workflow commands stopped.
    kestra_sync::secrets::register_cli(&cli);
    if matches!(cli.command, kestra_sync::cli::Command::Ci(_)) && kestra_sync::ci::github::detect()
    {
        out::set_mode(out::Mode::GitHub);
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        previous(info);
        out::finish();
    }));
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            out::message_err(&format!("error: cannot start the async runtime: {e}"));
            out::finish();
            return Exit::Error.into();
        }
    };
    let exit = runtime.block_on(app::run(cli.command));
    out::finish();
    exit.into()
}

fn init_logging() {
    let wanted = std::env::var("KESTRA_SYNC_LOG").ok();
    let filter =
        tracing_subscriber::EnvFilter::try_new(kestra_sync::http::log_filter(wanted.as_deref()))
            .unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(kestra_sync::http::log_filter(None))
            });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(out::LogWriter)
        .with_target(false)
        .without_time()
        .with_ansi(false)
        .init();
}
