//! Streaming parse: a ~10,000-event stream per dialect, fed in 4 KiB and in 64-byte pieces.
//!
//! Per dialect group (`stream_parse/<dialect>`):
//!
//! * `dashscope/<piece>`: our SSE decoder plus the dialect's stream decoder into typed chunks;
//! * `dashscope+acc/<piece>`: the same, folding every chunk into the final response (the plain
//!   dialect stream path);
//! * `dashscope+acc+unified/<piece>`: the same, then every chunk read into unified events by the
//!   dialect's reader and each event handed on (the conversation stream path,
//!   `client.conversation(dialect).stream(…)`); its ratio to `dashscope+acc` is what the unified
//!   layer costs (issue #14: at most 1.3x);
//! * `floor/<piece>`: line splitting with memchr plus `serde_json` validation into `IgnoredAny`;
//! * compat only, `async-openai/<piece>`: async-openai 0.43's own pipeline on the same bytes
//!   (`eventsource-stream`'s `EventStream`, then `serde_json::from_str` into
//!   `CreateChatCompletionStreamResponse`, skipping `[DONE]` and `keepalive` as its client
//!   does), driven by `futures_executor::block_on` over `futures_util::stream::iter` so neither
//!   side runs under an async runtime.
//!
//! Throughput is in bytes; events/s is events / time (`cargo run -p dashscope-benches --bin
//! bench-report` prints both).

use std::hint::black_box;

use async_openai::types::chat::CreateChatCompletionStreamResponse;
use criterion::measurement::Measurement;
use criterion::{BenchmarkId, Criterion, Throughput};
use dashscope_benches::PIECES;
use dashscope_benches::pipeline::{self, Tally};
use dashscope_benches::streams::{Dialect, StreamWorkload};
use dashscope_protocol::chat::{ChatAccumulator, ChatStreamDecoder};
use dashscope_protocol::native::{NativeAccumulator, NativeStreamDecoder};
use dashscope_protocol::responses::{ResponsesAccumulator, ResponsesStreamDecoder};
use dashscope_protocol::stream::Accumulate;
use dashscope_protocol::unified::{
    ChatEventReader, NativeEventReader, ResponsesEventReader, UnifiedEvent,
};
use futures_util::StreamExt as _;

#[path = "common/clock.rs"]
mod clock;

/// async-openai's stream pipeline (`client::stream_mapped_raw_events` with the `stream` mapper)
/// minus the tokio task and channel, which would only add to its time.
fn async_openai_pipeline(bytes: &[u8], piece: usize) -> usize {
    let pieces = futures_util::stream::iter(bytes.chunks(piece).map(Ok::<&[u8], std::io::Error>));
    let mut events = eventsource_stream::EventStream::new(pieces);
    futures_executor::block_on(async {
        let mut chunks = 0;
        while let Some(event) = events.next().await {
            let event = event.expect("the workload is valid SSE");
            if event.data == "[DONE]" {
                break;
            }
            if event.event == "keepalive" {
                continue;
            }
            let chunk: CreateChatCompletionStreamResponse =
                serde_json::from_str(&event.data).expect("async-openai parses every chunk");
            black_box(chunk);
            chunks += 1;
        }
        chunks
    })
}

fn ours(dialect: Dialect, bytes: &[u8], piece: usize) -> Tally {
    pipeline::parse(dialect, bytes, piece).expect("the workload parses")
}

fn ours_accumulated(dialect: Dialect, bytes: &[u8], piece: usize) -> usize {
    let result = match dialect {
        Dialect::Compat => pipeline::compat_accumulate(bytes, piece).map(|(t, r)| {
            black_box(r);
            t.chunks
        }),
        Dialect::Native => pipeline::native_accumulate(bytes, piece).map(|(t, r)| {
            black_box(r);
            t.chunks
        }),
        Dialect::Responses => pipeline::responses_accumulate(bytes, piece).map(|(t, r)| {
            black_box(r);
            t.chunks
        }),
    };
    result.expect("the workload parses")
}

