//! Which path a group sends to, where a dialect has more than one.

/// The Responses API path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ResponsesPath {
    /// `/compatible-mode/v1/responses` (the default).
    #[default]
    Current,
    /// `/api/v2/apps/protocols/compatible-mode/v1/responses`: deprecated, still served on the
    /// shared hosts (PROTOCOL.md §3.1).
    Legacy,
}

impl ResponsesPath {
    /// The path.
    pub fn as_str(self) -> &'static str {
        match self {
            ResponsesPath::Current => dashscope_protocol::responses::PATH,
            ResponsesPath::Legacy => dashscope_protocol::responses::LEGACY_PATH,
        }
    }
}

/// The native generation endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum NativeEndpoint {
    /// Multimodal generation when a message holds an image, audio or video item, else text
    /// generation (the default; the official SDK's rule).
    #[default]
    Auto,
    /// `/api/v1/services/aigc/text-generation/generation`.
    TextGeneration,
    /// `/api/v1/services/aigc/multimodal-generation/generation` (VL, Omni and audio models also
    /// need it for text-only requests).
    MultimodalGeneration,
}

impl NativeEndpoint {
    /// The path for `request`.
    pub fn path_for(self, request: &dashscope_protocol::native::GenerationRequest) -> &'static str {
        match self {
            NativeEndpoint::Auto => request.path(),
            NativeEndpoint::TextGeneration => dashscope_protocol::native::TEXT_GENERATION_PATH,
            NativeEndpoint::MultimodalGeneration => {
                dashscope_protocol::native::MULTIMODAL_GENERATION_PATH
            }
        }
    }
}

/// The Chat Completions path.
pub const CHAT_PATH: &str = "/compatible-mode/v1/chat/completions";
