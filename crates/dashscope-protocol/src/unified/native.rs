//! Native generation ⇄ unified: [`GenerationRequest`] both ways, [`GenerationResponse`] and
//! native streams (incremental or cumulative, message or text format) read.

use super::chat::{
    call_from, call_to, choice_of, choice_to, format_of, format_to, plain_call, read_shared,
    stop_of, tool_from, tool_to, write_shared,
};
use super::events::{Calls, UnifiedEvent};
use super::model::{
    Candidate, Conversation, DialectValue, FinishReason, ImagePart, Message, Part, ReasoningEffort,
    Role, Sampling, Thinking, UnifiedResponse, Usage, VideoPart, VideoSource, string_form,
    text_parts,
};
use super::{ConvertError, float, keep, narrow, own, set_float, set_list, unsupported};
use crate::cassette::Dialect;
use crate::native::{
    self, Content, ContentItem, CumulativeToDelta, GenerationRequest, GenerationResponse, Input,
    Parameters, Stop,
};
use crate::stream::index_of;

const D: Dialect = Dialect::Native;

impl Conversation {
    /// The conversation of a native request (lossless: [`to_native`](Self::to_native) gives the
    /// same request back). An `input.prompt` reads as one user message.
    pub fn from_native(request: &GenerationRequest) -> Self {
        let none = Parameters::default();
        let p = request.parameters.as_ref().unwrap_or(&none);
        let (sampling, thinking) = read_shared!(p, p.stop.as_ref().and_then(stop_of));
        let mut c = Conversation {
            model: request.model.clone(),
            messages: messages_of(&request.input),
            tools: p.tools.iter().flatten().map(|t| tool_from(t, D)).collect(),
            tool_choice: p.tool_choice.as_ref().and_then(choice_of),
            parallel_tool_calls: p.parallel_tool_calls,
            sampling,
            thinking,
            response_format: p.response_format.as_ref().and_then(|f| format_of(f, D)),
            ..Default::default()
        };
        c.kept = keep(request, c.to_native(), DialectValue::Native);
        c
    }

    /// The native request of this conversation. `stream` and `include_usage` are not written:
    /// native streaming is switched on by the `X-DashScope-SSE: enable` header, and native
    /// streams always carry the usage.
    ///
    /// # Errors
    ///
    /// [`ConvertError::Unsupported`] for an image `detail`, an audio `format`, a part or tool
    /// of another dialect, or a token limit beyond `u32`.
    pub fn to_native(&self) -> Result<GenerationRequest, ConvertError> {
        let kept = self.kept.as_deref().and_then(DialectValue::native);
        let fresh = kept.is_none();
        let mut w = kept.cloned().unwrap_or_default();
        w.model.clone_from(&self.model);
        if fresh || messages_of(&w.input) != self.messages {
            w.input.prompt = None;
            w.input.messages =
                Some((self.messages.iter().map(message_to_native)).collect::<Result<_, _>>()?);
        }
        // The service requires `parameters`: written even when empty, unless it was absent.
        let present = fresh || w.parameters.is_some();
        let mut p = w.parameters.take().unwrap_or_default();
        set_list(&mut p.tools, &self.tools, |t| tool_to(t, D))?;
        if p.tool_choice.as_ref().and_then(choice_of) != self.tool_choice {
            p.tool_choice = self.tool_choice.as_ref().map(choice_to);
        }
        p.parallel_tool_calls = self.parallel_tool_calls;
        write_shared!(p, self.sampling, self.thinking, D);
        if p.stop.as_ref().and_then(stop_of) != self.sampling.stop {
            p.stop = self.sampling.stop.clone().map(Stop::Texts);
        }
        if p.response_format.as_ref().and_then(|f| format_of(f, D)) != self.response_format {
            p.response_format = self.response_format.as_ref().map(|f| format_to(f, D));
        }
        w.parameters = (present || p != Parameters::default()).then_some(p);
        Ok(w)
    }
}

/// The messages of `input`: its `prompt` as one user message, else its `messages`.
fn messages_of(input: &Input) -> Vec<Message> {
    match &input.prompt {
        Some(prompt) => vec![Message::user(prompt.clone())],
        None => input
            .messages
            .iter()
            .flatten()
            .map(message_from_native)
            .collect(),
    }
}

fn role_of(m: &native::Message) -> Role {
    m.role.as_ref().map_or(Role::User, |r| r.as_str().into())
}

fn message_from_native(m: &native::Message) -> Message {
    let mut out = Message {
        role: role_of(m),
        parts: m.content.as_ref().map_or_else(Vec::new, parts_of),
        reasoning: m.reasoning_content.clone(),
        tool_calls: m
            .tool_calls
            .iter()
            .flatten()
            .map(|c| call_from(c, D))
            .collect(),
        tool_call_id: m.tool_call_id.clone(),
        name: m.name.clone(),
        partial: m.partial == Some(true),
        kept: None,
    };
    out.kept = keep(m, message_to_native(&out), DialectValue::Native);
    out
}

