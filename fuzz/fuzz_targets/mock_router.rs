//! Fuzz target `mock_router`: one request through the mock server's router, in-process.
//!
//! The state is built once (embedded fixtures, `speed(0.0)`, no chunk delay, no latency, a fixed
//! seed, one API key) and reset before every input, so an admin request (a global fault, a
//! runtime cassette) cannot leak into the next input. The request is sent with
//! `tower::ServiceExt::oneshot` on a current-thread tokio runtime created once.
//!
//! # Input layout
//!
//! | byte | meaning |
//! |---|---|
//! | 0 | bits 0-2: method ([`METHODS`]); bits 3-4: `authorization` (absent, the right key, a wrong key, no scheme); bit 5: `x-dashscope-sse: enable`; bit 6: `x-dashscope-async: enable`; bit 7: `accept: text/event-stream` |
//! | 1 | the path: an index into [`PATHS`]; past its end, the path is read from the input (below) |
//! | 2 | bits 0-2: `content-type` ([`CONTENT_TYPES`]) |
//! | 3 | `F`, the length of the `x-mock-fault` value (0: no such header) |
//! | 4.. | `F` bytes of fault spec; then, for a path read from the input, one length byte `P` and `P` bytes of path (an input whose path is not a valid URI is skipped) |
//! | rest | the request body |
//!
//! So a fixture's request body behind `[0x08, i, 0x01, 0x00]` is a real request (POST, the key,
//! JSON, the dialect's path `i`), which is how the corpus was seeded.
//!
//! # Checks
//!
//! No panic; the status is in `100..=599`; the body is read to its end within 2 s, stopping at
//! 4 MiB (an `oversized-chunk` fault may legitimately make it longer); a body that ends with an
//! error only under a fault header; a body fully read matches its `content-length` (if any, and
//! not for `HEAD`); a `1xx`, `204` or `304` answer has an empty body. Fault specs that delay or
//! stall on purpose (`stall`, `latency`, `ttfb`, `delay`, `speed`, `rate-limit`; the last is
//! time-dependent) are skipped.
#![no_main]

use std::sync::LazyLock;
use std::time::Duration;

use bytes::Bytes;
use dashscope_mock::{MockServer, router};
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use tower::ServiceExt;

/// The methods byte 0 picks from.
const METHODS: [Method; 8] = [
    Method::POST,
    Method::GET,
    Method::DELETE,
    Method::PUT,
    Method::HEAD,
    Method::OPTIONS,
    Method::PATCH,
    Method::POST,
];

/// The paths byte 1 picks from: the five generation paths, the stored-response paths, the admin
/// API, and a few near misses.
const PATHS: [&str; 26] = [
    "/compatible-mode/v1/chat/completions",
    "/compatible-mode/v1/responses",
    "/api/v2/apps/protocols/compatible-mode/v1/responses",
    "/api/v1/services/aigc/text-generation/generation",
    "/api/v1/services/aigc/multimodal-generation/generation",
    "/compatible-mode/v1/responses/resp_0",
    "/compatible-mode/v1/responses/resp_0/input_items",
    "/api/v2/apps/protocols/compatible-mode/v1/responses/resp_0",
    "/api/v2/apps/protocols/compatible-mode/v1/responses/resp_0/input_items",
    "/__mock",
    "/__mock/",
    "/__mock/health",
    "/__mock/journal",
    "/__mock/reset",
    "/__mock/cassettes",
    "/__mock/faults",
    "/__mock/faults/1",
    "/__mock/faults/x",
    "/__mock/nope",
    "/compatible-mode/v1/chat/completions/",
    "/compatible-mode/v1/chat/completions?x=1",
    "/api/v1/services/aigc/text-generation/generation?a=b&c",
    "/compatible-mode/v1/models",
    "/api/v1/nope",
    "/",
    "/api/v1/tasks/0",
];

/// The `content-type` values byte 2 picks from (`None`: no header).
const CONTENT_TYPES: [Option<&str>; 8] = [
    None,
    Some("application/json"),
    Some("text/plain"),
    Some("application/json; charset=utf-8"),
    Some("application/vnd.api+json"),
    Some("APPLICATION/JSON"),
    Some("multipart/form-data; boundary=x"),
    Some(""),
];

/// The key the state accepts.
const KEY: &str = "sk-fuzz-0000";
/// The bound on reading a response body.
const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// The most body bytes read.
const BODY_CAP: usize = 4 * 1024 * 1024;
/// Fault specs containing these (case-insensitively) delay or stall on purpose, or depend on
/// the clock: skipped.
const SLOW_FAULTS: [&str; 6] = ["stall", "latency", "ttfb", "delay", "speed", "rate-limit"];

