//! Every fault, observed from a client over TCP.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;
use dashscope_mock::MockServer;
use dashscope_protocol::error::ApiError;
use serde_json::json;

fn server() -> MockServer {
    let s = MockServer::builder()
        .no_defaults()
        .speed(0.0)
        .start()
        .expect("server");
    s.add_cassette(cassette(&chat_stream("chat/s", "m", 3, 0)));
    s.add_cassette(cassette(&chat_json(
        "chat/j",
        "m",
        r#"{"id":"chatcmpl-1","object":"chat.completion"}"#,
    )));
    s.add_cassette(cassette(&native_stream("native/s", "m", 3)));
    s
}

fn chat_stream_req(s: &MockServer, fault: &str) -> Raw {
    post(
        s.address(),
        CHAT,
        &[("x-mock-fault", fault)],
        &json!({"model": "m", "stream": true}),
    )
}

fn chat_req(s: &MockServer, fault: &str) -> Raw {
    post(
        s.address(),
        CHAT,
        &[("x-mock-fault", fault)],
        &json!({"model": "m"}),
    )
}

fn native_stream_req(s: &MockServer, fault: &str) -> Raw {
    post(
        s.address(),
        NATIVE,
        &[("x-mock-fault", fault), ("x-dashscope-sse", "enable")],
        &json!({"model": "m", "input": {"prompt": "p"}}),
    )
}

#[test]
fn latency_delays_the_whole_response() {
    within(Duration::from_secs(20), || {
        let s = server();
        let raw = chat_req(&s, "latency=300");
        assert_eq!(raw.status, 200);
        assert!(
            raw.reads[0].0 >= Duration::from_millis(300),
            "first byte after {:?}",
            raw.reads[0].0
        );
    });
}

#[test]
fn ttfb_delays_the_first_body_byte_but_not_the_headers() {
    within(Duration::from_secs(20), || {
        let s = server();
        let raw = chat_stream_req(&s, "ttfb=400");
        assert_eq!(raw.status, 200);
        assert!(
            raw.arrival_of_raw_offset(0) < Duration::from_millis(300),
            "headers came late"
        );
        assert!(
            raw.arrival_of_raw_offset(raw.head_len) >= Duration::from_millis(400),
            "body came early"
        );
        let raw = chat_req(&s, "ttfb=300");
        assert!(raw.arrival_of_raw_offset(raw.head_len) >= Duration::from_millis(300));
        assert_eq!(raw.json()["object"], "chat.completion");
    });
}

#[test]
fn chunk_delay_spaces_the_chunks() {
    within(Duration::from_secs(20), || {
        let s = server();
        let raw = chat_stream_req(&s, "chunk-delay=150");
        assert!(raw.complete);
        // 4 chunks (3 + [DONE]): three gaps.
        assert!(raw.reads.last().unwrap().0 >= Duration::from_millis(450));
    });
}

#[test]
fn status_429_with_and_without_retry_after_in_each_dialect() {
    within(Duration::from_secs(20), || {
        let s = server();
        let raw = chat_req(&s, "status=429");
        assert_eq!(raw.status, 429);
        assert!(
            raw.header("retry-after").is_none(),
            "the service sends no Retry-After by default"
        );
        let e = ApiError::from_body(Some(429), &raw.body).unwrap();
        assert_eq!(e.code.as_deref(), Some("limit_requests"));
        assert_eq!(e.request_id, raw.header("x-request-id"));

        let raw = native_stream_req(&s, "status=429;retry-after=2");
        assert_eq!(raw.status, 429);
        assert_eq!(raw.header("retry-after").as_deref(), Some("2"));
        assert_eq!(
            raw.header("content-type").as_deref(),
            Some("text/event-stream;charset=UTF-8")
        );
        let e = ApiError::from_body(None, &raw.body).unwrap();
        assert_eq!(e.code.as_deref(), Some("Throttling.RateQuota"));
        assert_eq!(e.status, Some(429));

        let raw = post(
            s.address(),
            NATIVE,
            &[("x-mock-fault", "status=429")],
            &json!({"model": "m"}),
        );
        assert_eq!(
            raw.json(),
            json!({"code": "Throttling.RateQuota", "message": "Requests rate limit exceeded, please try again later.",
                   "request_id": raw.header("x-request-id").unwrap()})
        );
    });
}

