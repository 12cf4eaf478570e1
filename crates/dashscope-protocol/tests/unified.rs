//! The unified layer: every fixture converts dialect → unified → the same dialect losslessly
//! (requests, responses, stream chunk sequences), arbitrary conversations and answers round-trip
//! through every dialect and are stable across every ordered pair of dialects, and a stream read
//! from any dialect, rebuilt in any dialect and accumulated there gives the same answer as
//! accumulating the original.

use std::path::Path;

use dashscope_protocol::cassette::{Body, Cassette, Dialect};
use dashscope_protocol::chat::{ChatAccumulator, ChatStreamDecoder};
use dashscope_protocol::native::{GenerationRequest, NativeAccumulator, NativeStreamDecoder};
use dashscope_protocol::responses::{ResponsesAccumulator, ResponsesStreamDecoder};
use dashscope_protocol::sse::{Decoder, Mode};
use dashscope_protocol::stream::{Accumulate, StreamDecode, StreamItem};
use dashscope_protocol::unified::{
    Candidate, ChatEventWriter, Conversation, ConvertError, DialectChunk, DialectRequest,
    DialectResponse, DialectValue, Extras, Fields, FinishReason, FunctionTool, ImageDetail,
    ImagePart, JsonSchemaFormat, MARK, Message, NativeEventWriter, NativeStreamOptions, Part,
    ReasoningEffort, ResponseFormat, ResponsesEventWriter, Role, Sampling, StreamReader,
    StreamWriter, TextPart, Thinking, Tool, ToolCall, ToolChoice, UnifiedAccumulator, UnifiedEvent,
    UnifiedResponse, Usage, VideoPart, VideoSource, read_all, write_all,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const DIALECTS: [Dialect; 3] = [Dialect::Chat, Dialect::Responses, Dialect::Native];

// ------------------------------------------------------------------------------------------
// Fixtures
// ------------------------------------------------------------------------------------------

/// Every cassette of `dialect`, sorted by name.
fn fixtures(dialect: Dialect) -> Vec<Cassette> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../mock-server/fixtures")
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
// Lossless: dialect → unified → the same dialect
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

#[test]
fn every_fixture_response_round_trips_losslessly() {
    let mut count = 0;
    for c in all_fixtures() {
        let Some(body) = response_json(&c) else {
            continue;
        };
        let Ok(resp) = DialectResponse::from_json(c.dialect, &body) else {
            continue;
        };
        let typed = resp.to_json();
        if c.response.status == 200 {
            assert_eq!(typed, body, "{}: the wire type itself round-trips", c.name);
        }
        let unified = UnifiedResponse::from_response(&resp);
        let back = unified
            .to_response(c.dialect)
            .unwrap_or_else(|e| panic!("{}: {e}", c.name));
        assert_eq!(
            back.to_json(),
            typed,
            "{}: dialect → unified → dialect",
            c.name
        );
        count += 1;
    }
    assert!(count >= 25, "non-stream responses checked: {count}");
}

/// Counts the event markers (`{"$unified": k}`) in a passthrough.
fn markers(v: &Value) -> usize {
    match v {
        Value::Object(m) if m.get(MARK).is_some_and(Value::is_u64) => 1,
        Value::Object(m) => m.values().map(markers).sum(),
        Value::Array(a) => a.iter().map(markers).sum(),
        _ => 0,
    }
}

#[test]
fn every_stream_fixture_round_trips_losslessly() {
    let mut deltas = 0;
    for c in stream_fixtures() {
        let req = request_of(&c);
        let chunks: Vec<DialectChunk> = payloads(&c)
            .iter()
            .map(|p| {
                DialectChunk::from_json(c.dialect, p).unwrap_or_else(|e| panic!("{}: {e}", c.name))
            })
            .collect();
        assert!(!chunks.is_empty(), "{}", c.name);
        let events = read_all(&mut StreamReader::for_request(&req), &chunks);
        // Unified content is taken out of the passthroughs, not copied: every delta is a hole.
        let mut group_markers = 0;
        let mut group_deltas = 0;
        for e in events.iter().chain([&UnifiedEvent::Meta {
            id: None,
            model: None,
        }]) {
            match e {
                UnifiedEvent::Passthrough { data, .. } => {
                    assert!(
                        group_markers >= group_deltas,
                        "{}: a delta without a hole",
                        c.name
                    );
                    group_markers = markers(data);
                    group_deltas = 0;
                    // A Responses done or terminal event may complete text whose deltas were
                    // elided: that delta has no hole (the done value is kept as it is).
                    if data.get("type").and_then(Value::as_str).is_some_and(|t| {
                        !t.ends_with(".delta") && t != "response.output_item.added"
                    }) {
                        group_markers = usize::MAX;
                    }
                }
                UnifiedEvent::TextDelta { .. }
                | UnifiedEvent::ReasoningDelta { .. }
                | UnifiedEvent::ToolCallArguments { .. } => {
                    group_deltas += 1;
                    deltas += 1;
                }
                _ => {}
            }
        }
        let back = write_all(&mut StreamWriter::for_request(&req), &events)
            .unwrap_or_else(|e| panic!("{}: {e}", c.name));
        let want: Vec<Value> = chunks.iter().map(DialectChunk::to_json).collect();
        let got: Vec<Value> = back.iter().map(DialectChunk::to_json).collect();
        assert_eq!(got.len(), want.len(), "{}: chunk count", c.name);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "{}: chunk {i}", c.name);
        }
    }
    assert!(deltas > 60, "deltas read: {deltas}");
}

