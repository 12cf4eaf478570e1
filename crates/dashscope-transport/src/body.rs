//! Response bodies: [`ByteStream`] (async) and [`BlockingBody`] (an iterator).

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;

use crate::TransportError;

type BoxStream = Pin<Box<dyn Stream<Item = Result<Bytes, TransportError>> + Send + 'static>>;
type BoxIter = Box<dyn Iterator<Item = Result<Bytes, TransportError>> + Send + 'static>;

/// The body of a response from a [`Transport`](crate::Transport): the bytes as they arrive.
///
/// Chunks are delivered as the network hands them over, never buffered whole (a transport may
/// read a bounded amount ahead of the reader: [`ReqwestTransport`](crate#reading-ahead) reads
/// up to 64 KiB ahead of a `block_on` reader). A stream yields at most one error and then ends. Dropping the stream before its end aborts the exchange and
/// closes the connection (the connection is not returned to a pool half read).
///
/// The chunk boundaries say nothing about the protocol's framing: an SSE event may span
/// several chunks, and a chunk may hold several events.
pub struct ByteStream {
    inner: BoxStream,
}

impl ByteStream {
    /// Wraps any stream of chunks.
    pub fn new<S>(stream: S) -> Self
    where
        S: Stream<Item = Result<Bytes, TransportError>> + Send + 'static,
    {
        Self {
            inner: Box::pin(stream),
        }
    }

    /// A body of one chunk (no chunk if `bytes` is empty).
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        let once = (!bytes.is_empty()).then_some(Ok(bytes));
        Self::new(futures_util::stream::iter(once))
    }

    /// An empty body.
    pub fn empty() -> Self {
        Self::new(futures_util::stream::empty())
    }

    /// The next chunk, or `None` at the end of the body.
    ///
    /// # Errors
    ///
    /// The transport's error for this body (a cut connection, an idle timeout): see
    /// [`TransportError::is_body`].
    pub async fn next_chunk(&mut self) -> Option<Result<Bytes, TransportError>> {
        futures_util::StreamExt::next(self).await
    }

    /// Collects the whole body, refusing to hold more than `limit` bytes.
    ///
    /// # Errors
    ///
    /// The body's own error, or [`TransportError::is_body_too_large`] as soon as the collected
    /// size passes `limit` (the rest is not read, and the connection is closed).
    pub async fn bytes(mut self, limit: usize) -> Result<Bytes, TransportError> {
        let mut collector = Collector::new(limit);
        while let Some(chunk) = self.next_chunk().await {
            collector.push(chunk?)?;
        }
        Ok(collector.finish())
    }
}

impl Stream for ByteStream {
    type Item = Result<Bytes, TransportError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl fmt::Debug for ByteStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ByteStream").finish_non_exhaustive()
    }
}

impl Default for ByteStream {
    fn default() -> Self {
        Self::empty()
    }
}

/// The body of a response from a [`BlockingTransport`](crate::BlockingTransport): an
/// iterator over the bytes as they arrive.
///
/// [`Iterator::next`] blocks the calling thread until the next chunk arrives (or a timeout
/// fires). The iterator yields at most one error and then ends. Dropping it before its end
/// closes the connection.
pub struct BlockingBody {
    inner: BoxIter,
}

impl BlockingBody {
    /// Wraps any iterator of chunks.
    pub fn new<I>(iter: I) -> Self
    where
        I: Iterator<Item = Result<Bytes, TransportError>> + Send + 'static,
    {
        Self {
            inner: Box::new(iter),
        }
    }

    /// A body of one chunk (no chunk if `bytes` is empty).
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        let once = (!bytes.is_empty()).then_some(Ok(bytes));
        Self::new(once.into_iter())
    }

    /// An empty body.
    pub fn empty() -> Self {
        Self::new(std::iter::empty())
    }

    /// Collects the whole body, refusing to hold more than `limit` bytes.
    ///
    /// # Errors
    ///
    /// The body's own error, or [`TransportError::is_body_too_large`] as soon as the collected
    /// size passes `limit` (the rest is not read, and the connection is closed).
    pub fn bytes(self, limit: usize) -> Result<Bytes, TransportError> {
        let mut collector = Collector::new(limit);
        for chunk in self {
            collector.push(chunk?)?;
        }
        Ok(collector.finish())
    }
}

