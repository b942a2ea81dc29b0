//! The sticky PR comment against a fake GitHub over real HTTP: create once, then update in
//! place, skip identical bodies, follow pagination, work under a GHES `/api/v3` prefix, and
//! turn a read-only token into a skip, never an error. Every request is validated against
//! GitHub's official OpenAPI description.

use crate::github_support;

use std::time::Duration;

use github_support::openapi::{Seen, Spec};
use github_support::{FakeGithub, BOT_TOKEN, READ_ONLY_TOKEN, USER_TOKEN};
use kestra_sync::forge::github::{GithubClient, GithubError, Issue, Posted};
use secrecy::SecretString;

const REPO: &str = "acme/flows";
const MARKER: &str = "<!-- kestra-sync:plan target=prod@kestra.example.com -->";

fn client(gh: &FakeGithub, token: &str) -> GithubClient {
    GithubClient::new(
        &gh.api_url(),
        &SecretString::from(token),
        Duration::from_secs(10),
    )
    .expect("client")
}

fn body(text: &str) -> String {
    format!("{MARKER}\n### Kestra plan for `prod`\n\n{text}\n")
}

fn pr(n: u64) -> Issue {
    Issue::new(REPO, n).expect("issue")
}

fn writes(calls: &[(String, String)]) -> Vec<(String, String)> {
    calls.iter().filter(|(m, _)| m != "GET").cloned().collect()
}

#[tokio::test]
async fn create_then_update_in_place_then_leave_alone() {
    let gh = FakeGithub::start("").await;
    gh.seed_comment(REPO, 7, "LGTM", "bob", "User");
    let c = client(&gh, BOT_TOKEN);

    let first = c
        .upsert_comment(&pr(7), MARKER, &body("1 to add"))
        .await
        .unwrap();
    let Posted::Created { id } = first else {
        panic!("{first:?}")
    };
    let ours: Vec<_> = gh
        .comments(REPO, 7)
        .into_iter()
        .filter(|c| c.body.starts_with(MARKER))
        .collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(
        (ours[0].id, ours[0].login.as_str()),
        (id, "github-actions[bot]")
    );

    let second = c
        .upsert_comment(&pr(7), MARKER, &body("2 to add"))
        .await
        .unwrap();
    assert_eq!(second, Posted::Updated { id });
    let stored = gh.comments(REPO, 7);
    assert_eq!(stored.len(), 2, "no second comment");
    assert_eq!(stored[1].body, body("2 to add"));

    let third = c
        .upsert_comment(&pr(7), MARKER, &body("2 to add"))
        .await
        .unwrap();
    assert_eq!(third, Posted::Unchanged { id });

    let calls = gh.calls().await;
    assert_eq!(
        writes(&calls),
        vec![
            (
                "POST".to_string(),
                "/repos/acme/flows/issues/7/comments".to_string()
            ),
            (
                "PATCH".to_string(),
                format!("/repos/acme/flows/issues/comments/{id}")
            ),
        ],
        "the third run writes nothing"
    );
    let ids = gh.check().await;
    assert!(ids.contains(&"issues/update-comment".to_string()));
}

#[tokio::test]
async fn two_targets_keep_two_comments() {
    let gh = FakeGithub::start("").await;
    let c = client(&gh, BOT_TOKEN);
    let other = "<!-- kestra-sync:plan target=staging@kestra.example.com -->";
    c.upsert_comment(&pr(1), MARKER, &body("a")).await.unwrap();
    c.upsert_comment(&pr(1), other, &format!("{other}\nb"))
        .await
        .unwrap();
    c.upsert_comment(&pr(1), MARKER, &body("c")).await.unwrap();
    let stored = gh.comments(REPO, 1);
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].body, body("c"));
    assert!(stored[1].body.starts_with(other));
    gh.check().await;
}

