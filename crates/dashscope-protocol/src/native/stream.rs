//! Native stream decoding and accumulation.

use serde_json::Value;

use super::{
    Audio, Choice, Content, ContentItem, FinishReason, GenerationRequest, GenerationResponse,
    Logprobs, Message, Output, Role, SearchInfo, TokenLogprob, ToolCall,
};
use crate::error::ApiError;
use crate::sse::Event;
use crate::stream::{
    Accumulate, StreamDecode, StreamDecodeError, StreamItem, excerpt, find_or_push, index_of,
    merge_cumulative, merge_extra, merge_tool_call,
};
use crate::wire::Extra;

/// Turns native SSE events into [`GenerationResponse`] chunks.
///
/// Feed it events of an [`sse::Decoder`](crate::sse::Decoder) in
/// [`Mode::DataLineIsEvent`](crate::sse::Mode::DataLineIsEvent) ([protocol notes
/// §4.4](crate::protocol_notes#44-streaming)).
///
/// * `event:error` → [`StreamItem::Error`] (status from the frame's `:HTTP_STATUS/<code>`);
/// * a chunk with a non-empty top-level `code` → [`StreamItem::Error`];
/// * an empty `data:` → [`StreamItem::Skip`];
/// * anything else → [`StreamItem::Chunk`]. The chunk whose `finish_reason` is not `"null"`
///   (in any choice, or `output.finish_reason`) ends the stream: [`is_finished`](StreamDecode::is_finished)
///   turns true. An error frame ends it too.
#[derive(Clone, Debug, Default)]
pub struct NativeStreamDecoder {
    finished: bool,
}

impl NativeStreamDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }
}

fn decode_error(index: usize, data: &str, source: serde_json::Error) -> StreamDecodeError {
    StreamDecodeError {
        index,
        source,
        excerpt: excerpt(data),
    }
}

impl StreamDecode for NativeStreamDecoder {
    type Chunk = GenerationResponse;

    fn decode(
        &mut self,
        event: &Event<'_>,
    ) -> Result<StreamItem<GenerationResponse>, StreamDecodeError> {
        let data = event.data.trim();
        if event.event.map(str::trim) == Some("error") {
            self.finished = true;
            let body = match data {
                "" => Value::Null,
                _ => serde_json::from_str(data).unwrap_or_else(|_| Value::String(excerpt(data))),
            };
            let err = ApiError::from_json(event.http_status, &body).unwrap_or_else(|| {
                let field = |k| body.get(k).and_then(Value::as_str).map(str::to_owned);
                let message = field("message").unwrap_or_else(|| match data {
                    "" => "error event without data".to_owned(),
                    _ => excerpt(data),
                });
                ApiError::new(event.http_status, None, message, field("request_id"), body)
            });
            return Ok(StreamItem::Error(err));
        }
        if data.is_empty() {
            return Ok(StreamItem::Skip);
        }
        // The common event shape takes the fast path, which gives exactly what serde would;
        // anything else (or anything unusual) goes through serde.
        let chunk: GenerationResponse = match crate::fast::decode(data) {
            Some(chunk) => chunk,
            None => serde_json::from_str(data).map_err(|e| decode_error(event.index, data, e))?,
        };
        if let Some(err) = chunk.error(event.http_status) {
            self.finished = true;
            return Ok(StreamItem::Error(err));
        }
        if chunk.is_final() {
            self.finished = true;
        }
        Ok(StreamItem::Chunk(chunk))
    }

    fn is_finished(&self) -> bool {
        self.finished
    }
}

/// The fast path ([`crate::fast`]) of [`NativeStreamDecoder`], for differential tests and
/// fuzzing; not a stable API.
///
/// `Some(r)` only when `r == serde_json::from_str::<GenerationResponse>(data).unwrap()`; `None`
/// for any payload it leaves to serde (including every one serde rejects).
#[doc(hidden)]
pub fn __decode_fast(data: &str) -> Option<GenerationResponse> {
    crate::fast::decode(data)
}

/// The same rule as [`merge_cumulative`] for lists (log-probabilities); returns the new items.
fn merge_cumulative_list<'n, T: Clone + PartialEq>(acc: &mut Vec<T>, new: &'n [T]) -> &'n [T] {
    if new.len() >= acc.len() && new[..acc.len()] == acc[..] {
        let fresh = &new[acc.len()..];
        acc.extend_from_slice(fresh);
        fresh
    } else if acc.len() >= new.len() && acc[..new.len()] == new[..] {
        &[]
    } else {
        acc.extend_from_slice(new);
        new
    }
}

