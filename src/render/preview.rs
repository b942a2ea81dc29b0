//! The **Preview** section of the plan comment (issue 14): where a pull/merge request's
//! preview lives, a link to it in the Kestra UI, what was deployed and when; or that it was
//! removed, or why it was not deployed. Pure: data in, Markdown out.
//!
//! The section sits in the sticky comment between two hidden lines ([`START`], [`END`]), just
//! before the footer, so a later run ([`splice`]) replaces it and nothing else: the plan, its
//! lock line and the footer stay byte for byte. Every string a request or a server controls
//! (paths, called namespaces and flow ids, error text) goes through [`crate::untrusted`]: code
//! spans on one line (which can never be a whole hidden line) or a fenced block.

use std::fmt::Write as _;

use crate::flow::preview::Call;
use crate::untrusted::{md_code, md_fence};

/// Opens the Preview section: a whole line of its own.
pub const START: &str = "<!-- kestra-sync:preview -->";
/// Closes the Preview section: a whole line of its own.
pub const END: &str = "<!-- /kestra-sync:preview -->";

/// How many calls of each kind the section names before "and N more".
const LISTED: usize = 15;

/// A preview deployed by this run.
#[derive(Debug, Clone)]
pub struct Deployed<'a> {
    /// The preview namespace (validated: a Kestra namespace).
    pub root: &'a str,
    /// Its page in the Kestra UI (a URL built from our settings), when one can be made.
    pub link: Option<&'a str>,
    pub added: usize,
    pub updated: usize,
    pub deleted: usize,
    pub unchanged: usize,
    /// Namespace files (with `--namespace-files`): added, overwritten, deleted, unchanged.
    pub files: Option<(usize, usize, usize, usize)>,
    /// Triggers disabled in the preview copies.
    pub triggers: usize,
    /// `(git path, call, preview namespace)`: calls pointed into the preview.
    pub remapped: &'a [(String, Call, String)],
    /// `(git path, call)`: calls to flows this request does not hold: they run the live flow.
    pub live_calls: &'a [(String, Call)],
    /// `(git path, call)`: calls whose flow is chosen at run time.
    pub dynamic_calls: &'a [(String, Call)],
    /// When, in UTC (`Thu, 03 Dec 2026 09:45:19 UTC`).
    pub at: &'a str,
    /// The GitHub deployment's outcome, in the tool's own words (no text from GitHub).
    pub deployment: Option<&'a str>,
}

/// What the Preview section says.
#[derive(Debug, Clone)]
pub enum Section<'a> {
    Deployed(Deployed<'a>),
    /// The preview tree was emptied when the request closed.
    Removed {
        root: &'a str,
        /// Flows deleted.
        deleted: usize,
        /// Namespace files deleted.
        files: usize,
        at: &'a str,
        /// The GitHub deployments' outcome, in the tool's own words.
        deployment: Option<&'a str>,
    },
    /// No preview was deployed by this run: `why` (the tool's words), and the error that
    /// stopped it, if any (untrusted: shown in a fenced block).
    NotDeployed {
        root: Option<&'a str>,
        why: &'a str,
        error: Option<&'a str>,
    },
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn title(root: Option<&str>, link: Option<&str>, state: &str) -> String {
    match (root, link) {
        (Some(r), Some(l)) => format!("#### 🔎 Preview [{}](<{l}>){state}\n\n", md_code(r)),
        (Some(r), None) => format!("#### 🔎 Preview {}{state}\n\n", md_code(r)),
        (None, _) => format!("#### 🔎 Preview{state}\n\n"),
    }
}

fn place(path: &str, call: &Call) -> String {
    md_code(&format!("{path}:{}", call.line))
}

fn target(call: &Call) -> String {
    md_code(&format!("{}/{}", call.namespace, call.flow_id))
}

fn list<T>(out: &mut String, head: &str, items: &[T], line: impl Fn(&T) -> String) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{head}\n");
    for item in items.iter().take(LISTED) {
        let _ = writeln!(out, "- {}", line(item));
    }
    if items.len() > LISTED {
        let _ = writeln!(
            out,
            "- … and {} more (all in the job log)",
            items.len() - LISTED
        );
    }
}

