//! Checkers for what untrusted text may do once printed, shared by the hostile-output tests
//! (use them for any new output: a failure comment, a blocker list, …):
//!
//! - [`runner_commands`]: GitHub's runner reading a log, as `actions/runner` does
//!   (`ActionCommandManager` + `ActionCommand`): lines split at CR, LF or CRLF
//!   (`StreamReader.ReadLine`); a `::name props::data` command after leading whitespace is
//!   trimmed, or a legacy `##[name props]data` anywhere in the line; `stop-commands` pauses
//!   everything until a command named by its token (case-insensitive). Returns the commands
//!   the runner would act on, and whether it ends stopped.
//! - [`markdown_findings`]: the rendered Markdown parsed with pulldown-cmark (GFM options), and
//!   every place where a sentinel string from untrusted content would render outside code: as
//!   text (where GitHub makes @mentions, #references and bare links), in a link or image, or in
//!   HTML outside a `<code>` element.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// Commands the runner registers (plus `stop-commands`).
const REGISTERED: &[&str] = &[
    "add-mask",
    "add-matcher",
    "add-path",
    "debug",
    "echo",
    "endgroup",
    "error",
    "group",
    "notice",
    "remove-matcher",
    "save-state",
    "set-env",
    "set-output",
    "stop-commands",
    "warning",
];

/// One command the runner acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerCommand {
    pub name: String,
    /// The property text (`file=a.yml,title=…`), still escaped.
    pub props: String,
    /// The data, still escaped.
    pub data: String,
    /// The whole line as the runner read it.
    pub line: String,
    /// Legacy `##[…]` form.
    pub legacy: bool,
}

/// The commands a GitHub runner acts on in `log`, and whether it is left stopped at the end.
pub fn runner_commands(log: &str) -> (Vec<RunnerCommand>, bool) {
    let mut out = Vec::new();
    let mut stop_token: Option<String> = None;
    let text = log.replace("\r\n", "\n");
    for line in text.split(['\n', '\r']) {
        let parsed =
            parse_v2(line, stop_token.as_deref()).or_else(|| parse_v1(line, stop_token.as_deref()));
        let Some(cmd) = parsed else { continue };
        match &stop_token {
            Some(t) => {
                if cmd.name.eq_ignore_ascii_case(t) {
                    stop_token = None;
                    out.push(cmd);
                }
            }
            None => {
                if cmd.name.eq_ignore_ascii_case("stop-commands") {
                    stop_token = Some(cmd.data.clone());
                }
                out.push(cmd);
            }
        }
    }
    (out, stop_token.is_some())
}

fn registered(name: &str, stop_token: Option<&str>) -> bool {
    REGISTERED.iter().any(|r| r.eq_ignore_ascii_case(name))
        || stop_token.is_some_and(|t| t.eq_ignore_ascii_case(name))
}

fn parse_v2(line: &str, stop_token: Option<&str>) -> Option<RunnerCommand> {
    // .NET's TrimStart trims Unicode white space, as Rust's trim_start does.
    let m = line.trim_start();
    let rest = m.strip_prefix("::")?;
    let end = rest.find("::")?;
    let info = &rest[..end];
    let (name, props) = match info.find(' ') {
        Some(i) => (&info[..i], info[i + 1..].trim()),
        None => (info, ""),
    };
    if !registered(name, stop_token) {
        return None;
    }
    Some(RunnerCommand {
        name: name.to_string(),
        props: props.to_string(),
        data: rest[end + 2..].to_string(),
        line: line.to_string(),
        legacy: false,
    })
}

fn parse_v1(line: &str, stop_token: Option<&str>) -> Option<RunnerCommand> {
    let start = line.find("##[")?;
    let rb = start + line[start..].find(']')?;
    let info = &line[start + 3..rb];
    let (name, props) = match info.find(' ') {
        Some(i) => (&info[..i], &info[i + 1..]),
        None => (info, ""),
    };
    if !registered(name, stop_token) {
        return None;
    }
    Some(RunnerCommand {
        name: name.to_string(),
        props: props.to_string(),
        data: line[rb + 1..].to_string(),
        line: line.to_string(),
        legacy: true,
    })
}

