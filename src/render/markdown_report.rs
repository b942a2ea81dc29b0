//! The apply report as Markdown, for the job summary after an apply on the deployed branch:
//! the verdict first (complete or stopped part-way), then one row per change with what the
//! server now holds, then the same footer as the plan. Never over `limit` bytes: rows are
//! cut from the end with a note pointing to the job log.

use std::fmt::Write as _;

use super::{cell, code, flow_name_of, flows, footer, hard_cut, state_label, MarkdownContext};
use crate::apply::{Outcome, Report};
use crate::plan::{Plan, SyncState};

/// Longest error text shown in a table cell; the job log has the whole of it.
const CELL_TEXT: usize = 300;

/// The apply report (of `plan`) as Markdown, never longer than `limit` bytes.
pub fn render_apply_report(
    plan: &Plan,
    report: &Report,
    ctx: &MarkdownContext,
    limit: usize,
) -> String {
    let target = code(&plan.target_namespace);
    let mut head = String::new();
    if let Some(m) = &ctx.marker {
        head.push_str(m);
        head.push('\n');
    }
    let applied_as = |state: SyncState| {
        report
            .flows
            .iter()
            .filter(|r| r.sync_state == state && matches!(r.outcome, Outcome::Applied { .. }))
            .count()
    };
    if report.is_complete() {
        if !plan.summary.has_changes() {
            let _ = writeln!(
                head,
                "### Kestra apply to {target}: nothing to do, {} already match Git",
                flows(plan.summary.unchanged)
            );
        } else {
            let _ = writeln!(
                head,
                "### ✅ Kestra apply to {target}: {} added, {} updated, {} deleted",
                applied_as(SyncState::Added),
                applied_as(SyncState::Updated),
                applied_as(SyncState::Deleted)
            );
        }
        if plan.summary.files.is_some() {
            let files_as = |deleted: bool| {
                report
                    .files
                    .iter()
                    .filter(|r| {
                        (r.sync_state == crate::nsfiles::FileState::Deleted) == deleted
                            && matches!(r.outcome, Outcome::Applied { .. })
                    })
                    .count()
            };
            let _ = writeln!(
                head,
                "\nNamespace files: {} uploaded, {} deleted.",
                files_as(false),
                files_as(true)
            );
        }
    } else {
        let _ = writeln!(
            head,
            "### ❌ Kestra apply to {target} stopped part-way: {}\n\n\
             > [!CAUTION]\n\
             > {}",
            report.tally(),
            crate::render::text::incomplete_note(report).replace("above", "below")
        );
    }

    let rows: Vec<String> = report
        .flows
        .iter()
        .filter(|r| !matches!(r.outcome, Outcome::Unchanged | Outcome::Kept))
        .map(|r| {
            let result = match &r.outcome {
                Outcome::Applied { revision } => {
                    let verb = match r.sync_state {
                        SyncState::Added => "✅ created",
                        SyncState::Deleted => "✅ deleted",
                        _ => "✅ updated",
                    };
                    match (r.previous_revision, revision) {
                        (Some(prev), Some(rev)) => format!("{verb}, revision {prev} → {rev}"),
                        (None, Some(rev)) => format!("{verb}, revision {rev}"),
                        _ => verb.to_string(),
                    }
                }
                Outcome::Failed { error } => format!("❌ failed: {}", one_line(error)),
                Outcome::Unknown { error } => format!("❓ unknown: {}", one_line(error)),
                Outcome::Stale { reason } => format!("⏸️ stale: {}", one_line(reason)),
                Outcome::NotAttempted { reason } => {
                    format!("⏭️ not attempted: {}", one_line(reason))
                }
                Outcome::Unchanged | Outcome::Kept => String::new(),
            };
            format!(
                "| {} | {} | {} | {} |\n",
                state_label(r.sync_state),
                cell(&flow_name_of(&r.namespace, &r.flow_id)),
                r.git_path.as_deref().map(cell).unwrap_or_default(),
                result
            )
        })
        .chain(
            report
                .files
                .iter()
                .filter(|r| !matches!(r.outcome, Outcome::Unchanged | Outcome::Kept))
                .map(|r| {
                    let result = match &r.outcome {
                        Outcome::Applied { .. }
                            if r.sync_state == crate::nsfiles::FileState::Deleted =>
                        {
                            "✅ deleted".to_string()
                        }
                        Outcome::Applied { .. } => "✅ uploaded".to_string(),
                        Outcome::Failed { error } => format!("❌ failed: {}", one_line(error)),
                        Outcome::Unknown { error } => format!("❓ unknown: {}", one_line(error)),
                        Outcome::NotAttempted { reason } => {
                            format!("⏭️ not attempted: {}", one_line(reason))
                        }
                        Outcome::Stale { reason } => format!("⚠️ stale: {}", one_line(reason)),
                        Outcome::Unchanged | Outcome::Kept => String::new(),
                    };
                    format!(
                        "| {} | {} | {} | {} |\n",
                        crate::render::files::label(r.sync_state),
                        cell(&format!("{}:{}", r.namespace, r.kestra_path)),
                        r.git_path.as_deref().map(cell).unwrap_or_default(),
                        result
                    )
                }),
        )
        .collect();
    let table_head = if rows.is_empty() {
        ""
    } else if report.files.is_empty() {
        "\n| | flow | file | result |\n|---|---|---|---|\n"
    } else {
        "\n| | flow or namespace file | file | result |\n|---|---|---|---|\n"
    };
    let foot = footer(plan, ctx, "applied to");
    let at = if ctx.full_plan_at.is_empty() {
        "the job log"
    } else {
        ctx.full_plan_at.as_str()
    };

    let fixed = head.len() + table_head.len() + foot.len();
    let mut shown = rows.len();
    let note = |shown: usize| -> String {
        let left = rows.len() - shown;
        if left == 0 {
            String::new()
        } else {
            format!("\n_…and {left} more not listed here to fit the size limit: see {at}._\n")
        }
    };
    let len = |shown: usize| -> usize {
        fixed + rows.iter().take(shown).map(String::len).sum::<usize>() + note(shown).len()
    };
    while shown > 0 && len(shown) > limit {
        shown = if shown > 20 {
            shown - shown / 10
        } else {
            shown - 1
        };
    }
    let mut out = String::with_capacity(len(shown));
    out.push_str(&head);
    out.push_str(table_head);
    for row in rows.iter().take(shown) {
        out.push_str(row);
    }
    out.push_str(&note(shown));
    out.push_str(&foot);
    hard_cut(out, limit)
}

