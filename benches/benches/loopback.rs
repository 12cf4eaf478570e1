//! End to end over loopback (issue 6, item 3): our client and async-openai's client against
//! the same bare axum server on `127.0.0.1`.
//!
//! * `loopback/stream-100k`: one compat stream of about 100,000 events (31 MB, pre-rendered),
//!   drained chunk by chunk. Ours: `client.chat().create_stream(req)` then `next_chunk()` to
//!   the end (the client folds every chunk into its accumulator as it goes, as it always does).
//!   async-openai: `client.chat().create_stream(req)` then `StreamExt::next` to the end.
//! * `loopback/unary-seq`: 200 non-stream requests one after the other (a 9.6 KB answer).
//! * `loopback/unary-c64`: 2,000 non-stream requests by 64 tasks at once.
//!
//! The server runs on its own thread and a 1-worker runtime; the clients on another 1-worker
//! runtime, so each side has one of the machine's two cores.
//!
//! ```sh
//! cargo bench -p dashscope-benches --bench loopback
//! ```

use std::sync::Arc;

use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestMessage, ChatCompletionRequestUserMessage, CreateChatCompletionRequest,
};
use bytes::Bytes;
use criterion::measurement::Measurement;
use criterion::{Criterion, Throughput};
use dashscope_benches::payloads;
use dashscope_provider::protocol::chat::{ChatRequest, Message};
use dashscope_provider::{Client, Config};
use futures_util::StreamExt as _;

#[path = "common/clock.rs"]
#[allow(dead_code, unused_macros, unused_imports)]
// the thread CPU clock does not apply: the work runs on runtime threads
mod clock;
#[path = "common/loopback.rs"]
mod loopback;

use loopback::{BareServer, StreamBody};

/// Non-stream requests per sequential iteration.
const SEQ: usize = 200;
/// Non-stream requests per concurrent iteration, and the concurrency.
const CONC: (usize, usize) = (2_000, 64);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("client runtime")
}

fn ours(uri: &str) -> Client {
    let config = Config::builder()
        .api_key("sk-bench")
        .base_url(uri)
        .max_retries(0)
        .build()
        .expect("config");
    Client::new(config).expect("client")
}

fn theirs(uri: &str) -> async_openai::Client<OpenAIConfig> {
    let config = OpenAIConfig::new()
        .with_api_key("sk-bench")
        .with_api_base(format!("{uri}/compatible-mode/v1"));
    async_openai::Client::with_config(config)
}

fn our_request() -> ChatRequest {
    ChatRequest::new("qwen-plus", vec![Message::user("Hello!")])
}

fn their_request() -> CreateChatCompletionRequest {
    CreateChatCompletionRequest {
        model: "qwen-plus".to_owned(),
        messages: vec![ChatCompletionRequestMessage::User(
            ChatCompletionRequestUserMessage::from("Hello!"),
        )],
        ..Default::default()
    }
}

/// Drains one stream with our client: chunks seen.
async fn our_stream(client: &Client) -> usize {
    let mut stream = client
        .chat()
        .create_stream(our_request())
        .await
        .expect("stream opens");
    let mut n = 0;
    while let Some(chunk) = stream.next_chunk().await {
        chunk.expect("valid chunk");
        n += 1;
    }
    n
}

/// Drains one stream with async-openai's client: chunks seen.
async fn their_stream(client: &async_openai::Client<OpenAIConfig>) -> usize {
    let mut stream = client
        .chat()
        .create_stream(their_request())
        .await
        .expect("stream opens");
    let mut n = 0;
    while let Some(chunk) = stream.next().await {
        chunk.expect("valid chunk");
        n += 1;
    }
    n
}

async fn our_unary(client: &Client) -> usize {
    let reply = client.chat().create(our_request()).await.expect("answer");
    reply.choices.len()
}

async fn their_unary(client: &async_openai::Client<OpenAIConfig>) -> usize {
    let reply = client.chat().create(their_request()).await.expect("answer");
    reply.choices.len()
}

