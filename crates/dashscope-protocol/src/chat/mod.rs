//! OpenAI-compatible Chat Completions (`POST /compatible-mode/v1/chat/completions`,
//! [protocol notes §2](crate::protocol_notes#2-dialect-a-openai-compatible-chat-completions)).
//!
//! * Request: [`ChatRequest`] with [`Message`]s (every role; content a string or
//!   [`ContentPart`]s), [`Tool`]s, [`ToolChoice`], [`ResponseFormat`] and the DashScope
//!   extensions at the top level.
//! * Response: [`ChatCompletion`]; stream chunks: [`ChatChunk`]; error body: [`ChatErrorBody`].
//! * Streaming: [`ChatStreamDecoder`] turns SSE events into chunks (`[DONE]` ends the stream,
//!   `data: {"error":…}` is an error frame), and [`ChatAccumulator`] folds the chunks into the
//!   [`ChatCompletion`] a non-stream call would have returned.
//!
//! ```
//! use dashscope_protocol::chat::{ChatRequest, ContentPart, Message, Tool, ToolChoice};
//! use serde_json::json;
//!
//! let req = ChatRequest::new(
//!     "qwen3-vl-plus",
//!     vec![Message::user_parts(vec![
//!         ContentPart::image_url("https://example.com/dog.jpeg"),
//!         ContentPart::text("What is in the picture?"),
//!     ])],
//! )
//! .tool(Tool::function("get_weather", "Weather for a city", json!({"type": "object"})))
//! .tool_choice(ToolChoice::auto());
//! let wire = serde_json::to_string(&req).unwrap();
//! assert!(wire.contains(r#""tool_choice":"auto""#));
//! ```

mod request;
mod response;
mod stream;

/// `function` of a streamed tool-call fragment (the same type as in a whole call).
pub use crate::common::FunctionCall as FunctionCallDelta;
/// `usage.prompt_tokens_details`.
pub use crate::common::InputTokensDetails as PromptTokensDetails;
/// `usage.completion_tokens_details` (the breakdown native and Responses call
/// `output_tokens_details`).
pub use crate::common::OutputTokensDetails as CompletionTokensDetails;
/// A streamed tool-call fragment (the same type as a whole call).
pub use crate::common::ToolCall as ToolCallDelta;
pub use crate::common::{
    Audio, AudioDataError, AudioOutput, CacheControl, CacheKind, FinishReason, FunctionCall,
    FunctionDefinition, FunctionName, FunctionTool, InputTokensDetails, JsonObjectFormat,
    JsonSchema, JsonSchemaFormat, Logprobs, Modality, NamedToolChoice, OutputTokensDetails,
    ReasoningEffort, ResponseFormat, Role, SearchOptions, SearchStrategy, Stop, TextFormat,
    TokenLogprob, Tool, ToolCall, ToolChoice, ToolChoiceMode, ToolType, TopLogprob,
};
pub use crate::dialect::CHAT_PATH as PATH;
pub use request::*;
pub use response::*;
pub use stream::*;
