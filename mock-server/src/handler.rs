//! The request pipeline: one context per request, read once, that every step shares.
//!
//! A generation request (`POST` on one of the five paths), in order:
//!
//! 1. read the body (within [`Limits::max_body_bytes`](crate::Limits) and the body-read
//!    timeout, from the in-flight budget) and parse it as JSON, once;
//! 2. **faults** (global, then `x-mock-fault`): latency; `reset`; an error status;
//! 3. **record mode**: forward to the upstream and stop here;
//! 4. **auth**: a Bearer key (any non-empty one, or one of `--api-key`) else 401;
//! 5. **envelope**: 413 / 408 / 400 for a body that could not be read, 400 for a content type
//!    other than JSON or a body that is not JSON;
//! 6. the mounted [`Mock`](crate::Mock)s, then the **cassettes** (`x-mock-cassette: NAME`
//!    picks one by name), see
//!    [`matching`](crate::matching);
//! 7. 403 for `X-DashScope-Async: enable`, 400 for a missing `model` (after the cassettes, so
//!    a recorded error exchange replays byte for byte);
//! 8. the **responder** (skipped in strict mode), with the conversation a Responses
//!    `previous_response_id` continues (400 when the mock has no such stored response);
//! 9. 404 in the dialect's error shape, listing the nearest cassettes.
//!
//! The body's typed request and its [`Conversation`] are read from the JSON the first time a
//! step needs them (a conversation condition, a unified cassette, the responder, the store),
//! and then shared.

use std::sync::{Arc, OnceLock};

use axum::body::{Body as AxumBody, Bytes};
use axum::extract::{Request, State};
use axum::response::{IntoResponse as _, Response};
use dashscope_protocol::cassette::{Body, Dialect};
use dashscope_protocol::dialect::{Endpoint, RESPONSES_LEGACY_PATH, RESPONSES_PATH, SSE_HEADER};
use dashscope_protocol::unified::{Conversation, DialectRequest, Message, Role};
use http::header::AsHeaderName;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt as _, LengthLimitError};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::budget::{HISTORY_COPIES, Held, json_text_cost};
use crate::conn::ConnHandle;
use crate::errors::{ErrorReply, generated};
use crate::faults::{FaultPlan, FaultSpec};
use crate::journal::{Record, Tail};
use crate::matching::Answer;
use crate::replay::{self, Prepared};
use crate::secrets;
use crate::state::{MockState, RequestId, lock, now_ms};
use crate::synth::{MockRequest, render_unified_cassette};

/// The request header that picks a cassette by name.
const CASSETTE_HEADER: &str = "x-mock-cassette";

/// The response header saying where the answer came from (see [`Ctx::source`]).
const SOURCE_HEADER: &str = "x-mock-source";

/// `text` as a header value: bytes outside visible ASCII percent-encoded.
pub(crate) fn header_text(text: &str) -> HeaderValue {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b' '..=b'~' if b != b'%' => out.push(char::from(b)),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    HeaderValue::from_str(&out).unwrap_or(HeaderValue::from_static("unknown"))
}

/// `created` / `created_at` of a seeded server's answers: 2026-01-01T00:00:00Z.
pub(crate) const SEEDED_CREATED: i64 = 1_767_225_600;

/// One request, read once: what every step of the pipeline reads.
pub(crate) struct Ctx {
    pub(crate) state: MockState,
    pub(crate) parts: Parts,
    pub(crate) body: Bytes,
    /// Whether `body` is JSON, when known (`None`: the journal checks).
    pub(crate) body_is_json: Option<bool>,
    /// The body as JSON (parsed once).
    pub(crate) json: Option<Value>,
    /// The body as its dialect's request and as a conversation (read once, when first needed).
    typed: OnceLock<Result<(DialectRequest, Conversation), String>>,
    /// The bytes of the in-flight budget this request holds (given back when it is dropped).
    held: Held,
    pub(crate) request_id: RequestId,
    pub(crate) received_at_ms: u64,
    pub(crate) endpoint: Option<Endpoint>,
    pub(crate) dialect: Dialect,
    pub(crate) stream: bool,
    fired: Vec<String>,
}

