//! The plan: desired flows (from Git) against live flows (from the server), one
//! [`FlowChange`] per flow. Pure: it compares sources exactly as the server does, so
//! `UNCHANGED` means "writing this would not create a revision".

use std::collections::BTreeMap;

use serde::Serialize;

use crate::flow::Flow;
use crate::kestra::{strip_revision, RemoteFlow, Scope, ServerInfo};

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
}

impl SyncState {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncState::Added => "ADDED",
            SyncState::Updated => "UPDATED",
            SyncState::Unchanged => "UNCHANGED",
            SyncState::Deleted => "DELETED",
            SyncState::Kept => "KEPT",
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

/// Counts of the four states (KEPT is reported apart).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub deleted: usize,
    /// Flows only on the server, left in place because `delete` is off.
    pub kept: usize,
}

impl Summary {
    /// Whether applying would change anything on the server.
    pub fn has_changes(&self) -> bool {
        self.added + self.updated + self.deleted > 0
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
    /// Sorted: namespace, then id.
    pub flows: Vec<FlowChange>,
    pub server: ServerInfo,
}

impl Plan {
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

    pub fn changes(&self) -> impl Iterator<Item = &FlowChange> {
        self.flows.iter().filter(|f| {
            matches!(
                f.sync_state,
                SyncState::Added | SyncState::Updated | SyncState::Deleted
            )
        })
    }
}

/// Unified diff from `old` to `new` with 3 lines of context; `(diff, added, removed)`.
pub fn unified_diff(
    old: &str,
    new: &str,
    old_name: &str,
    new_name: &str,
) -> (String, usize, usize) {
    let diff = similar::TextDiff::from_lines(old, new);
    let (mut added, mut removed) = (0, 0);
    for change in diff.iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Insert => added += 1,
            similar::ChangeTag::Delete => removed += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    let text = diff
        .unified_diff()
        .context_radius(3)
        .missing_newline_hint(true)
        .header(old_name, new_name)
        .to_string();
    (text, added, removed)
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
                    desired_source: Some(flow.source.clone()),
                    lock: Some(lock_of(None, Some(&flow.source))),
                }
            }
            Some(remote) => {
                let stored = strip_revision(&remote.source);
                let wanted = strip_revision(&flow.source);
                if stored == wanted {
                    FlowChange {
                        git_path: Some(flow.git_path.clone()),
                        namespace: flow.namespace.clone(),
                        flow_id: flow.id.clone(),
                        sync_state: SyncState::Unchanged,
                        revision: remote.revision,
                        diff: None,
                        lines_added: 0,
                        lines_removed: 0,
                        desired_source: None,
                        lock: None,
                    }
                } else {
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
                        desired_source: Some(flow.source.clone()),
                        lock: Some(lock_of(Some(remote), Some(&flow.source))),
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
        let (state, diff, removed) = if delete {
            let live_name = format!("kestra:{}/{}", remote.namespace, remote.id);
            let stored = strip_revision(&remote.source);
            let (d, _, r) = unified_diff(&stored, "", &live_name, "/dev/null");
            (SyncState::Deleted, Some(d), r)
        } else {
            (SyncState::Kept, None, 0)
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
            desired_source: None,
            lock: (state == SyncState::Deleted).then(|| lock_of(Some(remote), None)),
        });
    }
    flows.sort_by(|a, b| (&a.namespace, &a.flow_id).cmp(&(&b.namespace, &b.flow_id)));
    let mut summary = Summary::default();
    for f in &flows {
        match f.sync_state {
            SyncState::Added => summary.added += 1,
            SyncState::Updated => summary.updated += 1,
            SyncState::Unchanged => summary.unchanged += 1,
            SyncState::Deleted => summary.deleted += 1,
            SyncState::Kept => summary.kept += 1,
        }
    }
    Plan {
        target_namespace: scope.namespace.clone(),
        include_child_namespaces: scope.include_children,
        delete,
        summary,
        flows,
        server,
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
            remote("prod", "ws", "id: ws \n"),
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
                kept: 1
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
    fn diff_counts_lines() {
        let (d, a, r) = unified_diff("a\nb\n", "a\nc\n", "old", "new");
        assert_eq!((a, r), (1, 1));
        assert!(d.contains("-b\n+c\n"), "{d}");
    }
}
