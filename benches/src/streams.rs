//! A [`Conversation`] rendered as each dialect's stream bytes.
//!
//! Every payload is built as the protocol crate's own type and serialized, then framed with
//! [`sse::Encoder`](dashscope_protocol::sse::Encoder), so the shapes are the ones the decoders
//! expect (explicit `null`s included, as DashScope sends them).

use dashscope_protocol::chat::{self, ChatChunk, ChunkChoice, Delta, ToolCallDelta, ToolType};
use dashscope_protocol::native::{self, GenerationResponse};
use dashscope_protocol::responses::{
    self, FunctionCallArgumentsDeltaEvent, FunctionCallArgumentsDoneEvent, ItemStatus,
    OutputContent, OutputItem, OutputItemAddedEvent, OutputItemDoneEvent, OutputMessage,
    OutputText, ReasoningItem, ReasoningTextDeltaEvent, ReasoningTextDoneEvent, Response,
    ResponseStatus, ResponseStreamEvent, SummaryPart, SummaryText,
};
use dashscope_protocol::sse::{Encoder, Mode};
use serde_json::Value;

use crate::script::Conversation;

/// The three wire dialects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// OpenAI-compatible Chat Completions.
    Compat,
    /// DashScope native generation.
    Native,
    /// OpenAI-compatible Responses.
    Responses,
}

impl Dialect {
    /// Every dialect, in report order.
    pub const ALL: [Dialect; 3] = [Dialect::Compat, Dialect::Native, Dialect::Responses];

    /// The name used in benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Compat => "compat",
            Dialect::Native => "native",
            Dialect::Responses => "responses",
        }
    }

    /// The SSE decoder mode the dialect's client uses.
    pub fn sse_mode(self) -> Mode {
        match self {
            Dialect::Native => Mode::DataLineIsEvent,
            Dialect::Compat | Dialect::Responses => Mode::Standard,
        }
    }
}

/// One stream's bytes and what they hold.
#[derive(Clone, Debug)]
pub struct StreamWorkload {
    /// The dialect.
    pub dialect: Dialect,
    /// The response body.
    pub bytes: Vec<u8>,
    /// SSE events with data (compat `[DONE]` included).
    pub events: usize,
}

impl StreamWorkload {
    /// The standard workload of a dialect ([`Conversation::standard`]).
    pub fn standard(dialect: Dialect) -> Self {
        Self::of(dialect, &Conversation::standard())
    }

    /// `conv` rendered in `dialect`.
    pub fn of(dialect: Dialect, conv: &Conversation) -> Self {
        match dialect {
            Dialect::Compat => compat(conv),
            Dialect::Native => native(conv),
            Dialect::Responses => responses(conv),
        }
    }
}

/// Serializes a wire type; all their keys are strings, so this cannot fail.
fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("wire types serialize to JSON")
}

/// Marks members as explicit `null`s, as the service sends them.
fn nulls(extra: &mut dashscope_protocol::wire::Extra, keys: &[&str]) {
    for k in keys {
        extra.insert((*k).to_owned(), Value::Null);
    }
}

