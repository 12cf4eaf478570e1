//! The unified model: [`Conversation`] (the request), [`UnifiedResponse`] (the answer) and
//! what they are made of.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cassette::Dialect;
use crate::wire::is_default;
use crate::{chat, native, responses};

/// How hard a thinking model should think (the Responses `reasoning.effort` values).
pub use crate::responses::ReasoningEffort;

/// An image's resolution hint (the chat `image_url.detail` values).
pub use crate::chat::ImageDetail;
/// Spoken output (the wire type every dialect shares).
pub use crate::common::Audio;

crate::string_enum! {
    /// Who wrote a message. Roles a dialect has beyond these (`developer`, `function`) are kept
    /// as [`Role::Unknown`] and written back under their own name.
    pub enum Role {
        /// Instructions (Responses `instructions` when it is the first message).
        System = "system",
        /// The user.
        User = "user",
        /// The model.
        Assistant = "assistant",
        /// A tool's result.
        Tool = "tool",
    }
}

impl Default for Role {
    /// `user`.
    fn default() -> Self {
        Role::User
    }
}

crate::string_enum! {
    /// Why a candidate stopped.
    ///
    /// Chat and native send these names; for Responses the reason is derived from the
    /// response's `status` (see the [module docs](super)). `error` is what a failed Responses
    /// answer becomes; chat and native never send it.
    pub enum FinishReason {
        /// A natural end or a stop sequence.
        Stop = "stop",
        /// The token limit.
        Length = "length",
        /// The model called tools.
        ToolCalls = "tool_calls",
        /// Moderation stopped the answer.
        ContentFilter = "content_filter",
        /// The answer failed.
        Error = "error",
    }
}

/// A value in the wire form of one of the three dialects.
///
/// [`DialectRequest`](super::DialectRequest), [`DialectResponse`](super::DialectResponse) and
/// [`DialectChunk`](super::DialectChunk) are this enum over each dialect's request, response
/// and chunk type. Each unified object keeps, in its `kept` member, the wire value it was read
/// from (when that value is not what writing the object from scratch gives): writing the object
/// back to the same dialect starts from it, so what the unified model does not name (unknown
/// members, explicit `null`s, dialect-only members, the wire form of a member) comes back
/// unchanged. Another dialect ignores it. A [`Part::Dialect`] or [`Tool::Dialect`] is a part or
/// tool only its own dialect can carry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
// Short-lived values: boxing the larger wire types would only make matching clumsier.
#[allow(clippy::large_enum_variant)]
pub enum DialectValue<C, R, N> {
    /// Chat Completions.
    Chat(C),
    /// Responses.
    Responses(R),
    /// Native generation.
    Native(N),
}

impl<C, R, N> DialectValue<C, R, N> {
    /// The dialect.
    pub fn dialect(&self) -> Dialect {
        match self {
            DialectValue::Chat(_) => Dialect::Chat,
            DialectValue::Responses(_) => Dialect::Responses,
            DialectValue::Native(_) => Dialect::Native,
        }
    }

    /// The chat value.
    pub fn chat(&self) -> Option<&C> {
        if let DialectValue::Chat(c) = self {
            Some(c)
        } else {
            None
        }
    }

    /// The Responses value.
    pub fn responses(&self) -> Option<&R> {
        if let DialectValue::Responses(r) = self {
            Some(r)
        } else {
            None
        }
    }

    /// The native value.
    pub fn native(&self) -> Option<&N> {
        if let DialectValue::Native(n) = self {
            Some(n)
        } else {
            None
        }
    }
}

impl<C: Serialize, R: Serialize, N: Serialize> DialectValue<C, R, N> {
    /// The wire JSON.
    pub fn to_json(&self) -> Value {
        let v = match self {
            DialectValue::Chat(x) => serde_json::to_value(x),
            DialectValue::Responses(x) => serde_json::to_value(x),
            DialectValue::Native(x) => serde_json::to_value(x),
        };
        v.unwrap_or(Value::Null)
    }
}

