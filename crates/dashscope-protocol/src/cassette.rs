//! The fixture ("cassette") format: one recorded or written exchange per file.
//!
//! Cassettes live under `mock-server/fixtures/<dialect>/<name>.json`. They are the protocol
//! crate's test corpus, the mock server's default data (embedded in its binary), and what the
//! transport crate's `ReplayTransport` serves in-process.
//!
//! ```json
//! {
//!   "version": 1,
//!   "name": "native/text-sse",
//!   "description": "Native text format, SSE, incremental_output true",
//!   "source": "EXCHANGES.md N2 (CNB single-generation-text-sse), raw",
//!   "dialect": "native",
//!   "request": {
//!     "method": "POST",
//!     "path": "/api/v1/services/aigc/text-generation/generation",
//!     "headers": {"x-dashscope-sse": "enable"},
//!     "body": {"model": "qwen-max", "input": {"prompt": "…"}, "parameters": {}}
//!   },
//!   "match": {"body": {"model": "qwen-max"}, "headers": {"x-dashscope-sse": "enable"}},
//!   "response": {
//!     "status": 200,
//!     "headers": [["content-type", "text/event-stream;charset=UTF-8"], ["x-request-id", "…"]],
//!     "body": {"chunks": [{"delay_ms": 0, "data": "id:1\nevent:result\n…\n\n"}]}
//!   }
//! }
//! ```
//!
//! * `version` is [`CASSETTE_VERSION`]; a reader refuses a newer major version.
//! * `request` is what was sent (secrets scrubbed); `match` says which requests this cassette
//!   answers (absent: the mock server derives one from `request`).
//! * `response.body` is one of `{"json": …}` (written compactly), `{"text": "…"}` (exact bytes)
//!   or `{"chunks": [{"delay_ms", "data"}]}` (a stream, chunk by chunk, with the delay before each).
//! * `response.headers` is an ordered list of `[name, value]` pairs, case kept as recorded.
//!
//! # Unified cassettes
//!
//! A cassette may also be written once, in the [unified model](crate::unified), and answer the
//! same conversation in every dialect, stream or not. It lives under
//! `mock-server/fixtures/unified/<name>.json`; what marks it is a `response` holding a
//! `unified` member (a [`UnifiedResponse`]) instead of a status, headers and body:
//!
//! ```json
//! {
//!   "version": 1,
//!   "name": "unified/thinking-answer",
//!   "description": "A text answer with thinking, in any dialect",
//!   "source": "synthetic (written for the unified layer)",
//!   "request": {"model": "qwen-plus", "messages": [{"role": "user", "parts": [{"type": "text", "text": "…"}]}]},
//!   "match": {"model": "qwen-plus", "last_user_message": "…", "last_role": "user"},
//!   "response": {"unified": {"id": "…", "model": "qwen-plus", "candidates": [{"index": 0, "text": "…", "reasoning": "…", "finish_reason": "stop"}],
//!                            "usage": {"input_tokens": 12, "output_tokens": 30, "total_tokens": 42, "reasoning_tokens": 18}}}
//! }
//! ```
//!
//! * `request` is the [`Conversation`] the answer belongs to (what a client sends, in unified
//!   form); `match` is a [`UnifiedMatcher`], compared with the conversation read from a request
//!   of *any* dialect (its model, the text of its last user message, the role of its last
//!   message, whether it has tools, stream or not, which dialects). Absent, it is derived from
//!   `request`: the model, the last user text and the last message's role.
//! * `response.unified.id` is the request id of every rendering (absent: one derived from
//!   `name`).
//! * `version`, `name`, `description`, `source`, `priority` and `once` mean what they mean for
//!   a wire cassette. There is no `dialect`, no status (a unified cassette answers HTTP 200)
//!   and no headers: the mock server renders the answer with the service's framing and
//!   headers in whichever dialect the request arrives in.
//!
//! The addition is backward compatible (no member of a wire cassette changed), so the format
//! version stays 1. [`Cassette::from_json`] refuses a unified cassette with
//! [`CassetteError::Unified`] (a [`Cassette`] is one dialect's exact bytes; rendering a unified
//! answer needs a renderer, which the mock server has); [`AnyCassette::from_json`] reads both
//! kinds and [`UnifiedCassette::from_json`] the unified one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::unified::{Conversation, Role, UnifiedResponse};
use crate::wire::is_default;

/// The cassette format version this crate writes and reads.
pub const CASSETTE_VERSION: u32 = 1;

