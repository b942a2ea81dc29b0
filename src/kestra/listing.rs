//! Listing every live flow of a scope, with source, in a number of requests that does not
//! grow with the number of flows: two requests, sent at the same time.
//!
//! 1. `GET /flows/export/by-query?filters[namespace][PREFIX|EQUALS]=ns`: one ZIP of every
//!    stored source (no revisions). Which flow each entry is: see [`super::export`]. In short,
//!    an entry name that fits exactly one candidate flow (listed on the first search page, or
//!    one of the caller's [`LocalFlow`]s) is that flow when the server is known to hold it
//!    (listed: names in one export are unique) or when its source is the caller's own,
//!    byte for byte once the first `revision:` line is removed (the same text names the same
//!    flow). Every other entry is identified by its YAML: unchanged flows, the common case,
//!    are never parsed.
//! 2. `GET /flows/search?page=1&size=1000&filters[…]`: namespace, id and revision of the
//!    first 1,000 flows, and how many there are. When that is the whole scope every flow gets
//!    its revision; a flow the search lists but the export lacks is read on its own (a race
//!    with another writer).
//!
//! The pages after the first are not read: flows beyond them are listed with `revision:
//! None`. The plan needs the revisions of the flows it changes only (UPDATED, DELETED), and
//! [`KestraClient::read_revisions`] reads those afterwards in whichever costs fewer requests:
//! one `GET` per flow, or the remaining search pages (see `super::revisions`).
//!
//! When the export is not available (an older or trimmed server: 404/405, another 4xx, 500
//! such as Java's "duplicate entry" when two flows share an entry name) or its ZIP cannot be
//! read, every search page is read, then every listed flow with
//! `GET /flows/{ns}/{id}?source=true`, 8 at a time: every flow then has its revision.
//!
//! Never trusted: the server's scoping (Kestra 2.0 ignores flat query parameters, and
//! `STARTS_WITH` would catch `prod2`), so every flow is checked with [`Scope::contains`];
//! and no failure is ever read as "absent" (plugin-git #336): any error fails the listing.

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt};
use reqwest::{Method, StatusCode};
use serde::Deserialize;

use super::client::{parse_json, Body, FlowJson, KestraClient};
use super::export::{identify, read_zip, Key, ZipProblem, MAX_DOWNLOAD_BYTES, MAX_EXPORT_BYTES};
use super::{KestraError, LocalFlow, RemoteFlow, Scope};

/// Most flows one scope may count: beyond, the search's own count is refused (a hostile or
/// broken server could otherwise send the client paging for ever).
pub(super) const MAX_SCOPE_FLOWS: u64 = 100_000;

/// Page size of the search; servers may cap it, paging copes.
const SEARCH_PAGE_SIZE: u64 = 1000;
/// Concurrent requests (single-flow reads, search pages).
pub(super) const FETCH_CONCURRENCY: usize = 8;

#[derive(Debug, Deserialize)]
pub(super) struct SearchPage {
    results: Vec<FlowJson>,
    total: u64,
}

/// What the first search page said about the scope's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Paging {
    pub total: u64,
    /// Flows per page as the server answers them (it may cap the size asked for).
    pub per_page: u64,
}

impl Paging {
    /// Pages after the first.
    pub fn pages_left(&self) -> u64 {
        self.total.div_ceil(self.per_page).saturating_sub(1)
    }
}

/// The live flows of a scope, and what is needed to read the revisions the listing left
/// out (those of flows beyond the first search page).
#[derive(Debug, Clone)]
pub struct Listing {
    /// Every live flow in the scope, with source, sorted by namespace then id.
    pub flows: Vec<RemoteFlow>,
    pub(super) scope: Scope,
    /// `Some` when the first search page did not hold the whole scope.
    pub(super) paging: Option<Paging>,
}

impl Listing {
    /// Whether every flow came with its revision: the scope fit in one search page, or
    /// each flow was read on its own.
    pub fn has_all_revisions(&self) -> bool {
        self.paging.is_none()
    }

    /// Search pages the listing did not read.
    pub fn search_pages_left(&self) -> u64 {
        self.paging.map_or(0, |p| p.pages_left())
    }
}

/// The answers of the listing's two requests, not yet identified: see
/// [`KestraClient::fetch_scope`].
#[derive(Debug)]
pub struct Fetched {
    scope: Scope,
    /// The export's entries `(name, text)`, or why the export cannot be used.
    export: Result<Vec<(String, String)>, String>,
    first: SearchPage,
}

