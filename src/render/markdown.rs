//! The plan as GitHub-flavoured Markdown: the PR/MR comment and the job summary.
//!
//! Reviewers read the first line (the verdict) and must not miss a deletion; details are one
//! click away (`<details>`), and the footer says against what the plan was computed. Forges
//! cap the body (GitHub: 65,536 characters), so [`render`] never exceeds its `limit`: it drops
//! diffs from the largest down, then shortens the lists, and says what it left out and where
//! to find it. Lengths are counted in UTF-8 bytes, which is never less than the characters or
//! UTF-16 code units a forge may count, so a body within `limit` bytes is within any of them.
//! Pure: data in, string out.

use std::fmt::Write as _;

use crate::plan::{FlowChange, Plan, Status, SyncState};
use crate::untrusted;

#[path = "markdown_failed.rs"]
mod failed;
#[path = "markdown_notes.rs"]
mod notes;
#[path = "markdown_report.rs"]
mod report;
#[path = "markdown_riskier.rs"]
mod riskier;
pub use failed::{render_failed, Failure};
pub use notes::{
    drift_verdict, dry_run_note, failure, lock_note, lock_refused, plan_only_note, plan_skipped,
    post_failed, post_skipped, render_with_notes, stale_marker,
};
pub use report::render_apply_report;
pub use riskier::{render_riskier, riskier_marker, with_state};

/// GitHub's cap on an issue/PR comment body (422 "Body is too long" above it).
pub const GITHUB_COMMENT_LIMIT: usize = 65_536;
/// GitHub's cap on one step's job summary (1 MiB).
pub const GITHUB_SUMMARY_LIMIT: usize = 1024 * 1024;
/// GitLab's cap on a merge request note.
pub const GITLAB_NOTE_LIMIT: usize = 1_000_000;

/// Closes the kept list; the blank line ends the list before the HTML.
const KEPT_END: &str = "\n</details>\n";

/// How many deleted flows the warning block names before "and N more".
const WARNING_NAMES: usize = 10;

/// Everything the body says that is not in the plan itself.
#[derive(Debug, Clone, Default)]
pub struct MarkdownContext {
    /// The hidden marker that finds this comment again ([`marker`]); `None` for the job
    /// summary, which is never searched.
    pub marker: Option<String>,
    /// Commit the plan was computed at (shortened to 7 characters in the footer).
    pub commit: Option<String>,
    /// Link to the job that computed the plan.
    pub job_url: Option<String>,
    /// kestra-sync's version, e.g. `env!("CARGO_PKG_VERSION")`.
    pub tool_version: String,
    /// Where the whole plan can be read when something had to be left out, e.g.
    /// "the job summary" (for a PR comment) or "the job log" (for the job summary). It is
    /// a link to `job_url` when there is one.
    pub full_plan_at: String,
    /// The name the title gives the server (input `environment-name`, e.g. `production`);
    /// default: the host of its URL.
    pub environment: Option<String>,
    /// The branch a merge deploys (a pull request's base): the body then says "Merging into
    /// `main` applies this to …".
    pub merging_into: Option<String>,
}

/// The plan as Markdown for `--format markdown`: no marker, no CI context, no size limit.
pub fn render_standalone(plan: &Plan) -> String {
    let ctx = MarkdownContext {
        tool_version: env!("CARGO_PKG_VERSION").into(),
        ..MarkdownContext::default()
    };
    render(plan, &ctx, usize::MAX)
}

/// The hidden marker of the comment for one target: `<!-- kestra-sync:plan
/// target=<namespace>@<host> -->`. Two targets in one PR keep two comments.
pub fn marker(target_namespace: &str, server_url: &str) -> String {
    let host = host_of(server_url).unwrap_or_else(|| server_url.to_string());
    // Neither part may end the HTML comment early.
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace() && !c.is_control() && !matches!(c, '<' | '>'))
            .collect()
    };
    format!(
        "<!-- kestra-sync:plan target={}@{} -->",
        clean(target_namespace),
        clean(&host)
    )
}

