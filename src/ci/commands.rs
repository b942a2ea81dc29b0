//! GitHub Actions' side channels, written exactly as the runner parses them: workflow
//! commands on stdout (`::add-mask::`, `::group::`, `::error file=…,line=…::`), step outputs
//! in `GITHUB_OUTPUT` (multi-line values between a random delimiter that the value cannot
//! contain), and the job summary in `GITHUB_STEP_SUMMARY` (1 MiB per step). Each function
//! returns the text so it can be tested; the caller prints or appends it.

use std::io::Write as _;
use std::path::Path;

pub use super::Level;
use crate::flow::Problem;
use crate::model::Validation;
use crate::untrusted;

/// GitHub's cap on one step's summary.
pub const SUMMARY_LIMIT: usize = 1024 * 1024;

/// Escape a command's message (the runner unescapes `%25`, `%0D`, `%0A`).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escape a command property value: as data, plus `:` and `,`.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `::name k=v,k=v::message` with a trailing newline. What it carries may come from a pull
/// request or a server: property values are shown on one line and the message with its line
/// breaks, every hidden character visible ([`untrusted`]) and every secret scrubbed, before
/// the runner's escaping.
pub fn command(name: &str, props: &[(&str, String)], message: &str) -> String {
    let props: Vec<(&str, String)> = props
        .iter()
        .map(|(k, v)| (*k, untrusted::visible_line(v).into_owned()))
        .collect();
    raw_command(name, &props, &untrusted::visible(message))
}

/// [`command`] without making anything visible nor scrubbing it: for `::add-mask::`, which
/// must name the secret.
fn raw_command(name: &str, props: &[(&str, String)], message: &str) -> String {
    let props: Vec<String> = props
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", escape_property(v)))
        .collect();
    let sep = if props.is_empty() { "" } else { " " };
    format!(
        "::{name}{sep}{}::{}\n",
        props.join(","),
        escape_data(message)
    )
}

/// `::add-mask::` lines for a secret: one per non-empty line, since the runner masks line by
/// line (a multi-line secret masked whole leaks its lines).
pub fn add_mask(secret: &str) -> String {
    secret
        .split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| raw_command("add-mask", &[], l))
        .collect()
}

pub fn group(title: &str) -> String {
    command("group", &[], title)
}

pub fn endgroup() -> String {
    "::endgroup::\n".to_string()
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
        }
    }
}

/// An annotation, optionally on a file (relative to the workspace) and line.
pub fn annotation(
    level: Level,
    file: Option<&str>,
    line: Option<usize>,
    title: Option<&str>,
    message: &str,
) -> String {
    let mut props = Vec::new();
    if let Some(f) = file {
        props.push(("file", f.to_string()));
        if let Some(l) = line {
            props.push(("line", l.to_string()));
        }
    }
    if let Some(t) = title {
        props.push(("title", t.to_string()));
    }
    command(level.name(), &props, message)
}

/// A local problem of a flow file as an error on its file and line.
pub fn problem(p: &Problem) -> String {
    annotation(
        Level::Error,
        Some(&p.file),
        p.line,
        Some("kestra-sync: invalid flow"),
        &p.message,
    )
}

/// The server's verdict on one flow: an error per violation, a warning per warning.
pub fn validation(v: &Validation) -> String {
    let mut out = String::new();
    for e in &v.errors {
        out.push_str(&annotation(
            Level::Error,
            Some(&v.git_path),
            None,
            Some("Kestra refused this flow"),
            e,
        ));
    }
    for w in &v.warnings {
        out.push_str(&annotation(
            Level::Warning,
            Some(&v.git_path),
            None,
            Some("Kestra warning"),
            w,
        ));
    }
    out
}

/// One `GITHUB_OUTPUT` entry: `name=value`, or for a value with a line break
/// `name<<DELIM\nvalue\nDELIM` with a random delimiter absent from the value.
pub fn output_entry(name: &str, value: &str) -> String {
    if !value.contains('\n') && !value.contains('\r') {
        return format!("{name}={value}\n");
    }
    let delimiter = loop {
        let d = format!("ghadelimiter_{:032x}", rand::random::<u128>());
        if !value.contains(&d) {
            break d;
        }
    };
    format!("{name}<<{delimiter}\n{value}\n{delimiter}\n")
}

