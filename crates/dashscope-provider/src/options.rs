//! Options for one call, over the client-wide [`Config`](crate::Config).

use std::fmt;
use std::time::Duration;

use dashscope_protocol::dialect::{Dialect, Endpoint};
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::config::{Config, is_own_header};
use crate::error::Error;
use crate::retry::RetryPolicy;

/// Options for the calls of one group: extra headers, the total timeout, the retry policy and
/// the endpoint, over the client-wide [`Config`]. Every group takes them the same way,
/// `with_options`, and uses them for each call made through it:
///
/// ```no_run
/// # #[cfg(feature = "reqwest")]
/// # async fn demo(client: dashscope_provider::Client) -> Result<(), dashscope_provider::Error> {
/// use std::time::Duration;
///
/// use dashscope_provider::RequestOptions;
/// use dashscope_provider::protocol::chat::{ChatRequest, Message};
///
/// let options = RequestOptions::new()
///     .header("x-trace-id", "t-42")
///     .total_timeout(Some(Duration::from_secs(20)))
///     .max_retries(0);
/// let req = ChatRequest::new("qwen-plus", vec![Message::user("Hi")]);
/// let reply = client.chat().with_options(options).create(req).await?;
/// # Ok(()) }
/// ```
///
/// What each request gets:
///
/// | what | where it comes from |
/// |---|---|
/// | headers | the configuration's (its default headers, workspace header and `User-Agent`); then these, a name set here replacing the configuration's value; then the client's own `Authorization`, `Content-Type`, `Accept` and `X-DashScope-SSE`. Those four cannot be set here: a call with one fails with [`Error::InvalidRequest`] before anything is sent (the key is never replaced silently) |
/// | total timeout | this one when set (`None` turns it off for these calls), else [`Timeouts::total`](crate::Timeouts::total) |
/// | retries | [`retry`](Self::retry) when set, else the configuration's policy; [`max_retries`](Self::max_retries) then replaces its count |
/// | endpoint | the one set here for the request's dialect, else the group's default |
///
/// The connect and idle timeouts belong to the transport, which every call shares: they stay
/// the configuration's.
#[derive(Clone, Default)]
pub struct RequestOptions {
    headers: HeaderMap,
    /// Why a header given to [`header`](Self::header) cannot be sent (the first one): the call
    /// reports it.
    refused: Option<String>,
    total_timeout: Option<Option<Duration>>,
    retry: Option<RetryPolicy>,
    max_retries: Option<u32>,
    /// At most one per dialect.
    endpoints: Vec<Endpoint>,
}

impl fmt::Debug for RequestOptions {
    /// Header names only: a value may be a credential.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestOptions")
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("total_timeout", &self.total_timeout)
            .field("retry", &self.retry)
            .field("max_retries", &self.max_retries)
            .field("endpoints", &self.endpoints)
            .finish()
    }
}

impl RequestOptions {
    /// No options: every call as the configuration says.
    pub fn new() -> Self {
        RequestOptions::default()
    }

