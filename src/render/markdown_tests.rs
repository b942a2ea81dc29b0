//! Snapshots of the PR comment, and the size-limit rules checked on plans too big to read.

use super::*;
use crate::flow::Flow;
use crate::model::{RemoteFlow, Scope, ServerInfo};
use crate::plan::compute;

fn local(ns: &str, id: &str, path: &str, src: &str) -> Flow {
    Flow {
        git_path: path.into(),
        namespace: ns.into(),
        id: id.into(),
        source: src.into(),
        inserted_line: None,
    }
}

fn remote(ns: &str, id: &str, src: &str) -> RemoteFlow {
    RemoteFlow {
        namespace: ns.into(),
        id: id.into(),
        source: src.into(),
        revision: Some(4),
    }
}

fn server() -> ServerInfo {
    ServerInfo {
        url: "https://kestra.example.com".into(),
        version: Some("1.3.0".into()),
        edition: Some("OSS".into()),
        tenant: Some("main".into()),
    }
}

fn ctx() -> MarkdownContext {
    MarkdownContext {
        marker: Some(marker("prod", "https://kestra.example.com")),
        commit: Some("abc1234def5678".into()),
        job_url: Some("https://github.com/acme/flows/actions/runs/42".into()),
        tool_version: "0.1.0".into(),
        full_plan_at: "the job summary".into(),
        environment: None,
        merging_into: Some("main".into()),
    }
}

fn log_flow(id: &str, message: &str) -> String {
    format!(
        "id: {id}\nnamespace: prod\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: \"{message}\"\n"
    )
}

fn plan(desired: &[Flow], live: &[RemoteFlow], children: bool, delete: bool) -> Plan {
    let scope = Scope::new("prod", children);
    compute(desired, live, &scope, delete, server())
}

/// The code blocks GitHub would render, by a CommonMark/GFM parser.
fn code_blocks(md: &str) -> Vec<String> {
    use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for event in Parser::new_ext(md, Options::ENABLE_TABLES | Options::ENABLE_GFM) {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(_))) => current = Some(String::new()),
            Event::Text(t) => {
                if let Some(c) = current.as_mut() {
                    c.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => blocks.extend(current.take()),
            _ => {}
        }
    }
    blocks
}

#[test]
fn no_changes_is_one_line_and_a_footer() {
    let desired: Vec<Flow> = (0..14)
        .map(|i| {
            local(
                "prod",
                &format!("f{i:02}"),
                &format!("_flows/f{i:02}.yml"),
                &log_flow("x", "v1"),
            )
        })
        .collect();
    let live: Vec<RemoteFlow> = desired
        .iter()
        .map(|f| remote(&f.namespace, &f.id, &f.source))
        .collect();
    let md = render(
        &plan(&desired, &live, false, false),
        &ctx(),
        GITHUB_COMMENT_LIMIT,
    );
    assert!(
        md.contains("### ✅ Kestra plan for `prod` on **kestra.example.com**: no changes (14 flows match Git)\n\nMerging into `main` changes nothing on **kestra.example.com**.\n"),
        "{md}"
    );
    insta::assert_snapshot!(md);
}

