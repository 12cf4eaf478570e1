//! The transport's error type.

use std::error::Error as StdError;
use std::fmt;

/// A boxed error, the type of a [`TransportError`]'s cause.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// How far an exchange had got when it failed.
///
/// The phase decides [`TransportError::is_connect`], [`TransportError::is_body`] and
/// [`TransportError::is_request_sent`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Before any connection attempt: the request or the transport's configuration was
    /// rejected, or a fake transport had nothing to answer with. Nothing was sent.
    Prepare,
    /// Establishing the connection: name resolution, TCP connect, proxy negotiation, TLS
    /// handshake. No byte of the request was written.
    Connect,
    /// Writing the request or waiting for the response's status and headers. The request may
    /// have reached the server.
    Request,
    /// Reading the response body, after the status and headers arrived.
    Body,
}

impl Phase {
    fn failed(self) -> &'static str {
        match self {
            Phase::Prepare => "the request could not be prepared",
            Phase::Connect => "connection failed",
            Phase::Request => "the request failed before a response arrived",
            Phase::Body => "reading the response body failed",
        }
    }

    fn timed_out(self) -> &'static str {
        match self {
            Phase::Prepare => "timed out preparing the request",
            Phase::Connect => "timed out connecting",
            Phase::Request => "timed out waiting for the response",
            Phase::Body => "timed out waiting for the response body",
        }
    }
}

/// An error from a [`Transport`](crate::Transport) or
/// [`BlockingTransport`](crate::BlockingTransport): the exchange failed below HTTP semantics.
///
/// A response with a 4xx or 5xx status is a response, never a `TransportError`.
///
/// The type is opaque: ask it questions with the `is_*` predicates and [`phase`](Self::phase).
/// Its `Display` describes this layer only ("timed out waiting for the response body"); the
/// underlying cause (an I/O error, a TLS alert, the HTTP library's error) is reached through
/// [`source()`](std::error::Error::source).
///
/// A `TransportError` never holds the request: not its headers (so never the `Authorization`
/// header), and not its URL. The backends strip the URL from their libraries' errors before
/// keeping them as the cause.
pub struct TransportError {
    inner: Box<Inner>,
}

struct Inner {
    phase: Phase,
    kind: Kind,
    source: Option<BoxError>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Failed,
    TimedOut,
    BodyTooLarge(u64),
}

impl TransportError {
    /// A failure in `phase`, caused by `source`.
    ///
    /// Use [`TransportError::timeout`] for an expired timer, so [`is_timeout`](Self::is_timeout)
    /// answers correctly.
    pub fn new(phase: Phase, source: impl Into<BoxError>) -> Self {
        Self::from_parts(phase, Kind::Failed, Some(source.into()))
    }

    /// A timer expired in `phase`. Attach the library's own error, if any, with
    /// [`with_source`](Self::with_source).
    pub fn timeout(phase: Phase) -> Self {
        Self::from_parts(phase, Kind::TimedOut, None)
    }

    /// The body grew past `limit` bytes while being collected (phase [`Phase::Body`]).
    pub fn body_too_large(limit: u64) -> Self {
        Self::from_parts(Phase::Body, Kind::BodyTooLarge(limit), None)
    }

