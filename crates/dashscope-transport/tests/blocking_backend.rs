//! The blocking backend ([`UreqTransport`]) against a real HTTP server on 127.0.0.1:0, from
//! plain threads with no async runtime.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dashscope_transport::{
    BlockingTransport, Phase, SharedBlockingTransport, TransportError, UreqTransport,
};
use support::*;

fn transport() -> UreqTransport {
    UreqTransport::builder().no_proxy().build()
}

fn transport_with(read: Option<Duration>, total: Option<Duration>) -> UreqTransport {
    UreqTransport::builder()
        .no_proxy()
        .read_timeout(read)
        .timeout(total)
        .build()
}

fn post(url: &str, body: impl Into<Bytes>) -> http::Request<Bytes> {
    http::Request::post(url)
        .header("authorization", format!("Bearer {API_KEY}"))
        .header("content-type", "application/json")
        .body(body.into())
        .expect("request")
}

fn next_ok(body: &mut dashscope_transport::BlockingBody) -> Bytes {
    body.next().expect("a chunk").expect("chunk ok")
}

#[test]
fn streamed_body_arrives_chunk_by_chunk() {
    bounded_blocking(|| {
        let (server, go) = gated_stream();
        let res = transport()
            .send(post(&server.url("/stream"), "{}"))
            .expect("response");
        assert_eq!(res.status(), 200);
        let mut body = res.into_body();
        // The server holds chunk 2 until `go`: receiving chunk 1 first proves nothing buffers.
        assert_eq!(next_ok(&mut body), CHUNK_1);
        go.send(()).expect("server waiting");
        let mut rest = Vec::new();
        for chunk in body {
            rest.extend_from_slice(&chunk.expect("chunk ok"));
        }
        assert_eq!(rest, CHUNK_2);
    });
}

#[test]
fn dropping_the_body_closes_the_connection() {
    bounded_blocking(|| {
        let (server, verdict) = disconnect_watch();
        let res = transport()
            .send(post(&server.url("/stream"), "{}"))
            .expect("response");
        let mut body = res.into_body();
        assert_eq!(next_ok(&mut body), CHUNK_1);
        drop(body);
        let after = verdict
            .recv_timeout(TEST_BOUND)
            .expect("server verdict")
            .expect("server saw the client hang up");
        assert!(
            after < Duration::from_secs(2),
            "hang-up seen only after {after:?}"
        );
    });
}

#[test]
fn connection_refused_is_a_connect_error() {
    bounded_blocking(|| {
        let url = format!("http://{}/x", refused_addr());
        let err = transport().send(post(&url, "{}")).expect_err("refused");
        assert!(err.is_connect(), "{err:?}");
        assert!(
            !err.is_timeout() && !err.is_body() && !err.is_request_sent(),
            "{err:?}"
        );
        assert_no_key(&err);
    });
}

#[test]
fn the_connect_timeout_is_a_connect_timeout() {
    bounded_blocking(|| {
        let (addr, _guard) = full_backlog();
        let t = UreqTransport::builder()
            .no_proxy()
            .connect_timeout(Some(Duration::from_millis(300)))
            .build();
        let start = Instant::now();
        let err = t
            .send(post(&format!("http://{addr}/x"), "{}"))
            .expect_err("timeout");
        assert!(
            err.is_connect() && err.is_timeout() && !err.is_request_sent(),
            "{err:?}"
        );
        assert_eq!(err.phase(), Phase::Connect);
        assert!(start.elapsed() < Duration::from_secs(3));
        assert_no_key(&err);
    });
}

#[test]
fn a_silent_server_times_out_after_the_read_timeout() {
    bounded_blocking(|| {
        let server = silent();
        let t = transport_with(Some(Duration::from_millis(300)), None);
        let start = Instant::now();
        let err = t.send(post(&server.url("/x"), "{}")).expect_err("timeout");
        let took = start.elapsed();
        assert!(
            err.is_timeout() && !err.is_connect() && !err.is_body(),
            "{err:?}"
        );
        assert!(err.is_request_sent(), "the request was written: {err:?}");
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_secs(3),
            "{took:?}"
        );
        assert_no_key(&err);
    });
}

#[test]
fn a_stall_mid_body_is_an_idle_timeout_on_the_body() {
    bounded_blocking(|| {
        let server = stall_after_first_chunk();
        let t = transport_with(Some(Duration::from_millis(300)), None);
        let mut body = t
            .send(post(&server.url("/x"), "{}"))
            .expect("response")
            .into_body();
        assert_eq!(next_ok(&mut body), CHUNK_1);
        let start = Instant::now();
        let err = body.next().expect("an error").expect_err("idle timeout");
        let took = start.elapsed();
        assert!(
            err.is_timeout() && err.is_body() && err.is_request_sent(),
            "{err:?}"
        );
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_secs(3),
            "{took:?}"
        );
        assert!(body.next().is_none(), "the body ends after its error");
        assert_no_key(&err);
    });
}

