//! Non-stream payloads: request specs built into each dialect's request type, and response
//! bodies per dialect.
//!
//! A [`RequestSpec`] is the dialect-free description of a request (the strings it carries); the
//! `*_request` functions build the dialect's request value from it, which is what the
//! serialization benches time (building plus serializing), so a peer SDK can be given the same
//! spec and must produce the same JSON.

use dashscope_protocol::chat::{self, ChatCompletion};
use dashscope_protocol::native::{self, GenerationRequest, GenerationResponse};
use dashscope_protocol::responses::{self, InputItem, ResponseRequest};
use serde_json::{Value, json};

use crate::script::{Conversation, Scale};
use crate::text::{self, Flavor, Rng};

/// One part of a multimodal user message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Text.
    Text(String),
    /// An image URL (an `https:` URL or a `data:` URL).
    ImageUrl(String),
}

/// One message of a request, in any dialect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Turn {
    /// Instructions.
    System(String),
    /// A user message.
    User(String),
    /// A user message with images.
    UserParts(Vec<Part>),
    /// An earlier answer.
    Assistant(String),
    /// An earlier answer that called a function.
    AssistantToolCall {
        /// The call id.
        call_id: String,
        /// The function.
        name: String,
        /// The arguments JSON.
        arguments: String,
    },
    /// A function's result.
    ToolResult {
        /// The call answered.
        call_id: String,
        /// The result text.
        content: String,
    },
}

/// A function tool offered to the model.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolSpec {
    /// The name.
    pub name: String,
    /// The description.
    pub description: String,
    /// The JSON Schema of the arguments.
    pub parameters: Value,
}

/// A request, independent of the dialect.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestSpec {
    /// The model.
    pub model: String,
    /// The messages.
    pub turns: Vec<Turn>,
    /// The tools (none for a plain request).
    pub tools: Vec<ToolSpec>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Output token limit.
    pub max_tokens: Option<u32>,
    /// Whether to stream (with usage).
    pub stream: bool,
}

/// The two function tools the workloads use.
pub fn tool_specs() -> Vec<ToolSpec> {
    vec![
        ToolSpec {
            name: "get_current_weather".to_owned(),
            description: "当你想查询指定城市的天气时非常有用。".to_owned(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "location": {"type": "string", "description": "城市或县区，比如北京市、杭州市、余杭区等。"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                    "note": {"type": "string"}
                },
                "required": ["location"]
            }),
        },
        ToolSpec {
            name: "search_knowledge_base".to_owned(),
            description: "Search the company knowledge base for passages about a topic.".to_owned(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "query": {"type": "string"},
                    "top_k": {"type": "integer", "minimum": 1, "maximum": 20}
                },
                "required": ["query"]
            }),
        },
    ]
}

/// The tools of [`tool_specs`] as Responses tools.
pub fn responses_tools() -> Vec<responses::Tool> {
    tool_specs()
        .into_iter()
        .map(|t| responses::Tool::function(t.name, t.description, t.parameters))
        .collect()
}

impl RequestSpec {
    /// A short streaming request: a system prompt and one question.
    pub fn small() -> Self {
        RequestSpec {
            model: "qwen-plus".to_owned(),
            turns: vec![
                Turn::System("You are a helpful assistant.".to_owned()),
                Turn::User("你好，请用一句话介绍一下杭州。".to_owned()),
            ],
            tools: Vec::new(),
            temperature: Some(0.7),
            max_tokens: None,
            stream: true,
        }
    }

