//! The terminal plan, in the shape people know from `terraform plan`: one line per change
//! with a sign (`+` add, `~` update, `-` delete), the diffs, then the one-line verdict
//! `Plan: 2 to add, 1 to update, 0 to delete.` Colour is a parameter: the caller decides
//! (NO_COLOR, a terminal, or `--color`), so this stays pure and snapshot-testable.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use crate::plan::{FlowChange, Plan, SyncState};
use crate::untrusted;

fn style(color: bool, c: AnsiColor, bold: bool) -> (String, String) {
    if !color {
        return (String::new(), String::new());
    }
    let mut s = Style::new().fg_color(Some(c.into()));
    if bold {
        s = s.bold();
    }
    (s.render().to_string(), s.render_reset().to_string())
}

fn sign(state: SyncState) -> (&'static str, AnsiColor, &'static str) {
    match state {
        SyncState::Added => ("+", AnsiColor::Green, "will be created"),
        SyncState::Updated => ("~", AnsiColor::Yellow, "will be updated"),
        SyncState::Deleted => ("-", AnsiColor::Red, "will be deleted"),
        SyncState::Unchanged => (" ", AnsiColor::White, "unchanged"),
        SyncState::Kept => ("!", AnsiColor::Cyan, "is not in Git, kept"),
        SyncState::Invalid => (
            "x",
            AnsiColor::Red,
            "is refused by the server; skipped (--ignore-invalid-flows)",
        ),
    }
}

/// Where the plan was computed: `prod (and child namespaces) on http://host, Kestra 1.3.0, tenant main`.
pub fn target_line(plan: &Plan) -> String {
    let mut s = format!("`{}`", v(&plan.target_namespace));
    if plan.include_child_namespaces {
        s.push_str(" and its child namespaces");
    }
    if !plan.server.url.is_empty() {
        let _ = write!(s, " on {}", v(&plan.server.url));
    }
    let mut details = Vec::new();
    if let Some(version) = &plan.server.version {
        details.push(format!("Kestra {}", v(version)));
    }
    if let Some(t) = &plan.server.tenant {
        details.push(format!("tenant {}", v(t)));
    }
    if !details.is_empty() {
        let _ = write!(s, " ({})", details.join(", "));
    }
    s
}

/// `Plan: 2 to add, 1 to update, 0 to delete.` or `No changes. …`.
pub fn summary_line(plan: &Plan) -> String {
    let s = &plan.summary;
    if !s.has_changes() {
        let n = s.unchanged;
        let (flows, verb) = if n == 1 {
            ("flow", "matches")
        } else {
            ("flows", "match")
        };
        let files = match s.files {
            Some(f) => format!(" and {} namespace file(s)", f.unchanged),
            None => String::new(),
        };
        let verb = if files.is_empty() { verb } else { "match" };
        let children = if plan.include_child_namespaces {
            " and its child namespaces"
        } else {
            ""
        };
        return format!(
            "No changes. {n} {flows}{files} in `{}`{children} {verb} Git.",
            v(&plan.target_namespace)
        );
    }
    let files = match &s.files {
        Some(f) => format!(" Namespace files: {}.", crate::render::files::counts(f)),
        None => String::new(),
    };
    format!(
        "Plan: {} to add, {} to update, {} to delete.{files}",
        s.added, s.updated, s.deleted
    )
}

fn flow_line(out: &mut String, f: &FlowChange, color: bool) {
    let (sym, c, what) = sign(f.sync_state);
    let (on, off) = style(color, c, true);
    let _ = write!(
        out,
        "  {on}{sym}{off} {on}{}/{}{off} {what}",
        v(&f.namespace),
        v(&f.flow_id)
    );
    match (&f.git_path, f.revision) {
        (Some(p), Some(r)) => {
            let _ = write!(out, " ({}, revision {r})", v(p));
        }
        (Some(p), None) => {
            let _ = write!(out, " ({})", v(p));
        }
        (None, Some(r)) => {
            let _ = write!(out, " (revision {r})");
        }
        (None, None) => {}
    }
    out.push('\n');
}

/// Untrusted text on one line, nothing hidden ([`untrusted::visible_line`]).
fn v(s: &str) -> std::borrow::Cow<'_, str> {
    untrusted::visible_line(s)
}