/// The conversation stream path: each chunk folded by the dialect's accumulator, then moved into
/// the dialect's unified reader, whose events are handed on one by one. Returns the event count.
fn ours_unified(dialect: Dialect, bytes: &[u8], piece: usize) -> usize {
    let mut events: Vec<UnifiedEvent> = Vec::new();
    let mut count = 0;
    let mut hand_on = |events: &mut Vec<UnifiedEvent>| {
        count += events.len();
        events.drain(..).for_each(|e| {
            black_box(e);
        });
    };
    let mode = dialect.sse_mode();
    let tally = match dialect {
        Dialect::Compat => {
            let (mut acc, mut reader) = (ChatAccumulator::new(), ChatEventReader::new());
            let t = pipeline::decode(mode, ChatStreamDecoder::new(), bytes, piece, |c| {
                acc.push(&c);
                reader.read(c, &mut events);
                hand_on(&mut events);
            });
            black_box(acc.finish());
            t
        }
        Dialect::Native => {
            let mut acc = NativeAccumulator::incremental();
            let mut reader = NativeEventReader::new(true);
            let t = pipeline::decode(mode, NativeStreamDecoder::new(), bytes, piece, |c| {
                acc.push(&c);
                reader.read(c, &mut events);
                hand_on(&mut events);
            });
            black_box(acc.finish());
            t
        }
        Dialect::Responses => {
            let (mut acc, mut reader) = (ResponsesAccumulator::new(), ResponsesEventReader::new());
            let t = pipeline::decode(mode, ResponsesStreamDecoder::new(), bytes, piece, |c| {
                acc.push(&c);
                reader.read(c, &mut events);
                hand_on(&mut events);
            });
            black_box(acc.finish());
            t
        }
    };
    tally.expect("the workload parses");
    count
}

fn stream_parse<M: Measurement>(c: &mut Criterion<M>) {
    for dialect in Dialect::ALL {
        let w = StreamWorkload::standard(dialect);
        let bytes = w.bytes.as_slice();
        // The pipelines must agree on the workload before they are timed.
        let tally = ours(dialect, bytes, 4096);
        assert_eq!(tally.events, w.events, "{dialect:?}");
        assert!(tally.finished, "{dialect:?}");
        assert_eq!(pipeline::floor(bytes, 64).expect("valid"), w.events);
        if dialect == Dialect::Compat {
            assert_eq!(async_openai_pipeline(bytes, 64), tally.chunks);
        }
        let unified = ours_unified(dialect, bytes, 4096);
        assert!(
            unified >= tally.chunks / 2,
            "{dialect:?}: {unified} unified events"
        );
        eprintln!(
            "workload {}: {} bytes, {} events, {} typed chunks",
            dialect.name(),
            bytes.len(),
            w.events,
            tally.chunks
        );

        let mut group = c.benchmark_group(format!("stream_parse/{}", dialect.name()));
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        for (piece, label) in PIECES {
            group.bench_with_input(BenchmarkId::new("dashscope", label), &piece, |b, &p| {
                b.iter(|| ours(dialect, black_box(bytes), p));
            });
            group.bench_with_input(BenchmarkId::new("dashscope+acc", label), &piece, |b, &p| {
                b.iter(|| ours_accumulated(dialect, black_box(bytes), p));
            });
            group.bench_with_input(
                BenchmarkId::new("dashscope+acc+unified", label),
                &piece,
                |b, &p| b.iter(|| ours_unified(dialect, black_box(bytes), p)),
            );
            if dialect == Dialect::Compat {
                group.bench_with_input(BenchmarkId::new("async-openai", label), &piece, |b, &p| {
                    b.iter(|| async_openai_pipeline(black_box(bytes), p));
                });
            }
            group.bench_with_input(BenchmarkId::new("floor", label), &piece, |b, &p| {
                b.iter(|| pipeline::floor(black_box(bytes), p).expect("valid"));
            });
        }
        group.finish();
    }
}

clock::bench_main!(20, 1, 3; stream_parse);
