//! Native generation ⇄ unified: [`GenerationRequest`], [`GenerationResponse`] and native
//! streams (incremental or cumulative, message or text format).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::ConvertError;
use super::chat::{
    close_calls, count, detail, fragment_index, read_content, read_fragments, read_start,
    write_content, write_detail,
};
use super::events::{EventReader, EventWriter, Pending, UnifiedEvent, fill_events, take_text};
use super::extras::{
    Extras, Fields, In, MARK, Out, event_mark, fill_len_marks, fill_markers, float, len_mark,
    to_fields,
};
use super::model::{
    AudioPart, Candidate, Conversation, FinishReason, ImagePart, Message, Part, Role, TextPart,
    UnifiedResponse, Usage, VideoPart, VideoSource,
};
use super::shared::{
    dialect_part, dialect_value, read_sampling, read_thinking, response_format_from_nested,
    response_format_to_nested, string_form, tool_call_from_nested, tool_call_to_nested,
    tool_choice_from_nested, tool_choice_to_nested, tool_from_nested, tool_to_nested, typed,
    unsupported, write_sampling, write_thinking,
};
use crate::cassette::Dialect;
use crate::native::{GenerationRequest, GenerationResponse};

const D: Dialect = Dialect::Native;

impl Conversation {
    /// The conversation of a native request (lossless: [`to_native`](Self::to_native) gives the
    /// same request back). An `input.prompt` reads as one user message.
    pub fn from_native(request: &GenerationRequest) -> Self {
        let mut r = In::of(to_fields(request));
        let model = r.str("model").unwrap_or_default();
        let mut messages = Vec::new();
        if let Some(mut i) = r.obj_or_absent("input") {
            if let Some(prompt) = i.str("prompt") {
                messages.push(Message::user(prompt));
                r.form("input", Value::from("prompt"));
            } else if let Some(list) = i.array("messages") {
                messages = list.into_iter().map(message_from_native).collect();
            } else if !i.has("messages") {
                i.absent("messages");
            }
            r.nested("input", i, true);
        }
        let mut conv = Conversation {
            model,
            messages,
            ..Default::default()
        };
        match r.obj("parameters") {
            Some(mut p) => {
                conv.sampling = read_sampling(&mut p);
                conv.thinking = read_thinking(&mut p);
                conv.tools = p
                    .nonempty_array("tools")
                    .unwrap_or_default()
                    .into_iter()
                    .map(|t| tool_from_nested(t, D))
                    .collect();
                conv.tool_choice = p.take_if("tool_choice", tool_choice_from_nested);
                conv.parallel_tool_calls = p.bool("parallel_tool_calls");
                conv.response_format =
                    p.take_if("response_format", |v| response_format_from_nested(v, false));
                r.nested("parameters", p, true);
            }
            None if !r.has("parameters") => r.absent("parameters"),
            None => {}
        }
        conv.extras = Extras::of(D, r.finish());
        conv
    }

    /// The native request of this conversation. `stream` and `include_usage` are not written:
    /// native streaming is switched on by the `X-DashScope-SSE: enable` header, and native
    /// streams always carry the usage.
    ///
    /// # Errors
    ///
    /// [`ConvertError::Unsupported`] for an image `detail`, an audio `format`, or a part or tool
    /// of another dialect; [`ConvertError::Wire`] when the native extras do not fit.
    pub fn to_native(&self) -> Result<GenerationRequest, ConvertError> {
        let mut o = Out::from(&self.extras.native);
        o.put("model", self.model.as_str());
        let mut input = o.child("input");
        let prompt = if o.form_str("input") == Some("prompt") {
            prompt_of(&self.messages)
        } else {
            None
        };
        match prompt {
            Some(p) => input.put("prompt", p),
            None => {
                let list = self
                    .messages
                    .iter()
                    .map(message_to_native)
                    .collect::<Result<Vec<_>, _>>()?;
                let empty = list.is_empty();
                input.put_default("messages", list, empty);
            }
        }
        o.put_child("input", input, true);
        let mut p = o.child("parameters");
        write_sampling(&mut p, &self.sampling);
        write_thinking(&mut p, &self.thinking);
        if !self.tools.is_empty() {
            let tools = self
                .tools
                .iter()
                .map(|t| tool_to_nested(t, D))
                .collect::<Result<Vec<_>, _>>()?;
            p.put("tools", tools);
        }
        p.put_opt(
            "tool_choice",
            self.tool_choice.as_ref().map(tool_choice_to_nested),
        );
        p.put_opt("parallel_tool_calls", self.parallel_tool_calls);
        p.put_opt(
            "response_format",
            self.response_format
                .as_ref()
                .map(|f| response_format_to_nested(f, false)),
        );
        let present = !(p.is_empty() && o.absent("parameters"));
        o.put_child("parameters", p, present);
        typed(D, o.finish())
    }
}

