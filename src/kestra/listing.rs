//! Listing every live flow of a scope, with source and revision, in a number of requests that
//! does not grow with the number of flows:
//!
//! 1. `GET /flows/export/by-query?filters[namespace][PREFIX|EQUALS]=ns`: one ZIP of every
//!    stored source. Entry names (`ns-id.yml`, `ns.id.yml` on 0.21) can be ambiguous (ids
//!    and namespaces contain `-` and `.`): a name that fits exactly one listed flow is that
//!    flow; any other entry's YAML says which flow it is.
//! 2. `GET /flows/search?page=k&size=1000&filters[…]`: namespace, id and revision of every
//!    flow (the export has no revisions), `ceil(total / 1000)` requests: the first, then the
//!    others concurrently, all while the export is read. A flow the search lists but the
//!    export lacks is read on its own (a race with another writer).
//!
//! When the export is not available (an older or trimmed server: 404/405, another 4xx, 500
//! such as Java's "duplicate entry" when two flows share an entry name) or its ZIP cannot be
//! read, every listed flow is read with `GET /flows/{ns}/{id}?source=true`, 8 at a time.
//!
//! Never trusted: the server's scoping (Kestra 2.0 ignores flat query parameters, and
//! `STARTS_WITH` would catch `prod2`), so every flow is checked with [`Scope::contains`];
//! and no failure is ever read as "absent" (plugin-git #336): any error fails the listing.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use futures::{StreamExt, TryStreamExt};
use reqwest::{Method, StatusCode};
use serde::Deserialize;

use super::client::{parse_json, Body, FlowJson, KestraClient};
use super::{KestraError, RemoteFlow, Scope};

/// Page size of the search; servers may cap it, paging copes.
const SEARCH_PAGE_SIZE: u64 = 1000;
/// Concurrent single-flow reads in the fallback.
const FETCH_CONCURRENCY: usize = 8;
/// Limits on the export ZIP (a flow source is a few KiB; these only stop a runaway answer).
const MAX_ENTRY_BYTES: u64 = 16 << 20;
const MAX_EXPORT_BYTES: u64 = 1 << 30;

/// `(namespace, id)`.
type Key = (String, String);

#[derive(Debug, Deserialize)]
struct SearchPage {
    results: Vec<FlowJson>,
    total: u64,
}

impl KestraClient {
    /// Every live flow in `scope`, with source, sorted by namespace then id. The result is
    /// filtered to the scope again here (never trust the server to scope a listing). See the
    /// module docs for the requests made.
    pub async fn list_flows(&self, scope: &Scope) -> Result<Vec<RemoteFlow>, KestraError> {
        // both at once: the plan waits for one round trip, not two
        let (export, listed) = futures::join!(self.export(scope), self.search_all(scope));
        let (export, listed) = (export?, listed?);
        let flows = match export.and_then(|entries| identify(entries, &listed, scope)) {
            Ok(mut flows) => {
                for (key, flow) in flows.iter_mut() {
                    flow.revision = listed.get(key).copied().flatten();
                }
                let missing: Vec<Key> = listed
                    .keys()
                    .filter(|k| !flows.contains_key(*k))
                    .cloned()
                    .collect();
                if !missing.is_empty() {
                    tracing::warn!(
                        "{} flow(s) listed by the search are missing from the export (changed meanwhile?): reading them one by one",
                        missing.len()
                    );
                    flows.extend(self.fetch_each(missing, scope).await?);
                }
                flows
            }
            Err(why) => {
                tracing::warn!(
                    "the flow export is not usable ({why}): reading the {} flow(s) one by one",
                    listed.len()
                );
                self.fetch_each(listed.into_keys().collect(), scope).await?
            }
        };
        Ok(flows.into_values().collect())
    }

