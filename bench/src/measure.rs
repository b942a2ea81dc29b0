//! Run one measured child process: wall time, CPU time and peak resident set size.
//!
//! The peak RSS comes from `wait4(2)` (`ru_maxrss`), but not from the bench itself: Linux
//! carries a process's high-water mark across `fork` and `exec` into the child's figure, so
//! a child spawned from the bench (which holds the emulator and 10,000 flows) would report
//! the bench's memory. The bench therefore re-runs itself as a small trampoline
//! (`kestra-bench measure-child`), which spawns the real child, reaps it with `wait4`, and
//! writes `wall_ns cpu_ns maxrss_kib exit_code` to a file; its own memory, a few MiB, is the
//! floor of every figure.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// What one child run measured.
#[derive(Debug, Clone)]
pub struct Measured {
    pub wall: Duration,
    /// User + system CPU time of the child.
    pub cpu: Duration,
    /// Peak RSS in bytes.
    pub peak_rss: u64,
    /// Exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Measured {
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Run `program args…` through the trampoline, capturing its stdout and stderr.
pub fn run(
    program: &Path,
    args: &[std::ffi::OsString],
    env: &[(&str, std::ffi::OsString)],
) -> anyhow::Result<Measured> {
    let figures = tempfile::NamedTempFile::new()?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("measure-child")
        .arg(figures.path())
        .arg(program)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    let mut out = child.stdout.take().context("stdout")?;
    let mut err = child.stderr.take().context("stderr")?;
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });
    let status = child.wait()?;
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    let text = std::fs::read_to_string(figures.path())?;
    let nums: Vec<i64> = text
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let [wall_ns, cpu_ns, rss_kib, code] = nums[..] else {
        bail!(
            "the trampoline failed ({status}): {}",
            String::from_utf8_lossy(&stderr)
        );
    };
    Ok(Measured {
        wall: Duration::from_nanos(u64::try_from(wall_ns).unwrap_or(0)),
        cpu: Duration::from_nanos(u64::try_from(cpu_ns).unwrap_or(0)),
        peak_rss: u64::try_from(rss_kib).unwrap_or(0) * 1024,
        code: (code >= 0).then(|| i32::try_from(code).unwrap_or(-1)),
        stdout,
        stderr,
    })
}

/// The trampoline: spawn `program args…` (stdio inherited), reap it with `wait4`, write the
/// figures to `out`, exit with the child's code.
pub fn trampoline(out: &Path, program: &Path, args: &[std::ffi::OsString]) -> anyhow::Result<i32> {
    let start = Instant::now();
    let child = Command::new(program)
        .args(args)
        .spawn()
        .with_context(|| format!("cannot start {}", program.display()))?;
    let pid = libc::pid_t::try_from(child.id()).context("pid out of range")?;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain data the kernel fills; all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet reaped (std's `Child` never waited on it);
    // both out-pointers point to live, writable locals.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    if reaped != pid {
        bail!("wait4 failed: {}", std::io::Error::last_os_error());
    }
    let tv = |t: libc::timeval| t.tv_sec * 1_000_000_000 + t.tv_usec * 1000;
    let cpu = tv(usage.ru_utime) + tv(usage.ru_stime);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    // Linux reports ru_maxrss in KiB.
    std::fs::write(
        out,
        format!("{} {cpu} {} {code}\n", wall.as_nanos(), usage.ru_maxrss),
    )?;
    Ok(code.max(0))
}
