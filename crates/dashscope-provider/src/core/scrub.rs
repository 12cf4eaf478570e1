//! Scrubbing the API key out of what the service sends, at the one place it comes in.
//!
//! A gateway or proxy may echo the `Authorization` header into anything: a response header (the
//! request id), an error body, an HTML error page, a stream event that then lands in a partial
//! answer. [`Head`](super::Head) runs every response through a [`Scrubber`] before anything
//! reads it: the headers when the head arrives, a collected body before it is classified, a
//! stream's bytes before the SSE decoder sees them. So every field of every error, every span
//! field and every value the client hands out is built from scrubbed text, by construction.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use memchr::memmem::Finder;

use crate::config::ApiKey;

/// What replaces the key.
pub(crate) const REDACTED: &str = "[REDACTED]";

/// The shortest key that is scrubbed: a shorter one would match ordinary text (a real key is
/// `sk-` and 32 characters).
pub(crate) const MIN_SCRUBBED_KEY: usize = 8;

/// Replaces the key, as it is and JSON-escaped, with [`REDACTED`]. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Scrubber {
    needles: Arc<[Finder<'static>]>,
}

impl fmt::Debug for Scrubber {
    /// The number of forms searched for, never a form (a `Finder` would show the key's bytes).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scrubber")
            .field("needles", &self.needles.len())
            .finish()
    }
}

impl Scrubber {
    /// A scrubber for `key`: nothing for a key shorter than [`MIN_SCRUBBED_KEY`].
    pub(crate) fn new(key: &ApiKey) -> Self {
        let key = key.expose();
        let mut needles = Vec::new();
        if key.len() >= MIN_SCRUBBED_KEY {
            needles.push(Finder::new(key.as_bytes()).into_owned());
            // The key inside a JSON string, should it hold a character JSON escapes.
            let quoted = serde_json::to_string(key).unwrap_or_default();
            let escaped = quoted.trim_matches('"');
            if escaped != key {
                needles.push(Finder::new(escaped.as_bytes()).into_owned());
            }
        }
        Scrubber {
            needles: needles.into(),
        }
    }

    fn finds(&self, bytes: &[u8]) -> bool {
        self.needles.iter().any(|n| n.find(bytes).is_some())
    }

    /// `bytes` with every occurrence replaced.
    fn replaced(&self, bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        for needle in self.needles.iter() {
            let mut next = Vec::with_capacity(out.len());
            let mut rest = &out[..];
            while let Some(i) = needle.find(rest) {
                next.extend_from_slice(&rest[..i]);
                next.extend_from_slice(REDACTED.as_bytes());
                rest = &rest[i + needle.needle().len()..];
            }
            next.extend_from_slice(rest);
            out = next;
        }
        out
    }

    /// A whole body, scrubbed (the same `Bytes` when it holds no key).
    pub(crate) fn body(&self, bytes: Bytes) -> Bytes {
        if self.finds(&bytes) {
            Bytes::from(self.replaced(&bytes))
        } else {
            bytes
        }
    }

    /// Scrubs every header value.
    pub(crate) fn headers(&self, headers: &mut HeaderMap) {
        for value in headers.values_mut() {
            if self.finds(value.as_bytes()) {
                if let Ok(clean) = HeaderValue::from_bytes(&self.replaced(value.as_bytes())) {
                    *value = clean;
                }
            }
        }
    }

    /// How many bytes at the end of `bytes` could be the start of a key cut by a chunk
    /// boundary.
    fn open_tail(&self, bytes: &[u8]) -> usize {
        self.needles
            .iter()
            .map(|n| {
                let needle = n.needle();
                (1..needle.len().min(bytes.len() + 1))
                    .rev()
                    .find(|&k| bytes.ends_with(&needle[..k]))
                    .unwrap_or(0)
            })
            .max()
            .unwrap_or(0)
    }
}

/// Scrubs a body that arrives in chunks: a key cut by a chunk boundary is still found. Only
/// the bytes that could be the start of a key are held back (fewer than the key's length), so
/// a complete line is never delayed: a key holds no line end.
pub(crate) struct ChunkScrubber {
    scrubber: Scrubber,
    /// The held-back end of the bytes so far.
    tail: Vec<u8>,
    /// The scrubbed bytes handed out last.
    out: Vec<u8>,
}

impl fmt::Debug for ChunkScrubber {
    /// Lengths only: the held-back tail may be the start of the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkScrubber")
            .field("scrubber", &self.scrubber)
            .field("held_back", &self.tail.len())
            .finish_non_exhaustive()
    }
}

