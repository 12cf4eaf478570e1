//! One conversation, any dialect: `client.conversation(dialect)`.
//!
//! The [`Conversation`] (what to send) and the [`UnifiedResponse`] / [`UnifiedEvent`] (what
//! comes back) are the protocol crate's [unified model](dashscope_protocol::unified),
//! re-exported here with the [`Dialect`] that picks the wire. The group converts the
//! conversation to the dialect's request, sends it through the dialect's own group
//! ([`chat()`](crate::Client::chat), [`responses()`](crate::Client::responses) or
//! [`native()`](crate::Client::native): same retries, errors, tracing and stream handling)
//! and reads the answer back with the unified readers.
//!
//! ```no_run
//! # #[cfg(feature = "reqwest")]
//! # async fn demo() -> Result<(), dashscope_provider::Error> {
//! use dashscope_provider::Client;
//! use dashscope_provider::conversation::{Conversation, Dialect, UnifiedEvent};
//!
//! let client = Client::from_env()?;
//! let conv = Conversation::new("qwen-plus").system("Be brief.").user("Who are you?");
//! for dialect in Dialect::ALL {
//!     let reply = client.conversation(dialect).send(&conv).await?;
//!     println!("{dialect}: {}", reply.text());
//! }
//! let mut stream = client.conversation(Dialect::Native).stream(&conv).await?;
//! while let Some(event) = stream.next_event().await {
//!     if let UnifiedEvent::TextDelta { text, .. } = event? {
//!         print!("{text}");
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # What each dialect gets
//!
//! | | chat | Responses | native |
//! |---|---|---|---|
//! | request | [`Conversation::to_chat`] | [`Conversation::to_responses`] | [`Conversation::to_native`], plus `result_format: "message"` unless set |
//! | stream switch | `stream: true`, `stream_options.include_usage: true` unless set | `stream: true` | `X-DashScope-SSE: enable`, `incremental_output: true` unless set |
//! | answer | [`UnifiedResponse::from_chat`] | [`UnifiedResponse::from_responses`] | [`UnifiedResponse::from_native`] |
//! | stream events | [`ChatEventReader`](dashscope_protocol::unified::ChatEventReader) | [`ResponsesEventReader`](dashscope_protocol::unified::ResponsesEventReader) | [`NativeEventReader`](dashscope_protocol::unified::NativeEventReader) |
//!
//! A conversation the dialect cannot carry (a `—` in the protocol crate's mapping table, say
//! `n` > 1 on Responses) is an [`Error::InvalidRequest`] and nothing is sent. A stream that
//! breaks yields the dialect's [`Error::Stream`]; its partial answer, folded by the dialect's
//! accumulator, reads as a unified answer with [`PartialResponse::to_unified`].

use dashscope_protocol::native::ResultFormat;
use dashscope_protocol::unified::DialectResponse;

use crate::dialect::PartialResponse;
use crate::error::Error;

pub use dashscope_protocol::cassette::{Dialect, UnknownDialect};
pub use dashscope_protocol::unified::{
    Candidate, Conversation, DialectRequest, FinishReason, FunctionTool, Message, Part,
    ReasoningEffort, ResponseFormat, Role, Tool, ToolCall, ToolChoice, UnifiedEvent,
    UnifiedResponse, Usage,
};

/// The wire request `conv` becomes in `dialect` (for a stream when `stream`): the unified
/// conversion, plus what the dialect needs to answer in the unified shape (native
/// `result_format: "message"`, and `incremental_output: true` for a stream, unless the native
/// request the conversation kept sets them). The groups add the stream switches themselves.
///
/// # Errors
///
/// [`Error::InvalidRequest`] when the dialect cannot carry the conversation.
pub fn wire_request(
    conv: &Conversation,
    dialect: Dialect,
    stream: bool,
) -> Result<DialectRequest, Error> {
    let mut request = conv
        .to_request(dialect)
        .map_err(|e| Error::InvalidRequest {
            message: format!("the conversation cannot be sent in the {dialect} dialect: {e}"),
            source: Some(Box::new(e)),
        })?;
    match &mut request {
        DialectRequest::Native(r) => {
            let params = r.parameters_mut();
            if params.result_format.is_none() {
                params.result_format = Some(ResultFormat::Message);
            }
            if stream && params.incremental_output.is_none() {
                params.incremental_output = Some(true);
            }
        }
        DialectRequest::Chat(r) if !stream => {
            r.stream = None;
            r.stream_options = None;
        }
        DialectRequest::Responses(r) if !stream => r.stream = None,
        _ => {}
    }
    Ok(request)
}

