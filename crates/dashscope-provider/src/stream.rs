//! The stream adapters of both clients: a body in, typed chunks out. `B` is the body: the async
//! client's [`ByteStream`] (the stream is then a `futures_core::Stream`) or the blocking
//! client's [`BlockingBody`] (an [`Iterator`]); everything else is written once.

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use dashscope_transport::{BlockingBody, ByteStream, TransportError};
use futures_core::Stream;
use http::HeaderMap;
use tracing::Span;

use crate::core::{Step, StreamCore};
use crate::dialect::WireDialect;
use crate::error::Error;

/// A response body, read chunk by chunk. (Public in this private module only so that the
/// public streams' impls may name it: nothing outside the crate can.)
pub trait Body {
    /// The next chunk; a blocking body is always ready (it blocks instead).
    fn poll_bytes(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, TransportError>>>;
}

impl Body for ByteStream {
    fn poll_bytes(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, TransportError>>> {
        Pin::new(self).poll_next(cx)
    }
}

impl Body for BlockingBody {
    fn poll_bytes(&mut self, _: &mut Context<'_>) -> Poll<Option<Result<Bytes, TransportError>>> {
        Poll::Ready(self.next())
    }
}

/// Runs a poll function to completion on the calling thread, for a blocking body (which never
/// returns `Pending`).
pub(crate) fn block_on<T>(mut poll: impl FnMut(&mut Context<'_>) -> Poll<T>) -> T {
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = poll(&mut cx) {
            return v;
        }
    }
}

/// A server-sent-event stream of one dialect's chunks: a
/// `futures_core::Stream<Item = Result<D::Chunk, Error>>` from the async client, an
/// `Iterator` of the same items from the blocking one
/// (`blocking::EventStream`, `B` = [`BlockingBody`]).
///
/// Pull-based: bytes are read only when the stream is polled (each blocking `next` waits for a
/// chunk, bounded by the transport's read timeout), and dropping it drops the body, which
/// closes the connection. After an error or the terminal event it yields `None`.
///
/// * [`accumulate`](Self::accumulate) folds the rest of the stream (and what was already pulled)
///   into the final response, the same type a non-stream call returns;
/// * [`snapshot`](Self::snapshot) is the response as far as it arrived;
/// * a stream that breaks yields one [`Error::Stream`] carrying that snapshot.
///
/// To do this, every chunk is folded into the dialect's accumulator as it passes, so memory
/// grows with the text received (about 19 MiB for 1,000,000 short deltas). A caller that keeps
/// what it needs from the chunks itself can turn that off with
/// [`without_snapshot`](Self::without_snapshot).
pub struct EventStream<D: WireDialect, B = ByteStream> {
    core: StreamCore<D>,
    body: Option<B>,
    pending: Option<D::Chunk>,
    status: u16,
    headers: HeaderMap,
    span: Span,
}

impl<D: WireDialect, B> fmt::Debug for EventStream<D, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventStream")
            .field("dialect", &D::DIALECT)
            .field("status", &self.status)
            .field("request_id", &self.core.request_id())
            .field("chunks", &self.core.chunks())
            .field("over", &self.core.is_over())
            .finish_non_exhaustive()
    }
}

impl<D: WireDialect, B> EventStream<D, B> {
    pub(crate) fn new(core: StreamCore<D>, body: B, status: u16, headers: HeaderMap) -> Self {
        EventStream {
            core,
            body: Some(body),
            pending: None,
            status,
            headers,
            span: Span::none(),
        }
    }

    pub(crate) fn with_span(mut self, span: Span) -> Self {
        self.span = span;
        self
    }

