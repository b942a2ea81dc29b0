//! The plan: desired flows (from Git) against live flows (from the server), one
//! [`FlowChange`] per flow. Pure: it compares sources exactly as the server does, so
//! `UNCHANGED` means "writing this would not create a revision".

use crate::diff::unified_diff;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::flow::Flow;
use crate::model::{same_source, strip_revision, RemoteFlow, Scope, ServerInfo, Validation};
use crate::nsfiles::{FileChange, FilesSummary};

/// The seed task's words for what happens to a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SyncState {
    /// In Git, not on the server: will be created.
    Added,
    /// In both, sources differ: will be updated (a new revision).
    Updated,
    /// In both, sources equal as the server compares them.
    Unchanged,
    /// On the server in scope, not in Git, and `delete` is on: will be deleted.
    Deleted,
    /// On the server in scope, not in Git, `delete` is off: left alone (outside the counts).
    Kept,
    /// In Git, refused by the server's validation, and skipped because of
    /// `--ignore-invalid-flows`: not written, and its copy on the server (if any) stays.
    Invalid,
}

impl SyncState {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncState::Added => "ADDED",
            SyncState::Updated => "UPDATED",
            SyncState::Unchanged => "UNCHANGED",
            SyncState::Deleted => "DELETED",
            SyncState::Kept => "KEPT",
            SyncState::Invalid => "INVALID",
        }
    }
}

/// One flow in the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowChange {
    /// Workspace-relative file, absent for flows only on the server.
    pub git_path: Option<String>,
    pub namespace: String,
    pub flow_id: String,
    pub sync_state: SyncState,
    /// Revision on the server before the change, if it exists there. Always given for the
    /// rows that change a flow on the server (UPDATED, DELETED). For UNCHANGED and KEPT rows
    /// it is given when the scope holds at most one search page (1,000 flows) and may be
    /// `null` beyond: reading those revisions would cost a request per 1,000 flows, and
    /// nothing is done with them.
    pub revision: Option<u64>,
    /// Unified diff live -> Git (`None` when unchanged).
    pub diff: Option<String>,
    /// Lines added / removed in the diff.
    pub lines_added: usize,
    pub lines_removed: usize,
    /// Why the server refuses this flow (its validation), each at the Git file's line of
    /// the property the server names when it names one. Absent from the JSON when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FlowError>,
    /// What the reader should know about this flow that does not stop the plan (the
    /// server's warnings, deprecations and infos, `hidden-characters` when its name, file or
    /// shown source holds characters that hide or reorder text, …). Absent from the JSON
    /// when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<FlowWarning>,
    /// Source to write (for ADDED / UPDATED); not part of the JSON contract.
    #[serde(skip)]
    pub desired_source: Option<String>,
    /// What this change was computed against and what it writes, so an apply can refuse a
    /// plan whose base moved ([`crate::lock`]). Given for the rows that change a flow
    /// (ADDED, UPDATED, DELETED), absent for the others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock: Option<Lock>,
}

/// The base a change was planned against and the source it writes: `{"baseRevision",
/// "baseSha256", "desiredSha256"}` in the JSON plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lock {
    /// Live revision before the change; `None` when the flow is not on the server.
    pub base_revision: Option<u64>,
    /// sha256 (hex) of the live source as the server compares it (its `revision:` line
    /// removed, see [`strip_revision`]); `None` when the flow is not on the server.
    pub base_sha256: Option<String>,
    /// sha256 (hex) of the exact source to be written; `None` for a delete.
    pub desired_sha256: Option<String>,
}

