//! Both clients against a hostile server on raw TCP (`support/hostile.rs`), each case bounded
//! in time and in what the server may send:
//!
//! * an event that never ends (data lines, never a blank line) ends the stream with
//!   `Error::Stream` (framing, the event limit) and the partial answer, long before the
//!   server's budget runs out, folding or not;
//! * keep-alives, comments and huge comments before the first event cannot keep
//!   `create_stream` pending past the total timeout;
//! * the total timeout bounds the wait for the response head, and a body that drips is a body
//!   timeout (`Phase::Body`), not a request one.

#![cfg(all(feature = "reqwest", feature = "blocking"))]

mod support;

use std::time::{Duration, Instant};

use dashscope_protocol::chat::{ChatRequest, Message};
use dashscope_protocol::sse::{DEFAULT_MAX_EVENT, SseError, SseErrorKind};
use dashscope_provider::transport::Phase;
use dashscope_provider::{Config, Error, RetryPolicy, StreamErrorKind};
use support::hostile::{Conn, GOOD_CHAT_EVENT, Hostile, STREAM_HEAD};
use support::{KEY, TEST_TIMEOUT, with_timeout};

/// What the endless event may send past the event limit before the test calls it a failure.
const OVER_BUDGET: u64 = 32 * 1024 * 1024;
/// A total timeout far shorter than the idle timeout, so that which one fired is plain.
const TOTAL: Duration = Duration::from_secs(1);
const IDLE: Duration = Duration::from_secs(60);
/// Well under `IDLE`, well over `TOTAL`: a call that returns before this honoured the total.
const WELL_BEFORE_IDLE: Duration = Duration::from_secs(20);

fn config(server: &Hostile) -> Config {
    Config::builder()
        .api_key(KEY)
        .base_url(server.uri())
        .idle_timeout(IDLE)
        .total_timeout(Some(TOTAL))
        .retry(RetryPolicy::none())
        .build()
        .expect("a configuration")
}

fn request() -> ChatRequest {
    ChatRequest::new("qwen-plus", vec![Message::user("hi")])
}

/// One good event, then 64 KiB data lines and never a blank line, until the event limit plus
/// [`OVER_BUDGET`] has gone out; then silence (a client that did not stop would wait for its
/// idle timeout).
fn endless_event() -> Hostile {
    Hostile::start(|c: &mut Conn| {
        let line = [&b"data: "[..], &[b'x'; 64 * 1024], b"\n"].concat();
        let budget = DEFAULT_MAX_EVENT as u64 + OVER_BUDGET;
        let mut sent = 0u64;
        let ok =
            c.raw(STREAM_HEAD.as_bytes()).is_ok() && c.chunk(GOOD_CHAT_EVENT.as_bytes()).is_ok();
        while ok && sent < budget {
            if c.chunk(&line).is_err() {
                return;
            }
            sent += line.len() as u64;
        }
        c.hold();
    })
}

/// Checks the error of an endless event: framing, the event limit, one chunk before it, the
/// partial answer `partial`; and that the server was still within its budget.
#[track_caller]
fn assert_event_limit(e: &Error, partial: &str, server: &Hostile) {
    let Error::Stream {
        kind,
        details,
        source,
        ..
    } = e
    else {
        panic!("not a stream error: {e:?}");
    };
    assert_eq!(*kind, StreamErrorKind::Framing, "{e}");
    let sse = source
        .as_ref()
        .and_then(|s| s.downcast_ref::<SseError>())
        .unwrap_or_else(|| panic!("not an SSE error: {source:?}"));
    assert_eq!(
        sse.kind,
        SseErrorKind::EventTooLong {
            limit: DEFAULT_MAX_EVENT
        }
    );
    assert_eq!(details.chunks, 1);
    assert_eq!(e.partial().map(|p| p.text()).as_deref(), Some(partial));
    assert!(
        server.sent() < DEFAULT_MAX_EVENT as u64 + OVER_BUDGET,
        "the client read the whole budget ({} bytes) before stopping",
        server.sent()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_event_ends_the_stream_async() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        for keep in [true, false] {
            let server = endless_event();
            let client = dashscope_provider::Client::new(config(&server)).expect("a client");
            let mut stream = client.chat().create_stream(request()).await.expect("opens");
            let e = if keep {
                let first = stream.next_chunk().await.expect("a chunk").expect("ok");
                assert_eq!(first.content(), Some("Hel"));
                stream
                    .next_chunk()
                    .await
                    .expect("an error")
                    .expect_err("the limit")
            } else {
                let mut chunks = stream.without_snapshot();
                assert!(chunks.next_chunk().await.expect("a chunk").is_ok());
                chunks
                    .next_chunk()
                    .await
                    .expect("an error")
                    .expect_err("the limit")
            };
            assert_event_limit(&e, if keep { "Hel" } else { "" }, &server);
        }
    })
    .await
    .expect("timed out");
}

