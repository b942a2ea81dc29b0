//! Reading flow files from a folder on disk, never outside the workspace.
//!
//! The folder is `git_directory` inside `workspace` (a CI checkout, an extracted tarball,
//! a clone, or a laptop's repository). Only `*.yml` / `*.yaml` files are flows (any case);
//! subfolders are walked only with `include_child_namespaces`, each becoming a namespace
//! level. Entries whose name starts with `.git` are skipped, and so is whatever the
//! gitignore-syntax `.kestraignore` at the root of `git_directory` lists.
//!
//! Nothing outside the workspace is read: `git_directory` may not be absolute or contain
//! `..`, and a symbolic link (file or folder) is followed only when its real target is
//! inside the workspace; one that leads outside is an error naming it (skipping it silently
//! could make a sync with `delete` remove its flows from Kestra). Links inside the workspace
//! are followed because repositories use them to share a flow between namespaces.

use std::fs;
use std::io::Read;
use std::path::{Component, Path};

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use walkdir::{DirEntry, WalkDir};

use super::{SourceError, SourceFile, SourceSpec, MAX_FILE_BYTES};

/// The ignore file read at the root of `git_directory`.
const IGNORE_FILE: &str = ".kestraignore";

/// Largest `.kestraignore` (64 KiB) and most patterns in it (1,000): real ignore files hold
/// a few dozen; tens of thousands of wildcard patterns cost hundreds of MiB and tens of ms
/// per file. Over either is an error naming the file.
pub const MAX_IGNORE_BYTES: u64 = 64 * 1024;
pub const MAX_IGNORE_PATTERNS: usize = 1_000;
/// Most time spent matching `.kestraignore` over one walk; beyond, an error.
pub const MAX_IGNORE_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// What a walk reads: flow files, or namespace files (`crate::nsfiles`).
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    /// The option naming the folder, for messages (`--git-directory`).
    pub option: &'static str,
    /// What one file is, for messages (`flow file`).
    pub noun: &'static str,
    /// Whether a file of this name is read (flows: `*.yml` / `*.yaml`).
    pub accept: fn(&str) -> bool,
    /// Largest file read; a bigger one is an error naming it.
    pub max_bytes: u64,
    /// What to advise for a file over `max_bytes`.
    pub too_big_advice: &'static str,
}

/// Flow files: `*.yml` / `*.yaml` up to [`MAX_FILE_BYTES`].
pub const FLOWS: Kind = Kind {
    option: "--git-directory",
    noun: "flow file",
    accept: is_flow_name,
    max_bytes: MAX_FILE_BYTES,
    too_big_advice:
        "move big scripts or data to namespace files, or list the file in `.kestraignore`",
};

/// Read every `*.yml` / `*.yaml` under `spec.git_directory`, honouring `.kestraignore`.
/// Files come sorted by `git_path`.
pub fn read(spec: &SourceSpec) -> Result<Vec<SourceFile>, SourceError> {
    read_tree(
        &spec.workspace,
        &spec.git_directory,
        spec.include_child_namespaces,
        &FLOWS,
    )
}

/// Read every file `kind` accepts under `directory` (relative to `workspace`), walking
/// subfolders when `recursive`, honouring `.kestraignore` at its root, never outside the
/// workspace. Files come sorted by `git_path`.
pub fn read_tree(
    workspace: &Path,
    directory: &str,
    recursive: bool,
    kind: &Kind,
) -> Result<Vec<SourceFile>, SourceError> {
    let spec = SourceSpec {
        workspace: workspace.to_path_buf(),
        git_directory: directory.to_string(),
        include_child_namespaces: recursive,
    };
    let spec = &spec;
    let root = fs::canonicalize(&spec.workspace).map_err(|e| {
        SourceError::Other(format!(
            "cannot open the workspace `{}`: {e}; check --workspace",
            spec.workspace.display()
        ))
    })?;
    let prefix = relative_dir(&spec.git_directory, kind.option)?;
    let shown = if prefix.is_empty() {
        "."
    } else {
        prefix.as_str()
    };
    let dir = root.join(&prefix);
    let missing = || SourceError::MissingDirectory {
        path: shown.to_string(),
        workspace: spec.workspace.display().to_string(),
    };
    let dir = match fs::canonicalize(&dir) {
        Ok(dir) => dir,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(missing()),
        Err(e) => {
            return Err(SourceError::Io {
                path: shown.to_string(),
                source: e,
            })
        }
    };
    inside(&root, &dir, shown)?;
    if !dir.is_dir() {
        return Err(SourceError::Other(format!(
            "{} `{shown}` is a file, not a folder: give the folder that holds the {}s with {}",
            kind.option.trim_start_matches('-'),
            kind.noun,
            kind.option
        )));
    }
    let ignore = load_ignore(&root, &dir, &prefix)?;
    let walk = Walk {
        ignore_time: std::cell::Cell::new(std::time::Duration::ZERO),
        root: &root,
        dir: &dir,
        prefix: &prefix,
        ignore: &ignore,
        kind,
    };
    let mut files = walk.run(spec.include_child_namespaces)?;
    files.sort_by(|a, b| a.git_path.cmp(&b.git_path));
    if !spec.include_child_namespaces {
        if let Some(note) = walk.skipped_subfolders() {
            tracing::warn!("{note}");
        }
    }
    Ok(files)
}

