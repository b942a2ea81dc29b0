//! Applying the namespace-file rows of a plan: upload the `ADDED` and `OVERWRITTEN` files
//! (never an `UNCHANGED` one: every upload makes a revision), and delete the `DELETED`
//! ones one file at a time (never a folder path: a folder delete is recursive on the
//! server). A write whose answer was lost is settled by reading the file back: its sha256
//! says whether the server holds Git's bytes (or, for a delete, whether it is gone), so the
//! report says what the server holds, and running again converges.
//!
//! Each write (upload or delete) is preceded by a re-read of that one file, as flow updates
//! and deletes are ([`crate::apply`]): the server must still hold what the plan saw (no
//! file for `ADDED`, the planned bytes for `OVERWRITTEN` and `DELETED`, by sha256), or the
//! file is not written and is reported `STALE`. Kestra has no compare-and-swap on namespace
//! files (an upload over an existing file just makes a new revision): this narrows the
//! window to one request. A file that cannot be read again is not written either.
//!
//! Where this runs in an apply ([`crate::apply::apply`]): after the flows were validated
//! on the server, with the flow writes' uploads first (a new flow may run at once and need
//! its script), and the deletes (files, then flows) only when every write succeeded.

use futures::stream::{self, StreamExt};
use serde::Serialize;

use super::Outcome;
use crate::kestra::{KestraClient, KestraError};
use crate::nsfiles::{FileChange, FileState};

/// What happened to one namespace file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileResult {
    pub git_path: Option<String>,
    pub namespace: String,
    pub kestra_path: String,
    pub sync_state: FileState,
    #[serde(flatten)]
    pub outcome: Outcome,
}

fn result(c: &FileChange, outcome: Outcome) -> FileResult {
    FileResult {
        git_path: c.git_path.clone(),
        namespace: c.namespace.clone(),
        kestra_path: c.kestra_path.clone(),
        sync_state: c.sync_state,
        outcome,
    }
}

/// Upload every `ADDED` / `OVERWRITTEN` row, `concurrency` at a time.
pub async fn upload(
    client: &KestraClient,
    rows: &[FileChange],
    concurrency: usize,
) -> Vec<FileResult> {
    let writes = rows
        .iter()
        .filter(|r| matches!(r.sync_state, FileState::Added | FileState::Overwritten));
    stream::iter(writes.map(|c| upload_one(client, c)))
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await
}

/// Delete every `DELETED` row, one request per file.
pub async fn delete(
    client: &KestraClient,
    rows: &[FileChange],
    concurrency: usize,
) -> Vec<FileResult> {
    let deletes = rows.iter().filter(|r| r.sync_state == FileState::Deleted);
    stream::iter(deletes.map(|c| delete_one(client, c)))
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await
}

/// The rows of `rows` in `state`, not attempted for `reason`.
pub fn not_attempted(rows: &[FileChange], states: &[FileState], reason: &str) -> Vec<FileResult> {
    rows.iter()
        .filter(|r| states.contains(&r.sync_state))
        .map(|c| {
            result(
                c,
                Outcome::NotAttempted {
                    reason: reason.to_string(),
                },
            )
        })
        .collect()
}

/// The rows nothing is done for (`UNCHANGED`, `KEPT`).
pub fn untouched(rows: &[FileChange]) -> Vec<FileResult> {
    rows.iter()
        .filter_map(|c| match c.sync_state {
            FileState::Unchanged => Some(result(c, Outcome::Unchanged)),
            FileState::Kept => Some(result(c, Outcome::Kept)),
            _ => None,
        })
        .collect()
}

async fn upload_one(client: &KestraClient, c: &FileChange) -> FileResult {
    let Some(bytes) = c.content.as_deref() else {
        return result(
            c,
            Outcome::Failed {
                error: "internal: no content in the plan".into(),
            },
        );
    };
    if let Err(outcome) = still_as_planned(client, c).await {
        return result(c, outcome);
    }
    match client
        .upload_file(&c.namespace, &c.kestra_path, bytes)
        .await
    {
        Ok(()) => result(c, Outcome::Applied { revision: None }),
        Err(err) => match read_back(client, c, &err).await {
            Ok(Some(sha)) if sha == c.sha256 => result(c, Outcome::Applied { revision: None }),
            Ok(_) => failed(c, &err),
            Err(read_err) => unknown_or_failed(c, &err, &read_err),
        },
    }
}

async fn delete_one(client: &KestraClient, c: &FileChange) -> FileResult {
    if let Err(outcome) = still_as_planned(client, c).await {
        return result(c, outcome);
    }
    match client.delete_file(&c.namespace, &c.kestra_path).await {
        Ok(()) => result(c, Outcome::Applied { revision: None }),
        Err(err) => match read_back(client, c, &err).await {
            Ok(None) => result(c, Outcome::Applied { revision: None }),
            Ok(Some(_)) => failed(c, &err),
            Err(read_err) => unknown_or_failed(c, &err, &read_err),
        },
    }
}

/// Just before uploading or deleting a file, read it again: the server must still hold what
/// the plan saw (see the module docs), or it is not written and reported
/// [`Outcome::Stale`].
async fn still_as_planned(client: &KestraClient, c: &FileChange) -> Result<(), Outcome> {
    let Some(lock) = c.lock.clone().or_else(|| c.lock_of()) else {
        return Ok(());
    };
    let live = client
        .file_sha256(&c.namespace, &c.kestra_path)
        .await
        .map_err(|e| Outcome::Failed {
            error: format!(
                "not written: could not read the file again just before writing it ({e})"
            ),
        })?;
    let again = "since this apply planned it; not written, plan again to see the server's change";
    let reason = match (lock.base_sha256.as_deref(), live.as_deref()) {
        (None, None) => return Ok(()),
        (Some(base), Some(now)) if base == now => return Ok(()),
        (None, Some(_)) => format!("created on the server {again}"),
        (Some(_), None) => format!("deleted from the server {again}"),
        (Some(_), Some(_)) => format!("its content on the server changed {again}"),
    };
    Err(Outcome::Stale { reason })
}

fn failed(c: &FileChange, err: &KestraError) -> FileResult {
    result(c, super::failed_outcome(err))
}

fn unknown_or_failed(c: &FileChange, err: &KestraError, read_err: &KestraError) -> FileResult {
    result(c, super::unknown_or_failed_outcome("file", err, read_err))
}

/// The file's sha256 on the server after a failed write; a few reads when the answer was
/// lost.
async fn read_back(
    client: &KestraClient,
    c: &FileChange,
    err: &KestraError,
) -> Result<Option<String>, KestraError> {
    let attempts = if super::answer_lost(err) { 3u64 } else { 1 };
    let mut attempt = 0u64;
    loop {
        match client.file_sha256(&c.namespace, &c.kestra_path).await {
            Ok(found) => return Ok(found),
            Err(e) if attempt + 1 >= attempts => return Err(e),
            Err(_) => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(200 * attempt)).await;
            }
        }
    }
}
