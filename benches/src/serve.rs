//! The servers the end-to-end and throughput benches talk to on `127.0.0.1`, and what they
//! answer.
//!
//! * [`Answers`]: a compat stream cut into its SSE events, and a non-stream answer with its
//!   headers. Every server answers `POST` [`CHAT_PATH`]: the stream to a body holding
//!   `"stream":true`, the non-stream answer otherwise.
//! * [`BareServer`]: axum with one handler returning those bytes (no matching, no journal), on
//!   its own thread and runtime; the stream sent as one body or one HTTP chunk per event
//!   ([`Delivery`]).
//! * [`start_mock`]: `dashscope-mock` at speed 0 with [`stream_cassette`] added at run time;
//!   its embedded fixture `chat/basic-nonstream` answers the non-stream request.
//! * [`stream_mock`] and [`unary_mock`]: the same answers as wiremock-rs mocks.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use axum::serve::ListenerExt as _;
use bytes::Bytes;
use dashscope_protocol::cassette::{self, Cassette, Chunk, Matcher, RecordedRequest};
use http_body::Frame;

use crate::script::{Conversation, Scale};
use crate::streams::{Dialect, StreamWorkload};

/// The compat path both clients post to.
pub const CHAT_PATH: &str = "/compatible-mode/v1/chat/completions";

/// The model every bench request names.
pub const MODEL: &str = "qwen-plus";

/// The stream's headers, from every server.
pub const STREAM_HEADERS: [(&str, &str); 2] = [
    ("content-type", "text/event-stream;charset=UTF-8"),
    ("cache-control", "no-cache"),
];

/// The mock's embedded non-stream answer, which the peers serve as well.
const BASIC_NONSTREAM: &str = include_str!("../../mock-server/fixtures/chat/basic-nonstream.json");

/// What a server answers.
#[derive(Clone, Debug)]
pub struct Answers {
    /// The stream body in the pieces a server sends one HTTP chunk each: one SSE event each
    /// (`data: [DONE]` last), except in the memory example, whose pieces are blocks of events.
    pub pieces: Arc<[Bytes]>,
    /// The chunks a client sees in the stream: every event but `[DONE]`.
    pub chunks: usize,
    /// The non-stream body.
    pub unary: Bytes,
    /// The non-stream answer's headers (no framing headers, no date).
    pub unary_headers: Vec<(String, String)>,
}

impl Answers {
    /// A compat stream of exactly `chunks` chunks in the standard turn's proportions (30%
    /// thinking, two tool calls of 7.5% fragments each, the rest answer, then the finish and
    /// usage chunks and `[DONE]`), and the mock's `chat/basic-nonstream` answer.
    pub fn compat(chunks: usize) -> Answers {
        let fragments = chunks * 75 / 1000;
        let reasoning = chunks * 3 / 10;
        // Each tool call adds an opening and a closing chunk to its fragments.
        let fixed = 2 * (fragments + 2) + 2;
        let scale = Scale {
            reasoning,
            answer: chunks.saturating_sub(reasoning + fixed).max(1),
            tool_calls: 2,
            fragments_per_call: fragments.max(1),
        };
        let w = StreamWorkload::of(Dialect::Compat, &Conversation::generate(0x5EED_0E2E, scale));
        let cassette = Cassette::from_json(BASIC_NONSTREAM).expect("embedded fixture");
        Answers {
            pieces: events(&Bytes::from(w.bytes)),
            chunks: w.events - 1,
            unary: Bytes::from(cassette.response.body.to_bytes()),
            unary_headers: cassette
                .response
                .headers
                .into_iter()
                .filter(|(k, _)| {
                    !["content-length", "transfer-encoding", "date", "connection"]
                        .iter()
                        .any(|h| k.eq_ignore_ascii_case(h))
                })
                .collect(),
        }
    }

    /// The same stream with another non-stream JSON body.
    pub fn with_unary(mut self, body: Bytes) -> Answers {
        self.unary = body;
        self.unary_headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        self
    }

