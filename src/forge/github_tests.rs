//! Finding our comment, Link headers, names and skip reasons.
use super::*;

fn c(id: u64, body: &str, login: &str, kind: &str) -> Comment {
    Comment {
        id,
        body: Some(body.into()),
        user: Some(User {
            login: login.into(),
            kind: kind.into(),
        }),
        html_url: None,
    }
}

const M: &str = "<!-- kestra-sync:plan target=prod@k -->";

#[test]
fn ours_is_the_oldest_actions_bot_comment_starting_with_the_marker() {
    let comments = vec![
        c(1, &format!("> {M}\n> quoted"), "github-actions[bot]", "Bot"),
        c(2, &format!("{M}\nby a person"), "alice", "User"),
        // not at the very start: a leading newline, a space, a BOM
        c(3, &format!("\n{M}\nspoofed"), "github-actions[bot]", "Bot"),
        c(4, &format!(" {M}\nspoofed"), "github-actions[bot]", "Bot"),
        c(
            5,
            &format!("\u{feff}{M}\nspoofed"),
            "github-actions[bot]",
            "Bot",
        ),
        // mid-body: a flow's text carrying our marker inside another target's comment
        c(
            6,
            &format!("<!-- kestra-sync:plan target=dev@k -->\n```\n{M}\n```"),
            "github-actions[bot]",
            "Bot",
        ),
        // another bot with our marker: another tool's or app's token
        c(7, &format!("{M}\nother bot"), "renovate[bot]", "Bot"),
        c(8, &format!("{M}\nlook-alike"), "github-actions", "User"),
        c(
            9,
            &format!("{M}\nwrong type"),
            "github-actions[bot]",
            "User",
        ),
        c(10, &format!("{M}\nours"), "github-actions[bot]", "Bot"),
        c(
            11,
            &format!("{M}\nlater duplicate"),
            "github-actions[bot]",
            "Bot",
        ),
        c(
            12,
            "<!-- kestra-sync:plan target=prod@other -->",
            "github-actions[bot]",
            "Bot",
        ),
    ];
    assert_eq!(find_ours(&comments, M, None).map(|c| c.id), Some(10));
    // With a known login (a personal token), only that user's comments count.
    assert_eq!(
        find_ours(&comments, M, Some("Alice")).map(|c| c.id),
        Some(2)
    );
    assert_eq!(find_ours(&comments, M, Some("bob")).map(|c| c.id), None);
    // a personal token never takes the Actions bot's comment
    assert_eq!(find_ours(&comments[..9], M, None).map(|c| c.id), None);
}

#[test]
fn a_marker_of_another_target_is_not_ours() {
    for other in [
        "<!-- kestra-sync:plan target=prod.a@k -->",
        "<!-- kestra-sync:plan target=pro@k -->",
        "<!-- kestra-sync:plan target=prod@k2 -->",
        "<!-- kestra-sync:plan target=prod@k-->",
    ] {
        let comments = vec![c(1, other, "github-actions[bot]", "Bot")];
        assert!(find_ours(&comments, M, None).is_none(), "{other}");
    }
}

#[test]
fn link_headers_give_the_next_page() {
    let mut h = http::HeaderMap::new();
    h.insert(
        http::header::LINK,
        http::HeaderValue::from_static(
            "<https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=1>; rel=\"prev\", <https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=3>; rel=\"next\", <https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=9>; rel=\"last\"",
        ),
    );
    assert_eq!(
        next_link(&h).as_deref(),
        Some("https://api.github.com/repositories/1/issues/2/comments?per_page=100&page=3")
    );
    h.insert(
        http::header::LINK,
        http::HeaderValue::from_static("<https://x/?page=1>; rel=\"first\""),
    );
    assert_eq!(next_link(&h), None);
}

#[test]
fn repositories_are_owner_slash_name() {
    assert_eq!(
        split_repository("acme/flows.git-x_1").ok(),
        Some(("acme".into(), "flows.git-x_1".into()))
    );
    for bad in ["acme", "/x", "a/", "a/b/c", "a/..", "a b/c", ""] {
        assert!(split_repository(bad).is_err(), "{bad}");
    }
}

#[test]
fn bodies_compare_across_line_endings() {
    assert!(same_body("a\r\nb\n", "a\nb"));
    assert!(!same_body("a\nb", "a\nc"));
}

#[test]
fn skip_reasons_point_to_the_fix() {
    let r = skip_reason(403, "Resource not accessible by integration");
    assert!(
        r.contains("fork") && r.contains("pull-requests: write") && r.contains("workflow_run"),
        "{r}"
    );
    assert!(skip_reason(401, "Bad credentials").contains("github-token"));
}
