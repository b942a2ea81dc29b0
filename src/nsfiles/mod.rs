//! Namespace files in the same plan as the flows (issue 13): scripts, SQL and configs kept
//! in Git under `--files-directory` (default `_files`, SyncNamespaceFiles' `gitDirectory`)
//! become the namespace files of the target namespace under `--namespace-directory`
//! (default `/`, plugin-git v4's `namespaceDirectory`: the folder of the namespace's storage
//! that Git owns; nothing outside it is read for deletion, written or deleted).
//!
//! - [`local`] reads the files (any source: the walk of [`crate::source::workspace`]);
//! - [`crate::kestra`] reads the live files with one export per namespace and writes;
//! - [`plan`] compares them byte for byte (sha256) with SyncNamespaceFiles' states;
//! - [`crate::apply::files`] uploads only what changed and deletes file by file;
//! - [`crate::render::files`] shows them in the text, Markdown and JSON plans.
//!
//! Files of child namespaces are out of scope: only the target namespace's storage is read
//! and written, with or without `--include-child-namespaces`.

pub mod local;
pub mod plan;

use serde::Serialize;
use sha2::{Digest, Sha256};

/// Largest namespace file, in bytes (10 MiB, the GitHub tarball's cap on one file): a
/// bigger one is an error naming it. Scripts, SQL and configs are far smaller; data sets do
/// not belong in Git.
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;
/// Most bytes of namespace files read from Git in one run (256 MiB): they are held in
/// memory until applied.
pub const MAX_TOTAL_BYTES: u64 = 256 * 1024 * 1024;
/// Most namespace files read from Git in one run.
pub const MAX_FILES: usize = 20_000;
/// Largest text file shown as a diff (256 KiB, each side); a bigger or binary file shows
/// its size and a short sha256.
pub const DIFF_MAX_BYTES: u64 = 256 * 1024;
/// Longest name segment: the server refuses more than 255 characters, and its local
/// storage more than 255 bytes (ENAMETOOLONG); the stricter, bytes, is checked.
pub const MAX_NAME_BYTES: usize = 255;

/// The namespace-file options of one run (`--namespace-files` on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesSettings {
    /// Folder of the files in the repository, relative to the workspace.
    pub directory: String,
    /// The folder of the namespace's storage Git owns, normalized: `""` for the root, else
    /// `/a/b` (see [`normalize_namespace_directory`]).
    pub namespace_directory: String,
}

/// `--namespace-directory` as plugin-git's `NamespaceDirectories.normalize`: `/`, `""` and
/// `.` are the root (`""`); a leading `/` is optional; empty and `.` segments are dropped;
/// `..` (also percent-encoded) is refused; and so is the `_flows` folder, where flows live.
pub fn normalize_namespace_directory(raw: &str) -> Result<String, String> {
    let mut out = String::new();
    for seg in raw.trim().split('/') {
        if seg.is_empty() || seg == "." {
            continue;
        }
        let decoded = percent_encoding::percent_decode_str(seg).decode_utf8_lossy();
        if decoded == ".." {
            return Err(format!(
                "--namespace-directory `{raw}`: `..` segments are not allowed; give a folder of the namespace's storage, e.g. `/scripts`"
            ));
        }
        if let Err(why) = check_name(seg) {
            return Err(format!("--namespace-directory `{raw}`: {why}"));
        }
        out.push('/');
        out.push_str(seg);
    }
    if out == "/_flows" || out.starts_with("/_flows/") {
        return Err(format!(
            "--namespace-directory `{raw}`: `_flows` is where Kestra keeps flows; namespace files cannot live there"
        ));
    }
    Ok(out)
}

