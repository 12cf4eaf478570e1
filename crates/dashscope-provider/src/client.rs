//! The async client: moves bytes through a [`Transport`] and sleeps with tokio's timer.
//! Everything else (requests, classification, retries, stream decoding) is in `core`.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use dashscope_protocol::chat::{ChatCompletion, ChatRequest};
use dashscope_protocol::native::{GenerationRequest, GenerationResponse};
use dashscope_protocol::responses::{Response, ResponseRequest};
use dashscope_transport::{Phase, SharedTransport, Transport, TransportError};
use tracing::Instrument;

use crate::config::Config;
use crate::core::{Call, Next, Outcome, StreamHead, ops};
use crate::dialect::{ChatDialect, Decodable, Dialect, NativeDialect, ResponsesDialect};
use crate::endpoint::{NativeEndpoint, ResponsesPath};
use crate::error::Error;
use crate::reply::Reply;
use crate::responses_extra::{InputItemList, ListQuery, ResponseDeleted};
use crate::stream::EventStream;

/// A Chat Completions stream: `Stream<Item = Result<ChatChunk, Error>>`.
pub type ChatStream = EventStream<ChatDialect>;
/// A Responses stream: `Stream<Item = Result<ResponseStreamEvent, Error>>`.
pub type ResponsesStream = EventStream<ResponsesDialect>;
/// A native stream: `Stream<Item = Result<GenerationResponse, Error>>`.
pub type NativeStream = EventStream<NativeDialect>;

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
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .field("transport", &self.inner.transport)
            .finish()
    }
}

#[cfg(feature = "reqwest")]
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
    /// client applies the configuration's total timeout to each attempt (see
    /// [`Timeouts::total`](crate::Timeouts::total)).
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

    /// OpenAI-compatible Responses (on the current path; see [`Responses::path`]).
    pub fn responses(&self) -> Responses<'_, T> {
        Responses {
            client: self,
            path: ResponsesPath::default(),
        }
    }

    /// DashScope native generation (endpoint chosen from the content; see
    /// [`Native::endpoint`]).
    pub fn native(&self) -> Native<'_, T> {
        Native {
            client: self,
            endpoint: NativeEndpoint::default(),
        }
    }

    /// One [`Conversation`](crate::conversation::Conversation) in `dialect`, chosen at run
    /// time: converted to the dialect's request, sent through its group, read back as a
    /// [`UnifiedResponse`](crate::conversation::UnifiedResponse) (see [`conversation`](crate::conversation)).
    pub fn conversation(&self, dialect: crate::conversation::Dialect) -> crate::Unified<'_, T> {
        crate::Unified::new(self, dialect)
    }

    /// Sends a non-stream call, retrying as the policy allows.
    async fn unary<O: Decodable>(&self, call: Call) -> Result<Reply<O>, Error> {
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
    async fn stream<D: Dialect>(
        &self,
        call: Call,
        acc: D::Accumulator,
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
    async fn attempt_stream<D: Dialect>(
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
        within(deadline, Phase::Body, stream.peek()).await?;
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

/// Chat Completions: `client.chat()`.
#[derive(Debug)]
pub struct Chat<'c, T> {
    client: &'c Client<T>,
}

impl<T: Transport> Chat<'_, T> {
    /// `POST /compatible-mode/v1/chat/completions`: one answer. A `stream: true` in `request`
    /// is dropped (use [`create_stream`](Self::create_stream)).
    ///
    /// # Errors
    ///
    /// Any [`Error`] except [`Error::Stream`]; see the variants.
    pub async fn create(&self, request: ChatRequest) -> Result<Reply<ChatCompletion>, Error> {
        let call = ops::chat_create(self.client.config(), request)?;
        self.client.unary(call).await
    }

    /// The streaming twin: sets `stream: true` and `stream_options.include_usage: true` (unless
    /// `request` sets `include_usage`). Resolves when the first chunk has arrived.
    ///
    /// # Errors
    ///
    /// Any [`Error`] before the first chunk (the stream's own errors come out of the stream).
    pub async fn create_stream(&self, request: ChatRequest) -> Result<ChatStream, Error> {
        let (call, acc) = ops::chat_create_stream(self.client.config(), request)?;
        self.client.stream(call, acc).await
    }
}

/// Responses: `client.responses()`.
#[derive(Debug)]
pub struct Responses<'c, T> {
    client: &'c Client<T>,
    path: ResponsesPath,
}

