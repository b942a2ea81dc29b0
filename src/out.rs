//! The one way text leaves the process on stdout and stderr (`print!` and friends are
//! refused by clippy everywhere else: see `clippy.toml`). Every write is scrubbed of the
//! configured secrets ([`crate::secrets`]); what else happens depends on the log's reader:
//!
//! - **GitHub Actions** ([`Mode::GitHub`]): the runner reads every line of stdout *and*
//!   stderr as a possible workflow command (`::cmd::` after leading whitespace, or
//!   `##[cmd]` anywhere in the line). So text (the plan, messages, logs) is written only
//!   while command processing is stopped, between `::stop-commands::<token>` and `::<token>::`
//!   with a fresh random token per stop (GitHub's documented way), and the tool's own
//!   commands ([`command`]) only while it runs. Both streams go to stdout in this mode, in
//!   order, so the stop and the text it covers can never be reordered by two pipes.
//!   [`finish`] resumes processing before the process exits (the stop would otherwise last
//!   for the next steps of the job).
//! - **Plain** (a terminal, GitLab CI, any other CI): text as given; product output on
//!   stdout, messages on stderr. Untrusted parts are already made visible by the renderers
//!   ([`crate::untrusted`]), so no raw ESC or CR from a pull request or a server can
//!   forge a GitLab `section_start` or rewrite a terminal line; the tool's own control
//!   sequences (colour, GitLab sections) go through [`control`].
//!
//! Messages ([`message`], [`message_err`]) are untrusted as a whole: they are made visible
//! here (hidden characters shown, tab/newline kept) because they usually carry an error's
//! text.

use std::borrow::Cow;
use std::io::Write as _;
use std::sync::Mutex;

use crate::secrets;
use crate::untrusted;

/// Who reads the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Plain,
    GitHub,
}

#[derive(Default)]
struct State {
    mode: Mode,
    /// The token that resumes command processing, while it is stopped.
    stopped: Option<String>,
}

static STATE: Mutex<State> = Mutex::new(State {
    mode: Mode::Plain,
    stopped: None,
});

fn state() -> std::sync::MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Set who reads the log (GitHub Actions: [`Mode::GitHub`]). Call once, early.
pub fn set_mode(mode: Mode) {
    state().mode = mode;
}

pub fn mode() -> Mode {
    state().mode
}

/// A fresh stop token: 128 random bits, hex, absent from `text`.
fn fresh_token(text: &str) -> String {
    loop {
        let t = format!("ks-{:032x}", rand::random::<u128>());
        if !text.to_ascii_lowercase().contains(&t) {
            return t;
        }
    }
}

/// The bytes to write for `text` (GitHub: after stopping commands if they run, rotating
/// the token if `text` could contain it), and the new state. Pure, for tests.
fn plan_text<'a>(stopped: &mut Option<String>, mode: Mode, text: &'a str) -> Cow<'a, str> {
    let text = secrets::scrub(text);
    if mode == Mode::Plain || text.is_empty() {
        // No copy: a 10,000-flow JSON apply report is 13 MB.
        return text;
    }
    let mut out = String::new();
    let lower = text.to_ascii_lowercase();
    if let Some(t) = stopped.as_ref() {
        if lower.contains(t.as_str()) {
            // The text holds the token (it cannot guess it, but never trust luck): resume
            // and stop again with another.
            out.push_str(&format!("::{t}::\n"));
            *stopped = None;
        }
    }
    if stopped.is_none() {
        let t = fresh_token(&lower);
        out.push_str(&format!("::stop-commands::{t}\n"));
        *stopped = Some(t);
    }
    out.push_str(&text);
    if !text.ends_with('\n') {
        // A command must start a line of its own.
        out.push('\n');
    }
    Cow::Owned(out)
}

/// The bytes to write for one of the tool's own workflow commands (GitHub: after resuming).
fn plan_command(stopped: &mut Option<String>, line: &str) -> String {
    let mut out = String::new();
    if let Some(t) = stopped.take() {
        out.push_str(&format!("::{t}::\n"));
    }
    out.push_str(line);
    if !line.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn write_stdout(bytes: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(bytes.as_bytes());
    let _ = o.flush();
}

fn write_stderr(bytes: &str) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(bytes.as_bytes());
    let _ = e.flush();
}

/// The product (the plan, the apply report, JSON) on stdout. Its untrusted parts must
/// already be visible (the renderers do it); secrets are scrubbed here.
pub fn product(text: &str) {
    let mut st = state();
    let mode = st.mode;
    let bytes = plan_text(&mut st.stopped, mode, text);
    write_stdout(&bytes);
}

