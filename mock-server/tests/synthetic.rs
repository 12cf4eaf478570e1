//! The synthetic responder and validation, over TCP: determinism, the same answer in every
//! dialect stream or not (read back through the protocol crate's unified readers), tool-call
//! arguments that satisfy their schemas, each validation rule in each dialect's error shape,
//! and `previous_response_id`.

mod common;

use std::time::Duration;

use common::schema;
use common::*;
use dashscope_mock::{MockServer, Synthetic};
use dashscope_protocol::cassette::Dialect;
use dashscope_protocol::error::ApiError;
use dashscope_protocol::sse::{Decoder, Mode};
use dashscope_protocol::unified::{
    DialectChunk, DialectRequest, DialectResponse, FinishReason, StreamReader, UnifiedResponse,
};
use serde_json::{Value, json};

const MULTIMODAL: &str = "/api/v1/services/aigc/multimodal-generation/generation";
const LEGACY: &str = "/api/v2/apps/protocols/compatible-mode/v1/responses";

/// A conversation in the abstract, written in each dialect by [`Conv::request`].
#[derive(Clone)]
struct Conv {
    model: &'static str,
    user: Value,
    system: Option<&'static str>,
    tools: Vec<(&'static str, Value)>,
    tool_choice: Option<Value>,
    thinking: bool,
    format: Option<Value>,
    max_tokens: Option<u64>,
    n: Option<u64>,
}

impl Conv {
    fn text(t: &str) -> Conv {
        Conv {
            model: "qwen-plus",
            user: json!(t),
            system: None,
            tools: Vec::new(),
            tool_choice: None,
            thinking: false,
            format: None,
            max_tokens: None,
            n: None,
        }
    }

    fn has_media(&self) -> bool {
        self.user.is_array()
    }

    /// The user content in a dialect: parts are `(kind, value)` pairs in the chat shape.
    fn user_content(&self, d: Dialect) -> Value {
        let Some(parts) = self.user.as_array() else {
            return self.user.clone();
        };
        Value::Array(
            parts
                .iter()
                .map(|p| match (d, p["type"].as_str().unwrap()) {
                    (Dialect::Chat, _) => p.clone(),
                    (Dialect::Native, "text") => json!({"text": p["text"]}),
                    (Dialect::Native, _) => json!({"image": p["image_url"]["url"]}),
                    (Dialect::Responses, "text") => {
                        json!({"type": "input_text", "text": p["text"]})
                    }
                    (Dialect::Responses, _) => {
                        json!({"type": "input_image", "image_url": p["image_url"]["url"]})
                    }
                })
                .collect(),
        )
    }

