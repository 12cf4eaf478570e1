//! [`ReplayTransport`]: serves cassettes in-process.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use dashscope_protocol::cassette::{Body, Cassette, CassetteError};
use serde_json::Value;

use super::{Script, head};
use crate::{BlockingBody, BlockingTransport, ByteStream, Phase, Transport, TransportError};

/// A transport that answers from cassettes (`dashscope_protocol::cassette::Cassette`), in
/// process: no socket, no server.
///
/// # Matching
///
/// The rules are the mock server's (without its mock-only `match` extensions, which are
/// ignored here). A cassette answers a request when all of these hold:
///
/// * **method**: `match.method`, else the recorded `request.method` (case-insensitive);
/// * **path**: `match.path`, else the recorded `request.path`, equal to the request URI's path
///   (the query is ignored);
/// * **body**: `match.body`, else the recorded `request.body`, is a *partial* JSON pattern:
///   every member it gives must be present in the request's JSON body with an equal value
///   (objects recursively; arrays element by element with the same length; numbers by value).
///   `{}` matches any JSON object; no pattern at all matches any body;
/// * **headers**: every header in `match.headers` is present with that value (names
///   case-insensitive, values case-insensitive after trimming); without `match.headers`, a
///   recorded `x-dashscope-sse` header must be present;
/// * **stream-ness**: a cassette with a `chunks` body answers only stream requests (`"stream":
///   true` in the body, or `X-DashScope-SSE: enable`), and any other cassette only non-stream
///   ones, unless the body pattern has a `stream` member or the header conditions name
///   `x-dashscope-sse`.
///
/// Of several matching cassettes the highest `priority` wins, then the earliest loaded. A
/// `once` cassette answers one request and then steps aside. A request no cassette matches
/// fails with a [`Phase::Prepare`] error whose cause names the method, the path (never the
/// query) and the cassettes still available.
///
/// # Responses
///
/// The recorded status and headers (in recorded order; names lower-cased by `http`), and the
/// body: `json` and `text` bodies as one chunk, `chunks` bodies chunk by chunk, each after its
/// `delay_ms` (`tokio::time::sleep` on the async side, `std::thread::sleep` on the blocking
/// side; [`without_delays`](Self::without_delays) skips them).
///
/// # Unified cassettes
///
/// A unified cassette (`mock-server/fixtures/unified/`, see `dashscope_protocol::cassette`)
/// holds an answer in the unified model, to be rendered in whichever dialect a request
/// arrives in; this transport replays bytes and has no renderer. [`from_dir`](Self::from_dir)
/// skips unified cassettes (so it can load the whole fixture tree; see
/// [`skipped`](Self::skipped)), and [`from_files`](Self::from_files) refuses one with
/// [`ReplayLoadError::Cassette`] whose source is `CassetteError::Unified`. Serve them with
/// the mock server.
pub struct ReplayTransport {
    entries: Vec<Entry>,
    used: Mutex<Vec<bool>>,
    delays: bool,
    skipped: Vec<PathBuf>,
}

struct Entry {
    cassette: Arc<Cassette>,
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: Option<Value>,
    /// `Some(streamed)` when the stream-ness rule applies.
    stream: Option<bool>,
}

