//! The request body: [`ResponseRequest`] and what it is made of ([protocol notes §3.2](crate::protocol_notes#32-request-body)).

use serde::de::{Deserialize, Deserializer, Error as _};
use serde::ser::{Serialize, SerializeMap as _, Serializer};
use serde_json::Value;

use super::response::{
    FunctionCall, ItemStatus, OutputContent, OutputItem, OutputText, ReasoningItem, WebSearchCall,
};
use crate::common::{
    JsonObjectFormat as TextFormatJsonObject, ReasoningEffort, Role, TextFormat as TextFormatText,
    ToolChoiceMode,
};
use crate::wire::{Extra, WireFields, string_or};

crate::wire_struct! {
    /// The body of `POST /compatible-mode/v1/responses` ("create a response").
    ///
    /// Only `model` and `input` are required. The service processes the documented members and
    /// silently ignores other OpenAI ones; anything not modelled here can be set through
    /// `extra` and is sent as is.
    ///
    /// ```
    /// use dashscope_protocol::responses::ResponseRequest;
    ///
    /// let req = ResponseRequest::new("qwen3.8-max", "你能做些什么？");
    /// assert_eq!(
    ///     serde_json::to_string(&req).unwrap(),
    ///     r#"{"model":"qwen3.8-max","input":"你能做些什么？"}"#
    /// );
    /// ```
    ///
    /// Every member has a setter of its name; [`tool`](Self::tool) appends a tool,
    /// [`reasoning_effort`](Self::reasoning_effort) sets `reasoning.effort` and
    /// [`metadata`](Self::metadata) adds one entry.
    @setters
    pub struct ResponseRequest {
        /// The model name, e.g. `qwen3.8-max`.
        pub model: String,
        /// The prompt: a string, or a list of items (messages, function calls and their
        /// outputs, echoed reasoning and tool items).
        pub input: Input,
        /// System text inserted before the input; not carried over by `previous_response_id`.
        pub instructions: Option<String>,
        /// Continue from an earlier response (ids are valid for 7 days); not with
        /// `conversation`.
        pub previous_response_id: Option<String>,
        /// A Conversations API conversation to read from and append to.
        pub conversation: Option<Conversation>,
        /// Stream the answer as server-sent events (default false).
        pub stream: Option<bool>,
        /// Keep the response for `previous_response_id` (default true).
        pub store: Option<bool>,
        /// Built-in tools and functions the model may call.
        pub tools: Option<Vec<Tool>>,
        /// How the model picks tools.
        pub tool_choice: Option<ToolChoice>,
        /// Whether several tool calls may come in one turn.
        pub parallel_tool_calls: Option<bool>,
        /// Sampling temperature, `[0, 2)`.
        pub temperature: Option<serde_json::Number>,
        /// Nucleus sampling, `(0, 1]`.
        pub top_p: Option<serde_json::Number>,
        /// DashScope extension: switch thinking on or off (being replaced by
        /// `reasoning.effort`).
        pub enable_thinking: Option<bool>,
        /// Reasoning settings.
        pub reasoning: Option<Reasoning>,
        /// The most tokens to generate (at least 16); reaching it ends with status `incomplete`.
        pub max_output_tokens: Option<u64>,
        /// Options for the OCR models (`qwen3.5-ocr`), passed through.
        pub ocr_options: Option<Value>,
        /// Key/value pairs stored with the response (its setter adds one entry).
        @manual pub metadata: Option<Extra>,
        /// Output text settings (`format`); OpenAI's shape, which DashScope may ignore.
        pub text: Option<TextConfig>,
    }
}

impl ResponseRequest {
    /// A request for `model` with `input` (a `&str`, a `String`, one [`InputItem`] or a list).
    pub fn new(model: impl Into<String>, input: impl Into<Input>) -> Self {
        ResponseRequest {
            model: model.into(),
            input: input.into(),
            ..Default::default()
        }
    }

    /// Appends one tool.
    pub fn tool(mut self, tool: impl Into<Tool>) -> Self {
        self.tools.get_or_insert_with(Vec::new).push(tool.into());
        self
    }

    /// Sets `reasoning.effort`, keeping other `reasoning` members.
    pub fn reasoning_effort(mut self, effort: ReasoningEffort) -> Self {
        self.reasoning.get_or_insert_with(Reasoning::default).effort = Some(effort);
        self
    }

