//! The incremental, allocation-free-per-line SSE decoder.

use std::fmt;

use memchr::{memchr, memchr2};

use super::Event;

/// The default longest line [`Decoder`] accepts: 16 MiB.
pub const DEFAULT_MAX_LINE: usize = 16 * 1024 * 1024;

/// The default largest event [`Decoder`] accepts: 16 MiB of data (its `data:` lines' values
/// joined with `\n`).
pub const DEFAULT_MAX_EVENT: usize = 16 * 1024 * 1024;

/// The UTF-8 byte order mark, ignored once at the start of a stream.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The comment prefix DashScope uses to carry a status inside the stream.
const HTTP_STATUS_COMMENT: &[u8] = b":HTTP_STATUS/";

/// When a [`Decoder`] dispatches an event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Standard SSE: a blank line dispatches the event built from the lines before it, if it had
    /// at least one `data:` line. Several `data:` lines are joined with `\n`.
    #[default]
    Standard,
    /// Each `data:` line is one complete event, dispatched at once with the `id:`, `event:`,
    /// `retry:`, `status:` and `:HTTP_STATUS/…` lines seen since the previous event. A blank line
    /// only resets those fields. DashScope native streams need this: some gateways run events
    /// together without blank lines ([protocol notes §4.4](crate::protocol_notes#44-streaming)).
    DataLineIsEvent,
}

/// Why a line could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SseErrorKind {
    /// The line is not valid UTF-8.
    #[error("a line {} at offset {valid_up_to})", if *incomplete {
        "ends inside a UTF-8 character (truncated"
    } else {
        "is not valid UTF-8 (bad byte"
    })]
    InvalidUtf8 {
        /// The offset from the start of the line (its field name included) of the first byte
        /// that is not part of valid UTF-8.
        valid_up_to: usize,
        /// The line ends inside a character (a truncated sequence, for example at the end of the
        /// stream) rather than holding a byte that can never be valid.
        incomplete: bool,
    },
    /// The line is longer than the decoder's limit (see [`Decoder::with_max_line`]).
    #[error("a line is longer than {limit} bytes")]
    LineTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// The event's data (its `data:` lines joined) grew past the decoder's limit (see
    /// [`Decoder::with_max_event`]). The whole event is dropped.
    #[error("an event's data is longer than {limit} bytes")]
    EventTooLong {
        /// The limit in bytes.
        limit: usize,
    },
}

/// A line (or a whole event) the [`Decoder`] had to skip.
///
/// The decoder stays usable: the bad line is dropped and decoding goes on with the next one.
/// The rest of the event the line belonged to is kept, except after
/// [`SseErrorKind::EventTooLong`], which drops the whole event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("SSE event #{index}: {kind}")]
pub struct SseError {
    /// The 0-based index of the event the bad line belonged to (the index the next dispatched
    /// event gets).
    pub index: usize,
    /// What was wrong with the line.
    pub kind: SseErrorKind,
}

/// Where the `data:` of the event being built lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Data {
    /// No `data:` line yet.
    None,
    /// One `data:` line, not yet validated, with its value at `buf[start..end]`; `prefix` is the
    /// length of the `data:` (or `data: `) before it.
    Buf {
        start: usize,
        end: usize,
        prefix: usize,
    },
    /// One `data:` line, not yet validated, its value copied to `spill` when the buffer was
    /// compacted.
    Spill { prefix: usize },
    /// Several `data:` lines, validated and joined in `scratch`.
    Joined,
}

/// How far `finish` has got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Eof {
    /// `finish` not called.
    Open,
    /// Complete lines first, then the unterminated last line.
    FinalLine,
    /// Then the event still being built (standard mode).
    FinalDispatch,
    /// Everything flushed; the next `feed` starts a new stream.
    Done,
}

/// What one line did.
enum Step {
    /// Nothing to hand out yet.
    Continue,
    /// Dispatch an event whose data is described by the [`Data`].
    Dispatch(Data),
    /// The line was skipped.
    Error(SseErrorKind),
}

