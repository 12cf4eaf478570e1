//! Client configuration: the API key, where requests go, headers, timeouts and retries.
//!
//! ```
//! use dashscope_provider::{Config, Region};
//!
//! let config = Config::builder()
//!     .api_key("sk-example")
//!     .region(Region::Singapore)
//!     .build()
//!     .unwrap();
//! assert_eq!(config.base_url(), "https://dashscope-intl.aliyuncs.com");
//! // The key never shows in Debug output.
//! assert!(!format!("{config:?}").contains("sk-example"));
//! ```

use std::fmt;
use std::time::Duration;

use dashscope_transport::secrets::Secrets;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, HeaderName, HeaderValue, Uri};

use crate::retry::RetryPolicy;

/// The environment variable holding the API key.
pub const API_KEY_ENV: &str = "DASHSCOPE_API_KEY";
/// The environment variable naming a file that holds the API key (the official SDK's fallback).
pub const API_KEY_FILE_ENV: &str = "DASHSCOPE_API_KEY_FILE_PATH";
/// The environment variable holding an explicit base URL (mock server, proxy).
pub const BASE_URL_ENV: &str = "DASHSCOPE_BASE_URL";
/// The official 1.x SDK's base URL variable (`https://…/api/v1`); read when [`BASE_URL_ENV`] is unset.
pub const HTTP_BASE_URL_ENV: &str = "DASHSCOPE_HTTP_BASE_URL";
/// The environment variable naming the region (`cn-beijing`, `ap-southeast-1`, …).
pub const REGION_ENV: &str = "DASHSCOPE_REGION";
/// The official 1.x SDK's region variable; read when [`REGION_ENV`] is unset.
pub const API_REGION_ENV: &str = "DASHSCOPE_API_REGION";
/// The environment variable naming a workspace whose dedicated host requests go to.
pub const WORKSPACE_ENV: &str = "DASHSCOPE_WORKSPACE";
/// The official 1.x SDK's workspace variable: sent as the `X-DashScope-WorkSpace` header.
pub const WORKSPACE_ID_ENV: &str = "DASHSCOPE_WORKSPACE_ID";
/// The environment variable holding the request timeout in seconds.
pub const TIMEOUT_ENV: &str = "DASHSCOPE_TIMEOUT";
/// The environment variable holding the number of retries.
pub const MAX_RETRIES_ENV: &str = "DASHSCOPE_MAX_RETRIES";

/// The header that names a workspace on the shared host.
pub const WORKSPACE_HEADER: &str = "x-dashscope-workspace";

/// Whether the client sets `name` itself on every call (`Authorization`, `Content-Type`,
/// `Accept`, `X-DashScope-SSE`), so that neither the configuration nor request options may.
pub(crate) fn is_own_header(name: &HeaderName) -> bool {
    [AUTHORIZATION, CONTENT_TYPE, ACCEPT].contains(name)
        || name.as_str() == dashscope_protocol::dialect::SSE_HEADER
}

/// An API key. Its `Debug` and `Display` never show the key.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// The key itself, for building the `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<&str> for ApiKey {
    fn from(s: &str) -> Self {
        ApiKey::new(s)
    }
}

impl From<String> for ApiKey {
    fn from(s: String) -> Self {
        ApiKey::new(s)
    }
}

/// A Model Studio region ([protocol notes §1.1](dashscope_protocol::protocol_notes#11-hosts-and-regions)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Region {
    /// China (Beijing), `cn-beijing`: `dashscope.aliyuncs.com`.
    #[default]
    Beijing,
    /// Singapore, `ap-southeast-1`: `dashscope-intl.aliyuncs.com`.
    Singapore,
    /// US (Virginia), `us-east-1`: `dashscope-us.aliyuncs.com`.
    Virginia,
    /// China (Hong Kong), `cn-hongkong`: `cn-hongkong.dashscope.aliyuncs.com`.
    HongKong,
    /// Germany (Frankfurt), `eu-central-1`: workspace hosts only.
    Frankfurt,
    /// Japan (Tokyo), `ap-northeast-1`: workspace hosts only.
    Tokyo,
}

