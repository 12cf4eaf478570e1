//! Keeping API keys out of what a program shows: every encoding in which a key can come back
//! from a server (or be written to a journal, a log, a recorded fixture), and where a request
//! carries one.
//!
//! The SDK's client scrubs every response through a [`Secrets`] built from its key before
//! anything reads it (headers with [`Secrets::scrub_headers`], a whole body with
//! [`Secrets::scrub`], a stream with a [`StreamScrubber`]); the mock server redacts its journal
//! and its recorded fixtures with the same type. A custom transport or logging layer can do the
//! same.
//!
//! * **How a key shows up again** (searched for every key a [`Secrets`] is built from): as it
//!   is; JSON-escaped, whole or in part (`\u0073k-…`, `\\` for a backslash), also inside a
//!   JSON string inside a JSON string; percent-encoded (`%73k-…`, also twice); base64 (standard
//!   or URL-safe alphabet, padded or not) at any alignment, so also inside the base64 of
//!   `Bearer <key>` or of `user:<key>` (an echoed `Basic` credential). Optionally
//!   ([`Secrets::with_key_like`]) any key-like `sk-…` string too (`sk-` and 8 or more key
//!   characters).
//! * **Where a request carries a key**: the value of a secret header ([`is_secret_header`]:
//!   `Authorization` and `Proxy-Authorization` (the credential after the scheme), `X-API-Key`,
//!   `X-DashScope-ApiKey`, `DashScope-API-Key`, `X-Auth-Token`, `X-Goog-Api-Key`, cookies, and
//!   any header whose name contains `key`, `token`, `secret`, `auth`, `passw`, `cookie`,
//!   `credential` or `signature`), and the value of a secret query parameter
//!   ([`is_secret_param`]: `key`, `api_key`, `access_token`, … by the same name parts).
//!   [`request_keys`] collects them.
//!
//! # The one length rule
//!
//! A key shorter than [`MIN_SCRUB_LEN`] bytes (8, after trimming white space) is never scrubbed
//! out of text: it would turn ordinary words into [`REDACTED`] (a real DashScope key is `sk-`
//! and 32 characters). [`Secrets::leaks`] still finds it, in every form, so a writer of
//! recorded files can refuse to write one that holds it.
//!
//! # Example
//!
//! ```
//! use dashscope_transport::secrets::{REDACTED, Secrets};
//!
//! let key = "sk-0123456789abcdef0123456789abcdef";
//! let secrets = Secrets::new([key]);
//! // A gateway echoed the key percent-encoded in one place, as `Basic base64(user:key)` in
//! // another (`dXNlcjpzay0w…` is the base64 of `user:sk-0…`).
//! let body = "key=sk%2D0123456789abcdef0123456789abcdef; \
//!             auth=Basic dXNlcjpzay0wMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZg==";
//! assert!(secrets.leaks(body));
//! let clean = secrets.scrub_str(body, REDACTED);
//! assert!(!secrets.leaks(clean.as_ref()));
//! assert_eq!(clean, "key=[REDACTED]; auth=Basic dXNlcjp[REDACTED]g==");
//! ```

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use http::{HeaderMap, HeaderValue};
use memchr::memmem::Finder;

/// What replaces a key in text meant for people: errors, logs, journals.
pub const REDACTED: &str = "[REDACTED]";

/// A key-shaped placeholder, for text that must still read as holding a key (a recorded
/// fixture replayed later). The key-like rule ([`Secrets::with_key_like`]) never replaces it.
pub const KEY_PLACEHOLDER: &str = "sk-REDACTED";

/// The shortest key (in bytes, after trimming) scrubbed out of text; shorter keys are only
/// searched for by [`Secrets::leaks`]. See [the module docs](self#the-one-length-rule).
pub const MIN_SCRUB_LEN: usize = 8;

/// The shortest base64 rendering of a key searched for (shorter ones would match by chance).
const MIN_BASE64_LEN: usize = 8;

/// The most source bytes one byte of a decoded view comes from: two levels of `\u0041`.
const MAX_EXPANSION: usize = 36;

/// The longest partial line a [`StreamScrubber`] holds back, for keys up to about 9 bytes
/// (longer keys get `2 * 36 * form length`).
const LINE_HOLD: usize = 16 * 1024;

/// Header names that carry keys.
const SECRET_HEADERS: [&str; 10] = [
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "x-dashscope-apikey",
    "dashscope-api-key",
    "x-auth-token",
    "x-goog-api-key",
    "cookie",
    "set-cookie",
];

/// A header or query parameter whose name contains one of these carries a secret.
const SECRET_NAME_PARTS: [&str; 8] = [
    "key",
    "token",
    "secret",
    "auth",
    "passw",
    "cookie",
    "credential",
    "signature",
];

/// Whether `name` (ASCII case ignored) contains one of the [`SECRET_NAME_PARTS`].
fn has_secret_part(name: &str) -> bool {
    let lower;
    let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
        lower = name.to_ascii_lowercase();
        &lower
    } else {
        name
    };
    SECRET_NAME_PARTS.iter().any(|p| name.contains(p))
}

/// Whether a header's value is a secret (see [the module docs](self)), ASCII case ignored.
///
/// ```
/// use dashscope_transport::secrets::is_secret_header;
///
/// assert!(is_secret_header("Authorization") && is_secret_header("x-my-api-key"));
/// assert!(!is_secret_header("x-request-id"));
/// ```
pub fn is_secret_header(name: &str) -> bool {
    SECRET_HEADERS.iter().any(|s| s.eq_ignore_ascii_case(name)) || has_secret_part(name)
}

/// Whether a query parameter's value is a secret (see [the module docs](self)), ASCII case
/// ignored.
///
/// ```
/// use dashscope_transport::secrets::is_secret_param;
///
/// assert!(is_secret_param("api_key") && is_secret_param("access_token"));
/// assert!(!is_secret_param("model"));
/// ```
pub fn is_secret_param(name: &str) -> bool {
    has_secret_part(name)
}

/// Whether a header carries credentials after an authentication scheme (`Bearer x`).
fn has_scheme(name: &str) -> bool {
    name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("proxy-authorization")
}

