//! In-process fakes for tests. **Do not enable `test-util` in production.**
//!
//! Every fake implements the real traits, [`Transport`](crate::Transport) and
//! [`BlockingTransport`](crate::BlockingTransport), so code under test needs no test-only seams:
//! hand it the fake where it would take a real transport.
//!
//! | Use | when |
//! |---|---|
//! | [`ReplayTransport`] | the test needs realistic responses: it serves recorded cassettes (the `dashscope_protocol::cassette` format), streams chunk by chunk with their delays |
//! | [`CaptureTransport`] | the test asserts on what was sent: it wraps any transport and records each request (method, URI, headers, body) |
//! | [`FaultTransport`] | the test needs a failure: connection refused, a timeout, a body cut after N chunks, or a canned 429/5xx, once or on every request |
//!
//! They compose: `CaptureTransport::new(FaultTransport::wrap(replay, [Fault::status(503)]))`
//! answers the first request with a 503, the next ones from cassettes, and records them all.
//!
//! Because the fakes implement both traits, call them through the trait you mean when both
//! are in scope: `Transport::send(&fake, req).await` or `BlockingTransport::send(&fake, req)`.
//!
//! The async side of the fakes sleeps with `tokio::time`, so it runs inside a tokio runtime
//! with the time driver enabled (as `#[tokio::test]` provides); the blocking side sleeps the
//! calling thread.

mod capture;
mod fault;
mod replay;

pub use capture::{CaptureLog, CaptureTransport, CapturedRequest};
pub use fault::{Fault, FaultTransport};
pub use replay::{ReplayLoadError, ReplayTransport};

use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;

use crate::{BlockingBody, ByteStream, TransportError};

/// A scripted body: chunks with the delay before each, then maybe an error.
#[derive(Clone, Debug, Default)]
struct Script {
    chunks: Vec<(Duration, Bytes)>,
    end: Option<ScriptEnd>,
}

/// How a scripted body fails after its chunks (a `TransportError` is not `Clone`, so the
/// failure is described and built when reached).
#[derive(Clone, Copy, Debug)]
enum ScriptEnd {
    Reset,
    Timeout,
}

impl ScriptEnd {
    fn error(self) -> TransportError {
        match self {
            ScriptEnd::Reset => TransportError::new(
                crate::Phase::Body,
                std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "connection reset (injected by FaultTransport)",
                ),
            ),
            ScriptEnd::Timeout => TransportError::timeout(crate::Phase::Body),
        }
    }
}

impl Script {
    fn into_stream(self) -> ByteStream {
        let Script { chunks, end } = self;
        let chunks = stream::unfold(chunks.into_iter(), |mut it| async move {
            let (delay, chunk) = it.next()?;
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            Some((Ok(chunk), it))
        });
        let end = stream::iter(end.map(|e| Err(e.error())));
        ByteStream::new(futures_util::StreamExt::chain(chunks, end))
    }

    fn into_iter(self) -> BlockingBody {
        let Script { chunks, end } = self;
        let chunks = chunks.into_iter().map(|(delay, chunk)| {
            if !delay.is_zero() {
                std::thread::sleep(delay);
            }
            Ok(chunk)
        });
        BlockingBody::new(chunks.chain(end.map(|e| Err(e.error()))))
    }
}

/// Builds a response head from a status and `[name, value]` pairs.
fn head(
    status: u16,
    headers: &[(String, String)],
    what: &str,
) -> Result<http::response::Parts, TransportError> {
    let bad = |detail: String| {
        TransportError::new(
            crate::Phase::Prepare,
            crate::error::Message(format!("{what}: {detail}")),
        )
    };
    let mut res = http::Response::new(());
    *res.status_mut() =
        http::StatusCode::from_u16(status).map_err(|_| bad(format!("invalid status {status}")))?;
    for (name, value) in headers {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| bad(format!("invalid header name {name:?}")))?;
        let value = http::HeaderValue::from_str(value)
            .map_err(|_| bad(format!("invalid value for header {name}")))?;
        res.headers_mut().append(name, value);
    }
    Ok(res.into_parts().0)
}
