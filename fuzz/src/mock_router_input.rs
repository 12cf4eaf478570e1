//! The input layout of the `mock_router` fuzz target: bytes -> one HTTP request.
//!
//! Shared by `#[path]` between `fuzz/fuzz_targets/mock_router.rs` and the mock crate's corpus
//! replay (`mock-server/tests/fuzz_corpus.rs`), so the two read the corpus the same way. It
//! needs only `bytes`, `http` and `http-body-util`. The layout is documented in the fuzz target.

use bytes::Bytes;
use http::{HeaderValue, Method, Request};
use http_body_util::Full;

/// The methods byte 0 picks from.
pub const METHODS: [Method; 8] = [
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
pub const PATHS: [&str; 26] = [
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
pub const CONTENT_TYPES: [Option<&str>; 8] = [
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
pub const KEY: &str = "sk-fuzz-0000";
/// Fault specs containing these (case-insensitively) delay or stall on purpose, or depend on
/// the clock: skipped.
pub const SLOW_FAULTS: [&str; 6] = ["stall", "latency", "ttfb", "delay", "speed", "rate-limit"];

/// Splits `n` bytes off the front of `data`, or `None` when there are fewer.
pub fn take<'a>(data: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if data.len() < n {
        return None;
    }
    let (head, tail) = data.split_at(n);
    *data = tail;
    Some(head)
}

/// Builds the request the input describes, or `None` for an input to skip.
pub fn request(mut data: &[u8]) -> Option<(Request<Full<Bytes>>, bool)> {
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
