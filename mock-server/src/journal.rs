//! The journal: every request the mock received on a dialect path (admin requests excepted),
//! with secrets redacted.
//!
//! The server packs each request into one buffer (path, query, redacted headers, raw body)
//! and parses the body only when the journal is read, so journaling costs one allocation per
//! request; the journal is bounded both in entries and in bytes.

use std::collections::VecDeque;
use std::sync::Arc;

use http::{HeaderMap, Method, Uri};
use serde::Serialize;
use serde_json::Value;

/// The value that replaces a secret header.
pub const REDACTED: &str = "[REDACTED]";

/// Headers whose values are never kept.
const SECRET_HEADERS: [&str; 6] = [
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "cookie",
    "set-cookie",
];

/// Whether a header's value is a secret.
pub fn is_secret_header(name: &str) -> bool {
    SECRET_HEADERS.iter().any(|s| s.eq_ignore_ascii_case(name))
}

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

/// Redacts headers for the journal: secret values replaced, names lower-case, order kept.
pub fn redact_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let name = name.as_str().to_owned();
            let value = if is_secret_header(&name) {
                let v = value.to_str().unwrap_or("");
                match v.split_once(' ') {
                    Some((scheme, _)) if scheme.eq_ignore_ascii_case("bearer") => {
                        format!("{scheme} {REDACTED}")
                    }
                    _ => REDACTED.to_owned(),
                }
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            (name, value)
        })
        .collect()
}

/// The default cap on the bytes the journal holds ([`MockConfig::journal_max_bytes`](crate::MockConfig)):
/// 64 MiB. Together with the entry cap it bounds the journal's memory whatever the request
/// sizes.
pub const DEFAULT_JOURNAL_MAX_BYTES: usize = 64 * 1024 * 1024;

/// What a journaled request looked like, borrowed from the request being answered.
pub(crate) struct Request<'a> {
    pub(crate) received_at_ms: u64,
    pub(crate) request_id: &'a str,
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    pub(crate) headers: &'a HeaderMap,
    /// The body as received (empty when it was not read or was over the limit).
    pub(crate) body: &'a [u8],
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
    /// Packs a request, redacting secret header values on the way in.
    pub(crate) fn new(r: &Request<'_>) -> Record {
        let path = r.uri.path().as_bytes();
        let query = r.uri.query().map(str::as_bytes);
        let headers_size: usize = r
            .headers
            .iter()
            .map(|(n, v)| 8 + n.as_str().len() + v.len())
            .sum();
        let mut blob = Vec::with_capacity(
            path.len() + query.map_or(0, <[u8]>::len) + headers_size + r.body.len(),
        );
        blob.extend_from_slice(path);
        if let Some(q) = query {
            blob.extend_from_slice(q);
        }
        let headers_start = blob.len();
        for (name, value) in r.headers {
            let name = name.as_str();
            push_len(&mut blob, name.len());
            blob.extend_from_slice(name.as_bytes());
            if is_secret_header(name) {
                let v = value.to_str().unwrap_or("");
                match v.split_once(' ') {
                    Some((scheme, _)) if scheme.eq_ignore_ascii_case("bearer") => {
                        push_len(&mut blob, scheme.len() + 1 + REDACTED.len());
                        blob.extend_from_slice(scheme.as_bytes());
                        blob.push(b' ');
                    }
                    _ => push_len(&mut blob, REDACTED.len()),
                }
                blob.extend_from_slice(REDACTED.as_bytes());
            } else {
                push_len(&mut blob, value.len());
                blob.extend_from_slice(value.as_bytes());
            }
        }
        let headers_len = blob.len() - headers_start;
        blob.extend_from_slice(r.body);
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
            blob: blob.into_boxed_slice(),
            path_len: clamp_u32(path.len()),
            query_len: query.map_or(u32::MAX, |q| clamp_u32(q.len())),
            headers_len: clamp_u32(headers_len),
        }
    }

    /// About how many bytes of memory the record holds.
    fn size(&self) -> usize {
        std::mem::size_of::<Record>()
            + self.blob.len()
            + self
                .faults
                .iter()
                .map(|f| f.len() + std::mem::size_of::<String>())
                .sum::<usize>()
    }

    /// The entry as the journal API shows it (the body parsed now).
    fn entry(&self) -> JournalEntry {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let path_end = self.path_len as usize;
        let (query, headers_start) = match self.query_len {
            u32::MAX => (None, path_end),
            n => (
                Some(text(&self.blob[path_end..path_end + n as usize])),
                path_end + n as usize,
            ),
        };
        let headers_end = headers_start + self.headers_len as usize;
        let mut headers = Vec::new();
        let mut rest = &self.blob[headers_start..headers_end];
        while let (Some(name), Some(value)) = (field(&mut rest), field(&mut rest)) {
            headers.push((text(name), text(value)));
        }
        let body_bytes = &self.blob[headers_end..];
        let (body, body_text) = match serde_json::from_slice::<Value>(body_bytes) {
            Ok(v) => (Some(v), None),
            Err(_) if body_bytes.is_empty() => (None, None),
            Err(_) => (None, Some(text(body_bytes))),
        };
        JournalEntry {
            seq: self.seq,
            received_at_ms: self.received_at_ms,
            request_id: text(&self.request_id[..usize::from(self.request_id_len)]),
            method: self.method.to_string(),
            path: text(&self.blob[..path_end]),
            query,
            headers,
            body,
            body_text,
            status: self.status,
            outcome: self.outcome.to_owned(),
            cassette: self.cassette.as_deref().map(str::to_owned),
            faults: self.faults.clone(),
        }
    }
}

