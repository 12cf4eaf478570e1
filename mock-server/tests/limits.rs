//! The server's limits, over real TCP: the body limit (413 `BadRequest.TooLarge` in each
//! dialect's shape), header limits (431), slow clients (a header-read timeout, and a client that
//! stops reading holds only its own connection), the connection cap, and graceful shutdown
//! bounded by its grace period (dropping `MockServer`, SIGTERM and Ctrl-C on the binary).
//!
//! Every test is bounded by `within`; timing checks are generous upper bounds, plus lower bounds
//! that hold by construction (a timer never fires early).

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use dashscope_mock::{Limits, MockServer};
use dashscope_protocol::cassette::Dialect;
use dashscope_protocol::dialect::Endpoint;
use serde_json::json;

const HEALTH: &str = "/__mock/health";

/// A connection with generous timeouts, so a hang fails the test instead of blocking it.
fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// A request head (keep-alive unless the headers say otherwise).
fn head(method: &str, path: &str, headers: &[(&str, &str)], body_len: usize) -> String {
    let mut h =
        format!("{method} {path} HTTP/1.1\r\nhost: localhost\r\ncontent-length: {body_len}\r\n");
    for (n, v) in headers {
        h.push_str(&format!("{n}: {v}\r\n"));
    }
    h.push_str("\r\n");
    h
}

/// Reads until the peer closes; returns the bytes and the error that ended the read, if any.
fn read_all(s: &mut TcpStream) -> (Vec<u8>, Option<ErrorKind>) {
    let mut out = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (out, None),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return (out, Some(e.kind())),
        }
    }
}

/// One response with a `content-length` body off a keep-alive connection: status, head, body.
fn read_one(s: &mut TcpStream) -> (u16, String, Vec<u8>) {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let n = s.read(&mut buf).expect("read a response head");
        assert!(n > 0, "closed before a response: {raw:?}");
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .expect("a content-length response");
    while raw.len() < head_end + len {
        let n = s.read(&mut buf).expect("read a response body");
        assert!(n > 0, "closed inside a body");
        raw.extend_from_slice(&buf[..n]);
    }
    (status, head, raw[head_end..head_end + len].to_vec())
}

/// `GET /__mock/health` on a keep-alive connection.
fn health_on(s: &mut TcpStream) -> u16 {
    s.write_all(head("GET", HEALTH, &[], 0).as_bytes())
        .expect("write a request");
    let (status, _, body) = read_one(s);
    assert!(String::from_utf8_lossy(&body).contains("\"ok\""));
    status
}

/// Whether the server closed `s` (end of input or a reset) within its read timeout, having
/// sent nothing.
fn closed_silently(s: &mut TcpStream) -> bool {
    let (bytes, err) = read_all(s);
    bytes.is_empty()
        && matches!(
            err,
            None | Some(ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted)
        )
}

fn auth() -> String {
    format!("Bearer {KEY}")
}

/// A chat stream request for the `slow` cassette, with a fault header.
fn slow_stream_request(fault: &str) -> Vec<u8> {
    let body = json!({"model": "slow", "stream": true}).to_string();
    let auth = auth();
    let mut req = head(
        "POST",
        CHAT,
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
            ("x-mock-fault", fault),
            ("connection", "close"),
        ],
        body.len(),
    )
    .into_bytes();
    req.extend_from_slice(body.as_bytes());
    req
}

/// Sends a stream request on its own thread; `started` gets a message once the response head
/// has arrived. The thread returns the whole response (head and dechunked body) and whether
/// the chunked body completed.
fn stream_in_background(
    addr: SocketAddr,
    request: Vec<u8>,
) -> (
    mpsc::Receiver<()>,
    thread::JoinHandle<(String, String, bool)>,
) {
    let (started_tx, started) = mpsc::channel();
    let handle = thread::spawn(move || {
        let mut s = connect(addr);
        s.write_all(&request).expect("write the stream request");
        let mut raw = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        let mut told = false;
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
            }
            if !told && raw.windows(4).any(|w| w == b"\r\n\r\n") {
                told = true;
                let _ = started_tx.send(());
            }
        }
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(raw.len(), |p| p + 4);
        let (body, complete) = dechunk(&raw[end..]);
        (
            String::from_utf8_lossy(&raw[..end]).into_owned(),
            String::from_utf8_lossy(&body).into_owned(),
            complete,
        )
    });
    (started, handle)
}