/// Append `entries` to the `GITHUB_OUTPUT` file.
pub fn write_outputs(path: &Path, entries: &[(&str, String)]) -> std::io::Result<()> {
    let text: String = entries
        .iter()
        .map(|(k, v)| output_entry(k, &crate::secrets::scrub(v)))
        .collect();
    append(path, &text)
}

/// Append Markdown to the `GITHUB_STEP_SUMMARY` file, keeping the step under its 1 MiB: the
/// caller renders with [`summary_room`] as the limit.
pub fn append_summary(path: &Path, markdown: &str) -> std::io::Result<()> {
    append(path, &crate::secrets::scrub(markdown))
}

/// Bytes left in the step summary file.
pub fn summary_room(path: &Path) -> usize {
    let used = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    SUMMARY_LIMIT.saturating_sub(usize::try_from(used).unwrap_or(usize::MAX))
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_and_properties_are_escaped_as_the_runner_unescapes() {
        assert_eq!(escape_data("100% done\r\nnext"), "100%25 done%0D%0Anext");
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
        assert_eq!(
            annotation(
                Level::Error,
                Some("_flows/a,b:c.yml"),
                Some(7),
                Some("t: x"),
                "bad\nvalue 5%"
            ),
            "::error file=_flows/a%2Cb%3Ac.yml,line=7,title=t%3A x::bad%0Avalue 5%25\n"
        );
        assert_eq!(
            annotation(Level::Warning, None, Some(3), None, "w"),
            "::warning::w\n"
        );
        assert_eq!(group("Plan: prod"), "::group::Plan: prod\n");
    }

    #[test]
    fn multi_line_secrets_are_masked_line_by_line() {
        assert_eq!(add_mask("s3cr%t"), "::add-mask::s3cr%25t\n");
        assert_eq!(
            add_mask("line1\r\nline2\n\n"),
            "::add-mask::line1\n::add-mask::line2\n"
        );
        assert_eq!(add_mask(""), "");
    }

    #[test]
    fn problems_and_server_verdicts_become_annotations() {
        let p = Problem {
            file: "_flows/a.yml".into(),
            line: Some(4),
            message: "`id` is missing".into(),
        };
        assert_eq!(
            problem(&p),
            "::error file=_flows/a.yml,line=4,title=kestra-sync%3A invalid flow::`id` is missing\n"
        );
        let v = Validation {
            git_path: "_flows/b.yml".into(),
            errors: vec!["tasks[0].type: unknown".into()],
            warnings: vec!["subflow x/y not found".into()],
            infos: vec![],
        };
        assert_eq!(
            validation(&v),
            "::error file=_flows/b.yml,title=Kestra refused this flow::tasks[0].type: unknown\n::warning file=_flows/b.yml,title=Kestra warning::subflow x/y not found\n"
        );
    }

    #[test]
    fn outputs_use_a_delimiter_the_value_cannot_contain() {
        assert_eq!(output_entry("added", "3"), "added=3\n");
        let v = "line1\nghadelimiter_x\nline3";
        let e = output_entry("plan", v);
        let first = e.lines().next().unwrap_or_default();
        let delim = first.strip_prefix("plan<<").unwrap_or_default();
        assert!(
            delim.starts_with("ghadelimiter_") && delim.len() > 20,
            "{first}"
        );
        assert!(!v.contains(delim));
        assert_eq!(e, format!("plan<<{delim}\n{v}\n{delim}\n"));
        // Two values never share a delimiter.
        assert_ne!(output_entry("a", "x\ny"), output_entry("a", "x\ny"));
    }

    #[test]
    fn outputs_and_summary_append() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        std::fs::write(&out, "earlier=1\n").unwrap();
        write_outputs(
            &out,
            &[("has-changes", "true".into()), ("added", "2".into())],
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "earlier=1\nhas-changes=true\nadded=2\n"
        );
        let summary = dir.path().join("summary");
        assert_eq!(summary_room(&summary), SUMMARY_LIMIT);
        append_summary(&summary, "### hi\n").unwrap();
        assert_eq!(summary_room(&summary), SUMMARY_LIMIT - 7);
    }
}
