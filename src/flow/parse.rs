//! Turning the bytes of one flow file into a YAML mapping, or into one problem a person can
//! act on. The parser is serde_yaml_ng (libyaml): it refuses more than 128 levels of nesting
//! and bounds alias expansion (a "billion laughs" file fails fast instead of eating memory),
//! so no input can make this step panic or blow up. Its messages are reworded here: the
//! line goes into the [`Problem`](super::Problem), the message says what to do.

use serde_yaml_ng::{Mapping, Value};

/// The UTF-8 byte order mark, which the parser does not accept but editors write.
const BOM: &str = "\u{feff}";

/// A problem found while reading one file: message plus 1-based line when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    pub line: Option<usize>,
    pub message: String,
}

impl FileProblem {
    pub fn new(line: Option<usize>, message: impl Into<String>) -> Self {
        FileProblem {
            line,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FileProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for FileProblem {}

/// The text of a flow file, or the problem that it is not UTF-8 (with the line of the
/// first bad byte).
pub fn decode(bytes: &[u8]) -> Result<&str, FileProblem> {
    std::str::from_utf8(bytes).map_err(|e| {
        let good = bytes.get(..e.valid_up_to()).unwrap_or_default();
        let line = line_of(good, good.len());
        FileProblem::new(
            Some(line),
            format!(
                "the file is not valid UTF-8 (first bad byte at line {line}, byte {}): save it as UTF-8",
                e.valid_up_to()
            ),
        )
    })
}

/// Split off a leading byte order mark: `(bom, rest)`, `bom` empty when there is none.
pub fn split_bom(text: &str) -> (&str, &str) {
    match text.strip_prefix(BOM) {
        Some(rest) => (BOM, rest),
        None => ("", text),
    }
}

/// 1-based line of byte offset `at` in `bytes` (offsets past the end count as the end).
fn line_of(bytes: &[u8], at: usize) -> usize {
    let end = at.min(bytes.len());
    bytes
        .get(..end)
        .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
        + 1
}

/// Parse `body` (text without BOM) as one YAML document holding a mapping.
pub fn parse_mapping(body: &str) -> Result<Mapping, FileProblem> {
    if body.starts_with(BOM) {
        // libyaml would read a second BOM as the start of a second document
        return Err(FileProblem::new(
            Some(1),
            "the file starts with two byte order marks (BOM): save it as UTF-8 with at most one (most editors: \"UTF-8\", not \"UTF-8 with BOM\")",
        ));
    }
    if let Some(line) = too_deep(body) {
        return Err(FileProblem::new(Some(line), DEEP));
    }
    let value: Value = serde_yaml_ng::from_str(body).map_err(|e| explain(body, &e))?;
    match value {
        Value::Mapping(mapping) => Ok(mapping),
        Value::Null if first_content_line(body).is_none() => Err(FileProblem::new(
            None,
            "the file is empty: a flow file holds one flow, a YAML mapping with `id`, `namespace` and `tasks`",
        )),
        other => {
            let hint = match &other {
                Value::String(s) if looks_like_missing_space(s) => {
                    " (a `key:value` without a space after `:` is plain text, not a key: write `key: value`)"
                }
                _ => "",
            };
            Err(FileProblem::new(
                first_content_line(body),
                format!(
                    "the file holds {}, not a mapping{hint}: a flow file is a YAML mapping with `id`, `namespace` and `tasks`",
                    describe(&other)
                ),
            ))
        }
    }
}

const DEEP: &str =
    "the YAML is nested more than 128 levels deep: no flow needs that, check the file";

/// Deepest `[`/`{` nesting let through to the parser. The parser refuses more than 128
/// levels anyway, but only after scanning the whole file, and libyaml's scanner slows down
/// with the number of open brackets: a 1 MiB file of `[[[[...` would take hours.
const MAX_BRACKET_DEPTH: usize = 256;

/// The line where the brackets of `body` open deeper than [`MAX_BRACKET_DEPTH`], counted
/// naively (brackets in strings and comments count too, so the bound is generous).
fn too_deep(body: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut line = 1;
    for c in body.bytes() {
        match c {
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_BRACKET_DEPTH {
                    return Some(line);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'\n' => line += 1,
            _ => {}
        }
    }
    None
}

/// What a value is, in words, for messages.
pub(crate) fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "an empty value (null)",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value (`!tag`)",
    }
}

fn looks_like_missing_space(s: &str) -> bool {
    s.lines().any(|line| {
        let line = line.trim_start();
        match line.split_once(':') {
            Some((key, rest)) => {
                !key.is_empty()
                    && key
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                    && rest.starts_with(|c: char| !c.is_whitespace())
            }
            None => false,
        }
    })
}

/// Reword a parser error into a problem with a line.
fn explain(body: &str, e: &serde_yaml_ng::Error) -> FileProblem {
    let text = e.to_string();
    let location = e.location();
    let line = location.as_ref().map(|l| l.line());
    if text.contains("more than one document") {
        let second = second_document_line(body);
        let at = second
            .map(|l| format!(" (the second starts at line {l})"))
            .unwrap_or_default();
        return FileProblem::new(
            second,
            format!("the file holds more than one YAML document{at}: put one flow per file, and no `---` line after the flow"),
        );
    }
    if text.contains("recursion limit exceeded") {
        return FileProblem::new(line, DEEP);
    }
    if text.contains("repetition limit exceeded") {
        return FileProblem::new(
            line,
            "the YAML expands anchors and aliases (`&a` / `*a`) too many times: refusing to expand it; write the values out or use fewer aliases",
        );
    }
    let mut message = text.clone();
    if let Some(l) = &location {
        let at = format!(" at line {} column {}", l.line(), l.column());
        if let Some(pos) = message.find(&at) {
            message.replace_range(pos..pos + at.len(), &format!(" (column {})", l.column()));
        }
    }
    if let Some((path, rest)) = message.split_once("duplicate entry with key ") {
        let key = rest.split(" (column").next().unwrap_or(rest).trim();
        let (first, again) = duplicate_lines(body, line, key);
        let again_at = again
            .map(|l| format!(", again at line {l}"))
            .unwrap_or_default();
        let place = path.trim_end_matches([' ', ':']);
        let place = if place.is_empty() {
            String::new()
        } else {
            format!(" (in `{place}`)")
        };
        return FileProblem::new(
            again.or(line),
            format!(
                "duplicate key {key}{place}, first at line {}{again_at}: a key may appear once per mapping; remove or rename one",
                first.or(line).unwrap_or(1)
            ),
        );
    }
    if message.contains("duplicate entry") {
        return FileProblem::new(
            line,
            format!("{message}: a key may appear once per mapping; remove or rename one"),
        );
    }
    if let Some(tabbed) = line.and_then(|l| tab_indented_line(body, l)) {
        return FileProblem::new(
            Some(tabbed),
            "invalid YAML: this line is indented with a tab, and YAML forbids tabs in indentation; indent it with spaces (editors can convert tabs to spaces)",
        );
    }
    match line.and_then(|l| glued_key_line(body, l)) {
        Some((glued, text)) => FileProblem::new(
            Some(glued),
            format!("invalid YAML: line {glued} reads `{text}`: a space is missing after the `:` (write `key: value`); the parser says: {message}"),
        ),
        None => FileProblem::new(line, format!("invalid YAML: {message}")),
    }
}

/// Line `line` or the one before it, when a tab is among its leading whitespace.
fn tab_indented_line(body: &str, line: usize) -> Option<usize> {
    let lines: Vec<&str> = body.lines().collect();
    [line, line.saturating_sub(1)]
        .into_iter()
        .filter(|&l| l >= 1)
        .find(|&l| {
            lines.get(l - 1).is_some_and(|text| {
                text.chars()
                    .take_while(|c| c.is_whitespace())
                    .any(|c| c == '\t')
            })
        })
}

/// Line `line` or the one before it, when it starts with `word:` glued to a value.
fn glued_key_line(body: &str, line: usize) -> Option<(usize, &str)> {
    let lines: Vec<&str> = body.lines().collect();
    [line.saturating_sub(1), line]
        .into_iter()
        .filter(|&l| l >= 1)
        .find_map(|l| {
            let text = lines.get(l - 1)?.trim();
            (looks_like_missing_space(text) && !text.starts_with('#')).then_some((l, text))
        })
}

/// For a duplicate-key error reported at the mapping starting on `map_line`, find the lines
/// of the first and second occurrence of `key` (quoted as in the error, e.g. `"a"`) among the
/// entries of that mapping (same column, before the mapping ends). Best effort: `None`s when
/// the layout is unusual.
fn duplicate_lines(
    body: &str,
    map_line: Option<usize>,
    key: &str,
) -> (Option<usize>, Option<usize>) {
    let Some(start) = map_line else {
        return (None, None);
    };
    let bare = key.trim_matches('"');
    let lines: Vec<&str> = body.lines().collect();
    let Some(first_line) = lines.get(start.saturating_sub(1)) else {
        return (None, None);
    };
    // Column of the mapping: after indentation and any `- ` of a list item.
    let column = entry_column(first_line);
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate().skip(start.saturating_sub(1)) {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        let first = i + 1 == start;
        if !first && indent < column {
            break; // less indented: the mapping has ended
        }
        if !first && (indent > column || trimmed.starts_with("- ") || trimmed == "-") {
            continue; // nested content, or a list that is the value of an entry
        }
        let entry = line.get(column..).unwrap_or_default();
        let entry_key = entry
            .split_once(':')
            .map(|(k, _)| k.trim().trim_matches(|c| c == '"' || c == '\''));
        if entry_key == Some(bare) {
            found.push(i + 1);
        }
    }
    (found.first().copied(), found.get(1).copied())
}

/// Column where the mapping entry on `line` starts: after spaces and `- ` list markers.
fn entry_column(line: &str) -> usize {
    let mut col = 0;
    let bytes = line.as_bytes();
    loop {
        while bytes.get(col) == Some(&b' ') {
            col += 1;
        }
        if bytes.get(col) == Some(&b'-') && matches!(bytes.get(col + 1), Some(b' ')) {
            col += 1;
        } else {
            return col;
        }
    }
}

/// Whether a line is only structure around content: blank, comment, directive, or document
/// marker.
fn is_filler(line: &str) -> bool {
    let t = line.trim();
    t.is_empty()
        || t.starts_with('#')
        || line.starts_with('%')
        || is_marker(line, "---")
        || is_marker(line, "...")
}

/// Whether `line` is the document marker `marker` (at column 0, alone or before a space).
fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r']))
}

/// 1-based line of the first line holding content (not blank, comment or marker).
fn first_content_line(body: &str) -> Option<usize> {
    body.lines()
        .position(|l| !is_filler(l))
        .map(|i| i + 1)
        .or_else(|| {
            // `--- value` on the marker line itself is content too.
            body.lines()
                .position(|l| {
                    is_marker(l, "---") && {
                        let rest = l.get(3..).unwrap_or_default().trim();
                        !rest.is_empty() && !rest.starts_with('#')
                    }
                })
                .map(|i| i + 1)
        })
}

/// 1-based line where a second document starts: a `---` line after content, or content
/// after a `...` line.
fn second_document_line(body: &str) -> Option<usize> {
    let mut seen_content = false;
    let mut ended = false;
    for (i, line) in body.lines().enumerate() {
        if is_marker(line, "---") {
            if seen_content || ended {
                return Some(i + 1);
            }
            let rest = line.get(3..).unwrap_or_default().trim();
            seen_content = !rest.is_empty() && !rest.starts_with('#');
        } else if is_marker(line, "...") {
            ended = seen_content || ended;
        } else if !is_filler(line) {
            if ended {
                return Some(i + 1);
            }
            seen_content = true;
        }
    }
    None
}
