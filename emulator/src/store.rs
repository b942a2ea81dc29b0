//! The emulator's flow repository: every revision of every flow, per tenant, with the real
//! server's rules (kestra.md §3): the source is stored as sent minus its first
//! `revision: N` line; a save equal to the stored source creates no revision; any other
//! difference (whitespace included) makes one; delete is soft and itself a revision
//! (`toDeleted()` = revision + 1, deleted), so re-creating continues the numbering.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex::Regex;

/// A flow as stored, for test assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFlow {
    pub namespace: String,
    pub id: String,
    /// Stored source (as sent, minus the first `revision: N` line).
    pub source: String,
    pub revision: u64,
    pub deleted: bool,
}

/// One revision of one flow.
#[derive(Debug, Clone)]
pub(crate) struct Revision {
    pub source: String,
    pub revision: u64,
    pub deleted: bool,
}

/// Key: (tenant, namespace, id); value: revisions, oldest first, never empty.
#[derive(Debug, Default)]
pub(crate) struct Store {
    flows: BTreeMap<(String, String, String), Vec<Revision>>,
}

/// What a save did.
#[derive(Debug, Clone)]
pub(crate) struct Saved {
    pub revision: u64,
    pub source: String,
    /// A new revision was made.
    pub changed: bool,
}

/// The server's `FlowService.cleanupSource`: drop the first `(?m)^revision: \d+\n?` (Java's `\d` is
/// ASCII digits only; a lone `\r` also starts a line in Java, not here: no test needs it).
pub(crate) fn cleanup_source(source: &str) -> String {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| Regex::new(r"(?m)^revision: [0-9]+\n?").expect("static regex"));
    re.replacen(source, 1, "").into_owned()
}

fn key(tenant: &str, namespace: &str, id: &str) -> (String, String, String) {
    (tenant.to_string(), namespace.to_string(), id.to_string())
}

impl Store {
    /// Latest revision, deleted or not.
    pub fn latest(&self, tenant: &str, namespace: &str, id: &str) -> Option<&Revision> {
        self.flows.get(&key(tenant, namespace, id))?.last()
    }

    /// Latest revision if the flow is live.
    pub fn live(&self, tenant: &str, namespace: &str, id: &str) -> Option<&Revision> {
        self.latest(tenant, namespace, id).filter(|r| !r.deleted)
    }

    /// One revision by number.
    pub fn revision(&self, tenant: &str, namespace: &str, id: &str, rev: u64) -> Option<&Revision> {
        self.flows
            .get(&key(tenant, namespace, id))?
            .iter()
            .find(|r| r.revision == rev)
    }

    /// Create (revision 1, or previous + 1 after a soft delete) or update (new revision only
    /// when the cleaned source differs). The caller checks existence rules first.
    pub fn save(&mut self, tenant: &str, namespace: &str, id: &str, source: &str) -> Saved {
        let cleaned = cleanup_source(source);
        let revisions = self.flows.entry(key(tenant, namespace, id)).or_default();
        if let Some(last) = revisions.last() {
            if !last.deleted && last.source == cleaned {
                return Saved {
                    revision: last.revision,
                    source: last.source.clone(),
                    changed: false,
                };
            }
        }
        let revision = revisions.last().map_or(1, |r| r.revision + 1);
        revisions.push(Revision {
            source: cleaned.clone(),
            revision,
            deleted: false,
        });
        Saved {
            revision,
            source: cleaned,
            changed: true,
        }
    }

    /// Soft delete; `None` if there is no live flow.
    pub fn delete(&mut self, tenant: &str, namespace: &str, id: &str) -> Option<u64> {
        let revisions = self.flows.get_mut(&key(tenant, namespace, id))?;
        let last = revisions.last()?.clone();
        if last.deleted {
            return None;
        }
        let revision = last.revision + 1;
        revisions.push(Revision {
            source: last.source,
            revision,
            deleted: true,
        });
        Some(revision)
    }

    /// Live flows of a tenant, sorted by namespace then id.
    pub fn live_flows(&self, tenant: &str) -> Vec<StoredFlow> {
        self.live_flows_matching(tenant, |_, _| true, true)
    }

    /// Live flows of a tenant whose `(namespace, id)` pass `keep`, sorted by namespace then
    /// id; sources are copied only for those, and only `with_source` (listings of 10,000
    /// flows stay cheap; without, `source` is empty).
    pub fn live_flows_matching(
        &self,
        tenant: &str,
        keep: impl Fn(&str, &str) -> bool,
        with_source: bool,
    ) -> Vec<StoredFlow> {
        self.flows
            .iter()
            .filter(|((t, ns, id), _)| t == tenant && keep(ns, id))
            .filter_map(|((_, ns, id), revs)| {
                let last = revs.last()?;
                (!last.deleted).then(|| StoredFlow {
                    namespace: ns.clone(),
                    id: id.clone(),
                    source: if with_source {
                        last.source.clone()
                    } else {
                        String::new()
                    },
                    revision: last.revision,
                    deleted: false,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_rules() {
        let mut s = Store::default();
        let src = "id: a\nnamespace: n\ntasks: []\n";
        assert_eq!(s.save("main", "n", "a", src).revision, 1);
        // identical: no new revision
        assert!(!s.save("main", "n", "a", src).changed);
        // identical once the first revision line is removed: no new revision
        let with_rev = "id: a\nnamespace: n\nrevision: 7\ntasks: []\n";
        let saved = s.save("main", "n", "a", with_rev);
        assert_eq!((saved.revision, saved.changed), (1, false));
        // whitespace difference: new revision
        assert_eq!(
            s.save("main", "n", "a", "id: a\nnamespace: n\ntasks: [] \n")
                .revision,
            2
        );
        // soft delete is a revision; re-create continues
        assert_eq!(s.delete("main", "n", "a"), Some(3));
        assert_eq!(s.delete("main", "n", "a"), None);
        assert!(s.live("main", "n", "a").is_none());
        assert_eq!(s.save("main", "n", "a", src).revision, 4);
        assert_eq!(s.live_flows("main").len(), 1);
        assert!(s.live_flows("other").is_empty());
    }

    #[test]
    fn cleanup_removes_only_the_first_top_level_revision_line() {
        assert_eq!(
            cleanup_source("revision: 3\nid: a\nrevision: 4\n"),
            "id: a\nrevision: 4\n"
        );
        assert_eq!(
            cleanup_source("id: a\n  revision: 3\n"),
            "id: a\n  revision: 3\n"
        );
        assert_eq!(cleanup_source("id: a\nrevision: 3"), "id: a\n");
    }
}
