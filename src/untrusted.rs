//! Untrusted text, made safe to show. Everything a pull request or a server controls (flow
//! text, file names, flow ids, error bodies, validation messages, versions) passes through
//! one of these functions before it reaches any output. They are pure, total (no panics on
//! any input) and small enough to fuzz.
//!
//! Three dangers, one function family each:
//!
//! - **Hidden text** ([`visible`], [`visible_line`], [`visible_diff`], [`hidden_characters`]):
//!   C0/C1 controls other than tab and newline (a lone CR rewinds the terminal line and hides
//!   what came before it; ESC starts colour and cursor sequences and forges GitLab's
//!   `section_start` markers; backspace erases), bidirectional controls (U+202A–U+202E,
//!   U+2066–U+2069, U+200E/U+200F, U+061C: they reorder what a reviewer reads), zero-width and
//!   other invisible characters (U+200B–U+200D, U+2060–U+2064, U+FEFF, Unicode tag
//!   characters, …) and line/paragraph separators. Each is replaced by something one can see:
//!   a control picture for C0 (`␍`, `␛`, `␈`, `␀`, …, `␡` for DEL) and `<U+XXXX>` for the
//!   rest. A CR directly followed by LF is a line ending, not hidden text: it is shown as
//!   the line break it is.
//! - **Markdown that could be hijacked** ([`md_code`], [`md_cell`], [`md_fence`],
//!   [`html_code`]): GitHub turns `@user`, `#123`, bare URLs, links, images and HTML in
//!   rendered *text* into mentions, references, links and markup, and it does so after
//!   Markdown is parsed, so a backslash escape does not help. Only code is inert (GitHub
//!   skips `code` and `pre` elements), so untrusted strings are always placed in a code span
//!   or a fenced block that they cannot close. There is deliberately no "escaped prose"
//!   function: when you add a Markdown output (a failure comment, a blocker list, a
//!   validation message), put every untrusted string through `md_code` (inline), `md_cell`
//!   (inside a table), `md_fence` (several lines) or `html_code` (inside an HTML block such as
//!   `<summary>`).
//! - **Secrets echoed back** by a server: every function here first removes every configured
//!   secret ([`crate::secrets::scrub`]) so that escaping cannot hide a secret's form from the
//!   scrubber.
//!
//! Workflow commands (GitHub's `::cmd::` lines) are handled where the log is written
//! (`crate::out`), because whether a line is read as a command depends on the whole line.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::secrets;

/// How a hidden character is shown, or `None` for a character shown as is. Tab and newline
/// are ordinary; a CR is decided by the caller (it may be half of a CRLF line ending).
fn shown_as(c: char) -> Option<Cow<'static, str>> {
    let code = c as u32;
    match c {
        '\t' | '\n' => None,
        // C0 controls: the Unicode control pictures (U+2400 + code), e.g. `␍`, `␛`, `␀`.
        '\0'..='\x1f' => char::from_u32(0x2400 + code).map(|p| Cow::Owned(p.to_string())),
        '\x7f' => Some(Cow::Borrowed("␡")),
        _ if is_invisible(c) => Some(Cow::Owned(format!("<U+{code:04X}>"))),
        _ => None,
    }
}

/// Characters that are not seen, or that change how the text around them is seen: C1
/// controls, bidirectional controls, zero-width and other default-ignorable characters,
/// line and paragraph separators, Unicode tags. Variation selectors (U+FE00–U+FE0F) are
/// not listed: emoji need them and they hide nothing.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{80}'..='\u{9f}'          // C1 controls (NEL, CSI, …)
        | '\u{ad}'                   // soft hyphen
        | '\u{34f}'                  // combining grapheme joiner
        | '\u{61c}'                  // Arabic letter mark (bidi)
        | '\u{115f}' | '\u{1160}'    // Hangul fillers
        | '\u{17b4}' | '\u{17b5}'
        | '\u{180b}'..='\u{180f}'    // Mongolian selectors and vowel separator
        | '\u{200b}'..='\u{200f}'    // zero-width space/joiners, LRM, RLM
        | '\u{2028}' | '\u{2029}'    // line and paragraph separators
        | '\u{202a}'..='\u{202e}'    // bidi embeddings and overrides
        | '\u{2060}'..='\u{2064}'    // word joiner, invisible operators
        | '\u{2066}'..='\u{206f}'    // bidi isolates, deprecated format characters
        | '\u{3164}' | '\u{ffa0}'    // Hangul fillers
        | '\u{feff}'                 // BOM / zero-width no-break space
        | '\u{fff9}'..='\u{fffb}'    // interlinear annotations
        | '\u{1d173}'..='\u{1d17a}'  // musical formatting
        | '\u{e0000}'..='\u{e007f}' // tags ("ASCII smuggling")
    )
}

