//! A profiling driver for one row of the `loopback` bench: one server, one reader, one consumer
//! pattern, in a loop, so `perf`, `strace -c -f` or `perf stat -e context-switches` see that
//! row alone.
//!
//! ```sh
//! cargo build --release -p dashscope-benches --example e2e
//! target/release/examples/e2e per-event current_thread dashscope 200 500
//! strace -c -f target/release/examples/e2e per-event current_thread dashscope 200 500
//! perf record -e cpu-clock -g target/release/examples/e2e mock block_on dashscope 200 2000
//! ```
//!
//! Arguments: `<per-event|whole|mock|unary> <block_on|spawned|current_thread>
//! <dashscope|dashscope-nosnap|async-openai|reqwest|raw> [chunks] [iterations] [pause µs]`
//! (`unary`: 2,000 non-stream calls by 64 tasks per iteration, `chunks` unused). It prints the
//! median and the fastest iteration. The client runtime's threads are named `client-worker`,
//! so a profile tells them from the server's.
//!
//! Two readers measure floors rather than clients:
//!
//! * `reqwest`: a bare `reqwest::Client` (the bench's settings) reading the stream with
//!   `chunk()` and parsing nothing: the floor of any client on reqwest in that consumer pattern.
//! * `raw`: the server alone. A blocking socket sends the request and reads the stream with
//!   256 KiB reads, sleeping `pause` µs before each (0 by default), on one connection; the
//!   consumer argument is ignored. With one frame per event, this is the fastest the bare
//!   server sends the stream.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use dashscope_benches::payloads;
use dashscope_benches::serve::{self, Answers, BareServer, Delivery};

#[path = "../benches/common/clients.rs"]
mod clients;

use clients::{Clients, Reader};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [server, consumer, reader, rest @ ..] = args.as_slice() else {
        eprintln!(
            "usage: e2e <per-event|whole|mock|unary> <block_on|spawned|current_thread> \
             <dashscope|dashscope-nosnap|async-openai|reqwest|raw> [chunks] [iterations] [pause]"
        );
        return ExitCode::FAILURE;
    };
    let chunks: usize = rest.first().and_then(|s| s.parse().ok()).unwrap_or(200);
    let iterations: usize = rest.get(1).and_then(|s| s.parse().ok()).unwrap_or(200);
    if reader == "raw" {
        return raw(server, rest);
    }
    if reader == "reqwest" {
        return bare_reqwest(server, consumer, rest);
    }
    let Some(reader) = Reader::ALL.into_iter().find(|r| r.name() == reader) else {
        eprintln!("unknown reader {reader}");
        return ExitCode::FAILURE;
    };
    let unary = Bytes::from(payloads::chat_response(&payloads::response_conversation()));
    let answers = Answers::compat(chunks).with_unary(unary);
    let (_bare, _mock, uri) = match server.as_str() {
        "per-event" | "whole" | "unary" => {
            let delivery = if server == "per-event" {
                Delivery::PerEvent
            } else {
                Delivery::Whole
            };
            let bare = BareServer::start(answers.clone(), delivery, 1, 0);
            let uri = bare.uri();
            (Some(bare), None, uri)
        }
        "mock" => {
            let mock = serve::start_mock(&answers, 0);
            let uri = mock.uri();
            (None, Some(mock), uri)
        }
        other => {
            eprintln!("unknown server {other}");
            return ExitCode::FAILURE;
        }
    };
    let rt = match consumer.as_str() {
        "block_on" | "spawned" => tokio::runtime::Builder::new_multi_thread(),
        "current_thread" => tokio::runtime::Builder::new_current_thread(),
        other => {
            eprintln!("unknown consumer {other}");
            return ExitCode::FAILURE;
        }
    }
    .enable_all()
    .thread_name("client-worker")
    .build()
    .expect("runtime");
    let spawned = consumer == "spawned";
    let clients = Clients::new(&uri);
    let mut times = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let clients = clients.clone();
        let start = Instant::now();
        let (seen, want) = if server == "unary" {
            let fut = concurrent(clients, reader, 2_000, 64);
            (run(&rt, spawned, fut), 2_000)
        } else {
            (run(&rt, spawned, clients.stream(reader)), answers.chunks)
        };
        times.push(start.elapsed());
        assert_eq!(seen, want);
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "{server} {consumer} {}: median {median:?}, fastest {:?} ({iterations} iterations)",
        reader.name(),
        times[0]
    );
    ExitCode::SUCCESS
}

fn run<F>(rt: &tokio::runtime::Runtime, spawned: bool, fut: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    if spawned {
        rt.block_on(async { tokio::spawn(fut).await.expect("task") })
    } else {
        rt.block_on(fut)
    }
}

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

