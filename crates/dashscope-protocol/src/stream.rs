//! What every dialect's stream decoding and accumulation have in common.
//!
//! A dialect's [`StreamDecode`] implementation turns one [`sse::Event`](crate::sse::Event) into a
//! [`StreamItem`]: a typed chunk, a skip (keepalive or comment-only event), the end of the
//! stream, or an error frame sent by the service. Its [`Accumulate`] implementation folds the
//! chunks into the final response.

use crate::error::ApiError;
use crate::sse::Event;

/// What one SSE event means to a dialect.
#[derive(Clone, Debug, PartialEq)]
pub enum StreamItem<T> {
    /// A typed chunk (or event) for the caller.
    Chunk(T),
    /// Nothing for the caller: a keepalive, a comment-only event, an empty `data:`.
    Skip,
    /// The stream's explicit end (compat `data: [DONE]`). Dialects whose end is a chunk (native
    /// `finish_reason`, Responses `response.completed`) yield that chunk instead and report the
    /// end through [`StreamDecode::is_finished`].
    End,
    /// The service reported an error inside the stream.
    Error(ApiError),
}

/// A data line that could not be decoded into the dialect's chunk type.
#[derive(Debug, thiserror::Error)]
#[error("stream event #{index}: {source}")]
pub struct StreamDecodeError {
    /// The 0-based index of the offending SSE event within the stream.
    pub index: usize,
    /// The JSON error.
    #[source]
    pub source: serde_json::Error,
    /// A bounded copy (at most [`EXCERPT_LIMIT`] bytes) of the offending data.
    pub excerpt: String,
}

/// The most bytes of a bad payload kept in an error.
pub const EXCERPT_LIMIT: usize = 512;

/// Cuts `s` to at most [`EXCERPT_LIMIT`] bytes on a character boundary.
pub fn excerpt(s: &str) -> String {
    if s.len() <= EXCERPT_LIMIT {
        return s.to_owned();
    }
    let mut end = EXCERPT_LIMIT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = s[..end].to_owned();
    out.push('…');
    out
}

/// Turns SSE events into a dialect's typed items.
pub trait StreamDecode {
    /// The typed chunk or event.
    type Chunk;

    /// Interprets one SSE event.
    ///
    /// # Errors
    ///
    /// Returns [`StreamDecodeError`] when the event's data is not valid JSON of the expected
    /// shape. The decoder stays usable: the caller may skip the event and go on.
    fn decode(&mut self, event: &Event<'_>) -> Result<StreamItem<Self::Chunk>, StreamDecodeError>;

    /// Whether the dialect's terminal chunk or event has been seen.
    fn is_finished(&self) -> bool;
}

/// Folds a dialect's chunks into its final response.
pub trait Accumulate {
    /// The chunk type folded in.
    type Chunk;
    /// The response rebuilt from the chunks.
    type Output;

    /// Folds one chunk in.
    fn push(&mut self, chunk: &Self::Chunk);

    /// The response as far as the chunks so far describe it (for a stream that broke).
    fn snapshot(&self) -> Self::Output;

    /// The final response.
    fn finish(self) -> Self::Output;
}
