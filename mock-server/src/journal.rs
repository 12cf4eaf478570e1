//! The journal: every request the mock received on a dialect path (admin requests excepted),
//! with secrets redacted.

use std::collections::VecDeque;

use http::HeaderMap;
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

/// A bounded journal (the oldest entries go first).
#[derive(Debug)]
pub struct Journal {
    entries: VecDeque<JournalEntry>,
    capacity: usize,
    next_seq: u64,
}

impl Journal {
    /// A journal that keeps at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        Journal {
            entries: VecDeque::new(),
            capacity: capacity.max(1),
            next_seq: 1,
        }
    }

    /// Adds an entry, numbering it.
    pub fn push(&mut self, mut entry: JournalEntry) {
        entry.seq = self.next_seq;
        self.next_seq += 1;
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
    }

    /// Every entry, oldest first.
    pub fn entries(&self) -> Vec<JournalEntry> {
        self.entries.iter().cloned().collect()
    }

    /// Forgets every entry and restarts numbering.
    pub fn clear(&mut self) {
        self.entries.clear();
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
}
