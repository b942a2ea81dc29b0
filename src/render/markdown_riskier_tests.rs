//! The short "riskier" comment: hostile names from the server stay inert, the only link is
//! the forge's address of the sticky comment, and the wording follows the forge's noun.

use super::*;
use crate::risk::{Deleted, Riskier};

fn ctx() -> MarkdownContext {
    MarkdownContext {
        marker: Some(crate::render::markdown::marker(
            "prod",
            "https://kestra.example.com",
        )),
        tool_version: "0.1.0".into(),
        ..MarkdownContext::default()
    }
}

/// Every link, image and HTML a CommonMark/GFM parser finds, and the text outside code.
fn rendered(md: &str) -> (Vec<String>, Vec<String>, String) {
    use pulldown_cmark::{Event, Options, Parser, Tag};
    let mut links = Vec::new();
    let mut html = Vec::new();
    let mut text = String::new();
    for event in Parser::new_ext(md, Options::ENABLE_TABLES | Options::ENABLE_GFM) {
        match event {
            Event::Start(Tag::Link { dest_url, .. })
            | Event::Start(Tag::Image { dest_url, .. }) => links.push(dest_url.to_string()),
            Event::Html(h) | Event::InlineHtml(h) => html.push(h.to_string()),
            Event::Text(t) => text.push_str(&t),
            _ => {}
        }
    }
    (links, html, text)
}

#[test]
fn hostile_names_stay_inert_and_the_only_link_is_the_sticky_comment() {
    let risk = Riskier {
        now_fails: None,
        new_deletes: 14,
        names: vec![
            Deleted::Flow("prod/@admin".into()),
            Deleted::Flow("prod/[x](https://evil.example)".into()),
            Deleted::Flow("prod/`</details><img src=x>`".into()),
            Deleted::File("prod".into(), "/#1 https://evil.example".into()),
            Deleted::Flow("prod/a\u{202e}b\rc".into()),
        ],
    };
    let link = "https://github.com/acme/flows/pull/7#issuecomment-1";
    let md = render_riskier(
        "prod",
        "https://kestra.example.com",
        &risk,
        Some(link),
        "comment",
        &ctx(),
    );
    let (links, html, text) = rendered(&md);
    assert_eq!(links, [link], "{md}");
    // the hidden marker line only
    assert_eq!(html.len(), 1, "{html:?}\n{md}");
    assert!(html[0].starts_with("<!-- kestra-sync:riskier target=prod@kestra.example.com -->"));
    for hostile in ["@admin", "evil.example", "#1", "<img"] {
        assert!(!text.contains(hostile), "{hostile} outside code: {md}");
    }
    assert!(md.contains("and 9 more"), "{md}");
    assert!(
        md.contains("namespace file `/#1 https://evil.example` of `prod`"),
        "{md}"
    );
    assert!(!md.contains('\u{202e}') && !md.contains('\r'), "{md:?}");
    assert!(md.starts_with("<!-- kestra-sync:riskier "));
    assert!(!md.starts_with("<!-- kestra-sync:plan "));
}

#[test]
fn a_link_that_is_not_a_web_address_is_left_out() {
    let risk = Riskier {
        now_fails: Some(crate::risk::Verdict::Failed),
        new_deletes: 0,
        names: Vec::new(),
    };
    for bad in ["javascript:alert(1)", "not a url", "data:text/html,x"] {
        let md = render_riskier("prod", "https://k", &risk, Some(bad), "note", &ctx());
        let (links, _, _) = rendered(&md);
        assert!(links.is_empty(), "{md}");
        assert!(
            md.contains("Read the updated plan note on this request"),
            "{md}"
        );
    }
    // a state line goes last, after the body's own end
    let body = with_state(
        "body\n\n",
        "<!-- kestra-sync:state v1 verdict=ok deletes=0 keys= -->",
    );
    assert_eq!(
        crate::risk::State::from_comment(&body).map(|s| s.deletes),
        Some(0)
    );
}
