//! The text-preserving namespace rewrite: only the value of the top-level `namespace` key
//! changes; every other byte (comments, CRLF, BOM, `---`, Subflow `namespace:` keys) stays.
//!
//! How: the parser says where the top-level `namespace` value starts (`super::locate`);
//! we find where that scalar ends and splice the new value in, keeping its quoting style.
//! A file without a top-level `namespace` gets a `namespace: <target>` line right after
//! its top-level `id` line, with the same indentation and line ending. Then the result is
//! parsed again and must equal the original document with only `namespace` changed;
//! anything else is reported as a problem, never written.

use serde_yaml_ng::{Mapping, Value};

use super::check::check_namespace;
use super::locate::{self, Position, Style, ValueKind};
use super::parse::{self, FileProblem};

/// Return `source` with its top-level `namespace` set to `namespace`, or the problem that
/// prevents it (unparsable file, a `namespace` written as an anchor, alias, tag, block or
/// collection, no `id` to put a missing `namespace` after, or an invalid `namespace`).
pub fn rewrite_namespace(source: &str, namespace: &str) -> Result<String, FileProblem> {
    let (bom, body) = parse::split_bom(source);
    let mapping = parse::parse_mapping(body)?;
    rewrite_parsed(bom, body, &mapping, namespace)
}

/// [`rewrite_namespace`] for a file already parsed: `bom` + `body` is the file, `mapping`
/// the parse of `body`.
pub(crate) fn rewrite_parsed(
    bom: &str,
    body: &str,
    mapping: &Mapping,
    namespace: &str,
) -> Result<String, FileProblem> {
    check_namespace(namespace).map_err(|why| {
        FileProblem::new(
            None,
            format!("`{namespace}` is not a valid namespace: {why}"),
        )
    })?;
    let (new_body, line) = match mapping.get("namespace") {
        Some(current) => (replace_value(body, current, namespace)?, None),
        None => insert_after_id(body, namespace)?,
    };
    verify(&new_body, mapping, namespace, line)?;
    Ok(format!("{bom}{new_body}"))
}

/// The line of a top-level key that is written in block style (`key:` at the start of a
/// line, after indentation only), or a problem saying the layout is unsupported.
fn block_key(body: &str, key: &str) -> Result<(Position, usize), FileProblem> {
    let pos = locate::key_position(body, key).ok_or_else(|| {
        FileProblem::new(
            None,
            format!("cannot find the top-level `{key}` key in the text (is it written with a tag or an anchor?): write it as `{key}: value`"),
        )
    })?;
    let (column, only_spaces) = locate::column_of(body, pos.index);
    if !only_spaces {
        return Err(FileProblem::new(
            Some(pos.line),
            format!("the top-level `{key}` key is not at the start of its line (a `{{...}}` flow-style mapping, an anchor or a `?` key): write the flow as a block mapping, one `key: value` per line"),
        ));
    }
    Ok((pos, column))
}

fn unsupported(line: usize, key: &str, what: &str) -> FileProblem {
    let advice = if key == "namespace" {
        "write it as a plain value, e.g. `namespace: company.team` (kestra-sync sets the namespace from --target-namespace and the folder anyway)"
    } else {
        "write it as a plain value on one line, e.g. `id: my_flow`, so kestra-sync can add the namespace after it"
    };
    FileProblem::new(
        Some(line),
        format!("the top-level `{key}` is written as {what}, which kestra-sync cannot rewrite safely: {advice}"),
    )
}

/// Replace the value of the existing top-level `namespace`.
fn replace_value(body: &str, current: &Value, namespace: &str) -> Result<String, FileProblem> {
    let (key, indent) = block_key(body, "namespace")?;
    if matches!(
        current,
        Value::Sequence(_) | Value::Mapping(_) | Value::Tagged(_)
    ) {
        return Err(unsupported(key.line, "namespace", parse::describe(current)));
    }
    let (value, kind) = locate::value_position(body, "namespace")
        .ok_or_else(|| unsupported(key.line, "namespace", "an unusual value"))?;
    let colon = key_colon(body, key.index)
        .ok_or_else(|| unsupported(key.line, "namespace", "an unusual key"))?;
    let style = if value.index > colon {
        locate::scalar_style(body, value.index)
    } else {
        None
    };
    let span = style.and_then(|s| {
        locate::scalar_end(body, value.index, s, indent).map(|end| (value.index, end, s))
    });
    let empty = kind == ValueKind::Null
        && span
            .and_then(|(start, end, _)| body.get(start..end))
            .is_none_or(|text| !matches!(text, "~" | "null" | "Null" | "NULL"));
    let (start, end, style) = match span {
        _ if empty => (colon + 1, colon + 1, Style::Plain),
        Some(span) => span,
        None => {
            let written_value = body.get(colon + 1..).unwrap_or_default().trim_start();
            let what = match written_value.as_bytes().first() {
                Some(b'&') => "a value with an anchor (`&name`)",
                Some(b'*') => "an alias (`*name`)",
                Some(b'!') => "a value with a tag (`!tag`)",
                Some(b'|' | b'>') => "a block scalar (`|` or `>`)",
                _ => "an unusual value",
            };
            return Err(unsupported(key.line, "namespace", what));
        }
    };
    let mut written = render(namespace, style);
    if empty {
        written.insert(0, ' ');
    }
    let (before, after) = (
        body.get(..start).unwrap_or_default(),
        body.get(end..).unwrap_or_default(),
    );
    Ok(format!("{before}{written}{after}"))
}

