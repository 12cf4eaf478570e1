//! A real HTTP test server on 127.0.0.1:0, and the scenarios both backends are tested against.
//!
//! Each [`Server`] runs on its own thread with its own current-thread tokio runtime, so
//! blocking tests (with no runtime of their own) and async tests use it alike. Dropping the
//! server stops it. Scenarios either speak HTTP through hyper ([`http`]) or write raw bytes on
//! the socket ([`raw`]) when the test needs to misbehave precisely: stall, go silent, watch for
//! the client hanging up.

#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::future::Future;
use std::io::Write as _;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// The key every test sends in `Authorization`; no error may ever show it.
pub const API_KEY: &str = "sk-test-0123456789abcdefSECRETKEY";

/// The bound on every test: a hang fails the test instead of hanging CI.
pub const TEST_BOUND: Duration = Duration::from_secs(20);

/// A running test server.
pub struct Server {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let panicked = thread.join().is_err();
            if panicked && !std::thread::panicking() {
                panic!("the test server thread panicked");
            }
        }
    }
}

/// Starts a server that runs `accept_loop` on the listener until shutdown.
fn start<F, Fut>(accept_loop: F) -> Server
where
    F: FnOnce(TcpListener) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let (addr_tx, addr_rx) = mpsc::channel();
    let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("test-server".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("test server runtime");
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind 127.0.0.1:0");
                addr_tx
                    .send(listener.local_addr().expect("local addr"))
                    .expect("report addr");
                tokio::select! {
                    () = accept_loop(listener) => {}
                    _ = shutdown_rx => {}
                }
            });
            // Dropping the runtime cancels every connection task still running.
        })
        .expect("spawn test server thread");
    let addr = addr_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("test server started");
    Server {
        addr,
        shutdown: Some(shutdown_tx),
        thread: Some(thread),
    }
}

/// A response body the server writes frame by frame.
pub type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// A whole body.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    http_body_util::Full::new(bytes.into()).boxed()
}

/// A body fed from a channel: each `send` becomes one frame, dropping the sender ends it. A
/// `send` fails once hyper dropped the body, that is once the connection is gone.
pub fn channel_body() -> (tokio::sync::mpsc::Sender<Bytes>, Body) {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    (tx, ChannelBody(rx).boxed())
}

struct ChannelBody(tokio::sync::mpsc::Receiver<Bytes>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|b| Ok(Frame::data(b))))
    }
}

/// A server answering each request with `handler`, over HTTP/1.1 or HTTP/2 (prior knowledge).
pub fn http<F, Fut>(handler: F) -> Server
where
    F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let handler = Arc::new(handler);
    start(move |listener| async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let fut = handler(req);
                    async move { Ok::<_, Infallible>(fut.await) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
            });
        }
    })
}

/// A server handing each accepted connection to `handler`, which speaks raw bytes.
pub fn raw<F, Fut>(mut handler: F) -> Server
where
    F: FnMut(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    start(move |listener| async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(handler(stream));
        }
    })
}

/// A request as read off the socket.
pub struct RawRequest {
    /// The request line and headers, as text.
    pub head: String,
    /// The body (by `content-length`).
    pub body: Vec<u8>,
}

/// Reads one request: the head up to the blank line, then `content-length` bytes of body.
pub async fn read_request(stream: &mut TcpStream) -> RawRequest {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut tmp).await.expect("read request");
        assert!(n > 0, "client closed before sending a full request head");
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0usize);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = stream.read(&mut tmp).await.expect("read request body");
        assert!(n > 0, "client closed before sending the full body");
        body.extend_from_slice(&tmp[..n]);
    }
    RawRequest { head, body }
}

/// The head of a chunked 200 response carrying an event stream.
pub const STREAM_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
transfer-encoding: chunked\r\nx-request-id: req-stream-1\r\n\r\n";

/// Writes one chunk of a chunked body and flushes it.
pub async fn write_chunk(stream: &mut TcpStream, data: &[u8]) -> std::io::Result<()> {
    let mut frame = Vec::with_capacity(data.len() + 16);
    write!(frame, "{:x}\r\n", data.len()).expect("write to a Vec");
    frame.extend_from_slice(data);
    frame.extend_from_slice(b"\r\n");
    stream.write_all(&frame).await?;
    stream.flush().await
}

