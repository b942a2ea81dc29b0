//! Reading flow files from a folder on disk, never outside the workspace.

use super::{SourceError, SourceFile, SourceSpec};

/// Read every `*.yml` / `*.yaml` under `spec.git_directory`, honouring `.kestraignore`.
pub fn read(spec: &SourceSpec) -> Result<Vec<SourceFile>, SourceError> {
    let _ = spec;
    todo!("workspace walk")
}
