//! Local checks of flow files: everything Kestra would refuse that we can see without the
//! server. Reports every problem, each with file and line.

use std::collections::{BTreeSet, HashMap};

use serde_yaml_ng::{Mapping, Value};

use super::parse::{self, FileProblem};
use super::{locate, rewrite, Flow, Problem};
use crate::source::{SourceFile, MAX_FILE_BYTES};

/// Flow ids the Kestra API reserves since 1.0 (they are words in its flow URLs).
pub const RESERVED_IDS: [&str; 10] = [
    "pause",
    "resume",
    "force-run",
    "change-status",
    "kill",
    "executions",
    "search",
    "source",
    "disable",
    "enable",
];

pub use crate::model::check_namespace;

/// A folder name as one namespace level: `^[a-z0-9][a-z0-9_-]*` (no `.`: it would split
/// the folder into two levels).
pub fn check_segment(segment: &str) -> Result<(), String> {
    let b = segment.as_bytes();
    let ok_first = b
        .first()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let ok_rest = b
        .iter()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"_-".contains(c));
    if ok_first && ok_rest {
        Ok(())
    } else {
        Err("use lowercase letters, digits, `_` and `-`, starting with a letter or digit (no `.`, no spaces)".into())
    }
}

/// Kestra's flow id rule: `^[a-zA-Z0-9][a-zA-Z0-9._-]*`, 1–100 characters, not reserved.
pub fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("`id` is empty: give the flow an id, e.g. `id: my_flow`".into());
    }
    let b = id.as_bytes();
    let ok_first = b.first().is_some_and(|c| c.is_ascii_alphanumeric());
    let ok_rest = b
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(c));
    if !ok_first || !ok_rest {
        return Err(format!("flow id `{id}` is not valid: use letters, digits, `.`, `_` and `-`, starting with a letter or digit"));
    }
    if id.len() > 100 {
        return Err(format!(
            "flow id `{id}` has {} characters: Kestra allows at most 100; shorten it",
            id.len()
        ));
    }
    if RESERVED_IDS.contains(&id) {
        return Err(format!("flow id `{id}` is reserved since Kestra 1.0 (it is a word of the API's flow URLs): rename the flow"));
    }
    Ok(())
}

pub(super) fn prepare(
    files: &[SourceFile],
    target_namespace: &str,
) -> Result<Vec<Flow>, Vec<Problem>> {
    if let Err(why) = check_namespace(target_namespace) {
        return Err(vec![Problem {
            file: "--target-namespace".into(),
            line: None,
            message: format!("`{target_namespace}` is not a valid namespace: {why}"),
        }]);
    }
    let mut problems = Vec::new();
    let mut reported_folders = BTreeSet::new();
    let mut flows = Vec::new();
    // (namespace, id) -> the first file defining it.
    let mut owners: HashMap<(String, String), &SourceFile> = HashMap::new();
    let namespaces: Vec<Option<String>> = files
        .iter()
        .map(|file| namespace_of(file, target_namespace, &mut reported_folders, &mut problems))
        .collect();
    let all_checked = check_files(files, &namespaces);
    for ((file, namespace), checked) in files.iter().zip(namespaces).zip(all_checked) {
        let mut report = |p: FileProblem| {
            problems.push(Problem {
                file: file.git_path.clone(),
                line: p.line,
                message: p.message,
            })
        };
        for p in checked.problems {
            report(p);
        }
        if let (Some(ns), Some(id)) = (&namespace, &checked.id) {
            match owners.get(&(ns.clone(), id.clone())) {
                Some(other) => {
                    let at = id_line(other).map(|l| format!(":{l}")).unwrap_or_default();
                    report(FileProblem::new(
                        id_line(file),
                        format!("flow `{ns}.{id}` is also defined in `{}{at}`: Kestra knows a flow by namespace and id, so one would overwrite the other; rename one `id` or remove one file", other.git_path),
                    ));
                    continue;
                }
                None => {
                    owners.insert((ns.clone(), id.clone()), file);
                }
            }
        }
        if let Some(flow) = checked.flow {
            flows.push(flow);
        }
    }
    if problems.is_empty() {
        Ok(flows)
    } else {
        problems.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        Err(problems)
    }
}

/// [`check_file`] for every file, on every core: parsing and rewriting 10,000 flows is the
/// largest cost of a plan. Results in file order.
fn check_files(files: &[SourceFile], namespaces: &[Option<String>]) -> Vec<Checked> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len() / 64 + 1);
    let chunk = files.len().div_ceil(threads.max(1)).max(1);
    if threads <= 1 {
        return files
            .iter()
            .zip(namespaces)
            .map(|(f, ns)| check_file(f, ns.as_deref()))
            .collect();
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .zip(namespaces.chunks(chunk))
            .map(|(fs, nss)| {
                scope.spawn(move || {
                    fs.iter()
                        .zip(nss)
                        .map(|(f, ns)| check_file(f, ns.as_deref()))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(v) => v,
                // a panic in a check is a bug; re-raise it where it happened
                Err(p) => std::panic::resume_unwind(p),
            })
            .collect()
    })
}

/// What checking one file found.
struct Checked {
    /// The flow id, when valid.
    id: Option<String>,
    flow: Option<Flow>,
    problems: Vec<FileProblem>,
}

