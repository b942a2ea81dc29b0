//! The plan lock: what a reviewed plan was computed against, and the check that an apply
//! writes exactly that (issue 12). Pure: data in, verdict out.
//!
//! Every change of a [`Plan`] carries a [`Lock`] (live revision and source sha256 before,
//! sha256 of the source it writes). A reviewed plan comes back as a [`Reviewed`], either from
//! the JSON plan file ([`Reviewed::from_plan_json`], full hashes) or from the hidden block of
//! the plan comment ([`comment_block`] / [`Reviewed::from_comment`]). [`check`] compares a
//! fresh plan with it:
//!
//! - a change whose live base moved since the review is `STALE`;
//! - a change the review did not have, or whose source to write differs, is `UNREVIEWED`;
//! - a reviewed change the server already holds (no longer a change) is fine.
//!
//! Namespace files (`--namespace-files`) are locked the same way, by `(namespace, path)`:
//! base sha256 (the server's bytes when planned, none when absent) and desired sha256
//! (Git's bytes, none for a delete). A file change the review did not have, or whose bytes
//! to upload differ, is `UNREVIEWED`; one whose server bytes moved is `STALE`. Unlike flows,
//! a reviewed file change missing from the fresh plan is refused too, unless the server
//! already holds the reviewed bytes (or, for a delete, no file): the merge would otherwise
//! silently skip a reviewed upload.
//!
//! The comment block is `<!-- kestra-sync:lock v1 BASE64 -->` on the line right after the
//! comment's marker (never searched for anywhere else in the body, so flow text quoted in a
//! diff cannot pose as one). BASE64 is deflated JSON: the target, the number of changes, the
//! sha256 of the full lock of every change ([`digest`]), and per change `[namespace, id,
//! baseRevision, baseSha256, desiredSha256]` with the hashes cut to [`SHORT_HASH`] hex
//! digits. When the per-change entries do not fit the room given (GitHub's 65,536-character
//! comments give it half their room: about 900 entries), the block keeps only the digest: a fresh plan then
//! passes only when its lock is exactly the reviewed one, and a refusal cannot name the
//! flows; the JSON plan file of the review run (its artifact) has every entry, for
//! `apply --reviewed-plan`. The digest covers the file changes too (when there are none it
//! is the digest of a flows-only lock, as before files were locked).
//!
//! Files in the comment block: an optional `files` field of `[namespace, path, baseSha256,
//! desiredSha256]` entries (hashes cut short), still `v1`: a reader that does not know it
//! ignores it and checks the flows. A block with flow entries but no `files` field was
//! written before files were locked: every file change of the fresh plan is then
//! `UNREVIEWED` (see README, "Plan lock").

use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read as _, Write as _};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::nsfiles::FileLock;
use crate::plan::{sha256_hex, Lock, Plan};

/// How many hex digits of each sha256 the comment keeps (64 bits).
pub const SHORT_HASH: usize = 16;
/// What starts the comment's lock line.
pub const COMMENT_PREFIX: &str = "<!-- kestra-sync:lock v1 ";
const COMMENT_SUFFIX: &str = " -->";
/// Largest decompressed lock read from a comment (a bound on what a body can make us read).
const MAX_DECODED: u64 = 64 << 20;

/// The lock of one reviewed change. Hashes may be cut short (from a comment): they match a
/// full hash they start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub base_revision: Option<u64>,
    pub base_sha256: Option<String>,
    pub desired_sha256: Option<String>,
}

/// A reviewed plan, as far as the lock goes. A file's [`Entry`] has no `base_revision`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reviewed {
    pub target_namespace: String,
    /// How many changes the reviewed plan had.
    pub changes: usize,
    /// [`digest`] of the reviewed plan.
    pub digest: String,
    /// Every change by `(namespace, id)`; `None` when only the digest was kept (a comment too
    /// small for the entries).
    pub flows: Option<BTreeMap<(String, String), Entry>>,
    /// Every namespace-file change by `(namespace, path)`; `None` when only the digest was
    /// kept, or when the comment was written by a kestra-sync that did not lock files.
    pub files: Option<BTreeMap<(String, String), Entry>>,
}

