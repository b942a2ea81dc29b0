//! Where Kestra's endpoints are: the base URL as users give it (with or without a trailing
//! `/`, `/api/v1` or `/ui`), the path form chosen from the server version (tenanted
//! `/api/v1/{tenant}/flows` since 0.23, `/api/v1/flows` before), and URLs with every
//! namespace and id percent-encoded as one path segment. Pure functions, table-tested.

use url::Url;

use super::KestraError;

/// The tenant of Kestra OSS (and the default of EE) since 0.23.
pub const DEFAULT_TENANT: &str = "main";

/// What to write instead of a `--kestra-url` that is not an `http(s)://` URL: the same text
/// with a scheme (`localhost:8080` -> `http://localhost:8080`), unless it holds an `@` (maybe
/// credentials: never echoed) or a scheme of its own.
pub fn url_advice(raw: &str) -> String {
    let raw = raw.trim();
    let plain = !raw.is_empty()
        && !raw.contains(['@', ' '])
        && !raw.contains("://")
        && raw.chars().all(|c| c.is_ascii_graphic());
    if plain {
        format!(
            "--kestra-url (KESTRA_URL) must start with http:// or https://: write `http://{raw}` or `https://{raw}`, as in the browser's address bar"
        )
    } else {
        "--kestra-url (KESTRA_URL) must be an http:// or https:// URL, the address Kestra's UI opens at, e.g. https://kestra.example.com".to_string()
    }
}

/// Normalise `--kestra-url` to the server root, always ending with `/`:
/// `https://k.example.com/api/v1/` → `https://k.example.com/`. A path prefix (a server behind
/// a reverse proxy at `/kestra/`) is kept. Credentials in the URL are refused (they would end
/// up in logs); the query and fragment are dropped.
pub fn normalize_base(raw: &str) -> Result<Url, KestraError> {
    let raw = raw.trim();
    let mut url = Url::parse(raw).map_err(|_| KestraError::Invalid(url_advice(raw)))?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(KestraError::Invalid(url_advice(raw)));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(KestraError::Invalid(
            "--kestra-url must not contain credentials: pass them with --kestra-username/--kestra-password or --kestra-api-token".into(),
        ));
    }
    url.set_query(None);
    url.set_fragment(None);
    let mut segments: Vec<String> = url
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).map(str::to_string).collect())
        .unwrap_or_default();
    // What people paste: the UI address (any page of it: `/ui/main/flows/…`), or the API root.
    if let Some(ui) = segments.iter().position(|s| s == "ui") {
        segments.truncate(ui);
    }
    if segments.len() >= 2
        && segments[segments.len() - 2] == "api"
        && segments[segments.len() - 1] == "v1"
    {
        segments.truncate(segments.len() - 2);
    }
    let mut path = String::from("/");
    for s in &segments {
        path.push_str(s);
        path.push('/');
    }
    url.set_path(&path);
    Ok(url)
}

/// `major.minor` of a Kestra version string: `"0.22.5"`, `"v1.3.0"`, `"1.3.0-SNAPSHOT"`.
pub fn parse_version(version: &str) -> Option<(u64, u64)> {
    let v = version.trim().trim_start_matches(['v', 'V']);
    let mut parts = v.split('.');
    let number = |s: Option<&str>| -> Option<u64> {
        let s = s?;
        let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    let major = number(parts.next())?;
    let minor = number(parts.next())?;
    Some((major, minor))
}

/// The tenant for paths when none was given: `main` on Kestra ≥ 0.23, none (untenanted
/// `/api/v1/flows`) on 0.22 and before. An unknown or unreadable version counts as new.
pub fn detect_tenant(version: Option<&str>) -> Option<String> {
    match version.and_then(parse_version) {
        Some((0, minor)) if minor <= 22 => None,
        _ => Some(DEFAULT_TENANT.to_string()),
    }
}

/// The API of one server: root URL and path form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiPaths {
    /// Normalised root, ending with `/` (see [`normalize_base`]).
    pub root: Url,
    /// `Some` for `/api/v1/{tenant}/…`, `None` for the untenanted form.
    pub tenant: Option<String>,
}

