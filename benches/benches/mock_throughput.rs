//! The mock as a server (issues 6 and 13): `dashscope-mock` against a bare axum server and
//! wiremock-rs, each in its own process, and the mock's start-up against wiremock-rs's.
//!
//! * `mock/stream-200` and `mock/unary`: 200-chunk compat streams (63 KB; 512 per iteration)
//!   and non-stream answers (the mock's `chat/basic-nonstream`; 2,048 per iteration), over 1,
//!   32 and 256 keep-alive HTTP/1.1 connections at once (the parameter), every body read to
//!   the end and its length checked. Besides criterion's throughput, each row prints (and
//!   `bench-report` shows) the **server's CPU time per request**: `utime + stime` of the
//!   server process from `/proc/<pid>/stat` (10 ms ticks) before and after the whole row
//!   (warm-up and samples, seconds of CPU), divided by the requests it served. The load
//!   generator's CPU is not in it, though it shares the two cores.
//! * `mock/streams-1000`: 1,000 compat streams at once (the embedded fixture
//!   `chat/stream-include-usage`, 10 chunks), each on its own connection, from the mock alone.
//!   It prints the mock process's `VmRSS` before and its `VmHWM` (peak) after one round, then
//!   after the timed rounds (the mock's journal keeps the last 100,000 requests, at most about
//!   64 MiB of them).
//! * `mock/startup`: `MockServer::start()` + one non-stream request + drop, in this process, as
//!   a test does it. `dashscope-mock`: `dashscope_mock::MockServer::start()` (its own thread
//!   and 2-worker runtime, the embedded fixtures parsed) and drop (which joins its thread).
//!   `wiremock`: `wiremock::MockServer::start()` with one `Mock` mounted answering the same
//!   bytes, on a current-thread runtime built once outside the timed loop (what
//!   `#[tokio::test]` gives a test); its `start()` takes a server from a process-wide pool
//!   (after the first iteration a running one, reset) and drop gives it back.
//!   `wiremock-fresh`: `wiremock::MockServer::builder().start()`, a new server each time (its
//!   own thread and current-thread runtime; drop signals it to stop and does not wait). The
//!   request is the same for all: a blocking `std::net::TcpStream`, `Connection: close`, read
//!   to the end.
//!
//! The servers (`bench-server <kind>`, started by this bench, stopped when it ends):
//!
//! * **dashscope-mock**: `MockServer::builder().speed(0.0)` (2-worker runtime, the embedded
//!   fixtures, journal as configured by default) with the 200-chunk stream cassette added at
//!   run time; it sends the stream as one body frame per recorded chunk, and the non-stream
//!   answer chunked (the fixture records `transfer-encoding: chunked`).
//! * **bare-axum**: an axum handler returning the same bytes (2-worker runtime), the stream as
//!   one body (the cheapest way to send it), the non-stream answer with a `content-length`.
//! * **bare-axum-frames** (streams only): the same, the stream as one body frame per event,
//!   all ready at once: the mock's body shape. (hyper writes those frames with vectored writes
//!   of at most 16 buffers each; through the mock's connection wrapper, which has no vectored
//!   write, it copies them into one buffer instead.)
//! * **wiremock**: wiremock-rs 0.6 as it ships (its server thread runs a current-thread
//!   runtime; request recording on, as by default), the stream as one body (wiremock-rs cannot
//!   send a body in pieces), the non-stream answer with a `content-length`.
//!
//! Before timing, every server must answer the same body bytes. The load generator is hyper's
//! connection-level HTTP/1.1 client (one task per connection, `TCP_NODELAY`) on a 2-worker
//! runtime in this process.
//!
//! ```sh
//! cargo bench -p dashscope-benches --bench mock_throughput -- --warm-up-time 1 --measurement-time 3
//! ```

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use dashscope_benches::serve::{self, Answers, CHAT_PATH};
use http::Request;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

