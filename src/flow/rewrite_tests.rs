//! Unit tests of the namespace rewrite: only the value changes, every other byte stays.

use super::rewrite_namespace;

/// The parts of `before` and `after` that differ, after cutting their common prefix and
/// common suffix: `(removed, added, prefix_len)`.
fn middle<'a>(before: &'a str, after: &'a str) -> (&'a str, &'a str, usize) {
    let prefix = before
        .bytes()
        .zip(after.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    let max_suffix = before.len().min(after.len()) - prefix;
    let suffix = before
        .bytes()
        .rev()
        .zip(after.bytes().rev())
        .take(max_suffix)
        .take_while(|(a, b)| a == b)
        .count();
    (
        &before[prefix..before.len() - suffix],
        &after[prefix..after.len() - suffix],
        prefix,
    )
}

/// Rewrite `input` to `ns` and check that exactly `old` became `new` at the place where
/// `old` first appears after `anchor` (so the check is about the right occurrence).
#[track_caller]
fn assert_rewrites(input: &str, ns: &str, anchor: &str, old: &str, new: &str) -> String {
    let out = rewrite_namespace(input, ns).unwrap_or_else(|p| panic!("{p:?} for {input:?}"));
    let at = input.find(anchor).expect("anchor in input") + anchor.len();
    let start = at + input[at..].find(old).expect("old value after anchor");
    let expected = format!("{}{}{}", &input[..start], new, &input[start + old.len()..]);
    assert_eq!(out, expected, "input: {input:?}");
    // Independent of the expectation: the text around the change is byte for byte the input.
    let (removed, added, prefix) = middle(input, &out);
    assert!(
        prefix >= start && prefix + removed.len() <= start + old.len() && new.contains(added),
        "{removed:?} -> {added:?} at {prefix}, start {start}"
    );
    out
}

#[test]
fn replaces_a_plain_value_and_nothing_else() {
    assert_rewrites(
        "id: hello\nnamespace: dev\ntasks:\n  - id: t\n    type: x\n",
        "prod.team",
        "namespace:",
        "dev",
        "prod.team",
    );
}

#[test]
fn keeps_a_trailing_comment_and_spacing() {
    let input = "id: a\nnamespace:    dev   # team owning it\ntasks: [1]\n";
    assert_rewrites(input, "prod", "namespace:", "dev", "prod");
}

#[test]
fn keeps_the_quoting_style() {
    assert_rewrites(
        "id: a\nnamespace: \"dev\"\n",
        "prod",
        "namespace:",
        "\"dev\"",
        "\"prod\"",
    );
    assert_rewrites(
        "id: a\nnamespace: 'dev'\n",
        "prod",
        "namespace:",
        "'dev'",
        "'prod'",
    );
    assert_rewrites(
        "id: a\nnamespace: \"d\\\"e\\\\\" # c\n",
        "prod",
        "namespace:",
        "\"d\\\"e\\\\\"",
        "\"prod\"",
    );
    assert_rewrites(
        "id: a\nnamespace: 'it''s'\nx: 1\n",
        "prod",
        "namespace:",
        "'it''s'",
        "'prod'",
    );
    assert_rewrites(
        "id: a\nnamespace: \"\"\n",
        "prod",
        "namespace:",
        "\"\"",
        "\"prod\"",
    );
}

#[test]
fn quotes_a_plain_value_that_yaml_would_read_as_something_else() {
    assert_rewrites(
        "id: a\nnamespace: dev\n",
        "123",
        "namespace:",
        "dev",
        "\"123\"",
    );
    assert_rewrites(
        "id: a\nnamespace: dev\n",
        "1e5",
        "namespace:",
        "dev",
        "\"1e5\"",
    );
    assert_rewrites(
        "id: a\nnamespace: dev\n",
        "yes",
        "namespace:",
        "dev",
        "\"yes\"",
    );
    assert_rewrites(
        "id: a\nnamespace: dev\n",
        "null",
        "namespace:",
        "dev",
        "\"null\"",
    );
    assert_rewrites(
        "id: a\nnamespace: 'dev'\n",
        "true",
        "namespace:",
        "'dev'",
        "'true'",
    );
}

