//! Matching, validation, the journal, the admin API and stored responses, over TCP.

mod common;

use std::time::Duration;

use common::*;
use dashscope_mock::{MockServer, NoSynthesis};
use dashscope_protocol::cassette::{Body, RecordedResponse};
use dashscope_protocol::error::ApiError;
use serde_json::{Value, json};

fn get(s: &MockServer, path: &str) -> Raw {
    let auth = format!("Bearer {KEY}");
    send(s.address(), "GET", path, &[("authorization", &auth)], b"")
}

fn admin(s: &MockServer, method: &str, path: &str, body: &str) -> Raw {
    send(
        s.address(),
        method,
        path,
        &[("content-type", "application/json")],
        body.as_bytes(),
    )
}

#[test]
fn journal_keeps_requests_and_redacts_the_key() {
    within(Duration::from_secs(20), || {
        let s = MockServer::builder()
            .no_defaults()
            .responder(NoSynthesis)
            .start()
            .expect("server");
        post(
            s.address(),
            CHAT,
            &[("x-trace", "t1")],
            &json!({"model": "m", "messages": []}),
        );
        let raw = admin(&s, "GET", "/__mock/journal", "");
        assert_eq!(raw.status, 200);
        assert!(!raw.text().contains(KEY), "the journal leaks the key");
        let entries = raw.json();
        let e = &entries[0];
        assert_eq!(e["method"], "POST");
        assert_eq!(e["path"], CHAT);
        assert_eq!(e["body"]["model"], "m");
        assert_eq!(e["status"], 404);
        assert_eq!(e["outcome"], "no_match");
        let headers = e["headers"].as_array().unwrap();
        assert!(headers.contains(&json!(["authorization", "Bearer [REDACTED]"])));
        assert!(headers.contains(&json!(["x-trace", "t1"])));
        assert!(!format!("{:?}", s.journal()).contains(KEY));
        assert!(!format!("{:?}", s.state()).contains(KEY));
        // Admin requests are not journaled; DELETE clears.
        assert_eq!(s.journal().len(), 1);
        admin(&s, "DELETE", "/__mock/journal", "");
        assert!(s.journal().is_empty());
    });
}

/// `GET /__mock/journal` writes each entry in pieces (a body of 64 KiB at a time, never
/// parsed) and gives exactly what the entries serialize to, whatever the body: none, JSON, text
/// with invalid UTF-8, long text with multi-byte characters across the piece boundaries,
/// long JSON; the query is kept, the key redacted. The journal is bounded in bytes too.
#[test]
fn the_journal_written_in_pieces_equals_its_entries() {
    within(Duration::from_secs(30), || {
        let s = MockServer::builder()
            .no_defaults()
            .journal_max_bytes(1_000_000)
            .start()
            .expect("server");
        let big_text = "é\u{1}x\"".repeat(40_000).into_bytes();
        let big_json = serde_json::to_vec(&json!({"t": "é".repeat(70_000)})).unwrap();
        let bodies: [&[u8]; 5] = [
            b"",
            b"{\"a\": [1, 2]}",
            b"not json \xff\xfe",
            &big_text,
            &big_json,
        ];
        let h = [("content-type", "text/plain"), ("x-q", "a\"b")];
        for body in bodies {
            send(
                s.address(),
                "POST",
                &format!("{CHAT}?x=1&api_key={KEY}"),
                &h,
                body,
            );
        }
        let raw = get(&s, "/__mock/journal");
        assert!(!raw.text().contains(KEY));
        let entries = s.journal();
        assert_eq!(raw.json(), serde_json::to_value(&entries).unwrap());
        assert_eq!(entries[0].query.as_deref(), Some("x=1&api_key=[REDACTED]"));
        assert_eq!(
            entries[2].body_text.as_deref(),
            Some("not json \u{fffd}\u{fffd}")
        );
        // Past about 1 MB the oldest entries go; the newest stays.
        for _ in 0..8 {
            send(s.address(), "POST", CHAT, &h, &big_text);
        }
        let seqs: Vec<u64> = s.journal().iter().map(|e| e.seq).collect();
        assert!(seqs.len() < 13 && seqs.last() == Some(&13), "{seqs:?}");
    });
}

