//! The sans-IO server-sent-events codec.
//!
//! [`Decoder`] takes bytes as they arrive (`feed`), hands out complete events (`next_event`) and
//! flushes the last one at the end of the body (`finish`). [`Encoder`] writes each dialect's
//! exact framing for the mock server.

/// One server-sent event, borrowed from the decoder that produced it.
///
/// Only events with at least one `data:` line are dispatched; comment-only blocks are folded
/// into the next event's `http_status` / `comment`.
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