#[test]
fn keeps_crlf_line_endings() {
    let input = "id: a\r\nnamespace: dev # c\r\ntasks:\r\n  - id: t\r\n";
    let out = assert_rewrites(input, "prod", "namespace:", "dev", "prod");
    assert_eq!(out.matches("\r\n").count(), 4);
}

#[test]
fn keeps_a_bom_and_a_leading_document_marker() {
    let input = "\u{feff}---\n# comment\nid: a\nnamespace: dev\n";
    let out = assert_rewrites(input, "prod", "namespace:", "dev", "prod");
    assert!(out.starts_with("\u{feff}---\n# comment\n"));
    let input = "%YAML 1.1\n--- # flow\nid: a\nnamespace: dev\n...\n";
    assert_rewrites(input, "prod", "namespace:", "dev", "prod");
}

#[test]
fn leaves_subflow_namespaces_and_block_scalars_alone() {
    let input = "id: parent\ntasks:\n  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: dev\n    flowId: child\n  - id: play\n    type: x\n    script: |\n      ---\n      namespace: dev\n      ---\nnamespace: dev\n";
    // The top-level key is the last line; the indented ones and the block scalar stay.
    let out = assert_rewrites(input, "prod", "      ---\nnamespace:", "dev", "prod");
    assert_eq!(out.matches("namespace: dev").count(), 2);
}

#[test]
fn ignores_text_that_only_looks_like_a_top_level_key() {
    // libyaml accepts a quoted string whose second line starts at column 0: that
    // `namespace:` is text inside `description`, not a key.
    let input = "id: a\ndescription: \"first line\nnamespace: not-a-key\"\nnamespace: dev\n";
    assert_rewrites(input, "prod", "not-a-key\"\nnamespace:", "dev", "prod");
    let input = "id: a\nlabels: {team: x,\nnamespace: nested}\nnamespace: dev\n";
    assert_rewrites(input, "prod", "nested}\nnamespace:", "dev", "prod");
}

#[test]
fn handles_values_on_the_next_line_and_multi_line_values() {
    assert_rewrites(
        "id: a\nnamespace:\n  dev\ntasks: []\n",
        "prod",
        "namespace:",
        "dev",
        "prod",
    );
    assert_rewrites(
        "id: a\nnamespace: company\n  team # c\ntasks: []\n",
        "prod",
        "namespace:",
        "company\n  team",
        "prod",
    );
    assert_rewrites(
        "id: a\nnamespace: \"company\n  team\"\ntasks: []\n",
        "prod",
        "namespace:",
        "\"company\n  team\"",
        "\"prod\"",
    );
}

#[test]
fn replaces_values_of_other_scalar_types_and_after_a_tab() {
    assert_rewrites("id: a\nnamespace: 12\n", "prod", "namespace:", "12", "prod");
    assert_rewrites(
        "id: a\nnamespace: true\n",
        "prod",
        "namespace:",
        "true",
        "prod",
    );
    assert_rewrites(
        "id: a\nnamespace:\tdev\t# c\n",
        "prod",
        "namespace:",
        "dev",
        "prod",
    );
    assert_rewrites(
        "id: a\nnamespace: a:b#c\n",
        "prod",
        "namespace:",
        "a:b#c",
        "prod",
    );
}