/// The section as Markdown (without its hidden lines), for the comment and the job summary.
/// `full`: with the lists of calls; without them it is a few lines, for a comment that has
/// little room left.
pub fn render(section: &Section<'_>, full: bool) -> String {
    match section {
        Section::Deployed(d) => {
            let mut out = title(Some(d.root), d.link, "");
            let changes = d.added + d.updated + d.deleted;
            let what = if changes == 0 {
                format!(
                    "already up to date ({})",
                    plural(d.unchanged, "flow", "flows")
                )
            } else {
                format!(
                    "{} added, {} updated, {} deleted, {} unchanged",
                    d.added, d.updated, d.deleted, d.unchanged
                )
            };
            let what = match d.files {
                Some((added, overwritten, deleted, unchanged)) => format!(
                    "{what}; namespace files: {added} added, {overwritten} overwritten, {deleted} deleted, {unchanged} unchanged"
                ),
                None => what,
            };
            let _ = writeln!(
                out,
                "Deployed {}: {what}. {} disabled (run the flows by hand from the Kestra UI); {} pointed into the preview.",
                d.at,
                plural(d.triggers, "trigger", "triggers"),
                plural(d.remapped.len(), "call", "calls"),
            );
            if let Some(dep) = d.deployment {
                let _ = writeln!(out, "\nGitHub deployment: {dep}.");
            }
            if !full {
                let live = d.live_calls.len() + d.dynamic_calls.len();
                if live > 0 {
                    let _ = writeln!(
                        out,
                        "\n{} the live flow or one chosen at run time (listed in the job log).",
                        plural(live, "call reaches", "calls reach")
                    );
                }
                return out;
            }
            list(
                &mut out,
                "**Calls the live flow** (not part of this sync: running the preview runs the real flow):",
                d.live_calls,
                |(path, call)| format!("{} from {}", target(call), place(path, call)),
            );
            list(
                &mut out,
                "**Calls a flow chosen at run time** (an expression: it may be the live one):",
                d.dynamic_calls,
                |(path, call)| format!("{} from {}", target(call), place(path, call)),
            );
            out
        }
        Section::Removed {
            root,
            deleted,
            files,
            at,
            deployment,
        } => {
            let mut out = title(Some(root), None, ": removed");
            let files = match files {
                0 => String::new(),
                n => format!(" and {}", plural(*n, "namespace file", "namespace files")),
            };
            let _ = writeln!(
                out,
                "Removed {at}: {}{files} deleted from the preview namespace and its children.",
                plural(*deleted, "flow", "flows")
            );
            if let Some(dep) = deployment {
                let _ = writeln!(out, "\nGitHub deployment: {dep}.");
            }
            out
        }
        Section::NotDeployed { root, why, error } => {
            let mut out = title(*root, None, ": not deployed");
            let _ = writeln!(out, "{why}");
            if let (Some(e), true) = (error, full) {
                out.push('\n');
                out.push_str(&md_fence(e, "text"));
            }
            out
        }
    }
}

/// `body` (a sticky comment) with its Preview section replaced by `section`; when it has
/// none, the section goes before the comment's tail: the footer (`<sub>…</sub>`) and the
/// tool's hidden lines after it (`<!-- kestra-sync:… -->`, such as the risk state, which must
/// stay last), or at the end. Only whole lines that are exactly [`START`] / [`END`] count, the
/// last pair found: a flow's text in the plan (in a diff every line starts with `+`, `-` or a
/// space; elsewhere it is in code spans) can never open or close the section.
pub fn splice(body: &str, section: &str) -> String {
    let block = format!("{START}\n{}\n{END}\n", section.trim_end());
    let start_line = format!("\n{START}\n");
    let end_line = format!("\n{END}\n");
    if let Some(s) = body.rfind(&start_line) {
        if let Some(e) = body[s..].find(&end_line) {
            let end = s + e + end_line.len();
            return format!("{}\n{block}{}", &body[..s], &body[end..]);
        }
    }
    // the tail: trailing blank lines and hidden lines of ours, then the footer line; the
    // first line (the marker) always stays first
    let lines: Vec<&str> = body.split_inclusive('\n').collect();
    let hidden = |l: &str| {
        let l = l.trim_end();
        l.is_empty() || (l.starts_with("<!-- kestra-sync:") && l.ends_with("-->"))
    };
    let mut at = lines.len();
    while at > 1 && hidden(lines[at - 1]) {
        at -= 1;
    }
    if at > 1 && lines[at - 1].starts_with("<sub>") {
        at -= 1;
    }
    let head = lines[..at].concat();
    let tail = lines[at..].concat();
    let tail = tail.trim_start_matches('\n');
    let head = head.trim_end_matches('\n');
    if tail.is_empty() {
        format!("{head}\n\n{block}")
    } else {
        format!("{head}\n\n{block}\n{tail}")
    }
}

#[cfg(test)]
#[path = "preview_tests.rs"]
mod tests;
