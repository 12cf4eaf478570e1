//! The Responses delta-event fast path (`responses::__decode_fast`, used first by
//! `ResponsesStreamDecoder`) against the serde path it shortcuts.
//!
//! The contract: whenever the fast path returns `Some(e)`, `e` equals what
//! `serde_json::from_str::<ResponseStreamEvent>` gives for the same payload (variant, members,
//! `extra`, `nulls`), whatever SSE `event:` name is passed as the hint, and whenever serde fails
//! the fast path returns `None`. These tests check it on generated events of many shapes (and on
//! random byte mutations of them), on every Responses fixture, and check that the fast path is
//! really taken for the ordinary delta events, so that a path that always gives up cannot pass.

use std::path::{Path, PathBuf};

use dashscope_protocol::cassette::{Body, Cassette};
use dashscope_protocol::responses::{
    __decode_fast, FunctionCallArgumentsDeltaEvent, FunctionCallArgumentsDoneEvent,
    OutputTextDeltaEvent, OutputTextDoneEvent, ReasoningSummaryTextDeltaEvent,
    ReasoningSummaryTextDoneEvent, ReasoningTextDeltaEvent, ReasoningTextDoneEvent,
    ResponseStreamEvent, ResponsesStreamDecoder,
};
use dashscope_protocol::sse::Decoder;
use dashscope_protocol::stream::{StreamDecode, StreamItem};
use proptest::prelude::*;
use serde_json::Value;

/// The event types the fast path handles.
const HOT: [&str; 8] = [
    "response.output_text.delta",
    "response.reasoning_text.delta",
    "response.reasoning_summary_text.delta",
    "response.function_call_arguments.delta",
    "response.output_text.done",
    "response.reasoning_text.done",
    "response.reasoning_summary_text.done",
    "response.function_call_arguments.done",
];

/// Checks the contract on `data` with `hint`; returns what the fast path gave.
fn check(data: &str, hint: Option<&str>) -> Result<Option<ResponseStreamEvent>, TestCaseError> {
    let fast = __decode_fast(data, hint);
    match serde_json::from_str::<ResponseStreamEvent>(data) {
        Ok(want) => {
            if let Some(got) = &fast {
                prop_assert_eq!(
                    got,
                    &want,
                    "fast path differs from serde on {:?} (hint {:?})",
                    data,
                    hint
                );
            }
        }
        Err(e) => prop_assert!(
            fast.is_none(),
            "serde rejects {:?} ({}) but the fast path accepted it (hint {:?}): {:?}",
            data,
            e,
            hint,
            fast
        ),
    }
    Ok(fast)
}

/// [`check`] outside proptest.
fn assert_contract(data: &str, hint: Option<&str>) -> Option<ResponseStreamEvent> {
    check(data, hint).unwrap_or_else(|e| panic!("{e}"))
}

// ------------------------------------------------------------------------------------------
// Fixtures
// ------------------------------------------------------------------------------------------

fn responses_fixtures() -> Vec<(String, Cassette)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/responses");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures/responses exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).expect("readable fixture");
            let c = Cassette::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            (f.display().to_string(), c)
        })
        .collect()
}

/// The `(event name, data)` of every SSE event of a stream body.
fn stream_payloads(bytes: &[u8]) -> Vec<(Option<String>, String)> {
    let mut sse = Decoder::new();
    sse.feed(bytes);
    sse.finish();
    let mut out = Vec::new();
    while let Some(ev) = sse.next_event() {
        let ev = ev.expect("fixture streams are valid SSE");
        out.push((ev.event.map(str::to_owned), ev.data.to_owned()));
    }
    out
}

/// Whether a payload is a hot event the fast path must take: a hot `type` and no `logprobs`
/// entries.
fn is_ordinary_hot(v: &Value) -> bool {
    v.get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| HOT.contains(&t))
        && v.get("logprobs")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
}