/// Lowercase hex sha256 of `text`'s UTF-8 bytes.
pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(text.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The lock of a change from `live` (its source and revision, when on the server) to
/// `desired` (`None` for a delete).
fn lock_of(live: Option<&RemoteFlow>, desired: Option<&str>) -> Lock {
    Lock {
        base_revision: live.and_then(|r| r.revision),
        base_sha256: live.map(|r| sha256_hex(&strip_revision(&r.source))),
        desired_sha256: desired.map(sha256_hex),
    }
}

impl FlowChange {
    /// A row with no diff, errors or warnings (the renderers and tests fill the rest).
    pub fn new(namespace: &str, flow_id: &str, sync_state: SyncState) -> FlowChange {
        FlowChange {
            git_path: None,
            namespace: namespace.to_string(),
            flow_id: flow_id.to_string(),
            sync_state,
            revision: None,
            diff: None,
            lines_added: 0,
            lines_removed: 0,
            errors: Vec::new(),
            warnings: Vec::new(),
            desired_source: None,
            lock: None,
        }
    }

    /// `file:line` of a message about this flow (`file` alone without a line).
    pub fn place(&self, line: Option<usize>) -> String {
        let file = self.git_path.as_deref().unwrap_or_default();
        match line {
            Some(l) => format!("{file}:{l}"),
            None => file.to_string(),
        }
    }
}

/// One reason the server refuses a flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowError {
    /// The server's message, as it wrote it.
    pub message: String,
    /// 1-based line of the Git file, when the message names a property found there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

/// A per-flow warning: shown in every output, never fatal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowWarning {
    /// What kind of warning, in kebab case: `server-warning`, `server-info`, … (other
    /// kinds may be added).
    pub kind: String,
    pub message: String,
    /// 1-based line of the Git file, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

/// What would make apply refuse the plan, under the same settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlockerKind {
    /// More deletes than `--max-deletes`.
    MaxDeletes,
    /// Every flow in scope would be deleted.
    MassDelete,
    /// The server refuses some flows (and `--ignore-invalid-flows` is off).
    InvalidFlows,
}

impl BlockerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BlockerKind::MaxDeletes => "max-deletes",
            BlockerKind::MassDelete => "mass-delete",
            BlockerKind::InvalidFlows => "invalid-flows",
        }
    }
}

/// One reason apply would refuse the plan, with what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Blocker {
    pub kind: BlockerKind,
    pub message: String,
}

/// The settings apply's guards read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guard {
    pub max_deletes: usize,
    pub allow_mass_delete: bool,
}

/// What a plan means, in one word: the comment's title and the PR label say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    NoChanges,
    Changes,
    /// Changes that delete flows.
    Deletes,
    /// The plan cannot be applied as it is (a blocker), or could not be computed.
    Failed,
}

impl Status {
    /// `no changes`, `changes`, `deletes`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::NoChanges => "no changes",
            Status::Changes => "changes",
            Status::Deletes => "deletes",
            Status::Failed => "failed",
        }
    }
}

/// The kind of the warning on a flow whose shown text holds hidden characters.
pub const HIDDEN_CHARACTERS: &str = "hidden-characters";

/// The `hidden-characters` warning of a flow, when its file name, namespace, id, Git source
/// or server source holds characters that hide text or change how it reads (see
/// [`crate::untrusted`]).
pub fn hidden_characters_warning(
    git_path: Option<&str>,
    namespace: &str,
    id: &str,
    git_source: Option<&str>,
    server_source: Option<&str>,
) -> Option<FlowWarning> {
    use crate::untrusted::hidden_characters;
    let mut parts = Vec::new();
    let names = [
        ("the file name", git_path),
        ("the namespace", Some(namespace)),
        ("the flow id", Some(id)),
    ];
    for (what, s) in names {
        if let Some(h) = s.and_then(hidden_characters) {
            // A name is one line: its line number says nothing.
            parts.push(format!("in {what}: {}", h.replace(" on line 1", "")));
        }
    }
    if let Some(h) = git_source.and_then(hidden_characters) {
        parts.push(format!("in the Git file: {h}"));
    }
    if let Some(h) = server_source.and_then(hidden_characters) {
        parts.push(format!("in the server's copy: {h}"));
    }
    if parts.is_empty() {
        return None;
    }
    Some(FlowWarning {
        line: None,
        kind: HIDDEN_CHARACTERS.into(),
        message: format!(
            "hidden characters, shown visibly in this plan ({}); a lone carriage return is a line break for YAML and Kestra: check that the flow does what it seems to",
            parts.join("; ")
        ),
    })
}

/// Counts of the four states (KEPT is reported apart).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub deleted: usize,
    /// Flows only on the server, left in place because `delete` is off.
    pub kept: usize,
    /// Flows refused by the server and skipped (`--ignore-invalid-flows`); absent when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub invalid: usize,
    /// Namespace files, with `--namespace-files` (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<FilesSummary>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Summary {
    /// The counts of `flows`.
    pub fn of(flows: &[FlowChange]) -> Summary {
        let mut summary = Summary::default();
        for f in flows {
            match f.sync_state {
                SyncState::Added => summary.added += 1,
                SyncState::Updated => summary.updated += 1,
                SyncState::Unchanged => summary.unchanged += 1,
                SyncState::Deleted => summary.deleted += 1,
                SyncState::Kept => summary.kept += 1,
                SyncState::Invalid => summary.invalid += 1,
            }
        }
        summary
    }

    /// Whether applying would change anything on the server (flows or namespace files).
    pub fn has_changes(&self) -> bool {
        self.added + self.updated + self.deleted > 0 || self.files.is_some_and(|f| f.has_changes())
    }
}

