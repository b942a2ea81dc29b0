//! Where a top-level key and its value sit in a flow file's text, as the parser itself sees
//! them. The namespace rewrite must touch exactly the bytes of one value, and a hand-made
//! line scanner would disagree with libyaml on odd files (libyaml accepts a quoted string or
//! a `{...}` that continues at column 0, which looks like a new top-level key). So we ask the
//! parser: a probe deserializer walks the top-level mapping and fails on purpose at the
//! wanted key or value; serde_yaml_ng attaches the position of that event to the error.
//! From a value's start, [`scalar_end`] finds where the scalar text ends.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};

/// Marks our own probe errors, so a real parse error is never taken for a position.
const MARKER: &str = "\u{1}kestra-sync-probe:";

/// A position in the text (without BOM) as libyaml reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Byte offset.
    pub index: usize,
    /// 1-based line.
    pub line: usize,
}

/// What the probed value turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// A string scalar (plain or quoted).
    Str,
    /// `~`, `null`, or nothing at all after the `:`.
    Null,
    /// Anything else: number, boolean, list, mapping, tagged value.
    Other,
}

/// Position of the first top-level key `key`, or `None` when the document has no such key.
pub fn key_position(body: &str, key: &str) -> Option<Position> {
    probe(body, key, false).map(|(p, _)| p)
}

/// Position and kind of the value of the first top-level key `key`. For an empty value
/// (`key:` and nothing) the position is just after the `:`.
pub fn value_position(body: &str, key: &str) -> Option<(Position, ValueKind)> {
    probe(body, key, true)
}

fn probe(body: &str, key: &str, value: bool) -> Option<(Position, ValueKind)> {
    let de = serde_yaml_ng::Deserializer::from_str(body);
    let err = de::Deserializer::deserialize_any(de, Root { key, value }).err()?;
    let text = err.to_string();
    let kind = text.split(MARKER).nth(1)?;
    let kind = if kind.starts_with("str") {
        ValueKind::Str
    } else if kind.starts_with("null") {
        ValueKind::Null
    } else {
        ValueKind::Other
    };
    let location = err.location()?;
    Some((
        Position {
            index: location.index(),
            line: location.line(),
        },
        kind,
    ))
}

/// Visits the top-level mapping, skipping every entry until the wanted key.
struct Root<'k> {
    key: &'k str,
    value: bool,
}

impl<'de> Visitor<'de> for Root<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(hit) = map.next_key_seed(Key {
            key: self.key,
            fire: !self.value,
        })? {
            if hit {
                return map.next_value_seed(Value);
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
}

/// A key: `Ok(true)` when it is the wanted one, or the probe error when `fire`.
struct Key<'k> {
    key: &'k str,
    fire: bool,
}

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        match (v == self.key, self.fire) {
            (true, true) => Err(E::custom(format_args!("{MARKER}key"))),
            (hit, _) => Ok(hit),
        }
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_none<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<bool, A::Error> {
        IgnoredAny.visit_seq(seq).map(|_| false)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<bool, A::Error> {
        IgnoredAny.visit_map(map).map(|_| false)
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<bool, A::Error> {
        IgnoredAny.visit_enum(data).map(|_| false)
    }
}

/// The wanted value: always fails, saying what kind of value it met.
struct Value;

impl<'de> DeserializeSeed<'de> for Value {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Value {
    type Value = ();

    // Every visit we do not override fails with "invalid type ..., expected <this>", which
    // carries the marker: that is the `Other` kind.
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{MARKER}other")
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(E::custom(format_args!("{MARKER}str")))
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(format_args!("{MARKER}null")))
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(format_args!("{MARKER}null")))
    }
}

/// The style a scalar is written in, read from its first character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
}

/// The style of the scalar starting at `start`, or `None` when the node there is not a
/// simple scalar (anchor `&`, alias `*`, tag `!`, block scalar `|`/`>`, flow `[`/`{`,
/// list `- `, complex key `? `).
pub fn scalar_style(body: &str, start: usize) -> Option<Style> {
    let b = body.as_bytes();
    let first = *b.get(start)?;
    let blank_after = matches!(b.get(start + 1), None | Some(b' ' | b'\t' | b'\r' | b'\n'));
    match first {
        b'"' => Some(Style::DoubleQuoted),
        b'\'' => Some(Style::SingleQuoted),
        b'&' | b'*' | b'!' | b'|' | b'>' | b'[' | b'{' | b'#' | b',' | b']' | b'}' => None,
        b' ' | b'\t' | b'\r' | b'\n' => None,
        b'-' | b'?' | b':' if blank_after => None,
        _ => Some(Style::Plain),
    }
}

/// End (exclusive byte offset) of the scalar of `style` starting at `start`, in a block
/// mapping whose keys sit at column `indent`. Mirrors libyaml's scanner: a quoted scalar
/// ends at its closing quote (across lines); a plain scalar ends before ` #`, before a
/// `: `, or at a line break followed by a line indented `indent` or less.
pub fn scalar_end(body: &str, start: usize, style: Style, indent: usize) -> Option<usize> {
    let b = body.as_bytes();
    match style {
        Style::DoubleQuoted => {
            let mut i = start + 1;
            while let Some(&c) = b.get(i) {
                match c {
                    b'\\' => i += 2,
                    b'"' => return Some(i + 1),
                    _ => i += 1,
                }
            }
            None
        }
        Style::SingleQuoted => {
            let mut i = start + 1;
            while let Some(&c) = b.get(i) {
                if c == b'\'' {
                    if b.get(i + 1) == Some(&b'\'') {
                        i += 2;
                        continue;
                    }
                    return Some(i + 1);
                }
                i += 1;
            }
            None
        }
        Style::Plain => Some(plain_end(b, start, indent)),
    }
}

fn is_blank_or_break(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn plain_end(b: &[u8], start: usize, indent: usize) -> usize {
    let mut i = start;
    let mut end = start;
    loop {
        // One run of non-blank characters; `:` followed by a blank ends the scalar.
        let run_start = i;
        while let Some(&c) = b.get(i) {
            if is_blank_or_break(c) {
                break;
            }
            if c == b':' && b.get(i + 1).is_none_or(|&n| is_blank_or_break(n)) {
                return if i == run_start { end } else { i };
            }
            i += 1;
        }
        end = i;
        // Blanks and line breaks; the scalar goes on only on a line indented past `indent`.
        let mut column = 0;
        let mut broke = false;
        while let Some(&c) = b.get(i) {
            match c {
                b' ' | b'\t' => column += 1,
                b'\r' | b'\n' => {
                    broke = true;
                    column = 0;
                }
                _ => break,
            }
            i += 1;
        }
        match b.get(i) {
            None | Some(b'#') => return end,
            Some(_) if broke && column <= indent => return end,
            Some(_) => {}
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
