//! The async backend: reqwest over rustls (or the platform's TLS with `native-tls`).

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::time::Instant;

use crate::error::Message;
use crate::read_ahead::{self, BodyReader};
use crate::{
    ByteStream, DEFAULT_CONNECT_TIMEOUT, DEFAULT_POOL_IDLE_TIMEOUT, DEFAULT_READ_TIMEOUT, Phase,
    Transport, TransportError,
};

/// A [`Transport`] on [reqwest](https://docs.rs/reqwest): HTTP/1.1 and HTTP/2 over rustls (or
/// the platform's TLS library with the `native-tls` feature), connection pooling, gzip
/// decoding, proxies from the environment.
///
/// Cheap to clone (clones share the connection pool). Build one with
/// [`ReqwestTransport::new`] (the defaults), [`ReqwestTransport::builder`], or
/// [`ReqwestTransport::from_client`] to reuse your own `reqwest::Client`.
///
/// The read timeout and the total timeout are enforced by this type around each wait (the
/// response head, then each body chunk), so they apply per HTTP/2 stream as well, and to a
/// client passed in with [`from_client`](Self::from_client). The connect timeout, the pool
/// and the proxies are the `reqwest::Client`'s.
///
/// # Optional
///
/// This requires the `reqwest` feature (enabled by default). It must run inside a tokio
/// runtime with the time driver enabled.
#[derive(Clone, Debug)]
pub struct ReqwestTransport {
    client: reqwest::Client,
    timers: Timers,
}

#[derive(Clone, Copy, Debug)]
struct Timers {
    read: Option<Duration>,
    total: Option<Duration>,
}

impl ReqwestTransport {
    /// A transport with the default settings (see [`ReqwestTransportBuilder`]).
    ///
    /// # Errors
    ///
    /// [`Phase::Prepare`] if the TLS configuration or the client cannot be built (for
    /// example, the platform's certificate verifier is unavailable).
    pub fn new() -> Result<Self, TransportError> {
        Self::builder().build()
    }

    /// A builder for a transport with non-default settings.
    pub fn builder() -> ReqwestTransportBuilder {
        ReqwestTransportBuilder::default()
    }

    /// A transport over your own `reqwest::Client`, with the default read timeout
    /// ([`DEFAULT_READ_TIMEOUT`]) and no total timeout.
    ///
    /// The client's own settings are kept as they are: redirects, proxies, TLS, pool, and
    /// any `timeout` you gave it (which, being a total deadline, would also cut long streams).
    ///
    /// **NOTE**: with the `reqwest` feature this crate enables
    /// reqwest's `rustls-no-provider` feature and configures rustls itself. A client built by
    /// `reqwest::Client::builder()` without a TLS configuration needs a crypto provider:
    /// enable reqwest's `rustls` feature in your own manifest, install a process-wide rustls
    /// provider, or start from
    /// [`ReqwestTransportBuilder::reqwest_builder`], which is configured already.
    pub fn from_client(client: reqwest::Client) -> Self {
        Self {
            client,
            timers: Timers {
                read: Some(DEFAULT_READ_TIMEOUT),
                total: None,
            },
        }
    }

    /// The underlying `reqwest::Client`.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The read timeout: the longest wait for the response head, then between body chunks.
    pub fn read_timeout(&self) -> Option<Duration> {
        self.timers.read
    }

    /// The total timeout over the whole exchange, body included.
    pub fn total_timeout(&self) -> Option<Duration> {
        self.timers.total
    }
}