impl PartialResponse {
    /// What arrived before the stream broke, as a unified answer.
    pub fn to_unified(&self) -> UnifiedResponse {
        let response = match self {
            PartialResponse::Chat(c) => DialectResponse::Chat(c.clone()),
            PartialResponse::Responses(r) => DialectResponse::Responses(r.clone()),
            PartialResponse::Native(n) => DialectResponse::Native(n.clone()),
        };
        UnifiedResponse::from_response(&response)
    }
}

/// The unified answer of a dialect's reply, with the reply's status, headers and attempts.
#[cfg(any(feature = "async", feature = "blocking"))]
fn unified_reply<T>(
    reply: crate::Reply<T>,
    wrap: impl FnOnce(T) -> DialectResponse,
) -> crate::Reply<UnifiedResponse> {
    let (status, headers, attempts) = (reply.status(), reply.headers().clone(), reply.attempts());
    let answer = UnifiedResponse::from_response(&wrap(reply.into_inner()));
    let mut out = crate::Reply::new(answer, status, headers);
    out.set_attempts(attempts);
    out
}

/// The events read so far and not yet handed out (those of one chunk), and how to read more.
#[cfg(any(feature = "async", feature = "blocking"))]
#[derive(Debug)]
struct Events {
    reader: dashscope_protocol::unified::StreamReader,
    queue: std::collections::VecDeque<UnifiedEvent>,
    passthrough: bool,
}

#[cfg(any(feature = "async", feature = "blocking"))]
impl Events {
    fn new(request: &DialectRequest) -> Self {
        Events {
            reader: dashscope_protocol::unified::StreamReader::for_request(request),
            queue: std::collections::VecDeque::new(),
            passthrough: false,
        }
    }

    /// The next event to hand out, if one is queued.
    fn pop(&mut self) -> Option<UnifiedEvent> {
        self.queue.pop_front()
    }

    /// Reads a chunk (moved into its events; copied first only when passthroughs are asked
    /// for).
    fn read(&mut self, chunk: dashscope_protocol::unified::DialectChunk) {
        if self.passthrough {
            self.queue
                .push_back(UnifiedEvent::Passthrough(Box::new(chunk.clone())));
        }
        self.reader.read(chunk, &mut self.queue);
    }
}

#[cfg(feature = "async")]
pub use asynchronous::{Unified, UnifiedStream};

#[cfg(feature = "async")]
mod asynchronous {
    use std::future::poll_fn;
    use std::pin::Pin;
    use std::task::{Context, Poll, ready};

    use dashscope_protocol::unified::{DialectChunk, DialectRequest, DialectResponse};
    use dashscope_transport::Transport;
    use futures_core::Stream;
    use http::HeaderMap;

    use super::{Conversation, Dialect, Events, UnifiedEvent, UnifiedResponse, wire_request};
    use crate::client::{ChatStream, Client, NativeStream, ResponsesStream};
    use crate::endpoint::{NativeEndpoint, ResponsesPath};
    use crate::error::Error;
    use crate::reply::Reply;

