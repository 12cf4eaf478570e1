//! The Chat Completions request: [`ChatRequest`], its messages, content parts and tools.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeSeq, Serializer};
use serde_json::Value;

use crate::{string_enum, tagged_enum, wire_struct};

wire_struct! {
    /// A `POST /compatible-mode/v1/chat/completions` body (PROTOCOL.md §2.2).
    ///
    /// Standard OpenAI fields and DashScope extensions (`enable_thinking`, `thinking_budget`,
    /// `enable_search`, `top_k`, `repetition_penalty`, …) all sit at the top level. Anything
    /// else a caller wants to send goes into `extra` and is written as a top-level member.
    ///
    /// ```
    /// use dashscope_protocol::chat::{ChatRequest, Message};
    ///
    /// let req = ChatRequest::new("qwen-plus", vec![Message::system("Be brief."), Message::user("Hi")])
    ///     .temperature(0.5)
    ///     .stream(true)
    ///     .include_usage(true)
    ///     .enable_thinking(false);
    /// let v = serde_json::to_value(&req).unwrap();
    /// assert_eq!(v["stream_options"]["include_usage"], true);
    /// assert_eq!(v["enable_thinking"], false);
    /// ```
    pub struct ChatRequest {
        /// The model name, e.g. `qwen-plus`.
        pub model: String,
        /// The conversation so far.
        pub messages: Vec<Message>,
        /// Stream the answer as server-sent events.
        pub stream: Option<bool>,
        /// Stream options (`include_usage`).
        pub stream_options: Option<StreamOptions>,
        /// Sampling temperature, [0, 2).
        pub temperature: Option<f64>,
        /// Nucleus sampling, (0, 1].
        pub top_p: Option<f64>,
        /// Top-k sampling (DashScope extension).
        pub top_k: Option<u32>,
        /// Presence penalty, [-2, 2].
        pub presence_penalty: Option<f64>,
        /// Frequency penalty (OpenAI field).
        pub frequency_penalty: Option<f64>,
        /// Repetition penalty, 1.0 = none (DashScope extension).
        pub repetition_penalty: Option<f64>,
        /// The most tokens to generate.
        pub max_tokens: Option<u32>,
        /// The most tokens to generate, reasoning included.
        pub max_completion_tokens: Option<u32>,
        /// How many choices to generate (1–4).
        pub n: Option<u32>,
        /// The random seed.
        pub seed: Option<u64>,
        /// Stop sequences.
        pub stop: Option<Stop>,
        /// Return token log probabilities.
        pub logprobs: Option<bool>,
        /// How many alternatives per token, [0, 5].
        pub top_logprobs: Option<u32>,
        /// Tools the model may call.
        pub tools: Option<Vec<Tool>>,
        /// Whether and which tool the model must call.
        pub tool_choice: Option<ToolChoice>,
        /// Allow several tool calls in one turn.
        pub parallel_tool_calls: Option<bool>,
        /// The answer's format.
        pub response_format: Option<ResponseFormat>,
        /// Thinking on or off for hybrid models (DashScope extension).
        pub enable_thinking: Option<bool>,
        /// The most reasoning tokens (DashScope extension).
        pub thinking_budget: Option<u32>,
        /// Reasoning effort.
        pub reasoning_effort: Option<ReasoningEffort>,
        /// Web search (DashScope extension).
        pub enable_search: Option<bool>,
        /// Web search options (DashScope extension).
        pub search_options: Option<SearchOptions>,
        /// High-resolution image input for VL models (DashScope extension).
        pub vl_high_resolution_images: Option<bool>,
        /// Output modalities (Omni models).
        pub modalities: Option<Vec<Modality>>,
        /// Audio output options (Omni models).
        pub audio: Option<AudioOutput>,
        /// Translation options (MT models).
        pub translation_options: Option<TranslationOptions>,
        /// Code interpreter (DashScope extension).
        pub enable_code_interpreter: Option<bool>,
        /// An end-user id.
        pub user: Option<String>,
    }
}

impl ChatRequest {
    /// A request for `model` with `messages`; every other field unset.
    pub fn new(model: impl Into<String>, messages: Vec<Message>) -> Self {
        ChatRequest {
            model: model.into(),
            messages,
            ..Default::default()
        }
    }

