//! The request envelope: `{"model", "input", "parameters"}`.

use std::borrow::Cow;

use serde_json::Value;

use super::{MULTIMODAL_GENERATION_PATH, TEXT_GENERATION_PATH};
use crate::common::{
    CacheControl, Modality, ReasoningEffort, ResponseFormat, Role, SearchOptions, Stop, Tool,
    ToolCall, ToolChoice,
};
use crate::fast::{FastValue, Parser};
use crate::wire::string_or;

crate::wire_struct! {
    /// A native generation request: `POST /api/v1/services/aigc/{text,multimodal}-generation/generation`.
    ///
    /// Streaming is switched on by the `X-DashScope-SSE: enable` header, not by a body member.
    ///
    /// ```
    /// use dashscope_protocol::native::{GenerationRequest, Message, ResultFormat};
    ///
    /// let req = GenerationRequest::new("qwen-plus", vec![Message::system("Be brief."), Message::user("Hi")])
    ///     .result_format(ResultFormat::Message)
    ///     .incremental_output(true)
    ///     .temperature(0.7);
    /// let json = serde_json::to_value(&req).unwrap();
    /// assert_eq!(json["parameters"]["result_format"], "message");
    /// assert_eq!(json["input"]["messages"][1]["content"], "Hi");
    /// assert!(!req.is_multimodal());
    /// ```
    pub struct GenerationRequest {
        /// The model name (`qwen-plus`, `qwen-vl-max`, …).
        pub model: String,
        /// The input: `messages` or `prompt`.
        pub input: Input,
        /// Generation parameters (the service requires the member, even if empty).
        pub parameters: Option<Parameters>,
    }
}

crate::wire_struct! {
    /// The `input` member: either `messages` or `prompt` (the legacy `history` form and other
    /// unknown members are kept in `extra`). Not the Responses `input` (a string or a list of
    /// items).
    pub struct Input {
        /// The conversation.
        pub messages: Option<Vec<Message>>,
        /// A single prompt (text models, legacy form).
        pub prompt: Option<String>,
    }
}

crate::wire_struct! {
    /// One message, in a request (`input.messages`) or a response (`output.choices[].message`).
    ///
    /// Not the chat `Message`: native content lists are single-key items
    /// ([`ContentItem`]), not `type`-tagged parts, and `role` may be absent in stream deltas.
    @fast
    pub struct Message {
        /// Who wrote it.
        pub role: Option<Role>,
        /// A string, or a multimodal list of single-key objects.
        pub content: Option<Content>,
        /// The model's reasoning (thinking models; assistant messages).
        pub reasoning_content: Option<String>,
        /// Tool calls the assistant made.
        pub tool_calls: Option<Vec<ToolCall>>,
        /// Partial mode: the assistant message is a prefix the model continues.
        pub partial: Option<bool>,
        /// For `role: "tool"`: the id of the call this message answers.
        pub tool_call_id: Option<String>,
        /// For `role: "tool"`: the function's name.
        pub name: Option<String>,
    }
}

impl Message {
    fn new(role: Role, content: impl Into<Content>) -> Self {
        Message {
            role: Some(role),
            content: Some(content.into()),
            ..Message::default()
        }
    }

    crate::common::message_constructors!();

    /// A user message with a multimodal content list (sent to the multimodal path).
    pub fn user_multimodal(items: Vec<ContentItem>) -> Self {
        Self::new(Role::User, items)
    }

    /// A system message with a multimodal content list (`[{"text": …}]`).
    pub fn system_multimodal(items: Vec<ContentItem>) -> Self {
        Self::new(Role::System, items)
    }

    /// The text of the content: a string as is, a list's `text` items concatenated.
    pub fn text(&self) -> Option<Cow<'_, str>> {
        self.content.as_ref().and_then(Content::text)
    }

    /// Whether the content holds an image, audio or video item.
    pub fn has_media(&self) -> bool {
        matches!(&self.content, Some(Content::Parts(items)) if items.iter().any(ContentItem::is_media))
    }
}

/// Message content: a string, or a multimodal list of single-key objects.
#[derive(Clone, Debug, PartialEq)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// A multimodal list (`[{"text": …}, {"image": …}]`); may be empty (`[]`).
    Parts(Vec<ContentItem>),
    /// Any other JSON shape, kept verbatim.
    Unknown(Value),
}