/// `total` requests by `tasks` tasks; returns the choices seen.
async fn concurrent<C, F, Fut>(client: Arc<C>, total: usize, tasks: usize, call: F) -> usize
where
    C: Send + Sync + 'static,
    F: Fn(Arc<C>) -> Fut + Copy + Send + 'static,
    Fut: std::future::Future<Output = usize> + Send,
{
    let mut set = tokio::task::JoinSet::new();
    for t in 0..tasks {
        let client = client.clone();
        let n = total / tasks + usize::from(t < total % tasks);
        set.spawn(async move {
            let mut seen = 0;
            for _ in 0..n {
                seen += call(client.clone()).await;
            }
            seen
        });
    }
    let mut seen = 0;
    while let Some(r) = set.join_next().await {
        seen += r.expect("task");
    }
    seen
}

fn loopback<M: Measurement>(c: &mut Criterion<M>) {
    // Plain HTTP on loopback: no handshake is made, but reqwest's rustls needs a provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let w = loopback::compat_stream(100_000);
    let unary = payloads::chat_response(&payloads::response_conversation());
    eprintln!(
        "workload: compat stream {} bytes, {} events; non-stream answer {} bytes",
        w.bytes.len(),
        w.events,
        unary.len()
    );
    let server = BareServer::start(
        StreamBody::Whole(Bytes::from(w.bytes.clone())),
        Bytes::from(unary),
        1,
    );
    let uri = server.uri();
    let rt = runtime();
    let our = Arc::new(ours(&uri));
    let their = Arc::new(theirs(&uri));

    // Both clients must see the same stream before they are timed: every event but `[DONE]`
    // is a chunk.
    let (a, b) = rt.block_on(async { (our_stream(&our).await, their_stream(&their).await) });
    assert_eq!(a, w.events - 1, "our chunks");
    assert_eq!(b, w.events - 1, "async-openai chunks");
    let (a, b) = rt.block_on(async { (our_unary(&our).await, their_unary(&their).await) });
    assert_eq!((a, b), (1, 1));

    let mut group = c.benchmark_group("loopback/stream-100k");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(w.bytes.len() as u64));
    group.bench_function("dashscope", |bch| {
        bch.iter(|| rt.block_on(our_stream(&our)));
    });
    group.bench_function("async-openai", |bch| {
        bch.iter(|| rt.block_on(their_stream(&their)));
    });
    group.finish();

    let mut group = c.benchmark_group("loopback/unary-seq");
    group.sample_size(10);
    group.throughput(Throughput::Elements(SEQ as u64));
    group.bench_function("dashscope", |bch| {
        bch.iter(|| {
            rt.block_on(async {
                let mut n = 0;
                for _ in 0..SEQ {
                    n += our_unary(&our).await;
                }
                assert_eq!(n, SEQ);
            })
        });
    });
    group.bench_function("async-openai", |bch| {
        bch.iter(|| {
            rt.block_on(async {
                let mut n = 0;
                for _ in 0..SEQ {
                    n += their_unary(&their).await;
                }
                assert_eq!(n, SEQ);
            })
        });
    });
    group.finish();

    let (total, tasks) = CONC;
    let mut group = c.benchmark_group("loopback/unary-c64");
    group.sample_size(10);
    group.throughput(Throughput::Elements(total as u64));
    group.bench_function("dashscope", |bch| {
        bch.iter(|| {
            let n = rt.block_on(concurrent(our.clone(), total, tasks, |c| async move {
                our_unary(&c).await
            }));
            assert_eq!(n, total);
        });
    });
    group.bench_function("async-openai", |bch| {
        bch.iter(|| {
            let n = rt.block_on(concurrent(their.clone(), total, tasks, |c| async move {
                their_unary(&c).await
            }));
            assert_eq!(n, total);
        });
    });
    group.finish();
    drop(server);
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
