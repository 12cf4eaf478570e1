//! Renders a [`UnifiedResponse`] in a dialect, stream or not, as the protocol crate's typed
//! values (serialized by serde, framed by its SSE [`Encoder`]), with the service's quirks: the
//! explicit `null`s a client sees (`"usage": null` on every chat chunk, `"content": null`
//! while reasoning, …), the trailing empty tool-call fragment of chat streams, native
//! `finish_reason` `"null"` until the last chunk with cumulative usage, `incremental_output`
//! and `result_format`, Responses events from `response.created` to `response.completed`.
//!
//! Every dialect streams the same pieces: text, reasoning and tool-call arguments are cut into
//! pieces of 1 to 3 tokens by a generator seeded per answer.

use dashscope_protocol::cassette::{Body, Chunk};
use dashscope_protocol::chat::{
    self, Audio, ChatChunk, ChatCompletion, ChunkChoice, Delta, FinishReason, FunctionCall,
    InputTokensDetails, OutputTokensDetails, Role, ToolCall, ToolType,
};
use dashscope_protocol::dialect::Endpoint;
use dashscope_protocol::native::{self, GenerationResponse};
use dashscope_protocol::responses::{self as resp, ResponseStreamEvent as Ev};
use dashscope_protocol::sse::Encoder;
use dashscope_protocol::unified::{self, DialectRequest, UnifiedResponse};
use serde::Serialize;

use super::generate::{fnv1a, tokens};
use super::schema::Rng;
use crate::state::{RequestId, splitmix64};

/// A piece of streamed text and how many tokens it holds.
struct Piece {
    text: String,
    tokens: u64,
}

/// Cuts `text` into pieces of 1 to 3 tokens.
fn pieces(text: &str, rng: &mut Rng) -> Vec<Piece> {
    let toks: Vec<&str> = tokens(text).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let n = (1 + rng.below(3)).min(toks.len() - i);
        out.push(Piece {
            text: toks[i..i + n].concat(),
            tokens: n as u64,
        });
        i += n;
    }
    out
}

/// A candidate cut into the pieces every dialect streams.
struct Laid<'a> {
    c: &'a unified::Candidate,
    reasoning: Vec<Piece>,
    text: Vec<Piece>,
    /// Each tool call's argument pieces.
    args: Vec<Vec<Piece>>,
    finish: FinishReason,
}

impl Laid<'_> {
    /// The whole tool calls, in the chat/native shape.
    fn calls(&self) -> Vec<ToolCall> {
        let calls = self.c.tool_calls.iter().enumerate();
        calls
            .map(|(k, t)| call(k, &t.id, Some(&t.name), &t.arguments))
            .collect()
    }
}

/// An answer laid out for rendering, with the request id and time it carries.
pub(crate) struct Answer<'a> {
    model: &'a str,
    cands: Vec<Laid<'a>>,
    /// Usage: input, output, reasoning, total.
    usage: [u64; 4],
    /// The reasoning members are written (even empty).
    thinking: bool,
    rid: &'a str,
    created: i64,
}

/// One native chunk's content (or a whole native answer's, for one candidate).
struct Step<'a> {
    laid: &'a Laid<'a>,
    reasoning: String,
    text: String,
    calls: Vec<ToolCall>,
    finish: FinishReason,
}

/// The native envelope a request asks for.
struct Native {
    /// `result_format: text` (`output.text`), when the answer can be written so (one
    /// candidate, no reasoning, no tool calls); else `message` (`output.choices`).
    text: bool,
    /// `incremental_output` (streams): deltas, else everything so far in every chunk.
    incremental: bool,
    /// The multimodal path: content is a list of `{"text"}` parts, and a stream ends on its
    /// last piece instead of an extra empty chunk.
    multimodal: bool,
}

/// A Responses output item with its stream pieces.
enum Item<'a> {
    Reasoning(&'a str, &'a [Piece]),
    Message(&'a str, &'a [Piece]),
    Call(&'a unified::ToolCall, &'a [Piece]),
}

