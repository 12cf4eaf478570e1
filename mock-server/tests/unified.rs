//! Unified cassettes over TCP: one answer written in the unified model (`fixtures/unified/`)
//! replays in every dialect, stream or not; it is matched on the conversation whatever form
//! the request takes; a tool-call round trip replays turn by turn; and the cassette is listed,
//! explained and added like any other.

mod common;

use common::*;
use dashscope_mock::MockServer;
use dashscope_protocol::cassette::{
    AnyCassette, Cassette, CassetteError, Dialect, UnifiedCassette,
};
use dashscope_protocol::sse::{Decoder, Mode};
use dashscope_protocol::unified::{
    Conversation, DialectChunk, DialectRequest, DialectResponse, StreamReader, UnifiedResponse,
};
use serde_json::{Value, json};

const LEGACY: &str = "/api/v2/apps/protocols/compatible-mode/v1/responses";

/// The embedded unified fixtures: their path under `fixtures/`, text and cassette.
fn unified_fixtures() -> Vec<(String, String, UnifiedCassette)> {
    let out: Vec<(String, String, UnifiedCassette)> = fixture_files()
        .into_iter()
        .filter_map(|(path, text, c)| match c {
            AnyCassette::Unified(u) => Some((path, text, u)),
            AnyCassette::Wire(_) => None,
        })
        .collect();
    assert!(
        out.len() >= 3,
        "expected the unified fixtures, got {}",
        out.len()
    );
    out
}

fn unified_fixture(name: &str) -> UnifiedCassette {
    unified_fixtures()
        .into_iter()
        .map(|(_, _, u)| u)
        .find(|u| u.name == name)
        .unwrap_or_else(|| panic!("no unified fixture {name}"))
}

/// The request body of `conv` in `dialect` the way a client streams (or not): chat with
/// `stream_options.include_usage`, native with `result_format: message` and incremental
/// output.
fn body_of(conv: &Conversation, dialect: Dialect, stream: bool) -> Value {
    let mut body = conv.to_request(dialect).expect("convertible").to_json();
    match dialect {
        Dialect::Chat if stream => {
            body["stream"] = json!(true);
            body["stream_options"] = json!({"include_usage": true});
        }
        Dialect::Responses if stream => body["stream"] = json!(true),
        Dialect::Native => {
            body["parameters"]["result_format"] = json!("message");
            if stream {
                body["parameters"]["incremental_output"] = json!(true);
            }
        }
        _ => {}
    }
    body
}

fn dialect_of(path: &str) -> Dialect {
    if path == CHAT {
        Dialect::Chat
    } else if path.ends_with("/responses") {
        Dialect::Responses
    } else {
        Dialect::Native
    }
}

/// Sends `body` to `path` and reads the answer back through the protocol crate's unified
/// readers.
fn ask(s: &MockServer, path: &str, body: &Value, stream: bool) -> (Raw, UnifiedResponse) {
    let d = dialect_of(path);
    let sse: &[(&str, &str)] = if stream && d == Dialect::Native {
        &[
            ("x-dashscope-sse", "enable"),
            ("accept", "text/event-stream"),
        ]
    } else {
        &[]
    };
    let raw = post(s.address(), path, sse, body);
    assert_eq!(raw.status, 200, "{path} {body}: {}", raw.text());
    let request = DialectRequest::from_json(d, body).expect("a valid request");
    if !stream {
        let v = raw.json();
        let response = DialectResponse::from_json(d, &v).expect("a response of the dialect");
        return (raw, UnifiedResponse::from_response(&response));
    }
    assert_eq!(
        raw.header("content-type").as_deref(),
        Some("text/event-stream;charset=UTF-8")
    );
    let mode = if d == Dialect::Chat {
        Mode::Standard
    } else {
        Mode::DataLineIsEvent
    };
    let mut dec = Decoder::with_mode(mode);
    dec.feed(&raw.body);
    dec.finish();
    let mut reader = StreamReader::for_request(&request);
    let mut unified = Vec::new();
    let mut events = 0;
    while let Some(ev) = dec.next_event() {
        let ev = ev.expect("well-framed SSE");
        if ev.data == "[DONE]" {
            continue;
        }
        let v: Value = serde_json::from_str(ev.data).expect("JSON data");
        let chunk = DialectChunk::from_json(d, &v).expect("a chunk of the dialect");
        reader.read(chunk, &mut unified);
        events += 1;
    }
    assert!(events >= 2, "{path}: a stream of {events} event(s)");
    (raw, fold(&unified))
}