/// The whole plan for one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub target_namespace: String,
    pub include_child_namespaces: bool,
    pub delete: bool,
    pub summary: Summary,
    /// What would make apply refuse this plan (empty: none). Set by [`Plan::check`].
    pub blockers: Vec<Blocker>,
    /// What the reader must know about the whole plan (flows skipped, a missing folder).
    /// Absent from the JSON when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Sorted: namespace, then id.
    pub flows: Vec<FlowChange>,
    /// Namespace files, with `--namespace-files` (absent otherwise); sorted by path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<FileChange>>,
    pub server: ServerInfo,
    /// The server validated every flow to be written ([`Plan::set_validation`]); its
    /// answers, for apply's error report. Not part of the JSON contract.
    #[serde(skip)]
    pub validations: Option<Vec<Validation>>,
}

impl Plan {
    /// Add the namespace-file rows (and their counts) to the plan.
    pub fn set_files(&mut self, files: Vec<FileChange>) {
        self.summary.files = Some(FilesSummary::of(&files));
        self.files = Some(files);
    }

    /// The namespace-file rows (empty without `--namespace-files`).
    pub fn file_rows(&self) -> &[FileChange] {
        self.files.as_deref().unwrap_or_default()
    }

    /// `(namespace, id)` of the rows that change a flow on the server (UPDATED, DELETED)
    /// whose revision the listing did not give: those [`Plan::set_revisions`] must fill.
    pub fn unknown_revisions(&self) -> Vec<(String, String)> {
        self.flows
            .iter()
            .filter(|f| matches!(f.sync_state, SyncState::Updated | SyncState::Deleted))
            .filter(|f| f.revision.is_none())
            .map(|f| (f.namespace.clone(), f.flow_id.clone()))
            .collect()
    }

    /// Set the revisions read after the plan was computed (rows not in `revisions` keep
    /// theirs), in the row and in its lock.
    pub fn set_revisions(&mut self, revisions: &BTreeMap<(String, String), u64>) {
        for f in &mut self.flows {
            if f.revision.is_none() {
                if let Some(r) = revisions.get(&(f.namespace.clone(), f.flow_id.clone())) {
                    f.revision = Some(*r);
                    if let Some(lock) = &mut f.lock {
                        if lock.base_sha256.is_some() {
                            lock.base_revision = Some(*r);
                        }
                    }
                }
            }
        }
    }

    /// The flows that will be written (ADDED, UPDATED): what the server must validate.
    pub fn writes(&self) -> impl Iterator<Item = &FlowChange> {
        self.flows
            .iter()
            .filter(|f| matches!(f.sync_state, SyncState::Added | SyncState::Updated))
    }

    /// Record the server's validation of the flows to be written (`results`, one per flow
    /// of `flows` that was sent). Errors and warnings land on their rows, at the Git file's
    /// line of the property they name. With `ignore_invalid`, an invalid flow becomes
    /// [`SyncState::Invalid`]: not written, and never deleted (it is in Git).
    pub fn set_validation(
        &mut self,
        flows: &[Flow],
        results: Vec<Validation>,
        ignore_invalid: bool,
    ) {
        let by_path: BTreeMap<&str, &Flow> =
            flows.iter().map(|f| (f.git_path.as_str(), f)).collect();
        let by_result: BTreeMap<&str, &Validation> =
            results.iter().map(|v| (v.git_path.as_str(), v)).collect();
        for row in &mut self.flows {
            let Some(path) = row.git_path.as_deref() else {
                continue;
            };
            let (Some(v), Some(flow)) = (by_result.get(path), by_path.get(path)) else {
                continue;
            };
            let line = |message: &str| {
                crate::flow::property::message_line(&flow.source, message).map(|l| flow.git_line(l))
            };
            row.errors = v
                .errors
                .iter()
                .map(|m| FlowError {
                    line: line(m),
                    message: m.clone(),
                })
                .collect();
            let warnings = v
                .warnings
                .iter()
                .map(|m| ("server-warning", m))
                .chain(v.infos.iter().map(|m| ("server-info", m)));
            row.warnings.extend(warnings.map(|(kind, m)| FlowWarning {
                kind: kind.into(),
                line: line(m),
                message: m.clone(),
            }));
            if ignore_invalid && !row.errors.is_empty() {
                row.sync_state = SyncState::Invalid;
                row.diff = None;
                row.lines_added = 0;
                row.lines_removed = 0;
                row.desired_source = None;
                row.lock = None;
            }
        }
        let files = self.summary.files;
        self.summary = Summary::of(&self.flows);
        self.summary.files = files;
        self.validations = Some(results);
    }

