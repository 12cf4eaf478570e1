//! Serialization: building and serializing requests, deserializing responses.
//!
//! * `serialize_request/<dialect>`: `dashscope/<payload>` builds the dialect's request from a
//!   [`RequestSpec`] and serializes it to bytes; compat adds `async-openai/<payload>`, which
//!   builds async-openai 0.43's `CreateChatCompletionRequest` from the same spec (struct
//!   literals, no builder) and serializes it. Both must produce the same JSON (checked first).
//! * `deserialize_response/<dialect>`: `dashscope` parses the dialect's non-stream response
//!   from bytes as the client does (`wire::from_json_slice`); compat adds `async-openai` parsing
//!   the same bytes as its client does (`serde_json::from_slice`) into
//!   `CreateChatCompletionResponse`. Both check the body's UTF-8, which `from_str` would skip.

use std::hint::black_box;

use async_openai::types::chat::{
    ChatCompletionMessageToolCall, ChatCompletionMessageToolCalls,
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestAssistantMessageContent,
    ChatCompletionRequestMessage, ChatCompletionRequestMessageContentPartImage,
    ChatCompletionRequestMessageContentPartText, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestSystemMessageContent, ChatCompletionRequestToolMessage,
    ChatCompletionRequestToolMessageContent, ChatCompletionRequestUserMessage,
    ChatCompletionRequestUserMessageContent, ChatCompletionRequestUserMessageContentPart,
    ChatCompletionStreamOptions, ChatCompletionTool, ChatCompletionTools,
    CreateChatCompletionRequest, CreateChatCompletionResponse, FunctionCall, FunctionObject,
    ImageUrl,
};
use criterion::measurement::Measurement;
use criterion::{BenchmarkId, Criterion, Throughput};
use dashscope_benches::payloads::{self, Part, RequestSpec, Turn};
use dashscope_protocol::chat::ChatCompletion;
use dashscope_protocol::native::GenerationResponse;
use dashscope_protocol::responses::Response;
use dashscope_protocol::wire::from_json_slice;
use serde_json::Value;

#[path = "common/clock.rs"]
mod clock;

/// async-openai's request for `spec`, built the way a caller would without the builders.
#[allow(deprecated)] // `max_tokens` is deprecated upstream; DashScope still takes it.
fn openai_request(spec: &RequestSpec) -> CreateChatCompletionRequest {
    let messages = spec
        .turns
        .iter()
        .map(|t| match t {
            Turn::System(s) => {
                ChatCompletionRequestMessage::System(ChatCompletionRequestSystemMessage {
                    content: ChatCompletionRequestSystemMessageContent::Text(s.clone()),
                    name: None,
                })
            }
            Turn::User(s) => ChatCompletionRequestMessage::User(ChatCompletionRequestUserMessage {
                content: ChatCompletionRequestUserMessageContent::Text(s.clone()),
                name: None,
            }),
            Turn::UserParts(parts) => {
                ChatCompletionRequestMessage::User(ChatCompletionRequestUserMessage {
                    content: ChatCompletionRequestUserMessageContent::Array(
                        parts
                            .iter()
                            .map(|p| match p {
                                Part::Text(s) => ChatCompletionRequestUserMessageContentPart::Text(
                                    ChatCompletionRequestMessageContentPartText {
                                        text: s.clone(),
                                        ..Default::default()
                                    },
                                ),
                                Part::ImageUrl(u) => {
                                    ChatCompletionRequestUserMessageContentPart::ImageUrl(
                                        ChatCompletionRequestMessageContentPartImage {
                                            image_url: ImageUrl {
                                                url: u.clone(),
                                                detail: None,
                                            },
                                            ..Default::default()
                                        },
                                    )
                                }
                            })
                            .collect(),
                    ),
                    name: None,
                })
            }
            Turn::Assistant(s) => {
                ChatCompletionRequestMessage::Assistant(ChatCompletionRequestAssistantMessage {
                    content: Some(ChatCompletionRequestAssistantMessageContent::Text(
                        s.clone(),
                    )),
                    ..Default::default()
                })
            }
            Turn::AssistantToolCall {
                call_id,
                name,
                arguments,
            } => ChatCompletionRequestMessage::Assistant(ChatCompletionRequestAssistantMessage {
                content: Some(ChatCompletionRequestAssistantMessageContent::Text(
                    String::new(),
                )),
                tool_calls: Some(vec![ChatCompletionMessageToolCalls::Function(
                    ChatCompletionMessageToolCall {
                        id: call_id.clone(),
                        function: FunctionCall {
                            name: name.clone(),
                            arguments: arguments.clone(),
                        },
                    },
                )]),
                ..Default::default()
            }),
            Turn::ToolResult { call_id, content } => {
                ChatCompletionRequestMessage::Tool(ChatCompletionRequestToolMessage {
                    content: ChatCompletionRequestToolMessageContent::Text(content.clone()),
                    tool_call_id: call_id.clone(),
                })
            }
        })
        .collect();
    let tools = (!spec.tools.is_empty()).then(|| {
        spec.tools
            .iter()
            .map(|t| {
                ChatCompletionTools::Function(ChatCompletionTool {
                    function: FunctionObject {
                        name: t.name.clone(),
                        description: Some(t.description.clone()),
                        parameters: Some(t.parameters.clone()),
                        strict: None,
                    },
                })
            })
            .collect()
    });
    CreateChatCompletionRequest {
        messages,
        model: spec.model.clone(),
        stream: spec.stream.then_some(true),
        stream_options: spec.stream.then_some(ChatCompletionStreamOptions {
            include_usage: Some(true),
            include_obfuscation: None,
        }),
        // async-openai's temperature is an f32; the spec's values are exact in both.
        #[allow(clippy::cast_possible_truncation)]
        temperature: spec.temperature.map(|t| t as f32),
        max_tokens: spec.max_tokens,
        tools,
        ..Default::default()
    }
}

