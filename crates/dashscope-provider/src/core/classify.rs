//! Classifying responses: status + headers + body bytes → a typed value or an [`Error`].

use std::time::SystemTime;

use bytes::Bytes;
use dashscope_protocol::error::ApiError;
use dashscope_protocol::stream::excerpt;
use dashscope_transport::TransportError;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, StatusCode};

use crate::dialect::Decodable;
use crate::error::{ApiDetails, Error, Message};
use crate::reply::Reply;
use crate::retry::retry_after;

/// The largest non-stream success body collected: 64 MiB.
pub(crate) const SUCCESS_BODY_LIMIT: usize = 64 * 1024 * 1024;
/// The largest error body collected: 1 MiB (error bodies are small; a longer one is cut).
pub(crate) const ERROR_BODY_LIMIT: usize = 1024 * 1024;

/// A failed attempt: the error, and the response headers that may say when to retry.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) error: Error,
    /// Boxed: most failures have none, and `Outcome` stays small.
    pub(crate) headers: Option<Box<HeaderMap>>,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure {
            error,
            headers: None,
        }
    }
}

impl From<TransportError> for Failure {
    fn from(e: TransportError) -> Self {
        Failure::from(Error::Transport(e))
    }
}

/// The outcome of one attempt.
pub(crate) type Outcome<T> = Result<T, Failure>;

/// How many body bytes to collect for a response with `status`.
pub(crate) fn body_limit(status: StatusCode) -> usize {
    if status.is_success() {
        SUCCESS_BODY_LIMIT
    } else {
        ERROR_BODY_LIMIT
    }
}

/// The `x-request-id` header.
pub(crate) fn header_request_id(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-request-id")?.to_str().ok()
}

/// A non-stream response → the decoded body, or the error it reports.
///
/// * 2xx: the body parsed as `O`; a body that parses but reports an error (native top-level
///   `code`, a compat `error` object) is [`Error::Api`]; one that does not parse is
///   [`Error::Api`] if it is a recognised error shape, else [`Error::Decode`].
/// * anything else: [`Error::Api`], from the body in any error shape (JSON or SSE-framed), or
///   from the status and the raw body when the body is not recognised.
pub(crate) fn classify_unary<O: Decodable>(
    status: StatusCode,
    headers: HeaderMap,
    body: Result<Bytes, TransportError>,
) -> Outcome<Reply<O>> {
    if !status.is_success() {
        return Err(failure(status, headers, body.ok().as_deref()));
    }
    let bytes = body?;
    match dashscope_protocol::wire::from_json_slice::<O>(&bytes) {
        Ok(value) => match value.embedded_error(status.as_u16()) {
            Some(api) => Err(api_failure(api, status, headers)),
            None => Ok(Reply::new(value, status.as_u16(), headers)),
        },
        Err(e) => match ApiError::from_body(Some(status.as_u16()), &bytes) {
            Some(api) => Err(api_failure(api, status, headers)),
            None => Err(Failure::from(decode_error(
                status,
                &headers,
                &bytes,
                Box::new(e),
            ))),
        },
    }
}

/// What to do with the head of a stream response.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum StreamHead {
    /// Read the body as server-sent events.
    Events,
    /// Collect the body and classify it with [`stream_body_failure`]: an error status, or a
    /// JSON body where events were expected.
    Buffer,
}

/// Whether a stream response carries events (2xx, and not a JSON content type).
pub(crate) fn stream_head(status: StatusCode, headers: &HeaderMap) -> StreamHead {
    let json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("json"));
    if status.is_success() && !json {
        StreamHead::Events
    } else {
        StreamHead::Buffer
    }
}