fn diff_block(out: &mut String, diff: &str, color: bool) {
    // A lone CR breaks the shown line as YAML breaks it; nothing hidden stays hidden.
    let diff = untrusted::visible_diff(diff);
    for line in diff.lines() {
        let (c, bold) = if line.starts_with("+++") || line.starts_with("---") {
            (Some(AnsiColor::White), true)
        } else if line.starts_with('+') {
            (Some(AnsiColor::Green), false)
        } else if line.starts_with('-') {
            (Some(AnsiColor::Red), false)
        } else if line.starts_with("@@") {
            (Some(AnsiColor::Cyan), false)
        } else {
            (None, false)
        };
        match c {
            Some(c) => {
                let (on, off) = style(color, c, bold);
                let _ = writeln!(out, "      {on}{line}{off}");
            }
            None => {
                let _ = writeln!(out, "      {line}");
            }
        }
    }
}

/// What would make apply refuse the plan, then the plan's warnings: first, so nobody
/// reads the plan without them.
fn blockers(out: &mut String, plan: &Plan, color: bool) {
    if !plan.blockers.is_empty() {
        let (on, off) = style(color, AnsiColor::Red, true);
        let _ = writeln!(out, "{on}Error:{off} apply would refuse this plan:");
        for b in &plan.blockers {
            let _ = writeln!(out, "  - {}: {}", b.kind.as_str(), v(&b.message));
        }
        out.push('\n');
    }
    for w in &plan.warnings {
        let (on, off) = style(color, AnsiColor::Yellow, true);
        let _ = writeln!(out, "{on}Warning:{off} {}", v(w));
    }
    if !plan.warnings.is_empty() {
        out.push('\n');
    }
}

/// The server's errors and the warnings of one flow, each at `file:line`.
fn flow_notes(out: &mut String, f: &FlowChange, color: bool) {
    for e in &f.errors {
        let (on, off) = style(color, AnsiColor::Red, true);
        let _ = writeln!(
            out,
            "      {on}error:{off} {}: {}",
            v(&f.place(e.line)),
            v(&e.message)
        );
    }
    for w in &f.warnings {
        let (on, off) = style(color, AnsiColor::Yellow, true);
        let place = if f.git_path.is_some() {
            f.place(w.line)
        } else {
            format!("{}/{}", f.namespace, f.flow_id)
        };
        let _ = writeln!(
            out,
            "      {on}warning ({}):{off} {}: {}",
            v(&w.kind),
            v(&place),
            v(&w.message)
        );
    }
}

/// The whole terminal plan.
pub fn render(plan: &Plan, color: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Kestra plan for {}", target_line(plan));
    out.push('\n');
    blockers(&mut out, plan, color);
    // creates, then updates, then deletes: the order apply runs them in, as in the comment
    let mut changes: Vec<&FlowChange> = plan.changes().collect();
    changes.sort_by_key(|f| f.sync_state);
    if !changes.is_empty() {
        out.push_str("kestra-sync will perform the following actions:\n\n");
        for f in &changes {
            flow_line(&mut out, f, color);
            flow_notes(&mut out, f, color);
            if let Some(diff) = &f.diff {
                diff_block(&mut out, diff, color);
            }
            out.push('\n');
        }
    }
    let invalid: Vec<&FlowChange> = plan
        .flows
        .iter()
        .filter(|f| f.sync_state == SyncState::Invalid)
        .collect();
    if !invalid.is_empty() {
        let (on, off) = style(color, AnsiColor::Red, true);
        let _ = writeln!(
            out,
            "{on}{} flow(s) refused by the server are skipped{off} (--ignore-invalid-flows): not written, and their copies on the server stay:",
            invalid.len()
        );
        for f in invalid {
            flow_line(&mut out, f, color);
            flow_notes(&mut out, f, color);
        }
        out.push('\n');
    }
    let quiet: Vec<&FlowChange> = plan
        .flows
        .iter()
        .filter(|f| f.sync_state == SyncState::Unchanged)
        .filter(|f| !f.warnings.is_empty() || !f.errors.is_empty())
        .collect();
    if !quiet.is_empty() {
        out.push_str("Warnings about flows the plan does not change:\n");
        for f in quiet {
            flow_line(&mut out, f, color);
            flow_notes(&mut out, f, color);
        }
        out.push('\n');
    }
    let kept: Vec<&FlowChange> = plan
        .flows
        .iter()
        .filter(|f| f.sync_state == SyncState::Kept)
        .collect();
    if !kept.is_empty() {
        let _ = writeln!(
            out,
            "{} flow(s) on the server are not in Git and stay (pass --delete to delete them):",
            kept.len()
        );
        for f in kept {
            flow_line(&mut out, f, color);
            flow_notes(&mut out, f, color);
        }
        out.push('\n');
    }
    out.push_str(&crate::render::files::text_section(plan, &|o, d| {
        diff_block(o, d, color)
    }));
    let (on, off) = style(color, AnsiColor::White, true);
    let _ = write!(out, "{on}{}{off}", summary_line(plan));
    if plan.summary.has_changes() && plan.summary.unchanged > 0 {
        let _ = write!(out, " ({} unchanged)", plan.summary.unchanged);
    }
    out.push('\n');
    if plan.summary.deleted > 0 {
        let (on, off) = style(color, AnsiColor::Red, true);
        let _ = writeln!(
            out,
            "{on}Warning:{off} {} flow(s) will be deleted because `delete` is on.",
            plan.summary.deleted
        );
    }
    out
}

