//! Stream decoding ([`ChatStreamDecoder`]) and accumulation ([`ChatAccumulator`]).

use crate::error::ApiError;
use crate::sse::Event;
use crate::stream::{Accumulate, StreamDecode, StreamDecodeError, StreamItem, excerpt};

use crate::common::{FinishReason, FunctionCall, Logprobs, Role, TokenLogprob, ToolCall, ToolType};

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
            let api = ApiError::from_json(event.http_status, &whole).unwrap_or_else(|| ApiError {
                status: event.http_status,
                code: None,
                message: err.as_str().map_or(message, str::to_owned),
                kind: None,
                param: None,
                request_id: chunk.request_id().map(str::to_owned),
                body: whole.clone(),
            });
            return Ok(StreamItem::Error(api));
        }
        Ok(StreamItem::Chunk(chunk))
    }

    fn is_finished(&self) -> bool {
        self.finished
    }
}

/// One tool call being assembled from fragments.
#[derive(Clone, Debug, Default)]
struct ToolCallState {
    index: u32,
    id: String,
    kind: Option<ToolType>,
    name: String,
    arguments: String,
}

/// One choice being assembled.
#[derive(Clone, Debug, Default)]
struct ChoiceState {
    index: u32,
    role: Option<Role>,
    content: Option<String>,
    reasoning: Option<String>,
    tool_calls: Vec<ToolCallState>,
    finish_reason: Option<FinishReason>,
    logprobs: Option<Vec<TokenLogprob>>,
}

fn append(slot: &mut Option<String>, piece: &str) {
    slot.get_or_insert_with(String::new).push_str(piece);
}

/// Folds [`ChatChunk`]s into the [`ChatCompletion`] a non-stream call would have returned.
///
/// Per choice index (`n` > 1 is supported): `content` and `reasoning_content` concatenated,
/// the first `role`, tool calls merged by their `index` (id and name from the fragments that
/// carry them, arguments concatenated), the last non-null `finish_reason`, and logprob
/// entries concatenated. `usage` comes from the usage chunk; `id`, `model`, `created` and
/// `system_fingerprint` from the first chunk that has them. [`Accumulate::snapshot`] gives the
/// completion as far as it arrived.
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
    id: Option<String>,
    created: Option<i64>,
    model: Option<String>,
    system_fingerprint: Option<String>,
    choices: Vec<ChoiceState>,
    usage: Option<Usage>,
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

    fn choice_mut(&mut self, index: u32) -> &mut ChoiceState {
        let pos = match self.choices.binary_search_by_key(&index, |c| c.index) {
            Ok(pos) => pos,
            Err(pos) => {
                self.choices.insert(
                    pos,
                    ChoiceState {
                        index,
                        ..Default::default()
                    },
                );
                pos
            }
        };
        &mut self.choices[pos]
    }
}

fn merge_tool_call(calls: &mut Vec<ToolCallState>, frag: &ToolCall) {
    // A fragment without `index` (never seen from the service) belongs to the first call.
    let index = frag.index.unwrap_or(0);
    let pos = match calls.iter().position(|c| c.index == index) {
        Some(pos) => pos,
        None => {
            calls.push(ToolCallState {
                index,
                ..Default::default()
            });
            calls.len() - 1
        }
    };
    let call = &mut calls[pos];
    if let Some(id) = frag.id.as_deref().filter(|id| !id.is_empty()) {
        if call.id.is_empty() {
            call.id = id.to_owned();
        }
    }
    if call.kind.is_none() {
        call.kind.clone_from(&frag.kind);
    }
    if let Some(f) = &frag.function {
        if let Some(name) = f.name.as_deref().filter(|n| !n.is_empty()) {
            if call.name.is_empty() {
                call.name = name.to_owned();
            }
        }
        if let Some(args) = &f.arguments {
            call.arguments.push_str(args);
        }
    }
}

impl Accumulate for ChatAccumulator {
    type Chunk = ChatChunk;
    type Output = ChatCompletion;

