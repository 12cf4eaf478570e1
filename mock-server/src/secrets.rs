//! API keys in the mock. The journal and record mode redact through one mechanism,
//! [`dashscope_transport::secrets`] (the one the SDK's client scrubs responses with): where a
//! request carries a key (secret headers and query parameters), and every encoding a key can
//! show up in (as it is, JSON-escaped, percent-encoded, base64 at any alignment). The mock also
//! scrubs any key-like `sk-…` string ([`for_keys`]). Keys shorter than
//! [`MIN_SCRUB_LEN`](dashscope_transport::secrets::MIN_SCRUB_LEN) are not scrubbed out of text
//! (they would match too much) but are still searched for by the leak checks.
//!
//! What only the mock needs is here: the budget's cost of scrubbing, and for record mode a JSON
//! value's strings scrubbed and a key split across the events of a stream found (record mode
//! reassembles what the events add up to, each JSON member's strings across the events, as a
//! client accumulates deltas; no single event holds such a key to be scrubbed, so record mode
//! then writes no cassette).

#[cfg(feature = "record")]
use std::borrow::Cow;
#[cfg(feature = "record")]
use std::collections::BTreeMap;

use dashscope_transport::secrets::Secrets;
#[cfg(feature = "record")]
use serde_json::Value;

/// What the mock searches for and scrubs: the forms of `keys`, and any key-like `sk-…` string.
pub(crate) fn for_keys<'k>(keys: impl IntoIterator<Item = &'k str>) -> Secrets {
    Secrets::new(keys).with_key_like(true)
}

/// At most what scrubbing `text` allocates besides its result: two decoded copies of a text
/// holding escapes (the bound [`Secrets::scrub`] documents), none for another.
pub(crate) fn scrub_cost(text: &[u8]) -> usize {
    if memchr::memchr2(b'\\', b'%', text).is_some() {
        2 * text.len()
    } else {
        0
    }
}

/// Scrubs every string in a JSON value.
#[cfg(feature = "record")]
pub(crate) fn scrub_value(secrets: &Secrets, v: &mut Value, placeholder: &str) {
    match v {
        Value::String(s) => {
            if let Cow::Owned(clean) = secrets.scrub_str(s, placeholder) {
                *s = clean;
            }
        }
        Value::Array(a) => a
            .iter_mut()
            .for_each(|x| scrub_value(secrets, x, placeholder)),
        Value::Object(o) => o
            .values_mut()
            .for_each(|x| scrub_value(secrets, x, placeholder)),
        _ => {}
    }
}

/// Whether the stream these events make up holds a key split across events: in the text each
/// JSON member's strings add up to across the events' `data:` payloads (as a client adds up
/// deltas), or the payloads that are not JSON add up to, a key that spans two events or more.
/// (A key within one event is for [`Secrets::scrub`] and [`Secrets::leaks`].)
#[cfg(feature = "record")]
pub(crate) fn leaks_in_stream<'e>(
    secrets: &Secrets,
    events: impl IntoIterator<Item = &'e str>,
) -> bool {
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
        secrets
            .find_leaks(&whole)
            .into_iter()
            .any(|r| bounds.iter().any(|&b| r.start < b && b < r.end))
    })
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

#[cfg(all(test, feature = "record"))]
mod tests {
    use super::*;

    #[test]
    fn a_key_split_across_events_is_found() {
        let key = "sk-live-0123456789abcdef";
        let s = for_keys([key]);
        let event =
            |t: &str| format!("data: {{\"choices\":[{{\"delta\":{{\"content\":\"{t}\"}}}}]}}\n\n");
        let (a, b) = (event(&key[..10]), event(&key[10..]));
        assert!(leaks_in_stream(&s, [a.as_str(), b.as_str()]));
        let whole = event(key);
        assert!(
            !leaks_in_stream(&s, [whole.as_str()]),
            "one event: for scrub"
        );
        let mut v = serde_json::json!({"a": [format!("x {key}")], "b": "sk-abcdefgh1234"});
        scrub_value(&s, &mut v, "sk-REDACTED");
        assert_eq!(
            v,
            serde_json::json!({"a": ["x sk-REDACTED"], "b": "sk-REDACTED"})
        );
    }
}
