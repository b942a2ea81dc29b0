//! Unit tests of the local flow checks, through [`crate::flow::prepare`].

use crate::flow::{prepare, Problem};
use crate::source::SourceFile;

fn file(path: &str, text: &str) -> SourceFile {
    bytes(path, text.as_bytes().to_vec())
}

fn bytes(path: &str, bytes: Vec<u8>) -> SourceFile {
    let parts: Vec<&str> = path.split('/').collect();
    // `_flows/a/b/f.yml` -> subfolders `a`, `b` (the first part is the git directory).
    let subfolders = parts[1..parts.len() - 1]
        .iter()
        .map(|s| s.to_string())
        .collect();
    SourceFile {
        git_path: path.to_string(),
        subfolders,
        bytes,
    }
}

const GOOD: &str =
    "id: hello\nnamespace: dev\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n";

fn problems(files: &[SourceFile]) -> Vec<Problem> {
    prepare(files, "prod").expect_err("problems expected")
}

/// The single problem of one file.
#[track_caller]
fn one(text: &str) -> Problem {
    let mut p = problems(&[file("_flows/f.yml", text)]);
    assert_eq!(p.len(), 1, "{p:?}");
    p.remove(0)
}

#[test]
fn good_files_become_flows_in_their_folder_namespace() {
    let flows = prepare(
        &[
            file("_flows/a.yml", GOOD),
            file("_flows/marketing/crm/b.yml", &GOOD.replace("hello", "b")),
        ],
        "prod",
    )
    .expect("valid");
    assert_eq!(flows.len(), 2);
    assert_eq!(flows[0].namespace, "prod");
    assert_eq!(flows[0].id, "hello");
    assert_eq!(flows[0].git_path, "_flows/a.yml");
    assert_eq!(
        flows[0].source,
        GOOD.replace("namespace: dev", "namespace: prod")
    );
    assert_eq!(flows[1].namespace, "prod.marketing.crm");
    assert!(flows[1]
        .source
        .contains("\nnamespace: prod.marketing.crm\n"));
}

#[test]
fn same_id_in_different_namespaces_is_fine() {
    let flows = prepare(
        &[file("_flows/a.yml", GOOD), file("_flows/x/a.yml", GOOD)],
        "prod",
    );
    assert_eq!(flows.expect("different namespaces").len(), 2);
}

#[test]
fn blueprint_keys_and_quoted_namespaces_are_accepted() {
    let text = "id: bp\nnamespace:   \"company.team\"  # c\n\ntasks:\n  - id: t\n    type: x\n\nextend:\n  title: A blueprint\n";
    let flows = prepare(&[file("_flows/bp.yml", text)], "prod").expect("valid");
    assert!(flows[0].source.contains("namespace:   \"prod\"  # c\n"));
}

#[test]
fn keeps_a_bom_in_the_source() {
    let mut b = vec![0xEF, 0xBB, 0xBF];
    b.extend_from_slice(GOOD.as_bytes());
    let flows = prepare(&[bytes("_flows/a.yml", b)], "prod").expect("BOM is fine");
    assert!(flows[0]
        .source
        .starts_with("\u{feff}id: hello\nnamespace: prod\n"));
}

#[test]
fn not_utf8_names_the_line_of_the_first_bad_byte() {
    let mut b = b"id: a\ntasks:\n  - id: caf".to_vec();
    b.push(0xE9); // Latin-1 é
    let p = problems(&[bytes("_flows/a.yml", b)]).remove(0);
    assert_eq!(p.line, Some(3));
    assert!(p.message.contains("not valid UTF-8"), "{}", p.message);
}

#[test]
fn structural_problems_have_lines() {
    let p = one("");
    assert!(p.message.contains("empty"), "{}", p.message);
    assert_eq!(one("# only a comment\n---\n").line, None);
    let p = one("id: a\ntasks: [x]\n---\nid: b\ntasks: [y]\n");
    assert_eq!(p.line, Some(3));
    assert!(p.message.contains("more than one YAML document"));
    let p = one("# c\n- id: a\n- id: b\n");
    assert_eq!(p.line, Some(2));
    assert!(p.message.contains("a list, not a mapping"));
    let p = one("id: a\ntasks:\n  - id: t\n  - id: u\n   type: x\n");
    assert_eq!(p.line, Some(5));
    assert!(p.message.starts_with("invalid YAML:"), "{}", p.message);
    let p = one("id: a\ntasks: [x]\nid: b\n");
    assert_eq!(p.line, Some(3));
    assert!(
        p.message
            .contains("duplicate key \"id\", first at line 1, again at line 3"),
        "{}",
        p.message
    );
}

