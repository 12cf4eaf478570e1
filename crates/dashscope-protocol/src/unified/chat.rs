//! Chat Completions ⇄ unified: [`ChatRequest`] both ways, [`ChatCompletion`] and
//! [`ChatChunk`] streams read.

use super::events::{Calls, UnifiedEvent};
use super::model::{
    Candidate, Conversation, DialectValue, FinishReason, FunctionTool, ImagePart, JsonSchemaFormat,
    Message, Part, ReasoningEffort, ResponseFormat, Role, Sampling, Thinking, Tool, ToolCall,
    ToolChoice, UnifiedResponse, Usage, VideoPart, VideoSource, string_form, text_parts,
};
use super::{ConvertError, float, keep, narrow, own, set_float, set_list};
use crate::cassette::Dialect;
use crate::chat::{
    self, ChatChunk, ChatCompletion, ChatRequest, ContentPart, ID_PREFIX, MessageContent, Stop,
    StreamOptions,
};

const D: Dialect = Dialect::Chat;

/// Reads the sampling and thinking members chat and native spell alike (`$w`: a
/// [`ChatRequest`] or native `Parameters`).
macro_rules! read_shared {
    ($w:expr, $stop:expr) => {
        (
            Sampling {
                temperature: float(&$w.temperature),
                top_p: float(&$w.top_p),
                top_k: $w.top_k,
                max_tokens: $w.max_tokens.map(u64::from),
                max_completion_tokens: $w.max_completion_tokens.map(u64::from),
                seed: $w.seed,
                stop: $stop,
                n: $w.n,
                presence_penalty: float(&$w.presence_penalty),
                repetition_penalty: float(&$w.repetition_penalty),
            },
            Thinking {
                enabled: $w.enable_thinking,
                budget: $w.thinking_budget,
                effort: $w
                    .reasoning_effort
                    .as_ref()
                    .map(|e| ReasoningEffort::from(e.as_str())),
            },
        )
    };
}

/// Writes them (all but `stop`, whose wire types differ).
macro_rules! write_shared {
    ($w:expr, $s:expr, $t:expr, $d:expr) => {
        set_float(&mut $w.temperature, $s.temperature);
        set_float(&mut $w.top_p, $s.top_p);
        $w.top_k = $s.top_k;
        $w.max_tokens = narrow($s.max_tokens, $d, "max_tokens")?;
        $w.max_completion_tokens = narrow($s.max_completion_tokens, $d, "max_completion_tokens")?;
        $w.seed = $s.seed;
        $w.n = $s.n;
        set_float(&mut $w.presence_penalty, $s.presence_penalty);
        set_float(&mut $w.repetition_penalty, $s.repetition_penalty);
        $w.enable_thinking = $t.enabled;
        $w.thinking_budget = $t.budget;
        $w.reasoning_effort = $t.effort.as_ref().map(|e| e.as_str().into());
    };
}

pub(crate) use {read_shared, write_shared};

/// The kept variant `$v` of a kept wire enum, or a fresh default.
macro_rules! kept_or_default {
    ($kept:expr, $v:path) => {
        match $kept {
            Some($v(w)) => w.clone(),
            _ => Default::default(),
        }
    };
}

pub(crate) use kept_or_default;

impl Conversation {
    /// The conversation of a Chat Completions request (lossless: [`to_chat`](Self::to_chat)
    /// gives the same request back).
    pub fn from_chat(request: &ChatRequest) -> Self {
        let (sampling, thinking) = read_shared!(request, request.stop.as_ref().and_then(stop_of));
        let mut c = Conversation {
            model: request.model.clone(),
            messages: request.messages.iter().map(message_from_chat).collect(),
            tools: (request.tools.iter().flatten())
                .map(|t| tool_from(t, D))
                .collect(),
            tool_choice: request.tool_choice.as_ref().and_then(choice_of),
            parallel_tool_calls: request.parallel_tool_calls,
            sampling,
            thinking,
            response_format: (request.response_format.as_ref()).and_then(|f| format_of(f, D)),
            stream: request.stream,
            include_usage: request
                .stream_options
                .as_ref()
                .and_then(|o| o.include_usage),
            kept: None,
        };
        c.kept = keep(request, c.to_chat(), DialectValue::Chat);
        c
    }

