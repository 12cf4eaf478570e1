//! Responses ⇄ unified: [`ResponseRequest`], [`Response`] and [`ResponseStreamEvent`] streams.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::ConvertError;
use super::chat::{count, detail, read_content, write_content, write_detail};
use super::events::{EventReader, EventWriter, Pending, UnifiedEvent, fill_events, take_text};
use super::extras::{
    Extras, Fields, In, MARK, Out, event_mark, fill_len_marks, float, len_mark, marker, to_fields,
};
use super::model::{
    AudioPart, Candidate, Conversation, FinishReason, FunctionTool, ImageDetail, ImagePart,
    Message, Part, ReasoningEffort, ResponseFormat, Role, Sampling, TextPart, Thinking, Tool,
    ToolCall, ToolChoice, UnifiedResponse, Usage, VideoPart, VideoSource, text_parts,
};
use super::shared::{
    dialect_part, dialect_value, json_schema_members, json_schema_object, mode_choice, mode_str,
    string_form, typed, unsupported,
};
use crate::cassette::Dialect;
use crate::responses::{Response, ResponseRequest, ResponseStreamEvent};

const D: Dialect = Dialect::Responses;

/// Whether a message can be written as a plain string (`instructions`, `input`).
fn plain(m: &Message) -> bool {
    string_form(&m.parts, D).is_some()
        && m.reasoning.is_none()
        && m.tool_calls.is_empty()
        && m.tool_call_id.is_none()
        && m.name.is_none()
        && !m.partial
        && m.extras.responses.is_empty()
}

/// Adds a note to `extras["$form"]`.
fn add_form(extras: &mut Fields, k: &str, v: Value) {
    let forms = extras
        .entry("$form")
        .or_insert_with(|| Value::Object(Fields::new()));
    if let Value::Object(f) = forms {
        f.insert(k.to_owned(), v);
    }
}

/// A note from `extras["$form"]`.
fn form<'a>(extras: &'a Fields, k: &str) -> Option<&'a Value> {
    extras.get("$form")?.get(k)
}