impl<C: DeserializeOwned, R: DeserializeOwned, N: DeserializeOwned> DialectValue<C, R, N> {
    /// Parses wire JSON of `dialect`.
    ///
    /// # Errors
    ///
    /// The JSON error when `value` is not of the dialect's shape.
    pub fn from_json(dialect: Dialect, value: &Value) -> Result<Self, serde_json::Error> {
        Ok(match dialect {
            Dialect::Chat => DialectValue::Chat(C::deserialize(value)?),
            Dialect::Responses => DialectValue::Responses(R::deserialize(value)?),
            Dialect::Native => DialectValue::Native(N::deserialize(value)?),
        })
    }
}

/// The kept wire value of a unified object (see [`DialectValue`]).
pub type Kept<C, R, N> = Option<Box<DialectValue<C, R, N>>>;

/// A content part in one dialect's wire form.
pub type WirePart = DialectValue<chat::ContentPart, responses::ContentPart, native::ContentItem>;

/// A tool in one dialect's wire form.
pub type WireTool = DialectValue<chat::Tool, responses::Tool, native::Tool>;

/// A conversation: what to send to a model, in any dialect.
///
/// System text is a [`Role::System`] message (normally the first one); Responses `instructions`
/// is that first message.
///
/// ```
/// use dashscope_protocol::unified::{Conversation, FunctionTool};
///
/// let conv = Conversation::new("qwen-plus")
///     .system("Be brief.")
///     .user("What is the weather in Hangzhou?")
///     .tool(FunctionTool::new("get_weather", "Weather for a city", serde_json::json!({"type": "object"})))
///     .temperature(0.7)
///     .max_tokens(256);
/// let chat = conv.to_chat().unwrap();
/// let native = conv.to_native().unwrap();
/// let responses = conv.to_responses().unwrap();
/// assert_eq!(chat.max_tokens, Some(256));
/// assert_eq!(native.parameters.unwrap().max_tokens, Some(256));
/// assert_eq!(responses.instructions.as_deref(), Some("Be brief."));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Conversation {
    /// The model name.
    pub model: String,
    /// The messages, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<Message>,
    /// Tools the model may call.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
    /// Whether and which tool the model must call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Allow several tool calls in one turn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// Sampling parameters.
    #[serde(skip_serializing_if = "is_default")]
    pub sampling: Sampling,
    /// Thinking settings.
    #[serde(skip_serializing_if = "is_default")]
    pub thinking: Thinking,
    /// The answer's format.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    /// Stream the answer (chat and Responses body `stream`; native streams are switched on by a
    /// header, so [`to_native`](Self::to_native) does not write it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Send the usage in streams (chat `stream_options.include_usage`; native and Responses
    /// always send it, so they ignore this).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_usage: Option<bool>,
    /// The wire request it was read from (see [`DialectValue`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Kept<chat::ChatRequest, responses::ResponseRequest, native::GenerationRequest>,
}

/// Sampling parameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Sampling {
    /// Temperature, `[0, 2)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling, `(0, 1]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Top-k sampling (chat, native).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// The most tokens to generate (chat and native `max_tokens`, Responses `max_output_tokens`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// The most tokens to generate, reasoning included (chat, native).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u64>,
    /// The random seed (chat, native).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Stop strings (chat, native; native token-id stops are kept with the native request).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<Vec<String>>,
    /// How many candidates (chat, native).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// Presence penalty, `[-2, 2]` (chat, native).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// Repetition penalty, `1.0` = none (chat, native).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repetition_penalty: Option<f64>,
}

/// Thinking settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Thinking {
    /// Thinking on or off (`enable_thinking`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The most reasoning tokens (`thinking_budget`; chat, native).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<u32>,
    /// The effort (`reasoning_effort`; Responses `reasoning.effort`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effort: Option<ReasoningEffort>,
}

/// The answer's format.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    /// Free text.
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON following a schema.
    JsonSchema(JsonSchemaFormat),
}

