//! The errors the mock generates, each rendered in its dialect's shape (PROTOCOL.md §2.5, §4.5)
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

use std::time::{SystemTime, UNIX_EPOCH};

use dashscope_protocol::cassette::{Body, Dialect, RecordedResponse};
use dashscope_protocol::chat::{ChatErrorBody, ChatErrorDetail};
use dashscope_protocol::native::ErrorBody;
use dashscope_protocol::sse::Encoder;
use serde_json::{Map, Value};

/// The content type of SSE answers, as recorded (native `text/event-stream;charset=UTF-8`).
pub(crate) const SSE_CONTENT_TYPE: &str = "text/event-stream;charset=UTF-8";
/// The content type of JSON answers, as recorded.
pub(crate) const JSON_CONTENT_TYPE: &str = "application/json";

/// How a native stream request's error is enveloped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Envelope {
    /// HTTP 200 for a 400, the error's own status otherwise (the default).
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
    /// The HTTP status.
    pub(crate) status: u16,
    /// The native `code` (`InvalidApiKey`, `Throttling.RateQuota`, …).
    pub(crate) native_code: String,
    /// The compat `error.code` (`invalid_api_key`, `limit_requests`, …).
    pub(crate) compat_code: String,
    /// The compat `error.type` (`invalid_request_error`, …).
    pub(crate) compat_type: String,
    /// The native message.
    pub(crate) message: String,
    /// The compat message, where it differs from the native one.
    pub(crate) compat_message: Option<String>,
    /// The compat `error.param`.
    pub(crate) param: Option<String>,
    /// A `Retry-After` header value to send.
    pub(crate) retry_after: Option<String>,
    /// Extra top-level members of the body (the 404's `nearest` list, …).
    pub(crate) extra: Map<String, Value>,
    /// How a native stream request's error is enveloped.
    pub(crate) envelope: Envelope,
}

impl ErrorReply {
    /// An error with the given status and codes; the compat message is the native one.
    pub(crate) fn new(
        status: u16,
        native_code: &str,
        compat_code: &str,
        compat_type: &str,
        message: impl Into<String>,
    ) -> Self {
        ErrorReply {
            status,
            native_code: native_code.to_owned(),
            compat_code: compat_code.to_owned(),
            compat_type: compat_type.to_owned(),
            message: message.into(),
            compat_message: None,
            param: None,
            retry_after: None,
            extra: Map::new(),
            envelope: Envelope::Auto,
        }
    }

