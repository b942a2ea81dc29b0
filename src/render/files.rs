//! The namespace files in the plans people read: a section of the terminal plan, and the
//! "Namespace files" section of the PR/MR comment (a table of changes, a warning naming
//! deletions, diffs collapsed in `<details>`), rendered within the room the flows leave
//! under the comment's size limit. Text files get unified diffs; binary files (and text
//! over 256 KiB) show their size and a short sha256. Pure.
//!
//! File names and contents come from a pull request or the server: they go through
//! [`crate::untrusted`] (code spans, cells, fences, `<code>` in HTML; hidden
//! characters shown, secrets scrubbed) and never become a link, a mention or a line of
//! their own.

use std::fmt::Write as _;

use crate::nsfiles::{short_sha, FileChange, FileState, FilesSummary};
use crate::plan::Plan;
use crate::untrusted::{html_code, html_text, md_cell, md_code, md_fence, visible_line};

/// `1 to add, 2 to overwrite, 0 to delete` for namespace files.
pub fn counts(s: &FilesSummary) -> String {
    format!(
        "{} to add, {} to overwrite, {} to delete",
        s.added, s.overwritten, s.deleted
    )
}

/// `3.0 KiB` / `12 bytes`.
pub fn size(bytes: u64) -> String {
    if bytes < 1024 {
        format!("{bytes} bytes")
    } else if bytes < 1024 * 1024 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    }
}

/// What a row without a diff shows: `binary, 3.0 KiB, sha256 0123456789ab` (and what it
/// replaces for an overwrite).
pub fn fingerprint(f: &FileChange) -> String {
    let kind = if f.binary { "binary" } else { "text" };
    let now = format!("{}, sha256 {}", size(f.size_bytes), short_sha(&f.sha256));
    match (&f.live_sha256, f.live_size_bytes) {
        (Some(sha), Some(bytes)) => {
            format!("{kind}, {}, sha256 {} → {now}", size(bytes), short_sha(sha))
        }
        _ => format!("{kind}, {now}"),
    }
}

fn sign(state: FileState) -> (&'static str, &'static str) {
    match state {
        FileState::Added => ("+", "will be uploaded"),
        FileState::Overwritten => ("~", "will be overwritten (a new revision)"),
        FileState::Deleted => ("-", "will be deleted"),
        FileState::Unchanged => (" ", "unchanged"),
        FileState::Kept => ("!", "is not in Git; kept (delete is off)"),
    }
}

/// The terminal section: one line per changed or kept file, diffs indented, and the count
/// line. Empty without `--namespace-files`. `diff` renders a diff block (the flows' own,
/// coloured or not).
pub fn text_section(plan: &Plan, diff: &dyn Fn(&mut String, &str)) -> String {
    let Some(files) = &plan.files else {
        return String::new();
    };
    let summary = plan.summary.files.unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(out, "\nNamespace files of `{}`:", plan.target_namespace);
    for f in files
        .iter()
        .filter(|f| f.sync_state != FileState::Unchanged)
    {
        let (sym, what) = sign(f.sync_state);
        let _ = write!(out, "  {sym} {} {what}", one_line(&f.kestra_path));
        if let Some(p) = &f.git_path {
            let _ = write!(out, " ({})", one_line(p));
        }
        out.push('\n');
        match &f.diff {
            Some(d) => diff(&mut out, d),
            None if f.sync_state.changes() => {
                let _ = writeln!(out, "      {}", fingerprint(f));
            }
            None => {}
        }
    }
    let _ = writeln!(
        out,
        "Namespace files: {}; {} unchanged{}.",
        counts(&summary),
        summary.unchanged,
        if summary.kept > 0 {
            format!(", {} kept", summary.kept)
        } else {
            String::new()
        }
    );
    out
}

/// A name on one line, hidden characters shown.
fn one_line(s: &str) -> String {
    visible_line(s).into_owned()
}

/// The Markdown section, as pieces the budget chooses from.
pub struct MarkdownSection {
    head: String,
    rows: Vec<String>,
    kept: usize,
    diffs: Vec<String>,
    full_plan_at: String,
}

const TABLE_HEAD: &str = "\n| | namespace file | from Git |\n|---|---|---|\n";

