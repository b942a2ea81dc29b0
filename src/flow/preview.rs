//! The text of a flow's pull-request preview copy: every trigger disabled, and the Subflow /
//! ForEachItem calls to flows of the same sync pointed at their preview copies. Every other
//! byte stays as in Git (comments, quoting, line endings), like the namespace rewrite.
//!
//! How: one walk over libyaml's own events (`flow::events`) finds, with byte positions,
//! - each item of the top-level `triggers` list: a `disabled` value other than a plain
//!   `true` is replaced by `true`; a trigger without `disabled` gets `disabled: true` as its
//!   first key (its own line at the key's column in block style, `disabled: true, ` after the
//!   `{` in flow style);
//! - each mapping below the top level whose `type` is a Subflow or ForEachItem task (with
//!   their legacy names, [`CALL_TYPES`]): its literal `namespace` and `flowId`. The caller's
//!   `remap` says where a call goes in the preview; `None` leaves it as it is (it calls the
//!   live flow), and a `namespace` or `flowId` with a `{{ expression }}` is left as it is too
//!   (the flow is chosen at run time).
//!
//! Then the result is checked the sure way: parsed again, it must be the original document
//! with exactly those changes made to the parsed values (each trigger's `disabled` is
//! `true`, each remapped call's `namespace` is the new one). Anything else is a problem
//! naming the file and line, never a silently different flow.

use serde::Serialize;
use serde_yaml_ng::{Mapping, Value};

use super::events::{Event, Events, Kind, ScalarStyle};
use super::locate;
use super::parse::{self, FileProblem};
use super::rewrite::{key_colon, render, Style};

/// Task types that start an execution of another flow given by literal `namespace` and
/// `flowId`, as Kestra names them (`io.kestra.plugin.core.flow.Subflow` declares the aliases
/// `io.kestra.core.tasks.flows.Subflow` and `io.kestra.core.tasks.flows.Flow`;
/// `io.kestra.plugin.core.flow.ForEachItem` declares `io.kestra.core.tasks.flows.ForEachItem`).
pub const CALL_TYPES: &[&str] = &[
    "io.kestra.plugin.core.flow.Subflow",
    "io.kestra.core.tasks.flows.Subflow",
    "io.kestra.core.tasks.flows.Flow",
    "io.kestra.plugin.core.flow.ForEachItem",
    "io.kestra.core.tasks.flows.ForEachItem",
];

/// One Subflow or ForEachItem task of a flow, as written in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Call {
    /// 1-based line of the task's `namespace` value.
    pub line: usize,
    /// The task's `id`, when it is a plain string.
    pub task_id: Option<String>,
    /// The `namespace` as written.
    pub namespace: String,
    /// The `flowId` as written.
    pub flow_id: String,
}

/// A preview copy's text and what was changed to make it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PreviewText {
    /// The preview text (the input, changed only where said below).
    pub source: String,
    /// How many triggers the flow has: all of them are disabled in `source`.
    pub triggers: usize,
    /// How many of them needed a change (the others were already `disabled: true`).
    pub triggers_changed: usize,
    /// Calls pointed at a preview flow: `(call as written, new namespace)`.
    pub remapped: Vec<(Call, String)>,
    /// Calls to a flow this sync does not hold: they run the live flow.
    pub live_calls: Vec<Call>,
    /// Calls whose `namespace` or `flowId` is an expression: the flow is chosen at run time.
    pub dynamic_calls: Vec<Call>,
}

/// `source` (a flow file, possibly with a BOM) as its preview copy: see the module docs.
/// `remap(namespace, flow_id)` gives the preview namespace of a called flow that this sync
/// holds, `None` for any other.
pub fn preview_text(
    source: &str,
    remap: &dyn Fn(&str, &str) -> Option<String>,
) -> Result<PreviewText, FileProblem> {
    let (bom, body) = parse::split_bom(source);
    let original = parse::parse_mapping(body)?;
    let walk = Walk::run(body, remap)?;
    let mut out = PreviewText {
        triggers: walk.triggers,
        triggers_changed: walk.edits.iter().filter(|e| e.trigger).count(),
        remapped: walk.remapped,
        live_calls: walk.live_calls,
        dynamic_calls: walk.dynamic_calls,
        ..PreviewText::default()
    };
    if walk.edits.is_empty() {
        out.source = source.to_string();
        return Ok(out);
    }
    let new_body = apply(body, &walk.edits);
    let mut expected = original;
    expect_preview(&mut expected, remap);
    match parse::parse_mapping(&new_body) {
        Ok(reparsed) if reparsed == expected => {
            out.source = format!("{bom}{new_body}");
            Ok(out)
        }
        _ => Err(FileProblem::new(
            walk.edits.first().map(|e| e.line),
            "kestra-sync could not disable the triggers or point the subflow calls at the preview without changing something else in this file (an unusual layout: anchors, aliases or tags on a trigger or a Subflow task); write them as plain block mappings, and please report this with the file",
        )),
    }
}

