//! One conversation, any dialect: `client.conversation(dialect)`.
//!
//! The [`Conversation`] (what to send) and the [`UnifiedResponse`] / [`UnifiedEvent`] (what
//! comes back) are the protocol crate's [unified model](dashscope_protocol::unified),
//! re-exported here with the [`Dialect`] that picks the wire. The group converts the
//! conversation to the dialect's request, sends it as the dialect's own group would
//! ([`chat()`](crate::Client::chat), [`responses()`](crate::Client::responses) or
//! [`native()`](crate::Client::native): same retries, errors, tracing, stream handling and
//! [request options](crate::RequestOptions), the endpoint chosen for that dialect included)
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
//!     let reply = client.conversation(dialect).send(conv.clone()).await?;
//!     println!("{dialect}: {}", reply.text());
//! }
//! let mut stream = client.conversation(Dialect::Native).stream(conv).await?;
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

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use dashscope_protocol::native::ResultFormat;
use dashscope_protocol::unified::{DialectChunk, DialectResponse, StreamReader};
use dashscope_transport::{BlockingBody, ByteStream};
use futures_core::Stream;
use http::HeaderMap;

use crate::dialect::{ChatDialect, NativeDialect, PartialResponse, ResponsesDialect};
use crate::error::Error;
use crate::reply::Reply;
use crate::stream::{Body, EventStream, block_on};

pub use dashscope_protocol::dialect::{Dialect, UnknownDialect};
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
pub(crate) fn unified_reply<T>(
    reply: Reply<T>,
    wrap: impl FnOnce(T) -> DialectResponse,
) -> Reply<UnifiedResponse> {
    let (status, headers, attempts) = (reply.status(), reply.headers().clone(), reply.attempts());
    let answer = UnifiedResponse::from_response(&wrap(reply.into_inner()));
    let mut out = Reply::new(answer, status, headers);
    out.set_attempts(attempts);
    out
}

/// The dialect stream (boxed: the three differ in size by kilobytes).
#[derive(Debug)]
pub(crate) enum Inner<B> {
    Chat(Box<EventStream<ChatDialect, B>>),
    Responses(Box<EventStream<ResponsesDialect, B>>),
    Native(Box<EventStream<NativeDialect, B>>),
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
/// `futures_core::Stream<Item = Result<UnifiedEvent, Error>>` from the async client, an
/// `Iterator` of the same items from the blocking one
/// (`blocking::UnifiedStream`, `B` = [`BlockingBody`]).
///
/// Pull-based like the dialect streams it wraps (dropping it closes the connection).
/// [`UnifiedEvent::Passthrough`] events (each typed wire chunk) are left out unless
/// [`with_passthrough`](Self::with_passthrough) asks for them.
///
/// * [`accumulate`](Self::accumulate) reads the rest and returns the [`UnifiedResponse`] (the
///   dialect's accumulator's answer, read as unified: the same value a non-stream
///   [`send`](crate::Unified::send) gives);
/// * [`snapshot`](Self::snapshot) is the answer as far as it arrived;
/// * a stream that breaks yields one [`Error::Stream`]; its partial answer reads as unified
///   with [`PartialResponse::to_unified`].
#[derive(Debug)]
pub struct UnifiedStream<B = ByteStream> {
    inner: Inner<B>,
    reader: StreamReader,
    /// The events read and not yet handed out (those of one chunk).
    queue: VecDeque<UnifiedEvent>,
    passthrough: bool,
}

impl<B> UnifiedStream<B> {
    /// A stream reading `inner` with `reader` (made for the request sent).
    pub(crate) fn new(reader: StreamReader, inner: Inner<B>) -> Self {
        UnifiedStream {
            inner,
            reader,
            queue: VecDeque::new(),
            passthrough: false,
        }
    }

    /// Hands out [`UnifiedEvent::Passthrough`] events too: each typed wire chunk (a copy),
    /// before the events of that chunk.
    #[must_use]
    pub fn with_passthrough(mut self, yes: bool) -> Self {
        self.passthrough = yes;
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
    pub fn chunk_count(&self) -> u64 {
        each!(&self.inner, s => s.chunk_count())
    }

    /// Whether the stream is over (ended or broke) and every event was handed out.
    pub fn is_finished(&self) -> bool {
        self.queue.is_empty() && each!(&self.inner, s => s.is_finished())
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

impl<B: Body> UnifiedStream<B> {
    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<UnifiedEvent, Error>>> {
        loop {
            if let Some(e) = self.queue.pop_front() {
                return Poll::Ready(Some(Ok(e)));
            }
            let next = match &mut self.inner {
                Inner::Chat(s) => ready!(s.poll_item(cx)).map(|r| r.map(DialectChunk::Chat)),
                Inner::Responses(s) => {
                    ready!(s.poll_item(cx)).map(|r| r.map(DialectChunk::Responses))
                }
                Inner::Native(s) => ready!(s.poll_item(cx)).map(|r| r.map(DialectChunk::Native)),
            };
            match next {
                // The chunk moves into its events; it is copied first only for a passthrough.
                Some(Ok(chunk)) => {
                    if self.passthrough {
                        let copy = UnifiedEvent::Passthrough(Box::new(chunk.clone()));
                        self.queue.push_back(copy);
                    }
                    self.reader.read(chunk, &mut self.queue);
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => return Poll::Ready(None),
            }
        }
    }
}

impl UnifiedStream {
    /// The next event, or `None` at the end.
    ///
    /// # Errors
    ///
    /// One [`Error::Stream`] when the stream breaks; `None` follows.
    pub async fn next_event(&mut self) -> Option<Result<UnifiedEvent, Error>> {
        std::future::poll_fn(|cx| self.poll_event(cx)).await
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
}

impl UnifiedStream<BlockingBody> {
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
}

impl Stream for UnifiedStream {
    type Item = Result<UnifiedEvent, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_event(cx)
    }
}

impl Iterator for UnifiedStream<BlockingBody> {
    type Item = Result<UnifiedEvent, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        block_on(|cx| self.poll_event(cx))
    }
}
