//! The stream state machine: bytes in, typed chunks (or one error) out.

use dashscope_protocol::sse::Decoder;
use dashscope_protocol::stream::{Accumulate, StreamDecode, StreamItem};
use dashscope_transport::TransportError;
use dashscope_transport::secrets::{Secrets, StreamScrubber};
use http::HeaderMap;

use super::classify::header_request_id;
use crate::dialect::{PartialResponse, WireDialect};
use crate::error::{BoxError, Error, StreamDetails, StreamErrorKind};

/// What the stream has for the caller now.
#[derive(Debug)]
pub(crate) enum Step<C> {
    /// A chunk (already folded into the accumulator, unless folding was stopped).
    Chunk(C),
    /// The stream broke; it is over.
    Failed(Error),
    /// Feed more bytes (or signal the end of the body).
    NeedBytes,
    /// The stream ended normally.
    Finished,
}

/// SSE decoder + the dialect's event decoder + its accumulator.
///
/// Feed body chunks with [`feed`](Self::feed), pull with [`step`](Self::step) until it asks for
/// bytes; at the end of the body call [`end_of_body`](Self::end_of_body) and pull again. A
/// transport error goes through [`body_error`](Self::body_error). After `Failed` or `Finished`
/// every `step` returns `Finished`.
///
/// [`stop_folding`](Self::stop_folding) turns the accumulator off for good: chunks still come
/// out, nothing is kept, and a failure's partial response is the empty one.
#[derive(Debug)]
pub(crate) struct StreamCore<D: WireDialect> {
    sse: Decoder,
    decoder: D::Decoder,
    acc: D::Accumulator,
    /// Whether chunks are folded into `acc`.
    fold: bool,
    /// A copy of the accumulator as it came (nothing folded), for `stop_folding`; `None` once
    /// folding stopped.
    fresh: Option<D::Accumulator>,
    http_status: u16,
    request_id: Option<String>,
    chunks: u64,
    eof: bool,
    over: bool,
    /// The key comes out of the bytes before the SSE decoder sees them.
    scrub: StreamScrubber,
}

impl<D: WireDialect> StreamCore<D> {
    /// A stream over a response with `status` and (scrubbed) `headers`, folding into `acc` (a
    /// fresh accumulator); `scrub` takes the key out of the bytes it is fed.
    pub(crate) fn new(
        status: u16,
        headers: &HeaderMap,
        acc: D::Accumulator,
        scrub: Secrets,
    ) -> Self {
        StreamCore {
            sse: Decoder::with_mode(D::DIALECT.sse_mode()),
            decoder: D::decoder(),
            fresh: Some(acc.clone()),
            acc,
            fold: true,
            http_status: status,
            request_id: header_request_id(headers).map(str::to_owned),
            chunks: 0,
            eof: false,
            over: false,
            scrub: StreamScrubber::new(scrub),
        }
    }

