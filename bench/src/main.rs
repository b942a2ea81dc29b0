//! `kestra-bench`: the figures behind "Performance and safety" in the README. For each
//! N (flows, across N/100 child namespaces) and each injected round-trip latency, it starts
//! the Kestra emulator, runs the real release `kestra-sync` binary as a child process, and
//! measures wall time, HTTP requests received by the server, and the child's peak RSS, for:
//! a plan with nothing to change, an apply of a 1 % change (updates, adds, deletes), and a
//! first apply onto an empty server. The same cases run with a naive per-flow client
//! ([`naive`]) on a fresh emulator, so the ratio is visible. Every run is checked (exit
//! code, plan counts, the server's final state) before its figures count. Prints a Markdown
//! table and PASS/FAIL against the targets; exits 1 when a target or a check fails.
//!
//! Run it with `scripts/bench.sh` (builds both binaries in release first).

mod measure;
mod naive;
mod report;
mod workload;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use kestra_emulator::{Emulator, Options};

use report::{Case, Figures, Op};
use workload::{GenFlow, TARGET};

#[derive(Debug, Parser)]
#[command(
    name = "kestra-bench",
    about = "Benchmark kestra-sync against the Kestra emulator"
)]
struct Cli {
    #[command(subcommand)]
    sub: Option<Sub>,
    /// Numbers of flows (each spread over N/100 namespaces).
    #[arg(long, value_delimiter = ',', default_values_t = [100, 1000, 10_000])]
    sizes: Vec<usize>,
    /// Round-trip latencies injected by the emulator, in milliseconds.
    #[arg(long, value_delimiter = ',', default_values_t = [0, 20])]
    latencies_ms: Vec<u64>,
    /// The kestra-sync binary (default: next to this one, i.e. target/release/kestra-sync).
    #[arg(long)]
    binary: Option<PathBuf>,
    /// Skip the naive client.
    #[arg(long)]
    no_naive: bool,
    /// Skip the first apply onto an empty server (the longest case).
    #[arg(long)]
    no_initial: bool,
    /// Also write the Markdown report to this file.
    #[arg(long)]
    output: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// (internal) the naive client, run as a measured child process.
    #[command(hide = true)]
    Naive {
        #[arg(long)]
        url: String,
        #[arg(long)]
        workspace: PathBuf,
        #[arg(long)]
        state: PathBuf,
        #[arg(long)]
        apply: bool,
    },
    /// (internal) run a command and write its wall time, CPU time, peak RSS and exit code.
    #[command(hide = true)]
    MeasureChild {
        out: PathBuf,
        program: PathBuf,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match &cli.sub {
        Some(Sub::Naive {
            url,
            workspace,
            state,
            apply,
        }) => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            return rt.block_on(naive::run(url, workspace, state, *apply));
        }
        Some(Sub::MeasureChild { out, program, args }) => {
            let code = measure::trampoline(out, program, args)?;
            std::process::exit(code);
        }
        None => {}
    }
    let binary = match &cli.binary {
        Some(b) => b.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("no parent folder of the bench binary")?
            .join("kestra-sync"),
    };
    if !binary.is_file() {
        bail!(
            "no kestra-sync binary at {}: run scripts/bench.sh (it builds it with --release), or pass --binary",
            binary.display()
        );
    }
    let version = Command::new(&binary)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();

