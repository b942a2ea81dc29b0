//! Reading Kestra's flow export (`GET /flows/export/by-query`, one ZIP of stored sources)
//! and telling which flow each entry is, without parsing the YAML of the flows that did not
//! change. Entry names (`ns-id.yml`, `ns.id.yml` on 0.21) can be ambiguous: ids and
//! namespaces both contain `-` and `.`, so `prod.a-b` + `c` and `prod.a` + `b-c` give the
//! same name. The rules, and why each is sound, are in the docs of [`identify`].

use std::collections::{BTreeMap, HashMap};
use std::io::{Cursor, Read};

use super::{same_source, LocalFlow, RemoteFlow, Scope};

/// Limits on the export ZIP (a flow source is a few KiB; these only stop a runaway answer,
/// such as a ZIP bomb): the download, each inflated entry, and all entries inflated
/// together. 128 MiB is some 40,000 flows of 3 KiB; a bigger scope is an error.
pub(super) const MAX_DOWNLOAD_BYTES: usize = 64 << 20;
pub(super) const MAX_ENTRY_BYTES: u64 = 8 << 20;
pub(super) const MAX_EXPORT_BYTES: u64 = 128 << 20;

/// Why an export cannot be used.
#[derive(Debug)]
pub(super) enum ZipProblem {
    /// Not a readable ZIP of flows: the listing falls back to reading each flow.
    Unusable(String),
    /// Over a limit: an error (reading each flow would only reach the same limit).
    TooLarge(String),
}

/// `(namespace, id)`.
pub(super) type Key = (String, String);

/// The YAML entries of an export ZIP, `(name, text)`.
pub(super) fn read_zip(bytes: &[u8]) -> Result<Vec<(String, String)>, ZipProblem> {
    use ZipProblem::{TooLarge, Unusable};
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| Unusable(e.to_string()))?;
    let mut entries = Vec::with_capacity(archive.len());
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).map_err(|e| Unusable(e.to_string()))?;
        if file.is_dir() {
            continue;
        }
        let name = file.name().to_string();
        let lower = name.to_ascii_lowercase();
        if !(lower.ends_with(".yml") || lower.ends_with(".yaml")) {
            tracing::debug!("export entry `{name}` is not a YAML file: skipped");
            continue;
        }
        // Sized from the entry's declared size (capped), and trimmed after: read_to_end's
        // doubling would otherwise hold up to twice the text.
        let mut buf = Vec::with_capacity(file.size().min(MAX_ENTRY_BYTES + 1) as usize);
        (&mut file)
            .take(MAX_ENTRY_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Unusable(format!("entry `{name}`: {e}")))?;
        if buf.len() as u64 > MAX_ENTRY_BYTES {
            return Err(TooLarge(format!(
                "its entry `{}` inflates to more than {} MiB, more than any flow",
                name.escape_debug(),
                MAX_ENTRY_BYTES >> 20
            )));
        }
        buf.shrink_to_fit();
        total += buf.len() as u64;
        if total > MAX_EXPORT_BYTES {
            return Err(TooLarge(format!(
                "its entries inflate to more than {} MiB in all (at entry `{}`), more than kestra-sync reads for one scope",
                MAX_EXPORT_BYTES >> 20,
                name.escape_debug()
            )));
        }
        let text =
            String::from_utf8(buf).map_err(|_| Unusable(format!("entry `{name}` is not UTF-8")))?;
        entries.push((name, text));
    }
    Ok(entries)
}

/// How an entry was identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum By {
    Name,
    Yaml,
}

