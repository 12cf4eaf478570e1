//! The three wire dialects, as type parameters of the stream types: each marker ties a
//! [`Dialect`] (the protocol crate's one declaration of the dialects, their paths and their SSE
//! framing) to its Rust types.
//!
//! | marker | chunk | final response | stream framing |
//! |---|---|---|---|
//! | [`ChatDialect`] | [`ChatChunk`] | [`ChatCompletion`] | `data: {json}` + blank line, `data: [DONE]` |
//! | [`ResponsesDialect`] | [`ResponseStreamEvent`] | [`Response`] | `id:`/`event:`/`data:`, ends at `response.completed` |
//! | [`NativeDialect`] | [`GenerationResponse`] | [`GenerationResponse`] | `id:`/`event:`/`data:`, each `data:` line one event |

use std::fmt::Debug;

use dashscope_protocol::chat::{ChatAccumulator, ChatChunk, ChatCompletion, ChatStreamDecoder};
use dashscope_protocol::dialect::Dialect;
use dashscope_protocol::error::ApiError;
use dashscope_protocol::native::{GenerationResponse, NativeAccumulator, NativeStreamDecoder};
use dashscope_protocol::responses::{
    Response, ResponseStreamEvent, ResponsesAccumulator, ResponsesStreamDecoder,
};
use dashscope_protocol::stream::{Accumulate, StreamDecode};
use serde::de::DeserializeOwned;

use crate::responses_extra::{InputItemList, ResponseDeleted};

mod sealed {
    pub trait Sealed {}
}

/// A wire dialect's Rust types: how its streams are decoded and folded. Implemented only by the
/// three markers of this module; the [`Dialect`] value (`chat`, `responses`, `native`) names it
/// in logs and spans and gives its SSE framing.
pub trait WireDialect: sealed::Sealed + Debug + Send + Unpin + 'static {
    /// The dialect.
    const DIALECT: Dialect;
    /// One item of a stream.
    type Chunk: Debug + Send + Unpin + 'static;
    /// The response the stream folds into (the same a non-stream call returns).
    type Output: Debug + Send + Unpin + 'static;
    /// Turns SSE events into chunks.
    type Decoder: StreamDecode<Chunk = Self::Chunk> + Debug + Send + Unpin + 'static;
    /// Folds chunks into the output.
    type Accumulator: Accumulate<Chunk = Self::Chunk, Output = Self::Output>
        + Clone
        + Debug
        + Send
        + Unpin
        + 'static;

    /// A fresh stream decoder.
    #[doc(hidden)]
    fn decoder() -> Self::Decoder;

    /// Wraps a (partial) output for [`Error::Stream`](crate::Error::Stream).
    #[doc(hidden)]
    fn partial(output: Self::Output) -> PartialResponse;
}

/// OpenAI-compatible Chat Completions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChatDialect;

/// OpenAI-compatible Responses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResponsesDialect;

/// DashScope native generation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NativeDialect;

impl sealed::Sealed for ChatDialect {}
impl sealed::Sealed for ResponsesDialect {}
impl sealed::Sealed for NativeDialect {}

impl WireDialect for ChatDialect {
    const DIALECT: Dialect = Dialect::Chat;
    type Chunk = ChatChunk;
    type Output = ChatCompletion;
    type Decoder = ChatStreamDecoder;
    type Accumulator = ChatAccumulator;

    fn decoder() -> ChatStreamDecoder {
        ChatStreamDecoder::new()
    }

    fn partial(output: ChatCompletion) -> PartialResponse {
        PartialResponse::Chat(output)
    }
}

impl WireDialect for ResponsesDialect {
    const DIALECT: Dialect = Dialect::Responses;
    type Chunk = ResponseStreamEvent;
    type Output = Response;
    type Decoder = ResponsesStreamDecoder;
    type Accumulator = ResponsesAccumulator;

    fn decoder() -> ResponsesStreamDecoder {
        ResponsesStreamDecoder::new()
    }

