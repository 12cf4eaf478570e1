//! The SSE encoder: each dialect's exact framing.

use bytes::BufMut;

use super::Event;

/// Writes server-sent events in a dialect's exact framing into any [`BufMut`] (a `Vec<u8>` or a
/// `bytes::BytesMut`).
///
/// | constructor | framing |
/// |---|---|
/// | [`Encoder::compat`] | `data: {json}\n\n` … `data: [DONE]\n\n` (OpenAI-compatible Chat Completions) |
/// | [`Encoder::native`] | `id:1\nevent:result\n:HTTP_STATUS/200\ndata:{json}\n\n` (DashScope native; no spaces after the colons) |
/// | [`Encoder::responses`] | the same as native, with `event:<type>` and `id` = `sequence_number + 1` |
///
/// Options: [`blank_line(false)`](Self::blank_line) leaves out the blank line after each event
/// (the legacy native framing some gateways send), [`crlf(true)`](Self::crlf) ends lines with
/// CRLF instead of LF.
///
/// Data holding line breaks is written as several `data:` lines, which a decoder joins with
/// `\n` (so a CR or CRLF inside data comes back as LF). Line breaks inside an `id`, an event
/// name or a comment would break the framing and are written as spaces. A value that starts
/// with a space gets the separating space even in native framing, so that it decodes unchanged.
///
/// ```
/// use dashscope_protocol::sse::Encoder;
///
/// let mut out = Vec::new();
/// let compat = Encoder::compat();
/// compat.data(&mut out, r#"{"id":"chatcmpl-1"}"#);
/// compat.done(&mut out);
/// assert_eq!(out, b"data: {\"id\":\"chatcmpl-1\"}\n\ndata: [DONE]\n\n");
///
/// let mut out = Vec::new();
/// Encoder::native().native_event(&mut out, 1, "result", 200, "{}");
/// assert_eq!(out, b"id:1\nevent:result\n:HTTP_STATUS/200\ndata:{}\n\n");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Encoder {
    /// A space after each field's colon (`data: x`), as OpenAI framing does.
    space: bool,
    /// A blank line after each event.
    blank_line: bool,
    /// CRLF line ends.
    crlf: bool,
}

impl Default for Encoder {
    /// The compat framing, [`Encoder::compat`].
    fn default() -> Self {
        Self::compat()
    }
}

impl Encoder {
    /// OpenAI-compatible framing: `data: {json}\n\n`, a space after the colon.
    pub const fn compat() -> Self {
        Self {
            space: true,
            blank_line: true,
            crlf: false,
        }
    }

    /// DashScope native framing: `id:N\nevent:result\n:HTTP_STATUS/200\ndata:{json}\n\n`, no
    /// spaces after the colons.
    pub const fn native() -> Self {
        Self {
            space: false,
            blank_line: true,
            crlf: false,
        }
    }

    /// Responses framing, the same as [`native`](Self::native):
    /// `id:N\nevent:<type>\n:HTTP_STATUS/200\ndata:{json}\n\n`.
    pub const fn responses() -> Self {
        Self::native()
    }

    /// Whether a blank line ends each event (the default). Without it, events run together as
    /// in the legacy native framing: only a decoder in
    /// [`Mode::DataLineIsEvent`](super::Mode::DataLineIsEvent) splits them.
    #[must_use]
    pub const fn blank_line(mut self, blank_line: bool) -> Self {
        self.blank_line = blank_line;
        self
    }

    /// Whether lines end with CRLF instead of LF (the default).
    #[must_use]
    pub const fn crlf(mut self, crlf: bool) -> Self {
        self.crlf = crlf;
        self
    }

    /// Writes one event holding only `data` (compat chunks).
    pub fn data<B: BufMut + ?Sized>(&self, out: &mut B, data: &str) {
        self.data_lines(out, data);
        self.end_event(out);
    }

    /// Writes the compat end marker, `data: [DONE]`.
    pub fn done<B: BufMut + ?Sized>(&self, out: &mut B) {
        self.data(out, "[DONE]");
    }

