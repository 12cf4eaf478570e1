// Behavioural scenarios shared by the async and the blocking client tests.
//
// `include!`d by `async_client.rs` and `blocking_client.rs`, which define:
// * `scenario!(fn name() { … })`: a test bounded by `TEST_TIMEOUT`;
// * `w!(expr)`: `expr.await` (async) or `expr` (blocking);
// * `next!(stream)`: the stream's next item;
// * `make_client(config) -> Client`.
//
// Every request is the recorded request of a fixture (or built from a recorded answer), sent
// over TCP to the mock server, which answers with the recorded bytes.

use std::time::{Duration, Instant};

use dashscope_protocol::cassette::{Body, RecordedResponse};
use dashscope_protocol::chat::{ChatRequest, Message, Role};
use dashscope_protocol::native::{self, GenerationRequest};
use dashscope_protocol::responses::{InputItem, OutputItem, ResponseRequest};
use dashscope_provider::{Endpoint, Error, ListQuery, RequestOptions, RetryPolicy, StreamErrorKind};
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// Stream and non-stream give the same final answer.

scenario! {
    fn chat_stream_and_nonstream_agree() {
        let server = server();
        let client = make_client(config(&server).build().unwrap());
        let plain: ChatRequest = request("chat/stream-include-usage-twin");
        let once = w!(client.chat().create(plain.clone())).expect("non-stream answer");

        let mut stream = w!(client.chat().create_stream(plain)).expect("stream opens");
        let first = next!(stream).expect("a first chunk").expect("not an error");
        assert_eq!(first.choices[0].delta.role, Some(Role::Assistant));
        let streamed = w!(stream.accumulate()).expect("the stream completes");

        assert_eq!(streamed.text(), once.text());
        assert_eq!(
            streamed.text(),
            Some("我是来自阿里云的超大规模语言模型，我叫通义千问。")
        );
        assert_eq!(streamed.finish_reason(), once.finish_reason());
        let (su, ou) = (streamed.usage.clone().unwrap(), once.usage.clone().unwrap());
        assert_eq!(
            (su.prompt_tokens, su.completion_tokens, su.total_tokens),
            (ou.prompt_tokens, ou.completion_tokens, ou.total_tokens)
        );

        // The stream request asked for a stream with usage; the plain one did not.
        let j = journal(&server);
        assert_eq!(j.len(), 2);
        let plain_body = j[0].body.as_ref().unwrap();
        assert!(plain_body.get("stream").is_none());
        let stream_body = j[1].body.as_ref().unwrap();
        assert_eq!(stream_body["stream"], true);
        assert_eq!(stream_body["stream_options"]["include_usage"], true);
        assert_eq!(header(&j[1], "accept"), Some("text/event-stream"));
        assert_eq!(header(&j[1], "authorization"), Some("Bearer [REDACTED]"));
        assert!(header(&j[1], "user-agent").unwrap().starts_with("dashscope-rust/"));
    }
}

scenario! {
    fn native_stream_and_nonstream_agree() {
        let server = server();
        let client = make_client(config(&server).build().unwrap());
        let req: GenerationRequest = request("native/text-sse-twin");
        let once = w!(client.native().generate(req.clone())).expect("non-stream answer");
        let streamed = w!(w!(client.native().generate_stream(req)).expect("stream opens").accumulate())
            .expect("the stream completes");
        assert!(!once.text().unwrap_or_default().is_empty());
        assert_eq!(streamed.text(), once.text());
        assert_eq!(streamed.finish_reason(), once.finish_reason());
        assert_eq!(
            streamed.usage.as_ref().and_then(|u| u.output_tokens),
            once.usage.as_ref().and_then(|u| u.output_tokens)
        );

        let j = journal(&server);
        assert_eq!(j.len(), 2);
        assert_eq!(header(&j[0], "x-dashscope-sse"), None);
        assert_eq!(header(&j[1], "x-dashscope-sse"), Some("enable"));
        assert_eq!(header(&j[1], "accept"), Some("text/event-stream"));
        assert_eq!(j[1].body.as_ref().unwrap()["parameters"]["incremental_output"], true);
        assert_eq!(j[1].path, native::TEXT_GENERATION_PATH);
    }
}

scenario! {
    fn native_cumulative_stream_is_folded() {
        let server = server();
        let client = make_client(config(&server).build().unwrap());
        let stream_req: GenerationRequest = request("native/cumulative-sse");
        assert_eq!(
            stream_req.parameters.as_ref().and_then(|p| p.incremental_output),
            Some(false)
        );
        let twin: GenerationRequest = request("native/cumulative-sse-twin");
        let once = w!(client.native().generate(twin.clone())).expect("non-stream answer");

        let mut stream = w!(client.native().generate_stream(stream_req)).expect("stream opens");
        let mut texts = Vec::new();
        while let Some(chunk) = next!(stream) {
            texts.push(chunk.expect("a chunk").text().map(|t| t.into_owned()).unwrap_or_default());
        }
        // The service repeats the text so far in every chunk...
        assert!(texts.len() >= 2);
        assert!(texts[1].starts_with(texts[0].as_str()));
        // ...and the accumulated answer is that text once, not the chunks concatenated.
        let folded = stream.snapshot();
        assert_eq!(folded.text(), once.text());
        assert_eq!(
            journal(&server)[1].body.as_ref().unwrap()["parameters"]["incremental_output"],
            false
        );
    }
}

