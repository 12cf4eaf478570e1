//! Over TCP: mounted mocks with expected call counts, custom matchers, scenarios, and the
//! report of unmet expectations (issue 16, item 5).

mod common;

use std::time::Duration;

use common::*;
use dashscope_mock::{Mock, MockRequest, MockServer, RecordedResponse, Times, UnifiedCassette};
use serde_json::json;

fn ask(s: &MockServer, text: &str) -> Raw {
    let body = json!({"model": "qwen-plus", "messages": [{"role": "user", "content": text}]});
    post(s.address(), CHAT, &[], &body)
}

/// A matcher on the last user message's text.
fn says(text: &'static str) -> impl Fn(&MockRequest<'_>) -> bool + Send + Sync {
    move |r: &MockRequest<'_>| {
        r.json["messages"]
            .as_array()
            .and_then(|m| m.last())
            .is_some_and(|m| m["content"] == text)
    }
}

#[test]
fn a_mounted_mock_answers_counts_and_verifies() {
    within(Duration::from_secs(30), || {
        let s = MockServer::builder().seed(1).start().expect("server");
        let answer = cassette(&chat_json("chat/weather", "qwen-plus", "sunny"));
        s.mount(
            Mock::given(says("weather?"))
                .respond_with(answer)
                .named("weather")
                .expect(1..=2),
        );
        let r = ask(&s, "weather?");
        assert_eq!(
            (r.text().as_str(), r.header("x-mock-source").as_deref()),
            ("sunny", Some("mock weather"))
        );
        assert_eq!(s.journal().last().unwrap().outcome, "mock");
        // Others go on to the cassettes and the synthetic responder.
        assert_eq!(
            ask(&s, "hello").header("x-mock-source").as_deref(),
            Some("synthetic")
        );
        assert_eq!(s.verify(), Ok(()));
        ask(&s, "weather?");
        assert_eq!(s.verify(), Ok(()));
        ask(&s, "weather?");
        let report = s.verify().unwrap_err().to_string();
        assert!(
            report.contains("mock weather: expected from 1 to 2 requests, got 3"),
            "{report}"
        );
        s.reset();
        assert_eq!(s.verify(), Ok(()), "a reset unmounts");
    });
}

#[test]
fn the_report_lists_what_arrived_instead() {
    within(Duration::from_secs(30), || {
        let s = MockServer::builder().seed(1).start().expect("server");
        s.mount(Mock::given(says("weather?")).expect(1));
        s.mount(Mock::given(says("never")).named("never").expect(0));
        ask(&s, "what is the weather like?");
        let report = s.verify().unwrap_err().to_string();
        let expected = [
            "dashscope-mock: 1 expectation(s) not met:",
            "  - mock #1: expected exactly 1 requests, got 0",
            "requests received (1):",
            r#"  1. POST /compatible-mode/v1/chat/completions {"messages":[{"content":"what is the weather like?","role":"user"}],"model":"qwen-plus"} -> 200 (synthetic)"#,
        ];
        assert_eq!(report.lines().collect::<Vec<_>>(), expected);
        // Dropping the server panics with the same report; without a mounted mock it does not.
        let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(s)));
        let payload = dropped.unwrap_err();
        let text = payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert!(
            text.contains("mock #1: expected exactly 1 requests, got 0"),
            "{text}"
        );
        assert!(std::panic::catch_unwind(|| drop(MockServer::start())).is_ok());
    });
}

#[test]
fn times_reads_numbers_and_ranges() {
    assert_eq!(Times::from(2), Times::from(2..=2));
    assert_eq!(Times::from(1..3), Times::from(1..=2));
    assert_eq!(Times::from(..3), Times::from(0..=2));
    assert_eq!(Times::from(2..).to_string(), "at least 2");
    assert_eq!(Times::from(..=4).to_string(), "from 0 to 4");
}

#[test]
fn scenarios_answer_turn_by_turn() {
    within(Duration::from_secs(30), || {
        let s = MockServer::builder().no_defaults().start().expect("server");
        let text = |t: &str| cassette(&chat_json("c", "qwen-plus", t)).response;
        let any = |_: &MockRequest<'_>| true;
        s.mount(
            Mock::given(any)
                .when_state("agent", "started")
                .set_state("agent", "called")
                .respond_with(text("first"))
                .expect(1),
        );
        s.mount(
            Mock::given(any)
                .when_state("agent", "called")
                .set_state("agent", "done")
                .respond_with(text("second"))
                .expect(1),
        );
        s.mount(
            Mock::given(any)
                .when_state("agent", "done")
                .respond_with(text("last"))
                .expect(2..),
        );
        let turns: Vec<String> = (0..4).map(|_| ask(&s, "go").text()).collect();
        assert_eq!(turns, ["first", "second", "last", "last"]);
        assert_eq!(s.verify(), Ok(()));
    });
}

#[test]
fn conditions_add_up_and_any_responder_answers() {
    within(Duration::from_secs(30), || {
        let s = MockServer::builder()
            .seed(2)
            .strict(true)
            .no_defaults()
            .start()
            .expect("server");
        let native = |r: &MockRequest<'_>| {
            r.endpoint.dialect() == dashscope_protocol::cassette::Dialect::Native
        };
        let unified: UnifiedCassette = serde_json::from_value(json!({
            "version": 1, "name": "unified/hi", "description": "d",
            "request": {"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}]},
            "response": {"unified": {"candidates": [{"text": "hello from unified"}]}}
        }))
        .unwrap();
        s.mount(
            Mock::given(says("hi"))
                .and(|r: &MockRequest<'_>| r.stream)
                .respond_with(|_: &MockRequest<'_>| {
                    Some(RecordedResponse {
                        status: 418,
                        headers: vec![],
                        body: dashscope_protocol::cassette::Body::Text("teapot".into()),
                    })
                }),
        );
        s.mount(Mock::given(native).respond_with(unified));
        let body = json!({"model": "qwen-plus", "input": {"messages": [{"role": "user", "content": "hi"}]}});
        let r = post(s.address(), NATIVE, &[], &body);
        assert_eq!(
            r.json()["output"]["text"],
            "hello from unified",
            "{}",
            r.text()
        );
        let stream = json!({"model": "qwen-plus", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
        let r = post(s.address(), CHAT, &[], &stream);
        assert_eq!((r.status, r.text().as_str()), (418, "teapot"));
        // Not streamed: neither mock matches, and a strict server has no cassette.
        assert_eq!(ask(&s, "hi").status, 404);
        let sources: Vec<String> = s.journal().into_iter().map(|e| e.source).collect();
        assert_eq!(sources, ["mock #2", "mock #1", "no_match"]);
    });
}
