//! The pipelines the stream benches time: ours (SSE decoding plus the dialect's stream decoder,
//! optionally its accumulator) and the floor (line splitting plus JSON validation).
//!
//! Each takes the body and a piece size, and feeds the body in pieces of that size, as a network
//! read loop would.

use std::fmt;
use std::hint::black_box;

use dashscope_protocol::chat::{ChatAccumulator, ChatCompletion, ChatStreamDecoder};
use dashscope_protocol::native::{GenerationResponse, NativeAccumulator, NativeStreamDecoder};
use dashscope_protocol::responses::{Response, ResponsesAccumulator, ResponsesStreamDecoder};
use dashscope_protocol::sse::{Decoder, Mode, SseError};
use dashscope_protocol::stream::{Accumulate, StreamDecode, StreamDecodeError, StreamItem};
use serde::de::IgnoredAny;

use crate::streams::Dialect;

/// Why a pipeline stopped: the workloads are well-formed, so any of these is a bug.
#[derive(Debug)]
pub enum PipelineError {
    /// A line the SSE decoder rejected.
    Sse(SseError),
    /// A payload the dialect's decoder rejected.
    Decode(StreamDecodeError),
    /// An error frame in the stream.
    Api(String),
    /// A payload the floor could not validate.
    Json(String),
}

impl fmt::Display for PipelineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PipelineError::Sse(e) => write!(f, "{e}"),
            PipelineError::Decode(e) => write!(f, "{e}"),
            PipelineError::Api(e) => write!(f, "error frame: {e}"),
            PipelineError::Json(e) => write!(f, "invalid payload: {e}"),
        }
    }
}

impl std::error::Error for PipelineError {}

/// What a pipeline saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// SSE events with data.
    pub events: usize,
    /// Typed chunks handed to the caller.
    pub chunks: usize,
    /// Whether the dialect's end (compat `[DONE]`, the native final chunk, Responses
    /// `response.completed`) was seen.
    pub finished: bool,
}

/// Feeds `bytes` in `piece`-byte pieces through an SSE [`Decoder`] in `mode` and `decoder`,
/// handing every chunk to `on_chunk`.
///
/// # Errors
///
/// Returns the first SSE, decoding or in-stream API error.
pub fn decode<D: StreamDecode>(
    mode: Mode,
    mut decoder: D,
    bytes: &[u8],
    piece: usize,
    mut on_chunk: impl FnMut(D::Chunk),
) -> Result<Tally, PipelineError> {
    let mut sse = Decoder::with_mode(mode);
    let mut tally = Tally::default();
    let mut drain = |sse: &mut Decoder, tally: &mut Tally| -> Result<(), PipelineError> {
        while let Some(ev) = sse.next_event() {
            let ev = ev.map_err(PipelineError::Sse)?;
            tally.events += 1;
            match decoder.decode(&ev).map_err(PipelineError::Decode)? {
                StreamItem::Chunk(c) => {
                    tally.chunks += 1;
                    on_chunk(c);
                }
                StreamItem::Skip | StreamItem::End => {}
                StreamItem::Error(e) => return Err(PipelineError::Api(e.message)),
            }
        }
        tally.finished = decoder.is_finished();
        Ok(())
    };
    for p in bytes.chunks(piece.max(1)) {
        sse.feed(p);
        drain(&mut sse, &mut tally)?;
    }
    sse.finish();
    drain(&mut sse, &mut tally)?;
    Ok(tally)
}

/// Our pipeline into typed chunks, each chunk dropped after a [`black_box`].
///
/// # Errors
///
/// As [`decode`].
pub fn parse(dialect: Dialect, bytes: &[u8], piece: usize) -> Result<Tally, PipelineError> {
    let mode = dialect.sse_mode();
    match dialect {
        Dialect::Compat => decode(mode, ChatStreamDecoder::new(), bytes, piece, |c| {
            black_box(c);
        }),
        Dialect::Native => decode(mode, NativeStreamDecoder::new(), bytes, piece, |c| {
            black_box(c);
        }),
        Dialect::Responses => decode(mode, ResponsesStreamDecoder::new(), bytes, piece, |c| {
            black_box(c);
        }),
    }
}