scenario! {
    fn responses_stream_and_nonstream_agree() {
        let server = server();
        let client = make_client(config(&server).build().unwrap());
        let plain: ResponseRequest = request("responses/reasoning");
        let once = w!(client.responses().create(plain)).expect("non-stream answer");
        let stream_req: ResponseRequest = request("responses/reasoning-summary-stream");
        let mut stream = w!(client.responses().create_stream(stream_req)).expect("stream opens");
        let mut kinds = Vec::new();
        while let Some(ev) = next!(stream) {
            let ev = ev.expect("an event");
            kinds.push(ev.type_name().unwrap_or_default().to_owned());
        }
        assert_eq!(kinds.first().map(String::as_str), Some("response.created"));
        assert_eq!(kinds.last().map(String::as_str), Some("response.completed"));
        let streamed = stream.snapshot();
        assert!(!once.output_text().is_empty());
        assert_eq!(streamed.output_text(), once.output_text());
        assert_eq!(streamed.reasoning_text(), once.reasoning_text());
    }
}

// ---------------------------------------------------------------------------------------------
// Tool-call round trips: call, tool result, answer.

scenario! {
    fn chat_tool_call_round_trip() {
        let server = server();
        let client = make_client(config(&server).build().unwrap());
        // Turn 1, streamed: the model calls two tools.
        let turn1: ChatRequest = request("chat/tool-call-stream-usage");
        let call = w!(w!(client.chat().create_stream(turn1.clone())).unwrap().accumulate())
            .expect("turn 1");
        let calls = call.tool_calls().to_vec();
        assert_eq!(calls.len(), 2);
        assert!(calls.iter().all(|c| c.call_id().is_some_and(|id| id.starts_with("call_"))
            && c.name() == Some("get_current_weather")));

        // Turn 2: the tool results. The answer is served only for exactly these messages.
        let results = ["杭州：晴，22 度", "北京：多云，18 度"];
        let mut expected_messages = vec![json!(turn1.messages[0]), json!({
            "role": "assistant",
            "tool_calls": calls.iter().map(|c| json!({
                "id": c.id, "type": "function",
                "function": {"name": c.name(), "arguments": c.arguments()},
            })).collect::<Vec<_>>(),
        })];
        for (c, r) in calls.iter().zip(results) {
            expected_messages.push(json!({"role": "tool", "tool_call_id": c.id, "content": r}));
        }
        server.add_cassette(cassette(
            "chat/test-tool-results",
            "chat",
            "/compatible-mode/v1/chat/completions",
            json!({"model": "qwen-plus", "messages": expected_messages}),
            false,
            json_response(
                "5a0c7e1d-3b9f-4c2a-8e6d-1f4b7a9c2e50",
                r#"{"choices":[{"message":{"role":"assistant","content":"杭州晴，22 度；北京多云，18 度。"},"finish_reason":"stop","index":0,"logprobs":null}],"object":"chat.completion","usage":{"prompt_tokens":320,"completion_tokens":20,"total_tokens":340},"created":1776310002,"system_fingerprint":null,"model":"qwen-plus","id":"chatcmpl-5a0c7e1d-3b9f-4c2a-8e6d-1f4b7a9c2e50"}"#,
            ),
        ));
        let mut turn2 = ChatRequest::new("qwen-plus", vec![turn1.messages[0].clone()]);
        turn2.tools = turn1.tools.clone();
        turn2.messages.push(Message::assistant_tool_calls(calls.clone()));
        for (c, r) in calls.iter().zip(results) {
            turn2.messages.push(Message::tool_result(c.call_id().unwrap_or_default(), r));
        }
        let answer = w!(client.chat().create(turn2)).expect("turn 2");
        assert_eq!(answer.text(), Some("杭州晴，22 度；北京多云，18 度。"));
        assert_eq!(answer.request_id(), Some("5a0c7e1d-3b9f-4c2a-8e6d-1f4b7a9c2e50"));
    }
}

scenario! {
    fn native_tool_call_round_trip() {
        let server = server();
        let client = make_client(config(&server).build().unwrap());
        let turn1: GenerationRequest = request("native/parallel-tools-sse");
        let call = w!(w!(client.native().generate_stream(turn1.clone())).unwrap().accumulate())
            .expect("turn 1");
        let calls = call.tool_calls().to_vec();
        assert_eq!(calls.len(), 2);
        assert_eq!(call.finish_reason().map(|f| f.as_str().to_owned()).as_deref(), Some("tool_calls"));

        let results = ["浙江省杭州市 大部多云，摄氏 18 度", "上海市 多云转小雨，摄氏 19 度"];
        let mut turn2 = turn1.clone();
        let messages = turn2.input.messages.get_or_insert_with(Vec::new);
        messages.push(native::Message::assistant_tool_calls(calls.clone()));
        for (c, r) in calls.iter().zip(results) {
            messages.push(native::Message::tool_result(c.id.clone().unwrap_or_default(), r));
        }
        // The recorded answer to a tool-results turn, served only for this exact conversation.
        let mut expected = serde_json::to_value(&turn1).unwrap();
        let mut msgs = expected["input"]["messages"].as_array().cloned().unwrap();
        msgs.push(json!({"role": "assistant", "tool_calls": calls.iter().map(|c| json!({
            "id": c.id, "function": {"name": c.name(), "arguments": c.arguments()},
        })).collect::<Vec<_>>()}));
        for (c, r) in calls.iter().zip(results) {
            msgs.push(json!({"role": "tool", "tool_call_id": c.id, "content": r}));
        }
        expected["input"]["messages"] = json!(msgs);
        let recorded = fixture("native/tool-results-sse").response;
        server.add_cassette(cassette(
            "native/test-tool-results",
            "native",
            native::TEXT_GENERATION_PATH,
            expected,
            true,
            recorded,
        ));
        let answer = w!(w!(client.native().generate_stream(turn2)).expect("turn 2 opens").accumulate())
            .expect("turn 2");
        let text = answer.text().unwrap_or_default().into_owned();
        assert!(text.starts_with("目前杭州和"), "{text}");
        assert!(text.ends_with("下雨。"), "{text}");
    }
}