/// The scheme of an `Authorization` value (`Bearer` of `Bearer x`), if it has one.
fn scheme(value: &str) -> Option<&str> {
    let (scheme, _) = value.trim().split_once(' ')?;
    scheme
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        .then_some(scheme)
}

/// The key in a secret header's value: what follows the scheme of an `Authorization` value
/// (`Bearer x` gives `x`; a scheme alone gives nothing), else the whole value.
fn credential<'v>(name: &str, value: &'v str) -> &'v str {
    let v = value.trim();
    if !has_scheme(name) {
        return v;
    }
    match scheme(v) {
        Some(s) => v[s.len()..].trim(),
        None if v.eq_ignore_ascii_case("bearer") || v.eq_ignore_ascii_case("basic") => "",
        None => v,
    }
}

/// A secret header's value as a log or journal may show it: an `Authorization` or
/// `Proxy-Authorization` value keeps its scheme (`Bearer [REDACTED]`); anything else is
/// [`REDACTED`] whole.
///
/// ```
/// use dashscope_transport::secrets::redacted_header_value;
///
/// assert_eq!(redacted_header_value("authorization", b"Bearer sk-1"), "Bearer [REDACTED]");
/// assert_eq!(redacted_header_value("x-api-key", b"sk-1"), "[REDACTED]");
/// ```
pub fn redacted_header_value(name: &str, value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    match scheme(&text).filter(|_| has_scheme(name)) {
        Some(s) => format!("{s} {REDACTED}"),
        None => REDACTED.to_owned(),
    }
}

/// Percent-decodes a query component (`+` is a space), lossily.
fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (b[i], hex2(b, i + 1)) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The keys a request carries: the credential of each secret header (after the scheme of an
/// `Authorization` value), the percent-decoded value of each secret query parameter. Empty
/// values are left out.
///
/// ```
/// use dashscope_transport::secrets::request_keys;
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("authorization", "Bearer sk-one".parse().unwrap());
/// assert_eq!(request_keys(&headers, Some("x=1&api_key=sk%2Dtwo")), ["sk-one", "sk-two"]);
/// ```
pub fn request_keys(headers: &HeaderMap, query: Option<&str>) -> Vec<String> {
    let mut keys: Vec<String> = headers
        .iter()
        .filter(|(n, _)| is_secret_header(n.as_str()))
        .map(|(n, v)| credential(n.as_str(), &String::from_utf8_lossy(v.as_bytes())).to_owned())
        .collect();
    for (name, value) in query.into_iter().flat_map(query_pairs) {
        if is_secret_param(&percent_decoded(name)) {
            keys.push(percent_decoded(value));
        }
    }
    keys.retain(|k| !k.is_empty());
    keys
}

/// The `name=value` pairs of a query (a pair without `=` has an empty value).
fn query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
}

/// A query as a log or journal may show it: the values of secret parameters
/// ([`is_secret_param`]) replaced by [`REDACTED`], the keys of `secrets` scrubbed from the
/// rest.
///
/// ```
/// use dashscope_transport::secrets::{Secrets, redacted_query};
///
/// let secrets = Secrets::new(["sk-0123456789"]);
/// assert_eq!(
///     redacted_query("api_key=abc&note=sk-0123456789&x=1", &secrets),
///     "api_key=[REDACTED]&note=[REDACTED]&x=1"
/// );
/// ```
pub fn redacted_query<'q>(query: &'q str, secrets: &Secrets) -> Cow<'q, str> {
    let secret = query_pairs(query).any(|(n, _)| is_secret_param(&percent_decoded(n)));
    if !secret {
        return secrets.scrub_str(query, REDACTED);
    }
    let parts: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((n, _)) if is_secret_param(&percent_decoded(n)) => format!("{n}={REDACTED}"),
            _ => secrets.scrub_str(pair, REDACTED).into_owned(),
        })
        .collect();
    Cow::Owned(parts.join("&"))
}

/// One form of a key, with its searcher.
#[derive(Clone)]
struct Pattern {
    finder: Finder<'static>,
    /// Scrubbed (the key is long enough), or only searched for by the leak checks.
    scrub: bool,
}

#[derive(Clone)]
struct Inner {
    patterns: Vec<Pattern>,
    /// Whether any pattern is scrubbed.
    scrubs: bool,
    /// Whether key-like `sk-…` strings are scrubbed too.
    key_like: bool,
    /// The bytes an escape (`%XX`, `\uXXXX`, `\\`, …) must decode to for a decoded view of a
    /// text to hold a form its raw bytes do not: the patterns' bytes, and what can build a
    /// second level of escapes (`\`, `%`, `u`, hex digits).
    decodes_to: [bool; 256],
    /// The length of the longest scrubbed pattern.
    longest: usize,
    /// A one-pass test that a text holds no pattern, when the patterns allow one.
    prefilter: Option<Prefilter>,
}

impl Default for Inner {
    fn default() -> Self {
        Inner {
            patterns: Vec::new(),
            scrubs: false,
            key_like: false,
            decodes_to: [false; 256],
            longest: 0,
            prefilter: None,
        }
    }
}

/// How common a byte is in what a server sends (JSON, English and Chinese text, ids): the
/// lower, the rarer.
fn commonness(b: u8) -> u8 {
    match b {
        b'A'..=b'Z'
        | b'+'
        | b'/'
        | b'_'
        | b'='
        | b'%'
        | b'~'
        | b'!'
        | b'#'
        | b'$'
        | b'^'
        | b'|'
        | b'`'
        | b'@'
        | b'*'
        | b';'
        | b'&'
        | b'?'
        | b'\'' => 0,
        // `-` is in every id of every event (`chatcmpl-…`, UUIDs).
        b'k' | b'q' | b'z' | b'x' | b'j' => 1,
        b'-' | b'v' | b'w' | b'y' | b'b' | b'f' | b'g' | b'p' => 2,
        b'0'..=b'9' | b'a'..=b'z' => 3,
        0x80.. => 3,
        _ => 4,
    }
}

/// The common case of a search, one pass: at most three bytes such that every pattern holds
/// one of them. A text holds a pattern only where one of those bytes sits at the pattern's
/// offset of it, so one `memchr3` over the text, checking each hit against the patterns
/// anchored on its byte, tells that it holds none.
#[derive(Clone)]
struct Prefilter {
    bytes: Vec<u8>,
    /// Per pattern: the index in `bytes` of its anchor, and the anchor's offset in it.
    anchors: Vec<(usize, usize)>,
}

