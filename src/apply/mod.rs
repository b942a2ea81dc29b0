//! Apply a plan, carefully: (1) refuse plans a wrong path would produce (deleting every
//! flow in scope or every namespace file, or more than `--max-deletes`); (2) validate every
//! flow to be written on the server *before the first write* and write nothing if any is
//! invalid; (3) upload the changed namespace files, then create and update flows, with
//! bounded concurrency; (4) only when every write succeeded, delete (namespace files file
//! by file, then flows). Each update
//! and delete first reads the flow again: one edited on the server since the plan is not
//! overwritten but reported `STALE` (a create is refused by the server itself when the flow
//! appeared meanwhile). Any write
//! whose answer was lost (connection dropped, timeout) is checked with a read before it is
//! called failed, so the report says what the server really holds; running again converges.
//! A lost write settles itself: read back with the desired source, it is applied; read back
//! without it (a create: absent; an update: the old source), it is sent again, up to
//! three sends in all. Sending a create again is safe because Kestra refuses to create a
//! flow that already exists.

pub mod files;

use futures::stream::{self, StreamExt};
use serde::Serialize;

use crate::flow::Flow;
use crate::kestra::{KestraClient, KestraError};
use crate::model::{strip_revision, Validation};
use crate::nsfiles::FileState;
use crate::plan::{FlowChange, Plan, SyncState};
use files::FileResult;

/// Knobs of one apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub concurrency: usize,
    pub max_deletes: usize,
    pub allow_mass_delete: bool,
}

/// What happened to one flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// Written or deleted as planned; `revision` is the server's new revision.
    Applied { revision: Option<u64> },
    /// Nothing to do.
    Unchanged,
    /// Left on the server because `delete` is off.
    Kept,
    /// The request failed; the server still holds the old state.
    Failed { error: String },
    /// The answer was lost (timeout, dropped connection) and the flow could not be read
    /// back: the server may hold the change or not. Counted with the failures; a plan
    /// shows which.
    Unknown { error: String },
    /// Not tried because an earlier step failed (deletes wait for every write).
    NotAttempted { reason: String },
    /// Not written: re-read just before its write, the flow was no longer what the plan saw
    /// (someone changed it on the server meanwhile). Counted apart; the apply is incomplete.
    Stale { reason: String },
}

/// One row of the apply report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowResult {
    pub git_path: Option<String>,
    pub namespace: String,
    pub flow_id: String,
    pub sync_state: SyncState,
    /// Revision before the apply, when the flow existed.
    pub previous_revision: Option<u64>,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The apply report: one row per flow of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub flows: Vec<FlowResult>,
    /// One row per namespace file of the plan (with `--namespace-files`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileResult>,
    pub applied: usize,
    /// The server answered with an error: the old state stands.
    pub failed: usize,
    /// The answer was lost and the flow could not be read back: maybe applied.
    pub unknown: usize,
    pub not_attempted: usize,
    /// Not written because the flow moved on the server since the plan.
    pub stale: usize,
}

impl Report {
    /// True when every planned change reached the server.
    pub fn is_complete(&self) -> bool {
        self.failed == 0 && self.unknown == 0 && self.not_attempted == 0 && self.stale == 0
    }

    /// `2 applied, 1 failed, 3 not attempted` (and `, 1 unknown` / `, 1 stale` when there is
    /// one): the counts every renderer shows.
    pub fn tally(&self) -> String {
        let unknown = if self.unknown > 0 {
            format!(", {} unknown", self.unknown)
        } else {
            String::new()
        };
        let stale = if self.stale > 0 {
            format!(", {} stale", self.stale)
        } else {
            String::new()
        };
        format!(
            "{} applied, {} failed{unknown}{stale}, {} not attempted",
            self.applied, self.failed, self.not_attempted
        )
    }
}

/// Why an apply did not start or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The deletion guard refused the plan; nothing was written.
    #[error("{0}")]
    Guard(String),
    /// The server refused some flows; nothing was written.
    #[error("the server refused {} flow(s); nothing was written", .0.iter().filter(|v| !v.errors.is_empty()).count())]
    Invalid(Vec<Validation>),
    /// Validation itself failed (server unreachable, …); nothing was written.
    #[error("could not validate the flows on the server; nothing was written: {0}")]
    Validate(#[source] KestraError),
    /// Some writes failed: the report says exactly what was and was not applied.
    #[error("apply stopped part-way: {}", .0.tally())]
    Partial(Report),
}

