//! The DashScope native dialect against its fixtures (`mock-server/fixtures/native/`): JSON round
//! trips, stream decoding under any byte split, error frames, accumulation against non-stream
//! twins, and request round trips with arbitrary values.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::OnceLock;

use dashscope_protocol::cassette::{Body, Cassette};
use dashscope_protocol::native::{
    CacheControl, Content, ContentItem, CumulativeToDelta, ErrorBody, FinishReason, FunctionCall,
    FunctionDefinition, FunctionName, FunctionTool, GenerationRequest, GenerationResponse, Input,
    JsonObjectFormat, JsonSchemaFormat, JsonSchemaSpec, MULTIMODAL_GENERATION_PATH, Message,
    NamedToolChoice, NativeAccumulator, NativeStreamDecoder, Parameters, ReasoningEffort,
    ResponseFormat, ResultFormat, Role, SearchOptions, SearchStrategy, Stop, TEXT_GENERATION_PATH,
    TextFormat, Tool, ToolCall, ToolChoice, ToolChoiceMode, VideoSource,
};
use dashscope_protocol::sse::{Decoder, Mode};
use dashscope_protocol::stream::{Accumulate, StreamDecode, StreamItem};
use dashscope_protocol::wire::Extra;
use proptest::prelude::*;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Fixture loading
// ---------------------------------------------------------------------------------------------

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/native")
}

/// Every native cassette, sorted by name.
fn fixtures() -> &'static [Cassette] {
    static ALL: OnceLock<Vec<Cassette>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(fixture_dir()).expect("fixture directory") {
            let path = entry.expect("dir entry").path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("readable fixture");
            let c =
                Cassette::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("utf-8 name");
            assert_eq!(c.name, format!("native/{stem}"), "name matches the file");
            out.push(c);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        assert!(
            out.len() >= 27,
            "expected N1-N22 plus synthetic fixtures, found {}",
            out.len()
        );
        out
    })
}

fn fixture(scenario: &str) -> &'static Cassette {
    let name = format!("native/{scenario}");
    fixtures()
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no fixture {name}"))
}

fn scenario(c: &Cassette) -> &str {
    c.name.trim_start_matches("native/")
}

fn stream_fixtures() -> Vec<&'static Cassette> {
    fixtures()
        .iter()
        .filter(|c| c.response.body.is_stream())
        .collect()
}

fn body_text(c: &Cassette) -> &str {
    match &c.response.body {
        Body::Text(t) => t,
        other => panic!("{}: expected a text body, got {other:?}", c.name),
    }
}

// ---------------------------------------------------------------------------------------------
// Stream decoding
// ---------------------------------------------------------------------------------------------

/// One decoded SSE event, as the decoder pair sees it.
#[derive(Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // Test data; clarity over size.
enum Decoded {
    /// The dialect's item, with the SSE event's index.
    Item(usize, StreamItem<GenerationResponse>),
    /// A `StreamDecodeError`: (event index, message).
    BadJson(usize, String),
    /// An `SseError`.
    Sse(String),
}

/// Decodes `pieces` fed one after another; returns the items and whether the stream finished.
fn decode_pieces<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> (Vec<Decoded>, bool) {
    let mut sse = Decoder::with_mode(Mode::DataLineIsEvent);
    let mut native = NativeStreamDecoder::new();
    let mut out = Vec::new();
    let drain = |sse: &mut Decoder, native: &mut NativeStreamDecoder, out: &mut Vec<Decoded>| {
        while let Some(ev) = sse.next_event() {
            match ev {
                Ok(ev) => match native.decode(&ev) {
                    Ok(item) => out.push(Decoded::Item(ev.index, item)),
                    Err(e) => out.push(Decoded::BadJson(e.index, e.to_string())),
                },
                Err(e) => out.push(Decoded::Sse(e.to_string())),
            }
        }
    };
    for piece in pieces {
        sse.feed(piece);
        drain(&mut sse, &mut native, &mut out);
    }
    sse.finish();
    drain(&mut sse, &mut native, &mut out);
    (out, native.is_finished())
}

fn decode_whole(bytes: &[u8]) -> (Vec<Decoded>, bool) {
    decode_pieces([bytes])
}

fn split_at_points<'a>(bytes: &'a [u8], points: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = points.iter().map(|p| p % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let mut pieces = Vec::new();
    let mut start = 0;
    for cut in cuts {
        pieces.push(&bytes[start..cut]);
        start = cut;
    }
    pieces.push(&bytes[start..]);
    pieces
}