impl Iterator for BlockingBody {
    type Item = Result<Bytes, TransportError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl fmt::Debug for BlockingBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingBody").finish_non_exhaustive()
    }
}

impl Default for BlockingBody {
    fn default() -> Self {
        Self::empty()
    }
}

/// Gathers chunks under a size limit; a single chunk is returned without copying.
struct Collector {
    limit: usize,
    first: Option<Bytes>,
    rest: Option<BytesMut>,
    len: usize,
}

impl Collector {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            first: None,
            rest: None,
            len: 0,
        }
    }

    fn push(&mut self, chunk: Bytes) -> Result<(), TransportError> {
        if chunk.is_empty() {
            return Ok(());
        }
        self.len = self.len.saturating_add(chunk.len());
        if self.len > self.limit {
            return Err(TransportError::body_too_large(
                u64::try_from(self.limit).unwrap_or(u64::MAX),
            ));
        }
        match (&mut self.first, &mut self.rest) {
            (None, _) => self.first = Some(chunk),
            (Some(first), None) => {
                let mut buf = BytesMut::with_capacity(first.len() + chunk.len());
                buf.extend_from_slice(first);
                buf.extend_from_slice(&chunk);
                self.rest = Some(buf);
            }
            (Some(_), Some(buf)) => buf.extend_from_slice(&chunk),
        }
        Ok(())
    }

    fn finish(self) -> Bytes {
        match (self.first, self.rest) {
            (_, Some(buf)) => buf.freeze(),
            (Some(first), None) => first,
            (None, None) => Bytes::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Phase, TransportError};

    fn chunks(parts: &[&'static str]) -> Vec<Result<Bytes, TransportError>> {
        parts
            .iter()
            .map(|p| Ok(Bytes::from_static(p.as_bytes())))
            .collect()
    }

    #[test]
    fn blocking_collects_in_order() {
        let body = BlockingBody::new(chunks(&["ab", "", "cd", "e"]).into_iter());
        assert_eq!(body.bytes(5).unwrap(), Bytes::from_static(b"abcde"));
    }

    #[test]
    fn blocking_limit_is_inclusive_and_enforced() {
        let body = BlockingBody::new(chunks(&["abc", "def"]).into_iter());
        let err = body.bytes(5).unwrap_err();
        assert!(err.is_body_too_large() && err.is_body());
        assert!(err.to_string().contains("5 bytes"));
        assert_eq!(
            BlockingBody::from_bytes("abcdef").bytes(6).unwrap(),
            "abcdef"
        );
        assert_eq!(BlockingBody::empty().bytes(0).unwrap(), "");
    }

    #[test]
    fn blocking_error_is_passed_through() {
        let mut parts = chunks(&["ab"]);
        parts.push(Err(TransportError::timeout(Phase::Body)));
        let err = BlockingBody::new(parts.into_iter()).bytes(100).unwrap_err();
        assert!(err.is_timeout() && err.is_body());
    }

    #[test]
    fn async_collects() {
        let body = ByteStream::new(futures_util::stream::iter(chunks(&["x", "yz"])));
        let got = futures_util::FutureExt::now_or_never(body.bytes(3))
            .unwrap()
            .unwrap();
        assert_eq!(got, "xyz");
        let body = ByteStream::new(futures_util::stream::iter(chunks(&["x", "yz"])));
        let err = futures_util::FutureExt::now_or_never(body.bytes(2))
            .unwrap()
            .unwrap_err();
        assert!(err.is_body_too_large());
        let got = futures_util::FutureExt::now_or_never(ByteStream::from_bytes("").bytes(0));
        assert_eq!(got.unwrap().unwrap(), "");
    }

    #[test]
    fn bodies_are_send() {
        fn assert_send<T: Send + 'static>() {}
        assert_send::<ByteStream>();
        assert_send::<BlockingBody>();
        assert_send::<http::Response<ByteStream>>();
    }
}