    /// One conversation in a dialect chosen at run time: `client.conversation(dialect)`.
    ///
    /// See the [module docs](super).
    #[derive(Debug)]
    pub struct Unified<'c, T> {
        client: &'c Client<T>,
        dialect: Dialect,
        responses_path: ResponsesPath,
        native_endpoint: NativeEndpoint,
    }

    impl<'c, T: Transport> Unified<'c, T> {
        pub(crate) fn new(client: &'c Client<T>, dialect: Dialect) -> Self {
            Unified {
                client,
                dialect,
                responses_path: ResponsesPath::default(),
                native_endpoint: NativeEndpoint::default(),
            }
        }

        /// The dialect it speaks.
        pub fn dialect(&self) -> Dialect {
            self.dialect
        }

        /// The Responses path to use when the dialect is Responses (see
        /// [`Responses::path`](crate::Responses::path)).
        #[must_use]
        pub fn responses_path(mut self, path: ResponsesPath) -> Self {
            self.responses_path = path;
            self
        }

        /// The native endpoint to use when the dialect is native (see
        /// [`Native::endpoint`](crate::Native::endpoint)).
        #[must_use]
        pub fn native_endpoint(mut self, endpoint: NativeEndpoint) -> Self {
            self.native_endpoint = endpoint;
            self
        }

        /// Sends the conversation and returns the answer (a `stream: true` in it is ignored).
        ///
        /// # Errors
        ///
        /// [`Error::InvalidRequest`] when the dialect cannot carry the conversation (nothing
        /// is sent); otherwise what the dialect's non-stream call returns.
        pub async fn send(&self, conv: &Conversation) -> Result<Reply<UnifiedResponse>, Error> {
            Ok(match wire_request(conv, self.dialect, false)? {
                DialectRequest::Chat(r) => {
                    super::unified_reply(self.client.chat().create(r).await?, DialectResponse::Chat)
                }
                DialectRequest::Responses(r) => super::unified_reply(
                    self.client
                        .responses()
                        .path(self.responses_path)
                        .create(r)
                        .await?,
                    DialectResponse::Responses,
                ),
                DialectRequest::Native(r) => super::unified_reply(
                    self.client
                        .native()
                        .endpoint(self.native_endpoint)
                        .generate(&r)
                        .await?,
                    DialectResponse::Native,
                ),
            })
        }

        /// Streams the answer as [`UnifiedEvent`]s. Resolves when the first chunk has arrived.
        ///
        /// # Errors
        ///
        /// [`Error::InvalidRequest`] when the dialect cannot carry the conversation; otherwise
        /// any [`Error`] before the first chunk (the stream's own errors come out of the
        /// stream).
        pub async fn stream(&self, conv: &Conversation) -> Result<UnifiedStream, Error> {
            let request = wire_request(conv, self.dialect, true)?;
            let events = Events::new(&request);
            let inner = match request {
                DialectRequest::Chat(r) => {
                    Inner::Chat(Box::new(self.client.chat().create_stream(r).await?))
                }
                DialectRequest::Responses(r) => Inner::Responses(Box::new(
                    self.client
                        .responses()
                        .path(self.responses_path)
                        .create_stream(r)
                        .await?,
                )),
                DialectRequest::Native(r) => Inner::Native(Box::new(
                    self.client
                        .native()
                        .endpoint(self.native_endpoint)
                        .generate_stream(r)
                        .await?,
                )),
            };
            Ok(UnifiedStream { inner, events })
        }
    }

    /// The dialect stream (boxed: the three differ in size by kilobytes).
    #[derive(Debug)]
    enum Inner {
        Chat(Box<ChatStream>),
        Responses(Box<ResponsesStream>),
        Native(Box<NativeStream>),
    }

    /// Applies `$f` to whichever dialect stream `$inner` holds.
    macro_rules! each {
        ($inner:expr, $s:ident => $f:expr) => {
            match $inner {
                Inner::Chat($s) => $f,
                Inner::Responses($s) => $f,
                Inner::Native($s) => $f,
            }
        };
    }

    /// A stream of [`UnifiedEvent`]s read from one dialect's stream: a
    /// `futures_core::Stream<Item = Result<UnifiedEvent, Error>>`.
    ///
    /// Pull-based like the dialect streams it wraps (dropping it closes the connection).
    /// [`UnifiedEvent::Passthrough`] events (each typed wire chunk) are left out unless
    /// [`with_passthrough`](Self::with_passthrough) asks for them.
    ///
    /// * [`accumulate`](Self::accumulate) reads the rest and returns the [`UnifiedResponse`]
    ///   (the dialect's accumulator's answer, read as unified: the same value a non-stream
    ///   [`send`](Unified::send) gives);
    /// * [`snapshot`](Self::snapshot) is the answer as far as it arrived;
    /// * a stream that breaks yields one [`Error::Stream`]; its partial answer reads as unified
    ///   with [`PartialResponse::to_unified`](crate::PartialResponse::to_unified).
    #[derive(Debug)]
    pub struct UnifiedStream {
        inner: Inner,
        events: Events,
    }

    impl UnifiedStream {
        /// Hands out [`UnifiedEvent::Passthrough`] events too: each typed wire chunk (a copy),
        /// before the events of that chunk.
        #[must_use]
        pub fn with_passthrough(mut self, yes: bool) -> Self {
            self.events.passthrough = yes;
            self
        }

        /// The dialect of the stream.
        pub fn dialect(&self) -> Dialect {
            match self.inner {
                Inner::Chat(_) => Dialect::Chat,
                Inner::Responses(_) => Dialect::Responses,
                Inner::Native(_) => Dialect::Native,
            }
        }

        /// The next event, or `None` at the end.
        ///
        /// # Errors
        ///
        /// One [`Error::Stream`] when the stream breaks; `None` follows.
        pub async fn next_event(&mut self) -> Option<Result<UnifiedEvent, Error>> {
            poll_fn(|cx| self.poll_event(cx)).await
        }

        /// Reads the rest of the stream and returns the answer, folded from every chunk
        /// (including those whose events were already handed out).
        ///
        /// # Errors
        ///
        /// The [`Error::Stream`] of a stream that broke.
        pub async fn accumulate(self) -> Result<UnifiedResponse, Error> {
            let response = match self.inner {
                Inner::Chat(s) => DialectResponse::Chat((*s).accumulate().await?),
                Inner::Responses(s) => DialectResponse::Responses((*s).accumulate().await?),
                Inner::Native(s) => DialectResponse::Native((*s).accumulate().await?),
            };
            Ok(UnifiedResponse::from_response(&response))
        }

        /// The answer as far as it arrived.
        pub fn snapshot(&self) -> UnifiedResponse {
            let response = match &self.inner {
                Inner::Chat(s) => DialectResponse::Chat(s.snapshot()),
                Inner::Responses(s) => DialectResponse::Responses(s.snapshot()),
                Inner::Native(s) => DialectResponse::Native(s.snapshot()),
            };
            UnifiedResponse::from_response(&response)
        }

        /// How many wire chunks arrived so far.
        pub fn chunks(&self) -> u64 {
            each!(&self.inner, s => s.chunks())
        }

        /// Whether the stream is over (ended or broke) and every event was handed out.
        pub fn is_finished(&self) -> bool {
            self.events.queue.is_empty() && each!(&self.inner, s => s.is_finished())
        }

        /// The HTTP status of the response.
        pub fn status(&self) -> u16 {
            each!(&self.inner, s => s.status())
        }

        /// The response headers.
        pub fn headers(&self) -> &HeaderMap {
            each!(&self.inner, s => s.headers())
        }

        /// The `x-request-id` header.
        pub fn request_id(&self) -> Option<&str> {
            each!(&self.inner, s => s.request_id())
        }

        fn poll_event(
            &mut self,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<UnifiedEvent, Error>>> {
            loop {
                if let Some(e) = self.events.pop() {
                    return Poll::Ready(Some(Ok(e)));
                }
                let next = match &mut self.inner {
                    Inner::Chat(s) => {
                        ready!(Pin::new(s).poll_next(cx)).map(|r| r.map(DialectChunk::Chat))
                    }
                    Inner::Responses(s) => {
                        ready!(Pin::new(s).poll_next(cx)).map(|r| r.map(DialectChunk::Responses))
                    }
                    Inner::Native(s) => {
                        ready!(Pin::new(s).poll_next(cx)).map(|r| r.map(DialectChunk::Native))
                    }
                };
                match next {
                    Some(Ok(chunk)) => self.events.read(chunk),
                    Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                    None => return Poll::Ready(None),
                }
            }
        }
    }

    impl Stream for UnifiedStream {
        type Item = Result<UnifiedEvent, Error>;

        fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            self.get_mut().poll_event(cx)
        }
    }
}