#[test]
fn every_fixture_payload_meets_the_contract_and_delta_events_take_the_fast_path() {
    let (mut hot, mut files) = (0, 0);
    for (name, c) in responses_fixtures() {
        files += 1;
        let body = c.response.body.to_bytes();
        let payloads = match &c.response.body {
            Body::Chunks(_) => stream_payloads(&body),
            _ => vec![(None, String::from_utf8(body).expect("utf-8 body"))],
        };
        for (event, data) in payloads {
            let data = data.trim_ascii();
            let got = assert_contract(data, event.as_deref());
            assert_contract(data, None);
            for h in HOT {
                assert_contract(data, Some(h));
            }
            let Ok(v) = serde_json::from_str::<Value>(data) else {
                continue;
            };
            if is_ordinary_hot(&v) {
                hot += 1;
                assert!(got.is_some(), "{name}: a delta event bailed: {data}");
            } else {
                assert!(got.is_none(), "{name}: not a hot event, yet taken: {data}");
            }
        }
    }
    assert!(files >= 10, "{files} responses fixtures");
    assert!(hot >= 10, "{hot} delta events in the fixtures");
}

#[test]
fn the_stream_decoder_gives_what_serde_gives_on_every_fixture_stream() {
    let mut seen = 0;
    for (name, c) in responses_fixtures() {
        if !c.response.body.is_stream() {
            continue;
        }
        let bytes = c.response.body.to_bytes();
        let mut sse = Decoder::new();
        let mut dec = ResponsesStreamDecoder::new();
        sse.feed(&bytes);
        sse.finish();
        while let Some(ev) = sse.next_event() {
            let ev = ev.expect("valid SSE");
            let data = ev.data.trim_ascii();
            match dec.decode(&ev) {
                Ok(StreamItem::Chunk(got)) => {
                    let want: ResponseStreamEvent =
                        serde_json::from_str(data).expect("serde parses it");
                    assert_eq!(got, want, "{name}: {data}");
                    seen += 1;
                }
                Ok(StreamItem::Error(_) | StreamItem::Skip | StreamItem::End) => {}
                Err(e) => {
                    assert!(
                        serde_json::from_str::<ResponseStreamEvent>(data).is_err(),
                        "{name}: {e}"
                    );
                }
            }
        }
    }
    assert!(seen >= 30, "{seen} events");
}

// ------------------------------------------------------------------------------------------
// The benchmark workload's ordinary events
// ------------------------------------------------------------------------------------------

/// The handled events as `dashscope-benches` builds them (our own serializer: `type` first;
/// `logprobs: []` as the service sends it).
fn ordinary_events() -> Vec<ResponseStreamEvent> {
    let mut out = Vec::new();
    for (i, delta) in [
        "",
        "用户",
        "Hello, 世界 😀",
        "a\"b\\c\n\u{1}/",
        "{\"city\":",
    ]
    .into_iter()
    .enumerate()
    {
        let seq = Some(i as u64 + 3);
        let item = Some(format!("msg_{i:032x}"));
        out.push(ResponseStreamEvent::OutputTextDelta(OutputTextDeltaEvent {
            item_id: item.clone(),
            output_index: Some(1),
            content_index: Some(0),
            delta: delta.to_owned(),
            logprobs: Some(Vec::new()),
            sequence_number: seq,
            ..Default::default()
        }));
        out.push(ResponseStreamEvent::OutputTextDone(OutputTextDoneEvent {
            item_id: item.clone(),
            output_index: Some(1),
            content_index: Some(0),
            text: delta.repeat(3),
            logprobs: Some(Vec::new()),
            sequence_number: seq,
            ..Default::default()
        }));
        out.push(ResponseStreamEvent::ReasoningTextDone(
            ReasoningTextDoneEvent {
                item_id: item.clone(),
                output_index: Some(0),
                content_index: Some(0),
                text: delta.repeat(2),
                sequence_number: seq,
                ..Default::default()
            },
        ));
        out.push(ResponseStreamEvent::ReasoningSummaryTextDone(
            ReasoningSummaryTextDoneEvent {
                item_id: item.clone(),
                output_index: Some(0),
                summary_index: Some(0),
                text: delta.to_owned(),
                sequence_number: seq,
                ..Default::default()
            },
        ));
        out.push(ResponseStreamEvent::FunctionCallArgumentsDone(
            FunctionCallArgumentsDoneEvent {
                item_id: item.clone(),
                output_index: Some(2),
                arguments: delta.to_owned(),
                name: Some("get_current_weather".to_owned()),
                sequence_number: seq,
                ..Default::default()
            },
        ));
        out.push(ResponseStreamEvent::ReasoningTextDelta(
            ReasoningTextDeltaEvent {
                item_id: item.clone(),
                output_index: Some(0),
                delta: delta.to_owned(),
                sequence_number: seq,
                ..Default::default()
            },
        ));
        out.push(ResponseStreamEvent::ReasoningSummaryTextDelta(
            ReasoningSummaryTextDeltaEvent {
                item_id: item.clone(),
                output_index: Some(0),
                summary_index: Some(0),
                delta: delta.to_owned(),
                sequence_number: seq,
                ..Default::default()
            },
        ));
        out.push(ResponseStreamEvent::FunctionCallArgumentsDelta(
            FunctionCallArgumentsDeltaEvent {
                item_id: item,
                output_index: Some(2),
                delta: delta.to_owned(),
                sequence_number: seq,
                ..Default::default()
            },
        ));
    }
    out
}

