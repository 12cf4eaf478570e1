//! The unified layer: every fixture's request converts dialect → unified → the same dialect
//! losslessly, arbitrary conversations round-trip through every dialect and are stable across
//! every ordered pair of dialects, rough wire requests come back exactly, responses read as
//! their dialect says, and the events read from every stream fixture fold into the answer the
//! dialect's own accumulator gives.

use std::path::Path;

use dashscope_protocol::cassette::{Body, Cassette, Dialect};
use dashscope_protocol::chat::{self, ChatAccumulator, ChatRequest, ChatStreamDecoder};
use dashscope_protocol::native::{self, GenerationRequest, NativeAccumulator, NativeStreamDecoder};
use dashscope_protocol::responses::{
    self, FunctionCallOutput, InputItem, InputMessage, ResponseRequest, ResponsesAccumulator,
    ResponsesStreamDecoder,
};
use dashscope_protocol::sse::{Decoder, Mode};
use dashscope_protocol::stream::{Accumulate, StreamDecode, StreamItem};
use dashscope_protocol::unified::{
    Candidate, Conversation, ConvertError, DialectChunk, DialectRequest, DialectResponse,
    DialectValue, FinishReason, FunctionTool, ImageDetail, ImagePart, JsonSchemaFormat, Message,
    Part, ReasoningEffort, ResponseFormat, Role, Sampling, StreamReader, TextPart, Thinking, Tool,
    ToolCall, ToolChoice, UnifiedEvent, UnifiedResponse, Usage, VideoPart, VideoSource,
};
use dashscope_protocol::wire::Extra;
use proptest::prelude::*;
use serde_json::{Value, json};

const DIALECTS: [Dialect; 3] = [Dialect::Chat, Dialect::Responses, Dialect::Native];

// ------------------------------------------------------------------------------------------
// Fixtures
// ------------------------------------------------------------------------------------------

/// Every cassette of `dialect`, sorted by name.
fn fixtures(dialect: Dialect) -> Vec<Cassette> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dialect.as_str());
    let mut out: Vec<Cassette> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().and_then(|x| x.to_str()) == Some("json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("readable fixture");
            Cassette::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(
        out.len() >= 10,
        "{}: only {} fixtures",
        dialect.as_str(),
        out.len()
    );
    out
}

fn all_fixtures() -> Vec<Cassette> {
    DIALECTS.iter().flat_map(|d| fixtures(*d)).collect()
}

fn fixture(name: &str) -> Cassette {
    all_fixtures()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no fixture {name}"))
}

fn request_of(c: &Cassette) -> DialectRequest {
    let body = c.request.body.as_ref().expect("request body");
    DialectRequest::from_json(c.dialect, body).unwrap_or_else(|e| panic!("{}: {e}", c.name))
}

/// The body of a non-stream response.
fn response_json(c: &Cassette) -> Option<Value> {
    match &c.response.body {
        Body::Text(t) => serde_json::from_str(t).ok(),
        Body::Json(v) => Some(v.clone()),
        Body::Chunks(_) => None,
    }
}

fn sse_mode(d: Dialect) -> Mode {
    if d == Dialect::Native {
        Mode::DataLineIsEvent
    } else {
        Mode::Standard
    }
}

/// The `data:` payloads of a stream fixture (empty ones and `[DONE]` left out), as JSON.
fn payloads(c: &Cassette) -> Vec<Value> {
    let mut sse = Decoder::with_mode(sse_mode(c.dialect));
    sse.feed(&c.response.body.to_bytes());
    sse.finish();
    let mut out = Vec::new();
    while let Some(ev) = sse.next_event() {
        let ev = ev.unwrap_or_else(|e| panic!("{}: {e}", c.name));
        let data = ev.data.trim();
        if data.is_empty() || data == "[DONE]" {
            continue;
        }
        out.push(serde_json::from_str(data).unwrap_or_else(|e| panic!("{}: {e}", c.name)));
    }
    out
}

/// The typed chunks a dialect's stream decoder yields (`None` when it reports an error).
fn decoded_chunks(c: &Cassette) -> Option<Vec<DialectChunk>> {
    let mut sse = Decoder::with_mode(sse_mode(c.dialect));
    sse.feed(&c.response.body.to_bytes());
    sse.finish();
    let mut chat = ChatStreamDecoder::new();
    let mut native = NativeStreamDecoder::new();
    let mut responses = ResponsesStreamDecoder::new();
    let mut out = Vec::new();
    while let Some(ev) = sse.next_event() {
        let ev = ev.expect("valid SSE");
        let item = match c.dialect {
            Dialect::Chat => chat.decode(&ev).map(|i| map_item(i, DialectChunk::Chat)),
            Dialect::Native => native
                .decode(&ev)
                .map(|i| map_item(i, DialectChunk::Native)),
            Dialect::Responses => responses
                .decode(&ev)
                .map(|i| map_item(i, DialectChunk::Responses)),
        }
        .expect("valid JSON");
        match item {
            StreamItem::Chunk(ch) => out.push(ch),
            StreamItem::Error(_) => return None,
            StreamItem::Skip | StreamItem::End => {}
        }
    }
    Some(out)
}

fn map_item<T>(i: StreamItem<T>, f: impl Fn(T) -> DialectChunk) -> StreamItem<DialectChunk> {
    match i {
        StreamItem::Chunk(c) => StreamItem::Chunk(f(c)),
        StreamItem::Skip => StreamItem::Skip,
        StreamItem::End => StreamItem::End,
        StreamItem::Error(e) => StreamItem::Error(e),
    }
}

fn stream_fixtures() -> Vec<Cassette> {
    let out: Vec<Cassette> = all_fixtures()
        .into_iter()
        .filter(|c| c.response.body.is_stream())
        .collect();
    assert!(out.len() >= 20, "stream fixtures: {}", out.len());
    out
}

// ------------------------------------------------------------------------------------------
// Test support: what a value is without what it kept, and the fold of a stream's events
// ------------------------------------------------------------------------------------------

