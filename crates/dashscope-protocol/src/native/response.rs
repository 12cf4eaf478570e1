//! The response: one JSON body for a non-stream call, the same shape for every stream chunk.

use std::borrow::Cow;

use serde_json::Value;

use super::Message;
use crate::common::{
    Audio, FinishReason, InputTokensDetails, Logprobs, OutputTokensDetails, SearchStrategy,
    ToolCall,
};
use crate::error::ApiError;

crate::wire_struct! {
    /// A native generation response, and the shape of every stream chunk.
    ///
    /// ```
    /// use dashscope_protocol::native::{FinishReason, GenerationResponse};
    ///
    /// let r: GenerationResponse = serde_json::from_str(
    ///     r#"{"output":{"finish_reason":"stop","text":"2"},"usage":{"input_tokens":3,"output_tokens":1},"request_id":"r"}"#,
    /// ).unwrap();
    /// assert_eq!(r.text().as_deref(), Some("2"));
    /// assert_eq!(r.finish_reason(), Some(&FinishReason::Stop));
    ///
    /// let chunk: GenerationResponse = serde_json::from_str(
    ///     r#"{"output":{"choices":[{"message":{"content":[{"text":"a"},{"text":"b"}],"role":"assistant"},"finish_reason":"null"}]}}"#,
    /// ).unwrap();
    /// assert_eq!(chunk.text().as_deref(), Some("ab"));
    /// assert_eq!(chunk.finish_reason(), None); // "null": not finished
    /// ```
    @fast
    pub struct GenerationResponse {
        /// What the model produced.
        pub output: Option<Output>,
        /// Token counts (cumulative in stream chunks).
        pub usage: Option<Usage>,
        /// The request id (equals the `x-request-id` header).
        pub request_id: Option<String>,
        /// An error code: a non-empty value marks an error body, even under HTTP 200.
        pub code: Option<String>,
        /// The error message that goes with `code`.
        pub message: Option<String>,
    }
}

impl GenerationResponse {
    /// The first choice (message format).
    pub fn first_choice(&self) -> Option<&Choice> {
        self.output.as_ref()?.choices.as_ref()?.first()
    }

    /// The first choice's message (message format).
    pub fn message(&self) -> Option<&Message> {
        self.first_choice()?.message.as_ref()
    }

    /// The generated text in either format: `output.text`, or the first choice's content
    /// (a multimodal list's `text` items concatenated).
    pub fn text(&self) -> Option<Cow<'_, str>> {
        if let Some(t) = self.output.as_ref().and_then(|o| o.text.as_deref()) {
            return Some(Cow::Borrowed(t));
        }
        self.message()?.text()
    }

    /// The first choice's `reasoning_content`.
    pub fn reasoning(&self) -> Option<&str> {
        self.message()?.reasoning_content.as_deref()
    }

    /// The first choice's tool calls (empty if none).
    pub fn tool_calls(&self) -> &[ToolCall] {
        self.message()
            .and_then(|m| m.tool_calls.as_deref())
            .unwrap_or(&[])
    }

    /// Why generation stopped: `output.finish_reason`, else the first choice that has one.
    /// The string `"null"` (intermediate stream chunks) and JSON `null` both give `None`.
    pub fn finish_reason(&self) -> Option<&FinishReason> {
        let output = self.output.as_ref()?;
        if let Some(f) = output.finish_reason.as_ref().filter(|f| f.is_final()) {
            return Some(f);
        }
        output
            .choices
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .find_map(|c| c.finish_reason.as_ref().filter(|f| f.is_final()))
    }

    /// Whether this is the final chunk of a stream (some finish reason other than `"null"`).
    pub fn is_final(&self) -> bool {
        self.finish_reason().is_some()
    }

    /// The error this body reports through a non-empty top-level `code` (HTTP 200 error bodies).
    pub fn error(&self, status: Option<u16>) -> Option<ApiError> {
        let code = self.code.as_deref().filter(|c| !c.is_empty())?;
        let message = self.message.clone().unwrap_or_default();
        let body = serde_json::to_value(self).unwrap_or(Value::Null);
        let request_id = self.request_id.clone();
        Some(ApiError::new(
            status,
            Some(code.to_owned()),
            message,
            request_id,
            body,
        ))
    }
}

crate::wire_struct! {
    /// The `output` member: `text` + `finish_reason` (text format) or `choices` (message format).
    @fast
    pub struct Output {
        /// The text (text format).
        pub text: Option<String>,
        /// Why generation stopped (text format); the string `"null"` in intermediate chunks.
        pub finish_reason: Option<FinishReason>,
        /// The choices (message format).
        pub choices: Option<Vec<Choice>>,
        /// Web search sources (search enabled).
        pub search_info: Option<SearchInfo>,
        /// Spoken output (speech and Omni models; base64 pieces while streaming).
        pub audio: Option<Audio>,
    }
}