impl Region {
    /// Every region.
    pub const ALL: [Region; 6] = [
        Region::Beijing,
        Region::Singapore,
        Region::Virginia,
        Region::HongKong,
        Region::Frankfurt,
        Region::Tokyo,
    ];

    /// The region id (`cn-beijing`, `ap-southeast-1`, …).
    pub fn id(self) -> &'static str {
        match self {
            Region::Beijing => "cn-beijing",
            Region::Singapore => "ap-southeast-1",
            Region::Virginia => "us-east-1",
            Region::HongKong => "cn-hongkong",
            Region::Frankfurt => "eu-central-1",
            Region::Tokyo => "ap-northeast-1",
        }
    }

    /// The shared ("DashScope domain") host, where the region has one.
    pub fn shared_host(self) -> Option<&'static str> {
        match self {
            Region::Beijing => Some("dashscope.aliyuncs.com"),
            Region::Singapore => Some("dashscope-intl.aliyuncs.com"),
            Region::Virginia => Some("dashscope-us.aliyuncs.com"),
            Region::HongKong => Some("cn-hongkong.dashscope.aliyuncs.com"),
            Region::Frankfurt | Region::Tokyo => None,
        }
    }

    /// The workspace-dedicated host `{workspace}.{region}.maas.aliyuncs.com`.
    pub fn workspace_host(self, workspace: &str) -> String {
        format!("{workspace}.{}.maas.aliyuncs.com", self.id())
    }

    /// Parses a region id or a common name (`cn-beijing`, `beijing`, `singapore`, `intl`, …).
    pub fn parse(s: &str) -> Option<Region> {
        let s = s.trim().to_ascii_lowercase();
        Some(match s.as_str() {
            "cn-beijing" | "beijing" | "cn" => Region::Beijing,
            "ap-southeast-1" | "singapore" | "intl" | "sg" => Region::Singapore,
            "us-east-1" | "virginia" | "us" => Region::Virginia,
            "cn-hongkong" | "hongkong" | "hong-kong" | "hk" => Region::HongKong,
            "eu-central-1" | "frankfurt" | "eu" => Region::Frankfurt,
            "ap-northeast-1" | "tokyo" | "jp" => Region::Tokyo,
            _ => return None,
        })
    }
}

/// Timeouts applied to every request, by the async and the blocking client alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing the connection (DNS, TCP, TLS).
    pub connect: Duration,
    /// The longest wait without progress: for the response head, then for each body chunk
    /// (the timer restarts on every chunk, so a stream that keeps talking never trips it).
    pub idle: Duration,
    /// A deadline for each attempt, if any, from the moment it starts: a non-stream call must
    /// have its response head and whole body by then, a stream its head and first chunk
    /// (`create_stream` resolves then; comments, keep-alives and empty events before it do
    /// not count). Past it the attempt fails with a timeout [`Error::Transport`] and is not
    /// retried. A stream that has started is bounded by [`Timeouts::idle`] only, since a long
    /// answer may take many minutes.
    ///
    /// [`Error::Transport`]: crate::Error::Transport
    pub total: Option<Duration>,
}

impl Default for Timeouts {
    /// 5 s to connect; 300 s idle and total, as the official SDK ([protocol notes §1.6](dashscope_protocol::protocol_notes#16-timeouts-retries)).
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            idle: Duration::from_secs(300),
            total: Some(Duration::from_secs(300)),
        }
    }
}