/// One change to the text: replace `start..end` by `text`.
#[derive(Debug, Clone)]
struct Edit {
    start: usize,
    end: usize,
    text: String,
    /// 1-based line, for problems.
    line: usize,
    /// A trigger's change (else a call's).
    trigger: bool,
}

fn apply(body: &str, edits: &[Edit]) -> String {
    let mut edits: Vec<&Edit> = edits.iter().collect();
    edits.sort_by_key(|e| (e.start, e.end));
    let mut out = String::with_capacity(body.len() + 32 * edits.len());
    let mut at = 0;
    for e in edits {
        out.push_str(body.get(at..e.start).unwrap_or_default());
        out.push_str(&e.text);
        at = e.end;
    }
    out.push_str(body.get(at..).unwrap_or_default());
    out
}

/// What the parse of the preview text must be: `doc` with each trigger disabled and each
/// call `remap` knows pointed at its new namespace. The same rules as the event walk, on the
/// parsed values.
fn expect_preview(doc: &mut Mapping, remap: &dyn Fn(&str, &str) -> Option<String>) {
    if let Some(Value::Sequence(triggers)) = doc.get_mut("triggers") {
        for t in triggers.iter_mut() {
            if let Value::Mapping(m) = t {
                m.insert(Value::String("disabled".into()), Value::Bool(true));
            }
        }
    }
    for (_, v) in doc.iter_mut() {
        expect_calls(v, remap);
    }
}

fn expect_calls(value: &mut Value, remap: &dyn Fn(&str, &str) -> Option<String>) {
    match value {
        Value::Mapping(m) => {
            let call = match (m.get("type"), m.get("namespace"), m.get("flowId")) {
                (Some(Value::String(t)), Some(Value::String(ns)), Some(Value::String(id)))
                    if CALL_TYPES.contains(&t.as_str())
                        && !is_expression(ns)
                        && !is_expression(id) =>
                {
                    remap(ns, id)
                }
                _ => None,
            };
            if let Some(new) = call {
                m.insert(Value::String("namespace".into()), Value::String(new));
            }
            for (_, v) in m.iter_mut() {
                expect_calls(v, remap);
            }
        }
        Value::Sequence(s) => s.iter_mut().for_each(|v| expect_calls(v, remap)),
        Value::Tagged(t) => expect_calls(&mut t.value, remap),
        _ => {}
    }
}

