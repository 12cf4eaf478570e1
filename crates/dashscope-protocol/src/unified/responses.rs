//! Responses ⇄ unified: [`ResponseRequest`] both ways, [`Response`] and
//! [`ResponseStreamEvent`] streams read.

use super::chat::{kept_or_default, mode_of, mode_str};
use super::events::UnifiedEvent;
use super::model::{
    AudioPart, Candidate, Conversation, DialectValue, FinishReason, FunctionTool, ImageDetail,
    ImagePart, JsonSchemaFormat, Message, Part, ResponseFormat, Role, Sampling, Thinking, Tool,
    ToolCall, ToolChoice, UnifiedResponse, Usage, VideoPart, VideoSource, string_form, text_parts,
};
use super::{ConvertError, float, keep, own, set_float, set_list, unsupported};
use crate::cassette::Dialect;
use crate::responses::{
    self, ContentPart, Input, InputItem, InputMessage, MessageContent, OutputItem, OutputText,
    Reasoning, ReasoningItem, Response, ResponseRequest, ResponseStatus, ResponseStreamEvent,
    SummaryPart, SummaryText, TextConfig, TextFormat,
};
use crate::stream::{find_or_push, index_of};

const D: Dialect = Dialect::Responses;

impl Conversation {
    /// The conversation of a Responses request (lossless: [`to_responses`](Self::to_responses)
    /// gives the same request back).
    ///
    /// `instructions` becomes a leading system message; `input` items become messages:
    /// `function_call` items join the assistant turn they belong to (with its `reasoning` item
    /// and message item), `function_call_output` items become tool messages, and items the
    /// unified model does not know are kept with the next message (or, at the end, with the
    /// conversation).
    pub fn from_responses(request: &ResponseRequest) -> Self {
        let effort = request.reasoning.as_ref().and_then(|r| r.effort.as_ref());
        let mut c = Conversation {
            model: request.model.clone(),
            messages: messages_of(request.instructions.as_deref(), &request.input),
            tools: request
                .tools
                .iter()
                .flatten()
                .map(tool_from_responses)
                .collect(),
            tool_choice: request.tool_choice.as_ref().and_then(choice_of),
            parallel_tool_calls: request.parallel_tool_calls,
            sampling: Sampling {
                temperature: float(&request.temperature),
                top_p: float(&request.top_p),
                max_tokens: request.max_output_tokens,
                ..Default::default()
            },
            thinking: Thinking {
                enabled: request.enable_thinking,
                effort: effort.cloned(),
                budget: None,
            },
            response_format: format_of(request.text.as_ref()),
            stream: request.stream,
            ..Default::default()
        };
        c.kept = keep(request, c.to_responses(), DialectValue::Responses);
        c
    }

