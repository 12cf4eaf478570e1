//! Record mode: forward each request to an upstream, stream its answer back as it arrives,
//! and write a scrubbed cassette that replays byte for byte.
//!
//! * The request goes upstream with its headers (the client's `Authorization` included) except
//!   hop-by-hop ones and `x-mock-*`, with `accept-encoding: identity` so the answer is
//!   recorded decoded.
//! * The answer's headers go back in upstream order, except `connection`, `keep-alive` and
//!   `set-cookie`; `content-length` / `transfer-encoding` stay where they were, so the client
//!   sees the framing the replay will give it.
//! * The cassette (`<dir>/<dialect>/recorded-<ms>-<n>.json`) keeps request headers `accept`,
//!   `content-type` and `x-dashscope-*` only, never a secret one; a stream is stored as one
//!   chunk per SSE event with the delays seen. Every key the request carried (any secret
//!   header or query parameter), in every encoding [`crate::secrets`] knows, and
//!   strings that look like API keys (`sk-…`) are replaced by [`KEY_PLACEHOLDER`]; a cassette
//!   that still holds a key in any of those encodings, or in the text its stream adds up to,
//!   is not written.
//! * An answer longer than [`MAX_RECORDED_BYTES`] is forwarded whole but not recorded.
//! * Only the generation paths produce cassettes; other paths are forwarded only.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::body::Bytes;
use axum::response::{IntoResponse as _, Response};
use dashscope_protocol::cassette::{
    Body, CASSETTE_VERSION, Cassette, Chunk, RecordedRequest, RecordedResponse,
};
use futures_util::StreamExt;
use http::header::HeaderValue;
use http::{HeaderMap, StatusCode};
use serde_json::Value;

use dashscope_protocol::dialect::Endpoint;

use crate::errors::ErrorReply;
use crate::handler::{BodyError, Ctx};
use crate::secrets::{leaks_in_stream, scrub_value};
use crate::server::BuildError;
use crate::state::now_ms;
use dashscope_transport::ReqwestTransport;
use dashscope_transport::secrets::{KEY_PLACEHOLDER, is_secret_header, request_keys};

/// The longest answer recorded (its cassette, scrubbing and checks take a few times this).
pub(crate) const MAX_RECORDED_BYTES: usize = 16 * 1024 * 1024;

/// Forwards requests upstream and writes cassettes.
#[derive(Debug)]
pub(crate) struct Recorder {
    upstream: String,
    dir: PathBuf,
    client: reqwest::Client,
    seq: AtomicU64,
}

impl Recorder {
    /// A recorder for `upstream` (`https://dashscope.aliyuncs.com`) writing into `dir`
    /// (created when missing).
    pub(crate) fn new(upstream: &str, dir: PathBuf) -> Result<Self, BuildError> {
        let upstream = upstream.trim().trim_end_matches('/').to_owned();
        if !(upstream.starts_with("http://") || upstream.starts_with("https://")) {
            let e = format!(
                "record mode: the upstream must be an http:// or https:// URL, got {upstream:?}"
            );
            return Err(BuildError::Config(e));
        }
        std::fs::create_dir_all(&dir).map_err(|source| BuildError::Read {
            path: dir.clone(),
            source,
        })?;
        // The SDK's client set-up (TLS, no redirects), over HTTP/1.1 so the recorded framing
        // headers are the ones a replay gives, and without decoding (`identity` is asked for).
        let config = |e: String| BuildError::Config(format!("record mode: {e}"));
        let client = ReqwestTransport::builder()
            .no_proxy()
            .reqwest_builder()
            .map_err(|e| config(e.to_string()))?
            .http1_only()
            .gzip(false)
            .build()
            .map_err(|e| config(e.without_url().to_string()))?;
        Ok(Recorder {
            upstream,
            dir,
            client,
            seq: AtomicU64::new(0),
        })
    }