    /// The Chat Completions request of this conversation.
    ///
    /// # Errors
    ///
    /// [`ConvertError::Unsupported`] for a part or tool of another dialect, or a token limit
    /// beyond `u32`.
    pub fn to_chat(&self) -> Result<ChatRequest, ConvertError> {
        let kept = self.kept.as_deref().and_then(DialectValue::chat);
        let mut w = kept.cloned().unwrap_or_default();
        w.model.clone_from(&self.model);
        w.messages = (self.messages.iter().map(message_to_chat)).collect::<Result<_, _>>()?;
        set_list(&mut w.tools, &self.tools, |t| tool_to(t, D))?;
        if w.tool_choice.as_ref().and_then(choice_of) != self.tool_choice {
            w.tool_choice = self.tool_choice.as_ref().map(choice_to);
        }
        w.parallel_tool_calls = self.parallel_tool_calls;
        write_shared!(w, self.sampling, self.thinking, D);
        if w.stop.as_ref().and_then(stop_of) != self.sampling.stop {
            w.stop = self.sampling.stop.clone().map(Stop::Texts);
        }
        if w.response_format.as_ref().and_then(|f| format_of(f, D)) != self.response_format {
            w.response_format = self.response_format.as_ref().map(|f| format_to(f, D));
        }
        w.stream = self.stream;
        if w.stream_options.as_ref().and_then(|o| o.include_usage) != self.include_usage {
            let o = w.stream_options.get_or_insert_with(StreamOptions::default);
            o.include_usage = self.include_usage;
            if *o == StreamOptions::default() {
                w.stream_options = None;
            }
        }
        Ok(w)
    }
}

// Chat and native share these wire types (`crate::common`): one reading and writing for both.

/// A value whose chat and native types are one, as its `dialect`'s variant.
pub(crate) fn wrap<T, R>(value: T, dialect: Dialect) -> DialectValue<T, R, T> {
    if dialect == Dialect::Native {
        DialectValue::Native(value)
    } else {
        DialectValue::Chat(value)
    }
}

/// The `dialect` (chat or native) value of a value whose chat and native types are one.
pub(crate) fn nested<T, R>(value: &DialectValue<T, R, T>, dialect: Dialect) -> Option<&T> {
    match (value, dialect) {
        (DialectValue::Chat(v), Dialect::Chat) | (DialectValue::Native(v), Dialect::Native) => {
            Some(v)
        }
        _ => None,
    }
}

pub(crate) fn stop_of(s: &Stop) -> Option<Vec<String>> {
    match s {
        Stop::Text(t) => Some(vec![t.clone()]),
        Stop::Texts(l) => Some(l.clone()),
        _ => None,
    }
}

/// `auto`, `none`, `required`.
pub(crate) fn mode_of(s: &str) -> Option<ToolChoice> {
    match s {
        "auto" => Some(ToolChoice::Auto),
        "none" => Some(ToolChoice::None),
        "required" => Some(ToolChoice::Required),
        _ => None,
    }
}

/// The string of a mode choice (`auto` for a function choice, which has none).
pub(crate) fn mode_str(c: &ToolChoice) -> &'static str {
    match c {
        ToolChoice::None => "none",
        ToolChoice::Required => "required",
        ToolChoice::Auto | ToolChoice::Function(_) => "auto",
    }
}

pub(crate) fn choice_of(c: &chat::ToolChoice) -> Option<ToolChoice> {
    match c {
        chat::ToolChoice::Mode(m) => mode_of(m.as_str()),
        chat::ToolChoice::Function(n) if n.kind == Some(chat::ToolType::Function) => n
            .function
            .as_ref()
            .map(|f| ToolChoice::Function(f.name.clone())),
        chat::ToolChoice::Function(_) => None,
    }
}

pub(crate) fn choice_to(c: &ToolChoice) -> chat::ToolChoice {
    match c {
        ToolChoice::Function(name) => chat::ToolChoice::function(name),
        mode => chat::ToolChoice::Mode(mode_str(mode).into()),
    }
}

/// A `response_format`; chat requires a schema name, so its `""` stands for none.
pub(crate) fn format_of(f: &chat::ResponseFormat, dialect: Dialect) -> Option<ResponseFormat> {
    Some(match f {
        chat::ResponseFormat::Text(_) => ResponseFormat::Text,
        chat::ResponseFormat::JsonObject(_) => ResponseFormat::JsonObject,
        chat::ResponseFormat::JsonSchema(s) => {
            let j = &s.json_schema;
            let none = dialect == D && j.name.as_deref() == Some("");
            ResponseFormat::JsonSchema(JsonSchemaFormat {
                name: if none { None } else { j.name.clone() },
                description: j.description.clone(),
                schema: j.schema.clone(),
                strict: j.strict,
            })
        }
        chat::ResponseFormat::Unknown(_) => return None,
    })
}

