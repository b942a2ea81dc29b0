//! The revisions a listing left out, read only for the flows that need one. A listing of a
//! scope larger than one search page (1,000 flows) gives no revision for the flows beyond
//! it; a plan shows and applies with the revision of each flow it changes (UPDATED,
//! DELETED), so those are read afterwards, in whichever costs fewer requests:
//!
//! - one `GET /flows/{ns}/{id}?source=true` per flow, 8 at a time, when there are no more
//!   flows than search pages left. The answer's source must be the one the plan compared: a
//!   404 or another source means the flow changed while planning, and the plan fails with
//!   "run it again" rather than show a revision of another source;
//! - otherwise the remaining search pages, concurrently. A flow they do not list was deleted
//!   (or renamed) while planning: the same error.
//!
//! A failure is an error, never a guess: a revision that cannot be read fails the plan.

use std::collections::{BTreeMap, HashMap};

use futures::{StreamExt, TryStreamExt};

use super::export::Key;
use super::listing::FETCH_CONCURRENCY;
use super::{strip_revision, KestraClient, KestraError, Listing, RemoteFlow};

impl KestraClient {
    /// The revisions of `keys` (`(namespace, id)` of flows of `listing`), reading those the
    /// listing did not give (see the module docs for the requests). Every key gets its
    /// revision or the call fails: [`KestraError::Changed`] when a flow changed on the server
    /// since it was listed.
    pub async fn read_revisions(
        &self,
        listing: &Listing,
        keys: &[Key],
    ) -> Result<BTreeMap<Key, u64>, KestraError> {
        let listed: HashMap<(&str, &str), &RemoteFlow> = listing
            .flows
            .iter()
            .map(|f| ((f.namespace.as_str(), f.id.as_str()), f))
            .collect();
        let mut revisions = BTreeMap::new();
        let mut unknown: Vec<&Key> = Vec::new();
        for key in keys {
            match listed
                .get(&(key.0.as_str(), key.1.as_str()))
                .and_then(|f| f.revision)
            {
                Some(revision) => {
                    revisions.insert(key.clone(), revision);
                }
                None => unknown.push(key),
            }
        }
        if unknown.is_empty() {
            return Ok(revisions);
        }
        let pages_left = listing.search_pages_left();
        match listing.paging {
            Some(paging) if unknown.len() as u64 > pages_left => {
                tracing::debug!(
                    "reading {pages_left} search page(s) for the revisions of {} flow(s)",
                    unknown.len()
                );
                let searched = self.search_rest(&listing.scope, paging).await?;
                for key in unknown {
                    let revision = match searched.get(key) {
                        Some(Some(revision)) => *revision,
                        Some(None) => return Err(no_revision(self, key)?),
                        None => {
                            return Err(changed(key, "the flow search no longer lists it"));
                        }
                    };
                    revisions.insert(key.clone(), revision);
                }
            }
            _ => {
                tracing::debug!("reading the revisions of {} flow(s)", unknown.len());
                let read: Vec<(Key, u64)> = futures::stream::iter(unknown)
                    .map(|key| {
                        let planned = listed.get(&(key.0.as_str(), key.1.as_str())).copied();
                        self.revision_of(key, planned)
                    })
                    .buffer_unordered(FETCH_CONCURRENCY)
                    .try_collect()
                    .await?;
                revisions.extend(read);
            }
        }
        Ok(revisions)
    }

    /// One flow's revision, checking its source is still the one the plan compared.
    async fn revision_of(
        &self,
        key: &Key,
        planned: Option<&RemoteFlow>,
    ) -> Result<(Key, u64), KestraError> {
        let Some(live) = self.get_flow(&key.0, &key.1).await? else {
            return Err(changed(key, "it is no longer on the server"));
        };
        if let Some(planned) = planned {
            if strip_revision(&live.source) != strip_revision(&planned.source) {
                return Err(changed(key, "its source is no longer the one compared"));
            }
        }
        match live.revision {
            Some(revision) => Ok((key.clone(), revision)),
            None => Err(no_revision(self, key)?),
        }
    }
}

fn changed(key: &Key, what: &str) -> KestraError {
    KestraError::Changed(format!(
        "flow {}/{} changed on the server while the plan was computed ({what}): run the plan again",
        key.0, key.1
    ))
}

/// The error for a flow the server lists without a revision (`Err` only when even the URL
/// cannot be built).
fn no_revision(client: &KestraClient, key: &Key) -> Result<KestraError, KestraError> {
    Ok(KestraError::Protocol {
        url: client.paths.flows(&[&key.0, &key.1])?.to_string(),
        message: "the server gives no revision for this flow".into(),
    })
}
