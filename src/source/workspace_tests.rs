//! Tests of the workspace walk on real temporary folders.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use super::read;
use crate::source::{SourceError, SourceFile, SourceSpec, MAX_FILE_BYTES};

const FLOW: &str = "id: f\nnamespace: dev\ntasks:\n  - id: t\n    type: x\n";

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn spec(root: &Path, dir: &str, recursive: bool) -> SourceSpec {
    SourceSpec {
        workspace: root.to_path_buf(),
        git_directory: dir.to_string(),
        include_child_namespaces: recursive,
    }
}

fn paths(files: &[SourceFile]) -> Vec<(&str, Vec<&str>)> {
    files
        .iter()
        .map(|f| {
            (
                f.git_path.as_str(),
                f.subfolders.iter().map(String::as_str).collect(),
            )
        })
        .collect()
}

/// A workspace with a typical layout.
fn workspace() -> tempfile::TempDir {
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path();
    write(root, "_flows/a.yml", FLOW);
    write(root, "_flows/B.YAML", FLOW);
    write(root, "_flows/c.Yml", FLOW);
    write(root, "_flows/README.md", "# not a flow");
    write(root, "_flows/a.yml.bak", FLOW);
    write(root, "_flows/team/d.yaml", FLOW);
    write(root, "_flows/team/crm/e.yml", FLOW);
    write(root, "_flows/dir.yml/f.yml", FLOW);
    write(root, "other/x.yml", FLOW);
    ws
}

#[test]
fn reads_top_level_flow_files_only_by_default() {
    let ws = workspace();
    let files = read(&spec(ws.path(), "_flows", false)).unwrap();
    assert_eq!(
        paths(&files),
        vec![
            ("_flows/B.YAML", vec![]),
            ("_flows/a.yml", vec![]),
            ("_flows/c.Yml", vec![]),
        ]
    );
    assert_eq!(files[1].bytes, FLOW.as_bytes());
}

#[test]
fn walks_subfolders_as_child_namespaces() {
    let ws = workspace();
    let files = read(&spec(ws.path(), "./_flows/", true)).unwrap();
    assert_eq!(
        paths(&files),
        vec![
            ("_flows/B.YAML", vec![]),
            ("_flows/a.yml", vec![]),
            ("_flows/c.Yml", vec![]),
            ("_flows/dir.yml/f.yml", vec!["dir.yml"]),
            ("_flows/team/crm/e.yml", vec!["team", "crm"]),
            ("_flows/team/d.yaml", vec!["team"]),
        ]
    );
}

#[test]
fn the_workspace_itself_as_git_directory() {
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path();
    write(root, "a.yml", FLOW);
    write(root, ".gitlab-ci.yml", "stages: []");
    write(root, ".github/workflows/ci.yml", "on: push");
    write(root, ".git/hooks/x.yml", "x");
    write(root, "sub/b.yml", FLOW);
    for dir in [".", "", "./"] {
        let files = read(&spec(root, dir, true)).unwrap();
        assert_eq!(
            paths(&files),
            vec![("a.yml", vec![]), ("sub/b.yml", vec!["sub"])]
        );
    }
}

#[test]
fn names_with_spaces_and_non_ascii_are_kept() {
    let ws = tempfile::tempdir().unwrap();
    write(ws.path(), "_flows/my flow.yml", FLOW);
    write(ws.path(), "_flows/café/ü.yaml", FLOW);
    write(ws.path(), "_flows/Marketing/m.yml", FLOW);
    let files = read(&spec(ws.path(), "_flows", true)).unwrap();
    assert_eq!(
        paths(&files),
        vec![
            ("_flows/Marketing/m.yml", vec!["Marketing"]),
            ("_flows/café/ü.yaml", vec!["café"]),
            ("_flows/my flow.yml", vec![]),
        ]
    );
    // The flow layer then refuses the folders that are not namespace levels.
    let problems = crate::flow::prepare(&files, "prod").unwrap_err();
    let folders: Vec<&str> = problems.iter().map(|p| p.file.as_str()).collect();
    assert_eq!(folders, vec!["_flows/Marketing", "_flows/café"]);
}

