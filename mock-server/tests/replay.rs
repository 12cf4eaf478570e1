//! Byte-exact replay over real TCP: every embedded fixture, header order and case, chunk
//! timing and the speed factor.

mod common;

use std::time::Duration;

use common::*;
use dashscope_mock::MockServer;
use dashscope_protocol::cassette::{Cassette, RecordedResponse};
use serde_json::json;

/// The header lines a replay must send, in order: the recorded ones minus those the mock
/// never replays (see `dashscope_mock::replay`).
fn expected_lines(r: &RecordedResponse) -> Vec<String> {
    let body_len = r.body.to_bytes().len();
    let chunked = r.headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.trim().eq_ignore_ascii_case("chunked")
    });
    r.headers
        .iter()
        .filter(|(n, v)| {
            let n = n.to_ascii_lowercase();
            match n.as_str() {
                "content-encoding" | "connection" | "keep-alive" | "proxy-connection" => false,
                "content-length" => !chunked && v.trim().parse::<usize>().ok() == Some(body_len),
                "transfer-encoding" => v.trim().eq_ignore_ascii_case("chunked"),
                _ => true,
            }
        })
        .map(|(n, v)| format!("{n}: {v}"))
        .collect()
}

/// The header lines sent, minus those hyper adds itself when they were not recorded
/// (`connection: close` answers the test client's own `connection: close`).
fn sent_lines(raw: &Raw, r: &RecordedResponse) -> Vec<String> {
    let recorded = |name: &str| r.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    raw.header_lines
        .iter()
        .filter(|l| {
            let name = l.split(':').next().unwrap_or("").to_ascii_lowercase();
            !["date", "content-length", "transfer-encoding", "connection"].contains(&name.as_str())
                || recorded(&name)
        })
        .cloned()
        .collect()
}

/// Sends a cassette's recorded request (plus a key and a JSON content type), by name or not.
fn send_recorded(server: &MockServer, c: &Cassette, by_name: bool) -> Raw {
    let auth = format!("Bearer {KEY}");
    let mut headers: Vec<(String, String)> = c
        .request
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    headers.push(("authorization".into(), auth));
    if by_name {
        headers.push(("x-mock-cassette".into(), c.name.clone()));
    }
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("content-type".into(), "application/json".into()));
    }
    let refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let body = c
        .request
        .body
        .as_ref()
        .map(|b| b.to_string())
        .unwrap_or_default();
    send(
        server.address(),
        &c.request.method,
        &c.request.path,
        &refs,
        body.as_bytes(),
    )
}

/// Sends a cassette's recorded request, picking the cassette by name (`x-mock-cassette`), and
/// checks the answer is the recording, byte for byte.
fn assert_replays(server: &MockServer, c: &Cassette) {
    server.reset();
    let raw = send_recorded(server, c, true);
    let answered = server.journal().last().and_then(|e| e.cassette.clone());
    assert_eq!(
        answered.as_deref(),
        Some(c.name.as_str()),
        "{}: x-mock-cassette did not pick it",
        c.name
    );
    assert_eq!(raw.status, c.response.status, "{}: status", c.name);
    // Plus the header naming the cassette.
    let mut expected = expected_lines(&c.response);
    expected.push(format!("x-mock-source: cassette {}", c.name));
    assert_eq!(
        sent_lines(&raw, &c.response),
        expected,
        "{}: headers",
        c.name
    );
    assert!(
        raw.complete,
        "{}: the body framing did not complete",
        c.name
    );
    assert_eq!(
        raw.body,
        c.response.body.to_bytes(),
        "{}: body bytes",
        c.name
    );
}

/// Whether two cassettes recorded requests no matcher can tell apart.
fn same_request(a: &Cassette, b: &Cassette) -> bool {
    a.request.method == b.request.method
        && a.request.path == b.request.path
        && a.request.body == b.request.body
        && a.is_stream_request() == b.is_stream_request()
}

#[test]
fn every_embedded_fixture_parses() {
    let files = fixture_files();
    for (path, _, c) in &files {
        assert_eq!(
            format!("{}.json", c.name()),
            *path,
            "a fixture's name is its path"
        );
    }
    // The server embeds them all: none was skipped as unreadable.
    let server = MockServer::start();
    let health = send(server.address(), "GET", "/__mock/health", &[], b"");
    assert_eq!(health.json()["cassettes"], files.len());
}

#[test]
fn every_embedded_fixture_replays_byte_identically() {
    within(Duration::from_secs(120), || {
        let server = MockServer::builder().speed(0.0).start().expect("server");
        let fixtures = wire_fixtures();
        for f in &fixtures {
            assert_replays(&server, f);
        }
        fixtures.len()
    });
}

