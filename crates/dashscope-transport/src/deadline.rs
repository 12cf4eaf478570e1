//! The calling thread's deadline for blocking network waits.

use std::cell::Cell;
use std::time::Instant;

thread_local! {
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Runs `f` with `deadline` as the calling thread's deadline: every wait a blocking transport
/// makes for the network inside `f` gives up when it is reached, with a
/// [`TransportError::is_timeout`](crate::TransportError::is_timeout) error. `None` runs `f`
/// as it is.
///
/// This is how a blocking caller puts one deadline over several calls: `send` (connecting,
/// writing the request, waiting for the response head) and then as many body reads as it
/// likes, and no more: reads made after `f` returns are bounded by the transport's own
/// timeouts only. [`UreqTransport`] honours it on every read and write
/// of its connections; other [`BlockingTransport`](crate::BlockingTransport)s read it with
/// [`current_deadline`]. Nested calls keep the earlier deadline, and the previous one is back
/// when `f` returns (or panics). The async [`Transport`](crate::Transport) has no use for
/// this: an async caller puts a timer around the futures instead.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let deadline = Instant::now() + Duration::from_secs(5);
/// dashscope_transport::with_deadline(Some(deadline), || {
///     assert_eq!(dashscope_transport::current_deadline(), Some(deadline));
/// });
/// assert_eq!(dashscope_transport::current_deadline(), None);
/// ```
#[cfg_attr(
    feature = "blocking",
    doc = "\n[`UreqTransport`]: crate::UreqTransport"
)]
#[cfg_attr(not(feature = "blocking"), doc = "\n[`UreqTransport`]: crate#features")]
pub fn with_deadline<T>(deadline: Option<Instant>, f: impl FnOnce() -> T) -> T {
    /// Puts the previous deadline back, even when `f` panics.
    struct Restore(Option<Instant>);
    impl Drop for Restore {
        fn drop(&mut self) {
            DEADLINE.with(|d| d.set(self.0));
        }
    }
    let Some(deadline) = deadline else {
        return f();
    };
    let previous = DEADLINE.with(Cell::get);
    let _restore = Restore(previous);
    let earliest = previous.map_or(deadline, |p| p.min(deadline));
    DEADLINE.with(|d| d.set(Some(earliest)));
    f()
}

/// The calling thread's deadline, set by [`with_deadline`]: a blocking transport gives up any
/// network wait at that instant.
pub fn current_deadline() -> Option<Instant> {
    DEADLINE.with(Cell::get)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn nested_deadlines_keep_the_earliest_and_restore() {
        let now = Instant::now();
        let (early, late) = (now + Duration::from_secs(1), now + Duration::from_secs(9));
        with_deadline(Some(late), || {
            assert_eq!(current_deadline(), Some(late));
            with_deadline(Some(early), || assert_eq!(current_deadline(), Some(early)));
            with_deadline(None, || assert_eq!(current_deadline(), Some(late)));
            with_deadline(Some(now + Duration::from_secs(20)), || {
                assert_eq!(current_deadline(), Some(late));
            });
            assert_eq!(current_deadline(), Some(late));
            let caught = std::panic::catch_unwind(|| with_deadline(Some(early), || panic!("x")));
            assert!(caught.is_err());
            assert_eq!(current_deadline(), Some(late));
        });
        assert_eq!(current_deadline(), None);
        // Per thread.
        with_deadline(Some(early), || {
            std::thread::spawn(|| assert_eq!(current_deadline(), None))
                .join()
                .unwrap();
        });
    }
}
