//! [`FaultTransport`]: fails in a chosen way.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::{Script, ScriptEnd, head};
use crate::error::Message;
use crate::{BlockingBody, BlockingTransport, ByteStream, Phase, Transport, TransportError};

/// A failure for [`FaultTransport`] to produce.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// The connection is refused: [`TransportError::is_connect`], nothing sent.
    ConnectionRefused,
    /// The connect timer expires: `is_connect() && is_timeout()`, nothing sent.
    ConnectTimeout,
    /// The request was sent and no response head arrived in time: `is_timeout()`, and
    /// [`TransportError::is_request_sent`].
    ResponseTimeout,
    /// The connection is reset after the request was sent, before any response (as a gateway
    /// dropping a pooled connection does): `is_request_sent()`, not a timeout.
    ConnectionReset,
    /// A response whose body delivers `chunks` and then fails: reset (`is_body()`), or an idle
    /// timeout (`is_body() && is_timeout()`) when `timeout` is set.
    BodyError {
        /// The status.
        status: u16,
        /// The headers, `[name, value]` in order.
        headers: Vec<(String, String)>,
        /// The chunks delivered before the failure.
        chunks: Vec<Bytes>,
        /// An idle timeout instead of a reset.
        timeout: bool,
    },
    /// A canned response (a 429, a 503, anything): not a failure of the transport.
    Status {
        /// The status.
        status: u16,
        /// The headers, `[name, value]` in order.
        headers: Vec<(String, String)>,
        /// The whole body.
        body: Bytes,
    },
}