/// The conversation without the wire values its objects kept (what the dialects share).
fn plain(conv: &Conversation) -> Conversation {
    let mut c = conv.clone();
    c.kept = None;
    for m in &mut c.messages {
        m.kept = None;
        for p in &mut m.parts {
            match p {
                Part::Text(t) => t.kept = None,
                Part::Image(i) => i.kept = None,
                Part::Audio(a) => a.kept = None,
                Part::Video(v) => v.kept = None,
                Part::Dialect(_) => {}
            }
        }
        m.tool_calls.iter_mut().for_each(|t| t.kept = None);
    }
    for t in &mut c.tools {
        if let Tool::Function(f) = t {
            f.kept = None;
        }
    }
    c
}

/// The answer without the wire response it kept.
fn plain_answer(r: &UnifiedResponse) -> UnifiedResponse {
    UnifiedResponse {
        kept: None,
        ..r.clone()
    }
}

/// Folds events into the answer they describe.
fn fold(events: &[UnifiedEvent]) -> UnifiedResponse {
    UnifiedResponse::from_events(events)
}

/// Every event of a chunk sequence.
fn read_all(reader: &mut StreamReader, chunks: &[DialectChunk]) -> Vec<UnifiedEvent> {
    let mut out = Vec::new();
    for c in chunks {
        reader.read(c.clone(), &mut out);
    }
    out
}

// ------------------------------------------------------------------------------------------
// Requests: dialect → unified → the same dialect
// ------------------------------------------------------------------------------------------

#[test]
fn every_fixture_request_round_trips_losslessly() {
    let mut seen = [0usize; 3];
    for c in all_fixtures() {
        let body = c.request.body.clone().expect("request body");
        let req = request_of(&c);
        assert_eq!(
            req.to_json(),
            body,
            "{}: the wire type itself round-trips",
            c.name
        );
        let conv = Conversation::from_request(&req);
        let back = conv
            .to_request(c.dialect)
            .unwrap_or_else(|e| panic!("{}: {e}", c.name));
        assert_eq!(
            back.to_json(),
            body,
            "{}: dialect → unified → dialect",
            c.name
        );
        seen[DIALECTS.iter().position(|d| *d == c.dialect).unwrap_or(0)] += 1;
        assert!(!conv.messages.is_empty(), "{}: messages were read", c.name);
    }
    assert!(seen.iter().all(|n| *n >= 10), "{seen:?}");
}

// ------------------------------------------------------------------------------------------
// Responses and streams: read as the dialect says
// ------------------------------------------------------------------------------------------

#[test]
fn every_fixture_response_reads_as_its_dialect_says() {
    let mut count = 0;
    for c in all_fixtures() {
        let Some(body) = response_json(&c) else {
            continue;
        };
        let Ok(resp) = DialectResponse::from_json(c.dialect, &body) else {
            continue;
        };
        let u = UnifiedResponse::from_response(&resp);
        assert_eq!(
            u.kept.as_deref(),
            Some(&resp),
            "{}: the wire response is kept",
            c.name
        );
        let calls: Vec<(String, String, String)> = u
            .tool_calls()
            .iter()
            .map(|t| (t.id.clone(), t.name.clone(), t.arguments.clone()))
            .collect();
        let (text, reasoning, wire_calls, total) = match &resp {
            DialectValue::Chat(r) => (
                r.first_choice()
                    .and_then(|ch| ch.message.content.as_ref())
                    .map(chat::MessageContent::joined_text)
                    .unwrap_or_default(),
                r.reasoning().unwrap_or_default().to_owned(),
                (r.tool_calls().iter())
                    .map(|t| {
                        let s = |x: Option<&str>| x.unwrap_or_default().to_owned();
                        (s(t.id.as_deref()), s(t.name()), s(t.arguments()))
                    })
                    .collect::<Vec<_>>(),
                r.usage.as_ref().map(|u| u.total_tokens),
            ),
            DialectValue::Responses(r) => (
                r.output_text(),
                r.reasoning_text(),
                r.function_calls()
                    .map(|t| (t.call_id.clone(), t.name.clone(), t.arguments.clone()))
                    .collect(),
                r.usage.as_ref().map(|u| u.total_tokens),
            ),
            DialectValue::Native(r) => (
                r.text().unwrap_or_default().into_owned(),
                r.reasoning().unwrap_or_default().to_owned(),
                (r.tool_calls().iter())
                    .map(|t| {
                        let s = |x: Option<&str>| x.unwrap_or_default().to_owned();
                        (s(t.id.as_deref()), s(t.name()), s(t.arguments()))
                    })
                    .collect(),
                r.usage.as_ref().map(|u| {
                    let (i, o) = (u.input_tokens.unwrap_or(0), u.output_tokens.unwrap_or(0));
                    u.total_tokens.unwrap_or(i + o)
                }),
            ),
        };
        assert_eq!(u.text(), text, "{}: text", c.name);
        assert_eq!(u.reasoning(), reasoning, "{}: reasoning", c.name);
        assert_eq!(calls, wire_calls, "{}: tool calls", c.name);
        assert_eq!(u.usage.map(|u| u.total_tokens), total, "{}: usage", c.name);
        count += 1;
    }
    assert!(count >= 25, "non-stream responses checked: {count}");
}

/// The answer the dialect's own accumulator folds `chunks` (of a stream of `request`) into, read
/// as unified.
fn accumulate(request: &DialectRequest, chunks: &[DialectChunk]) -> UnifiedResponse {
    let response = match request {
        DialectValue::Chat(_) => {
            let mut acc = ChatAccumulator::new();
            chunks
                .iter()
                .filter_map(DialectValue::chat)
                .for_each(|x| acc.push(x));
            DialectValue::Chat(acc.finish())
        }
        DialectValue::Responses(_) => {
            let mut acc = ResponsesAccumulator::new();
            (chunks.iter().filter_map(DialectValue::responses)).for_each(|x| acc.push(x));
            DialectValue::Responses(acc.finish())
        }
        DialectValue::Native(req) => {
            let mut acc = NativeAccumulator::for_request(req);
            (chunks.iter().filter_map(DialectValue::native)).for_each(|x| acc.push(x));
            DialectValue::Native(acc.finish())
        }
    };
    plain_answer(&UnifiedResponse::from_response(&response))
}