#[path = "common/clock.rs"]
#[allow(dead_code, unused_macros, unused_imports)]
// the thread CPU clock does not apply: the work runs on runtime threads and other processes
mod clock;
#[path = "common/rss.rs"]
mod rss;

/// Connection counts of the stream and non-stream rows.
const CONNS: [usize; 3] = [1, 32, 256];
/// Concurrent streams in `mock/streams-1000`.
const STREAMS: usize = 1_000;

const UNARY_BODY: &str = r#"{"model":"qwen-plus","messages":[{"role":"user","content":"Hello!"}]}"#;
const STREAM_BODY: &str =
    r#"{"model":"qwen-plus","messages":[{"role":"user","content":"Hello!"}],"stream":true}"#;
/// Answered by the embedded fixture `chat/stream-include-usage`.
const FIXTURE_STREAM_BODY: &str = r#"{"model":"qwen-plus","messages":[{"role":"user","content":"你是谁？"}],"stream":true,"stream_options":{"include_usage":true}}"#;

/// One measured workload: its name, request body and requests per iteration.
struct Work {
    name: &'static str,
    body: &'static str,
    batch: usize,
}

const WORKS: [Work; 2] = [
    Work {
        name: "stream-200",
        body: STREAM_BODY,
        batch: 512,
    },
    Work {
        name: "unary",
        body: UNARY_BODY,
        batch: 2_048,
    },
];

/// A `bench-server` child process.
struct Server {
    name: &'static str,
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(kind: &str, name: &'static str) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bench-server"))
            .arg(kind)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start bench-server");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("bench-server's port");
        let port: u16 = line
            .trim()
            .strip_prefix("port ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("bench-server {kind}: {line:?}"));
        Server {
            name,
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    /// CPU time (user + system) of the server process so far, in ns.
    fn cpu_ns(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .expect("/proc/<pid>/stat");
        // Fields 14 and 15 (utime, stime), counted after the `)` that ends the command name.
        let rest = &stat[stat.rfind(')').expect("stat format") + 1..];
        let ticks: u64 = rest
            .split_whitespace()
            .skip(11)
            .take(2)
            .map(|f| f.parse::<u64>().expect("stat field"))
            .sum();
        // USER_HZ is 100 on Linux.
        ticks * 10_000_000
    }

    fn rss_kib(&self) -> (u64, u64) {
        rss::rss_of(&format!("/proc/{}/status", self.child.id()))
    }
}

impl Drop for Server {
    /// Closes the server's stdin (it stops then), waits for it; kills it after 5 s.
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        for _ in 0..500 {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Conn = SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> Conn {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to 127.0.0.1");
    tcp.set_nodelay(true).expect("nodelay");
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    send
}

async fn connect_all(addr: SocketAddr, n: usize) -> Vec<Conn> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(connect(addr).await);
    }
    out
}

/// One POST on `conn`: the body of its answer, which must be a 200.
async fn post_once(conn: &mut Conn, body: &'static str) -> Bytes {
    conn.ready().await.expect("connection ready");
    let req = Request::post(CHAT_PATH)
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .header("authorization", "Bearer sk-bench")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .expect("request");
    let resp = conn.send_request(req).await.expect("response");
    let status = resp.status();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    bytes
}

/// `total` requests spread over the connections, all at once; returns the connections and the
/// body bytes received.
async fn run(conns: Vec<Conn>, total: usize, body: &'static str) -> (Vec<Conn>, usize) {
    let n = conns.len();
    let mut set = tokio::task::JoinSet::new();
    for (i, mut conn) in conns.into_iter().enumerate() {
        let calls = total / n + usize::from(i < total % n);
        set.spawn(async move {
            let mut bytes = 0;
            for _ in 0..calls {
                bytes += post_once(&mut conn, body).await.len();
            }
            (conn, bytes)
        });
    }
    let mut back = Vec::with_capacity(n);
    let mut total = 0;
    while let Some(r) = set.join_next().await {
        let (conn, bytes) = r.expect("load task");
        back.push(conn);
        total += bytes;
    }
    (back, total)
}

/// Where criterion writes (`$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`, else the
/// workspace's `target/criterion`), as `bench-report` reads it.
fn criterion_dir() -> PathBuf {
    std::env::var_os("CRITERION_HOME")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR").map(|d| PathBuf::from(d).join("criterion"))
        })
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/criterion"))
        })
}

