//! The blocking client: the same groups and methods as the async [`Client`](crate::Client),
//! over a [`BlockingTransport`], with streams that are [`Iterator`]s. Needs no async runtime.
//!
//! Requests, classification, retry decisions and stream decoding are the async client's
//! (`core`); this module only moves bytes and sleeps with `std::thread::sleep`.
//!
//! ```no_run
//! # fn demo() -> Result<(), dashscope_provider::Error> {
//! use dashscope_provider::blocking::Client;
//! use dashscope_provider::protocol::chat::{ChatRequest, Message};
//!
//! let client = Client::from_env()?;
//! let stream = client
//!     .chat()
//!     .create_stream(ChatRequest::new("qwen-plus", vec![Message::user("Hello")]))?;
//! for chunk in stream {
//!     print!("{}", chunk?.content().unwrap_or_default());
//! }
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use dashscope_protocol::chat::{ChatCompletion, ChatRequest};
use dashscope_protocol::native::{GenerationRequest, GenerationResponse};
use dashscope_protocol::responses::{Response, ResponseRequest};
use dashscope_transport::{
    BlockingBody, BlockingTransport, Phase, SharedBlockingTransport, TransportError, with_deadline,
};
use http::HeaderMap;
use tracing::Span;

use crate::config::Config;
use crate::core::{Call, Failure, Next, Outcome, Step, StreamCore, StreamHead, ops};
use crate::dialect::{ChatDialect, Decodable, Dialect, NativeDialect, ResponsesDialect};
use crate::endpoint::{NativeEndpoint, ResponsesPath};
use crate::error::Error;
use crate::reply::Reply;
use crate::responses_extra::{InputItemList, ListQuery, ResponseDeleted};

pub use crate::conversation::blocking::{Unified, UnifiedStream};

/// A Chat Completions stream: `Iterator<Item = Result<ChatChunk, Error>>`.
pub type ChatStream = EventStream<ChatDialect>;
/// A Responses stream: `Iterator<Item = Result<ResponseStreamEvent, Error>>`.
pub type ResponsesStream = EventStream<ResponsesDialect>;
/// A native stream: `Iterator<Item = Result<GenerationResponse, Error>>`.
pub type NativeStream = EventStream<NativeDialect>;

/// The blocking client for all three dialects. Cheap to clone.
///
/// Do not call it from inside an async runtime's worker thread; use the async
/// [`Client`](crate::Client) there.
pub struct Client<T = SharedBlockingTransport> {
    inner: Arc<Inner<T>>,
}

struct Inner<T> {
    config: Config,
    transport: T,
}

impl<T> Clone for Client<T> {
    fn clone(&self) -> Self {
        Client {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Client<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::Client")
            .field("config", &self.inner.config)
            .field("transport", &self.inner.transport)
            .finish()
    }
}

impl Client<SharedBlockingTransport> {
    /// A client over the ureq transport, with the configuration's connect and read timeouts.
    ///
    /// # Errors
    ///
    /// None today; the `Result` keeps the signature of the async [`Client::new`](crate::Client).
    pub fn new(config: Config) -> Result<Self, Error> {
        let t = config.timeouts();
        let transport = dashscope_transport::UreqTransport::builder()
            .connect_timeout(Some(t.connect))
            .read_timeout(Some(t.idle))
            .timeout(None)
            .build();
        Ok(Client::with_transport(
            config,
            SharedBlockingTransport::new(transport),
        ))
    }

    /// A client configured from the environment ([`Config::from_env`]).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] naming `DASHSCOPE_API_KEY` when no key is set, or naming the
    /// variable that holds an unusable value. Nothing is sent.
    pub fn from_env() -> Result<Self, Error> {
        Client::new(Config::from_env()?)
    }
}

impl<T: BlockingTransport> Client<T> {
    /// A client over `transport`. The transport owns the connect and read timeouts; the
    /// client gives each attempt the configuration's total timeout as the thread's deadline
    /// ([`dashscope_transport::with_deadline`]), which the transport must honour (the default
    /// one does).
    pub fn with_transport(config: Config, transport: T) -> Self {
        Client {
            inner: Arc::new(Inner { config, transport }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.inner.transport
    }

    /// OpenAI-compatible Chat Completions.
    pub fn chat(&self) -> Chat<'_, T> {
        Chat { client: self }
    }

    /// OpenAI-compatible Responses.
    pub fn responses(&self) -> Responses<'_, T> {
        Responses {
            client: self,
            path: ResponsesPath::default(),
        }
    }

