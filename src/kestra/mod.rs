//! The Kestra REST client: tenant and path-form detection, scoped listing of live flows
//! (export by query, falling back to per-flow reads), server-side validation, writes and
//! deletes. Built on the shared [`crate::http`] setup (timeouts, safe retries, secrets).

pub mod client;
pub mod error;
mod listing;
pub mod paths;
pub mod validate;

pub use client::{KestraClient, KestraConfig};
pub use error::KestraError;

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
    /// Warnings (e.g. missing subflow): shown, never fatal.
    pub warnings: Vec<String>,
}

/// The result of a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub namespace: String,
    pub id: String,
    pub revision: Option<u64>,
}

/// The set of namespaces a sync may see and touch: the target, and with
/// `include_child_namespaces` everything below it (`prod.x`, never `prod2`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub namespace: String,
    pub include_children: bool,
}

impl Scope {
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
    }
}

#[cfg(test)]
mod tests {
    use super::Scope;

    #[test]
    fn scope_never_contains_a_sibling_with_the_same_prefix() {
        let s = Scope {
            namespace: "prod".into(),
            include_children: true,
        };
        assert!(s.contains("prod"));
        assert!(s.contains("prod.a"));
        assert!(s.contains("prod.a.b"));
        assert!(!s.contains("prod2"));
        assert!(!s.contains("prod2.a"));
        assert!(!s.contains("pro"));
        assert!(!s.contains("prod."));
        let flat = Scope {
            namespace: "prod".into(),
            include_children: false,
        };
        assert!(flat.contains("prod"));
        assert!(!flat.contains("prod.a"));
    }
}
