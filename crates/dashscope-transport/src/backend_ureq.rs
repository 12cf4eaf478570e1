//! The blocking backend: ureq over rustls, no async runtime.

use std::io::{self, Read};
use std::time::Duration;

use bytes::Bytes;

use crate::error::Message;
use crate::{
    BlockingBody, BlockingTransport, DEFAULT_CONNECT_TIMEOUT, DEFAULT_POOL_IDLE_TIMEOUT,
    DEFAULT_READ_TIMEOUT, Phase, TransportError,
};

/// How much one body read asks for. A read returns what has arrived, so a slow stream still
/// yields each piece as soon as it lands.
const READ_BUF: usize = 32 * 1024;

/// A [`BlockingTransport`] on [ureq](https://docs.rs/ureq) 3: HTTP/1.1 over rustls, connection
/// pooling, gzip decoding, proxies from the environment. It needs no async runtime and pulls
/// in no tokio.
///
/// Cheap to clone (clones share the connection pool). Build one with [`UreqTransport::new`]
/// (the defaults), [`UreqTransport::builder`], or [`UreqTransport::from_agent`].
///
/// Whatever the agent's configuration, each request is sent with 4xx/5xx returned as
/// responses and redirects not followed, so the [`BlockingTransport`] contract holds.
///
/// # Optional
///
/// This requires the `blocking` feature.
#[derive(Clone, Debug)]
pub struct UreqTransport {
    agent: ureq::Agent,
    read_timeout: Option<Duration>,
    total_timeout: Option<Duration>,
}

impl UreqTransport {
    /// A transport with the default settings (see [`UreqTransportBuilder`]).
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder for a transport with non-default settings.
    pub fn builder() -> UreqTransportBuilder {
        UreqTransportBuilder::default()
    }

    /// A transport over your own agent, with the default read timeout
    /// ([`DEFAULT_READ_TIMEOUT`]) and no total timeout. The agent's connect timeout, pool,
    /// proxy and TLS settings are kept.
    pub fn from_agent(agent: ureq::Agent) -> Self {
        Self {
            agent,
            read_timeout: Some(DEFAULT_READ_TIMEOUT),
            total_timeout: None,
        }
    }

    /// The underlying agent.
    pub fn agent(&self) -> &ureq::Agent {
        &self.agent
    }

    /// The read timeout: the longest wait for the response head, then for each body read.
    pub fn read_timeout(&self) -> Option<Duration> {
        self.read_timeout
    }

    /// The total timeout over the whole exchange, body included.
    pub fn total_timeout(&self) -> Option<Duration> {
        self.total_timeout
    }

    fn run<S: ureq::AsSendBody>(
        &self,
        req: http::Request<S>,
    ) -> Result<http::Response<ureq::Body>, ureq::Error> {
        let req = self
            .agent
            .configure_request(req)
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_per_read(self.read_timeout)
            .timeout_global(self.total_timeout)
            .build();
        self.agent.run(req)
    }
}

impl Default for UreqTransport {
    fn default() -> Self {
        Self::new()
    }
}

/// Configures a [`UreqTransport`].
///
/// | Setting | Default |
/// |---|---|
/// | [`connect_timeout`](Self::connect_timeout) | [`DEFAULT_CONNECT_TIMEOUT`] (10 s) |
/// | [`read_timeout`](Self::read_timeout) | [`DEFAULT_READ_TIMEOUT`] (300 s) |
/// | [`timeout`](Self::timeout) (total) | none |
/// | [`pool_idle_timeout`](Self::pool_idle_timeout) | [`DEFAULT_POOL_IDLE_TIMEOUT`] (90 s) |
/// | proxies | from the environment; [`no_proxy`](Self::no_proxy) turns them off |
/// | redirects | not followed |
/// | HTTP versions | HTTP/1.1 |
/// | response compression | gzip, decoded (and `content-encoding` removed) |
#[derive(Clone, Debug)]
#[must_use]
pub struct UreqTransportBuilder {
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    total_timeout: Option<Duration>,
    pool_idle_timeout: Option<Duration>,
    proxy_from_env: bool,
}

impl Default for UreqTransportBuilder {
    fn default() -> Self {
        Self {
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            read_timeout: Some(DEFAULT_READ_TIMEOUT),
            total_timeout: None,
            pool_idle_timeout: Some(DEFAULT_POOL_IDLE_TIMEOUT),
            proxy_from_env: true,
        }
    }
}

impl UreqTransportBuilder {
    /// The longest time to establish a connection (DNS, TCP, TLS); `None` waits forever.
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The longest wait without progress: for the response head after the request was sent,
    /// then for each body read (the timer restarts on every read). `None` waits forever.
    pub fn read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// A deadline over the whole exchange, body included; `None` (the default) has none.
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.total_timeout = timeout;
        self
    }

    /// How long an unused pooled connection is kept; `None` keeps it for a day (ureq needs a
    /// bound). Keep it under a few minutes: DashScope's gateways drop idle connections.
    pub fn pool_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.pool_idle_timeout = timeout;
        self
    }

    /// Ignores proxy settings from the environment: connect directly.
    pub fn no_proxy(mut self) -> Self {
        self.proxy_from_env = false;
        self
    }

    /// Builds the transport.
    pub fn build(self) -> UreqTransport {
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_connect(self.connect_timeout)
            .max_idle_age(
                self.pool_idle_timeout
                    .unwrap_or(Duration::from_secs(24 * 60 * 60)),
            );
        if !self.proxy_from_env {
            config = config.proxy(None);
        }
        UreqTransport {
            agent: config.build().new_agent(),
            read_timeout: self.read_timeout,
            total_timeout: self.total_timeout,
        }
    }
}