// ------------------------------------------------------------------------------------------
// Streams across dialects
// ------------------------------------------------------------------------------------------

/// Where a rebuilt stream goes.
#[derive(Clone, Copy, Debug)]
enum Target {
    Chat,
    Responses,
    Native,
    NativeCumulative,
}

const TARGETS: [Target; 4] = [
    Target::Chat,
    Target::Responses,
    Target::Native,
    Target::NativeCumulative,
];

/// Writes `events` as the target's stream and accumulates it with that dialect's accumulator.
fn rebuild(target: Target, events: &[UnifiedEvent]) -> Result<UnifiedResponse, ConvertError> {
    Ok(match target {
        Target::Chat => {
            let mut acc = ChatAccumulator::new();
            for c in write_all(&mut ChatEventWriter::new(), events)? {
                acc.push(&c);
            }
            UnifiedResponse::from_chat(&acc.finish())
        }
        Target::Responses => {
            let mut acc = ResponsesAccumulator::new();
            for c in write_all(&mut ResponsesEventWriter::new(), events)? {
                acc.push(&c);
            }
            UnifiedResponse::from_responses(&acc.finish())
        }
        Target::Native | Target::NativeCumulative => {
            let cumulative = matches!(target, Target::NativeCumulative);
            let mut w = NativeEventWriter::with_options(NativeStreamOptions {
                cumulative,
                text_format: false,
            });
            let mut acc = NativeAccumulator::new(!cumulative);
            for c in write_all(&mut w, events)? {
                acc.push(&c);
            }
            UnifiedResponse::from_native(&acc.finish())
        }
    })
}

/// What a target can carry of an answer (native answers have no model; extras are per dialect).
fn project(u: &UnifiedResponse, target: Target) -> UnifiedResponse {
    let mut u = u.without_extras();
    if matches!(target, Target::Native | Target::NativeCumulative) {
        u.model = None;
    }
    u
}

