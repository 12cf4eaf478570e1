//! The blocking backend: ureq over rustls, no async runtime.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{AUTHORIZATION, PROXY_AUTHORIZATION};
use http::{HeaderMap, HeaderValue};
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, DefaultConnector, NextTimeout, Transport,
};

use crate::error::Message;
use crate::{
    BlockingBody, BlockingTransport, DEFAULT_CONNECT_TIMEOUT, DEFAULT_POOL_IDLE_TIMEOUT,
    DEFAULT_READ_TIMEOUT, Phase, TransportError, current_deadline,
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
/// # Secrets and deadlines
///
/// ureq logs every byte of a request head at TRACE level through the `log` crate (any `log`
/// backend, and `tracing-subscriber`'s `log` bridge, prints it), `Authorization` included. A
/// transport built by this crate ([`new`](Self::new), [`builder`](Self::builder)) never hands
/// ureq a sensitive header value: the value of `Authorization`, `Proxy-Authorization` and any
/// header marked [sensitive](http::HeaderValue::set_sensitive) is replaced by a placeholder
/// (`sealed.` and 32 hex digits) that ureq writes and logs, and the connection layer this
/// crate puts under ureq writes the real value in its place as the bytes go to the socket (or
/// into TLS). The same layer applies the calling thread's deadline
/// ([`with_deadline`](crate::with_deadline)) to every read and write.
///
/// # Optional
///
/// This requires the `blocking` feature.
#[derive(Clone, Debug)]
pub struct UreqTransport {
    agent: ureq::Agent,
    read_timeout: Option<Duration>,
    total_timeout: Option<Duration>,
    /// The sensitive header values of the requests being sent; `None` for an agent given to
    /// [`UreqTransport::from_agent`], whose connections this crate does not control.
    vault: Option<Vault>,
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
    ///
    /// Its connections are the agent's own, without this crate's layer (see "Secrets and
    /// deadlines" above): header values go to ureq as they are, so ureq's TRACE wire log shows
    /// the `Authorization` header, and the calling thread's deadline bounds connecting only.
    /// Prefer [`builder`](Self::builder) unless you need the agent.
    pub fn from_agent(agent: ureq::Agent) -> Self {
        Self {
            agent,
            read_timeout: Some(DEFAULT_READ_TIMEOUT),
            total_timeout: None,
            vault: None,
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
        let mut config = self
            .agent
            .configure_request(req)
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_per_read(self.read_timeout)
            .timeout_global(self.total_timeout);
        if let Some(deadline) = current_deadline() {
            // Name resolution and connecting happen before this crate's connection layer
            // exists: bound them here.
            let left = deadline.saturating_duration_since(Instant::now());
            let timeouts = self.agent.config().timeouts();
            let within = |t: Option<Duration>| Some(t.map_or(left, |t| t.min(left)));
            config = config
                .timeout_resolve(within(timeouts.resolve))
                .timeout_connect(within(timeouts.connect));
        }
        self.agent.run(config.build())
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
        let vault = Vault::default();
        let connector = DefaultConnector::new().chain(Guard {
            vault: vault.clone(),
        });
        UreqTransport {
            agent: ureq::Agent::with_parts(config.build(), connector, DefaultResolver::default()),
            read_timeout: self.read_timeout,
            total_timeout: self.total_timeout,
            vault: Some(vault),
        }
    }
}

/// The sensitive header values of the requests a [`UreqTransport`] is sending, each under the
/// placeholder that stands in for it in what ureq writes.
#[derive(Clone, Default)]
struct Vault(Arc<Mutex<Vec<Sealed>>>);

/// One sealed header value.
struct Sealed {
    placeholder: Box<[u8]>,
    value: Box<[u8]>,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.lock().unwrap_or_else(PoisonError::into_inner).len();
        f.debug_struct("Vault").field("sealed", &n).finish()
    }
}

/// Takes a request's values back out of the [`Vault`] when dropped (the head is sent by then).
struct Seal<'a> {
    vault: &'a Vault,
    placeholders: Vec<Box<[u8]>>,
}

impl Drop for Seal<'_> {
    fn drop(&mut self) {
        if self.placeholders.is_empty() {
            return;
        }
        let mut sealed = self.vault.0.lock().unwrap_or_else(PoisonError::into_inner);
        sealed.retain(|s| !self.placeholders.contains(&s.placeholder));
    }
}

