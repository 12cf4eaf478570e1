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
mod transport;

#[cfg(any(feature = "reqwest", feature = "native-tls"))]
mod backend_reqwest;
#[cfg(feature = "blocking")]
mod backend_ureq;

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
