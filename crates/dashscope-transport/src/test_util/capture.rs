//! [`CaptureTransport`]: records requests for assertions.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;

use crate::{BlockingBody, BlockingTransport, ByteStream, Transport, TransportError};

/// One request as a transport received it.
#[derive(Clone)]
pub struct CapturedRequest {
    /// The method.
    pub method: http::Method,
    /// The full URI.
    pub uri: http::Uri,
    /// The HTTP version asked for.
    pub version: http::Version,
    /// Every header, as sent (including `Authorization`: compare it, never print it).
    pub headers: http::HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl CapturedRequest {
    fn of(req: &http::Request<Bytes>) -> Self {
        Self {
            method: req.method().clone(),
            uri: req.uri().clone(),
            version: req.version(),
            headers: req.headers().clone(),
            body: req.body().clone(),
        }
    }

    /// The first value of header `name` (case-insensitive), if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn body_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Headers whose values `Debug` never shows.
fn is_secret(name: &http::HeaderName, value: &http::HeaderValue) -> bool {
    value.is_sensitive()
        || matches!(
            name.as_str(),
            "authorization" | "proxy-authorization" | "cookie" | "x-api-key" | "api-key"
        )
}

impl fmt::Debug for CapturedRequest {
    /// Shows everything but the values of credential headers (`authorization`,
    /// `proxy-authorization`, `cookie`, `x-api-key`, `api-key`, and any value marked
    /// sensitive), and the URI without its query (which may hold a key).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Headers<'a>(&'a http::HeaderMap);
        impl fmt::Debug for Headers<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut m = f.debug_map();
                for (name, value) in self.0 {
                    if is_secret(name, value) {
                        m.entry(&name.as_str(), &"<redacted>");
                    } else {
                        m.entry(&name.as_str(), value);
                    }
                }
                m.finish()
            }
        }
        let path = self.uri.path();
        let host = self.uri.host().unwrap_or("");
        f.debug_struct("CapturedRequest")
            .field("method", &self.method)
            .field("host", &host)
            .field("path", &path)
            .field("headers", &Headers(&self.headers))
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

/// A shared handle on the requests a [`CaptureTransport`] recorded; it stays valid after the
/// transport was moved into a client.
#[derive(Clone, Default)]
pub struct CaptureLog(Arc<Mutex<Vec<CapturedRequest>>>);

impl CaptureLog {
    fn push(&self, req: CapturedRequest) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(req);
    }

    /// Every request recorded so far, oldest first.
    pub fn requests(&self) -> Vec<CapturedRequest> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every request recorded so far, oldest first, emptying the log.
    pub fn take(&self) -> Vec<CapturedRequest> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The latest request.
    pub fn last(&self) -> Option<CapturedRequest> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last()
            .cloned()
    }

    /// How many requests were recorded.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether no request was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for CaptureLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CaptureLog").field(&self.requests()).finish()
    }
}

/// Wraps a transport and records every request before passing it on.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use bytes::Bytes;
/// use dashscope_transport::Transport;
/// use dashscope_transport::test_util::{CaptureTransport, Fault, FaultTransport};
///
/// let capture = CaptureTransport::new(FaultTransport::always(Fault::status(204)));
/// let log = capture.log();
/// let req = http::Request::post("https://example.invalid/v1").body(Bytes::from("{}")).unwrap();
/// let res = Transport::send(&capture, req).await.unwrap();
/// assert_eq!(res.status(), 204);
/// assert_eq!(log.last().unwrap().uri.path(), "/v1");
/// # }
/// ```
#[derive(Clone)]
pub struct CaptureTransport<T> {
    inner: T,
    log: CaptureLog,
}

impl<T> CaptureTransport<T> {
    /// Records requests, then hands them to `inner`.
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            log: CaptureLog::default(),
        }
    }

    /// A handle on the recorded requests.
    pub fn log(&self) -> CaptureLog {
        self.log.clone()
    }

    /// Every request recorded so far, oldest first.
    pub fn requests(&self) -> Vec<CapturedRequest> {
        self.log.requests()
    }

    /// The wrapped transport.
    pub fn inner(&self) -> &T {
        &self.inner
    }
}

impl<T: fmt::Debug> fmt::Debug for CaptureTransport<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaptureTransport")
            .field("inner", &self.inner)
            .field("recorded", &self.log.len())
            .finish()
    }
}

#[async_trait]
impl<T: Transport> Transport for CaptureTransport<T> {
    async fn send(
        &self,
        req: http::Request<Bytes>,
    ) -> Result<http::Response<ByteStream>, TransportError> {
        self.log.push(CapturedRequest::of(&req));
        self.inner.send(req).await
    }
}

impl<T: BlockingTransport> BlockingTransport for CaptureTransport<T> {
    fn send(
        &self,
        req: http::Request<Bytes>,
    ) -> Result<http::Response<BlockingBody>, TransportError> {
        self.log.push(CapturedRequest::of(&req));
        self.inner.send(req)
    }
}
