//! The service's error reports, in every shape the three dialects use, normalised.
//!
//! | shape | where |
//! |---|---|
//! | `{"error":{"code","message","type","param"},"id","request_id"}` | compat (Chat Completions, Responses), non-stream bodies and `data:` frames |
//! | `{"code","message","request_id"}` (also `msg`) | native bodies and `event:error` frames; HTTP 200 JSON with a top-level `code` |
//! | `{"type":"error","code","message","param","sequence_number"}` | Responses `error` stream event |
//! | `{"type":"response.failed","response":{"error":{"code","message"}}}` | Responses `response.failed` stream event |
//! | any of the above behind `data:` lines | SSE-framed error bodies under a non-2xx status |

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An error reported by the service, normalised across dialects.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    /// The HTTP status, or the status of an SSE frame's `:HTTP_STATUS/<code>` comment.
    pub status: Option<u16>,
    /// The machine-readable code (`InvalidApiKey`, `invalid_parameter_error`, …).
    pub code: Option<String>,
    /// The human-readable message.
    pub message: String,
    /// The compat error `type` (`invalid_request_error`, …).
    pub kind: Option<String>,
    /// The compat error `param`.
    pub param: Option<String>,
    /// The request id: native `request_id`, compat `request_id` or the suffix of `chatcmpl-<id>`.
    pub request_id: Option<String>,
    /// The whole error object as received.
    pub body: Value,
}

fn str_of(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

impl ApiError {
    /// An error with no compat `type` or `param`.
    pub fn new(
        status: Option<u16>,
        code: Option<String>,
        message: impl Into<String>,
        request_id: Option<String>,
        body: Value,
    ) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            kind: None,
            param: None,
            request_id,
            body,
        }
    }

    /// Recognises an error report in a parsed JSON value; `None` when it is not one.
    pub fn from_json(status: Option<u16>, v: &Value) -> Option<Self> {
        let obj = v.as_object()?;
        let top_request_id = str_of(v, "request_id").or_else(|| {
            str_of(v, "id").and_then(|id| id.strip_prefix("chatcmpl-").map(str::to_owned))
        });
        // Compat: {"error": {...}}.
        if let Some(err) = obj.get("error").filter(|e| e.is_object()) {
            // A Responses object with a null/absent error is not an error; a non-null one is.
            return Some(ApiError {
                status,
                code: str_of(err, "code"),
                message: str_of(err, "message").unwrap_or_default(),
                kind: str_of(err, "type"),
                param: str_of(err, "param"),
                request_id: top_request_id,
                body: v.clone(),
            });
        }
        match obj.get("type").and_then(Value::as_str) {
            // Responses `error` event.
            Some("error") => {
                let message = str_of(v, "message").unwrap_or_default();
                return Some(ApiError {
                    param: str_of(v, "param"),
                    ..Self::new(
                        status,
                        str_of(v, "code"),
                        message,
                        top_request_id,
                        v.clone(),
                    )
                });
            }
            // Responses `response.failed` event.
            Some("response.failed") => {
                let resp = obj.get("response");
                let err = resp.and_then(|r| r.get("error")).filter(|e| e.is_object());
                let message = err.and_then(|e| str_of(e, "message"));
                return Some(Self::new(
                    status,
                    err.and_then(|e| str_of(e, "code")),
                    message.unwrap_or_else(|| "response failed".to_owned()),
                    resp.and_then(|r| str_of(r, "id")).or(top_request_id),
                    v.clone(),
                ));
            }
            _ => {}
        }
        // Native: {"code": "...", "message": "...", "request_id": "..."} with a truthy code.
        let code = match obj.get("code") {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }?;
        let message = str_of(v, "message").or_else(|| str_of(v, "msg"));
        let message = message.unwrap_or_default();
        Some(Self::new(
            status,
            Some(code),
            message,
            top_request_id,
            v.clone(),
        ))
    }

    /// Recognises an error report in a response body: JSON, or SSE-framed (the first `data:`
    /// line holding an error, with its `:HTTP_STATUS/<code>` comment if `status` is `None`).
    ///
    /// Returns `None` when the body is neither; the caller then reports the raw body.
    pub fn from_body(status: Option<u16>, body: &[u8]) -> Option<Self> {
        let body = body
            .strip_prefix(b"\xEF\xBB\xBF".as_slice())
            .unwrap_or(body);
        if let Ok(v) = serde_json::from_slice::<Value>(body.trim_ascii()) {
            return Self::from_json(status, &v);
        }
        let mut sse = crate::sse::Decoder::with_mode(crate::sse::Mode::DataLineIsEvent);
        sse.feed(body);
        sse.finish();
        while let Some(event) = sse.next_event() {
            let Ok(event) = event else { continue };
            let v = serde_json::from_str::<Value>(event.data.trim()).ok();
            if let Some(e) = v.and_then(|v| Self::from_json(status.or(event.http_status), &v)) {
                return Some(e);
            }
        }
        None
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(s) = self.status {
            write!(f, "HTTP {s}: ")?;
        }
        if let Some(c) = &self.code {
            write!(f, "{c}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}