/// Why a reviewed plan could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LockError(pub String);

/// The JSON plan file, as far as the lock goes (see README, "JSON plan").
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlanFile {
    target_namespace: String,
    flows: Vec<PlanFileFlow>,
    #[serde(default)]
    files: Vec<PlanFileFile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlanFileFile {
    namespace: String,
    kestra_path: String,
    sync_state: String,
    #[serde(default)]
    lock: Option<FileLock>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlanFileFlow {
    namespace: String,
    flow_id: String,
    sync_state: String,
    #[serde(default)]
    lock: Option<Lock>,
}

/// The comment's payload.
#[derive(Serialize, Deserialize)]
struct CommentLock {
    target: String,
    changes: usize,
    digest: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    flows: Option<Vec<CommentEntry>>,
    /// Absent from blocks written before files were locked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    files: Option<Vec<CommentFileEntry>>,
}

/// `[namespace, id, baseRevision, baseSha256, desiredSha256]`, hashes cut short.
type CommentEntry = (String, String, Option<u64>, Option<String>, Option<String>);
/// `[namespace, path, baseSha256, desiredSha256]`, hashes cut short.
type CommentFileEntry = (String, String, Option<String>, Option<String>);

impl Reviewed {
    /// The lock of `plan` itself (full hashes).
    pub fn of_plan(plan: &Plan) -> Reviewed {
        let flows = locked(plan)
            .map(|(ns, id, lock)| {
                (
                    (ns.to_string(), id.to_string()),
                    Entry {
                        base_revision: lock.base_revision,
                        base_sha256: lock.base_sha256.clone(),
                        desired_sha256: lock.desired_sha256.clone(),
                    },
                )
            })
            .collect::<BTreeMap<_, _>>();
        let files = locked_files(plan)
            .map(|(ns, path, lock)| ((ns.to_string(), path.to_string()), file_entry(lock)))
            .collect::<BTreeMap<_, _>>();
        Reviewed {
            target_namespace: plan.target_namespace.clone(),
            changes: flows.len() + files.len(),
            digest: digest(plan),
            flows: Some(flows),
            files: Some(files),
        }
    }

    /// Read the JSON plan file `text` (named `name` in errors).
    pub fn from_plan_json(text: &str, name: &str) -> Result<Reviewed, LockError> {
        let file: PlanFile = serde_json::from_str(text).map_err(|e| {
            LockError(format!(
                "`{name}` is not a kestra-sync JSON plan ({e}): pass the file `plan --format json` or `--plan-file` wrote"
            ))
        })?;
        let mut flows = BTreeMap::new();
        for f in file.flows {
            let changes = matches!(f.sync_state.as_str(), "ADDED" | "UPDATED" | "DELETED");
            if !changes {
                continue;
            }
            let Some(lock) = f.lock else {
                return Err(LockError(format!(
                    "`{name}`: the change of {}/{} has no `lock`: the plan was made by an older kestra-sync; plan again and review that plan",
                    f.namespace, f.flow_id
                )));
            };
            for h in [&lock.base_sha256, &lock.desired_sha256]
                .into_iter()
                .flatten()
            {
                if !is_hex(h, 64) {
                    return Err(LockError(format!(
                        "`{name}`: the lock of {}/{} has a hash that is not a sha256 (64 hex digits)",
                        f.namespace, f.flow_id
                    )));
                }
            }
            flows.insert(
                (f.namespace, f.flow_id),
                Entry {
                    base_revision: lock.base_revision,
                    base_sha256: lock.base_sha256,
                    desired_sha256: lock.desired_sha256,
                },
            );
        }
        let mut files = BTreeMap::new();
        for f in file.files {
            if !matches!(f.sync_state.as_str(), "ADDED" | "OVERWRITTEN" | "DELETED") {
                continue;
            }
            let Some(lock) = f.lock else {
                return Err(LockError(format!(
                    "`{name}`: the change of namespace file {}:{} has no `lock`: the plan was made by an older kestra-sync; plan again and review that plan",
                    f.namespace, f.kestra_path
                )));
            };
            for h in [&lock.base_sha256, &lock.desired_sha256]
                .into_iter()
                .flatten()
            {
                if !is_hex(h, 64) {
                    return Err(LockError(format!(
                        "`{name}`: the lock of namespace file {}:{} has a hash that is not a sha256 (64 hex digits)",
                        f.namespace, f.kestra_path
                    )));
                }
            }
            files.insert((f.namespace, f.kestra_path), file_entry(&lock));
        }
        let digest = digest_of(
            &file.target_namespace,
            flows.iter().map(|((ns, id), e)| {
                (
                    ns.as_str(),
                    id.as_str(),
                    e.base_revision,
                    e.base_sha256.as_deref(),
                    e.desired_sha256.as_deref(),
                )
            }),
            files.iter().map(|((ns, path), e)| {
                (
                    ns.as_str(),
                    path.as_str(),
                    e.base_sha256.as_deref(),
                    e.desired_sha256.as_deref(),
                )
            }),
        );
        Ok(Reviewed {
            target_namespace: file.target_namespace,
            changes: flows.len() + files.len(),
            digest,
            flows: Some(flows),
            files: Some(files),
        })
    }

    /// The lock block of a plan comment whose first line is its marker; `Ok(None)` when the
    /// comment has none (an older kestra-sync, or no plan).
    pub fn from_comment(body: &str) -> Result<Option<Reviewed>, LockError> {
        let Some(line) = body.lines().nth(1) else {
            return Ok(None);
        };
        let Some(rest) = line.strip_prefix(COMMENT_PREFIX) else {
            return Ok(None);
        };
        let bad = |why: &str| {
            LockError(format!(
                "the plan comment's lock is unreadable ({why}): plan again to post a new one"
            ))
        };
        let Some(data) = rest.strip_suffix(COMMENT_SUFFIX) else {
            return Err(bad("not closed"));
        };
        let packed = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|_| bad("not base64"))?;
        let mut json = Vec::new();
        flate2::read::DeflateDecoder::new(&packed[..])
            .take(MAX_DECODED + 1)
            .read_to_end(&mut json)
            .map_err(|_| bad("not deflate"))?;
        if json.len() as u64 > MAX_DECODED {
            return Err(bad("too large"));
        }
        let lock: CommentLock = serde_json::from_slice(&json).map_err(|_| bad("not its JSON"))?;
        if !is_hex(&lock.digest, 64) {
            return Err(bad("its digest is not a sha256"));
        }
        let flows = match lock.flows {
            None => None,
            Some(entries) => {
                let mut flows = BTreeMap::new();
                for (ns, id, base_revision, base, desired) in entries {
                    for h in [&base, &desired].into_iter().flatten() {
                        if !is_hex(h, SHORT_HASH) {
                            return Err(bad("a hash is not hex"));
                        }
                    }
                    flows.insert(
                        (ns, id),
                        Entry {
                            base_revision,
                            base_sha256: base,
                            desired_sha256: desired,
                        },
                    );
                }
                Some(flows)
            }
        };
        let files = match lock.files {
            None => None,
            Some(entries) => {
                let mut files = BTreeMap::new();
                for (ns, path, base, desired) in entries {
                    for h in [&base, &desired].into_iter().flatten() {
                        if !is_hex(h, SHORT_HASH) {
                            return Err(bad("a hash is not hex"));
                        }
                    }
                    files.insert(
                        (ns, path),
                        Entry {
                            base_revision: None,
                            base_sha256: base,
                            desired_sha256: desired,
                        },
                    );
                }
                Some(files)
            }
        };
        Ok(Some(Reviewed {
            target_namespace: lock.target,
            changes: lock.changes,
            digest: lock.digest,
            flows,
            files,
        }))
    }
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `(namespace, id, lock)` of every change of `plan`.
fn locked(plan: &Plan) -> impl Iterator<Item = (&str, &str, &Lock)> {
    plan.changes().filter_map(|f| {
        f.lock
            .as_ref()
            .map(|l| (f.namespace.as_str(), f.flow_id.as_str(), l))
    })
}

/// `(namespace, path, lock)` of every namespace-file change of `plan`.
fn locked_files(plan: &Plan) -> impl Iterator<Item = (&str, &str, &FileLock)> {
    plan.file_rows()
        .iter()
        .filter(|f| f.sync_state.changes())
        .filter_map(|f| {
            f.lock
                .as_ref()
                .map(|l| (f.namespace.as_str(), f.kestra_path.as_str(), l))
        })
}

fn file_entry(lock: &FileLock) -> Entry {
    Entry {
        base_revision: None,
        base_sha256: lock.base_sha256.clone(),
        desired_sha256: lock.desired_sha256.clone(),
    }
}

type FileRow<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>);

type Row<'a> = (
    &'a str,
    &'a str,
    Option<u64>,
    Option<&'a str>,
    Option<&'a str>,
);

