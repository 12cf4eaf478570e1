//! The async backend ([`ReqwestTransport`]) against a real HTTP server on 127.0.0.1:0.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use dashscope_transport::{Phase, ReqwestTransport, SharedTransport, Transport, TransportError};
use support::*;

fn transport() -> ReqwestTransport {
    ReqwestTransport::builder()
        .no_proxy()
        .build()
        .expect("transport")
}

fn transport_with(read: Option<Duration>, total: Option<Duration>) -> ReqwestTransport {
    ReqwestTransport::builder()
        .no_proxy()
        .read_timeout(read)
        .timeout(total)
        .build()
        .expect("transport")
}

fn post(url: &str, body: impl Into<Bytes>) -> http::Request<Bytes> {
    http::Request::post(url)
        .header("authorization", format!("Bearer {API_KEY}"))
        .header("content-type", "application/json")
        .body(body.into())
        .expect("request")
}

#[tokio::test]
async fn streamed_body_arrives_chunk_by_chunk() {
    bounded(async {
        let (server, go) = gated_stream();
        let res = transport()
            .send(post(&server.url("/stream"), "{}"))
            .await
            .expect("response");
        assert_eq!(res.status(), 200);
        let mut body = res.into_body();
        // The server holds chunk 2 until `go`: receiving chunk 1 first proves nothing buffers.
        let first = body
            .next_chunk()
            .await
            .expect("chunk 1")
            .expect("chunk 1 ok");
        assert_eq!(first, CHUNK_1);
        go.send(()).expect("server waiting");
        let mut rest = Vec::new();
        while let Some(chunk) = body.next_chunk().await {
            rest.extend_from_slice(&chunk.expect("chunk ok"));
        }
        assert_eq!(rest, CHUNK_2);
    })
    .await;
}

#[tokio::test]
async fn dropping_the_body_closes_the_connection() {
    bounded(async {
        let (server, verdict) = disconnect_watch();
        let res = transport()
            .send(post(&server.url("/stream"), "{}"))
            .await
            .expect("response");
        let mut body = res.into_body();
        assert_eq!(
            body.next_chunk().await.expect("chunk 1").expect("ok"),
            CHUNK_1
        );
        drop(body);
        let verdict = tokio::task::spawn_blocking(move || verdict.recv_timeout(TEST_BOUND))
            .await
            .expect("join")
            .expect("server verdict");
        let after = verdict.expect("server saw the client hang up");
        assert!(
            after < Duration::from_secs(2),
            "hang-up seen only after {after:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    bounded(async {
        let url = format!("http://{}/x", refused_addr());
        let err = transport()
            .send(post(&url, "{}"))
            .await
            .expect_err("refused");
        assert!(err.is_connect(), "{err:?}");
        assert!(
            !err.is_timeout() && !err.is_body() && !err.is_request_sent(),
            "{err:?}"
        );
        assert_no_key(&err);
    })
    .await;
}

#[tokio::test]
async fn a_silent_server_times_out_after_the_read_timeout() {
    bounded(async {
        let server = silent();
        let t = transport_with(Some(Duration::from_millis(300)), None);
        let start = Instant::now();
        let err = t
            .send(post(&server.url("/x"), "{}"))
            .await
            .expect_err("timeout");
        let took = start.elapsed();
        assert!(
            err.is_timeout() && !err.is_connect() && !err.is_body(),
            "{err:?}"
        );
        assert!(err.is_request_sent(), "the request was written: {err:?}");
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_secs(3),
            "{took:?}"
        );
        assert_no_key(&err);
    })
    .await;
}

#[tokio::test]
async fn a_stall_mid_body_is_an_idle_timeout_on_the_body() {
    bounded(async {
        let server = stall_after_first_chunk();
        let t = transport_with(Some(Duration::from_millis(300)), None);
        let mut body = t
            .send(post(&server.url("/x"), "{}"))
            .await
            .expect("response")
            .into_body();
        assert_eq!(
            body.next_chunk().await.expect("chunk 1").expect("ok"),
            CHUNK_1
        );
        let start = Instant::now();
        let err = body
            .next_chunk()
            .await
            .expect("an error")
            .expect_err("idle timeout");
        let took = start.elapsed();
        assert!(
            err.is_timeout() && err.is_body() && err.is_request_sent(),
            "{err:?}"
        );
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_secs(3),
            "{took:?}"
        );
        assert!(
            body.next_chunk().await.is_none(),
            "the body ends after its error"
        );
        assert_no_key(&err);
    })
    .await;
}