#[test]
fn server_errors_have_dialect_shaped_bodies() {
    within(Duration::from_secs(20), || {
        let s = server();
        for (status, native, compat) in [
            (500, "InternalError", "internal_error"),
            (502, "BadGateway", "bad_gateway"),
            (503, "ServiceUnavailable", "service_unavailable"),
            (504, "GatewayTimeout", "gateway_timeout"),
        ] {
            let fault = format!("status={status}");
            let raw = chat_req(&s, &fault);
            assert_eq!(raw.status, status);
            let body = raw.json();
            assert_eq!(body["error"]["code"], compat);
            assert_eq!(body["error"]["param"], serde_json::Value::Null);
            assert_eq!(
                body["request_id"].as_str(),
                raw.header("x-request-id").as_deref()
            );
            assert_eq!(
                raw.header("x-dashscope-call-gateway").as_deref(),
                Some("true")
            );
            let raw = post(
                s.address(),
                NATIVE,
                &[("x-mock-fault", &fault)],
                &json!({"model": "m"}),
            );
            assert_eq!(raw.status, status);
            assert_eq!(raw.json()["code"], native);
            let raw = chat_stream_req(&s, &fault);
            assert_eq!(raw.status, status);
            assert!(
                raw.text().starts_with("data: {\"error\":"),
                "{}",
                raw.text()
            );
        }
        // A custom code and the HTTP 200 envelope of native streams.
        let raw = native_stream_req(&s, "status=503;code=ModelUnavailable;envelope=200");
        assert_eq!(raw.status, 200);
        assert!(raw.text().starts_with(
            "id:1\nevent:error\n:HTTP_STATUS/503\ndata:{\"code\":\"ModelUnavailable\""
        ));
    });
}

#[test]
fn fail_the_first_n_requests_then_succeed() {
    within(Duration::from_secs(20), || {
        let s = server();
        let statuses: Vec<u16> = (0..4)
            .map(|_| chat_req(&s, "status=503;times=2").status)
            .collect();
        assert_eq!(statuses, [503, 503, 200, 200]);
        // The same through a global fault.
        s.add_fault("status=500;times=1;dialect=chat").unwrap();
        let statuses: Vec<u16> = (0..2)
            .map(|_| post(s.address(), CHAT, &[], &json!({"model": "m"})).status)
            .collect();
        assert_eq!(statuses, [500, 200]);
    });
}

#[test]
fn token_bucket_rate_limit() {
    within(Duration::from_secs(20), || {
        let s = MockServer::builder()
            .no_defaults()
            .fault("rate-limit=2;burst=2")
            .start()
            .expect("server");
        s.add_cassette(cassette(&chat_json("chat/j", "m", "{}")));
        let statuses: Vec<u16> = (0..3)
            .map(|_| post(s.address(), CHAT, &[], &json!({"model": "m"})).status)
            .collect();
        assert_eq!(statuses, [200, 200, 429]);
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(
            post(s.address(), CHAT, &[], &json!({"model": "m"})).status,
            200
        );
    });
}

#[test]
fn reset_resets_the_connection_before_any_byte() {
    within(Duration::from_secs(20), || {
        let s = server();
        let raw = chat_req(&s, "reset");
        assert!(
            raw.raw.is_empty(),
            "got bytes: {:?}",
            String::from_utf8_lossy(&raw.raw)
        );
        assert_eq!(raw.error, Some(ErrorKind::ConnectionReset));
        // The server is still up.
        assert_eq!(chat_req(&s, "latency=0").status, 200);
    });
}

#[test]
fn cut_after_n_events_breaks_the_stream() {
    within(Duration::from_secs(20), || {
        let s = server();
        let raw = chat_stream_req(&s, "cut-after=2");
        assert_eq!(raw.status, 200);
        assert!(!raw.complete, "the stream should not end cleanly");
        let text = raw.text();
        assert!(text.contains("part1") && !text.contains("part2"), "{text}");
        let raw = chat_req(&s, "cut-after=5");
        assert!(!raw.complete);
        assert_eq!(raw.body, b"{\"id\"");
    });
}

#[test]
fn partial_response_header() {
    within(Duration::from_secs(20), || {
        let s = server();
        let raw = chat_req(&s, "partial");
        assert_eq!(raw.status, 200);
        assert_eq!(
            raw.header("x-dashscope-partialresponse").as_deref(),
            Some("true")
        );
    });
}

#[test]
fn native_stream_without_blank_lines() {
    within(Duration::from_secs(20), || {
        let s = server();
        let normal = native_stream_req(&s, "latency=0");
        assert_eq!(normal.text().matches("\n\n").count(), 3);
        let raw = native_stream_req(&s, "no-blank-lines");
        let text = raw.text();
        assert!(!text.contains("\n\n"), "{text}");
        assert_eq!(text.matches("data:").count(), 3);
        assert!(text.contains("}\nid:2\n"));
    });
}