scenario! {
    fn responses_tool_call_round_trip() {
        let server = server();
        let client = make_client(config(&server).build().unwrap());
        let turn1: ResponseRequest = request("responses/function-call");
        let first = w!(client.responses().create(turn1.clone())).expect("turn 1");
        let call = first.function_calls().next().expect("a function call").clone();
        assert_eq!(call.name, "get_current_weather");

        let mut input = turn1.input.clone().into_items();
        input.push(InputItem::from(OutputItem::FunctionCall(call.clone())));
        input.push(InputItem::function_call_output(call.call_id.clone(), "北京今天是晴天。"));
        let mut turn2 = turn1.clone();
        turn2.input = input.into();
        let answer = w!(client.responses().create(turn2)).expect("turn 2");
        assert_eq!(answer.output_text(), "北京今天是晴天，适合外出活动。");
        // The second request echoed the call with its call id and the output after it.
        let j = journal(&server);
        let sent = &j[1].body.as_ref().unwrap()["input"];
        assert_eq!(sent[1]["type"], "function_call");
        assert_eq!(sent[1]["call_id"], json!(call.call_id));
        assert_eq!(sent[2]["type"], "function_call_output");
    }
}

// ---------------------------------------------------------------------------------------------
// Thinking is kept apart from the answer.

scenario! {
    fn thinking_is_kept_apart() {
        let server = server();
        let client = make_client(config(&server).build().unwrap());

        // Chat, stream: reasoning_content deltas never leak into the content.
        let req: ChatRequest = request("chat/thinking-stream-usage");
        let r = w!(w!(client.chat().create_stream(req)).unwrap().accumulate()).expect("chat");
        let (reasoning, text) = (r.reasoning().unwrap_or_default(), r.text().unwrap_or_default());
        assert!(!reasoning.is_empty() && !text.is_empty());
        assert!(!text.contains(reasoning) && !reasoning.contains(text));
        assert!(r.usage.as_ref().unwrap().completion_tokens_details.as_ref().unwrap().reasoning_tokens.unwrap() > 0);

        // Chat, non-stream.
        let req: ChatRequest = request("chat/thinking-image-nonstream");
        let r = w!(client.chat().create(req)).expect("chat non-stream");
        assert!(!r.reasoning().unwrap_or_default().is_empty());
        assert_ne!(r.reasoning(), r.text());

        // Native, stream vs non-stream.
        let req: GenerationRequest = request("native/vl-reasoning-sse-twin");
        let once = w!(client.native().generate(req.clone())).expect("native");
        let streamed = w!(w!(client.native().generate_stream(req)).unwrap().accumulate()).expect("native stream");
        assert!(!streamed.reasoning().unwrap_or_default().is_empty());
        assert_eq!(streamed.reasoning(), once.reasoning());
        assert_eq!(streamed.text(), once.text());
        assert!(!streamed.text().unwrap_or_default().contains(streamed.reasoning().unwrap()));
        assert_eq!(journal(&server)[3].path, native::MULTIMODAL_GENERATION_PATH);

        // Responses: the reasoning item is not part of the output text.
        let req: ResponseRequest = request("responses/reasoning");
        let r = w!(client.responses().create(req)).expect("responses");
        assert!(!r.reasoning_text().is_empty());
        assert!(!r.output_text().contains(&r.reasoning_text()));
    }
}

// ---------------------------------------------------------------------------------------------
// Every error shape.

scenario! {
    fn compat_error_body_is_api_error() {
        let server = server();
        let client = make_client(config(&server).build().unwrap());
        let req: ChatRequest = request("chat/error-401-invalid-api-key");
        let e = w!(client.chat().create(req)).unwrap_err();
        let Error::Api { status, code, message, request_id, kind, .. } = &e else { panic!("{e:?}") };
        assert_eq!(*status, 401);
        assert_eq!(code.as_deref(), Some("invalid_api_key"));
        assert_eq!(message, "Incorrect API key provided. ");
        assert_eq!(kind.as_deref(), Some("invalid_request_error"));
        assert_eq!(request_id.as_deref(), Some("d4dea040-7e62-9e43-857f-a723792def05"));
        assert!(!e.is_retryable());
        assert_eq!(journal(&server).len(), 1);
    }
}