/// Configures a [`ReqwestTransport`].
///
/// | Setting | Default |
/// |---|---|
/// | [`connect_timeout`](Self::connect_timeout) | [`DEFAULT_CONNECT_TIMEOUT`] (10 s) |
/// | [`read_timeout`](Self::read_timeout) | [`DEFAULT_READ_TIMEOUT`] (300 s) |
/// | [`timeout`](Self::timeout) (total) | none |
/// | [`pool_idle_timeout`](Self::pool_idle_timeout) | [`DEFAULT_POOL_IDLE_TIMEOUT`] (90 s) |
/// | proxies | from the environment; [`no_proxy`](Self::no_proxy) turns them off |
/// | redirects | not followed |
/// | HTTP versions | HTTP/1.1, and HTTP/2 when the server offers it over TLS (ALPN) |
/// | response compression | gzip, decoded (and `content-encoding` removed) |
#[derive(Clone, Debug)]
#[must_use]
pub struct ReqwestTransportBuilder {
    client: Option<reqwest::Client>,
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    total_timeout: Option<Duration>,
    pool_idle_timeout: Option<Duration>,
    proxy_from_env: bool,
}

impl Default for ReqwestTransportBuilder {
    fn default() -> Self {
        Self {
            client: None,
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            read_timeout: Some(DEFAULT_READ_TIMEOUT),
            total_timeout: None,
            pool_idle_timeout: Some(DEFAULT_POOL_IDLE_TIMEOUT),
            proxy_from_env: true,
        }
    }
}

impl ReqwestTransportBuilder {
    /// The longest time to establish a connection (DNS, TCP, TLS); `None` waits forever.
    ///
    /// Ignored when a [`client`](Self::client) is given.
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The longest wait without progress: for the response head after the request was sent,
    /// then for each body chunk (the timer restarts on every chunk). `None` waits forever.
    pub fn read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// A deadline over the whole exchange, body included; `None` (the default) has none.
    ///
    /// Leave it off for streams, which may legitimately run for many minutes; the read
    /// timeout already catches a stalled one.
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.total_timeout = timeout;
        self
    }

    /// How long an unused pooled connection is kept; `None` keeps it until the server closes
    /// it. Keep it under a few minutes: DashScope's gateways drop idle connections.
    ///
    /// Ignored when a [`client`](Self::client) is given.
    pub fn pool_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.pool_idle_timeout = timeout;
        self
    }

    /// Ignores proxy settings from the environment and the system: connect directly.
    ///
    /// Ignored when a [`client`](Self::client) is given.
    pub fn no_proxy(mut self) -> Self {
        self.proxy_from_env = false;
        self
    }

    /// Uses this client instead of building one. Its connect timeout, pool, proxies, TLS and
    /// redirect policy are its own; the read and total timeouts of this builder still apply.
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// The `reqwest::ClientBuilder` that [`build`](Self::build) would use, configured with
    /// this builder's settings (TLS, connect timeout, pool, proxies, no redirects, gzip), for
    /// adjusting further. Pass the resulting client back with [`client`](Self::client):
    ///
    /// ```no_run
    /// # fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use dashscope_transport::ReqwestTransport;
    ///
    /// let client = ReqwestTransport::builder()
    ///     .reqwest_builder()?
    ///     .local_address(std::net::IpAddr::from([10, 0, 0, 2]))
    ///     .build()?;
    /// let transport = ReqwestTransport::builder().client(client).build()?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Phase::Prepare`] if the TLS configuration (rustls with the platform's certificate
    /// verifier) cannot be built.
    pub fn reqwest_builder(&self) -> Result<reqwest::ClientBuilder, TransportError> {
        let b = reqwest::Client::builder();
        // The TLS backend: rustls as configured below with `reqwest` (the default, which wins
        // when both features are on), else the platform's with `native-tls` alone.
        #[cfg(feature = "reqwest")]
        let b = b.tls_backend_preconfigured(tls_config()?);
        #[cfg(not(feature = "reqwest"))]
        let b = b.tls_backend_native();
        let mut b = b
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(self.pool_idle_timeout)
            .gzip(true)
            .tcp_nodelay(true);
        if let Some(t) = self.connect_timeout {
            b = b.connect_timeout(t);
        }
        if !self.proxy_from_env {
            b = b.no_proxy();
        }
        Ok(b)
    }

    /// Builds the transport.
    ///
    /// # Errors
    ///
    /// [`Phase::Prepare`] if the TLS configuration (rustls with the platform's certificate
    /// verifier) or the client cannot be built.
    pub fn build(self) -> Result<ReqwestTransport, TransportError> {
        let timers = Timers {
            read: self.read_timeout,
            total: self.total_timeout,
        };
        let client = match self.client {
            Some(client) => client,
            None => self
                .reqwest_builder()?
                .build()
                .map_err(|e| TransportError::new(Phase::Prepare, e.without_url()))?,
        };
        Ok(ReqwestTransport { client, timers })
    }
}