impl Ctx {
    fn new(state: &MockState, parts: Parts, read: ReadBody) -> Ctx {
        let path = parts.uri.path();
        let endpoint = Endpoint::from_path(path);
        let dialect = endpoint.map_or_else(|| dialect_of_path(path), Endpoint::dialect);
        let stream = match dialect {
            Dialect::Native => header_is(&parts.headers, SSE_HEADER, "enable"),
            _ => read.json.as_ref().and_then(|j| j.get("stream")?.as_bool()) == Some(true),
        };
        Ctx {
            state: state.clone(),
            request_id: state.next_request_id(),
            received_at_ms: now_ms(),
            body_is_json: read.parsed.then_some(read.json.is_some()),
            body: read.bytes,
            held: read.held,
            typed: OnceLock::new(),
            json: read.json,
            endpoint,
            dialect,
            stream,
            fired: Vec::new(),
            parts,
        }
    }

    pub(crate) fn path(&self) -> &str {
        self.parts.uri.path()
    }

    /// The body as the endpoint's request and its conversation, or why it is not one.
    pub(crate) fn typed(&self) -> Result<&(DialectRequest, Conversation), &str> {
        let read = || {
            let dialect = self.endpoint.ok_or("not a generation path")?.dialect();
            let json = self.json.as_ref().ok_or("the body is not JSON")?;
            let request = DialectRequest::from_json(dialect, json).map_err(|e| e.to_string())?;
            let conv = Conversation::from_request(&request);
            Ok((request, conv))
        };
        self.typed
            .get_or_init(read)
            .as_ref()
            .map_err(String::as_str)
    }

    /// The body, when the request is a Responses one and its body is JSON.
    fn responses_json(&self) -> Option<&Value> {
        self.json
            .as_ref()
            .filter(|_| self.dialect == Dialect::Responses)
    }

    /// The request's conversation, when the body is a request of its endpoint's dialect.
    pub(crate) fn conversation(&self) -> Option<&Conversation> {
        self.typed().ok().map(|(_, c)| c)
    }

    /// What a responder or a mounted mock's matcher knows about the request.
    pub(crate) fn mock_request<'a>(
        &'a self,
        json: &'a Value,
        conversation: Result<&'a Conversation, &'a str>,
    ) -> MockRequest<'a> {
        let seed = self.state.config().seed;
        MockRequest {
            endpoint: self.endpoint.unwrap_or(Endpoint::ChatCompletions),
            headers: &self.parts.headers,
            json,
            request: self.typed().ok().map(|(r, _)| r),
            conversation,
            stream: self.stream,
            request_id: self.request_id.as_str(),
            seed,
            created: if seed.is_some() {
                SEEDED_CREATED
            } else {
                i64::try_from(now_ms() / 1000).unwrap_or(0)
            },
        }
    }

    /// Whether the request carries an acceptable Bearer key.
    fn authorized(&self) -> bool {
        let keys = &self.state.config().api_keys;
        bearer(&self.parts.headers).is_some_and(|k| keys.is_empty() || keys.iter().any(|w| w == k))
    }

    /// Where an answer came from, as the `x-mock-source` header and the journal say:
    /// `cassette NAME`, `mock NAME`, `synthetic`, `responder` (a custom one), `fault`, `error`
    /// (the mock's own checks), `no_match`, `no_route`, `store`, `models` or `record`, then
    /// `; fault SPEC` for each fault spec that fired.
    fn source(&self, outcome: &'static str, cassette: Option<&str>) -> String {
        let base = match (outcome, cassette) {
            (_, Some(name)) => Some(format!("{outcome} {name}")),
            ("fault", None) if !self.fired.is_empty() => None,
            ("responder", None) if !self.state.config().custom_responder => {
                Some("synthetic".into())
            }
            _ => Some(outcome.to_owned()),
        };
        let faults = self.fired.iter().map(|spec| format!("fault {spec}"));
        base.into_iter()
            .chain(faults)
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Adds this request's journal entry (packed before the journal's lock is taken); returns
    /// its source as the `x-mock-source` header.
    pub(crate) fn journal(
        &self,
        status: StatusCode,
        outcome: &'static str,
        cassette: Option<Arc<str>>,
    ) -> HeaderValue {
        let source = self.source(outcome, cassette.as_deref());
        let header = header_text(&source);
        let tail = Tail {
            status: status.as_u16(),
            outcome,
            source,
            cassette,
            faults: self.fired.clone(),
        };
        let record = Record::new(self, tail);
        lock(&self.state.inner.journal).push_record(record);
        header
    }

    /// Plays a prepared response under `plan` and journals it.
    fn play(
        &self,
        p: &Prepared,
        plan: &FaultPlan,
        outcome: &'static str,
        cassette: Option<Arc<str>>,
    ) -> Response {
        let c = self.state.config();
        let mut response = p.respond(plan, c.speed, c.chunk_delay, || {
            self.state.shutdown_receiver()
        });
        let source = self.journal(response.status(), outcome, cassette);
        response.headers_mut().insert(SOURCE_HEADER, source);
        response
    }

    /// Answers 200 with `body` and the gateway's headers.
    fn json_ok(&self, body: &Value, outcome: &'static str) -> Response {
        let body = Body::Text(body.to_string());
        let ok = generated(200, self.request_id.as_str(), false, &[], body);
        self.play(&Prepared::new(ok), &FaultPlan::none(), outcome, None)
    }

    /// Answers with an error in this request's dialect.
    pub(crate) fn error(&self, e: &ErrorReply) -> Response {
        self.reply(e, &FaultPlan::none(), "error")
    }

    /// Plays an error in this request's dialect under `plan` and journals it.
    fn reply(&self, e: &ErrorReply, plan: &FaultPlan, outcome: &'static str) -> Response {
        let r = e.render(self.dialect, self.stream, self.request_id.as_str());
        self.play(&Prepared::new(r), plan, outcome, None)
    }

    /// Stores a Responses answer (`body`) for `GET …/responses/{id}` and
    /// `previous_response_id`, unless the request says `store: false`.
    fn store(&self, p: &Prepared, history: &[Message]) {
        if let Some(json) = self.responses_json()
            && json.get("store").and_then(Value::as_bool) != Some(false)
        {
            let (conv, id) = (self.conversation(), self.request_id.as_str());
            lock(&self.state.inner.store).store(p.body(), p.stream, json, conv, history, id);
        }
    }
}

