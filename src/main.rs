//! `kestra-sync`: a thin entry point. Parse the command line, set up logging (stderr), call
//! the application layer ([`kestra_sync::app`]), and turn its [`Exit`] into the exit code.

use std::process::ExitCode;

use clap::Parser;
use kestra_sync::app::{self, Exit};
use kestra_sync::cli::Cli;

fn main() -> ExitCode {
    // Action inputs (`INPUT_TARGET-NAMESPACE`, …) become the env vars the options read,
    // before any thread exists and before clap parses.
    app::before_parse();
    let cli = match Cli::try_parse() {
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
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Error.into();
        }
    };
    runtime.block_on(app::run(cli.command)).into()
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
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .with_ansi(false)
        .init();
}
