//! Flow inputs: their `type` (Jackson resolves the `Input` subclass from it), their id,
//! and the per-type constraints of Kestra's input classes.

use std::sync::OnceLock;

use regex_syntax::ast::ErrorKind;
use serde_json::{Map, Value};

use super::{full_match, java_text, leaf_path, re, scalar_text, Ctx};

/// `Input`'s `@JsonSubTypes` names, union over versions (`BOOL` and `FORM` came with 1.x).
const INPUT_TYPES: [&str; 20] = [
    "ARRAY",
    "BOOLEAN",
    "BOOL",
    "DATE",
    "DATETIME",
    "DURATION",
    "FILE",
    "FLOAT",
    "INT",
    "JSON",
    "SECRET",
    "STRING",
    "ENUM",
    "SELECT",
    "TIME",
    "URI",
    "MULTISELECT",
    "YAML",
    "EMAIL",
    "FORM",
];

/// `Input.id`: `@Pattern(regexp = "^[a-zA-Z0-9][.a-zA-Z0-9_-]*")`.
const INPUT_ID_PATTERN: &str = "^[a-zA-Z0-9][.a-zA-Z0-9_-]*";

pub(super) fn walk(cx: &mut Ctx, value: &Value) {
    let Value::Array(inputs) = value else {
        return;
    };
    for (i, input) in inputs.iter().enumerate() {
        let path = format!("inputs[{i}]");
        let Value::Object(input) = input else {
            cx.jackson(
                &path,
                format!("Illegal flow yaml: an input must be a mapping with `id` and `type`, got {input}"),
            );
            continue;
        };
        // Jackson resolves the subclass from `type` (`YamlParser`: `Invalid type: …`)
        let t = match input.get("type") {
            Some(Value::String(t)) if INPUT_TYPES.contains(&t.as_str()) => t.as_str(),
            other => {
                cx.jackson(&path, format!("Invalid type: {}", java_text(other)));
                continue;
            }
        };
        // the deprecated `name` stands for the id (`Input.setName`)
        let id = scalar_text(input.get("id")).or_else(|| scalar_text(input.get("name")));
        let here = leaf_path(&path, "inputs", id.as_deref());
        match &id {
            None => cx.bean(format!("{path}.id"), "must not be null"),
            Some(s) if s.trim().is_empty() => cx.bean(format!("{path}.id"), "must not be blank"),
            Some(s) => {
                static ID: OnceLock<regex::Regex> = OnceLock::new();
                if !full_match(re(&ID, INPUT_ID_PATTERN), s) {
                    cx.bean(
                        format!("{here}.id"),
                        format!("must match \"{INPUT_ID_PATTERN}\""),
                    );
                }
                cx.input_ids.push(s.clone());
            }
        }
        match t {
            "STRING" => string_input(cx, input, &here),
            "FILE" => file_input(cx, input, &here),
            // ArrayInputValidator
            "ARRAY" if input.get("itemType").and_then(Value::as_str) == Some("ARRAY") => {
                cx.bean(&here, "`itemType` cannot be `ARRAY`")
            }
            _ => {}
        }
    }
}

/// `StringInput.validator` is `@Regex`: `RegexValidator` compiles it with
/// `java.util.regex.Pattern` and refuses it with `invalid pattern [<value>]`.
fn string_input(cx: &mut Ctx, input: &Map<String, Value>, here: &str) {
    if let Some(Value::String(validator)) = input.get("validator") {
        if !java_pattern_compiles(validator) {
            cx.bean(
                format!("{here}.validator"),
                format!("invalid pattern [{validator}]"),
            );
        }
    }
}

/// Whether Java's `Pattern.compile` would accept `pattern`, judged by Rust's regex parser
/// on the errors that are errors in both syntaxes (a dangling `\`, unbalanced groups or
/// classes, reversed ranges and counts). Java-only syntax (look-around, possessive
/// quantifiers, `\Q…\E`, POSIX classes…) is given the benefit of the doubt.
fn java_pattern_compiles(pattern: &str) -> bool {
    match regex_syntax::ast::parse::Parser::new().parse(pattern) {
        Ok(_) => true,
        Err(e) => !matches!(
            e.kind(),
            ErrorKind::EscapeUnexpectedEof
                | ErrorKind::GroupUnclosed
                | ErrorKind::GroupUnopened
                | ErrorKind::ClassUnclosed
                | ErrorKind::ClassRangeInvalid
                | ErrorKind::RepetitionCountInvalid
        ),
    }
}

/// `FileInputValidator`: a FILE input's `defaults` must be a `file://` or `nsfile://` URI
/// (Kestra 1.x; before, any `defaults` was refused with "no `defaults` can be set for
/// inputs of type 'FILE'"). An expression is accepted: the emulator cannot render it.
fn file_input(cx: &mut Ctx, input: &Map<String, Value>, here: &str) {
    let ok = match input.get("defaults") {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) if s.contains("{{") => true,
        Some(Value::String(s)) => {
            let scheme = s.split_once(':').map(|(scheme, _)| scheme);
            matches!(scheme, Some("file") | Some("nsfile"))
        }
        Some(_) => false,
    };
    if !ok {
        cx.bean(
            here,
            "inputs of type 'FILE' only support `defaults` as local files using a file URI or as namespace files using a nsfile URI",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::java_pattern_compiles;

    #[test]
    fn java_regex_errors() {
        for bad in ["\\", "(a", "a)", "[a", "[z-a]", "a{3,2}"] {
            assert!(!java_pattern_compiles(bad), "{bad}");
        }
        // valid in Java, even where Rust's regex has no support
        for good in [
            "^[a-z]+$",
            "(?<=a)b",
            "a*+",
            "\\p{Alpha}",
            "(a)\\1",
            "\\Qa.b\\E",
        ] {
            assert!(java_pattern_compiles(good), "{good}");
        }
    }
}
