//! `client.conversation(dialect)`: one conversation, any dialect, against the mock server.
//!
//! The same unified answer (text, reasoning, tool calls, usage, finish reason) on all three
//! dialects, stream and non-stream, async and blocking: from the synthetic responder and from
//! the unified cassettes under `mock-server/fixtures/unified/`; a tool-call round trip on each
//! dialect; the stream's events, passthroughs and partial answers; conversions a dialect cannot
//! carry.

mod support;

use std::path::PathBuf;

use dashscope_protocol::cassette::UnifiedCassette;
use dashscope_provider::conversation::{
    Candidate, Conversation, Dialect, FinishReason, FunctionTool, ToolCall, ToolChoice,
    UnifiedEvent, UnifiedResponse,
};
use dashscope_provider::{Client, Error, blocking};
use serde_json::{Value, json};
use support::*;

/// Runs an async test body on a multi-thread runtime, bounded by the test timeout.
fn run<F: std::future::Future<Output = ()>>(f: F) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(async {
            tokio::time::timeout(TEST_TIMEOUT, f)
                .await
                .expect("the test timed out");
        });
}

fn async_client(server: &dashscope_mock::MockServer) -> Client {
    Client::new(config(server).build().expect("config")).expect("client")
}

fn blocking_client(server: &dashscope_mock::MockServer) -> blocking::Client {
    blocking::Client::new(config(server).build().expect("config")).expect("client")
}

/// What every dialect must tell alike: text, reasoning, tool calls (with their ids when
/// `ids`), finish reason and usage (Responses always counts reasoning tokens, so none is 0).
fn essentials(r: &UnifiedResponse, ids: bool) -> Value {
    let c = r.first().cloned().unwrap_or_default();
    let u = r.usage.clone().unwrap_or_default();
    json!({
        "text": c.text,
        "reasoning": c.reasoning,
        "tool_calls": c.tool_calls.iter().map(|t| {
            let id = if ids { t.id.clone() } else { String::new() };
            json!([id, t.name, t.arguments])
        }).collect::<Vec<_>>(),
        "finish_reason": c.finish_reason.map(|f| f.as_str().to_owned()),
        "usage": [u.input_tokens, u.output_tokens, u.total_tokens, u.reasoning_tokens.unwrap_or(0)],
    })
}

/// The answer the events of candidate 0 describe (text, reasoning and arguments concatenated,
/// the last finish reason and usage win).
fn fold(events: &[UnifiedEvent]) -> UnifiedResponse {
    let mut c = Candidate::default();
    let mut usage = None;
    for e in events {
        let call = |c: &mut Candidate, index: u32| -> usize {
            let i = usize::try_from(index).expect("a small index");
            if c.tool_calls.len() <= i {
                c.tool_calls.resize(i + 1, ToolCall::default());
            }
            i
        };
        match e {
            UnifiedEvent::TextDelta { text, .. } => c.text.push_str(text),
            UnifiedEvent::ReasoningDelta { text, .. } => c.reasoning.push_str(text),
            UnifiedEvent::ToolCallStart {
                index, id, name, ..
            } => {
                let i = call(&mut c, *index);
                c.tool_calls[i].id.clone_from(id);
                c.tool_calls[i].name.clone_from(name);
            }
            UnifiedEvent::ToolCallArguments { index, delta, .. } => {
                let i = call(&mut c, *index);
                c.tool_calls[i].arguments.push_str(delta);
            }
            UnifiedEvent::ToolCallDone {
                index, arguments, ..
            } => {
                let i = call(&mut c, *index);
                c.tool_calls[i].arguments.clone_from(arguments);
            }
            UnifiedEvent::Finish { reason, .. } => c.finish_reason = Some(reason.clone()),
            UnifiedEvent::Usage(u) => usage = Some(u.clone()),
            UnifiedEvent::Meta { .. }
            | UnifiedEvent::Passthrough(_)
            | UnifiedEvent::AudioDelta { .. } => {}
        }
    }
    UnifiedResponse {
        candidates: vec![c],
        usage,
        ..Default::default()
    }
}

/// The unified cassette `unified/<name>`.
fn unified_cassette(name: &str) -> UnifiedCassette {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/unified")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    UnifiedCassette::from_json(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn weather_tool() -> FunctionTool {
    FunctionTool::new(
        "get_current_weather",
        "Gets the current weather in a city.",
        json!({
            "type": "object",
            "properties": {"location": {"type": "string", "description": "The city."}},
            "required": ["location"],
        }),
    )
}

