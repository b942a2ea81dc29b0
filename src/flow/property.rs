//! Where a property the server names sits in a flow file: `tasks[0].type` or, as Kestra
//! writes it for a task or an input (`KestraConstraintViolationException.replaceId`),
//! `hello.message` with the task's id in place of every `tasks[i]` segment. Used to put a
//! server validation message on the file and line a reviewer must edit.
//!
//! The document is read from libyaml's events (`flow::events`, the parser that read the
//! file) into a small tree of nodes with their lines, then the path is followed: a key of
//! the current mapping, an index of the current sequence, or, when the segment is neither,
//! the mapping inside the current node whose `id` is the segment (a task or an input, at any
//! depth). What cannot be followed stops the walk at the deepest node found; a path of
//! which nothing can be found has no line. Never panics, and reads at most the file.

use super::events::{Events, Kind};

/// A node of the document, with the line it starts on.
enum Node {
    Scalar(Vec<u8>),
    Seq(Vec<(usize, Node)>),
    /// `(key, key line, value line, value)`.
    Map(Vec<(Vec<u8>, usize, usize, Node)>),
    Other,
}

/// 1-based line of the property `path` (as the server writes it) in `source`, or `None`.
pub fn property_line(source: &str, path: &str) -> Option<usize> {
    let body = source.strip_prefix('\u{feff}').unwrap_or(source);
    let segments = segments(path)?;
    let (_, root) = read_tree(body)?;
    let mut cur = &root;
    let mut line = None;
    for seg in &segments {
        let next = match seg {
            Segment::Index(i) => match cur {
                Node::Seq(items) => items.get(*i).map(|(l, n)| (*l, n)),
                _ => None,
            },
            Segment::Key(k) => key_of(cur, k).or_else(|| {
                // `replaceId` writes the same id for every `tasks[i]` of the path: a node
                // that already is the task stays.
                if id_of(cur) == Some(k.as_bytes()) {
                    return line.map(|l| (l, cur));
                }
                with_id(cur, k.as_bytes())
            }),
        };
        match next {
            Some((l, n)) => {
                line = Some(l);
                cur = n;
            }
            None => break,
        }
    }
    line
}

/// The line of the server message's property in `source`: the message's leading
/// `path: ` (after Kestra's `Validation error: ` prefix), when it has one.
pub fn message_line(source: &str, message: &str) -> Option<usize> {
    let path = message_path(message)?;
    property_line(source, path)
}

/// The property path a server message starts with, if it starts with one.
pub fn message_path(message: &str) -> Option<&str> {
    let m = message
        .trim_start()
        .strip_prefix("Validation error: ")
        .unwrap_or(message.trim_start());
    let (path, _) = m.split_once(": ")?;
    let plain = !path.is_empty()
        && path.len() <= 300
        && !path.starts_with("Invalid Flow")
        && !path.starts_with("Illegal flow source")
        && path
            .chars()
            .all(|c| c.is_alphanumeric() || " ._-[]".contains(c));
    plain.then_some(path)
}

enum Segment {
    Key(String),
    Index(usize),
}

/// `tasks[0].type` -> `tasks`, `0`, `type`; `None` for an empty path or a broken bracket.
fn segments(path: &str) -> Option<Vec<Segment>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            out.push(Segment::Key(name.to_string()));
        }
        while let Some(r) = rest.strip_prefix('[') {
            let (n, after) = r.split_once(']')?;
            out.push(Segment::Index(n.trim().parse().ok()?));
            rest = after;
        }
    }
    (!out.is_empty()).then_some(out)
}

fn key_of<'n>(node: &'n Node, key: &str) -> Option<(usize, &'n Node)> {
    match node {
        Node::Map(entries) => entries
            .iter()
            .find(|(k, ..)| k == key.as_bytes())
            .map(|(_, key_line, _, v)| (*key_line, v)),
        _ => None,
    }
}

fn id_of(node: &Node) -> Option<&[u8]> {
    match key_of(node, "id") {
        Some((_, Node::Scalar(v))) => Some(v),
        _ => None,
    }
}

/// The first mapping below `node` (depth first, in document order) whose `id` is `id`.
fn with_id<'n>(node: &'n Node, id: &[u8]) -> Option<(usize, &'n Node)> {
    let mut stack: Vec<(usize, &Node)> = vec![(0, node)];
    let mut first = true;
    while let Some((line, n)) = stack.pop() {
        if !first && id_of(n) == Some(id) {
            return Some((line, n));
        }
        first = false;
        match n {
            Node::Seq(items) => stack.extend(items.iter().rev().map(|(l, n)| (*l, n))),
            Node::Map(entries) => stack.extend(entries.iter().rev().map(|(_, _, l, v)| (*l, v))),
            _ => {}
        }
    }
    None
}

