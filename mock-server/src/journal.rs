//! The journal: every request the mock received on a dialect path (admin requests excepted),
//! with secrets redacted.
//!
//! The server packs each request into one buffer (path, query, headers, body), with every key
//! the request carried redacted on the way in (by [`secrets`]: secret headers
//! and query parameters, and the keys in any encoding in the path, the other headers and the
//! body), so no key is ever stored. The journal is bounded both in entries and in bytes.
//! `GET /__mock/journal` writes it out entry by entry, a body in pieces of 64 KiB, never
//! parsing one (see [`admin`](crate::admin)); [`Journal::entries`] parses them.

use std::collections::VecDeque;
use std::sync::Arc;

use http::{HeaderMap, Method, Uri};
use serde::Serialize;
use serde_json::Value;

use crate::secrets::{REDACTED, Secrets, is_secret_header, redacted_header_value, redacted_query};

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
    /// What answered: `cassette`, `responder`, `error`, `fault`, `no_match`, `record`, `store`.
    pub outcome: String,
    /// The cassette that answered, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cassette: Option<String>,
    /// The fault specs that fired.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<String>,
}

/// A header value as the journal keeps it.
fn redacted_value<'v>(
    name: &str,
    value: &'v [u8],
    secrets: &Secrets,
) -> std::borrow::Cow<'v, [u8]> {
    if is_secret_header(name) {
        std::borrow::Cow::Owned(redacted_header_value(name, value).into_bytes())
    } else {
        secrets.scrub(value, REDACTED)
    }
}

/// What a journaled request looked like, borrowed from the request being answered.
pub(crate) struct Request<'a> {
    pub(crate) received_at_ms: u64,
    pub(crate) request_id: &'a str,
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    pub(crate) headers: &'a HeaderMap,
    /// The body as received (empty when it was not read or was over the limit).
    pub(crate) body: &'a [u8],
    /// Whether the body is JSON, when known (`None`: checked here).
    pub(crate) body_is_json: Option<bool>,
    /// The keys to redact: the request's and the server's (see [`MockState::secrets`](crate::MockState)).
    pub(crate) secrets: &'a Secrets,
    pub(crate) status: u16,
    pub(crate) outcome: &'static str,
    pub(crate) cassette: Option<Arc<str>>,
    pub(crate) faults: &'a [String],
}

/// A request as the journal stores it: the fixed fields, and one byte buffer holding the
/// path, the query, the headers (secrets already redacted) and the raw body. The body is
/// parsed as JSON only when the journal is read.
#[derive(Debug)]
pub(crate) struct Record {
    seq: u64,
    received_at_ms: u64,
    request_id: [u8; 36],
    request_id_len: u8,
    status: u16,
    outcome: &'static str,
    method: Method,
    cassette: Option<Arc<str>>,
    faults: Vec<String>,
    /// Whether the body is JSON (it is written out as it is), or text.
    body_is_json: bool,
    /// `path`, `query`, the headers (`u32` name length, name, `u32` value length, value,
    /// little-endian lengths), then the body.
    blob: Box<[u8]>,
    path_len: u32,
    /// `u32::MAX`: no query.
    query_len: u32,
    headers_len: u32,
}

fn push_len(blob: &mut Vec<u8>, n: usize) {
    blob.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

fn clamp_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Takes one length-prefixed field off the front of `rest`.
fn field<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (len, tail) = rest.split_first_chunk::<4>()?;
    let len = u32::from_le_bytes(*len) as usize;
    let (field, tail) = tail.split_at_checked(len)?;
    *rest = tail;
    Some(field)
}

