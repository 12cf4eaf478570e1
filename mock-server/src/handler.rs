//! The request pipeline of the generation paths, the stored-response paths and unknown paths.
//!
//! For a generation request, in order:
//!
//! 1. read the body (at most [`MockConfig::max_body_bytes`](crate::MockConfig));
//! 2. **faults** (global, then `x-mock-fault`): latency; `reset`; an error status (429 from a
//!    token bucket, or `status=`);
//! 3. **record mode**: forward to the upstream and stop here;
//! 4. **auth**: a Bearer key (any non-empty one, or one of `--api-key`) else 401;
//! 5. **envelope**: 413 for a body over the limit, 400 for a non-JSON content type or a body that
//!    is not JSON;
//! 6. **cassettes** (the `x-mock-cassette: NAME` header picks one by name): a wire cassette
//!    replays its recorded response, a unified cassette renders its answer in the request's
//!    dialect, stream or not (see [`matching`](crate::matching));
//! 7. 403 for `X-DashScope-Async: enable`, 400 for a missing `model`;
//! 8. the **responder** (skipped in strict mode; the default, [`Synthetic`](crate::Synthetic),
//!    validates the request like the service first), after a Responses
//!    `previous_response_id` was looked up (400 when the mock has no such stored response);
//! 9. 404 in the dialect's error shape, listing the nearest cassettes.
//!
//! Checks 7 come after the cassettes so that a recorded error exchange (an async header, a
//! missing model) replays byte for byte.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use axum::body::{Body as AxumBody, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use dashscope_protocol::cassette::{Dialect, RecordedResponse};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};

use crate::admin::{ADMIN_PREFIX, admin};
use crate::budget::{HISTORY_COPIES, Held, Refused, json_text_cost};
use crate::conn::MockConn;
use crate::endpoint::{Endpoint, RESPONSES_PREFIXES, dialect_of_path};
use crate::errors::{ErrorReply, JSON_CONTENT_TYPE, gateway_headers};
use crate::faults::{FaultPlan, FaultSpec};
use crate::ids::RequestId;
use crate::journal::{self, Record};
use crate::matching::{RequestView, Served};
use crate::replay::{self, Prepared};
use crate::responder::MockRequest;
use crate::secrets;
use crate::state::{MockState, lock};
use crate::synth::render_unified_cassette;

/// The request header that picks a cassette by name.
pub const CASSETTE_HEADER: &str = "x-mock-cassette";

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// What every handler knows about the request it answers.
pub(crate) struct Ctx {
    pub(crate) state: MockState,
    pub(crate) parts: Parts,
    pub(crate) body: Bytes,
    /// Whether `body` is JSON, when known (`None`: the journal checks).
    pub(crate) body_is_json: Option<bool>,
    pub(crate) json: Option<Value>,
    /// The bytes of the in-flight budget this request holds (given back when it is dropped).
    pub(crate) held: Held,
    pub(crate) request_id: RequestId,
    pub(crate) received_at_ms: u64,
    pub(crate) directives: bool,
    pub(crate) dialect: Dialect,
    pub(crate) stream: bool,
    pub(crate) fired: Vec<String>,
}

impl Ctx {
    pub(crate) fn path(&self) -> &str {
        self.parts.uri.path()
    }

    /// Adds the journal entry for this request.
    pub(crate) fn journal(
        &self,
        status: StatusCode,
        outcome: &'static str,
        cassette: Option<&str>,
    ) {
        self.journal_named(status, outcome, cassette.map(Arc::from));
    }

    /// Adds the journal entry for this request (the cassette's name shared, not copied). The
    /// entry is packed before the journal's lock is taken.
    pub(crate) fn journal_named(
        &self,
        status: StatusCode,
        outcome: &'static str,
        cassette: Option<Arc<str>>,
    ) {
        let record = Record::new(&journal::Request {
            received_at_ms: self.received_at_ms,
            request_id: &self.request_id,
            method: &self.parts.method,
            uri: &self.parts.uri,
            headers: &self.parts.headers,
            body: &self.body,
            body_is_json: self.body_is_json,
            keys: &self.state.inner.config.api_keys,
            status: status.as_u16(),
            outcome,
            cassette,
            faults: &self.fired,
        });
        lock(&self.state.inner.journal).push_record(record);
    }