#[test]
fn fills_an_empty_or_null_value() {
    assert_rewrites(
        "id: a\nnamespace:\ntasks: []\n",
        "prod",
        "id: a\n",
        "namespace:",
        "namespace: prod",
    );
    assert_rewrites(
        "id: a\nnamespace: # fill me\n",
        "prod",
        "id: a\n",
        "namespace: ",
        "namespace: prod ",
    );
    assert_rewrites(
        "id: a\nnamespace:",
        "prod",
        "id: a\n",
        "namespace:",
        "namespace: prod",
    );
    assert_rewrites("id: a\nnamespace: ~\n", "prod", "namespace:", "~", "prod");
    assert_rewrites(
        "id: a\nnamespace: null # x\n",
        "prod",
        "namespace:",
        "null",
        "prod",
    );
}

#[test]
fn accepts_quoted_keys_and_an_indented_document() {
    assert_rewrites(
        "id: a\n\"namespace\" : dev\n",
        "prod",
        "namespace\"",
        "dev",
        "prod",
    );
    assert_rewrites(
        "  id: a\n  namespace: dev\n  tasks: []\n",
        "prod",
        "namespace:",
        "dev",
        "prod",
    );
}

#[test]
fn inserts_a_missing_namespace_after_the_id_line() {
    let cases = [
        // (input, target, expected): same indentation and line ending as the `id` line.
        (
            "# c\nid: a # the id\ntasks: []\n",
            "prod",
            "# c\nid: a # the id\nnamespace: prod\ntasks: []\n",
        ),
        (
            "tasks: []\r\nid: 'a'\r\n",
            "prod",
            "tasks: []\r\nid: 'a'\r\nnamespace: prod\r\n",
        ),
        (
            "tasks: []\r\nid: a",
            "prod",
            "tasks: []\r\nid: a\r\nnamespace: prod",
        ),
        (
            "  id: a\n  tasks: []\n",
            "42",
            "  id: a\n  namespace: \"42\"\n  tasks: []\n",
        ),
        (
            "\u{feff}id: a\n",
            "prod",
            "\u{feff}id: a\nnamespace: prod\n",
        ),
    ];
    for (input, target, expected) in cases {
        assert_eq!(
            rewrite_namespace(input, target).unwrap(),
            expected,
            "{input:?}"
        );
    }
}

#[test]
fn refuses_what_it_cannot_rewrite_safely() {
    let cases = [
        ("id: a\nnamespace: &ns dev\nx: *ns\n", "anchor", 2),
        ("x: &ns dev\nid: a\nnamespace: *ns\n", "alias", 3),
        ("id: a\nnamespace: !!str dev\n", "tag", 2),
        ("id: a\nnamespace: |\n  dev\n", "block scalar", 2),
        ("id: a\nnamespace: [dev]\n", "a list", 2),
        ("id: a\nnamespace:\n  team: dev\n", "a mapping", 2),
        ("{id: a, namespace: dev}", "flow-style", 1),
    ];
    for (input, needle, line) in cases {
        let p = rewrite_namespace(input, "prod").expect_err(input);
        assert!(p.message.contains(needle), "{input:?}: {}", p.message);
        assert_eq!(p.line, Some(line), "{input:?}");
    }
    let p = rewrite_namespace("tasks: []\n", "prod").expect_err("no id");
    assert!(p.message.contains("no `id`"), "{}", p.message);
    let p = rewrite_namespace("id: a\n", "Prod").expect_err("bad target");
    assert!(p.message.contains("not a valid namespace"), "{}", p.message);
}

#[test]
fn a_glued_colon_is_text_as_the_parser_says() {
    // `namespace:dev` is one plain scalar, not a key: the parser refuses the mapping.
    let p = rewrite_namespace("id: a\nnamespace:dev\n", "prod").expect_err("not a key");
    assert_eq!(p.line, Some(2));
    assert!(p.message.contains("space is missing"), "{}", p.message);
}

#[test]
fn the_verification_refuses_a_rewrite_that_changed_more() {
    let original = serde_yaml_ng::from_str("id: a\nnamespace: dev\nx: 1\n").unwrap();
    let err = super::verify("id: a\nnamespace: prod\nx: 2\n", &original, "prod", Some(2))
        .expect_err("x changed");
    assert_eq!(err.line, Some(2));
    assert!(err.message.contains("could not set the namespace"));
    super::verify("id: a\nnamespace: prod\nx: 1\n", &original, "prod", None).expect("same");
}