impl Fault {
    /// A canned response with this status, no headers and an empty body.
    pub fn status(status: u16) -> Self {
        Fault::Status {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// A canned response with this status, headers and body.
    pub fn response(
        status: u16,
        headers: impl IntoIterator<Item = (impl Into<String>, impl Into<String>)>,
        body: impl Into<Bytes>,
    ) -> Self {
        let headers = headers
            .into_iter()
            .map(|(n, v)| (n.into(), v.into()))
            .collect();
        Fault::Status {
            status,
            headers,
            body: body.into(),
        }
    }

    /// A `200 text/event-stream` response that delivers `chunks`, then the connection is
    /// reset.
    pub fn reset_after(chunks: impl IntoIterator<Item = impl Into<Bytes>>) -> Self {
        Self::body_error(chunks, false)
    }

    /// A `200 text/event-stream` response that delivers `chunks`, then stalls until the idle
    /// timeout.
    pub fn stall_after(chunks: impl IntoIterator<Item = impl Into<Bytes>>) -> Self {
        Self::body_error(chunks, true)
    }

    fn body_error(chunks: impl IntoIterator<Item = impl Into<Bytes>>, timeout: bool) -> Self {
        Fault::BodyError {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            chunks: chunks.into_iter().map(Into::into).collect(),
            timeout,
        }
    }

    /// The error or the scripted response this fault stands for.
    fn realize(&self) -> Result<(http::response::Parts, Script), TransportError> {
        let injected = |kind: io::ErrorKind, what: &str| {
            io::Error::new(kind, format!("{what} (injected by FaultTransport)"))
        };
        match self {
            Fault::ConnectionRefused => Err(TransportError::new(
                Phase::Connect,
                injected(io::ErrorKind::ConnectionRefused, "connection refused"),
            )),
            Fault::ConnectTimeout => Err(TransportError::timeout(Phase::Connect)
                .with_source(injected(io::ErrorKind::TimedOut, "connect timed out"))),
            Fault::ResponseTimeout => Err(TransportError::timeout(Phase::Request)
                .with_source(injected(io::ErrorKind::TimedOut, "no response"))),
            Fault::ConnectionReset => Err(TransportError::new(
                Phase::Request,
                injected(io::ErrorKind::ConnectionReset, "connection reset"),
            )),
            Fault::BodyError {
                status,
                headers,
                chunks,
                timeout,
            } => {
                let parts = head(*status, headers, "Fault::BodyError")?;
                let chunks = chunks.iter().map(|c| (Duration::ZERO, c.clone())).collect();
                let end = if *timeout {
                    ScriptEnd::Timeout
                } else {
                    ScriptEnd::Reset
                };
                Ok((
                    parts,
                    Script {
                        chunks,
                        end: Some(end),
                    },
                ))
            }
            Fault::Status {
                status,
                headers,
                body,
            } => {
                let parts = head(*status, headers, "Fault::Status")?;
                let chunks = if body.is_empty() {
                    Vec::new()
                } else {
                    vec![(Duration::ZERO, body.clone())]
                };
                Ok((parts, Script { chunks, end: None }))
            }
        }
    }
}

/// A transport that fails in a chosen way.
///
/// * [`FaultTransport::always`]: every request gets the same fault.
/// * [`FaultTransport::wrap`]: the next requests get the queued faults, one each, in order;
///   once the queue is empty, requests go to the wrapped transport. Queue more with
///   [`push`](Self::push). This is the shape of a retry test: `wrap(replay, [Fault::status(503)])`.
///
/// ```
/// use bytes::Bytes;
/// use dashscope_transport::BlockingTransport;
/// use dashscope_transport::test_util::{Fault, FaultTransport};
///
/// let t = FaultTransport::always(Fault::ConnectionReset);
/// let req = http::Request::post("https://example.invalid/").body(Bytes::new()).unwrap();
/// let err = BlockingTransport::send(&t, req).unwrap_err();
/// assert!(err.is_request_sent() && !err.is_timeout());
/// ```
pub struct FaultTransport<T = ()> {
    queue: Mutex<VecDeque<Fault>>,
    repeat: Option<Fault>,
    inner: T,
}

impl FaultTransport<()> {
    /// Fails every request with `fault`.
    pub fn always(fault: Fault) -> Self {
        Self {
            queue: Mutex::new(VecDeque::new()),
            repeat: Some(fault),
            inner: (),
        }
    }
}

impl<T> FaultTransport<T> {
    /// Fails the next requests with `faults`, one each, then passes requests to `inner`.
    pub fn wrap(inner: T, faults: impl IntoIterator<Item = Fault>) -> Self {
        Self {
            queue: Mutex::new(faults.into_iter().collect()),
            repeat: None,
            inner,
        }
    }

    /// Queues `fault` for a coming request (after those already queued).
    pub fn push(&self, fault: Fault) {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(fault);
    }

    /// How many queued faults are left.
    pub fn remaining(&self) -> usize {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The wrapped transport.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The fault for the next request, if any.
    fn next_fault(&self) -> Option<Fault> {
        let queued = self
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front();
        queued.or_else(|| self.repeat.clone())
    }
}

fn exhausted() -> TransportError {
    TransportError::new(
        Phase::Prepare,
        Message("FaultTransport has no fault left and no transport to pass requests to".into()),
    )
}

impl<T: fmt::Debug> fmt::Debug for FaultTransport<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("FaultTransport")
            .field("queued", &*queue)
            .field("repeat", &self.repeat)
            .field("inner", &self.inner)
            .finish()
    }
}

#[async_trait]
impl<T: Transport> Transport for FaultTransport<T> {
    async fn send(
        &self,
        req: http::Request<Bytes>,
    ) -> Result<http::Response<ByteStream>, TransportError> {
        match self.next_fault() {
            Some(fault) => {
                let (parts, script) = fault.realize()?;
                Ok(http::Response::from_parts(parts, script.into_stream()))
            }
            None => self.inner.send(req).await,
        }
    }
}

#[async_trait]
impl Transport for FaultTransport<()> {
    async fn send(
        &self,
        _req: http::Request<Bytes>,
    ) -> Result<http::Response<ByteStream>, TransportError> {
        let (parts, script) = self.next_fault().ok_or_else(exhausted)?.realize()?;
        Ok(http::Response::from_parts(parts, script.into_stream()))
    }
}

impl<T: BlockingTransport> BlockingTransport for FaultTransport<T> {
    fn send(
        &self,
        req: http::Request<Bytes>,
    ) -> Result<http::Response<BlockingBody>, TransportError> {
        match self.next_fault() {
            Some(fault) => {
                let (parts, script) = fault.realize()?;
                Ok(http::Response::from_parts(parts, script.into_iter()))
            }
            None => self.inner.send(req),
        }
    }
}

impl BlockingTransport for FaultTransport<()> {
    fn send(
        &self,
        _req: http::Request<Bytes>,
    ) -> Result<http::Response<BlockingBody>, TransportError> {
        let (parts, script) = self.next_fault().ok_or_else(exhausted)?.realize()?;
        Ok(http::Response::from_parts(parts, script.into_iter()))
    }
}
