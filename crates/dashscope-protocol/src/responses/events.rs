//! Stream events: [`ResponseStreamEvent`] and one payload type per event ([protocol notes §3.4](crate::protocol_notes#34-streaming-events)).
//!
//! Every payload has `type` (the enum tag) and `sequence_number` (from 0; documented examples
//! sometimes leave it out, so it is optional). Item events carry `item_id` and `output_index`,
//! content events add `content_index`.

use serde_json::Value;

use super::response::{Annotation, OutputContent, OutputItem, Response, SummaryPart};
use crate::common::TokenLogprob as Logprob;
use crate::wire::Extra;

/// Declares payload structs that carry a whole [`Response`].
macro_rules! lifecycle_events {
    ($( $(#[$m:meta])* $name:ident ),* $(,)?) => {
        $(
            crate::wire_struct! {
                $(#[$m])*
                pub struct $name {
                    /// The response as it stands (boxed: it is by far the largest payload).
                    pub response: Box<Response>,
                    /// The event's position in the stream (from 0).
                    pub sequence_number: Option<u64>,
                }
            }
        )*
    };
}

/// Declares payload structs about one output item (`item_id`, `output_index`, more fields).
macro_rules! item_events {
    ($( $(#[$m:meta])* $(@$opt:ident)* $name:ident { $( $(#[$fm:meta])* $field:ident : $ty:ty ),* $(,)? } )*) => {
        $(
            crate::wire_struct! {
                $(#[$m])*
                $(@$opt)*
                pub struct $name {
                    /// The id of the item concerned.
                    pub item_id: Option<String>,
                    /// The item's position in `output`.
                    pub output_index: Option<u32>,
                    $( $(#[$fm])* pub $field: $ty, )*
                    /// The event's position in the stream (from 0).
                    pub sequence_number: Option<u64>,
                }
            }
        )*
    };
}

lifecycle_events! {
    /// `response.created`: the response exists (status `queued`, no output yet).
    ResponseCreatedEvent,
    /// `response.queued`: waiting to start.
    ResponseQueuedEvent,
    /// `response.in_progress`: generation started.
    ResponseInProgressEvent,
    /// `response.completed`: the full response, with `usage`. Ends the stream.
    ResponseCompletedEvent,
    /// `response.incomplete`: ended early (e.g. `max_output_tokens`). Ends the stream.
    ResponseIncompleteEvent,
    /// `response.failed`: the response failed; see its `error`. Ends the stream.
    ResponseFailedEvent,
}

crate::wire_struct! {
    /// `error`: the service reported an error inside the stream.
    pub struct ErrorEvent {
        /// The error code.
        pub code: Option<String>,
        /// The message.
        pub message: Option<String>,
        /// The offending parameter.
        pub param: Option<String>,
        /// The event's position in the stream (from 0).
        pub sequence_number: Option<u64>,
    }
}

crate::wire_struct! {
    /// `response.output_item.added`: a new output item (a skeleton: empty content or summary,
    /// status `in_progress`).
    pub struct OutputItemAddedEvent {
        /// The item's position in `output`.
        pub output_index: Option<u32>,
        /// The item.
        pub item: Option<OutputItem>,
        /// The event's position in the stream (from 0).
        pub sequence_number: Option<u64>,
    }
}

crate::wire_struct! {
    /// `response.output_item.done`: an output item is complete (the full item).
    pub struct OutputItemDoneEvent {
        /// The item's position in `output`.
        pub output_index: Option<u32>,
        /// The item.
        pub item: Option<OutputItem>,
        /// The event's position in the stream (from 0).
        pub sequence_number: Option<u64>,
    }
}

item_events! {
    /// `response.content_part.added`: a new content part (empty `output_text`).
    ContentPartAddedEvent {
        /// The part's position in the item's `content`.
        content_index: Option<u32>,
        /// The part.
        part: Option<OutputContent>,
    }
    /// `response.content_part.done`: a content part is complete (the full part).
    ContentPartDoneEvent {
        /// The part's position in the item's `content`.
        content_index: Option<u32>,
        /// The part.
        part: Option<OutputContent>,
    }
    /// `response.output_text.delta`: more answer text.
    @fast
    OutputTextDeltaEvent {
        /// The part's position in the item's `content`.
        content_index: Option<u32>,
        /// The new text.
        delta: String,
        /// Log probabilities of the new tokens.
        logprobs: Option<Vec<Logprob>>,
    }
    /// `response.output_text.done`: a text part is complete.
    @fast
    OutputTextDoneEvent {
        /// The part's position in the item's `content`.
        content_index: Option<u32>,
        /// The whole text.
        text: String,
        /// Log probabilities.
        logprobs: Option<Vec<Logprob>>,
    }
    /// `response.output_text.annotation.added`: an annotation (e.g. a citation) on a text part.
    OutputTextAnnotationAddedEvent {
        /// The part's position in the item's `content`.
        content_index: Option<u32>,
        /// The annotation's position in the part's `annotations`.
        annotation_index: Option<u32>,
        /// The annotation.
        annotation: Option<Annotation>,
    }
    /// `response.refusal.delta`: more refusal text.
    RefusalDeltaEvent {
        /// The part's position in the item's `content`.
        content_index: Option<u32>,
        /// The new text.
        delta: String,
    }
    /// `response.refusal.done`: a refusal is complete.
    RefusalDoneEvent {
        /// The part's position in the item's `content`.
        content_index: Option<u32>,
        /// The whole refusal.
        refusal: String,
    }
    /// `response.reasoning_text.delta` (DashScope's name): more thinking text.
    @fast
    ReasoningTextDeltaEvent {
        /// The part's position (OpenAI: in the item's `content`).
        content_index: Option<u32>,
        /// The new text.
        delta: String,
    }
    /// `response.reasoning_text.done`: the thinking text is complete.
    @fast
    ReasoningTextDoneEvent {
        /// The part's position (OpenAI: in the item's `content`).
        content_index: Option<u32>,
        /// The whole text.
        text: String,
    }
    /// `response.reasoning_summary_part.added` (OpenAI's name): a new summary part.
    ReasoningSummaryPartAddedEvent {
        /// The part's position in the item's `summary`.
        summary_index: Option<u32>,
        /// The part.
        part: Option<SummaryPart>,
    }
    /// `response.reasoning_summary_part.done`: a summary part is complete.
    ReasoningSummaryPartDoneEvent {
        /// The part's position in the item's `summary`.
        summary_index: Option<u32>,
        /// The part.
        part: Option<SummaryPart>,
    }
    /// `response.reasoning_summary_text.delta` (OpenAI's name): more summary text.
    @fast
    ReasoningSummaryTextDeltaEvent {
        /// The part's position in the item's `summary`.
        summary_index: Option<u32>,
        /// The new text.
        delta: String,
    }
    /// `response.reasoning_summary_text.done`: a summary text is complete.
    @fast
    ReasoningSummaryTextDoneEvent {
        /// The part's position in the item's `summary`.
        summary_index: Option<u32>,
        /// The whole text.
        text: String,
    }
    /// `response.function_call_arguments.delta`: more function arguments.
    @fast
    FunctionCallArgumentsDeltaEvent {
        /// The new JSON text.
        delta: String,
    }
    /// `response.function_call_arguments.done`: the arguments are complete.
    @fast
    FunctionCallArgumentsDoneEvent {
        /// The whole arguments JSON text.
        arguments: String,
        /// The function name (OpenAI sends it here too).
        name: Option<String>,
    }
    /// `response.custom_tool_call_input.delta`: more custom tool input.
    CustomToolCallInputDeltaEvent {
        /// The new input text.
        delta: String,
    }
    /// `response.custom_tool_call_input.done`: the custom tool input is complete.
    CustomToolCallInputDoneEvent {
        /// The whole input.
        input: String,
    }
    /// `response.web_search_call.in_progress`.
    WebSearchCallInProgressEvent {}
    /// `response.web_search_call.searching`.
    WebSearchCallSearchingEvent {}
    /// `response.web_search_call.completed`.
    WebSearchCallCompletedEvent {}
    /// `response.code_interpreter_call.in_progress`.
    CodeInterpreterCallInProgressEvent {}
    /// `response.code_interpreter_call.interpreting`.
    CodeInterpreterCallInterpretingEvent {}
    /// `response.code_interpreter_call.completed`.
    CodeInterpreterCallCompletedEvent {}
    /// `response.code_interpreter_call_code.delta`: more code.
    CodeInterpreterCallCodeDeltaEvent {
        /// The new code text.
        delta: String,
    }
    /// `response.code_interpreter_call_code.done`: the code is complete.
    CodeInterpreterCallCodeDoneEvent {
        /// The whole code.
        code: String,
    }
    /// `response.file_search_call.in_progress`.
    FileSearchCallInProgressEvent {}
    /// `response.file_search_call.searching`.
    FileSearchCallSearchingEvent {}
    /// `response.file_search_call.completed`.
    FileSearchCallCompletedEvent {}
    /// `response.mcp_call_arguments.delta`: more MCP call arguments.
    McpCallArgumentsDeltaEvent {
        /// The new JSON text.
        delta: String,
    }
    /// `response.mcp_call_arguments.done`: the MCP call arguments are complete.
    McpCallArgumentsDoneEvent {
        /// The whole arguments JSON text.
        arguments: String,
    }
    /// `response.mcp_call.in_progress`.
    McpCallInProgressEvent {}
    /// `response.mcp_call.completed`.
    McpCallCompletedEvent {}
    /// `response.mcp_call.failed`.
    McpCallFailedEvent {}
}

/// Declares [`ResponseStreamEvent`] and its per-variant accessors.
macro_rules! stream_events {
    ($( $(#[$m:meta])* $(@$fast:ident)? $variant:ident($inner:ident) = $wire:literal ),* $(,)?) => {
        crate::tagged_enum! {
            /// One event of a Responses stream, told apart by its `type`.
            ///
            /// Both namings of the thinking events are modelled: DashScope's
            /// `response.reasoning_text.*` and OpenAI's `response.reasoning_summary_*`
            /// ([protocol notes §3.4](crate::protocol_notes#34-streaming-events) marks which one the service sends as uncertain). An event type
            /// this version does not know becomes [`ResponseStreamEvent::Unknown`].
            pub enum ResponseStreamEvent {
                $( #[doc = concat!("`", $wire, "`.")] $(#[$m])* $variant($inner) = $wire, )*
            }
        }

        impl ResponseStreamEvent {
            /// The event's `sequence_number`, if it has one.
            pub fn sequence_number(&self) -> Option<u64> {
                match self {
                    $( ResponseStreamEvent::$variant(e) => e.sequence_number, )*
                    ResponseStreamEvent::Unknown(v) => {
                        v.get("sequence_number").and_then(Value::as_u64)
                    }
                }
            }

            /// The event of type `tag` read by the fast path, for the hot events (marked
            /// `@fast`); `None` for any other type, or to give up (see `fast.rs`).
            pub(crate) fn read_fast(
                tag: &str,
                p: &mut crate::fast::Parser<'_>,
                tagged: &mut bool,
            ) -> Option<Self> {
                match tag {
                    $($( $wire => {
                        let _ = stringify!($fast);
                        Some(ResponseStreamEvent::$variant(super::fast::event(p, $wire, tagged)?))
                    } )?)*
                    _ => None,
                }
            }
        }
    };
}

stream_events! {
    Created(ResponseCreatedEvent) = "response.created",
    Queued(ResponseQueuedEvent) = "response.queued",
    InProgress(ResponseInProgressEvent) = "response.in_progress",
    /// Terminal.
    Completed(ResponseCompletedEvent) = "response.completed",
    /// Terminal.
    Incomplete(ResponseIncompleteEvent) = "response.incomplete",
    /// Terminal; the stream decoder reports it as an error.
    Failed(ResponseFailedEvent) = "response.failed",
    /// The stream decoder reports it as an error.
    Error(ErrorEvent) = "error",
    OutputItemAdded(OutputItemAddedEvent) = "response.output_item.added",
    OutputItemDone(OutputItemDoneEvent) = "response.output_item.done",
    ContentPartAdded(ContentPartAddedEvent) = "response.content_part.added",
    ContentPartDone(ContentPartDoneEvent) = "response.content_part.done",
    @fast OutputTextDelta(OutputTextDeltaEvent) = "response.output_text.delta",
    @fast OutputTextDone(OutputTextDoneEvent) = "response.output_text.done",
    OutputTextAnnotationAdded(OutputTextAnnotationAddedEvent) = "response.output_text.annotation.added",
    RefusalDelta(RefusalDeltaEvent) = "response.refusal.delta",
    RefusalDone(RefusalDoneEvent) = "response.refusal.done",
    @fast ReasoningTextDelta(ReasoningTextDeltaEvent) = "response.reasoning_text.delta",
    @fast ReasoningTextDone(ReasoningTextDoneEvent) = "response.reasoning_text.done",
    ReasoningSummaryPartAdded(ReasoningSummaryPartAddedEvent) = "response.reasoning_summary_part.added",
    ReasoningSummaryPartDone(ReasoningSummaryPartDoneEvent) = "response.reasoning_summary_part.done",
    @fast ReasoningSummaryTextDelta(ReasoningSummaryTextDeltaEvent) = "response.reasoning_summary_text.delta",
    @fast ReasoningSummaryTextDone(ReasoningSummaryTextDoneEvent) = "response.reasoning_summary_text.done",
    @fast FunctionCallArgumentsDelta(FunctionCallArgumentsDeltaEvent) = "response.function_call_arguments.delta",
    @fast FunctionCallArgumentsDone(FunctionCallArgumentsDoneEvent) = "response.function_call_arguments.done",
    CustomToolCallInputDelta(CustomToolCallInputDeltaEvent) = "response.custom_tool_call_input.delta",
    CustomToolCallInputDone(CustomToolCallInputDoneEvent) = "response.custom_tool_call_input.done",
    WebSearchCallInProgress(WebSearchCallInProgressEvent) = "response.web_search_call.in_progress",
    WebSearchCallSearching(WebSearchCallSearchingEvent) = "response.web_search_call.searching",
    WebSearchCallCompleted(WebSearchCallCompletedEvent) = "response.web_search_call.completed",
    CodeInterpreterCallInProgress(CodeInterpreterCallInProgressEvent) = "response.code_interpreter_call.in_progress",
    CodeInterpreterCallInterpreting(CodeInterpreterCallInterpretingEvent) = "response.code_interpreter_call.interpreting",
    CodeInterpreterCallCompleted(CodeInterpreterCallCompletedEvent) = "response.code_interpreter_call.completed",
    CodeInterpreterCallCodeDelta(CodeInterpreterCallCodeDeltaEvent) = "response.code_interpreter_call_code.delta",
    CodeInterpreterCallCodeDone(CodeInterpreterCallCodeDoneEvent) = "response.code_interpreter_call_code.done",
    FileSearchCallInProgress(FileSearchCallInProgressEvent) = "response.file_search_call.in_progress",
    FileSearchCallSearching(FileSearchCallSearchingEvent) = "response.file_search_call.searching",
    FileSearchCallCompleted(FileSearchCallCompletedEvent) = "response.file_search_call.completed",
    McpCallArgumentsDelta(McpCallArgumentsDeltaEvent) = "response.mcp_call_arguments.delta",
    McpCallArgumentsDone(McpCallArgumentsDoneEvent) = "response.mcp_call_arguments.done",
    McpCallInProgress(McpCallInProgressEvent) = "response.mcp_call.in_progress",
    McpCallCompleted(McpCallCompletedEvent) = "response.mcp_call.completed",
    McpCallFailed(McpCallFailedEvent) = "response.mcp_call.failed",
}

impl ResponseStreamEvent {
    /// Whether this event ends the stream (`response.completed`, `.incomplete`, `.failed`).
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            ResponseStreamEvent::Completed(_)
                | ResponseStreamEvent::Incomplete(_)
                | ResponseStreamEvent::Failed(_)
        )
    }

    /// The response carried by a lifecycle event (`created` … `failed`).
    pub fn response(&self) -> Option<&Response> {
        self.lifecycle().map(|(r, _)| r)
    }

    /// A lifecycle event's response and the event's own unknown members.
    pub(crate) fn lifecycle(&self) -> Option<(&Response, &Extra)> {
        match self {
            ResponseStreamEvent::Created(e) => Some((&e.response, &e.extra)),
            ResponseStreamEvent::Queued(e) => Some((&e.response, &e.extra)),
            ResponseStreamEvent::InProgress(e) => Some((&e.response, &e.extra)),
            ResponseStreamEvent::Completed(e) => Some((&e.response, &e.extra)),
            ResponseStreamEvent::Incomplete(e) => Some((&e.response, &e.extra)),
            ResponseStreamEvent::Failed(e) => Some((&e.response, &e.extra)),
            _ => None,
        }
    }
}
