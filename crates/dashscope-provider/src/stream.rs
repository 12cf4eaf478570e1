//! The async stream adapter: a [`ByteStream`] in, typed chunks out.

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};

use dashscope_transport::ByteStream;
use futures_core::Stream;
use http::HeaderMap;
use tracing::Span;

use crate::core::{Step, StreamCore};
use crate::dialect::Dialect;
use crate::error::Error;

/// A server-sent-event stream of one dialect's chunks: a
/// `futures_core::Stream<Item = Result<D::Chunk, Error>>`.
///
/// Pull-based: bytes are read only when the stream is polled, and dropping it drops the body,
/// which closes the connection. After an error or the terminal event it yields `None`.
///
/// * [`accumulate`](Self::accumulate) folds the rest of the stream (and what was already pulled)
///   into the final response, the same type a non-stream call returns;
/// * [`snapshot`](Self::snapshot) is the response as far as it arrived;
/// * a stream that breaks yields one [`Error::Stream`] carrying that snapshot.
pub struct EventStream<D: Dialect> {
    core: StreamCore<D>,
    body: Option<ByteStream>,
    pending: Option<D::Chunk>,
    status: u16,
    headers: HeaderMap,
    span: Span,
}

impl<D: Dialect> fmt::Debug for EventStream<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventStream")
            .field("dialect", &D::NAME)
            .field("status", &self.status)
            .field("request_id", &self.core.request_id())
            .field("chunks", &self.core.chunks())
            .field("over", &self.core.is_over())
            .finish_non_exhaustive()
    }
}

impl<D: Dialect> EventStream<D> {
    pub(crate) fn new(
        core: StreamCore<D>,
        body: ByteStream,
        status: u16,
        headers: HeaderMap,
    ) -> Self {
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

    /// Reads until the first chunk and keeps it for the caller.
    ///
    /// # Errors
    ///
    /// The stream's first outcome when it is an error.
    pub(crate) async fn peek(&mut self) -> Result<(), Error> {
        match poll_fn(|cx| self.poll_item(cx)).await {
            Some(Ok(chunk)) => {
                self.pending = Some(chunk);
                Ok(())
            }
            Some(Err(e)) => Err(e),
            None => Ok(()),
        }
    }

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

    /// The response as far as it arrived.
    pub fn snapshot(&self) -> D::Output {
        self.core.snapshot()
    }

    /// How many chunks arrived so far.
    pub fn chunks(&self) -> u64 {
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

    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<D::Chunk, Error>>> {
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
                    match Pin::new(body).poll_next(cx) {
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

impl<D: Dialect> Stream for EventStream<D> {
    type Item = Result<D::Chunk, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_item(cx)
    }
}
