//! The benchmark's output: the Markdown table of every case (kestra-sync next to the naive
//! client), the machine it ran on, and PASS/FAIL against the targets of the README.

use std::fmt::Write as _;
use std::time::Duration;

/// A measured operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Plan with nothing to change (the server holds every flow).
    Plan,
    /// Apply a 1 % change: half updates, a quarter adds, a quarter deletes.
    ApplyChange,
    /// First apply onto an empty server: every flow created.
    ApplyInitial,
    /// Plan with nothing to change, with `--namespace-files` and [`NS_FILES`] namespace
    /// files of 10 KiB in Git and on the server: the requests must be the flows' plus one
    /// export, whatever the number of files.
    PlanFiles,
}

/// Namespace files in the [`Op::PlanFiles`] case.
pub const NS_FILES: usize = 1_000;

impl Op {
    pub fn label(self) -> &'static str {
        match self {
            Op::Plan => "plan, no change",
            Op::ApplyChange => "apply, 1 % changed",
            Op::ApplyInitial => "apply, all new",
            Op::PlanFiles => "plan, no change, + 1,000 namespace files of 10 KiB",
        }
    }

    /// A plan (nothing may be written).
    pub fn is_plan(self) -> bool {
        matches!(self, Op::Plan | Op::PlanFiles)
    }
}

/// Figures of one checked run.
#[derive(Debug, Clone)]
pub struct Figures {
    pub wall: Duration,
    /// CPU time (user + system) of the client process.
    pub cpu: Duration,
    /// Requests the server received.
    pub requests: u64,
    /// Peak RSS of the client process, bytes.
    pub peak_rss: u64,
}

/// One case: both clients on the same workload.
#[derive(Debug, Clone)]
pub struct Case {
    pub n: usize,
    pub latency_ms: u64,
    pub op: Op,
    /// Flows the operation changes on the server.
    pub changed: usize,
    pub ours: Result<Figures, String>,
    pub naive: Option<Result<Figures, String>>,
}

const MIB: f64 = 1024.0 * 1024.0;
/// Memory ceiling of the target.
pub const MEMORY_LIMIT: u64 = 100 * 1024 * 1024;

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{s:.2} s")
    } else {
        format!("{s:.1} s")
    }
}

fn cells(f: &Option<Result<Figures, String>>) -> String {
    match f {
        None => "– | – | –".into(),
        Some(Err(_)) => "FAILED | – | –".into(),
        Some(Ok(f)) => format!(
            "{} (CPU {}) | {} | {:.0} MiB",
            secs(f.wall),
            secs(f.cpu),
            f.requests,
            f.peak_rss as f64 / MIB
        ),
    }
}

/// The machine: cores, CPU model, RAM (from /proc).
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let ram_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|l| l.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    format!("{cores} cores ({cpu}), {ram_gib:.0} GiB RAM")
}

/// Flows per page of kestra-sync's flow search (its listing reads the first page only).
const SEARCH_PAGE: usize = 1000;

/// At most how many requests a plan of `n` flows (all in scope) makes to read the revisions
/// of `changed` flows: none up to one search page; beyond, one GET per changed flow or the
/// remaining pages, whichever is fewer.
fn revision_reads(n: usize, changed: usize) -> u64 {
    let pages_left = n.div_ceil(SEARCH_PAGE).saturating_sub(1);
    changed.min(pages_left) as u64
}