    /// The Responses request of this conversation: a leading plain system message becomes
    /// `instructions`, a single plain user message a string `input`, the rest input items.
    /// `include_usage` is not written (Responses streams always carry the usage).
    ///
    /// # Errors
    ///
    /// [`ConvertError::Unsupported`] for what Responses cannot carry: `top_k`, `seed`, `stop`,
    /// `n`, `presence_penalty`, `repetition_penalty`, `max_completion_tokens`, a thinking
    /// budget, partial mode, message names, video frame lists, image and video pixel hints,
    /// tool results that are not one text, parts or tools of another dialect.
    pub fn to_responses(&self) -> Result<ResponseRequest, ConvertError> {
        let s = &self.sampling;
        let unsupported_sampling = [
            (s.top_k.is_some(), "top_k"),
            (s.seed.is_some(), "seed"),
            (s.stop.is_some(), "stop sequences"),
            (s.n.is_some(), "n"),
            (s.presence_penalty.is_some(), "presence_penalty"),
            (s.repetition_penalty.is_some(), "repetition_penalty"),
            (s.max_completion_tokens.is_some(), "max_completion_tokens"),
            (self.thinking.budget.is_some(), "a thinking budget"),
        ];
        if let Some((_, what)) = unsupported_sampling.iter().find(|(set, _)| *set) {
            return Err(unsupported(D, *what));
        }
        let kept = self.kept.as_deref().and_then(DialectValue::responses);
        let mut w = kept.cloned().unwrap_or_default();
        w.model.clone_from(&self.model);
        if messages_of(w.instructions.as_deref(), &w.input) != self.messages {
            // Items the unified model does not know, after the last message, stay at the end.
            let mut trailing = match &w.input {
                Input::Items(items) => items
                    .iter()
                    .rev()
                    .take_while(|i| unknown(i))
                    .cloned()
                    .collect(),
                Input::Text(_) => Vec::new(),
            };
            trailing.reverse();
            let mut rest = self.messages.as_slice();
            w.instructions = None;
            if let Some(first) = rest.first().filter(|m| m.role == Role::System && plain(m)) {
                w.instructions = Some(first.joined_text());
                rest = &rest[1..];
            }
            w.input = match rest {
                [m] if m.role == Role::User && plain(m) && trailing.is_empty() => {
                    Input::Text(m.joined_text())
                }
                _ => {
                    let mut items = Vec::new();
                    for m in rest {
                        items.extend(message_to_items(m)?);
                    }
                    items.extend(trailing);
                    Input::Items(items)
                }
            };
        }
        set_list(&mut w.tools, &self.tools, tool_to_responses)?;
        if w.tool_choice.as_ref().and_then(choice_of) != self.tool_choice {
            w.tool_choice = self.tool_choice.as_ref().map(|c| match c {
                ToolChoice::Function(name) => responses::ToolChoice::function(name),
                mode => responses::ToolChoice::Mode(mode_str(mode).into()),
            });
        }
        w.parallel_tool_calls = self.parallel_tool_calls;
        set_float(&mut w.temperature, s.temperature);
        set_float(&mut w.top_p, s.top_p);
        w.max_output_tokens = s.max_tokens;
        w.enable_thinking = self.thinking.enabled;
        if w.reasoning.as_ref().and_then(|r| r.effort.as_ref()) != self.thinking.effort.as_ref() {
            let r = w.reasoning.get_or_insert_with(Reasoning::default);
            r.effort.clone_from(&self.thinking.effort);
            if *r == Reasoning::default() {
                w.reasoning = None;
            }
        }
        if format_of(w.text.as_ref()) != self.response_format {
            let t = w.text.get_or_insert_with(TextConfig::default);
            t.format = self.response_format.as_ref().map(format_to_responses);
            if *t == TextConfig::default() {
                w.text = None;
            }
        }
        w.stream = self.stream;
        Ok(w)
    }
}

/// Whether a message can be written as a plain string (`instructions`, `input`).
fn plain(m: &Message) -> bool {
    string_form(&m.parts, D).is_some()
        && m.reasoning.is_none()
        && m.tool_calls.is_empty()
        && m.tool_call_id.is_none()
        && m.name.is_none()
        && !m.partial
        && m.kept.as_ref().is_none_or(|k| k.dialect() != D)
}

/// An input item the unified model does not read (kept with the message after it).
fn unknown(item: &InputItem) -> bool {
    matches!(item, InputItem::Unknown(_) | InputItem::WebSearchCall(_))
}

fn messages_of(instructions: Option<&str>, input: &Input) -> Vec<Message> {
    let mut out: Vec<Message> = instructions.map(Message::system).into_iter().collect();
    match input {
        Input::Text(t) => out.push(Message::user(t.clone())),
        Input::Items(items) => read_items(items, &mut out),
    }
    out
}