    /// The same stream without the accumulator: the chunks still come out unchanged, but
    /// nothing is folded or kept, so memory stays flat however long the stream runs.
    ///
    /// What this gives up:
    ///
    /// * [`snapshot`](Self::snapshot) and [`accumulate`](Self::accumulate): a [`ChunkStream`]
    ///   has neither, so nothing can return an answer that was never assembled;
    /// * the partial response of an [`Error::Stream`]: it becomes the dialect's *empty*
    ///   response ([`PartialResponse::text`](crate::PartialResponse::text) is `""`, no choices,
    ///   no output items, no usage), whatever had arrived. The rest of the error is unchanged:
    ///   its kind, the service's error (code, message), the request id, and
    ///   [`StreamDetails::chunks`](crate::StreamDetails::chunks), the number of chunks that
    ///   reached the caller before the break. The chunks themselves are the caller's record.
    ///
    /// What was folded before the call (the first chunk, read when the stream opened, and any
    /// chunk pulled since) is dropped; a chunk not yet pulled is still delivered, so calling
    /// this right after `create_stream` loses nothing.
    ///
    /// ```no_run
    /// # #[cfg(feature = "reqwest")]
    /// # async fn demo(client: dashscope_provider::Client) -> Result<(), dashscope_provider::Error> {
    /// use dashscope_provider::protocol::chat::{ChatRequest, Message};
    ///
    /// let req = ChatRequest::new("qwen-plus", vec![Message::user("Write a long story")]);
    /// let mut stream = client.chat().create_stream(req).await?.without_snapshot();
    /// while let Some(chunk) = stream.next_chunk().await {
    ///     print!("{}", chunk?.content().unwrap_or_default());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn without_snapshot(mut self) -> ChunkStream<D, B> {
        self.core.stop_folding();
        ChunkStream { inner: self }
    }

    /// The response as far as it arrived.
    pub fn snapshot(&self) -> D::Output {
        self.core.snapshot()
    }

    /// How many chunks arrived so far.
    pub fn chunk_count(&self) -> u64 {
        self.core.chunks()
    }

    /// Whether the stream is over (ended or broke).
    pub fn is_finished(&self) -> bool {
        self.pending.is_none() && self.core.is_over()
    }

    /// The HTTP status of the response.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The `x-request-id` header.
    pub fn request_id(&self) -> Option<&str> {
        self.core.request_id()
    }

    /// Keeps the first outcome of the stream for the caller, or returns it when it is an error.
    pub(crate) fn hold_first(
        &mut self,
        first: Option<Result<D::Chunk, Error>>,
    ) -> Result<(), Error> {
        self.pending = first.transpose()?;
        Ok(())
    }
}

impl<D: WireDialect, B: Body> EventStream<D, B> {
    pub(crate) fn poll_item(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<D::Chunk, Error>>> {
        if let Some(chunk) = self.pending.take() {
            return Poll::Ready(Some(Ok(chunk)));
        }
        let _entered = self.span.enter();
        loop {
            match self.core.step() {
                Step::Chunk(chunk) => return Poll::Ready(Some(Ok(chunk))),
                Step::Failed(e) => {
                    self.body = None;
                    return Poll::Ready(Some(Err(e)));
                }
                Step::Finished => {
                    if self.body.take().is_some() {
                        tracing::debug!(chunks = self.core.chunks(), "stream finished");
                    }
                    return Poll::Ready(None);
                }
                Step::NeedBytes => {
                    let Some(body) = self.body.as_mut() else {
                        self.core.end_of_body();
                        continue;
                    };
                    match body.poll_bytes(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Some(Ok(bytes))) => self.core.feed(&bytes),
                        Poll::Ready(Some(Err(e))) => {
                            self.body = None;
                            return Poll::Ready(Some(Err(self.core.body_error(e))));
                        }
                        Poll::Ready(None) => {
                            self.body = None;
                            self.core.end_of_body();
                        }
                    }
                }
            }
        }
    }
}

impl<D: WireDialect> EventStream<D> {
    /// The next chunk, or `None` at the end (a convenience for callers without `StreamExt`).
    ///
    /// # Errors
    ///
    /// One [`Error::Stream`] when the stream breaks; `None` follows.
    pub async fn next_chunk(&mut self) -> Option<Result<D::Chunk, Error>> {
        poll_fn(|cx| self.poll_item(cx)).await
    }