#[test]
fn invalid_utf8_malformed_json_and_oversized_chunks() {
    within(Duration::from_secs(20), || {
        let s = server();
        let raw = chat_stream_req(&s, "invalid-utf8=2");
        assert!(std::str::from_utf8(&raw.body).is_err());
        let first_event_end = raw.body.windows(2).position(|w| w == b"\n\n").unwrap();
        assert!(
            std::str::from_utf8(&raw.body[..first_event_end]).is_ok(),
            "only event 2 is corrupted"
        );

        let raw = chat_stream_req(&s, "malformed-json");
        let text = raw.text();
        let first = text
            .split("\n\n")
            .next()
            .unwrap()
            .strip_prefix("data: ")
            .unwrap();
        assert!(
            serde_json::from_str::<serde_json::Value>(first).is_err(),
            "{first}"
        );

        let raw = chat_stream_req(&s, "oversized-chunk=200000");
        let text = raw.text();
        let first = text
            .split("\n\n")
            .next()
            .unwrap()
            .strip_prefix("data: ")
            .unwrap();
        assert!(first.len() > 200_000);
        let v: serde_json::Value = serde_json::from_str(first).unwrap();
        assert_eq!(v["choices"][0]["delta"]["content"], "part0");
    });
}

#[test]
fn stall_with_and_without_an_end() {
    within(Duration::from_secs(30), || {
        let s = server();
        let raw = chat_stream_req(&s, "stall-after=1;stall-ms=400");
        assert!(raw.complete);
        let text = String::from_utf8_lossy(&raw.raw).into_owned();
        let t0 = raw.arrival_of_raw_offset(text.find("part0").unwrap());
        let t1 = raw.arrival_of_raw_offset(text.find("part1").unwrap());
        assert!(t1 >= t0 + Duration::from_millis(350), "{t0:?} {t1:?}");

        // Without stall-ms the stream goes quiet until the client leaves or the server stops.
        let mut conn = TcpStream::connect(s.address()).unwrap();
        let body = json!({"model": "m", "stream": true}).to_string();
        let req = format!(
            "POST {CHAT} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer k\r\ncontent-type: application/json\r\nx-mock-fault: stall-after=1\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        conn.write_all(req.as_bytes()).unwrap();
        conn.set_read_timeout(Some(Duration::from_millis(700)))
            .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        let quiet = loop {
            match conn.read(&mut buf) {
                Ok(0) => break false,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    break true;
                }
                Err(_) => break false,
            }
        };
        assert!(quiet, "the stream should stall");
        let text = String::from_utf8_lossy(&got).into_owned();
        assert!(text.contains("part0") && !text.contains("part1"), "{text}");
        // Stopping the server ends the stalled stream promptly.
        let t = Instant::now();
        drop(s);
        assert!(t.elapsed() < Duration::from_secs(5));
    });
}

#[test]
fn global_faults_and_invalid_specs() {
    within(Duration::from_secs(20), || {
        let s = MockServer::builder()
            .no_defaults()
            .latency(Duration::from_millis(200))
            .start()
            .expect("server");
        s.add_cassette(cassette(&chat_json("chat/j", "m", "{}")));
        let raw = post(s.address(), CHAT, &[], &json!({"model": "m"}));
        assert!(raw.reads[0].0 >= Duration::from_millis(200));
        let raw = chat_req(&s, "status=200");
        assert_eq!(raw.status, 400);
        assert_eq!(raw.json()["error"]["code"], "mock_invalid_fault");
        assert!(s.add_fault("bogus=1").is_err());
        assert!(MockServer::builder().fault("nope").start().is_err());
    });
}

/// A reset goes back to the start-up configuration: the start-up faults return, with fresh
/// counters, whether they were used up, cleared or joined by others.
#[test]
fn a_reset_brings_back_the_start_up_faults() {
    within(Duration::from_secs(20), || {
        let s = MockServer::builder()
            .no_defaults()
            .fault("status=503;times=1")
            .cassette(cassette(&chat_json("chat/j", "m", "{}")))
            .start()
            .expect("server");
        let status = || post(s.address(), CHAT, &[], &json!({"model": "m"})).status;
        assert_eq!([status(), status()], [503, 200]);
        s.reset();
        assert_eq!([status(), status()], [503, 200]);
        s.clear_faults();
        s.add_fault("status=429").unwrap();
        assert_eq!(status(), 429);
        let h = [("content-type", "application/json")];
        assert_eq!(
            send(s.address(), "POST", "/__mock/reset", &h, b"").status,
            200
        );
        let faults = send(s.address(), "GET", "/__mock/faults", &[], b"").json();
        assert_eq!(faults.as_array().map(Vec::len), Some(1), "{faults}");
        assert_eq!(faults[0]["spec"], "status=503;times=1");
        assert_eq!([status(), status()], [503, 200]);
    });
}