/// One stored item: a packed request (what the server journals), or an entry pushed whole
/// through [`Journal::push`].
#[derive(Debug)]
enum Item {
    Packed(Record),
    Whole(Box<JournalEntry>),
}

impl Item {
    fn size(&self) -> usize {
        match self {
            Item::Packed(r) => r.size(),
            Item::Whole(e) => entry_size(e),
        }
    }
}

/// About how many bytes an entry holds.
fn entry_size(e: &JournalEntry) -> usize {
    fn value_size(v: &Value) -> usize {
        32 + match v {
            Value::String(s) => s.len(),
            Value::Array(a) => a.iter().map(value_size).sum(),
            Value::Object(o) => o.iter().map(|(k, v)| k.len() + value_size(v)).sum(),
            _ => 0,
        }
    }
    std::mem::size_of::<JournalEntry>()
        + e.request_id.len()
        + e.method.len()
        + e.path.len()
        + e.query.as_ref().map_or(0, String::len)
        + e.headers
            .iter()
            .map(|(n, v)| 48 + n.len() + v.len())
            .sum::<usize>()
        + e.body.as_ref().map_or(0, value_size)
        + e.body_text.as_ref().map_or(0, String::len)
        + e.outcome.len()
        + e.cassette.as_ref().map_or(0, String::len)
        + e.faults.iter().map(|f| 24 + f.len()).sum::<usize>()
}

/// A bounded journal: at most `capacity` entries and about `max_bytes` bytes (the oldest
/// entries go first; the newest is always kept).
#[derive(Debug)]
pub struct Journal {
    items: VecDeque<Item>,
    capacity: usize,
    max_bytes: usize,
    bytes: usize,
    next_seq: u64,
}

impl Journal {
    /// A journal that keeps at most `capacity` entries (and at most
    /// [`DEFAULT_JOURNAL_MAX_BYTES`]).
    pub fn new(capacity: usize) -> Self {
        Self::with_limits(capacity, DEFAULT_JOURNAL_MAX_BYTES)
    }

    /// A journal that keeps at most `capacity` entries and about `max_bytes` bytes of them.
    pub fn with_limits(capacity: usize, max_bytes: usize) -> Self {
        Journal {
            items: VecDeque::new(),
            capacity: capacity.max(1),
            max_bytes,
            bytes: 0,
            next_seq: 1,
        }
    }

    fn add(&mut self, item: Item) {
        self.bytes += item.size();
        self.items.push_back(item);
        while self.items.len() > 1
            && (self.items.len() > self.capacity || self.bytes > self.max_bytes)
        {
            if let Some(old) = self.items.pop_front() {
                self.bytes = self.bytes.saturating_sub(old.size());
            }
        }
    }

