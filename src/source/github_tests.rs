//! Extraction of GitHub tarballs, including hostile ones (crafted headers).

use super::*;
use std::io::Write;

/// One archive entry: (type, path, data or link target).
enum E<'a> {
    Global(&'a str),
    Dir(&'a str),
    File(&'a str, &'a [u8]),
    Link(&'a str, &'a str),
    Hard(&'a str, &'a str),
}

/// A header with `path` written raw (no checks), as an attacker would.
fn header(kind: tar::EntryType, path: &str, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    {
        let name = &mut h.as_old_mut().name;
        let bytes = path.as_bytes();
        name[..bytes.len()].copy_from_slice(bytes);
    }
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o644);
    h
}

fn set_link(h: &mut tar::Header, target: &str) {
    let l = &mut h.as_old_mut().linkname;
    l[..target.len()].copy_from_slice(target.as_bytes());
}

fn tarball(entries: &[E<'_>]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    for e in entries {
        match e {
            E::Global(comment) => {
                let data = format!("{} comment={comment}\n", 10 + comment.len() + 1);
                let mut h = header(
                    tar::EntryType::XGlobalHeader,
                    "pax_global_header",
                    data.len() as u64,
                );
                h.set_cksum();
                b.append(&h, data.as_bytes()).unwrap();
            }
            E::Dir(p) => {
                let mut h = header(tar::EntryType::Directory, p, 0);
                h.set_cksum();
                b.append(&h, &[][..]).unwrap();
            }
            E::File(p, data) => {
                let mut h = header(tar::EntryType::Regular, p, data.len() as u64);
                h.set_cksum();
                b.append(&h, *data).unwrap();
            }
            E::Link(p, target) | E::Hard(p, target) => {
                let kind = if matches!(e, E::Link(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                };
                let mut h = header(kind, p, 0);
                set_link(&mut h, target);
                h.set_cksum();
                b.append(&h, &[][..]).unwrap();
            }
        }
    }
    let gz = b.into_inner().unwrap();
    gz.finish().unwrap()
}

fn files_under(root: &Path) -> Vec<String> {
    let mut out: Vec<String> = walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| !e.file_type().is_dir())
        .map(|e| {
            e.path()
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    out.sort();
    out
}

const TOP: &str = "acme-flows-0123abc/";

#[test]
fn keeps_git_directory_and_kestraignore_without_the_top_folder() {
    let gz = tarball(&[
        E::Global("0123abcdef"),
        E::Dir(TOP),
        E::File(&format!("{TOP}README.md"), b"# hi"),
        E::File(&format!("{TOP}.kestraignore"), b"drafts/\n"),
        E::Dir(&format!("{TOP}_flows/")),
        E::File(&format!("{TOP}_flows/a.yml"), b"id: a\n"),
        E::File(&format!("{TOP}_flows/team/b.yaml"), b"id: b\n"),
        E::File(&format!("{TOP}_flows/team/.kestraignore"), b"x.yml\n"),
        E::File(&format!("{TOP}_flowsextra/c.yml"), b"id: c\n"),
        E::File(&format!("{TOP}src/big.bin"), &[0u8; 4096]),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let (n, skipped) = extract(
        &gz,
        dir.path(),
        &Filter::new("./_flows/"),
        Limits::default(),
    )
    .unwrap();
    assert_eq!(
        files_under(dir.path()),
        vec![
            ".kestraignore",
            "_flows/a.yml",
            "_flows/team/.kestraignore",
            "_flows/team/b.yaml"
        ]
    );
    assert_eq!(n, 4);
    assert!(skipped.is_empty(), "{skipped:?}");
    assert_eq!(
        std::fs::read(dir.path().join("_flows/a.yml")).unwrap(),
        b"id: a\n"
    );
}

#[test]
fn a_root_git_directory_keeps_everything() {
    let gz = tarball(&[
        E::File(&format!("{TOP}a.yml"), b"id: a\n"),
        E::File(&format!("{TOP}x/b.yml"), b"id: b\n"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    extract(&gz, dir.path(), &Filter::new("."), Limits::default()).unwrap();
    assert_eq!(files_under(dir.path()), vec!["a.yml", "x/b.yml"]);
}

#[test]
fn paths_climbing_out_or_absolute_stop_the_read() {
    for evil in [
        format!("{TOP}_flows/../../escape.yml"),
        "/etc/cron.d/evil".to_string(),
        "../evil.yml".to_string(),
    ] {
        let outer = tempfile::tempdir().unwrap();
        let dest = outer.path().join("root");
        std::fs::create_dir(&dest).unwrap();
        let gz = tarball(&[
            E::File(&format!("{TOP}_flows/ok.yml"), b"id: ok\n"),
            E::File(&evil, b"pwned"),
        ]);
        let err = extract(&gz, &dest, &Filter::new("."), Limits::default()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("climbs out") || msg.contains("absolute"),
            "{evil}: {msg}"
        );
        assert_eq!(
            files_under(outer.path()),
            vec!["root/_flows/ok.yml"],
            "{evil}"
        );
    }
}

#[cfg(unix)]
#[test]
fn links_are_kept_only_inside_the_tree() {
    let gz = tarball(&[
        E::File(&format!("{TOP}_flows/a.yml"), b"id: a\n"),
        E::File(&format!("{TOP}shared/s.yml"), b"id: s\n"),
        E::Link(&format!("{TOP}_flows/alias.yml"), "a.yml"),
        E::Link(&format!("{TOP}_flows/shared.yml"), "../shared/s.yml"),
        E::Link(&format!("{TOP}_flows/passwd.yml"), "/etc/passwd"),
        E::Link(&format!("{TOP}_flows/up.yml"), "../../../../etc/passwd"),
        E::Link(&format!("{TOP}_flows/dir"), ".."),
        E::Hard(&format!("{TOP}_flows/hard.yml"), "/etc/passwd"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let (_, skipped) = extract(&gz, dir.path(), &Filter::new("_flows"), Limits::default()).unwrap();
    let root = dir.path();
    assert_eq!(
        std::fs::read(root.join("_flows/alias.yml")).unwrap(),
        b"id: a\n"
    );
    assert_eq!(
        std::fs::read(root.join("_flows/shared.yml")).unwrap(),
        b"id: s\n",
        "target outside the filter is written too"
    );
    assert!(std::fs::symlink_metadata(root.join("_flows/passwd.yml")).is_err());
    assert!(std::fs::symlink_metadata(root.join("_flows/up.yml")).is_err());
    assert!(std::fs::symlink_metadata(root.join("_flows/hard.yml")).is_err());
    assert!(
        std::fs::symlink_metadata(root.join("_flows/dir")).is_ok(),
        "`..` from _flows is the root: inside"
    );
    let text = skipped.join("\n");
    assert!(
        text.contains("passwd.yml") && text.contains("up.yml") && text.contains("hard.yml"),
        "{text}"
    );
}

#[test]
fn caps_stop_bombs_and_oversized_files() {
    let big = vec![b'a'; 64 * 1024];
    let gz = tarball(&[
        E::File(&format!("{TOP}_flows/big.yml"), &big),
        E::File(&format!("{TOP}_flows/ok.yml"), b"id: ok\n"),
    ]);
    assert!(gz.len() < 2048, "compresses well: {}", gz.len());
    let dir = tempfile::tempdir().unwrap();
    let small = Limits {
        file: 1024,
        ..Limits::default()
    };
    let (n, skipped) = extract(&gz, dir.path(), &Filter::new("_flows"), small).unwrap();
    assert_eq!(
        (n, files_under(dir.path())),
        (1, vec!["_flows/ok.yml".to_string()])
    );
    assert!(
        skipped[0].contains("big.yml") && skipped[0].contains("larger than 1024"),
        "{skipped:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let bomb = Limits {
        unpacked: 16 * 1024,
        ..Limits::default()
    };
    let err = extract(&gz, dir.path(), &Filter::new("_flows"), bomb).unwrap_err();
    assert!(err.to_string().contains("more than 16384 bytes"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let few = Limits {
        entries: 1,
        ..Limits::default()
    };
    let err = extract(&gz, dir.path(), &Filter::new("_flows"), few).unwrap_err();
    assert!(err.to_string().contains("more than 1 entries"), "{err}");
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    for junk in [
        &b""[..],
        b"not gzip at all",
        &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2],
    ] {
        assert!(
            extract(junk, dir.path(), &Filter::new("_flows"), Limits::default()).is_err()
                || files_under(dir.path()).is_empty()
        );
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&[7u8; 1000]).unwrap();
    let not_tar = gz.finish().unwrap();
    assert!(extract(
        &not_tar,
        dir.path(),
        &Filter::new("_flows"),
        Limits::default()
    )
    .is_err());
}

#[test]
fn filters_and_link_targets() {
    let f = Filter::new("_flows/team");
    let v = |s: &str| s.split('/').map(str::to_string).collect::<Vec<_>>();
    assert!(f.wants(&v("_flows/team/a.yml"), false));
    assert!(f.wants(&v("_flows"), true));
    assert!(!f.wants(&v("_flows/a.yml"), false));
    assert!(f.wants(&v("docs/.kestraignore"), false));
    assert!(
        Filter::new("../x").wants(&v("anything"), false),
        "left to the workspace reader to refuse"
    );
    assert_eq!(link_inside(&v("a/b/l"), Path::new("../c")), Some(v("a/c")));
    assert_eq!(link_inside(&v("a/l"), Path::new("../../c")), None);
    assert_eq!(link_inside(&v("l"), Path::new("/c")), None);
}