/// True when `c` is hidden or a control other than tab/newline (a CR counts).
pub fn is_hidden(c: char) -> bool {
    c == '\r' || shown_as(c).is_some()
}

/// `s` with every hidden character shown visibly ([module docs](self)). Tab and newline
/// stay; CRLF stays a line break (`\n`); a lone CR becomes `␍`. Borrowed when nothing is
/// hidden. Secrets are scrubbed first.
pub fn visible(s: &str) -> Cow<'_, str> {
    let s = secrets::scrub(s);
    if !s.chars().any(is_hidden) {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            if chars.peek() == Some(&'\n') {
                continue; // a CRLF line ending: the LF follows
            }
            out.push('␍');
        } else if let Some(shown) = shown_as(c) {
            out.push_str(&shown);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// As [`visible`], on one line: a line break is shown as `␊` (and a CRLF as `␍␊`), so a
/// name or a message can never start a new line of the log, a table or a command.
pub fn visible_line(s: &str) -> Cow<'_, str> {
    let s = secrets::scrub(s);
    if !s.chars().any(|c| c == '\n' || is_hidden(c)) {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '\n' => out.push('␊'),
            '\r' => out.push('␍'),
            c => match shown_as(c) {
                Some(shown) => out.push_str(&shown),
                None => out.push(c),
            },
        }
    }
    Cow::Owned(out)
}

/// A unified diff made visible line by line: hidden characters as [`visible`], and a lone
/// CR, which YAML (and so Kestra) reads as a line break, also *breaks the shown line*. The
/// diff (`similar`, see `diff::unified_diff`) already counts a lone CR as a line end and
/// starts the next line with its own `+`/`-`/` ` sign, right after the CR: so
/// `+message: hi\r+- id: exfil` is shown as two added lines, `+message: hi␍` and
/// `+- id: exfil`, as the server will read them, never as one harmless-looking line.
pub fn visible_diff(diff: &str) -> String {
    let diff = secrets::scrub(diff);
    let mut out = String::with_capacity(diff.len() + 16);
    for line in diff.split_inclusive('\n') {
        let (body, end) = match line.strip_suffix("\r\n") {
            Some(b) => (b, "\n"),
            None => match line.strip_suffix('\n') {
                Some(b) => (b, "\n"),
                None => (line, ""),
            },
        };
        let mut parts = body.split('\r').peekable();
        while let Some(part) = parts.next() {
            out.push_str(&visible_line(part));
            if parts.peek().is_some() {
                out.push_str("␍\n");
            }
        }
        out.push_str(end);
    }
    out
}

/// The hidden characters of `s`, for a warning: `None` when there are none, else one
/// sentence naming each kind once with its first line (1-based), e.g. `carriage return
/// (U+000D) on line 3, right-to-left override (U+202E) on line 5`. A CRLF line ending is not
/// hidden. At most 8 kinds are named.
pub fn hidden_characters(s: &str) -> Option<String> {
    let mut found: Vec<(char, usize)> = Vec::new();
    let mut more = false;
    let mut line = 1;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\n' {
            line += 1;
            continue;
        }
        if c == '\r' && chars.peek() == Some(&'\n') {
            continue;
        }
        if is_hidden(c) && !found.iter().any(|(f, _)| *f == c) {
            if found.len() == 8 {
                more = true;
                break;
            }
            found.push((c, line));
        }
    }
    if found.is_empty() {
        return None;
    }
    let mut out = String::new();
    for (i, (c, line)) in found.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(
            out,
            "{} (U+{:04X}) on line {line}",
            char_name(*c),
            *c as u32
        );
    }
    if more {
        out.push_str(", and more");
    }
    Some(out)
}