/// Whether a value is (or holds) a Pebble expression, so its final text is known only when
/// the flow runs.
fn is_expression(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

/// A mapping being read, and what was seen of its direct entries.
struct MapFrame {
    start: Event,
    top: bool,
    trigger: bool,
    expecting_key: bool,
    /// The current key's value, when the key is an undecorated scalar.
    key: Option<(Vec<u8>, Event)>,
    first_key: Option<Event>,
    type_: Option<Vec<u8>>,
    id: Option<Vec<u8>>,
    namespace: Option<Event>,
    flow_id: Option<Event>,
    disabled: Option<(Event, Event)>,
}

enum Frame {
    Map(Box<MapFrame>),
    Seq { triggers: bool },
}

/// Where a node sits in its parent.
enum Role {
    Root,
    Key,
    /// The value of the undecorated scalar key (when it is one), in the top-level mapping or not.
    Value {
        key: Option<Vec<u8>>,
        top: bool,
    },
    Item {
        triggers: bool,
    },
}

#[derive(Default)]
struct Walk {
    edits: Vec<Edit>,
    triggers: usize,
    remapped: Vec<(Call, String)>,
    live_calls: Vec<Call>,
    dynamic_calls: Vec<Call>,
}

impl Walk {
    fn run(body: &str, remap: &dyn Fn(&str, &str) -> Option<String>) -> Result<Walk, FileProblem> {
        let mut walk = Walk::default();
        let mut events = Events::new(body);
        let mut stack: Vec<Frame> = Vec::new();
        let mut root_seen = false;
        while let Some(ev) = events.next_event() {
            match &ev.kind {
                Kind::StreamStart | Kind::DocumentStart => continue,
                Kind::DocumentEnd | Kind::StreamEnd => break,
                Kind::SequenceEnd => {
                    stack.pop();
                    continue;
                }
                Kind::MappingEnd => {
                    if let Some(Frame::Map(m)) = stack.pop() {
                        walk.finish(body, &m, remap)?;
                    }
                    continue;
                }
                Kind::Scalar { .. }
                | Kind::Alias
                | Kind::SequenceStart { .. }
                | Kind::MappingStart { .. } => {}
            }
            let role = match stack.last_mut() {
                None if !root_seen => {
                    root_seen = true;
                    Role::Root
                }
                None => break,
                Some(Frame::Seq { triggers }) => Role::Item {
                    triggers: *triggers,
                },
                Some(Frame::Map(m)) if m.expecting_key => {
                    m.expecting_key = false;
                    m.key = match &ev.kind {
                        Kind::Scalar {
                            value,
                            decorated: false,
                            ..
                        } => Some((value.clone(), ev.clone())),
                        _ => None,
                    };
                    if m.first_key.is_none() {
                        m.first_key = Some(ev.clone());
                    }
                    Role::Key
                }
                Some(Frame::Map(m)) => {
                    m.expecting_key = true;
                    let key = m.key.take();
                    if let Some((name, key_event)) = &key {
                        let scalar = match &ev.kind {
                            Kind::Scalar {
                                value,
                                decorated: false,
                                style,
                            } if *style != ScalarStyle::Block => Some(value.clone()),
                            _ => None,
                        };
                        match name.as_slice() {
                            b"type" => m.type_ = scalar,
                            b"id" => m.id = scalar,
                            b"namespace" => m.namespace = Some(ev.clone()),
                            b"flowId" => m.flow_id = Some(ev.clone()),
                            b"disabled" => m.disabled = Some((key_event.clone(), ev.clone())),
                            _ => {}
                        }
                    }
                    Role::Value {
                        key: key.map(|(k, _)| k),
                        top: m.top,
                    }
                }
            };
            match &ev.kind {
                Kind::SequenceStart { .. } => {
                    let triggers = matches!(&role, Role::Value { key: Some(k), top: true } if k == b"triggers");
                    stack.push(Frame::Seq { triggers });
                }
                Kind::MappingStart { .. } => {
                    stack.push(Frame::Map(Box::new(MapFrame {
                        start: ev.clone(),
                        top: matches!(role, Role::Root),
                        trigger: matches!(role, Role::Item { triggers: true }),
                        expecting_key: true,
                        key: None,
                        first_key: None,
                        type_: None,
                        id: None,
                        namespace: None,
                        flow_id: None,
                        disabled: None,
                    })));
                }
                Kind::Alias if matches!(&role, Role::Value { key: Some(k), top: true } if k == b"triggers") =>
                {
                    return Err(FileProblem::new(
                        Some(ev.line),
                        "the top-level `triggers` is an alias (`*name`), so kestra-sync cannot disable them in the preview copy: write the triggers out",
                    ));
                }
                Kind::Alias | Kind::Scalar { .. }
                    if matches!(role, Role::Item { triggers: true }) =>
                {
                    walk.triggers += 1;
                    return Err(FileProblem::new(
                        Some(ev.line),
                        "this trigger is not written as a mapping (an alias `*name`, or a plain value), so kestra-sync cannot disable it in the preview copy: write it out as `- id: ...` with its `type`",
                    ));
                }
                _ => {}
            }
        }
        Ok(walk)
    }

    /// A mapping ended: a trigger gets disabled, a call may be remapped.
    fn finish(
        &mut self,
        body: &str,
        m: &MapFrame,
        remap: &dyn Fn(&str, &str) -> Option<String>,
    ) -> Result<(), FileProblem> {
        if m.trigger {
            self.triggers += 1;
            return self.disable(body, m);
        }
        if m.top {
            return Ok(());
        }
        let is_call = m
            .type_
            .as_deref()
            .is_some_and(|t| CALL_TYPES.iter().any(|c| c.as_bytes() == t));
        if !is_call {
            return Ok(());
        }
        let (Some(ns_event), Some(flow_event)) = (&m.namespace, &m.flow_id) else {
            return Ok(()); // the server says what is missing
        };
        let Some((flow_id, _)) = simple(flow_event) else {
            return Ok(());
        };
        let task_id =
            m.id.as_ref()
                .and_then(|v| String::from_utf8(v.clone()).ok());
        let Some((namespace, style)) = simple(ns_event) else {
            // an anchor, alias, tag or block: not followed; the verification refuses the
            // file if its value would have to change
            return Ok(());
        };
        let call = Call {
            line: ns_event.line,
            task_id,
            namespace: namespace.clone(),
            flow_id: flow_id.clone(),
        };
        if is_expression(&namespace) || is_expression(&flow_id) {
            self.dynamic_calls.push(call);
            return Ok(());
        }
        match remap(&namespace, &flow_id) {
            Some(new) => {
                if new != namespace {
                    self.edits.push(Edit {
                        start: ns_event.start,
                        end: ns_event.end,
                        text: render(&new, style),
                        line: ns_event.line,
                        trigger: false,
                    });
                }
                self.remapped.push((call, new));
            }
            None => self.live_calls.push(call),
        }
        Ok(())
    }

    /// The edit that makes the trigger `m` disabled, if it needs one.
    fn disable(&mut self, body: &str, m: &MapFrame) -> Result<(), FileProblem> {
        if let Some((key, value)) = &m.disabled {
            let text = match &value.kind {
                Kind::Scalar {
                    value: v,
                    style: ScalarStyle::Plain,
                    decorated: false,
                } if v.as_slice() == b"true" => return Ok(()),
                Kind::Scalar {
                    decorated: false,
                    style,
                    ..
                } if *style != ScalarStyle::Block => "true",
                _ => {
                    return Err(FileProblem::new(
                        Some(value.line),
                        "this trigger's `disabled` is written as an alias, an anchor, a tag, a block or a collection, so kestra-sync cannot set it to `true` in the preview copy: write `disabled: false` (or leave it out)",
                    ))
                }
            };
            let edit = if value.start == value.end {
                // `disabled:` with nothing after it: the value goes right after the colon
                let colon = key_colon(body, key.end).ok_or_else(|| {
                    FileProblem::new(Some(key.line), "this trigger's `disabled` key is written in an unusual way: write `disabled: false` (or leave it out)")
                })?;
                Edit {
                    start: colon + 1,
                    end: colon + 1,
                    text: format!(" {text}"),
                    line: key.line,
                    trigger: true,
                }
            } else {
                Edit {
                    start: value.start,
                    end: value.end,
                    text: text.to_string(),
                    line: value.line,
                    trigger: true,
                }
            };
            self.edits.push(edit);
            return Ok(());
        }
        let Some(first) = &m.first_key else {
            return Err(FileProblem::new(
                Some(m.start.line),
                "this trigger is an empty mapping: give it an `id` and a `type`",
            ));
        };
        let flow_style = body.as_bytes().get(m.start.start) == Some(&b'{');
        let text = if flow_style {
            "disabled: true, ".to_string()
        } else {
            let (column, _) = locate::column_of(body, first.start);
            let line_start = first.start - column;
            let prefix = body.get(line_start..first.start).unwrap_or_default();
            if !prefix.bytes().all(|b| b == b' ' || b == b'-') {
                return Err(FileProblem::new(
                    Some(first.line),
                    "this trigger's first key does not start its line (after `- ` and spaces only), so kestra-sync cannot add `disabled: true` to it in the preview copy: write the trigger as a block mapping, one `key: value` per line",
                ));
            }
            let eol = match body.get(first.start..).and_then(|rest| rest.find('\n')) {
                Some(n) if n > 0 && body.as_bytes().get(first.start + n - 1) == Some(&b'\r') => {
                    "\r\n"
                }
                _ => "\n",
            };
            format!("disabled: true{eol}{}", " ".repeat(column))
        };
        self.edits.push(Edit {
            start: first.start,
            end: first.start,
            text,
            line: first.line,
            trigger: true,
        });
        Ok(())
    }
}

/// The value of a plain or quoted undecorated scalar, and how to write a replacement.
fn simple(e: &Event) -> Option<(String, Style)> {
    match &e.kind {
        Kind::Scalar {
            value,
            style,
            decorated: false,
        } => {
            let style = match style {
                ScalarStyle::Plain => Style::Plain,
                ScalarStyle::SingleQuoted => Style::SingleQuoted,
                ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
                ScalarStyle::Block => return None,
            };
            Some((String::from_utf8(value.clone()).ok()?, style))
        }
        _ => None,
    }
}

#[cfg(test)]
#[path = "preview_tests.rs"]
mod tests;