impl Record {
    /// Packs a request, redacting its keys on the way in.
    pub(crate) fn new(r: &Request<'_>) -> Record {
        let query = r.uri.query();
        let secrets = r.secrets;
        let path = secrets.scrub(r.uri.path().as_bytes(), REDACTED);
        let query = query.map(|q| redacted_query(q, secrets));
        let body = secrets.scrub(r.body, REDACTED);
        let body_is_json = match (&body, r.body_is_json) {
            (std::borrow::Cow::Borrowed(_), Some(known)) => known,
            // UTF-8 first: skipping a JSON text does not check its strings.
            _ => {
                std::str::from_utf8(&body).is_ok()
                    && serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_ok()
            }
        };
        let values: Vec<std::borrow::Cow<'_, [u8]>> = r
            .headers
            .iter()
            .map(|(n, v)| redacted_value(n.as_str(), v.as_bytes(), secrets))
            .collect();
        let headers_size: usize = r
            .headers
            .keys()
            .zip(&values)
            .map(|(n, v)| 8 + n.as_str().len() + v.len())
            .sum();
        let mut blob = Vec::with_capacity(
            path.len() + query.as_ref().map_or(0, |q| q.len()) + headers_size + body.len(),
        );
        blob.extend_from_slice(&path);
        if let Some(q) = &query {
            blob.extend_from_slice(q.as_bytes());
        }
        let headers_start = blob.len();
        for ((name, _), value) in r.headers.iter().zip(&values) {
            let name = name.as_str();
            push_len(&mut blob, name.len());
            blob.extend_from_slice(name.as_bytes());
            push_len(&mut blob, value.len());
            blob.extend_from_slice(value);
        }
        let headers_len = blob.len() - headers_start;
        blob.extend_from_slice(&body);
        let id = r.request_id.as_bytes();
        let mut request_id = [0u8; 36];
        let id_len = id.len().min(36);
        request_id[..id_len].copy_from_slice(&id[..id_len]);
        Record {
            seq: 0,
            received_at_ms: r.received_at_ms,
            request_id,
            request_id_len: id_len as u8,
            status: r.status,
            outcome: r.outcome,
            method: r.method.clone(),
            cassette: r.cassette.clone(),
            faults: r.faults.to_vec(),
            body_is_json,
            blob: blob.into_boxed_slice(),
            path_len: clamp_u32(path.len()),
            query_len: query.map_or(u32::MAX, |q| clamp_u32(q.len())),
            headers_len: clamp_u32(headers_len),
        }
    }

    /// Its number in the journal.
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    /// About how many bytes of memory the record holds.
    pub(crate) fn size(&self) -> usize {
        std::mem::size_of::<Record>()
            + self.blob.len()
            + self
                .faults
                .iter()
                .map(|f| f.len() + std::mem::size_of::<String>())
                .sum::<usize>()
    }

