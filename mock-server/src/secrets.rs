//! API keys: where a request carries one, and every encoding in which one can show up again.
//! The journal and record mode both redact through this module, so what one knows the other
//! does.
//!
//! * **Where a request carries a key**: the value of a secret header ([`is_secret_header`]:
//!   `Authorization` and `Proxy-Authorization` (the credential after the scheme), `X-API-Key`,
//!   `X-DashScope-ApiKey`, `DashScope-API-Key`, `X-Auth-Token`, `X-Goog-Api-Key`, cookies, and
//!   any header whose name contains `key`, `token`, `secret`, `auth`, `passw`, `credential` or
//!   `signature`), and the value of a secret query parameter ([`is_secret_param`]: `key`,
//!   `api_key`, `access_token`, … by the same name parts).
//! * **How a key shows up again** (searched for every key a request carries, and every key the
//!   server is configured with): as it is; JSON-escaped, whole or in part (`\u0073k-…`,
//!   `\\` for a backslash), also inside a JSON string inside a JSON string; percent-encoded
//!   (`%73k-…`, also twice); base64 (standard or URL-safe alphabet) at any alignment, so also
//!   inside the base64 of `Bearer <key>` or of `user:<key>`. Scrubbing also replaces any
//!   key-like `sk-…` string (8 or more key characters after `sk-`).
//! * **Split across stream events**: record mode reassembles what the events
//!   of a stream add up to (each JSON member's strings across the events, as a client
//!   accumulates deltas) and finds a key that spans events (no single event holds it to be
//!   scrubbed: record mode then writes no cassette).
//!
//! Keys shorter than [`MIN_SCRUB_LEN`] are not scrubbed out of text (they would match too much)
//! but are still searched for by the leak checks.

use std::borrow::Cow;
#[cfg(feature = "record")]
use std::collections::BTreeMap;

use http::HeaderMap;
use memchr::memmem;
#[cfg(feature = "record")]
use serde_json::Value;

/// What replaces a secret header's value (after its scheme) and a secret query value in the
/// journal, and a key in a journaled body.
pub(crate) const REDACTED: &str = "[REDACTED]";

/// What replaces a key in recorded cassettes (key-shaped, so a replayed body still reads as
/// one).
pub(crate) const KEY_PLACEHOLDER: &str = "sk-REDACTED";

/// The shortest key scrubbed out of text.
pub(crate) const MIN_SCRUB_LEN: usize = 4;

/// The shortest base64 rendering of a key searched for (shorter ones would match by chance).
const MIN_BASE64_LEN: usize = 8;

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

/// Whether a header's value is a secret (see the module docs).
pub(crate) fn is_secret_header(name: &str) -> bool {
    SECRET_HEADERS.iter().any(|s| s.eq_ignore_ascii_case(name)) || has_secret_part(name)
}

