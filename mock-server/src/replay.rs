//! Turns a [`RecordedResponse`] into an HTTP response: recorded status and headers (order and,
//! through [`MockListener`](crate::conn::MockListener), case), the body as exact bytes, chunks
//! one by one with their delays, and the stream faults of a [`FaultPlan`].
//!
//! Headers the mock does not replay: `content-encoding` (bodies are stored decoded),
//! `connection` and `keep-alive` (hop-by-hop), and a `content-length` that does not equal the
//! body's length. hyper adds `date` (when not recorded) and `content-length` or
//! `transfer-encoding: chunked` (when not recorded) itself.

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use axum::body::Body as AxumBody;
use axum::response::Response;
use bytes::Bytes;
use dashscope_protocol::cassette::{Body, RecordedResponse};
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};
use tokio::sync::watch;

use crate::conn::{DIRECTIVE_HEADER, Directive};
use crate::faults::{FaultPlan, MAX_DELAY};

/// Server-wide timing settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timing {
    /// Speed factor for recorded delays (2 = twice as fast; 0 or less: no recorded delays).
    pub speed: f64,
    /// Extra delay before each chunk after the first.
    pub chunk_delay: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            speed: 1.0,
            chunk_delay: Duration::ZERO,
        }
    }
}

/// Headers never replayed.
fn dropped_header(name: &str) -> bool {
    [
        "content-encoding",
        "connection",
        "keep-alive",
        "proxy-connection",
    ]
    .iter()
    .any(|h| h.eq_ignore_ascii_case(name))
}

/// The recorded headers as replayed for a body of `body_len` bytes, and the names whose case
/// the connection must restore (see the module docs for what is left out).
fn replayed_headers(
    recorded: &RecordedResponse,
    body_len: usize,
    cut_or_stall: bool,
) -> (HeaderMap, Vec<String>) {
    let mut headers = HeaderMap::new();
    let mut case = Vec::new();
    let chunked_recorded = recorded.headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.trim().eq_ignore_ascii_case("chunked")
    });
    for (name, value) in &recorded.headers {
        if dropped_header(name) {
            continue;
        }
        if name.eq_ignore_ascii_case("content-length") {
            let same = value.trim().parse::<usize>().ok() == Some(body_len);
            if !same || chunked_recorded || cut_or_stall {
                continue;
            }
        }
        if name.eq_ignore_ascii_case("transfer-encoding")
            && !value.trim().eq_ignore_ascii_case("chunked")
        {
            continue;
        }
        let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) else {
            tracing::warn!("skipping a recorded header that is not valid HTTP: {name:?}");
            continue;
        };
        if n.as_str() != name {
            case.push(name.clone());
        }
        headers.append(n, v);
    }
    (headers, case)
}

/// A recorded response rendered once for replay: status, headers and directive as
/// `HeaderValue`s, the body as `Bytes`. A request without byte-changing faults is answered
/// from it by cloning (reference counts, no parsing or copying); any other request goes
/// through [`build`], with the same result.
#[derive(Clone)]
pub(crate) struct Prepared {
    status: StatusCode,
    /// The headers for the body as recorded (no cut, no stall).
    headers: HeaderMap,
    /// The case directive, for a connection that honours it.
    directive: Option<HeaderValue>,
    /// A recorded `transfer-encoding: chunked` is replayed (the body is then of unknown length).
    chunked_kept: bool,
    /// The body: one piece for a JSON or text body, the recorded chunks (delay in ms) for a
    /// stream.
    pieces: Vec<(u64, Bytes)>,
    /// Whether the body is a stream of chunks.
    stream: bool,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("status", &self.status)
            .field("headers", &self.headers.len())
            .field("pieces", &self.pieces.len())
            .finish_non_exhaustive()
    }
}