    /// A 400 `InvalidParameter` / `invalid_parameter_error`.
    pub(crate) fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(
            400,
            "InvalidParameter",
            "invalid_parameter_error",
            "invalid_request_error",
            message,
        )
    }

    /// 401: a missing, malformed or unknown Bearer key.
    pub(crate) fn invalid_api_key() -> Self {
        let mut e = Self::new(
            401,
            "InvalidApiKey",
            "invalid_api_key",
            "invalid_request_error",
            "Invalid API-key provided.",
        );
        // The compat wording has a trailing space (PROTOCOL.md §2.5).
        e.compat_message = Some("Incorrect API key provided. ".to_owned());
        e
    }

    /// 403: `X-DashScope-Async: enable` on a synchronous API (PROTOCOL.md §1.5).
    pub(crate) fn async_not_supported() -> Self {
        Self::new(
            403,
            "AccessDenied",
            "AccessDenied",
            "AccessDenied",
            "current user api does not support asynchronous calls",
        )
    }

    /// 400: the body is not JSON.
    pub(crate) fn malformed_json(detail: &str) -> Self {
        Self::invalid_parameter(format!("The request body is not valid JSON: {detail}"))
    }

    /// 400: a content type other than JSON. (The service documents 415 only for media inputs,
    /// `BadRequest.UnsupportedFileFormat`; a bad request envelope is a 400 `InvalidParameter`.)
    pub(crate) fn wrong_content_type(content_type: &str) -> Self {
        Self::invalid_parameter(format!(
            "Unsupported content type '{content_type}': the request body must be application/json."
        ))
    }

    /// 413 `BadRequest.TooLarge`.
    pub(crate) fn too_large() -> Self {
        Self::new(
            413,
            "BadRequest.TooLarge",
            "payload_too_large",
            "invalid_request_error",
            "Payload Too Large.",
        )
    }

    /// 400 `BadRequest.EmptyModel`: no `model`.
    pub(crate) fn missing_model() -> Self {
        let mut e = Self::new(
            400,
            "BadRequest.EmptyModel",
            "invalid_parameter_error",
            "invalid_request_error",
            "Required parameter \"model\" missing from request.",
        );
        e.param = Some("model".to_owned());
        e
    }

    /// 400: a Responses `previous_response_id` the mock has not stored.
    pub(crate) fn previous_response_not_found(id: &str) -> Self {
        let mut e = Self::invalid_parameter(format!("Previous response with id '{id}' not found."));
        e.param = Some("previous_response_id".to_owned());
        e
    }

    /// 429 `Throttling.RateQuota` / `limit_requests`.
    pub(crate) fn throttled() -> Self {
        Self::new(
            429,
            "Throttling.RateQuota",
            "limit_requests",
            "limit_requests",
            "Requests rate limit exceeded, please try again later.",
        )
    }

    /// The usual error for an HTTP status (used by injected faults).
    pub(crate) fn for_status(status: u16) -> Self {
        match status {
            400 => Self::invalid_parameter(
                "Required parameter(s) missing or invalid, please check the request parameters.",
            ),
            401 => Self::invalid_api_key(),
            403 => Self::new(
                403,
                "AccessDenied",
                "AccessDenied",
                "AccessDenied",
                "Access denied.",
            ),
            404 => Self::new(
                404,
                "ModelNotFound",
                "model_not_found",
                "invalid_request_error",
                "Model not exist.",
            ),
            408 => Self::new(
                408,
                "RequestTimeOut",
                "request_timeout",
                "request_timeout",
                "Request timed out, please try again later.",
            ),
            413 => Self::too_large(),
            429 => Self::throttled(),
            500 => Self::new(
                500,
                "InternalError",
                "internal_error",
                "internal_error",
                "An internal error has occured, please try again later or contact service support.",
            ),
            502 => Self::new(
                502,
                "BadGateway",
                "bad_gateway",
                "bad_gateway",
                "Bad gateway, please try again later.",
            ),
            503 => Self::new(
                503,
                "ServiceUnavailable",
                "service_unavailable",
                "service_unavailable",
                "Model is unavailable, please try again later.",
            ),
            504 => Self::new(
                504,
                "GatewayTimeout",
                "gateway_timeout",
                "gateway_timeout",
                "Gateway timeout, please try again later.",
            ),
            s if s >= 500 => Self::new(
                s,
                "InternalError",
                "internal_error",
                "internal_error",
                "An internal error has occured, please try again later or contact service support.",
            ),
            s => Self::new(
                s,
                "InvalidParameter",
                "invalid_parameter_error",
                "invalid_request_error",
                "Request failed.",
            ),
        }
    }

    /// A mock-specific failure (bad fault spec, unknown route, …) with a 4xx status.
    pub(crate) fn mock(
        status: u16,
        native_code: &str,
        compat_code: &str,
        message: impl Into<String>,
    ) -> Self {
        Self::new(
            status,
            native_code,
            compat_code,
            "invalid_request_error",
            message,
        )
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

    /// The compat body: `{"error":{…},"request_id",…extra}` (or `"id":"chatcmpl-…"` in
    /// stream frames of Chat Completions).
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
        let (id, request_id) = if chat_stream {
            (Some(format!("chatcmpl-{request_id}")), None)
        } else {
            (None, Some(request_id.to_owned()))
        };
        let body = ChatErrorBody {
            error,
            id,
            request_id,
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
        let (status, content_type, body) = match (dialect, stream) {
            (Dialect::Native, false) => {
                (self.status, JSON_CONTENT_TYPE, self.native_body(request_id))
            }
            (Dialect::Native, true) => {
                let http = match self.envelope {
                    Envelope::Ok => 200,
                    Envelope::Status => self.status,
                    Envelope::Auto if self.status == 400 => 200,
                    Envelope::Auto => self.status,
                };
                let mut frame = Vec::new();
                let body = self.native_body(request_id);
                Encoder::native().native_event(&mut frame, 1, "error", self.status, &body);
                (
                    http,
                    SSE_CONTENT_TYPE,
                    String::from_utf8(frame).unwrap_or_default(),
                )
            }
            (Dialect::Chat | Dialect::Responses, false) => (
                self.status,
                JSON_CONTENT_TYPE,
                self.compat_body(request_id, false),
            ),
            (Dialect::Chat | Dialect::Responses, true) => {
                let chat = dialect == Dialect::Chat;
                let mut frame = Vec::new();
                Encoder::compat().data(&mut frame, &self.compat_body(request_id, chat));
                (
                    self.status,
                    SSE_CONTENT_TYPE,
                    String::from_utf8(frame).unwrap_or_default(),
                )
            }
        };
        let mut headers = gateway_headers(request_id, content_type);
        if let Some(ra) = &self.retry_after {
            headers.insert(3, ("retry-after".to_owned(), ra.clone()));
        }
        RecordedResponse {
            status,
            headers,
            body: Body::Text(body),
        }
    }
}