/// Why a configuration could not be built.
///
/// No variant holds a credential: not the key, and not the user information, query or fragment
/// of a base URL.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// No API key was given and the environment has none.
    #[error("no API key: pass one to the builder or set the {API_KEY_ENV} environment variable")]
    MissingApiKey,
    /// The API key is empty or holds a character other than visible ASCII (a space, a control
    /// character, anything non-ASCII), which no real key does and an HTTP header cannot carry.
    #[error("the API key is empty or holds characters other than visible ASCII")]
    InvalidApiKey,
    /// The base URL is not an absolute http(s) URL of a host (and optional path prefix).
    #[error("invalid base URL {url:?}: {reason}")]
    InvalidBaseUrl {
        /// The URL given, without its user information, query and fragment (shown as `***`).
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The workspace ([`WORKSPACE_ENV`], [`ConfigBuilder::workspace`]) is not one DNS label, so
    /// it cannot name the workspace host `{workspace}.{region}.maas.aliyuncs.com`.
    #[error(
        "invalid workspace ({WORKSPACE_ENV} or ConfigBuilder::workspace): a workspace id is one \
         DNS label, 1 to 63 ASCII letters, digits and '-', not starting or ending with '-'"
    )]
    InvalidWorkspace,
    /// The region has no shared host and no workspace was given.
    #[error("region {region} has no shared host: set a workspace (DASHSCOPE_WORKSPACE)")]
    RegionNeedsWorkspace {
        /// The region id.
        region: &'static str,
    },
    /// An environment variable holds a value that cannot be used.
    #[error("environment variable {name} is invalid: {reason}")]
    InvalidEnv {
        /// The variable.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A header name or value is invalid.
    #[error("invalid header {name:?}")]
    InvalidHeader {
        /// The header name.
        name: String,
    },
    /// A default header the client sets itself on every call: `Authorization`, `Content-Type`,
    /// `Accept`, `X-DashScope-SSE`, or `User-Agent` (set with [`ConfigBuilder::user_agent`]).
    #[error("the {name} header is set by the client and cannot be a default header")]
    ReservedHeader {
        /// The header name.
        name: String,
    },
}

/// Everything a client needs to reach the service. Build it with [`Config::builder`] or
/// [`Config::from_env`].
///
/// Building it checks every value once and prepares what each call starts from (the parsed
/// base URI, the `Authorization`, `User-Agent`, default and workspace header values, the
/// scrubber that takes the key out of what the service sends back); a call only joins its path
/// and adds its own headers.
#[derive(Clone)]
pub struct Config {
    api_key: ApiKey,
    base_url: String,
    base: Base,
    headers: HeaderMap,
    user_agent: String,
    timeouts: Timeouts,
    retry: RetryPolicy,
    /// The headers every call starts from: `User-Agent`, the default and workspace headers,
    /// and `Authorization` (marked sensitive).
    call_headers: HeaderMap,
    /// Every form of the key, to scrub out of what the service sends back.
    scrub: Secrets,
}

/// The base URL, parsed once: the scheme and authority, and the path prefix (empty, or
/// `/something` without a trailing slash).
#[derive(Clone, Debug)]
struct Base {
    scheme: Scheme,
    authority: Authority,
    prefix: String,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("api_key", &self.api_key)
            .field("base_url", &self.base_url)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("user_agent", &self.user_agent)
            .field("timeouts", &self.timeouts)
            .field("retry", &self.retry)
            .finish()
    }
}

impl Config {
    /// A builder with nothing set.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// Reads the same variables as the official SDK ([protocol notes §1.2](dashscope_protocol::protocol_notes#12-authentication-and-environment)).
    ///
    /// | variable | meaning |
    /// |---|---|
    /// | `DASHSCOPE_API_KEY` | the key (required, unless `DASHSCOPE_API_KEY_FILE_PATH` names a file holding it) |
    /// | `DASHSCOPE_BASE_URL`, else `DASHSCOPE_HTTP_BASE_URL` | an explicit base URL; a trailing `/compatible-mode/v1` or `/api/v1` is dropped |
    /// | `DASHSCOPE_REGION`, else `DASHSCOPE_API_REGION` | the region (default Beijing) |
    /// | `DASHSCOPE_WORKSPACE` | a workspace whose dedicated host is used |
    /// | `DASHSCOPE_WORKSPACE_ID` | a workspace sent in the `X-DashScope-WorkSpace` header |
    /// | `DASHSCOPE_TIMEOUT` | seconds, for the idle and total timeouts |
    /// | `DASHSCOPE_MAX_RETRIES` | retries after the first attempt |
    ///
    /// # Errors
    ///
    /// [`ConfigError::MissingApiKey`] (naming `DASHSCOPE_API_KEY`) when no key is found, and the
    /// other [`ConfigError`]s for values that cannot be used.
    pub fn from_env() -> Result<Config, ConfigError> {
        ConfigBuilder::from_env_with(|name| std::env::var(name).ok())?.build()
    }

