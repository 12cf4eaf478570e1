//! The step after cassette matching: a [`Responder`] may answer a request no cassette matched.
//!
//! The pipeline for a generation request is: faults → auth → envelope checks (size, content
//! type, JSON) → cassettes → `X-DashScope-Async` and `model` checks → **responder** → 404
//! listing the nearest cassettes. In strict mode the responder is skipped.
//!
//! The default responder of [`MockServer::builder`](crate::MockServer::builder) is
//! [`Synthetic`](crate::Synthetic): validation like the service, then deterministic answers in
//! every dialect. [`NoSynthesis`] answers nothing, so every unmatched request gets the 404.
//! Any [`Responder`] plugs in here; what it returns goes through the same replay path as a
//! cassette (faults, chunk timing, response storage).

use std::fmt;

use dashscope_protocol::cassette::RecordedResponse;
use http::{HeaderMap, Method};
use serde_json::Value;

use crate::endpoint::Endpoint;

/// What a responder knows about a request.
#[derive(Clone, Copy, Debug)]
pub struct MockRequest<'a> {
    /// The endpoint (and so the dialect).
    pub endpoint: Endpoint,
    /// The method.
    pub method: &'a Method,
    /// The path.
    pub path: &'a str,
    /// The headers (the `Authorization` value included: never log it).
    pub headers: &'a HeaderMap,
    /// The raw body.
    pub body: &'a [u8],
    /// The body as JSON (the pipeline has checked it parses).
    pub json: &'a Value,
    /// Whether the request asks for a stream.
    pub stream: bool,
    /// The request id assigned to this request; answers should use it as `x-request-id`,
    /// `request_id` and the `chatcmpl-` suffix.
    pub request_id: &'a str,
    /// The server's configured seed (`--seed`), if any, for deterministic answers.
    pub seed: Option<u64>,
    /// Unix seconds for `created` / `created_at` (fixed at 2026-01-01T00:00:00Z when the
    /// server is seeded, so a seeded server's answers are byte-identical across runs).
    pub created: i64,
    /// Responses: the items of the conversation before this request, oldest first (the
    /// stored history of its `previous_response_id`); empty otherwise.
    pub history: &'a [Value],
}

/// Answers requests no cassette matched.
pub trait Responder: Send + Sync + fmt::Debug + 'static {
    /// The answer, or `None` to let the mock answer 404 with the nearest cassettes.
    fn respond(&self, request: &MockRequest<'_>) -> Option<RecordedResponse>;
}

/// The responder that answers nothing (every unmatched request gets the 404).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoSynthesis;

impl Responder for NoSynthesis {
    fn respond(&self, _request: &MockRequest<'_>) -> Option<RecordedResponse> {
        None
    }
}

/// A responder made from a closure (see [`responder_fn`]).
pub struct FnResponder<F>(F);

impl<F> fmt::Debug for FnResponder<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnResponder")
    }
}

impl<F> Responder for FnResponder<F>
where
    F: Fn(&MockRequest<'_>) -> Option<RecordedResponse> + Send + Sync + 'static,
{
    fn respond(&self, request: &MockRequest<'_>) -> Option<RecordedResponse> {
        (self.0)(request)
    }
}

/// Wraps a closure as a [`Responder`].
pub fn responder_fn<F>(f: F) -> FnResponder<F>
where
    F: Fn(&MockRequest<'_>) -> Option<RecordedResponse> + Send + Sync + 'static,
{
    FnResponder(f)
}