    /// Sets one `metadata` entry.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata
            .get_or_insert_with(Extra::new)
            .insert(key.into(), Value::String(value.into()));
        self
    }
}

/// The `input` member: a plain prompt or a list of items (not the native `input`, an object
/// with `messages` or `prompt`).
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// A single user prompt.
    Text(String),
    /// Messages and other items, in conversation order.
    Items(Vec<InputItem>),
}

string_or!(
    Input,
    Text,
    Items(Vec<InputItem>),
    visit_seq,
    SeqAccess,
    SeqAccessDeserializer,
    "a string or a list of input items"
);

impl Default for Input {
    fn default() -> Self {
        Input::Text(String::new())
    }
}

impl From<InputItem> for Input {
    fn from(item: InputItem) -> Self {
        Input::Items(vec![item])
    }
}

impl Input {
    /// The items, treating a plain prompt as one user message.
    pub fn into_items(self) -> Vec<InputItem> {
        match self {
            Input::Text(t) => vec![InputItem::user(t)],
            Input::Items(items) => items,
        }
    }
}

/// A `conversation` reference: an id, or an object holding one (not the unified
/// `Conversation`, a whole conversation).
#[derive(Clone, Debug, PartialEq)]
pub enum Conversation {
    /// The conversation id.
    Id(String),
    /// `{"id": …}`.
    Object(ConversationRef),
}

string_or!(
    Conversation,
    Id,
    Object(ConversationRef),
    visit_map,
    MapAccess,
    MapAccessDeserializer,
    "a conversation id or an object with an id"
);

crate::wire_struct! {
    /// `{"id": …}` form of a conversation reference.
    pub struct ConversationRef {
        /// The conversation id.
        pub id: Option<String>,
    }
}

/// One item of a list `input`.
///
/// A message may come with or without `"type":"message"`; both are [`InputItem::Message`]
/// (the message remembers which in [`InputMessage::kind`]). Every other item is told apart by
/// its `type`; an unknown one is kept verbatim in [`InputItem::Unknown`].
#[derive(Clone, Debug, PartialEq)]
pub enum InputItem {
    /// A message (`EasyInputMessage`, or the echo of an earlier output message).
    Message(InputMessage),
    /// `function_call`: the echo of a call the model made.
    FunctionCall(FunctionCall),
    /// `function_call_output`: the result of a call, right after it.
    FunctionCallOutput(FunctionCallOutput),
    /// `reasoning`: the echo of a reasoning item.
    Reasoning(ReasoningItem),
    /// `web_search_call`: the echo of a web search.
    WebSearchCall(WebSearchCall),
    /// An item whose `type` this version does not know, kept verbatim.
    Unknown(Value),
}

impl InputItem {
    /// A user message with text content.
    pub fn user(text: impl Into<String>) -> Self {
        InputItem::Message(InputMessage::new(Role::User, text.into()))
    }

    /// A system message with text content.
    pub fn system(text: impl Into<String>) -> Self {
        InputItem::Message(InputMessage::new(Role::System, text.into()))
    }

    /// A developer message with text content.
    pub fn developer(text: impl Into<String>) -> Self {
        InputItem::Message(InputMessage::new(Role::Developer, text.into()))
    }

    /// An assistant message with text content (a previous answer).
    pub fn assistant(text: impl Into<String>) -> Self {
        InputItem::Message(InputMessage::new(Role::Assistant, text.into()))
    }

    /// A message of `role` with content parts.
    pub fn message(role: Role, parts: Vec<ContentPart>) -> Self {
        InputItem::Message(InputMessage::new(role, parts))
    }