    /// The API key.
    pub fn api_key(&self) -> &ApiKey {
        &self.api_key
    }

    /// The base URL (scheme and authority, no trailing slash), to which dialect paths such as
    /// `/compatible-mode/v1/chat/completions` are appended.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The URI of `path` (which starts with `/` and may hold a query) on the base URL: only
    /// the path is parsed, the scheme and authority were once.
    pub(crate) fn uri(&self, path: &str) -> Result<Uri, http::Error> {
        let path = if self.base.prefix.is_empty() {
            PathAndQuery::try_from(path)?
        } else {
            PathAndQuery::try_from(format!("{}{path}", self.base.prefix))?
        };
        Uri::builder()
            .scheme(self.base.scheme.clone())
            .authority(self.base.authority.clone())
            .path_and_query(path)
            .build()
    }

    /// The headers every call starts from, `Authorization` included.
    pub(crate) fn call_headers(&self) -> &HeaderMap {
        &self.call_headers
    }

    /// Takes the key out of what the service sends back.
    pub(crate) fn scrubber(&self) -> &Secrets {
        &self.scrub
    }

    /// Headers sent with every request (besides `Authorization`, `Content-Type` and `User-Agent`).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The `User-Agent`: `dashscope-rust/<version>` unless replaced.
    pub fn user_agent(&self) -> &str {
        &self.user_agent
    }

    /// The timeouts.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// The retry policy.
    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }
}

/// Builds a [`Config`].
#[derive(Clone, Default)]
pub struct ConfigBuilder {
    api_key: Option<ApiKey>,
    base_url: Option<String>,
    region: Option<Region>,
    workspace_host: Option<String>,
    workspace_header: Option<String>,
    headers: Vec<(String, String)>,
    user_agent: Option<String>,
    timeouts: Timeouts,
    retry: RetryPolicy,
}