    fn push(&mut self, chunk: &ChatChunk) {
        self.chunks += 1;
        if self.id.is_none() {
            self.id.clone_from(&chunk.id);
        }
        if self.created.is_none() {
            self.created = chunk.created;
        }
        if self.model.is_none() {
            self.model.clone_from(&chunk.model);
        }
        if self.system_fingerprint.is_none() {
            self.system_fingerprint
                .clone_from(&chunk.system_fingerprint);
        }
        if let Some(u) = &chunk.usage {
            self.usage = Some(Usage::clone(u));
        }
        for c in &chunk.choices {
            let state = self.choice_mut(c.index);
            let d = &c.delta;
            if state.role.is_none() {
                state.role.clone_from(&d.role);
            }
            if let Some(t) = &d.content {
                append(&mut state.content, t);
            }
            if let Some(t) = &d.reasoning_content {
                append(&mut state.reasoning, t);
            }
            for frag in d.tool_calls.iter().flatten() {
                merge_tool_call(&mut state.tool_calls, frag);
            }
            if let Some(fr) = &c.finish_reason {
                state.finish_reason = Some(fr.clone());
            }
            if let Some(lp) = c.logprobs.as_ref().and_then(|l| l.content.as_ref()) {
                state
                    .logprobs
                    .get_or_insert_with(Vec::new)
                    .extend(lp.iter().cloned());
            }
        }
    }

    fn snapshot(&self) -> ChatCompletion {
        let choices = self
            .choices
            .iter()
            .map(|c| {
                let tool_calls = (!c.tool_calls.is_empty()).then(|| {
                    let mut calls: Vec<&ToolCallState> = c.tool_calls.iter().collect();
                    calls.sort_by_key(|t| t.index);
                    calls
                        .into_iter()
                        .map(|t| ToolCall {
                            index: Some(t.index),
                            id: Some(t.id.clone()),
                            kind: Some(t.kind.clone().unwrap_or_default()),
                            function: Some(FunctionCall {
                                name: Some(t.name.clone()),
                                arguments: Some(t.arguments.clone()),
                                ..Default::default()
                            }),
                            ..Default::default()
                        })
                        .collect()
                });
                Choice {
                    index: c.index,
                    message: Message {
                        role: c.role.clone().unwrap_or(Role::Assistant),
                        content: c.content.clone().map(MessageContent::Text),
                        reasoning_content: c.reasoning.clone(),
                        tool_calls,
                        ..Default::default()
                    },
                    finish_reason: c.finish_reason.clone(),
                    logprobs: c.logprobs.clone().map(|content| Logprobs {
                        content: Some(content),
                        ..Default::default()
                    }),
                    ..Default::default()
                }
            })
            .collect();
        ChatCompletion {
            id: self.id.clone(),
            object: Some("chat.completion".to_owned()),
            created: self.created,
            model: self.model.clone(),
            system_fingerprint: self.system_fingerprint.clone(),
            choices,
            usage: self.usage.clone(),
            ..Default::default()
        }
    }

    fn finish(self) -> ChatCompletion {
        self.snapshot()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn event(index: usize, data: &str) -> Event<'_> {
        Event {
            index,
            id: None,
            event: None,
            data,
            http_status: None,
            retry: None,
        }
    }

    fn chunk(data: &str) -> ChatChunk {
        serde_json::from_str(data).unwrap()
    }