    /// The echo of a function call (`call_id`, `name`, JSON `arguments`).
    pub fn function_call(
        call_id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> Self {
        InputItem::FunctionCall(FunctionCall {
            call_id: call_id.into(),
            name: name.into(),
            arguments: arguments.into(),
            ..Default::default()
        })
    }

    /// The output of the function call `call_id`.
    pub fn function_call_output(call_id: impl Into<String>, output: impl Into<String>) -> Self {
        InputItem::FunctionCallOutput(FunctionCallOutput {
            call_id: call_id.into(),
            output: output.into(),
            ..Default::default()
        })
    }

    /// The `type` tag as on the wire (`None` for a message without one, or an untagged unknown).
    pub fn type_name(&self) -> Option<&str> {
        match self {
            InputItem::Message(m) => m.kind.as_deref(),
            InputItem::FunctionCall(_) => Some("function_call"),
            InputItem::FunctionCallOutput(_) => Some("function_call_output"),
            InputItem::Reasoning(_) => Some("reasoning"),
            InputItem::WebSearchCall(_) => Some("web_search_call"),
            InputItem::Unknown(v) => v.get("type").and_then(Value::as_str),
        }
    }
}

impl From<InputMessage> for InputItem {
    fn from(m: InputMessage) -> Self {
        InputItem::Message(m)
    }
}

impl From<FunctionCallOutput> for InputItem {
    fn from(o: FunctionCallOutput) -> Self {
        InputItem::FunctionCallOutput(o)
    }
}

/// Turns an output item of an earlier response into the input item that echoes it (for
/// multi-turn calls without `previous_response_id`). Items with no input form are kept as JSON.
impl From<OutputItem> for InputItem {
    fn from(item: OutputItem) -> Self {
        match item {
            OutputItem::Message(m) => InputItem::Message({
                let nulls: Vec<&'static str> = m.explicit_nulls().collect();
                let mut input = InputMessage {
                    kind: Some("message".to_owned()),
                    role: m.role.unwrap_or(Role::Assistant),
                    content: MessageContent::Parts(
                        m.content
                            .into_iter()
                            .map(|c| match c {
                                OutputContent::OutputText(t) => ContentPart::OutputText(t),
                                other => ContentPart::Unknown(
                                    serde_json::to_value(&other).unwrap_or_default(),
                                ),
                            })
                            .collect(),
                    ),
                    id: m.id,
                    status: m.status,
                    extra: m.extra,
                    nulls: Default::default(),
                };
                for name in nulls {
                    input.set_explicit_null(name, true);
                }
                input
            }),
            OutputItem::FunctionCall(c) => InputItem::FunctionCall(c),
            OutputItem::Reasoning(r) => InputItem::Reasoning(r),
            OutputItem::WebSearchCall(w) => InputItem::WebSearchCall(w),
            other => InputItem::Unknown(serde_json::to_value(&other).unwrap_or_default()),
        }
    }
}

fn serialize_tagged<S: Serializer, T: WireFields>(
    s: S,
    tag: &str,
    inner: &T,
) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(None)?;
    map.serialize_entry("type", tag)?;
    inner.serialize_fields(&mut map)?;
    map.end()
}

impl Serialize for InputItem {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            InputItem::Message(m) => m.serialize(s),
            InputItem::FunctionCall(c) => serialize_tagged(s, "function_call", c),
            InputItem::FunctionCallOutput(o) => serialize_tagged(s, "function_call_output", o),
            InputItem::Reasoning(r) => serialize_tagged(s, "reasoning", r),
            InputItem::WebSearchCall(w) => serialize_tagged(s, "web_search_call", w),
            InputItem::Unknown(v) => v.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for InputItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut value = Value::deserialize(d)?;
        let Value::Object(map) = &mut value else {
            return Err(D::Error::custom("expected a JSON object (InputItem)"));
        };
        let tag = match map.get("type") {
            Some(Value::String(t)) => Some(t.clone()),
            _ => None,
        };
        fn typed<T: serde::de::DeserializeOwned, E: serde::de::Error>(
            mut value: Value,
        ) -> Result<T, E> {
            if let Value::Object(map) = &mut value {
                map.remove("type");
            }
            serde_json::from_value(value).map_err(E::custom)
        }
        match tag.as_deref() {
            Some("message") => serde_json::from_value(value)
                .map(InputItem::Message)
                .map_err(D::Error::custom),
            None if map.contains_key("role") => serde_json::from_value(value)
                .map(InputItem::Message)
                .map_err(D::Error::custom),
            Some("function_call") => typed(value).map(InputItem::FunctionCall),
            Some("function_call_output") => typed(value).map(InputItem::FunctionCallOutput),
            Some("reasoning") => typed(value).map(InputItem::Reasoning),
            Some("web_search_call") => typed(value).map(InputItem::WebSearchCall),
            _ => Ok(InputItem::Unknown(value)),
        }
    }
}