impl fmt::Debug for ConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigBuilder")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .field("region", &self.region)
            .field("workspace_host", &self.workspace_host)
            .field("workspace_header", &self.workspace_header)
            .field("timeouts", &self.timeouts)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl ConfigBuilder {
    /// A builder filled from the environment through `get` (see [`Config::from_env`]); tests pass
    /// their own lookup instead of touching the process environment.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidEnv`] for a variable holding an unusable value. A missing key is
    /// reported by [`ConfigBuilder::build`].
    pub fn from_env_with(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<ConfigBuilder, ConfigError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let mut b = ConfigBuilder::default();
        if let Some(key) = get(API_KEY_ENV) {
            b.api_key = Some(ApiKey::new(key.trim()));
        } else if let Some(path) = get(API_KEY_FILE_ENV) {
            let key = std::fs::read_to_string(&path).map_err(|e| ConfigError::InvalidEnv {
                name: API_KEY_FILE_ENV,
                reason: format!("cannot read the key file: {}", e.kind()),
            })?;
            b.api_key = Some(ApiKey::new(key.trim()));
        }
        if let Some(url) = get(BASE_URL_ENV).or_else(|| get(HTTP_BASE_URL_ENV)) {
            b.base_url = Some(url);
        }
        if let Some(r) = get(REGION_ENV).or_else(|| get(API_REGION_ENV)) {
            let region = Region::parse(&r).ok_or_else(|| ConfigError::InvalidEnv {
                name: REGION_ENV,
                reason: format!("unknown region {r:?}"),
            })?;
            b.region = Some(region);
        }
        b.workspace_host = get(WORKSPACE_ENV);
        b.workspace_header = get(WORKSPACE_ID_ENV);
        if let Some(t) = get(TIMEOUT_ENV) {
            let secs: f64 = t
                .trim()
                .parse()
                .ok()
                .filter(|s: &f64| *s > 0.0)
                .ok_or_else(|| ConfigError::InvalidEnv {
                    name: TIMEOUT_ENV,
                    reason: format!("{t:?} is not a positive number of seconds"),
                })?;
            let d = Duration::from_secs_f64(secs);
            b.timeouts.idle = d;
            b.timeouts.total = Some(d);
        }
        if let Some(n) = get(MAX_RETRIES_ENV) {
            let n: u32 = n.trim().parse().map_err(|_| ConfigError::InvalidEnv {
                name: MAX_RETRIES_ENV,
                reason: format!("{n:?} is not a whole number"),
            })?;
            b.retry.max_retries = n;
        }
        Ok(b)
    }

    /// Sets the API key.
    pub fn api_key(mut self, key: impl Into<ApiKey>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Sends requests to this base URL instead of a region's host (a mock server, a proxy).
    /// A trailing `/`, `/compatible-mode/v1` or `/api/v1` is dropped.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Selects the region (default Beijing).
    pub fn region(mut self, region: Region) -> Self {
        self.region = Some(region);
        self
    }

    /// Uses the workspace-dedicated host `{workspace}.{region}.maas.aliyuncs.com`.
    pub fn workspace(mut self, workspace: impl Into<String>) -> Self {
        self.workspace_host = Some(workspace.into());
        self
    }

    /// Sends `X-DashScope-WorkSpace: <workspace>` with every request.
    pub fn workspace_header(mut self, workspace: impl Into<String>) -> Self {
        self.workspace_header = Some(workspace.into());
        self
    }

    /// Adds a header sent with every request. The headers the client sets itself
    /// (`Authorization`, `Content-Type`, `Accept`, `X-DashScope-SSE`, and `User-Agent`, which
    /// has [`user_agent`](Self::user_agent)) are refused by [`build`](Self::build).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Replaces the `User-Agent` (default `dashscope-rust/<version>`).
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = Some(ua.into());
        self
    }

    /// Sets all timeouts.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Sets the connect timeout.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.timeouts.connect = d;
        self
    }

    /// Sets the idle timeout (response head, and between body chunks).
    pub fn idle_timeout(mut self, d: Duration) -> Self {
        self.timeouts.idle = d;
        self
    }

    /// Sets (or clears) the deadline of each attempt: a non-stream call's head and whole body, a
    /// stream's head and first chunk (see [`Timeouts::total`]).
    pub fn total_timeout(mut self, d: Option<Duration>) -> Self {
        self.timeouts.total = d;
        self
    }

    /// Sets the retry policy.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Sets the number of retries after the first attempt (default 2).
    pub fn max_retries(mut self, n: u32) -> Self {
        self.retry.max_retries = n;
        self
    }

    /// Builds the configuration.
    ///
    /// # Errors
    ///
    /// [`ConfigError::MissingApiKey`] without a key; [`ConfigError::InvalidApiKey`],
    /// [`ConfigError::InvalidBaseUrl`], [`ConfigError::RegionNeedsWorkspace`],
    /// [`ConfigError::InvalidHeader`] or [`ConfigError::ReservedHeader`] for values that cannot
    /// be used.
    pub fn build(self) -> Result<Config, ConfigError> {
        let api_key = self.api_key.ok_or(ConfigError::MissingApiKey)?;
        let key = api_key.expose();
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::InvalidApiKey);
        }
        let mut auth = HeaderValue::try_from(format!("Bearer {key}"))
            .map_err(|_| ConfigError::InvalidApiKey)?;
        auth.set_sensitive(true);
        if let Some(ws) = &self.workspace_host {
            check_workspace(ws)?;
        }
        let region = self.region.unwrap_or_default();
        let base_url = match (self.base_url, self.workspace_host) {
            (Some(url), _) => normalize_base_url(&url)?,
            (None, Some(ws)) => format!("https://{}", region.workspace_host(&ws)),
            (None, None) => match region.shared_host() {
                Some(host) => format!("https://{host}"),
                None => {
                    return Err(ConfigError::RegionNeedsWorkspace {
                        region: region.id(),
                    });
                }
            },
        };
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            let invalid = || ConfigError::InvalidHeader { name: name.clone() };
            let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
            let v = HeaderValue::from_str(value).map_err(|_| invalid())?;
            if is_own_header(&n) || n == USER_AGENT {
                return Err(ConfigError::ReservedHeader {
                    name: n.to_string(),
                });
            }
            headers.append(n, v);
        }
        if let Some(ws) = &self.workspace_header {
            let v = HeaderValue::from_str(ws).map_err(|_| ConfigError::InvalidHeader {
                name: WORKSPACE_HEADER.to_owned(),
            })?;
            headers.insert(HeaderName::from_static(WORKSPACE_HEADER), v);
        }
        let user_agent = self
            .user_agent
            .unwrap_or_else(|| format!("dashscope-rust/{}", env!("CARGO_PKG_VERSION")));
        let ua = HeaderValue::from_str(&user_agent).map_err(|_| ConfigError::InvalidHeader {
            name: "user-agent".to_owned(),
        })?;
        let mut call_headers = headers.clone();
        call_headers.insert(USER_AGENT, ua);
        call_headers.insert(AUTHORIZATION, auth);
        let scrub = Secrets::new([api_key.expose()]);
        Ok(Config {
            api_key,
            base: parse_base(&base_url)?,
            base_url,
            headers,
            user_agent,
            timeouts: self.timeouts,
            retry: self.retry,
            call_headers,
            scrub,
        })
    }
}