    /// A conversation of `messages` messages (a system prompt, then user and assistant turns;
    /// every fifth exchange the assistant calls a tool and the tool answers), with tools.
    pub fn conversation(messages: usize) -> Self {
        let mut rng = Rng::new(0xC0DE_0100);
        let mut turns = vec![Turn::System(
            "You are Qwen, a helpful assistant. Answer in the user's language.".to_owned(),
        )];
        let mut exchange = 0;
        while turns.len() < messages {
            let user: String = (0..rng.between(4, 12))
                .map(|_| text::delta(&mut rng, Flavor::Answer))
                .collect();
            turns.push(Turn::User(user));
            exchange += 1;
            if exchange % 5 == 0 && turns.len() + 2 < messages {
                let call_id = format!("call_{}", rng.hex(24));
                turns.push(Turn::AssistantToolCall {
                    call_id: call_id.clone(),
                    name: "get_current_weather".to_owned(),
                    arguments: r#"{"location": "杭州市", "unit": "celsius"}"#.to_owned(),
                });
                turns.push(Turn::ToolResult {
                    call_id,
                    content: r#"{"temperature": 21, "condition": "晴", "humidity": 0.45}"#
                        .to_owned(),
                });
            }
            if turns.len() < messages {
                let answer: String = (0..rng.between(20, 60))
                    .map(|_| text::delta(&mut rng, Flavor::Answer))
                    .collect();
                turns.push(Turn::Assistant(answer));
            }
        }
        turns.truncate(messages);
        RequestSpec {
            model: "qwen3.6-plus".to_owned(),
            turns,
            tools: tool_specs(),
            temperature: Some(0.3),
            max_tokens: Some(2_048),
            stream: true,
        }
    }

    /// A multimodal request: two image URLs, an inline base64 image (about 12 KB), and a
    /// question.
    pub fn multimodal() -> Self {
        let mut rng = Rng::new(0x1AA6_E000);
        const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let data: String = (0..12_000)
            .map(|_| char::from(B64[rng.below(64)]))
            .collect();
        RequestSpec {
            model: "qwen3-vl-plus".to_owned(),
            turns: vec![
                Turn::System("You describe images precisely.".to_owned()),
                Turn::UserParts(vec![
                    Part::ImageUrl(
                        "https://dashscope.oss-cn-beijing.aliyuncs.com/images/dog_and_girl.jpeg"
                            .to_owned(),
                    ),
                    Part::ImageUrl("https://example.com/photos/hangzhou-west-lake.png".to_owned()),
                    Part::ImageUrl(format!("data:image/png;base64,{data}")),
                    Part::Text("这三张图片里分别有什么？请逐一描述。".to_owned()),
                ]),
            ],
            tools: Vec::new(),
            temperature: None,
            max_tokens: Some(1_024),
            stream: true,
        }
    }
}

/// Builds the compat request.
pub fn chat_request(spec: &RequestSpec) -> chat::ChatRequest {
    let messages = spec
        .turns
        .iter()
        .map(|t| match t {
            Turn::System(s) => chat::Message::system(s.as_str()),
            Turn::User(s) => chat::Message::user(s.as_str()),
            Turn::UserParts(parts) => chat::Message::user_parts(
                parts
                    .iter()
                    .map(|p| match p {
                        Part::Text(s) => chat::ContentPart::text(s.as_str()),
                        Part::ImageUrl(u) => chat::ContentPart::image_url(u.as_str()),
                    })
                    .collect(),
            ),
            Turn::Assistant(s) => chat::Message::assistant(s.as_str()),
            Turn::AssistantToolCall {
                call_id,
                name,
                arguments,
            } => chat::Message::assistant_tool_calls(vec![chat::ToolCall::function(
                call_id.as_str(),
                name.as_str(),
                arguments.as_str(),
            )]),
            Turn::ToolResult { call_id, content } => {
                chat::Message::tool_result(call_id.as_str(), content.as_str())
            }
        })
        .collect();
    let mut req = chat::ChatRequest::new(spec.model.as_str(), messages);
    if spec.stream {
        req = req.stream(true).include_usage(true);
    }
    if let Some(t) = spec.temperature {
        req = req.temperature(t);
    }
    if let Some(m) = spec.max_tokens {
        req = req.max_tokens(m);
    }
    for t in &spec.tools {
        req = req.tool(chat::Tool::function(
            t.name.as_str(),
            t.description.as_str(),
            t.parameters.clone(),
        ));
    }
    req
}

