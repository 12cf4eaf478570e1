//! The response object: [`Response`], its output items and its usage ([protocol notes §3.3](crate::protocol_notes#33-response-object-non-stream)).

use std::collections::BTreeMap;

use serde_json::Value;

use super::request::{Conversation, Input, Reasoning, TextConfig, Tool, ToolChoice};
use crate::common::{InputTokensDetails, OutputTokensDetails, Role, TokenLogprob as Logprob};
use crate::wire::Extra;

crate::wire_struct! {
    /// A response: the non-stream answer, and the `response` member of the stream's lifecycle
    /// events (`response.created` … `response.completed`).
    ///
    /// Lifecycle events may carry a partial object (no `output`, no `usage`, `model: ""`), so
    /// nearly every member is optional. Members the service fills in for OpenAI compatibility
    /// (`background`, `service_tier`, `truncation`, …) ride in `extra`.
    pub struct Response {
        /// The response id: a bare UUID (docs) or `resp_<uuid>` (seen in 2026).
        pub id: String,
        /// Always `"response"`.
        pub object: Option<String>,
        /// Creation time, Unix seconds.
        pub created_at: Option<u64>,
        /// Completion time, Unix seconds.
        pub completed_at: Option<u64>,
        /// The model that answered (`""` in early stream events).
        pub model: Option<String>,
        /// Where the response stands.
        pub status: Option<ResponseStatus>,
        /// The output items, in order.
        pub output: Option<Vec<OutputItem>>,
        /// What went wrong, when `status` is `failed` (`null` otherwise).
        pub error: Option<ResponseError>,
        /// Why the response is `incomplete`.
        pub incomplete_details: Option<IncompleteDetails>,
        /// Token usage.
        pub usage: Option<Usage>,
        /// The `instructions` of the request.
        pub instructions: Option<Input>,
        /// The tools of the request.
        pub tools: Option<Vec<Tool>>,
        /// The tool choice of the request.
        pub tool_choice: Option<ToolChoice>,
        /// Whether parallel tool calls were allowed.
        pub parallel_tool_calls: Option<bool>,
        /// The previous response this one continues.
        pub previous_response_id: Option<String>,
        /// The conversation this response belongs to.
        pub conversation: Option<Conversation>,
        /// Sampling temperature used.
        pub temperature: Option<serde_json::Number>,
        /// Nucleus sampling used.
        pub top_p: Option<serde_json::Number>,
        /// The output token limit.
        pub max_output_tokens: Option<u64>,
        /// The reasoning settings.
        pub reasoning: Option<Reasoning>,
        /// The text settings.
        pub text: Option<TextConfig>,
        /// Whether the response is stored.
        pub store: Option<bool>,
        /// The request's metadata.
        pub metadata: Option<Extra>,
    }
}

impl Response {
    /// The output items (empty when `output` is absent).
    pub fn output_items(&self) -> &[OutputItem] {
        self.output.as_deref().unwrap_or_default()
    }

    /// The answer: the text of every message item, concatenated in order.
    pub fn output_text(&self) -> String {
        let mut out = String::new();
        for item in self.output_items() {
            if let OutputItem::Message(m) = item {
                for part in &m.content {
                    if let Some(t) = part.text() {
                        out.push_str(t);
                    }
                }
            }
        }
        out
    }

    /// The thinking: the text of every reasoning item, concatenated in order. For each item
    /// this is its `content` text when it has any (OpenAI), else its `summary` text (DashScope
    /// keeps the thinking there).
    pub fn reasoning_text(&self) -> String {
        let mut out = String::new();
        for item in self.output_items() {
            if let OutputItem::Reasoning(r) = item {
                out.push_str(&r.text());
            }
        }
        out
    }

    /// The function calls the model asked for, in order.
    pub fn function_calls(&self) -> impl Iterator<Item = &FunctionCall> {
        self.output_items().iter().filter_map(|item| match item {
            OutputItem::FunctionCall(c) => Some(c),
            _ => None,
        })
    }
}