    /// Plays a response and journals it.
    pub(crate) fn play(
        &self,
        r: &RecordedResponse,
        plan: &FaultPlan,
        outcome: &'static str,
        cassette: Option<&str>,
    ) -> Response {
        self.play_prepared(r, None, plan, outcome, cassette.map(Arc::from))
    }

    /// Plays a response (from its pre-rendered form when the plan allows) and journals it.
    pub(crate) fn play_prepared(
        &self,
        r: &RecordedResponse,
        prepared: Option<&Prepared>,
        plan: &FaultPlan,
        outcome: &'static str,
        cassette: Option<Arc<str>>,
    ) -> Response {
        let timing = self.state.inner.config.timing;
        let fast = prepared.and_then(|p| {
            p.respond(plan, timing, self.directives, || {
                self.state.shutdown_receiver()
            })
        });
        let response = match fast {
            Some(r) => r,
            None => replay::build_from(
                r,
                prepared,
                plan,
                timing,
                self.directives,
                self.state.shutdown_receiver(),
            ),
        };
        self.journal_named(response.status(), outcome, cassette);
        response
    }

    /// Answers with an error in this request's dialect.
    pub(crate) fn error(&self, e: &ErrorReply) -> Response {
        self.play(
            &e.render(self.dialect, self.stream, &self.request_id),
            &FaultPlan::none(),
            "error",
            None,
        )
    }
}

/// Whether a request asks for a stream: compat `"stream": true`, native `X-DashScope-SSE: enable`.
pub fn is_stream_request(dialect: Dialect, headers: &HeaderMap, json: Option<&Value>) -> bool {
    match dialect {
        Dialect::Chat | Dialect::Responses => {
            json.and_then(|j| j.get("stream")).and_then(Value::as_bool) == Some(true)
        }
        Dialect::Native => header_is(headers, "x-dashscope-sse", "enable"),
    }
}

fn header_is(headers: &HeaderMap, name: &str, want: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.trim().eq_ignore_ascii_case(want))
    })
}

/// Whether the request carries an acceptable Bearer key.
pub(crate) fn authorized(state: &MockState, headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, key)) = value.trim().split_once(' ') else {
        return false;
    };
    let key = key.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || key.is_empty() {
        return false;
    }
    let keys = &state.inner.config.api_keys;
    keys.is_empty() || keys.iter().any(|k| k == key)
}

/// `None` when the content type is acceptable (absent, `application/json`, `application/*+json`).
fn bad_content_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(http::header::CONTENT_TYPE)?;
    if let Ok(text) = value.to_str() {
        // Visible ASCII (the usual case): the same test without allocating.
        let media = text.split(';').next().unwrap_or("").trim().as_bytes();
        let prefix = b"application/";
        let ok = media.eq_ignore_ascii_case(b"application/json")
            || (media.len() >= prefix.len()
                && media[..prefix.len()].eq_ignore_ascii_case(prefix)
                && media.len() >= 5
                && media[media.len() - 5..].eq_ignore_ascii_case(b"+json"));
        return (!ok).then(|| text.to_owned());
    }
    let text = String::from_utf8_lossy(value.as_bytes()).into_owned();
    let media = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let ok = media == "application/json"
        || (media.starts_with("application/") && media.ends_with("+json"));
    (!ok).then_some(text)
}

/// Why a request body could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// Over [`MockConfig::max_body_bytes`](crate::MockConfig), or costing more to parse than
    /// the whole in-flight budget: 413.
    TooLarge,
    /// Not a well-formed body (broken chunked framing, the connection closed inside it): 400.
    Malformed(String),
    /// Not all there within [`MockConfig::body_read_timeout`](crate::MockConfig): 408.
    TimedOut,
}

