//! One conversation, any dialect: a unified chat model with typed conversions to and from the
//! Chat Completions, Responses and native dialects.
//!
//! * [`Conversation`]: what to send (messages with text, image, audio and video [`Part`]s,
//!   reasoning, tool calls and results, partial mode; [`Tool`]s, [`ToolChoice`], [`Sampling`],
//!   [`Thinking`], [`ResponseFormat`], streaming options). It converts both ways: a client
//!   writes it as any dialect's request, a server reads any dialect's request as one.
//! * [`UnifiedResponse`]: the answer (one or more [`Candidate`]s with text, reasoning, tool
//!   calls and a [`FinishReason`]; [`Usage`]), read from any dialect's response.
//! * [`UnifiedEvent`]: one item of a stream, read from any dialect's typed chunks by that
//!   dialect's reader ([`ChatEventReader`], [`ResponsesEventReader`], [`NativeEventReader`]).
//!
//! | value | chat | Responses | native |
//! |---|---|---|---|
//! | [`Conversation`] | [`from_chat`](Conversation::from_chat) / [`to_chat`](Conversation::to_chat) ([`ChatRequest`]) | [`from_responses`](Conversation::from_responses) / [`to_responses`](Conversation::to_responses) ([`ResponseRequest`]) | [`from_native`](Conversation::from_native) / [`to_native`](Conversation::to_native) ([`GenerationRequest`]) |
//! | [`UnifiedResponse`] | [`from_chat`](UnifiedResponse::from_chat) ([`ChatCompletion`]) | [`from_responses`](UnifiedResponse::from_responses) ([`Response`]) | [`from_native`](UnifiedResponse::from_native) ([`GenerationResponse`]) |
//! | stream | [`ChatEventReader`] ([`ChatChunk`]) | [`ResponsesEventReader`] ([`ResponseStreamEvent`]) | [`NativeEventReader`] ([`GenerationResponse`]) |
//!
//! Code that picks the dialect at run time uses [`DialectRequest`], [`DialectResponse`],
//! [`DialectChunk`] and [`StreamReader`], which take a [`Dialect`].
//!
//! ```
//! use dashscope_protocol::cassette::Dialect;
//! use dashscope_protocol::unified::Conversation;
//!
//! let conv = Conversation::new("qwen-plus").system("Be brief.").user("Hi");
//! for dialect in [Dialect::Chat, Dialect::Responses, Dialect::Native] {
//!     let wire = conv.to_request(dialect).unwrap();
//!     let back = Conversation::from_request(&wire);
//!     assert_eq!(back, conv);
//! }
//! ```
//!
//! # Lossless
//!
//! Every conversion is typed, member by member, between a wire struct and a unified one. What
//! the unified model does not name stays with the wire value it came from: each object read
//! from a request (the conversation, a message, a part, a tool, a tool call) keeps, in its
//! `kept` member, the wire value it was read from, unless writing the object from scratch gives
//! that value back (see [`DialectValue`]). Writing to the same dialect starts from the kept
//! value and sets the members the model names; a member whose wire form reads as the model's
//! value is left as it is (a string or a list `content`, `stop` as one string, a missing
//! `content`, a `null`, a native `input.prompt`, …). So dialect → unified → the same dialect
//! gives back exactly the original request, and edits to a read conversation win over what was
//! kept. Another dialect ignores the kept value. A [`UnifiedResponse`] keeps the whole wire
//! response it was read from.
//!
//! # Across dialects
//!
//! Where two dialects overlap, A → unified → B → unified gives the unified value of A without
//! what A kept. The mapping:
//!
//! | unified | chat | Responses | native |
//! |---|---|---|---|
//! | `model` | `model` | `model` | `model` |
//! | first [`Role::System`] message | `messages[0]` (`system`) | `instructions` (when it is plain text; else an input item) | `input.messages[0]` |
//! | [`Message`] user / assistant / system / tool | `messages[]` | `input` items: `message`, `function_call`, `function_call_output`, `reasoning` | `input.messages[]` (`input.prompt`: one user message) |
//! | `Message.parts` | `content` (string or parts) | `content` (string or parts) | `content` (string or `[{"text"}, {"image"}, …]`) |
//! | [`Part::Text`] | `{"type":"text"}` | `input_text` (user, system) / `output_text` (assistant) | `{"text"}` |
//! | [`Part::Image`] `url`, `detail`, `min_pixels`, `max_pixels` | `image_url{url, detail}`, `min_pixels`, `max_pixels` | `input_image{image_url, detail}` (no pixel hints) | `{"image"}`, `min_pixels`, `max_pixels` (no detail) |
//! | [`Part::Audio`] `url`, `format` | `input_audio{data, format}` | `input_audio{audio_url or data, format}` | `{"audio"}` (no format) |
//! | [`Part::Video`] url / frames, `fps`, pixel hints | `video_url{url}` / `video[]`, `fps`, … | `input_video{video_url, fps}` (no frames, no pixel hints) | `{"video": url or [frames]}`, `fps`, … |
//! | `Message.reasoning` | `reasoning_content` | a `reasoning` item (`summary_text`) before the turn | `reasoning_content` |
//! | `Message.tool_calls` ([`ToolCall`] `id`, `name`, `arguments`) | `tool_calls[]{id, function{name, arguments}}` | `function_call` items (`call_id`, `name`, `arguments`) | `tool_calls[]{id, function{name, arguments}}` |
//! | tool message `tool_call_id` + text | `{"role":"tool","tool_call_id"}` | `function_call_output{call_id, output}` | `{"role":"tool","tool_call_id"}` |
//! | `Message.partial` | `partial` | — | `partial` |
//! | `Message.name` | `name` | — | `name` |
//! | [`FunctionTool`] | `{"type":"function","function":{…}}` | `{"type":"function","name",…}` (flat) | `parameters.tools[]` (nested) |
//! | [`ToolChoice`] | `tool_choice` (`{"type":"function","function":{"name"}}`) | `tool_choice` (`{"type":"function","name"}`) | `parameters.tool_choice` |
//! | `parallel_tool_calls` | `parallel_tool_calls` | `parallel_tool_calls` | `parameters.parallel_tool_calls` |
//! | `temperature`, `top_p` | same | same | `parameters.*` |
//! | `max_tokens` | `max_tokens` | `max_output_tokens` | `parameters.max_tokens` |
//! | `top_k`, `seed`, `stop`, `n`, `presence_penalty`, `repetition_penalty`, `max_completion_tokens` | same | — | `parameters.*` |
//! | [`Thinking`] `enabled`, `budget`, `effort` | `enable_thinking`, `thinking_budget`, `reasoning_effort` | `enable_thinking`, —, `reasoning.effort` | `parameters.*` |
//! | [`ResponseFormat`] | `response_format` | `text.format` (flat json_schema) | `parameters.response_format` |
//! | `stream`, `include_usage` | `stream`, `stream_options.include_usage` | `stream`, — (always) | header `X-DashScope-SSE`, — (always) |
//! | [`UnifiedResponse`] `id` | `chatcmpl-` + id | `id` | `request_id` |
//! | `model` | `model` | `model` | — |
//! | [`Candidate`] text, reasoning, tool calls | `choices[].message` | output `message`, `reasoning`, `function_call` items | `output.choices[].message` (or `output.text`) |
//! | [`Candidate`] `audio` ([`Audio`]; stream: [`UnifiedEvent::AudioDelta`]) | `message.audio` (`delta.audio`) | — | `output.audio` |
//! | [`FinishReason`] | `finish_reason` | `status` (+ `incomplete_details.reason`) | `finish_reason` (`"null"`: not finished) |
//! | [`Usage`] input, output, total, reasoning, cached | `prompt_tokens`, `completion_tokens`, `total_tokens`, `completion_tokens_details.reasoning_tokens`, `prompt_tokens_details.cached_tokens` | `input_tokens`, `output_tokens`, `total_tokens`, `output_tokens_details.reasoning_tokens`, `input_tokens_details.cached_tokens` | `input_tokens`, `output_tokens`, `total_tokens`, `output_tokens_details.reasoning_tokens`, `prompt_tokens_details.cached_tokens` |
//!
//! Dialect-only members stay with the kept wire value: chat `frequency_penalty`, `logprobs`,
//! `enable_search`; Responses `previous_response_id`, `store`, built-in tools; native
//! `result_format`, `incremental_output`, token-id `stop`s, `search_options`; every response
//! envelope member (`created`, `object`, item ids, …).
//!
//! A `to_<dialect>` call fails with [`ConvertError::Unsupported`] when the conversation holds
//! something that dialect cannot carry (a `—` above, a part or tool of another dialect, a
//! number beyond the wire type), rather than dropping it. Limits of the round trip across
//! dialects: Responses cannot tell two consecutive assistant turns apart (their items merge into
//! one turn), and derives the finish reason from its status (`stop` with tool calls reads back
//! as `tool_calls`); native answers carry no model; an empty text is no text everywhere.

