//! End to end over loopback (issues 6 and 13): our client and async-openai's, reading what a
//! server on `127.0.0.1` sends, the way applications read it.
//!
//! Streams (`loopback/stream-<length>/<server>`, one row per reader and consumer):
//!
//! * **length**: `stream-100k`, a compat stream of 100,000 chunks (31 MB, the standard turn's
//!   proportions, explicit nulls included), and `stream-200`, one of 200 chunks (63 KB, a
//!   typical answer). In test mode (`cargo test --benches`) the long stream has 2,000 chunks,
//!   so CI stays quick; its rows keep their names.
//! * **server**: `whole`, the bare server sending the stream as one body (the client gets
//!   large reads); `per-event`, the bare server sending one HTTP chunk per SSE event, each
//!   flushed to the socket before the next (as a server sends events while the model makes
//!   them, here at full speed); `mock`, `dashscope-mock` at speed 0 replaying the 200-chunk
//!   stream from a cassette added at run time, as it sends it (one body frame per recorded
//!   chunk). The bare server is axum with one handler returning pre-rendered bytes, on its own
//!   thread and a 1-worker runtime; the mock runs as `MockServer` starts it (its own thread, a
//!   2-worker runtime).
//! * **reader** (function): `dashscope`, `client.chat().create_stream(req)` then `next_chunk()`
//!   to the end, every chunk folded into the stream's snapshot; `dashscope-nosnap`, the same
//!   after `without_snapshot()`; `async-openai`, `client.chat().create_stream(req)` then
//!   `StreamExt::next` to the end. Every iteration checks the chunk count.
//! * **consumer** (parameter): `block_on`, the reading future driven by the main thread through
//!   `Runtime::block_on` on a multi-thread runtime with as many workers as cores (what
//!   `#[tokio::main]` does: the connection's I/O runs on a worker, the reader on the main
//!   thread); `spawned`, the same future spawned on that runtime's worker and awaited;
//!   `current_thread`, a current-thread runtime (`#[tokio::test]`'s default).
//!
//! Non-stream calls, against the bare server (a 9.6 KB answer), both clients on the
//! multi-thread runtime: `loopback/unary-seq`, 200 calls one after the other in `block_on`;
//! `loopback/unary-c64`, 2,000 calls by 64 tasks spawned at once.
//!
//! What the peer does differently, all of it its own design: async-openai spawns a task per
//! stream that parses events (`eventsource-stream`, which shifts its buffer after every event)
//! and sends them over an unbounded channel to the stream the caller polls; it stops at
//! `[DONE]` and keeps nothing. Ours decodes in the caller's task and, unless
//! `without_snapshot()`, folds every chunk into the stream's snapshot. The HTTP settings are
//! the same for both (see `common/clients.rs`): reqwest, HTTP/1.1, default pool, no proxy,
//! no retries. Each runtime has its own pair of clients, so no connection crosses runtimes.
//!
//! ```sh
//! cargo bench -p dashscope-benches --bench loopback -- --warm-up-time 1 --measurement-time 3
//! ```

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use dashscope_benches::payloads;
use dashscope_benches::serve::{self, Answers, BareServer, Delivery};
use tokio::runtime::Runtime;

#[path = "common/clients.rs"]
mod clients;
#[path = "common/clock.rs"]
#[allow(dead_code, unused_macros, unused_imports)]
// the thread CPU clock does not apply: the work runs on runtime threads
mod clock;

use clients::{Clients, Reader};

/// Non-stream calls per sequential iteration.
const SEQ: usize = 200;
/// Non-stream calls per concurrent iteration, and the tasks making them.
const CONC: (usize, usize) = (2_000, 64);

/// How the application drives the reading future.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Consumer {
    BlockOn,
    Spawned,
    CurrentThread,
}

impl Consumer {
    const ALL: [Consumer; 3] = [
        Consumer::BlockOn,
        Consumer::Spawned,
        Consumer::CurrentThread,
    ];

    fn name(self) -> &'static str {
        match self {
            Consumer::BlockOn => "block_on",
            Consumer::Spawned => "spawned",
            Consumer::CurrentThread => "current_thread",
        }
    }
}

/// The clients' runtimes.
struct Rig {
    /// As `#[tokio::main]` builds it: one worker per core.
    multi: Runtime,
    /// As `#[tokio::test]` builds it.
    current: Runtime,
}

impl Rig {
    fn new() -> Rig {
        Rig {
            multi: tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("multi-thread runtime"),
            current: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("current-thread runtime"),
        }
    }