    /// Appends a message.
    pub fn message(mut self, message: Message) -> Self {
        self.messages.push(message);
        self
    }

    /// Sets `stream`.
    pub fn stream(mut self, stream: bool) -> Self {
        self.stream = Some(stream);
        self
    }

    /// Sets `stream_options.include_usage` (a final usage chunk in streams).
    pub fn include_usage(mut self, include_usage: bool) -> Self {
        self.stream_options
            .get_or_insert_with(StreamOptions::default)
            .include_usage = Some(include_usage);
        self
    }

    /// Sets `temperature`.
    pub fn temperature(mut self, temperature: f64) -> Self {
        self.temperature = Some(temperature);
        self
    }

    /// Sets `top_p`.
    pub fn top_p(mut self, top_p: f64) -> Self {
        self.top_p = Some(top_p);
        self
    }

    /// Sets `top_k`.
    pub fn top_k(mut self, top_k: u32) -> Self {
        self.top_k = Some(top_k);
        self
    }

    /// Sets `presence_penalty`.
    pub fn presence_penalty(mut self, presence_penalty: f64) -> Self {
        self.presence_penalty = Some(presence_penalty);
        self
    }

    /// Sets `frequency_penalty`.
    pub fn frequency_penalty(mut self, frequency_penalty: f64) -> Self {
        self.frequency_penalty = Some(frequency_penalty);
        self
    }

    /// Sets `repetition_penalty`.
    pub fn repetition_penalty(mut self, repetition_penalty: f64) -> Self {
        self.repetition_penalty = Some(repetition_penalty);
        self
    }

    /// Sets `max_tokens`.
    pub fn max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = Some(max_tokens);
        self
    }

    /// Sets `max_completion_tokens`.
    pub fn max_completion_tokens(mut self, max_completion_tokens: u32) -> Self {
        self.max_completion_tokens = Some(max_completion_tokens);
        self
    }

    /// Sets `n`.
    pub fn n(mut self, n: u32) -> Self {
        self.n = Some(n);
        self
    }

    /// Sets `seed`.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Sets `stop` (a string or a list of strings).
    pub fn stop(mut self, stop: impl Into<Stop>) -> Self {
        self.stop = Some(stop.into());
        self
    }

    /// Sets `logprobs`.
    pub fn logprobs(mut self, logprobs: bool) -> Self {
        self.logprobs = Some(logprobs);
        self
    }

    /// Sets `top_logprobs` (and `logprobs: true`).
    pub fn top_logprobs(mut self, top_logprobs: u32) -> Self {
        self.logprobs = Some(true);
        self.top_logprobs = Some(top_logprobs);
        self
    }

    /// Appends a tool.
    pub fn tool(mut self, tool: Tool) -> Self {
        self.tools.get_or_insert_with(Vec::new).push(tool);
        self
    }

    /// Sets `tools`.
    pub fn tools(mut self, tools: Vec<Tool>) -> Self {
        self.tools = Some(tools);
        self
    }

    /// Sets `tool_choice`.
    pub fn tool_choice(mut self, tool_choice: impl Into<ToolChoice>) -> Self {
        self.tool_choice = Some(tool_choice.into());
        self
    }

    /// Sets `parallel_tool_calls`.
    pub fn parallel_tool_calls(mut self, parallel_tool_calls: bool) -> Self {
        self.parallel_tool_calls = Some(parallel_tool_calls);
        self
    }

    /// Sets `response_format`.
    pub fn response_format(mut self, response_format: ResponseFormat) -> Self {
        self.response_format = Some(response_format);
        self
    }

    /// Sets `enable_thinking`.
    pub fn enable_thinking(mut self, enable_thinking: bool) -> Self {
        self.enable_thinking = Some(enable_thinking);
        self
    }

    /// Sets `thinking_budget`.
    pub fn thinking_budget(mut self, thinking_budget: u32) -> Self {
        self.thinking_budget = Some(thinking_budget);
        self
    }

    /// Sets `reasoning_effort`.
    pub fn reasoning_effort(mut self, reasoning_effort: ReasoningEffort) -> Self {
        self.reasoning_effort = Some(reasoning_effort);
        self
    }

    /// Sets `enable_search`.
    pub fn enable_search(mut self, enable_search: bool) -> Self {
        self.enable_search = Some(enable_search);
        self
    }

    /// Sets `search_options` (and `enable_search: true`).
    pub fn search_options(mut self, search_options: SearchOptions) -> Self {
        self.enable_search = Some(true);
        self.search_options = Some(search_options);
        self
    }

    /// Sets `user`.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Whether the request asks for a stream.
    pub fn is_stream(&self) -> bool {
        self.stream == Some(true)
    }
}

