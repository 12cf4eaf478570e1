//! Chat Completions ⇄ unified: [`ChatRequest`], [`ChatCompletion`] and [`ChatChunk`] streams.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::ConvertError;
use super::events::{EventReader, EventWriter, Pending, UnifiedEvent, fill_events, take_text};
use super::extras::{Extras, In, Out, event_mark, float, to_fields};
use super::model::{
    AudioPart, Candidate, Conversation, FinishReason, ImageDetail, ImagePart, Message, Part, Role,
    TextPart, UnifiedResponse, Usage, VideoPart, VideoSource, text_parts,
};
use super::shared::{
    dialect_part, dialect_value, read_sampling, read_thinking, response_format_from_nested,
    response_format_to_nested, string_form, tool_call_from_nested, tool_call_to_nested,
    tool_choice_from_nested, tool_choice_to_nested, tool_from_nested, tool_to_nested, typed,
    write_sampling, write_thinking,
};
use crate::cassette::Dialect;
use crate::chat::{ChatChunk, ChatCompletion, ChatRequest, ID_PREFIX};

const D: Dialect = Dialect::Chat;

impl Conversation {
    /// The conversation of a Chat Completions request (lossless: [`to_chat`](Self::to_chat)
    /// gives the same request back).
    pub fn from_chat(request: &ChatRequest) -> Self {
        let mut r = In::of(to_fields(request));
        let model = r.str("model").unwrap_or_default();
        let messages = r
            .array("messages")
            .unwrap_or_default()
            .into_iter()
            .map(message_from_chat)
            .collect();
        let sampling = read_sampling(&mut r);
        let thinking = read_thinking(&mut r);
        let tools = r
            .nonempty_array("tools")
            .unwrap_or_default()
            .into_iter()
            .map(|t| tool_from_nested(t, D))
            .collect();
        let tool_choice = r.take_if("tool_choice", tool_choice_from_nested);
        let parallel_tool_calls = r.bool("parallel_tool_calls");
        let response_format =
            r.take_if("response_format", |v| response_format_from_nested(v, true));
        let stream = r.bool("stream");
        let mut include_usage = None;
        if let Some(mut so) = r.obj("stream_options") {
            include_usage = so.bool("include_usage");
            r.nested("stream_options", so, include_usage.is_some());
        }
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
            include_usage,
            extras: Extras::of(D, r.finish()),
        }
    }

    /// The Chat Completions request of this conversation.
    ///
    /// # Errors
    ///
    /// [`ConvertError::Unsupported`] for a part or tool of another dialect;
    /// [`ConvertError::Wire`] when the chat extras do not fit the request type.
    pub fn to_chat(&self) -> Result<ChatRequest, ConvertError> {
        let mut o = Out::from(&self.extras.chat);
        o.put("model", self.model.as_str());
        let messages = self
            .messages
            .iter()
            .map(message_to_chat)
            .collect::<Result<Vec<_>, _>>()?;
        o.put("messages", messages);
        write_sampling(&mut o, &self.sampling);
        write_thinking(&mut o, &self.thinking);
        if !self.tools.is_empty() {
            let tools = self
                .tools
                .iter()
                .map(|t| tool_to_nested(t, D))
                .collect::<Result<Vec<_>, _>>()?;
            o.put("tools", tools);
        }
        o.put_opt(
            "tool_choice",
            self.tool_choice.as_ref().map(tool_choice_to_nested),
        );
        o.put_opt("parallel_tool_calls", self.parallel_tool_calls);
        o.put_opt(
            "response_format",
            self.response_format
                .as_ref()
                .map(|f| response_format_to_nested(f, true)),
        );
        o.put_opt("stream", self.stream);
        let mut so = o.child("stream_options");
        so.put_opt("include_usage", self.include_usage);
        o.put_child("stream_options", so, self.include_usage.is_some());
        typed(D, o.finish())
    }
}

/// Reads `content` (a string or a list of parts) the way chat and native share.
pub(crate) fn read_content(
    r: &mut In,
    dialect: Dialect,
    part: impl Fn(Value) -> Part,
) -> Vec<Part> {
    match r.peek("content") {
        None => {
            r.absent("content");
            Vec::new()
        }
        Some(Value::String(_)) => text_parts(r.str("content").unwrap_or_default()),
        Some(Value::Array(_)) => {
            let parts: Vec<Part> = r
                .array("content")
                .unwrap_or_default()
                .into_iter()
                .map(part)
                .collect();
            if string_form(&parts, dialect).is_some() {
                r.form("content", Value::from("list"));
            }
            parts
        }
        Some(_) => Vec::new(),
    }
}

