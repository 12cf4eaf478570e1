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

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The cassette format version this crate writes and reads.
pub const CASSETTE_VERSION: u32 = 1;

/// Which wire dialect a cassette speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// OpenAI-compatible Chat Completions.
    Chat,
    /// OpenAI-compatible Responses.
    Responses,
    /// DashScope native generation (text and multimodal).
    Native,
}

impl Dialect {
    /// The directory name under `fixtures/`.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Chat => "chat",
            Dialect::Responses => "responses",
            Dialect::Native => "native",
        }
    }
}

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
    #[serde(default, skip_serializing_if = "is_zero")]
    pub priority: i32,
    /// Answer only once (for multi-turn sequences), then step aside.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub once: bool,
    /// The response to replay.
    pub response: RecordedResponse,
}

fn is_zero(v: &i32) -> bool {
    *v == 0
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
}

impl Cassette {
    /// Parses a cassette from its JSON text.
    ///
    /// # Errors
    ///
    /// [`CassetteError::Json`] for malformed input, [`CassetteError::Version`] for a newer format.
    pub fn from_json(text: &str) -> Result<Self, CassetteError> {
        let c: Cassette = serde_json::from_str(text)?;
        if c.version > CASSETTE_VERSION {
            return Err(CassetteError::Version { found: c.version });
        }
        Ok(c)
    }

    /// Writes the cassette as pretty JSON with a trailing newline.
    pub fn to_json_pretty(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let text = r#"{"version":1,"name":"chat/x","description":"d","dialect":"chat",
            "request":{"method":"POST","path":"/compatible-mode/v1/chat/completions","body":{"stream":true}},
            "response":{"status":200,"headers":[["Content-Type","text/event-stream"]],
              "body":{"chunks":[{"delay_ms":5,"data":"data: 1\n\n"},{"data":"data: [DONE]\n\n"}]}}}"#;
        let c = Cassette::from_json(text).unwrap();
        assert!(c.is_stream_request());
        assert_eq!(c.response.header("content-type"), Some("text/event-stream"));
        assert_eq!(c.response.body.to_bytes(), b"data: 1\n\ndata: [DONE]\n\n");
        let again = Cassette::from_json(&c.to_json_pretty()).unwrap();
        assert_eq!(c, again);
    }

    #[test]
    fn newer_version_refused() {
        let text = r#"{"version":99,"name":"n","description":"d","dialect":"native",
            "request":{"method":"POST","path":"/"},"response":{"status":200,"body":{"text":""}}}"#;
        assert!(matches!(
            Cassette::from_json(text),
            Err(CassetteError::Version { found: 99 })
        ));
    }
}