/// The answer a stream's events describe, checked against the dialect's own accumulation of
/// the same chunks. Where a recording contradicts itself (a done value that is not its deltas
/// nor an extension of them, as in streams elided upstream), the events follow the deltas: that
/// is checked to be a real contradiction (a done value extending the deltas must have been
/// turned into the missing delta).
fn checked_events_answer(
    c: &Cassette,
    original: &UnifiedResponse,
    events: &[UnifiedEvent],
) -> UnifiedResponse {
    let from_events = fold(events);
    let mut want = original.clone();
    assert_eq!(
        from_events.candidates.len(),
        want.candidates.len(),
        "{}",
        c.name
    );
    for (got, w) in from_events.candidates.iter().zip(&mut want.candidates) {
        for (g, w, what) in [
            (&got.text, &mut w.text, "text"),
            (&got.reasoning, &mut w.reasoning, "reasoning"),
        ] {
            if g != w {
                assert!(
                    !w.starts_with(g.as_str()),
                    "{}: {what}: a done value extends the deltas but no delta was added",
                    c.name
                );
                w.clone_from(g);
            }
        }
    }
    assert_eq!(
        from_events, want,
        "{}: the unified events fold to the dialect's answer",
        c.name
    );
    from_events
}

#[test]
fn every_stream_fixture_folds_to_the_accumulated_answer() {
    let mut checked = 0;
    let mut deltas = 0;
    for c in stream_fixtures() {
        // Streams the decoder reports as errors are not answers.
        let Some(chunks) = decoded_chunks(&c) else {
            continue;
        };
        let original = accumulate(&request_of(&c), &chunks);
        assert!(!original.candidates.is_empty(), "{}: an answer", c.name);
        let events = read_all(&mut StreamReader::for_request(&request_of(&c)), &chunks);
        deltas += events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    UnifiedEvent::TextDelta { .. } | UnifiedEvent::ReasoningDelta { .. }
                )
            })
            .count();
        checked_events_answer(&c, &original, &events);
        checked += 1;
    }
    assert!(checked >= 18, "checked {checked}");
    assert!(deltas > 60, "deltas read: {deltas}");
}

#[test]
fn cumulative_native_streams_read_as_deltas() {
    let c = fixture("native/cumulative-sse");
    let req = request_of(&c);
    let DialectValue::Native(native) = &req else {
        panic!("native")
    };
    assert!(!native.is_incremental());
    let events = read_all(
        &mut StreamReader::for_request(&req),
        &decoded_chunks(&c).expect("chunks"),
    );
    let texts: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            UnifiedEvent::TextDelta { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["我爱", "吃", "苹果", "，因为它又脆又甜。"]);
}

