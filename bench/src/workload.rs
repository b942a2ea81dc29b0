//! The generated workload: N flow files across M = N/100 folders (child namespaces of the
//! target), written as a user's repository would hold them, the same flows as the server
//! stores them once synced, and the 1 % change set of the incremental apply.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;

/// The target namespace of every run.
pub const TARGET: &str = "bench";
/// The namespace written in the files; kestra-sync rewrites it to the target (+ folders).
pub const FILE_NAMESPACE: &str = "company.team";
/// Flows outside the scope, always on the server: a listing must not pick them up.
pub const UNRELATED: usize = 100;

/// One generated flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenFlow {
    /// Folder under `_flows` (one namespace segment), e.g. `t003`.
    pub folder: String,
    pub id: String,
    /// Bumped to make an update.
    pub version: u32,
}

impl GenFlow {
    pub fn namespace(&self) -> String {
        format!("{TARGET}.{}", self.folder)
    }
    pub fn rel_path(&self) -> String {
        format!("{}/{}.yml", self.folder, self.id)
    }
    /// The file as written in Git.
    pub fn file_text(&self) -> String {
        source_text(&self.id, FILE_NAMESPACE, &self.folder, self.version)
    }
    /// The source the server holds once synced: the file with only the namespace value
    /// replaced (what kestra-sync's text-preserving rewrite produces).
    pub fn server_text(&self) -> String {
        source_text(&self.id, &self.namespace(), &self.folder, self.version)
    }
}

/// A realistic small flow (~700 bytes): comments, labels, inputs, two tasks, a trigger.
fn source_text(id: &str, namespace: &str, folder: &str, version: u32) -> String {
    format!(
        "# Nightly export for team {folder}. Owned by the data platform team.\n\
         id: {id}\n\
         namespace: {namespace}\n\
         description: |\n  Exports the {folder} tables to the warehouse (version {version}).\n  Reruns are safe.\n\
         labels:\n  team: {folder}\n  tier: bench\n\
         inputs:\n  - id: day\n    type: STRING\n    defaults: \"2024-01-01\"\n\
         tasks:\n\
         \x20 - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: \"{id} for {{{{ inputs.day }}}} (v{version})\"\n\
         \x20 - id: wait\n    type: io.kestra.plugin.core.flow.Sleep\n    duration: PT1S\n\
         triggers:\n  - id: nightly\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 3 * * *\"\n"
    )
}

/// `n` flows in `max(1, n/100)` folders, 100 per folder.
pub fn flows(n: usize) -> Vec<GenFlow> {
    (0..n)
        .map(|i| GenFlow {
            folder: format!("t{:03}", i / 100),
            id: format!("f{i:05}"),
            version: 1,
        })
        .collect()
}

/// Number of namespaces the flows of `flows(n)` land in.
pub fn namespaces(n: usize) -> usize {
    n.div_ceil(100).max(1)
}

/// The incremental change: 1 % of the flows, at least one of each kind: half of them
/// updated, a quarter added, a quarter deleted.
pub struct Change {
    pub desired: Vec<GenFlow>,
    pub updated: usize,
    pub added: usize,
    pub deleted: usize,
}

impl Change {
    pub fn total(&self) -> usize {
        self.updated + self.added + self.deleted
    }
}

/// Desired flows after a 1 % change of `base` (the server holds `base`).
pub fn one_percent_change(base: &[GenFlow]) -> Change {
    let changed = (base.len() / 100).max(4);
    let deleted = (changed / 4).max(1);
    let added = (changed / 4).max(1);
    let updated = changed - deleted - added;
    let n = base.len();
    let mut desired: Vec<GenFlow> = Vec::with_capacity(n + added);
    for (i, f) in base.iter().enumerate() {
        // spread the changes over every namespace: updates from the front of each step,
        // deletes from the back
        let step = n / changed.max(1);
        let k = i.checked_div(step).unwrap_or(i);
        let at_step_start = step > 0 && i % step == 0;
        if at_step_start && k < updated {
            let mut g = f.clone();
            g.version += 1;
            desired.push(g);
        } else if at_step_start && k >= updated && k < updated + deleted {
            continue;
        } else {
            desired.push(f.clone());
        }
    }
    for j in 0..added {
        desired.push(GenFlow {
            folder: format!("t{:03}", j % namespaces(n)),
            id: format!("new{j:05}"),
            version: 1,
        });
    }
    let deleted = n + added - desired.len();
    Change {
        desired,
        updated,
        added,
        deleted,
    }
}

/// Write `flows` under `<dir>/_flows/<folder>/<id>.yml`.
pub fn write_workspace(dir: &Path, flows: &[GenFlow]) -> anyhow::Result<()> {
    for f in flows {
        let path = dir.join("_flows").join(f.rel_path());
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("mkdir {}", parent.display()))?;
        }
        std::fs::write(&path, f.file_text())
            .with_context(|| format!("write {}", path.display()))?;
    }
    Ok(())
}

/// Unrelated flows in sibling namespaces (`bench2`, `other`): never in scope.
pub fn unrelated_sources() -> Vec<String> {
    (0..UNRELATED)
        .map(|i| {
            let ns = if i % 2 == 0 { "bench2" } else { "other" };
            source_text(&format!("u{i:03}"), ns, "unrelated", 1)
        })
        .collect()
}

/// What the server must hold after a successful apply: `(namespace, id) -> source`, the
/// unrelated flows included.
pub fn expected_server(desired: &[GenFlow]) -> BTreeMap<(String, String), String> {
    let mut m: BTreeMap<(String, String), String> = desired
        .iter()
        .map(|f| ((f.namespace(), f.id.clone()), f.server_text()))
        .collect();
    for (i, src) in unrelated_sources().into_iter().enumerate() {
        let ns = if i % 2 == 0 { "bench2" } else { "other" };
        m.insert((ns.to_string(), format!("u{i:03}")), src);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_percent_change_counts_hold() {
        for n in [100, 1000, 10_000] {
            let base = flows(n);
            let c = one_percent_change(&base);
            assert_eq!(c.total(), (n / 100).max(4), "n = {n}");
            assert_eq!(c.desired.len(), n - c.deleted + c.added);
            let updated = c.desired.iter().filter(|f| f.version == 2).count();
            assert_eq!(updated, c.updated, "n = {n}");
        }
    }

    #[test]
    fn the_server_text_differs_from_the_file_only_by_the_namespace_value() {
        let f = &flows(150)[120];
        assert_eq!(f.folder, "t001");
        assert_eq!(
            f.file_text()
                .replace("namespace: company.team\n", "namespace: bench.t001\n"),
            f.server_text()
        );
    }
}