mod chat;
mod events;
mod model;
mod native;
mod responses;

pub use chat::ChatEventReader;
pub use events::UnifiedEvent;
pub use model::{
    Audio, AudioPart, Candidate, Conversation, DialectValue, FinishReason, FunctionTool,
    ImageDetail, ImagePart, JsonSchemaFormat, Kept, Message, Part, ReasoningEffort, ResponseFormat,
    Role, Sampling, TextPart, Thinking, Tool, ToolCall, ToolChoice, UnifiedResponse, Usage,
    VideoPart, VideoSource, WirePart, WireTool,
};
pub use native::NativeEventReader;
pub use responses::ResponsesEventReader;

use crate::cassette::Dialect;
use crate::chat::{ChatChunk, ChatCompletion, ChatRequest};
use crate::native::{GenerationRequest, GenerationResponse};
use crate::responses::{Response, ResponseRequest, ResponseStreamEvent};

/// Why a conversation could not be written in a dialect.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The dialect has no way to say this.
    #[error("the {} dialect cannot carry {what}", dialect.as_str())]
    Unsupported {
        /// The dialect.
        dialect: Dialect,
        /// What it cannot carry.
        what: String,
    },
}

/// The error for something `dialect` cannot carry.
pub(crate) fn unsupported(dialect: Dialect, what: impl Into<String>) -> ConvertError {
    ConvertError::Unsupported {
        dialect,
        what: what.into(),
    }
}