#[test]
fn one_answer_reads_the_same_in_every_dialect() {
    let call = json!({"id": "call_1", "type": "function",
        "function": {"name": "get_weather", "arguments": "{\"city\":\"Hangzhou\"}"}});
    let (text, reasoning) = ("It is sunny.", "The user asks about weather.");
    let wires = [
        (
            Dialect::Chat,
            json!({"id": "chatcmpl-req-42", "object": "chat.completion",
            "model": "qwen-plus", "choices": [{"index": 0, "finish_reason": "tool_calls",
                "message": {"role": "assistant", "content": text,
                    "reasoning_content": reasoning, "tool_calls": [call]}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}),
        ),
        (
            Dialect::Native,
            json!({"request_id": "req-42", "output": {"choices": [{
                "finish_reason": "tool_calls", "message": {"role": "assistant",
                    "content": text, "reasoning_content": reasoning, "tool_calls": [call]}}]},
            "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}}),
        ),
        (
            Dialect::Responses,
            json!({"id": "req-42", "object": "response", "model": "qwen-plus",
            "status": "completed", "output": [
                {"type": "reasoning", "summary": [{"type": "summary_text", "text": reasoning}]},
                {"type": "message", "role": "assistant", "status": "completed",
                    "content": [{"type": "output_text", "text": text, "annotations": []}]},
                {"type": "function_call", "call_id": "call_1", "name": "get_weather",
                    "arguments": "{\"city\":\"Hangzhou\"}"}],
            "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}}),
        ),
    ];
    let answer = UnifiedResponse {
        id: Some("req-42".into()),
        model: Some("qwen-plus".into()),
        candidates: vec![Candidate {
            text: text.into(),
            reasoning: reasoning.into(),
            tool_calls: vec![ToolCall::new(
                "call_1",
                "get_weather",
                r#"{"city":"Hangzhou"}"#,
            )],
            finish_reason: Some(FinishReason::ToolCalls),
            ..Default::default()
        }],
        usage: Some(Usage::new(10, 5)),
        ..Default::default()
    };
    for (d, wire) in wires {
        let read =
            UnifiedResponse::from_response(&DialectResponse::from_json(d, &wire).expect("parses"));
        let mut want = answer.clone();
        if d == Dialect::Native {
            want.model = None;
        }
        assert_eq!(plain_answer(&read), want, "{d:?}");
        assert_eq!(read.kept.expect("kept").to_json(), wire, "{d:?}");
    }
}

// ------------------------------------------------------------------------------------------
// Snapshots
// ------------------------------------------------------------------------------------------

fn snapshot_settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_sort_maps(true);
    s
}

fn unified_response_of(name: &str) -> UnifiedResponse {
    let c = fixture(name);
    let body = response_json(&c).expect("non-stream body");
    UnifiedResponse::from_response(&DialectResponse::from_json(c.dialect, &body).expect("parses"))
}

#[test]
fn snapshot_tool_call() {
    let c = fixture("chat/tool-call-stream-usage-twin");
    let conv = Conversation::from_request(&request_of(&c));
    let answer = plain_answer(&unified_response_of("chat/tool-call-stream-usage-twin"));
    assert_eq!(answer.tool_calls().len(), 2);
    snapshot_settings().bind(|| {
        insta::assert_json_snapshot!("tool_call", json!({"request": conv, "response": answer}));
    });
}

#[test]
fn snapshot_thinking() {
    let answer = plain_answer(&unified_response_of("responses/reasoning"));
    assert!(answer.reasoning().contains("Paris"));
    let c = fixture("native/reasoning-sse");
    let events = read_all(
        &mut StreamReader::for_request(&request_of(&c)),
        &decoded_chunks(&c).expect("chunks"),
    );
    snapshot_settings().bind(|| {
        insta::assert_json_snapshot!(
            "thinking",
            json!({"responses_answer": answer, "native_stream_events": events})
        );
    });
}

#[test]
fn snapshot_multimodal() {
    let chat = Conversation::from_request(&request_of(&fixture("chat/thinking-image-nonstream")));
    let native = Conversation::from_request(&request_of(&fixture("native/vl-video-frames")));
    assert!(matches!(chat.messages[0].parts[1], Part::Image(_)));
    snapshot_settings().bind(|| {
        insta::assert_json_snapshot!(
            "multimodal",
            json!({"chat_image": chat, "native_video_frames": native})
        );
    });
}

// ------------------------------------------------------------------------------------------
// Examples
// ------------------------------------------------------------------------------------------

#[test]
fn what_a_dialect_cannot_carry_is_an_error_not_a_silent_drop() {
    let conv = Conversation::new("m").user("hi").top_k(5);
    match conv.to_responses() {
        Err(ConvertError::Unsupported { dialect, what }) => {
            assert_eq!(dialect, Dialect::Responses);
            assert_eq!(what, "top_k");
        }
        other => panic!("{other:?}"),
    }
    assert!(conv.to_chat().is_ok() && conv.to_native().is_ok());
    let frames =
        Conversation::new("m").user_parts(vec![Part::video_frames(vec!["a".into()], None)]);
    assert!(matches!(
        frames.to_responses(),
        Err(ConvertError::Unsupported { .. })
    ));
    let audio =
        Conversation::new("m").user_parts(vec![Part::audio("https://a/x.wav", Some("wav".into()))]);
    assert!(matches!(
        audio.to_native(),
        Err(ConvertError::Unsupported { .. })
    ));
    let foreign = Conversation::new("m").tool(Tool::Dialect(DialectValue::Responses(
        responses::Tool::web_search(),
    )));
    assert!(matches!(
        foreign.to_chat(),
        Err(ConvertError::Unsupported { .. })
    ));
    assert!(foreign.to_responses().is_ok());
    // A number beyond the wire type is refused, not cut.
    let big = Conversation::new("m")
        .user("hi")
        .max_tokens(u64::from(u32::MAX) + 1);
    for d in [Dialect::Chat, Dialect::Native] {
        let e = big.to_request(d).expect_err("too big");
        assert!(e.to_string().contains("max_tokens"), "{e}");
    }
    assert!(big.to_responses().is_ok());
}

#[test]
fn edits_to_a_read_conversation_win_over_what_was_kept() {
    let c = fixture("native/json-object");
    let mut conv = Conversation::from_request(&request_of(&c));
    assert!(conv.kept.is_some(), "native-only members are kept");
    conv.sampling.temperature = Some(0.1);
    conv.messages.push(Message::assistant("2"));
    conv.messages.push(Message::user("and 2+2?"));
    let DialectValue::Native(req) = conv.to_request(Dialect::Native).expect("native") else {
        panic!("native")
    };
    let p = req.parameters.as_ref().expect("parameters");
    assert_eq!(p.temperature, serde_json::Number::from_f64(0.1));
    assert_eq!(req.messages().len(), 3);
    // Native-only members stay with native and do not leak into chat.
    assert!(p.result_format.is_some());
    let chat = serde_json::to_value(conv.to_chat().expect("chat")).expect("json");
    assert!(chat.get("result_format").is_none() && chat.get("parameters").is_none());
    assert_eq!(chat["temperature"], 0.1);
    assert_eq!(chat["response_format"], json!({"type": "json_object"}));
    // An edited member of a kept message is written; its other members stay.
    let c = fixture("chat/thinking-image-nonstream");
    let mut conv = Conversation::from_request(&request_of(&c));
    let Part::Image(image) = &mut conv.messages[0].parts[1] else {
        panic!("an image")
    };
    image.url = "https://x.test/other.png".into();
    let mut want = c.request.body.clone().expect("body");
    want["messages"][0]["content"][1]["image_url"]["url"] = json!("https://x.test/other.png");
    assert_eq!(
        conv.to_request(Dialect::Chat).expect("chat").to_json(),
        want
    );
}

/// Reads `body` as a request of `dialect`, checks it comes back exactly, and returns its
/// conversation.
fn read_back(dialect: Dialect, body: Value) -> Conversation {
    let req = DialectRequest::from_json(dialect, &body).expect("parses");
    let conv = Conversation::from_request(&req);
    let back = conv.to_request(dialect).expect("writes back").to_json();
    assert_eq!(back, body, "{dialect:?}");
    conv
}

#[test]
fn odd_wire_forms_read_as_the_model_says_and_come_back() {
    // Tool calls with members missing, `null` or of another type: read as far as they go.
    let conv = read_back(
        Dialect::Native,
        json!({"model": "m", "input": {"messages": [{"role": "assistant", "tool_calls": [
            {"index": 0, "id": "", "type": "function", "function": {"arguments": "x"}},
            {"index": 1},
            {"id": null, "type": "other", "function": {"name": "f", "arguments": null}},
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ]}]}}),
    );
    let calls: Vec<(&str, &str, &str)> = conv.messages[0]
        .tool_calls
        .iter()
        .map(|t| (t.id.as_str(), t.name.as_str(), t.arguments.as_str()))
        .collect();
    assert_eq!(
        calls,
        [("", "", "x"), ("", "", ""), ("", "f", ""), ("c", "f", "{}")]
    );
    assert!(conv.messages[0].parts.is_empty(), "no content is no part");
    // Tool choices and formats the model has no place for read as none; named forms as theirs.
    let conv = read_back(
        Dialect::Chat,
        json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
            "tool_choice": {"type": "function"}, "response_format": {"type": "text", "x": 1},
            "stop": "END", "stream_options": {}}),
    );
    assert_eq!(conv.tool_choice, None);
    assert_eq!(conv.response_format, Some(ResponseFormat::Text));
    assert_eq!(conv.sampling.stop, Some(vec!["END".to_owned()]));
    assert_eq!(conv.include_usage, None);
    assert_eq!(conv.messages[0].parts, vec![Part::text("hi")]);
    let conv = read_back(
        Dialect::Chat,
        json!({"model": "m", "messages": [{"role": "assistant", "content": null, "partial": false}],
            "tool_choice": "sometimes",
            "response_format": {"type": "json_schema", "json_schema": {"name": "", "schema": {}}}}),
    );
    assert_eq!(conv.tool_choice, None);
    assert!(matches!(
        &conv.response_format,
        Some(ResponseFormat::JsonSchema(f)) if f.name.is_none() && f.schema == Some(json!({}))
    ));
    assert!(!conv.messages[0].partial && conv.messages[0].parts.is_empty());
    let conv = read_back(
        Dialect::Responses,
        json!({"model": "m", "input": [{"type": "message", "role": "user", "content": "a"},
            {"type": "web_search_call", "id": "ws_1"},
            {"role": "assistant", "content": [{"type": "input_text", "text": "b"}]},
            {"type": "input_video", "video_url": "https://v", "fps": 2}],
            "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": []}}),
    );
    assert_eq!(conv.tool_choice, None);
    let texts: Vec<String> = conv.messages.iter().map(Message::joined_text).collect();
    assert_eq!(texts, ["a", "b"], "the unknown items are kept, not read");
}

#[test]
fn native_prompt_and_text_format_read_as_plain_messages_and_text() {
    let c = fixture("native/text-prompt");
    let conv = Conversation::from_request(&request_of(&c));
    assert_eq!(conv.messages, vec![Message::user("请问 1+1 是多少？")]);
    let chat = serde_json::to_value(conv.to_chat().expect("chat")).expect("json");
    assert_eq!(
        chat["messages"],
        json!([{"role": "user", "content": "请问 1+1 是多少？"}])
    );
    let answer = unified_response_of("native/text-prompt");
    assert!(answer.text().contains('2'));
    assert_eq!(answer.finish_reason(), Some(&FinishReason::Stop));
}

#[test]
fn unified_values_serialize_for_cassettes() {
    let answer = unified_response_of("responses/function-call");
    let json = serde_json::to_string(&answer).expect("serializes");
    let back: UnifiedResponse = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(back, answer);
    let c = fixture("native/tool-results-sse");
    let events = read_all(
        &mut StreamReader::for_request(&request_of(&c)),
        &decoded_chunks(&c).expect("chunks"),
    );
    let chunk = DialectChunk::from_json(Dialect::Chat, &json!({"id": "x", "choices": []}))
        .expect("a chunk");
    let events: Vec<UnifiedEvent> = events
        .into_iter()
        .chain([UnifiedEvent::Passthrough(Box::new(chunk))])
        .collect();
    let json = serde_json::to_string(&events).expect("serializes");
    let back: Vec<UnifiedEvent> = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(back, events);
    for name in [
        "native/tool-results-sse",
        "responses/function-call-result",
        "chat/partial-mode",
    ] {
        let conv = Conversation::from_request(&request_of(&fixture(name)));
        let json = serde_json::to_value(&conv).expect("serializes");
        assert_eq!(
            serde_json::from_value::<Conversation>(json).expect("deserializes"),
            conv,
            "{name}"
        );
    }
    // TextPart is reachable from the public API.
    let t = TextPart {
        text: "x".into(),
        kept: None,
    };
    assert_eq!(Part::Text(t), Part::text("x"));
}

// ------------------------------------------------------------------------------------------
// Property tests
// ------------------------------------------------------------------------------------------

/// Which dialects a generated value must be expressible in.
#[derive(Clone, Copy, Debug)]
struct Caps {
    chat: bool,
    responses: bool,
    native: bool,
}

impl Caps {
    fn of(ds: &[Dialect]) -> Caps {
        Caps {
            chat: ds.contains(&Dialect::Chat),
            responses: ds.contains(&Dialect::Responses),
            native: ds.contains(&Dialect::Native),
        }
    }

    /// Whether a feature carried by the given dialects may be generated.
    fn allows(self, chat: bool, responses: bool, native: bool) -> bool {
        (!self.chat || chat) && (!self.responses || responses) && (!self.native || native)
    }

    /// Chat and native only (what Responses lacks).
    fn no_responses(self) -> bool {
        self.allows(true, false, true)
    }
}

fn opt_if<T: Clone + std::fmt::Debug + 'static>(
    on: bool,
    s: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Option<T>> {
    if on {
        proptest::option::of(s).boxed()
    } else {
        Just(None).boxed()
    }
}

fn text() -> impl Strategy<Value = String> {
    "[a-z 中é\"{}]{0,8}"
}

fn word() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,7}"
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.0), Just(1.0), Just(0.7), -2.0f64..2.0]
}