/// A sans-IO server-sent-events decoder.
///
/// Feed it bytes split anywhere ([`feed`](Self::feed)), pull complete events
/// ([`next_event`](Self::next_event)) until it returns `None`, and at the end of the body call
/// [`finish`](Self::finish) and pull once more to flush a last event that lacks its blank line.
///
/// It follows the WHATWG `text/event-stream` rules: LF, CRLF and CR line ends (a CR at the end of
/// one feed and an LF at the start of the next are one line end), one leading UTF-8 BOM ignored,
/// `field:value` with one optional space after the colon removed, a line without a colon is a
/// field with an empty value, unknown fields and comments (`:…`) ignored, `data:` lines joined
/// with `\n`. DashScope additions: a `:HTTP_STATUS/<code>` comment or a `status:<code>` line sets
/// [`Event::http_status`] of the next dispatched event (it survives a blank line that dispatches
/// nothing), and [`Mode::DataLineIsEvent`] dispatches on every `data:` line. The `id`, `event`
/// and `retry` of an [`Event`] are the ones given in that event's own block.
///
/// Lines are UTF-8-validated one by one, so a character may be split across feeds anywhere. A
/// line that is not UTF-8 or is longer than the limit yields an [`SseError`] and is skipped; the
/// rest of the stream is unaffected.
///
/// Memory is bounded by two limits, whatever the input: a line is at most
/// [`max_line`](Self::max_line) bytes ([`DEFAULT_MAX_LINE`]) and an event's data, all its `data:`
/// lines together, at most [`max_event`](Self::max_event) bytes ([`DEFAULT_MAX_EVENT`]). Past
/// the event limit the decoder yields [`SseErrorKind::EventTooLong`] and drops the event: the
/// rest of its data lines, up to the blank line that ends it, are read and not kept. So the
/// decoder holds at most about one line limit of unconsumed input (plus the last feed), one
/// more for a one-line event's data, and one event limit of joined data.
///
/// Bytes are copied once into an internal buffer and scanned with `memchr`. An event whose data
/// is one line borrows it straight from that buffer; only multi-line data is joined in a reused
/// scratch string, so decoding allocates nothing per line once the buffers have grown.
///
/// After `finish`, once `next_event` has returned `None`, the next `feed` starts a new stream
/// (the BOM is recognised again and indices restart at 0), reusing the buffers.
#[derive(Clone)]
pub struct Decoder {
    mode: Mode,
    max_line: usize,
    max_event: usize,
    /// Fed bytes; `buf[..pos]` is consumed.
    buf: Vec<u8>,
    pos: usize,
    /// `buf[pos..scanned]` is known to hold no line end.
    scanned: usize,
    /// The last line ended with a CR that was the last byte fed: skip a following LF.
    skip_lf: bool,
    /// No byte of the stream has been looked at for a BOM yet.
    bom_pending: bool,
    /// Dropping the rest of a line that was too long.
    discarding: bool,
    eof: Eof,
    /// The index of the event being built.
    index: usize,
    data: Data,
    /// The event being built grew past `max_event`: its data lines are dropped until the blank
    /// line that ends it.
    overflow: bool,
    spill: Vec<u8>,
    scratch: String,
    id: String,
    has_id: bool,
    event: String,
    has_event: bool,
    http_status: Option<u16>,
    retry: Option<u64>,
}

