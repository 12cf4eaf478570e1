//! What answers a request no cassette matched: a [`Responder`], by default [`Synthetic`].
//!
//! [`Synthetic`] validates the request like the service ([`validate`]), reads its
//! conversation (the request's context has it, read once), generates an answer
//! ([`generate`]) and renders it in the request's dialect as the protocol crate's typed values
//! ([`render`]). The same rendering replays unified cassettes and serves
//! [`MockRequest::render`].

mod generate;
mod render;
mod schema;
mod validate;

use dashscope_protocol::cassette::{Dialect, RecordedResponse, UnifiedCassette};
use dashscope_protocol::dialect::Endpoint;
use dashscope_protocol::unified::{Conversation, DialectRequest, UnifiedResponse};
use http::HeaderMap;
use serde_json::Value;

use crate::errors::{ErrorReply, generated};
use crate::handler::{Ctx, SEEDED_CREATED};

/// What a [`Responder`] knows about a request no cassette matched.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct MockRequest<'a> {
    /// The endpoint (and so the dialect).
    pub endpoint: Endpoint,
    /// The headers (the `Authorization` value included: never log it).
    pub headers: &'a HeaderMap,
    /// The body as JSON (the mock has checked it parses).
    pub json: &'a Value,
    /// The body as the endpoint's typed request, when it is one.
    pub request: Option<&'a DialectRequest>,
    /// The request's conversation (a Responses `previous_response_id`'s stored history
    /// first), or why the body is not a request of the endpoint's dialect.
    pub conversation: Result<&'a Conversation, &'a str>,
    /// Whether the request asks for a stream.
    pub stream: bool,
    /// The request id assigned to this request (`x-request-id`, `request_id`, the
    /// `chatcmpl-` suffix, the `resp_` id).
    pub request_id: &'a str,
    /// The server's seed (`--seed`), if any, for deterministic answers.
    pub seed: Option<u64>,
    /// Unix seconds for `created` / `created_at` (2026-01-01T00:00:00Z on a seeded server, so
    /// its answers are byte-identical across runs).
    pub created: i64,
}

impl MockRequest<'_> {
    /// `answer` as this request's dialect would send it, stream or not, with the service's
    /// framing and headers: what a responder returns to answer with a unified response.
    ///
    /// ```
    /// use dashscope_mock::{MockRequest, MockServer, RecordedResponse};
    /// use dashscope_protocol::unified::{Candidate, UnifiedResponse};
    ///
    /// let server = MockServer::builder()
    ///     .responder(|req: &MockRequest<'_>| -> Option<RecordedResponse> {
    ///         let answer = UnifiedResponse {
    ///             candidates: vec![Candidate { text: "Hello there!".into(), ..Default::default() }],
    ///             ..Default::default()
    ///         };
    ///         Some(req.render(&answer))
    ///     })
    ///     .start()
    ///     .expect("mock server");
    /// # drop(server);
    /// ```
    pub fn render(&self, answer: &UnifiedResponse) -> RecordedResponse {
        let seed = generate::fnv1a(serde_json::to_string(answer).unwrap_or_default().as_bytes());
        let thinking = answer
            .usage
            .as_ref()
            .is_some_and(|u| u.reasoning_tokens.is_some_and(|r| r > 0));
        success(self, answer, thinking, seed)
    }
}

/// Answers requests no cassette matched.
///
/// A closure `Fn(&MockRequest<'_>) -> Option<RecordedResponse>` is one.
pub trait Responder: Send + Sync + 'static {
    /// The answer, or `None` to let the mock answer 404 with the nearest cassettes. What it
    /// returns is played like a cassette (faults, chunk timing, Responses storage).
    fn respond(&self, request: &MockRequest<'_>) -> Option<RecordedResponse>;
}

impl<F> Responder for F
where
    F: Fn(&MockRequest<'_>) -> Option<RecordedResponse> + Send + Sync + 'static,
{
    fn respond(&self, request: &MockRequest<'_>) -> Option<RecordedResponse> {
        self(request)
    }
}

/// The responder that answers nothing: every unmatched request gets the 404 with the nearest
/// cassettes.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoSynthesis;

impl Responder for NoSynthesis {
    fn respond(&self, _: &MockRequest<'_>) -> Option<RecordedResponse> {
        None
    }
}

/// The model names [`Synthetic`] accepts by default (`*` matches any run of characters,
/// case-insensitively): the families Model Studio serves for text generation.
const DEFAULT_MODELS: &str = "qwen* qwq* qvq* deepseek* kimi* moonshot* glm* chatglm* minimax* \
    abab* llama* baichuan* yi-* farui* tongyi* gui-*";

/// The synthetic responder, the default: deterministic answers in every dialect.
///
/// * It validates the request like the service (each rule a 400 in the dialect's shape, see
///   the crate docs); an unknown model is a 400 too.
/// * The answer depends only on the conversation (model, messages, media, tools, tool choice,
///   response format, thinking), the request's `seed` and the server's seed: the same request
///   gets the same text in Chat Completions, Responses and native, stream or not. `n`, `stop`
///   and the token limits shape that same answer.
/// * Thinking (`enable_thinking`, a Responses `reasoning.effort` other than `none`/`minimal`,
///   or a thinking-only model such as `qwq-*`) writes reasoning first.
/// * Tools: with `tool_choice` `required` or naming a function, or `auto` on a user turn, the
///   answer is a tool call whose arguments are an instance of the tool's JSON Schema (the tool
///   the user names, else one picked by the seed); after a tool result it answers in text,
///   quoting the result.
/// * `json_object` gives a JSON object, `json_schema` an instance of the schema; media in the
///   last user turn are mentioned by file name; usage adds up, stream or not.
/// * Omni: a chat stream asking for `modalities` `audio` speaks the text as well: `delta.audio`
///   pieces of one WAV file (PCM 16-bit mono, 24 kHz; half a second of a tone per sentence),
///   the text as its transcript. A non-stream Omni request is refused, as by the service.
#[derive(Clone, Debug)]
pub struct Synthetic {
    models: Vec<String>,
}

impl Default for Synthetic {
    fn default() -> Self {
        Synthetic::models(DEFAULT_MODELS.split_whitespace())
    }
}

impl Synthetic {
    /// A responder accepting the model names matching any of `patterns` (`*` matches any run of
    /// characters, case-insensitively; `["*"]` accepts any name). The default list accepts
    /// `qwen*`, `qwq*`, `qvq*`, `deepseek*`, `kimi*`, `moonshot*`, `glm*`, `chatglm*`,
    /// `minimax*`, `abab*`, `llama*`, `baichuan*`, `yi-*`, `farui*`, `tongyi*` and `gui-*`.
    pub fn models<I: IntoIterator<Item = S>, S: Into<String>>(patterns: I) -> Self {
        let models = patterns
            .into_iter()
            .map(|p| p.into().to_ascii_lowercase())
            .collect();
        Synthetic { models }
    }

    fn allows(&self, model: &str) -> bool {
        let model = model.to_ascii_lowercase();
        self.models.iter().any(|p| glob(p, &model))
    }
}

/// `*`-only glob matching.
/// The parts between stars are found leftmost, one after another; the last must end the text.
fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let (Some(mut rest), Some(last)) = (text.strip_prefix(first), parts.next_back()) else {
        return pattern == text;
    };
    for mid in parts {
        let Some(at) = rest.find(mid) else {
            return false;
        };
        rest = &rest[at + mid.len()..];
    }
    rest.ends_with(last)
}