/// Refuse plans that look like a wrong path or a wrong target, before any request: the
/// same guards the plan shows as blockers ([`Plan::delete_blockers`]).
pub fn check_guard(plan: &Plan, opts: &ApplyOptions) -> Result<(), ApplyError> {
    let guard = crate::plan::Guard {
        max_deletes: opts.max_deletes,
        allow_mass_delete: opts.allow_mass_delete,
    };
    match plan.delete_blockers(guard).into_iter().next() {
        Some(blocker) => Err(ApplyError::Guard(blocker.message)),
        None => Ok(()),
    }
}

/// Apply `plan` (computed from `flows`) on the server behind `client`.
pub async fn apply(
    client: &KestraClient,
    plan: &Plan,
    flows: &[Flow],
    opts: &ApplyOptions,
) -> Result<Report, ApplyError> {
    check_guard(plan, opts)?;

    let writes: Vec<&FlowChange> = plan.writes().collect();
    // A plan already validated by the server (every plan is, see `run`) is not sent again:
    // its invalid flows refuse the apply, unless they were skipped.
    if let Some(results) = &plan.validations {
        if plan.invalid_writes().next().is_some() {
            let refused: Vec<Validation> = results
                .iter()
                .filter(|v| !v.errors.is_empty())
                .filter(|v| {
                    plan.invalid_writes()
                        .any(|f| f.git_path.as_deref() == Some(v.git_path.as_str()))
                })
                .cloned()
                .collect();
            return Err(ApplyError::Invalid(refused));
        }
    }
    let to_validate: Vec<&Flow> = flows
        .iter()
        .filter(|f| {
            writes
                .iter()
                .any(|w| w.namespace == f.namespace && w.flow_id == f.id)
        })
        .collect();
    if plan.validations.is_none() && !to_validate.is_empty() {
        let results = client
            .validate(&to_validate)
            .await
            .map_err(ApplyError::Validate)?;
        for v in &results {
            for w in &v.warnings {
                tracing::warn!("{}: {w}", v.git_path);
            }
        }
        if results.iter().any(|v| !v.errors.is_empty()) {
            return Err(ApplyError::Invalid(results));
        }
    }

    let concurrency = opts.concurrency.max(1);
    // Namespace files first: a flow written next may run at once and need its script.
    let uploaded = files::upload(client, plan.file_rows(), concurrency).await;
    let uploads_ok = uploaded
        .iter()
        .all(|r| matches!(r.outcome, Outcome::Applied { .. }));
    let written: Vec<FlowResult> = if uploads_ok {
        stream::iter(writes.iter().map(|c| write_one(client, c)))
            .buffer_unordered(concurrency)
            .collect()
            .await
    } else {
        writes
            .iter()
            .map(|c| {
                result(
                    c,
                    Outcome::NotAttempted {
                        reason: "flows are written only after every namespace file was uploaded"
                            .into(),
                    },
                )
            })
            .collect()
    };
    let writes_ok = uploads_ok
        && written
            .iter()
            .all(|r| matches!(r.outcome, Outcome::Applied { .. }));
    let why_not = "deletes run only after every create and update succeeded";
    let mut file_rows = uploaded;
    if writes_ok {
        file_rows.extend(files::delete(client, plan.file_rows(), concurrency).await);
    } else {
        file_rows.extend(files::not_attempted(
            plan.file_rows(),
            &[FileState::Deleted],
            why_not,
        ));
    }
    file_rows.extend(files::untouched(plan.file_rows()));
    file_rows.sort_by(|a, b| a.kestra_path.cmp(&b.kestra_path));
    let deletes_ok = file_rows
        .iter()
        .filter(|r| r.sync_state == FileState::Deleted)
        .all(|r| matches!(r.outcome, Outcome::Applied { .. }));

    let deletes: Vec<&FlowChange> = plan
        .flows
        .iter()
        .filter(|f| f.sync_state == SyncState::Deleted)
        .collect();
    let deleted: Vec<FlowResult> = if writes_ok && deletes_ok {
        stream::iter(deletes.iter().map(|c| delete_one(client, c)))
            .buffer_unordered(concurrency)
            .collect()
            .await
    } else {
        deletes
            .iter()
            .map(|c| {
                result(
                    c,
                    Outcome::NotAttempted {
                        reason: if writes_ok {
                            "flows are deleted only after every namespace file delete succeeded"
                                .into()
                        } else {
                            why_not.into()
                        },
                    },
                )
            })
            .collect()
    };

    let mut rows: Vec<FlowResult> = written.into_iter().chain(deleted).collect();
    for f in &plan.flows {
        match f.sync_state {
            SyncState::Unchanged => rows.push(result(f, Outcome::Unchanged)),
            SyncState::Kept => rows.push(result(f, Outcome::Kept)),
            _ => {}
        }
    }
    // In the order the plan shows them and they run: creates, updates, then deletes.
    rows.sort_by(|a, b| {
        (a.sync_state, &a.namespace, &a.flow_id).cmp(&(b.sync_state, &b.namespace, &b.flow_id))
    });
    let outcomes = || {
        rows.iter()
            .map(|r| &r.outcome)
            .chain(file_rows.iter().map(|r| &r.outcome))
    };
    let count = |f: fn(&Outcome) -> bool| outcomes().filter(|o| f(o)).count();
    let report = Report {
        applied: count(|o| matches!(o, Outcome::Applied { .. })),
        failed: count(|o| matches!(o, Outcome::Failed { .. })),
        unknown: count(|o| matches!(o, Outcome::Unknown { .. })),
        not_attempted: count(|o| matches!(o, Outcome::NotAttempted { .. })),
        stale: count(|o| matches!(o, Outcome::Stale { .. })),
        flows: rows,
        files: file_rows,
    };
    if report.is_complete() {
        Ok(report)
    } else {
        Err(ApplyError::Partial(report))
    }
}