impl<'a> Answer<'a> {
    /// Lays `r` out with `seed`; `thinking`: the request asked for thinking.
    pub(crate) fn new(
        r: &'a UnifiedResponse,
        thinking: bool,
        seed: u64,
        rid: &'a str,
        created: i64,
    ) -> Self {
        let lay = |c: &'a unified::Candidate| {
            let mut rng =
                Rng::new(seed ^ 0x5EED_C0DE ^ u64::from(c.index).wrapping_mul(0x9E37_79B9));
            let (reasoning, text) = (pieces(&c.reasoning, &mut rng), pieces(&c.text, &mut rng));
            let args = c.tool_calls.iter().map(|t| pieces(&t.arguments, &mut rng));
            let finish = c.finish_reason.as_ref().map(|f| f.as_str().into());
            Laid {
                c,
                reasoning,
                text,
                args: args.collect(),
                finish: finish.unwrap_or(FinishReason::Stop),
            }
        };
        let cands: Vec<Laid<'a>> = r.candidates.iter().map(lay).collect();
        let sum = |p: &[Piece]| p.iter().map(|p| p.tokens).sum::<u64>();
        let reasoning: u64 = cands.iter().map(|l| sum(&l.reasoning)).sum();
        let output = cands.iter().map(|l| {
            let names =
                l.c.tool_calls
                    .iter()
                    .map(|t| tokens(&t.name).count() as u64);
            sum(&l.reasoning)
                + sum(&l.text)
                + l.args.iter().map(|a| sum(a)).sum::<u64>()
                + names.sum::<u64>()
        });
        let usage = match &r.usage {
            Some(u) => [
                u.input_tokens,
                u.output_tokens,
                u.reasoning_tokens.unwrap_or(0),
                u.total_tokens,
            ],
            None => [0, output.clone().sum(), reasoning, output.sum()],
        };
        let thinking = thinking || cands.iter().any(|l| !l.c.reasoning.is_empty());
        Answer {
            model: r.model.as_deref().unwrap_or_default(),
            cands,
            usage,
            thinking,
            rid,
            created,
        }
    }

    /// The body in `endpoint`'s dialect: one JSON text, or the framed events of a stream.
    pub(crate) fn body(
        &self,
        endpoint: Endpoint,
        request: Option<&DialectRequest>,
        stream: bool,
    ) -> Body {
        let responses = request.and_then(DialectRequest::responses);
        let events = match (endpoint, stream) {
            (Endpoint::ChatCompletions, false) => return json(&self.chat()),
            (Endpoint::ChatCompletions, true) => {
                let options = request.and_then(|r| r.chat()?.stream_options.as_ref());
                self.chat_events(options.and_then(|o| o.include_usage) == Some(true))
            }
            (Endpoint::Responses | Endpoint::ResponsesLegacy, false) => {
                return json(&self.response(responses, None));
            }
            (Endpoint::Responses | Endpoint::ResponsesLegacy, true) => {
                self.responses_events(responses)
            }
            (Endpoint::NativeText | Endpoint::NativeMultimodal, _) => {
                let p = request.and_then(|r| r.native()?.parameters.as_ref());
                let multimodal = endpoint == Endpoint::NativeMultimodal;
                let format = p.and_then(|p| p.result_format.as_ref());
                let message = matches!(format, Some(native::ResultFormat::Message));
                let plain = self.cands.len() == 1
                    && !self.thinking
                    && self.cands[0].c.tool_calls.is_empty();
                let n = Native {
                    text: plain && !message && !multimodal,
                    incremental: p
                        .and_then(|p| p.incremental_output)
                        .unwrap_or(self.thinking),
                    multimodal,
                };
                if !stream {
                    let whole = self.cands.iter().map(|l| Step {
                        laid: l,
                        reasoning: l.c.reasoning.clone(),
                        text: l.c.text.clone(),
                        calls: l.calls(),
                        finish: l.finish.clone(),
                    });
                    return json(&self.native(&n, self.usage[1], self.usage[2], whole.collect()));
                }
                self.native_events(&n)
            }
        };
        let chunks = events.into_iter().map(|data| Chunk { delay_ms: 0, data });
        Body::Chunks(chunks.collect())
    }

    // Chat Completions.

    fn chat_usage(&self) -> chat::Usage {
        let [input, output, reasoning, total] = self.usage;
        chat::Usage {
            prompt_tokens: input,
            completion_tokens: output,
            total_tokens: total,
            prompt_tokens_details: Some(cached(0)),
            completion_tokens_details: self.thinking.then(|| reasoning_details(reasoning)),
            ..Default::default()
        }
    }

    fn chat(&self) -> ChatCompletion {
        let choice = |l: &Laid<'_>| {
            let calls = l.calls();
            let message = chat::Message {
                role: Role::Assistant,
                content: Some(chat::MessageContent::Text(l.c.text.clone())),
                reasoning_content: self.thinking.then(|| l.c.reasoning.clone()),
                tool_calls: (!calls.is_empty()).then_some(calls),
                audio: l.c.audio.clone(),
                ..Default::default()
            };
            let mut choice = chat::Choice {
                index: l.c.index,
                message,
                finish_reason: Some(l.finish.clone()),
                ..Default::default()
            };
            choice.set_explicit_null("logprobs", true);
            choice
        };
        let mut c = ChatCompletion {
            id: Some(format!("chatcmpl-{}", self.rid)),
            object: Some("chat.completion".into()),
            created: Some(self.created),
            model: Some(self.model.to_owned()),
            choices: self.cands.iter().map(choice).collect(),
            usage: Some(self.chat_usage()),
            ..Default::default()
        };
        c.set_explicit_null("system_fingerprint", true);
        c
    }

    /// A chunk framed for the stream; `usage`: the usage chunk's (else `"usage": null`).
    fn chunk(&self, choices: Vec<ChunkChoice>, usage: Option<chat::Usage>) -> String {
        let mut c = ChatChunk {
            id: Some(format!("chatcmpl-{}", self.rid)),
            object: Some("chat.completion.chunk".into()),
            created: Some(self.created),
            model: Some(self.model.to_owned()),
            choices,
            ..Default::default()
        };
        c.set_explicit_null("usage", usage.is_none());
        c.usage = usage.map(Box::new);
        c.set_explicit_null("system_fingerprint", true);
        let data = serde_json::to_string(&c).unwrap_or_default();
        framed(|out| Encoder::compat().data(out, &data))
    }

    fn chat_events(&self, include_usage: bool) -> Vec<String> {
        let mut out = Vec::new();
        for l in &self.cands {
            // A choice; `nulls`: with `finish_reason` (`null` until the end) and `logprobs`.
            let choice = |delta: Delta, finish: Option<FinishReason>, nulls: bool| {
                let mut choice = ChunkChoice {
                    index: l.c.index,
                    delta,
                    ..Default::default()
                };
                choice.set_explicit_null("finish_reason", nulls && finish.is_none());
                choice.finish_reason = finish;
                choice.set_explicit_null("logprobs", nulls);
                vec![choice]
            };
            // A delta of content or reasoning; `null` for the one not sent (reasoning only
            // when thinking).
            let delta = |content: Option<&str>, reasoning: Option<&str>| {
                let own = |s: Option<&str>| s.map(str::to_owned);
                let mut d = Delta {
                    content: own(content),
                    reasoning_content: own(reasoning),
                    ..Default::default()
                };
                d.set_explicit_null("content", content.is_none());
                d.set_explicit_null("reasoning_content", reasoning.is_none() && self.thinking);
                d
            };
            // A delta of a tool-call fragment or an audio piece, `"content": null`.
            let bare = |tool_calls: Option<Vec<ToolCall>>, audio: Option<Audio>| {
                let mut d = Delta {
                    tool_calls,
                    audio,
                    ..Default::default()
                };
                d.set_explicit_null("content", true);
                d
            };
            let calls = |c: ToolCall| bare(Some(vec![c]), None);
            // The opening chunk carries the role.
            let mut reasoning = l.reasoning.iter();
            let mut open = match reasoning.next().filter(|_| self.thinking) {
                Some(first) => delta(None, Some(&first.text)),
                None => Delta {
                    content: Some(String::new()),
                    ..Default::default()
                },
            };
            open.role = Some(Role::Assistant);
            let mut deltas = vec![open];
            deltas.extend(reasoning.map(|p| delta(None, Some(&p.text))));
            deltas.extend(l.text.iter().map(|p| delta(Some(&p.text), None)));
            let audio = l.c.audio.iter().flat_map(audio_pieces);
            deltas.extend(audio.map(|a| bare(None, Some(a))));
            for (k, (t, args)) in l.c.tool_calls.iter().zip(&l.args).enumerate() {
                deltas.push(calls(call(k, &t.id, Some(&t.name), "")));
                deltas.extend(args.iter().map(|p| calls(call(k, "", None, &p.text))));
            }
            let chunk = |d: Delta| self.chunk(choice(d, None, true), None);
            out.extend(deltas.into_iter().map(chunk));
            if let Some(k) = l.c.tool_calls.len().checked_sub(1) {
                // The recorded quirk: a trailing empty fragment whose choice has no
                // finish_reason and no logprobs (protocol_notes §2.4).
                let delta = Delta {
                    tool_calls: Some(vec![call(k, "", None, "")]),
                    ..Default::default()
                };
                out.push(self.chunk(choice(delta, None, false), None));
            }
            let last = choice(delta(Some(""), None), Some(l.finish.clone()), true);
            out.push(self.chunk(last, None));
        }
        if include_usage {
            out.push(self.chunk(Vec::new(), Some(self.chat_usage())));
        }
        out.push(framed(|out| Encoder::compat().done(out)));
        out
    }

    // Native.

    /// A native answer or chunk of `steps` (one per candidate; the text format reads the
    /// first) with `output` tokens (`reasoning` of them) so far.
    fn native(
        &self,
        n: &Native,
        output: u64,
        reasoning: u64,
        steps: Vec<Step<'_>>,
    ) -> GenerationResponse {
        let [input, all, _, total] = self.usage;
        // The final chunk (and the non-stream body) carries the answer's own total.
        let total = if output == all { total } else { input + output };
        let mut usage = native::Usage {
            input_tokens: Some(input),
            output_tokens: Some(output),
            total_tokens: Some(total),
            ..Default::default()
        };
        let mut out = native::Output::default();
        if n.text {
            if let Some(s) = steps.into_iter().next() {
                (out.text, out.finish_reason) = (Some(s.text), Some(s.finish));
            }
        } else {
            usage.output_tokens_details = self.thinking.then(|| reasoning_details(reasoning));
            usage.prompt_tokens_details = Some(cached(0));
            let choice = |s: Step<'_>| native::Choice {
                finish_reason: Some(s.finish),
                index: (self.cands.len() > 1).then_some(s.laid.c.index),
                message: Some(native::Message {
                    role: Some(Role::Assistant),
                    content: Some(match (n.multimodal, s.text.is_empty()) {
                        (false, _) => native::Content::Text(s.text),
                        (true, true) => native::Content::Parts(Vec::new()),
                        (true, false) => native::Content::Parts(vec![native::ContentItem {
                            text: Some(s.text),
                            ..Default::default()
                        }]),
                    }),
                    reasoning_content: self.thinking.then_some(s.reasoning),
                    tool_calls: (!s.calls.is_empty()).then_some(s.calls),
                    ..Default::default()
                }),
                ..Default::default()
            };
            out.choices = Some(steps.into_iter().map(choice).collect());
        }
        GenerationResponse {
            output: Some(out),
            usage: Some(usage),
            request_id: Some(self.rid.to_owned()),
            ..Default::default()
        }
    }

    fn native_events(&self, n: &Native) -> Vec<String> {
        type NativeStep<'a> = (&'a str, &'a str, Option<(usize, &'a str)>, u64, u64);
        let mut events = Vec::new();
        let (mut output, mut reasoning) = (0, 0);
        for (ci, l) in self.cands.iter().enumerate() {
            // Each step: a reasoning piece, a text piece or a piece of call `k`'s arguments (a
            // call without arguments has one empty piece), its tokens (the first piece of a
            // call's arguments carries its name's) and the reasoning tokens of them.
            let mut steps: Vec<NativeStep<'_>> = Vec::new();
            steps.extend(
                l.reasoning
                    .iter()
                    .map(|p| (&*p.text, "", None, p.tokens, p.tokens)),
            );
            steps.extend(l.text.iter().map(|p| ("", &*p.text, None, p.tokens, 0)));
            for (k, (t, args)) in l.c.tool_calls.iter().zip(&l.args).enumerate() {
                let name = tokens(&t.name).count() as u64;
                let (first, tok) = args.first().map_or(("", 0), |p| (&*p.text, p.tokens));
                steps.push(("", "", Some((k, first)), tok + name, 0));
                let rest = args.iter().skip(1);
                steps.extend(rest.map(|p| ("", "", Some((k, &*p.text)), p.tokens, 0)));
            }
            // Text-generation streams end with an extra empty chunk (cumulative ones repeat
            // everything once more); multimodal ones and tool calls end on their last piece.
            if steps.is_empty() || (!n.multimodal && l.c.tool_calls.is_empty()) {
                steps.push(("", "", None, 0, 0));
            }
            let (mut reasoning_so_far, mut text_so_far) = (String::new(), String::new());
            let mut args_so_far = vec![String::new(); l.c.tool_calls.len()];
            // The calls begun so far.
            let mut started = 0;
            let last = steps.len() - 1;
            for (s, (r, t, piece, tok, rtok)) in steps.into_iter().enumerate() {
                (output, reasoning) = (
                    (output + tok).min(self.usage[1]),
                    (reasoning + rtok).min(self.usage[2]),
                );
                if s == last && ci + 1 == self.cands.len() {
                    (output, reasoning) = (self.usage[1], self.usage[2]);
                }
                reasoning_so_far.push_str(r);
                text_so_far.push_str(t);
                let mut step = Step {
                    laid: l,
                    reasoning: r.to_owned(),
                    text: t.to_owned(),
                    calls: Vec::new(),
                    finish: if s == last {
                        l.finish.clone()
                    } else {
                        FinishReason::Null
                    },
                };
                if let Some((k, arg)) = piece {
                    // The first piece of a call carries its id and name.
                    let first = (k >= started).then_some(&l.c.tool_calls[k]);
                    let (id, name) = (first.map_or("", |t| &t.id), first.map(|t| &*t.name));
                    step.calls = vec![call(k, id, name, arg)];
                    args_so_far[k].push_str(arg);
                    started = k + 1;
                }
                if !n.incremental {
                    (step.reasoning, step.text) = (reasoning_so_far.clone(), text_so_far.clone());
                    let so_far = l.c.tool_calls.iter().zip(&args_so_far).take(started);
                    let so_far = so_far.enumerate();
                    step.calls = so_far
                        .map(|(j, (t, a))| call(j, &t.id, Some(&t.name), a))
                        .collect();
                }
                let data = serde_json::to_string(&self.native(n, output, reasoning, vec![step]))
                    .unwrap_or_default();
                let id = events.len() as u64 + 1;
                events.push(framed(|out| {
                    Encoder::native().native_event(out, id, "result", 200, &data);
                }));
            }
        }
        events
    }

    // Responses.

    /// The output items of the first candidate: reasoning (when thinking), the message (unless
    /// there are only tool calls), the function calls.
    fn items(&self) -> Vec<Item<'_>> {
        let Some(l) = self.cands.first() else {
            return Vec::new();
        };
        let mut items = Vec::new();
        if self.thinking && !l.reasoning.is_empty() {
            items.push(Item::Reasoning(&l.c.reasoning, &l.reasoning));
        }
        if !l.text.is_empty() || l.c.tool_calls.is_empty() {
            items.push(Item::Message(&l.c.text, &l.text));
        }
        let calls = l.c.tool_calls.iter().zip(&l.args);
        items.extend(calls.map(|(t, a)| Item::Call(t, a)));
        items
    }

    fn incomplete(&self) -> bool {
        self.cands
            .first()
            .is_some_and(|l| l.finish == FinishReason::Length)
    }

    /// The id of output item `k`, derived from the request id.
    fn item_id(&self, k: usize) -> String {
        let h = fnv1a(format!("{}/{k}", self.rid).as_bytes());
        format!(
            "msg_{}",
            RequestId::from_parts(splitmix64(h), splitmix64(h ^ 0xA5A5)).as_str()
        )
    }

    /// Output item `k`, in progress (a skeleton) or done; `logprobs`: the request asks for them.
    fn item(&self, item: &Item<'_>, k: usize, done: bool, logprobs: bool) -> resp::OutputItem {
        let id = Some(self.item_id(k));
        let status = Some(match (done, item) {
            (false, _) => resp::ItemStatus::InProgress,
            (true, Item::Message(..)) if self.incomplete() => resp::ItemStatus::Incomplete,
            (true, _) => resp::ItemStatus::Completed,
        });
        match *item {
            Item::Reasoning(text, _) => {
                let summary = done.then(|| {
                    resp::SummaryPart::SummaryText(resp::SummaryText {
                        text: text.to_owned(),
                        ..Default::default()
                    })
                });
                resp::OutputItem::Reasoning(resp::ReasoningItem {
                    id,
                    summary: summary.into_iter().collect(),
                    ..Default::default()
                })
            }
            Item::Message(text, _) => {
                let content = done.then(|| output_text(text, logprobs));
                resp::OutputItem::Message(resp::OutputMessage {
                    id,
                    role: Some(Role::Assistant),
                    status,
                    content: content.into_iter().collect(),
                    ..Default::default()
                })
            }
            Item::Call(t, _) => resp::OutputItem::FunctionCall(resp::FunctionCall {
                id,
                call_id: t.id.clone(),
                name: t.name.clone(),
                arguments: (if done { t.arguments.as_str() } else { "" }).to_owned(),
                status,
                ..Default::default()
            }),
        }
    }

    /// The response object: in progress (`status` given: no output, no usage) or final.
    fn response(
        &self,
        request: Option<&resp::ResponseRequest>,
        status: Option<resp::ResponseStatus>,
    ) -> resp::Response {
        let auto = resp::ToolChoice::Mode(resp::ToolChoiceMode::Auto);
        let mut r = resp::Response {
            id: format!("resp_{}", self.rid),
            object: Some("response".into()),
            created_at: u64::try_from(self.created).ok(),
            model: Some(self.model.to_owned()),
            output: Some(Vec::new()),
            tools: Some(request.and_then(|r| r.tools.clone()).unwrap_or_default()),
            tool_choice: Some(request.and_then(|r| r.tool_choice.clone()).unwrap_or(auto)),
            parallel_tool_calls: Some(request.and_then(|r| r.parallel_tool_calls).unwrap_or(false)),
            status: status.clone(),
            ..Default::default()
        };
        if status.is_some() {
            return r;
        }
        let items = self.items().into_iter().enumerate();
        let done = items.map(|(k, item)| self.item(&item, k, true, logprobs(request)));
        r.output = Some(done.collect());
        r.status = Some(resp::ResponseStatus::Completed);
        r.previous_response_id = request.and_then(|r| r.previous_response_id.clone());
        if self.incomplete() {
            r.status = Some(resp::ResponseStatus::Incomplete);
            r.incomplete_details = Some(resp::IncompleteDetails {
                reason: Some("max_output_tokens".into()),
                ..Default::default()
            });
            r.max_output_tokens = request.and_then(|r| r.max_output_tokens);
        }
        let [input, output, reasoning, total] = self.usage;
        let detail = resp::UsageDetail {
            input_tokens: Some(input),
            output_tokens: Some(output),
            total_tokens: Some(total),
            x_billing_type: Some("response_api".into()),
            ..Default::default()
        };
        r.usage = Some(resp::Usage {
            input_tokens: input,
            output_tokens: output,
            total_tokens: total,
            input_tokens_details: Some(cached(0)),
            output_tokens_details: Some(reasoning_details(reasoning)),
            x_details: Some(vec![detail]),
            ..Default::default()
        });
        r
    }

    fn responses_events(&self, request: Option<&resp::ResponseRequest>) -> Vec<String> {
        let mut events: Vec<Ev> = Vec::new();
        // Pushes an event numbered by its place in the stream.
        macro_rules! push {
            ($variant:ident($ty:ident) { $($field:ident $(: $value:expr)?),* $(,)? }) => {{
                let sequence_number = Some(events.len() as u64);
                events.push(Ev::$variant(resp::$ty { sequence_number, $($field $(: $value)?,)* ..Default::default() }));
            }};
        }
        let opening = |status| Box::new(self.response(request, Some(status)));
        push!(Created(ResponseCreatedEvent) { response: opening(resp::ResponseStatus::Queued) });
        push!(InProgress(ResponseInProgressEvent) { response: opening(resp::ResponseStatus::InProgress) });
        for (k, item) in self.items().iter().enumerate() {
            let (id, output_index, content_index) =
                (Some(self.item_id(k)), Some(k as u32), Some(0));
            // An event about this item (and its first content part, for text events).
            macro_rules! on_item {
                ($variant:ident($ty:ident) { $($field:ident $(: $value:expr)?),* $(,)? }) => {
                    push!($variant($ty) { item_id: id.clone(), output_index, $($field $(: $value)?,)* })
                };
            }
            push!(OutputItemAdded(OutputItemAddedEvent) { output_index, item: Some(self.item(item, k, false, false)) });
            match *item {
                Item::Reasoning(text, pieces) => {
                    for p in pieces {
                        on_item!(ReasoningTextDelta(ReasoningTextDeltaEvent) { content_index, delta: p.text.clone() });
                    }
                    on_item!(ReasoningTextDone(ReasoningTextDoneEvent) { content_index, text: text.to_owned() });
                }
                Item::Message(text, pieces) => {
                    on_item!(ContentPartAdded(ContentPartAddedEvent) { content_index, part: Some(output_text("", true)) });
                    for p in pieces {
                        on_item!(OutputTextDelta(OutputTextDeltaEvent) { content_index, delta: p.text.clone(), logprobs: Some(Vec::new()) });
                    }
                    on_item!(OutputTextDone(OutputTextDoneEvent) { content_index, text: text.to_owned(), logprobs: Some(Vec::new()) });
                    on_item!(ContentPartDone(ContentPartDoneEvent) { content_index, part: Some(output_text(text, true)) });
                }
                Item::Call(t, pieces) => {
                    for p in pieces {
                        on_item!(FunctionCallArgumentsDelta(FunctionCallArgumentsDeltaEvent) { delta: p.text.clone() });
                    }
                    on_item!(FunctionCallArgumentsDone(FunctionCallArgumentsDoneEvent) { arguments: t.arguments.clone() });
                }
            }
            push!(OutputItemDone(OutputItemDoneEvent) { output_index, item: Some(self.item(item, k, true, logprobs(request))) });
        }
        let response = Box::new(self.response(request, None));
        match self.incomplete() {
            true => push!(Incomplete(ResponseIncompleteEvent) { response }),
            false => push!(Completed(ResponseCompletedEvent) { response }),
        }
        let frame = |ev: Ev| {
            let seq = ev.sequence_number().unwrap_or_default();
            let (ty, data) = (ev.type_name(), serde_json::to_string(&ev));
            let (ty, data) = (ty.unwrap_or_default(), data.unwrap_or_default());
            framed(|out| Encoder::responses().native_event(out, seq + 1, ty, 200, &data))
        };
        events.into_iter().map(frame).collect()
    }
}

