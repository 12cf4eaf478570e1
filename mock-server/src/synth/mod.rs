//! The synthetic responder: deterministic answers, in every dialect, for requests no cassette
//! matched.
//!
//! [`Synthetic`] validates the request like the service ([`validate`](crate::validate)), reads
//! the conversation, generates an answer and renders it in the request's dialect:
//!
//! * **Deterministic.** The answer depends only on the conversation (model, messages, media,
//!   tools, tool choice, response format, thinking), the request's `seed` and the server's
//!   `--seed` (when set). The same request gets the same text in Chat Completions, Responses
//!   and native, stream and non-stream alike; `n`, `stop` and the token limits only shape that
//!   same answer (the first of `n` choices is the `n = 1` answer; `stop` cuts it before the
//!   first stop string; `max_tokens` cuts it after that many tokens with finish reason
//!   `length`, or status `incomplete` in Responses).
//! * **Thinking** (`enable_thinking`, Responses `reasoning.effort` other than `none`/`minimal`,
//!   or a thinking-only model such as `qwq-*`): reasoning first, then the answer;
//!   `thinking_budget` caps the reasoning.
//! * **Tools.** With `tool_choice` `required` or naming a function, or `auto` when the last
//!   message is the user's, the answer is a tool call whose arguments are an instance of the
//!   tool's JSON Schema (see [`schema`](crate::schema)): the tool the user's last message names,
//!   else one picked by the seed (all the named ones with `parallel_tool_calls`). After a tool
//!   result it answers in text, quoting the result.
//! * **Formats.** `json_object` gives a JSON object, `json_schema` an instance of the schema.
//! * **Media** in the last user turn are mentioned by file name.
//! * **Usage** adds up (`total = input + output`, reasoning included in output), and a stream's
//!   usage equals the non-stream usage.
//! * **Framing** as the service: compat `data: ` events with `"usage":null` on every chunk, a
//!   `choices: []` usage chunk with `stream_options.include_usage`, `data: [DONE]`; native
//!   `id:N` / `event:result` / `:HTTP_STATUS/200`, `finish_reason` `"null"` until the last
//!   chunk, cumulative usage, `incremental_output` true (deltas) or false (all so far),
//!   `result_format` `text` or `message`; Responses events from `response.created` to
//!   `response.completed` with `sequence_number` and `id` = sequence number + 1.
//!
//! Answers are rendered through one internal trait (`render::Render`), one implementation per
//! dialect, writing members in the order the recordings show.
//!
//! The same rendering replays **unified cassettes** (`fixtures/unified/`, see
//! [`dashscope_protocol::cassette`]): one answer written in the unified model, rendered by
//! [`render_unified_cassette`] in whichever dialect the request arrives in, stream or not.

mod generate;
mod prompt;
mod render;

use dashscope_protocol::cassette::{Body, Chunk, RecordedResponse};
use serde_json::Value;

use crate::endpoint::Endpoint;
use crate::errors::{JSON_CONTENT_TYPE, SSE_CONTENT_TYPE, gateway_headers};
use crate::models::ModelPolicy;
use crate::responder::{MockRequest, Responder};
use crate::validate::validate;

use dashscope_protocol::cassette::UnifiedCassette;
use dashscope_protocol::unified::UnifiedResponse;
use generate::generate;
use prompt::Prompt;
use render::{Chat, Ctx, Native, Render, Responses};

/// The synthetic responder (see the [module docs](self)).
///
/// ```
/// use dashscope_mock::{MockServer, ModelPolicy, Synthetic};
///
/// // The default for `MockServer::builder()`; here with every model name accepted.
/// let server = MockServer::builder()
///     .responder(Synthetic::new().models(ModelPolicy::any()))
///     .start()
///     .expect("mock server");
/// # drop(server);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Synthetic {
    models: ModelPolicy,
}

impl Synthetic {
    /// A responder accepting the [default models](crate::models::DEFAULT_MODEL_PATTERNS).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the accepted model names.
    #[must_use]
    pub fn models(mut self, models: ModelPolicy) -> Self {
        self.models = models;
        self
    }

    /// The accepted model names.
    pub fn model_policy(&self) -> &ModelPolicy {
        &self.models
    }
}

/// The response headers of a synthetic answer, in the recorded order.
fn success_headers(request_id: &str, stream: bool, native: bool) -> Vec<(String, String)> {
    let ct = if stream {
        SSE_CONTENT_TYPE
    } else {
        JSON_CONTENT_TYPE
    };
    let mut h = gateway_headers(request_id, ct);
    let finished = if stream { "false" } else { "true" };
    h.insert(3, ("x-dashscope-finished".to_owned(), finished.to_owned()));
    if native {
        h.insert(3, ("x-dashscope-timeout".to_owned(), "180".to_owned()));
    }
    h
}

fn native_renderer(endpoint: Endpoint, body: &Value, thinking: bool) -> Native {
    let p = body.get("parameters");
    let param = |k: &str| p.and_then(|p| p.get(k));
    let multimodal = endpoint == Endpoint::NativeMultimodal;
    let text_format = match param("result_format").and_then(Value::as_str) {
        Some("message") => false,
        Some("text") => true,
        _ => !multimodal,
    };
    let incremental = param("incremental_output")
        .and_then(Value::as_bool)
        .unwrap_or(thinking);
    Native {
        text_format,
        incremental,
        multimodal,
    }
}