impl Entry {
    fn new(cassette: Cassette) -> Self {
        let recorded = &cassette.request;
        let m = cassette.matcher.clone().unwrap_or_default();
        let method = m.method.unwrap_or_else(|| recorded.method.clone());
        let path = m.path.unwrap_or_else(|| recorded.path.clone());
        let body = m.body.or_else(|| recorded.body.clone());
        let headers = if m.headers.is_empty() {
            recorded
                .headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(SSE_HEADER))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        } else {
            m.headers
        };
        let speaks = body.as_ref().is_some_and(|b| b.get("stream").is_some())
            || headers.keys().any(|k| k.eq_ignore_ascii_case(SSE_HEADER));
        let stream = (!speaks).then(|| cassette.response.body.is_stream());
        Self {
            cassette: Arc::new(cassette),
            method,
            path,
            headers,
            body,
            stream,
        }
    }

    fn matches(&self, req: &http::Request<Bytes>, json: &mut Option<Option<Value>>) -> bool {
        if !self.method.eq_ignore_ascii_case(req.method().as_str()) {
            return false;
        }
        if self.path != req.uri().path() {
            return false;
        }
        let headers_match = self.headers.iter().all(|(name, want)| {
            req.headers().get_all(name.as_str()).iter().any(|v| {
                v.to_str()
                    .is_ok_and(|v| v.trim().eq_ignore_ascii_case(want.trim()))
            })
        });
        if !headers_match {
            return false;
        }
        let body = json.get_or_insert_with(|| serde_json::from_slice(req.body()).ok());
        if let Some(pattern) = &self.body {
            if !body
                .as_ref()
                .is_some_and(|actual| partial_match(pattern, actual))
            {
                return false;
            }
        }
        if let Some(streamed) = self.stream {
            let body_stream = body
                .as_ref()
                .and_then(|b| b.get("stream"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let header_stream = req.headers().get_all(SSE_HEADER).iter().any(|v| {
                v.to_str()
                    .is_ok_and(|v| v.trim().eq_ignore_ascii_case("enable"))
            });
            if streamed != (body_stream || header_stream) {
                return false;
            }
        }
        true
    }
}

const SSE_HEADER: &str = "x-dashscope-sse";

/// Whether `actual` has every member `pattern` gives, with equal values.
fn partial_match(pattern: &Value, actual: &Value) -> bool {
    match (pattern, actual) {
        (Value::Object(p), Value::Object(a)) => p
            .iter()
            .all(|(k, pv)| a.get(k).is_some_and(|av| partial_match(pv, av))),
        (Value::Array(p), Value::Array(a)) => {
            p.len() == a.len() && p.iter().zip(a).all(|(pv, av)| partial_match(pv, av))
        }
        (Value::Number(p), Value::Number(a)) => {
            p == a || p.as_f64().is_some_and(|p| a.as_f64() == Some(p))
        }
        _ => pattern == actual,
    }
}

/// Why cassettes could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayLoadError {
    /// A file or directory could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file is not a valid cassette.
    #[error("invalid cassette {path}")]
    Cassette {
        /// The file.
        path: PathBuf,
        /// Why it is invalid.
        #[source]
        source: CassetteError,
    },
}

/// No cassette matched a request (the cause of the replay's [`Phase::Prepare`] error).
#[derive(Debug)]
struct NoMatch {
    method: String,
    path: String,
    loaded: Vec<String>,
}

impl fmt::Display for NoMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no cassette matches {} {}", self.method, self.path)?;
        if self.loaded.is_empty() {
            f.write_str(" (no cassettes loaded)")
        } else {
            write!(f, " (loaded, and not used up: {})", self.loaded.join(", "))
        }
    }
}

impl std::error::Error for NoMatch {}

impl ReplayTransport {
    /// Serves `cassettes`, earliest first on equal priority.
    pub fn new(cassettes: impl IntoIterator<Item = Cassette>) -> Self {
        let entries: Vec<Entry> = cassettes.into_iter().map(Entry::new).collect();
        let used = Mutex::new(vec![false; entries.len()]);
        Self {
            entries,
            used,
            delays: true,
            skipped: Vec::new(),
        }
    }

