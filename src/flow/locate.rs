//! Where a top-level key and its value sit in a flow file's text, as the parser itself sees
//! them. The namespace rewrite must touch exactly the bytes of one value, and a hand-made
//! line scanner would disagree with libyaml on odd files (libyaml accepts a quoted string or
//! a `{...}` that continues at column 0, which looks like a new top-level key; a plain value
//! may go on over several lines). So we read libyaml's own events ([`super::events`]) and
//! take the key's and the value's positions from them: exact, and cheap, since the walk
//! stops at the wanted value (the namespace is usually on the second or third line).

use super::events::{Event, Events, Kind, ScalarStyle};

/// 1-based line of the first top-level key `key`, or `None` when the document has none.
pub fn key_line(body: &str, key: &str) -> Option<usize> {
    top_level_entry(body, key).map(|e| e.key.line)
}

/// Where a top-level entry of the document's mapping sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key scalar.
    pub key: Event,
    /// The value's first event (a scalar, an alias, or the start of a collection).
    pub value: Event,
}

/// The first top-level entry whose key is the plain or quoted scalar `key`, in the first
/// document, when the document is a mapping. Reads events only up to that value.
pub fn top_level_entry(body: &str, key: &str) -> Option<Entry> {
    let mut events = Events::new(body);
    // stream start, document start, then the root node
    loop {
        let e = events.next_event()?;
        match e.kind {
            Kind::StreamStart | Kind::DocumentStart => continue,
            Kind::MappingStart { .. } => break,
            _ => return None,
        }
    }
    loop {
        // a key, or the end of the mapping
        let k = events.next_event()?;
        let wanted = match &k.kind {
            Kind::MappingEnd => return None,
            Kind::Scalar { value, .. } => value == key.as_bytes(),
            Kind::SequenceStart { .. } | Kind::MappingStart { .. } => {
                skip_rest_of_node(&mut events)?;
                false
            }
            _ => false,
        };
        let v = events.next_event()?;
        if wanted {
            return Some(Entry { key: k, value: v });
        }
        if matches!(
            v.kind,
            Kind::SequenceStart { .. } | Kind::MappingStart { .. }
        ) {
            skip_rest_of_node(&mut events)?;
        }
    }
}

/// Skip events up to the end of the collection whose start was just read.
fn skip_rest_of_node(events: &mut Events<'_>) -> Option<()> {
    let mut depth = 1usize;
    while depth > 0 {
        match events.next_event()?.kind {
            Kind::SequenceStart { .. } | Kind::MappingStart { .. } => depth += 1,
            Kind::SequenceEnd | Kind::MappingEnd => depth -= 1,
            Kind::StreamEnd => return None,
            _ => {}
        }
    }
    Some(())
}

/// Whether `new` reads exactly as `old` but for one scalar, the one starting at byte
/// `value_start` of `old`, which reads as `value` in `new`: libyaml's events of the two
/// texts are the same (kind, value, style, position) up to that scalar, and the two events
/// after it are the same at the same place relative to the unchanged text that follows.
/// From there both parsers read the same bytes in the same state, so the documents are
/// equal but for that value. Reads events only up to there: a few lines for most flows.
///
/// `false` means "not shown this way", not "different": the caller then compares the whole
/// documents (`rewrite::verify`). The fuzz target `rewrite` checks every output against a
/// full re-parse, so a wrong `true` here would be found there.
pub fn only_value_changed(old: &str, new: &str, value_start: usize, value: &str) -> bool {
    /// Events compared after the changed scalar.
    const AFTER: usize = 2;
    let Ok(delta) = isize::try_from(new.len()).map(|n| n - old.len() as isize) else {
        return false;
    };
    let shifted = |i: usize| i.checked_add_signed(delta);
    let (mut a, mut b) = (Events::new(old), Events::new(new));
    let mut after: Option<usize> = None;
    loop {
        let (x, y) = match (a.next_event(), b.next_event()) {
            (Some(x), Some(y)) => (x, y),
            // an error or an early end: not shown
            _ => return false,
        };
        match after {
            None if x.start == value_start && matches!(x.kind, Kind::Scalar { .. }) => {
                let new_is_value = matches!(
                    &y.kind,
                    Kind::Scalar { value: v, decorated: false, style }
                        if v.as_slice() == value.as_bytes() && *style != ScalarStyle::Block
                );
                if !new_is_value {
                    return false;
                }
                after = Some(0);
            }
            None => {
                if x != y {
                    return false;
                }
            }
            Some(n) => {
                let same = x.kind == y.kind
                    && shifted(x.start) == Some(y.start)
                    && shifted(x.end) == Some(y.end);
                if !same {
                    return false;
                }
                if n + 1 == AFTER || x.kind == Kind::StreamEnd {
                    return true;
                }
                after = Some(n + 1);
            }
        }
    }
}