impl Prefilter {
    /// The rarest such bytes (by [`commonness`]), if three or fewer will do.
    fn new(patterns: &[Vec<u8>]) -> Option<Prefilter> {
        if patterns.is_empty() {
            return None;
        }
        // Which bytes each pattern holds.
        let holds: Vec<[bool; 256]> = patterns
            .iter()
            .map(|p| {
                let mut set = [false; 256];
                p.iter().for_each(|&b| set[usize::from(b)] = true);
                set
            })
            .collect();
        (0..=4).find_map(|most| {
            let mut bytes = Vec::new();
            let mut covered = vec![false; patterns.len()];
            while covered.contains(&false) {
                if bytes.len() == 3 {
                    return None;
                }
                // The allowed byte in the most patterns not yet covered; the rarer on a tie.
                let best = (0..=255u8)
                    .filter(|&b| commonness(b) <= most)
                    .map(|b| {
                        let n = holds
                            .iter()
                            .zip(&covered)
                            .filter(|(h, c)| !**c && h[usize::from(b)])
                            .count();
                        (n, std::cmp::Reverse(commonness(b)), b)
                    })
                    .max()?;
                if best.0 == 0 {
                    return None;
                }
                for (h, c) in holds.iter().zip(covered.iter_mut()) {
                    *c |= h[usize::from(best.2)];
                }
                bytes.push(best.2);
            }
            let anchors = patterns
                .iter()
                .map(|p| {
                    let at = p.iter().position(|b| bytes.contains(b))?;
                    Some((bytes.iter().position(|&b| b == p[at])?, at))
                })
                .collect::<Option<Vec<_>>>()?;
            Some(Prefilter { bytes, anchors })
        })
    }

    /// Whether `text` may hold one of `patterns` (those this was built from, in order).
    fn may_match<'p, P>(&self, text: &[u8], patterns: P) -> bool
    where
        P: Iterator<Item = &'p [u8]> + Clone,
    {
        let hit = |i: usize| {
            let k = self.bytes.iter().position(|&b| b == text[i]);
            let mut anchored = patterns.clone().zip(&self.anchors);
            anchored.any(|(p, &(byte, at))| {
                Some(byte) == k && i >= at && text[i - at] == p[0] && text[i - at..].starts_with(p)
            })
        };
        match *self.bytes.as_slice() {
            [a] => memchr::memchr_iter(a, text).any(hit),
            [a, b] => memchr::memchr2_iter(a, b, text).any(hit),
            [a, b, c] => memchr::memchr3_iter(a, b, c, text).any(hit),
            _ => true,
        }
    }
}

/// The forms of a set of API keys to find and scrub (see [the module docs](self)), each with
/// its searcher built once. Cheap to clone.
///
/// The common case is cheap: for a text that holds no form of a key, a search is one
/// `memchr3` pass over up to three rare bytes that every form holds (when three suffice, as
/// they do for a DashScope key's forms; else one `memmem` pass per form) and one `memchr2`
/// pass for `\` and `%`, whose escapes are decoded only when one decodes to a byte of a form.
///
/// `Debug` shows how many forms are searched for, never a form.
#[derive(Clone, Default)]
pub struct Secrets {
    inner: Arc<Inner>,
}

impl fmt::Debug for Secrets {
    /// Never the keys: how many forms are searched for.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("forms", &self.inner.patterns.len())
            .field("key_like", &self.inner.key_like)
            .finish()
    }
}

impl Secrets {
    /// The forms of these keys (each trimmed; empty ones are left out). Keys shorter than
    /// [`MIN_SCRUB_LEN`] are only searched for by [`leaks`](Self::leaks).
    pub fn new<I>(keys: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut raw: Vec<(Vec<u8>, bool)> = Vec::new();
        let mut add = |p: Vec<u8>, scrub: bool| {
            if let Some(existing) = raw.iter_mut().find(|(q, _)| *q == p) {
                existing.1 |= scrub;
            } else {
                raw.push((p, scrub));
            }
        };
        for key in keys {
            let key = key.as_ref().trim();
            if key.is_empty() {
                continue;
            }
            let scrub = key.len() >= MIN_SCRUB_LEN;
            add(key.as_bytes().to_vec(), scrub);
            for core in base64_cores(key.as_bytes()) {
                if core.len() >= MIN_BASE64_LEN {
                    add(core, scrub);
                }
            }
        }
        let mut inner = Inner {
            prefilter: Prefilter::new(&raw.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>()),
            ..Inner::default()
        };
        for (p, scrub) in raw {
            for &b in &p {
                inner.decodes_to[usize::from(b)] = true;
            }
            if scrub {
                inner.scrubs = true;
                inner.longest = inner.longest.max(p.len());
            }
            inner.patterns.push(Pattern {
                finder: Finder::new(&p).into_owned(),
                scrub,
            });
        }
        if !inner.patterns.is_empty() {
            for &b in b"\\%u0123456789abcdefABCDEF" {
                inner.decodes_to[usize::from(b)] = true;
            }
            // `\b`, `\f`, … build a second-level escape only for a key holding what they
            // decode to.
            for (letter, to) in [
                (b'"', b'"'),
                (b'/', b'/'),
                (b'b', 0x08),
                (b'f', 0x0C),
                (b'n', b'\n'),
                (b'r', b'\r'),
                (b't', b'\t'),
            ] {
                if inner.decodes_to[usize::from(to)] {
                    inner.decodes_to[usize::from(letter)] = true;
                }
            }
        }
        Secrets {
            inner: Arc::new(inner),
        }
    }

    /// Also scrub any key-like string: `sk-` and 8 or more key characters (ASCII letters,
    /// digits, `_`, `-`) at a word start, whatever key it is; the placeholder in use and
    /// [`KEY_PLACEHOLDER`] excepted. For text that must hold no key at all (recorded
    /// fixtures); a client should not use it on answers, which may quote made-up keys.
    ///
    /// ```
    /// use dashscope_transport::secrets::{KEY_PLACEHOLDER, Secrets};
    ///
    /// let s = Secrets::default().with_key_like(true);
    /// assert_eq!(
    ///     s.scrub_str("a sk-abcdefgh1234 b sk-REDACTED c sk-short", KEY_PLACEHOLDER),
    ///     "a sk-REDACTED b sk-REDACTED c sk-short"
    /// );
    /// ```
    #[must_use]
    pub fn with_key_like(mut self, on: bool) -> Self {
        Arc::make_mut(&mut self.inner).key_like = on;
        self
    }