    /// Reads the rest of the stream and returns the final response, folded by the dialect's
    /// accumulator from every chunk (including those already pulled).
    ///
    /// # Errors
    ///
    /// The [`Error::Stream`] of a stream that broke; its `partial` holds what arrived.
    pub async fn accumulate(mut self) -> Result<D::Output, Error> {
        while let Some(item) = self.next_chunk().await {
            item?;
        }
        Ok(self.core.finish())
    }
}

impl<D: WireDialect> EventStream<D, BlockingBody> {
    /// Reads the rest of the stream and returns the final response, folded by the dialect's
    /// accumulator from every chunk (including those already pulled).
    ///
    /// # Errors
    ///
    /// The [`Error::Stream`] of a stream that broke; its `partial` holds what arrived.
    pub fn accumulate(mut self) -> Result<D::Output, Error> {
        for item in self.by_ref() {
            item?;
        }
        Ok(self.core.finish())
    }
}

impl<D: WireDialect> Stream for EventStream<D> {
    type Item = Result<D::Chunk, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_item(cx)
    }
}

impl<D: WireDialect> Iterator for EventStream<D, BlockingBody> {
    type Item = Result<D::Chunk, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        block_on(|cx| self.poll_item(cx))
    }
}

/// An [`EventStream`] that keeps nothing: the chunks, without the accumulator (from
/// [`EventStream::without_snapshot`]). A `futures_core::Stream<Item = Result<D::Chunk, Error>>`
/// from the async client, an `Iterator` from the blocking one.
///
/// Its memory does not grow with the stream. It has no `snapshot` or `accumulate`, and a stream
/// that breaks yields one [`Error::Stream`] whose partial response is the dialect's empty one
/// (the error's kind, service error, request id and
/// [`StreamDetails::chunks`](crate::StreamDetails::chunks) are as usual). Otherwise it behaves
/// as the [`EventStream`] it came from: pull-based, dropping it closes the connection, `None`
/// after an error or the terminal event.
pub struct ChunkStream<D: WireDialect, B = ByteStream> {
    inner: EventStream<D, B>,
}

impl<D: WireDialect, B> fmt::Debug for ChunkStream<D, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ChunkStream").field(&self.inner).finish()
    }
}

impl<D: WireDialect, B> ChunkStream<D, B> {
    /// How many chunks arrived so far (including those from before
    /// [`without_snapshot`](EventStream::without_snapshot)).
    pub fn chunk_count(&self) -> u64 {
        self.inner.chunk_count()
    }

    /// Whether the stream is over (ended or broke).
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }

    /// The HTTP status of the response.
    pub fn status(&self) -> u16 {
        self.inner.status()
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        self.inner.headers()
    }

    /// The `x-request-id` header.
    pub fn request_id(&self) -> Option<&str> {
        self.inner.request_id()
    }
}

impl<D: WireDialect> ChunkStream<D> {
    /// The next chunk, or `None` at the end (a convenience for callers without `StreamExt`).
    ///
    /// # Errors
    ///
    /// One [`Error::Stream`] when the stream breaks (its partial response is empty); `None`
    /// follows.
    pub async fn next_chunk(&mut self) -> Option<Result<D::Chunk, Error>> {
        self.inner.next_chunk().await
    }
}

impl<D: WireDialect> Stream for ChunkStream<D> {
    type Item = Result<D::Chunk, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().inner.poll_item(cx)
    }
}

impl<D: WireDialect> Iterator for ChunkStream<D, BlockingBody> {
    type Item = Result<D::Chunk, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::{ChatDialect, NativeDialect, ResponsesDialect};

    /// Compile-time checks: every stream and its futures can move across tasks and threads.
    fn _assert_impls(s: &mut ChunkStream<ChatDialect>) {
        fn send<T: Send>(_: &T) {}
        fn send_type<T: Send + Unpin>() {}
        send_type::<EventStream<ChatDialect>>();
        send_type::<EventStream<ResponsesDialect, BlockingBody>>();
        send_type::<ChunkStream<ResponsesDialect>>();
        send_type::<ChunkStream<NativeDialect, BlockingBody>>();
        send(&s.next_chunk());
    }
}
