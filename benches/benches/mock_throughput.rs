//! Mock server throughput (issue 6, item 4), every server in this process on `127.0.0.1`:
//!
//! * `mock/streams-1000`: 1,000 compat streams at once against `dashscope-mock` (fixture
//!   `chat/stream-include-usage`, speed 0 so no delays), each on its own keep-alive connection,
//!   every body read to the end. Meanwhile a thread samples this process's `VmRSS` every 10 ms;
//!   the figure printed (`mock RSS`) is the whole process (mock, load generator with its 1,000
//!   connections, bench data), so an upper bound for the mock: once for one round on a fresh
//!   mock, once after the timed rounds (the mock's journal keeps the last 100,000 requests, and
//!   at most about 64 MiB of them).
//! * `mock/unary`: 5,000 non-stream requests per iteration over 64 keep-alive HTTP/1.1
//!   connections (hyper's connection-level client, one task per connection) against
//!   `dashscope-mock` replaying `chat/basic-nonstream`, a bare axum handler answering the same
//!   status, headers and body, and wiremock-rs mounted with the same response. The mock runs
//!   twice: as configured by default, and with a one-entry journal.
//!
//! The mock and the bare axum server run on 2-worker runtimes (the mock's `MockServer` default);
//! wiremock-rs runs as it ships (its own server thread). The load generator has its own 2-worker
//! runtime (threads named `load-gen`).
//!
//! After the criterion groups (under `cargo bench`, not in test mode) the four unary servers
//! also run **interleaved**: round after round, each server in turn (the order rotating) gets
//! the same 5,000 requests, so a change in the machine's load hits every server alike. For
//! each server it prints the median and best requests/s and the CPU time per request of the
//! server side (every thread of the process but the load generator's and the main thread,
//! from `/proc/self/task/*/schedstat`) and of the load generator, then the ratios. Rounds:
//! `MOCK_BENCH_ROUNDS` (default 9; 0 skips it).
//!
//! ```sh
//! cargo bench -p dashscope-benches --bench mock_throughput
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use axum::routing::post;
use bytes::Bytes;
use criterion::{Criterion, Throughput};
use http::{HeaderMap, Request};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

#[path = "common/clock.rs"]
#[allow(dead_code, unused_macros, unused_imports)]
// the thread CPU clock does not apply: the work runs on runtime threads
mod clock;
#[path = "common/loopback.rs"]
mod loopback;

use loopback::{BareServer, CHAT_PATH, RssSampler};

/// Non-stream requests per iteration, and the connections they share.
const UNARY: (usize, usize) = (5_000, 64);
/// Concurrent streams per iteration.
const STREAMS: usize = 1_000;
/// The mock's default journal capacity (`MockConfig::journal_capacity`).
const JOURNAL_DEFAULT: usize = 100_000;

const UNARY_BODY: &str = r#"{"model":"qwen-plus","messages":[{"role":"user","content":"Hello!"}]}"#;
const STREAM_BODY: &str = r#"{"model":"qwen-plus","messages":[{"role":"user","content":"你是谁？"}],"stream":true,"stream_options":{"include_usage":true}}"#;

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

/// One POST on `conn`: `(status, headers, body)`.
async fn post_once(conn: &mut Conn, body: &'static str) -> (u16, HeaderMap, Bytes) {
    conn.ready().await.expect("connection ready");
    let req = Request::post(CHAT_PATH)
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .header("authorization", "Bearer sk-bench")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .expect("request");
    let resp = conn.send_request(req).await.expect("response");
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    (parts.status.as_u16(), parts.headers, bytes)
}

/// `per_conn[i]` requests on connection `i`, all connections at once; returns the connections
/// and the body bytes received (every answer must be a 200).
async fn run(conns: Vec<Conn>, per_conn: Vec<usize>, body: &'static str) -> (Vec<Conn>, usize) {
    let mut set = tokio::task::JoinSet::new();
    for (mut conn, n) in conns.into_iter().zip(per_conn) {
        set.spawn(async move {
            let mut bytes = 0;
            for _ in 0..n {
                let (status, _, b) = post_once(&mut conn, body).await;
                assert_eq!(status, 200, "{}", String::from_utf8_lossy(&b));
                bytes += b.len();
            }
            (conn, bytes)
        });
    }
    let mut back = Vec::new();
    let mut total = 0;
    while let Some(r) = set.join_next().await {
        let (conn, bytes) = r.expect("load task");
        back.push(conn);
        total += bytes;
    }
    (back, total)
}

fn split(total: usize, parts: usize) -> Vec<usize> {
    (0..parts)
        .map(|i| total / parts + usize::from(i < total % parts))
        .collect()
}

