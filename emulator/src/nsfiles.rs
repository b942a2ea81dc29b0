//! The emulator's namespace-file storage, with the real server's rules
//! (`NamespaceFileController`, kestra.md §6):
//!
//! - paths are absolute inside a namespace (`/scripts/a.py`); a path given without the
//!   leading `/` gets one, as the server's delete does;
//! - every upload is a new revision, even of identical bytes (plugin-git #248);
//!   uploading creates the missing parent folders;
//! - `/_flows` and everything below it is forbidden (`Forbidden path: …`); a name segment
//!   longer than 255 characters is refused before anything is written;
//! - a delete is recursive (a folder takes everything below it), and the parents it leaves
//!   with nothing in them go too (the controller's "zombie-aware" walk up: while the parent
//!   of what is deleted has exactly one child, the parent is deleted instead). As on the
//!   real server this walk counts the parent's children without checking that the one
//!   child is the path asked for: deleting a missing `/a/x` when `/a` holds only `/a/y`
//!   deletes `/a`, `y` included. A client must only delete paths it saw;
//! - revision numbers of a path continue after a delete (re-uploading a deleted file
//!   makes the next revision, like flows).
//!
//! The real server imports a flow when a single-segment `/_flows/x.yml` is uploaded; the
//! emulator refuses it like every other `_flows` path (kestra-sync never sends one: it
//! refuses such files locally).

use std::collections::BTreeMap;

/// Longest name segment the server accepts (`MAX_FILE_NAME_LENGTH`, in Java chars).
pub(crate) const MAX_NAME_CHARS: usize = 255;

/// Why a path cannot be used; the server answers 422 (`IllegalArgumentException`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refused(pub String);

/// One child of a folder: its name, and its size when it is a file (`None`: a folder).
pub(crate) type Child = (String, Option<u64>);

/// A file or folder of a namespace, for listings and test assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// `/a/b.txt`.
    pub path: String,
    pub bytes: Vec<u8>,
    /// Current revision (1 for the first upload).
    pub revision: u32,
}

#[derive(Debug, Clone)]
enum Entry {
    Folder,
    File { bytes: Vec<u8>, revision: u32 },
}

/// One namespace's storage: entries keyed by absolute path, and the last revision ever
/// given to each file path (kept across deletes).
#[derive(Debug, Default)]
struct Space {
    entries: BTreeMap<String, Entry>,
    last_revision: BTreeMap<String, u32>,
    /// Every revision's bytes, `(path, revision)`, for `GET /files?revision=`.
    history: BTreeMap<(String, u32), Vec<u8>>,
}

/// Key: (tenant, namespace).
#[derive(Debug, Default)]
pub(crate) struct FileStore {
    spaces: BTreeMap<(String, String), Space>,
}

/// `path` as the server reads it: a leading `/` added, `//` collapsed, a trailing `/`
/// dropped; `.` / `..` segments refused (the emulator does not resolve them), and the
/// forbidden `_flows` folder and over-long names refused.
pub(crate) fn normalize(path: &str) -> Result<String, Refused> {
    let mut out = String::new();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        if seg == "." || seg == ".." {
            return Err(Refused(format!(
                "Invalid path: '{path}' contains a '{seg}' segment"
            )));
        }
        if seg.encode_utf16().count() > MAX_NAME_CHARS {
            return Err(Refused(format!(
                "A file or folder name exceeds the maximum length of {MAX_NAME_CHARS} characters."
            )));
        }
        out.push('/');
        out.push_str(seg);
    }
    if out.is_empty() {
        out.push('/');
    }
    forbidden_guard(&out)?;
    Ok(out)
}

/// `Forbidden path` for `/_flows` and below (the controller's `/_flows(/.*)?$`).
fn forbidden_guard(path: &str) -> Result<(), Refused> {
    if path == "/_flows" || path.starts_with("/_flows/") {
        return Err(Refused(format!("Forbidden path: {path}")));
    }
    Ok(())
}

/// `/a/b/c` -> `/a/b`; `/a` -> `/`.
fn parent(path: &str) -> Option<&str> {
    if path == "/" {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&path[..i]),
        None => None,
    }
}

fn is_below(path: &str, folder: &str) -> bool {
    folder == "/" || path.starts_with(&format!("{folder}/"))
}