/// The parts of a base URL that [`normalize_base_url`] accepted (or a region's host).
fn parse_base(url: &str) -> Result<Base, ConfigError> {
    let invalid = || ConfigError::InvalidBaseUrl {
        url: shown_url(url),
        reason: "it is not a valid URI",
    };
    let parts = url.parse::<Uri>().map_err(|_| invalid())?.into_parts();
    let path = parts.path_and_query.as_ref().map_or("", PathAndQuery::path);
    Ok(Base {
        scheme: parts.scheme.ok_or_else(invalid)?,
        authority: parts.authority.ok_or_else(invalid)?,
        prefix: path.trim_end_matches('/').to_owned(),
    })
}

/// Checks that `ws` is one DNS label: it becomes part of the host the key is sent to.
fn check_workspace(ws: &str) -> Result<(), ConfigError> {
    let label = (1..=63).contains(&ws.len())
        && ws.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !ws.starts_with('-')
        && !ws.ends_with('-');
    if label {
        Ok(())
    } else {
        Err(ConfigError::InvalidWorkspace)
    }
}

/// `url` as an error shows it: its user information, query and fragment (which may hold
/// credentials) replaced by `***`.
fn shown_url(url: &str) -> String {
    let url = url.trim();
    let end = url.find(['?', '#']).unwrap_or(url.len());
    let (scheme, rest) = match url[..end].split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), &url[..end]),
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = match authority.rsplit_once('@') {
        Some((_, host)) => format!("***@{host}"),
        None => authority.to_owned(),
    };
    let mut shown = format!("{scheme}{host}{path}");
    if end < url.len() {
        shown.push_str(&url[end..end + 1]);
        shown.push_str("***");
    }
    shown
}