/// A JSON Schema for structured output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JsonSchemaFormat {
    /// The schema's name (chat requires one and writes `""` for none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What the output is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    /// Strict adherence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// Whether and which tool the model must call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// No tool calls.
    None,
    /// At least one tool call.
    Required,
    /// Call this function.
    Function(String),
}

/// A tool the model may call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tool {
    /// A function the caller implements.
    Function(FunctionTool),
    /// A tool only one dialect has (Responses built-ins such as `web_search`, unknown types).
    Dialect(WireTool),
}

/// A function the model may call.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FunctionTool {
    /// The function name.
    pub name: String,
    /// What it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The JSON Schema of its arguments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    /// Strict schema adherence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    /// The wire tool it was read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Kept<chat::FunctionTool, responses::FunctionTool, native::FunctionTool>,
}

impl FunctionTool {
    /// A function with a description and a JSON Schema for its arguments.
    pub fn new(name: impl Into<String>, description: impl Into<String>, parameters: Value) -> Self {
        FunctionTool {
            name: name.into(),
            description: Some(description.into()),
            parameters: Some(parameters),
            ..Default::default()
        }
    }
}

impl From<FunctionTool> for Tool {
    fn from(f: FunctionTool) -> Self {
        Tool::Function(f)
    }
}

/// One message of a conversation.
///
/// Its text is a list of [`Part`]s; an empty text is no part (`"content": ""` reads as no
/// parts). An assistant message may carry its reasoning (thinking) text and tool calls; a tool
/// message answers the call `tool_call_id`; `partial` marks an assistant prefix the model
/// continues (partial mode).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// The content.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<Part>,
    /// The reasoning (thinking) text of an earlier assistant turn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// Tool calls the assistant made.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// The call this tool message answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// A participant name (chat) or the function's name on a tool message (native).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Partial mode: this assistant message is a prefix the model continues.
    #[serde(skip_serializing_if = "is_default")]
    pub partial: bool,
    /// The wire message it was read from (Responses: its input items, with the unknown items
    /// before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Kept<chat::Message, Vec<responses::InputItem>, native::Message>,
}

impl Message {
    /// A message of `role` holding `text` (no part when `text` is empty).
    pub fn text(role: Role, text: impl Into<String>) -> Self {
        Message {
            role,
            parts: text_parts(text.into()),
            ..Default::default()
        }
    }

    /// A system message.
    pub fn system(text: impl Into<String>) -> Self {
        Self::text(Role::System, text)
    }

    /// A user message.
    pub fn user(text: impl Into<String>) -> Self {
        Self::text(Role::User, text)
    }

    /// A user message with parts (text, images, audio, video).
    pub fn user_parts(parts: Vec<Part>) -> Self {
        Message {
            role: Role::User,
            parts,
            ..Default::default()
        }
    }

    /// An assistant message (an earlier answer).
    pub fn assistant(text: impl Into<String>) -> Self {
        Self::text(Role::Assistant, text)
    }

    /// An assistant turn that called tools.
    pub fn assistant_tool_calls(tool_calls: Vec<ToolCall>) -> Self {
        Message {
            role: Role::Assistant,
            tool_calls,
            ..Default::default()
        }
    }

    /// Partial mode: an assistant prefix the model continues.
    pub fn assistant_prefix(text: impl Into<String>) -> Self {
        Message {
            partial: true,
            ..Self::assistant(text)
        }
    }

    /// A tool's result for the call `tool_call_id`.
    pub fn tool_result(tool_call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Message {
            tool_call_id: Some(tool_call_id.into()),
            ..Self::text(Role::Tool, content)
        }
    }