#[test]
fn adds_updates_and_deletes_with_diffs_and_a_deletion_warning() {
    let desired = vec![
        local(
            "prod",
            "ingest_orders",
            "_flows/ingest_orders.yml",
            &log_flow("ingest_orders", "hi"),
        ),
        local(
            "prod.finance",
            "nightly_report",
            "_flows/finance/nightly_report.yml",
            &log_flow("nightly_report", "report"),
        ),
        local(
            "prod",
            "cleanup_tmp",
            "_flows/cleanup_tmp.yml",
            &log_flow("cleanup_tmp", "v2"),
        ),
        local(
            "prod",
            "steady",
            "_flows/steady.yml",
            &log_flow("steady", "same"),
        ),
    ];
    let live = vec![
        remote("prod", "cleanup_tmp", &log_flow("cleanup_tmp", "v1")),
        remote(
            "prod",
            "steady",
            &format!("{}revision: 4\n", log_flow("steady", "same")),
        ),
        remote(
            "prod.marketing",
            "old_campaign",
            &log_flow("old_campaign", "bye"),
        ),
    ];
    let p = plan(&desired, &live, true, true);
    let md = render(&p, &ctx(), GITHUB_COMMENT_LIMIT);
    let first = md.lines().nth(1).unwrap_or_default();
    assert_eq!(
        first,
        "### ⚠️ Kestra plan for `prod` and its child namespaces on **kestra.example.com**: deletes: 2 to add, 1 to update, 1 to delete"
    );
    assert_eq!(
        md.lines().nth(3).unwrap_or_default(),
        "Merging into `main` applies this to **kestra.example.com**."
    );
    assert!(
        md.contains("> [!WARNING]\n> **1 flow will be deleted**"),
        "{md}"
    );
    // Every diff is inside its own fenced block, whole.
    let blocks = code_blocks(&md);
    let diffs: Vec<&str> = p.changes().filter_map(|f| f.diff.as_deref()).collect();
    assert_eq!(blocks.len(), 4);
    for d in diffs {
        assert!(
            blocks.iter().any(|b| b == d),
            "diff not rendered whole: {d}"
        );
    }
    insta::assert_snapshot!(md);
}

#[test]
fn kept_flows_are_listed_collapsed_with_what_to_do() {
    let desired = vec![local("prod", "a", "_flows/a.yml", &log_flow("a", "new"))];
    let live = vec![
        remote("prod", "a", &log_flow("a", "old")),
        remote("prod", "legacy_one", &log_flow("legacy_one", "x")),
        remote("prod", "legacy_two", &log_flow("legacy_two", "x")),
    ];
    let md = render(
        &plan(&desired, &live, false, false),
        &ctx(),
        GITHUB_COMMENT_LIMIT,
    );
    assert!(!md.contains("[!WARNING]"), "nothing is deleted: {md}");
    assert!(md.contains("2 flows kept on the server"), "{md}");
    insta::assert_snapshot!(md);
}

#[test]
fn kept_flows_alone_are_still_no_changes() {
    let live = vec![remote("prod", "legacy", &log_flow("legacy", "x"))];
    let md = render(
        &plan(&[], &live, false, false),
        &ctx(),
        GITHUB_COMMENT_LIMIT,
    );
    assert!(md.contains(": no changes (0 flows match Git)"), "{md}");
    assert!(md.contains("1 flow kept on the server"), "{md}");
}

#[test]
fn a_diff_holding_backtick_fences_cannot_close_its_block() {
    let doc = "id: docs\nnamespace: prod\ndescription: |\n  ```yaml\n  nested: true\n  ```\n  ````\n  four\n  ````\n  </details>\ntasks: []\n";
    let desired = vec![local("prod", "docs", "_flows/docs.yml", doc)];
    let p = plan(&desired, &[], false, false);
    let md = render(&p, &ctx(), GITHUB_COMMENT_LIMIT);
    assert!(
        md.contains("`````diff\n"),
        "fence must be longer than ````: {md}"
    );
    let blocks = code_blocks(&md);
    assert_eq!(blocks.len(), 1, "{md}");
    assert_eq!(Some(blocks[0].as_str()), p.flows[0].diff.as_deref());
    insta::assert_snapshot!(md);
}

#[test]
fn odd_file_names_stay_inside_their_table_cell() {
    let desired = vec![local("prod", "x", "_flows/a|b `c`.yml", "id: x\n")];
    let md = render(
        &plan(&desired, &[], false, false),
        &ctx(),
        GITHUB_COMMENT_LIMIT,
    );
    assert!(
        md.contains("| ➕ add | `prod/x` | ``_flows/a\\|b `c`.yml`` |\n"),
        "{md}"
    );
}