#[test]
fn honours_kestraignore() {
    let ws = workspace();
    let root = ws.path();
    write(
        root,
        "_flows/.kestraignore",
        "# drafts\nc.Yml\ncrm/\n*.YAML\n!d.yaml\n",
    );
    let files = read(&spec(root, "_flows", true)).unwrap();
    assert_eq!(
        paths(&files),
        vec![
            ("_flows/a.yml", vec![]),
            ("_flows/dir.yml/f.yml", vec!["dir.yml"]),
            ("_flows/team/d.yaml", vec!["team"]),
        ]
    );
    write(root, "_flows/.kestraignore", "[z-a].yml\n");
    let err = read(&spec(root, "_flows", true)).unwrap_err().to_string();
    assert!(err.contains("_flows/.kestraignore` line 1"), "{err}");
}

#[test]
fn refuses_paths_leaving_the_workspace() {
    let ws = workspace();
    for dir in ["../_flows", "_flows/../../x", "/etc"] {
        match read(&spec(ws.path(), dir, false)) {
            Err(SourceError::OutsideWorkspace { path, .. }) => assert_eq!(path, dir),
            other => panic!("{dir}: {other:?}"),
        }
    }
}

#[test]
fn missing_or_file_git_directory() {
    let ws = workspace();
    match read(&spec(ws.path(), "flows", false)) {
        Err(SourceError::MissingDirectory { path, .. }) => assert_eq!(path, "flows"),
        other => panic!("{other:?}"),
    }
    let err = read(&spec(ws.path(), "_flows/a.yml", false)).unwrap_err();
    assert!(err.to_string().contains("is a file, not a folder"), "{err}");
    let err = read(&spec(&ws.path().join("nope"), "_flows", false)).unwrap_err();
    assert!(
        err.to_string().contains("cannot open the workspace"),
        "{err}"
    );
}

#[test]
fn symlinks_inside_the_workspace_are_followed() {
    let ws = workspace();
    let root = ws.path();
    write(root, "shared/common.yml", FLOW);
    symlink(
        root.join("shared/common.yml"),
        root.join("_flows/linked.yml"),
    )
    .unwrap();
    symlink(root.join("shared"), root.join("_flows/team/shared")).unwrap();
    symlink("../other", root.join("_flows/rel")).unwrap();
    let files = read(&spec(root, "_flows", true)).unwrap();
    let got = paths(&files);
    assert!(got.contains(&("_flows/linked.yml", vec![])), "{got:?}");
    assert!(got.contains(&("_flows/team/shared/common.yml", vec!["team", "shared"])));
    assert!(got.contains(&("_flows/rel/x.yml", vec!["rel"])));
    let linked = files
        .iter()
        .find(|f| f.git_path == "_flows/linked.yml")
        .unwrap();
    assert_eq!(linked.bytes, FLOW.as_bytes());
    // A git-directory that is itself a link inside the workspace is fine too.
    symlink(root.join("_flows"), root.join("flows-link")).unwrap();
    assert_eq!(read(&spec(root, "flows-link", false)).unwrap().len(), 4);
}

