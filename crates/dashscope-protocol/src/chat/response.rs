//! The Chat Completions response ([`ChatCompletion`]), stream chunk ([`ChatChunk`]) and error
//! body ([`ChatErrorBody`]).

use crate::common::{
    Audio, FinishReason, InputTokensDetails, Logprobs, OutputTokensDetails, Role, ToolCall,
};
use crate::error::ApiError;
use crate::wire_struct;

use super::request::Message;

/// The prefix of compat ids: `chatcmpl-<request-id>`.
pub const ID_PREFIX: &str = "chatcmpl-";

/// The request id inside a `chatcmpl-<request-id>` id.
fn request_id_of(id: Option<&str>) -> Option<&str> {
    id.and_then(|id| id.strip_prefix(ID_PREFIX))
}

wire_struct! {
    /// A non-stream response (`"object":"chat.completion"`).
    pub struct ChatCompletion {
        /// `chatcmpl-<request-id>`.
        pub id: Option<String>,
        /// `chat.completion`.
        pub object: Option<String>,
        /// Unix seconds.
        pub created: Option<i64>,
        /// The model that answered.
        pub model: Option<String>,
        /// Always `null` from DashScope.
        pub system_fingerprint: Option<String>,
        /// The answers.
        pub choices: Vec<Choice>,
        /// Token counts.
        pub usage: Option<Usage>,
    }
}

impl ChatCompletion {
    /// The first choice.
    pub fn first_choice(&self) -> Option<&Choice> {
        self.choices.first()
    }

    /// The first choice's answer text (when it is a plain string).
    pub fn text(&self) -> Option<&str> {
        self.first_choice().and_then(|c| c.message.text())
    }

    /// The first choice's reasoning text (thinking models).
    pub fn reasoning(&self) -> Option<&str> {
        self.first_choice()
            .and_then(|c| c.message.reasoning_content.as_deref())
    }

    /// The first choice's tool calls, or an empty slice.
    pub fn tool_calls(&self) -> &[ToolCall] {
        self.first_choice()
            .map(|c| c.message.tool_calls())
            .unwrap_or_default()
    }

    /// The first choice's finish reason.
    pub fn finish_reason(&self) -> Option<&FinishReason> {
        self.first_choice().and_then(|c| c.finish_reason.as_ref())
    }

    /// The request id (the part of `id` after `chatcmpl-`).
    pub fn request_id(&self) -> Option<&str> {
        request_id_of(self.id.as_deref())
    }
}

wire_struct! {
    /// One answer of a non-stream response (its `message` is a chat [`Message`], unlike a
    /// native choice's).
    pub struct Choice {
        /// The position among the answers (`n` > 1).
        pub index: u32,
        /// The assistant message.
        pub message: Message,
        /// Why it stopped.
        pub finish_reason: Option<FinishReason>,
        /// Token log probabilities, when requested.
        pub logprobs: Option<Logprobs>,
    }
}

wire_struct! {
    /// Token counts (`prompt_tokens`/`completion_tokens`; native and Responses count
    /// `input_tokens`/`output_tokens`).
    pub struct Usage {
        /// Input tokens.
        pub prompt_tokens: u64,
        /// Output tokens (reasoning included).
        pub completion_tokens: u64,
        /// The sum.
        pub total_tokens: u64,
        /// Input breakdown.
        pub prompt_tokens_details: Option<InputTokensDetails>,
        /// Output breakdown.
        pub completion_tokens_details: Option<OutputTokensDetails>,
    }
}

wire_struct! {
    /// A stream chunk (`"object":"chat.completion.chunk"`).
    ///
    /// The usage chunk (with `stream_options.include_usage`) has `choices: []` and the usage;
    /// every other chunk has `"usage": null`. A payload with a top-level `error` parses too: the
    /// `error` member lands in `extra` (see [`ChatChunk::error`]).
    @fast
    pub struct ChatChunk {
        /// `chatcmpl-<request-id>`, the same in every chunk.
        pub id: Option<String>,
        /// `chat.completion.chunk`.
        pub object: Option<String>,
        /// Unix seconds.
        pub created: Option<i64>,
        /// The model.
        pub model: Option<String>,
        /// Always `null` from DashScope.
        pub system_fingerprint: Option<String>,
        /// The deltas (empty in the usage chunk).
        pub choices: Vec<ChunkChoice>,
        /// Token counts (usage chunk only). Boxed: one chunk in thousands carries it, and a
        /// chunk is moved several times on its way to the caller, so it stays small.
        pub usage: Option<Box<Usage>>,
    }
}