impl<T: Transport> Responses<'_, T> {
    /// Sends to `path` instead of the current one (e.g. [`ResponsesPath::Legacy`]).
    #[must_use]
    pub fn path(mut self, path: ResponsesPath) -> Self {
        self.path = path;
        self
    }

    /// `POST …/responses`: one answer. A `stream: true` in `request` is dropped.
    ///
    /// # Errors
    ///
    /// Any [`Error`] except [`Error::Stream`]; a response whose `error` is set is an
    /// [`Error::Api`].
    pub async fn create(&self, request: ResponseRequest) -> Result<Reply<Response>, Error> {
        let call = ops::responses_create(self.client.config(), self.path, request)?;
        self.client.unary(call).await
    }

    /// The streaming twin (`stream: true`): typed events, ending at `response.completed` /
    /// `response.incomplete`. Resolves when the first event has arrived.
    ///
    /// # Errors
    ///
    /// Any [`Error`] before the first event.
    pub async fn create_stream(&self, request: ResponseRequest) -> Result<ResponsesStream, Error> {
        let (call, acc) = ops::responses_create_stream(self.client.config(), self.path, request)?;
        self.client.stream(call, acc).await
    }

    /// `GET …/responses/{id}`: a stored response.
    ///
    /// # Errors
    ///
    /// Any [`Error`]; an empty id is [`Error::InvalidRequest`].
    pub async fn retrieve(&self, id: &str) -> Result<Reply<Response>, Error> {
        let call = ops::responses_retrieve(self.client.config(), self.path, id)?;
        self.client.unary(call).await
    }

    /// `DELETE …/responses/{id}`.
    ///
    /// # Errors
    ///
    /// Any [`Error`]; an empty id is [`Error::InvalidRequest`].
    pub async fn delete(&self, id: &str) -> Result<Reply<ResponseDeleted>, Error> {
        let call = ops::responses_delete(self.client.config(), self.path, id)?;
        self.client.unary(call).await
    }

    /// `GET …/responses/{id}/input_items`: the items the response was given.
    ///
    /// # Errors
    ///
    /// Any [`Error`]; an empty id is [`Error::InvalidRequest`].
    pub async fn input_items(
        &self,
        id: &str,
        query: &ListQuery,
    ) -> Result<Reply<InputItemList>, Error> {
        let call = ops::responses_input_items(self.client.config(), self.path, id, query)?;
        self.client.unary(call).await
    }
}

/// Native generation: `client.native()`.
#[derive(Debug)]
pub struct Native<'c, T> {
    client: &'c Client<T>,
    endpoint: NativeEndpoint,
}

impl<T: Transport> Native<'_, T> {
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
    /// Any [`Error`] except [`Error::Stream`]; a body with a top-level `code` (even under HTTP
    /// 200) is an [`Error::Api`].
    pub async fn generate(
        &self,
        request: &GenerationRequest,
    ) -> Result<Reply<GenerationResponse>, Error> {
        let call = ops::native_generate(self.client.config(), self.endpoint, request)?;
        self.client.unary(call).await
    }

    /// The streaming twin: `X-DashScope-SSE: enable`, and `incremental_output: true` unless
    /// `request` sets it. With `incremental_output: false` the chunks repeat the text so far and
    /// [`EventStream::accumulate`] folds them accordingly. Resolves when the first chunk has
    /// arrived.
    ///
    /// # Errors
    ///
    /// Any [`Error`] before the first chunk; an `event:error` first event is an
    /// [`Error::Api`].
    pub async fn generate_stream(&self, request: GenerationRequest) -> Result<NativeStream, Error> {
        let (call, acc) =
            ops::native_generate_stream(self.client.config(), self.endpoint, request)?;
        self.client.stream(call, acc).await
    }
}

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
    }
}