fn url() -> impl Strategy<Value = String> {
    prop_oneof![
        "https://x\\.test/[a-z]{1,6}\\.png",
        "data:image/png;base64,[A-Za-z0-9]{1,6}",
        "oss://b/[a-z]{1,4}",
    ]
}

fn json_object() -> impl Strategy<Value = Value> {
    proptest::collection::btree_map(
        word(),
        prop_oneof![
            any::<bool>().prop_map(Value::from),
            any::<i32>().prop_map(Value::from),
            text().prop_map(Value::from),
        ],
        0..3,
    )
    .prop_map(|m| Value::Object(m.into_iter().collect()))
}

/// Members no dialect knows (`x_…`), for one wire object.
fn unknown_members() -> impl Strategy<Value = Extra> {
    proptest::collection::btree_map(
        "x_[a-z]{1,5}",
        prop_oneof![
            any::<bool>().prop_map(Value::from),
            any::<u16>().prop_map(Value::from),
            text().prop_map(Value::from),
            Just(Value::Null),
        ],
        0..3,
    )
    .prop_map(|m| m.into_iter().collect())
}

fn detail() -> impl Strategy<Value = ImageDetail> {
    prop_oneof![
        Just(ImageDetail::Auto),
        Just(ImageDetail::High),
        Just(ImageDetail::Original),
        word().prop_map(ImageDetail::from),
    ]
}