impl MarkdownSection {
    /// `None` without `--namespace-files`.
    pub fn new(plan: &Plan, full_plan_at: &str) -> Option<MarkdownSection> {
        let files = plan.files.as_ref()?;
        let s = plan.summary.files.unwrap_or_default();
        let mut head = format!("\n#### Namespace files: {}\n", counts(&s));
        let deleted: Vec<&FileChange> = files
            .iter()
            .filter(|f| f.sync_state == FileState::Deleted)
            .collect();
        if !deleted.is_empty() {
            let mut names: Vec<String> = deleted
                .iter()
                .take(10)
                .map(|f| md_code(&f.kestra_path))
                .collect();
            if deleted.len() > 10 {
                names.push(format!("and {} more", deleted.len() - 10));
            }
            let _ = write!(
                head,
                "\n> [!WARNING]\n> **{} namespace file(s) will be deleted** from {}: {} (not in Git; `delete` is on).\n",
                deleted.len(),
                md_code(&plan.target_namespace),
                names.join(", ")
            );
        }
        let mut changed: Vec<&FileChange> =
            files.iter().filter(|f| f.sync_state.changes()).collect();
        changed.sort_by_key(|f| (rank(f.sync_state), f.kestra_path.clone()));
        let rows = changed
            .iter()
            .map(|f| {
                let from = f.git_path.as_deref().map(md_cell).unwrap_or_default();
                let detail = if f.diff.is_none() {
                    format!(" <sub>{}</sub>", html_text(&fingerprint(f)))
                } else {
                    String::new()
                };
                format!(
                    "| {} | {}{detail} | {from} |\n",
                    label(f.sync_state),
                    md_cell(&f.kestra_path)
                )
            })
            .collect();
        let diffs = changed.iter().filter_map(|f| diff_block(f)).collect();
        Some(MarkdownSection {
            head,
            rows,
            kept: s.kept,
            diffs,
            full_plan_at: full_plan_at.to_string(),
        })
    }

    fn tail(&self, rows_left: usize, dropped: usize) -> String {
        let mut out = String::new();
        if rows_left > 0 {
            let _ = write!(
                out,
                "\n_…and {rows_left} more namespace file(s) not listed here to fit the comment size limit: see {}._\n",
                self.full_plan_at
            );
        }
        if dropped > 0 {
            let _ = write!(
                out,
                "\n> [!NOTE]\n> {dropped} namespace-file diff(s) omitted to fit the comment size limit; see {}.\n",
                self.full_plan_at
            );
        }
        if self.kept > 0 {
            let _ = write!(
                out,
                "\n{} namespace file(s) on the server are not in Git and are kept (`delete` is off).\n",
                self.kept
            );
        }
        out
    }

    fn assemble(&self, rows: usize, keep: &[bool]) -> String {
        let mut out = self.head.clone();
        if !self.rows.is_empty() {
            out.push_str(TABLE_HEAD);
            for r in self.rows.iter().take(rows) {
                out.push_str(r);
            }
        }
        for (d, k) in self.diffs.iter().zip(keep) {
            if *k {
                out.push_str(d);
            }
        }
        let dropped = keep.iter().filter(|k| !**k).count();
        out.push_str(&self.tail(self.rows.len() - rows.min(self.rows.len()), dropped));
        out
    }

    /// The smallest form: heading, counts and notes, no table, no diff.
    pub fn min_len(&self) -> usize {
        self.assemble(0, &vec![false; self.diffs.len()]).len()
    }

    /// The section within `room` bytes: diffs dropped from the largest down, then table
    /// rows from the end; empty when even the smallest form does not fit.
    pub fn render(&self, room: usize) -> String {
        let mut keep = vec![true; self.diffs.len()];
        let mut rows = self.rows.len();
        let mut order: Vec<usize> = (0..self.diffs.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(self.diffs[i].len()));
        let mut out = self.assemble(rows, &keep);
        for i in order {
            if out.len() <= room {
                return out;
            }
            keep[i] = false;
            out = self.assemble(rows, &keep);
        }
        while out.len() > room && rows > 0 {
            rows = if rows > 20 {
                rows - rows / 10
            } else {
                rows - 1
            };
            out = self.assemble(rows, &keep);
        }
        if out.len() > room {
            return String::new();
        }
        out
    }
}

fn rank(s: FileState) -> u8 {
    match s {
        FileState::Added => 0,
        FileState::Overwritten => 1,
        FileState::Deleted => 2,
        FileState::Unchanged => 3,
        FileState::Kept => 4,
    }
}

/// The state as the Markdown tables show it.
pub fn label(s: FileState) -> &'static str {
    match s {
        FileState::Added => "➕ add",
        FileState::Overwritten => "✏️ overwrite",
        FileState::Deleted => "🗑️ delete",
        FileState::Unchanged => "unchanged",
        FileState::Kept => "⏸️ kept",
    }
}

fn diff_block(f: &FileChange) -> Option<String> {
    let diff = f.diff.as_deref()?;
    let lines = match f.sync_state {
        FileState::Added => format!("+{}", f.lines_added),
        FileState::Deleted => format!("-{}", f.lines_removed),
        _ => format!("+{} -{}", f.lines_added, f.lines_removed),
    };
    Some(format!(
        "\n<details><summary>{} {} ({lines} lines)</summary>\n\n{}\n</details>\n",
        label(f.sync_state),
        html_code(&f.kestra_path),
        md_fence(diff, "diff")
    ))
}
