//! The journal: every request the mock received on a dialect path (admin requests excepted),
//! with every key it carried redacted on the way in (see [`secrets`](crate::secrets), over
//! [`dashscope_transport::secrets`]), so no key is ever stored.
//!
//! Each request is packed into one buffer (path, query, headers, body); the body is parsed as
//! JSON only when the journal is read. The journal is bounded in entries and in bytes (the
//! oldest go first; the newest is always kept). `GET /__mock/journal` writes it out entry by
//! entry, a body in pieces of [`BODY_PIECE`] bytes, never parsing one.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;

use http::Method;
use serde::Serialize;
use serde_json::Value;

use crate::handler::Ctx;
use crate::state::RequestId;
use dashscope_transport::secrets::{
    REDACTED, is_secret_header, redacted_header_value, redacted_query,
};

/// One received request.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JournalEntry {
    /// 1-based sequence number since the start (or the last reset).
    pub seq: u64,
    /// Milliseconds since the Unix epoch when the request arrived.
    pub received_at_ms: u64,
    /// The request id the mock assigned (the `x-request-id` of generated answers).
    pub request_id: String,
    /// The method.
    pub method: String,
    /// The path.
    pub path: String,
    /// The query string, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// The headers in received order, names lower-case, secrets redacted (Bearer keys become
    /// `Bearer [REDACTED]`).
    pub headers: Vec<(String, String)>,
    /// The body, if it was JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// The body as text (lossy UTF-8), if it was not JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_text: Option<String>,
    /// The status answered.
    pub status: u16,
    /// What answered: `cassette`, `responder`, `error`, `fault`, `no_match`, `no_route`,
    /// `record`, `store`.
    pub outcome: String,
    /// Where the answer came from, as the `x-mock-source` response header says:
    /// `cassette NAME`, `mock NAME`, `synthetic`, `fault`, `error`, … then `; fault SPEC` for
    /// each fault spec that fired.
    pub source: String,
    /// The cassette that answered, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cassette: Option<String>,
    /// The fault specs that fired.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<String>,
}

/// A request as the journal stores it: the fixed members, and one buffer holding the path,
/// the query, the headers (`name NUL value NUL`, neither holds a NUL) and the body.
#[derive(Debug)]
pub(crate) struct Record {
    seq: u64,
    received_at_ms: u64,
    request_id: RequestId,
    method: Method,
    tail: Tail,
    /// Whether the body is JSON (written out as it is), or text.
    body_is_json: bool,
    blob: Box<[u8]>,
    /// Where the query, the headers and the body start in `blob` (no query: `ends[0] == ends[1]`
    /// and `query` is false).
    ends: [usize; 3],
    query: bool,
}

/// The members of an entry after its body: how the request was answered.
#[derive(Debug, Serialize)]
pub(crate) struct Tail {
    pub(crate) status: u16,
    pub(crate) outcome: &'static str,
    pub(crate) source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cassette: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) faults: Vec<String>,
}

/// The members of an entry before its body.
#[derive(Serialize)]
struct Head<'a> {
    seq: u64,
    received_at_ms: u64,
    request_id: &'a str,
    method: &'a str,
    path: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    query: Option<Cow<'a, str>>,
    headers: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

/// The most body bytes in one piece of the journal as written out.
pub(crate) const BODY_PIECE: usize = 64 * 1024;

fn text(b: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(b)
}

impl Record {
    /// Packs `ctx`'s request and how it was answered, redacting its keys (the request's and
    /// the server's) on the way in.
    pub(crate) fn new(ctx: &Ctx, tail: Tail) -> Record {
        let s = &*ctx.state.secrets(&ctx.parts);
        let (uri, headers) = (&ctx.parts.uri, &ctx.parts.headers);
        let path = s.scrub(uri.path().as_bytes(), REDACTED);
        let query = uri.query().map(|q| redacted_query(q, s));
        let body = s.scrub(&ctx.body, REDACTED);
        let body_is_json = match (&body, ctx.body_is_json) {
            (Cow::Borrowed(_), Some(known)) => known,
            // UTF-8 first: skipping a JSON text does not check its strings.
            _ => {
                std::str::from_utf8(&body).is_ok()
                    && serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_ok()
            }
        };
        let mut blob = Vec::with_capacity(path.len() + body.len() + 64 * headers.len());
        blob.extend_from_slice(&path);
        let query_start = blob.len();
        blob.extend_from_slice(query.as_deref().unwrap_or_default().as_bytes());
        let headers_start = blob.len();
        for (name, value) in headers {
            let value = if is_secret_header(name.as_str()) {
                Cow::Owned(redacted_header_value(name.as_str(), value.as_bytes()).into_bytes())
            } else {
                s.scrub(value.as_bytes(), REDACTED)
            };
            blob.extend_from_slice(name.as_str().as_bytes());
            blob.push(0);
            blob.extend_from_slice(&value);
            blob.push(0);
        }
        let body_start = blob.len();
        blob.extend_from_slice(&body);
        Record {
            seq: 0,
            received_at_ms: ctx.received_at_ms,
            request_id: ctx.request_id,
            method: ctx.parts.method.clone(),
            tail,
            body_is_json,
            blob: blob.into_boxed_slice(),
            ends: [query_start, headers_start, body_start],
            query: query.is_some(),
        }
    }

    /// Its number in the journal.
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    /// About how many bytes of memory the record holds.
    pub(crate) fn size(&self) -> usize {
        let faults = self
            .tail
            .faults
            .iter()
            .map(|f| f.len() + size_of::<String>());
        size_of::<Record>() + self.blob.len() + self.tail.source.len() + faults.sum::<usize>()
    }