/// 300 flows with ~2 KB diffs each: far over GitHub's limit.
fn big_plan(n: usize, body_lines: usize) -> Plan {
    let desired: Vec<Flow> = (0..n)
        .map(|i| {
            // Sizes differ, so "largest first" is observable.
            let lines: String = (0..body_lines + i % 7)
                .map(|l| format!("    - line {l} of flow {i}: ünïcödé ✓\n"))
                .collect();
            local(
                "prod",
                &format!("flow_{i:04}"),
                &format!("_flows/flow_{i:04}.yml"),
                &format!("id: flow_{i:04}\nnamespace: prod\nvalues:\n{lines}"),
            )
        })
        .collect();
    let live: Vec<RemoteFlow> = desired
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(_, f)| {
            remote(
                &f.namespace,
                &f.id,
                &f.source.replace("line 0 ", "line zero "),
            )
        })
        .collect();
    plan(&desired, &live, false, false)
}

#[test]
fn an_oversized_plan_drops_the_largest_diffs_and_says_so() {
    let p = big_plan(300, 40);
    let md = render(&p, &ctx(), GITHUB_COMMENT_LIMIT);
    assert!(md.len() <= GITHUB_COMMENT_LIMIT, "{} bytes", md.len());
    assert!(md.encode_utf16().count() <= GITHUB_COMMENT_LIMIT);
    assert!(md.starts_with("<!-- kestra-sync:plan target=prod@kestra.example.com -->\n### 📝 Kestra plan for `prod` on **kestra.example.com**: changes: 150 to add, 150 to update, 0 to delete\n"));
    // Beyond 20 changes, compact per-action lists: every flow is still named.
    assert!(!md.contains("| ➕ add |"));
    assert!(
        md.contains("- **✏️ update (150):** `prod/flow_0000`, `prod/flow_0002`"),
        "{md}"
    );
    assert!(
        md.contains("\n- **➕ add (150):** `prod/flow_0001`, "),
        "{md}"
    );
    for i in 0..300 {
        assert!(md.contains(&format!("`prod/flow_{i:04}`")), "flow {i}");
    }
    // Some diffs are shown, the rest are announced.
    let shown = code_blocks(&md);
    assert!(
        !shown.is_empty() && shown.len() < 300,
        "{} shown",
        shown.len()
    );
    // Added flows lose their diffs first: updates keep theirs while any add diff is shown
    // would be wrong; here every add diff went, and updates lost only what did not fit.
    let diff_of = |state: SyncState| -> Vec<&str> {
        p.changes()
            .filter(|f| f.sync_state == state)
            .filter_map(|f| f.diff.as_deref())
            .collect()
    };
    let shown_of = |state: SyncState| {
        diff_of(state)
            .iter()
            .filter(|d| shown.iter().any(|s| s == *d))
            .count()
    };
    assert_eq!(shown_of(SyncState::Added), 0, "adds go first");
    let updates_shown = shown_of(SyncState::Updated);
    assert!(
        updates_shown > 0 && updates_shown == shown.len(),
        "{updates_shown}"
    );
    // The note sits under the title, before the lists, and links to the run's summary.
    let note = format!(
        "> [!NOTE]\n> Omitted to fit the comment size limit: 150 diffs of added flows, {} diffs of updated flows. The whole plan is in [the job summary](<https://github.com/acme/flows/actions/runs/42>).\n",
        150 - updates_shown
    );
    let at = md.find(&note).unwrap_or_else(|| panic!("{}", &md[..1500]));
    assert!(at < md.find("**➕ add").unwrap());
    // Within updates, the largest went first.
    let largest_shown = shown.iter().map(String::len).max().unwrap_or(0);
    let smallest_dropped = diff_of(SyncState::Updated)
        .iter()
        .filter(|d| !shown.iter().any(|s| s == *d))
        .map(|d| d.len())
        .min()
        .unwrap_or(usize::MAX);
    assert!(
        largest_shown <= smallest_dropped,
        "{largest_shown} > {smallest_dropped}"
    );
    assert!(md.ends_with("kestra-sync 0.1.0</sub>\n"));
}