    /// Whether scrubbing can change anything: some key is long enough to scrub, or key-like
    /// strings are scrubbed.
    fn scrubs(&self) -> bool {
        self.inner.scrubs || self.inner.key_like
    }

    /// Whether a decoded view of `text` can hold a form its raw bytes do not: some escape in
    /// it decodes to a byte that matters (see [`Inner::decodes_to`]). Cheap when it holds no
    /// `\` or `%`, or only escapes such as `\n`, `\"`, `\u4f60`.
    fn needs_decode(&self, text: &[u8]) -> bool {
        memchr::memchr2_iter(b'\\', b'%', text).any(|i| {
            let (len, bytes, n) = unit(text, i);
            len > 1
                && bytes[..n]
                    .iter()
                    .any(|&b| self.inner.decodes_to[usize::from(b)])
        })
    }

    /// Where the patterns (the scrubbed ones, or all) show in `text`, in any view, as byte
    /// ranges of `text`. Allocates nothing when there are none.
    fn ranges(&self, text: &[u8], scrubbed_only: bool) -> Vec<(usize, usize)> {
        let mut patterns = self
            .inner
            .patterns
            .iter()
            .filter(|p| p.scrub || !scrubbed_only)
            .map(|p| &p.finder)
            .peekable();
        if patterns.peek().is_none() {
            return Vec::new();
        }
        let all = self.inner.patterns.iter().map(|p| p.finder.needle());
        let search = |view: &[u8]| -> Vec<(usize, usize)> {
            if let Some(pf) = &self.inner.prefilter {
                if !pf.may_match(view, all.clone()) {
                    return Vec::new();
                }
            }
            let found = patterns.clone().flat_map(|p| {
                let len = p.needle().len();
                p.find_iter(view).map(move |at| (at, at + len))
            });
            found.collect()
        };
        let mut found = search(text);
        if self.needs_decode(text) {
            let one = decode(text);
            let mut in_one = search(&one);
            if self.needs_decode(&one) {
                in_one.extend(source_ranges(&one, &search(&decode(&one))));
            }
            found.extend(source_ranges(text, &in_one));
        }
        found
    }

    /// What [`scrub`](Self::scrub) replaces in `text`, unsorted.
    fn scrub_ranges(&self, text: &[u8], placeholder: &str) -> Vec<(usize, usize)> {
        let mut ranges = if self.inner.scrubs {
            self.ranges(text, true)
        } else {
            Vec::new()
        };
        if self.inner.key_like {
            ranges.extend(key_like(text, placeholder));
        }
        ranges
    }

    /// `text` with every form of the keys (those at least [`MIN_SCRUB_LEN`] long), and with
    /// [`with_key_like`](Self::with_key_like) every key-like string, replaced by
    /// `placeholder`. Borrows `text` when nothing is replaced.
    ///
    /// Besides its result it allocates only when `text` holds an escape (`%XX`, `\uXXXX`, …)
    /// that decodes to a byte of a form: then two decoded copies of `text`, neither longer
    /// than it.
    pub fn scrub<'t>(&self, text: &'t [u8], placeholder: &str) -> Cow<'t, [u8]> {
        let ranges = self.scrub_ranges(text, placeholder);
        if ranges.is_empty() {
            return Cow::Borrowed(text);
        }
        Cow::Owned(replaced(text, ranges, placeholder))
    }

    /// [`scrub`](Self::scrub) for text (the result is UTF-8: matches start and end on
    /// character boundaries).
    pub fn scrub_str<'t>(&self, text: &'t str, placeholder: &str) -> Cow<'t, str> {
        match self.scrub(text.as_bytes(), placeholder) {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            Cow::Owned(b) => Cow::Owned(
                String::from_utf8(b)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            ),
        }
    }

    /// Scrubs every header value, with [`REDACTED`] as the placeholder (a value that would
    /// not be a valid header value scrubbed becomes [`REDACTED`] whole).
    ///
    /// ```
    /// use dashscope_transport::secrets::Secrets;
    ///
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("x-request-id", "r-sk-0123456789".parse().unwrap());
    /// Secrets::new(["sk-0123456789"]).scrub_headers(&mut headers);
    /// assert_eq!(headers["x-request-id"], "r-[REDACTED]");
    /// ```
    pub fn scrub_headers(&self, headers: &mut HeaderMap) {
        if !self.scrubs() {
            return;
        }
        for value in headers.values_mut() {
            if let Cow::Owned(clean) = self.scrub(value.as_bytes(), REDACTED) {
                let sensitive = value.is_sensitive();
                *value =
                    HeaderValue::from_bytes(&clean).unwrap_or(HeaderValue::from_static(REDACTED));
                value.set_sensitive(sensitive);
            }
        }
    }

    /// Whether `text` holds a key in any form, keys shorter than [`MIN_SCRUB_LEN`] included
    /// (key-like strings are not looked for).
    pub fn leaks(&self, text: impl AsRef<[u8]>) -> bool {
        !self.ranges(text.as_ref(), false).is_empty()
    }

    /// Where [`leaks`](Self::leaks) finds a key in `text`: the byte ranges of every form
    /// (possibly overlapping, in no order).
    pub fn find_leaks(&self, text: impl AsRef<[u8]>) -> Vec<Range<usize>> {
        let ranges = self.ranges(text.as_ref(), false);
        ranges.into_iter().map(|(s, e)| s..e).collect()
    }

    /// How many bytes of a text one scrubbed form can take: the longest form, each of its
    /// bytes escaped twice (`\\u0041`-style), plus a split surrogate pair.
    fn longest_source(&self) -> usize {
        MAX_EXPANSION * self.inner.longest + 12
    }
}

