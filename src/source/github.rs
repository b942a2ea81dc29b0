//! Flow files straight from GitHub, without a checkout: one `GET
//! /repos/{owner}/{repo}/tarball/{ref}` (GitHub answers with a 302 to a gzip tarball holding
//! one top folder), extracted into a temporary folder that is then read exactly like a
//! workspace ([`crate::source::workspace::read`]). One request whatever the number of files,
//! so a big repository cannot use up the token's 1,000 requests per hour.
//!
//! The archive is untrusted input: entries whose path is absolute or climbs out with `..`
//! stop the read; symbolic links are recreated only when they point inside the extracted
//! tree; hard links, devices and FIFOs are skipped; and the download, the decompressed
//! stream, each file and the number of entries are capped. Only what can matter is written:
//! files under `git-directory` and `.kestraignore` files.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use super::{SourceError, SourceFile, SourceSpec};
use crate::forge::github::{path_of, split_repository, GithubClient};

/// Largest tarball downloaded (compressed).
pub const MAX_DOWNLOAD: usize = 512 * 1024 * 1024;
/// Largest decompressed stream read from it (a gzip bomb stops here).
pub const MAX_UNPACKED: u64 = 4 * 1024 * 1024 * 1024;
/// Largest single file written.
pub const MAX_FILE: u64 = 10 * 1024 * 1024;
/// Most entries in the archive.
pub const MAX_ENTRIES: usize = 500_000;

/// The caps of one extraction.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub unpacked: u64,
    pub file: u64,
    pub entries: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            unpacked: MAX_UNPACKED,
            file: MAX_FILE,
            entries: MAX_ENTRIES,
        }
    }
}

/// A tarball extracted into a temporary folder, deleted when this is dropped.
#[derive(Debug)]
pub struct Extracted {
    dir: tempfile::TempDir,
    /// Files written.
    pub files: usize,
    /// Entries skipped (links leaving the tree, hard links, special files).
    pub skipped: Vec<String>,
}

impl Extracted {
    /// The repository root (the tarball's top folder, stripped).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Download `owner/name` at `git_ref` and extract what `git_directory` needs. Give a commit
/// SHA (what CI passes: the event's commit): the API documents `{ref}` as one path segment.
pub async fn download(
    client: &GithubClient,
    repository: &str,
    git_ref: &str,
    git_directory: &str,
) -> Result<Extracted, SourceError> {
    let (owner, repo) =
        split_repository(repository).map_err(|e| SourceError::Other(e.to_string()))?;
    if git_ref.is_empty() || git_ref.chars().any(|c| c.is_control() || c == ' ') {
        return Err(SourceError::Other(format!(
            "`{git_ref}` is not a Git ref to read from GitHub"
        )));
    }
    let encoded: String = percent_encoding::utf8_percent_encode(git_ref, REF_CHARS).to_string();
    let uri = client.api_uri(&format!("/repos/{owner}/{repo}/tarball/{encoded}"));
    let answer = client
        .get(&uri, MAX_DOWNLOAD)
        .await
        .map_err(|e| SourceError::Other(e.to_string()))?;
    match answer.status {
        200 => {}
        401 | 403 | 404 => {
            return Err(SourceError::Other(format!(
                "GitHub answered {} to GET {}: the token cannot read {repository} at `{git_ref}`. \
                 Give the job `permissions: contents: read` (and the `github-token` input), or use --source workspace after actions/checkout",
                answer.status,
                path_of(&uri)
            )))
        }
        s => {
            return Err(SourceError::Other(format!(
                "GitHub answered {s} to GET {}: could not download {repository} at `{git_ref}`",
                path_of(&uri)
            )))
        }
    }
    let dir = tempfile::Builder::new()
        .prefix("kestra-sync-github-")
        .tempdir()
        .map_err(|e| SourceError::Io {
            path: std::env::temp_dir().display().to_string(),
            source: e,
        })?;
    let bytes = answer.body;
    let dest = dir.path().to_path_buf();
    let filter = Filter::new(git_directory);
    let (files, skipped) =
        tokio::task::spawn_blocking(move || extract(&bytes, &dest, &filter, Limits::default()))
            .await
            .map_err(|e| SourceError::Other(format!("extracting the tarball failed: {e}")))??;
    Ok(Extracted {
        dir,
        files,
        skipped,
    })
}

/// Download and read: the flow files of `spec.git_directory` in `repository` at `git_ref`
/// (`spec.workspace` is ignored: the extracted tree is the workspace).
pub async fn read(
    client: &GithubClient,
    repository: &str,
    git_ref: &str,
    spec: &SourceSpec,
) -> Result<Vec<SourceFile>, SourceError> {
    let extracted = download(client, repository, git_ref, &spec.git_directory).await?;
    for s in &extracted.skipped {
        tracing::warn!("{s}");
    }
    super::workspace::read(&SourceSpec {
        workspace: extracted.path().to_path_buf(),
        ..spec.clone()
    })
}

/// Characters escaped in a ref put in a path (`/` is kept: `refs/heads/main` is one ref).
const REF_CHARS: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'#')
    .add(b'?')
    .add(b'%')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// Which archive paths (top folder stripped) are worth writing.