#[test]
fn admin_adds_cassettes_and_faults_at_run_time_and_reset_undoes_them() {
    within(Duration::from_secs(20), || {
        let s = MockServer::builder()
            .no_defaults()
            .responder(NoSynthesis)
            .start()
            .expect("server");
        assert_eq!(
            admin(&s, "GET", "/__mock/health", "").json()["status"],
            "ok"
        );
        let c = chat_json("chat/added", "m", r#"{"ok":true}"#);
        let raw = admin(&s, "POST", "/__mock/cassettes", &c.to_string());
        assert_eq!(raw.status, 201);
        assert_eq!(raw.json()["added"], json!(["chat/added"]));
        assert_eq!(
            admin(&s, "POST", "/__mock/cassettes", "{\"version\":1}").status,
            400
        );
        assert_eq!(
            admin(&s, "POST", "/__mock/cassettes", "not json").status,
            400
        );
        let listed = admin(&s, "GET", "/__mock/cassettes", "").json();
        assert_eq!(listed[0]["name"], "chat/added");
        assert_eq!(listed[0]["layer"], "runtime");
        assert_eq!(
            post(s.address(), CHAT, &[], &json!({"model": "m"})).text(),
            r#"{"ok":true}"#
        );

        let raw = admin(
            &s,
            "POST",
            "/__mock/faults",
            r#"{"spec":"status=503;times=1"}"#,
        );
        assert_eq!(raw.status, 201);
        let id = raw.json()["id"].as_u64().unwrap();
        assert_eq!(admin(&s, "POST", "/__mock/faults", "status=9").status, 400);
        assert_eq!(
            post(s.address(), CHAT, &[], &json!({"model": "m"})).status,
            503
        );
        assert_eq!(
            post(s.address(), CHAT, &[], &json!({"model": "m"})).status,
            200
        );
        let faults = admin(&s, "GET", "/__mock/faults", "").json();
        assert_eq!(faults[0]["applied"], 1);
        assert_eq!(faults[0]["remaining"], 0);
        assert_eq!(
            admin(&s, "DELETE", &format!("/__mock/faults/{id}"), "").status,
            200
        );
        assert_eq!(
            admin(&s, "DELETE", &format!("/__mock/faults/{id}"), "").status,
            404
        );
        admin(&s, "POST", "/__mock/faults", "latency=1");
        assert_eq!(admin(&s, "DELETE", "/__mock/faults", "").status, 200);
        assert_eq!(admin(&s, "GET", "/__mock/faults", "").json(), json!([]));

        assert_eq!(admin(&s, "POST", "/__mock/reset", "").status, 200);
        assert!(s.journal().is_empty());
        assert_eq!(
            post(s.address(), CHAT, &[], &json!({"model": "m"})).status,
            404
        );
        assert_eq!(admin(&s, "GET", "/__mock/nope", "").status, 404);
        assert_eq!(admin(&s, "PUT", "/__mock/reset", "").status, 405);
    });
}

#[test]
fn once_cassettes_answer_a_conversation_in_order() {
    within(Duration::from_secs(20), || {
        let s = MockServer::builder()
            .no_defaults()
            .strict(true)
            .start()
            .expect("server");
        for turn in 1..=2 {
            let mut c = chat_json(
                &format!("chat/turn-{turn}"),
                "m",
                &format!("{{\"turn\":{turn}}}"),
            );
            c["once"] = json!(true);
            s.add_cassette(cassette(&c));
        }
        let bodies: Vec<String> = (0..2)
            .map(|_| post(s.address(), CHAT, &[], &json!({"model": "m"})).text())
            .collect();
        assert_eq!(bodies, ["{\"turn\":1}", "{\"turn\":2}"]);
        let third = post(s.address(), CHAT, &[], &json!({"model": "m"}));
        assert_eq!(third.status, 404);
        let nearest = &third.json()["nearest"];
        assert_eq!(nearest[0]["name"], "chat/turn-1");
        assert!(
            nearest[0]["mismatch"]
                .to_string()
                .contains("once: already served")
        );
        // A reset re-arms them (cassettes from files stay; run-time ones go, so load from a dir).
        let dir = std::env::temp_dir().join(format!("dashscope-mock-once-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("chat")).unwrap();
        for turn in 1..=2 {
            let mut c = chat_json(
                &format!("chat/turn-{turn}"),
                "m",
                &format!("{{\"turn\":{turn}}}"),
            );
            c["once"] = json!(true);
            std::fs::write(dir.join(format!("chat/turn-{turn}.json")), c.to_string()).unwrap();
        }
        let s = MockServer::builder()
            .no_defaults()
            .fixtures_dir(&dir)
            .start()
            .expect("server");
        let turns = || {
            (0..3)
                .map(|_| post(s.address(), CHAT, &[], &json!({"model": "m"})).text())
                .collect::<Vec<_>>()
        };
        let first = turns();
        assert_eq!(first[..2], ["{\"turn\":1}", "{\"turn\":2}"]);
        s.reset();
        assert_eq!(turns(), first);
        let _ = std::fs::remove_dir_all(&dir);
    });
}

#[test]
fn matcher_extensions_last_user_message_and_tools() {
    within(Duration::from_secs(20), || {
        let s = MockServer::builder()
            .no_defaults()
            .strict(true)
            .start()
            .expect("server");
        let mut weather = chat_json("chat/weather", "m", "weather");
        weather["match"] = json!({"body": {"model": "m"}, "last_user_message_contains": "weather", "tools_present": true});
        s.add_cassette_json(&weather.to_string()).unwrap();
        let mut hello = chat_json("chat/hello", "m", "hello");
        hello["match"] = json!({"body": {}, "last_user_message": "hello"});
        s.add_cassette_json(&hello.to_string()).unwrap();
        let tools = json!([{"type": "function", "function": {"name": "f"}}]);
        let ask = |text: &str, tools: Option<&Value>| {
            let mut body = json!({"model": "m", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": text}]});
            if let Some(t) = tools {
                body["tools"] = t.clone();
            }
            post(s.address(), CHAT, &[], &body)
        };
        assert_eq!(ask("what's the weather?", Some(&tools)).text(), "weather");
        assert_eq!(ask("what's the weather?", None).status, 404);
        assert_eq!(ask("hello", None).text(), "hello");
        // Native and Responses requests are read the same way.
        s.add_cassette_json(
            &json!({"version": 1, "name": "native/hi", "description": "d", "dialect": "native",
                "request": {"method": "POST", "path": NATIVE},
                "match": {"body": {}, "last_user_message": "hi"},
                "response": {"status": 200, "body": {"text": "native hi"}}})
            .to_string(),
        )
        .unwrap();
        let r = post(
            s.address(),
            NATIVE,
            &[],
            &json!({"model": "x", "input": {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}}),
        );
        assert_eq!(r.text(), "native hi");
    });
}

#[test]
fn strict_404_lists_the_nearest_cassettes_in_the_dialect_shape() {
    within(Duration::from_secs(20), || {
        let s = MockServer::builder()
            .no_defaults()
            .strict(true)
            .start()
            .expect("server");
        s.add_cassette(cassette(&chat_json("chat/plus", "qwen-plus", "{}")));
        s.add_cassette(cassette(&chat_json("chat/max", "qwen-max", "{}")));
        s.add_cassette(cassette(&native_stream("native/s", "qwen-plus", 2)));
        let raw = post(
            s.address(),
            CHAT,
            &[],
            &json!({"model": "qwen-plux", "messages": []}),
        );
        assert_eq!(raw.status, 404);
        let body = raw.json();
        assert_eq!(body["error"]["code"], "mock_no_match");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("nearest: chat/plus"),
            "{body}"
        );
        assert_eq!(
            body["request_id"].as_str(),
            raw.header("x-request-id").as_deref()
        );
        let nearest = body["nearest"].as_array().unwrap();
        assert_eq!(nearest.len(), 3);
        assert_eq!(nearest[2]["name"], "native/s", "other paths come last");
        assert!(
            nearest[0]["mismatch"][0]
                .as_str()
                .unwrap()
                .contains("body.model: expected \"qwen-plus\"")
        );
        // Native: native shape; a stream request gets the SSE-framed form.
        let raw = post(
            s.address(),
            NATIVE,
            &[("x-dashscope-sse", "enable")],
            &json!({"model": "qwen-max"}),
        );
        assert_eq!(raw.status, 404);
        let e = ApiError::from_body(None, &raw.body).unwrap();
        assert_eq!(e.code.as_deref(), Some("MockNoMatch"));
        assert_eq!(e.body["nearest"][0]["name"], "native/s");
    });
}

#[test]
fn the_responder_answers_unmatched_requests_unless_strict() {
    within(Duration::from_secs(20), || {
        let answer = |req: &dashscope_mock::MockRequest<'_>| -> Option<RecordedResponse> {
            Some(RecordedResponse {
                status: 200,
                headers: vec![("x-request-id".into(), req.request_id.to_owned())],
                body: Body::Text(format!("synthetic {} {}", req.endpoint.path(), req.stream)),
            })
        };
        let s = MockServer::builder()
            .no_defaults()
            .responder(answer)
            .start()
            .expect("server");
        let raw = post(
            s.address(),
            CHAT,
            &[],
            &json!({"model": "m", "stream": true}),
        );
        assert_eq!(raw.text(), format!("synthetic {CHAT} true"));
        assert_eq!(s.journal()[0].outcome, "responder");
        let strict = MockServer::builder()
            .no_defaults()
            .strict(true)
            .responder(answer)
            .start()
            .expect("server");
        assert_eq!(
            post(strict.address(), CHAT, &[], &json!({"model": "m"})).status,
            404
        );
    });
}

#[test]
fn validation_errors_in_each_dialect() {
    within(Duration::from_secs(20), || {
        let s = MockServer::builder()
            .no_defaults()
            .responder(NoSynthesis)
            .max_body_bytes(1000)
            .start()
            .expect("server");
        let a = s.address();
        // No key, and a non-Bearer key.
        for headers in [
            vec![("content-type", "application/json")],
            vec![("authorization", "Basic abc")],
            vec![("authorization", "Bearer ")],
        ] {
            let raw = send(a, "POST", CHAT, &headers, b"{\"model\":\"m\"}");
            assert_eq!(raw.status, 401);
            let rid = raw.header("x-request-id").unwrap();
            assert_eq!(
                raw.text(),
                format!(
                    r#"{{"error":{{"code":"invalid_api_key","param":null,"message":"Incorrect API key provided. ","type":"invalid_request_error"}},"request_id":"{rid}"}}"#
                )
            );
        }
        let raw = send(a, "POST", NATIVE, &[], b"{}");
        assert_eq!(raw.json()["code"], "InvalidApiKey");
        assert_eq!(raw.json()["message"], "Invalid API-key provided.");
        // Async header: 403.
        let raw = post(
            a,
            NATIVE,
            &[("x-dashscope-async", "enable")],
            &json!({"model": "m"}),
        );
        assert_eq!(raw.status, 403);
        assert_eq!(raw.json()["code"], "AccessDenied");
        assert_eq!(
            raw.json()["message"],
            "current user api does not support asynchronous calls"
        );
        assert_eq!(
            post(
                a,
                NATIVE,
                &[("x-dashscope-async", "disable")],
                &json!({"model": "m"})
            )
            .status,
            404
        );
        // Malformed JSON, wrong content type, too large, missing model.
        let auth = format!("Bearer {KEY}");
        let raw = send(
            a,
            "POST",
            CHAT,
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            b"{nope",
        );
        assert_eq!(raw.status, 400);
        assert_eq!(raw.json()["error"]["code"], "invalid_parameter_error");
        let raw = send(
            a,
            "POST",
            NATIVE,
            &[("authorization", &auth), ("content-type", "text/plain")],
            b"{}",
        );
        assert_eq!(raw.status, 400);
        assert_eq!(raw.json()["code"], "InvalidParameter");
        let ok_ct = send(
            a,
            "POST",
            NATIVE,
            &[
                ("authorization", &auth),
                ("content-type", "application/json; charset=utf-8"),
            ],
            b"{\"model\":\"m\"}",
        );
        assert_eq!(ok_ct.status, 404, "a charset parameter is fine");
        let big = json!({"model": "m", "pad": "x".repeat(2000)});
        let raw = post(a, RESPONSES, &[], &big);
        assert_eq!(raw.status, 413);
        assert_eq!(raw.json()["error"]["code"], "payload_too_large");
        let raw = post(a, NATIVE, &[], &big);
        assert_eq!(raw.json()["code"], "BadRequest.TooLarge");
        let raw = post(a, NATIVE, &[], &json!({"input": {}}));
        assert_eq!(raw.status, 400);
        assert_eq!(raw.json()["code"], "BadRequest.EmptyModel");
        // Stream requests get SSE-framed errors: native 200 + event:error, compat 400 + data:.
        let raw = post(
            a,
            NATIVE,
            &[("x-dashscope-sse", "enable")],
            &json!({"input": {}}),
        );
        assert_eq!(raw.status, 200);
        assert_eq!(
            raw.header("content-type").as_deref(),
            Some("text/event-stream;charset=UTF-8")
        );
        let rid = raw.header("x-request-id").unwrap();
        assert_eq!(
            raw.text(),
            format!(
                "id:1\nevent:error\n:HTTP_STATUS/400\ndata:{{\"code\":\"BadRequest.EmptyModel\",\"message\":\"Required parameter \\\"model\\\" missing from request.\",\"request_id\":\"{rid}\"}}\n\n"
            )
        );
        let raw = post(a, CHAT, &[], &json!({"stream": true}));
        assert_eq!(raw.status, 400);
        let e = ApiError::from_body(Some(400), &raw.body).unwrap();
        assert_eq!(e.request_id, raw.header("x-request-id"));
        assert!(raw.text().starts_with(
            "data: {\"error\":{\"code\":\"invalid_parameter_error\",\"param\":\"model\""
        ));
        // Only the configured keys, when some are configured.
        let locked = MockServer::builder()
            .no_defaults()
            .responder(NoSynthesis)
            .api_key("good")
            .start()
            .expect("server");
        let bad = send(
            locked.address(),
            "POST",
            CHAT,
            &[("authorization", &auth)],
            b"{}",
        );
        assert_eq!(bad.status, 401);
        let good = send(
            locked.address(),
            "POST",
            CHAT,
            &[("authorization", "Bearer good")],
            b"{\"model\":\"m\"}",
        );
        assert_eq!(good.status, 404);
        assert!(!format!("{locked:?}").contains("good"));
    });
}

#[test]
fn stored_responses_can_be_retrieved_listed_and_deleted() {
    within(Duration::from_secs(20), || {
        let s = MockServer::builder().no_defaults().start().expect("server");
        let response =
            json!({"id": "resp_abc", "object": "response", "status": "completed", "output": []});
        s.add_cassette_json(
            &json!({"version": 1, "name": "responses/r", "description": "d", "dialect": "responses",
                "request": {"method": "POST", "path": RESPONSES, "body": {"model": "m"}},
                "response": {"status": 200, "headers": [["content-type", "application/json"]], "body": {"text": response.to_string()}}})
            .to_string(),
        )
        .unwrap();
        let stream_completed = json!({"type": "response.completed", "sequence_number": 1, "response": {"id": "resp_s", "status": "completed"}});
        s.add_cassette_json(
            &json!({"version": 1, "name": "responses/s", "description": "d", "dialect": "responses",
                "request": {"method": "POST", "path": RESPONSES, "body": {"model": "m", "stream": true}},
                "response": {"status": 200, "body": {"chunks": [
                    {"data": "id:1\nevent:response.created\n:HTTP_STATUS/200\ndata:{\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_s\",\"status\":\"queued\"}}\n\n"},
                    {"data": format!("id:2\nevent:response.completed\n:HTTP_STATUS/200\ndata:{stream_completed}\n\n")}]}}})
            .to_string(),
        )
        .unwrap();
        assert_eq!(
            post(
                s.address(),
                RESPONSES,
                &[],
                &json!({"model": "m", "input": "hello"})
            )
            .status,
            200
        );
        let stored = get(&s, &format!("{RESPONSES}/resp_abc"));
        assert_eq!(stored.status, 200);
        assert_eq!(stored.json(), response);
        let legacy = get(
            &s,
            "/api/v2/apps/protocols/compatible-mode/v1/responses/resp_abc",
        );
        assert_eq!(legacy.json(), response);
        let items = get(&s, &format!("{RESPONSES}/resp_abc/input_items"));
        assert_eq!(items.json()["object"], "list");
        assert_eq!(
            items.json()["data"][0]["content"][0],
            json!({"type": "input_text", "text": "hello"})
        );
        let auth = format!("Bearer {KEY}");
        let del = send(
            s.address(),
            "DELETE",
            &format!("{RESPONSES}/resp_abc"),
            &[("authorization", &auth)],
            b"",
        );
        assert_eq!(
            del.json(),
            json!({"id": "resp_abc", "object": "response", "deleted": true})
        );
        let gone = get(&s, &format!("{RESPONSES}/resp_abc"));
        assert_eq!(gone.status, 404);
        assert_eq!(
            gone.json()["error"]["message"],
            "Response with id 'resp_abc' not found."
        );
        // A stream's response.completed is stored too.
        post(
            s.address(),
            RESPONSES,
            &[],
            &json!({"model": "m", "stream": true}),
        );
        assert_eq!(
            get(&s, &format!("{RESPONSES}/resp_s")).json()["status"],
            "completed"
        );
        assert_eq!(
            send(s.address(), "GET", &format!("{RESPONSES}/resp_s"), &[], b"").status,
            401
        );
        assert_eq!(
            send(
                s.address(),
                "PUT",
                &format!("{RESPONSES}/resp_s"),
                &[("authorization", &auth)],
                b""
            )
            .status,
            405
        );
    });
}

#[test]
fn unknown_routes_and_methods_answer_json() {
    within(Duration::from_secs(20), || {
        let s = MockServer::builder().no_defaults().start().expect("server");
        let raw = get(&s, "/nope");
        assert_eq!(raw.status, 404);
        assert_eq!(raw.json()["code"], "NotFound");
        let raw = get(&s, "/compatible-mode/v1/files");
        assert_eq!(raw.json()["error"]["code"], "not_found");
        let raw = get(&s, CHAT);
        assert_eq!(raw.status, 405);
        assert_eq!(raw.header("allow").as_deref(), Some("POST"));
        assert_eq!(raw.json()["error"]["code"], "method_not_allowed");
        let raw = send(s.address(), "HEAD", CHAT, &[], b"");
        assert_eq!(raw.status, 405);
    });
}

#[test]
fn x_mock_cassette_picks_a_cassette_by_name() {
    within(Duration::from_secs(20), || {
        let s = MockServer::builder().no_defaults().start().expect("server");
        s.add_cassette(cassette(&chat_json("chat/one", "m1", "one")));
        s.add_cassette(cassette(&chat_json("chat/two", "m2", "two")));
        let raw = post(
            s.address(),
            CHAT,
            &[("x-mock-cassette", "chat/two")],
            &json!({"model": "m1"}),
        );
        assert_eq!(raw.text(), "two");
        let raw = post(
            s.address(),
            CHAT,
            &[("x-mock-cassette", "chat/none")],
            &json!({"model": "m1"}),
        );
        assert_eq!(raw.status, 404);
    });
}

#[test]
fn seeded_request_ids_are_deterministic() {
    within(Duration::from_secs(20), || {
        let ids = || {
            let s = MockServer::builder()
                .no_defaults()
                .seed(42)
                .start()
                .expect("server");
            (0..3)
                .map(|_| {
                    post(s.address(), CHAT, &[], &json!({"model": "m"}))
                        .header("x-request-id")
                        .unwrap()
                })
                .collect::<Vec<_>>()
        };
        let a = ids();
        assert_eq!(a, ids());
        assert_ne!(a[0], a[1]);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usable_from_async_tests() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = MockServer::builder().no_defaults().start().expect("server");
    server.add_cassette(cassette(&chat_stream("chat/s", "m", 2, 0)));
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let resp = client
        .post(format!("{}{CHAT}", server.uri()))
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body(json!({"model": "m", "stream": true}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "r-1");
    let text = resp.text().await.unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"));
    assert_eq!(server.journal().len(), 1);
    // Dropping inside the runtime is fine too.
    drop(server);
}