/// `git_directory` as a workspace-relative `/` path (`""` for the workspace itself), or
/// the refusal of an absolute path or a `..`.
fn relative_dir(git_directory: &str, option: &str) -> Result<String, SourceError> {
    let given = git_directory.trim();
    let outside = |why: &str| SourceError::OutsideWorkspace {
        path: given.to_string(),
        why: format!("{why} ({option})"),
    };
    let mut parts = Vec::new();
    for component in Path::new(given).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => return Err(outside("it contains `..`")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(outside("it is an absolute path"))
            }
        }
    }
    Ok(parts.join("/"))
}

/// Refuse `real` (a canonical path) unless it is inside the canonical `root`.
fn inside(root: &Path, real: &Path, shown: &str) -> Result<(), SourceError> {
    if real.starts_with(root) {
        Ok(())
    } else {
        Err(SourceError::OutsideWorkspace {
            path: shown.to_string(),
            why: format!("it leads to `{}`", real.display()),
        })
    }
}

/// `a/b` joined under the `git_directory` prefix, for messages and `git_path`.
fn shown_path(prefix: &str, rel: &str) -> String {
    if prefix.is_empty() {
        rel.to_string()
    } else {
        format!("{prefix}/{rel}")
    }
}

/// The `.kestraignore` matcher (empty when there is no such file).
fn load_ignore(root: &Path, dir: &Path, prefix: &str) -> Result<Gitignore, SourceError> {
    let path = dir.join(IGNORE_FILE);
    let shown = shown_path(prefix, IGNORE_FILE);
    if fs::symlink_metadata(&path).is_err() {
        return Ok(Gitignore::empty());
    }
    let real = fs::canonicalize(&path).map_err(|e| SourceError::Io {
        path: shown.clone(),
        source: e,
    })?;
    inside(root, &real, &shown)?;
    let size = fs::metadata(&real)
        .map_err(|e| SourceError::Io {
            path: shown.clone(),
            source: e,
        })?
        .len();
    if size > MAX_IGNORE_BYTES {
        return Err(SourceError::Other(format!(
            "`{shown}` has {size} bytes, more than the {} KiB limit for an ignore file: list folders or broad patterns (`drafts/`, `*.draft.yml`) instead of every file",
            MAX_IGNORE_BYTES / 1024
        )));
    }
    let bytes = read_limited(&real, &shown, &FLOWS)?;
    let text = String::from_utf8(bytes).map_err(|_| {
        SourceError::Other(format!("`{shown}` is not valid UTF-8: save it as UTF-8"))
    })?;
    let text = text.trim_start_matches('\u{feff}');
    let patterns = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .count();
    if patterns > MAX_IGNORE_PATTERNS {
        return Err(SourceError::Other(format!(
            "`{shown}` has {patterns} patterns, more than the {MAX_IGNORE_PATTERNS} kestra-sync reads: list folders or broad patterns (`drafts/`, `*.draft.yml`) instead of every file"
        )));
    }
    let mut builder = GitignoreBuilder::new(dir);
    for (n, line) in text.lines().enumerate() {
        if let Err(e) = builder.add_line(Some(path.clone()), line) {
            return Err(SourceError::Other(format!(
                "`{shown}` line {}: {e}; fix the pattern (gitignore syntax)",
                n + 1
            )));
        }
    }
    builder
        .build()
        .map_err(|e| SourceError::Other(format!("`{shown}`: {e}; fix the patterns")))
}

/// Whether a file name is a flow file name: `*.yml` / `*.yaml`, any case.
fn is_flow_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".yml") || lower.ends_with(".yaml")
}