fn gfm() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_GFM
}

/// Where any of `sentinels` (strings only untrusted content carries) would render outside
/// code in `md`; empty when everything from outside is inert. `allowed_links`: the tool's
/// own link targets (the job log).
pub fn markdown_findings(md: &str, sentinels: &[&str], allowed_links: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let mut code_depth = 0usize;
    let hit = |s: &str| sentinels.iter().find(|x| s.contains(**x)).copied();
    for (ev, range) in Parser::new_ext(md, gfm()).into_offset_iter() {
        let at = || {
            let ctx: String = md[range.clone()].chars().take(120).collect();
            format!("{ctx:?}")
        };
        match &ev {
            Event::Start(Tag::CodeBlock(_)) => code_depth += 1,
            Event::End(TagEnd::CodeBlock) => code_depth = code_depth.saturating_sub(1),
            Event::Start(Tag::Link { dest_url, .. })
                if !allowed_links.iter().any(|a| dest_url.as_ref() == *a) =>
            {
                found.push(format!("a link to {dest_url:?} renders at {}", at()));
            }
            Event::Start(Tag::Image { dest_url, .. }) => {
                found.push(format!("an image {dest_url:?} renders at {}", at()))
            }
            Event::Text(t) if code_depth == 0 => {
                if let Some(s) = hit(t) {
                    found.push(format!(
                        "{s:?} renders as text (mention, reference, link) at {}",
                        at()
                    ));
                }
            }
            Event::Html(h) | Event::InlineHtml(h) => {
                // Only the tool's own tags; untrusted text only inside <code>…</code>.
                let outside = strip_code_elements(h);
                if let Some(s) = hit(&outside) {
                    found.push(format!("{s:?} in HTML outside <code> at {}", at()));
                }
                let lower = h.to_ascii_lowercase();
                for tag in [
                    "<img", "<a ", "<script", "<iframe", "<picture", "<source", "<video",
                ] {
                    if lower.contains(tag) {
                        found.push(format!("HTML {tag} renders at {}", at()));
                    }
                }
            }
            _ => {}
        }
    }
    // Inline HTML `<code>` in a paragraph does not stop Markdown: text between such tags is
    // still reported above, as it should be.
    found
}

/// `h` without the contents of its `<code>…</code>` elements.
fn strip_code_elements(h: &str) -> String {
    let mut out = String::new();
    let mut rest = h;
    while let Some(i) = rest.find("<code>") {
        out.push_str(&rest[..i]);
        match rest[i..].find("</code>") {
            Some(j) => rest = &rest[i + j + 7..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn the_runner_emulation_reads_as_the_runner_does() {
    let log = "  ::warning::a\nx ##[set-output name=y;]z\n::stop-commands::T1\n::error::hidden\n::t1::\n::notice::back\rafter\r::debug::cr-line\n::unknown::no\n::stop-commands::T2\n";
    let (cmds, stopped) = runner_commands(log);
    let names: Vec<&str> = cmds.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "warning",
            "set-output",
            "stop-commands",
            "t1",
            "notice",
            "debug",
            "stop-commands"
        ]
    );
    assert!(cmds[1].legacy);
    assert!(stopped);
}

#[test]
fn the_markdown_checker_sees_what_renders() {
    let sentinels = ["octocat", "evil"];
    assert!(markdown_findings(
        "`@octocat` and\n```\n[x](https://evil)\n```\n",
        &sentinels,
        &[]
    )
    .is_empty());
    assert_eq!(markdown_findings("hi @octocat", &sentinels, &[]).len(), 1);
    assert!(!markdown_findings("[x](https://evil)", &sentinels, &[]).is_empty());
    assert!(!markdown_findings("![x](https://evil)", &sentinels, &[]).is_empty());
    assert!(
        !markdown_findings("<details><summary>evil</summary>\n\nx\n", &sentinels, &[]).is_empty()
    );
    assert!(markdown_findings(
        "<details><summary><code>evil</code></summary>\n\nx\n",
        &sentinels,
        &[]
    )
    .is_empty());
}
