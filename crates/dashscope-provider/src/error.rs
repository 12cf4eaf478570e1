//! The error type, grouped by how far the request got.
//!
//! | variant | how far it got | retried by the client |
//! |---|---|---|
//! | [`Error::InvalidRequest`] | nothing was sent (bad configuration, a body that cannot be encoded) | never |
//! | [`Error::Transport`] | no response arrived (connect failure, timeout, connection cut) | only when no byte was sent |
//! | [`Error::Api`] | the service answered with an error (any of its error shapes) | 408, 409, 429, 5xx; never quota codes |
//! | [`Error::Decode`] | a 2xx body that did not parse | never |
//! | [`Error::Stream`] | a stream broke after it started; carries what arrived | never |
//!
//! No variant ever holds the API key or the request's headers, and what the service sent back
//! (headers, bodies, events, partial answers) is scrubbed of the key before any error is built
//! from it.

use std::fmt;
use std::time::Duration;

use dashscope_protocol::error::ApiError;
use dashscope_transport::TransportError;

use crate::config::ConfigError;
use crate::dialect::PartialResponse;

/// A boxed error, the cause of some variants.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong with a request, grouped by how far it got.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Nothing was sent: the configuration is unusable or the request could not be built.
    #[error("invalid request: {message}")]
    InvalidRequest {
        /// What is wrong.
        message: String,
        /// The underlying cause, if any.
        #[source]
        source: Option<BoxError>,
    },
    /// No response arrived: the connection failed, a timeout fired, or the connection broke
    /// before the response head arrived (or, for a non-stream call, before the whole body;
    /// for a stream, before its first chunk).
    #[error(transparent)]
    Transport(TransportError),
    /// The service reported an error: an HTTP error status, an error body under HTTP 200, or an
    /// error event before the first chunk of a stream.
    #[error("{}", ApiDisplay { status: *status, code: code.as_deref(), message, request_id: request_id.as_deref() })]
    Api {
        /// The HTTP status (or the status of the SSE error frame, when it has one).
        status: u16,
        /// The machine-readable code (`InvalidApiKey`, `invalid_parameter_error`, `Throttling`, …).
        code: Option<String>,
        /// The human-readable message.
        message: String,
        /// The request id (from the body, else from the `x-request-id` header).
        request_id: Option<String>,
        /// The compat error `type` (`invalid_request_error`, …), if any.
        kind: Option<String>,
        /// The rest: the error body as received, `param`, the server's `Retry-After`.
        details: Box<ApiDetails>,
    },
    /// A 2xx response whose body did not parse as the expected type.
    #[error("HTTP {status}: the response body could not be decoded")]
    Decode {
        /// The HTTP status.
        status: u16,
        /// The `x-request-id` header, if any.
        request_id: Option<String>,
        /// The start of the body (at most 512 bytes).
        excerpt: String,
        /// Why it did not parse.
        #[source]
        source: BoxError,
    },
    /// A stream broke after it started: bad framing, an undecodable event, an error event, an
    /// idle timeout, a cut connection, or an end before the terminal event.
    #[error("{}", StreamDisplay { kind: *kind, details })]
    Stream {
        /// How it broke.
        kind: StreamErrorKind,
        /// What arrived before it broke, folded by the dialect's accumulator.
        partial: Box<PartialResponse>,
        /// The status, request id and (for an error event) the service's error.
        details: Box<StreamDetails>,
        /// The cause (the transport error, the SSE or JSON error), if any.
        #[source]
        source: Option<BoxError>,
    },
}

/// The less-used parts of [`Error::Api`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ApiDetails {
    /// The compat error `param`, if any.
    pub param: Option<String>,
    /// The error object as received (`Value::Null` when the body was not recognised; see
    /// [`ApiDetails::raw_body`]).
    pub body: serde_json::Value,
    /// The start of the body when it was not a recognised error shape (at most 512 bytes).
    pub raw_body: Option<String>,
    /// The wait the server asked for (`retry-after-ms` / `Retry-After`), if any.
    pub retry_after: Option<Duration>,
}

