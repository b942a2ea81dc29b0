//! The user's inputs to a clone, checked and made safe to show: the URL (refused when it
//! carries credentials), the branch name (refused when git could read it as an option), the
//! credentials, and the scrubber that removes every form of the secret from git's output.

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};

use super::GitSource;
use super::{GitError, DEFAULT_TOKEN_USERNAME};

/// The remote URL, checked, and its forms safe to show.
#[derive(Debug, Clone)]
pub(super) struct Remote {
    /// What git is given (no userinfo).
    pub(super) url: String,
    /// What users are shown: scheme, host, port and path only.
    pub(super) display: String,
    /// `scheme://host[:port]`, the scope of the credential helper.
    pub(super) origin: String,
    /// A query string may carry a token: never shown.
    query: Option<String>,
}

impl Remote {
    pub(super) fn parse(raw: &str) -> Result<Remote, GitError> {
        let raw = raw.trim();
        // Any `@` after the scheme is taken for credentials, even when a `/`, `?` or `#` in
        // the password makes the URL parse as something else (`https://u:12/x@host`).
        if redact_userinfo(raw) != raw {
            return Err(GitError::CredentialsInUrl {
                url: redact_userinfo(raw),
            });
        }
        let parsed = match url::Url::parse(raw) {
            Ok(parsed) => parsed,
            Err(e) => {
                return Err(GitError::InvalidUrl {
                    url: raw.to_string(),
                    why: e.to_string(),
                })
            }
        };
        if !matches!(parsed.scheme(), "https" | "http") {
            return Err(GitError::UnsupportedScheme {
                url: redact_userinfo(raw),
                scheme: parsed.scheme().to_string(),
            });
        }
        let host = parsed.host_str().unwrap_or_default();
        if host.is_empty() {
            return Err(GitError::InvalidUrl {
                url: raw.to_string(),
                why: "no host".into(),
            });
        }
        let origin = match parsed.port() {
            Some(port) => format!("{}://{host}:{port}", parsed.scheme()),
            None => format!("{}://{host}", parsed.scheme()),
        };
        let display = format!("{origin}{}", parsed.path());
        Ok(Remote {
            url: parsed.to_string(),
            display,
            origin,
            query: parsed.query().filter(|q| !q.is_empty()).map(String::from),
        })
    }
}

/// `scheme://anything@host/path?query` → `scheme://***@host/path` (unchanged without `@`).
fn redact_userinfo(s: &str) -> String {
    match (s.find("://"), s.rfind('@')) {
        (Some(start), Some(at)) if at > start => {
            let rest = &s[at..];
            let rest = rest.split(['?', '#']).next().unwrap_or(rest);
            format!("{}***{rest}", &s[..start + 3])
        }
        _ => s.to_string(),
    }
}

/// A branch name git will accept as `--branch`, refusing what could be read as an option.
pub(super) fn check_branch(branch: &str) -> Result<(), GitError> {
    let why = if branch.is_empty() {
        Some("it is empty")
    } else if branch.starts_with('-') {
        Some("it starts with `-`")
    } else if branch.contains("..") || branch.contains("@{") || branch.ends_with(".lock") {
        Some("it contains `..` or `@{` or ends with `.lock`")
    } else if branch.starts_with('/') || branch.ends_with('/') || branch.ends_with('.') {
        Some("it starts or ends with `/`, or ends with `.`")
    } else if branch
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(c))
    {
        Some("it contains a space, a control character or one of ~ ^ : ? * [ \\")
    } else {
        None
    };
    match why {
        Some(why) => Err(GitError::InvalidBranch {
            branch: branch.to_string(),
            why: why.to_string(),
        }),
        None => Ok(()),
    }
}

/// HTTP credentials for the clone.
pub(super) struct Credentials {
    pub(super) username: String,
    pub(super) password: SecretString,
}

impl Credentials {
    pub(super) fn from_source(src: &GitSource) -> Result<Option<Credentials>, GitError> {
        let bad = |s: &str| s.contains(['\n', '\r', '\0']);
        if src.username.as_deref().is_some_and(bad) {
            return Err(GitError::InvalidCredential { which: "username" });
        }
        if src
            .password
            .as_ref()
            .is_some_and(|p| bad(p.expose_secret()))
        {
            return Err(GitError::InvalidCredential { which: "password" });
        }
        Ok(match (&src.username, &src.password) {
            (_, None) => None,
            (user, Some(password)) => Some(Credentials {
                username: user
                    .clone()
                    .unwrap_or_else(|| DEFAULT_TOKEN_USERNAME.to_string()),
                password: password.clone(),
            }),
        })
    }
}

/// Removes every form of the secret git could print: the password itself, percent-encoded,
/// as `user:password` in Base64, and any `user:pass@` in URLs.
pub(super) struct Scrubber {
    secrets: Vec<String>,
    remote_url: String,
    remote_display: String,
}

impl Scrubber {
    pub(super) fn new(remote: &Remote, credentials: Option<&Credentials>) -> Scrubber {
        let mut secrets: Vec<String> = remote.query.iter().cloned().collect();
        if let Some(c) = credentials {
            let password = c.password.expose_secret();
            if !password.is_empty() {
                let b64 = base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{password}", c.username));
                secrets.push(b64);
                secrets.push(
                    percent_encoding::utf8_percent_encode(
                        password,
                        percent_encoding::NON_ALPHANUMERIC,
                    )
                    .to_string(),
                );
                secrets.push(password.to_string());
            }
        }
        // Longest first, so a secret inside another is not half-replaced.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Scrubber {
            secrets,
            remote_url: remote.url.clone(),
            remote_display: remote.display.clone(),
        }
    }

    pub(super) fn scrub(&self, text: &str) -> String {
        let mut out = text.replace(&self.remote_url, &self.remote_display);
        for s in &self.secrets {
            out = out.replace(s.as_str(), "***");
        }
        scrub_url_userinfo(&out)
    }
}