    /// The flows the server refuses that would still be written: what fails the plan.
    pub fn invalid_writes(&self) -> impl Iterator<Item = &FlowChange> {
        self.writes().filter(|f| !f.errors.is_empty())
    }

    /// Compute [`Plan::blockers`]: what would make apply refuse this plan under `guard`.
    pub fn check(&mut self, guard: Guard) {
        let mut blockers = self.delete_blockers(guard);
        let invalid = self.invalid_writes().count();
        if invalid > 0 {
            blockers.push(Blocker {
                kind: BlockerKind::InvalidFlows,
                message: format!(
                    "the server refuses {invalid} flow(s): fix them (each is listed with the server's reason), or pass --ignore-invalid-flows to skip them and sync the rest"
                ),
            });
        }
        self.blockers = blockers;
    }

    /// The deletion guards (`mass-delete`, `max-deletes`), as apply checks them.
    /// Namespace files count too: deleting every file Git owns under
    /// `--namespace-directory`, and `--max-deletes` over flows and files together.
    pub fn delete_blockers(&self, guard: Guard) -> Vec<Blocker> {
        let s = &self.summary;
        let f = s.files.unwrap_or_default();
        if s.deleted + f.deleted == 0 || guard.allow_mass_delete {
            return Vec::new();
        }
        if f.deleted > 0 && f.added + f.overwritten + f.unchanged == 0 {
            return vec![Blocker {
                kind: BlockerKind::MassDelete,
                message: format!(
                    "refusing to delete every namespace file of `{}` under --namespace-directory ({} files): Git has no file for it. \
                     Check --files-directory and --namespace-directory; if this is really intended, pass --allow-mass-delete",
                    self.target_namespace, f.deleted
                ),
            }];
        }
        if s.deleted + f.deleted > guard.max_deletes && f.deleted > 0 {
            return vec![Blocker {
                kind: BlockerKind::MaxDeletes,
                message: format!(
                    "refusing to delete {} flows and {} namespace files in `{}`: more than --max-deletes ({}). \
                     Review the plan; raise --max-deletes or pass --allow-mass-delete if this is intended",
                    s.deleted, f.deleted, self.target_namespace, guard.max_deletes
                ),
            }];
        }
        if s.deleted == 0 {
            return Vec::new();
        }
        if s.added + s.updated + s.unchanged + s.invalid == 0 {
            return vec![Blocker {
                kind: BlockerKind::MassDelete,
                message: format!(
                    "refusing to delete every flow in `{}` ({} flows): Git has no flow for this target. \
                     Check --git-directory and --target-namespace; if this is really intended, pass --allow-mass-delete",
                    self.target_namespace, s.deleted
                ),
            }];
        }
        if s.deleted > guard.max_deletes {
            return vec![Blocker {
                kind: BlockerKind::MaxDeletes,
                message: format!(
                    "refusing to delete {} flows in `{}`: more than --max-deletes ({}). \
                     Review the plan; raise --max-deletes or pass --allow-mass-delete if this is intended",
                    s.deleted, self.target_namespace, guard.max_deletes
                ),
            }];
        }
        Vec::new()
    }

    /// The plan in one word.
    pub fn status(&self) -> Status {
        if !self.blockers.is_empty() {
            Status::Failed
        } else if self.summary.deleted > 0 || self.summary.files.is_some_and(|f| f.deleted > 0) {
            Status::Deletes
        } else if self.summary.has_changes() {
            Status::Changes
        } else {
            Status::NoChanges
        }
    }

