//! The domain: what the stages exchange, with no I/O and no dependency on any stage. The
//! scope of a sync (and the preview namespaces kept out of it), a flow as the server holds
//! it, a flow as Git gives it, what we know of the server, the server's verdict on a flow,
//! a write's result, Kestra's namespace rule, and the server's own source normalisation
//! ([`strip_revision`]). The client (`kestra`), the plan and apply all use these.

pub mod previews;

pub use previews::PreviewTemplate;

/// Kestra's namespace rule: `^[a-z0-9][a-z0-9._-]*`, 1–150 characters.
pub fn check_namespace(ns: &str) -> Result<(), String> {
    if ns.is_empty() || ns.len() > 150 {
        return Err("a namespace has 1 to 150 characters".into());
    }
    let b = ns.as_bytes();
    let ok_first = b[0].is_ascii_lowercase() || b[0].is_ascii_digit();
    let ok_rest = b
        .iter()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-".contains(c));
    if !ok_first || !ok_rest {
        return Err(
            "use lowercase letters, digits, `.`, `_` and `-`, starting with a letter or digit"
                .into(),
        );
    }
    Ok(())
}

/// A flow as it lives on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFlow {
    pub namespace: String,
    pub id: String,
    /// Stored source (verbatim), with any `revision:` line the server may include.
    pub source: String,
    /// Current revision, when the server told us.
    pub revision: Option<u64>,
}

/// A flow the caller holds locally (from Git), given to `KestraClient::list_flows` as a
/// hint: its export entry is then recognised by its name and source, without parsing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalFlow<'a> {
    pub namespace: &'a str,
    pub id: &'a str,
    /// The source the caller wants on the server.
    pub source: &'a str,
}

/// Remove the first `(?m)^revision: \d+\n?` line, as the server does (`cleanupSource`)
/// before comparing a source with the stored one.
pub fn strip_revision(source: &str) -> std::borrow::Cow<'_, str> {
    const KEY: &str = "revision: ";
    // Java's `(?m)^`: the start, or after a line terminator (`\n`, a `\r` not followed by
    // `\n`, U+0085, U+2028, U+2029); the first such line that matches is the one removed.
    let starts = std::iter::once(0).chain(source.char_indices().filter_map(|(i, c)| {
        let after = i + c.len_utf8();
        let ends_line = match c {
            '\n' | '\u{85}' | '\u{2028}' | '\u{2029}' => true,
            '\r' => !source[after..].starts_with('\n'),
            _ => false,
        };
        ends_line.then_some(after)
    }));
    for start in starts {
        let Some(rest) = source[start..].strip_prefix(KEY) else {
            continue;
        };
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            continue;
        }
        let mut end = start + KEY.len() + digits;
        if source[end..].starts_with('\n') {
            end += 1;
        }
        let mut out = String::with_capacity(source.len());
        out.push_str(&source[..start]);
        out.push_str(&source[end..]);
        return std::borrow::Cow::Owned(out);
    }
    std::borrow::Cow::Borrowed(source)
}

/// Whether writing `wanted` over `stored` would leave the flow as it is, as far as a sync
/// is concerned: equal once the first `revision:` line is removed ([`strip_revision`], as
/// the server compares) and once trailing whitespace at the very end is ignored. SyncFlows
/// trims its sources before it imports them, so a server fed by SyncFlows holds every flow
/// without the final newline its Git file has: that alone must not plan an update.
pub fn same_source(stored: &str, wanted: &str) -> bool {
    strip_revision(stored).trim_end() == strip_revision(wanted).trim_end()
}

/// What we learned about the server when connecting; shown in plan footers.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct ServerInfo {
    /// Base URL, without credentials.
    pub url: String,
    /// Kestra version reported by `GET /api/v1/configs`, if any.
    pub version: Option<String>,
    /// `OSS` or `EE`, if reported.
    pub edition: Option<String>,
    /// Tenant used in paths; `None` for the untenanted (≤ 0.22) form.
    pub tenant: Option<String>,
}

/// One server validation result for one flow we sent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Validation {
    /// The git path of the flow this result is about.
    pub git_path: String,
    /// Constraint violations; empty means valid.
    pub errors: Vec<String>,
    /// Warnings (e.g. missing subflow) and deprecated properties: shown, never fatal.
    pub warnings: Vec<String>,
    /// The server's infos about the flow: shown, never fatal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub infos: Vec<String>,
}

/// The result of a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub namespace: String,
    pub id: String,
    pub revision: Option<u64>,
}

