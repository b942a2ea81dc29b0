//! The text-preserving namespace rewrite: only the value of the top-level `namespace` key
//! changes; every other byte (comments, CRLF, BOM, `---`, Subflow `namespace:` keys) stays.
//!
//! How: libyaml's own events say where the top-level `namespace` value starts and ends
//! (`super::locate`); we splice the new value in, keeping its quoting style. A file without
//! a top-level `namespace` gets a `namespace: <target>` line right after its top-level `id`
//! line, with the same indentation and line ending. A file whose namespace is already the
//! target is left as it is.
//!
//! Then the result is checked: the parser must read it as the original document with only
//! `namespace` changed. Cheaply first (`locate::only_value_changed`: the events agree up
//! to the value and re-align right after it, a few lines of parsing); when that cannot
//! show it, by parsing the whole result and comparing documents. Anything else is reported
//! as a problem, never written.

use serde_yaml_ng::{Mapping, Value};

use super::events::{Kind, ScalarStyle};
use super::locate::{self, Entry};
use super::parse::{self, FileProblem};
use crate::model::check_namespace;

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
        // already right: the file goes as it is
        Some(Value::String(current)) if current == namespace => {
            return Ok(format!("{bom}{body}"));
        }
        Some(current) => {
            let (new_body, value_start) = replace_value(body, current, namespace)?;
            if locate::only_value_changed(body, &new_body, value_start, namespace) {
                return Ok(format!("{bom}{new_body}"));
            }
            (new_body, None)
        }
        None => insert_after_id(body, namespace)?,
    };
    verify(&new_body, mapping, namespace, line)?;
    Ok(format!("{bom}{new_body}"))
}

/// The top-level entry `key`, whose key is written in block style (`key:` at the start of
/// a line, after indentation only), with the key's column; or a problem saying the layout
/// is unsupported.
fn block_entry(body: &str, key: &str) -> Result<(Entry, usize), FileProblem> {
    let entry = locate::top_level_entry(body, key).ok_or_else(|| {
        FileProblem::new(
            None,
            format!("cannot find the top-level `{key}` key in the text (is it written with a tag or an anchor?): write it as `{key}: value`"),
        )
    })?;
    let (column, only_spaces) = locate::column_of(body, entry.key.start);
    if !only_spaces {
        return Err(FileProblem::new(
            Some(entry.key.line),
            format!("the top-level `{key}` key is not at the start of its line (a `{{...}}` flow-style mapping, an anchor or a `?` key): write the flow as a block mapping, one `key: value` per line"),
        ));
    }
    Ok((entry, column))
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

/// The value of `entry` as a plain or quoted scalar: its span and style, or what it is.
fn simple_scalar(body: &str, entry: &Entry) -> Result<(usize, usize, Style), &'static str> {
    let v = &entry.value;
    match &v.kind {
        Kind::Scalar {
            decorated: false,
            style,
            ..
        } => match style {
            ScalarStyle::Plain => Ok((v.start, v.end, Style::Plain)),
            ScalarStyle::SingleQuoted => Ok((v.start, v.end, Style::SingleQuoted)),
            ScalarStyle::DoubleQuoted => Ok((v.start, v.end, Style::DoubleQuoted)),
            ScalarStyle::Block => Err("a block scalar (`|` or `>`)"),
        },
        Kind::Alias => Err("an alias (`*name`)"),
        Kind::Scalar { .. } | Kind::SequenceStart { .. } | Kind::MappingStart { .. } => {
            match body.as_bytes().get(v.start) {
                Some(b'&') => Err("a value with an anchor (`&name`)"),
                Some(b'!') => Err("a value with a tag (`!tag`)"),
                _ => Err("an unusual value"),
            }
        }
        _ => Err("an unusual value"),
    }
}

/// Replace the value of the existing top-level `namespace`: the new text, and where the
/// old value started.
fn replace_value(
    body: &str,
    current: &Value,
    namespace: &str,
) -> Result<(String, usize), FileProblem> {
    let (entry, _) = block_entry(body, "namespace")?;
    let line = entry.key.line;
    if matches!(
        current,
        Value::Sequence(_) | Value::Mapping(_) | Value::Tagged(_)
    ) {
        return Err(unsupported(line, "namespace", parse::describe(current)));
    }
    let colon = key_colon(body, entry.key.end)
        .ok_or_else(|| unsupported(line, "namespace", "an unusual key"))?;
    let (start, end, style) =
        simple_scalar(body, &entry).map_err(|what| unsupported(line, "namespace", what))?;
    // `namespace:` with nothing after it: libyaml places the empty value anywhere up to
    // the next token; the new value goes right after the colon.
    let empty = start == end;
    if start < colon || (empty && style != Style::Plain) {
        return Err(unsupported(line, "namespace", "an unusual value"));
    }
    let value_start = start;
    let (start, end, written) = if empty {
        (
            colon + 1,
            colon + 1,
            format!(" {}", render(namespace, style)),
        )
    } else {
        (start, end, render(namespace, style))
    };
    let (before, after) = (
        body.get(..start).unwrap_or_default(),
        body.get(end..).unwrap_or_default(),
    );
    Ok((format!("{before}{written}{after}"), value_start))
}

/// Byte offset of the `:` after a key that ends at `key_end` (blanks between, same line).
pub(super) fn key_colon(body: &str, key_end: usize) -> Option<usize> {
    let b = body.as_bytes();
    let mut i = key_end;
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
    let (entry, indent) = block_entry(body, "id").map_err(|_| no_id())?;
    let line = entry.key.line;
    let one_line = |what| unsupported(line, "id", what);
    let (start, end, _) = simple_scalar(body, &entry).map_err(one_line)?;
    if start == end
        || entry.value.line != line
        || body.get(start..end).is_none_or(|v| v.contains('\n'))
    {
        return Err(one_line("something other than a one-line value"));
    }
    let line_end = body
        .get(end..)
        .and_then(|rest| rest.find('\n'))
        .map_or(body.len(), |n| end + n);
    let tail = body.get(end..line_end).unwrap_or_default().trim();
    if !(tail.is_empty() || tail.starts_with('#')) {
        return Err(one_line("a value followed by more text"));
    }
    let new_line = format!(
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
        format!("{before}{new_line}{eol}{after}")
    } else {
        let eol = if body.contains("\r\n") { "\r\n" } else { "\n" };
        format!("{body}{eol}{new_line}")
    };
    Ok((out, Some(line)))
}

/// How the namespace is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
}

/// The namespace as YAML text in `style`. A plain value that YAML would read as a number,
/// a boolean or null (YAML 1.1 or 1.2; Kestra reads 1.1) is double-quoted instead.
pub(super) fn render(namespace: &str, style: Style) -> String {
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
            line.or_else(|| locate::key_line(new_body, "namespace")),
            "kestra-sync could not set the namespace without changing something else in this file (an unusual layout of the top-level `namespace`); write it as `namespace: <name>` on its own line, and please report this with the file",
        )),
    }
}

#[cfg(test)]
#[path = "rewrite_tests.rs"]
mod tests;
