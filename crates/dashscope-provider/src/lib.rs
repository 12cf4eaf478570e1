//! A typed client for Alibaba Cloud Model Studio (DashScope / Qwen) text generation.
//!
//! One client speaks all three wire dialects of the service:
//!
//! | group | dialect | methods |
//! |---|---|---|
//! | [`client.chat()`](Client::chat) | OpenAI-compatible Chat Completions | `create`, `create_stream` |
//! | [`client.responses()`](Client::responses) | OpenAI-compatible Responses | `create`, `create_stream`, `retrieve`, `delete`, `input_items` |
//! | [`client.native()`](Client::native) | DashScope native generation | `generate`, `generate_stream` |
//! | [`client.conversation(dialect)`](Client::conversation) | any of the three, chosen at run time, in the [unified model](conversation) | `send`, `stream` |
//!
//! The wire types are [`dashscope_protocol`]'s, re-exported as [`protocol`].
//!
//! The [cookbook](https://github.com/dashscope-rs/dashscope-rs/blob/main/docs/cookbook.md) maps
//! every task of the official text-generation guides (multi-turn chat, streaming, thinking,
//! images and video, JSON output, partial mode, tool calls, regions, errors and retries, the
//! blocking client, testing with the mock, …) to a runnable example.
//!
//! ```no_run
//! # #[cfg(feature = "reqwest")]
//! # async fn demo() -> Result<(), dashscope_provider::Error> {
//! use dashscope_provider::Client;
//! use dashscope_provider::protocol::chat::{ChatRequest, Message};
//!
//! let client = Client::from_env()?; // DASHSCOPE_API_KEY, DASHSCOPE_BASE_URL / region / workspace
//! let req = ChatRequest::new("qwen-plus", vec![Message::user("Who are you?")]);
//! let reply = client.chat().create(req.clone()).await?;
//! println!("{}", reply.text().unwrap_or_default());
//!
//! let mut stream = client.chat().create_stream(req).await?;
//! while let Some(chunk) = stream.next_chunk().await {
//!     print!("{}", chunk?.content().unwrap_or_default());
//! }
//! # Ok(()) }
//! ```
//!
//! Every call takes its request **by value** (`chat().create(req)`,
//! `native().generate(req)`, `conversation(d).send(conv)`, `input_items(id, query)`; ids are
//! borrowed): clone a request to send it again.
//!
//! **Per-call options** ([`RequestOptions`]: extra headers, the total timeout, the retry policy,
//! the endpoint) go on any group with `with_options`, over the client-wide [`Config`]:
//!
//! ```no_run
//! # #[cfg(feature = "reqwest")]
//! # async fn demo(client: dashscope_provider::Client) -> Result<(), dashscope_provider::Error> {
//! use std::time::Duration;
//!
//! use dashscope_provider::protocol::responses::ResponseRequest;
//! use dashscope_provider::{Endpoint, RequestOptions};
//!
//! let options = RequestOptions::new()
//!     .header("x-trace-id", "t-42")
//!     .total_timeout(Some(Duration::from_secs(20)))
//!     .max_retries(5)
//!     .endpoint(Endpoint::ResponsesLegacy);
//! let reply = client
//!     .responses()
//!     .with_options(options)
//!     .create(ResponseRequest::new("qwen3-max", "Hello"))
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! # Design
//!
//! One core, one description of the methods, two thin shells. A private `core` module does
//! everything that is not I/O: building the `http::Request<Bytes>` (from what [`Config`]
//! prepared once: the parsed base URI, the `Authorization`, user agent, default and workspace
//! header values; then the [`RequestOptions`], content type, accept, `X-DashScope-SSE`),
//! encoding the body once (a retry re-sends the same bytes), scrubbing the key out of whatever
//! the service sends back where it comes in, classifying a response into a typed value or an
//! [`Error`], deciding retries, and decoding streams (the protocol crate's SSE decoder, dialect
//! decoder and accumulator fed with byte chunks). The group methods are written once, as a list
//! that each shell expands: [`Client`] as `async fn`s (tokio's timer), [`blocking::Client`] as
//! plain `fn`s (no runtime); the shells only move bytes and sleep. The streams
//! ([`EventStream`], [`ChunkStream`], [`UnifiedStream`]) are one type each, generic over the
//! body. Dialects and their paths are the protocol crate's one declaration
//! ([`Dialect`], [`Endpoint`]); [`WireDialect`] ties each to its Rust types.
//!
//! * **Streams** are pull-based ([`EventStream`] is a `futures_core::Stream`, the blocking one an
//!   [`Iterator`]); dropping one closes the connection. A `create_stream` call resolves once the
//!   first chunk has arrived: until then the request may be retried, and an error the service
//!   sends as the first event (native `event:error` under HTTP 200, compat `data: {"error":…}`)
//!   is an [`Error::Api`] like any refused request. After that, a broken stream yields one
//!   [`Error::Stream`] carrying the partial response, and is never retried.
//! * **Retries** ([`RetryPolicy`]): 408, 409, 429, 5xx and connection failures before any byte
//!   was sent; `Retry-After` / `retry-after-ms` honoured up to a cap; exponential backoff with
//!   jitter otherwise; never 400/401/403 or quota-exhausted codes.
//! * **Timeouts**: the transport owns connect and read (idle) timeouts (a stalled stream becomes
//!   [`StreamErrorKind::IdleTimeout`]); the client bounds each attempt with [`Timeouts::total`]
//!   (or the call's [`RequestOptions::total_timeout`]): a non-stream call's whole body, a
//!   stream's first chunk.
//! * **Tracing**: one `dashscope.request` span per call (dialect, operation, model, path,
//!   status, request id, attempts). No header is ever logged, so never the key.
//!
//! # Features
//!
//! * **`reqwest`** *(enabled by default)*: [`Client::new`] / [`Client::from_env`] over
//!   reqwest with rustls. Implies `async`.
//! * **`native-tls`**: the same over the platform's TLS library instead of rustls (OpenSSL on
//!   Linux, which needs its development files to build, `libssl-dev` on Debian; SChannel on
//!   Windows; Security.framework on macOS). Implies `async`. It is used when `reqwest` is off
//!   (`default-features = false, features = ["native-tls"]`, which builds without rustls); with
//!   both on, rustls is used.
//! * **`async`**: the async [`Client`] over any [`Transport`]. Needs tokio's timer.
//! * **`blocking`**: [`blocking::Client`] over ureq (rustls). Pulls in no tokio:
//!   `--no-default-features --features blocking` builds without it.
//! * **`test-util`**: [`test_util`], the transport's in-process fakes (replay, capture,
//!   faults), for tests only.
//!