/// `text` with `ranges` replaced by `placeholder` (overlapping ranges replaced once).
fn replaced(text: &[u8], mut ranges: Vec<(usize, usize)>, placeholder: &str) -> Vec<u8> {
    ranges.sort_unstable();
    let mut out = Vec::with_capacity(text.len());
    let mut copied = 0;
    for (start, end) in ranges {
        if end <= copied {
            continue;
        }
        let start = start.max(copied);
        out.extend_from_slice(&text[copied..start]);
        out.extend_from_slice(placeholder.as_bytes());
        copied = end;
    }
    out.extend_from_slice(&text[copied..]);
    out
}

/// Scrubs a body that arrives in chunks (an event stream), with [`REDACTED`] as the
/// placeholder: a key cut anywhere by chunk boundaries, in any form, is still found.
///
/// It works line by line: [`push`](Self::push) passes on every complete line at once (scrubbed;
/// the chunk itself when it ends a line and holds no key) and holds back only the partial
/// last line, which the next chunk completes (no form of a key holds a line end, so none spans
/// two lines). A partial line longer than [`max_held_back`](Self::max_held_back) is passed on
/// except for its last bytes, enough to hold any form of a key whole: the bytes held back never
/// exceed that bound. [`finish`](Self::finish) hands out the rest at the end of the body.
///
/// A line end is `\n` or `\r`, so nothing an SSE decoder could dispatch is ever delayed. Two
/// limits: a key-like string ([`Secrets::with_key_like`]) longer than the bound may be cut, and
/// a key holding a line end (which no header value can) is found only within a line.
///
/// ```
/// use dashscope_transport::secrets::{Secrets, StreamScrubber};
///
/// let mut s = StreamScrubber::new(Secrets::new(["sk-0123456789"]));
/// let mut out = Vec::new();
/// for chunk in [&b"data: x\n\ndata: sk-01"[..], b"23456789\n\n"] {
///     out.extend_from_slice(s.push(chunk));
/// }
/// out.extend(s.finish());
/// assert_eq!(out, b"data: x\n\ndata: [REDACTED]\n\n");
/// ```
pub struct StreamScrubber {
    secrets: Secrets,
    /// The partial last line so far (not yet scrubbed), after the `handed` bytes.
    held: Vec<u8>,
    /// How many bytes at the start of `held` were handed out last, as they were (they held no
    /// key): dropped at the next call, so handing them out needs no copy.
    handed: usize,
    /// The scrubbed bytes handed out last.
    out: Vec<u8>,
}

impl fmt::Debug for StreamScrubber {
    /// Lengths only: the held-back bytes may be the start of a key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamScrubber")
            .field("secrets", &self.secrets)
            .field("held_back", &(self.held.len() - self.handed))
            .finish_non_exhaustive()
    }
}

impl StreamScrubber {
    /// A scrubber for one body.
    pub fn new(secrets: Secrets) -> Self {
        StreamScrubber {
            secrets,
            held: Vec::new(),
            handed: 0,
            out: Vec::new(),
        }
    }

    /// The most bytes held back between two calls: 16 KiB, or for a long key 72 times its
    /// longest form (a base64 form is 4/3 of the key) plus 24 bytes. Nothing is held back
    /// when nothing can be scrubbed (every key shorter than [`MIN_SCRUB_LEN`], no key-like
    /// rule).
    pub fn max_held_back(&self) -> usize {
        if self.secrets.scrubs() {
            LINE_HOLD.max(2 * self.secrets.longest_source())
        } else {
            0
        }
    }

    /// The scrubbed bytes to pass on for `chunk`: every line it completes.
    pub fn push<'a>(&'a mut self, chunk: &'a [u8]) -> &'a [u8] {
        if !self.secrets.scrubs() {
            return chunk;
        }
        let limit = self.max_held_back();
        self.held.drain(..std::mem::take(&mut self.handed));
        if self.held.is_empty() {
            let end = memchr::memrchr2(b'\n', b'\r', chunk).map_or(0, |p| p + 1);
            let (complete, rest) = chunk.split_at(end);
            if rest.len() <= limit {
                self.held.extend_from_slice(rest);
                return match self.secrets.scrub(complete, REDACTED) {
                    Cow::Borrowed(b) => b,
                    Cow::Owned(v) => {
                        self.out = v;
                        &self.out
                    }
                };
            }
        }
        let start = self.held.len();
        self.held.extend_from_slice(chunk);
        let end = memchr::memrchr2(b'\n', b'\r', &self.held[start..]).map_or(0, |p| start + p + 1);
        if self.held.len() - end <= limit {
            // The complete lines, handed out from `held` itself when they hold no key.
            return match self.secrets.scrub(&self.held[..end], REDACTED) {
                Cow::Borrowed(_) => {
                    self.handed = end;
                    &self.held[..end]
                }
                Cow::Owned(clean) => {
                    self.held.drain(..end);
                    self.out = clean;
                    &self.out
                }
            };
        }
        // `out` keeps its allocation from chunk to chunk.
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        out.extend_from_slice(&self.secrets.scrub(&self.held[..end], REDACTED));
        let line = &self.held[end..];
        let mut cut = 0;
        if line.len() > limit {
            // Pass on all but the end of an over-long line; a form that crosses the cut stays
            // whole in the held-back part, unless it is a key-like string longer than that.
            let ranges = self.secrets.scrub_ranges(line, REDACTED);
            let floor = line.len() - limit;
            cut = line.len() - self.secrets.longest_source().min(limit);
            while let Some(&(s, _)) = ranges
                .iter()
                .find(|&&(s, e)| s < cut && cut < e && s >= floor)
            {
                cut = s;
            }
            let clipped = ranges
                .into_iter()
                .filter(|&(s, _)| s < cut)
                .map(|(s, e)| (s, e.min(cut)))
                .collect();
            out.extend(replaced(&line[..cut], clipped, REDACTED));
        }
        self.held.drain(..end + cut);
        self.out = out;
        &self.out
    }

    /// The held-back bytes, scrubbed, at the end of the body.
    pub fn finish(&mut self) -> Vec<u8> {
        self.held.drain(..std::mem::take(&mut self.handed));
        let held = std::mem::take(&mut self.held);
        self.secrets.scrub(&held, REDACTED).into_owned()
    }
}