crate::string_enum! {
    /// A response's `status`.
    pub enum ResponseStatus {
        /// Finished normally.
        Completed = "completed",
        /// Failed; see `error`.
        Failed = "failed",
        /// Being generated.
        InProgress = "in_progress",
        /// Cancelled.
        Cancelled = "cancelled",
        /// Accepted, not started (the first stream event).
        Queued = "queued",
        /// Ended early (`max_output_tokens`); see `incomplete_details`.
        Incomplete = "incomplete",
    }
}

crate::string_enum! {
    /// An output item's `status`.
    pub enum ItemStatus {
        /// Being generated.
        InProgress = "in_progress",
        /// Done.
        Completed = "completed",
        /// Cut short.
        Incomplete = "incomplete",
        /// A search is running.
        Searching = "searching",
        /// Code is running.
        Interpreting = "interpreting",
        /// The call failed.
        Failed = "failed",
    }
}

crate::wire_struct! {
    /// A response's `error`.
    pub struct ResponseError {
        /// The error code.
        pub code: Option<String>,
        /// The message.
        pub message: Option<String>,
    }
}

crate::wire_struct! {
    /// A response's `incomplete_details`.
    pub struct IncompleteDetails {
        /// Why (`max_output_tokens`, `content_filter`).
        pub reason: Option<String>,
    }
}

crate::tagged_enum! {
    /// One item of a response's `output`.
    pub enum OutputItem {
        /// An assistant message.
        Message(OutputMessage) = "message",
        /// The model's thinking.
        Reasoning(ReasoningItem) = "reasoning",
        /// A call of a caller-implemented function.
        FunctionCall(FunctionCall) = "function_call",
        /// A call of a custom (free-form input) tool.
        CustomToolCall(CustomToolCall) = "custom_tool_call",
        /// A built-in web search.
        WebSearchCall(WebSearchCall) = "web_search_call",
        /// A built-in code interpreter run.
        CodeInterpreterCall(CodeInterpreterCall) = "code_interpreter_call",
        /// A built-in web page extraction.
        WebExtractorCall(WebExtractorCall) = "web_extractor_call",
        /// A built-in text-to-image search.
        WebSearchImageCall(WebSearchImageCall) = "web_search_image_call",
        /// A built-in image-to-image search.
        ImageSearchCall(ImageSearchCall) = "image_search_call",
        /// A call of a tool on an MCP server.
        McpCall(McpCall) = "mcp_call",
        /// A built-in knowledge-base search.
        FileSearchCall(FileSearchCall) = "file_search_call",
    }
}

/// `$body` with `$i` bound to the item of any known variant of `$item`; `$unknown` otherwise.
macro_rules! each_item {
    ($item:expr, $i:ident => $body:expr, $v:ident => $unknown:expr) => {
        match $item {
            OutputItem::Message($i) => $body,
            OutputItem::Reasoning($i) => $body,
            OutputItem::FunctionCall($i) => $body,
            OutputItem::CustomToolCall($i) => $body,
            OutputItem::WebSearchCall($i) => $body,
            OutputItem::CodeInterpreterCall($i) => $body,
            OutputItem::WebExtractorCall($i) => $body,
            OutputItem::WebSearchImageCall($i) => $body,
            OutputItem::ImageSearchCall($i) => $body,
            OutputItem::McpCall($i) => $body,
            OutputItem::FileSearchCall($i) => $body,
            OutputItem::Unknown($v) => $unknown,
        }
    };
}

impl OutputItem {
    /// The item id, if it has one.
    pub fn id(&self) -> Option<&str> {
        each_item!(self, i => i.id.as_deref(), v => v.get("id").and_then(Value::as_str))
    }

    /// Sets the item's status, where the item type has one (not for unknown items).
    pub fn set_status(&mut self, status: ItemStatus) {
        each_item!(self, i => i.status = Some(status), _v => {});
    }
}

crate::wire_struct! {
    /// A `message` output item.
    pub struct OutputMessage {
        /// The item id (`msg_<uuid>`).
        pub id: Option<String>,
        /// `assistant`.
        pub role: Option<Role>,
        /// `in_progress` while streaming, then `completed`.
        pub status: Option<ItemStatus>,
        /// The content parts.
        pub content: Vec<OutputContent>,
    }
}

impl OutputMessage {
    /// The message's text, all parts concatenated.
    pub fn text(&self) -> String {
        self.content
            .iter()
            .filter_map(OutputContent::text)
            .collect()
    }
}