/// A bare axum server answering every POST on the chat path with `status`, `headers`, `body`.
fn bare_axum(headers: HeaderMap, body: Bytes) -> BareServer {
    let app = Router::new().route(
        CHAT_PATH,
        post(move |_req: Bytes| {
            let (headers, body) = (headers.clone(), body.clone());
            async move {
                let mut resp = Response::new(Body::from(body));
                *resp.headers_mut() = headers;
                resp
            }
        }),
    );
    BareServer::serve(app, 2)
}

/// The response headers worth replaying (the servers set their own framing and date).
fn replayable(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (k, v) in headers {
        if !matches!(
            k.as_str(),
            "content-length" | "transfer-encoding" | "date" | "connection"
        ) {
            out.append(k.clone(), v.clone());
        }
    }
    out
}

fn mock_throughput(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("load-gen")
        .enable_all()
        .build()
        .expect("load generator runtime");
    let (rss_before, _) = loopback::rss_kib();
    let mock = dashscope_mock::MockServer::builder()
        .speed(0.0)
        .start()
        .expect("mock server");

    // Streams first, while the process is still small.
    let mut conns = rt.block_on(connect_all(mock.address(), STREAMS));
    let (mut probe, _) = rt.block_on(async {
        let mut c = connect(mock.address()).await;
        let r = post_once(&mut c, STREAM_BODY).await;
        (c, r)
    });
    let (status, headers, body) = rt.block_on(post_once(&mut probe, STREAM_BODY));
    assert_eq!(status, 200);
    assert!(
        headers
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream")),
        "{headers:?}"
    );
    assert!(memchr::memmem::find(&body, b"data: [DONE]").is_some());
    let stream_bytes = body.len();
    // One round on the fresh mock, sampled: the RSS of 1,000 concurrent streams.
    let sampler = RssSampler::start();
    let taken = std::mem::take(&mut conns);
    let (back, bytes) = rt.block_on(run(taken, vec![1; STREAMS], STREAM_BODY));
    assert_eq!(bytes, STREAMS * stream_bytes);
    conns = back;
    let (peak, samples) = sampler.finish();
    eprintln!(
        "mock RSS (whole process): {:.1} MiB before the mock started, peak {:.1} MiB during one \
         round of {STREAMS} concurrent streams on a fresh mock ({} samples)",
        rss_before as f64 / 1024.0,
        peak as f64 / 1024.0,
        samples.len(),
    );
    let mut served = STREAMS + 2;
    let mut group = c.benchmark_group("mock/streams-1000");
    group.sample_size(10);
    group.throughput(Throughput::Elements(STREAMS as u64));
    group.bench_function("dashscope-mock", |b| {
        b.iter(|| {
            let taken = std::mem::take(&mut conns);
            let (back, bytes) = rt.block_on(run(taken, vec![1; STREAMS], STREAM_BODY));
            assert_eq!(bytes, STREAMS * stream_bytes);
            conns = back;
            served += STREAMS;
        });
    });
    group.finish();
    let (rss, hwm) = loopback::rss_kib();
    eprintln!(
        "mock RSS (whole process) after {served} streams: {:.1} MiB, VmHWM {:.1} MiB (the \
         journal keeps the last {} requests, at most about {} MiB)",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0,
        JOURNAL_DEFAULT,
        dashscope_mock::journal::DEFAULT_JOURNAL_MAX_BYTES / (1024 * 1024),
    );
    drop(conns);

    // Non-stream: capture the mock's answer, serve the same bytes from the peers.
    let (status, headers, body) = rt.block_on(post_once(&mut probe, UNARY_BODY));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let headers = replayable(&headers);
    let axum_server = bare_axum(headers.clone(), body.clone());
    let wiremock_server = rt.block_on(async {
        let server = wiremock::MockServer::start().await;
        let mut template = wiremock::ResponseTemplate::new(200).set_body_bytes(body.to_vec());
        for (k, v) in &headers {
            if let Ok(v) = v.to_str() {
                template = template.append_header(k.as_str(), v);
            }
        }
        wiremock::Mock::given(wiremock::matchers::method("POST"))
            .and(wiremock::matchers::path(CHAT_PATH))
            .respond_with(template)
            .mount(&server)
            .await;
        server
    });
    // The same mock with a one-entry journal, to show what journaling costs.
    let mock_j1 = dashscope_mock::MockServer::builder()
        .speed(0.0)
        .journal_capacity(1)
        .start()
        .expect("mock server");
    let targets = [
        ("dashscope-mock", mock.address()),
        ("dashscope-mock-journal1", mock_j1.address()),
        ("bare-axum", axum_server.addr()),
        ("wiremock", *wiremock_server.address()),
    ];
    let (total, nconn) = UNARY;
    let rounds = std::env::var("MOCK_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(9);
    let timed = std::env::args().any(|a| a == "--bench")
        && !std::env::args().any(|a| a == "--profile-time");
    let mut group = c.benchmark_group("mock/unary");
    group.sample_size(10);
    group.throughput(Throughput::Elements(total as u64));
    for (name, addr) in targets {
        let mut conns = rt.block_on(connect_all(addr, nconn));
        // Every peer must answer the same bytes before it is timed.
        let (s, _, b) = rt.block_on(post_once(&mut conns[0], UNARY_BODY));
        assert_eq!((s, &b), (200, &body), "{name}");
        group.bench_function(name, |bch| {
            bch.iter(|| {
                let taken = std::mem::take(&mut conns);
                let (back, bytes) = rt.block_on(run(taken, split(total, nconn), UNARY_BODY));
                assert_eq!(bytes, total * body.len());
                conns = back;
            });
        });
    }
    group.finish();
    if timed && rounds > 0 {
        interleaved(&rt, &targets, body.len(), rounds);
    }
    drop(probe);
    drop(axum_server);
    drop(mock);
    drop(mock_j1);
    rt.block_on(async move { drop(wiremock_server) });
    rt.shutdown_timeout(Duration::from_millis(200));
}

/// CPU time in ns of this process's threads so far: `(load generator and main thread, the
/// rest)`, from `/proc/self/task/*/schedstat` (zeros where unreadable).
fn cpu_split_ns() -> (u64, u64) {
    let pid = std::process::id().to_string();
    let (mut client, mut server) = (0, 0);
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return (0, 0);
    };
    for task in tasks.flatten() {
        let dir = task.path();
        let ns: u64 = std::fs::read_to_string(dir.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
            .unwrap_or(0);
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.starts_with("load-gen") || task.file_name().to_str() == Some(pid.as_str()) {
            client += ns;
        } else {
            server += ns;
        }
    }
    (client, server)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

/// The unary run, interleaved: `rounds` rounds, each server in turn (rotating the order) gets
/// [`UNARY`] requests; prints per-server medians and the ratios of the first server (the
/// mock) and the second (the mock with a one-entry journal) to the others.
fn interleaved(
    rt: &tokio::runtime::Runtime,
    targets: &[(&str, SocketAddr)],
    body_len: usize,
    rounds: usize,
) {
    let (total, nconn) = UNARY;
    let mut conns: Vec<Vec<Conn>> = targets
        .iter()
        .map(|(_, addr)| rt.block_on(connect_all(*addr, nconn)))
        .collect();
    // (requests/s, server CPU µs per request, load generator CPU µs per request) per round.
    let mut got: Vec<Vec<(f64, f64, f64)>> = vec![Vec::new(); targets.len()];
    let load_before = load_average();
    for round in 0..rounds {
        for k in 0..targets.len() {
            let t = (round + k) % targets.len();
            let taken = std::mem::take(&mut conns[t]);
            let (c0, s0) = cpu_split_ns();
            let start = std::time::Instant::now();
            let (back, bytes) = rt.block_on(run(taken, split(total, nconn), UNARY_BODY));
            let wall = start.elapsed().as_secs_f64();
            let (c1, s1) = cpu_split_ns();
            assert_eq!(bytes, total * body_len);
            conns[t] = back;
            let per = |ns: u64| ns as f64 / 1000.0 / total as f64;
            got[t].push((total as f64 / wall, per(s1 - s0), per(c1 - c0)));
        }
    }
    eprintln!(
        "mock/unary interleaved: {rounds} rounds x {total} requests over {nconn} connections, \
         load average {load_before} -> {}",
        load_average()
    );
    eprintln!(
        "  {:<26} {:>14} {:>12} {:>22} {:>24}",
        "server", "median req/s", "best req/s", "server CPU us/request", "load-gen CPU us/request"
    );
    for ((name, _), runs) in targets.iter().zip(&got) {
        let rps: Vec<f64> = runs.iter().map(|r| r.0).collect();
        let best = rps.iter().copied().fold(0.0, f64::max);
        let server: Vec<f64> = runs.iter().map(|r| r.1).collect();
        let client: Vec<f64> = runs.iter().map(|r| r.2).collect();
        eprintln!(
            "  {name:<26} {:>14.0} {best:>12.0} {:>22.1} {:>24.1}",
            median(&rps),
            median(&server),
            median(&client)
        );
    }
    for (i, (mine, _)) in targets.iter().enumerate().take(2) {
        for (j, (peer, _)) in targets.iter().enumerate().skip(2) {
            let per_round: Vec<f64> = got[i].iter().zip(&got[j]).map(|(a, b)| a.0 / b.0).collect();
            let lo = per_round.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = per_round.iter().copied().fold(0.0, f64::max);
            let cpu: Vec<f64> = got[i].iter().zip(&got[j]).map(|(a, b)| b.1 / a.1).collect();
            eprintln!(
                "  {mine} / {peer}: throughput {:.2}x (median of per-round ratios; range \
                 {lo:.2}x to {hi:.2}x), server CPU per request {:.2}x less",
                median(&per_round),
                median(&cpu)
            );
        }
    }
}

fn main() {
    // Wall clock only: the work runs on runtime worker threads, which the thread CPU clock
    // would not see.
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