/// Merges `from` (a message item's extras) into `into` (its turn's extras).
fn merge_extras(into: &mut Fields, from: Fields) {
    for (k, v) in from {
        match (k.as_str(), v) {
            ("$form", Value::Object(f)) => {
                for (fk, fv) in f {
                    add_form(into, &fk, fv);
                }
            }
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

impl Conversation {
    /// The conversation of a Responses request (lossless: [`to_responses`](Self::to_responses)
    /// gives the same request back).
    ///
    /// `instructions` becomes a leading system message; `input` items become messages:
    /// `function_call` items join the assistant turn they belong to (with its `reasoning` item
    /// and message item), `function_call_output` items become tool messages, and items the
    /// unified model does not know are kept in the extras of the next message.
    pub fn from_responses(request: &ResponseRequest) -> Self {
        let mut r = In::of(to_fields(request));
        let model = r.str("model").unwrap_or_default();
        let mut messages = Vec::new();
        let had_instructions = match r.str("instructions") {
            Some(i) => {
                messages.push(Message::system(i));
                true
            }
            None => false,
        };
        match r.peek("input") {
            Some(Value::String(_)) => {
                messages.push(Message::user(r.str("input").unwrap_or_default()));
            }
            Some(Value::Array(_)) => {
                let start = messages.len();
                let after = read_items(r.array("input").unwrap_or_default(), &mut messages);
                if !had_instructions
                    && messages
                        .first()
                        .is_some_and(|m| m.role == Role::System && plain(m))
                {
                    r.form("instructions", Value::Bool(false));
                }
                if let [m] = &messages[start..] {
                    if m.role == Role::User && plain(m) && after.is_empty() {
                        r.form("input", Value::from("items"));
                    }
                }
                if !after.is_empty() {
                    r.form("after", Value::Array(after));
                }
            }
            _ => {}
        }
        let tools = r
            .nonempty_array("tools")
            .unwrap_or_default()
            .into_iter()
            .map(tool_from_flat)
            .collect();
        let tool_choice = r.take_if("tool_choice", tool_choice_from_flat);
        let parallel_tool_calls = r.bool("parallel_tool_calls");
        let sampling = Sampling {
            temperature: r.f64("temperature"),
            top_p: r.f64("top_p"),
            max_tokens: r.u64("max_output_tokens"),
            ..Default::default()
        };
        let mut thinking = Thinking {
            enabled: r.bool("enable_thinking"),
            ..Default::default()
        };
        if let Some(mut re) = r.obj("reasoning") {
            thinking.effort = re.str("effort").map(ReasoningEffort::from);
            r.nested("reasoning", re, thinking.effort.is_some());
        }
        let mut response_format = None;
        if let Some(mut t) = r.obj("text") {
            response_format = t.take_if("format", format_from_flat);
            r.nested("text", t, response_format.is_some());
        }
        let stream = r.bool("stream");
        Conversation {
            model,
            messages,
            tools,
            tool_choice,
            parallel_tool_calls,
            sampling,
            thinking,
            response_format,
            stream,
            include_usage: None,
            extras: Extras::of(D, r.finish()),
        }
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
    /// tool results that are not one text, parts or tools of another dialect;
    /// [`ConvertError::Wire`] when the Responses extras do not fit the request type.
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
        let mut o = Out::from(&self.extras.responses);
        o.put("model", self.model.as_str());
        let mut rest = self.messages.as_slice();
        if o.form("instructions") != Some(&Value::Bool(false)) {
            if let Some(first) = rest.first().filter(|m| m.role == Role::System && plain(m)) {
                o.put("instructions", string_form(&first.parts, D).unwrap_or(""));
                rest = &rest[1..];
            }
        }
        let after = o.form("after").and_then(Value::as_array);
        match rest {
            [m] if m.role == Role::User
                && plain(m)
                && after.is_none()
                && o.form_str("input") != Some("items") =>
            {
                o.put("input", string_form(&m.parts, D).unwrap_or(""));
            }
            _ => {
                let mut items = write_items(rest)?;
                items.extend(after.into_iter().flatten().cloned());
                o.put("input", items);
            }
        }
        if !self.tools.is_empty() {
            let tools = self
                .tools
                .iter()
                .map(tool_to_flat)
                .collect::<Result<Vec<_>, _>>()?;
            o.put("tools", tools);
        }
        o.put_opt(
            "tool_choice",
            self.tool_choice.as_ref().map(tool_choice_to_flat),
        );
        o.put_opt("parallel_tool_calls", self.parallel_tool_calls);
        o.put_opt("temperature", s.temperature.map(float));
        o.put_opt("top_p", s.top_p.map(float));
        o.put_opt("max_output_tokens", s.max_tokens);
        o.put_opt("enable_thinking", self.thinking.enabled);
        let mut re = o.child("reasoning");
        re.put_opt(
            "effort",
            self.thinking.effort.as_ref().map(ReasoningEffort::as_str),
        );
        o.put_child("reasoning", re, self.thinking.effort.is_some());
        let mut text = o.child("text");
        text.put_opt("format", self.response_format.as_ref().map(format_to_flat));
        o.put_child("text", text, self.response_format.is_some());
        o.put_opt("stream", self.stream);
        typed(D, o.finish())
    }
}

/// One assistant turn being read from input items.
struct Turn {
    message: Message,
    has_item: bool,
}

fn close_turn(turn: &mut Option<Turn>, messages: &mut Vec<Message>) {
    if let Some(mut t) = turn.take() {
        let m = &mut t.message;
        if t.has_item && m.parts.is_empty() && (!m.tool_calls.is_empty() || m.reasoning.is_some()) {
            add_form(&mut m.extras.responses, "message", Value::Bool(true));
        }
        messages.push(t.message);
    }
}

/// A message starting after `pending` unknown items (kept in its extras).
fn with_before(mut m: Message, pending: &mut Vec<Value>) -> Message {
    if !pending.is_empty() {
        add_form(
            &mut m.extras.responses,
            "before",
            Value::Array(std::mem::take(pending)),
        );
    }
    m
}

/// Reads input items into `messages`; returns trailing items the model does not know.
fn read_items(items: Vec<Value>, messages: &mut Vec<Message>) -> Vec<Value> {
    let mut turn: Option<Turn> = None;
    let mut pending = Vec::new();
    for item in items {
        let kind = item.get("type").and_then(Value::as_str).map(str::to_owned);
        let role = item.get("role").and_then(Value::as_str).map(str::to_owned);
        let is_message = match kind.as_deref() {
            Some("message") => role.is_some(),
            None => role.is_some(),
            _ => false,
        };
        if is_message {
            let m = message_from_item(item);
            if m.role == Role::Assistant {
                if turn
                    .as_ref()
                    .is_some_and(|t| t.has_item || !t.message.tool_calls.is_empty())
                {
                    close_turn(&mut turn, messages);
                }
                let t = turn.get_or_insert_with(|| Turn {
                    message: with_before(
                        Message {
                            role: Role::Assistant,
                            ..Default::default()
                        },
                        &mut pending,
                    ),
                    has_item: false,
                });
                t.message.parts = m.parts;
                merge_extras(&mut t.message.extras.responses, m.extras.responses);
                t.has_item = true;
            } else {
                close_turn(&mut turn, messages);
                messages.push(with_before(m, &mut pending));
            }
            continue;
        }
        match kind.as_deref() {
            Some("function_call") if is_function_call(&item) => {
                let call = function_call_from_item(item);
                let t = turn.get_or_insert_with(|| Turn {
                    message: with_before(
                        Message {
                            role: Role::Assistant,
                            ..Default::default()
                        },
                        &mut pending,
                    ),
                    has_item: false,
                });
                t.message.tool_calls.push(call);
            }
            Some("function_call_output")
                if item.get("call_id").is_some_and(Value::is_string)
                    && item.get("output").is_some_and(Value::is_string) =>
            {
                close_turn(&mut turn, messages);
                let mut r = In::value(item);
                r.konst("type", "function_call_output");
                let call_id = r.str("call_id");
                let output = r.str("output").unwrap_or_default();
                let m = Message {
                    role: Role::Tool,
                    parts: text_parts(output),
                    tool_call_id: call_id,
                    extras: Extras::of(D, r.finish()),
                    ..Default::default()
                };
                messages.push(with_before(m, &mut pending));
            }
            Some("reasoning") if item.get("summary").is_some_and(Value::is_array) => {
                close_turn(&mut turn, messages);
                let (text, residual) = reasoning_layout(&item);
                let mut m = with_before(
                    Message {
                        role: Role::Assistant,
                        reasoning: Some(text.clone()),
                        ..Default::default()
                    },
                    &mut pending,
                );
                if item != canonical_reasoning(&text) {
                    add_form(&mut m.extras.responses, "reasoning", residual);
                }
                turn = Some(Turn {
                    message: m,
                    has_item: false,
                });
            }
            _ => {
                close_turn(&mut turn, messages);
                pending.push(item);
            }
        }
    }
    close_turn(&mut turn, messages);
    pending
}

fn is_function_call(v: &Value) -> bool {
    ["call_id", "name", "arguments"]
        .iter()
        .all(|k| v.get(*k).is_some_and(Value::is_string))
}

fn function_call_from_item(item: Value) -> ToolCall {
    let mut r = In::value(item);
    r.konst("type", "function_call");
    ToolCall {
        id: r.str("call_id").unwrap_or_default(),
        name: r.str("name").unwrap_or_default(),
        arguments: r.str("arguments").unwrap_or_default(),
        extras: Extras::of(D, r.finish()),
    }
}

fn function_call_item(t: &ToolCall) -> Value {
    let mut o = Out::from(&t.extras.responses);
    o.konst("type", "function_call");
    o.put("call_id", t.id.as_str());
    o.put("name", t.name.as_str());
    o.put("arguments", t.arguments.as_str());
    o.finish()
}

fn canonical_reasoning(text: &str) -> Value {
    json!({"type": "reasoning", "summary": [{"type": "summary_text", "text": text}]})
}

/// Whether a content part of a reasoning item carries reasoning text.
fn is_reasoning_text(p: &Value) -> bool {
    matches!(
        p.get("type").and_then(Value::as_str),
        Some("reasoning_text" | "output_text" | "text")
    ) && p.get("text").is_some_and(Value::is_string)
}

/// A reasoning item's text (its `content` text when it has any, else its `summary` text) and
/// the item with that text replaced by length markers.
fn reasoning_layout(item: &Value) -> (String, Value) {
    let mut residual = item.clone();
    let content_text: String = item
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| is_reasoning_text(p))
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect();
    let (list, is_text): (&str, fn(&Value) -> bool) = if content_text.is_empty() {
        ("summary", |p| {
            p.get("type").and_then(Value::as_str) == Some("summary_text")
                && p.get("text").is_some_and(Value::is_string)
        })
    } else {
        ("content", is_reasoning_text)
    };
    let mut text = String::new();
    if let Some(parts) = residual.get_mut(list).and_then(Value::as_array_mut) {
        for p in parts.iter_mut().filter(|p| is_text(p)) {
            let t = p
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            p["text"] = len_mark("reasoning", t.len());
            text.push_str(&t);
        }
    }
    (text, residual)
}

/// A reasoning item for `text`, from the kept layout when there is one.
fn reasoning_item(layout: Option<&Value>, text: &str) -> Value {
    match layout {
        Some(l) => {
            let mut item = l.clone();
            if !fill_len_marks(&mut item, "reasoning", text) && !text.is_empty() {
                if let Some(summary) = item.get_mut("summary").and_then(Value::as_array_mut) {
                    summary.push(json!({"type": "summary_text", "text": text}));
                }
            }
            item
        }
        None => canonical_reasoning(text),
    }
}

fn message_from_item(item: Value) -> Message {
    let mut r = In::value(item);
    let role = r.str("role").map(Role::from).unwrap_or_default();
    let for_role = role.clone();
    let parts = read_content(&mut r, D, |p| part_from_responses(p, &for_role));
    Message {
        role,
        parts,
        extras: Extras::of(D, r.finish()),
        ..Default::default()
    }
}

fn message_item(m: &Message, extras: &Fields) -> Result<Value, ConvertError> {
    let mut o = Out::from(extras);
    o.put_default("role", m.role.as_str(), m.role == Role::User);
    let role = m.role.clone();
    write_content(&mut o, &m.parts, D, |p| part_to_responses(p, &role))?;
    Ok(o.finish())
}

/// Writes messages as input items.
fn write_items(messages: &[Message]) -> Result<Vec<Value>, ConvertError> {
    let mut items = Vec::new();
    for m in messages {
        let ex = &m.extras.responses;
        if let Some(Value::Array(before)) = form(ex, "before") {
            items.extend(before.iter().cloned());
        }
        if m.partial {
            return Err(unsupported(D, "partial mode"));
        }
        if m.name.is_some() {
            return Err(unsupported(D, "a message name"));
        }
        match m.role {
            Role::Assistant => {
                if m.tool_call_id.is_some() {
                    return Err(unsupported(D, "a tool call id on an assistant message"));
                }
                if let Some(r) = &m.reasoning {
                    items.push(reasoning_item(form(ex, "reasoning"), r));
                }
                let with_message = !m.parts.is_empty()
                    || form(ex, "message") == Some(&Value::Bool(true))
                    || (m.tool_calls.is_empty() && m.reasoning.is_none());
                if with_message {
                    items.push(message_item(m, ex)?);
                }
                items.extend(m.tool_calls.iter().map(function_call_item));
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
                    [Part::Text(t)] if t.extras.responses.is_empty() => t.text.as_str(),
                    _ => return Err(unsupported(D, "a tool result that is not one text")),
                };
                let mut o = Out::from(ex);
                o.konst("type", "function_call_output");
                o.put("call_id", call_id.as_str());
                o.put("output", output);
                items.push(o.finish());
            }
            _ => {
                if m.reasoning.is_some() || !m.tool_calls.is_empty() || m.tool_call_id.is_some() {
                    return Err(unsupported(
                        D,
                        "reasoning, tool calls or a call id on a non-assistant message",
                    ));
                }
                items.push(message_item(m, ex)?);
            }
        }
    }
    Ok(items)
}

fn text_type(role: &Role) -> &'static str {
    if *role == Role::Assistant {
        "output_text"
    } else {
        "input_text"
    }
}