/// A message for people (an error, a warning, a note), one or more lines, on stderr
/// (GitHub: stdout, in order). Made visible as a whole and scrubbed.
pub fn message_err(text: &str) {
    let text = untrusted::visible(text);
    let mut st = state();
    let mode = st.mode;
    let bytes = plan_text(&mut st.stopped, mode, &text);
    match mode {
        Mode::GitHub => write_stdout(&bytes),
        Mode::Plain => {
            let mut b = bytes.into_owned();
            if !b.ends_with('\n') {
                b.push('\n');
            }
            write_stderr(&b)
        }
    }
}

/// A message for people on stdout (the CI log's own lines, e.g. GitLab's `warning: …`).
/// `prefix` is the tool's own (it may hold colour); `text` is made visible and scrubbed.
pub fn message(prefix: &str, text: &str) {
    let text = untrusted::visible(text);
    let line = if prefix.is_empty() {
        format!("{text}\n")
    } else {
        format!("{prefix} {text}\n")
    };
    let mut st = state();
    let mode = st.mode;
    let bytes = plan_text(&mut st.stopped, mode, &line);
    write_stdout(&bytes);
}

/// One of the tool's own GitHub workflow commands (`::error …::`, `::group::`,
/// `::add-mask::`), built by `ci::commands` (which escapes and scrubs what it carries).
/// Printed as is, with command processing running.
pub fn command(line: &str) {
    let mut st = state();
    let bytes = plan_command(&mut st.stopped, line);
    write_stdout(&bytes);
}

/// The tool's own control sequences on stdout (GitLab `section_start`/`section_end` lines),
/// as given: never put untrusted text here.
pub fn control(line: &str) {
    let mut st = state();
    let mode = st.mode;
    let bytes = match mode {
        Mode::GitHub => plan_text(&mut st.stopped, mode, line),
        Mode::Plain => Cow::Borrowed(line),
    };
    write_stdout(&bytes);
}

/// Resume command processing if it is stopped. Call before the process exits.
pub fn finish() {
    let mut st = state();
    if let Some(t) = st.stopped.take() {
        write_stdout(&format!("::{t}::\n"));
    }
}

/// The `tracing` writer: every log event goes through [`message_err`] (visible, scrubbed,
/// GitHub-safe).
#[derive(Debug, Clone, Copy, Default)]
pub struct LogWriter;

/// One log event, buffered until it is complete.
pub struct LogEvent(Vec<u8>);

impl std::io::Write for LogEvent {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogEvent {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            message_err(&String::from_utf8_lossy(&self.0));
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogEvent;
    fn make_writer(&'a self) -> LogEvent {
        LogEvent(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_passes_as_is() {
        let mut stopped = None;
        assert_eq!(
            plan_text(&mut stopped, Mode::Plain, "  ::error::x"),
            "  ::error::x"
        );
        assert!(stopped.is_none());
    }

    #[test]
    fn github_text_is_written_with_commands_stopped_and_commands_resume_them() {
        let mut stopped = None;
        let a = plan_text(&mut stopped, Mode::GitHub, "   ::add-mask::x\n");
        let t = stopped.clone().unwrap();
        assert_eq!(a, format!("::stop-commands::{t}\n   ::add-mask::x\n"));
        // Still stopped: no second stop line.
        let b = plan_text(&mut stopped, Mode::GitHub, "more");
        assert_eq!(b, "more\n");
        let c = plan_command(&mut stopped, "::error::ours");
        assert_eq!(c, format!("::{t}::\n::error::ours\n"));
        assert!(stopped.is_none());
        // A new stop has a new token.
        let _ = plan_text(&mut stopped, Mode::GitHub, "x");
        assert_ne!(stopped.as_deref(), Some(t.as_str()));
    }

    #[test]
    fn text_holding_the_token_rotates_it() {
        let mut stopped = None;
        let _ = plan_text(&mut stopped, Mode::GitHub, "a");
        let t = stopped.clone().unwrap();
        let upper = format!("::{}::", t.to_uppercase());
        let out = plan_text(&mut stopped, Mode::GitHub, &upper);
        let t2 = stopped.clone().unwrap();
        assert_ne!(t, t2);
        assert!(
            out.starts_with(&format!("::{t}::\n::stop-commands::{t2}\n")),
            "{out}"
        );
    }
}
