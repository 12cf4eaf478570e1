//! The paths the mock serves, and which dialect each speaks.

use dashscope_protocol::cassette::Dialect;

/// `POST` Chat Completions (OpenAI-compatible).
pub const CHAT_PATH: &str = "/compatible-mode/v1/chat/completions";
/// `POST` Responses (OpenAI-compatible), the current path.
pub const RESPONSES_PATH: &str = "/compatible-mode/v1/responses";
/// `POST` Responses on the legacy (deprecated) path.
pub const RESPONSES_LEGACY_PATH: &str = "/api/v2/apps/protocols/compatible-mode/v1/responses";
/// `POST` native text generation.
pub const NATIVE_TEXT_PATH: &str = "/api/v1/services/aigc/text-generation/generation";
/// `POST` native multimodal generation.
pub const NATIVE_MULTIMODAL_PATH: &str = "/api/v1/services/aigc/multimodal-generation/generation";

/// A generation endpoint: one of the five `POST` paths of the three dialects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `/compatible-mode/v1/chat/completions`.
    ChatCompletions,
    /// `/compatible-mode/v1/responses`.
    Responses,
    /// `/api/v2/apps/protocols/compatible-mode/v1/responses` (legacy).
    ResponsesLegacy,
    /// `/api/v1/services/aigc/text-generation/generation`.
    NativeText,
    /// `/api/v1/services/aigc/multimodal-generation/generation`.
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

    /// The endpoint served at `path`, if any.
    pub fn from_path(path: &str) -> Option<Endpoint> {
        Endpoint::ALL.into_iter().find(|e| e.path() == path)
    }

    /// The path.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => CHAT_PATH,
            Endpoint::Responses => RESPONSES_PATH,
            Endpoint::ResponsesLegacy => RESPONSES_LEGACY_PATH,
            Endpoint::NativeText => NATIVE_TEXT_PATH,
            Endpoint::NativeMultimodal => NATIVE_MULTIMODAL_PATH,
        }
    }

    /// The wire dialect.
    pub fn dialect(self) -> Dialect {
        match self {
            Endpoint::ChatCompletions => Dialect::Chat,
            Endpoint::Responses | Endpoint::ResponsesLegacy => Dialect::Responses,
            Endpoint::NativeText | Endpoint::NativeMultimodal => Dialect::Native,
        }
    }

    /// Paths that serve the same resource (the two Responses paths), this one's alias if any.
    pub fn alias(self) -> Option<Endpoint> {
        match self {
            Endpoint::Responses => Some(Endpoint::ResponsesLegacy),
            Endpoint::ResponsesLegacy => Some(Endpoint::Responses),
            _ => None,
        }
    }
}

/// The error shape a path answers in: compat for `/compatible-mode/…` paths (and the legacy
/// Responses prefix), native otherwise.
pub fn dialect_of_path(path: &str) -> Dialect {
    if path.starts_with("/compatible-mode/") {
        if path.contains("/responses") {
            Dialect::Responses
        } else {
            Dialect::Chat
        }
    } else if path.starts_with("/api/v2/apps/protocols/compatible-mode/") {
        Dialect::Responses
    } else {
        Dialect::Native
    }
}

/// The prefixes under which stored responses can be retrieved (`{prefix}/{id}`).
pub const RESPONSES_PREFIXES: [&str; 2] = [RESPONSES_PATH, RESPONSES_LEGACY_PATH];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip() {
        for e in Endpoint::ALL {
            assert_eq!(Endpoint::from_path(e.path()), Some(e));
        }
        assert_eq!(Endpoint::from_path("/compatible-mode/v1/models"), None);
        assert_eq!(dialect_of_path("/compatible-mode/v1/models"), Dialect::Chat);
        assert_eq!(
            dialect_of_path("/compatible-mode/v1/responses/x"),
            Dialect::Responses
        );
        assert_eq!(dialect_of_path("/nope"), Dialect::Native);
    }
}
