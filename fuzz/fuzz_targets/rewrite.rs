//! The namespace rewrite keeps every byte outside the namespace value: the output differs
//! from the input in one span only, which lies on the line(s) of the top-level `namespace`
//! value (or is one inserted `namespace:` line when the input had none); and the output
//! parses to the input's document with only `namespace` changed, to the target.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_yaml_ng::{Mapping, Value};

const TARGETS: [&str; 4] = ["prod", "prod.team-a_b", "a", "x.y.z.0-9"];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(source) = std::str::from_utf8(rest) else {
        return;
    };
    let target = TARGETS[usize::from(pick) % TARGETS.len()];
    let Ok(out) = kestra_sync::flow::rewrite::rewrite_namespace(source, target) else {
        return;
    };
    // One changed span: [prefix, len - suffix) in each.
    let prefix = source
        .bytes()
        .zip(out.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    let max_suffix = source.len().min(out.len()) - prefix;
    let suffix = source
        .bytes()
        .rev()
        .zip(out.bytes().rev())
        .take(max_suffix)
        .take_while(|(a, b)| a == b)
        .count();
    let removed = &source.as_bytes()[prefix..source.len() - suffix];
    let added = &out.as_bytes()[prefix..out.len() - suffix];

    let body = |s: &str| s.strip_prefix('\u{feff}').unwrap_or(s).to_string();
    let before: Mapping =
        serde_yaml_ng::from_str(&body(source)).expect("input parsed for the rewrite");
    let after: Mapping = serde_yaml_ng::from_str(&body(&out)).expect("the output parses");
    // The document is the same but for `namespace`, which is the target.
    assert_eq!(after.get("namespace"), Some(&Value::String(target.into())));
    let mut expected = before.clone();
    expected.insert(
        Value::String("namespace".into()),
        Value::String(target.into()),
    );
    let strip = |m: &Mapping| {
        let mut m = m.clone();
        m.remove("namespace");
        m
    };
    assert_eq!(
        strip(&after),
        strip(&expected),
        "only `namespace` may change"
    );

    // The changed span follows the `namespace` key with no new top-level line between, and
    // removes no comment and no following line that is not a continuation of the value.
    let continues = |text: &str| {
        text.split('\n')
            .skip(1)
            .all(|l| l.is_empty() || l.starts_with([' ', '\t', '\r']))
    };
    if before.get("namespace").is_some() {
        let k = source[..prefix]
            .rfind("namespace")
            .expect("the change follows the namespace key");
        // (unchanged text between the key and the change may hold blank and comment lines:
        // the value may start lines below its key)
        let between_ok = source[k..prefix]
            .split('\n')
            .skip(1)
            .all(|l| l.is_empty() || l.starts_with([' ', '\t', '\r', '#']));
        assert!(
            between_ok,
            "the change is off the namespace value: {:?}",
            &source[k..prefix]
        );
        let removed = String::from_utf8_lossy(removed);
        let old = format!("{:?}", before.get("namespace"));
        assert!(
            !removed.contains(" #") || old.contains('#'),
            "a comment was removed: {removed:?}"
        );
        // a quoted value may go on at column 0 (libyaml accepts it): then only the parse
        // equality above bounds the span
        // (the value's first character: after the colon, blanks and comment lines)
        let after_colon = source[k..].split_once(':').map_or("", |(_, v)| v);
        let written = after_colon
            .split_inclusive('\n')
            .map(str::trim_start)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or("");
        let quoted = written.starts_with(['"', '\'']);
        assert!(
            quoted || continues(&removed),
            "more than the value was removed: {removed:?}"
        );
    } else {
        // an insertion: the output is the input with one whole `namespace: <target>` line
        // added at a line start (the common prefix may end inside it: look for the line)
        assert!(
            removed.is_empty(),
            "bytes removed by an insertion: {removed:?}"
        );
        let _ = added;
        let line = format!("namespace: {target}");
        // (with the indentation of the mapping's keys)
        let inserted_once = out.match_indices(&line).any(|(at, _)| {
            let line_start = out[..at].rfind('\n').map_or(0, |i| i + 1);
            let indented = out[line_start..at].bytes().all(|b| b == b' ');
            let rest = &out[at + line.len()..];
            let eol = if rest.starts_with("\r\n") {
                2
            } else if rest.starts_with('\n') {
                1
            } else {
                0
            };
            let without = |end: usize| format!("{}{}", &out[..line_start], &out[end..]);
            indented
                && ((eol > 0 && without(at + line.len() + eol) == source)
                    // after a last line without a line ending: a line ending, then the line
                    || (eol == 0
                        && rest.is_empty()
                        && [format!("{source}\n"), format!("{source}\r\n")]
                            .contains(&out[..line_start].to_string())))
        });
        assert!(inserted_once, "not one inserted line: {out:?}");
    }
});