/// `host[:port]` of a URL.
fn host_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    let h = u.host_str()?;
    Some(match u.port() {
        Some(p) => format!("{h}:{p}"),
        None => h.to_string(),
    })
}

/// The plan comment: [`render`] with the plan's hidden lock line ([`crate::lock`]) right
/// after the marker, never longer than `limit` bytes. The lock gets up to half of `limit`;
/// when its per-flow entries need more, it keeps only its digest.
pub fn render_comment(plan: &Plan, ctx: &MarkdownContext, limit: usize) -> String {
    if ctx.marker.is_none() {
        return render(plan, ctx, limit);
    }
    let lock = crate::lock::comment_block(plan, limit / 2);
    let body = render(plan, ctx, limit.saturating_sub(lock.len() + 1));
    match body.split_once('\n') {
        Some((marker, rest)) => format!("{marker}\n{lock}\n{rest}"),
        None => format!("{body}\n{lock}\n"),
    }
}

/// The plan as Markdown, never longer than `limit` bytes.
pub fn render(plan: &Plan, ctx: &MarkdownContext, limit: usize) -> String {
    let parts = Parts::new(plan, ctx);
    let Some(files) = crate::render::files::MarkdownSection::new(plan, &parts.full_plan_at) else {
        return render_within(&parts, limit);
    };
    // The namespace files go before the footer, in the room the flows leave (the flows
    // keep at least the files' smallest form free).
    let body = render_within(&parts, limit.saturating_sub(files.min_len()));
    let section = files.render(limit.saturating_sub(body.len()));
    match body.strip_suffix(&parts.footer) {
        Some(before) => format!("{before}{section}{}", parts.footer),
        None => hard_cut(body + &section, limit),
    }
}

/// Beyond this many changed flows, the table becomes compact per-action lists.
pub const TABLE_ROWS: usize = 20;

/// How many errors or warnings the comment lists before "and N more".
const NOTES_SHOWN: usize = 50;

/// The pieces of a body, rendered once; [`Budget`] chooses which go in. Sections other
/// branches add (a lock, namespace files) go in `sections`, between the kept list and the
/// diffs, and are never cut.
struct Parts {
    /// Marker, title, what merging does.
    head: String,
    /// Blockers, plan warnings, the deletion warning, the server's errors and warnings.
    alerts: String,
    /// Table header; empty when nothing changes or in compact mode.
    table_head: String,
    /// Table rows, or compact list items (each carrying its own separator).
    rows: Vec<String>,
    /// Opening of the kept list and its items; empty when nothing is kept.
    kept_head: String,
    kept_items: Vec<String>,
    sections: String,
    /// One `<details>` block per changed flow, in display order, and its state.
    diffs: Vec<(String, SyncState)>,
    footer: String,
    /// Where the whole plan is, as Markdown (a link when the job's URL is known).
    full_plan_at: String,
}

/// What goes in: how many table rows and kept items, and which diffs are dropped.
struct Budget {
    rows: usize,
    kept: usize,
    dropped: Vec<bool>,
}

impl Budget {
    fn full(parts: &Parts) -> Budget {
        Budget {
            rows: parts.rows.len(),
            kept: parts.kept_items.len(),
            dropped: vec![false; parts.diffs.len()],
        }
    }
}