/// Records a row's server CPU for `bench-report`: `<criterion>/server-cpu/<id>.json`.
fn record_cpu(group: &str, function: &str, value: &str, requests: u64, cpu_ns: u64) {
    let dir = criterion_dir().join("server-cpu");
    let file = format!("{group}/{function}/{value}").replace('/', "_") + ".json";
    let json = serde_json::json!({
        "group": group, "function": function, "value": value,
        "requests": requests, "cpu_ns": cpu_ns,
    });
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join(file), json.to_string()));
    if let Err(e) = written {
        eprintln!("could not record the server CPU in {}: {e}", dir.display());
    }
}

fn servers(c: &mut Criterion, rt: &tokio::runtime::Runtime, timed: bool) {
    let servers = [
        Server::start("mock", "dashscope-mock"),
        Server::start("axum", "bare-axum"),
        Server::start("axum-frames", "bare-axum-frames"),
        Server::start("wiremock", "wiremock"),
    ];
    for work in &WORKS {
        // The frames server differs from the other bare server in its streams only.
        let servers: Vec<&Server> = servers
            .iter()
            .filter(|s| work.body == STREAM_BODY || !s.name.ends_with("-frames"))
            .collect();
        // Every server must answer the same bytes before it is timed.
        let bodies: Vec<Bytes> = servers
            .iter()
            .map(|s| rt.block_on(async { post_once(&mut connect(s.addr).await, work.body).await }))
            .collect();
        for (s, b) in servers.iter().zip(&bodies) {
            assert_eq!(
                b, &bodies[0],
                "{} answers {} differently",
                s.name, work.name
            );
        }
        let expected = work.batch * bodies[0].len();
        let group_name = format!("mock/{}", work.name);
        let mut group = c.benchmark_group(&group_name);
        group.sample_size(10);
        group.sampling_mode(SamplingMode::Flat);
        group.throughput(Throughput::Elements(work.batch as u64));
        for nconn in CONNS {
            let value = format!("{nconn}conn");
            for server in &servers {
                let mut conns = rt.block_on(connect_all(server.addr, nconn));
                let mut requests = 0u64;
                let cpu0 = server.cpu_ns();
                group.bench_function(BenchmarkId::new(server.name, &value), |b| {
                    b.iter(|| {
                        let taken = std::mem::take(&mut conns);
                        let (back, bytes) = rt.block_on(run(taken, work.batch, work.body));
                        assert_eq!(bytes, expected, "{}", server.name);
                        conns = back;
                        requests += work.batch as u64;
                    });
                });
                let cpu = server.cpu_ns() - cpu0;
                if timed && requests > 0 {
                    eprintln!(
                        "{group_name}/{}/{value}: server CPU {:.1} µs per request ({requests} \
                         requests, {:.2} s of CPU)",
                        server.name,
                        cpu as f64 / 1e3 / requests as f64,
                        cpu as f64 / 1e9
                    );
                    record_cpu(&group_name, server.name, &value, requests, cpu);
                }
            }
        }
        group.finish();
    }
    drop(servers);

    // 1,000 streams at once, from the mock alone: its own RSS.
    let mock = Server::start("mock", "dashscope-mock");
    let (rss_before, _) = mock.rss_kib();
    let mut conns = rt.block_on(connect_all(mock.addr, STREAMS));
    let one = rt
        .block_on(post_once(&mut conns[0], FIXTURE_STREAM_BODY))
        .len();
    let (back, bytes) = rt.block_on(run(conns, STREAMS, FIXTURE_STREAM_BODY));
    assert_eq!(bytes, STREAMS * one);
    conns = back;
    let (_, peak) = mock.rss_kib();
    eprintln!(
        "mock RSS (the mock's process): {:.1} MiB idle, peak \
         {:.1} MiB after one round of {STREAMS} concurrent streams",
        rss_before as f64 / 1024.0,
        peak as f64 / 1024.0,
    );
    let mut served = STREAMS + 1;
    let mut group = c.benchmark_group("mock/streams-1000");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(STREAMS as u64));
    group.bench_function("dashscope-mock", |b| {
        b.iter(|| {
            let taken = std::mem::take(&mut conns);
            let (back, bytes) = rt.block_on(run(taken, STREAMS, FIXTURE_STREAM_BODY));
            assert_eq!(bytes, STREAMS * one);
            conns = back;
            served += STREAMS;
        });
    });
    group.finish();
    let (rss, hwm) = mock.rss_kib();
    eprintln!(
        "mock RSS (the mock's process) after {served} streams: {:.1} MiB, VmHWM {:.1} MiB (the \
         journal keeps the last 100,000 requests, at most about {} MiB)",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0,
        dashscope_mock::Limits::default().journal_max_bytes / (1024 * 1024),
    );
}