    /// Appends body bytes.
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        if !self.over {
            self.sse.feed(self.scrub.push(bytes));
        }
    }

    /// The body ended.
    pub(crate) fn end_of_body(&mut self) {
        if !self.eof {
            self.eof = true;
            self.sse.feed(&self.scrub.finish());
            self.sse.finish();
        }
    }

    /// Whether the stream is over (finished or failed): the body can be dropped.
    pub(crate) fn is_over(&self) -> bool {
        self.over
    }

    /// How many chunks came out so far.
    pub(crate) fn chunks(&self) -> u64 {
        self.chunks
    }

    /// The `x-request-id` header.
    pub(crate) fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// Stops folding chunks, and drops what was folded so far (the accumulator goes back to
    /// its fresh state): from now on the core keeps nothing that grows with the stream, and a
    /// failure carries the dialect's empty response as its partial. Idempotent.
    pub(crate) fn stop_folding(&mut self) {
        self.fold = false;
        if let Some(fresh) = self.fresh.take() {
            self.acc = fresh;
        }
    }

    /// The response as far as it arrived.
    pub(crate) fn snapshot(&self) -> D::Output {
        self.acc.snapshot()
    }

    /// The final response.
    pub(crate) fn finish(self) -> D::Output {
        self.acc.finish()
    }

    /// The next thing for the caller.
    pub(crate) fn step(&mut self) -> Step<D::Chunk> {
        if self.over {
            return Step::Finished;
        }
        loop {
            if self.decoder.is_finished() {
                self.over = true;
                return Step::Finished;
            }
            let item = match self.sse.next_event() {
                None if self.eof => {
                    return Step::Failed(self.fail(StreamErrorKind::UnexpectedEnd, None, None));
                }
                None => return Step::NeedBytes,
                Some(Err(e)) => {
                    return Step::Failed(self.fail(
                        StreamErrorKind::Framing,
                        Some(Box::new(e)),
                        None,
                    ));
                }
                Some(Ok(event)) => self.decoder.decode(&event),
            };
            match item {
                Err(e) => {
                    return Step::Failed(self.fail(
                        StreamErrorKind::Decode,
                        Some(Box::new(e)),
                        None,
                    ));
                }
                Ok(StreamItem::Skip) => {}
                Ok(StreamItem::End) => {
                    self.over = true;
                    return Step::Finished;
                }
                Ok(StreamItem::Error(api)) => {
                    self.over = true;
                    if self.chunks == 0 {
                        // Nothing reached the caller: the service refused the request, whichever
                        // way it framed the refusal. Report it as the API error it is.
                        return Step::Failed(Error::from_api(
                            api,
                            self.http_status,
                            self.request_id.as_deref(),
                            None,
                        ));
                    }
                    return Step::Failed(self.fail(StreamErrorKind::ErrorEvent, None, Some(api)));
                }
                Ok(StreamItem::Chunk(chunk)) => {
                    if self.fold {
                        self.acc.push(&chunk);
                    }
                    self.chunks += 1;
                    return Step::Chunk(chunk);
                }
            }
        }
    }

    /// The error for a body that failed mid-stream; the stream is over.
    pub(crate) fn body_error(&mut self, e: TransportError) -> Error {
        let kind = if e.is_timeout() {
            StreamErrorKind::IdleTimeout
        } else {
            StreamErrorKind::Transport
        };
        self.fail(kind, Some(Box::new(e)), None)
    }

    fn fail(
        &mut self,
        kind: StreamErrorKind,
        source: Option<BoxError>,
        api: Option<dashscope_protocol::error::ApiError>,
    ) -> Error {
        self.over = true;
        let partial: PartialResponse = D::partial(self.acc.snapshot());
        tracing::debug!(kind = ?kind, chunks = self.chunks, "stream broke");
        Error::Stream {
            kind,
            partial: Box::new(partial),
            details: Box::new(StreamDetails {
                http_status: self.http_status,
                request_id: self.request_id.clone(),
                api,
                chunks: self.chunks,
            }),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use dashscope_protocol::chat::ChatAccumulator;
    use dashscope_protocol::native::NativeAccumulator;
    use dashscope_transport::Phase;

    use super::*;
    use crate::dialect::{ChatDialect, NativeDialect};

    fn chat() -> StreamCore<ChatDialect> {
        StreamCore::new(
            200,
            &HeaderMap::new(),
            ChatAccumulator::new(),
            Secrets::new(["k"]),
        )
    }

    fn drain<D: WireDialect>(core: &mut StreamCore<D>) -> (Vec<D::Chunk>, Option<Error>) {
        let mut out = Vec::new();
        loop {
            match core.step() {
                Step::Chunk(c) => out.push(c),
                Step::Failed(e) => return (out, Some(e)),
                Step::NeedBytes | Step::Finished => return (out, None),
            }
        }
    }

    const HEL: &str = "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n";
    const LO: &str = "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n";

    #[test]
    fn chunks_split_anywhere() {
        let all = format!("{HEL}{LO}data: [DONE]\n\n");
        for cut in 0..all.len() {
            let mut core = chat();
            core.feed(&all.as_bytes()[..cut]);
            let (mut a, e) = drain(&mut core);
            assert!(e.is_none());
            core.feed(&all.as_bytes()[cut..]);
            let (b, e) = drain(&mut core);
            assert!(e.is_none());
            a.extend(b);
            assert_eq!(a.len(), 2, "cut {cut}");
            assert!(core.is_over());
            assert_eq!(core.finish().text(), Some("Hello"));
        }
    }

    #[test]
    fn early_end_keeps_partial() {
        let mut core = chat();
        core.feed(HEL.as_bytes());
        let (chunks, e) = drain(&mut core);
        assert_eq!(chunks.len(), 1);
        assert!(e.is_none());
        core.end_of_body();
        let (_, e) = drain(&mut core);
        let e = e.unwrap();
        assert!(matches!(
            &e,
            Error::Stream {
                kind: StreamErrorKind::UnexpectedEnd,
                ..
            }
        ));
        assert_eq!(e.partial().unwrap().text(), "Hel");
        assert!(matches!(core.step(), Step::Finished));
    }

    #[test]
    fn cut_connection_is_a_stream_error_with_partial() {
        let mut core = chat();
        core.feed(HEL.as_bytes());
        drain(&mut core);
        let e = core.body_error(TransportError::timeout(Phase::Body));
        assert!(e.is_timeout());
        assert_eq!(e.partial().unwrap().text(), "Hel");
        assert!(core.is_over());
    }

    #[test]
    fn error_frame_first_is_api_later_is_stream() {
        let frame = "data: {\"error\":{\"code\":\"data_inspection_failed\",\"message\":\"bad\"},\"id\":\"chatcmpl-r9\"}\n\n";
        let mut core = chat();
        core.feed(frame.as_bytes());
        let (_, e) = drain(&mut core);
        let e = e.unwrap();
        assert!(matches!(e, Error::Api { .. }), "{e:?}");
        assert_eq!(e.code(), Some("data_inspection_failed"));
        assert_eq!(e.request_id(), Some("r9"));

        let mut core = chat();
        core.feed(format!("{HEL}{frame}").as_bytes());
        let (chunks, e) = drain(&mut core);
        assert_eq!(chunks.len(), 1);
        let e = e.unwrap();
        assert!(
            matches!(
                &e,
                Error::Stream {
                    kind: StreamErrorKind::ErrorEvent,
                    ..
                }
            ),
            "{e:?}"
        );
        assert_eq!(e.code(), Some("data_inspection_failed"));
        assert_eq!(e.message(), Some("bad"));
        assert_eq!(e.partial().unwrap().text(), "Hel");
    }

    #[test]
    fn native_error_event_mid_stream() {
        let body = "id:1\nevent:result\n:HTTP_STATUS/200\ndata:{\"output\":{\"choices\":[{\"message\":{\"content\":\"我\",\"role\":\"assistant\"},\"finish_reason\":\"null\"}]},\"request_id\":\"n1\"}\nid:2\nevent:error\n:HTTP_STATUS/500\ndata:{\"code\":\"InternalError\",\"message\":\"oops\",\"request_id\":\"n1\"}\n";
        let mut core: StreamCore<NativeDialect> = StreamCore::new(
            200,
            &HeaderMap::new(),
            NativeAccumulator::incremental(),
            Secrets::new(["k"]),
        );
        core.feed(body.as_bytes());
        let (chunks, e) = drain(&mut core);
        assert_eq!(chunks.len(), 1);
        let e = e.unwrap();
        assert_eq!(e.status(), Some(500));
        assert_eq!(e.code(), Some("InternalError"));
        assert_eq!(e.request_id(), Some("n1"));
        assert!(e.is_retryable());
        assert_eq!(e.partial().unwrap().text(), "我");
    }

    #[test]
    fn an_echoed_key_is_scrubbed_from_a_bad_events_excerpt() {
        let mut core: StreamCore<ChatDialect> = StreamCore::new(
            200,
            &HeaderMap::new(),
            ChatAccumulator::new(),
            Secrets::new(["sk-secret-42"]),
        );
        core.feed(b"data: {\"error\":{\"message\":\"bad key sk-secret-42\"\n\n");
        let (_, e) = drain(&mut core);
        let e = e.unwrap();
        let mut shown = format!("{e} {e:?}");
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            shown.push_str(&format!(" {s} {s:?}"));
            source = s.source();
        }
        assert!(!shown.contains("sk-secret-42"), "{shown}");
        assert!(shown.contains("[REDACTED]"), "{shown}");
    }

    #[test]
    fn an_echoed_key_is_scrubbed_from_the_partial_answer_however_it_is_cut() {
        let body = "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"your key: sk-secret-42\"}}]}\n\n";
        for cut in 0..=body.len() {
            let mut core: StreamCore<ChatDialect> = StreamCore::new(
                200,
                &HeaderMap::new(),
                ChatAccumulator::new(),
                Secrets::new(["sk-secret-42"]),
            );
            core.feed(&body.as_bytes()[..cut]);
            let (mut chunks, e) = drain(&mut core);
            assert!(e.is_none());
            core.feed(&body.as_bytes()[cut..]);
            core.end_of_body();
            let (more, e) = drain(&mut core);
            chunks.extend(more);
            assert_eq!(chunks.len(), 1, "cut {cut}");
            assert_eq!(chunks[0].content(), Some("your key: [REDACTED]"));
            let e = e.expect("the stream ended early");
            assert_eq!(
                e.partial().map(|p| p.text()).as_deref(),
                Some("your key: [REDACTED]")
            );
            assert!(
                !format!("{e:?} {e:#?}").contains("sk-secret-42"),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn stopped_folding_passes_chunks_and_keeps_nothing() {
        let all = format!("{HEL}{LO}data: [DONE]\n\n");
        for cut in 0..all.len() {
            let mut core = chat();
            core.feed(&all.as_bytes()[..cut]);
            let (mut a, e) = drain(&mut core);
            assert!(e.is_none());
            // Stopped mid-way: what was folded before is dropped too.
            core.stop_folding();
            core.stop_folding();
            core.feed(&all.as_bytes()[cut..]);
            let (b, e) = drain(&mut core);
            assert!(e.is_none());
            a.extend(b);
            let text: String = a.iter().filter_map(|c| c.content()).collect();
            assert_eq!(text, "Hello", "cut {cut}");
            assert_eq!(core.chunks(), 2);
            assert!(core.is_over());
            assert_eq!(core.snapshot().text(), None, "cut {cut}");
            assert_eq!(core.finish().text(), None, "cut {cut}");
        }
    }

    #[test]
    fn stopped_folding_fails_with_an_empty_partial_and_the_count() {
        let mut core = chat();
        core.feed(HEL.as_bytes());
        assert_eq!(drain(&mut core).0.len(), 1);
        core.stop_folding();
        core.feed(LO.replace("\"stop\"", "null").as_bytes());
        assert_eq!(drain(&mut core).0.len(), 1);
        core.end_of_body();
        let (_, e) = drain(&mut core);
        let e = e.unwrap();
        let Error::Stream {
            kind,
            partial,
            details,
            ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(*kind, StreamErrorKind::UnexpectedEnd);
        assert_eq!(partial.text(), "");
        assert_eq!(partial.as_chat().map(|c| c.choices.len()), Some(0));
        assert_eq!(details.chunks, 2);
    }

    #[test]
    fn bad_json_is_decode_kind() {
        let mut core = chat();
        core.feed(HEL.as_bytes());
        core.feed(b"data: {nope\n\n");
        let (_, e) = drain(&mut core);
        assert!(matches!(
            e,
            Some(Error::Stream {
                kind: StreamErrorKind::Decode,
                ..
            })
        ));
    }
}