fn result(c: &FlowChange, outcome: Outcome) -> FlowResult {
    FlowResult {
        git_path: c.git_path.clone(),
        namespace: c.namespace.clone(),
        flow_id: c.flow_id.clone(),
        sync_state: c.sync_state,
        previous_revision: c.revision,
        outcome,
    }
}

/// How many times one flow is sent when answers keep getting lost (the first send included).
const MAX_SENDS: u32 = 3;

async fn write_one(client: &KestraClient, c: &FlowChange) -> FlowResult {
    let Some(source) = c.desired_source.as_deref() else {
        return result(
            c,
            Outcome::Failed {
                error: "internal: no source in the plan".into(),
            },
        );
    };
    // A create needs no read first: the server refuses to create a flow that exists (422),
    // which is its own compare-and-swap; the read-back below tells that case apart.
    if c.sync_state != SyncState::Added {
        if let Err(outcome) = still_as_planned(client, c).await {
            return result(c, outcome);
        }
    }
    let mut sends = 0;
    loop {
        sends += 1;
        let sent = match c.sync_state {
            SyncState::Added => client.create(source).await,
            _ => client.update(&c.namespace, &c.flow_id, source).await,
        };
        let err = match sent {
            Ok(w) => {
                return result(
                    c,
                    Outcome::Applied {
                        revision: w.revision,
                    },
                )
            }
            Err(err) => err,
        };
        // The answer may have been lost after the server wrote (a dropped connection, a
        // timeout, or a second create that now finds its own flow): read the truth.
        let live = match read_back(client, c, &err).await {
            Ok(live) => live,
            Err(read_err) => return unknown_or_failed(c, &err, &read_err),
        };
        match live {
            Some(live) if strip_revision(&live.source) == strip_revision(source) => {
                return result(
                    c,
                    Outcome::Applied {
                        revision: live.revision,
                    },
                )
            }
            // The answer was lost and the server does not hold the change: the write did not
            // happen, so sending it again is safe. A create cannot make a second copy: Kestra
            // refuses to create a flow that exists (and the read-back just saw none). An
            // update is a PUT of the same source.
            // the server refused to create a flow that someone else created since the plan
            Some(live) if c.sync_state == SyncState::Added && !answer_lost(&err) => {
                return result(
                    c,
                    Outcome::Stale {
                        reason: format!(
                            "created on the server{} since this apply planned it; not written, plan again to see the server's change",
                            live.revision
                                .map(|r| format!(" (revision {r})"))
                                .unwrap_or_default()
                        ),
                    },
                )
            }
            found if answer_lost(&err) && sends < MAX_SENDS => {
                let settle = match (c.sync_state, &found) {
                    (SyncState::Added, None) => true,
                    // a flow deleted meanwhile is not re-created by an update, and one
                    // edited meanwhile (not the planned base) is not overwritten
                    (SyncState::Updated, Some(live)) => still_the_base(c, live),
                    _ => false,
                };
                if !settle {
                    return failed(c, &err);
                }
                tracing::warn!(
                    "{}/{}: {err}; the flow was read back without the change: sending it again",
                    c.namespace,
                    c.flow_id
                );
            }
            _ => return failed(c, &err),
        }
    }
}