#[test]
fn id_problems() {
    let cases = [
        ("namespace: x\ntasks: [t]\n", None, "no top-level `id`"),
        ("tasks: [t]\nid: 42\n", Some(2), "quote it"),
        ("tasks: [t]\nid: [a]\n", Some(2), "`id` is a list"),
        ("id: my flow\ntasks: [t]\n", Some(1), "not valid"),
        ("id: _flow\ntasks: [t]\n", Some(1), "not valid"),
        (
            "id: kill\ntasks: [t]\n",
            Some(1),
            "reserved since Kestra 1.0",
        ),
        ("id: ''\ntasks: [t]\n", Some(1), "`id` is empty"),
    ];
    for (text, line, needle) in cases {
        let p = one(text);
        assert_eq!(p.line, line, "{text:?}");
        assert!(p.message.contains(needle), "{text:?}: {}", p.message);
    }
    let long = "a".repeat(101);
    let p = one(&format!("id: {long}\ntasks: [t]\n"));
    assert!(p.message.contains("at most 100"), "{}", p.message);
    let ok = format!("id: {}\ntasks: [t]\n", "a".repeat(100));
    assert!(prepare(&[file("_flows/a.yml", &ok)], "prod").is_ok());
    assert!(prepare(
        &[file("_flows/a.yml", "id: Pause.v2_x-1\ntasks: [t]\n")],
        "prod"
    )
    .is_ok());
}

#[test]
fn tasks_problems() {
    let p = one("id: a\n");
    assert_eq!(
        (p.line, p.message.contains("no top-level `tasks`")),
        (None, true)
    );
    let p = one("id: a\n\ntasks: []\n");
    assert_eq!((p.line, p.message.contains("empty list")), (Some(3), true));
    let p = one("id: a\ntasks:\n  id: t\n");
    assert_eq!(
        (p.line, p.message.contains("`tasks` is a mapping")),
        (Some(2), true)
    );
    let p = one("id: a\ntasks:\n");
    assert!(
        p.message.contains("`tasks` is an empty value"),
        "{}",
        p.message
    );
}

#[test]
fn every_problem_of_every_file_is_reported() {
    let all = problems(&[
        file("_flows/a.yml", "id: kill\ntasks: []\n"),
        file("_flows/b.yml", "id: [\n"),
        file("_flows/c.yml", GOOD),
    ]);
    let shown: Vec<String> = all.iter().map(|p| p.to_string()).collect();
    assert_eq!(shown.len(), 3, "{shown:#?}");
    assert!(shown[0].starts_with("_flows/a.yml:1: flow id `kill` is reserved"));
    assert!(shown[1].starts_with("_flows/a.yml:2: `tasks` is an empty list"));
    assert!(
        shown[2].starts_with("_flows/b.yml:2: invalid YAML"),
        "{}",
        shown[2]
    );
}

#[test]
fn bad_folder_names_are_reported_once_per_folder() {
    let all = problems(&[
        file("_flows/Marketing/a.yml", GOOD),
        file("_flows/Marketing/b.yml", &GOOD.replace("hello", "b")),
        file("_flows/team.x/c.yml", GOOD),
        file("_flows/ok/my flows/d.yml", GOOD),
        file("_flows/ok/é/e.yml", GOOD),
    ]);
    let shown: Vec<String> = all.iter().map(|p| p.to_string()).collect();
    assert_eq!(shown.len(), 4, "{shown:#?}");
    assert!(
        shown[0].starts_with("_flows/Marketing: folder `Marketing` cannot be a namespace level")
    );
    assert!(shown[0].contains("e.g. `marketing`"));
    assert!(shown[1].starts_with("_flows/ok/my flows: folder `my flows`"));
    assert!(shown[1].contains("e.g. `my-flows`"));
    assert!(shown[2].starts_with("_flows/ok/é: folder `é`"));
    assert!(
        shown[3].starts_with("_flows/team.x: folder `team.x`"),
        "{}",
        shown[3]
    );
}