/// The text of a list's `text` items, and its other items.
fn split_parts(items: &[ContentItem]) -> (String, impl Iterator<Item = &ContentItem>) {
    let text = items
        .iter()
        .filter_map(|i| i.text.as_deref())
        .collect::<String>();
    (text, items.iter().filter(|i| i.text.is_none()))
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum ContentShape {
    #[default]
    Absent,
    Text,
    List,
}

#[derive(Clone, Debug, Default)]
struct ChoiceState {
    key: u32,
    index: Option<u32>,
    role: Option<Role>,
    shape: ContentShape,
    content: String,
    media: Vec<ContentItem>,
    reasoning: Option<String>,
    tool_calls: Vec<ToolCall>,
    finish_reason: Option<FinishReason>,
    logprobs: Option<Vec<TokenLogprob>>,
    message_extra: Extra,
    choice_extra: Extra,
}

impl ChoiceState {
    fn push(&mut self, choice: &Choice) {
        if choice.index.is_some() {
            self.index = choice.index;
        }
        if let Some(f) = &choice.finish_reason {
            // A trailing fragment may come without a finish reason; never undo a final one.
            if f.is_final() || self.finish_reason.is_none() {
                self.finish_reason = Some(f.clone());
            }
        }
        merge_extra(&mut self.choice_extra, &choice.extra, &[]);
        if let Some(content) = choice.logprobs.as_ref().and_then(|l| l.content.as_deref()) {
            self.logprobs
                .get_or_insert_with(Vec::new)
                .extend_from_slice(content);
        }
        if let Some(m) = &choice.message {
            self.push_message(m);
        }
    }

    fn push_message(&mut self, m: &Message) {
        if m.role.is_some() {
            self.role.clone_from(&m.role);
        }
        match &m.content {
            Some(Content::Text(t)) => {
                if self.shape == ContentShape::Absent {
                    self.shape = ContentShape::Text;
                }
                self.content.push_str(t);
            }
            Some(Content::Parts(items)) => {
                self.shape = ContentShape::List;
                let (text, media) = split_parts(items);
                self.content.push_str(&text);
                self.media.extend(media.cloned());
            }
            Some(Content::Unknown(_)) | None => {}
        }
        if let Some(r) = &m.reasoning_content {
            self.reasoning.get_or_insert_with(String::new).push_str(r);
        }
        for (pos, frag) in m.tool_calls.iter().flatten().enumerate() {
            merge_tool_call(&mut self.tool_calls, pos, frag);
        }
        merge_extra(&mut self.message_extra, &m.extra, &[]);
    }

    fn snapshot(&self) -> Choice {
        let content = match self.shape {
            ContentShape::Absent => None,
            ContentShape::Text => Some(Content::Text(self.content.clone())),
            ContentShape::List => {
                let mut items = self.media.clone();
                if !self.content.is_empty() {
                    items.insert(0, ContentItem::text(self.content.clone()));
                }
                Some(Content::Parts(items))
            }
        };
        let mut tool_calls = self.tool_calls.clone();
        tool_calls.sort_by_key(|c| c.index);
        Choice {
            finish_reason: self.finish_reason.clone(),
            index: self.index,
            message: Some(Message {
                role: self.role.clone(),
                content,
                reasoning_content: self.reasoning.clone(),
                tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
                extra: self.message_extra.clone(),
                ..Message::default()
            }),
            logprobs: self.logprobs.clone().map(|content| Logprobs {
                content: Some(content),
                ..Logprobs::default()
            }),
            extra: self.choice_extra.clone(),
            nulls: Default::default(),
        }
    }
}

/// Folds native stream chunks into the final [`GenerationResponse`].
///
/// Build it for the request's `incremental_output`: [`incremental`](Self::incremental) (`true`,
/// chunks carry deltas, concatenated) or [`cumulative`](Self::cumulative) (`false`, every chunk
/// repeats all text so far: each is first turned into a delta by [`CumulativeToDelta`], so
/// nothing is duplicated). Both result formats are handled: text
/// (`output.text`) and message (`output.choices`, string or multimodal list content,
/// `reasoning_content`, tool calls merged by `index`, log-probabilities). Usage comes from the
/// last chunk that has any (it is cumulative); `search_info` from the chunk with results;
/// spoken output (`output.audio`, pieces in either mode) is folded as
/// [`Audio`](crate::common::Audio) describes. Unknown members are kept at each level (a later
/// value wins, but a `null` never replaces a value).
///
/// ```
/// use dashscope_protocol::native::{GenerationResponse, NativeAccumulator};
/// use dashscope_protocol::stream::Accumulate;
///
/// let chunks = [
///     r#"{"output":{"finish_reason":"null","text":"1+"}}"#,
///     r#"{"output":{"finish_reason":"null","text":"1=2"}}"#,
///     r#"{"output":{"finish_reason":"stop","text":""},"usage":{"output_tokens":3}}"#,
/// ];
/// let mut acc = NativeAccumulator::incremental();
/// for c in chunks {
///     acc.push(&serde_json::from_str::<GenerationResponse>(c).unwrap());
/// }
/// let r = acc.finish();
/// assert_eq!(r.text().as_deref(), Some("1+1=2"));
/// assert_eq!(r.usage.unwrap().output_tokens, Some(3));
/// ```
#[derive(Clone, Debug, Default)]
pub struct NativeAccumulator {
    /// For a cumulative stream: turns its chunks into deltas first.
    to_delta: Option<CumulativeToDelta>,
    /// The response so far, but for its choices.
    done: GenerationResponse,
    choices: Vec<ChoiceState>,
}

impl NativeAccumulator {
    /// An accumulator for `incremental_output: true` (`incremental`) or `false`.
    pub fn new(incremental: bool) -> Self {
        NativeAccumulator {
            to_delta: (!incremental).then(CumulativeToDelta::new),
            ..Default::default()
        }
    }

    /// For `incremental_output: true`: chunks carry deltas (also the default).
    pub fn incremental() -> Self {
        Self::new(true)
    }

    /// For `incremental_output: false`: each chunk repeats all text so far.
    pub fn cumulative() -> Self {
        Self::new(false)
    }

    /// For the stream of `request` (cumulative only if it says `incremental_output: false`).
    pub fn for_request(request: &GenerationRequest) -> Self {
        Self::new(request.is_incremental())
    }

    /// Whether chunks are taken as deltas.
    pub fn is_incremental(&self) -> bool {
        self.to_delta.is_none()
    }

    fn push_output(&mut self, output: &Output) {
        let o = self.done.output.get_or_insert_with(Output::default);
        if let Some(t) = &output.text {
            o.text.get_or_insert_with(String::new).push_str(t);
        }
        if let Some(f) = &output.finish_reason {
            if f.is_final() || o.finish_reason.is_none() {
                o.finish_reason = Some(f.clone());
            }
        }
        for (pos, choice) in output.choices.iter().flatten().enumerate() {
            let key = choice.index.unwrap_or(index_of(pos));
            let make = || ChoiceState {
                key,
                ..ChoiceState::default()
            };
            find_or_push(&mut self.choices, |c| c.key == key, make).push(choice);
        }
        if let Some(info) = &output.search_info {
            if !o.search_info.as_ref().is_some_and(SearchInfo::has_results) {
                o.search_info = Some(info.clone());
            }
        }
        if let Some(a) = &output.audio {
            o.audio.get_or_insert_with(Audio::default).push(a);
        }
        merge_extra(&mut o.extra, &output.extra, &[]);
    }
}

impl Accumulate for NativeAccumulator {
    type Chunk = GenerationResponse;
    type Output = GenerationResponse;

    fn push(&mut self, chunk: &GenerationResponse) {
        let delta;
        let chunk = match &mut self.to_delta {
            Some(d) => {
                delta = d.delta(chunk);
                &delta
            }
            None => chunk,
        };
        if let Some(output) = &chunk.output {
            self.push_output(output);
        }
        let d = &mut self.done;
        if let Some(u) = &chunk.usage {
            if !u.is_empty() || d.usage.is_none() {
                d.usage = Some(u.clone());
            }
        }
        if chunk.request_id.is_some() {
            d.request_id.clone_from(&chunk.request_id);
        }
        if chunk.code.as_deref().is_some_and(|c| !c.is_empty()) {
            d.code.clone_from(&chunk.code);
            d.message.clone_from(&chunk.message);
        }
        merge_extra(&mut d.extra, &chunk.extra, &[]);
    }

    fn snapshot(&self) -> GenerationResponse {
        let mut out = self.done.clone();
        if let Some(o) = out.output.as_mut().filter(|_| !self.choices.is_empty()) {
            let mut choices: Vec<Choice> = self.choices.iter().map(ChoiceState::snapshot).collect();
            choices.sort_by_key(|c| c.index);
            o.choices = Some(choices);
        }
        out
    }
}

/// Folds a whole chunk sequence (convenience over [`NativeAccumulator`]).
pub fn accumulate<'a, I>(incremental: bool, chunks: I) -> GenerationResponse
where
    I: IntoIterator<Item = &'a GenerationResponse>,
{
    let mut acc = NativeAccumulator::new(incremental);
    for c in chunks {
        acc.push(c);
    }
    acc.finish()
}

#[derive(Clone, Debug, Default)]
struct DeltaChoice {
    key: u32,
    content: String,
    media: Vec<ContentItem>,
    reasoning: String,
    logprobs: Vec<TokenLogprob>,
    /// (index, id sent, name sent, arguments so far)
    calls: Vec<(u32, bool, bool, String)>,
}

/// Turns the chunks of an `incremental_output: false` (cumulative) stream into delta chunks,
/// as an `incremental_output: true` stream would have sent them.
///
/// Text, reasoning, multimodal text, tool-call arguments and log-probabilities keep only what is
/// new; a tool call's id and name appear in its first delta only (later ones have `id: ""`, as
/// the service sends them). Everything else (usage, finish reason, request id, unknown members)
/// passes through. A chunk that does not repeat the text so far is taken as a delta already.
///
/// ```
/// use dashscope_protocol::native::{CumulativeToDelta, GenerationResponse};
///
/// let mut d = CumulativeToDelta::new();
/// let texts: Vec<String> = ["我爱", "我爱吃", "我爱吃苹果"]
///     .iter()
///     .map(|t| {
///         let c: GenerationResponse = serde_json::from_value(serde_json::json!(
///             {"output": {"choices": [{"message": {"role": "assistant", "content": t}}]}}
///         )).unwrap();
///         d.delta(&c).text().unwrap().into_owned()
///     })
///     .collect();
/// assert_eq!(texts, ["我爱", "吃", "苹果"]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct CumulativeToDelta {
    text: String,
    choices: Vec<DeltaChoice>,
}