wire_struct! {
    /// `stream_options`.
    pub struct StreamOptions {
        /// Send a final chunk with `choices: []` and the usage.
        pub include_usage: Option<bool>,
    }
}

string_enum! {
    /// Who wrote a message. Unknown roles are kept.
    pub enum Role {
        /// Instructions.
        System = "system",
        /// The user.
        User = "user",
        /// The model.
        Assistant = "assistant",
        /// A tool's result.
        Tool = "tool",
        /// A legacy function result.
        Function = "function",
    }
}

impl Default for Role {
    /// `user`, so that a message built from `Default` is a valid user turn.
    fn default() -> Self {
        Role::User
    }
}

wire_struct! {
    /// One message of the conversation (every role; also `choices[].message` in a response).
    pub struct Message {
        /// Who wrote it.
        pub role: Role,
        /// A string or a list of parts; may be `null` or absent on assistant tool-call turns.
        pub content: Option<MessageContent>,
        /// An optional participant name.
        pub name: Option<String>,
        /// The reasoning text of a thinking model (assistant).
        pub reasoning_content: Option<String>,
        /// Tool calls the assistant made.
        pub tool_calls: Option<Vec<ToolCall>>,
        /// Which call this is the result of (tool).
        pub tool_call_id: Option<String>,
        /// Partial mode: the assistant `content` is a prefix the model continues.
        pub partial: Option<bool>,
    }
}

impl Message {
    /// A message with `role` and text `content`.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Message {
            role,
            content: Some(MessageContent::Text(content.into())),
            ..Default::default()
        }
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }

    /// A user message with text content.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }

    /// A user message with a list of content parts (text, images, audio, video).
    pub fn user_parts(parts: Vec<ContentPart>) -> Self {
        Message {
            role: Role::User,
            content: Some(MessageContent::Parts(parts)),
            ..Default::default()
        }
    }

    /// An assistant message with text content (an earlier turn).
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }

    /// An assistant turn that made tool calls (content `""`).
    pub fn assistant_tool_calls(tool_calls: Vec<ToolCall>) -> Self {
        Message {
            role: Role::Assistant,
            content: Some(MessageContent::Text(String::new())),
            tool_calls: Some(tool_calls),
            ..Default::default()
        }
    }

    /// Partial mode: the last message, an assistant prefix the model continues
    /// (`"partial": true`). The reply holds only the continuation.
    pub fn assistant_prefix(prefix: impl Into<String>) -> Self {
        Message {
            partial: Some(true),
            ..Self::assistant(prefix)
        }
    }

    /// A tool's result for the call `tool_call_id`.
    pub fn tool_result(tool_call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Message {
            tool_call_id: Some(tool_call_id.into()),
            ..Self::new(Role::Tool, content)
        }
    }

    /// The content when it is a plain string.
    pub fn text(&self) -> Option<&str> {
        self.content.as_ref().and_then(MessageContent::as_text)
    }

    /// The tool calls, or an empty slice.
    pub fn tool_calls(&self) -> &[ToolCall] {
        self.tool_calls.as_deref().unwrap_or_default()
    }
}

/// A message's `content`: a string or a list of parts.
#[derive(Clone, Debug, PartialEq)]
pub enum MessageContent {
    /// Plain text.
    Text(String),
    /// A list of typed parts.
    Parts(Vec<ContentPart>),
}

