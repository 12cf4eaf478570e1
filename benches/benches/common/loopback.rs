//! Loopback helpers shared by the end-to-end and throughput benches and the memory example: a
//! bare axum server on its own thread and runtime, the workloads it serves, and RSS sampling.

#![allow(dead_code)] // each bench uses a different part

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use bytes::Bytes;
use dashscope_benches::script::{Conversation, Scale};
use dashscope_benches::streams::{Dialect, StreamWorkload};

/// The compat path both clients post to.
pub const CHAT_PATH: &str = "/compatible-mode/v1/chat/completions";

/// What the bare server answers.
#[derive(Clone)]
pub enum StreamBody {
    /// One pre-rendered body, sent as it is.
    Whole(Bytes),
    /// `head`, then `middle` `repeat` times, then `tail`, as separate body frames (a long stream
    /// without a long buffer).
    Repeated {
        /// Sent first.
        head: Bytes,
        /// Sent `repeat` times.
        middle: Bytes,
        /// How often.
        repeat: usize,
        /// Sent last.
        tail: Bytes,
    },
}

struct Bodies {
    stream: StreamBody,
    unary: Bytes,
}

/// A bare axum server on `127.0.0.1`, serving [`CHAT_PATH`]: the stream body to a request
/// whose body holds `"stream":true`, the non-stream body otherwise. No matching, no journal.
pub struct BareServer {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl BareServer {
    /// Starts the server on its own thread with a `workers`-thread runtime.
    pub fn start(stream: StreamBody, unary: Bytes, workers: usize) -> BareServer {
        let bodies = Arc::new(Bodies { stream, unary });
        let app = Router::new()
            .route(CHAT_PATH, post(answer))
            .with_state(bodies);
        Self::serve(app, workers)
    }

    /// Serves any router on its own thread with a `workers`-thread runtime.
    pub fn serve(app: Router, workers: usize) -> BareServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).expect("non-blocking");
        let addr = listener.local_addr().expect("local address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .enable_all()
                .build()
                .expect("server runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await;
            });
            rt.shutdown_timeout(Duration::from_millis(200));
        });
        BareServer {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn uri(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for BareServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn answer(State(bodies): State<Arc<Bodies>>, req: Bytes) -> Response {
    let stream = memchr::memmem::find(&req, b"\"stream\":true").is_some();
    let builder = Response::builder().status(200);
    if !stream {
        return builder
            .header("content-type", "application/json")
            .body(Body::from(bodies.unary.clone()))
            .expect("static response");
    }
    let body = match &bodies.stream {
        StreamBody::Whole(b) => Body::from(b.clone()),
        StreamBody::Repeated {
            head,
            middle,
            repeat,
            tail,
        } => {
            let frames = std::iter::once(head.clone())
                .chain(std::iter::repeat_n(middle.clone(), *repeat))
                .chain(std::iter::once(tail.clone()))
                .map(Ok::<Bytes, Infallible>);
            Body::from_stream(futures_util::stream::iter(frames))
        }
    };
    builder
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(body)
        .expect("static response")
}

/// A compat stream of about `events` events: the standard turn's proportions (30% thinking,
/// 55% answer, two tool calls with 7.5% of the events each).
pub fn compat_stream(events: usize) -> StreamWorkload {
    let scale = Scale {
        reasoning: events * 3 / 10,
        answer: events * 55 / 100,
        tool_calls: 2,
        fragments_per_call: events * 75 / 1000,
    };
    StreamWorkload::of(Dialect::Compat, &Conversation::generate(0x5EED_0E2E, scale))
}

/// A compat stream of about `events` events made of one turn without tool calls (about
/// 10,000 events) whose delta events are repeated: `(head, middle, repeat, tail, events)`.
/// The head is empty; the tail holds the finish chunk, the usage chunk and `[DONE]`.
pub fn repeated_compat_stream(events: usize) -> (StreamBody, usize) {
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
    (
        StreamBody::Repeated {
            head: Bytes::new(),
            middle,
            repeat,
            tail,
        },
        per * repeat + 3,
    )
}

/// `VmRSS` and `VmHWM` of this process, in KiB (0 where unreadable).
pub fn rss_kib() -> (u64, u64) {
    rss_of("/proc/self/status")
}

/// `VmRSS` and `VmHWM` from a `/proc/<pid>/status` file, in KiB (0 where unreadable).
pub fn rss_of(path: &str) -> (u64, u64) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Samples `VmRSS` every 10 ms on a thread until dropped; keeps the peak and the samples.
pub struct RssSampler {
    peak: Arc<AtomicU64>,
    samples: Arc<std::sync::Mutex<Vec<u64>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RssSampler {
    /// Starts sampling.
    pub fn start() -> RssSampler {
        let peak = Arc::new(AtomicU64::new(0));
        let samples = Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (p, s, st) = (peak.clone(), samples.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                let (rss, _) = rss_kib();
                p.fetch_max(rss, Ordering::Relaxed);
                if let Ok(mut v) = s.lock() {
                    v.push(rss);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        RssSampler {
            peak,
            samples,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops sampling: `(peak KiB, samples)`.
    pub fn finish(mut self) -> (u64, Vec<u64>) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let samples = self.samples.lock().map(|v| v.clone()).unwrap_or_default();
        (self.peak.load(Ordering::Relaxed), samples)
    }
}