fn header_is(headers: &HeaderMap, name: &str, want: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.trim().eq_ignore_ascii_case(want))
    })
}

/// The first value of header `name`, trimmed, when it is visible ASCII.
pub(crate) fn header_str(headers: &HeaderMap, name: impl AsHeaderName) -> Option<&str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}

/// The Bearer key of a request, if it has one.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = header_str(headers, http::header::AUTHORIZATION)?;
    let (scheme, key) = value.split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty()).then_some(key)
}

/// `None` when the content type is acceptable (absent, `application/json`, `application/*+json`).
fn bad_content_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(http::header::CONTENT_TYPE)?.as_bytes();
    let media = value
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    let is = |a: &[u8], b: &[u8]| a.eq_ignore_ascii_case(b);
    let suffix = media.len() >= 17
        && is(&media[..12], b"application/")
        && is(&media[media.len() - 5..], b"+json");
    (!is(media, b"application/json") && !suffix)
        .then(|| String::from_utf8_lossy(value).into_owned())
}

/// The dialect whose error shape a path answers in: compat for `/compatible-mode/…` paths (and
/// the legacy Responses prefix), native otherwise.
fn dialect_of_path(path: &str) -> Dialect {
    let compat = path.starts_with("/compatible-mode/");
    if path.starts_with("/api/v2/apps/protocols/compatible-mode/")
        || (compat && path.contains("/responses"))
    {
        Dialect::Responses
    } else if compat {
        Dialect::Chat
    } else {
        Dialect::Native
    }
}

/// Why a request body could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// Over the body limit, or costing more than the whole in-flight budget: 413.
    TooLarge,
    /// Not a well-formed body (broken chunked framing, the connection closed inside it): 400.
    Malformed(String),
    /// Not all there within the body-read timeout: 408.
    TimedOut,
}

impl BodyError {
    /// The answer, in the request's dialect.
    pub(crate) fn reply(&self) -> ErrorReply {
        match self {
            BodyError::TooLarge => ErrorReply::for_status(413),
            BodyError::Malformed(d) => {
                ErrorReply::invalid_parameter(format!("The request body is malformed: {d}"))
            }
            BodyError::TimedOut => ErrorReply::for_status(408),
        }
    }
}

