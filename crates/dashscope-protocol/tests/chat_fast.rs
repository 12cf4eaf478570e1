//! The compat chunk fast path (`chat::__decode_fast`, used first by `ChatStreamDecoder`) against
//! the serde path it shortcuts.
//!
//! The contract: whenever the fast path returns `Some(c)`, `c` equals what
//! `serde_json::from_str::<ChatChunk>` gives for the same payload (members, `extra`, `nulls`),
//! and whenever serde fails, the fast path returns `None`. These tests check it on generated
//! chunks of many shapes (and on random byte mutations of them), on every compat fixture, and
//! check that the fast path is really taken for the ordinary chunks of a stream, so that a path
//! that always gives up cannot pass.

use std::path::{Path, PathBuf};

use dashscope_protocol::cassette::{Body, Cassette};
use dashscope_protocol::chat::{
    __decode_fast, ChatChunk, ChatStreamDecoder, ChunkChoice, Delta, FinishReason,
    FunctionCallDelta, Role, ToolCallDelta, ToolType,
};
use dashscope_protocol::sse::Decoder;
use dashscope_protocol::stream::{StreamDecode, StreamItem};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Checks the contract on `data`; returns what the fast path gave.
fn check(data: &str) -> Result<Option<ChatChunk>, TestCaseError> {
    let fast = __decode_fast(data);
    match serde_json::from_str::<ChatChunk>(data) {
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
fn assert_contract(data: &str) -> Option<ChatChunk> {
    check(data).unwrap_or_else(|e| panic!("{e}"))
}

// ------------------------------------------------------------------------------------------
// Fixtures
// ------------------------------------------------------------------------------------------

fn chat_fixtures() -> Vec<(String, Cassette)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chat");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures/chat exists")
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
    assert!(out.len() >= 22, "chat fixtures: {}", out.len());
    out
}

/// The `data:` payloads of a stream body, as the SSE decoder hands them over.
fn stream_payloads(bytes: &[u8]) -> Vec<String> {
    let mut sse = Decoder::new();
    sse.feed(bytes);
    sse.finish();
    let mut out = Vec::new();
    while let Some(ev) = sse.next_event() {
        out.push(ev.expect("fixture streams are valid SSE").data.to_owned());
    }
    out
}

/// Whether a payload holds what the fast path leaves to serde on purpose: a `usage` or a
/// `logprobs` object.
fn has_rare_member(v: &Value) -> bool {
    v.get("usage").is_some_and(Value::is_object)
        || v.get("choices")
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c.get("logprobs").is_some_and(Value::is_object))
            })
}

#[test]
fn every_fixture_payload_meets_the_contract_and_ordinary_chunks_take_the_fast_path() {
    let (mut chunks, mut fast) = (0, 0);
    for (name, c) in chat_fixtures() {
        let body = c.response.body.to_bytes();
        let payloads = match &c.response.body {
            Body::Chunks(_) => stream_payloads(&body),
            // Non-stream bodies are not chunks, but the contract holds for any input.
            _ => vec![String::from_utf8(body).expect("utf-8 body")],
        };
        for data in payloads {
            let data = data.trim_ascii();
            let got = assert_contract(data);
            let Ok(v) = serde_json::from_str::<Value>(data) else {
                continue;
            };
            if c.response.body.is_stream() && v.get("choices").is_some() {
                chunks += 1;
                if !has_rare_member(&v) {
                    assert!(got.is_some(), "{name}: an ordinary chunk bailed: {data}");
                }
                fast += usize::from(got.is_some());
            }
        }
    }
    assert!(chunks >= 30, "{chunks} stream chunks in the fixtures");
    assert!(
        fast * 10 >= chunks * 9,
        "{fast} of {chunks} chunks took the fast path"
    );
}

#[test]
fn the_stream_decoder_gives_what_serde_gives_on_every_fixture_stream() {
    let mut seen = 0;
    for (name, c) in chat_fixtures() {
        if !c.response.body.is_stream() {
            continue;
        }
        let bytes = c.response.body.to_bytes();
        let mut sse = Decoder::new();
        let mut chat = ChatStreamDecoder::new();
        sse.feed(&bytes);
        sse.finish();
        while let Some(ev) = sse.next_event() {
            let ev = ev.expect("valid SSE");
            let data = ev.data.trim_ascii();
            match chat.decode(&ev) {
                Ok(StreamItem::Chunk(got)) => {
                    let want: ChatChunk = serde_json::from_str(data).expect("serde parses it");
                    assert_eq!(got, want, "{name}: {data}");
                    seen += 1;
                }
                Ok(StreamItem::Error(_)) => {
                    assert!(
                        serde_json::from_str::<ChatChunk>(data).is_ok_and(|c| c.error().is_some())
                    );
                }
                Ok(StreamItem::Skip | StreamItem::End) => {}
                Err(e) => {
                    assert!(
                        serde_json::from_str::<ChatChunk>(data).is_err(),
                        "{name}: {e}"
                    );
                }
            }
        }
    }
    assert!(seen >= 30, "{seen} chunks");
}