/// rustls with the `ring` provider (no C toolchain beyond `cc`, and the provider the blocking
/// backend uses too), the platform's certificate verifier, and ALPN for HTTP/2 and HTTP/1.1.
#[cfg(feature = "reqwest")]
fn tls_config() -> Result<rustls::ClientConfig, TransportError> {
    use rustls_platform_verifier::BuilderVerifierExt;

    let prepare = |e: rustls::Error| TransportError::new(Phase::Prepare, e);
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(prepare)?
        .with_platform_verifier()
        .map_err(prepare)?
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

impl Timers {
    /// The instant the next wait must end: the read timeout from now, capped by the deadline.
    fn next_limit(&self, deadline: Option<Instant>) -> Option<Instant> {
        let idle = self.read.map(|d| Instant::now() + d);
        match (idle, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Waits for `fut`, failing with a timeout in `phase` at `limit`.
async fn wait<T>(
    limit: Option<Instant>,
    phase: Phase,
    fut: impl Future<Output = Result<T, reqwest::Error>>,
) -> Result<T, TransportError> {
    let result = match limit {
        Some(at) => match tokio::time::timeout_at(at, fut).await {
            Ok(r) => r,
            Err(_) => return Err(TransportError::timeout(phase)),
        },
        None => fut.await,
    };
    result.map_err(|e| map_error(e, phase))
}

/// Classifies a reqwest error, keeping it (without its URL) as the cause.
pub(crate) fn map_error(e: reqwest::Error, phase: Phase) -> TransportError {
    let phase = if e.is_builder() {
        Phase::Prepare
    } else if e.is_connect() {
        Phase::Connect
    } else {
        phase
    };
    let timeout = e.is_timeout();
    let e = e.without_url();
    if timeout {
        TransportError::timeout(phase).with_source(e)
    } else {
        TransportError::new(phase, e)
    }
}

#[async_trait]
impl Transport for ReqwestTransport {
    async fn send(
        &self,
        req: http::Request<Bytes>,
    ) -> Result<http::Response<ByteStream>, TransportError> {
        if req.uri().scheme().is_none() || req.uri().authority().is_none() {
            return Err(TransportError::new(
                Phase::Prepare,
                Message("the request URI must be absolute (scheme and host)".into()),
            ));
        }
        let req = reqwest::Request::try_from(req)
            .map_err(|e| TransportError::new(Phase::Prepare, e.without_url()))?;
        let deadline = self.timers.total.map(|d| Instant::now() + d);
        let limit = self.timers.next_limit(deadline);
        let mut res = wait(limit, Phase::Request, self.client.execute(req)).await?;

        let mut head = http::Response::new(());
        *head.status_mut() = res.status();
        *head.version_mut() = res.version();
        *head.headers_mut() = std::mem::take(res.headers_mut());
        *head.extensions_mut() = std::mem::take(res.extensions_mut());

        let len = res.content_length();
        let reader = BodyReader::new(reqwest::Body::from(res), self.timers.read, deadline);
        Ok(head.map(|()| read_ahead::body(reader, len)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_build_succeeds() {
        let t = ReqwestTransport::new().expect("default transport");
        assert_eq!(t.read_timeout(), Some(DEFAULT_READ_TIMEOUT));
        assert_eq!(t.total_timeout(), None);
    }

    #[test]
    fn relative_uri_is_refused_before_sending() {
        let t = ReqwestTransport::builder().no_proxy().build().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let req = http::Request::post("/api/v1").body(Bytes::new()).unwrap();
        let err = rt.block_on(t.send(req)).unwrap_err();
        assert_eq!(err.phase(), Phase::Prepare);
        assert!(!err.is_request_sent());
    }
}