crate::tagged_enum! {
    /// A part of a message's content.
    pub enum OutputContent {
        /// Answer text.
        OutputText(OutputText) = "output_text",
        /// A refusal.
        Refusal(Refusal) = "refusal",
        /// Plain `text` (seen in a documented `output_item.added` skeleton).
        Text(PlainText) = "text",
        /// Reasoning text (as a content part of a reasoning item, OpenAI style).
        ReasoningText(ReasoningText) = "reasoning_text",
    }
}

impl OutputContent {
    /// The text of a text-bearing part (`output_text`, `text`), else `None`.
    pub fn text(&self) -> Option<&str> {
        match self {
            OutputContent::OutputText(t) => Some(&t.text),
            OutputContent::Text(t) => Some(&t.text),
            _ => None,
        }
    }
}

crate::wire_struct! {
    /// `output_text` content.
    pub struct OutputText {
        /// The text.
        pub text: String,
        /// Citations and other annotations.
        pub annotations: Option<Vec<Annotation>>,
        /// Token log probabilities, when asked for.
        pub logprobs: Option<Vec<Logprob>>,
    }
}

impl OutputText {
    /// An `output_text` part with `text` and no annotations.
    pub fn new(text: impl Into<String>) -> Self {
        OutputText {
            text: text.into(),
            ..Default::default()
        }
    }
}

crate::wire_struct! {
    /// `refusal` content.
    pub struct Refusal {
        /// Why the model refused.
        pub refusal: String,
    }
}

crate::wire_struct! {
    /// Text content: plain `text`, and the same shape under the `summary_text` and `input_text`
    /// tags.
    pub struct PlainText {
        /// The text.
        pub text: String,
    }
}

crate::wire_struct! {
    /// `reasoning_text` content.
    pub struct ReasoningText {
        /// The thinking text.
        pub text: String,
    }
}

crate::tagged_enum! {
    /// An annotation on output text.
    pub enum Annotation {
        /// A web citation.
        UrlCitation(UrlCitation) = "url_citation",
        /// A file citation.
        FileCitation(FileCitation) = "file_citation",
    }
}

crate::wire_struct! {
    /// `url_citation` annotation.
    pub struct UrlCitation {
        /// The cited URL.
        pub url: Option<String>,
        /// The page title.
        pub title: Option<String>,
        /// Start of the cited span in the text (characters).
        pub start_index: Option<u64>,
        /// End of the cited span.
        pub end_index: Option<u64>,
    }
}

crate::wire_struct! {
    /// `file_citation` annotation.
    pub struct FileCitation {
        /// The file id.
        pub file_id: Option<String>,
        /// The file name.
        pub filename: Option<String>,
        /// Where in the text.
        pub index: Option<u64>,
    }
}

crate::wire_struct! {
    /// A `reasoning` item: the model's thinking.
    ///
    /// DashScope keeps the thinking text in `summary` (one `summary_text` part) and sends no
    /// `status`; OpenAI-style servers may also send `content` (`reasoning_text` parts).
    pub struct ReasoningItem {
        /// The item id (`msg_<uuid>` on DashScope).
        pub id: Option<String>,
        /// The summary (DashScope: the thinking itself).
        pub summary: Vec<SummaryPart>,
        /// The raw thinking, OpenAI style.
        pub content: Option<Vec<OutputContent>>,
        /// OpenAI's encrypted thinking.
        pub encrypted_content: Option<String>,
        /// The item status.
        pub status: Option<ItemStatus>,
    }
}

impl ReasoningItem {
    /// The thinking: the `content` text if there is any, else the `summary` text.
    pub fn text(&self) -> String {
        let content: String = self
            .content
            .iter()
            .flatten()
            .filter_map(|c| match c {
                OutputContent::ReasoningText(t) => Some(t.text.as_str()),
                other => other.text(),
            })
            .collect();
        if !content.is_empty() {
            return content;
        }
        self.summary
            .iter()
            .filter_map(|p| match p {
                SummaryPart::SummaryText(t) => Some(t.text.as_str()),
                SummaryPart::Unknown(_) => None,
            })
            .collect()
    }
}

