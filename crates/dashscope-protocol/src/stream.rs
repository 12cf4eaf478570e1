//! What every dialect's stream decoding and accumulation have in common.
//!
//! A dialect's [`StreamDecode`] implementation turns one [`sse::Event`](crate::sse::Event) into a
//! [`StreamItem`]: a typed chunk, a skip (keepalive or comment-only event), the end of the
//! stream, or an error frame sent by the service. Its [`Accumulate`] implementation folds the
//! chunks into the final response.

use crate::common::ToolCall;
use crate::error::ApiError;
use crate::sse::Event;
use crate::wire::Extra;

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

    /// The final response (the snapshot after the last chunk).
    fn finish(self) -> Self::Output
    where
        Self: Sized,
    {
        self.snapshot()
    }
}

/// The element of `list` that `is` picks, pushed from `make` when there is none.
pub(crate) fn find_or_push<T>(
    list: &mut Vec<T>,
    is: impl Fn(&T) -> bool,
    make: impl FnOnce() -> T,
) -> &mut T {
    let i = list.iter().position(is).unwrap_or_else(|| {
        list.push(make());
        list.len() - 1
    });
    &mut list[i]
}

/// The position `pos` of an item as a wire index.
pub(crate) fn index_of(pos: usize) -> u32 {
    u32::try_from(pos).unwrap_or(u32::MAX)
}

/// Merges the unknown members of a chunk into what the accumulator holds: a later value wins,
/// except that a `null` does not replace a value (a member every chunk sends as `null` is kept
/// once, as `null`). A member named like one of the target type's own (`known`) is left out: it
/// would be read back as that member.
pub(crate) fn merge_extra(into: &mut Extra, from: &Extra, known: &[&str]) {
    for (k, v) in from {
        if (!v.is_null() || !into.contains_key(k)) && !known.contains(&k.as_str()) {
            into.insert(k.clone(), v.clone());
        }
    }
}

/// Folds a tool-call fragment (the `pos`-th of its chunk) into `calls`, by its `index` (else
/// its position): the first non-empty id and name, the type, arguments appended, unknown
/// members merged.
pub(crate) fn merge_tool_call(calls: &mut Vec<ToolCall>, pos: usize, frag: &ToolCall) {
    let key = frag.index.unwrap_or(index_of(pos));
    let Some(call) = calls.iter_mut().find(|c| c.index == Some(key)) else {
        let mut call = frag.clone();
        call.index = Some(key);
        calls.push(call);
        return;
    };
    let first = |acc: &mut Option<String>, new: &Option<String>| {
        if acc.as_deref().is_none_or(str::is_empty) && new.as_deref().is_some_and(|s| !s.is_empty())
        {
            acc.clone_from(new);
        }
    };
    first(&mut call.id, &frag.id);
    if call.kind.is_none() {
        call.kind.clone_from(&frag.kind);
    }
    merge_extra(&mut call.extra, &frag.extra, &[]);
    let Some(f) = &frag.function else { return };
    let acc = call.function.get_or_insert_with(Default::default);
    first(&mut acc.name, &f.name);
    if let Some(args) = &f.arguments {
        acc.arguments.get_or_insert_with(String::new).push_str(args);
    }
    merge_extra(&mut acc.extra, &f.extra, &[]);
}

/// Merges `new` into `acc` for a cumulative stream and returns the part that is new.
///
/// `new` normally repeats all text so far: it replaces `acc` and the suffix beyond `acc` is new.
/// A shorter repetition (an empty filler) changes nothing. Anything else is taken as a delta
/// (a service that ignored `incremental_output: false`) and appended, so no text is lost and
/// none is duplicated.
pub(crate) fn merge_cumulative<'n>(acc: &mut String, new: &'n str) -> &'n str {
    if let Some(suffix) = new.strip_prefix(acc.as_str()) {
        acc.push_str(suffix);
        suffix
    } else if acc.starts_with(new) {
        ""
    } else {
        acc.push_str(new);
        new
    }
}