/// Reads input items into messages. An assistant turn is its `reasoning` item, its message
/// item and its `function_call` items, in that order; each message keeps the items it was read
/// from (with the unknown items before it). Unknown items after the last message are not read.
fn read_items(items: &[InputItem], out: &mut Vec<Message>) {
    // The first item not given to a message yet, and the assistant turn being read (with
    // whether it has its message item).
    let mut from = 0;
    let mut turn: Option<(Message, bool)> = None;
    for (i, item) in items.iter().enumerate() {
        let one = match item {
            InputItem::Message(m) if m.role == responses::Role::Assistant => {
                if turn
                    .as_ref()
                    .is_some_and(|(t, item)| *item || !t.tool_calls.is_empty())
                {
                    close(&mut turn, items, &mut from, i, out);
                }
                let (t, has_item) = turn.get_or_insert_with(|| (Message::assistant(""), false));
                t.parts = parts_of(&m.content, &Role::Assistant);
                *has_item = true;
                continue;
            }
            InputItem::FunctionCall(c) => {
                let (t, _) = turn.get_or_insert_with(|| (Message::assistant(""), false));
                t.tool_calls.push(call_from_responses(c));
                continue;
            }
            InputItem::Reasoning(r) => {
                close(&mut turn, items, &mut from, i, out);
                let m = Message {
                    reasoning: Some(r.text()),
                    ..Message::assistant("")
                };
                turn = Some((m, false));
                continue;
            }
            InputItem::Message(m) => {
                let role = Role::from(m.role.as_str());
                Message {
                    parts: parts_of(&m.content, &role),
                    role,
                    ..Default::default()
                }
            }
            InputItem::FunctionCallOutput(o) => Message::tool_result(&o.call_id, &o.output),
            InputItem::WebSearchCall(_) | InputItem::Unknown(_) => {
                close(&mut turn, items, &mut from, i, out);
                continue;
            }
        };
        close(&mut turn, items, &mut from, i, out);
        push(one, items, &mut from, i + 1, out);
    }
    close(&mut turn, items, &mut from, items.len(), out);
}

/// Ends the assistant turn being read at item `end`.
fn close(
    turn: &mut Option<(Message, bool)>,
    items: &[InputItem],
    from: &mut usize,
    end: usize,
    out: &mut Vec<Message>,
) {
    if let Some((m, _)) = turn.take() {
        push(m, items, from, end, out);
    }
}

/// Adds a message read from the items from `from` to `end`.
fn push(mut m: Message, items: &[InputItem], from: &mut usize, end: usize, out: &mut Vec<Message>) {
    let wire = items[*from..end].to_vec();
    m.kept = keep(&wire, message_to_items(&m), DialectValue::Responses);
    out.push(m);
    *from = end;
}