/// A request body as read: its bytes (empty when it could not be read), its JSON (when asked
/// for and it is JSON), the budget it holds, and what went wrong, if anything.
#[derive(Default)]
pub(crate) struct ReadBody {
    pub(crate) bytes: Bytes,
    pub(crate) json: Option<Value>,
    /// Whether the body was parsed (so `json` says whether it is JSON).
    parsed: bool,
    held: Held,
    pub(crate) error: Option<BodyError>,
}

/// Reads a request body under the mock's bounds: at most `max_body_bytes`, within the
/// body-read timeout of the end of the head, each piece taken from the in-flight budget as it
/// arrives (waiting, without reading on, while the budget is spent); with `json`, parses it
/// once what its parsed tree may cost is taken from the budget too. A body in one frame is not
/// copied.
pub(crate) async fn read_body(state: &MockState, body: AxumBody, json: bool) -> ReadBody {
    let deadline = body_deadline(state);
    let budget = &state.inner.budget;
    let mut read = ReadBody::default();
    let reading = async {
        let bytes = read_pieces(state, body, &mut read.held, deadline).await?;
        // The journal scrubs the body; parsing costs what the parsed tree may hold.
        let parse = json && !bytes.is_empty();
        let cost = secrets::scrub_cost(&bytes) + if parse { json_text_cost(&bytes) } else { 0 };
        budget.take(&mut read.held, cost, deadline).await?;
        Ok((bytes, parse))
    };
    let done = match deadline {
        Some(d) => tokio::time::timeout_at(d, reading)
            .await
            .unwrap_or(Err(BodyError::TimedOut)),
        None => reading.await,
    };
    match done {
        Ok((bytes, parse)) => {
            read.json = parse.then(|| serde_json::from_slice(&bytes).ok()).flatten();
            (read.bytes, read.parsed) = (bytes, parse);
        }
        Err(e) => read.error = Some(e),
    }
    read
}

/// When the body-read timeout, counted from now, runs out (`None`: no timeout).
fn body_deadline(state: &MockState) -> Option<Instant> {
    let timeout = state.config().limits.body_read_timeout;
    timeout.filter(|d| !d.is_zero()).map(|d| Instant::now() + d)
}

async fn read_pieces(
    state: &MockState,
    body: AxumBody,
    held: &mut Held,
    deadline: Option<Instant>,
) -> Result<Bytes, BodyError> {
    let max = state.config().limits.max_body_bytes;
    let mut body = std::pin::pin!(http_body_util::Limited::new(body, max));
    let (mut first, mut more): (Option<Bytes>, Option<bytes::BytesMut>) = (None, None);
    // What the gathered body holds (a piece is taken from the budget before it is kept).
    let mut charged = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| match e.downcast_ref::<LengthLimitError>() {
            Some(_) => BodyError::TooLarge,
            None => BodyError::Malformed(e.to_string()),
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let (len, capacity) = match (&more, &first) {
            (Some(acc), _) => (acc.len(), acc.capacity()),
            (None, Some(b)) => (b.len(), b.len()),
            (None, None) => (0, 0),
        };
        // The bytes held once this piece is kept: a buffer that must grow doubles (up to the
        // limit), so a client holds about what it sent, not what it announced.
        let need = len + data.len();
        let want = match capacity {
            0 => data.len(),
            c if c >= need => c,
            c => need.max(c.saturating_mul(2).min(max)),
        };
        if want > charged {
            state
                .inner
                .budget
                .take(held, want - charged, deadline)
                .await?;
            charged = want;
        }
        match (&mut more, first.take()) {
            (Some(acc), _) => {
                acc.reserve(want - acc.len());
                acc.extend_from_slice(&data);
            }
            (None, None) => first = Some(data),
            (None, Some(prev)) => {
                let mut acc = bytes::BytesMut::with_capacity(want);
                acc.extend_from_slice(&prev);
                acc.extend_from_slice(&data);
                more = Some(acc);
            }
        }
    }
    Ok(more.map_or_else(|| first.unwrap_or_default(), bytes::BytesMut::freeze))
}

/// 405 without a body, for `HEAD`.
fn head_response() -> Response {
    StatusCode::METHOD_NOT_ALLOWED.into_response()
}

/// 405 in the dialect's shape, with `Allow`.
fn method_not_allowed(ctx: &Ctx, allow: &'static str) -> Response {
    let message = format!("dashscope-mock: this path accepts {allow}");
    let e = ErrorReply::mock(405, "MethodNotAllowed", "method_not_allowed", message);
    let allow = [(http::header::ALLOW, HeaderValue::from_static(allow))];
    (allow, ctx.error(&e)).into_response()
}