/// Connects until the server refuses; returns how long that took. Panics after `limit`.
fn wait_until_refused(addr: SocketAddr, limit: Duration) -> Duration {
    let t = Instant::now();
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => return t.elapsed(),
            _ => {}
        }
        assert!(
            t.elapsed() < limit,
            "new connections were still accepted {limit:?} after shutdown began"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

fn slow_server(grace: Duration) -> MockServer {
    let s = MockServer::builder()
        .no_defaults()
        .strict(true)
        .shutdown_grace(grace)
        .start()
        .expect("server");
    s.add_cassette(cassette(&chat_stream("chat/slow", "slow", 6, 0)));
    s
}

// ---------------------------------------------------------------------------------------------
// Body size

#[test]
fn the_defaults_are_documented_values() {
    let l = Limits::default();
    let mib = 1024 * 1024;
    assert_eq!(
        (l.max_body_bytes, l.max_inflight_bytes),
        (16 * mib, 256 * mib)
    );
    assert_eq!((l.max_header_bytes, l.max_headers), (64 * 1024, 100));
    let secs = |n| Some(Duration::from_secs(n));
    assert_eq!(
        (l.header_read_timeout, l.body_read_timeout),
        (secs(30), secs(30))
    );
    // Room for the 1,000-concurrent-streams bench (and its clients' connections).
    assert_eq!(l.max_connections, 10_000);
    assert_eq!(l.shutdown_grace, Duration::from_secs(10));
    assert_eq!(
        (l.journal_capacity, l.journal_max_bytes, l.store_max_bytes),
        (100_000, 64 * mib, 64 * mib)
    );
}

#[test]
fn a_body_over_the_limit_gets_413_too_large_in_every_dialect_shape() {
    within(Duration::from_secs(30), || {
        let s = MockServer::builder()
            .max_body_bytes(1024)
            .start()
            .expect("server");
        let a = s.address();
        let big = json!({"model": "qwen-plus", "stream": true, "pad": "x".repeat(2000)});
        for e in Endpoint::ALL {
            for sse in [false, true] {
                let extra: &[(&str, &str)] = if sse {
                    &[
                        ("x-dashscope-sse", "enable"),
                        ("accept", "text/event-stream"),
                    ]
                } else {
                    &[]
                };
                let raw = post(a, e.path(), extra, &big);
                let ctx = format!("{} sse={sse}: {}", e.path(), raw.text());
                assert_eq!(raw.status, 413, "{ctx}");
                let rid = raw.header("x-request-id").expect("x-request-id");
                assert_eq!(
                    raw.header("x-dashscope-call-gateway").as_deref(),
                    Some("true")
                );
                let native = format!(
                    r#"{{"code":"BadRequest.TooLarge","message":"Payload Too Large.","request_id":"{rid}"}}"#
                );
                match e.dialect() {
                    // The body is not read past the limit, so `"stream": true` in it is not
                    // seen: compat answers JSON.
                    Dialect::Chat | Dialect::Responses => {
                        assert_eq!(
                            raw.header("content-type").as_deref(),
                            Some("application/json"),
                            "{ctx}"
                        );
                        assert_eq!(
                            raw.text(),
                            format!(
                                r#"{{"error":{{"code":"payload_too_large","param":null,"message":"Payload Too Large.","type":"invalid_request_error"}},"request_id":"{rid}"}}"#
                            ),
                            "{ctx}"
                        );
                    }
                    // Native streams are asked for by header: the error comes SSE-framed,
                    // with the 413 status (only a 400 is enveloped in HTTP 200).
                    Dialect::Native if sse => {
                        assert_eq!(
                            raw.header("content-type").as_deref(),
                            Some("text/event-stream;charset=UTF-8"),
                            "{ctx}"
                        );
                        assert_eq!(
                            raw.text(),
                            format!("id:1\nevent:error\n:HTTP_STATUS/413\ndata:{native}\n\n"),
                            "{ctx}"
                        );
                    }
                    Dialect::Native => assert_eq!(raw.text(), native, "{ctx}"),
                }
            }
        }
        // The journal records the 413s.
        let too_large = s.journal().iter().filter(|j| j.status == 413).count();
        assert_eq!(too_large, Endpoint::ALL.len() * 2);
    });
}

#[test]
fn the_body_limit_is_exact_and_the_default_is_16_mib() {
    within(Duration::from_secs(60), || {
        let s = MockServer::builder()
            .max_body_bytes(1024)
            .start()
            .expect("server");
        let auth = auth();
        let h = [
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ];
        // Not JSON, so a body the limit lets through gets a 400.
        let at = send(s.address(), "POST", NATIVE, &h, &[b'x'; 1024]);
        assert_eq!(at.status, 400, "{}", at.text());
        let over = send(s.address(), "POST", NATIVE, &h, &[b'x'; 1025]);
        assert_eq!(over.status, 413, "{}", over.text());
        drop(s);

        let s = MockServer::start();
        let at = send(
            s.address(),
            "POST",
            CHAT,
            &h,
            &vec![b'x'; Limits::default().max_body_bytes],
        );
        assert_eq!(at.status, 400, "{}", at.text());
        let over = send(
            s.address(),
            "POST",
            CHAT,
            &h,
            &vec![b'x'; Limits::default().max_body_bytes + 1],
        );
        assert_eq!(over.status, 413, "{}", over.text());
        assert_eq!(over.json()["error"]["code"], "payload_too_large");
    });
}

#[test]
fn a_client_that_sends_a_huge_body_before_reading_still_gets_the_413() {
    within(Duration::from_secs(60), || {
        let s = MockServer::builder()
            .max_body_bytes(1024)
            .start()
            .expect("server");
        // 32 MiB: far more than the socket buffers hold, so the server answers and closes
        // while the client is still writing. It must keep reading (and dropping) the rest, or
        // the client gets a broken pipe / reset instead of the answer.
        let body = vec![b'x'; 32 * 1024 * 1024];
        let auth = auth();
        let mut c = connect(s.address());
        c.write_all(
            head(
                "POST",
                NATIVE,
                &[
                    ("authorization", &auth),
                    ("content-type", "application/json"),
                ],
                body.len(),
            )
            .as_bytes(),
        )
        .unwrap();
        c.write_all(&body)
            .expect("the whole body is accepted (read and dropped)");
        let (status, _, reply) = read_one(&mut c);
        assert_eq!(status, 413);
        let reply: serde_json::Value = serde_json::from_slice(&reply).unwrap();
        assert_eq!(reply["code"], "BadRequest.TooLarge");
        assert_eq!(reply["message"], "Payload Too Large.");
        // Then the server closes the connection.
        let (rest, _) = read_all(&mut c);
        assert!(rest.is_empty());
        // And keeps serving.
        assert_eq!(health_on(&mut connect(s.address())), 200);
    });
}

// ---------------------------------------------------------------------------------------------
// Header limits

/// Checks hyper's 431: a bare status line, an empty body, then the connection closes.
fn assert_431(reply: &[u8]) {
    let text = String::from_utf8_lossy(reply);
    assert!(
        text.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "{text}"
    );
    let head_end = text.find("\r\n\r\n").expect("a complete head") + 4;
    assert!(
        text[..head_end]
            .to_ascii_lowercase()
            .contains("content-length: 0\r\n"),
        "{text}"
    );
    assert_eq!(head_end, text.len(), "nothing after the head: {text}");
}

#[test]
fn oversized_heads_get_431_and_do_not_disturb_other_connections() {
    within(Duration::from_secs(30), || {
        let s = MockServer::builder()
            .max_header_bytes(16 * 1024)
            .max_headers(20)
            .start()
            .expect("server");
        let a = s.address();
        // A keep-alive connection that stays open throughout.
        let mut bystander = connect(a);
        assert_eq!(health_on(&mut bystander), 200);

        // Just under the byte cap: served.
        let pad = "p".repeat(15 * 1024);
        assert_eq!(send(a, "GET", HEALTH, &[("x-pad", &pad)], b"").status, 200);
        // Over it (a complete head): 431, then closed.
        let pad = "p".repeat(17 * 1024);
        let mut c = connect(a);
        c.write_all(head("GET", HEALTH, &[("x-pad", &pad)], 0).as_bytes())
            .unwrap();
        let (reply, _) = read_all(&mut c);
        assert_431(&reply);
        // A head that never ends, far over the cap: 431 once the buffer is full, without
        // waiting for the end of the head.
        let mut c = connect(a);
        let mut endless = b"GET /__mock/health HTTP/1.1\r\nhost: localhost\r\nx-pad: ".to_vec();
        endless.extend(std::iter::repeat_n(b'p', 200 * 1024));
        c.write_all(&endless).unwrap();
        let (reply, _) = read_all(&mut c);
        assert_431(&reply);

        // The header count cap: 20 fields pass (host, content-length and 18 more), 21 do not.
        let names: Vec<String> = (0..19).map(|i| format!("x-h{i}")).collect();
        let fields: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
        let mut c = connect(a);
        c.write_all(head("GET", HEALTH, &fields[..18], 0).as_bytes())
            .unwrap();
        assert_eq!(read_one(&mut c).0, 200);
        let mut c = connect(a);
        c.write_all(head("GET", HEALTH, &fields, 0).as_bytes())
            .unwrap();
        let (reply, _) = read_all(&mut c);
        assert_431(&reply);

        // Nobody else noticed.
        assert_eq!(health_on(&mut bystander), 200);
        assert_eq!(
            post(
                a,
                CHAT,
                &[],
                &json!({"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}]})
            )
            .status,
            200
        );
    });
}

#[test]
fn the_default_header_limits_are_64_kib_and_100_fields() {
    within(Duration::from_secs(30), || {
        let s = MockServer::start();
        let a = s.address();
        let pad = "p".repeat(60 * 1024);
        assert_eq!(send(a, "GET", HEALTH, &[("x-pad", &pad)], b"").status, 200);
        let pad = "p".repeat(65 * 1024);
        assert_eq!(send(a, "GET", HEALTH, &[("x-pad", &pad)], b"").status, 431);
        // `send` adds host, connection and content-length.
        let names: Vec<String> = (0..98).map(|i| format!("x-h{i}")).collect();
        let fields: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
        assert_eq!(send(a, "GET", HEALTH, &fields[..97], b"").status, 200);
        assert_eq!(send(a, "GET", HEALTH, &fields, b"").status, 431);
    });
}

// ---------------------------------------------------------------------------------------------
// Slow clients

#[test]
fn stalled_heads_time_out_while_100_other_requests_are_served() {
    within(Duration::from_secs(60), || {
        let timeout = Duration::from_secs(1);
        let s = MockServer::builder()
            .header_read_timeout(timeout)
            .start()
            .expect("server");
        let a = s.address();
        // Slowloris: eight connections send half a request head, then nothing.
        let mut stalled: Vec<TcpStream> = (0..8)
            .map(|_| {
                let mut c = connect(a);
                c.write_all(
                    b"POST /compatible-mode/v1/chat/completions HTTP/1.1\r\nhost: localhost\r\n",
                )
                .unwrap();
                c
            })
            .collect();
        // A trickler: one more byte of the head every 100 ms (the head would take ~10 s).
        let trickler = thread::spawn(move || {
            let mut c = connect(a);
            let started = Instant::now();
            let mut req = b"GET /__mock/health HTTP/1.1\r\nhost: localhost\r\nx-slow: ".to_vec();
            req.extend(std::iter::repeat_n(b'z', 100));
            req.extend_from_slice(b"\r\n\r\n");
            for b in &req {
                if c.write_all(&[*b]).is_err() {
                    return (started.elapsed(), true);
                }
                thread::sleep(Duration::from_millis(100));
                // Open: nothing to read yet. Closed: end of input or an error.
                c.set_nonblocking(true).unwrap();
                let r = c.read(&mut [0u8; 1]);
                c.set_nonblocking(false).unwrap();
                if !matches!(r, Err(ref e) if e.kind() == ErrorKind::WouldBlock) {
                    return (started.elapsed(), true);
                }
            }
            (started.elapsed(), false)
        });
        // Meanwhile: 100 requests on four threads, every one answered.
        let served: usize = (0..4)
            .map(|_| {
                thread::spawn(move || {
                    (0..25)
                        .filter(|_| {
                            post(a, CHAT, &[], &json!({"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}]})).status == 200
                        })
                        .count()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .sum();
        assert_eq!(served, 100);
        // Every stalled connection is closed, with no answer.
        for c in &mut stalled {
            assert!(closed_silently(c), "a stalled connection got an answer");
        }
        let (took, cut) = trickler.join().unwrap();
        assert!(cut, "the trickling head was never cut");
        assert!(
            took < Duration::from_secs(8),
            "a trickled head must not extend the deadline: {took:?}"
        );
        // An idle keep-alive connection is closed after the same time.
        let mut idle = connect(a);
        assert_eq!(health_on(&mut idle), 200);
        assert!(closed_silently(&mut idle));
        // Still serving.
        assert_eq!(health_on(&mut connect(a)), 200);
    });
}

#[test]
fn a_client_that_stops_reading_a_stream_does_not_block_others() {
    within(Duration::from_secs(60), || {
        let s = MockServer::start();
        let a = s.address();
        // A 32 MiB first event: far more than the socket buffers hold, so the server's writes
        // to this client block.
        let body = json!({"model": "qwen-plus", "stream": true, "messages": [{"role": "user", "content": "hi"}]}).to_string();
        let auth = auth();
        let mut reader = connect(a);
        reader
            .write_all(
                head(
                    "POST",
                    CHAT,
                    &[
                        ("authorization", &auth),
                        ("content-type", "application/json"),
                        ("x-mock-fault", "oversized-chunk=33554432"),
                        ("connection", "close"),
                    ],
                    body.len(),
                )
                .as_bytes(),
            )
            .unwrap();
        reader.write_all(body.as_bytes()).unwrap();
        thread::sleep(Duration::from_millis(300));
        // Others are served meanwhile: 50 plain requests and 50 streams.
        for i in 0..100 {
            let stream = i % 2 == 1;
            let raw = post(
                a,
                CHAT,
                &[],
                &json!({"model": "qwen-plus", "stream": stream, "messages": [{"role": "user", "content": "hi"}]}),
            );
            assert_eq!(raw.status, 200, "{}", raw.text());
            assert!(raw.complete);
            if stream {
                assert!(raw.text().ends_with("data: [DONE]\n\n"));
            }
        }
        // The slow reader then gets every byte: backpressure paused the stream, lost nothing.
        let (raw, err) = read_all(&mut reader);
        assert_eq!(err, None);
        let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert!(raw.starts_with(b"HTTP/1.1 200 "));
        let (body, complete) = dechunk(&raw[end..]);
        assert!(complete, "the stream was cut");
        assert!(body.len() > 32 * 1024 * 1024);
        assert!(body.ends_with(b"data: [DONE]\n\n"));
    });
}

// ---------------------------------------------------------------------------------------------
// Connection cap

#[test]
fn connections_over_the_cap_wait_for_a_free_slot() {
    within(Duration::from_secs(30), || {
        let s = MockServer::builder()
            .max_connections(2)
            .header_read_timeout(None)
            .start()
            .expect("server");
        let a = s.address();
        let mut first = connect(a);
        let mut second = connect(a);
        assert_eq!(health_on(&mut first), 200);
        assert_eq!(health_on(&mut second), 200);
        // The third connects (the kernel's backlog) but is not served while both are open.
        let mut third = connect(a);
        third
            .write_all(head("GET", HEALTH, &[], 0).as_bytes())
            .unwrap();
        third
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut buf = [0u8; 64];
        let early = third.read(&mut buf);
        assert!(
            matches!(early, Err(ref e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)),
            "served over the cap: {early:?}"
        );
        // Closing one frees a slot.
        drop(first);
        third
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        assert_eq!(read_one(&mut third).0, 200);
        assert_eq!(health_on(&mut second), 200);
    });
}

// ---------------------------------------------------------------------------------------------
// Graceful shutdown

#[test]
fn dropping_the_server_lets_open_streams_finish_and_refuses_new_connections() {
    within(Duration::from_secs(30), || {
        let grace = Duration::from_secs(10);
        let s = slow_server(grace);
        let a = s.address();
        // 7 events (6 and [DONE]), 300 ms apart: about 1.8 s.
        let (started, streaming) = stream_in_background(a, slow_stream_request("chunk-delay=300"));
        started
            .recv_timeout(Duration::from_secs(10))
            .expect("the stream starts");
        // An idle keep-alive connection does not hold the shutdown up.
        let mut idle = connect(a);
        assert_eq!(health_on(&mut idle), 200);

        let t = Instant::now();
        let dropping = thread::spawn(move || drop(s));
        wait_until_refused(a, Duration::from_secs(5));
        assert!(
            !streaming.is_finished(),
            "the stream should still be open when connections are refused"
        );
        assert!(closed_silently(&mut idle));
        let (head, body, complete) = streaming.join().unwrap();
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        assert!(complete, "the stream was cut: {body}");
        assert!(body.contains("part5") && body.ends_with("data: [DONE]\n\n"));
        dropping.join().unwrap();
        assert!(
            t.elapsed() < grace,
            "shutdown waited for more than the stream: {:?}",
            t.elapsed()
        );
    });
}

#[test]
fn streams_longer_than_the_grace_are_cut_at_the_bound() {
    within(Duration::from_secs(60), || {
        let grace = Duration::from_millis(700);
        let s = slow_server(grace);
        let a = s.address();
        // 7 events 1 s apart: 6 s, far past the grace.
        let (started, streaming) = stream_in_background(a, slow_stream_request("chunk-delay=1000"));
        started
            .recv_timeout(Duration::from_secs(10))
            .expect("the stream starts");
        // A stalled stream (`stall-after` without an end) ...
        let (stall_started, stalled) =
            stream_in_background(a, slow_stream_request("stall-after=1"));
        stall_started
            .recv_timeout(Duration::from_secs(10))
            .expect("the stalled stream starts");
        // ... a client that does not read a 32 MiB event ...
        let body = json!({"model": "slow", "stream": true}).to_string();
        let auth = auth();
        let mut deaf = connect(a);
        deaf.write_all(
            head(
                "POST",
                CHAT,
                &[
                    ("authorization", &auth),
                    ("content-type", "application/json"),
                    ("x-mock-fault", "oversized-chunk=33554432"),
                ],
                body.len(),
            )
            .as_bytes(),
        )
        .unwrap();
        deaf.write_all(body.as_bytes()).unwrap();
        // ... and a slowloris head.
        let mut loris = connect(a);
        loris.write_all(b"GET /__mock/health HTTP/1.1\r\n").unwrap();
        thread::sleep(Duration::from_millis(200));

        let t = Instant::now();
        drop(s);
        let took = t.elapsed();
        assert!(took >= grace, "cut before the grace period: {took:?}");
        assert!(
            took < grace + Duration::from_secs(4),
            "shutdown overran its bound: {took:?}"
        );
        let (_, body, complete) = streaming.join().unwrap();
        assert!(!complete, "a 6 s stream cannot finish in {grace:?}");
        assert!(body.contains("part0") && !body.contains("[DONE]"), "{body}");
        let (_, body, complete) = stalled.join().unwrap();
        assert!(!complete && body.contains("part0"), "{body}");
        let (raw, _) = read_all(&mut deaf);
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(0, |p| p + 4);
        assert!(!dechunk(&raw[end..]).1, "the unread stream was not cut");
        let (reply, _) = read_all(&mut loris);
        assert!(!reply.starts_with(b"HTTP/1.1 200"));
    });
}

// ---------------------------------------------------------------------------------------------
// The binary

#[cfg(unix)]
mod binary {
    use super::*;
    use std::path::PathBuf;
    use std::process::{Child, Command};

    /// A fixtures directory with the `slow` stream cassette (n events, no recorded delay).
    fn fixtures(tag: &str, n: usize) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "dashscope-mock-limits-{tag}-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(dir.join("chat")).unwrap();
        std::fs::write(
            dir.join("chat/slow.json"),
            chat_stream("chat/slow", "slow", n, 0).to_string(),
        )
        .unwrap();
        dir
    }

    /// Starts the binary; returns it and its address.
    fn spawn(args: &[&str], dir: Option<&PathBuf>) -> (Child, SocketAddr) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dashscope-mock"));
        cmd.args(["--port", "0", "--no-defaults"]).args(args);
        if let Some(dir) = dir {
            cmd.arg("--fixtures").arg(dir);
        }
        listening(&mut cmd)
    }

    fn signal(child: &Child, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Waits for the child to exit; returns how long that took. Kills it after `limit`.
    fn wait_exit(child: &mut Child, limit: Duration) -> (Duration, bool) {
        let t = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return (t.elapsed(), status.success());
            }
            if t.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the binary did not exit within {limit:?}");
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn sigterm_cuts_streams_at_the_grace_bound_and_refuses_new_connections() {
        within(Duration::from_secs(60), || {
            let dir = fixtures("term", 30);
            let (mut child, a) = spawn(&["--strict", "--shutdown-grace", "1"], Some(&dir));
            // 31 events 300 ms apart: 9 s.
            let (started, streaming) =
                stream_in_background(a, slow_stream_request("chunk-delay=300"));
            started
                .recv_timeout(Duration::from_secs(10))
                .expect("the stream starts");
            signal(&child, "-TERM");
            wait_until_refused(a, Duration::from_secs(5));
            let (took, ok) = wait_exit(&mut child, Duration::from_secs(20));
            assert!(ok, "exit status");
            assert!(took < Duration::from_secs(5), "1 s grace, took {took:?}");
            let (_, body, complete) = streaming.join().unwrap();
            assert!(!complete && body.contains("part0") && !body.contains("[DONE]"));
            let _ = std::fs::remove_dir_all(&dir);
        });
    }

    #[test]
    fn ctrl_c_lets_a_short_stream_finish() {
        within(Duration::from_secs(60), || {
            let dir = fixtures("int", 4);
            let (mut child, a) = spawn(&["--strict"], Some(&dir));
            // 5 events 300 ms apart, well inside the default 10 s grace.
            let (started, streaming) =
                stream_in_background(a, slow_stream_request("chunk-delay=300"));
            started
                .recv_timeout(Duration::from_secs(10))
                .expect("the stream starts");
            signal(&child, "-INT");
            let (_, body, complete) = streaming.join().unwrap();
            assert!(complete, "the stream was cut: {body}");
            assert!(body.ends_with("data: [DONE]\n\n"));
            let (took, ok) = wait_exit(&mut child, Duration::from_secs(20));
            assert!(ok);
            assert!(
                took < Duration::from_secs(8),
                "it waited for the grace period although nothing was open: {took:?}"
            );
            let _ = std::fs::remove_dir_all(&dir);
        });
    }

    #[test]
    fn the_limit_flags_apply_and_are_documented() {
        within(Duration::from_secs(60), || {
            let (mut child, a) = spawn(
                &[
                    "--max-header-bytes",
                    "9000",
                    "--max-headers",
                    "20",
                    "--header-read-timeout",
                    "300",
                    "--max-body-bytes",
                    "2048",
                    "--max-connections",
                    "64",
                ],
                None,
            );
            assert_eq!(send(a, "GET", HEALTH, &[], b"").status, 200);
            let pad = "p".repeat(10_000);
            assert_eq!(send(a, "GET", HEALTH, &[("x-pad", &pad)], b"").status, 431);
            let names: Vec<String> = (0..20).map(|i| format!("x-h{i}")).collect();
            let fields: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
            assert_eq!(send(a, "GET", HEALTH, &fields, b"").status, 431);
            let big = json!({"model": "qwen-plus", "pad": "x".repeat(3000)});
            let raw = post(a, NATIVE, &[], &big);
            assert_eq!(raw.status, 413);
            assert_eq!(raw.json()["code"], "BadRequest.TooLarge");
            let mut c = connect(a);
            c.write_all(b"GET /__mock/health HTTP/1.1\r\n").unwrap();
            let t = Instant::now();
            assert!(closed_silently(&mut c));
            assert!(t.elapsed() < Duration::from_secs(10));
            signal(&child, "-TERM");
            assert!(wait_exit(&mut child, Duration::from_secs(20)).1);

            let out = Command::new(env!("CARGO_BIN_EXE_dashscope-mock"))
                .arg("--help")
                .output()
                .unwrap();
            let help = String::from_utf8_lossy(&out.stdout).into_owned();
            for flag in [
                "--max-body-bytes",
                "--max-header-bytes",
                "--max-headers",
                "--header-read-timeout",
                "--max-connections",
                "--shutdown-grace",
            ] {
                assert!(help.contains(flag), "--help lacks {flag}");
            }
            for default in ["65536", "100", "30000", "10000"] {
                assert!(help.contains(&format!("[default: {default}]")), "{help}");
            }
        });
    }
}