/// What an object read from `wire` keeps: `wire` itself, unless writing the object from
/// scratch (`canonical`) gives it back.
pub(crate) fn keep<W: Clone + PartialEq, C, R, N>(
    wire: &W,
    canonical: Result<W, ConvertError>,
    wrap: impl FnOnce(W) -> DialectValue<C, R, N>,
) -> Kept<C, R, N> {
    match canonical {
        Ok(c) if c == *wire => None,
        _ => Some(Box::new(wrap(wire.clone()))),
    }
}

/// Sets an optional wire list from unified items: `None` for no item, unless the wire list
/// already reads as empty (`[]` or an explicit `null` are kept).
pub(crate) fn set_list<W, M>(
    slot: &mut Option<Vec<W>>,
    items: &[M],
    f: impl Fn(&M) -> Result<W, ConvertError>,
) -> Result<(), ConvertError> {
    if !items.is_empty() {
        *slot = Some(items.iter().map(f).collect::<Result<_, _>>()?);
    } else if slot.as_ref().is_some_and(|l| !l.is_empty()) {
        *slot = None;
    }
    Ok(())
}

/// The value of a float member.
pub(crate) fn float(n: &Option<serde_json::Number>) -> Option<f64> {
    n.as_ref().and_then(serde_json::Number::as_f64)
}

/// Sets a float member to `v`, unless it reads as `v` already (an integer stays an integer).
pub(crate) fn set_float(slot: &mut Option<serde_json::Number>, v: Option<f64>) {
    if float(slot) != v {
        *slot = v.and_then(serde_json::Number::from_f64);
    }
}

