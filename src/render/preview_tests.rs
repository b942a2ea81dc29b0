//! The Preview section as people read it (insta), and the splice that keeps every other byte
//! of the comment.

use super::*;

fn call(line: usize, ns: &str, id: &str) -> Call {
    Call {
        line,
        task_id: Some("t".into()),
        namespace: ns.into(),
        flow_id: id.into(),
    }
}

const BODY: &str = "<!-- kestra-sync:plan target=prod@k -->\n<!-- kestra-sync:lock v1 AAAA -->\n### 📝 Kestra plan\n\nchanges\n\n<sub>1 flow unchanged · kestra-sync 0.1.0</sub>\n";

#[test]
fn a_deployed_preview_names_its_namespace_link_counts_and_live_calls() {
    let remapped = vec![(
        "_flows/parent.yml".to_string(),
        call(12, "prod.finance", "child"),
        "prod-pr-7.finance".to_string(),
    )];
    let live = vec![
        (
            "_flows/parent.yml".to_string(),
            call(15, "prod", "not_in_git"),
        ),
        // a hostile call: it stays a code span, never a mention, link or HTML
        (
            "_flows/x.yml".to_string(),
            call(3, "@admin <b>", "[x](https://evil.example)"),
        ),
    ];
    let dynamic = vec![("_flows/y.yml".to_string(), call(4, "{{ inputs.ns }}", "a"))];
    let d = Deployed {
        root: "prod-pr-7",
        link: Some("https://kestra.example.com/ui/main/namespaces/edit/prod-pr-7"),
        added: 2,
        updated: 1,
        deleted: 1,
        unchanged: 0,
        files: None,
        triggers: 3,
        remapped: &remapped,
        live_calls: &live,
        dynamic_calls: &dynamic,
        at: "Thu, 03 Dec 2026 09:45:19 UTC",
        deployment: None,
    };
    let full = render(&Section::Deployed(d.clone()), true);
    insta::assert_snapshot!(full);
    let short = render(&Section::Deployed(d), false);
    assert!(short.len() < full.len());
    assert!(short.contains("3 calls reach the live flow"), "{short}");
}

#[test]
fn removed_and_not_deployed_say_so() {
    let removed = render(
        &Section::Removed {
            root: "prod-pr-7",
            deleted: 2,
            files: 0,
            at: "Thu, 03 Dec 2026 10:00:00 UTC",
            deployment: None,
        },
        true,
    );
    insta::assert_snapshot!(removed, @r"
    #### 🔎 Preview `prod-pr-7`: removed

    Removed Thu, 03 Dec 2026 10:00:00 UTC: 2 flows deleted from the preview namespace and its children.
    ");
    let failed = render(
        &Section::NotDeployed {
            root: Some("prod-pr-7"),
            why: "Not deployed: the preview failed.",
            error: Some("server said ```\n<!-- /kestra-sync:preview -->"),
        },
        true,
    );
    assert!(
        failed.contains("````text\nserver said ```\n<!-- /kestra-sync:preview -->\n````"),
        "{failed}"
    );
    // the error sits in a fenced block: the splice still finds the real end
    let once = splice(BODY, &failed);
    let twice = splice(&once, "new");
    assert!(!twice.contains("server said"), "{twice}");
}

#[test]
fn the_splice_goes_before_the_footer_and_replaces_only_its_section() {
    let once = splice(BODY, "#### 🔎 Preview one\n");
    assert_eq!(
        once,
        "<!-- kestra-sync:plan target=prod@k -->\n<!-- kestra-sync:lock v1 AAAA -->\n### 📝 Kestra plan\n\nchanges\n\n<!-- kestra-sync:preview -->\n#### 🔎 Preview one\n<!-- /kestra-sync:preview -->\n\n<sub>1 flow unchanged · kestra-sync 0.1.0</sub>\n"
    );
    let twice = splice(&once, "#### 🔎 Preview two\n");
    assert_eq!(twice, once.replace("one", "two"));
    // the risk state stays the last line, the footer before it
    let with_state = format!("{BODY}<!-- kestra-sync:state v1 verdict=ok deletes=0 -->\n");
    assert_eq!(
        splice(&with_state, "#### 🔎 Preview one\n"),
        format!("{once}<!-- kestra-sync:state v1 verdict=ok deletes=0 -->\n")
    );
    // a body of the marker only: after it
    assert_eq!(
        splice("<!-- kestra-sync:plan target=p@k -->\n", "s"),
        "<!-- kestra-sync:plan target=p@k -->\n\n<!-- kestra-sync:preview -->\ns\n<!-- /kestra-sync:preview -->\n"
    );
    // a body without a footer: at the end
    assert_eq!(
        splice("<!-- m -->\ntext\n", "s"),
        "<!-- m -->\ntext\n\n<!-- kestra-sync:preview -->\ns\n<!-- /kestra-sync:preview -->\n"
    );
}

#[test]
fn a_flow_cannot_open_or_close_the_section() {
    // flow text in a diff: every line has a prefix; in a code span it is not a whole line
    let body = format!("<!-- m -->\n```diff\n+{START}\n+{END}\n```\n`{START}`\n\n<sub>f</sub>\n");
    let out = splice(&body, "s");
    assert!(
        out.starts_with(&body[..body.find("\n<sub>").unwrap()]),
        "{out}"
    );
    assert!(
        out.ends_with(&format!("\n{START}\ns\n{END}\n\n<sub>f</sub>\n")),
        "{out}"
    );
}