/// Drops a trailing `/`, `/compatible-mode/v1` or `/api/v1`, and checks the scheme, the host,
/// and that nothing follows the path.
fn normalize_base_url(url: &str) -> Result<String, ConfigError> {
    let invalid = |reason| ConfigError::InvalidBaseUrl {
        url: shown_url(url),
        reason,
    };
    if url.contains(['?', '#']) {
        return Err(invalid(
            "a query or fragment would end up in front of every request path; give the scheme, \
             host, port and path prefix only",
        ));
    }
    let mut u = url.trim().trim_end_matches('/');
    for suffix in ["/compatible-mode/v1", "/api/v1"] {
        if let Some(rest) = u.strip_suffix(suffix) {
            u = rest.trim_end_matches('/');
        }
    }
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))
        .ok_or_else(|| invalid("it must start with http:// or https://"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(invalid("it has no host"));
    }
    if u.contains('@') {
        return Err(invalid(
            "credentials in the URL are not supported; use the API key",
        ));
    }
    Ok(u.to_owned())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn missing_key_names_the_variable() {
        let err = ConfigBuilder::from_env_with(env(&[]))
            .unwrap()
            .build()
            .unwrap_err();
        assert_eq!(err, ConfigError::MissingApiKey);
        assert!(err.to_string().contains("DASHSCOPE_API_KEY"));
    }

    #[test]
    fn env_base_url_region_workspace() {
        let c = ConfigBuilder::from_env_with(env(&[
            (API_KEY_ENV, "sk-1"),
            (BASE_URL_ENV, "http://127.0.0.1:8089/compatible-mode/v1/"),
        ]))
        .unwrap()
        .build()
        .unwrap();
        assert_eq!(c.base_url(), "http://127.0.0.1:8089");
        assert_eq!(
            c.uri("/api/v1/x?a=1").unwrap(),
            "http://127.0.0.1:8089/api/v1/x?a=1"
        );
        let proxied = Config::builder()
            .api_key("k")
            .base_url("https://gw.example:8443/dashscope/api/v1/")
            .build()
            .unwrap();
        assert_eq!(
            proxied.uri("/api/v1/x").unwrap(),
            "https://gw.example:8443/dashscope/api/v1/x"
        );

        let c = ConfigBuilder::from_env_with(env(&[
            (API_KEY_ENV, "sk-1"),
            (REGION_ENV, "us-east-1"),
            (WORKSPACE_ENV, "ws-abc"),
            (WORKSPACE_ID_ENV, "ws-abc"),
            (TIMEOUT_ENV, "12"),
            (MAX_RETRIES_ENV, "5"),
        ]))
        .unwrap()
        .build()
        .unwrap();
        assert_eq!(c.base_url(), "https://ws-abc.us-east-1.maas.aliyuncs.com");
        assert_eq!(c.headers()[WORKSPACE_HEADER], "ws-abc");
        assert_eq!(c.timeouts().idle, Duration::from_secs(12));
        assert_eq!(c.retry().max_retries, 5);
    }

    #[test]
    fn legacy_variables_are_read() {
        let c = ConfigBuilder::from_env_with(env(&[
            (API_KEY_ENV, "sk-1"),
            (
                HTTP_BASE_URL_ENV,
                "https://dashscope-intl.aliyuncs.com/api/v1",
            ),
            (API_REGION_ENV, "ap-southeast-1"),
        ]))
        .unwrap()
        .build()
        .unwrap();
        assert_eq!(c.base_url(), "https://dashscope-intl.aliyuncs.com");
    }

    #[test]
    fn regions_map_to_hosts() {
        let host = |r| {
            Config::builder()
                .api_key("k")
                .region(r)
                .build()
                .map(|c| c.base_url().to_owned())
        };
        assert_eq!(
            host(Region::Beijing).unwrap(),
            "https://dashscope.aliyuncs.com"
        );
        assert_eq!(
            host(Region::Singapore).unwrap(),
            "https://dashscope-intl.aliyuncs.com"
        );
        assert_eq!(
            host(Region::Virginia).unwrap(),
            "https://dashscope-us.aliyuncs.com"
        );
        assert_eq!(
            host(Region::HongKong).unwrap(),
            "https://cn-hongkong.dashscope.aliyuncs.com"
        );
        assert!(matches!(
            host(Region::Tokyo),
            Err(ConfigError::RegionNeedsWorkspace { .. })
        ));
        for r in Region::ALL {
            assert_eq!(Region::parse(r.id()), Some(r));
        }
    }

    #[test]
    fn bad_values_are_refused() {
        assert_eq!(
            Config::builder().api_key("").build().unwrap_err(),
            ConfigError::InvalidApiKey
        );
        assert!(matches!(
            Config::builder().api_key("k").base_url("ftp://x").build(),
            Err(ConfigError::InvalidBaseUrl { .. })
        ));
        assert!(matches!(
            ConfigBuilder::from_env_with(env(&[(REGION_ENV, "mars")])),
            Err(ConfigError::InvalidEnv {
                name: REGION_ENV,
                ..
            })
        ));
        assert!(matches!(
            ConfigBuilder::from_env_with(env(&[(TIMEOUT_ENV, "-1")])),
            Err(ConfigError::InvalidEnv {
                name: TIMEOUT_ENV,
                ..
            })
        ));
    }

    #[test]
    fn values_that_would_move_the_key_are_refused() {
        let with_ws = |ws: &str| Config::builder().api_key("sk-1").workspace(ws).build();
        for ws in [
            "127.0.0.1:8089/",
            "x@host/",
            "ws?",
            "ws#",
            "..",
            "a b",
            "ws.evil.example",
            "-ws",
            "ws-",
            "",
            "工作区",
            &"w".repeat(64),
        ] {
            assert_eq!(
                with_ws(ws).unwrap_err(),
                ConfigError::InvalidWorkspace,
                "{ws:?}"
            );
            if !ws.is_empty() {
                let from_env = ConfigBuilder::from_env_with(env(&[
                    (API_KEY_ENV, "sk-1"),
                    (WORKSPACE_ENV, ws),
                ]))
                .unwrap()
                .build();
                assert_eq!(
                    from_env.unwrap_err(),
                    ConfigError::InvalidWorkspace,
                    "{ws:?}"
                );
            }
        }
        let e = ConfigError::InvalidWorkspace.to_string();
        assert!(e.contains(WORKSPACE_ENV), "{e}");
        for ws in ["ws-abc", "llm-3a9f2c7d", "W1"] {
            assert!(
                with_ws(ws)
                    .unwrap()
                    .base_url()
                    .ends_with(".cn-beijing.maas.aliyuncs.com"),
                "{ws}"
            );
        }

        // Base URLs: credentials, queries and fragments are refused, and never shown.
        for (url, shown) in [
            (
                "http://user:hunter2@127.0.0.1:8089",
                "http://***@127.0.0.1:8089",
            ),
            ("https://hunter2@h.example/v1", "https://***@h.example/v1"),
            (
                "http://127.0.0.1:8089/?key=hunter2",
                "http://127.0.0.1:8089/?***",
            ),
            ("http://127.0.0.1:8089#hunter2", "http://127.0.0.1:8089#***"),
            ("http://127.0.0.1:8089/p?", "http://127.0.0.1:8089/p?***"),
            ("user:hunter2@h.example", "***@h.example"),
        ] {
            let e = Config::builder()
                .api_key("sk-1")
                .base_url(url)
                .build()
                .unwrap_err();
            let ConfigError::InvalidBaseUrl { url: got, .. } = &e else {
                panic!("{url}: {e:?}")
            };
            assert_eq!(got, shown);
            let text = format!("{e} {e:?}");
            assert!(
                !text.contains("hunter2") && !text.contains("user"),
                "{text}"
            );
        }

        // Keys an HTTP header cannot carry as they are.
        for key in ["sk-é", "sk-a b", "sk-\t1", "sk-1\n", "\u{7f}"] {
            let e = Config::builder().api_key(key).build().unwrap_err();
            assert_eq!(e, ConfigError::InvalidApiKey, "{key:?}");
            assert!(!format!("{e} {e:?}").contains(key));
        }
    }

    #[test]
    fn call_headers_are_built_once_and_own_headers_refused() {
        for name in [
            "Authorization",
            "content-type",
            "Accept",
            "x-dashscope-sse",
            "user-agent",
        ] {
            let e = Config::builder()
                .api_key("k")
                .header(name, "x")
                .build()
                .unwrap_err();
            assert!(matches!(e, ConfigError::ReservedHeader { .. }), "{name}");
        }
        let c = Config::builder()
            .api_key("sk-secret-xyz")
            .header("x-a", "1")
            .header("x-a", "2")
            .workspace_header("ws-1")
            .user_agent("app/1")
            .build()
            .unwrap();
        let h = c.call_headers();
        assert_eq!(h[AUTHORIZATION], "Bearer sk-secret-xyz");
        assert!(h[AUTHORIZATION].is_sensitive());
        assert_eq!(h[USER_AGENT], "app/1");
        assert_eq!(h[WORKSPACE_HEADER], "ws-1");
        assert_eq!(h.get_all("x-a").iter().count(), 2);
        assert!(!c.headers().contains_key(AUTHORIZATION));
        assert!(!format!("{c:?}").contains("sk-secret-xyz"));
    }

    #[test]
    fn key_never_in_debug() {
        let key = "sk-very-secret-123";
        let b = Config::builder().api_key(key).header("x-a", "b");
        assert!(!format!("{b:?}").contains(key));
        let c = b.build().unwrap();
        assert!(!format!("{c:?}").contains(key));
        assert!(!format!("{:?} {}", c.api_key(), c.api_key()).contains(key));
        assert_eq!(
            c.user_agent(),
            concat!("dashscope-rust/", env!("CARGO_PKG_VERSION"))
        );
    }
}
