//! Memory (issue 6, item 5): RSS while a 1,000,000-event compat stream is consumed.
//!
//! ```sh
//! cargo run --release -p dashscope-benches --example memory            # 1,000,000 events
//! cargo run --release -p dashscope-benches --example memory -- 200000  # another count
//! ```
//!
//! The stream is one 10,000-event turn without tool calls (thinking, then a Chinese and
//! English answer) whose delta events are repeated, then the finish chunk, the usage chunk and
//! `[DONE]`; it is never held whole in memory (the server sends the repeated 3 MB block as
//! body frames). Four consumers, one after the other, each sampled for `VmRSS` every 10 ms:
//!
//! 1. **pipeline**: the protocol crate's `sse::Decoder` and `ChatStreamDecoder` fed the bytes
//!    in 4 KiB pieces, every chunk dropped (nothing accumulates: RSS must stay flat);
//! 2. **dashscope without_snapshot**: `client.chat().create_stream(..).without_snapshot()` over
//!    loopback from a bare axum server, drained with `next_chunk()` (the client folds nothing:
//!    RSS must stay flat);
//! 3. **dashscope client**: the same without the opt-out (the client folds every chunk into its
//!    accumulator, so RSS grows with the text received);
//! 4. **async-openai client**: the same stream, drained with `StreamExt::next`.
//!
//! The opt-out row runs before the accumulating one: memory the accumulator frees stays in the
//! allocator's heap, and a row run after it would grow into that slack unseen.
//!
//! Exits non-zero when the pipeline's or the opt-out client's RSS grows by more than 8 MiB over
//! the run (see [`FLAT_KIB`]).

use std::process::ExitCode;

use bytes::Bytes;
use dashscope_benches::script::{Conversation, Scale};
use dashscope_benches::serve::{Answers, BareServer, Delivery};
use dashscope_benches::streams::{Dialect, StreamWorkload};
use dashscope_protocol::chat::ChatStreamDecoder;
use dashscope_protocol::sse::Decoder;
use dashscope_protocol::stream::{StreamDecode, StreamItem};

#[path = "../benches/common/clients.rs"]
mod clients;
#[path = "../benches/common/rss.rs"]
mod rss;

use clients::{Clients, Reader};
use rss::RssSampler;

const MIB: f64 = 1024.0;

/// Growth allowed to a consumer that keeps nothing (the pipeline, and the client with
/// `without_snapshot()`) before the run counts as accumulating.
///
/// What such a consumer legitimately holds does not depend on the stream's length: the SSE
/// decoder's buffer and one chunk, plus for the client the first connection's reqwest/hyper
/// buffers and the runtime's per-thread state. Measured at 200,000, 1,000,000 and 3,000,000
/// events: the pipeline +0.6 to +1.0 MiB, the client with the opt-out +2.1 to +2.2 MiB, flat.
/// Anything that folds the text grows with it instead: the accumulating client grew +4.4,
/// +17.7 to +18.9 and +44.8 MiB at those counts. 8 MiB is about 4 times the opt-out's fixed
/// cost (room for allocator slack on a busy machine) and under half of what folding the
/// default 1,000,000 events takes; it tells the two apart from about 500,000 events up.
const FLAT_KIB: u64 = 8 * 1024;

struct Row {
    name: &'static str,
    chunks: usize,
    before: u64,
    peak: u64,
    after: u64,
    secs: f64,
}

fn report(r: &Row) {
    println!(
        "{:<22} {:>9} chunks  {:>6.2} s  RSS before {:>7.1} MiB  peak {:>7.1} MiB  growth {:>7.1} MiB  after {:>7.1} MiB",
        r.name,
        r.chunks,
        r.secs,
        r.before as f64 / MIB,
        r.peak as f64 / MIB,
        r.peak.saturating_sub(r.before) as f64 / MIB,
        r.after as f64 / MIB,
    );
}

fn measure(name: &'static str, f: impl FnOnce() -> usize) -> Row {
    let (before, _) = rss::rss_kib();
    let sampler = RssSampler::start();
    let start = std::time::Instant::now();
    let chunks = f();
    let secs = start.elapsed().as_secs_f64();
    let (peak, _) = sampler.finish();
    let (after, _) = rss::rss_kib();
    Row {
        name,
        chunks,
        before,
        peak: peak.max(after),
        after,
        secs,
    }
}