pub use crate::dialect::{Dialect, UnknownDialect};

/// One recorded (or written) exchange.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cassette {
    /// The format version ([`CASSETTE_VERSION`]).
    pub version: u32,
    /// A unique name, `<dialect>/<scenario>`.
    pub name: String,
    /// One line saying what the exchange shows.
    pub description: String,
    /// Where the bytes come from and how faithful they are (raw, doc, reserialised, synthetic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The dialect.
    pub dialect: Dialect,
    /// The request as sent (secrets scrubbed).
    pub request: RecordedRequest,
    /// Which requests this cassette answers; derived from `request` when absent.
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub matcher: Option<Matcher>,
    /// Higher wins when several cassettes match.
    #[serde(default, skip_serializing_if = "is_default")]
    pub priority: i32,
    /// Answer only once (for multi-turn sequences), then step aside.
    #[serde(default, skip_serializing_if = "is_default")]
    pub once: bool,
    /// The response to replay.
    pub response: RecordedResponse,
}

/// Refuses a cassette of a newer format version.
fn supported(version: u32) -> Result<(), CassetteError> {
    match version {
        v if v > CASSETTE_VERSION => Err(CassetteError::Version { found: v }),
        _ => Ok(()),
    }
}

/// Pretty JSON with a trailing newline.
fn pretty(c: &impl Serialize) -> String {
    serde_json::to_string_pretty(c).unwrap_or_default() + "\n"
}

/// The request side of a cassette.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// The HTTP method.
    pub method: String,
    /// The path (no host, no query).
    pub path: String,
    /// Request headers worth keeping (lower-case names; never `authorization`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The JSON body, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

/// Conditions a request must meet for a cassette to answer it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Matcher {
    /// The method, if it must match (default: the recorded one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The path, if it must match (default: the recorded one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// A partial JSON body: every member given must be present with an equal value (objects
    /// recursively; arrays element by element with the same length).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Headers that must be present with these values (names case-insensitive).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Members this format does not name, kept as they are: the mock server reads its own
    /// conditions here (`any`, the conversation conditions such as `last_user_message`).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

/// The response side of a cassette.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordedResponse {
    /// The HTTP status.
    pub status: u16,
    /// Headers in recorded order and case.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Body,
}

/// A response body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    /// A JSON document, written compactly.
    Json(Value),
    /// Exact text.
    Text(String),
    /// A stream, delivered chunk by chunk.
    Chunks(Vec<Chunk>),
}

/// One piece of a streamed body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    /// How long to wait before sending this chunk, in milliseconds.
    #[serde(default)]
    pub delay_ms: u64,
    /// The bytes of the chunk (UTF-8).
    pub data: String,
}

impl Body {
    /// The whole body as bytes (chunks concatenated).
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Body::Json(v) => serde_json::to_vec(v).unwrap_or_default(),
            Body::Text(t) => t.as_bytes().to_vec(),
            Body::Chunks(cs) => cs.iter().flat_map(|c| c.data.as_bytes()).copied().collect(),
        }
    }

    /// Whether the body is delivered as a stream of chunks.
    pub fn is_stream(&self) -> bool {
        matches!(self, Body::Chunks(_))
    }
}

impl RecordedResponse {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a cassette could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CassetteError {
    /// Not valid JSON of the cassette shape.
    #[error("invalid cassette: {0}")]
    Json(#[from] serde_json::Error),
    /// Written by a newer, incompatible version.
    #[error(
        "cassette format version {found} is newer than the supported version {CASSETTE_VERSION}"
    )]
    Version {
        /// The version found in the file.
        found: u32,
    },
    /// A unified cassette where a wire cassette was expected: it holds an answer in the unified
    /// model, not one dialect's bytes, and needs a renderer (the mock server) to be replayed.
    /// Read it with [`AnyCassette::from_json`] or [`UnifiedCassette::from_json`].
    #[error(
        "{name:?} is a unified cassette: it answers in any dialect and needs a renderer (the mock server) to replay"
    )]
    Unified {
        /// The cassette's name.
        name: String,
    },
}

