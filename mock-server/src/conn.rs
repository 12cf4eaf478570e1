//! The mock's own listener: a TCP connection wrapper that lets responses keep their recorded
//! header-name case and lets a fault reset the connection.
//!
//! hyper writes every header name in lower case and offers no public way to keep another
//! case, and a handler cannot reach its socket. So a handler whose connection came through
//! [`MockListener`] (it sees [`MockConn`] in its request extensions) adds one internal header,
//! [`DIRECTIVE_HEADER`], to its response: `case=X-Request-ID,Date` names headers to restore to
//! that case, `reset` asks for a TCP reset instead of the response. The wrapper follows the
//! HTTP/1.1 response stream it writes (heads, then `content-length` or chunked bodies), takes
//! the directive out of each head and applies it. Nothing else in the byte stream changes.
//!
//! Served without this listener (plain `axum::serve` of [`router`](crate::router), or
//! in-process), handlers add no directive: names go out in lower case and a `reset` fault
//! degrades to a body that fails at once.
//!
//! [`serve_with`](crate::server::serve_with) accepts through [`MockListener`] and marks each
//! request with `ConnectInfo<MockConn>` itself. A [`MockIo`] also closes gracefully when it is
//! shut down with request bytes unread (a body over the limit, a head over the header cap): it
//! keeps reading and dropping them for at most [`LINGER`], so the client reads the 413 / 431
//! instead of a reset.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// The internal response header that carries a directive to the connection wrapper.
pub const DIRECTIVE_HEADER: &str = "x-dashscope-mock-directive";

/// Heads longer than this are passed through untouched.
const MAX_HEAD: usize = 256 * 1024;

/// How long a closing connection keeps reading (and dropping) request bytes it left unread.
pub const LINGER: Duration = Duration::from_secs(5);

/// A TCP listener whose connections honour response directives.
#[derive(Debug)]
pub struct MockListener {
    inner: TcpListener,
}

impl MockListener {
    /// Wraps a bound listener.
    pub fn new(inner: TcpListener) -> Self {
        MockListener { inner }
    }
}

impl Listener for MockListener {
    type Io = MockIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    return (MockIo::new(stream), addr);
                }
                // Out of file descriptors and the like: back off and try again (axum does the same).
                Err(e) => {
                    tracing::debug!("accept error: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// The marker a handler finds in its request extensions (as `ConnectInfo<MockConn>`) when its
/// connection came through [`MockListener`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MockConn {
    /// The client's address.
    pub remote: SocketAddr,
}

impl Connected<IncomingStream<'_, MockListener>> for MockConn {
    fn connect_info(stream: IncomingStream<'_, MockListener>) -> Self {
        MockConn {
            remote: *stream.remote_addr(),
        }
    }
}

/// A directive for one response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Directive {
    /// Header names in the case to write them in, in order of appearance.
    pub case: Vec<String>,
    /// Reset the connection instead of writing the response.
    pub reset: bool,
}

impl Directive {
    /// The header value (`case=A,B;reset`).
    pub fn to_header_value(&self) -> String {
        let mut parts = Vec::new();
        if !self.case.is_empty() {
            parts.push(format!("case={}", self.case.join(",")));
        }
        if self.reset {
            parts.push("reset".to_owned());
        }
        parts.join(";")
    }

    /// Parses a header value; unknown parts are ignored.
    pub fn parse(value: &str) -> Directive {
        let mut d = Directive::default();
        for part in value.split(';').map(str::trim) {
            if part == "reset" {
                d.reset = true;
            } else if let Some(names) = part.strip_prefix("case=") {
                d.case = names
                    .split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
        }
        d
    }
}

/// A TCP stream that applies response directives (see the module docs).
///
/// It also closes gracefully when the request was not read to its end (a body over the size
/// limit answered with 413): after its FIN it reads and drops what the client still sends, for
/// at most [`LINGER`], before it closes. Closing at once would make the kernel answer the
/// client's next bytes with a reset, and a client still writing its body would then see a
/// broken pipe instead of the answer.
#[derive(Debug)]
pub struct MockIo {
    inner: TcpStream,
    rewriter: HeadRewriter,
    pending: Vec<u8>,
    pending_pos: usize,
    reset: bool,
    closing: Closing,
}

/// Where [`MockIo::poll_shutdown`] is.
#[derive(Debug)]
enum Closing {
    Open,
    /// FIN sent; dropping unread input until the client closes or the deadline.
    Lingering(Pin<Box<tokio::time::Sleep>>),
    Closed,
}

impl MockIo {
    fn new(inner: TcpStream) -> Self {
        MockIo {
            inner,
            rewriter: HeadRewriter::default(),
            pending: Vec::new(),
            pending_pos: 0,
            reset: false,
            closing: Closing::Open,
        }
    }