/// The report, and whether every target and check passed.
pub fn render(cases: &[Case], version: &str) -> (String, bool) {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{version} against kestra-emulator on {}; naive = one request per flow, {} at a time (the Terraform provider's pattern)\n",
        machine(),
        crate::naive::PARALLELISM
    );
    out.push_str("| flows | namespaces | latency | operation | changed | kestra-sync time | requests | peak RSS | naive time | requests | peak RSS | speed-up |\n");
    out.push_str("|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for c in cases {
        let speedup = match (&c.ours, &c.naive) {
            (Ok(o), Some(Ok(n))) if o.wall.as_secs_f64() > 0.0 => {
                format!("{:.1}×", n.wall.as_secs_f64() / o.wall.as_secs_f64())
            }
            _ => "–".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} ms | {} | {} | {} | {} | {speedup} |",
            c.n,
            crate::workload::namespaces(c.n),
            c.latency_ms,
            c.op.label(),
            c.changed,
            cells(&Some(c.ours.clone())),
            cells(&c.naive),
        );
    }

    let mut ok = true;
    let mut checks = String::new();
    let mut check = |pass: Option<bool>, what: String| {
        let word = match pass {
            Some(true) => "PASS",
            Some(false) => {
                ok = false;
                "FAIL"
            }
            None => "NOT MEASURED",
        };
        let _ = writeln!(checks, "- **{word}** {what}");
    };

    for c in cases {
        if let Err(e) = &c.ours {
            check(
                Some(false),
                format!(
                    "kestra-sync, {} flows, {} ms, {}: {e}",
                    c.n,
                    c.latency_ms,
                    c.op.label()
                ),
            );
        }
        if let Some(Err(e)) = &c.naive {
            check(
                Some(false),
                format!(
                    "naive client, {} flows, {} ms, {}: {e}",
                    c.n,
                    c.latency_ms,
                    c.op.label()
                ),
            );
        }
    }

    let find = |n: usize, lat: u64, op: Op| {
        cases
            .iter()
            .find(|c| c.n == n && c.latency_ms == lat && c.op == op)
            .and_then(|c| c.ours.as_ref().ok())
    };
    let big = find(10_000, 20, Op::Plan);
    check(
        big.map(|f| f.wall < Duration::from_secs(1)),
        format!(
            "plan of 10,000 flows at 20 ms latency in under 1 s{}",
            big.map_or(String::new(), |f| format!(": {}", secs(f.wall)))
        ),
    );

    let mut lats: Vec<u64> = cases.iter().map(|c| c.latency_ms).collect();
    lats.sort_unstable();
    lats.dedup();
    for lat in &lats {
        let plans: Vec<(usize, u64)> = cases
            .iter()
            .filter(|c| c.op == Op::Plan && c.latency_ms == *lat)
            .filter_map(|c| c.ours.as_ref().ok().map(|f| (c.n, f.requests)))
            .collect();
        let flat = plans.len() >= 2 && plans.iter().all(|(_, r)| *r == plans[0].1);
        let list = plans
            .iter()
            .map(|(n, r)| format!("{n} flows: {r}"))
            .collect::<Vec<_>>()
            .join(", ");
        check(
            (plans.len() >= 2).then_some(flat),
            format!("plan requests do not grow with N at {lat} ms ({list})"),
        );
    }

    for c in cases.iter().filter(|c| c.op == Op::ApplyChange) {
        let (Ok(apply), Some(plan)) = (&c.ours, find(c.n, c.latency_ms, Op::Plan)) else {
            continue;
        };
        let extra = apply.requests.saturating_sub(plan.requests);
        // one write per changed flow and one read just before each update or delete (the
        // plan lock: a flow edited since the plan is not overwritten; counted for every
        // change, creates need none), plus the validation requests (one per 100 writes),
        // plus the revisions the apply's own plan reads for its changed flows beyond the
        // first search page (one GET per flow or the remaining pages, whichever is fewer)
        let revisions = revision_reads(c.n, c.changed);
        let bound = 2 * c.changed as u64 + c.changed.div_ceil(100) as u64 + 1 + revisions;
        check(
            Some(extra <= bound),
            format!(
                "apply of {} flows at {} ms, {} changed: {extra} requests beyond the plan's (at most {bound}: a write and a re-read per change, plus validation, plus {revisions} for revisions beyond the first 1,000 flows)",
                c.n, c.latency_ms, c.changed
            ),
        );
    }

    for c in cases
        .iter()
        .filter(|c| c.op == Op::ApplyInitial && c.latency_ms > 0)
    {
        let Ok(f) = &c.ours else { continue };
        let sequential =
            Duration::from_millis(c.latency_ms) * u32::try_from(c.changed).unwrap_or(u32::MAX);
        check(
            Some(f.wall * 2 < sequential),
            format!(
                "apply writes run concurrently: {} creates at {} ms took {} (one at a time would take at least {})",
                c.changed,
                c.latency_ms,
                secs(f.wall),
                secs(sequential)
            ),
        );
    }

    let peak = cases
        .iter()
        .filter_map(|c| c.ours.as_ref().ok())
        .map(|f| f.peak_rss)
        .max();
    check(
        peak.map(|p| p < MEMORY_LIMIT),
        format!(
            "peak memory of kestra-sync under 100 MiB{}",
            peak.map_or(String::new(), |p| format!(
                ": {:.0} MiB at most",
                p as f64 / MIB
            ))
        ),
    );

    out.push('\n');
    out.push_str(&checks);
    (out, ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(n: usize, requests: u64) -> Case {
        Case {
            n,
            latency_ms: 20,
            op: Op::Plan,
            changed: 0,
            ours: Ok(Figures {
                wall: Duration::from_millis(100),
                cpu: Duration::from_millis(100),
                requests,
                peak_rss: 1 << 20,
            }),
            naive: None,
        }
    }

    fn line<'t>(text: &'t str, what: &str) -> &'t str {
        text.lines().find(|l| l.contains(what)).unwrap_or("")
    }

    #[test]
    fn plan_requests_are_compared_across_sizes() {
        let what = "plan requests do not grow with N";
        let (text, _) = render(&[plan(100, 3), plan(1000, 3), plan(10_000, 3)], "v");
        assert!(line(&text, what).contains("**PASS**"), "{text}");
        let (text, ok) = render(&[plan(100, 3), plan(1000, 3), plan(10_000, 12)], "v");
        assert!(line(&text, what).contains("**FAIL**"), "{text}");
        assert!(!ok);
        let (text, _) = render(&[plan(1000, 3)], "v");
        assert!(line(&text, what).contains("**NOT MEASURED**"), "{text}");
    }

    #[test]
    fn revision_reads_are_bounded_by_the_pages_left() {
        assert_eq!(revision_reads(100, 4), 0);
        assert_eq!(revision_reads(1000, 10), 0);
        assert_eq!(revision_reads(2500, 1), 1);
        assert_eq!(revision_reads(10_000, 100), 9);
    }
}