/// The chunks of a stream fixture (panics on anything but chunks).
fn chunks_of(c: &Cassette) -> Vec<GenerationResponse> {
    let (items, _) = decode_whole(&c.response.body.to_bytes());
    items
        .into_iter()
        .filter_map(|d| match d {
            Decoded::Item(_, StreamItem::Chunk(ch)) => Some(ch),
            Decoded::Item(_, StreamItem::Skip) => None,
            other => panic!("{}: unexpected {other:?}", c.name),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Compact, one-line-per-event rendering
// ---------------------------------------------------------------------------------------------

fn fin(f: Option<&FinishReason>) -> String {
    f.map_or_else(|| "-".to_owned(), |f| f.as_str().to_owned())
}

fn render_content(c: Option<&Content>) -> String {
    match c {
        None => "-".to_owned(),
        Some(Content::Text(t)) => format!("{t:?}"),
        Some(Content::Parts(items)) => {
            let parts: Vec<String> = items
                .iter()
                .map(|i| match (&i.text, &i.image) {
                    (Some(t), _) => format!("text:{t:?}"),
                    (None, Some(u)) => format!("image:{u}"),
                    _ => "other".to_owned(),
                })
                .collect();
            format!("[{}]", parts.join(", "))
        }
        Some(Content::Unknown(v)) => format!("unknown:{v}"),
    }
}

fn render_chunk(ch: &GenerationResponse) -> String {
    let mut s = String::new();
    if let Some(o) = &ch.output {
        if let Some(t) = &o.text {
            let _ = write!(s, " text={t:?} fin={}", fin(o.finish_reason.as_ref()));
        }
        for (pos, c) in o.choices.as_deref().unwrap_or(&[]).iter().enumerate() {
            let _ = write!(s, " c{}", c.index.map_or(pos as u32, |i| i));
            let _ = write!(s, " fin={}", fin(c.finish_reason.as_ref()));
            if let Some(m) = &c.message {
                let _ = write!(s, " content={}", render_content(m.content.as_ref()));
                if let Some(r) = &m.reasoning_content {
                    let _ = write!(s, " reasoning={r:?}");
                }
                for t in m.tool_calls.as_deref().unwrap_or(&[]) {
                    let _ = write!(
                        s,
                        " tool[{}]={}:{}:{:?}",
                        t.index.map_or("-".to_owned(), |i| i.to_string()),
                        t.id.as_deref().unwrap_or("-"),
                        t.name().unwrap_or("-"),
                        t.arguments().unwrap_or("-"),
                    );
                }
            }
        }
        if let Some(si) = &o.search_info {
            let _ = write!(
                s,
                " search={}/{}",
                si.search_results.as_ref().map_or(0, Vec::len),
                si.extra_tool_info.as_ref().map_or(0, Vec::len)
            );
        }
    }
    if let Some(u) = &ch.usage {
        let n = |v: Option<u64>| v.map_or("-".to_owned(), |v| v.to_string());
        let _ = write!(
            s,
            " usage={}/{}/{}",
            n(u.input_tokens),
            n(u.output_tokens),
            n(u.total_tokens)
        );
    }
    s
}

fn render(items: &[Decoded], finished: bool) -> String {
    let mut lines: Vec<String> = items
        .iter()
        .map(|d| match d {
            Decoded::Item(i, StreamItem::Chunk(ch)) => format!("#{i} chunk{}", render_chunk(ch)),
            Decoded::Item(i, StreamItem::Skip) => format!("#{i} skip"),
            Decoded::Item(i, StreamItem::End) => format!("#{i} end"),
            Decoded::Item(i, StreamItem::Error(e)) => format!(
                "#{i} error status={:?} code={:?} message={:?} request_id={:?}",
                e.status, e.code, e.message, e.request_id
            ),
            Decoded::BadJson(i, m) => format!("#{i} bad-json {m}"),
            Decoded::Sse(m) => format!("sse-error {m}"),
        })
        .collect();
    lines.push(format!("finished={finished}"));
    lines.join("\n")
}

// ---------------------------------------------------------------------------------------------
// Fixture bodies: parse, serialize back, snapshot
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
#[allow(dead_code, clippy::large_enum_variant)] // Read through Debug (snapshots).
enum ParsedBody {
    Response(GenerationResponse),
    Error(ErrorBody),
    Stream(Vec<ParsedEvent>),
}

#[derive(Debug)]
#[allow(dead_code, clippy::large_enum_variant)] // Read through Debug (snapshots).
enum ParsedEvent {
    Chunk(GenerationResponse),
    Error(ErrorBody),
}

#[derive(Debug)]
#[allow(dead_code)] // Read through Debug (snapshots).
struct Parsed {
    request: GenerationRequest,
    response: ParsedBody,
}

/// Parses `text` as `T` and checks it serializes back to the same JSON value.
fn round_trip<T>(what: &str, text: &str) -> T
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let original: Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: not JSON: {e}"));
    let parsed: T =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: does not parse: {e}"));
    let back = serde_json::to_value(&parsed).expect("serializes");
    assert_eq!(
        back, original,
        "{what}: serialized form differs from the original"
    );
    parsed
}

#[test]
fn every_fixture_body_round_trips_and_is_snapshotted() {
    for c in fixtures() {
        let name = scenario(c);
        let body = c
            .request
            .body
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: request body"));
        let request: GenerationRequest = round_trip(&format!("{name} request"), &body.to_string());
        let response = match &c.response.body {
            Body::Text(t) if (200..300).contains(&c.response.status) => {
                ParsedBody::Response(round_trip(&format!("{name} response"), t))
            }
            Body::Text(t) => ParsedBody::Error(round_trip(&format!("{name} error body"), t)),
            Body::Json(v) => {
                ParsedBody::Response(round_trip(&format!("{name} response"), &v.to_string()))
            }
            Body::Chunks(_) => {
                let bytes = c.response.body.to_bytes();
                let mut sse = Decoder::with_mode(Mode::DataLineIsEvent);
                sse.feed(&bytes);
                sse.finish();
                let mut events = Vec::new();
                while let Some(ev) = sse.next_event() {
                    let ev = ev.unwrap_or_else(|e| panic!("{name}: {e}"));
                    let what = format!("{name} event #{}", ev.index);
                    if ev.event == Some("error") {
                        events.push(ParsedEvent::Error(round_trip(&what, ev.data)));
                    } else {
                        events.push(ParsedEvent::Chunk(round_trip(&what, ev.data)));
                    }
                }
                let Body::Chunks(recorded) = &c.response.body else {
                    unreachable!("matched above")
                };
                assert_eq!(
                    events.len(),
                    recorded.len(),
                    "{name}: one event per recorded chunk"
                );
                ParsedBody::Stream(events)
            }
        };
        insta::assert_debug_snapshot!(format!("parsed-{name}"), Parsed { request, response });
    }
}

#[test]
fn fixtures_are_consistent() {
    for c in fixtures() {
        let name = scenario(c);
        assert_eq!(c.version, 1, "{name}");
        assert_eq!(
            c.dialect,
            dashscope_protocol::cassette::Dialect::Native,
            "{name}"
        );
        assert_eq!(c.request.method, "POST", "{name}");
        for k in c.request.headers.keys() {
            assert_eq!(
                k,
                &k.to_ascii_lowercase(),
                "{name}: request header names are lower-case"
            );
            assert_ne!(k, "authorization", "{name}: no credentials in fixtures");
        }
        let source = c.source.as_deref().unwrap_or_default();
        assert!(
            !source.is_empty(),
            "{name}: source says where the bytes come from"
        );
        // The streaming switch is the header, never a body member.
        let body = c.request.body.as_ref().expect("request body");
        assert!(
            body.get("stream").is_none(),
            "{name}: native bodies have no `stream`"
        );
        if c.response.body.is_stream() {
            assert!(
                c.is_stream_request(),
                "{name}: a stream answers an SSE request"
            );
            assert_eq!(
                c.request.headers.get("accept").map(String::as_str),
                Some("text/event-stream"),
                "{name}"
            );
        } else {
            assert!(
                !c.is_stream_request(),
                "{name}: a JSON body answers a non-SSE request"
            );
        }
        // Multimodal requests (and only they) go to the multimodal path.
        let req: GenerationRequest = serde_json::from_value(body.clone()).expect("request parses");
        let expected_path = if req.is_multimodal() {
            MULTIMODAL_GENERATION_PATH
        } else {
            TEXT_GENERATION_PATH
        };
        assert_eq!(
            c.request.path, expected_path,
            "{name}: path follows is_multimodal()"
        );
        assert_eq!(req.path(), expected_path, "{name}");
        // Synthetic fixtures must be self-consistent: request_id == x-request-id, usage totals add up.
        if source.starts_with("synthetic") || source.contains("reconstructed") {
            let header_id = c
                .response
                .header("x-request-id")
                .expect("synthetic fixtures carry x-request-id");
            let mut ids = Vec::new();
            let mut usages = Vec::new();
            match &c.response.body {
                Body::Text(t) => {
                    let r: GenerationResponse = serde_json::from_str(t).expect("body parses");
                    ids.push(r.request_id.clone());
                    usages.extend(r.usage);
                }
                _ => {
                    for ch in chunks_of(c) {
                        ids.push(ch.request_id.clone());
                        usages.extend(ch.usage);
                    }
                }
            }
            for id in ids {
                assert_eq!(
                    id.as_deref(),
                    Some(header_id),
                    "{name}: request_id == x-request-id"
                );
            }
            for u in usages {
                if let (Some(i), Some(o), Some(t)) =
                    (u.input_tokens, u.output_tokens, u.total_tokens)
                {
                    assert_eq!(i + o, t, "{name}: total_tokens = input + output");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Stream events: snapshot and split invariance
// ---------------------------------------------------------------------------------------------

#[test]
fn stream_events_snapshot() {
    let streams = stream_fixtures();
    assert!(
        streams.len() >= 13,
        "found {} stream fixtures",
        streams.len()
    );
    for c in streams {
        let (items, finished) = decode_whole(&c.response.body.to_bytes());
        assert!(
            finished,
            "{}: every recorded stream reaches its end",
            c.name
        );
        assert!(
            !items
                .iter()
                .any(|d| matches!(d, Decoded::BadJson(..) | Decoded::Sse(_))),
            "{}: clean decode",
            c.name
        );
        insta::assert_snapshot!(format!("events-{}", scenario(c)), render(&items, finished));
    }
}

#[test]
fn stream_fixtures_decode_the_same_under_every_single_split() {
    let mut saw_crlf_split = false;
    let mut saw_utf8_split = false;
    for c in stream_fixtures() {
        let bytes = c.response.body.to_bytes();
        let whole = decode_whole(&bytes);
        // Byte by byte.
        assert_eq!(
            decode_pieces(bytes.chunks(1)),
            whole,
            "{}: byte by byte",
            c.name
        );
        // Every single split point: inside every UTF-8 character and between every \r and \n.
        for cut in 0..=bytes.len() {
            saw_crlf_split |= cut > 0 && bytes[cut - 1] == b'\r' && bytes.get(cut) == Some(&b'\n');
            saw_utf8_split |= bytes.get(cut).is_some_and(|b| b & 0xC0 == 0x80);
            let got = decode_pieces([&bytes[..cut], &bytes[cut..]]);
            assert_eq!(got, whole, "{}: split at {cut}", c.name);
        }
    }
    assert!(
        saw_crlf_split,
        "the corpus has a CRLF stream, split between \\r and \\n"
    );
    assert!(
        saw_utf8_split,
        "the corpus has multi-byte characters, split inside them"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn stream_fixtures_decode_the_same_however_split(
        pick in any::<prop::sample::Index>(),
        points in prop::collection::vec(any::<usize>(), 0..24),
    ) {
        let streams = stream_fixtures();
        let c = streams[pick.index(streams.len())];
        let bytes = c.response.body.to_bytes();
        let pieces = split_at_points(&bytes, &points);
        prop_assert_eq!(decode_pieces(pieces.iter().copied()), decode_whole(&bytes), "{}", c.name);
    }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

#[test]
fn malformed_json_names_the_event_index_and_decoding_goes_on() {
    let good = r#"{"output":{"finish_reason":"null","text":"a"},"request_id":"r"}"#;
    let last = r#"{"output":{"finish_reason":"stop","text":"b"},"request_id":"r"}"#;
    let stream = format!(
        "id:1\nevent:result\n:HTTP_STATUS/200\ndata:{good}\n\n\
         id:2\nevent:result\n:HTTP_STATUS/200\ndata:{{\"output\":{{\"text\":\"x\"\n\n\
         id:3\nevent:result\n:HTTP_STATUS/200\ndata:{{\"output\":{{\"choices\":\"not a list\"}}}}\n\n\
         id:4\nevent:result\n:HTTP_STATUS/200\ndata:{last}\n\n"
    );
    let (items, finished) = decode_whole(stream.as_bytes());
    assert_eq!(items.len(), 4, "{items:?}");
    assert!(
        matches!(&items[0], Decoded::Item(0, StreamItem::Chunk(c)) if c.text().as_deref() == Some("a"))
    );
    assert!(
        matches!(&items[1], Decoded::BadJson(1, m) if m.starts_with("stream event #1:")),
        "{:?}",
        items[1]
    );
    assert!(
        matches!(&items[2], Decoded::BadJson(2, m) if m.starts_with("stream event #2:")),
        "{:?}",
        items[2]
    );
    assert!(
        matches!(&items[3], Decoded::Item(3, StreamItem::Chunk(c)) if c.text().as_deref() == Some("b"))
    );
    assert!(finished);

    // The error itself carries the index and a bounded excerpt of the data.
    let mut sse = Decoder::with_mode(Mode::DataLineIsEvent);
    sse.feed(b"id:1\nevent:result\ndata:{\"output\":\nid:2\nevent:result\ndata:[1,2\n");
    sse.finish();
    let mut native = NativeStreamDecoder::new();
    let mut errors = Vec::new();
    while let Some(ev) = sse.next_event() {
        let ev = ev.expect("valid SSE");
        if let Err(e) = native.decode(&ev) {
            errors.push((e.index, e.excerpt.clone()));
        }
    }
    assert_eq!(
        errors,
        [(0, "{\"output\":".to_owned()), (1, "[1,2".to_owned())]
    );
    assert!(!native.is_finished());
}

#[test]
fn event_error_becomes_a_stream_error() {
    let c = fixture("error-invalid-parameter-sse");
    let (items, finished) = decode_whole(&c.response.body.to_bytes());
    assert_eq!(items.len(), 1);
    let Decoded::Item(0, StreamItem::Error(e)) = &items[0] else {
        panic!("expected an error item, got {items:?}");
    };
    assert_eq!(e.code.as_deref(), Some("InvalidParameter"));
    assert_eq!(
        e.status,
        Some(400),
        "the frame's :HTTP_STATUS/400, not the envelope's 200"
    );
    assert_eq!(
        e.request_id.as_deref(),
        Some("7671ecd8-93cc-9ee9-bc89-739f0fd8b809")
    );
    assert!(e.message.starts_with("Role must be user or assistant"));
    assert!(finished, "an error frame ends the stream");
}

#[test]
fn a_chunk_with_a_top_level_code_is_an_error() {
    let stream = "id:1\nevent:result\n:HTTP_STATUS/200\ndata:{\"code\":\"Throttling.RateQuota\",\"message\":\"Requests rate limit exceeded\",\"request_id\":\"q\"}\n\n";
    let (items, finished) = decode_whole(stream.as_bytes());
    let [Decoded::Item(0, StreamItem::Error(e))] = items.as_slice() else {
        panic!("expected one error, got {items:?}");
    };
    assert_eq!(e.code.as_deref(), Some("Throttling.RateQuota"));
    assert_eq!(e.status, Some(200));
    assert!(finished);

    // An empty code is not an error.
    let stream = "id:1\nevent:result\ndata:{\"code\":\"\",\"output\":{\"finish_reason\":\"stop\",\"text\":\"ok\"}}\n";
    let (items, _) = decode_whole(stream.as_bytes());
    assert!(
        matches!(&items[..], [Decoded::Item(0, StreamItem::Chunk(c))] if c.text().as_deref() == Some("ok"))
    );
}

#[test]
fn non_stream_error_bodies_become_api_errors() {
    for (scenario_name, status, code) in [
        ("error-invalid-api-key", 401, "InvalidApiKey"),
        ("error-invalid-parameter", 400, "InvalidParameter"),
        ("error-async-not-supported", 403, "AccessDenied"),
    ] {
        let c = fixture(scenario_name);
        assert_eq!(c.response.status, status);
        let body: ErrorBody = serde_json::from_str(body_text(c)).expect("error body");
        let e = body.to_api_error(Some(status));
        assert_eq!(e.code.as_deref(), Some(code));
        assert_eq!(e.status, Some(status));
        assert!(e.request_id.is_some(), "{scenario_name}: request_id");
        if let Some(header) = c.response.header("x-request-id") {
            assert_eq!(
                e.request_id.as_deref(),
                Some(header),
                "{scenario_name}: request_id == x-request-id"
            );
        }
        // Read as a response, the same body reports the error through `code`.
        let as_response: GenerationResponse = serde_json::from_str(body_text(c)).expect("parses");
        assert_eq!(
            as_response.error(Some(status)).and_then(|e| e.code),
            Some(code.to_owned())
        );
    }
    let ok: GenerationResponse =
        serde_json::from_str(body_text(fixture("text-prompt"))).expect("parses");
    assert!(ok.error(Some(200)).is_none());
}

// ---------------------------------------------------------------------------------------------
// Accumulation
// ---------------------------------------------------------------------------------------------

fn request_of(c: &Cassette) -> GenerationRequest {
    serde_json::from_value(c.request.body.clone().expect("request body")).expect("request parses")
}

fn accumulate_fixture(c: &Cassette) -> GenerationResponse {
    let mut acc = NativeAccumulator::for_request(&request_of(c));
    for ch in chunks_of(c) {
        acc.push(&ch);
    }
    acc.finish()
}

#[test]
fn accumulated_streams_equal_their_non_stream_twins() {
    let twins: Vec<&Cassette> = fixtures()
        .iter()
        .filter(|c| c.name.ends_with("-twin"))
        .collect();
    assert!(twins.len() >= 4, "found {} twins", twins.len());
    for twin in twins {
        let stream = fixture(scenario(twin).trim_end_matches("-twin"));
        assert!(
            stream.response.body.is_stream(),
            "{} is a stream",
            stream.name
        );
        let want: GenerationResponse = serde_json::from_str(body_text(twin)).expect("twin parses");
        let got = accumulate_fixture(stream);
        let what = &stream.name;
        assert!(
            want.text().is_some() || !want.tool_calls().is_empty(),
            "{what}: the twin has an answer"
        );
        assert_eq!(got.text(), want.text(), "{what}: text");
        assert_eq!(got.reasoning(), want.reasoning(), "{what}: reasoning");
        assert_eq!(
            got.tool_calls(),
            want.tool_calls(),
            "{what}: tool calls (id, name, arguments)"
        );
        assert_eq!(
            got.finish_reason(),
            want.finish_reason(),
            "{what}: finish reason"
        );
        assert!(got.finish_reason().is_some(), "{what}: finished");
        assert_eq!(got.usage, want.usage, "{what}: usage");
        assert_eq!(
            got.message().map(|m| (&m.role, &m.content)),
            want.message().map(|m| (&m.role, &m.content)),
            "{what}: role and content shape"
        );
        assert_eq!(
            got.output.as_ref().map(|o| &o.text),
            want.output.as_ref().map(|o| &o.text),
            "{what}"
        );
    }
}

#[test]
fn parallel_tool_calls_are_merged_by_index() {
    let got = accumulate_fixture(fixture("parallel-tools-sse"));
    let calls = got.tool_calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].id.as_deref(), Some("call_29a870e7106f45deb8add3"));
    assert_eq!(calls[0].name(), Some("get_current_weather"));
    assert_eq!(
        calls[0].arguments(),
        Some(r#"{"location": "浙江省杭州市"}"#)
    );
    assert_eq!(calls[1].id.as_deref(), Some("call_026e44bb31a74266949a20"));
    assert_eq!(calls[1].arguments(), Some(r#"{"location": "上海市"}"#));
    assert_eq!(got.finish_reason(), Some(&FinishReason::ToolCalls));

    // Multimodal + thinking: `content: []` throughout, a fragment with `arguments: ""` for call 0
    // in the same chunk as call 1's first fragment, and the last fragment on the finish chunk.
    let got = accumulate_fixture(fixture("vl-thinking-parallel-tools-sse"));
    let calls = got.tool_calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[0].id.as_deref(),
        Some("call_aa99ad078f294a3d81da41d7")
    );
    assert_eq!(
        calls[0].arguments(),
        Some(r#"{"location": "浙江省杭州市"}"#)
    );
    assert_eq!(
        calls[1].id.as_deref(),
        Some("call_aa8b6311567847e197e6ca7f")
    );
    assert_eq!(calls[1].name(), Some("get_current_weather"));
    assert_eq!(calls[1].arguments(), Some(r#"{"location": "上海市"}"#));
    assert_eq!(
        got.message().and_then(|m| m.content.clone()),
        Some(Content::Parts(vec![]))
    );
    assert_eq!(
        got.reasoning(),
        Some("用户"),
        "the recorded (non-elided) reasoning"
    );
    assert_eq!(got.usage.and_then(|u| u.output_tokens), Some(103));
}

#[test]
fn reasoning_and_text_are_concatenated() {
    let got = accumulate_fixture(fixture("reasoning-sse"));
    assert_eq!(got.reasoning(), Some("嗯+1是多少"));
    assert_eq!(got.text().as_deref(), Some("1+1！😊"));
    assert_eq!(got.finish_reason(), Some(&FinishReason::Stop));
    let got = accumulate_fixture(fixture("vl-image-sse"));
    assert_eq!(got.text().as_deref(), Some("这是一个海滩和其他访客。"));
    assert_eq!(
        got.message().and_then(|m| m.content.clone()),
        Some(Content::Parts(vec![ContentItem::text(
            "这是一个海滩和其他访客。"
        )]))
    );
    let got = accumulate_fixture(fixture("text-sse-crlf"));
    assert_eq!(got.text().as_deref(), Some("1+1等于2。"));
}

#[test]
fn search_info_is_kept_from_the_chunk_with_results() {
    let got = accumulate_fixture(fixture("search-sse"));
    let info = got
        .output
        .as_ref()
        .and_then(|o| o.search_info.as_ref())
        .expect("search_info");
    let results = info.search_results.as_deref().unwrap_or_default();
    assert_eq!(results.len(), 2);
    assert_eq!(
        results[0].site_name.as_deref(),
        Some("厦门时空科技有限公司")
    );
    let usage = got.usage.clone().expect("usage");
    assert_eq!(usage.total_tokens, Some(810));
    assert_eq!(
        usage
            .plugins
            .and_then(|p| p.search)
            .map(|s| (s.count, s.strategy)),
        Some((Some(1), Some(SearchStrategy::Standard)))
    );
    assert_eq!(got.text().as_deref(), Some("根据"));
}

#[test]
fn cumulative_mode_does_not_duplicate_text() {
    let c = fixture("cumulative-sse");
    let req = request_of(c);
    assert!(!req.is_incremental());
    let chunks = chunks_of(c);
    let mut acc = NativeAccumulator::for_request(&req);
    assert!(!acc.is_incremental());
    for ch in &chunks {
        acc.push(ch);
    }
    let got = acc.finish();
    assert_eq!(got.text().as_deref(), Some("我爱吃苹果，因为它又脆又甜。"));

    // Read as deltas, the same chunks would duplicate: the modes really differ.
    let wrong = dashscope_protocol::native::accumulate(true, &chunks);
    assert_ne!(wrong.text(), got.text());

    // Turned into deltas, they accumulate incrementally to the same answer.
    let mut to_delta = CumulativeToDelta::new();
    let deltas: Vec<GenerationResponse> = chunks.iter().map(|c| to_delta.delta(c)).collect();
    let texts: Vec<String> = deltas
        .iter()
        .map(|d| d.text().unwrap_or_default().into_owned())
        .collect();
    assert_eq!(texts, ["我爱", "吃", "苹果", "，因为它又脆又甜。", ""]);
    let again = dashscope_protocol::native::accumulate(true, &deltas);
    assert_eq!(again.text(), got.text());
    assert_eq!(again.usage, got.usage);
    assert_eq!(again.finish_reason(), Some(&FinishReason::Stop));
}

#[test]
fn cumulative_tool_calls_reasoning_and_lists_are_not_duplicated() {
    // Cumulative versions of a reasoning + list content + tool call stream.
    let chunks: Vec<GenerationResponse> = [
        json!({"output":{"choices":[{"message":{"role":"assistant","content":[],"reasoning_content":"想"},"finish_reason":"null"}]}}),
        json!({"output":{"choices":[{"message":{"role":"assistant","content":[{"text":"好"}],"reasoning_content":"想想",
            "tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\""}}]},"finish_reason":"null"}]}}),
        json!({"output":{"choices":[{"message":{"role":"assistant","content":[{"text":"好的"}],"reasoning_content":"想想",
            "tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls"}]},
            "usage":{"output_tokens":9}}),
    ]
    .into_iter()
    .map(|v| serde_json::from_value(v).expect("chunk"))
    .collect();
    let got = dashscope_protocol::native::accumulate(false, &chunks);
    assert_eq!(got.reasoning(), Some("想想"));
    assert_eq!(got.text().as_deref(), Some("好的"));
    assert_eq!(
        got.tool_calls(),
        [ToolCall {
            index: Some(0),
            ..ToolCall::function("call_1", "f", r#"{"a":1}"#)
        }]
    );

    let mut to_delta = CumulativeToDelta::new();
    let deltas: Vec<GenerationResponse> = chunks.iter().map(|c| to_delta.delta(c)).collect();
    let frags: Vec<(Option<String>, Option<String>, Option<String>)> = deltas
        .iter()
        .flat_map(|d| d.tool_calls().to_vec())
        .map(|t| {
            (
                t.id.clone(),
                t.name().map(str::to_owned),
                t.arguments().map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(
        frags,
        [
            (
                Some("call_1".to_owned()),
                Some("f".to_owned()),
                Some("{\"a\"".to_owned())
            ),
            (Some(String::new()), None, Some(":1}".to_owned())),
        ],
        "the id and name appear once, the arguments only grow"
    );
    let again = dashscope_protocol::native::accumulate(true, &deltas);
    assert_eq!(again.reasoning(), got.reasoning());
    assert_eq!(again.text(), got.text());
    assert_eq!(again.tool_calls(), got.tool_calls());
}

#[test]
fn snapshot_mid_stream_holds_what_arrived() {
    let c = fixture("parallel-tools-sse");
    let chunks = chunks_of(c);
    let mut acc = NativeAccumulator::incremental();
    for ch in &chunks[..3] {
        acc.push(ch);
    }
    let partial = acc.snapshot();
    let calls = partial.tool_calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[0].arguments(),
        Some(r#"{"location": "浙江省杭州市"}"#)
    );
    assert_eq!(calls[1].id.as_deref(), Some("call_026e44bb31a74266949a20"));
    assert_eq!(calls[1].arguments(), Some(r#"{"location":"#));
    assert_eq!(partial.finish_reason(), None, "not finished yet");
    assert_eq!(
        partial.first_choice().and_then(|c| c.finish_reason.clone()),
        Some(FinishReason::Null)
    );
    assert_eq!(
        partial.usage.as_ref().and_then(|u| u.output_tokens),
        Some(34)
    );
    // The accumulator keeps going after a snapshot.
    acc.push(&chunks[3]);
    assert_eq!(
        acc.snapshot().tool_calls()[1].arguments(),
        Some(r#"{"location": "上海市"}"#)
    );

    let c = fixture("text-sse");
    let chunks = chunks_of(c);
    let mut acc = NativeAccumulator::incremental();
    assert_eq!(acc.snapshot().output, None, "nothing arrived yet");
    acc.push(&chunks[0]);
    acc.push(&chunks[1]);
    let partial = acc.snapshot();
    assert_eq!(partial.text().as_deref(), Some("1+1"));
    assert_eq!(
        partial.request_id.as_deref(),
        Some("5b441aa7-0b9c-9fbc-ae0a-e2b212b71eac")
    );
}

#[test]
fn logprobs_are_concatenated() {
    let chunks: Vec<GenerationResponse> = [
        json!({"output":{"choices":[{"message":{"role":"assistant","content":"1"},"finish_reason":"null",
            "logprobs":{"content":[{"token":"1","bytes":[49],"logprob":-0.5,"top_logprobs":[]}]}}]}}),
        json!({"output":{"choices":[{"message":{"role":"assistant","content":"2"},"finish_reason":"stop",
            "logprobs":{"content":[{"token":"2","bytes":[50],"logprob":0.0,"top_logprobs":[]}]}}]}}),
    ]
    .into_iter()
    .map(|v| serde_json::from_value(v).expect("chunk"))
    .collect();
    let got = dashscope_protocol::native::accumulate(true, &chunks);
    let tokens: Vec<&str> = got
        .first_choice()
        .and_then(|c| c.logprobs.as_ref())
        .and_then(|l| l.content.as_deref())
        .unwrap_or_default()
        .iter()
        .filter_map(|t| t.token.as_deref())
        .collect();
    assert_eq!(tokens, ["1", "2"]);
    assert_eq!(got.text().as_deref(), Some("12"));
}

// ---------------------------------------------------------------------------------------------
// Forward compatibility
// ---------------------------------------------------------------------------------------------

#[test]
fn a_chunk_with_unknown_members_survives_a_round_trip() {
    let text = r#"{"output":{"choices":[{"message":{"content":"x","role":"assistant","audio":{"id":"a1","data":"UklG"}},"finish_reason":"null","index":0,"stop_reason":null}],"brand_new":[1,{"deep":true}]},"usage":{"input_tokens":1,"future_tokens":5,"prompt_tokens_details":{"cache_type":"implicit"}},"request_id":"r","trace":{"a":null}}"#;
    let chunk: GenerationResponse = round_trip("unknown members", text);
    assert_eq!(chunk.extra["trace"], json!({"a": null}));
    let output = chunk.output.as_ref().expect("output");
    assert_eq!(output.extra["brand_new"], json!([1, {"deep": true}]));
    assert_eq!(chunk.message().expect("message").extra["audio"]["id"], "a1");
    assert_eq!(
        chunk.usage.as_ref().expect("usage").extra["future_tokens"],
        5
    );
    // Through the stream decoder and the accumulator, unknown members are kept as well.
    let stream = format!("id:1\nevent:result\n:HTTP_STATUS/200\ndata:{text}\n");
    let (items, _) = decode_whole(stream.as_bytes());
    let [Decoded::Item(0, StreamItem::Chunk(decoded))] = items.as_slice() else {
        panic!("{items:?}");
    };
    assert_eq!(decoded, &chunk);
    let acc = dashscope_protocol::native::accumulate(true, [decoded]);
    assert_eq!(acc.extra["trace"], json!({"a": null}));
    assert_eq!(acc.message().expect("message").extra["audio"]["id"], "a1");
}

#[test]
fn an_unknown_finish_reason_is_unknown_and_final() {
    let text = r#"{"output":{"choices":[{"message":{"content":"","role":"assistant"},"finish_reason":"out_of_coffee"}]}}"#;
    let chunk: GenerationResponse = round_trip("unknown finish_reason", text);
    let f = chunk.finish_reason().expect("a finish reason");
    assert_eq!(f, &FinishReason::Unknown("out_of_coffee".to_owned()));
    assert!(f.is_final());
    let (_, finished) = decode_whole(format!("id:1\nevent:result\ndata:{text}\n").as_bytes());
    assert!(finished, "an unknown finish reason still ends the stream");
    // The string "null" and a JSON null are not finished.
    for text in [
        r#"{"output":{"finish_reason":"null","text":"a"}}"#,
        r#"{"output":{"finish_reason":null,"text":"a"}}"#,
        r#"{"output":{"choices":[{"finish_reason":"null"},{"finish_reason":null}]}}"#,
    ] {
        let chunk: GenerationResponse = round_trip("not finished", text);
        assert_eq!(chunk.finish_reason(), None, "{text}");
        let (_, finished) = decode_whole(format!("data:{text}\n").as_bytes());
        assert!(!finished, "{text}");
    }
    // Any choice finishing ends the stream.
    let text = r#"{"output":{"choices":[{"index":0,"finish_reason":"null"},{"index":1,"finish_reason":"length"}]}}"#;
    let (_, finished) = decode_whole(format!("data:{text}\n").as_bytes());
    assert!(finished);
}

// ---------------------------------------------------------------------------------------------
// Requests: ergonomics and arbitrary round trips
// ---------------------------------------------------------------------------------------------

#[test]
fn builders_produce_the_recorded_shapes() {
    // N14's request, built.
    let req = GenerationRequest::new(
        "qwen-vl-plus",
        vec![
            Message::system_multimodal(vec![ContentItem::text("You are a helpful assistant.")]),
            Message::user_multimodal(vec![
                ContentItem::image(
                    "https://dashscope.oss-cn-beijing.aliyuncs.com/images/dog_and_girl.jpeg",
                ),
                ContentItem::text("这个图片是哪里，请用简短的语言回答"),
            ]),
        ],
    )
    .seed(1234)
    .top_k(100)
    .top_p(0.81)
    .vl_high_resolution_images(true)
    .temperature(1.1)
    .repetition_penalty(1.3)
    .presence_penalty(1.2)
    .stop("你好");
    assert!(req.is_multimodal());
    assert_eq!(req.path(), MULTIMODAL_GENERATION_PATH);
    assert_eq!(
        serde_json::to_value(&req).expect("json"),
        fixture("vl-image").request.body.clone().expect("body")
    );

    // N9's request (tool results), built.
    let weather = Tool::function(
        "get_current_weather",
        "获取现在的天气",
        json!({"type":"object","properties":{"location":{"type":"string","description":"要获取天气的省市名称，例如浙江省杭州市"}},"required":["location"]}),
    );
    let call = |i: u32, id: &str, city: &str| ToolCall {
        index: Some(i),
        ..ToolCall::function(
            id,
            "get_current_weather",
            format!("{{\"location\": \"{city}\"}}"),
        )
    };
    let req = GenerationRequest::new(
        "qwen-plus",
        vec![
            Message::user("杭州上海现在的天气如何？"),
            Message::assistant_tool_calls(vec![
                call(0, "call_cec4c19d27624537b583af", "浙江省杭州市"),
                call(1, "call_dxjdop3d27624537b583af", "上海市"),
            ]),
            Message::tool_result(
                "call_cec4c19d27624537b583af",
                "浙江省杭州市 大部多云，摄氏 18 度",
            ),
            Message::tool_result(
                "call_dxjdop3d27624537b583af",
                "上海市 多云转小雨，摄氏 19 度",
            ),
        ],
    )
    .result_format(ResultFormat::Message)
    .seed(6999)
    .incremental_output(true)
    .tools(vec![weather])
    .parallel_tool_calls(true);
    assert!(!req.is_multimodal());
    // Key order differs (`function` before `id` in the recording): compare values.
    assert_eq!(
        serde_json::to_value(&req).expect("json"),
        fixture("tool-results-sse")
            .request
            .body
            .clone()
            .expect("body")
    );

    // N1's prompt request, built.
    let req = GenerationRequest::prompt("qwen-max", "请问 1+1 是多少？")
        .result_format(ResultFormat::Text)
        .seed(1234)
        .max_tokens(1500)
        .top_p(0.8)
        .top_k(100)
        .repetition_penalty(1.1)
        .temperature(0.85)
        .stop(vec![vec![37763, 367]])
        .enable_search(false)
        .incremental_output(false);
    assert_eq!(
        serde_json::to_value(&req).expect("json"),
        fixture("text-prompt").request.body.clone().expect("body")
    );

    // Partial mode, a forced tool choice, video frames.
    let prefix = Message::assistant_prefix("春天来了，大地");
    assert_eq!(
        serde_json::to_value(&prefix).expect("json"),
        json!({"role":"assistant","content":"春天来了，大地","partial":true})
    );
    assert_eq!(
        serde_json::to_value(ToolChoice::function("get_current_weather")).expect("json"),
        json!({"type":"function","function":{"name":"get_current_weather"}})
    );
    let video = ContentItem {
        fps: Some(2.into()),
        ..ContentItem::video_frames(["a.jpg", "b.jpg"])
    };
    assert_eq!(
        serde_json::to_value(&video).expect("json"),
        json!({"video":["a.jpg","b.jpg"],"fps":2})
    );
    assert!(video.is_media());
    assert!(!ContentItem::text("t").is_media());
    assert!(
        GenerationRequest::new(
            "m",
            vec![Message::user_multimodal(vec![ContentItem::text("t")])]
        )
        .path()
            == TEXT_GENERATION_PATH
    );
}

fn small_string() -> impl Strategy<Value = String> {
    "[a-z0-9 _你好😊\"\\\\\n]{0,8}"
}

fn float() -> impl Strategy<Value = serde_json::Number> {
    prop_oneof![
        (-2i64..20).prop_map(serde_json::Number::from),
        (-2000i32..20000).prop_filter_map("finite", |n| serde_json::Number::from_f64(
            f64::from(n) / 1000.0
        )),
    ]
}

fn json_value() -> BoxedStrategy<Value> {
    json_value_unboxed().boxed()
}

fn json_value_unboxed() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        small_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A JSON value that is not `null` (an `Option<Value>` member holding `null` reads back as absent).
fn non_null_value() -> impl Strategy<Value = Value> {
    json_value().prop_filter("not null", |v| !v.is_null())
}

fn json_object() -> impl Strategy<Value = Value> {
    prop::collection::btree_map("[a-z]{1,4}", json_value(), 0..3)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

/// Unknown members (their names never collide with known ones).
fn extra() -> impl Strategy<Value = Extra> {
    prop::collection::btree_map("x_[a-z]{1,4}", json_value(), 0..2)
        .prop_map(|m| m.into_iter().collect())
}

fn opt<S: Strategy>(s: S) -> impl Strategy<Value = Option<S::Value>> {
    prop::option::of(s)
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![
        Just(Role::System),
        Just(Role::User),
        Just(Role::Assistant),
        Just(Role::Tool),
        "[a-z]{1,6}".prop_map(Role::from),
    ]
}

fn content_item() -> BoxedStrategy<ContentItem> {
    content_item_unboxed().boxed()
}

fn content_item_unboxed() -> impl Strategy<Value = ContentItem> {
    (
        (
            opt(small_string()),
            opt(small_string()),
            opt(small_string()),
        ),
        opt(prop_oneof![
            small_string().prop_map(VideoSource::Url),
            prop::collection::vec(small_string(), 0..3).prop_map(VideoSource::Frames),
        ]),
        (
            opt(any::<u64>()),
            opt(any::<u64>()),
            opt(float()),
            opt(any::<u64>()),
        ),
        opt(
            (opt(small_string()), extra()).prop_map(|(kind, extra)| CacheControl {
                kind: kind.map(Into::into),
                extra,
                nulls: Default::default(),
            }),
        ),
        extra(),
    )
        .prop_map(
            |(
                (text, image, audio),
                video,
                (min_pixels, max_pixels, fps, total_pixels),
                cache_control,
                extra,
            )| {
                ContentItem {
                    text,
                    image,
                    audio,
                    video,
                    min_pixels,
                    max_pixels,
                    fps,
                    total_pixels,
                    cache_control,
                    extra,
                    nulls: Default::default(),
                }
            },
        )
}

fn content() -> BoxedStrategy<Content> {
    content_unboxed().boxed()
}

fn content_unboxed() -> impl Strategy<Value = Content> {
    prop_oneof![
        small_string().prop_map(Content::Text),
        prop::collection::vec(content_item(), 0..3).prop_map(Content::Parts),
        prop_oneof![
            json_object(),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from)
        ]
        .prop_map(Content::Unknown),
    ]
}

fn tool_call() -> BoxedStrategy<ToolCall> {
    tool_call_unboxed().boxed()
}

fn tool_call_unboxed() -> impl Strategy<Value = ToolCall> {
    (
        opt(any::<u32>()),
        opt(small_string()),
        opt(small_string()),
        opt(
            (opt(small_string()), opt(small_string()), extra()).prop_map(
                |(name, arguments, extra)| FunctionCall {
                    name,
                    arguments,
                    extra,
                    nulls: Default::default(),
                },
            ),
        ),
        extra(),
    )
        .prop_map(|(index, id, kind, function, extra)| ToolCall {
            index,
            id,
            kind: kind.map(Into::into),
            function,
            extra,
            nulls: Default::default(),
        })
}

fn message() -> BoxedStrategy<Message> {
    message_unboxed().boxed()
}

fn message_unboxed() -> impl Strategy<Value = Message> {
    (
        opt(role()),
        opt(content()),
        opt(small_string()),
        opt(prop::collection::vec(tool_call(), 0..3)),
        opt(any::<bool>()),
        opt(small_string()),
        opt(small_string()),
        extra(),
    )
        .prop_map(
            |(role, content, reasoning_content, tool_calls, partial, tool_call_id, name, extra)| {
                Message {
                    role,
                    content,
                    reasoning_content,
                    tool_calls,
                    partial,
                    tool_call_id,
                    name,
                    extra,
                    nulls: Default::default(),
                }
            },
        )
}

fn stop() -> BoxedStrategy<Stop> {
    stop_unboxed().boxed()
}

fn stop_unboxed() -> impl Strategy<Value = Stop> {
    prop_oneof![
        small_string().prop_map(Stop::Text),
        prop::collection::vec(small_string(), 1..3).prop_map(Stop::Texts),
        prop::collection::vec(any::<i64>(), 1..3).prop_map(Stop::Tokens),
        prop::collection::vec(prop::collection::vec(any::<i64>(), 0..3), 1..3)
            .prop_map(Stop::TokenSequences),
        json_object().prop_map(Stop::Unknown),
    ]
}

fn tool() -> BoxedStrategy<Tool> {
    tool_unboxed().boxed()
}

fn tool_unboxed() -> impl Strategy<Value = Tool> {
    prop_oneof![
        (
            small_string(),
            opt(small_string()),
            opt(non_null_value()),
            opt(any::<bool>()),
            extra(),
            extra()
        )
            .prop_map(|(name, description, parameters, strict, fextra, extra)| {
                Tool::Function(FunctionTool {
                    function: FunctionDefinition {
                        name,
                        description,
                        parameters,
                        strict,
                        extra: fextra,
                        nulls: Default::default(),
                    },
                    extra,
                    nulls: Default::default(),
                })
            }),
        json_value().prop_map(|v| Tool::Unknown(json!({"type": "retrieval", "x": v}))),
    ]
}

fn tool_choice() -> BoxedStrategy<ToolChoice> {
    tool_choice_unboxed().boxed()
}

fn tool_choice_unboxed() -> impl Strategy<Value = ToolChoice> {
    prop_oneof![
        prop_oneof![
            Just(ToolChoiceMode::Auto),
            Just(ToolChoiceMode::None),
            Just(ToolChoiceMode::Required),
            "[a-z]{0,6}".prop_map(ToolChoiceMode::from),
        ]
        .prop_map(ToolChoice::Mode),
        (
            opt(small_string()),
            opt(
                (small_string(), extra()).prop_map(|(name, extra)| FunctionName {
                    name,
                    extra,
                    nulls: Default::default(),
                })
            ),
            extra()
        )
            .prop_map(
                |(kind, function, extra)| ToolChoice::Function(NamedToolChoice {
                    kind: kind.map(Into::into),
                    function,
                    extra,
                    nulls: Default::default(),
                })
            ),
    ]
}

fn search_options() -> BoxedStrategy<SearchOptions> {
    search_options_unboxed().boxed()
}

fn search_options_unboxed() -> impl Strategy<Value = SearchOptions> {
    (
        (
            opt(any::<bool>()),
            opt(any::<bool>()),
            opt(small_string()),
            opt(any::<bool>()),
        ),
        opt(prop_oneof![
            Just(SearchStrategy::Turbo),
            Just(SearchStrategy::Max),
            "[a-z]{1,6}".prop_map(SearchStrategy::from)
        ]),
        (opt(any::<bool>()), opt(any::<bool>()), extra()),
    )
        .prop_map(
            |(
                (enable_source, enable_citation, citation_format, forced_search),
                search_strategy,
                (enable_search_extension, prepend_search_result, extra),
            )| SearchOptions {
                enable_source,
                enable_citation,
                citation_format,
                forced_search,
                search_strategy,
                enable_search_extension,
                prepend_search_result,
                extra,
                nulls: Default::default(),
            },
        )
}

fn response_format() -> BoxedStrategy<ResponseFormat> {
    response_format_unboxed().boxed()
}

fn response_format_unboxed() -> impl Strategy<Value = ResponseFormat> {
    prop_oneof![
        extra().prop_map(|extra| ResponseFormat::Text(TextFormat {
            extra,
            nulls: Default::default(),
        })),
        extra().prop_map(|extra| ResponseFormat::JsonObject(JsonObjectFormat {
            extra,
            nulls: Default::default(),
        })),
        (
            opt(small_string()),
            opt(small_string()),
            opt(non_null_value()),
            opt(any::<bool>()),
            extra(),
            extra()
        )
            .prop_map(|(name, description, schema, strict, sextra, extra)| {
                ResponseFormat::JsonSchema(JsonSchemaFormat {
                    json_schema: JsonSchemaSpec {
                        name,
                        description,
                        schema,
                        strict,
                        extra: sextra,
                        nulls: Default::default(),
                    },
                    extra,
                    nulls: Default::default(),
                })
            }),
        json_value().prop_map(|v| ResponseFormat::Unknown(json!({"type": "x_format", "v": v}))),
    ]
}

fn parameters() -> BoxedStrategy<Parameters> {
    parameters_unboxed().boxed()
}

fn parameters_unboxed() -> impl Strategy<Value = Parameters> {
    let sampling = (
        opt(prop_oneof![
            Just(ResultFormat::Text),
            Just(ResultFormat::Message),
            "[a-z]{1,5}".prop_map(ResultFormat::from)
        ]),
        opt(any::<bool>()),
        opt(any::<bool>()),
        opt(any::<u32>()),
        opt(prop_oneof![
            Just(ReasoningEffort::Low),
            Just(ReasoningEffort::XHigh),
            "[a-z]{1,5}".prop_map(ReasoningEffort::from)
        ]),
        opt(float()),
        opt(float()),
        opt(any::<u32>()),
        opt(float()),
        opt(float()),
    );
    let limits = (
        opt(any::<u32>()),
        opt(any::<u32>()),
        opt(any::<u64>()),
        opt(stop()),
    );
    let tools = (
        opt(prop::collection::vec(tool(), 0..3)),
        opt(tool_choice()),
        opt(any::<bool>()),
        opt(any::<bool>()),
        opt(search_options()),
        opt(response_format()),
    );
    let misc = (
        opt(any::<u32>()),
        opt(any::<bool>()),
        opt(any::<u32>()),
        opt(any::<bool>()),
        opt(any::<bool>()),
        opt(prop::collection::vec(
            "[a-z]{1,5}".prop_map(|m| dashscope_protocol::native::Modality::from(m.as_str())),
            0..3,
        )),
        extra(),
    );
    (sampling, limits, tools, misc).prop_map(
        |(
            (
                result_format,
                incremental_output,
                enable_thinking,
                thinking_budget,
                reasoning_effort,
                temperature,
                top_p,
                top_k,
                repetition_penalty,
                presence_penalty,
            ),
            (max_tokens, max_completion_tokens, seed, stop),
            (
                tools,
                tool_choice,
                parallel_tool_calls,
                enable_search,
                search_options,
                response_format,
            ),
            (
                n,
                logprobs,
                top_logprobs,
                enable_code_interpreter,
                vl_high_resolution_images,
                modalities,
                extra,
            ),
        )| Parameters {
            result_format,
            incremental_output,
            enable_thinking,
            thinking_budget,
            reasoning_effort,
            temperature,
            top_p,
            top_k,
            repetition_penalty,
            presence_penalty,
            max_tokens,
            max_completion_tokens,
            seed,
            stop,
            tools,
            tool_choice,
            parallel_tool_calls,
            enable_search,
            search_options,
            response_format,
            n,
            logprobs,
            top_logprobs,
            enable_code_interpreter,
            vl_high_resolution_images,
            modalities,
            extra,
            nulls: Default::default(),
        },
    )
}

fn request() -> BoxedStrategy<GenerationRequest> {
    request_unboxed().boxed()
}

fn request_unboxed() -> impl Strategy<Value = GenerationRequest> {
    (
        small_string(),
        opt(prop::collection::vec(message(), 0..4)),
        opt(small_string()),
        extra(),
        opt(parameters()),
        extra(),
    )
        .prop_map(
            |(model, messages, prompt, input_extra, parameters, extra)| GenerationRequest {
                model,
                input: Input {
                    messages,
                    prompt,
                    extra: input_extra,
                    nulls: Default::default(),
                },
                parameters,
                extra,
                nulls: Default::default(),
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn requests_round_trip_through_json(req in request()) {
        let text = serde_json::to_string(&req).expect("serializes");
        let back: GenerationRequest = serde_json::from_str(&text).expect("parses");
        prop_assert_eq!(&back, &req);
        // And the JSON value is stable.
        let value = serde_json::to_value(&req).expect("serializes");
        let again: GenerationRequest = serde_json::from_value(value.clone()).expect("parses from a value");
        prop_assert_eq!(serde_json::to_value(&again).expect("serializes"), value);
    }

    #[test]
    fn messages_and_parameters_round_trip_alone(m in message(), p in parameters()) {
        let back: Message = serde_json::from_str(&serde_json::to_string(&m).expect("json")).expect("parses");
        prop_assert_eq!(back, m);
        let back: Parameters = serde_json::from_str(&serde_json::to_string(&p).expect("json")).expect("parses");
        prop_assert_eq!(back, p);
    }
}

#[test]
fn every_parameter_has_a_setter_on_parameters_and_on_the_request() {
    let params = Parameters::default()
        .result_format(ResultFormat::Message)
        .incremental_output(true)
        .enable_thinking(true)
        .thinking_budget(500)
        .reasoning_effort(ReasoningEffort::Low)
        .temperature(0.5)
        .top_p(0.9)
        .top_k(10)
        .repetition_penalty(1.1)
        .presence_penalty(0.2)
        .max_tokens(64)
        .max_completion_tokens(128)
        .seed(7)
        .stop(vec![vec![37763, 367]])
        .tools(vec![Tool::function("f", "d", json!({"type": "object"}))])
        .tool_choice(ToolChoice::function("f"))
        .parallel_tool_calls(false)
        .enable_search(true)
        .search_options(SearchOptions::default())
        .response_format(ResponseFormat::text())
        .n(1)
        .logprobs(true)
        .top_logprobs(2)
        .enable_code_interpreter(false)
        .vl_high_resolution_images(true)
        .modalities(vec![dashscope_protocol::native::Modality::Text]);
    let v = serde_json::to_value(&params).unwrap();
    let keys: std::collections::BTreeSet<&str> =
        v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, Parameters::WIRE_MEMBERS.iter().copied().collect());
    assert_eq!(v["stop"], json!([[37763, 367]]));
    // The same setters on the request set its `parameters`.
    let req = GenerationRequest::new("qwen-plus", vec![Message::user("hi")])
        .result_format(ResultFormat::Message)
        .incremental_output(true)
        .enable_thinking(true)
        .thinking_budget(500)
        .reasoning_effort(ReasoningEffort::Low)
        .temperature(0.5)
        .top_p(0.9)
        .top_k(10)
        .repetition_penalty(1.1)
        .presence_penalty(0.2)
        .max_tokens(64)
        .max_completion_tokens(128)
        .seed(7)
        .stop(vec![vec![37763, 367]])
        .tools(vec![Tool::function("f", "d", json!({"type": "object"}))])
        .tool_choice(ToolChoice::function("f"))
        .parallel_tool_calls(false)
        .enable_search(true)
        .search_options(SearchOptions::default())
        .response_format(ResponseFormat::text())
        .n(1)
        .logprobs(true)
        .top_logprobs(2)
        .enable_code_interpreter(false)
        .vl_high_resolution_images(true)
        .modalities(vec![dashscope_protocol::native::Modality::Text]);
    assert_eq!(serde_json::to_value(&req).unwrap()["parameters"], v);
}
