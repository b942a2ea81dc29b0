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

use serde::Serialize;

use crate::apply::Report;
use crate::plan::Plan;

/// Pretty JSON of the plan, ending with a newline.
pub fn render(plan: &Plan) -> String {
    finish(serde_json::to_string_pretty(plan))
}

/// Pretty JSON of the plan and of what applying it did (`apply: null`: nothing written).
pub fn render_applied(plan: &Plan, report: Option<&Report>) -> String {
    #[derive(Serialize)]
    struct Applied<'a> {
        #[serde(flatten)]
        plan: &'a Plan,
        apply: Option<&'a Report>,
    }
    finish(serde_json::to_string_pretty(&Applied {
        plan,
        apply: report,
    }))
}

fn finish(json: serde_json::Result<String>) -> String {
    let json = json.unwrap_or_else(|_| "{}".into());
    // Scrub the strings (not the text: a secret with `"` or `\\` is escaped in JSON text).
    let secrets = crate::secrets::registered();
    let json = match serde_json::from_str::<serde_json::Value>(&json) {
        Ok(mut v) if !secrets.is_empty() => {
            scrub(&mut v, &secrets);
            serde_json::to_string_pretty(&v).unwrap_or(json)
        }
        _ => json,
    };
    let mut s = escape_hidden(&json);
    s.push('\n');
    s
}

fn scrub(v: &mut serde_json::Value, secrets: &crate::secrets::Secrets) {
    use serde_json::Value;
    match v {
        Value::String(s) => {
            if let std::borrow::Cow::Owned(o) = secrets.scrub(s) {
                *s = o;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| scrub(x, secrets)),
        Value::Object(o) => o.values_mut().for_each(|x| scrub(x, secrets)),
        _ => {}
    }
}

/// Hidden characters as `\uXXXX` (surrogate pairs above U+FFFF). JSON's own syntax is
/// ASCII, so every such character is inside a string, where the escape means the same.
fn escape_hidden(json: &str) -> String {
    use crate::untrusted::is_hidden;
    if !json.chars().any(is_hidden) {
        return json.to_string();
    }
    let mut out = String::with_capacity(json.len() + 32);
    for c in json.chars() {
        if is_hidden(c) {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{:04x}", u));
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_are_escaped_and_read_back_the_same() {
        let text = "a\u{202e}b\u{85}c\u{200b}d\u{7f}e\u{e0041}f\r\u{1b}";
        let json = serde_json::to_string_pretty(&serde_json::json!({ "diff": text })).unwrap();
        let out = escape_hidden(&json);
        assert!(!out.chars().any(crate::untrusted::is_hidden), "{out}");
        let back: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(back["diff"], text);
    }
}