scenario! {
    fn native_error_body_is_api_error() {
        let server = server();
        let client = make_client(config(&server).build().unwrap());
        let req: GenerationRequest = request("native/error-invalid-parameter");
        let e = w!(client.native().generate(req.clone())).unwrap_err();
        assert!(matches!(e, Error::Api { .. }), "{e:?}");
        assert_eq!(e.status(), Some(400));
        assert_eq!(e.code(), Some("InvalidParameter"));
        assert!(e.message().unwrap().contains("Content length must be greater than 0"), "{e}");
        assert_eq!(e.request_id(), Some("a5898c04-d210-901b-965f-e4bd90478805"));
        assert_eq!(journal(&server).len(), 1, "a 400 is sent exactly once");
    }
}

scenario! {
    fn sse_framed_error_under_400_is_api_error() {
        let server = server();
        let client = make_client(config(&server).build().unwrap());
        let req: ChatRequest = request("chat/error-400-stream-top-logprobs");
        let e = w!(client.chat().create_stream(req)).unwrap_err();
        let Error::Api { status, code, message, request_id, .. } = &e else { panic!("{e:?}") };
        assert_eq!(*status, 400);
        assert_eq!(code.as_deref(), Some("invalid_parameter_error"));
        assert_eq!(message, "Range of top_logprobs should be [0, 5]");
        assert_eq!(request_id.as_deref(), Some("54036480-037a-9e3e-b1fe-50453ba831a1"));
        assert_eq!(journal(&server).len(), 1);
    }
}

scenario! {
    fn native_error_event_under_200_is_api_error() {
        let server = server();
        let client = make_client(config(&server).build().unwrap());
        let req: GenerationRequest = request("native/error-invalid-parameter-sse");
        let e = w!(client.native().generate_stream(req)).unwrap_err();
        let Error::Api { status, code, message, request_id, .. } = &e else { panic!("{e:?}") };
        assert_eq!(*status, 400, "the frame's :HTTP_STATUS/400");
        assert_eq!(code.as_deref(), Some("InvalidParameter"));
        assert_eq!(message, "Role must be user or assistant and Content length must be greater than 0");
        assert_eq!(request_id.as_deref(), Some("7671ecd8-93cc-9ee9-bc89-739f0fd8b809"));
        assert_eq!(journal(&server).len(), 1);
    }
}

scenario! {
    fn compat_error_event_mid_stream_is_stream_error() {
        let server = server();
        let client = make_client(config(&server).build().unwrap());
        let rid = "0c9e5b2a-7d41-4f8e-9a63-2b1d8e4f6a70";
        let chunk = |content: &str| format!(
            "data: {{\"choices\":[{{\"delta\":{{\"content\":\"{content}\"}},\"index\":0,\"finish_reason\":null}}],\"object\":\"chat.completion.chunk\",\"model\":\"qwen-plus\",\"id\":\"chatcmpl-{rid}\"}}\n\n"
        );
        let events = vec![
            chunk("Once upon"),
            chunk(" a time"),
            format!("data: {{\"error\":{{\"code\":\"data_inspection_failed\",\"param\":null,\"message\":\"Output data may contain inappropriate content.\",\"type\":\"data_inspection_failed\"}},\"id\":\"chatcmpl-{rid}\"}}\n\n"),
        ];
        server.add_cassette(cassette(
            "chat/test-error-mid-stream",
            "chat",
            "/compatible-mode/v1/chat/completions",
            json!({"model": "qwen-plus", "messages": [{"role": "user", "content": "Tell a story"}], "stream": true}),
            false,
            sse_response(rid, &events),
        ));
        let req = ChatRequest::new("qwen-plus", vec![Message::user("Tell a story")]);
        let mut stream = w!(client.chat().create_stream(req)).expect("the stream starts");
        let mut text = String::new();
        let e = loop {
            match next!(stream) {
                Some(Ok(c)) => text.push_str(c.content().unwrap_or_default()),
                Some(Err(e)) => break e,
                None => panic!("the stream ended without its error"),
            }
        };
        assert_eq!(text, "Once upon a time");
        let Error::Stream { kind, partial, .. } = &e else { panic!("{e:?}") };
        assert_eq!(*kind, StreamErrorKind::ErrorEvent);
        assert_eq!(partial.text(), "Once upon a time");
        assert_eq!(e.code(), Some("data_inspection_failed"));
        assert_eq!(e.message(), Some("Output data may contain inappropriate content."));
        assert_eq!(e.request_id(), Some(rid));
        assert!(next!(stream).is_none(), "the stream is over after its error");
        assert_eq!(journal(&server).len(), 1, "a stream is not retried after its first chunk");
    }
}

scenario! {
    fn responses_error_event_mid_stream_is_stream_error() {
        let server = server();
        let client = make_client(config(&server).build().unwrap());
        let req: ResponseRequest = request("responses/failed-stream");
        let stream = w!(client.responses().create_stream(req)).expect("the stream starts");
        let e = w!(stream.accumulate()).unwrap_err();
        let Error::Stream { kind, partial, .. } = &e else { panic!("{e:?}") };
        assert_eq!(*kind, StreamErrorKind::ErrorEvent);
        assert_eq!(e.code(), Some("internal_error"));
        assert_eq!(e.message(), Some("An internal error has occurred, please try again later."));
        assert_eq!(
            partial.as_responses().map(|r| r.id.as_str()),
            Some("2d4f6a8c-0e1b-4d3f-a5c7-e9b1d3f5a7c9")
        );
    }
}