crate::wire_struct! {
    /// A message in `input`: `{"role", "content", "type"?: "message"}`.
    pub struct InputMessage {
        /// `"message"` when the item carried an explicit `type` (optional on the wire).
        pub kind: Option<String> => "type",
        /// Who wrote it.
        pub role: Role,
        /// A string or a list of parts.
        pub content: MessageContent,
        /// The item id, when echoing an earlier output message.
        pub id: Option<String>,
        /// The item status, when echoing an earlier output message.
        pub status: Option<ItemStatus>,
    }
}

impl InputMessage {
    /// A message of `role` with `content` (a string or a list of parts).
    pub fn new(role: Role, content: impl Into<MessageContent>) -> Self {
        InputMessage {
            role,
            content: content.into(),
            ..Default::default()
        }
    }
}

/// A message's `content`: a string or a list of parts (`input_text`, `input_image`, …; chat's
/// parts are `text`, `image_url`, …).
#[derive(Clone, Debug, PartialEq)]
pub enum MessageContent {
    /// Plain text.
    Text(String),
    /// Text, images, files, audio, video (or `output_text` in an assistant echo).
    Parts(Vec<ContentPart>),
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

impl Default for MessageContent {
    fn default() -> Self {
        MessageContent::Text(String::new())
    }
}

crate::tagged_enum! {
    /// One part of a message's content list (Responses part types; chat's differ).
    pub enum ContentPart {
        /// `input_text`.
        InputText(InputText) = "input_text",
        /// `input_image`: a URL or a data URI.
        InputImage(InputImage) = "input_image",
        /// `input_file` (OCR models).
        InputFile(InputFile) = "input_file",
        /// `input_audio` (Omni models).
        InputAudio(InputAudio) = "input_audio",
        /// `input_video` (Omni models).
        InputVideo(InputVideo) = "input_video",
        /// `output_text`: text of an earlier assistant answer.
        OutputText(OutputText) = "output_text",
    }
}

impl ContentPart {
    /// An `input_text` part.
    pub fn text(text: impl Into<String>) -> Self {
        ContentPart::InputText(InputText {
            text: text.into(),
            ..Default::default()
        })
    }

    /// An `input_image` part from a URL or a data URI.
    pub fn image_url(url: impl Into<String>) -> Self {
        ContentPart::InputImage(InputImage {
            image_url: Some(url.into()),
            ..Default::default()
        })
    }

    /// An `input_file` part from a URL.
    pub fn file_url(url: impl Into<String>) -> Self {
        ContentPart::InputFile(InputFile {
            file_url: Some(url.into()),
            ..Default::default()
        })
    }

    /// An `input_audio` part from a URL and its format (`mp3`, `wav`, …).
    pub fn audio_url(url: impl Into<String>, format: impl Into<String>) -> Self {
        ContentPart::InputAudio(InputAudio {
            audio_url: Some(url.into()),
            format: Some(format.into()),
            ..Default::default()
        })
    }