/// A server's message for a table cell: one line in a code span (nothing in it renders), at
/// most [`CELL_TEXT`] characters.
fn one_line(s: &str) -> String {
    let flat = crate::untrusted::visible_line(s);
    let mut short: String = flat.chars().take(CELL_TEXT).collect();
    if short.len() < flat.len() {
        short.push('…');
    }
    cell(&short)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::FlowResult;
    use crate::model::ServerInfo;
    use crate::plan::{Plan, Summary};

    fn plan(summary: Summary) -> Plan {
        Plan {
            target_namespace: "prod".into(),
            include_child_namespaces: false,
            delete: true,
            summary,
            blockers: Vec::new(),
            warnings: Vec::new(),
            flows: Vec::new(),
            files: None,
            server: ServerInfo {
                url: "https://kestra.example.com".into(),
                version: Some("1.3.0".into()),
                edition: None,
                tenant: Some("main".into()),
            },
            validations: None,
        }
    }

    fn row(id: &str, state: SyncState, prev: Option<u64>, outcome: Outcome) -> FlowResult {
        FlowResult {
            git_path: (state != SyncState::Deleted).then(|| format!("_flows/{id}.yml")),
            namespace: "prod".into(),
            flow_id: id.into(),
            sync_state: state,
            previous_revision: prev,
            outcome,
        }
    }

    fn ctx() -> MarkdownContext {
        MarkdownContext {
            marker: None,
            commit: Some("0123456789abcdef".into()),
            job_url: Some("https://github.com/acme/flows/actions/runs/7".into()),
            tool_version: "0.1.0".into(),
            full_plan_at: "the job log".into(),
            ..MarkdownContext::default()
        }
    }

    #[test]
    fn a_complete_apply() {
        let report = Report {
            files: Vec::new(),
            flows: vec![
                row(
                    "new",
                    SyncState::Added,
                    None,
                    Outcome::Applied { revision: Some(1) },
                ),
                row(
                    "changed",
                    SyncState::Updated,
                    Some(3),
                    Outcome::Applied { revision: Some(4) },
                ),
                row("same", SyncState::Unchanged, Some(2), Outcome::Unchanged),
                row(
                    "gone",
                    SyncState::Deleted,
                    Some(9),
                    Outcome::Applied { revision: None },
                ),
            ],
            applied: 3,
            failed: 0,
            unknown: 0,
            not_attempted: 0,
            stale: 0,
        };
        let p = plan(Summary {
            files: None,
            added: 1,
            updated: 1,
            unchanged: 1,
            deleted: 1,
            kept: 0,
            invalid: 0,
        });
        let md = render_apply_report(&p, &report, &ctx(), usize::MAX);
        assert!(
            md.starts_with("### ✅ Kestra apply to `prod`: 1 added, 1 updated, 1 deleted\n"),
            "{md}"
        );
        assert!(
            !md.contains("`prod/same`"),
            "unchanged flows are not rows: {md}"
        );
        insta::assert_snapshot!(md);
    }

    #[test]
    fn a_partial_apply_says_what_the_server_holds() {
        let report = Report {
            files: Vec::new(),
            flows: vec![
                row(
                    "ok",
                    SyncState::Added,
                    None,
                    Outcome::Applied { revision: Some(1) },
                ),
                row(
                    "bad",
                    SyncState::Updated,
                    Some(3),
                    Outcome::Failed {
                        error: "HTTP 500 from POST /api/v1/main/flows: <html>|boom|\nline two"
                            .into(),
                    },
                ),
                row(
                    "gone",
                    SyncState::Deleted,
                    Some(9),
                    Outcome::NotAttempted {
                        reason: "deletes wait until every write succeeded".into(),
                    },
                ),
            ],
            applied: 1,
            failed: 1,
            unknown: 0,
            not_attempted: 1,
            stale: 0,
        };
        let p = plan(Summary {
            files: None,
            added: 1,
            updated: 1,
            unchanged: 0,
            deleted: 1,
            kept: 0,
            invalid: 0,
        });
        let md = render_apply_report(&p, &report, &ctx(), usize::MAX);
        assert!(md.starts_with("### ❌ Kestra apply to `prod` stopped part-way: 1 applied, 1 failed, 1 not attempted\n"), "{md}");
        // The server's text in a code span, one line, its `|` escaped for the table.
        assert!(
            md.contains(
                "❌ failed: `HTTP 500 from POST /api/v1/main/flows: <html>\\|boom\\|␊line two`"
            ),
            "{md}"
        );
        insta::assert_snapshot!(md);
    }

    #[test]
    fn nothing_to_do() {
        let report = Report {
            files: Vec::new(),
            flows: vec![],
            applied: 0,
            failed: 0,
            unknown: 0,
            not_attempted: 0,
            stale: 0,
        };
        let p = plan(Summary {
            files: None,
            unchanged: 5,
            ..Summary::default()
        });
        let md = render_apply_report(&p, &report, &ctx(), usize::MAX);
        assert!(
            md.starts_with(
                "### Kestra apply to `prod`: nothing to do, 5 flows already match Git\n"
            ),
            "{md}"
        );
    }

    #[test]
    fn a_huge_report_fits_and_says_so() {
        let flows: Vec<FlowResult> = (0..5000)
            .map(|i| {
                row(
                    &format!("flow_{i:05}"),
                    SyncState::Added,
                    None,
                    Outcome::Applied { revision: Some(1) },
                )
            })
            .collect();
        let report = Report {
            files: Vec::new(),
            flows,
            applied: 5000,
            failed: 0,
            unknown: 0,
            not_attempted: 0,
            stale: 0,
        };
        let p = plan(Summary {
            files: None,
            added: 5000,
            ..Summary::default()
        });
        let md = render_apply_report(&p, &report, &ctx(), 65_536);
        assert!(md.len() <= 65_536);
        let rows = md.matches("| ➕ add |").count();
        assert!(rows > 100 && rows < 5000, "{rows}");
        assert!(md.contains(&format!(
            "_…and {} more not listed here to fit the size limit: see the job log._",
            5000 - rows
        )));
        assert!(md.ends_with("kestra-sync 0.1.0</sub>\n"));
    }
}
