//! When to retry, and how long to wait.
//!
//! Retried: HTTP 408, 409, 429 and 5xx, a response with `x-should-retry: true`, and transport
//! failures before any response arrived. Never retried: 400, 401, 403 (and every other 4xx),
//! quota-exhausted codes (they do not heal by waiting), `x-should-retry: false`, and a stream
//! after its first event reached the caller. The wait is the server's `retry-after-ms` or
//! `Retry-After` (seconds or an HTTP date) when given, capped at [`RetryPolicy::max_retry_after`];
//! otherwise exponential backoff with jitter ([protocol notes §1.6](dashscope_protocol::protocol_notes#16-timeouts-retries)).

use std::time::{Duration, SystemTime};

use http::HeaderMap;

/// How many times to retry, and how long to wait in between.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (default 2, as both official SDKs).
    pub max_retries: u32,
    /// The first backoff (default 500 ms); doubled on every retry.
    pub initial_backoff: Duration,
    /// The longest computed backoff (default 8 s).
    pub max_backoff: Duration,
    /// Extra random wait, as a fraction of the backoff (default 0.25).
    pub jitter: f64,
    /// The longest server-requested wait honoured (default 60 s); a longer `Retry-After` gives up
    /// at once instead of sleeping.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 2,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            jitter: 0.25,
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// The computed backoff before retry number `retry` (0-based), jitter included.
    pub fn backoff(&self, retry: u32) -> Duration {
        let base = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(retry.min(30)))
            .min(self.max_backoff);
        let jitter = if self.jitter > 0.0 {
            base.mul_f64(self.jitter * fastrand::f64())
        } else {
            Duration::ZERO
        };
        base + jitter
    }

    /// The wait before retry number `retry`, given the failed response's headers (if any).
    ///
    /// Returns `None` when the server asks for a wait longer than
    /// [`RetryPolicy::max_retry_after`]: the caller should give up rather than sleep.
    pub fn delay(&self, retry: u32, headers: Option<&HeaderMap>) -> Option<Duration> {
        match headers.and_then(|h| retry_after(h, SystemTime::now())) {
            Some(d) if d > self.max_retry_after => None,
            Some(d) => Some(d),
            None => Some(self.backoff(retry)),
        }
    }
}

/// The server-requested wait: `retry-after-ms` (milliseconds), else `Retry-After` as seconds
/// (integer or decimal) or as an HTTP date relative to `now`.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if let Some(ms) = header_str(headers, "retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        if ms.is_finite() && ms >= 0.0 {
            return Some(Duration::from_secs_f64(ms / 1000.0));
        }
    }
    let v = header_str(headers, "retry-after")?;
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}

/// Whether an HTTP status is worth retrying (408, 409, 429, 5xx).
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 409 | 429) || (500..=599).contains(&status)
}

/// Error codes that mean "out of quota or money": waiting does not help, so they are permanent
/// even under 429.
pub const PERMANENT_CODES: &[&str] = &[
    "Throttling.AllocationQuota",
    "AllocationQuota.FreeTierOnly",
    "insufficient_quota",
    "Arrearage",
    "PrepaidBillOverdue",
    "PostpaidBillOverdue",
    "CommodityNotPurchased",
    "AccessDenied.Unpurchased",
];

/// Whether a failed response should be retried: its status, the service's error code, and the
/// `x-should-retry` header (which overrides the status when present).
pub fn should_retry(status: u16, code: Option<&str>, headers: Option<&HeaderMap>) -> bool {
    if let Some(code) = code {
        if PERMANENT_CODES.iter().any(|c| c.eq_ignore_ascii_case(code)) {
            return false;
        }
    }
    match headers.and_then(|h| header_str(h, "x-should-retry")) {
        Some("true") => return true,
        Some("false") => return false,
        _ => {}
    }
    is_retryable_status(status)
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn statuses() {
        for s in [408, 409, 429, 500, 502, 503, 504] {
            assert!(should_retry(s, None, None), "{s}");
        }
        for s in [400, 401, 403, 404, 413, 422] {
            assert!(!should_retry(s, None, None), "{s}");
        }
    }

    #[test]
    fn quota_codes_are_permanent() {
        assert!(should_retry(429, Some("Throttling.RateQuota"), None));
        assert!(!should_retry(429, Some("Throttling.AllocationQuota"), None));
        assert!(!should_retry(429, Some("insufficient_quota"), None));
    }

    #[test]
    fn should_retry_header_overrides() {
        assert!(should_retry(
            400,
            None,
            Some(&headers(&[("x-should-retry", "true")]))
        ));
        assert!(!should_retry(
            503,
            None,
            Some(&headers(&[("x-should-retry", "false")]))
        ));
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            retry_after(&headers(&[("retry-after", "1")]), now),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "0.5")]), now),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            retry_after(
                &headers(&[("retry-after-ms", "250"), ("retry-after", "9")]),
                now
            ),
            Some(Duration::from_millis(250))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(3));
        assert_eq!(
            retry_after(&headers(&[("retry-after", &date)]), now),
            Some(Duration::from_secs(3))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(3));
        assert_eq!(
            retry_after(&headers(&[("retry-after", &past)]), now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "-4")]), now), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            jitter: 0.0,
            ..RetryPolicy::default()
        };
        assert_eq!(p.backoff(0), Duration::from_millis(500));
        assert_eq!(p.backoff(1), Duration::from_secs(1));
        assert_eq!(p.backoff(10), Duration::from_secs(8));
        assert_eq!(p.backoff(u32::MAX), Duration::from_secs(8));
        let j = RetryPolicy::default();
        for _ in 0..100 {
            let d = j.backoff(0);
            assert!(
                d >= Duration::from_millis(500) && d <= Duration::from_millis(625),
                "{d:?}"
            );
        }
    }

    #[test]
    fn long_retry_after_gives_up() {
        let p = RetryPolicy::default();
        assert_eq!(
            p.delay(0, Some(&headers(&[("retry-after", "1")]))),
            Some(Duration::from_secs(1))
        );
        assert_eq!(p.delay(0, Some(&headers(&[("retry-after", "3600")]))), None);
    }
}