/// The prompt text when the conversation is one plain user message.
fn prompt_of(messages: &[Message]) -> Option<&str> {
    match messages {
        [m] if m.role == Role::User
            && m.reasoning.is_none()
            && m.tool_calls.is_empty()
            && m.tool_call_id.is_none()
            && m.name.is_none()
            && !m.partial
            && m.extras.native.is_empty() =>
        {
            string_form(&m.parts, D)
        }
        _ => None,
    }
}

fn message_from_native(v: Value) -> Message {
    let mut r = In::value(v);
    let role = match r.str("role") {
        Some(s) => Role::from(s),
        None => {
            if !r.has("role") {
                r.absent("role");
            }
            Role::User
        }
    };
    let parts = read_content(&mut r, D, part_from_native);
    let reasoning = r.str("reasoning_content");
    let tool_calls = r
        .nonempty_array("tool_calls")
        .unwrap_or_default()
        .into_iter()
        .map(|t| tool_call_from_nested(t, D))
        .collect();
    let partial = r
        .take_if("partial", |v| (v.as_bool() == Some(true)).then_some(()))
        .is_some();
    let tool_call_id = r.str("tool_call_id");
    let name = r.str("name");
    Message {
        role,
        parts,
        reasoning,
        tool_calls,
        tool_call_id,
        name,
        partial,
        extras: Extras::of(D, r.finish()),
    }
}

fn message_to_native(m: &Message) -> Result<Value, ConvertError> {
    let mut o = Out::from(&m.extras.native);
    o.put_default("role", m.role.as_str(), m.role == Role::User);
    write_content(&mut o, &m.parts, D, part_to_native)?;
    o.put_opt("reasoning_content", m.reasoning.as_deref());
    if !m.tool_calls.is_empty() {
        let calls: Vec<Value> = m
            .tool_calls
            .iter()
            .map(|t| tool_call_to_nested(t, D))
            .collect();
        o.put("tool_calls", calls);
    }
    if m.partial {
        o.put("partial", true);
    }
    o.put_opt("tool_call_id", m.tool_call_id.as_deref());
    o.put_opt("name", m.name.as_deref());
    Ok(o.finish())
}

const MEDIA_KEYS: [&str; 4] = ["text", "image", "audio", "video"];

fn part_from_native(v: Value) -> Part {
    let kind = match v.as_object() {
        Some(m) => {
            let present: Vec<&str> = MEDIA_KEYS
                .iter()
                .copied()
                .filter(|k| m.contains_key(*k))
                .collect();
            match present.as_slice() {
                [k] => {
                    let ok = match m.get(*k) {
                        Some(Value::String(_)) => true,
                        Some(Value::Array(a)) => *k == "video" && a.iter().all(Value::is_string),
                        _ => false,
                    };
                    ok.then_some(*k)
                }
                _ => None,
            }
        }
        None => None,
    };
    let Some(kind) = kind else {
        return dialect_part(D, v);
    };
    let mut r = In::value(v);
    match kind {
        "text" => {
            let text = r.str("text").unwrap_or_default();
            Part::Text(TextPart {
                text,
                extras: Extras::of(D, r.finish()),
            })
        }
        "image" => {
            let url = r.str("image").unwrap_or_default();
            Part::Image(ImagePart {
                url,
                detail: None,
                min_pixels: r.u64("min_pixels"),
                max_pixels: r.u64("max_pixels"),
                extras: Extras::of(D, r.finish()),
            })
        }
        "audio" => {
            let url = r.str("audio").unwrap_or_default();
            Part::Audio(AudioPart {
                url,
                format: None,
                extras: Extras::of(D, r.finish()),
            })
        }
        _ => {
            let source = match r.take("video") {
                Some(Value::String(u)) => VideoSource::Url(u),
                Some(Value::Array(a)) => VideoSource::Frames(
                    a.into_iter()
                        .filter_map(|f| f.as_str().map(str::to_owned))
                        .collect(),
                ),
                _ => VideoSource::default(),
            };
            Part::Video(VideoPart {
                source,
                fps: r.f64("fps"),
                min_pixels: r.u64("min_pixels"),
                max_pixels: r.u64("max_pixels"),
                total_pixels: r.u64("total_pixels"),
                extras: Extras::of(D, r.finish()),
            })
        }
    }
}

