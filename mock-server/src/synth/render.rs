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
    self, ChatChunk, ChatCompletion, ChunkChoice, Delta, FunctionCall, InputTokensDetails,
    OutputTokensDetails, Role, ToolCall, ToolType,
};
use dashscope_protocol::dialect::Endpoint;
use dashscope_protocol::native::{self, GenerationResponse};
use dashscope_protocol::responses::{self as resp, ResponseStreamEvent as Ev};
use dashscope_protocol::sse::Encoder;
use dashscope_protocol::unified::{self, UnifiedResponse};
use serde::Serialize;

use super::generate::tokens;
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
    finish: chat::FinishReason,
}

/// An answer laid out for rendering, with what the request says about its envelope.
pub(crate) struct Answer<'a> {
    model: &'a str,
    cands: Vec<Laid<'a>>,
    input: u64,
    output: u64,
    reasoning: u64,
    total: u64,
    /// The reasoning members are written (even empty).
    thinking: bool,
    rid: &'a str,
    created: i64,
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
        let cands: Vec<Laid<'a>> = r
            .candidates
            .iter()
            .map(|c| {
                let mut rng =
                    Rng::new(seed ^ 0x5EED_C0DE ^ u64::from(c.index).wrapping_mul(0x9E37_79B9));
                Laid {
                    c,
                    reasoning: pieces(&c.reasoning, &mut rng),
                    text: pieces(&c.text, &mut rng),
                    args: c
                        .tool_calls
                        .iter()
                        .map(|t| pieces(&t.arguments, &mut rng))
                        .collect(),
                    finish: c
                        .finish_reason
                        .as_ref()
                        .map_or(chat::FinishReason::Stop, |f| f.as_str().into()),
                }
            })
            .collect();
        let counted = |l: &Laid<'_>| {
            let call_tokens =
                l.c.tool_calls
                    .iter()
                    .map(|t| tokens(&t.name).count() as u64);
            let sum = |p: &[Piece]| p.iter().map(|p| p.tokens).sum::<u64>();
            sum(&l.reasoning)
                + sum(&l.text)
                + l.args.iter().map(|a| sum(a)).sum::<u64>()
                + call_tokens.sum::<u64>()
        };
        let output = cands.iter().map(counted).sum();
        let reasoning = cands
            .iter()
            .flat_map(|l| &l.reasoning)
            .map(|p| p.tokens)
            .sum();
        let (input, output, reasoning, total) = match &r.usage {
            Some(u) => (
                u.input_tokens,
                u.output_tokens,
                u.reasoning_tokens.unwrap_or(0),
                u.total_tokens,
            ),
            None => (0, output, reasoning, output),
        };
        Answer {
            model: r.model.as_deref().unwrap_or_default(),
            thinking: thinking || cands.iter().any(|l| !l.c.reasoning.is_empty()),
            cands,
            input,
            output,
            reasoning,
            total,
            rid,
            created,
        }
    }

    /// The body in `endpoint`'s dialect: one JSON text, or the framed events of a stream.
    pub(crate) fn body(
        &self,
        endpoint: Endpoint,
        request: Option<&unified::DialectRequest>,
        stream: bool,
    ) -> Body {
        let events = match (endpoint, stream) {
            (Endpoint::ChatCompletions, false) => return json(&self.chat()),
            (Endpoint::ChatCompletions, true) => {
                let include_usage = request
                    .and_then(|r| r.chat())
                    .and_then(|r| r.stream_options.as_ref())
                    .and_then(|o| o.include_usage);
                self.chat_events(include_usage == Some(true))
            }
            (Endpoint::Responses | Endpoint::ResponsesLegacy, false) => {
                return json(&self.response(request.and_then(|r| r.responses()), None));
            }
            (Endpoint::Responses | Endpoint::ResponsesLegacy, true) => {
                self.responses_events(request.and_then(|r| r.responses()))
            }
            (Endpoint::NativeText | Endpoint::NativeMultimodal, _) => {
                let p = request
                    .and_then(|r| r.native())
                    .and_then(|r| r.parameters.as_ref());
                let multimodal = endpoint == Endpoint::NativeMultimodal;
                let native = Native {
                    text: match p.and_then(|p| p.result_format.as_ref()) {
                        Some(native::ResultFormat::Message) => false,
                        Some(native::ResultFormat::Text) => true,
                        _ => !multimodal,
                    } && !multimodal
                        && self.cands.len() == 1
                        && !self.thinking
                        && self.cands.iter().all(|l| l.c.tool_calls.is_empty()),
                    incremental: p
                        .and_then(|p| p.incremental_output)
                        .unwrap_or(self.thinking),
                    multimodal,
                };
                if !stream {
                    return json(&self.native(&native, self.output, self.reasoning, None));
                }
                self.native_events(&native)
            }
        };
        Body::Chunks(
            events
                .into_iter()
                .map(|data| Chunk { delay_ms: 0, data })
                .collect(),
        )
    }

    // ---------------------------------------------------------------------------------------
    // Chat Completions.

    fn chat_usage(&self) -> chat::Usage {
        chat::Usage {
            prompt_tokens: self.input,
            completion_tokens: self.output,
            total_tokens: self.total,
            prompt_tokens_details: Some(cached(0)),
            completion_tokens_details: self.thinking.then(|| reasoning_details(self.reasoning)),
            ..Default::default()
        }
    }

    fn chat(&self) -> ChatCompletion {
        let choices = self.cands.iter().map(|l| {
            let calls: Vec<ToolCall> =
                l.c.tool_calls
                    .iter()
                    .enumerate()
                    .map(|(k, t)| call(k, &t.id, Some(&t.name), &t.arguments))
                    .collect();
            let message = chat::Message {
                role: Role::Assistant,
                content: Some(chat::MessageContent::Text(l.c.text.clone())),
                reasoning_content: self.thinking.then(|| l.c.reasoning.clone()),
                tool_calls: (!calls.is_empty()).then_some(calls),
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
        });
        let mut c = ChatCompletion {
            id: Some(format!("chatcmpl-{}", self.rid)),
            object: Some("chat.completion".into()),
            created: Some(self.created),
            model: Some(self.model.to_owned()),
            choices: choices.collect(),
            usage: Some(self.chat_usage()),
            ..Default::default()
        };
        c.set_explicit_null("system_fingerprint", true);
        c
    }

    fn chunk(&self, choices: Vec<ChunkChoice>, usage: Option<chat::Usage>) -> ChatChunk {
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
        c
    }

    fn chat_events(&self, include_usage: bool) -> Vec<String> {
        let mut out = Vec::new();
        for l in &self.cands {
            let mut push = |delta: Delta, finish: Option<chat::FinishReason>| {
                let mut choice = ChunkChoice {
                    index: l.c.index,
                    delta,
                    ..Default::default()
                };
                choice.set_explicit_null("finish_reason", finish.is_none());
                choice.finish_reason = finish;
                choice.set_explicit_null("logprobs", true);
                out.push(frame_compat(&self.chunk(vec![choice], None)));
            };
            // A delta of content and reasoning; `null` for the one not sent (reasoning only
            // when thinking).
            let delta = |content: Option<&str>, reasoning: Option<&str>| {
                let mut d = Delta {
                    content: content.map(str::to_owned),
                    reasoning_content: reasoning.map(str::to_owned),
                    ..Default::default()
                };
                d.set_explicit_null("content", content.is_none());
                d.set_explicit_null("reasoning_content", reasoning.is_none() && self.thinking);
                d
            };
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
            push(open, None);
            for p in reasoning {
                push(delta(None, Some(&p.text)), None);
            }
            for p in &l.text {
                push(delta(Some(&p.text), None), None);
            }
            for (k, (t, args)) in l.c.tool_calls.iter().zip(&l.args).enumerate() {
                let calls = |c: ToolCall| {
                    let mut d = Delta {
                        tool_calls: Some(vec![c]),
                        ..Default::default()
                    };
                    d.set_explicit_null("content", true);
                    d
                };
                push(calls(call(k, &t.id, Some(&t.name), "")), None);
                for p in args {
                    push(calls(call(k, "", None, &p.text)), None);
                }
            }
            if let Some(k) = l.c.tool_calls.len().checked_sub(1) {
                // The recorded quirk: a trailing empty fragment whose choice has no
                // finish_reason and no logprobs (PROTOCOL.md §2.4).
                let delta = Delta {
                    tool_calls: Some(vec![call(k, "", None, "")]),
                    ..Default::default()
                };
                let choice = ChunkChoice {
                    index: l.c.index,
                    delta,
                    ..Default::default()
                };
                out.push(frame_compat(&self.chunk(vec![choice], None)));
            }
            let mut last = delta(Some(""), None);
            last.set_explicit_null("reasoning_content", self.thinking);
            let mut choice = ChunkChoice {
                index: l.c.index,
                delta: last,
                finish_reason: Some(l.finish.clone()),
                ..Default::default()
            };
            choice.set_explicit_null("logprobs", true);
            out.push(frame_compat(&self.chunk(vec![choice], None)));
        }
        if include_usage {
            out.push(frame_compat(
                &self.chunk(Vec::new(), Some(self.chat_usage())),
            ));
        }
        let mut done = Vec::new();
        Encoder::compat().done(&mut done);
        out.push(String::from_utf8(done).unwrap_or_default());
        out
    }

    // ---------------------------------------------------------------------------------------
    // Native.

    /// A native answer with `output` tokens (`reasoning` of them) so far; `step`: the stream
    /// chunk's candidate, texts, calls and finish reason, else the whole answer.
    fn native(
        &self,
        n: &Native,
        output: u64,
        reasoning: u64,
        step: Option<Step<'_>>,
    ) -> GenerationResponse {
        // The final chunk (and the non-stream body) carries the answer's own total.
        let total = if output == self.output {
            self.total
        } else {
            self.input + output
        };
        let usage = if n.text {
            native::Usage {
                input_tokens: Some(self.input),
                output_tokens: Some(output),
                total_tokens: Some(total),
                ..Default::default()
            }
        } else {
            native::Usage {
                input_tokens: Some(self.input),
                output_tokens: Some(output),
                total_tokens: Some(total),
                output_tokens_details: self.thinking.then(|| reasoning_details(reasoning)),
                prompt_tokens_details: Some(cached(0)),
                ..Default::default()
            }
        };
        let many = self.cands.len() > 1;
        let output = match step {
            Some(s) if n.text => native::Output {
                text: Some(s.text),
                finish_reason: Some(s.finish),
                ..Default::default()
            },
            None if n.text => {
                let l = &self.cands[0];
                native::Output {
                    text: Some(l.c.text.clone()),
                    finish_reason: Some(l.finish.clone()),
                    ..Default::default()
                }
            }
            step => {
                let choice = |l: &Laid<'_>,
                              text: String,
                              reasoning: String,
                              calls: Vec<ToolCall>,
                              finish| native::Choice {
                    finish_reason: Some(finish),
                    index: many.then_some(l.c.index),
                    message: Some(native::Message {
                        role: Some(Role::Assistant),
                        content: Some(n.content(text)),
                        reasoning_content: self.thinking.then_some(reasoning),
                        tool_calls: (!calls.is_empty()).then_some(calls),
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                let choices = match step {
                    Some(s) => vec![choice(s.laid, s.text, s.reasoning, s.calls, s.finish)],
                    None => self
                        .cands
                        .iter()
                        .map(|l| {
                            let calls =
                                l.c.tool_calls
                                    .iter()
                                    .enumerate()
                                    .map(|(k, t)| call(k, &t.id, Some(&t.name), &t.arguments));
                            choice(
                                l,
                                l.c.text.clone(),
                                l.c.reasoning.clone(),
                                calls.collect(),
                                l.finish.clone(),
                            )
                        })
                        .collect(),
                };
                native::Output {
                    choices: Some(choices),
                    ..Default::default()
                }
            }
        };
        GenerationResponse {
            output: Some(output),
            usage: Some(usage),
            request_id: Some(self.rid.to_owned()),
            ..Default::default()
        }
    }

    fn native_events(&self, n: &Native) -> Vec<String> {
        let mut events = Vec::new();
        let mut push = |r: GenerationResponse| {
            let mut out = Vec::new();
            let data = serde_json::to_string(&r).unwrap_or_default();
            Encoder::native().native_event(&mut out, events.len() as u64 + 1, "result", 200, &data);
            events.push(String::from_utf8(out).unwrap_or_default());
        };
        let (mut output, mut reasoning) = (0, 0);
        for (ci, l) in self.cands.iter().enumerate() {
            let last_candidate = ci + 1 == self.cands.len();
            // Each step: a reasoning piece, a text piece, or a piece of a call's arguments
            // (the first piece of a call carries its name's tokens).
            let mut steps: Vec<NativeStep<'_>> = Vec::new();
            steps.extend(
                l.reasoning
                    .iter()
                    .map(|p| (p.tokens, p.tokens, p.text.as_str(), "", None)),
            );
            steps.extend(
                l.text
                    .iter()
                    .map(|p| (p.tokens, 0, "", p.text.as_str(), None)),
            );
            for (k, (t, args)) in l.c.tool_calls.iter().zip(&l.args).enumerate() {
                let name = tokens(&t.name).count() as u64;
                if args.is_empty() {
                    steps.push((name, 0, "", "", Some((k, true, ""))));
                }
                for (j, p) in args.iter().enumerate() {
                    let tok = p.tokens + if j == 0 { name } else { 0 };
                    steps.push((tok, 0, "", "", Some((k, j == 0, p.text.as_str()))));
                }
            }
            // Text-generation streams end with an extra empty chunk (cumulative ones repeat
            // everything once more); multimodal ones and tool calls end on their last piece.
            let extra = steps.is_empty() || (!n.multimodal && l.c.tool_calls.is_empty());
            let (mut reasoning_so_far, mut text_so_far) = (String::new(), String::new());
            let mut args_so_far = vec![String::new(); l.c.tool_calls.len()];
            let cumulative_calls = |upto: usize, args_so_far: &[String]| -> Vec<ToolCall> {
                let calls = l.c.tool_calls.iter().take(upto).enumerate();
                calls
                    .map(|(j, t)| call(j, &t.id, Some(&t.name), &args_so_far[j]))
                    .collect()
            };
            let steps_len = steps.len();
            for (s, (tok, rtok, r, t, piece)) in steps.into_iter().enumerate() {
                output = (output + tok).min(self.output);
                reasoning = (reasoning + rtok).min(self.reasoning);
                reasoning_so_far.push_str(r);
                text_so_far.push_str(t);
                let calls = match piece {
                    None => Vec::new(),
                    Some((k, first, arg)) => {
                        args_so_far[k].push_str(arg);
                        let tc = &l.c.tool_calls[k];
                        match (n.incremental, first) {
                            (true, true) => vec![call(k, &tc.id, Some(&tc.name), arg)],
                            (true, false) => vec![call(k, "", None, arg)],
                            (false, _) => cumulative_calls(k + 1, &args_so_far),
                        }
                    }
                };
                let last = s + 1 == steps_len;
                if last && !extra && last_candidate {
                    (output, reasoning) = (self.output, self.reasoning);
                }
                let finish = if last && !extra {
                    l.finish.clone()
                } else {
                    chat::FinishReason::Null
                };
                let (r, t) = if n.incremental {
                    (r.to_owned(), t.to_owned())
                } else {
                    (reasoning_so_far.clone(), text_so_far.clone())
                };
                push(self.native(
                    n,
                    output,
                    reasoning,
                    Some(Step {
                        laid: l,
                        text: t,
                        reasoning: r,
                        calls,
                        finish,
                    }),
                ));
            }
            if extra {
                if last_candidate {
                    (output, reasoning) = (self.output, self.reasoning);
                }
                let step = if n.incremental {
                    Step {
                        laid: l,
                        text: String::new(),
                        reasoning: String::new(),
                        calls: Vec::new(),
                        finish: l.finish.clone(),
                    }
                } else {
                    let calls = cumulative_calls(l.c.tool_calls.len(), &args_so_far);
                    Step {
                        laid: l,
                        text: text_so_far.clone(),
                        reasoning: reasoning_so_far.clone(),
                        calls,
                        finish: l.finish.clone(),
                    }
                };
                push(self.native(n, output, reasoning, Some(step)));
            }
        }
        events
    }

    // ---------------------------------------------------------------------------------------
    // Responses.

    /// The output items of the first candidate: reasoning (when thinking), the message (unless
    /// there are only tool calls), the function calls.
    fn items(&self) -> Vec<Item<'_>> {
        let mut items = Vec::new();
        if let Some(l) = self.cands.first() {
            if self.thinking && !l.reasoning.is_empty() {
                items.push(Item::Reasoning(&l.c.reasoning, &l.reasoning));
            }
            if !l.text.is_empty() || l.c.tool_calls.is_empty() {
                items.push(Item::Message(&l.c.text, &l.text));
            }
            items.extend(
                l.c.tool_calls
                    .iter()
                    .zip(&l.args)
                    .map(|(t, a)| Item::Call(t, a)),
            );
        }
        items
    }

    fn incomplete(&self) -> bool {
        self.cands
            .first()
            .is_some_and(|l| l.finish == chat::FinishReason::Length)
    }

    /// An item id, derived from the request id.
    fn item_id(&self, k: usize) -> String {
        let h = super::generate::fnv1a(format!("{}/{k}", self.rid).as_bytes());
        let (a, b) = (splitmix64(h), splitmix64(h ^ 0xA5A5));
        format!("msg_{}", RequestId::from_parts(a, b).as_str())
    }

    fn item(&self, item: &Item<'_>, k: usize, done: bool) -> resp::OutputItem {
        let id = Some(self.item_id(k));
        let status = |done| {
            Some(if done {
                resp::ItemStatus::Completed
            } else {
                resp::ItemStatus::InProgress
            })
        };
        match item {
            Item::Reasoning(text, _) => {
                let summary = if done {
                    vec![resp::SummaryPart::SummaryText(resp::SummaryText {
                        text: (*text).to_owned(),
                        ..Default::default()
                    })]
                } else {
                    Vec::new()
                };
                resp::OutputItem::Reasoning(resp::ReasoningItem {
                    id,
                    summary,
                    ..Default::default()
                })
            }
            Item::Message(text, _) => {
                let content = if done {
                    vec![output_text(text)]
                } else {
                    Vec::new()
                };
                let status = if done && self.incomplete() {
                    Some(resp::ItemStatus::Incomplete)
                } else {
                    status(done)
                };
                resp::OutputItem::Message(resp::OutputMessage {
                    id,
                    role: Some(Role::Assistant),
                    status,
                    content,
                    ..Default::default()
                })
            }
            Item::Call(t, _) => resp::OutputItem::FunctionCall(resp::FunctionCall {
                id,
                call_id: t.id.clone(),
                name: t.name.clone(),
                arguments: if done {
                    t.arguments.clone()
                } else {
                    String::new()
                },
                status: status(done),
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
        let mut r = resp::Response {
            id: format!("resp_{}", self.rid),
            object: Some("response".into()),
            created_at: u64::try_from(self.created).ok(),
            model: Some(self.model.to_owned()),
            output: Some(Vec::new()),
            tools: Some(request.and_then(|r| r.tools.clone()).unwrap_or_default()),
            tool_choice: Some(
                request
                    .and_then(|r| r.tool_choice.clone())
                    .unwrap_or(resp::ToolChoice::Mode(resp::ToolChoiceMode::Auto)),
            ),
            parallel_tool_calls: Some(request.and_then(|r| r.parallel_tool_calls).unwrap_or(false)),
            status: status.clone(),
            ..Default::default()
        };
        if status.is_some() {
            return r;
        }
        let items = self.items();
        r.output = Some(
            items
                .iter()
                .enumerate()
                .map(|(k, item)| self.item(item, k, true))
                .collect(),
        );
        r.status = Some(if self.incomplete() {
            resp::ResponseStatus::Incomplete
        } else {
            resp::ResponseStatus::Completed
        });
        r.previous_response_id = request.and_then(|r| r.previous_response_id.clone());
        if self.incomplete() {
            r.incomplete_details = Some(resp::IncompleteDetails {
                reason: Some("max_output_tokens".into()),
                ..Default::default()
            });
            r.max_output_tokens = request.and_then(|r| r.max_output_tokens);
        }
        let detail = resp::UsageDetail {
            input_tokens: Some(self.input),
            output_tokens: Some(self.output),
            total_tokens: Some(self.total),
            x_billing_type: Some("response_api".into()),
            ..Default::default()
        };
        r.usage = Some(resp::Usage {
            input_tokens: self.input,
            output_tokens: self.output,
            total_tokens: self.total,
            input_tokens_details: Some(cached(0)),
            output_tokens_details: Some(reasoning_details(self.reasoning)),
            x_details: Some(vec![detail]),
            ..Default::default()
        });
        r
    }

    fn responses_events(&self, request: Option<&resp::ResponseRequest>) -> Vec<String> {
        let mut events: Vec<String> = Vec::new();
        let mut push = |ev: Ev| {
            let seq = events.len() as u64;
            let ev = with_sequence(ev, seq);
            let mut out = Vec::new();
            let data = serde_json::to_string(&ev).unwrap_or_default();
            Encoder::responses().native_event(
                &mut out,
                seq + 1,
                ev.type_name().unwrap_or_default(),
                200,
                &data,
            );
            events.push(String::from_utf8(out).unwrap_or_default());
        };
        let opening = |status| Box::new(self.response(request, Some(status)));
        push(Ev::Created(resp::ResponseCreatedEvent {
            response: opening(resp::ResponseStatus::Queued),
            ..Default::default()
        }));
        push(Ev::InProgress(resp::ResponseInProgressEvent {
            response: opening(resp::ResponseStatus::InProgress),
            ..Default::default()
        }));
        for (k, item) in self.items().iter().enumerate() {
            let (id, at) = (Some(self.item_id(k)), Some(k as u32));
            push(Ev::OutputItemAdded(resp::OutputItemAddedEvent {
                output_index: at,
                item: Some(self.item(item, k, false)),
                ..Default::default()
            }));
            match item {
                Item::Reasoning(text, pieces) => {
                    for p in *pieces {
                        let delta = resp::ReasoningTextDeltaEvent {
                            item_id: id.clone(),
                            output_index: at,
                            content_index: Some(0),
                            delta: p.text.clone(),
                            ..Default::default()
                        };
                        push(Ev::ReasoningTextDelta(delta));
                    }
                    let done = resp::ReasoningTextDoneEvent {
                        item_id: id.clone(),
                        output_index: at,
                        content_index: Some(0),
                        text: (*text).to_owned(),
                        ..Default::default()
                    };
                    push(Ev::ReasoningTextDone(done));
                }
                Item::Message(text, pieces) => {
                    let part = |t: &str| Some(output_text(t));
                    push(Ev::ContentPartAdded(resp::ContentPartAddedEvent {
                        item_id: id.clone(),
                        output_index: at,
                        content_index: Some(0),
                        part: part(""),
                        ..Default::default()
                    }));
                    for p in *pieces {
                        let delta = resp::OutputTextDeltaEvent {
                            item_id: id.clone(),
                            output_index: at,
                            content_index: Some(0),
                            delta: p.text.clone(),
                            logprobs: Some(Vec::new()),
                            ..Default::default()
                        };
                        push(Ev::OutputTextDelta(delta));
                    }
                    let done = resp::OutputTextDoneEvent {
                        item_id: id.clone(),
                        output_index: at,
                        content_index: Some(0),
                        text: (*text).to_owned(),
                        logprobs: Some(Vec::new()),
                        ..Default::default()
                    };
                    push(Ev::OutputTextDone(done));
                    push(Ev::ContentPartDone(resp::ContentPartDoneEvent {
                        item_id: id.clone(),
                        output_index: at,
                        content_index: Some(0),
                        part: part(text),
                        ..Default::default()
                    }));
                }
                Item::Call(t, pieces) => {
                    for p in *pieces {
                        let delta = resp::FunctionCallArgumentsDeltaEvent {
                            item_id: id.clone(),
                            output_index: at,
                            delta: p.text.clone(),
                            ..Default::default()
                        };
                        push(Ev::FunctionCallArgumentsDelta(delta));
                    }
                    let done = resp::FunctionCallArgumentsDoneEvent {
                        item_id: id.clone(),
                        output_index: at,
                        arguments: t.arguments.clone(),
                        ..Default::default()
                    };
                    push(Ev::FunctionCallArgumentsDone(done));
                }
            }
            push(Ev::OutputItemDone(resp::OutputItemDoneEvent {
                output_index: at,
                item: Some(self.item(item, k, true)),
                ..Default::default()
            }));
        }
        let last = Box::new(self.response(request, None));
        push(if self.incomplete() {
            Ev::Incomplete(resp::ResponseIncompleteEvent {
                response: last,
                ..Default::default()
            })
        } else {
            Ev::Completed(resp::ResponseCompletedEvent {
                response: last,
                ..Default::default()
            })
        });
        events
    }
}

/// A piece of a native stream: its tokens (reasoning tokens of them), its reasoning and text,
/// and a tool call's argument piece (the call, whether it is the first piece).
type NativeStep<'a> = (u64, u64, &'a str, &'a str, Option<(usize, bool, &'a str)>);

/// One native stream chunk's content: its candidate, texts, calls and finish reason.
struct Step<'a> {
    laid: &'a Laid<'a>,
    text: String,
    reasoning: String,
    calls: Vec<ToolCall>,
    finish: chat::FinishReason,
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

impl Native {
    fn content(&self, text: String) -> native::Content {
        match (self.multimodal, text.is_empty()) {
            (false, _) => native::Content::Text(text),
            (true, true) => native::Content::Parts(Vec::new()),
            (true, false) => native::Content::Parts(vec![native::ContentItem {
                text: Some(text),
                ..Default::default()
            }]),
        }
    }
}

/// A Responses output item with its stream pieces.
enum Item<'a> {
    Reasoning(&'a str, &'a [Piece]),
    Message(&'a str, &'a [Piece]),
    Call(&'a unified::ToolCall, &'a [Piece]),
}

/// A chat/native tool call (or a fragment of one: an empty id, no name).
fn call(k: usize, id: &str, name: Option<&str>, arguments: &str) -> ToolCall {
    ToolCall {
        index: Some(k as u32),
        id: Some(id.to_owned()),
        kind: Some(ToolType::Function),
        function: Some(FunctionCall {
            name: name.map(str::to_owned),
            arguments: Some(arguments.to_owned()),
            ..Default::default()
        }),
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

fn output_text(text: &str) -> resp::OutputContent {
    let mut t = resp::OutputText {
        text: text.to_owned(),
        annotations: Some(Vec::new()),
        ..Default::default()
    };
    t.set_explicit_null("logprobs", true);
    resp::OutputContent::OutputText(t)
}

/// `ev` numbered `seq`.
fn with_sequence(mut ev: Ev, seq: u64) -> Ev {
    let n = Some(seq);
    match &mut ev {
        Ev::Created(e) => e.sequence_number = n,
        Ev::InProgress(e) => e.sequence_number = n,
        Ev::Completed(e) => e.sequence_number = n,
        Ev::Incomplete(e) => e.sequence_number = n,
        Ev::OutputItemAdded(e) => e.sequence_number = n,
        Ev::OutputItemDone(e) => e.sequence_number = n,
        Ev::ContentPartAdded(e) => e.sequence_number = n,
        Ev::ContentPartDone(e) => e.sequence_number = n,
        Ev::OutputTextDelta(e) => e.sequence_number = n,
        Ev::OutputTextDone(e) => e.sequence_number = n,
        Ev::ReasoningTextDelta(e) => e.sequence_number = n,
        Ev::ReasoningTextDone(e) => e.sequence_number = n,
        Ev::FunctionCallArgumentsDelta(e) => e.sequence_number = n,
        Ev::FunctionCallArgumentsDone(e) => e.sequence_number = n,
        _ => {}
    }
    ev
}

fn json<T: Serialize>(v: &T) -> Body {
    Body::Text(serde_json::to_string(v).unwrap_or_default())
}

fn frame_compat<T: Serialize>(v: &T) -> String {
    let mut out = Vec::new();
    Encoder::compat().data(&mut out, &serde_json::to_string(v).unwrap_or_default());
    String::from_utf8(out).unwrap_or_default()
}