/// Which flow each export entry is, keeping those in `scope`. `listed` are the flows the
/// search listed (all of the scope, or only its first page), `local` the caller's own flows.
///
/// The candidates are `listed` ∪ `local`, each under the four names its entry could have
/// (`ns-id` and 0.21's `ns.id`, `.yml` and `.yaml`). An entry whose name fits exactly one
/// candidate `K` is `K` only when:
///
/// - (a) `K` is listed: the server holds `K`, so `K`'s own entry carries that name, and names
///   in one export are unique (Java's `ZipOutputStream` refuses a second entry of one name:
///   the export then fails with a 500 and the listing falls back to reading each flow);
/// - (b) `K` is a local flow and the entry's source, minus its first `revision:` line, equals
///   the local source minus its own, byte for byte: the same text names the same flow. This
///   is exactly the plan's `UNCHANGED`, so the common case costs no YAML parse at all (a
///   parse per entry would cost more than the whole rest of a 10,000-flow plan).
///
/// Any other entry (no candidate, two candidates, or a local flow whose server copy differs:
/// an `UPDATED` flow) is identified by its YAML's `namespace` and `id`.
///
/// (a) can still be fooled across spellings: with `K` = `a-b` + `c` listed, the `ns.id`
/// spelling of `K` (`a-b.c.yml`) is the `ns-id` name of `a` + `b.c`, a flow beyond the first
/// page. `K`'s own entry is then in the export too, so `K` gets two entries: when entries
/// clash, those identified by name are identified again by their YAML, and only a clash left
/// after that (two entries of one flow) makes the export unusable (`Err(why)`), as does an
/// entry that cannot be identified at all.
pub(super) fn identify(
    entries: Vec<(String, String)>,
    listed: &BTreeMap<Key, Option<u64>>,
    local: &[LocalFlow<'_>],
    scope: &Scope,
) -> Result<BTreeMap<Key, RemoteFlow>, String> {
    let local_sources: HashMap<(&str, &str), &str> = local
        .iter()
        .map(|f| ((f.namespace, f.id), f.source))
        .collect();
    let names = name_index(
        listed
            .keys()
            .map(|(ns, id)| (ns.as_str(), id.as_str()))
            .chain(local.iter().map(|f| (f.namespace, f.id))),
    );
    let by_name = |name: &str, source: &str| -> Option<Key> {
        let (ns, id) = (*names.get(name)?)?;
        let key = (ns.to_string(), id.to_string());
        if listed.contains_key(&key) {
            return Some(key);
        }
        let wanted = local_sources.get(&(ns, id))?;
        same_source(source, wanted).then_some(key)
    };

    let mut found: Vec<(Key, By, String, String)> = Vec::with_capacity(entries.len());
    for (name, source) in entries {
        let (key, by) = match by_name(&name, &source) {
            Some(key) => (key, By::Name),
            None => (
                yaml_key(&source).ok_or_else(|| unreadable(&name))?,
                By::Yaml,
            ),
        };
        found.push((key, by, name, source));
    }

    // Entries that clash and were identified by name: their YAML decides.
    let mut per_key: HashMap<&Key, usize> = HashMap::with_capacity(found.len());
    for (key, ..) in &found {
        *per_key.entry(key).or_default() += 1;
    }
    let clashing: Vec<usize> = found
        .iter()
        .enumerate()
        .filter(|(_, (key, by, ..))| *by == By::Name && per_key.get(key).is_some_and(|n| *n > 1))
        .map(|(i, _)| i)
        .collect();
    drop(per_key);
    for i in clashing {
        if let Some((key, by, _, source)) = found.get_mut(i) {
            if let Some(from_yaml) = yaml_key(source) {
                *key = from_yaml;
                *by = By::Yaml;
            }
        }
    }

    let mut flows = BTreeMap::new();
    let mut outside = 0usize;
    for (key, _, name, source) in found {
        if !scope.contains(&key.0) {
            // a pull-request preview inside the target's tree is expected, not a surprise
            outside += usize::from(!scope.is_preview(&key.0));
            continue;
        }
        let flow = RemoteFlow {
            namespace: key.0.clone(),
            id: key.1.clone(),
            source,
            revision: None,
        };
        if flows.insert(key, flow).is_some() {
            return Err(format!("the entry `{name}` is a second copy of a flow"));
        }
    }
    if outside > 0 {
        tracing::warn!(
            "the server's export returned {outside} flow(s) outside {}: ignored",
            scope.describe()
        );
    }
    Ok(flows)
}

fn unreadable(name: &str) -> String {
    format!(
        "cannot tell which flow the entry `{name}` is: its YAML has no readable `namespace` and `id`"
    )
}

/// `(namespace, id)` from a flow source's top-level keys.
pub(super) fn yaml_key(source: &str) -> Option<Key> {
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(source).ok()?;
    let scalar = |key: &str| -> Option<String> {
        match doc.get(key)? {
            serde_yaml_ng::Value::String(s) => Some(s.clone()),
            serde_yaml_ng::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
        .filter(|s| !s.is_empty())
    };
    Some((scalar("namespace")?, scalar("id")?))
}

/// Export entry name -> the one candidate flow it can be (`None` when two candidates share
/// it), in both spellings (`ns-id`, 0.21's `ns.id`) and both extensions. A flow given twice
/// (listed and local) is one candidate.
fn name_index<'k>(
    candidates: impl Iterator<Item = (&'k str, &'k str)>,
) -> HashMap<String, Option<(&'k str, &'k str)>> {
    let mut index = HashMap::new();
    for key in candidates {
        for sep in ["-", "."] {
            for ext in ["yml", "yaml"] {
                let name = format!("{}{sep}{}.{ext}", key.0, key.1);
                index
                    .entry(name)
                    .and_modify(|k: &mut Option<(&str, &str)>| {
                        if *k != Some(key) {
                            *k = None;
                        }
                    })
                    .or_insert(Some(key));
            }
        }
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ns: &str, id: &str) -> Key {
        (ns.to_string(), id.to_string())
    }

    fn src(ns: &str, id: &str, msg: &str) -> String {
        format!("id: {id}\nnamespace: {ns}\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: {msg}\n")
    }

    fn scope() -> Scope {
        Scope::new("prod", true)
    }

    fn name_key(name: &str, listed: &BTreeMap<Key, Option<u64>>) -> Option<Key> {
        name_index(listed.keys().map(|(n, i)| (n.as_str(), i.as_str())))
            .get(name)
            .cloned()
            .flatten()
            .map(|(n, i)| key(n, i))
    }

    #[test]
    fn yaml_key_reads_namespace_and_id_whatever_the_order() {
        let src = "# comment\nid: a-b.c\ntasks: []\nnamespace: prod.x-y\n";
        assert_eq!(yaml_key(src), Some(key("prod.x-y", "a-b.c")));
        assert_eq!(
            yaml_key("id: 123\nnamespace: prod\n"),
            Some(key("prod", "123"))
        );
        assert_eq!(yaml_key("id: [x]\nnamespace: prod\n"), None);
        assert_eq!(yaml_key("id: x\n"), None);
        assert_eq!(yaml_key(": : :\n\t- broken"), None);
        // Duplicate keys: refused by serde_yaml_ng (the name then identifies the entry).
        assert_eq!(yaml_key("id: a\nnamespace: p\nx: 1\nx: 2\n"), None);
    }

    #[test]
    fn entry_names_are_matched_only_when_unambiguous() {
        let mut listed = BTreeMap::new();
        listed.insert(key("prod", "a-b"), Some(1));
        listed.insert(key("prod.x", "y"), Some(1));
        assert_eq!(name_key("prod-a-b.yml", &listed), Some(key("prod", "a-b")));
        assert_eq!(name_key("prod.x.y.yml", &listed), Some(key("prod.x", "y")));
        assert_eq!(name_key("prod-zzz.yml", &listed), None);
        // `prod-a` + `b` and `prod` + `a-b` give the same name: refuse to guess.
        listed.insert(key("prod-a", "b"), Some(1));
        assert_eq!(name_key("prod-a-b.yml", &listed), None);
    }

    /// Sources whose YAML cannot be read: only the name can identify them, so these tests
    /// show which entries were identified by name and which needed their YAML.
    fn opaque(tag: &str) -> String {
        format!("{tag}: [unclosed\n")
    }

    #[test]
    fn a_local_flow_is_recognised_by_name_only_when_its_source_is_the_same() {
        let same = opaque("same");
        let local = [
            LocalFlow {
                namespace: "prod",
                id: "same",
                source: &same,
            },
            LocalFlow {
                namespace: "prod",
                id: "changed",
                source: "id: changed\nnamespace: prod\n",
            },
        ];
        // The server's copy carries a `revision:` line: still the same source.
        let entries = vec![("prod-same.yml".to_string(), format!("revision: 3\n{same}"))];
        let flows = identify(entries, &BTreeMap::new(), &local, &scope()).unwrap();
        assert_eq!(flows.keys().collect::<Vec<_>>(), vec![&key("prod", "same")]);
        // Another source under a local flow's name is not taken on trust.
        let entries = vec![("prod-changed.yml".to_string(), opaque("other"))];
        let err = identify(entries, &BTreeMap::new(), &local, &scope()).unwrap_err();
        assert!(err.contains("prod-changed.yml"), "{err}");
        let entries = vec![("prod-changed.yml".to_string(), src("prod", "changed", "x"))];
        let flows = identify(entries, &BTreeMap::new(), &local, &scope()).unwrap();
        assert_eq!(
            flows[&key("prod", "changed")].source,
            src("prod", "changed", "x")
        );
    }

    #[test]
    fn an_ambiguous_name_is_settled_by_the_yaml() {
        // Local `prod.a` + `b-c`; the server holds `prod.a-b` + `c` (same entry name).
        let local_src = src("prod.a", "b-c", "mine");
        let local = [LocalFlow {
            namespace: "prod.a",
            id: "b-c",
            source: &local_src,
        }];
        let server = src("prod.a-b", "c", "theirs");
        let entries = vec![("prod.a-b-c.yml".to_string(), server.clone())];
        let flows = identify(entries, &BTreeMap::new(), &local, &scope()).unwrap();
        assert_eq!(flows.len(), 1);
        assert_eq!(flows[&key("prod.a-b", "c")].source, server);
    }

    #[test]
    fn a_cross_spelling_clash_is_settled_by_the_yaml() {
        // Listed `prod.a-b` + `c`; its `ns.id` spelling is the `ns-id` name of `prod.a` +
        // `b.c`, a flow the caller does not know (beyond the first search page).
        let mut listed = BTreeMap::new();
        listed.insert(key("prod.a-b", "c"), Some(2));
        let entries = vec![
            ("prod.a-b-c.yml".to_string(), src("prod.a-b", "c", "k")),
            ("prod.a-b.c.yml".to_string(), src("prod.a", "b.c", "x")),
        ];
        let flows = identify(entries, &listed, &[], &scope()).unwrap();
        assert_eq!(
            flows.keys().collect::<Vec<_>>(),
            vec![&key("prod.a", "b.c"), &key("prod.a-b", "c")]
        );
        // Two entries of one flow remain an unusable export.
        let entries = vec![
            ("prod.a-b-c.yml".to_string(), src("prod.a-b", "c", "k")),
            ("prod.a-b.c.yml".to_string(), src("prod.a-b", "c", "k")),
        ];
        let err = identify(entries, &listed, &[], &scope()).unwrap_err();
        assert!(err.contains("second copy"), "{err}");
    }

    #[test]
    fn entries_outside_the_scope_are_dropped() {
        let entries = vec![
            ("prod2-x.yml".to_string(), src("prod2", "x", "no")),
            ("prod-y.yml".to_string(), src("prod", "y", "yes")),
        ];
        let flows = identify(entries, &BTreeMap::new(), &[], &scope()).unwrap();
        assert_eq!(flows.keys().collect::<Vec<_>>(), vec![&key("prod", "y")]);
    }
}
