//! `without_snapshot()`: a stream drained without the accumulator, through the real client
//! (async and blocking) against the mock server over TCP.
//!
//! Each test compares the opted-out stream with an ordinary one over the same recorded answer:
//! the chunks must be the same, in the same order; what the opt-out gives up (the partial
//! response of an `Error::Stream`) must be the dialect's empty response, while the rest of the
//! error (kind, service error, request id, chunk count) stays as it was.

mod support;

use dashscope_protocol::chat::{ChatRequest, Message};
use dashscope_protocol::native::GenerationRequest;
use dashscope_protocol::responses::ResponseRequest;
use dashscope_provider::{Error, PartialResponse, StreamErrorKind};
use serde_json::json;
use support::*;

/// The parts of an `Error::Stream`.
#[track_caller]
fn stream_error(e: &Error) -> (StreamErrorKind, &PartialResponse, u64) {
    match e {
        Error::Stream {
            kind,
            partial,
            details,
            ..
        } => (*kind, partial, details.chunks),
        other => panic!("not a stream error: {other:?}"),
    }
}

/// The partial response of an opted-out stream: nothing of what arrived.
#[track_caller]
fn assert_empty_partial(p: &PartialResponse) {
    assert_eq!(p.text(), "", "{p:?}");
    assert_eq!(p.reasoning(), "", "{p:?}");
    match p {
        PartialResponse::Chat(c) => {
            assert!(c.choices.is_empty(), "{c:?}");
            assert!(c.usage.is_none(), "{c:?}");
            assert!(c.id.is_none(), "{c:?}");
        }
        PartialResponse::Responses(r) => {
            assert!(r.output.as_ref().is_none_or(Vec::is_empty), "{r:?}");
            assert!(r.usage.is_none(), "{r:?}");
            assert!(r.id.is_empty(), "{r:?}");
        }
        PartialResponse::Native(n) => {
            assert!(n.text().is_none(), "{n:?}");
            assert!(n.usage.is_none(), "{n:?}");
            assert!(n.request_id.is_none(), "{n:?}");
        }
        other => panic!("a dialect this test does not know: {other:?}"),
    }
}

/// A chat answer broken by an error event after two chunks ("Once upon", " a time").
fn error_mid_stream_cassette() -> dashscope_protocol::cassette::Cassette {
    let rid = "0c9e5b2a-7d41-4f8e-9a63-2b1d8e4f6a71";
    let chunk = |content: &str| {
        format!(
            "data: {{\"choices\":[{{\"delta\":{{\"content\":\"{content}\"}},\"index\":0,\"finish_reason\":null}}],\"object\":\"chat.completion.chunk\",\"model\":\"qwen-plus\",\"id\":\"chatcmpl-{rid}\"}}\n\n"
        )
    };
    let events = vec![
        chunk("Once upon"),
        chunk(" a time"),
        format!(
            "data: {{\"error\":{{\"code\":\"data_inspection_failed\",\"param\":null,\"message\":\"Output data may contain inappropriate content.\",\"type\":\"data_inspection_failed\"}},\"id\":\"chatcmpl-{rid}\"}}\n\n"
        ),
    ];
    cassette(
        "chat/test-optout-error-mid-stream",
        "chat",
        "/compatible-mode/v1/chat/completions",
        json!({"model": "qwen-plus", "messages": [{"role": "user", "content": "Tell a story"}], "stream": true}),
        false,
        sse_response(rid, &events),
    )
}

const ERROR_RID: &str = "0c9e5b2a-7d41-4f8e-9a63-2b1d8e4f6a71";

fn story_request() -> ChatRequest {
    ChatRequest::new("qwen-plus", vec![Message::user("Tell a story")])
}

#[cfg(feature = "reqwest")]
mod async_client {
    use dashscope_provider::{Client, Config, WireDialect};

    use super::*;

    // `StreamExt` in scope: its `chunks(n)` must not shadow anything the streams have (they
    // count with `chunk_count()`), and the items come through `futures_core::Stream`.
    use futures_util::StreamExt;

    fn make_client(config: Config) -> Client {
        Client::new(config).expect("a client")
    }

    async fn bounded<F: Future>(f: F) -> F::Output {
        tokio::time::timeout(TEST_TIMEOUT, f)
            .await
            .expect("the test timed out")
    }

    /// Drains an ordinary stream: its chunks (all `Ok`) and its folded answer.
    async fn with_fold<D: WireDialect>(
        mut s: dashscope_provider::EventStream<D>,
    ) -> (Vec<D::Chunk>, D::Output) {
        let mut out = Vec::new();
        while let Some(c) = s.next_chunk().await {
            out.push(c.expect("an ordinary stream completes"));
        }
        assert!(s.is_finished());
        (out, s.accumulate().await.expect("a finished stream folds"))
    }