    fn partial(output: Response) -> PartialResponse {
        PartialResponse::Responses(output)
    }
}

impl WireDialect for NativeDialect {
    const DIALECT: Dialect = Dialect::Native;
    type Chunk = GenerationResponse;
    type Output = GenerationResponse;
    type Decoder = NativeStreamDecoder;
    type Accumulator = NativeAccumulator;

    fn decoder() -> NativeStreamDecoder {
        NativeStreamDecoder::new()
    }

    fn partial(output: GenerationResponse) -> PartialResponse {
        PartialResponse::Native(output)
    }
}

/// What a stream delivered before it broke, folded into the dialect's response type.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // always boxed inside `Error`
pub enum PartialResponse {
    /// A partial Chat Completions answer.
    Chat(ChatCompletion),
    /// A partial Responses answer.
    Responses(Response),
    /// A partial native answer.
    Native(GenerationResponse),
}

impl PartialResponse {
    /// The answer text received (empty when none arrived).
    pub fn text(&self) -> String {
        match self {
            PartialResponse::Chat(c) => c.text().unwrap_or_default().to_owned(),
            PartialResponse::Responses(r) => r.output_text(),
            PartialResponse::Native(n) => n.text().map(|t| t.into_owned()).unwrap_or_default(),
        }
    }

    /// The thinking text received (empty when none arrived).
    pub fn reasoning(&self) -> String {
        match self {
            PartialResponse::Chat(c) => c.reasoning().unwrap_or_default().to_owned(),
            PartialResponse::Responses(r) => r.reasoning_text(),
            PartialResponse::Native(n) => n.reasoning().unwrap_or_default().to_owned(),
        }
    }

    /// The chat completion, if this is one.
    pub fn as_chat(&self) -> Option<&ChatCompletion> {
        match self {
            PartialResponse::Chat(c) => Some(c),
            _ => None,
        }
    }

    /// The Responses answer, if this is one.
    pub fn as_responses(&self) -> Option<&Response> {
        match self {
            PartialResponse::Responses(r) => Some(r),
            _ => None,
        }
    }

    /// The native answer, if this is one.
    pub fn as_native(&self) -> Option<&GenerationResponse> {
        match self {
            PartialResponse::Native(n) => Some(n),
            _ => None,
        }
    }
}

/// A response body type: parsed from a 2xx body, and checked for an error report the service
/// sent under HTTP 200.
pub(crate) trait Decodable: DeserializeOwned + Send + 'static {
    /// The error this parsed body reports, if it is one.
    fn embedded_error(&self, status: u16) -> Option<ApiError>;
}

/// The error in a body that parsed but carries an `error` object or a top-level `code`.
fn error_in<T: serde::Serialize>(value: &T, status: u16) -> Option<ApiError> {
    let v = serde_json::to_value(value).ok()?;
    ApiError::from_json(Some(status), &v)
}

/// Whether unknown members of a body hint at an error report (checked before the costlier
/// [`error_in`]).
fn extra_hints_error(extra: &dashscope_protocol::wire::Extra) -> bool {
    ["error", "code"]
        .iter()
        .any(|k| extra.get(*k).is_some_and(|v| !v.is_null()))
}

impl Decodable for Response {
    fn embedded_error(&self, status: u16) -> Option<ApiError> {
        (self.error.is_some() || extra_hints_error(&self.extra))
            .then(|| error_in(self, status))
            .flatten()
    }
}

impl Decodable for GenerationResponse {
    fn embedded_error(&self, status: u16) -> Option<ApiError> {
        self.error(Some(status))
    }
}

/// Bodies without an `error` member of their own: an error report shows in their unknown
/// members.
macro_rules! error_in_extra {
    ($($t:ty),*) => {$(
        impl Decodable for $t {
            fn embedded_error(&self, status: u16) -> Option<ApiError> {
                extra_hints_error(&self.extra)
                    .then(|| error_in(self, status))
                    .flatten()
            }
        }
    )*};
}

error_in_extra!(ChatCompletion, ResponseDeleted, InputItemList);