impl From<Refused> for BodyError {
    fn from(r: Refused) -> Self {
        match r {
            Refused::OverCapacity => BodyError::TooLarge,
            Refused::TimedOut => BodyError::TimedOut,
        }
    }
}

impl BodyError {
    /// The answer, in the request's dialect.
    pub(crate) fn reply(&self) -> ErrorReply {
        match self {
            BodyError::TooLarge => ErrorReply::too_large(),
            BodyError::Malformed(detail) => {
                ErrorReply::invalid_parameter(format!("The request body is malformed: {detail}"))
            }
            BodyError::TimedOut => ErrorReply::for_status(408),
        }
    }
}

/// A request body as read: its bytes (empty when it could not be read), the budget it holds,
/// and what went wrong, if anything.
pub(crate) struct ReadBody {
    pub(crate) bytes: Bytes,
    pub(crate) held: Held,
    pub(crate) error: Option<BodyError>,
    deadline: Option<Instant>,
}

impl ReadBody {
    /// Parses the body as JSON once its parsed tree's cost is taken from the in-flight budget
    /// (within the body-read deadline): `None` when it is not JSON or could not be read (a
    /// cost over the budget or a timeout is recorded in `error`).
    pub(crate) async fn json(&mut self, state: &MockState) -> Option<Value> {
        if self.error.is_some() || self.bytes.is_empty() {
            return None;
        }
        let cost = json_text_cost(&self.bytes);
        match state
            .inner
            .budget
            .take(&mut self.held, cost, self.deadline)
            .await
        {
            Ok(()) => serde_json::from_slice(&self.bytes).ok(),
            Err(refused) => {
                self.error = Some(refused.into());
                self.bytes = Bytes::new();
                None
            }
        }
    }
}

/// Reads a request body under the mock's bounds: at most
/// [`MockConfig::max_body_bytes`](crate::MockConfig), within
/// [`body_read_timeout`](crate::MockConfig::body_read_timeout) of the end of the head, each
/// piece taken from the in-flight budget as it arrives (waiting, without reading on, while the
/// budget is spent). A body in one frame is not copied.
pub(crate) async fn read_body<B>(state: &MockState, body: B) -> ReadBody
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<axum::BoxError>,
{
    let config = &state.inner.config;
    let deadline = config
        .body_read_timeout
        .filter(|d| !d.is_zero())
        .map(|d| Instant::now() + d);
    let mut held = Held::default();
    let reading = async {
        let bytes = read_pieces(state, body, &mut held, deadline).await?;
        // The journal scrubs the body.
        let scrub = secrets::scrub_cost(&bytes);
        state.inner.budget.take(&mut held, scrub, deadline).await?;
        Ok(bytes)
    };
    let read = match deadline {
        Some(d) => tokio::time::timeout_at(d, reading)
            .await
            .unwrap_or(Err(BodyError::TimedOut)),
        None => reading.await,
    };
    let (bytes, error) = match read {
        Ok(bytes) => (bytes, None),
        Err(e) => (Bytes::new(), Some(e)),
    };
    ReadBody {
        bytes,
        held,
        error,
        deadline,
    }
}

