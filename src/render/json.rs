//! The JSON plan contract: `{"summary": {...}, "flows": [{gitPath, namespace, flowId,
//! syncState, diff, ...}]}`. Fields may be added, never renamed. `apply --format json` gives
//! the same document with one more member, `apply`: the apply report (what was created,
//! updated, deleted, failed, with revisions), or `null` when nothing was written.

use serde::Serialize;

use crate::apply::Report;
use crate::plan::Plan;

/// Pretty JSON of the plan, ending with a newline.
pub fn render(plan: &Plan) -> String {
    finish(serde_json::to_string_pretty(plan))
}

/// Pretty JSON of the plan and of what applying it did (`apply: null`: nothing written).
pub fn render_applied(plan: &Plan, report: Option<&Report>) -> String {
    #[derive(Serialize)]
    struct Applied<'a> {
        #[serde(flatten)]
        plan: &'a Plan,
        apply: Option<&'a Report>,
    }
    finish(serde_json::to_string_pretty(&Applied {
        plan,
        apply: report,
    }))
}

fn finish(json: serde_json::Result<String>) -> String {
    let mut s = json.unwrap_or_else(|_| "{}".into());
    s.push('\n');
    s
}