/// Whether a query parameter's value is a secret (see the module docs).
pub(crate) fn is_secret_param(name: &str) -> bool {
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

/// A secret header's value as the journal shows it: an `Authorization` value keeps its scheme
/// (`Bearer [REDACTED]`); anything else is [`REDACTED`] whole.
pub(crate) fn redacted_header_value(name: &str, value: &[u8]) -> String {
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

/// The keys a request carries: the credential of each secret header, the (decoded) value of
/// each secret query parameter.
pub(crate) fn request_keys(headers: &HeaderMap, query: Option<&str>) -> Vec<String> {
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

/// A query as the journal shows it: secret parameters' values replaced by [`REDACTED`], keys
/// scrubbed from the rest.
pub(crate) fn redacted_query<'q>(query: &'q str, secrets: &Secrets) -> Cow<'q, str> {
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

/// The forms of a set of keys to search for (see the module docs), each with its searcher
/// built once.
#[derive(Clone, Default)]
pub(crate) struct Secrets {
    /// Byte patterns, and whether each is scrubbed (or only searched for by leak checks).
    patterns: Vec<(memmem::Finder<'static>, bool)>,
}

impl std::fmt::Debug for Secrets {
    /// Never the keys: how many forms are searched for.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} key forms)", self.patterns.len())
    }
}

impl Secrets {
    /// The forms of these keys (empty ones are left out).
    pub(crate) fn new<'k>(keys: impl IntoIterator<Item = &'k str>) -> Self {
        let mut patterns: Vec<(Vec<u8>, bool)> = Vec::new();
        let mut add = |p: Vec<u8>, scrub: bool| {
            if let Some(existing) = patterns.iter_mut().find(|(q, _)| *q == p) {
                existing.1 |= scrub;
            } else {
                patterns.push((p, scrub));
            }
        };
        for key in keys {
            let key = key.trim();
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
        let patterns = patterns
            .into_iter()
            .map(|(p, s)| (memmem::Finder::new(&p).into_owned(), s));
        Secrets {
            patterns: patterns.collect(),
        }
    }

    /// Where the patterns (the scrubbed ones, or all) show in `text`, in any view, as
    /// byte ranges of `text`.
    fn ranges(&self, text: &[u8], scrubbed_only: bool) -> Vec<(usize, usize)> {
        let mut patterns = self
            .patterns
            .iter()
            .filter(|(_, s)| *s || !scrubbed_only)
            .map(|(p, _)| p)
            .peekable();
        if patterns.peek().is_none() {
            return Vec::new();
        }
        let search = |view: &[u8]| -> Vec<(usize, usize)> {
            let found = patterns.clone().flat_map(|p| {
                let len = p.needle().len();
                p.find_iter(view).map(move |at| (at, at + len))
            });
            found.collect()
        };
        let mut found = search(text);
        if has_escapes(text) {
            let one = decode(text);
            let mut in_one = search(&one);
            if has_escapes(&one) {
                in_one.extend(source_ranges(&one, &search(&decode(&one))));
            }
            found.extend(source_ranges(text, &in_one));
        }
        found
    }

    /// `text` with every scrubbed form of the keys, and every key-like `sk-…` string, replaced
    /// by `placeholder`.
    pub(crate) fn scrub<'t>(&self, text: &'t [u8], placeholder: &str) -> Cow<'t, [u8]> {
        let mut ranges = self.ranges(text, true);
        ranges.extend(sk_keys(text, placeholder));
        if ranges.is_empty() {
            return Cow::Borrowed(text);
        }
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
        Cow::Owned(out)
    }

    /// [`scrub`](Self::scrub) for text (the result is UTF-8: matches start and end on
    /// character boundaries).
    pub(crate) fn scrub_str<'t>(&self, text: &'t str, placeholder: &str) -> Cow<'t, str> {
        match self.scrub(text.as_bytes(), placeholder) {
            Cow::Borrowed(_) => Cow::Borrowed(text),
            Cow::Owned(b) => Cow::Owned(
                String::from_utf8(b)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            ),
        }
    }

    /// Scrubs every string in a JSON value.
    #[cfg(feature = "record")]
    pub(crate) fn scrub_value(&self, v: &mut Value, placeholder: &str) {
        match v {
            Value::String(s) => {
                if let Cow::Owned(clean) = self.scrub_str(s, placeholder) {
                    *s = clean;
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| self.scrub_value(x, placeholder)),
            Value::Object(o) => o
                .values_mut()
                .for_each(|x| self.scrub_value(x, placeholder)),
            _ => {}
        }
    }

    /// Whether `text` still holds a key in any form (short keys included).
    #[cfg(any(feature = "record", test))]
    pub(crate) fn leaks(&self, text: &str) -> bool {
        !self.ranges(text.as_bytes(), false).is_empty()
    }

    /// Whether the stream these events make up holds a key split across events: in the
    #[cfg(feature = "record")]
    /// text each JSON member's strings add up to across the events' `data:` payloads (as a
    /// client adds up deltas), or the payloads that are not JSON add up to, a key that spans
    /// two events or more. (A key within one event is for [`scrub`](Self::scrub) and
    /// [`leaks`](Self::leaks).)
    pub(crate) fn leaks_in_stream<'e>(&self, events: impl IntoIterator<Item = &'e str>) -> bool {
        let mut pieces: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for event in events {
            // Each event adds at most one piece per path.
            let mut texts: BTreeMap<String, String> = BTreeMap::new();
            for line in event.lines() {
                let Some(data) = line.strip_prefix("data:") else {
                    continue;
                };
                let data = data.strip_prefix(' ').unwrap_or(data);
                match serde_json::from_str::<Value>(data) {
                    Ok(v) => gather_strings(&v, &mut String::new(), &mut texts),
                    Err(_) => texts.entry(String::new()).or_default().push_str(data),
                }
            }
            for (path, text) in texts {
                pieces.entry(path).or_default().push(text);
            }
        }
        pieces.values().any(|parts| {
            let mut bounds = Vec::with_capacity(parts.len());
            let mut whole = String::new();
            for p in parts {
                whole.push_str(p);
                bounds.push(whole.len());
            }
            self.ranges(whole.as_bytes(), false)
                .into_iter()
                .any(|(s, e)| bounds.iter().any(|&b| s < b && b < e))
        })
    }
}