async fn read_pieces<B>(
    state: &MockState,
    body: B,
    held: &mut Held,
    deadline: Option<Instant>,
) -> Result<Bytes, BodyError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<axum::BoxError>,
{
    let max = state.inner.config.max_body_bytes;
    let budget = &state.inner.budget;
    let body = http_body_util::Limited::new(body, max);
    let mut body = std::pin::pin!(body);
    let mut first: Option<Bytes> = None;
    let mut more: Option<bytes::BytesMut> = None;
    // What the gathered body holds (a piece is taken from the budget before it is kept).
    let mut charged = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                BodyError::TooLarge
            } else {
                BodyError::Malformed(e.to_string())
            }
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let len = more.as_ref().map_or(0, |acc| acc.len()) + first.as_ref().map_or(0, Bytes::len);
        let capacity = match (&more, &first) {
            (Some(acc), _) => acc.capacity(),
            (None, Some(b)) => b.len(),
            (None, None) => 0,
        };
        // The bytes held once this piece is kept: a buffer that must grow doubles (up to the
        // limit), so a client holds about what it sent, not what it announced.
        let need = len + data.len();
        let want = if first.is_none() && more.is_none() {
            data.len()
        } else if capacity >= need {
            capacity
        } else {
            need.max(capacity.saturating_mul(2).min(max))
        };
        if want > charged {
            budget
                .take(held, want - charged, deadline)
                .await
                .map_err(BodyError::from)?;
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
    Ok(match more {
        Some(acc) => acc.freeze(),
        None => first.unwrap_or_default(),
    })
}

/// Sleeps, unless the server stops first.
async fn pause(state: &MockState, d: Duration) {
    if d.is_zero() {
        return;
    }
    let mut rx = state.shutdown_receiver();
    tokio::select! {
        () = tokio::time::sleep(d) => {}
        _ = rx.wait_for(|s| *s) => {}
    }
}

fn head_response() -> Response {
    let mut r = Response::new(axum::body::Body::empty());
    *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    r
}

fn method_not_allowed(allow: &str) -> ErrorReply {
    ErrorReply::mock(
        405,
        "MethodNotAllowed",
        "method_not_allowed",
        format!("dashscope-mock: this path accepts {allow}"),
    )
}

