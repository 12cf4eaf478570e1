//! The fault matrix: every dialect × {stream, non-stream} × {async, blocking client} × every
//! fault the mock server injects, each case with its expected outcome and a deadline.
//!
//! One table-driven test, [`fault_matrix`]. Every case gets its own mock server (so `times=N`
//! counters and the journal belong to that case alone), sends the recorded request of a fixture
//! with the fault in the `x-mock-fault` header, and compares what the client reported with the
//! row's expectation:
//!
//! * **retried and succeeded**: the answer equals the fault-free answer, after exactly the
//!   expected number of requests (counted in the mock's journal, with their statuses);
//! * **a typed error**: the exact variant, status and code, or stream error kind and chunk
//!   count; for a broken stream, the text received before the fault equals the fault-free
//!   answer's prefix of that many chunks, and equals the error's `partial` text.
//!
//! Cases run concurrently, each bounded by [`CASE_DEADLINE`]: a hang fails its case instead of
//! the run. The test prints the matrix as a markdown table (`docs/fault-matrix.md` holds a copy):
//!
//! ```text
//! cargo test -p dashscope-provider --all-features --test fault_matrix -- --nocapture
//! ```

#![cfg(all(feature = "reqwest", feature = "blocking"))]

mod support;

use std::collections::{BTreeMap, VecDeque};
use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use dashscope_mock::MockServer;
use dashscope_protocol::chat::{ChatChunk, ChatCompletion, ChatRequest};
use dashscope_protocol::native::{GenerationRequest, GenerationResponse};
use dashscope_protocol::responses::{Response, ResponseRequest, ResponseStreamEvent};
use dashscope_provider::{
    Config, Error, PARTIAL_RESPONSE_HEADER, Reply, RetryPolicy, StreamErrorKind, WireDialect,
};
use support::{KEY, assert_error_has_no_key, request};

/// The longest one case may take (server start, every attempt, the stream, the server stop).
const CASE_DEADLINE: Duration = Duration::from_secs(20);
/// How many cases run at once.
const WORKERS: usize = 8;
/// The client's idle (read) timeout in the stall rows: a stalled stream fails after this long.
const IDLE: Duration = Duration::from_secs(1);
/// The client's idle timeout in the other rows: long enough for the mock (a debug build) to
/// build a 16 MiB event, short enough to end well within [`CASE_DEADLINE`].
const IDLE_RELAXED: Duration = Duration::from_secs(10);
/// The client's deadline for a whole non-stream call (longer than [`IDLE`], so a stalled body
/// trips the idle timeout first).
const TOTAL: Duration = Duration::from_secs(15);
/// Retries after the first attempt.
const MAX_RETRIES: u32 = 2;
/// A padding that fits under the SSE decoder's line limit.
const PAD_SMALL: usize = 1024 * 1024;
/// A padding over the SSE decoder's line limit (16 MiB).
const PAD_OVER_LINE: usize = dashscope_protocol::sse::DEFAULT_MAX_LINE + 1;

// ---------------------------------------------------------------------------------------------
// The axes.

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Dia {
    Chat,
    Responses,
    Native,
}

impl Dia {
    const ALL: [Dia; 3] = [Dia::Chat, Dia::Responses, Dia::Native];