fn part(c: Caps) -> BoxedStrategy<Part> {
    let pixels = c.no_responses();
    let image = (
        url(),
        opt_if(c.allows(true, true, false), detail()),
        opt_if(pixels, 1u64..5_000_000),
        opt_if(pixels, 1u64..5_000_000),
    )
        .prop_map(|(url, detail, min_pixels, max_pixels)| {
            Part::Image(ImagePart {
                url,
                detail,
                min_pixels,
                max_pixels,
                kept: None,
            })
        });
    let audio = (url(), opt_if(c.allows(true, true, false), "wav|mp3"))
        .prop_map(|(url, format)| Part::audio(url, format));
    let source = if pixels {
        prop_oneof![
            url().prop_map(VideoSource::Url),
            proptest::collection::vec(url(), 0..3).prop_map(VideoSource::Frames),
        ]
        .boxed()
    } else {
        url().prop_map(VideoSource::Url).boxed()
    };
    let video = (
        source,
        proptest::option::of(prop_oneof![Just(2.0), 0.1f64..10.0]),
        opt_if(pixels, 1u64..1_000_000),
        opt_if(pixels, 1u64..1_000_000),
        opt_if(pixels, 1u64..9_000_000),
    )
        .prop_map(|(source, fps, min_pixels, max_pixels, total_pixels)| {
            Part::Video(VideoPart {
                source,
                fps,
                min_pixels,
                max_pixels,
                total_pixels,
                kept: None,
            })
        });
    prop_oneof![4 => text().prop_map(Part::text), 1 => image, 1 => audio, 1 => video].boxed()
}

fn tool_call() -> impl Strategy<Value = ToolCall> {
    (text(), word(), text()).prop_map(|(id, name, args)| ToolCall::new(id, name, args))
}

fn message(c: Caps) -> BoxedStrategy<Message> {
    let name = c.no_responses();
    let other = (
        prop_oneof![
            Just(Role::User),
            Just(Role::System),
            Just(Role::Unknown("developer".into()))
        ],
        proptest::collection::vec(part(c), 0..3),
        opt_if(name, word()),
    )
        .prop_map(|(role, parts, name)| Message {
            role,
            parts,
            name,
            ..Default::default()
        });
    let assistant = (
        proptest::collection::vec(part(c), 0..3),
        proptest::option::of(text()),
        proptest::collection::vec(tool_call(), 0..3),
        opt_if(name, any::<bool>()),
        opt_if(name, word()),
    )
        .prop_map(|(parts, reasoning, tool_calls, partial, name)| Message {
            role: Role::Assistant,
            parts,
            reasoning,
            tool_calls,
            partial: partial.unwrap_or(false),
            name,
            ..Default::default()
        });
    let tool_parts = if c.responses {
        prop_oneof![
            Just(Vec::new()),
            "[a-z中]{1,8}".prop_map(|t| vec![Part::text(t)])
        ]
        .boxed()
    } else {
        proptest::collection::vec(part(c), 0..3).boxed()
    };
    let tool = (text(), tool_parts, opt_if(name, word())).prop_map(|(id, parts, name)| Message {
        role: Role::Tool,
        parts,
        tool_call_id: Some(id),
        name,
        ..Default::default()
    });
    prop_oneof![3 => other, 2 => assistant, 1 => tool].boxed()
}

/// Responses merges consecutive assistant turns: keep them apart with a user message.
fn separate_assistants(messages: Vec<Message>) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::with_capacity(messages.len());
    for m in messages {
        if m.role == Role::Assistant && out.last().is_some_and(|p| p.role == Role::Assistant) {
            out.push(Message::user("next"));
        }
        out.push(m);
    }
    out
}

fn sampling(c: Caps) -> impl Strategy<Value = Sampling> {
    let nr = c.no_responses();
    (
        proptest::option::of(float()),
        proptest::option::of(float()),
        opt_if(nr, 1u32..200),
        proptest::option::of(1u64..=u64::from(u32::MAX)),
        opt_if(nr, 1u64..100_000),
        opt_if(nr, any::<u64>()),
        opt_if(nr, proptest::collection::vec(text(), 0..3)),
        opt_if(nr, 1u32..5),
        opt_if(nr, float()),
        opt_if(nr, float()),
    )
        .prop_map(
            |(
                temperature,
                top_p,
                top_k,
                max_tokens,
                max_completion_tokens,
                seed,
                stop,
                n,
                pp,
                rp,
            )| {
                Sampling {
                    temperature,
                    top_p,
                    top_k,
                    max_tokens,
                    max_completion_tokens,
                    seed,
                    stop,
                    n,
                    presence_penalty: pp,
                    repetition_penalty: rp,
                }
            },
        )
}

fn effort() -> impl Strategy<Value = ReasoningEffort> {
    prop_oneof![
        Just(ReasoningEffort::None),
        Just(ReasoningEffort::Low),
        Just(ReasoningEffort::High),
        Just(ReasoningEffort::XHigh),
        Just(ReasoningEffort::Max),
    ]
}

