//! The async client: moves bytes through a [`Transport`] and sleeps with tokio's timer. The
//! group methods are the list in `groups.rs`, expanded here as `async fn`s; requests,
//! classification, retry decisions and stream decoding are in `core`.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use dashscope_transport::{Phase, SharedTransport, Transport, TransportError};
use tracing::Instrument;

use crate::config::Config;
use crate::core::{Call, Next, Outcome, StreamHead};
use crate::dialect::{ChatDialect, Decodable, NativeDialect, ResponsesDialect, WireDialect};
use crate::groups::{Chat, Native, Responses, Unified};
use crate::groups::{client_methods, client_type, group_methods, prelude::*};
use crate::stream::EventStream;

/// A Chat Completions stream: `Stream<Item = Result<ChatChunk, Error>>`.
pub type ChatStream = EventStream<ChatDialect>;
/// A Responses stream: `Stream<Item = Result<ResponseStreamEvent, Error>>`.
pub type ResponsesStream = EventStream<ResponsesDialect>;
/// A native stream: `Stream<Item = Result<GenerationResponse, Error>>`.
pub type NativeStream = EventStream<NativeDialect>;
use crate::conversation::UnifiedStream;

/// The async client for all three dialects.
///
/// Cheap to clone (the configuration and the transport are shared). `T` is the transport:
/// [`SharedTransport`] (the default, built on reqwest by [`Client::new`]) or any
/// [`Transport`] given to [`Client::with_transport`].
///
/// ```no_run
/// # async fn demo() -> Result<(), dashscope_provider::Error> {
/// use dashscope_provider::Client;
/// use dashscope_provider::protocol::chat::{ChatRequest, Message};
///
/// let client = Client::from_env()?;
/// let reply = client
///     .chat()
///     .create(ChatRequest::new("qwen-plus", vec![Message::user("Hello")]))
///     .await?;
/// println!("{}", reply.text().unwrap_or_default());
/// # Ok(()) }
/// ```
pub struct Client<T = SharedTransport> {
    inner: Arc<Shared<T>>,
}

client_type!("Client");

#[cfg(any(feature = "reqwest", feature = "native-tls"))]
impl Client<SharedTransport> {
    /// A client over the reqwest transport, with the configuration's connect and read
    /// timeouts.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] when the HTTP client cannot be built (TLS set-up).
    pub fn new(config: Config) -> Result<Self, Error> {
        let t = config.timeouts();
        let transport = dashscope_transport::ReqwestTransport::builder()
            .connect_timeout(Some(t.connect))
            .read_timeout(Some(t.idle))
            .timeout(None)
            .build()
            .map_err(|e| Error::InvalidRequest {
                message: "the HTTP client could not be built".to_owned(),
                source: Some(Box::new(e)),
            })?;
        Ok(Client::with_transport(
            config,
            SharedTransport::new(transport),
        ))
    }

    /// A client configured from the environment ([`Config::from_env`]: `DASHSCOPE_API_KEY`,
    /// `DASHSCOPE_BASE_URL`, `DASHSCOPE_REGION`, …).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] naming `DASHSCOPE_API_KEY` when no key is set, or naming the
    /// variable that holds an unusable value. Nothing is sent.
    pub fn from_env() -> Result<Self, Error> {
        Client::new(Config::from_env()?)
    }
}

impl<T: Transport> Client<T> {
    /// A client over `transport`. The transport owns the connect and read timeouts; the
    /// client applies the total timeout to each attempt with tokio's timer (see
    /// [`Timeouts::total`](crate::Timeouts::total)).
    pub fn with_transport(config: Config, transport: T) -> Self {
        Client {
            inner: Arc::new(Shared { config, transport }),
        }
    }

    client_methods!();

    /// Sends a non-stream call, retrying as the policy allows.
    pub(crate) async fn unary<O: Decodable>(&self, call: Call) -> Result<Reply<O>, Error> {
        let span = call.span();
        async {
            let mut retrier = call.retrier();
            loop {
                let outcome = self.attempt_unary::<O>(&call).await;
                match retrier.decide(outcome, &span) {
                    Next::Done(result) => {
                        return result.map(|mut reply| {
                            reply.set_attempts(retrier.attempts());
                            reply
                        });
                    }
                    Next::Retry(wait) => tokio::time::sleep(wait).await,
                }
            }
        }
        .instrument(span.clone())
        .await
    }