/// `POST` on one of the five generation paths.
pub(crate) async fn generation<B>(
    state: MockState,
    req: http::Request<B>,
    directives: bool,
) -> Response
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<axum::BoxError>,
{
    let (parts, body) = req.into_parts();
    let Some(endpoint) = Endpoint::from_path(parts.uri.path()) else {
        return unknown_parts(state, parts, directives).await;
    };
    if parts.method == Method::HEAD {
        return head_response();
    }
    let received_at_ms = now_ms();
    let request_id = state.inner.ids.next_request_id();
    let mut read = read_body(&state, body).await;
    let json = read.json(&state).await;
    let dialect = endpoint.dialect();
    let stream = is_stream_request(dialect, &parts.headers, json.as_ref());
    let body_error = read.error.take();
    let mut ctx = Ctx {
        state: state.clone(),
        parts,
        body: read.bytes,
        body_is_json: Some(json.is_some()),
        json,
        held: read.held,
        request_id,
        received_at_ms,
        directives,
        dialect,
        stream,
        fired: Vec::new(),
    };
    if ctx.parts.method != Method::POST {
        let mut r = ctx.error(&method_not_allowed("POST"));
        r.headers_mut()
            .insert(http::header::ALLOW, HeaderValue::from_static("POST"));
        return r;
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
        lock(&state.inner.faults).plan(&specs, dialect, std::time::Instant::now())
    };
    ctx.fired.clone_from(&plan.fired);
    pause(
        &state,
        state.inner.config.latency.saturating_add(plan.latency),
    )
    .await;
    if plan.reset {
        ctx.journal(StatusCode::BAD_GATEWAY, "fault", None);
        return replay::reset(directives);
    }
    if let Some(e) = &plan.error {
        let r = e.render(dialect, stream, &ctx.request_id);
        return ctx.play(&r, &plan, "fault", None);
    }

    // 3. Record mode.
    if let Some(recorder) = &state.inner.recorder {
        return recorder
            .forward(&ctx, Some(endpoint), body_error.as_ref())
            .await;
    }

    // 4-5. Auth and envelope.
    if !authorized(&state, &ctx.parts.headers) {
        return ctx.error(&ErrorReply::invalid_api_key());
    }
    if let Some(e) = &body_error {
        return ctx.error(&e.reply());
    }
    if let Some(ct) = bad_content_type(&ctx.parts.headers) {
        return ctx.error(&ErrorReply::wrong_content_type(&ct));
    }
    let Some(json) = ctx.json.take() else {
        let detail = match serde_json::from_slice::<Value>(&ctx.body) {
            Err(e) => e.to_string(),
            Ok(_) => "unreadable body".to_owned(),
        };
        return ctx.error(&ErrorReply::malformed_json(&detail));
    };

    // 6. Cassettes.
    let view = RequestView {
        method: ctx.parts.method.as_str(),
        path: ctx.parts.uri.path(),
        headers: &ctx.parts.headers,
        json: Some(&json),
        stream,
    };
    let forced = ctx
        .parts
        .headers
        .get(CASSETTE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let found = {
        let mut set = lock(&state.inner.cassettes);
        match forced {
            Some(name) => set.take_named_for(name),
            None => set.take_for(&view),
        }
    };
    if let Some((served, info)) = found {
        let rendered;
        let (response, prepared) = match &served {
            Served::Recorded(cassette) => (&cassette.response, info.prepared.as_ref()),
            Served::Unified(unified) => {
                rendered = render_unified_cassette(endpoint, &json, stream, unified);
                (&rendered, None)
            }
        };
        if dialect == Dialect::Responses && stores(&json) {
            lock(&state.inner.store).store_from(&response.body, Some(&json), &ctx.request_id);
        }
        let name = Some(Arc::clone(&info.name));
        return ctx.play_prepared(response, prepared, &plan, "cassette", name);
    }
    if let Some(name) = forced {
        let e = ErrorReply::mock(
            404,
            "MockNoMatch",
            "mock_no_match",
            format!(
                "dashscope-mock: no cassette named {name:?} (or it was a used-up once cassette)"
            ),
        );
        return ctx.error(&e);
    }

    // 7. Checks that come after the cassettes.
    if header_is(&ctx.parts.headers, "x-dashscope-async", "enable") {
        return ctx.error(&ErrorReply::async_not_supported());
    }
    if json
        .get("model")
        .and_then(Value::as_str)
        .is_none_or(|m| m.trim().is_empty())
    {
        return ctx.error(&ErrorReply::missing_model());
    }

    // 8. The responder, with the conversation a `previous_response_id` continues.
    if !state.inner.config.strict {
        let (history, history_size) = match previous_history(&state, dialect, &json) {
            Ok(h) => h,
            Err(e) => return ctx.error(&e),
        };
        if history_size > 0 {
            // The responder reads a stored conversation through copies of it.
            let deadline = state
                .inner
                .config
                .body_read_timeout
                .filter(|d| !d.is_zero())
                .map(|d| Instant::now() + d);
            let cost = history_size.saturating_mul(HISTORY_COPIES);
            if let Err(refused) = state.inner.budget.take(&mut ctx.held, cost, deadline).await {
                return ctx.error(&BodyError::from(refused).reply());
            }
        }
        let seed = state.inner.config.seed;
        let created = if seed.is_some() {
            SEEDED_CREATED
        } else {
            i64::try_from(now_ms() / 1000).unwrap_or(0)
        };
        let request = MockRequest {
            endpoint,
            method: &ctx.parts.method,
            path: ctx.parts.uri.path(),
            headers: &ctx.parts.headers,
            body: &ctx.body,
            json: &json,
            stream,
            request_id: ctx.request_id.as_str(),
            seed,
            created,
            history: &history,
        };
        if let Some(answer) = state.inner.responder.respond(&request) {
            if dialect == Dialect::Responses && answer.status == 200 && stores(&json) {
                lock(&state.inner.store).store_from(&answer.body, Some(&json), &ctx.request_id);
            }
            return ctx.play(&answer, &plan, "responder", None);
        }
    }

    // 9. No answer.
    let nearest = lock(&state.inner.cassettes).nearest(&view, 3);
    let names: Vec<&str> = nearest.iter().map(|n| n.name.as_str()).collect();
    let message = if names.is_empty() {
        format!(
            "dashscope-mock: no cassette matches POST {}; no cassettes are loaded",
            ctx.path()
        )
    } else {
        format!(
            "dashscope-mock: no cassette matches POST {}; nearest: {}",
            ctx.path(),
            names.join(", ")
        )
    };
    let e = ErrorReply::mock(404, "MockNoMatch", "mock_no_match", message).with_extra(
        "nearest",
        serde_json::to_value(&nearest).unwrap_or(Value::Null),
    );
    let r = e.render(dialect, stream, &ctx.request_id);
    ctx.play(&r, &FaultPlan::none(), "no_match", None)
}

/// `created` / `created_at` of a seeded server's synthetic answers: 2026-01-01T00:00:00Z.
pub const SEEDED_CREATED: i64 = 1_767_225_600;

/// Whether a Responses request wants its response stored (`store` defaults to true).
fn stores(json: &Value) -> bool {
    json.get("store").and_then(Value::as_bool) != Some(false)
}

/// The stored conversation a Responses request's `previous_response_id` continues (empty when
/// it names none), and about how many bytes it holds.
fn previous_history(
    state: &MockState,
    dialect: Dialect,
    json: &Value,
) -> Result<(Arc<[Value]>, usize), Box<ErrorReply>> {
    if dialect != Dialect::Responses {
        return Ok((Arc::from([]), 0));
    }
    match json.get("previous_response_id") {
        None | Some(Value::Null) => Ok((Arc::from([]), 0)),
        Some(Value::String(id)) => lock(&state.inner.store)
            .get(id)
            .map(|s| (Arc::clone(&s.history), s.size()))
            .ok_or_else(|| Box::new(ErrorReply::previous_response_not_found(id))),
        Some(_) => {
            let mut e = ErrorReply::invalid_parameter("\"previous_response_id\" must be a string.");
            e.param = Some("previous_response_id".to_owned());
            Err(Box::new(e))
        }
    }
}

/// `GET`/`DELETE …/responses/{id}` and `GET …/responses/{id}/input_items`.
pub(crate) async fn stored_response(state: MockState, req: Request, directives: bool) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let target = RESPONSES_PREFIXES.iter().find_map(|p| {
        let rest = path.strip_prefix(p)?.strip_prefix('/')?;
        match rest.split_once('/') {
            None if !rest.is_empty() => Some((rest.to_owned(), false)),
            Some((id, "input_items")) if !id.is_empty() => Some((id.to_owned(), true)),
            _ => None,
        }
    });
    let Some((id, items)) = target else {
        return unknown_parts(state, parts, directives).await;
    };
    if parts.method == Method::HEAD {
        return head_response();
    }
    if state.inner.recorder.is_some() {
        return forward_only(state, parts, body, directives).await;
    }
    let read = read_body(&state, body).await;
    let ctx = Ctx {
        state: state.clone(),
        parts,
        json: None,
        body: read.bytes,
        body_is_json: None,
        held: read.held,
        request_id: state.inner.ids.next_request_id(),
        received_at_ms: now_ms(),
        directives,
        dialect: Dialect::Responses,
        stream: false,
        fired: Vec::new(),
    };
    if !authorized(&state, &ctx.parts.headers) {
        return ctx.error(&ErrorReply::invalid_api_key());
    }
    let not_found = || {
        let mut e = ErrorReply::new(
            404,
            "InvalidParameter",
            "invalid_parameter_error",
            "invalid_request_error",
            format!("Response with id '{id}' not found."),
        );
        e.param = Some("response_id".to_owned());
        e
    };
    let ok = |body: String| RecordedResponse {
        status: 200,
        headers: gateway_headers(&ctx.request_id, JSON_CONTENT_TYPE),
        body: dashscope_protocol::cassette::Body::Text(body),
    };
    let none = FaultPlan::none();
    match (&ctx.parts.method, items) {
        (&Method::GET, false) => {
            let found = lock(&state.inner.store)
                .get(&id)
                .map(|s| s.response.to_string());
            match found {
                Some(body) => ctx.play(&ok(body), &none, "store", None),
                None => ctx.error(&not_found()),
            }
        }
        (&Method::DELETE, false) => {
            if lock(&state.inner.store).remove(&id) {
                let body = json!({"id": id, "object": "response", "deleted": true}).to_string();
                ctx.play(&ok(body), &none, "store", None)
            } else {
                ctx.error(&not_found())
            }
        }
        (&Method::GET, true) => {
            let found = lock(&state.inner.store)
                .get(&id)
                .map(|s| s.input_items().to_vec());
            match found {
                Some(data) => {
                    let first = data
                        .first()
                        .and_then(|i| i.get("id"))
                        .cloned()
                        .unwrap_or(Value::Null);
                    let last = data
                        .last()
                        .and_then(|i| i.get("id"))
                        .cloned()
                        .unwrap_or(Value::Null);
                    let body = json!({"object": "list", "data": data, "first_id": first, "last_id": last, "has_more": false});
                    ctx.play(&ok(body.to_string()), &none, "store", None)
                }
                None => ctx.error(&not_found()),
            }
        }
        _ => {
            let allow = if items { "GET" } else { "GET, DELETE" };
            let mut r = ctx.error(&method_not_allowed(allow));
            r.headers_mut().insert(
                http::header::ALLOW,
                HeaderValue::from_static(if items { "GET" } else { "GET, DELETE" }),
            );
            r
        }
    }
}