/// Byte offset of the `:` after the key starting at `key_start` (same line).
fn key_colon(body: &str, key_start: usize) -> Option<usize> {
    let b = body.as_bytes();
    let mut i = match locate::scalar_style(body, key_start)? {
        style @ (Style::DoubleQuoted | Style::SingleQuoted) => {
            locate::scalar_end(body, key_start, style, usize::MAX)?
        }
        Style::Plain => {
            let mut i = key_start;
            while let Some(&c) = b.get(i) {
                let blank_next = b
                    .get(i + 1)
                    .is_none_or(|n| matches!(n, b' ' | b'\t' | b'\r' | b'\n'));
                if (c == b':' && blank_next) || c == b'\n' {
                    break;
                }
                i += 1;
            }
            i
        }
    };
    while matches!(b.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    (b.get(i) == Some(&b':')).then_some(i)
}

/// Add `namespace: <ns>` on its own line after the top-level `id` line.
fn insert_after_id(body: &str, namespace: &str) -> Result<(String, Option<usize>), FileProblem> {
    let no_id = || {
        FileProblem::new(
            None,
            "the file has no top-level `namespace` and no `id` to put one after: add `id: <flow id>`",
        )
    };
    let (key, indent) = block_key(body, "id").map_err(|_| no_id())?;
    let (value, _) = locate::value_position(body, "id").ok_or_else(no_id)?;
    let end = locate::scalar_style(body, value.index)
        .filter(|_| value.index > key.index)
        .and_then(|style| locate::scalar_end(body, value.index, style, indent))
        .ok_or_else(|| unsupported(key.line, "id", "something other than a one-line value"))?;
    let line_end = body
        .get(end..)
        .and_then(|rest| rest.find('\n'))
        .map_or(body.len(), |n| end + n);
    let tail = body.get(end..line_end).unwrap_or_default().trim();
    if !(tail.is_empty() || tail.starts_with('#')) {
        return Err(unsupported(key.line, "id", "a value followed by more text"));
    }
    let line = format!(
        "{}namespace: {}",
        " ".repeat(indent),
        render(namespace, Style::Plain)
    );
    let out = if line_end < body.len() {
        let eol = if body.get(..line_end).is_some_and(|b| b.ends_with('\r')) {
            "\r\n"
        } else {
            "\n"
        };
        let (before, after) = body.split_at(line_end + 1);
        format!("{before}{line}{eol}{after}")
    } else {
        let eol = if body.contains("\r\n") { "\r\n" } else { "\n" };
        format!("{body}{eol}{line}")
    };
    Ok((out, Some(key.line)))
}

/// The namespace as YAML text in `style`. A plain value that YAML would read as a number,
/// a boolean or null (YAML 1.1 or 1.2; Kestra reads 1.1) is double-quoted instead.
fn render(namespace: &str, style: Style) -> String {
    match style {
        Style::DoubleQuoted => format!("\"{namespace}\""),
        Style::SingleQuoted => format!("'{namespace}'"),
        Style::Plain => {
            let ambiguous = namespace.starts_with(|c: char| c.is_ascii_digit())
                || matches!(
                    namespace,
                    "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null"
                );
            if ambiguous {
                format!("\"{namespace}\"")
            } else {
                namespace.to_string()
            }
        }
    }
}

/// The rewritten text must parse to the original document with only `namespace` changed.
fn verify(
    new_body: &str,
    original: &Mapping,
    namespace: &str,
    line: Option<usize>,
) -> Result<(), FileProblem> {
    let mut expected = original.clone();
    expected.insert(
        Value::String("namespace".into()),
        Value::String(namespace.into()),
    );
    match parse::parse_mapping(new_body) {
        Ok(reparsed) if reparsed == expected => Ok(()),
        // the line is looked up only now: a probe is a whole parse, and this is the rare path
        _ => Err(FileProblem::new(
            line.or_else(|| locate::key_position(new_body, "namespace").map(|p| p.line)),
            "kestra-sync could not set the namespace without changing something else in this file (an unusual layout of the top-level `namespace`); write it as `namespace: <name>` on its own line, and please report this with the file",
        )),
    }
}

#[cfg(test)]
#[path = "rewrite_tests.rs"]
mod tests;