    /// The export's entries `(name, text)`, `Ok(Err(why))` when the export is not available,
    /// `Err` when the server refused (401/403) or did not answer.
    async fn export(
        &self,
        scope: &Scope,
    ) -> Result<Result<Vec<(String, String)>, String>, KestraError> {
        let mut url = self.paths.flows(&["export", "by-query"])?;
        let (name, value) = scope_filter(scope);
        url.query_pairs_mut().append_pair(&name, value);
        let reply = self.send(Method::GET, url, Body::None).await?;
        match reply.status.as_u16() {
            200 => Ok(read_zip(&reply.body).map_err(|e| format!("the ZIP cannot be read: {e}"))),
            401 | 403 => Err(self.error(&reply)),
            400..=501 => Ok(Err(self.error(&reply).to_string())),
            _ => Err(self.error(&reply)),
        }
    }

    /// Every flow the search lists in `scope`: `(namespace, id) → revision`. The first page
    /// says how many there are; the other pages are then read concurrently, so the wait does
    /// not grow with the number of pages.
    async fn search_all(&self, scope: &Scope) -> Result<BTreeMap<Key, Option<u64>>, KestraError> {
        let first = self.search_page(scope, 1).await?;
        let total = first.total;
        let per_page = first.results.len() as u64;
        let mut seen = per_page;
        let mut pages = vec![first];
        if per_page > 0 && seen < total {
            let last = total.div_ceil(per_page);
            let rest: Vec<SearchPage> = futures::stream::iter(2..=last)
                .map(|page| self.search_page(scope, page))
                .buffered(FETCH_CONCURRENCY)
                .try_collect()
                .await?;
            seen += rest.iter().map(|p| p.results.len() as u64).sum::<u64>();
            pages.extend(rest);
            // The scope grew while we read it: go on until a short page.
            let mut page = last + 1;
            while seen < total {
                let more = self.search_page(scope, page).await?;
                if more.results.is_empty() {
                    break;
                }
                seen += more.results.len() as u64;
                pages.push(more);
                page += 1;
            }
        }
        let mut listed = BTreeMap::new();
        let mut outside = 0usize;
        for flow in pages.into_iter().flat_map(|p| p.results) {
            if scope.contains(&flow.namespace) {
                listed.insert((flow.namespace, flow.id), flow.revision);
            } else {
                outside += 1;
            }
        }
        if outside > 0 {
            tracing::warn!(
                "the server's search returned {outside} flow(s) outside {}: ignored",
                describe(scope)
            );
        }
        Ok(listed)
    }

    /// One page of the search, sorted by namespace then id.
    async fn search_page(&self, scope: &Scope, page: u64) -> Result<SearchPage, KestraError> {
        let (filter, value) = scope_filter(scope);
        let mut url = self.paths.flows(&["search"])?;
        url.query_pairs_mut()
            .append_pair("page", &page.to_string())
            .append_pair("size", &SEARCH_PAGE_SIZE.to_string())
            .append_pair("sort", "namespace:asc")
            .append_pair("sort", "id:asc")
            .append_pair(&filter, value);
        let reply = self.send(Method::GET, url, Body::None).await?;
        if reply.status != StatusCode::OK {
            let err = self.error(&reply);
            return Err(match (&self.paths.tenant, reply.status) {
                (Some(t), StatusCode::NOT_FOUND) => err.with_hint(&format!(
                    "if tenant `{t}` is not yours, set --kestra-tenant"
                )),
                _ => err,
            });
        }
        parse_json(&reply)
    }