/// Writes `content`: a string when the parts allow it, else a list.
pub(crate) fn write_content(
    o: &mut Out<'_>,
    parts: &[Part],
    dialect: Dialect,
    part: impl Fn(&Part) -> Result<Value, ConvertError>,
) -> Result<(), ConvertError> {
    match string_form(parts, dialect) {
        Some(s) if o.form_str("content") != Some("list") => {
            o.put_default("content", s, s.is_empty());
        }
        _ => {
            let list = parts.iter().map(part).collect::<Result<Vec<_>, _>>()?;
            o.put("content", list);
        }
    }
    Ok(())
}

fn message_from_chat(v: Value) -> Message {
    let mut r = In::value(v);
    let role = r.str("role").map(Role::from).unwrap_or_default();
    let parts = read_content(&mut r, D, part_from_chat);
    let reasoning = r.str("reasoning_content");
    let tool_calls = r
        .nonempty_array("tool_calls")
        .unwrap_or_default()
        .into_iter()
        .map(|t| tool_call_from_nested(t, D))
        .collect();
    let tool_call_id = r.str("tool_call_id");
    let name = r.str("name");
    let partial = r
        .take_if("partial", |v| (v.as_bool() == Some(true)).then_some(()))
        .is_some();
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

fn message_to_chat(m: &Message) -> Result<Value, ConvertError> {
    let mut o = Out::from(&m.extras.chat);
    o.put_default("role", m.role.as_str(), m.role == Role::User);
    write_content(&mut o, &m.parts, D, part_to_chat)?;
    o.put_opt("reasoning_content", m.reasoning.as_deref());
    if !m.tool_calls.is_empty() {
        let calls: Vec<Value> = m
            .tool_calls
            .iter()
            .map(|t| tool_call_to_nested(t, D))
            .collect();
        o.put("tool_calls", calls);
    }
    o.put_opt("tool_call_id", m.tool_call_id.as_deref());
    o.put_opt("name", m.name.as_deref());
    if m.partial {
        o.put("partial", true);
    }
    Ok(o.finish())
}

/// Whether `v[outer][inner]` is a string.
fn nested_str(v: &Value, outer: &str, inner: &str) -> bool {
    v.get(outer)
        .and_then(|o| o.get(inner))
        .is_some_and(Value::is_string)
}

fn part_from_chat(v: Value) -> Part {
    let kind = v
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let fits = match kind.as_str() {
        "text" => v.get("text").is_some_and(Value::is_string),
        "image_url" => nested_str(&v, "image_url", "url"),
        "input_audio" => nested_str(&v, "input_audio", "data"),
        "video_url" => nested_str(&v, "video_url", "url"),
        "video" => v
            .get("video")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().all(Value::is_string)),
        _ => false,
    };
    if !fits {
        return dialect_part(D, v);
    }
    let mut r = In::value(v);
    r.take("type");
    match kind.as_str() {
        "text" => {
            let text = r.str("text").unwrap_or_default();
            Part::Text(TextPart {
                text,
                extras: Extras::of(D, r.finish()),
            })
        }
        "image_url" => {
            let mut i = r.obj("image_url").unwrap_or_default();
            let url = i.str("url").unwrap_or_default();
            let detail = i.str("detail").map(ImageDetail::from);
            r.nested("image_url", i, true);
            Part::Image(ImagePart {
                url,
                detail,
                min_pixels: r.u64("min_pixels"),
                max_pixels: r.u64("max_pixels"),
                extras: Extras::of(D, r.finish()),
            })
        }
        "input_audio" => {
            let mut a = r.obj("input_audio").unwrap_or_default();
            let url = a.str("data").unwrap_or_default();
            let format = a.str("format");
            r.nested("input_audio", a, true);
            Part::Audio(AudioPart {
                url,
                format,
                extras: Extras::of(D, r.finish()),
            })
        }
        _ => {
            let source = if kind == "video" {
                VideoSource::Frames(
                    r.array("video")
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|f| f.as_str().map(str::to_owned))
                        .collect(),
                )
            } else {
                let mut u = r.obj("video_url").unwrap_or_default();
                let url = u.str("url").unwrap_or_default();
                r.nested("video_url", u, true);
                VideoSource::Url(url)
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

fn part_to_chat(p: &Part) -> Result<Value, ConvertError> {
    Ok(match p {
        Part::Text(t) => {
            let mut o = Out::from(&t.extras.chat);
            o.put("type", "text");
            o.put("text", t.text.as_str());
            o.finish()
        }
        Part::Image(i) => {
            let mut o = Out::from(&i.extras.chat);
            o.put("type", "image_url");
            let mut c = o.child("image_url");
            c.put("url", i.url.as_str());
            c.put_opt("detail", i.detail.as_ref().map(ImageDetail::as_str));
            o.put_child("image_url", c, true);
            o.put_opt("min_pixels", i.min_pixels);
            o.put_opt("max_pixels", i.max_pixels);
            o.finish()
        }
        Part::Audio(a) => {
            let mut o = Out::from(&a.extras.chat);
            o.put("type", "input_audio");
            let mut c = o.child("input_audio");
            c.put("data", a.url.as_str());
            c.put_opt("format", a.format.as_deref());
            o.put_child("input_audio", c, true);
            o.finish()
        }
        Part::Video(v) => {
            let mut o = Out::from(&v.extras.chat);
            match &v.source {
                VideoSource::Url(url) => {
                    o.put("type", "video_url");
                    let mut c = o.child("video_url");
                    c.put("url", url.as_str());
                    o.put_child("video_url", c, true);
                }
                VideoSource::Frames(frames) => {
                    o.put("type", "video");
                    o.put("video", frames.clone());
                }
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

/// Reads a `chatcmpl-<id>` id (an id without the prefix is kept whole and noted).
fn read_id(r: &mut In) -> Option<String> {
    let id = r.str("id")?;
    match id.strip_prefix(ID_PREFIX) {
        Some(rest) => Some(rest.to_owned()),
        None => {
            r.form("id", Value::from("bare"));
            Some(id)
        }
    }
}

fn write_id(o: &mut Out<'_>, id: Option<&str>) {
    if let Some(id) = id {
        if o.form_str("id") == Some("bare") {
            o.put("id", id);
        } else {
            o.put("id", format!("{ID_PREFIX}{id}"));
        }
    }
}

/// Reads a count the writer always puts (a missing one reads as 0 and is noted).
pub(crate) fn count(r: &mut In, k: &str) -> u64 {
    r.u64(k).unwrap_or_else(|| {
        if !r.has(k) {
            r.absent(k);
        }
        0
    })
}

/// Reads `{"<details>": {"<key>": n, …}}`, keeping the rest of the details object.
pub(crate) fn detail(r: &mut In, details: &str, key: &str) -> Option<u64> {
    let mut d = r.obj(details)?;
    let n = d.u64(key);
    r.nested(details, d, n.is_some());
    n
}

/// Writes `{"<details>": {"<key>": n, …}}` when there is a count or the wire had the object.
pub(crate) fn write_detail(o: &mut Out<'_>, details: &str, key: &str, n: Option<u64>) {
    let mut d = o.child(details);
    d.put_opt(key, n);
    o.put_child(details, d, n.is_some());
}

/// Chat usage → unified.
pub(crate) fn usage_from_chat(v: Value) -> Usage {
    let mut r = In::value(v);
    let input_tokens = count(&mut r, "prompt_tokens");
    let output_tokens = count(&mut r, "completion_tokens");
    let total_tokens = count(&mut r, "total_tokens");
    let reasoning_tokens = detail(&mut r, "completion_tokens_details", "reasoning_tokens");
    let cached_tokens = detail(&mut r, "prompt_tokens_details", "cached_tokens");
    Usage {
        input_tokens,
        output_tokens,
        total_tokens,
        reasoning_tokens,
        cached_tokens,
        extras: Extras::of(D, r.finish()),
    }
}

/// Unified usage → chat.
pub(crate) fn usage_to_chat(u: &Usage) -> Value {
    let mut o = Out::from(&u.extras.chat);
    o.put_default("prompt_tokens", u.input_tokens, u.input_tokens == 0);
    o.put_default("completion_tokens", u.output_tokens, u.output_tokens == 0);
    o.put_default("total_tokens", u.total_tokens, u.total_tokens == 0);
    write_detail(
        &mut o,
        "completion_tokens_details",
        "reasoning_tokens",
        u.reasoning_tokens,
    );
    write_detail(
        &mut o,
        "prompt_tokens_details",
        "cached_tokens",
        u.cached_tokens,
    );
    o.finish()
}

fn candidate_from_chat(pos: usize, v: Value) -> Candidate {
    let mut r = In::value(v);
    let index = r
        .u32("index")
        .unwrap_or(u32::try_from(pos).unwrap_or(u32::MAX));
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut tool_calls = Vec::new();
    if let Some(mut m) = r.obj_or_absent("message") {
        m.konst("role", "assistant");
        match m.peek("content") {
            Some(Value::String(_)) => text = m.str("content").unwrap_or_default(),
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
    let finish_reason = r.str("finish_reason").map(FinishReason::from);
    Candidate {
        index,
        text,
        reasoning,
        tool_calls,
        finish_reason,
        extras: Extras::of(D, r.finish()),
    }
}

fn candidate_to_chat(pos: usize, c: &Candidate) -> Value {
    let mut o = Out::from(&c.extras.chat);
    // The reader gives a missing or `null` index the choice's position: a kept `null` stays.
    o.put_default("index", c.index, usize::try_from(c.index).ok() == Some(pos));
    let mut m = o.child("message");
    m.konst("role", "assistant");
    m.put_default("content", c.text.as_str(), c.text.is_empty());
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
    o.put_opt(
        "finish_reason",
        c.finish_reason.as_ref().map(FinishReason::as_str),
    );
    o.finish()
}

impl UnifiedResponse {
    /// The answer of a Chat Completions response (lossless: [`to_chat`](Self::to_chat) gives
    /// the same response back).
    pub fn from_chat(completion: &ChatCompletion) -> Self {
        let mut r = In::of(to_fields(completion));
        let id = read_id(&mut r);
        r.konst("object", "chat.completion");
        let model = r.nonempty_str("model");
        let candidates = r
            .array("choices")
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(pos, c)| candidate_from_chat(pos, c))
            .collect();
        let usage = r.take_if("usage", |v| {
            v.is_object().then(|| usage_from_chat(v.clone()))
        });
        UnifiedResponse {
            id,
            model,
            candidates,
            usage,
            extras: Extras::of(D, r.finish()),
        }
    }

    /// The Chat Completions response of this answer (id `chatcmpl-<id>`).
    ///
    /// # Errors
    ///
    /// [`ConvertError::Wire`] when the chat extras do not fit the response type.
    pub fn to_chat(&self) -> Result<ChatCompletion, ConvertError> {
        let mut o = Out::from(&self.extras.chat);
        write_id(&mut o, self.id.as_deref());
        o.konst("object", "chat.completion");
        o.put_opt("model", self.model.as_deref());
        let choices: Vec<Value> = self
            .candidates
            .iter()
            .enumerate()
            .map(|(pos, c)| candidate_to_chat(pos, c))
            .collect();
        o.put("choices", choices);
        o.put_opt("usage", self.usage.as_ref().map(usage_to_chat));
        typed(D, o.finish())
    }
}

// ---------------------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------------------

/// Turns [`ChatChunk`]s into unified events.
///
/// Per chunk: `Meta` when the id or model is new, then per choice the reasoning and text
/// deltas, tool-call starts (a fragment with an id or a name) and argument pieces, and at the
/// finish reason a `ToolCallDone` for each of the choice's calls then `Finish`; the usage chunk
/// gives `Usage`.
#[derive(Clone, Debug, Default)]
pub struct ChatEventReader {
    meta: Option<(Option<String>, Option<String>)>,
    started: BTreeSet<(u32, u32)>,
    open: BTreeMap<(u32, u32), String>,
}

impl ChatEventReader {
    /// A reader at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }
}

/// The merge key of a tool-call fragment: its `index`, else its position.
pub(crate) fn fragment_index(f: &serde_json::Map<String, Value>, pos: usize) -> u32 {
    f.get("index")
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(u32::try_from(pos).unwrap_or(u32::MAX))
}

/// Reads the start of a tool call (the first fragment with an id or a name): marks them and
/// adds `ToolCallStart`.
pub(crate) fn read_start(
    candidate: u32,
    index: u32,
    f: &mut serde_json::Map<String, Value>,
    events: &mut Vec<UnifiedEvent>,
    started: &mut BTreeSet<(u32, u32)>,
    open: &mut BTreeMap<(u32, u32), String>,
) {
    let key = (candidate, index);
    if started.contains(&key) {
        return;
    }
    let id = f
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let name = f
        .get("function")
        .and_then(|x| x.get("name"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    if id.is_none() && name.is_none() {
        return;
    }
    let k = events.len();
    if id.is_some() {
        f.insert("id".into(), event_mark(k, Some("id")));
    }
    if name.is_some() {
        if let Some(func) = f.get_mut("function").and_then(Value::as_object_mut) {
            func.insert("name".into(), event_mark(k, Some("name")));
        }
    }
    events.push(UnifiedEvent::ToolCallStart {
        candidate,
        index,
        id: id.unwrap_or_default(),
        name: name.unwrap_or_default(),
    });
    started.insert(key);
    open.entry(key).or_default();
}

/// Reads the tool-call fragments of one delta (chat and native incremental streams).
pub(crate) fn read_fragments(
    candidate: u32,
    frags: &mut [Value],
    events: &mut Vec<UnifiedEvent>,
    started: &mut BTreeSet<(u32, u32)>,
    open: &mut BTreeMap<(u32, u32), String>,
) {
    for (pos, frag) in frags.iter_mut().enumerate() {
        let Some(f) = frag.as_object_mut() else {
            continue;
        };
        let index = fragment_index(f, pos);
        read_start(candidate, index, f, events, started, open);
        if let Some(func) = f.get_mut("function").and_then(Value::as_object_mut) {
            if let Some(delta) = take_text(func, "arguments", events.len(), None) {
                open.entry((candidate, index)).or_default().push_str(&delta);
                events.push(UnifiedEvent::ToolCallArguments {
                    candidate,
                    index,
                    delta,
                });
            }
        }
    }
}

/// `ToolCallDone` for every open call of `candidate`.
pub(crate) fn close_calls(
    candidate: u32,
    events: &mut Vec<UnifiedEvent>,
    open: &mut BTreeMap<(u32, u32), String>,
) {
    let keys: Vec<(u32, u32)> = open.keys().filter(|k| k.0 == candidate).copied().collect();
    for key in keys {
        if let Some(arguments) = open.remove(&key) {
            events.push(UnifiedEvent::ToolCallDone {
                candidate,
                index: key.1,
                arguments,
            });
        }
    }
}

impl EventReader for ChatEventReader {
    type Chunk = ChatChunk;

    fn read(&mut self, chunk: &ChatChunk) -> Vec<UnifiedEvent> {
        let mut v = Value::Object(to_fields(chunk));
        let mut events = Vec::new();
        let id = chunk
            .id
            .as_deref()
            .map(|i| i.strip_prefix(ID_PREFIX).unwrap_or(i).to_owned());
        let meta = (id, chunk.model.clone().filter(|m| !m.is_empty()));
        if (meta.0.is_some() || meta.1.is_some()) && self.meta.as_ref() != Some(&meta) {
            events.push(UnifiedEvent::Meta {
                id: meta.0.clone(),
                model: meta.1.clone(),
            });
            self.meta = Some(meta);
        }
        if let Some(choices) = v.get_mut("choices").and_then(Value::as_array_mut) {
            for choice in choices {
                let Some(c) = choice.as_object_mut() else {
                    continue;
                };
                let candidate = c
                    .get("index")
                    .and_then(Value::as_u64)
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or(0);
                if let Some(delta) = c.get_mut("delta").and_then(Value::as_object_mut) {
                    if let Some(text) = take_text(delta, "reasoning_content", events.len(), None) {
                        events.push(UnifiedEvent::ReasoningDelta { candidate, text });
                    }
                    if let Some(text) = take_text(delta, "content", events.len(), None) {
                        events.push(UnifiedEvent::TextDelta { candidate, text });
                    }
                    if let Some(frags) = delta.get_mut("tool_calls").and_then(Value::as_array_mut) {
                        read_fragments(
                            candidate,
                            frags,
                            &mut events,
                            &mut self.started,
                            &mut self.open,
                        );
                    }
                }
                if let Some(reason) = c.get("finish_reason").and_then(Value::as_str) {
                    let reason = FinishReason::from(reason);
                    close_calls(candidate, &mut events, &mut self.open);
                    c.insert("finish_reason".into(), event_mark(events.len(), None));
                    events.push(UnifiedEvent::Finish { candidate, reason });
                }
            }
        }
        if let Some(u) = v.get("usage").filter(|u| u.is_object()).cloned() {
            v["usage"] = event_mark(events.len(), None);
            events.push(UnifiedEvent::Usage(usage_from_chat(u)));
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

/// Turns unified events into [`ChatChunk`]s.
///
/// The canonical stream (events not from a chat reader): one chunk per delta (the first of a
/// choice carries `role: assistant`), tool calls as a first fragment with id and name then
/// argument fragments with `id: ""`, a finish chunk with `content: ""`, and at the end one
/// usage chunk (`choices: []`) when any usage arrived. The `[DONE]` line is framing, not a
/// chunk: the SSE encoder adds it.
#[derive(Clone, Debug, Default)]
pub struct ChatEventWriter {
    pending: Pending,
    id: Option<String>,
    model: Option<String>,
    roles: BTreeSet<u32>,
    usage: Option<Usage>,
}

impl ChatEventWriter {
    /// A writer at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    fn fill(group: Option<(Value, Vec<UnifiedEvent>)>) -> Result<Vec<ChatChunk>, ConvertError> {
        let Some((mut data, events)) = group else {
            return Ok(Vec::new());
        };
        fill_events(&mut data, &events, &usage_to_chat);
        Ok(vec![typed(D, data)?])
    }

    fn envelope(&self) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        if let Some(id) = &self.id {
            m.insert("id".into(), Value::from(format!("{ID_PREFIX}{id}")));
        }
        m.insert("object".into(), Value::from("chat.completion.chunk"));
        if let Some(model) = &self.model {
            m.insert("model".into(), Value::from(model.as_str()));
        }
        m
    }

    fn chunk(
        &mut self,
        candidate: u32,
        mut delta: Value,
        finish: Option<&FinishReason>,
    ) -> Result<ChatChunk, ConvertError> {
        if self.roles.insert(candidate) {
            if let Some(d) = delta.as_object_mut() {
                d.insert("role".into(), Value::from("assistant"));
            }
        }
        let mut m = self.envelope();
        m.insert(
            "choices".into(),
            json!([{
                "index": candidate,
                "delta": delta,
                "finish_reason": finish.map(FinishReason::as_str),
                "logprobs": null,
            }]),
        );
        m.insert("usage".into(), Value::Null);
        typed(D, Value::Object(m))
    }
}

impl EventWriter for ChatEventWriter {
    type Chunk = ChatChunk;

    fn push(&mut self, event: &UnifiedEvent) -> Result<Vec<ChatChunk>, ConvertError> {
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
        let chunk = match event {
            UnifiedEvent::Meta { id, model } => {
                if id.is_some() {
                    self.id.clone_from(id);
                }
                if model.is_some() {
                    self.model.clone_from(model);
                }
                return Ok(Vec::new());
            }
            UnifiedEvent::TextDelta { candidate, text } => {
                self.chunk(*candidate, json!({"content": text}), None)?
            }
            UnifiedEvent::ReasoningDelta { candidate, text } => {
                self.chunk(*candidate, json!({"reasoning_content": text}), None)?
            }
            UnifiedEvent::ToolCallStart {
                candidate,
                index,
                id,
                name,
            } => self.chunk(
                *candidate,
                json!({"tool_calls": [{"index": index, "id": id, "type": "function",
                    "function": {"name": name, "arguments": ""}}]}),
                None,
            )?,
            UnifiedEvent::ToolCallArguments {
                candidate,
                index,
                delta,
            } => self.chunk(
                *candidate,
                json!({"tool_calls": [{"index": index, "id": "", "type": "function",
                    "function": {"arguments": delta}}]}),
                None,
            )?,
            UnifiedEvent::Finish { candidate, reason } => {
                self.chunk(*candidate, json!({"content": ""}), Some(reason))?
            }
            UnifiedEvent::Usage(u) => {
                self.usage = Some(u.clone());
                return Ok(Vec::new());
            }
            UnifiedEvent::ToolCallDone { .. } | UnifiedEvent::Passthrough { .. } => {
                return Ok(Vec::new());
            }
        };
        Ok(vec![chunk])
    }

    fn finish(&mut self) -> Result<Vec<ChatChunk>, ConvertError> {
        let mut out = Self::fill(self.pending.take())?;
        if let Some(u) = self.usage.take() {
            let mut m = self.envelope();
            m.insert("choices".into(), json!([]));
            m.insert("usage".into(), usage_to_chat(&u));
            out.push(typed(D, Value::Object(m))?);
        }
        Ok(out)
    }
}