/// Any other path: 404 in the path's dialect shape (or forwarded, in record mode).
pub(crate) async fn unknown(state: MockState, req: Request, directives: bool) -> Response {
    let (parts, body) = req.into_parts();
    if state.inner.recorder.is_some() && parts.method != Method::HEAD {
        return forward_only(state, parts, body, directives).await;
    }
    unknown_parts(state, parts, directives).await
}

/// Record mode on a path that makes no cassette: forward only.
async fn forward_only(
    state: MockState,
    parts: Parts,
    body: axum::body::Body,
    directives: bool,
) -> Response {
    let read = read_body(&state, body).await;
    let dialect = dialect_of_path(parts.uri.path());
    let ctx = Ctx {
        request_id: state.inner.ids.next_request_id(),
        state: state.clone(),
        json: None,
        body: read.bytes,
        body_is_json: None,
        held: read.held,
        received_at_ms: now_ms(),
        directives,
        dialect,
        stream: false,
        fired: Vec::new(),
        parts,
    };
    match &state.inner.recorder {
        Some(recorder) => recorder.forward(&ctx, None, read.error.as_ref()).await,
        None => ctx.error(&ErrorReply::for_status(502)),
    }
}

async fn unknown_parts(state: MockState, parts: Parts, directives: bool) -> Response {
    if parts.method == Method::HEAD {
        return head_response();
    }
    let dialect = dialect_of_path(parts.uri.path());
    let ctx = Ctx {
        request_id: state.inner.ids.next_request_id(),
        state,
        body: Bytes::new(),
        body_is_json: Some(false),
        json: None,
        held: Held::default(),
        received_at_ms: now_ms(),
        directives,
        dialect,
        stream: false,
        fired: Vec::new(),
        parts,
    };
    let message = format!(
        "dashscope-mock: no such endpoint: {} {}",
        ctx.parts.method,
        ctx.path()
    );
    let e = ErrorReply::mock(404, "NotFound", "not_found", message);
    let r = e.render(dialect, false, &ctx.request_id);
    ctx.play(&r, &FaultPlan::none(), "no_route", None)
}

