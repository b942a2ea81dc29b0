//! A safe, pull-style view of libyaml's event stream, with byte positions: the one place
//! in the crate that calls `unsafe` code.
//!
//! Why it exists: to find where a top-level key and its value sit in a file, we must ask the
//! same parser that reads the file (`serde_yaml_ng` runs `unsafe-libyaml`, a Rust
//! translation of libyaml), because a hand-made scanner disagrees with it on odd layouts.
//! `serde_yaml_ng` gives positions only in errors and loads the *whole* document into events
//! before it deserializes anything, so asking it costs a full parse per question. Here we
//! read events one at a time and stop as soon as the answer is known: for most flows, after
//! the first three lines. No crate offers this: `serde_yaml_ng` keeps its libyaml wrapper
//! private, and `libyaml-safer` (a port, not the same parser) still panics on some inputs.
//!
//! The `unsafe` blocks follow `serde_yaml_ng`'s own wrapper (`src/libyaml/parser.rs`):
//! the parser struct lives in a `Box` (libyaml keeps pointers into it), the input outlives
//! the parser (lifetime `'a`), every event is deleted after it is copied, and the parser is
//! deleted on drop. Nothing here is input-dependent: libyaml itself bounds-checks the input.

#![allow(unsafe_code)]

use std::mem::MaybeUninit;

use unsafe_libyaml as unsafe_sys;

/// How a scalar is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    /// `|` or `>` block scalar.
    Block,
}

/// What an event is, with the little we need of its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    StreamStart,
    StreamEnd,
    DocumentStart,
    DocumentEnd,
    Alias,
    Scalar {
        /// The scalar's value (after unquoting and folding).
        value: Vec<u8>,
        style: ScalarStyle,
        /// Written with an anchor (`&a`) or a tag (`!t`).
        decorated: bool,
    },
    SequenceStart {
        decorated: bool,
    },
    SequenceEnd,
    MappingStart {
        decorated: bool,
    },
    MappingEnd,
}

/// One event: its kind, and where it starts and ends in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: Kind,
    /// Byte offset of the first byte of the node (its anchor or tag, when it has one).
    pub start: usize,
    /// Byte offset just past the node's text (for a scalar: past its last character or
    /// closing quote).
    pub end: usize,
    /// 1-based line of `start`.
    pub line: usize,
}

/// libyaml's parser over `input` (UTF-8 text without a BOM), one event at a time.
pub struct Events<'a> {
    parser: Box<MaybeUninit<unsafe_sys::yaml_parser_t>>,
    _input: &'a [u8],
    done: bool,
}

impl<'a> Events<'a> {
    pub fn new(input: &'a str) -> Self {
        let mut parser = Box::new(MaybeUninit::<unsafe_sys::yaml_parser_t>::uninit());
        let bytes = input.as_bytes();
        // SAFETY: `parser` points to writable memory for a `yaml_parser_t`, which
        // `yaml_parser_initialize` fills in. The input slice outlives the parser (`'a`) and
        // is never written to.
        let ok = unsafe {
            let p = parser.as_mut_ptr();
            let ok = unsafe_sys::yaml_parser_initialize(p).ok;
            if ok {
                unsafe_sys::yaml_parser_set_encoding(p, unsafe_sys::YAML_UTF8_ENCODING);
                unsafe_sys::yaml_parser_set_input_string(p, bytes.as_ptr(), bytes.len() as u64);
            }
            ok
        };
        Events {
            parser,
            _input: bytes,
            // initialization fails only when memory runs out: then there are no events
            done: !ok,
        }
    }

    /// The next event, `None` at the end of the stream or on a parse error (the file was
    /// parsed before, so an error here means "not found", never a wrong position).
    pub fn next_event(&mut self) -> Option<Event> {
        if self.done {
            return None;
        }
        let mut raw = MaybeUninit::<unsafe_sys::yaml_event_t>::uninit();
        // SAFETY: the parser was initialized (`done` is false) and is not used after an
        // error (`done` is then set). On success `raw` holds an event, which we read and
        // then delete exactly once; pointers in it are valid until the delete.
        let event = unsafe {
            let p = self.parser.as_mut_ptr();
            if !unsafe_sys::yaml_parser_parse(p, raw.as_mut_ptr()).ok {
                self.done = true;
                return None;
            }
            let e = raw.as_mut_ptr();
            let event = convert(&*e);
            unsafe_sys::yaml_event_delete(e);
            event
        };
        if matches!(
            event.as_ref().map(|e| &e.kind),
            Some(Kind::StreamEnd) | None
        ) {
            self.done = true;
        }
        event
    }
}

