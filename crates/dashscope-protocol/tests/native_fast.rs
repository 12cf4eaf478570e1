//! The native event fast path (`native::__decode_fast`, used first by `NativeStreamDecoder`)
//! against the serde path it shortcuts.
//!
//! The contract: whenever the fast path returns `Some(r)`, `r` equals what
//! `serde_json::from_str::<GenerationResponse>` gives for the same payload (members, `extra`,
//! `nulls`), and whenever serde fails, the fast path returns `None`. These tests check it on
//! generated events of many shapes (text and message formats, cumulative and incremental, tool
//! calls, usage with details, duplicates, unknown members, nulls, escapes), on random byte
//! mutations of them, on every native fixture, and check that the fast path is really taken for
//! the ordinary events, so that a path that always gives up cannot pass.

use std::path::{Path, PathBuf};

use dashscope_protocol::cassette::{Body, Cassette};
use dashscope_protocol::native::{
    __decode_fast, Audio, Choice, Content, ContentItem, FinishReason, FunctionCall,
    GenerationResponse, InputTokensDetails, Message, NativeStreamDecoder, Output,
    OutputTokensDetails, PromptTokensDetails, Role, ToolCall, Usage,
};
use dashscope_protocol::sse::{Decoder, Mode};
use dashscope_protocol::stream::{StreamDecode, StreamItem};
use proptest::prelude::*;
use serde_json::Value;

/// Checks the contract on `data`; returns what the fast path gave.
fn check(data: &str) -> Result<Option<GenerationResponse>, TestCaseError> {
    let fast = __decode_fast(data);
    match serde_json::from_str::<GenerationResponse>(data) {
        Ok(want) => {
            if let Some(got) = &fast {
                prop_assert_eq!(got, &want, "fast path differs from serde on {:?}", data);
            }
        }
        Err(e) => prop_assert!(
            fast.is_none(),
            "serde rejects {:?} ({}) but the fast path accepted it: {:?}",
            data,
            e,
            fast
        ),
    }
    Ok(fast)
}

/// [`check`] outside proptest.
fn assert_contract(data: &str) -> Option<GenerationResponse> {
    check(data).unwrap_or_else(|e| panic!("{e}"))
}

// ------------------------------------------------------------------------------------------
// Fixtures
// ------------------------------------------------------------------------------------------

fn native_fixtures() -> Vec<(String, Cassette)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/native");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures/native exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let out: Vec<_> = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).expect("readable fixture");
            let c = Cassette::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            (f.display().to_string(), c)
        })
        .collect();
    assert!(out.len() >= 20, "native fixtures: {}", out.len());
    out
}

fn sse_decoder() -> Decoder {
    Decoder::with_mode(Mode::DataLineIsEvent)
}

/// Whether a payload holds what the fast path leaves to serde on purpose.
fn has_rare_member(v: &Value) -> bool {
    let non_null = |v: Option<&Value>| v.is_some_and(|v| !v.is_null());
    let output = v.get("output");
    non_null(output.and_then(|o| o.get("search_info")))
        || non_null(v.get("usage").and_then(|u| u.get("plugins")))
        || output
            .and_then(|o| o.get("choices"))
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter().any(|c| {
                    non_null(c.get("logprobs"))
                        || c.get("message")
                            .and_then(|m| m.get("content"))
                            .and_then(Value::as_array)
                            .is_some_and(|items| {
                                items.iter().any(|i| {
                                    non_null(i.get("video"))
                                        || non_null(i.get("fps"))
                                        || non_null(i.get("cache_control"))
                                })
                            })
                })
            })
}

#[test]
fn every_fixture_payload_meets_the_contract_and_ordinary_events_take_the_fast_path() {
    let (mut events, mut fast) = (0, 0);
    for (name, c) in native_fixtures() {
        let body = c.response.body.to_bytes();
        let payloads = match &c.response.body {
            Body::Chunks(_) => {
                let mut sse = sse_decoder();
                sse.feed(&body);
                sse.finish();
                let mut out = Vec::new();
                while let Some(ev) = sse.next_event() {
                    out.push(ev.expect("fixture streams are valid SSE").data.to_owned());
                }
                out
            }
            _ => vec![String::from_utf8(body).expect("utf-8 body")],
        };
        for data in payloads {
            let data = data.trim();
            let got = assert_contract(data);
            let Ok(v) = serde_json::from_str::<Value>(data) else {
                continue;
            };
            if v.get("output").is_some() {
                events += 1;
                if !has_rare_member(&v) {
                    assert!(got.is_some(), "{name}: an ordinary event bailed: {data}");
                }
                fast += usize::from(got.is_some());
            }
        }
    }
    assert!(events >= 40, "{events} events in the fixtures");
    assert!(
        fast * 10 >= events * 8,
        "{fast} of {events} events took the fast path"
    );
}

