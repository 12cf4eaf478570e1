//! Turns a [`RecordedResponse`] into an HTTP response: recorded status and headers (order and
//! case), the body as exact bytes, chunks one by one with their delays, and the stream faults
//! of a [`FaultPlan`].
//!
//! A response is rendered once ([`Prepared`]: a cassette's when it is loaded, a generated
//! answer's when it is made): headers as a `HeaderMap`, the body as `Bytes`. Answering from
//! it clones reference counts; only the chunks a fault changes are copied. A body without
//! delays goes out as one frame (all of it is ready), so hyper writes it with one vectored
//! write.
//!
//! Headers the mock does not replay: `content-encoding` (bodies are stored decoded),
//! `connection`, `keep-alive` and `proxy-connection` (hop-by-hop), and a `content-length` that
//! does not equal the body's length. hyper adds `date` (when not recorded) and `content-length`
//! or `transfer-encoding: chunked` (when not recorded) itself.
//!
//! **Header-name case.** hyper writes names in lower case, except for a response that carries
//! in its extensions the header-case map hyper's own client records with
//! `preserve_header_case`: it then writes those spellings (hyper's documented way to forward
//! the case of a proxied response). The map is private to hyper, so [`Prepared`] has hyper's
//! client read, in memory, a head holding the recorded names, once, and keeps the extensions it
//! gets back.

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use axum::body::Body as AxumBody;
use axum::response::{IntoResponse as _, Response};
use bytes::Bytes;
use dashscope_protocol::cassette::{Body, RecordedResponse};
use http::header::{CONTENT_LENGTH, HeaderName, HeaderValue, TRANSFER_ENCODING};
use http::{Extensions, HeaderMap, StatusCode};
use tokio::sync::watch;

use crate::faults::{FaultPlan, MAX_DELAY};

/// Headers never replayed.
const DROPPED: [&str; 4] = [
    "content-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
];

/// A response rendered once for replay (see the module docs).
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) status: StatusCode,
    headers: HeaderMap,
    /// The recorded header-name case, for hyper (none when every name is lower case).
    case: Option<Extensions>,
    /// Whether the body is a stream of chunks.
    pub(crate) stream: bool,
    /// The body: the recorded chunks with the delay before each (ms), or one piece.
    pub(crate) pieces: Vec<(u64, Bytes)>,
    /// The whole body in one piece.
    whole: Bytes,
}

