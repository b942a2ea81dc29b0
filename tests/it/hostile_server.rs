//! A hostile or broken Kestra server cannot exhaust the job (issue 10): against a ZIP bomb
//! export, a 512 MiB JSON answer (with and without `Content-Length`) and a body that never
//! ends, `kestra-sync plan` (the release path: the binary, as CI runs it) ends with a clear
//! error naming the URL within the timeout, and its peak memory stays under 300 MiB.
//!
//! The server is a few lines of raw HTTP/1.1 over tokio, so a body can be streamed for ever.
//! The peak RSS is the child's own `ru_maxrss` from `wait4(2)`, taken by a small trampoline
//! (this test binary re-run with only [`trampoline`]): Linux carries the parent's high-water
//! mark into a child's figure across `fork`/`exec`, and this test process may be large.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const LIMIT_MIB: u64 = 300;
const MIB: usize = 1 << 20;

#[derive(Clone, Copy, Debug)]
enum Hostile {
    /// `/configs` answers 512 MiB of JSON, chunked (no length).
    Json512Chunked,
    /// `/configs` answers 512 MiB of JSON with its `Content-Length`.
    Json512Declared,
    /// `/configs` answers a JSON body that never ends.
    Endless,
    /// `/flows/export/by-query` answers a 512 KiB-ish ZIP whose entries inflate to 512 MiB.
    ZipBomb,
}

/// A ZIP of 128 entries of 4 MiB of zeros each (512 MiB inflated), all under the per-entry cap.
fn zip_bomb() -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9));
    let zeros = vec![b'#'; 4 * MIB];
    for i in 0..128 {
        zip.start_file(format!("prod-f{i}.yml"), options).unwrap();
        zip.write_all(&zeros).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

async fn head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut byte).await.ok()?;
        if n == 0 || buf.len() > 64 * 1024 {
            return None;
        }
        buf.extend_from_slice(&byte[..n]);
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    Some(text.split_whitespace().nth(1)?.to_string())
}

async fn answer(stream: &mut TcpStream, body: &[u8], kind: &str) {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body).await;
}

