//! What the answer generator reads from a request: the conversation and the generation
//! settings, the same whatever the dialect.
//!
//! [`Prompt::from_request`] reads a request body of any dialect through the protocol crate's
//! unified model: the body becomes the dialect's request type, then a
//! [`Conversation`], then a `Prompt`.

use dashscope_protocol::unified::{
    self, Conversation, DialectRequest, Message, Part, ReasoningEffort, ResponseFormat, Role, Tool,
    VideoSource,
};
use serde_json::Value;

use crate::endpoint::Endpoint;

/// A kind of media in a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MediaKind {
    Image,
    Audio,
    Video,
}

impl MediaKind {
    pub(crate) fn noun(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Audio => "audio clip",
            MediaKind::Video => "video",
        }
    }
}

/// One media part: its kind and where it is (a URL, a `data:` URI, or the first frame).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Media {
    pub(crate) kind: MediaKind,
    pub(crate) url: String,
    /// For a video given as frames: how many.
    pub(crate) frames: usize,
}

/// A tool call in an earlier assistant turn.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PastCall {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) arguments: String,
}

/// One message.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Msg {
    /// `system`, `user`, `assistant` or `tool` (Responses `developer` reads as `system`).
    pub(crate) role: String,
    pub(crate) text: String,
    pub(crate) media: Vec<Media>,
    pub(crate) tool_calls: Vec<PastCall>,
    pub(crate) tool_call_id: Option<String>,
    /// A tool message's function name, when the dialect says it.
    pub(crate) name: Option<String>,
    /// Partial mode: an assistant prefix to continue.
    pub(crate) partial: bool,
}

/// A function the model may call.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FnTool {
    pub(crate) name: String,
    pub(crate) parameters: Value,
}

/// Whether and which tool the model must call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ToolChoice {
    Auto,
    None,
    Required,
    Function(String),
}

/// The answer's format.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Format {
    Text,
    JsonObject,
    JsonSchema(Value),
}

/// The conversation and the settings the answer depends on.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Prompt {
    pub(crate) model: String,
    pub(crate) messages: Vec<Msg>,
    pub(crate) tools: Vec<FnTool>,
    pub(crate) tool_choice: ToolChoice,
    pub(crate) parallel_tool_calls: bool,
    pub(crate) format: Format,
    pub(crate) thinking: bool,
    /// The output token limit (reasoning included).
    pub(crate) max_tokens: Option<u64>,
    /// The reasoning token limit (`thinking_budget`).
    pub(crate) thinking_budget: Option<u64>,
    pub(crate) stop: Vec<String>,
    pub(crate) n: u32,
    pub(crate) seed: Option<u64>,
}

impl Default for Prompt {
    fn default() -> Self {
        Prompt {
            model: String::new(),
            messages: Vec::new(),
            tools: Vec::new(),
            tool_choice: ToolChoice::Auto,
            parallel_tool_calls: false,
            format: Format::Text,
            thinking: false,
            max_tokens: None,
            thinking_budget: None,
            stop: Vec::new(),
            n: 1,
            seed: None,
        }
    }
}

/// Whether a model thinks whatever the request says (thinking-only models).
pub(crate) fn always_thinks(model: &str) -> bool {
    let m = model.to_ascii_lowercase();
    m.starts_with("qwq")
        || m.starts_with("qvq")
        || m.starts_with("deepseek-r1")
        || m.contains("-thinking")
}

fn message_of(m: &Message) -> Msg {
    let mut text = String::new();
    let mut media = Vec::new();
    for part in &m.parts {
        match part {
            Part::Text(t) => text.push_str(&t.text),
            Part::Image(i) => media.push(Media {
                kind: MediaKind::Image,
                url: i.url.clone(),
                frames: 0,
            }),
            Part::Audio(a) => media.push(Media {
                kind: MediaKind::Audio,
                url: a.url.clone(),
                frames: 0,
            }),
            Part::Video(v) => media.push(match &v.source {
                VideoSource::Url(url) => Media {
                    kind: MediaKind::Video,
                    url: url.clone(),
                    frames: 0,
                },
                VideoSource::Frames(frames) => Media {
                    kind: MediaKind::Video,
                    url: frames.first().cloned().unwrap_or_default(),
                    frames: frames.len(),
                },
            }),
            // A part only one dialect has (a Responses `input_file`): its URL if it has one.
            Part::Dialect(d) => {
                let value = d.to_json();
                let url = ["file_url", "file_id", "image_url"]
                    .iter()
                    .find_map(|k| value.get(*k).and_then(Value::as_str));
                if let Some(url) = url {
                    media.push(Media {
                        kind: MediaKind::Image,
                        url: url.to_owned(),
                        frames: 0,
                    });
                }
            }
        }
    }
    let role = match &m.role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
        Role::Unknown(r) if r == "developer" => "system",
        Role::Unknown(r) => r.as_str(),
    };
    Msg {
        role: role.to_owned(),
        text,
        media,
        tool_calls: m
            .tool_calls
            .iter()
            .map(|c| PastCall {
                id: c.id.clone(),
                name: c.name.clone(),
                arguments: c.arguments.clone(),
            })
            .collect(),
        tool_call_id: m.tool_call_id.clone(),
        name: m.name.clone(),
        partial: m.partial,
    }
}