/// Comments that carry our marker but are not ours, each left exactly as it was while the
/// plan gets its own new comment: the marker further down a body (a flow's text quoted in
/// another target's plan, a reply), another bot's comment (another tool's token), a user
/// named like the Actions bot.
#[tokio::test]
async fn spoofed_markers_and_other_bots_are_never_edited() {
    let gh = FakeGithub::start("").await;
    let other = "<!-- kestra-sync:plan target=staging@kestra.example.com -->";
    let spoofs = [
        (
            format!("{other}\n```yaml\n{MARKER}\n```\n"),
            "github-actions[bot]",
            "Bot",
        ),
        (
            format!("\n{MARKER}\nleading newline"),
            "github-actions[bot]",
            "Bot",
        ),
        (format!("note: {MARKER}"), "github-actions[bot]", "Bot"),
        (body("another bot"), "renovate[bot]", "Bot"),
        (body("an app"), "kestra-sync-app[bot]", "Bot"),
        (body("a person"), "github-actions", "User"),
    ];
    let ids: Vec<u64> = spoofs
        .iter()
        .map(|(b, login, kind)| gh.seed_comment(REPO, 3, b, login, kind))
        .collect();
    let c = client(&gh, BOT_TOKEN);
    let out = c
        .upsert_comment(&pr(3), MARKER, &body("plan"))
        .await
        .unwrap();
    let Posted::Created { id } = out else {
        panic!("{out:?}")
    };
    assert!(!ids.contains(&id));
    let stored = gh.comments(REPO, 3);
    for (cid, (b, ..)) in ids.iter().zip(&spoofs) {
        let now = stored.iter().find(|c| c.id == *cid).expect("still there");
        assert_eq!(&now.body, b, "comment {cid} was edited");
    }
    // the next run finds its own comment, still not the spoofs
    let again = c
        .upsert_comment(&pr(3), MARKER, &body("plan 2"))
        .await
        .unwrap();
    assert_eq!(again, Posted::Updated { id });
    assert_eq!(gh.comments(REPO, 3).len(), spoofs.len() + 1);
    // a personal token never takes the Actions bot's comment either
    let user = client(&gh, USER_TOKEN);
    let mine = user
        .upsert_comment(&pr(3), MARKER, &body("alice"))
        .await
        .unwrap();
    assert!(matches!(mine, Posted::Created { .. }), "{mine:?}");
    let bots = gh.comments(REPO, 3);
    assert_eq!(
        bots.iter().find(|c| c.id == id).unwrap().body,
        body("plan 2")
    );
    gh.check().await;
}

#[tokio::test]
async fn finds_its_comment_on_the_second_page() {
    let gh = FakeGithub::start("").await;
    for i in 0..130 {
        gh.seed_comment(REPO, 9, &format!("comment {i}"), "bob", "User");
    }
    // A person quoting our marker does not make the comment ours.
    gh.seed_comment(REPO, 9, &format!("> {MARKER}\n> quoted"), "bob", "User");
    let ours = gh.seed_comment(REPO, 9, &body("old"), "github-actions[bot]", "Bot");
    let c = client(&gh, BOT_TOKEN);
    let out = c
        .upsert_comment(&pr(9), MARKER, &body("new"))
        .await
        .unwrap();
    assert_eq!(out, Posted::Updated { id: ours });
    let calls = gh.calls().await;
    let lists: Vec<_> = calls
        .iter()
        .filter(|(m, p)| m == "GET" && p.contains("/comments"))
        .collect();
    assert_eq!(lists.len(), 2, "{calls:?}");
    assert_eq!(
        lists[0].1,
        "/repos/acme/flows/issues/9/comments?per_page=100"
    );
    assert!(
        lists[1]
            .1
            .starts_with("/repositories/1/issues/9/comments?per_page=100&page=2"),
        "{calls:?}"
    );
    assert_eq!(gh.comments(REPO, 9).len(), 132);
    gh.check().await;
}

#[tokio::test]
async fn a_read_only_token_is_a_skip_with_the_reason() {
    let gh = FakeGithub::start("").await;
    let c = client(&gh, READ_ONLY_TOKEN);
    let out = c.upsert_comment(&pr(3), MARKER, &body("x")).await.unwrap();
    let Posted::Skipped { reason } = out else {
        panic!("{out:?}")
    };
    assert!(
        reason.contains("Resource not accessible by integration"),
        "{reason}"
    );
    assert!(
        reason.contains("fork")
            && reason.contains("workflow_run")
            && reason.contains("pull-requests: write"),
        "{reason}"
    );
    assert!(gh.comments(REPO, 3).is_empty());
    gh.check().await;
}

#[tokio::test]
async fn a_refused_token_is_a_skip_too() {
    let gh = FakeGithub::start("").await;
    let c = client(&gh, "ghp_revokedToken");
    let out = c.upsert_comment(&pr(3), MARKER, &body("x")).await.unwrap();
    let Posted::Skipped { reason } = out else {
        panic!("{out:?}")
    };
    assert!(
        reason.contains("401") && reason.contains("github-token"),
        "{reason}"
    );
    let calls = gh.calls().await;
    assert_eq!(calls.len(), 1, "stops at the refused token: {calls:?}");
}

#[tokio::test]
async fn a_personal_token_finds_its_own_user_comment() {
    let gh = FakeGithub::start("").await;
    // A bot's comment with our marker (another tool's token) is not alice's.
    gh.seed_comment(REPO, 4, &body("bot"), "someone[bot]", "Bot");
    let mine = gh.seed_comment(REPO, 4, &body("old"), "alice", "User");
    let c = client(&gh, USER_TOKEN);
    let out = c
        .upsert_comment(&pr(4), MARKER, &body("new"))
        .await
        .unwrap();
    assert_eq!(out, Posted::Updated { id: mine });
    assert_eq!(
        gh.calls().await[0],
        ("GET".to_string(), "/user".to_string())
    );
    gh.check().await;
}