fn audio_field(url: &str) -> &'static str {
    if url.starts_with("data:") {
        "data"
    } else {
        "audio_url"
    }
}

fn part_from_responses(v: Value, role: &Role) -> Part {
    let kind = v
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let has_str = |k: &str| v.get(k).is_some_and(Value::is_string);
    let fits = match kind.as_str() {
        "input_text" | "output_text" => has_str("text"),
        "input_image" => has_str("image_url"),
        "input_audio" => has_str("audio_url") != has_str("data"),
        "input_video" => has_str("video_url") && v.get("fps").is_none_or(Value::is_number),
        _ => false,
    };
    if !fits {
        return dialect_part(D, v);
    }
    let mut r = In::value(v);
    r.take("type");
    match kind.as_str() {
        "input_text" | "output_text" => {
            if kind != text_type(role) {
                r.form("type", Value::from(kind.as_str()));
            }
            let text = r.str("text").unwrap_or_default();
            Part::Text(TextPart {
                text,
                extras: Extras::of(D, r.finish()),
            })
        }
        "input_image" => {
            let url = r.str("image_url").unwrap_or_default();
            let detail = r.str("detail").map(ImageDetail::from);
            Part::Image(ImagePart {
                url,
                detail,
                extras: Extras::of(D, r.finish()),
                ..Default::default()
            })
        }
        "input_audio" => {
            let (field, url) = match r.str("audio_url") {
                Some(u) => ("audio_url", u),
                None => ("data", r.str("data").unwrap_or_default()),
            };
            if field != audio_field(&url) {
                r.form("field", Value::from(field));
            }
            let format = r.str("format");
            Part::Audio(AudioPart {
                url,
                format,
                extras: Extras::of(D, r.finish()),
            })
        }
        _ => {
            let url = r.str("video_url").unwrap_or_default();
            let fps = r.take_if("fps", |n| {
                let f = n.as_f64()?;
                Some((f, !n.is_f64()))
            });
            if fps.is_some_and(|(_, int)| int) {
                r.form("fps", Value::from("int"));
            }
            Part::Video(VideoPart {
                source: VideoSource::Url(url),
                fps: fps.map(|(f, _)| f),
                extras: Extras::of(D, r.finish()),
                ..Default::default()
            })
        }
    }
}

fn part_to_responses(p: &Part, role: &Role) -> Result<Value, ConvertError> {
    Ok(match p {
        Part::Text(t) => {
            let mut o = Out::from(&t.extras.responses);
            let kind = o.form_str("type").unwrap_or(text_type(role));
            o.put("type", kind);
            o.put("text", t.text.as_str());
            o.finish()
        }
        Part::Image(i) => {
            if i.min_pixels.is_some() || i.max_pixels.is_some() {
                return Err(unsupported(D, "image pixel hints"));
            }
            let mut o = Out::from(&i.extras.responses);
            o.put("type", "input_image");
            o.put("image_url", i.url.as_str());
            o.put_opt("detail", i.detail.as_ref().map(ImageDetail::as_str));
            o.finish()
        }
        Part::Audio(a) => {
            let mut o = Out::from(&a.extras.responses);
            let field = o.form_str("field").unwrap_or(audio_field(&a.url));
            o.put("type", "input_audio");
            o.put(field, a.url.as_str());
            o.put_opt("format", a.format.as_deref());
            o.finish()
        }
        Part::Video(v) => {
            let VideoSource::Url(url) = &v.source else {
                return Err(unsupported(D, "a video given as frames"));
            };
            if v.min_pixels.is_some() || v.max_pixels.is_some() || v.total_pixels.is_some() {
                return Err(unsupported(D, "video pixel hints"));
            }
            let mut o = Out::from(&v.extras.responses);
            o.put("type", "input_video");
            o.put("video_url", url.as_str());
            if let Some(f) = v.fps {
                let int = o.form_str("fps") == Some("int") && f.fract() == 0.0 && f.abs() < 9e15;
                if int {
                    // An integral value below 2^53 converts exactly.
                    #[allow(clippy::cast_possible_truncation)]
                    o.put("fps", f as i64);
                } else {
                    o.put("fps", float(f));
                }
            }
            o.finish()
        }
        Part::Dialect(dv) => dialect_value(dv, D, "content part")?,
    })
}

