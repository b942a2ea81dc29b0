//! The comment of a review whose plan could not be computed (flow files that do not parse,
//! a server out of reach, credentials refused): it replaces the last plan in the same sticky
//! comment, so the pull request never shows a plan that no longer holds. Title: the plan
//! failed; body: why, what to do, each problem at its file and line, and that the previous
//! plan in this comment no longer holds. Pure: data in, string out, never over `limit`.

use std::fmt::Write as _;

use super::{code, footer_parts, hard_cut, html, on_server, MarkdownContext};

/// How many problems the comment lists before "and N more".
const PROBLEMS_SHOWN: usize = 50;

/// What failed, for [`render_failed`].
#[derive(Debug, Clone, Default)]
pub struct Failure {
    /// The target namespace.
    pub target: String,
    /// The server's URL as configured (named in the title, host only).
    pub server_url: String,
    /// The error, one line.
    pub message: String,
    /// What to do about it.
    pub advice: String,
    /// Each problem: `file:line` (or `file`) and its message.
    pub problems: Vec<(String, String)>,
    /// What the forge calls the sticky comment: `comment` (GitHub, the default when empty)
    /// or `note` (GitLab).
    pub comment_noun: String,
}

/// The failed-plan comment, never longer than `limit` bytes.
pub fn render_failed(failure: &Failure, ctx: &MarkdownContext, limit: usize) -> String {
    let mut out = String::new();
    if let Some(m) = &ctx.marker {
        out.push_str(m);
        out.push('\n');
    }
    let on = on_server(&failure.server_url, ctx);
    let _ = writeln!(
        out,
        "### ❌ Kestra plan for {}{on}: failed",
        code(&failure.target)
    );
    let noun = match failure.comment_noun.trim() {
        "" => "comment",
        n => n,
    };
    let _ = writeln!(
        out,
        "\n> [!CAUTION]\n> **The plan could not be computed.** The previous plan in this {} no longer holds: do not merge until a new plan succeeds.",
        html(noun)
    );
    let _ = write!(
        out,
        "\n{}\n\n**What to do:** {}\n",
        html(&failure.message),
        html(&failure.advice)
    );
    if !failure.problems.is_empty() {
        out.push('\n');
        for (place, message) in failure.problems.iter().take(PROBLEMS_SHOWN) {
            let _ = writeln!(out, "- {}: {}", code(place), code(message));
        }
        if failure.problems.len() > PROBLEMS_SHOWN {
            let _ = writeln!(
                out,
                "- _…and {} more: see the job log_",
                failure.problems.len() - PROBLEMS_SHOWN
            );
        }
    }
    out.push_str(&footer_parts(ctx, "plan failed for"));
    hard_cut(out, limit)
}
