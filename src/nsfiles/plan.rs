//! The namespace-file plan: Git's files against the server's, compared byte for byte
//! (sha256), with SyncNamespaceFiles' states. Pure.
//!
//! Only server files under `--namespace-directory` take part: the others are not shown,
//! not kept, never deleted. A file that is in both with the same bytes is `UNCHANGED` and
//! is never uploaded (every upload makes a revision on the server).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{as_text, sha256_hex, FileChange, FileState, LocalFile, RemoteFile};
use crate::diff::unified_diff;

/// Whether `kestra_path` is under the normalized namespace directory (`""` = the root).
pub fn in_directory(kestra_path: &str, namespace_directory: &str) -> bool {
    namespace_directory.is_empty() || kestra_path.starts_with(&format!("{namespace_directory}/"))
}

/// Compare `local` (from Git) with `live` (the namespace's export) for `namespace`.
/// Rows come sorted by `kestra_path`.
pub fn compute(
    namespace: &str,
    local: &[LocalFile],
    live: &[RemoteFile],
    namespace_directory: &str,
    delete: bool,
) -> Vec<FileChange> {
    let live: BTreeMap<&str, &RemoteFile> = live
        .iter()
        .filter(|r| in_directory(&r.kestra_path, namespace_directory))
        .map(|r| (r.kestra_path.as_str(), r))
        .collect();
    let mut rows = Vec::with_capacity(local.len() + live.len());
    for file in local {
        let sha = sha256_hex(&file.bytes);
        let size = file.bytes.len() as u64;
        let wanted = as_text(&file.bytes);
        let mut row = FileChange {
            git_path: Some(file.git_path.clone()),
            namespace: namespace.to_string(),
            kestra_path: file.kestra_path.clone(),
            sync_state: FileState::Added,
            size_bytes: size,
            sha256: sha.clone(),
            live_size_bytes: None,
            live_sha256: None,
            binary: wanted.is_none() && !too_big_text(&file.bytes),
            diff: None,
            lines_added: 0,
            lines_removed: 0,
            lock: None,
            content: None,
        };
        match live.get(file.kestra_path.as_str()) {
            Some(remote) if remote.sha256 == sha && remote.size_bytes == size => {
                row.sync_state = FileState::Unchanged;
            }
            Some(remote) => {
                row.sync_state = FileState::Overwritten;
                row.live_size_bytes = Some(remote.size_bytes);
                row.live_sha256 = Some(remote.sha256.clone());
                if let (Some(old), Some(new)) = (remote.text.as_deref(), wanted) {
                    let live_name = format!("kestra:{namespace}:{}", remote.kestra_path);
                    let (d, a, r) = unified_diff(old, new, &live_name, &file.git_path);
                    (row.diff, row.lines_added, row.lines_removed) = (non_empty(d), a, r);
                } else if remote.text.is_none() && remote.size_bytes <= super::DIFF_MAX_BYTES {
                    row.binary = true;
                }
                row.content = Some(Arc::new(file.bytes.clone()));
            }
            None => {
                if let Some(new) = wanted {
                    let (d, a, r) = unified_diff("", new, "/dev/null", &file.git_path);
                    (row.diff, row.lines_added, row.lines_removed) = (non_empty(d), a, r);
                }
                row.content = Some(Arc::new(file.bytes.clone()));
            }
        }
        rows.push(row);
    }
    let in_git: std::collections::BTreeSet<&str> =
        local.iter().map(|f| f.kestra_path.as_str()).collect();
    for (path, remote) in &live {
        if in_git.contains(path) {
            continue;
        }
        let mut row = FileChange {
            git_path: None,
            namespace: namespace.to_string(),
            kestra_path: remote.kestra_path.clone(),
            sync_state: if delete {
                FileState::Deleted
            } else {
                FileState::Kept
            },
            size_bytes: remote.size_bytes,
            sha256: remote.sha256.clone(),
            live_size_bytes: None,
            live_sha256: None,
            binary: remote.text.is_none() && remote.size_bytes <= super::DIFF_MAX_BYTES,
            diff: None,
            lines_added: 0,
            lines_removed: 0,
            lock: None,
            content: None,
        };
        if delete {
            if let Some(old) = remote.text.as_deref() {
                let live_name = format!("kestra:{namespace}:{}", remote.kestra_path);
                let (d, _, r) = unified_diff(old, "", &live_name, "/dev/null");
                (row.diff, row.lines_removed) = (non_empty(d), r);
            }
        }
        rows.push(row);
    }
    for row in &mut rows {
        row.lock = row.lock_of();
    }
    rows.sort_by(|a, b| a.kestra_path.cmp(&b.kestra_path));
    rows
}