/// Renders a unified answer as `endpoint`'s dialect would send it, stream or not, with the
/// synthetic responder's framing, headers and stream pieces (the same pieces in every dialect).
///
/// `request` is the request body (its `stream_options.include_usage`, native `result_format`
/// and `incremental_output`, and the Responses members echoed into the response are read
/// from it); `request_id` becomes `x-request-id`, the native `request_id`, the chat
/// `chatcmpl-` suffix and the Responses `resp_` id; `created` is the Unix time written in the
/// answer. This is what lets one answer, written once in unified form, replay in any dialect:
///
/// ```
/// use dashscope_mock::Endpoint;
/// use dashscope_mock::synth::render_unified;
/// use dashscope_protocol::unified::{Candidate, FinishReason, UnifiedResponse, Usage};
///
/// let answer = UnifiedResponse {
///     model: Some("qwen-plus".into()),
///     candidates: vec![Candidate {
///         text: "Hello there!".into(),
///         finish_reason: Some(FinishReason::Stop),
///         ..Default::default()
///     }],
///     usage: Some(Usage::new(5, 3)),
///     ..Default::default()
/// };
/// let request = serde_json::json!({"model": "qwen-plus", "input": "hi"});
/// let r = render_unified(Endpoint::Responses, &request, false, "req-1", 0, &answer);
/// let body: serde_json::Value = serde_json::from_slice(&r.body.to_bytes()).unwrap();
/// assert_eq!(body["output"][0]["content"][0]["text"], "Hello there!");
/// assert_eq!(body["id"], "resp_req-1");
/// ```
pub fn render_unified(
    endpoint: Endpoint,
    request: &Value,
    stream: bool,
    request_id: &str,
    created: i64,
    answer: &UnifiedResponse,
) -> RecordedResponse {
    let seed = generate::fnv1a(serde_json::to_string(answer).unwrap_or_default().as_bytes());
    let thinking = answer
        .usage
        .as_ref()
        .is_some_and(|u| u.reasoning_tokens.is_some_and(|r| r > 0));
    let laid_out = generate::layout(answer, thinking, seed);
    render(endpoint, request, stream, request_id, created, &laid_out)
}

/// The request id every rendering of a unified cassette carries (as `x-request-id` and in the
/// body, like a recorded cassette's): its answer's `id`, else a UUID-shaped hash of its name.
pub fn unified_request_id(cassette: &UnifiedCassette) -> String {
    if let Some(id) = cassette.answer().id.as_deref().filter(|id| !id.is_empty()) {
        return id.to_owned();
    }
    let a = generate::fnv1a(cassette.name.as_bytes());
    let b = generate::fnv1a(format!("{}/unified", cassette.name).as_bytes());
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// Renders a unified cassette's answer as `endpoint`'s dialect would send it, stream or not
/// ([`render_unified`]), deterministically: the request id is [`unified_request_id`], the time
/// written in the answer is [`SEEDED_CREATED`](crate::handler::SEEDED_CREATED) and the gateway's
/// time headers say the same instant. The same request always gets the same bytes, as from a
/// recorded cassette.
pub fn render_unified_cassette(
    endpoint: Endpoint,
    request: &Value,
    stream: bool,
    cassette: &UnifiedCassette,
) -> RecordedResponse {
    let created = crate::handler::SEEDED_CREATED;
    let id = unified_request_id(cassette);
    let mut r = render_unified(endpoint, request, stream, &id, created, cassette.answer());
    let at = (created * 1000).to_string();
    for (name, value) in &mut r.headers {
        if name == "req-arrive-time" || name == "resp-start-time" {
            value.clone_from(&at);
        }
    }
    r
}

fn render(
    endpoint: Endpoint,
    request: &Value,
    stream: bool,
    request_id: &str,
    created: i64,
    answer: &generate::Answer,
) -> RecordedResponse {
    let renderer: Box<dyn Render> = match endpoint {
        Endpoint::ChatCompletions => Box::new(Chat {
            include_usage: request
                .pointer("/stream_options/include_usage")
                .and_then(Value::as_bool)
                == Some(true),
        }),
        Endpoint::Responses | Endpoint::ResponsesLegacy => Box::new(Responses),
        Endpoint::NativeText | Endpoint::NativeMultimodal => {
            Box::new(native_renderer(endpoint, request, answer.thinking))
        }
    };
    let ctx = Ctx {
        request_id,
        created,
        request,
    };
    let body = if stream {
        Body::Chunks(
            renderer
                .events(answer, &ctx)
                .into_iter()
                .map(|data| Chunk { delay_ms: 0, data })
                .collect(),
        )
    } else {
        Body::Text(renderer.body(answer, &ctx))
    };
    RecordedResponse {
        status: 200,
        headers: success_headers(
            request_id,
            stream,
            endpoint.dialect() == dashscope_protocol::cassette::Dialect::Native,
        ),
        body,
    }
}

impl Responder for Synthetic {
    fn respond(&self, req: &MockRequest<'_>) -> Option<RecordedResponse> {
        let dialect = req.endpoint.dialect();
        if let Err(e) = validate(req.endpoint, req.json, &self.models) {
            return Some(e.render(dialect, req.stream, req.request_id));
        }
        let prompt = match Prompt::from_request(req.endpoint, req.json, req.history) {
            Ok(p) => p,
            Err(e) => {
                let e = crate::errors::ErrorReply::invalid_parameter(format!(
                    "The request does not have the shape of a {} request: {}",
                    dialect.as_str(),
                    e.0
                ));
                return Some(e.render(dialect, req.stream, req.request_id));
            }
        };
        let generated = generate(&prompt, req.seed);
        let answer = generated.layout();
        Some(render(
            req.endpoint,
            req.json,
            req.stream,
            req.request_id,
            req.created,
            &answer,
        ))
    }
}