impl KestraClient {
    /// Every live flow in `scope`, with source, sorted by namespace then id; the result is
    /// filtered to the scope again here (never trust the server to scope a listing).
    /// `local` are the caller's own flows (from Git): with them, unchanged flows are
    /// recognised in the export without parsing it. Flows beyond the first search page
    /// (1,000) come without revision: see [`KestraClient::read_revisions`]. The requests
    /// made are in the module docs.
    pub async fn list_flows(
        &self,
        scope: &Scope,
        local: &[LocalFlow<'_>],
    ) -> Result<Listing, KestraError> {
        let fetched = self.fetch_scope(scope).await?;
        self.finish_listing(fetched, local).await
    }

    /// The first half of [`KestraClient::list_flows`]: its two requests, sent at once. The
    /// caller may prepare its local flows meanwhile, then call
    /// [`KestraClient::finish_listing`].
    pub async fn fetch_scope(&self, scope: &Scope) -> Result<Fetched, KestraError> {
        // both at once: the plan waits for one round trip, not two
        let (export, first) = futures::join!(self.export(scope), self.search_page(scope, 1));
        Ok(Fetched {
            scope: scope.clone(),
            export: export?,
            first: first?,
        })
    }

    /// The second half of [`KestraClient::list_flows`]: which flow each exported entry is
    /// (with `local` as hints), and the reads a partial or unusable export needs.
    pub async fn finish_listing(
        &self,
        fetched: Fetched,
        local: &[LocalFlow<'_>],
    ) -> Result<Listing, KestraError> {
        let Fetched {
            scope,
            export,
            first,
        } = fetched;
        let scope = &scope;
        let paging = self.paging(&first)?;
        let mut listed = in_scope(vec![first], scope);
        match export.and_then(|entries| identify(entries, &listed, local, scope)) {
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
                Ok(Listing {
                    flows: flows.into_values().collect(),
                    scope: scope.clone(),
                    paging,
                })
            }
            Err(why) => {
                if let Some(paging) = paging {
                    listed.extend(self.search_rest(scope, paging).await?);
                }
                tracing::warn!(
                    "the flow export is not usable ({why}): reading the {} flow(s) one by one",
                    listed.len()
                );
                let flows = self.fetch_each(listed.into_keys().collect(), scope).await?;
                Ok(Listing {
                    flows: flows.into_values().collect(),
                    scope: scope.clone(),
                    paging: None,
                })
            }
        }
    }

    /// `None` when the first page holds the whole scope.
    fn paging(&self, first: &SearchPage) -> Result<Option<Paging>, KestraError> {
        let per_page = first.results.len() as u64;
        if first.total > MAX_SCOPE_FLOWS {
            return Err(KestraError::Protocol {
                url: self.paths.flows(&["search"])?.to_string(),
                message: format!(
                    "the flow search counts {} flows in scope, more than the {MAX_SCOPE_FLOWS} kestra-sync reads for one target: narrow --target-namespace",
                    first.total
                ),
            });
        }
        if per_page >= first.total {
            return Ok(None);
        }
        if per_page == 0 {
            return Err(KestraError::Protocol {
                url: self.paths.flows(&["search"])?.to_string(),
                message: format!(
                    "the first page of the flow search is empty but counts {} flow(s)",
                    first.total
                ),
            });
        }
        Ok(Some(Paging {
            total: first.total,
            per_page,
        }))
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
        let reply = self
            .send_limited(Method::GET, url, MAX_DOWNLOAD_BYTES)
            .await?;
        match reply.status.as_u16() {
            200 => match read_zip(&reply.body) {
                Ok(entries) => Ok(Ok(entries)),
                Err(ZipProblem::Unusable(e)) => Ok(Err(format!("the ZIP cannot be read: {e}"))),
                Err(ZipProblem::TooLarge(why)) => Err(KestraError::Protocol {
                    url: reply.url.clone(),
                    message: format!(
                        "the flow export cannot be used: {why}. Nothing was planned; check that --kestra-url is the Kestra server, or narrow --target-namespace"
                    ),
                }),
            },
            401 | 403 => Err(self.error(&reply)),
            400..=501 => Ok(Err(self.error(&reply).to_string())),
            _ => Err(self.error(&reply)),
        }
    }

    /// The flows of the search pages after the first, in `scope`: `(namespace, id) →
    /// revision`. Read concurrently, so the wait does not grow with the number of pages;
    /// when the scope grew meanwhile, on until a short page.
    pub(super) async fn search_rest(
        &self,
        scope: &Scope,
        paging: Paging,
    ) -> Result<BTreeMap<Key, Option<u64>>, KestraError> {
        let last = paging.total.div_ceil(paging.per_page);
        let mut pages: Vec<SearchPage> = futures::stream::iter(2..=last)
            .map(|page| self.search_page(scope, page))
            .buffered(FETCH_CONCURRENCY)
            .try_collect()
            .await?;
        let mut seen = paging.per_page + pages.iter().map(|p| p.results.len() as u64).sum::<u64>();
        let mut page = last + 1;
        while seen < paging.total {
            let more = self.search_page(scope, page).await?;
            if more.results.is_empty() {
                break;
            }
            seen += more.results.len() as u64;
            pages.push(more);
            page += 1;
        }
        Ok(in_scope(pages, scope))
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
        // Each answer is capped on its own; all of them together are capped like the export.
        let url = self.paths.flows(&[])?.to_string();
        let (flows, _) = futures::stream::iter(keys)
            .map(|(namespace, id)| async move { self.get_flow(&namespace, &id).await })
            .buffer_unordered(FETCH_CONCURRENCY)
            .try_fold(
                (BTreeMap::new(), 0u64),
                |(mut flows, mut total), flow: Option<RemoteFlow>| {
                    let url = url.clone();
                    async move {
                        let Some(f) = flow else {
                            return Ok((flows, total));
                        };
                        total += f.source.len() as u64;
                        if total > MAX_EXPORT_BYTES {
                            return Err(KestraError::Protocol {
                                url,
                                message: format!(
                                    "the flows of the scope hold more than {} MiB of source (at {}.{}), more than kestra-sync reads for one target: narrow --target-namespace",
                                    MAX_EXPORT_BYTES >> 20,
                                    f.namespace,
                                    f.id
                                ),
                            });
                        }
                        if scope.contains(&f.namespace) {
                            flows.insert((f.namespace.clone(), f.id.clone()), f);
                        }
                        Ok((flows, total))
                    }
                },
            )
            .await?;
        Ok(flows)
    }
}

impl KestraClient {
    /// The namespaces of every flow whose namespace starts with `prefix` (as text: `prod-pr-`
    /// catches `prod-pr-7.a`), from every page of the flow search; every flow when `prefix`
    /// is empty. For finding previews (a sweep): the caller checks each namespace itself.
    pub async fn namespaces_starting_with(
        &self,
        prefix: &str,
    ) -> Result<std::collections::BTreeSet<String>, KestraError> {
        let mut found = std::collections::BTreeSet::new();
        let mut seen = 0u64;
        for page in 1u64.. {
            let mut url = self.paths.flows(&["search"])?;
            url.query_pairs_mut()
                .append_pair("page", &page.to_string())
                .append_pair("size", &SEARCH_PAGE_SIZE.to_string())
                .append_pair("sort", "namespace:asc")
                .append_pair("sort", "id:asc");
            if !prefix.is_empty() {
                url.query_pairs_mut()
                    .append_pair("filters[namespace][STARTS_WITH]", prefix);
            }
            let reply = self.send(Method::GET, url, Body::None).await?;
            if reply.status != StatusCode::OK {
                return Err(self.error(&reply));
            }
            let answer: SearchPage = parse_json(&reply)?;
            let n = answer.results.len() as u64;
            seen += n;
            found.extend(
                answer
                    .results
                    .into_iter()
                    .map(|f| f.namespace)
                    .filter(|ns| ns.starts_with(prefix)),
            );
            if n == 0 || seen >= answer.total {
                break;
            }
        }
        Ok(found)
    }
}

/// The flows of search pages that are in `scope`: `(namespace, id) → revision`.
fn in_scope(pages: Vec<SearchPage>, scope: &Scope) -> BTreeMap<Key, Option<u64>> {
    let mut listed = BTreeMap::new();
    let mut outside = 0usize;
    for flow in pages.into_iter().flat_map(|p| p.results) {
        if scope.contains(&flow.namespace) {
            listed.insert((flow.namespace, flow.id), flow.revision);
        } else if !scope.is_preview(&flow.namespace) {
            // a pull-request preview inside the target's tree is expected, not a surprise
            outside += 1;
        }
    }
    if outside > 0 {
        tracing::warn!(
            "the server's search returned {outside} flow(s) outside {}: ignored",
            scope.describe()
        );
    }
    listed
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

#[cfg(test)]
mod tests {
    use super::Paging;

    #[test]
    fn pages_left_after_the_first() {
        let p = |total, per_page| Paging { total, per_page }.pages_left();
        assert_eq!(p(1001, 1000), 1);
        assert_eq!(p(2000, 1000), 1);
        assert_eq!(p(2001, 1000), 2);
        assert_eq!(p(10_000, 1000), 9);
        assert_eq!(p(250, 100), 2);
    }
}