/// The first document as a tree, with its root's line; `None` when it does not parse.
fn read_tree(body: &str) -> Option<(usize, Node)> {
    enum Open {
        Seq(usize, Vec<(usize, Node)>),
        Map(
            usize,
            Vec<(Vec<u8>, usize, usize, Node)>,
            Option<(Vec<u8>, usize)>,
        ),
    }
    let mut events = Events::new(body);
    let mut stack: Vec<Open> = Vec::new();
    loop {
        let e = events.next_event()?;
        let (line, node) = match e.kind {
            Kind::StreamStart | Kind::DocumentStart => continue,
            Kind::StreamEnd | Kind::DocumentEnd => return None,
            Kind::SequenceStart { .. } => {
                stack.push(Open::Seq(e.line, Vec::new()));
                continue;
            }
            Kind::MappingStart { .. } => {
                stack.push(Open::Map(e.line, Vec::new(), None));
                continue;
            }
            Kind::SequenceEnd => match stack.pop()? {
                Open::Seq(l, items) => (l, Node::Seq(items)),
                Open::Map(..) => return None,
            },
            Kind::MappingEnd => match stack.pop()? {
                Open::Map(l, entries, _) => (l, Node::Map(entries)),
                Open::Seq(..) => return None,
            },
            Kind::Scalar { value, .. } => (e.line, Node::Scalar(value)),
            Kind::Alias => (e.line, Node::Other),
        };
        match stack.last_mut() {
            None => return Some((line, node)),
            Some(Open::Seq(_, items)) => items.push((line, node)),
            Some(Open::Map(_, entries, pending)) => match pending.take() {
                None => {
                    // a key: only scalar keys can be named by a path
                    let key = match node {
                        Node::Scalar(v) => v,
                        _ => Vec::new(),
                    };
                    *pending = Some((key, line));
                }
                Some((key, key_line)) => entries.push((key, key_line, line, node)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOW: &str = "id: f\nnamespace: prod\n\ninputs:\n  - id: wrong one\n    type: STRING\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n  - id: par\n    type: io.kestra.plugin.core.flow.Parallel\n    tasks:\n      - id: inner\n        type: io.kestra.plugin.core.debug.Return\n        invalid: x\n";

    #[test]
    fn indexes_keys_and_ids_lead_to_their_line() {
        assert_eq!(property_line(FLOW, "tasks[0].type"), Some(9));
        assert_eq!(property_line(FLOW, "tasks[1]"), Some(11));
        assert_eq!(property_line(FLOW, "tasks"), Some(7));
        assert_eq!(property_line(FLOW, "hello.message"), Some(10));
        assert_eq!(property_line(FLOW, "inner.inner.invalid"), Some(16));
        assert_eq!(property_line(FLOW, "par.tasks[0].type"), Some(15));
        assert_eq!(property_line(FLOW, "wrong one.id"), Some(5));
        assert_eq!(property_line(FLOW, "id"), Some(1));
    }

    #[test]
    fn what_cannot_be_followed_stops_at_the_deepest_node_found() {
        assert_eq!(property_line(FLOW, "tasks[0].nope"), Some(8));
        assert_eq!(property_line(FLOW, "tasks[9]"), Some(7));
        assert_eq!(property_line(FLOW, "nothing.here"), None);
        assert_eq!(property_line(FLOW, ""), None);
        assert_eq!(property_line(FLOW, "tasks[x]"), None);
        assert_eq!(property_line("a: [", "a"), None);
        assert_eq!(
            property_line("\u{feff}id: x\ntasks: []\n", "tasks"),
            Some(2)
        );
    }

    #[test]
    fn messages_name_their_property_when_they_start_with_one() {
        assert_eq!(
            message_line(FLOW, "tasks[0].type: Invalid type: Log"),
            Some(9)
        );
        assert_eq!(
            message_line(FLOW, "Validation error: hello.message: must not be null"),
            Some(10)
        );
        assert_eq!(
            message_path("Invalid Flow: Duplicate task id with name [a, b]"),
            None
        );
        assert_eq!(message_path("Illegal flow source: bad"), None);
        assert_eq!(message_path("must not be empty"), None);
        assert_eq!(message_path("a <b>: c"), None);
    }
}