/// Whether a request came through [`MockListener`](crate::conn::MockListener) (axum's
/// `ConnectInfo<MockConn>`), so its connection honours directives.
fn through_mock_listener<B>(req: &http::Request<B>) -> bool {
    req.extensions().get::<ConnectInfo<MockConn>>().is_some()
}

/// [`router`](crate::router)'s handler for the generation paths.
pub(crate) async fn generation_route(State(state): State<MockState>, req: Request) -> Response {
    let directives = through_mock_listener(&req);
    generation(state, req, directives).await
}

/// [`router`](crate::router)'s handler for the stored-response paths.
pub(crate) async fn stored_response_route(
    State(state): State<MockState>,
    req: Request,
) -> Response {
    let directives = through_mock_listener(&req);
    stored_response(state, req, directives).await
}

/// [`router`](crate::router)'s fallback.
pub(crate) async fn unknown_route(State(state): State<MockState>, req: Request) -> Response {
    let directives = through_mock_listener(&req);
    unknown(state, req, directives).await
}

/// Which handler a path goes to: the route table of [`router`](crate::router), read without
/// a router, with axum's matching (`{id}` is one segment, non-empty at the end of the path
/// but possibly empty before `/input_items`; `{*rest}` is a non-empty rest). A unit test holds
/// the two to the same answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// One of the five generation paths.
    Generation,
    /// `{prefix}/{id}` or `{prefix}/{id}/input_items` of a Responses prefix.
    Stored,
    /// `/__mock` or `/__mock/{*rest}`.
    Admin,
    /// Anything else (the fallback).
    Unknown,
}