/// sha256 of the target and the full lock of every change, sorted by namespace and id
/// (files: by namespace and path). Without file changes it is the digest of the flows alone,
/// as locks made before files were locked computed it.
fn digest_of<'a>(
    target: &str,
    rows: impl Iterator<Item = Row<'a>>,
    files: impl Iterator<Item = FileRow<'a>>,
) -> String {
    let mut rows: Vec<Row<'a>> = rows.collect();
    rows.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let mut files: Vec<FileRow<'a>> = files.collect();
    files.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    // JSON strings: no name can run into the next field
    let canonical = if files.is_empty() {
        serde_json::to_string(&(target, rows))
    } else {
        serde_json::to_string(&(target, rows, files))
    }
    .unwrap_or_default();
    sha256_hex(&canonical)
}

/// The digest of `plan`'s lock: equal for two plans exactly when they make the same changes
/// from the same bases.
pub fn digest(plan: &Plan) -> String {
    digest_of(
        &plan.target_namespace,
        locked(plan).map(|(ns, id, l)| {
            (
                ns,
                id,
                l.base_revision,
                l.base_sha256.as_deref(),
                l.desired_sha256.as_deref(),
            )
        }),
        locked_files(plan).map(|(ns, path, l)| {
            (
                ns,
                path,
                l.base_sha256.as_deref(),
                l.desired_sha256.as_deref(),
            )
        }),
    )
}

