//! One conversation, any dialect: a unified chat model with lossless conversions to and from
//! the Chat Completions, Responses and native dialects.
//!
//! * [`Conversation`]: what to send (messages with text, image, audio and video [`Part`]s,
//!   reasoning, tool calls and results, partial mode; [`Tool`]s, [`ToolChoice`], [`Sampling`],
//!   [`Thinking`], [`ResponseFormat`], streaming options).
//! * [`UnifiedResponse`]: the answer (one or more [`Candidate`]s with text, reasoning, tool
//!   calls and a [`FinishReason`]; [`Usage`]).
//! * [`UnifiedEvent`]: one item of a stream, read from any dialect's chunks
//!   ([`EventReader`]) and written as any dialect's chunks ([`EventWriter`]);
//!   [`UnifiedAccumulator`] folds the events into a [`UnifiedResponse`], and
//!   [`UnifiedResponse::to_events`] turns an answer back into events (a stream of it in any
//!   dialect: what the mock server's synthetic responder does).
//!
//! # Conversion style
//!
//! Named functions, one pair per dialect and value: `from_<dialect>` (infallible, takes a
//! reference) and `to_<dialect>` (fallible: [`ConvertError`]).
//!
//! | value | chat | Responses | native |
//! |---|---|---|---|
//! | [`Conversation`] | [`from_chat`](Conversation::from_chat) / [`to_chat`](Conversation::to_chat) ([`ChatRequest`]) | [`from_responses`](Conversation::from_responses) / [`to_responses`](Conversation::to_responses) ([`ResponseRequest`]) | [`from_native`](Conversation::from_native) / [`to_native`](Conversation::to_native) ([`GenerationRequest`]) |
//! | [`UnifiedResponse`] | [`from_chat`](UnifiedResponse::from_chat) / [`to_chat`](UnifiedResponse::to_chat) ([`ChatCompletion`]) | [`from_responses`](UnifiedResponse::from_responses) / [`to_responses`](UnifiedResponse::to_responses) ([`Response`]) | [`from_native`](UnifiedResponse::from_native) / [`to_native`](UnifiedResponse::to_native) ([`GenerationResponse`]) |
//! | stream | [`ChatEventReader`] / [`ChatEventWriter`] | [`ResponsesEventReader`] / [`ResponsesEventWriter`] | [`NativeEventReader`] / [`NativeEventWriter`] |
//!
//! Code that picks the dialect at run time uses [`DialectRequest`], [`DialectResponse`],
//! [`DialectChunk`], [`StreamReader`] and [`StreamWriter`], which take a
//! [`Dialect`].
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
//! Converting dialect → unified → the same dialect gives back exactly the original
//! (`serde_json::Value` equality), for requests, responses and stream chunk sequences. What the
//! unified model has no place for rides in the [`Extras`] of the object it belongs to (the
//! conversation, a message, a part, a tool, a tool call, the response, a candidate, the usage),
//! under the dialect it came from: another dialect never sees it. How a member is kept:
//!
//! * it is taken into the unified model only when writing it back gives the same value;
//!   anything else (an explicit `null`, an unknown member, a form the writer would not choose)
//!   stays verbatim in the extras;
//! * `"$absent": [keys]` lists members the writer would add that the wire did not have;
//! * `"$form": {…}` notes the wire form (list content where a string would do, `stop` as one
//!   string, a chat id without `chatcmpl-`, native `input.prompt` or the text result format,
//!   the layout of Responses output items and native list content, …);
//! * `"$<key>": {…}` holds the extras of a nested object the model reads partly (`$function`,
//!   `$parameters`, `$input`, `$stream_options`, `$prompt_tokens_details`, …);
//! * a wire member whose name starts with `$` is kept under one more `$`.
//!
//! In kept layouts and stream passthroughs, `{"$unified": …}` marks a value that the unified
//! model holds (a piece of text by its byte length, the value of the `k`-th event after a
//! passthrough, the text so far of a cumulative native stream).
//!
//! # Across dialects
//!
//! Where two dialects overlap, A → unified → B → unified gives the unified value of A minus A's
//! extras. The mapping:
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
//! | [`FinishReason`] | `finish_reason` | `status` (+ `incomplete_details.reason`) | `finish_reason` (`"null"`: not finished) |
//! | [`Usage`] input, output, total, reasoning, cached | `prompt_tokens`, `completion_tokens`, `total_tokens`, `completion_tokens_details.reasoning_tokens`, `prompt_tokens_details.cached_tokens` | `input_tokens`, `output_tokens`, `total_tokens`, `output_tokens_details.reasoning_tokens`, `input_tokens_details.cached_tokens` | `input_tokens`, `output_tokens`, `total_tokens`, `output_tokens_details.reasoning_tokens`, `prompt_tokens_details.cached_tokens` |
//!
//! Dialect-only members are extras: chat `frequency_penalty`, `logprobs`, `enable_search`;
//! Responses `previous_response_id`, `store`, built-in tools; native `result_format`,
//! `incremental_output`, token-id `stop`s, `search_options`; every response envelope member
//! (`created`, `object`, item ids, …).
//!
//! A `to_<dialect>` call fails with [`ConvertError::Unsupported`] when the conversation holds
//! something that dialect cannot carry (a `—` above, a part or tool of another dialect, more
//! than one candidate for Responses), rather than dropping it. Limits of the round trip across
//! dialects: Responses cannot tell two consecutive assistant turns apart (their items merge into
//! one turn), and derives the finish reason from its status (`stop` with tool calls reads back
//! as `tool_calls`); native answers carry no model; an empty text is no text everywhere.

