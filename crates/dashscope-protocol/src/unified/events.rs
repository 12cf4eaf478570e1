//! The unified stream: [`UnifiedEvent`], the per-dialect reader and writer traits, and
//! [`UnifiedAccumulator`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ConvertError;
use super::extras::{Fields, MARK, fill_markers};
use super::model::{Candidate, FinishReason, ToolCall, UnifiedResponse, Usage};
use crate::cassette::Dialect;
use crate::stream::Accumulate;

/// One item of a unified stream.
///
/// A dialect's reader turns each wire chunk (or Responses event) into a [`Passthrough`] holding
/// what the chunk says beyond the unified events, followed by those events. A writer for the
/// same dialect rebuilds each chunk exactly from the passthrough and the events after it;
/// writers for other dialects ignore foreign passthroughs and build their own chunks from the
/// events. A chunk with no unified meaning (a Responses `content_part.added`, an error frame) is
/// a passthrough alone.
///
/// [`Passthrough`]: UnifiedEvent::Passthrough
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum UnifiedEvent {
    /// The response's id and model, when first known and whenever they change.
    Meta {
        /// The id (chat `chatcmpl-` prefix removed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The model (native streams do not say).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
    },
    /// More answer text.
    TextDelta {
        /// Which candidate.
        #[serde(default)]
        candidate: u32,
        /// The new text.
        text: String,
    },
    /// More reasoning (thinking) text.
    ReasoningDelta {
        /// Which candidate.
        #[serde(default)]
        candidate: u32,
        /// The new text.
        text: String,
    },
    /// A tool call begins.
    ToolCallStart {
        /// Which candidate.
        #[serde(default)]
        candidate: u32,
        /// The call's position among the candidate's calls.
        index: u32,
        /// The call id.
        id: String,
        /// The function name.
        name: String,
    },
    /// More of a tool call's arguments.
    ToolCallArguments {
        /// Which candidate.
        #[serde(default)]
        candidate: u32,
        /// Which call.
        index: u32,
        /// The new piece of the JSON text.
        delta: String,
    },
    /// A tool call is complete (chat and native readers send it when the candidate finishes).
    ToolCallDone {
        /// Which candidate.
        #[serde(default)]
        candidate: u32,
        /// Which call.
        index: u32,
        /// The whole arguments.
        arguments: String,
    },
    /// A candidate stopped.
    Finish {
        /// Which candidate.
        #[serde(default)]
        candidate: u32,
        /// Why.
        reason: FinishReason,
    },
    /// Token counts so far (native sends them with every chunk; the last one wins).
    Usage(Usage),
    /// A wire chunk of one dialect, verbatim except for `{"$unified": k}` markers where the
    /// `k`-th event after it goes (see [`MARK`]).
    Passthrough {
        /// The dialect.
        dialect: Dialect,
        /// The chunk.
        data: Value,
    },
}

/// Turns one dialect's stream chunks into unified events.
pub trait EventReader {
    /// The dialect's chunk (or event) type.
    type Chunk;

    /// The events of one chunk: a [`UnifiedEvent::Passthrough`] first, then the chunk's
    /// unified events.
    fn read(&mut self, chunk: &Self::Chunk) -> Vec<UnifiedEvent>;
}

/// Turns unified events into one dialect's stream chunks.
///
/// Events from the same dialect's reader (with their passthroughs) give back the original
/// chunks exactly; events from anywhere else give the dialect's own canonical stream.
pub trait EventWriter {
    /// The dialect's chunk (or event) type.
    type Chunk;

    /// Takes one event; returns the chunks it completes.
    ///
    /// # Errors
    ///
    /// [`ConvertError`] when the chunk built does not fit the dialect's wire type (a hand-made
    /// passthrough) or the dialect cannot carry the event.
    fn push(&mut self, event: &UnifiedEvent) -> Result<Vec<Self::Chunk>, ConvertError>;