/// A `u64` count as the `u32` a wire member holds.
pub(crate) fn narrow(
    v: Option<u64>,
    dialect: Dialect,
    what: &str,
) -> Result<Option<u32>, ConvertError> {
    v.map(u32::try_from)
        .transpose()
        .map_err(|_| unsupported(dialect, format!("a {what} above {}", u32::MAX)))
}

/// A [`Part::Dialect`] or [`Tool::Dialect`] written to `dialect`: its own value, or an error.
pub(crate) fn own<T: Clone, C, R, N>(
    value: &DialectValue<C, R, N>,
    dialect: Dialect,
    get: impl FnOnce(&DialectValue<C, R, N>) -> Option<&T>,
    what: &str,
) -> Result<T, ConvertError> {
    get(value).cloned().ok_or_else(|| {
        unsupported(
            dialect,
            format!("a {what} of the {} dialect", value.dialect().as_str()),
        )
    })
}

/// A request in one of the three dialects.
pub type DialectRequest = DialectValue<ChatRequest, ResponseRequest, GenerationRequest>;

/// A non-stream response in one of the three dialects.
pub type DialectResponse = DialectValue<ChatCompletion, Response, GenerationResponse>;

/// A stream chunk (Responses: a stream event) in one of the three dialects.
pub type DialectChunk = DialectValue<ChatChunk, ResponseStreamEvent, GenerationResponse>;

impl Conversation {
    /// The conversation of a request in any dialect.
    pub fn from_request(request: &DialectRequest) -> Self {
        match request {
            DialectValue::Chat(r) => Self::from_chat(r),
            DialectValue::Responses(r) => Self::from_responses(r),
            DialectValue::Native(r) => Self::from_native(r),
        }
    }

    /// The request of this conversation in `dialect`.
    ///
    /// # Errors
    ///
    /// As [`to_chat`](Self::to_chat), [`to_responses`](Self::to_responses) and
    /// [`to_native`](Self::to_native).
    pub fn to_request(&self, dialect: Dialect) -> Result<DialectRequest, ConvertError> {
        Ok(match dialect {
            Dialect::Chat => DialectValue::Chat(self.to_chat()?),
            Dialect::Responses => DialectValue::Responses(self.to_responses()?),
            Dialect::Native => DialectValue::Native(self.to_native()?),
        })
    }
}

impl UnifiedResponse {
    /// The answer of a response in any dialect.
    pub fn from_response(response: &DialectResponse) -> Self {
        match response {
            DialectValue::Chat(r) => Self::from_chat(r),
            DialectValue::Responses(r) => Self::from_responses(r),
            DialectValue::Native(r) => Self::from_native(r),
        }
    }
}

/// A stream reader for a dialect chosen at run time.
#[derive(Clone, Debug)]
pub enum StreamReader {
    /// Chat Completions.
    Chat(ChatEventReader),
    /// Responses.
    Responses(ResponsesEventReader),
    /// Native (incremental or cumulative).
    Native(NativeEventReader),
}

impl StreamReader {
    /// A reader for `dialect` (native: incremental).
    pub fn new(dialect: Dialect) -> Self {
        match dialect {
            Dialect::Chat => StreamReader::Chat(ChatEventReader::new()),
            Dialect::Responses => StreamReader::Responses(ResponsesEventReader::new()),
            Dialect::Native => StreamReader::Native(NativeEventReader::new(true)),
        }
    }

    /// A reader for the stream `request` asks for (native: its `incremental_output`).
    pub fn for_request(request: &DialectRequest) -> Self {
        match request {
            DialectValue::Native(r) => StreamReader::Native(NativeEventReader::for_request(r)),
            other => Self::new(other.dialect()),
        }
    }

    /// Reads one chunk into `out`. A chunk of another dialect than the reader's says nothing
    /// to it and gives no event.
    pub fn read(&mut self, chunk: DialectChunk, out: &mut impl Extend<UnifiedEvent>) {
        match (self, chunk) {
            (StreamReader::Chat(r), DialectValue::Chat(c)) => r.read(c, out),
            (StreamReader::Responses(r), DialectValue::Responses(c)) => r.read(c, out),
            (StreamReader::Native(r), DialectValue::Native(c)) => r.read(c, out),
            _ => {}
        }
    }
}