scenario! {
    fn http_200_with_top_level_code_is_api_error() {
        let server = server();
        let client = make_client(config(&server).build().unwrap());
        let rid = "6e1f0a3b-9c2d-4e5f-8a7b-1c0d9e8f7a6b";
        server.add_cassette(cassette(
            "native/test-200-code",
            "native",
            native::TEXT_GENERATION_PATH,
            json!({"model": "qwen-test-200-code"}),
            false,
            json_response(rid, &format!(
                r#"{{"code":"DataInspectionFailed","message":"Input data may contain inappropriate content.","request_id":"{rid}"}}"#
            )),
        ));
        let req = GenerationRequest::new("qwen-test-200-code", vec![native::Message::user("hi")]);
        let e = w!(client.native().generate(req.clone())).unwrap_err();
        let Error::Api { status, code, message, request_id, .. } = &e else { panic!("{e:?}") };
        assert_eq!(*status, 200);
        assert_eq!(code.as_deref(), Some("DataInspectionFailed"));
        assert_eq!(message, "Input data may contain inappropriate content.");
        assert_eq!(request_id.as_deref(), Some(rid));
    }
}

scenario! {
    fn undecodable_success_body_is_decode_error() {
        let server = server();
        let client = make_client(config(&server).build().unwrap());
        server.add_cassette(cassette(
            "chat/test-garbage",
            "chat",
            "/compatible-mode/v1/chat/completions",
            json!({"model": "qwen-test-garbage"}),
            false,
            json_response("req-garbage", "<html>upstream maintenance</html>"),
        ));
        let e = w!(client.chat().create(ChatRequest::new("qwen-test-garbage", vec![Message::user("x")]))).unwrap_err();
        let Error::Decode { status, excerpt, request_id, .. } = &e else { panic!("{e:?}") };
        assert_eq!(*status, 200);
        assert_eq!(excerpt, "<html>upstream maintenance</html>");
        assert_eq!(request_id.as_deref(), Some("req-garbage"));
        assert_error_has_no_key(&e);
    }
}

scenario! {
    fn stream_ending_before_its_terminal_event_is_stream_error() {
        let server = server();
        let client = make_client(config(&server).build().unwrap());
        let req: ChatRequest = request("chat/thinking-stream-opening");
        let stream = w!(client.chat().create_stream(req)).expect("the stream starts");
        let e = w!(stream.accumulate()).unwrap_err();
        let Error::Stream { kind, partial, details, .. } = &e else { panic!("{e:?}") };
        assert_eq!(*kind, StreamErrorKind::UnexpectedEnd);
        assert_eq!(partial.reasoning(), "Here's a thinking process");
        assert_eq!(details.chunks, 2);
        assert_eq!(e.request_id(), Some("7999b4d7-b7a3-9ba9-8a05-107864424463"));
    }
}

// ---------------------------------------------------------------------------------------------
// Retries.

scenario! {
    fn retry_after_429_then_success() {
        let server = server();
        let client = make_client(
            config(&server).header("x-mock-fault", "status=429;retry-after=1;times=1").build().unwrap(),
        );
        let req: ChatRequest = request("chat/stream-include-usage-twin");
        let started = Instant::now();
        let reply = w!(client.chat().create(req)).expect("the retry succeeds");
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_secs(1), "waited only {elapsed:?}");
        assert_eq!(reply.attempts(), 2);
        let j = journal(&server);
        assert_eq!(j.len(), 2, "exactly two requests");
        assert_eq!((j[0].status, j[1].status), (429, 200));
        assert!(reply.text().is_some());
    }
}

scenario! {
    fn three_500s_exhaust_two_retries() {
        let server = server();
        let client = make_client(
            config(&server).header("x-mock-fault", "status=500;times=3").max_retries(2).build().unwrap(),
        );
        let req: GenerationRequest = request("native/text-sse-twin");
        let e = w!(client.native().generate(req.clone())).unwrap_err();
        assert_eq!(e.status(), Some(500));
        assert!(e.is_retryable());
        assert_eq!(journal(&server).len(), 3, "exactly three requests");
    }
}

scenario! {
    fn bad_request_is_sent_once() {
        let server = server();
        let client = make_client(config(&server).header("x-mock-fault", "status=400").build().unwrap());
        let req: ChatRequest = request("chat/stream-include-usage-twin");
        let e = w!(client.chat().create(req)).unwrap_err();
        assert_eq!(e.status(), Some(400));
        assert!(!e.is_retryable());
        assert_eq!(journal(&server).len(), 1);
    }
}