/// What a reviewer sees when a plan is over the limit: the same rendering as GitHub's 65,536
/// characters, at a limit small enough to read in a snapshot.
#[test]
fn over_the_limit_comment_as_people_read_it() {
    let p = big_plan(6, 14);
    let limit = 4_000;
    let md = render(&p, &ctx(), limit);
    assert!(md.len() <= limit, "{} bytes", md.len());
    assert!(md.contains("Omitted to fit the comment size limit"), "{md}");
    insta::assert_snapshot!(md);
}

#[test]
fn a_plan_whose_table_alone_is_too_long_lists_what_fits() {
    let p = big_plan(6000, 1);
    let md = render(&p, &ctx(), GITHUB_COMMENT_LIMIT);
    assert!(md.len() <= GITHUB_COMMENT_LIMIT, "{} bytes", md.len());
    assert!(md.contains(": changes: 3000 to add, 3000 to update, 0 to delete\n"));
    assert!(code_blocks(&md).is_empty(), "no room for diffs");
    let rows = md.matches("`prod/flow_").count();
    assert!(rows > 100 && rows < 6000, "{rows} rows");
    assert!(
        md.contains(&format!(
            "_…and {} more not listed here: see [the job summary](<https://github.com/acme/flows/actions/runs/42>)._",
            6000 - rows
        )),
        "{}",
        &md[md.len().saturating_sub(800)..]
    );
    assert!(md.contains(&format!("3000 diffs of added flows, 3000 diffs of updated flows, {} changed flows from the list", 6000 - rows)), "{}", &md[..1000]);
    assert!(md.ends_with("kestra-sync 0.1.0</sub>\n"));
}

#[test]
fn never_over_the_limit_whatever_the_limit() {
    let p = big_plan(40, 10);
    let full = render(&p, &ctx(), usize::MAX);
    let mut limit = 0;
    while limit < full.len() + 10 {
        let md = render(&p, &ctx(), limit);
        assert!(md.len() <= limit, "limit {limit}: {} bytes", md.len());
        if limit >= 3000 {
            assert!(md.contains("Kestra plan for `prod`"), "limit {limit}");
        }
        limit += 97;
    }
}

#[test]
fn the_job_summary_has_no_marker() {
    let mut c = ctx();
    c.marker = None;
    let md = render(&plan(&[], &[], false, false), &c, GITHUB_SUMMARY_LIMIT);
    assert!(
        md.starts_with("### ✅ Kestra plan for `prod` on **kestra.example.com**: no changes (0 flows match Git)\n"),
        "{md}"
    );
    assert!(!md.contains("<!--"));
}

#[test]
fn markers_name_the_target_and_host() {
    assert_eq!(
        marker("prod", "https://kestra.example.com/"),
        "<!-- kestra-sync:plan target=prod@kestra.example.com -->"
    );
    assert_eq!(
        marker("prod.a", "http://localhost:8080/api/v1"),
        "<!-- kestra-sync:plan target=prod.a@localhost:8080 -->"
    );
    assert_ne!(
        marker("prod", "https://a.example.com"),
        marker("prod", "https://b.example.com")
    );
    assert!(!marker("x --> y", "not a url -->").contains("-->\n"));
    assert_eq!(marker("x --> y", "-->").matches("-->").count(), 1);
}

#[test]
fn server_text_cannot_inject_html() {
    let mut p = plan(&[], &[], false, false);
    p.server.version = Some("<script>1.0</script> @admin [x](https://evil.example)".into());
    let md = render(&p, &ctx(), GITHUB_COMMENT_LIMIT);
    assert!(
        md.contains("Kestra `<script>1.0</script> @admin [x](https://evil.example) OSS`"),
        "{md}"
    );
    for ev in pulldown_cmark::Parser::new_ext(&md, pulldown_cmark::Options::all()) {
        if let pulldown_cmark::Event::InlineHtml(h) | pulldown_cmark::Event::Html(h) = &ev {
            assert!(!h.contains("script"), "{ev:?}");
        }
        assert!(
            !matches!(ev, pulldown_cmark::Event::Start(pulldown_cmark::Tag::Link { ref dest_url, .. }) if dest_url.contains("evil")),
            "{md}"
        );
    }
}

