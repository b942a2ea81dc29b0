//! Which namespaces are pull-request previews: the `preview-namespace` template, with
//! `{target}` (the target namespace) and `{number}` (the PR/MR number). The default,
//! `{target}-pr-{number}`, puts the preview of `prod` for PR 7 at `prod-pr-7`, and the
//! target's child `prod.finance` at `prod-pr-7.finance`: outside the target's tree.
//!
//! Every sync reads the same template, whatever it is, to know the preview namespaces:
//! [`super::Scope::contains`] leaves them out, so a normal plan, apply or drift check of the
//! target never lists, keeps or deletes a preview, even with a template that puts previews
//! inside the target's tree (`{target}.pr-{number}`). And a preview is destroyed only in
//! the namespaces the template produces for its own number ([`PreviewTemplate::number_of`]).

use super::check_namespace;

/// The default template.
pub const DEFAULT_TEMPLATE: &str = "{target}-pr-{number}";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Target,
    Number,
}

/// A parsed `preview-namespace` template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewTemplate {
    text: String,
    parts: Vec<Part>,
}

impl Default for PreviewTemplate {
    fn default() -> Self {
        PreviewTemplate::parse(DEFAULT_TEMPLATE).expect("the default template is valid")
    }
}

impl std::fmt::Display for PreviewTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Longest PR/MR number read from a namespace (u64 has 20 digits).
const MAX_DIGITS: usize = 20;

impl PreviewTemplate {
    /// Parse a template: text with `{target}` and `{number}`. It must hold `{number}` (or
    /// every PR would share one preview), nothing else in braces, and give a valid namespace.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            match rest.find('{') {
                Some(0) => {
                    let (part, len) = if rest.starts_with("{target}") {
                        (Part::Target, "{target}".len())
                    } else if rest.starts_with("{number}") {
                        (Part::Number, "{number}".len())
                    } else {
                        return Err(format!(
                            "`{text}` holds `{}`: a preview-namespace template knows only `{{target}}` and `{{number}}`",
                            rest.split_inclusive('}').next().unwrap_or(rest)
                        ));
                    };
                    parts.push(part);
                    rest = &rest[len..];
                }
                Some(n) => {
                    parts.push(Part::Text(rest[..n].to_string()));
                    rest = &rest[n..];
                }
                None => {
                    parts.push(Part::Text(rest.to_string()));
                    rest = "";
                }
            }
        }
        if !parts.contains(&Part::Number) {
            return Err(format!(
                "`{text}` has no `{{number}}`: every pull request needs its own preview namespace, e.g. `{DEFAULT_TEMPLATE}`"
            ));
        }
        let template = PreviewTemplate {
            text: text.to_string(),
            parts,
        };
        let sample = template.render("company.team", 1);
        check_namespace(&sample).map_err(|why| {
            format!("`{text}` does not make a valid namespace (`{sample}` for target `company.team` and number 1: {why})")
        })?;
        Ok(template)
    }

    fn render(&self, target: &str, number: u64) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.clone(),
                Part::Target => target.to_string(),
                Part::Number => number.to_string(),
            })
            .collect()
    }

    /// The preview namespace of `target` for PR/MR `number`: the root of the preview tree.
    /// Refused when it is the target or holds it (destroying the preview would then delete
    /// the target's flows), or is not a valid namespace.
    pub fn root(&self, target: &str, number: u64) -> Result<String, String> {
        let root = self.render(target, number);
        check_namespace(&root).map_err(|why| {
            format!(
                "the preview namespace `{root}` (template `{}`) is not valid: {why}",
                self.text
            )
        })?;
        if root == target || is_below(target, &root) {
            return Err(format!(
                "the preview namespace `{root}` (template `{}`) is or holds the target `{target}`: a preview must live apart from what it previews; put `{{target}}` first, e.g. `{DEFAULT_TEMPLATE}`",
                self.text
            ));
        }
        Ok(root)
    }

    /// What every preview namespace of `target` starts with: the template up to its first
    /// `{number}`, e.g. `prod-pr-` (empty when the template starts with `{number}`).
    pub fn literal_prefix(&self, target: &str) -> String {
        self.parts
            .iter()
            .take_while(|p| **p != Part::Number)
            .map(|p| match p {
                Part::Text(t) => t.as_str(),
                Part::Target => target,
                Part::Number => "",
            })
            .collect()
    }

    /// Where a namespace of the target's tree (`target` or one of its children) goes in the
    /// preview tree `root`: `prod.finance` → `prod-pr-7.finance`. `None` outside the tree.
    pub fn map_into(target: &str, root: &str, namespace: &str) -> Option<String> {
        if namespace == target {
            return Some(root.to_string());
        }
        let rest = namespace.strip_prefix(target)?.strip_prefix('.')?;
        Some(format!("{root}.{rest}"))
    }

    /// The PR/MR number whose preview of `target` holds `namespace` (the preview root or a
    /// namespace below it), or `None` when `namespace` is no preview of `target`.
    pub fn number_of(&self, target: &str, namespace: &str) -> Option<u64> {
        // the namespace itself, then each parent: `a.b.c`, `a.b`, `a`
        let mut candidate = namespace;
        loop {
            if let Some(n) = self.match_root(target, candidate) {
                return Some(n);
            }
            candidate = &candidate[..candidate.rfind('.')?];
        }
    }

    /// The number for which this template makes exactly `namespace` for `target`, when the
    /// result is a valid preview root (see [`PreviewTemplate::root`]).
    fn match_root(&self, target: &str, namespace: &str) -> Option<u64> {
        let number = match_parts(&self.parts, namespace, target, None)?;
        (self.root(target, number).ok()? == namespace).then_some(number)
    }
}

