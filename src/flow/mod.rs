//! Flow files as Kestra sees them: parse each [`SourceFile`] (safely: bounded alias
//! expansion and nesting), check what can be checked locally (id, namespace, tasks,
//! duplicates), and rewrite the top-level `namespace` to the target without touching any
//! other byte. Pure: no I/O.

pub mod check;
mod events;
mod locate;
pub mod parse;
pub mod preview;
pub mod property;
pub mod rewrite;

use crate::source::SourceFile;

/// A flow ready to be compared and written: its source already carries its final namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    /// Workspace-relative path of the file, `/`-separated.
    pub git_path: String,
    /// Final namespace: target + subfolders, e.g. `prod.marketing.crm`.
    pub namespace: String,
    /// The flow `id` as written in the file.
    pub id: String,
    /// The file's text after the namespace rewrite (every other byte as in Git).
    pub source: String,
    /// The line of `source` the rewrite inserted (`namespace: <target>` after `id`, for a
    /// file without a namespace), so lines of `source` map back to lines of the Git file.
    pub inserted_line: Option<usize>,
}

impl Flow {
    /// The line of the Git file showing line `line` of [`Flow::source`] (the `id` line for
    /// an inserted `namespace` line).
    pub fn git_line(&self, line: usize) -> usize {
        match self.inserted_line {
            Some(at) if line >= at => (line - 1).max(1),
            _ => line,
        }
    }
}

/// One local problem with a flow file. Shown as `file:line: message`, and as a GitHub
/// annotation in CI.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Workspace-relative path, `/`-separated.
    pub file: String,
    /// 1-based line, when the problem has a position.
    pub line: Option<usize>,
    /// What is wrong and what to do about it.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Parse, check and rewrite every file for `target_namespace`. Returns every flow, or
/// *all* the problems found (never just the first).
pub fn prepare(files: &[SourceFile], target_namespace: &str) -> Result<Vec<Flow>, Vec<Problem>> {
    check::prepare(files, target_namespace)
}
