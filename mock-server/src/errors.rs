//! The errors the mock generates, each rendered in its dialect's shape (`dashscope_protocol::protocol_notes` §2.5, §4.5)
//! from the protocol crate's typed error bodies.
//!
//! | dialect | non-stream body (`application/json`) | stream request |
//! |---|---|---|
//! | chat | `{"error":{"code","param","message","type"},"request_id"}` | same status, `data: {"error":{…},"id":"chatcmpl-<id>"}` + blank line |
//! | responses | `{"error":{"code","param","message","type"},"request_id"}` | same status, `data: {"error":{…},"request_id"}` + blank line |
//! | native | `{"code","message","request_id"}` | `id:1`, `event:error`, `:HTTP_STATUS/<status>`, `data:{…}` |
//!
//! Native stream requests: a 400 (a validation failure) answers **HTTP 200** with the
//! `event:error` frame, as recorded (EXCHANGES.md N19); every other status answers with that
//! status and the same SSE-framed body. [`Envelope::Ok`] forces the HTTP 200 form for any
//! status. Every generated answer carries `x-request-id` equal to the body's request id and
//! `x-dashscope-call-gateway: true`.

use dashscope_protocol::cassette::{Body, Dialect, RecordedResponse};
use dashscope_protocol::chat::{ChatErrorBody, ChatErrorDetail};
use dashscope_protocol::native::ErrorBody;
use dashscope_protocol::sse::Encoder;
use serde_json::{Map, Value};

use crate::state::now_ms;

/// The content types of SSE and JSON answers, as recorded.
const SSE_CONTENT_TYPE: &str = "text/event-stream;charset=UTF-8";
const JSON_CONTENT_TYPE: &str = "application/json";

/// How a native stream request's error is enveloped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Envelope {
    /// HTTP 200 for a 400, the error's own status otherwise.
    #[default]
    Auto,
    /// Always HTTP 200 with the `event:error` frame.
    Ok,
    /// Always the error's own status.
    Status,
}

/// An error before it is framed for a dialect.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ErrorReply {
    pub(crate) status: u16,
    /// The native `code` (`InvalidApiKey`, …), the compat `error.code` and `error.type`.
    pub(crate) native_code: String,
    pub(crate) compat_code: String,
    pub(crate) compat_type: String,
    /// The message, and the compat one where it differs.
    pub(crate) message: String,
    pub(crate) compat_message: Option<String>,
    /// The compat `error.param`.
    pub(crate) param: Option<String>,
    /// A `Retry-After` header value to send.
    pub(crate) retry_after: Option<String>,
    /// Extra top-level members of the body (the 404's `nearest` list, …).
    pub(crate) extra: Map<String, Value>,
    pub(crate) envelope: Envelope,
}

/// The usual error of each status (as injected by `status=`): native code, compat code, compat
/// type, message.
#[rustfmt::skip]
const BY_STATUS: [(u16, &str, &str, &str, &str); 11] = [
    (400, "InvalidParameter", "invalid_parameter_error", "invalid_request_error", "Required parameter(s) missing or invalid, please check the request parameters."),
    (401, "InvalidApiKey", "invalid_api_key", "invalid_request_error", "Invalid API-key provided."),
    (403, "AccessDenied", "AccessDenied", "AccessDenied", "Access denied."),
    (404, "ModelNotFound", "model_not_found", "invalid_request_error", "Model not exist."),
    (408, "RequestTimeOut", "request_timeout", "request_timeout", "Request timed out, please try again later."),
    (413, "BadRequest.TooLarge", "payload_too_large", "invalid_request_error", "Payload Too Large."),
    (429, "Throttling.RateQuota", "limit_requests", "limit_requests", "Requests rate limit exceeded, please try again later."),
    (500, "InternalError", "internal_error", "internal_error", "An internal error has occured, please try again later or contact service support."),
    (502, "BadGateway", "bad_gateway", "bad_gateway", "Bad gateway, please try again later."),
    (503, "ServiceUnavailable", "service_unavailable", "service_unavailable", "Model is unavailable, please try again later."),
    (504, "GatewayTimeout", "gateway_timeout", "gateway_timeout", "Gateway timeout, please try again later."),
];

impl ErrorReply {
    /// The usual error for an HTTP status (other 5xx: an internal error; other 4xx: an
    /// invalid parameter).
    pub(crate) fn for_status(status: u16) -> Self {
        // Another status reads the 500's row, or the 400's with a generic message.
        let usual = BY_STATUS.into_iter().find(|e| e.0 == status);
        let (_, native, compat, kind, mut message) =
            usual.unwrap_or(BY_STATUS[if status >= 500 { 7 } else { 0 }]);
        if usual.is_none() && status < 500 {
            message = "Request failed.";
        }
        // The compat message is the native one, but for the 401's, whose wording has a
        // trailing space (protocol_notes §2.5).
        let compat_message = (status == 401).then(|| "Incorrect API key provided. ".to_owned());
        ErrorReply {
            status,
            native_code: native.to_owned(),
            compat_code: compat.to_owned(),
            compat_type: kind.to_owned(),
            message: message.to_owned(),
            compat_message,
            param: None,
            retry_after: None,
            extra: Map::new(),
            envelope: Envelope::Auto,
        }
    }