    /// DashScope native generation.
    pub fn native(&self) -> Native<'_, T> {
        Native {
            client: self,
            endpoint: NativeEndpoint::default(),
        }
    }

    /// One [`Conversation`](crate::conversation::Conversation) in `dialect`, chosen at run
    /// time (see [`conversation`](crate::conversation)).
    pub fn conversation(&self, dialect: crate::conversation::Dialect) -> Unified<'_, T> {
        Unified::new(self, dialect)
    }

    fn unary<O: Decodable>(&self, call: Call) -> Result<Reply<O>, Error> {
        let span = call.span();
        let _entered = span.enter();
        let mut retrier = call.retrier();
        loop {
            let outcome = self.attempt_unary::<O>(&call);
            match retrier.decide(outcome, &span) {
                Next::Done(result) => {
                    return result.map(|mut reply| {
                        reply.set_attempts(retrier.attempts());
                        reply
                    });
                }
                Next::Retry(wait) => std::thread::sleep(wait),
            }
        }
    }

    /// One attempt, its head and whole body within the total timeout (the transport keeps
    /// the thread's deadline: see [`dashscope_transport::with_deadline`]).
    fn attempt_unary<O: Decodable>(&self, call: &Call) -> Outcome<Reply<O>> {
        with_deadline(call.deadline(), || {
            let response = self.inner.transport.send(call.request())?;
            let (parts, body) = response.into_parts();
            let head = call.receive(parts);
            let bytes = body.bytes(head.body_limit());
            head.unary(bytes)
        })
    }

    fn stream<D: Dialect>(&self, call: Call, acc: D::Accumulator) -> Result<EventStream<D>, Error> {
        let span = call.span();
        let opened = {
            let _entered = span.enter();
            let mut retrier = call.retrier();
            loop {
                let outcome = self.attempt_stream::<D>(&call, acc.clone());
                match retrier.decide(outcome, &span) {
                    Next::Done(result) => break result,
                    Next::Retry(wait) => std::thread::sleep(wait),
                }
            }
        };
        opened.map(|mut s| {
            s.span = span;
            s
        })
    }

    /// One attempt, its head and first chunk within the total timeout (the transport keeps
    /// the thread's deadline: see [`dashscope_transport::with_deadline`]).
    fn attempt_stream<D: Dialect>(
        &self,
        call: &Call,
        acc: D::Accumulator,
    ) -> Outcome<EventStream<D>> {
        let deadline = call.deadline();
        with_deadline(deadline, || {
            let response = self.inner.transport.send(call.request())?;
            let (parts, body) = response.into_parts();
            let head = call.receive(parts);
            if head.stream_kind() == StreamHead::Buffer {
                let bytes = body.bytes(head.body_limit());
                return Err(head.failure(bytes));
            }
            let mut stream = EventStream {
                core: head.stream::<D>(acc),
                body: Some(body),
                pending: None,
                status: head.status.as_u16(),
                headers: head.headers,
                span: Span::none(),
            };
            // Until the first chunk the request may be retried, and an error framed as the
            // first event is an `Error::Api`. Comments and keep-alives do not count: the total
            // timeout bounds the wait, and is reported as the async client does.
            match stream.next_item() {
                Some(Ok(chunk)) => stream.pending = Some(chunk),
                Some(Err(e)) if e.is_timeout() && deadline.is_some_and(|d| Instant::now() >= d) => {
                    return Err(Failure::from(TransportError::timeout(Phase::Body)));
                }
                Some(Err(e)) => return Err(Failure::from(e)),
                None => {}
            }
            Ok(stream)
        })
    }
}