/// The accumulated answer of a decoded stream fixture, in the fixture's dialect.
fn accumulate_original(c: &Cassette, chunks: &[DialectChunk]) -> UnifiedResponse {
    match c.dialect {
        Dialect::Chat => {
            let mut acc = ChatAccumulator::new();
            chunks.iter().for_each(|ch| {
                if let DialectChunk::Chat(x) = ch {
                    acc.push(x);
                }
            });
            UnifiedResponse::from_chat(&acc.finish())
        }
        Dialect::Responses => {
            let mut acc = ResponsesAccumulator::new();
            chunks.iter().for_each(|ch| {
                if let DialectChunk::Responses(x) = ch {
                    acc.push(x);
                }
            });
            UnifiedResponse::from_responses(&acc.finish())
        }
        Dialect::Native => {
            let DialectRequest::Native(req) = request_of(c) else {
                panic!("native request")
            };
            let mut acc = NativeAccumulator::for_request(&req);
            chunks.iter().for_each(|ch| {
                if let DialectChunk::Native(x) = ch {
                    acc.push(x);
                }
            });
            UnifiedResponse::from_native(&acc.finish())
        }
    }
}

/// The answer a stream's events describe, checked against the dialect's own accumulation of
/// the same chunks. Where a recording contradicts itself (a done value that is not its deltas
/// nor an extension of them, as in streams elided upstream), the events follow the deltas: that
/// is checked to be a real contradiction (a done value extending the deltas must have been
/// turned into the missing delta), and the events' text is what the rebuilt streams must carry.
fn checked_events_answer(
    c: &Cassette,
    original: &UnifiedResponse,
    events: &[UnifiedEvent],
) -> UnifiedResponse {
    let mut acc = UnifiedAccumulator::new();
    events.iter().for_each(|e| acc.push(e));
    let from_events = acc.finish().without_extras();
    let mut want = original.without_extras();
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
        "{}: the unified events accumulate to the dialect's answer",
        c.name
    );
    from_events
}

#[test]
fn streams_rebuilt_in_any_dialect_accumulate_to_the_same_answer() {
    let mut checked = 0;
    for c in stream_fixtures() {
        // Streams the decoder reports as errors are not answers.
        let Some(chunks) = decoded_chunks(&c) else {
            continue;
        };
        let req = request_of(&c);
        let original = accumulate_original(&c, &chunks);
        assert!(!original.candidates.is_empty(), "{}: an answer", c.name);
        let events = read_all(&mut StreamReader::for_request(&req), &chunks);
        let answer = checked_events_answer(&c, &original, &events);
        let canonical: Vec<UnifiedEvent> = events
            .iter()
            .filter(|e| !matches!(e, UnifiedEvent::Passthrough { .. }))
            .cloned()
            .collect();
        for target in TARGETS {
            let rebuilt = rebuild(target, &canonical)
                .unwrap_or_else(|e| panic!("{} → {target:?}: {e}", c.name));
            assert_eq!(
                project(&rebuilt, target),
                project(&answer, target),
                "{} → {target:?}",
                c.name
            );
            checked += 1;
        }
    }
    assert!(checked >= 4 * 18, "checked {checked}");
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
    let answer = unified_response_of("chat/tool-call-stream-usage-twin");
    assert_eq!(answer.tool_calls().len(), 2);
    snapshot_settings().bind(|| {
        insta::assert_json_snapshot!("tool_call", json!({"request": conv, "response": answer}));
    });
}