/// Whether one name segment can be stored by Kestra and shown safely: at most
/// [`MAX_NAME_BYTES`] bytes, no control character (a line break would forge lines in logs
/// and comments), no `\` (a path separator on Windows storage), not `.` or `..`.
pub fn check_name(seg: &str) -> Result<(), String> {
    if seg.len() > MAX_NAME_BYTES {
        return Err(format!(
            "a name of {} bytes is longer than Kestra stores ({MAX_NAME_BYTES}); shorten it",
            seg.len()
        ));
    }
    if seg.chars().any(char::is_control) {
        return Err(
            "the name contains a control character (a line break, a tab…); rename it".into(),
        );
    }
    if seg.contains('\\') {
        return Err("the name contains `\\`, which Kestra's storage may read as a folder separator; rename it".into());
    }
    if seg == "." || seg == ".." {
        return Err(format!("`{seg}` is not a file name"));
    }
    Ok(())
}

/// The sha256 of `bytes`, in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The first 12 hex digits of a sha256: what the plans show for binary files.
pub fn short_sha(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// Whether `bytes` are text worth a diff: UTF-8 without NUL, at most [`DIFF_MAX_BYTES`].
pub fn as_text(bytes: &[u8]) -> Option<&str> {
    if bytes.len() as u64 > DIFF_MAX_BYTES || bytes.contains(&0) {
        return None;
    }
    std::str::from_utf8(bytes).ok()
}

/// A namespace file read from Git.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    /// Workspace-relative, `/` separators: `_files/scripts/a.py`.
    pub git_path: String,
    /// Path in the namespace's storage: `/scripts/a.py` (under `--namespace-directory`).
    pub kestra_path: String,
    pub bytes: Vec<u8>,
}

/// A namespace file on the server, from the export (the bytes are not kept: only what
/// the plan compares and shows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    /// `/scripts/a.py`.
    pub kestra_path: String,
    pub size_bytes: u64,
    pub sha256: String,
    /// The content, when it is text of at most [`DIFF_MAX_BYTES`] (for diffs).
    pub text: Option<String>,
}

/// SyncNamespaceFiles' words for what happens to a file, plus `KEPT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FileState {
    /// In Git, not on the server: uploaded.
    Added,
    /// In both, bytes differ: uploaded (a new revision).
    Overwritten,
    /// Same bytes: never sent (an upload would make a revision).
    Unchanged,
    /// On the server under `--namespace-directory`, not in Git, `--delete` on: deleted.
    Deleted,
    /// On the server under `--namespace-directory`, not in Git, `--delete` off: left alone.
    Kept,
}

impl FileState {
    pub fn as_str(self) -> &'static str {
        match self {
            FileState::Added => "ADDED",
            FileState::Overwritten => "OVERWRITTEN",
            FileState::Unchanged => "UNCHANGED",
            FileState::Deleted => "DELETED",
            FileState::Kept => "KEPT",
        }
    }

    /// Whether applying changes the server for this file.
    pub fn changes(self) -> bool {
        matches!(
            self,
            FileState::Added | FileState::Overwritten | FileState::Deleted
        )
    }
}

/// One namespace file in the plan (the JSON plan's `files` rows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileChange {
    /// Workspace-relative file; `null` for files only on the server.
    pub git_path: Option<String>,
    pub namespace: String,
    /// Path in the namespace's storage, `/scripts/a.py`.
    pub kestra_path: String,
    pub sync_state: FileState,
    /// Size of Git's bytes (the server's for DELETED and KEPT).
    pub size_bytes: u64,
    /// sha256 of Git's bytes (the server's for DELETED and KEPT), lower-case hex.
    pub sha256: String,
    /// Size and sha256 on the server before the change (OVERWRITTEN).
    pub live_size_bytes: Option<u64>,
    pub live_sha256: Option<String>,
    /// Either side is not text (not UTF-8, or holds NUL bytes): no diff, sizes and hashes.
    pub binary: bool,
    /// Unified diff server -> Git for text files of at most 256 KiB that change.
    pub diff: Option<String>,
    pub lines_added: usize,
    pub lines_removed: usize,
    /// What this change was computed against and what it writes, so an apply can refuse a
    /// plan whose base moved ([`crate::lock`]). Given for the rows that change a file
    /// (ADDED, OVERWRITTEN, DELETED), absent for the others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock: Option<FileLock>,
    /// Bytes to upload (ADDED / OVERWRITTEN); not part of the JSON contract.
    #[serde(skip)]
    pub content: Option<std::sync::Arc<Vec<u8>>>,
}

