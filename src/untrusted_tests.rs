//! The untrusted-text functions on hostile strings: every hidden character is shown, a lone
//! CR breaks a diff line visibly, and the Markdown forms parse (pulldown-cmark, GFM options)
//! to exactly one code span or code block holding the text, whatever the text.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use super::*;

/// Strings that try everything: fences, backticks, pipes, HTML, mentions, references,
/// links, images, autolinks, controls, bidi, zero-width, a BOM, a long backtick run.
const HOSTILE: &[&str] = &[
    "plain",
    "",
    " ",
    "`",
    "``x``",
    "a ` b `` c",
    "```\n</details>\n```",
    "| x | y |",
    "@octocat and @acme/team",
    "#1 GH-2 acme/flows#3",
    "[click](https://evil.example) ![img](https://evil.example/x.png)",
    "<img src=x onerror=alert(1)> <script>alert(1)</script>",
    "</details></summary><b>bold</b>",
    "https://evil.example www.evil.example",
    "*emph* _u_ **b** ~~s~~",
    "line1\nline2\r\nline3\rline4",
    "esc \x1b[31mred\x1b[0m \x1b]8;;https://x\x07link\x1b]8;;\x07",
    "section_start:1:x\r\x1b[0Kforged",
    "bidi \u{202e}evil\u{202c} \u{2066}iso\u{2069}",
    "zw a\u{200b}b\u{200d}c \u{feff}bom \u{2060}",
    "c1 \u{85} \u{9b}31m",
    "tag \u{e0041}\u{e0042}",
    "\\`escaped\\`",
    "````````````````````````````````````````",
];

fn gfm() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_GFM
}

/// Nothing in `md` renders as a link, an image or HTML.
fn no_markup(md: &str) {
    for ev in Parser::new_ext(md, gfm()) {
        match ev {
            Event::Start(Tag::Link { .. } | Tag::Image { .. })
            | Event::Html(_)
            | Event::InlineHtml(_) => {
                panic!("markup rendered from {md:?}: {ev:?}")
            }
            _ => {}
        }
    }
}

#[test]
fn hidden_characters_are_shown() {
    assert_eq!(visible("a\rb"), "a␍b");
    assert_eq!(visible("a\r\nb"), "a\nb");
    assert_eq!(visible("tab\tnl\n"), "tab\tnl\n");
    assert_eq!(visible("\x1b[31m"), "␛[31m");
    assert_eq!(visible("\0\x08\x7f"), "␀␈␡");
    assert_eq!(visible("x\u{202e}y"), "x<U+202E>y");
    assert_eq!(
        visible("\u{200b}\u{feff}\u{85}"),
        "<U+200B><U+FEFF><U+0085>"
    );
    assert_eq!(visible("emoji ✏️ ok"), "emoji ✏️ ok");
    assert!(matches!(visible("nothing"), Cow::Borrowed(_)));
    assert_eq!(visible_line("a\nb\r\nc\rd"), "a␊b␍␊c␍d");
    for s in HOSTILE {
        let v = visible_line(s);
        assert!(
            !v.chars().any(|c| is_hidden(c) || c == '\n'),
            "{s:?} -> {v:?}"
        );
        let v = visible(s);
        assert!(!v.chars().any(is_hidden), "{s:?} -> {v:?}");
    }
}

#[test]
fn a_lone_cr_breaks_the_shown_diff_line_with_its_sign() {
    // As `similar` writes it: a lone CR ends a line, the next starts with its sign.
    let diff = "--- a\n+++ b\n@@ -1 +1,2 @@\n-message: hi\n+message: hi\r+  - id: exfil\r+    commands: [curl evil]\n context\r\n";
    assert_eq!(
        visible_diff(diff),
        "--- a\n+++ b\n@@ -1 +1,2 @@\n-message: hi\n+message: hi␍\n+  - id: exfil␍\n+    commands: [curl evil]\n context\n"
    );
    // Nothing is lost and nothing stays hidden.
    for s in HOSTILE {
        let d = visible_diff(&format!("+{s}\n"));
        assert!(!d.chars().any(is_hidden), "{s:?} -> {d:?}");
    }
}

