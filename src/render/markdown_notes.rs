//! The short Markdown of a CI run that is not the plan itself: the notes under the plan in
//! the job summary (a skipped or failed comment, a dry run, the drift verdict), the summary
//! of a fork's skipped plan, and of a failed run. Every text from outside (error messages,
//! reasons, file names) is escaped here, as everywhere in `render`.

use super::{code, render, MarkdownContext};
use crate::plan::Plan;

/// The plan within `room` bytes, then the notes, each followed by a blank line.
pub fn render_with_notes(
    plan: &Plan,
    ctx: &MarkdownContext,
    room: usize,
    notes: &[String],
) -> String {
    let notes: String = notes.iter().map(|n| format!("{n}\n")).collect();
    let plan = render(plan, ctx, room.saturating_sub(notes.len()));
    format!("{plan}\n{notes}")
}

/// A fork's review whose plan against the server was skipped, and why.
pub fn plan_skipped(target: &str, why: &str) -> String {
    format!(
        "### Kestra plan for {}: skipped\n\n> [!NOTE]\n> {}.\n",
        code(target),
        text(why)
    )
}

/// The comment or note was not posted, on purpose or for lack of rights.
pub fn post_skipped(noun: &str, reason: &str) -> String {
    format!(
        "> [!NOTE]\n> The plan {noun} was skipped: {}.\n",
        text(reason)
    )
}

/// The forge failed to take the comment or note.
pub fn post_failed(noun: &str, error: &str) -> String {
    format!(
        "> [!WARNING]\n> Could not post the plan {noun}: {}\n",
        text(error)
    )
}

/// A dry run on the deployed branch; `option` is how the user turned it on.
pub fn dry_run_note(option: &str) -> String {
    format!(
        "_Dry run ({}): nothing was written._\n",
        code(&format!("{option}: true"))
    )
}

/// A plan shown for a reason (not the deployed branch, …).
pub fn plan_only_note(why: &str) -> String {
    format!("_{}._\n", text(why))
}

/// The verdict of a drift check.
pub fn drift_verdict(drift: bool) -> String {
    if drift {
        "**Drift check**: the server differs from Git.\n".into()
    } else {
        "**Drift check**: no drift, the server matches Git.\n".into()
    }
}

/// A failed run: the error, then each `(file, message)` it names.
pub fn failure(message: &str, problems: &[(&str, &str)]) -> String {
    let list: Vec<String> = problems
        .iter()
        .map(|(file, m)| format!("- {}: {}", code(file), text(m)))
        .collect();
    let list = if list.is_empty() {
        String::new()
    } else {
        format!("\n{}\n", list.join("\n"))
    };
    format!("### ❌ kestra-sync failed\n\n{}\n{list}", text(message))
}

/// A message that may carry text from a server, a file or the event (an error, a reason):
/// in a code span, where no mention, reference, link, image or HTML renders, on one line.
fn text(s: &str) -> String {
    code(s)
}

/// The hidden marker of the comment that reports a refused (or forced) plan lock on a merged
/// request: one per target, updated in place. Derived from the plan comment's `marker`.
pub fn stale_marker(marker: &str) -> String {
    marker.replacen("kestra-sync:plan", "kestra-sync:stale", 1)
}

/// The plan lock did not hold on the push that merged `request` (e.g. `#12`, `!7`): the
/// comment on that request, and the job summary. `applied`: `on-stale: warn` applied anyway.
/// `marker`: the hidden first line (the comment), or `None` (the summary).
pub fn lock_refused(
    marker: Option<&str>,
    target: &str,
    request: Option<&str>,
    refusal: &crate::lock::Refusal,
    applied: bool,
    option: &str,
) -> String {
    let mut out = String::new();
    if let Some(m) = marker {
        out.push_str(m);
        out.push('\n');
    }
    let reviewed = match request {
        // The tool's own reference to the request (`#7`, `!7`): it should link.
        Some(r) => format!("the plan reviewed on {}", super::html(r)),
        None => "the reviewed plan".to_string(),
    };
    if applied {
        out.push_str(&format!(
            "### ⚠️ Kestra apply to {}: applied although it is not {reviewed}\n\n",
            code(target)
        ));
    } else {
        out.push_str(&format!(
            "### ⛔ Kestra apply to {} refused: it is not {reviewed}\n\n",
            code(target)
        ));
    }
    if let Some(w) = &refusal.whole {
        out.push_str(&format!("- {}\n", text(w)));
    }
    for m in &refusal.flows {
        out.push_str(&format!(
            "- **{}** {}{}: {}\n",
            m.label(),
            if m.file { "namespace file " } else { "" },
            code(&m.name()),
            // The tool's own words (revisions, what changed), never the server's text.
            super::html(&m.detail())
        ));
    }
    if applied {
        out.push_str(&format!(
            "\nApplied anyway because {} is set: changes made on the server since the review may have been overwritten.\n",
            code(&format!("{option}: warn"))
        ));
    } else {
        out.push_str(
            "\nNothing was written. To apply, plan again and review that plan: re-run the pull/merge request's plan job (or open a new request with this change), then re-run this job.\n",
        );
    }
    out
}

/// How the plan lock went on a push to the deployed branch, for the job summary.
pub fn lock_note(note: &str) -> String {
    format!("> [!NOTE]\n> {}\n", text(note))
}