struct Walk<'a> {
    /// Time spent matching `.kestraignore` so far.
    ignore_time: std::cell::Cell<std::time::Duration>,
    /// Canonical workspace root.
    root: &'a Path,
    /// Canonical `git_directory`.
    dir: &'a Path,
    /// `git_directory` as shown (workspace-relative, `/`).
    prefix: &'a str,
    ignore: &'a Gitignore,
    kind: &'a Kind,
}

impl Walk<'_> {
    fn run(&self, recursive: bool) -> Result<Vec<SourceFile>, SourceError> {
        let walker = WalkDir::new(self.dir)
            .follow_links(true)
            .min_depth(1)
            .max_depth(if recursive { usize::MAX } else { 1 })
            .sort_by_file_name();
        // Errors found while deciding what to walk; the first one is returned.
        let mut refused: Option<SourceError> = None;
        let mut files = Vec::new();
        let entries = walker
            .into_iter()
            .filter_entry(|entry| match self.keep(entry, recursive) {
                Ok(keep) => keep,
                Err(e) => {
                    refused.get_or_insert(e);
                    false
                }
            });
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => match self.walk_error(e) {
                    Some(e) => return Err(e),
                    None => continue,
                },
            };
            let kind = entry.file_type();
            if kind.is_file() {
                files.push(self.read_file(&entry)?);
            } else if !kind.is_dir() {
                // a FIFO, socket or device named like a flow: never read (a FIFO would
                // block), never skipped silently
                let shown = shown_path(self.prefix, &self.rel(entry.path())?.join("/"));
                return Err(SourceError::Other(format!(
                    "`{shown}` is not a regular file (a FIFO, socket or device): remove it or list it in `{IGNORE_FILE}`"
                )));
            }
        }
        match refused {
            Some(e) => Err(e),
            None => Ok(files),
        }
    }

    /// Without `include_child_namespaces`, the flow files in subfolders are not read: say how
    /// many, one for example, and how to include them (`None` when there are none). Only
    /// names are looked at; links are not followed, `.git*` and `.kestraignore`d entries are
    /// left out as when reading.
    fn skipped_subfolders(&self) -> Option<String> {
        let mut count = 0usize;
        let mut first: Option<String> = None;
        let walker = WalkDir::new(self.dir)
            .min_depth(2)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| {
                let name = e.file_name().to_string_lossy();
                let rel = e.path().strip_prefix(self.dir).unwrap_or(e.path());
                !name.starts_with(".git")
                    && !self.ignore.matched(rel, e.file_type().is_dir()).is_ignore()
            });
        for entry in walker.flatten() {
            if !entry.file_type().is_dir() && is_flow_name(&entry.file_name().to_string_lossy()) {
                count += 1;
                if first.is_none() {
                    let rel = entry.path().strip_prefix(self.dir).unwrap_or(entry.path());
                    first = Some(shown_path(
                        self.prefix,
                        &rel.to_string_lossy().replace('\\', "/"),
                    ));
                }
            }
        }
        let first = first?;
        let shown = if self.prefix.is_empty() {
            "."
        } else {
            self.prefix
        };
        let (files, are) = if count == 1 {
            ("file", "is")
        } else {
            ("files", "are")
        };
        Some(format!(
            "{count} flow {files} in subfolders of `{shown}` {are} not synced (e.g. `{first}`): subfolders are child namespaces, read only with --include-child-namespaces (KESTRA_SYNC_INCLUDE_CHILD_NAMESPACES=true, action input `include-child-namespaces: \"true\"`)"
        ))
    }

    /// `a/b.yml` for an entry under `dir`.
    fn rel(&self, path: &Path) -> Result<Vec<String>, SourceError> {
        let rel = path.strip_prefix(self.dir).unwrap_or(path);
        rel.components()
            .map(|c| {
                let part = c.as_os_str();
                part.to_str().map(str::to_string).ok_or_else(|| {
                    SourceError::Other(format!(
                        "`{}`: the name is not valid UTF-8; rename it",
                        shown_path(self.prefix, &rel.to_string_lossy())
                    ))
                })
            })
            .collect()
    }

    /// Whether to walk into / read this entry. Errors for what must not be skipped
    /// silently: a link leading outside the workspace, a name that is not UTF-8.
    fn keep(&self, entry: &DirEntry, recursive: bool) -> Result<bool, SourceError> {
        let name = entry.file_name().to_string_lossy();
        if name.starts_with(".git") {
            return Ok(false);
        }
        let is_dir = entry.file_type().is_dir();
        if (is_dir && !recursive) || (!is_dir && !(self.kind.accept)(&name)) {
            return Ok(false);
        }
        let rel_path = entry.path().strip_prefix(self.dir).unwrap_or(entry.path());
        if self.ignored(rel_path, is_dir)? {
            return Ok(false);
        }
        let rel = self.rel(entry.path())?;
        if entry.path_is_symlink() {
            let shown = shown_path(self.prefix, &rel.join("/"));
            let real = fs::canonicalize(entry.path()).map_err(|e| SourceError::Io {
                path: shown.clone(),
                source: e,
            })?;
            if !real.starts_with(self.root) {
                return Err(SourceError::OutsideWorkspace {
                    path: shown,
                    why: format!(
                        "it is a symbolic link to `{}` (replace the link by the file, or list it in `{IGNORE_FILE}`)",
                        real.display()
                    ),
                });
            }
        }
        Ok(true)
    }

    /// Whether `.kestraignore` lists `rel`; an error once matching has taken more than
    /// [`MAX_IGNORE_TIME`] in all.
    fn ignored(&self, rel: &Path, is_dir: bool) -> Result<bool, SourceError> {
        let start = std::time::Instant::now();
        let ignored = self.ignore.matched(rel, is_dir).is_ignore();
        let spent = self.ignore_time.get() + start.elapsed();
        self.ignore_time.set(spent);
        if spent > MAX_IGNORE_TIME {
            return Err(SourceError::Other(format!(
                "`{}` took more than {} s to match the files: simplify its patterns (fewer `**` and wildcards)",
                shown_path(self.prefix, IGNORE_FILE),
                MAX_IGNORE_TIME.as_secs()
            )));
        }
        Ok(ignored)
    }

    /// What to do with an error of the walk: broken links and unreadable folders are
    /// errors when they could hold flows; a link loop is an error.
    fn walk_error(&self, e: walkdir::Error) -> Option<SourceError> {
        let path = e.path().map(Path::to_path_buf).unwrap_or_default();
        let rel = path.strip_prefix(self.dir).unwrap_or(&path);
        let shown = shown_path(self.prefix, &rel.to_string_lossy());
        if let Some(ancestor) = e.loop_ancestor() {
            let target = ancestor.strip_prefix(self.dir).unwrap_or(ancestor);
            return Some(SourceError::Other(format!(
                "`{shown}` is a symbolic link to its own parent folder `{}` (a loop): remove it or list it in `.kestraignore`",
                shown_path(self.prefix, &target.to_string_lossy())
            )));
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let name = name.unwrap_or_default();
        let ignored = match (self.ignored(rel, false), self.ignored(rel, true)) {
            (Ok(a), Ok(b)) => a || b,
            (Err(e), _) | (_, Err(e)) => return Some(e),
        };
        if name.starts_with(".git") || ignored {
            return None;
        }
        let is_link = fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
        if is_link && fs::metadata(&path).is_err() {
            // A broken link: an error only where a flow was expected.
            return (self.kind.accept)(&name).then(|| {
                SourceError::Other(format!(
                    "`{shown}` is a broken symbolic link: fix it, remove it, or list it in `.kestraignore`"
                ))
            });
        }
        let source = e
            .into_io_error()
            .unwrap_or_else(|| std::io::Error::other("unreadable entry"));
        Some(SourceError::Io {
            path: shown,
            source,
        })
    }

    fn read_file(&self, entry: &DirEntry) -> Result<SourceFile, SourceError> {
        let mut rel = self.rel(entry.path())?;
        let git_path = shown_path(self.prefix, &rel.join("/"));
        rel.pop();
        Ok(SourceFile {
            bytes: read_limited(entry.path(), &git_path, self.kind)?,
            git_path,
            subfolders: rel,
        })
    }
}

/// The bytes of `path`, refusing files over `kind.max_bytes` without reading them whole.
fn read_limited(path: &Path, shown: &str, kind: &Kind) -> Result<Vec<u8>, SourceError> {
    let max = kind.max_bytes;
    let io = |e| SourceError::Io {
        path: shown.to_string(),
        source: e,
    };
    let file = fs::File::open(path).map_err(io)?;
    let too_big = |size: u64| {
        SourceError::Other(format!(
            "`{shown}` has {size} bytes, more than the {} KiB limit for a {}: {}",
            max / 1024,
            kind.noun,
            kind.too_big_advice
        ))
    };
    let size = file.metadata().map_err(io)?.len();
    if size > max {
        return Err(too_big(size));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(max + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > max {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

#[cfg(test)]
#[path = "workspace_tests.rs"]
mod tests;