impl MessageContent {
    /// The text, when the content is a plain string.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            MessageContent::Text(t) => Some(t),
            MessageContent::Parts(_) => None,
        }
    }

    /// The text parts joined (a plain string as is).
    pub fn joined_text(&self) -> String {
        match self {
            MessageContent::Text(t) => t.clone(),
            MessageContent::Parts(parts) => parts
                .iter()
                .filter_map(|p| match p {
                    ContentPart::Text(t) => Some(t.text.as_str()),
                    _ => None,
                })
                .collect(),
        }
    }
}

impl Default for MessageContent {
    fn default() -> Self {
        MessageContent::Text(String::new())
    }
}

impl From<&str> for MessageContent {
    fn from(s: &str) -> Self {
        MessageContent::Text(s.to_owned())
    }
}

impl From<String> for MessageContent {
    fn from(s: String) -> Self {
        MessageContent::Text(s)
    }
}

impl From<Vec<ContentPart>> for MessageContent {
    fn from(parts: Vec<ContentPart>) -> Self {
        MessageContent::Parts(parts)
    }
}

impl Serialize for MessageContent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            MessageContent::Text(t) => s.serialize_str(t),
            MessageContent::Parts(parts) => parts.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for MessageContent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MessageContent;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of content parts")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MessageContent::Text(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(MessageContent::Text(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut parts = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(p) = seq.next_element::<ContentPart>()? {
                    parts.push(p);
                }
                Ok(MessageContent::Parts(parts))
            }
        }
        d.deserialize_any(V)
    }
}

wire_struct! {
    /// `{"type":"text","text":…}`.
    pub struct TextPart {
        /// The text.
        pub text: String,
        /// Context-cache marker.
        pub cache_control: Option<CacheControl>,
    }
}

wire_struct! {
    /// `{"type":"image_url","image_url":{"url","detail"}}` with optional sibling hints.
    pub struct ImageUrlPart {
        /// The image.
        pub image_url: ImageUrl,
        /// Lower bound on the pixels the image is scaled to.
        pub min_pixels: Option<u64>,
        /// Upper bound on the pixels the image is scaled to.
        pub max_pixels: Option<u64>,
        /// Context-cache marker.
        pub cache_control: Option<CacheControl>,
    }
}

wire_struct! {
    /// The `image_url` object.
    pub struct ImageUrl {
        /// An `http(s)` URL or a `data:` URI.
        pub url: String,
        /// The resolution hint.
        pub detail: Option<ImageDetail>,
    }
}

string_enum! {
    /// An image's `detail` hint.
    pub enum ImageDetail {
        /// Let the service choose.
        Auto = "auto",
        /// Low resolution.
        Low = "low",
        /// High resolution.
        High = "high",
        /// The original resolution.
        Original = "original",
    }
}

wire_struct! {
    /// `{"type":"input_audio","input_audio":{"data","format"}}`.
    pub struct InputAudioPart {
        /// The audio.
        pub input_audio: InputAudio,
        /// Context-cache marker.
        pub cache_control: Option<CacheControl>,
    }
}

wire_struct! {
    /// The `input_audio` object.
    pub struct InputAudio {
        /// A URL or base64 data (`data:audio/<fmt>;base64,…`).
        pub data: String,
        /// The audio format (`wav`, `mp3`, …).
        pub format: Option<String>,
    }
}

wire_struct! {
    /// `{"type":"video_url","video_url":{"url"}}` with optional sibling hints.
    pub struct VideoUrlPart {
        /// The video.
        pub video_url: VideoUrl,
        /// Frames per second to sample.
        pub fps: Option<f64>,
        /// Lower bound on the pixels per frame.
        pub min_pixels: Option<u64>,
        /// Upper bound on the pixels per frame.
        pub max_pixels: Option<u64>,
        /// Upper bound on the pixels over all frames.
        pub total_pixels: Option<u64>,
        /// Context-cache marker.
        pub cache_control: Option<CacheControl>,
    }
}

wire_struct! {
    /// The `video_url` object.
    pub struct VideoUrl {
        /// An `http(s)` URL or a `data:` URI.
        pub url: String,
    }
}

