//! What people read: the plan as coloured terminal text, as Markdown (PR/MR comment, job
//! summary) and as JSON (the contract other tools rely on). Pure functions returning strings.

pub mod files;
pub mod json;
pub mod markdown;
pub mod preview;
pub mod text;