/// Chat Completions: `client.chat()`.
#[derive(Debug)]
pub struct Chat<'c, T> {
    client: &'c Client<T>,
}

impl<T: BlockingTransport> Chat<'_, T> {
    /// `POST /compatible-mode/v1/chat/completions`: one answer. A `stream: true` in `request`
    /// is dropped.
    ///
    /// # Errors
    ///
    /// Any [`Error`] except [`Error::Stream`].
    pub fn create(&self, request: ChatRequest) -> Result<Reply<ChatCompletion>, Error> {
        let call = ops::chat_create(self.client.config(), request)?;
        self.client.unary(call)
    }

    /// The streaming twin: `stream: true` and `stream_options.include_usage: true` (unless
    /// `request` sets `include_usage`). Returns when the first chunk has arrived.
    ///
    /// # Errors
    ///
    /// Any [`Error`] before the first chunk.
    pub fn create_stream(&self, request: ChatRequest) -> Result<ChatStream, Error> {
        let (call, acc) = ops::chat_create_stream(self.client.config(), request)?;
        self.client.stream(call, acc)
    }
}

/// Responses: `client.responses()`.
#[derive(Debug)]
pub struct Responses<'c, T> {
    client: &'c Client<T>,
    path: ResponsesPath,
}

impl<T: BlockingTransport> Responses<'_, T> {
    /// Sends to `path` instead of the current one.
    #[must_use]
    pub fn path(mut self, path: ResponsesPath) -> Self {
        self.path = path;
        self
    }

    /// `POST …/responses`: one answer.
    ///
    /// # Errors
    ///
    /// Any [`Error`] except [`Error::Stream`].
    pub fn create(&self, request: ResponseRequest) -> Result<Reply<Response>, Error> {
        let call = ops::responses_create(self.client.config(), self.path, request)?;
        self.client.unary(call)
    }

    /// The streaming twin (`stream: true`). Returns when the first event has arrived.
    ///
    /// # Errors
    ///
    /// Any [`Error`] before the first event.
    pub fn create_stream(&self, request: ResponseRequest) -> Result<ResponsesStream, Error> {
        let (call, acc) = ops::responses_create_stream(self.client.config(), self.path, request)?;
        self.client.stream(call, acc)
    }

    /// `GET …/responses/{id}`.
    ///
    /// # Errors
    ///
    /// Any [`Error`]; an empty id is [`Error::InvalidRequest`].
    pub fn retrieve(&self, id: &str) -> Result<Reply<Response>, Error> {
        let call = ops::responses_retrieve(self.client.config(), self.path, id)?;
        self.client.unary(call)
    }

    /// `DELETE …/responses/{id}`.
    ///
    /// # Errors
    ///
    /// Any [`Error`]; an empty id is [`Error::InvalidRequest`].
    pub fn delete(&self, id: &str) -> Result<Reply<ResponseDeleted>, Error> {
        let call = ops::responses_delete(self.client.config(), self.path, id)?;
        self.client.unary(call)
    }

    /// `GET …/responses/{id}/input_items`.
    ///
    /// # Errors
    ///
    /// Any [`Error`]; an empty id is [`Error::InvalidRequest`].
    pub fn input_items(&self, id: &str, query: &ListQuery) -> Result<Reply<InputItemList>, Error> {
        let call = ops::responses_input_items(self.client.config(), self.path, id, query)?;
        self.client.unary(call)
    }
}

/// Native generation: `client.native()`.
#[derive(Debug)]
pub struct Native<'c, T> {
    client: &'c Client<T>,
    endpoint: NativeEndpoint,
}