/// Stream `{"version":"aaaa…` for `total` bytes (`None`: for ever), until the client goes.
async fn stream_json(stream: &mut TcpStream, total: Option<usize>, declared: bool) {
    let length = match (total, declared) {
        (Some(n), true) => format!("Content-Length: {n}\r\n"),
        _ => String::new(),
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{length}Connection: close\r\n\r\n{{\"version\":\""
    );
    if stream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let chunk = vec![b'a'; 64 * 1024];
    let mut sent = 13usize;
    loop {
        if total.is_some_and(|t| sent + chunk.len() > t) {
            let _ = stream.write_all(b"\"}").await;
            return;
        }
        if stream.write_all(&chunk).await.is_err() {
            return;
        }
        sent += chunk.len();
    }
}

async fn serve(listener: TcpListener, mode: Hostile, bomb: std::sync::Arc<Vec<u8>>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let bomb = bomb.clone();
        tokio::spawn(async move {
            let Some(path) = head(&mut stream).await else {
                return;
            };
            let json = "application/json";
            match (mode, path.as_str()) {
                (Hostile::Json512Chunked, p) if p.ends_with("/configs") => {
                    stream_json(&mut stream, Some(512 * MIB), false).await
                }
                (Hostile::Json512Declared, p) if p.ends_with("/configs") => {
                    stream_json(&mut stream, Some(512 * MIB), true).await
                }
                (Hostile::Endless, p) if p.ends_with("/configs") => {
                    stream_json(&mut stream, None, false).await
                }
                (_, p) if p.ends_with("/configs") => {
                    answer(&mut stream, br#"{"version":"1.3.0","edition":"OSS"}"#, json).await
                }
                (_, p) if p.contains("/flows/search") => {
                    answer(&mut stream, br#"{"results":[],"total":0}"#, json).await
                }
                (_, p) if p.contains("/flows/export/by-query") => {
                    answer(&mut stream, &bomb, "application/octet-stream").await
                }
                _ => {
                    let _ = stream
                        .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .await;
                }
            }
        });
    }
}

/// What one measured run gave.
struct Measured {
    code: i32,
    peak_mib: u64,
    wall: Duration,
    stderr: String,
}

/// Run `kestra-sync args` through the trampoline, against `url`.
fn measured(url: &str, ws: &Path, args: &[&str]) -> Measured {
    let out = tempfile::NamedTempFile::new().unwrap();
    let start = Instant::now();
    let run = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "hostile_server::trampoline",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
            "-q",
        ])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("KS_TRAMPOLINE_OUT", out.path())
        .env("KS_TRAMPOLINE_ARGS", args.join("\u{1f}"))
        .env("NO_COLOR", "1")
        .env("KESTRA_URL", url)
        .env("KESTRA_SYNC_WORKSPACE", ws)
        .env("KESTRA_SYNC_TARGET_NAMESPACE", "prod")
        .env("KESTRA_SYNC_TIMEOUT", "20")
        .env("KESTRA_SYNC_RETRIES", "1")
        .output()
        .expect("the trampoline runs");
    let wall = start.elapsed();
    let figures = std::fs::read_to_string(out.path()).unwrap_or_default();
    let nums: Vec<i64> = figures
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let [rss_kib, code] = nums[..] else {
        panic!(
            "the trampoline failed: {figures:?}\n{}",
            String::from_utf8_lossy(&run.stderr)
        );
    };
    Measured {
        code: code as i32,
        peak_mib: rss_kib as u64 / 1024,
        wall,
        stderr: String::from_utf8_lossy(&run.stderr).into_owned(),
    }
}

/// Not a test: the small process that runs one `kestra-sync` and reports its own peak RSS
/// (`wait4`), when [`measured`] starts this binary with `KS_TRAMPOLINE_OUT` set.
#[test]
#[ignore = "helper run by the measured tests of this module"]
// the child is reaped by wait4 itself, which `Child::wait` cannot do with its rusage
#[allow(clippy::zombie_processes)]
fn trampoline() {
    let Some(out) = std::env::var_os("KS_TRAMPOLINE_OUT") else {
        return;
    };
    let args = std::env::var("KS_TRAMPOLINE_ARGS").unwrap_or_default();
    let child = Command::new(env!("CARGO_BIN_EXE_kestra-sync"))
        .args(args.split('\u{1f}').filter(|a| !a.is_empty()))
        .env_remove("KS_TRAMPOLINE_OUT")
        .env_remove("KS_TRAMPOLINE_ARGS")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("kestra-sync starts");
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain data that wait4 fills; `pid` is our own child, not reaped.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    std::fs::write(out, format!("{} {code}", usage.ru_maxrss)).unwrap();
}

fn workspace() -> tempfile::TempDir {
    let ws = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(ws.path().join("_flows")).unwrap();
    std::fs::write(
        ws.path().join("_flows/a.yml"),
        "id: a\nnamespace: prod\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
    )
    .unwrap();
    ws
}

#[test]
fn hostile_answers_end_in_a_clear_error_with_bounded_memory() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let bomb = std::sync::Arc::new(zip_bomb());
    assert!(
        bomb.len() < 2 * MIB,
        "a small archive: {} bytes",
        bomb.len()
    );
    let ws = workspace();
    let mut failures = Vec::new();
    for (mode, says) in [
        (Hostile::ZipBomb, "inflate to more than 128 MiB in all"),
        (Hostile::Json512Chunked, "a body larger than 32 MiB"),
        (Hostile::Json512Declared, "a body larger than 32 MiB"),
        (Hostile::Endless, "a body larger than 32 MiB"),
    ] {
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = runtime.spawn(serve(listener, mode, bomb.clone()));
        let m = measured(&url, ws.path(), &["plan"]);
        server.abort();
        eprintln!(
            "{mode:?}: exit {}, peak RSS {} MiB, {:.1} s",
            m.code,
            m.peak_mib,
            m.wall.as_secs_f64()
        );
        let named = m.stderr.contains(&url);
        if m.code != 1 || !m.stderr.contains(says) || !named {
            failures.push(format!(
                "{mode:?}: exit {}, expected a clear error saying {says:?} naming {url}:\n{}",
                m.code, m.stderr
            ));
        }
        if m.peak_mib >= LIMIT_MIB {
            failures.push(format!(
                "{mode:?}: peak RSS {} MiB, over {LIMIT_MIB} MiB",
                m.peak_mib
            ));
        }
        if m.wall > Duration::from_secs(60) {
            failures.push(format!("{mode:?}: took {:?}", m.wall));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
