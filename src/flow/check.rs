//! Local checks of flow files: everything Kestra would refuse that we can see without the
//! server. Reports every problem, each with file and line.

use super::{Flow, Problem};
use crate::source::SourceFile;

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

pub(super) fn prepare(
    files: &[SourceFile],
    target_namespace: &str,
) -> Result<Vec<Flow>, Vec<Problem>> {
    let _ = (files, target_namespace);
    todo!("flow checks")
}
