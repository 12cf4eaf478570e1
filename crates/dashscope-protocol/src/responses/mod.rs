//! OpenAI-compatible Responses (`/compatible-mode/v1/responses`).
//!
//! The dialect is served on `POST {host}/compatible-mode/v1/responses` and, deprecated, on
//! `POST {host}/api/v2/apps/protocols/compatible-mode/v1/responses` ([protocol notes §3.1](crate::protocol_notes#31-endpoints)). Both
//! take the same body and answer with the same shapes.
//!
//! | what | type |
//! |---|---|
//! | request body | [`ResponseRequest`] (`input` is [`Input`]: a string or a list of [`InputItem`]s) |
//! | non-stream answer, and the `response` of lifecycle events | [`Response`] (its `output` is a list of [`OutputItem`]s) |
//! | one stream event | [`ResponseStreamEvent`] |
//! | SSE event → typed event / end / error | [`ResponsesStreamDecoder`] |
//! | events → final [`Response`] | [`ResponsesAccumulator`] |
//!
//! ```
//! use dashscope_protocol::responses::{InputItem, ResponseRequest, ReasoningEffort, Tool};
//!
//! let req = ResponseRequest::new("qwen3.8-max", vec![InputItem::user("北京天气咋样")])
//!     .tool(Tool::function(
//!         "get_current_weather",
//!         "Current weather of a city.",
//!         serde_json::json!({"type": "object", "properties": {"location": {"type": "string"}}}),
//!     ))
//!     .reasoning_effort(ReasoningEffort::Low)
//!     .stream(true);
//! let body = serde_json::to_value(&req).unwrap();
//! assert_eq!(body["input"][0], serde_json::json!({"role": "user", "content": "北京天气咋样"}));
//! assert_eq!(body["tools"][0]["type"], "function");
//! assert_eq!(body["reasoning"], serde_json::json!({"effort": "low"}));
//! ```
//!
//! Every object keeps members it does not know and the `null`s the service sent (see
//! [`wire`](crate::wire)); unknown item, part, tool and event types become `Unknown` variants.

mod accumulate;
mod decode;
mod events;
mod fast;
mod request;
mod response;

/// The `{"type":"json_object"}` format's members (none; the same type as chat's
/// `JsonObjectFormat`).
pub use crate::common::JsonObjectFormat as TextFormatJsonObject;
/// The `{"type":"text"}` format's members (none; the same type as chat's `TextFormat`).
pub use crate::common::TextFormat as TextFormatText;
/// The log probability of one output token (the same type as chat's `TokenLogprob`).
pub use crate::common::TokenLogprob as Logprob;
pub use crate::common::{
    CacheCreation, InputTokensDetails, OutputTokensDetails, ReasoningEffort, Role, ToolChoiceMode,
    TopLogprob,
};
/// The deprecated request path still used by many clients (same body and answers).
pub use crate::dialect::RESPONSES_LEGACY_PATH as LEGACY_PATH;
/// The current request path, relative to the host.
pub use crate::dialect::RESPONSES_PATH as PATH;
pub use accumulate::ResponsesAccumulator;
pub use decode::ResponsesStreamDecoder;
pub use events::*;
#[doc(hidden)]
pub use fast::__decode_fast;
pub use request::*;
pub use response::*;