#[test]
fn ordinary_events_take_the_fast_path_in_any_layout() {
    for ev in ordinary_events() {
        let data = serde_json::to_string(&ev).expect("serializes");
        let name = ev.type_name();
        assert_eq!(assert_contract(&data, name).as_ref(), Some(&ev), "{data}");
        assert_eq!(assert_contract(&data, None).as_ref(), Some(&ev), "{data}");
        // Pretty-printed, and with `type` moved last (then only the SSE name tells the variant).
        let pretty = serde_json::to_string_pretty(&ev).expect("serializes");
        assert_eq!(
            assert_contract(&pretty, name).as_ref(),
            Some(&ev),
            "{pretty}"
        );
        let v = serde_json::to_value(&ev).expect("serializes");
        let mut members: Vec<String> = v
            .as_object()
            .expect("an object")
            .iter()
            .filter(|(k, _)| *k != "type")
            .map(|(k, v)| format!("{}:{v}", Value::from(k.as_str())))
            .collect();
        members.push(format!("\"type\":{}", v["type"]));
        let last = format!("{{{}}}", members.join(","));
        assert_eq!(assert_contract(&last, name).as_ref(), Some(&ev), "{last}");
        assert_eq!(assert_contract(&last, None), None, "{last}");
        // The stream decoder takes it too.
        let frame = format!(
            "event:{}\n:HTTP_STATUS/200\ndata:{data}\n\n",
            name.expect("named")
        );
        let mut sse = Decoder::new();
        sse.feed(frame.as_bytes());
        let sse_ev = sse.next_event().expect("an event").expect("valid SSE");
        match ResponsesStreamDecoder::new().decode(&sse_ev) {
            Ok(StreamItem::Chunk(got)) => assert_eq!(got, ev),
            other => panic!("{data}: {other:?}"),
        }
    }
}