/// Appends every string in `v` to the text of its member path.
#[cfg(feature = "record")]
fn gather_strings(v: &Value, path: &mut String, out: &mut BTreeMap<String, String>) {
    match v {
        Value::String(s) => {
            // Under a key no path can produce, so the raw payloads stay apart.
            let key = format!("${path}");
            out.entry(key).or_default().push_str(s);
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                gather_strings(x, path, out);
                path.truncate(len);
            }
        }
        Value::Object(o) => {
            for (k, x) in o {
                let len = path.len();
                path.push('.');
                path.push_str(k);
                gather_strings(x, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// Key-like strings: `sk-` and 8 or more key characters, at a word start (not the placeholder).
fn sk_keys(text: &[u8], placeholder: &str) -> Vec<(usize, usize)> {
    let is_key_char = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let mut out = Vec::new();
    for start in memmem::find_iter(text, b"sk-") {
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

fn has_escapes(b: &[u8]) -> bool {
    memchr::memchr2(b'\\', b'%', b).is_some()
}

/// At most what scrubbing `text` allocates besides its result: two decoded views of a text
/// holding escapes, none for another.
pub(crate) fn scrub_cost(text: &[u8]) -> usize {
    if has_escapes(text) { 2 * text.len() } else { 0 }
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
    let mut i = 0;
    while i < b.len() {
        let (len, bytes, n) = unit(b, i);
        out.extend_from_slice(&bytes[..n]);
        i += len;
    }
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
pub(crate) const STD: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// `data` in base64 with `alphabet`, unpadded.
pub(crate) fn base64(data: &[u8], alphabet: &[u8; 64]) -> String {
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

    /// Every encoding the module docs name is found, and scrubbed in place.
    #[test]
    fn every_form_of_a_key_is_found_and_scrubbed() {
        let s = Secrets::new([KEY]);
        let unicode: String = KEY
            .chars()
            .map(|c| format!("\\u{:04x}", c as u32))
            .collect();
        let percent: String = KEY.bytes().map(|b| format!("%{b:02X}")).collect();
        let forms = [
            KEY.to_owned(),
            unicode.clone(),
            format!("\\u0073k-live{}", &KEY[7..]),
            unicode.replace('\\', "\\\\"),
            percent.clone(),
            percent.replace('%', "%25"),
            b64(&format!("Bearer {KEY}")),
            b64(&format!("user:{KEY}")),
            b64(KEY).replace('=', ""),
            base64(format!("xy{KEY}").as_bytes(), URL),
        ];
        for form in &forms {
            let text = format!("{{\"a\":\"before {form} after\"}}");
            assert!(s.leaks(&text), "not found: {form}");
            let clean = s.scrub_str(&text, REDACTED);
            assert!(!s.leaks(&clean), "left in: {clean}");
            assert!(clean.starts_with("{\"a\":\"before ") && clean.contains(REDACTED));
        }
        assert!(!s.leaks("nothing here, not even sk-live-0123"));
        // Key-like strings go too; the placeholder stays.
        assert_eq!(
            Secrets::default().scrub_str(
                "a sk-abcdefgh1234 b sk-REDACTED c sk-short risk-assessment",
                KEY_PLACEHOLDER
            ),
            "a sk-REDACTED b sk-REDACTED c sk-short risk-assessment"
        );
    }

    #[test]
    fn keys_holding_escaped_characters_and_short_keys() {
        let key = r#"sk-test\KNOWN"esc"#;
        let s = Secrets::new([key]);
        let once = serde_json::to_string(key).unwrap();
        let twice = serde_json::to_string(&once).unwrap();
        for text in [&once, &twice] {
            assert!(s.leaks(text), "{text}");
            assert!(!s.leaks(&s.scrub_str(text, KEY_PLACEHOLDER)), "{text}");
        }
        // A short key is searched for, not scrubbed.
        let short = Secrets::new(["Kq!"]);
        assert!(short.leaks("x Kq! y") && short.leaks("x Kq%21 y"));
        assert_eq!(short.scrub_str("x Kq! y", REDACTED), "x Kq! y");
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
}
