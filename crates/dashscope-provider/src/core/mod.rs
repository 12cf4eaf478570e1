//! Everything that is not I/O, shared by the async and the blocking client.
//!
//! * [`Call`]: one operation, fully prepared: the `http::Request<Bytes>` it sends (rebuilt per
//!   attempt from cheap clones), its tracing span, its retry policy and timeouts. It starts from
//!   what the [`Config`] prepared once (the base URI, the header values) and the call's
//!   [`RequestOptions`].
//! * [`Head`]: a response head as it arrives, the one door service text comes in by; it
//!   classifies the body or starts the stream. A gateway may echo the key into anything (the
//!   request id, an error body, a stream event), so the configuration's
//!   [`Secrets`](dashscope_transport::secrets::Secrets) scrub every form of it (as it is, JSON-
//!   escaped, percent-encoded, base64) out of the headers when the head arrives, a collected
//!   body before it is classified, and a stream's bytes before the SSE decoder sees them: every
//!   error field, span field and value the client hands out is built from scrubbed text.
//! * [`classify`]: a response (status, headers, body bytes) → a typed value or an [`Error`].
//! * [`Retrier`]: the retry state machine: given an attempt's outcome, retry after `d` or stop.
//! * [`StreamCore`]: SSE decoder + dialect decoder + accumulator, fed with byte chunks.
//! * [`ops`]: how each group method shapes its request (paths, stream flags, headers).
//!
//! The shells (`client.rs`, `blocking.rs`) only move bytes, keep time and sleep; the group
//! methods both expose are written once, in `groups.rs`.

pub(crate) mod classify;
pub(crate) mod ops;
pub(crate) mod retrier;
pub(crate) mod stream;

use std::time::{Duration, Instant};

use bytes::Bytes;
use dashscope_protocol::dialect::Dialect;
use dashscope_transport::TransportError;
use dashscope_transport::secrets::{REDACTED, Secrets};
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use serde::Serialize;
use tracing::Span;

pub(crate) use classify::{Failure, Outcome, StreamHead, header_request_id};
pub(crate) use retrier::{Next, Retrier};
pub(crate) use stream::{Step, StreamCore};

use crate::config::Config;
use crate::dialect::{Decodable, WireDialect};
use crate::error::Error;
use crate::options::RequestOptions;
use crate::reply::Reply;
use crate::retry::RetryPolicy;

/// `application/json`.
const JSON: HeaderValue = HeaderValue::from_static("application/json");
/// `text/event-stream`.
const EVENT_STREAM: HeaderValue = HeaderValue::from_static("text/event-stream");

/// What kind of body the call expects back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expect {
    /// One JSON body.
    Json,
    /// A server-sent-event stream.
    Stream,
}

/// One operation, ready to send (and re-send).
#[derive(Debug)]
pub(crate) struct Call {
    dialect: Dialect,
    operation: &'static str,
    model: Option<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    policy: RetryPolicy,
    total_timeout: Option<Duration>,
    /// Scrubs the key from what the service sends back.
    scrub: Secrets,
}

impl Call {
    /// The request for one attempt. Cheap: the body is shared, the headers are cloned.
    pub(crate) fn request(&self) -> http::Request<Bytes> {
        let mut req = http::Request::new(self.body.clone());
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.headers_mut() = self.headers.clone();
        req
    }

    /// The tracing span of the whole operation (all attempts, and a stream's life).
    ///
    /// Fields: `dialect`, `operation`, `model`, `method`, `path`, then `status`, `request_id`
    /// and `attempts` as they become known. Never a header, so never the key.
    pub(crate) fn span(&self) -> Span {
        tracing::info_span!(
            "dashscope.request",
            dialect = self.dialect.as_str(),
            operation = self.operation,
            model = self.model.as_deref().unwrap_or(""),
            method = %self.method,
            path = self.uri.path(),
            status = tracing::field::Empty,
            request_id = tracing::field::Empty,
            attempts = tracing::field::Empty,
        )
    }

    /// A fresh retry state machine for this call.
    pub(crate) fn retrier(&self) -> Retrier {
        Retrier::new(self.policy.clone())
    }

    /// The deadline of an attempt starting now ([`Timeouts::total`](crate::Timeouts::total)):
    /// a non-stream attempt must have its whole body by then, a stream its first chunk.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.total_timeout.map(|t| Instant::now() + t)
    }

    /// The response head of an attempt, as it arrives: its headers are scrubbed of the key
    /// (before anything reads them), and its status and request id recorded on the span.
    pub(crate) fn receive(&self, parts: http::response::Parts) -> Head {
        let http::response::Parts {
            status,
            mut headers,
            ..
        } = parts;
        self.scrub.scrub_headers(&mut headers);
        let span = Span::current();
        span.record("status", status.as_u16());
        if let Some(id) = header_request_id(&headers) {
            span.record("request_id", id);
        }
        tracing::debug!(status = status.as_u16(), "response head");
        Head {
            status,
            headers,
            scrub: self.scrub.clone(),
        }
    }
}