wire_struct! {
    /// `{"type":"video","video":[frame urls]}` with optional sibling hints.
    pub struct VideoFramesPart {
        /// The frames, in order.
        pub video: Vec<String>,
        /// The rate the frames were taken at.
        pub fps: Option<f64>,
        /// Lower bound on the pixels per frame.
        pub min_pixels: Option<u64>,
        /// Upper bound on the pixels per frame.
        pub max_pixels: Option<u64>,
        /// Upper bound on the pixels over all frames.
        pub total_pixels: Option<u64>,
        /// Context-cache marker.
        pub cache_control: Option<CacheControl>,
    }
}

wire_struct! {
    /// `cache_control: {"type":"ephemeral"}`.
    pub struct CacheControl {
        /// The cache kind.
        pub kind: Option<CacheKind> => "type",
    }
}

impl CacheControl {
    /// `{"type":"ephemeral"}`.
    pub fn ephemeral() -> Self {
        CacheControl {
            kind: Some(CacheKind::Ephemeral),
            ..Default::default()
        }
    }
}

string_enum! {
    /// A `cache_control` kind.
    pub enum CacheKind {
        /// Cache this prefix for a short while.
        Ephemeral = "ephemeral",
    }
}

tagged_enum! {
    /// One part of a list `content`. Parts without a known `type` are kept as `Unknown`.
    pub enum ContentPart {
        /// Text.
        Text(TextPart) = "text",
        /// An image.
        ImageUrl(ImageUrlPart) = "image_url",
        /// Audio.
        InputAudio(InputAudioPart) = "input_audio",
        /// A video file.
        VideoUrl(VideoUrlPart) = "video_url",
        /// A video given as a list of frame images.
        Video(VideoFramesPart) = "video",
    }
}

impl ContentPart {
    /// A text part.
    pub fn text(text: impl Into<String>) -> Self {
        ContentPart::Text(TextPart {
            text: text.into(),
            ..Default::default()
        })
    }

    /// An image part (`http(s)` URL or `data:` URI).
    pub fn image_url(url: impl Into<String>) -> Self {
        ContentPart::ImageUrl(ImageUrlPart {
            image_url: ImageUrl {
                url: url.into(),
                ..Default::default()
            },
            ..Default::default()
        })
    }

    /// An audio part.
    pub fn input_audio(data: impl Into<String>, format: impl Into<String>) -> Self {
        ContentPart::InputAudio(InputAudioPart {
            input_audio: InputAudio {
                data: data.into(),
                format: Some(format.into()),
                ..Default::default()
            },
            ..Default::default()
        })
    }

    /// A video-file part.
    pub fn video_url(url: impl Into<String>) -> Self {
        ContentPart::VideoUrl(VideoUrlPart {
            video_url: VideoUrl {
                url: url.into(),
                ..Default::default()
            },
            ..Default::default()
        })
    }

    /// A video given as frame images.
    pub fn video_frames(frames: Vec<String>) -> Self {
        ContentPart::Video(VideoFramesPart {
            video: frames,
            ..Default::default()
        })
    }
}

/// `stop`: one string or a list.
#[derive(Clone, Debug, PartialEq)]
pub enum Stop {
    /// One stop string.
    Text(String),
    /// Several stop strings.
    List(Vec<String>),
    /// Any other shape (for example token-id arrays `[[37763, 367]]`), kept verbatim.
    Other(Value),
}

impl From<&str> for Stop {
    fn from(s: &str) -> Self {
        Stop::Text(s.to_owned())
    }
}

impl From<String> for Stop {
    fn from(s: String) -> Self {
        Stop::Text(s)
    }
}

impl From<Vec<String>> for Stop {
    fn from(v: Vec<String>) -> Self {
        Stop::List(v)
    }
}

impl From<Vec<&str>> for Stop {
    fn from(v: Vec<&str>) -> Self {
        Stop::List(v.into_iter().map(str::to_owned).collect())
    }
}