impl CumulativeToDelta {
    /// A converter at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// The delta form of the next cumulative chunk.
    pub fn delta(&mut self, chunk: &GenerationResponse) -> GenerationResponse {
        let mut out = chunk.clone();
        let Some(output) = out.output.as_mut() else {
            return out;
        };
        if let Some(t) = output.text.as_mut() {
            *t = merge_cumulative(&mut self.text, t).to_owned();
        }
        for (pos, choice) in output
            .choices
            .as_deref_mut()
            .unwrap_or(&mut [])
            .iter_mut()
            .enumerate()
        {
            let key = choice.index.unwrap_or(index_of(pos));
            let make = || DeltaChoice {
                key,
                ..DeltaChoice::default()
            };
            let state = find_or_push(&mut self.choices, |c| c.key == key, make);
            if let Some(content) = choice.logprobs.as_mut().and_then(|l| l.content.as_mut()) {
                *content = merge_cumulative_list(&mut state.logprobs, content).to_vec();
            }
            if let Some(m) = choice.message.as_mut() {
                state.delta_message(m);
            }
        }
        out
    }
}

impl DeltaChoice {
    fn delta_message(&mut self, m: &mut Message) {
        match m.content.as_mut() {
            Some(Content::Text(t)) => *t = merge_cumulative(&mut self.content, t).to_owned(),
            Some(Content::Parts(items)) => {
                let (text, media) = split_parts(items);
                let media: Vec<ContentItem> = media.cloned().collect();
                let text = merge_cumulative(&mut self.content, &text).to_owned();
                let mut fresh = merge_cumulative_list(&mut self.media, &media).to_vec();
                if !text.is_empty() {
                    fresh.insert(0, ContentItem::text(text));
                }
                *items = fresh;
            }
            Some(Content::Unknown(_)) | None => {}
        }
        if let Some(r) = m.reasoning_content.as_mut() {
            *r = merge_cumulative(&mut self.reasoning, r).to_owned();
        }
        for (pos, call) in m
            .tool_calls
            .as_deref_mut()
            .unwrap_or(&mut [])
            .iter_mut()
            .enumerate()
        {
            let key = call.index.unwrap_or(index_of(pos));
            let make = || (key, false, false, String::new());
            let (_, id_sent, name_sent, args) = find_or_push(&mut self.calls, |c| c.0 == key, make);
            match call.id.as_mut() {
                Some(id) if !id.is_empty() => {
                    if *id_sent {
                        id.clear();
                    } else {
                        *id_sent = true;
                    }
                }
                _ => {}
            }
            if let Some(f) = call.function.as_mut() {
                if f.name.as_deref().is_some_and(|n| !n.is_empty()) {
                    if *name_sent {
                        f.name = None;
                    } else {
                        *name_sent = true;
                    }
                }
                if let Some(a) = f.arguments.as_mut() {
                    *a = merge_cumulative(args, a).to_owned();
                }
            }
        }
    }
}