impl<T: BlockingTransport> Native<'_, T> {
    /// Sends to `endpoint` instead of choosing from the content.
    #[must_use]
    pub fn endpoint(mut self, endpoint: NativeEndpoint) -> Self {
        self.endpoint = endpoint;
        self
    }

    /// `POST /api/v1/services/aigc/{text,multimodal}-generation/generation`: one answer.
    ///
    /// # Errors
    ///
    /// Any [`Error`] except [`Error::Stream`].
    pub fn generate(
        &self,
        request: &GenerationRequest,
    ) -> Result<Reply<GenerationResponse>, Error> {
        let call = ops::native_generate(self.client.config(), self.endpoint, request)?;
        self.client.unary(call)
    }

    /// The streaming twin: `X-DashScope-SSE: enable`, `incremental_output: true` unless set.
    /// Returns when the first chunk has arrived.
    ///
    /// # Errors
    ///
    /// Any [`Error`] before the first chunk.
    pub fn generate_stream(&self, request: GenerationRequest) -> Result<NativeStream, Error> {
        let (call, acc) =
            ops::native_generate_stream(self.client.config(), self.endpoint, request)?;
        self.client.stream(call, acc)
    }
}

/// A server-sent-event stream of one dialect's chunks, as an
/// `Iterator<Item = Result<D::Chunk, Error>>`.
///
/// Each `next` blocks until a chunk is decoded (the transport's read timeout bounds each wait).
/// Dropping the iterator drops the body, closing the connection. After an error or the terminal
/// event it yields `None`.
///
/// Every chunk is folded into the dialect's accumulator as it passes (for
/// [`snapshot`](Self::snapshot), [`accumulate`](Self::accumulate) and the partial response of
/// an [`Error::Stream`]), so memory grows with the text received. A caller that keeps what it
/// needs from the chunks itself can turn that off with
/// [`without_snapshot`](Self::without_snapshot).
pub struct EventStream<D: Dialect> {
    core: StreamCore<D>,
    body: Option<BlockingBody>,
    pending: Option<D::Chunk>,
    status: u16,
    headers: HeaderMap,
    span: Span,
}

impl<D: Dialect> fmt::Debug for EventStream<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::EventStream")
            .field("dialect", &D::NAME)
            .field("status", &self.status)
            .field("request_id", &self.core.request_id())
            .field("chunks", &self.core.chunks())
            .field("over", &self.core.is_over())
            .finish_non_exhaustive()
    }
}

impl<D: Dialect> EventStream<D> {
    /// The same stream without the accumulator: the chunks still come out unchanged, but
    /// nothing is folded or kept, so memory stays flat however long the stream runs.
    ///
    /// What this gives up:
    ///
    /// * [`snapshot`](Self::snapshot) and [`accumulate`](Self::accumulate): a [`ChunkStream`]
    ///   has neither, so nothing can return an answer that was never assembled;
    /// * the partial response of an [`Error::Stream`]: it becomes the dialect's *empty*
    ///   response ([`PartialResponse::text`](crate::PartialResponse::text) is `""`, no choices,
    ///   no output items, no usage), whatever had arrived. The rest of the error is unchanged:
    ///   its kind, the service's error (code, message), the request id, and
    ///   [`StreamDetails::chunks`](crate::StreamDetails::chunks), the number of chunks that
    ///   reached the caller before the break. The chunks themselves are the caller's record.
    ///
    /// What was folded before the call (the first chunk, read when the stream opened, and any
    /// chunk pulled since) is dropped; a chunk not yet pulled is still delivered, so calling
    /// this right after `create_stream` loses nothing.
    ///
    /// ```no_run
    /// # fn demo(client: dashscope_provider::blocking::Client) -> Result<(), dashscope_provider::Error> {
    /// use dashscope_provider::protocol::chat::{ChatRequest, Message};
    ///
    /// let req = ChatRequest::new("qwen-plus", vec![Message::user("Write a long story")]);
    /// for chunk in client.chat().create_stream(req)?.without_snapshot() {
    ///     print!("{}", chunk?.content().unwrap_or_default());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn without_snapshot(mut self) -> ChunkStream<D> {
        self.core.stop_folding();
        ChunkStream { inner: self }
    }

    /// Reads the rest of the stream and returns the final response, folded from every chunk
    /// (including those already pulled).
    ///
    /// # Errors
    ///
    /// The [`Error::Stream`] of a stream that broke; its `partial` holds what arrived.
    pub fn accumulate(mut self) -> Result<D::Output, Error> {
        for item in self.by_ref() {
            item?;
        }
        Ok(self.core.finish())
    }

    /// The response as far as it arrived.
    pub fn snapshot(&self) -> D::Output {
        self.core.snapshot()
    }

    /// How many chunks arrived so far.
    pub fn chunks(&self) -> u64 {
        self.core.chunks()
    }

    /// Whether the stream is over (ended or broke).
    pub fn is_finished(&self) -> bool {
        self.pending.is_none() && self.core.is_over()
    }

    /// The HTTP status of the response.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The `x-request-id` header.
    pub fn request_id(&self) -> Option<&str> {
        self.core.request_id()
    }

    fn next_item(&mut self) -> Option<Result<D::Chunk, Error>> {
        if let Some(chunk) = self.pending.take() {
            return Some(Ok(chunk));
        }
        let _entered = self.span.enter();
        loop {
            match self.core.step() {
                Step::Chunk(chunk) => return Some(Ok(chunk)),
                Step::Failed(e) => {
                    self.body = None;
                    return Some(Err(e));
                }
                Step::Finished => {
                    if self.body.take().is_some() {
                        tracing::debug!(chunks = self.core.chunks(), "stream finished");
                    }
                    return None;
                }
                Step::NeedBytes => match self.body.as_mut().and_then(Iterator::next) {
                    Some(Ok(bytes)) => self.core.feed(&bytes),
                    Some(Err(e)) => {
                        self.body = None;
                        return Some(Err(self.core.body_error(e)));
                    }
                    None => {
                        self.body = None;
                        self.core.end_of_body();
                    }
                },
            }
        }
    }
}

