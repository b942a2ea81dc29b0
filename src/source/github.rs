//! Flow files straight from GitHub, without a checkout: one `GET
//! /repos/{owner}/{repo}/tarball/{ref}` (GitHub answers with a 302 to a gzip tarball holding
//! one top folder), extracted into a temporary folder that is then read exactly like a
//! workspace ([`crate::source::workspace::read`]). One request whatever the number of files,
//! so a big repository cannot use up the token's 1,000 requests per hour.
//!
//! The archive is untrusted input, and nothing in it is skipped silently: the extracted tree
//! is the checkout the workspace reader would see, so the tarball source refuses exactly
//! what the workspace source refuses, naming the entry, and nothing is planned from it:
//!
//! - entries whose path is absolute or climbs out with `..` stop the read;
//! - symbolic links are recreated as they are (after every file, so nothing is written
//!   through one); one that leaves the repository is refused by the workspace reader when
//!   it would be read, as in a checkout;
//! - a file over [`MAX_FILE_BYTES`] (the workspace reader's 1 MiB limit) is recreated with its
//!   size but without its bytes (a sparse file: nothing is downloaded into it or read from
//!   it), so the workspace reader refuses it by name, or ignores it when a checkout would
//!   (not a flow name, listed in `.kestraignore`);
//! - hard links, devices, FIFOs and other special entries (git never stores one) under
//!   `git-directory` stop the read, naming the entry;
//! - the download (streamed to a temporary file, never held in memory), the decompressed
//!   stream and the number of entries are capped.
//!
//! Only what can matter is written: files under `git-directory` (and the namespace files'
//! folder, [`download_folders`]), `.kestraignore` files, and the targets of links found there.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use super::{SourceError, SourceFile, SourceSpec, MAX_FILE_BYTES};
use crate::github_api::{path_of, split_repository, GithubClient};

/// Largest tarball downloaded (compressed), streamed to a temporary file.
pub const MAX_DOWNLOAD: u64 = 512 * 1024 * 1024;
/// Largest decompressed stream read from it (a gzip bomb stops here).
pub const MAX_UNPACKED: u64 = 4 * 1024 * 1024 * 1024;
/// Largest file whose bytes are written: the workspace reader's limit. A bigger file is
/// recreated sparse, with its size, for the workspace reader to refuse by name.
pub const MAX_FILE: u64 = MAX_FILE_BYTES;
/// Most entries in the archive.
pub const MAX_ENTRIES: usize = 500_000;
/// Most rounds of "write the targets of the links found so far" (a chain of links).
const MAX_LINK_ROUNDS: usize = 8;

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
    download_folders(client, repository, git_ref, &[git_directory], MAX_FILE).await
}

/// [`download`] for several folders at once (the flows' and the namespace files'), with
/// `max_file` as the size over which a file stands as an empty placeholder of its size
/// (the largest limit of the readers that will read the tree: each refuses by name what is
/// over its own).
pub async fn download_folders(
    client: &GithubClient,
    repository: &str,
    git_ref: &str,
    folders: &[&str],
    max_file: u64,
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
    let tmp_err = |e: std::io::Error| SourceError::Io {
        path: std::env::temp_dir().display().to_string(),
        source: e,
    };
    let archive = tempfile::tempfile().map_err(tmp_err)?;
    let answer = client
        .get_to_file(&uri, MAX_DOWNLOAD, &archive)
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
        .map_err(tmp_err)?;
    let dest = dir.path().to_path_buf();
    let filter = Filter::any_of(folders);
    let limits = Limits {
        file: max_file.max(MAX_FILE),
        ..Limits::default()
    };
    let files = tokio::task::spawn_blocking(move || {
        let open = || -> std::io::Result<Box<dyn Read>> {
            let mut f = archive.try_clone()?;
            std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(0))?;
            Ok(Box::new(std::io::BufReader::new(f)))
        };
        extract_from(&open, &dest, &filter, limits)
    })
    .await
    .map_err(|e| SourceError::Other(format!("extracting the tarball failed: {e}")))??;
    Ok(Extracted { dir, files })
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
    read_extracted(extracted.path(), spec)
}