/// What every dialect must tell alike: text, reasoning, tool calls (id, name, arguments),
/// finish reason and usage (input, output, total, reasoning; Responses always says its
/// reasoning count, so none counts as 0).
fn essentials(r: &UnifiedResponse) -> Value {
    let c = r.first().cloned().unwrap_or_default();
    let u = r.usage.clone().unwrap_or_default();
    json!({
        "text": c.text,
        "reasoning": c.reasoning,
        "tool_calls": c.tool_calls.iter().map(|t| json!([t.id, t.name, t.arguments])).collect::<Vec<_>>(),
        "finish_reason": c.finish_reason.map(|f| f.as_str().to_owned()),
        "usage": [u.input_tokens, u.output_tokens, u.total_tokens, u.reasoning_tokens.unwrap_or(0)],
    })
}

/// The last journal entry's outcome and cassette.
fn answered_by(s: &MockServer) -> (String, Option<String>) {
    let e = s.journal().pop().expect("a journal entry");
    (e.outcome, e.cassette)
}

#[test]
fn unified_fixtures_are_consistent_and_refused_as_wire_cassettes() {
    for (path, text, u) in unified_fixtures() {
        assert_eq!(format!("{}.json", u.name), path);
        assert!(u.name.starts_with("unified/"), "{}", u.name);
        assert!(
            u.source.as_deref().is_some_and(|s| s.contains("synthetic")),
            "{}: a written cassette is marked synthetic",
            u.name
        );
        let usage = u.answer().usage.clone().expect("usage");
        assert_eq!(
            usage.total_tokens,
            usage.input_tokens + usage.output_tokens,
            "{}",
            u.name
        );
        assert!(usage.reasoning_tokens.unwrap_or(0) <= usage.output_tokens);
        assert!(matches!(
            Cassette::from_json(&text),
            Err(CassetteError::Unified { name }) if name == u.name
        ));
    }
}

#[test]
fn every_unified_fixture_replays_in_every_dialect_stream_or_not() {
    let server = MockServer::builder().speed(0.0).start().expect("server");
    for (_, _, u) in unified_fixtures() {
        let want = essentials(u.answer());
        let id = u.answer().id.clone().expect("an id");
        for path in [CHAT, RESPONSES, LEGACY, NATIVE] {
            for stream in [false, true] {
                let body = body_of(&u.request, dialect_of(path), stream);
                let (raw, got) = ask(&server, path, &body, stream);
                let what = format!("{} via {path} (stream {stream})", u.name);
                assert_eq!(
                    answered_by(&server),
                    ("cassette".to_owned(), Some(u.name.clone())),
                    "{what}"
                );
                assert_eq!(essentials(&got), want, "{what}");
                assert_eq!(raw.header("x-request-id"), Some(id.clone()), "{what}");
                if dialect_of(path) != Dialect::Native {
                    assert_eq!(got.model.as_deref(), Some("qwen-plus"), "{what}");
                }
            }
        }
    }
}

#[test]
fn the_same_request_gets_the_same_bytes() {
    let server = MockServer::builder().speed(0.0).start().expect("server");
    let u = unified_fixture("unified/thinking-answer");
    for path in [CHAT, RESPONSES, NATIVE] {
        let body = body_of(&u.request, dialect_of(path), true);
        let (a, _) = ask(&server, path, &body, true);
        let (b, _) = ask(&server, path, &body, true);
        assert_eq!(a.body, b.body, "{path}");
        assert_eq!(a.header("req-arrive-time"), b.header("req-arrive-time"));
    }
}

#[test]
fn a_unified_cassette_matches_the_conversation_not_the_wire_form() {
    let server = MockServer::builder().speed(0.0).start().expect("server");
    let u = unified_fixture("unified/thinking-answer");
    let question = "Why is the sky blue? Answer in one sentence.";
    let want = essentials(u.answer());
    // Native `input.prompt`, no system message; Responses `instructions` and a string input;
    // chat with the question as a list of parts.
    let forms = [
        (
            NATIVE,
            json!({"model": "qwen-plus", "input": {"prompt": question}, "parameters": {"result_format": "message"}}),
        ),
        (
            RESPONSES,
            json!({"model": "qwen-plus", "instructions": "Be brief.", "input": question}),
        ),
        (
            CHAT,
            json!({"model": "qwen-plus", "messages": [{"role": "user", "content": [{"type": "text", "text": question}]}]}),
        ),
    ];
    for (path, body) in forms {
        let (_, got) = ask(&server, path, &body, false);
        assert_eq!(
            answered_by(&server),
            ("cassette".to_owned(), Some(u.name.clone())),
            "{path}"
        );
        assert_eq!(essentials(&got), want, "{path}");
    }
    // Another question, or another model, goes to the synthetic responder.
    let other = json!({"model": "qwen-plus", "messages": [{"role": "user", "content": "Why is grass green?"}]});
    ask(&server, CHAT, &other, false);
    assert_eq!(answered_by(&server).0, "responder");
    let other_model =
        json!({"model": "qwen-max", "messages": [{"role": "user", "content": question}]});
    ask(&server, CHAT, &other_model, false);
    assert_eq!(answered_by(&server).0, "responder");
}