impl Content {
    /// The text: a string as is, a list's `text` items concatenated (`None` if there are none).
    pub fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            Content::Text(s) => Some(Cow::Borrowed(s)),
            Content::Parts(items) => {
                let mut texts = items.iter().filter_map(|i| i.text.as_deref());
                let first = texts.next()?;
                match texts.next() {
                    None => Some(Cow::Borrowed(first)),
                    Some(second) => {
                        let mut s = String::with_capacity(first.len() + second.len());
                        s.push_str(first);
                        s.push_str(second);
                        texts.for_each(|t| s.push_str(t));
                        Some(Cow::Owned(s))
                    }
                }
            }
            Content::Unknown(_) => None,
        }
    }
}

string_or!(
    Content,
    Text,
    Parts(Vec<ContentItem>),
    visit_seq,
    SeqAccess,
    SeqAccessDeserializer,
    "message content (a string or a list)",
    else Unknown
);

/// A string or a list; any other shape is `Content::Unknown`, which serde decides.
impl FastValue for Content {
    #[inline]
    fn read(p: &mut Parser<'_>) -> Option<Content> {
        match *p.b.get(p.i)? {
            b'"' => Some(Content::Text(p.string()?.into_owned())),
            b'[' => Vec::read(p).map(Content::Parts),
            _ => None,
        }
    }
}

crate::wire_struct! {
    /// One item of a multimodal content list: a single-key object (`{"text"}`, `{"image"}`,
    /// `{"audio"}`, `{"video"}`) with optional sibling hints.
    @fast
    pub struct ContentItem {
        /// Text.
        pub text: Option<String>,
        /// An image URL (`https://…`, `oss://…`, `file://…` or a `data:` URI).
        pub image: Option<String>,
        /// An audio URL or `data:audio/<fmt>;base64,…` URI.
        pub audio: Option<String>,
        /// A video URL, or a list of frame image URLs.
        pub video: Option<VideoSource>,
        /// Image hint: the minimum pixel count after resizing.
        pub min_pixels: Option<u64>,
        /// Image hint: the maximum pixel count after resizing.
        pub max_pixels: Option<u64>,
        /// Video hint: frames sampled per second (or the frame rate of a frame list).
        pub fps: Option<serde_json::Number>,
        /// Video hint: the total pixel budget over all frames.
        pub total_pixels: Option<u64>,
        /// Explicit context-cache marker (`{"type": "ephemeral"}`).
        pub cache_control: Option<CacheControl>,
    }
}

impl ContentItem {
    /// A `{"text": …}` item.
    pub fn text(text: impl Into<String>) -> Self {
        ContentItem {
            text: Some(text.into()),
            ..ContentItem::default()
        }
    }

    /// An `{"image": url}` item.
    pub fn image(url: impl Into<String>) -> Self {
        ContentItem {
            image: Some(url.into()),
            ..ContentItem::default()
        }
    }

    /// An `{"audio": url}` item.
    pub fn audio(url: impl Into<String>) -> Self {
        ContentItem {
            audio: Some(url.into()),
            ..ContentItem::default()
        }
    }

    /// A `{"video": url}` item.
    pub fn video(url: impl Into<String>) -> Self {
        ContentItem {
            video: Some(VideoSource::Url(url.into())),
            ..ContentItem::default()
        }
    }

    /// A `{"video": [frame urls]}` item.
    pub fn video_frames<I, S>(frames: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ContentItem {
            video: Some(VideoSource::Frames(
                frames.into_iter().map(Into::into).collect(),
            )),
            ..ContentItem::default()
        }
    }

    /// Whether the item is an image, audio or video, or a non-text item of a kind this version
    /// does not know (anything that needs the multimodal path).
    pub fn is_media(&self) -> bool {
        self.image.is_some()
            || self.audio.is_some()
            || self.video.is_some()
            || (self.text.is_none() && self.extra.values().any(|v| !v.is_null()))
    }
}

/// A video: one URL, or a list of frame image URLs.
#[derive(Clone, Debug, PartialEq)]
pub enum VideoSource {
    /// A video file URL.
    Url(String),
    /// Frame image URLs, in order.
    Frames(Vec<String>),
}

string_or!(
    VideoSource,
    Url,
    Frames(Vec<String>),
    visit_seq,
    SeqAccess,
    SeqAccessDeserializer,
    "a video URL or a list of frame URLs"
);

crate::string_enum! {
    /// `parameters.result_format`.
    pub enum ResultFormat {
        /// `output.text` + `output.finish_reason`.
        Text = "text",
        /// `output.choices[]` with messages.
        Message = "message",
    }
}

