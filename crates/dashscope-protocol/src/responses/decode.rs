//! SSE events → [`ResponseStreamEvent`]s ([protocol notes §3.4](crate::protocol_notes#34-streaming-events), [§3.5](crate::protocol_notes#35-errors)).

use serde_json::Value;

use super::events::ResponseStreamEvent;
use crate::error::ApiError;
use crate::sse::Event;
use crate::stream::{StreamDecode, StreamDecodeError, StreamItem, excerpt};

/// Turns the SSE events of a Responses stream into typed events.
///
/// Each event's `data` is one JSON payload whose `type` names the event (the SSE `event:` line
/// repeats it and is not needed). Then:
///
/// * `error` and `response.failed` become [`StreamItem::Error`] (normalised by
///   [`ApiError::from_json`], with the frame's `:HTTP_STATUS/<code>`); so does an untyped
///   payload that is an error report (`{"error":{…}}` or native `{"code","message"}`);
/// * `response.completed` and `response.incomplete` are yielded and end the stream
///   ([`is_finished`](StreamDecode::is_finished) turns true), as does `response.failed`;
/// * `data: [DONE]` (added by some gateways) is [`StreamItem::End`];
/// * empty data is [`StreamItem::Skip`];
/// * any other payload, known or not, is a [`StreamItem::Chunk`] (unknown types come out as
///   [`ResponseStreamEvent::Unknown`]).
///
/// ```
/// use dashscope_protocol::responses::{ResponseStreamEvent, ResponsesStreamDecoder};
/// use dashscope_protocol::sse::Decoder;
/// use dashscope_protocol::stream::{StreamDecode, StreamItem};
///
/// let mut sse = Decoder::new();
/// sse.feed(b"id:1\nevent:response.output_text.delta\n:HTTP_STATUS/200\n");
/// sse.feed(b"data:{\"type\":\"response.output_text.delta\",\"delta\":\"Hi\",\"sequence_number\":0}\n\n");
/// let mut dec = ResponsesStreamDecoder::new();
/// let ev = sse.next_event().unwrap().unwrap();
/// match dec.decode(&ev).unwrap() {
///     StreamItem::Chunk(ResponseStreamEvent::OutputTextDelta(d)) => assert_eq!(d.delta, "Hi"),
///     other => panic!("unexpected {other:?}"),
/// }
/// assert!(!dec.is_finished());
/// ```
#[derive(Clone, Debug, Default)]
pub struct ResponsesStreamDecoder {
    finished: bool,
}

impl ResponsesStreamDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }
}

impl StreamDecode for ResponsesStreamDecoder {
    type Chunk = ResponseStreamEvent;

    fn decode(
        &mut self,
        event: &Event<'_>,
    ) -> Result<StreamItem<ResponseStreamEvent>, StreamDecodeError> {
        let data = event.data.trim_ascii();
        if data.is_empty() {
            return Ok(StreamItem::Skip);
        }
        if data == "[DONE]" {
            self.finished = true;
            return Ok(StreamItem::End);
        }
        // The hot text events (deltas and their `.done`) take the fast path (proven equal to serde,
        // see `fast`); anything else, or anything it does not handle exactly, goes through serde.
        let parsed: ResponseStreamEvent = match super::fast::__decode_fast(data, event.event) {
            Some(parsed) => parsed,
            None => serde_json::from_str(data).map_err(|source| StreamDecodeError {
                index: event.index,
                source,
                excerpt: excerpt(data),
            })?,
        };
        match &parsed {
            ResponseStreamEvent::Error(_) | ResponseStreamEvent::Failed(_) => {
                if matches!(parsed, ResponseStreamEvent::Failed(_)) {
                    self.finished = true;
                }
                let value = serde_json::to_value(&parsed).unwrap_or(Value::Null);
                Ok(StreamItem::Error(error_of(event.http_status, value)))
            }
            ResponseStreamEvent::Completed(_) | ResponseStreamEvent::Incomplete(_) => {
                self.finished = true;
                Ok(StreamItem::Chunk(parsed))
            }
            ResponseStreamEvent::Unknown(v) if parsed.type_name().is_none() => {
                match ApiError::from_json(event.http_status, v) {
                    Some(e) => Ok(StreamItem::Error(e)),
                    None => Ok(StreamItem::Chunk(parsed)),
                }
            }
            _ => Ok(StreamItem::Chunk(parsed)),
        }
    }

    fn is_finished(&self) -> bool {
        self.finished
    }
}

/// The [`ApiError`] of an `error` / `response.failed` payload.
fn error_of(status: Option<u16>, value: Value) -> ApiError {
    ApiError::from_json(status, &value)
        .unwrap_or_else(|| ApiError::new(status, None, "the stream reported an error", None, value))
}
