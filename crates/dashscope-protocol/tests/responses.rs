//! Responses: fixtures parse and round-trip, streams decode the same however they are split,
//! the accumulator rebuilds the non-stream answer, requests round-trip.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use dashscope_protocol::cassette::{Body, Cassette, Dialect};
use dashscope_protocol::responses::{
    AllowedTools, CodeInterpreterTool, ContentPart, Conversation, ConversationRef, FileSearchTool,
    FunctionCall, FunctionCallOutput, FunctionChoice, FunctionTool, Input, InputAudio, InputFile,
    InputImage, InputItem, InputMessage, InputText, InputVideo, ItemStatus, LEGACY_PATH, McpTool,
    MessageContent, OutputItem, OutputText, PATH, Reasoning, ReasoningEffort, ReasoningItem,
    Response, ResponseRequest, ResponseStatus, ResponseStreamEvent, ResponsesAccumulator,
    ResponsesStreamDecoder, Role, SearchAction, SummaryPart, SummaryText, TextConfig, TextFormat,
    TextFormatJsonSchema, Tool, ToolChoice, ToolChoiceMode, ToolChoiceObject, WebSearchAction,
    WebSearchCall, WebSearchSource,
};
use dashscope_protocol::sse::Decoder;
use dashscope_protocol::stream::{Accumulate, StreamDecode, StreamItem};
use dashscope_protocol::wire::Extra;
use proptest::prelude::*;
use serde_json::{Value, json};

// ------------------------------------------------------------------------------------------
// Fixture loading
// ------------------------------------------------------------------------------------------

/// How many Responses cassettes exist; a missing directory or file fails the tests.
const FIXTURE_COUNT: usize = 14;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/responses")
}

/// Every Responses cassette as `(scenario, cassette)`, sorted by scenario.
fn load_fixtures() -> Vec<(String, Cassette)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(fixtures_dir()).expect("fixtures/responses exists") {
        let path = entry.expect("readable dir entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable fixture");
        let c = Cassette::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let scenario = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 name")
            .to_owned();
        assert_eq!(
            c.name,
            format!("responses/{scenario}"),
            "name matches the file"
        );
        assert_eq!(c.dialect, Dialect::Responses, "{scenario}: dialect");
        assert_eq!(c.version, 1, "{scenario}: version");
        out.push((scenario, c));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(out.len(), FIXTURE_COUNT, "responses fixture count");
    out
}

static FIXTURES: LazyLock<Vec<(String, Cassette)>> = LazyLock::new(load_fixtures);

fn fixture(name: &str) -> &'static Cassette {
    FIXTURES
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, c)| c)
        .unwrap_or_else(|| panic!("no fixture {name}"))
}

fn stream_fixtures() -> Vec<(&'static str, Vec<u8>)> {
    FIXTURES
        .iter()
        .filter(|(_, c)| c.response.body.is_stream())
        .map(|(n, c)| (n.as_str(), c.response.body.to_bytes()))
        .collect()
}

/// The `data` of every SSE event of a body, in order.
fn sse_data(bytes: &[u8]) -> Vec<String> {
    let mut d = Decoder::new();
    d.feed(bytes);
    d.finish();
    let mut out = Vec::new();
    while let Some(ev) = d.next_event() {
        out.push(ev.expect("valid SSE").data.to_owned());
    }
    out
}

/// One decoded SSE event, comparable (errors as text).
type Decoded = Result<StreamItem<ResponseStreamEvent>, String>;

/// Decodes a body fed in the given pieces.
fn decode_pieces<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> (Vec<Decoded>, bool) {
    let mut sse = Decoder::new();
    let mut dec = ResponsesStreamDecoder::new();
    let mut out = Vec::new();
    let mut drain = |sse: &mut Decoder, out: &mut Vec<Decoded>| {
        while let Some(ev) = sse.next_event() {
            match ev {
                Ok(ev) => out.push(dec.decode(&ev).map_err(|e| e.to_string())),
                Err(e) => out.push(Err(e.to_string())),
            }
        }
    };
    for piece in pieces {
        sse.feed(piece);
        drain(&mut sse, &mut out);
    }
    sse.finish();
    drain(&mut sse, &mut out);
    (out, dec.is_finished())
}

fn decode_whole(bytes: &[u8]) -> (Vec<Decoded>, bool) {
    decode_pieces([bytes])
}

/// The typed events of a stream fixture (errors and skips dropped).
fn events_of(name: &str) -> Vec<ResponseStreamEvent> {
    let (items, _) = decode_whole(&fixture(name).response.body.to_bytes());
    items
        .into_iter()
        .filter_map(|i| match i {
            Ok(StreamItem::Chunk(e)) => Some(e),
            _ => None,
        })
        .collect()
}

fn body_text(c: &Cassette) -> &str {
    match &c.response.body {
        Body::Text(t) => t,
        other => panic!("expected a text body, got {other:?}"),
    }
}

// ------------------------------------------------------------------------------------------
// Fixture bodies parse and serialize back semantically equal
// ------------------------------------------------------------------------------------------

fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(what: &str, text: &str) -> T {
    let original: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: {e}"));
    let parsed: T = serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: {e}"));
    let back = serde_json::to_value(&parsed).expect("serializes");
    assert_eq!(back, original, "{what}: round trip differs");
    parsed
}

#[derive(Debug)]
#[allow(dead_code)] // Read through `Debug` by the snapshots.
enum Parsed {
    Body(Box<Response>),
    Events(Vec<ResponseStreamEvent>),
}

#[test]
fn fixture_bodies_round_trip() {
    for (name, c) in FIXTURES.iter() {
        let body = c.request.body.as_ref().expect("request body");
        let request: ResponseRequest = round_trip(&format!("{name} request"), &body.to_string());
        assert!(
            c.request.path == PATH || c.request.path == LEGACY_PATH,
            "{name}: path {}",
            c.request.path
        );
        assert!(!c.request.headers.contains_key("authorization"), "{name}");
        assert_eq!(
            request.stream == Some(true),
            c.response.body.is_stream(),
            "{name}: stream flag matches the body"
        );
        let parsed = match &c.response.body {
            Body::Chunks(chunks) => {
                let datas = sse_data(&c.response.body.to_bytes());
                assert_eq!(datas.len(), chunks.len(), "{name}: one event per chunk");
                Parsed::Events(
                    datas
                        .iter()
                        .enumerate()
                        .map(|(i, d)| round_trip(&format!("{name} event {i}"), d))
                        .collect(),
                )
            }
            _ => Parsed::Body(Box::new(round_trip(
                &format!("{name} response"),
                body_text(c),
            ))),
        };
        insta::assert_debug_snapshot!(format!("parsed_{name}"), (request, parsed));
    }
}