    /// The body.
    pub(crate) fn body(&self) -> &[u8] {
        &self.blob[self.ends[2]..]
    }

    /// The members before the body.
    fn head(&self) -> Head<'_> {
        let [query, headers, body] = self.ends;
        let mut fields = self.blob[headers..body].split(|&b| b == 0);
        let pairs = std::iter::from_fn(|| Some((text(fields.next()?), text(fields.next()?))));
        Head {
            seq: self.seq,
            received_at_ms: self.received_at_ms,
            request_id: self.request_id.as_str(),
            method: self.method.as_str(),
            path: text(&self.blob[..query]),
            query: self.query.then(|| text(&self.blob[query..headers])),
            headers: pairs.collect(),
        }
    }

    /// The entry as the journal API shows it (the body parsed now).
    fn entry(&self) -> JournalEntry {
        let h = self.head();
        let body = self.body();
        let (json, body_text) = match () {
            () if body.is_empty() => (None, None),
            () if self.body_is_json => (serde_json::from_slice::<Value>(body).ok(), None),
            () => (None, Some(text(body).into_owned())),
        };
        let own = |(n, v): (Cow<'_, str>, Cow<'_, str>)| (n.into_owned(), v.into_owned());
        JournalEntry {
            seq: h.seq,
            received_at_ms: h.received_at_ms,
            request_id: h.request_id.to_owned(),
            method: h.method.to_owned(),
            path: h.path.into_owned(),
            query: h.query.map(Cow::into_owned),
            headers: h.headers.into_iter().map(own).collect(),
            body: json,
            body_text,
            status: self.tail.status,
            outcome: self.tail.outcome.to_owned(),
            source: self.tail.source.clone(),
            cassette: self.tail.cassette.as_deref().map(str::to_owned),
            faults: self.tail.faults.clone(),
        }
    }

    /// The entry's JSON (as [`JournalEntry`] serializes) up to the value of its body (`"body":`
    /// or `"body_text":"`), or whole when it has no body.
    pub(crate) fn json_head(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec(&self.head()).unwrap_or_default();
        out.pop();
        match () {
            () if self.body().is_empty() => out.extend_from_slice(&self.json_tail()),
            () if self.body_is_json => out.extend_from_slice(b",\"body\":"),
            () => out.extend_from_slice(b",\"body_text\":\""),
        }
        out
    }

    /// The body's JSON from byte `offset` of the body: at most about [`BODY_PIECE`] bytes of
    /// it, and where the next piece starts; after the last piece, the rest of the entry
    /// follows in the same piece.
    pub(crate) fn json_body_piece(&self, offset: usize) -> (Vec<u8>, usize) {
        let body = self.body();
        let mut end = (offset + BODY_PIECE).min(body.len());
        if !self.body_is_json {
            // Do not split a character (nor an invalid sequence) between two pieces.
            let start = end;
            while end < body.len() && end > offset && start - end < 3 && body[end] & 0xC0 == 0x80 {
                end -= 1;
            }
        }
        let piece = &body[offset..end];
        let mut out = if self.body_is_json {
            piece.to_vec()
        } else {
            let quoted = serde_json::to_vec(&text(piece)).unwrap_or_default();
            quoted[1..quoted.len().saturating_sub(1).max(1)].to_vec()
        };
        if end == body.len() {
            if !self.body_is_json {
                out.push(b'"');
            }
            out.extend_from_slice(&self.json_tail());
        }
        (out, end)
    }

    /// The entry's JSON after its body.
    fn json_tail(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec(&self.tail).unwrap_or_default();
        out[0] = b',';
        out
    }
}

/// A bounded journal: at most `capacity` entries and about `max_bytes` bytes (the oldest
/// entries go first; the newest is always kept).
#[derive(Debug)]
pub(crate) struct Journal {
    items: VecDeque<Arc<Record>>,
    capacity: usize,
    max_bytes: usize,
    bytes: usize,
    next_seq: u64,
}

impl Journal {
    /// A journal that keeps at most `capacity` entries and about `max_bytes` bytes of them.
    pub(crate) fn new(capacity: usize, max_bytes: usize) -> Self {
        let capacity = capacity.max(1);
        Journal {
            items: VecDeque::new(),
            capacity,
            max_bytes,
            bytes: 0,
            next_seq: 1,
        }
    }

    /// Adds a packed request, numbering it.
    pub(crate) fn push_record(&mut self, mut record: Record) {
        record.seq = self.next_seq;
        self.next_seq += 1;
        self.bytes += record.size();
        self.items.push_back(Arc::new(record));
        while self.items.len() > 1
            && (self.items.len() > self.capacity || self.bytes > self.max_bytes)
        {
            if let Some(old) = self.items.pop_front() {
                self.bytes = self.bytes.saturating_sub(old.size());
            }
        }
    }

    /// Every entry, oldest first.
    pub(crate) fn entries(&self) -> Vec<JournalEntry> {
        self.items.iter().map(|r| r.entry()).collect()
    }

    /// The oldest entry numbered `seq` or later (shared: it stays readable when it leaves the
    /// journal).
    pub(crate) fn record_from(&self, seq: u64) -> Option<Arc<Record>> {
        let i = self.items.partition_point(|r| r.seq < seq);
        self.items.get(i).cloned()
    }

    /// The number of the newest entry (0: none yet).
    pub(crate) fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// Forgets every entry and restarts numbering.
    pub(crate) fn clear(&mut self) {
        self.items.clear();
        self.bytes = 0;
        self.next_seq = 1;
    }
}