scenario! {
    fn stream_is_retried_before_its_first_chunk_only() {
        let server = server();
        // A 503 before the stream starts is retried...
        let client = make_client(
            config(&server).header("x-mock-fault", "status=503;times=1").build().unwrap(),
        );
        let req: ChatRequest = request("chat/stream-include-usage-twin");
        let r = w!(w!(client.chat().create_stream(req.clone())).expect("retried").accumulate()).unwrap();
        assert!(r.text().is_some());
        assert_eq!(journal(&server).len(), 2);
        server.reset();

        // ...a native 429 framed as the first event of an HTTP 200 stream too...
        let client = make_client(
            config(&server).header("x-mock-fault", "status=429;envelope=200;times=1").build().unwrap(),
        );
        let nreq: GenerationRequest = request("native/text-sse-twin");
        let r = w!(w!(client.native().generate_stream(nreq)).expect("retried").accumulate()).unwrap();
        assert!(r.text().is_some());
        assert_eq!(journal(&server).len(), 2);
        server.reset();

        // ...but a stream cut after its first chunk is not, and the error carries the text.
        let client = make_client(config(&server).header("x-mock-fault", "cut-after=3").build().unwrap());
        let mut stream = w!(client.chat().create_stream(req)).expect("the stream starts");
        let mut text = String::new();
        let e = loop {
            match next!(stream) {
                Some(Ok(c)) => text.push_str(c.content().unwrap_or_default()),
                Some(Err(e)) => break e,
                None => panic!("a cut stream must not end cleanly"),
            }
        };
        let Error::Stream { kind, partial, details, .. } = &e else { panic!("{e:?}") };
        assert!(
            matches!(kind, StreamErrorKind::Transport | StreamErrorKind::UnexpectedEnd),
            "{kind:?}"
        );
        assert!(details.chunks >= 1);
        assert!(!text.is_empty());
        assert_eq!(partial.text(), text);
        assert_eq!(journal(&server).len(), 1, "not retried");
    }
}

// ---------------------------------------------------------------------------------------------
// Partial responses, paths, stored responses.

scenario! {
    fn partial_response_is_surfaced_and_continued() {
        let server = server();
        let client = make_client(config(&server).header("x-mock-fault", "partial").build().unwrap());
        let req: ChatRequest = request("chat/partial-mode");
        let prefix = req.messages[1].text().unwrap().to_owned();
        let reply = w!(client.chat().create(req.clone())).expect("an answer");
        assert!(reply.is_partial());
        let next = reply.continuation(&req);
        assert_eq!(next.messages.len(), 2, "the prefix is extended, not repeated");
        let last = next.messages.last().unwrap();
        assert_eq!(last.partial, Some(true));
        assert_eq!(last.role, Role::Assistant);
        assert_eq!(
            last.text().unwrap(),
            format!("{prefix}{}", reply.text().unwrap())
        );

        let plain = make_client(config(&server).build().unwrap());
        let reply = w!(plain.chat().create(req)).expect("an answer");
        assert!(!reply.is_partial());
    }
}

scenario! {
    fn native_multimodal_requests_go_to_the_multimodal_path() {
        let server = server();
        let client = make_client(config(&server).build().unwrap());
        let req: GenerationRequest = request("native/vl-image");
        assert!(req.is_multimodal());
        let r = w!(client.native().generate(req.clone())).expect("answer");
        assert!(!r.text().unwrap_or_default().is_empty());
        assert_eq!(journal(&server)[0].path, native::MULTIMODAL_GENERATION_PATH);
    }
}

scenario! {
    fn responses_legacy_path_and_stored_responses() {
        let server = server();
        let client = make_client(config(&server).build().unwrap());
        let req: ResponseRequest = request("responses/legacy-path");
        let r = w!(client.responses().with_options(RequestOptions::new().endpoint(Endpoint::ResponsesLegacy)).create(req)).expect("legacy path");
        assert!(!r.output_text().is_empty());
        assert_eq!(journal(&server)[0].path, "/api/v2/apps/protocols/compatible-mode/v1/responses");

        let req: ResponseRequest = request("responses/basic");
        let created = w!(client.responses().create(req)).expect("create");
        let id = created.id.clone();
        let fetched = w!(client.responses().retrieve(&id)).expect("retrieve");
        assert_eq!(fetched.id, id);
        assert_eq!(fetched.output_text(), created.output_text());
        let items = w!(client.responses().input_items(&id, ListQuery::default())).expect("input items");
        assert!(!items.data.is_empty());
        let deleted = w!(client.responses().delete(&id)).expect("delete");
        assert!(deleted.deleted);
        let gone = w!(client.responses().retrieve(&id)).unwrap_err();
        assert_eq!(gone.status(), Some(404));
        let empty = w!(client.responses().retrieve("")).unwrap_err();
        assert!(matches!(empty, Error::InvalidRequest { .. }));
    }
}

// ---------------------------------------------------------------------------------------------
// The key never shows.

scenario! {
    fn key_never_shows_in_debug_or_display() {
        let server = server();
        let config = config(&server).header("x-mock-fault", "cut-after=2;dialect=chat").build().unwrap();
        assert_no_key("Config Debug", &format!("{config:?}"));
        let client = make_client(config);
        assert_no_key("Client Debug", &format!("{client:?}"));

        // Api.
        let req: ChatRequest = request("chat/error-401-invalid-api-key");
        let e = w!(client.chat().create(req)).unwrap_err();
        assert!(matches!(e, Error::Api { .. }));
        assert_error_has_no_key(&e);
        // Stream (cut after two events).
        let req: ChatRequest = request("chat/stream-include-usage-twin");
        let e = w!(w!(client.chat().create_stream(req)).unwrap().accumulate()).unwrap_err();
        assert!(matches!(e, Error::Stream { .. }), "{e:?}");
        assert_error_has_no_key(&e);
        // InvalidRequest.
        let e = w!(client.responses().delete("")).unwrap_err();
        assert_error_has_no_key(&e);
        // Transport: nothing listens there.
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", dead.local_addr().unwrap());
        drop(dead);
        let offline = make_client(
            dashscope_provider::Config::builder().api_key(KEY).base_url(url).max_retries(1).build().unwrap(),
        );
        let started = Instant::now();
        let e = w!(offline.chat().create(ChatRequest::new("qwen-plus", vec![Message::user("x")]))).unwrap_err();
        assert!(matches!(e, Error::Transport(_)), "{e:?}");
        assert!(e.is_retryable(), "a refused connection sent nothing");
        assert!(started.elapsed() < Duration::from_secs(20));
        assert_error_has_no_key(&e);
        // A gateway that echoes the key into its error body.
        server.add_cassette(cassette(
            "native/test-echo-key",
            "native",
            native::TEXT_GENERATION_PATH,
            json!({"model": "qwen-test-echo"}),
            false,
            RecordedResponse {
                status: 401,
                headers: vec![("content-type".into(), "application/json".into())],
                body: Body::Text(format!(
                    r#"{{"code":"InvalidApiKey","message":"Invalid API-key provided: {KEY}","request_id":"r-echo"}}"#
                )),
            },
        ));
        let echo = GenerationRequest::new("qwen-test-echo", vec![native::Message::user("x")]);
        let e = w!(client.native().generate(echo.clone())).unwrap_err();
        assert_eq!(e.code(), Some("InvalidApiKey"));
        assert_eq!(e.message(), Some("Invalid API-key provided: [REDACTED]"));
        assert_error_has_no_key(&e);
    }
}

