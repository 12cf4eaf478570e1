//! The mock's connections: a TCP stream a fault can reset, that closes gracefully, and that
//! passes every byte through untouched (vectored writes included).
//!
//! A handler reaches its connection through the [`ConnHandle`] that [`serve`](crate::serve)
//! puts in every request's extensions: a `reset` fault asks for a TCP reset there (the next
//! write fails and the socket closes with `SO_LINGER` 0, so the client reads an RST instead of
//! an answer). Served any other way (in-process through [`router`](crate::router)) a request has
//! no handle, and a `reset` fault degrades to a body that fails at once.
//!
//! Recorded header-name case needs nothing from the connection: hyper writes the spellings a
//! response carries in its extensions (see [`replay`](crate::replay)).
//!
//! A connection shut down with request bytes unread (a body over the limit answered with 413,
//! a head over the cap answered with 431) first keeps reading and dropping them for at most
//! [`LINGER`]: closing at once would make the kernel answer the client's next bytes with a
//! reset, and a client still writing its body would see a broken pipe instead of the answer.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// How long a closing connection keeps reading (and dropping) request bytes it left unread.
pub(crate) const LINGER: Duration = Duration::from_secs(5);

/// A handler's way to its connection (in the request's extensions under [`serve`](crate::serve)).
#[derive(Clone, Debug, Default)]
pub(crate) struct ConnHandle(Arc<AtomicBool>);

impl ConnHandle {
    /// Resets the connection: nothing more is written on it.
    pub(crate) fn reset(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn is_reset(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// A TCP stream that honours [`ConnHandle::reset`] and lingers on close (see the module docs).
#[derive(Debug)]
pub(crate) struct MockIo {
    inner: TcpStream,
    handle: ConnHandle,
    closing: Closing,
}

/// Where [`MockIo::poll_shutdown`] is.
#[derive(Debug)]
enum Closing {
    Open,
    /// FIN sent; dropping unread input until the client closes or the deadline.
    Lingering(Pin<Box<tokio::time::Sleep>>),
    Closed,
}

impl MockIo {
    /// Wraps an accepted stream; the handle goes into its requests' extensions.
    pub(crate) fn new(inner: TcpStream) -> (Self, ConnHandle) {
        let _ = inner.set_nodelay(true);
        let handle = ConnHandle::default();
        let io = MockIo {
            inner,
            handle: handle.clone(),
            closing: Closing::Open,
        };
        (io, handle)
    }

    /// `Err` once the connection was reset (the first time, the socket is set to send RST).
    fn check_reset(&self) -> io::Result<()> {
        if !self.handle.is_reset() {
            return Ok(());
        }
        // SO_LINGER 0: closing the socket sends RST instead of FIN.
        let _ = self.inner.set_zero_linger();
        Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "connection reset by an x-mock-fault",
        ))
    }

    /// Reads and drops input: `Ready` at end of input or an error, `Pending` when no more is
    /// available now; `dropped` counts the bytes dropped.
    fn poll_discard(&mut self, cx: &mut Context<'_>, dropped: &mut usize) -> Poll<()> {
        let mut scratch = [0u8; 16 * 1024];
        loop {
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut self.inner).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(()),
                Poll::Ready(Ok(())) => *dropped += buf.filled().len(),
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl Drop for MockIo {
    fn drop(&mut self) {
        // Whatever was or was not written, a reset connection closes with RST.
        let _ = self.check_reset();
    }
}

impl AsyncRead for MockIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check_reset()?;
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for MockIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check_reset()?;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.check_reset()?;
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check_reset()?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.handle.is_reset() {
            return Poll::Ready(Ok(()));
        }
        loop {
            match &mut this.closing {
                Closing::Open => {
                    ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
                    let mut dropped = 0;
                    let ended = this.poll_discard(cx, &mut dropped).is_ready();
                    this.closing = if ended || dropped == 0 {
                        // The client closed, or left nothing unread: close now.
                        Closing::Closed
                    } else {
                        tracing::debug!("lingering to drop unread request bytes");
                        Closing::Lingering(Box::pin(tokio::time::sleep(LINGER)))
                    };
                }
                Closing::Lingering(deadline) => {
                    // Until the deadline, or the end of the client's input.
                    if deadline.as_mut().poll(cx).is_pending() {
                        ready!(this.poll_discard(cx, &mut 0));
                    }
                    this.closing = Closing::Closed;
                }
                Closing::Closed => return Poll::Ready(Ok(())),
            }
        }
    }
}