    /// The end of the stream: returns the chunks still held back.
    ///
    /// # Errors
    ///
    /// As [`push`](Self::push).
    fn finish(&mut self) -> Result<Vec<Self::Chunk>, ConvertError>;
}

/// Writes a whole event sequence with `writer`.
///
/// # Errors
///
/// The writer's first error.
pub fn write_all<W: EventWriter>(
    writer: &mut W,
    events: &[UnifiedEvent],
) -> Result<Vec<W::Chunk>, ConvertError> {
    let mut out = Vec::new();
    for e in events {
        out.extend(writer.push(e)?);
    }
    out.extend(writer.finish()?);
    Ok(out)
}

/// Reads a whole chunk sequence with `reader`.
pub fn read_all<'a, R: EventReader>(
    reader: &mut R,
    chunks: impl IntoIterator<Item = &'a R::Chunk>,
) -> Vec<UnifiedEvent>
where
    R::Chunk: 'a,
{
    chunks.into_iter().flat_map(|c| reader.read(c)).collect()
}

/// The passthrough a writer is filling, and the events that arrived after it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Pending {
    template: Option<Value>,
    events: Vec<UnifiedEvent>,
}

impl Pending {
    /// Starts a new group; returns the previous one.
    pub(crate) fn open(&mut self, data: Value) -> Option<(Value, Vec<UnifiedEvent>)> {
        let prev = self.take();
        self.template = Some(data);
        prev
    }

    /// Whether a group is open.
    pub(crate) fn is_open(&self) -> bool {
        self.template.is_some()
    }

    /// Adds an event to the open group.
    pub(crate) fn push(&mut self, e: UnifiedEvent) {
        self.events.push(e);
    }

    /// Closes the open group.
    pub(crate) fn take(&mut self) -> Option<(Value, Vec<UnifiedEvent>)> {
        let t = self.template.take()?;
        Some((t, std::mem::take(&mut self.events)))
    }
}

/// The value an event-marker stands for: the `field` of event `k` of `events`; `usage` and
/// `finish` spell those in the writer's dialect.
pub(crate) fn resolve(
    m: &Fields,
    events: &[UnifiedEvent],
    usage: &dyn Fn(&Usage) -> Value,
) -> Option<Value> {
    let k = usize::try_from(m.get(MARK)?.as_u64()?).ok()?;
    let field = m.get("field").and_then(Value::as_str);
    Some(match (events.get(k)?, field) {
        (UnifiedEvent::TextDelta { text, .. } | UnifiedEvent::ReasoningDelta { text, .. }, _) => {
            Value::from(text.as_str())
        }
        (UnifiedEvent::ToolCallStart { id, .. }, Some("id")) => Value::from(id.as_str()),
        (UnifiedEvent::ToolCallStart { name, .. }, Some("name")) => Value::from(name.as_str()),
        (UnifiedEvent::ToolCallArguments { delta, .. }, _) => Value::from(delta.as_str()),
        (UnifiedEvent::ToolCallDone { arguments, .. }, _) => Value::from(arguments.as_str()),
        (UnifiedEvent::Finish { reason, .. }, _) => Value::from(reason.as_str()),
        (UnifiedEvent::Usage(u), _) => usage(u),
        (UnifiedEvent::Meta { id: Some(id), .. }, Some("id")) => Value::from(id.as_str()),
        (UnifiedEvent::Meta { model: Some(m), .. }, Some("model")) => Value::from(m.as_str()),
        _ => return None,
    })
}

/// Fills the event markers of a template from its events.
pub(crate) fn fill_events(
    template: &mut Value,
    events: &[UnifiedEvent],
    usage: &dyn Fn(&Usage) -> Value,
) {
    fill_markers(template, &mut |m| {
        if m.get(MARK).is_some_and(Value::is_u64) {
            resolve(m, events, usage)
        } else {
            None
        }
    });
}

