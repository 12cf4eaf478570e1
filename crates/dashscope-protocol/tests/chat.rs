//! Chat Completions: fixtures parse and round-trip, streams decode the same however they are
//! split, the accumulator rebuilds the non-stream answer, requests round-trip.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use dashscope_protocol::cassette::{Body, Cassette, Dialect};
use dashscope_protocol::chat::{
    CacheControl, CacheKind, ChatAccumulator, ChatChunk, ChatCompletion, ChatErrorBody,
    ChatRequest, ChatStreamDecoder, ContentPart, FinishReason, FunctionCall, FunctionDefinition,
    FunctionTool, ImageDetail, ImageUrl, ImageUrlPart, InputAudio, InputAudioPart, JsonSchema,
    JsonSchemaFormat, Message, MessageContent, Modality, NamedToolChoice, ReasoningEffort,
    ResponseFormat, Role, SearchOptions, SearchStrategy, Stop, StreamOptions, TextPart, Tool,
    ToolCall, ToolChoice, ToolChoiceMode, ToolType, TranslationOptions, TranslationPair,
    VideoFramesPart, VideoUrl, VideoUrlPart,
};
use dashscope_protocol::error::ApiError;
use dashscope_protocol::sse::{Decoder, Event};
use dashscope_protocol::stream::{Accumulate, StreamDecode, StreamItem};
use dashscope_protocol::wire::Extra;
use proptest::prelude::*;
use serde_json::{Value, json};

// ------------------------------------------------------------------------------------------
// Fixture loading
// ------------------------------------------------------------------------------------------

/// How many chat cassettes there are at least; a missing directory or file fails the tests.
const FIXTURE_COUNT: usize = 22;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chat")
}

/// Every chat cassette as `(scenario, cassette)`, sorted by scenario.
fn fixtures() -> Vec<(String, Cassette)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(fixtures_dir()).expect("fixtures/chat exists") {
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
        assert_eq!(c.name, format!("chat/{scenario}"), "{}", path.display());
        assert_eq!(c.dialect, Dialect::Chat, "{}", path.display());
        assert!(
            !text.to_ascii_lowercase().contains("authorization") && !text.contains("Bearer "),
            "{scenario}: a fixture must not hold credentials"
        );
        out.push((scenario, c));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        out.len() >= FIXTURE_COUNT,
        "chat fixtures: {:?}",
        names(&out)
    );
    out
}

fn names(fx: &[(String, Cassette)]) -> Vec<&str> {
    fx.iter().map(|(n, _)| n.as_str()).collect()
}

fn fixture(name: &str) -> Cassette {
    fixtures()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, c)| c)
        .unwrap_or_else(|| panic!("no fixture {name}"))
}

fn stream_fixtures() -> Vec<(String, Vec<u8>)> {
    let out: Vec<_> = fixtures()
        .into_iter()
        .filter(|(_, c)| c.response.body.is_stream())
        .map(|(n, c)| (n, c.response.body.to_bytes()))
        .collect();
    assert!(out.len() >= 7, "stream fixtures: {}", out.len());
    out
}

/// The `data:` payloads of a stream body, read chunk by chunk without the SSE decoder.
fn data_payloads(body: &Body) -> Vec<String> {
    let Body::Chunks(chunks) = body else {
        panic!("not a stream body")
    };
    chunks
        .iter()
        .map(|c| {
            c.data
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect()
}

fn body_text(body: &Body) -> String {
    match body {
        Body::Text(t) => t.clone(),
        Body::Json(v) => v.to_string(),
        Body::Chunks(_) => panic!("stream body"),
    }
}

/// Parses `text` as `T`, checks it serializes back to the same JSON value, returns it.
fn round_trip<T>(what: &str, text: &str) -> T
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let original: Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: not JSON: {e}"));
    let parsed: T = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("{what}: does not parse: {e}\n{text}"));
    let back = serde_json::to_value(&parsed).expect("serializes");
    assert_eq!(back, original, "{what}: round trip changed the JSON");
    parsed
}

// ------------------------------------------------------------------------------------------
// Stream decoding helpers
// ------------------------------------------------------------------------------------------

/// One decoded event: its SSE index and what the chat decoder made of it.
type Decoded = (usize, Result<StreamItem<ChatChunk>, String>);

/// Feeds `pieces` to a fresh SSE decoder and runs every event through [`ChatStreamDecoder`].
fn decode_pieces<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> Vec<Decoded> {
    let mut sse = Decoder::new();
    let mut chat = ChatStreamDecoder::new();
    let mut out = Vec::new();
    let mut drain = |sse: &mut Decoder, out: &mut Vec<Decoded>| {
        while let Some(ev) = sse.next_event() {
            match ev {
                Ok(ev) => {
                    let item = chat.decode(&ev).map_err(|e| e.to_string());
                    out.push((ev.index, item));
                }
                Err(e) => out.push((usize::MAX, Err(format!("sse: {e}")))),
            }
        }
    };
    for piece in pieces {
        sse.feed(piece);
        drain(&mut sse, &mut out);
    }
    sse.finish();
    drain(&mut sse, &mut out);
    out
}

fn decode_whole(bytes: &[u8]) -> Vec<Decoded> {
    decode_pieces([bytes])
}

