//! [`Reply`]: a response body with what the HTTP exchange said about it; partial-mode
//! continuation requests.

use std::ops::{Deref, DerefMut};

use dashscope_protocol::chat::{ChatCompletion, ChatRequest, Message, MessageContent, Role};
use dashscope_protocol::native::{self, GenerationRequest, GenerationResponse};
use http::HeaderMap;

/// The response header that marks a partial answer: the service hit its generation timeout on
/// a non-stream call and returned what it had ([protocol notes §4.6](dashscope_protocol::protocol_notes#46-partial-response-on-long-non-stream-calls)).
pub const PARTIAL_RESPONSE_HEADER: &str = "x-dashscope-partialresponse";

/// A decoded response body with its HTTP status and headers.
///
/// It dereferences to the body, so `reply.text()` calls the body's method.
#[derive(Clone, Debug)]
pub struct Reply<T> {
    value: T,
    status: u16,
    headers: HeaderMap,
    attempts: u32,
}

impl<T> Reply<T> {
    pub(crate) fn new(value: T, status: u16, headers: HeaderMap) -> Self {
        Reply {
            value,
            status,
            headers,
            attempts: 1,
        }
    }

    pub(crate) fn set_attempts(&mut self, attempts: u32) {
        self.attempts = attempts;
    }

    /// The body.
    pub fn into_inner(self) -> T {
        self.value
    }

    /// The body, borrowed.
    pub fn get(&self) -> &T {
        &self.value
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The `x-request-id` header.
    pub fn request_id(&self) -> Option<&str> {
        self.headers.get("x-request-id")?.to_str().ok()
    }

    /// How many requests it took (1 without retries).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Whether the service cut the answer short at its generation timeout
    /// (`x-dashscope-partialresponse: true`). Continue it with partial mode: see
    /// [`Reply::<ChatCompletion>::continuation`] and [`Reply::<GenerationResponse>::continuation`].
    pub fn is_partial(&self) -> bool {
        self.headers
            .get(PARTIAL_RESPONSE_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }
}

impl<T> Deref for Reply<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for Reply<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl Reply<ChatCompletion> {
    /// The partial-mode request that continues this answer: `request` with the answer appended
    /// as an assistant prefix (`"partial": true`). See [`chat_continuation`].
    pub fn continuation(&self, request: &ChatRequest) -> ChatRequest {
        chat_continuation(request, self.value.text().unwrap_or_default())
    }
}

impl Reply<GenerationResponse> {
    /// The partial-mode request that continues this answer: `request` with the answer appended
    /// as an assistant prefix (`"partial": true`). See [`native_continuation`].
    pub fn continuation(&self, request: &GenerationRequest) -> GenerationRequest {
        let text = self.value.text().unwrap_or_default();
        native_continuation(request, &text)
    }
}

/// The partial-mode request that continues an answer cut short (a partial response, or the text
/// a broken stream delivered): `request` with an assistant message holding `received` and
/// `"partial": true` as its last message. If `request` already ends with such a prefix, `received`
/// is appended to it (the reply to a partial-mode request holds only the continuation).
///
/// ```
/// use dashscope_protocol::chat::{ChatRequest, Message};
/// use dashscope_provider::chat_continuation;
///
/// let req = ChatRequest::new("qwen-plus", vec![Message::user("Write a poem")]);
/// let next = chat_continuation(&req, "Spring wind");
/// assert_eq!(next.messages.len(), 2);
/// assert_eq!(next.messages[1].partial, Some(true));
/// let after = chat_continuation(&next, " over the hills");
/// assert_eq!(after.messages.len(), 2);
/// assert_eq!(after.messages[1].text(), Some("Spring wind over the hills"));
/// ```
pub fn chat_continuation(request: &ChatRequest, received: &str) -> ChatRequest {
    let mut next = request.clone();
    next.stream = None;
    next.stream_options = None;
    match next.messages.last_mut() {
        Some(last) if last.role == Role::Assistant && last.partial == Some(true) => {
            let mut text = match &last.content {
                Some(MessageContent::Text(t)) => t.clone(),
                Some(c @ MessageContent::Parts(_)) => c.joined_text(),
                None => String::new(),
            };
            text.push_str(received);
            last.content = Some(MessageContent::Text(text));
        }
        _ => next.messages.push(Message::assistant_prefix(received)),
    }
    next
}

/// The native twin of [`chat_continuation`]: `request` with an assistant message holding
/// `received` and `"partial": true` as its last message (extended if it already ends with one).
pub fn native_continuation(request: &GenerationRequest, received: &str) -> GenerationRequest {
    let mut next = request.clone();
    let messages = next.input.messages.get_or_insert_with(Vec::new);
    match messages.last_mut() {
        Some(last) if last.role == Some(native::Role::Assistant) && last.partial == Some(true) => {
            let mut text = last.text().map(|t| t.into_owned()).unwrap_or_default();
            text.push_str(received);
            last.content = Some(native::Content::from(text));
        }
        _ => messages.push(native::Message::assistant_prefix(received)),
    }
    next
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn partial_header_is_surfaced() {
        let mut h = HeaderMap::new();
        let r = Reply::new(ChatCompletion::default(), 200, h.clone());
        assert!(!r.is_partial());
        h.insert(PARTIAL_RESPONSE_HEADER, HeaderValue::from_static("True"));
        h.insert("x-request-id", HeaderValue::from_static("abc"));
        let r = Reply::new(ChatCompletion::default(), 200, h);
        assert!(r.is_partial());
        assert_eq!(r.request_id(), Some("abc"));
    }

    #[test]
    fn native_continuation_appends_then_extends() {
        let req = GenerationRequest::new("qwen-plus", vec![native::Message::user("poem")]);
        let next = native_continuation(&req, "Spring");
        let msgs = next.messages();
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[1].partial, Some(true));
        assert_eq!(msgs[1].role, Some(native::Role::Assistant));
        let after = native_continuation(&next, " wind");
        assert_eq!(after.messages().len(), 2);
        assert_eq!(after.messages()[1].text().as_deref(), Some("Spring wind"));
    }

    #[test]
    fn chat_continuation_drops_stream_flags() {
        let req = ChatRequest::new("qwen-plus", vec![Message::user("x")])
            .stream(true)
            .include_usage(true);
        let next = chat_continuation(&req, "y");
        assert_eq!(next.stream, None);
        assert_eq!(next.stream_options, None);
        let wire = serde_json::to_value(&next).unwrap();
        assert_eq!(
            wire["messages"][1],
            serde_json::json!({"role":"assistant","content":"y","partial":true})
        );
    }
}
