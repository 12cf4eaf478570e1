//! Wire types that are the same in more than one dialect, declared once and re-exported by each
//! dialect module that uses them (`chat::Tool` and `native::Tool` are the same type).
//!
//! Where the dialects accept different values of one concept (`reasoning_effort`, search
//! strategies, roles, finish reasons), the type here holds every value any of them accepts;
//! where they send different members of one object (token breakdowns, log probabilities), it
//! has every member any of them sends, optional. A type whose wire form really differs between
//! dialects is declared in the dialect's own module, and its doc comment says why.

use serde::de::{Deserialize, Deserializer};
use serde::ser::{Serialize, Serializer};
use serde_json::Value;

use crate::wire::{WireValue, string_or};
use crate::{string_enum, tagged_enum, wire_struct};

/// The constructors chat and native messages share, built on `Self::new(role, text)`.
macro_rules! message_constructors {
    () => {
        /// A system message.
        pub fn system(text: impl Into<String>) -> Self {
            Self::new(Role::System, text.into())
        }

        /// A user message with text content.
        pub fn user(text: impl Into<String>) -> Self {
            Self::new(Role::User, text.into())
        }

        /// An assistant message with text content (an earlier turn).
        pub fn assistant(text: impl Into<String>) -> Self {
            Self::new(Role::Assistant, text.into())
        }

        /// An assistant turn that made tool calls (content `""`, as the service sends it).
        pub fn assistant_tool_calls(tool_calls: Vec<ToolCall>) -> Self {
            Self {
                tool_calls: Some(tool_calls),
                ..Self::assistant("")
            }
        }

        /// Partial mode: the last message, an assistant prefix the model continues
        /// (`"partial": true`). The reply holds only the continuation.
        pub fn assistant_prefix(prefix: impl Into<String>) -> Self {
            Self {
                partial: Some(true),
                ..Self::assistant(prefix)
            }
        }

        /// A tool's result for the call `tool_call_id`.
        pub fn tool_result(tool_call_id: impl Into<String>, content: impl Into<String>) -> Self {
            Self {
                tool_call_id: Some(tool_call_id.into()),
                ..Self::new(Role::Tool, content.into())
            }
        }
    };
}

/// `auto()`, `none()` and `required()` of a `tool_choice` type (one that is
/// `From<ToolChoiceMode>`).
macro_rules! tool_choice_modes {
    () => {
        /// `"auto"`.
        pub fn auto() -> Self {
            ToolChoiceMode::Auto.into()
        }

        /// `"none"`.
        pub fn none() -> Self {
            ToolChoiceMode::None.into()
        }

        /// `"required"`.
        pub fn required() -> Self {
            ToolChoiceMode::Required.into()
        }
    };
}

pub(crate) use {message_constructors, tool_choice_modes};

string_enum! {
    /// Who wrote a message, in any dialect. Unknown roles are kept.
    #[derive(Default)]
    pub enum Role {
        /// Instructions.
        System = "system",
        /// The user (the default, so that a message built from `Default` is a user turn).
        #[default]
        User = "user",
        /// The model.
        Assistant = "assistant",
        /// A tool's result (chat, native).
        Tool = "tool",
        /// A legacy function result (chat).
        Function = "function",
        /// Developer instructions (Responses; OpenAI's name for system-level text).
        Developer = "developer",
    }
}

string_enum! {
    /// How hard a model thinks: chat `reasoning_effort`, native `parameters.reasoning_effort`,
    /// Responses `reasoning.effort`. Which values a model takes depends on the model.
    pub enum ReasoningEffort {
        /// No reasoning.
        None = "none",
        /// Minimal.
        Minimal = "minimal",
        /// Low.
        Low = "low",
        /// Medium.
        Medium = "medium",
        /// High.
        High = "high",
        /// Extra high (seen on the native endpoint, e.g. deepseek-v4-pro).
        XHigh = "xhigh",
        /// The most the model offers (Responses).
        Max = "max",
    }
}