/// The compat stream: thinking deltas (`content: null`), answer deltas
/// (`reasoning_content: null`), tool-call fragments (the first with id and name, the rest with
/// `"id": ""`), a finish chunk, a usage chunk and `data: [DONE]`.
pub fn compat(conv: &Conversation) -> StreamWorkload {
    let enc = Encoder::compat();
    let id = format!("{}{}", chat::ID_PREFIX, conv.request_id);
    let mut out = Vec::new();
    let mut events = 0;
    let mut push = |out: &mut Vec<u8>, choices: Vec<ChunkChoice>, usage: Option<chat::Usage>| {
        let mut chunk = ChatChunk {
            id: Some(id.clone()),
            object: Some("chat.completion.chunk".to_owned()),
            created: Some(conv.created),
            model: Some(conv.model.clone()),
            choices,
            usage: usage.map(Box::new),
            ..Default::default()
        };
        nulls(&mut chunk.extra, &["system_fingerprint"]);
        if chunk.usage.is_none() {
            nulls(&mut chunk.extra, &["usage"]);
        }
        enc.data(out, &json(&chunk));
        events += 1;
    };
    let choice = |delta: Delta, finish: Option<chat::FinishReason>| {
        let mut c = ChunkChoice {
            index: 0,
            delta,
            finish_reason: finish,
            ..Default::default()
        };
        if c.finish_reason.is_none() {
            nulls(&mut c.extra, &["finish_reason"]);
        }
        nulls(&mut c.extra, &["logprobs"]);
        c
    };

    for (i, r) in conv.reasoning.iter().enumerate() {
        let mut d = Delta {
            role: (i == 0).then_some(chat::Role::Assistant),
            reasoning_content: Some(r.clone()),
            ..Default::default()
        };
        nulls(&mut d.extra, &["content"]);
        push(&mut out, vec![choice(d, None)], None);
    }
    for a in &conv.answer {
        let mut d = Delta {
            content: Some(a.clone()),
            ..Default::default()
        };
        nulls(&mut d.extra, &["reasoning_content"]);
        push(&mut out, vec![choice(d, None)], None);
    }
    for (index, call) in (0u32..).zip(&conv.tool_calls) {
        let opening = std::iter::once((call.call_id.as_str(), Some(call.name.as_str()), ""));
        let rest = call.fragments.iter().map(|f| ("", None, f.as_str()));
        let closing = std::iter::once(("", None, ""));
        for (call_id, name, arguments) in opening.chain(rest).chain(closing) {
            let mut d = Delta {
                tool_calls: Some(vec![ToolCallDelta {
                    index: Some(index),
                    id: Some(call_id.to_owned()),
                    kind: Some(ToolType::Function),
                    function: Some(chat::FunctionCallDelta {
                        name: name.map(str::to_owned),
                        arguments: Some(arguments.to_owned()),
                        ..Default::default()
                    }),
                    ..Default::default()
                }]),
                ..Default::default()
            };
            nulls(&mut d.extra, &["content", "reasoning_content"]);
            push(&mut out, vec![choice(d, None)], None);
        }
    }
    let mut d = Delta {
        content: Some(String::new()),
        ..Default::default()
    };
    nulls(&mut d.extra, &["reasoning_content"]);
    let finish = if conv.tool_calls.is_empty() {
        chat::FinishReason::Stop
    } else {
        chat::FinishReason::ToolCalls
    };
    push(&mut out, vec![choice(d, Some(finish))], None);
    let output = conv.output_tokens();
    push(
        &mut out,
        Vec::new(),
        Some(chat::Usage {
            prompt_tokens: conv.input_tokens,
            completion_tokens: output,
            total_tokens: conv.input_tokens + output,
            prompt_tokens_details: Some(chat::PromptTokensDetails {
                text_tokens: Some(conv.input_tokens),
                ..Default::default()
            }),
            completion_tokens_details: Some(chat::CompletionTokensDetails {
                reasoning_tokens: Some(conv.reasoning_tokens()),
                text_tokens: Some(output),
                ..Default::default()
            }),
            ..Default::default()
        }),
    );
    enc.done(&mut out);
    events += 1;
    StreamWorkload {
        dialect: Dialect::Compat,
        bytes: out,
        events,
    }
}