/// Builds the native request (`result_format: message`, `incremental_output` when streaming).
pub fn native_request(spec: &RequestSpec) -> GenerationRequest {
    let messages = spec
        .turns
        .iter()
        .map(|t| match t {
            Turn::System(s) => native::Message::system(s.as_str()),
            Turn::User(s) => native::Message::user(s.as_str()),
            Turn::UserParts(parts) => native::Message::user_multimodal(
                parts
                    .iter()
                    .map(|p| match p {
                        Part::Text(s) => native::ContentItem::text(s.as_str()),
                        Part::ImageUrl(u) => native::ContentItem::image(u.as_str()),
                    })
                    .collect(),
            ),
            Turn::Assistant(s) => native::Message::assistant(s.as_str()),
            Turn::AssistantToolCall {
                call_id,
                name,
                arguments,
            } => native::Message::assistant_tool_calls(vec![native::ToolCall::function(
                call_id.as_str(),
                name.as_str(),
                arguments.as_str(),
            )]),
            Turn::ToolResult { call_id, content } => {
                native::Message::tool_result(call_id.as_str(), content.as_str())
            }
        })
        .collect();
    let mut req = GenerationRequest::new(spec.model.as_str(), messages)
        .result_format(native::ResultFormat::Message);
    if spec.stream {
        req = req.incremental_output(true);
    }
    if let Some(t) = spec.temperature {
        req = req.temperature(t);
    }
    if let Some(m) = spec.max_tokens {
        req = req.max_tokens(m);
    }
    if !spec.tools.is_empty() {
        req = req.tools(
            spec.tools
                .iter()
                .map(|t| {
                    native::Tool::function(
                        t.name.as_str(),
                        t.description.as_str(),
                        t.parameters.clone(),
                    )
                })
                .collect::<Vec<_>>(),
        );
    }
    req
}

/// Builds the Responses request (system turns become `system` input messages).
pub fn responses_request(spec: &RequestSpec) -> ResponseRequest {
    let items: Vec<InputItem> = spec
        .turns
        .iter()
        .map(|t| match t {
            Turn::System(s) => InputItem::system(s.as_str()),
            Turn::User(s) => InputItem::user(s.as_str()),
            Turn::UserParts(parts) => InputItem::message(
                responses::Role::User,
                parts
                    .iter()
                    .map(|p| match p {
                        Part::Text(s) => responses::ContentPart::text(s.as_str()),
                        Part::ImageUrl(u) => responses::ContentPart::image_url(u.as_str()),
                    })
                    .collect(),
            ),
            Turn::Assistant(s) => InputItem::assistant(s.as_str()),
            Turn::AssistantToolCall {
                call_id,
                name,
                arguments,
            } => InputItem::function_call(call_id.as_str(), name.as_str(), arguments.as_str()),
            Turn::ToolResult { call_id, content } => {
                InputItem::function_call_output(call_id.as_str(), content.as_str())
            }
        })
        .collect();
    let mut req = ResponseRequest::new(spec.model.as_str(), items);
    if spec.stream {
        req = req.stream(true);
    }
    if let Some(t) = spec.temperature {
        req = req.temperature(t);
    }
    if let Some(m) = spec.max_tokens {
        req = req.max_output_tokens(u64::from(m));
    }
    for t in &spec.tools {
        req = req.tool(responses::Tool::function(
            t.name.as_str(),
            t.description.as_str(),
            t.parameters.clone(),
        ));
    }
    req
}

/// The turn whose non-stream answers the response benches parse: about 200 thinking deltas,
/// 400 answer deltas and two tool calls (a few kilobytes of JSON per dialect).
pub fn response_conversation() -> Conversation {
    Conversation::generate(
        0x5EED_0002,
        Scale {
            reasoning: 200,
            answer: 400,
            tool_calls: 2,
            fragments_per_call: 20,
        },
    )
}

