//! The `test-util` fakes through the real traits: replay, capture, faults.

use std::time::{Duration, Instant};

use bytes::Bytes;
use dashscope_protocol::cassette::Cassette;
use dashscope_transport::test_util::{CaptureTransport, Fault, FaultTransport, ReplayTransport};
use dashscope_transport::{BlockingTransport, Phase, SharedTransport, Transport};

const KEY: &str = "sk-test-capture-SECRETKEY-42";

const NATIVE_PATH: &str = "/api/v1/services/aigc/text-generation/generation";

fn stream_cassette() -> Cassette {
    Cassette::from_json(&format!(
        r#"{{
  "version": 1,
  "name": "native/test-stream",
  "description": "three chunks with delays",
  "source": "synthetic",
  "dialect": "native",
  "request": {{
    "method": "POST",
    "path": "{NATIVE_PATH}",
    "headers": {{"x-dashscope-sse": "enable", "accept": "text/event-stream"}},
    "body": {{"model": "qwen-plus", "input": {{"prompt": "hi"}}, "parameters": {{"incremental_output": true}}}}
  }},
  "response": {{
    "status": 200,
    "headers": [["content-type", "text/event-stream;charset=UTF-8"], ["x-request-id", "rid-1"]],
    "body": {{"chunks": [
      {{"delay_ms": 0, "data": "id:1\nevent:result\ndata:{{\"n\":1}}\n\n"}},
      {{"delay_ms": 120, "data": "id:2\nevent:result\ndata:{{\"n\":2}}\n\n"}},
      {{"delay_ms": 120, "data": "id:3\nevent:result\ndata:{{\"n\":3}}\n\n"}}
    ]}}
  }}
}}"#
    ))
    .expect("cassette")
}

fn json_cassette(name: &str, matcher: &str, priority: i32, once: bool, answer: &str) -> Cassette {
    Cassette::from_json(&format!(
        r#"{{
  "version": 1, "name": "{name}", "description": "d", "dialect": "chat",
  "request": {{"method": "POST", "path": "/compatible-mode/v1/chat/completions",
               "body": {{"model": "qwen-plus"}}}},
  {matcher}
  "priority": {priority}, "once": {once},
  "response": {{"status": 200, "headers": [["content-type", "application/json"]],
                "body": {{"json": {{"answer": "{answer}"}}}}}}
}}"#
    ))
    .expect("cassette")
}

fn native_request(stream: bool, model: &str) -> http::Request<Bytes> {
    let mut b = http::Request::post(format!("https://dashscope.example{NATIVE_PATH}?q=1"))
        .header("authorization", format!("Bearer {KEY}"))
        .header("content-type", "application/json");
    if stream {
        b = b
            .header("X-DashScope-SSE", "enable")
            .header("accept", "text/event-stream");
    }
    let body = format!(
        r#"{{"model":"{model}","input":{{"prompt":"hi"}},"parameters":{{"incremental_output":true,"seed":7}}}}"#
    );
    b.body(Bytes::from(body)).expect("request")
}

fn chat_request(body: &str) -> http::Request<Bytes> {
    http::Request::post("https://x.example/compatible-mode/v1/chat/completions")
        .body(Bytes::from(body.to_owned()))
        .expect("request")
}