impl ApiPaths {
    /// `{root}api/v1/configs`: untenanted in every version.
    pub fn configs(root: &Url) -> Result<Url, KestraError> {
        join(root, &["api", "v1", "configs"])
    }

    /// `{root}api/v1[/{tenant}]/flows/{segments…}`, each segment percent-encoded.
    pub fn flows(&self, segments: &[&str]) -> Result<Url, KestraError> {
        let mut all: Vec<&str> = vec!["api", "v1"];
        if let Some(t) = &self.tenant {
            all.push(t);
        }
        all.push("flows");
        all.extend_from_slice(segments);
        join(&self.root, &all)
    }
}

impl ApiPaths {
    /// The namespace's page in the Kestra UI: `{root}ui[/{tenant}]/namespaces/edit/{namespace}`
    /// (docs/kestra.md, "UI links").
    pub fn ui_namespace(&self, namespace: &str) -> Result<Url, KestraError> {
        let mut all: Vec<&str> = vec!["ui"];
        if let Some(t) = &self.tenant {
            all.push(t);
        }
        all.extend_from_slice(&["namespaces", "edit", namespace]);
        join(&self.root, &all)
    }

    /// `{root}api/v1[/{tenant}]/namespaces/{namespace}/files{/suffix…}`.
    pub fn namespace_files(&self, namespace: &str, suffix: &[&str]) -> Result<Url, KestraError> {
        let mut all: Vec<&str> = vec!["api", "v1"];
        if let Some(t) = &self.tenant {
            all.push(t);
        }
        all.extend_from_slice(&["namespaces", namespace, "files"]);
        all.extend_from_slice(suffix);
        join(&self.root, &all)
    }
}

