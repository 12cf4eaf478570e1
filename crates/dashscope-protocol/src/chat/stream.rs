//! Stream decoding ([`ChatStreamDecoder`]) and accumulation ([`ChatAccumulator`]).

use crate::error::ApiError;
use crate::sse::Event;
use crate::stream::{Accumulate, StreamDecode, StreamDecodeError, StreamItem, excerpt};

use crate::common::Role;
use crate::stream::{merge_extra, merge_tool_call};

use super::request::{Message, MessageContent};
use super::response::{ChatChunk, ChatCompletion, Choice, Usage};

/// The data of the compat stream's last event.
pub const DONE: &str = "[DONE]";

/// Turns compat SSE events into [`ChatChunk`]s.
///
/// | event data | item |
/// |---|---|
/// | `[DONE]` | [`StreamItem::End`] |
/// | empty | [`StreamItem::Skip`] |
/// | `{"error":{…},…}` | [`StreamItem::Error`] |
/// | any other JSON object | [`StreamItem::Chunk`] |
///
/// Each payload is parsed once, straight into [`ChatChunk`]; an `error` member (which no chunk
/// field claims) is found in the chunk's `extra`.
#[derive(Clone, Debug, Default)]
pub struct ChatStreamDecoder {
    finished: bool,
}

impl ChatStreamDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }
}

impl StreamDecode for ChatStreamDecoder {
    type Chunk = ChatChunk;

    fn decode(&mut self, event: &Event<'_>) -> Result<StreamItem<ChatChunk>, StreamDecodeError> {
        let data = event.data.trim_ascii();
        if data.is_empty() {
            return Ok(StreamItem::Skip);
        }
        if data == DONE {
            self.finished = true;
            return Ok(StreamItem::End);
        }
        // The common chunk shape takes the fast path, which gives exactly what serde would;
        // anything else (or anything unusual) goes through serde.
        let chunk: ChatChunk = match crate::fast::decode(data) {
            Some(chunk) => chunk,
            None => serde_json::from_str(data).map_err(|source| StreamDecodeError {
                index: event.index,
                source,
                excerpt: excerpt(data),
            })?,
        };
        if let Some(err) = chunk.error() {
            // The rare error path reads the payload again, so the error keeps the exact body.
            let message = err.to_string();
            let whole =
                serde_json::from_str::<serde_json::Value>(data).unwrap_or(serde_json::Value::Null);
            let api = ApiError::from_json(event.http_status, &whole).unwrap_or_else(|| {
                let message = err.as_str().map_or(message, str::to_owned);
                let request_id = chunk.request_id().map(str::to_owned);
                ApiError::new(event.http_status, None, message, request_id, whole.clone())
            });
            return Ok(StreamItem::Error(api));
        }
        Ok(StreamItem::Chunk(chunk))
    }

    fn is_finished(&self) -> bool {
        self.finished
    }
}

/// Folds [`ChatChunk`]s into the [`ChatCompletion`] a non-stream call would have returned.
///
/// Per choice index (`n` > 1 is supported): `content` and `reasoning_content` concatenated,
/// the first `role`, tool calls merged by their `index` (id and name from the fragments that
/// carry them, arguments concatenated), spoken output (`delta.audio`, Omni models) folded into
/// `message.audio` (see [`Audio`](crate::common::Audio)), the last non-null `finish_reason`,
/// and logprob entries concatenated. `usage` comes from the usage chunk; `id`, `model`,
/// `created` and `system_fingerprint` from the first chunk that has them. Members the types do
/// not know (`service_tier`, …) are kept at each level (chunk → completion, choice → choice,
/// delta → message): a later value wins, but a `null` never replaces a value.
/// [`Accumulate::snapshot`] gives the completion as far as it arrived.
///
/// ```
/// use dashscope_protocol::chat::{ChatAccumulator, ChatChunk};
/// use dashscope_protocol::stream::Accumulate;
///
/// let mut acc = ChatAccumulator::new();
/// for data in [
///     r#"{"id":"chatcmpl-1","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"}}]}"#,
///     r#"{"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}"#,
/// ] {
///     acc.push(&serde_json::from_str::<ChatChunk>(data).unwrap());
/// }
/// let done = acc.finish();
/// assert_eq!(done.text(), Some("Hello"));
/// assert_eq!(done.object.as_deref(), Some("chat.completion"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct ChatAccumulator {
    /// The completion so far (a choice is `assistant` until its first delta with a role).
    done: ChatCompletion,
    /// The choice indexes whose role has arrived.
    roles: Vec<u32>,
    chunks: usize,
}