/// A response head whose headers are scrubbed; the body comes in through it too, scrubbed
/// before anything reads it.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    scrub: Secrets,
}

impl Head {
    /// How many body bytes to collect ([`classify::body_limit`]).
    pub(crate) fn body_limit(&self) -> usize {
        classify::body_limit(self.status)
    }

    /// Whether a stream response carries events, or a body to collect and report with
    /// [`failure`](Self::failure).
    pub(crate) fn stream_kind(&self) -> StreamHead {
        classify::stream_head(self.status, &self.headers)
    }

    /// A non-stream body → the decoded value or the error it reports.
    pub(crate) fn unary<O: Decodable>(
        self,
        body: Result<Bytes, TransportError>,
    ) -> Outcome<Reply<O>> {
        let body = body.map(|b| scrubbed(&self.scrub, b));
        classify::classify_unary(self.status, self.headers, body)
    }

    /// The error a stream response reports when it is not an event stream.
    pub(crate) fn failure(self, body: Result<Bytes, TransportError>) -> Failure {
        let body = body.map(|b| scrubbed(&self.scrub, b));
        classify::stream_body_failure(self.status, self.headers, body)
    }

    /// The stream state machine for an event stream, folding into `acc`; it scrubs the bytes
    /// it is fed.
    pub(crate) fn stream<D: WireDialect>(&self, acc: D::Accumulator) -> StreamCore<D> {
        StreamCore::new(self.status.as_u16(), &self.headers, acc, self.scrub.clone())
    }
}

/// A whole body, scrubbed (the same `Bytes` when it holds no form of the key).
fn scrubbed(secrets: &Secrets, body: Bytes) -> Bytes {
    match secrets.scrub(&body, REDACTED) {
        std::borrow::Cow::Borrowed(_) => body,
        std::borrow::Cow::Owned(clean) => Bytes::from(clean),
    }
}

/// Builds a [`Call`]: the URI (the configuration's base and the path), the headers (the
/// configuration's, then the request options', then content type, accept and `extra`), and the
/// body encoded once.
pub(crate) struct CallBuilder<'a> {
    config: &'a Config,
    options: &'a RequestOptions,
    dialect: Dialect,
    operation: &'static str,
    method: Method,
    path: String,
    model: Option<String>,
    body: Bytes,
    expect: Expect,
    extra_headers: Vec<(HeaderName, HeaderValue)>,
}

impl<'a> CallBuilder<'a> {
    pub(crate) fn new(
        (config, options): (&'a Config, &'a RequestOptions),
        dialect: Dialect,
        operation: &'static str,
        method: Method,
        path: impl Into<String>,
    ) -> Self {
        CallBuilder {
            config,
            options,
            dialect,
            operation,
            method,
            path: path.into(),
            model: None,
            body: Bytes::new(),
            expect: Expect::Json,
            extra_headers: Vec::new(),
        }
    }

    /// Encodes `body` as JSON, once.
    pub(crate) fn json<B: Serialize>(mut self, body: &B) -> Result<Self, Error> {
        let bytes = serde_json::to_vec(body).map_err(|e| Error::InvalidRequest {
            message: "the request body could not be encoded as JSON".to_owned(),
            source: Some(Box::new(e)),
        })?;
        self.body = Bytes::from(bytes);
        Ok(self)
    }

    pub(crate) fn model(mut self, model: &str) -> Self {
        self.model = Some(model.to_owned());
        self
    }

    pub(crate) fn stream(mut self) -> Self {
        self.expect = Expect::Stream;
        self
    }

    pub(crate) fn header(mut self, name: &'static str, value: &'static str) -> Self {
        self.extra_headers.push((
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        ));
        self
    }

    pub(crate) fn build(self) -> Result<Call, Error> {
        let (config, options) = (self.config, self.options);
        let mut headers = config.call_headers().clone();
        for (name, value) in options.headers()? {
            headers.insert(name, value.clone());
        }
        let uri = config.uri(&self.path).map_err(|e| Error::InvalidRequest {
            message: format!("the path {:?} is not valid", self.path),
            source: Some(Box::new(e)),
        })?;
        if !self.body.is_empty() {
            headers.insert(CONTENT_TYPE, JSON);
        }
        let accept = match self.expect {
            Expect::Json => JSON,
            Expect::Stream => EVENT_STREAM,
        };
        headers.insert(ACCEPT, accept);
        for (name, value) in self.extra_headers {
            headers.insert(name, value);
        }
        Ok(Call {
            dialect: self.dialect,
            operation: self.operation,
            model: self.model,
            method: self.method,
            uri,
            headers,
            body: self.body,
            policy: options.retry_policy(config),
            total_timeout: options.total_timeout_of(config),
            scrub: config.scrubber().clone(),
        })
    }
}