impl Prepared {
    /// Renders `recorded` for replay (its strings become the body without a copy).
    pub(crate) fn new(recorded: RecordedResponse) -> Prepared {
        let (whole, pieces, stream) = match recorded.body {
            Body::Chunks(chunks) => {
                // One buffer; the chunks are slices of it.
                let texts: Vec<&str> = chunks.iter().map(|c| c.data.as_str()).collect();
                let whole = Bytes::from(texts.concat());
                let mut end = 0;
                let pieces = chunks.iter().map(|c| {
                    end += c.data.len();
                    (c.delay_ms, whole.slice(end - c.data.len()..end))
                });
                (whole.clone(), pieces.collect(), true)
            }
            other => {
                let whole = match other {
                    Body::Text(t) => Bytes::from(t),
                    other => Bytes::from(other.to_bytes()),
                };
                (whole.clone(), vec![(0, whole)], false)
            }
        };
        let chunked = recorded.headers.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case("transfer-encoding") && v.trim().eq_ignore_ascii_case("chunked")
        });
        let mut headers = HeaderMap::with_capacity(recorded.headers.len());
        let mut names = Vec::new();
        for (name, value) in &recorded.headers {
            let keep = if name.eq_ignore_ascii_case("content-length") {
                value.trim().parse::<usize>().ok() == Some(whole.len()) && !chunked
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                value.trim().eq_ignore_ascii_case("chunked")
            } else {
                !DROPPED.iter().any(|h| h.eq_ignore_ascii_case(name))
            };
            let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_bytes(value.as_bytes()),
            ) else {
                tracing::warn!("skipping a recorded header that is not valid HTTP: {name:?}");
                continue;
            };
            if keep {
                headers.append(n, v);
                names.push(name.as_str());
            }
        }
        let case = names
            .iter()
            .any(|n| n.bytes().any(|b| b.is_ascii_uppercase()));
        Prepared {
            status: StatusCode::from_u16(recorded.status)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            case: case.then(|| case_extensions(&names)).flatten(),
            headers,
            stream,
            pieces,
            whole,
        }
    }

    /// The whole body.
    pub(crate) fn body(&self) -> &Bytes {
        &self.whole
    }

    /// The HTTP response for `plan`, with recorded delays at `speed` times the speed (0: none)
    /// plus `chunk_delay` before every chunk after the first. `shutdown` turns true when the
    /// server stops: stalled and delayed streams then end.
    pub(crate) fn respond(
        &self,
        plan: &FaultPlan,
        speed: f64,
        chunk_delay: Duration,
        shutdown: impl FnOnce() -> watch::Receiver<bool>,
    ) -> Response {
        let speed = speed * plan.speed;
        let between = chunk_delay + plan.chunk_delay;
        let recorded_delays = speed > 0.0 && self.pieces.iter().any(|(ms, _)| *ms > 0);
        let timed =
            self.stream && (recorded_delays || (!between.is_zero() && self.pieces.len() > 1));
        let changed = plan.no_blank_lines
            || plan.invalid_utf8.is_some()
            || plan.malformed_json.is_some()
            || plan.oversized_chunk.is_some()
            || plan.cut_after.is_some()
            || plan.stall_after.is_some();
        let mut headers = self.headers.clone();
        let body = if timed || changed || !plan.ttfb.is_zero() {
            self.play(plan, speed, between, &mut headers, shutdown())
        } else if self.stream || headers.contains_key(TRANSFER_ENCODING) {
            // Everything is ready: one frame, of unknown length (a stream, or a recorded
            // `transfer-encoding: chunked`).
            let whole = Ok::<_, io::Error>(self.whole.clone());
            AxumBody::from_stream(futures_util::stream::iter([whole]))
        } else {
            AxumBody::from(self.whole.clone())
        };
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        if plan.partial {
            *response.status_mut() = StatusCode::OK;
            headers.insert(
                "x-dashscope-partialresponse",
                HeaderValue::from_static("true"),
            );
        }
        *response.headers_mut() = headers;
        if let Some(case) = &self.case {
            response.extensions_mut().extend(case.clone());
        }
        response
    }

    /// The body played out piece by piece, with its delays and faults (a recorded length that
    /// no longer holds is dropped from `headers`).
    fn play(
        &self,
        plan: &FaultPlan,
        speed: f64,
        between: Duration,
        headers: &mut HeaderMap,
        shutdown: watch::Receiver<bool>,
    ) -> AxumBody {
        let scale = |ms: u64| {
            if speed > 0.0 && speed.is_finite() && ms > 0 {
                // A tiny speed (several specs' factors multiplied) makes at most the longest delay.
                Duration::try_from_secs_f64(ms as f64 / 1000.0 / speed)
                    .map_or(MAX_DELAY, |d| d.min(MAX_DELAY))
            } else {
                Duration::ZERO
            }
        };
        let mut chunks: VecDeque<(Duration, Bytes)> = if self.stream {
            let delay =
                |i: usize, ms: u64| scale(ms) + if i > 0 { between } else { Duration::ZERO };
            let pieces = self.pieces.iter().enumerate();
            pieces
                .map(|(i, (ms, b))| (delay(i, *ms), b.clone()))
                .collect()
        } else {
            match plan.cut_after.and_then(|n| usize::try_from(n).ok()) {
                // A single body cut after N bytes: two pieces, the cut falls between them.
                Some(n) if n < self.whole.len() => VecDeque::from([
                    (Duration::ZERO, self.whole.slice(..n)),
                    (Duration::ZERO, self.whole.slice(n..)),
                ]),
                _ => VecDeque::from([(Duration::ZERO, self.whole.clone())]),
            }
        };
        if let Some(first) = chunks.front_mut() {
            first.0 += plan.ttfb;
        }
        let pad = apply_content_faults(&mut chunks, plan);
        let padding = pad
            .as_ref()
            .map_or(0, |(left, after)| *left as usize + after.len());
        let len = chunks.iter().map(|(_, b)| b.len()).sum::<usize>() + padding;
        let recorded = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
        let cut_or_stall = plan.cut_after.is_some() || plan.stall_after.is_some();
        if cut_or_stall || recorded.is_some_and(|n| n != len) {
            headers.remove(CONTENT_LENGTH);
        }
        let play = Play {
            chunks,
            pad,
            sent: 0,
            // A single body was split at the cut: cut after its first piece.
            cut_after: if self.stream {
                plan.cut_after
            } else {
                plan.cut_after.map(|_| 1)
            },
            stall_after: plan.stall_after,
            stall: plan.stall,
            stalled: false,
            done: false,
            shutdown,
        };
        AxumBody::from_stream(futures_util::stream::unfold(play, |mut p| async move {
            let item = p.next().await?;
            Some((item, p))
        }))
    }
}