/// Why a request body could not be read as its dialect's request type.
#[derive(Debug)]
pub(crate) struct Unreadable(pub(crate) String);

impl Prompt {
    /// Reads a request of `endpoint`'s dialect through the unified model
    /// ([`Conversation::from_request`]). `history` holds the Responses items of the
    /// conversation so far (`previous_response_id`), oldest first: they go before the input.
    pub(crate) fn from_request(
        endpoint: Endpoint,
        body: &Value,
        history: &[Value],
    ) -> Result<Prompt, Unreadable> {
        let dialect = endpoint.dialect();
        let joined;
        let body = if history.is_empty() {
            body
        } else {
            let mut b = body.clone();
            let mut items = history.to_vec();
            match b.get("input") {
                Some(Value::String(t)) => {
                    items.push(serde_json::json!({"role": "user", "content": t}));
                }
                Some(Value::Array(more)) => items.extend(more.iter().cloned()),
                _ => {}
            }
            b["input"] = Value::Array(items);
            joined = b;
            &joined
        };
        let request =
            DialectRequest::from_json(dialect, body).map_err(|e| Unreadable(e.to_string()))?;
        Ok(Self::from_conversation(&Conversation::from_request(
            &request,
        )))
    }

    /// The prompt of a unified conversation.
    pub(crate) fn from_conversation(conv: &Conversation) -> Prompt {
        let tools =
            conv.tools
                .iter()
                .filter_map(|t| match t {
                    Tool::Function(f) => Some(FnTool {
                        name: f.name.clone(),
                        parameters: f.parameters.clone().unwrap_or_else(
                            || serde_json::json!({"type": "object", "properties": {}}),
                        ),
                    }),
                    Tool::Dialect(_) => None,
                })
                .collect();
        let tool_choice = match &conv.tool_choice {
            None | Some(unified::ToolChoice::Auto) => ToolChoice::Auto,
            Some(unified::ToolChoice::None) => ToolChoice::None,
            Some(unified::ToolChoice::Required) => ToolChoice::Required,
            Some(unified::ToolChoice::Function(name)) => ToolChoice::Function(name.clone()),
        };
        let format = match &conv.response_format {
            None | Some(ResponseFormat::Text) => Format::Text,
            Some(ResponseFormat::JsonObject) => Format::JsonObject,
            Some(ResponseFormat::JsonSchema(j)) => Format::JsonSchema(
                j.schema
                    .clone()
                    .unwrap_or_else(|| serde_json::json!({"type": "object"})),
            ),
        };
        let effort_thinks = conv
            .thinking
            .effort
            .as_ref()
            .is_some_and(|e| !matches!(e, ReasoningEffort::None | ReasoningEffort::Minimal));
        let thinking = conv.thinking.enabled.unwrap_or(effort_thinks) || always_thinks(&conv.model);
        let s = &conv.sampling;
        Prompt {
            model: conv.model.clone(),
            messages: conv.messages.iter().map(message_of).collect(),
            tools,
            tool_choice,
            parallel_tool_calls: conv.parallel_tool_calls == Some(true),
            format,
            thinking,
            max_tokens: s.max_completion_tokens.or(s.max_tokens),
            thinking_budget: conv.thinking.budget.map(u64::from),
            stop: s
                .stop
                .iter()
                .flatten()
                .filter(|t| !t.is_empty())
                .cloned()
                .collect(),
            n: s.n.map_or(1, |n| n.clamp(1, 4)),
            seed: s.seed,
        }
    }

    /// The last message, if any.
    pub(crate) fn last(&self) -> Option<&Msg> {
        self.messages.last()
    }