    /// One attempt, its head and whole body within the total timeout.
    async fn attempt_unary<O: Decodable>(&self, call: &Call) -> Outcome<Reply<O>> {
        let deadline = call.deadline();
        let send = self.inner.transport.send(call.request());
        let response = within(deadline, Phase::Request, send).await?;
        let (parts, body) = response.into_parts();
        let head = call.receive(parts);
        let bytes = within(deadline, Phase::Body, body.bytes(head.body_limit())).await;
        head.unary(bytes)
    }

    /// Opens a stream, retrying as the policy allows until its first chunk arrives.
    pub(crate) async fn stream<D: WireDialect>(
        &self,
        (call, acc): (Call, D::Accumulator),
    ) -> Result<EventStream<D>, Error> {
        let span = call.span();
        let opened = async {
            let mut retrier = call.retrier();
            loop {
                let outcome = self.attempt_stream::<D>(&call, acc.clone()).await;
                match retrier.decide(outcome, &span) {
                    Next::Done(result) => return result,
                    Next::Retry(wait) => tokio::time::sleep(wait).await,
                }
            }
        }
        .instrument(span.clone())
        .await;
        opened.map(|s| s.with_span(span))
    }

    /// One attempt, its head and first chunk within the total timeout.
    async fn attempt_stream<D: WireDialect>(
        &self,
        call: &Call,
        acc: D::Accumulator,
    ) -> Outcome<EventStream<D>> {
        let deadline = call.deadline();
        let send = self.inner.transport.send(call.request());
        let response = within(deadline, Phase::Request, send).await?;
        let (parts, body) = response.into_parts();
        let head = call.receive(parts);
        if head.stream_kind() == StreamHead::Buffer {
            let bytes = within(deadline, Phase::Body, body.bytes(head.body_limit())).await;
            return Err(head.failure(bytes));
        }
        let core = head.stream::<D>(acc);
        let mut stream = EventStream::new(core, body, head.status.as_u16(), head.headers);
        // Wait for the first chunk: until then the request may still be retried, and an error
        // the service frames as the stream's first event is reported as the `Error::Api` it is.
        // Comments and keep-alives do not count: the total timeout bounds the wait.
        let first = async {
            let first = stream.next_chunk().await;
            stream.hold_first(first)
        };
        within(deadline, Phase::Body, first).await?;
        Ok(stream)
    }
}

/// `fut`'s output, or a timeout in `phase` when `deadline` comes first.
async fn within<T, E: From<TransportError>>(
    deadline: Option<Instant>,
    phase: Phase,
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    match deadline {
        Some(at) => tokio::time::timeout_at(at.into(), fut)
            .await
            .unwrap_or_else(|_| Err(E::from(TransportError::timeout(phase)))),
        None => fut.await,
    }
}

/// `io!(x)`: the async shell waits with `.await`.
macro_rules! io {
    ($e:expr) => {
        $e.await
    };
}

/// Expands the group methods as `async fn`s of the groups of this client.
macro_rules! async_methods {
    ($(impl $group:ident {
        $($(#[$m:meta])* fn $name:ident(&$self:ident $(, $arg:ident: $ty:ty)*) -> $out:ty $body:block)*
    })*) => {$(
        impl<T: Transport> $group<'_, Client<T>> {
            $($(#[$m])* pub async fn $name(&$self $(, $arg: $ty)*) -> Result<$out, Error> $body)*
        }
    )*};
}

group_methods!(async_methods);

#[cfg(test)]
mod tests {
    use super::*;

    /// Compile-time checks: the client is shareable and its futures can be spawned.
    fn _assert_impls(client: &Client) {
        fn send_sync_clone<T: Send + Sync + Clone>() {}
        fn send<T: Send>(_: &T) {}
        send_sync_clone::<Client>();
        send_sync_clone::<Client<std::sync::Arc<dyn Transport>>>();
        let req = ChatRequest::default();
        send(&client.chat().create(req.clone()));
        send(&client.chat().create_stream(req));
        send(&client.responses().retrieve("id"));
        send(
            &client
                .native()
                .generate_stream(GenerationRequest::default()),
        );
        send(
            &client
                .conversation(crate::Dialect::Chat)
                .send(Conversation::new("m")),
        );
        send(
            &client
                .conversation(crate::Dialect::Chat)
                .stream(Conversation::new("m")),
        );
    }
}