crate::tagged_enum! {
    /// A part of a reasoning item's `summary`.
    pub enum SummaryPart {
        /// `summary_text`.
        SummaryText(SummaryText) = "summary_text",
    }
}

/// `summary_text` part.
pub type SummaryText = PlainText;

crate::wire_struct! {
    /// A `function_call` item: the model asks the caller to run a function (an output item
    /// with `call_id`; not the `function` of a chat or native tool call).
    pub struct FunctionCall {
        /// The item id.
        pub id: Option<String>,
        /// The id to answer with in `function_call_output`.
        pub call_id: String,
        /// The function name.
        pub name: String,
        /// The arguments, a JSON text.
        pub arguments: String,
        /// The item status.
        pub status: Option<ItemStatus>,
    }
}

impl FunctionCall {
    /// Parses `arguments` into `T`.
    ///
    /// # Errors
    ///
    /// The JSON error when `arguments` is not valid JSON of `T`'s shape.
    pub fn parse_arguments<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.arguments)
    }
}

crate::wire_struct! {
    /// A `custom_tool_call` item.
    pub struct CustomToolCall {
        /// The item id.
        pub id: Option<String>,
        /// The id to answer with.
        pub call_id: Option<String>,
        /// The tool name.
        pub name: Option<String>,
        /// The free-form input.
        pub input: String,
        /// The item status.
        pub status: Option<ItemStatus>,
    }
}

crate::wire_struct! {
    /// A `web_search_call` item.
    pub struct WebSearchCall {
        /// The item id.
        pub id: Option<String>,
        /// The item status.
        pub status: Option<ItemStatus>,
        /// What the search did.
        pub action: Option<WebSearchAction>,
    }
}

crate::tagged_enum! {
    /// A web search's `action`.
    pub enum WebSearchAction {
        /// A search.
        Search(SearchAction) = "search",
        /// Opening a page (OpenAI).
        OpenPage(OpenPageAction) = "open_page",
        /// Finding text in a page (OpenAI).
        Find(FindAction) = "find",
    }
}

crate::wire_struct! {
    /// `search` action.
    pub struct SearchAction {
        /// The query.
        pub query: Option<String>,
        /// The sources found.
        pub sources: Option<Vec<WebSearchSource>>,
    }
}

crate::wire_struct! {
    /// A source of a search: `{"type":"url","url"}`.
    pub struct WebSearchSource {
        /// The source kind (`url`).
        pub kind: Option<String> => "type",
        /// The URL.
        pub url: Option<String>,
    }
}

crate::wire_struct! {
    /// `open_page` action.
    pub struct OpenPageAction {
        /// The page.
        pub url: Option<String>,
    }
}

crate::wire_struct! {
    /// `find` action.
    pub struct FindAction {
        /// The page.
        pub url: Option<String>,
        /// What was looked for.
        pub pattern: Option<String>,
    }
}

crate::wire_struct! {
    /// A `code_interpreter_call` item.
    pub struct CodeInterpreterCall {
        /// The item id.
        pub id: Option<String>,
        /// The item status.
        pub status: Option<ItemStatus>,
        /// The code run.
        pub code: Option<String>,
        /// What the run produced.
        pub outputs: Option<Vec<CodeInterpreterOutput>>,
        /// The container it ran in.
        pub container_id: Option<String>,
    }
}

crate::tagged_enum! {
    /// One output of a code interpreter run.
    pub enum CodeInterpreterOutput {
        /// Console output.
        Logs(CodeInterpreterLogs) = "logs",
        /// An image.
        Image(CodeInterpreterImage) = "image",
    }
}

crate::wire_struct! {
    /// `logs` output.
    pub struct CodeInterpreterLogs {
        /// The text printed.
        pub logs: String,
    }
}

crate::wire_struct! {
    /// `image` output.
    pub struct CodeInterpreterImage {
        /// The image URL.
        pub url: Option<String>,
    }
}

crate::wire_struct! {
    /// A `web_extractor_call` item.
    pub struct WebExtractorCall {
        /// The item id.
        pub id: Option<String>,
        /// The item status.
        pub status: Option<ItemStatus>,
        /// What the extraction was for.
        pub goal: Option<String>,
        /// The pages read.
        pub urls: Option<Vec<String>>,
        /// What was extracted.
        pub output: Option<String>,
    }
}