/// The base64 characters of audio per chat stream chunk: 4,800 bytes (0.1 s of 24 kHz 16-bit
/// PCM), whole 3-byte groups, so that no piece but the last is padded.
const AUDIO_PIECE: usize = 6_400;

/// An answer's audio as a chat stream sends it (protocol_notes §2.6): `data` in pieces of
/// [`AUDIO_PIECE`] characters, the other members (transcript, id, …) with the first.
fn audio_pieces(a: &Audio) -> impl Iterator<Item = Audio> + '_ {
    let data = a.data.as_deref().unwrap_or_default().as_bytes();
    (0..data.len().div_ceil(AUDIO_PIECE).max(1)).map(move |i| {
        let piece = data.chunks(AUDIO_PIECE).nth(i);
        let data = piece.map(|p| String::from_utf8_lossy(p).into_owned());
        let rest = if i == 0 { a.clone() } else { Audio::default() };
        Audio { data, ..rest }
    })
}

/// A chat/native tool call (or a fragment of one: an empty id, no name).
fn call(k: usize, id: &str, name: Option<&str>, arguments: &str) -> ToolCall {
    let function = FunctionCall {
        name: name.map(str::to_owned),
        arguments: Some(arguments.to_owned()),
        ..Default::default()
    };
    ToolCall {
        index: Some(k as u32),
        id: Some(id.to_owned()),
        kind: Some(ToolType::Function),
        function: Some(function),
        ..Default::default()
    }
}