impl ChatChunk {
    /// Whether this is the final usage chunk (`choices: []` with a usage).
    pub fn is_usage_chunk(&self) -> bool {
        self.choices.is_empty() && self.usage.is_some()
    }

    /// The first choice's content delta.
    pub fn content(&self) -> Option<&str> {
        self.choices
            .first()
            .and_then(|c| c.delta.content.as_deref())
    }

    /// The first choice's reasoning delta.
    pub fn reasoning(&self) -> Option<&str> {
        self.choices
            .first()
            .and_then(|c| c.delta.reasoning_content.as_deref())
    }

    /// The first finish reason any choice carries.
    pub fn finish_reason(&self) -> Option<&FinishReason> {
        self.choices.iter().find_map(|c| c.finish_reason.as_ref())
    }

    /// The `error` member of an error frame (`data: {"error":{…}}`), if any.
    pub fn error(&self) -> Option<&serde_json::Value> {
        self.extra.get("error").filter(|e| !e.is_null())
    }

    /// The request id (the part of `id` after `chatcmpl-`).
    pub fn request_id(&self) -> Option<&str> {
        request_id_of(self.id.as_deref())
    }
}

wire_struct! {
    /// One choice's delta in a stream chunk.
    @fast
    pub struct ChunkChoice {
        /// Which answer (`n` > 1).
        pub index: u32,
        /// What arrived.
        pub delta: Delta,
        /// Set on the finish chunk.
        pub finish_reason: Option<FinishReason>,
        /// Token log probabilities of this delta, when requested.
        pub logprobs: Option<Logprobs>,
    }
}

wire_struct! {
    /// What one chunk adds to a choice.
    @fast
    pub struct Delta {
        /// `assistant`, on the first chunk.
        pub role: Option<Role>,
        /// Answer text (`null` during reasoning).
        pub content: Option<String>,
        /// Reasoning text (`null` during the answer).
        pub reasoning_content: Option<String>,
        /// Tool-call fragments (the first of a call has its `id` and function `name`, later
        /// ones `"id": ""`, no `name` and a piece of `arguments`).
        pub tool_calls: Option<Vec<ToolCall>>,
        /// A piece of spoken output (Omni models): base64 `data` and/or `transcript`.
        pub audio: Option<Audio>,
    }
}

wire_struct! {
    /// A compat error body:
    /// `{"error":{"code","param","message","type"},"id":"chatcmpl-…","request_id":"…"}`.
    ///
    /// [`ApiError`] is the normalised form ([`ChatErrorBody::to_api_error`]).
    pub struct ChatErrorBody {
        /// The error.
        pub error: ChatErrorDetail,
        /// `chatcmpl-<request-id>` (some errors).
        pub id: Option<String>,
        /// The request id (some errors).
        pub request_id: Option<String>,
    }
}

wire_struct! {
    /// The `error` object of a compat error body.
    pub struct ChatErrorDetail {
        /// Machine-readable code (`invalid_parameter_error`, `invalid_api_key`, …).
        pub code: Option<String>,
        /// The offending parameter (usually `null`).
        pub param: Option<String>,
        /// Human-readable message.
        pub message: String,
        /// The error type (`invalid_request_error`, `limit_requests`, …).
        pub kind: Option<String> => "type",
    }
}

impl ChatErrorBody {
    /// An error body with `code`, `type` and `message`, `"param": null` and a request id
    /// (written as `request_id`).
    pub fn new(
        code: impl Into<String>,
        kind: impl Into<String>,
        message: impl Into<String>,
        request_id: Option<String>,
    ) -> Self {
        let mut detail = ChatErrorDetail {
            code: Some(code.into()),
            message: message.into(),
            kind: Some(kind.into()),
            ..Default::default()
        };
        detail
            .extra
            .insert("param".to_owned(), serde_json::Value::Null);
        ChatErrorBody {
            error: detail,
            request_id,
            ..Default::default()
        }
    }

    /// The request id: `request_id`, else the part of `id` after `chatcmpl-`.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id
            .as_deref()
            .or_else(|| request_id_of(self.id.as_deref()))
    }

    /// The normalised error, with the HTTP `status` if known.
    pub fn to_api_error(&self, status: Option<u16>) -> ApiError {
        ApiError {
            status,
            code: self.error.code.clone(),
            message: self.error.message.clone(),
            kind: self.error.kind.clone(),
            param: self.error.param.clone(),
            request_id: self.request_id().map(str::to_owned),
            body: serde_json::to_value(self).unwrap_or(serde_json::Value::Null),
        }
    }
}
