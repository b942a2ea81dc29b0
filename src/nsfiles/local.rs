//! Reading the namespace files from a checked-out tree (a workspace, an extracted GitHub
//! tarball, a clone): every file under `--files-directory`, recursively, with the same walk
//! and the same refusals as flow files ([`crate::source::workspace::read_tree`]: nothing
//! outside the workspace, symbolic links only inside it, `.git*` entries skipped, the
//! gitignore-syntax `.kestraignore` at the folder's root honoured, special files refused).
//!
//! On top: each file is at most [`MAX_FILE_BYTES`], all of them at most
//! [`MAX_TOTAL_BYTES`] and [`MAX_FILES`]; every name must be one Kestra can store
//! ([`check_name`]); and no file may land under `/_flows` (the server refuses it: flows
//! live there). Every such problem is an error naming the files, and nothing is written.
//! Empty and binary files are read byte for byte. Empty folders are not namespace files
//! (the export lists files only) and are not synced.

use std::path::Path;

use super::{check_name, FilesSettings, LocalFile, MAX_FILES, MAX_FILE_BYTES, MAX_TOTAL_BYTES};
use crate::source::workspace::{read_tree, Kind};
use crate::source::SourceError;

/// The ignore file at the root of the files directory: never a namespace file itself.
const IGNORE_FILE: &str = ".kestraignore";

/// Every file is a candidate (the size and the names are checked after the walk).
const FILES: Kind = Kind {
    option: "--files-directory",
    noun: "namespace file",
    accept: |_| true,
    max_bytes: MAX_FILE_BYTES,
    too_big_advice: "namespace files hold scripts and configs, not data; list it in `.kestraignore` at the root of the files directory",
};

/// Read the namespace files under `settings.directory` in `workspace`, sorted by path.
pub fn read(workspace: &Path, settings: &FilesSettings) -> Result<Vec<LocalFile>, SourceError> {
    let dir = settings.directory.trim();
    if dir.is_empty() || Path::new(dir).is_absolute() || dir.split(['/', '\\']).any(|s| s == "..") {
        return Err(SourceError::Other(format!(
            "--files-directory `{dir}` must be a folder relative to the workspace, without `..` (default `_files`)"
        )));
    }
    let found = match read_tree(workspace, dir, true, &FILES) {
        Ok(found) => found,
        Err(SourceError::MissingDirectory { path, workspace }) => {
            return Err(SourceError::Other(format!(
                "files-directory `{path}` does not exist in the workspace `{workspace}`: create it, check --files-directory (default `_files`), or turn --namespace-files off"
            )))
        }
        Err(e) => return Err(e),
    };
    let prefix = dir.trim_matches('/').trim_start_matches("./").to_string();
    let mut files = Vec::with_capacity(found.len());
    let mut problems = Vec::new();
    let mut total: u64 = 0;
    for f in found {
        let rel = f
            .git_path
            .strip_prefix(&prefix)
            .map(|r| r.trim_start_matches('/'))
            .unwrap_or(&f.git_path)
            .to_string();
        if rel == IGNORE_FILE {
            continue;
        }
        let kestra_path = format!("{}/{rel}", settings.namespace_directory);
        if let Some(why) = refusal(&rel, &kestra_path) {
            problems.push(format!("`{}`: {why}", f.git_path));
            continue;
        }
        total += f.bytes.len() as u64;
        files.push(LocalFile {
            git_path: f.git_path,
            kestra_path,
            bytes: f.bytes,
        });
    }
    if !problems.is_empty() {
        let n = problems.len();
        problems.truncate(20);
        let more = if n > 20 {
            format!("\n  … and {} more", n - 20)
        } else {
            String::new()
        };
        return Err(SourceError::Other(format!(
            "{n} namespace file(s) cannot be synced; nothing was written:\n  {}{more}",
            problems.join("\n  ")
        )));
    }
    if files.len() > MAX_FILES {
        return Err(SourceError::Other(format!(
            "`{dir}` holds {} namespace files, more than the {MAX_FILES} one run syncs: list what is not needed in `{dir}/{IGNORE_FILE}`",
            files.len()
        )));
    }
    if total > MAX_TOTAL_BYTES {
        return Err(SourceError::Other(format!(
            "the namespace files of `{dir}` weigh {total} bytes, more than the {} MiB one run syncs: list big files in `{dir}/{IGNORE_FILE}`",
            MAX_TOTAL_BYTES >> 20
        )));
    }
    files.sort_by(|a, b| a.kestra_path.cmp(&b.kestra_path));
    Ok(files)
}