#[derive(Debug, Clone)]
pub struct Filter {
    /// `None`: everything (git-directory is the root, or not a plain relative path, in which
    /// case the workspace reader reports it).
    prefix: Option<Vec<String>>,
}

impl Filter {
    pub fn new(git_directory: &str) -> Filter {
        let mut parts = Vec::new();
        for c in Path::new(git_directory.trim()).components() {
            match c {
                Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
                Component::CurDir => {}
                _ => return Filter { prefix: None },
            }
        }
        Filter {
            prefix: (!parts.is_empty()).then_some(parts),
        }
    }

    fn wants(&self, rel: &[String], is_dir: bool) -> bool {
        if rel.last().is_some_and(|n| n == ".kestraignore") {
            return true;
        }
        match &self.prefix {
            None => true,
            // Under the folder, or a folder leading to it.
            Some(p) => rel.starts_with(p) || (is_dir && p.starts_with(rel)),
        }
    }
}

/// A reader that fails once more than `left` bytes went through it.
struct Capped<R> {
    inner: R,
    left: u64,
    cap: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left = self.left.checked_sub(n as u64).ok_or_else(|| {
            std::io::Error::other(format!(
                "the tarball unpacks to more than {} bytes",
                self.cap
            ))
        })?;
        Ok(n)
    }
}

/// Extract the gzip tarball `gz` into `dest` (top folder stripped), keeping what `filter`
/// wants. Returns the number of files written and the entries skipped, with why.
pub fn extract(
    gz: &[u8],
    dest: &Path,
    filter: &Filter,
    limits: Limits,
) -> Result<(usize, Vec<String>), SourceError> {
    let mut pass = Pass {
        dest,
        limits,
        files: 0,
        skipped: Vec::new(),
        links: Vec::new(),
    };
    pass.run(gz, &|rel, is_dir| filter.wants(rel, is_dir))?;
    let links = std::mem::take(&mut pass.links);
    // Links may point at files the filter left out (`_flows/x.yml -> ../shared/x.yml`): a
    // second walk over the archive writes those targets, and nothing else.
    let mut needed: Vec<Vec<String>> = Vec::new();
    for (rel, target) in &links {
        if let Some(t) = link_inside(rel, target) {
            if !filter.wants(&t, false) && !needed.contains(&t) {
                needed.push(t);
            }
        }
    }
    if !needed.is_empty() {
        pass.run(gz, &|rel, is_dir| {
            needed
                .iter()
                .any(|t| rel.starts_with(t) || (is_dir && t.starts_with(rel)))
        })?;
        for (rel, _) in std::mem::take(&mut pass.links) {
            pass.skipped.push(format!(
                "link `{}` is the target of another link: not followed",
                rel.join("/")
            ));
        }
    }
    // Links last, so nothing is written through them; only those that stay inside the tree.
    for (rel, target) in links {
        pass.make_link(&rel, &target)?;
    }
    Ok((pass.files, pass.skipped))
}

/// One walk over the archive.
struct Pass<'a> {
    dest: &'a Path,
    limits: Limits,
    files: usize,
    skipped: Vec<String>,
    /// Links seen (path, target), made after the files.
    links: Vec<(Vec<String>, PathBuf)>,
}

fn bad(why: String) -> SourceError {
    SourceError::Other(format!("the GitHub tarball is not usable: {why}"))
}