    /// Reads and drops input: `Ready(n)` at end of input or an error, `Pending` when no more
    /// is available now; `n` counts the bytes dropped.
    fn poll_discard(&mut self, cx: &mut Context<'_>, dropped: &mut usize) -> Poll<()> {
        let mut scratch = [0u8; 16 * 1024];
        loop {
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut self.inner).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(()),
                Poll::Ready(Ok(())) => *dropped += buf.filled().len(),
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                // tokio's co-operative budget makes a fast sender yield here too.
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.pending_pos < self.pending.len() {
            let n = ready!(
                Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.pending_pos..])
            )?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending_pos += n;
        }
        self.pending.clear();
        self.pending_pos = 0;
        Poll::Ready(Ok(()))
    }
}

fn reset_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        "connection reset by an x-mock-fault",
    )
}

impl AsyncRead for MockIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.reset {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for MockIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.reset {
            return Poll::Ready(Err(reset_error()));
        }
        ready!(this.poll_drain(cx))?;
        if this.rewriter.feed(buf, &mut this.pending) == Action::Reset {
            this.reset = true;
            this.pending.clear();
            // SO_LINGER 0: closing the socket sends RST instead of FIN.
            let _ = this.inner.set_zero_linger();
            return Poll::Ready(Err(reset_error()));
        }
        // Best effort now; poll_flush finishes the job.
        if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.reset {
            return Poll::Ready(Err(reset_error()));
        }
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.reset {
            return Poll::Ready(Ok(()));
        }
        loop {
            match &mut this.closing {
                Closing::Open => {
                    ready!(this.poll_drain(cx))?;
                    ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
                    let mut dropped = 0;
                    let ended = this.poll_discard(cx, &mut dropped).is_ready();
                    this.closing = if ended || dropped == 0 {
                        // The client closed, or left nothing unread: close now.
                        Closing::Closed
                    } else {
                        tracing::debug!("lingering to drop unread request bytes");
                        Closing::Lingering(Box::pin(tokio::time::sleep(LINGER)))
                    };
                }
                Closing::Lingering(deadline) => {
                    if deadline.as_mut().poll(cx).is_ready() {
                        this.closing = Closing::Closed;
                        continue;
                    }
                    let mut dropped = 0;
                    ready!(this.poll_discard(cx, &mut dropped));
                    this.closing = Closing::Closed;
                }
                Closing::Closed => return Poll::Ready(Ok(())),
            }
        }
    }
}

