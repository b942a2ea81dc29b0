//! The emulated Kestra version and every behaviour that depends on it, in one place, so the
//! version rules (path form, error generation, reserved ids, flat parameters…) are readable
//! side by side.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

#[derive(Debug)]
pub(crate) struct BadVersion;

impl fmt::Display for BadVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("expected MAJOR.MINOR[.PATCH][-suffix], e.g. 1.3.0 or 2.0.0-SNAPSHOT")
    }
}

impl std::error::Error for BadVersion {}

impl Version {
    /// `1.3.0`, `2.0.0-SNAPSHOT`, `v0.22.1`, `0.23`.
    pub fn parse(text: &str) -> Result<Version, BadVersion> {
        let text = text.trim().trim_start_matches('v');
        let core = text.split(['-', '+']).next().unwrap_or("");
        let mut parts = core.split('.');
        let mut num = |required: bool| -> Result<u32, BadVersion> {
            match parts.next() {
                Some(p) => p.parse().map_err(|_| BadVersion),
                None if required => Err(BadVersion),
                None => Ok(0),
            }
        };
        let major = num(true)?;
        let minor = num(true)?;
        let patch = num(false)?;
        Ok(Version {
            major,
            minor,
            patch,
        })
    }

    fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }

    /// ≥ 0.23 serves `/api/v1/{tenant}/…` only; before, `/api/v1/…` only.
    pub fn tenanted_paths(&self) -> bool {
        self.at_least(0, 23)
    }

    /// ≥ 2.0 answers errors as `application/problem+json`; before, Micronaut `JsonError`.
    pub fn problem_json(&self) -> bool {
        self.major >= 2
    }

    /// Flow ids reserved since 1.0.
    pub fn reserved_ids(&self) -> bool {
        self.major >= 1
    }

    /// < 2.0 maps the deprecated flat `namespace=` / `q=` parameters to filters; 2.0 ignores
    /// them silently (the whole tenant is listed).
    pub fn honours_flat_params(&self) -> bool {
        self.major < 2
    }

    /// Export entries are `ns.id.yml` before 0.22, `ns-id.yml` since.
    pub fn export_entry_name(&self, namespace: &str, id: &str) -> String {
        if self.at_least(0, 22) {
            format!("{namespace}-{id}.yml")
        } else {
            format!("{namespace}.{id}.yml")
        }
    }

    /// 2.0 flows carry a `draft` flag (required by its `FlowWithSource` schema).
    pub fn has_draft(&self) -> bool {
        self.major >= 2
    }

    /// Before 2.0 `/api/v1/configs` is open without credentials (the UI reads it before
    /// login); 2.0 moved that to `/api/v1/configs/login` and protects `/api/v1/configs`.
    pub fn configs_open(&self) -> bool {
        self.major < 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        let v = Version::parse("2.0.0-SNAPSHOT").unwrap();
        assert_eq!((v.major, v.minor, v.patch), (2, 0, 0));
        assert!(v.problem_json() && !v.honours_flat_params());
        let v = Version::parse("0.22.1").unwrap();
        assert!(!v.tenanted_paths() && !v.reserved_ids());
        assert!(Version::parse("0.23").unwrap().tenanted_paths());
        assert!(Version::parse("one").is_err());
        assert!(Version::parse("1").is_err());
        assert_eq!(
            Version::parse("0.21.0")
                .unwrap()
                .export_entry_name("a", "b"),
            "a.b.yml"
        );
    }
}