#[tokio::test]
async fn a_connection_cut_mid_body_is_a_body_error() {
    bounded(async {
        let server = cut_after_first_chunk();
        let res = transport()
            .send(post(&server.url("/x"), "{}"))
            .await
            .expect("response");
        let mut body = res.into_body();
        assert_eq!(
            body.next_chunk().await.expect("chunk 1").expect("ok"),
            CHUNK_1
        );
        let err = body.next_chunk().await.expect("an error").expect_err("cut");
        assert!(
            err.is_body() && !err.is_timeout() && err.is_request_sent(),
            "{err:?}"
        );
        assert!(body.next_chunk().await.is_none());
    })
    .await;
}

#[tokio::test]
async fn the_read_timeout_restarts_on_every_chunk() {
    bounded(async {
        // A chunk every 50 ms for 1.5 s: longer than the 600 ms read timeout in total, but
        // never silent for that long.
        let server = trickle(Duration::from_millis(50));
        let t = transport_with(Some(Duration::from_millis(600)), None);
        let mut body = t
            .send(post(&server.url("/x"), "{}"))
            .await
            .expect("response")
            .into_body();
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(1500) {
            body.next_chunk()
                .await
                .expect("more chunks")
                .expect("no idle timeout");
        }
    })
    .await;
}

#[tokio::test]
async fn the_total_timeout_cuts_a_long_body() {
    bounded(async {
        let server = trickle(Duration::from_millis(50));
        let t = transport_with(None, Some(Duration::from_millis(500)));
        let start = Instant::now();
        let mut body = t
            .send(post(&server.url("/x"), "{}"))
            .await
            .expect("response")
            .into_body();
        let err = loop {
            match body.next_chunk().await {
                Some(Ok(_)) => {}
                Some(Err(e)) => break e,
                None => panic!("the body ended before the deadline"),
            }
        };
        let took = start.elapsed();
        assert!(err.is_timeout() && err.is_body(), "{err:?}");
        assert!(
            took >= Duration::from_millis(450) && took < Duration::from_secs(3),
            "{took:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn no_error_shows_the_api_key() {
    bounded(async {
        let t = transport_with(Some(Duration::from_millis(200)), None);
        let mut errors: Vec<TransportError> = Vec::new();
        // The key also sits in the query string, which must not leak through the URL either.
        let query = format!("/x?api_key={API_KEY}");

        let refused = format!("http://{}{query}", refused_addr());
        errors.push(t.send(post(&refused, "{}")).await.expect_err("refused"));

        let silent = silent();
        errors.push(
            t.send(post(&silent.url(&query), "{}"))
                .await
                .expect_err("timeout"),
        );

        let stall = stall_after_first_chunk();
        let mut body = t
            .send(post(&stall.url(&query), "{}"))
            .await
            .expect("response")
            .into_body();
        body.next_chunk().await.expect("chunk 1").expect("ok");
        errors.push(body.next_chunk().await.expect("error").expect_err("idle"));

        let relative = post(&query, "{}");
        errors.push(t.send(relative).await.expect_err("relative URI"));

        let mut bad_header = post(&silent.url("/x"), "{}");
        bad_header.headers_mut().insert(
            "authorization",
            http::HeaderValue::from_bytes(format!("Bearer {API_KEY}\u{7f}").as_bytes())
                .unwrap_or_else(|_| http::HeaderValue::from_static("x")),
        );
        if let Err(e) = t.send(bad_header).await {
            errors.push(e);
        }

        assert!(errors.len() >= 4);
        for err in &errors {
            assert_no_key(err);
        }
    })
    .await;
}

#[tokio::test]
async fn headers_reach_the_server_and_come_back_exactly() {
    bounded(async {
        let (server, seen) = header_echo();
        let req = http::Request::post(server.url("/api/v1/services/aigc?x=1"))
            .header("authorization", format!("Bearer {API_KEY}"))
            .header("X-DashScope-SSE", "enable")
            .header("accept", "text/event-stream")
            .header("x-custom", "a value, with: punctuation")
            .header("x-dup", "1")
            .header("x-dup", "2")
            .header("content-type", "application/json")
            .body(Bytes::from_static(br#"{"model":"qwen-plus"}"#))
            .expect("request");
        let res = transport().send(req).await.expect("response");

        let (method, uri, headers, body) = seen.recv_timeout(TEST_BOUND).expect("server saw it");
        assert_eq!(method, "POST");
        assert_eq!(uri, "/api/v1/services/aigc?x=1");
        assert_eq!(
            headers["authorization"],
            format!("Bearer {API_KEY}").as_str()
        );
        assert_eq!(headers["x-dashscope-sse"], "enable");
        assert_eq!(headers["accept"], "text/event-stream");
        assert_eq!(headers["x-custom"], "a value, with: punctuation");
        let dups: Vec<_> = headers.get_all("x-dup").iter().collect();
        assert_eq!(dups, ["1", "2"]);
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(body, r#"{"model":"qwen-plus"}"#);

        assert_eq!(res.status(), 201);
        for (name, value) in RESPONSE_HEADERS {
            assert_eq!(res.headers()[*name], *value, "response header {name}");
        }
        let multi: Vec<_> = res.headers().get_all("x-multi").iter().collect();
        assert_eq!(multi, ["one", "two"]);
        assert_eq!(res.into_body().bytes(1024).await.expect("body"), "created");
    })
    .await;
}

#[tokio::test]
async fn error_statuses_are_responses() {
    bounded(async {
        let server = status_server();
        let t = transport();
        for code in [400u16, 401, 403, 404, 429, 500, 502, 503] {
            let res = t
                .send(post(&server.url(&format!("/status/{code}")), "{}"))
                .await;
            let res = res.unwrap_or_else(|e| panic!("{code} must be a response, got {e:?}"));
            assert_eq!(res.status().as_u16(), code);
            assert_eq!(res.headers()["retry-after"], "2");
            let body = res.into_body().bytes(1024).await.expect("body");
            assert_eq!(
                body,
                format!(r#"{{"code":"E{code}","message":"status {code}"}}"#)
            );
        }
    })
    .await;
}

#[tokio::test]
async fn redirects_are_not_followed() {
    bounded(async {
        let server = redirect_server();
        let res = transport()
            .send(post(&server.url("/from"), "{}"))
            .await
            .expect("response");
        assert_eq!(res.status(), 302);
        assert_eq!(res.headers()["location"], "/to");
    })
    .await;
}

#[tokio::test]
async fn gzip_responses_are_decoded() {
    bounded(async {
        let server = gzip_server();
        let res = transport()
            .send(post(&server.url("/gz"), "{}"))
            .await
            .expect("response");
        assert_eq!(
            res.status(),
            200,
            "the transport must send accept-encoding: gzip"
        );
        assert!(res.headers().get("content-encoding").is_none());
        assert_eq!(res.into_body().bytes(1024).await.expect("body"), GZIP_TEXT);
    })
    .await;
}

#[tokio::test]
async fn ten_megabytes_each_way() {
    bounded(async {
        const LEN: usize = 10 * 1024 * 1024;
        let server = big_body_server(LEN);
        let res = transport()
            .send(post(&server.url("/big"), pattern_bytes(LEN)))
            .await
            .expect("response");
        assert_eq!(res.status(), 200, "the server rejected the request body");
        assert_eq!(
            res.headers()["x-request-body-len"],
            LEN.to_string().as_str()
        );
        let mut body = res.into_body();
        let mut at = 0usize;
        let mut chunks = 0usize;
        while let Some(chunk) = body.next_chunk().await {
            let chunk = chunk.expect("chunk");
            for (k, byte) in chunk.iter().enumerate() {
                assert_eq!(*byte, pattern(at + k), "byte {}", at + k);
            }
            at += chunk.len();
            chunks += 1;
        }
        assert_eq!(at, LEN);
        assert!(
            chunks > 1,
            "a 10 MB body arrives in many chunks, not buffered whole"
        );
    })
    .await;
}

#[tokio::test]
async fn the_body_limit_is_enforced() {
    bounded(async {
        let server = big_body_server(1024 * 1024);
        let res = transport()
            .send(post(&server.url("/big"), ""))
            .await
            .expect("response");
        let err = res
            .into_body()
            .bytes(1000)
            .await
            .expect_err("over the limit");
        assert!(
            err.is_body_too_large() && err.is_body() && !err.is_timeout(),
            "{err:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_concurrent_requests() {
    bounded(async {
        let server = index_echo();
        let t = SharedTransport::new(transport());
        let url = server.url("/concurrent");
        let tasks: Vec<_> = (0..500)
            .map(|i| {
                let t = t.clone();
                let url = url.clone();
                tokio::spawn(async move {
                    let req = http::Request::get(&url)
                        .header("x-index", i.to_string())
                        .body(Bytes::new())
                        .expect("request");
                    let res = t.send(req).await?;
                    assert_eq!(res.status(), 200);
                    let body = res.into_body().bytes(64).await?;
                    assert_eq!(body, i.to_string());
                    Ok::<_, TransportError>(())
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task").expect("request");
        }
    })
    .await;
}

#[tokio::test]
async fn http2_streams_chunk_by_chunk_too() {
    bounded(async {
        let (server, go) = h2_gated_stream();
        let client = ReqwestTransport::builder()
            .no_proxy()
            .reqwest_builder()
            .expect("reqwest builder")
            .http2_prior_knowledge()
            .build()
            .expect("client");
        let t = ReqwestTransport::builder()
            .client(client)
            .build()
            .expect("transport");
        let res = t
            .send(post(&server.url("/h2"), "{}"))
            .await
            .expect("response");
        assert_eq!(res.version(), http::Version::HTTP_2);
        let mut body = res.into_body();
        assert_eq!(
            body.next_chunk().await.expect("chunk 1").expect("ok"),
            CHUNK_1
        );
        go.send(()).expect("server waiting");
        assert_eq!(
            body.next_chunk().await.expect("chunk 2").expect("ok"),
            CHUNK_2
        );
        assert!(body.next_chunk().await.is_none());
    })
    .await;
}

/// An HTTP/2 (prior knowledge) server: `CHUNK_1`, then `CHUNK_2` once signalled.
fn h2_gated_stream() -> (Server, tokio::sync::oneshot::Sender<()>) {
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    let go_rx = std::sync::Mutex::new(Some(go_rx));
    let server = http(move |_req| {
        let go = go_rx.lock().expect("lock").take();
        async move {
            let (tx, body) = channel_body();
            tokio::spawn(async move {
                let _ = tx.send(Bytes::from_static(CHUNK_1)).await;
                if let Some(go) = go {
                    if go.await.is_ok() {
                        let _ = tx.send(Bytes::from_static(CHUNK_2)).await;
                    }
                }
            });
            http::Response::builder()
                .header("content-type", "text/event-stream")
                .body(body)
                .expect("response")
        }
    });
    (server, go_tx)
}

#[tokio::test]
async fn the_connect_timeout_is_a_connect_timeout() {
    bounded(async {
        // A loopback listener whose accept queue is full: the handshake never completes.
        let (addr, _guard) = full_backlog();
        let t = ReqwestTransport::builder()
            .no_proxy()
            .connect_timeout(Some(Duration::from_millis(300)))
            .build()
            .expect("transport");
        let start = Instant::now();
        let err = t
            .send(post(&format!("http://{addr}/x"), "{}"))
            .await
            .expect_err("timeout");
        assert!(
            err.is_connect() && err.is_timeout() && !err.is_request_sent(),
            "{err:?}"
        );
        assert_eq!(err.phase(), Phase::Connect);
        assert!(start.elapsed() < Duration::from_secs(3));
        assert_no_key(&err);
    })
    .await;
}

// The read-ahead: a task on the runtime reads the body into a bounded buffer.

/// Reads `body` to the end, checking every byte against the firehose pattern from `at`: the
/// number of bytes read.
async fn read_firehose(body: &mut dashscope_transport::ByteStream, mut at: usize) -> usize {
    while let Some(chunk) = body.next_chunk().await {
        let chunk = chunk.expect("chunk ok");
        for (i, b) in chunk.iter().enumerate() {
            assert_eq!(*b, firehose_byte(at + i), "byte {}", at + i);
        }
        at += chunk.len();
    }
    at
}

/// A reader that stops taking chunks holds the server back: the read-ahead stops at its bound
/// (the rest waits in the sockets, under TCP flow control), and waiting for room is no stall:
/// the read timeout, shorter than the pause, does not fire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_stops_holds_the_server_back() {
    const LEN: usize = 96 << 20;
    bounded(async {
        let (server, written, _outcome) = firehose(LEN);
        let t = transport_with(Some(Duration::from_millis(300)), None);
        let mut body = t
            .send(post(&server.url("/big"), "{}"))
            .await
            .expect("response")
            .into_body();
        let first = body.next_chunk().await.expect("a chunk").expect("ok");
        tokio::time::sleep(Duration::from_secs(1)).await;
        // Loopback moves far more than this in a second; only the bound (64 KiB, plus hyper's
        // buffer and the two sockets' buffers, a few MiB) holds it back.
        let held = written.load(std::sync::atomic::Ordering::SeqCst);
        assert!(
            held < LEN / 2,
            "the server wrote {held} of {LEN} bytes while the reader slept"
        );
        assert!(
            first
                .iter()
                .enumerate()
                .all(|(i, b)| *b == firehose_byte(i))
        );
        let total = read_firehose(&mut body, first.len()).await;
        assert_eq!(total, LEN);
    })
    .await;
}

/// Dropping a body whose read-ahead is full (its task waits for room, the server is blocked
/// writing) aborts the task and closes the connection: the server's write fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_body_read_ahead_to_its_bound_closes_the_connection() {
    bounded(async {
        let (server, written, outcome) = firehose(96 << 20);
        let mut body = transport()
            .send(post(&server.url("/big"), "{}"))
            .await
            .expect("response")
            .into_body();
        body.next_chunk().await.expect("a chunk").expect("ok");
        // Wait until the server is held back: nothing more written for 200 ms.
        let mut last = usize::MAX;
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let now = written.load(std::sync::atomic::Ordering::SeqCst);
            if now == last {
                break;
            }
            last = now;
        }
        drop(body);
        let outcome = tokio::task::spawn_blocking(move || outcome.recv_timeout(TEST_BOUND))
            .await
            .expect("join")
            .expect("the server's writing stopped");
        assert!(
            outcome.is_err(),
            "the server wrote the whole body: the connection stayed open"
        );
    })
    .await;
}

/// A body whose runtime shut down (taking the read-ahead task with it) ends with an error, not
/// with a quiet end that would pass for a complete body.
#[test]
fn a_body_outliving_its_runtime_ends_with_an_error() {
    bounded_blocking(|| {
        let server = stall_after_first_chunk();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let mut body = rt.block_on(async {
            let mut body = transport()
                .send(post(&server.url("/x"), "{}"))
                .await
                .expect("response")
                .into_body();
            let first = body.next_chunk().await.expect("chunk 1").expect("ok");
            assert_eq!(first, CHUNK_1);
            body
        });
        drop(rt);
        let other = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let err = other
            .block_on(body.next_chunk())
            .expect("an error, not the end")
            .expect_err("an error");
        assert!(err.is_body() && !err.is_timeout(), "{err:?}");
        assert!(err.to_string().contains("body"), "{err}");
        assert!(other.block_on(body.next_chunk()).is_none());
    });
}

/// How an application drives the reading future.
#[derive(Clone, Copy, Debug)]
enum Consumer {
    /// `Runtime::block_on` on a multi-thread runtime (`#[tokio::main]`).
    BlockOn,
    /// A task spawned on that runtime.
    Spawned,
    /// A current-thread runtime (`#[tokio::test]`).
    CurrentThread,
}

/// A stream sent one frame per event arrives whole and in order, however the reader is driven
/// (the read-ahead wakes the reader once per batch: a lost wake-up would hang here).
#[test]
fn one_frame_per_event_arrives_in_order_in_every_consumer_pattern() {
    const EVENTS: usize = 2_000;
    let expected: String = (0..EVENTS).map(event).collect();
    for consumer in [
        Consumer::BlockOn,
        Consumer::Spawned,
        Consumer::CurrentThread,
    ] {
        let expected = expected.clone();
        bounded_blocking(move || {
            let server = one_frame_per_event(EVENTS);
            let url = server.url("/stream");
            let read = async move {
                let mut body = transport()
                    .send(post(&url, "{}"))
                    .await
                    .expect("response")
                    .into_body();
                let mut got = Vec::new();
                while let Some(chunk) = body.next_chunk().await {
                    got.extend_from_slice(&chunk.expect("chunk ok"));
                }
                got
            };
            let got = match consumer {
                Consumer::BlockOn | Consumer::Spawned => {
                    let rt = tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(2)
                        .enable_all()
                        .build()
                        .expect("runtime");
                    if let Consumer::Spawned = consumer {
                        rt.block_on(async { tokio::spawn(read).await.expect("task") })
                    } else {
                        rt.block_on(read)
                    }
                }
                Consumer::CurrentThread => tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime")
                    .block_on(read),
            };
            assert!(
                got == expected.as_bytes(),
                "{consumer:?}: the events differ"
            );
        });
    }
}