    fn name(self) -> &'static str {
        match self {
            Dia::Chat => "chat",
            Dia::Responses => "responses",
            Dia::Native => "native",
        }
    }

    /// How many chunks a broken stream delivers before its fault (cut, stall, bad event): enough
    /// for some answer text to have arrived in every dialect.
    fn k(self) -> u64 {
        match self {
            // role chunk, "我是", "来自", "阿里"
            Dia::Chat => 4,
            // created, in_progress, output_item.added, content_part.added, two text deltas
            Dia::Responses => 6,
            // "1+", "1", "等于"
            Dia::Native => 3,
        }
    }

    /// How many chunks arrive before a malformed-JSON event: `k`, except in Responses, whose
    /// event k + 1 (`output_text.done`) holds Chinese text that the mock's byte-wise truncation
    /// would cut inside a character, turning the row into an invalid-UTF-8 one (see
    /// [`malformed_json_keeps_the_event_utf8`]); there the event after it is truncated.
    fn k_malformed(self) -> u64 {
        match self {
            Dia::Responses => self.k() + 1,
            _ => self.k(),
        }
    }

    /// The error code of an injected status, in this dialect's error shape.
    fn code(self, status: u16) -> &'static str {
        let compat = self != Dia::Native;
        match (status, compat) {
            (429, true) => "limit_requests",
            (429, false) => "Throttling.RateQuota",
            (500, true) => "internal_error",
            (500, false) => "InternalError",
            _ => "?",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Mode {
    Stream,
    Unary,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Stream => "stream",
            Mode::Unary => "non-stream",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Shell {
    Async,
    Blocking,
}

/// Every fault the mock injects, as a row group of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Fault {
    None,
    Throttled429RetryAfter,
    Throttled429,
    Throttled429Exhausted,
    Status500Twice,
    Status500Exhausted,
    Status502,
    Status503,
    Status504,
    Reset,
    Cut,
    Stall,
    Partial,
    NoBlankLines,
    MalformedJson,
    InvalidUtf8,
    OversizedChunk,
    OversizedOverLineLimit,
}

impl Fault {
    const ALL: [Fault; 18] = [
        Fault::None,
        Fault::Throttled429RetryAfter,
        Fault::Throttled429,
        Fault::Throttled429Exhausted,
        Fault::Status500Twice,
        Fault::Status500Exhausted,
        Fault::Status502,
        Fault::Status503,
        Fault::Status504,
        Fault::Reset,
        Fault::Cut,
        Fault::Stall,
        Fault::Partial,
        Fault::NoBlankLines,
        Fault::MalformedJson,
        Fault::InvalidUtf8,
        Fault::OversizedChunk,
        Fault::OversizedOverLineLimit,
    ];

    fn name(self) -> &'static str {
        match self {
            Fault::None => "none (baseline)",
            Fault::Throttled429RetryAfter => "429 with Retry-After",
            Fault::Throttled429 => "429 without Retry-After",
            Fault::Throttled429Exhausted => "429 on every attempt",
            Fault::Status500Twice => "500 twice",
            Fault::Status500Exhausted => "500 on every attempt",
            Fault::Status502 => "502 once",
            Fault::Status503 => "503 once",
            Fault::Status504 => "504 once",
            Fault::Reset => "reset before the response",
            Fault::Cut => "cut after k events",
            Fault::Stall => "idle stall",
            Fault::Partial => "partial response",
            Fault::NoBlankLines => "frames without blank lines",
            Fault::MalformedJson => "malformed JSON chunk",
            Fault::InvalidUtf8 => "invalid UTF-8 chunk",
            Fault::OversizedChunk => "oversized chunk (1 MiB)",
            Fault::OversizedOverLineLimit => "oversized chunk (16 MiB + 1)",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Expectations.

/// What a case must end with.
#[derive(Clone, Debug, PartialEq)]
enum Expect {
    /// The call succeeds with the fault-free answer after exactly `requests` requests; the
    /// failed ones answered `fault_status`.
    Ok {
        requests: usize,
        fault_status: Option<u16>,
        /// The least time between the failed request and its retry (a `Retry-After`).
        min_gap: Option<Duration>,
        /// The most time between the failed request and its retry (backoff, not a default wait).
        max_gap: Option<Duration>,
        /// Whether the response carries `x-dashscope-partialresponse: true`.
        partial_header: bool,
    },
    /// `Error::Api` with this status and code, after exactly `requests` requests.
    Api {
        status: u16,
        code: &'static str,
        requests: usize,
    },
    /// `Error::Transport` after one request that reached the server (so not retried).
    Transport { timeout: bool },
    /// `Error::Decode` of a 2xx body, after one request.
    Decode { status: u16 },
    /// `Error::Stream` of this kind after exactly `chunks` chunks, with those chunks' text as
    /// its partial, after one request.
    Stream { kind: StreamErrorKind, chunks: u64 },
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Ok {
                requests,
                fault_status,
                min_gap,
                max_gap,
                partial_header,
            } => {
                match (requests, fault_status) {
                    (1, _) | (_, None) => write!(f, "ok, 1 request")?,
                    (n, Some(s)) => write!(f, "retried, ok after {n} requests ({s}×{})", n - 1)?,
                }
                if let Some(g) = min_gap {
                    write!(f, ", retry waited ≥ {} s", g.as_secs_f64())?;
                }
                if let Some(g) = max_gap {
                    write!(f, ", retry waited < {} s", g.as_secs_f64())?;
                }
                if *partial_header {
                    write!(f, ", `x-dashscope-partialresponse: true` surfaced")?;
                }
                Ok(())
            }
            Expect::Api {
                status,
                code,
                requests,
            } => write!(
                f,
                "`Error::Api` {status} `{code}` after {requests} request(s)"
            ),
            Expect::Transport { timeout } => write!(
                f,
                "`Error::Transport` ({}), request sent, not retried: 1 request",
                if *timeout { "timeout" } else { "connection" }
            ),
            Expect::Decode { status } => {
                write!(f, "`Error::Decode` (HTTP {status}), 1 request")
            }
            Expect::Stream { kind, chunks } => write!(
                f,
                "`Error::Stream {{ kind: {kind:?} }}` after {chunks} chunk(s); partial = the text received = the fault-free answer after {chunks} chunk(s); 1 request"
            ),
        }
    }
}

/// A cell of the matrix: the fault spec sent, what must happen, and a note on what the fault
/// means in this mode.
#[derive(Clone, Debug)]
struct Plan {
    spec: Option<String>,
    expect: Expect,
    note: &'static str,
}

fn ok(requests: usize, fault_status: Option<u16>) -> Expect {
    Expect::Ok {
        requests,
        fault_status,
        min_gap: None,
        max_gap: None,
        partial_header: false,
    }
}

/// The row: what `fault` is in `dia` and `mode`, and what the client must make of it.
fn plan(fault: Fault, dia: Dia, mode: Mode) -> Plan {
    let k = dia.k();
    let stream = mode == Mode::Stream;
    let p = |spec: &str, expect: Expect, note: &'static str| Plan {
        spec: (!spec.is_empty()).then(|| spec.to_owned()),
        expect,
        note,
    };
    match fault {
        Fault::None => p("", ok(1, None), ""),
        Fault::Throttled429RetryAfter => p(
            "status=429;retry-after=1;times=1",
            Expect::Ok {
                requests: 2,
                fault_status: Some(429),
                min_gap: Some(Duration::from_secs(1)),
                max_gap: None,
                partial_header: false,
            },
            "",
        ),
        Fault::Throttled429 => p(
            "status=429;times=1",
            Expect::Ok {
                requests: 2,
                fault_status: Some(429),
                min_gap: None,
                max_gap: Some(Duration::from_secs(1)),
                partial_header: false,
            },
            "",
        ),
        Fault::Throttled429Exhausted => p(
            "status=429",
            Expect::Api {
                status: 429,
                code: dia.code(429),
                requests: 1 + MAX_RETRIES as usize,
            },
            "the retry budget (2) runs out",
        ),
        Fault::Status500Twice => p("status=500;times=2", ok(3, Some(500)), ""),
        Fault::Status500Exhausted => p(
            "status=500;times=3",
            Expect::Api {
                status: 500,
                code: dia.code(500),
                requests: 1 + MAX_RETRIES as usize,
            },
            "the retry budget (2) runs out",
        ),
        Fault::Status502 => p("status=502;times=1", ok(2, Some(502)), ""),
        Fault::Status503 => p("status=503;times=1", ok(2, Some(503)), ""),
        Fault::Status504 => p("status=504;times=1", ok(2, Some(504)), ""),
        Fault::Reset => p(
            "reset;times=1",
            Expect::Transport { timeout: false },
            "the request reached the server, which may have started generating: not retried",
        ),
        Fault::Cut if stream => p(
            &format!("cut-after={k}"),
            Expect::Stream {
                kind: StreamErrorKind::Transport,
                chunks: k,
            },
            "",
        ),
        Fault::Cut => p(
            "cut-after=20",
            Expect::Transport { timeout: false },
            "non-stream meaning: the body is cut after 20 bytes",
        ),
        Fault::Stall if stream => p(
            &format!("stall-after={k}"),
            Expect::Stream {
                kind: StreamErrorKind::IdleTimeout,
                chunks: k,
            },
            "idle timeout 1 s",
        ),
        Fault::Stall => p(
            "stall-after=0",
            Expect::Transport { timeout: true },
            "non-stream meaning: the head arrives, the body stalls; idle timeout 1 s",
        ),
        Fault::Partial if stream => p(
            "partial",
            Expect::Ok {
                requests: 1,
                fault_status: None,
                min_gap: None,
                max_gap: None,
                partial_header: true,
            },
            "N/A to streams (the service cuts only non-stream answers at its timeout): the header passes through, the stream completes",
        ),
        Fault::Partial => p(
            "partial",
            Expect::Ok {
                requests: 1,
                fault_status: None,
                min_gap: None,
                max_gap: None,
                partial_header: true,
            },
            "`Reply::is_partial()` is true",
        ),
        Fault::NoBlankLines if stream && dia == Dia::Chat => p(
            "no-blank-lines",
            Expect::Stream {
                kind: StreamErrorKind::Decode,
                chunks: 0,
            },
            "compat streams always carry blank lines; standard SSE then joins every data line into one event, which is not JSON",
        ),
        Fault::NoBlankLines if stream => p(
            "no-blank-lines",
            ok(1, None),
            "each data: line is an event (legacy native framing)",
        ),
        Fault::NoBlankLines => p(
            "no-blank-lines",
            ok(1, None),
            "N/A to non-stream (a JSON body has no SSE framing): the answer is unchanged",
        ),
        Fault::MalformedJson if stream => p(
            &format!("malformed-json={}", dia.k_malformed() + 1),
            Expect::Stream {
                kind: StreamErrorKind::Decode,
                chunks: dia.k_malformed(),
            },
            "the next event's JSON is truncated",
        ),
        Fault::MalformedJson => p(
            "malformed-json",
            Expect::Decode { status: 200 },
            "the body's JSON is truncated",
        ),
        Fault::InvalidUtf8 if stream => p(
            &format!("invalid-utf8={}", k + 1),
            Expect::Stream {
                kind: StreamErrorKind::Framing,
                chunks: k,
            },
            "the next event holds bytes FF FE",
        ),
        Fault::InvalidUtf8 => p(
            "invalid-utf8",
            Expect::Decode { status: 200 },
            "the body holds bytes FF FE",
        ),
        Fault::OversizedChunk => p(
            &format!("oversized-chunk={PAD_SMALL}"),
            ok(1, None),
            "an unknown 1 MiB member is kept, the answer is unchanged",
        ),
        Fault::OversizedOverLineLimit if stream => p(
            &format!("oversized-chunk={PAD_OVER_LINE}"),
            Expect::Stream {
                kind: StreamErrorKind::Framing,
                chunks: 0,
            },
            "the first event's line is over the SSE decoder's 16 MiB line limit",
        ),
        Fault::OversizedOverLineLimit => p(
            &format!("oversized-chunk={PAD_OVER_LINE}"),
            ok(1, None),
            "a 16 MiB body is under the 64 MiB non-stream body limit",
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Running a case.

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Case {
    fault: Fault,
    dia: Dia,
    mode: Mode,
    shell: Shell,
}

/// What one call did, from the client's side.
#[derive(Default)]
struct Run {
    /// The final answer's text, when the call succeeded.
    answer: Option<String>,
    error: Option<Error>,
    /// The text of each chunk pulled (streams).
    chunk_texts: Vec<String>,
    /// The answer's text as far as it arrived, after each chunk (`snapshot()`).
    snapshots: Vec<String>,
    /// `x-dashscope-partialresponse: true` on the response.
    partial_header: bool,
    /// `Reply::attempts()` (non-stream).
    attempts: Option<u32>,
    /// After an error, the stream yielded `None`.
    over_after_error: Option<bool>,
}

/// What a case observed: the client's side and the server's journal.
struct Observed {
    run: Run,
    statuses: Vec<u16>,
    arrivals_ms: Vec<u64>,
    elapsed: Duration,
}

fn header_flag(headers: &http::HeaderMap) -> bool {
    headers
        .get(PARTIAL_RESPONSE_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

fn unary<O>(result: Result<Reply<O>, Error>, text: fn(&O) -> String) -> Run {
    match result {
        Ok(reply) => Run {
            answer: Some(text(&reply)),
            partial_header: reply.is_partial(),
            attempts: Some(reply.attempts()),
            ..Run::default()
        },
        Err(e) => Run {
            error: Some(e),
            ..Run::default()
        },
    }
}

async fn drain_async<D: WireDialect>(
    opened: Result<dashscope_provider::EventStream<D>, Error>,
    chunk_text: fn(&D::Chunk) -> String,
    out_text: fn(&D::Output) -> String,
) -> Run {
    let mut run = Run::default();
    let mut stream = match opened {
        Ok(s) => s,
        Err(e) => {
            run.error = Some(e);
            return run;
        }
    };
    run.partial_header = header_flag(stream.headers());
    loop {
        match stream.next_chunk().await {
            Some(Ok(c)) => {
                run.chunk_texts.push(chunk_text(&c));
                run.snapshots.push(out_text(&stream.snapshot()));
            }
            Some(Err(e)) => {
                run.error = Some(e);
                run.over_after_error = Some(stream.next_chunk().await.is_none());
                return run;
            }
            None => break,
        }
    }
    match stream.accumulate().await {
        Ok(out) => run.answer = Some(out_text(&out)),
        Err(e) => run.error = Some(e),
    }
    run
}

// `while let`, not `for`: the loop body reads the stream's snapshot between items.
#[allow(clippy::while_let_on_iterator)]
fn drain_blocking<D: WireDialect>(
    opened: Result<dashscope_provider::blocking::EventStream<D>, Error>,
    chunk_text: fn(&D::Chunk) -> String,
    out_text: fn(&D::Output) -> String,
) -> Run {
    let mut run = Run::default();
    let mut stream = match opened {
        Ok(s) => s,
        Err(e) => {
            run.error = Some(e);
            return run;
        }
    };
    run.partial_header = header_flag(stream.headers());
    while let Some(item) = stream.next() {
        match item {
            Ok(c) => {
                run.chunk_texts.push(chunk_text(&c));
                run.snapshots.push(out_text(&stream.snapshot()));
            }
            Err(e) => {
                run.error = Some(e);
                break;
            }
        }
    }
    if run.error.is_some() {
        run.over_after_error = Some(stream.next().is_none());
        return run;
    }
    match stream.accumulate() {
        Ok(out) => run.answer = Some(out_text(&out)),
        Err(e) => run.error = Some(e),
    }
    run
}

fn chat_chunk_text(c: &ChatChunk) -> String {
    c.content().unwrap_or_default().to_owned()
}

fn chat_text(c: &ChatCompletion) -> String {
    c.text().unwrap_or_default().to_owned()
}

fn responses_event_text(e: &ResponseStreamEvent) -> String {
    match e {
        ResponseStreamEvent::OutputTextDelta(d) => d.delta.clone(),
        _ => String::new(),
    }
}

fn responses_text(r: &Response) -> String {
    r.output_text()
}

fn native_text(r: &GenerationResponse) -> String {
    r.text().map(|t| t.into_owned()).unwrap_or_default()
}

/// The recorded requests the cases send (the mock answers them with their recordings).
#[derive(Clone)]
struct Requests {
    chat: ChatRequest,
    responses: ResponseRequest,
    native: GenerationRequest,
}

impl Requests {
    fn load() -> Self {
        Requests {
            chat: request("chat/stream-include-usage-twin"),
            responses: request("responses/intro"),
            native: request("native/text-sse-twin"),
        }
    }
}

async fn call_async(client: &dashscope_provider::Client, req: &Requests, case: Case) -> Run {
    match (case.dia, case.mode) {
        (Dia::Chat, Mode::Unary) => unary(client.chat().create(req.chat.clone()).await, chat_text),
        (Dia::Chat, Mode::Stream) => {
            let opened = client.chat().create_stream(req.chat.clone()).await;
            drain_async(opened, chat_chunk_text, chat_text).await
        }
        (Dia::Responses, Mode::Unary) => unary(
            client.responses().create(req.responses.clone()).await,
            responses_text,
        ),
        (Dia::Responses, Mode::Stream) => {
            let opened = client
                .responses()
                .create_stream(req.responses.clone())
                .await;
            drain_async(opened, responses_event_text, responses_text).await
        }
        (Dia::Native, Mode::Unary) => unary(
            client.native().generate(req.native.clone()).await,
            native_text,
        ),
        (Dia::Native, Mode::Stream) => {
            let opened = client.native().generate_stream(req.native.clone()).await;
            drain_async(opened, native_text, native_text).await
        }
    }
}

fn call_blocking(client: &dashscope_provider::blocking::Client, req: &Requests, case: Case) -> Run {
    match (case.dia, case.mode) {
        (Dia::Chat, Mode::Unary) => unary(client.chat().create(req.chat.clone()), chat_text),
        (Dia::Chat, Mode::Stream) => drain_blocking(
            client.chat().create_stream(req.chat.clone()),
            chat_chunk_text,
            chat_text,
        ),
        (Dia::Responses, Mode::Unary) => unary(
            client.responses().create(req.responses.clone()),
            responses_text,
        ),
        (Dia::Responses, Mode::Stream) => drain_blocking(
            client.responses().create_stream(req.responses.clone()),
            responses_event_text,
            responses_text,
        ),
        (Dia::Native, Mode::Unary) => {
            unary(client.native().generate(req.native.clone()), native_text)
        }
        (Dia::Native, Mode::Stream) => drain_blocking(
            client.native().generate_stream(req.native.clone()),
            native_text,
            native_text,
        ),
    }
}

fn config(server: &MockServer, spec: Option<&str>, idle: Duration) -> Config {
    let mut b = Config::builder()
        .api_key(KEY)
        .base_url(server.uri())
        .idle_timeout(idle)
        .total_timeout(Some(TOTAL))
        .retry(RetryPolicy {
            max_retries: MAX_RETRIES,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            jitter: 0.0,
            ..RetryPolicy::default()
        });
    if let Some(spec) = spec {
        b = b.header("x-mock-fault", spec);
    }
    b.build().expect("a valid configuration")
}

/// Runs one case against its own mock server.
fn run_case(case: Case, req: &Requests, rt: &tokio::runtime::Handle) -> Observed {
    let plan = plan(case.fault, case.dia, case.mode);
    let server = MockServer::builder()
        .shutdown_grace(Duration::from_millis(50))
        .start()
        .expect("the mock server starts");
    let idle = if case.fault == Fault::Stall {
        IDLE
    } else {
        IDLE_RELAXED
    };
    let config = config(&server, plan.spec.as_deref(), idle);
    let started = Instant::now();
    let run = match case.shell {
        Shell::Async => rt.block_on(async {
            let client = dashscope_provider::Client::new(config).expect("a client");
            call_async(&client, req, case).await
        }),
        Shell::Blocking => {
            let client = dashscope_provider::blocking::Client::new(config).expect("a client");
            call_blocking(&client, req, case)
        }
    };
    let elapsed = started.elapsed();
    let journal = server.journal();
    Observed {
        run,
        statuses: journal.iter().map(|e| e.status).collect(),
        arrivals_ms: journal.iter().map(|e| e.received_at_ms).collect(),
        elapsed,
    }
}

// ---------------------------------------------------------------------------------------------
// Checking a case.

/// The fault-free answers, per dialect and mode, and the chunk texts and snapshots of the
/// fault-free streams.
struct Baseline {
    answers: BTreeMap<(Dia, Mode), String>,
    chunks: BTreeMap<Dia, Vec<String>>,
    snapshots: BTreeMap<Dia, Vec<String>>,
}

fn describe(e: &Error) -> String {
    match e {
        Error::Api { status, code, .. } => format!("Api {status} {code:?}"),
        Error::Transport(t) => format!(
            "Transport(timeout={}, sent={}, body={}): {t}",
            t.is_timeout(),
            t.is_request_sent(),
            t.is_body()
        ),
        Error::Decode { status, .. } => format!("Decode {status}"),
        Error::Stream {
            kind,
            details,
            partial,
            ..
        } => format!(
            "Stream {kind:?} after {} chunk(s), partial {:?}",
            details.chunks,
            partial.text()
        ),
        other => format!("{other:?}"),
    }
}

/// Every way the observation differs from the expectation (empty: the case passed).
fn check(case: Case, obs: &Observed, base: &Baseline) -> Vec<String> {
    let plan = plan(case.fault, case.dia, case.mode);
    let mut bad = Vec::new();
    let run = &obs.run;
    let full = base.answers.get(&(case.dia, case.mode));
    let requests = obs.statuses.len();
    if let Some(e) = &run.error {
        assert_error_has_no_key(e);
    }
    let got = match (&run.answer, &run.error) {
        (Some(a), None) => format!("ok {a:?}"),
        (_, Some(e)) => describe(e),
        (None, None) => "neither an answer nor an error".to_owned(),
    };
    match &plan.expect {
        Expect::Ok {
            requests: want,
            fault_status,
            min_gap,
            max_gap,
            partial_header,
        } => {
            match (&run.answer, full) {
                (Some(a), Some(full)) if a == full => {}
                (Some(a), Some(full)) => bad.push(format!("answer {a:?} != {full:?}")),
                (Some(a), None) if !a.is_empty() => {}
                _ => bad.push(format!("expected an answer, got {got}")),
            }
            if requests != *want {
                bad.push(format!("{requests} request(s), expected {want}"));
            }
            let mut want_statuses = vec![fault_status.unwrap_or(200); want - 1];
            want_statuses.push(200);
            if obs.statuses != want_statuses {
                bad.push(format!(
                    "statuses {:?}, expected {want_statuses:?}",
                    obs.statuses
                ));
            }
            if case.mode == Mode::Unary && run.attempts != Some(*want as u32) {
                bad.push(format!("attempts {:?}, expected {want}", run.attempts));
            }
            let gap = match obs.arrivals_ms.as_slice() {
                [a, b, ..] => Some(Duration::from_millis(b.saturating_sub(*a))),
                _ => None,
            };
            if let (Some(min), Some(gap)) = (min_gap, gap) {
                if gap < *min {
                    bad.push(format!("the retry came after {gap:?}, before {min:?}"));
                }
            }
            if let (Some(max), Some(gap)) = (max_gap, gap) {
                if gap >= *max {
                    bad.push(format!("the retry came after {gap:?}, not before {max:?}"));
                }
            }
            if run.partial_header != *partial_header {
                bad.push(format!(
                    "partial-response header {}, expected {partial_header}",
                    run.partial_header
                ));
            }
            if case.mode == Mode::Stream {
                if let Some(chunks) = base.chunks.get(&case.dia) {
                    if run.chunk_texts.len() != chunks.len() {
                        bad.push(format!(
                            "{} chunk(s), the fault-free stream has {}",
                            run.chunk_texts.len(),
                            chunks.len()
                        ));
                    }
                }
            }
        }
        Expect::Api {
            status,
            code,
            requests: want,
        } => {
            match &run.error {
                Some(Error::Api {
                    status: s, code: c, ..
                }) if s == status && c.as_deref() == Some(*code) => {}
                _ => bad.push(format!("expected Api {status} {code}, got {got}")),
            }
            if requests != *want {
                bad.push(format!("{requests} request(s), expected {want}"));
            }
            if obs.statuses.iter().any(|s| s != status) {
                bad.push(format!("statuses {:?}", obs.statuses));
            }
        }
        Expect::Transport { timeout } => {
            match &run.error {
                Some(Error::Transport(t)) if t.is_timeout() == *timeout && t.is_request_sent() => {}
                _ => bad.push(format!(
                    "expected Transport(timeout={timeout}, sent), got {got}"
                )),
            }
            if requests != 1 {
                bad.push(format!("{requests} request(s), expected 1"));
            }
        }
        Expect::Decode { status } => {
            match &run.error {
                Some(Error::Decode {
                    status: s,
                    request_id,
                    ..
                }) if s == status && request_id.is_some() => {}
                _ => bad.push(format!(
                    "expected Decode {status} with a request id, got {got}"
                )),
            }
            if requests != 1 {
                bad.push(format!("{requests} request(s), expected 1"));
            }
        }
        Expect::Stream { kind, chunks } => {
            // The text the caller had when the stream broke: the deltas pulled, and the answer
            // folded from them (in Responses an `output_text.done` event may carry more text
            // than its deltas: the recording elides some).
            let received: String = run.chunk_texts.concat();
            let seen = run.snapshots.last().cloned().unwrap_or_default();
            match &run.error {
                Some(Error::Stream {
                    kind: k,
                    details,
                    partial,
                    ..
                }) => {
                    if k != kind {
                        bad.push(format!("kind {k:?}, expected {kind:?}"));
                    }
                    if details.chunks != *chunks || run.chunk_texts.len() as u64 != *chunks {
                        bad.push(format!(
                            "{} chunk(s) ({} pulled), expected {chunks}",
                            details.chunks,
                            run.chunk_texts.len()
                        ));
                    }
                    if partial.text() != seen {
                        bad.push(format!(
                            "partial {:?} != the answer as the caller saw it {seen:?}",
                            partial.text()
                        ));
                    }
                    if details.http_status != 200 || details.request_id.is_none() {
                        bad.push(format!(
                            "details: status {}, request id {:?}",
                            details.http_status, details.request_id
                        ));
                    }
                }
                _ => bad.push(format!("expected Stream {kind:?}, got {got}")),
            }
            if let (Some(base_chunks), Some(base_seen)) =
                (base.chunks.get(&case.dia), base.snapshots.get(&case.dia))
            {
                let n = (*chunks as usize).min(base_chunks.len());
                let prefix: String = base_chunks[..n].concat();
                if received != prefix {
                    bad.push(format!(
                        "received {received:?}, the answer's first {n} chunk(s) are {prefix:?}"
                    ));
                }
                let base_seen = n
                    .checked_sub(1)
                    .map_or_else(String::new, |i| base_seen[i].clone());
                if seen != base_seen {
                    bad.push(format!(
                        "the answer so far {seen:?}, fault-free after {n} chunk(s) {base_seen:?}"
                    ));
                }
                if *chunks > 0 && received.is_empty() {
                    bad.push("no text arrived before the fault".to_owned());
                }
            }
            if let Some(full) = full {
                if !full.starts_with(&received) || !full.starts_with(&seen) {
                    bad.push(format!(
                        "received {received:?} / {seen:?} is not a prefix of {full:?}"
                    ));
                }
            }
            if *chunks > 0 && run.over_after_error != Some(true) {
                bad.push("the stream did not end after its error".to_owned());
            }
            if requests != 1 {
                bad.push(format!("{requests} request(s), expected 1 (never retried)"));
            }
        }
    }
    if obs.elapsed > CASE_DEADLINE {
        bad.push(format!("took {:?}", obs.elapsed));
    }
    bad
}

// ---------------------------------------------------------------------------------------------
// The pool: every case on its own thread, bounded by its deadline.

/// How a case ended.
enum Verdict {
    Pass,
    Fail(Vec<String>),
}

fn run_all(
    cases: Vec<Case>,
    req: &Requests,
    rt: &tokio::runtime::Handle,
) -> BTreeMap<Case, Result<Observed, String>> {
    let queue = Arc::new(Mutex::new(VecDeque::from(cases)));
    let results = Arc::new(Mutex::new(BTreeMap::new()));
    let workers: Vec<_> = (0..WORKERS)
        .map(|i| {
            let queue = Arc::clone(&queue);
            let results = Arc::clone(&results);
            let req = req.clone();
            let rt = rt.clone();
            std::thread::Builder::new()
                .name(format!("matrix-worker-{i}"))
                .spawn(move || {
                    loop {
                        let Some(case) = queue.lock().unwrap().pop_front() else {
                            return;
                        };
                        let (tx, rx) = mpsc::channel();
                        let (req, rt) = (req.clone(), rt.clone());
                        let spawned = std::thread::Builder::new().name(format!("{case:?}")).spawn(
                            move || {
                                let _ = tx.send(run_case(case, &req, &rt));
                            },
                        );
                        let outcome = match spawned {
                            Err(e) => Err(format!("cannot start the case thread: {e}")),
                            Ok(handle) => match rx.recv_timeout(CASE_DEADLINE) {
                                Ok(obs) => {
                                    let _ = handle.join();
                                    Ok(obs)
                                }
                                Err(mpsc::RecvTimeoutError::Timeout) => {
                                    Err(format!("no outcome within {CASE_DEADLINE:?} (a hang)"))
                                }
                                Err(mpsc::RecvTimeoutError::Disconnected) => {
                                    let why = match handle.join() {
                                        Err(p) => p
                                            .downcast_ref::<String>()
                                            .cloned()
                                            .or_else(|| {
                                                p.downcast_ref::<&str>().map(|s| (*s).to_owned())
                                            })
                                            .unwrap_or_default(),
                                        Ok(()) => String::new(),
                                    };
                                    Err(format!("the case panicked: {why}"))
                                }
                            },
                        };
                        results.lock().unwrap().insert(case, outcome);
                    }
                })
                .expect("a worker thread")
        })
        .collect();
    for w in workers {
        w.join().expect("a worker");
    }
    Arc::try_unwrap(results)
        .ok()
        .expect("the workers are done")
        .into_inner()
        .unwrap()
}

fn cases_of(faults: &[Fault]) -> Vec<Case> {
    let mut out = Vec::new();
    for &fault in faults {
        for dia in Dia::ALL {
            for mode in [Mode::Stream, Mode::Unary] {
                for shell in [Shell::Async, Shell::Blocking] {
                    out.push(Case {
                        fault,
                        dia,
                        mode,
                        shell,
                    });
                }
            }
        }
    }
    out
}

/// The fault-free runs give the answers every other row is compared with; they must agree
/// between the two clients.
fn baseline(results: &BTreeMap<Case, Result<Observed, String>>) -> (Baseline, Vec<String>) {
    let mut base = Baseline {
        answers: BTreeMap::new(),
        chunks: BTreeMap::new(),
        snapshots: BTreeMap::new(),
    };
    let mut bad = Vec::new();
    for dia in Dia::ALL {
        for mode in [Mode::Stream, Mode::Unary] {
            let get = |shell| {
                results
                    .get(&Case {
                        fault: Fault::None,
                        dia,
                        mode,
                        shell,
                    })
                    .and_then(|r| r.as_ref().ok())
                    .filter(|o| o.run.error.is_none())
            };
            match (get(Shell::Async), get(Shell::Blocking)) {
                (Some(a), Some(b)) => {
                    let (ta, tb) = (a.run.answer.clone(), b.run.answer.clone());
                    if ta != tb || ta.as_deref().is_none_or(str::is_empty) {
                        bad.push(format!(
                            "{} {}: the clients disagree or are empty: {ta:?} / {tb:?}",
                            dia.name(),
                            mode.name()
                        ));
                    }
                    if mode == Mode::Stream {
                        if a.run.chunk_texts != b.run.chunk_texts
                            || a.run.snapshots != b.run.snapshots
                        {
                            bad.push(format!("{}: the clients' chunks differ", dia.name()));
                        }
                        // Every broken-stream row needs at least k + 1 events to break at.
                        if (a.run.chunk_texts.len() as u64) <= dia.k() {
                            bad.push(format!(
                                "{}: only {} chunks",
                                dia.name(),
                                a.run.chunk_texts.len()
                            ));
                        }
                        base.chunks.insert(dia, a.run.chunk_texts.clone());
                        base.snapshots.insert(dia, a.run.snapshots.clone());
                    }
                    if let Some(t) = ta {
                        base.answers.insert((dia, mode), t);
                    }
                }
                _ => bad.push(format!(
                    "{} {}: the fault-free call failed",
                    dia.name(),
                    mode.name()
                )),
            }
        }
        // Stream and non-stream give the same answer.
        let (s, u) = (
            base.answers.get(&(dia, Mode::Stream)),
            base.answers.get(&(dia, Mode::Unary)),
        );
        if s != u {
            bad.push(format!("{}: stream {s:?} != non-stream {u:?}", dia.name()));
        }
    }
    (base, bad)
}

#[test]
fn fault_matrix() {
    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let req = Requests::load();

    // The baseline first: every other row is compared with it.
    let mut results = run_all(cases_of(&[Fault::None]), &req, rt.handle());
    let (base, base_bad) = baseline(&results);
    results.extend(run_all(cases_of(&Fault::ALL[1..]), &req, rt.handle()));

    let mut verdicts: BTreeMap<Case, Verdict> = BTreeMap::new();
    for (case, outcome) in &results {
        let mut bad = match outcome {
            Ok(obs) => check(*case, obs, &base),
            Err(e) => vec![e.clone()],
        };
        if case.fault == Fault::None {
            bad.extend(base_bad.iter().cloned());
        }
        verdicts.insert(
            *case,
            if bad.is_empty() {
                Verdict::Pass
            } else {
                Verdict::Fail(bad)
            },
        );
    }

    let table = render(&verdicts);
    println!("{table}");
    let passed = verdicts
        .values()
        .filter(|v| matches!(v, Verdict::Pass))
        .count();
    println!(
        "{} cases run, {passed} passed, in {:.1} s",
        verdicts.len(),
        started.elapsed().as_secs_f64()
    );
    let failures: Vec<String> = verdicts
        .iter()
        .filter_map(|(case, v)| match v {
            Verdict::Fail(why) => Some(format!(
                "{} / {} / {} / {:?}: {}",
                case.fault.name(),
                case.dia.name(),
                case.mode.name(),
                case.shell,
                why.join("; ")
            )),
            Verdict::Pass => None,
        })
        .collect();
    assert_eq!(verdicts.len(), Fault::ALL.len() * 12, "every case ran");
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    rt.shutdown_timeout(Duration::from_secs(1));
}

/// The matrix as a markdown table: one row per fault, dialect and mode; the async and the
/// blocking client in two columns.
fn render(verdicts: &BTreeMap<Case, Verdict>) -> String {
    let mut out = String::new();
    let cell = |case: Case| match verdicts.get(&case) {
        Some(Verdict::Pass) => "pass",
        Some(Verdict::Fail(_)) => "**FAIL**",
        None => "not run",
    };
    let _ = writeln!(
        out,
        "| # | fault | `x-mock-fault` | dialect | mode | expected outcome | async | blocking |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    let mut n = 0;
    for fault in Fault::ALL {
        for dia in Dia::ALL {
            for mode in [Mode::Stream, Mode::Unary] {
                n += 1;
                let plan = plan(fault, dia, mode);
                let case = |shell| Case {
                    fault,
                    dia,
                    mode,
                    shell,
                };
                let expect = if plan.note.is_empty() {
                    plan.expect.to_string()
                } else {
                    format!("{} ({})", plan.expect, plan.note)
                };
                let _ = writeln!(
                    out,
                    "| {n} | {} | {} | {} | {} | {expect} | {} | {} |",
                    fault.name(),
                    plan.spec
                        .as_deref()
                        .map_or_else(|| "—".to_owned(), |s| format!("`{s}`")),
                    dia.name(),
                    mode.name(),
                    cell(case(Shell::Async)),
                    cell(case(Shell::Blocking)),
                );
            }
        }
    }
    let total = verdicts.len();
    let passed = verdicts
        .values()
        .filter(|v| matches!(v, Verdict::Pass))
        .count();
    let _ = writeln!(out, "\n**{total} cases run, {passed} passed.**");
    out
}

/// The mock's `malformed-json` truncates an event's JSON at half its bytes, which can fall inside
/// a multi-byte character: then the event is not UTF-8 and the client rightly reports a framing
/// error, not the decode error the fault is meant to cause. The matrix works around it by
/// truncating another Responses event; this test shows the fault as it should behave.
#[test]
fn malformed_json_keeps_the_event_utf8() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let server = MockServer::builder()
        .shutdown_grace(Duration::from_millis(50))
        .start()
        .expect("the mock server starts");
    let spec = format!("malformed-json={}", Dia::Responses.k() + 1);
    let config = config(&server, Some(&spec), IDLE_RELAXED);
    let req = Requests::load();
    let run = rt.block_on(async {
        let client = dashscope_provider::Client::new(config).expect("a client");
        tokio::time::timeout(
            CASE_DEADLINE,
            call_async(
                &client,
                &req,
                Case {
                    fault: Fault::MalformedJson,
                    dia: Dia::Responses,
                    mode: Mode::Stream,
                    shell: Shell::Async,
                },
            ),
        )
        .await
        .expect("no hang")
    });
    match &run.error {
        Some(Error::Stream { kind, details, .. }) => {
            assert_eq!(*kind, StreamErrorKind::Decode, "{:?}", run.error);
            assert_eq!(details.chunks, Dia::Responses.k());
        }
        other => panic!("expected a stream decode error, got {other:?}"),
    }
}