impl Serialize for Stop {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Stop::Text(t) => s.serialize_str(t),
            Stop::List(l) => {
                let mut seq = s.serialize_seq(Some(l.len()))?;
                for item in l {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Stop::Other(v) => v.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Stop {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Ok(match v {
            Value::String(s) => Stop::Text(s),
            Value::Array(items) if items.iter().all(Value::is_string) => Stop::List(
                items
                    .into_iter()
                    .filter_map(|i| match i {
                        Value::String(s) => Some(s),
                        _ => None,
                    })
                    .collect(),
            ),
            other => Stop::Other(other),
        })
    }
}

string_enum! {
    /// A tool's (or tool call's) `type`.
    pub enum ToolType {
        /// A function.
        Function = "function",
    }
}

impl Default for ToolType {
    /// `function`, the only kind the service defines.
    fn default() -> Self {
        ToolType::Function
    }
}

wire_struct! {
    /// `{"type":"function","function":{…}}`.
    pub struct FunctionTool {
        /// The function.
        pub function: FunctionDefinition,
    }
}

wire_struct! {
    /// A function the model may call.
    pub struct FunctionDefinition {
        /// The name.
        pub name: String,
        /// What it does.
        pub description: Option<String>,
        /// The JSON Schema of its arguments.
        pub parameters: Option<Value>,
        /// Strict schema adherence.
        pub strict: Option<bool>,
    }
}

tagged_enum! {
    /// A tool in `tools`.
    pub enum Tool {
        /// A function.
        Function(FunctionTool) = "function",
    }
}

impl Tool {
    /// A function tool with a JSON Schema for its arguments.
    pub fn function(
        name: impl Into<String>,
        description: impl Into<String>,
        parameters: Value,
    ) -> Self {
        Tool::Function(FunctionTool {
            function: FunctionDefinition {
                name: name.into(),
                description: Some(description.into()),
                parameters: Some(parameters),
                ..Default::default()
            },
            ..Default::default()
        })
    }

    /// The function's name, for a function tool.
    pub fn function_name(&self) -> Option<&str> {
        match self {
            Tool::Function(f) => Some(&f.function.name),
            Tool::Unknown(_) => None,
        }
    }
}

wire_struct! {
    /// A tool call in an assistant message (and in a non-stream response).
    pub struct ToolCall {
        /// The position among the turn's calls (sent in streams; optional elsewhere).
        pub index: Option<u32>,
        /// The call id (`call_<hex>`).
        pub id: String,
        /// The tool kind.
        pub kind: ToolType => "type",
        /// The function and its arguments.
        pub function: FunctionCall,
    }
}

impl ToolCall {
    /// A function call.
    pub fn function(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> Self {
        ToolCall {
            id: id.into(),
            function: FunctionCall {
                name: name.into(),
                arguments: arguments.into(),
                ..Default::default()
            },
            ..Default::default()
        }
    }
}

wire_struct! {
    /// The function a tool call invokes.
    pub struct FunctionCall {
        /// The function's name.
        pub name: String,
        /// The arguments, a JSON document in a string.
        pub arguments: String,
    }
}

string_enum! {
    /// `tool_choice` as a string.
    pub enum ToolChoiceMode {
        /// The model decides.
        Auto = "auto",
        /// No tool calls.
        None = "none",
        /// At least one tool call.
        Required = "required",
    }
}

wire_struct! {
    /// `tool_choice` as an object: `{"type":"function","function":{"name":…}}`.
    pub struct NamedToolChoice {
        /// The tool kind.
        pub kind: ToolType => "type",
        /// The function to call.
        pub function: Option<FunctionName>,
    }
}

wire_struct! {
    /// `{"name":…}`.
    pub struct FunctionName {
        /// The function's name.
        pub name: String,
    }
}

/// `tool_choice`: a mode string or a named function.
#[derive(Clone, Debug, PartialEq)]
pub enum ToolChoice {
    /// `"auto"`, `"none"`, `"required"` (or a newer string).
    Mode(ToolChoiceMode),
    /// Call this function.
    Named(NamedToolChoice),
}

impl ToolChoice {
    /// `"auto"`.
    pub fn auto() -> Self {
        ToolChoice::Mode(ToolChoiceMode::Auto)
    }

    /// `"none"`.
    pub fn none() -> Self {
        ToolChoice::Mode(ToolChoiceMode::None)
    }

    /// `"required"`.
    pub fn required() -> Self {
        ToolChoice::Mode(ToolChoiceMode::Required)
    }

    /// `{"type":"function","function":{"name":…}}`.
    pub fn function(name: impl Into<String>) -> Self {
        ToolChoice::Named(NamedToolChoice {
            function: Some(FunctionName {
                name: name.into(),
                ..Default::default()
            }),
            ..Default::default()
        })
    }
}

impl From<ToolChoiceMode> for ToolChoice {
    fn from(m: ToolChoiceMode) -> Self {
        ToolChoice::Mode(m)
    }
}

impl Serialize for ToolChoice {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ToolChoice::Mode(m) => m.serialize(s),
            ToolChoice::Named(n) => n.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for ToolChoice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ToolChoice;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a tool_choice string or object")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ToolChoice::Mode(ToolChoiceMode::from(v)))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(ToolChoice::Mode(ToolChoiceMode::from(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                NamedToolChoice::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(ToolChoice::Named)
            }
        }
        d.deserialize_any(V)
    }
}