    /// Adds an entry, numbering it.
    pub fn push(&mut self, mut entry: JournalEntry) {
        entry.seq = self.next_seq;
        self.next_seq += 1;
        self.add(Item::Whole(Box::new(entry)));
    }

    /// Adds a packed request, numbering it.
    pub(crate) fn push_record(&mut self, mut record: Record) {
        record.seq = self.next_seq;
        self.next_seq += 1;
        self.add(Item::Packed(record));
    }

    /// Every entry, oldest first.
    pub fn entries(&self) -> Vec<JournalEntry> {
        self.items
            .iter()
            .map(|i| match i {
                Item::Packed(r) => r.entry(),
                Item::Whole(e) => (**e).clone(),
            })
            .collect()
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// About how many bytes its entries hold.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Forgets every entry and restarts numbering.
    pub fn clear(&mut self) {
        self.items.clear();
        self.bytes = 0;
        self.next_seq = 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_order_and_scheme() {
        let mut h = HeaderMap::new();
        h.insert("content-type", "application/json".parse().unwrap());
        h.insert("authorization", "Bearer sk-secret123".parse().unwrap());
        h.insert("x-api-key", "k".parse().unwrap());
        let r = redact_headers(&h);
        assert_eq!(
            r[0],
            ("content-type".to_owned(), "application/json".to_owned())
        );
        assert_eq!(
            r[1],
            ("authorization".to_owned(), "Bearer [REDACTED]".to_owned())
        );
        assert_eq!(r[2].1, REDACTED);
        assert!(!format!("{r:?}").contains("sk-secret123"));
    }

    #[test]
    fn bounded() {
        let mut j = Journal::new(2);
        for _ in 0..3 {
            j.push(JournalEntry {
                seq: 0,
                received_at_ms: 0,
                request_id: String::new(),
                method: "POST".into(),
                path: "/".into(),
                query: None,
                headers: vec![],
                body: None,
                body_text: None,
                status: 200,
                outcome: "cassette".into(),
                cassette: None,
                faults: vec![],
            });
        }
        let seqs: Vec<u64> = j.entries().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [2, 3]);
    }

    fn packed(j: &mut Journal, uri: &str, headers: &HeaderMap, body: &[u8]) {
        let uri: Uri = uri.parse().unwrap();
        j.push_record(Record::new(&Request {
            received_at_ms: 5,
            request_id: "0f0f0f0f-0000-4000-8000-000000000000",
            method: &Method::POST,
            uri: &uri,
            headers,
            body,
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
        let mut j = Journal::new(10);
        packed(&mut j, "/p/a?x=1&y", &h, br#"{"model":"m"}"#);
        packed(&mut j, "/p/b", &HeaderMap::new(), b"not json \xff");
        packed(&mut j, "/p/c", &HeaderMap::new(), b"");
        let e = j.entries();
        assert_eq!(e.len(), 3);
        assert_eq!(
            (e[0].seq, e[0].path.as_str(), e[0].query.as_deref()),
            (1, "/p/a", Some("x=1&y"))
        );
        assert_eq!(e[0].headers, redact_headers(&h));
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
    fn bounded_in_bytes_too() {
        let body = vec![b'x'; 10_000];
        let mut j = Journal::with_limits(1_000, 50_000);
        for _ in 0..20 {
            packed(&mut j, "/p", &HeaderMap::new(), &body);
        }
        assert!(j.len() < 6, "{} entries kept", j.len());
        assert!(j.bytes() <= 50_000);
        assert_eq!(j.entries().last().map(|e| e.seq), Some(20));
        // The newest entry stays even when it alone is over the limit.
        let mut j = Journal::with_limits(1_000, 10);
        packed(&mut j, "/p", &HeaderMap::new(), &body);
        packed(&mut j, "/p", &HeaderMap::new(), &body);
        assert_eq!(j.entries().iter().map(|e| e.seq).collect::<Vec<_>>(), [2]);
        j.clear();
        assert_eq!((j.len(), j.bytes()), (0, 0));
    }
}