fn reparse(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("serializers write JSON")
}

fn specs() -> [(&'static str, RequestSpec); 3] {
    [
        ("small", RequestSpec::small()),
        ("conversation-100", RequestSpec::conversation(100)),
        ("multimodal", RequestSpec::multimodal()),
    ]
}

fn serialize_requests<M: Measurement>(c: &mut Criterion<M>) {
    let specs = specs();

    let mut group = c.benchmark_group("serialize_request/compat");
    for (name, spec) in &specs {
        let ours = serde_json::to_vec(&payloads::chat_request(spec)).expect("serializes");
        let theirs = serde_json::to_vec(&openai_request(spec)).expect("serializes");
        assert_eq!(
            reparse(&ours),
            reparse(&theirs),
            "{name}: the peers disagree"
        );
        group.throughput(Throughput::Bytes(ours.len() as u64));
        group.bench_with_input(BenchmarkId::new("dashscope", name), spec, |b, spec| {
            b.iter(|| serde_json::to_vec(&payloads::chat_request(black_box(spec))));
        });
        group.bench_with_input(BenchmarkId::new("async-openai", name), spec, |b, spec| {
            b.iter(|| serde_json::to_vec(&openai_request(black_box(spec))));
        });
    }
    group.finish();

    let mut group = c.benchmark_group("serialize_request/native");
    for (name, spec) in &specs {
        let len = serde_json::to_vec(&payloads::native_request(spec))
            .expect("serializes")
            .len();
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(BenchmarkId::new("dashscope", name), spec, |b, spec| {
            b.iter(|| serde_json::to_vec(&payloads::native_request(black_box(spec))));
        });
    }
    group.finish();

    let mut group = c.benchmark_group("serialize_request/responses");
    for (name, spec) in &specs {
        let len = serde_json::to_vec(&payloads::responses_request(spec))
            .expect("serializes")
            .len();
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(BenchmarkId::new("dashscope", name), spec, |b, spec| {
            b.iter(|| serde_json::to_vec(&payloads::responses_request(black_box(spec))));
        });
    }
    group.finish();
}

fn deserialize_responses<M: Measurement>(c: &mut Criterion<M>) {
    let conv = payloads::response_conversation();

    let body = payloads::chat_response(&conv);
    let ours: ChatCompletion = serde_json::from_str(&body).expect("parses");
    let theirs: CreateChatCompletionResponse = serde_json::from_str(&body).expect("parses");
    assert_eq!(
        ours.text(),
        theirs.choices[0].message.content.as_deref(),
        "the peers disagree"
    );
    let mut group = c.benchmark_group("deserialize_response/compat");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("dashscope", |b| {
        b.iter(|| from_json_slice::<ChatCompletion>(black_box(body.as_bytes())));
    });
    group.bench_function("async-openai", |b| {
        b.iter(|| {
            serde_json::from_slice::<CreateChatCompletionResponse>(black_box(body.as_bytes()))
        });
    });
    group.finish();

    let body = payloads::native_response(&conv);
    serde_json::from_str::<GenerationResponse>(&body).expect("parses");
    let mut group = c.benchmark_group("deserialize_response/native");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("dashscope", |b| {
        b.iter(|| from_json_slice::<GenerationResponse>(black_box(body.as_bytes())));
    });
    group.finish();

    let body = payloads::responses_response(&conv);
    serde_json::from_str::<Response>(&body).expect("parses");
    let mut group = c.benchmark_group("deserialize_response/responses");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("dashscope", |b| {
        b.iter(|| from_json_slice::<Response>(black_box(body.as_bytes())));
    });
    group.finish();
}

clock::bench_main!(30, 1, 2; serialize_requests, deserialize_responses);