pub(crate) fn format_to(f: &ResponseFormat, dialect: Dialect) -> chat::ResponseFormat {
    match f {
        ResponseFormat::Text => chat::ResponseFormat::text(),
        ResponseFormat::JsonObject => chat::ResponseFormat::json_object(),
        ResponseFormat::JsonSchema(s) => chat::ResponseFormat::JsonSchema(chat::JsonSchemaFormat {
            json_schema: chat::JsonSchema {
                name: s.name.clone().or_else(|| (dialect == D).then(String::new)),
                description: s.description.clone(),
                schema: s.schema.clone(),
                strict: s.strict,
                ..Default::default()
            },
            ..Default::default()
        }),
    }
}

pub(crate) fn tool_from(t: &chat::Tool, dialect: Dialect) -> Tool {
    let chat::Tool::Function(f) = t else {
        return Tool::Dialect(wrap(t.clone(), dialect));
    };
    let d = &f.function;
    let mut tool = FunctionTool {
        name: d.name.clone(),
        description: d.description.clone(),
        parameters: d.parameters.clone(),
        strict: d.strict,
        kept: None,
    };
    tool.kept = keep(f, Ok(function_to(&tool, dialect)), |w| wrap(w, dialect));
    Tool::Function(tool)
}

fn function_to(f: &FunctionTool, dialect: Dialect) -> chat::FunctionTool {
    let kept = f.kept.as_deref().and_then(|k| nested(k, dialect));
    let mut w = kept.cloned().unwrap_or_default();
    w.function.name.clone_from(&f.name);
    w.function.description.clone_from(&f.description);
    w.function.parameters.clone_from(&f.parameters);
    w.function.strict = f.strict;
    w
}

pub(crate) fn tool_to(t: &Tool, dialect: Dialect) -> Result<chat::Tool, ConvertError> {
    match t {
        Tool::Function(f) => Ok(chat::Tool::Function(function_to(f, dialect))),
        Tool::Dialect(d) => own(d, dialect, |d| nested(d, dialect), "tool"),
    }
}

/// A tool call's id, name and arguments (absent ones read as empty).
pub(crate) fn plain_call(c: &chat::ToolCall) -> ToolCall {
    let s = |x: Option<&str>| x.unwrap_or_default().to_owned();
    ToolCall::new(s(c.call_id()), s(c.name()), s(c.arguments()))
}

pub(crate) fn call_from(c: &chat::ToolCall, dialect: Dialect) -> ToolCall {
    let mut t = plain_call(c);
    t.kept = keep(c, Ok(call_to(&t, dialect)), |w| wrap(w, dialect));
    t
}

pub(crate) fn call_to(t: &ToolCall, dialect: Dialect) -> chat::ToolCall {
    let kept = t.kept.as_deref().and_then(|k| nested(k, dialect));
    let Some(mut w) = kept.cloned() else {
        return chat::ToolCall::function(&t.id, &t.name, &t.arguments);
    };
    // Members a fragment may lack (`id`, `function`, its `name`, `arguments`) stay so while
    // they read as the model's values.
    if w.call_id().unwrap_or_default() != t.id {
        w.id = Some(t.id.clone());
    }
    if w.name().unwrap_or_default() != t.name {
        w.function.get_or_insert_with(Default::default).name = Some(t.name.clone());
    }
    if w.arguments().unwrap_or_default() != t.arguments {
        w.function.get_or_insert_with(Default::default).arguments = Some(t.arguments.clone());
    }
    w
}

fn message_from_chat(m: &chat::Message) -> Message {
    let mut out = Message {
        role: Role::from(m.role.as_str()),
        parts: m.content.as_ref().map_or_else(Vec::new, parts_of),
        reasoning: m.reasoning_content.clone(),
        tool_calls: m.tool_calls().iter().map(|c| call_from(c, D)).collect(),
        tool_call_id: m.tool_call_id.clone(),
        name: m.name.clone(),
        partial: m.partial == Some(true),
        kept: None,
    };
    out.kept = keep(m, message_to_chat(&out), DialectValue::Chat);
    out
}