/// The base a file change was planned against and the bytes it writes: `{"baseSha256",
/// "desiredSha256"}` in the JSON plan (the flows' lock without `baseRevision`: the export
/// the plan reads gives no file revisions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileLock {
    /// sha256 (hex) of the server's bytes when planned; `None` when the server had no file
    /// at that path (ADDED).
    pub base_sha256: Option<String>,
    /// sha256 (hex) of Git's bytes to upload; `None` for a delete.
    pub desired_sha256: Option<String>,
}

impl FileChange {
    /// The lock of this row from its state and hashes: `None` for the rows that change
    /// nothing (UNCHANGED, KEPT).
    pub fn lock_of(&self) -> Option<FileLock> {
        let (base, desired) = match self.sync_state {
            FileState::Added => (None, Some(self.sha256.clone())),
            FileState::Overwritten => (self.live_sha256.clone(), Some(self.sha256.clone())),
            FileState::Deleted => (Some(self.sha256.clone()), None),
            FileState::Unchanged | FileState::Kept => return None,
        };
        Some(FileLock {
            base_sha256: base,
            desired_sha256: desired,
        })
    }
}

/// Counts of the file states (the JSON plan's `summary.files`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FilesSummary {
    pub added: usize,
    pub overwritten: usize,
    pub unchanged: usize,
    pub deleted: usize,
    pub kept: usize,
}

impl FilesSummary {
    pub fn of(files: &[FileChange]) -> FilesSummary {
        let mut s = FilesSummary::default();
        for f in files {
            match f.sync_state {
                FileState::Added => s.added += 1,
                FileState::Overwritten => s.overwritten += 1,
                FileState::Unchanged => s.unchanged += 1,
                FileState::Deleted => s.deleted += 1,
                FileState::Kept => s.kept += 1,
            }
        }
        s
    }

    pub fn has_changes(&self) -> bool {
        self.added + self.overwritten + self.deleted > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_directory_normalizes_like_plugin_git() {
        assert_eq!(normalize_namespace_directory("/").unwrap(), "");
        assert_eq!(normalize_namespace_directory("").unwrap(), "");
        assert_eq!(normalize_namespace_directory(".").unwrap(), "");
        assert_eq!(
            normalize_namespace_directory("./shared//scripts/").unwrap(),
            "/shared/scripts"
        );
        assert!(normalize_namespace_directory("a/../b").is_err());
        assert!(normalize_namespace_directory("a/%2e%2e/b").is_err());
        assert!(normalize_namespace_directory("/_flows").is_err());
        assert!(normalize_namespace_directory("_flows/x").is_err());
        assert_eq!(
            normalize_namespace_directory("_flowsx").unwrap(),
            "/_flowsx"
        );
    }

    #[test]
    fn names_kestra_cannot_store_are_refused() {
        assert!(check_name(&"a".repeat(255)).is_ok());
        assert!(check_name(&"a".repeat(256)).is_err());
        // 128 two-byte characters: 256 bytes
        assert!(check_name(&"é".repeat(128)).is_err());
        assert!(check_name("a\nb").is_err());
        assert!(check_name("a\\b").is_err());
        assert!(check_name("..").is_err());
    }

    #[test]
    fn text_is_utf8_without_nul_and_small() {
        assert_eq!(as_text(b"a\n"), Some("a\n"));
        assert_eq!(as_text(b""), Some(""));
        assert_eq!(as_text(b"a\0b"), None);
        assert_eq!(as_text(&[0xff, 0xfe]), None);
        assert_eq!(as_text(&vec![b'a'; DIFF_MAX_BYTES as usize + 1]), None);
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(short_sha("0123456789abcdef"), "0123456789ab");
    }
}