#[test]
fn the_comment_carries_the_lock_after_the_marker_within_the_limit() {
    let desired: Vec<Flow> = (0..2_000)
        .map(|i| {
            let id = format!("f{i}");
            local(
                "prod",
                &id,
                &format!("_flows/{id}.yml"),
                &log_flow(&id, "new"),
            )
        })
        .collect();
    let live: Vec<RemoteFlow> = (0..2_000)
        .map(|i| {
            let id = format!("f{i}");
            remote("prod", &id, &log_flow(&id, "old"))
        })
        .collect();
    let p = plan(&desired, &live, false, false);
    for limit in [GITHUB_COMMENT_LIMIT, GITLAB_NOTE_LIMIT] {
        let body = render_comment(&p, &ctx(), limit);
        assert!(body.len() <= limit, "{} > {limit}", body.len());
        assert!(body.starts_with(&format!("{}\n", ctx().marker.unwrap())));
        let lock = crate::lock::Reviewed::from_comment(&body).unwrap().unwrap();
        assert_eq!(lock.changes, 2_000);
        // GitHub's comment keeps the digest only, GitLab's note every entry
        assert_eq!(lock.flows.is_some(), limit == GITLAB_NOTE_LIMIT);
        assert_eq!(crate::lock::check(&p, &lock), Ok(()));
        // the rest of the comment is the plan as before
        let third = body.lines().nth(2).unwrap_or_default();
        assert!(
            third.ends_with("0 to add, 2000 to update, 0 to delete"),
            "{third}"
        );
    }
    // the job summary has no marker and no lock
    let summary = render_comment(&p, &MarkdownContext::default(), GITHUB_COMMENT_LIMIT);
    assert!(!summary.contains(crate::lock::COMMENT_PREFIX));
}

#[test]
fn blockers_come_first_as_a_caution_alert() {
    let live: Vec<RemoteFlow> = (0..12)
        .map(|i| remote("prod", &format!("old_{i:02}"), &log_flow("x", "bye")))
        .collect();
    let desired = vec![local(
        "prod",
        "keep",
        "_flows/keep.yml",
        &log_flow("keep", "hi"),
    )];
    let mut p = plan(&desired, &live, false, true);
    p.check(crate::plan::Guard {
        max_deletes: 10,
        allow_mass_delete: false,
    });
    let md = render(&p, &ctx(), GITHUB_COMMENT_LIMIT);
    assert!(md.lines().nth(1).unwrap().starts_with("### ❌ Kestra plan for `prod` on **kestra.example.com**: failed: apply would refuse it"), "{md}");
    let caution = md.find("> [!CAUTION]").expect("caution");
    assert!(caution < md.find("[!WARNING]").unwrap());
    assert!(
        md.contains("> - `max-deletes`: refusing to delete 12 flows"),
        "{md}"
    );
    assert!(
        md.contains("Merging into `main` now would fail to apply"),
        "{md}"
    );
    insta::assert_snapshot!(md);
}

