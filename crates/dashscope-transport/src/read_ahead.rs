//! The async backend's response body: a reader with the read and total timeouts, and the
//! read-ahead task that pulls it off the connection into a bounded buffer.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use tokio::time::{Instant, Sleep};

use crate::error::Message;
use crate::{ByteStream, Phase, TransportError};

/// The most bytes the read-ahead task holds for a body its reader has not taken yet.
///
/// The task reads from the connection while fewer than this many bytes wait in the buffer, so
/// the buffer holds at most this bound plus one chunk (one read of the connection: hyper reads
/// at most about 400 KiB at a time over HTTP/1.1, and HTTP/2 data frames are 16 KiB by default).
/// A reader that stops taking chunks stops the reading there: the server is then held back by
/// TCP flow control, and no timer runs.
pub(crate) const READ_AHEAD_BYTES: usize = 64 * 1024;

/// A response body with its timers: the read timeout (the longest wait for the next chunk) and
/// the total deadline. At most one error, then the end.
pub(crate) struct BodyReader<S> {
    /// `None` once the body ended or failed: the connection is released (or closed) then.
    body: Option<S>,
    timer: IdleTimer,
}

impl<S> BodyReader<S>
where
    S: http_body::Body<Data = Bytes, Error = reqwest::Error> + Unpin,
{
    /// `body`, starting its read timeout now.
    pub(crate) fn new(body: S, read: Option<Duration>, deadline: Option<Instant>) -> Self {
        BodyReader {
            body: Some(body),
            timer: IdleTimer::new(read, deadline),
        }
    }

    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, TransportError>>> {
        let Some(body) = self.body.as_mut() else {
            return Poll::Ready(None);
        };
        loop {
            match Pin::new(&mut *body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    self.timer.progress();
                    match frame.into_data() {
                        Ok(chunk) if !chunk.is_empty() => return Poll::Ready(Some(Ok(chunk))),
                        // Empty chunks and trailers are not data.
                        _ => continue,
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    // Dropping the body here closes the connection at once.
                    self.body = None;
                    return Poll::Ready(Some(Err(crate::backend_reqwest::map_error(
                        e,
                        Phase::Body,
                    ))));
                }
                Poll::Ready(None) => {
                    self.body = None;
                    return Poll::Ready(None);
                }
                Poll::Pending => {
                    if self.timer.poll_expired(cx).is_ready() {
                        self.body = None;
                        return Poll::Ready(Some(Err(TransportError::timeout(Phase::Body))));
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl<S> Stream for BodyReader<S>
where
    S: http_body::Body<Data = Bytes, Error = reqwest::Error> + Unpin,
{
    type Item = Result<Bytes, TransportError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_chunk(cx)
    }
}

/// The read timeout and the total deadline of one body, with one timer per body rather than
/// one per chunk: progress only notes the time, and the timer, when it fires early, is moved
/// on to the true limit.
struct IdleTimer {
    read: Option<Duration>,
    deadline: Option<Instant>,
    /// When the current wait began: the last chunk, or the start.
    since: Instant,
    /// A chunk came since `since` was set.
    progressed: bool,
    /// Armed at or before the limit; created on the first wait.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl IdleTimer {
    fn new(read: Option<Duration>, deadline: Option<Instant>) -> Self {
        IdleTimer {
            read,
            deadline,
            since: Instant::now(),
            progressed: false,
            sleep: None,
        }
    }

    /// The instant the current wait must end by: the read timeout from the last progress,
    /// capped by the deadline.
    fn limit(&self) -> Option<Instant> {
        let idle = self.read.map(|d| self.since + d);
        match (idle, self.deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A chunk arrived: the next wait starts a new read timeout. The clock is read when that
    /// wait begins, once per batch of chunks rather than per chunk.
    fn progress(&mut self) {
        self.progressed = true;
    }

    /// Ready once the limit has passed; otherwise the task is woken when it may have.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if std::mem::take(&mut self.progressed) && self.read.is_some() {
            self.since = Instant::now();
        }
        let Some(limit) = self.limit() else {
            return Poll::Pending;
        };
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(limit)));
        loop {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if limit <= sleep.deadline() {
                return Poll::Ready(());
            }
            // Progress since the timer was armed: move it on.
            sleep.as_mut().reset(limit);
        }
    }
}

/// The body of a response: `reader`, read ahead of its consumer by a task of the current tokio
/// runtime when the consumer is not itself one of the runtime's tasks (a `block_on`), and the
/// body's announced length (`content_length`) does not fit within [`READ_AHEAD_BYTES`].
///
/// A `block_on` future pays for every wake-up: a cross-thread unpark on a multi-thread runtime,
/// a turn of the I/O driver before each poll on a current-thread one. Reading a body sent one
/// small frame per event directly would cost one per frame. The task pulls chunks while fewer
/// than [`READ_AHEAD_BYTES`] wait, and wakes the consumer once per batch: when the body has
/// nothing more at once (after the runtime had a turn to poll its I/O driver and run the
/// connection's task), when the buffer is full, and at the end. Dropping the [`ByteStream`]
/// aborts the task, which drops the body and closes the connection.
///
/// A consumer that is a task is woken through the scheduler's queues, next to the connection's
/// task, and a body that fits the buffer is one batch anyway: those (and a consumer outside any
/// runtime) read the body themselves, without a task in between.
pub(crate) fn body<S>(reader: BodyReader<S>, content_length: Option<u64>) -> ByteStream
where
    S: http_body::Body<Data = Bytes, Error = reqwest::Error> + Unpin + Send + 'static,
{
    let fits = content_length.is_some_and(|n| n <= READ_AHEAD_BYTES as u64);
    let in_task = tokio::task::try_id().is_some();
    let runtime = tokio::runtime::Handle::try_current();
    let (false, false, Ok(runtime)) = (fits, in_task, runtime) else {
        return ByteStream::new(reader);
    };
    let shared = Arc::new(Shared::default());
    let producer = Producer(Some(shared.clone()));
    let task = runtime.spawn(pump(reader, producer)).abort_handle();
    ByteStream::new(ReadAhead { shared, task })
}

/// The read-ahead task: the body, pulled into the shared buffer batch by batch.
async fn pump<S>(mut reader: BodyReader<S>, mut producer: Producer)
where
    S: http_body::Body<Data = Bytes, Error = reqwest::Error> + Unpin,
{
    while poll_fn(|cx| producer.fill(&mut reader, cx)).await {
        // The body answered `Pending` after giving chunks: it may have more as soon as the
        // connection's task runs or the socket is read again. Look once more after the
        // runtime ran its other ready tasks and polled its I/O driver, and only then tell the
        // consumer.
        tokio::task::yield_now().await;
    }
}

/// What the read-ahead task and its consumer share.
#[derive(Default)]
struct Shared {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    chunks: VecDeque<Bytes>,
    /// The bytes in `chunks`.
    buffered: usize,
    end: End,
    /// The consumer, when it waits for a chunk.
    consumer: Option<Waker>,
    /// The task, when it waits for room.
    producer: Option<Waker>,
}

#[derive(Default)]
enum End {
    #[default]
    Running,
    Finished,
    Failed(TransportError),
    /// The error was handed over.
    Reported,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The critical sections cannot panic (no user code runs under the lock).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The task's side; `None` once the end was recorded.
struct Producer(Option<Arc<Shared>>);

impl Producer {
    /// Pulls chunks into the buffer until the body waits, the buffer fills or the body ends.
    ///
    /// `Ready(true)` when the body waits after giving chunks (the caller yields, then calls
    /// again); `Pending` when it waits with nothing new, or the buffer is full (the consumer
    /// was told of what is buffered); `Ready(false)` at the end.
    fn fill<S>(&mut self, reader: &mut BodyReader<S>, cx: &mut Context<'_>) -> Poll<bool>
    where
        S: http_body::Body<Data = Bytes, Error = reqwest::Error> + Unpin,
    {
        let Some(shared) = self.0.as_ref() else {
            return Poll::Ready(false);
        };
        let mut pushed = false;
        loop {
            {
                let mut state = shared.lock();
                if state.buffered >= READ_AHEAD_BYTES {
                    state.producer = Some(cx.waker().clone());
                    let consumer = state.consumer.take();
                    drop(state);
                    wake(consumer);
                    return Poll::Pending;
                }
            }
            let end = match reader.poll_chunk(cx) {
                Poll::Pending if pushed => return Poll::Ready(true),
                Poll::Pending => {
                    let consumer = shared.lock().consumer.take();
                    wake(consumer);
                    return Poll::Pending;
                }
                Poll::Ready(Some(Ok(chunk))) => {
                    let mut state = shared.lock();
                    state.buffered += chunk.len();
                    state.chunks.push_back(chunk);
                    pushed = true;
                    continue;
                }
                Poll::Ready(Some(Err(e))) => End::Failed(e),
                Poll::Ready(None) => End::Finished,
            };
            self.end(end);
            return Poll::Ready(false);
        }
    }

    /// Records the end and tells the consumer.
    fn end(&mut self, end: End) {
        let Some(shared) = self.0.take() else {
            return;
        };
        let mut state = shared.lock();
        state.end = end;
        let consumer = state.consumer.take();
        drop(state);
        wake(consumer);
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        // Dropped before the end: aborted by the consumer, or its runtime shut down.
        self.end(End::Failed(TransportError::new(
            Phase::Body,
            Message("the body's read-ahead task was stopped (its runtime shut down)".into()),
        )));
    }
}

fn wake(waker: Option<Waker>) {
    if let Some(w) = waker {
        w.wake();
    }
}

/// The consumer's side: the chunks the task read, then its end.
struct ReadAhead {
    shared: Arc<Shared>,
    task: tokio::task::AbortHandle,
}

impl Stream for ReadAhead {
    type Item = Result<Bytes, TransportError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut state = self.shared.lock();
        if let Some(chunk) = state.chunks.pop_front() {
            let was_full = state.buffered >= READ_AHEAD_BYTES;
            state.buffered -= chunk.len();
            let producer = if was_full && state.buffered < READ_AHEAD_BYTES {
                state.producer.take()
            } else {
                None
            };
            drop(state);
            wake(producer);
            return Poll::Ready(Some(Ok(chunk)));
        }
        match std::mem::replace(&mut state.end, End::Reported) {
            End::Running => {
                state.end = End::Running;
                if !state
                    .consumer
                    .as_ref()
                    .is_some_and(|w| w.will_wake(cx.waker()))
                {
                    state.consumer = Some(cx.waker().clone());
                }
                Poll::Pending
            }
            End::Failed(e) => Poll::Ready(Some(Err(e))),
            End::Finished | End::Reported => Poll::Ready(None),
        }
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use http_body::Frame;

    use super::*;

    const CHUNK: usize = 1000;

    /// A body with a chunk always ready, counting what it gave; it notes being dropped.
    struct Endless {
        pulled: Arc<AtomicUsize>,
        dropped: Arc<AtomicBool>,
    }

    impl http_body::Body for Endless {
        type Data = Bytes;
        type Error = reqwest::Error;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, reqwest::Error>>> {
            self.pulled.fetch_add(CHUNK, Ordering::SeqCst);
            Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![7; CHUNK])))))
        }
    }

    impl Drop for Endless {
        fn drop(&mut self) {
            self.dropped.store(true, Ordering::SeqCst);
        }
    }

    /// Lets the runtime run the read-ahead task until it waits.
    async fn settle() {
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn the_buffer_holds_at_most_the_bound_and_one_chunk() {
        let pulled = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicBool::new(false));
        let endless = Endless {
            pulled: pulled.clone(),
            dropped: dropped.clone(),
        };
        let mut stream = body(BodyReader::new(endless, None, None), None);
        let mut taken = 0;
        for round in 0..5 {
            settle().await;
            let held = pulled.load(Ordering::SeqCst) - taken;
            assert!(
                (READ_AHEAD_BYTES..READ_AHEAD_BYTES + CHUNK).contains(&held),
                "round {round}: {held} bytes read ahead"
            );
            // Take a tenth of it: the task tops the buffer up again, to the bound.
            for _ in 0..READ_AHEAD_BYTES / CHUNK / 10 {
                taken += stream
                    .next_chunk()
                    .await
                    .expect("a chunk")
                    .expect("ok")
                    .len();
            }
        }
        assert!(!dropped.load(Ordering::SeqCst));
        drop(stream);
        settle().await;
        assert!(
            dropped.load(Ordering::SeqCst),
            "the task still holds the body"
        );
    }

    #[tokio::test]
    async fn a_body_that_fits_the_bound_is_read_by_its_consumer() {
        for (len, ahead) in [
            (READ_AHEAD_BYTES as u64, false),
            (READ_AHEAD_BYTES as u64 + 1, true),
        ] {
            let pulled = Arc::new(AtomicUsize::new(0));
            let endless = Endless {
                pulled: pulled.clone(),
                dropped: Arc::default(),
            };
            let mut stream = body(BodyReader::new(endless, None, None), Some(len));
            settle().await;
            assert_eq!(pulled.load(Ordering::SeqCst) > 0, ahead, "length {len}");
            stream.next_chunk().await.expect("a chunk").expect("ok");
        }
    }

    #[tokio::test]
    async fn a_task_reads_its_body_itself() {
        let pulled = Arc::new(AtomicUsize::new(0));
        let endless = Endless {
            pulled: pulled.clone(),
            dropped: Arc::default(),
        };
        let reader = BodyReader::new(endless, None, None);
        tokio::spawn(async move {
            let mut stream = body(reader, None);
            settle().await;
            assert_eq!(pulled.load(Ordering::SeqCst), 0, "read ahead for a task");
            stream.next_chunk().await.expect("a chunk").expect("ok");
            assert_eq!(pulled.load(Ordering::SeqCst), CHUNK);
        })
        .await
        .expect("task");
    }

    #[tokio::test(start_paused = true)]
    async fn the_read_timeout_counts_from_the_last_chunk() {
        let mut timer = IdleTimer::new(Some(Duration::from_secs(10)), None);
        let start = Instant::now();
        let mut cx = Context::from_waker(Waker::noop());
        assert!(timer.poll_expired(&mut cx).is_pending());
        tokio::time::advance(Duration::from_secs(6)).await;
        timer.progress();
        assert!(timer.poll_expired(&mut cx).is_pending());
        // The timer armed at the start fires at 10 s: moved on, not expired.
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(timer.poll_expired(&mut cx).is_pending());
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(timer.poll_expired(&mut cx).is_ready());
        assert_eq!(Instant::now() - start, Duration::from_secs(16));
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_caps_the_read_timeout() {
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut timer = IdleTimer::new(Some(Duration::from_secs(10)), Some(deadline));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(timer.poll_expired(&mut cx).is_pending());
        tokio::time::advance(Duration::from_secs(2)).await;
        timer.progress();
        assert!(timer.poll_expired(&mut cx).is_pending());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(timer.poll_expired(&mut cx).is_ready());
    }
}