#[test]
fn a_namespace_over_150_characters_is_reported() {
    let deep = format!(
        "_flows/{}/f.yml",
        ["a".repeat(49), "b".repeat(49), "c".repeat(49)].join("/")
    );
    let p = problems(&[file(&deep, GOOD)]).remove(0);
    assert!(p.message.contains("1 to 150 characters"), "{}", p.message);
    assert!(p.file.ends_with(&"c".repeat(49)));
}

#[test]
fn duplicates_name_the_other_file() {
    let all = problems(&[
        file("_flows/a.yml", GOOD),
        file("_flows/b.yml", &format!("# copy\n{GOOD}")),
        file("_flows/c.yml", GOOD),
    ]);
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].to_string(), "_flows/b.yml:2: flow `prod.hello` is also defined in `_flows/a.yml:1`: Kestra knows a flow by namespace and id, so one would overwrite the other; rename one `id` or remove one file");
    assert_eq!(all[1].file, "_flows/c.yml");
}

#[test]
fn an_invalid_target_is_one_problem() {
    let p = prepare(&[file("_flows/a.yml", GOOD)], "Prod").expect_err("bad target");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].file, "--target-namespace");
}

#[test]
fn hostile_yaml_gives_problems_not_panics() {
    // Billion laughs: each level multiplies the previous by nine.
    let mut laughs = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (prev, name) in "abcdefghi".chars().zip("bcdefghij".chars()) {
        let refs = vec![format!("*{prev}"); 9].join(",");
        laughs.push_str(&format!("{name}: &{name} [{refs}]\n"));
    }
    laughs.push_str("id: lol\ntasks: [*j]\n");
    let p = one(&laughs);
    assert!(p.message.contains("aliases"), "{}", p.message);

    let deep_flow = format!(
        "id: deep\ntasks: {}{}\n",
        "[".repeat(20_000),
        "]".repeat(20_000)
    );
    let p = one(&deep_flow);
    assert!(p.message.contains("128 levels"), "{}", p.message);

    // Block style: compact nested lists, `- - - ... x`, 20,000 levels on one line.
    let deep_block = format!("id: deep\ntasks:\n{}x\n", "- ".repeat(20_000));
    let p = one(&deep_block);
    assert!(p.message.contains("128 levels"), "{}", p.message);

    let big = vec![b'#'; (crate::source::MAX_FILE_BYTES + 1) as usize];
    let p = problems(&[bytes("_flows/big.yml", big)]).remove(0);
    assert!(p.message.contains("1024 KiB limit"), "{}", p.message);
}

#[test]
fn problem_messages_read_well() {
    let files = [
        file("_flows/UPPER/a.yml", GOOD),
        file("_flows/dup1.yml", GOOD),
        file("_flows/dup2.yml", GOOD),
        file("_flows/empty.yml", ""),
        file("_flows/glued.yml", "id: g\nnamespace:dev\ntasks: [t]\n"),
        file("_flows/list.yml", "- id: a\n"),
        file("_flows/multi.yml", "id: m\ntasks: [t]\n---\nid: n\n"),
        file("_flows/no-tasks.yml", "id: nt\nnamespace: dev\n"),
        file("_flows/number-id.yml", "id: 12\ntasks: [t]\n"),
        file("_flows/reserved.yml", "id: source\ntasks: [t]\n"),
        file(
            "_flows/anchored.yml",
            "id: an\nnamespace: &n dev\ntasks: [t]\n",
        ),
        bytes("_flows/latin1.yml", b"id: caf\xe9\ntasks: [t]\n".to_vec()),
        file("_flows/tab-list.yml", "id: t1\ntasks:\n\t- id: x\n"),
        file(
            "_flows/tab-key.yml",
            "id: t2\ntasks:\n  - id: x\n\ttype: y\n",
        ),
    ];
    let shown: Vec<String> = problems(&files).iter().map(|p| p.to_string()).collect();
    insta::assert_snapshot!(shown.join("\n"));
}