wire_struct! {
    /// The members of `{"type":"text"}` (none are defined).
    pub struct TextFormat {}
}

wire_struct! {
    /// The members of `{"type":"json_object"}` (none are defined).
    pub struct JsonObjectFormat {}
}

wire_struct! {
    /// `{"type":"json_schema","json_schema":{…}}`.
    pub struct JsonSchemaFormat {
        /// The schema and its name.
        pub json_schema: JsonSchema,
    }
}

wire_struct! {
    /// The `json_schema` object.
    pub struct JsonSchema {
        /// The schema's name.
        pub name: String,
        /// What the schema is for.
        pub description: Option<String>,
        /// The JSON Schema.
        pub schema: Option<Value>,
        /// Strict adherence.
        pub strict: Option<bool>,
    }
}

tagged_enum! {
    /// `response_format`.
    pub enum ResponseFormat {
        /// Free text.
        Text(TextFormat) = "text",
        /// A JSON object (the messages must mention "json").
        JsonObject(JsonObjectFormat) = "json_object",
        /// JSON following a schema.
        JsonSchema(JsonSchemaFormat) = "json_schema",
    }
}

impl ResponseFormat {
    /// `{"type":"text"}`.
    pub fn text() -> Self {
        ResponseFormat::Text(TextFormat::default())
    }

    /// `{"type":"json_object"}`.
    pub fn json_object() -> Self {
        ResponseFormat::JsonObject(JsonObjectFormat::default())
    }

    /// `{"type":"json_schema","json_schema":{"name":…,"schema":…}}`.
    pub fn json_schema(name: impl Into<String>, schema: Value) -> Self {
        ResponseFormat::JsonSchema(JsonSchemaFormat {
            json_schema: JsonSchema {
                name: name.into(),
                schema: Some(schema),
                ..Default::default()
            },
            ..Default::default()
        })
    }
}

string_enum! {
    /// `reasoning_effort`.
    pub enum ReasoningEffort {
        /// Minimal.
        Minimal = "minimal",
        /// Low.
        Low = "low",
        /// Medium.
        Medium = "medium",
        /// High.
        High = "high",
        /// Extra high (seen on the native endpoint).
        XHigh = "xhigh",
    }
}

wire_struct! {
    /// `search_options` (web search, DashScope extension).
    pub struct SearchOptions {
        /// Always search.
        pub forced_search: Option<bool>,
        /// How hard to search.
        pub search_strategy: Option<SearchStrategy>,
        /// Return the sources (native only; compat never returns them).
        pub enable_source: Option<bool>,
        /// Mark citations in the answer.
        pub enable_citation: Option<bool>,
        /// The citation format, e.g. `[<number>]`.
        pub citation_format: Option<String>,
        /// Domain-specific search extensions.
        pub enable_search_extension: Option<bool>,
        /// Put the search results before the answer (streams).
        pub prepend_search_result: Option<bool>,
    }
}

string_enum! {
    /// `search_options.search_strategy`.
    pub enum SearchStrategy {
        /// Fast.
        Turbo = "turbo",
        /// Thorough.
        Max = "max",
        /// Agentic.
        Agent = "agent",
        /// Agentic and thorough.
        AgentMax = "agent_max",
    }
}

