//! Query strings of the listing endpoints: PHP-style `filters[<field>][<OP>]=value`,
//! `page`, `size`, `sort`, and the deprecated flat `namespace=` / `q=` that servers < 2.0
//! map to filters (only when no `filters[...]` is given) and 2.0 silently ignores.

use regex::Regex;
use std::sync::OnceLock;

use crate::version::Version;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Equals,
    NotEquals,
    Prefix,
    StartsWith,
    EndsWith,
    Contains,
    Regex,
    In,
    NotIn,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "EQUALS" => Op::Equals,
            "NOT_EQUALS" => Op::NotEquals,
            "PREFIX" => Op::Prefix,
            "STARTS_WITH" => Op::StartsWith,
            "ENDS_WITH" => Op::EndsWith,
            "CONTAINS" => Op::Contains,
            "REGEX" => Op::Regex,
            "IN" => Op::In,
            "NOT_IN" => Op::NotIn,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Namespace,
    /// `q`: free text over id and namespace.
    Query,
    FlowId,
}

#[derive(Debug, Clone)]
pub(crate) struct Filter {
    pub field: Field,
    pub op: Op,
    pub value: String,
}

/// The parsed query of a listing.
#[derive(Debug, Clone, Default)]
pub(crate) struct Listing {
    pub filters: Vec<Filter>,
    pub page: Option<String>,
    pub size: Option<String>,
    pub sort: Vec<String>,
}

/// A query the server refuses (400 `Invalid query filters`).
#[derive(Debug, Clone)]
pub(crate) struct BadQuery(pub String);

fn filter_key() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^filters\[([^\]]*)\]\[([^\]]*)\](?:\[[^\]]*\])?$").expect("static regex")
    })
}

/// Parse a raw query string (still percent-encoded). With `read_filters = false`, a server
/// that does not read the filters at all (neither `filters[…]` nor the flat
/// `namespace=`/`q=`): no filter, and no 400 for a filter it would refuse. Paging and
/// sorting are still read.
pub(crate) fn parse(raw: &str, version: Version, read_filters: bool) -> Result<Listing, BadQuery> {
    let mut out = Listing::default();
    let mut flat_namespace = None;
    let mut flat_q = None;
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        let (k, v) = (k.into_owned(), v.into_owned());
        let is_filter = filter_key().is_match(&k) || k == "namespace" || k == "q";
        if is_filter && !read_filters {
            continue;
        }
        if let Some(c) = filter_key().captures(&k) {
            let field_text = c.get(1).map_or("", |m| m.as_str());
            let op_text = c.get(2).map_or("", |m| m.as_str());
            let field = match field_text {
                "namespace" => Field::Namespace,
                "q" | "query" => Field::Query,
                "flowId" | "id" => Field::FlowId,
                other => {
                    return Err(BadQuery(format!(
                        "Invalid filter field '{other}' for this resource"
                    )))
                }
            };
            let op = Op::parse(op_text).ok_or_else(|| {
                BadQuery(format!(
                    "Invalid filter operation '{op_text}' for field '{field_text}'"
                ))
            })?;
            out.filters.push(Filter {
                field,
                op,
                value: v,
            });
            continue;
        }
        match k.as_str() {
            "page" => out.page = Some(v),
            "size" => out.size = Some(v),
            "sort" => out.sort.extend(v.split(',').map(str::to_string)),
            "namespace" => flat_namespace = Some(v),
            "q" => flat_q = Some(v),
            _ => {}
        }
    }
    if out.filters.is_empty() && version.honours_flat_params() {
        if let Some(q) = flat_q {
            out.filters.push(Filter {
                field: Field::Query,
                op: Op::Equals,
                value: q,
            });
        }
        if let Some(ns) = flat_namespace {
            out.filters.push(Filter {
                field: Field::Namespace,
                op: Op::StartsWith,
                value: ns,
            });
        }
    }
    Ok(out)
}

fn text_matches(op: Op, value: &str, candidate: &str) -> bool {
    let list = || value.split(',').map(str::trim);
    match op {
        Op::Equals => candidate == value,
        Op::NotEquals => candidate != value,
        Op::Prefix => {
            candidate == value
                || (candidate.starts_with(value)
                    && candidate[value.len()..].starts_with('.')
                    && candidate.len() > value.len() + 1)
        }
        Op::StartsWith => candidate.starts_with(value),
        Op::EndsWith => candidate.ends_with(value),
        Op::Contains => candidate.contains(value),
        Op::Regex => Regex::new(value).is_ok_and(|r| r.is_match(candidate)),
        Op::In => list().any(|v| v == candidate),
        Op::NotIn => !list().any(|v| v == candidate),
    }
}

impl Filter {
    pub fn matches(&self, namespace: &str, id: &str) -> bool {
        match self.field {
            Field::Namespace => text_matches(self.op, &self.value, namespace),
            Field::FlowId => text_matches(self.op, &self.value, id),
            Field::Query => {
                let q = self.value.to_lowercase();
                id.to_lowercase().contains(&q) || namespace.to_lowercase().contains(&q)
            }
        }
    }
}

impl Listing {
    pub fn matches(&self, namespace: &str, id: &str) -> bool {
        self.filters.iter().all(|f| f.matches(namespace, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn filter_operations() {
        let l = parse("filters%5Bnamespace%5D%5BPREFIX%5D=prod", v("1.3.0"), true).unwrap();
        assert!(l.matches("prod", "a") && l.matches("prod.x.y", "a"));
        assert!(!l.matches("prod2", "a") && !l.matches("pro", "a") && !l.matches("prod.", "a"));
        let l = parse("filters[namespace][STARTS_WITH]=prod", v("1.3.0"), true).unwrap();
        assert!(l.matches("prod2", "a") && l.matches("prod.x", "a"));
        let l = parse("filters[namespace][EQUALS]=prod", v("1.3.0"), true).unwrap();
        assert!(l.matches("prod", "a") && !l.matches("prod.x", "a"));
        assert!(parse("filters[color][EQUALS]=red", v("1.3.0"), true).is_err());
        assert!(parse("filters[namespace][LIKE]=red", v("1.3.0"), true).is_err());
    }

    #[test]
    fn a_server_that_reads_no_filter() {
        let raw = "filters[namespace][PREFIX]=prod&filters[color][LIKE]=x&namespace=prod&q=a&page=2&size=3&sort=id:desc";
        assert!(parse(raw, v("1.3.0"), true).is_err());
        let l = parse(raw, v("1.3.0"), false).unwrap();
        assert!(l.filters.is_empty() && l.matches("dev", "z"));
        assert_eq!(
            (l.page.as_deref(), l.size.as_deref(), l.sort.clone()),
            (Some("2"), Some("3"), vec!["id:desc".to_string()])
        );
    }

    #[test]
    fn flat_parameters_depend_on_the_version() {
        let l = parse("namespace=prod&page=2&size=5", v("1.3.0"), true).unwrap();
        assert!(l.matches("prod2", "a") && !l.matches("dev", "a"));
        assert_eq!(
            (l.page.as_deref(), l.size.as_deref()),
            (Some("2"), Some("5"))
        );
        let l = parse("namespace=prod&q=x", v("2.0.0"), true).unwrap();
        assert!(l.filters.is_empty() && l.matches("dev", "a"));
        // filters win over flat parameters on 1.x
        let l = parse(
            "namespace=dev&filters[namespace][EQUALS]=prod",
            v("1.3.0"),
            true,
        )
        .unwrap();
        assert!(l.matches("prod", "a") && !l.matches("dev", "a"));
    }
}
