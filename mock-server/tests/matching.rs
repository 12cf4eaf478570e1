//! Over TCP: shape knobs in matching (issue 16 item 1), the `x-mock-source` header and the
//! journal's `source` (item 2), `GET /compatible-mode/v1/models` (item 6).

mod common;

use std::time::Duration;

use common::*;
use dashscope_mock::MockServer;
use serde_json::{Value, json};

/// The question of the embedded `chat/stream-include-usage` recording (made without thinking).
fn who_are_you(extra: Value) -> Value {
    let mut body = json!({"model": "qwen-plus", "messages": [{"role": "user", "content": "你是谁？"}],
        "stream": true, "stream_options": {"include_usage": true}});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    body
}

/// "hi" to `model`, with the members of `extra` added.
fn hi(model: &str, extra: Value) -> Value {
    let mut body = json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    body
}

#[test]
fn a_knob_the_recording_was_made_without_goes_to_the_synthetic_responder() {
    within(Duration::from_secs(30), || {
        let s = MockServer::builder().seed(1).start().expect("server");
        let plain = post(s.address(), CHAT, &[], &who_are_you(json!({})));
        assert_eq!(
            plain.header("x-mock-source").as_deref(),
            Some("cassette chat/stream-include-usage")
        );
        // Thinking on: the recording has no reasoning, so the synthetic responder answers.
        let thinking = post(
            s.address(),
            CHAT,
            &[],
            &who_are_you(json!({"enable_thinking": true})),
        );
        assert_eq!(thinking.status, 200);
        assert_eq!(
            thinking.header("x-mock-source").as_deref(),
            Some("synthetic")
        );
        assert!(
            thinking.text().contains("reasoning_content"),
            "{}",
            thinking.text()
        );
        // A knob at its default value is the recording's shape.
        for extra in [
            json!({"enable_thinking": false}),
            json!({"n": 1}),
            json!({"tools": []}),
            json!({"response_format": {"type": "text"}}),
            json!({"modalities": ["text"]}),
        ] {
            let r = post(s.address(), CHAT, &[], &who_are_you(extra.clone()));
            assert_eq!(
                r.header("x-mock-source").as_deref(),
                Some("cassette chat/stream-include-usage"),
                "{extra}"
            );
        }
        for extra in [
            json!({"n": 2}),
            json!({"response_format": {"type": "json_object"}}),
            json!({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]}),
        ] {
            let r = post(s.address(), CHAT, &[], &who_are_you(extra.clone()));
            assert_ne!(
                r.header("x-mock-source").as_deref(),
                Some("cassette chat/stream-include-usage"),
                "{extra}"
            );
        }
        // Strict: the 404 says why the recording did not answer.
        let strict = MockServer::builder().strict(true).start().expect("server");
        let r = post(
            strict.address(),
            CHAT,
            &[],
            &who_are_you(json!({"enable_thinking": true})),
        );
        assert_eq!(r.status, 404);
        assert!(
            r.text()
                .contains("enable_thinking: the cassette was recorded without it, got true"),
            "{}",
            r.text()
        );
    });
}

#[test]
fn match_any_lets_a_cassette_answer_any_value_of_a_knob() {
    within(Duration::from_secs(30), || {
        let s = MockServer::builder()
            .no_defaults()
            .strict(true)
            .start()
            .expect("server");
        let mut c = chat_json("chat/any-thinking", "m", "any");
        c["match"] = json!({"body": {"model": "m"}, "any": ["enable_thinking"]});
        s.add_cassette_json(&c.to_string()).unwrap();
        let ask = |extra: Value| post(s.address(), CHAT, &[], &hi("m", extra));
        assert_eq!(ask(json!({"enable_thinking": true})).text(), "any");
        assert_eq!(ask(json!({"n": 3})).status, 404);
        let mut all = chat_json("chat/any", "m", "all");
        all["match"] = json!({"body": {"model": "m"}, "any": ["*"]});
        s.add_cassette_json(&all.to_string()).unwrap();
        assert_eq!(ask(json!({"n": 3})).text(), "all");
    });
}

#[test]
fn a_typed_cassette_keeps_its_mock_conditions_and_a_recorded_knob_matches_its_value() {
    within(Duration::from_secs(30), || {
        let s = MockServer::builder()
            .no_defaults()
            .strict(true)
            .start()
            .expect("server");
        let ask = |model: &str, extra: Value| post(s.address(), CHAT, &[], &hi(model, extra));
        // Added as a typed `Cassette`: `match.any` survives the typed form.
        let mut c = chat_json("chat/typed-any", "typed", "typed");
        c["match"] = json!({"body": {"model": "typed"}, "any": ["*"]});
        s.add_cassette(dashscope_mock::Cassette::from_json(&c.to_string()).unwrap());
        assert_eq!(
            ask("typed", json!({"enable_thinking": true})).text(),
            "typed"
        );
        // Recorded with thinking on and tools, matched on the model alone: the recorded value
        // (and any tools) answers, another value of the knob does not.
        let mut r = chat_json("chat/recorded-knobs", "rec", "recorded");
        r["request"]["body"]["enable_thinking"] = json!(true);
        r["request"]["body"]["tools"] = json!([{"type": "function", "function": {"name": "a"}}]);
        r["match"] = json!({"body": {"model": "rec"}});
        s.add_cassette_json(&r.to_string()).unwrap();
        let tools = json!([{"type": "function", "function": {"name": "b"}}]);
        let both = json!({"enable_thinking": true, "tools": tools});
        assert_eq!(ask("rec", both).text(), "recorded");
        assert_eq!(ask("rec", json!({})).text(), "recorded");
        assert_eq!(ask("rec", json!({"enable_thinking": false})).status, 404);
    });
}