/// Why `rel` (relative to the files directory) cannot become `kestra_path`, if it cannot.
fn refusal(rel: &str, kestra_path: &str) -> Option<String> {
    for seg in rel.split('/') {
        if let Err(why) = check_name(seg) {
            return Some(why);
        }
    }
    if kestra_path == "/_flows" || kestra_path.starts_with("/_flows/") {
        return Some(format!(
            "it would be the namespace file `{kestra_path}`, under `_flows`, where Kestra keeps flows (the server refuses it): move flows to --git-directory, or rename the folder"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &str, nsdir: &str) -> FilesSettings {
        FilesSettings {
            directory: dir.into(),
            namespace_directory: nsdir.into(),
        }
    }

    fn write(root: &Path, rel: &str, bytes: &[u8]) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }

    #[test]
    fn reads_every_file_exactly_under_the_namespace_directory() {
        let ws = tempfile::tempdir().unwrap();
        let root = ws.path();
        let binary: Vec<u8> = (0..=255u8).collect();
        write(root, "_files/a.py", b"print(1)\n");
        write(root, "_files/empty.txt", b"");
        write(root, "_files/bin/blob.bin", &binary);
        write(root, "_files/deep/er/x.sql", b"select 1;\n");
        write(root, "_files/.kestraignore", b"*.tmp\n");
        write(root, "_files/junk.tmp", b"x");
        write(root, "_files/.gitkeep", b"");
        write(root, "_flows/f.yml", b"id: f\n");
        let files = read(root, &settings("_files", "/shared")).unwrap();
        let got: Vec<(&str, &str, usize)> = files
            .iter()
            .map(|f| (f.git_path.as_str(), f.kestra_path.as_str(), f.bytes.len()))
            .collect();
        assert_eq!(
            got,
            [
                ("_files/a.py", "/shared/a.py", 9),
                ("_files/bin/blob.bin", "/shared/bin/blob.bin", 256),
                ("_files/deep/er/x.sql", "/shared/deep/er/x.sql", 10),
                ("_files/empty.txt", "/shared/empty.txt", 0),
            ]
        );
        assert_eq!(files[1].bytes, binary);
    }

    #[test]
    fn flows_folder_long_names_and_big_files_are_errors_naming_the_file() {
        let ws = tempfile::tempdir().unwrap();
        let root = ws.path();
        write(root, "_files/_flows/x.yml", b"id: x\n");
        // (a name over 255 bytes cannot even exist on Linux: a control character can)
        write(root, "_files/two\nlines.txt", b"");
        let err = read(root, &settings("_files", "")).unwrap_err().to_string();
        assert!(
            err.contains("2 namespace file(s) cannot be synced"),
            "{err}"
        );
        assert!(
            err.contains("`_files/_flows/x.yml`") && err.contains("_flows"),
            "{err}"
        );
        assert!(err.contains("control character"), "{err}");
        // under another namespace directory `_flows/x.yml` is not the flows folder
        let err = read(root, &settings("_files", "/sub"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("1 namespace file(s) cannot be synced"),
            "{err}"
        );

        let ws = tempfile::tempdir().unwrap();
        let big = vec![0u8; MAX_FILE_BYTES as usize + 1];
        write(ws.path(), "_files/big.bin", &big);
        let err = read(ws.path(), &settings("_files", ""))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("_files/big.bin") && err.contains("limit for a namespace file"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_folder_or_one_outside_the_workspace_is_an_error() {
        let ws = tempfile::tempdir().unwrap();
        let err = read(ws.path(), &settings("_files", ""))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("files-directory `_files` does not exist"),
            "{err}"
        );
        let err = read(ws.path(), &settings("../x", ""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("without `..`"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_link_leaving_the_workspace_is_an_error() {
        let ws = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"s").unwrap();
        std::fs::create_dir_all(ws.path().join("_files")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), ws.path().join("_files/s"))
            .unwrap();
        let err = read(ws.path(), &settings("_files", ""))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("_files/s") && err.contains("outside the workspace"),
            "{err}"
        );
    }
}