/// The protocol pipeline over the repeated body, nothing kept: chunks seen.
fn pipeline(answers: &Answers) -> usize {
    let mut sse = Decoder::new();
    let mut dec = ChatStreamDecoder::new();
    let mut chunks = 0;
    for frame in answers.pieces.iter() {
        for piece in frame.chunks(4096) {
            sse.feed(piece);
            while let Some(ev) = sse.next_event() {
                let ev = ev.expect("valid SSE");
                if let StreamItem::Chunk(c) = dec.decode(&ev).expect("valid chunk") {
                    std::hint::black_box(c);
                    chunks += 1;
                }
            }
        }
    }
    sse.finish();
    while let Some(ev) = sse.next_event() {
        let ev = ev.expect("valid SSE");
        if let StreamItem::Chunk(c) = dec.decode(&ev).expect("valid chunk") {
            std::hint::black_box(c);
            chunks += 1;
        }
    }
    chunks
}

/// One reader of the stream over loopback from a bare server sending the blocks as body frames
/// (1-worker runtimes on both sides), drained to the end.
fn client(name: &'static str, answers: &Answers, reader: Reader) -> Row {
    let server = BareServer::start(answers.clone(), Delivery::Frames, 1, 0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let clients = Clients::new(&server.uri());
    measure(name, || rt.block_on(clients.stream(reader)))
}

/// A compat stream of about `events` events, never held whole: one turn without tool calls
/// (about 10,000 events) whose delta events are repeated, as one piece per repetition, then
/// the finish chunk, the usage chunk and `[DONE]` as the last piece.
fn repeated_compat_stream(events: usize) -> Answers {
    let scale = Scale {
        reasoning: 3_000,
        answer: 7_000,
        tool_calls: 0,
        fragments_per_call: 0,
    };
    let w = StreamWorkload::of(Dialect::Compat, &Conversation::generate(0x5EED_1000, scale));
    // The last three events (finish, usage, [DONE]) form the tail.
    let ends: Vec<usize> = memchr::memmem::find_iter(&w.bytes, b"\n\n")
        .map(|i| i + 2)
        .collect();
    let cut = ends[ends.len() - 4];
    let middle = Bytes::copy_from_slice(&w.bytes[..cut]);
    let tail = Bytes::copy_from_slice(&w.bytes[cut..]);
    let per = w.events - 3;
    let repeat = events.div_ceil(per).max(1);
    let pieces: Vec<Bytes> = std::iter::repeat_n(middle, repeat)
        .chain(std::iter::once(tail))
        .collect();
    Answers {
        pieces: pieces.into(),
        chunks: per * repeat + 2,
        unary: Bytes::new(),
        unary_headers: Vec::new(),
    }
}

fn main() -> ExitCode {
    let events: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let answers = repeated_compat_stream(events);
    let events = answers.chunks + 1;
    println!(
        "stream: {events} events, {:.1} MiB (never held whole)",
        answers.stream_len() as f64 / MIB / MIB
    );

    let rows = [
        measure("pipeline (no acc.)", || pipeline(&answers)),
        client(
            "dashscope no snapshot",
            &answers,
            Reader::DashscopeNoSnapshot,
        ),
        client("dashscope client", &answers, Reader::Dashscope),
        client("async-openai client", &answers, Reader::AsyncOpenai),
    ];
    for r in &rows {
        report(r);
    }
    let mut ok = true;
    for r in &rows {
        if r.chunks != events - 1 {
            eprintln!("{}: {} chunks, expected {}", r.name, r.chunks, events - 1);
            ok = false;
        }
    }
    // The consumers that keep nothing: rows 0 (pipeline) and 1 (client with the opt-out).
    for r in &rows[..2] {
        let growth = r.peak.saturating_sub(r.before);
        if growth > FLAT_KIB {
            eprintln!(
                "{}: RSS grew by {:.1} MiB (bound {:.1} MiB)",
                r.name,
                growth as f64 / MIB,
                FLAT_KIB as f64 / MIB
            );
            ok = false;
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