/// The hidden lock line of the plan comment, at most `room` bytes when it can be (see the
/// module docs): the per-change entries when they fit, else the digest alone.
pub fn comment_block(plan: &Plan, room: usize) -> String {
    let short = |h: &Option<String>| h.as_ref().map(|h| h[..SHORT_HASH.min(h.len())].to_string());
    let entries: Vec<_> = locked(plan)
        .map(|(ns, id, l)| {
            (
                ns.to_string(),
                id.to_string(),
                l.base_revision,
                short(&l.base_sha256),
                short(&l.desired_sha256),
            )
        })
        .collect();
    let files: Vec<_> = locked_files(plan)
        .map(|(ns, path, l)| {
            (
                ns.to_string(),
                path.to_string(),
                short(&l.base_sha256),
                short(&l.desired_sha256),
            )
        })
        .collect();
    let mut lock = CommentLock {
        target: plan.target_namespace.clone(),
        changes: entries.len() + files.len(),
        digest: digest(plan),
        flows: Some(entries),
        files: Some(files),
    };
    let full = encode(&lock);
    if full.len() <= room {
        return full;
    }
    lock.flows = None;
    lock.files = None;
    encode(&lock)
}

fn encode(lock: &CommentLock) -> String {
    let json = serde_json::to_vec(lock).unwrap_or_default();
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    // writing to a Vec cannot fail
    let _ = z.write_all(&json);
    let packed = z.finish().unwrap_or_default();
    format!(
        "{COMMENT_PREFIX}{}{COMMENT_SUFFIX}",
        base64::engine::general_purpose::STANDARD.encode(packed)
    )
}