/// Replaces a non-empty string member by a marker for the next event; returns the string.
pub(crate) fn take_text(
    obj: &mut Fields,
    key: &str,
    next: usize,
    field: Option<&str>,
) -> Option<String> {
    let s = obj
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())?
        .to_owned();
    obj.insert(key.to_owned(), super::extras::event_mark(next, field));
    Some(s)
}

#[derive(Clone, Debug, Default)]
struct CandidateState {
    text: String,
    reasoning: String,
    calls: BTreeMap<u32, ToolCall>,
    finish: Option<FinishReason>,
}

/// Folds [`UnifiedEvent`]s into the [`UnifiedResponse`] they describe.
///
/// Text and reasoning deltas are concatenated per candidate, tool calls merged by index
/// (`ToolCallDone` replaces the arguments), the last finish reason, usage and meta win.
/// Passthroughs are ignored.
///
/// ```
/// use dashscope_protocol::stream::Accumulate;
/// use dashscope_protocol::unified::{FinishReason, UnifiedAccumulator, UnifiedEvent};
///
/// let mut acc = UnifiedAccumulator::new();
/// acc.push(&UnifiedEvent::TextDelta { candidate: 0, text: "Hel".into() });
/// acc.push(&UnifiedEvent::TextDelta { candidate: 0, text: "lo".into() });
/// acc.push(&UnifiedEvent::Finish { candidate: 0, reason: FinishReason::Stop });
/// let r = acc.finish();
/// assert_eq!(r.text(), "Hello");
/// assert_eq!(r.finish_reason(), Some(&FinishReason::Stop));
/// ```
#[derive(Clone, Debug, Default)]
pub struct UnifiedAccumulator {
    id: Option<String>,
    model: Option<String>,
    candidates: BTreeMap<u32, CandidateState>,
    usage: Option<Usage>,
}

impl UnifiedAccumulator {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Accumulate for UnifiedAccumulator {
    type Chunk = UnifiedEvent;
    type Output = UnifiedResponse;

    fn push(&mut self, event: &UnifiedEvent) {
        match event {
            UnifiedEvent::Meta { id, model } => {
                if id.is_some() {
                    self.id.clone_from(id);
                }
                if model.is_some() {
                    self.model.clone_from(model);
                }
            }
            UnifiedEvent::TextDelta { candidate, text } => {
                self.candidates
                    .entry(*candidate)
                    .or_default()
                    .text
                    .push_str(text);
            }
            UnifiedEvent::ReasoningDelta { candidate, text } => {
                self.candidates
                    .entry(*candidate)
                    .or_default()
                    .reasoning
                    .push_str(text);
            }
            UnifiedEvent::ToolCallStart {
                candidate,
                index,
                id,
                name,
            } => {
                let call = self
                    .candidates
                    .entry(*candidate)
                    .or_default()
                    .calls
                    .entry(*index)
                    .or_default();
                if call.id.is_empty() {
                    call.id.clone_from(id);
                }
                if call.name.is_empty() {
                    call.name.clone_from(name);
                }
            }
            UnifiedEvent::ToolCallArguments {
                candidate,
                index,
                delta,
            } => {
                self.candidates
                    .entry(*candidate)
                    .or_default()
                    .calls
                    .entry(*index)
                    .or_default()
                    .arguments
                    .push_str(delta);
            }
            UnifiedEvent::ToolCallDone {
                candidate,
                index,
                arguments,
            } => {
                self.candidates
                    .entry(*candidate)
                    .or_default()
                    .calls
                    .entry(*index)
                    .or_default()
                    .arguments
                    .clone_from(arguments);
            }
            UnifiedEvent::Finish { candidate, reason } => {
                self.candidates.entry(*candidate).or_default().finish = Some(reason.clone());
            }
            UnifiedEvent::Usage(u) => self.usage = Some(u.clone()),
            UnifiedEvent::Passthrough { .. } => {}
        }
    }