    /// A 400 `InvalidParameter` / `invalid_parameter_error`.
    pub(crate) fn invalid_parameter(message: impl Into<String>) -> Self {
        let message = message.into();
        ErrorReply {
            message,
            ..Self::for_status(400)
        }
    }

    /// A 400 for the required parameter `name`, missing (`error.param` names it).
    pub(crate) fn missing(name: &str) -> Self {
        let message = format!("Required parameter \"{name}\" missing from request.");
        Self::invalid_parameter(message).param(name)
    }

    /// A mock-specific failure (bad fault spec, unknown route, …): an invalid request with
    /// the mock's own codes.
    pub(crate) fn mock(
        status: u16,
        native: &str,
        compat: &str,
        message: impl Into<String>,
    ) -> Self {
        let (native_code, compat_code) = (native.to_owned(), compat.to_owned());
        ErrorReply {
            status,
            native_code,
            compat_code,
            ..Self::invalid_parameter(message)
        }
    }

    /// 404 `MockNoMatch`: no cassette answers.
    pub(crate) fn no_match(message: String) -> Self {
        Self::mock(404, "MockNoMatch", "mock_no_match", message)
    }

    /// Sets the compat `error.param`.
    pub(crate) fn param(mut self, param: &str) -> Self {
        self.param = Some(param.to_owned());
        self
    }

    /// Adds a top-level member to the body.
    pub(crate) fn with_extra(mut self, key: &str, value: Value) -> Self {
        self.extra.insert(key.to_owned(), value);
        self
    }

    /// The native body: `{"code","message","request_id",…extra}`.
    fn native_body(&self, request_id: &str) -> String {
        let body = ErrorBody {
            code: Some(self.native_code.clone()),
            message: Some(self.message.clone()),
            request_id: Some(request_id.to_owned()),
            extra: self.extra.clone(),
            ..Default::default()
        };
        serde_json::to_string(&body).unwrap_or_default()
    }

    /// The compat body: `{"error":{…},"request_id",…extra}` (`"id":"chatcmpl-…"` instead in
    /// Chat Completions stream frames).
    fn compat_body(&self, request_id: &str, chat_stream: bool) -> String {
        let mut error = ChatErrorDetail {
            code: Some(self.compat_code.clone()),
            param: self.param.clone(),
            message: self
                .compat_message
                .clone()
                .unwrap_or_else(|| self.message.clone()),
            kind: Some(self.compat_type.clone()),
            ..Default::default()
        };
        error.set_explicit_null("param", self.param.is_none());
        let body = ChatErrorBody {
            error,
            id: chat_stream.then(|| format!("chatcmpl-{request_id}")),
            request_id: (!chat_stream).then(|| request_id.to_owned()),
            extra: self.extra.clone(),
            ..Default::default()
        };
        serde_json::to_string(&body).unwrap_or_default()
    }

    /// Renders the error for `dialect`; `stream` selects the SSE-framed form.
    pub(crate) fn render(
        &self,
        dialect: Dialect,
        stream: bool,
        request_id: &str,
    ) -> RecordedResponse {
        let native = dialect == Dialect::Native;
        let body = if native {
            self.native_body(request_id)
        } else {
            self.compat_body(request_id, stream && dialect == Dialect::Chat)
        };
        let (mut status, mut frame) = (self.status, Vec::new());
        match (native, stream) {
            (_, false) => frame = body.into_bytes(),
            (false, true) => Encoder::compat().data(&mut frame, &body),
            (true, true) => {
                status = match self.envelope {
                    Envelope::Ok => 200,
                    Envelope::Auto if self.status == 400 => 200,
                    _ => self.status,
                };
                Encoder::native().native_event(&mut frame, 1, "error", self.status, &body);
            }
        }
        let retry_after = self.retry_after.as_deref().map(|ra| ("retry-after", ra));
        let body = Body::Text(String::from_utf8(frame).unwrap_or_default());
        generated(status, request_id, stream, retry_after.as_slice(), body)
    }
}

/// An answer the mock generates: `status`, the headers the gateway puts on every one (an SSE or
/// a JSON one) in the recorded order, with `extra` ones after the third, and `body`.
pub(crate) fn generated(
    status: u16,
    request_id: &str,
    sse: bool,
    extra: &[(&str, &str)],
    body: Body,
) -> RecordedResponse {
    let now = now_ms().to_string();
    let content_type = if sse {
        SSE_CONTENT_TYPE
    } else {
        JSON_CONTENT_TYPE
    };
    let first = [
        ("x-request-id", request_id),
        ("content-type", content_type),
        ("x-dashscope-call-gateway", "true"),
    ];
    let rest = [
        ("req-cost-time", "0"),
        ("req-arrive-time", &now),
        ("resp-start-time", &now),
        ("x-envoy-upstream-service-time", "0"),
        ("vary", "Accept-Encoding"),
        ("server", "istio-envoy"),
    ];
    let pairs = first.iter().chain(extra).chain(&rest);
    let headers = pairs.map(|(n, v)| ((*n).to_owned(), (*v).to_owned()));
    RecordedResponse {
        status,
        headers: headers.collect(),
        body,
    }
}