/// Conversations for the synthetic responder: plain text, thinking, a forced tool call.
fn synthetic_conversations() -> Vec<(&'static str, Conversation)> {
    vec![
        (
            "text",
            Conversation::new("qwen-plus")
                .system("You are a helpful assistant.")
                .user("Tell me about the West Lake in Hangzhou.")
                .temperature(0.7)
                .max_tokens(400),
        ),
        (
            "thinking",
            Conversation::new("qwen-plus")
                .user("Is 1,001 a prime number?")
                .thinking(true),
        ),
        (
            "tool call",
            Conversation::new("qwen-plus")
                .user("What's the weather in Hangzhou?")
                .tool(weather_tool())
                .tool_choice(ToolChoice::Required),
        ),
    ]
}

/// The answer of `conv` in every dialect, stream and not, through the async client.
async fn async_answers(client: &Client, conv: &Conversation) -> Vec<(String, UnifiedResponse)> {
    let mut out = Vec::new();
    for d in Dialect::ALL {
        let reply = client
            .conversation(d)
            .send(conv.clone())
            .await
            .expect("send");
        assert_eq!(reply.status(), 200);
        assert!(reply.request_id().is_some());
        out.push((format!("async {d} send"), reply.into_inner()));
        let stream = client
            .conversation(d)
            .stream(conv.clone())
            .await
            .expect("stream");
        assert_eq!(stream.dialect(), d);
        out.push((
            format!("async {d} stream"),
            stream.accumulate().await.expect("accumulate"),
        ));
    }
    out
}

/// The same through the blocking client.
fn blocking_answers(
    client: &blocking::Client,
    conv: &Conversation,
) -> Vec<(String, UnifiedResponse)> {
    let mut out = Vec::new();
    for d in Dialect::ALL {
        let reply = client.conversation(d).send(conv.clone()).expect("send");
        out.push((format!("blocking {d} send"), reply.into_inner()));
        let stream = client.conversation(d).stream(conv.clone()).expect("stream");
        out.push((
            format!("blocking {d} stream"),
            stream.accumulate().expect("accumulate"),
        ));
    }
    out
}

/// Every answer has the essentials of the first, which is not empty.
#[track_caller]
fn assert_all_agree(what: &str, answers: &[(String, UnifiedResponse)], ids: bool) {
    let (first_name, first) = &answers[0];
    assert!(
        !first.text().is_empty() || !first.tool_calls().is_empty(),
        "{what}: {first_name} is empty"
    );
    let want = essentials(first, ids);
    for (name, got) in answers {
        assert_eq!(
            essentials(got, ids),
            want,
            "{what}: {name} differs from {first_name}"
        );
    }
}

#[test]
fn the_synthetic_answer_is_the_same_in_every_dialect_async_and_blocking() {
    let server = server();
    for (what, conv) in synthetic_conversations() {
        let mut answers = Vec::new();
        run(async {
            answers.extend(async_answers(&async_client(&server), &conv).await);
        });
        answers.extend(blocking_answers(&blocking_client(&server), &conv));
        assert_eq!(answers.len(), 12);
        // Synthetic call ids are per request; everything else must agree.
        assert_all_agree(what, &answers, false);
        let first = &answers[0].1;
        match what {
            "thinking" => assert!(!first.reasoning().is_empty(), "thinking gives reasoning"),
            "tool call" => {
                assert_eq!(first.tool_calls()[0].name, "get_current_weather");
                assert_eq!(first.finish_reason(), Some(&FinishReason::ToolCalls));
            }
            _ => assert_eq!(first.finish_reason(), Some(&FinishReason::Stop)),
        }
    }
    let answered: Vec<String> = journal(&server).iter().map(|e| e.outcome.clone()).collect();
    assert!(answered.iter().all(|o| o == "responder"), "{answered:?}");
}

#[test]
fn a_unified_cassette_gives_its_answer_in_every_dialect_async_and_blocking() {
    let server = server();
    for name in ["thinking-answer", "tool-call", "tool-result-answer"] {
        let cassette = unified_cassette(name);
        let mut answers = Vec::new();
        run(async {
            answers.extend(async_answers(&async_client(&server), &cassette.request).await);
        });
        answers.extend(blocking_answers(
            &blocking_client(&server),
            &cassette.request,
        ));
        let want = essentials(cassette.answer(), true);
        for (how, got) in &answers {
            assert_eq!(essentials(got, true), want, "{name}: {how}");
        }
        let by: Vec<Option<String>> = journal(&server)
            .iter()
            .rev()
            .take(12)
            .map(|e| e.cassette.clone())
            .collect();
        let expected = Some(format!("unified/{name}"));
        assert!(
            by.iter().all(|c| *c == expected),
            "{name}: answered by {by:?}"
        );
    }
}

