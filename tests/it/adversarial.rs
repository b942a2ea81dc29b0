//! Adversarial inputs: every file of `tests/adversarial/` (YAML bombs, deep nesting, invalid
//! UTF-8, BOMs, CRLF, tabs, duplicate keys, several documents, odd namespaces…) and generated
//! cases (huge and binary files, symlinks out of the workspace, `..` in `git-directory`,
//! odd file and folder names, an upper-case target, an empty folder with `--delete`, a FIFO)
//! each run through `kestra-sync apply` against the emulator. A refused case must exit 1
//! with a message naming the file (or option) and saying what is wrong, never panic, and
//! write nothing; an accepted case must land the flow under the target namespace.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::{emulator, kestra_sync, stderr, stdout, Emulator, Workspace};

/// What a case must do.
#[derive(Debug, Clone)]
enum Expect {
    /// Exit 1, nothing written; the output holds every fragment.
    Refused(Vec<String>),
    /// Exit 0; the server then holds flow `id` in namespace `ns`.
    Accepted { ns: String, id: String },
}

fn refused(fragments: &[&str]) -> Expect {
    Expect::Refused(fragments.iter().map(|s| s.to_string()).collect())
}

fn accepted(ns: &str, id: &str) -> Expect {
    Expect::Accepted {
        ns: ns.into(),
        id: id.into(),
    }
}

/// The corpus: file name -> what it must do (placed as `_flows/<name>`, target `prod`).
fn corpus_table() -> Vec<(&'static str, Expect)> {
    let not_rewritable = "cannot rewrite safely";
    vec![
        (
            "alias-bomb.yml",
            refused(&["alias-bomb.yml", "too many times"]),
        ),
        (
            "block-scalar-dashes-col0.yml",
            refused(&[
                "block-scalar-dashes-col0.yml:5",
                "more than one YAML document",
            ]),
        ),
        ("block-scalar-with-dashes.yml", accepted("prod", "dashes")),
        ("bom.yml", accepted("prod", "withbom")),
        (
            "broken-indent.yml",
            refused(&["broken-indent.yml:5", "invalid YAML"]),
        ),
        (
            "complex-key.yml",
            refused(&["complex-key.yml", "key must be a string"]),
        ),
        (
            "control-chars.yml",
            refused(&["control-chars.yml:1", "control characters"]),
        ),
        ("cr-only.yml", refused(&["cr-only.yml", "tasks"])),
        ("crlf.yml", accepted("prod", "crlf")),
        (
            "deep-nesting.yml",
            refused(&["deep-nesting.yml:3", "nested more than"]),
        ),
        (
            "document-end-marker.yml",
            refused(&["document-end-marker.yml:8", "more than one YAML document"]),
        ),
        (
            "double-bom.yml",
            refused(&["double-bom.yml:1", "two byte order marks"]),
        ),
        (
            "duplicate-keys.yml",
            refused(&["duplicate-keys.yml:3", "duplicate key \"id\""]),
        ),
        (
            "duplicate-namespace-key.yml",
            refused(&[
                "duplicate-namespace-key.yml:3",
                "duplicate key \"namespace\"",
            ]),
        ),
        ("empty.yml", refused(&["empty.yml", "the file is empty"])),
        (
            "flow-style-mapping.yml",
            refused(&["flow-style-mapping.yml:1", "block mapping"]),
        ),
        (
            "id-empty.yml",
            refused(&["id-empty.yml:1", "`id` is empty"]),
        ),
        (
            "id-invalid-chars.yml",
            refused(&["id-invalid-chars.yml:1", "is not valid"]),
        ),
        ("id-list.yml", refused(&["id-list.yml:1", "`id` is a list"])),
        (
            "id-number.yml",
            refused(&["id-number.yml:1", "`id` is a number"]),
        ),
        (
            "id-reserved.yml",
            refused(&["id-reserved.yml:1", "reserved"]),
        ),
        (
            "id-too-long.yml",
            refused(&["id-too-long.yml:1", "at most 100"]),
        ),
        (
            "invalid-utf8.yml",
            refused(&["invalid-utf8.yml:3", "not valid UTF-8"]),
        ),
        (
            "list-document.yml",
            refused(&["list-document.yml:1", "a list, not a mapping"]),
        ),
        (
            "lone-surrogate-escape.yml",
            refused(&["lone-surrogate-escape.yml:3", "invalid YAML"]),
        ),
        ("long-line.yml", accepted("prod", "longline")),
        ("merge-key.yml", accepted("prod", "mergeid")),
        (
            "multi-document.yml",
            refused(&["multi-document.yml:7", "more than one YAML document"]),
        ),
        (
            "namespace-alias.yml",
            refused(&["namespace-alias.yml:3", not_rewritable]),
        ),
        (
            "namespace-anchor.yml",
            refused(&["namespace-anchor.yml:2", not_rewritable]),
        ),
        (
            "namespace-block-scalar.yml",
            refused(&["namespace-block-scalar.yml:2", not_rewritable]),
        ),
        ("namespace-comment-kept.yml", accepted("prod", "nscomment")),
        ("namespace-empty.yml", accepted("prod", "nsempty")),
        ("namespace-in-subflow-only.yml", accepted("prod", "subonly")),
        (
            "namespace-list.yml",
            refused(&["namespace-list.yml:2", not_rewritable]),
        ),
        ("namespace-missing.yml", accepted("prod", "nonamespace")),
        ("namespace-number.yml", accepted("prod", "nsnum")),
        ("namespace-quoted.yml", accepted("prod", "nsquoted")),
        (
            "namespace-tagged.yml",
            refused(&["namespace-tagged.yml:2", not_rewritable]),
        ),
        ("no-id.yml", refused(&["no-id.yml", "no top-level `id`"])),
        (
            "no-tasks.yml",
            refused(&["no-tasks.yml", "no top-level `tasks`"]),
        ),
        (
            "nul-byte.yml",
            refused(&["nul-byte.yml:1", "control characters"]),
        ),
        (
            "null-document.yml",
            refused(&["null-document.yml:1", "not a mapping"]),
        ),
        (
            "only-comment.yml",
            refused(&["only-comment.yml", "the file is empty"]),
        ),
        (
            "only-whitespace.yml",
            refused(&["only-whitespace.yml", "the file is empty"]),
        ),
        (
            "scalar-document.yml",
            refused(&["scalar-document.yml:1", "a string, not a mapping"]),
        ),
        (
            "tabs-indent.yml",
            refused(&["tabs-indent.yml:4", "invalid YAML"]),
        ),
        (
            "tasks-empty.yml",
            refused(&["tasks-empty.yml:3", "empty list"]),
        ),
        (
            "tasks-not-list.yml",
            refused(&["tasks-not-list.yml:3", "not a list"]),
        ),
        (
            "unclosed-flow.yml",
            refused(&["unclosed-flow.yml:4", "invalid YAML"]),
        ),
        (
            "unclosed-quote.yml",
            refused(&["unclosed-quote.yml:7", "invalid YAML"]),
        ),
        (
            "unknown-tag.yml",
            refused(&["unknown-tag.yml:1", "is not valid"]),
        ),
        (
            "utf16-bom.yml",
            refused(&["utf16-bom.yml:1", "not valid UTF-8"]),
        ),
    ]
}