    /// An `input_video` part from a URL.
    pub fn video_url(url: impl Into<String>) -> Self {
        ContentPart::InputVideo(InputVideo {
            video_url: Some(url.into()),
            ..Default::default()
        })
    }
}

/// `input_text` content.
pub type InputText = super::response::PlainText;

crate::wire_struct! {
    /// `input_image` content.
    pub struct InputImage {
        /// An `http(s)` URL or a `data:` URI.
        pub image_url: Option<String>,
        /// OpenAI's detail hint (`low`, `high`, `auto`).
        pub detail: Option<String>,
        /// An uploaded file id.
        pub file_id: Option<String>,
    }
}

crate::wire_struct! {
    /// `input_file` content.
    pub struct InputFile {
        /// The file URL.
        pub file_url: Option<String>,
        /// An uploaded file id.
        pub file_id: Option<String>,
        /// The file name.
        pub filename: Option<String>,
        /// Inline file data (a data URI).
        pub file_data: Option<String>,
    }
}

crate::wire_struct! {
    /// `input_audio` content (flat in the part; chat nests `{"data","format"}` under
    /// `input_audio`).
    pub struct InputAudio {
        /// The audio format (`mp3`, `wav`, …).
        pub format: Option<String>,
        /// The audio URL.
        pub audio_url: Option<String>,
        /// Inline audio (base64 or a data URI).
        pub data: Option<String>,
    }
}

crate::wire_struct! {
    /// `input_video` content.
    pub struct InputVideo {
        /// The video URL.
        pub video_url: Option<String>,
        /// Frames per second to sample, kept as sent (`2` stays an integer, `0.5` a decimal).
        pub fps: Option<serde_json::Number>,
    }
}

crate::wire_struct! {
    /// `function_call_output`: what a function returned.
    pub struct FunctionCallOutput {
        /// The `call_id` of the call answered.
        pub call_id: String,
        /// The result, as text (often JSON).
        pub output: String,
        /// The item id, if any.
        pub id: Option<String>,
        /// The item status, if any.
        pub status: Option<String>,
    }
}

crate::tagged_enum! {
    /// A tool the model may use: a built-in or a function (a flat [`FunctionTool`]; chat and
    /// native nest the function under `function` and have no built-ins).
    pub enum Tool {
        /// A function the caller implements.
        Function(FunctionTool) = "function",
        /// Built-in web search.
        WebSearch(WebSearchTool) = "web_search",
        /// Built-in web page extraction (needs `web_search`).
        WebExtractor(WebExtractorTool) = "web_extractor",
        /// Built-in code interpreter.
        CodeInterpreter(CodeInterpreterTool) = "code_interpreter",
        /// Built-in text-to-image search.
        WebSearchImage(WebSearchImageTool) = "web_search_image",
        /// Built-in image-to-image search.
        ImageSearch(ImageSearchTool) = "image_search",
        /// Built-in search over a knowledge base.
        FileSearch(FileSearchTool) = "file_search",
        /// A remote MCP server.
        Mcp(McpTool) = "mcp",
    }
}

impl Tool {
    /// A function tool (Responses style: flat, not nested under `function`).
    pub fn function(
        name: impl Into<String>,
        description: impl Into<String>,
        parameters: Value,
    ) -> Self {
        Tool::Function(FunctionTool {
            name: name.into(),
            description: Some(description.into()),
            parameters: Some(parameters),
            ..Default::default()
        })
    }

    /// The built-in `code_interpreter`.
    pub fn code_interpreter() -> Self {
        Tool::CodeInterpreter(CodeInterpreterTool::default())
    }

    /// The built-in `file_search` over one knowledge base.
    pub fn file_search(vector_store_id: impl Into<String>) -> Self {
        Tool::FileSearch(FileSearchTool {
            vector_store_ids: vec![vector_store_id.into()],
            ..Default::default()
        })
    }

    /// A remote MCP server.
    pub fn mcp(server_label: impl Into<String>, server_url: impl Into<String>) -> Self {
        Tool::Mcp(McpTool {
            server_label: Some(server_label.into()),
            server_url: Some(server_url.into()),
            ..Default::default()
        })
    }
}

crate::wire_struct! {
    /// A `function` tool, flat: `{"type":"function","name",…}` (chat and native nest it under
    /// `function`).
    pub struct FunctionTool {
        /// The function name.
        pub name: String,
        /// What it does, for the model.
        pub description: Option<String>,
        /// A JSON Schema of its arguments.
        pub parameters: Option<Value>,
        /// OpenAI's strict schema adherence.
        pub strict: Option<bool>,
    }
}

/// Declares built-in tools that have no settings, each with its constructor on [`Tool`].
macro_rules! builtin_tools {
    ($($variant:ident($ty:ident) => $ctor:ident = $wire:literal),*) => {
        $(crate::wire_struct! {
            #[doc = concat!("The built-in `", $wire, "` tool.")]
            pub struct $ty {}
        })*

        impl Tool {
            $(
                #[doc = concat!("The built-in `", $wire, "`.")]
                pub fn $ctor() -> Self {
                    Tool::$variant($ty::default())
                }
            )*
        }
    };
}

builtin_tools! {
    WebSearch(WebSearchTool) => web_search = "web_search",
    WebExtractor(WebExtractorTool) => web_extractor = "web_extractor",
    WebSearchImage(WebSearchImageTool) => web_search_image = "web_search_image",
    ImageSearch(ImageSearchTool) => image_search = "image_search"
}

crate::wire_struct! {
    /// The built-in `code_interpreter` tool.
    pub struct CodeInterpreterTool {
        /// OpenAI's container setting (a container id or `{"type":"auto"}`).
        pub container: Option<Value>,
    }
}

crate::wire_struct! {
    /// The built-in `file_search` tool.
    pub struct FileSearchTool {
        /// The knowledge base ids (DashScope takes one).
        pub vector_store_ids: Vec<String>,
    }
}

crate::wire_struct! {
    /// An `mcp` tool.
    pub struct McpTool {
        /// The transport protocol (e.g. `sse`).
        pub server_protocol: Option<String>,
        /// A label naming the server in calls.
        pub server_label: Option<String>,
        /// The server URL.
        pub server_url: Option<String>,
        /// What the server offers, for the model.
        pub server_description: Option<String>,
        /// Headers sent to the server.
        pub headers: Option<Extra>,
        /// OpenAI's filter of allowed tools.
        pub allowed_tools: Option<Value>,
        /// OpenAI's approval policy.
        pub require_approval: Option<Value>,
    }
}

/// `tool_choice`: a mode string or an object (a flat `{"type":"function","name"}` or
/// `allowed_tools`; chat and native nest the name under `function`).
#[derive(Clone, Debug, PartialEq)]
pub enum ToolChoice {
    /// `"auto"`, `"none"` or `"required"`.
    Mode(ToolChoiceMode),
    /// `allowed_tools`, a forced function, or an unknown object.
    Object(ToolChoiceObject),
}

string_or!(
    ToolChoice,
    Mode,
    Object(ToolChoiceObject),
    visit_map,
    MapAccess,
    MapAccessDeserializer,
    "a tool choice mode or a tool choice object"
);

impl ToolChoice {
    crate::common::tool_choice_modes!();