impl Parts {
    fn new(plan: &Plan, ctx: &MarkdownContext) -> Parts {
        let mut changes: Vec<&FlowChange> = plan.changes().collect();
        changes.sort_by_key(|f| state_rank(f.sync_state));
        let kept: Vec<&FlowChange> = plan
            .flows
            .iter()
            .filter(|f| f.sync_state == SyncState::Kept)
            .collect();

        let mut head = String::new();
        if let Some(m) = &ctx.marker {
            head.push_str(m);
            head.push('\n');
        }
        head.push_str(&verdict(plan, ctx));
        head.push('\n');
        if let Some(line) = merge_line(plan, ctx) {
            head.push('\n');
            head.push_str(&line);
            head.push('\n');
        }

        let mut alerts = String::new();
        alerts.push_str(&blocker_alert(plan));
        for w in &plan.warnings {
            let _ = write!(alerts, "\n> [!WARNING]\n> {}\n", html(w));
        }
        let deleted: Vec<&&FlowChange> = changes
            .iter()
            .filter(|f| f.sync_state == SyncState::Deleted)
            .collect();
        if !deleted.is_empty() {
            alerts.push('\n');
            alerts.push_str(&deletion_warning(&deleted));
        }
        alerts.push_str(&flow_notes(plan));

        let compact = changes.len() > TABLE_ROWS;
        let (table_head, rows) = if changes.is_empty() {
            (String::new(), Vec::new())
        } else if compact {
            (String::new(), compact_items(&changes))
        } else {
            let rows = changes
                .iter()
                .map(|f| {
                    let file = f.git_path.as_deref().map(cell).unwrap_or_default();
                    format!(
                        "| {} | {} | {} |\n",
                        state_label(f.sync_state),
                        cell(&flow_name(f)),
                        file
                    )
                })
                .collect();
            ("\n| | flow | file |\n|---|---|---|\n".to_string(), rows)
        };

        let (kept_head, kept_items) = if kept.is_empty() {
            (String::new(), Vec::new())
        } else {
            let n = kept.len();
            let head = format!(
                "\n<details><summary>{} kept on the server: not in Git, left in place because <code>delete</code> is off</summary>\n\n\
                 These flows are in scope on the server but have no file in Git. Turn `delete` on (action input `delete: true`, or `--delete`) to remove them, or add their files to Git.\n\n",
                flows(n)
            );
            let items = kept
                .iter()
                .map(|f| {
                    format!(
                        "- {}{}\n",
                        code(&flow_name(f)),
                        f.revision
                            .map(|r| format!(" (revision {r})"))
                            .unwrap_or_default()
                    )
                })
                .collect();
            (head, items)
        };

        let diffs = changes
            .iter()
            .filter_map(|f| diff_block(f).map(|d| (d, f.sync_state)))
            .collect();

        let at = if ctx.full_plan_at.is_empty() {
            "the job log"
        } else {
            ctx.full_plan_at.as_str()
        };
        let full_plan_at = match ctx.job_url.as_deref().and_then(|u| url::Url::parse(u).ok()) {
            Some(u) => format!("[{}](<{u}>)", html(at)),
            None => html(at),
        };
        Parts {
            head,
            alerts,
            table_head,
            rows,
            kept_head,
            kept_items,
            sections: String::new(),
            diffs,
            footer: footer(plan, ctx, "live state of"),
            full_plan_at,
        }
    }

    fn rows_note(&self, budget: &Budget) -> String {
        let left = self.rows.len() - budget.rows.min(self.rows.len());
        if left == 0 {
            return String::new();
        }
        format!(
            "\n_…and {left} more not listed here: see {}._\n",
            self.full_plan_at
        )
    }

    fn kept_note(&self, budget: &Budget) -> String {
        let left = self.kept_items.len() - budget.kept.min(self.kept_items.len());
        if left == 0 {
            return String::new();
        }
        format!("- _…and {left} more: see {}_\n", self.full_plan_at)
    }

    /// What was left out, right under the title, with where to read it all.
    fn omitted_note(&self, budget: &Budget) -> String {
        let dropped = |state: SyncState| {
            self.diffs
                .iter()
                .zip(&budget.dropped)
                .filter(|((_, s), d)| **d && *s == state)
                .count()
        };
        let mut what = Vec::new();
        for (state, noun) in [
            (SyncState::Added, "added"),
            (SyncState::Updated, "updated"),
            (SyncState::Deleted, "deleted"),
        ] {
            let n = dropped(state);
            if n > 0 {
                what.push(format!(
                    "{n} {} of {noun} flows",
                    if n == 1 { "diff" } else { "diffs" }
                ));
            }
        }
        let rows = self.rows.len() - budget.rows.min(self.rows.len());
        if rows > 0 {
            what.push(format!("{rows} changed flows from the list"));
        }
        let kept = self.kept_items.len() - budget.kept.min(self.kept_items.len());
        if kept > 0 {
            what.push(format!("{kept} kept flows from their list"));
        }
        if what.is_empty() {
            return String::new();
        }
        format!(
            "\n> [!NOTE]\n> Omitted to fit the comment size limit: {}. The whole plan is in {}.\n",
            what.join(", "),
            self.full_plan_at
        )
    }