struct Fixture {
    rt: tokio::runtime::Runtime,
    state: dashscope_mock::MockState,
    router: axum::Router,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread tokio runtime");
    let state = MockServer::builder()
        .speed(0.0)
        .chunk_delay(Duration::ZERO)
        .latency(Duration::ZERO)
        .seed(7)
        .api_key(KEY)
        .journal_capacity(64)
        .build_state()
        .expect("the mock state builds from the embedded fixtures");
    let router = router(state.clone());
    Fixture { rt, state, router }
});

/// Splits `n` bytes off the front of `data`, or `None` when there are fewer.
fn take<'a>(data: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if data.len() < n {
        return None;
    }
    let (head, tail) = data.split_at(n);
    *data = tail;
    Some(head)
}

/// Builds the request the input describes, or `None` for an input to skip.
fn request(mut data: &[u8]) -> Option<(Request<Full<Bytes>>, bool)> {
    let head = take(&mut data, 4)?;
    let (flags, path_sel, ct_sel, fault_len) = (head[0], head[1], head[2], head[3]);
    let fault = take(&mut data, usize::from(fault_len))?;
    let path: Vec<u8> = match PATHS.get(usize::from(path_sel)) {
        Some(p) => p.as_bytes().to_vec(),
        None => {
            let len = take(&mut data, 1)?[0];
            take(&mut data, usize::from(len))?.to_vec()
        }
    };
    let uri = http::Uri::try_from(path).ok()?;
    let mut builder = Request::builder()
        .method(METHODS[usize::from(flags & 7)].clone())
        .uri(uri);
    match (flags >> 3) & 3 {
        0 => {}
        1 => builder = builder.header("authorization", format!("Bearer {KEY}")),
        2 => builder = builder.header("authorization", "Bearer sk-wrong"),
        _ => builder = builder.header("authorization", KEY),
    }
    if flags & 0x20 != 0 {
        builder = builder.header("x-dashscope-sse", "enable");
    }
    if flags & 0x40 != 0 {
        builder = builder.header("x-dashscope-async", "enable");
    }
    if flags & 0x80 != 0 {
        builder = builder.header("accept", "text/event-stream");
    }
    if let Some(ct) = CONTENT_TYPES[usize::from(ct_sel & 7)] {
        builder = builder.header("content-type", ct);
    }
    let mut faulted = false;
    if fault_len > 0 {
        let lower = String::from_utf8_lossy(fault).to_ascii_lowercase();
        if SLOW_FAULTS.iter().any(|s| lower.contains(s)) {
            return None;
        }
        // A value that is not a valid header value cannot be sent: send none.
        if let Ok(v) = HeaderValue::from_bytes(fault) {
            builder = builder.header("x-mock-fault", v);
            faulted = true;
        }
    }
    let req = builder
        .body(Full::new(Bytes::copy_from_slice(data)))
        .expect("every part was validated");
    Some((req, faulted))
}

/// What reading a body gave.
enum Read {
    /// Read to its end: the length.
    Done(usize),
    /// Stopped at [`BODY_CAP`].
    Capped,
    /// Ended with an error (after this many bytes).
    Failed(usize),
}

async fn read_body(body: axum::body::Body) -> Read {
    let mut body = body;
    let mut len = 0usize;
    loop {
        match body.frame().await {
            None => return Read::Done(len),
            Some(Err(_)) => return Read::Failed(len),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    len += data.len();
                    if len > BODY_CAP {
                        return Read::Capped;
                    }
                }
            }
        }
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((req, faulted)) = request(data) else {
        return;
    };
    let fx = &*FIXTURE;
    fx.state.reset();
    let is_head = req.method() == Method::HEAD;
    let path = req.uri().to_string();
    let router = fx.router.clone();
    fx.rt.block_on(async move {
        let resp = match router.oneshot(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let status = resp.status();
        assert!(
            (100..=599).contains(&status.as_u16()),
            "status {status} out of range for {path}"
        );
        let content_length: Option<u64> = {
            let mut values = resp.headers().get_all(http::header::CONTENT_LENGTH).iter();
            let first = values.next().map(|v| {
                v.to_str()
                    .ok()
                    .and_then(|s| s.trim().parse::<u64>().ok())
                    .unwrap_or_else(|| panic!("content-length {v:?} is not a number"))
            });
            assert!(values.next().is_none(), "two content-length headers");
            first
        };
        let read = tokio::time::timeout(READ_TIMEOUT, read_body(resp.into_body()))
            .await
            .unwrap_or_else(|_| panic!("reading the body of {path} ({status}) took over 2 s"));
        match read {
            Read::Done(len) => {
                if let Some(cl) = content_length.filter(|_| !is_head) {
                    assert_eq!(cl, len as u64, "content-length differs from the body");
                }
                if status.is_informational()
                    || status == StatusCode::NO_CONTENT
                    || status == StatusCode::NOT_MODIFIED
                {
                    assert_eq!(len, 0, "a {status} answer with a body");
                }
            }
            Read::Capped => {}
            Read::Failed(len) => {
                assert!(
                    faulted,
                    "the body of {path} ({status}) failed after {len} bytes without a fault"
                );
            }
        }
    });
});