impl Route {
    /// The route of `path` (without the query).
    pub(crate) fn of(path: &str) -> Route {
        if Endpoint::from_path(path).is_some() {
            return Route::Generation;
        }
        for p in RESPONSES_PREFIXES {
            let Some(rest) = path.strip_prefix(p).and_then(|r| r.strip_prefix('/')) else {
                continue;
            };
            let stored = match rest.split_once('/') {
                None => !rest.is_empty(),
                Some((_, "input_items")) => true,
                Some(_) => false,
            };
            if stored {
                return Route::Stored;
            }
        }
        if path == ADMIN_PREFIX
            || path
                .strip_prefix(ADMIN_PREFIX)
                .and_then(|r| r.strip_prefix('/'))
                .is_some_and(|rest| !rest.is_empty())
        {
            return Route::Admin;
        }
        Route::Unknown
    }
}

/// Answers one request as [`router`](crate::router) does (same handlers, and the same
/// finishing of the response: a `content-length` for a body of known size, no body for
/// `HEAD`), without a router: no path matching beyond [`Route::of`], no boxing of a
/// generation request's body. `directives`: the connection honours them.
pub(crate) async fn dispatch<B>(
    state: MockState,
    req: http::Request<B>,
    directives: bool,
) -> Response
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let method = req.method().clone();
    let response = match Route::of(req.uri().path()) {
        // Boxed: the generation future is large, and a box is cheaper than moving it.
        Route::Generation => Box::pin(generation(state, req, directives)).await,
        Route::Stored => stored_response(state, req.map(AxumBody::new), directives).await,
        Route::Admin => admin(State(state), req.map(AxumBody::new)).await,
        Route::Unknown => unknown(state, req.map(AxumBody::new), directives).await,
    };
    finish(&method, response)
}

/// What axum's router does to every response of a route: no body (and no length) on a
/// successful `CONNECT`; otherwise a `content-length` for a body of known size, then no
/// body for `HEAD`.
fn finish(method: &Method, mut res: Response) -> Response {
    use http_body::Body as _;
    let size = res.body().size_hint();
    if *method == Method::CONNECT && res.status().is_success() {
        let headers = res.headers();
        if headers.contains_key(http::header::CONTENT_LENGTH)
            || headers.contains_key(http::header::TRANSFER_ENCODING)
            || size.lower() != 0
        {
            res = res.map(|_| AxumBody::empty());
        }
        return res;
    }
    if !res.headers().contains_key(http::header::CONTENT_LENGTH) {
        if let Some(n) = size.exact() {
            res.headers_mut()
                .insert(http::header::CONTENT_LENGTH, HeaderValue::from(n));
        }
    }
    if *method == Method::HEAD {
        *res.body_mut() = AxumBody::empty();
    }
    res
}