#[test]
fn symlinks_leaving_the_workspace_are_refused() {
    let ws = workspace();
    let root = ws.path();
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "secret.yml", FLOW);
    write(outside.path(), "dir/s.yml", FLOW);

    symlink(
        outside.path().join("secret.yml"),
        root.join("_flows/evil.yml"),
    )
    .unwrap();
    match read(&spec(root, "_flows", false)) {
        Err(SourceError::OutsideWorkspace { path, why }) => {
            assert_eq!(path, "_flows/evil.yml");
            assert!(why.contains("secret.yml"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    // Listed in .kestraignore: not read, so not refused.
    write(root, "_flows/.kestraignore", "evil.yml\n");
    assert_eq!(read(&spec(root, "_flows", false)).unwrap().len(), 3);
    fs::remove_file(root.join("_flows/.kestraignore")).unwrap();
    fs::remove_file(root.join("_flows/evil.yml")).unwrap();

    // A folder link: refused when subfolders are walked, not looked at otherwise.
    symlink(outside.path().join("dir"), root.join("_flows/team/evil")).unwrap();
    match read(&spec(root, "_flows", true)) {
        Err(SourceError::OutsideWorkspace { path, .. }) => assert_eq!(path, "_flows/team/evil"),
        other => panic!("{other:?}"),
    }
    assert_eq!(read(&spec(root, "_flows", false)).unwrap().len(), 3);

    // A link that is not a flow file is never read, so never refused.
    symlink(
        outside.path().join("secret.yml"),
        root.join("_flows/notes.txt"),
    )
    .unwrap();
    assert_eq!(read(&spec(root, "_flows", false)).unwrap().len(), 3);

    // The git-directory itself leading outside.
    symlink(outside.path(), root.join("out")).unwrap();
    match read(&spec(root, "out", false)) {
        Err(SourceError::OutsideWorkspace { path, .. }) => assert_eq!(path, "out"),
        other => panic!("{other:?}"),
    }
    // The ignore file leading outside.
    write(outside.path(), "ignore", "x\n");
    symlink(
        outside.path().join("ignore"),
        root.join("other/.kestraignore"),
    )
    .unwrap();
    match read(&spec(root, "other", false)) {
        Err(SourceError::OutsideWorkspace { path, .. }) => assert_eq!(path, "other/.kestraignore"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn broken_links_and_loops_are_errors_where_flows_are_expected() {
    let ws = workspace();
    let root = ws.path();
    symlink(root.join("nowhere"), root.join("_flows/README.txt")).unwrap();
    assert_eq!(read(&spec(root, "_flows", false)).unwrap().len(), 3);
    symlink(root.join("nowhere.yml"), root.join("_flows/gone.yml")).unwrap();
    let err = read(&spec(root, "_flows", false)).unwrap_err().to_string();
    assert!(
        err.contains("`_flows/gone.yml` is a broken symbolic link"),
        "{err}"
    );
    fs::remove_file(root.join("_flows/gone.yml")).unwrap();

    symlink(root.join("_flows"), root.join("_flows/team/loop")).unwrap();
    let err = read(&spec(root, "_flows", true)).unwrap_err().to_string();
    assert!(
        err.contains("`_flows/team/loop` is a symbolic link to its own parent"),
        "{err}"
    );
}

#[test]
fn refuses_a_file_over_the_size_limit() {
    let ws = workspace();
    let big = "#".repeat(MAX_FILE_BYTES as usize + 1);
    write(ws.path(), "_flows/big.yml", &big);
    let err = read(&spec(ws.path(), "_flows", false))
        .unwrap_err()
        .to_string();
    assert!(err.contains("`_flows/big.yml` has 1048577 bytes"), "{err}");
    assert!(err.contains("1024 KiB limit"), "{err}");
    write(ws.path(), "_flows/big.yml", &big[1..]);
    assert_eq!(read(&spec(ws.path(), "_flows", false)).unwrap().len(), 4);
}

#[test]
fn a_kestraignore_is_bounded_in_size_and_patterns() {
    use super::{MAX_IGNORE_BYTES, MAX_IGNORE_PATTERNS};
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path();
    write(root, "_flows/a.yml", FLOW);
    // at the limit: read, and honoured
    let mut at_limit: String = (1..MAX_IGNORE_PATTERNS)
        .map(|i| format!("*draft{i}*/**/*.y*ml\n"))
        .collect();
    at_limit.push_str("# a comment is not a pattern\n\na.yml\n");
    write(root, "_flows/.kestraignore", &at_limit);
    let start = std::time::Instant::now();
    assert!(read(&spec(root, "_flows", true)).unwrap().is_empty());
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    // one pattern more
    write(root, "_flows/.kestraignore", &format!("{at_limit}b*.yml\n"));
    let err = read(&spec(root, "_flows", true)).unwrap_err().to_string();
    assert!(
        err.contains("`_flows/.kestraignore` has 1001 patterns, more than the 1000"),
        "{err}"
    );
    // tens of thousands of patterns under 1 MiB: refused before any is compiled
    let many: String = (0..40_000).map(|i| format!("*{i}*\n")).collect();
    assert!(many.len() < 1 << 20);
    write(root, "_flows/.kestraignore", &many);
    let err = read(&spec(root, "_flows", false)).unwrap_err().to_string();
    assert!(err.contains("KiB limit for an ignore file"), "{err}");
    // over the size limit with few, long patterns
    let long = format!("{}\n", "*a".repeat(MAX_IGNORE_BYTES as usize / 2 + 1));
    write(root, "_flows/.kestraignore", &long);
    let err = read(&spec(root, "_flows", false)).unwrap_err().to_string();
    assert!(
        err.contains("`_flows/.kestraignore` has") && err.contains("64 KiB limit"),
        "{err}"
    );
}