    /// The last user message, if any.
    pub(crate) fn last_user(&self) -> Option<&Msg> {
        self.messages.iter().rev().find(|m| m.role == "user")
    }

    /// Every media part of the user messages since the last assistant turn.
    pub(crate) fn recent_media(&self) -> Vec<&Media> {
        let start = self
            .messages
            .iter()
            .rposition(|m| m.role == "assistant")
            .map_or(0, |i| i + 1);
        self.messages[start..]
            .iter()
            .filter(|m| m.role == "user")
            .flat_map(|m| m.media.iter())
            .collect()
    }

    /// The canonical text of everything the answer depends on (hashed for determinism):
    /// the model, the messages, the tools and the settings, but not `n`, `stop` or the token
    /// limits, which only shape the same underlying answer.
    pub(crate) fn fingerprint(&self) -> String {
        let mut out = String::new();
        let mut push = |k: &str, v: &str| {
            out.push_str(k);
            out.push('\u{1f}');
            out.push_str(v);
            out.push('\u{1e}');
        };
        push("model", &self.model);
        for m in &self.messages {
            push("role", &m.role);
            push("text", &m.text);
            for media in &m.media {
                push(media.kind.noun(), &media.url);
            }
            for c in &m.tool_calls {
                push(
                    "call",
                    &format!("{}\u{1f}{}\u{1f}{}", c.id, c.name, c.arguments),
                );
            }
            if let Some(id) = &m.tool_call_id {
                push("tool_call_id", id);
            }
            if m.partial {
                push("partial", "true");
            }
        }
        for t in &self.tools {
            push("tool", &t.name);
            push("parameters", &t.parameters.to_string());
        }
        push("tool_choice", &format!("{:?}", self.tool_choice));
        push(
            "format",
            &match &self.format {
                Format::Text => "text".to_owned(),
                Format::JsonObject => "json_object".to_owned(),
                Format::JsonSchema(s) => format!("json_schema {s}"),
            },
        );
        push("thinking", if self.thinking { "on" } else { "off" });
        if let Some(seed) = self.seed {
            push("seed", &seed.to_string());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_three_dialects_read_the_same_conversation() {
        let chat = json!({"model": "qwen-plus", "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "What is here?"}, {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}
        ]});
        let native = json!({"model": "qwen-plus", "input": {"messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"text": "What is here?"}, {"image": "https://x/y.png"}]}
        ]}, "parameters": {}});
        let responses = json!({"model": "qwen-plus", "instructions": "Be brief.", "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "What is here?"}, {"type": "input_image", "image_url": "https://x/y.png"}]}
        ]});
        let a = Prompt::from_request(Endpoint::ChatCompletions, &chat, &[]).unwrap();
        let b = Prompt::from_request(Endpoint::NativeMultimodal, &native, &[]).unwrap();
        let c = Prompt::from_request(Endpoint::Responses, &responses, &[]).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint(), c.fingerprint());
        assert_eq!(a.recent_media().len(), 1);
    }

    #[test]
    fn tool_rounds_read_alike() {
        let chat = json!({"model": "m", "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "w", "arguments": "{}"}}]},
            {"role": "tool", "content": "sunny", "tool_call_id": "call_1"}
        ], "tools": [{"type": "function", "function": {"name": "w", "parameters": {"type": "object"}}}]});
        let responses = json!({"model": "m", "input": [
            {"role": "user", "content": "weather?"},
            {"type": "function_call", "call_id": "call_1", "name": "w", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny"}
        ], "tools": [{"type": "function", "name": "w", "parameters": {"type": "object"}}]});
        let a = Prompt::from_request(Endpoint::ChatCompletions, &chat, &[]).unwrap();
        let c = Prompt::from_request(Endpoint::Responses, &responses, &[]).unwrap();
        assert_eq!(a.fingerprint(), c.fingerprint());
        assert_eq!(a.last().map(|m| m.role.as_str()), Some("tool"));
        // The same conversation split across a stored history and a new input.
        let history = responses["input"].as_array().unwrap()[..2].to_vec();
        let rest = json!({"model": "m", "input": [responses["input"][2].clone()],
                          "tools": responses["tools"].clone()});
        let h = Prompt::from_request(Endpoint::Responses, &rest, &history).unwrap();
        assert_eq!(h.fingerprint(), c.fingerprint());
        assert!(
            Prompt::from_request(
                Endpoint::ChatCompletions,
                &json!({"model": "m", "messages": "x"}),
                &[]
            )
            .is_err()
        );
    }
}