impl Cassette {
    /// Parses a cassette from its JSON text.
    ///
    /// # Errors
    ///
    /// [`CassetteError::Json`] for malformed input, [`CassetteError::Version`] for a newer format.
    ///
    /// A unified cassette (see the [module docs](self)) is [`CassetteError::Unified`].
    pub fn from_json(text: &str) -> Result<Self, CassetteError> {
        let c: Cassette = match serde_json::from_str(text) {
            Ok(c) => c,
            Err(e) => {
                // Only a text that is not a wire cassette pays for the second look.
                if let Ok(v) = serde_json::from_str::<Value>(text) {
                    if is_unified(&v) {
                        let name = v.get("name").and_then(Value::as_str).unwrap_or_default();
                        return Err(CassetteError::Unified {
                            name: name.to_owned(),
                        });
                    }
                }
                return Err(e.into());
            }
        };
        supported(c.version)?;
        Ok(c)
    }

    /// Writes the cassette as pretty JSON with a trailing newline.
    pub fn to_json_pretty(&self) -> String {
        pretty(self)
    }

    /// Whether the request asked for a stream (compat/Responses `"stream": true`, or native
    /// `X-DashScope-SSE: enable`).
    pub fn is_stream_request(&self) -> bool {
        let body_stream = self
            .request
            .body
            .as_ref()
            .and_then(|b| b.get("stream"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let header_sse = self.request.headers.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("x-dashscope-sse") && v.eq_ignore_ascii_case("enable")
        });
        body_stream || header_sse
    }
}

/// Whether a cassette's JSON is a unified cassette (its `response` has a `unified` member).
pub fn is_unified(raw: &Value) -> bool {
    raw.get("response").and_then(|r| r.get("unified")).is_some()
}

/// A cassette written once in the unified model: it answers the same conversation in every
/// dialect (see the [module docs](self)).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnifiedCassette {
    /// The format version ([`CASSETTE_VERSION`]).
    pub version: u32,
    /// A unique name, `unified/<scenario>`.
    pub name: String,
    /// One line saying what the exchange shows.
    pub description: String,
    /// Where the answer comes from (for a written one: `synthetic`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The conversation the answer belongs to.
    pub request: Conversation,
    /// Which conversations this cassette answers; derived from `request` when absent.
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub matcher: Option<UnifiedMatcher>,
    /// Higher wins when several cassettes match.
    #[serde(default, skip_serializing_if = "is_default")]
    pub priority: i32,
    /// Answer only once, then step aside.
    #[serde(default, skip_serializing_if = "is_default")]
    pub once: bool,
    /// The answer.
    pub response: UnifiedRecordedResponse,
}

/// The response side of a unified cassette.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnifiedRecordedResponse {
    /// The answer, rendered in the request's dialect.
    pub unified: UnifiedResponse,
}

impl UnifiedCassette {
    /// Parses a unified cassette from its JSON text.
    ///
    /// # Errors
    ///
    /// [`CassetteError::Json`] for malformed input (a wire cassette lacks `response.unified`),
    /// [`CassetteError::Version`] for a newer format.
    pub fn from_json(text: &str) -> Result<Self, CassetteError> {
        Self::from_value(&serde_json::from_str(text)?)
    }

    /// Reads a unified cassette from its JSON value.
    ///
    /// # Errors
    ///
    /// As [`from_json`](Self::from_json).
    pub fn from_value(raw: &Value) -> Result<Self, CassetteError> {
        let c = UnifiedCassette::deserialize(raw)?;
        supported(c.version)?;
        Ok(c)
    }

    /// Writes the cassette as pretty JSON with a trailing newline.
    pub fn to_json_pretty(&self) -> String {
        pretty(self)
    }

    /// The answer.
    pub fn answer(&self) -> &UnifiedResponse {
        &self.response.unified
    }

    /// The conditions: `match`, else the ones derived from `request`
    /// ([`UnifiedMatcher::for_conversation`]).
    pub fn effective_matcher(&self) -> UnifiedMatcher {
        self.matcher
            .clone()
            .unwrap_or_else(|| UnifiedMatcher::for_conversation(&self.request))
    }
}

/// Which conversations a unified cassette answers, whatever the dialect they arrive in. Every
/// condition given must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UnifiedMatcher {
    /// The model name must equal this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The text of the last user message must equal this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_user_message: Option<String>,
    /// The text of the last user message must contain this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_user_message_contains: Option<String>,
    /// The last message must have this role (`user` for a first turn, `tool` after a tool's
    /// result).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_role: Option<Role>,
    /// Whether the conversation must (true) or must not (false) offer tools.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools_present: Option<bool>,
    /// Whether the request must (true) or must not (false) ask for a stream; absent: either.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// The dialects it answers; empty: all three.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dialects: Vec<Dialect>,
}