#[test]
fn chosen_edge_cases() {
    let ot = "response.output_text.delta";
    // (payload, hint, whether the fast path must take it)
    let cases: &[(&str, Option<&str>, bool)] = &[
        (
            r#"{"type":"response.output_text.delta","delta":"a","logprobs":null}"#,
            None,
            true,
        ),
        (
            r#"{"type":"response.output_text.delta","delta":null,"delta":"b","x":[1,{"y":null}]}"#,
            None,
            true,
        ),
        (
            r#"{"type":"response.output_text.delta","delta":"b","delta":null}"#,
            None,
            true,
        ),
        (
            r#" { "type" : "response.function_call_arguments.delta" , "delta" : "{\"a\":\"\u00e9\"}" } "#,
            None,
            true,
        ),
        (
            r#"{"type":"response.reasoning_text.delta","delta":"\ud83d\ude00","sequence_number":18446744073709551615}"#,
            None,
            true,
        ),
        (
            r#"{"type":"response.output_text.delta","type":"response.output_text.delta"}"#,
            None,
            true,
        ),
        (
            r#"{"type":"response.output_text\u002edelta","delta":"a"}"#,
            None,
            true,
        ),
        (
            r#"{"delta":"a","type":"response.output_text.delta"}"#,
            Some(ot),
            true,
        ),
        (
            r#"{"z":1,"type":"response.output_text.delta","z":2}"#,
            Some(ot),
            true,
        ),
        // Left to serde (or rejected by both).
        (
            r#"{"delta":"a","type":"response.output_text.delta"}"#,
            None,
            false,
        ),
        (
            r#"{"delta":"a","type":"response.reasoning_text.delta"}"#,
            Some(ot),
            false,
        ),
        (r#"{"delta":"a"}"#, Some(ot), false),
        (r#"{}"#, Some(ot), false),
        (
            r#"{"delta":5,"delta":"a","type":"response.output_text.delta"}"#,
            Some(ot),
            false,
        ),
        (
            r#"{"type":"response.output_text.delta","type":"response.refusal.delta"}"#,
            None,
            false,
        ),
        (
            r#"{"type":"response.output_text.delta","type":null}"#,
            None,
            false,
        ),
        (r#"{"type":null,"delta":"a"}"#, Some(ot), false),
        (r#"{"type":5,"delta":"a"}"#, Some(ot), false),
        (
            r#"{"type":"response.output_text.delta","logprobs":[ ]}"#,
            None,
            true,
        ),
        (
            r#"{"type":"response.output_text.done","text":"ab","logprobs":[],"logprobs":null}"#,
            None,
            true,
        ),
        (
            r#"{"type":"response.function_call_arguments.done","arguments":"{}","name":null}"#,
            None,
            true,
        ),
        (
            r#"{"type":"response.output_text.done","delta":"a","logprobs":[1]}"#,
            None,
            false,
        ),
        (
            r#"{"type":"response.output_text.delta","logprobs":[{"token":"a","logprob":-0.5,"bytes":[97],"top_logprobs":[]}]}"#,
            None,
            false,
        ),
        (
            r#"{"type":"response.output_text.delta","output_index":-0}"#,
            None,
            false,
        ),
        (
            r#"{"type":"response.output_text.delta","output_index":4294967296}"#,
            None,
            false,
        ),
        (
            r#"{"type":"response.output_text.delta","output_index":1.0}"#,
            None,
            false,
        ),
        (
            r#"{"type":"response.output_text.delta","sequence_number":18446744073709551616}"#,
            None,
            false,
        ),
        (
            r#"{"type":"response.output_text.delta","d\u0065lta":"a"}"#,
            None,
            false,
        ),
        (
            r#"{"\u0074ype":"response.output_text.delta","delta":"a"}"#,
            Some(ot),
            false,
        ),
        (
            r#"{"type":"response.output_text.delta","delta":"\ud800"}"#,
            None,
            false,
        ),
        (
            r#"{"type":"response.output_text.delta","delta":"a"} x"#,
            None,
            false,
        ),
        (
            r#"{"type":"response.output_text.delta","delta":"a",}"#,
            None,
            false,
        ),
        (
            r#"{"type":"response.output_text.delta","delta":5}"#,
            None,
            false,
        ),
        (
            r#"{"type":"response.created","delta":"a"}"#,
            Some(ot),
            false,
        ),
        (r#"[{"type":"response.output_text.delta"}]"#, None, false),
        (r#"{"type":"response.output_text.delta""#, None, false),
    ];
    for &(data, hint, taken) in cases {
        let got = assert_contract(data, hint);
        assert_eq!(got.is_some(), taken, "{data} (hint {hint:?}): {got:?}");
    }
    let deep = format!(
        "{{\"type\":\"{ot}\",\"z\":{}{}}}",
        "[".repeat(126),
        "]".repeat(126)
    );
    assert_eq!(assert_contract(&deep, None), None);
}

// ------------------------------------------------------------------------------------------
// Generated events
// ------------------------------------------------------------------------------------------

/// A JSON text and whether the fast path must take it (`true` only for shapes it handles).
type Json = (String, bool);

fn fast(text: impl Into<String>) -> Json {
    (text.into(), true)
}

fn slow(text: impl Into<String>) -> Json {
    (text.into(), false)
}

/// Whitespace between tokens (mostly none, as the service sends it).
fn ws() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        8 => Just(""),
        1 => Just(" "),
        1 => Just("\n  "),
        1 => Just("\t"),
        1 => Just("\r\n"),
    ]
}

/// A string's content: ASCII, CJK, emoji, quotes, backslashes, control characters.
fn text() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "hello",
        " ",
        "人工智能",
        "。",
        "😀",
        "é",
        "\"",
        "\\",
        "\n",
        "\t",
        "/",
        "\u{7f}",
        "\u{1}",
        "{\"x\":",
        "1}",
        "",
    ]);
    prop::collection::vec(piece, 0..6).prop_map(|p| p.concat())
}

/// A JSON string literal for `s`: as serde_json writes it, or with `\uXXXX` escapes for every
/// non-ASCII character (surrogate pairs for emoji) and `\/` for `/`.
fn string_literal() -> impl Strategy<Value = Json> {
    (text(), any::<bool>()).prop_map(|(s, plain)| {
        if plain {
            return fast(serde_json::to_string(&s).expect("a string serializes"));
        }
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '/' => out.push_str("\\/"),
                c if c.is_ascii() && c >= ' ' => out.push(c),
                c => {
                    let mut units = [0u16; 2];
                    for u in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{u:04X}"));
                    }
                }
            }
        }
        out.push('"');
        fast(out)
    })
}