/// The native stream (`result_format: message`, `incremental_output: true`): every event framed
/// `id:N` / `event:result` / `:HTTP_STATUS/200` / `data:`, `finish_reason` the string `"null"`
/// until the last chunk, usage cumulative in every chunk.
pub fn native(conv: &Conversation) -> StreamWorkload {
    let enc = Encoder::native();
    let mut out = Vec::new();
    let mut id = 0u64;
    let mut output_tokens = 0u64;
    let mut reasoning_tokens = 0u64;
    let mut push = |out: &mut Vec<u8>,
                    message: native::Message,
                    finish: native::FinishReason,
                    tokens: u64,
                    reasoning: bool| {
        id += 1;
        output_tokens += tokens;
        if reasoning {
            reasoning_tokens += tokens;
        }
        let chunk = GenerationResponse {
            output: Some(native::Output {
                choices: Some(vec![native::Choice {
                    message: Some(message),
                    finish_reason: Some(finish),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            usage: Some(native::Usage {
                total_tokens: Some(conv.input_tokens + output_tokens),
                output_tokens: Some(output_tokens),
                input_tokens: Some(conv.input_tokens),
                output_tokens_details: Some(native::OutputTokensDetails {
                    reasoning_tokens: Some(reasoning_tokens),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            request_id: Some(conv.request_id.clone()),
            ..Default::default()
        };
        enc.native_event(out, id, "result", 200, &json(&chunk));
    };
    let message = |content: &str, reasoning: &str, tool_calls: Option<Vec<native::ToolCall>>| {
        native::Message {
            role: Some(native::Role::Assistant),
            content: Some(native::Content::Text(content.to_owned())),
            reasoning_content: Some(reasoning.to_owned()),
            tool_calls,
            ..Default::default()
        }
    };

    for r in &conv.reasoning {
        push(
            &mut out,
            message("", r, None),
            native::FinishReason::Null,
            1,
            true,
        );
    }
    for a in &conv.answer {
        push(
            &mut out,
            message(a, "", None),
            native::FinishReason::Null,
            1,
            false,
        );
    }
    for (index, call) in (0u32..).zip(&conv.tool_calls) {
        let opening = std::iter::once((call.call_id.as_str(), Some(call.name.as_str()), ""));
        let rest = call.fragments.iter().map(|f| ("", None, f.as_str()));
        let closing = std::iter::once(("", None, ""));
        for (call_id, name, arguments) in opening.chain(rest).chain(closing) {
            let tc = native::ToolCall {
                index: Some(index),
                id: Some(call_id.to_owned()),
                kind: Some(native::ToolType::Function),
                function: Some(native::FunctionCall {
                    name: name.map(str::to_owned),
                    arguments: Some(arguments.to_owned()),
                    ..Default::default()
                }),
                ..Default::default()
            };
            push(
                &mut out,
                message("", "", Some(vec![tc])),
                native::FinishReason::Null,
                u64::from(!arguments.is_empty()),
                false,
            );
        }
    }
    let finish = if conv.tool_calls.is_empty() {
        native::FinishReason::Stop
    } else {
        native::FinishReason::ToolCalls
    };
    push(&mut out, message("", "", None), finish, 0, false);
    StreamWorkload {
        dialect: Dialect::Native,
        events: usize::try_from(id).expect("event count fits in usize"),
        bytes: out,
    }
}

/// Writes Responses events with consecutive `sequence_number`s.
struct ResponsesWriter {
    enc: Encoder,
    out: Vec<u8>,
    seq: u64,
}

impl ResponsesWriter {
    /// The next event's `sequence_number`.
    fn seq(&self) -> Option<u64> {
        Some(self.seq)
    }

    fn push(&mut self, event: &ResponseStreamEvent) {
        let name = event.type_name().unwrap_or("unknown");
        self.enc
            .native_event(&mut self.out, self.seq + 1, name, 200, &json(event));
        self.seq += 1;
    }
}

/// The Responses stream (native-style framing, `event:<type>`, `id` = `sequence_number + 1`):
/// `response.created`, `.in_progress`, a reasoning item (`reasoning_text.delta`s), a message
/// item (`content_part`, `output_text.delta`s and the done events), one `function_call` item
/// per tool call (`function_call_arguments.delta`s), `response.completed` with the whole
/// response and usage.
pub fn responses(conv: &Conversation) -> StreamWorkload {
    let mut w = ResponsesWriter {
        enc: Encoder::responses(),
        out: Vec::new(),
        seq: 0,
    };
    let mut ids = crate::text::Rng::new(conv.created.unsigned_abs());
    let envelope = |status: ResponseStatus| Response {
        id: format!("resp_{}", conv.request_id),
        object: Some("response".to_owned()),
        created_at: Some(conv.created.unsigned_abs()),
        model: Some(conv.model.clone()),
        status: Some(status),
        output: Some(Vec::new()),
        tools: Some(crate::payloads::responses_tools()),
        tool_choice: Some(responses::ToolChoice::Mode(responses::ToolChoiceMode::Auto)),
        parallel_tool_calls: Some(true),
        ..Default::default()
    };
    let mut output: Vec<OutputItem> = Vec::new();

    let ev = ResponseStreamEvent::Created(responses::ResponseCreatedEvent {
        response: envelope(ResponseStatus::Queued).into(),
        sequence_number: w.seq(),
        ..Default::default()
    });
    w.push(&ev);
    let ev = ResponseStreamEvent::InProgress(responses::ResponseInProgressEvent {
        response: envelope(ResponseStatus::InProgress).into(),
        sequence_number: w.seq(),
        ..Default::default()
    });
    w.push(&ev);

    // The reasoning item.
    let item_id = format!("msg_{}", ids.uuid());
    let index = 0;
    let skeleton = OutputItem::Reasoning(ReasoningItem {
        id: Some(item_id.clone()),
        ..Default::default()
    });
    w.push(&ResponseStreamEvent::OutputItemAdded(
        OutputItemAddedEvent {
            output_index: Some(index),
            item: Some(skeleton),
            sequence_number: w.seq(),
            ..Default::default()
        },
    ));
    for r in &conv.reasoning {
        let ev = ResponseStreamEvent::ReasoningTextDelta(ReasoningTextDeltaEvent {
            item_id: Some(item_id.clone()),
            output_index: Some(index),
            delta: r.clone(),
            sequence_number: w.seq(),
            ..Default::default()
        });
        w.push(&ev);
    }
    let thinking = conv.reasoning_text();
    let ev = ResponseStreamEvent::ReasoningTextDone(ReasoningTextDoneEvent {
        item_id: Some(item_id.clone()),
        output_index: Some(index),
        text: thinking.clone(),
        sequence_number: w.seq(),
        ..Default::default()
    });
    w.push(&ev);
    let item = OutputItem::Reasoning(ReasoningItem {
        id: Some(item_id),
        summary: vec![SummaryPart::SummaryText(SummaryText {
            text: thinking,
            ..Default::default()
        })],
        ..Default::default()
    });
    let ev = ResponseStreamEvent::OutputItemDone(OutputItemDoneEvent {
        output_index: Some(index),
        item: Some(item.clone()),
        sequence_number: w.seq(),
        ..Default::default()
    });
    w.push(&ev);
    output.push(item);

    // The message item.
    let item_id = format!("msg_{}", ids.uuid());
    let index = 1;
    let message = |status: ItemStatus, content: Vec<OutputContent>| {
        OutputItem::Message(OutputMessage {
            id: Some(item_id.clone()),
            role: Some(responses::Role::Assistant),
            status: Some(status),
            content,
            ..Default::default()
        })
    };
    let part = |text: String| {
        let mut t = OutputText {
            text,
            annotations: Some(Vec::new()),
            ..Default::default()
        };
        nulls(&mut t.extra, &["logprobs"]);
        OutputContent::OutputText(t)
    };
    let ev = ResponseStreamEvent::OutputItemAdded(OutputItemAddedEvent {
        output_index: Some(index),
        item: Some(message(ItemStatus::InProgress, Vec::new())),
        sequence_number: w.seq(),
        ..Default::default()
    });
    w.push(&ev);
    let ev = ResponseStreamEvent::ContentPartAdded(responses::ContentPartAddedEvent {
        item_id: Some(item_id.clone()),
        output_index: Some(index),
        content_index: Some(0),
        part: Some(part(String::new())),
        sequence_number: w.seq(),
        ..Default::default()
    });
    w.push(&ev);
    for a in &conv.answer {
        let ev = ResponseStreamEvent::OutputTextDelta(responses::OutputTextDeltaEvent {
            item_id: Some(item_id.clone()),
            output_index: Some(index),
            content_index: Some(0),
            delta: a.clone(),
            logprobs: Some(Vec::new()),
            sequence_number: w.seq(),
            ..Default::default()
        });
        w.push(&ev);
    }
    let answer = conv.answer_text();
    let ev = ResponseStreamEvent::OutputTextDone(responses::OutputTextDoneEvent {
        item_id: Some(item_id.clone()),
        output_index: Some(index),
        content_index: Some(0),
        text: answer.clone(),
        logprobs: Some(Vec::new()),
        sequence_number: w.seq(),
        ..Default::default()
    });
    w.push(&ev);
    let ev = ResponseStreamEvent::ContentPartDone(responses::ContentPartDoneEvent {
        item_id: Some(item_id.clone()),
        output_index: Some(index),
        content_index: Some(0),
        part: Some(part(answer.clone())),
        sequence_number: w.seq(),
        ..Default::default()
    });
    w.push(&ev);
    let item = message(ItemStatus::Completed, vec![part(answer)]);
    let ev = ResponseStreamEvent::OutputItemDone(OutputItemDoneEvent {
        output_index: Some(index),
        item: Some(item.clone()),
        sequence_number: w.seq(),
        ..Default::default()
    });
    w.push(&ev);
    output.push(item);

    // The function calls.
    for (index, call) in (2u32..).zip(&conv.tool_calls) {
        let item_id = format!("msg_{}", ids.uuid());
        let function = |arguments: String, status: ItemStatus| {
            OutputItem::FunctionCall(responses::FunctionCall {
                id: Some(item_id.clone()),
                call_id: call.call_id.clone(),
                name: call.name.clone(),
                arguments,
                status: Some(status),
                ..Default::default()
            })
        };
        let ev = ResponseStreamEvent::OutputItemAdded(OutputItemAddedEvent {
            output_index: Some(index),
            item: Some(function(String::new(), ItemStatus::InProgress)),
            sequence_number: w.seq(),
            ..Default::default()
        });
        w.push(&ev);
        for f in &call.fragments {
            let ev =
                ResponseStreamEvent::FunctionCallArgumentsDelta(FunctionCallArgumentsDeltaEvent {
                    item_id: Some(item_id.clone()),
                    output_index: Some(index),
                    delta: f.clone(),
                    sequence_number: w.seq(),
                    ..Default::default()
                });
            w.push(&ev);
        }
        let arguments = call.arguments();
        let ev = ResponseStreamEvent::FunctionCallArgumentsDone(FunctionCallArgumentsDoneEvent {
            item_id: Some(item_id.clone()),
            output_index: Some(index),
            arguments: arguments.clone(),
            sequence_number: w.seq(),
            ..Default::default()
        });
        w.push(&ev);
        let item = function(arguments, ItemStatus::Completed);
        let ev = ResponseStreamEvent::OutputItemDone(OutputItemDoneEvent {
            output_index: Some(index),
            item: Some(item.clone()),
            sequence_number: w.seq(),
            ..Default::default()
        });
        w.push(&ev);
        output.push(item);
    }

    let mut done = envelope(ResponseStatus::Completed);
    done.output = Some(output);
    done.usage = Some(crate::payloads::responses_usage(conv));
    done.completed_at = Some(conv.created.unsigned_abs() + 1);
    let ev = ResponseStreamEvent::Completed(responses::ResponseCompletedEvent {
        response: done.into(),
        sequence_number: w.seq(),
        ..Default::default()
    });
    w.push(&ev);
    StreamWorkload {
        dialect: Dialect::Responses,
        events: usize::try_from(w.seq).expect("event count fits in usize"),
        bytes: w.out,
    }
}