impl fmt::Debug for Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder")
            .field("mode", &self.mode)
            .field("max_line", &self.max_line)
            .field("max_event", &self.max_event)
            .field("buffered", &(self.buf.len() - self.pos))
            .field("index", &self.index)
            .field("finished", &(self.eof != Eof::Open))
            .finish_non_exhaustive()
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder for standard SSE ([`Mode::Standard`]) with the default line and event limits
    /// ([`DEFAULT_MAX_LINE`], [`DEFAULT_MAX_EVENT`]).
    pub fn new() -> Self {
        Self::with_mode(Mode::Standard)
    }

    /// A decoder with the given dispatch mode and the default line and event limits.
    pub fn with_mode(mode: Mode) -> Self {
        Self {
            mode,
            max_line: DEFAULT_MAX_LINE,
            max_event: DEFAULT_MAX_EVENT,
            buf: Vec::new(),
            pos: 0,
            scanned: 0,
            skip_lf: false,
            bom_pending: true,
            discarding: false,
            eof: Eof::Open,
            index: 0,
            data: Data::None,
            overflow: false,
            spill: Vec::new(),
            scratch: String::new(),
            id: String::new(),
            has_id: false,
            event: String::new(),
            has_event: false,
            http_status: None,
            retry: None,
        }
    }

    /// Sets the longest line accepted, in bytes, not counting its line end. A longer line yields
    /// [`SseErrorKind::LineTooLong`] as soon as that many bytes have arrived without a line end,
    /// and is then dropped without being buffered. This bounds the decoder's memory.
    #[must_use]
    pub fn with_max_line(mut self, max_line: usize) -> Self {
        self.max_line = max_line;
        self
    }

    /// Sets the largest event accepted: the bytes of its data, its `data:` lines' values joined
    /// with `\n` (in [`Mode::DataLineIsEvent`], the one data line's value). An event that grows
    /// past it yields [`SseErrorKind::EventTooLong`] as soon as the data line that crosses the
    /// limit is complete, and is dropped with the rest of its data lines. With the line limit
    /// this bounds the decoder's memory.
    #[must_use]
    pub fn with_max_event(mut self, max_event: usize) -> Self {
        self.max_event = max_event;
        self
    }

    /// The dispatch mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The longest line accepted, in bytes.
    pub fn max_line(&self) -> usize {
        self.max_line
    }

    /// The largest event data accepted, in bytes.
    pub fn max_event(&self) -> usize {
        self.max_event
    }

    /// How many fed bytes are held waiting for the rest of their line (or for the caller to
    /// pull the events they complete). Never much more than the line limit plus one feed.
    /// (The data of an event being joined is held apart, within the event limit.)
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Appends bytes from the body, split anywhere.
    pub fn feed(&mut self, bytes: &[u8]) {
        match self.eof {
            Eof::Open | Eof::FinalLine => {}
            // More bytes after a flush has begun: they continue the stream and are flushed again.
            Eof::FinalDispatch => self.eof = Eof::FinalLine,
            Eof::Done => self.reset(),
        }
        self.compact(bytes.len());
        let mut bytes = bytes;
        if self.discarding && self.pos == self.buf.len() {
            // The rest of an over-long line: never buffer it.
            match memchr2(b'\n', b'\r', bytes) {
                Some(end) => bytes = &bytes[end..],
                None => return,
            }
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Marks the end of the body. The following [`next_event`](Self::next_event) calls hand out
    /// what is left, including a last line without a line end and, in standard mode, a last
    /// event without its blank line. A truncated UTF-8 character at the end yields an error.
    pub fn finish(&mut self) {
        if self.eof == Eof::Open {
            self.eof = Eof::FinalLine;
        }
    }

    /// The next complete event, an error for a line that had to be skipped, or `None` when more
    /// bytes (or [`finish`](Self::finish)) are needed.
    ///
    /// The event borrows from the decoder, so drop it before calling `feed` or `next_event`
    /// again.
    ///
    /// # Errors
    ///
    /// Yields an [`SseError`] naming the index of the event being built when a line is not
    /// valid UTF-8 or is longer than the line limit (the line is skipped), or when the event's
    /// data grows past the event limit (the event is dropped). Keep calling to go on.
    pub fn next_event(&mut self) -> Option<Result<Event<'_>, SseError>> {
        loop {
            let step = match self.next_line() {
                Some(Ok((start, end))) => self.process_line(start, end),
                Some(Err(kind)) => Step::Error(kind),
                None => match self.eof {
                    Eof::Open | Eof::Done => return None,
                    Eof::FinalLine => {
                        self.eof = Eof::FinalDispatch;
                        let (start, end) = (self.pos, self.buf.len());
                        self.pos = end;
                        self.scanned = end;
                        self.skip_lf = false;
                        self.bom_pending = false;
                        if std::mem::take(&mut self.discarding) || start == end {
                            continue;
                        }
                        self.process_line(start, end)
                    }
                    Eof::FinalDispatch => {
                        self.eof = Eof::Done;
                        self.end_block()
                    }
                },
            };
            match step {
                Step::Continue => {}
                Step::Dispatch(data) => return Some(self.emit(data)),
                Step::Error(kind) => {
                    return Some(Err(SseError {
                        index: self.index,
                        kind,
                    }));
                }
            }
        }
    }

    /// Forgets everything but the settings and the buffers' capacity.
    fn reset(&mut self) {
        self.buf.clear();
        self.pos = 0;
        self.scanned = 0;
        self.skip_lf = false;
        self.bom_pending = true;
        self.discarding = false;
        self.eof = Eof::Open;
        self.index = 0;
        self.reset_fields();
        self.http_status = None;
    }

    /// Drops consumed bytes from the buffer before `incoming` more bytes are appended, unless
    /// less than half of it is consumed and the new bytes fit without growing it. A pending
    /// one-line `data:` that lives in the consumed part is copied to `spill` first.
    fn compact(&mut self, incoming: usize) {
        let len = self.buf.len();
        if self.pos == 0 || (self.pos < len - self.pos && self.buf.capacity() - len >= incoming) {
            return;
        }
        if let Data::Buf { start, end, prefix } = self.data {
            self.spill.clear();
            self.spill.extend_from_slice(&self.buf[start..end]);
            self.data = Data::Spill { prefix };
        }
        if self.pos == len {
            self.buf.clear();
        } else {
            self.buf.drain(..self.pos);
        }
        self.scanned -= self.pos;
        self.pos = 0;
    }

    /// The next complete line as a range of `buf` (without its line end), consuming it.
    fn next_line(&mut self) -> Option<Result<(usize, usize), SseErrorKind>> {
        loop {
            if self.skip_lf {
                let next = *self.buf.get(self.pos)?;
                if next == b'\n' {
                    self.pos += 1;
                    self.scanned = self.scanned.max(self.pos);
                }
                self.skip_lf = false;
            }
            if self.bom_pending {
                let avail = &self.buf[self.pos..];
                if avail.len() >= BOM.len() {
                    if avail.starts_with(BOM) {
                        self.pos += BOM.len();
                        self.scanned = self.scanned.max(self.pos);
                    }
                    self.bom_pending = false;
                } else if BOM.starts_with(avail) {
                    return None;
                } else {
                    self.bom_pending = false;
                }
            }
            let len = self.buf.len();
            let from = self.scanned.max(self.pos);
            let Some(offset) = memchr2(b'\n', b'\r', &self.buf[from..]) else {
                self.scanned = len;
                if self.discarding {
                    self.pos = len;
                    return None;
                }
                if len - self.pos > self.max_line {
                    self.discarding = true;
                    self.pos = len;
                    self.scanned = len;
                    return Some(Err(SseErrorKind::LineTooLong {
                        limit: self.max_line,
                    }));
                }
                return None;
            };
            let start = self.pos;
            let end = from + offset;
            self.pos = end + 1;
            if self.buf[end] == b'\r' {
                match self.buf.get(end + 1) {
                    Some(b'\n') => self.pos += 1,
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
            self.scanned = self.pos;
            if std::mem::take(&mut self.discarding) {
                continue;
            }
            if end - start > self.max_line {
                return Some(Err(SseErrorKind::LineTooLong {
                    limit: self.max_line,
                }));
            }
            return Some(Ok((start, end)));
        }
    }

    /// Interprets the line `buf[start..end]`.
    fn process_line(&mut self, start: usize, end: usize) -> Step {
        let line = &self.buf[start..end];
        let Some(&first) = line.first() else {
            return self.end_block();
        };
        if first == b':' {
            if let Err(e) = std::str::from_utf8(line) {
                return Step::Error(utf8_kind(e, 0));
            }
            if let Some(code) = line.strip_prefix(HTTP_STATUS_COMMENT) {
                if let Some(code) = parse_status(code) {
                    self.http_status = Some(code);
                }
            }
            return Step::Continue;
        }
        let (name, value_start) = match memchr(b':', line) {
            Some(colon) => {
                let after = start + colon + 1;
                let skip = usize::from(after < end && self.buf[after] == b' ');
                (&line[..colon], after + skip)
            }
            None => (line, end),
        };
        let prefix = value_start - start;
        if name == b"data" {
            return self.data_line(prefix, value_start, end);
        }
        if !matches!(name, b"id" | b"event" | b"retry" | b"status") {
            // An unknown field is ignored, but it must still be text.
            return match std::str::from_utf8(line) {
                Ok(_) => Step::Continue,
                Err(e) => Step::Error(utf8_kind(e, 0)),
            };
        }
        // The known names are ASCII: only the value needs checking.
        let value = match std::str::from_utf8(&self.buf[value_start..end]) {
            Ok(value) => value,
            Err(e) => return Step::Error(utf8_kind(e, prefix)),
        };
        match name {
            b"id" => {
                // An id holding NUL is ignored, per the spec.
                if !value.contains('\0') {
                    self.id.clear();
                    self.id.push_str(value);
                    self.has_id = true;
                }
            }
            b"event" => {
                self.event.clear();
                self.event.push_str(value);
                self.has_event = true;
            }
            b"retry" => {
                if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
                    if let Ok(ms) = value.parse() {
                        self.retry = Some(ms);
                    }
                }
            }
            _ => {
                if let Some(code) = parse_status(value.as_bytes()) {
                    self.http_status = Some(code);
                }
            }
        }
        Step::Continue
    }

    /// A `data:` line whose value is `buf[start..end]`, after `prefix` bytes of `data:`.
    fn data_line(&mut self, prefix: usize, start: usize, end: usize) -> Step {
        let len = end - start;
        if self.mode == Mode::DataLineIsEvent {
            if len > self.max_event {
                // The line is the whole event: drop it with the fields given for it.
                self.reset_fields();
                self.http_status = None;
                return self.too_long();
            }
            return Step::Dispatch(Data::Buf { start, end, prefix });
        }
        if self.overflow {
            return Step::Continue;
        }
        let (first, first_prefix) = match self.data {
            Data::None if len > self.max_event => return self.overflow(),
            Data::None => {
                self.data = Data::Buf { start, end, prefix };
                return Step::Continue;
            }
            Data::Joined => return self.append_data(prefix, start, end),
            Data::Buf {
                start: s,
                end: e,
                prefix: p,
            } => (&self.buf[s..e], p),
            Data::Spill { prefix: p } => (&self.spill[..], p),
        };
        // A second line: check the size, validate the first and start joining.
        if first.len() + 1 + len > self.max_event {
            return self.overflow();
        }
        match std::str::from_utf8(first) {
            Ok(first) => {
                self.scratch.clear();
                self.scratch.push_str(first);
                self.data = Data::Joined;
                self.append_data(prefix, start, end)
            }
            Err(e) => {
                // The first line is dropped; this one takes its place.
                self.data = Data::Buf { start, end, prefix };
                Step::Error(utf8_kind(e, first_prefix))
            }
        }
    }

    /// Appends the `data:` value `buf[start..end]` to the joined data.
    fn append_data(&mut self, prefix: usize, start: usize, end: usize) -> Step {
        if self.scratch.len() + 1 + (end - start) > self.max_event {
            return self.overflow();
        }
        match std::str::from_utf8(&self.buf[start..end]) {
            Ok(line) => {
                self.scratch.push('\n');
                self.scratch.push_str(line);
                Step::Continue
            }
            Err(e) => Step::Error(utf8_kind(e, prefix)),
        }
    }

    /// The event being built is over the limit: drop its data, and its data lines up to the
    /// blank line that ends it.
    fn overflow(&mut self) -> Step {
        self.data = Data::None;
        self.overflow = true;
        self.too_long()
    }

    fn too_long(&self) -> Step {
        Step::Error(SseErrorKind::EventTooLong {
            limit: self.max_event,
        })
    }

    /// A blank line (or the end of the stream): dispatch the event if it has data, else reset.
    fn end_block(&mut self) -> Step {
        if self.overflow {
            // The dropped event's fields go with it, its status too.
            self.reset_fields();
            self.http_status = None;
            return Step::Continue;
        }
        match std::mem::replace(&mut self.data, Data::None) {
            Data::None => {
                // Nothing to dispatch: the fields reset, a status waits for the next event.
                self.reset_fields();
                Step::Continue
            }
            data => Step::Dispatch(data),
        }
    }

    /// Clears the per-event fields except the status.
    fn reset_fields(&mut self) {
        self.data = Data::None;
        self.overflow = false;
        self.has_id = false;
        self.has_event = false;
        self.retry = None;
    }

    /// Hands out the event being built, with the given data.
    fn emit(&mut self, data: Data) -> Result<Event<'_>, SseError> {
        let index = self.index;
        let has_id = std::mem::take(&mut self.has_id);
        let has_event = std::mem::take(&mut self.has_event);
        let http_status = self.http_status.take();
        let retry = self.retry.take();
        self.data = Data::None;
        let (data, prefix) = match data {
            Data::Buf { start, end, prefix } => {
                (std::str::from_utf8(&self.buf[start..end]), prefix)
            }
            Data::Spill { prefix } => (std::str::from_utf8(&self.spill), prefix),
            Data::Joined | Data::None => (Ok(self.scratch.as_str()), 0),
        };
        let data = data.map_err(|e| SseError {
            index,
            kind: utf8_kind(e, prefix),
        })?;
        self.index += 1;
        Ok(Event {
            index,
            id: has_id.then_some(self.id.as_str()),
            event: has_event.then_some(self.event.as_str()),
            data,
            http_status,
            retry,
        })
    }
}