/// The extensions hyper's client gives a response whose header names are spelled as `names`
/// (see the module docs); `None` if hyper does not read the head.
fn case_extensions(names: &[&str]) -> Option<Extensions> {
    use futures_util::FutureExt as _;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    // Each name with a value hyper accepts for it; a length if the names give no framing.
    let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
    let mut framed = false;
    for n in names {
        let value = match n.to_ascii_lowercase().as_str() {
            "content-length" => "0",
            "transfer-encoding" => "chunked",
            _ => "x",
        };
        framed |= value != "x";
        head.extend_from_slice(format!("{n}: {value}\r\n").as_bytes());
    }
    if !framed {
        head.extend_from_slice(b"content-length: 0\r\n");
    }
    head.extend_from_slice(b"\r\n");
    let (client, mut server) = tokio::io::duplex(head.len() + 4096);
    let read = async move {
        let io = hyper_util::rt::TokioIo::new(client);
        let (mut send, conn) = hyper::client::conn::http1::Builder::new()
            .preserve_header_case(true)
            .handshake::<_, http_body_util::Empty<Bytes>>(io)
            .await
            .ok()?;
        // The peer answers once the request is written.
        let peer = async {
            let mut request = [0u8; 256];
            let _ = server.read(&mut request).await;
            let _ = server.write_all(&head).await;
            std::future::pending::<()>().await;
        };
        let request = send.send_request(http::Request::new(http_body_util::Empty::new()));
        let driven = async { tokio::join!(conn, peer) };
        tokio::select! {
            r = request => r.ok().map(|r| r.into_parts().0.extensions),
            _ = driven => None,
        }
    };
    // Everything is in memory: each poll (with a no-op waker) makes progress, and a few suffice.
    let mut read = std::pin::pin!(read);
    (0..64).find_map(|_| read.as_mut().now_or_never())?
}

/// A response that resets the connection: a body that fails at once (through
/// [`serve`](crate::serve) the connection is reset before it is written, see
/// [`conn`](crate::conn)).
pub(crate) fn reset() -> Response {
    let failing = futures_util::stream::once(async {
        Err::<Bytes, io::Error>(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "connection reset by an x-mock-fault",
        ))
    });
    (StatusCode::BAD_GATEWAY, AxumBody::from_stream(failing)).into_response()
}

/// The byte range of the JSON payload of the first `data:` line (or the whole piece when it
/// has none and looks like JSON).
fn data_payload(piece: &[u8]) -> Option<(usize, usize)> {
    let start = match memchr::memmem::find(piece, b"data:") {
        Some(p) => p + 5 + usize::from(piece.get(p + 5) == Some(&b' ')),
        None => piece.iter().position(|b| !b.is_ascii_whitespace())?,
    };
    let end = piece[start..]
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .map_or(piece.len(), |p| start + p);
    (end > start).then_some((start, end))
}

fn edit(piece: &Bytes, f: impl FnOnce(&mut Vec<u8>)) -> Bytes {
    let mut v = piece.to_vec();
    f(&mut v);
    Bytes::from(v)
}