/// Column (in bytes) of `index` on its line, and whether only spaces precede it there.
pub fn column_of(body: &str, index: usize) -> (usize, bool) {
    let before = body.get(..index).unwrap_or(body);
    let line_start = before.rfind('\n').map_or(0, |n| n + 1);
    let prefix = before.get(line_start..).unwrap_or_default();
    (prefix.len(), prefix.bytes().all(|c| c == b' '))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_carry_byte_positions_and_lines() {
        let body = "# é comment\nid: \"a\"\nns: b # c\n";
        let e = top_level_entry(body, "id").unwrap();
        assert_eq!(&body[e.key.start..e.key.end], "id");
        assert_eq!(&body[e.value.start..e.value.end], "\"a\"");
        assert_eq!((e.key.line, e.value.line), (2, 2));
        let e = top_level_entry(body, "ns").unwrap();
        assert_eq!(&body[e.value.start..e.value.end], "b");
        assert_eq!(e.value.line, 3);
        assert_eq!(e.key.start, 21);
        assert_eq!(key_line(body, "ns"), Some(3));
    }

    #[test]
    fn a_plain_value_over_several_lines_ends_where_libyaml_ends_it() {
        let body = "namespace: a\n  b # c\n\n  d\nid: x\n";
        let e = top_level_entry(body, "namespace").unwrap();
        assert_eq!(&body[e.value.start..e.value.end], "a\n  b");
        let body = "description: \"x\nid: y\"\nid: z\n";
        let e = top_level_entry(body, "id").unwrap();
        assert_eq!(e.key.line, 3);
    }

    #[test]
    fn only_top_level_keys_are_found() {
        let body =
            "tasks:\n  - id: x\n    namespace: inner\nlabels: {namespace: l}\nnamespace: top\n";
        let e = top_level_entry(body, "namespace").unwrap();
        assert_eq!(&body[e.value.start..e.value.end], "top");
        assert_eq!(e.key.line, 5);
        assert!(top_level_entry(body, "missing").is_none());
        assert!(top_level_entry("- a\n- b\n", "a").is_none());
        assert!(top_level_entry("just text", "just").is_none());
        assert!(top_level_entry("", "a").is_none());
        assert!(top_level_entry("a: [\nb: c", "b").is_none());
    }

    #[test]
    fn complex_keys_anchors_and_aliases() {
        let body = "? [a, b]\n: 1\n? {c: d}\n: {e: f}\nx: &anchor v\ny: *anchor\n";
        let x = top_level_entry(body, "x").unwrap();
        assert!(matches!(
            x.value.kind,
            Kind::Scalar {
                decorated: true,
                ..
            }
        ));
        assert_eq!(&body[x.value.start..x.value.end], "&anchor v");
        let y = top_level_entry(body, "y").unwrap();
        assert_eq!(y.value.kind, Kind::Alias);
    }

    #[test]
    fn empty_values_are_empty_plain_scalars() {
        let body = "namespace:\nid: x\n";
        let e = top_level_entry(body, "namespace").unwrap();
        match e.value.kind {
            Kind::Scalar { value, style, .. } => {
                assert!(value.is_empty());
                assert_eq!(style, ScalarStyle::Plain);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(e.value.start, e.value.end);
    }

    #[test]
    fn only_value_changed_accepts_a_spliced_value() {
        let old = "# c\nid: x\nnamespace: dev # team\ntasks:\n  - id: t\n";
        let at = old.find("dev").unwrap();
        let new = old.replace("dev", "prod.team");
        assert!(only_value_changed(old, &new, at, "prod.team"));
        // quoted, and a plain value over two lines become one line
        let old = "id: x\nnamespace: 'a'\ntasks: []\n";
        let new = old.replace("'a'", "'prod'");
        assert!(only_value_changed(
            old,
            &new,
            old.find('\'').unwrap(),
            "prod"
        ));
        let old = "id: x\nnamespace: a\n  b\ntasks: []\n";
        let new = "id: x\nnamespace: prod\ntasks: []\n";
        assert!(only_value_changed(
            old,
            new,
            old.find("a\n").unwrap(),
            "prod"
        ));
        // an empty value, and the last entry of the file
        let old = "id: x\nnamespace:\ntasks: []\n";
        let e = top_level_entry(old, "namespace").unwrap();
        let new = "id: x\nnamespace: prod\ntasks: []\n";
        assert!(only_value_changed(old, new, e.value.start, "prod"));
        let old = "id: x\nnamespace: a";
        assert!(only_value_changed(
            old,
            "id: x\nnamespace: prod",
            17,
            "prod"
        ));
    }

    #[test]
    fn only_value_changed_refuses_anything_else() {
        let old = "id: x\nnamespace: dev\ntasks: []\nk: v\n";
        let at = old.find("dev").unwrap();
        // the value is not the wanted one
        assert!(!only_value_changed(
            old,
            &old.replace("dev", "prd"),
            at,
            "prod"
        ));
        // the text after the value reads differently (the next key became a continuation)
        let new = "id: x\nnamespace: prod\n  tasks: []\nk: v\n";
        assert!(!only_value_changed(old, new, at, "prod"));
        // a change before the value
        let new = old.replace("id: x", "id: y").replace("dev", "prod");
        assert!(!only_value_changed(old, &new, at, "prod"));
        // a change right after the value
        let new = old.replace("dev", "prod").replace("tasks", "tasks2");
        assert!(!only_value_changed(old, &new, at, "prod"));
        // not where a scalar starts, or an unparsable result
        assert!(!only_value_changed(
            old,
            &old.replace("dev", "prod"),
            at + 1,
            "prod"
        ));
        assert!(!only_value_changed(
            old,
            "id: x\nnamespace: prod\n\t- [",
            at,
            "prod"
        ));
        // a block scalar is not a plain value
        let new = old.replace("dev", "|\n  prod");
        assert!(!only_value_changed(old, &new, at, "prod"));
    }
}