/// The error for a stream response that was not an event stream ([`StreamHead::Buffer`]).
pub(crate) fn stream_body_failure(
    status: StatusCode,
    headers: HeaderMap,
    body: Result<Bytes, TransportError>,
) -> Failure {
    if !status.is_success() {
        return failure(status, headers, body.ok().as_deref());
    }
    let bytes = match body {
        Ok(b) => b,
        Err(e) => return Failure::from(e),
    };
    match ApiError::from_body(Some(status.as_u16()), &bytes) {
        Some(api) => api_failure(api, status, headers),
        None => Failure::from(decode_error(
            status,
            &headers,
            &bytes,
            Box::new(Message(
                "expected a server-sent event stream, got a JSON body".to_owned(),
            )),
        )),
    }
}

fn decode_error(
    status: StatusCode,
    headers: &HeaderMap,
    bytes: &[u8],
    source: crate::error::BoxError,
) -> Error {
    Error::Decode {
        status: status.as_u16(),
        request_id: header_request_id(headers).map(str::to_owned),
        excerpt: excerpt(&String::from_utf8_lossy(
            &bytes[..bytes
                .len()
                .min(dashscope_protocol::stream::EXCERPT_LIMIT + 4)],
        )),
        source,
    }
}

fn api_failure(api: ApiError, status: StatusCode, headers: HeaderMap) -> Failure {
    let wait = retry_after(&headers, SystemTime::now());
    let error = Error::from_api(api, status.as_u16(), header_request_id(&headers), wait);
    Failure {
        error,
        headers: Some(Box::new(headers)),
    }
}

/// An error status → [`Error::Api`], from the body in any recognised shape, else from the
/// status and the start of the body.
fn failure(status: StatusCode, headers: HeaderMap, body: Option<&[u8]>) -> Failure {
    if let Some(api) = body.and_then(|b| ApiError::from_body(Some(status.as_u16()), b)) {
        return api_failure(api, status, headers);
    }
    let raw = body
        .filter(|b| !b.is_empty())
        .map(|b| excerpt(&String::from_utf8_lossy(b)));
    let message = match &raw {
        Some(text) => text.trim().to_owned(),
        None => status
            .canonical_reason()
            .unwrap_or("error status")
            .to_owned(),
    };
    let wait = retry_after(&headers, SystemTime::now());
    let error = Error::Api {
        status: status.as_u16(),
        code: None,
        message,
        request_id: header_request_id(&headers).map(str::to_owned),
        kind: None,
        details: Box::new(ApiDetails {
            param: None,
            body: serde_json::Value::Null,
            raw_body: raw,
            retry_after: wait,
        }),
    };
    Failure {
        error,
        headers: Some(Box::new(headers)),
    }
}

#[cfg(test)]
mod tests {
    use dashscope_protocol::chat::ChatCompletion;
    use dashscope_protocol::native::GenerationResponse;
    use http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn err<O: Decodable + std::fmt::Debug>(status: u16, h: HeaderMap, body: &'static str) -> Error {
        classify_unary::<O>(
            StatusCode::from_u16(status).unwrap(),
            h,
            Ok(Bytes::from_static(body.as_bytes())),
        )
        .unwrap_err()
        .error
    }