fn accumulate<D, A>(
    mode: Mode,
    decoder: D,
    mut acc: A,
    bytes: &[u8],
    piece: usize,
) -> Result<(Tally, A::Output), PipelineError>
where
    D: StreamDecode,
    A: Accumulate<Chunk = D::Chunk>,
{
    let tally = decode(mode, decoder, bytes, piece, |c| acc.push(&c))?;
    Ok((tally, acc.finish()))
}

/// Our compat pipeline folded into the final [`ChatCompletion`].
///
/// # Errors
///
/// As [`decode`].
pub fn compat_accumulate(
    bytes: &[u8],
    piece: usize,
) -> Result<(Tally, ChatCompletion), PipelineError> {
    accumulate(
        Dialect::Compat.sse_mode(),
        ChatStreamDecoder::new(),
        ChatAccumulator::new(),
        bytes,
        piece,
    )
}

/// Our native pipeline (incremental output) folded into the final [`GenerationResponse`].
///
/// # Errors
///
/// As [`decode`].
pub fn native_accumulate(
    bytes: &[u8],
    piece: usize,
) -> Result<(Tally, GenerationResponse), PipelineError> {
    accumulate(
        Dialect::Native.sse_mode(),
        NativeStreamDecoder::new(),
        NativeAccumulator::incremental(),
        bytes,
        piece,
    )
}

/// Our Responses pipeline folded into the final [`Response`].
///
/// # Errors
///
/// As [`decode`].
pub fn responses_accumulate(
    bytes: &[u8],
    piece: usize,
) -> Result<(Tally, Response), PipelineError> {
    accumulate(
        Dialect::Responses.sse_mode(),
        ResponsesStreamDecoder::new(),
        ResponsesAccumulator::new(),
        bytes,
        piece,
    )
}