fn message_to_chat(m: &Message) -> Result<chat::Message, ConvertError> {
    let kept = m.kept.as_deref().and_then(DialectValue::chat);
    let fresh = kept.is_none();
    let mut w = kept.cloned().unwrap_or_default();
    w.role = m.role.as_str().into();
    if fresh || w.content.as_ref().map_or_else(Vec::new, parts_of) != m.parts {
        w.content = Some(match string_form(&m.parts, D) {
            Some(s) => MessageContent::Text(s.to_owned()),
            None => {
                MessageContent::Parts(m.parts.iter().map(part_to_chat).collect::<Result<_, _>>()?)
            }
        });
    }
    w.reasoning_content.clone_from(&m.reasoning);
    set_list(&mut w.tool_calls, &m.tool_calls, |t| Ok(call_to(t, D)))?;
    w.tool_call_id.clone_from(&m.tool_call_id);
    w.name.clone_from(&m.name);
    if (w.partial == Some(true)) != m.partial {
        w.partial = m.partial.then_some(true);
    }
    Ok(w)
}

fn parts_of(c: &MessageContent) -> Vec<Part> {
    match c {
        MessageContent::Text(t) => text_parts(t.clone()),
        MessageContent::Parts(p) => p.iter().map(part_from_chat).collect(),
    }
}

fn part_from_chat(p: &ContentPart) -> Part {
    let mut part = match p {
        ContentPart::Text(t) => Part::text(t.text.clone()),
        ContentPart::ImageUrl(i) => Part::Image(ImagePart {
            url: i.image_url.url.clone(),
            detail: i.image_url.detail.clone(),
            min_pixels: i.min_pixels,
            max_pixels: i.max_pixels,
            kept: None,
        }),
        ContentPart::InputAudio(a) => {
            Part::audio(a.input_audio.data.clone(), a.input_audio.format.clone())
        }
        ContentPart::VideoUrl(v) => Part::Video(VideoPart {
            source: VideoSource::Url(v.video_url.url.clone()),
            fps: float(&v.fps),
            min_pixels: v.min_pixels,
            max_pixels: v.max_pixels,
            total_pixels: v.total_pixels,
            kept: None,
        }),
        ContentPart::Video(v) => Part::Video(VideoPart {
            source: VideoSource::Frames(v.video.clone()),
            fps: float(&v.fps),
            min_pixels: v.min_pixels,
            max_pixels: v.max_pixels,
            total_pixels: v.total_pixels,
            kept: None,
        }),
        ContentPart::Unknown(_) => return Part::Dialect(DialectValue::Chat(p.clone())),
    };
    part.set_kept(keep(p, part_to_chat(&part), DialectValue::Chat));
    part
}

fn part_to_chat(p: &Part) -> Result<ContentPart, ConvertError> {
    let kept = p.kept().and_then(DialectValue::chat);
    Ok(match p {
        Part::Text(t) => {
            let mut w = kept_or_default!(kept, ContentPart::Text);
            w.text.clone_from(&t.text);
            ContentPart::Text(w)
        }
        Part::Image(i) => {
            let mut w = kept_or_default!(kept, ContentPart::ImageUrl);
            w.image_url.url.clone_from(&i.url);
            w.image_url.detail.clone_from(&i.detail);
            w.min_pixels = i.min_pixels;
            w.max_pixels = i.max_pixels;
            ContentPart::ImageUrl(w)
        }
        Part::Audio(a) => {
            let mut w = kept_or_default!(kept, ContentPart::InputAudio);
            w.input_audio.data.clone_from(&a.url);
            w.input_audio.format.clone_from(&a.format);
            ContentPart::InputAudio(w)
        }
        Part::Video(v) => {
            macro_rules! hints {
                ($w:ident) => {
                    set_float(&mut $w.fps, v.fps);
                    $w.min_pixels = v.min_pixels;
                    $w.max_pixels = v.max_pixels;
                    $w.total_pixels = v.total_pixels;
                };
            }
            match &v.source {
                VideoSource::Url(url) => {
                    let mut w = kept_or_default!(kept, ContentPart::VideoUrl);
                    w.video_url.url.clone_from(url);
                    hints!(w);
                    ContentPart::VideoUrl(w)
                }
                VideoSource::Frames(frames) => {
                    let mut w = kept_or_default!(kept, ContentPart::Video);
                    w.video.clone_from(frames);
                    hints!(w);
                    ContentPart::Video(w)
                }
            }
        }
        Part::Dialect(d) => own(d, D, DialectValue::chat, "content part")?,
    })
}