/// The compat non-stream answer to `conv` (`"object":"chat.completion"`, nulls as sent).
pub fn chat_response(conv: &Conversation) -> String {
    let mut message = chat::Message {
        role: chat::Role::Assistant,
        content: Some(chat::MessageContent::Text(conv.answer_text())),
        reasoning_content: Some(conv.reasoning_text()),
        tool_calls: Some(
            conv.tool_calls
                .iter()
                .map(|c| {
                    chat::ToolCall::function(c.call_id.as_str(), c.name.as_str(), c.arguments())
                })
                .collect(),
        ),
        ..Default::default()
    };
    message.extra.insert("refusal".to_owned(), Value::Null);
    let mut choice = chat::Choice {
        index: 0,
        message,
        finish_reason: Some(chat::FinishReason::ToolCalls),
        ..Default::default()
    };
    choice.extra.insert("logprobs".to_owned(), Value::Null);
    let output = conv.output_tokens();
    let mut body = ChatCompletion {
        id: Some(format!("{}{}", chat::ID_PREFIX, conv.request_id)),
        object: Some("chat.completion".to_owned()),
        created: Some(conv.created),
        model: Some(conv.model.clone()),
        choices: vec![choice],
        usage: Some(chat::Usage {
            prompt_tokens: conv.input_tokens,
            completion_tokens: output,
            total_tokens: conv.input_tokens + output,
            prompt_tokens_details: Some(chat::PromptTokensDetails {
                cached_tokens: Some(0),
                ..Default::default()
            }),
            completion_tokens_details: Some(chat::CompletionTokensDetails {
                reasoning_tokens: Some(conv.reasoning_tokens()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    body.extra
        .insert("system_fingerprint".to_owned(), Value::Null);
    serde_json::to_string(&body).expect("wire types serialize to JSON")
}

/// The native non-stream answer to `conv` (message format).
pub fn native_response(conv: &Conversation) -> String {
    let output = conv.output_tokens();
    let body = GenerationResponse {
        output: Some(native::Output {
            choices: Some(vec![native::Choice {
                finish_reason: Some(native::FinishReason::ToolCalls),
                message: Some(native::Message {
                    role: Some(native::Role::Assistant),
                    content: Some(native::Content::Text(conv.answer_text())),
                    reasoning_content: Some(conv.reasoning_text()),
                    tool_calls: Some(
                        (0u32..)
                            .zip(&conv.tool_calls)
                            .map(|(i, c)| native::ToolCall {
                                index: Some(i),
                                ..native::ToolCall::function(
                                    c.call_id.as_str(),
                                    c.name.as_str(),
                                    c.arguments(),
                                )
                            })
                            .collect(),
                    ),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        usage: Some(native::Usage {
            input_tokens: Some(conv.input_tokens),
            output_tokens: Some(output),
            total_tokens: Some(conv.input_tokens + output),
            output_tokens_details: Some(native::OutputTokensDetails {
                reasoning_tokens: Some(conv.reasoning_tokens()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        request_id: Some(conv.request_id.clone()),
        ..Default::default()
    };
    serde_json::to_string(&body).expect("wire types serialize to JSON")
}

/// The Responses usage of `conv`.
pub fn responses_usage(conv: &Conversation) -> responses::Usage {
    let output = conv.output_tokens();
    responses::Usage {
        input_tokens: conv.input_tokens,
        output_tokens: output,
        total_tokens: conv.input_tokens + output,
        input_tokens_details: Some(responses::InputTokensDetails {
            cached_tokens: Some(0),
            ..Default::default()
        }),
        output_tokens_details: Some(responses::OutputTokensDetails {
            reasoning_tokens: Some(conv.reasoning_tokens()),
            ..Default::default()
        }),
        x_details: Some(vec![responses::UsageDetail {
            input_tokens: Some(conv.input_tokens),
            output_tokens: Some(output),
            total_tokens: Some(conv.input_tokens + output),
            x_billing_type: Some("response_api".to_owned()),
            ..Default::default()
        }]),
        ..Default::default()
    }
}

/// The Responses non-stream answer to `conv`: a reasoning item, a message, function calls.
pub fn responses_response(conv: &Conversation) -> String {
    let mut ids = Rng::new(conv.created.unsigned_abs());
    let mut output = vec![
        responses::OutputItem::Reasoning(responses::ReasoningItem {
            id: Some(format!("msg_{}", ids.uuid())),
            summary: vec![responses::SummaryPart::SummaryText(
                responses::SummaryText {
                    text: conv.reasoning_text(),
                    ..Default::default()
                },
            )],
            ..Default::default()
        }),
        responses::OutputItem::Message(responses::OutputMessage {
            id: Some(format!("msg_{}", ids.uuid())),
            role: Some(responses::Role::Assistant),
            status: Some(responses::ItemStatus::Completed),
            content: vec![responses::OutputContent::OutputText(
                responses::OutputText {
                    text: conv.answer_text(),
                    annotations: Some(Vec::new()),
                    ..Default::default()
                },
            )],
            ..Default::default()
        }),
    ];
    for c in &conv.tool_calls {
        output.push(responses::OutputItem::FunctionCall(
            responses::FunctionCall {
                id: Some(format!("msg_{}", ids.uuid())),
                call_id: c.call_id.clone(),
                name: c.name.clone(),
                arguments: c.arguments(),
                status: Some(responses::ItemStatus::Completed),
                ..Default::default()
            },
        ));
    }
    let body = responses::Response {
        id: format!("resp_{}", conv.request_id),
        object: Some("response".to_owned()),
        created_at: Some(conv.created.unsigned_abs()),
        completed_at: Some(conv.created.unsigned_abs() + 1),
        model: Some(conv.model.clone()),
        status: Some(responses::ResponseStatus::Completed),
        output: Some(output),
        usage: Some(responses_usage(conv)),
        tools: Some(responses_tools()),
        tool_choice: Some(responses::ToolChoice::Mode(responses::ToolChoiceMode::Auto)),
        parallel_tool_calls: Some(true),
        ..Default::default()
    };
    serde_json::to_string(&body).expect("wire types serialize to JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversation_has_the_asked_length_and_tool_turns() {
        let spec = RequestSpec::conversation(100);
        assert_eq!(spec.turns.len(), 100);
        let calls = spec
            .turns
            .iter()
            .filter(|t| matches!(t, Turn::AssistantToolCall { .. }))
            .count();
        let results = spec
            .turns
            .iter()
            .filter(|t| matches!(t, Turn::ToolResult { .. }))
            .count();
        assert!(calls >= 3, "{calls}");
        assert_eq!(calls, results);
    }

    #[test]
    fn requests_serialize_in_every_dialect() {
        for spec in [
            RequestSpec::small(),
            RequestSpec::conversation(100),
            RequestSpec::multimodal(),
        ] {
            let c = serde_json::to_value(chat_request(&spec)).unwrap();
            assert_eq!(
                c["messages"].as_array().map(Vec::len),
                Some(spec.turns.len())
            );
            let n = serde_json::to_value(native_request(&spec)).unwrap();
            assert_eq!(
                n["input"]["messages"].as_array().map(Vec::len),
                Some(spec.turns.len())
            );
            let r = serde_json::to_value(responses_request(&spec)).unwrap();
            assert_eq!(r["input"].as_array().map(Vec::len), Some(spec.turns.len()));
        }
        let mm = serde_json::to_value(chat_request(&RequestSpec::multimodal())).unwrap();
        assert_eq!(mm["messages"][1]["content"][0]["type"], "image_url");
    }

    #[test]
    fn responses_parse_back_in_their_dialect() {
        let conv = response_conversation();
        let c: ChatCompletion = serde_json::from_str(&chat_response(&conv)).unwrap();
        assert_eq!(c.text(), Some(conv.answer_text().as_str()));
        assert_eq!(c.tool_calls().len(), 2);
        let n: GenerationResponse = serde_json::from_str(&native_response(&conv)).unwrap();
        assert_eq!(n.reasoning(), Some(conv.reasoning_text().as_str()));
        let r: responses::Response = serde_json::from_str(&responses_response(&conv)).unwrap();
        assert_eq!(r.output_text(), conv.answer_text());
        assert_eq!(r.function_calls().count(), 2);
    }
}