/// Key-like strings: `sk-` and 8 or more key characters, at a word start (not the
/// placeholder, not [`KEY_PLACEHOLDER`]).
fn key_like(text: &[u8], placeholder: &str) -> Vec<(usize, usize)> {
    let is_key_char = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let mut out = Vec::new();
    for start in memchr::memmem::find_iter(text, b"sk-") {
        let mut end = start + 3;
        while end < text.len() && is_key_char(text[end]) {
            end += 1;
        }
        let boundary = start == 0 || !is_key_char(text[start - 1]);
        let found = &text[start..end];
        if boundary
            && end - start - 3 >= 8
            && found != placeholder.as_bytes()
            && found != KEY_PLACEHOLDER.as_bytes()
        {
            out.push((start, end));
        }
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The byte `%XX` encodes at `b[i..i + 2]`.
fn hex2(b: &[u8], i: usize) -> Option<u8> {
    Some(hex(*b.get(i)?)? << 4 | hex(*b.get(i + 1)?)?)
}

/// The code unit of `\uXXXX` at `b[i..]` (`i` at the backslash).
fn unicode_escape(b: &[u8], i: usize) -> Option<u32> {
    if b.get(i) != Some(&b'\\') || b.get(i + 1) != Some(&b'u') {
        return None;
    }
    let mut v = 0u32;
    for k in 0..4 {
        v = v << 4 | u32::from(hex(*b.get(i + 2 + k)?)?);
    }
    Some(v)
}

/// One unit of a text under one level of decoding: how many bytes it takes and what it
/// decodes to (at most 4 bytes).
fn unit(b: &[u8], i: usize) -> (usize, [u8; 4], usize) {
    let one = |c: u8| (1, [c, 0, 0, 0], 1);
    match b[i] {
        b'%' => match hex2(b, i + 1) {
            Some(v) => (3, [v, 0, 0, 0], 1),
            None => one(b'%'),
        },
        b'\\' => {
            if let Some(u) = unicode_escape(b, i) {
                let (len, c) = if (0xD800..0xDC00).contains(&u) {
                    match unicode_escape(b, i + 6).filter(|l| (0xDC00..0xE000).contains(l)) {
                        Some(low) => (12, 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00)),
                        None => (6, 0xFFFD),
                    }
                } else {
                    (6, u)
                };
                let c = char::from_u32(c).unwrap_or('\u{FFFD}');
                let mut out = [0u8; 4];
                let n = c.encode_utf8(&mut out).len();
                return (len, out, n);
            }
            let decoded = match b.get(i + 1) {
                Some(&c @ (b'"' | b'\\' | b'/')) => Some(c),
                Some(b'b') => Some(0x08),
                Some(b'f') => Some(0x0C),
                Some(b'n') => Some(b'\n'),
                Some(b'r') => Some(b'\r'),
                Some(b't') => Some(b'\t'),
                _ => None,
            };
            match decoded {
                Some(c) => (2, [c, 0, 0, 0], 1),
                None => one(b'\\'),
            }
        }
        c => one(c),
    }
}

/// `b` with one level of JSON escapes and percent-encoding decoded (leniently: what does not
/// decode stays as it is).
fn decode(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    // Every unit not starting at a `\` or `%` is one byte as it is: copy the runs between.
    let mut i = 0;
    for at in memchr::memchr2_iter(b'\\', b'%', b) {
        if at < i {
            continue; // inside the unit before
        }
        out.extend_from_slice(&b[i..at]);
        let (len, bytes, n) = unit(b, at);
        out.extend_from_slice(&bytes[..n]);
        i = at + len;
    }
    out.extend_from_slice(&b[i..]);
    out
}

/// The byte ranges of `source` that the ranges of `decode(source)` come from.
fn source_ranges(source: &[u8], ranges: &[(usize, usize)]) -> Vec<(usize, usize)> {
    if ranges.is_empty() {
        return Vec::new();
    }
    // Every start and end offset, mapped in one walk over the units.
    let mut points: Vec<(usize, bool, usize)> = Vec::with_capacity(ranges.len() * 2);
    for (k, &(s, e)) in ranges.iter().enumerate() {
        points.push((s, true, k));
        points.push((e.saturating_sub(1), false, k));
    }
    points.sort_unstable();
    let mut mapped = vec![(0usize, 0usize); ranges.len()];
    let (mut i, mut out) = (0, 0);
    let mut next = 0;
    while i < source.len() && next < points.len() {
        let (len, _, n) = unit(source, i);
        while next < points.len() && points[next].0 < out + n {
            let (_, is_start, k) = points[next];
            if is_start {
                mapped[k].0 = i;
            } else {
                mapped[k].1 = i + len;
            }
            next += 1;
        }
        i += len;
        out += n;
    }
    mapped.retain(|(s, e)| e > s);
    mapped
}

/// The standard and URL-safe base64 alphabets.
const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// `data` in base64 with `alphabet`, unpadded.
fn base64(data: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for group in data.chunks(3) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (k, &b)| n | u32::from(b) << (16 - 8 * k));
        for k in 0..=group.len() {
            out.push(char::from(alphabet[(n >> (18 - 6 * k) & 63) as usize]));
        }
    }
    out
}

