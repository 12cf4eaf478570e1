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
//! | 0 | bits 0-2: method ([`input::METHODS`]); bits 3-4: `authorization` (absent, the right key, a wrong key, no scheme); bit 5: `x-dashscope-sse: enable`; bit 6: `x-dashscope-async: enable`; bit 7: `accept: text/event-stream` |
//! | 1 | the path: an index into [`input::PATHS`]; past its end, the path is read from the input (below) |
//! | 2 | bits 0-2: `content-type` ([`input::CONTENT_TYPES`]) |
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

use dashscope_mock::{MockServer, router};
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

#[path = "../src/mock_router_input.rs"]
mod input;
use input::{KEY, request};

/// The bound on reading a response body.
const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// The most body bytes read.
const BODY_CAP: usize = 4 * 1024 * 1024;

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