impl Space {
    fn children(&self, folder: &str) -> impl Iterator<Item = (&String, &Entry)> {
        let folder = folder.to_string();
        self.entries
            .iter()
            .filter(move |(p, _)| p.as_str() != "/" && parent(p) == Some(folder.as_str()))
    }

    fn make_folders(&mut self, path: &str) {
        let mut at = Some(path);
        while let Some(p) = at {
            if p != "/" {
                self.entries.entry(p.to_string()).or_insert(Entry::Folder);
            }
            at = parent(p);
        }
    }
}

impl FileStore {
    fn space(&mut self, tenant: &str, namespace: &str) -> &mut Space {
        self.spaces
            .entry((tenant.to_string(), namespace.to_string()))
            .or_default()
    }

    fn space_ref(&self, tenant: &str, namespace: &str) -> Option<&Space> {
        self.spaces
            .get(&(tenant.to_string(), namespace.to_string()))
    }

    /// Upload: a new revision of `path` (normalized), parents created. A folder of that
    /// name is refused.
    pub fn put(
        &mut self,
        tenant: &str,
        namespace: &str,
        path: &str,
        bytes: Vec<u8>,
    ) -> Result<u32, Refused> {
        let path = normalize(path)?;
        if path == "/" {
            return Err(Refused("Invalid path: '/' is the namespace root".into()));
        }
        let space = self.space(tenant, namespace);
        if matches!(space.entries.get(&path), Some(Entry::Folder)) {
            return Err(Refused(format!("Path {path} is a directory")));
        }
        let mut at = parent(&path);
        while let Some(p) = at {
            if let Some(Entry::File { .. }) = space.entries.get(p) {
                return Err(Refused(format!("Path {p} is a file")));
            }
            at = parent(p);
        }
        if let Some(p) = parent(&path) {
            let p = p.to_string();
            space.make_folders(&p);
        }
        let revision = space.last_revision.get(&path).copied().unwrap_or(0) + 1;
        space.last_revision.insert(path.clone(), revision);
        space
            .history
            .insert((path.clone(), revision), bytes.clone());
        space.entries.insert(path, Entry::File { bytes, revision });
        Ok(revision)
    }

    /// `POST /files/directory`.
    pub fn make_folder(
        &mut self,
        tenant: &str,
        namespace: &str,
        path: &str,
    ) -> Result<(), Refused> {
        let path = normalize(path)?;
        let space = self.space(tenant, namespace);
        if matches!(space.entries.get(&path), Some(Entry::File { .. })) {
            return Err(Refused(format!("Path {path} is a file")));
        }
        space.make_folders(&path);
        Ok(())
    }

    /// The bytes of a file at its latest revision or at `revision`; `None` when missing.
    pub fn get(
        &self,
        tenant: &str,
        namespace: &str,
        path: &str,
        revision: Option<u32>,
    ) -> Result<Option<Vec<u8>>, Refused> {
        let path = normalize(path)?;
        let Some(space) = self.space_ref(tenant, namespace) else {
            return Ok(None);
        };
        let Some(Entry::File { bytes, .. }) = space.entries.get(&path) else {
            return Ok(None);
        };
        Ok(match revision {
            None => Some(bytes.clone()),
            Some(r) => space.history.get(&(path, r)).cloned(),
        })
    }

    /// Revisions of a live file, oldest first; `None` when it is missing or deleted.
    pub fn revisions(
        &self,
        tenant: &str,
        namespace: &str,
        path: &str,
    ) -> Result<Option<Vec<u32>>, Refused> {
        let path = normalize(path)?;
        let Some(space) = self.space_ref(tenant, namespace) else {
            return Ok(None);
        };
        if !matches!(space.entries.get(&path), Some(Entry::File { .. })) {
            return Ok(None);
        }
        Ok(Some(
            space
                .history
                .keys()
                .filter(|(p, _)| *p == path)
                .map(|(_, r)| *r)
                .collect(),
        ))
    }

    /// Recursive delete, with the parents left empty (see the module docs). Returns the
    /// paths removed.
    pub fn delete(
        &mut self,
        tenant: &str,
        namespace: &str,
        path: &str,
    ) -> Result<Vec<String>, Refused> {
        let path = normalize(path)?;
        let space = self.space(tenant, namespace);
        let mut target = path;
        while let Some(p) = parent(&target) {
            if p == "/" || space.children(p).count() != 1 {
                break;
            }
            target = p.to_string();
        }
        if target == "/" {
            return Err(Refused("Invalid path: '/' is the namespace root".into()));
        }
        let removed: Vec<String> = space
            .entries
            .keys()
            .filter(|p| **p == target || is_below(p, &target))
            .cloned()
            .collect();
        for p in &removed {
            space.entries.remove(p);
        }
        Ok(removed)
    }