    /// The text parts, concatenated.
    pub fn joined_text(&self) -> String {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Text(t) => Some(t.text.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// `[Text(text)]`, or no part for an empty text.
pub(crate) fn text_parts(text: String) -> Vec<Part> {
    if text.is_empty() {
        Vec::new()
    } else {
        vec![Part::text(text)]
    }
}

/// The content as a plain string when the parts allow it: no part is `""`, one text part with
/// a non-empty text and no wire form kept for `dialect` is its text.
pub(crate) fn string_form(parts: &[Part], dialect: Dialect) -> Option<&str> {
    match parts {
        [] => Some(""),
        [Part::Text(t)]
            if !t.text.is_empty() && t.kept.as_ref().is_none_or(|k| k.dialect() != dialect) =>
        {
            Some(t.text.as_str())
        }
        _ => None,
    }
}

/// One part of a message's content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Part {
    /// Text.
    Text(TextPart),
    /// An image.
    Image(ImagePart),
    /// Audio.
    Audio(AudioPart),
    /// A video (a file or a list of frames).
    Video(VideoPart),
    /// A part only one dialect has (Responses `input_file`, unknown types).
    Dialect(WirePart),
}

impl Part {
    /// The wire part it was read from (a dialect part: itself).
    pub(crate) fn kept(&self) -> Option<&WirePart> {
        match self {
            Part::Text(TextPart { kept, .. })
            | Part::Image(ImagePart { kept, .. })
            | Part::Audio(AudioPart { kept, .. })
            | Part::Video(VideoPart { kept, .. }) => kept.as_deref(),
            Part::Dialect(w) => Some(w),
        }
    }

    /// Sets the wire part it was read from.
    pub(crate) fn set_kept(&mut self, new: Option<Box<WirePart>>) {
        match self {
            Part::Text(TextPart { kept, .. })
            | Part::Image(ImagePart { kept, .. })
            | Part::Audio(AudioPart { kept, .. })
            | Part::Video(VideoPart { kept, .. }) => *kept = new,
            Part::Dialect(_) => {}
        }
    }

    /// A text part.
    pub fn text(text: impl Into<String>) -> Self {
        Part::Text(TextPart {
            text: text.into(),
            kept: None,
        })
    }

    /// An image from a URL or a `data:` URI.
    pub fn image(url: impl Into<String>) -> Self {
        Part::Image(ImagePart {
            url: url.into(),
            ..Default::default()
        })
    }

    /// Audio from a URL or a `data:` URI, with its format (`wav`, `mp3`, …) if known.
    pub fn audio(url: impl Into<String>, format: Option<String>) -> Self {
        Part::Audio(AudioPart {
            url: url.into(),
            format,
            kept: None,
        })
    }

    /// A video file.
    pub fn video(url: impl Into<String>) -> Self {
        Part::Video(VideoPart {
            source: VideoSource::Url(url.into()),
            ..Default::default()
        })
    }

    /// A video given as frame images, taken at `fps` frames per second if known.
    pub fn video_frames(frames: Vec<String>, fps: Option<f64>) -> Self {
        Part::Video(VideoPart {
            source: VideoSource::Frames(frames),
            fps,
            ..Default::default()
        })
    }
}

/// Text.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TextPart {
    /// The text.
    pub text: String,
    /// The wire part it was read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<Box<WirePart>>,
}

/// An image.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImagePart {
    /// An `http(s)` URL or a `data:` URI.
    pub url: String,
    /// The resolution hint (chat, Responses).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<ImageDetail>,
    /// The fewest pixels to scale to (chat, native).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_pixels: Option<u64>,
    /// The most pixels to scale to (chat, native).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_pixels: Option<u64>,
    /// The wire part it was read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<Box<WirePart>>,
}

/// Audio.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AudioPart {
    /// A URL or a `data:` URI (chat also takes bare base64 here).
    pub url: String,
    /// The format (`wav`, `mp3`, …; chat, Responses).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// The wire part it was read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<Box<WirePart>>,
}

/// Where a video comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum VideoSource {
    /// A video file URL (or `data:` URI).
    Url(String),
    /// Frame image URLs, in order (chat, native).
    Frames(Vec<String>),
}

impl Default for VideoSource {
    fn default() -> Self {
        VideoSource::Url(String::new())
    }
}