// ---------------------------------------------------------------------------------------------
// Request features pass through; timeouts.

scenario! {
    fn multimodal_parts_and_json_output_pass_through() {
        let server = server();
        let client = make_client(config(&server).build().unwrap());
        // Chat: image_url + text parts, streamed.
        let req = ChatRequest::new(
            "qwen3-vl-plus",
            vec![Message::user_parts(vec![
                dashscope_protocol::chat::ContentPart::image_url(
                    "https://help-static-aliyun-doc.aliyuncs.com/file-manage-files/zh-CN/20241022/emyrja/dog_and_girl.jpeg",
                ),
                dashscope_protocol::chat::ContentPart::text("图中描绘的是什么景象？"),
            ])],
        );
        let r = w!(w!(client.chat().create_stream(req)).expect("stream opens").accumulate()).expect("answer");
        assert!(r.text().unwrap_or_default().starts_with("图中描绘的是"));
        // Native: response_format json_object.
        let req: GenerationRequest = request("native/json-object");
        assert_eq!(
            serde_json::to_value(&req).unwrap()["parameters"]["response_format"],
            json!({"type": "json_object"})
        );
        let r = w!(client.native().generate(req.clone())).expect("answer");
        let parsed: serde_json::Value = serde_json::from_str(&r.text().unwrap()).expect("JSON output");
        assert_eq!(parsed["result"], 2);
        let j = journal(&server);
        assert_eq!(j[0].body.as_ref().unwrap()["messages"][0]["content"][0]["type"], "image_url");
        assert_eq!(j[1].body.as_ref().unwrap()["parameters"]["response_format"]["type"], "json_object");
    }
}

scenario! {
    fn stalled_stream_and_slow_answer_time_out() {
        let server = server();
        // A stream that stalls after three events: the read (idle) timeout ends it, with what
        // arrived.
        let client = make_client(
            config(&server)
                .idle_timeout(Duration::from_millis(400))
                .header("x-mock-fault", "stall-after=3")
                .build()
                .unwrap(),
        );
        let req: ChatRequest = request("chat/stream-include-usage-twin");
        let started = Instant::now();
        let e = w!(w!(client.chat().create_stream(req.clone())).expect("the stream starts").accumulate())
            .unwrap_err();
        let Error::Stream { kind, partial, .. } = &e else { panic!("{e:?}") };
        assert_eq!(*kind, StreamErrorKind::IdleTimeout);
        assert!(e.is_timeout());
        assert!(!partial.text().is_empty());
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(journal(&server).len(), 1);
        server.reset();

        // An answer that stalls after its head: a transport timeout, not retried (the request was
        // sent, so the service may be generating it).
        let client = make_client(
            config(&server)
                .idle_timeout(Duration::from_millis(300))
                .total_timeout(Some(Duration::from_millis(300)))
                .header("x-mock-fault", "stall-after=0")
                .build()
                .unwrap(),
        );
        let e = w!(client.chat().create(req)).unwrap_err();
        assert!(matches!(e, Error::Transport(_)), "{e:?}");
        assert!(e.is_timeout());
        assert!(!e.is_retryable());
        assert_eq!(journal(&server).len(), 1, "sent once");
    }
}

// ---------------------------------------------------------------------------------------------
// Request options: per call, over the configuration.