#[cfg(feature = "blocking")]
pub(crate) mod blocking {
    use dashscope_protocol::unified::{DialectChunk, DialectRequest, DialectResponse};
    use dashscope_transport::BlockingTransport;
    use http::HeaderMap;

    use super::{Conversation, Dialect, Events, UnifiedEvent, UnifiedResponse, wire_request};
    use crate::blocking::{ChatStream, Client, NativeStream, ResponsesStream};
    use crate::endpoint::{NativeEndpoint, ResponsesPath};
    use crate::error::Error;
    use crate::reply::Reply;

    /// One conversation in a dialect chosen at run time: `client.conversation(dialect)`, the
    /// blocking twin of the async [`Unified`](crate::Unified).
    ///
    /// See the [module docs](crate::conversation).
    #[derive(Debug)]
    pub struct Unified<'c, T> {
        client: &'c Client<T>,
        dialect: Dialect,
        responses_path: ResponsesPath,
        native_endpoint: NativeEndpoint,
    }

    impl<'c, T: BlockingTransport> Unified<'c, T> {
        pub(crate) fn new(client: &'c Client<T>, dialect: Dialect) -> Self {
            Unified {
                client,
                dialect,
                responses_path: ResponsesPath::default(),
                native_endpoint: NativeEndpoint::default(),
            }
        }

        /// The dialect it speaks.
        pub fn dialect(&self) -> Dialect {
            self.dialect
        }

        /// The Responses path to use when the dialect is Responses.
        #[must_use]
        pub fn responses_path(mut self, path: ResponsesPath) -> Self {
            self.responses_path = path;
            self
        }

        /// The native endpoint to use when the dialect is native.
        #[must_use]
        pub fn native_endpoint(mut self, endpoint: NativeEndpoint) -> Self {
            self.native_endpoint = endpoint;
            self
        }

        /// Sends the conversation and returns the answer (a `stream: true` in it is ignored).
        ///
        /// # Errors
        ///
        /// [`Error::InvalidRequest`] when the dialect cannot carry the conversation (nothing
        /// is sent); otherwise what the dialect's non-stream call returns.
        pub fn send(&self, conv: &Conversation) -> Result<Reply<UnifiedResponse>, Error> {
            Ok(match wire_request(conv, self.dialect, false)? {
                DialectRequest::Chat(r) => {
                    super::unified_reply(self.client.chat().create(r)?, DialectResponse::Chat)
                }
                DialectRequest::Responses(r) => super::unified_reply(
                    self.client
                        .responses()
                        .path(self.responses_path)
                        .create(r)?,
                    DialectResponse::Responses,
                ),
                DialectRequest::Native(r) => super::unified_reply(
                    self.client
                        .native()
                        .endpoint(self.native_endpoint)
                        .generate(&r)?,
                    DialectResponse::Native,
                ),
            })
        }

        /// Streams the answer as [`UnifiedEvent`]s. Returns when the first chunk has arrived.
        ///
        /// # Errors
        ///
        /// [`Error::InvalidRequest`] when the dialect cannot carry the conversation; otherwise
        /// any [`Error`] before the first chunk.
        pub fn stream(&self, conv: &Conversation) -> Result<UnifiedStream, Error> {
            let request = wire_request(conv, self.dialect, true)?;
            let events = Events::new(&request);
            let inner = match request {
                DialectRequest::Chat(r) => {
                    Inner::Chat(Box::new(self.client.chat().create_stream(r)?))
                }
                DialectRequest::Responses(r) => Inner::Responses(Box::new(
                    self.client
                        .responses()
                        .path(self.responses_path)
                        .create_stream(r)?,
                )),
                DialectRequest::Native(r) => Inner::Native(Box::new(
                    self.client
                        .native()
                        .endpoint(self.native_endpoint)
                        .generate_stream(r)?,
                )),
            };
            Ok(UnifiedStream { inner, events })
        }
    }

    /// The dialect stream (boxed: the three differ in size by kilobytes).
    #[derive(Debug)]
    enum Inner {
        Chat(Box<ChatStream>),
        Responses(Box<ResponsesStream>),
        Native(Box<NativeStream>),
    }

    /// Applies `$f` to whichever dialect stream `$inner` holds.
    macro_rules! each {
        ($inner:expr, $s:ident => $f:expr) => {
            match $inner {
                Inner::Chat($s) => $f,
                Inner::Responses($s) => $f,
                Inner::Native($s) => $f,
            }
        };
    }

    /// A stream of [`UnifiedEvent`]s read from one dialect's stream, as an
    /// `Iterator<Item = Result<UnifiedEvent, Error>>`: the blocking twin of the async
    /// [`UnifiedStream`](crate::UnifiedStream), with the same methods.
    #[derive(Debug)]
    pub struct UnifiedStream {
        inner: Inner,
        events: Events,
    }

    impl UnifiedStream {
        /// Hands out [`UnifiedEvent::Passthrough`] events too.
        #[must_use]
        pub fn with_passthrough(mut self, yes: bool) -> Self {
            self.events.passthrough = yes;
            self
        }

        /// The dialect of the stream.
        pub fn dialect(&self) -> Dialect {
            match self.inner {
                Inner::Chat(_) => Dialect::Chat,
                Inner::Responses(_) => Dialect::Responses,
                Inner::Native(_) => Dialect::Native,
            }
        }

        /// Reads the rest of the stream and returns the answer, folded from every chunk
        /// (including those whose events were already handed out).
        ///
        /// # Errors
        ///
        /// The [`Error::Stream`] of a stream that broke.
        pub fn accumulate(self) -> Result<UnifiedResponse, Error> {
            let response = match self.inner {
                Inner::Chat(s) => DialectResponse::Chat((*s).accumulate()?),
                Inner::Responses(s) => DialectResponse::Responses((*s).accumulate()?),
                Inner::Native(s) => DialectResponse::Native((*s).accumulate()?),
            };
            Ok(UnifiedResponse::from_response(&response))
        }

        /// The answer as far as it arrived.
        pub fn snapshot(&self) -> UnifiedResponse {
            let response = match &self.inner {
                Inner::Chat(s) => DialectResponse::Chat(s.snapshot()),
                Inner::Responses(s) => DialectResponse::Responses(s.snapshot()),
                Inner::Native(s) => DialectResponse::Native(s.snapshot()),
            };
            UnifiedResponse::from_response(&response)
        }

        /// How many wire chunks arrived so far.
        pub fn chunks(&self) -> u64 {
            each!(&self.inner, s => s.chunks())
        }

        /// Whether the stream is over (ended or broke) and every event was handed out.
        pub fn is_finished(&self) -> bool {
            self.events.queue.is_empty() && each!(&self.inner, s => s.is_finished())
        }

        /// The HTTP status of the response.
        pub fn status(&self) -> u16 {
            each!(&self.inner, s => s.status())
        }

        /// The response headers.
        pub fn headers(&self) -> &HeaderMap {
            each!(&self.inner, s => s.headers())
        }

        /// The `x-request-id` header.
        pub fn request_id(&self) -> Option<&str> {
            each!(&self.inner, s => s.request_id())
        }
    }

    impl Iterator for UnifiedStream {
        type Item = Result<UnifiedEvent, Error>;

        fn next(&mut self) -> Option<Self::Item> {
            loop {
                if let Some(e) = self.events.pop() {
                    return Some(Ok(e));
                }
                let next = match &mut self.inner {
                    Inner::Chat(s) => s.next().map(|r| r.map(DialectChunk::Chat)),
                    Inner::Responses(s) => s.next().map(|r| r.map(DialectChunk::Responses)),
                    Inner::Native(s) => s.next().map(|r| r.map(DialectChunk::Native)),
                };
                match next? {
                    Ok(chunk) => self.events.read(chunk),
                    Err(e) => return Some(Err(e)),
                }
            }
        }
    }
}