    /// Force the function `name`.
    pub fn function(name: impl Into<String>) -> Self {
        ToolChoice::Object(ToolChoiceObject::Function(FunctionChoice {
            name: name.into(),
            ..Default::default()
        }))
    }

    /// Restrict the model to `tools` (each `{type, name}` given as a [`Tool`]).
    pub fn allowed_tools(mode: ToolChoiceMode, tools: Vec<Tool>) -> Self {
        ToolChoice::Object(ToolChoiceObject::AllowedTools(AllowedTools {
            mode: Some(mode),
            tools,
            ..Default::default()
        }))
    }
}

impl Default for ToolChoice {
    fn default() -> Self {
        ToolChoice::auto()
    }
}

impl From<ToolChoiceMode> for ToolChoice {
    fn from(m: ToolChoiceMode) -> Self {
        ToolChoice::Mode(m)
    }
}

crate::tagged_enum! {
    /// An object `tool_choice`.
    pub enum ToolChoiceObject {
        /// `{"type":"allowed_tools","mode","tools":[{type,name}]}`.
        AllowedTools(AllowedTools) = "allowed_tools",
        /// `{"type":"function","name"}`: call this function.
        Function(FunctionChoice) = "function",
    }
}

crate::wire_struct! {
    /// `allowed_tools` tool choice.
    pub struct AllowedTools {
        /// `auto` or `required`.
        pub mode: Option<ToolChoiceMode>,
        /// The tools allowed, as `{type, name}` objects.
        pub tools: Vec<Tool>,
    }
}

crate::wire_struct! {
    /// A forced function call.
    pub struct FunctionChoice {
        /// The function name.
        pub name: String,
    }
}

crate::wire_struct! {
    /// `reasoning` settings.
    pub struct Reasoning {
        /// How hard to think; mapped per model.
        pub effort: Option<ReasoningEffort>,
        /// OpenAI's summary setting (`auto`, `concise`, `detailed`).
        pub summary: Option<String>,
    }
}

crate::wire_struct! {
    /// `text` settings (OpenAI's structured-output switch).
    pub struct TextConfig {
        /// The output format.
        pub format: Option<TextFormat>,
        /// OpenAI's verbosity hint (`low`, `medium`, `high`).
        pub verbosity: Option<String>,
    }
}

crate::tagged_enum! {
    /// `text.format` (the schema flat in the object; chat and native nest it under
    /// `json_schema`).
    pub enum TextFormat {
        /// Free text.
        Text(TextFormatText) = "text",
        /// Any JSON object.
        JsonObject(TextFormatJsonObject) = "json_object",
        /// JSON matching a schema.
        JsonSchema(TextFormatJsonSchema) = "json_schema",
    }
}

crate::wire_struct! {
    /// `{"type":"json_schema","name","schema","strict"?,"description"?}` format.
    pub struct TextFormatJsonSchema {
        /// The schema's name.
        pub name: Option<String>,
        /// The JSON Schema.
        pub schema: Option<Value>,
        /// Strict adherence.
        pub strict: Option<bool>,
        /// What the output is, for the model.
        pub description: Option<String>,
    }
}