/// A video.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VideoPart {
    /// The file or the frames.
    pub source: VideoSource,
    /// Frames per second to sample (or the rate a frame list was taken at).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fps: Option<f64>,
    /// The fewest pixels per frame (chat, native).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_pixels: Option<u64>,
    /// The most pixels per frame (chat, native).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_pixels: Option<u64>,
    /// The most pixels over all frames (chat, native).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_pixels: Option<u64>,
    /// The wire part it was read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<Box<WirePart>>,
}

/// A tool call the model made.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ToolCall {
    /// The call id (Responses `call_id`), quoted back in the tool's result.
    pub id: String,
    /// The function name.
    pub name: String,
    /// The arguments, a JSON document in a string.
    pub arguments: String,
    /// The wire call it was read from (requests only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Kept<chat::ToolCall, responses::FunctionCall, native::ToolCall>,
}

impl ToolCall {
    /// A call of `name` with `arguments` (a JSON text).
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> Self {
        ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
            kept: None,
        }
    }
}

/// A model's answer, read from any dialect's response.
///
/// ```
/// use dashscope_protocol::chat::ChatCompletion;
/// use dashscope_protocol::unified::{FinishReason, UnifiedResponse};
///
/// let wire: ChatCompletion = serde_json::from_str(
///     r#"{"id":"chatcmpl-req-1","model":"qwen-plus","choices":[{"index":0,
///         "message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}],
///         "usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}"#,
/// )
/// .unwrap();
/// let answer = UnifiedResponse::from_chat(&wire);
/// assert_eq!(answer.id.as_deref(), Some("req-1"));
/// assert_eq!(answer.text(), "Hello!");
/// assert_eq!(answer.finish_reason(), Some(&FinishReason::Stop));
/// assert_eq!(answer.usage.map(|u| u.total_tokens), Some(7));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UnifiedResponse {
    /// The id: the request id (chat `chatcmpl-<id>`, native `request_id`, Responses `id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The model that answered (native answers do not say; an empty name reads as none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The answers (chat and native `n` > 1 give several; Responses gives one).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<Candidate>,
    /// Token counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The wire response it was read from, whole: what the model does not name (envelope
    /// members, logprobs, search results, usage details, …) stays reachable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Kept<chat::ChatCompletion, responses::Response, native::GenerationResponse>,
}

impl UnifiedResponse {
    /// The first candidate.
    pub fn first(&self) -> Option<&Candidate> {
        self.candidates.first()
    }

    /// The first candidate's text (empty when there is none).
    pub fn text(&self) -> &str {
        self.first().map_or("", |c| c.text.as_str())
    }

    /// The first candidate's reasoning (empty when there is none).
    pub fn reasoning(&self) -> &str {
        self.first().map_or("", |c| c.reasoning.as_str())
    }

    /// The first candidate's tool calls.
    pub fn tool_calls(&self) -> &[ToolCall] {
        self.first().map_or(&[], |c| c.tool_calls.as_slice())
    }

    /// The first candidate's finish reason.
    pub fn finish_reason(&self) -> Option<&FinishReason> {
        self.first().and_then(|c| c.finish_reason.as_ref())
    }

    /// The first candidate's spoken output.
    pub fn audio(&self) -> Option<&Audio> {
        self.first().and_then(|c| c.audio.as_ref())
    }
}

/// One answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Candidate {
    /// Its position (chat `index`).
    pub index: u32,
    /// The answer text (empty: none).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// The reasoning (thinking) text (empty: none).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reasoning: String,
    /// The tool calls, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// Spoken output (Omni models), its pieces folded: see [`Audio`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio: Option<Audio>,
    /// Why it stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<FinishReason>,
}

impl Candidate {
    /// The assistant message this answer adds to a conversation (for the next turn).
    pub fn to_message(&self) -> Message {
        Message {
            role: Role::Assistant,
            parts: text_parts(self.text.clone()),
            reasoning: (!self.reasoning.is_empty()).then(|| self.reasoning.clone()),
            tool_calls: self
                .tool_calls
                .iter()
                .map(|t| ToolCall::new(t.id.clone(), t.name.clone(), t.arguments.clone()))
                .collect(),
            ..Default::default()
        }
    }
}