fn cached(n: u64) -> InputTokensDetails {
    InputTokensDetails {
        cached_tokens: Some(n),
        ..Default::default()
    }
}

fn reasoning_details(n: u64) -> OutputTokensDetails {
    OutputTokensDetails {
        reasoning_tokens: Some(n),
        ..Default::default()
    }
}

/// An `output_text` part; `logprobs`: with `"logprobs": null` (the stream's content-part events
/// have it, protocol_notes §3.4; an output item only when the request asks for log probabilities).
fn output_text(text: &str, logprobs: bool) -> resp::OutputContent {
    let mut t = resp::OutputText {
        text: text.to_owned(),
        annotations: Some(Vec::new()),
        ..Default::default()
    };
    t.set_explicit_null("logprobs", logprobs);
    resp::OutputContent::OutputText(t)
}

/// Whether a Responses request asks for log probabilities: `top_logprobs`, or `include` naming
/// `message.output_text.logprobs`.
fn logprobs(r: Option<&resp::ResponseRequest>) -> bool {
    let asks = |r: &resp::ResponseRequest| {
        let include = r.extra.get("include").and_then(serde_json::Value::as_array);
        let named = include.is_some_and(|i| i.iter().any(|v| v == "message.output_text.logprobs"));
        named || r.extra.get("top_logprobs").is_some_and(|v| !v.is_null())
    };
    r.is_some_and(asks)
}

fn json<T: Serialize>(v: &T) -> Body {
    Body::Text(serde_json::to_string(v).unwrap_or_default())
}

/// What `write` frames, as text.
fn framed(write: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut out = Vec::new();
    write(&mut out);
    String::from_utf8(out).unwrap_or_default()
}
