//! The pure part of the GitLab notes client: the merge request as GitLab CI describes it,
//! the API URLs (project paths URL-encoded, as git-cliff does), the note body within
//! GitLab's limit, pagination headers and error bodies. Table-tested, no I/O.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::header::HeaderMap;

use super::{GitLabError, NOTE_LIMIT, PER_PAGE};

/// Characters left as they are in a project path segment (RFC 3986 unreserved); everything
/// else, `/` included, is percent-encoded.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The merge request whose note we keep, as GitLab CI describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeRequest {
    /// `CI_API_V4_URL`, e.g. `https://gitlab.com/api/v4`.
    pub api_url: String,
    /// `CI_PROJECT_ID`: a numeric id or a `group/project` path.
    pub project: String,
    /// `CI_MERGE_REQUEST_IID`: the MR number within the project.
    pub iid: u64,
}

impl MergeRequest {
    /// The merge request from what the pipeline says (`ci::gitlab::Context`): the API URL
    /// (`CI_API_V4_URL`), the project (`CI_PROJECT_ID` or `CI_MERGE_REQUEST_PROJECT_ID`) and
    /// the IID (`CI_MERGE_REQUEST_IID`); errors name the variable to set. This module reads
    /// no environment.
    pub fn new(
        api_url: Option<&str>,
        project: Option<&str>,
        iid: Option<&str>,
    ) -> Result<MergeRequest, GitLabError> {
        let value = |name: &str| match name {
            "CI_API_V4_URL" => api_url,
            "CI_PROJECT_ID" => project,
            _ => iid,
        };
        let get = |name: &'static str, what: &str| {
            value(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| GitLabError::MissingVariable {
                    name,
                    what: what.to_string(),
                })
        };
        let api_url = get(
            "CI_API_V4_URL",
            "run inside GitLab CI, or set it to https://<gitlab host>/api/v4",
        )?;
        let project = get(
            "CI_PROJECT_ID",
            "run inside GitLab CI, or set it to the project id or path",
        )?;
        let iid_text = get(
            "CI_MERGE_REQUEST_IID",
            "notes are posted from merge request pipelines only (`rules: - if: $CI_PIPELINE_SOURCE == \"merge_request_event\"`)",
        )?;
        let iid = iid_text
            .parse::<u64>()
            .map_err(|_| GitLabError::InvalidVariable {
                name: "CI_MERGE_REQUEST_IID",
                value: iid_text.clone(),
                what: "expected the merge request number, e.g. 42".into(),
            })?;
        if url::Url::parse(&api_url).is_err() {
            return Err(GitLabError::InvalidVariable {
                name: "CI_API_V4_URL",
                value: api_url,
                what: "expected a URL such as https://gitlab.com/api/v4".into(),
            });
        }
        Ok(MergeRequest {
            api_url,
            project,
            iid,
        })
    }
}

/// `:id` of the project in an API path: numeric ids as they are, paths URL-encoded
/// (`group/sub/project` → `group%2Fsub%2Fproject`).
pub fn project_segment(project: &str) -> String {
    let project = project.trim().trim_matches('/');
    if !project.is_empty() && project.bytes().all(|b| b.is_ascii_digit()) {
        project.to_string()
    } else {
        utf8_percent_encode(project, PATH_SEGMENT).to_string()
    }
}

pub(super) fn api_base(api_url: &str) -> &str {
    api_url.trim().trim_end_matches('/')
}

/// `GET` the token's user.
pub fn user_url(api_url: &str) -> String {
    format!("{}/user", api_base(api_url))
}

/// The notes of the merge request (`POST` target, and the base of the listing).
pub fn notes_url(mr: &MergeRequest) -> String {
    format!(
        "{}/projects/{}/merge_requests/{}/notes",
        api_base(&mr.api_url),
        project_segment(&mr.project),
        mr.iid
    )
}

/// Page `page` (1-based) of the notes, oldest first.
pub fn notes_page_url(mr: &MergeRequest, page: usize) -> String {
    format!(
        "{}?per_page={PER_PAGE}&page={page}&sort=asc&order_by=created_at",
        notes_url(mr)
    )
}

/// One note (`PUT` target).
pub fn note_url(mr: &MergeRequest, note_id: u64) -> String {
    format!("{}/{note_id}", notes_url(mr))
}

