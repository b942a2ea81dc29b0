//! The JSON plan contract: `{"summary": {...}, "flows": [{gitPath, namespace, flowId,
//! syncState, diff, ...}]}`. Fields may be added, never renamed.

use crate::plan::Plan;

/// Pretty JSON of the plan, ending with a newline.
pub fn render(plan: &Plan) -> String {
    let mut s = serde_json::to_string_pretty(plan).unwrap_or_else(|_| "{}".into());
    s.push('\n');
    s
}