fn tool_from_flat(v: Value) -> Tool {
    let is_function = v.get("type").and_then(Value::as_str) == Some("function")
        && v.get("name").is_some_and(Value::is_string);
    if !is_function {
        return Tool::Dialect(super::model::DialectValue {
            dialect: D,
            value: v,
        });
    }
    let mut r = In::value(v);
    r.take("type");
    let name = r.str("name").unwrap_or_default();
    let description = r.str("description");
    let parameters = r.take_if("parameters", |p| (!p.is_null()).then(|| p.clone()));
    let strict = r.bool("strict");
    Tool::Function(FunctionTool {
        name,
        description,
        parameters,
        strict,
        extras: Extras::of(D, r.finish()),
    })
}

fn tool_to_flat(t: &Tool) -> Result<Value, ConvertError> {
    match t {
        Tool::Function(f) => {
            let mut o = Out::from(&f.extras.responses);
            o.put("type", "function");
            o.put("name", f.name.as_str());
            o.put_opt("description", f.description.as_deref());
            o.put_opt("parameters", f.parameters.clone());
            o.put_opt("strict", f.strict);
            Ok(o.finish())
        }
        Tool::Dialect(dv) => dialect_value(dv, D, "tool"),
    }
}

fn tool_choice_from_flat(v: &Value) -> Option<ToolChoice> {
    match v {
        Value::String(s) => mode_choice(s),
        Value::Object(m) if m.len() == 2 && m.get("type") == Some(&json!("function")) => {
            Some(ToolChoice::Function(m.get("name")?.as_str()?.to_owned()))
        }
        _ => None,
    }
}

fn tool_choice_to_flat(c: &ToolChoice) -> Value {
    match c {
        ToolChoice::Function(name) => json!({"type": "function", "name": name}),
        other => Value::from(mode_str(other).unwrap_or("auto")),
    }
}

fn format_from_flat(v: &Value) -> Option<ResponseFormat> {
    let m = v.as_object()?;
    match m.get("type")?.as_str()? {
        "text" if m.len() == 1 => Some(ResponseFormat::Text),
        "json_object" if m.len() == 1 => Some(ResponseFormat::JsonObject),
        "json_schema" => json_schema_members(m, &["type"]).map(ResponseFormat::JsonSchema),
        _ => None,
    }
}