#[test]
fn a_native_result_format_must_be_the_recorded_answers() {
    within(Duration::from_secs(30), || {
        let s = MockServer::builder().strict(true).start().expect("server");
        // `native/vl-image` was recorded without `result_format`: its answer is `message`.
        let f = wire_fixtures()
            .into_iter()
            .find(|c| c.name == "native/vl-image")
            .unwrap();
        let mut body = f.request.body.clone().unwrap();
        let as_format = |body: &Value| post(s.address(), &f.request.path, &[], body);
        assert_eq!(
            as_format(&body).header("x-mock-source").as_deref(),
            Some("cassette native/vl-image")
        );
        body["parameters"]["result_format"] = json!("message");
        assert_eq!(
            as_format(&body).header("x-mock-source").as_deref(),
            Some("cassette native/vl-image")
        );
        body["parameters"]["result_format"] = json!("text");
        let r = as_format(&body);
        assert_eq!(r.status, 404);
        assert!(
            r.text()
                .contains("result_format: the cassette was recorded with \\\"message\\\""),
            "{}",
            r.text()
        );
    });
}

#[test]
fn every_answer_names_its_source_in_a_header_and_the_journal() {
    within(Duration::from_secs(30), || {
        let s = MockServer::builder().seed(3).start().expect("server");
        let hi = json!({"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}]});
        let cases: [(&[(&str, &str)], &str); 4] = [
            (&[], "synthetic"),
            (&[("x-mock-fault", "status=503")], "fault status=503"),
            (
                &[("x-mock-fault", "latency=1")],
                "synthetic; fault latency=1",
            ),
            (
                &[("x-mock-cassette", "chat/basic-nonstream")],
                "cassette chat/basic-nonstream",
            ),
        ];
        for (headers, source) in cases {
            let r = post(s.address(), CHAT, headers, &hi);
            assert_eq!(r.header("x-mock-source").as_deref(), Some(source));
            assert_eq!(s.journal().last().unwrap().source, source);
        }
        let r = send(s.address(), "POST", CHAT, &[], hi.to_string().as_bytes());
        assert_eq!(
            (r.status, r.header("x-mock-source").as_deref()),
            (401, Some("error"))
        );
        let r = post(s.address(), "/compatible-mode/v1/nope", &[], &hi);
        assert_eq!(r.header("x-mock-source").as_deref(), Some("no_route"));
        // A custom responder is named as such; the journal's JSON carries the source too.
        let custom = MockServer::builder()
            .responder(dashscope_mock::NoSynthesis)
            .strict(false)
            .start()
            .unwrap();
        let r = post(
            custom.address(),
            CHAT,
            &[],
            &json!({"model": "nobody-records-this", "messages": []}),
        );
        assert_eq!(r.header("x-mock-source").as_deref(), Some("no_match"));
        let journal = send(custom.address(), "GET", "/__mock/journal", &[], b"").json();
        assert_eq!(journal[0]["source"], "no_match");
    });
}

#[test]
fn the_models_endpoint_lists_what_the_mock_answers_in_the_openai_shape() {
    within(Duration::from_secs(30), || {
        let s = MockServer::builder().seed(1).start().expect("server");
        let auth = format!("Bearer {KEY}");
        let r = send(
            s.address(),
            "GET",
            "/compatible-mode/v1/models",
            &[("authorization", &auth)],
            b"",
        );
        assert_eq!(
            (r.status, r.header("x-mock-source").as_deref()),
            (200, Some("models"))
        );
        let list = r.json();
        assert_eq!(list["object"], "list");
        let ids: Vec<&str> = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        // Cassette models (`qwen-vl-plus`, `qwen3-vl-plus`, …) and the mock's own list.
        assert!(
            ids.contains(&"qwen-plus")
                && ids.contains(&"qwen-vl-plus")
                && ids.contains(&"qwen3-omni-flash")
        );
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        assert_eq!(list["data"][0]["object"], "model");
        assert_eq!(list["data"][0]["owned_by"], "system");
        // A model added with a cassette is listed.
        s.add_cassette_json(&chat_json("chat/mine", "my-own-model", "x").to_string())
            .unwrap();
        let r = send(
            s.address(),
            "GET",
            "/compatible-mode/v1/models",
            &[("authorization", &auth)],
            b"",
        );
        assert!(r.text().contains("\"my-own-model\""));
        assert_eq!(
            send(s.address(), "GET", "/compatible-mode/v1/models", &[], b"").status,
            401
        );
        let r = send(
            s.address(),
            "POST",
            "/compatible-mode/v1/models",
            &[("authorization", &auth)],
            b"",
        );
        assert_eq!((r.status, r.header("allow").as_deref()), (405, Some("GET")));
    });
}