// Where a feature is off, its items' links point at the feature list instead.
#![cfg_attr(not(feature = "test-util"), doc = "[`test_util`]: #features")]
#![cfg_attr(
    not(feature = "async"),
    doc = "[`Client`]: #features\n[`Client::new`]: #features\n[`Client::from_env`]: #features\n\
           [`Transport`]: #features"
)]
#![cfg_attr(not(feature = "blocking"), doc = "[`blocking::Client`]: #features")]
#![cfg_attr(
    not(any(feature = "async", feature = "blocking")),
    doc = "[`EventStream`]: #features\n[`ChunkStream`]: #features\n[`UnifiedStream`]: #features"
)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// Without a client feature only the configuration, error and reply types are used; the core
// that the clients share is compiled (and unit-tested) all the same.
#![cfg_attr(
    not(any(feature = "async", feature = "blocking")),
    allow(dead_code, unused_imports, unused_macros)
)]

pub use dashscope_protocol as protocol;
pub use dashscope_transport as transport;

pub mod config;
pub mod conversation;
pub mod dialect;
pub mod error;
pub mod retry;

mod core;
mod groups;
mod options;
mod reply;
mod responses_extra;
mod stream;

#[cfg(feature = "async")]
mod client;

#[cfg(feature = "blocking")]
pub mod blocking;

/// The transport's in-process fakes for tests ([`dashscope_transport::test_util`]), so that a
/// test needs no second dependency. **Do not enable `test-util` in production.**
///
/// ```
/// # #[cfg(feature = "blocking")]
/// # fn main() -> Result<(), dashscope_provider::Error> {
/// use dashscope_provider::blocking::Client;
/// use dashscope_provider::protocol::chat::{ChatRequest, Message};
/// use dashscope_provider::test_util::{CaptureTransport, Fault, FaultTransport};
/// use dashscope_provider::{Config, RequestOptions};
///
/// // Every request fails with a 503; the capture records what was sent.
/// let transport = CaptureTransport::new(FaultTransport::always(Fault::status(503)));
/// let log = transport.log();
/// let config = Config::builder().api_key("sk-test").build()?;
/// let client = Client::with_transport(config, transport);
///
/// let req = ChatRequest::new("qwen-plus", vec![Message::user("Hi")]);
/// let options = RequestOptions::new().max_retries(1).header("x-trace-id", "t-1");
/// let e = client.chat().with_options(options).create(req).unwrap_err();
/// assert_eq!(e.status(), Some(503));
/// assert_eq!(log.len(), 2, "the first attempt and one retry");
/// assert_eq!(log.last().unwrap().header("x-trace-id"), Some("t-1"));
/// # Ok(()) }
/// # #[cfg(not(feature = "blocking"))]
/// # fn main() {}
/// ```
#[cfg(feature = "test-util")]
pub mod test_util {
    pub use dashscope_transport::test_util::*;
}

pub use config::{ApiKey, Config, ConfigBuilder, ConfigError, Region, Timeouts};
pub use dashscope_protocol::dialect::{Dialect, Endpoint};
pub use dialect::{ChatDialect, NativeDialect, PartialResponse, ResponsesDialect, WireDialect};
pub use error::{ApiDetails, Error, StreamDetails, StreamErrorKind};
pub use options::RequestOptions;
pub use reply::{PARTIAL_RESPONSE_HEADER, Reply, chat_continuation, native_continuation};
pub use responses_extra::{InputItemList, ListOrder, ListQuery, ResponseDeleted};
pub use retry::RetryPolicy;

#[cfg(any(feature = "async", feature = "blocking"))]
pub use conversation::UnifiedStream;
#[cfg(any(feature = "async", feature = "blocking"))]
pub use groups::{Chat, Native, Responses, Unified};
#[cfg(any(feature = "async", feature = "blocking"))]
pub use stream::{ChunkStream, EventStream};

#[cfg(feature = "async")]
pub use client::{ChatStream, Client, NativeStream, ResponsesStream};

#[cfg(feature = "blocking")]
pub use dashscope_transport::{BlockingTransport, SharedBlockingTransport};
#[cfg(feature = "async")]
pub use dashscope_transport::{SharedTransport, Transport};

/// The README's example, compiled as a doctest so that it cannot rot.
#[cfg(all(doctest, feature = "reqwest"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