fn chunks_of(decoded: &[Decoded]) -> Vec<ChatChunk> {
    decoded
        .iter()
        .filter_map(|(_, r)| match r {
            Ok(StreamItem::Chunk(c)) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

fn render_usage(out: &mut String, u: &dashscope_protocol::chat::Usage) {
    let _ = write!(
        out,
        " usage={}/{}/{}",
        u.prompt_tokens, u.completion_tokens, u.total_tokens
    );
    if let Some(d) = u
        .completion_tokens_details
        .as_ref()
        .and_then(|d| d.reasoning_tokens)
    {
        let _ = write!(out, " reasoning_tokens={d}");
    }
}

/// One line per event: `#3 chunk [0] content="…" reasoning=… tool_calls=[0:id/name/args] finish=…`.
fn render(decoded: &[Decoded]) -> String {
    let mut out = String::new();
    for (index, item) in decoded {
        let _ = write!(out, "#{index} ");
        match item {
            Ok(StreamItem::Chunk(c)) => {
                out.push_str("chunk");
                for ch in &c.choices {
                    let d = &ch.delta;
                    let _ = write!(out, " [{}]", ch.index);
                    if let Some(r) = &d.role {
                        let _ = write!(out, " role={r}");
                    }
                    if let Some(t) = &d.content {
                        let _ = write!(out, " content={t:?}");
                    }
                    if let Some(t) = &d.reasoning_content {
                        let _ = write!(out, " reasoning={t:?}");
                    }
                    if let Some(calls) = &d.tool_calls {
                        let parts: Vec<String> = calls
                            .iter()
                            .map(|t| {
                                let f = t.function.as_ref();
                                let id = match t.id.as_deref() {
                                    None => "-".to_owned(),
                                    Some("") => "\"\"".to_owned(),
                                    Some(id) => id.to_owned(),
                                };
                                let args = f
                                    .and_then(|f| f.arguments.as_deref())
                                    .map_or_else(|| "null".to_owned(), |a| format!("{a:?}"));
                                format!(
                                    "{}:{id}/{}/{args}",
                                    t.index.unwrap_or_default(),
                                    f.and_then(|f| f.name.as_deref()).unwrap_or("-"),
                                )
                            })
                            .collect();
                        let _ = write!(out, " tool_calls=[{}]", parts.join(", "));
                    }
                    if let Some(f) = &ch.finish_reason {
                        let _ = write!(out, " finish={f}");
                    }
                }
                if let Some(u) = &c.usage {
                    render_usage(&mut out, u);
                }
                if !c.extra.is_empty() {
                    let unknown: Vec<&str> = c
                        .extra
                        .iter()
                        .filter(|(_, v)| !v.is_null())
                        .map(|(k, _)| k.as_str())
                        .collect();
                    if !unknown.is_empty() {
                        let _ = write!(out, " extra={unknown:?}");
                    }
                }
            }
            Ok(StreamItem::Skip) => out.push_str("skip"),
            Ok(StreamItem::End) => out.push_str("end"),
            Ok(StreamItem::Error(e)) => {
                let _ = write!(
                    out,
                    "error code={} type={} message={:?} request_id={}",
                    e.code.as_deref().unwrap_or("-"),
                    e.kind.as_deref().unwrap_or("-"),
                    e.message,
                    e.request_id.as_deref().unwrap_or("-")
                );
            }
            Err(e) => {
                let _ = write!(out, "decode error: {e}");
            }
        }
        out.push('\n');
    }
    out
}

fn with_line_ends(bytes: &[u8], end: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for &b in bytes {
        if b == b'\n' {
            out.extend_from_slice(end);
        } else {
            out.push(b);
        }
    }
    out
}

/// Each stream fixture in three framings: LF (as recorded), CRLF and CR.
fn stream_variants() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (name, bytes) in stream_fixtures() {
        out.push((format!("{name} (crlf)"), with_line_ends(&bytes, b"\r\n")));
        out.push((format!("{name} (cr)"), with_line_ends(&bytes, b"\r")));
        out.push((name, bytes));
    }
    out
}

// ------------------------------------------------------------------------------------------
// Fixture bodies: parse, round trip, snapshot
// ------------------------------------------------------------------------------------------

#[derive(Debug)]
#[allow(dead_code)] // read through Debug by the snapshot
enum ParsedResponse {
    Completion(Box<ChatCompletion>),
    Error(ChatErrorBody),
    Stream(Vec<Payload>),
}

/// One `data:` payload of a stream fixture.
#[derive(Debug)]
#[allow(dead_code)] // read through Debug by the snapshot
enum Payload {
    Chunk(ChatChunk),
    Error(ChatErrorBody),
    Done,
}

#[test]
fn every_fixture_body_parses_and_round_trips() {
    for (name, c) in fixtures() {
        let req_body = c
            .request
            .body
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: no request body"));
        let request: ChatRequest = round_trip(&format!("{name} request"), &req_body.to_string());
        assert_eq!(
            request.is_stream(),
            c.is_stream_request(),
            "{name}: stream flag"
        );

        let status = c.response.status;
        let response = match &c.response.body {
            Body::Chunks(_) => {
                let mut chunks = Vec::new();
                for (i, data) in data_payloads(&c.response.body).iter().enumerate() {
                    let what = format!("{name} chunk {i}");
                    if data.trim() == "[DONE]" {
                        chunks.push(Payload::Done);
                    } else if serde_json::from_str::<Value>(data)
                        .is_ok_and(|v| v.get("error").is_some())
                    {
                        chunks.push(Payload::Error(round_trip(&what, data)));
                    } else {
                        chunks.push(Payload::Chunk(round_trip(&what, data)));
                    }
                }
                ParsedResponse::Stream(chunks)
            }
            body if (200..300).contains(&status) => {
                let completion: ChatCompletion =
                    round_trip(&format!("{name} response"), &body_text(body));
                assert!(!completion.choices.is_empty(), "{name}: no choices");
                let rid = completion.request_id();
                if let Some(h) = c.response.header("x-request-id") {
                    assert_eq!(rid, Some(h), "{name}: id vs x-request-id");
                }
                ParsedResponse::Completion(Box::new(completion))
            }
            body => {
                let text = body_text(body);
                let err: ChatErrorBody = round_trip(&format!("{name} error"), &text);
                let normalised = err.to_api_error(Some(status));
                let from_body = ApiError::from_body(Some(status), text.as_bytes())
                    .unwrap_or_else(|| panic!("{name}: ApiError does not see an error"));
                assert_eq!(normalised, from_body, "{name}: error normalisation");
                assert!(!err.error.message.is_empty(), "{name}: empty message");
                ParsedResponse::Error(err)
            }
        };
        insta::assert_debug_snapshot!(format!("fixture__{name}"), (request, response));
    }
}

// ------------------------------------------------------------------------------------------
// Stream decoding
// ------------------------------------------------------------------------------------------

#[test]
fn every_stream_fixture_decodes_to_a_snapshot() {
    for (name, bytes) in stream_fixtures() {
        let decoded = decode_whole(&bytes);
        assert!(!decoded.is_empty(), "{name}: no events");
        for (i, (index, item)) in decoded.iter().enumerate() {
            assert_eq!(*index, i, "{name}: event index");
            assert!(item.is_ok(), "{name}: {item:?}");
        }
        insta::assert_snapshot!(format!("events__{name}"), render(&decoded));
    }
}

#[test]
fn stream_fixtures_decode_the_same_fed_byte_by_byte_with_any_line_end() {
    for (name, bytes) in stream_variants() {
        let base = name.split(' ').next().unwrap_or(&name).to_owned();
        let reference = decode_whole(&stream_fixtures_bytes(&base));
        let one_by_one = decode_pieces(bytes.chunks(1));
        assert_eq!(one_by_one, reference, "{name}: byte by byte");
        assert_eq!(decode_whole(&bytes), reference, "{name}: whole");
    }
}

fn stream_fixtures_bytes(name: &str) -> Vec<u8> {
    fixture(name).response.body.to_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn stream_decoding_is_split_invariant(
        which in any::<prop::sample::Index>(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..24),
    ) {
        let variants = variants_cache();
        let (name, bytes, reference) = &variants[which.index(variants.len())];
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
        points.sort_unstable();
        points.dedup();
        let mut pieces: Vec<&[u8]> = Vec::new();
        let mut start = 0;
        for p in points {
            pieces.push(&bytes[start..p]);
            start = p;
        }
        pieces.push(&bytes[start..]);
        let got = decode_pieces(pieces.iter().copied());
        prop_assert_eq!(&got, reference, "{}", name);
    }
}

/// A stream variant: its name, its bytes, and the events of its LF original.
type Variant = (String, Vec<u8>, Vec<Decoded>);

/// Every stream variant, computed once.
fn variants_cache() -> &'static [Variant] {
    static CACHE: std::sync::OnceLock<Vec<Variant>> = std::sync::OnceLock::new();
    CACHE.get_or_init(|| {
        let originals = stream_fixtures();
        stream_variants()
            .into_iter()
            .map(|(name, bytes)| {
                let base = name.split(' ').next().unwrap_or(&name);
                let (_, original) = originals
                    .iter()
                    .find(|(n, _)| n == base)
                    .expect("variant of a known fixture");
                let reference = decode_whole(original);
                (name, bytes, reference)
            })
            .collect()
    })
}

#[test]
fn splits_inside_utf8_and_between_cr_and_lf_are_covered() {
    // The split property above only means something if the corpus has multi-byte characters
    // and CRLF pairs to cut through.
    let variants = variants_cache();
    assert!(
        variants
            .iter()
            .any(|(_, b, _)| b.iter().any(|&x| x >= 0x80))
    );
    assert!(
        variants
            .iter()
            .any(|(_, b, _)| b.windows(2).any(|w| w == b"\r\n"))
    );
}

#[test]
fn malformed_json_in_a_data_line_names_the_event() {
    let bytes = concat!(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"}}]}\n\n",
        ": keepalive\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"bro\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"still going\"}}]}\n\n",
        "data: [DONE]\n\n",
    );
    let mut sse = Decoder::new();
    let mut chat = ChatStreamDecoder::new();
    sse.feed(bytes.as_bytes());
    sse.finish();
    let mut seen = Vec::new();
    while let Some(ev) = sse.next_event() {
        let ev = ev.expect("valid SSE");
        match chat.decode(&ev) {
            Ok(StreamItem::Chunk(c)) => seen.push(format!("chunk {:?}", c.content())),
            Ok(other) => seen.push(format!("{other:?}")),
            Err(e) => {
                assert_eq!(e.index, ev.index);
                assert!(e.excerpt.contains("\"bro"), "{}", e.excerpt);
                seen.push(format!("error at #{}", e.index));
            }
        }
    }
    assert_eq!(
        seen,
        [
            "chunk Some(\"ok\")",
            "error at #1",
            "chunk Some(\"still going\")",
            "End"
        ]
    );
    assert!(chat.is_finished());
}

#[test]
fn sse_framed_error_body_is_an_error_item() {
    let c = fixture("error-400-stream-top-logprobs");
    assert_eq!(c.response.status, 400);
    let decoded = decode_whole(&c.response.body.to_bytes());
    assert_eq!(decoded.len(), 1);
    match &decoded[0].1 {
        Ok(StreamItem::Error(e)) => {
            assert_eq!(e.code.as_deref(), Some("invalid_parameter_error"));
            assert_eq!(e.message, "Range of top_logprobs should be [0, 5]");
            assert_eq!(e.request_id.as_deref(), c.response.header("x-request-id"));
        }
        other => panic!("{other:?}"),
    }
}

// ------------------------------------------------------------------------------------------
// Accumulation
// ------------------------------------------------------------------------------------------

fn accumulate(name: &str) -> ChatCompletion {
    let decoded = decode_whole(&stream_fixtures_bytes(name));
    let mut acc = ChatAccumulator::new();
    for c in chunks_of(&decoded) {
        acc.push(&c);
    }
    acc.finish()
}

fn twin(name: &str) -> ChatCompletion {
    let c = fixture(name);
    serde_json::from_str(&body_text(&c.response.body)).expect("twin parses")
}

fn assert_same_answer(streamed: &ChatCompletion, plain: &ChatCompletion, what: &str) {
    assert_eq!(
        streamed.choices.len(),
        plain.choices.len(),
        "{what}: choices"
    );
    for (s, p) in streamed.choices.iter().zip(&plain.choices) {
        assert_eq!(s.index, p.index, "{what}: index");
        assert_eq!(s.message.role, p.message.role, "{what}: role");
        assert_eq!(s.message.text(), p.message.text(), "{what}: content");
        assert_eq!(
            s.message.reasoning_content, p.message.reasoning_content,
            "{what}: reasoning"
        );
        type Call<'a> = (
            Option<u32>,
            Option<&'a str>,
            Option<&'a ToolType>,
            Option<&'a str>,
            Option<&'a str>,
        );
        fn calls(m: &Message) -> Vec<Call<'_>> {
            m.tool_calls()
                .iter()
                .map(|t| {
                    (
                        t.index,
                        t.call_id(),
                        t.kind.as_ref(),
                        t.name(),
                        t.arguments(),
                    )
                })
                .collect()
        }
        assert_eq!(calls(&s.message), calls(&p.message), "{what}: tool calls");
        assert_eq!(s.finish_reason, p.finish_reason, "{what}: finish_reason");
    }
    assert_eq!(streamed.usage, plain.usage, "{what}: usage");
    assert_eq!(streamed.model, plain.model, "{what}: model");
    assert_eq!(streamed.object.as_deref(), Some("chat.completion"));
}