/// Methods whose empty body means "no body" rather than "a body of zero bytes".
fn bodiless(method: &http::Method) -> bool {
    matches!(
        *method,
        http::Method::GET | http::Method::HEAD | http::Method::DELETE | http::Method::OPTIONS
    )
}

impl BlockingTransport for UreqTransport {
    fn send(
        &self,
        req: http::Request<Bytes>,
    ) -> Result<http::Response<BlockingBody>, TransportError> {
        if req.uri().scheme().is_none() || req.uri().authority().is_none() {
            return Err(TransportError::new(
                Phase::Prepare,
                Message("the request URI must be absolute (scheme and host)".into()),
            ));
        }
        let (parts, body) = req.into_parts();
        let result = if body.is_empty() && bodiless(&parts.method) {
            self.run(http::Request::from_parts(parts, ()))
        } else {
            self.run(http::Request::from_parts(parts, &body[..]))
        };
        let res = result.map_err(|e| map_error(e, Phase::Request))?;
        let (parts, body) = res.into_parts();
        let body = UreqBody {
            reader: Some(body.into_reader()),
            buf: vec![0; READ_BUF],
        };
        Ok(http::Response::from_parts(parts, BlockingBody::new(body)))
    }
}

struct UreqBody {
    /// `None` once the body ended or failed: the connection is released (or closed) then.
    reader: Option<ureq::BodyReader<'static>>,
    buf: Vec<u8>,
}

impl Iterator for UreqBody {
    type Item = Result<Bytes, TransportError>;

    fn next(&mut self) -> Option<Self::Item> {
        let reader = self.reader.as_mut()?;
        loop {
            match reader.read(&mut self.buf) {
                Ok(0) => {
                    self.reader = None;
                    return None;
                }
                Ok(n) => return Some(Ok(Bytes::copy_from_slice(&self.buf[..n]))),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Dropping the reader here closes the connection at once.
                    self.reader = None;
                    return Some(Err(map_io_error(e, Phase::Body)));
                }
            }
        }
    }
}

/// Classifies an I/O error from a body read; ureq wraps its own errors in `io::Error`.
fn map_io_error(e: io::Error, phase: Phase) -> TransportError {
    if e.get_ref().is_some_and(|inner| inner.is::<ureq::Error>()) {
        if let Some(inner) = e.into_inner() {
            if let Ok(ureq_error) = inner.downcast::<ureq::Error>() {
                return map_error(*ureq_error, phase);
            }
        }
        return TransportError::new(phase, Message("unreadable ureq error".into()));
    }
    map_plain_io(e, phase)
}

fn map_plain_io(e: io::Error, phase: Phase) -> TransportError {
    use io::ErrorKind as K;
    match e.kind() {
        K::TimedOut | K::WouldBlock => TransportError::timeout(phase).with_source(e),
        K::ConnectionRefused
        | K::AddrNotAvailable
        | K::NetworkUnreachable
        | K::HostUnreachable
        | K::NetworkDown
            if phase != Phase::Body =>
        {
            TransportError::new(Phase::Connect, e)
        }
        _ => TransportError::new(phase, e),
    }
}

/// Classifies a ureq error. `phase` is where the call was (sending, or reading the body); the
/// error itself narrows it down when it can (connect failures, invalid requests).
fn map_error(e: ureq::Error, phase: Phase) -> TransportError {
    use ureq::Error as E;
    use ureq::Timeout as T;
    match e {
        E::Timeout(which) => {
            let phase = match which {
                T::Resolve | T::Connect => Phase::Connect,
                _ => phase,
            };
            TransportError::timeout(phase).with_source(e)
        }
        E::Io(io) => map_plain_io(io, phase),
        E::HostNotFound | E::ConnectionFailed | E::Tls(_) | E::Pem(_) | E::Rustls(_) => {
            TransportError::new(Phase::Connect, e)
        }
        // The message holds the URI, which may hold credentials: keep a neutral one instead.
        E::BadUri(_) => TransportError::new(Phase::Prepare, Message("invalid request URI".into())),
        E::Http(_) | E::InvalidProxyUrl | E::RequireHttpsOnly(_) | E::BodyExceedsLimit(_) => {
            TransportError::new(Phase::Prepare, e)
        }
        other => TransportError::new(phase, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_classified() {
        let e = map_error(ureq::Error::Timeout(ureq::Timeout::Connect), Phase::Request);
        assert!(e.is_timeout() && e.is_connect() && !e.is_request_sent());
        let e = map_error(ureq::Error::Timeout(ureq::Timeout::PerRead), Phase::Body);
        assert!(e.is_timeout() && e.is_body());
        let e = map_error(ureq::Error::Timeout(ureq::Timeout::PerRead), Phase::Request);
        assert!(e.is_timeout() && !e.is_body() && e.is_request_sent());
    }

    #[test]
    fn wrapped_errors_are_unwrapped() {
        let io = ureq::Error::Timeout(ureq::Timeout::PerRead).into_io();
        let e = map_io_error(io, Phase::Body);
        assert!(e.is_timeout() && e.is_body());
        let io = io::Error::new(io::ErrorKind::ConnectionReset, "reset");
        let e = map_io_error(io, Phase::Body);
        assert!(!e.is_timeout() && e.is_body());
    }

    #[test]
    fn bad_uri_message_is_not_kept() {
        let e = map_error(
            ureq::Error::BadUri("http://user:secret@x".into()),
            Phase::Request,
        );
        assert!(!format!("{e:?}").contains("secret"));
        assert_eq!(e.phase(), Phase::Prepare);
    }

    #[test]
    fn relative_uri_is_refused() {
        let req = http::Request::post("/x").body(Bytes::new()).unwrap();
        let err = UreqTransport::new().send(req).unwrap_err();
        assert_eq!(err.phase(), Phase::Prepare);
    }
}