/// A tool-call round trip through the unified API: the model calls the function, the program
/// answers with the result, the model answers in text.
#[test]
fn a_tool_call_round_trip_works_on_every_dialect() {
    let server = server();
    let start = Conversation::new("qwen-plus")
        .system("You are a helpful assistant.")
        .user("What is the weather like in Hangzhou? Use get_current_weather.")
        .tool(weather_tool());
    run(async {
        let client = async_client(&server);
        for d in Dialect::ALL {
            for stream in [false, true] {
                let first = if stream {
                    client
                        .conversation(d)
                        .stream(start.clone())
                        .await
                        .unwrap()
                        .accumulate()
                        .await
                } else {
                    client
                        .conversation(d)
                        .send(start.clone())
                        .await
                        .map(|r| r.into_inner())
                }
                .unwrap_or_else(|e| panic!("{d}: {e}"));
                let calls = first.tool_calls();
                assert_eq!(calls.len(), 1, "{d} (stream {stream}): {first:?}");
                assert_eq!(calls[0].name, "get_current_weather");
                let args: Value =
                    serde_json::from_str(&calls[0].arguments).expect("JSON arguments");
                assert!(args["location"].is_string(), "{args}");
                let next = start
                    .clone()
                    .answer(&first)
                    .tool_result(calls[0].id.clone(), "Hangzhou: sunny, 24 °C");
                let answer = client
                    .conversation(d)
                    .send(next.clone())
                    .await
                    .expect("second turn");
                assert!(answer.tool_calls().is_empty(), "{d}: {answer:?}");
                assert_eq!(answer.finish_reason(), Some(&FinishReason::Stop));
                assert!(
                    answer.text().contains("sunny, 24 °C"),
                    "{d}: the answer quotes the result: {}",
                    answer.text()
                );
            }
        }
    });
    // Blocking, and from the unified cassettes: the recorded call, then the recorded answer.
    let client = blocking_client(&server);
    let first_turn = unified_cassette("tool-call");
    let second_turn = unified_cassette("tool-result-answer");
    for d in Dialect::ALL {
        let call = client
            .conversation(d)
            .send(first_turn.request.clone())
            .unwrap()
            .into_inner();
        let id = call.tool_calls()[0].id.clone();
        let next = first_turn
            .request
            .clone()
            .answer(&call)
            .tool_result(id, "Hangzhou: sunny, 24 °C");
        let answer = client
            .conversation(d)
            .stream(next.clone())
            .unwrap()
            .accumulate()
            .unwrap();
        assert_eq!(answer.text(), second_turn.answer().text(), "{d}");
    }
}

#[test]
fn stream_events_fold_into_the_accumulated_answer() {
    let server = server();
    let cassette = unified_cassette("thinking-answer");
    run(async {
        use futures_util::StreamExt;
        let client = async_client(&server);
        for d in Dialect::ALL {
            // The events handed out fold into the same answer `accumulate` gives.
            let mut stream = client
                .conversation(d)
                .stream(cassette.request.clone())
                .await
                .unwrap();
            assert_eq!(stream.status(), 200);
            assert_eq!(stream.request_id(), cassette.answer().id.as_deref());
            let mut events = Vec::new();
            while let Some(e) = stream.next_event().await {
                let e = e.expect("an event");
                assert!(
                    !matches!(e, UnifiedEvent::Passthrough(_)),
                    "{d}: no passthrough"
                );
                events.push(e);
            }
            assert!(stream.is_finished());
            assert!(events.len() > 3, "{d}: {} events", events.len());
            let folded = fold(&events);
            assert_eq!(
                essentials(&folded, true),
                essentials(cassette.answer(), true),
                "{d}"
            );
            assert_eq!(
                essentials(&stream.snapshot(), true),
                essentials(cassette.answer(), true),
                "{d}: snapshot"
            );

            // With passthroughs: one per wire chunk, each of the stream's dialect.
            let stream = client
                .conversation(d)
                .stream(cassette.request.clone())
                .await
                .unwrap()
                .with_passthrough(true);
            let events: Vec<UnifiedEvent> = stream.map(|e| e.expect("an event")).collect().await;
            let passthroughs: Vec<&UnifiedEvent> = events
                .iter()
                .filter(|e| matches!(e, UnifiedEvent::Passthrough(_)))
                .collect();
            assert!(passthroughs.len() >= 3, "{d}");
            assert!(
                passthroughs
                    .iter()
                    .all(|e| matches!(e, UnifiedEvent::Passthrough(c) if c.dialect() == d))
            );
            // Each chunk comes before its events: the events fold as before.
            assert_eq!(
                essentials(&fold(&events), true),
                essentials(cassette.answer(), true),
                "{d}: with passthroughs"
            );
        }
    });
    // Blocking: the iterator gives the same events.
    let client = blocking_client(&server);
    for d in Dialect::ALL {
        let stream = client
            .conversation(d)
            .stream(cassette.request.clone())
            .unwrap();
        let events: Vec<UnifiedEvent> = stream.map(|e| e.expect("an event")).collect();
        assert_eq!(
            essentials(&fold(&events), true),
            essentials(cassette.answer(), true),
            "{d}"
        );
    }
}