    /// Length of [`Parts::assemble`]'s output, without building it.
    fn len(&self, b: &Budget) -> usize {
        let rows: usize = self.rows.iter().take(b.rows).map(String::len).sum();
        let kept: usize = self.kept_items.iter().take(b.kept).map(String::len).sum();
        let diffs: usize = self
            .diffs
            .iter()
            .zip(&b.dropped)
            .filter(|(_, d)| !**d)
            .map(|((s, _), _)| s.len())
            .sum();
        let kept_block = if self.kept_head.is_empty() {
            0
        } else {
            self.kept_head.len() + kept + self.kept_note(b).len() + KEPT_END.len()
        };
        let rows_end = if self.table_head.is_empty() && !self.rows.is_empty() {
            1
        } else {
            0
        };
        self.head.len()
            + self.omitted_note(b).len()
            + self.alerts.len()
            + self.table_head.len()
            + rows
            + rows_end
            + self.rows_note(b).len()
            + kept_block
            + self.sections.len()
            + diffs
            + self.footer.len()
    }

    fn assemble(&self, b: &Budget) -> String {
        let mut out = String::with_capacity(self.len(b));
        out.push_str(&self.head);
        out.push_str(&self.omitted_note(b));
        out.push_str(&self.alerts);
        out.push_str(&self.table_head);
        for row in self.rows.iter().take(b.rows) {
            out.push_str(row);
        }
        if self.table_head.is_empty() && !self.rows.is_empty() {
            // compact lists end their last paragraph
            out.push('\n');
        }
        out.push_str(&self.rows_note(b));
        if !self.kept_head.is_empty() {
            out.push_str(&self.kept_head);
            for item in self.kept_items.iter().take(b.kept) {
                out.push_str(item);
            }
            out.push_str(&self.kept_note(b));
            out.push_str(KEPT_END);
        }
        out.push_str(&self.sections);
        for ((block, _), dropped) in self.diffs.iter().zip(&b.dropped) {
            if !dropped {
                out.push_str(block);
            }
        }
        out.push_str(&self.footer);
        out
    }
}

/// Beyond [`TABLE_ROWS`] changes: one list item per action, `- **🗑️ delete (3):** `a`, `b``.
/// Each item carries its separator, so a cut list stays well-formed.
fn compact_items(changes: &[&FlowChange]) -> Vec<String> {
    let mut items = Vec::with_capacity(changes.len());
    let mut last = None;
    for f in changes {
        let name = code(&flow_name(f));
        if last != Some(f.sync_state) {
            let n = changes
                .iter()
                .filter(|c| c.sync_state == f.sync_state)
                .count();
            let lead = if last.is_none() { "\n" } else { "" };
            items.push(format!(
                "{lead}\n- **{} ({n}):** {name}",
                state_label(f.sync_state)
            ));
            last = Some(f.sync_state);
        } else {
            items.push(format!(", {name}"));
        }
    }
    items
}

/// Last resort, when `limit` cannot hold even the verdict and footer: cut the text at a
/// character boundary.
fn hard_cut(mut s: String, limit: usize) -> String {
    const CUT: &str = "\n\n_(cut to fit the size limit)_\n";
    if s.len() <= limit {
        return s;
    }
    let keep = if limit > CUT.len() * 2 {
        limit - CUT.len()
    } else {
        limit
    };
    let mut end = keep.min(s.len());
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    if s.len() + CUT.len() <= limit {
        s.push_str(CUT);
    }
    s
}