/// The floor: splits lines with `memchr` (carrying a partial line across pieces), and validates
/// each `data:` payload as UTF-8 and then as JSON into [`IgnoredAny`] (`[DONE]` is counted, not
/// parsed). Returns the number of `data:` lines. No SSE field handling, no typed values: any
/// real SSE-to-typed pipeline does at least this much work.
///
/// # Errors
///
/// Returns an error for a payload that is not UTF-8 or not JSON.
pub fn floor(bytes: &[u8], piece: usize) -> Result<usize, PipelineError> {
    fn line(l: &[u8]) -> Result<usize, PipelineError> {
        let Some(payload) = l.strip_prefix(b"data:") else {
            return Ok(0);
        };
        let payload = payload.strip_prefix(b" ").unwrap_or(payload);
        if payload == b"[DONE]" {
            return Ok(1);
        }
        let s = std::str::from_utf8(payload).map_err(|e| PipelineError::Json(e.to_string()))?;
        serde_json::from_str::<IgnoredAny>(s).map_err(|e| PipelineError::Json(e.to_string()))?;
        Ok(1)
    }
    let mut carry: Vec<u8> = Vec::new();
    let mut n = 0;
    for p in bytes.chunks(piece.max(1)) {
        let mut rest = p;
        if !carry.is_empty() {
            match memchr::memchr(b'\n', rest) {
                Some(i) => {
                    carry.extend_from_slice(&rest[..i]);
                    n += line(&carry)?;
                    carry.clear();
                    rest = &rest[i + 1..];
                }
                None => {
                    carry.extend_from_slice(rest);
                    continue;
                }
            }
        }
        while let Some(i) = memchr::memchr(b'\n', rest) {
            n += line(&rest[..i])?;
            rest = &rest[i + 1..];
        }
        carry.extend_from_slice(rest);
    }
    n += line(&carry)?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use dashscope_protocol::responses::OutputItem;

    use super::*;
    use crate::script::{Conversation, Scale};
    use crate::streams::StreamWorkload;

    fn small() -> Conversation {
        Conversation::generate(11, Scale::SMALL)
    }

    #[test]
    fn every_dialect_parses_every_event_at_every_piece_size() {
        let conv = small();
        for dialect in Dialect::ALL {
            let w = StreamWorkload::of(dialect, &conv);
            let whole = parse(dialect, &w.bytes, usize::MAX).unwrap();
            assert_eq!(whole.events, w.events, "{dialect:?}");
            assert!(whole.finished, "{dialect:?}");
            for piece in [1, 7, 64, 4096] {
                assert_eq!(
                    parse(dialect, &w.bytes, piece).unwrap(),
                    whole,
                    "{dialect:?}"
                );
                assert_eq!(floor(&w.bytes, piece).unwrap(), w.events, "{dialect:?}");
            }
        }
    }

    #[test]
    fn compat_accumulates_the_conversation() {
        let conv = small();
        let w = StreamWorkload::of(Dialect::Compat, &conv);
        let (tally, done) = compat_accumulate(&w.bytes, 64).unwrap();
        // Every event but [DONE] is a chunk.
        assert_eq!(tally.chunks, w.events - 1);
        assert_eq!(done.text(), Some(conv.answer_text().as_str()));
        assert_eq!(done.reasoning(), Some(conv.reasoning_text().as_str()));
        let calls = done.tool_calls();
        assert_eq!(calls.len(), conv.tool_calls.len());
        for (got, want) in calls.iter().zip(&conv.tool_calls) {
            assert_eq!(got.call_id(), Some(want.call_id.as_str()));
            assert_eq!(got.name(), Some(want.name.as_str()));
            assert_eq!(got.arguments(), Some(want.arguments().as_str()));
        }
        let usage = done.usage.unwrap();
        assert_eq!(usage.completion_tokens, conv.output_tokens());
    }

    #[test]
    fn native_accumulates_the_conversation() {
        let conv = small();
        let w = StreamWorkload::of(Dialect::Native, &conv);
        let (tally, done) = native_accumulate(&w.bytes, 64).unwrap();
        assert_eq!(tally.chunks, w.events);
        assert!(tally.finished);
        assert_eq!(done.text().as_deref(), Some(conv.answer_text().as_str()));
        assert_eq!(done.reasoning(), Some(conv.reasoning_text().as_str()));
        let calls = done.tool_calls();
        assert_eq!(calls.len(), conv.tool_calls.len());
        for (got, want) in calls.iter().zip(&conv.tool_calls) {
            assert_eq!(got.id.as_deref(), Some(want.call_id.as_str()));
            assert_eq!(got.name(), Some(want.name.as_str()));
            assert_eq!(got.arguments(), Some(want.arguments().as_str()));
        }
        let usage = done.usage.unwrap();
        assert_eq!(usage.output_tokens, Some(conv.output_tokens()));
    }

    #[test]
    fn responses_accumulates_the_conversation() {
        let conv = small();
        let w = StreamWorkload::of(Dialect::Responses, &conv);
        let (tally, done) = responses_accumulate(&w.bytes, 64).unwrap();
        assert_eq!(tally.chunks, w.events);
        assert!(tally.finished);
        assert_eq!(done.output_text(), conv.answer_text());
        assert_eq!(done.reasoning_text(), conv.reasoning_text());
        let calls: Vec<_> = done.function_calls().collect();
        assert_eq!(calls.len(), conv.tool_calls.len());
        for (got, want) in calls.iter().zip(&conv.tool_calls) {
            assert_eq!(got.call_id, want.call_id);
            assert_eq!(got.arguments, want.arguments());
        }
        assert!(matches!(
            done.output_items().first(),
            Some(OutputItem::Reasoning(_))
        ));
    }

    #[test]
    fn standard_workloads_have_ten_thousand_events() {
        let conv = Conversation::standard();
        for dialect in Dialect::ALL {
            let w = StreamWorkload::of(dialect, &conv);
            assert!(w.events >= 10_000, "{dialect:?}: {}", w.events);
            let text = String::from_utf8_lossy(&w.bytes);
            assert!(text.contains("杭州"), "{dialect:?}");
        }
        let native = StreamWorkload::of(Dialect::Native, &conv);
        let head = std::str::from_utf8(&native.bytes[..200]).unwrap();
        assert!(
            head.starts_with("id:1\nevent:result\n:HTTP_STATUS/200\ndata:{"),
            "{head}"
        );
        assert!(head.contains(r#""finish_reason":"null""#), "{head}");
    }

    #[test]
    fn the_floor_rejects_bad_json() {
        assert!(floor(b"data: {\"a\":1}\n\ndata: {\"a\":\n\n", 4096).is_err());
        assert_eq!(floor(b"data: {}\n\ndata: [DONE]\n\n", 3).unwrap(), 2);
    }
}