    /// The path, the query, the headers' bytes and the body, out of the blob.
    fn parts(&self) -> Parts<'_> {
        let path_end = self.path_len as usize;
        let (query, headers_start) = match self.query_len {
            u32::MAX => (None, path_end),
            n => (
                Some(&self.blob[path_end..path_end + n as usize]),
                path_end + n as usize,
            ),
        };
        let headers_end = headers_start + self.headers_len as usize;
        (
            &self.blob[..path_end],
            query,
            &self.blob[headers_start..headers_end],
            &self.blob[headers_end..],
        )
    }

    fn request_id(&self) -> &[u8] {
        &self.request_id[..usize::from(self.request_id_len)]
    }

    /// The entry as the journal API shows it (the body parsed now).
    fn entry(&self) -> JournalEntry {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let (path, query, mut rest, body_bytes) = self.parts();
        let mut headers = Vec::new();
        while let (Some(name), Some(value)) = (field(&mut rest), field(&mut rest)) {
            headers.push((text(name), text(value)));
        }
        let (body, body_text) = match () {
            () if body_bytes.is_empty() => (None, None),
            () if self.body_is_json => (serde_json::from_slice::<Value>(body_bytes).ok(), None),
            () => (None, Some(text(body_bytes))),
        };
        JournalEntry {
            seq: self.seq,
            received_at_ms: self.received_at_ms,
            request_id: text(self.request_id()),
            method: self.method.to_string(),
            path: text(path),
            query: query.map(text),
            headers,
            body,
            body_text,
            status: self.status,
            outcome: self.outcome.to_owned(),
            cassette: self.cassette.as_deref().map(str::to_owned),
            faults: self.faults.clone(),
        }
    }

    /// The bytes of the body.
    pub(crate) fn body_len(&self) -> usize {
        self.parts().3.len()
    }

    /// The entry's JSON (as [`JournalEntry`] serializes) up to the value of its body (`"body":`
    /// or `"body_text":"`), or whole when it has no body.
    pub(crate) fn json_head(&self) -> Vec<u8> {
        let (path, query, mut rest, body) = self.parts();
        let mut out = Vec::with_capacity(256 + self.blob.len() - body.len());
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let string = |out: &mut Vec<u8>, b: &[u8]| {
            let _ = serde_json::to_writer(&mut *out, &text(b));
        };
        out.extend_from_slice(
            format!(
                "{{\"seq\":{},\"received_at_ms\":{},\"request_id\":",
                self.seq, self.received_at_ms
            )
            .as_bytes(),
        );
        string(&mut out, self.request_id());
        out.extend_from_slice(b",\"method\":");
        string(&mut out, self.method.as_str().as_bytes());
        out.extend_from_slice(b",\"path\":");
        string(&mut out, path);
        if let Some(q) = query {
            out.extend_from_slice(b",\"query\":");
            string(&mut out, q);
        }
        out.extend_from_slice(b",\"headers\":[");
        let mut first = true;
        while let (Some(name), Some(value)) = (field(&mut rest), field(&mut rest)) {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            out.push(b'[');
            string(&mut out, name);
            out.push(b',');
            string(&mut out, value);
            out.push(b']');
        }
        out.push(b']');
        match () {
            () if body.is_empty() => out.extend_from_slice(&self.json_tail()),
            () if self.body_is_json => out.extend_from_slice(b",\"body\":"),
            () => out.extend_from_slice(b",\"body_text\":\""),
        }
        out
    }

    /// The body's JSON from byte `offset` of the body: at most about [`BODY_PIECE`] bytes of
    /// it, and where the next piece starts; after the last piece, the rest of the entry
    /// ([`json_tail`](Self::json_tail)) follows in the same piece.
    pub(crate) fn json_body_piece(&self, offset: usize) -> (Vec<u8>, usize) {
        let body = self.parts().3;
        let mut end = (offset + BODY_PIECE).min(body.len());
        if !self.body_is_json {
            // Do not split a character (nor an invalid sequence) between two pieces.
            let mut back = 0;
            while end < body.len() && end > offset && back < 3 && body[end] & 0xC0 == 0x80 {
                end -= 1;
                back += 1;
            }
        }
        let piece = &body[offset..end];
        let mut out = if self.body_is_json {
            piece.to_vec()
        } else {
            let quoted = serde_json::to_vec(&String::from_utf8_lossy(piece)).unwrap_or_default();
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
        let mut out = format!(",\"status\":{},\"outcome\":", self.status).into_bytes();
        let _ = serde_json::to_writer(&mut out, self.outcome);
        if let Some(c) = &self.cassette {
            out.extend_from_slice(b",\"cassette\":");
            let _ = serde_json::to_writer(&mut out, &**c);
        }
        if !self.faults.is_empty() {
            out.extend_from_slice(b",\"faults\":");
            let _ = serde_json::to_writer(&mut out, &self.faults);
        }
        out.push(b'}');
        out
    }
}

/// A record's blob, apart: the path, the query, the headers' bytes, the body.
type Parts<'a> = (&'a [u8], Option<&'a [u8]>, &'a [u8], &'a [u8]);

