//! The JSON plan contract: `{"summary": {...}, "flows": [{gitPath, namespace, flowId,
//! syncState, diff, ...}]}`. Fields may be added, never renamed. `apply --format json` gives
//! the same document with one more member, `apply`: the apply report (what was created,
//! updated, deleted, failed, with revisions), or `null` when nothing was written.
//!
//! The data is what Git and the server hold, with two exceptions: every configured secret is
//! scrubbed from every string ([`crate::secrets`]), and characters that hide or reorder text
//! (C1 and bidirectional controls, zero-width characters, …: see
//! [`crate::untrusted`]) are written as `\uXXXX` escapes, which read back as the same
//! string but never act on a terminal or a log that shows the JSON. The flows holding such
//! characters have a `hidden-characters` warning.

use std::io::{self, Write};

use serde::Serialize;

use crate::apply::Report;
use crate::plan::Plan;

/// Pretty JSON of the plan, ending with a newline.
pub fn render(plan: &Plan) -> String {
    finish(plan)
}

/// Pretty JSON of the plan and of what applying it did (`apply: null`: nothing written).
pub fn render_applied(plan: &Plan, report: Option<&Report>) -> String {
    #[derive(Serialize)]
    struct Applied<'a> {
        #[serde(flatten)]
        plan: &'a Plan,
        apply: Option<&'a Report>,
    }
    finish(&Applied {
        plan,
        apply: report,
    })
}

fn finish<T: Serialize>(value: &T) -> String {
    // One pass: each string is scrubbed of secrets (its value, not its JSON text: a secret
    // with `"` or `\\` is escaped in JSON text) and its hidden characters are written as
    // `\uXXXX` while it is serialized. No `serde_json::Value` copy of the plan: the JSON of
    // a 10,000-flow first apply is 13 MB, and a parsed copy of it cost 35 MB of memory.
    let secrets = crate::secrets::registered();
    let mut out = Vec::with_capacity(64 * 1024);
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        Scrubbing {
            pretty: serde_json::ser::PrettyFormatter::new(),
            secrets: &secrets,
            string: None,
        },
    );
    if value.serialize(&mut ser).is_err() {
        return "{}\n".into();
    }
    out.push(b'\n');
    // Only `str` was written, and hidden characters were escaped: valid UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// serde_json's pretty layout, with every string (keys included) collected whole, scrubbed,
/// then written escaped with hidden characters as `\uXXXX`.
struct Scrubbing<'a> {
    pretty: serde_json::ser::PrettyFormatter<'static>,
    secrets: &'a crate::secrets::Secrets,
    /// The string being written, unescaped.
    string: Option<String>,
}

impl serde_json::ser::Formatter for Scrubbing<'_> {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.begin_array(w)
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.end_array(w)
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.pretty.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.end_array_value(w)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.begin_object(w)
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.end_object(w)
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.pretty.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.end_object_value(w)
    }
    fn begin_string<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.string = Some(String::new());
        Ok(())
    }
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        _w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        if let Some(s) = self.string.as_mut() {
            s.push_str(fragment);
        }
        Ok(())
    }
    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        _w: &mut W,
        escape: serde_json::ser::CharEscape,
    ) -> io::Result<()> {
        use serde_json::ser::CharEscape::*;
        let c = match escape {
            Quote => '"',
            ReverseSolidus => '\\',
            Solidus => '/',
            Backspace => '\u{8}',
            FormFeed => '\u{c}',
            LineFeed => '\n',
            CarriageReturn => '\r',
            Tab => '\t',
            AsciiControl(b) => char::from(b),
        };
        if let Some(s) = self.string.as_mut() {
            s.push(c);
        }
        Ok(())
    }
    fn end_string<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        let raw = self.string.take().unwrap_or_default();
        let value = self.secrets.scrub(&raw);
        w.write_all(b"\"")?;
        write_escaped(w, &value)?;
        w.write_all(b"\"")
    }
}

/// `text` as the inside of a JSON string: JSON's own escapes, and every hidden character
/// as `\uXXXX` (surrogate pairs above U+FFFF), which means the same to a JSON reader.
fn write_escaped<W: ?Sized + Write>(w: &mut W, text: &str) -> io::Result<()> {
    use crate::untrusted::is_hidden;
    let mut plain = 0;
    for (i, c) in text.char_indices() {
        let escape: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\t' => Some("\\t"),
            _ => None,
        };
        let hidden = escape.is_none() && (c < ' ' || is_hidden(c));
        if escape.is_none() && !hidden {
            continue;
        }
        w.write_all(&text.as_bytes()[plain..i])?;
        match escape {
            Some(e) => w.write_all(e.as_bytes())?,
            None => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    write!(w, "\\u{:04x}", u)?;
                }
            }
        }
        plain = i + c.len_utf8();
    }
    w.write_all(&text.as_bytes()[plain..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_are_escaped_and_read_back_the_same() {
        let text = "a\u{202e}b\u{85}c\u{200b}d\u{7f}e\u{e0041}f\r\u{1b}\"q\\/\u{8}\u{c}\n\t é";
        let out = finish(&serde_json::json!({ "diff": text, text: 1 }));
        assert!(!out.chars().any(crate::untrusted::is_hidden), "{out}");
        let back: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(back["diff"], text);
        assert_eq!(back[text], 1);
    }

    #[test]
    fn the_layout_is_serde_jsons_pretty_one() {
        let v = serde_json::json!({"a": [1, {"b": null, "c": "x"}], "d": [], "e": {}, "f": 1.5});
        assert_eq!(finish(&v), serde_json::to_string_pretty(&v).unwrap() + "\n");
    }

    #[test]
    fn secrets_are_scrubbed_from_values_and_keys_whatever_their_escapes() {
        let mut secrets = crate::secrets::Secrets::new();
        secrets.add("s3\"cr\\et");
        let v = serde_json::json!({"k": "before s3\"cr\\et after", "s3\"cr\\et": true});
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(
            &mut out,
            Scrubbing {
                pretty: serde_json::ser::PrettyFormatter::new(),
                secrets: &secrets,
                string: None,
            },
        );
        v.serialize(&mut ser).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(!out.contains("cr"), "{out}");
        let back: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(back["k"].as_str().unwrap().starts_with("before "), "{out}");
    }
}