/// Token counts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    /// Input (prompt) tokens.
    pub input_tokens: u64,
    /// Output (completion) tokens, reasoning included.
    pub output_tokens: u64,
    /// The total.
    pub total_tokens: u64,
    /// Reasoning tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
    /// Input tokens served from the context cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u64>,
}

impl Usage {
    /// `input` + `output` tokens, with their total.
    pub fn new(input_tokens: u64, output_tokens: u64) -> Self {
        Usage {
            input_tokens,
            output_tokens,
            total_tokens: input_tokens.saturating_add(output_tokens),
            ..Default::default()
        }
    }
}

/// Chainable setters of optional members: `name: type => path` sets `self.path = Some(v)`.
macro_rules! setters {
    ($($(#[$m:meta])* $name:ident: $ty:ty => $($path:ident).+;)*) => {$(
        $(#[$m])*
        pub fn $name(mut self, v: $ty) -> Self {
            self.$($path).+ = Some(v);
            self
        }
    )*};
}

impl Conversation {
    /// An empty conversation for `model`.
    pub fn new(model: impl Into<String>) -> Self {
        Conversation {
            model: model.into(),
            ..Default::default()
        }
    }

    /// Sets the system text: replaces the first message when it is a system message, else
    /// inserts one at the start.
    pub fn system(mut self, text: impl Into<String>) -> Self {
        let m = Message::system(text);
        match self.messages.first_mut() {
            Some(first) if first.role == Role::System => *first = m,
            _ => self.messages.insert(0, m),
        }
        self
    }

    /// Appends a message.
    pub fn message(mut self, message: Message) -> Self {
        self.messages.push(message);
        self
    }

    /// Appends a user message.
    pub fn user(self, text: impl Into<String>) -> Self {
        self.message(Message::user(text))
    }

    /// Appends a user message with parts.
    pub fn user_parts(self, parts: Vec<Part>) -> Self {
        self.message(Message::user_parts(parts))
    }

    /// Appends an assistant message.
    pub fn assistant(self, text: impl Into<String>) -> Self {
        self.message(Message::assistant(text))
    }

    /// Appends a tool's result.
    pub fn tool_result(self, tool_call_id: impl Into<String>, content: impl Into<String>) -> Self {
        self.message(Message::tool_result(tool_call_id, content))
    }

    /// Appends the first candidate of an answer as an assistant message (for the next turn).
    pub fn answer(self, response: &UnifiedResponse) -> Self {
        match response.first() {
            Some(c) => self.message(c.to_message()),
            None => self,
        }
    }

    /// Appends a tool.
    pub fn tool(mut self, tool: impl Into<Tool>) -> Self {
        self.tools.push(tool.into());
        self
    }

    setters! {
        /// Sets the tool choice.
        tool_choice: ToolChoice => tool_choice;
        /// Sets `temperature`.
        temperature: f64 => sampling.temperature;
        /// Sets `top_p`.
        top_p: f64 => sampling.top_p;
        /// Sets `top_k`.
        top_k: u32 => sampling.top_k;
        /// Sets the output token limit.
        max_tokens: u64 => sampling.max_tokens;
        /// Sets `seed`.
        seed: u64 => sampling.seed;
        /// Sets the stop strings.
        stop: Vec<String> => sampling.stop;
        /// Switches thinking on or off.
        thinking: bool => thinking.enabled;
        /// Sets the thinking budget.
        thinking_budget: u32 => thinking.budget;
        /// Sets the reasoning effort.
        effort: ReasoningEffort => thinking.effort;
        /// Sets the answer's format.
        response_format: ResponseFormat => response_format;
        /// Asks for a stream (and, for chat, the usage at its end).
        stream: bool => stream;
        /// Sets `include_usage` (chat streams).
        include_usage: bool => include_usage;
    }

    /// Whether the conversation asks for a stream.
    pub fn is_stream(&self) -> bool {
        self.stream == Some(true)
    }
}