    /// Replaces the cause.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.inner.source = Some(source.into());
        self
    }

    fn from_parts(phase: Phase, kind: Kind, source: Option<BoxError>) -> Self {
        Self {
            inner: Box::new(Inner {
                phase,
                kind,
                source,
            }),
        }
    }

    /// How far the exchange had got.
    pub fn phase(&self) -> Phase {
        self.inner.phase
    }

    /// Whether a timer expired: the connect timeout, the read (idle) timeout, or the total
    /// timeout. Combine with [`is_connect`](Self::is_connect) and [`is_body`](Self::is_body) to
    /// tell which.
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == Kind::TimedOut
    }

    /// Whether the connection could not be established (refused, unreachable, name not
    /// resolved, TLS handshake failed, connect timeout). Implies `!is_request_sent()`.
    pub fn is_connect(&self) -> bool {
        self.inner.phase == Phase::Connect
    }

    /// Whether the failure happened while reading the response body, after the status and
    /// headers had arrived (a connection cut mid-stream, an idle timeout between chunks, a body
    /// over the collection limit).
    pub fn is_body(&self) -> bool {
        self.inner.phase == Phase::Body
    }

    /// Whether the body exceeded the limit given to
    /// [`ByteStream::bytes`](crate::ByteStream::bytes) or
    /// [`BlockingBody::bytes`](crate::BlockingBody::bytes).
    pub fn is_body_too_large(&self) -> bool {
        matches!(self.inner.kind, Kind::BodyTooLarge(_))
    }

    /// Whether the request may have reached the server, which decides whether retrying it is
    /// safe.
    ///
    /// * `false`: the transport knows that no byte of the request was written to the network
    ///   ([`Phase::Prepare`] and [`Phase::Connect`]: the request was refused before sending,
    ///   the connection was never established). Retrying cannot duplicate the request.
    /// * `true`: some or all of the request may have been written, so the server may have
    ///   received it and acted on it (for a generation request: started, and billed, a
    ///   generation). This includes every timeout waiting for the response and every body
    ///   error. The answer is conservative: `true` does not prove that the server saw
    ///   anything, only that the transport cannot rule it out.
    pub fn is_request_sent(&self) -> bool {
        matches!(self.inner.phase, Phase::Request | Phase::Body)
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.inner.kind {
            Kind::Failed => f.write_str(self.inner.phase.failed()),
            Kind::TimedOut => f.write_str(self.inner.phase.timed_out()),
            Kind::BodyTooLarge(limit) => {
                write!(
                    f,
                    "the response body is larger than the limit of {limit} bytes"
                )
            }
        }
    }
}

impl fmt::Debug for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TransportError");
        d.field("phase", &self.inner.phase);
        match self.inner.kind {
            Kind::Failed => {}
            Kind::TimedOut => {
                d.field("timeout", &true);
            }
            Kind::BodyTooLarge(limit) => {
                d.field("body_limit", &limit);
            }
        }
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl StdError for TransportError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_ref()
            .map(|e| &**e as &(dyn StdError + 'static))
    }
}

/// A plain message used as a cause where a backend or fake has no library error to keep.
#[derive(Debug)]
#[cfg_attr(
    not(any(feature = "reqwest", feature = "blocking", feature = "test-util")),
    allow(dead_code)
)]
pub(crate) struct Message(pub(crate) String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Message {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pointer_wide() {
        assert_eq!(
            std::mem::size_of::<TransportError>(),
            std::mem::size_of::<usize>()
        );
    }

    #[test]
    fn predicates_follow_the_phase() {
        let e = TransportError::new(Phase::Connect, Message("refused".into()));
        assert!(e.is_connect() && !e.is_timeout() && !e.is_body() && !e.is_request_sent());
        let e = TransportError::timeout(Phase::Request);
        assert!(e.is_timeout() && !e.is_connect() && e.is_request_sent() && !e.is_body());
        let e = TransportError::timeout(Phase::Body);
        assert!(e.is_timeout() && e.is_body() && e.is_request_sent());
        let e = TransportError::body_too_large(10);
        assert!(e.is_body_too_large() && e.is_body() && !e.is_timeout());
        let e = TransportError::new(Phase::Prepare, Message("bad".into()));
        assert!(!e.is_request_sent() && !e.is_connect());
    }

    #[test]
    fn display_is_this_layer_only() {
        let e = TransportError::new(Phase::Body, Message("connection reset by peer".into()));
        assert_eq!(e.to_string(), "reading the response body failed");
        assert_eq!(
            StdError::source(&e).map(ToString::to_string).as_deref(),
            Some("connection reset by peer")
        );
        let e = TransportError::timeout(Phase::Connect).with_source(Message("elapsed".into()));
        assert_eq!(e.to_string(), "timed out connecting");
        assert!(format!("{e:?}").contains("elapsed"));
    }

    #[test]
    fn is_send_sync_static() {
        fn assert_impls<T: Send + Sync + 'static + StdError>() {}
        assert_impls::<TransportError>();
    }
}