    #[test]
    fn done_empty_error_and_chunk() {
        let mut d = ChatStreamDecoder::new();
        assert_eq!(d.decode(&event(0, "")).unwrap(), StreamItem::Skip);
        let item = d
            .decode(&event(
                1,
                r#"{"choices":[{"index":0,"delta":{"content":"hi"}}]}"#,
            ))
            .unwrap();
        assert!(matches!(item, StreamItem::Chunk(c) if c.content() == Some("hi")));
        assert!(!d.is_finished());
        let item = d
            .decode(&event(
                2,
                r#"{"error":{"code":"data_inspection_failed","param":null,"message":"Output data may contain inappropriate content.","type":"data_inspection_failed"},"id":"chatcmpl-abc"}"#,
            ))
            .unwrap();
        match item {
            StreamItem::Error(e) => {
                assert_eq!(e.code.as_deref(), Some("data_inspection_failed"));
                assert_eq!(e.request_id.as_deref(), Some("abc"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(d.decode(&event(3, "[DONE]")).unwrap(), StreamItem::End);
        assert!(d.is_finished());
    }

    #[test]
    fn string_error_is_still_an_error() {
        let mut d = ChatStreamDecoder::new();
        match d.decode(&event(0, r#"{"error":"boom"}"#)).unwrap() {
            StreamItem::Error(e) => assert_eq!(e.message, "boom"),
            other => panic!("{other:?}"),
        }
        // A null error is not an error.
        assert!(matches!(
            d.decode(&event(1, r#"{"error":null,"choices":[]}"#))
                .unwrap(),
            StreamItem::Chunk(_)
        ));
    }

    #[test]
    fn malformed_json_names_the_event() {
        let mut d = ChatStreamDecoder::new();
        let e = d.decode(&event(7, r#"{"choices":[}"#)).unwrap_err();
        assert_eq!(e.index, 7);
        assert_eq!(e.excerpt, r#"{"choices":[}"#);
        assert!(e.to_string().starts_with("stream event #7"), "{e}");
    }

    #[test]
    fn tool_call_fragments_merge_with_null_and_empty_arguments() {
        let mut acc = ChatAccumulator::new();
        for data in [
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"f","arguments":""}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"g","arguments":"{}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"","type":"function","function":{"arguments":null}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"","function":{"arguments":"{\"x\":"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"","type":"function","function":{"arguments":"1}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"","type":"function","function":{"arguments":""}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":""},"finish_reason":"tool_calls"}]}"#,
        ] {
            acc.push(&chunk(data));
        }
        let out = acc.finish();
        let calls = out.tool_calls();
        assert_eq!(calls.len(), 2);
        assert_eq!(
            (calls[0].call_id(), calls[0].name(), calls[0].arguments()),
            (Some("call_a"), Some("f"), Some(r#"{"x":1}"#))
        );
        assert_eq!(
            (calls[1].call_id(), calls[1].name(), calls[1].arguments()),
            (Some("call_b"), Some("g"), Some("{}"))
        );
        assert_eq!(out.finish_reason(), Some(&FinishReason::ToolCalls));
        assert_eq!(out.text(), Some(""));
    }

    #[test]
    fn several_choices_and_logprobs() {
        let mut acc = ChatAccumulator::new();
        for data in [
            r#"{"id":"chatcmpl-q","model":"m","created":5,"choices":[{"index":1,"delta":{"role":"assistant","content":"B"}},{"index":0,"delta":{"role":"assistant","content":"A"},"logprobs":{"content":[{"token":"A","logprob":-0.5,"bytes":[65],"top_logprobs":[]}]}}]}"#,
            r#"{"id":"chatcmpl-q","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"stop","logprobs":{"content":[{"token":"a","logprob":-1.0,"bytes":[97],"top_logprobs":[]}]}},{"index":1,"delta":{"content":"b"},"finish_reason":"length"}]}"#,
            r#"{"id":"chatcmpl-q","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"#,
        ] {
            acc.push(&chunk(data));
        }
        let snap = acc.snapshot();
        assert_eq!(snap.choices.len(), 2);
        assert_eq!(snap.choices[0].message.text(), Some("Aa"));
        assert_eq!(snap.choices[1].message.text(), Some("Bb"));
        assert_eq!(snap.choices[1].finish_reason, Some(FinishReason::Length));
        let lp = snap.choices[0]
            .logprobs
            .as_ref()
            .unwrap()
            .content
            .as_ref()
            .unwrap();
        assert_eq!(
            lp.iter()
                .filter_map(|t| t.token.as_deref())
                .collect::<String>(),
            "Aa"
        );
        assert_eq!(snap.usage.as_ref().map(|u| u.total_tokens), Some(7));
        assert_eq!(snap.request_id(), Some("q"));
        assert_eq!((snap.model.as_deref(), snap.created), (Some("m"), Some(5)));
        assert_eq!(acc.chunk_count(), 3);
    }

    #[test]
    fn empty_accumulator_snapshot() {
        let out = ChatAccumulator::new().snapshot();
        assert!(out.choices.is_empty());
        assert_eq!(out.text(), None);
        assert_eq!(out.usage, None);
    }
}