/// `POST` on one of the five generation paths.
pub(crate) async fn generation(State(state): State<MockState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if parts.method == Method::HEAD {
        return head_response();
    }
    let conn = parts.extensions.get::<ConnHandle>().cloned();
    let mut read = read_body(&state, body, true).await;
    let body_error = read.error.take();
    let mut ctx = Ctx::new(&state, parts, read);
    if ctx.parts.method != Method::POST {
        return method_not_allowed(&ctx, "POST");
    }

    // 2. Faults.
    let specs = match FaultSpec::from_headers(&ctx.parts.headers) {
        Ok(specs) => specs,
        Err(e) => {
            let mut reply =
                ErrorReply::mock(400, "MockInvalidFault", "mock_invalid_fault", e.to_string());
            reply.param = e.param;
            return ctx.error(&reply);
        }
    };
    let plan = if specs.is_empty() && !state.has_global_faults() {
        FaultPlan::none()
    } else {
        lock(&state.inner.faults).plan(&specs, ctx.dialect, std::time::Instant::now())
    };
    ctx.fired.clone_from(&plan.fired);
    let latency = state.config().latency.saturating_add(plan.latency);
    if !latency.is_zero() {
        // Unless the server stops first.
        let mut stop = state.shutdown_receiver();
        tokio::select! {
            () = tokio::time::sleep(latency) => {}
            _ = stop.wait_for(|s| *s) => {}
        }
    }
    if plan.reset {
        ctx.journal(StatusCode::BAD_GATEWAY, "fault", None);
        conn.inspect(ConnHandle::reset);
        return replay::reset();
    }
    if let Some(e) = &plan.error {
        return ctx.reply(e, &plan, "fault");
    }

    // 3. Record mode.
    if let Some(recorder) = &state.inner.recorder {
        return recorder.forward(&ctx, body_error.as_ref()).await;
    }

    // 4-5. Auth and envelope.
    if !ctx.authorized() {
        return ctx.error(&ErrorReply::for_status(401));
    }
    if let Some(e) = &body_error {
        return ctx.error(&e.reply());
    }
    if let Some(ct) = bad_content_type(&ctx.parts.headers) {
        // The service documents 415 only for media inputs: a bad envelope is a 400.
        let m =
            format!("Unsupported content type '{ct}': the request body must be application/json.");
        return ctx.error(&ErrorReply::invalid_parameter(m));
    }
    let Some(json) = &ctx.json else {
        let detail = serde_json::from_slice::<Value>(&ctx.body)
            .err()
            .map_or("unreadable body".to_owned(), |e| e.to_string());
        let m = format!("The request body is not valid JSON: {detail}");
        return ctx.error(&ErrorReply::invalid_parameter(m));
    };

    // 6. Mounted mocks, then cassettes.
    let hit = lock(&state.inner.mounts).hit(|| ctx.mock_request(json, ctx.typed().map(|(_, c)| c)));
    if let Some((name, answer)) = hit {
        let prepared = Prepared::new(answer);
        if prepared.status == StatusCode::OK {
            ctx.store(&prepared, &[]);
        }
        return ctx.play(&prepared, &plan, "mock", Some(name));
    }
    let forced = header_str(&ctx.parts.headers, CASSETTE_HEADER);
    let found = {
        let mut set = lock(&state.inner.cassettes);
        match forced {
            Some(name) => set.take_named(name),
            None => set.take(&ctx),
        }
    };
    if let Some(entry) = found {
        let rendered;
        let prepared = match &entry.answer {
            Answer::Recorded(p) => p,
            Answer::Unified(u) => {
                rendered = Prepared::new(render_unified_cassette(&ctx, u));
                &rendered
            }
        };
        ctx.store(prepared, &[]);
        return ctx.play(prepared, &plan, "cassette", Some(Arc::clone(&entry.name)));
    }
    if let Some(name) = forced {
        let message = format!(
            "dashscope-mock: no cassette named {name:?} (or it was a used-up once cassette)"
        );
        return ctx.error(&ErrorReply::no_match(message));
    }

    // 7. Checks that come after the cassettes.
    if header_is(&ctx.parts.headers, "x-dashscope-async", "enable") {
        // A synchronous API (protocol_notes §1.5).
        let message = "current user api does not support asynchronous calls".into();
        return ctx.error(&ErrorReply {
            message,
            ..ErrorReply::for_status(403)
        });
    }
    if json
        .get("model")
        .and_then(Value::as_str)
        .is_none_or(|m| m.trim().is_empty())
    {
        let e = ErrorReply::missing("model");
        let native_code = "BadRequest.EmptyModel".to_owned();
        return ctx.error(&ErrorReply { native_code, ..e });
    }

    // 8. The responder, with the conversation a `previous_response_id` continues.
    if !state.config().strict {
        let (history, size) = match previous(&ctx) {
            Ok(h) => h,
            Err(e) => return ctx.error(&e),
        };
        if size > 0 {
            // The responder reads a stored conversation through copies of it.
            let copies = size.saturating_mul(HISTORY_COPIES);
            let taken = state
                .inner
                .budget
                .take(&mut ctx.held, copies, body_deadline(&state));
            if let Err(refused) = taken.await {
                return ctx.error(&refused.reply());
            }
        }
        let joined;
        let conversation = match ctx.typed() {
            Ok((_, conv)) if history.is_empty() => Ok(conv),
            Ok((_, conv)) => {
                joined = with_history(conv, &history, json);
                Ok(&joined)
            }
            Err(why) => Err(why),
        };
        let request = ctx.mock_request(json, conversation);
        if let Some(answer) = state.inner.responder.respond(&request) {
            let prepared = Prepared::new(answer);
            if prepared.status == StatusCode::OK {
                ctx.store(&prepared, &history);
            }
            return ctx.play(&prepared, &plan, "responder", None);
        }
    }

    // 9. No answer.
    let nearest = lock(&state.inner.cassettes).nearest(&ctx, 3);
    let names: Vec<&str> = nearest.iter().map(|n| n.name.as_str()).collect();
    let list = if names.is_empty() {
        "no cassettes are loaded".to_owned()
    } else {
        format!("nearest: {}", names.join(", "))
    };
    let message = format!(
        "dashscope-mock: no cassette matches POST {}; {list}",
        ctx.path()
    );
    let nearest = serde_json::to_value(&nearest).unwrap_or_default();
    let e = ErrorReply::no_match(message).with_extra("nearest", nearest);
    ctx.reply(&e, &FaultPlan::none(), "no_match")
}