/// A string (or `null`) member's value, sometimes of the wrong type or malformed.
fn opt_string() -> BoxedStrategy<Json> {
    prop_oneof![
        6 => string_literal(),
        3 => Just(fast("null")),
        1 => prop::sample::select(vec![
            "5", "true", "{}", "[]", "\"\\ud800\"", "\"\\x\"", "\"a\u{1}\"", "\"\\u12\"", "nul",
        ])
        .prop_map(slow),
    ]
    .boxed()
}

/// A `u32` member's value.
fn index() -> BoxedStrategy<Json> {
    prop_oneof![
        4 => prop::sample::select(vec!["0", "1", "7", "4294967295", "null"]).prop_map(fast),
        1 => prop::sample::select(vec!["4294967296", "-1", "1.0", "1e2", "01", "\"0\"", "-0"])
            .prop_map(slow),
    ]
    .boxed()
}

/// A `u64` member's value (`sequence_number`).
fn sequence() -> BoxedStrategy<Json> {
    prop_oneof![
        4 => prop::sample::select(vec!["0", "12", "18446744073709551615", "null"]).prop_map(fast),
        1 => prop::sample::select(vec!["18446744073709551616", "-3", "2.5", "1E3", "00", "[]"])
            .prop_map(slow),
    ]
    .boxed()
}

/// `logprobs`: `null` (handled) or an array (left to serde).
fn logprobs() -> BoxedStrategy<Json> {
    prop_oneof![
        3 => prop::sample::select(vec!["null", "[]", "[ \n]"]).prop_map(fast),
        1 => prop::sample::select(vec![
            "[1]",
            "[,]",
            r#"[{"token":"a","logprob":-0.5,"bytes":[97],"top_logprobs":[{"token":"b","logprob":-1.25,"bytes":null}]}]"#,
            r#"[{"token":"a"}]"#,
            "{}",
        ])
        .prop_map(slow),
    ]
    .boxed()
}

