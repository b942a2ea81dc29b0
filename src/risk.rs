//! Did this push make the plan riskier than the one the sticky comment showed before? An edit
//! of the comment notifies nobody, so a review run that finds new deletes, or a plan that now
//! fails, also posts one short new comment (issue 11). Pure: data in, verdict out.
//!
//! What the comment showed before is read from the comment itself: its **last line** is a
//! hidden state, `<!-- kestra-sync:state v1 verdict=ok deletes=2 keys=3f9a…,b07c… -->`,
//! written by this tool after the rendered body (so no flow text can come after it): the
//! verdict (`ok`, `blocked`: apply would refuse it, `failed`: it could not be computed), how
//! many flows and namespace files the plan deletes, and the first [`KEY_HEX`] hex digits of
//! the sha256 of each deleted one (`flow`/`file`, namespace, id or path: untrusted names are
//! only ever hashed, never written back). At most [`MAX_KEYS`] keys are kept (about 3.3 KB);
//! beyond that only the count, and a new delete is then counted, not named. A failed plan
//! carries the deletes of the state it replaces, so a fix after a failure is compared with
//! the last plan that was computed. Reading is strict: anything but this exact shape is no
//! state (an older comment), and no state means no extra comment.

use std::collections::BTreeSet;

use crate::nsfiles::FileState;
use crate::plan::{sha256_hex, Plan, SyncState};

/// What starts the state line.
pub const PREFIX: &str = "<!-- kestra-sync:state v1 ";
const SUFFIX: &str = " -->";
/// Hex digits kept of each deleted key's sha256 (48 bits).
pub const KEY_HEX: usize = 12;
/// Deleted keys kept at most.
pub const MAX_KEYS: usize = 256;
/// New deletes named in the short comment at most.
const NAMES: usize = 10;

/// A plan in one word, as far as risk goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Computed; apply would run it.
    Ok,
    /// Computed; apply would refuse it (a blocker).
    Blocked,
    /// Not computed (flow files that do not parse, a server out of reach, credentials refused).
    Failed,
}

impl Verdict {
    fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Blocked => "blocked",
            Verdict::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<Verdict> {
        match s {
            "ok" => Some(Verdict::Ok),
            "blocked" => Some(Verdict::Blocked),
            "failed" => Some(Verdict::Failed),
            _ => None,
        }
    }
}

/// What one sticky comment showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub verdict: Verdict,
    /// Flows and namespace files the plan deletes.
    pub deletes: usize,
    /// Short hashes of the deleted ones ([`KEY_HEX`] digits); fewer than `deletes` when cut
    /// at [`MAX_KEYS`].
    pub keys: BTreeSet<String>,
}

/// What got riskier, for the short comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Riskier {
    /// The plan was fine before and now fails: `Blocked` (apply would refuse it) or `Failed`
    /// (it could not be computed); `None` when it did not turn.
    pub now_fails: Option<Verdict>,
    /// Flows and namespace files deleted now that the previous plan did not delete.
    pub new_deletes: usize,
    /// Which they are, at most ten; empty when the previous state was cut and cannot
    /// tell which are new.
    pub names: Vec<Deleted>,
}

/// One delete, named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deleted {
    /// A flow: `namespace/id`.
    Flow(String),
    /// A namespace file: `namespace` and its path (`/scripts/a.py`).
    File(String, String),
}

/// Every delete of `plan`: its hashed key and what it is.
fn deleted(plan: &Plan) -> Vec<(String, Deleted)> {
    let flows = plan
        .flows
        .iter()
        .filter(|f| f.sync_state == SyncState::Deleted)
        .map(|f| {
            (
                key(&["flow", &f.namespace, &f.flow_id]),
                Deleted::Flow(format!("{}/{}", f.namespace, f.flow_id)),
            )
        });
    let files = plan
        .file_rows()
        .iter()
        .filter(|f| f.sync_state == FileState::Deleted)
        .map(|f| {
            (
                key(&["file", &f.namespace, &f.kestra_path]),
                Deleted::File(f.namespace.clone(), f.kestra_path.clone()),
            )
        });
    flows.chain(files).collect()
}

