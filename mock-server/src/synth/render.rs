//! Renders an [`Answer`] in a dialect, stream or not, with the service's framing and quirks.
//!
//! Everything goes through one internal trait, [`Render`]: a non-stream body, and a list of
//! SSE events (each already framed by the protocol crate's [`Encoder`]). Members are written
//! in the order the recordings show (see `PROTOCOL.md` §2.3, §2.4, §3.3, §3.4, §4.3, §4.4).

use dashscope_protocol::sse::Encoder;
use serde_json::Value;

use dashscope_protocol::unified::FinishReason;

use super::generate::{Answer, Call, Candidate, Piece};
use crate::errors::json_string;

/// A JSON object written member by member, in order.
pub(crate) struct Obj {
    out: String,
    first: bool,
}

impl Obj {
    pub(crate) fn new() -> Self {
        Obj {
            out: String::from("{"),
            first: true,
        }
    }

    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push_str(&json_string(k));
        self.out.push(':');
    }

    /// A member whose value is already JSON text.
    pub(crate) fn raw(mut self, k: &str, json: &str) -> Self {
        self.key(k);
        self.out.push_str(json);
        self
    }

    pub(crate) fn str(self, k: &str, v: &str) -> Self {
        let s = json_string(v);
        self.raw(k, &s)
    }

    pub(crate) fn num(self, k: &str, v: impl std::fmt::Display) -> Self {
        let s = v.to_string();
        self.raw(k, &s)
    }

    pub(crate) fn null(self, k: &str) -> Self {
        self.raw(k, "null")
    }

    pub(crate) fn val(self, k: &str, v: &Value) -> Self {
        let s = serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned());
        self.raw(k, &s)
    }

    pub(crate) fn end(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

/// A JSON array of members that are already JSON text.
pub(crate) fn arr<I: IntoIterator<Item = String>>(items: I) -> String {
    let mut out = String::from("[");
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&item);
    }
    out.push(']');
    out
}

/// What a renderer needs besides the answer.
pub(crate) struct Ctx<'a> {
    pub(crate) request_id: &'a str,
    pub(crate) created: i64,
    pub(crate) request: &'a Value,
}

