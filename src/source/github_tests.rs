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
    Special(&'a str, tar::EntryType),
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
            E::Special(p, kind) => {
                let mut h = header(*kind, p, 0);
                h.set_cksum();
                b.append(&h, &[][..]).unwrap();
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
    let n = extract(
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
fn links_are_recreated_as_they_are_with_their_targets() {
    let gz = tarball(&[
        E::File(&format!("{TOP}_flows/a.yml"), b"id: a\n"),
        E::File(&format!("{TOP}shared/s.yml"), b"id: s\n"),
        E::File(&format!("{TOP}other/o.yml"), b"id: o\n"),
        E::Link(&format!("{TOP}_flows/alias.yml"), "a.yml"),
        E::Link(&format!("{TOP}_flows/shared.yml"), "../shared/s.yml"),
        E::Link(&format!("{TOP}_flows/chain.yml"), "../shared/hop.yml"),
        E::Link(&format!("{TOP}shared/hop.yml"), "../other/o.yml"),
        E::Link(&format!("{TOP}_flows/passwd.yml"), "/etc/passwd"),
        E::Link(&format!("{TOP}_flows/up.yml"), "../../../../etc/passwd"),
        E::Link(&format!("{TOP}_flows/dir"), ".."),
    ]);
    let dir = tempfile::tempdir().unwrap();
    extract(&gz, dir.path(), &Filter::new("_flows"), Limits::default()).unwrap();
    let root = dir.path();
    let read = |p: &str| std::fs::read(root.join(p)).unwrap();
    assert_eq!(read("_flows/alias.yml"), b"id: a\n");
    assert_eq!(
        read("_flows/shared.yml"),
        b"id: s\n",
        "target outside the filter is written too"
    );
    assert_eq!(read("_flows/chain.yml"), b"id: o\n", "a chain of links");
    // links leaving the repository are kept as they are, for the workspace reader to refuse
    for (link, target) in [
        ("_flows/passwd.yml", "/etc/passwd"),
        ("_flows/up.yml", "../../../../etc/passwd"),
        ("_flows/dir", ".."),
    ] {
        assert_eq!(
            std::fs::read_link(root.join(link)).unwrap(),
            Path::new(target),
            "{link}"
        );
    }
}

/// What a checkout would refuse, the tarball source refuses, naming the entry: a link
/// leaving the repository, a file over the 1 MiB limit; what git never holds (hard links,
/// devices, FIFOs, an entry given twice) stops the extraction itself. Nothing is planned.
#[cfg(unix)]
#[test]
fn nothing_is_skipped_silently() {
    use crate::source::{github::read_extracted, SourceSpec};
    let spec = |recursive| SourceSpec {
        workspace: std::path::PathBuf::from("/nonexistent"),
        git_directory: "_flows".into(),
        include_child_namespaces: recursive,
    };
    let ok = format!("{TOP}_flows/ok.yml");
    let big = vec![b'#'; MAX_FILE_BYTES as usize + 1];
    // (entries, what the error names, what it says)
    let refused: Vec<(Vec<E<'_>>, &str, &str)> = vec![
        (
            vec![E::Link(
                "acme-flows-0123abc/_flows/passwd.yml",
                "/etc/passwd",
            )],
            "_flows/passwd.yml",
            "outside the workspace",
        ),
        (
            vec![E::Link("acme-flows-0123abc/_flows/up.yml", "../../x.yml")],
            "_flows/up.yml",
            "",
        ),
        (
            vec![E::Link("acme-flows-0123abc/_flows/team", "/etc")],
            "_flows/team",
            "outside the workspace",
        ),
        (
            vec![E::File("acme-flows-0123abc/_flows/big.yml", &big)],
            "_flows/big.yml",
            "1024 KiB limit",
        ),
        (
            vec![E::Hard("acme-flows-0123abc/_flows/hard.yml", "/etc/passwd")],
            "_flows/hard.yml",
            "hard link",
        ),
        (
            vec![E::Hard(
                "acme-flows-0123abc/_flows/h.yml",
                "acme-flows-0123abc/_flows/ok.yml",
            )],
            "_flows/h.yml",
            "hard link",
        ),
        (
            vec![E::Special(
                "acme-flows-0123abc/_flows/dev.yml",
                tar::EntryType::Char,
            )],
            "_flows/dev.yml",
            "special file",
        ),
        (
            vec![E::Special(
                "acme-flows-0123abc/_flows/fifo",
                tar::EntryType::Fifo,
            )],
            "_flows/fifo",
            "special file",
        ),
        (vec![E::File(&ok, b"id: again\n")], "_flows/ok.yml", "twice"),
    ];
    for (entries, name, says) in refused {
        let mut all = vec![E::File(&ok, b"id: ok\n")];
        all.extend(entries);
        let gz = tarball(&all);
        let dir = tempfile::tempdir().unwrap();
        let err = match extract(&gz, dir.path(), &Filter::new("_flows"), Limits::default()) {
            Err(e) => e,
            Ok(_) => read_extracted(dir.path(), &spec(true)).unwrap_err(),
        }
        .to_string();
        assert!(err.contains(&format!("`{name}`")), "{name}: {err}");
        assert!(err.contains(says), "{name}: {err}");
    }
    // What a checkout ignores is ignored alike: a big file that is not a flow, a big flow
    // listed in .kestraignore, a link leaving the repository that is not a flow name.
    let gz = tarball(&[
        E::File(&ok, b"id: ok\n"),
        E::File("acme-flows-0123abc/_flows/.kestraignore", b"big.yml\n"),
        E::File("acme-flows-0123abc/_flows/big.yml", &big),
        E::File("acme-flows-0123abc/_flows/data.csv", &big),
        E::Link("acme-flows-0123abc/_flows/README.md", "/etc/passwd"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    extract(&gz, dir.path(), &Filter::new("_flows"), Limits::default()).unwrap();
    let files = read_extracted(dir.path(), &spec(false)).unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].git_path, "_flows/ok.yml");
    // the big files were never written: sparse, their size only
    let on_disk: u64 = std::fs::metadata(dir.path().join("_flows/big.yml"))
        .map(|m| std::os::unix::fs::MetadataExt::blocks(&m) * 512)
        .unwrap();
    assert!(on_disk < 64 * 1024, "{on_disk} bytes on disk");
}

#[test]
fn caps_stop_bombs() {
    let big = vec![b'a'; 64 * 1024];
    let gz = tarball(&[
        E::File(&format!("{TOP}_flows/big.yml"), &big),
        E::File(&format!("{TOP}_flows/ok.yml"), b"id: ok\n"),
    ]);
    assert!(gz.len() < 2048, "compresses well: {}", gz.len());
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
