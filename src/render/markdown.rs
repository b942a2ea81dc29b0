//! The PR/MR comment and job summary.

use crate::plan::Plan;

/// The plan as Markdown for `--format markdown` (no marker, no CI context).
pub fn render_standalone(plan: &Plan) -> String {
    format!(
        "### Kestra plan for `{}`\n\n```\n{}```\n",
        plan.target_namespace,
        super::text::render(plan, false)
    )
}