/// A dialect's rendering of an answer.
pub(crate) trait Render {
    /// The non-stream body.
    fn body(&self, answer: &Answer, ctx: &Ctx<'_>) -> String;
    /// The stream, one framed SSE event per element.
    fn events(&self, answer: &Answer, ctx: &Ctx<'_>) -> Vec<String>;
}

fn frame_compat(data: &str) -> String {
    let mut out = Vec::new();
    Encoder::compat().data(&mut out, data);
    String::from_utf8(out).unwrap_or_default()
}

fn frame_native(id: u64, event: &str, data: &str) -> String {
    let mut out = Vec::new();
    Encoder::native().native_event(&mut out, id, event, 200, data);
    String::from_utf8(out).unwrap_or_default()
}

fn joined(pieces: &[Piece]) -> String {
    pieces.iter().map(|p| p.text.as_str()).collect()
}

// ---------------------------------------------------------------------------------------------
// Chat Completions.

/// Chat Completions (`/compatible-mode/v1/chat/completions`).
pub(crate) struct Chat {
    /// `stream_options.include_usage`.
    pub(crate) include_usage: bool,
}

fn chat_usage(a: &Answer) -> String {
    let u = a.usage;
    let mut o = Obj::new()
        .num("prompt_tokens", u.input)
        .num("completion_tokens", u.output)
        .num("total_tokens", u.total())
        .raw(
            "prompt_tokens_details",
            &Obj::new().num("cached_tokens", 0).end(),
        );
    if a.thinking {
        o = o.raw(
            "completion_tokens_details",
            &Obj::new().num("reasoning_tokens", u.reasoning).end(),
        );
    }
    o.end()
}

fn chat_call(k: usize, call: &Call) -> String {
    Obj::new()
        .num("index", k)
        .str("id", &call.id)
        .str("type", "function")
        .raw(
            "function",
            &Obj::new()
                .str("name", &call.name)
                .str("arguments", &call.arguments)
                .end(),
        )
        .end()
}

impl Chat {
    fn chunk(&self, a: &Answer, ctx: &Ctx<'_>, choices: &str, usage: Option<&str>) -> String {
        Obj::new()
            .raw("choices", choices)
            .str("object", "chat.completion.chunk")
            .raw("usage", usage.unwrap_or("null"))
            .num("created", ctx.created)
            .null("system_fingerprint")
            .str("model", &a.model)
            .str("id", &format!("chatcmpl-{}", ctx.request_id))
            .end()
    }

    fn delta_choice(index: u32, delta: String) -> String {
        arr([Obj::new()
            .raw("delta", &delta)
            .null("finish_reason")
            .num("index", index)
            .null("logprobs")
            .end()])
    }

    fn candidate_chunks(&self, a: &Answer, ctx: &Ctx<'_>, c: &Candidate, out: &mut Vec<String>) {
        let i = c.index;
        let mut push = |delta: String| {
            out.push(frame_compat(&self.chunk(
                a,
                ctx,
                &Self::delta_choice(i, delta),
                None,
            )));
        };
        // The opening chunk carries the role.
        let mut reasoning = c.reasoning.iter();
        match reasoning.next() {
            Some(first) if a.thinking => push(
                Obj::new()
                    .null("content")
                    .str("reasoning_content", &first.text)
                    .str("role", "assistant")
                    .end(),
            ),
            _ => push(Obj::new().str("content", "").str("role", "assistant").end()),
        }
        for p in reasoning {
            push(
                Obj::new()
                    .null("content")
                    .str("reasoning_content", &p.text)
                    .end(),
            );
        }
        for p in &c.text {
            let mut d = Obj::new().str("content", &p.text);
            if a.thinking {
                d = d.null("reasoning_content");
            }
            push(d.end());
        }
        for (k, call) in c.calls.iter().enumerate() {
            let first = Obj::new()
                .num("index", k)
                .str("id", &call.id)
                .str("type", "function")
                .raw(
                    "function",
                    &Obj::new()
                        .str("name", &call.name)
                        .str("arguments", "")
                        .end(),
                )
                .end();
            push(
                Obj::new()
                    .null("content")
                    .raw("tool_calls", &arr([first]))
                    .end(),
            );
            for p in &call.pieces {
                let frag = Obj::new()
                    .num("index", k)
                    .str("id", "")
                    .str("type", "function")
                    .raw("function", &Obj::new().str("arguments", &p.text).end())
                    .end();
                push(
                    Obj::new()
                        .null("content")
                        .raw("tool_calls", &arr([frag]))
                        .end(),
                );
            }
        }
        if let Some(k) = c.calls.len().checked_sub(1) {
            // The recorded quirk: a trailing empty fragment whose choice lacks finish_reason
            // and logprobs (PROTOCOL.md §2.4).
            let frag = Obj::new()
                .raw("function", &Obj::new().str("arguments", "").end())
                .num("index", k)
                .str("id", "")
                .str("type", "function")
                .end();
            let choice = Obj::new()
                .raw("delta", &Obj::new().raw("tool_calls", &arr([frag])).end())
                .num("index", i)
                .end();
            out.push(frame_compat(&self.chunk(a, ctx, &arr([choice]), None)));
        }
        let mut delta = Obj::new().str("content", "");
        if a.thinking {
            delta = delta.null("reasoning_content");
        }
        let finish = arr([Obj::new()
            .str("finish_reason", c.finish.as_str())
            .raw("delta", &delta.end())
            .num("index", i)
            .null("logprobs")
            .end()]);
        out.push(frame_compat(&self.chunk(a, ctx, &finish, None)));
    }
}

impl Render for Chat {
    fn body(&self, a: &Answer, ctx: &Ctx<'_>) -> String {
        let choices = arr(a.candidates.iter().map(|c| {
            let mut m = Obj::new().str("content", &c.text());
            if a.thinking {
                m = m.str("reasoning_content", &c.reasoning_text());
            }
            m = m.str("role", "assistant");
            if !c.calls.is_empty() {
                m = m.raw(
                    "tool_calls",
                    &arr(c
                        .calls
                        .iter()
                        .enumerate()
                        .map(|(k, call)| chat_call(k, call))),
                );
            }
            Obj::new()
                .raw("message", &m.end())
                .str("finish_reason", c.finish.as_str())
                .num("index", c.index)
                .null("logprobs")
                .end()
        }));
        Obj::new()
            .raw("choices", &choices)
            .str("object", "chat.completion")
            .raw("usage", &chat_usage(a))
            .num("created", ctx.created)
            .null("system_fingerprint")
            .str("model", &a.model)
            .str("id", &format!("chatcmpl-{}", ctx.request_id))
            .end()
    }

    fn events(&self, a: &Answer, ctx: &Ctx<'_>) -> Vec<String> {
        let mut out = Vec::new();
        for c in &a.candidates {
            self.candidate_chunks(a, ctx, c, &mut out);
        }
        if self.include_usage {
            out.push(frame_compat(&self.chunk(
                a,
                ctx,
                "[]",
                Some(&chat_usage(a)),
            )));
        }
        let mut done = Vec::new();
        Encoder::compat().done(&mut done);
        out.push(String::from_utf8(done).unwrap_or_default());
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Native.

/// Native generation (`/api/v1/services/aigc/…/generation`).
pub(crate) struct Native {
    /// `result_format: text` (`output.text`) instead of `message` (`output.choices`).
    pub(crate) text_format: bool,
    /// `incremental_output` (stream only): deltas, else everything so far in every chunk.
    pub(crate) incremental: bool,
    /// The multimodal path: content is a list of `{"text"}` parts, and the stream ends on its
    /// last piece instead of an extra empty chunk.
    pub(crate) multimodal: bool,
}

/// Output tokens so far, for the cumulative usage of native stream chunks.
#[derive(Clone, Copy, Default)]
struct Progress {
    output: u64,
    reasoning: u64,
}

impl Native {
    fn content(&self, text: &str) -> String {
        if self.multimodal {
            if text.is_empty() {
                "[]".to_owned()
            } else {
                arr([Obj::new().str("text", text).end()])
            }
        } else {
            json_string(text)
        }
    }

    fn usage(&self, a: &Answer, output: u64, reasoning: u64) -> String {
        let u = a.usage;
        // The final chunk (and the non-stream body) carries the answer's own total.
        let total = if output == u.output {
            u.total
        } else {
            u.input + output
        };
        if self.text_format {
            return Obj::new()
                .num("total_tokens", total)
                .num("output_tokens", output)
                .num("input_tokens", u.input)
                .end();
        }
        let mut o = Obj::new()
            .num("input_tokens", u.input)
            .num("output_tokens", output)
            .num("total_tokens", total);
        if a.thinking {
            o = o.raw(
                "output_tokens_details",
                &Obj::new().num("reasoning_tokens", reasoning).end(),
            );
        }
        o.raw(
            "prompt_tokens_details",
            &Obj::new().num("cached_tokens", 0).end(),
        )
        .end()
    }

    fn native_call(k: usize, id: &str, name: Option<&str>, arguments: &str) -> String {
        let mut f = Obj::new();
        if let Some(name) = name {
            f = f.str("name", name);
        }
        Obj::new()
            .raw("function", &f.str("arguments", arguments).end())
            .num("index", k)
            .str("id", id)
            .str("type", "function")
            .end()
    }

    /// A message-format choice.
    fn choice(
        &self,
        index: Option<u32>,
        content: &str,
        reasoning: Option<&str>,
        calls: Option<String>,
        finish: &str,
        stream: bool,
    ) -> String {
        let mut m = Obj::new();
        if stream {
            m = m.raw("content", &self.content(content));
            if let Some(r) = reasoning {
                m = m.str("reasoning_content", r);
            }
            if let Some(c) = &calls {
                m = m.raw("tool_calls", c);
            }
            m = m.str("role", "assistant");
        } else {
            m = m.str("role", "assistant");
            m = m.raw("content", &self.content(content));
            if let Some(r) = reasoning {
                m = m.str("reasoning_content", r);
            }
            if let Some(c) = &calls {
                m = m.raw("tool_calls", c);
            }
        }
        let mut o = Obj::new();
        if stream {
            o = o.raw("message", &m.end());
            if let Some(i) = index {
                o = o.num("index", i);
            }
            o.str("finish_reason", finish).end()
        } else {
            o = o.str("finish_reason", finish).raw("message", &m.end());
            if let Some(i) = index {
                o = o.num("index", i);
            }
            o.end()
        }
    }

    fn envelope(output: &str, usage: &str, request_id: &str) -> String {
        Obj::new()
            .raw("output", output)
            .raw("usage", usage)
            .str("request_id", request_id)
            .end()
    }

    /// Whether the answer can be written in the text format (one candidate, no reasoning, no
    /// tool calls); otherwise the message format is used, as the service does.
    fn use_text(&self, a: &Answer) -> bool {
        self.text_format
            && !self.multimodal
            && a.candidates.len() == 1
            && !a.thinking
            && a.candidates.iter().all(|c| c.calls.is_empty())
    }
}

impl Render for Native {
    fn body(&self, a: &Answer, ctx: &Ctx<'_>) -> String {
        let usage_all = |me: &Native| me.usage(a, a.usage.output, a.usage.reasoning);
        if self.use_text(a) {
            let c = &a.candidates[0];
            let output = Obj::new()
                .str("finish_reason", c.finish.as_str())
                .str("text", &c.text())
                .end();
            return Self::envelope(&output, &usage_all(self), ctx.request_id);
        }
        let me = Native {
            text_format: false,
            ..*self
        };
        let many = a.candidates.len() > 1;
        let choices = arr(a.candidates.iter().map(|c| {
            let calls = (!c.calls.is_empty()).then(|| {
                arr(c.calls.iter().enumerate().map(|(k, call)| {
                    Self::native_call(k, &call.id, Some(&call.name), &call.arguments)
                }))
            });
            let reasoning = a.thinking.then(|| c.reasoning_text());
            me.choice(
                many.then_some(c.index),
                &c.text(),
                reasoning.as_deref(),
                calls,
                c.finish.as_str(),
                false,
            )
        }));
        let output = Obj::new().raw("choices", &choices).end();
        Self::envelope(&output, &usage_all(&me), ctx.request_id)
    }

    fn events(&self, a: &Answer, ctx: &Ctx<'_>) -> Vec<String> {
        let text_mode = self.use_text(a);
        let me = Native {
            text_format: text_mode,
            ..*self
        };
        let many = a.candidates.len() > 1;
        let mut events: Vec<String> = Vec::new();
        let mut progress = Progress::default();
        let mut push = |data: String| {
            let id = events.len() as u64 + 1;
            events.push(frame_native(id, "result", &data));
        };
        let final_progress = Progress {
            output: a.usage.output,
            reasoning: a.usage.reasoning,
        };
        let n_candidates = a.candidates.len();
        for (ci, c) in a.candidates.iter().enumerate() {
            let last_candidate = ci + 1 == n_candidates;
            let index = many.then_some(c.index);
            // Each step: (reasoning delta, text delta, call fragment, tokens).
            struct Step {
                reasoning: String,
                text: String,
                call: Option<(usize, bool, String)>,
                tokens: u64,
                reasoning_tokens: u64,
            }
            let mut steps: Vec<Step> = Vec::new();
            for p in &c.reasoning {
                steps.push(Step {
                    reasoning: p.text.clone(),
                    text: String::new(),
                    call: None,
                    tokens: p.tokens,
                    reasoning_tokens: p.tokens,
                });
            }
            for p in &c.text {
                steps.push(Step {
                    reasoning: String::new(),
                    text: p.text.clone(),
                    call: None,
                    tokens: p.tokens,
                    reasoning_tokens: 0,
                });
            }
            for (k, call) in c.calls.iter().enumerate() {
                let name_tokens = call.tokens() - call.pieces.iter().map(|p| p.tokens).sum::<u64>();
                if call.pieces.is_empty() {
                    steps.push(Step {
                        reasoning: String::new(),
                        text: String::new(),
                        call: Some((k, true, String::new())),
                        tokens: name_tokens,
                        reasoning_tokens: 0,
                    });
                }
                for (j, p) in call.pieces.iter().enumerate() {
                    steps.push(Step {
                        reasoning: String::new(),
                        text: String::new(),
                        call: Some((k, j == 0, p.text.clone())),
                        tokens: p.tokens + if j == 0 { name_tokens } else { 0 },
                        reasoning_tokens: 0,
                    });
                }
            }
            // Text-generation streams end with an extra empty chunk (cumulative ones repeat
            // everything once more); multimodal ones and tool calls end on their last piece.
            let extra_final = steps.is_empty() || (!me.multimodal && c.calls.is_empty());
            let mut reasoning_so_far = String::new();
            let mut text_so_far = String::new();
            let mut args_so_far: Vec<String> = vec![String::new(); c.calls.len()];
            let n_steps = steps.len();
            let render = |me: &Native,
                          progress: Progress,
                          reasoning: String,
                          text: String,
                          calls: Option<String>,
                          finish: &str| {
                if text_mode {
                    let output = Obj::new()
                        .str("finish_reason", finish)
                        .str("text", &text)
                        .end();
                    return Self::envelope(
                        &output,
                        &me.usage(a, progress.output, progress.reasoning),
                        ctx.request_id,
                    );
                }
                let reasoning = a.thinking.then_some(reasoning);
                let choice = me.choice(index, &text, reasoning.as_deref(), calls, finish, true);
                let output = Obj::new().raw("choices", &arr([choice])).end();
                Self::envelope(
                    &output,
                    &me.usage(a, progress.output, progress.reasoning),
                    ctx.request_id,
                )
            };
            for (s, step) in steps.into_iter().enumerate() {
                progress.output = (progress.output + step.tokens).min(final_progress.output);
                progress.reasoning =
                    (progress.reasoning + step.reasoning_tokens).min(final_progress.reasoning);
                reasoning_so_far.push_str(&step.reasoning);
                text_so_far.push_str(&step.text);
                let calls = step.call.as_ref().map(|(k, first, piece)| {
                    if let Some(acc) = args_so_far.get_mut(*k) {
                        acc.push_str(piece);
                    }
                    if self.incremental {
                        let call = &c.calls[*k];
                        let (id, name) = if *first {
                            (call.id.as_str(), Some(call.name.as_str()))
                        } else {
                            ("", None)
                        };
                        arr([Self::native_call(*k, id, name, piece)])
                    } else {
                        arr(c.calls.iter().take(*k + 1).enumerate().map(|(j, call)| {
                            Self::native_call(j, &call.id, Some(&call.name), &args_so_far[j])
                        }))
                    }
                });
                let last = s + 1 == n_steps;
                if last && !extra_final && last_candidate {
                    progress = final_progress;
                }
                let finish = if last && !extra_final {
                    c.finish.as_str()
                } else {
                    "null"
                };
                let (r, t) = if self.incremental {
                    (step.reasoning, step.text)
                } else {
                    (reasoning_so_far.clone(), text_so_far.clone())
                };
                push(render(&me, progress, r, t, calls, finish));
            }
            if extra_final {
                if last_candidate {
                    progress = final_progress;
                }
                let (r, t, calls) = if self.incremental {
                    (String::new(), String::new(), None)
                } else {
                    let calls = (!c.calls.is_empty()).then(|| {
                        arr(c.calls.iter().enumerate().map(|(j, call)| {
                            Self::native_call(j, &call.id, Some(&call.name), &args_so_far[j])
                        }))
                    });
                    (reasoning_so_far.clone(), text_so_far.clone(), calls)
                };
                push(render(&me, progress, r, t, calls, c.finish.as_str()));
            }
        }
        events
    }
}

// ---------------------------------------------------------------------------------------------
// Responses.

/// The Responses API (`/compatible-mode/v1/responses` and the legacy path).
pub(crate) struct Responses;

/// The ids of a Responses answer's output items, derived from the request id.
fn item_id(request_id: &str, k: usize) -> String {
    let h = super::generate::fnv1a(format!("{request_id}/{k}").as_bytes());
    let a = crate::ids::splitmix64(h);
    let b = crate::ids::splitmix64(h ^ 0xA5A5);
    format!(
        "msg_{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xFFFF,
        a & 0xFFF,
        ((b >> 48) & 0x3FFF) | 0x8000,
        b & 0xFFFF_FFFF_FFFF
    )
}

/// The response id of a request.
pub(crate) fn response_id(request_id: &str) -> String {
    format!("resp_{request_id}")
}

enum Item<'a> {
    Reasoning(&'a [Piece]),
    Message(&'a [Piece]),
    Call(&'a Call),
}

impl Responses {
    fn items<'a>(a: &'a Answer) -> Vec<Item<'a>> {
        let mut items = Vec::new();
        if let Some(c) = a.candidates.first() {
            if a.thinking && !c.reasoning.is_empty() {
                items.push(Item::Reasoning(&c.reasoning));
            }
            if !c.text.is_empty() || c.calls.is_empty() {
                items.push(Item::Message(&c.text));
            }
            for call in &c.calls {
                items.push(Item::Call(call));
            }
        }
        items
    }

    fn incomplete(a: &Answer) -> bool {
        a.candidates
            .first()
            .is_some_and(|c| c.finish == FinishReason::Length)
    }

    fn message_part(text: &str) -> String {
        Obj::new()
            .raw("annotations", "[]")
            .str("text", text)
            .str("type", "output_text")
            .null("logprobs")
            .end()
    }

    fn item_json(a: &Answer, item: &Item<'_>, id: &str, done: bool) -> String {
        match item {
            Item::Reasoning(p) => {
                let summary = if done {
                    arr([Obj::new()
                        .str("type", "summary_text")
                        .str("text", &joined(p))
                        .end()])
                } else {
                    "[]".to_owned()
                };
                Obj::new()
                    .str("id", id)
                    .raw("summary", &summary)
                    .str("type", "reasoning")
                    .end()
            }
            Item::Message(p) => {
                let (content, status) = if done {
                    let status = if Self::incomplete(a) {
                        "incomplete"
                    } else {
                        "completed"
                    };
                    (arr([Self::message_part(&joined(p))]), status)
                } else {
                    ("[]".to_owned(), "in_progress")
                };
                Obj::new()
                    .str("id", id)
                    .raw("content", &content)
                    .str("role", "assistant")
                    .str("status", status)
                    .str("type", "message")
                    .end()
            }
            Item::Call(call) => Obj::new()
                .str("id", id)
                .str("type", "function_call")
                .str("call_id", &call.id)
                .str("name", &call.name)
                .str("arguments", if done { &call.arguments } else { "" })
                .str("status", if done { "completed" } else { "in_progress" })
                .end(),
        }
    }

    fn usage(a: &Answer) -> String {
        let u = a.usage;
        Obj::new()
            .num("input_tokens", u.input)
            .raw(
                "input_tokens_details",
                &Obj::new().num("cached_tokens", 0).end(),
            )
            .num("output_tokens", u.output)
            .raw(
                "output_tokens_details",
                &Obj::new().num("reasoning_tokens", u.reasoning).end(),
            )
            .num("total_tokens", u.total())
            .raw(
                "x_details",
                &arr([Obj::new()
                    .num("input_tokens", u.input)
                    .num("output_tokens", u.output)
                    .num("total_tokens", u.total())
                    .str("x_billing_type", "response_api")
                    .end()]),
            )
            .end()
    }

    fn echo<'v>(ctx: &Ctx<'v>, key: &str, default: Value) -> Value {
        ctx.request.get(key).cloned().unwrap_or(default)
    }

    /// The response object: `status` `queued`/`in_progress` (no output, no usage) or final.
    fn response(a: &Answer, ctx: &Ctx<'_>, status: Option<&str>) -> String {
        let id = response_id(ctx.request_id);
        let parallel = Self::echo(ctx, "parallel_tool_calls", Value::Bool(false));
        let tool_choice = Self::echo(ctx, "tool_choice", Value::String("auto".into()));
        let tools = Self::echo(ctx, "tools", Value::Array(Vec::new()));
        if let Some(status) = status {
            return Obj::new()
                .raw("output", "[]")
                .val("parallel_tool_calls", &parallel)
                .num("created_at", ctx.created)
                .val("tool_choice", &tool_choice)
                .str("model", &a.model)
                .str("id", &id)
                .val("tools", &tools)
                .str("object", "response")
                .str("status", status)
                .end();
        }
        let items = Self::items(a);
        let output = arr(items
            .iter()
            .enumerate()
            .map(|(k, item)| Self::item_json(a, item, &item_id(ctx.request_id, k), true)));
        let incomplete = Self::incomplete(a);
        let mut o = Obj::new()
            .str("id", &id)
            .num("created_at", ctx.created)
            .str("model", &a.model)
            .str("object", "response")
            .raw("output", &output)
            .val("parallel_tool_calls", &parallel)
            .str(
                "status",
                if incomplete {
                    "incomplete"
                } else {
                    "completed"
                },
            )
            .val("tool_choice", &tool_choice)
            .val("tools", &tools);
        if let Some(prev) = ctx
            .request
            .get("previous_response_id")
            .filter(|v| v.is_string())
        {
            o = o.val("previous_response_id", prev);
        }
        if incomplete {
            o = o.raw(
                "incomplete_details",
                &Obj::new().str("reason", "max_output_tokens").end(),
            );
            if let Some(m) = ctx.request.get("max_output_tokens") {
                o = o.val("max_output_tokens", m);
            }
        }
        o.raw("usage", &Self::usage(a)).end()
    }
}

impl Render for Responses {
    fn body(&self, a: &Answer, ctx: &Ctx<'_>) -> String {
        Self::response(a, ctx, None)
    }

    fn events(&self, a: &Answer, ctx: &Ctx<'_>) -> Vec<String> {
        let mut events: Vec<String> = Vec::new();
        let mut push = |ty: &str, fields: Obj| {
            let seq = events.len();
            let data = fields.end();
            let mut out = Vec::new();
            Encoder::responses().native_event(&mut out, seq as u64 + 1, ty, 200, &data);
            events.push(String::from_utf8(out).unwrap_or_default());
        };
        let head = |seq: usize, ty: &str| Obj::new().num("sequence_number", seq).str("type", ty);
        let mut seq = 0usize;
        let mut next = |ty: &str| {
            let o = head(seq, ty);
            seq += 1;
            o
        };
        push(
            "response.created",
            next("response.created").raw("response", &Self::response(a, ctx, Some("queued"))),
        );
        push(
            "response.in_progress",
            next("response.in_progress")
                .raw("response", &Self::response(a, ctx, Some("in_progress"))),
        );
        for (k, item) in Self::items(a).iter().enumerate() {
            let id = item_id(ctx.request_id, k);
            push(
                "response.output_item.added",
                next("response.output_item.added")
                    .raw("item", &Self::item_json(a, item, &id, false))
                    .num("output_index", k),
            );
            match item {
                Item::Reasoning(pieces) => {
                    for p in *pieces {
                        push(
                            "response.reasoning_text.delta",
                            next("response.reasoning_text.delta")
                                .str("delta", &p.text)
                                .num("output_index", k)
                                .str("item_id", &id)
                                .num("content_index", 0),
                        );
                    }
                    push(
                        "response.reasoning_text.done",
                        next("response.reasoning_text.done")
                            .str("text", &joined(pieces))
                            .num("output_index", k)
                            .str("item_id", &id)
                            .num("content_index", 0),
                    );
                }
                Item::Message(pieces) => {
                    push(
                        "response.content_part.added",
                        next("response.content_part.added")
                            .str("item_id", &id)
                            .num("output_index", k)
                            .num("content_index", 0)
                            .raw("part", &Self::message_part("")),
                    );
                    for p in *pieces {
                        push(
                            "response.output_text.delta",
                            next("response.output_text.delta")
                                .str("item_id", &id)
                                .num("output_index", k)
                                .num("content_index", 0)
                                .str("delta", &p.text)
                                .raw("logprobs", "[]"),
                        );
                    }
                    let text = joined(pieces);
                    push(
                        "response.output_text.done",
                        next("response.output_text.done")
                            .str("item_id", &id)
                            .num("output_index", k)
                            .num("content_index", 0)
                            .str("text", &text)
                            .raw("logprobs", "[]"),
                    );
                    push(
                        "response.content_part.done",
                        next("response.content_part.done")
                            .str("item_id", &id)
                            .num("output_index", k)
                            .num("content_index", 0)
                            .raw("part", &Self::message_part(&text)),
                    );
                }
                Item::Call(call) => {
                    for p in &call.pieces {
                        push(
                            "response.function_call_arguments.delta",
                            next("response.function_call_arguments.delta")
                                .str("delta", &p.text)
                                .num("output_index", k)
                                .str("item_id", &id),
                        );
                    }
                    push(
                        "response.function_call_arguments.done",
                        next("response.function_call_arguments.done")
                            .str("arguments", &call.arguments)
                            .num("output_index", k)
                            .str("item_id", &id),
                    );
                }
            }
            push(
                "response.output_item.done",
                next("response.output_item.done")
                    .raw("item", &Self::item_json(a, item, &id, true))
                    .num("output_index", k),
            );
        }
        let last = if Self::incomplete(a) {
            "response.incomplete"
        } else {
            "response.completed"
        };
        push(
            last,
            next(last).raw("response", &Self::response(a, ctx, None)),
        );
        events
    }
}