async fn delete_one(client: &KestraClient, c: &FlowChange) -> FlowResult {
    if let Err(outcome) = still_as_planned(client, c).await {
        return result(c, outcome);
    }
    match client.delete(&c.namespace, &c.flow_id).await {
        Ok(_) => result(c, Outcome::Applied { revision: None }),
        Err(err) => match read_back(client, c, &err).await {
            Ok(None) => result(c, Outcome::Applied { revision: None }),
            Ok(Some(_)) => failed(c, &err),
            Err(read_err) => unknown_or_failed(c, &err, &read_err),
        },
    }
}

/// Whether `live` is the source the plan saw for `c` (as the server compares sources); true
/// when the plan has no lock to compare with.
fn still_the_base(c: &FlowChange, live: &crate::model::RemoteFlow) -> bool {
    match c.lock.as_ref().and_then(|l| l.base_sha256.as_deref()) {
        Some(sha) => crate::plan::sha256_hex(&strip_revision(&live.source)) == sha,
        None => true,
    }
}

/// Just before updating (or deleting) a flow, read it again: it must still be what the plan
/// saw (the same revision and source), or it is not written and reported [`Outcome::Stale`]. Kestra has no compare-and-swap on writes: this narrows
/// the window to one request. A flow that cannot be read is not written either.
async fn still_as_planned(client: &KestraClient, c: &FlowChange) -> Result<(), Outcome> {
    let live = client
        .get_flow(&c.namespace, &c.flow_id)
        .await
        .map_err(|e| Outcome::Failed {
            error: format!(
                "not written: could not read the flow again just before writing it ({e})"
            ),
        })?;
    let again = "; not written, plan again to see the server's change";
    let reason = match (c.sync_state, live) {
        (SyncState::Added, None) => return Ok(()),
        (SyncState::Added, Some(live)) => format!(
            "created on the server{} since this apply planned it{again}",
            live.revision
                .map(|r| format!(" (revision {r})"))
                .unwrap_or_default()
        ),
        (_, None) => format!(
            "deleted from the server{} since this apply planned it{again}",
            c.revision
                .map(|r| format!(" (was revision {r})"))
                .unwrap_or_default()
        ),
        (_, Some(live)) => {
            let revision_moved =
                matches!((c.revision, live.revision), (Some(a), Some(b)) if a != b);
            let source_moved = !still_the_base(c, &live);
            match (revision_moved, c.revision, live.revision) {
                (true, Some(a), Some(b)) => {
                    format!("revision {a} → {b} on the server since this apply planned it{again}")
                }
                _ if source_moved => {
                    format!("its source on the server changed since this apply planned it{again}")
                }
                _ => return Ok(()),
            }
        }
    };
    Err(Outcome::Stale { reason })
}

fn failed(c: &FlowChange, err: &KestraError) -> FlowResult {
    result(c, failed_outcome(err))
}

/// A write the server answered with an error: the old state stands.
pub(crate) fn failed_outcome(err: &KestraError) -> Outcome {
    Outcome::Failed {
        error: err.to_string(),
    }
}

/// Whether a failed write may still have reached the server: no answer came (timeout,
/// dropped connection) after the request was sent.
pub(crate) fn answer_lost(err: &KestraError) -> bool {
    matches!(
        err,
        KestraError::MaybeApplied { .. } | KestraError::Transport { .. }
    )
}

/// The write of a `what` ("flow", "file") failed and it could not be read back: when the
/// write's answer was lost the server may hold the change or not, and the report says so
/// rather than guess; when the server answered with an error, the old state stands.
pub(crate) fn unknown_or_failed_outcome(
    what: &str,
    err: &KestraError,
    read_err: &KestraError,
) -> Outcome {
    if !answer_lost(err) {
        return failed_outcome(err);
    }
    Outcome::Unknown {
        error: format!(
            "{err}; reading the {what} back failed too ({read_err}): the server may or may not hold this change, run plan to see"
        ),
    }
}

fn unknown_or_failed(c: &FlowChange, err: &KestraError, read_err: &KestraError) -> FlowResult {
    result(c, unknown_or_failed_outcome("flow", err, read_err))
}

/// Read the flow after a failed write or delete; when the write's answer was lost, a few
/// more reads are tried (the client's own retries may be off).
async fn read_back(
    client: &KestraClient,
    c: &FlowChange,
    err: &KestraError,
) -> Result<Option<crate::model::RemoteFlow>, KestraError> {
    let attempts = if answer_lost(err) { 3u64 } else { 1 };
    let mut attempt = 0u64;
    loop {
        match client.get_flow(&c.namespace, &c.flow_id).await {
            Ok(found) => return Ok(found),
            Err(e) if attempt + 1 >= attempts => return Err(e),
            Err(_) => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(200 * attempt)).await;
            }
        }
    }
}
