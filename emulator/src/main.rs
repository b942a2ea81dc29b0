//! `kestra-emulator`: run the emulator as a process (README demo, benchmark, manual tests).
//! Prints `listening on http://HOST:PORT` as its first stdout line, then serves until killed.

use std::time::Duration;

use clap::Parser;
use kestra_emulator::{Auth, Emulator, Options};

#[derive(Debug, Parser)]
#[command(
    name = "kestra-emulator",
    about = "A Kestra API emulator for tests and demos (never for production)"
)]
struct Args {
    /// Port to listen on (0 = any free port).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Kestra version to emulate (1.3.0; 2.0.0 for 2.0 behaviour; 0.22.0 for untenanted paths).
    #[arg(long, default_value = "1.3.0")]
    version: String,
    /// Edition reported and emulated: OSS (every tenant is `main`) or EE.
    #[arg(long, default_value = "OSS")]
    edition: String,
    /// Basic auth user (with --password).
    #[arg(long, requires = "password")]
    username: Option<String>,
    /// Basic auth password (with --username).
    #[arg(long, requires = "username", env = "KESTRA_EMULATOR_PASSWORD")]
    password: Option<String>,
    /// Accept `Authorization: Bearer <token>`.
    #[arg(long, env = "KESTRA_EMULATOR_API_TOKEN")]
    api_token: Option<String>,
    /// Latency added to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Answer 404 on the export endpoint (to exercise a client's fallback).
    #[arg(long)]
    no_export: bool,
    /// Misbehave: answer search, export and namespace listings with the whole tenant,
    /// whatever filters the request carries.
    #[arg(long)]
    ignore_namespace_filters: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let auth = match (args.username, args.password, args.api_token) {
        (Some(username), Some(password), Some(token)) => Auth::BasicOrBearer {
            username,
            password,
            token,
        },
        (Some(username), Some(password), None) => Auth::Basic { username, password },
        (_, _, Some(token)) => Auth::Bearer(token),
        _ => Auth::None,
    };
    let opts = Options {
        version: args.version,
        edition: args.edition,
        auth,
        latency: Duration::from_millis(args.latency_ms),
        export_enabled: !args.no_export,
        ignore_namespace_filters: args.ignore_namespace_filters,
        ..Options::default()
    };
    let addr = format!("{}:{}", args.host, args.port);
    let emulator = Emulator::start_on(opts, &addr).await?;
    println!("listening on {}", emulator.url());
    tokio::signal::ctrl_c().await?;
    drop(emulator);
    Ok(())
}