/// Read an extracted tree exactly as a checkout: the workspace reader's rules, unchanged.
pub fn read_extracted(root: &Path, spec: &SourceSpec) -> Result<Vec<SourceFile>, SourceError> {
    super::workspace::read(&SourceSpec {
        workspace: root.to_path_buf(),
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
    /// `None`: everything (a folder is the root, or not a plain relative path, in which
    /// case the workspace reader reports it).
    prefixes: Option<Vec<Vec<String>>>,
}

impl Filter {
    pub fn new(git_directory: &str) -> Filter {
        Filter::any_of(&[git_directory])
    }

    /// What any of `folders` needs.
    pub fn any_of(folders: &[&str]) -> Filter {
        let mut prefixes = Vec::new();
        for folder in folders {
            let mut parts = Vec::new();
            for c in Path::new(folder.trim()).components() {
                match c {
                    Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
                    Component::CurDir => {}
                    _ => return Filter { prefixes: None },
                }
            }
            if parts.is_empty() {
                return Filter { prefixes: None };
            }
            prefixes.push(parts);
        }
        Filter {
            prefixes: Some(prefixes),
        }
    }

    fn wants(&self, rel: &[String], is_dir: bool) -> bool {
        if rel.last().is_some_and(|n| n == ".kestraignore") {
            return true;
        }
        match &self.prefixes {
            None => true,
            // Under a folder, or a folder leading to one.
            Some(all) => all
                .iter()
                .any(|p| rel.starts_with(p) || (is_dir && p.starts_with(rel))),
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
/// wants. Returns the number of files written.
pub fn extract(
    gz: &[u8],
    dest: &Path,
    filter: &Filter,
    limits: Limits,
) -> Result<usize, SourceError> {
    extract_from(&|| Ok(Box::new(gz)), dest, filter, limits)
}

/// [`extract`] from a tarball that `open` gives from its start, once per walk.
fn extract_from<'g>(
    open: &dyn Fn() -> std::io::Result<Box<dyn Read + 'g>>,
    dest: &Path,
    filter: &Filter,
    limits: Limits,
) -> Result<usize, SourceError> {
    let mut pass = Pass {
        dest,
        limits,
        files: 0,
        links: Vec::new(),
    };
    let archive = || open().map_err(|e| bad(format!("cannot read the download: {e}")));
    pass.run(archive()?, &|rel, is_dir| filter.wants(rel, is_dir))?;
    // Links may point at files the filter left out (`_flows/x.yml -> ../shared/x.yml`), and
    // those may be links too: more walks write those targets, and nothing else.
    let mut covered: Vec<Vec<String>> = Vec::new();
    let mut checked = 0;
    for round in 0.. {
        let mut needed: Vec<Vec<String>> = Vec::new();
        for (rel, target) in &pass.links[checked..] {
            if let Some(t) = link_inside(rel, target) {
                let done = filter.wants(&t, false) || covered.iter().any(|c| t.starts_with(c));
                if !done && !needed.contains(&t) {
                    needed.push(t);
                }
            }
        }
        checked = pass.links.len();
        if needed.is_empty() {
            break;
        }
        if round >= MAX_LINK_ROUNDS {
            return Err(bad(format!(
                "link `{}` starts a chain of more than {MAX_LINK_ROUNDS} links: replace the links by the files",
                needed[0].join("/")
            )));
        }
        // never an entry an earlier walk wrote (folders may be created again)
        pass.run(archive()?, &|rel, is_dir| {
            needed
                .iter()
                .any(|t| rel.starts_with(t) || (is_dir && t.starts_with(rel)))
                && (is_dir
                    || !(filter.wants(rel, false) || covered.iter().any(|c| rel.starts_with(c))))
        })?;
        covered.extend(needed);
    }
    // Links last, so nothing is written through them; each as it is in the archive: the
    // workspace reader refuses one that leaves the repository where it would read it.
    for (rel, target) in std::mem::take(&mut pass.links) {
        pass.make_link(&rel, &target)?;
    }
    Ok(pass.files)
}

/// One walk over the archive.
struct Pass<'a> {
    dest: &'a Path,
    limits: Limits,
    files: usize,
    /// Links seen (path, target), made after the files.
    links: Vec<(Vec<String>, PathBuf)>,
}

fn bad(why: String) -> SourceError {
    SourceError::Other(format!("the GitHub tarball is not usable: {why}"))
}

fn twice(shown: &str) -> SourceError {
    bad(format!(
        "`{}` is in the archive twice: it is not a plain export of the repository; nothing was planned",
        shown.escape_debug()
    ))
}

impl Pass<'_> {
    /// Write the files and folders `wants`; remember the links it wants.
    fn run(
        &mut self,
        gz: Box<dyn Read + '_>,
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
                    let size = entry.header().size().map_err(|e| {
                        bad(format!("entry `{}`: unreadable size ({e})", shown.escape_debug()))
                    })?;
                    let p = self.safe_path(&rel)?;
                    if let Some(parent) = p.parent() {
                        std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
                    }
                    if std::fs::symlink_metadata(&p).is_ok() {
                        return Err(twice(&shown));
                    }
                    let mut out = std::fs::File::create(&p).map_err(|e| io(&p, e))?;
                    let max = self.limits.file;
                    if size > max {
                        // Its size, not its bytes: the workspace reader refuses it by name
                        // (or ignores it, as it would in a checkout).
                        out.set_len(size)
                            .or_else(|_| out.set_len(max + 1))
                            .map_err(|e| io(&p, e))?;
                    } else {
                        let copied = std::io::copy(&mut (&mut entry).take(max + 1), &mut out)
                            .map_err(|e| io(&p, e))?;
                        if copied != size {
                            return Err(bad(format!(
                                "entry `{}` does not hold the {size} bytes its header says",
                                shown.escape_debug()
                            )));
                        }
                    }
                    self.files += 1;
                }
                tar::EntryType::Symlink => {
                    let target = entry
                        .link_name()
                        .map_err(|e| bad(e.to_string()))?
                        .map(|t| t.into_owned())
                        .unwrap_or_default();
                    if self.links.iter().any(|(r, _)| *r == rel) {
                        return Err(twice(&shown));
                    }
                    self.links.push((rel, target));
                }
                tar::EntryType::Link => {
                    return Err(bad(format!(
                        "`{}` is a hard link, which a Git repository never holds: the archive is not a plain export of the repository; nothing was planned",
                        shown.escape_debug()
                    )))
                }
                other => {
                    return Err(bad(format!(
                        "`{}` is a special file ({other:?}: a device, FIFO or other entry a Git repository never holds): nothing was planned",
                        shown.escape_debug()
                    )))
                }
            }
        }
        Ok(())
    }

    /// Make the link `rel` -> `target`, as it is in the archive.
    fn make_link(&mut self, rel: &[String], target: &Path) -> Result<(), SourceError> {
        let shown = rel.join("/");
        let p = self.safe_path(rel)?;
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        if std::fs::symlink_metadata(&p).is_ok() {
            return Err(twice(&shown));
        }
        symlink(target, &p).map_err(|e| {
            bad(format!(
                "link `{}` could not be recreated ({e}): replace the link by the file",
                shown.escape_debug()
            ))
        })
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