/// Ends a chunked body.
pub async fn end_chunks(stream: &mut TcpStream) -> std::io::Result<()> {
    stream.write_all(b"0\r\n\r\n").await?;
    stream.flush().await
}

pub const CHUNK_1: &[u8] = b"data: {\"n\":1}\n\n";
pub const CHUNK_2: &[u8] = b"data: {\"n\":2}\n\n";

/// Sends `CHUNK_1`, then waits for the test's signal before sending `CHUNK_2` and the end.
/// The returned sender is the signal.
pub fn gated_stream() -> (Server, tokio::sync::oneshot::Sender<()>) {
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    let mut go_rx = Some(go_rx);
    let server = raw(move |mut stream| {
        let go = go_rx.take();
        async move {
            read_request(&mut stream).await;
            stream.write_all(STREAM_HEAD).await.expect("head");
            write_chunk(&mut stream, CHUNK_1).await.expect("chunk 1");
            let Some(go) = go else { return };
            if go.await.is_err() {
                return; // the test gave up
            }
            write_chunk(&mut stream, CHUNK_2).await.expect("chunk 2");
            end_chunks(&mut stream).await.expect("end");
        }
    });
    (server, go_tx)
}

/// Sends `CHUNK_1`, then watches the socket for the client hanging up. Reports, within 5 s,
/// `Ok(time from chunk 1 to the hang-up)` or `Err(what happened instead)`.
pub fn disconnect_watch() -> (Server, mpsc::Receiver<Result<Duration, String>>) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let server = raw(move |mut stream| {
        let tx = tx.lock().expect("lock").clone();
        async move {
            read_request(&mut stream).await;
            stream.write_all(STREAM_HEAD).await.expect("head");
            write_chunk(&mut stream, CHUNK_1).await.expect("chunk 1");
            let sent = Instant::now();
            let mut buf = [0u8; 64];
            let verdict =
                match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => Ok(sent.elapsed()),
                    Ok(Ok(n)) => Err(format!("the client sent {n} more bytes instead of closing")),
                    Err(_) => Err("the connection was still open after 5 s".to_owned()),
                };
            let _ = tx.send(verdict);
        }
    });
    (server, rx)
}

/// Accepts, reads the request, then never answers (holds the connection open).
pub fn silent() -> Server {
    raw(|mut stream| async move {
        read_request(&mut stream).await;
        std::future::pending::<()>().await;
        drop(stream);
    })
}

/// Sends the head and `CHUNK_1`, then stalls with the connection open.
pub fn stall_after_first_chunk() -> Server {
    raw(|mut stream| async move {
        read_request(&mut stream).await;
        stream.write_all(STREAM_HEAD).await.expect("head");
        write_chunk(&mut stream, CHUNK_1).await.expect("chunk 1");
        std::future::pending::<()>().await;
        drop(stream);
    })
}

/// Sends the head and `CHUNK_1`, then closes the connection without ending the chunked body.
pub fn cut_after_first_chunk() -> Server {
    raw(|mut stream| async move {
        read_request(&mut stream).await;
        stream.write_all(STREAM_HEAD).await.expect("head");
        write_chunk(&mut stream, CHUNK_1).await.expect("chunk 1");
        drop(stream);
    })
}

/// Sends a chunk every `every`, up to 200 of them.
pub fn trickle(every: Duration) -> Server {
    raw(move |mut stream| async move {
        read_request(&mut stream).await;
        if stream.write_all(STREAM_HEAD).await.is_err() {
            return;
        }
        for _ in 0..200 {
            if write_chunk(&mut stream, CHUNK_1).await.is_err() {
                return;
            }
            tokio::time::sleep(every).await;
        }
        let _ = end_chunks(&mut stream).await;
    })
}

/// The block [`firehose`] sends over and over.
pub const FIREHOSE_BLOCK: usize = 64 * 1024;

/// The byte at `offset` of a [`firehose`] body.
pub fn firehose_byte(offset: usize) -> u8 {
    pattern(offset % FIREHOSE_BLOCK)
}