crate::wire_struct! {
    /// The `parameters` member ([protocol notes §4.2](crate::protocol_notes#42-request-envelope)). Unknown parameters ride in `extra`.
    ///
    /// Every member has a setter of its name, here and on [`GenerationRequest`] (which sets it
    /// in the request's `parameters`).
    @setters
    @forward = GenerationRequest.parameters_mut
    pub struct Parameters {
        /// `text` or `message`.
        pub result_format: Option<ResultFormat>,
        /// Streams only: `true` sends deltas, `false` repeats all text so far in each chunk.
        pub incremental_output: Option<bool>,
        /// Turns thinking on or off (hybrid models).
        pub enable_thinking: Option<bool>,
        /// The most reasoning tokens.
        pub thinking_budget: Option<u32>,
        /// Reasoning effort (some models).
        pub reasoning_effort: Option<ReasoningEffort>,
        /// Sampling temperature, `[0, 2)`.
        pub temperature: Option<serde_json::Number>,
        /// Nucleus sampling, `(0, 1]`.
        pub top_p: Option<serde_json::Number>,
        /// Top-k sampling.
        pub top_k: Option<u32>,
        /// Repetition penalty (`1.0` = none).
        pub repetition_penalty: Option<serde_json::Number>,
        /// Presence penalty, `[-2, 2]`.
        pub presence_penalty: Option<serde_json::Number>,
        /// The most output tokens.
        pub max_tokens: Option<u32>,
        /// The most output tokens, reasoning included.
        pub max_completion_tokens: Option<u32>,
        /// Random seed.
        pub seed: Option<u64>,
        /// Stop words or token sequences.
        pub stop: Option<Stop>,
        /// Tools the model may call.
        pub tools: Option<Vec<Tool>>,
        /// `auto`, `none`, or a named function.
        pub tool_choice: Option<ToolChoice>,
        /// Allow several tool calls in one turn.
        pub parallel_tool_calls: Option<bool>,
        /// Web search.
        pub enable_search: Option<bool>,
        /// Web search options.
        pub search_options: Option<SearchOptions>,
        /// Structured output.
        pub response_format: Option<ResponseFormat>,
        /// How many completions.
        pub n: Option<u32>,
        /// Return token log-probabilities.
        pub logprobs: Option<bool>,
        /// How many alternatives per token with `logprobs`.
        pub top_logprobs: Option<u32>,
        /// Code interpreter (thinking models).
        pub enable_code_interpreter: Option<bool>,
        /// VL: raise the image token limit.
        pub vl_high_resolution_images: Option<bool>,
        /// Output modalities (Omni models), e.g. `["text", "audio"]`.
        pub modalities: Option<Vec<Modality>>,
    }
}

impl GenerationRequest {
    /// A request with `input.messages` and empty `parameters`.
    pub fn new(model: impl Into<String>, messages: Vec<Message>) -> Self {
        GenerationRequest {
            model: model.into(),
            input: Input {
                messages: Some(messages),
                ..Input::default()
            },
            parameters: Some(Parameters::default()),
            ..GenerationRequest::default()
        }
    }

    /// A request with `input.prompt` and empty `parameters`.
    pub fn prompt(model: impl Into<String>, prompt: impl Into<String>) -> Self {
        GenerationRequest {
            model: model.into(),
            input: Input {
                prompt: Some(prompt.into()),
                ..Input::default()
            },
            parameters: Some(Parameters::default()),
            ..GenerationRequest::default()
        }
    }

    /// The parameters, created empty if absent.
    pub fn parameters_mut(&mut self) -> &mut Parameters {
        self.parameters.get_or_insert_with(Parameters::default)
    }

    /// The messages (empty for a prompt request).
    pub fn messages(&self) -> &[Message] {
        self.input.messages.as_deref().unwrap_or(&[])
    }

    /// Whether any message holds an image, audio or video item: such requests go to the
    /// multimodal path ([`MULTIMODAL_GENERATION_PATH`]).
    pub fn is_multimodal(&self) -> bool {
        self.messages().iter().any(Message::has_media)
    }

    /// The path this request goes to: multimodal if [`is_multimodal`](Self::is_multimodal),
    /// text otherwise.
    pub fn path(&self) -> &'static str {
        if self.is_multimodal() {
            MULTIMODAL_GENERATION_PATH
        } else {
            TEXT_GENERATION_PATH
        }
    }

    /// Whether a stream of this request sends deltas (`incremental_output` is not `false`).
    ///
    /// The default differs by model; callers who stream should set `incremental_output`
    /// explicitly (the official SDK always sends `true` and merges client-side).
    pub fn is_incremental(&self) -> bool {
        self.parameters.as_ref().and_then(|p| p.incremental_output) != Some(false)
    }
}
