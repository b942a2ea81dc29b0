//! Where flow files come from: a workspace folder (a CI checkout or a laptop), a GitHub
//! tarball at a commit, or a shallow clone of a Git URL. Every source yields the same
//! [`SourceFile`]s, so nothing downstream knows or cares where the bytes came from.

pub mod git;
pub mod github;
pub mod workspace;

use std::path::PathBuf;

/// One candidate flow file, read from a source, before any parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Path shown to users and used in annotations: relative to the workspace root,
    /// always with `/` separators, e.g. `_flows/marketing/crm/f.yml`.
    pub git_path: String,
    /// Folder segments between `git-directory` and the file, e.g. `["marketing", "crm"]`.
    /// Empty for files directly in `git-directory`. Each becomes a namespace segment.
    pub subfolders: Vec<String>,
    /// The raw file bytes, untouched.
    pub bytes: Vec<u8>,
}

/// What to read and from where; built from [`crate::settings::Settings`].
#[derive(Debug, Clone)]
pub struct SourceSpec {
    /// Root that nothing may be read outside of.
    pub workspace: PathBuf,
    /// Folder holding the flows, relative to `workspace` (SyncFlows' `gitDirectory`).
    pub git_directory: String,
    /// Walk subfolders too, each mapped to a child namespace.
    pub include_child_namespaces: bool,
}

/// A problem reading the source: always names the path and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("git-directory `{path}` does not exist in the workspace `{workspace}`: check --git-directory (default `_flows`) and --workspace")]
    MissingDirectory { path: String, workspace: String },
    #[error("`{path}` is outside the workspace: {why}. Flows must live inside the workspace; use a relative --git-directory without `..`")]
    OutsideWorkspace { path: String, why: String },
    #[error("cannot read `{path}`: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Cloning `--git-url` failed (see [`git::GitError`]).
    #[error(transparent)]
    Git(#[from] git::GitError),
    #[error("{0}")]
    Other(String),
}

/// Largest flow file read, in bytes (1 MiB). The largest of ~600 real flows and blueprints is
/// 16 KiB; big scripts belong in namespace files. Parsing costs up to ~150x the file size in
/// memory (a flat list of tiny items), so this also bounds the memory and time of a check.
/// A bigger file is an error naming it, never read whole into memory.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