impl UnifiedResponse {
    /// The answer of a Chat Completions response (the id without its `chatcmpl-` prefix).
    pub fn from_chat(completion: &ChatCompletion) -> Self {
        UnifiedResponse {
            id: completion.id.as_deref().map(|i| strip_id(i).to_owned()),
            model: completion.model.clone().filter(|m| !m.is_empty()),
            candidates: (completion.choices.iter())
                .map(|c| Candidate {
                    index: c.index,
                    text: (c.message.content.as_ref())
                        .map(MessageContent::joined_text)
                        .unwrap_or_default(),
                    reasoning: c.message.reasoning_content.clone().unwrap_or_default(),
                    tool_calls: c.message.tool_calls().iter().map(plain_call).collect(),
                    audio: c.message.audio.clone(),
                    finish_reason: c.finish_reason.as_ref().map(|f| f.as_str().into()),
                })
                .collect(),
            usage: completion.usage.as_ref().map(usage_of),
            kept: Some(Box::new(DialectValue::Chat(completion.clone()))),
        }
    }
}

fn strip_id(id: &str) -> &str {
    id.strip_prefix(ID_PREFIX).unwrap_or(id)
}

fn usage_of(u: &chat::Usage) -> Usage {
    Usage {
        input_tokens: u.prompt_tokens,
        output_tokens: u.completion_tokens,
        total_tokens: u.total_tokens,
        reasoning_tokens: (u.completion_tokens_details.as_ref()).and_then(|d| d.reasoning_tokens),
        cached_tokens: (u.prompt_tokens_details.as_ref()).and_then(|d| d.cached_tokens),
    }
}

/// Turns [`ChatChunk`]s into unified events.
///
/// Per chunk: `Meta` when the id or model is new, then per choice the reasoning and text
/// deltas, tool-call starts (the first fragment with an id or a name) and argument pieces, and
/// at the finish reason a `ToolCallDone` for each of the choice's calls then `Finish`; the
/// usage chunk gives `Usage`. The chunk's text is moved into the events, not copied.
#[derive(Clone, Debug, Default)]
pub struct ChatEventReader {
    id: Option<String>,
    model: Option<String>,
    calls: Calls,
}

impl ChatEventReader {
    /// A reader at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads one chunk into `out`.
    pub fn read(&mut self, chunk: ChatChunk, out: &mut impl Extend<UnifiedEvent>) {
        let id = chunk.id.as_deref().map(strip_id);
        let model = chunk.model.as_deref().filter(|m| !m.is_empty());
        if (id.is_some() || model.is_some())
            && (id != self.id.as_deref() || model != self.model.as_deref())
        {
            self.id = id.map(str::to_owned);
            self.model = model.map(str::to_owned);
            out.extend([UnifiedEvent::Meta {
                id: self.id.clone(),
                model: self.model.clone(),
            }]);
        }
        for choice in chunk.choices {
            let candidate = choice.index;
            let delta = choice.delta;
            if let Some(text) = delta.reasoning_content.filter(|t| !t.is_empty()) {
                out.extend([UnifiedEvent::ReasoningDelta { candidate, text }]);
            }
            if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                out.extend([UnifiedEvent::TextDelta { candidate, text }]);
            }
            if let Some(audio) = delta.audio {
                out.extend([UnifiedEvent::AudioDelta { candidate, audio }]);
            }
            for (pos, f) in delta.tool_calls.into_iter().flatten().enumerate() {
                let (name, arguments) = f.function.map_or((None, None), |x| (x.name, x.arguments));
                // A fragment without `index` is the call at its position (as the accumulator has it).
                let index = f.index.unwrap_or(crate::stream::index_of(pos));
                self.calls
                    .fragment(candidate, index, f.id, name, arguments, out);
            }
            if let Some(reason) = choice.finish_reason {
                let reason = FinishReason::from(reason.as_str());
                self.calls.finish(candidate, reason, out);
            }
        }
        if let Some(u) = chunk.usage {
            out.extend([UnifiedEvent::Usage(usage_of(&u))]);
        }
    }
}