/// Copy what we need out of a libyaml event.
///
/// # Safety
/// `e` must be an event just produced by `yaml_parser_parse` and not yet deleted.
unsafe fn convert(e: &unsafe_sys::yaml_event_t) -> Option<Event> {
    let kind = match e.type_ {
        unsafe_sys::YAML_STREAM_START_EVENT => Kind::StreamStart,
        unsafe_sys::YAML_STREAM_END_EVENT => Kind::StreamEnd,
        unsafe_sys::YAML_DOCUMENT_START_EVENT => Kind::DocumentStart,
        unsafe_sys::YAML_DOCUMENT_END_EVENT => Kind::DocumentEnd,
        unsafe_sys::YAML_ALIAS_EVENT => Kind::Alias,
        unsafe_sys::YAML_SCALAR_EVENT => {
            // SAFETY: the event is a scalar, so `data.scalar` is the active union field;
            // `value` points to `length` bytes owned by the event (null only when empty).
            let s = unsafe { e.data.scalar };
            let value = if s.value.is_null() || s.length == 0 {
                Vec::new()
            } else {
                // SAFETY: as above.
                unsafe { std::slice::from_raw_parts(s.value, usize::try_from(s.length).ok()?) }
                    .to_vec()
            };
            let style = match s.style {
                unsafe_sys::YAML_PLAIN_SCALAR_STYLE => ScalarStyle::Plain,
                unsafe_sys::YAML_SINGLE_QUOTED_SCALAR_STYLE => ScalarStyle::SingleQuoted,
                unsafe_sys::YAML_DOUBLE_QUOTED_SCALAR_STYLE => ScalarStyle::DoubleQuoted,
                _ => ScalarStyle::Block,
            };
            Kind::Scalar {
                value,
                style,
                decorated: !s.anchor.is_null() || !s.tag.is_null(),
            }
        }
        unsafe_sys::YAML_SEQUENCE_START_EVENT => {
            // SAFETY: the event is a sequence start: `data.sequence_start` is active.
            let s = unsafe { e.data.sequence_start };
            Kind::SequenceStart {
                decorated: !s.anchor.is_null() || !s.tag.is_null(),
            }
        }
        unsafe_sys::YAML_SEQUENCE_END_EVENT => Kind::SequenceEnd,
        unsafe_sys::YAML_MAPPING_START_EVENT => {
            // SAFETY: the event is a mapping start: `data.mapping_start` is active.
            let m = unsafe { e.data.mapping_start };
            Kind::MappingStart {
                decorated: !m.anchor.is_null() || !m.tag.is_null(),
            }
        }
        unsafe_sys::YAML_MAPPING_END_EVENT => Kind::MappingEnd,
        _ => return None,
    };
    Some(Event {
        kind,
        start: usize::try_from(e.start_mark.index).ok()?,
        end: usize::try_from(e.end_mark.index).ok()?,
        line: usize::try_from(e.start_mark.line).ok()?.saturating_add(1),
    })
}

impl Drop for Events<'_> {
    fn drop(&mut self) {
        // SAFETY: the parser was initialized by `yaml_parser_initialize` unless that failed
        // (`done` set before any event, and then libyaml left it zeroed: deleting is still
        // what serde_yaml_ng does). Deleted once, here.
        unsafe { unsafe_sys::yaml_parser_delete(self.parser.as_mut_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(body: &str) -> Vec<Kind> {
        let mut events = Events::new(body);
        std::iter::from_fn(|| events.next_event())
            .map(|e| e.kind)
            .collect()
    }

    #[test]
    fn a_whole_stream() {
        assert_eq!(
            kinds("a: 'b'\n"),
            vec![
                Kind::StreamStart,
                Kind::DocumentStart,
                Kind::MappingStart { decorated: false },
                Kind::Scalar {
                    value: b"a".to_vec(),
                    style: ScalarStyle::Plain,
                    decorated: false
                },
                Kind::Scalar {
                    value: b"b".to_vec(),
                    style: ScalarStyle::SingleQuoted,
                    decorated: false
                },
                Kind::MappingEnd,
                Kind::DocumentEnd,
                Kind::StreamEnd,
            ]
        );
    }

    #[test]
    fn a_broken_document_ends_the_events_without_a_panic() {
        assert_eq!(
            kinds("a: [\n"),
            vec![
                Kind::StreamStart,
                Kind::DocumentStart,
                Kind::MappingStart { decorated: false },
                Kind::Scalar {
                    value: b"a".to_vec(),
                    style: ScalarStyle::Plain,
                    decorated: false
                },
                Kind::SequenceStart { decorated: false },
            ]
        );
        assert_eq!(kinds("\u{0}\u{1}"), vec![]);
        // after the error the parser is not touched again
        let mut events = Events::new("]");
        while events.next_event().is_some() {}
        assert!(events.next_event().is_none());
    }
}
