//! The sans-IO server-sent-events codec.
//!
//! [`Decoder`] takes bytes as they arrive (`feed`), hands out complete events (`next_event`) and
//! flushes the last one at the end of the body (`finish`). [`Encoder`] writes each dialect's
//! exact framing for the mock server.
//!
//! ```
//! use dashscope_protocol::sse::{Decoder, Mode};
//!
//! let mut d = Decoder::with_mode(Mode::DataLineIsEvent);
//! d.feed(b"id:1\nevent:result\n:HTTP_STATUS/200\ndata:{\"a\":1}\nid:2\nev");
//! d.feed(b"ent:result\n:HTTP_STATUS/200\ndata:{\"a\":2}");
//! d.finish();
//! let mut seen = Vec::new();
//! while let Some(ev) = d.next_event() {
//!     let ev = ev.expect("valid stream");
//!     seen.push((ev.index, ev.id.map(str::to_owned), ev.http_status, ev.data.to_owned()));
//! }
//! assert_eq!(seen, [
//!     (0, Some("1".to_owned()), Some(200), r#"{"a":1}"#.to_owned()),
//!     (1, Some("2".to_owned()), Some(200), r#"{"a":2}"#.to_owned()),
//! ]);
//! ```

mod decoder;
mod encoder;

pub use decoder::{DEFAULT_MAX_EVENT, DEFAULT_MAX_LINE, Decoder, Mode, SseError, SseErrorKind};
pub use encoder::Encoder;

/// One server-sent event, borrowed from the decoder that produced it.
///
/// Only events with at least one `data:` line are dispatched. A `:HTTP_STATUS/<code>` comment (or
/// `status:` line) in a block without data carries over to the next event's `http_status`; the
/// block's `id`, `event` and `retry` are dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event<'a> {
    /// The 0-based index of the event within the stream.
    pub index: usize,
    /// The `id:` field, if the event had one.
    pub id: Option<&'a str>,
    /// The `event:` field, if the event had one.
    pub event: Option<&'a str>,
    /// The `data:` lines, joined with `\n`.
    pub data: &'a str,
    /// The status of a `:HTTP_STATUS/<code>` comment (DashScope native and Responses framing), or
    /// of a `status:<code>` field line.
    pub http_status: Option<u16>,
    /// The `retry:` field, if any.
    pub retry: Option<u64>,
}