impl Prepared {
    /// Renders `recorded` for replay.
    pub(crate) fn new(recorded: &RecordedResponse) -> Prepared {
        let (pieces, stream) = pieces_of(&recorded.body);
        let body_len = pieces.iter().map(|(_, b)| b.len()).sum();
        let (headers, case) = replayed_headers(recorded, body_len, false);
        let directive = (!case.is_empty())
            .then(|| {
                HeaderValue::from_str(&Directive { case, reset: false }.to_header_value()).ok()
            })
            .flatten();
        Prepared {
            status: StatusCode::from_u16(recorded.status)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            chunked_kept: headers.contains_key(http::header::TRANSFER_ENCODING),
            headers,
            directive,
            pieces,
            stream,
        }
    }

    /// The response [`build`] gives for this plan, or `None` when the plan changes bytes, cuts
    /// or stalls (then use [`build`]). `shutdown` is called only when the body has delays.
    pub(crate) fn respond(
        &self,
        plan: &FaultPlan,
        timing: Timing,
        directives: bool,
        shutdown: impl FnOnce() -> watch::Receiver<bool>,
    ) -> Option<Response> {
        let changes_bytes = plan.no_blank_lines
            || plan.invalid_utf8.is_some()
            || plan.malformed_json.is_some()
            || plan.oversized_chunk.is_some();
        if changes_bytes || plan.cut_after.is_some() || plan.stall_after.is_some() {
            return None;
        }
        let mut status = self.status;
        let mut headers = self.headers.clone();
        if plan.partial {
            status = StatusCode::OK;
            headers.insert(
                "x-dashscope-partialresponse",
                HeaderValue::from_static("true"),
            );
        }
        if directives {
            if let Some(d) = &self.directive {
                headers.append(DIRECTIVE_HEADER, d.clone());
            }
        }
        let scale = scaler(timing, plan);
        let between = timing.chunk_delay + plan.chunk_delay;
        let delay = |i: usize, ms: u64| {
            let mut d = scale(ms);
            if self.stream && i > 0 {
                d += between;
            }
            if i == 0 {
                d += plan.ttfb;
            }
            d
        };
        let no_delays = self
            .pieces
            .iter()
            .enumerate()
            .all(|(i, (ms, _))| delay(i, *ms).is_zero());
        let body = if no_delays && !self.chunked_kept && self.pieces.len() <= 1 {
            AxumBody::from(
                self.pieces
                    .first()
                    .map(|(_, b)| b.clone())
                    .unwrap_or_default(),
            )
        } else if no_delays {
            // Frames of unknown total length, like the played stream below without its waits.
            AxumBody::new(Pieces(
                self.pieces
                    .iter()
                    .map(|(_, b)| b.clone())
                    .collect::<Vec<_>>()
                    .into_iter(),
            ))
        } else {
            let chunks = self
                .pieces
                .iter()
                .enumerate()
                .map(|(i, (ms, b))| (delay(i, *ms), b.clone()))
                .collect();
            play(Play {
                chunks,
                pad: None,
                padding: false,
                sent: 0,
                cut_after: None,
                stall_after: None,
                stall: plan.stall,
                stalled: false,
                done: false,
                shutdown: shutdown(),
            })
        };
        let mut response = Response::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Some(response)
    }
}

/// A body of pieces sent one frame each, of unknown total length (so a recorded
/// `transfer-encoding: chunked` can stay).
struct Pieces(std::vec::IntoIter<Bytes>);

impl http_body::Body for Pieces {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, io::Error>>> {
        std::task::Poll::Ready(self.0.next().map(|b| Ok(http_body::Frame::data(b))))
    }
}

fn play(play: Play) -> AxumBody {
    AxumBody::from_stream(futures_util::stream::unfold(play, |mut p| async move {
        let item = p.next().await?;
        Some((item, p))
    }))
}