/// The headers the gateway puts on every answer the mock generates, in the recorded order.
pub(crate) fn gateway_headers(request_id: &str, content_type: &str) -> Vec<(String, String)> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    vec![
        ("x-request-id".to_owned(), request_id.to_owned()),
        ("content-type".to_owned(), content_type.to_owned()),
        ("x-dashscope-call-gateway".to_owned(), "true".to_owned()),
        ("req-cost-time".to_owned(), "0".to_owned()),
        ("req-arrive-time".to_owned(), now.to_string()),
        ("resp-start-time".to_owned(), now.to_string()),
        ("x-envoy-upstream-service-time".to_owned(), "0".to_owned()),
        ("vary".to_owned(), "Accept-Encoding".to_owned()),
        ("server".to_owned(), "istio-envoy".to_owned()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use dashscope_protocol::error::ApiError;

    fn text(r: &RecordedResponse) -> String {
        String::from_utf8(r.body.to_bytes()).unwrap()
    }

    #[test]
    fn compat_shape() {
        let r = ErrorReply::invalid_api_key().render(Dialect::Chat, false, "rid");
        assert_eq!(r.status, 401);
        assert_eq!(
            text(&r),
            r#"{"error":{"code":"invalid_api_key","param":null,"message":"Incorrect API key provided. ","type":"invalid_request_error"},"request_id":"rid"}"#
        );
        assert_eq!(r.header("x-request-id"), Some("rid"));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("x-dashscope-call-gateway"), Some("true"));
    }

    #[test]
    fn native_shape_and_stream_envelopes() {
        let r = ErrorReply::invalid_api_key().render(Dialect::Native, false, "rid");
        assert_eq!(
            text(&r),
            r#"{"code":"InvalidApiKey","message":"Invalid API-key provided.","request_id":"rid"}"#
        );
        let r = ErrorReply::missing_model().render(Dialect::Native, true, "rid");
        assert_eq!(r.status, 200);
        assert!(text(&r).starts_with(
            "id:1\nevent:error\n:HTTP_STATUS/400\ndata:{\"code\":\"BadRequest.EmptyModel\""
        ));
        assert_eq!(r.header("content-type"), Some(SSE_CONTENT_TYPE));
        let mut e = ErrorReply::throttled();
        e.retry_after = Some("2".into());
        let r = e.render(Dialect::Native, true, "rid");
        assert_eq!(r.status, 429);
        assert_eq!(r.header("retry-after"), Some("2"));
        let e = ApiError::from_body(None, text(&r).as_bytes()).unwrap();
        assert_eq!(e.status, Some(429));
        assert_eq!(e.code.as_deref(), Some("Throttling.RateQuota"));
        assert_eq!(e.request_id.as_deref(), Some("rid"));
    }

    #[test]
    fn compat_stream_frames_parse() {
        let r = ErrorReply::for_status(503).render(Dialect::Chat, true, "abc");
        assert_eq!(r.status, 503);
        let e = ApiError::from_body(Some(503), text(&r).as_bytes()).unwrap();
        assert_eq!(e.request_id.as_deref(), Some("abc"));
        assert_eq!(e.code.as_deref(), Some("service_unavailable"));
        let r = ErrorReply::for_status(500)
            .with_extra("nearest", serde_json::json!(["a"]))
            .render(Dialect::Responses, true, "abc");
        let e = ApiError::from_body(Some(500), text(&r).as_bytes()).unwrap();
        assert_eq!(e.body["nearest"][0], "a");
    }
}