/// The body as posted: starts with the marker (added if the caller's body lacks it) and
/// fits GitLab's limit, cut at a character boundary with a line saying so.
pub fn note_body(marker: &str, body: &str) -> String {
    let full = if body.starts_with(marker) {
        body.to_string()
    } else {
        format!("{marker}\n{body}")
    };
    if full.chars().count() <= NOTE_LIMIT {
        return full;
    }
    let tail = "\n\n---\n**Truncated**: this plan is longer than GitLab's 1,000,000-character limit for a note; the whole plan is in the job log.\n";
    let keep = NOTE_LIMIT.saturating_sub(tail.chars().count());
    let mut out: String = full.chars().take(keep).collect();
    out.push_str(tail);
    out
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum NextPage {
    Page(usize),
    /// `X-Next-Page` present and empty: this was the last page.
    Last,
    Unknown,
}

pub(super) fn next_page(headers: &HeaderMap) -> NextPage {
    match headers.get("x-next-page").and_then(|v| v.to_str().ok()) {
        None => NextPage::Unknown,
        Some(v) if v.trim().is_empty() => NextPage::Last,
        Some(v) => v
            .trim()
            .parse()
            .map(NextPage::Page)
            .unwrap_or(NextPage::Last),
    }
}

/// GitLab errors are `{"message": …}` or `{"error": …, "error_description": …}`.
pub(super) fn error_message(text: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(text).ok();
    let from_json = parsed.as_ref().and_then(|v| {
        let pick = |k: &str| {
            v.get(k).filter(|x| !x.is_null()).map(|x| match x {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        };
        pick("message")
            .or_else(|| pick("error_description"))
            .or_else(|| pick("error"))
    });
    let msg = from_json.unwrap_or_else(|| text.trim().to_string());
    let mut short: String = msg.chars().take(300).collect();
    if short.len() < msg.len() {
        short.push('…');
    }
    short
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn mr(api: &str, project: &str) -> MergeRequest {
        MergeRequest {
            api_url: api.into(),
            project: project.into(),
            iid: 42,
        }
    }

    #[test]
    fn project_segments() {
        for (project, expected) in [
            ("123", "123"),
            (" 123 ", "123"),
            ("acme/flows", "acme%2Fflows"),
            ("acme/sub.group/my-flows_2", "acme%2Fsub.group%2Fmy-flows_2"),
            ("/acme/flows/", "acme%2Fflows"),
            ("ac me/fl#ows?x", "ac%20me%2Ffl%23ows%3Fx"),
            ("groupé/projet", "group%C3%A9%2Fprojet"),
        ] {
            assert_eq!(project_segment(project), expected, "{project}");
        }
    }

    #[test]
    fn urls() {
        let m = mr("https://gitlab.example.com/api/v4/", "acme/flows");
        assert_eq!(
            user_url(&m.api_url),
            "https://gitlab.example.com/api/v4/user"
        );
        assert_eq!(
            notes_url(&m),
            "https://gitlab.example.com/api/v4/projects/acme%2Fflows/merge_requests/42/notes"
        );
        assert_eq!(
            notes_page_url(&m, 3),
            "https://gitlab.example.com/api/v4/projects/acme%2Fflows/merge_requests/42/notes?per_page=100&page=3&sort=asc&order_by=created_at"
        );
        assert_eq!(
            note_url(&mr("https://gitlab.com/api/v4", "77"), 9001),
            "https://gitlab.com/api/v4/projects/77/merge_requests/42/notes/9001"
        );
    }

    #[test]
    fn merge_request_from_the_pipeline() {
        let api = Some("https://gitlab.com/api/v4");
        let ok = MergeRequest::new(api, Some("123"), Some("7")).unwrap();
        assert_eq!(
            ok,
            MergeRequest {
                api_url: "https://gitlab.com/api/v4".into(),
                project: "123".into(),
                iid: 7
            }
        );
        let err = MergeRequest::new(api, Some("123"), None)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("CI_MERGE_REQUEST_IID is not set"), "{err}");
        let err = MergeRequest::new(api, Some("123"), Some("!7"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("CI_MERGE_REQUEST_IID `!7` is not valid"),
            "{err}"
        );
    }

    #[test]
    fn body_gets_the_marker_and_fits_the_limit() {
        let marker = "<!-- kestra-sync:plan target=prod@h -->";
        assert_eq!(note_body(marker, "plan"), format!("{marker}\nplan"));
        let with = format!("{marker}\n### plan");
        assert_eq!(note_body(marker, &with), with);
        // Multi-byte characters: the limit counts characters, and the cut is on a boundary.
        let huge = format!("{marker}\n{}", "é".repeat(NOTE_LIMIT + 10));
        let fitted = note_body(marker, &huge);
        assert_eq!(fitted.chars().count(), NOTE_LIMIT);
        assert!(fitted.starts_with(marker));
        assert!(fitted.ends_with("the whole plan is in the job log.\n"));
        let exact = format!("{marker}\n{}", "x".repeat(NOTE_LIMIT - marker.len() - 1));
        assert_eq!(note_body(marker, &exact), exact);
    }

    #[test]
    fn pagination_headers() {
        let h = |v: Option<&str>| {
            let mut m = HeaderMap::new();
            if let Some(v) = v {
                m.insert("x-next-page", HeaderValue::from_str(v).unwrap());
            }
            m
        };
        assert_eq!(next_page(&h(Some("3"))), NextPage::Page(3));
        assert_eq!(next_page(&h(Some(""))), NextPage::Last);
        assert_eq!(next_page(&h(None)), NextPage::Unknown);
        assert_eq!(next_page(&h(Some("x"))), NextPage::Last);
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            error_message(r#"{"message":"403 Forbidden"}"#),
            "403 Forbidden"
        );
        assert_eq!(
            error_message(
                r#"{"error":"insufficient_scope","error_description":"The request requires higher privileges"}"#
            ),
            "The request requires higher privileges"
        );
        assert_eq!(
            error_message(r#"{"message":{"note":["is too long"]}}"#),
            r#"{"note":["is too long"]}"#
        );
        assert_eq!(error_message("  oops \n"), "oops");
        assert_eq!(error_message(&"x".repeat(1000)).chars().count(), 301);
    }
}