/// The joined text of the last user message of a conversation.
pub fn last_user_text(conv: &Conversation) -> Option<String> {
    conv.messages
        .iter()
        .rev()
        .find(|m| m.role == Role::User)
        .map(crate::unified::Message::joined_text)
}

impl UnifiedMatcher {
    /// The conditions a conversation sets for itself: its model, the text of its last user
    /// message and the role of its last message.
    pub fn for_conversation(conv: &Conversation) -> Self {
        UnifiedMatcher {
            model: Some(conv.model.clone()),
            last_user_message: last_user_text(conv),
            last_role: conv.messages.last().map(|m| m.role.clone()),
            ..Default::default()
        }
    }

    /// How many conditions it sets (more is more specific).
    pub fn conditions(&self) -> usize {
        usize::from(self.model.is_some())
            + usize::from(self.last_user_message.is_some())
            + usize::from(self.last_user_message_contains.is_some())
            + usize::from(self.last_role.is_some())
            + usize::from(self.tools_present.is_some())
            + usize::from(self.stream.is_some())
            + usize::from(!self.dialects.is_empty())
    }

    /// Every condition `conv` (sent in `dialect`, as a stream or not) fails, in words; empty
    /// when it matches.
    pub fn mismatches(&self, conv: &Conversation, dialect: Dialect, stream: bool) -> Vec<String> {
        let mut out = Vec::new();
        if !self.dialects.is_empty() && !self.dialects.contains(&dialect) {
            out.push(format!(
                "dialect: the cassette does not answer {}",
                dialect.as_str()
            ));
        }
        if let Some(want) = &self.model {
            if *want != conv.model {
                out.push(format!("model: expected {want:?}, got {:?}", conv.model));
            }
        }
        if self.last_user_message.is_some() || self.last_user_message_contains.is_some() {
            let last = last_user_text(conv);
            if let Some(want) = &self.last_user_message {
                if last.as_deref() != Some(want.as_str()) {
                    out.push(format!(
                        "last user message: expected {want:?}, got {last:?}"
                    ));
                }
            }
            if let Some(want) = &self.last_user_message_contains {
                if !last.as_deref().is_some_and(|l| l.contains(want.as_str())) {
                    out.push(format!(
                        "last user message: expected to contain {want:?}, got {last:?}"
                    ));
                }
            }
        }
        if let Some(want) = &self.last_role {
            let got = conv.messages.last().map(|m| m.role.as_str());
            if got != Some(want.as_str()) {
                out.push(format!(
                    "last message: expected role {:?}, got {got:?}",
                    want.as_str()
                ));
            }
        }
        if let Some(want) = self.tools_present {
            if want == conv.tools.is_empty() {
                out.push(format!(
                    "tools: expected {}",
                    if want { "some" } else { "none" }
                ));
            }
        }
        if let Some(want) = self.stream {
            if want != stream {
                let kind = if want { "stream" } else { "non-stream" };
                out.push(format!("stream: the cassette answers {kind} requests"));
            }
        }
        out
    }

    /// Whether `conv` (sent in `dialect`, as a stream or not) meets every condition.
    pub fn matches(&self, conv: &Conversation, dialect: Dialect, stream: bool) -> bool {
        self.mismatches(conv, dialect, stream).is_empty()
    }
}

/// A cassette of either kind.
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // short-lived: read, then taken apart
pub enum AnyCassette {
    /// One dialect's recorded (or written) exchange.
    Wire(Cassette),
    /// An answer in the unified model, for any dialect.
    Unified(UnifiedCassette),
}

impl AnyCassette {
    /// Parses a cassette of either kind from its JSON text.
    ///
    /// # Errors
    ///
    /// [`CassetteError::Json`] for malformed input, [`CassetteError::Version`] for a newer format.
    pub fn from_json(text: &str) -> Result<Self, CassetteError> {
        let raw: Value = serde_json::from_str(text)?;
        Self::from_value(&raw)
    }

    /// Reads a cassette of either kind from its JSON value.
    ///
    /// # Errors
    ///
    /// As [`from_json`](Self::from_json).
    pub fn from_value(raw: &Value) -> Result<Self, CassetteError> {
        if is_unified(raw) {
            return UnifiedCassette::from_value(raw).map(AnyCassette::Unified);
        }
        let c = Cassette::deserialize(raw)?;
        supported(c.version)?;
        Ok(AnyCassette::Wire(c))
    }

    /// The cassette's name.
    pub fn name(&self) -> &str {
        match self {
            AnyCassette::Wire(c) => &c.name,
            AnyCassette::Unified(c) => &c.name,
        }
    }
}