#[test]
fn invalid_flows_are_listed_at_their_file_and_line_with_the_servers_message() {
    let bad = local(
        "prod",
        "bad",
        "_flows/bad.yml",
        "id: bad\nnamespace: prod\ntasks:\n  - id: t\n    type: Nope\n",
    );
    let warned = local(
        "prod",
        "warned",
        "_flows/warned.yml",
        &log_flow("warned", "x"),
    );
    let mut p = plan(&[bad.clone(), warned.clone()], &[], false, false);
    p.set_validation(
        &[bad, warned],
        vec![
            crate::kestra::Validation {
                git_path: "_flows/bad.yml".into(),
                errors: vec!["tasks[0]: Invalid type: Nope".into()],
                warnings: vec![],
                infos: vec![],
            },
            crate::kestra::Validation {
                git_path: "_flows/warned.yml".into(),
                errors: vec![],
                warnings: vec!["`tasks[0].retry` is deprecated".into()],
                infos: vec![],
            },
        ],
        false,
    );
    p.check(crate::plan::Guard {
        max_deletes: 10,
        allow_mass_delete: false,
    });
    let md = render(&p, &ctx(), GITHUB_COMMENT_LIMIT);
    assert!(md.contains("**⛔ The server refuses 1 flow**\n\n- `_flows/bad.yml:4`: `tasks[0]: Invalid type: Nope`\n"), "{md}");
    assert!(
        md.contains("- `_flows/warned.yml` (server-warning): `` `tasks[0].retry` is deprecated ``"),
        "{md}"
    );
    insta::assert_snapshot!(md);
}

#[test]
fn beyond_twenty_changes_the_table_becomes_compact_lists() {
    let desired: Vec<Flow> = (0..24)
        .map(|i| {
            local(
                "prod",
                &format!("f{i:02}"),
                &format!("_flows/f{i:02}.yml"),
                &log_flow(&format!("f{i:02}"), "new"),
            )
        })
        .collect();
    let live: Vec<RemoteFlow> = (0..8)
        .map(|i| {
            remote(
                "prod",
                &format!("f{i:02}"),
                &log_flow(&format!("f{i:02}"), "old"),
            )
        })
        .chain((0..2).map(|i| remote("prod", &format!("gone{i}"), &log_flow("g", "x"))))
        .collect();
    let mut c = ctx();
    c.environment = Some("production".into());
    let p = plan(&desired, &live, false, true);
    let md = render(&p, &c, 9_000);
    assert!(!md.contains("| | flow | file |"), "{md}");
    assert!(md.contains("\n\n- **➕ add (16):** `prod/f08`, "), "{md}");
    assert!(
        md.contains("\n- **🗑️ delete (2):** `prod/gone0`, `prod/gone1`\n"),
        "{md}"
    );
    assert!(md.contains("\n- **✏️ update (8):** `prod/f00`, "), "{md}");
    assert!(md.contains("on **production**: deletes"), "{md}");
    assert!(
        md.contains("Merging into `main` applies this to **production**."),
        "{md}"
    );
    insta::assert_snapshot!(md);
}

#[test]
fn a_failed_plan_says_so_what_to_do_and_that_the_previous_plan_no_longer_holds() {
    let failure = Failure {
        target: "prod".into(),
        server_url: "https://kestra.example.com".into(),
        message: "1 problem(s) in flow files".into(),
        advice: "fix the flow files listed below (each at its file and line) and push again."
            .into(),
        problems: vec![(
            "_flows/broken.yml:2".into(),
            "YAML does not parse: did not find expected node content".into(),
        )],
        comment_noun: "comment".into(),
    };
    let md = render_failed(&failure, &ctx(), GITHUB_COMMENT_LIMIT);
    assert!(md.starts_with(&format!(
        "{}\n### ❌ Kestra plan for `prod` on **kestra.example.com**: failed\n",
        ctx().marker.unwrap()
    )));
    assert!(md.contains("The previous plan in this comment no longer holds"));
    assert!(render_failed(&failure, &ctx(), 300).len() <= 300);
    // GitLab's word: a note
    let note = Failure {
        comment_noun: "note".into(),
        ..failure.clone()
    };
    let gitlab = render_failed(&note, &ctx(), GITLAB_NOTE_LIMIT);
    assert!(gitlab.contains("The previous plan in this note no longer holds"));
    assert!(!gitlab.contains("comment"), "{gitlab}");
    insta::assert_snapshot!(md);
}
