//! `kestra-sync`: a thin entry point. Parse options, set up logging (stderr), call the
//! library, print the product (stdout), and map the outcome to an exit code in one place:
//! 0 = done / no changes, 2 = changes (with `--detailed-exitcode`), 1 = error.

use std::process::ExitCode;

use clap::Parser;
use kestra_sync::app::pipeline::{self as run, RunError};
use kestra_sync::cli::{Cli, Command, Format, SyncArgs};
use kestra_sync::render;
use kestra_sync::settings::Settings;

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("ci") {
        // Action inputs (`INPUT_TARGET-NAMESPACE`, …) become the env vars the options read,
        // before any thread exists and before clap parses: flags > inputs > env > defaults.
        kestra_sync::ci::apply_platform_inputs();
    }
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(async {
        match cli.command {
            Command::Plan(args) => plan(&args).await,
            Command::Apply(args) => apply(&args).await,
            Command::Validate(args) => validate(&args).await,
            Command::Ci(args) => kestra_sync::ci::run(&args).await,
        }
    });
    ExitCode::from(code)
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KESTRA_SYNC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .with_ansi(false)
        .init();
}

/// Print a run error, with every local problem and every server reason, to stderr.
fn report_error(err: &RunError) -> u8 {
    eprintln!("error: {err}");
    match err {
        RunError::Problems(problems) => {
            for p in problems {
                eprintln!("  {p}");
            }
        }
        RunError::Apply(kestra_sync::apply::ApplyError::Invalid(results)) => {
            for v in results {
                for e in &v.errors {
                    eprintln!("  {}: {e}", v.git_path);
                }
            }
        }
        RunError::Apply(kestra_sync::apply::ApplyError::Partial(report)) => {
            print!("{}", render::text::render_report(report, false));
        }
        _ => {}
    }
    1
}

fn settings(args: &SyncArgs, need_server: bool) -> Result<Settings, u8> {
    Settings::from_args(args, need_server).map_err(|e| {
        eprintln!("error: {e}");
        1
    })
}

fn print_plan(settings: &Settings, planned: &run::Planned) -> Result<(), u8> {
    let plan = &planned.plan;
    if let Some(path) = &settings.plan_file {
        if let Err(e) = std::fs::write(path, render::json::render(plan)) {
            eprintln!(
                "error: cannot write the plan file `{}`: {e}",
                path.display()
            );
            return Err(1);
        }
    }
    match settings.format {
        Format::Text => print!("{}", render::text::render(plan, settings.color)),
        Format::Json => print!("{}", render::json::render(plan)),
        Format::Markdown => print!("{}", render::markdown::render_standalone(plan)),
    }
    Ok(())
}

async fn plan(args: &SyncArgs) -> u8 {
    let settings = match settings(args, true) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match run::read_and_plan(&settings).await {
        Err(e) => report_error(&e),
        Ok(planned) => {
            if let Err(code) = print_plan(&settings, &planned) {
                return code;
            }
            if settings.detailed_exitcode && planned.plan.summary.has_changes() {
                2
            } else {
                0
            }
        }
    }
}

async fn apply(args: &SyncArgs) -> u8 {
    let settings = match settings(args, true) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let planned = match run::read_and_plan(&settings).await {
        Ok(p) => p,
        Err(e) => return report_error(&e),
    };
    if let Err(code) = print_plan(&settings, &planned) {
        return code;
    }
    if settings.dry_run {
        eprintln!("dry run: nothing was written (--dry-run)");
        return 0;
    }
    if !planned.plan.summary.has_changes() {
        return 0;
    }
    match run::apply(&settings, &planned).await {
        Ok(report) => {
            match settings.format {
                Format::Json => eprint!("{}", render::text::render_report(&report, false)),
                _ => print!("{}", render::text::render_report(&report, settings.color)),
            }
            0
        }
        Err(e) => report_error(&e),
    }
}

async fn validate(args: &SyncArgs) -> u8 {
    let settings = match settings(args, false) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let loaded = match run::read_source(&settings).await {
        Ok(l) => l,
        Err(e) => return report_error(&e),
    };
    let flows = match run::prepare(&settings, &loaded.files) {
        Ok(f) => f,
        Err(e) => return report_error(&e),
    };
    if let Some(config) = settings.kestra.clone() {
        let client = match kestra_sync::kestra::KestraClient::connect(config).await {
            Ok(c) => c,
            Err(e) => return report_error(&e.into()),
        };
        let refs: Vec<_> = flows.iter().collect();
        match client.validate(&refs).await {
            Err(e) => return report_error(&e.into()),
            Ok(results) => {
                for v in &results {
                    for w in &v.warnings {
                        eprintln!("warning: {}: {w}", v.git_path);
                    }
                }
                if results.iter().any(|v| !v.errors.is_empty()) {
                    return report_error(&RunError::Apply(
                        kestra_sync::apply::ApplyError::Invalid(results),
                    ));
                }
            }
        }
        println!(
            "{} flow(s) valid (checked locally and on the server).",
            flows.len()
        );
    } else {
        println!(
            "{} flow(s) valid (checked locally; pass --kestra-url to check on the server too).",
            flows.len()
        );
    }
    0
}