    fn snapshot(&self) -> UnifiedResponse {
        UnifiedResponse {
            id: self.id.clone(),
            model: self.model.clone(),
            candidates: self
                .candidates
                .iter()
                .map(|(index, c)| Candidate {
                    index: *index,
                    text: c.text.clone(),
                    reasoning: c.reasoning.clone(),
                    tool_calls: c.calls.values().cloned().collect(),
                    finish_reason: c.finish.clone(),
                    ..Default::default()
                })
                .collect(),
            usage: self.usage.clone(),
            ..Default::default()
        }
    }

    fn finish(self) -> UnifiedResponse {
        self.snapshot()
    }
}

/// Cuts `s` into pieces of at most `chars` characters (`0`: one piece).
fn pieces(s: &str, chars: usize) -> Vec<String> {
    if chars == 0 || s.is_empty() {
        return if s.is_empty() {
            Vec::new()
        } else {
            vec![s.to_owned()]
        };
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && i % chars == 0 {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(ch);
    }
    out.push(cur);
    out
}

impl UnifiedResponse {
    /// The events a stream of this answer consists of: its id and model, then per candidate
    /// the reasoning, the text (in pieces of at most `chunk_chars` characters; `0` for one
    /// piece each), the tool calls (start, arguments in pieces, done) and the finish reason,
    /// and the usage last. Extras are not carried (the events have no place for them).
    ///
    /// Feeding them to any dialect's [`EventWriter`] gives that dialect's stream of this answer.
    pub fn to_events(&self, chunk_chars: usize) -> Vec<UnifiedEvent> {
        let mut out = Vec::new();
        if self.id.is_some() || self.model.is_some() {
            out.push(UnifiedEvent::Meta {
                id: self.id.clone(),
                model: self.model.clone(),
            });
        }
        for c in &self.candidates {
            let candidate = c.index;
            for text in pieces(&c.reasoning, chunk_chars) {
                out.push(UnifiedEvent::ReasoningDelta { candidate, text });
            }
            for text in pieces(&c.text, chunk_chars) {
                out.push(UnifiedEvent::TextDelta { candidate, text });
            }
            for (i, t) in c.tool_calls.iter().enumerate() {
                let index = u32::try_from(i).unwrap_or(u32::MAX);
                out.push(UnifiedEvent::ToolCallStart {
                    candidate,
                    index,
                    id: t.id.clone(),
                    name: t.name.clone(),
                });
                for delta in pieces(&t.arguments, chunk_chars) {
                    out.push(UnifiedEvent::ToolCallArguments {
                        candidate,
                        index,
                        delta,
                    });
                }
                out.push(UnifiedEvent::ToolCallDone {
                    candidate,
                    index,
                    arguments: t.arguments.clone(),
                });
            }
            if let Some(reason) = &c.finish_reason {
                out.push(UnifiedEvent::Finish {
                    candidate,
                    reason: reason.clone(),
                });
            }
        }
        if let Some(u) = &self.usage {
            out.push(UnifiedEvent::Usage(u.clone()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_split_on_characters() {
        assert_eq!(pieces("héllo", 2), ["hé", "ll", "o"]);
        assert_eq!(pieces("abc", 0), ["abc"]);
        assert!(pieces("", 3).is_empty());
    }

    #[test]
    fn events_of_an_answer_accumulate_back() {
        let r = UnifiedResponse {
            id: Some("x".into()),
            candidates: vec![Candidate {
                text: "hello".into(),
                reasoning: "hm".into(),
                tool_calls: vec![ToolCall::new("c", "f", "{\"a\":1}")],
                finish_reason: Some(FinishReason::ToolCalls),
                ..Default::default()
            }],
            usage: Some(Usage::new(1, 2)),
            ..Default::default()
        };
        let mut acc = UnifiedAccumulator::new();
        for e in r.to_events(2) {
            acc.push(&e);
        }
        assert_eq!(acc.finish(), r);
    }
}
