//! Namespace files on the server (`/api/v1/{tenant}/namespaces/{ns}/files…`): the export
//! (one ZIP of every current file of a namespace: the plan reads it once, never a request per
//! file), one upload per changed file, one delete per file (never a folder: a folder
//! delete is recursive), and a read to check a write whose answer was lost.
//!
//! Uploads and deletes are never replayed after they were sent: every upload makes a new
//! revision, and the server's delete walks up to a parent holding a single child and
//! deletes that parent, so a replayed delete of an already deleted file could take a
//! sibling with it. A lost answer is settled by reading the file back
//! ([`crate::apply::files`]).

use std::io::{Cursor, Read};

use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};

use super::client::Body;
use super::{KestraClient, KestraError};
use crate::http::Idempotency;
use crate::nsfiles::{as_text, hex, RemoteFile, DIFF_MAX_BYTES};

/// Most bytes read out of one export (all entries, decompressed): a runaway answer stops
/// here. Entries are hashed as they stream: only text small enough for a diff is kept.
const MAX_EXPORT_BYTES: u64 = 4 << 30;

impl KestraClient {
    /// Every current file of `namespace`, from one `GET …/files/export`. A 404 (no storage
    /// for that namespace yet) is an empty namespace.
    pub async fn export_files(&self, namespace: &str) -> Result<Vec<RemoteFile>, KestraError> {
        let url = self.paths.namespace_files(namespace, &["export"])?;
        let reply = self.send(Method::GET, url, Body::None).await?;
        match reply.status {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Ok(Vec::new()),
            _ => return Err(self.error(&reply)),
        }
        read_export(&reply.body).map_err(|message| KestraError::Protocol {
            url: reply.url.clone(),
            message: format!(
                "the namespace files export of `{namespace}` is not usable: {message}"
            ),
        })
    }

    /// Upload `bytes` as the namespace file `path` (`POST …/files?path=`, part
    /// `fileContent`): a new revision on the server. Never replayed once sent.
    pub async fn upload_file(
        &self,
        namespace: &str,
        path: &str,
        bytes: &[u8],
    ) -> Result<(), KestraError> {
        let mut url = self.paths.namespace_files(namespace, &[])?;
        url.query_pairs_mut().append_pair("path", path);
        let reply = self
            .send_with(
                Idempotency::NotIdempotent,
                Method::POST,
                url,
                Body::FileContent(bytes),
            )
            .await?;
        if reply.status.is_success() {
            Ok(())
        } else {
            Err(self.error(&reply))
        }
    }

    /// Delete the namespace file `path` (`DELETE …/files?path=`). The caller gives a file
    /// path it saw in the export, never a folder. Never replayed once sent.
    pub async fn delete_file(&self, namespace: &str, path: &str) -> Result<(), KestraError> {
        let mut url = self.paths.namespace_files(namespace, &[])?;
        url.query_pairs_mut().append_pair("path", path);
        let reply = self
            .send_with(Idempotency::NotIdempotent, Method::DELETE, url, Body::None)
            .await?;
        match reply.status {
            s if s.is_success() => Ok(()),
            StatusCode::NOT_FOUND => Ok(()),
            _ => Err(self.error(&reply)),
        }
    }

    /// The sha256 of the namespace file `path` as the server holds it now; `None` when it
    /// does not exist (`GET …/files?path=`, 404).
    pub async fn file_sha256(
        &self,
        namespace: &str,
        path: &str,
    ) -> Result<Option<String>, KestraError> {
        let mut url = self.paths.namespace_files(namespace, &[])?;
        url.query_pairs_mut().append_pair("path", path);
        let reply = self.send(Method::GET, url, Body::None).await?;
        match reply.status {
            StatusCode::OK => Ok(Some(hex(&Sha256::digest(&reply.body)))),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(self.error(&reply)),
        }
    }
}

/// The files of an export ZIP: path (with the leading `/`), size, sha256, and the text of
/// small text files. Entry names come from the server and are checked: a name that is not a
/// clean relative path (empty or `.`/`..` segments, a `\`, a control character) makes the
/// export unusable rather than become a path to delete.
pub(crate) fn read_export(bytes: &[u8]) -> Result<Vec<RemoteFile>, String> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let mut files = Vec::with_capacity(archive.len());
    let mut total: u64 = 0;
    let mut buf = vec![0u8; 64 * 1024];
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| e.to_string())?;
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().to_string();
        let clean = !name.is_empty()
            && name
                .trim_start_matches('/')
                .split('/')
                .all(|seg| !seg.is_empty() && crate::nsfiles::check_name(seg).is_ok());
        if !clean {
            return Err(format!(
                "entry {:?} is not a clean file path",
                name.chars().take(200).collect::<String>()
            ));
        }
        let mut hasher = Sha256::new();
        let mut kept: Vec<u8> = Vec::new();
        let mut size: u64 = 0;
        loop {
            let n = entry
                .read(&mut buf)
                .map_err(|e| format!("entry `{name}`: {e}"))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            size += n as u64;
            total += n as u64;
            if total > MAX_EXPORT_BYTES {
                return Err(format!("it unpacks to more than {MAX_EXPORT_BYTES} bytes"));
            }
            if size <= DIFF_MAX_BYTES {
                kept.extend_from_slice(&buf[..n]);
            }
        }
        let text = if size <= DIFF_MAX_BYTES {
            as_text(&kept).map(str::to_string)
        } else {
            None
        };
        files.push(RemoteFile {
            kestra_path: format!("/{}", name.trim_start_matches('/')),
            size_bytes: size,
            sha256: hex(&hasher.finalize()),
            text,
        });
    }
    files.sort_by(|a, b| a.kestra_path.cmp(&b.kestra_path));
    if let Some(w) = files
        .windows(2)
        .find(|w| w[0].kestra_path == w[1].kestra_path)
    {
        return Err(format!("the file `{}` is in it twice", w[0].kestra_path));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, bytes) in entries {
            z.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            z.write_all(bytes).unwrap();
        }
        z.finish().unwrap().into_inner()
    }

    #[test]
    fn export_entries_are_hashed_and_small_text_kept() {
        let big = vec![b'a'; DIFF_MAX_BYTES as usize + 10];
        let files = read_export(&zip(&[
            ("s/a.py", b"print(1)\n"),
            ("bin", &[0, 159, 146, 150]),
            ("big.txt", &big),
            ("empty", b""),
        ]))
        .unwrap();
        let got: Vec<(&str, u64, bool)> = files
            .iter()
            .map(|f| (f.kestra_path.as_str(), f.size_bytes, f.text.is_some()))
            .collect();
        assert_eq!(
            got,
            [
                ("/big.txt", big.len() as u64, false),
                ("/bin", 4, false),
                ("/empty", 0, true),
                ("/s/a.py", 9, true),
            ]
        );
        assert_eq!(files[0].sha256, crate::nsfiles::sha256_hex(&big));
    }

    #[test]
    fn unclean_entry_names_make_the_export_unusable() {
        for bad in ["a/../b", "a//b", "./a", "a\\b", "a\nb"] {
            let err = read_export(&zip(&[(bad, b"x")])).unwrap_err();
            assert!(err.contains("not a clean file path"), "{bad}: {err}");
        }
        assert!(read_export(b"not a zip").is_err());
    }
}