/// The less-used parts of [`Error::Stream`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct StreamDetails {
    /// The HTTP status of the stream's response.
    pub http_status: u16,
    /// The `x-request-id` header (or the error event's request id).
    pub request_id: Option<String>,
    /// The service's error, for [`StreamErrorKind::ErrorEvent`].
    pub api: Option<ApiError>,
    /// How many chunks arrived before the stream broke.
    pub chunks: u64,
}

/// How a stream broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StreamErrorKind {
    /// The bytes were not valid server-sent events (a line not UTF-8, a line longer than 16 MiB,
    /// an event whose data grew past 16 MiB: the SSE decoder's limits, which bound the memory a
    /// stream can take).
    Framing,
    /// An event's data did not parse as the dialect's chunk.
    Decode,
    /// The service sent an error event mid-stream (native `event:error`, compat
    /// `data: {"error":…}`, Responses `error` / `response.failed`).
    ErrorEvent,
    /// No bytes arrived within the read (idle) timeout.
    IdleTimeout,
    /// The connection broke mid-stream.
    Transport,
    /// The body ended before the dialect's terminal event (`[DONE]`, a final `finish_reason`,
    /// `response.completed`).
    UnexpectedEnd,
}

impl fmt::Display for StreamErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StreamErrorKind::Framing => "the stream is not valid server-sent events",
            StreamErrorKind::Decode => "a stream event could not be decoded",
            StreamErrorKind::ErrorEvent => "the service sent an error event",
            StreamErrorKind::IdleTimeout => "the stream stalled past the read timeout",
            StreamErrorKind::Transport => "the connection broke mid-stream",
            StreamErrorKind::UnexpectedEnd => "the stream ended before its terminal event",
        })
    }
}

struct ApiDisplay<'a> {
    status: u16,
    code: Option<&'a str>,
    message: &'a str,
    request_id: Option<&'a str>,
}

impl fmt::Display for ApiDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(code) = self.code {
            write!(f, " {code}")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let Some(id) = self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

struct StreamDisplay<'a> {
    kind: StreamErrorKind,
    details: &'a StreamDetails,
}

impl fmt::Display for StreamDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(api) = &self.details.api {
            // The service's error is not a `source` (it is data, not an error type): show it here.
            write!(f, ": {api}")?;
        }
        write!(f, " after {} chunk(s)", self.details.chunks)
    }
}

/// A plain message used as an error cause.
#[derive(Debug)]
pub(crate) struct Message(pub(crate) String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Message {}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        // The message is the configuration error's own text (it names the variable to set); it
        // is not repeated as a source.
        Error::InvalidRequest {
            message: e.to_string(),
            source: None,
        }
    }
}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Self {
        Error::Transport(e)
    }
}

impl Error {
    /// An [`Error::Api`] from the service's normalised error.
    pub(crate) fn from_api(
        api: ApiError,
        http_status: u16,
        header_request_id: Option<&str>,
        retry_after: Option<Duration>,
    ) -> Self {
        Error::Api {
            status: api.status.unwrap_or(http_status),
            code: api.code,
            message: api.message,
            request_id: api
                .request_id
                .or_else(|| header_request_id.map(str::to_owned)),
            kind: api.kind,
            details: Box::new(ApiDetails {
                param: api.param,
                body: api.body,
                raw_body: None,
                retry_after,
            }),
        }
    }