/// The stored conversation a Responses request's `previous_response_id` continues (none when
/// it names none), and about how many bytes it holds.
fn previous(ctx: &Ctx) -> Result<(Arc<[Message]>, usize), Box<ErrorReply>> {
    let json = ctx.responses_json();
    match json.and_then(|j| j.get("previous_response_id")) {
        None | Some(Value::Null) => Ok((Arc::from([]), 0)),
        Some(Value::String(id)) => lock(&ctx.state.inner.store)
            .get(id)
            .map(|s| (Arc::clone(&s.history), s.size))
            .ok_or_else(|| {
                let e = ErrorReply::invalid_parameter(format!(
                    "Previous response with id '{id}' not found."
                ));
                Box::new(e.param("previous_response_id"))
            }),
        Some(_) => {
            let e = ErrorReply::invalid_parameter("\"previous_response_id\" must be a string.");
            Err(Box::new(e.param("previous_response_id")))
        }
    }
}

/// `conv` continuing `history`: the history goes after the system message of `instructions`.
fn with_history(conv: &Conversation, history: &[Message], json: &Value) -> Conversation {
    let system = conv
        .messages
        .first()
        .is_some_and(|m| m.role == Role::System);
    let at = usize::from(system && json.get("instructions").is_some_and(Value::is_string));
    let mut joined = conv.clone();
    joined.messages.splice(at..at, history.iter().cloned());
    joined
}

/// A request on the stored-response or models paths, read: `Err` is its answer when it is
/// a `HEAD`, forwarded (record mode) or without a key.
async fn side_request(state: &MockState, parts: Parts, body: AxumBody) -> Result<Ctx, Response> {
    if parts.method == Method::HEAD {
        return Err(head_response());
    }
    let read = read_body(state, body, false).await;
    let error = read.error.clone();
    let ctx = Ctx::new(state, parts, read);
    if let Some(recorder) = &state.inner.recorder {
        return Err(recorder.forward(&ctx, error.as_ref()).await);
    }
    if !ctx.authorized() {
        return Err(ctx.error(&ErrorReply::for_status(401)));
    }
    Ok(ctx)
}