    let mut cases = Vec::new();
    for &n in &cli.sizes {
        for &lat in &cli.latencies_ms {
            let mut ops = vec![Op::Plan, Op::PlanFiles, Op::ApplyChange];
            if !cli.no_initial {
                ops.push(Op::ApplyInitial);
            }
            for op in ops {
                eprintln!("bench: {n} flows, {lat} ms, {}", op.label());
                let latency = Duration::from_millis(lat);
                let ours = run_case(&binary, n, latency, op, Client::KestraSync);
                let naive = (!cli.no_naive && op != Op::PlanFiles)
                    .then(|| run_case(&binary, n, latency, op, Client::Naive));
                cases.push(Case {
                    n,
                    latency_ms: lat,
                    op,
                    changed: changed_count(n, op),
                    ours,
                    naive,
                });
            }
        }
    }
    let (text, ok) = report::render(&cases, &version);
    print!("{text}");
    if let Some(path) = &cli.output {
        std::fs::write(path, &text).with_context(|| format!("write {}", path.display()))?;
    }
    if !ok {
        std::process::exit(1);
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    KestraSync,
    Naive,
}

/// Flows the operation changes on the server.
fn changed_count(n: usize, op: Op) -> usize {
    match op {
        Op::Plan | Op::PlanFiles => 0,
        Op::ApplyChange => workload::one_percent_change(&workload::flows(n)).total(),
        Op::ApplyInitial => n,
    }
}

/// One measured run on a fresh emulator; `Err` says what went wrong or what did not check.
fn run_case(
    binary: &Path,
    n: usize,
    latency: Duration,
    op: Op,
    client: Client,
) -> Result<Figures, String> {
    run_case_inner(binary, n, latency, op, client).map_err(|e| format!("{e:#}"))
}

fn run_case_inner(
    binary: &Path,
    n: usize,
    latency: Duration,
    op: Op,
    client: Client,
) -> anyhow::Result<Figures> {
    let base = workload::flows(n);
    let emu = Emulator::start_in_background(Options {
        export_deflate: false,
        ..Options::default()
    })?;
    for src in workload::unrelated_sources() {
        emu.try_seed_flow("main", &src)?;
    }
    let on_server: &[GenFlow] = if op == Op::ApplyInitial { &[] } else { &base };
    for f in on_server {
        emu.try_seed_flow("main", &f.server_text())?;
    }
    let change = workload::one_percent_change(&base);
    let desired: &[GenFlow] = match op {
        Op::ApplyChange => &change.desired,
        Op::Plan | Op::PlanFiles | Op::ApplyInitial => &base,
    };
    let ws = tempfile::tempdir()?;
    workload::write_workspace(ws.path(), desired)?;
    if op == Op::PlanFiles {
        // the same 10 KiB files in Git and on the server: nothing to upload
        for i in 0..report::NS_FILES {
            let rel = format!("scripts/{:02}/script_{i:04}.py", i % 50);
            let bytes: Vec<u8> = format!("# script {i}\n")
                .into_bytes()
                .into_iter()
                .chain(std::iter::repeat_n(b'x', 10 * 1024))
                .take(10 * 1024)
                .collect();
            let p = ws.path().join("_files").join(&rel);
            std::fs::create_dir_all(p.parent().context("parent")?)?;
            std::fs::write(&p, &bytes)?;
            emu.seed_file("main", TARGET, &format!("/{rel}"), &bytes);
        }
    }
    let state = ws.path().join("terraform.state");
    let lines: String = on_server
        .iter()
        .map(|f| format!("{}\t{}\n", f.namespace(), f.id))
        .collect();
    std::fs::write(&state, lines)?;

    let url = emu.url();
    let mut args: Vec<std::ffi::OsString> = Vec::new();
    let mut push = |a: &dyn AsRef<std::ffi::OsStr>| args.push(a.as_ref().to_os_string());
    let program = match client {
        Client::KestraSync => {
            push(&if op.is_plan() { "plan" } else { "apply" });
            for a in ["--kestra-url", &url, "--target-namespace", TARGET] {
                push(&a);
            }
            push(&"--workspace");
            push(&ws.path());
            for a in ["--include-child-namespaces", "--format", "json"] {
                push(&a);
            }
            if op == Op::PlanFiles {
                push(&"--namespace-files");
            }
            if op == Op::ApplyChange {
                push(&"--delete");
                push(&"--max-deletes");
                push(&change.deleted.to_string());
            }
            binary.to_path_buf()
        }
        Client::Naive => {
            for a in ["naive", "--url", &url, "--workspace"] {
                push(&a);
            }
            push(&ws.path());
            push(&"--state");
            push(&state);
            if op != Op::Plan {
                push(&"--apply");
            }
            std::env::current_exe()?
        }
    };
    let env = [
        ("PATH", std::env::var_os("PATH").unwrap_or_default()),
        ("NO_COLOR", "1".into()),
    ];

    emu.set_latency(latency);
    emu.reset_counts();
    let m = measure::run(&program, &args, &env)?;
    let requests = emu.request_count();
    let writes = emu.write_count();
    emu.set_latency(Duration::ZERO);

    if m.code != Some(0) {
        bail!(
            "exit {:?}; stderr: {}",
            m.code,
            m.stderr_text()
                .lines()
                .take(8)
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    // the plan both clients print must count what the workload changed
    let plan: serde_json::Value = serde_json::from_slice(&m.stdout)
        .with_context(|| format!("stdout is not a JSON plan: {}", m.stderr_text()))?;
    let count = |k: &str| plan["summary"][k].as_u64().unwrap_or(u64::MAX) as usize;
    let (added, updated, unchanged, deleted) = match op {
        Op::Plan | Op::PlanFiles => (0, 0, n, 0),
        Op::ApplyChange => (
            change.added,
            change.updated,
            n - change.updated - change.deleted,
            change.deleted,
        ),
        Op::ApplyInitial => (n, 0, 0, 0),
    };
    let got = (
        count("added"),
        count("updated"),
        count("unchanged"),
        count("deleted"),
    );
    if got != (added, updated, unchanged, deleted) {
        bail!(
            "plan counts (added, updated, unchanged, deleted) = {got:?}, expected {:?}",
            (added, updated, unchanged, deleted)
        );
    }
    // the server must hold exactly the desired flows (and the unrelated ones, untouched)
    let expected = workload::expected_server(if op.is_plan() { &base } else { desired });
    let live = emu.flows("main");
    if live.len() != expected.len() {
        bail!(
            "the server holds {} flows, expected {}",
            live.len(),
            expected.len()
        );
    }
    for f in &live {
        match expected.get(&(f.namespace.clone(), f.id.clone())) {
            Some(src) if *src == f.source => {}
            Some(_) => bail!(
                "{}/{} has another source than the desired one",
                f.namespace,
                f.id
            ),
            None => bail!("{}/{} should not be on the server", f.namespace, f.id),
        }
    }
    if op.is_plan() && writes != 0 {
        bail!("a plan wrote {writes} time(s)");
    }
    if op == Op::PlanFiles {
        let unchanged = plan["summary"]["files"]["unchanged"].as_u64().unwrap_or(0) as usize;
        if unchanged != report::NS_FILES {
            bail!(
                "the plan counts {unchanged} unchanged namespace files, expected {}",
                report::NS_FILES
            );
        }
    }
    Ok(Figures {
        wall: m.wall,
        cpu: m.cpu,
        requests,
        peak_rss: m.peak_rss,
    })
}