/// A flow on the server: absent, or present at a revision (unknown when the server did not
/// say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Absent,
    At(Option<u64>),
}

/// Why one change may not be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// The live flow moved since the review.
    Stale { was: Presence, now: Presence },
    /// The review did not see this change (`why` says how it differs).
    Unreviewed { why: String },
}

/// One change a reviewed plan does not cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub namespace: String,
    /// The flow's id, or the namespace file's path (`/scripts/a.py`) when `file`.
    pub flow_id: String,
    pub kind: Kind,
    /// A namespace file rather than a flow.
    pub file: bool,
}

impl Mismatch {
    /// `STALE` or `UNREVIEWED`.
    pub fn label(&self) -> &'static str {
        match self.kind {
            Kind::Stale { .. } => "STALE",
            Kind::Unreviewed { .. } => "UNREVIEWED",
        }
    }

    /// `prod/x` for a flow, `prod:/scripts/a.py` for a namespace file.
    pub fn name(&self) -> String {
        if self.file {
            format!("{}:{}", self.namespace, self.flow_id)
        } else {
            format!("{}/{}", self.namespace, self.flow_id)
        }
    }

    /// `prod/x: revision 3 → 4 on the server since the reviewed plan`, or `namespace file
    /// prod:/scripts/a.py: its content on the server changed since the reviewed plan`.
    pub fn message(&self) -> String {
        let what = if self.file { "namespace file " } else { "" };
        format!("{what}{}: {}", self.name(), self.detail())
    }

    /// [`Mismatch::message`] without the flow's name: `revision 3 → 4 on the server since
    /// the reviewed plan`.
    pub fn detail(&self) -> String {
        match &self.kind {
            Kind::Unreviewed { why } => why.clone(),
            Kind::Stale { was, now } => {
                let since = "since the reviewed plan";
                if self.file {
                    return match (was, now) {
                        (Presence::Absent, Presence::At(_)) => {
                            format!("created on the server {since}")
                        }
                        (Presence::At(_), Presence::Absent) => {
                            format!("deleted from the server {since}")
                        }
                        _ => format!("its content on the server changed {since}"),
                    };
                }
                match (was, now) {
                    (Presence::At(Some(a)), Presence::At(Some(b))) if a != b => {
                        format!("revision {a} → {b} on the server {since}")
                    }
                    (Presence::At(Some(a)), Presence::At(_)) => {
                        format!(
                            "its source on the server changed {since} (reviewed at revision {a})"
                        )
                    }
                    (Presence::At(_), Presence::At(_)) => {
                        format!("its source on the server changed {since}")
                    }
                    (Presence::Absent, Presence::At(r)) => format!(
                        "created on the server{} {since}",
                        r.map(|r| format!(" (revision {r})")).unwrap_or_default()
                    ),
                    (Presence::At(r), Presence::Absent) => format!(
                        "deleted from the server{} {since}",
                        r.map(|r| format!(" (was revision {r})"))
                            .unwrap_or_default()
                    ),
                    (Presence::Absent, Presence::Absent) => {
                        format!("changed on the server {since}")
                    }
                }
            }
        }
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.label(), self.message())
    }
}

/// Why a fresh plan is not the reviewed one: each change that differs (flows, then
/// namespace files: [`Mismatch::file`]), or (when the review kept only its digest, or was
/// for another target) one reason for the whole plan.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Refusal {
    pub flows: Vec<Mismatch>,
    pub whole: Option<String>,
}