async fn body_text(res: http::Response<dashscope_transport::ByteStream>) -> String {
    let bytes = res.into_body().bytes(1 << 20).await.expect("body");
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

#[tokio::test]
async fn replay_streams_chunk_by_chunk_with_delays() {
    let t = ReplayTransport::new([stream_cassette()]);
    let start = Instant::now();
    let res = Transport::send(&t, native_request(true, "qwen-plus"))
        .await
        .expect("response");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-request-id"], "rid-1");
    assert_eq!(
        res.headers()["content-type"],
        "text/event-stream;charset=UTF-8"
    );
    let mut body = res.into_body();
    let mut times = Vec::new();
    let mut chunks = Vec::new();
    while let Some(chunk) = body.next_chunk().await {
        chunks.push(chunk.expect("chunk"));
        times.push(start.elapsed());
    }
    assert_eq!(chunks.len(), 3);
    assert!(chunks[1].starts_with(b"id:2\n"));
    assert!(times[1] >= Duration::from_millis(120), "{times:?}");
    assert!(times[2] >= Duration::from_millis(240), "{times:?}");
}

#[test]
fn replay_blocking_side_serves_the_same_stream() {
    let t = ReplayTransport::new([stream_cassette()]);
    let start = Instant::now();
    let res = BlockingTransport::send(&t, native_request(true, "qwen-plus")).expect("response");
    let chunks: Vec<Bytes> = res.into_body().map(|c| c.expect("chunk")).collect();
    assert_eq!(chunks.len(), 3);
    assert!(start.elapsed() >= Duration::from_millis(240));
    let cassette = stream_cassette();
    assert_eq!(chunks.concat(), cassette.response.body.to_bytes());

    let fast = ReplayTransport::new([stream_cassette()]).without_delays();
    let start = Instant::now();
    let res = BlockingTransport::send(&fast, native_request(true, "qwen-plus")).expect("response");
    assert_eq!(res.into_body().count(), 3);
    assert!(
        start.elapsed() < Duration::from_millis(240),
        "delays were not skipped"
    );
}

#[test]
fn replay_derived_matching_uses_method_path_sse_header_and_partial_body() {
    let t = ReplayTransport::new([stream_cassette()]).without_delays();
    // The request has more members (seed) than recorded: still a match.
    assert!(t.find(&native_request(true, "qwen-plus")).is_some());
    // Non-stream (no x-dashscope-sse): the stream recording does not answer it.
    assert!(t.find(&native_request(false, "qwen-plus")).is_none());
    // Another model: no match.
    assert!(t.find(&native_request(true, "qwen-max")).is_none());
    // Another method: no match.
    let mut get = native_request(true, "qwen-plus");
    *get.method_mut() = http::Method::GET;
    assert!(t.find(&get).is_none());

    let err = BlockingTransport::send(&t, native_request(true, "qwen-max")).expect_err("miss");
    assert_eq!(err.phase(), Phase::Prepare);
    assert!(!err.is_request_sent() && !err.is_connect());
    let cause = std::error::Error::source(&err).expect("cause").to_string();
    assert!(
        cause.contains(NATIVE_PATH) && cause.contains("native/test-stream"),
        "{cause}"
    );
    assert!(!cause.contains("q=1"), "the query is not shown: {cause}");
}

#[tokio::test]
async fn replay_explicit_matchers_priority_and_once() {
    let any = json_cassette("chat/any", r#""match": {"body": {}},"#, 0, false, "any");
    let plus = json_cassette(
        "chat/plus",
        r#""match": {"body": {"model": "qwen-plus"}},"#,
        5,
        false,
        "plus",
    );
    let first = json_cassette(
        "chat/first",
        r#""match": {"body": {"model": "qwen-plus"}},"#,
        9,
        true,
        "first",
    );
    let t = ReplayTransport::new([any, plus, first]);
    let req =
        || chat_request(r#"{"model":"qwen-plus","messages":[{"role":"user","content":"x"}]}"#);
    let answer =
        |s: String| serde_json::from_str::<serde_json::Value>(&s).expect("json")["answer"].clone();
    // `once` with the highest priority answers first, then steps aside for `plus`.
    assert_eq!(
        answer(body_text(Transport::send(&t, req()).await.expect("1")).await),
        "first"
    );
    assert_eq!(
        answer(body_text(Transport::send(&t, req()).await.expect("2")).await),
        "plus"
    );
    assert_eq!(
        answer(body_text(Transport::send(&t, req()).await.expect("3")).await),
        "plus"
    );
    // `{}` matches any JSON object on the recorded method and path, but not a non-JSON body.
    let other = chat_request(r#"{"model":"qwen-max"}"#);
    assert_eq!(
        answer(body_text(Transport::send(&t, other).await.expect("4")).await),
        "any"
    );
    assert!(t.find(&chat_request("not json")).is_none());
    // A stream request is not answered by a non-stream recording.
    assert!(
        t.find(&chat_request(r#"{"model":"qwen-max","stream":true}"#))
            .is_none()
    );
}

#[test]
fn replay_loads_a_directory() {
    let dir = std::env::temp_dir().join(format!("dst-replay-{}", std::process::id()));
    let sub = dir.join("native");
    std::fs::create_dir_all(&sub).expect("mkdir");
    std::fs::write(sub.join("b.json"), stream_cassette().to_json_pretty()).expect("write");
    let chat = json_cassette("chat/a", "", 0, false, "a");
    std::fs::write(dir.join("a.json"), chat.to_json_pretty()).expect("write");
    std::fs::write(dir.join("notes.txt"), "not a cassette").expect("write");
    let t = ReplayTransport::from_dir(&dir).expect("load");
    let names: Vec<&str> = t.cassettes().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["chat/a", "native/test-stream"]);

    std::fs::write(dir.join("broken.json"), "{").expect("write");
    let err = ReplayTransport::from_dir(&dir).expect_err("invalid cassette");
    assert!(err.to_string().contains("broken.json"), "{err}");
    std::fs::remove_dir_all(&dir).expect("clean up");

    assert!(ReplayTransport::from_dir(dir.join("missing")).is_err());
}

#[tokio::test]
async fn capture_records_what_was_sent_and_hides_the_key() {
    let capture = CaptureTransport::new(ReplayTransport::new([stream_cassette()]).without_delays());
    let log = capture.log();
    let shared = SharedTransport::new(capture);
    let res = shared
        .send(native_request(true, "qwen-plus"))
        .await
        .expect("response");
    let want = stream_cassette().response.body.to_bytes();
    assert_eq!(res.into_body().bytes(4096).await.expect("body"), want);

    let recorded = log.last().expect("one request");
    assert_eq!(log.len(), 1);
    assert_eq!(recorded.method, http::Method::POST);
    assert_eq!(recorded.uri.path(), NATIVE_PATH);
    assert_eq!(
        recorded.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(recorded.header("x-dashscope-sse"), Some("enable"));
    assert_eq!(recorded.body_json().expect("json")["parameters"]["seed"], 7);
    let debug = format!("{recorded:?} {log:?} {shared:?}");
    assert!(!debug.contains("SECRETKEY"), "{debug}");
    assert!(
        debug.contains("<redacted>") && debug.contains(NATIVE_PATH),
        "{debug}"
    );
    assert_eq!(log.take().len(), 1);
    assert!(log.is_empty());
}

#[test]
fn capture_works_on_the_blocking_side_and_records_failures_too() {
    let capture = CaptureTransport::new(FaultTransport::always(Fault::ConnectionRefused));
    let err = BlockingTransport::send(&capture, native_request(false, "m")).expect_err("fault");
    assert!(err.is_connect());
    assert_eq!(capture.requests().len(), 1);
}

#[tokio::test]
async fn faults_are_classified_like_real_failures() {
    let cases = [
        (Fault::ConnectionRefused, Phase::Connect, false),
        (Fault::ConnectTimeout, Phase::Connect, true),
        (Fault::ResponseTimeout, Phase::Request, true),
        (Fault::ConnectionReset, Phase::Request, false),
    ];
    for (fault, phase, timeout) in cases {
        let t = FaultTransport::always(fault.clone());
        let a = Transport::send(&t, native_request(false, "m"))
            .await
            .expect_err("async");
        let b = BlockingTransport::send(&t, native_request(false, "m")).expect_err("blocking");
        for err in [a, b] {
            assert_eq!(err.phase(), phase, "{fault:?}");
            assert_eq!(err.is_timeout(), timeout, "{fault:?}");
            assert_eq!(err.is_request_sent(), phase == Phase::Request, "{fault:?}");
        }
    }
}

#[tokio::test]
async fn body_faults_fail_after_their_chunks() {
    for (fault, timeout) in [
        (Fault::reset_after(["data: 1\n\n", "data: 2\n\n"]), false),
        (Fault::stall_after(["data: 1\n\n", "data: 2\n\n"]), true),
    ] {
        let t = FaultTransport::always(fault);
        let res = Transport::send(&t, native_request(true, "m"))
            .await
            .expect("response");
        assert_eq!(res.status(), 200);
        let mut body = res.into_body();
        assert_eq!(
            body.next_chunk().await.expect("1").expect("ok"),
            "data: 1\n\n"
        );
        assert_eq!(
            body.next_chunk().await.expect("2").expect("ok"),
            "data: 2\n\n"
        );
        let err = body.next_chunk().await.expect("error").expect_err("fails");
        assert!(err.is_body() && err.is_request_sent());
        assert_eq!(err.is_timeout(), timeout);
        assert!(body.next_chunk().await.is_none());

        let res = BlockingTransport::send(&t, native_request(true, "m")).expect("response");
        let items: Vec<_> = res.into_body().collect();
        assert_eq!(items.len(), 3);
        assert!(
            items[2]
                .as_ref()
                .is_err_and(|e| e.is_body() && e.is_timeout() == timeout)
        );
    }
}

#[tokio::test]
async fn queued_faults_come_first_then_requests_pass_through() {
    let replay = ReplayTransport::new([stream_cassette()]).without_delays();
    let throttled = Fault::response(429, [("retry-after", "1")], r#"{"code":"Throttling"}"#);
    let t = FaultTransport::wrap(replay, [throttled, Fault::status(503)]);
    assert_eq!(t.remaining(), 2);

    let res = Transport::send(&t, native_request(true, "qwen-plus"))
        .await
        .expect("429");
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "1");
    assert_eq!(body_text(res).await, r#"{"code":"Throttling"}"#);
    let res = BlockingTransport::send(&t, native_request(true, "qwen-plus")).expect("503");
    assert_eq!(res.status(), 503);
    assert_eq!(res.into_body().count(), 0);
    let res = Transport::send(&t, native_request(true, "qwen-plus"))
        .await
        .expect("replayed");
    assert_eq!(res.headers()["x-request-id"], "rid-1");

    t.push(Fault::ConnectionReset);
    let err = BlockingTransport::send(&t, native_request(true, "qwen-plus")).expect_err("reset");
    assert!(err.is_request_sent());
    assert_eq!(t.remaining(), 0);
}

#[test]
fn invalid_canned_responses_are_errors_not_panics() {
    let t = FaultTransport::always(Fault::response(42, [("x", "y")], ""));
    let err = BlockingTransport::send(&t, native_request(false, "m")).expect_err("bad status");
    assert_eq!(err.phase(), Phase::Prepare);
    let t = FaultTransport::always(Fault::response(200, [("bad header", "y")], ""));
    assert!(BlockingTransport::send(&t, native_request(false, "m")).is_err());
    let t = FaultTransport::wrap((), []);
    assert!(BlockingTransport::send(&t, native_request(false, "m")).is_err());
}