mod chat;
mod events;
mod extras;
mod model;
mod native;
mod responses;
mod shared;

use serde_json::Value;

pub use chat::{ChatEventReader, ChatEventWriter};
pub use events::{EventReader, EventWriter, UnifiedAccumulator, UnifiedEvent, read_all, write_all};
pub use extras::{Extras, Fields, MARK};
pub use model::{
    AudioPart, Candidate, Conversation, DialectValue, FinishReason, FunctionTool, ImageDetail,
    ImagePart, JsonSchemaFormat, Message, Part, ReasoningEffort, ResponseFormat, Role, Sampling,
    TextPart, Thinking, Tool, ToolCall, ToolChoice, UnifiedResponse, Usage, VideoPart, VideoSource,
};
pub use native::{NativeEventReader, NativeEventWriter, NativeStreamOptions};
pub use responses::{ResponsesEventReader, ResponsesEventWriter};

use crate::cassette::Dialect;
use crate::chat::{ChatChunk, ChatCompletion, ChatRequest};
use crate::native::{GenerationRequest, GenerationResponse};
use crate::responses::{Response, ResponseRequest, ResponseStreamEvent};

/// Why a unified value could not be written in a dialect.
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
    /// The value built does not fit the dialect's wire type (extras of the wrong type).
    #[error("the converted {} value does not fit its wire type: {source}", dialect.as_str())]
    Wire {
        /// The dialect.
        dialect: Dialect,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
}

/// A request in one of the three dialects.
#[derive(Clone, Debug, PartialEq)]
pub enum DialectRequest {
    /// Chat Completions.
    Chat(ChatRequest),
    /// Responses.
    Responses(ResponseRequest),
    /// Native generation.
    Native(GenerationRequest),
}

/// A non-stream response in one of the three dialects.
#[derive(Clone, Debug, PartialEq)]
// Short-lived conversion results: boxing the larger wire types would only make matching
// clumsier for callers.
#[allow(clippy::large_enum_variant)]
pub enum DialectResponse {
    /// Chat Completions.
    Chat(ChatCompletion),
    /// Responses.
    Responses(Response),
    /// Native generation.
    Native(GenerationResponse),
}

/// A stream chunk (Responses: a stream event) in one of the three dialects.
#[derive(Clone, Debug, PartialEq)]
// Short-lived conversion results: boxing the larger wire types would only make matching
// clumsier for callers.
#[allow(clippy::large_enum_variant)]
pub enum DialectChunk {
    /// A Chat Completions chunk.
    Chat(ChatChunk),
    /// A Responses stream event.
    Responses(ResponseStreamEvent),
    /// A native chunk.
    Native(GenerationResponse),
}

/// Implements `dialect`, `to_json` and `from_json` on a three-dialect enum.
macro_rules! dialect_enum {
    ($name:ident, $chat:ty, $responses:ty, $native:ty) => {
        impl $name {
            /// The dialect.
            pub fn dialect(&self) -> Dialect {
                match self {
                    $name::Chat(_) => Dialect::Chat,
                    $name::Responses(_) => Dialect::Responses,
                    $name::Native(_) => Dialect::Native,
                }
            }

            /// The wire JSON.
            pub fn to_json(&self) -> Value {
                let v = match self {
                    $name::Chat(x) => serde_json::to_value(x),
                    $name::Responses(x) => serde_json::to_value(x),
                    $name::Native(x) => serde_json::to_value(x),
                };
                v.unwrap_or(Value::Null)
            }

            /// Parses wire JSON of `dialect`.
            ///
            /// # Errors
            ///
            /// The JSON error when `value` is not of the dialect's shape.
            pub fn from_json(dialect: Dialect, value: &Value) -> Result<Self, serde_json::Error> {
                Ok(match dialect {
                    Dialect::Chat => $name::Chat(<$chat>::deserialize(value)?),
                    Dialect::Responses => $name::Responses(<$responses>::deserialize(value)?),
                    Dialect::Native => $name::Native(<$native>::deserialize(value)?),
                })
            }
        }
    };
}

use serde::Deserialize as _;