/// Render within `limit`: drop diffs (those of added flows first, then updated, then
/// deleted; the largest first within each), then kept items, then list rows, each step
/// said in the note under the title; cut the text only if that is still not enough.
fn render_within(parts: &Parts, limit: usize) -> String {
    let mut b = Budget::full(parts);
    if parts.len(&b) > limit {
        let mut order: Vec<usize> = (0..parts.diffs.len()).collect();
        let drop_rank = |s: SyncState| match s {
            SyncState::Added => 0,
            SyncState::Updated => 1,
            _ => 2,
        };
        order.sort_by_key(|&i| {
            let (text, state) = &parts.diffs[i];
            (drop_rank(*state), std::cmp::Reverse(text.len()))
        });
        for i in order {
            if parts.len(&b) <= limit {
                break;
            }
            if let Some(d) = b.dropped.get_mut(i) {
                *d = true;
            }
        }
    }
    // Then the kept list, then the list of changes, from the end.
    while parts.len(&b) > limit && b.kept > 0 {
        b.kept = shrink(b.kept);
    }
    while parts.len(&b) > limit && b.rows > 0 {
        b.rows = shrink(b.rows);
    }
    hard_cut(parts.assemble(&b), limit)
}

/// Next smaller count to try: by tenths while large, one by one when small.
fn shrink(n: usize) -> usize {
    if n > 20 {
        n - n / 10
    } else {
        n - 1
    }
}

/// Display order: creates, updates, deletes, the order apply runs them in (as the text
/// plan and the apply report).
fn state_rank(s: SyncState) -> u8 {
    match s {
        SyncState::Added => 0,
        SyncState::Updated => 1,
        SyncState::Deleted => 2,
        SyncState::Unchanged => 3,
        SyncState::Kept => 4,
        SyncState::Invalid => 5,
    }
}

fn state_label(s: SyncState) -> &'static str {
    match s {
        SyncState::Added => "➕ add",
        SyncState::Updated => "✏️ update",
        SyncState::Deleted => "🗑️ delete",
        SyncState::Unchanged => "unchanged",
        SyncState::Kept => "⏸️ kept",
        SyncState::Invalid => "⛔ invalid, skipped",
    }
}

fn flow_name(f: &FlowChange) -> String {
    flow_name_of(&f.namespace, &f.flow_id)
}

fn flow_name_of(namespace: &str, id: &str) -> String {
    format!("{namespace}/{id}")
}

/// "1 flow" / "3 flows".
fn flows(n: usize) -> String {
    if n == 1 {
        "1 flow".into()
    } else {
        format!("{n} flows")
    }
}

/// The name of the server in the title: `environment-name`, else the host.
pub fn server_label(server_url: &str, ctx: &MarkdownContext) -> String {
    ctx.environment
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_string)
        .or_else(|| host_of(server_url))
        .unwrap_or_else(|| server_url.to_string())
}

/// ` on **server**` for a title ([`server_label`]), or nothing when the server has no name.
fn on_server(server_url: &str, ctx: &MarkdownContext) -> String {
    match server_label(server_url, ctx) {
        l if l.is_empty() => String::new(),
        l => format!(" on **{}**", html(&l)),
    }
}