    /// Loads every `*.json` file under `dir` (recursively, in path order) as a cassette,
    /// skipping unified cassettes (listed by [`skipped`](Self::skipped)).
    ///
    /// # Errors
    ///
    /// [`ReplayLoadError::Io`] if a directory or file cannot be read,
    /// [`ReplayLoadError::Cassette`] if a file is not a valid cassette.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self, ReplayLoadError> {
        let mut files = Vec::new();
        collect_json(dir.as_ref(), &mut files)?;
        files.sort();
        Self::load(files, true)
    }

    /// Loads each file as a cassette, in the order given.
    ///
    /// # Errors
    ///
    /// [`ReplayLoadError::Io`] if a file cannot be read, [`ReplayLoadError::Cassette`] if it
    /// is not a valid cassette, or is a unified cassette (source `CassetteError::Unified`:
    /// this transport cannot render dialects).
    pub fn from_files(
        files: impl IntoIterator<Item = impl AsRef<Path>>,
    ) -> Result<Self, ReplayLoadError> {
        Self::load(files, false)
    }

    fn load(
        files: impl IntoIterator<Item = impl AsRef<Path>>,
        skip_unified: bool,
    ) -> Result<Self, ReplayLoadError> {
        let mut cassettes = Vec::new();
        let mut skipped = Vec::new();
        for file in files {
            let path = file.as_ref();
            let text = std::fs::read_to_string(path).map_err(|source| ReplayLoadError::Io {
                path: path.to_owned(),
                source,
            })?;
            match Cassette::from_json(&text) {
                Ok(cassette) => cassettes.push(cassette),
                Err(CassetteError::Unified { .. }) if skip_unified => skipped.push(path.to_owned()),
                Err(source) => {
                    return Err(ReplayLoadError::Cassette {
                        path: path.to_owned(),
                        source,
                    });
                }
            }
        }
        let mut t = Self::new(cassettes);
        t.skipped = skipped;
        Ok(t)
    }

    /// The unified cassettes [`from_dir`](Self::from_dir) skipped, in path order.
    pub fn skipped(&self) -> &[PathBuf] {
        &self.skipped
    }

    /// Serves chunks back to back, ignoring their `delay_ms`.
    #[must_use]
    pub fn without_delays(mut self) -> Self {
        self.delays = false;
        self
    }

    /// The cassettes loaded, in order.
    pub fn cassettes(&self) -> impl Iterator<Item = &Cassette> {
        self.entries.iter().map(|e| &*e.cassette)
    }

    /// The cassette that would answer `req` now, without using it up.
    pub fn find(&self, req: &http::Request<Bytes>) -> Option<&Cassette> {
        let used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        self.pick(req, &used).map(|i| &*self.entries[i].cassette)
    }

    fn pick(&self, req: &http::Request<Bytes>, used: &[bool]) -> Option<usize> {
        let mut json = None;
        let mut best: Option<(usize, i32)> = None;
        for (i, entry) in self.entries.iter().enumerate() {
            if entry.cassette.once && used.get(i).copied().unwrap_or(false) {
                continue;
            }
            if !entry.matches(req, &mut json) {
                continue;
            }
            if best.is_none_or(|(_, p)| entry.cassette.priority > p) {
                best = Some((i, entry.cassette.priority));
            }
        }
        best.map(|(i, _)| i)
    }

    /// Picks the cassette for `req` (using up a `once` one) and scripts its response.
    fn answer(
        &self,
        req: &http::Request<Bytes>,
    ) -> Result<(http::response::Parts, Script), TransportError> {
        let cassette = {
            let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(i) = self.pick(req, &used) else {
                let loaded = self
                    .entries
                    .iter()
                    .zip(used.iter())
                    .filter(|(e, used)| !(e.cassette.once && **used))
                    .map(|(e, _)| e.cassette.name.clone())
                    .collect();
                let miss = NoMatch {
                    method: req.method().to_string(),
                    path: req.uri().path().to_owned(),
                    loaded,
                };
                return Err(TransportError::new(Phase::Prepare, miss));
            };
            if let Some(slot) = used.get_mut(i) {
                *slot = true;
            }
            self.entries[i].cassette.clone()
        };
        let what = format!("cassette {}", cassette.name);
        let parts = head(cassette.response.status, &cassette.response.headers, &what)?;
        let chunks = match &cassette.response.body {
            Body::Json(_) | Body::Text(_) => {
                vec![(
                    Duration::ZERO,
                    Bytes::from(cassette.response.body.to_bytes()),
                )]
            }
            Body::Chunks(chunks) => chunks
                .iter()
                .map(|c| {
                    let delay = if self.delays {
                        Duration::from_millis(c.delay_ms)
                    } else {
                        Duration::ZERO
                    };
                    (delay, Bytes::from(c.data.clone()))
                })
                .collect(),
        };
        Ok((parts, Script { chunks, end: None }))
    }
}