fn part_to_native(p: &Part) -> Result<Value, ConvertError> {
    Ok(match p {
        Part::Text(t) => {
            let mut o = Out::from(&t.extras.native);
            o.put("text", t.text.as_str());
            o.finish()
        }
        Part::Image(i) => {
            if i.detail.is_some() {
                return Err(unsupported(D, "an image detail hint"));
            }
            let mut o = Out::from(&i.extras.native);
            o.put("image", i.url.as_str());
            o.put_opt("min_pixels", i.min_pixels);
            o.put_opt("max_pixels", i.max_pixels);
            o.finish()
        }
        Part::Audio(a) => {
            if a.format.is_some() {
                return Err(unsupported(
                    D,
                    "an audio format (give the audio as a data: URI instead)",
                ));
            }
            let mut o = Out::from(&a.extras.native);
            o.put("audio", a.url.as_str());
            o.finish()
        }
        Part::Video(v) => {
            let mut o = Out::from(&v.extras.native);
            match &v.source {
                VideoSource::Url(u) => o.put("video", u.as_str()),
                VideoSource::Frames(f) => o.put("video", f.clone()),
            }
            o.put_opt("fps", v.fps.map(float));
            o.put_opt("min_pixels", v.min_pixels);
            o.put_opt("max_pixels", v.max_pixels);
            o.put_opt("total_pixels", v.total_pixels);
            o.finish()
        }
        Part::Dialect(dv) => dialect_value(dv, D, "content part")?,
    })
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

/// A final finish reason (`"null"`, the not-finished marker of stream chunks, is not one).
fn final_reason(v: &Value) -> Option<FinishReason> {
    v.as_str().filter(|s| *s != "null").map(FinishReason::from)
}

/// Native usage → unified.
pub(crate) fn usage_from_native(v: Value) -> Usage {
    let mut r = In::value(v);
    let input_tokens = count(&mut r, "input_tokens");
    let output_tokens = count(&mut r, "output_tokens");
    let total_tokens = r.u64("total_tokens").unwrap_or_else(|| {
        if !r.has("total_tokens") {
            r.absent("total_tokens");
        }
        input_tokens.saturating_add(output_tokens)
    });
    let reasoning_tokens = detail(&mut r, "output_tokens_details", "reasoning_tokens");
    let mut cached_tokens = detail(&mut r, "prompt_tokens_details", "cached_tokens");
    let in_input = r
        .peek("input_tokens_details")
        .and_then(|d| d.get("cached_tokens"))
        .is_some_and(Value::is_u64);
    if cached_tokens.is_none() && in_input {
        cached_tokens = detail(&mut r, "input_tokens_details", "cached_tokens");
        r.form("cached", Value::from("input_tokens_details"));
    }
    Usage {
        input_tokens,
        output_tokens,
        total_tokens,
        reasoning_tokens,
        cached_tokens,
        extras: Extras::of(D, r.finish()),
    }
}

/// Unified usage → native.
pub(crate) fn usage_to_native(u: &Usage) -> Value {
    let mut o = Out::from(&u.extras.native);
    o.put_default("input_tokens", u.input_tokens, u.input_tokens == 0);
    o.put_default("output_tokens", u.output_tokens, u.output_tokens == 0);
    o.put_default(
        "total_tokens",
        u.total_tokens,
        u.total_tokens == u.input_tokens.saturating_add(u.output_tokens),
    );
    write_detail(
        &mut o,
        "output_tokens_details",
        "reasoning_tokens",
        u.reasoning_tokens,
    );
    if o.form_str("cached") == Some("input_tokens_details") {
        write_detail(
            &mut o,
            "input_tokens_details",
            "cached_tokens",
            u.cached_tokens,
        );
        write_detail(&mut o, "prompt_tokens_details", "cached_tokens", None);
    } else {
        write_detail(
            &mut o,
            "prompt_tokens_details",
            "cached_tokens",
            u.cached_tokens,
        );
    }
    o.finish()
}

fn candidate_from_native(pos: usize, v: Value) -> Candidate {
    let mut r = In::value(v);
    let pos32 = u32::try_from(pos).unwrap_or(u32::MAX);
    let index = match r
        .peek("index")
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
    {
        Some(i) if i == pos32 => i,
        Some(i) => {
            r.take("index");
            i
        }
        None => pos32,
    };
    let finish_reason = r.take_if("finish_reason", final_reason);
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut tool_calls = Vec::new();
    if let Some(mut m) = r.obj_or_absent("message") {
        m.konst("role", "assistant");
        match m.peek("content") {
            Some(Value::String(_)) => text = m.str("content").unwrap_or_default(),
            Some(Value::Array(_)) => {
                let items = m.array("content").unwrap_or_default();
                let mut layout = Vec::with_capacity(items.len());
                for mut item in items {
                    if let Some(t) = item.get("text").and_then(Value::as_str).map(str::to_owned) {
                        item["text"] = len_mark("text", t.len());
                        text.push_str(&t);
                    }
                    layout.push(item);
                }
                m.form("content", Value::Array(layout));
            }
            None => m.absent("content"),
            Some(_) => {}
        }
        reasoning = m.nonempty_str("reasoning_content").unwrap_or_default();
        tool_calls = m
            .nonempty_array("tool_calls")
            .unwrap_or_default()
            .into_iter()
            .map(|t| tool_call_from_nested(t, D))
            .collect();
        r.nested("message", m, true);
    }
    Candidate {
        index,
        text,
        reasoning,
        tool_calls,
        finish_reason,
        extras: Extras::of(D, r.finish()),
    }
}

fn candidate_to_native(pos: usize, c: &Candidate) -> Value {
    let mut o = Out::from(&c.extras.native);
    if usize::try_from(c.index).ok() != Some(pos) {
        o.put("index", c.index);
    }
    o.put_opt(
        "finish_reason",
        c.finish_reason.as_ref().map(FinishReason::as_str),
    );
    let mut m = o.child("message");
    m.konst("role", "assistant");
    match m.form("content") {
        Some(Value::Array(layout)) => {
            let mut list = Value::Array(layout.clone());
            if !fill_len_marks(&mut list, "text", &c.text) && !c.text.is_empty() {
                if let Value::Array(items) = &mut list {
                    items.insert(0, json!({"text": c.text}));
                }
            }
            m.put("content", list);
        }
        _ => m.put_default("content", c.text.as_str(), c.text.is_empty()),
    }
    if !c.reasoning.is_empty() {
        m.put("reasoning_content", c.reasoning.as_str());
    }
    if !c.tool_calls.is_empty() {
        let calls: Vec<Value> = c
            .tool_calls
            .iter()
            .map(|t| tool_call_to_nested(t, D))
            .collect();
        m.put("tool_calls", calls);
    }
    o.put_child("message", m, true);
    o.finish()
}

impl UnifiedResponse {
    /// The answer of a native response, in the text (`output.text`) or message
    /// (`output.choices`) format (lossless: [`to_native`](Self::to_native) gives the same
    /// response back). Native answers carry no model name.
    pub fn from_native(response: &GenerationResponse) -> Self {
        let mut r = In::of(to_fields(response));
        let id = r.str("request_id");
        let mut candidates = Vec::new();
        if let Some(mut o) = r.obj("output") {
            if o.peek("text").is_some_and(Value::is_string) {
                let text = o.str("text").unwrap_or_default();
                let finish_reason = o.take_if("finish_reason", final_reason);
                candidates.push(Candidate {
                    text,
                    finish_reason,
                    ..Default::default()
                });
                r.form("format", Value::from("text"));
            } else if let Some(choices) = o.array("choices") {
                candidates = choices
                    .into_iter()
                    .enumerate()
                    .map(|(pos, c)| candidate_from_native(pos, c))
                    .collect();
            } else if !o.has("choices") {
                o.absent("choices");
            }
            r.nested("output", o, true);
        } else if !r.has("output") {
            r.absent("output");
        }
        let usage = r.take_if("usage", |v| {
            v.is_object().then(|| usage_from_native(v.clone()))
        });
        UnifiedResponse {
            id,
            model: None,
            candidates,
            usage,
            extras: Extras::of(D, r.finish()),
        }
    }

    /// The native response of this answer (`request_id` is the id; the message format unless
    /// the answer was read from the text format).
    ///
    /// # Errors
    ///
    /// [`ConvertError::Wire`] when the native extras do not fit the response type.
    pub fn to_native(&self) -> Result<GenerationResponse, ConvertError> {
        let mut o = Out::from(&self.extras.native);
        o.put_opt("request_id", self.id.as_deref());
        if self.candidates.is_empty() && (o.absent("output") || o.has("output")) {
            o.put_opt("usage", self.usage.as_ref().map(usage_to_native));
            return typed(D, o.finish());
        }
        let mut out = o.child("output");
        let text_format = o.form_str("format") == Some("text");
        match self.candidates.as_slice() {
            [c] if text_format && c.reasoning.is_empty() && c.tool_calls.is_empty() => {
                out.put("text", c.text.as_str());
                out.put_opt(
                    "finish_reason",
                    c.finish_reason.as_ref().map(FinishReason::as_str),
                );
            }
            cands => {
                let choices: Vec<Value> = cands
                    .iter()
                    .enumerate()
                    .map(|(pos, c)| candidate_to_native(pos, c))
                    .collect();
                let empty = choices.is_empty();
                out.put_default("choices", choices, empty);
            }
        }
        o.put_child("output", out, true);
        o.put_opt("usage", self.usage.as_ref().map(usage_to_native));
        typed(D, o.finish())
    }
}

// ---------------------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------------------

/// A marker for "the whole `kind` so far" (cumulative streams).
fn so_far_mark(kind: &str, candidate: u32, index: Option<u32>) -> Value {
    let mut m = Map::new();
    m.insert(MARK.into(), Value::from("so_far"));
    m.insert("kind".into(), Value::from(kind));
    m.insert("candidate".into(), Value::from(candidate));
    if let Some(i) = index {
        m.insert("index".into(), Value::from(i));
    }
    Value::Object(m)
}

/// Merges a cumulative value into `acc`; returns what is new (the rule of the native
/// accumulator: a repetition of all so far adds its suffix, a shorter repetition adds nothing,
/// anything else is taken as a delta).
fn merge_cumulative(acc: &mut String, new: &str) -> String {
    if let Some(suffix) = new.strip_prefix(acc.as_str()) {
        let s = suffix.to_owned();
        acc.push_str(suffix);
        s
    } else if acc.starts_with(new) {
        String::new()
    } else {
        acc.push_str(new);
        new.to_owned()
    }
}

/// Turns native stream chunks into unified events.
///
/// Build it for the request's `incremental_output` ([`new`](Self::new)`(false)` for a
/// cumulative stream, whose repeated text becomes deltas). Both result formats are read; the
/// chunk whose `finish_reason` is not `"null"` gives a `ToolCallDone` per open call and
/// `Finish`; every chunk with a non-empty usage gives `Usage` (cumulative counts).
#[derive(Clone, Debug)]
pub struct NativeEventReader {
    incremental: bool,
    meta: Option<String>,
    text: BTreeMap<u32, String>,
    reasoning: BTreeMap<u32, String>,
    args: BTreeMap<(u32, u32), String>,
    started: BTreeSet<(u32, u32)>,
    open: BTreeMap<(u32, u32), String>,
}

impl Default for NativeEventReader {
    fn default() -> Self {
        Self::new(true)
    }
}

impl NativeEventReader {
    /// A reader for an incremental (`true`) or cumulative (`false`) stream.
    pub fn new(incremental: bool) -> Self {
        NativeEventReader {
            incremental,
            meta: None,
            text: BTreeMap::new(),
            reasoning: BTreeMap::new(),
            args: BTreeMap::new(),
            started: BTreeSet::new(),
            open: BTreeMap::new(),
        }
    }

    /// A reader for the stream of `request` (cumulative only if it says
    /// `incremental_output: false`).
    pub fn for_request(request: &GenerationRequest) -> Self {
        Self::new(request.is_incremental())
    }

    /// Reads a text or reasoning member (`kind` is `text` or `reasoning`).
    fn slot(
        &mut self,
        obj: &mut Fields,
        key: &str,
        kind: &str,
        candidate: u32,
        events: &mut Vec<UnifiedEvent>,
    ) {
        let event = |text: String| {
            if kind == "text" {
                UnifiedEvent::TextDelta { candidate, text }
            } else {
                UnifiedEvent::ReasoningDelta { candidate, text }
            }
        };
        if self.incremental {
            if let Some(text) = take_text(obj, key, events.len(), None) {
                events.push(event(text));
            }
            return;
        }
        let Some(s) = obj.get(key).and_then(Value::as_str).map(str::to_owned) else {
            return;
        };
        let acc = if kind == "text" {
            self.text.entry(candidate).or_default()
        } else {
            self.reasoning.entry(candidate).or_default()
        };
        let new = merge_cumulative(acc, &s);
        let exact = *acc == s;
        if !new.is_empty() {
            events.push(event(new));
        }
        if exact {
            obj.insert(key.to_owned(), so_far_mark(kind, candidate, None));
        }
    }

    fn list(&mut self, items: &mut [Value], candidate: u32, events: &mut Vec<UnifiedEvent>) {
        if self.incremental {
            for item in items {
                if let Some(obj) = item.as_object_mut() {
                    if let Some(text) = take_text(obj, "text", events.len(), None) {
                        events.push(UnifiedEvent::TextDelta { candidate, text });
                    }
                }
            }
            return;
        }
        let joined: String = items
            .iter()
            .filter_map(|i| i.get("text").and_then(Value::as_str))
            .collect();
        let new = merge_cumulative(self.text.entry(candidate).or_default(), &joined);
        if !new.is_empty() {
            events.push(UnifiedEvent::TextDelta {
                candidate,
                text: new,
            });
        }
    }

    fn cumulative_fragments(
        &mut self,
        candidate: u32,
        frags: &mut [Value],
        events: &mut Vec<UnifiedEvent>,
    ) {
        for (pos, frag) in frags.iter_mut().enumerate() {
            let Some(f) = frag.as_object_mut() else {
                continue;
            };
            let index = fragment_index(f, pos);
            let key = (candidate, index);
            read_start(
                candidate,
                index,
                f,
                events,
                &mut self.started,
                &mut self.open,
            );
            let Some(func) = f.get_mut("function").and_then(Value::as_object_mut) else {
                continue;
            };
            let Some(s) = func
                .get("arguments")
                .and_then(Value::as_str)
                .map(str::to_owned)
            else {
                continue;
            };
            let acc = self.args.entry(key).or_default();
            let new = merge_cumulative(acc, &s);
            let exact = *acc == s;
            self.open.insert(key, acc.clone());
            if !new.is_empty() {
                events.push(UnifiedEvent::ToolCallArguments {
                    candidate,
                    index,
                    delta: new,
                });
            }
            if exact {
                func.insert(
                    "arguments".into(),
                    so_far_mark("arguments", candidate, Some(index)),
                );
            }
        }
    }

    fn finish_of(&mut self, obj: &mut Fields, candidate: u32, events: &mut Vec<UnifiedEvent>) {
        if let Some(reason) = obj.get("finish_reason").and_then(final_reason) {
            close_calls(candidate, events, &mut self.open);
            obj.insert("finish_reason".into(), event_mark(events.len(), None));
            events.push(UnifiedEvent::Finish { candidate, reason });
        }
    }
}

impl EventReader for NativeEventReader {
    type Chunk = GenerationResponse;

    fn read(&mut self, chunk: &GenerationResponse) -> Vec<UnifiedEvent> {
        let mut v = Value::Object(to_fields(chunk));
        let mut events = Vec::new();
        if let Some(id) = &chunk.request_id {
            if self.meta.as_ref() != Some(id) {
                events.push(UnifiedEvent::Meta {
                    id: Some(id.clone()),
                    model: None,
                });
                self.meta = Some(id.clone());
            }
        }
        if let Some(out) = v.get_mut("output").and_then(Value::as_object_mut) {
            self.slot(out, "text", "text", 0, &mut events);
            if let Some(choices) = out.get_mut("choices").and_then(Value::as_array_mut) {
                for (pos, choice) in choices.iter_mut().enumerate() {
                    let Some(c) = choice.as_object_mut() else {
                        continue;
                    };
                    let candidate = c
                        .get("index")
                        .and_then(Value::as_u64)
                        .and_then(|n| u32::try_from(n).ok())
                        .unwrap_or(u32::try_from(pos).unwrap_or(u32::MAX));
                    if let Some(m) = c.get_mut("message").and_then(Value::as_object_mut) {
                        self.slot(m, "reasoning_content", "reasoning", candidate, &mut events);
                        if m.get("content").is_some_and(Value::is_string) {
                            self.slot(m, "content", "text", candidate, &mut events);
                        } else if let Some(items) =
                            m.get_mut("content").and_then(Value::as_array_mut)
                        {
                            self.list(items, candidate, &mut events);
                        }
                        if let Some(frags) = m.get_mut("tool_calls").and_then(Value::as_array_mut) {
                            if self.incremental {
                                read_fragments(
                                    candidate,
                                    frags,
                                    &mut events,
                                    &mut self.started,
                                    &mut self.open,
                                );
                            } else {
                                self.cumulative_fragments(candidate, frags, &mut events);
                            }
                        }
                    }
                    self.finish_of(c, candidate, &mut events);
                }
            }
            self.finish_of(out, 0, &mut events);
        }
        if let Some(u) = v
            .get("usage")
            .filter(|u| u.as_object().is_some_and(|m| !m.is_empty()))
            .cloned()
        {
            v["usage"] = event_mark(events.len(), None);
            events.push(UnifiedEvent::Usage(usage_from_native(u)));
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

/// How a native stream is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NativeStreamOptions {
    /// `incremental_output: false`: every chunk repeats everything so far.
    pub cumulative: bool,
    /// `result_format: text`: `output.text` chunks (text only; reasoning and tool calls cannot
    /// be written in this format).
    pub text_format: bool,
}

/// Turns unified events into native stream chunks.
///
/// The canonical stream: one chunk per delta in the message format (`finish_reason: "null"`,
/// `role: assistant`, `content: ""` beside reasoning and tool-call fragments; deltas, or
/// everything so far when cumulative), each carrying the usage known so far and the request id;
/// the finish chunk is held back until the usage that may follow it has arrived.
#[derive(Clone, Debug, Default)]
pub struct NativeEventWriter {
    options: NativeStreamOptions,
    pending: Pending,
    id: Option<String>,
    usage: Option<Usage>,
    text: BTreeMap<u32, String>,
    reasoning: BTreeMap<u32, String>,
    calls: BTreeMap<(u32, u32), (String, String, String)>,
    held: Option<(u32, FinishReason)>,
}

impl NativeEventWriter {
    /// A writer for an incremental message-format stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// A writer with `options`.
    pub fn with_options(options: NativeStreamOptions) -> Self {
        NativeEventWriter {
            options,
            ..Self::default()
        }
    }

    /// A writer for the stream `request` asks for (its `incremental_output` and
    /// `result_format`).
    pub fn for_request(request: &GenerationRequest) -> Self {
        let text_format = request
            .parameters
            .as_ref()
            .and_then(|p| p.result_format.as_ref())
            .is_some_and(|f| f.as_str() == "text");
        Self::with_options(NativeStreamOptions {
            cumulative: !request.is_incremental(),
            text_format,
        })
    }

    /// Folds an event into the running totals.
    fn track(&mut self, e: &UnifiedEvent) {
        match e {
            UnifiedEvent::Meta { id: Some(id), .. } => self.id = Some(id.clone()),
            UnifiedEvent::TextDelta { candidate, text } => {
                self.text.entry(*candidate).or_default().push_str(text);
            }
            UnifiedEvent::ReasoningDelta { candidate, text } => {
                self.reasoning.entry(*candidate).or_default().push_str(text);
            }
            UnifiedEvent::ToolCallStart {
                candidate,
                index,
                id,
                name,
            } => {
                let c = self.calls.entry((*candidate, *index)).or_default();
                c.0.clone_from(id);
                c.1.clone_from(name);
            }
            UnifiedEvent::ToolCallArguments {
                candidate,
                index,
                delta,
            } => self
                .calls
                .entry((*candidate, *index))
                .or_default()
                .2
                .push_str(delta),
            UnifiedEvent::ToolCallDone {
                candidate,
                index,
                arguments,
            } => self
                .calls
                .entry((*candidate, *index))
                .or_default()
                .2
                .clone_from(arguments),
            UnifiedEvent::Usage(u) => self.usage = Some(u.clone()),
            _ => {}
        }
    }

    fn fill(
        &mut self,
        group: Option<(Value, Vec<UnifiedEvent>)>,
    ) -> Result<Vec<GenerationResponse>, ConvertError> {
        let Some((mut data, events)) = group else {
            return Ok(Vec::new());
        };
        for e in &events {
            self.track(e);
        }
        fill_events(&mut data, &events, &usage_to_native);
        fill_markers(&mut data, &mut |m| {
            if m.get(MARK).and_then(Value::as_str) != Some("so_far") {
                return None;
            }
            let candidate = m
                .get("candidate")
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())?;
            let s = match m.get("kind").and_then(Value::as_str)? {
                "text" => self.text.get(&candidate).cloned().unwrap_or_default(),
                "reasoning" => self.reasoning.get(&candidate).cloned().unwrap_or_default(),
                _ => {
                    let index = m
                        .get("index")
                        .and_then(Value::as_u64)
                        .and_then(|n| u32::try_from(n).ok())?;
                    self.calls
                        .get(&(candidate, index))
                        .map(|c| c.2.clone())
                        .unwrap_or_default()
                }
            };
            Some(Value::String(s))
        });
        Ok(vec![typed(D, data)?])
    }

    /// A chunk for `candidate` with message members `message`.
    fn chunk(
        &self,
        candidate: u32,
        mut message: Fields,
        finish: Option<&FinishReason>,
    ) -> Result<GenerationResponse, ConvertError> {
        let finish = Value::from(finish.map_or("null", FinishReason::as_str));
        let output = if self.options.text_format {
            let text = message.remove("content").unwrap_or_else(|| Value::from(""));
            json!({"text": text, "finish_reason": finish})
        } else {
            let mut m = Fields::new();
            m.insert("role".into(), Value::from("assistant"));
            m.append(&mut message);
            let mut choice = Fields::new();
            choice.insert("message".into(), Value::Object(m));
            choice.insert("finish_reason".into(), finish);
            if candidate != 0 {
                choice.insert("index".into(), Value::from(candidate));
            }
            json!({"choices": [Value::Object(choice)]})
        };
        let mut v = Fields::new();
        v.insert("output".into(), output);
        if let Some(u) = &self.usage {
            v.insert("usage".into(), usage_to_native(u));
        }
        if let Some(id) = &self.id {
            v.insert("request_id".into(), Value::from(id.as_str()));
        }
        typed(D, Value::Object(v))
    }

    /// Everything so far for `candidate` (cumulative chunks).
    fn snapshot(&self, candidate: u32) -> Fields {
        let mut m = Fields::new();
        m.insert(
            "content".into(),
            Value::from(self.text.get(&candidate).cloned().unwrap_or_default()),
        );
        if let Some(r) = self.reasoning.get(&candidate) {
            m.insert("reasoning_content".into(), Value::from(r.as_str()));
        }
        let calls: Vec<Value> = self
            .calls
            .iter()
            .filter(|(k, _)| k.0 == candidate)
            .map(|((_, index), (id, name, args))| {
                json!({"index": index, "id": id, "type": "function",
                    "function": {"name": name, "arguments": args}})
            })
            .collect();
        if !calls.is_empty() {
            m.insert("tool_calls".into(), Value::Array(calls));
        }
        m
    }

    fn release(&mut self) -> Result<Vec<GenerationResponse>, ConvertError> {
        let Some((candidate, reason)) = self.held.take() else {
            return Ok(Vec::new());
        };
        let message = if self.options.cumulative {
            self.snapshot(candidate)
        } else {
            let mut m = Fields::new();
            m.insert("content".into(), Value::from(""));
            m
        };
        Ok(vec![self.chunk(candidate, message, Some(&reason))?])
    }
}

impl EventWriter for NativeEventWriter {
    type Chunk = GenerationResponse;

    fn push(&mut self, event: &UnifiedEvent) -> Result<Vec<GenerationResponse>, ConvertError> {
        if let UnifiedEvent::Passthrough { dialect, data } = event {
            if *dialect == D {
                let group = self.pending.open(data.clone());
                return self.fill(group);
            }
            return Ok(Vec::new());
        }
        if self.pending.is_open() {
            self.pending.push(event.clone());
            return Ok(Vec::new());
        }
        let quiet = matches!(
            event,
            UnifiedEvent::Meta { .. } | UnifiedEvent::Usage(_) | UnifiedEvent::ToolCallDone { .. }
        );
        let mut out = if quiet { Vec::new() } else { self.release()? };
        self.track(event);
        let text_only = self.options.text_format;
        let (candidate, delta) = match event {
            UnifiedEvent::TextDelta { candidate, text } => {
                let mut m = Fields::new();
                m.insert("content".into(), Value::from(text.as_str()));
                (*candidate, m)
            }
            UnifiedEvent::ReasoningDelta { candidate, text } => {
                if text_only {
                    return Err(unsupported(D, "reasoning in the text result format"));
                }
                let mut m = Fields::new();
                m.insert("content".into(), Value::from(""));
                m.insert("reasoning_content".into(), Value::from(text.as_str()));
                (*candidate, m)
            }
            UnifiedEvent::ToolCallStart {
                candidate,
                index,
                id,
                name,
            } => {
                if text_only {
                    return Err(unsupported(D, "tool calls in the text result format"));
                }
                let mut m = Fields::new();
                m.insert("content".into(), Value::from(""));
                m.insert(
                    "tool_calls".into(),
                    json!([{"index": index, "id": id, "type": "function",
                        "function": {"name": name, "arguments": ""}}]),
                );
                (*candidate, m)
            }
            UnifiedEvent::ToolCallArguments {
                candidate,
                index,
                delta,
            } => {
                if text_only {
                    return Err(unsupported(D, "tool calls in the text result format"));
                }
                let mut m = Fields::new();
                m.insert("content".into(), Value::from(""));
                m.insert(
                    "tool_calls".into(),
                    json!([{"index": index, "id": "", "type": "function",
                        "function": {"arguments": delta}}]),
                );
                (*candidate, m)
            }
            UnifiedEvent::Finish { candidate, reason } => {
                self.held = Some((*candidate, reason.clone()));
                return Ok(out);
            }
            _ => return Ok(out),
        };
        let delta = if self.options.cumulative {
            self.snapshot(candidate)
        } else {
            delta
        };
        out.push(self.chunk(candidate, delta, None)?);
        Ok(out)
    }

    fn finish(&mut self) -> Result<Vec<GenerationResponse>, ConvertError> {
        let group = self.pending.take();
        let mut out = self.fill(group)?;
        out.extend(self.release()?);
        Ok(out)
    }
}