/// Append path segments, each encoded as one segment (`/` → `%2F`). Empty, `.` and `..`
/// segments are refused: the `url` crate would silently drop them, turning
/// `DELETE /flows/ns/..` into `DELETE /flows/ns`.
fn join(root: &Url, segments: &[&str]) -> Result<Url, KestraError> {
    if let Some(bad) = segments
        .iter()
        .find(|s| s.is_empty() || **s == "." || **s == "..")
    {
        return Err(KestraError::Invalid(format!(
            "refusing to build a Kestra URL with the path segment `{bad}`: namespaces and flow ids must not be empty, `.` or `..`"
        )));
    }
    let mut url = root.clone();
    url.path_segments_mut()
        .map_err(|()| KestraError::Invalid(format!("{root} cannot be a base URL")))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ui_links_of_a_namespace_follow_the_uis_routes() {
        let root = normalize_base("http://localhost:8080/kestra/api/v1").unwrap();
        let tenanted = ApiPaths {
            root: root.clone(),
            tenant: Some("main".into()),
        };
        assert_eq!(
            tenanted.ui_namespace("prod-pr-7").unwrap().as_str(),
            "http://localhost:8080/kestra/ui/main/namespaces/edit/prod-pr-7"
        );
        let untenanted = ApiPaths { root, tenant: None };
        assert_eq!(
            untenanted
                .ui_namespace("prod-pr-7.finance")
                .unwrap()
                .as_str(),
            "http://localhost:8080/kestra/ui/namespaces/edit/prod-pr-7.finance"
        );
        // No query or fragment of the pasted URL; a tenant is one escaped path segment.
        let odd = ApiPaths {
            root: normalize_base("https://k.example.com/?x=1#f").unwrap(),
            tenant: Some("a b>".into()),
        };
        assert_eq!(
            odd.ui_namespace("n").unwrap().as_str(),
            "https://k.example.com/ui/a%20b%3E/namespaces/edit/n"
        );
    }

    #[test]
    fn base_urls_are_normalised_to_the_root() {
        let cases = [
            ("https://k.example.com", "https://k.example.com/"),
            ("https://k.example.com/", "https://k.example.com/"),
            ("https://k.example.com//", "https://k.example.com/"),
            ("https://k.example.com/api/v1", "https://k.example.com/"),
            ("https://k.example.com/api/v1/", "https://k.example.com/"),
            ("https://k.example.com/ui/", "https://k.example.com/"),
            (
                "http://localhost:8080/kestra/api/v1",
                "http://localhost:8080/kestra/",
            ),
            (
                "http://localhost:8080/kestra/ui",
                "http://localhost:8080/kestra/",
            ),
            ("https://k.example.com/?x=1#y", "https://k.example.com/"),
            // the browser's address bar on any UI page
            (
                "https://k.example.com/ui/main/flows/edit/prod/hello",
                "https://k.example.com/",
            ),
            (
                "http://localhost:8080/kestra/ui/main/flows?namespace=prod",
                "http://localhost:8080/kestra/",
            ),
            (" https://k.example.com ", "https://k.example.com/"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_base(input).unwrap().as_str(), want, "{input}");
        }
    }

    #[test]
    fn bad_base_urls_are_refused_without_echoing_credentials() {
        let err = normalize_base("https://admin:s3cr3t@k.example.com").unwrap_err();
        let shown = err.to_string();
        assert!(shown.contains("must not contain credentials"), "{shown}");
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("admin"),
            "{shown}"
        );
        assert!(normalize_base("ftp://k.example.com").is_err());
        assert!(normalize_base("k.example.com").is_err());
        assert!(normalize_base("mailto:a@b.c").is_err());
    }

    #[test]
    fn versions_choose_the_path_form() {
        let cases = [
            (Some("0.22.0"), None),
            (Some("0.22.12"), None),
            (Some("0.21.3"), None),
            (Some("0.15.0"), None),
            (Some("0.23.0"), Some("main")),
            (Some("0.24.2"), Some("main")),
            (Some("1.3.0"), Some("main")),
            (Some("1.3.0-SNAPSHOT"), Some("main")),
            (Some("v0.22.1"), None),
            (Some("2.0.0-SNAPSHOT"), Some("main")),
            (Some("develop"), Some("main")),
            (Some(""), Some("main")),
            (None, Some("main")),
        ];
        for (version, want) in cases {
            assert_eq!(detect_tenant(version).as_deref(), want, "{version:?}");
        }
    }

    #[test]
    fn flow_urls_encode_each_segment() {
        let paths = ApiPaths {
            root: normalize_base("https://k.example.com/kestra").unwrap(),
            tenant: Some("main".into()),
        };
        let u = paths.flows(&["prod.marketing", "my-flow_1.x"]).unwrap();
        assert_eq!(
            u.as_str(),
            "https://k.example.com/kestra/api/v1/main/flows/prod.marketing/my-flow_1.x"
        );
        let u = paths.flows(&["prod", "a/b c?#%"]).unwrap();
        assert_eq!(
            u.as_str(),
            "https://k.example.com/kestra/api/v1/main/flows/prod/a%2Fb%20c%3F%23%25"
        );
        let old = ApiPaths {
            tenant: None,
            ..paths.clone()
        };
        assert_eq!(
            old.flows(&["search"]).unwrap().as_str(),
            "https://k.example.com/kestra/api/v1/flows/search"
        );
        assert_eq!(
            ApiPaths::configs(&paths.root).unwrap().as_str(),
            "https://k.example.com/kestra/api/v1/configs"
        );
    }

    #[test]
    fn dot_segments_and_empty_segments_are_refused() {
        let paths = ApiPaths {
            root: normalize_base("https://k.example.com").unwrap(),
            tenant: Some("main".into()),
        };
        for bad in ["", ".", ".."] {
            assert!(paths.flows(&["prod", bad]).is_err(), "{bad:?}");
            assert!(paths.flows(&[bad, "id"]).is_err(), "{bad:?}");
        }
    }
}