/// `https://user:pass@host` → `https://***@host`, anywhere in a text.
fn scrub_url_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || "/'\"<>".contains(c))
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str("***");
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::git::tests_support::*;

    #[test]
    fn url_with_credentials_is_refused_without_echoing_them() {
        for url in [
            format!("https://alice:{PASSWORD}@git.example.com/acme/flows.git"),
            format!("https://{PASSWORD}@git.example.com/acme/flows.git"),
            format!("https://alice:{PASSWORD}@git.example.com/acme/flows.git?x=1"),
            "https://alice:1234/s3cr3t@git.example.com/acme/flows.git".to_string(),
            "https://alice:s3cr3t?x@git.example.com/acme/flows.git".to_string(),
        ] {
            let err = Remote::parse(&url).unwrap_err();
            let msg = err.to_string();
            assert!(matches!(err, GitError::CredentialsInUrl { .. }), "{msg}");
            assert!(!msg.contains(PASSWORD) && !msg.contains("s3cr3t"), "{msg}");
            assert!(msg.contains("--git-username / --git-password"), "{msg}");
            assert!(msg.contains("KESTRA_SYNC_GIT_PASSWORD"), "{msg}");
            assert!(
                msg.contains("https://***@git.example.com/acme/flows.git`"),
                "{msg}"
            );
        }
    }

    #[test]
    fn unparsable_and_non_http_urls_are_refused() {
        let err = Remote::parse("git@github.com:acme/flows.git").unwrap_err();
        assert!(matches!(err, GitError::InvalidUrl { .. }), "{err}");
        let err = Remote::parse("ssh://github.com/acme/flows.git").unwrap_err();
        assert!(matches!(err, GitError::UnsupportedScheme { .. }), "{err}");
        let err = Remote::parse("ext::sh -c touch% /tmp/pwned").unwrap_err();
        assert!(!matches!(err, GitError::CredentialsInUrl { .. }), "{err}");
        let err = Remote::parse(&format!("not a url://u:{PASSWORD}@x")).unwrap_err();
        assert!(!err.to_string().contains(PASSWORD), "{err}");
        assert!(matches!(err, GitError::CredentialsInUrl { .. }), "{err}");
    }

    #[test]
    fn remote_forms() {
        let r = Remote::parse(" https://git.example.com:8443/acme/flows.git?ref=x#frag ").unwrap();
        assert_eq!(r.origin, "https://git.example.com:8443");
        assert_eq!(r.display, "https://git.example.com:8443/acme/flows.git");
        assert_eq!(
            r.url,
            "https://git.example.com:8443/acme/flows.git?ref=x#frag"
        );
    }

    #[test]
    fn branch_names() {
        for ok in ["main", "release/1.2", "feature_x-y", "v1.0"] {
            assert!(check_branch(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-b",
            "--upload-pack=evil",
            "a..b",
            "a b",
            "x.lock",
            "a:b",
            "a\nb",
            "/a",
            "a/",
        ] {
            assert!(
                matches!(check_branch(bad), Err(GitError::InvalidBranch { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn token_alone_gets_a_default_user_name() {
        let src = source("https://h/r.git", None, Some(PASSWORD));
        let c = Credentials::from_source(&src).unwrap().unwrap();
        assert_eq!(c.username, DEFAULT_TOKEN_USERNAME);
        assert!(
            Credentials::from_source(&source("https://h/r.git", Some("bob"), None))
                .unwrap()
                .is_none()
        );
        let err = Credentials::from_source(&source("https://h/r.git", None, Some("a\nb")))
            .err()
            .unwrap();
        assert!(err.to_string().contains("--git-password"));
        assert!(!err.to_string().contains("a\nb"));
    }

    #[test]
    fn scrubbing_removes_every_form_of_the_secret() {
        let remote = Remote::parse("https://git.example.com/acme/flows.git?t=abc").unwrap();
        let src = source(&remote.url, Some("alice"), Some(PASSWORD));
        let creds = Credentials::from_source(&src).unwrap();
        let s = Scrubber::new(&remote, creds.as_ref());
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("alice:{PASSWORD}"));
        let encoded =
            percent_encoding::utf8_percent_encode(PASSWORD, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let noisy = format!(
            "fatal: unable to access 'https://alice:{encoded}@git.example.com/acme/flows.git?t=abc/': {PASSWORD}\n\
             > Authorization: Basic {b64}\nhttps://bob:other@x.example/ and 'https://ok.example/p'"
        );
        let clean = s.scrub(&noisy);
        for needle in [PASSWORD, b64.as_str(), encoded.as_str(), "other", "t=abc"] {
            assert!(!clean.contains(needle), "{needle} in {clean}");
        }
        assert!(
            clean.contains("https://***@git.example.com/acme/flows.git"),
            "{clean}"
        );
        assert!(clean.contains("https://***@x.example/"), "{clean}");
        assert!(clean.contains("'https://ok.example/p'"), "{clean}");
    }
}