/// What base64 of any text holding `key` contains, whatever the key's alignment: for each
/// offset of the key in a 3-byte group, the characters that depend only on the key's bytes;
/// in both alphabets.
fn base64_cores(key: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for align in 0..3 {
        let mut padded = vec![0u8; align];
        padded.extend_from_slice(key);
        for alphabet in [STD, URL] {
            let full = base64(&padded, alphabet);
            // Characters holding bits of the padding, and a last one holding bits of what
            // follows the key, depend on the surrounding text.
            let skip = [0, 2, 3][align];
            let end = if padded.len() % 3 == 0 {
                full.len()
            } else {
                full.len() - 1
            };
            if end > skip {
                out.push(full.as_bytes()[skip..end].to_vec());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk-live-0123456789abcdef";

    fn b64(s: &str) -> String {
        base64(s.as_bytes(), STD)
    }

    /// Every form of `key` this module knows, each as it would show in a text.
    fn forms(key: &str) -> Vec<String> {
        let unicode: String = key
            .chars()
            .map(|c| format!("\\u{:04x}", c as u32))
            .collect();
        let percent: String = key.bytes().map(|b| format!("%{b:02X}")).collect();
        vec![
            key.to_owned(),
            unicode.clone(),
            format!("\\u0073k-{}", &key[3..]),
            unicode.replace('\\', "\\\\"),
            percent.clone(),
            percent.replace('%', "%25"),
            format!("sk%2D{}", &key[3..]),
            b64(&format!("Bearer {key}")),
            b64(&format!("user:{key}")),
            b64(key),
            base64(format!("xy{key}").as_bytes(), URL),
        ]
    }

    /// Every encoding the module docs name is found, and scrubbed in place.
    #[test]
    fn every_form_of_a_key_is_found_and_scrubbed() {
        let s = Secrets::new([KEY]);
        for form in &forms(KEY) {
            let text = format!("{{\"a\":\"before {form} after\"}}");
            assert!(s.leaks(&text), "not found: {form}");
            let clean = s.scrub_str(&text, REDACTED);
            assert!(!s.leaks(clean.as_bytes()), "left in: {clean}");
            assert!(clean.starts_with("{\"a\":\"before ") && clean.contains(REDACTED));
        }
        assert!(!s.leaks("nothing here, not even sk-live-0123"));
        // Key-like strings go too, when asked for; the placeholders stay.
        let text = "a sk-abcdefgh1234 b sk-REDACTED c sk-short risk-assessment";
        assert_eq!(Secrets::default().scrub_str(text, KEY_PLACEHOLDER), text);
        assert_eq!(
            Secrets::default()
                .with_key_like(true)
                .scrub_str(text, KEY_PLACEHOLDER),
            "a sk-REDACTED b sk-REDACTED c sk-short risk-assessment"
        );
    }

    #[test]
    fn keys_holding_escaped_characters_and_short_keys() {
        for key in [r#"sk-test\KNOWN"esc"#, r"sk-odd\key/1"] {
            let s = Secrets::new([key]);
            let once = serde_json::to_string(key).unwrap();
            let twice = serde_json::to_string(&once).unwrap();
            for text in [&once, &twice] {
                assert!(s.leaks(text), "{text}");
                assert!(
                    !s.leaks(s.scrub_str(text, KEY_PLACEHOLDER).as_bytes()),
                    "{text}"
                );
            }
        }
        let json = serde_json::to_string(r"echo sk-odd\key/1").unwrap();
        assert_eq!(
            Secrets::new([r"sk-odd\key/1"]).scrub_str(&json, REDACTED),
            r#""echo [REDACTED]""#
        );
        // A short key is searched for, not scrubbed: it would match ordinary text.
        let short = Secrets::new(["Kq!"]);
        assert!(short.leaks("x Kq! y") && short.leaks("x Kq%21 y"));
        assert_eq!(short.scrub_str("x Kq! y", REDACTED), "x Kq! y");
        assert!(!short.scrubs());
        let seven = Secrets::new(["sk-1234"]);
        assert_eq!(seven.scrub_str("sk-1234", REDACTED), "sk-1234");
        assert_eq!(
            Secrets::new(["k"]).scrub(b"kkk", REDACTED),
            Cow::Borrowed(b"kkk")
        );
        let eight = Secrets::new(["sk-12345"]);
        assert_eq!(eight.scrub_str("a sk-12345 b", REDACTED), "a [REDACTED] b");
    }

    /// The one-pass prefilter is built for a real key's forms and never hides one; with more
    /// keys than three bytes can anchor, the searches run without it.
    #[test]
    fn the_prefilter_never_hides_a_form() {
        let real = "sk-0123456789abcdef0123456789abcdef";
        let s = Secrets::new([real]);
        assert!(s.inner.prefilter.is_some());
        for form in forms(real) {
            assert!(s.leaks(format!("x {form} y")), "{form}");
        }
        let mut x = 0x9E37_79B9_7F4A_7C15_u64;
        let keys: Vec<String> = (0..40)
            .map(|_| {
                let key: String = (0..24)
                    .map(|_| {
                        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                        char::from(b'!' + ((x >> 33) % 94) as u8)
                    })
                    .collect();
                key
            })
            .collect();
        let many = Secrets::new(keys.iter().map(String::as_str));
        assert!(many.inner.prefilter.is_none());
        for k in &keys {
            let percent: String = k.bytes().map(|b| format!("%{b:02X}")).collect();
            for form in [k.clone(), percent, b64(&format!("user:{k}"))] {
                assert!(many.leaks(format!("x {form} y")), "{form}");
            }
        }
    }

    /// `decode` skips from escape to escape; it decodes as a walk over every unit does.
    #[test]
    fn decode_matches_a_walk_over_every_unit() {
        let walk = |b: &[u8]| {
            let mut out = Vec::new();
            let mut i = 0;
            while i < b.len() {
                let (len, bytes, n) = unit(b, i);
                out.extend_from_slice(&bytes[..n]);
                i += len;
            }
            out
        };
        for text in [
            &br"plain"[..],
            br"\\\\\\u0041%41%%2\\%\u00",
            br"a\uD83D\uDE00b\uD83Dx%zz\\",
            br#"\"q\" \n \t %25%37%33 \\u0073"#,
            b"\\",
            b"%",
        ] {
            assert_eq!(
                decode(text),
                walk(text),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn base64_cores_are_in_every_alignment() {
        let s = Secrets::new([KEY]);
        for prefix in ["", "a", "ab", "abc", "Bearer ", "u:"] {
            for suffix in ["", "x", "xy"] {
                let text = b64(&format!("{prefix}{KEY}{suffix}"));
                assert!(s.leaks(&text), "{prefix:?} {suffix:?}: {text}");
            }
        }
    }

    #[test]
    fn bodies_and_headers() {
        let s = Secrets::new(["sk-secret-0042"]);
        let body = "a sk-secret-0042 b sk-secret-0042";
        assert_eq!(s.scrub_str(body, REDACTED), "a [REDACTED] b [REDACTED]");
        let clean = b"nothing here, a \\\"quote\\\" and \\u4f60 50% off";
        assert!(matches!(s.scrub(clean, REDACTED), Cow::Borrowed(_)));
        assert!(
            !s.needs_decode(clean),
            "no escape there decodes to a key byte"
        );
        let mut h = HeaderMap::new();
        h.insert(
            "x-request-id",
            HeaderValue::from_static("rid-sk-secret-0042"),
        );
        h.insert(
            "x-echo",
            HeaderValue::from_static("rid-sk%2Dsecret%2D0042; c2stc2VjcmV0LTAwNDI="),
        );
        h.insert("x-other", HeaderValue::from_static("fine"));
        s.scrub_headers(&mut h);
        assert_eq!(h["x-request-id"], "rid-[REDACTED]");
        assert_eq!(h["x-echo"], "rid-[REDACTED]; [REDACTED]I=");
        assert_eq!(h["x-other"], "fine");
    }

    #[test]
    fn request_keys_and_redactions() {
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("Bearer sk-one"));
        h.insert("x-dashscope-apikey", HeaderValue::from_static("sk-two"));
        h.insert("proxy-authorization", HeaderValue::from_static("Basic"));
        h.insert("x-trace", HeaderValue::from_static("t"));
        let keys = request_keys(&h, Some("key=sk%2Dthree&x=1&token"));
        assert_eq!(keys, ["sk-one", "sk-two", "sk-three"]);
        assert_eq!(
            redacted_header_value("Proxy-Authorization", b"Basic abc"),
            "Basic [REDACTED]"
        );
        assert_eq!(redacted_header_value("cookie", b"a=b"), REDACTED);
        let s = Secrets::new(["sk-0123456789"]);
        assert_eq!(
            redacted_query("x=1&y=sk-0123456789", &s),
            "x=1&y=[REDACTED]"
        );
        assert_eq!(redacted_query("x=1", &s), "x=1");
    }

    /// Feeds `text` cut at `cuts` and returns what comes out, checking the bound on what is
    /// held back.
    fn through(s: &Secrets, text: &[u8], cuts: &[usize]) -> Vec<u8> {
        let mut c = StreamScrubber::new(s.clone());
        let mut got = Vec::new();
        let mut at = 0;
        for &cut in cuts.iter().chain([&text.len()]) {
            got.extend_from_slice(c.push(&text[at..cut]));
            assert!(c.held.len() <= c.max_held_back());
            at = cut;
        }
        got.extend(c.finish());
        got
    }

    #[test]
    fn chunks_cut_anywhere() {
        let key = "sk-secret-0042";
        let s = Secrets::new([key]);
        let text = format!("data: {{\"t\":\"{key}\"}}\n\nss{key}{key}sk-secr\n\nsk-");
        let want = text.replace(key, REDACTED);
        for cut in 0..=text.len() {
            for cut2 in cut..=text.len() {
                let got = through(&s, text.as_bytes(), &[cut, cut2]);
                assert_eq!(String::from_utf8(got).unwrap(), want, "cuts {cut} {cut2}");
            }
        }
    }

    /// Every form, in an event cut in two anywhere and in three at many places.
    #[test]
    fn every_form_cut_anywhere() {
        let s = Secrets::new([KEY]);
        for form in forms(KEY) {
            let text = format!("data: {{\"a\":\"x {form} y\"}}\n\ndata: [DONE]\n\n");
            let want = s.scrub(text.as_bytes(), REDACTED).into_owned();
            assert!(!s.leaks(&want), "{form}");
            for cut in 0..=text.len() {
                assert_eq!(
                    through(&s, text.as_bytes(), &[cut]),
                    want,
                    "{form} cut {cut}"
                );
                let cut2 = (cut + 7).min(text.len());
                assert_eq!(through(&s, text.as_bytes(), &[cut, cut2]), want, "{form}");
            }
        }
    }

    #[test]
    fn a_complete_line_is_never_held_back() {
        let mut c = StreamScrubber::new(Secrets::new(["sk-secret-0042"]));
        assert_eq!(c.push(b"data: x\n\n"), b"data: x\n\n");
        assert_eq!(c.push(b"data: y sk-se"), b"");
        assert_eq!(c.push(b"cond\r"), b"data: y sk-second\r");
        assert_eq!(c.push(b"\ndata: sk-secret-0042\n"), b"\ndata: [REDACTED]\n");
        assert!(c.finish().is_empty());
        // Nothing to scrub: nothing held back.
        let mut c = StreamScrubber::new(Secrets::new(["short"]));
        assert_eq!(c.max_held_back(), 0);
        assert_eq!(c.push(b"data: partial"), b"data: partial");
    }

    /// A line longer than the bound is passed on as it comes, but for its last bytes; a key cut
    /// there is still found.
    #[test]
    fn a_long_line_is_held_back_within_the_bound() {
        let s = Secrets::new([KEY]);
        let bound = StreamScrubber::new(s.clone()).max_held_back();
        assert_eq!(bound, LINE_HOLD);
        let filler = "z".repeat(bound + 100);
        let encoded: String = KEY.bytes().map(|b| format!("%{b:02X}")).collect();
        for form in [KEY.to_owned(), encoded] {
            let text = format!("data: {filler}{form}{filler}{form}\n");
            let want = s.scrub(text.as_bytes(), REDACTED).into_owned();
            for piece in [1, 7, 100, 4096] {
                let cuts: Vec<usize> = (piece..text.len()).step_by(piece).collect();
                assert_eq!(through(&s, text.as_bytes(), &cuts), want, "{piece}");
            }
            let mut c = StreamScrubber::new(s.clone());
            let out = c.push(&text.as_bytes()[..bound * 2]).len();
            assert!(out >= bound - 100, "{out}");
        }
    }

    #[test]
    fn debug_shows_no_form_of_the_key() {
        let key = "sk-secret-0042";
        let s = Secrets::new([key]);
        let mut c = StreamScrubber::new(s.clone());
        let _ = c.push(b"data: sk-secret-00");
        let bytes = format!("{:?}", key.as_bytes());
        let inner = bytes.trim_matches(['[', ']']);
        for shown in [format!("{s:?} {s:#?}"), format!("{c:?} {c:#?}")] {
            assert!(
                !shown.contains(key) && !shown.contains("sk-secret"),
                "{shown}"
            );
            assert!(!shown.contains(&inner[..20]), "the key's bytes: {shown}");
            for form in forms(key) {
                assert!(!shown.contains(&form[..8]), "{shown}");
            }
        }
    }
}
