//! HTTP transports for the DashScope SDK.
//!
//! A transport sends one fully built `http::Request<Bytes>` and hands back the response as it
//! arrives: the status and headers first, then the body chunk by chunk. Everything above it
//! (URLs, authentication headers, JSON, retries, SSE decoding) belongs to the SDK; everything
//! below it (connections, TLS, proxies, pools, timers) belongs to the transport.
//!
//! | Trait | Body | Backend | Fakes (`test-util`) |
//! |---|---|---|---|
//! | [`Transport`] (async) | [`ByteStream`] | [`ReqwestTransport`] | [`test_util::ReplayTransport`], [`test_util::CaptureTransport`], [`test_util::FaultTransport`] |
//! | [`BlockingTransport`] | [`BlockingBody`] (an `Iterator`) | [`UreqTransport`] | the same three |
//!
//! Both traits share one contract: `send` returns as soon as the status and headers arrive; a
//! 4xx or 5xx is a response, not an error; dropping the body closes the connection; redirects
//! are not followed. Failures are a [`TransportError`], which says how far the exchange got
//! ([`TransportError::is_request_sent`] decides whether a retry is safe) and never holds the
//! request's headers or URL.
//!
//! # Timeouts
//!
//! Both backends name three timers (none of which the server's pace can reset by accident):
//!
//! * **connect timeout** ([`DEFAULT_CONNECT_TIMEOUT`]): DNS, TCP and TLS.
//! * **read timeout** ([`DEFAULT_READ_TIMEOUT`]): the longest wait for progress: for the
//!   response head after sending, and then for each body chunk. It restarts on every chunk, so
//!   a long stream that keeps talking never trips it, while a stalled one does. It is the
//!   error a stalled SSE stream gets ([`TransportError::is_timeout`] and
//!   [`TransportError::is_body`]).
//! * **total timeout**: a deadline over the whole exchange, body included. Off by default,
//!   because a generation stream may legitimately run for many minutes.
//!
//! A blocking caller can also put one deadline over any part of an exchange it chooses (the
//! head and the first few body reads, say) with [`with_deadline`]: [`UreqTransport`] applies
//! the calling thread's deadline to every read and write.
//!
//! Pooled connections are dropped after [`DEFAULT_POOL_IDLE_TIMEOUT`] unused: DashScope's
//! gateways close idle keep-alive connections, and a request written to such a connection
//! fails before any response.
//!
//! # Reading ahead
//!
//! A `block_on` future (what `#[tokio::main]` and `#[tokio::test]` run) pays for every wake-up:
//! an unpark of its thread from a worker on a multi-thread runtime, a turn of the I/O driver
//! before each poll on a current-thread one. A body read from it chunk by chunk pays that once
//! per chunk, and an event stream arrives one small chunk per event. So when the reader of a
//! body is not one of the runtime's tasks, [`ReqwestTransport`] reads the body on a task of
//! the runtime, next to the connection, into a buffer of at most **64 KiB** per body (plus the
//! one chunk in hand, a single read of the connection), and wakes the reader once per batch:
//! when the connection has nothing more at once, when the buffer is full, and at the end. The
//! task stops reading when the buffer is full, so a reader that falls behind holds the server
//! back through TCP flow control instead of growing the buffer, and no timer runs while it
//! waits for room: the read timeout measures the network's silence, not the reader's.
//! Dropping the [`ByteStream`] aborts the task at once, which closes the connection; a body
//! whose runtime shut down ends with an error, never a silent end.
//!
//! A reader that is a task (`tokio::spawn`) is woken through the scheduler's queues, next to
//! the connection's task, and reads the body itself; so does any reader of a body whose
//! `content-length` fits within the buffer (it is one batch already).
//!
//! # Secrets
//!
//! [`secrets`] keeps API keys out of what a program shows: [`secrets::Secrets`] finds and
//! scrubs every encoding of a key a server may echo (as it is, JSON-escaped, percent-encoded,
//! base64), in headers, bodies and, with [`secrets::StreamScrubber`], streams arriving in
//! chunks; it also tells which headers and query parameters carry keys. The SDK's client and
//! the mock server both redact through it. It needs no feature.
//!
//! # Features
//!
//! * **`reqwest`** *(enabled by default)*: [`ReqwestTransport`], the async backend on
//!   reqwest with rustls (the `ring` crypto provider and the platform's certificate
//!   verifier), HTTP/1.1 and HTTP/2, gzip decoding, and proxies from the environment
//!   (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, and the system settings on macOS and
//!   Windows). Needs a tokio runtime with the time driver enabled.
//! * **`native-tls`**: [`ReqwestTransport`] on the platform's TLS library instead of rustls
//!   (OpenSSL on Linux, which needs its development files, `libssl-dev` on Debian, to build;
//!   SChannel on Windows; Security.framework on macOS), with the platform's certificate store.
//!   Everything else is as with `reqwest`. It is used when the `reqwest` feature (rustls, the
//!   default) is off: depend with `default-features = false`; with both on, rustls is used.
//! * **`blocking`**: [`UreqTransport`], the blocking backend on ureq with rustls (`ring`,
//!   webpki roots), gzip decoding and proxies from the environment. It needs no async runtime:
//!   `--no-default-features --features blocking` has no tokio in its dependency tree.
//! * **`test-util`**: the in-process fakes in [`test_util`]. For tests only.
//!
//! # Example
//!
//! ```no_run
//! # #[cfg(feature = "reqwest")]
//! # async fn demo() -> Result<(), dashscope_transport::TransportError> {
//! use bytes::Bytes;
//! use dashscope_transport::{ReqwestTransport, SharedTransport, Transport};
//!
//! let transport = SharedTransport::new(ReqwestTransport::new()?);
//! let req = http::Request::post("https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions")
//!     .header("authorization", "Bearer sk-…")
//!     .header("content-type", "application/json")
//!     .body(Bytes::from_static(br#"{"model":"qwen-plus","messages":[],"stream":true}"#))
//!     .expect("a valid request");
//! let mut body = transport.send(req).await?.into_body();
//! while let Some(chunk) = body.next_chunk().await {
//!     let chunk = chunk?; // feed an SSE decoder
//! #   let _ = chunk;
//! }
//! # Ok(())
//! # }
//! ```