const GOOD: &str = "id: good\nnamespace: company\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";

fn good(id: &str) -> String {
    GOOD.replace("id: good", &format!("id: {id}"))
}

/// Lays out a workspace (the second path is a folder outside it).
type Setup = Box<dyn Fn(&Workspace, &Path)>;

/// A generated case: how to lay out the workspace, extra arguments, the target, the
/// expectation, and whether the server already holds flows in `prod`.
struct Generated {
    name: &'static str,
    setup: Setup,
    args: Vec<&'static str>,
    target: &'static str,
    expect: Expect,
    server_has_flows: bool,
}

fn generated() -> Vec<Generated> {
    let mut v: Vec<Generated> = Vec::new();
    let mut add = |name, setup: Setup, args: Vec<&'static str>, expect| {
        v.push(Generated {
            name,
            setup,
            args,
            target: "prod",
            expect,
            server_has_flows: false,
        })
    };
    add(
        "huge file",
        Box::new(|ws, _| {
            let mut s = good("huge");
            s.push_str("description: ");
            s.push_str(&"x".repeat(2 * 1024 * 1024));
            s.push('\n');
            ws.write("huge.yml", s);
        }),
        vec![],
        refused(&["huge.yml", "KiB"]),
    );
    add(
        "binary file",
        Box::new(|ws, _| {
            let bytes: Vec<u8> = (0..4096u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect();
            ws.write("binary.yml", bytes);
        }),
        vec![],
        refused(&["binary.yml"]),
    );
    add(
        "billion laughs, generated",
        Box::new(|ws, _| {
            let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
            for i in 1..12 {
                s.push_str(&format!(
                    "a{i}: &a{i} [{}]\n",
                    vec![format!("*a{}", i - 1); 10].join(", ")
                ));
            }
            s.push_str("id: laughs\nnamespace: company\ntasks: *a11\n");
            ws.write("laughs.yml", s);
        }),
        vec![],
        refused(&["laughs.yml", "too many times"]),
    );
    add(
        "nesting 100,000 deep",
        Box::new(|ws, _| {
            let s = format!(
                "id: deeper\nnamespace: company\nx: {}{}\n",
                "[".repeat(100_000),
                "]".repeat(100_000)
            );
            ws.write("deeper.yml", s);
        }),
        vec![],
        refused(&["deeper.yml", "nested more than"]),
    );
    add(
        "file symlink out of the workspace",
        Box::new(|ws, outside| {
            std::fs::write(outside.join("secret.yml"), good("outside")).unwrap();
            std::os::unix::fs::symlink(
                outside.join("secret.yml"),
                ws.path().join("_flows/link.yml"),
            )
            .unwrap();
        }),
        vec![],
        refused(&["link.yml", "outside the workspace"]),
    );
    add(
        "folder symlink out of the workspace",
        Box::new(|ws, outside| {
            std::fs::create_dir_all(outside.join("dir")).unwrap();
            std::fs::write(outside.join("dir/f.yml"), good("outsidedir")).unwrap();
            std::os::unix::fs::symlink(outside.join("dir"), ws.path().join("_flows/team")).unwrap();
        }),
        vec!["--include-child-namespaces"],
        refused(&["team", "outside the workspace"]),
    );
    add(
        "git-directory with ..",
        Box::new(|ws, _| {
            ws.write("a.yml", good("a"));
        }),
        vec!["--git-directory", "../elsewhere"],
        refused(&["../elsewhere", "outside the workspace"]),
    );
    add(
        "absolute git-directory",
        Box::new(|ws, _| {
            ws.write("a.yml", good("a"));
        }),
        vec!["--git-directory", "/etc"],
        refused(&["/etc"]),
    );
    add(
        "git-directory is a file",
        Box::new(|ws, _| {
            std::fs::write(ws.path().join("flows.yml"), good("a")).unwrap();
        }),
        vec!["--git-directory", "flows.yml"],
        refused(&["flows.yml"]),
    );
    add(
        "missing git-directory",
        Box::new(|_, _| {}),
        vec!["--git-directory", "nothere"],
        refused(&["nothere", "does not exist"]),
    );
    add(
        "file name with spaces",
        Box::new(|ws, _| {
            ws.write("my flow.yml", good("spaced"));
        }),
        vec![],
        accepted("prod", "spaced"),
    );
    add(
        "non-ASCII file name",
        Box::new(|ws, _| {
            ws.write("flöw-数据.yaml", good("unicode"));
        }),
        vec![],
        accepted("prod", "unicode"),
    );
    add(
        "folder that is not a namespace (upper case)",
        Box::new(|ws, _| {
            ws.write("Team/a.yml", good("a"));
        }),
        vec!["--include-child-namespaces"],
        refused(&["Team"]),
    );
    add(
        "folder that is not a namespace (space)",
        Box::new(|ws, _| {
            ws.write("my team/a.yml", good("a"));
        }),
        vec!["--include-child-namespaces"],
        refused(&["my team"]),
    );
    add(
        "folder that is not a namespace (non-ASCII)",
        Box::new(|ws, _| {
            ws.write("équipe/a.yml", good("a"));
        }),
        vec!["--include-child-namespaces"],
        refused(&["équipe"]),
    );
    add(
        "folders making a namespace over 150 characters",
        Box::new(|ws, _| {
            let deep = vec!["abcdefghij"; 16].join("/");
            ws.write(&format!("{deep}/a.yml"), good("a"));
        }),
        vec!["--include-child-namespaces"],
        refused(&["150"]),
    );
    add(
        "the same flow in two files",
        Box::new(|ws, _| {
            ws.write("one.yml", good("twice"));
            ws.write("two.yml", good("twice"));
        }),
        vec![],
        refused(&["two.yml", "also defined in", "one.yml"]),
    );
    add(
        "a FIFO named like a flow",
        Box::new(|ws, _| {
            ws.write("ok.yml", good("ok"));
            let fifo = ws.path().join("_flows/pipe.yml");
            let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
            // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
            assert_eq!(unsafe { libc_mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
        }),
        vec![],
        // not a regular file: never read (reading would block), never skipped silently
        refused(&["_flows/pipe.yml", "not a regular file", ".kestraignore"]),
    );
    v.push(Generated {
        name: "target namespace in upper case",
        setup: Box::new(|ws, _| {
            ws.write("a.yml", good("a"));
        }),
        args: vec![],
        target: "Prod",
        expect: refused(&["Prod", "is not a valid Kestra namespace"]),
        server_has_flows: false,
    });
    v.push(Generated {
        name: "target namespace with a space",
        setup: Box::new(|ws, _| {
            ws.write("a.yml", good("a"));
        }),
        args: vec![],
        target: "prod team",
        expect: refused(&["prod team", "is not a valid Kestra namespace"]),
        server_has_flows: false,
    });
    v.push(Generated {
        name: "empty folder with --delete",
        setup: Box::new(|_, _| {}),
        args: vec!["--delete", "--include-child-namespaces"],
        target: "prod",
        expect: refused(&[
            "refusing to delete every flow in `prod`",
            "--allow-mass-delete",
        ]),
        server_has_flows: true,
    });
    v.push(Generated {
        name: "only ignored files with --delete",
        setup: Box::new(|ws, _| {
            ws.write("notes.txt", "not a flow");
            ws.write("README.md", "# flows");
        }),
        args: vec!["--delete"],
        target: "prod",
        expect: refused(&["refusing to delete every flow in `prod`"]),
        server_has_flows: true,
    });
    v
}

extern "C" {
    #[link_name = "mkfifo"]
    fn libc_mkfifo(path: *const std::ffi::c_char, mode: u32) -> i32;
}

/// Run one case; `Err` says what went wrong, naming the case.
fn run_case(
    name: &str,
    emu: &Emulator,
    ws: &Workspace,
    target: &str,
    args: &[&str],
    expect: &Expect,
) -> Result<(), String> {
    let writes_before = emu.write_count();
    let out = kestra_sync(emu, ws, target)
        .arg("apply")
        .args(args)
        .timeout(Duration::from_secs(60))
        .output()
        .map_err(|e| format!("{name}: cannot run: {e}"))?;
    let (so, se) = (stdout(&out), stderr(&out));
    let all = format!("{so}\n{se}");
    let shown = || {
        format!(
            "exit {:?}\n--- stdout\n{so}\n--- stderr\n{se}",
            out.status.code()
        )
    };
    if se.contains("panicked") || out.status.code() == Some(101) {
        return Err(format!("{name}: PANIC\n{}", shown()));
    }
    match expect {
        Expect::Refused(fragments) => {
            if out.status.code() != Some(1) {
                return Err(format!("{name}: expected exit 1\n{}", shown()));
            }
            for f in fragments {
                if !all.contains(f.as_str()) {
                    return Err(format!(
                        "{name}: the output does not mention {f:?}\n{}",
                        shown()
                    ));
                }
            }
            if emu.write_count() != writes_before {
                return Err(format!(
                    "{name}: a refused run wrote to the server\n{}",
                    shown()
                ));
            }
        }
        Expect::Accepted { ns, id } => {
            if out.status.code() != Some(0) {
                return Err(format!("{name}: expected exit 0\n{}", shown()));
            }
            if !emu
                .flows("main")
                .iter()
                .any(|f| &f.namespace == ns && &f.id == id)
            {
                return Err(format!(
                    "{name}: flow {ns}.{id} is not on the server\n{}",
                    shown()
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn every_adversarial_input_is_refused_clearly_or_handled() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/adversarial");
    let table = corpus_table();
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/adversarial")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = table.iter().map(|(n, _)| n.to_string()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "every corpus file has an expectation, and only those"
    );

    let emu = emulator();
    let mut failures = Vec::new();
    for (name, expect) in &table {
        let ws = Workspace::new();
        ws.write(name, std::fs::read(dir.join(name)).expect("corpus file"));
        if let Err(e) = run_case(name, &emu, &ws, "prod", &[], expect) {
            failures.push(e);
        }
    }
    let cases = generated();
    for case in &cases {
        let ws = Workspace::new();
        let outside = tempfile::tempdir().expect("tempdir");
        (case.setup)(&ws, outside.path());
        let emu = if case.server_has_flows {
            let e = emulator();
            for id in ["a", "b", "c"] {
                e.seed_flow(
                    "main",
                    &good(id).replace("namespace: company", "namespace: prod"),
                );
            }
            e
        } else {
            emulator()
        };
        if let Err(e) = run_case(case.name, &emu, &ws, case.target, &case.args, &case.expect) {
            failures.push(e);
        }
        if case.server_has_flows && emu.flows("main").len() != 3 {
            failures.push(format!("{}: flows were deleted", case.name));
        }
    }
    eprintln!(
        "{} corpus files and {} generated cases",
        table.len(),
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