#[test]
fn a_connection_cut_mid_body_is_a_body_error() {
    bounded_blocking(|| {
        let server = cut_after_first_chunk();
        let res = transport()
            .send(post(&server.url("/x"), "{}"))
            .expect("response");
        let mut body = res.into_body();
        assert_eq!(next_ok(&mut body), CHUNK_1);
        let err = body.next().expect("an error").expect_err("cut");
        assert!(
            err.is_body() && !err.is_timeout() && err.is_request_sent(),
            "{err:?}"
        );
        assert!(body.next().is_none());
    });
}

#[test]
fn the_read_timeout_restarts_on_every_chunk() {
    bounded_blocking(|| {
        let server = trickle(Duration::from_millis(50));
        let t = transport_with(Some(Duration::from_millis(600)), None);
        let mut body = t
            .send(post(&server.url("/x"), "{}"))
            .expect("response")
            .into_body();
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(1500) {
            next_ok(&mut body);
        }
    });
}

#[test]
fn the_total_timeout_cuts_a_long_body() {
    bounded_blocking(|| {
        let server = trickle(Duration::from_millis(50));
        let t = transport_with(None, Some(Duration::from_millis(500)));
        let start = Instant::now();
        let body = t
            .send(post(&server.url("/x"), "{}"))
            .expect("response")
            .into_body();
        let err = body
            .into_iter()
            .find_map(Result::err)
            .expect("the body ended before the deadline");
        let took = start.elapsed();
        assert!(err.is_timeout() && err.is_body(), "{err:?}");
        assert!(
            took >= Duration::from_millis(450) && took < Duration::from_secs(3),
            "{took:?}"
        );
    });
}

#[test]
fn the_thread_deadline_bounds_the_wait_for_the_head() {
    bounded_blocking(|| {
        let server = silent();
        // The read timeout alone would wait 20 s.
        let t = transport_with(Some(Duration::from_secs(20)), None);
        let start = Instant::now();
        let deadline = start + Duration::from_millis(500);
        let err = dashscope_transport::with_deadline(Some(deadline), || {
            t.send(post(&server.url("/x"), "{}"))
        })
        .expect_err("timeout");
        let took = start.elapsed();
        assert!(err.is_timeout() && !err.is_body(), "{err:?}");
        assert_eq!(err.phase(), Phase::Request);
        assert!(took < Duration::from_secs(10), "{took:?}");
        assert_no_key(&err);
    });
}

#[test]
fn the_thread_deadline_bounds_body_reads_inside_its_scope_only() {
    bounded_blocking(|| {
        // A body that never ends but keeps talking (a chunk every 20 ms): only the deadline
        // can stop it.
        let server = trickle(Duration::from_millis(20));
        let t = transport_with(Some(Duration::from_secs(20)), None);
        let start = Instant::now();
        let deadline = start + Duration::from_millis(500);
        let err = dashscope_transport::with_deadline(Some(deadline), || {
            let mut body = t
                .send(post(&server.url("/x"), "{}"))
                .expect("response")
                .into_body();
            loop {
                if let Err(e) = body.next().expect("the body keeps talking") {
                    return e;
                }
            }
        });
        assert!(err.is_timeout() && err.is_body(), "{err:?}");
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );

        // Reads after the scope are not bounded by it: the same kind of body keeps coming.
        let mut body = dashscope_transport::with_deadline(
            Some(Instant::now() + Duration::from_secs(5)),
            || t.send(post(&server.url("/x"), "{}")).expect("response"),
        )
        .into_body();
        let outside = Instant::now();
        while outside.elapsed() < Duration::from_millis(800) {
            next_ok(&mut body);
        }
        // An expired deadline fails at once.
        let err = dashscope_transport::with_deadline(Some(Instant::now()), || {
            t.send(post(&server.url("/x"), "{}"))
        })
        .expect_err("expired");
        assert!(err.is_timeout(), "{err:?}");
    });
}