fn response_format() -> impl Strategy<Value = ResponseFormat> {
    prop_oneof![
        Just(ResponseFormat::Text),
        Just(ResponseFormat::JsonObject),
        (
            proptest::option::of(word()),
            proptest::option::of(text()),
            proptest::option::of(json_object()),
            proptest::option::of(any::<bool>())
        )
            .prop_map(|(name, description, schema, strict)| {
                ResponseFormat::JsonSchema(JsonSchemaFormat {
                    name,
                    description,
                    schema,
                    strict,
                })
            }),
    ]
}

fn tool() -> impl Strategy<Value = Tool> {
    (
        word(),
        proptest::option::of(text()),
        proptest::option::of(json_object()),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(name, description, parameters, strict)| {
            Tool::Function(FunctionTool {
                name,
                description,
                parameters,
                strict,
                kept: None,
            })
        })
}

fn tool_choice() -> impl Strategy<Value = ToolChoice> {
    prop_oneof![
        Just(ToolChoice::Auto),
        Just(ToolChoice::None),
        Just(ToolChoice::Required),
        word().prop_map(ToolChoice::Function),
    ]
}

fn conversation(c: Caps) -> impl Strategy<Value = Conversation> {
    (
        "[a-z0-9.-]{1,12}",
        proptest::collection::vec(message(c), 0..5),
        proptest::collection::vec(tool(), 0..3),
        proptest::option::of(tool_choice()),
        proptest::option::of(any::<bool>()),
        sampling(c),
        (
            proptest::option::of(any::<bool>()),
            opt_if(c.no_responses(), 1u32..10_000),
            proptest::option::of(effort()),
        ),
        proptest::option::of(response_format()),
        opt_if(c.allows(true, true, false), any::<bool>()),
        opt_if(c.allows(true, false, false), any::<bool>()),
    )
        .prop_map(
            move |(
                model,
                messages,
                tools,
                tool_choice,
                parallel,
                sampling,
                th,
                rf,
                stream,
                usage,
            )| {
                Conversation {
                    model,
                    messages: if c.responses {
                        separate_assistants(messages)
                    } else {
                        messages
                    },
                    tools,
                    tool_choice,
                    parallel_tool_calls: parallel,
                    sampling,
                    thinking: Thinking {
                        enabled: th.0,
                        budget: th.1,
                        effort: th.2,
                    },
                    response_format: rf,
                    stream,
                    include_usage: usage,
                    kept: None,
                }
            },
        )
}

/// Gives the conversation and its non-assistant messages kept wire values of `dialect` holding
/// members no dialect knows, plus a part and a tool only that dialect has.
fn with_dialect_members(
    mut conv: Conversation,
    dialect: Dialect,
    members: Vec<Extra>,
) -> Conversation {
    let mut members = members.into_iter();
    let mut next = || members.next().unwrap_or_default();
    conv.kept = Some(Box::new(match dialect {
        Dialect::Chat => DialectValue::Chat(ChatRequest {
            extra: next(),
            ..Default::default()
        }),
        Dialect::Responses => DialectValue::Responses(ResponseRequest {
            extra: next(),
            ..Default::default()
        }),
        Dialect::Native => DialectValue::Native(GenerationRequest {
            extra: next(),
            ..Default::default()
        }),
    }));
    for m in conv
        .messages
        .iter_mut()
        .filter(|m| m.role != Role::Assistant)
    {
        let extra = next();
        m.kept = Some(Box::new(match dialect {
            Dialect::Chat => DialectValue::Chat(chat::Message {
                extra,
                ..Default::default()
            }),
            Dialect::Native => DialectValue::Native(native::Message {
                extra,
                ..Default::default()
            }),
            Dialect::Responses if m.role == Role::Tool => {
                DialectValue::Responses(vec![InputItem::FunctionCallOutput(FunctionCallOutput {
                    extra,
                    ..Default::default()
                })])
            }
            Dialect::Responses => DialectValue::Responses(vec![InputItem::Message(InputMessage {
                extra,
                ..Default::default()
            })]),
        }));
    }
    let (part, tool) = match dialect {
        Dialect::Chat => (
            DialectValue::Chat(chat::ContentPart::Unknown(
                json!({"type": "hologram", "z": 1}),
            )),
            DialectValue::Chat(chat::Tool::Unknown(json!({"type": "retrieval", "k": 2}))),
        ),
        Dialect::Responses => (
            DialectValue::Responses(responses::ContentPart::file_url("https://x.test/a.pdf")),
            DialectValue::Responses(responses::Tool::web_search()),
        ),
        Dialect::Native => (
            DialectValue::Native(native::ContentItem {
                extra: [("hologram".to_owned(), json!("h"))].into_iter().collect(),
                ..Default::default()
            }),
            DialectValue::Native(native::Tool::Unknown(json!({"type": "plugin", "p": true}))),
        ),
    };
    if let Some(m) = conv.messages.iter_mut().find(|m| m.role == Role::User) {
        m.parts.push(Part::Dialect(part));
    }
    conv.tools.push(Tool::Dialect(tool));
    conv
}

/// Through the wire: unified → dialect → JSON → dialect → unified.
fn via(dialect: Dialect, conv: &Conversation) -> Conversation {
    let wire = conv
        .to_request(dialect)
        .unwrap_or_else(|e| panic!("{dialect:?}: {e}\n{conv:#?}"));
    let parsed = DialectRequest::from_json(dialect, &wire.to_json()).expect("wire JSON parses");
    Conversation::from_request(&parsed)
}