fn check_file(file: &SourceFile, namespace: Option<&str>) -> Checked {
    let mut checked = Checked {
        id: None,
        flow: None,
        problems: Vec::new(),
    };
    if file.bytes.len() as u64 > MAX_FILE_BYTES {
        checked.problems.push(FileProblem::new(
            None,
            format!(
                "the file has {} bytes, more than the {} KiB limit for a flow file: move big scripts or data to namespace files",
                file.bytes.len(),
                MAX_FILE_BYTES / 1024
            ),
        ));
        return checked;
    }
    let parsed = parse::decode(&file.bytes).and_then(|text| {
        let (bom, body) = parse::split_bom(text);
        parse::parse_mapping(body).map(|mapping| (bom, body, mapping))
    });
    let (bom, body, mapping) = match parsed {
        Ok(parsed) => parsed,
        Err(p) => {
            checked.problems.push(p);
            return checked;
        }
    };
    match flow_id(body, &mapping) {
        Ok(found) => checked.id = Some(found),
        Err(p) => checked.problems.push(p),
    }
    if let Err(p) = check_tasks(body, &mapping) {
        checked.problems.push(p);
    }
    let (Some(namespace), Some(id)) = (namespace, &checked.id) else {
        return checked;
    };
    match rewrite::rewrite_parsed(bom, body, &mapping, namespace) {
        Ok(source) if checked.problems.is_empty() => {
            checked.flow = Some(Flow {
                git_path: file.git_path.clone(),
                namespace: namespace.to_string(),
                id: id.clone(),
                source,
                // a file without a namespace gets one right after its `id` line
                inserted_line: match mapping.get("namespace") {
                    None => key_line(body, "id").map(|l| l + 1),
                    Some(_) => None,
                },
            })
        }
        Ok(_) => {}
        Err(p) => checked.problems.push(p),
    }
    checked
}

/// Line of the top-level `id` key of a file already known to parse.
fn id_line(file: &SourceFile) -> Option<usize> {
    let text = std::str::from_utf8(&file.bytes).ok()?;
    key_line(parse::split_bom(text).1, "id")
}

fn key_line(body: &str, key: &str) -> Option<usize> {
    locate::key_line(body, key)
}

/// The flow id, or the problem with it.
fn flow_id(body: &str, mapping: &Mapping) -> Result<String, FileProblem> {
    let line = || key_line(body, "id");
    match mapping.get("id") {
        None => Err(FileProblem::new(
            None,
            "no top-level `id`: a flow needs one, e.g. `id: my_flow`",
        )),
        Some(Value::String(id)) => match check_id(id) {
            Ok(()) => Ok(id.clone()),
            Err(why) => Err(FileProblem::new(line(), why)),
        },
        Some(other) => {
            let hint = match other {
                Value::Number(_) | Value::Bool(_) => " (quote it, e.g. `id: \"123\"`)",
                _ => "",
            };
            Err(FileProblem::new(
                line(),
                format!(
                    "`id` is {}, not text{hint}: write e.g. `id: my_flow`",
                    parse::describe(other)
                ),
            ))
        }
    }
}

fn check_tasks(body: &str, mapping: &Mapping) -> Result<(), FileProblem> {
    let message = match mapping.get("tasks") {
        Some(Value::Sequence(tasks)) if !tasks.is_empty() => return Ok(()),
        None => {
            return Err(FileProblem::new(
                None,
                "no top-level `tasks`: a flow needs a non-empty `tasks` list",
            ))
        }
        Some(Value::Sequence(_)) => {
            "`tasks` is an empty list: a flow needs at least one task".to_string()
        }
        Some(other) => format!(
            "`tasks` is {}, not a list: write the tasks as a list, each item starting with `- id:`",
            parse::describe(other)
        ),
    };
    Err(FileProblem::new(key_line(body, "tasks"), message))
}

/// The final namespace of `file`: target + its subfolders. A folder that cannot be a
/// namespace level is reported once (as a problem on the folder) and gives `None`.
fn namespace_of(
    file: &SourceFile,
    target: &str,
    reported: &mut BTreeSet<String>,
    problems: &mut Vec<Problem>,
) -> Option<String> {
    let mut ok = true;
    for (i, segment) in file.subfolders.iter().enumerate() {
        if let Err(why) = check_segment(segment) {
            ok = false;
            let folder = folder_path(file, i);
            if reported.insert(folder.clone()) {
                let suggestion = suggest_segment(segment)
                    .map(|s| format!(", e.g. `{s}`"))
                    .unwrap_or_default();
                problems.push(Problem {
                    file: folder,
                    line: None,
                    message: format!("folder `{segment}` cannot be a namespace level: {why}. Rename the folder{suggestion}, or list it in `.kestraignore`"),
                });
            }
        }
    }
    if !ok {
        return None;
    }
    let namespace = std::iter::once(target)
        .chain(file.subfolders.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(".");
    if let Err(why) = check_namespace(&namespace) {
        let folder = folder_path(file, file.subfolders.len().saturating_sub(1));
        if reported.insert(folder.clone()) {
            problems.push(Problem {
                file: folder,
                line: None,
                message: format!("the namespace of this folder, `{namespace}`, is not valid: {why}; use shorter folder names or fewer levels"),
            });
        }
        return None;
    }
    Some(namespace)
}

/// Workspace-relative path of the `index`-th subfolder of `file` (its `git_path` with the
/// file name and the deeper folders cut off).
fn folder_path(file: &SourceFile, index: usize) -> String {
    let parts: Vec<&str> = file.git_path.split('/').collect();
    let dirs = parts.len().saturating_sub(1);
    let base = dirs.checked_sub(file.subfolders.len());
    match base.and_then(|base| parts.get(..base + index + 1)) {
        Some(prefix) => prefix.join("/"),
        None => file.git_path.clone(),
    }
}

/// A valid folder name close to `segment`, if there is an obvious one.
fn suggest_segment(segment: &str) -> Option<String> {
    let mut s: String = segment
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    let s = s.trim_matches(|c| c == '-' || c == '_').to_string();
    (check_segment(&s).is_ok() && s != segment).then_some(s)
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