#[tokio::test]
async fn enterprise_server_keeps_the_api_v3_prefix() {
    let gh = FakeGithub::start("/api/v3").await;
    for i in 0..101 {
        gh.seed_comment(REPO, 2, &format!("c{i}"), "bob", "User");
    }
    let c = client(&gh, BOT_TOKEN);
    let out = c.upsert_comment(&pr(2), MARKER, &body("x")).await.unwrap();
    assert!(matches!(out, Posted::Created { .. }), "{out:?}");
    let out = c.upsert_comment(&pr(2), MARKER, &body("y")).await.unwrap();
    assert!(matches!(out, Posted::Updated { .. }), "{out:?}");
    let calls = gh.calls().await;
    assert!(
        calls.iter().all(|(_, p)| p.starts_with("/api/v3/")),
        "{calls:?}"
    );
    assert!(
        calls
            .iter()
            .any(|(_, p)| p
                .starts_with("/api/v3/repositories/1/issues/2/comments?per_page=100&page=2")),
        "{calls:?}"
    );
    gh.check().await;
}

#[tokio::test]
async fn server_errors_are_errors_not_skips() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(502).set_body_string("bad gateway"))
        .mount(&server)
        .await;
    let c = GithubClient::new(
        &server.uri(),
        &SecretString::from(BOT_TOKEN),
        Duration::from_secs(5),
    )
    .unwrap();
    let err = c
        .upsert_comment(&pr(1), MARKER, &body("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, GithubError::Status { status: 502, .. }),
        "{err}"
    );
    // GETs are retried (3 times) before giving up; a /user that keeps failing is an
    // error, never taken as 'no login' (which would change whose comments count as ours).
    let n = server.received_requests().await.unwrap_or_default().len();
    assert_eq!(n, 4, "4 tries of /user answered 502, then the error");
}

#[tokio::test]
async fn bad_tokens_and_urls_are_refused_up_front() {
    let t = SecretString::from("ghs_x\n");
    assert!(
        GithubClient::new("https://api.github.com", &t, Duration::from_secs(1)).is_ok(),
        "a trailing newline is trimmed"
    );
    let t = SecretString::from("ghs x");
    assert!(matches!(
        GithubClient::new("https://api.github.com", &t, Duration::from_secs(1)),
        Err(GithubError::BadToken)
    ));
    let t = SecretString::from("ghs_x");
    assert!(matches!(
        GithubClient::new("ftp://x", &t, Duration::from_secs(1)),
        Err(GithubError::BadUrl { .. })
    ));
    assert!(matches!(
        GithubClient::new("https://u:p@x", &t, Duration::from_secs(1)),
        Err(GithubError::BadUrl { .. })
    ));
}
#[test]
fn the_validator_rejects_what_github_would() {
    let spec = Spec::load();
    let u = |s: &str| url::Url::parse(s).unwrap();
    let post = u("http://h/repos/o/r/issues/5/comments");
    let ok = Seen {
        method: "POST",
        url: &post,
        body: br#"{"body":"x"}"#,
        content_type: Some("application/json"),
    };
    assert_eq!(
        spec.check_request(&ok, "").as_deref(),
        Ok("issues/create-comment")
    );
    let no_body = Seen {
        body: br#"{"text":"x"}"#,
        ..ok
    };
    assert!(spec
        .check_request(&no_body, "")
        .unwrap_err()
        .contains("required property `body`"));
    let wrong_type = Seen {
        body: br#"{"body":5}"#,
        ..ok
    };
    assert!(spec.check_request(&wrong_type, "").is_err());
    let bad_number = u("http://h/repos/o/r/issues/abc/comments");
    assert!(spec
        .check_request(
            &Seen {
                url: &bad_number,
                ..ok
            },
            ""
        )
        .is_err());
    let put = Seen {
        method: "PUT",
        ..ok
    };
    assert!(spec.check_request(&put, "").is_err());
    let query = u("http://h/repos/o/r/issues/5/comments?per_page=100&sort=x");
    let list = Seen {
        method: "GET",
        url: &query,
        body: b"",
        content_type: None,
    };
    assert!(spec
        .check_request(&list, "")
        .unwrap_err()
        .contains("`sort`"));
    let too_many = u("http://h/repos/o/r/issues/5/comments?per_page=500");
    assert!(spec
        .check_request(
            &Seen {
                url: &too_many,
                ..list
            },
            ""
        )
        .is_err());
    let ghes = u("http://h/api/v3/repositories/77/issues/5/comments?per_page=100&page=2");
    assert_eq!(
        spec.check_request(&Seen { url: &ghes, ..list }, "/api/v3")
            .as_deref(),
        Ok("issues/list-comments")
    );
    assert!(
        spec.check_request(&Seen { url: &ghes, ..list }, "")
            .is_err(),
        "prefix required"
    );
}