    /// Sends `name: value` with each call, replacing the configuration's value of that name.
    /// A name or value HTTP cannot carry, or one of the client's own headers (see the table
    /// above), makes the calls fail with [`Error::InvalidRequest`], naming the header (not its
    /// value), before anything is sent.
    #[must_use]
    pub fn header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        let name = name.as_ref();
        let parsed = HeaderName::try_from(name)
            .ok()
            .zip(HeaderValue::try_from(value.as_ref()).ok());
        match parsed {
            Some((n, _)) if is_own_header(&n) => self.refuse(format!(
                "the {n} header is set by the client and cannot be given in RequestOptions"
            )),
            Some((n, v)) => {
                self.headers.insert(n, v);
            }
            None => self.refuse(format!(
                "the header {name:?} given in RequestOptions is not a valid HTTP header"
            )),
        }
        self
    }

    /// The deadline of each attempt (see [`Timeouts::total`](crate::Timeouts::total)) for these
    /// calls; `None` gives them none.
    #[must_use]
    pub fn total_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.total_timeout = Some(timeout);
        self
    }

    /// The retry policy of these calls.
    #[must_use]
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// The number of retries after the first attempt (the rest of the policy unchanged).
    #[must_use]
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = Some(n);
        self
    }

    /// Sends requests of `endpoint`'s dialect there instead of to the group's default (the
    /// current Responses path; the native endpoint chosen from the content, multimodal when a
    /// message holds an image, audio or video item). One endpoint per dialect: the last one
    /// set. It matters to the group of that dialect, and to a
    /// [`conversation`](crate::Client::conversation) in that dialect.
    ///
    /// ```
    /// use dashscope_provider::RequestOptions;
    /// use dashscope_provider::protocol::dialect::Endpoint;
    ///
    /// // The deprecated Responses path, and multimodal generation for text-only requests too.
    /// let options = RequestOptions::new()
    ///     .endpoint(Endpoint::ResponsesLegacy)
    ///     .endpoint(Endpoint::NativeMultimodal);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn endpoint(mut self, endpoint: Endpoint) -> Self {
        self.endpoints.retain(|e| e.dialect() != endpoint.dialect());
        self.endpoints.push(endpoint);
        self
    }

    fn refuse(&mut self, why: String) {
        self.refused.get_or_insert(why);
    }

    /// The headers to send over the configuration's, once checked.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] for a header that cannot be sent.
    pub(crate) fn headers(&self) -> Result<&HeaderMap, Error> {
        match &self.refused {
            Some(why) => Err(Error::InvalidRequest {
                message: why.clone(),
                source: None,
            }),
            None => Ok(&self.headers),
        }
    }

    /// The endpoint chosen for `dialect`, if any.
    pub(crate) fn endpoint_for(&self, dialect: Dialect) -> Option<Endpoint> {
        self.endpoints
            .iter()
            .find(|e| e.dialect() == dialect)
            .copied()
    }

    /// The retry policy of a call.
    pub(crate) fn retry_policy(&self, config: &Config) -> RetryPolicy {
        let mut policy = self.retry.as_ref().unwrap_or(config.retry()).clone();
        if let Some(n) = self.max_retries {
            policy.max_retries = n;
        }
        policy
    }

    /// The total timeout of a call's attempts.
    pub(crate) fn total_timeout_of(&self, config: &Config) -> Option<Duration> {
        self.total_timeout.unwrap_or(config.timeouts().total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_and_invalid_headers_are_refused_by_name_only() {
        for (name, value) in [
            ("Authorization", "Bearer sk-other-1234"),
            ("content-type", "text/plain"),
            ("accept", "*/*"),
            ("X-DashScope-SSE", "enable"),
            ("bad name", "sk-other-1234"),
            ("x-ok", "sk-other-1234\n"),
        ] {
            let o = RequestOptions::new()
                .header("x-fine", "1")
                .header(name, value);
            let Err(e) = o.headers() else {
                panic!("{name} accepted")
            };
            let shown = format!("{e} {e:?} {o:?}");
            assert!(!shown.contains("sk-other-1234"), "{shown}");
            assert!(matches!(e, Error::InvalidRequest { .. }));
        }
        let o = RequestOptions::new().header("x-a", "1").header("X-A", "2");
        assert_eq!(o.headers().unwrap()["x-a"], "2", "the last value wins");
        assert!(!format!("{o:?}").contains('2'), "no values in Debug");
    }

    #[test]
    fn one_endpoint_per_dialect_and_the_policy_over_the_config() {
        let o = RequestOptions::new()
            .endpoint(Endpoint::ResponsesLegacy)
            .endpoint(Endpoint::NativeText)
            .endpoint(Endpoint::Responses);
        assert_eq!(
            o.endpoint_for(Dialect::Responses),
            Some(Endpoint::Responses)
        );
        assert_eq!(o.endpoint_for(Dialect::Native), Some(Endpoint::NativeText));
        assert_eq!(o.endpoint_for(Dialect::Chat), None);

        let config = Config::builder()
            .api_key("k")
            .max_retries(5)
            .total_timeout(Some(Duration::from_secs(9)))
            .build()
            .unwrap();
        let plain = RequestOptions::new();
        assert_eq!(plain.retry_policy(&config).max_retries, 5);
        assert_eq!(
            plain.total_timeout_of(&config),
            Some(Duration::from_secs(9))
        );
        let o = RequestOptions::new().max_retries(0).total_timeout(None);
        assert_eq!(o.retry_policy(&config).max_retries, 0);
        assert_eq!(
            o.retry_policy(&config).initial_backoff,
            config.retry().initial_backoff
        );
        assert_eq!(o.total_timeout_of(&config), None);
        let o = RequestOptions::new()
            .retry(RetryPolicy::none())
            .max_retries(1);
        assert_eq!(o.retry_policy(&config).max_retries, 1);
    }
}