crate::wire_struct! {
    /// One choice (message format; its `message` is a native [`Message`], unlike a chat
    /// choice's).
    @fast
    pub struct Choice {
        /// Why generation stopped; the string `"null"` in intermediate chunks.
        pub finish_reason: Option<FinishReason>,
        /// The choice's position (stream chunks often carry it; non-stream bodies mostly not).
        pub index: Option<u32>,
        /// The message (a delta or the text so far, in stream chunks).
        pub message: Option<Message>,
        /// Token log-probabilities (`logprobs: true`).
        pub logprobs: Option<Logprobs>,
    }
}

crate::wire_struct! {
    /// `output.search_info`.
    pub struct SearchInfo {
        /// The web sources.
        pub search_results: Option<Vec<SearchResult>>,
        /// Results of vertical-domain tools (weather, …).
        pub extra_tool_info: Option<Vec<ExtraToolInfo>>,
    }
}

impl SearchInfo {
    /// Whether it holds any result.
    pub fn has_results(&self) -> bool {
        self.search_results.as_ref().is_some_and(|r| !r.is_empty())
            || self.extra_tool_info.as_ref().is_some_and(|r| !r.is_empty())
    }
}

crate::wire_struct! {
    /// One web source.
    pub struct SearchResult {
        /// The site's icon URL.
        pub icon: Option<String>,
        /// The site's name.
        pub site_name: Option<String>,
        /// The citation number.
        pub index: Option<u32>,
        /// The page title.
        pub title: Option<String>,
        /// The page URL.
        pub url: Option<String>,
    }
}

crate::wire_struct! {
    /// One vertical-domain tool result.
    pub struct ExtraToolInfo {
        /// The result.
        pub result: Option<Value>,
        /// The tool.
        pub tool: Option<String>,
    }
}

crate::wire_struct! {
    /// Token counts. Stream chunks carry the counts so far; some chunks carry `{}`. (Chat counts
    /// `prompt_tokens`/`completion_tokens`; Responses has no media counts but billing lines.)
    @fast
    pub struct Usage {
        /// Input tokens.
        pub input_tokens: Option<u64>,
        /// Output tokens (reasoning included).
        pub output_tokens: Option<u64>,
        /// Input plus output (some VL responses leave it out).
        pub total_tokens: Option<u64>,
        /// Image input tokens (VL).
        pub image_tokens: Option<u64>,
        /// Video input tokens (VL).
        pub video_tokens: Option<u64>,
        /// Audio tokens (Omni).
        pub audio_tokens: Option<u64>,
        /// Input breakdown.
        pub input_tokens_details: Option<InputTokensDetails>,
        /// Output breakdown.
        pub output_tokens_details: Option<OutputTokensDetails>,
        /// Context cache counts (possibly `{}`).
        pub prompt_tokens_details: Option<InputTokensDetails>,
        /// Plugin usage (web search).
        pub plugins: Option<Plugins>,
    }
}

impl Usage {
    /// Whether no member is present (`{}`).
    pub fn is_empty(&self) -> bool {
        *self == Usage::default()
    }
}

crate::wire_struct! {
    /// `usage.plugins`.
    pub struct Plugins {
        /// Web search.
        pub search: Option<SearchPlugin>,
    }
}

crate::wire_struct! {
    /// `usage.plugins.search`.
    pub struct SearchPlugin {
        /// How many searches ran.
        pub count: Option<u64>,
        /// The strategy used.
        pub strategy: Option<SearchStrategy>,
    }
}

crate::wire_struct! {
    /// A native error body: `{"code", "message", "request_id"}` (non-2xx bodies, `event:error`
    /// frames).
    pub struct ErrorBody {
        /// The error code (`InvalidApiKey`, `InvalidParameter`, …).
        pub code: Option<String>,
        /// The message.
        pub message: Option<String>,
        /// The request id.
        pub request_id: Option<String>,
    }
}

impl ErrorBody {
    /// The normalised error, with the HTTP (or frame) status.
    pub fn to_api_error(&self, status: Option<u16>) -> ApiError {
        let msg = || {
            self.extra
                .get("msg")
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let message = self.message.clone().or_else(msg).unwrap_or_default();
        let body = serde_json::to_value(self).unwrap_or(Value::Null);
        ApiError::new(
            status,
            self.code.clone(),
            message,
            self.request_id.clone(),
            body,
        )
    }
}