impl<D: Dialect> Iterator for EventStream<D> {
    type Item = Result<D::Chunk, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_item()
    }
}

/// An [`EventStream`] that keeps nothing: the chunks, without the accumulator (from
/// [`EventStream::without_snapshot`]). An `Iterator<Item = Result<D::Chunk, Error>>`.
///
/// Its memory does not grow with the stream. It has no `snapshot` or `accumulate`, and a stream
/// that breaks yields one [`Error::Stream`] whose partial response is the dialect's empty one
/// (the error's kind, service error, request id and
/// [`StreamDetails::chunks`](crate::StreamDetails::chunks) are as usual). Otherwise it behaves
/// as the [`EventStream`] it came from: each `next` blocks until a chunk is decoded, dropping it
/// closes the connection, `None` after an error or the terminal event.
pub struct ChunkStream<D: Dialect> {
    inner: EventStream<D>,
}

impl<D: Dialect> fmt::Debug for ChunkStream<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::ChunkStream")
            .field("dialect", &D::NAME)
            .field("status", &self.inner.status)
            .field("request_id", &self.inner.core.request_id())
            .field("chunks", &self.inner.core.chunks())
            .field("over", &self.inner.core.is_over())
            .finish_non_exhaustive()
    }
}

impl<D: Dialect> ChunkStream<D> {
    /// How many chunks arrived so far (including those from before
    /// [`without_snapshot`](EventStream::without_snapshot)).
    pub fn chunks(&self) -> u64 {
        self.inner.chunks()
    }

    /// Whether the stream is over (ended or broke).
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }

    /// The HTTP status of the response.
    pub fn status(&self) -> u16 {
        self.inner.status()
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        self.inner.headers()
    }

    /// The `x-request-id` header.
    pub fn request_id(&self) -> Option<&str> {
        self.inner.request_id()
    }
}

impl<D: Dialect> Iterator for ChunkStream<D> {
    type Item = Result<D::Chunk, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next_item()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compile-time checks: the client is shareable and its streams can move across threads.
    fn _assert_impls() {
        fn send_sync_clone<T: Send + Sync + Clone>() {}
        fn send<T: Send>() {}
        send_sync_clone::<Client>();
        send::<ChatStream>();
        send::<ResponsesStream>();
        send::<NativeStream>();
        send::<ChunkStream<ChatDialect>>();
        send::<ChunkStream<ResponsesDialect>>();
        send::<ChunkStream<NativeDialect>>();
    }
}