impl Refusal {
    /// Whether any change is `STALE` (the server moved), as opposed to only unreviewed ones.
    pub fn stale(&self) -> impl Iterator<Item = &Mismatch> {
        self.flows
            .iter()
            .filter(|m| matches!(m.kind, Kind::Stale { .. }))
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(w) = &self.whole {
            writeln!(f, "  {w}")?;
        }
        for m in &self.flows {
            writeln!(f, "  {m}")?;
        }
        Ok(())
    }
}

fn presence(base_revision: Option<u64>, base_sha256: &Option<String>) -> Presence {
    match base_sha256 {
        None => Presence::Absent,
        Some(_) => Presence::At(base_revision),
    }
}

fn same_hash(reviewed: &Option<String>, now: &Option<String>) -> bool {
    match (reviewed, now) {
        (None, None) => true,
        (Some(r), Some(n)) => !r.is_empty() && n.starts_with(r.as_str()),
        _ => false,
    }
}

fn verb(desired: &Option<String>, base: &Option<String>) -> &'static str {
    match (desired, base) {
        (None, _) => "delete",
        (Some(_), None) => "create",
        (Some(_), Some(_)) => "update",
    }
}

/// Compare the fresh `plan` with the `reviewed` one: `Ok` when every change of `plan` was
/// reviewed against the same live base (see the module docs).
pub fn check(plan: &Plan, reviewed: &Reviewed) -> Result<(), Refusal> {
    if reviewed.target_namespace != plan.target_namespace {
        return Err(Refusal {
            flows: Vec::new(),
            whole: Some(format!(
                "the reviewed plan is for target namespace `{}`, this apply is for `{}`: pass the plan of this target",
                reviewed.target_namespace, plan.target_namespace
            )),
        });
    }
    let Some(entries) = &reviewed.flows else {
        let now = Reviewed::of_plan(plan);
        if now.digest == reviewed.digest {
            return Ok(());
        }
        return Err(Refusal {
            flows: Vec::new(),
            whole: Some(format!(
                "the plan differs from the reviewed one ({} change(s) now, {} reviewed), and the review's lock was too large for the comment to name each flow: plan again and review it, or apply with `--reviewed-plan` and the review's JSON plan file to see which flows",
                now.changes, reviewed.changes
            )),
        });
    };
    let mut flows = Vec::new();
    for f in plan.changes() {
        let Some(lock) = &f.lock else { continue };
        let key = (f.namespace.clone(), f.flow_id.clone());
        let kind = match entries.get(&key) {
            None => Some(Kind::Unreviewed {
                why: format!(
                    "not in the reviewed plan (this apply would {} it)",
                    verb(&lock.desired_sha256, &lock.base_sha256)
                ),
            }),
            Some(r) => {
                let was = presence(r.base_revision, &r.base_sha256);
                let now = presence(lock.base_revision, &lock.base_sha256);
                let base_same = was == now && same_hash(&r.base_sha256, &lock.base_sha256);
                if !base_same {
                    Some(Kind::Stale { was, now })
                } else if !same_hash(&r.desired_sha256, &lock.desired_sha256) {
                    let (rv, nv) = (
                        verb(&r.desired_sha256, &r.base_sha256),
                        verb(&lock.desired_sha256, &lock.base_sha256),
                    );
                    Some(Kind::Unreviewed {
                        why: if rv == nv {
                            "the source to write differs from the reviewed plan's".to_string()
                        } else {
                            format!("the reviewed plan would {rv} it, this apply would {nv} it")
                        },
                    })
                } else {
                    None
                }
            }
        };
        if let Some(kind) = kind {
            flows.push(Mismatch {
                namespace: f.namespace.clone(),
                flow_id: f.flow_id.clone(),
                kind,
                file: false,
            });
        }
    }
    check_files(plan, reviewed.files.as_ref(), &mut flows);
    if flows.is_empty() {
        Ok(())
    } else {
        Err(Refusal { flows, whole: None })
    }
}