/// Sends a `len`-byte body (with a `content-length`: [`FIREHOSE_BLOCK`] bytes of [`pattern`]
/// over and over) as fast as the socket takes it. `written` counts the bytes the socket
/// accepted; the receiver gets the outcome of the writing once it stops: `Ok` when all went
/// out, the write error when the client went away.
pub fn firehose(
    len: usize,
) -> (
    Server,
    Arc<AtomicUsize>,
    mpsc::Receiver<std::io::Result<()>>,
) {
    let written = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let counter = written.clone();
    let server = raw(move |mut stream| {
        let tx = tx.lock().expect("lock").clone();
        let written = counter.clone();
        async move {
            read_request(&mut stream).await;
            let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {len}\r\n\r\n");
            let block = pattern_bytes(FIREHOSE_BLOCK);
            let outcome = async {
                stream.write_all(head.as_bytes()).await?;
                let mut at = 0;
                while at < len {
                    let n = (len - at).min(FIREHOSE_BLOCK);
                    stream.write_all(&block[..n]).await?;
                    at += n;
                    written.store(at, Ordering::SeqCst);
                }
                stream.flush().await
            }
            .await;
            let _ = tx.send(outcome);
        }
    });
    (server, written, rx)
}

/// Sends `count` chunks, `event(i)` each, each written and flushed on its own (one frame per
/// event, as an SSE server sends them), then ends the body.
pub fn one_frame_per_event(count: usize) -> Server {
    raw(move |mut stream| async move {
        read_request(&mut stream).await;
        if stream.write_all(STREAM_HEAD).await.is_err() {
            return;
        }
        for i in 0..count {
            if write_chunk(&mut stream, event(i).as_bytes()).await.is_err() {
                return;
            }
        }
        let _ = end_chunks(&mut stream).await;
    })
}

/// The `i`th event of [`one_frame_per_event`].
pub fn event(i: usize) -> String {
    format!("data: {{\"n\":{i}}}\n\n")
}

/// An address nothing listens on: connecting is refused.
pub fn refused_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    addr
}

/// A loopback address whose listener never accepts and whose accept queue is full, so a new
/// connection attempt hangs in the handshake (Linux drops the SYN). Keep the guard alive.
pub fn full_backlog() -> (SocketAddr, BacklogGuard) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut held = Vec::new();
    for _ in 0..4096 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
            Ok(s) => held.push(s),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                return (
                    addr,
                    BacklogGuard {
                        _listener: listener,
                        _held: held,
                    },
                );
            }
            Err(e) => panic!("filling the accept queue: {e}"),
        }
    }
    panic!("the accept queue never filled up");
}

/// Keeps [`full_backlog`]'s listener and queued connections open.
pub struct BacklogGuard {
    _listener: std::net::TcpListener,
    _held: Vec<std::net::TcpStream>,
}

/// Records each request's method, path, headers and body, then answers `201 Created` with
/// fixed headers (`RESPONSE_HEADERS`, `x-multi` twice) and a body.
pub fn header_echo() -> (Server, mpsc::Receiver<(String, String, HeaderMap, Bytes)>) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let server = http(move |req: Request<Incoming>| {
        let tx = tx.lock().expect("lock").clone();
        async move {
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let _ = tx.send((
                parts.method.to_string(),
                parts.uri.to_string(),
                parts.headers,
                body,
            ));
            let mut res = Response::builder().status(StatusCode::CREATED);
            for (name, value) in RESPONSE_HEADERS {
                res = res.header(*name, *value);
            }
            res.header("x-multi", "one")
                .header("x-multi", "two")
                .body(full("created"))
                .expect("response")
        }
    });
    (server, rx)
}

/// Response headers `header_echo` sends (besides `x-multi`).
pub const RESPONSE_HEADERS: &[(&str, &str)] = &[
    ("content-type", "application/json; charset=utf-8"),
    ("x-request-id", "7f3c6e2a-0000-4000-8000-000000000001"),
    ("x-dashscope-call-gateway", "true"),
    ("req-cost-time", "123"),
];