#[test]
fn snapshot_thinking() {
    let answer = unified_response_of("responses/reasoning");
    assert!(answer.reasoning().contains("Paris"));
    let c = fixture("native/reasoning-sse");
    let events: Vec<UnifiedEvent> = read_all(
        &mut StreamReader::for_request(&request_of(&c)),
        &decoded_chunks(&c).expect("chunks"),
    )
    .into_iter()
    .filter(|e| !matches!(e, UnifiedEvent::Passthrough { .. }))
    .collect();
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
fn one_answer_speaks_every_dialect() {
    let answer = UnifiedResponse {
        id: Some("req-42".into()),
        model: Some("qwen-plus".into()),
        candidates: vec![Candidate {
            text: "It is sunny.".into(),
            reasoning: "The user asks about weather.".into(),
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
    for d in DIALECTS {
        let wire = answer.to_response(d).expect("writes");
        let back = UnifiedResponse::from_response(
            &DialectResponse::from_json(d, &wire.to_json()).expect("parses"),
        );
        let mut want = answer.clone();
        if d == Dialect::Native {
            want.model = None;
        }
        assert_eq!(back, want, "{d:?}");
        let rebuilt = rebuild(
            match d {
                Dialect::Chat => Target::Chat,
                Dialect::Responses => Target::Responses,
                Dialect::Native => Target::Native,
            },
            &answer.to_events(4),
        )
        .expect("stream");
        assert_eq!(rebuilt.without_extras(), want, "{d:?} stream");
    }
    let chat = answer.to_chat().expect("chat");
    assert_eq!(chat.id.as_deref(), Some("chatcmpl-req-42"));
    let responses = answer.to_responses().expect("responses");
    assert_eq!(
        serde_json::to_value(&responses).expect("json")["output"][0]["type"],
        "reasoning"
    );
}

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
    let foreign = Conversation::new("m").tool(Tool::Dialect(DialectValue {
        dialect: Dialect::Responses,
        value: json!({"type": "web_search"}),
    }));
    assert!(matches!(
        foreign.to_chat(),
        Err(ConvertError::Unsupported { .. })
    ));
    assert!(foreign.to_responses().is_ok());
    let two = UnifiedResponse {
        candidates: vec![
            Candidate::default(),
            Candidate {
                index: 1,
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    assert!(matches!(
        two.to_responses(),
        Err(ConvertError::Unsupported { .. })
    ));
    let bad = Conversation {
        extras: Extras {
            chat: serde_json::from_value(json!({"stream_options": 5})).expect("map"),
            ..Default::default()
        },
        ..Conversation::new("m")
    };
    assert!(matches!(bad.to_chat(), Err(ConvertError::Wire { .. })));
}

#[test]
fn edits_to_a_read_conversation_win_over_its_extras() {
    let c = fixture("native/json-object");
    let mut conv = Conversation::from_request(&request_of(&c));
    conv.sampling.temperature = Some(0.1);
    conv.messages.push(Message::assistant("2"));
    conv.messages.push(Message::user("and 2+2?"));
    let DialectRequest::Native(req) = conv.to_request(Dialect::Native).expect("native") else {
        panic!("native")
    };
    let p = req.parameters.as_ref().expect("parameters");
    assert_eq!(p.temperature, Some(0.1));
    assert_eq!(req.messages().len(), 3);
    // Native-only members stay with native and do not leak into chat.
    assert!(p.result_format.is_some());
    let chat = serde_json::to_value(conv.to_chat().expect("chat")).expect("json");
    assert!(chat.get("result_format").is_none() && chat.get("parameters").is_none());
    assert_eq!(chat["temperature"], 0.1);
    assert_eq!(chat["response_format"], json!({"type": "json_object"}));
}

#[test]
fn native_prompt_and_text_format_read_as_plain_messages_and_text() {
    let c = fixture("native/text-prompt");
    let conv = Conversation::from_request(&request_of(&c));
    assert_eq!(
        conv.messages,
        vec![Message::user("请问 1+1 是多少？")]
            .into_iter()
            .map(|mut m| {
                m.extras = Extras::default();
                m
            })
            .collect::<Vec<_>>()
    );
    let chat = serde_json::to_value(conv.to_chat().expect("chat")).expect("json");
    assert_eq!(
        chat["messages"],
        json!([{"role": "user", "content": "请问 1+1 是多少？"}])
    );
    let answer = unified_response_of("native/text-prompt");
    assert!(answer.text().contains('2'));
    assert_eq!(answer.finish_reason(), Some(&FinishReason::Stop));
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

/// Members no dialect knows (`x_…`), for one object's extras.
fn unknown_members() -> impl Strategy<Value = Fields> {
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
                extras: Extras::default(),
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
                extras: Extras::default(),
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
                extras: Extras::default(),
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
                    extras: Extras::default(),
                }
            },
        )
}

/// Puts members only `dialect` would carry into the conversation's and its non-assistant
/// messages' extras, plus a part and a tool only that dialect has.
fn with_dialect_extras(
    mut conv: Conversation,
    dialect: Dialect,
    members: Vec<Fields>,
) -> Conversation {
    let mut members = members.into_iter();
    *conv.extras.get_mut(dialect) = members.next().unwrap_or_default();
    for m in &mut conv.messages {
        if m.role != Role::Assistant {
            *m.extras.get_mut(dialect) = members.next().unwrap_or_default();
        }
    }
    let (part, tool) = match dialect {
        Dialect::Chat => (
            json!({"type": "hologram", "z": 1}),
            json!({"type": "retrieval", "k": 2}),
        ),
        Dialect::Responses => (
            json!({"type": "input_file", "file_url": "https://x.test/a.pdf"}),
            json!({"type": "web_search"}),
        ),
        Dialect::Native => (
            json!({"hologram": "h"}),
            json!({"type": "plugin", "p": true}),
        ),
    };
    if let Some(m) = conv.messages.iter_mut().find(|m| m.role == Role::User) {
        m.parts.push(Part::Dialect(DialectValue {
            dialect,
            value: part,
        }));
    }
    conv.tools.push(Tool::Dialect(DialectValue {
        dialect,
        value: tool,
    }));
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

fn finish_reason(c: Caps, has_calls: bool) -> BoxedStrategy<FinishReason> {
    if c.responses {
        let done = if has_calls {
            FinishReason::ToolCalls
        } else {
            FinishReason::Stop
        };
        prop_oneof![
            3 => Just(done),
            1 => Just(FinishReason::Length),
            1 => Just(FinishReason::ContentFilter),
            1 => Just(FinishReason::Error),
            1 => Just(FinishReason::Unknown("cancelled".into())),
        ]
        .boxed()
    } else {
        prop_oneof![
            Just(FinishReason::Stop),
            Just(FinishReason::Length),
            Just(FinishReason::ToolCalls),
            Just(FinishReason::ContentFilter),
            Just(FinishReason::Error),
            "x[a-z]{1,5}".prop_map(FinishReason::from),
        ]
        .boxed()
    }
}

fn candidate(c: Caps) -> BoxedStrategy<Candidate> {
    (
        text(),
        text(),
        proptest::collection::vec(tool_call(), 0..3),
        any::<bool>(),
    )
        .prop_flat_map(move |(text, reasoning, tool_calls, finished)| {
            let fin = finish_reason(c, !tool_calls.is_empty());
            (
                Just((text, reasoning, tool_calls)),
                if finished {
                    fin.prop_map(Some).boxed()
                } else {
                    Just(None).boxed()
                },
            )
        })
        .prop_map(|((text, reasoning, tool_calls), finish_reason)| Candidate {
            text,
            reasoning,
            tool_calls,
            finish_reason,
            ..Default::default()
        })
        .boxed()
}

fn usage() -> impl Strategy<Value = Usage> {
    (
        0u64..100_000,
        0u64..100_000,
        prop_oneof![Just(None), (0u64..300_000).prop_map(Some)],
        proptest::option::of(0u64..10_000),
        proptest::option::of(0u64..10_000),
    )
        .prop_map(|(i, o, total, reasoning_tokens, cached_tokens)| Usage {
            total_tokens: total.unwrap_or(i + o),
            reasoning_tokens,
            cached_tokens,
            ..Usage::new(i, o)
        })
}

fn answer(c: Caps) -> impl Strategy<Value = UnifiedResponse> {
    let max = if c.responses { 2 } else { 4 };
    (
        proptest::option::of("[a-z0-9-]{1,12}"),
        opt_if(!c.native, word()),
        proptest::collection::vec(candidate(c), 0..max),
        proptest::option::of(usage()),
    )
        .prop_map(|(id, model, mut candidates, usage)| {
            for (i, cand) in candidates.iter_mut().enumerate() {
                cand.index = u32::try_from(i).unwrap_or(0);
            }
            UnifiedResponse {
                id,
                model,
                candidates,
                usage,
                extras: Extras::default(),
            }
        })
}

fn target_of(d: Dialect) -> Target {
    match d {
        Dialect::Chat => Target::Chat,
        Dialect::Responses => Target::Responses,
        Dialect::Native => Target::Native,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    /// Conversation → dialect → conversation gives the original (with that dialect's extras).
    #[test]
    fn conversations_round_trip_through_each_dialect(
        (d, conv, members) in dialect().prop_flat_map(|d| (
            Just(d),
            conversation(Caps::of(&[d])),
            proptest::collection::vec(unknown_members(), 0..7),
        ))
    ) {
        let conv = with_dialect_extras(conv, d, members);
        prop_assert_eq!(via(d, &conv), conv);
    }

    /// A → unified → B → unified gives A's unified value without A's extras, for every ordered
    /// pair (for A = B, with them).
    #[test]
    fn conversations_are_stable_across_every_dialect_pair(
        (a, b, conv, members) in (dialect(), dialect()).prop_flat_map(|(a, b)| (
            Just(a),
            Just(b),
            conversation(Caps::of(&[a, b])),
            proptest::collection::vec(unknown_members(), 0..7),
        ))
    ) {
        let mut conv = conv;
        if a == b {
            conv = with_dialect_extras(conv, a, members);
        } else {
            // A's own members (not its own parts and tools, which B cannot carry).
            let mut ms = members.into_iter();
            *conv.extras.get_mut(a) = ms.next().unwrap_or_default();
            for m in conv.messages.iter_mut().filter(|m| m.role != Role::Assistant) {
                *m.extras.get_mut(a) = ms.next().unwrap_or_default();
            }
        }
        let u1 = via(a, &conv);
        prop_assert_eq!(&u1, &conv);
        let u2 = via(b, &u1);
        if a == b {
            prop_assert_eq!(u2, u1);
        } else {
            prop_assert_eq!(u2, u1.without_extras());
        }
    }

    /// An answer round-trips through each dialect's response, and its events, written as that
    /// dialect's stream and accumulated there, give it back.
    #[test]
    fn answers_round_trip_and_stream_in_each_dialect(
        (d, r) in dialect().prop_flat_map(|d| (Just(d), answer(Caps::of(&[d]))))
    ) {
        let wire = r.to_response(d).expect("writes");
        let parsed = DialectResponse::from_json(d, &wire.to_json()).expect("parses");
        prop_assert_eq!(UnifiedResponse::from_response(&parsed), r.clone());
        // A stream shows only candidates that finish or say something; make each finish (an
        // answer without candidates has no stream).
        if !r.candidates.is_empty() {
            let mut finished = r.clone();
            for c in &mut finished.candidates {
                if c.finish_reason.is_none() {
                    c.finish_reason = Some(if c.tool_calls.is_empty() {
                        FinishReason::Stop
                    } else {
                        FinishReason::ToolCalls
                    });
                }
            }
            for chunk_chars in [0, 3] {
                let rebuilt =
                    rebuild(target_of(d), &finished.to_events(chunk_chars)).expect("stream");
                prop_assert_eq!(rebuilt.without_extras(), finished.clone());
            }
        }
    }

    /// Answers carried across dialects keep what both can say.
    #[test]
    fn answers_are_stable_across_every_dialect_pair(
        (a, b, r) in (dialect(), dialect()).prop_flat_map(|(a, b)| (
            Just(a), Just(b), answer(Caps::of(&[a, b]))
        ))
    ) {
        let u1 = UnifiedResponse::from_response(&r.to_response(a).expect("a"));
        prop_assert_eq!(&u1, &r);
        let u2 = UnifiedResponse::from_response(&u1.to_response(b).expect("b"));
        prop_assert_eq!(u2.without_extras(), u1.without_extras());
    }
}

// ------------------------------------------------------------------------------------------
// Wire values with rough edges: dialect → unified → the same dialect
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    /// Requests, responses and stream chunks with rough edges (nulls, missing and unknown
    /// members, other forms) come back exactly as the wire type holds them.
    #[test]
    fn rough_wire_values_round_trip_losslessly(
        (d, conv, answer, e1, e2, e3) in dialect().prop_flat_map(|d| (
            Just(d),
            conversation(Caps::of(&[d])),
            answer(Caps::of(&[d])),
            edits(),
            edits(),
            edits(),
        ))
    ) {
        // A request.
        let mut wire = conv.to_request(d).expect("writes").to_json();
        roughen(&mut wire, &e1);
        if let Ok(req) = DialectRequest::from_json(d, &wire) {
            let typed = req.to_json();
            let back = Conversation::from_request(&req).to_request(d).expect("writes back");
            prop_assert_eq!(back.to_json(), typed);
        }
        // A response.
        let mut wire = answer.to_response(d).expect("writes").to_json();
        roughen(&mut wire, &e2);
        if let Ok(resp) = DialectResponse::from_json(d, &wire) {
            let typed = resp.to_json();
            let back = UnifiedResponse::from_response(&resp).to_response(d).expect("writes back");
            prop_assert_eq!(back.to_json(), typed);
        }
        // A stream, each chunk roughened.
        let chunks = write_all(&mut StreamWriter::new(d), &answer.to_events(2)).expect("stream");
        let rough: Vec<DialectChunk> = chunks
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let mut v = c.to_json();
                roughen(&mut v, &e3[i % e3.len()..(i % e3.len()) + 1]);
                DialectChunk::from_json(d, &v).ok()
            })
            .collect();
        let events = read_all(&mut StreamReader::new(d), &rough);
        let back = write_all(&mut StreamWriter::new(d), &events).expect("writes back");
        let want: Vec<Value> = rough.iter().map(DialectChunk::to_json).collect();
        let got: Vec<Value> = back.iter().map(DialectChunk::to_json).collect();
        prop_assert_eq!(got, want);
    }
}

#[test]
fn cumulative_native_streams_are_rebuilt_from_deltas() {
    let c = fixture("native/cumulative-sse");
    let DialectRequest::Native(req) = request_of(&c) else {
        panic!("native")
    };
    assert!(!req.is_incremental());
    let chunks = decoded_chunks(&c).expect("chunks");
    let events = read_all(
        &mut StreamReader::for_request(&DialectRequest::Native(req.clone())),
        &chunks,
    );
    let texts: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            UnifiedEvent::TextDelta { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["我爱", "吃", "苹果", "，因为它又脆又甜。"]);
    let mut w = NativeEventWriter::for_request(&GenerationRequest { ..req });
    let back = write_all(&mut w, &events).expect("writes");
    assert_eq!(back.len(), chunks.len());
}

#[test]
fn unified_values_serialize_for_cassettes() {
    let answer = unified_response_of("responses/function-call");
    let json = serde_json::to_string(&answer).expect("serializes");
    let back: UnifiedResponse = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(back, answer);
    let events = answer.to_events(5);
    let json = serde_json::to_string(&events).expect("serializes");
    let back: Vec<UnifiedEvent> = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(back, events);
    let conv = Conversation::from_request(&request_of(&fixture("native/tool-results-sse")));
    let json = serde_json::to_value(&conv).expect("serializes");
    assert_eq!(
        serde_json::from_value::<Conversation>(json).expect("deserializes"),
        conv
    );
    // TextPart is reachable from the public API.
    let t = TextPart {
        text: "x".into(),
        extras: Extras::default(),
    };
    assert_eq!(Part::Text(t), Part::text("x"));
}