/// What this apply does to a file, in the plan's words.
fn file_verb(desired: &Option<String>, base: &Option<String>) -> &'static str {
    match (desired, base) {
        (None, _) => "delete",
        (Some(_), None) => "upload",
        (Some(_), Some(_)) => "overwrite",
    }
}

/// The namespace-file half of [`check`]: every file change of `plan` against the reviewed
/// `entries` (`None`: a lock written before files were locked), then every reviewed file
/// change the fresh plan no longer has.
fn check_files(
    plan: &Plan,
    entries: Option<&BTreeMap<(String, String), Entry>>,
    out: &mut Vec<Mismatch>,
) {
    let mismatch = |ns: &str, path: &str, kind: Kind| Mismatch {
        namespace: ns.to_string(),
        flow_id: path.to_string(),
        kind,
        file: true,
    };
    let Some(entries) = entries else {
        for (ns, path, lock) in locked_files(plan) {
            out.push(mismatch(ns, path, Kind::Unreviewed {
                why: format!(
                    "the reviewed plan's lock has no namespace files (it was posted by an older kestra-sync), so this {} was not locked at review",
                    file_verb(&lock.desired_sha256, &lock.base_sha256)
                ),
            }));
        }
        return;
    };
    let mut seen = std::collections::BTreeSet::new();
    for (ns, path, lock) in locked_files(plan) {
        seen.insert((ns, path));
        let kind = match entries.get(&(ns.to_string(), path.to_string())) {
            None => Some(Kind::Unreviewed {
                why: format!(
                    "not in the reviewed plan (this apply would {} it)",
                    file_verb(&lock.desired_sha256, &lock.base_sha256)
                ),
            }),
            Some(r) => {
                let was = presence(None, &r.base_sha256);
                let now = presence(None, &lock.base_sha256);
                if was != now || !same_hash(&r.base_sha256, &lock.base_sha256) {
                    Some(Kind::Stale { was, now })
                } else if !same_hash(&r.desired_sha256, &lock.desired_sha256) {
                    let (rv, nv) = (
                        file_verb(&r.desired_sha256, &r.base_sha256),
                        file_verb(&lock.desired_sha256, &lock.base_sha256),
                    );
                    Some(Kind::Unreviewed {
                        why: if rv == nv {
                            "the content to upload differs from the reviewed plan's (it changed in Git since the review)".to_string()
                        } else {
                            format!("the reviewed plan would {rv} it, this apply would {nv} it")
                        },
                    })
                } else {
                    None
                }
            }
        };
        if let Some(kind) = kind {
            out.push(mismatch(ns, path, kind));
        }
    }
    // A reviewed change the fresh plan does not make: fine when the server already holds
    // what the review would write (applied already), else the merge would skip it.
    for ((ns, path), r) in entries {
        if seen.contains(&(ns.as_str(), path.as_str())) {
            continue;
        }
        let rv = file_verb(&r.desired_sha256, &r.base_sha256);
        let Some(rows) = plan.files.as_deref() else {
            out.push(mismatch(ns, path, Kind::Unreviewed {
                why: format!(
                    "the reviewed plan would {rv} it, but this apply does not plan namespace files: turn `--namespace-files` on as in the review's run"
                ),
            }));
            continue;
        };
        // What the server holds now: the row's bytes when it is not a change (UNCHANGED,
        // KEPT), nothing when the plan has no row for it.
        let held = rows
            .iter()
            .find(|f| &f.namespace == ns && &f.kestra_path == path)
            .map(|f| f.sha256.clone());
        if same_hash(&r.desired_sha256, &held) {
            continue;
        }
        let kind = if same_hash(&r.base_sha256, &held) {
            Kind::Unreviewed {
                why: format!(
                    "the reviewed plan would {rv} it, this apply would not (Git changed since the review)"
                ),
            }
        } else {
            Kind::Stale {
                was: presence(None, &r.base_sha256),
                now: presence(None, &held),
            }
        };
        out.push(mismatch(ns, path, kind));
    }
}

#[cfg(test)]
#[path = "lock_tests.rs"]
mod tests;