impl ChunkScrubber {
    pub(crate) fn new(scrubber: Scrubber) -> Self {
        ChunkScrubber {
            scrubber,
            tail: Vec::new(),
            out: Vec::new(),
        }
    }

    /// The scrubbed bytes to pass on for `chunk` (the chunk itself when nothing needs doing).
    pub(crate) fn push<'a>(&'a mut self, chunk: &'a [u8]) -> &'a [u8] {
        let s = &self.scrubber;
        if s.needles.is_empty()
            || (self.tail.is_empty() && !s.finds(chunk) && s.open_tail(chunk) == 0)
        {
            return chunk;
        }
        self.tail.extend_from_slice(chunk);
        let mut out = if s.finds(&self.tail) {
            s.replaced(&self.tail)
        } else {
            std::mem::take(&mut self.tail)
        };
        let keep = s.open_tail(&out);
        self.tail.clear();
        self.tail.extend_from_slice(&out[out.len() - keep..]);
        out.truncate(out.len() - keep);
        self.out = out;
        &self.out
    }

    /// The held-back bytes, at the end of the body (they cannot hold a key).
    pub(crate) fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.tail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk-secret-0042";

    fn scrubber(key: &str) -> Scrubber {
        Scrubber::new(&ApiKey::new(key))
    }

    #[test]
    fn bodies_and_headers() {
        let s = scrubber(KEY);
        let body = Bytes::from(format!("a {KEY} b {KEY}"));
        assert_eq!(s.body(body), "a [REDACTED] b [REDACTED]");
        let clean = Bytes::from_static(b"nothing here");
        let same = s.body(clean.clone());
        assert_eq!(same.as_ptr(), clean.as_ptr(), "no copy without a key");
        let mut h = HeaderMap::new();
        h.insert(
            "x-request-id",
            HeaderValue::from_static("rid-sk-secret-0042"),
        );
        h.insert("x-other", HeaderValue::from_static("fine"));
        s.headers(&mut h);
        assert_eq!(h["x-request-id"], "rid-[REDACTED]");
        assert_eq!(h["x-other"], "fine");
        // A short key would match ordinary text: not scrubbed.
        assert_eq!(scrubber("k").body(Bytes::from_static(b"kkk")), "kkk");
        // JSON-escaped.
        let odd = r"sk-odd\key/1";
        let s = scrubber(odd);
        let json = serde_json::to_string(&format!("echo {odd}")).unwrap();
        assert_eq!(s.body(Bytes::from(json)), r#""echo [REDACTED]""#);
    }

    #[test]
    fn chunks_cut_anywhere() {
        let text = format!("data: {{\"t\":\"{KEY}\"}}\n\nss{KEY}{KEY}sk-secr\n\nsk-");
        let want = text.replace(KEY, REDACTED);
        for cut in 0..=text.len() {
            for cut2 in cut..=text.len() {
                let mut c = ChunkScrubber::new(scrubber(KEY));
                let mut got = Vec::new();
                for piece in [&text[..cut], &text[cut..cut2], &text[cut2..]] {
                    let out = c.push(piece.as_bytes()).to_vec();
                    // Nothing after the last line end is ever held back... unless it could
                    // start a key.
                    got.extend(out);
                }
                got.extend(c.finish());
                assert_eq!(String::from_utf8(got).unwrap(), want, "cuts {cut} {cut2}");
            }
        }
    }

    #[test]
    fn debug_shows_no_form_of_the_key() {
        let s = scrubber(KEY);
        let mut c = ChunkScrubber::new(s.clone());
        let _ = c.push(b"data: sk-secret-00");
        let bytes = format!("{:?}", KEY.as_bytes());
        let inner = bytes.trim_matches(['[', ']']);
        for shown in [format!("{s:?} {s:#?}"), format!("{c:?} {c:#?}")] {
            assert!(
                !shown.contains(KEY) && !shown.contains("sk-secret"),
                "{shown}"
            );
            assert!(!shown.contains(&inner[..20]), "the key's bytes: {shown}");
        }
    }

    #[test]
    fn a_complete_line_is_never_held_back() {
        let mut c = ChunkScrubber::new(scrubber(KEY));
        assert_eq!(c.push(b"data: x\n\n"), b"data: x\n\n");
        assert_eq!(c.push(b"data: y sk-se"), b"data: y ");
        assert_eq!(c.push(b"cond\n\n"), b"sk-second\n\n");
        assert!(c.finish().is_empty());
    }
}
