//! Unified diffs of texts (flow sources, namespace files), with the counts of added and
//! removed lines: one place for the `similar` settings every plan shows (3 lines of context,
//! a hint when the last line has no newline).

/// Unified diff from `old` to `new` with 3 lines of context; `(diff, added, removed)`.
pub fn unified_diff(
    old: &str,
    new: &str,
    old_name: &str,
    new_name: &str,
) -> (String, usize, usize) {
    let diff = similar::TextDiff::from_lines(old, new);
    let (mut added, mut removed) = (0, 0);
    for change in diff.iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Insert => added += 1,
            similar::ChangeTag::Delete => removed += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    let text = diff
        .unified_diff()
        .context_radius(3)
        .missing_newline_hint(true)
        .header(old_name, new_name)
        .to_string();
    (text, added, removed)
}