/// The set of namespaces a sync may see and touch: the target, and with
/// `include_child_namespaces` everything below it (`prod.x`, never `prod2`), but never a
/// pull-request preview of the target ([`PreviewTemplate`]), wherever the template puts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub namespace: String,
    pub include_children: bool,
    /// Which namespaces are previews of `namespace`: left out of the scope.
    pub previews: PreviewTemplate,
}

impl Scope {
    /// The scope of `namespace` (and its children), with the default preview template.
    pub fn new(namespace: impl Into<String>, include_children: bool) -> Self {
        Scope {
            namespace: namespace.into(),
            include_children,
            previews: PreviewTemplate::default(),
        }
    }

    /// Whether `namespace` is in scope. This is the tool's own check: it never trusts the
    /// server's filtering (Kestra 2.0 ignores flat query parameters).
    pub fn contains(&self, namespace: &str) -> bool {
        if namespace == self.namespace {
            return true;
        }
        self.include_children
            && namespace.len() > self.namespace.len() + 1
            && namespace.starts_with(&self.namespace)
            && namespace.as_bytes()[self.namespace.len()] == b'.'
            && !self.is_preview(namespace)
    }

    /// Whether `namespace` belongs to a pull-request preview of the target.
    pub fn is_preview(&self, namespace: &str) -> bool {
        self.previews
            .number_of(&self.namespace, namespace)
            .is_some()
    }
}

impl Scope {
    /// `namespace prod` or `namespace prod and its children`, for messages.
    pub fn describe(&self) -> String {
        if self.include_children {
            format!("namespace {} and its children", self.namespace)
        } else {
            format!("namespace {}", self.namespace)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{strip_revision, PreviewTemplate, Scope};

    #[test]
    fn strip_revision_removes_only_the_first_revision_line() {
        assert_eq!(
            strip_revision("id: a\nrevision: 4\nnamespace: b\n"),
            "id: a\nnamespace: b\n"
        );
        assert_eq!(strip_revision("revision: 4"), "");
        assert_eq!(
            strip_revision("id: a\n  revision: 4\n"),
            "id: a\n  revision: 4\n"
        );
        assert_eq!(strip_revision("revision: x\n"), "revision: x\n");
        assert_eq!(
            strip_revision("revision: 1\nrevision: 2\n"),
            "revision: 2\n"
        );
        // the server's regex `(?m)^revision: \d+\n?` has no end anchor: only the digits
        // and one `\n` go, whatever follows them
        assert_eq!(
            strip_revision("id: a\r\nrevision: 3\r\nx: 1\r\n"),
            "id: a\r\n\r\nx: 1\r\n"
        );
        assert_eq!(strip_revision("revision: 12abc\nx"), "abc\nx");
        assert_eq!(strip_revision("revision: \nrevision: 5"), "revision: \n");
        // Java's line starts include a lone `\r` and U+2028
        assert_eq!(strip_revision("id: a\rrevision: 3\n"), "id: a\r");
        assert_eq!(strip_revision("id: é\u{2028}revision: 3"), "id: é\u{2028}");
        assert_eq!(strip_revision("id: arevision: 3"), "id: arevision: 3");
    }

    #[test]
    fn scope_never_contains_a_sibling_with_the_same_prefix() {
        let s = Scope::new("prod", true);
        assert!(s.contains("prod"));
        assert!(s.contains("prod.a"));
        assert!(s.contains("prod.a.b"));
        assert!(!s.contains("prod2"));
        assert!(!s.contains("prod2.a"));
        assert!(!s.contains("pro"));
        assert!(!s.contains("prod."));
        let flat = Scope::new("prod", false);
        assert!(flat.contains("prod"));
        assert!(!flat.contains("prod.a"));
    }

    #[test]
    fn scope_never_contains_a_preview_whatever_the_template() {
        let s = Scope::new("prod", true);
        assert!(!s.contains("prod-pr-7") && s.is_preview("prod-pr-7.a"));
        let nested = Scope {
            previews: PreviewTemplate::parse("{target}.pr-{number}").unwrap(),
            ..Scope::new("prod", true)
        };
        assert!(nested.contains("prod.a"));
        assert!(nested.contains("prod.pr-x"));
        assert!(!nested.contains("prod.pr-7"));
        assert!(!nested.contains("prod.pr-7.finance"));
        assert!(nested.contains("prod.a.pr-7"));
        // the preview's own scope holds its whole tree
        let preview = Scope::new("prod.pr-7", true);
        assert!(preview.contains("prod.pr-7.finance"));
    }
}
