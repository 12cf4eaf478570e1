//! The retry state machine: given the outcome of attempt `n`, retry after `d` or stop.

use std::time::Duration;

use tracing::Span;

use super::classify::{Failure, Outcome};
use crate::error::Error;
use crate::retry::{RetryPolicy, should_retry};

/// What the shell does next.
#[derive(Debug)]
pub(crate) enum Next<T> {
    /// Stop with this result.
    Done(Result<T, Error>),
    /// Sleep this long, then send the request again.
    Retry(Duration),
}

/// Counts attempts and decides after each one.
#[derive(Debug)]
pub(crate) struct Retrier {
    policy: RetryPolicy,
    attempts: u32,
}

/// Whether the client itself may send the request again after `error`.
///
/// * transport failures only when no byte of the request was sent (`!is_request_sent()`): the
///   server cannot have started (and billed) a generation;
/// * API errors by status and code ([`should_retry`]: 408, 409, 429, 5xx, `x-should-retry`;
///   never quota-exhausted codes);
/// * nothing else: not a request that could not be built, not an undecodable body, never a
///   stream error (a stream is only retried before its first chunk, and the shells only consult
///   this before that point).
fn client_may_retry(error: &Error, failure_headers: Option<&http::HeaderMap>) -> bool {
    match error {
        Error::Transport(e) => !e.is_request_sent(),
        Error::Api { status, code, .. } => should_retry(*status, code.as_deref(), failure_headers),
        _ => false,
    }
}

impl Retrier {
    /// A retrier for `policy`.
    pub(crate) fn new(policy: RetryPolicy) -> Self {
        Retrier {
            policy,
            attempts: 0,
        }
    }

    /// How many attempts were made so far.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Decides after one attempt; records the final `attempts` on `span`.
    pub(crate) fn decide<T>(&mut self, outcome: Outcome<T>, span: &Span) -> Next<T> {
        self.attempts += 1;
        let Failure { error, headers } = match outcome {
            Ok(v) => {
                span.record("attempts", self.attempts);
                return Next::Done(Ok(v));
            }
            Err(f) => f,
        };
        let retries_done = self.attempts - 1;
        if retries_done >= self.policy.max_retries || !client_may_retry(&error, headers.as_deref())
        {
            span.record("attempts", self.attempts);
            tracing::debug!(attempts = self.attempts, error = %error, "request failed");
            return Next::Done(Err(error));
        }
        match self.policy.delay(retries_done, headers.as_deref()) {
            Some(wait) => {
                tracing::info!(
                    attempt = self.attempts,
                    wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    error = %error,
                    "retrying"
                );
                Next::Retry(wait)
            }
            None => {
                span.record("attempts", self.attempts);
                tracing::debug!(
                    attempts = self.attempts,
                    "the server asked for a wait longer than the policy allows; giving up"
                );
                Next::Done(Err(error))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use dashscope_transport::{Phase, TransportError};
    use http::{HeaderMap, HeaderValue};

    use super::*;
    use crate::error::ApiDetails;

    fn api(status: u16, code: Option<&str>) -> Error {
        Error::Api {
            status,
            code: code.map(str::to_owned),
            message: String::new(),
            request_id: None,
            kind: None,
            details: Box::new(ApiDetails {
                param: None,
                body: serde_json::Value::Null,
                raw_body: None,
                retry_after: None,
            }),
        }
    }

    fn policy(max_retries: u32) -> RetryPolicy {
        RetryPolicy {
            max_retries,
            initial_backoff: Duration::from_millis(10),
            jitter: 0.0,
            ..RetryPolicy::default()
        }
    }

    fn fail(e: Error) -> Outcome<()> {
        Err(Failure::from(e))
    }

    #[test]
    fn retries_up_to_the_budget() {
        let span = Span::none();
        let mut r = Retrier::new(policy(2));
        assert!(
            matches!(r.decide(fail(api(500, None)), &span), Next::Retry(d) if d == Duration::from_millis(10))
        );
        assert!(
            matches!(r.decide(fail(api(503, None)), &span), Next::Retry(d) if d == Duration::from_millis(20))
        );
        assert!(matches!(
            r.decide(fail(api(500, None)), &span),
            Next::Done(Err(_))
        ));
        assert_eq!(r.attempts(), 3);
    }

    #[test]
    fn permanent_errors_stop_at_once() {
        let span = Span::none();
        for e in [
            api(400, None),
            api(401, Some("InvalidApiKey")),
            api(403, None),
            api(429, Some("Throttling.AllocationQuota")),
            Error::Transport(TransportError::timeout(Phase::Request)),
            Error::Transport(TransportError::timeout(Phase::Body)),
        ] {
            let mut r = Retrier::new(policy(5));
            assert!(matches!(r.decide(fail(e), &span), Next::Done(Err(_))));
            assert_eq!(r.attempts(), 1);
        }
    }

    #[test]
    fn unsent_transport_failures_are_retried() {
        let mut r = Retrier::new(policy(1));
        let e = Error::Transport(TransportError::timeout(Phase::Connect));
        assert!(matches!(r.decide(fail(e), &Span::none()), Next::Retry(_)));
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("1"));
        let mut r = Retrier::new(policy(2));
        let out: Outcome<()> = Err(Failure {
            error: api(429, Some("Throttling")),
            headers: Some(Box::new(h)),
        });
        assert!(
            matches!(r.decide(out, &Span::none()), Next::Retry(d) if d == Duration::from_secs(1))
        );

        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("3600"));
        let out: Outcome<()> = Err(Failure {
            error: api(429, Some("Throttling")),
            headers: Some(Box::new(h)),
        });
        assert!(matches!(r.decide(out, &Span::none()), Next::Done(Err(_))));
    }

    #[test]
    fn success_stops() {
        let mut r = Retrier::new(policy(2));
        assert!(matches!(r.decide(Ok(7), &Span::none()), Next::Done(Ok(7))));
    }
}