// ------------------------------------------------------------------------------------------
// The benchmark workload's ordinary chunks
// ------------------------------------------------------------------------------------------

/// A chunk as the service sends it (and as `dashscope-benches` renders its workload): the
/// metadata members, one choice, explicit `null`s for the members it does not carry.
fn service_chunk(delta: Delta, finish: Option<FinishReason>) -> ChatChunk {
    let mut choice = ChunkChoice {
        index: 0,
        delta,
        finish_reason: finish,
        ..Default::default()
    };
    if choice.finish_reason.is_none() {
        choice.set_explicit_null("finish_reason", true);
    }
    choice.set_explicit_null("logprobs", true);
    let mut chunk = ChatChunk {
        id: Some("chatcmpl-34d8a53b-a10d-9c35-b462-cfededf90646".to_owned()),
        object: Some("chat.completion.chunk".to_owned()),
        created: Some(1_776_307_217),
        model: Some("qwen3.5-flash".to_owned()),
        choices: vec![choice],
        ..Default::default()
    };
    chunk.set_explicit_null("system_fingerprint", true);
    chunk.set_explicit_null("usage", true);
    chunk
}

fn ordinary_chunks() -> Vec<ChatChunk> {
    let texts = [
        "人工智能",
        "是指",
        " the model",
        "line one\nline two",
        "a \"quoted\" word and a back\\slash",
        "emoji 😀 and é",
        "tab\there",
        "",
    ];
    let mut out = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        // Thinking (the first with the role), then the answer.
        let mut d = Delta {
            role: (i == 0).then_some(Role::Assistant),
            reasoning_content: Some((*t).to_owned()),
            ..Default::default()
        };
        d.set_explicit_null("content", true);
        out.push(service_chunk(d, None));
        let mut d = Delta {
            content: Some((*t).to_owned()),
            ..Default::default()
        };
        d.set_explicit_null("reasoning_content", true);
        out.push(service_chunk(d, None));
    }
    // Tool-call fragments: the opening one, then `"id":""` with argument pieces.
    for (i, args) in ["", "{\"city\":", " \"杭州\"", ", \"unit\": \"c\\n\"}"]
        .iter()
        .enumerate()
    {
        let call = ToolCallDelta {
            index: Some(1),
            id: Some(if i == 0 {
                "call_b24c21aa49054238".into()
            } else {
                String::new()
            }),
            kind: Some(ToolType::Function),
            function: Some(FunctionCallDelta {
                name: (i == 0).then(|| "get_current_weather".to_owned()),
                arguments: Some((*args).to_owned()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut d = Delta {
            tool_calls: Some(vec![call]),
            ..Default::default()
        };
        d.set_explicit_null("content", true);
        d.set_explicit_null("reasoning_content", true);
        out.push(service_chunk(d, None));
    }
    // Omni spoken output: transcript pieces, base64 pieces with the audio's id and expiry.
    for audio in [
        json!({"transcript": "我是"}),
        json!({"data": "APjl+8r/rwOU", "id": "audio_1"}),
        json!({"data": "TwA=", "expires_at": 1_757_651_479}),
    ] {
        let mut d = Delta {
            audio: Some(serde_json::from_value(audio).expect("audio")),
            ..Default::default()
        };
        d.set_explicit_null("content", true);
        out.push(service_chunk(d, None));
    }
    // The finish chunk.
    let mut d = Delta {
        content: Some(String::new()),
        ..Default::default()
    };
    d.set_explicit_null("reasoning_content", true);
    out.push(service_chunk(d, Some(FinishReason::ToolCalls)));
    out
}

#[test]
fn ordinary_chunks_take_the_fast_path_in_any_layout() {
    for chunk in ordinary_chunks() {
        for data in [
            serde_json::to_string(&chunk).expect("serializes"),
            serde_json::to_string_pretty(&chunk).expect("serializes"),
            format!(
                " \r\n{}\t ",
                serde_json::to_string(&chunk).expect("serializes")
            ),
        ] {
            let got = assert_contract(&data)
                .unwrap_or_else(|| panic!("the fast path gave up on an ordinary chunk: {data}"));
            // And it is the chunk that was written, explicit nulls included.
            assert_eq!(got, chunk, "{data}");
        }
    }
}

#[test]
fn chosen_edge_cases() {
    // Each is (payload, whether the fast path must take it).
    let cases: &[(&str, bool)] = &[
        ("{}", true),
        (r#"{"choices":[]}"#, true),
        (r#"{"choices":null,"usage":null}"#, true),
        (r#"{"id":null,"id":"b","model":"m","model":null}"#, true),
        (
            r#"{"choices":[{"delta":{"content":"a"},"delta":null}]}"#,
            true,
        ),
        (
            r#"{"choices":[{"delta":{"content":"a"},"delta":{"role":"user"}}]}"#,
            true,
        ),
        (
            r#"{"choices":[{"index":null,"delta":{"tool_calls":null}}]}"#,
            true,
        ),
        (r#"{"z":1,"z":[true,{"a":null}],"error":null}"#, true),
        (r#"{"choices":[{"index":1}],"choices":[{"index":2}]}"#, true),
        (
            r#"{"choices":[{"delta":{"tool_calls":[{"index":1}],"tool_calls":[{"index":2,"function":{"name":"f"},"function":{"arguments":"a"}}]}}]}"#,
            true,
        ),
        (r#"{"id":"\u00e9\ud83d\ude00\/\b\f\n\r\t\"\\"}"#, true),
        // (Formerly the unit tests of the hand-written `chat/fast.rs`.)
        (
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"","type":"function","function":{"arguments":"{\"a\":\"\u00e9\n\"}"}}]},"index":0}],"x":[1,{"y":null}]}"#,
            true,
        ),
        (r#" { "choices" : [ ] , "id" : "a\ud83d\ude00b" } "#, true),
        (
            r#"{"choices":[{"index":4294967295}],"created":9223372036854775807}"#,
            true,
        ),
        // Left to serde (valid, but unusual).
        (r#"{"created":-5}"#, false),
        (
            r#"{"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#,
            false,
        ),
        (r#"{"choices":[{"logprobs":{"content":[]}}]}"#, false),
        (r#"{"i\u0064":"a"}"#, false),
        // Invalid for serde: the fast path must not accept them.
        (r#"{"choices":[{"index":01}]}"#, false),
        (r#"{"choices":[{"index":1.0}]}"#, false),
        (r#"{"choices":[{"index":1e0}]}"#, false),
        (r#"{"choices":[{"index":4294967296}]}"#, false),
        (r#"{"choices":[{"index":-1}]}"#, false),
        (r#"{"created":9223372036854775808}"#, false),
        (r#"{"id":"a\x"}"#, false),
        (r#"{"id":"\ud800"}"#, false),
        ("{\"id\":\"a\u{1}\"}", false),
        ("{\"id\":\"a\u{1f}b\"}", false),
        (r#"{"id":"a"} x"#, false),
        (r#"{"id":"a"}}"#, false),
        (r#"{"id":"a",}"#, false),
        (r#"{"id" "a"}"#, false),
        (r#"{"choices":[,]}"#, false),
        (r#"{"choices":[{},]}"#, false),
        (r#"{"choices":[null]}"#, false),
        (r#"{"id":nul}"#, false),
        (r#"{"id":nullx}"#, false),
        (r#"{"id":"a""#, false),
        (r#"{"id":5}"#, false),
        (r#"{"choices":{}}"#, false),
        (r#"{"z":tru}"#, false),
        ("[]", false),
        ("", false),
        ("\u{feff}{}", false),
        ("{}\u{c}", false),
    ];
    for (data, fast) in cases {
        let got = assert_contract(data);
        assert_eq!(got.is_some(), *fast, "{data}: {got:?}");
    }
    // Deep unknown values are left to serde (its nesting limit counts from the top).
    for depth in [10, 60, 126, 127, 200] {
        let data = format!(r#"{{"z":{}{}}}"#, "[".repeat(depth), "]".repeat(depth));
        let got = assert_contract(&data);
        assert_eq!(got.is_some(), depth <= 60, "depth {depth}");
    }
}

// ------------------------------------------------------------------------------------------
// Generated chunks
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
        "call_",
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
fn opt_string() -> impl Strategy<Value = Json> {
    prop_oneof![
        6 => string_literal(),
        3 => Just(fast("null")),
        1 => prop::sample::select(vec![
            "5", "true", "{}", "[]", "\"\\ud800\"", "\"\\x\"", "\"a\u{1}\"", "\"\\u12\"", "nul",
        ])
        .prop_map(slow),
    ]
}

/// A string-enum member's value.
fn opt_enum() -> impl Strategy<Value = Json> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "\"assistant\"", "\"user\"", "\"function\"", "\"stop\"", "\"tool_calls\"",
            "\"length\"", "\"new_kind\"", "\"st\\u006fp\"",
        ])
        .prop_map(fast),
        1 => opt_string(),
    ]
}

/// An index member's value (a `u32`).
fn index() -> impl Strategy<Value = Json> {
    prop_oneof![
        4 => prop::sample::select(vec!["0", "1", "7", "4294967295", "null"]).prop_map(fast),
        1 => prop::sample::select(vec!["4294967296", "-1", "1.0", "1e2", "01", "\"0\"", "-0"])
            .prop_map(slow),
    ]
}

/// `created` (an `i64`).
fn created() -> impl Strategy<Value = Json> {
    prop_oneof![
        4 => prop::sample::select(vec!["1776307217", "0", "9223372036854775807", "null"])
            .prop_map(fast),
        1 => prop::sample::select(vec!["-5", "9223372036854775808", "1.5", "18446744073709551616"])
            .prop_map(slow),
    ]
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

/// One member: a known key of the type (with its value strategy) or an unknown one.
fn member(known: Vec<(&'static str, BoxedStrategy<Json>)>) -> BoxedStrategy<(String, Json)> {
    let mut options: Vec<BoxedStrategy<(String, Json)>> = known
        .into_iter()
        .map(|(k, v)| v.prop_map(move |v| (k.to_owned(), v)).boxed())
        .collect();
    options.push(
        (
            prop::sample::select(vec!["error", "x", "Id", "extra_field", "choices2", "中"]),
            unknown_value(),
        )
            .prop_map(|(k, v)| (k.to_owned(), v))
            .boxed(),
    );
    // A known key written with an escape: serde matches it, the fast path leaves it to serde.
    options.push(
        opt_string()
            .prop_map(|(v, _)| ("i\\u0064".to_owned(), slow(v)))
            .boxed(),
    );
    prop::strategy::Union::new(options).boxed()
}

/// An object of 0 to 6 members (absent members, duplicates and unknown ones included).
fn object(known: Vec<(&'static str, BoxedStrategy<Json>)>) -> BoxedStrategy<Json> {
    (prop::collection::vec(member(known), 0..7), ws())
        .prop_map(|(members, ws)| {
            let mut ok = true;
            let body: Vec<String> = members
                .into_iter()
                .map(|(k, (v, fast))| {
                    ok &= fast;
                    format!("{ws}\"{k}\"{ws}:{ws}{v}{ws}")
                })
                .collect();
            (format!("{{{}}}", body.join(",")), ok)
        })
        .boxed()
}

/// An array of 0 to 2 elements.
fn array(element: BoxedStrategy<Json>) -> BoxedStrategy<Json> {
    (prop::collection::vec(element, 0..3), ws())
        .prop_map(|(elements, ws)| {
            let ok = elements.iter().all(|e| e.1);
            let body: Vec<String> = elements
                .into_iter()
                .map(|(e, _)| format!("{ws}{e}{ws}"))
                .collect();
            (format!("[{}]", body.join(",")), ok)
        })
        .boxed()
}

/// A value that must be an object of `kind`, or `null`, or something of the wrong type.
fn nullable(kind: BoxedStrategy<Json>) -> BoxedStrategy<Json> {
    prop_oneof![
        6 => kind,
        2 => Just(fast("null")),
        1 => prop::sample::select(vec!["1", "\"s\"", "[]", "true"]).prop_map(slow),
    ]
    .boxed()
}

/// A string member as the service fills it: a string or `null`.
fn clean_string() -> BoxedStrategy<Json> {
    prop_oneof![3 => string_literal(), 1 => Just(fast("null"))].boxed()
}

/// A chunk in the service's own member order and shape, every value one the fast path handles.
fn service_shaped() -> BoxedStrategy<Json> {
    let call = (
        prop::sample::select(vec!["0", "1", "3"]),
        clean_string(),
        prop::option::of((prop::option::of(clean_string()), clean_string())),
    )
        .prop_map(|(index, (id, _), function)| {
            let function = match function {
                None => String::new(),
                Some((Some((name, _)), (args, _))) => {
                    format!(r#","function":{{"name":{name},"arguments":{args}}}"#)
                }
                Some((None, (args, _))) => format!(r#","function":{{"arguments":{args}}}"#),
            };
            format!(r#"{{"index":{index},"id":{id},"type":"function"{function}}}"#)
        });
    let delta = (
        clean_string(),
        clean_string(),
        any::<bool>(),
        prop::option::of(prop::collection::vec(call, 1..3)),
    )
        .prop_map(|((content, _), (reasoning, _), role, calls)| {
            let role = if role { r#","role":"assistant""# } else { "" };
            let calls = calls.map_or(String::new(), |c| {
                format!(r#","tool_calls":[{}]"#, c.join(","))
            });
            format!(r#"{{"content":{content},"reasoning_content":{reasoning}{role}{calls}}}"#)
        });
    (
        delta,
        prop::sample::select(vec!["null", "\"stop\"", "\"tool_calls\"", "\"length\""]),
        clean_string(),
        clean_string(),
    )
        .prop_map(|(delta, finish, (model, _), (id, _))| {
            fast(format!(
                r#"{{"choices":[{{"delta":{delta},"finish_reason":{finish},"index":0,"logprobs":null}}],"object":"chat.completion.chunk","usage":null,"created":1776307217,"system_fingerprint":null,"model":{model},"id":{id}}}"#
            ))
        })
        .boxed()
}

/// A chunk: service-shaped, or any object of the chunk's members (and unknown ones).
fn chunk() -> BoxedStrategy<Json> {
    prop_oneof![service_shaped(), any_chunk()].boxed()
}

fn any_chunk() -> BoxedStrategy<Json> {
    let function = object(vec![
        ("name", opt_string().boxed()),
        ("arguments", opt_string().boxed()),
    ]);
    let tool_call = object(vec![
        ("index", index().boxed()),
        ("id", opt_string().boxed()),
        ("type", opt_enum().boxed()),
        ("function", nullable(function)),
    ]);
    let audio = object(vec![
        ("id", opt_string().boxed()),
        ("data", opt_string().boxed()),
        ("expires_at", created().boxed()),
        ("transcript", opt_string().boxed()),
        ("url", opt_string().boxed()),
    ]);
    let delta = object(vec![
        ("role", opt_enum().boxed()),
        ("content", opt_string().boxed()),
        ("reasoning_content", opt_string().boxed()),
        ("tool_calls", nullable(array(tool_call))),
        ("audio", nullable(audio)),
    ]);
    let logprobs = prop_oneof![
        3 => Just(fast("null")),
        1 => Just(slow(r#"{"content":[{"token":"a","logprob":-0.5,"bytes":[97],"top_logprobs":[]}]}"#)),
    ];
    let choice = object(vec![
        ("index", index().boxed()),
        ("delta", nullable(delta)),
        ("finish_reason", opt_enum().boxed()),
        ("logprobs", logprobs.boxed()),
    ]);
    let usage = prop_oneof![
        3 => Just(fast("null")),
        1 => Just(slow(
            r#"{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7,"completion_tokens_details":{"reasoning_tokens":2}}"#
        )),
    ];
    object(vec![
        ("id", opt_string().boxed()),
        ("object", opt_string().boxed()),
        ("created", created().boxed()),
        ("model", opt_string().boxed()),
        ("system_fingerprint", opt_string().boxed()),
        ("choices", nullable(array(choice))),
        ("usage", usage.boxed()),
    ])
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
            b'.', b'e', b'n', b' ', b'\n', b'u', 0x7f, 0xc3, 0xff,
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
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Generated chunks: the contract always holds, and the fast path takes every chunk made
    /// only of shapes it handles.
    #[test]
    fn generated_chunks_meet_the_contract((data, handled) in chunk()) {
        let got = check(&data)?;
        if handled {
            prop_assert!(got.is_some(), "the fast path gave up on {:?}", data);
        }
    }

    /// The same chunks with random bytes truncated, replaced, inserted or deleted.
    #[test]
    fn mutated_chunks_meet_the_contract(
        (data, _) in chunk(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        check(&mutate(&data, &mutations))?;
    }
}

/// The generator is not vacuous: a good share of its chunks are of the handled shapes (which
/// the property above requires the fast path to take), and they are not all trivial.
#[test]
fn the_generator_makes_handled_chunks() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = chunk();
    let (mut handled, mut with_choices) = (0, 0);
    for _ in 0..300 {
        let (data, ok) = strategy.new_tree(&mut runner).expect("a value").current();
        if ok {
            handled += 1;
            let got = assert_contract(&data).expect("handled shapes take the fast path");
            with_choices += usize::from(got.choices.iter().any(|c| c.delta != Delta::default()));
        }
    }
    assert!(
        handled >= 60,
        "{handled} of 300 generated chunks are handled shapes"
    );
    assert!(
        with_choices >= 10,
        "{with_choices} handled chunks have a non-empty delta"
    );
}