/// The short hash of a key's parts (JSON-joined: no name runs into the next).
fn key(parts: &[&str]) -> String {
    let joined = serde_json::to_string(parts).unwrap_or_default();
    sha256_hex(&joined)[..KEY_HEX].to_string()
}

impl State {
    /// The state of a computed plan.
    pub fn of_plan(plan: &Plan) -> State {
        let deleted = deleted(plan);
        State {
            verdict: if plan.blockers.is_empty() {
                Verdict::Ok
            } else {
                Verdict::Blocked
            },
            deletes: deleted.len(),
            keys: deleted
                .into_iter()
                .map(|(k, _)| k)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .take(MAX_KEYS)
                .collect(),
        }
    }

    /// The state of a plan that could not be computed: it keeps the deletes of `before`.
    pub fn failed(before: Option<&State>) -> State {
        State {
            verdict: Verdict::Failed,
            deletes: before.map_or(0, |b| b.deletes),
            keys: before.map(|b| b.keys.clone()).unwrap_or_default(),
        }
    }

    /// The hidden line, written last in the comment.
    pub fn line(&self) -> String {
        let keys: Vec<&str> = self.keys.iter().map(String::as_str).collect();
        format!(
            "{PREFIX}verdict={} deletes={} keys={}{SUFFIX}",
            self.verdict.as_str(),
            self.deletes,
            keys.join(",")
        )
    }

    /// The state on the last line of a comment's `body`; `None` when there is none (an older
    /// comment, a comment cut by someone else) or it is not exactly of our shape.
    pub fn from_comment(body: &str) -> Option<State> {
        let last = body.trim_end().rsplit('\n').next()?.trim_end_matches('\r');
        let fields = last.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
        let mut it = fields.split(' ');
        let verdict = Verdict::parse(it.next()?.strip_prefix("verdict=")?)?;
        let deletes_text = it.next()?.strip_prefix("deletes=")?;
        if deletes_text.is_empty() || deletes_text.len() > 9 {
            return None;
        }
        let deletes: usize = deletes_text.parse().ok()?;
        let keys_text = it.next()?.strip_prefix("keys=")?;
        if it.next().is_some() {
            return None;
        }
        let keys: BTreeSet<String> = match keys_text {
            "" => BTreeSet::new(),
            t => t
                .split(',')
                .map(|k| {
                    (k.len() == KEY_HEX
                        && k.bytes()
                            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
                    .then(|| k.to_string())
                })
                .collect::<Option<_>>()?,
        };
        if keys.len() > MAX_KEYS || keys.len() > deletes {
            return None;
        }
        Some(State {
            verdict,
            deletes,
            keys,
        })
    }

    /// Every delete of the plan it was made from is in `keys`.
    fn complete(&self) -> bool {
        self.keys.len() == self.deletes
    }
}

/// What `plan` (or a plan that could not be computed: `None`) made riskier than `before`;
/// `None` when nothing did.
pub fn riskier(before: &State, plan: Option<&Plan>) -> Option<Riskier> {
    let now = match plan {
        Some(p) => State::of_plan(p),
        None => State::failed(Some(before)),
    };
    let now_fails =
        (before.verdict == Verdict::Ok && now.verdict != Verdict::Ok).then_some(now.verdict);
    let (new_deletes, names) = match plan {
        None => (0, Vec::new()),
        Some(p) if before.complete() => {
            let new: Vec<Deleted> = deleted(p)
                .into_iter()
                .filter(|(k, _)| !before.keys.contains(k))
                .map(|(_, name)| name)
                .collect();
            let n = new.len();
            (n, new.into_iter().take(NAMES).collect())
        }
        Some(_) => (now.deletes.saturating_sub(before.deletes), Vec::new()),
    };
    (now_fails.is_some() || new_deletes > 0).then_some(Riskier {
        now_fails,
        new_deletes,
        names,
    })
}

#[cfg(test)]
#[path = "risk_tests.rs"]
mod tests;