    /// The request body and path of this conversation in a dialect.
    fn request(&self, d: Dialect, stream: bool) -> (&'static str, Value) {
        let content = self.user_content(d);
        match d {
            Dialect::Chat => {
                let mut messages = Vec::new();
                if let Some(s) = self.system {
                    messages.push(json!({"role": "system", "content": s}));
                }
                messages.push(json!({"role": "user", "content": content}));
                let mut b = json!({"model": self.model, "messages": messages});
                if !self.tools.is_empty() {
                    b["tools"] = Value::Array(
                        self.tools
                            .iter()
                            .map(|(n, p)| json!({"type": "function", "function": {"name": n, "description": "d", "parameters": p}}))
                            .collect(),
                    );
                }
                if let Some(tc) = &self.tool_choice {
                    b["tool_choice"] = tc.clone();
                }
                if self.thinking {
                    b["enable_thinking"] = json!(true);
                }
                if let Some(f) = &self.format {
                    b["response_format"] = f.clone();
                }
                if let Some(m) = self.max_tokens {
                    b["max_tokens"] = json!(m);
                }
                if let Some(n) = self.n {
                    b["n"] = json!(n);
                }
                if stream {
                    b["stream"] = json!(true);
                    b["stream_options"] = json!({"include_usage": true});
                }
                (CHAT, b)
            }
            Dialect::Native => {
                let mut messages = Vec::new();
                if let Some(s) = self.system {
                    messages.push(json!({"role": "system", "content": s}));
                }
                messages.push(json!({"role": "user", "content": content}));
                let mut p = json!({"result_format": "message", "incremental_output": true});
                if !self.tools.is_empty() {
                    p["tools"] = Value::Array(
                        self.tools
                            .iter()
                            .map(|(n, s)| json!({"type": "function", "function": {"name": n, "description": "d", "parameters": s}}))
                            .collect(),
                    );
                }
                if let Some(tc) = &self.tool_choice {
                    p["tool_choice"] = tc.clone();
                }
                if self.thinking {
                    p["enable_thinking"] = json!(true);
                }
                if let Some(f) = &self.format {
                    p["response_format"] = f.clone();
                }
                if let Some(m) = self.max_tokens {
                    p["max_tokens"] = json!(m);
                }
                if let Some(n) = self.n {
                    p["n"] = json!(n);
                }
                let path = if self.has_media() { MULTIMODAL } else { NATIVE };
                (
                    path,
                    json!({"model": self.model, "input": {"messages": messages}, "parameters": p}),
                )
            }
            Dialect::Responses => {
                let mut b =
                    json!({"model": self.model, "input": [{"role": "user", "content": content}]});
                if let Some(s) = self.system {
                    b["instructions"] = json!(s);
                }
                if !self.tools.is_empty() {
                    b["tools"] = Value::Array(
                        self.tools
                            .iter()
                            .map(|(n, p)| json!({"type": "function", "name": n, "description": "d", "parameters": p}))
                            .collect(),
                    );
                }
                if let Some(tc) = &self.tool_choice {
                    let mut tc = tc.clone();
                    if let Some(name) = tc.pointer("/function/name").cloned() {
                        tc = json!({"type": "function", "name": name});
                    }
                    b["tool_choice"] = tc;
                }
                if self.thinking {
                    b["enable_thinking"] = json!(true);
                }
                if let Some(f) = &self.format {
                    let mut f = f.clone();
                    if let Some(js) = f.get("json_schema").cloned() {
                        f = json!({"type": "json_schema", "name": js["name"], "schema": js["schema"]});
                    }
                    b["text"] = json!({"format": f});
                }
                if let Some(m) = self.max_tokens {
                    b["max_output_tokens"] = json!(m);
                }
                if stream {
                    b["stream"] = json!(true);
                }
                (RESPONSES, b)
            }
        }
    }
}

fn dialect_of(path: &str) -> Dialect {
    if path == CHAT {
        Dialect::Chat
    } else if path.ends_with("/responses") {
        Dialect::Responses
    } else {
        Dialect::Native
    }
}

/// Sends a request and reads the answer back as a unified response.
fn ask(s: &MockServer, path: &str, body: &Value, stream: bool) -> (Raw, UnifiedResponse) {
    let d = dialect_of(path);
    let sse: &[(&str, &str)] = if stream && d == Dialect::Native {
        &[
            ("x-dashscope-sse", "enable"),
            ("accept", "text/event-stream"),
        ]
    } else {
        &[]
    };
    let raw = post(s.address(), path, sse, body);
    assert_eq!(raw.status, 200, "{path} {body}: {}", raw.text());
    let rid = raw.header("x-request-id").expect("x-request-id");
    let request = DialectRequest::from_json(d, body).expect("a valid request");
    let unified = if stream {
        assert_eq!(
            raw.header("content-type").as_deref(),
            Some("text/event-stream;charset=UTF-8")
        );
        let mode = if d == Dialect::Chat {
            Mode::Standard
        } else {
            Mode::DataLineIsEvent
        };
        let mut dec = Decoder::with_mode(mode);
        dec.feed(&raw.body);
        dec.finish();
        let mut reader = StreamReader::for_request(&request);
        let mut events = Vec::new();
        let mut datas = Vec::new();
        while let Some(ev) = dec.next_event() {
            let ev = ev.expect("well-framed SSE");
            if d != Dialect::Chat {
                assert_eq!(ev.http_status, Some(200));
                assert!(ev.id.is_some() && ev.event.is_some());
            }
            datas.push(ev.data.to_owned());
        }
        if d == Dialect::Chat {
            assert_eq!(datas.last().map(String::as_str), Some("[DONE]"));
            datas.pop();
        }
        for data in &datas {
            let v: Value = serde_json::from_str(data).expect("JSON data");
            match d {
                Dialect::Chat => {
                    assert_eq!(v["id"], format!("chatcmpl-{rid}"));
                    assert!(v.get("usage").is_some(), "every chunk has a usage member");
                }
                Dialect::Native => assert_eq!(v["request_id"], rid.as_str()),
                Dialect::Responses => {}
            }
            let chunk = DialectChunk::from_json(d, &v).expect("a chunk of the dialect");
            reader.read(chunk, &mut events);
        }
        fold(&events)
    } else {
        let v = raw.json();
        match d {
            Dialect::Chat => assert_eq!(v["id"], format!("chatcmpl-{rid}")),
            Dialect::Native => assert_eq!(v["request_id"], rid.as_str()),
            Dialect::Responses => assert_eq!(v["id"], format!("resp_{rid}")),
        }
        let r = DialectResponse::from_json(d, &v).expect("a response of the dialect");
        UnifiedResponse::from_response(&r)
    };
    (raw, unified)
}

/// What every dialect must agree on.
fn essence(r: &UnifiedResponse) -> Value {
    let u = r.usage.clone().unwrap_or_default();
    json!({
        "candidates": r.candidates.iter().map(|c| json!({
            "index": c.index,
            "text": c.text,
            "reasoning": c.reasoning,
            "calls": c.tool_calls.iter().map(|t| json!([t.id, t.name, t.arguments])).collect::<Vec<_>>(),
            "finish": c.finish_reason.as_ref().map(FinishReason::as_str),
        })).collect::<Vec<_>>(),
        "usage": [u.input_tokens, u.output_tokens, u.total_tokens, u.reasoning_tokens.unwrap_or(0)],
    })
}

fn weather() -> (&'static str, Value) {
    (
        "get_weather",
        json!({"type": "object", "properties": {
            "location": {"type": "string", "description": "a city"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 7}
        }, "required": ["location"]}),
    )
}

fn conversations() -> Vec<(&'static str, Conv)> {
    let mut v = Vec::new();
    v.push(("plain", Conv::text("What is the tallest mountain?")));
    let mut c = Conv::text("Explain tides briefly.");
    c.system = Some("Be brief.");
    c.thinking = true;
    v.push(("thinking", c));
    let mut c = Conv::text("What's the weather in Hangzhou?");
    c.tools = vec![weather()];
    v.push(("tool auto", c));
    let mut c = Conv::text("Think, then call a tool.");
    c.tools = vec![
        weather(),
        (
            "lookup",
            json!({"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}),
        ),
    ];
    c.tool_choice = Some(json!({"type": "function", "function": {"name": "lookup"}}));
    v.push(("tool named", c));
    let mut c = Conv::text("Reply in json please.");
    c.format = Some(json!({"type": "json_object"}));
    v.push(("json_object", c));
    let mut c = Conv::text("Describe a book.");
    c.format = Some(
        json!({"type": "json_schema", "json_schema": {"name": "book", "schema": {"type": "object", "properties": {"title": {"type": "string"}, "pages": {"type": "integer", "minimum": 1}}, "required": ["title", "pages"], "additionalProperties": false}}}),
    );
    v.push(("json_schema", c));
    let mut c = Conv::text("Write a long story about a lighthouse keeper.");
    c.max_tokens = Some(20);
    c.thinking = true;
    v.push(("max_tokens", c));
    let mut c = Conv::text("x");
    c.model = "qwen-vl-plus";
    c.user = json!([
        {"type": "image_url", "image_url": {"url": "https://example.com/photos/dog_and_girl.jpeg"}},
        {"type": "text", "text": "What is in this picture?"}
    ]);
    v.push(("image", c));
    v
}

#[test]
fn every_dialect_tells_the_same_answer_stream_or_not() {
    within(Duration::from_secs(60), || {
        let s = MockServer::builder().no_defaults().start().expect("server");
        for (name, conv) in conversations() {
            let mut seen: Vec<(String, Value)> = Vec::new();
            for d in [Dialect::Chat, Dialect::Responses, Dialect::Native] {
                for stream in [false, true] {
                    let (path, body) = conv.request(d, stream);
                    let (_, u) = ask(&s, path, &body, stream);
                    seen.push((format!("{} stream={stream}", d.as_str()), essence(&u)));
                }
            }
            let (first_name, first) = &seen[0];
            let c0 = &first["candidates"][0];
            assert!(
                !c0["text"].as_str().unwrap_or("").is_empty()
                    || !c0["reasoning"].as_str().unwrap_or("").is_empty()
                    || !c0["calls"].as_array().unwrap().is_empty(),
                "{name}: an answer"
            );
            if name == "max_tokens" {
                assert_eq!(c0["finish"], "length");
                assert_eq!(first["usage"][1], 20);
            }
            if name.starts_with("json") {
                let v: Value = serde_json::from_str(c0["text"].as_str().unwrap()).unwrap();
                assert!(v.is_object());
            }
            let usage = &first["usage"];
            assert_eq!(
                usage[2].as_u64(),
                Some(usage[0].as_u64().unwrap() + usage[1].as_u64().unwrap()),
                "{name}: totals add up"
            );
            for (other_name, other) in &seen[1..] {
                assert_eq!(
                    other, first,
                    "{name}: {other_name} differs from {first_name}"
                );
            }
        }
    });
}

#[test]
fn n_candidates_and_native_formats_agree() {
    within(Duration::from_secs(30), || {
        let s = MockServer::builder().no_defaults().start().expect("server");
        let mut conv = Conv::text("Give me three ideas.");
        conv.n = Some(3);
        let mut all = Vec::new();
        for d in [Dialect::Chat, Dialect::Native] {
            for stream in [false, true] {
                let (path, body) = conv.request(d, stream);
                let (_, u) = ask(&s, path, &body, stream);
                assert_eq!(u.candidates.len(), 3);
                all.push(essence(&u));
            }
        }
        assert!(all.windows(2).all(|w| w[0] == w[1]), "{all:#?}");
        // The first of n is the n = 1 answer.
        let (path, body) = Conv::text("Give me three ideas.").request(Dialect::Chat, false);
        let (_, one) = ask(&s, path, &body, false);
        assert_eq!(one.text(), all[0]["candidates"][0]["text"]);

        // Native: result_format text and message, incremental and cumulative, give one answer.
        let base = json!({"model": "qwen-max", "input": {"prompt": "Name a colour."}});
        let mut answers = Vec::new();
        for (format, incremental) in [
            ("text", true),
            ("text", false),
            ("message", true),
            ("message", false),
        ] {
            for stream in [false, true] {
                let mut b = base.clone();
                b["parameters"] =
                    json!({"result_format": format, "incremental_output": incremental});
                let (raw, u) = ask(&s, NATIVE, &b, stream);
                if format == "text" && !stream {
                    assert!(raw.json()["output"]["text"].is_string());
                }
                answers.push(essence(&u));
            }
        }
        assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:#?}");
        // Cumulative chunks repeat everything so far.
        let mut b = base.clone();
        b["parameters"] = json!({"result_format": "text", "incremental_output": false});
        let raw = post(s.address(), NATIVE, &[("x-dashscope-sse", "enable")], &b);
        let texts: Vec<String> = raw
            .text()
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(|d| {
                serde_json::from_str::<Value>(d).unwrap()["output"]["text"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert!(texts.len() > 2);
        assert!(
            texts.windows(2).all(|w| w[1].starts_with(&w[0])),
            "{texts:?}"
        );
        let finishes: Vec<String> = raw
            .text()
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(|d| {
                serde_json::from_str::<Value>(d).unwrap()["output"]["finish_reason"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert!(finishes[..finishes.len() - 1].iter().all(|f| f == "null"));
        assert_eq!(finishes.last().map(String::as_str), Some("stop"));
    });
}

#[test]
fn a_seeded_server_answers_the_same_bytes() {
    within(Duration::from_secs(60), || {
        let a = MockServer::builder()
            .no_defaults()
            .seed(5)
            .start()
            .expect("server");
        let b = MockServer::builder()
            .no_defaults()
            .seed(5)
            .start()
            .expect("server");
        let other = MockServer::builder()
            .no_defaults()
            .seed(6)
            .start()
            .expect("server");
        let conv = {
            let mut c = Conv::text("Same question, same answer?");
            c.thinking = true;
            c
        };
        for d in [Dialect::Chat, Dialect::Responses, Dialect::Native] {
            for stream in [false, true] {
                let (path, body) = conv.request(d, stream);
                let (ra, ua) = ask(&a, path, &body, stream);
                let (rb, _) = ask(&b, path, &body, stream);
                assert_eq!(ra.body, rb.body, "{path} stream={stream}");
                let (_, uo) = ask(&other, path, &body, stream);
                assert_ne!(ua.text(), uo.text(), "another server seed, another answer");
            }
        }
        // The request's own seed changes the answer too.
        let (path, mut body) = Conv::text("Seeded?").request(Dialect::Chat, false);
        let (_, plain) = ask(&a, path, &body, false);
        body["seed"] = json!(42);
        let (_, seeded) = ask(&a, path, &body, false);
        assert_ne!(plain.text(), seeded.text());
    });
}

#[test]
fn tool_call_arguments_satisfy_their_schemas() {
    within(Duration::from_secs(60), || {
        let s = MockServer::builder().no_defaults().start().expect("server");
        let schemas = [
            weather().1,
            json!({"type": "object", "properties": {
                "ids": {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1, "maxItems": 3},
                "when": {"type": "string", "format": "date"},
                "opts": {"type": "object", "properties": {"fast": {"type": "boolean"}}, "required": ["fast"]},
                "tag": {"anyOf": [{"type": "null"}, {"type": "string", "maxLength": 4}]}
            }, "required": ["ids", "opts"], "additionalProperties": false}),
            json!({"$defs": {"p": {"type": "object", "properties": {"x": {"type": "number", "exclusiveMinimum": 0, "maximum": 1}}, "required": ["x"]}},
                   "type": "object", "properties": {"a": {"$ref": "#/$defs/p"}, "b": {"$ref": "#/$defs/p"}}, "required": ["a", "b"]}),
            json!({"type": "object", "properties": {}}),
        ];
        for (i, schema) in schemas.iter().enumerate() {
            for tool_choice in [None, Some(json!("required"))] {
                let mut conv = Conv::text(&format!("Please call the tool ({i})."));
                conv.tools = vec![("do_it", schema.clone())];
                conv.tool_choice = tool_choice.clone();
                for d in [Dialect::Chat, Dialect::Responses, Dialect::Native] {
                    for stream in [false, true] {
                        let (path, body) = conv.request(d, stream);
                        let (_, u) = ask(&s, path, &body, stream);
                        let calls = u.tool_calls();
                        assert_eq!(calls.len(), 1, "{path}: a tool call for schema {i}");
                        assert_eq!(u.finish_reason(), Some(&FinishReason::ToolCalls));
                        let args: Value = serde_json::from_str(&calls[0].arguments).unwrap();
                        if let Err(e) = schema::check(schema, &args) {
                            panic!("{path}: {args} does not satisfy schema {i}: {e}");
                        }
                        assert!(calls[0].id.starts_with("call_"));
                    }
                }
            }
        }
        // The named place lands in a location argument; after the tool's result: text.
        let (path, body) = {
            let mut c = Conv::text("What's the weather in Paris?");
            c.tools = vec![weather()];
            c.request(Dialect::Chat, false)
        };
        let (_, u) = ask(&s, path, &body, false);
        let call = u.tool_calls()[0].clone();
        let args: Value = serde_json::from_str(&call.arguments).unwrap();
        assert_eq!(args["location"], "Paris");
        let mut next = body.clone();
        next["messages"].as_array_mut().unwrap().extend([
            json!({"role": "assistant", "content": "", "tool_calls": [{"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}]}),
            json!({"role": "tool", "tool_call_id": call.id, "content": "Sunny, 21 degrees"}),
        ]);
        let (_, u) = ask(&s, CHAT, &next, false);
        assert!(u.tool_calls().is_empty());
        assert!(u.text().contains("Sunny, 21 degrees"), "{}", u.text());
        // tool_choice none: text even on a user turn.
        next = body.clone();
        next["tool_choice"] = json!("none");
        let (_, u) = ask(&s, CHAT, &next, false);
        assert!(u.tool_calls().is_empty() && !u.text().is_empty());
    });
}

#[test]
fn limits_stop_and_media() {
    within(Duration::from_secs(30), || {
        let s = MockServer::builder().no_defaults().start().expect("server");
        let (path, body) = Conv::text("Tell me about the sea.").request(Dialect::Chat, false);
        let (_, full) = ask(&s, path, &body, false);
        let full_text = full.text().to_owned();
        // max_tokens: a prefix, finish length; Responses: status incomplete.
        let mut b = body.clone();
        b["max_tokens"] = json!(5);
        let (raw, cut) = ask(&s, CHAT, &b, false);
        assert_eq!(raw.json()["choices"][0]["finish_reason"], "length");
        assert_eq!(raw.json()["usage"]["completion_tokens"], 5);
        assert!(full_text.starts_with(cut.text()));
        let r = json!({"model": "qwen-plus", "input": "Tell me about the sea.", "max_output_tokens": 16});
        let (raw, _) = ask(&s, RESPONSES, &r, false);
        assert_eq!(raw.json()["status"], "incomplete");
        assert_eq!(
            raw.json()["incomplete_details"]["reason"],
            "max_output_tokens"
        );
        let mut rs = r.clone();
        rs["stream"] = json!(true);
        let (raw, _) = ask(&s, RESPONSES, &rs, true);
        assert!(raw.text().contains("event:response.incomplete\n"));
        // stop: cut before the first stop string.
        let word = full_text.split(' ').nth(4).unwrap().to_owned();
        let mut b = body.clone();
        b["stop"] = json!([word.clone(), "zzz-never"]);
        let (_, stopped) = ask(&s, CHAT, &b, false);
        assert_eq!(stopped.text(), &full_text[..full_text.find(&word).unwrap()]);
        // Media are mentioned.
        let native = json!({"model": "qwen-vl-max", "input": {"messages": [{"role": "user", "content": [
            {"video": ["https://example.com/f1.jpg", "https://example.com/f2.jpg"]}, {"audio": "https://example.com/a/voice.mp3"}, {"text": "What happens?"}]}]}});
        let (raw, u) = ask(&s, MULTIMODAL, &native, false);
        assert!(u.text().contains("a video of 2 frames"), "{}", u.text());
        assert!(u.text().contains("voice.mp3"));
        assert!(raw.json()["output"]["choices"][0]["message"]["content"][0]["text"].is_string());
    });
}

#[test]
fn responses_chain_through_previous_response_id() {
    within(Duration::from_secs(30), || {
        let s = MockServer::builder().no_defaults().start().expect("server");
        for path in [RESPONSES, LEGACY] {
            let first = json!({"model": "qwen-plus", "input": "My name is Ada."});
            let (raw, _) = ask(&s, path, &first, false);
            let id = raw.json()["id"].as_str().unwrap().to_owned();
            let second = json!({"model": "qwen-plus", "input": "What is my name?", "previous_response_id": id});
            let (raw, u) = ask(&s, path, &second, false);
            assert_eq!(raw.json()["previous_response_id"], id.as_str());
            assert!(
                u.text().contains("Earlier you said: \"My name is Ada.\""),
                "{}",
                u.text()
            );
            let id2 = raw.json()["id"].as_str().unwrap().to_owned();
            // Streamed third turn, continuing the chain.
            let third = json!({"model": "qwen-plus", "input": "And again?", "previous_response_id": id2, "stream": true});
            let (_, u3) = ask(&s, path, &third, true);
            assert!(u3.text().contains("Earlier you said: \"What is my name?\""));
            // Without the chain: no memory.
            let alone = json!({"model": "qwen-plus", "input": "What is my name?"});
            let (_, u) = ask(&s, path, &alone, false);
            assert!(!u.text().contains("Earlier"));
            // An unknown id: 400 in the compat shape, plain and SSE-framed.
            let bad =
                json!({"model": "qwen-plus", "input": "x", "previous_response_id": "resp_nope"});
            let raw = post(s.address(), path, &[], &bad);
            assert_eq!(raw.status, 400);
            let e = ApiError::from_body(Some(400), &raw.body).unwrap();
            assert_eq!(e.code.as_deref(), Some("invalid_parameter_error"));
            assert_eq!(raw.json()["error"]["param"], "previous_response_id");
            assert_eq!(
                raw.header("x-request-id").as_deref(),
                raw.json()["request_id"].as_str()
            );
            let mut bs = bad.clone();
            bs["stream"] = json!(true);
            let raw = post(s.address(), path, &[], &bs);
            assert_eq!(raw.status, 400);
            assert!(raw.text().starts_with("data: {\"error\":"));
            // store: false is not kept.
            let unstored = json!({"model": "qwen-plus", "input": "forget me", "store": false});
            let (raw, _) = ask(&s, path, &unstored, false);
            let gone = raw.json()["id"].as_str().unwrap().to_owned();
            let next = json!({"model": "qwen-plus", "input": "x", "previous_response_id": gone});
            assert_eq!(post(s.address(), path, &[], &next).status, 400);
        }
    });
}

/// One validation case: the endpoint, the body, and the expected native code and a piece of
/// the message.
struct Case {
    path: &'static str,
    body: Value,
    native_code: &'static str,
    says: &'static str,
}

fn case(path: &'static str, body: Value, says: &'static str) -> Case {
    Case {
        path,
        body,
        native_code: "InvalidParameter",
        says,
    }
}

fn validation_cases() -> Vec<Case> {
    let chat = |extra: Value| {
        let mut b = json!({"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}]});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let native = |params: Value| json!({"model": "qwen-plus", "input": {"messages": [{"role": "user", "content": "hi"}]}, "parameters": params});
    let resp = |extra: Value| {
        let mut b = json!({"model": "qwen-plus", "input": "hi"});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    vec![
        case(CHAT, json!({"model": "qwen-plus"}), "\"messages\" missing"),
        case(
            CHAT,
            json!({"model": "qwen-plus", "messages": []}),
            "must not be empty",
        ),
        case(
            CHAT,
            json!({"model": "qwen-plus", "messages": "hi"}),
            "list of message objects",
        ),
        case(
            CHAT,
            json!({"model": "qwen-plus", "messages": [{"role": "robot", "content": "hi"}]}),
            "Invalid role 'robot'",
        ),
        case(
            CHAT,
            json!({"model": "qwen-plus", "messages": [{"content": "hi"}]}),
            "has no role",
        ),
        case(
            CHAT,
            json!({"model": "qwen-plus", "messages": [{"role": "user", "content": [{"text": "hi"}]}]}),
            "key[type]",
        ),
        case(
            CHAT,
            json!({"model": "qwen-plus", "messages": [{"role": "user", "content": 7}]}),
            "content must be",
        ),
        case(
            CHAT,
            chat(json!({"temperature": 2})),
            "Range of temperature",
        ),
        case(
            CHAT,
            chat(json!({"temperature": -0.1})),
            "Range of temperature",
        ),
        case(
            CHAT,
            chat(json!({"temperature": "hot"})),
            "must be a number",
        ),
        case(CHAT, chat(json!({"top_p": 0})), "Range of top_p"),
        case(CHAT, chat(json!({"top_p": 1.5})), "Range of top_p"),
        case(
            CHAT,
            chat(json!({"top_logprobs": 6})),
            "Range of top_logprobs",
        ),
        case(CHAT, chat(json!({"n": 0})), "Range of n"),
        case(CHAT, chat(json!({"n": 5})), "Range of n"),
        case(
            CHAT,
            chat(json!({"response_format": {"type": "json_object"}})),
            "must contain the word 'json'",
        ),
        case(
            CHAT,
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
            "is not supported",
        ),
        case(
            CHAT,
            chat(
                json!({"enable_thinking": true, "tool_choice": "required", "tools": [{"type": "function", "function": {"name": "f"}}]}),
            ),
            "thinking mode",
        ),
        case(
            RESPONSES,
            json!({"model": "qwen-plus"}),
            "\"input\" missing",
        ),
        case(
            RESPONSES,
            json!({"model": "qwen-plus", "input": []}),
            "must not be empty",
        ),
        case(
            RESPONSES,
            json!({"model": "qwen-plus", "input": [{"role": "tool", "content": "x"}]}),
            "Invalid role 'tool'",
        ),
        case(
            RESPONSES,
            resp(json!({"temperature": 2.5})),
            "Range of temperature",
        ),
        case(RESPONSES, resp(json!({"top_p": 0})), "Range of top_p"),
        case(
            RESPONSES,
            resp(json!({"top_logprobs": -1})),
            "Range of top_logprobs",
        ),
        case(
            RESPONSES,
            resp(json!({"text": {"format": {"type": "json_object"}}})),
            "must contain the word 'json'",
        ),
        case(
            RESPONSES,
            json!({"model": "claude", "input": "hi"}),
            "is not supported",
        ),
        Case {
            path: NATIVE,
            body: json!({"model": "qwen-plus", "parameters": {}}),
            native_code: "BadRequest.EmptyInput",
            says: "Required input parameter missing",
        },
        case(
            NATIVE,
            json!({"model": "qwen-plus", "input": {}}),
            "Either \"prompt\" or \"messages\"",
        ),
        case(
            NATIVE,
            json!({"model": "qwen-plus", "input": {"messages": []}}),
            "Content length must be greater than 0",
        ),
        case(
            NATIVE,
            json!({"model": "qwen-plus", "input": {"messages": [{"role": "bot", "content": "x"}]}}),
            "Invalid role 'bot'",
        ),
        case(
            NATIVE,
            native(json!({"temperature": 2})),
            "Range of temperature",
        ),
        case(NATIVE, native(json!({"top_p": 0})), "Range of top_p"),
        case(
            NATIVE,
            native(json!({"top_logprobs": 9})),
            "Range of top_logprobs",
        ),
        case(NATIVE, native(json!({"n": 7})), "Range of n"),
        case(
            NATIVE,
            native(json!({"response_format": {"type": "json_object"}})),
            "must contain the word 'json'",
        ),
        case(
            NATIVE,
            json!({"model": "unknown-model", "input": {"prompt": "hi"}}),
            "Model not exist.",
        ),
    ]
}

#[test]
fn each_validation_rule_answers_in_each_dialect_shape() {
    within(Duration::from_secs(60), || {
        let s = MockServer::builder().no_defaults().start().expect("server");
        for c in validation_cases() {
            let d = dialect_of(c.path);
            // Non-stream.
            let raw = post(s.address(), c.path, &[], &c.body);
            assert_eq!(raw.status, 400, "{} {}: {}", c.path, c.body, raw.text());
            let rid = raw.header("x-request-id").unwrap();
            let v = raw.json();
            match d {
                Dialect::Native => {
                    assert_eq!(v["code"], c.native_code, "{}", c.body);
                    assert!(
                        v["message"].as_str().unwrap().contains(c.says),
                        "{} -> {v}",
                        c.body
                    );
                    assert_eq!(v["request_id"], rid.as_str());
                }
                _ => {
                    assert_eq!(v["error"]["code"], "invalid_parameter_error", "{}", c.body);
                    assert_eq!(v["error"]["type"], "invalid_request_error");
                    assert!(
                        v["error"]["message"].as_str().unwrap().contains(c.says),
                        "{} -> {v}",
                        c.body
                    );
                    assert_eq!(v["request_id"], rid.as_str());
                }
            }
            // Stream: SSE-framed as the service does.
            let mut body = c.body.clone();
            let headers: &[(&str, &str)] = if d == Dialect::Native {
                &[("x-dashscope-sse", "enable")]
            } else {
                body["stream"] = json!(true);
                &[]
            };
            let raw = post(s.address(), c.path, headers, &body);
            assert_eq!(
                raw.header("content-type").as_deref(),
                Some("text/event-stream;charset=UTF-8")
            );
            let text = raw.text();
            match d {
                Dialect::Native => {
                    assert_eq!(
                        raw.status, 200,
                        "native validation errors stream under HTTP 200"
                    );
                    assert!(
                        text.starts_with("id:1\nevent:error\n:HTTP_STATUS/400\ndata:{\"code\":"),
                        "{text}"
                    );
                }
                _ => {
                    assert_eq!(raw.status, 400);
                    assert!(text.starts_with("data: {\"error\":"), "{text}");
                    assert!(!text.contains("[DONE]"));
                }
            }
            let e = ApiError::from_body(Some(400), &raw.body).expect("an API error");
            assert!(e.message.contains(c.says), "{}: {e:?}", c.body);
        }
    });
}

#[test]
fn the_model_list_is_configurable_and_headers_are_realistic() {
    within(Duration::from_secs(30), || {
        let any = MockServer::builder()
            .no_defaults()
            .responder(Synthetic::models(["*"]))
            .start()
            .expect("server");
        let body =
            json!({"model": "my-own-model", "messages": [{"role": "user", "content": "hi"}]});
        let (raw, _) = ask(&any, CHAT, &body, false);
        assert_eq!(raw.json()["model"], "my-own-model");
        let only = MockServer::builder()
            .no_defaults()
            .responder(Synthetic::models(["qwen-max"]))
            .start()
            .expect("server");
        let plus = json!({"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}]});
        assert_eq!(post(only.address(), CHAT, &[], &plus).status, 400);
        // Realistic headers on a synthetic answer.
        let s = MockServer::builder().no_defaults().start().expect("server");
        let raw = post(
            s.address(),
            NATIVE,
            &[],
            &json!({"model": "qwen-plus", "input": {"prompt": "hi"}}),
        );
        assert_eq!(
            raw.header("x-dashscope-call-gateway").as_deref(),
            Some("true")
        );
        assert_eq!(raw.header("x-dashscope-finished").as_deref(), Some("true"));
        assert_eq!(raw.header("server").as_deref(), Some("istio-envoy"));
        assert_eq!(
            raw.header("content-type").as_deref(),
            Some("application/json")
        );
        let raw = post(
            s.address(),
            NATIVE,
            &[("x-dashscope-sse", "enable")],
            &json!({"model": "qwen-plus", "input": {"prompt": "hi"}}),
        );
        assert_eq!(raw.header("x-dashscope-finished").as_deref(), Some("false"));
        // Strict mode skips the responder (and its validation).
        let strict = MockServer::builder()
            .no_defaults()
            .strict(true)
            .start()
            .expect("server");
        assert_eq!(post(strict.address(), CHAT, &[], &plus).status, 404);
        assert_eq!(
            post(strict.address(), CHAT, &[], &json!({"model": "qwen-plus"})).status,
            404
        );
    });
}

#[test]
fn one_unified_answer_replays_in_every_dialect() {
    use dashscope_protocol::unified::{Candidate, ToolCall, Usage};

    within(Duration::from_secs(30), || {
        let answers = [
            UnifiedResponse {
                model: Some("qwen-plus".into()),
                candidates: vec![Candidate {
                    text: "The answer is 42, as everyone knows.".into(),
                    reasoning: "Deep thought took a while.".into(),
                    finish_reason: Some(FinishReason::Stop),
                    ..Default::default()
                }],
                usage: Some(Usage {
                    reasoning_tokens: Some(6),
                    ..Usage::new(9, 17)
                }),
                ..Default::default()
            },
            UnifiedResponse {
                model: Some("qwen-plus".into()),
                candidates: vec![Candidate {
                    tool_calls: vec![ToolCall::new("call_1", "lookup", "{\"q\":\"answer\"}")],
                    finish_reason: Some(FinishReason::ToolCalls),
                    ..Default::default()
                }],
                usage: Some(Usage::new(20, 8)),
                ..Default::default()
            },
        ];
        for answer in answers {
            let fixed = answer.clone();
            let s = MockServer::builder()
                .no_defaults()
                .responder(move |req: &dashscope_mock::MockRequest<'_>| Some(req.render(&fixed)))
                .start()
                .expect("server");
            let want = essence(&answer);
            for d in [Dialect::Chat, Dialect::Responses, Dialect::Native] {
                for stream in [false, true] {
                    let (path, body) = Conv::text("anything").request(d, stream);
                    let (_, got) = ask(&s, path, &body, stream);
                    assert_eq!(essence(&got), want, "{} stream={stream}", d.as_str());
                }
            }
        }
    });
}

#[test]
fn tool_arguments_take_the_user_words_in_any_language() {
    within(Duration::from_secs(60), || {
        let s = MockServer::builder().no_defaults().start().expect("server");
        for (prompt, place) in [
            ("杭州天气怎么样？", "杭州"),
            ("What's the weather in Hangzhou?", "Hangzhou"),
            ("明天苏州的天气如何？", "苏州"),
            ("東京の天気は？", "東京"),
            ("서울 날씨 어때?", "서울"),
            ("What's the weather like in Reykjavik today?", "Reykjavik"),
        ] {
            let mut c = Conv::text(prompt);
            c.tools = vec![weather()];
            for d in [Dialect::Chat, Dialect::Responses, Dialect::Native] {
                let (path, body) = c.request(d, false);
                // The same words twice: the same arguments (deterministic).
                let calls = [0, 1].map(|_| ask(&s, path, &body, false).1.tool_calls()[0].clone());
                assert_eq!(calls[0].arguments, calls[1].arguments);
                let args: Value = serde_json::from_str(&calls[0].arguments).unwrap();
                assert_eq!(args["location"], place, "{prompt} ({d:?})");
            }
        }
        // A query-like member takes the user's words as they are.
        let search = json!({"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]});
        for prompt in ["搜索一下通义千问的最新模型", "Find the newest Qwen models"] {
            let mut c = Conv::text(prompt);
            c.tools = vec![("web_search", search.clone())];
            let (path, body) = c.request(Dialect::Chat, false);
            let call = ask(&s, path, &body, false).1.tool_calls()[0].clone();
            let args: Value = serde_json::from_str(&call.arguments).unwrap();
            assert_eq!(args["query"], prompt);
        }
    });
}

#[test]
fn responses_output_text_has_logprobs_only_when_asked() {
    within(Duration::from_secs(30), || {
        let s = MockServer::builder().no_defaults().start().expect("server");
        let plain = json!({"model": "qwen-plus", "input": "Hello"});
        let text = |r: &Raw| r.json()["output"][0]["content"][0].clone();
        let r = post(s.address(), RESPONSES, &[], &plain);
        let part = text(&r);
        assert_eq!(part["type"], "output_text", "{}", r.text());
        assert!(part.get("logprobs").is_none(), "{part}");
        // A stream: the output items say the same; the content-part events keep their
        // documented `"logprobs": null` (protocol_notes §3.4).
        let mut stream = plain.clone();
        stream["stream"] = json!(true);
        let body = post(s.address(), RESPONSES, &[], &stream).text();
        let events: Vec<Value> = body
            .lines()
            .filter_map(|l| serde_json::from_str(l.strip_prefix("data:")?).ok())
            .collect();
        let of = |ty: &str| events.iter().find(|e| e["type"] == ty).cloned().unwrap();
        assert!(
            of("response.output_item.done")["item"]["content"][0]
                .get("logprobs")
                .is_none()
        );
        assert!(
            of("response.completed")["response"]["output"][0]["content"][0]
                .get("logprobs")
                .is_none()
        );
        assert_eq!(
            of("response.content_part.added")["part"]["logprobs"],
            Value::Null
        );
        assert!(
            of("response.content_part.added")["part"]
                .get("logprobs")
                .is_some()
        );
        for asks in [
            json!({"top_logprobs": 2}),
            json!({"include": ["message.output_text.logprobs"]}),
        ] {
            let mut body = plain.clone();
            body.as_object_mut()
                .unwrap()
                .extend(asks.as_object().unwrap().clone());
            let part = text(&post(s.address(), RESPONSES, &[], &body));
            assert!(
                part.get("logprobs").is_some_and(Value::is_null),
                "{asks}: {part}"
            );
        }
    });
}