    /// Read each flow on its own (bounded concurrency). A 404 means it was deleted since it
    /// was listed: absent. Any other failure fails the whole listing.
    async fn fetch_each(
        &self,
        keys: Vec<Key>,
        scope: &Scope,
    ) -> Result<BTreeMap<Key, RemoteFlow>, KestraError> {
        let flows: Vec<Option<RemoteFlow>> = futures::stream::iter(keys)
            .map(|(namespace, id)| async move { self.get_flow(&namespace, &id).await })
            .buffer_unordered(FETCH_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(flows
            .into_iter()
            .flatten()
            .filter(|f| scope.contains(&f.namespace))
            .map(|f| ((f.namespace.clone(), f.id.clone()), f))
            .collect())
    }
}

/// The query filter for `scope`: `PREFIX` (the namespace and its children, never `prod2`) or
/// `EQUALS`. Never the flat `namespace=` parameter, which Kestra 2.0 ignores.
fn scope_filter(scope: &Scope) -> (String, &str) {
    let op = if scope.include_children {
        "PREFIX"
    } else {
        "EQUALS"
    };
    (
        format!("filters[namespace][{op}]"),
        scope.namespace.as_str(),
    )
}

fn describe(scope: &Scope) -> String {
    if scope.include_children {
        format!("namespace {} and its children", scope.namespace)
    } else {
        format!("namespace {}", scope.namespace)
    }
}

/// The YAML entries of an export ZIP, `(name, text)`.
fn read_zip(bytes: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let mut entries = Vec::with_capacity(archive.len());
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).map_err(|e| e.to_string())?;
        if file.is_dir() {
            continue;
        }
        let name = file.name().to_string();
        let lower = name.to_ascii_lowercase();
        if !(lower.ends_with(".yml") || lower.ends_with(".yaml")) {
            tracing::debug!("export entry `{name}` is not a YAML file: skipped");
            continue;
        }
        let mut buf = Vec::new();
        (&mut file)
            .take(MAX_ENTRY_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(|e| format!("entry `{name}`: {e}"))?;
        if buf.len() as u64 > MAX_ENTRY_BYTES {
            return Err(format!(
                "entry `{name}` is larger than {MAX_ENTRY_BYTES} bytes"
            ));
        }
        total += buf.len() as u64;
        if total > MAX_EXPORT_BYTES {
            return Err(format!(
                "the archive is larger than {MAX_EXPORT_BYTES} bytes"
            ));
        }
        let text = String::from_utf8(buf).map_err(|_| format!("entry `{name}` is not UTF-8"))?;
        entries.push((name, text));
    }
    Ok(entries)
}

/// Which flow each export entry is, keeping those in `scope`. An entry that cannot be
/// identified, or two entries for one flow, make the export unusable (`Err(why)`).
fn identify(
    entries: Vec<(String, String)>,
    listed: &BTreeMap<Key, Option<u64>>,
    scope: &Scope,
) -> Result<BTreeMap<Key, RemoteFlow>, String> {
    let mut flows = BTreeMap::new();
    let mut outside = 0usize;
    let names = name_index(listed);
    for (name, source) in entries {
        // The name, when it names exactly one listed flow; else the YAML says (a YAML
        // parse per entry would cost more than the whole rest of a 10,000-flow listing).
        let key = names
            .get(name.as_str())
            .cloned()
            .flatten()
            .or_else(|| yaml_key(&source))
            .ok_or_else(|| {
                format!("cannot tell which flow the entry `{name}` is: its YAML has no readable `namespace` and `id`")
            })?;
        if !scope.contains(&key.0) {
            outside += 1;
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
            describe(scope)
        );
    }
    Ok(flows)
}

/// `(namespace, id)` from a flow source's top-level keys.
fn yaml_key(source: &str) -> Option<Key> {
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

/// The one listed flow whose export entry name would be `name`, if exactly one.
/// Export entry name -> the one listed flow it can be (`None` when two listed flows share
/// it), in both spellings (`ns-id`, 0.21's `ns.id`) and both extensions.
fn name_index(
    listed: &BTreeMap<Key, Option<u64>>,
) -> std::collections::HashMap<String, Option<Key>> {
    let mut index = std::collections::HashMap::with_capacity(listed.len() * 4);
    for key in listed.keys() {
        for sep in ["-", "."] {
            for ext in ["yml", "yaml"] {
                let name = format!("{}{sep}{}.{ext}", key.0, key.1);
                index
                    .entry(name)
                    .and_modify(|k: &mut Option<Key>| {
                        if k.as_ref() != Some(key) {
                            *k = None;
                        }
                    })
                    .or_insert_with(|| Some(key.clone()));
            }
        }
    }
    index
}

#[cfg(test)]
fn name_key(name: &str, listed: &BTreeMap<Key, Option<u64>>) -> Option<Key> {
    name_index(listed).get(name).cloned().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ns: &str, id: &str) -> Key {
        (ns.to_string(), id.to_string())
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
}