#[test]
fn the_stream_decoder_gives_what_serde_gives_on_every_fixture_stream() {
    let mut seen = 0;
    for (name, c) in native_fixtures() {
        if !c.response.body.is_stream() {
            continue;
        }
        let bytes = c.response.body.to_bytes();
        let mut sse = sse_decoder();
        let mut dec = NativeStreamDecoder::new();
        sse.feed(&bytes);
        sse.finish();
        while let Some(ev) = sse.next_event() {
            let ev = ev.expect("valid SSE");
            let data = ev.data.trim();
            match dec.decode(&ev) {
                Ok(StreamItem::Chunk(got)) => {
                    let want: GenerationResponse =
                        serde_json::from_str(data).expect("serde parses it");
                    assert_eq!(got, want, "{name}: {data}");
                    seen += 1;
                }
                Ok(_) => {}
                Err(e) => assert!(
                    serde_json::from_str::<GenerationResponse>(data).is_err(),
                    "{name}: {e}"
                ),
            }
        }
    }
    assert!(seen >= 40, "{seen} chunks");
}

// ------------------------------------------------------------------------------------------
// The benchmark workload's ordinary events
// ------------------------------------------------------------------------------------------

/// An event as the service sends it in the message format (and as `dashscope-benches` renders
/// its workload): one choice, `finish_reason` the string `"null"` until the end, cumulative
/// usage with output details, the request id.
fn service_event(message: Message, finish: FinishReason, tokens: u64) -> GenerationResponse {
    GenerationResponse {
        output: Some(Output {
            choices: Some(vec![Choice {
                message: Some(message),
                finish_reason: Some(finish),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        usage: Some(Usage {
            total_tokens: Some(40 + tokens),
            output_tokens: Some(tokens),
            input_tokens: Some(40),
            output_tokens_details: Some(OutputTokensDetails {
                reasoning_tokens: Some(tokens / 2),
                ..Default::default()
            }),
            ..Default::default()
        }),
        request_id: Some("9f1f6c2a-5bb4-9a61-a1b3-3e7d3f0e8c11".to_owned()),
        ..Default::default()
    }
}

fn assistant(content: &str, reasoning: &str, calls: Option<Vec<ToolCall>>) -> Message {
    Message {
        role: Some(Role::Assistant),
        content: Some(Content::Text(content.to_owned())),
        reasoning_content: Some(reasoning.to_owned()),
        tool_calls: calls,
        ..Default::default()
    }
}

fn ordinary_events() -> Vec<GenerationResponse> {
    let mut out = Vec::new();
    for (i, t) in [
        "人工智能",
        "是指",
        " \"quoted\"\n",
        "emoji 😀 ok",
        "tab\there",
    ]
    .iter()
    .enumerate()
    {
        out.push(service_event(
            assistant("", t, None),
            FinishReason::Null,
            i as u64,
        ));
        out.push(service_event(
            assistant(t, "", None),
            FinishReason::Null,
            i as u64 + 5,
        ));
    }
    for (id, name, args) in [
        ("call_abc", Some("get_weather"), ""),
        ("", None, "{\"city\": \"杭州\"}"),
        ("", None, ""),
    ] {
        let tc = ToolCall {
            index: Some(0),
            id: Some(id.to_owned()),
            kind: Some("function".into()),
            function: Some(FunctionCall {
                name: name.map(str::to_owned),
                arguments: Some(args.to_owned()),
                ..Default::default()
            }),
            ..Default::default()
        };
        out.push(service_event(
            assistant("", "", Some(vec![tc])),
            FinishReason::Null,
            20,
        ));
    }
    out.push(service_event(
        assistant("", "", None),
        FinishReason::Stop,
        30,
    ));
    out.push(service_event(
        assistant("", "", None),
        FinishReason::ToolCalls,
        30,
    ));
    out
}

#[test]
fn the_benchmark_event_shapes_take_the_fast_path() {
    for ev in ordinary_events() {
        let data = serde_json::to_string(&ev).expect("serializes");
        let got = assert_contract(&data);
        assert_eq!(got.as_ref(), Some(&ev), "{data}");
        // Pretty-printed (whitespace between every token) too.
        let pretty = serde_json::to_string_pretty(&ev).expect("serializes");
        assert_eq!(assert_contract(&pretty).as_ref(), Some(&ev), "{pretty}");
    }
}

#[test]
fn the_text_format_and_errors_take_the_fast_path() {
    for data in [
        r#"{"output":{"finish_reason":"null","text":"一"},"usage":{"total_tokens":13,"output_tokens":1,"input_tokens":12},"request_id":"r1"}"#,
        r#"{"output":{"finish_reason":"stop","text":"一二三"},"usage":{"total_tokens":15,"output_tokens":3,"input_tokens":12,"prompt_tokens_details":{"cached_tokens":0}},"request_id":"r1"}"#,
        r#"{"code":"InvalidParameter","message":"bad","request_id":"r2"}"#,
        r#"{"output":{"choices":[{"message":{"content":[{"text":"a"},{"text":"b","image":null}],"role":"assistant"},"finish_reason":"null","index":0}]},"usage":{"input_tokens_details":{"text_tokens":3,"image_tokens":400},"output_tokens_details":{"text_tokens":1,"reasoning_tokens":0},"image_tokens":400,"input_tokens":403,"output_tokens":1,"total_tokens":404}}"#,
        r#"{"output":{"choices":[{"message":{"content":[],"role":"assistant","partial":true}}]},"usage":{}}"#,
        r#"{"output":null,"usage":null,"request_id":null,"code":null,"message":null}"#,
        r#"{"output":{"finish_reason":"null","audio":{"data":"APjl","expires_at":null}},"request_id":"r3"}"#,
        "{}",
    ] {
        assert!(assert_contract(data).is_some(), "{data}");
    }
}

#[test]
fn unusual_input_bails_or_agrees() {
    for data in [
        r#"{"usage":{"input_tokens":01}}"#,
        r#"{"usage":{"input_tokens":1.0}}"#,
        r#"{"usage":{"input_tokens":-1}}"#,
        r#"{"usage":{"input_tokens":18446744073709551616}}"#,
        r#"{"output":{"choices":[{"index":4294967296}]}}"#,
        r#"{"output":{"choices":[{"message":{"partial":tru}}]}}"#,
        r#"{"output":{"choices":[{"message":{"partial":"true"}}]}}"#,
        r#"{"output":{"choices":[{"message":{"content":{"text":"a"}}}]}}"#,
        r#"{"output":{"choices":[{"message":{"content":7}}]}}"#,
        r#"{"output":{"choices":[{"message":{"content":[null]}}]}}"#,
        r#"{"output":{"choices":[{"message":{"content":[{"video":["a","b"]}]}}]}}"#,
        r#"{"output":{"choices":[{"logprobs":{"content":[]}}]}}"#,
        r#"{"output":{"search_info":{"search_results":[]}}}"#,
        r#"{"usage":{"plugins":{"search":{"count":1}}}}"#,
        r#"{"request_id":"\ud800"}"#,
        r#"{"request_id":"a\ud83d\ude00b"}"#,
        r#"{"request_i\u0064":"a"}"#,
        r#"{"request_id":"a"} x"#,
        r#"{"request_id":"a",}"#,
        r#"{"output":{"choices":[,]}}"#,
        r#"{"output":{"finish_reason":"null","finish_reason":null}}"#,
        r#"{"output":{"text":"a"},"output":{"finish_reason":"stop"}}"#,
        r#"{"usage":{"output_tokens_details":{"reasoning_tokens":1},"output_tokens_details":null}}"#,
        r#"{"usage":{"input_tokens_details":{"cached_tokens":1,"cached_tokens":2,"x":1,"x":[true]}}}"#,
        r#"{"z":1,"z":[true],"output":{"y":{"a":null}}}"#,
        "[]",
        "",
        "null",
    ] {
        assert_contract(data);
    }
    let deep = format!(
        "{{\"output\":{{\"z\":{}{}}}}}",
        "[".repeat(126),
        "]".repeat(126)
    );
    assert_contract(&deep);
    assert!(__decode_fast(&deep).is_none());
}

// ------------------------------------------------------------------------------------------
// Generated events
// ------------------------------------------------------------------------------------------

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z ]{0,12}",
        "[\\u{4e00}-\\u{4e40}]{1,6}",
        "[\"\\\\/\u{8}\u{c}\n\r\t\u{1}\u{1f}a😀é]{0,8}",
        any::<String>(),
    ]
}

fn opt<T: std::fmt::Debug + Clone + 'static>(
    s: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Option<T>> {
    prop_oneof![1 => Just(None), 3 => s.prop_map(Some)].boxed()
}

fn count() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..100_000, any::<u64>()]
}

