//! DashScope native generation (`/api/v1/services/aigc/{text,multimodal}-generation/generation`).
//!
//! * Requests: [`GenerationRequest`] (`{"model", "input", "parameters"}`) with [`Message`]s of
//!   every role, string or multimodal [`Content`], and every [`Parameters`] field.
//! * Responses: [`GenerationResponse`], which is also the shape of every stream chunk, in the
//!   text format (`output.text`) or the message format (`output.choices`); [`ErrorBody`] for
//!   error bodies and `event:error` frames.
//! * Streams: [`NativeStreamDecoder`] turns SSE events (decoded in
//!   [`Mode::DataLineIsEvent`](crate::sse::Mode::DataLineIsEvent)) into chunks;
//!   [`NativeAccumulator`] folds them into the final response, for `incremental_output` `true`
//!   (deltas) or `false` (cumulative); [`CumulativeToDelta`] turns a cumulative stream into
//!   deltas.
//!
//! Streaming is switched on by a header, not a body member, and a stream has no `[DONE]`
//! ([protocol notes §4.4](crate::protocol_notes#44-streaming)).

mod request;
mod response;
mod stream;

/// `usage.prompt_tokens_details` (the same breakdown type as `input_tokens_details`).
pub use crate::common::InputTokensDetails as PromptTokensDetails;
/// `response_format.json_schema` (the same type as chat's `JsonSchema`).
pub use crate::common::JsonSchema as JsonSchemaSpec;
pub use crate::common::{
    Audio, AudioDataError, CacheControl, CacheKind, FinishReason, FunctionCall, FunctionDefinition,
    FunctionName, FunctionTool, InputTokensDetails, JsonObjectFormat, JsonSchema, JsonSchemaFormat,
    Logprobs, Modality, NamedToolChoice, OutputTokensDetails, ReasoningEffort, ResponseFormat,
    Role, SearchOptions, SearchStrategy, Stop, TextFormat, TokenLogprob, Tool, ToolCall,
    ToolChoice, ToolChoiceMode, ToolType, TopLogprob,
};
/// The path for VL, audio, Omni and other multimodal models (and any request with a media item).
pub use crate::dialect::NATIVE_MULTIMODAL_PATH as MULTIMODAL_GENERATION_PATH;
/// The path for text models.
pub use crate::dialect::NATIVE_TEXT_PATH as TEXT_GENERATION_PATH;
pub use crate::dialect::{SSE_HEADER, SSE_HEADER_ENABLE};
pub use request::*;
pub use response::*;
pub use stream::*;