/// Percent-encodes a path segment or query value (everything but RFC 3986 unreserved bytes).
pub(crate) fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use http::header::{AUTHORIZATION, USER_AGENT};

    fn config() -> Config {
        Config::builder()
            .api_key("sk-secret-xyz")
            .base_url("http://127.0.0.1:9/")
            .header("x-extra", "1")
            .workspace_header("ws-1")
            .build()
            .unwrap()
    }

    #[test]
    fn request_has_url_auth_and_headers() {
        let c = config();
        let o = RequestOptions::new();
        let call = CallBuilder::new(
            (&c, &o),
            Dialect::Native,
            "generate_stream",
            Method::POST,
            "/api/v1/x",
        )
        .json(&serde_json::json!({"a": 1}))
        .unwrap()
        .model("qwen-plus")
        .stream()
        .header("x-dashscope-sse", "enable")
        .build()
        .unwrap();
        let req = call.request();
        assert_eq!(req.uri(), "http://127.0.0.1:9/api/v1/x");
        assert_eq!(req.method(), Method::POST);
        let h = req.headers();
        assert_eq!(h[AUTHORIZATION], "Bearer sk-secret-xyz");
        assert!(h[AUTHORIZATION].is_sensitive());
        assert_eq!(h[CONTENT_TYPE], "application/json");
        assert_eq!(h[ACCEPT], "text/event-stream");
        assert_eq!(h["x-dashscope-sse"], "enable");
        assert_eq!(h["x-extra"], "1");
        assert_eq!(h["x-dashscope-workspace"], "ws-1");
        assert!(
            h[USER_AGENT]
                .to_str()
                .unwrap()
                .starts_with("dashscope-rust/")
        );
        assert_eq!(req.body().as_ref(), br#"{"a":1}"#);
        // Each attempt gets the same request.
        let again = call.request();
        assert_eq!(again.body(), req.body());
        assert_eq!(again.headers(), req.headers());
        // The call's Debug shows no key (the header is sensitive).
        assert!(!format!("{call:?}").contains("sk-secret-xyz"));
    }

    #[test]
    fn get_has_no_content_type() {
        let c = config();
        let o = RequestOptions::new();
        let call = CallBuilder::new(
            (&c, &o),
            Dialect::Responses,
            "retrieve",
            Method::GET,
            "/r/1",
        )
        .build()
        .unwrap();
        let req = call.request();
        assert!(req.headers().get(CONTENT_TYPE).is_none());
        assert_eq!(req.headers()[ACCEPT], "application/json");
        assert!(req.body().is_empty());
    }

    #[test]
    fn request_options_go_over_the_config() {
        let c = config();
        let o = RequestOptions::new()
            .header("x-extra", "2")
            .header("x-dashscope-workspace", "ws-2")
            .header("user-agent", "app/2")
            .header("x-new", "3")
            .max_retries(7)
            .total_timeout(None);
        let call = CallBuilder::new((&c, &o), Dialect::Chat, "create", Method::POST, "/p")
            .build()
            .unwrap();
        let h = call.request().headers().clone();
        assert_eq!(h["x-extra"], "2");
        assert_eq!(h["x-dashscope-workspace"], "ws-2");
        assert_eq!(h[USER_AGENT], "app/2");
        assert_eq!(h["x-new"], "3");
        assert_eq!(h[AUTHORIZATION], "Bearer sk-secret-xyz");
        assert_eq!(call.policy.max_retries, 7);
        assert_eq!(call.total_timeout, None);
        let refused = RequestOptions::new().header("authorization", "Bearer sk-other");
        let e = CallBuilder::new((&c, &refused), Dialect::Chat, "create", Method::POST, "/p")
            .build()
            .unwrap_err();
        assert!(matches!(e, Error::InvalidRequest { .. }), "{e:?}");
    }

    #[test]
    fn components_are_encoded() {
        assert_eq!(encode_component("resp_ab-1.x~"), "resp_ab-1.x~");
        assert_eq!(encode_component("a/b c?"), "a%2Fb%20c%3F");
        assert_eq!(encode_component("é"), "%C3%A9");
    }
}