/// Recorded delays at the server's and the plan's speed (zero when the speed is 0 or less;
/// at most [`MAX_DELAY`] each).
fn scaler(timing: Timing, plan: &FaultPlan) -> impl Fn(u64) -> Duration {
    let speed = timing.speed * plan.speed;
    move |ms: u64| {
        if speed > 0.0 && speed.is_finite() {
            // A tiny speed (several specs' factors multiplied) makes at most the longest delay.
            Duration::try_from_secs_f64(ms as f64 / 1000.0 / speed)
                .map_or(MAX_DELAY, |d| d.min(MAX_DELAY))
        } else {
            Duration::ZERO
        }
    }
}

/// Builds the HTTP response.
///
/// `directives` says whether the connection honours [`DIRECTIVE_HEADER`] (it came through the
/// mock's listener). `shutdown` turns true when the server stops: stalled and delayed streams
/// then end.
pub fn build(
    recorded: &RecordedResponse,
    plan: &FaultPlan,
    timing: Timing,
    directives: bool,
    shutdown: watch::Receiver<bool>,
) -> Response {
    build_from(recorded, None, plan, timing, directives, shutdown)
}

/// [`build`], sharing the bytes of `recorded`'s pre-rendered form when there is one (a faulted
/// replay then copies only the chunks its faults change).
pub(crate) fn build_from(
    recorded: &RecordedResponse,
    prepared: Option<&Prepared>,
    plan: &FaultPlan,
    timing: Timing,
    directives: bool,
    shutdown: watch::Receiver<bool>,
) -> Response {
    let rendered;
    let pieces = match prepared {
        Some(p) => (p.pieces.as_slice(), p.stream),
        None => {
            rendered = pieces_of(&recorded.body);
            (rendered.0.as_slice(), rendered.1)
        }
    };
    let mut chunks = body_chunks(pieces, plan, timing);
    let pad = apply_content_faults(&mut chunks, plan);
    let body_len: usize =
        chunks.iter().map(|(_, b)| b.len()).sum::<usize>() + pad.as_ref().map_or(0, Pad::len);
    let cut_or_stall = plan.cut_after.is_some() || plan.stall_after.is_some();

    let mut status =
        StatusCode::from_u16(recorded.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if plan.partial {
        status = StatusCode::OK;
    }

    let (mut headers, case) = replayed_headers(recorded, body_len, cut_or_stall);
    if plan.partial {
        headers.insert(
            "x-dashscope-partialresponse",
            HeaderValue::from_static("true"),
        );
    }
    if directives && !case.is_empty() {
        let d = Directive { case, reset: false };
        if let Ok(v) = HeaderValue::from_str(&d.to_header_value()) {
            headers.append(DIRECTIVE_HEADER, v);
        }
    }

    // A kept `transfer-encoding: chunked` needs a body of unknown length: for a sized body
    // axum would add a `content-length`, which hyper then refuses next to the chunked header.
    let chunked_kept = headers.contains_key(http::header::TRANSFER_ENCODING);
    let simple = !cut_or_stall
        && !chunked_kept
        && pad.is_none()
        && chunks.len() <= 1
        && chunks.iter().all(|(d, _)| d.is_zero());
    let body = if simple {
        AxumBody::from(chunks.pop_front().map(|(_, b)| b).unwrap_or_default())
    } else {
        play(Play {
            chunks,
            pad,
            padding: false,
            sent: 0,
            // A single body was split at the cut (see `body_chunks`): cut after its first piece.
            cut_after: match (&recorded.body, plan.cut_after) {
                (Body::Chunks(_), n) => n,
                (_, Some(_)) => Some(1),
                (_, None) => None,
            },
            stall_after: plan.stall_after,
            stall: plan.stall,
            stalled: false,
            done: false,
            shutdown,
        })
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// A response that resets the connection: through the mock's listener a real TCP reset before
/// any byte; otherwise a body that fails at once.
pub fn reset(directives: bool) -> Response {
    if directives {
        let mut r = Response::new(AxumBody::empty());
        *r.status_mut() = StatusCode::BAD_GATEWAY;
        r.headers_mut()
            .insert(DIRECTIVE_HEADER, HeaderValue::from_static("reset"));
        r
    } else {
        let failing = futures_util::stream::once(async {
            Err::<Bytes, io::Error>(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "connection reset by an x-mock-fault",
            ))
        });
        let mut r = Response::new(AxumBody::from_stream(failing));
        *r.status_mut() = StatusCode::BAD_GATEWAY;
        r
    }
}

/// A body as pieces of bytes with their recorded delays (ms): the recorded chunks of a
/// stream, or the one piece of a JSON or text body; and whether it is a stream.
fn pieces_of(body: &Body) -> (Vec<(u64, Bytes)>, bool) {
    match body {
        Body::Chunks(chunks) => (
            chunks
                .iter()
                .map(|c| (c.delay_ms, Bytes::copy_from_slice(c.data.as_bytes())))
                .collect(),
            true,
        ),
        other => (vec![(0, Bytes::from(other.to_bytes()))], false),
    }
}

/// The body as `(delay before it, bytes)` pieces, sharing the bytes of `pieces`.
fn body_chunks(
    (pieces, stream): (&[(u64, Bytes)], bool),
    plan: &FaultPlan,
    timing: Timing,
) -> VecDeque<(Duration, Bytes)> {
    let scale = scaler(timing, plan);
    let between = timing.chunk_delay + plan.chunk_delay;
    let mut out: VecDeque<(Duration, Bytes)> = if stream {
        pieces
            .iter()
            .enumerate()
            .map(|(i, (ms, b))| {
                let extra = if i == 0 { Duration::ZERO } else { between };
                (scale(*ms) + extra, b.clone())
            })
            .collect()
    } else {
        {
            let bytes = pieces.first().map(|(_, b)| b.clone()).unwrap_or_default();
            match plan.cut_after {
                // A single body cut after N bytes: two pieces, the cut falls between them.
                Some(n) if (n as usize) < bytes.len() => {
                    let n = n as usize;
                    VecDeque::from([
                        (Duration::ZERO, bytes.slice(..n)),
                        (Duration::ZERO, bytes.slice(n..)),
                    ])
                }
                _ => VecDeque::from([(Duration::ZERO, bytes)]),
            }
        }
    };
    if let Some(first) = out.front_mut() {
        first.0 += plan.ttfb;
    }
    out
}

/// The byte range of the JSON payload of the first `data:` line (or the whole piece when it
/// has none and looks like JSON).
fn data_payload(piece: &[u8]) -> Option<(usize, usize)> {
    let start = if let Some(p) = find(piece, b"data:") {
        let mut s = p + 5;
        if piece.get(s) == Some(&b' ') {
            s += 1;
        }
        s
    } else {
        piece.iter().position(|b| !b.is_ascii_whitespace())?
    };
    let end = piece[start..]
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .map_or(piece.len(), |p| start + p);
    (end > start).then_some((start, end))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn edit(piece: &Bytes, f: impl FnOnce(&mut Vec<u8>)) -> Bytes {
    let mut v = piece.to_vec();
    f(&mut v);
    Bytes::from(v)
}

/// Applies the faults that change bytes: blank lines, invalid UTF-8, malformed JSON, and
/// padding, which comes back apart (the first chunk left empty in its place).
fn apply_content_faults(chunks: &mut VecDeque<(Duration, Bytes)>, plan: &FaultPlan) -> Option<Pad> {
    if plan.no_blank_lines {
        for (_, piece) in chunks.iter_mut() {
            if piece.ends_with(b"\r\n\r\n") {
                *piece = piece.slice(..piece.len() - 2);
            } else if piece.ends_with(b"\n\n") {
                *piece = piece.slice(..piece.len() - 1);
            }
        }
    }
    let nth = |n: Option<u64>| {
        n.and_then(|n| usize::try_from(n).ok())
            .and_then(|n| n.checked_sub(1))
    };
    if let Some(i) = nth(plan.invalid_utf8) {
        if let Some((_, piece)) = chunks.get_mut(i) {
            *piece = edit(piece, |v| {
                let at = data_payload(v)
                    .and_then(|(s, e)| v[s..e].iter().position(|&b| b == b'"').map(|p| s + p + 1))
                    .unwrap_or(v.len());
                v.splice(at..at, [0xFF, 0xFE]);
            });
        }
    }
    if let Some(i) = nth(plan.malformed_json) {
        if let Some((_, piece)) = chunks.get_mut(i) {
            *piece = edit(piece, |v| {
                if let Some((s, e)) = data_payload(v) {
                    // Cut in the middle, on a character boundary: the fault is malformed JSON,
                    // not invalid UTF-8.
                    let mut keep = s + (e - s) / 2;
                    while keep > s && (v[keep] & 0xC0) == 0x80 {
                        keep -= 1;
                    }
                    v.drain(keep..e);
                }
            });
        }
    }
    let pad_len = plan.oversized_chunk?;
    let (_, piece) = chunks.front_mut()?;
    let (s, e) = data_payload(piece)?;
    let brace = piece[s..e].iter().position(|&b| b == b'{').map(|p| s + p)?;
    let empty = piece[brace + 1..e]
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        == Some(&b'}');
    let mut before = piece[..=brace].to_vec();
    before.extend_from_slice(b"\"x_mock_pad\":\"");
    let mut after = if empty {
        b"\"".to_vec()
    } else {
        b"\",".to_vec()
    };
    after.extend_from_slice(&piece[brace + 1..]);
    *piece = Bytes::new();
    Some(Pad {
        before: Bytes::from(before),
        left: pad_len,
        after: Bytes::from(after),
    })
}

/// The bytes `oversized-chunk` pads the first event's JSON with.
static PAD: [u8; 64 * 1024] = [b'a'; 64 * 1024];

/// The first event of a body padded by `oversized-chunk`: sent in pieces, the padding as
/// slices of [`PAD`], so that a padded response holds no more memory than another.
struct Pad {
    /// The event up to the padding member's value.
    before: Bytes,
    /// Padding bytes still to send.
    left: u64,
    /// The rest of the event.
    after: Bytes,
}

impl Pad {
    fn len(&self) -> usize {
        self.before.len() + self.left as usize + self.after.len()
    }
}

/// A body being played out.
struct Play {
    chunks: VecDeque<(Duration, Bytes)>,
    /// The padded first event, if any, and whether it is being sent.
    pad: Option<Pad>,
    padding: bool,
    sent: u64,
    cut_after: Option<u64>,
    stall_after: Option<u64>,
    stall: Option<Duration>,
    stalled: bool,
    done: bool,
    shutdown: watch::Receiver<bool>,
}

fn stopped() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "the mock server is shutting down",
    )
}

impl Play {
    /// Waits `d`, or until the server stops (then `false`).
    async fn wait(&mut self, d: Option<Duration>) -> bool {
        let stop = self.shutdown.wait_for(|s| *s);
        match d {
            Some(d) => tokio::select! {
                () = tokio::time::sleep(d) => true,
                _ = stop => false,
            },
            None => {
                let _ = stop.await;
                false
            }
        }
    }

    async fn next(&mut self) -> Option<Result<Bytes, io::Error>> {
        if self.done {
            return None;
        }
        if self.padding {
            if let Some(p) = &mut self.pad {
                if p.left > 0 {
                    let n = p.left.min(PAD.len() as u64);
                    p.left -= n;
                    return Some(Ok(Bytes::from_static(&PAD[..n as usize])));
                }
                let after = std::mem::take(&mut p.after);
                self.pad = None;
                self.padding = false;
                self.sent += 1;
                return Some(Ok(after));
            }
        }
        if self.stall_after == Some(self.sent) && !self.stalled && !self.chunks.is_empty() {
            self.stalled = true;
            if !self.wait(self.stall).await {
                self.done = true;
                return Some(Err(stopped()));
            }
        }
        if self.cut_after == Some(self.sent) {
            self.done = true;
            // Let hyper flush what was sent before the cut: it writes buffered bytes out when
            // the body is pending, and drops them when the body fails.
            tokio::task::yield_now().await;
            return Some(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "stream cut by an x-mock-fault",
            )));
        }
        let (delay, bytes) = self.chunks.pop_front()?;
        if !delay.is_zero() && !self.wait(Some(delay)).await {
            self.done = true;
            return Some(Err(stopped()));
        }
        if self.sent == 0 {
            if let Some(p) = &mut self.pad {
                self.padding = true;
                return Some(Ok(std::mem::take(&mut p.before)));
            }
        }
        self.sent += 1;
        Some(Ok(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dashscope_protocol::cassette::Chunk;

    fn chunks(data: &[&str]) -> Body {
        Body::Chunks(
            data.iter()
                .map(|d| Chunk {
                    delay_ms: 0,
                    data: (*d).to_owned(),
                })
                .collect(),
        )
    }

    fn played(body: &Body, plan: &FaultPlan) -> Vec<Vec<u8>> {
        let (pieces, stream) = pieces_of(body);
        let mut c = body_chunks((&pieces, stream), plan, Timing::default());
        let pad = apply_content_faults(&mut c, plan);
        let mut out: Vec<Vec<u8>> = c.into_iter().map(|(_, b)| b.to_vec()).collect();
        if let Some(p) = pad {
            let mut first = p.before.to_vec();
            first.extend(std::iter::repeat_n(b'a', p.left as usize));
            first.extend_from_slice(&p.after);
            out[0] = first;
        }
        out
    }

    #[test]
    fn content_faults() {
        let body = chunks(&["id:1\nevent:result\ndata:{\"a\":\"x\"}\n\n", "data: {}\n\n"]);
        let plan = FaultPlan {
            no_blank_lines: true,
            ..FaultPlan::none()
        };
        assert_eq!(
            played(&body, &plan)[0],
            b"id:1\nevent:result\ndata:{\"a\":\"x\"}\n"
        );
        let plan = FaultPlan {
            invalid_utf8: Some(1),
            ..FaultPlan::none()
        };
        let out = played(&body, &plan);
        assert!(std::str::from_utf8(&out[0]).is_err());
        assert_eq!(
            out[0],
            b"id:1\nevent:result\ndata:{\"\xFF\xFEa\":\"x\"}\n\n"
        );
        let plan = FaultPlan {
            malformed_json: Some(1),
            ..FaultPlan::none()
        };
        let out = played(&body, &plan);
        assert_eq!(out[0], b"id:1\nevent:result\ndata:{\"a\"\n\n");
        let plan = FaultPlan {
            oversized_chunk: Some(3),
            ..FaultPlan::none()
        };
        let out = played(&body, &plan);
        assert_eq!(
            out[0],
            b"id:1\nevent:result\ndata:{\"x_mock_pad\":\"aaa\",\"a\":\"x\"}\n\n"
        );
        let json = Body::Text("{}".into());
        let out = played(&json, &plan);
        assert_eq!(out[0], b"{\"x_mock_pad\":\"aaa\"}");
        let _: serde_json::Value = serde_json::from_slice(&out[0]).unwrap();
    }

    /// Status, headers in order, the body's known length and its bytes.
    type Observed = (u16, Vec<(String, Vec<u8>)>, Option<u64>, Vec<u8>);

    fn observe(rt: &tokio::runtime::Runtime, r: Response) -> Observed {
        use http_body::Body as _;
        let headers = r
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect();
        let (status, size) = (r.status().as_u16(), r.body().size_hint().exact());
        let body = rt
            .block_on(axum::body::to_bytes(r.into_body(), usize::MAX))
            .expect("the body plays")
            .to_vec();
        (status, headers, size, body)
    }

    /// The pre-rendered response answers as `build` does, for every embedded fixture and every
    /// plan it takes (no fault, `partial`, a first-byte or chunk delay, recorded delays at
    /// a high speed), with and without directives; and it declines the plans that change bytes.
    #[test]
    fn prepared_responses_answer_as_build_does() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (fixtures, _) = crate::fixtures::embedded();
        let ms = Duration::from_millis;
        let plans = [
            FaultPlan::none(),
            FaultPlan {
                partial: true,
                ..FaultPlan::none()
            },
            FaultPlan {
                ttfb: ms(1),
                ..FaultPlan::none()
            },
            FaultPlan {
                chunk_delay: ms(1),
                speed: 4.0,
                ..FaultPlan::none()
            },
        ];
        let timings = [
            Timing {
                speed: 0.0,
                chunk_delay: Duration::ZERO,
            },
            Timing {
                speed: 1_000_000.0,
                chunk_delay: Duration::ZERO,
            },
        ];
        let (_tx, rx) = watch::channel(false);
        let mut compared = 0;
        for f in fixtures.iter().filter(|f| f.unified().is_none()) {
            let recorded = &f.cassette.response;
            let prepared = Prepared::new(recorded);
            for plan in &plans {
                // Directives change only headers: the delayed plans (slow to play) run once.
                let delayed = !plan.ttfb.is_zero() || !plan.chunk_delay.is_zero();
                let directive_cases: &[bool] = if delayed { &[true] } else { &[false, true] };
                for timing in timings {
                    for &directives in directive_cases {
                        let fast = prepared
                            .respond(plan, timing, directives, || rx.clone())
                            .expect("no byte-changing fault");
                        let slow = build(recorded, plan, timing, directives, rx.clone());
                        assert_eq!(
                            observe(&rt, fast),
                            observe(&rt, slow),
                            "{} {plan:?} {timing:?} directives={directives}",
                            f.cassette.name
                        );
                        compared += 1;
                    }
                }
            }
            for declined in [
                FaultPlan {
                    cut_after: Some(1),
                    ..FaultPlan::none()
                },
                FaultPlan {
                    stall_after: Some(1),
                    ..FaultPlan::none()
                },
                FaultPlan {
                    no_blank_lines: true,
                    ..FaultPlan::none()
                },
                FaultPlan {
                    malformed_json: Some(1),
                    ..FaultPlan::none()
                },
                FaultPlan {
                    invalid_utf8: Some(1),
                    ..FaultPlan::none()
                },
                FaultPlan {
                    oversized_chunk: Some(3),
                    ..FaultPlan::none()
                },
            ] {
                let t = timings[0];
                assert!(
                    prepared
                        .respond(&declined, t, true, || rx.clone())
                        .is_none()
                );
            }
        }
        assert!(compared > 300, "{compared}");
    }

    #[test]
    fn timing_scales() {
        let body = Body::Chunks(vec![
            Chunk {
                delay_ms: 100,
                data: "a".into(),
            },
            Chunk {
                delay_ms: 100,
                data: "b".into(),
            },
        ]);
        let plan = FaultPlan {
            ttfb: Duration::from_millis(7),
            speed: 2.0,
            ..FaultPlan::none()
        };
        let t = Timing {
            speed: 1.0,
            chunk_delay: Duration::from_millis(3),
        };
        let (pieces, stream) = pieces_of(&body);
        let c: Vec<Duration> = body_chunks((&pieces, stream), &plan, t)
            .into_iter()
            .map(|(d, _)| d)
            .collect();
        assert_eq!(c, [Duration::from_millis(57), Duration::from_millis(53)]);
        let t = Timing {
            speed: 0.0,
            chunk_delay: Duration::ZERO,
        };
        let c: Vec<Duration> = body_chunks((&pieces, stream), &FaultPlan::none(), t)
            .into_iter()
            .map(|(d, _)| d)
            .collect();
        assert_eq!(c, [Duration::ZERO, Duration::ZERO]);
    }
}
