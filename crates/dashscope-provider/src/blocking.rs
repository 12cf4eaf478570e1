//! The blocking client: the same groups and methods as the async [`Client`](crate::Client),
//! over a [`BlockingTransport`], with streams that are [`Iterator`]s. Needs no async runtime.
//!
//! The group methods are the list in `groups.rs`, expanded here as plain `fn`s; requests,
//! classification, retry decisions and stream decoding are the async client's (`core`). This
//! module only moves bytes and sleeps with `std::thread::sleep`.
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

use dashscope_transport::{
    BlockingBody, BlockingTransport, Phase, SharedBlockingTransport, TransportError, with_deadline,
};

use crate::config::Config;
use crate::core::{Call, Failure, Next, Outcome, StreamHead};
use crate::dialect::{ChatDialect, Decodable, NativeDialect, ResponsesDialect, WireDialect};
use crate::groups::{client_methods, client_type, group_methods, prelude::*};

/// The groups, shared with the async client (their methods here are the blocking ones).
pub use crate::groups::{Chat, Native, Responses, Unified};

/// A blocking server-sent-event stream: an `Iterator<Item = Result<D::Chunk, Error>>` (see
/// [`crate::EventStream`], whose methods it has).
pub type EventStream<D> = crate::stream::EventStream<D, BlockingBody>;
/// A blocking stream that keeps nothing (see [`crate::ChunkStream`]).
pub type ChunkStream<D> = crate::stream::ChunkStream<D, BlockingBody>;
/// A blocking stream of unified events (see [`crate::UnifiedStream`]).
pub type UnifiedStream = crate::conversation::UnifiedStream<BlockingBody>;
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
    inner: Arc<Shared<T>>,
}

client_type!("blocking::Client");

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
    /// client gives each attempt the total timeout as the thread's deadline
    /// ([`dashscope_transport::with_deadline`]), which the transport must honour (the default
    /// one does).
    pub fn with_transport(config: Config, transport: T) -> Self {
        Client {
            inner: Arc::new(Shared { config, transport }),
        }
    }

    client_methods!();

    /// Sends a non-stream call, retrying as the policy allows.
    pub(crate) fn unary<O: Decodable>(&self, call: Call) -> Result<Reply<O>, Error> {
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

    /// Opens a stream, retrying as the policy allows until its first chunk arrives.
    pub(crate) fn stream<D: WireDialect>(
        &self,
        (call, acc): (Call, D::Accumulator),
    ) -> Result<EventStream<D>, Error> {
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
        opened.map(|s| s.with_span(span))
    }

    /// One attempt, its head and first chunk within the total timeout (the transport keeps
    /// the thread's deadline: see [`dashscope_transport::with_deadline`]).
    fn attempt_stream<D: WireDialect>(
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
            let core = head.stream::<D>(acc);
            let mut stream = EventStream::new(core, body, head.status.as_u16(), head.headers);
            // Until the first chunk the request may be retried, and an error framed as the
            // first event is an `Error::Api`. Comments and keep-alives do not count: the total
            // timeout bounds the wait, and is reported as the async client does.
            let first = stream.next();
            match stream.hold_first(first) {
                Err(e) if e.is_timeout() && deadline.is_some_and(|d| Instant::now() >= d) => {
                    Err(Failure::from(TransportError::timeout(Phase::Body)))
                }
                Err(e) => Err(Failure::from(e)),
                Ok(()) => Ok(stream),
            }
        })
    }
}

/// `io!(x)`: the blocking shell has already waited.
macro_rules! io {
    ($e:expr) => {
        $e
    };
}

/// Expands the group methods as blocking `fn`s of the groups of this client.
macro_rules! blocking_methods {
    ($(impl $group:ident {
        $($(#[$m:meta])* fn $name:ident(&$self:ident $(, $arg:ident: $ty:ty)*) -> $out:ty $body:block)*
    })*) => {$(
        impl<T: BlockingTransport> $group<'_, Client<T>> {
            $($(#[$m])* pub fn $name(&$self $(, $arg: $ty)*) -> Result<$out, Error> $body)*
        }
    )*};
}

group_methods!(blocking_methods);

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
        send::<UnifiedStream>();
        send::<ChunkStream<ChatDialect>>();
        send::<ChunkStream<ResponsesDialect>>();
        send::<ChunkStream<NativeDialect>>();
    }
}