#[test]
fn no_error_shows_the_api_key() {
    bounded_blocking(|| {
        let t = transport_with(Some(Duration::from_millis(200)), None);
        let mut errors: Vec<TransportError> = Vec::new();
        let query = format!("/x?api_key={API_KEY}");

        let refused = format!("http://{}{query}", refused_addr());
        errors.push(t.send(post(&refused, "{}")).expect_err("refused"));

        let silent = silent();
        errors.push(
            t.send(post(&silent.url(&query), "{}"))
                .expect_err("timeout"),
        );

        let stall = stall_after_first_chunk();
        let mut body = t
            .send(post(&stall.url(&query), "{}"))
            .expect("response")
            .into_body();
        next_ok(&mut body);
        errors.push(body.next().expect("error").expect_err("idle"));

        errors.push(t.send(post(&query, "{}")).expect_err("relative URI"));

        let with_userinfo = format!("http://user:{API_KEY}@{}/x", refused_addr());
        errors.push(t.send(post(&with_userinfo, "{}")).expect_err("refused"));

        for err in &errors {
            assert_no_key(err);
        }
    });
}

#[test]
fn headers_reach_the_server_and_come_back_exactly() {
    bounded_blocking(|| {
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
        let res = transport().send(req).expect("response");

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
        assert_eq!(res.into_body().bytes(1024).expect("body"), "created");
    });
}

#[test]
fn error_statuses_are_responses() {
    bounded_blocking(|| {
        let server = status_server();
        let t = transport();
        for code in [400u16, 401, 403, 404, 429, 500, 502, 503] {
            let res = t.send(post(&server.url(&format!("/status/{code}")), "{}"));
            let res = res.unwrap_or_else(|e| panic!("{code} must be a response, got {e:?}"));
            assert_eq!(res.status().as_u16(), code);
            assert_eq!(res.headers()["retry-after"], "2");
            let body = res.into_body().bytes(1024).expect("body");
            assert_eq!(
                body,
                format!(r#"{{"code":"E{code}","message":"status {code}"}}"#)
            );
        }
    });
}

#[test]
fn redirects_are_not_followed() {
    bounded_blocking(|| {
        let server = redirect_server();
        let res = transport()
            .send(post(&server.url("/from"), "{}"))
            .expect("response");
        assert_eq!(res.status(), 302);
        assert_eq!(res.headers()["location"], "/to");
    });
}

#[test]
fn gzip_responses_are_decoded() {
    bounded_blocking(|| {
        let server = gzip_server();
        let res = transport()
            .send(post(&server.url("/gz"), "{}"))
            .expect("response");
        assert_eq!(
            res.status(),
            200,
            "the transport must send accept-encoding: gzip"
        );
        assert!(res.headers().get("content-encoding").is_none());
        assert_eq!(res.into_body().bytes(1024).expect("body"), GZIP_TEXT);
    });
}

#[test]
fn ten_megabytes_each_way() {
    bounded_blocking(|| {
        const LEN: usize = 10 * 1024 * 1024;
        let server = big_body_server(LEN);
        let res = transport()
            .send(post(&server.url("/big"), pattern_bytes(LEN)))
            .expect("response");
        assert_eq!(res.status(), 200, "the server rejected the request body");
        assert_eq!(
            res.headers()["x-request-body-len"],
            LEN.to_string().as_str()
        );
        let mut at = 0usize;
        let mut chunks = 0usize;
        for chunk in res.into_body() {
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
    });
}

#[test]
fn get_without_a_body() {
    bounded_blocking(|| {
        let (server, seen) = header_echo();
        let req = http::Request::get(server.url("/models"))
            .body(Bytes::new())
            .expect("request");
        let res = transport().send(req).expect("response");
        assert_eq!(res.status(), 201);
        let (method, _, headers, body) = seen.recv_timeout(TEST_BOUND).expect("seen");
        assert_eq!(method, "GET");
        assert!(body.is_empty());
        assert!(headers.get("transfer-encoding").is_none(), "{headers:?}");
    });
}

#[test]
fn concurrent_requests_from_threads() {
    bounded_blocking(|| {
        let server = Arc::new(index_echo());
        let t = SharedBlockingTransport::new(transport());
        let threads: Vec<_> = (0..32)
            .map(|i| {
                let t = t.clone();
                let server = server.clone();
                std::thread::spawn(move || {
                    for j in 0..4 {
                        let n = i * 4 + j;
                        let req = http::Request::get(server.url("/c"))
                            .header("x-index", n.to_string())
                            .body(Bytes::new())
                            .expect("request");
                        let res = t.send(req).expect("response");
                        assert_eq!(res.into_body().bytes(64).expect("body"), n.to_string());
                    }
                })
            })
            .collect();
        for th in threads {
            th.join().expect("thread");
        }
    });
}