    fn run<F>(&self, consumer: Consumer, fut: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match consumer {
            Consumer::BlockOn => self.multi.block_on(fut),
            Consumer::Spawned => self
                .multi
                .block_on(async { tokio::spawn(fut).await.expect("reading task") }),
            Consumer::CurrentThread => self.current.block_on(fut),
        }
    }
}

/// One server, with a pair of clients per runtime.
struct Target {
    multi: Arc<Clients>,
    current: Arc<Clients>,
}

impl Target {
    fn new(uri: &str) -> Target {
        Target {
            multi: Clients::new(uri),
            current: Clients::new(uri),
        }
    }

    fn clients(&self, consumer: Consumer) -> Arc<Clients> {
        match consumer {
            Consumer::BlockOn | Consumer::Spawned => self.multi.clone(),
            Consumer::CurrentThread => self.current.clone(),
        }
    }
}

/// Every reader in every consumer pattern, on one stream of `chunks` chunks.
fn stream_group(c: &mut Criterion, rig: &Rig, group: &str, uri: &str, chunks: usize) {
    let target = Target::new(uri);
    let mut group = c.benchmark_group(group);
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(chunks as u64));
    for consumer in Consumer::ALL {
        for reader in Reader::ALL {
            let id = BenchmarkId::new(reader.name(), consumer.name());
            group.bench_function(id, |b| {
                b.iter(|| {
                    let n = rig.run(consumer, target.clients(consumer).stream(reader));
                    assert_eq!(n, chunks, "{} {}", reader.name(), consumer.name());
                });
            });
        }
    }
    group.finish();
}

/// `total` non-stream calls by `tasks` tasks at once: the `choices` entries seen.
async fn concurrent(clients: Arc<Clients>, reader: Reader, total: usize, tasks: usize) -> usize {
    let mut set = tokio::task::JoinSet::new();
    for t in 0..tasks {
        let calls = total / tasks + usize::from(t < total % tasks);
        set.spawn(clients.clone().unary(reader, calls));
    }
    let mut seen = 0;
    while let Some(r) = set.join_next().await {
        seen += r.expect("task");
    }
    seen
}

fn loopback(c: &mut Criterion) {
    let timed = std::env::args().any(|a| a == "--bench");
    let long = if timed { 100_000 } else { 2_000 };
    let unary = Bytes::from(payloads::chat_response(&payloads::response_conversation()));
    let rig = Rig::new();
    for (name, chunks) in [("stream-100k", long), ("stream-200", 200)] {
        let answers = Answers::compat(chunks).with_unary(unary.clone());
        eprintln!(
            "workload {name}: compat stream of {} bytes, {} chunks",
            answers.stream_len(),
            answers.chunks
        );
        for (server, delivery) in [
            ("whole", Delivery::Whole),
            ("per-event", Delivery::PerEvent),
        ] {
            let bare = BareServer::start(answers.clone(), delivery, 1, 0);
            let group = format!("loopback/{name}/{server}");
            stream_group(c, &rig, &group, &bare.uri(), chunks);
        }
        if chunks == 200 {
            let mock = serve::start_mock(&answers, 0);
            stream_group(c, &rig, "loopback/stream-200/mock", &mock.uri(), chunks);
        }
    }

    let answers = Answers::compat(200).with_unary(unary.clone());
    eprintln!(
        "workload unary: a non-stream answer of {} bytes",
        unary.len()
    );
    let bare = BareServer::start(answers, Delivery::Whole, 1, 0);
    let target = Target::new(&bare.uri());
    let readers = [Reader::Dashscope, Reader::AsyncOpenai];

    let mut group = c.benchmark_group("loopback/unary-seq");
    group.sample_size(10);
    group.throughput(Throughput::Elements(SEQ as u64));
    for reader in readers {
        group.bench_function(reader.name(), |b| {
            b.iter(|| {
                let calls = target.multi.clone().unary(reader, SEQ);
                assert_eq!(rig.run(Consumer::BlockOn, calls), SEQ);
            });
        });
    }
    group.finish();

    let (total, tasks) = CONC;
    let mut group = c.benchmark_group("loopback/unary-c64");
    group.sample_size(10);
    group.throughput(Throughput::Elements(total as u64));
    for reader in readers {
        group.bench_function(reader.name(), |b| {
            b.iter(|| {
                let calls = concurrent(target.multi.clone(), reader, total, tasks);
                assert_eq!(rig.run(Consumer::BlockOn, calls), total);
            });
        });
    }
    group.finish();
}

fn main() {
    // Wall clock only: the clients' work runs on runtime worker threads, which the thread CPU
    // clock would not see.
    let mut c = clock::settings(
        Criterion::default(),
        10,
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(5),
    )
    .configure_from_args();
    loopback(&mut c);
    c.final_summary();
}
