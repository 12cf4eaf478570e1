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
//! Streaming is switched on by the `X-DashScope-SSE: enable` request header; there is no body
//! member for it. A stream has no `[DONE]`: it ends after the chunk whose `finish_reason` is not
//! the string `"null"`.

mod fast;
mod request;
mod response;
mod stream;

#[doc(hidden)]
pub use fast::__decode_fast;
pub use request::*;
pub use response::*;
pub use stream::*;

/// The path for text models.
pub const TEXT_GENERATION_PATH: &str = "/api/v1/services/aigc/text-generation/generation";

/// The path for VL, audio, Omni and other multimodal models (and any request with a media item).
pub const MULTIMODAL_GENERATION_PATH: &str =
    "/api/v1/services/aigc/multimodal-generation/generation";

/// The request header that switches streaming on (value [`SSE_HEADER_ENABLE`]).
pub const SSE_HEADER: &str = "x-dashscope-sse";

/// The value of [`SSE_HEADER`] that asks for a stream.
pub const SSE_HEADER_ENABLE: &str = "enable";