fn message_to_native(m: &Message) -> Result<native::Message, ConvertError> {
    let kept = m.kept.as_deref().and_then(DialectValue::native);
    let fresh = kept.is_none();
    let mut w = kept.cloned().unwrap_or_default();
    if fresh || role_of(&w) != m.role {
        w.role = Some(m.role.as_str().into());
    }
    if fresh || w.content.as_ref().map_or_else(Vec::new, parts_of) != m.parts {
        w.content = Some(match string_form(&m.parts, D) {
            Some(s) => Content::Text(s.to_owned()),
            None => Content::Parts(
                m.parts
                    .iter()
                    .map(part_to_native)
                    .collect::<Result<_, _>>()?,
            ),
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

fn parts_of(c: &Content) -> Vec<Part> {
    match c {
        Content::Text(t) => text_parts(t.clone()),
        Content::Parts(items) => items.iter().map(part_from_native).collect(),
        Content::Unknown(_) => Vec::new(),
    }
}

/// An item is a part of the kind of its one media member (`text`, `image`, `audio` or
/// `video`); an item with none or several is a part only native has.
fn part_from_native(item: &ContentItem) -> Part {
    let mut part = match (&item.text, &item.image, &item.audio, &item.video) {
        (Some(t), None, None, None) => Part::text(t.clone()),
        (None, Some(url), None, None) => Part::Image(ImagePart {
            url: url.clone(),
            detail: None,
            min_pixels: item.min_pixels,
            max_pixels: item.max_pixels,
            kept: None,
        }),
        (None, None, Some(url), None) => Part::audio(url.clone(), None),
        (None, None, None, Some(v)) => Part::Video(VideoPart {
            source: match v {
                native::VideoSource::Url(u) => VideoSource::Url(u.clone()),
                native::VideoSource::Frames(f) => VideoSource::Frames(f.clone()),
            },
            fps: float(&item.fps),
            min_pixels: item.min_pixels,
            max_pixels: item.max_pixels,
            total_pixels: item.total_pixels,
            kept: None,
        }),
        _ => return Part::Dialect(DialectValue::Native(item.clone())),
    };
    part.set_kept(keep(item, part_to_native(&part), DialectValue::Native));
    part
}

fn part_to_native(p: &Part) -> Result<ContentItem, ConvertError> {
    let kept = p.kept().and_then(DialectValue::native);
    let mut w = kept.cloned().unwrap_or_default();
    match p {
        Part::Text(t) => w.text = Some(t.text.clone()),
        Part::Image(i) => {
            if i.detail.is_some() {
                return Err(unsupported(D, "an image detail hint"));
            }
            w.image = Some(i.url.clone());
            w.min_pixels = i.min_pixels;
            w.max_pixels = i.max_pixels;
        }
        Part::Audio(a) => {
            if a.format.is_some() {
                return Err(unsupported(
                    D,
                    "an audio format (give the audio as a data: URI instead)",
                ));
            }
            w.audio = Some(a.url.clone());
        }
        Part::Video(v) => {
            w.video = Some(match &v.source {
                VideoSource::Url(u) => native::VideoSource::Url(u.clone()),
                VideoSource::Frames(f) => native::VideoSource::Frames(f.clone()),
            });
            set_float(&mut w.fps, v.fps);
            w.min_pixels = v.min_pixels;
            w.max_pixels = v.max_pixels;
            w.total_pixels = v.total_pixels;
        }
        Part::Dialect(d) => return own(d, D, DialectValue::native, "content part"),
    }
    Ok(w)
}

impl UnifiedResponse {
    /// The answer of a native response, in the text (`output.text`) or message
    /// (`output.choices`) format. Native answers carry no model name.
    pub fn from_native(response: &GenerationResponse) -> Self {
        let candidates = match &response.output {
            Some(o) if o.text.is_some() => vec![Candidate {
                text: o.text.clone().unwrap_or_default(),
                finish_reason: final_reason(o.finish_reason.as_ref()),
                ..Default::default()
            }],
            Some(o) => (o.choices.iter().flatten().enumerate())
                .map(|(pos, c)| {
                    let m = c.message.as_ref();
                    Candidate {
                        index: c.index.unwrap_or(index_of(pos)),
                        text: (m.and_then(native::Message::text))
                            .map_or_else(String::new, |t| t.into_owned()),
                        reasoning: m
                            .and_then(|m| m.reasoning_content.clone())
                            .unwrap_or_default(),
                        tool_calls: (m.and_then(|m| m.tool_calls.as_ref()).into_iter().flatten())
                            .map(plain_call)
                            .collect(),
                        audio: None,
                        finish_reason: final_reason(c.finish_reason.as_ref()),
                    }
                })
                .collect(),
            None => Vec::new(),
        };
        // Spoken output belongs to the first candidate (a speech-only answer has only it).
        let mut candidates = candidates;
        if let Some(audio) = response.output.as_ref().and_then(|o| o.audio.clone()) {
            if candidates.is_empty() {
                candidates.push(Candidate::default());
            }
            candidates[0].audio = Some(audio);
        }
        UnifiedResponse {
            id: response.request_id.clone(),
            model: None,
            candidates,
            usage: response.usage.as_ref().map(usage_of),
            kept: Some(Box::new(DialectValue::Native(response.clone()))),
        }
    }
}

/// A final finish reason (`"null"`, the not-finished marker of stream chunks, is not one).
fn final_reason(f: Option<&native::FinishReason>) -> Option<FinishReason> {
    f.filter(|f| f.is_final()).map(|f| f.as_str().into())
}

fn usage_of(u: &native::Usage) -> Usage {
    let (input, output) = (u.input_tokens.unwrap_or(0), u.output_tokens.unwrap_or(0));
    Usage {
        input_tokens: input,
        output_tokens: output,
        total_tokens: u.total_tokens.unwrap_or(input.saturating_add(output)),
        reasoning_tokens: (u.output_tokens_details.as_ref()).and_then(|d| d.reasoning_tokens),
        cached_tokens: (u
            .prompt_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens))
        .or_else(|| (u.input_tokens_details.as_ref()).and_then(|d| d.cached_tokens)),
    }
}

/// Turns native stream chunks into unified events.
///
/// Build it for the request's `incremental_output` ([`new`](Self::new)`(false)` for a
/// cumulative stream, whose chunks are first turned into deltas by [`CumulativeToDelta`]: a
/// copy of each chunk, the price of a stream that repeats everything so far anyway). Both
/// result formats are read; the chunk whose `finish_reason` is not `"null"` gives a
/// `ToolCallDone` per open call and `Finish`; every chunk with a non-empty usage gives `Usage`
/// (cumulative counts).
#[derive(Clone, Debug)]
pub struct NativeEventReader {
    to_delta: Option<CumulativeToDelta>,
    id: Option<String>,
    calls: Calls,
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
            to_delta: (!incremental).then(CumulativeToDelta::new),
            id: None,
            calls: Calls::default(),
        }
    }

    /// A reader for the stream of `request` (cumulative only if it says
    /// `incremental_output: false`).
    pub fn for_request(request: &GenerationRequest) -> Self {
        Self::new(request.is_incremental())
    }

    /// Reads one chunk into `out`.
    pub fn read(&mut self, chunk: GenerationResponse, out: &mut impl Extend<UnifiedEvent>) {
        let chunk = match &mut self.to_delta {
            Some(d) => d.delta(&chunk),
            None => chunk,
        };
        if chunk.request_id.is_some() && chunk.request_id != self.id {
            self.id.clone_from(&chunk.request_id);
            out.extend([UnifiedEvent::Meta {
                id: chunk.request_id,
                model: None,
            }]);
        }
        if let Some(o) = chunk.output {
            if let Some(text) = o.text.filter(|t| !t.is_empty()) {
                out.extend([UnifiedEvent::TextDelta { candidate: 0, text }]);
            }
            if let Some(audio) = o.audio {
                out.extend([UnifiedEvent::AudioDelta {
                    candidate: 0,
                    audio,
                }]);
            }
            for (pos, c) in o.choices.into_iter().flatten().enumerate() {
                let candidate = c.index.unwrap_or(index_of(pos));
                if let Some(m) = c.message {
                    if let Some(text) = m.reasoning_content.filter(|t| !t.is_empty()) {
                        out.extend([UnifiedEvent::ReasoningDelta { candidate, text }]);
                    }
                    let mut text = |text: String| {
                        if !text.is_empty() {
                            out.extend([UnifiedEvent::TextDelta { candidate, text }]);
                        }
                    };
                    match m.content {
                        Some(Content::Text(t)) => text(t),
                        Some(Content::Parts(items)) => {
                            items.into_iter().filter_map(|i| i.text).for_each(text)
                        }
                        _ => {}
                    }
                    for (fpos, f) in m.tool_calls.into_iter().flatten().enumerate() {
                        let index = f.index.unwrap_or(index_of(fpos));
                        let (name, arguments) =
                            f.function.map_or((None, None), |x| (x.name, x.arguments));
                        self.calls
                            .fragment(candidate, index, f.id, name, arguments, out);
                    }
                }
                if let Some(reason) = final_reason(c.finish_reason.as_ref()) {
                    self.calls.finish(candidate, reason, out);
                }
            }
            if let Some(reason) = final_reason(o.finish_reason.as_ref()) {
                self.calls.finish(0, reason, out);
            }
        }
        if let Some(u) = chunk.usage.filter(|u| !u.is_empty()) {
            out.extend([UnifiedEvent::Usage(usage_of(&u))]);
        }
    }
}