dialect_enum!(
    DialectRequest,
    ChatRequest,
    ResponseRequest,
    GenerationRequest
);
dialect_enum!(
    DialectResponse,
    ChatCompletion,
    Response,
    GenerationResponse
);
dialect_enum!(
    DialectChunk,
    ChatChunk,
    ResponseStreamEvent,
    GenerationResponse
);

impl Conversation {
    /// The conversation of a request in any dialect.
    pub fn from_request(request: &DialectRequest) -> Self {
        match request {
            DialectRequest::Chat(r) => Self::from_chat(r),
            DialectRequest::Responses(r) => Self::from_responses(r),
            DialectRequest::Native(r) => Self::from_native(r),
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
            Dialect::Chat => DialectRequest::Chat(self.to_chat()?),
            Dialect::Responses => DialectRequest::Responses(self.to_responses()?),
            Dialect::Native => DialectRequest::Native(self.to_native()?),
        })
    }
}

impl UnifiedResponse {
    /// The answer of a response in any dialect.
    pub fn from_response(response: &DialectResponse) -> Self {
        match response {
            DialectResponse::Chat(r) => Self::from_chat(r),
            DialectResponse::Responses(r) => Self::from_responses(r),
            DialectResponse::Native(r) => Self::from_native(r),
        }
    }

    /// The response of this answer in `dialect`.
    ///
    /// # Errors
    ///
    /// As [`to_chat`](Self::to_chat), [`to_responses`](Self::to_responses) and
    /// [`to_native`](Self::to_native).
    pub fn to_response(&self, dialect: Dialect) -> Result<DialectResponse, ConvertError> {
        Ok(match dialect {
            Dialect::Chat => DialectResponse::Chat(self.to_chat()?),
            Dialect::Responses => DialectResponse::Responses(self.to_responses()?),
            Dialect::Native => DialectResponse::Native(self.to_native()?),
        })
    }
}

/// An [`EventReader`] for a dialect chosen at run time.
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
            DialectRequest::Native(r) => StreamReader::Native(NativeEventReader::for_request(r)),
            other => Self::new(other.dialect()),
        }
    }
}

impl EventReader for StreamReader {
    type Chunk = DialectChunk;

    /// The events of `chunk`; a chunk of another dialect than the reader's is one passthrough.
    fn read(&mut self, chunk: &DialectChunk) -> Vec<UnifiedEvent> {
        match (self, chunk) {
            (StreamReader::Chat(r), DialectChunk::Chat(c)) => r.read(c),
            (StreamReader::Responses(r), DialectChunk::Responses(c)) => r.read(c),
            (StreamReader::Native(r), DialectChunk::Native(c)) => r.read(c),
            (_, other) => vec![UnifiedEvent::Passthrough {
                dialect: other.dialect(),
                data: other.to_json(),
            }],
        }
    }
}

/// An [`EventWriter`] for a dialect chosen at run time.
#[derive(Clone, Debug)]
pub enum StreamWriter {
    /// Chat Completions.
    Chat(ChatEventWriter),
    /// Responses.
    Responses(ResponsesEventWriter),
    /// Native.
    Native(NativeEventWriter),
}

impl StreamWriter {
    /// A writer for `dialect` (native: incremental, message format).
    pub fn new(dialect: Dialect) -> Self {
        match dialect {
            Dialect::Chat => StreamWriter::Chat(ChatEventWriter::new()),
            Dialect::Responses => StreamWriter::Responses(ResponsesEventWriter::new()),
            Dialect::Native => StreamWriter::Native(NativeEventWriter::new()),
        }
    }

    /// A writer for the stream `request` asks for (native: its `incremental_output` and
    /// `result_format`).
    pub fn for_request(request: &DialectRequest) -> Self {
        match request {
            DialectRequest::Native(r) => StreamWriter::Native(NativeEventWriter::for_request(r)),
            other => Self::new(other.dialect()),
        }
    }
}

impl EventWriter for StreamWriter {
    type Chunk = DialectChunk;

    fn push(&mut self, event: &UnifiedEvent) -> Result<Vec<DialectChunk>, ConvertError> {
        Ok(match self {
            StreamWriter::Chat(w) => w.push(event)?.into_iter().map(DialectChunk::Chat).collect(),
            StreamWriter::Responses(w) => w
                .push(event)?
                .into_iter()
                .map(DialectChunk::Responses)
                .collect(),
            StreamWriter::Native(w) => w
                .push(event)?
                .into_iter()
                .map(DialectChunk::Native)
                .collect(),
        })
    }

    fn finish(&mut self) -> Result<Vec<DialectChunk>, ConvertError> {
        Ok(match self {
            StreamWriter::Chat(w) => w.finish()?.into_iter().map(DialectChunk::Chat).collect(),
            StreamWriter::Responses(w) => w
                .finish()?
                .into_iter()
                .map(DialectChunk::Responses)
                .collect(),
            StreamWriter::Native(w) => w.finish()?.into_iter().map(DialectChunk::Native).collect(),
        })
    }
}
