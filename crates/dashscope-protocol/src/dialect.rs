//! The three wire dialects and the paths they are served on: the one declaration the client,
//! the mock server and the cassettes read them from.
//!
//! ```
//! use dashscope_protocol::dialect::{Dialect, Endpoint};
//!
//! let e = Endpoint::from_path("/api/v1/services/aigc/multimodal-generation/generation").unwrap();
//! assert_eq!(e, Endpoint::NativeMultimodal);
//! assert_eq!(e.dialect(), Dialect::Native);
//! assert_eq!(Dialect::Responses.endpoint().path(), "/compatible-mode/v1/responses");
//! assert_eq!("chat".parse::<Dialect>().unwrap(), Dialect::Chat);
//! ```

use serde::{Deserialize, Serialize};

use crate::sse::Mode;

/// `POST` Chat Completions (OpenAI-compatible).
pub const CHAT_PATH: &str = "/compatible-mode/v1/chat/completions";
/// `POST` Responses (OpenAI-compatible), the current path.
pub const RESPONSES_PATH: &str = "/compatible-mode/v1/responses";
/// `POST` Responses on the deprecated path many clients still use (same body and answers,
/// [protocol notes §3.1](crate::protocol_notes#31-endpoints)).
pub const RESPONSES_LEGACY_PATH: &str = "/api/v2/apps/protocols/compatible-mode/v1/responses";
/// `POST` native generation for text models.
pub const NATIVE_TEXT_PATH: &str = "/api/v1/services/aigc/text-generation/generation";
/// `POST` native generation for VL, audio, Omni and other multimodal models (and any request
/// with a media item).
pub const NATIVE_MULTIMODAL_PATH: &str = "/api/v1/services/aigc/multimodal-generation/generation";

/// The native request header that switches streaming on (value [`SSE_HEADER_ENABLE`]); the
/// compat dialects use the body member `stream: true` instead.
pub const SSE_HEADER: &str = "x-dashscope-sse";
/// The value of [`SSE_HEADER`] that asks for a stream.
pub const SSE_HEADER_ENABLE: &str = "enable";

/// A wire dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// OpenAI-compatible Chat Completions ([`chat`](crate::chat)).
    Chat,
    /// OpenAI-compatible Responses ([`responses`](crate::responses)).
    Responses,
    /// DashScope native generation, text and multimodal ([`native`](crate::native)).
    Native,
}

impl Dialect {
    /// The three dialects.
    pub const ALL: [Dialect; 3] = [Dialect::Chat, Dialect::Responses, Dialect::Native];

    /// The name: `chat`, `responses` or `native` (also the fixture directory).
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Chat => "chat",
            Dialect::Responses => "responses",
            Dialect::Native => "native",
        }
    }

    /// The endpoint a request goes to by default (native: text; a request with media goes to
    /// [`Endpoint::NativeMultimodal`], see `native::GenerationRequest::path`).
    pub fn endpoint(self) -> Endpoint {
        match self {
            Dialect::Chat => Endpoint::ChatCompletions,
            Dialect::Responses => Endpoint::Responses,
            Dialect::Native => Endpoint::NativeText,
        }
    }

    /// How [`sse::Decoder`](crate::sse::Decoder) must split this dialect's streams: native and
    /// Responses streams may run events together without blank lines, so each `data:` line is
    /// one event.
    pub fn sse_mode(self) -> Mode {
        match self {
            Dialect::Chat => Mode::Standard,
            Dialect::Responses | Dialect::Native => Mode::DataLineIsEvent,
        }
    }
}

impl std::fmt::Display for Dialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A dialect name that is none of `chat`, `responses`, `native`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown dialect {0:?}: expected chat, responses or native")]
pub struct UnknownDialect(pub String);

impl std::str::FromStr for Dialect {
    type Err = UnknownDialect;

    /// `chat`, `responses` or `native` (ASCII case ignored).
    ///
    /// ```
    /// use dashscope_protocol::dialect::Dialect;
    ///
    /// assert_eq!("Native".parse::<Dialect>().unwrap(), Dialect::Native);
    /// assert!("soap".parse::<Dialect>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Dialect::ALL
            .into_iter()
            .find(|d| d.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownDialect(s.to_owned()))
    }
}

/// A generation endpoint: one of the five `POST` paths of the three dialects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// [`CHAT_PATH`].
    ChatCompletions,
    /// [`RESPONSES_PATH`].
    Responses,
    /// [`RESPONSES_LEGACY_PATH`].
    ResponsesLegacy,
    /// [`NATIVE_TEXT_PATH`].
    NativeText,
    /// [`NATIVE_MULTIMODAL_PATH`].
    NativeMultimodal,
}

impl Endpoint {
    /// Every endpoint.
    pub const ALL: [Endpoint; 5] = [
        Endpoint::ChatCompletions,
        Endpoint::Responses,
        Endpoint::ResponsesLegacy,
        Endpoint::NativeText,
        Endpoint::NativeMultimodal,
    ];

    /// The endpoint served at `path` (exactly; no host, no query), if any.
    pub fn from_path(path: &str) -> Option<Endpoint> {
        Endpoint::ALL.into_iter().find(|e| e.path() == path)
    }

    /// The path, relative to the host.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => CHAT_PATH,
            Endpoint::Responses => RESPONSES_PATH,
            Endpoint::ResponsesLegacy => RESPONSES_LEGACY_PATH,
            Endpoint::NativeText => NATIVE_TEXT_PATH,
            Endpoint::NativeMultimodal => NATIVE_MULTIMODAL_PATH,
        }
    }

    /// The dialect spoken there.
    pub fn dialect(self) -> Dialect {
        match self {
            Endpoint::ChatCompletions => Dialect::Chat,
            Endpoint::Responses | Endpoint::ResponsesLegacy => Dialect::Responses,
            Endpoint::NativeText | Endpoint::NativeMultimodal => Dialect::Native,
        }
    }

    /// The other path that serves the same resource (the two Responses paths), if any.
    pub fn alias(self) -> Option<Endpoint> {
        match self {
            Endpoint::Responses => Some(Endpoint::ResponsesLegacy),
            Endpoint::ResponsesLegacy => Some(Endpoint::Responses),
            _ => None,
        }
    }
}