#[test]
fn accumulated_streams_equal_their_non_stream_twins() {
    for (stream, plain) in [
        ("stream-include-usage", "stream-include-usage-twin"),
        ("tool-call-stream-usage", "tool-call-stream-usage-twin"),
    ] {
        let s = accumulate(stream);
        let p = twin(plain);
        assert_same_answer(&s, &p, stream);
        assert!(s.usage.is_some(), "{stream}: usage chunk folded in");
    }
    // The merged calls are whole: valid JSON arguments, ids and names from the first fragments.
    let s = accumulate("tool-call-stream-usage");
    for call in s.tool_calls() {
        assert!(call.call_id().unwrap().starts_with("call_"), "{call:?}");
        assert_eq!(call.name(), Some("get_current_weather"));
        let args: Value = serde_json::from_str(call.arguments().unwrap()).expect("JSON args");
        assert!(args["location"].is_string(), "{args}");
    }
    assert_eq!(s.tool_calls().len(), 2);
}

#[test]
fn recorded_tool_call_stream_accumulates_the_whole_call() {
    let s = accumulate("thinking-tool-call-stream");
    let calls = s.tool_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].call_id(), Some("call_b24c21aa4905423d813479e4"));
    assert_eq!(calls[0].name(), Some("get_current_weather"));
    assert_eq!(calls[0].arguments(), Some("{\"location\": \"杭州市\"}"));
    assert_eq!(s.finish_reason(), Some(&FinishReason::ToolCalls));
    assert_eq!(s.reasoning(), Some("用户参数。"));
    assert_eq!(s.text(), Some(""));
    assert_eq!(s.usage, None, "no include_usage, no usage");
    assert_eq!(s.request_id(), Some("34d8a53b-a10d-9c35-b462-cfededf90646"));
}