/// Whether `namespace` is strictly below `parent`.
fn is_below(namespace: &str, parent: &str) -> bool {
    namespace
        .strip_prefix(parent)
        .is_some_and(|rest| rest.starts_with('.'))
}

/// Match `text` against `parts` (every `{number}` the same number, written as the decimal
/// form of a u64): the number.
fn match_parts(parts: &[Part], text: &str, target: &str, number: Option<u64>) -> Option<u64> {
    let Some((first, rest)) = parts.split_first() else {
        return if text.is_empty() { number } else { None };
    };
    match first {
        Part::Text(t) => match_parts(rest, text.strip_prefix(t.as_str())?, target, number),
        Part::Target => match_parts(rest, text.strip_prefix(target)?, target, number),
        Part::Number => {
            let digits = text
                .bytes()
                .take(MAX_DIGITS)
                .take_while(u8::is_ascii_digit)
                .count();
            (1..=digits).find_map(|len| {
                let n: u64 = text[..len].parse().ok()?;
                if n.to_string() != text[..len] || number.is_some_and(|m| m != n) {
                    return None;
                }
                match_parts(rest, &text[len..], target, Some(n))
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_template_and_child_namespaces() {
        let t = PreviewTemplate::default();
        assert_eq!(t.to_string(), "{target}-pr-{number}");
        let root = t.root("prod", 7).unwrap();
        assert_eq!(root, "prod-pr-7");
        assert_eq!(
            PreviewTemplate::map_into("prod", &root, "prod.finance").as_deref(),
            Some("prod-pr-7.finance")
        );
        assert_eq!(
            PreviewTemplate::map_into("prod", &root, "prod").as_deref(),
            Some("prod-pr-7")
        );
        assert_eq!(PreviewTemplate::map_into("prod", &root, "prod2"), None);
        assert_eq!(PreviewTemplate::map_into("prod", &root, "other"), None);
        assert_eq!(t.literal_prefix("prod"), "prod-pr-");
        let t = PreviewTemplate::parse("{number}.x.{target}").unwrap();
        assert_eq!(t.literal_prefix("prod"), "");
    }

    #[test]
    fn number_of_finds_previews_of_this_target_only() {
        let t = PreviewTemplate::default();
        assert_eq!(t.number_of("prod", "prod-pr-7"), Some(7));
        assert_eq!(t.number_of("prod", "prod-pr-7.finance.x"), Some(7));
        assert_eq!(t.number_of("prod", "prod-pr-12345"), Some(12345));
        for not in [
            "prod",
            "prod.finance",
            "prod-pr-",
            "prod-pr-07",
            "prod-pr-7x",
            "prod-pr-x",
            "prod-pr",
            "dev-pr-7",
            "x.prod-pr-7",
            "prod-pr-99999999999999999999999",
        ] {
            assert_eq!(t.number_of("prod", not), None, "{not}");
        }
        assert_eq!(t.number_of("prod.finance", "prod.finance-pr-3.a"), Some(3));
        assert_eq!(t.number_of("prod.finance", "prod-pr-3.finance"), None);
    }

    #[test]
    fn a_template_inside_the_target_tree() {
        let t = PreviewTemplate::parse("{target}.pr{number}").unwrap();
        assert_eq!(t.root("prod", 8).unwrap(), "prod.pr8");
        assert_eq!(t.number_of("prod", "prod.pr8"), Some(8));
        assert_eq!(t.number_of("prod", "prod.pr8.a"), Some(8));
        assert_eq!(t.number_of("prod", "prod.prx"), None);
        assert_eq!(t.number_of("prod", "prod.a.pr8"), None);
        // the number twice must be the same number
        let t = PreviewTemplate::parse("pr{number}.{target}.n{number}").unwrap();
        assert_eq!(t.root("prod", 4).unwrap(), "pr4.prod.n4");
        assert_eq!(t.number_of("prod", "pr4.prod.n4.x"), Some(4));
        assert_eq!(t.number_of("prod", "pr4.prod.n5"), None);
        // digits next to digits: the split that reads back the same
        let t = PreviewTemplate::parse("p{number}{target}").unwrap();
        assert_eq!(t.number_of("12", "p312"), Some(3));
    }

    #[test]
    fn bad_templates_are_refused_with_the_reason() {
        for (text, words) in [
            ("{target}-preview", "no `{number}`"),
            ("{target}-{pr}", "`{pr}`"),
            ("{target} pr {number}", "valid namespace"),
            ("{target}-PR-{number}", "valid namespace"),
            ("", "no `{number}`"),
        ] {
            let err = PreviewTemplate::parse(text).unwrap_err();
            assert!(err.contains(words), "{text}: {err}");
        }
        // a root that is or holds the target is refused when rendered
        let t = PreviewTemplate::parse("previews{number}").unwrap();
        assert!(t.root("previews7.prod", 7).unwrap_err().contains("holds"));
        assert!(t.root("previews7", 7).is_err());
        assert_eq!(t.number_of("previews7.prod", "previews7"), None);
        assert_eq!(t.root("prod", 7).unwrap(), "previews7");
    }
}