#[test]
fn every_embedded_fixture_is_matched_by_its_recorded_request() {
    within(Duration::from_secs(120), || {
        let server = MockServer::builder().speed(0.0).start().expect("server");
        let fixtures = wire_fixtures();
        let mut duplicates = Vec::new();
        for f in &fixtures {
            server.reset();
            let raw = send_recorded(&server, f, false);
            let answered = server
                .journal()
                .last()
                .and_then(|e| e.cassette.clone())
                .unwrap_or_default();
            if answered == f.name {
                assert_eq!(raw.body, f.response.body.to_bytes(), "{}", f.name);
                continue;
            }
            // Only a cassette with an identical recorded request may answer instead.
            let other = fixtures.iter().find(|o| o.name == answered);
            let twin = other.is_some_and(|o| same_request(o, f));
            assert!(
                twin,
                "{}: its recorded request was answered by {answered:?}",
                f.name
            );
            duplicates.push(format!("{} (answered by {answered})", f.name));
        }
        if !duplicates.is_empty() {
            eprintln!(
                "fixtures whose recorded request another fixture also records: {duplicates:?}"
            );
        }
    });
}

#[test]
fn headers_keep_recorded_order_and_case_and_chunks_stream_with_their_delays() {
    within(Duration::from_secs(30), || {
        let server = MockServer::builder().no_defaults().start().expect("server");
        let c = cassette(&chat_stream("chat/timed", "m-timed", 3, 150));
        server.add_cassette(c.clone());
        let raw = post(
            server.address(),
            CHAT,
            &[],
            &json!({"model": "m-timed", "stream": true}),
        );
        assert_eq!(raw.status, 200);
        assert_eq!(
            &raw.header_lines[..3],
            [
                "Content-Type: text/event-stream;charset=UTF-8",
                "X-Request-ID: r-1",
                "x-dashscope-call-gateway: true"
            ]
        );
        assert_eq!(raw.body, c.response.body.to_bytes());
        // Each chunk after the first arrives at least its delay after the previous one.
        let body_start = raw.head_len;
        let text = String::from_utf8_lossy(&raw.raw[body_start..]).into_owned();
        let offsets: Vec<usize> = ["part0", "part1", "part2", "[DONE]"]
            .iter()
            .map(|p| body_start + text.find(p).unwrap())
            .collect();
        let times: Vec<Duration> = offsets
            .iter()
            .map(|&o| raw.arrival_of_raw_offset(o))
            .collect();
        for w in times.windows(2) {
            assert!(
                w[1] >= w[0] + Duration::from_millis(120),
                "chunks arrived too close together: {times:?}"
            );
        }
    });
}

#[test]
fn speed_factor_and_chunk_delay_scale_the_timing() {
    within(Duration::from_secs(30), || {
        let fast = MockServer::builder()
            .no_defaults()
            .speed(10.0)
            .start()
            .expect("server");
        fast.add_cassette(cassette(&chat_stream("chat/timed", "m", 4, 200)));
        let raw = post(
            fast.address(),
            CHAT,
            &[],
            &json!({"model": "m", "stream": true}),
        );
        let total = raw.reads.last().unwrap().0;
        assert!(
            total < Duration::from_millis(600),
            "4 x 200 ms at speed 10 took {total:?}"
        );
        let slow = MockServer::builder()
            .no_defaults()
            .speed(0.0)
            .chunk_delay(Duration::from_millis(100))
            .start()
            .expect("server");
        slow.add_cassette(cassette(&chat_stream("chat/timed", "m", 4, 200)));
        let raw = post(
            slow.address(),
            CHAT,
            &[],
            &json!({"model": "m", "stream": true}),
        );
        let total = raw.reads.last().unwrap().0;
        assert!(
            total >= Duration::from_millis(400),
            "4 chunk delays of 100 ms took only {total:?}"
        );
    });
}

#[test]
fn a_correct_recorded_content_length_is_kept_in_place_and_a_wrong_one_dropped() {
    within(Duration::from_secs(30), || {
        let server = MockServer::builder().no_defaults().start().expect("server");
        for (name, model, cl) in [("chat/cl-ok", "m1", "2"), ("chat/cl-bad", "m2", "99")] {
            let mut c = chat_json(name, model, "{}");
            c["response"]["headers"] = json!([
                ["Content-Length", cl],
                ["x-request-id", "z"],
                ["Content-Encoding", "gzip"]
            ]);
            server.add_cassette(cassette(&c));
        }
        let ok = post(server.address(), CHAT, &[], &json!({"model": "m1"}));
        assert_eq!(
            &ok.header_lines[..2],
            ["Content-Length: 2", "x-request-id: z"]
        );
        assert!(ok.header("content-encoding").is_none());
        let bad = post(server.address(), CHAT, &[], &json!({"model": "m2"}));
        assert_eq!(bad.header("content-length").as_deref(), Some("2"));
        assert_eq!(bad.body, b"{}");
    });
}