string_enum! {
    /// Why a choice stopped (chat and native). Unknown values are kept.
    pub enum FinishReason {
        /// Not finished: the string `"null"` of intermediate native stream chunks.
        Null = "null",
        /// A natural end or a stop sequence.
        Stop = "stop",
        /// `max_tokens` (or `max_completion_tokens`) reached.
        Length = "length",
        /// The model called tools.
        ToolCalls = "tool_calls",
        /// Moderation stopped the answer.
        ContentFilter = "content_filter",
        /// The service ran out of capacity (chat).
        InsufficientSystemResource = "insufficient_system_resource",
    }
}

impl FinishReason {
    /// Whether generation has finished (anything but the string `"null"`).
    pub fn is_final(&self) -> bool {
        !matches!(self, FinishReason::Null)
    }
}

string_enum! {
    /// A tool's (or tool call's) `type`.
    #[derive(Default)]
    pub enum ToolType {
        /// A function (the only kind chat and native define).
        #[default]
        Function = "function",
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

wire_struct! {
    /// `{"type":"function","function":{…}}`: a function nested under `function` (chat, native;
    /// Responses writes it flat, see `responses::FunctionTool`).
    pub struct FunctionTool {
        /// The function.
        pub function: FunctionDefinition,
    }
}

tagged_enum! {
    /// A tool in chat `tools` or native `parameters.tools` (Responses has built-in tools and a
    /// flat function form, see `responses::Tool`).
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
}

wire_struct! {
    /// A tool call the assistant made (chat and native; a whole call in a message, or a
    /// fragment in a stream).
    ///
    /// In a stream the first fragment of a call has `id: "call_…"` and `function.name`; later
    /// fragments have `id: ""`, no name and a piece of `arguments` (possibly `null`).
    @fast
    pub struct ToolCall {
        /// The position among the turn's calls (the merge key of stream fragments).
        pub index: Option<u32>,
        /// The call id (`call_…`), `""` on continuation fragments.
        pub id: Option<String>,
        /// The tool kind (`function`).
        pub kind: Option<ToolType> => "type",
        /// The function and its arguments.
        pub function: Option<FunctionCall>,
    }
}

impl ToolCall {
    /// A whole function call (as in a message sent back to the model).
    pub fn function(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> Self {
        ToolCall {
            id: Some(id.into()),
            kind: Some(ToolType::Function),
            function: Some(FunctionCall {
                name: Some(name.into()),
                arguments: Some(arguments.into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// The call id, if present.
    pub fn call_id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The function name, if present.
    pub fn name(&self) -> Option<&str> {
        self.function.as_ref()?.name.as_deref()
    }

    /// The arguments (a JSON text), if present.
    pub fn arguments(&self) -> Option<&str> {
        self.function.as_ref()?.arguments.as_deref()
    }
}

wire_struct! {
    /// The function a tool call invokes (whole, or a stream fragment).
    @fast
    pub struct FunctionCall {
        /// The function's name (first fragment only, in a stream).
        pub name: Option<String>,
        /// The arguments as JSON text (a piece of it, in a stream).
        pub arguments: Option<String>,
    }
}

string_enum! {
    /// `tool_choice` as a string (every dialect).
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
    /// `{"name":…}`.
    pub struct FunctionName {
        /// The function's name.
        pub name: String,
    }
}

wire_struct! {
    /// A forced `tool_choice` (chat, native): `{"type":"function","function":{"name":…}}`.
    pub struct NamedToolChoice {
        /// The tool kind (`function`).
        pub kind: Option<ToolType> => "type",
        /// The function to call.
        pub function: Option<FunctionName>,
    }
}

/// `tool_choice` in chat and native: a mode string or a named function (Responses writes the
/// function flat and adds `allowed_tools`, see `responses::ToolChoice`).
#[derive(Clone, Debug, PartialEq)]
pub enum ToolChoice {
    /// `"auto"`, `"none"`, `"required"` (or a newer string).
    Mode(ToolChoiceMode),
    /// `{"type":"function","function":{"name":…}}`: call this function.
    Function(NamedToolChoice),
}

string_or!(
    ToolChoice,
    Mode,
    Function(NamedToolChoice),
    visit_map,
    MapAccess,
    MapAccessDeserializer,
    "a tool_choice string or object"
);

impl ToolChoice {
    tool_choice_modes!();

    /// `{"type":"function","function":{"name":…}}`.
    pub fn function(name: impl Into<String>) -> Self {
        ToolChoice::Function(NamedToolChoice {
            kind: Some(ToolType::Function),
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

/// `stop` (chat) and `parameters.stop` (native): a string, a list of strings, a token-id list,
/// or a list of token-id lists.
#[derive(Clone, Debug, PartialEq)]
pub enum Stop {
    /// One stop string.
    Text(String),
    /// Several stop strings (an empty list is read as this variant).
    Texts(Vec<String>),
    /// One token-id sequence (`[37763, 367]`).
    Tokens(Vec<i64>),
    /// Several token-id sequences (`[[37763, 367]]`).
    TokenSequences(Vec<Vec<i64>>),
    /// Any other shape, kept verbatim.
    Unknown(Value),
}

impl WireValue for Stop {}

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
        Stop::Texts(v)
    }
}

impl From<Vec<&str>> for Stop {
    fn from(v: Vec<&str>) -> Self {
        Stop::Texts(v.into_iter().map(str::to_owned).collect())
    }
}

impl From<Vec<Vec<i64>>> for Stop {
    fn from(v: Vec<Vec<i64>>) -> Self {
        Stop::TokenSequences(v)
    }
}

impl Serialize for Stop {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Stop::Text(t) => s.serialize_str(t),
            Stop::Texts(v) => v.serialize(s),
            Stop::Tokens(v) => v.serialize(s),
            Stop::TokenSequences(v) => v.serialize(s),
            Stop::Unknown(v) => v.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Stop {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        fn all<T>(items: &[Value], f: impl Fn(&Value) -> Option<T>) -> Option<Vec<T>> {
            items.iter().map(f).collect()
        }
        fn ints(v: &Value) -> Option<Vec<i64>> {
            all(v.as_array()?, Value::as_i64)
        }
        let v = Value::deserialize(d)?;
        Ok(match &v {
            Value::String(s) => Stop::Text(s.clone()),
            Value::Array(items) => {
                if let Some(t) = all(items, |i| i.as_str().map(str::to_owned)) {
                    Stop::Texts(t)
                } else if let Some(t) = all(items, Value::as_i64) {
                    Stop::Tokens(t)
                } else if let Some(t) = all(items, ints) {
                    Stop::TokenSequences(t)
                } else {
                    Stop::Unknown(v)
                }
            }
            _ => Stop::Unknown(v),
        })
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
    /// `{"type":"json_schema","json_schema":{…}}` (chat, native; Responses writes the schema
    /// flat, see `responses::TextFormatJsonSchema`).
    pub struct JsonSchemaFormat {
        /// The schema and its name.
        pub json_schema: JsonSchema,
    }
}

wire_struct! {
    /// The `json_schema` object.
    pub struct JsonSchema {
        /// The schema's name.
        pub name: Option<String>,
        /// What the schema is for.
        pub description: Option<String>,
        /// The JSON Schema.
        pub schema: Option<Value>,
        /// Strict adherence.
        pub strict: Option<bool>,
    }
}

tagged_enum! {
    /// `response_format` (chat) and `parameters.response_format` (native).
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
                name: Some(name.into()),
                schema: Some(schema),
                ..Default::default()
            },
            ..Default::default()
        })
    }
}

wire_struct! {
    /// `search_options` (web search; chat extension, native parameter).
    pub struct SearchOptions {
        /// Return the sources (native `output.search_info`; compat never returns them).
        pub enable_source: Option<bool>,
        /// Mark citations in the answer.
        pub enable_citation: Option<bool>,
        /// The citation format (`[<number>]`, `[ref_<number>]`).
        pub citation_format: Option<String>,
        /// Always search.
        pub forced_search: Option<bool>,
        /// How hard to search.
        pub search_strategy: Option<SearchStrategy>,
        /// Domain-specific search extensions.
        pub enable_search_extension: Option<bool>,
        /// Put the search results before the answer (streams).
        pub prepend_search_result: Option<bool>,
    }
}

string_enum! {
    /// `search_options.search_strategy`, and the strategy native usage reports.
    pub enum SearchStrategy {
        /// Fast, fewer sources (the current default).
        Turbo = "turbo",
        /// More sources.
        Max = "max",
        /// Agentic multi-round search.
        Agent = "agent",
        /// Agentic and thorough.
        AgentMax = "agent_max",
        /// Older name seen in recordings.
        Standard = "standard",
        /// Older name.
        Pro = "pro",
    }
}

wire_struct! {
    /// `cache_control: {"type":"ephemeral"}` (explicit context caching).
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

wire_struct! {
    /// `logprobs` of a chat or native choice.
    pub struct Logprobs {
        /// One entry per generated token.
        pub content: Option<Vec<TokenLogprob>>,
    }
}

wire_struct! {
    /// The log probability of one generated token (chat and native `logprobs.content[]`,
    /// Responses `logprobs[]`).
    @fast
    pub struct TokenLogprob {
        /// The token.
        pub token: Option<String>,
        /// Its log probability.
        pub logprob: Option<serde_json::Number>,
        /// Its UTF-8 bytes.
        pub bytes: Option<Vec<u8>>,
        /// The most likely alternatives.
        pub top_logprobs: Option<Vec<TopLogprob>>,
    }
}

wire_struct! {
    /// An alternative token.
    pub struct TopLogprob {
        /// The token.
        pub token: Option<String>,
        /// Its log probability.
        pub logprob: Option<serde_json::Number>,
        /// Its UTF-8 bytes.
        pub bytes: Option<Vec<u8>>,
    }
}

wire_struct! {
    /// A breakdown of input tokens: chat `usage.prompt_tokens_details`, native
    /// `usage.input_tokens_details` and `usage.prompt_tokens_details`, Responses
    /// `usage.input_tokens_details`. Each dialect sends some of these members.
    @fast
    pub struct InputTokensDetails {
        /// Tokens read from the context cache.
        pub cached_tokens: Option<u64>,
        /// Tokens newly written to an explicit or session cache.
        pub cache_creation_input_tokens: Option<u64>,
        /// Cache writes by lifetime (Responses).
        pub cache_creation: Option<CacheCreation>,
        /// The cache kind (`ephemeral`; Responses).
        pub cache_type: Option<String>,
        /// Text tokens.
        pub text_tokens: Option<u64>,
        /// Image tokens.
        pub image_tokens: Option<u64>,
        /// Audio tokens.
        pub audio_tokens: Option<u64>,
        /// Video tokens.
        pub video_tokens: Option<u64>,
    }
}

wire_struct! {
    /// Cache writes by lifetime.
    pub struct CacheCreation {
        /// Tokens cached for 5 minutes.
        pub ephemeral_5m_input_tokens: Option<u64>,
    }
}

wire_struct! {
    /// A breakdown of generated tokens: chat `usage.completion_tokens_details`, native and
    /// Responses `usage.output_tokens_details`.
    @fast
    pub struct OutputTokensDetails {
        /// Reasoning tokens.
        pub reasoning_tokens: Option<u64>,
        /// Text tokens.
        pub text_tokens: Option<u64>,
        /// Audio tokens.
        pub audio_tokens: Option<u64>,
    }
}

wire_struct! {
    /// Spoken output of an Omni or speech model: chat `choices[].delta.audio` (a piece of it)
    /// and `message.audio` (all of it), native `output.audio` ([protocol notes
    /// §2.6](crate::protocol_notes#26-omni-spoken-output-qwen-omni)).
    ///
    /// In a stream, `data` and `transcript` arrive in pieces that concatenate in arrival order;
    /// the accumulators and readers of this crate do that, keep the first `id` and the last
    /// `expires_at` and `url`. Memory: the base64 text of the whole audio (4/3 of its bytes);
    /// [`bytes`](Self::bytes) allocates the decoded audio once more.
    @fast
    pub struct Audio {
        /// The audio's id.
        pub id: Option<String>,
        /// The audio, base64 (a piece of it in a stream chunk); see [`Audio::bytes`].
        pub data: Option<String>,
        /// Unix seconds after which the service no longer keeps the audio.
        pub expires_at: Option<i64>,
        /// What the audio says (a piece of it in a stream chunk).
        pub transcript: Option<String>,
        /// Where the whole audio can be fetched (native, last chunk).
        pub url: Option<String>,
    }
}

/// Audio `data` that is not base64.
#[derive(Debug, thiserror::Error)]
#[error("the audio data is not valid base64: {0}")]
pub struct AudioDataError(String);

impl Audio {
    /// The audio bytes: `data` decoded from base64 (empty when there is none). Pieces that were
    /// padded one by one (`…=` inside the concatenated text) decode as well, each on its own.
    ///
    /// # Errors
    ///
    /// [`AudioDataError`] when `data` is not base64.
    pub fn bytes(&self) -> Result<Vec<u8>, AudioDataError> {
        use base64::Engine as _;
        let mut rest = self.data.as_deref().unwrap_or_default().as_bytes();
        let mut out = Vec::with_capacity(rest.len() / 4 * 3);
        while !rest.is_empty() {
            let end = rest
                .iter()
                .position(|&b| b == b'=')
                .map_or(rest.len(), |i| {
                    i + rest[i..].iter().take_while(|&&b| b == b'=').count()
                });
            let (piece, next) = rest.split_at(end);
            base64::engine::general_purpose::STANDARD
                .decode_vec(piece, &mut out)
                .map_err(|e| AudioDataError(e.to_string()))?;
            rest = next;
        }
        Ok(out)
    }

    /// Folds the next piece of a stream in: `data` and `transcript` appended, the first `id`,
    /// the last `expires_at` and `url`, unknown members merged (a `null` never replaces a
    /// value). Appending base64 text keeps the work linear; decode once at the end
    /// ([`bytes`](Self::bytes)).
    pub fn push(&mut self, piece: &Audio) {
        for (acc, more) in [
            (&mut self.data, &piece.data),
            (&mut self.transcript, &piece.transcript),
        ] {
            if let Some(more) = more {
                acc.get_or_insert_with(String::new).push_str(more);
            }
        }
        if self.id.as_deref().is_none_or(str::is_empty) && piece.id.is_some() {
            self.id.clone_from(&piece.id);
        }
        if piece.expires_at.is_some() {
            self.expires_at = piece.expires_at;
        }
        if piece.url.is_some() {
            self.url.clone_from(&piece.url);
        }
        crate::stream::merge_extra(&mut self.extra, &piece.extra, &[]);
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
    /// `audio`: spoken output options (Omni models; [protocol notes
    /// §2.6](crate::protocol_notes#26-omni-spoken-output-qwen-omni)).
    pub struct AudioOutput {
        /// The voice (`Cherry`, `Ethan`, …; which ones depends on the model).
        pub voice: Option<String>,
        /// The format (`wav`, the only documented one).
        pub format: Option<String>,
    }
}

impl AudioOutput {
    /// `{"voice": voice, "format": format}`.
    pub fn new(voice: impl Into<String>, format: impl Into<String>) -> Self {
        AudioOutput {
            voice: Some(voice.into()),
            format: Some(format.into()),
            ..Default::default()
        }
    }
}