// Where a feature is off, its items' links point at the feature list instead.
#![cfg_attr(
    not(any(feature = "reqwest", feature = "native-tls")),
    doc = "[`ReqwestTransport`]: #features"
)]
#![cfg_attr(not(feature = "blocking"), doc = "[`UreqTransport`]: #features")]
#![cfg_attr(
    not(feature = "test-util"),
    doc = "[`test_util`]: #features\n[`test_util::ReplayTransport`]: #features\n\
           [`test_util::CaptureTransport`]: #features\n[`test_util::FaultTransport`]: #features"
)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::time::Duration;

mod body;
mod deadline;
mod error;
pub mod secrets;
mod transport;

#[cfg(any(feature = "reqwest", feature = "native-tls"))]
mod backend_reqwest;
#[cfg(feature = "blocking")]
mod backend_ureq;
#[cfg(any(feature = "reqwest", feature = "native-tls"))]
mod read_ahead;

#[cfg(feature = "test-util")]
pub mod test_util;

pub use body::{BlockingBody, ByteStream};
pub use deadline::{current_deadline, with_deadline};
pub use error::{BoxError, Phase, TransportError};
pub use transport::{BlockingTransport, SharedBlockingTransport, SharedTransport, Transport};

#[cfg(any(feature = "reqwest", feature = "native-tls"))]
pub use backend_reqwest::{ReqwestTransport, ReqwestTransportBuilder};
#[cfg(feature = "blocking")]
pub use backend_ureq::{UreqTransport, UreqTransportBuilder};

/// The backends' default connect timeout (DNS, TCP and TLS): 10 seconds.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The backends' default read timeout: 300 seconds without progress, waiting for the response
/// head or between two body chunks.
///
/// This is the DashScope Python SDK's default (its 300 s timeout is the idle time between
/// chunks for streams). A non-streaming generation sends nothing until it is complete, so a
/// very long one needs a larger value.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(300);

/// The backends' default pool idle timeout: 90 seconds.
///
/// DashScope's gateways close keep-alive connections left idle for a few minutes; a pooled
/// connection kept longer than that fails on its next use. 90 seconds stays well under it while
/// still reusing connections between the requests of one conversation.
pub const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// The README's example, compiled as a doctest so that it cannot rot.
#[cfg(all(doctest, feature = "reqwest"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
