//! The Chat Completions request: [`ChatRequest`], its messages, content parts and tools.

use crate::common::{
    Audio, AudioOutput, CacheControl, Modality, ReasoningEffort, ResponseFormat, Role,
    SearchOptions, Stop, Tool, ToolCall, ToolChoice,
};
use crate::wire::string_or;
use crate::{string_enum, tagged_enum, wire_struct};

wire_struct! {
    /// A `POST /compatible-mode/v1/chat/completions` body ([protocol notes §2.2](crate::protocol_notes#22-request-body-fields)).
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
    ///
    /// Every member has a setter of its name; [`message`](Self::message), [`tool`](Self::tool)
    /// and [`include_usage`](Self::include_usage) add to a list or a nested object.
    @setters
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
        pub temperature: Option<serde_json::Number>,
        /// Nucleus sampling, (0, 1].
        pub top_p: Option<serde_json::Number>,
        /// Top-k sampling (DashScope extension).
        pub top_k: Option<u32>,
        /// Presence penalty, [-2, 2].
        pub presence_penalty: Option<serde_json::Number>,
        /// Frequency penalty (OpenAI field).
        pub frequency_penalty: Option<serde_json::Number>,
        /// Repetition penalty, 1.0 = none (DashScope extension).
        pub repetition_penalty: Option<serde_json::Number>,
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
        /// How many alternatives per token, [0, 5] (its setter also sets `logprobs`).
        @manual pub top_logprobs: Option<u32>,
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
        /// Web search options (DashScope extension; its setter also sets `enable_search`).
        @manual pub search_options: Option<SearchOptions>,
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

    /// Sets `stream_options.include_usage` (a final usage chunk in streams).
    pub fn include_usage(mut self, include_usage: bool) -> Self {
        self.stream_options
            .get_or_insert_with(StreamOptions::default)
            .include_usage = Some(include_usage);
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

    /// Sets `search_options` (and `enable_search: true`).
    pub fn search_options(mut self, search_options: SearchOptions) -> Self {
        self.enable_search = Some(true);
        self.search_options = Some(search_options);
        self
    }

    /// Whether the request asks for a stream.
    pub fn is_stream(&self) -> bool {
        self.stream == Some(true)
    }

    /// Whether the request asks for spoken output (`modalities` holds `audio`; Omni models,
    /// which answer it only in a stream).
    pub fn wants_audio(&self) -> bool {
        self.modalities
            .iter()
            .flatten()
            .any(|m| *m == Modality::Audio)
    }
}

wire_struct! {
    /// `stream_options`.
    pub struct StreamOptions {
        /// Send a final chunk with `choices: []` and the usage.
        pub include_usage: Option<bool>,
    }
}

wire_struct! {
    /// One message of the conversation (every role; also `choices[].message` in a response).
    ///
    /// Not the native `Message`: chat content parts are `type`-tagged ([`ContentPart`]) and
    /// `role` is always there.
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
        /// Spoken output (Omni models; an answer folded from a stream), or in a request a
        /// reference (`{"id"}`) to an earlier answer's audio.
        pub audio: Option<Audio>,
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

    crate::common::message_constructors!();

    /// A user message with a list of content parts (text, images, audio, video).
    pub fn user_parts(parts: Vec<ContentPart>) -> Self {
        Message {
            content: Some(MessageContent::Parts(parts)),
            ..Self::user("")
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

/// A message's `content`: a string or a list of parts (chat part types; Responses' differ).
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

string_or!(
    MessageContent,
    Text,
    Parts(Vec<ContentPart>),
    visit_seq,
    SeqAccess,
    SeqAccessDeserializer,
    "a string or a list of content parts"
);

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
    /// The `input_audio` object (nested under `input_audio`; Responses puts these members in
    /// the part itself).
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
        pub fps: Option<serde_json::Number>,
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
        pub fps: Option<serde_json::Number>,
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

tagged_enum! {
    /// One part of a list `content`. Parts without a known `type` are kept as `Unknown`.
    /// (Responses has its own part types: `input_text`, `input_image`, ….)
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