/// The `type` member's value: a hot type (possibly escaped), another type, or not a string.
fn tag() -> BoxedStrategy<Json> {
    prop_oneof![
        8 => prop::sample::select(HOT.to_vec()).prop_map(|t| fast(format!("\"{t}\""))),
        1 => Just(fast(r#""response.output_text\u002edelta""#)),
        1 => prop::sample::select(vec![
            "\"response.created\"", "\"response.refusal.delta\"", "\"x\"", "null", "5", "\"\\ud800\"",
        ])
        .prop_map(slow),
    ]
    .boxed()
}

/// An unknown member's value: any JSON (small), or one nested deeper than the fast path reads.
fn unknown_value() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    let value = leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::vec(("[a-z]{1,3}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    });
    prop_oneof![
        9 => value.prop_map(|v| fast(v.to_string())),
        1 => Just(slow(format!("{}1{}", "[".repeat(80), "]".repeat(80)))),
    ]
}

/// The members of every hot event type (and `type` itself), with their value strategies.
fn known_members() -> Vec<(&'static str, BoxedStrategy<Json>)> {
    vec![
        ("item_id", opt_string()),
        ("output_index", index()),
        ("content_index", index()),
        ("summary_index", index()),
        ("delta", opt_string()),
        ("text", opt_string()),
        ("arguments", opt_string()),
        ("name", opt_string()),
        ("logprobs", logprobs()),
        ("sequence_number", sequence()),
    ]
}

/// One member: a known key (with its value strategy), an unknown one, or an escaped key.
fn member() -> BoxedStrategy<(String, Json)> {
    let mut options: Vec<(u32, BoxedStrategy<(String, Json)>)> = known_members()
        .into_iter()
        .map(|(k, v)| {
            // `delta` is what nearly every event carries.
            let weight = if matches!(k, "delta" | "text" | "arguments") {
                4
            } else {
                2
            };
            (weight, v.prop_map(move |v| (k.to_owned(), v)).boxed())
        })
        .collect();
    options.push((
        3,
        (
            prop::sample::select(vec!["error", "x", "Delta", "types", "texts", "中"]),
            unknown_value(),
        )
            .prop_map(|(k, v)| (k.to_owned(), v))
            .boxed(),
    ));
    // A known key (or the tag) written with an escape: serde matches it, the fast path does not.
    options.push((
        1,
        (
            prop::sample::select(vec!["d\\u0065lta", "\\u0074ype"]),
            opt_string(),
        )
            .prop_map(|(k, (v, _))| (k.to_owned(), slow(v)))
            .boxed(),
    ));
    prop::strategy::Union::new_weighted(options).boxed()
}

/// An event object and the hint: `type` first (usually), elsewhere, repeated or missing;
/// 0 to 6 other members (absent ones, duplicates and unknown ones included).
///
/// Whether the fast path must take it is decided afterwards by [`handled`], from the text.
fn event() -> BoxedStrategy<(String, Option<&'static str>, bool)> {
    (
        tag(),
        prop::collection::vec(member(), 0..5),
        prop_oneof![6 => Just(0usize), 1 => 1usize..8, 1 => Just(usize::MAX)],
        prop::option::of(tag()),
        prop_oneof![
            2 => Just(None),
            2 => Just(Some(0usize)),
            1 => (0usize..4).prop_map(Some),
        ],
        ws(),
    )
        .prop_map(|((tag, tag_ok), members, at, again, hint, ws)| {
            let mut ok = tag_ok;
            let mut body: Vec<(String, String)> = members
                .into_iter()
                .map(|(k, (v, fast))| {
                    ok &= fast;
                    (k, v)
                })
                .collect();
            let missing = at == usize::MAX;
            if !missing {
                body.insert(at.min(body.len()), ("type".to_owned(), tag.clone()));
            }
            if let Some((again, _)) = again {
                // A repeated tag is handled only when it repeats the same type.
                ok &= again == tag;
                let n = body.len();
                body.insert(n.min(at.saturating_add(1)), ("type".to_owned(), again));
            }
            let text = body
                .iter()
                .map(|(k, v)| format!("{ws}\"{k}\"{ws}:{ws}{v}{ws}"))
                .collect::<Vec<_>>()
                .join(",");
            let data = format!("{{{text}}}");
            // The SSE name: the first tag's own type (as the service sends it), or another.
            let named = HOT
                .iter()
                .find(|h| tag == format!("\"{h}\""))
                .copied()
                .or(tag.contains("\\u002e").then_some(HOT[0]));
            let hint = match hint {
                None => None,
                Some(0) => named,
                Some(i) => Some(HOT[i]),
            };
            ok &= !missing && (at == 0 || (hint.is_some() && hint == named));
            (data, hint, ok)
        })
        .prop_map(|(data, hint, ok)| {
            let ok = ok && handled(&data);
            (data, hint, ok)
        })
        .boxed()
}

/// Whether the members that exist for the event's type all have handled values: members of
/// other hot types are unknown members of this one (and then any JSON is handled).
fn handled(data: &str) -> bool {
    matches!(
        serde_json::from_str::<ResponseStreamEvent>(data),
        Ok(ResponseStreamEvent::OutputTextDelta(_)
            | ResponseStreamEvent::ReasoningTextDelta(_)
            | ResponseStreamEvent::ReasoningSummaryTextDelta(_)
            | ResponseStreamEvent::FunctionCallArgumentsDelta(_)
            | ResponseStreamEvent::OutputTextDone(_)
            | ResponseStreamEvent::ReasoningTextDone(_)
            | ResponseStreamEvent::ReasoningSummaryTextDone(_)
            | ResponseStreamEvent::FunctionCallArgumentsDone(_))
    )
}

/// A byte-level change to a payload.
#[derive(Clone, Debug)]
enum Mutation {
    Truncate(prop::sample::Index),
    Replace(prop::sample::Index, u8),
    Insert(prop::sample::Index, u8),
    Delete(prop::sample::Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let byte = prop_oneof![
        3 => prop::sample::select(vec![
            0u8, 1, 0x1f, b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b'0', b'9', b'-',
            b'.', b'e', b'n', b' ', b'\n', b'u', b't', 0x7f, 0xc3, 0xff,
        ]),
        1 => any::<u8>(),
    ];
    prop_oneof![
        1 => any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        3 => (any::<prop::sample::Index>(), byte.clone()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        3 => (any::<prop::sample::Index>(), byte).prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => any::<prop::sample::Index>().prop_map(Mutation::Delete),
    ]
}

fn mutate(text: &str, mutations: &[Mutation]) -> String {
    let mut b = text.as_bytes().to_vec();
    for m in mutations {
        match m {
            Mutation::Truncate(i) => b.truncate(i.index(b.len() + 1)),
            Mutation::Replace(i, c) if !b.is_empty() => {
                let i = i.index(b.len());
                b[i] = *c;
            }
            Mutation::Insert(i, c) => b.insert(i.index(b.len() + 1), *c),
            Mutation::Delete(i) if !b.is_empty() => {
                b.remove(i.index(b.len()));
            }
            Mutation::Replace(..) | Mutation::Delete(_) => {}
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    /// Generated events: the contract always holds (with the generated hint, no hint and every
    /// hot name as hint), and the fast path takes every event made only of handled shapes.
    #[test]
    fn generated_events_meet_the_contract((data, hint, handled) in event()) {
        let got = check(&data, hint)?;
        if handled {
            prop_assert!(got.is_some(), "the fast path gave up on {:?} (hint {:?})", data, hint);
        }
        check(&data, None)?;
        for h in HOT {
            check(&data, Some(h))?;
        }
    }

    /// The same events with random bytes truncated, replaced, inserted or deleted.
    #[test]
    fn mutated_events_meet_the_contract(
        (data, hint, _) in event(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let data = mutate(&data, &mutations);
        check(&data, hint)?;
        check(&data, None)?;
    }
}

/// The generator is not vacuous: a good share of its events are of the handled shapes (which
/// the property above requires the fast path to take), with `type` first and elsewhere.
#[test]
fn the_generator_makes_handled_events() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = event();
    let (mut handled, mut later_tag, mut with_delta) = (0, 0, 0);
    for _ in 0..600 {
        let (data, hint, ok) = strategy.new_tree(&mut runner).expect("a value").current();
        if ok {
            handled += 1;
            let got = assert_contract(&data, hint).expect("handled shapes take the fast path");
            later_tag += usize::from(
                !data
                    .trim_start_matches(['{', ' ', '\n', '\t', '\r'])
                    .starts_with("\"type\""),
            );
            let delta = match &got {
                ResponseStreamEvent::OutputTextDelta(e) => &e.delta,
                ResponseStreamEvent::ReasoningTextDelta(e) => &e.delta,
                ResponseStreamEvent::ReasoningSummaryTextDelta(e) => &e.delta,
                ResponseStreamEvent::FunctionCallArgumentsDelta(e) => &e.delta,
                ResponseStreamEvent::OutputTextDone(e) => &e.text,
                ResponseStreamEvent::ReasoningTextDone(e) => &e.text,
                ResponseStreamEvent::ReasoningSummaryTextDone(e) => &e.text,
                ResponseStreamEvent::FunctionCallArgumentsDone(e) => &e.arguments,
                other => panic!("{other:?}"),
            };
            with_delta += usize::from(!delta.is_empty());
        }
    }
    assert!(
        handled >= 100,
        "{handled} of 600 generated events are handled shapes"
    );
    assert!(
        later_tag >= 5,
        "{later_tag} handled events have `type` later"
    );
    assert!(
        with_delta >= 20,
        "{with_delta} handled events have a non-empty delta"
    );
}