fn collect_json(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), ReplayLoadError> {
    let io = |source| ReplayLoadError::Io {
        path: dir.to_owned(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            collect_json(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}

impl fmt::Debug for ReplayTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self
            .entries
            .iter()
            .map(|e| e.cassette.name.as_str())
            .collect();
        f.debug_struct("ReplayTransport")
            .field("cassettes", &names)
            .field("delays", &self.delays)
            .field("skipped", &self.skipped)
            .finish()
    }
}

#[async_trait]
impl Transport for ReplayTransport {
    async fn send(
        &self,
        req: http::Request<Bytes>,
    ) -> Result<http::Response<ByteStream>, TransportError> {
        let (parts, script) = self.answer(&req)?;
        Ok(http::Response::from_parts(parts, script.into_stream()))
    }
}

impl BlockingTransport for ReplayTransport {
    fn send(
        &self,
        req: http::Request<Bytes>,
    ) -> Result<http::Response<BlockingBody>, TransportError> {
        let (parts, script) = self.answer(&req)?;
        Ok(http::Response::from_parts(parts, script.into_iter()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unified_cassettes_are_skipped_by_from_dir_and_refused_by_from_files() {
        let dir = std::env::temp_dir().join(format!("dst-replay-unified-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("unified")).unwrap();
        let unified = json!({
            "version": 1, "name": "unified/u", "description": "d",
            "request": {"model": "m", "messages": [{"role": "user", "parts": [{"type": "text", "text": "hi"}]}]},
            "response": {"unified": {"candidates": [{"index": 0, "text": "hello"}]}}
        });
        let wire = json!({
            "version": 1, "name": "chat/w", "description": "d", "dialect": "chat",
            "request": {"method": "POST", "path": "/p"},
            "response": {"status": 200, "body": {"text": "{}"}}
        });
        let u = dir.join("unified").join("u.json");
        std::fs::write(&u, unified.to_string()).unwrap();
        std::fs::write(dir.join("w.json"), wire.to_string()).unwrap();
        let t = ReplayTransport::from_dir(&dir).unwrap();
        let names: Vec<&str> = t.cassettes().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["chat/w"]);
        assert_eq!(t.skipped(), std::slice::from_ref(&u));
        let err = ReplayTransport::from_files([&u]).err().unwrap();
        assert!(
            matches!(
                &err,
                ReplayLoadError::Cassette {
                    source: CassetteError::Unified { name },
                    ..
                } if name == "unified/u"
            ),
            "{err:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn partial_matching() {
        let actual = json!({"model": "qwen-plus", "input": {"messages": [{"role": "user", "content": "hi"}]}, "stream": true});
        assert!(partial_match(&json!({}), &actual));
        assert!(partial_match(&json!({"model": "qwen-plus"}), &actual));
        assert!(partial_match(
            &json!({"input": {"messages": [{"role": "user"}]}}),
            &actual
        ));
        assert!(!partial_match(&json!({"input": {"messages": []}}), &actual));
        assert!(!partial_match(&json!({"model": "qwen-max"}), &actual));
        assert!(!partial_match(&json!({"missing": null}), &actual));
        assert!(!partial_match(&json!({"stream": "true"}), &actual));
        assert!(partial_match(&json!({"t": 1}), &json!({"t": 1.0})));
        assert!(!partial_match(&json!({"t": 1}), &json!({"t": 1.5})));
    }
}