/// `### <icon> Kestra plan for `prod` on **host**: <status>`.
fn verdict(plan: &Plan, ctx: &MarkdownContext) -> String {
    let s = &plan.summary;
    let target = code(&plan.target_namespace);
    let scope = if plan.include_child_namespaces {
        " and its child namespaces"
    } else {
        ""
    };
    let on = match server_label(&plan.server.url, ctx) {
        l if l.is_empty() => String::new(),
        l => format!(" on **{}**", html(&l)),
    };
    let files = match &s.files {
        Some(f) => format!("; namespace files: {}", crate::render::files::counts(f)),
        None => String::new(),
    };
    let counts = format!(
        "{} to add, {} to update, {} to delete{files}",
        s.added, s.updated, s.deleted
    );
    let status = plan.status();
    match status {
        Status::NoChanges => {
            let (verb, files) = match &s.files {
                Some(f) => ("match", format!(" and {} namespace file(s)", f.unchanged)),
                None if s.unchanged == 1 => ("matches", String::new()),
                None => ("match", String::new()),
            };
            format!(
                "### ✅ Kestra plan for {target}{scope}{on}: no changes ({}{files} {verb} Git)",
                flows(s.unchanged)
            )
        }
        Status::Changes => format!("### 📝 Kestra plan for {target}{scope}{on}: changes: {counts}"),
        Status::Deletes => format!("### ⚠️ Kestra plan for {target}{scope}{on}: deletes: {counts}"),
        Status::Failed => format!(
            "### ❌ Kestra plan for {target}{scope}{on}: failed: apply would refuse it ({counts})"
        ),
    }
}

/// "Merging into `main` applies this to **host**." (nothing to apply: says so).
fn merge_line(plan: &Plan, ctx: &MarkdownContext) -> Option<String> {
    let branch = ctx
        .merging_into
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty())?;
    let server = html(&server_label(&plan.server.url, ctx));
    Some(match plan.status() {
        Status::Failed => format!(
            "Merging into {} now would fail to apply on **{server}**: fix what is listed below first.",
            code(branch)
        ),
        Status::NoChanges => format!(
            "Merging into {} changes nothing on **{server}**.",
            code(branch)
        ),
        _ => format!("Merging into {} applies this to **{server}**.", code(branch)),
    })
}

/// Apply's guards, first: a `[!CAUTION]` alert listing every blocker.
fn blocker_alert(plan: &Plan) -> String {
    if plan.blockers.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n> [!CAUTION]\n> **Apply would refuse this plan:**\n");
    for b in &plan.blockers {
        let _ = writeln!(out, "> - `{}`: {}", b.kind.as_str(), html(&b.message));
    }
    out
}

/// The server's errors (invalid flows) and every flow warning, each at `file:line`; at most
/// [`NOTES_SHOWN`] of each, then how many more.
fn flow_notes(plan: &Plan) -> String {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    for f in &plan.flows {
        let place = |line: Option<usize>| match &f.git_path {
            Some(_) => f.place(line),
            None => flow_name(f),
        };
        for e in &f.errors {
            errors.push(format!(
                "- {}: {}\n",
                code(&place(e.line)),
                code(&e.message)
            ));
        }
        for w in &f.warnings {
            warnings.push(format!(
                "- {} ({}): {}\n",
                code(&place(w.line)),
                html(&w.kind),
                code(&w.message)
            ));
        }
    }
    let mut out = String::new();
    let refused = plan.flows.iter().filter(|f| !f.errors.is_empty()).count();
    for (items, title) in [
        (errors, format!("⛔ The server refuses {}", flows(refused))),
        (warnings, "⚠️ Warnings".to_string()),
    ] {
        if items.is_empty() {
            continue;
        }
        let _ = write!(out, "\n**{title}**\n\n");
        for item in items.iter().take(NOTES_SHOWN) {
            out.push_str(item);
        }
        if items.len() > NOTES_SHOWN {
            let _ = writeln!(out, "- _…and {} more_", items.len() - NOTES_SHOWN);
        }
    }
    out
}

fn deletion_warning(deleted: &[&&FlowChange]) -> String {
    let n = deleted.len();
    let mut names: Vec<String> = deleted
        .iter()
        .take(WARNING_NAMES)
        .map(|f| code(&flow_name(f)))
        .collect();
    if n > WARNING_NAMES {
        names.push(format!("and {} more", n - WARNING_NAMES));
    }
    format!(
        "> [!WARNING]\n> **{} will be deleted** from the server: {} (not in Git; `delete` is on).\n",
        flows(n),
        names.join(", ")
    )
}