#[test]
fn a_broken_stream_keeps_its_partial_answer() {
    let server = server();
    server.add_fault("cut-after=4").expect("a valid fault");
    let cassette = unified_cassette("thinking-answer");
    let full = cassette.answer();
    let check = |d: Dialect, result: Result<UnifiedResponse, Error>| {
        let Err(Error::Stream { partial, .. }) = result else {
            panic!("{d}: expected a stream error, got {result:?}");
        };
        let got = partial.to_unified();
        let seen = format!("{}{}", got.reasoning(), got.text());
        assert!(!seen.is_empty(), "{d}: something arrived");
        assert!(
            full.reasoning().starts_with(got.reasoning()) && full.text().starts_with(got.text()),
            "{d}: the partial answer is a prefix: {got:?}"
        );
        assert!(
            seen.len() < full.reasoning().len() + full.text().len(),
            "{d}"
        );
    };
    run(async {
        let client = async_client(&server);
        for d in Dialect::ALL {
            let stream = client
                .conversation(d)
                .stream(cassette.request.clone())
                .await
                .unwrap();
            check(d, stream.accumulate().await);
        }
    });
    let client = blocking_client(&server);
    for d in Dialect::ALL {
        let stream = client
            .conversation(d)
            .stream(cassette.request.clone())
            .unwrap();
        check(d, stream.accumulate());
    }
}

#[test]
fn the_wire_requests_carry_what_each_dialect_needs() {
    let server = server();
    let conv = Conversation::new("qwen-plus").user("Hello there");
    let client = blocking_client(&server);
    for d in Dialect::ALL {
        client.conversation(d).send(conv.clone()).unwrap();
        client
            .conversation(d)
            .stream(conv.clone())
            .unwrap()
            .accumulate()
            .unwrap();
    }
    let entries = journal(&server);
    assert_eq!(entries.len(), 6);
    let body = |i: usize| entries[i].body.clone().expect("a JSON body");
    // chat: non-stream has no stream flags; the stream asks for the usage.
    assert!(body(0).get("stream").is_none());
    assert_eq!(body(1)["stream"], true);
    assert_eq!(body(1)["stream_options"]["include_usage"], true);
    // Responses.
    assert!(body(2).get("stream").is_none());
    assert_eq!(body(3)["stream"], true);
    // native: the message format, incremental stream, the SSE header.
    assert_eq!(body(4)["parameters"]["result_format"], "message");
    assert!(body(4)["parameters"].get("incremental_output").is_none());
    assert_eq!(body(5)["parameters"]["result_format"], "message");
    assert_eq!(body(5)["parameters"]["incremental_output"], true);
    let sse = entries[5]
        .headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("x-dashscope-sse") && v == "enable");
    assert!(sse, "{:?}", entries[5].headers);
}

#[test]
fn a_conversation_a_dialect_cannot_carry_is_refused_before_sending() {
    let server = server();
    let mut conv = Conversation::new("qwen-plus").user("Two answers, please");
    conv.sampling.n = Some(2);
    let client = blocking_client(&server);
    let err = client
        .conversation(Dialect::Responses)
        .send(conv.clone())
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { .. }), "{err:?}");
    assert!(err.to_string().contains("responses"), "{err}");
    let err = client
        .conversation(Dialect::Responses)
        .stream(conv.clone())
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { .. }), "{err:?}");
    run(async {
        let client = async_client(&server);
        let err = client
            .conversation(Dialect::Responses)
            .send(conv.clone())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidRequest { .. }), "{err:?}");
    });
    assert!(journal(&server).is_empty(), "nothing was sent");
    // The dialects that can carry it answer with two candidates.
    let reply = client
        .conversation(Dialect::Chat)
        .send(conv.clone())
        .unwrap();
    assert_eq!(reply.candidates.len(), 2);
}

#[test]
fn dialect_names_parse() {
    for d in Dialect::ALL {
        assert_eq!(d.to_string().parse::<Dialect>().unwrap(), d);
    }
    assert!("graphql".parse::<Dialect>().is_err());
    // The group says which dialect it speaks.
    let server = server();
    let client = async_client(&server);
    assert_eq!(
        client.conversation(Dialect::Native).dialect(),
        Dialect::Native
    );
}