/// The most body bytes in one piece of the journal as written out.
pub(crate) const BODY_PIECE: usize = 64 * 1024;

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
        Journal {
            items: VecDeque::new(),
            capacity: capacity.max(1),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn packed(j: &mut Journal, uri: &str, headers: &HeaderMap, body: &[u8]) {
        let uri: Uri = uri.parse().unwrap();
        j.push_record(Record::new(&Request {
            received_at_ms: 5,
            request_id: "0f0f0f0f-0000-4000-8000-000000000000",
            method: &Method::POST,
            uri: &uri,
            headers,
            body,
            body_is_json: None,
            secrets: &Secrets::new(
                crate::secrets::request_keys(headers, uri.query())
                    .iter()
                    .map(String::as_str),
            ),
            status: 201,
            outcome: "cassette",
            cassette: Some(Arc::from("chat/x")),
            faults: &["status=500".to_owned()],
        }));
    }

    #[test]
    fn packed_records_read_back_as_entries_with_secrets_redacted() {
        let mut h = HeaderMap::new();
        h.insert("content-type", "application/json".parse().unwrap());
        h.insert("authorization", "Bearer sk-secret123".parse().unwrap());
        h.append("x-api-key", "k".parse().unwrap());
        h.append("x-many", "1".parse().unwrap());
        h.append("x-many", "2".parse().unwrap());
        let mut j = Journal::new(10, usize::MAX);
        packed(&mut j, "/p/a?x=1&y", &h, br#"{"model":"m"}"#);
        packed(&mut j, "/p/b", &HeaderMap::new(), b"not json \xff");
        packed(&mut j, "/p/c", &HeaderMap::new(), b"");
        let e = j.entries();
        assert_eq!(e.len(), 3);
        assert_eq!(
            (e[0].seq, e[0].path.as_str(), e[0].query.as_deref()),
            (1, "/p/a", Some("x=1&y"))
        );
        let h = |n: &str, v: &str| (n.to_owned(), v.to_owned());
        assert_eq!(
            e[0].headers,
            [
                h("content-type", "application/json"),
                h("authorization", "Bearer [REDACTED]"),
                h("x-api-key", REDACTED),
                h("x-many", "1"),
                h("x-many", "2")
            ]
        );
        assert_eq!(e[0].body, Some(serde_json::json!({"model": "m"})));
        assert_eq!(e[0].body_text, None);
        assert_eq!(e[0].request_id, "0f0f0f0f-0000-4000-8000-000000000000");
        assert_eq!(
            (e[0].method.as_str(), e[0].status, e[0].outcome.as_str()),
            ("POST", 201, "cassette")
        );
        assert_eq!(e[0].cassette.as_deref(), Some("chat/x"));
        assert_eq!(e[0].faults, ["status=500"]);
        assert_eq!((e[1].query.as_deref(), e[1].body.as_ref()), (None, None));
        assert_eq!(e[1].body_text.as_deref(), Some("not json \u{fffd}"));
        assert_eq!((e[2].body.as_ref(), e[2].body_text.as_ref()), (None, None));
        assert!(!format!("{e:?}").contains("sk-secret123"));
        assert!(!format!("{j:?}").contains("sk-secret123"));
    }

    #[test]
    fn bounded() {
        let mut j = Journal::new(2, usize::MAX);
        for _ in 0..3 {
            packed(&mut j, "/p", &HeaderMap::new(), b"");
        }
        let seqs: Vec<u64> = j.entries().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [2, 3]);
        assert_eq!(j.record_from(0).map(|r| r.seq()), Some(2));
        assert_eq!(j.record_from(3).map(|r| r.seq()), Some(3));
        assert!(j.record_from(4).is_none());
        assert_eq!(j.last_seq(), 3);
    }

    /// Written out piece by piece, an entry is what serde makes of it, whatever its body.
    #[test]
    fn entries_written_in_pieces_equal_their_serde_form() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer sk-secret123".parse().unwrap());
        h.insert("x-q", "a\"b".parse().unwrap());
        let big_text: Vec<u8> = "é\u{1}x\"".repeat(40_000).into_bytes();
        let big_json = serde_json::to_vec(&serde_json::json!({"t": "é".repeat(70_000)})).unwrap();
        let mut j = Journal::new(10, usize::MAX);
        let bodies: [&[u8]; 5] = [
            b"",
            b"{\"a\": [1, 2]}",
            b"not json \xff\xfe",
            &big_text,
            &big_json,
        ];
        for body in bodies {
            packed(&mut j, "/p/a?x=1", &h, body);
        }
        for (r, want) in j.items.iter().zip(j.entries()) {
            let mut text = r.json_head();
            if r.body_len() > 0 {
                let mut offset = 0;
                loop {
                    let (piece, next) = r.json_body_piece(offset);
                    assert!(piece.len() <= BODY_PIECE * 6 + 512);
                    text.extend_from_slice(&piece);
                    if next == r.body_len() {
                        break;
                    }
                    offset = next;
                }
            }
            let got: Value = serde_json::from_slice(&text).expect("valid JSON");
            assert_eq!(got, serde_json::to_value(&want).unwrap());
        }
    }

    #[test]
    fn bounded_in_bytes_too() {
        let body = vec![b'x'; 10_000];
        let mut j = Journal::new(1_000, 50_000);
        for _ in 0..20 {
            packed(&mut j, "/p", &HeaderMap::new(), &body);
        }
        assert!(j.items.len() < 6, "{} entries kept", j.items.len());
        assert!(j.bytes <= 50_000);
        assert_eq!(j.entries().last().map(|e| e.seq), Some(20));
        // The newest entry stays even when it alone is over the limit.
        let mut j = Journal::new(1_000, 10);
        packed(&mut j, "/p", &HeaderMap::new(), &body);
        packed(&mut j, "/p", &HeaderMap::new(), &body);
        assert_eq!(j.entries().iter().map(|e| e.seq).collect::<Vec<_>>(), [2]);
        j.clear();
        assert_eq!((j.items.len(), j.bytes), (0, 0));
    }
}