/// `GET`/`DELETE …/responses/{id}` and `GET …/responses/{id}/input_items`.
pub(crate) async fn stored(State(state): State<MockState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let target = [RESPONSES_PATH, RESPONSES_LEGACY_PATH]
        .iter()
        .find_map(|p| {
            let rest = parts.uri.path().strip_prefix(p)?.strip_prefix('/')?;
            match rest.split_once('/') {
                None if !rest.is_empty() => Some((rest.to_owned(), false)),
                Some((id, "input_items")) if !id.is_empty() => Some((id.to_owned(), true)),
                _ => None,
            }
        });
    let Some((id, items)) = target else {
        return unknown(State(state), Request::from_parts(parts, body)).await;
    };
    let ctx = match side_request(&state, parts, body).await {
        Ok(ctx) => ctx,
        Err(answer) => return answer,
    };
    let found = {
        let mut store = lock(&state.inner.store);
        match (&ctx.parts.method, items) {
            (&Method::GET, false) => Some(store.get(&id).map(|s| s.response.clone())),
            (&Method::DELETE, false) => Some(store.remove(&id).then(|| json!({"id": id, "object": "response", "deleted": true}))),
            (&Method::GET, true) => Some(store.get(&id).map(|s| {
                let id_of = |i: Option<&Value>| i.and_then(|i| i.get("id")).cloned().unwrap_or_default();
                let (first, last) = (id_of(s.input.first()), id_of(s.input.last()));
                json!({"object": "list", "data": s.input, "first_id": first, "last_id": last, "has_more": false})
            })),
            _ => None,
        }
    };
    match found {
        Some(Some(body)) => ctx.json_ok(&body, "store"),
        Some(None) => {
            let message = format!("Response with id '{id}' not found.");
            let e = ErrorReply {
                status: 404,
                ..ErrorReply::invalid_parameter(message)
            };
            ctx.error(&e.param("response_id"))
        }
        None => method_not_allowed(&ctx, if items { "GET" } else { "GET, DELETE" }),
    }
}

/// Models listed besides those the cassettes were recorded with: the main text-generation
/// models of Model Studio (the default [`Synthetic`](crate::Synthetic) accepts them).
const LISTED_MODELS: [&str; 8] = [
    "qwen-plus",
    "qwen-max",
    "qwen-turbo",
    "qwen-flash",
    "qwen3-max",
    "qwq-plus",
    "qwen-vl-plus",
    "qwen3-omni-flash",
];

/// `GET /compatible-mode/v1/models`: the models of the loaded cassettes and [`LISTED_MODELS`],
/// in the OpenAI list shape (the service's own shape is not confirmed).
pub(crate) async fn models(State(state): State<MockState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let ctx = match side_request(&state, parts, body).await {
        Ok(ctx) if ctx.parts.method != Method::GET => return method_not_allowed(&ctx, "GET"),
        Ok(ctx) => ctx,
        Err(answer) => return answer,
    };
    let mut names = lock(&state.inner.cassettes).models();
    names.extend(LISTED_MODELS.map(str::to_owned));
    names.sort();
    names.dedup();
    let data: Vec<Value> = names
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": SEEDED_CREATED, "owned_by": "system"}))
        .collect();
    ctx.json_ok(&json!({"object": "list", "data": data}), "models")
}

/// Any other path: 404 in the path's dialect shape (or forwarded, in record mode).
pub(crate) async fn unknown(State(state): State<MockState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if parts.method == Method::HEAD {
        return head_response();
    }
    if let Some(recorder) = &state.inner.recorder {
        let read = read_body(&state, body, false).await;
        let error = read.error.clone();
        return recorder
            .forward(&Ctx::new(&state, parts, read), error.as_ref())
            .await;
    }
    let mut ctx = Ctx::new(
        &state,
        parts,
        ReadBody {
            parsed: true,
            ..ReadBody::default()
        },
    );
    // In the non-stream form, whatever the request asked for.
    ctx.stream = false;
    let message = format!(
        "dashscope-mock: no such endpoint: {} {}",
        ctx.parts.method,
        ctx.path()
    );
    let e = ErrorReply::mock(404, "NotFound", "not_found", message);
    ctx.reply(&e, &FaultPlan::none(), "no_route")
}