/// The shortest placeholder: `sealed.` and 32 hex digits (a per-process salt and a counter),
/// unique among the requests in flight and not found in ordinary text.
const PLACEHOLDER_LEN: usize = 39;

impl Vault {
    /// Replaces every sensitive value in `headers` by a placeholder at least as long (padded
    /// with `.` to the value's length), and keeps the value until the returned seal drops.
    fn seal(&self, headers: &mut HeaderMap) -> Seal<'_> {
        static SALT: OnceLock<u64> = OnceLock::new();
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let salt = *SALT.get_or_init(|| {
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
        });
        let mut placeholders = Vec::new();
        let mut sealed = Vec::new();
        for (name, value) in headers.iter_mut() {
            if !(value.is_sensitive() || name == AUTHORIZATION || name == PROXY_AUTHORIZATION) {
                continue;
            }
            let id = NEXT.fetch_add(1, Ordering::Relaxed);
            let mut placeholder = format!("sealed.{salt:016x}{id:016x}").into_bytes();
            debug_assert_eq!(placeholder.len(), PLACEHOLDER_LEN);
            if placeholder.len() < value.len() {
                placeholder.resize(value.len(), b'.');
            }
            let mut stand_in =
                HeaderValue::from_bytes(&placeholder).expect("a placeholder is visible ASCII");
            stand_in.set_sensitive(true);
            let real = std::mem::replace(value, stand_in);
            let placeholder: Box<[u8]> = placeholder.into();
            placeholders.push(placeholder.clone());
            sealed.push(Sealed {
                placeholder,
                value: real.as_bytes().into(),
            });
        }
        if !sealed.is_empty() {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend(sealed);
        }
        Seal {
            vault: self,
            placeholders,
        }
    }

    /// Writes the real values over the placeholders in `out[..amount]`, shifting what follows
    /// a shorter value left; returns the new amount.
    fn unseal(&self, out: &mut [u8], mut amount: usize) -> usize {
        let sealed = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for s in sealed.iter() {
            let mut from = 0;
            while let Some(i) = memchr::memmem::find(&out[from..amount], &s.placeholder) {
                let at = from + i;
                let (p, v) = (s.placeholder.len(), s.value.len());
                out[at..at + v].copy_from_slice(&s.value);
                out.copy_within(at + p..amount, at + v);
                amount -= p - v;
                from = at + v;
            }
        }
        amount
    }
}

/// The last link of the connector chain: wraps each connection in [`Guarded`].
#[derive(Debug)]
struct Guard {
    vault: Vault,
}

impl Connector<Box<dyn Transport>> for Guard {
    type Out = Guarded;

    fn connect(
        &self,
        _: &ConnectionDetails<'_>,
        chained: Option<Box<dyn Transport>>,
    ) -> Result<Option<Guarded>, ureq::Error> {
        Ok(chained.map(|inner| Guarded {
            inner,
            vault: self.vault.clone(),
        }))
    }
}

/// A connection as ureq sees it: the sealed values are written in as the bytes leave, and every
/// read and write gives up at the calling thread's deadline.
#[derive(Debug)]
struct Guarded {
    inner: Box<dyn Transport>,
    vault: Vault,
}

impl Transport for Guarded {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let timeout = within_deadline(timeout)?;
        let amount = self.vault.unseal(self.inner.buffers().output(), amount);
        self.inner.transmit_output(amount, timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let timeout = within_deadline(timeout)?;
        self.inner.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

/// `timeout`, cut to the calling thread's deadline ([`crate::with_deadline`]).
fn within_deadline(timeout: NextTimeout) -> Result<NextTimeout, ureq::Error> {
    let Some(deadline) = current_deadline() else {
        return Ok(timeout);
    };
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(ureq::Error::Timeout(ureq::Timeout::Global));
    }
    let left = left.into();
    Ok(if left < timeout.after {
        NextTimeout {
            after: left,
            reason: ureq::Timeout::Global,
            ..timeout
        }
    } else {
        timeout
    })
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
        let (mut parts, body) = req.into_parts();
        // Kept until the request is sent: the guarded connection writes the values in.
        let seal = self.vault.as_ref().map(|v| v.seal(&mut parts.headers));
        let result = if body.is_empty() && bodiless(&parts.method) {
            self.run(http::Request::from_parts(parts, ()))
        } else {
            self.run(http::Request::from_parts(parts, &body[..]))
        };
        drop(seal);
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
