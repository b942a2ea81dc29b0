//! The configured secrets, in every form the tool sends them, and [`scrub`], which removes
//! them from any text before it is shown. A proxy or a hostile server can echo a request
//! back (the password, the `Authorization` header, a URL with credentials) in an error body
//! or a flow's source; GitHub's runner masks only some forms and GitLab and a terminal mask
//! none, so the tool never relies on them.
//!
//! Secrets are registered once, when the options are read ([`register_cli`],
//! [`crate::settings::Settings::from_command`]), into one process-wide set; [`Secrets`] itself
//! is a plain value with a pure [`Secrets::scrub`], for tests. Forms registered for a secret
//! `s`: `s` (and trimmed), its percent-encodings (upper and lower hex, `%20` and `+`), its
//! JSON-string form; for a user and password, `base64(user:password)` in the standard and
//! URL-safe alphabets, with and without padding (so the `Basic …` header value). The Bearer
//! header value contains `s` itself. Each is replaced by [`REDACTED`].

use std::sync::{OnceLock, RwLock};

use base64::Engine as _;

/// What a secret is replaced with: inert in Markdown, HTML, JSON, YAML, URLs and workflow
/// commands (no `*`, `_`, `[`, `<`, `:`, `%`), and plainly not the secret.
pub const REDACTED: &str = "‹redacted›";

/// Secrets shorter than this are not scrubbed (a one-letter password would garble every
/// line); they are weak anyway and `kestra-sync` says nothing about them.
pub const MIN_LEN: usize = 3;

/// A set of secret forms, longest first so a form containing another is replaced whole.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    forms: Vec<String>,
}

impl Secrets {
    pub fn new() -> Secrets {
        Secrets::default()
    }

    /// Add a secret (a password, a token) in every form it can be sent.
    pub fn add(&mut self, secret: &str) {
        for s in [secret, secret.trim()] {
            if s.chars().count() < MIN_LEN {
                continue;
            }
            self.push(s.to_string());
            for encoded in percent_forms(s) {
                self.push(encoded);
            }
            if let Ok(json) = serde_json::to_string(s) {
                self.push(json.trim_matches('"').to_string());
            }
        }
    }

    /// Add a username and password pair: the password, and `base64(user:password)` as
    /// HTTP Basic authentication sends it.
    pub fn add_basic(&mut self, user: &str, password: &str) {
        self.add(password);
        if password.trim().chars().count() < MIN_LEN {
            return;
        }
        for pw in [password, password.trim()] {
            let pair = format!("{}:{pw}", user.trim());
            for engine in [
                &base64::engine::general_purpose::STANDARD,
                &base64::engine::general_purpose::STANDARD_NO_PAD,
                &base64::engine::general_purpose::URL_SAFE,
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ] {
                self.push(engine.encode(&pair));
            }
        }
    }

    fn push(&mut self, form: String) {
        if form.chars().count() < MIN_LEN || self.forms.contains(&form) {
            return;
        }
        self.forms.push(form);
        self.forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    }

    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// Every registered form (for tests that search outputs).
    pub fn forms(&self) -> &[String] {
        &self.forms
    }

    /// `text` with every form replaced by [`REDACTED`]; borrowed when none occurs.
    pub fn scrub<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        if !self.forms.iter().any(|f| text.contains(f.as_str())) {
            return std::borrow::Cow::Borrowed(text);
        }
        let mut out = text.to_string();
        for f in &self.forms {
            if out.contains(f.as_str()) {
                out = out.replace(f.as_str(), REDACTED);
            }
        }
        std::borrow::Cow::Owned(out)
    }
}

/// The percent-encodings of `s` a URL or a form may carry.
fn percent_forms(s: &str) -> Vec<String> {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    // RFC 3986 unreserved characters stay as they are.
    const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    let upper = utf8_percent_encode(s, COMPONENT).to_string();
    if upper == s {
        return Vec::new();
    }
    let lower = lower_hex(&upper);
    let plus = upper.replace("%20", "+");
    let form: String = url::form_urlencoded::byte_serialize(s.as_bytes()).collect();
    vec![upper, lower, plus, form]
}

/// `%2F` → `%2f`.
fn lower_hex(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let esc = rest.get(i..i + 3).unwrap_or(&rest[i..]);
        out.push_str(&esc.to_ascii_lowercase());
        rest = &rest[i + esc.len()..];
    }
    out.push_str(rest);
    out
}

fn global() -> &'static RwLock<Secrets> {
    static GLOBAL: OnceLock<RwLock<Secrets>> = OnceLock::new();
    GLOBAL.get_or_init(|| RwLock::new(Secrets::new()))
}

/// Register a secret for the whole process.
pub fn register(secret: &str) {
    if let Ok(mut s) = global().write() {
        s.add(secret);
    }
}

/// Register a user/password pair for the whole process.
pub fn register_basic(user: &str, password: &str) {
    if let Ok(mut s) = global().write() {
        s.add_basic(user, password);
    }
}