/// The input items of a message: the kept ones when they still read as it, else written from
/// the pieces kept (unknown items before it, its reasoning and message items) and the model.
fn message_to_items(m: &Message) -> Result<Vec<InputItem>, ConvertError> {
    if m.partial {
        return Err(unsupported(D, "partial mode"));
    }
    if m.name.is_some() {
        return Err(unsupported(D, "a message name"));
    }
    let kept = m.kept.as_deref().and_then(DialectValue::responses);
    if let Some(k) = kept {
        let mut again = Vec::new();
        read_items(k, &mut again);
        if again.len() == 1 && again[0] == *m {
            return Ok(k.clone());
        }
    }
    let kept = kept.map_or(&[][..], Vec::as_slice);
    let mut items: Vec<InputItem> = kept.iter().filter(|i| unknown(i)).cloned().collect();
    let message = kept.iter().find_map(|i| match i {
        InputItem::Message(m) => Some(m),
        _ => None,
    });
    match m.role {
        Role::Assistant => {
            if m.tool_call_id.is_some() {
                return Err(unsupported(D, "a tool call id on an assistant message"));
            }
            if let Some(r) = &m.reasoning {
                let same = kept.iter().find_map(|i| match i {
                    InputItem::Reasoning(k) if k.text() == *r => Some(k.clone()),
                    _ => None,
                });
                items.push(InputItem::Reasoning(same.unwrap_or_else(|| {
                    ReasoningItem {
                        summary: vec![SummaryPart::SummaryText(SummaryText {
                            text: r.clone(),
                            ..Default::default()
                        })],
                        ..Default::default()
                    }
                })));
            }
            if !m.parts.is_empty()
                || message.is_some()
                || (m.tool_calls.is_empty() && m.reasoning.is_none())
            {
                items.push(InputItem::Message(message_item(m, message)?));
            }
            items.extend(
                m.tool_calls
                    .iter()
                    .map(|t| InputItem::FunctionCall(call_to_responses(t))),
            );
        }
        Role::Tool => {
            let Some(call_id) = &m.tool_call_id else {
                return Err(unsupported(D, "a tool result without a call id"));
            };
            if m.reasoning.is_some() || !m.tool_calls.is_empty() {
                return Err(unsupported(D, "reasoning or tool calls on a tool message"));
            }
            let output = match m.parts.as_slice() {
                [] => "",
                [Part::Text(t)] if t.kept.as_ref().is_none_or(|k| k.dialect() != D) => &t.text,
                _ => return Err(unsupported(D, "a tool result that is not one text")),
            };
            let mut o = (kept.iter())
                .find_map(|i| match i {
                    InputItem::FunctionCallOutput(o) => Some(o.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            o.call_id.clone_from(call_id);
            output.clone_into(&mut o.output);
            items.push(InputItem::FunctionCallOutput(o));
        }
        _ => {
            if m.reasoning.is_some() || !m.tool_calls.is_empty() || m.tool_call_id.is_some() {
                return Err(unsupported(
                    D,
                    "reasoning, tool calls or a call id on a non-assistant message",
                ));
            }
            items.push(InputItem::Message(message_item(m, message)?));
        }
    }
    Ok(items)
}

fn message_item(m: &Message, kept: Option<&InputMessage>) -> Result<InputMessage, ConvertError> {
    let mut w = kept.cloned().unwrap_or_default();
    w.role = m.role.as_str().into();
    if parts_of(&w.content, &m.role) != m.parts {
        w.content = match string_form(&m.parts, D) {
            Some(s) => MessageContent::Text(s.to_owned()),
            None => MessageContent::Parts(
                (m.parts.iter().map(|p| part_to_responses(p, &m.role)))
                    .collect::<Result<_, _>>()?,
            ),
        };
    }
    Ok(w)
}

fn parts_of(c: &MessageContent, role: &Role) -> Vec<Part> {
    match c {
        MessageContent::Text(t) => text_parts(t.clone()),
        MessageContent::Parts(p) => p.iter().map(|p| part_from_responses(p, role)).collect(),
    }
}

fn part_from_responses(p: &ContentPart, role: &Role) -> Part {
    let mut part = match p {
        ContentPart::InputText(t) => Part::text(t.text.clone()),
        ContentPart::OutputText(t) => Part::text(t.text.clone()),
        ContentPart::InputImage(i) if i.image_url.is_some() => Part::Image(ImagePart {
            url: i.image_url.clone().unwrap_or_default(),
            detail: i.detail.as_deref().map(ImageDetail::from),
            ..Default::default()
        }),
        ContentPart::InputAudio(a) if a.audio_url.is_some() != a.data.is_some() => {
            Part::Audio(AudioPart {
                url: a
                    .audio_url
                    .clone()
                    .or_else(|| a.data.clone())
                    .unwrap_or_default(),
                format: a.format.clone(),
                kept: None,
            })
        }
        ContentPart::InputVideo(v) if v.video_url.is_some() => Part::Video(VideoPart {
            source: VideoSource::Url(v.video_url.clone().unwrap_or_default()),
            fps: float(&v.fps),
            ..Default::default()
        }),
        _ => return Part::Dialect(DialectValue::Responses(p.clone())),
    };
    part.set_kept(keep(
        p,
        part_to_responses(&part, role),
        DialectValue::Responses,
    ));
    part
}

fn part_to_responses(p: &Part, role: &Role) -> Result<ContentPart, ConvertError> {
    let kept = p.kept().and_then(DialectValue::responses);
    Ok(match p {
        Part::Text(t) => match kept {
            Some(ContentPart::InputText(k)) => {
                let mut w = k.clone();
                w.text.clone_from(&t.text);
                ContentPart::InputText(w)
            }
            Some(ContentPart::OutputText(k)) => {
                let mut w = k.clone();
                w.text.clone_from(&t.text);
                ContentPart::OutputText(w)
            }
            _ if *role == Role::Assistant => ContentPart::OutputText(OutputText::new(&t.text)),
            _ => ContentPart::text(&t.text),
        },
        Part::Image(i) => {
            if i.min_pixels.is_some() || i.max_pixels.is_some() {
                return Err(unsupported(D, "image pixel hints"));
            }
            let mut w = kept_or_default!(kept, ContentPart::InputImage);
            w.image_url = Some(i.url.clone());
            w.detail = i.detail.as_ref().map(|d| d.as_str().to_owned());
            ContentPart::InputImage(w)
        }
        Part::Audio(a) => {
            let mut w = kept_or_default!(kept, ContentPart::InputAudio);
            // The member the URL was in, else the one its form asks for.
            let data = w.data.is_some() || (w.audio_url.is_none() && a.url.starts_with("data:"));
            *(if data { &mut w.data } else { &mut w.audio_url }) = Some(a.url.clone());
            w.format.clone_from(&a.format);
            ContentPart::InputAudio(w)
        }
        Part::Video(v) => {
            let VideoSource::Url(url) = &v.source else {
                return Err(unsupported(D, "a video given as frames"));
            };
            if v.min_pixels.is_some() || v.max_pixels.is_some() || v.total_pixels.is_some() {
                return Err(unsupported(D, "video pixel hints"));
            }
            let mut w = kept_or_default!(kept, ContentPart::InputVideo);
            w.video_url = Some(url.clone());
            set_float(&mut w.fps, v.fps);
            ContentPart::InputVideo(w)
        }
        Part::Dialect(d) => own(d, D, DialectValue::responses, "content part")?,
    })
}

fn tool_from_responses(t: &responses::Tool) -> Tool {
    let responses::Tool::Function(f) = t else {
        return Tool::Dialect(DialectValue::Responses(t.clone()));
    };
    let mut tool = FunctionTool {
        name: f.name.clone(),
        description: f.description.clone(),
        parameters: f.parameters.clone(),
        strict: f.strict,
        kept: None,
    };
    tool.kept = keep(f, Ok(function_to_responses(&tool)), DialectValue::Responses);
    Tool::Function(tool)
}

fn function_to_responses(f: &FunctionTool) -> responses::FunctionTool {
    let mut w = (f.kept.as_deref().and_then(DialectValue::responses).cloned()).unwrap_or_default();
    w.name.clone_from(&f.name);
    w.description.clone_from(&f.description);
    w.parameters.clone_from(&f.parameters);
    w.strict = f.strict;
    w
}

fn tool_to_responses(t: &Tool) -> Result<responses::Tool, ConvertError> {
    match t {
        Tool::Function(f) => Ok(responses::Tool::Function(function_to_responses(f))),
        Tool::Dialect(d) => own(d, D, DialectValue::responses, "tool"),
    }
}

fn call_from_responses(c: &responses::FunctionCall) -> ToolCall {
    let mut t = ToolCall::new(&c.call_id, &c.name, &c.arguments);
    t.kept = keep(c, Ok(call_to_responses(&t)), DialectValue::Responses);
    t
}

fn call_to_responses(t: &ToolCall) -> responses::FunctionCall {
    let mut w = (t.kept.as_deref().and_then(DialectValue::responses).cloned()).unwrap_or_default();
    w.call_id.clone_from(&t.id);
    w.name.clone_from(&t.name);
    w.arguments.clone_from(&t.arguments);
    w
}

fn choice_of(c: &responses::ToolChoice) -> Option<ToolChoice> {
    match c {
        responses::ToolChoice::Mode(m) => mode_of(m.as_str()),
        responses::ToolChoice::Object(responses::ToolChoiceObject::Function(f)) => {
            Some(ToolChoice::Function(f.name.clone()))
        }
        responses::ToolChoice::Object(_) => None,
    }
}

fn format_of(text: Option<&TextConfig>) -> Option<ResponseFormat> {
    Some(match text?.format.as_ref()? {
        TextFormat::Text(_) => ResponseFormat::Text,
        TextFormat::JsonObject(_) => ResponseFormat::JsonObject,
        TextFormat::JsonSchema(s) => ResponseFormat::JsonSchema(JsonSchemaFormat {
            name: s.name.clone(),
            description: s.description.clone(),
            schema: s.schema.clone(),
            strict: s.strict,
        }),
        TextFormat::Unknown(_) => return None,
    })
}

fn format_to_responses(f: &ResponseFormat) -> TextFormat {
    match f {
        ResponseFormat::Text => TextFormat::Text(Default::default()),
        ResponseFormat::JsonObject => TextFormat::JsonObject(Default::default()),
        ResponseFormat::JsonSchema(s) => TextFormat::JsonSchema(responses::TextFormatJsonSchema {
            name: s.name.clone(),
            schema: s.schema.clone(),
            strict: s.strict,
            description: s.description.clone(),
            ..Default::default()
        }),
    }
}

/// The finish reason of a response: its `status` (absent: `default`, the terminal event's) with
/// `incomplete_details.reason` and whether it called functions.
fn finish_of(r: &Response, default: Option<ResponseStatus>, calls: bool) -> Option<FinishReason> {
    use ResponseStatus as S;
    Some(match r.status.clone().or(default)? {
        S::Completed if calls => FinishReason::ToolCalls,
        S::Completed => FinishReason::Stop,
        S::Incomplete => match r
            .incomplete_details
            .as_ref()
            .and_then(|d| d.reason.as_deref())
        {
            Some("max_output_tokens") => FinishReason::Length,
            Some("content_filter") => FinishReason::ContentFilter,
            _ => FinishReason::Unknown("incomplete".to_owned()),
        },
        S::Failed => FinishReason::Error,
        S::Queued | S::InProgress => return None,
        other => FinishReason::Unknown(other.as_str().to_owned()),
    })
}

impl UnifiedResponse {
    /// The answer of a Responses response.
    ///
    /// One candidate when the response has output or a final status: its text is the
    /// concatenated text of the message items, its reasoning the text of the reasoning items,
    /// its tool calls the `function_call` items; the finish reason comes from `status`
    /// (`completed` is `tool_calls` when there are function calls, else `stop`; `incomplete`
    /// is `length` or `content_filter` by `incomplete_details.reason`; `failed` is `error`).
    pub fn from_responses(response: &Response) -> Self {
        let tool_calls: Vec<ToolCall> = (response.function_calls())
            .map(|c| ToolCall::new(&c.call_id, &c.name, &c.arguments))
            .collect();
        let finish = finish_of(response, None, !tool_calls.is_empty());
        let candidates = if response.output.is_some() || finish.is_some() {
            vec![Candidate {
                index: 0,
                text: response.output_text(),
                reasoning: response.reasoning_text(),
                tool_calls,
                audio: None,
                finish_reason: finish,
            }]
        } else {
            Vec::new()
        };
        UnifiedResponse {
            id: Some(response.id.clone()).filter(|i| !i.is_empty()),
            model: response.model.clone().filter(|m| !m.is_empty()),
            candidates,
            usage: response.usage.as_ref().map(usage_of),
            kept: Some(Box::new(DialectValue::Responses(response.clone()))),
        }
    }
}

fn usage_of(u: &responses::Usage) -> Usage {
    Usage {
        input_tokens: u.input_tokens,
        output_tokens: u.output_tokens,
        total_tokens: u.total_tokens,
        reasoning_tokens: (u.output_tokens_details.as_ref()).and_then(|d| d.reasoning_tokens),
        cached_tokens: (u.input_tokens_details.as_ref()).and_then(|d| d.cached_tokens),
    }
}

/// Turns [`ResponseStreamEvent`]s into unified events.
///
/// Lifecycle events give `Meta` (when the id or model is new); `output_text.delta` gives
/// `TextDelta`; `reasoning_text.delta` and `reasoning_summary_text.delta` give
/// `ReasoningDelta`; a `function_call` `output_item.added` gives `ToolCallStart`,
/// `function_call_arguments.delta`/`.done` give `ToolCallArguments`/`ToolCallDone`; a text's
/// done event, and the terminal event's response, give the text the deltas left out (when it
/// extends what they gave); the terminal event gives `Usage` and `Finish`. Other events give
/// none. Memory: the text of each part so far (what the accumulator holds too).
#[derive(Clone, Debug, Default)]
pub struct ResponsesEventReader {
    id: Option<String>,
    model: Option<String>,
    /// The item id and output index of each function call, in order.
    calls: Vec<(Option<String>, Option<u32>)>,
    parts: Vec<PartText>,
}

/// The text delivered so far for one part of an item.
#[derive(Clone, Debug)]
struct PartText {
    reasoning: bool,
    /// The item's id, else its output index (as the events name it).
    item: Result<String, Option<u32>>,
    index: Option<u32>,
    text: String,
}

/// What a text event is about: reasoning or not, item id, output index, part index.
type PartKey<'a> = (bool, Option<&'a str>, Option<u32>, Option<u32>);

/// The [`PartKey`] of event `$e`, its part index in member `$index`.
macro_rules! key {
    ($reasoning:expr, $e:ident, $index:ident) => {
        (
            $reasoning,
            $e.item_id.as_deref(),
            $e.output_index,
            $e.$index,
        )
    };
}

fn delta_event(reasoning: bool, text: String) -> UnifiedEvent {
    if reasoning {
        UnifiedEvent::ReasoningDelta { candidate: 0, text }
    } else {
        UnifiedEvent::TextDelta { candidate: 0, text }
    }
}

/// What `full` adds to `so_far` when it extends it.
fn missing(so_far: &str, full: &str) -> Option<String> {
    (full.len() > so_far.len() && full.starts_with(so_far)).then(|| full[so_far.len()..].to_owned())
}

impl ResponsesEventReader {
    /// A reader at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads one event into `out`.
    pub fn read(&mut self, event: ResponseStreamEvent, out: &mut impl Extend<UnifiedEvent>) {
        use ResponseStreamEvent as E;
        match event {
            E::Created(e) => self.meta(&e.response, out),
            E::Queued(e) => self.meta(&e.response, out),
            E::InProgress(e) => self.meta(&e.response, out),
            E::OutputItemAdded(e) => {
                if let Some(OutputItem::FunctionCall(c)) = e.item {
                    self.calls.push((c.id, e.output_index));
                    let index = index_of(self.calls.len() - 1);
                    let start = UnifiedEvent::ToolCallStart {
                        candidate: 0,
                        index,
                        id: c.call_id,
                        name: c.name,
                    };
                    out.extend([start]);
                    if !c.arguments.is_empty() {
                        out.extend([UnifiedEvent::ToolCallArguments {
                            candidate: 0,
                            index,
                            delta: c.arguments,
                        }]);
                    }
                }
            }
            E::OutputTextDelta(e) => self.delta(key!(false, e, content_index), e.delta, out),
            E::ReasoningTextDelta(e) => self.delta(key!(true, e, content_index), e.delta, out),
            E::ReasoningSummaryTextDelta(e) => {
                self.delta(key!(true, e, summary_index), e.delta, out)
            }
            E::OutputTextDone(e) => self.done(key!(false, e, content_index), &e.text, out),
            E::ReasoningTextDone(e) => self.done(key!(true, e, content_index), &e.text, out),
            E::ReasoningSummaryTextDone(e) => self.done(key!(true, e, summary_index), &e.text, out),
            E::FunctionCallArgumentsDelta(e) => {
                let index = self.call(e.item_id.as_deref(), e.output_index);
                if !e.delta.is_empty() {
                    out.extend([UnifiedEvent::ToolCallArguments {
                        candidate: 0,
                        index,
                        delta: e.delta,
                    }]);
                }
            }
            E::FunctionCallArgumentsDone(e) => {
                let index = self.call(e.item_id.as_deref(), e.output_index);
                out.extend([UnifiedEvent::ToolCallDone {
                    candidate: 0,
                    index,
                    arguments: e.arguments,
                }]);
            }
            E::Completed(e) => self.terminal(&e.response, ResponseStatus::Completed, out),
            E::Incomplete(e) => self.terminal(&e.response, ResponseStatus::Incomplete, out),
            E::Failed(e) => self.terminal(&e.response, ResponseStatus::Failed, out),
            _ => {}
        }
    }

    fn meta(&mut self, r: &Response, out: &mut impl Extend<UnifiedEvent>) {
        let id = Some(r.id.as_str()).filter(|s| !s.is_empty());
        let model = r.model.as_deref().filter(|s| !s.is_empty());
        let id = id.or(self.id.as_deref()).map(str::to_owned);
        let model = model.or(self.model.as_deref()).map(str::to_owned);
        if (id.is_some() || model.is_some()) && (id != self.id || model != self.model) {
            self.id.clone_from(&id);
            self.model.clone_from(&model);
            out.extend([UnifiedEvent::Meta { id, model }]);
        }
    }

    /// The part a text event is about, added when new.
    fn part(&mut self, (reasoning, item_id, output, index): PartKey<'_>) -> &mut PartText {
        let is = |p: &PartText| {
            p.reasoning == reasoning
                && p.index == index
                && match (&p.item, item_id) {
                    (Ok(a), Some(b)) => a == b,
                    (Err(a), None) => *a == output,
                    _ => false,
                }
        };
        let make = || PartText {
            reasoning,
            item: item_id.map(str::to_owned).ok_or(output),
            index,
            text: String::new(),
        };
        find_or_push(&mut self.parts, is, make)
    }

    fn delta(&mut self, key: PartKey<'_>, delta: String, out: &mut impl Extend<UnifiedEvent>) {
        if !delta.is_empty() {
            self.part(key).text.push_str(&delta);
            out.extend([delta_event(key.0, delta)]);
        }
    }

    /// The delta that makes a part's text `full`, when deltas were left out before its done
    /// event.
    fn done(&mut self, key: PartKey<'_>, full: &str, out: &mut impl Extend<UnifiedEvent>) {
        let part = self.part(key);
        if let Some(rest) = missing(&part.text, full) {
            part.text.push_str(&rest);
            out.extend([delta_event(key.0, rest)]);
        }
    }

    /// The index of the call an event is about (by item id, else output index); a new one
    /// when none matches.
    fn call(&mut self, item_id: Option<&str>, output: Option<u32>) -> u32 {
        let pos = (self.calls.iter())
            .position(|(id, _)| item_id.is_some() && id.as_deref() == item_id)
            .or_else(|| {
                self.calls
                    .iter()
                    .position(|(_, o)| output.is_some() && *o == output)
            })
            .unwrap_or_else(|| {
                self.calls.push((item_id.map(str::to_owned), output));
                self.calls.len() - 1
            });
        index_of(pos)
    }

    fn terminal(
        &mut self,
        r: &Response,
        status: ResponseStatus,
        out: &mut impl Extend<UnifiedEvent>,
    ) {
        self.meta(r, out);
        if r.output.is_some() {
            for (reasoning, full) in [(true, r.reasoning_text()), (false, r.output_text())] {
                let so_far: String = (self.parts.iter())
                    .filter(|p| p.reasoning == reasoning)
                    .map(|p| p.text.as_str())
                    .collect();
                if let Some(rest) = missing(&so_far, &full) {
                    out.extend([delta_event(reasoning, rest)]);
                }
            }
        }
        if let Some(u) = &r.usage {
            out.extend([UnifiedEvent::Usage(usage_of(u))]);
        }
        let has_calls = !self.calls.is_empty() || r.function_calls().next().is_some();
        if let Some(reason) = finish_of(r, Some(status), has_calls) {
            out.extend([UnifiedEvent::Finish {
                candidate: 0,
                reason,
            }]);
        }
    }
}