fn dialect() -> impl Strategy<Value = Dialect> {
    prop_oneof![
        Just(Dialect::Chat),
        Just(Dialect::Responses),
        Just(Dialect::Native)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    /// Conversation → dialect → conversation gives the original values, and writes the same
    /// wire value again (the dialect's own members, parts and tools included); a conversation
    /// that kept nothing comes back exactly.
    #[test]
    fn conversations_round_trip_through_each_dialect(
        (d, conv, members, extra) in dialect().prop_flat_map(|d| (
            Just(d),
            conversation(Caps::of(&[d])),
            proptest::collection::vec(unknown_members(), 0..7),
            any::<bool>(),
        ))
    ) {
        let conv = if extra { with_dialect_members(conv, d, members) } else { conv };
        let back = via(d, &conv);
        prop_assert_eq!(plain(&back), plain(&conv));
        let wire = conv.to_request(d).expect("writes").to_json();
        prop_assert_eq!(back.to_request(d).expect("writes back").to_json(), wire);
        if !extra {
            prop_assert_eq!(back, conv);
        }
    }

    /// A → unified → B → unified gives A's unified value without what A kept, for every ordered
    /// pair (for A = B, with it).
    #[test]
    fn conversations_are_stable_across_every_dialect_pair(
        (a, b, conv, members) in (dialect(), dialect()).prop_flat_map(|(a, b)| (
            Just(a),
            Just(b),
            conversation(Caps::of(&[a, b])),
            proptest::collection::vec(unknown_members(), 0..7),
        ))
    ) {
        let mut conv = with_dialect_members(conv, a, members);
        if a != b {
            // Not A's own parts and tools, which B cannot carry.
            conv.tools.retain(|t| !matches!(t, Tool::Dialect(_)));
            for m in &mut conv.messages {
                m.parts.retain(|p| !matches!(p, Part::Dialect(_)));
            }
        }
        let u1 = via(a, &conv);
        prop_assert_eq!(plain(&u1), plain(&conv));
        let u2 = via(b, &u1);
        if a == b {
            prop_assert_eq!(u2, u1);
        } else {
            prop_assert_eq!(u2, plain(&u1));
        }
    }
}

// ------------------------------------------------------------------------------------------
// Wire values with rough edges
// ------------------------------------------------------------------------------------------

/// Paths (object keys and array indexes) to every object inside `v`.
fn object_paths(v: &Value, path: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    match v {
        Value::Object(m) => {
            out.push(path.clone());
            for (k, x) in m {
                path.push(Value::from(k.as_str()));
                object_paths(x, path, out);
                path.pop();
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                path.push(Value::from(i));
                object_paths(x, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn at<'a>(v: &'a mut Value, path: &[Value]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |cur, seg| match seg {
        Value::String(k) => cur.get_mut(k.as_str()),
        Value::Number(n) => cur.get_mut(usize::try_from(n.as_u64()?).ok()?),
        _ => None,
    })
}

/// Applies `(selector, op)` edits to objects of `v`: a member set to `null`, removed, emptied
/// (strings) or turned into a float (integers), or an unknown member (plain or `$`-prefixed)
/// added.
fn roughen(v: &mut Value, edits: &[(usize, u8)]) {
    for &(sel, op) in edits {
        let mut paths = Vec::new();
        object_paths(v, &mut Vec::new(), &mut paths);
        if paths.is_empty() {
            return;
        }
        let path = paths[sel % paths.len()].clone();
        let Some(Value::Object(m)) = at(v, &path) else {
            continue;
        };
        let keys: Vec<String> = m.keys().cloned().collect();
        let key = (!keys.is_empty()).then(|| keys[(sel / 7) % keys.len()].clone());
        match (op % 6, key) {
            (0, Some(k)) => {
                m.insert(k, Value::Null);
            }
            (1, Some(k)) => {
                m.remove(&k);
            }
            (2, Some(k)) if m.get(&k).is_some_and(Value::is_string) => {
                m.insert(k, Value::from(""));
            }
            (3, Some(k)) if m.get(&k).is_some_and(Value::is_u64) => {
                let n = m.get(&k).and_then(Value::as_u64).unwrap_or(0);
                m.insert(k, json!(n as f64 + 0.5));
            }
            (4, _) => {
                m.insert(format!("x_{sel}"), json!({"k": [sel, null]}));
            }
            (5, _) => {
                m.insert(format!("${sel}"), Value::from(sel));
            }
            _ => {}
        }
    }
}

fn edits() -> impl Strategy<Value = Vec<(usize, u8)>> {
    proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6)
}

/// The JSON payloads of every stream fixture, with their dialect and request.
fn stream_payloads() -> Vec<(DialectRequest, Vec<Value>)> {
    stream_fixtures()
        .iter()
        .map(|c| (request_of(c), payloads(c)))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    /// Requests with rough edges (nulls, missing and unknown members, other forms) come back
    /// exactly as the wire type holds them; stream chunks with rough edges read without a panic.
    #[test]
    fn rough_wire_values_round_trip_losslessly(
        (d, conv, e1, e2, pick) in dialect().prop_flat_map(|d| (
            Just(d),
            conversation(Caps::of(&[d])),
            edits(),
            edits(),
            any::<usize>(),
        ))
    ) {
        let mut wire = conv.to_request(d).expect("writes").to_json();
        roughen(&mut wire, &e1);
        if let Ok(req) = DialectRequest::from_json(d, &wire) {
            let typed = req.to_json();
            let back = Conversation::from_request(&req).to_request(d).expect("writes back");
            prop_assert_eq!(back.to_json(), typed);
        }
        let streams = stream_payloads();
        let (req, payloads) = &streams[pick % streams.len()];
        let mut reader = StreamReader::for_request(req);
        let (mut events, mut chunks) = (Vec::new(), Vec::new());
        for (i, p) in payloads.iter().enumerate() {
            let mut v = p.clone();
            roughen(&mut v, &e2[i % e2.len()..(i % e2.len()) + 1]);
            if let Ok(chunk) = DialectChunk::from_json(req.dialect(), &v) {
                reader.read(chunk.clone(), &mut events);
                chunks.push(chunk);
            }
        }
        // Chat and native deltas are the chunks' own text: they fold to the accumulator's.
        if req.dialect() != Dialect::Responses {
            let got = fold(&events);
            let want = accumulate(req, &chunks);
            for c in &want.candidates {
                let g = got.candidates.iter().find(|g| g.index == c.index).cloned().unwrap_or_default();
                prop_assert_eq!((&g.text, &g.reasoning), (&c.text, &c.reasoning));
            }
        }
    }
}