/// A copy of the process-wide set.
pub fn registered() -> Secrets {
    global().read().map(|s| s.clone()).unwrap_or_default()
}

/// `text` with every registered secret removed: call it on anything a server or a pull
/// request controls before showing it. The `untrusted` functions and every output
/// of `crate::out` already do.
pub fn scrub(text: &str) -> std::borrow::Cow<'_, str> {
    match global().read() {
        Ok(s) if !s.is_empty() => match s.scrub(text) {
            std::borrow::Cow::Borrowed(b) => std::borrow::Cow::Borrowed(b),
            std::borrow::Cow::Owned(o) => std::borrow::Cow::Owned(o),
        },
        _ => std::borrow::Cow::Borrowed(text),
    }
}

/// Register every secret the command line and the environment give: the Kestra password
/// (with its user) and API token, the git password (also inside `--git-url`), and the
/// GitHub and GitLab tokens (`GITHUB_TOKEN`, `GITLAB_TOKEN`, `CI_JOB_TOKEN` too, and the
/// `x-access-token:<token>` pair git uses over HTTPS).
pub fn register_cli(cli: &crate::cli::Cli) {
    use crate::cli::{Command, PreviewCommand};
    let (common, ci) = match &cli.command {
        Command::Plan(a) => (&a.common, None),
        Command::Apply(a) => (&a.common, None),
        Command::Validate(a) => (&a.common, None),
        Command::Ci(c) => (&c.common, Some(c)),
        Command::Preview(PreviewCommand::Apply(p) | PreviewCommand::Destroy(p)) => {
            (&p.common, None)
        }
        Command::Preview(PreviewCommand::Sweep(c)) => (&c.common, Some(c)),
    };
    register_sync_args(common);
    let mut tokens: Vec<String> = Vec::new();
    if let Some(c) = ci {
        tokens.extend(c.github_token.clone());
        tokens.extend(c.gitlab_token.clone());
    }
    for var in [
        "GITHUB_TOKEN",
        "KESTRA_SYNC_GITHUB_TOKEN",
        "GITLAB_TOKEN",
        "CI_JOB_TOKEN",
        "GH_TOKEN",
    ] {
        if let Ok(v) = std::env::var(var) {
            tokens.push(v);
        }
    }
    for t in tokens.iter().filter(|t| !t.trim().is_empty()) {
        register(t);
        register_basic("x-access-token", t);
        register_basic("oauth2", t);
    }
}

/// Register the Kestra and git secrets of one set of sync options.
pub fn register_sync_args(a: &crate::cli::CommonArgs) {
    if let Some(t) = &a.kestra_api_token {
        register(t);
    }
    if let Some(p) = &a.kestra_password {
        register_basic(a.kestra_username.as_deref().unwrap_or_default(), p);
    }
    if let Some(p) = &a.git_password {
        register_basic(a.git_username.as_deref().unwrap_or_default(), p);
    }
    if let Some(u) = a.git_url.as_deref().and_then(|u| url::Url::parse(u).ok()) {
        if let Some(p) = u.password() {
            let decoded = percent_encoding::percent_decode_str(p).decode_utf8_lossy();
            let user = percent_encoding::percent_decode_str(u.username()).decode_utf8_lossy();
            register_basic(&user, &decoded);
            register(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_the_tool_sends_is_scrubbed() {
        let mut s = Secrets::new();
        s.add_basic("ops@acme.example", "p@ss w/rd\"1");
        s.add("tok-123");
        let b64 = base64::engine::general_purpose::STANDARD.encode("ops@acme.example:p@ss w/rd\"1");
        let texts = [
            "raw p@ss w/rd\"1 end".to_string(),
            format!("Authorization: Basic {b64}"),
            "url https://u:p%40ss%20w%2Frd%221@h/".into(),
            "lower p%40ss%20w%2frd%221".into(),
            "form p%40ss+w%2Frd%221".into(),
            "json {\"password\":\"p@ss w/rd\\\"1\"}".into(),
            "Bearer tok-123".into(),
        ];
        for t in &texts {
            let out = s.scrub(t);
            assert!(out.contains(REDACTED), "{t} -> {out}");
            for f in s.forms() {
                assert!(!out.contains(f.as_str()), "{f} left in {out}");
            }
        }
        assert_eq!(s.scrub("nothing here"), "nothing here");
    }

    #[test]
    fn short_or_empty_secrets_are_ignored_and_trimmed_ones_count() {
        let mut s = Secrets::new();
        s.add("");
        s.add("ab");
        assert!(s.is_empty());
        s.add("  padded-secret\n");
        assert_eq!(s.scrub("x padded-secret y"), format!("x {REDACTED} y"));
    }

    #[test]
    fn the_replacement_is_inert_everywhere() {
        for c in [
            '*', '_', '[', ']', '<', '>', ':', '%', '`', '"', '\\', '@', '#', ',',
        ] {
            assert!(!REDACTED.contains(c), "{c}");
        }
    }
}