impl Pass<'_> {
    /// Write the files and folders `wants`; remember the links it wants.
    fn run(
        &mut self,
        gz: &[u8],
        wants: &dyn Fn(&[String], bool) -> bool,
    ) -> Result<(), SourceError> {
        let reader = Capped {
            inner: flate2::read::GzDecoder::new(gz),
            left: self.limits.unpacked,
            cap: self.limits.unpacked,
        };
        let mut archive = tar::Archive::new(reader);
        let entries = archive.entries().map_err(|e| bad(e.to_string()))?;
        for (n, entry) in entries.enumerate() {
            if n >= self.limits.entries {
                return Err(bad(format!("more than {} entries", self.limits.entries)));
            }
            let mut entry = entry.map_err(|e| bad(e.to_string()))?;
            let kind = entry.header().entry_type();
            if matches!(
                kind,
                tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
            ) {
                continue;
            }
            let raw = entry.path().map_err(|e| bad(e.to_string()))?.into_owned();
            let rel = relative(&raw).map_err(bad)?;
            // The top folder itself.
            if rel.is_empty() {
                continue;
            }
            let is_dir = kind == tar::EntryType::Directory;
            if !wants(&rel, is_dir) {
                continue;
            }
            let shown = rel.join("/");
            match kind {
                tar::EntryType::Directory => {
                    let p = self.safe_path(&rel)?;
                    std::fs::create_dir_all(&p).map_err(|e| io(&p, e))?;
                }
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let size = entry.header().size().unwrap_or(u64::MAX);
                    let max = self.limits.file;
                    if size > max {
                        self.skipped
                            .push(format!("`{shown}` is larger than {max} bytes: not read"));
                        continue;
                    }
                    let p = self.safe_path(&rel)?;
                    if let Some(parent) = p.parent() {
                        std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
                    }
                    let mut out = std::fs::File::create(&p).map_err(|e| io(&p, e))?;
                    let copied = std::io::copy(&mut (&mut entry).take(max + 1), &mut out)
                        .map_err(|e| io(&p, e))?;
                    if copied > max {
                        return Err(bad(format!("`{shown}` is larger than its header says")));
                    }
                    self.files += 1;
                }
                tar::EntryType::Symlink => {
                    let target = entry
                        .link_name()
                        .map_err(|e| bad(e.to_string()))?
                        .map(|t| t.into_owned())
                        .unwrap_or_default();
                    self.links.push((rel, target));
                }
                other => self.skipped.push(format!(
                    "`{shown}` ({other:?}) skipped: only files, folders and links inside the repository are read"
                )),
            }
        }
        Ok(())
    }

    /// Make the link `rel` -> `target` if it stays inside the tree.
    fn make_link(&mut self, rel: &[String], target: &Path) -> Result<(), SourceError> {
        let shown = rel.join("/");
        if link_inside(rel, target).is_none() {
            self.skipped.push(format!(
                "link `{shown}` -> `{}` points outside the repository: skipped",
                target.display()
            ));
            return Ok(());
        }
        let p = self.safe_path(rel)?;
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        if std::fs::symlink_metadata(&p).is_ok() {
            self.skipped.push(format!(
                "link `{shown}`: the path is in the archive twice; the first is kept"
            ));
            return Ok(());
        }
        if let Err(e) = symlink(target, &p) {
            self.skipped
                .push(format!("link `{shown}` not recreated: {e}"));
        }
        Ok(())
    }

    /// `dest/rel`, refusing a path that would pass through a link already made.
    fn safe_path(&self, rel: &[String]) -> Result<PathBuf, SourceError> {
        let mut p = self.dest.to_path_buf();
        for seg in rel {
            p.push(seg);
            if std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(bad(format!("`{}` passes through a link", rel.join("/"))));
            }
        }
        Ok(p)
    }
}

#[cfg(unix)]
fn symlink(target: &Path, at: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, at)
}

#[cfg(not(unix))]
fn symlink(_target: &Path, _at: &Path) -> std::io::Result<()> {
    Err(std::io::Error::other(
        "links are not supported on this platform",
    ))
}

/// The entry's path without the top folder, as plain segments; an error for absolute paths
/// and `..`.
fn relative(raw: &Path) -> Result<Vec<String>, String> {
    let mut parts = Vec::new();
    for c in raw.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(format!("entry `{}` climbs out with `..`", raw.display()))
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("entry `{}` is an absolute path", raw.display()))
            }
        }
    }
    if parts.is_empty() {
        return Ok(parts);
    }
    parts.remove(0);
    Ok(parts)
}

/// Where a link at `rel` pointing to `target` lands, relative to the root, if inside it.
fn link_inside(rel: &[String], target: &Path) -> Option<Vec<String>> {
    if target.as_os_str().is_empty() {
        return None;
    }
    let mut at: Vec<String> = rel.get(..rel.len().saturating_sub(1))?.to_vec();
    for c in target.components() {
        match c {
            Component::Normal(s) => at.push(s.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                at.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(at)
}

fn io(path: &Path, e: std::io::Error) -> SourceError {
    SourceError::Io {
        path: path.display().to_string(),
        source: e,
    }
}

#[cfg(test)]
#[path = "github_tests.rs"]
mod tests;