/// The apply report: one line per change with its outcome, then the totals.
pub fn render_report(report: &crate::apply::Report, color: bool) -> String {
    use crate::apply::Outcome;
    let mut out = String::new();
    for r in &report.flows {
        let (sym, c, verb) = match (&r.outcome, r.sync_state) {
            (Outcome::Unchanged | Outcome::Kept, _) => continue,
            (Outcome::Applied { .. }, SyncState::Added) => ("+", AnsiColor::Green, "created"),
            (Outcome::Applied { .. }, SyncState::Deleted) => ("-", AnsiColor::Red, "deleted"),
            (Outcome::Applied { .. }, _) => ("~", AnsiColor::Yellow, "updated"),
            (Outcome::Failed { .. }, _) => ("x", AnsiColor::Red, "FAILED"),
            (Outcome::Unknown { .. }, _) => ("!", AnsiColor::Red, "UNKNOWN"),
            (Outcome::Stale { .. }, _) => ("!", AnsiColor::Red, "STALE"),
            (Outcome::NotAttempted { .. }, _) => ("?", AnsiColor::Magenta, "not attempted"),
        };
        let (on, off) = style(color, c, true);
        let _ = write!(
            out,
            "  {on}{sym}{off} {}/{}: {on}{verb}{off}",
            v(&r.namespace),
            v(&r.flow_id)
        );
        match &r.outcome {
            Outcome::Applied {
                revision: Some(rev),
            } => match r.previous_revision {
                Some(prev) => {
                    let _ = write!(out, " (revision {prev} -> {rev})");
                }
                None => {
                    let _ = write!(out, " (revision {rev})");
                }
            },
            Outcome::Failed { error } | Outcome::Unknown { error } => {
                let _ = write!(out, ": {}", v(error));
            }
            Outcome::NotAttempted { reason } | Outcome::Stale { reason } => {
                let _ = write!(out, ": {}", v(reason));
            }
            _ => {}
        }
        out.push('\n');
    }
    for r in &report.files {
        let (sym, c, verb) = match (&r.outcome, r.sync_state) {
            (Outcome::Unchanged | Outcome::Kept, _) => continue,
            (Outcome::Applied { .. }, crate::nsfiles::FileState::Deleted) => {
                ("-", AnsiColor::Red, "deleted")
            }
            (Outcome::Applied { .. }, _) => ("+", AnsiColor::Green, "uploaded"),
            (Outcome::Failed { .. }, _) => ("x", AnsiColor::Red, "FAILED"),
            (Outcome::Unknown { .. }, _) => ("!", AnsiColor::Red, "UNKNOWN"),
            (Outcome::NotAttempted { .. }, _) => ("?", AnsiColor::Magenta, "not attempted"),
            (Outcome::Stale { .. }, _) => ("!", AnsiColor::Yellow, "STALE"),
        };
        let (on, off) = style(color, c, true);
        let name = crate::untrusted::visible_line(&r.kestra_path);
        let _ = write!(
            out,
            "  {on}{sym}{off} namespace file {}:{name}: {on}{verb}{off}",
            r.namespace
        );
        match &r.outcome {
            Outcome::Failed { error } | Outcome::Unknown { error } => {
                let _ = write!(out, ": {error}");
            }
            Outcome::NotAttempted { reason } => {
                let _ = write!(out, ": {reason}");
            }
            _ => {}
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "Apply {}: {}.",
        if report.is_complete() {
            "complete"
        } else {
            "INCOMPLETE"
        },
        report.tally()
    );
    if !report.is_complete() {
        let _ = writeln!(out, "{}", incomplete_note(report));
    }
    out
}

/// What the server holds after an incomplete apply, in one sentence for every renderer.
pub fn incomplete_note(report: &crate::apply::Report) -> &'static str {
    let unknown = report
        .flows
        .iter()
        .map(|r| &r.outcome)
        .chain(report.files.iter().map(|r| &r.outcome))
        .any(|o| matches!(o, crate::apply::Outcome::Unknown { .. }));
    if unknown {
        "The server holds every change marked applied above, none of those marked failed, stale or not attempted, and maybe those marked unknown (their answer was lost): run plan to see. Fix the cause and run again: apply converges."
    } else {
        "The server holds every change marked applied above and none of the others. Fix the cause and run again: apply converges."
    }
}