/// A diff with no line in it (an empty file added or deleted) is no diff: the row shows
/// the size and sha256 instead.
fn non_empty(diff: String) -> Option<String> {
    (!diff.trim().is_empty()).then_some(diff)
}

/// Text too big for a diff (shown by size, but not called binary).
fn too_big_text(bytes: &[u8]) -> bool {
    bytes.len() as u64 > super::DIFF_MAX_BYTES
        && !bytes.contains(&0)
        && std::str::from_utf8(bytes).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(path: &str, bytes: &[u8]) -> LocalFile {
        LocalFile {
            git_path: format!("_files{path}"),
            kestra_path: path.into(),
            bytes: bytes.to_vec(),
        }
    }

    fn remote(path: &str, bytes: &[u8]) -> RemoteFile {
        RemoteFile {
            kestra_path: path.into(),
            size_bytes: bytes.len() as u64,
            sha256: sha256_hex(bytes),
            text: as_text(bytes).map(str::to_string),
        }
    }

    fn states(rows: &[FileChange]) -> Vec<(&str, FileState)> {
        rows.iter()
            .map(|r| (r.kestra_path.as_str(), r.sync_state))
            .collect()
    }

    #[test]
    fn states_compare_bytes() {
        let git = [
            local("/a.py", b"print(1)\n"),
            local("/b.py", b"print(2)\n"),
            local("/empty", b""),
            local("/bin", &[0, 1, 2]),
        ];
        let live = [
            remote("/a.py", b"print(1)\n"),
            remote("/b.py", b"print(3)\n"),
            remote("/empty", b""),
            remote("/bin", &[0, 1, 3]),
            remote("/old.sql", b"select 1;\n"),
        ];
        let rows = compute("prod", &git, &live, "", false);
        assert_eq!(
            states(&rows),
            [
                ("/a.py", FileState::Unchanged),
                ("/b.py", FileState::Overwritten),
                ("/bin", FileState::Overwritten),
                ("/empty", FileState::Unchanged),
                ("/old.sql", FileState::Kept),
            ]
        );
        let b = &rows[1];
        assert!(b
            .diff
            .as_deref()
            .unwrap()
            .contains("-print(3)\n+print(2)\n"));
        assert!(b.content.is_some());
        let bin = &rows[2];
        assert!(bin.binary && bin.diff.is_none());
        assert_eq!(
            bin.live_sha256.as_deref(),
            Some(sha256_hex(&[0, 1, 3]).as_str())
        );
        assert!(
            rows[0].content.is_none(),
            "an unchanged file is never uploaded"
        );

        let rows = compute("prod", &git, &live, "", true);
        let old = rows.iter().find(|r| r.kestra_path == "/old.sql").unwrap();
        assert_eq!(old.sync_state, FileState::Deleted);
        assert!(old.diff.as_deref().unwrap().contains("-select 1;"));
    }

    #[test]
    fn files_outside_the_namespace_directory_never_take_part() {
        let git = [local("/scripts/a.py", b"x")];
        let live = [
            remote("/scripts/a.py", b"x"),
            remote("/scripts/gone.py", b"y"),
            remote("/other/keep.py", b"z"),
            remote("/scriptsx/keep.py", b"z"),
        ];
        let rows = compute("prod", &git, &live, "/scripts", true);
        assert_eq!(
            states(&rows),
            [
                ("/scripts/a.py", FileState::Unchanged),
                ("/scripts/gone.py", FileState::Deleted),
            ]
        );
    }
}