    /// Drains an opted-out stream through `futures_core::Stream`, checking what it reports.
    async fn without_fold<D: WireDialect>(s: dashscope_provider::EventStream<D>) -> Vec<D::Chunk> {
        let (status, rid) = (s.status(), s.request_id().map(str::to_owned));
        let mut s = s.without_snapshot();
        assert_eq!(s.status(), status);
        assert_eq!(s.request_id().map(str::to_owned), rid);
        assert!(!s.is_finished());
        let mut out = Vec::new();
        while let Some(c) = s.next().await {
            out.push(c.expect("an opted-out stream completes"));
        }
        assert!(s.is_finished());
        assert_eq!(s.chunk_count(), out.len() as u64);
        assert!(s.next().await.is_none(), "None after the end");
        out
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn chat_chunks_are_delivered_unchanged() {
        bounded(async {
            let server = server();
            let client = make_client(config(&server).build().unwrap());
            for name in [
                "chat/stream-include-usage-twin",
                "chat/thinking-stream-usage",
                "chat/tool-call-stream-usage",
            ] {
                let req: ChatRequest = request(name);
                let s = client.chat().create_stream(req.clone()).await.unwrap();
                let (folded, answer) = with_fold(s).await;
                let s = client.chat().create_stream(req).await.unwrap();
                let plain = without_fold(s).await;
                assert!(folded.len() >= 3, "{name}");
                assert_eq!(plain, folded, "{name}");
                // The chunks carry everything the fold had: the caller can rebuild the text.
                let text: String = plain.iter().filter_map(|c| c.content()).collect();
                assert_eq!(text, answer.text().unwrap_or_default(), "{name}");
            }
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn responses_and_native_chunks_are_delivered_unchanged() {
        bounded(async {
            let server = server();
            let client = make_client(config(&server).build().unwrap());
            for name in [
                "responses/reasoning-summary-stream",
                "responses/function-call-stream",
            ] {
                let req: ResponseRequest = request(name);
                let s = client.responses().create_stream(req.clone()).await.unwrap();
                let (folded, _) = with_fold(s).await;
                let s = client.responses().create_stream(req).await.unwrap();
                let plain = without_fold(s).await;
                assert!(folded.len() >= 5, "{name}");
                assert_eq!(plain, folded, "{name}");
            }
            // Incremental and cumulative native streams (the accumulator differs, the chunks
            // do not).
            for name in [
                "native/text-sse-twin",
                "native/cumulative-sse-twin",
                "native/vl-reasoning-sse-twin",
            ] {
                let req: GenerationRequest = request(name);
                let s = client.native().generate_stream(req.clone()).await.unwrap();
                let (folded, _) = with_fold(s).await;
                let s = client.native().generate_stream(req).await.unwrap();
                let plain = without_fold(s).await;
                assert!(folded.len() >= 3, "{name}");
                assert_eq!(plain, folded, "{name}");
            }
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn opting_out_mid_stream_loses_no_chunk() {
        bounded(async {
            let server = server();
            let client = make_client(config(&server).build().unwrap());
            let req: ChatRequest = request("chat/stream-include-usage-twin");
            let s = client.chat().create_stream(req.clone()).await.unwrap();
            let (all, _) = with_fold(s).await;

            let mut s = client.chat().create_stream(req).await.unwrap();
            let mut got = vec![
                s.next_chunk().await.unwrap().unwrap(),
                s.next_chunk().await.unwrap().unwrap(),
            ];
            let mut s = s.without_snapshot();
            assert_eq!(s.chunk_count(), 2);
            while let Some(c) = s.next_chunk().await {
                got.push(c.unwrap());
            }
            assert_eq!(got, all);
            assert_eq!(s.chunk_count(), all.len() as u64);
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cut_stream_reports_the_count_and_an_empty_partial() {
        bounded(async {
            let server = server();
            let client = make_client(
                config(&server)
                    .header("x-mock-fault", "cut-after=3")
                    .build()
                    .unwrap(),
            );
            let req: ChatRequest = request("chat/stream-include-usage-twin");

            // The ordinary stream: the partial holds the text delivered.
            let mut s = client.chat().create_stream(req.clone()).await.unwrap();
            let (mut folded_text, mut folded_n) = (String::new(), 0u64);
            let e = loop {
                match s.next_chunk().await {
                    Some(Ok(c)) => {
                        folded_text.push_str(c.content().unwrap_or_default());
                        folded_n += 1;
                    }
                    Some(Err(e)) => break e,
                    None => panic!("a cut stream must not end cleanly"),
                }
            };
            let (kind, partial, n) = stream_error(&e);
            assert_eq!(partial.text(), folded_text);
            assert!(!folded_text.is_empty());
            assert_eq!(n, folded_n);

            // Opted out: the same chunks and error, but nothing kept.
            let mut s = client
                .chat()
                .create_stream(req)
                .await
                .unwrap()
                .without_snapshot();
            let (mut text, mut count) = (String::new(), 0u64);
            let e2 = loop {
                match s.next_chunk().await {
                    Some(Ok(c)) => {
                        text.push_str(c.content().unwrap_or_default());
                        count += 1;
                    }
                    Some(Err(e)) => break e,
                    None => panic!("a cut stream must not end cleanly"),
                }
            };
            assert_eq!(text, folded_text, "the same chunks reached the caller");
            let (kind2, partial2, n2) = stream_error(&e2);
            assert_eq!(kind2, kind);
            assert!(
                matches!(
                    kind2,
                    StreamErrorKind::Transport | StreamErrorKind::UnexpectedEnd
                ),
                "{kind2:?}"
            );
            assert_eq!(n2, count, "the error counts the chunks delivered");
            assert_eq!(s.chunk_count(), count);
            assert_empty_partial(partial2);
            assert_error_has_no_key(&e2);
            assert!(s.next_chunk().await.is_none(), "over after the error");
            assert!(s.is_finished());
            assert_eq!(journal(&server).len(), 2, "neither stream was retried");
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_error_event_keeps_the_service_error_but_no_partial() {
        bounded(async {
            let server = server();
            server.add_cassette(error_mid_stream_cassette());
            let client = make_client(config(&server).build().unwrap());
            let mut s = client
                .chat()
                .create_stream(story_request())
                .await
                .unwrap()
                .without_snapshot();
            let mut text = String::new();
            let e = loop {
                match s.next().await {
                    Some(Ok(c)) => text.push_str(c.content().unwrap_or_default()),
                    Some(Err(e)) => break e,
                    None => panic!("the stream ended without its error"),
                }
            };
            assert_eq!(text, "Once upon a time");
            let (kind, partial, n) = stream_error(&e);
            assert_eq!(kind, StreamErrorKind::ErrorEvent);
            assert_eq!(n, 2);
            assert_empty_partial(partial);
            assert_eq!(e.code(), Some("data_inspection_failed"));
            assert_eq!(
                e.message(),
                Some("Output data may contain inappropriate content.")
            );
            assert_eq!(e.request_id(), Some(ERROR_RID));

            // Responses and native: the same, through their own error events and faults.
            let req: ResponseRequest = request("responses/failed-stream");
            let s = client.responses().create_stream(req).await.unwrap();
            let mut s = s.without_snapshot();
            let e = loop {
                match s.next_chunk().await {
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break e,
                    None => panic!("the stream ended without its error"),
                }
            };
            let (kind, partial, n) = stream_error(&e);
            assert_eq!(kind, StreamErrorKind::ErrorEvent);
            assert_eq!(e.code(), Some("internal_error"));
            assert!(n >= 1);
            assert_empty_partial(partial);

            let client = make_client(
                config(&server)
                    .header("x-mock-fault", "malformed-json=3;dialect=native")
                    .build()
                    .unwrap(),
            );
            let req: GenerationRequest = request("native/text-sse-twin");
            let mut s = client
                .native()
                .generate_stream(req)
                .await
                .unwrap()
                .without_snapshot();
            let mut delivered = 0u64;
            let e = loop {
                match s.next_chunk().await {
                    Some(Ok(_)) => delivered += 1,
                    Some(Err(e)) => break e,
                    None => panic!("a malformed event must break the stream"),
                }
            };
            let (kind, partial, n) = stream_error(&e);
            assert_eq!(kind, StreamErrorKind::Decode);
            assert_eq!((n, delivered), (2, 2));
            assert_empty_partial(partial);
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn debug_names_the_stream_and_hides_the_key() {
        bounded(async {
            let server = server();
            let client = make_client(config(&server).build().unwrap());
            let req: ChatRequest = request("chat/stream-include-usage-twin");
            let s = client.chat().create_stream(req).await.unwrap();
            let s = s.without_snapshot();
            let shown = format!("{s:?}");
            assert!(shown.starts_with("ChunkStream"), "{shown}");
            assert!(shown.contains("chunks: 1"), "{shown}");
            assert_no_key("ChunkStream Debug", &shown);
        })
        .await;
    }
}

#[cfg(feature = "blocking")]
mod blocking_client {
    use dashscope_protocol::chat::ChatChunk;
    use dashscope_provider::blocking::{Client, EventStream};
    use dashscope_provider::{Config, WireDialect};

    use super::*;

    fn make_client(config: Config) -> Client {
        Client::new(config).expect("a client")
    }

    fn with_fold<D: WireDialect>(mut s: EventStream<D>) -> Vec<D::Chunk> {
        let out: Vec<_> = s
            .by_ref()
            .map(|c| c.expect("an ordinary stream completes"))
            .collect();
        assert!(s.is_finished());
        out
    }

    fn without_fold<D: WireDialect>(s: EventStream<D>) -> Vec<D::Chunk> {
        let (status, rid) = (s.status(), s.request_id().map(str::to_owned));
        let mut s = s.without_snapshot();
        assert_eq!(s.status(), status);
        assert_eq!(s.request_id().map(str::to_owned), rid);
        let out: Vec<_> = s
            .by_ref()
            .map(|c| c.expect("an opted-out stream completes"))
            .collect();
        assert!(s.is_finished());
        assert_eq!(s.chunk_count(), out.len() as u64);
        assert!(s.next().is_none());
        out
    }

    /// The text of a stream that must break, and its error.
    fn drain(s: &mut dyn Iterator<Item = Result<ChatChunk, Error>>) -> (String, Error) {
        let mut text = String::new();
        loop {
            match s.next() {
                Some(Ok(c)) => text.push_str(c.content().unwrap_or_default()),
                Some(Err(e)) => return (text, e),
                None => panic!("a cut stream must not end cleanly"),
            }
        }
    }

    #[test]
    fn chunks_are_delivered_unchanged_in_all_three_dialects() {
        let server = server();
        let client = make_client(config(&server).build().unwrap());
        let req: ChatRequest = request("chat/thinking-stream-usage");
        let folded = with_fold(client.chat().create_stream(req.clone()).unwrap());
        let plain = without_fold(client.chat().create_stream(req).unwrap());
        assert!(folded.len() >= 3);
        assert_eq!(plain, folded);

        let req: ResponseRequest = request("responses/reasoning-summary-stream");
        let folded = with_fold(client.responses().create_stream(req.clone()).unwrap());
        let plain = without_fold(client.responses().create_stream(req).unwrap());
        assert!(folded.len() >= 5);
        assert_eq!(plain, folded);

        let req: GenerationRequest = request("native/cumulative-sse-twin");
        let folded = with_fold(client.native().generate_stream(req.clone()).unwrap());
        let plain = without_fold(client.native().generate_stream(req).unwrap());
        assert!(folded.len() >= 3);
        assert_eq!(plain, folded);
    }

    #[test]
    fn failures_report_the_count_and_an_empty_partial() {
        let server = server();
        server.add_cassette(error_mid_stream_cassette());

        // An error event after two chunks.
        let client = make_client(config(&server).build().unwrap());
        let mut s = client
            .chat()
            .create_stream(story_request())
            .unwrap()
            .without_snapshot();
        let mut text = String::new();
        let e = loop {
            match s.next() {
                Some(Ok(c)) => text.push_str(c.content().unwrap_or_default()),
                Some(Err(e)) => break e,
                None => panic!("the stream ended without its error"),
            }
        };
        assert_eq!(text, "Once upon a time");
        let (kind, partial, n) = stream_error(&e);
        assert_eq!(kind, StreamErrorKind::ErrorEvent);
        assert_eq!(n, 2);
        assert_empty_partial(partial);
        assert_eq!(e.code(), Some("data_inspection_failed"));
        assert_eq!(e.request_id(), Some(ERROR_RID));
        assert!(s.next().is_none());

        // A connection cut: the ordinary stream's partial holds the text, the opted-out one's
        // holds nothing, and both count the same chunks.
        let client = make_client(
            config(&server)
                .header("x-mock-fault", "cut-after=3")
                .build()
                .unwrap(),
        );
        let req: ChatRequest = request("chat/stream-include-usage-twin");
        let (folded_text, e) = drain(&mut client.chat().create_stream(req.clone()).unwrap());
        let (kind, partial, n) = stream_error(&e);
        assert_eq!(partial.text(), folded_text);
        assert!(!folded_text.is_empty());
        let mut s = client.chat().create_stream(req).unwrap().without_snapshot();
        let (text, e2) = drain(&mut s);
        assert_eq!(text, folded_text);
        let (kind2, partial2, n2) = stream_error(&e2);
        assert_eq!((kind2, n2), (kind, n));
        assert_eq!(s.chunk_count(), n2);
        assert_empty_partial(partial2);
        assert_error_has_no_key(&e2);
        assert!(s.is_finished());
    }
}