/// Layouts the fuzzer found (`fuzz/fuzz_targets/rewrite.rs`): libyaml reads them this way,
/// and the rewrite must change exactly the value.
#[test]
fn fuzzer_found_layouts_change_only_the_value() {
    // the value on a later line, after a blank line and a comment
    assert_rewrites(
        "namespace:\n\n# labels:\n  some :label\n\nid: x\ntasks:\n  - id: t\n",
        "prod",
        "# labels:\n",
        "some :label",
        "prod",
    );
    // a double-quoted value going on at column 0
    assert_rewrites(
        "id: x\nnamespace: \"a b\nc d\"\ntasks:\n  - id: t\n",
        "prod",
        "namespace: ",
        "\"a b\nc d\"",
        "\"prod\"",
    );
    // no namespace and a last line without line ending: a line ending, then the line
    assert_eq!(
        rewrite_namespace("id: x", "prod").expect("rewrites"),
        "id: x\nnamespace: prod"
    );
    // an indented top-level mapping: the inserted line has the same indentation
    assert_eq!(
        rewrite_namespace("  id: x\n  tasks: []\n", "prod").expect("rewrites"),
        "  id: x\n  namespace: prod\n  tasks: []\n"
    );
}

/// The cheap verification compares libyaml's events, which do not say what type a plain
/// value resolves to: the rendering must never write a namespace that would read as
/// anything but text (in YAML 1.2 as serde_yaml_ng reads it, or 1.1 as Kestra does).
#[test]
fn a_namespace_that_yaml_would_misread_is_quoted_and_reads_back_as_text() {
    for ns in [
        "true", "false", "null", "yes", "no", "on", "off", "y", "n", "inf", "nan", "infinity",
        "123", "0x1f", "0o17", "1e5", "1.5", "0123", "1_000", "prod",
    ] {
        for input in [
            "id: a\nnamespace: dev\ntasks: [x]\n",
            "id: a\nnamespace:\ntasks: [x]\n",
            "id: a\ntasks: [x]\n",
        ] {
            let out = rewrite_namespace(input, ns).unwrap_or_else(|p| panic!("{ns}: {p:?}"));
            let doc: serde_yaml_ng::Mapping = serde_yaml_ng::from_str(&out).expect("parses");
            assert_eq!(
                doc.get("namespace"),
                Some(&serde_yaml_ng::Value::String(ns.into())),
                "{ns:?} in {out:?}"
            );
        }
    }
}

/// The cheap verification (events agree up to the value and re-align after it) must cover
/// real flows, or every plan pays a full re-parse per file: every flow of the shared corpus
/// that has a plain or quoted top-level `namespace` is shown local this way.
#[test]
fn the_cheap_verification_covers_every_real_flow() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let mut checked = 0;
    let mut missed = Vec::new();
    for dir in ["kestra-core/valids", "blueprints"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue; // the corpus is not beside this checkout
        };
        for entry in entries.flatten() {
            let Ok(text) = std::fs::read_to_string(entry.path()) else {
                continue;
            };
            let (_, body) = super::parse::split_bom(&text);
            let Ok(mapping) = super::parse::parse_mapping(body) else {
                continue;
            };
            let Some(current @ serde_yaml_ng::Value::String(_)) = mapping.get("namespace") else {
                continue;
            };
            let Ok((new_body, start)) = super::replace_value(body, current, "prod.sync") else {
                continue;
            };
            checked += 1;
            if !super::locate::only_value_changed(body, &new_body, start, "prod.sync") {
                missed.push(entry.path().display().to_string());
            }
        }
    }
    assert!(missed.is_empty(), "full re-parse needed for: {missed:?}");
    if root.exists() {
        assert!(checked > 500, "only {checked} corpus flows checked");
    }
}