fn finish() -> impl Strategy<Value = FinishReason> {
    prop_oneof![
        Just(FinishReason::Null),
        Just(FinishReason::Stop),
        Just(FinishReason::Length),
        Just(FinishReason::ToolCalls),
        Just(FinishReason::ContentFilter),
        "[a-z_]{1,8}".prop_map(FinishReason::from),
    ]
}

fn tool_call() -> impl Strategy<Value = ToolCall> {
    (
        opt(0u32..4),
        opt(text()),
        opt("function|[a-z]{1,5}"),
        opt((opt(text()), opt(text()))),
    )
        .prop_map(|(index, id, kind, f)| ToolCall {
            index,
            id,
            kind: kind.map(Into::into),
            function: f.map(|(name, arguments)| FunctionCall {
                name,
                arguments,
                ..Default::default()
            }),
            ..Default::default()
        })
}

fn content() -> impl Strategy<Value = Content> {
    prop_oneof![
        text().prop_map(Content::Text),
        prop::collection::vec(
            (opt(text()), opt(text()), opt(count())).prop_map(|(t, image, px)| ContentItem {
                text: t,
                image,
                max_pixels: px,
                ..Default::default()
            }),
            0..3
        )
        .prop_map(Content::Parts),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    (
        opt(prop_oneof![
            Just(Role::Assistant),
            Just(Role::User),
            "[a-z]{1,6}".prop_map(Role::from)
        ]),
        opt(content()),
        opt(text()),
        opt(prop::collection::vec(tool_call(), 0..3)),
        opt(any::<bool>()),
        opt(text()),
    )
        .prop_map(
            |(role, content, reasoning_content, tool_calls, partial, name)| Message {
                role,
                content,
                reasoning_content,
                tool_calls,
                partial,
                name,
                ..Default::default()
            },
        )
}

fn usage() -> impl Strategy<Value = Usage> {
    (
        (opt(count()), opt(count()), opt(count()), opt(count())),
        opt((opt(count()), opt(count()), opt(count()))),
        opt((opt(count()), opt(count()), opt(count()))),
        opt((opt(count()), opt(count()))),
    )
        .prop_map(|((i, o, t, img), ind, outd, pd)| Usage {
            input_tokens: i,
            output_tokens: o,
            total_tokens: t,
            image_tokens: img,
            input_tokens_details: ind.map(|(a, b, c)| InputTokensDetails {
                text_tokens: a,
                image_tokens: b,
                cached_tokens: c,
                ..Default::default()
            }),
            output_tokens_details: outd.map(|(a, b, c)| OutputTokensDetails {
                reasoning_tokens: a,
                text_tokens: b,
                audio_tokens: c,
                ..Default::default()
            }),
            prompt_tokens_details: pd.map(|(a, b)| PromptTokensDetails {
                cached_tokens: a,
                cache_creation_input_tokens: b,
                ..Default::default()
            }),
            ..Default::default()
        })
}

fn event() -> impl Strategy<Value = GenerationResponse> {
    let choice = (opt(finish()), opt(0u32..3), opt(message())).prop_map(
        |(finish_reason, index, message)| Choice {
            finish_reason,
            index,
            message,
            ..Default::default()
        },
    );
    let audio = (
        opt(text()),
        opt(text()),
        opt(0i64..2_000_000_000),
        opt(text()),
    )
        .prop_map(|(id, data, expires_at, url)| Audio {
            id,
            data,
            expires_at,
            url,
            ..Default::default()
        });
    let output = (
        opt(text()),
        opt(finish()),
        opt(prop::collection::vec(choice, 0..3)),
        opt(audio),
    )
        .prop_map(|(text, finish_reason, choices, audio)| Output {
            text,
            finish_reason,
            choices,
            audio,
            ..Default::default()
        });
    (
        opt(output),
        opt(usage()),
        opt(text()),
        opt(text()),
        opt(text()),
    )
        .prop_map(
            |(output, usage, request_id, code, message)| GenerationResponse {
                output,
                usage,
                request_id,
                code,
                message,
                ..Default::default()
            },
        )
}

/// Rewrites a serialized event's JSON tree: absent members become `null`s, unknown members and
/// duplicates are added, objects are reordered; `seed` picks what happens where.
fn garble(v: &mut Value, seed: &mut u64) {
    match v {
        Value::Object(map) => {
            for v in map.values_mut() {
                garble(v, seed);
            }
            if rnd(seed, 3) == 0 {
                map.insert(
                    "x_unknown".to_owned(),
                    serde_json::json!({"k":[1,null,"é"]}),
                );
            }
            if rnd(seed, 4) == 0 {
                if let Some(k) = map.keys().next().cloned() {
                    map.insert(k, Value::Null);
                }
            }
        }
        Value::Array(items) => {
            for v in items.iter_mut() {
                garble(v, seed);
            }
            if rnd(seed, 8) == 0 {
                items.reverse();
            }
        }
        _ => {}
    }
}

/// A pseudo-random number below `n` from `seed` (which it advances).
fn rnd(seed: &mut u64, n: u64) -> u64 {
    *seed = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    (*seed >> 33) % n
}

/// Serializes an object with a duplicate of its first member (an earlier, different value) put
/// before it, at every level where `dup` says so.
fn with_duplicates(v: &Value, seed: u64) -> String {
    match v {
        Value::Object(map) => {
            let mut parts = Vec::new();
            for (i, (k, val)) in map.iter().enumerate() {
                let key = serde_json::to_string(k).expect("key");
                if (seed >> (i % 60)) & 1 == 1 {
                    let earlier = match val {
                        Value::Null => serde_json::json!("dup"),
                        _ => Value::Null,
                    };
                    parts.push(format!("{key}:{earlier}"));
                }
                parts.push(format!(
                    "{key}:{}",
                    with_duplicates(val, seed.rotate_left(7))
                ));
            }
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|x| with_duplicates(x, seed.rotate_left(3)))
                .collect::<Vec<_>>()
                .join(",")
        ),
        _ => v.to_string(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn generated_events_round_trip_through_the_fast_path(ev in event()) {
        let data = serde_json::to_string(&ev).expect("serializes");
        let got = check(&data)?;
        // Every generated member is on the fast path, so it must be taken.
        prop_assert_eq!(got.as_ref(), Some(&ev), "{}", data);
    }

    #[test]
    fn garbled_events_meet_the_contract(ev in event(), seed in any::<u64>()) {
        let mut v = serde_json::to_value(&ev).expect("serializes");
        let mut s = seed;
        garble(&mut v, &mut s);
        let data = v.to_string();
        let got = check(&data)?;
        // Unknown members, nulls and reordering are all on the fast path.
        prop_assert!(got.is_some(), "bailed on {}", data);
        let pretty = serde_json::to_string_pretty(&v).expect("serializes");
        check(&pretty)?;
    }

    #[test]
    fn duplicated_members_meet_the_contract(ev in event(), seed in any::<u64>()) {
        let v = serde_json::to_value(&ev).expect("serializes");
        let data = with_duplicates(&v, seed);
        check(&data)?;
    }

    #[test]
    fn mutated_events_meet_the_contract(
        ev in event(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..4, any::<u8>()), 1..4),
    ) {
        let mut bytes = serde_json::to_vec(&ev).expect("serializes");
        for (at, op, byte) in edits {
            if bytes.is_empty() {
                break;
            }
            let i = at.index(bytes.len());
            const ALPHABET: &[u8] = b"{}[]\",:0123456789-.eEnultrfas \\\n";
            let b = ALPHABET[usize::from(byte) % ALPHABET.len()];
            match op {
                0 => bytes[i] = b,
                1 => bytes.insert(i, b),
                2 => { bytes.remove(i); }
                _ => bytes.truncate(i),
            }
        }
        if let Ok(data) = String::from_utf8(bytes) {
            check(&data)?;
        }
    }

    #[test]
    fn arbitrary_strings_meet_the_contract(data in "\\PC{0,64}") {
        check(&data)?;
    }
}
