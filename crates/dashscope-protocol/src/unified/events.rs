//! The unified stream: [`UnifiedEvent`], and the tool-call bookkeeping the chat and native
//! readers share.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::DialectChunk;
use super::model::{Candidate, FinishReason, ToolCall, UnifiedResponse, Usage};
use crate::common::Audio;

/// One item of a unified stream, read from a dialect's typed chunks.
///
/// Folding a stream's events ([`UnifiedResponse::from_events`]) gives the answer the dialect's
/// own accumulator gives, read as a [`UnifiedResponse`].
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
    /// More spoken output (Omni models): a piece of the base64 audio and/or of its transcript,
    /// with the audio's id, expiry or URL when the chunk names them. Folding the pieces with
    /// [`Audio::push`] gives the candidate's `audio`.
    AudioDelta {
        /// Which candidate.
        #[serde(default)]
        candidate: u32,
        /// The piece.
        audio: Audio,
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
    /// A wire chunk, verbatim (boxed: chunks are large, events small). The readers never
    /// produce it; a stream that hands out the chunks themselves too (the provider's
    /// `with_passthrough`) puts each before its events.
    Passthrough(Box<DialectChunk>),
}

/// The tool calls of a chat or native stream: which have started, and the arguments of those
/// not done yet (bounded by the calls of one answer).
#[derive(Clone, Debug, Default)]
pub(crate) struct Calls {
    calls: BTreeMap<(u32, u32), Call>,
}

#[derive(Clone, Debug, Default)]
struct Call {
    started: bool,
    done: bool,
    arguments: String,
}

impl Calls {
    /// One fragment of call `index` of `candidate`: its start (at the first fragment with an id
    /// or a name), then its piece of the arguments.
    pub(crate) fn fragment(
        &mut self,
        candidate: u32,
        index: u32,
        id: Option<String>,
        name: Option<String>,
        arguments: Option<String>,
        out: &mut impl Extend<UnifiedEvent>,
    ) {
        let id = id.filter(|s| !s.is_empty());
        let name = name.filter(|s| !s.is_empty());
        let arguments = arguments.filter(|s| !s.is_empty());
        if id.is_none() && name.is_none() && arguments.is_none() {
            return;
        }
        let call = self.calls.entry((candidate, index)).or_default();
        if !call.started && (id.is_some() || name.is_some()) {
            call.started = true;
            out.extend([UnifiedEvent::ToolCallStart {
                candidate,
                index,
                id: id.unwrap_or_default(),
                name: name.unwrap_or_default(),
            }]);
        }
        if let Some(delta) = arguments {
            call.done = false;
            call.arguments.push_str(&delta);
            out.extend([UnifiedEvent::ToolCallArguments {
                candidate,
                index,
                delta,
            }]);
        }
    }

    /// `ToolCallDone` for every call of `candidate` not done yet, then `Finish`.
    pub(crate) fn finish(
        &mut self,
        candidate: u32,
        reason: FinishReason,
        out: &mut impl Extend<UnifiedEvent>,
    ) {
        for (&(_, index), call) in self.calls.range_mut((candidate, 0)..=(candidate, u32::MAX)) {
            if !call.done {
                call.done = true;
                out.extend([UnifiedEvent::ToolCallDone {
                    candidate,
                    index,
                    arguments: std::mem::take(&mut call.arguments),
                }]);
            }
        }
        out.extend([UnifiedEvent::Finish { candidate, reason }]);
    }
}

impl UnifiedResponse {
    /// The answer a stream's events describe: per candidate, text and reasoning concatenated,
    /// audio pieces folded ([`Audio::push`]), tool calls by index (the first id and name, the
    /// arguments concatenated, then replaced by `ToolCallDone`'s); the last finish reason,
    /// usage, id and model win. Candidates and calls come out in index order.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a UnifiedEvent>) -> Self {
        let mut r = UnifiedResponse::default();
        let mut cands: BTreeMap<u32, (Candidate, BTreeMap<u32, ToolCall>)> = BTreeMap::new();
        for e in events {
            let (c, calls) = match e {
                UnifiedEvent::Meta { id, model } => {
                    r.id = id.clone().or(r.id.take());
                    r.model = model.clone().or(r.model.take());
                    continue;
                }
                UnifiedEvent::Usage(u) => {
                    r.usage = Some(u.clone());
                    continue;
                }
                UnifiedEvent::Passthrough(_) => continue,
                UnifiedEvent::TextDelta { candidate, .. }
                | UnifiedEvent::ReasoningDelta { candidate, .. }
                | UnifiedEvent::AudioDelta { candidate, .. }
                | UnifiedEvent::ToolCallStart { candidate, .. }
                | UnifiedEvent::ToolCallArguments { candidate, .. }
                | UnifiedEvent::ToolCallDone { candidate, .. }
                | UnifiedEvent::Finish { candidate, .. } => {
                    let (c, calls) = cands.entry(*candidate).or_default();
                    c.index = *candidate;
                    (c, calls)
                }
            };
            match e {
                UnifiedEvent::TextDelta { text, .. } => c.text.push_str(text),
                UnifiedEvent::ReasoningDelta { text, .. } => c.reasoning.push_str(text),
                UnifiedEvent::AudioDelta { audio, .. } => {
                    c.audio.get_or_insert_with(Default::default).push(audio);
                }
                UnifiedEvent::ToolCallStart {
                    index, id, name, ..
                } => {
                    let call = calls.entry(*index).or_default();
                    for (slot, v) in [(&mut call.id, id), (&mut call.name, name)] {
                        if slot.is_empty() {
                            slot.clone_from(v);
                        }
                    }
                }
                UnifiedEvent::ToolCallArguments { index, delta, .. } => {
                    calls.entry(*index).or_default().arguments.push_str(delta);
                }
                UnifiedEvent::ToolCallDone {
                    index, arguments, ..
                } => {
                    calls
                        .entry(*index)
                        .or_default()
                        .arguments
                        .clone_from(arguments);
                }
                UnifiedEvent::Finish { reason, .. } => c.finish_reason = Some(reason.clone()),
                _ => {}
            }
        }
        r.candidates = (cands.into_values())
            .map(|(c, calls)| Candidate {
                tool_calls: calls.into_values().collect(),
                ..c
            })
            .collect();
        r
    }
}