/// Consistency a synthetic fixture promises: ids, usage totals, `x-request-id`.
#[test]
fn fixtures_are_consistent() {
    for (name, c) in FIXTURES.iter() {
        let final_response: Response = match &c.response.body {
            Body::Chunks(_) => {
                let events = events_of(name);
                for pair in events.windows(2) {
                    if let (Some(a), Some(b)) =
                        (pair[0].sequence_number(), pair[1].sequence_number())
                    {
                        assert!(a < b, "{name}: sequence numbers increase ({a}, {b})");
                    }
                }
                let mut acc = ResponsesAccumulator::new();
                for e in &events {
                    acc.push(e);
                }
                acc.finish()
            }
            _ => serde_json::from_str(body_text(c)).expect("parses"),
        };
        let rid = c.response.header("x-request-id").expect("x-request-id");
        assert!(
            final_response.id.ends_with(rid),
            "{name}: id {} vs x-request-id {rid}",
            final_response.id
        );
        if let Some(u) = &final_response.usage {
            assert_eq!(
                u.input_tokens + u.output_tokens,
                u.total_tokens,
                "{name}: usage total"
            );
            for d in u.x_details.iter().flatten() {
                assert_eq!(
                    d.total_tokens,
                    Some(u.total_tokens),
                    "{name}: x_details total"
                );
            }
        }
        let source = c.source.as_deref().unwrap_or_default();
        assert!(
            ["doc", "synthetic", "reserialised"]
                .iter()
                .any(|s| source.contains(s)),
            "{name}: source says how faithful"
        );
    }
}

// ------------------------------------------------------------------------------------------
// Streams: split invariance and a compact rendering
// ------------------------------------------------------------------------------------------

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 48 {
        format!("{}…", s.chars().take(48).collect::<String>())
    } else {
        s
    }
}

fn render_event(e: &ResponseStreamEvent) -> String {
    let v = serde_json::to_value(e).expect("serializes");
    let seq = e
        .sequence_number()
        .map_or_else(|| "--".to_owned(), |s| format!("{s:02}"));
    let mut line = format!("{seq} {}", e.type_name().unwrap_or("<untyped>"));
    if let ResponseStreamEvent::Unknown(_) = e {
        line.push_str(" (unknown)");
    }
    if let Value::Object(map) = v {
        for (k, val) in map {
            match k.as_str() {
                "type" | "sequence_number" => {}
                "response" => {
                    let r: Response = serde_json::from_value(val).expect("response");
                    let usage = r.usage.as_ref().map_or_else(
                        || "-".to_owned(),
                        |u| format!("{}/{}/{}", u.input_tokens, u.output_tokens, u.total_tokens),
                    );
                    line.push_str(&format!(
                        " response{{id={} status={} model={} items={} usage={usage}}}",
                        r.id,
                        r.status.as_ref().map_or("-", |s| s.as_str()),
                        r.model
                            .as_ref()
                            .map_or_else(|| "-".to_owned(), |m| format!("{m:?}")),
                        r.output
                            .as_ref()
                            .map_or_else(|| "-".to_owned(), |o| o.len().to_string()),
                    ));
                }
                "item" => {
                    let item: OutputItem = serde_json::from_value(val).expect("item");
                    line.push_str(&format!(
                        " item{{{} id={}}}",
                        item.type_name().unwrap_or("-"),
                        item.id().unwrap_or("-")
                    ));
                }
                _ => line.push_str(&format!(" {k}={}", short(&val))),
            }
        }
    }
    line
}