impl Responder for Synthetic {
    fn respond(&self, req: &MockRequest<'_>) -> Option<RecordedResponse> {
        let dialect = req.endpoint.dialect();
        let checked = validate::validate(req.endpoint, req.json, |m| self.allows(m));
        let error = |e: &ErrorReply| Some(e.render(dialect, req.stream, req.request_id));
        if let Err(e) = checked {
            return error(&e);
        }
        let conv = match req.conversation {
            Ok(c) => c,
            Err(why) => {
                let message =
                    format!("The request does not have the shape of a {dialect} request: {why}");
                return error(&ErrorReply::invalid_parameter(message));
            }
        };
        let (answer, seed) = generate::generate(conv, req.seed);
        Some(success(req, &answer, generate::thinks(conv), seed))
    }
}

/// `answer` (laid out with `seed`; `thinking`: the request asked for thinking) as the response
/// to `req`: 200 with the gateway's headers, in the recorded order.
fn success(
    req: &MockRequest<'_>,
    answer: &UnifiedResponse,
    thinking: bool,
    seed: u64,
) -> RecordedResponse {
    let laid = render::Answer::new(answer, thinking, seed, req.request_id, req.created);
    let body = laid.body(req.endpoint, req.request, req.stream);
    let finished = if req.stream { "false" } else { "true" };
    // `x-dashscope-timeout` (native answers only), then `x-dashscope-finished`.
    let extra = [
        ("x-dashscope-timeout", "180"),
        ("x-dashscope-finished", finished),
    ];
    let native = req.endpoint.dialect() == Dialect::Native;
    let extra = &extra[usize::from(!native)..];
    generated(200, req.request_id, req.stream, extra, body)
}

/// A unified cassette's answer rendered for `ctx`'s request, deterministically: the request id
/// is the answer's `id` (else a UUID-shaped hash of the cassette's name), the time written is
/// [`SEEDED_CREATED`], and the gateway's time headers say the same instant; the same request
/// always gets the same bytes, as from a recorded cassette.
pub(crate) fn render_unified_cassette(ctx: &Ctx, cassette: &UnifiedCassette) -> RecordedResponse {
    let id = match cassette.answer().id.as_deref().filter(|id| !id.is_empty()) {
        Some(id) => id.to_owned(),
        None => {
            let hash = |s: String| generate::fnv1a(s.as_bytes());
            let rid = crate::state::RequestId::from_parts(
                hash(cassette.name.clone()),
                hash(format!("{}/unified", cassette.name)),
            );
            rid.as_str().to_owned()
        }
    };
    let request = MockRequest {
        request_id: &id,
        seed: None,
        created: SEEDED_CREATED,
        ..ctx.mock_request(&Value::Null, Err(""))
    };
    let mut r = request.render(cassette.answer());
    let at = (SEEDED_CREATED * 1000).to_string();
    for (name, value) in &mut r.headers {
        if name == "req-arrive-time" || name == "resp-start-time" {
            value.clone_from(&at);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_patterns() {
        let p = Synthetic::default();
        for ok in [
            "qwen-plus",
            "Qwen3-Max",
            "qwq-32b",
            "deepseek-v4-pro",
            "kimi-k2",
            "glm-4.5",
            "yi-large",
        ] {
            assert!(p.allows(ok), "{ok}");
        }
        for bad in ["gpt-4o", "m", "", "claude-3", "qwe"] {
            assert!(!p.allows(bad), "{bad}");
        }
        assert!(Synthetic::models(["*"]).allows("anything"));
        assert!(!Synthetic::models(Vec::<String>::new()).allows("qwen-plus"));
        let p = Synthetic::models(["a*b*c", "exact"]);
        assert!(p.allows("abc") && p.allows("a-b-c") && p.allows("exact"));
        assert!(!p.allows("ab") && !p.allows("acb") && !p.allows("exactly"));
    }
}