string_enum! {
    /// An output modality (`modalities`).
    pub enum Modality {
        /// Text.
        Text = "text",
        /// Audio.
        Audio = "audio",
    }
}

wire_struct! {
    /// `audio`: spoken output options (Omni models).
    pub struct AudioOutput {
        /// The voice.
        pub voice: Option<String>,
        /// The format (`wav`, …).
        pub format: Option<String>,
    }
}

wire_struct! {
    /// `translation_options` (MT models).
    pub struct TranslationOptions {
        /// The source language (`auto` to detect).
        pub source_lang: Option<String>,
        /// The target language.
        pub target_lang: Option<String>,
        /// Term pairs to use.
        pub terms: Option<Vec<TranslationPair>>,
        /// Translation-memory pairs.
        pub tm_list: Option<Vec<TranslationPair>>,
        /// A description of the domain.
        pub domains: Option<String>,
    }
}

wire_struct! {
    /// A `{"source","target"}` pair.
    pub struct TranslationPair {
        /// The source text.
        pub source: String,
        /// The target text.
        pub target: String,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn builder_writes_only_what_was_set() {
        let req = ChatRequest::new("qwen-plus", vec![Message::user("hi")])
            .stop("END")
            .tool_choice(ToolChoice::function("f"))
            .response_format(ResponseFormat::json_object());
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({
                "model": "qwen-plus",
                "messages": [{"role": "user", "content": "hi"}],
                "stop": "END",
                "tool_choice": {"type": "function", "function": {"name": "f"}},
                "response_format": {"type": "json_object"}
            })
        );
    }

    #[test]
    fn message_constructors() {
        let v = serde_json::to_value(Message::tool_result("call_1", "22°C")).unwrap();
        assert_eq!(
            v,
            json!({"role": "tool", "content": "22°C", "tool_call_id": "call_1"})
        );
        let v = serde_json::to_value(Message::assistant_prefix("def f(")).unwrap();
        assert_eq!(
            v,
            json!({"role": "assistant", "content": "def f(", "partial": true})
        );
        let v = serde_json::to_value(Message::user_parts(vec![
            ContentPart::image_url("https://x/y.png"),
            ContentPart::text("what?"),
        ]))
        .unwrap();
        assert_eq!(
            v,
            json!({"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
                {"type": "text", "text": "what?"}
            ]})
        );
    }

    #[test]
    fn content_and_stop_shapes() {
        let m: Message = serde_json::from_str(
            r#"{"role":"user","content":[{"type":"video","video":["a","b"],"fps":2}]}"#,
        )
        .unwrap();
        match m.content {
            Some(MessageContent::Parts(ref p)) => {
                assert!(
                    matches!(&p[0], ContentPart::Video(v) if v.video.len() == 2 && v.fps == Some(2.0))
                )
            }
            ref other => panic!("{other:?}"),
        }
        let s: Stop = serde_json::from_str(r#"["a","b"]"#).unwrap();
        assert_eq!(s, Stop::List(vec!["a".into(), "b".into()]));
        let s: Stop = serde_json::from_str(r#"[[1,2]]"#).unwrap();
        assert_eq!(s, Stop::Other(json!([[1, 2]])));
        assert!(serde_json::from_str::<MessageContent>("5").is_err());
    }

    #[test]
    fn tool_choice_shapes() {
        let t: ToolChoice = serde_json::from_str(r#""required""#).unwrap();
        assert_eq!(t, ToolChoice::required());
        let t: ToolChoice = serde_json::from_str(r#""sometimes""#).unwrap();
        assert_eq!(
            t,
            ToolChoice::Mode(ToolChoiceMode::Unknown("sometimes".into()))
        );
        let t: ToolChoice =
            serde_json::from_str(r#"{"type":"function","function":{"name":"g"}}"#).unwrap();
        assert_eq!(t, ToolChoice::function("g"));
    }

    #[test]
    fn unknown_role_and_part_kept() {
        let src = json!({"role": "developer", "content": [{"type": "hologram", "z": 1}]});
        let m: Message = serde_json::from_value(src.clone()).unwrap();
        assert_eq!(m.role, Role::Unknown("developer".into()));
        assert_eq!(serde_json::to_value(&m).unwrap(), src);
    }
}