/// Answers with the status in the path (`/status/429`), a JSON error body, and
/// `retry-after: 2`.
pub fn status_server() -> Server {
    http(|req: Request<Incoming>| async move {
        let code: u16 = req
            .uri()
            .path()
            .rsplit('/')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(500);
        // Read the request body as a real server does: hyper closes a connection whose
        // request body was not read when it answers, and a client reusing that connection
        // for its next request would race the close (a flaky failure in CI).
        let _ = req.into_body().collect().await;
        let body = format!(r#"{{"code":"E{code}","message":"status {code}"}}"#);
        Response::builder()
            .status(code)
            .header("content-type", "application/json")
            .header("retry-after", "2")
            .body(full(body))
            .expect("response")
    })
}

/// The byte at `i` of the large test bodies: a pattern that catches reordering and loss.
pub fn pattern(i: usize) -> u8 {
    ((i * 31 + i / 7919) % 251) as u8
}

/// `len` bytes of [`pattern`].
pub fn pattern_bytes(len: usize) -> Vec<u8> {
    (0..len).map(pattern).collect()
}

/// Checks a request body of [`pattern`] bytes, then answers with `response_len` bytes of it,
/// in 64 KiB frames, and the request body's length in `x-request-body-len`. A bad request body
/// is answered with 400 and the reason.
pub fn big_body_server(response_len: usize) -> Server {
    http(move |req: Request<Incoming>| async move {
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        if let Some(i) = (0..body.len()).find(|&i| body[i] != pattern(i)) {
            let reason = format!("request body differs at byte {i} of {}", body.len());
            return Response::builder()
                .status(400)
                .body(full(reason))
                .expect("response");
        }
        let request_len = body.len();
        let (tx, body) = channel_body();
        tokio::spawn(async move {
            let data = Bytes::from(pattern_bytes(response_len));
            let mut at = 0;
            while at < data.len() {
                let end = (at + 64 * 1024).min(data.len());
                if tx.send(data.slice(at..end)).await.is_err() {
                    return;
                }
                at = end;
            }
        });
        Response::builder()
            .header("x-request-body-len", request_len.to_string())
            .body(body)
            .expect("response")
    })
}

/// Answers every request with its `x-index` header as the body.
pub fn index_echo() -> Server {
    http(|req: Request<Incoming>| async move {
        let index = req
            .headers()
            .get("x-index")
            .map(|v| v.as_bytes().to_vec())
            .unwrap_or_default();
        Response::builder().body(full(index)).expect("response")
    })
}

/// The text `gzip_server` compresses.
pub const GZIP_TEXT: &str = "data: {\"text\":\"compressed hello\"}\n\n";

/// Answers with `GZIP_TEXT` gzip-compressed when the request accepts gzip, else with 406.
pub fn gzip_server() -> Server {
    http(|req: Request<Incoming>| async move {
        let accepts = req
            .headers()
            .get_all("accept-encoding")
            .iter()
            .any(|v| v.to_str().is_ok_and(|s| s.contains("gzip")));
        if !accepts {
            return Response::builder()
                .status(406)
                .body(full("gzip not accepted"))
                .expect("406");
        }
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(GZIP_TEXT.as_bytes()).expect("gzip");
        let gz = enc.finish().expect("gzip");
        Response::builder()
            .header("content-encoding", "gzip")
            .header("content-type", "text/event-stream")
            .body(full(gz))
            .expect("response")
    })
}

/// Answers `/from` with a 302 to `/to`, and `/to` with 200.
pub fn redirect_server() -> Server {
    http(|req: Request<Incoming>| async move {
        if req.uri().path() == "/from" {
            Response::builder()
                .status(302)
                .header("location", "/to")
                .body(full(""))
                .expect("302")
        } else {
            Response::builder().body(full("followed")).expect("200")
        }
    })
}

/// Runs a blocking test body on its own thread and fails if it takes longer than
/// [`TEST_BOUND`]; a panic inside is passed on.
pub fn bounded_blocking<F: FnOnce() + Send + 'static>(f: F) {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(TEST_BOUND) {
        Ok(()) => thread.join().expect("test thread"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = thread.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("test timed out after {TEST_BOUND:?}"),
    }
}

/// Runs an async test body, failing if it takes longer than [`TEST_BOUND`].
pub async fn bounded<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(TEST_BOUND, fut)
        .await
        .expect("test timed out")
}

/// Asserts that neither `Display` nor `Debug` of `err`, nor of any error in its source
/// chain, shows `API_KEY` (or its distinctive tail).
pub fn assert_no_key(err: &(dyn std::error::Error + 'static)) {
    let mut texts = vec![err.to_string(), format!("{err:?}"), format!("{err:#?}")];
    let mut cur = err.source();
    while let Some(e) = cur {
        texts.push(e.to_string());
        texts.push(format!("{e:?}"));
        cur = e.source();
    }
    for t in texts {
        assert!(
            !t.contains(API_KEY),
            "the API key leaked into an error: {t}"
        );
        assert!(
            !t.contains("SECRETKEY"),
            "part of the API key leaked into an error: {t}"
        );
    }
}