/// What the rewriter asks of the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Continue,
    Reset,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChunkState {
    /// Reading a chunk-size line (its bytes so far in the rewriter's buffer).
    Size,
    /// Inside chunk data.
    Data(u64),
    /// The CRLF after chunk data (bytes left).
    DataEnd(u8),
    /// Trailer lines after the last chunk (the current line so far in the buffer).
    Trailer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading a head (its bytes so far in the rewriter's buffer).
    Head,
    Length(u64),
    Chunked(ChunkState),
    /// Close-delimited body, or a head too long to follow: pass everything through.
    Passthrough,
}

/// Follows the HTTP/1.1 response stream and rewrites heads.
///
/// A head, a chunk-size line or a trailer line that arrives whole in one write is read in
/// place; only one split across writes is gathered in `buf` (kept between responses, so
/// following a connection allocates nothing per response). A head without a directive is
/// passed on as it is.
#[derive(Clone, Debug)]
struct HeadRewriter {
    state: State,
    buf: Vec<u8>,
}

impl Default for HeadRewriter {
    fn default() -> Self {
        HeadRewriter {
            state: State::Head,
            buf: Vec::new(),
        }
    }
}

/// The searcher for the end of a head, built once.
static HEAD_END: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\r\n\r\n"));

fn find_crlfcrlf(buf: &[u8], from: usize) -> Option<usize> {
    HEAD_END.find(buf.get(from..)?).map(|p| from + p + 4)
}

/// The size of a chunk from its size line (`None`: not a size).
fn chunk_size(line: &[u8]) -> Option<u64> {
    let text = String::from_utf8_lossy(line);
    let hex = text.split(';').next().unwrap_or("").trim();
    u64::from_str_radix(hex, 16).ok()
}

impl HeadRewriter {
    /// Consumes `input`, appending what to send to `out`.
    fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Action {
        while !input.is_empty() {
            match &mut self.state {
                State::Head => {
                    let old = self.buf.len();
                    if old == 0 {
                        // The usual case: the whole head in this write, read in place.
                        if let Some(end) = find_crlfcrlf(input, 0) {
                            let (head, rest) = input.split_at(end);
                            input = rest;
                            let (action, next) = rewrite_head(head, out);
                            if action == Action::Reset {
                                return Action::Reset;
                            }
                            self.state = next;
                            continue;
                        }
                    }
                    // A head split across writes: gather it.
                    self.buf.extend_from_slice(input);
                    let end = if old == 0 {
                        None
                    } else {
                        find_crlfcrlf(&self.buf, old.saturating_sub(3))
                    };
                    match end {
                        Some(end) => {
                            // The head ends inside this write: the rest of it is body bytes
                            // (or the next head).
                            input = &input[end - old..];
                            self.buf.truncate(end);
                            let (action, next) = rewrite_head(&self.buf, out);
                            self.buf.clear();
                            if action == Action::Reset {
                                return Action::Reset;
                            }
                            self.state = next;
                        }
                        None => {
                            input = &[];
                            if self.buf.len() > MAX_HEAD {
                                out.extend_from_slice(&self.buf);
                                self.buf.clear();
                                self.state = State::Passthrough;
                            }
                        }
                    }
                }
                State::Length(n) => {
                    let k = (*n).min(input.len() as u64) as usize;
                    out.extend_from_slice(&input[..k]);
                    input = &input[k..];
                    *n -= k as u64;
                    if *n == 0 {
                        self.state = State::Head;
                    }
                }
                State::Chunked(cs) => match cs {
                    ChunkState::Size | ChunkState::Trailer => {
                        let size_line = *cs == ChunkState::Size;
                        let nl = memchr::memchr(b'\n', input);
                        let take = nl.map_or(input.len(), |p| p + 1);
                        out.extend_from_slice(&input[..take]);
                        let piece = &input[..take];
                        input = &input[take..];
                        if nl.is_none() {
                            self.buf.extend_from_slice(piece);
                            continue;
                        }
                        let line: &[u8] = if self.buf.is_empty() {
                            piece
                        } else {
                            self.buf.extend_from_slice(piece);
                            &self.buf
                        };
                        let next = if size_line {
                            match chunk_size(line) {
                                Some(0) => State::Chunked(ChunkState::Trailer),
                                Some(n) => State::Chunked(ChunkState::Data(n)),
                                None => State::Passthrough,
                            }
                        } else if line == b"\r\n" || line == b"\n" {
                            State::Head
                        } else {
                            State::Chunked(ChunkState::Trailer)
                        };
                        self.buf.clear();
                        self.state = next;
                    }
                    ChunkState::Data(n) => {
                        let k = (*n).min(input.len() as u64) as usize;
                        out.extend_from_slice(&input[..k]);
                        input = &input[k..];
                        *n -= k as u64;
                        if *n == 0 {
                            *cs = ChunkState::DataEnd(2);
                        }
                    }
                    ChunkState::DataEnd(left) => {
                        let k = usize::from(*left).min(input.len());
                        out.extend_from_slice(&input[..k]);
                        input = &input[k..];
                        *left -= k as u8;
                        if *left == 0 {
                            *cs = ChunkState::Size;
                        }
                    }
                },
                State::Passthrough => {
                    out.extend_from_slice(input);
                    input = &[];
                }
            }
        }
        Action::Continue
    }
}

/// The status, the body framing and whether a directive is present, read from one head
/// without allocating. Framing follows the last `transfer-encoding` / `content-length` line,
/// directive lines left out.
fn scan_head(head: &[u8]) -> (u16, bool, Option<u64>, bool) {
    // Lines end at CRLF; a lone CR or LF stays inside its line.
    let mut lines = memchr::memmem::find_iter(head, b"\r\n");
    let mut start = 0;
    let mut next_line = || -> Option<&[u8]> {
        let end = lines.next()?;
        let line = &head[start..end];
        start = end + 2;
        Some(line)
    };
    let status_line = next_line().unwrap_or(b"");
    let status: u16 = status_line
        .split(|&b| b == b' ')
        .nth(1)
        .and_then(|s| std::str::from_utf8(s).ok()?.parse().ok())
        .unwrap_or(200);
    let mut chunked = false;
    let mut length: Option<u64> = None;
    let mut directive = false;
    while let Some(line) = next_line() {
        if line.is_empty() {
            continue;
        }
        let colon = memchr::memchr(b':', line).unwrap_or(line.len());
        let (name, rest) = line.split_at(colon);
        let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        if is(DIRECTIVE_HEADER) {
            directive = true;
        } else if is("transfer-encoding") {
            let value = std::str::from_utf8(rest)
                .unwrap_or("")
                .trim_end()
                .as_bytes();
            chunked = value.len() >= 7 && value[value.len() - 7..].eq_ignore_ascii_case(b"chunked");
        } else if is("content-length") {
            length = std::str::from_utf8(rest)
                .ok()
                .and_then(|r| r.trim_start_matches(':').trim().parse().ok());
        }
    }
    (status, chunked, length, directive)
}

/// The framing state after a head.
fn framing(status: u16, chunked: bool, length: Option<u64>) -> State {
    if (100..200).contains(&status) || status == 204 || status == 304 {
        State::Head
    } else if chunked {
        State::Chunked(ChunkState::Size)
    } else if let Some(n) = length {
        if n == 0 {
            State::Head
        } else {
            State::Length(n)
        }
    } else {
        State::Passthrough
    }
}

/// Rewrites one response head (ending in CRLF CRLF) into `out`; returns the body framing.
fn rewrite_head(head: &[u8], out: &mut Vec<u8>) -> (Action, State) {
    let Ok(text) = std::str::from_utf8(head) else {
        out.extend_from_slice(head);
        return (Action::Continue, State::Passthrough);
    };
    let (status, chunked, length, directive) = scan_head(head);
    if !directive {
        // Nothing to change: the head goes out as it came.
        out.extend_from_slice(head);
        return (Action::Continue, framing(status, chunked, length));
    }
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut directive = Directive::default();
    let mut header_lines: Vec<&str> = Vec::new();
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let name = line.split(':').next().unwrap_or("");
        if name.eq_ignore_ascii_case(DIRECTIVE_HEADER) {
            directive = Directive::parse(line[name.len() + 1..].trim());
        } else {
            header_lines.push(line);
        }
    }
    if directive.reset {
        return (Action::Reset, State::Passthrough);
    }
    let mut used = vec![false; directive.case.len()];
    out.extend_from_slice(status_line.as_bytes());
    out.extend_from_slice(b"\r\n");
    for line in header_lines {
        let (name, rest) = line.split_at(line.find(':').unwrap_or(line.len()));
        let cased = directive
            .case
            .iter()
            .enumerate()
            .find(|(i, c)| !used[*i] && c.eq_ignore_ascii_case(name))
            .map(|(i, c)| {
                used[i] = true;
                c.as_str()
            });
        out.extend_from_slice(cased.unwrap_or(name).as_bytes());
        out.extend_from_slice(rest.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    (Action::Continue, framing(status, chunked, length))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8], split: usize) -> (Vec<u8>, Action) {
        let mut r = HeadRewriter::default();
        let mut out = Vec::new();
        for piece in input.chunks(split.max(1)) {
            if r.feed(piece, &mut out) == Action::Reset {
                return (out, Action::Reset);
            }
        }
        (out, Action::Continue)
    }

    #[test]
    fn restores_case_over_pipelined_responses_at_any_split() {
        let input = b"HTTP/1.1 200 OK\r\nx-request-id: 1\r\ncontent-length: 5\r\nx-dashscope-mock-directive: case=X-Request-ID\r\n\r\nhello\
HTTP/1.1 100 Continue\r\n\r\n\
HTTP/1.1 200 OK\r\ndate: d\r\ntransfer-encoding: chunked\r\nx-dashscope-mock-directive: case=Date\r\n\r\n3\r\nabc\r\n0\r\n\r\n\
HTTP/1.1 404 Not Found\r\nserver: x\r\ncontent-length: 2\r\nx-dashscope-mock-directive: case=Server\r\n\r\n{}";
        let want = b"HTTP/1.1 200 OK\r\nX-Request-ID: 1\r\ncontent-length: 5\r\n\r\nhello\
HTTP/1.1 100 Continue\r\n\r\n\
HTTP/1.1 200 OK\r\nDate: d\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n\
HTTP/1.1 404 Not Found\r\nServer: x\r\ncontent-length: 2\r\n\r\n{}";
        for split in 1..input.len() {
            let (out, action) = run(input, split);
            assert_eq!(action, Action::Continue);
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(want),
                "split {split}"
            );
        }
    }

    /// Heads without a directive go out as they are, and their framing (chunked with a
    /// trailer, a length, none for 204) is still followed, so the directive of the response
    /// after them is found and applied, at any split.
    #[test]
    fn heads_without_directives_pass_and_are_followed() {
        // A body that would be rewritten if it were taken for a head.
        let body = "HTTP/1.1 200 OK\r\nx-b: 1\r\nx-dashscope-mock-directive: case=X-B\r\n\r\n";
        let plain = format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
             2;ext=1\r\nok\r\n0\r\nx-trailer: t\r\n\r\n\
             HTTP/1.1 204 No Content\r\nx: y\r\n\r\n\
             HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let input = format!(
            "{plain}HTTP/1.1 200 OK\r\nx-a: 1\r\nx-dashscope-mock-directive: case=X-A\r\ncontent-length: 0\r\n\r\n"
        );
        let want = format!("{plain}HTTP/1.1 200 OK\r\nX-A: 1\r\ncontent-length: 0\r\n\r\n");
        for split in 1..input.len() {
            let (out, action) = run(input.as_bytes(), split);
            assert_eq!(action, Action::Continue);
            assert_eq!(String::from_utf8_lossy(&out), want, "split {split}");
        }
    }

    #[test]
    fn body_bytes_that_look_like_heads_are_not_touched() {
        let body = b"x-dashscope-mock-directive: reset\r\n\r\n";
        let mut input =
            format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len()).into_bytes();
        input.extend_from_slice(body);
        let (out, action) = run(&input, 7);
        assert_eq!(action, Action::Continue);
        assert_eq!(out, input);
    }

    #[test]
    fn reset_directive() {
        let (out, action) = run(
            b"HTTP/1.1 500 x\r\nx-dashscope-mock-directive: reset\r\ncontent-length: 0\r\n\r\n",
            4,
        );
        assert_eq!(action, Action::Reset);
        assert!(out.is_empty());
        assert_eq!(
            Directive::parse("case=A,B;reset"),
            Directive {
                case: vec!["A".into(), "B".into()],
                reset: true
            }
        );
        assert_eq!(
            Directive {
                case: vec!["A".into()],
                reset: true
            }
            .to_header_value(),
            "case=A;reset"
        );
    }
}