/// One non-stream request over a fresh blocking connection, `Connection: close`, read to the
/// end; panics unless the answer is a 200 carrying a chat completion.
fn raw_post(addr: SocketAddr) {
    let mut tcp = std::net::TcpStream::connect(addr).expect("connect to 127.0.0.1");
    tcp.set_nodelay(true).expect("nodelay");
    let head = format!(
        "POST {CHAT_PATH} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
         authorization: Bearer sk-bench\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        UNARY_BODY.len()
    );
    tcp.write_all(head.as_bytes()).expect("write request");
    tcp.write_all(UNARY_BODY.as_bytes()).expect("write request");
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).expect("read answer");
    assert!(
        answer.starts_with(b"HTTP/1.1 200")
            && memchr::memmem::find(&answer, b"\"object\":\"chat.completion\"").is_some(),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

fn startup(c: &mut Criterion) {
    let answers = Answers::compat(200);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("wiremock's runtime");
    let mut group = c.benchmark_group("mock/startup");
    group.sample_size(10);
    group.bench_function("dashscope-mock", |b| {
        b.iter(|| {
            let mock = dashscope_mock::MockServer::start();
            raw_post(mock.address());
            drop(mock);
        });
    });
    group.bench_function("wiremock", |b| {
        b.iter(|| {
            rt.block_on(async {
                let server = wiremock::MockServer::start().await;
                serve::unary_mock(&answers).mount(&server).await;
                raw_post(*server.address());
                drop(server);
            });
        });
    });
    group.bench_function("wiremock-fresh", |b| {
        b.iter(|| {
            rt.block_on(async {
                let server = wiremock::MockServer::builder().start().await;
                serve::unary_mock(&answers).mount(&server).await;
                raw_post(*server.address());
                drop(server);
            });
        });
    });
    group.finish();
}

fn mock_throughput(c: &mut Criterion) {
    let timed = std::env::args().any(|a| a == "--bench")
        && !std::env::args().any(|a| a == "--profile-time");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("load-gen")
        .enable_all()
        .build()
        .expect("load generator runtime");
    servers(c, &rt, timed);
    rt.shutdown_timeout(Duration::from_millis(200));
    startup(c);
}

fn main() {
    // Wall clock only: the work runs on runtime worker threads and in other processes, which
    // the thread CPU clock would not see.
    let mut c = clock::settings(
        Criterion::default(),
        10,
        Duration::from_secs(1),
        Duration::from_secs(5),
    )
    .configure_from_args();
    mock_throughput(&mut c);
    c.final_summary();
}
