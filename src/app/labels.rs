//! The optional labels of a review (`labels: true`): after the plan (or its failure), the
//! request gets the one `kestra-sync:*` label that says what merging does, through the
//! platform's [`Reporter::label`]. A label that cannot be set is a warning, never a failed
//! job; a fork's request is skipped, said once.

use super::report::{Label, Labeled, Level, Reporter};
use crate::plan::Summary;
use crate::settings::Settings;

/// The label of a plan: deletes (flows or namespace files) win over changes.
pub fn for_plan(summary: &Summary) -> Label {
    if summary.deleted > 0 || summary.files.is_some_and(|f| f.deleted > 0) {
        Label::Deletes
    } else if summary.has_changes() {
        Label::Changes
    } else {
        Label::NoChanges
    }
}

/// With `labels` on, make request `number`'s labels say `wanted` (`None`: the plan failed,
/// and none of ours may stay: the previous one no longer holds).
pub async fn review<R: Reporter>(
    r: &R,
    settings: &Settings,
    number: u64,
    fork: bool,
    wanted: Option<Label>,
) {
    if !settings.ci.labels {
        return;
    }
    let noun = r.review_noun();
    match r.label(number, fork, wanted).await {
        Ok(Labeled::Done { change }) if change.is_empty() => {
            tracing::info!("{noun} labels already right")
        }
        Ok(Labeled::Done { change }) => tracing::info!(
            "{noun} labels: added {:?}, removed {:?}",
            change.add.map(Label::name),
            change.remove.iter().map(|l| l.name()).collect::<Vec<_>>()
        ),
        Ok(Labeled::Skipped { reason }) => r.print(
            Level::Warning,
            None,
            &format!("{noun} labels not set: {reason}"),
        ),
        Err(e) => r.print(
            Level::Warning,
            None,
            &format!("could not set the {noun} labels: {e}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nsfiles::FilesSummary;

    #[test]
    fn deletes_win_over_changes() {
        let s = |added, deleted, files_deleted: Option<usize>| Summary {
            added,
            deleted,
            files: files_deleted.map(|d| FilesSummary {
                deleted: d,
                ..FilesSummary::default()
            }),
            ..Summary::default()
        };
        assert_eq!(for_plan(&s(0, 0, None)), Label::NoChanges);
        assert_eq!(for_plan(&s(0, 0, Some(0))), Label::NoChanges);
        assert_eq!(for_plan(&s(3, 0, None)), Label::Changes);
        assert_eq!(for_plan(&s(3, 1, None)), Label::Deletes);
        assert_eq!(for_plan(&s(0, 0, Some(2))), Label::Deletes);
    }
}