    /// The HTTP status: of an error response, of an undecodable body, or of the stream (an
    /// error event's own status when it has one).
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } | Error::Decode { status, .. } => Some(*status),
            Error::Stream { details, .. } => Some(
                details
                    .api
                    .as_ref()
                    .and_then(|a| a.status)
                    .unwrap_or(details.http_status),
            ),
            Error::InvalidRequest { .. } | Error::Transport(_) => None,
        }
    }

    /// The service's error code, if it sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api { code, .. } => code.as_deref(),
            Error::Stream { details, .. } => details.api.as_ref()?.code.as_deref(),
            _ => None,
        }
    }

    /// The service's error message, if it sent one.
    pub fn message(&self) -> Option<&str> {
        match self {
            Error::Api { message, .. } => Some(message),
            Error::Stream { details, .. } => Some(&details.api.as_ref()?.message),
            _ => None,
        }
    }

    /// The request id: from the error body, else the `x-request-id` header.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api { request_id, .. } | Error::Decode { request_id, .. } => {
                request_id.as_deref()
            }
            Error::Stream { details, .. } => details
                .api
                .as_ref()
                .and_then(|a| a.request_id.as_deref())
                .or(details.request_id.as_deref()),
            _ => None,
        }
    }

    /// Whether trying the same request again may succeed: a transport failure before any byte
    /// was sent; an [`Error::Api`] with 408, 409, 429 or 5xx (not a quota-exhausted code); a
    /// stream that broke on the network or with such an error event.
    ///
    /// The client retries the first two itself (up to the configured budget); it never retries a
    /// stream after its first chunk reached the caller, so a `true` here on [`Error::Stream`] is
    /// the caller's call.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport(e) => !e.is_request_sent(),
            Error::Api { status, code, .. } => {
                crate::retry::should_retry(*status, code.as_deref(), None)
            }
            Error::Stream { kind, details, .. } => match kind {
                StreamErrorKind::IdleTimeout | StreamErrorKind::Transport => true,
                StreamErrorKind::ErrorEvent => details.api.as_ref().is_some_and(|a| {
                    a.status
                        .is_some_and(|s| crate::retry::should_retry(s, a.code.as_deref(), None))
                }),
                _ => false,
            },
            Error::InvalidRequest { .. } | Error::Decode { .. } => false,
        }
    }

    /// Whether a timer expired (connect, read, total, or a stream's idle timeout).
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Transport(e) => e.is_timeout(),
            Error::Stream { kind, .. } => *kind == StreamErrorKind::IdleTimeout,
            _ => false,
        }
    }

    /// What a broken stream delivered before it broke.
    pub fn partial(&self) -> Option<&PartialResponse> {
        match self {
            Error::Stream { partial, .. } => Some(partial),
            _ => None,
        }
    }

    /// The service's wait request (`retry-after-ms` / `Retry-After`) on an [`Error::Api`].
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api { details, .. } => details.retry_after,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_stays_small_and_thread_safe() {
        fn assert_impls<T: Send + Sync + 'static + std::error::Error>() {}
        assert_impls::<Error>();
        assert!(
            std::mem::size_of::<Error>() <= 128,
            "{}",
            std::mem::size_of::<Error>()
        );
    }

    #[test]
    fn api_display_and_helpers() {
        let api = ApiError {
            status: Some(429),
            code: Some("Throttling.RateQuota".into()),
            message: "Requests rate limit exceeded".into(),
            kind: None,
            param: None,
            request_id: None,
            body: serde_json::Value::Null,
        };
        let e = Error::from_api(api, 200, Some("rid-1"), None);
        assert_eq!(
            e.to_string(),
            "HTTP 429 Throttling.RateQuota: Requests rate limit exceeded (request id rid-1)"
        );
        assert_eq!(e.status(), Some(429));
        assert_eq!(e.code(), Some("Throttling.RateQuota"));
        assert_eq!(e.request_id(), Some("rid-1"));
        assert!(e.is_retryable());

        let quota = Error::from_api(
            ApiError {
                status: Some(429),
                code: Some("Throttling.AllocationQuota".into()),
                message: String::new(),
                kind: None,
                param: None,
                request_id: None,
                body: serde_json::Value::Null,
            },
            429,
            None,
            None,
        );
        assert!(!quota.is_retryable());
        assert_eq!(quota.to_string(), "HTTP 429 Throttling.AllocationQuota");
    }

    #[test]
    fn config_error_names_the_variable() {
        let e = Error::from(ConfigError::MissingApiKey);
        assert!(e.to_string().contains("DASHSCOPE_API_KEY"), "{e}");
        assert!(matches!(e, Error::InvalidRequest { .. }));
        assert!(!e.is_retryable());
    }
}