/// The server alone: a blocking socket reads the stream with 256 KiB reads, pausing `pause` µs
/// before each read, until the last chunk.
fn raw(server: &str, rest: &[String]) -> ExitCode {
    use std::io::{Read, Write};
    let chunks: usize = rest.first().and_then(|s| s.parse().ok()).unwrap_or(200);
    let iterations: usize = rest.get(1).and_then(|s| s.parse().ok()).unwrap_or(200);
    let pause: u64 = rest.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
    let unary = Bytes::from(payloads::chat_response(&payloads::response_conversation()));
    let answers = Answers::compat(chunks).with_unary(unary);
    let delivery = if server == "per-event" {
        Delivery::PerEvent
    } else {
        Delivery::Whole
    };
    let (_bare, _mock, addr) = if server == "mock" {
        let mock = serve::start_mock(&answers, 0);
        let addr = mock.address();
        (None, Some(mock), addr)
    } else {
        let bare = BareServer::start(answers, delivery, 1, 0);
        let addr = bare.addr();
        (Some(bare), None, addr)
    };
    let body =
        br#"{"model":"qwen-plus","messages":[{"role":"user","content":"Hello!"}],"stream":true}"#;
    let req = format!(
        "POST {} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer sk-bench\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        serve::CHAT_PATH,
        body.len()
    );
    let mut times = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut sock = std::net::TcpStream::connect(addr).expect("connect");
    sock.set_nodelay(true).expect("nodelay");
    let mut reads = 0usize;
    for _ in 0..iterations {
        let start = Instant::now();
        sock.write_all(req.as_bytes()).expect("write");
        sock.write_all(body).expect("write");
        let mut tail: Vec<u8> = Vec::new();
        loop {
            if pause > 0 {
                std::thread::sleep(std::time::Duration::from_micros(pause));
            }
            let n = sock.read(&mut buf).expect("read");
            assert!(n > 0, "closed");
            reads += 1;
            tail.extend_from_slice(&buf[..n]);
            if tail.len() > 16 {
                tail.drain(..tail.len() - 16);
            }
            if tail.ends_with(b"\r\n0\r\n\r\n") {
                break;
            }
        }
        times.push(start.elapsed());
    }
    times.sort();
    println!(
        "{server} raw (pause {pause} us): median {:?}, fastest {:?}, {} reads per stream",
        times[times.len() / 2],
        times[0],
        reads / iterations
    );
    ExitCode::SUCCESS
}

/// The floor of any client on reqwest: a `reqwest::Client` with the bench's settings posts the
/// stream request and reads the body with `chunk()` to the end, parsing nothing.
fn bare_reqwest(server: &str, consumer: &str, rest: &[String]) -> ExitCode {
    let chunks: usize = rest.first().and_then(|s| s.parse().ok()).unwrap_or(200);
    let iterations: usize = rest.get(1).and_then(|s| s.parse().ok()).unwrap_or(200);
    let unary = Bytes::from(payloads::chat_response(&payloads::response_conversation()));
    let answers = Answers::compat(chunks).with_unary(unary);
    let (_bare, _mock, uri) = if server == "mock" {
        let mock = serve::start_mock(&answers, 0);
        let uri = mock.uri();
        (None, Some(mock), uri)
    } else {
        let delivery = if server == "per-event" {
            Delivery::PerEvent
        } else {
            Delivery::Whole
        };
        let bare = BareServer::start(answers.clone(), delivery, 1, 0);
        let uri = bare.uri();
        (Some(bare), None, uri)
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .build()
        .expect("reqwest client");
    let rt = if consumer == "current_thread" {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    }
    .enable_all()
    .build()
    .expect("runtime");
    let url = format!("{uri}{}", serve::CHAT_PATH);
    let body =
        r#"{"model":"qwen-plus","messages":[{"role":"user","content":"Hello!"}],"stream":true}"#;
    let want = answers.stream_len();
    let mut times = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let (client, url) = (client.clone(), url.clone());
        let fut = async move {
            let mut res = client
                .post(url)
                .header("authorization", "Bearer sk-bench")
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .expect("response");
            let mut n = 0;
            while let Some(chunk) = res.chunk().await.expect("chunk") {
                n += chunk.len();
            }
            n
        };
        let start = Instant::now();
        let n = run(&rt, consumer == "spawned", fut);
        times.push(start.elapsed());
        assert_eq!(n, want);
    }
    times.sort();
    println!(
        "{server} {consumer} reqwest: median {:?}, fastest {:?} ({iterations} iterations)",
        times[times.len() / 2],
        times[0]
    );
    ExitCode::SUCCESS
}