    #[test]
    fn compat_error_body() {
        let e = err::<ChatCompletion>(
            401,
            headers(&[("x-request-id", "hdr")]),
            r#"{"error":{"code":"invalid_api_key","param":null,"message":"Incorrect API key provided. ","type":"invalid_request_error"},"id":"chatcmpl-abc","request_id":"abc"}"#,
        );
        let Error::Api {
            status,
            code,
            message,
            request_id,
            kind,
            ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(*status, 401);
        assert_eq!(code.as_deref(), Some("invalid_api_key"));
        assert_eq!(message, "Incorrect API key provided. ");
        assert_eq!(request_id.as_deref(), Some("abc"));
        assert_eq!(kind.as_deref(), Some("invalid_request_error"));
    }

    #[test]
    fn native_error_under_200() {
        let e = err::<GenerationResponse>(
            200,
            HeaderMap::new(),
            r#"{"code":"InvalidParameter","message":"bad","request_id":"r1"}"#,
        );
        assert_eq!(e.status(), Some(200));
        assert_eq!(e.code(), Some("InvalidParameter"));
        assert_eq!(e.request_id(), Some("r1"));
    }

    #[test]
    fn failed_response_under_200() {
        let e = err::<dashscope_protocol::responses::Response>(
            200,
            HeaderMap::new(),
            r#"{"id":"resp_1","object":"response","status":"failed","error":{"code":"server_error","message":"boom"}}"#,
        );
        assert_eq!(e.code(), Some("server_error"));
        assert_eq!(e.message(), Some("boom"));
        let ok = classify_unary::<dashscope_protocol::responses::Response>(
            StatusCode::OK,
            HeaderMap::new(),
            Ok(Bytes::from_static(
                br#"{"id":"resp_2","object":"response","status":"completed","error":null,"output":[]}"#,
            )),
        );
        assert!(ok.is_ok());
    }

    #[test]
    fn compat_error_under_200_does_not_fit_the_type() {
        let e = err::<ChatCompletion>(
            200,
            HeaderMap::new(),
            r#"{"error":{"code":"x","message":"m"},"request_id":"q"}"#,
        );
        assert_eq!(e.code(), Some("x"));
        assert_eq!(e.request_id(), Some("q"));
    }

    #[test]
    fn sse_framed_error_under_400() {
        let e = err::<GenerationResponse>(
            400,
            headers(&[("content-type", "text/event-stream")]),
            "id:1\nevent:error\n:HTTP_STATUS/400\ndata:{\"code\":\"InvalidParameter\",\"message\":\"m\",\"request_id\":\"r2\"}\n\n",
        );
        assert_eq!(e.status(), Some(400));
        assert_eq!(e.code(), Some("InvalidParameter"));
        assert_eq!(e.request_id(), Some("r2"));
    }

    #[test]
    fn unknown_error_body_keeps_status_and_text() {
        let e = err::<ChatCompletion>(
            502,
            headers(&[("x-request-id", "h1"), ("retry-after", "2")]),
            "<html>bad gateway</html>",
        );
        assert_eq!(e.status(), Some(502));
        assert_eq!(e.message(), Some("<html>bad gateway</html>"));
        assert_eq!(e.request_id(), Some("h1"));
        assert_eq!(e.retry_after(), Some(std::time::Duration::from_secs(2)));
        assert!(e.is_retryable());
    }

    #[test]
    fn undecodable_success_is_decode_error() {
        let e = err::<ChatCompletion>(200, headers(&[("x-request-id", "h2")]), "not json");
        let Error::Decode {
            status,
            excerpt,
            request_id,
            ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!((*status, excerpt.as_str()), (200, "not json"));
        assert_eq!(request_id.as_deref(), Some("h2"));
    }

    #[test]
    fn success_decodes() {
        let r = classify_unary::<GenerationResponse>(
            StatusCode::OK,
            headers(&[("x-request-id", "r")]),
            Ok(Bytes::from_static(
                br#"{"output":{"text":"hi","finish_reason":"stop"},"request_id":"r"}"#,
            )),
        )
        .unwrap();
        assert_eq!(r.text().as_deref(), Some("hi"));
        assert_eq!(r.request_id(), Some("r"));
    }

    #[test]
    fn stream_heads() {
        let sse = headers(&[("content-type", "text/event-stream;charset=UTF-8")]);
        let json = headers(&[("content-type", "application/json")]);
        assert_eq!(stream_head(StatusCode::OK, &sse), StreamHead::Events);
        assert_eq!(
            stream_head(StatusCode::OK, &HeaderMap::new()),
            StreamHead::Events
        );
        assert_eq!(stream_head(StatusCode::OK, &json), StreamHead::Buffer);
        assert_eq!(
            stream_head(StatusCode::BAD_REQUEST, &sse),
            StreamHead::Buffer
        );
        let f = stream_body_failure(
            StatusCode::OK,
            json,
            Ok(Bytes::from_static(
                br#"{"code":"Throttling","message":"m"}"#,
            )),
        );
        assert_eq!(f.error.code(), Some("Throttling"));
    }
}