    /// The whole stream body, in one buffer.
    pub fn stream_body(&self) -> Bytes {
        Bytes::from(self.pieces.concat())
    }

    /// The stream body's length in bytes.
    pub fn stream_len(&self) -> usize {
        self.pieces.iter().map(Bytes::len).sum()
    }
}

/// `body` cut after each SSE event (`\n\n`), without copying.
pub fn events(body: &Bytes) -> Arc<[Bytes]> {
    let mut out = Vec::new();
    let mut at = 0;
    for end in memchr::memmem::find_iter(body, b"\n\n") {
        out.push(body.slice(at..end + 2));
        at = end + 2;
    }
    if at < body.len() {
        out.push(body.slice(at..));
    }
    out.into()
}

/// How the bare server sends the stream body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// One body of known length (`content-length`), written as fast as the socket takes it:
    /// the client gets large reads.
    Whole,
    /// One HTTP chunk per piece, all ready at once, so hyper may put several in one write: the
    /// body shape of the mock at speed 0.
    Frames,
    /// One HTTP chunk per piece, each written to the socket (flushed) before the next is
    /// produced: a server sending events as the model makes them, at full speed.
    PerEvent,
}

/// A bare axum server on `127.0.0.1`: [`Answers`] with no matching and no journal.
#[derive(Debug)]
pub struct BareServer {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

struct Served {
    answers: Answers,
    delivery: Delivery,
    /// The stream body in one buffer, for [`Delivery::Whole`].
    whole: Bytes,
}

impl BareServer {
    /// Starts the server on `127.0.0.1:port` (0: any free port), on its own thread with a
    /// `workers`-thread runtime. Accepted sockets get `TCP_NODELAY`, as the mock's do.
    ///
    /// # Panics
    ///
    /// When the port cannot be bound or the runtime not built.
    pub fn start(answers: Answers, delivery: Delivery, workers: usize, port: u16) -> BareServer {
        let whole = match delivery {
            Delivery::Whole => answers.stream_body(),
            Delivery::Frames | Delivery::PerEvent => Bytes::new(),
        };
        let served = Arc::new(Served {
            answers,
            delivery,
            whole,
        });
        let app = Router::new()
            .route(CHAT_PATH, post(answer))
            .with_state(served);
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind 127.0.0.1");
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
                let listener = tokio::net::TcpListener::from_std(listener)
                    .expect("listener")
                    .tap_io(|tcp| {
                        let _ = tcp.set_nodelay(true);
                    });
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

async fn answer(State(served): State<Arc<Served>>, req: Bytes) -> Response {
    let answers = &served.answers;
    let mut builder = Response::builder().status(200);
    if memchr::memmem::find(&req, b"\"stream\":true").is_none() {
        for (k, v) in &answers.unary_headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        return builder
            .body(Body::from(answers.unary.clone()))
            .expect("static response");
    }
    for (k, v) in STREAM_HEADERS {
        builder = builder.header(k, v);
    }
    let body = match served.delivery {
        Delivery::Whole => Body::from(served.whole.clone()),
        Delivery::Frames | Delivery::PerEvent => Body::new(Pieces {
            pieces: answers.pieces.clone(),
            next: 0,
            flush: served.delivery == Delivery::PerEvent,
            parked: false,
        }),
    };
    builder.body(body).expect("static response")
}

/// A body sending one frame per piece. With `flush`, it answers `Pending` once before every
/// piece after the first (waking itself at once): hyper then writes out what it holds before
/// it asks again, so each piece leaves in its own write.
struct Pieces {
    pieces: Arc<[Bytes]>,
    next: usize,
    flush: bool,
    parked: bool,
}

impl http_body::Body for Pieces {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = &mut *self;
        if this.flush && this.next > 0 && !this.parked {
            this.parked = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        this.parked = false;
        let piece = this.pieces.get(this.next).cloned();
        this.next += 1;
        Poll::Ready(piece.map(|b| Ok(Frame::data(b))))
    }
}

/// The user message of every bench request; [`stream_cassette`] matches on it.
pub const PROMPT: &str = "Hello!";

/// A cassette answering compat stream requests for [`MODEL`] whose one message is the user's
/// [`PROMPT`] with `answers`' stream, one recorded chunk per piece, no delays, and a priority
/// above every embedded fixture. (Other stream requests get the embedded fixtures' answers.)
pub fn stream_cassette(answers: &Answers) -> Cassette {
    let body = serde_json::json!({
        "model": MODEL,
        "messages": [{"role": "user", "content": PROMPT}],
        "stream": true,
    });
    Cassette {
        version: cassette::CASSETTE_VERSION,
        name: "chat/bench-stream".to_owned(),
        description: format!("benches: a compat stream of {} chunks", answers.chunks),
        source: Some("synthetic (dashscope-benches)".to_owned()),
        dialect: cassette::Dialect::Chat,
        request: RecordedRequest {
            method: "POST".to_owned(),
            path: CHAT_PATH.to_owned(),
            headers: Default::default(),
            body: Some(body.clone()),
        },
        matcher: Some(Matcher {
            body: Some(body),
            ..Default::default()
        }),
        priority: 100,
        once: false,
        response: cassette::RecordedResponse {
            status: 200,
            headers: STREAM_HEADERS
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body: cassette::Body::Chunks(
                answers
                    .pieces
                    .iter()
                    .map(|p| Chunk {
                        delay_ms: 0,
                        data: String::from_utf8(p.to_vec()).expect("UTF-8 stream"),
                    })
                    .collect(),
            ),
        },
    }
}

/// `dashscope-mock` as a test starts it, at speed 0 (no recorded delays), on
/// `127.0.0.1:port` (0: any free port), with [`stream_cassette`] added.
///
/// # Panics
///
/// When the mock does not start.
pub fn start_mock(answers: &Answers, port: u16) -> dashscope_mock::MockServer {
    let mock = dashscope_mock::MockServer::builder()
        .speed(0.0)
        .bind("127.0.0.1", port)
        .start()
        .expect("mock server");
    mock.add_cassette(stream_cassette(answers));
    mock
}

/// A wiremock-rs mock answering `POST` [`CHAT_PATH`] with a body holding `"stream":true`
/// with the stream as one body (wiremock-rs has no way to send a body in pieces), above
/// [`unary_mock`] in priority.
pub fn stream_mock(answers: &Answers) -> wiremock::Mock {
    let mut template = wiremock::ResponseTemplate::new(200)
        .set_body_raw(answers.stream_body().to_vec(), STREAM_HEADERS[0].1);
    for (k, v) in &STREAM_HEADERS[1..] {
        template = template.append_header(*k, *v);
    }
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path(CHAT_PATH))
        .and(wiremock::matchers::body_string_contains("\"stream\":true"))
        .respond_with(template)
        .with_priority(1)
}

/// A wiremock-rs mock answering `POST` [`CHAT_PATH`] with the non-stream answer.
pub fn unary_mock(answers: &Answers) -> wiremock::Mock {
    let mut template = wiremock::ResponseTemplate::new(200).set_body_bytes(answers.unary.to_vec());
    for (k, v) in &answers.unary_headers {
        template = template.append_header(k.as_str(), v.as_str());
    }
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path(CHAT_PATH))
        .respond_with(template)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compat_answers_hold_exactly_the_chunks_asked_for() {
        for chunks in [200, 2_000] {
            let a = Answers::compat(chunks);
            assert_eq!(a.chunks, chunks);
            // One piece per event, `[DONE]` included, and nothing lost in the cutting.
            assert_eq!(a.pieces.len(), chunks + 1);
            assert!(a.pieces.iter().all(|p| p.ends_with(b"\n\n")));
            assert_eq!(
                a.pieces.last().map(|p| &p[..]),
                Some(&b"data: [DONE]\n\n"[..])
            );
            assert!(a.unary.starts_with(b"{\"model\":\"qwen-plus\""));
            assert!(
                a.unary_headers
                    .iter()
                    .all(|(k, _)| k != "transfer-encoding" && k != "date")
            );
        }
    }
}