impl ChatAccumulator {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many chunks were folded in.
    pub fn chunk_count(&self) -> usize {
        self.chunks
    }
}

impl Accumulate for ChatAccumulator {
    type Chunk = ChatChunk;
    type Output = ChatCompletion;

    fn push(&mut self, chunk: &ChatChunk) {
        self.chunks += 1;
        let d = &mut self.done;
        for (slot, v) in [
            (&mut d.id, &chunk.id),
            (&mut d.model, &chunk.model),
            (&mut d.system_fingerprint, &chunk.system_fingerprint),
        ] {
            if slot.is_none() {
                slot.clone_from(v);
            }
        }
        d.created = d.created.or(chunk.created);
        if let Some(u) = &chunk.usage {
            d.usage = Some(Usage::clone(u));
        }
        merge_extra(&mut d.extra, &chunk.extra, ChatCompletion::WIRE_MEMBERS);
        for c in &chunk.choices {
            let pos = match d.choices.binary_search_by_key(&c.index, |c| c.index) {
                Ok(pos) => pos,
                Err(pos) => {
                    let message = Message {
                        role: Role::Assistant,
                        ..Default::default()
                    };
                    let choice = Choice {
                        index: c.index,
                        message,
                        ..Default::default()
                    };
                    d.choices.insert(pos, choice);
                    pos
                }
            };
            let (state, delta) = (&mut d.choices[pos], &c.delta);
            let m = &mut state.message;
            if let Some(role) = delta
                .role
                .as_ref()
                .filter(|_| !self.roles.contains(&c.index))
            {
                self.roles.push(c.index);
                m.role = role.clone();
            }
            if let Some(t) = &delta.reasoning_content {
                m.reasoning_content
                    .get_or_insert_with(String::new)
                    .push_str(t);
            }
            if let Some(t) = &delta.content {
                match m.content.get_or_insert_with(Default::default) {
                    MessageContent::Text(text) => text.push_str(t),
                    MessageContent::Parts(_) => {}
                }
            }
            for (pos, frag) in delta.tool_calls.iter().flatten().enumerate() {
                merge_tool_call(m.tool_calls.get_or_insert_with(Vec::new), pos, frag);
            }
            if let Some(a) = &delta.audio {
                m.audio.get_or_insert_with(Default::default).push(a);
            }
            merge_extra(&mut m.extra, &delta.extra, Message::WIRE_MEMBERS);
            if c.finish_reason.is_some() {
                state.finish_reason.clone_from(&c.finish_reason);
            }
            if let Some(lp) = c.logprobs.as_ref().and_then(|l| l.content.as_ref()) {
                let acc = state.logprobs.get_or_insert_with(Default::default);
                acc.content
                    .get_or_insert_with(Vec::new)
                    .extend(lp.iter().cloned());
            }
            merge_extra(&mut state.extra, &c.extra, Choice::WIRE_MEMBERS);
        }
    }

    fn snapshot(&self) -> ChatCompletion {
        let mut out = self.done.clone();
        out.object = Some("chat.completion".to_owned());
        for c in &mut out.choices {
            // Every call reads as whole: its id, type, name and arguments, in index order.
            for t in c.message.tool_calls.iter_mut().flatten() {
                t.id.get_or_insert_with(String::new);
                t.kind.get_or_insert_with(Default::default);
                let f = t.function.get_or_insert_with(Default::default);
                f.name.get_or_insert_with(String::new);
                f.arguments.get_or_insert_with(String::new);
            }
            if let Some(calls) = &mut c.message.tool_calls {
                calls.sort_by_key(|t| t.index);
            }
        }
        out
    }
}

/// The fast path ([`crate::fast`]) of [`ChatStreamDecoder`], for the differential fuzz target and
/// tests; not a stable API.
///
/// `Some(c)` only when `c == serde_json::from_str::<ChatChunk>(data).unwrap()`; `None` for any
/// payload it leaves to serde (including every one serde rejects).
#[doc(hidden)]
pub fn __decode_fast(data: &str) -> Option<ChatChunk> {
    crate::fast::decode(data)
}