/// A short name for a hidden character.
pub fn char_name(c: char) -> &'static str {
    match c {
        '\0' => "null",
        '\x07' => "bell",
        '\x08' => "backspace",
        '\x0b' => "vertical tab",
        '\x0c' => "form feed",
        '\r' => "carriage return",
        '\x1b' => "escape",
        '\x7f' => "delete",
        '\u{85}' => "next line",
        '\u{9b}' => "control sequence introducer",
        '\u{ad}' => "soft hyphen",
        '\u{200b}' => "zero-width space",
        '\u{200c}' => "zero-width non-joiner",
        '\u{200d}' => "zero-width joiner",
        '\u{200e}' => "left-to-right mark",
        '\u{200f}' => "right-to-left mark",
        '\u{2028}' => "line separator",
        '\u{2029}' => "paragraph separator",
        '\u{202a}' => "left-to-right embedding",
        '\u{202b}' => "right-to-left embedding",
        '\u{202c}' => "pop directional formatting",
        '\u{202d}' => "left-to-right override",
        '\u{202e}' => "right-to-left override",
        '\u{2060}' => "word joiner",
        '\u{2066}' => "left-to-right isolate",
        '\u{2067}' => "right-to-left isolate",
        '\u{2068}' => "first strong isolate",
        '\u{2069}' => "pop directional isolate",
        '\u{feff}' => "byte order mark",
        '\u{e0000}'..='\u{e007f}' => "tag character",
        '\0'..='\x1f' => "control character",
        '\u{80}'..='\u{9f}' => "C1 control character",
        '\u{202a}'..='\u{2069}' | '\u{61c}' => "bidirectional control",
        _ => "invisible character",
    }
}

/// Longest run of `c` in `s`.
pub fn longest_run(s: &str, c: char) -> usize {
    let (mut best, mut cur) = (0, 0);
    for ch in s.chars() {
        if ch == c {
            cur += 1;
            best = best.max(cur);
        } else {
            cur = 0;
        }
    }
    best
}

/// An inline Markdown code span holding `s` on one line ([`visible_line`]), delimited by a
/// backtick run longer than any inside it. Inert on GitHub and GitLab: no emphasis, link,
/// image, HTML, @mention, #reference or autolink renders inside code. Not for table cells
/// (use [`md_cell`]) nor inside HTML blocks (use [`html_code`]).
pub fn md_code(s: &str) -> String {
    let clean = visible_line(s);
    let ticks = "`".repeat(longest_run(&clean, '`') + 1);
    if clean.is_empty() {
        return "` `".into(); // an empty span is not a span
    }
    // A span that starts or ends with a backtick needs a space inside the delimiters, which
    // CommonMark strips again.
    let pad = if clean.starts_with('`') || clean.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{clean}{pad}{ticks}")
}

/// [`md_code`] for a GFM table cell: a `|` would end the cell even inside a code span, so it
/// is escaped (`\|`, which GitHub shows as `|` inside the span).
pub fn md_cell(s: &str) -> String {
    let code = md_code(s);
    if code.contains('|') {
        code.replace('|', "\\|")
    } else {
        code
    }
}

/// A fenced code block holding `s` (made [`visible`], or [`visible_diff`] when `info` is
/// `diff`), with a backtick fence longer than any backtick run inside, so no line of `s`
/// can close it. Starts on a new line and ends with a newline; put a blank line before it
/// when it follows an HTML block.
pub fn md_fence(s: &str, info: &str) -> String {
    let body: Cow<'_, str> = if info == "diff" {
        Cow::Owned(visible_diff(s))
    } else {
        visible(s)
    };
    let fence = "`".repeat(longest_run(&body, '`').max(2) + 1);
    let info: String = info
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let mut out = String::with_capacity(body.len() + 2 * fence.len() + info.len() + 4);
    out.push_str(&fence);
    out.push_str(&info);
    out.push('\n');
    out.push_str(&body);
    if !body.is_empty() && !body.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&fence);
    out.push('\n');
    out
}

/// `s` escaped for HTML text, on one line: `&`, `<`, `>` and `"` as entities, hidden
/// characters shown ([`visible_line`]). Inside an HTML block (a line starting with
/// `<details>`) Markdown is not parsed, so this text stays text; prefer [`html_code`] for
/// anything a PR or a server controls (mentions and links are not made inside code).
pub fn html_text(s: &str) -> String {
    let clean = visible_line(s);
    let mut out = String::with_capacity(clean.len() + 8);
    for c in clean.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// `<code>…</code>` holding [`html_text`]: for untrusted strings inside an HTML block such
/// as `<summary>`. Never inside a Markdown paragraph: there, inline HTML does not stop
/// Markdown, use [`md_code`].
pub fn html_code(s: &str) -> String {
    format!("<code>{}</code>", html_text(s))
}

#[cfg(test)]
#[path = "untrusted_tests.rs"]
mod tests;