/// What the first `k` chunks of a stream say, computed from the raw JSON (not the types).
fn expected_prefix(payloads: &[Value]) -> (Option<String>, Option<String>, Vec<(u64, String)>) {
    let mut content: Option<String> = None;
    let mut reasoning: Option<String> = None;
    let mut args: Vec<(u64, String)> = Vec::new();
    for p in payloads {
        let Some(choice) = p["choices"].get(0) else {
            continue;
        };
        let d = &choice["delta"];
        if let Some(t) = d["content"].as_str() {
            content.get_or_insert_with(String::new).push_str(t);
        }
        if let Some(t) = d["reasoning_content"].as_str() {
            reasoning.get_or_insert_with(String::new).push_str(t);
        }
        for call in d["tool_calls"].as_array().into_iter().flatten() {
            let i = call["index"].as_u64().unwrap_or(0);
            let piece = call["function"]["arguments"].as_str().unwrap_or("");
            match args.iter_mut().find(|(j, _)| *j == i) {
                Some((_, a)) => a.push_str(piece),
                None => args.push((i, piece.to_owned())),
            }
        }
    }
    args.sort();
    (content, reasoning, args)
}

#[test]
fn partial_snapshot_holds_what_arrived() {
    for (name, c) in fixtures() {
        if !c.response.body.is_stream() || c.response.status != 200 {
            continue;
        }
        let payloads: Vec<Value> = data_payloads(&c.response.body)
            .iter()
            .filter(|d| d.trim() != "[DONE]")
            .map(|d| serde_json::from_str(d).expect("JSON"))
            .collect();
        let chunks = chunks_of(&decode_whole(&c.response.body.to_bytes()));
        assert_eq!(chunks.len(), payloads.len(), "{name}");
        let mut acc = ChatAccumulator::new();
        for k in 0..=chunks.len() {
            let snap = acc.snapshot();
            let (content, reasoning, args) = expected_prefix(&payloads[..k]);
            let first = snap.choices.first();
            assert_eq!(
                first.and_then(|c| c.message.text()).map(str::to_owned),
                content,
                "{name} after {k}"
            );
            assert_eq!(
                first.and_then(|c| c.message.reasoning_content.clone()),
                reasoning,
                "{name} after {k}"
            );
            let got: Vec<(u64, String)> = snap
                .tool_calls()
                .iter()
                .map(|t| {
                    (
                        u64::from(t.index.unwrap_or(0)),
                        t.arguments().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            assert_eq!(got, args, "{name} after {k}");
            assert_eq!(acc.chunk_count(), k);
            if let Some(chunk) = chunks.get(k) {
                acc.push(chunk);
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// Forward compatibility
// ------------------------------------------------------------------------------------------

#[test]
fn unknown_members_and_values_survive() {
    let src = json!({
        "id": "chatcmpl-x",
        "object": "chat.completion.chunk",
        "brand_new": {"nested": [1, null, "two"]},
        "choices": [{
            "index": 0,
            "finish_reason": "ran_out_of_ideas",
            "logprobs": null,
            "future_choice_field": true,
            "delta": {
                "role": "narrator",
                "content": "…",
                "audio": {"id": "a1", "data": "UklGR", "sample_rate": 24000},
                "refusal": null,
                "tool_calls": [{"index": 0, "id": "", "type": "mcp", "function": {"arguments": null, "more": 1}, "server": "s"}]
            }
        }],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3,
                  "prompt_tokens_details": {"cached_tokens": 0, "hologram_tokens": 9}}
    });
    let text = src.to_string();
    let chunk: ChatChunk = round_trip("unknown chunk", &text);
    let choice = &chunk.choices[0];
    assert_eq!(
        choice.finish_reason,
        Some(FinishReason::Unknown("ran_out_of_ideas".into()))
    );
    assert_eq!(choice.delta.role, Some(Role::Unknown("narrator".into())));
    assert_eq!(
        choice
            .delta
            .tool_calls
            .as_ref()
            .and_then(|t| t[0].kind.clone()),
        Some(ToolType::Unknown("mcp".into()))
    );
    assert_eq!(chunk.extra["brand_new"], src["brand_new"]);
    assert!(choice.extra.contains_key("future_choice_field"));
    let audio = choice.delta.audio.as_ref().expect("typed audio");
    assert_eq!(
        (audio.id.as_deref(), audio.extra["sample_rate"].as_u64()),
        (Some("a1"), Some(24000))
    );
    assert!(choice.delta.extra.contains_key("refusal"));

    // Through the stream decoder too: still a chunk, not an error.
    let mut sse = Decoder::new();
    sse.feed(format!("data: {text}\n\n").as_bytes());
    let ev = sse.next_event().expect("one event").expect("valid SSE");
    let item = ChatStreamDecoder::new().decode(&ev).expect("decodes");
    assert_eq!(item, StreamItem::Chunk(chunk));

    // And a non-stream response with an unknown message role and finish reason.
    let resp = json!({"choices": [{"index": 0, "message": {"role": "critic", "content": "no"},
        "finish_reason": "vetoed", "logprobs": null}], "new_top": 1});
    let parsed: ChatCompletion = round_trip("unknown completion", &resp.to_string());
    assert_eq!(
        parsed.choices[0].message.role,
        Role::Unknown("critic".into())
    );
    assert_eq!(
        parsed.finish_reason(),
        Some(&FinishReason::Unknown("vetoed".into()))
    );
}

#[test]
fn usage_chunk_and_accessors() {
    let c = fixture("stream-include-usage");
    let chunks = chunks_of(&decode_whole(&c.response.body.to_bytes()));
    let usage_chunks: Vec<&ChatChunk> = chunks.iter().filter(|c| c.is_usage_chunk()).collect();
    assert_eq!(usage_chunks.len(), 1);
    assert!(chunks.last().is_some_and(ChatChunk::is_usage_chunk));
    assert_eq!(
        chunks[0].request_id(),
        c.response.header("x-request-id"),
        "chatcmpl- id carries the request id"
    );
    assert_eq!(chunks[1].content(), Some("我是"));
    assert_eq!(
        chunks
            .iter()
            .filter_map(ChatChunk::finish_reason)
            .collect::<Vec<_>>(),
        [&FinishReason::Stop]
    );
}

// ------------------------------------------------------------------------------------------
// Request round trips (proptest)
// ------------------------------------------------------------------------------------------

fn small_f64() -> impl Strategy<Value = f64> {
    (-400i32..=400).prop_map(|n| f64::from(n) / 100.0)
}

/// A float member's value: an integer (kept as one) or a decimal.
fn small_num() -> impl Strategy<Value = serde_json::Number> {
    prop_oneof![
        (-4i64..=4).prop_map(serde_json::Number::from),
        small_f64().prop_filter_map("finite", serde_json::Number::from_f64),
    ]
}

fn text() -> impl Strategy<Value = String> {
    "\\PC{0,12}"
}

fn unknown_word() -> impl Strategy<Value = String> {
    "x-[a-z]{1,8}"
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        small_f64().prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Value> {
    prop::collection::btree_map("[a-z_]{1,6}", json_value(), 0..4)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

fn extra() -> impl Strategy<Value = Extra> {
    prop::collection::btree_map("x_[a-z]{1,6}", json_value(), 0..3)
        .prop_map(|m| m.into_iter().collect())
}

fn unknown_tagged() -> impl Strategy<Value = Value> {
    (unknown_word(), extra()).prop_map(|(t, mut m)| {
        m.insert("type".into(), Value::String(t));
        Value::Object(m)
    })
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![
        Just(Role::System),
        Just(Role::User),
        Just(Role::Assistant),
        Just(Role::Tool),
        Just(Role::Function),
        unknown_word().prop_map(Role::Unknown),
    ]
}

fn cache_control() -> impl Strategy<Value = Option<CacheControl>> {
    prop::option::of(prop_oneof![
        Just(CacheControl::ephemeral()),
        unknown_word().prop_map(|w| CacheControl {
            kind: Some(CacheKind::Unknown(w)),
            ..Default::default()
        }),
    ])
}

fn pixels() -> impl Strategy<Value = Option<u64>> {
    prop::option::of(0u64..20_000_000)
}

fn content_part() -> impl Strategy<Value = ContentPart> {
    let detail = prop::option::of(prop_oneof![
        Just(ImageDetail::Auto),
        Just(ImageDetail::Low),
        Just(ImageDetail::High),
        Just(ImageDetail::Original),
        unknown_word().prop_map(ImageDetail::Unknown),
    ]);
    let fps = prop::option::of(prop_oneof![
        (1u64..=60).prop_map(serde_json::Number::from),
        (1i32..=600).prop_filter_map("finite", |n| serde_json::Number::from_f64(
            f64::from(n) / 10.0
        )),
    ]);
    prop_oneof![
        (text(), cache_control(), extra()).prop_map(|(text, cache_control, extra)| {
            ContentPart::Text(TextPart {
                text,
                cache_control,
                extra,
                nulls: Default::default(),
            })
        }),
        (text(), detail, pixels(), pixels(), cache_control()).prop_map(
            |(url, detail, min_pixels, max_pixels, cache_control)| {
                ContentPart::ImageUrl(ImageUrlPart {
                    image_url: ImageUrl {
                        url,
                        detail,
                        ..Default::default()
                    },
                    min_pixels,
                    max_pixels,
                    cache_control,
                    ..Default::default()
                })
            }
        ),
        (text(), prop::option::of(text())).prop_map(|(data, format)| {
            ContentPart::InputAudio(InputAudioPart {
                input_audio: InputAudio {
                    data,
                    format,
                    ..Default::default()
                },
                ..Default::default()
            })
        }),
        (
            text(),
            fps.clone(),
            pixels(),
            pixels(),
            pixels(),
            cache_control()
        )
            .prop_map(
                |(url, fps, min_pixels, max_pixels, total_pixels, cache_control)| {
                    ContentPart::VideoUrl(VideoUrlPart {
                        video_url: VideoUrl {
                            url,
                            ..Default::default()
                        },
                        fps,
                        min_pixels,
                        max_pixels,
                        total_pixels,
                        cache_control,
                        ..Default::default()
                    })
                }
            ),
        (prop::collection::vec(text(), 0..4), fps, pixels(), pixels()).prop_map(
            |(video, fps, max_pixels, total_pixels)| {
                ContentPart::Video(VideoFramesPart {
                    video,
                    fps,
                    max_pixels,
                    total_pixels,
                    ..Default::default()
                })
            }
        ),
        unknown_tagged().prop_map(ContentPart::Unknown),
    ]
}

fn content() -> impl Strategy<Value = MessageContent> {
    prop_oneof![
        text().prop_map(MessageContent::Text),
        prop::collection::vec(content_part(), 0..4).prop_map(MessageContent::Parts),
    ]
}

fn tool_type() -> impl Strategy<Value = ToolType> {
    prop_oneof![
        3 => Just(ToolType::Function),
        1 => unknown_word().prop_map(ToolType::Unknown),
    ]
}

fn tool_call() -> impl Strategy<Value = ToolCall> {
    (
        prop::option::of(0u32..8),
        prop::option::of(text()),
        prop::option::of(tool_type()),
        prop::option::of((prop::option::of(text()), prop::option::of(text()))),
        extra(),
    )
        .prop_map(|(index, id, kind, function, extra)| ToolCall {
            index,
            id,
            kind,
            function: function.map(|(name, arguments)| FunctionCall {
                name,
                arguments,
                ..Default::default()
            }),
            extra,
            nulls: Default::default(),
        })
}

fn message() -> impl Strategy<Value = Message> {
    (
        role(),
        prop::option::of(content()),
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of(prop::collection::vec(tool_call(), 0..3)),
        prop::option::of(text()),
        prop::option::of(any::<bool>()),
        extra(),
    )
        .prop_map(
            |(role, content, name, reasoning_content, tool_calls, tool_call_id, partial, extra)| {
                Message {
                    role,
                    content,
                    name,
                    reasoning_content,
                    tool_calls,
                    tool_call_id,
                    partial,
                    audio: None,
                    extra,
                    nulls: Default::default(),
                }
            },
        )
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
                    function: FunctionDefinition {
                        name,
                        description,
                        parameters,
                        strict,
                        ..Default::default()
                    },
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
        unknown_word().prop_map(|w| ToolChoice::Mode(ToolChoiceMode::Unknown(w))),
        text().prop_map(ToolChoice::function),
        (tool_type(), extra()).prop_map(|(kind, extra)| ToolChoice::Function(NamedToolChoice {
            kind: Some(kind),
            function: None,
            extra,
            nulls: Default::default(),
        })),
    ]
}

fn response_format() -> impl Strategy<Value = ResponseFormat> {
    prop_oneof![
        Just(ResponseFormat::text()),
        Just(ResponseFormat::json_object()),
        (
            prop::option::of(text()),
            prop::option::of(text()),
            prop::option::of(json_object()),
            prop::option::of(any::<bool>())
        )
            .prop_map(|(name, description, schema, strict)| {
                ResponseFormat::JsonSchema(JsonSchemaFormat {
                    json_schema: JsonSchema {
                        name,
                        description,
                        schema,
                        strict,
                        ..Default::default()
                    },
                    ..Default::default()
                })
            }),
        unknown_tagged().prop_map(ResponseFormat::Unknown),
    ]
}

fn stop() -> impl Strategy<Value = Stop> {
    prop_oneof![
        text().prop_map(Stop::Text),
        prop::collection::vec(text(), 0..4).prop_map(Stop::Texts),
        prop::collection::vec(any::<i64>(), 1..3).prop_map(Stop::Tokens),
        prop::collection::vec(prop::collection::vec(any::<i64>(), 0..3), 1..3)
            .prop_map(Stop::TokenSequences),
        json_object().prop_map(Stop::Unknown),
    ]
}

fn search_options() -> impl Strategy<Value = SearchOptions> {
    (
        prop::option::of(any::<bool>()),
        prop::option::of(prop_oneof![
            Just(SearchStrategy::Turbo),
            Just(SearchStrategy::Max),
            Just(SearchStrategy::Agent),
            Just(SearchStrategy::AgentMax),
            unknown_word().prop_map(SearchStrategy::Unknown),
        ]),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
        prop::option::of(text()),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
        extra(),
    )
        .prop_map(
            |(
                forced_search,
                search_strategy,
                enable_source,
                enable_citation,
                citation_format,
                enable_search_extension,
                prepend_search_result,
                extra,
            )| SearchOptions {
                forced_search,
                search_strategy,
                enable_source,
                enable_citation,
                citation_format,
                enable_search_extension,
                prepend_search_result,
                extra,
                nulls: Default::default(),
            },
        )
}

fn translation_options() -> impl Strategy<Value = TranslationOptions> {
    let pair = || {
        (text(), text()).prop_map(|(source, target)| TranslationPair {
            source,
            target,
            ..Default::default()
        })
    };
    (
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of(prop::collection::vec(pair(), 0..3)),
        prop::option::of(prop::collection::vec(pair(), 0..3)),
        prop::option::of(text()),
    )
        .prop_map(
            |(source_lang, target_lang, terms, tm_list, domains)| TranslationOptions {
                source_lang,
                target_lang,
                terms,
                tm_list,
                domains,
                ..Default::default()
            },
        )
}

fn chat_request() -> impl Strategy<Value = ChatRequest> {
    use prop::option::of;
    let core = (
        text(),
        prop::collection::vec(message(), 0..4),
        of(any::<bool>()),
        of(of(any::<bool>()).prop_map(|include_usage| StreamOptions {
            include_usage,
            ..Default::default()
        })),
        of(small_num()),
        of(small_num()),
        of(0u32..200),
        of(small_num()),
        of(small_num()),
        of(small_num()),
        extra(),
    );
    let limits = (
        of(any::<u32>()),
        of(any::<u32>()),
        of(1u32..5),
        of(any::<u64>()),
        of(stop()),
        of(any::<bool>()),
        of(0u32..6),
        of(prop::collection::vec(tool(), 0..3)),
        of(tool_choice()),
        of(any::<bool>()),
        of(response_format()),
    );
    let ext = (
        of(any::<bool>()),
        of(any::<u32>()),
        of(prop_oneof![
            Just(ReasoningEffort::Minimal),
            Just(ReasoningEffort::Low),
            Just(ReasoningEffort::Medium),
            Just(ReasoningEffort::High),
            Just(ReasoningEffort::XHigh),
            unknown_word().prop_map(ReasoningEffort::Unknown),
        ]),
        of(any::<bool>()),
        of(search_options()),
        of(any::<bool>()),
        of(prop::collection::vec(
            prop_oneof![
                Just(Modality::Text),
                Just(Modality::Audio),
                unknown_word().prop_map(Modality::Unknown)
            ],
            0..3,
        )),
        of((of(text()), of(text())).prop_map(|(voice, format)| {
            dashscope_protocol::chat::AudioOutput {
                voice,
                format,
                ..Default::default()
            }
        })),
        of(translation_options()),
        of(any::<bool>()),
        of(text()),
    );
    (core, limits, ext).prop_map(|(core, limits, ext)| {
        let (
            model,
            messages,
            stream,
            stream_options,
            temperature,
            top_p,
            top_k,
            presence_penalty,
            frequency_penalty,
            repetition_penalty,
            extra,
        ) = core;
        let (
            max_tokens,
            max_completion_tokens,
            n,
            seed,
            stop,
            logprobs,
            top_logprobs,
            tools,
            tool_choice,
            parallel_tool_calls,
            response_format,
        ) = limits;
        let (
            enable_thinking,
            thinking_budget,
            reasoning_effort,
            enable_search,
            search_options,
            vl_high_resolution_images,
            modalities,
            audio,
            translation_options,
            enable_code_interpreter,
            user,
        ) = ext;
        ChatRequest {
            model,
            messages,
            stream,
            stream_options,
            temperature,
            top_p,
            top_k,
            presence_penalty,
            frequency_penalty,
            repetition_penalty,
            max_tokens,
            max_completion_tokens,
            n,
            seed,
            stop,
            logprobs,
            top_logprobs,
            tools,
            tool_choice,
            parallel_tool_calls,
            response_format,
            enable_thinking,
            thinking_budget,
            reasoning_effort,
            enable_search,
            search_options,
            vl_high_resolution_images,
            modalities,
            audio,
            translation_options,
            enable_code_interpreter,
            user,
            extra,
            nulls: Default::default(),
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn chat_request_round_trips(req in chat_request()) {
        let text = serde_json::to_string(&req).expect("serializes");
        let back: ChatRequest = serde_json::from_str(&text).expect("parses");
        prop_assert_eq!(&back, &req);
        let value = serde_json::to_value(&req).expect("to value");
        let back: ChatRequest = serde_json::from_value(value.clone()).expect("from value");
        prop_assert_eq!(&back, &req);
        // Only what was set is written.
        prop_assert_eq!(value.get("temperature").is_some(), req.temperature.is_some());
        prop_assert_eq!(value.get("tools").is_some(), req.tools.is_some());
    }

    #[test]
    fn message_and_part_round_trip(m in message(), p in content_part(), t in tool()) {
        let back: Message = serde_json::from_str(&serde_json::to_string(&m).expect("ser")).expect("de");
        prop_assert_eq!(back, m);
        let back: ContentPart = serde_json::from_str(&serde_json::to_string(&p).expect("ser")).expect("de");
        prop_assert_eq!(back, p);
        let back: Tool = serde_json::from_str(&serde_json::to_string(&t).expect("ser")).expect("de");
        prop_assert_eq!(back, t);
    }
}

/// The keys of a serialized request object.
fn keys(v: &Value) -> std::collections::BTreeSet<&str> {
    v.as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect()
}

#[test]
fn every_request_member_has_a_setter() {
    let req = ChatRequest::default()
        .model("qwen-omni-turbo")
        .messages(vec![Message::user("hi")])
        .message(Message::user("again"))
        .stream(true)
        .stream_options(StreamOptions::default())
        .include_usage(true)
        .temperature(0.7)
        .top_p(0.8)
        .top_k(20)
        .presence_penalty(0.5)
        .frequency_penalty(0.25)
        .repetition_penalty(1.05)
        .max_tokens(100)
        .max_completion_tokens(200)
        .n(2)
        .seed(42)
        .stop(vec!["END", "STOP"])
        .logprobs(false)
        .top_logprobs(3)
        .tools(vec![Tool::function("f", "d", json!({"type": "object"}))])
        .tool(Tool::function("g", "d", json!({"type": "object"})))
        .tool_choice(ToolChoiceMode::Required)
        .parallel_tool_calls(true)
        .response_format(ResponseFormat::json_object())
        .enable_thinking(true)
        .thinking_budget(1000)
        .reasoning_effort("high")
        .enable_search(false)
        .search_options(SearchOptions {
            search_strategy: Some(SearchStrategy::Max),
            ..Default::default()
        })
        .vl_high_resolution_images(true)
        .modalities(vec![Modality::Text, Modality::Audio])
        .audio(dashscope_protocol::chat::AudioOutput {
            voice: Some("Cherry".into()),
            format: Some("wav".into()),
            ..Default::default()
        })
        .translation_options(TranslationOptions {
            target_lang: Some("English".into()),
            ..Default::default()
        })
        .enable_code_interpreter(true)
        .user("u-1");
    let v = serde_json::to_value(&req).unwrap();
    assert_eq!(
        keys(&v),
        ChatRequest::WIRE_MEMBERS.iter().copied().collect()
    );
    // Numbers and bools are taken as they are, the rest through `Into`; the setters that do
    // more than set their member still do it.
    assert_eq!(v["top_k"], 20);
    assert_eq!(v["stop"], json!(["END", "STOP"]));
    assert_eq!(v["reasoning_effort"], "high");
    assert_eq!(v["logprobs"], true, "top_logprobs switches logprobs on");
    assert_eq!(
        v["enable_search"], true,
        "search_options switches search on"
    );
    assert_eq!(v["messages"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["tools"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["stream_options"], json!({"include_usage": true}));
    assert_eq!(v["modalities"], json!(["text", "audio"]));
}

// ------------------------------------------------------------------------------------------
// Decoder and accumulator cases
// ------------------------------------------------------------------------------------------

fn sse_event(index: usize, data: &str) -> Event<'_> {
    Event {
        index,
        id: None,
        event: None,
        data,
        http_status: None,
        retry: None,
    }
}

fn chunk(data: &str) -> ChatChunk {
    serde_json::from_str(data).unwrap()
}

#[test]
fn done_empty_error_and_chunk() {
    let mut d = ChatStreamDecoder::new();
    assert_eq!(d.decode(&sse_event(0, "")).unwrap(), StreamItem::Skip);
    let item = d
        .decode(&sse_event(
            1,
            r#"{"choices":[{"index":0,"delta":{"content":"hi"}}]}"#,
        ))
        .unwrap();
    assert!(matches!(item, StreamItem::Chunk(c) if c.content() == Some("hi")));
    assert!(!d.is_finished());
    let item = d
        .decode(&sse_event(
            2,
            r#"{"error":{"code":"data_inspection_failed","param":null,"message":"Output data may contain inappropriate content.","type":"data_inspection_failed"},"id":"chatcmpl-abc"}"#,
        ))
        .unwrap();
    match item {
        StreamItem::Error(e) => {
            assert_eq!(e.code.as_deref(), Some("data_inspection_failed"));
            assert_eq!(e.request_id.as_deref(), Some("abc"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(d.decode(&sse_event(3, "[DONE]")).unwrap(), StreamItem::End);
    assert!(d.is_finished());
}

#[test]
fn string_error_is_still_an_error() {
    let mut d = ChatStreamDecoder::new();
    match d.decode(&sse_event(0, r#"{"error":"boom"}"#)).unwrap() {
        StreamItem::Error(e) => assert_eq!(e.message, "boom"),
        other => panic!("{other:?}"),
    }
    // A null error is not an error.
    assert!(matches!(
        d.decode(&sse_event(1, r#"{"error":null,"choices":[]}"#))
            .unwrap(),
        StreamItem::Chunk(_)
    ));
}

#[test]
fn malformed_json_names_the_event() {
    let mut d = ChatStreamDecoder::new();
    let e = d.decode(&sse_event(7, r#"{"choices":[}"#)).unwrap_err();
    assert_eq!(e.index, 7);
    assert_eq!(e.excerpt, r#"{"choices":[}"#);
    assert!(e.to_string().starts_with("stream event #7"), "{e}");
}

#[test]
fn tool_call_fragments_merge_with_null_and_empty_arguments() {
    let mut acc = ChatAccumulator::new();
    for data in [
        r#"{"choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"f","arguments":""}}]}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"g","arguments":"{}"}}]}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"","type":"function","function":{"arguments":null}}]}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"","function":{"arguments":"{\"x\":"}}]}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"","type":"function","function":{"arguments":"1}"}}]}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"","type":"function","function":{"arguments":""}}]}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"content":""},"finish_reason":"tool_calls"}]}"#,
    ] {
        acc.push(&chunk(data));
    }
    let out = acc.finish();
    let calls = out.tool_calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (calls[0].call_id(), calls[0].name(), calls[0].arguments()),
        (Some("call_a"), Some("f"), Some(r#"{"x":1}"#))
    );
    assert_eq!(
        (calls[1].call_id(), calls[1].name(), calls[1].arguments()),
        (Some("call_b"), Some("g"), Some("{}"))
    );
    assert_eq!(out.finish_reason(), Some(&FinishReason::ToolCalls));
    assert_eq!(out.text(), Some(""));
}

#[test]
fn several_choices_and_logprobs() {
    let mut acc = ChatAccumulator::new();
    for data in [
        r#"{"id":"chatcmpl-q","model":"m","created":5,"choices":[{"index":1,"delta":{"role":"assistant","content":"B"}},{"index":0,"delta":{"role":"assistant","content":"A"},"logprobs":{"content":[{"token":"A","logprob":-0.5,"bytes":[65],"top_logprobs":[]}]}}]}"#,
        r#"{"id":"chatcmpl-q","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"stop","logprobs":{"content":[{"token":"a","logprob":-1.0,"bytes":[97],"top_logprobs":[]}]}},{"index":1,"delta":{"content":"b"},"finish_reason":"length"}]}"#,
        r#"{"id":"chatcmpl-q","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}"#,
    ] {
        acc.push(&chunk(data));
    }
    let snap = acc.snapshot();
    assert_eq!(snap.choices.len(), 2);
    assert_eq!(snap.choices[0].message.text(), Some("Aa"));
    assert_eq!(snap.choices[1].message.text(), Some("Bb"));
    assert_eq!(snap.choices[1].finish_reason, Some(FinishReason::Length));
    let lp = snap.choices[0]
        .logprobs
        .as_ref()
        .unwrap()
        .content
        .as_ref()
        .unwrap();
    assert_eq!(
        lp.iter()
            .filter_map(|t| t.token.as_deref())
            .collect::<String>(),
        "Aa"
    );
    assert_eq!(snap.usage.as_ref().map(|u| u.total_tokens), Some(7));
    assert_eq!(snap.request_id(), Some("q"));
    assert_eq!((snap.model.as_deref(), snap.created), (Some("m"), Some(5)));
    assert_eq!(acc.chunk_count(), 3);
}

#[test]
fn empty_accumulator_snapshot() {
    let out = ChatAccumulator::new().snapshot();
    assert!(out.choices.is_empty());
    assert_eq!(out.text(), None);
    assert_eq!(out.usage, None);
}

#[test]
fn builder_writes_only_what_was_set() {
    let req = ChatRequest::new("qwen-plus", vec![Message::user("hi")])
        .stop("END")
        .tool_choice(ToolChoice::function("f"))
        .response_format(ResponseFormat::json_object());
    assert_eq!(
        serde_json::to_value(&req).unwrap(),
        json!({
            "model": "qwen-plus",
            "messages": [{"role": "user", "content": "hi"}],
            "stop": "END",
            "tool_choice": {"type": "function", "function": {"name": "f"}},
            "response_format": {"type": "json_object"}
        })
    );
}

#[test]
fn request_message_constructors() {
    let v = serde_json::to_value(Message::tool_result("call_1", "22°C")).unwrap();
    assert_eq!(
        v,
        json!({"role": "tool", "content": "22°C", "tool_call_id": "call_1"})
    );
    let v = serde_json::to_value(Message::assistant_prefix("def f(")).unwrap();
    assert_eq!(
        v,
        json!({"role": "assistant", "content": "def f(", "partial": true})
    );
    let v = serde_json::to_value(Message::user_parts(vec![
        ContentPart::image_url("https://x/y.png"),
        ContentPart::text("what?"),
    ]))
    .unwrap();
    assert_eq!(
        v,
        json!({"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
            {"type": "text", "text": "what?"}
        ]})
    );
}

#[test]
fn request_content_and_stop_shapes() {
    let m: Message = serde_json::from_str(
        r#"{"role":"user","content":[{"type":"video","video":["a","b"],"fps":2}]}"#,
    )
    .unwrap();
    match m.content {
        Some(MessageContent::Parts(ref p)) => {
            assert!(
                matches!(&p[0], ContentPart::Video(v) if v.video.len() == 2 && v.fps == Some(2.into()))
            )
        }
        ref other => panic!("{other:?}"),
    }
    let s: Stop = serde_json::from_str(r#"["a","b"]"#).unwrap();
    assert_eq!(s, Stop::Texts(vec!["a".into(), "b".into()]));
    let s: Stop = serde_json::from_str(r#"[[1,2]]"#).unwrap();
    assert_eq!(s, Stop::TokenSequences(vec![vec![1, 2]]));
    let s: Stop = serde_json::from_str(r#"[[1,"a"]]"#).unwrap();
    assert_eq!(s, Stop::Unknown(json!([[1, "a"]])));
    assert!(serde_json::from_str::<MessageContent>("5").is_err());
}

#[test]
fn request_tool_choice_shapes() {
    let t: ToolChoice = serde_json::from_str(r#""required""#).unwrap();
    assert_eq!(t, ToolChoice::required());
    let t: ToolChoice = serde_json::from_str(r#""sometimes""#).unwrap();
    assert_eq!(
        t,
        ToolChoice::Mode(ToolChoiceMode::Unknown("sometimes".into()))
    );
    let t: ToolChoice =
        serde_json::from_str(r#"{"type":"function","function":{"name":"g"}}"#).unwrap();
    assert_eq!(t, ToolChoice::function("g"));
}

#[test]
fn unknown_role_and_part_kept() {
    let src = json!({"role": "critic", "content": [{"type": "hologram", "z": 1}]});
    let m: Message = serde_json::from_value(src.clone()).unwrap();
    assert_eq!(m.role, Role::Unknown("critic".into()));
    assert_eq!(serde_json::to_value(&m).unwrap(), src);
}