    /// Writes a native or Responses event: `id:<id>`, `event:<event>`,
    /// `:HTTP_STATUS/<http_status>`, then the data.
    pub fn native_event<B: BufMut + ?Sized>(
        &self,
        out: &mut B,
        id: u64,
        event: &str,
        http_status: u16,
        data: &str,
    ) {
        self.field(out, b"id", id.to_string().as_bytes());
        self.field(out, b"event", event.as_bytes());
        self.status_comment(out, http_status);
        self.data_lines(out, data);
        self.end_event(out);
    }

    /// Writes any event: the fields it has, in the order `id`, `event`, `:HTTP_STATUS/…`,
    /// `retry`, `data`. Its index is not written. Decoding the output gives back the same
    /// event (with CR and CRLF inside data turned into LF).
    pub fn event<B: BufMut + ?Sized>(&self, out: &mut B, event: &Event<'_>) {
        if let Some(id) = event.id {
            self.field(out, b"id", id.as_bytes());
        }
        if let Some(name) = event.event {
            self.field(out, b"event", name.as_bytes());
        }
        if let Some(status) = event.http_status {
            self.status_comment(out, status);
        }
        if let Some(retry) = event.retry {
            self.field(out, b"retry", retry.to_string().as_bytes());
        }
        self.data_lines(out, event.data);
        self.end_event(out);
    }

    /// Writes a comment line `:<text>`, which decoders ignore (a keepalive).
    pub fn comment<B: BufMut + ?Sized>(&self, out: &mut B, text: &str) {
        out.put_u8(b':');
        put_single_line(out, text.as_bytes());
        self.eol(out);
    }

    fn field<B: BufMut + ?Sized>(&self, out: &mut B, name: &[u8], value: &[u8]) {
        out.put_slice(name);
        out.put_u8(b':');
        self.separator(out, value);
        put_single_line(out, value);
        self.eol(out);
    }

    fn status_comment<B: BufMut + ?Sized>(&self, out: &mut B, status: u16) {
        out.put_slice(b":HTTP_STATUS/");
        out.put_slice(status.to_string().as_bytes());
        self.eol(out);
    }

    fn data_lines<B: BufMut + ?Sized>(&self, out: &mut B, data: &str) {
        let mut rest = data.as_bytes();
        loop {
            let (line, next) = match memchr::memchr2(b'\r', b'\n', rest) {
                Some(i) => {
                    let skip = if rest[i] == b'\r' && rest.get(i + 1) == Some(&b'\n') {
                        2
                    } else {
                        1
                    };
                    (&rest[..i], Some(&rest[i + skip..]))
                }
                None => (rest, None),
            };
            out.put_slice(b"data:");
            self.separator(out, line);
            out.put_slice(line);
            self.eol(out);
            match next {
                Some(next) => rest = next,
                None => break,
            }
        }
    }

    /// The space after a field's colon: always written before a value that starts with a
    /// space, because a decoder strips one.
    fn separator<B: BufMut + ?Sized>(&self, out: &mut B, value: &[u8]) {
        if self.space || value.first() == Some(&b' ') {
            out.put_u8(b' ');
        }
    }

    fn end_event<B: BufMut + ?Sized>(&self, out: &mut B) {
        if self.blank_line {
            self.eol(out);
        }
    }

    fn eol<B: BufMut + ?Sized>(&self, out: &mut B) {
        out.put_slice(if self.crlf { b"\r\n" } else { b"\n" });
    }
}

/// Writes `value` with CR and LF turned into spaces.
fn put_single_line<B: BufMut + ?Sized>(out: &mut B, value: &[u8]) {
    let mut rest = value;
    while let Some(i) = memchr::memchr2(b'\r', b'\n', rest) {
        out.put_slice(&rest[..i]);
        out.put_u8(b' ');
        rest = &rest[i + 1..];
    }
    out.put_slice(rest);
}