    /// Forwards `ctx`'s request and streams the answer back; a generation path's answer is
    /// written as a cassette before the client can see its end.
    pub(crate) async fn forward(&self, ctx: &Ctx, body_error: Option<&BodyError>) -> Response {
        if let Some(e) = body_error {
            return ctx.error(&e.reply());
        }
        let mut url = format!("{}{}", self.upstream, ctx.path());
        if let Some(q) = ctx.parts.uri.query() {
            url.push('?');
            url.push_str(q);
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &ctx.parts.headers {
            let n = name.as_str();
            let skip = matches!(
                n,
                "host"
                    | "connection"
                    | "keep-alive"
                    | "proxy-connection"
                    | "te"
                    | "upgrade"
                    | "content-length"
                    | "transfer-encoding"
                    | "accept-encoding"
            ) || n.starts_with("x-mock-");
            if !skip {
                headers.append(name.clone(), value.clone());
            }
        }
        headers.insert(
            http::header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        let started = Instant::now();
        let sent = self
            .client
            .request(ctx.parts.method.clone(), &url)
            .headers(headers)
            .body(ctx.body.clone())
            .send()
            .await;
        let upstream = match sent {
            Ok(r) => r,
            Err(e) => {
                let e = ErrorReply::for_status(502).with_extra(
                    "mock_upstream_error",
                    Value::String(e.without_url().to_string()),
                );
                return ctx.error(&e);
            }
        };
        let status = upstream.status();
        let mut recorded_headers = Vec::new();
        let mut out_headers = HeaderMap::new();
        for (name, value) in upstream.headers() {
            if matches!(
                name.as_str(),
                "connection" | "keep-alive" | "proxy-connection" | "set-cookie"
            ) {
                continue;
            }
            out_headers.append(name.clone(), value.clone());
            recorded_headers.push((
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            ));
        }
        let is_sse = upstream
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.to_ascii_lowercase().contains("event-stream"));

        let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(64);
        let length = upstream.content_length();
        let cassette_target = ctx.endpoint.and_then(|ep| {
            let request = ctx.json.clone()?;
            let n = self.seq.fetch_add(1, Ordering::Relaxed);
            let scenario = format!("recorded-{}-{n}", now_ms());
            Some(Pending {
                endpoint: ep,
                scenario,
                request,
                request_headers: recorded_request_headers(&ctx.parts.headers),
                keys: request_keys(&ctx.parts.headers, ctx.parts.uri.query()),
                method: ctx.parts.method.to_string(),
                path: ctx.path().to_owned(),
                status: status.as_u16(),
                headers: recorded_headers,
                is_sse,
                dir: self.dir.clone(),
                upstream_host: self.upstream.clone(),
            })
        });
        let name = cassette_target
            .as_ref()
            .map(|p| format!("{}/{}", p.endpoint.dialect().as_str(), p.scenario));
        let mut body_stream = upstream.bytes_stream();
        tokio::spawn(async move {
            let mut body = Vec::new();
            let mut arrivals: Vec<(usize, Instant)> = Vec::new();
            let mut complete = true;
            let mut seen = 0usize;
            // With a length, the piece that completes the body is held until the cassette is
            // written (without one, the body's end is): a client never sees the end first.
            let mut held = None;
            while let Some(piece) = body_stream.next().await {
                match piece {
                    Ok(bytes) => {
                        seen = seen.saturating_add(bytes.len());
                        if seen <= MAX_RECORDED_BYTES {
                            body.extend_from_slice(&bytes);
                            arrivals.push((body.len(), Instant::now()));
                        } else if !body.is_empty() {
                            // Too long to record: forward the rest only.
                            body = Vec::new();
                            arrivals = Vec::new();
                        }
                        if length.is_some_and(|n| seen as u64 >= n) {
                            held = Some(bytes);
                        } else {
                            let _ = tx.send(Ok(bytes)).await;
                        }
                    }
                    Err(e) => {
                        complete = false;
                        let _ = tx
                            .send(Err(std::io::Error::other(e.without_url().to_string())))
                            .await;
                        break;
                    }
                }
            }
            match (cassette_target, complete) {
                (Some(_), true) if seen > MAX_RECORDED_BYTES => {
                    tracing::warn!(
                        "record: the answer is over {MAX_RECORDED_BYTES} bytes; no cassette written"
                    )
                }
                (Some(p), true) => p.write(&body, &arrivals, started),
                (Some(_), false) => {
                    tracing::warn!("record: the upstream body broke off; no cassette written")
                }
                (None, _) => {}
            }
            if let Some(last) = held {
                let _ = tx.send(Ok(last)).await;
            }
        });
        let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
        let status = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        ctx.journal(status, "record", name.as_deref().map(Arc::from));
        let body = axum::body::Body::from_stream(stream);
        (status, out_headers, body).into_response()
    }
}

fn recorded_request_headers(headers: &HeaderMap) -> std::collections::BTreeMap<String, String> {
    headers
        .iter()
        .filter(|(n, _)| {
            let n = n.as_str();
            (n == "accept" || n == "content-type" || n.starts_with("x-dashscope-"))
                && !is_secret_header(n)
        })
        .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect()
}

/// Splits an SSE body into events, each with its trailing blank line; a native stream without
/// blank lines is split before each `id:` line that follows a `data:` line.
fn split_events(body: &str) -> Vec<&str> {
    let mut events = Vec::new();
    let mut start = 0;
    let mut pos = 0;
    let mut seen_data = false;
    for line in body.split_inclusive('\n') {
        let trimmed = line.trim_end_matches(['\r', '\n']);
        if trimmed.is_empty() {
            pos += line.len();
            if pos > start {
                events.push(&body[start..pos]);
            }
            start = pos;
            seen_data = false;
            continue;
        }
        if trimmed.starts_with("id:") && seen_data && pos > start {
            events.push(&body[start..pos]);
            start = pos;
            seen_data = false;
        }
        if trimmed.starts_with("data:") {
            seen_data = true;
        }
        pos += line.len();
    }
    if pos > start {
        events.push(&body[start..pos]);
    }
    events
}

/// A cassette waiting for its body.
struct Pending {
    endpoint: Endpoint,
    scenario: String,
    request: Value,
    request_headers: std::collections::BTreeMap<String, String>,
    /// The keys the request carried.
    keys: Vec<String>,
    method: String,
    path: String,
    status: u16,
    headers: Vec<(String, String)>,
    is_sse: bool,
    dir: PathBuf,
    upstream_host: String,
}

impl Pending {
    fn write(self, body: &[u8], arrivals: &[(usize, Instant)], started: Instant) {
        let Ok(text) = std::str::from_utf8(body) else {
            tracing::warn!("record: the body is not UTF-8 (compressed?); no cassette written");
            return;
        };
        let secrets = crate::secrets::for_keys(self.keys.iter().map(String::as_str));
        let scrub = |t: &str| secrets.scrub_str(t, KEY_PLACEHOLDER).into_owned();
        let time_at = |offset: usize| {
            arrivals
                .iter()
                .find(|(end, _)| *end >= offset)
                .map_or(started, |(_, t)| *t)
        };
        let body = if self.is_sse {
            let mut offset = 0;
            let mut prev = None::<Instant>;
            let chunks = split_events(text)
                .into_iter()
                .map(|ev| {
                    offset += ev.len();
                    let at = time_at(offset);
                    let delay_ms =
                        prev.map_or(0, |p| at.saturating_duration_since(p).as_millis() as u64);
                    prev = Some(at);
                    Chunk {
                        delay_ms,
                        data: scrub(ev),
                    }
                })
                .collect();
            Body::Chunks(chunks)
        } else {
            Body::Text(scrub(text))
        };
        // Scrubbing may change the length: keep a recorded content-length true.
        let body_len = body.to_bytes().len().to_string();
        let headers: Vec<(String, String)> = self
            .headers
            .into_iter()
            .map(|(n, v)| {
                let v = if n.eq_ignore_ascii_case("content-length") {
                    body_len.clone()
                } else {
                    scrub(&v)
                };
                (n, v)
            })
            .collect();
        let mut request = self.request;
        scrub_value(&secrets, &mut request, KEY_PLACEHOLDER);
        let dialect = self.endpoint.dialect();
        let model = request
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned();
        let stream = if self.is_sse { "stream" } else { "non-stream" };
        let cassette = Cassette {
            version: CASSETTE_VERSION,
            name: format!("{}/{}", dialect.as_str(), self.scenario),
            description: format!(
                "Recorded {} {} ({model}, {stream}, HTTP {})",
                self.method, self.path, self.status
            ),
            source: Some(format!(
                "raw: recorded through dashscope-mock --record from {}",
                scrub(&self.upstream_host)
            )),
            dialect,
            request: RecordedRequest {
                method: self.method,
                path: self.path,
                headers: self
                    .request_headers
                    .into_iter()
                    .map(|(k, v)| (k, scrub(&v)))
                    .collect(),
                body: Some(request),
            },
            matcher: None,
            priority: 0,
            once: false,
            response: RecordedResponse {
                status: self.status,
                headers,
                body,
            },
        };
        let json = cassette.to_json_pretty();
        // Left anywhere in the cassette, or split across the events of the stream as it came
        // (where no event holds it whole to be scrubbed).
        let split = self.is_sse && leaks_in_stream(&secrets, split_events(text));
        if split || secrets.leaks(&json) {
            tracing::error!(
                "record: refusing to write {}: it still contains the API key",
                cassette.name
            );
            return;
        }
        let dir = self.dir.join(dialect.as_str());
        let file = dir.join(format!("{}.json", self.scenario));
        let tmp = dir.join(format!(".{}.json.tmp", self.scenario));
        let written = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&tmp, json))
            .and_then(|()| std::fs::rename(&tmp, &file));
        match written {
            Ok(()) => tracing::info!("record: wrote {}", file.display()),
            Err(e) => tracing::error!("record: cannot write {}: {e}", file.display()),
        }
    }
}