#[test]
fn a_tool_call_round_trip_replays_turn_by_turn_in_every_dialect() {
    let server = MockServer::builder().speed(0.0).start().expect("server");
    let first = unified_fixture("unified/tool-call");
    let second = unified_fixture("unified/tool-result-answer");
    for path in [CHAT, RESPONSES, NATIVE] {
        let d = dialect_of(path);
        for stream in [false, true] {
            let (_, call) = ask(&server, path, &body_of(&first.request, d, stream), stream);
            assert_eq!(answered_by(&server).1.as_deref(), Some("unified/tool-call"));
            let calls = call.tool_calls();
            assert_eq!(calls.len(), 1, "{path}");
            assert_eq!(calls[0].name, "get_current_weather");
            // The next turn: the answer, then the tool's result.
            let next = first
                .request
                .clone()
                .answer(&call)
                .tool_result(calls[0].id.clone(), "Hangzhou: sunny, 24 °C");
            let (_, answer) = ask(&server, path, &body_of(&next, d, stream), stream);
            assert_eq!(
                answered_by(&server).1.as_deref(),
                Some("unified/tool-result-answer"),
                "{path} (stream {stream})"
            );
            assert_eq!(answer.text(), second.answer().text(), "{path}");
        }
    }
}

#[test]
fn unified_cassettes_are_added_listed_and_explained_like_any_other() {
    let server = MockServer::builder()
        .no_defaults()
        .strict(true)
        .speed(0.0)
        .start()
        .expect("server");
    let text = json!({
        "version": 1,
        "name": "unified/runtime",
        "description": "test-only",
        "source": "synthetic (dashscope-mock tests)",
        "request": {"model": "qwen-plus", "messages": [{"role": "user", "parts": [{"type": "text", "text": "ping"}]}]},
        "match": {"model": "qwen-plus", "last_user_message_contains": "ping", "dialects": ["chat", "native"], "stream": false},
        "once": true,
        "response": {"unified": {"candidates": [{"index": 0, "text": "pong", "finish_reason": "stop"}],
                                 "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}}}
    });
    // Over the admin API.
    let added = post(server.address(), "/__mock/cassettes", &[], &text);
    assert_eq!(added.status, 201, "{}", added.text());
    assert_eq!(added.json()["added"], json!(["unified/runtime"]));
    let listed = send(server.address(), "GET", "/__mock/cassettes", &[], b"");
    assert_eq!(listed.json()[0]["name"], "unified/runtime");

    // Not for Responses, not for streams: the strict 404 explains why.
    let responses = json!({"model": "qwen-plus", "input": "ping"});
    let raw = post(server.address(), RESPONSES, &[], &responses);
    assert_eq!(raw.status, 404);
    let why = raw.text();
    assert!(why.contains("unified/runtime"), "{why}");
    assert!(
        why.contains("dialect: the cassette does not answer responses"),
        "{why}"
    );
    let chat_stream = json!({"model": "qwen-plus", "stream": true, "messages": [{"role": "user", "content": "ping?"}]});
    assert_eq!(post(server.address(), CHAT, &[], &chat_stream).status, 404);

    // A native request answers once (a derived id, the same in every rendering), then the
    // cassette steps aside.
    let native = json!({"model": "qwen-plus", "input": {"messages": [{"role": "user", "content": "ping!"}]}});
    let (raw, got) = ask(&server, NATIVE, &native, false);
    assert_eq!(got.text(), "pong");
    let id = raw.header("x-request-id").expect("x-request-id");
    assert_eq!(id.len(), 36, "{id}");
    assert_eq!(raw.json()["request_id"], id.as_str());
    assert_eq!(post(server.address(), NATIVE, &[], &native).status, 404);

    // Through the state, in Rust.
    server.reset();
    let u = UnifiedCassette::from_json(&text.to_string()).unwrap();
    server.state().add_unified(u);
    let chat = json!({"model": "qwen-plus", "messages": [{"role": "user", "content": "ping"}]});
    let (_, got) = ask(&server, CHAT, &chat, false);
    assert_eq!(got.text(), "pong");
    assert_eq!(
        answered_by(&server),
        ("cassette".to_owned(), Some("unified/runtime".to_owned()))
    );
}