/// Declares output items of built-in tools that share one shape: a call with JSON-text
/// `arguments` and `output`.
macro_rules! tool_call_items {
    ($($(#[$m:meta])* $name:ident),*) => {$(
        crate::wire_struct! {
            $(#[$m])*
            pub struct $name {
                /// The item id.
                pub id: Option<String>,
                /// The item status.
                pub status: Option<ItemStatus>,
                /// The tool name.
                pub name: Option<String>,
                /// The call arguments, a JSON text.
                pub arguments: Option<String>,
                /// The result, a JSON text.
                pub output: Option<String>,
            }
        }
    )*};
}

tool_call_items! {
    /// A `web_search_image_call` item.
    WebSearchImageCall,
    /// An `image_search_call` item.
    ImageSearchCall
}

crate::wire_struct! {
    /// An `mcp_call` item.
    pub struct McpCall {
        /// The item id.
        pub id: Option<String>,
        /// The item status.
        pub status: Option<ItemStatus>,
        /// The tool called.
        pub name: Option<String>,
        /// The server's label.
        pub server_label: Option<String>,
        /// The arguments, a JSON text.
        pub arguments: String,
        /// What the tool returned.
        pub output: Option<String>,
        /// The error, if the call failed.
        pub error: Option<Value>,
    }
}

crate::wire_struct! {
    /// A `file_search_call` item.
    pub struct FileSearchCall {
        /// The item id.
        pub id: Option<String>,
        /// The item status.
        pub status: Option<ItemStatus>,
        /// The queries run.
        pub queries: Option<Vec<String>>,
        /// What they found.
        pub results: Option<Vec<FileSearchResult>>,
    }
}

crate::wire_struct! {
    /// One hit of a knowledge-base search.
    pub struct FileSearchResult {
        /// The file id.
        pub file_id: Option<String>,
        /// The file name.
        pub filename: Option<String>,
        /// The relevance score.
        pub score: Option<serde_json::Number>,
        /// The matching text.
        pub text: Option<String>,
        /// File attributes.
        pub attributes: Option<Value>,
    }
}

crate::wire_struct! {
    /// Token usage of a response (counts always present, billing lines and tool runs; chat and
    /// native usage differ).
    pub struct Usage {
        /// Prompt tokens.
        pub input_tokens: u64,
        /// Generated tokens.
        pub output_tokens: u64,
        /// `input_tokens + output_tokens`.
        pub total_tokens: u64,
        /// Breakdown of the prompt tokens (cache).
        pub input_tokens_details: Option<InputTokensDetails>,
        /// Breakdown of the generated tokens.
        pub output_tokens_details: Option<OutputTokensDetails>,
        /// DashScope's per-billing-line breakdown.
        pub x_details: Option<Vec<UsageDetail>>,
        /// Built-in tool runs, by tool name (`{"web_search":{"count":1}}`).
        pub x_tools: Option<BTreeMap<String, ToolUsage>>,
    }
}

crate::wire_struct! {
    /// One billing line of `usage.x_details`.
    pub struct UsageDetail {
        /// Prompt tokens.
        pub input_tokens: Option<u64>,
        /// Generated tokens.
        pub output_tokens: Option<u64>,
        /// Total tokens.
        pub total_tokens: Option<u64>,
        /// The billing kind (`response_api`).
        pub x_billing_type: Option<String>,
        /// Image tokens.
        pub image_tokens: Option<u64>,
        /// Breakdown of the prompt tokens.
        pub input_tokens_details: Option<InputTokensDetails>,
        /// Chat-style breakdown of the prompt tokens (`cached_tokens`).
        pub prompt_tokens_details: Option<InputTokensDetails>,
        /// Breakdown of the generated tokens.
        pub output_tokens_details: Option<OutputTokensDetails>,
        /// Built-in tool runs, by tool name.
        pub plugins: Option<BTreeMap<String, ToolUsage>>,
    }
}

crate::wire_struct! {
    /// How often a built-in tool ran.
    pub struct ToolUsage {
        /// The number of runs.
        pub count: Option<u64>,
    }
}