fn format_to_flat(f: &ResponseFormat) -> Value {
    match f {
        ResponseFormat::Text => json!({"type": "text"}),
        ResponseFormat::JsonObject => json!({"type": "json_object"}),
        ResponseFormat::JsonSchema(s) => {
            let mut o = json_schema_object(s, false);
            o.insert("type".into(), Value::from("json_schema"));
            Value::Object(o)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Responses (the answer)
// ---------------------------------------------------------------------------------------------

/// The finish reason a response `status` (and `incomplete_details.reason`) stands for.
fn finish_of(
    status: &str,
    incomplete_reason: Option<&str>,
    has_calls: bool,
) -> Option<FinishReason> {
    Some(match status {
        "completed" if has_calls => FinishReason::ToolCalls,
        "completed" => FinishReason::Stop,
        "incomplete" => match incomplete_reason {
            Some("max_output_tokens") => FinishReason::Length,
            Some("content_filter") => FinishReason::ContentFilter,
            _ => FinishReason::Unknown("incomplete".to_owned()),
        },
        "failed" => FinishReason::Error,
        "queued" | "in_progress" => return None,
        other => FinishReason::Unknown(other.to_owned()),
    })
}

/// The `status` a finish reason is written as.
fn status_of(f: &FinishReason) -> &str {
    match f {
        FinishReason::Stop | FinishReason::ToolCalls => "completed",
        FinishReason::Length | FinishReason::ContentFilter => "incomplete",
        FinishReason::Error => "failed",
        FinishReason::Unknown(s) => s.as_str(),
    }
}

/// The `incomplete_details` a finish reason is written with.
fn incomplete_details(f: &FinishReason) -> Option<Value> {
    match f {
        FinishReason::Length => Some(json!({"reason": "max_output_tokens"})),
        FinishReason::ContentFilter => Some(json!({"reason": "content_filter"})),
        _ => None,
    }
}

fn canonical_message(text: &str) -> Value {
    json!({"type": "message", "role": "assistant", "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}]})
}

/// The output items of a candidate, with no kept layout.
fn canonical_output(c: &Candidate) -> Vec<Value> {
    let mut items = Vec::new();
    if !c.reasoning.is_empty() {
        items.push(canonical_reasoning(&c.reasoning));
    }
    if !c.text.is_empty() || (c.tool_calls.is_empty() && c.reasoning.is_empty()) {
        items.push(canonical_message(&c.text));
    }
    items.extend(c.tool_calls.iter().map(function_call_item));
    items
}

/// The output items of a candidate, from a kept layout.
fn output_from_layout(layout: &[Value], c: &Candidate) -> Vec<Value> {
    let mut v = Value::Array(layout.to_vec());
    let text_done = fill_len_marks(&mut v, "text", &c.text);
    let reasoning_done = fill_len_marks(&mut v, "reasoning", &c.reasoning);
    let mut calls = c.tool_calls.iter();
    let mut items: Vec<Value> = match v {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|item| {
                if marker(&item).is_some_and(|m| m.get(MARK) == Some(&json!("tool_call"))) {
                    calls.next().map(function_call_item)
                } else {
                    Some(item)
                }
            })
            .collect(),
        _ => Vec::new(),
    };
    if !reasoning_done && !c.reasoning.is_empty() {
        items.insert(0, canonical_reasoning(&c.reasoning));
    }
    if !text_done && !c.text.is_empty() {
        items.push(canonical_message(&c.text));
    }
    items.extend(calls.map(function_call_item));
    items
}

fn candidate_from_output(items: Vec<Value>, finish_reason: Option<FinishReason>) -> Candidate {
    let mut c = Candidate {
        finish_reason,
        ..Default::default()
    };
    let original = Value::Array(items.clone());
    let mut layout = Vec::with_capacity(items.len());
    for mut item in items {
        match item.get("type").and_then(Value::as_str) {
            Some("message") => {
                if let Some(parts) = item.get_mut("content").and_then(Value::as_array_mut) {
                    for p in parts {
                        let is_text = matches!(
                            p.get("type").and_then(Value::as_str),
                            Some("output_text" | "text")
                        );
                        if let Some(t) = p.get("text").and_then(Value::as_str).filter(|_| is_text) {
                            let t = t.to_owned();
                            p["text"] = len_mark("text", t.len());
                            c.text.push_str(&t);
                        }
                    }
                }
                layout.push(item);
            }
            Some("reasoning") => {
                let (text, residual) = reasoning_layout(&item);
                c.reasoning.push_str(&text);
                layout.push(residual);
            }
            Some("function_call") if is_function_call(&item) => {
                c.tool_calls.push(function_call_from_item(item));
                let mut m = Map::new();
                m.insert(MARK.into(), Value::from("tool_call"));
                layout.push(Value::Object(m));
            }
            _ => layout.push(item),
        }
    }
    let mut plain = c.clone();
    plain.extras = Extras::default();
    if Value::Array(canonical_output(&plain)) != original {
        add_form(&mut c.extras.responses, "output", Value::Array(layout));
    }
    c
}

/// Responses usage → unified.
pub(crate) fn usage_from_responses(v: Value) -> Usage {
    let mut r = In::value(v);
    let input_tokens = count(&mut r, "input_tokens");
    let output_tokens = count(&mut r, "output_tokens");
    let total_tokens = count(&mut r, "total_tokens");
    let reasoning_tokens = detail(&mut r, "output_tokens_details", "reasoning_tokens");
    let cached_tokens = detail(&mut r, "input_tokens_details", "cached_tokens");
    Usage {
        input_tokens,
        output_tokens,
        total_tokens,
        reasoning_tokens,
        cached_tokens,
        extras: Extras::of(D, r.finish()),
    }
}

/// Unified usage → Responses.
pub(crate) fn usage_to_responses(u: &Usage) -> Value {
    let mut o = Out::from(&u.extras.responses);
    o.put_default("input_tokens", u.input_tokens, u.input_tokens == 0);
    o.put_default("output_tokens", u.output_tokens, u.output_tokens == 0);
    o.put_default("total_tokens", u.total_tokens, u.total_tokens == 0);
    write_detail(
        &mut o,
        "output_tokens_details",
        "reasoning_tokens",
        u.reasoning_tokens,
    );
    write_detail(
        &mut o,
        "input_tokens_details",
        "cached_tokens",
        u.cached_tokens,
    );
    o.finish()
}

impl UnifiedResponse {
    /// The answer of a Responses response (lossless: [`to_responses`](Self::to_responses)
    /// gives the same response back).
    ///
    /// One candidate when the response has output or a final status: its text is the
    /// concatenated `output_text` of the message items, its reasoning the text of the reasoning
    /// items, its tool calls the `function_call` items; the finish reason comes from `status`
    /// (`completed` is `tool_calls` when there are function calls, else `stop`; `incomplete`
    /// is `length` or `content_filter` by `incomplete_details.reason`; `failed` is `error`).
    pub fn from_responses(response: &Response) -> Self {
        let mut r = In::of(to_fields(response));
        let id = r.str("id").filter(|s| !s.is_empty());
        let model = r.nonempty_str("model");
        r.konst("object", "response");
        let output = r.array("output");
        // No output array (absent, or a `null` kept verbatim): the writer must not add one.
        let output_missing = output.is_none();
        let has_calls = output.iter().flatten().any(|i| {
            i.get("type").and_then(Value::as_str) == Some("function_call") && is_function_call(i)
        });
        let reason = r
            .peek("incomplete_details")
            .and_then(|d| d.get("reason"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let finish = r
            .peek("status")
            .and_then(Value::as_str)
            .and_then(|s| finish_of(s, reason.as_deref(), has_calls));
        if let Some(f) = &finish {
            r.take("status");
            if let Some(details) = incomplete_details(f) {
                r.take_if("incomplete_details", |v| (*v == details).then_some(()));
            }
        }
        let mut candidates = Vec::new();
        if output.is_some() || finish.is_some() {
            let mut c = candidate_from_output(output.unwrap_or_default(), finish);
            if output_missing {
                add_form(&mut c.extras.responses, "output", Value::Null);
            }
            candidates.push(c);
        }
        let usage = r.take_if("usage", |v| {
            v.is_object().then(|| usage_from_responses(v.clone()))
        });
        UnifiedResponse {
            id,
            model,
            candidates,
            usage,
            extras: Extras::of(D, r.finish()),
        }
    }

    /// The Responses response of this answer.
    ///
    /// # Errors
    ///
    /// [`ConvertError::Unsupported`] for more than one candidate; [`ConvertError::Wire`] when
    /// the Responses extras do not fit the response type.
    pub fn to_responses(&self) -> Result<Response, ConvertError> {
        if self.candidates.len() > 1 {
            return Err(unsupported(D, "more than one candidate"));
        }
        let mut o = Out::from(&self.extras.responses);
        o.put("id", self.id.as_deref().unwrap_or(""));
        o.put_opt("model", self.model.as_deref());
        o.konst("object", "response");
        if let Some(c) = self.candidates.first() {
            match form(&c.extras.responses, "output") {
                Some(Value::Null) => {}
                Some(Value::Array(layout)) => o.put("output", output_from_layout(layout, c)),
                _ => o.put("output", canonical_output(c)),
            }
            if let Some(f) = &c.finish_reason {
                o.put("status", status_of(f));
                if let Some(d) = incomplete_details(f) {
                    o.konst("incomplete_details", d);
                }
            }
        }
        o.put_opt("usage", self.usage.as_ref().map(usage_to_responses));
        typed(D, o.finish())
    }
}

// ---------------------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------------------

/// Turns [`ResponseStreamEvent`]s into unified events.
///
/// Lifecycle events give `Meta` (when the id or model is new); `output_text.delta` gives
/// `TextDelta`; `reasoning_text.delta` and `reasoning_summary_text.delta` give
/// `ReasoningDelta`; a `function_call` `output_item.added` gives `ToolCallStart`,
/// `function_call_arguments.delta`/`.done` give `ToolCallArguments`/`ToolCallDone`; the terminal
/// event gives `Usage` and `Finish`. Every other event is a passthrough alone.
#[derive(Clone, Debug, Default)]
pub struct ResponsesEventReader {
    meta: Option<(Option<String>, Option<String>)>,
    calls: Vec<(Option<String>, Option<u64>)>,
    /// Text delivered so far, per `kind:item:part`.
    parts: BTreeMap<String, String>,
    /// Answer and reasoning text delivered so far.
    text: String,
    reasoning: String,
}

/// The key of the text part an event is about.
fn part_key(kind: &str, obj: &Fields, index_key: &str) -> String {
    let item = obj
        .get("item_id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| obj.get("output_index").map(Value::to_string))
        .unwrap_or_default();
    let ix = obj.get(index_key).and_then(Value::as_u64).unwrap_or(0);
    format!("{kind}:{item}:{ix}")
}

/// What `full` adds to `so_far` when it extends it (a done value after deltas were elided).
fn missing(so_far: &str, full: &str) -> Option<String> {
    (full.len() > so_far.len() && full.starts_with(so_far)).then(|| full[so_far.len()..].to_owned())
}

impl ResponsesEventReader {
    /// A reader at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    fn meta(&mut self, response: Option<&Value>, events: &mut Vec<UnifiedEvent>) {
        let Some(resp) = response else {
            return;
        };
        let id = resp
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let model = resp
            .get("model")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let known = self.meta.clone().unwrap_or_default();
        let next = (id.or(known.0), model.or(known.1));
        if (next.0.is_some() || next.1.is_some()) && self.meta.as_ref() != Some(&next) {
            events.push(UnifiedEvent::Meta {
                id: next.0.clone(),
                model: next.1.clone(),
            });
            self.meta = Some(next);
        }
    }

    /// Notes a delta of `kind` (`text` or `reasoning`) for its part.
    fn delivered(&mut self, kind: &str, key: String, delta: &str) {
        self.parts.entry(key).or_default().push_str(delta);
        if kind == "text" {
            self.text.push_str(delta);
        } else {
            self.reasoning.push_str(delta);
        }
    }

    /// The delta that makes a part's text `full`, when deltas were left out before its done
    /// event.
    fn reconcile(&mut self, kind: &str, key: String, full: &str, events: &mut Vec<UnifiedEvent>) {
        let so_far = self.parts.get(&key).cloned().unwrap_or_default();
        if let Some(rest) = missing(&so_far, full) {
            self.delivered(kind, key, &rest);
            events.push(delta_event(kind, rest));
        }
    }

    /// The deltas that make the whole answer what the terminal response says.
    fn reconcile_output(&mut self, output: &[Value], events: &mut Vec<UnifiedEvent>) {
        let c = candidate_from_output(output.to_vec(), None);
        if let Some(rest) = missing(&self.reasoning, &c.reasoning) {
            self.reasoning.push_str(&rest);
            events.push(delta_event("reasoning", rest));
        }
        if let Some(rest) = missing(&self.text, &c.text) {
            self.text.push_str(&rest);
            events.push(delta_event("text", rest));
        }
    }

    /// The index of the call an event is about (by item id, else output index); a new one when
    /// none matches.
    fn call(&mut self, obj: &Fields) -> u32 {
        let item_id = obj.get("item_id").and_then(Value::as_str);
        let out = obj.get("output_index").and_then(Value::as_u64);
        let pos = self
            .calls
            .iter()
            .position(|(id, _)| item_id.is_some() && id.as_deref() == item_id)
            .or_else(|| {
                self.calls
                    .iter()
                    .position(|(_, o)| out.is_some() && *o == out)
            });
        let pos = pos.unwrap_or_else(|| {
            self.calls.push((item_id.map(str::to_owned), out));
            self.calls.len() - 1
        });
        u32::try_from(pos).unwrap_or(u32::MAX)
    }
}

impl EventReader for ResponsesEventReader {
    type Chunk = ResponseStreamEvent;

    fn read(&mut self, event: &ResponseStreamEvent) -> Vec<UnifiedEvent> {
        let mut v = Value::Object(to_fields(event));
        let mut events = Vec::new();
        let kind = event.type_name().unwrap_or_default().to_owned();
        let Some(obj) = v.as_object_mut() else {
            return vec![UnifiedEvent::Passthrough {
                dialect: D,
                data: v,
            }];
        };
        match kind.as_str() {
            "response.created" | "response.queued" | "response.in_progress" => {
                self.meta(obj.get("response"), &mut events);
            }
            "response.output_item.added" => {
                let is_call = obj.get("item").is_some_and(|i| {
                    i.get("type").and_then(Value::as_str) == Some("function_call")
                });
                if is_call {
                    let item_id = obj
                        .get("item")
                        .and_then(|i| i.get("id"))
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    let out = obj.get("output_index").and_then(Value::as_u64);
                    self.calls.push((item_id, out));
                    let index = u32::try_from(self.calls.len() - 1).unwrap_or(u32::MAX);
                    if let Some(item) = obj.get_mut("item").and_then(Value::as_object_mut) {
                        let k = events.len();
                        let mut field = |key: &str| match item.get(key).and_then(Value::as_str) {
                            Some(s) => {
                                let s = s.to_owned();
                                item.insert(key.to_owned(), event_mark(k, Some(key_field(key))));
                                s
                            }
                            None => String::new(),
                        };
                        let id = field("call_id");
                        let name = field("name");
                        events.push(UnifiedEvent::ToolCallStart {
                            candidate: 0,
                            index,
                            id,
                            name,
                        });
                        if let Some(delta) = take_text(item, "arguments", events.len(), None) {
                            events.push(UnifiedEvent::ToolCallArguments {
                                candidate: 0,
                                index,
                                delta,
                            });
                        }
                    }
                }
            }
            "response.output_text.delta" => {
                let key = part_key("text", obj, "content_index");
                if let Some(text) = take_text(obj, "delta", events.len(), None) {
                    self.delivered("text", key, &text);
                    events.push(UnifiedEvent::TextDelta { candidate: 0, text });
                }
            }
            "response.reasoning_text.delta" | "response.reasoning_summary_text.delta" => {
                let index_key = if kind == "response.reasoning_text.delta" {
                    "content_index"
                } else {
                    "summary_index"
                };
                let key = part_key("reasoning", obj, index_key);
                if let Some(text) = take_text(obj, "delta", events.len(), None) {
                    self.delivered("reasoning", key, &text);
                    events.push(UnifiedEvent::ReasoningDelta { candidate: 0, text });
                }
            }
            "response.output_text.done"
            | "response.reasoning_text.done"
            | "response.reasoning_summary_text.done" => {
                let (what, index_key) = match kind.as_str() {
                    "response.output_text.done" => ("text", "content_index"),
                    "response.reasoning_text.done" => ("reasoning", "content_index"),
                    _ => ("reasoning", "summary_index"),
                };
                let key = part_key(what, obj, index_key);
                if let Some(full) = obj.get("text").and_then(Value::as_str).map(str::to_owned) {
                    self.reconcile(what, key, &full, &mut events);
                }
            }
            "response.function_call_arguments.delta" => {
                let index = self.call(obj);
                if let Some(delta) = take_text(obj, "delta", events.len(), None) {
                    events.push(UnifiedEvent::ToolCallArguments {
                        candidate: 0,
                        index,
                        delta,
                    });
                }
            }
            "response.function_call_arguments.done" => {
                let index = self.call(obj);
                if let Some(arguments) = obj.get("arguments").and_then(Value::as_str) {
                    let arguments = arguments.to_owned();
                    obj.insert("arguments".into(), event_mark(events.len(), None));
                    events.push(UnifiedEvent::ToolCallDone {
                        candidate: 0,
                        index,
                        arguments,
                    });
                }
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                self.meta(obj.get("response"), &mut events);
                let resp = obj.get_mut("response").and_then(Value::as_object_mut);
                if let Some(resp) = resp {
                    if let Some(output) = resp.get("output").and_then(Value::as_array) {
                        let output = output.clone();
                        self.reconcile_output(&output, &mut events);
                    }
                    if let Some(u) = resp.get("usage").filter(|u| u.is_object()).cloned() {
                        resp.insert("usage".into(), event_mark(events.len(), None));
                        events.push(UnifiedEvent::Usage(usage_from_responses(u)));
                    }
                    let has_calls = !self.calls.is_empty()
                        || resp
                            .get("output")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .any(|i| {
                                i.get("type").and_then(Value::as_str) == Some("function_call")
                            });
                    let reason = resp
                        .get("incomplete_details")
                        .and_then(|d| d.get("reason"))
                        .and_then(Value::as_str);
                    let status =
                        resp.get("status")
                            .and_then(Value::as_str)
                            .unwrap_or(match kind.as_str() {
                                "response.incomplete" => "incomplete",
                                "response.failed" => "failed",
                                _ => "completed",
                            });
                    if let Some(reason) = finish_of(status, reason, has_calls) {
                        events.push(UnifiedEvent::Finish {
                            candidate: 0,
                            reason,
                        });
                    }
                }
            }
            _ => {}
        }
        events.insert(
            0,
            UnifiedEvent::Passthrough {
                dialect: D,
                data: v,
            },
        );
        events
    }
}

fn delta_event(kind: &str, text: String) -> UnifiedEvent {
    if kind == "text" {
        UnifiedEvent::TextDelta { candidate: 0, text }
    } else {
        UnifiedEvent::ReasoningDelta { candidate: 0, text }
    }
}

/// The `ToolCallStart` field a function-call item member stands for.
fn key_field(key: &str) -> &'static str {
    if key == "call_id" { "id" } else { "name" }
}

/// The item being streamed.
#[derive(Clone, Debug)]
enum Open {
    Reasoning { out: usize, text: String },
    Message { out: usize, text: String },
}

/// One function call being streamed.
#[derive(Clone, Debug, Default)]
struct CallItem {
    out: usize,
    call_id: String,
    name: String,
    arguments: String,
    done: bool,
}

/// Turns unified events into [`ResponseStreamEvent`]s.
///
/// The canonical stream (events not from a Responses reader): `response.created` and
/// `response.in_progress`, then per item `output_item.added`, its deltas
/// (`reasoning_text.delta`, `output_text.delta` with `content_part.added`/`.done`,
/// `function_call_arguments.delta`), its done events and `output_item.done`, and at the end the
/// terminal event (`response.completed`, `.incomplete` for `length`/`content_filter`, `.failed`
/// for `error`) holding the whole response and its usage. Only candidate 0 is written.
#[derive(Clone, Debug, Default)]
pub struct ResponsesEventWriter {
    pending: Pending,
    seq: u64,
    started: bool,
    id: Option<String>,
    model: Option<String>,
    open: Option<Open>,
    items: BTreeMap<usize, Value>,
    next_out: usize,
    calls: BTreeMap<u32, CallItem>,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
}

impl ResponsesEventWriter {
    /// A writer at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    fn event(&mut self, kind: &str, mut body: Fields) -> Result<ResponseStreamEvent, ConvertError> {
        body.insert("type".into(), Value::from(kind));
        body.insert("sequence_number".into(), Value::from(self.seq));
        self.seq += 1;
        typed(D, Value::Object(body))
    }

    fn envelope(&self, status: &str) -> Value {
        let mut m = Fields::new();
        m.insert(
            "id".into(),
            Value::from(self.id.clone().unwrap_or_default()),
        );
        m.insert("object".into(), Value::from("response"));
        if let Some(model) = &self.model {
            m.insert("model".into(), Value::from(model.as_str()));
        }
        m.insert("status".into(), Value::from(status));
        m.insert("output".into(), json!([]));
        Value::Object(m)
    }

    fn start(&mut self, out: &mut Vec<ResponseStreamEvent>) -> Result<(), ConvertError> {
        if self.started {
            return Ok(());
        }
        self.started = true;
        for (kind, status) in [
            ("response.created", "queued"),
            ("response.in_progress", "in_progress"),
        ] {
            let mut b = Fields::new();
            b.insert("response".into(), self.envelope(status));
            out.push(self.event(kind, b)?);
        }
        Ok(())
    }

    fn item_id(out: usize) -> String {
        format!("msg_{out}")
    }

    fn body(pairs: Vec<(&str, Value)>) -> Fields {
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    fn close_open(&mut self, out: &mut Vec<ResponseStreamEvent>) -> Result<(), ConvertError> {
        match self.open.take() {
            None => {}
            Some(Open::Reasoning { out: ix, text }) => {
                let id = Self::item_id(ix);
                let b = Self::body(vec![
                    ("item_id", Value::from(id.as_str())),
                    ("output_index", Value::from(ix)),
                    ("text", Value::from(text.as_str())),
                ]);
                out.push(self.event("response.reasoning_text.done", b)?);
                let item = json!({"id": id, "type": "reasoning",
                    "summary": [{"type": "summary_text", "text": text}]});
                self.items.insert(ix, item.clone());
                let b = Self::body(vec![("output_index", Value::from(ix)), ("item", item)]);
                out.push(self.event("response.output_item.done", b)?);
            }
            Some(Open::Message { out: ix, text }) => {
                let id = Self::item_id(ix);
                let part = json!({"type": "output_text", "text": text, "annotations": []});
                let b = Self::body(vec![
                    ("item_id", Value::from(id.as_str())),
                    ("output_index", Value::from(ix)),
                    ("content_index", Value::from(0)),
                    ("text", Value::from(text.as_str())),
                    ("logprobs", json!([])),
                ]);
                out.push(self.event("response.output_text.done", b)?);
                let b = Self::body(vec![
                    ("item_id", Value::from(id.as_str())),
                    ("output_index", Value::from(ix)),
                    ("content_index", Value::from(0)),
                    ("part", part.clone()),
                ]);
                out.push(self.event("response.content_part.done", b)?);
                let item = json!({"id": id, "type": "message", "role": "assistant",
                    "status": "completed", "content": [part]});
                self.items.insert(ix, item.clone());
                let b = Self::body(vec![("output_index", Value::from(ix)), ("item", item)]);
                out.push(self.event("response.output_item.done", b)?);
            }
        }
        Ok(())
    }

    fn call_item(c: &CallItem, status: &str) -> Value {
        json!({"id": format!("fc_{}", c.out), "type": "function_call", "call_id": c.call_id,
            "name": c.name, "arguments": c.arguments, "status": status})
    }

    fn open_call(
        &mut self,
        index: u32,
        call_id: &str,
        name: &str,
        out: &mut Vec<ResponseStreamEvent>,
    ) -> Result<(), ConvertError> {
        self.close_open(out)?;
        let c = CallItem {
            out: self.next_out,
            call_id: call_id.to_owned(),
            name: name.to_owned(),
            ..Default::default()
        };
        self.next_out += 1;
        let b = Self::body(vec![
            ("output_index", Value::from(c.out)),
            ("item", Self::call_item(&c, "in_progress")),
        ]);
        self.calls.insert(index, c);
        out.push(self.event("response.output_item.added", b)?);
        Ok(())
    }

    fn close_call(
        &mut self,
        index: u32,
        arguments: Option<&str>,
        out: &mut Vec<ResponseStreamEvent>,
    ) -> Result<(), ConvertError> {
        let Some(c) = self.calls.get_mut(&index) else {
            return Ok(());
        };
        if c.done {
            return Ok(());
        }
        c.done = true;
        if let Some(a) = arguments {
            c.arguments = a.to_owned();
        }
        let c = c.clone();
        let b = Self::body(vec![
            ("item_id", Value::from(format!("fc_{}", c.out))),
            ("output_index", Value::from(c.out)),
            ("arguments", Value::from(c.arguments.as_str())),
        ]);
        out.push(self.event("response.function_call_arguments.done", b)?);
        let item = Self::call_item(&c, "completed");
        self.items.insert(c.out, item.clone());
        let b = Self::body(vec![("output_index", Value::from(c.out)), ("item", item)]);
        out.push(self.event("response.output_item.done", b)?);
        Ok(())
    }

    fn delta(
        &mut self,
        reasoning: bool,
        text: &str,
        out: &mut Vec<ResponseStreamEvent>,
    ) -> Result<(), ConvertError> {
        let same = matches!(
            (&self.open, reasoning),
            (Some(Open::Reasoning { .. }), true) | (Some(Open::Message { .. }), false)
        );
        if !same {
            self.close_open(out)?;
            let ix = self.next_out;
            self.next_out += 1;
            let id = Self::item_id(ix);
            let item = if reasoning {
                json!({"id": id, "type": "reasoning", "summary": []})
            } else {
                json!({"id": id, "type": "message", "role": "assistant",
                    "status": "in_progress", "content": []})
            };
            let b = Self::body(vec![("output_index", Value::from(ix)), ("item", item)]);
            out.push(self.event("response.output_item.added", b)?);
            if !reasoning {
                let b = Self::body(vec![
                    ("item_id", Value::from(id.as_str())),
                    ("output_index", Value::from(ix)),
                    ("content_index", Value::from(0)),
                    (
                        "part",
                        json!({"type": "output_text", "text": "", "annotations": []}),
                    ),
                ]);
                out.push(self.event("response.content_part.added", b)?);
            }
            self.open = Some(if reasoning {
                Open::Reasoning {
                    out: ix,
                    text: String::new(),
                }
            } else {
                Open::Message {
                    out: ix,
                    text: String::new(),
                }
            });
        }
        let ix = match &mut self.open {
            Some(Open::Reasoning { out, text: t } | Open::Message { out, text: t }) => {
                t.push_str(text);
                *out
            }
            None => return Ok(()),
        };
        let mut b = Self::body(vec![
            ("item_id", Value::from(Self::item_id(ix))),
            ("output_index", Value::from(ix)),
            ("delta", Value::from(text)),
        ]);
        let kind = if reasoning {
            "response.reasoning_text.delta"
        } else {
            b.insert("content_index".into(), Value::from(0));
            b.insert("logprobs".into(), json!([]));
            "response.output_text.delta"
        };
        out.push(self.event(kind, b)?);
        Ok(())
    }

    fn fill(
        group: Option<(Value, Vec<UnifiedEvent>)>,
    ) -> Result<Vec<ResponseStreamEvent>, ConvertError> {
        let Some((mut data, events)) = group else {
            return Ok(Vec::new());
        };
        fill_events(&mut data, &events, &usage_to_responses);
        Ok(vec![typed(D, data)?])
    }
}

impl EventWriter for ResponsesEventWriter {
    type Chunk = ResponseStreamEvent;

    fn push(&mut self, event: &UnifiedEvent) -> Result<Vec<ResponseStreamEvent>, ConvertError> {
        if let UnifiedEvent::Passthrough { dialect, data } = event {
            if *dialect == D {
                return Self::fill(self.pending.open(data.clone()));
            }
            return Ok(Vec::new());
        }
        if self.pending.is_open() {
            self.pending.push(event.clone());
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        match event {
            UnifiedEvent::Meta { id, model } => {
                if id.is_some() {
                    self.id.clone_from(id);
                }
                if model.is_some() {
                    self.model.clone_from(model);
                }
                return Ok(out);
            }
            UnifiedEvent::Usage(u) => {
                self.usage = Some(u.clone());
                return Ok(out);
            }
            _ => {}
        }
        let candidate = match event {
            UnifiedEvent::TextDelta { candidate, .. }
            | UnifiedEvent::ReasoningDelta { candidate, .. }
            | UnifiedEvent::ToolCallStart { candidate, .. }
            | UnifiedEvent::ToolCallArguments { candidate, .. }
            | UnifiedEvent::ToolCallDone { candidate, .. }
            | UnifiedEvent::Finish { candidate, .. } => *candidate,
            _ => 0,
        };
        if candidate != 0 {
            return Ok(out);
        }
        self.start(&mut out)?;
        match event {
            UnifiedEvent::TextDelta { text, .. } => self.delta(false, text, &mut out)?,
            UnifiedEvent::ReasoningDelta { text, .. } => self.delta(true, text, &mut out)?,
            UnifiedEvent::ToolCallStart {
                index, id, name, ..
            } => {
                self.open_call(*index, id, name, &mut out)?;
            }
            UnifiedEvent::ToolCallArguments { index, delta, .. } => {
                if !self.calls.contains_key(index) {
                    self.open_call(*index, "", "", &mut out)?;
                }
                let c = self.calls.get_mut(index).map(|c| {
                    c.arguments.push_str(delta);
                    c.out
                });
                if let Some(ix) = c {
                    let b = Self::body(vec![
                        ("item_id", Value::from(format!("fc_{ix}"))),
                        ("output_index", Value::from(ix)),
                        ("delta", Value::from(delta.as_str())),
                    ]);
                    out.push(self.event("response.function_call_arguments.delta", b)?);
                }
            }
            UnifiedEvent::ToolCallDone {
                index, arguments, ..
            } => self.close_call(*index, Some(arguments), &mut out)?,
            UnifiedEvent::Finish { reason, .. } => {
                self.close_open(&mut out)?;
                let open: Vec<u32> = self.calls.keys().copied().collect();
                for i in open {
                    self.close_call(i, None, &mut out)?;
                }
                self.finish = Some(reason.clone());
            }
            _ => {}
        }
        Ok(out)
    }

    fn finish(&mut self) -> Result<Vec<ResponseStreamEvent>, ConvertError> {
        let mut out = Self::fill(self.pending.take())?;
        let Some(reason) = self.finish.take() else {
            return Ok(out);
        };
        self.start(&mut out)?;
        let status = status_of(&reason).to_owned();
        let mut resp = match self.envelope(&status) {
            Value::Object(m) => m,
            _ => Fields::new(),
        };
        resp.insert(
            "output".into(),
            Value::Array(self.items.values().cloned().collect()),
        );
        if let Some(d) = incomplete_details(&reason) {
            resp.insert("incomplete_details".into(), d);
        }
        if let Some(u) = &self.usage {
            resp.insert("usage".into(), usage_to_responses(u));
        }
        let kind = match status.as_str() {
            "incomplete" => "response.incomplete",
            "failed" => "response.failed",
            _ => "response.completed",
        };
        let b = Self::body(vec![("response", Value::Object(resp))]);
        out.push(self.event(kind, b)?);
        Ok(out)
    }
}