fn diff_block(f: &FlowChange) -> Option<String> {
    let diff = f.diff.as_deref()?;
    let lines = match f.sync_state {
        SyncState::Added => format!("+{}", f.lines_added),
        SyncState::Deleted => format!("-{}", f.lines_removed),
        _ => format!("+{} -{}", f.lines_added, f.lines_removed),
    };
    let label = match f.sync_state {
        SyncState::Added => "➕",
        SyncState::Updated => "✏️",
        SyncState::Deleted => "🗑️",
        _ => "",
    };
    let warn = if f.warnings.is_empty() { "" } else { " ⚠️" };
    let mut out = String::with_capacity(diff.len() + 200);
    let _ = write!(
        out,
        "\n<details><summary>{label} {}{warn} ({lines} lines)</summary>\n\n",
        untrusted::html_code(&flow_name(f))
    );
    // A fence no line of the diff can close; hidden characters shown, a lone CR breaking
    // the shown line as YAML breaks it.
    out.push_str(&untrusted::md_fence(diff, "diff"));
    out.push_str("\n</details>\n");
    Some(out)
}

/// `<sub>unchanged · <against> Kestra <version> at <host>, tenant … · commit · job · version</sub>`.
fn footer(plan: &Plan, ctx: &MarkdownContext, against: &str) -> String {
    let mut bits = vec![format!("{} unchanged", flows(plan.summary.unchanged))];
    let server = &plan.server;
    let mut kestra = format!("{against} Kestra");
    // Version and edition come from the server: a code span (the `<sub>` line is a
    // paragraph, where Markdown is parsed). Host and tenant are the user's settings.
    let told: Vec<&str> = [&server.version, &server.edition]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    if !told.is_empty() {
        let _ = write!(kestra, " {}", code(&told.join(" ")));
    }
    if let Some(h) = host_of(&server.url) {
        let _ = write!(kestra, " at {}", html(&h));
    }
    if let Some(t) = &server.tenant {
        let _ = write!(kestra, ", tenant {}", html(t));
    }
    bits.push(kestra);
    if let Some(c) = ctx.commit.as_deref().filter(|c| !c.is_empty()) {
        let short: String = c.chars().take(7).collect();
        bits.push(format!("commit {}", html(&short)));
    }
    if let Some(u) = ctx.job_url.as_deref().and_then(|u| url::Url::parse(u).ok()) {
        bits.push(format!("[job log](<{u}>)"));
    }
    bits.push(format!("kestra-sync {}", html(&ctx.tool_version)));
    format!("\n<sub>{}</sub>\n", bits.join(" · "))
}

/// The footer of a comment without a plan: commit, job link, version.
fn footer_parts(ctx: &MarkdownContext, what: &str) -> String {
    let mut bits = vec![what.trim_end_matches(" for").to_string()];
    if let Some(c) = ctx.commit.as_deref().filter(|c| !c.is_empty()) {
        let short: String = c.chars().take(7).collect();
        bits.push(format!("commit {}", html(&short)));
    }
    if let Some(u) = ctx.job_url.as_deref().and_then(|u| url::Url::parse(u).ok()) {
        bits.push(format!("[job log](<{u}>)"));
    }
    bits.push(format!("kestra-sync {}", html(&ctx.tool_version)));
    format!("\n<sub>{}</sub>\n", bits.join(" · "))
}

/// Every string from a flow, a file name or a server goes through one of these, all from
/// [`untrusted`]: a code span (`code`), a code span in a table cell (`cell`), HTML-escaped
/// code inside an HTML block (`html_code`), a fenced block (`untrusted::md_fence`).
fn cell(s: &str) -> String {
    untrusted::md_cell(s)
}

fn code(s: &str) -> String {
    untrusted::md_code(s)
}

/// Escaped HTML text for the tool's own words inside HTML; untrusted strings use
/// [`untrusted::html_code`].
fn html(s: &str) -> String {
    untrusted::html_text(s)
}

#[cfg(test)]
#[path = "markdown_tests.rs"]
mod tests;