    /// One folder's children (`None` when the folder does not exist; the root always does).
    pub fn list(
        &self,
        tenant: &str,
        namespace: &str,
        folder: &str,
    ) -> Result<Option<Vec<Child>>, Refused> {
        let folder = normalize(folder)?;
        let empty = Space::default();
        let space = self.space_ref(tenant, namespace).unwrap_or(&empty);
        if folder != "/" && !matches!(space.entries.get(&folder), Some(Entry::Folder)) {
            return Ok(None);
        }
        Ok(Some(
            space
                .children(&folder)
                .map(|(p, e)| {
                    let name = p.rsplit('/').next().unwrap_or_default().to_string();
                    let size = match e {
                        Entry::File { bytes, .. } => Some(bytes.len() as u64),
                        Entry::Folder => None,
                    };
                    (name, size)
                })
                .collect(),
        ))
    }

    /// Every current file of a namespace, sorted by path.
    pub fn files(&self, tenant: &str, namespace: &str) -> Vec<StoredFile> {
        let Some(space) = self.space_ref(tenant, namespace) else {
            return Vec::new();
        };
        space
            .entries
            .iter()
            .filter_map(|(p, e)| match e {
                Entry::File { bytes, revision } => Some(StoredFile {
                    path: p.clone(),
                    bytes: bytes.clone(),
                    revision: *revision,
                }),
                Entry::Folder => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_upload_is_a_revision_and_revisions_continue_after_delete() {
        let mut s = FileStore::default();
        assert_eq!(s.put("main", "n", "/a.txt", b"x".to_vec()), Ok(1));
        assert_eq!(s.put("main", "n", "a.txt", b"x".to_vec()), Ok(2));
        assert_eq!(
            s.revisions("main", "n", "/a.txt").unwrap(),
            Some(vec![1, 2])
        );
        s.delete("main", "n", "/a.txt").unwrap();
        assert_eq!(s.get("main", "n", "/a.txt", None).unwrap(), None);
        assert_eq!(s.put("main", "n", "/a.txt", b"y".to_vec()), Ok(3));
    }

    #[test]
    fn delete_is_recursive_and_removes_emptied_parents_only() {
        let mut s = FileStore::default();
        s.put("main", "n", "/a/b/c.txt", b"1".to_vec()).unwrap();
        s.put("main", "n", "/a/d.txt", b"2".to_vec()).unwrap();
        // /a/b holds only c.txt: deleting it removes /a/b too, /a keeps d.txt
        let removed = s.delete("main", "n", "/a/b/c.txt").unwrap();
        assert_eq!(removed, vec!["/a/b".to_string(), "/a/b/c.txt".to_string()]);
        assert_eq!(s.list("main", "n", "/a").unwrap().unwrap().len(), 1);
        s.put("main", "n", "/a/e/f.txt", b"3".to_vec()).unwrap();
        // a folder delete takes everything below
        s.delete("main", "n", "/a").unwrap();
        assert!(s.files("main", "n").is_empty());
        assert_eq!(s.list("main", "n", "/").unwrap(), Some(vec![]));
    }

    #[test]
    fn the_flows_folder_and_long_names_are_refused() {
        let mut s = FileStore::default();
        assert!(s.put("main", "n", "/_flows/x.yml", vec![]).is_err());
        assert!(s.put("main", "n", "_flows", vec![]).is_err());
        assert!(s.put("main", "n", "/_flowsx/y", vec![]).is_ok());
        assert!(s
            .put("main", "n", &format!("/{}", "a".repeat(256)), vec![])
            .is_err());
        assert!(s
            .put("main", "n", &format!("/{}", "a".repeat(255)), vec![])
            .is_ok());
        assert!(s.delete("main", "n", "/_flows").is_err());
        assert!(s.put("main", "n", "/a/../b", vec![]).is_err());
        // a file where a folder must be
        s.put("main", "n", "/f", vec![]).unwrap();
        assert!(s.put("main", "n", "/f/g/h", vec![]).is_err());
    }
}