#[test]
fn hidden_characters_are_named_with_their_line() {
    assert_eq!(hidden_characters("plain\r\nwindows\r\n"), None);
    assert_eq!(
        hidden_characters("a\nb\rc\n\u{202e}d\re"),
        Some(
            "carriage return (U+000D) on line 2, right-to-left override (U+202E) on line 3".into()
        )
    );
    assert_eq!(
        hidden_characters("\x1b\u{200b}"),
        Some("escape (U+001B) on line 1, zero-width space (U+200B) on line 1".into())
    );
}

/// The text a code span shows, as CommonMark reads it back.
fn code_spans(md: &str) -> Vec<String> {
    Parser::new_ext(md, gfm())
        .filter_map(|e| match e {
            Event::Code(c) => Some(c.to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_code_span_holds_any_string_whole() {
    for s in HOSTILE {
        let md = format!("before {} after\n", md_code(s));
        no_markup(&md);
        let spans = code_spans(&md);
        let want = visible_line(s);
        // CommonMark strips one space on each side when both are there and the content is
        // not only spaces: the padding we add for backticks at an edge.
        let want_read = if want.starts_with(' ') && want.ends_with(' ') && !want.trim().is_empty() {
            want[1..want.len() - 1].to_string()
        } else {
            want.to_string()
        };
        assert_eq!(spans.len(), 1, "{s:?} -> {md:?}");
        assert!(
            spans[0] == want_read || spans[0] == *want || (s.is_empty() && spans[0] == " "),
            "{s:?}: {md:?} reads back as {:?}",
            spans[0]
        );
    }
}

#[test]
fn a_table_cell_holds_any_string_in_one_cell() {
    for s in HOSTILE {
        let md = format!("| a | b |\n|---|---|\n| {} | end |\n", md_cell(s));
        no_markup(&md);
        let mut cells = 0;
        let mut in_body = false;
        for ev in Parser::new_ext(&md, gfm()) {
            match ev {
                Event::End(TagEnd::TableHead) => in_body = true,
                Event::Start(Tag::TableCell) if in_body => cells += 1,
                _ => {}
            }
        }
        assert_eq!(cells, 2, "{s:?} -> {md:?}");
        assert_eq!(code_spans(&md).len(), 1, "{s:?} -> {md:?}");
    }
}

#[test]
fn a_fence_holds_any_text_whole() {
    let all = HOSTILE.join("\n");
    for s in HOSTILE.iter().copied().chain([all.as_str()]) {
        for info in ["", "diff", "yaml"] {
            let md = format!(
                "<details><summary>x</summary>\n\n{}\n</details>\n\nafter\n",
                md_fence(s, info)
            );
            let mut blocks = Vec::new();
            let mut cur: Option<String> = None;
            for ev in Parser::new_ext(&md, gfm()) {
                match ev {
                    Event::Start(Tag::CodeBlock(_)) => cur = Some(String::new()),
                    Event::Text(t) if cur.is_some() => cur.as_mut().unwrap().push_str(&t),
                    Event::End(TagEnd::CodeBlock) => blocks.extend(cur.take()),
                    Event::Start(Tag::Link { .. } | Tag::Image { .. }) => panic!("link in {md:?}"),
                    _ => {}
                }
            }
            assert_eq!(blocks.len(), 1, "{s:?} -> {md:?}");
            let want = if info == "diff" {
                visible_diff(s)
            } else {
                visible(s).into_owned()
            };
            let want = if want.is_empty() || want.ends_with('\n') {
                want
            } else {
                format!("{want}\n")
            };
            assert_eq!(blocks[0], want, "{s:?} ({info})");
        }
    }
}

#[test]
fn html_code_is_escaped_text_inside_an_html_block() {
    for s in HOSTILE {
        let h = html_code(s);
        let inner = h
            .strip_prefix("<code>")
            .and_then(|x| x.strip_suffix("</code>"))
            .unwrap();
        assert!(!inner.contains(['<', '>', '"', '\n']), "{s:?} -> {h}");
        // In a `<details>` HTML block, the line stays one raw HTML line.
        let md = format!("<details><summary>➕ {h} (1 line)</summary>\n\nbody\n\n</details>\n");
        let html: Vec<String> = Parser::new_ext(&md, gfm())
            .filter_map(|e| match e {
                Event::Html(t) => Some(t.to_string()),
                _ => None,
            })
            .collect();
        assert!(html.iter().any(|l| l.contains(&h)), "{s:?}: {html:?}");
    }
}