fn render(items: &[Decoded], finished: bool) -> String {
    let mut out = String::new();
    for item in items {
        let line = match item {
            Ok(StreamItem::Chunk(e)) => render_event(e),
            Ok(StreamItem::Skip) => "skip".to_owned(),
            Ok(StreamItem::End) => "end".to_owned(),
            Ok(StreamItem::Error(e)) => format!("error {e}"),
            Err(e) => format!("decode error {e}"),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(if finished {
        "finished\n"
    } else {
        "not finished\n"
    });
    out
}

#[test]
fn stream_fixtures_snapshot() {
    let streams = stream_fixtures();
    assert_eq!(streams.len(), 6, "stream fixture count");
    for (name, bytes) in streams {
        let (items, finished) = decode_whole(&bytes);
        assert!(
            finished,
            "{name}: every stream fixture ends with a terminal event"
        );
        assert!(items.iter().all(Result::is_ok), "{name}: decodes cleanly");
        insta::assert_snapshot!(format!("events_{name}"), render(&items, finished));
    }
}

#[test]
fn stream_fixtures_decode_the_same_byte_by_byte() {
    for (name, bytes) in stream_fixtures() {
        let whole = decode_whole(&bytes);
        let split = decode_pieces(bytes.chunks(1));
        assert_eq!(split, whole, "{name}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random split points, including inside UTF-8 characters (the fixtures are full of
    /// Chinese text), give the same decoded sequence.
    #[test]
    fn stream_fixtures_decode_the_same_however_split(
        which in 0usize..6,
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..24),
    ) {
        let streams = stream_fixtures();
        let (name, bytes) = &streams[which % streams.len()];
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
        points.sort_unstable();
        let mut pieces = Vec::new();
        let mut start = 0;
        for p in points {
            pieces.push(&bytes[start..p]);
            start = p;
        }
        pieces.push(&bytes[start..]);
        prop_assert_eq!(decode_pieces(pieces), decode_whole(bytes), "{}", name);
    }
}

// ------------------------------------------------------------------------------------------
// Decoder behaviour
// ------------------------------------------------------------------------------------------

fn frame(id: u64, data: &str) -> String {
    let ty = serde_json::from_str::<Value>(data)
        .ok()
        .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| "message".to_owned());
    format!("id:{id}\nevent:{ty}\n:HTTP_STATUS/200\ndata:{data}\n\n")
}

#[test]
fn malformed_json_names_the_event_index() {
    let body = [
        frame(
            1,
            r#"{"type":"response.output_text.delta","delta":"a","sequence_number":0}"#,
        ),
        frame(
            2,
            r#"{"type":"response.output_text.delta","delta":"b","sequence_number":1}"#,
        ),
        frame(3, r#"{"type":"response.output_text.delta","delta":"#),
        frame(
            4,
            r#"{"type":"response.output_text.delta","delta":5,"sequence_number":3}"#,
        ),
        frame(
            5,
            r#"{"type":"response.output_text.delta","delta":"c","sequence_number":4}"#,
        ),
    ]
    .concat();
    let mut sse = Decoder::new();
    sse.feed(body.as_bytes());
    sse.finish();
    let mut dec = ResponsesStreamDecoder::new();
    let mut results = Vec::new();
    while let Some(ev) = sse.next_event() {
        results.push(dec.decode(&ev.expect("valid SSE")));
    }
    assert_eq!(results.len(), 5);
    assert!(matches!(
        results[0],
        Ok(StreamItem::Chunk(ResponseStreamEvent::OutputTextDelta(_)))
    ));
    let e = results[2].as_ref().expect_err("truncated JSON");
    assert_eq!(e.index, 2);
    assert!(e.to_string().starts_with("stream event #2:"), "{e}");
    assert!(e.excerpt.contains("\"delta\":"), "{}", e.excerpt);
    let e = results[3].as_ref().expect_err("delta of the wrong type");
    assert_eq!(e.index, 3);
    // The decoder stays usable after an error.
    match &results[4] {
        Ok(StreamItem::Chunk(ResponseStreamEvent::OutputTextDelta(d))) => assert_eq!(d.delta, "c"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_event_type_is_kept_and_round_trips() {
    let data = r#"{"type":"response.hologram.delta","sequence_number":7,"item_id":"x","delta":{"z":[1,null]}}"#;
    let (items, finished) = decode_whole(frame(8, data).as_bytes());
    assert!(!finished);
    let [Ok(StreamItem::Chunk(ev))] = items.as_slice() else {
        panic!("{items:?}")
    };
    let ResponseStreamEvent::Unknown(v) = ev else {
        panic!("{ev:?}")
    };
    assert_eq!(ev.type_name(), Some("response.hologram.delta"));
    assert_eq!(ev.sequence_number(), Some(7));
    assert_eq!(v, &serde_json::from_str::<Value>(data).expect("json"));
    assert_eq!(
        serde_json::to_value(ev).expect("ser"),
        serde_json::from_str::<Value>(data).expect("json")
    );
    // Unknown accumulates as nothing, without failing.
    let mut acc = ResponsesAccumulator::new();
    acc.push(ev);
    assert_eq!(acc.snapshot().output_items(), &[]);
}

#[test]
fn unknown_members_and_types_survive() {
    let data = json!({
        "type": "response.output_item.done",
        "sequence_number": 4,
        "output_index": 0,
        "brand_new": {"deep": [1, 2]},
        "item": {
            "type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
            "x_future": true,
            "content": [
                {"type": "output_text", "text": "hi", "annotations": [{"type": "geo_citation", "lat": 1}],
                 "logprobs": null, "x_score": 0.5},
                {"type": "hologram", "frames": 3}
            ]
        }
    });
    let ev: ResponseStreamEvent = serde_json::from_value(data.clone()).expect("parses");
    let ResponseStreamEvent::OutputItemDone(done) = &ev else {
        panic!("{ev:?}")
    };
    assert_eq!(done.extra["brand_new"], json!({"deep": [1, 2]}));
    let Some(OutputItem::Message(m)) = &done.item else {
        panic!("{done:?}")
    };
    assert_eq!(m.extra["x_future"], json!(true));
    assert_eq!(m.content[1].type_name(), Some("hologram"));
    assert_eq!(serde_json::to_value(&ev).expect("ser"), data);

    let item: OutputItem =
        serde_json::from_value(json!({"type": "computer_call", "id": "c1", "action": {}}))
            .expect("parses");
    assert!(matches!(item, OutputItem::Unknown(_)));
    assert_eq!(item.id(), Some("c1"));

    let status: ResponseStatus = serde_json::from_str(r#""paused""#).expect("parses");
    assert_eq!(status, ResponseStatus::Unknown("paused".into()));
}

#[test]
fn terminal_end_error_and_skip() {
    let completed = r#"{"type":"response.completed","sequence_number":2,"response":{"id":"r1","status":"completed"}}"#;
    let incomplete = r#"{"type":"response.incomplete","sequence_number":2,"response":{"id":"r1","status":"incomplete"}}"#;
    let failed = r#"{"type":"response.failed","sequence_number":3,"response":{"id":"resp_9","status":"failed","error":{"code":"server_error","message":"boom"}}}"#;
    let error = r#"{"type":"error","code":"rate_limit_exceeded","message":"slow down","param":null,"sequence_number":1}"#;
    let compat_error = r#"{"error":{"code":"invalid_api_key","message":"bad key","type":"invalid_request_error"},"request_id":"q1"}"#;

    for (data, terminal) in [(completed, true), (incomplete, true)] {
        let (items, finished) = decode_whole(frame(3, data).as_bytes());
        assert!(
            matches!(items.as_slice(), [Ok(StreamItem::Chunk(e))] if e.is_terminal()),
            "{items:?}"
        );
        assert_eq!(finished, terminal);
    }

    let (items, finished) = decode_whole(frame(4, failed).as_bytes());
    let [Ok(StreamItem::Error(e))] = items.as_slice() else {
        panic!("{items:?}")
    };
    assert_eq!(
        (e.code.as_deref(), e.message.as_str()),
        (Some("server_error"), "boom")
    );
    assert_eq!(e.status, Some(200));
    assert_eq!(e.request_id.as_deref(), Some("resp_9"));
    assert!(finished);

    let (items, finished) = decode_whole(frame(2, error).as_bytes());
    let [Ok(StreamItem::Error(e))] = items.as_slice() else {
        panic!("{items:?}")
    };
    assert_eq!(e.code.as_deref(), Some("rate_limit_exceeded"));
    assert_eq!(e.message, "slow down");
    assert!(!finished);

    let (items, _) =
        decode_whole(format!("event:error\n:HTTP_STATUS/401\ndata:{compat_error}\n\n").as_bytes());
    let [Ok(StreamItem::Error(e))] = items.as_slice() else {
        panic!("{items:?}")
    };
    assert_eq!(
        (e.status, e.code.as_deref()),
        (Some(401), Some("invalid_api_key"))
    );

    let (items, finished) = decode_whole(b"data: [DONE]\n\n");
    assert_eq!(items, vec![Ok(StreamItem::End)]);
    assert!(finished);

    let (items, finished) = decode_whole(b"id:1\n:HTTP_STATUS/200\ndata:\n\ndata:   \n\n");
    assert_eq!(items, vec![Ok(StreamItem::Skip), Ok(StreamItem::Skip)]);
    assert!(!finished);
}

// ------------------------------------------------------------------------------------------
// Accumulation
// ------------------------------------------------------------------------------------------

/// `(call_id, name, arguments)` of a function call.
type Call = (String, String, String);

/// What "the same answer" means: text, thinking, calls, status, usage.
type Answer = (
    String,
    String,
    Vec<Call>,
    Option<ResponseStatus>,
    Option<Value>,
);

fn answer(r: &Response) -> Answer {
    (
        r.output_text(),
        r.reasoning_text(),
        r.function_calls()
            .map(|c| (c.call_id.clone(), c.name.clone(), c.arguments.clone()))
            .collect(),
        r.status.clone(),
        r.usage
            .as_ref()
            .map(|u| serde_json::to_value(u).expect("ser")),
    )
}

const TWINS: [(&str, &str); 4] = [
    ("function-call-stream", "function-call"),
    ("intro-stream", "intro"),
    ("reasoning-summary-stream", "reasoning"),
    ("web-extractor-stream", "web-extractor"),
];

#[test]
fn accumulated_stream_equals_non_stream_twin() {
    for (stream, twin) in TWINS {
        let expected: Response =
            serde_json::from_str(body_text(fixture(twin))).expect("twin parses");
        let events = events_of(stream);
        let mut acc = ResponsesAccumulator::new();
        for e in &events {
            acc.push(e);
        }
        assert!(acc.is_finished(), "{stream}");
        let got = acc.finish();
        assert_eq!(answer(&got), answer(&expected), "{stream} vs {twin}");
        assert_eq!(got.id, expected.id, "{stream}: id");

        // Without the terminal event, the items rebuilt from added/delta/done events alone
        // carry the same answer.
        let mut acc = ResponsesAccumulator::new();
        for e in events.iter().filter(|e| !e.is_terminal()) {
            acc.push(e);
        }
        let rebuilt = acc.snapshot();
        let (text, thinking, calls, status, usage) = answer(&rebuilt);
        let (e_text, e_thinking, e_calls, _, _) = answer(&expected);
        assert_eq!(
            (text, thinking, calls),
            (e_text, e_thinking, e_calls),
            "{stream}: rebuilt"
        );
        assert_eq!(
            status,
            Some(ResponseStatus::InProgress),
            "{stream}: envelope status"
        );
        assert_eq!(usage, None);
        assert_eq!(
            rebuilt.output_items().len(),
            expected.output_items().len(),
            "{stream}: items"
        );
    }
}

#[test]
fn rebuilt_items_match_the_twin_items() {
    // The function-call stream is complete (nothing elided): every rebuilt item equals the
    // non-stream one, member for member.
    let events = events_of("function-call-stream");
    let expected: Response =
        serde_json::from_str(body_text(fixture("function-call"))).expect("parses");
    let mut acc = ResponsesAccumulator::new();
    for e in events.iter().filter(|e| !e.is_terminal()) {
        acc.push(e);
    }
    assert_eq!(acc.snapshot().output, expected.output);
}

#[test]
fn deltas_alone_rebuild_text_arguments_and_thinking() {
    // Keep only skeletons and deltas: what a stream that broke before its done events had.
    let keep = |e: &&ResponseStreamEvent| {
        matches!(
            e,
            ResponseStreamEvent::Created(_)
                | ResponseStreamEvent::InProgress(_)
                | ResponseStreamEvent::OutputItemAdded(_)
                | ResponseStreamEvent::ContentPartAdded(_)
                | ResponseStreamEvent::ReasoningSummaryPartAdded(_)
                | ResponseStreamEvent::OutputTextDelta(_)
                | ResponseStreamEvent::ReasoningTextDelta(_)
                | ResponseStreamEvent::ReasoningSummaryTextDelta(_)
                | ResponseStreamEvent::FunctionCallArgumentsDelta(_)
        )
    };
    for (stream, twin) in [
        ("function-call-stream", "function-call"),
        ("reasoning-summary-stream", "reasoning"),
        ("incomplete-stream", ""),
    ] {
        let events = events_of(stream);
        let mut acc = ResponsesAccumulator::new();
        for e in events.iter().filter(keep) {
            acc.push(e);
        }
        let got = acc.snapshot();
        let expected = if twin.is_empty() {
            let mut full = ResponsesAccumulator::new();
            events.iter().for_each(|e| full.push(e));
            full.finish()
        } else {
            serde_json::from_str(body_text(fixture(twin))).expect("parses")
        };
        let (text, thinking, calls, _, _) = answer(&got);
        let (e_text, e_thinking, e_calls, _, _) = answer(&expected);
        assert_eq!(
            (text, thinking, calls),
            (e_text, e_thinking, e_calls),
            "{stream}"
        );
    }
}

#[test]
fn done_events_replace_what_deltas_built() {
    // Without the item/part done events and the terminal event, the `*.done` text events must
    // replace the deltas (not append to them). The intro stream's deltas are elided upstream,
    // so there deltas and done text differ.
    let keep = |e: &&ResponseStreamEvent| {
        !e.is_terminal()
            && !matches!(
                e,
                ResponseStreamEvent::OutputItemDone(_)
                    | ResponseStreamEvent::ContentPartDone(_)
                    | ResponseStreamEvent::ReasoningSummaryPartDone(_)
            )
    };
    for (stream, twin) in [
        ("function-call-stream", "function-call"),
        ("intro-stream", "intro"),
        ("reasoning-summary-stream", "reasoning"),
    ] {
        let expected: Response = serde_json::from_str(body_text(fixture(twin))).expect("parses");
        let mut acc = ResponsesAccumulator::new();
        for e in events_of(stream).iter().filter(keep) {
            acc.push(e);
        }
        let (text, thinking, calls, _, _) = answer(&acc.snapshot());
        let (e_text, e_thinking, e_calls, _, _) = answer(&expected);
        assert_eq!(
            (text, thinking, calls),
            (e_text, e_thinking, e_calls),
            "{stream}"
        );
    }
}

#[test]
fn partial_snapshot_keeps_what_arrived() {
    let events = events_of("function-call-stream");
    let mut acc = ResponsesAccumulator::new();
    let mut seen_args = 0;
    let mut snapshot = None;
    for e in &events {
        acc.push(e);
        if let ResponseStreamEvent::FunctionCallArgumentsDelta(_) = e {
            seen_args += 1;
            if seen_args == 2 {
                snapshot = Some(acc.snapshot());
                break;
            }
        }
    }
    let snap = snapshot.expect("two argument deltas");
    assert_eq!(snap.status, Some(ResponseStatus::InProgress));
    assert_eq!(snap.id, "5e2b9d41-0c7a-4f3e-8b1d-2a6c9e4f7b30");
    assert_eq!(
        snap.reasoning_text(),
        "用户想知道北京的天气，我需要调用 get_current_weather 工具，参数 location 为北京。"
    );
    let calls: Vec<&FunctionCall> = snap.function_calls().collect();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].call_id, "call_e1c8a4b2f6d94c1f9b3a7d05");
    assert_eq!(calls[0].name, "get_current_weather");
    assert_eq!(calls[0].arguments, "{\"location\": \"北");
    assert_eq!(calls[0].status, Some(ItemStatus::InProgress));
    assert!(snap.usage.is_none());

    // Mid-text in the plain stream.
    let events = events_of("intro-stream");
    let mut acc = ResponsesAccumulator::new();
    for e in events.iter().take(5) {
        acc.push(e);
    }
    assert_eq!(acc.snapshot().output_text(), "人工智能");
    assert!(!acc.is_finished());
}

#[test]
fn incomplete_and_failed_streams() {
    let mut acc = ResponsesAccumulator::new();
    events_of("incomplete-stream")
        .iter()
        .for_each(|e| acc.push(e));
    let r = acc.finish();
    assert_eq!(r.status, Some(ResponseStatus::Incomplete));
    assert_eq!(
        r.incomplete_details
            .as_ref()
            .and_then(|d| d.reason.as_deref()),
        Some("max_output_tokens")
    );
    assert_eq!(r.output_text(), "秋风起，落叶黄，雁南飞过旧山岗。");

    // The decoder turns both the error event and response.failed into errors.
    let (items, finished) = decode_whole(&fixture("failed-stream").response.body.to_bytes());
    let errors: Vec<_> = items
        .iter()
        .filter_map(|i| match i {
            Ok(StreamItem::Error(e)) => Some(e.code.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        errors,
        vec![
            Some("internal_error".to_owned()),
            Some("internal_error".to_owned())
        ]
    );
    assert!(finished);

    // Pushed directly, the events give a failed response with its error.
    let mut acc = ResponsesAccumulator::new();
    for d in sse_data(&fixture("failed-stream").response.body.to_bytes()) {
        acc.push(&serde_json::from_str(&d).expect("event"));
    }
    let r = acc.finish();
    assert_eq!(r.status, Some(ResponseStatus::Failed));
    assert_eq!(
        r.error.and_then(|e| e.code).as_deref(),
        Some("internal_error")
    );

    // An error event alone (no response.failed) marks the snapshot failed.
    let mut acc = ResponsesAccumulator::new();
    for d in sse_data(&fixture("failed-stream").response.body.to_bytes())
        .iter()
        .take(3)
    {
        acc.push(&serde_json::from_str(d).expect("event"));
    }
    let r = acc.snapshot();
    assert_eq!(r.status, Some(ResponseStatus::Failed));
    assert_eq!(
        r.error.and_then(|e| e.message).as_deref(),
        Some("An internal error has occurred, please try again later.")
    );
}

#[test]
fn terminal_response_wins_and_fills_gaps_from_the_envelope() {
    // R4's response.completed carries only id, status and usage: the rest comes from the
    // envelope and the rebuilt items.
    let mut acc = ResponsesAccumulator::new();
    events_of("web-extractor-stream")
        .iter()
        .for_each(|e| acc.push(e));
    let r = acc.finish();
    assert_eq!(r.status, Some(ResponseStatus::Completed));
    assert_eq!(r.created_at, Some(1769435906));
    assert_eq!(r.object.as_deref(), Some("response"));
    assert_eq!(r.usage.as_ref().map(|u| u.total_tokens), Some(365));
    let kinds: Vec<_> = r
        .output_items()
        .iter()
        .map(|i| i.type_name().unwrap_or("-"))
        .collect();
    assert_eq!(
        kinds,
        [
            "reasoning",
            "web_search_call",
            "web_extractor_call",
            "message"
        ]
    );
    // The web search's status followed its in_progress/completed events and then its done item.
    let Some(OutputItem::WebSearchCall(w)) = r.output_items().get(1) else {
        panic!()
    };
    assert_eq!(w.status, Some(ItemStatus::Completed));

    // A completed event with a full response replaces what was rebuilt.
    let full: ResponseStreamEvent = serde_json::from_value(json!({
        "type": "response.completed", "sequence_number": 9,
        "response": {"id": "r", "status": "completed", "output": [
            {"type": "message", "id": "m", "role": "assistant", "content": [{"type": "output_text", "text": "final"}]}
        ]}
    }))
    .expect("event");
    let delta: ResponseStreamEvent = serde_json::from_value(json!({
        "type": "response.output_text.delta", "item_id": "m", "output_index": 0, "content_index": 0, "delta": "partial"
    }))
    .expect("event");
    let mut acc = ResponsesAccumulator::new();
    acc.push(&delta);
    assert_eq!(acc.snapshot().output_text(), "partial");
    acc.push(&full);
    assert_eq!(acc.finish().output_text(), "final");
}

#[test]
fn reasoning_text_goes_to_content_when_the_item_declares_it() {
    let events: Vec<ResponseStreamEvent> = [
        json!({"type": "response.output_item.added", "output_index": 0,
               "item": {"type": "reasoning", "id": "rs", "summary": [], "content": []}}),
        json!({"type": "response.reasoning_text.delta", "item_id": "rs", "output_index": 0, "content_index": 0, "delta": "raw "}),
        json!({"type": "response.reasoning_text.delta", "item_id": "rs", "output_index": 0, "content_index": 0, "delta": "thought"}),
        json!({"type": "response.reasoning_summary_text.delta", "item_id": "rs", "output_index": 0, "summary_index": 0, "delta": "sum"}),
    ]
    .into_iter()
    .map(|v| serde_json::from_value(v).expect("event"))
    .collect();
    let mut acc = ResponsesAccumulator::new();
    events.iter().for_each(|e| acc.push(e));
    let r = acc.snapshot();
    let Some(OutputItem::Reasoning(item)) = r.output_items().first() else {
        panic!("{r:?}")
    };
    assert_eq!(item.text(), "raw thought");
    assert_eq!(
        item.summary,
        vec![SummaryPart::SummaryText(SummaryText {
            text: "sum".into(),
            ..Default::default()
        })]
    );
    assert_eq!(r.reasoning_text(), "raw thought");
}

#[test]
fn hostile_indexes_do_not_blow_up() {
    let ev: ResponseStreamEvent = serde_json::from_value(json!({
        "type": "response.output_text.delta", "output_index": 4_000_000_000u32, "content_index": 4_000_000_000u32, "delta": "x"
    }))
    .expect("event");
    let mut acc = ResponsesAccumulator::new();
    acc.push(&ev);
    acc.push(&ev);
    let r = acc.snapshot();
    assert_eq!(r.output_items().len(), 1);
    assert_eq!(r.output_text(), "xx");
}

// ------------------------------------------------------------------------------------------
// Requests: builders and round trips
// ------------------------------------------------------------------------------------------

#[test]
fn builders_write_the_documented_shapes() {
    let r6 = fixture("function-call-result")
        .request
        .body
        .clone()
        .expect("body");
    let tools = r6["tools"].clone();
    let built = ResponseRequest::new(
        "qwen3.8-max",
        vec![
            InputItem::user("北京天气咋样"),
            InputItem::function_call(
                "call_e1c8a4b2f6d94c1f9b3a7d05",
                "get_current_weather",
                "{\"location\": \"北京\"}",
            ),
            InputItem::function_call_output("call_e1c8a4b2f6d94c1f9b3a7d05", "北京今天是晴天。"),
        ],
    )
    .tools(serde_json::from_value::<Vec<Tool>>(tools).expect("tools"));
    assert_eq!(serde_json::to_value(&built).expect("ser"), r6);

    let tool = Tool::function(
        "get_current_weather",
        "当你想查询指定城市的天气时非常有用。",
        r6["tools"][0]["parameters"].clone(),
    );
    assert_eq!(serde_json::to_value(&tool).expect("ser"), r6["tools"][0]);

    let r7 = fixture("legacy-path").request.body.clone().expect("body");
    let built = ResponseRequest::new(
        "qwen3-max-2026-01-23",
        "Hello, please introduce yourself in one sentence.",
    )
    .enable_thinking(true);
    assert_eq!(serde_json::to_value(&built).expect("ser"), r7);

    let built = ResponseRequest::new(
        "m",
        InputItem::message(
            Role::User,
            vec![
                ContentPart::text("what is this"),
                ContentPart::image_url("https://example.com/a.png"),
            ],
        ),
    )
    .instructions("be brief")
    .previous_response_id("resp_1")
    .tool(Tool::web_search())
    .tool(Tool::file_search("vs_1"))
    .tool_choice(ToolChoice::allowed_tools(
        ToolChoiceMode::Auto,
        vec![Tool::web_search()],
    ))
    .reasoning_effort(ReasoningEffort::XHigh)
    .max_output_tokens(64)
    .store(false)
    .metadata("k", "v");
    assert_eq!(
        serde_json::to_value(&built).expect("ser"),
        json!({
            "model": "m",
            "input": [{"role": "user", "content": [
                {"type": "input_text", "text": "what is this"},
                {"type": "input_image", "image_url": "https://example.com/a.png"}
            ]}],
            "instructions": "be brief",
            "previous_response_id": "resp_1",
            "store": false,
            "tools": [{"type": "web_search"}, {"type": "file_search", "vector_store_ids": ["vs_1"]}],
            "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "web_search"}]},
            "reasoning": {"effort": "xhigh"},
            "max_output_tokens": 64,
            "metadata": {"k": "v"}
        })
    );
    assert_eq!(
        serde_json::to_value(ToolChoice::function("f")).expect("ser"),
        json!({"type": "function", "name": "f"})
    );
    assert_eq!(
        serde_json::to_value(ToolChoice::required()).expect("ser"),
        json!("required")
    );
}

#[test]
fn output_items_echo_as_input_items() {
    let r: Response = serde_json::from_str(body_text(fixture("function-call"))).expect("parses");
    let mut input: Vec<InputItem> = vec![InputItem::user("北京天气咋样")];
    input.extend(r.output_items().iter().cloned().map(InputItem::from));
    let call = r.function_calls().next().expect("a call");
    input.push(InputItem::function_call_output(
        &call.call_id,
        "北京今天是晴天。",
    ));
    let kinds: Vec<_> = input.iter().map(|i| i.type_name()).collect();
    assert_eq!(
        kinds,
        [
            None,
            Some("reasoning"),
            Some("function_call"),
            Some("function_call_output")
        ]
    );
    let v = serde_json::to_value(&input).expect("ser");
    assert_eq!(v[2]["arguments"], "{\"location\": \"北京\"}");
    assert_eq!(
        serde_json::from_value::<Vec<InputItem>>(v).expect("parses"),
        input
    );
    let args: Value = call.parse_arguments().expect("valid JSON");
    assert_eq!(args, json!({"location": "北京"}));

    let echoed = InputItem::from(OutputItem::Message(Default::default()));
    let InputItem::Message(m) = &echoed else {
        panic!()
    };
    assert_eq!(
        (m.kind.as_deref(), &m.role),
        (Some("message"), &Role::Assistant)
    );
}

#[test]
fn input_message_with_and_without_type() {
    for v in [
        json!({"role": "user", "content": "hi"}),
        json!({"type": "message", "role": "assistant", "id": "msg_1", "status": "completed",
               "content": [{"type": "output_text", "text": "ok", "annotations": []}]}),
        json!({"role": "developer", "content": [{"type": "input_file", "file_url": "https://x/y.pdf"},
               {"type": "input_audio", "format": "mp3", "audio_url": "https://x/a.mp3"},
               {"type": "input_video", "video_url": "https://x/v.mp4", "fps": 2}]}),
    ] {
        let item: InputItem = serde_json::from_value(v.clone()).expect("parses");
        assert!(matches!(item, InputItem::Message(_)), "{v}");
        assert_eq!(serde_json::to_value(&item).expect("ser"), v);
    }
    let e = serde_json::from_value::<InputItem>(json!("text")).expect_err("not an object");
    assert!(e.to_string().contains("InputItem"), "{e}");
    let e = serde_json::from_value::<InputItem>(json!({"type": "function_call", "call_id": 5}))
        .expect_err("bad call");
    assert!(e.to_string().contains("invalid type"), "{e}");
    let unknown = json!({"type": "item_reference", "id": "msg_1"});
    let item: InputItem = serde_json::from_value(unknown.clone()).expect("parses");
    assert!(matches!(item, InputItem::Unknown(_)));
    assert_eq!(serde_json::to_value(&item).expect("ser"), unknown);
}

// Strategies for arbitrary requests. Numbers are integers or short decimals (exact in JSON),
// unknown members use an `x_` prefix so they cannot collide with known ones, and unknown
// tags are ones no type knows.

fn text() -> impl Strategy<Value = String> {
    "\\PC{0,10}"
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,5}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Value> {
    prop::collection::btree_map("[a-z]{1,5}", json_value(), 0..4)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

fn extra() -> impl Strategy<Value = Extra> {
    prop::collection::btree_map("x_[a-z]{1,5}", json_value(), 0..3)
        .prop_map(|m| m.into_iter().collect())
}

fn unknown_tagged() -> impl Strategy<Value = Value> {
    ("x_[a-z]{1,6}", json_value()).prop_map(|(tag, v)| json!({"type": tag, "x_payload": v}))
}

fn decimal() -> impl Strategy<Value = f64> {
    (0u32..200).prop_map(|n| f64::from(n) / 100.0)
}

/// A float member's value: an integer (kept as one) or a decimal.
fn number() -> impl Strategy<Value = serde_json::Number> {
    prop_oneof![
        (0u64..3).prop_map(serde_json::Number::from),
        decimal().prop_filter_map("finite", serde_json::Number::from_f64),
    ]
}

fn item_status() -> impl Strategy<Value = ItemStatus> {
    prop_oneof![
        Just(ItemStatus::InProgress),
        Just(ItemStatus::Completed),
        Just(ItemStatus::Incomplete),
        "x_[a-z]{1,5}".prop_map(ItemStatus::Unknown),
    ]
}

fn content_part() -> impl Strategy<Value = ContentPart> {
    prop_oneof![
        (text(), extra()).prop_map(|(text, extra)| ContentPart::InputText(InputText {
            text,
            extra,
            nulls: Default::default(),
        })),
        (
            prop::option::of(text()),
            prop::option::of("low|high|auto"),
            extra()
        )
            .prop_map(|(u, d, extra)| {
                ContentPart::InputImage(InputImage {
                    image_url: u,
                    detail: d,
                    file_id: None,
                    extra,
                    nulls: Default::default(),
                })
            }),
        (prop::option::of(text()), prop::option::of(text())).prop_map(|(u, f)| {
            ContentPart::InputFile(InputFile {
                file_url: u,
                filename: f,
                ..Default::default()
            })
        }),
        (
            prop::option::of("mp3|wav"),
            prop::option::of(text()),
            prop::option::of(text())
        )
            .prop_map(|(f, u, d)| {
                ContentPart::InputAudio(InputAudio {
                    format: f,
                    audio_url: u,
                    data: d,
                    ..Default::default()
                })
            }),
        (
            prop::option::of(text()),
            prop::option::of(prop_oneof![
                decimal().prop_filter_map("finite", serde_json::Number::from_f64),
                any::<u8>().prop_map(serde_json::Number::from),
            ])
        )
            .prop_map(|(u, fps)| {
                ContentPart::InputVideo(InputVideo {
                    video_url: u,
                    fps,
                    ..Default::default()
                })
            }),
        (text(), any::<bool>()).prop_map(|(t, ann)| {
            let mut o = OutputText::new(t);
            if ann {
                o.annotations = Some(vec![]);
            }
            ContentPart::OutputText(o)
        }),
        unknown_tagged().prop_map(ContentPart::Unknown),
    ]
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![
        Just(Role::User),
        Just(Role::Assistant),
        Just(Role::System),
        Just(Role::Developer),
        "x_[a-z]{1,5}".prop_map(Role::Unknown),
    ]
}

fn input_item() -> impl Strategy<Value = InputItem> {
    let message = (
        any::<bool>(),
        role(),
        prop_oneof![
            text().prop_map(MessageContent::Text),
            prop::collection::vec(content_part(), 0..4).prop_map(MessageContent::Parts),
        ],
        prop::option::of(text()),
        prop::option::of(item_status()),
        extra(),
    )
        .prop_map(|(typed, role, content, id, status, extra)| {
            InputItem::Message(InputMessage {
                kind: typed.then(|| "message".to_owned()),
                role,
                content,
                id,
                status,
                extra,
                nulls: Default::default(),
            })
        });
    prop_oneof![
        message,
        (
            text(),
            text(),
            text(),
            prop::option::of(text()),
            prop::option::of(item_status())
        )
            .prop_map(|(call_id, name, arguments, id, status)| {
                InputItem::FunctionCall(FunctionCall {
                    id,
                    call_id,
                    name,
                    arguments,
                    status,
                    ..Default::default()
                })
            }),
        (text(), text(), extra()).prop_map(|(call_id, output, extra)| {
            InputItem::FunctionCallOutput(FunctionCallOutput {
                call_id,
                output,
                extra,
                ..Default::default()
            })
        }),
        (
            prop::option::of(text()),
            prop::collection::vec(text(), 0..3)
        )
            .prop_map(|(id, texts)| {
                InputItem::Reasoning(ReasoningItem {
                    id,
                    summary: texts
                        .into_iter()
                        .map(|text| {
                            SummaryPart::SummaryText(SummaryText {
                                text,
                                ..Default::default()
                            })
                        })
                        .collect(),
                    ..Default::default()
                })
            }),
        (
            prop::option::of(text()),
            prop::option::of(text()),
            prop::collection::vec(text(), 0..3)
        )
            .prop_map(|(id, query, urls)| {
                InputItem::WebSearchCall(WebSearchCall {
                    id,
                    status: Some(ItemStatus::Completed),
                    action: Some(WebSearchAction::Search(SearchAction {
                        query,
                        sources: Some(
                            urls.into_iter()
                                .map(|url| WebSearchSource {
                                    kind: Some("url".into()),
                                    url: Some(url),
                                    ..Default::default()
                                })
                                .collect(),
                        ),
                        ..Default::default()
                    })),
                    ..Default::default()
                })
            }),
        unknown_tagged().prop_map(InputItem::Unknown),
    ]
}

fn tool() -> impl Strategy<Value = Tool> {
    prop_oneof![
        (
            text(),
            prop::option::of(text()),
            prop::option::of(json_object()),
            prop::option::of(any::<bool>())
        )
            .prop_map(|(name, description, parameters, strict)| {
                Tool::Function(FunctionTool {
                    name,
                    description,
                    parameters,
                    strict,
                    ..Default::default()
                })
            }),
        Just(Tool::web_search()),
        Just(Tool::web_extractor()),
        prop::option::of(text()).prop_map(|c| {
            Tool::CodeInterpreter(CodeInterpreterTool {
                container: c.map(Value::String),
                ..Default::default()
            })
        }),
        Just(Tool::web_search_image()),
        Just(Tool::image_search()),
        prop::collection::vec(text(), 0..3).prop_map(|ids| Tool::FileSearch(FileSearchTool {
            vector_store_ids: ids,
            ..Default::default()
        })),
        (
            text(),
            text(),
            prop::option::of("sse|http"),
            prop::option::of(text())
        )
            .prop_map(|(label, url, proto, desc)| {
                Tool::Mcp(McpTool {
                    server_protocol: proto,
                    server_label: Some(label),
                    server_url: Some(url),
                    server_description: desc,
                    ..Default::default()
                })
            }),
        unknown_tagged().prop_map(Tool::Unknown),
    ]
}

fn tool_choice() -> impl Strategy<Value = ToolChoice> {
    prop_oneof![
        Just(ToolChoice::auto()),
        Just(ToolChoice::none()),
        Just(ToolChoice::required()),
        "x_[a-z]{1,5}".prop_map(|m| ToolChoice::Mode(ToolChoiceMode::Unknown(m))),
        text().prop_map(
            |name| ToolChoice::Object(ToolChoiceObject::Function(FunctionChoice {
                name,
                ..Default::default()
            }))
        ),
        (
            prop::option::of(prop_oneof![
                Just(ToolChoiceMode::Auto),
                Just(ToolChoiceMode::Required)
            ]),
            prop::collection::vec(tool(), 0..3)
        )
            .prop_map(
                |(mode, tools)| ToolChoice::Object(ToolChoiceObject::AllowedTools(AllowedTools {
                    mode,
                    tools,
                    ..Default::default()
                }))
            ),
        unknown_tagged().prop_map(|v| ToolChoice::Object(ToolChoiceObject::Unknown(v))),
    ]
}

fn effort() -> impl Strategy<Value = ReasoningEffort> {
    prop_oneof![
        Just(ReasoningEffort::None),
        Just(ReasoningEffort::Minimal),
        Just(ReasoningEffort::Low),
        Just(ReasoningEffort::Medium),
        Just(ReasoningEffort::High),
        Just(ReasoningEffort::XHigh),
        Just(ReasoningEffort::Max),
        "x_[a-z]{1,5}".prop_map(ReasoningEffort::Unknown),
    ]
}

fn request() -> impl Strategy<Value = ResponseRequest> {
    let head = (
        text(),
        prop_oneof![
            text().prop_map(Input::Text),
            prop::collection::vec(input_item(), 0..4).prop_map(Input::Items),
        ],
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of(prop_oneof![
            text().prop_map(Conversation::Id),
            prop::option::of(text()).prop_map(|id| Conversation::Object(ConversationRef {
                id,
                ..Default::default()
            })),
        ]),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
        prop::option::of(prop::collection::vec(tool(), 0..3)),
        prop::option::of(tool_choice()),
        prop::option::of(any::<bool>()),
    );
    let tail = (
        prop::option::of(number()),
        prop::option::of(number()),
        prop::option::of(any::<bool>()),
        prop::option::of((
            prop::option::of(effort()),
            prop::option::of("auto|concise|detailed"),
        )),
        prop::option::of(any::<u64>()),
        prop::option::of(json_object()),
        prop::option::of(prop::collection::btree_map("[a-z]{1,4}", text(), 0..3)),
        prop::option::of(prop_oneof![
            Just(TextFormat::Text(Default::default())),
            Just(TextFormat::JsonObject(Default::default())),
            (prop::option::of(text()), prop::option::of(json_object())).prop_map(
                |(name, schema)| {
                    TextFormat::JsonSchema(TextFormatJsonSchema {
                        name,
                        schema,
                        ..Default::default()
                    })
                }
            ),
        ]),
        extra(),
    );
    (head, tail).prop_map(
        |(
            (
                model,
                input,
                instructions,
                previous_response_id,
                conversation,
                stream,
                store,
                tools,
                tool_choice,
                parallel_tool_calls,
            ),
            (
                temperature,
                top_p,
                enable_thinking,
                reasoning,
                max_output_tokens,
                ocr_options,
                metadata,
                format,
                extra,
            ),
        )| ResponseRequest {
            model,
            input,
            instructions,
            previous_response_id,
            conversation,
            stream,
            store,
            tools,
            tool_choice,
            parallel_tool_calls,
            temperature,
            top_p,
            enable_thinking,
            reasoning: reasoning.map(|(effort, summary)| Reasoning {
                effort,
                summary,
                ..Default::default()
            }),
            max_output_tokens,
            ocr_options,
            metadata: metadata.map(|m| m.into_iter().map(|(k, v)| (k, Value::String(v))).collect()),
            text: format.map(|f| TextConfig {
                format: Some(f),
                ..Default::default()
            }),
            extra,
            nulls: Default::default(),
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn requests_round_trip(req in request()) {
        let text = serde_json::to_string(&req).expect("serializes");
        let back: ResponseRequest = serde_json::from_str(&text).expect("parses");
        prop_assert_eq!(&back, &req);
        // And through a `Value` (the owned-keys path).
        let value = serde_json::to_value(&req).expect("serializes");
        let back: ResponseRequest = serde_json::from_value(value.clone()).expect("parses");
        prop_assert_eq!(serde_json::to_value(&back).expect("serializes"), value);
    }
}

#[test]
fn stream_events_stay_small() {
    // Lifecycle events box their `Response` (over 1 KiB), so a delta event moved through a
    // channel does not carry its weight.
    let size = std::mem::size_of::<ResponseStreamEvent>();
    assert!(size <= 320, "ResponseStreamEvent is {size} bytes");
}

#[test]
fn every_request_member_has_a_setter() {
    let req = ResponseRequest::default()
        .model("qwen3.8-max")
        .input("hi")
        .instructions("Be brief.")
        .previous_response_id("resp_1")
        .conversation("conv_1")
        .stream(true)
        .store(false)
        .tools(vec![Tool::web_search()])
        .tool(Tool::function("f", "d", json!({"type": "object"})))
        .tool_choice(ToolChoice::auto())
        .parallel_tool_calls(true)
        .temperature(0.3)
        .top_p(0.9)
        .enable_thinking(true)
        .reasoning(Reasoning::default())
        .reasoning_effort(ReasoningEffort::Max)
        .max_output_tokens(256)
        .ocr_options(json!({"task": "text_recognition"}))
        .metadata("k", "v")
        .text(TextConfig::default());
    let v = serde_json::to_value(&req).unwrap();
    let keys: std::collections::BTreeSet<&str> =
        v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ResponseRequest::WIRE_MEMBERS.iter().copied().collect()
    );
    assert_eq!(v["conversation"], "conv_1");
    assert_eq!(v["reasoning"], json!({"effort": "max"}));
    assert_eq!(v["metadata"], json!({"k": "v"}));
    assert_eq!(v["tools"].as_array().map(Vec::len), Some(2));
}

#[test]
fn lifecycle_event_members_join_the_response_extra() {
    let events = [
        json!({"type": "response.created", "sequence_number": 0, "service_tier": null, "region": "cn",
               "response": {"id": "r1", "status": "queued", "x_trace": "t"}}),
        json!({"type": "response.output_text.delta", "sequence_number": 1, "item_id": "m", "output_index": 0,
               "content_index": 0, "delta": "hi", "obfuscation": "x"}),
        json!({"type": "response.completed", "sequence_number": 2, "service_tier": "default", "region": null,
               "text": "not a TextConfig", "response": {"id": "r1", "status": "completed", "x_trace": "t"}}),
    ];
    let mut acc = ResponsesAccumulator::new();
    for e in events {
        acc.push(&serde_json::from_value(e).unwrap());
    }
    let r = acc.finish();
    assert_eq!(r.extra.get("service_tier"), Some(&json!("default")));
    assert_eq!(
        r.extra.get("region"),
        Some(&json!("cn")),
        "a null never replaces a value"
    );
    assert_eq!(r.extra.get("x_trace"), Some(&json!("t")));
    // A delta event's member stays with it; one named like a response member is left out.
    assert!(!r.extra.contains_key("obfuscation"));
    assert!(!r.extra.contains_key("text"));
    assert_eq!(r.output_text(), "hi");
    let back: Response = serde_json::from_value(serde_json::to_value(&r).unwrap()).unwrap();
    assert_eq!(back, r);
}