    pub fn changes(&self) -> impl Iterator<Item = &FlowChange> {
        self.flows.iter().filter(|f| {
            matches!(
                f.sync_state,
                SyncState::Added | SyncState::Updated | SyncState::Deleted
            )
        })
    }
}

/// Compare desired against live. `live` may contain anything the server returned: flows
/// outside `scope` are ignored here, whatever the server's filtering did.
pub fn compute(
    desired: &[Flow],
    live: &[RemoteFlow],
    scope: &Scope,
    delete: bool,
    server: ServerInfo,
) -> Plan {
    let live: BTreeMap<(&str, &str), &RemoteFlow> = live
        .iter()
        .filter(|r| scope.contains(&r.namespace))
        .map(|r| ((r.namespace.as_str(), r.id.as_str()), r))
        .collect();
    let mut flows = Vec::with_capacity(desired.len() + live.len());
    let mut seen = std::collections::BTreeSet::new();
    for flow in desired {
        let key = (flow.namespace.as_str(), flow.id.as_str());
        seen.insert(key);
        let change = match live.get(&key) {
            None => {
                let (diff, added, removed) =
                    unified_diff("", &flow.source, "/dev/null", &flow.git_path);
                FlowChange {
                    git_path: Some(flow.git_path.clone()),
                    namespace: flow.namespace.clone(),
                    flow_id: flow.id.clone(),
                    sync_state: SyncState::Added,
                    revision: None,
                    diff: Some(diff),
                    lines_added: added,
                    lines_removed: removed,
                    errors: Vec::new(),
                    desired_source: Some(flow.source.clone()),
                    lock: Some(lock_of(None, Some(&flow.source))),
                    warnings: hidden_characters_warning(
                        Some(&flow.git_path),
                        &flow.namespace,
                        &flow.id,
                        Some(&flow.source),
                        None,
                    )
                    .into_iter()
                    .collect(),
                }
            }
            Some(remote) => {
                if same_source(&remote.source, &flow.source) {
                    FlowChange {
                        git_path: Some(flow.git_path.clone()),
                        namespace: flow.namespace.clone(),
                        flow_id: flow.id.clone(),
                        sync_state: SyncState::Unchanged,
                        revision: remote.revision,
                        diff: None,
                        lines_added: 0,
                        lines_removed: 0,
                        errors: Vec::new(),
                        desired_source: None,
                        lock: None,
                        warnings: Vec::new(),
                    }
                } else {
                    let stored = strip_revision(&remote.source);
                    let wanted = strip_revision(&flow.source);
                    let live_name = format!("kestra:{}/{}", remote.namespace, remote.id);
                    let (diff, added, removed) =
                        unified_diff(&stored, &wanted, &live_name, &flow.git_path);
                    FlowChange {
                        git_path: Some(flow.git_path.clone()),
                        namespace: flow.namespace.clone(),
                        flow_id: flow.id.clone(),
                        sync_state: SyncState::Updated,
                        revision: remote.revision,
                        diff: Some(diff),
                        lines_added: added,
                        lines_removed: removed,
                        errors: Vec::new(),
                        desired_source: Some(flow.source.clone()),
                        lock: Some(lock_of(Some(remote), Some(&flow.source))),
                        warnings: hidden_characters_warning(
                            Some(&flow.git_path),
                            &flow.namespace,
                            &flow.id,
                            Some(&wanted),
                            Some(&stored),
                        )
                        .into_iter()
                        .collect(),
                    }
                }
            }
        };
        flows.push(change);
    }
    for (key, remote) in &live {
        if seen.contains(key) {
            continue;
        }
        let (state, diff, removed, warnings) = if delete {
            let live_name = format!("kestra:{}/{}", remote.namespace, remote.id);
            let stored = strip_revision(&remote.source);
            let (d, _, r) = unified_diff(&stored, "", &live_name, "/dev/null");
            let w =
                hidden_characters_warning(None, &remote.namespace, &remote.id, None, Some(&stored));
            (SyncState::Deleted, Some(d), r, w)
        } else {
            let w = hidden_characters_warning(None, &remote.namespace, &remote.id, None, None);
            (SyncState::Kept, None, 0, w)
        };
        flows.push(FlowChange {
            git_path: None,
            namespace: remote.namespace.clone(),
            flow_id: remote.id.clone(),
            sync_state: state,
            revision: remote.revision,
            diff,
            lines_added: 0,
            lines_removed: removed,
            errors: Vec::new(),
            desired_source: None,
            lock: (state == SyncState::Deleted).then(|| lock_of(Some(remote), None)),
            warnings: warnings.into_iter().collect(),
        });
    }
    flows.sort_by(|a, b| (&a.namespace, &a.flow_id).cmp(&(&b.namespace, &b.flow_id)));
    Plan {
        target_namespace: scope.namespace.clone(),
        include_child_namespaces: scope.include_children,
        delete,
        summary: Summary::of(&flows),
        blockers: Vec::new(),
        warnings: Vec::new(),
        flows,
        files: None,
        server,
        validations: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(ns: &str, id: &str, src: &str) -> Flow {
        Flow {
            git_path: format!("_flows/{id}.yml"),
            namespace: ns.into(),
            id: id.into(),
            source: src.into(),
            inserted_line: None,
        }
    }
    fn remote(ns: &str, id: &str, src: &str) -> RemoteFlow {
        RemoteFlow {
            namespace: ns.into(),
            id: id.into(),
            source: src.into(),
            revision: Some(3),
        }
    }
    fn scope(children: bool) -> Scope {
        Scope::new("prod", children)
    }

    #[test]
    fn states_follow_the_server_comparison() {
        let desired = vec![
            flow("prod", "new", "id: new\n"),
            flow("prod", "same", "id: same\n"),
            flow("prod", "ws", "id: ws\n"),
        ];
        let live = vec![
            remote("prod", "same", "id: same\nrevision: 3\n"),
            remote("prod", "ws", "id:  ws\n"),
            remote("prod", "gone", "id: gone\n"),
        ];
        let plan = compute(&desired, &live, &scope(false), false, ServerInfo::default());
        let states: Vec<_> = plan
            .flows
            .iter()
            .map(|f| (f.flow_id.as_str(), f.sync_state))
            .collect();
        assert_eq!(
            states,
            vec![
                ("gone", SyncState::Kept),
                ("new", SyncState::Added),
                ("same", SyncState::Unchanged),
                ("ws", SyncState::Updated),
            ]
        );
        assert_eq!(
            plan.summary,
            Summary {
                added: 1,
                updated: 1,
                unchanged: 1,
                deleted: 0,
                kept: 1,
                invalid: 0,
                files: None,
            }
        );
        assert!(plan.summary.has_changes());
    }

    #[test]
    fn deletes_only_inside_scope_even_when_the_server_lists_siblings() {
        let live = vec![
            remote("prod", "a", "id: a\n"),
            remote("prod.x", "b", "id: b\n"),
            remote("prod2", "c", "id: c\n"),
            remote("other", "d", "id: d\n"),
        ];
        let plan = compute(&[], &live, &scope(true), true, ServerInfo::default());
        let deleted: Vec<_> = plan
            .flows
            .iter()
            .map(|f| format!("{}/{}", f.namespace, f.flow_id))
            .collect();
        assert_eq!(deleted, vec!["prod/a", "prod.x/b"]);
        assert!(plan
            .flows
            .iter()
            .all(|f| f.sync_state == SyncState::Deleted));
        let flat = compute(&[], &live, &scope(false), true, ServerInfo::default());
        assert_eq!(flat.summary.deleted, 1);
    }

    #[test]
    fn trailing_whitespace_at_the_end_is_unchanged_as_syncflows_stores_it() {
        // SyncFlows trims what it imports: no final newline on the server
        let desired = vec![
            flow("prod", "a", "id: a\ntasks: []\n"),
            flow("prod", "b", "id: b\ntasks: []\n\n  \t\n"),
            flow("prod", "c", "id: c\ntasks: [] \n"),
            flow("prod", "d", "id: d\n tasks: []\n"),
        ];
        let live = vec![
            remote("prod", "a", "id: a\ntasks: []"),
            remote("prod", "b", "id: b\ntasks: []\nrevision: 4"),
            remote("prod", "c", "id: c\ntasks: []"),
            remote("prod", "d", "id: d\ntasks: []"),
        ];
        let plan = compute(&desired, &live, &scope(false), false, ServerInfo::default());
        let states: Vec<_> = plan.flows.iter().map(|f| f.sync_state).collect();
        assert_eq!(
            states,
            vec![
                SyncState::Unchanged,
                SyncState::Unchanged,
                SyncState::Unchanged,
                // whitespace inside the text is a change
                SyncState::Updated
            ]
        );
    }

    fn guard(max_deletes: usize) -> Guard {
        Guard {
            max_deletes,
            allow_mass_delete: false,
        }
    }

    #[test]
    fn blockers_are_the_guards_apply_checks() {
        let live: Vec<RemoteFlow> = (0..5)
            .map(|i| remote("prod", &format!("f{i}"), "id: x\n"))
            .collect();
        let mut all_gone = compute(&[], &live, &scope(false), true, ServerInfo::default());
        all_gone.check(guard(10));
        assert_eq!(all_gone.blockers.len(), 1);
        assert_eq!(all_gone.blockers[0].kind, BlockerKind::MassDelete);
        assert_eq!(all_gone.status(), Status::Failed);

        let desired = vec![flow("prod", "f0", "id: x\n")];
        let mut four = compute(&desired, &live, &scope(false), true, ServerInfo::default());
        four.check(guard(3));
        assert_eq!(four.blockers[0].kind, BlockerKind::MaxDeletes);
        assert!(four.blockers[0]
            .message
            .contains("more than --max-deletes (3)"));
        four.check(guard(4));
        assert!(four.blockers.is_empty());
        assert_eq!(four.status(), Status::Deletes);
        four.check(Guard {
            max_deletes: 0,
            allow_mass_delete: true,
        });
        assert!(four.blockers.is_empty());
    }

    fn invalid(path: &str, message: &str) -> Validation {
        Validation {
            git_path: path.into(),
            errors: vec![message.into()],
            warnings: vec![],
            infos: vec![],
        }
    }

    #[test]
    fn invalid_flows_block_the_plan_at_the_line_the_server_names() {
        let mut bad = flow(
            "prod",
            "bad",
            "id: bad\nnamespace: prod\ntasks:\n  - id: t\n    type: nope\n",
        );
        // a file without a namespace: the inserted line is not in Git
        bad.inserted_line = Some(2);
        let good = flow("prod", "good", "id: good\n");
        let live = vec![remote("prod", "bad", "id: bad\n")];
        let mut plan = compute(
            &[bad.clone(), good.clone()],
            &live,
            &scope(false),
            true,
            ServerInfo::default(),
        );
        let results = vec![
            invalid("_flows/bad.yml", "tasks[0].type: Invalid type: nope"),
            Validation {
                git_path: "_flows/good.yml".into(),
                errors: vec![],
                warnings: vec!["The subflow 'x' not found in namespace 'y'.".into()],
                infos: vec!["an info".into()],
            },
        ];
        plan.set_validation(&[bad.clone(), good.clone()], results.clone(), false);
        plan.check(guard(10));
        assert_eq!(plan.blockers[0].kind, BlockerKind::InvalidFlows);
        assert_eq!(plan.status(), Status::Failed);
        let row = &plan.flows[0];
        assert_eq!(row.sync_state, SyncState::Updated);
        assert_eq!(
            row.errors,
            vec![FlowError {
                message: "tasks[0].type: Invalid type: nope".into(),
                line: Some(4)
            }]
        );
        assert_eq!(row.place(row.errors[0].line), "_flows/bad.yml:4");
        let kinds: Vec<&str> = plan.flows[1]
            .warnings
            .iter()
            .map(|w| w.kind.as_str())
            .collect();
        assert_eq!(kinds, vec!["server-warning", "server-info"]);

        // --ignore-invalid-flows: skipped, counted apart, never deleted, no blocker
        let mut plan = compute(
            &[bad.clone(), good.clone()],
            &live,
            &scope(false),
            true,
            ServerInfo::default(),
        );
        plan.set_validation(&[bad, good], results, true);
        plan.check(guard(10));
        assert!(plan.blockers.is_empty());
        assert_eq!(plan.flows[0].sync_state, SyncState::Invalid);
        assert!(plan.flows[0].desired_source.is_none());
        assert_eq!(
            (
                plan.summary.invalid,
                plan.summary.deleted,
                plan.summary.added
            ),
            (1, 0, 1)
        );
        assert_eq!(plan.writes().count(), 1);
    }

    #[test]
    fn diff_counts_lines() {
        let (d, a, r) = unified_diff("a\nb\n", "a\nc\n", "old", "new");
        assert_eq!((a, r), (1, 1));
        assert!(d.contains("-b\n+c\n"), "{d}");
    }
}