/// Applies the faults that change bytes: blank lines, invalid UTF-8, malformed JSON, and
/// padding: the first chunk is cut where the padding goes, and its padding bytes and the rest
/// of it come back apart.
fn apply_content_faults(
    chunks: &mut VecDeque<(Duration, Bytes)>,
    plan: &FaultPlan,
) -> Option<(u64, Bytes)> {
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
    if let Some((_, piece)) = nth(plan.invalid_utf8).and_then(|i| chunks.get_mut(i)) {
        *piece = edit(piece, |v| {
            let at = data_payload(v)
                .and_then(|(s, e)| v[s..e].iter().position(|&b| b == b'"').map(|p| s + p + 1))
                .unwrap_or(v.len());
            v.splice(at..at, [0xFF, 0xFE]);
        });
    }
    if let Some((_, piece)) = nth(plan.malformed_json).and_then(|i| chunks.get_mut(i)) {
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
    let left = plan.oversized_chunk?;
    let (_, piece) = chunks.front_mut()?;
    let (s, e) = data_payload(piece)?;
    let brace = piece[s..e].iter().position(|&b| b == b'{').map(|p| s + p)?;
    // The padding is the first member: a comma follows it unless the object is empty.
    let empty = piece[brace + 1..e].trim_ascii_start().starts_with(b"}");
    let end: &[u8] = if empty { b"\"" } else { b"\"," };
    let after = [end, &piece[brace + 1..]].concat();
    *piece = Bytes::from([&piece[..=brace], b"\"x_mock_pad\":\""].concat());
    Some((left, Bytes::from(after)))
}

/// The bytes `oversized-chunk` pads the first event's JSON with.
static PAD: [u8; 64 * 1024] = [b'a'; 64 * 1024];

/// A body being played out.
struct Play {
    chunks: VecDeque<(Duration, Bytes)>,
    /// `oversized-chunk`: the padding bytes still to send after the first chunk, then the rest
    /// of that chunk (sent in pieces, the padding as slices of [`PAD`], so that a padded
    /// response holds no more memory than another).
    pad: Option<(u64, Bytes)>,
    /// The chunks sent (a padded first chunk's padding and rest go before a stall or a cut).
    sent: u64,
    cut_after: Option<u64>,
    stall_after: Option<u64>,
    stall: Option<Duration>,
    stalled: bool,
    done: bool,
    shutdown: watch::Receiver<bool>,
}

impl Play {
    /// Waits `d` (`None`: for ever), or until the server stops (then `false`).
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

    /// Ends the body with an error: the connection is aborted.
    fn abort(&mut self, why: &'static str) -> Option<Result<Bytes, io::Error>> {
        self.done = true;
        Some(Err(io::Error::new(io::ErrorKind::ConnectionAborted, why)))
    }

    async fn next(&mut self) -> Option<Result<Bytes, io::Error>> {
        const STOPPED: &str = "the mock server is shutting down";
        if self.done {
            return None;
        }
        if let Some((left, after)) = self.pad.as_mut().filter(|_| self.sent == 1) {
            if *left > 0 {
                let n = (*left).min(PAD.len() as u64);
                *left -= n;
                return Some(Ok(Bytes::from_static(&PAD[..n as usize])));
            }
            let after = std::mem::take(after);
            self.pad = None;
            return Some(Ok(after));
        }
        if self.stall_after == Some(self.sent) && !self.stalled && !self.chunks.is_empty() {
            self.stalled = true;
            if !self.wait(self.stall).await {
                return self.abort(STOPPED);
            }
        }
        if self.cut_after == Some(self.sent) {
            // Let hyper flush what was sent before the cut: it writes buffered bytes out when
            // the body is pending, and drops them when the body fails.
            tokio::task::yield_now().await;
            return self.abort("stream cut by an x-mock-fault");
        }
        let (delay, bytes) = self.chunks.pop_front()?;
        if !delay.is_zero() && !self.wait(Some(delay)).await {
            return self.abort(STOPPED);
        }
        self.sent += 1;
        Some(Ok(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_case_is_kept_for_hyper() {
        let names = ["X-Request-ID", "Set-Cookie", "set-cookie", "Date"];
        let ext = case_extensions(&names).expect("hyper reads the head");
        assert!(!ext.is_empty());
    }
}
