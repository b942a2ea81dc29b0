//! The short comment a review run posts when it made the plan riskier than the sticky
//! comment showed before (new deletes, or a plan that now fails): an edit of the sticky
//! comment notifies nobody, a new comment does. A few lines: what got riskier, and a link to
//! the updated plan comment. Flow names only in code spans; the link is the forge's own
//! address of the comment, never anything from a flow. Pure: data in, string out.

use std::fmt::Write as _;

use super::{code, html, on_server, MarkdownContext};
use crate::risk::{Deleted, Riskier, Verdict};

/// The hidden first line of the short comment: the plan's marker with `kestra-sync:riskier`
/// (it never starts with the plan's marker, so it is never taken for the sticky comment).
pub fn riskier_marker(marker: &str) -> String {
    marker.replacen("kestra-sync:plan", "kestra-sync:riskier", 1)
}

/// The short comment: `risk` on `target` at `server_url`, linking to the updated sticky
/// comment at `link` (GitHub's `html_url`, GitLab's merge request URL with `#note_<id>`)
/// when there is one; `noun` is what the forge calls it (`comment`, `note`).
pub fn render_riskier(
    target: &str,
    server_url: &str,
    risk: &Riskier,
    link: Option<&str>,
    noun: &str,
    ctx: &MarkdownContext,
) -> String {
    let mut out = String::new();
    if let Some(m) = &ctx.marker {
        out.push_str(&riskier_marker(m));
        out.push('\n');
    }
    let on = on_server(server_url, ctx);
    let _ = writeln!(
        out,
        "### ⚠️ Kestra plan for {}{on}: riskier than before\n",
        code(target)
    );
    let mut said = Vec::new();
    match risk.now_fails {
        Some(Verdict::Blocked) => {
            said.push("**The plan now fails**: apply would refuse it.".to_string())
        }
        Some(_) => said.push("**The plan now fails**: it could not be computed.".to_string()),
        None => {}
    }
    if risk.new_deletes > 0 {
        let n = risk.new_deletes;
        let what = if n == 1 {
            "1 delete".to_string()
        } else {
            format!("{n} deletes")
        };
        let mut line = format!("**This push adds {what}**");
        if !risk.names.is_empty() {
            let names: Vec<String> = risk
                .names
                .iter()
                .map(|d| match d {
                    Deleted::Flow(name) => code(name),
                    Deleted::File(ns, path) => {
                        format!("namespace file {} of {}", code(path), code(ns))
                    }
                })
                .collect();
            let _ = write!(line, ": {}", names.join(", "));
            if n > risk.names.len() {
                let _ = write!(line, " and {} more", n - risk.names.len());
            }
        }
        line.push('.');
        said.push(line);
    }
    let _ = writeln!(out, "{}", said.join(" "));
    let noun = html(noun);
    let link = link
        .and_then(|l| url::Url::parse(l).ok())
        .filter(|u| matches!(u.scheme(), "https" | "http"));
    match link {
        Some(u) => {
            let _ = writeln!(
                out,
                "\nRead [the updated plan {noun}](<{u}>) before approving."
            );
        }
        None => {
            let _ = writeln!(
                out,
                "\nRead the updated plan {noun} on this request before approving."
            );
        }
    }
    out
}

/// `body` with the hidden state line ([`crate::risk::State::line`]) as its last line.
pub fn with_state(body: &str, state_line: &str) -> String {
    format!("{}\n\n{state_line}\n", body.trim_end())
}

#[cfg(test)]
#[path = "markdown_riskier_tests.rs"]
mod tests;