scenario! {
    fn request_options_headers_arrive_and_never_replace_the_key() {
        let server = server();
        let client = make_client(config(&server).header("x-app", "config").build().unwrap());
        let options = RequestOptions::new()
            .header("x-app", "call")
            .header("x-trace-id", "t-42")
            .header("user-agent", "app/1.0");
        let req: ChatRequest = request("chat/stream-include-usage-twin");
        w!(client.chat().with_options(options.clone()).create(req.clone())).expect("an answer");
        let nreq: GenerationRequest = request("native/text-sse-twin");
        let stream = w!(client.native().with_options(options).generate_stream(nreq)).expect("a stream");
        w!(stream.accumulate()).expect("the stream completes");
        let conv = dashscope_provider::conversation::Conversation::new("qwen-plus").user("hi");
        let opts = RequestOptions::new().header("x-trace-id", "t-43");
        w!(client.conversation(dashscope_provider::Dialect::Responses).with_options(opts).send(conv))
            .expect("a unified answer");
        // A call without options: the configuration's headers only.
        w!(client.chat().create(req.clone())).expect("an answer");

        let j = journal(&server);
        assert_eq!(j.len(), 4);
        for e in &j[..2] {
            assert_eq!(header(e, "x-app"), Some("call"), "the call's value replaces the config's");
            assert_eq!(header(e, "x-trace-id"), Some("t-42"));
            assert_eq!(header(e, "user-agent"), Some("app/1.0"));
            assert_eq!(header(e, "authorization"), Some("Bearer [REDACTED]"));
        }
        assert_eq!(header(&j[1], "x-dashscope-sse"), Some("enable"));
        assert_eq!(header(&j[2], "x-trace-id"), Some("t-43"));
        assert_eq!(header(&j[2], "x-app"), Some("config"));
        assert_eq!(header(&j[3], "x-app"), Some("config"));
        assert_eq!(header(&j[3], "x-trace-id"), None);
        assert!(header(&j[3], "user-agent").unwrap().starts_with("dashscope-rust/"));
        server.reset();

        // The key cannot be replaced per call: refused, nothing sent, no value shown.
        for (name, value) in [("Authorization", "Bearer sk-someone-else-123"), ("x-dashscope-sse", "enable")] {
            let options = RequestOptions::new().header(name, value);
            let e = w!(client.chat().with_options(options).create(req.clone())).unwrap_err();
            assert!(matches!(e, Error::InvalidRequest { .. }), "{e:?}");
            assert!(!format!("{e} {e:?}").contains("sk-someone-else"), "{e:?}");
        }
        assert!(journal(&server).is_empty(), "nothing was sent");
    }
}

scenario! {
    fn request_options_retry_policy_is_honoured_per_call() {
        let server = server();
        // The configuration allows two retries.
        let client = make_client(config(&server).build().unwrap());
        let fault = |f: &str| RequestOptions::new().header("x-mock-fault", f);
        let req: ChatRequest = request("chat/stream-include-usage-twin");

        // No retry for this call: one request, the 503.
        let e = w!(client.chat().with_options(fault("status=503;times=1").max_retries(0)).create(req.clone()))
            .unwrap_err();
        assert_eq!(e.status(), Some(503));
        assert_eq!(journal(&server).len(), 1, "not retried");
        server.reset();

        // Four retries for this one (the configuration's two would give up).
        let policy = RetryPolicy {
            max_retries: 4,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
            ..RetryPolicy::default()
        };
        let nreq: GenerationRequest = request("native/text-sse-twin");
        let r = w!(client.native().with_options(fault("status=500;times=4").retry(policy)).generate(nreq))
            .expect("the fifth attempt succeeds");
        assert_eq!(r.attempts(), 5);
        assert_eq!(journal(&server).len(), 5);
        server.reset();

        // A stream, before its first chunk, likewise.
        let s = w!(client.chat().with_options(fault("status=503;times=1").max_retries(0)).create_stream(req.clone()))
            .unwrap_err();
        assert_eq!(s.status(), Some(503));
        assert_eq!(journal(&server).len(), 1);
        server.reset();

        // And the group without options keeps the configuration's policy.
        let e = w!(client.chat().with_options(fault("status=503;times=3")).create(req)).unwrap_err();
        assert_eq!(e.status(), Some(503));
        assert_eq!(journal(&server).len(), 3, "the configuration's two retries");
    }
}

scenario! {
    fn request_options_total_timeout_fires_per_call() {
        let server = server();
        // The configuration waits 60 s; these calls, 300 ms.
        let client = make_client(
            config(&server).total_timeout(Some(Duration::from_secs(60))).build().unwrap(),
        );
        let stalled = RequestOptions::new()
            .header("x-mock-fault", "stall-after=0")
            .total_timeout(Some(Duration::from_millis(300)));
        let req: ChatRequest = request("chat/stream-include-usage-twin");
        let started = Instant::now();
        let e = w!(client.chat().with_options(stalled.clone()).create(req.clone())).unwrap_err();
        assert!(matches!(e, Error::Transport(_)), "{e:?}");
        assert!(e.is_timeout());
        let e = w!(client.chat().with_options(stalled).create_stream(req)).unwrap_err();
        assert!(matches!(e, Error::Transport(_)), "{e:?}");
        assert!(e.is_timeout());
        // Far under the configuration's 60 s (the bound is generous: the machine may be loaded).
        assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
        assert_eq!(journal(&server).len(), 2, "sent once each, not retried");
    }
}

scenario! {
    fn request_options_choose_the_endpoint() {
        let server = server();
        let client = make_client(config(&server).build().unwrap());
        let text: GenerationRequest = request("native/text-sse-twin");
        let options = RequestOptions::new().endpoint(Endpoint::NativeMultimodal);
        w!(client.native().with_options(options.clone()).generate(text)).expect("an answer");
        let conv = dashscope_provider::conversation::Conversation::new("qwen-plus").user("hi");
        w!(client.conversation(dashscope_provider::Dialect::Native).with_options(options).send(conv))
            .expect("a unified answer");
        let j = journal(&server);
        assert_eq!(j[0].path, Endpoint::NativeMultimodal.path());
        assert_eq!(j[1].path, Endpoint::NativeMultimodal.path());
    }
}