#[test]
fn an_endless_event_ends_the_stream_blocking() {
    with_timeout("endless blocking", || {
        for keep in [true, false] {
            let server = endless_event();
            let client =
                dashscope_provider::blocking::Client::new(config(&server)).expect("a client");
            let stream = client.chat().create_stream(request()).expect("opens");
            let items: Vec<_> = if keep {
                stream.collect()
            } else {
                stream.without_snapshot().collect()
            };
            assert_eq!(items.len(), 2, "one chunk, then the error");
            assert!(items[0].is_ok());
            let e = items[1].as_ref().expect_err("the limit");
            assert_event_limit(e, if keep { "Hel" } else { "" }, &server);
        }
    });
}

/// Before the first event, keep-alives (a comment every 20 ms) or huge comments (64 KiB each,
/// as fast as they go, up to 256 MiB): anything but an event.
fn no_event(huge: bool) -> Hostile {
    Hostile::start(move |c: &mut Conn| {
        if c.raw(STREAM_HEAD.as_bytes()).is_err() {
            return;
        }
        let comment = if huge {
            [&b":"[..], &[b'c'; 64 * 1024], b"\n"].concat()
        } else {
            b": keep-alive\n\n".to_vec()
        };
        for _ in 0..4096 {
            if c.chunk(&comment).is_err() {
                return;
            }
            if !huge {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        c.hold();
    })
}

#[track_caller]
fn assert_total_timeout(e: &Error, phase: Phase, started: Instant) {
    let Error::Transport(t) = e else {
        panic!("not a transport error: {e:?}");
    };
    assert!(t.is_timeout(), "{t:?}");
    assert_eq!(t.phase(), phase, "{t:?}");
    assert!(
        started.elapsed() < WELL_BEFORE_IDLE,
        "the call took {:?}: the idle timeout, not the total one, stopped it",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_event_keeps_create_stream_past_the_total_timeout_async() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        for huge in [false, true] {
            let server = no_event(huge);
            let client = dashscope_provider::Client::new(config(&server)).expect("a client");
            let started = Instant::now();
            let e = client
                .chat()
                .create_stream(request())
                .await
                .expect_err("no event");
            assert_total_timeout(&e, Phase::Body, started);
        }
    })
    .await
    .expect("timed out");
}

#[test]
fn no_event_keeps_create_stream_past_the_total_timeout_blocking() {
    with_timeout("no event blocking", || {
        for huge in [false, true] {
            let server = no_event(huge);
            let client =
                dashscope_provider::blocking::Client::new(config(&server)).expect("a client");
            let started = Instant::now();
            let e = client
                .chat()
                .create_stream(request())
                .expect_err("no event");
            assert_total_timeout(&e, Phase::Body, started);
        }
    });
}

/// Reads the request and never answers.
fn silent() -> Hostile {
    Hostile::start(Conn::hold)
}

/// A JSON head announcing 1000 bytes, then one byte every 100 ms.
fn dripping() -> Hostile {
    Hostile::start(|c: &mut Conn| {
        let head =
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n";
        if c.raw(head.as_bytes()).is_err() {
            return;
        }
        for _ in 0..1000 {
            if c.raw(b" ").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_total_timeout_bounds_head_and_body_async() {
    tokio::time::timeout(TEST_TIMEOUT, async {
        let server = silent();
        let client = dashscope_provider::Client::new(config(&server)).expect("a client");
        let started = Instant::now();
        let e = client.chat().create(request()).await.expect_err("no head");
        assert_total_timeout(&e, Phase::Request, started);
        let started = Instant::now();
        let e = client
            .chat()
            .create_stream(request())
            .await
            .expect_err("no head");
        assert_total_timeout(&e, Phase::Request, started);

        let server = dripping();
        let client = dashscope_provider::Client::new(config(&server)).expect("a client");
        let started = Instant::now();
        let e = client.chat().create(request()).await.expect_err("too slow");
        assert_total_timeout(&e, Phase::Body, started);
    })
    .await
    .expect("timed out");
}

#[test]
fn the_total_timeout_bounds_head_and_body_blocking() {
    with_timeout("total blocking", || {
        let server = silent();
        let client = dashscope_provider::blocking::Client::new(config(&server)).expect("a client");
        let started = Instant::now();
        let e = client.chat().create(request()).expect_err("no head");
        assert_total_timeout(&e, Phase::Request, started);
        let started = Instant::now();
        let e = client.chat().create_stream(request()).expect_err("no head");
        assert_total_timeout(&e, Phase::Request, started);

        let server = dripping();
        let client = dashscope_provider::blocking::Client::new(config(&server)).expect("a client");
        let started = Instant::now();
        let e = client.chat().create(request()).expect_err("too slow");
        assert_total_timeout(&e, Phase::Body, started);
    });
}