/// The error kind for a failed UTF-8 validation of a line's bytes from `offset` on.
fn utf8_kind(e: std::str::Utf8Error, offset: usize) -> SseErrorKind {
    SseErrorKind::InvalidUtf8 {
        valid_up_to: offset + e.valid_up_to(),
        incomplete: e.error_len().is_none(),
    }
}

/// Parses an HTTP status code (ASCII digits, surrounding spaces or tabs allowed).
fn parse_status(raw: &[u8]) -> Option<u16> {
    let raw = raw.trim_ascii();
    if raw.is_empty() || raw.len() > 3 || !raw.iter().all(u8::is_ascii_digit) {
        return None;
    }
    raw.iter()
        .try_fold(0u16, |acc, &b| Some(acc * 10 + u16::from(b - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_status_accepts_three_digits_only() {
        assert_eq!(parse_status(b"200"), Some(200));
        assert_eq!(parse_status(b" 404\t"), Some(404));
        assert_eq!(parse_status(b"99"), Some(99));
        assert_eq!(parse_status(b""), None);
        assert_eq!(parse_status(b"2000"), None);
        assert_eq!(parse_status(b"2x0"), None);
        assert_eq!(parse_status(b"+20"), None);
    }

    #[test]
    fn compaction_is_lazy_and_keeps_pending_data() {
        let mut d = Decoder::new();
        d.feed(b"data:first\n");
        assert!(d.next_event().is_none());
        assert!(matches!(d.data, Data::Buf { .. }));
        // Everything is consumed: the next feed compacts, and the pending line moves to spill.
        d.feed(b"data");
        assert_eq!((d.pos, d.buf.len()), (0, 4));
        assert_eq!(d.data, Data::Spill { prefix: 5 });
        assert!(d.next_event().is_none());
        d.feed(b":second\n\n");
        let ev = d
            .next_event()
            .and_then(Result::ok)
            .map(|e| e.data.to_owned());
        assert_eq!(ev.as_deref(), Some("first\nsecond"));

        // Less than half consumed with room to spare: no compaction, the data stays in place.
        let mut d = Decoder::new();
        d.buf.reserve(256);
        d.feed(b"data:a\ndata:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
        assert!(d.next_event().is_none());
        assert_eq!(d.pos, 7);
        assert_eq!(
            d.data,
            Data::Buf {
                start: 5,
                end: 6,
                prefix: 5
            }
        );
        d.feed(b"b\n\n");
        assert_eq!(d.pos, 7);
        let ev = d.next_event().and_then(Result::ok).map(|e| e.data.len());
        assert_eq!(ev, Some(2 + 48));
    }

    #[test]
    fn joined_data_never_grows_past_the_event_limit() {
        let mut d = Decoder::new().with_max_line(1024).with_max_event(4096);
        let line = [&b"data:"[..], &[b'x'; 1000], b"\n"].concat();
        let mut items = 0;
        for _ in 0..1000 {
            d.feed(&line);
            while let Some(item) = d.next_event() {
                assert!(item.is_err());
                items += 1;
            }
            assert!(d.scratch.capacity() <= 2 * 4096, "{}", d.scratch.capacity());
            assert!(d.spill.capacity() <= 1024, "{}", d.spill.capacity());
        }
        assert_eq!(items, 1);
        assert!(d.overflow);
        d.feed(b"\ndata:after\n\n");
        let ev = d
            .next_event()
            .and_then(Result::ok)
            .map(|e| e.data.to_owned());
        assert_eq!(ev.as_deref(), Some("after"));
    }

    #[test]
    fn partial_line_is_scanned_once() {
        let mut d = Decoder::new();
        d.feed(b"data:abc");
        assert!(d.next_event().is_none());
        assert_eq!(d.scanned, 8);
        d.feed(b"def");
        assert!(d.next_event().is_none());
        assert_eq!(d.scanned, 11);
        d.feed(b"\n\n");
        let ev = d
            .next_event()
            .and_then(Result::ok)
            .map(|e| e.data.to_owned());
        assert_eq!(ev.as_deref(), Some("abcdef"));
        assert_eq!(d.buffered(), 0);
    }
}
