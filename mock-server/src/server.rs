//! The router, the serve loop, and [`MockServer`]: a server on its own thread for tests.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::any;
use axum::serve::Listener;
use dashscope_protocol::cassette::Cassette;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::admin::{ADMIN_PREFIX, Bound, admin};
use crate::conn::MockListener;
use crate::endpoint::{Endpoint, RESPONSES_PREFIXES};
use crate::faults::{FaultParseError, FaultSpec};
use crate::fixtures::{self, Fixture, FixtureError};
use crate::handler;
use crate::journal::JournalEntry;
use crate::matching::{CassetteSet, Layer};
use crate::models::ModelPolicy;
use crate::record::{RecordError, Recorder};
use crate::responder::Responder;
use crate::state::{MockConfig, MockState};
use crate::synth::Synthetic;

/// The mock's routes: the five generation paths, the stored-response paths, the admin API
/// under `/__mock/`, and a JSON 404 for everything else.
///
/// [`serve_with`] answers with the same handlers without this router (see
/// [`handler::Route`](crate::handler)). Served any other way (in-process, or `axum::serve`),
/// the admin API does not know the address it is bound to, so it skips its DNS-rebinding
/// check (see [`admin`](crate::admin)); its other checks apply.
pub fn router(state: MockState) -> Router {
    let mut r = Router::new();
    for e in Endpoint::ALL {
        r = r.route(e.path(), any(handler::generation_route));
    }
    for p in RESPONSES_PREFIXES {
        r = r
            .route(&format!("{p}/{{id}}"), any(handler::stored_response_route))
            .route(
                &format!("{p}/{{id}}/input_items"),
                any(handler::stored_response_route),
            );
    }
    r.route(ADMIN_PREFIX, any(admin))
        .route(&format!("{ADMIN_PREFIX}/{{*rest}}"), any(admin))
        .fallback(handler::unknown_route)
        .with_state(state)
}

/// The default cap on request heads (request line and header fields), in bytes: 64 KiB, close
/// to Envoy's default (60 KiB; the service answers through `istio-envoy`, PROTOCOL.md §6).
pub const DEFAULT_MAX_HEADER_BYTES: usize = 64 * 1024;
/// The default cap on the number of request header fields (Envoy's and hyper's default).
pub const DEFAULT_MAX_HEADERS: usize = 100;
/// The default time a connection has to send a complete request head: 30 s.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The default cap on connections served at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// The default bound on graceful shutdown for [`serve`] and the binary: 10 s.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// hyper's smallest read buffer; a header cap below it is enforced on the parsed head instead.
const MIN_READ_BUFFER: usize = 8192;
/// After the grace period, how long streams cut by [`MockState::stop_streams`] get to flush
/// what they sent before their connections are dropped.
const CUT_FLUSH: Duration = Duration::from_millis(100);

/// Connection-level limits of the HTTP server. The request *body* limit is
/// [`MockServerBuilder::max_body_bytes`] (413 `BadRequest.TooLarge` in the request's dialect).
///
/// | limit | default | over it |
/// |---|---|---|
/// | [`max_header_bytes`](Self::max_header_bytes) | 64 KiB | `431 Request Header Fields Too Large`, empty body, connection closed |
/// | [`max_headers`](Self::max_headers) | 100 | the same 431 |
/// | [`header_read_timeout`](Self::header_read_timeout) | 30 s | the connection is closed without an answer |
/// | [`max_connections`](Self::max_connections) | 10 000 | new connections wait in the listen backlog |
/// | [`shutdown_grace`](Self::shutdown_grace) | 10 s ([`MockServer`]: 1 s) | open requests are cut |
///
/// The 431 is hyper's own answer: `content-length: 0`, no body, so not in a dialect's error
/// shape (no dialect is known before the head is parsed). A connection closed with request
/// bytes unread (after a 413 or a 431) first reads and drops them for at most
/// [`LINGER`](crate::conn::LINGER) (5 s), so a client still writing reads the answer rather
/// than a reset.
///
/// ```
/// use std::time::Duration;
/// let mut limits = dashscope_mock::server::Limits::default();
/// limits.header_read_timeout = Some(Duration::from_secs(5));
/// assert_eq!(limits.max_headers, 100);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The most bytes a request head (request line and header fields) may take.
    pub max_header_bytes: usize,
    /// The most header fields a request may carry.
    pub max_headers: usize,
    /// How long a connection has to send a complete request head, counted from the first
    /// read of each head; an idle keep-alive connection is closed after the same time.
    /// `None` (or zero): no limit.
    pub header_read_timeout: Option<Duration>,
    /// The most connections served at once (at least 1). Further connections are not accepted
    /// until one closes: they wait in the listen backlog, so clients see a slow connect, not an
    /// error.
    pub max_connections: usize,
    /// After shutdown starts: how long open requests (streams included) may take to finish.
    /// Then [`MockState::stop_streams`] cuts delayed and stalled streams and every connection
    /// still open is dropped, so shutdown ends within the grace period plus about 100 ms.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_headers: DEFAULT_MAX_HEADERS,
            header_read_timeout: Some(DEFAULT_HEADER_READ_TIMEOUT),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

impl Limits {
    fn http1(&self) -> hyper::server::conn::http1::Builder {
        let mut b = hyper::server::conn::http1::Builder::new();
        b.timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout.filter(|d| !d.is_zero()))
            .max_headers(self.max_headers.max(1))
            .max_header_size(self.max_header_bytes.max(1))
            // A head that has not ended when the buffer is full is over the limit as well.
            .max_buf_size(self.max_header_bytes.max(MIN_READ_BUFFER));
        b
    }
}

/// Serves `state` on `listener` with the default [`Limits`] until `shutdown` resolves, then
/// shuts down gracefully within [`DEFAULT_SHUTDOWN_GRACE`] (see [`serve_with`]).
///
/// # Errors
///
/// None in practice (accept errors are logged and retried); the `Result` is kept for callers
/// that treat serving as fallible.
pub async fn serve<F>(listener: TcpListener, state: MockState, shutdown: F) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    serve_with(listener, state, Limits::default(), shutdown).await
}

/// Serves `state` on `listener` under `limits` until `shutdown` resolves.
///
/// It answers with [`router`]'s handlers, called straight from hyper's connection (no router,
/// no boxed request body), and finishes each response as the router does. Responses keep
/// their recorded header-name case and `reset` faults reset the connection
/// (see [`conn`](crate::conn)). Each connection is HTTP/1.1 on its own task, so a slow or
/// stalled client holds only its own connection.
///
/// When `shutdown` resolves the listener is closed at once (new connections are refused),
/// idle connections are closed, and open requests may finish for
/// [`limits.shutdown_grace`](Limits::shutdown_grace); then streams are cut and the remaining
/// connections dropped. It returns when every connection is gone.
///
/// # Errors
///
/// None in practice (accept errors are logged and retried); the `Result` is kept for callers
/// that treat serving as fallible.
pub async fn serve_with<F>(
    listener: TcpListener,
    state: MockState,
    limits: Limits,
    shutdown: F,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let http = limits.http1();
    let permits = Arc::new(Semaphore::new(
        limits.max_connections.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let (closing_tx, closing_rx) = watch::channel(false);
    let mut conns: JoinSet<()> = JoinSet::new();
    // The admin API's loopback checks need the bound address.
    let bound = listener.local_addr().ok().map(Bound);
    let mut listener = MockListener::new(listener);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => None,
            a = async {
                // A permit first: at the cap, connections wait in the backlog, not in memory.
                let permit = Arc::clone(&permits).acquire_owned().await;
                (permit, listener.accept().await)
            } => Some(a),
        };
        let Some((Ok(permit), (io, remote))) = accepted else {
            break;
        };
        while conns.try_join_next().is_some() {}
        // One service per connection, straight into the handlers: no router, no boxed request
        // body; every response goes out through `MockIo`, which honours directives.
        let service = {
            let state = state.clone();
            service_fn(move |mut req: http::Request<Incoming>| {
                let state = state.clone();
                if let Some(b) = bound {
                    req.extensions_mut().insert(b);
                }
                async move { Ok::<_, Infallible>(handler::dispatch(state, req, true).await) }
            })
        };
        let conn = http.serve_connection(TokioIo::new(io), service);
        let mut closing = closing_rx.clone();
        conns.spawn(async move {
            let _permit = permit;
            let mut conn = std::pin::pin!(conn);
            let served = tokio::select! {
                r = conn.as_mut() => r,
                () = until_true(&mut closing) => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = served {
                tracing::debug!("connection from {remote}: {e}");
            }
        });
    }
    // Refuse new connections, close idle ones, let open requests finish within the grace.
    drop(listener);
    closing_tx.send_replace(true);
    let open = conns.len();
    if open > 0 {
        tracing::debug!("shutting down with {open} open connection(s)");
    }
    let drained = tokio::time::timeout(limits.shutdown_grace, drain(&mut conns)).await;
    if drained.is_err() {
        tracing::warn!(
            "grace period over; cutting {} open connection(s)",
            conns.len()
        );
        state.stop_streams();
        let _ = tokio::time::timeout(CUT_FLUSH, drain(&mut conns)).await;
        conns.shutdown().await;
    }
    Ok(())
}

/// Resolves once the flag is (or was) set, or its sender is gone.
async fn until_true(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|c| *c).await;
}

async fn drain(conns: &mut JoinSet<()>) {
    while conns.join_next().await.is_some() {}
}

/// [`MockServer`]'s default shutdown grace: 1 s (tests drop servers often).
pub const MOCK_SERVER_SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// A mock server could not be built or started.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A fixture file or directory could not be read.
    #[error(transparent)]
    Fixture(#[from] FixtureError),
    /// A fault spec does not parse.
    #[error(transparent)]
    Fault(#[from] FaultParseError),
    /// Record mode could not be set up.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// Binding or starting the runtime failed.
    #[error("cannot start the mock server: {0}")]
    Io(#[from] io::Error),
}

/// Configures a [`MockServer`] (or just a [`MockState`] for [`router`] / [`serve`]).
#[derive(Debug)]
pub struct MockServerBuilder {
    config: MockConfig,
    defaults: bool,
    dirs: Vec<PathBuf>,
    cassettes: Vec<Fixture>,
    cassette_texts: Vec<String>,
    faults: Vec<String>,
    responder: Arc<dyn Responder>,
    record: Option<(String, PathBuf)>,
    limits: Limits,
    host: String,
    port: u16,
}

impl Default for MockServerBuilder {
    fn default() -> Self {
        MockServerBuilder {
            config: MockConfig::default(),
            defaults: true,
            dirs: Vec::new(),
            cassettes: Vec::new(),
            cassette_texts: Vec::new(),
            faults: Vec::new(),
            responder: Arc::new(Synthetic::new()),
            record: None,
            limits: Limits {
                shutdown_grace: MOCK_SERVER_SHUTDOWN_GRACE,
                ..Limits::default()
            },
            host: "127.0.0.1".to_owned(),
            port: 0,
        }
    }
}

impl MockServerBuilder {
    /// Whether to load the fixtures embedded at build time (default: yes).
    pub fn defaults(mut self, yes: bool) -> Self {
        self.defaults = yes;
        self
    }

    /// Leaves out the embedded fixtures.
    pub fn no_defaults(self) -> Self {
        self.defaults(false)
    }

    /// Loads every `*.json` cassette under `dir` too.
    pub fn fixtures_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dirs.push(dir.into());
        self
    }

    /// Adds a cassette (in the run-time layer, so it wins ties over files).
    pub fn cassette(mut self, cassette: Cassette) -> Self {
        let raw = serde_json::to_value(&cassette).unwrap_or_default();
        self.cassettes.push(Fixture {
            origin: "builder".to_owned(),
            cassette,
            raw,
        });
        self
    }

    /// Adds a cassette from its JSON text (the mock's matcher extensions in `match` count);
    /// a text that does not parse fails [`build_state`](Self::build_state).
    pub fn cassette_json(mut self, text: impl Into<String>) -> Self {
        self.cassette_texts.push(text.into());
        self
    }

    /// Strict mode: unmatched requests get the 404 with the nearest cassettes.
    pub fn strict(mut self, yes: bool) -> Self {
        self.config.strict = yes;
        self
    }

    /// Accepts this API key (once any key is given, only the given keys are accepted).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.config.api_keys.push(key.into());
        self
    }

    /// A delay before every response.
    pub fn latency(mut self, d: Duration) -> Self {
        self.config.latency = d;
        self
    }

    /// An extra delay before every chunk after the first.
    pub fn chunk_delay(mut self, d: Duration) -> Self {
        self.config.timing.chunk_delay = d;
        self
    }

    /// Replays recorded delays at `factor` times the speed (0: no recorded delays).
    pub fn speed(mut self, factor: f64) -> Self {
        self.config.timing.speed = factor;
        self
    }

    /// The seed for request ids and synthetic answers; a seeded server also fixes the
    /// `created` timestamps of synthetic answers, so its answers are byte-identical across runs.
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = Some(seed);
        self
    }

    /// The request body limit in bytes (default 16 MiB).
    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.config.max_body_bytes = n;
        self
    }

    /// How long a request body may take to arrive (default 30 s; `None` or zero: no limit);
    /// past it the request gets 408.
    pub fn body_read_timeout(mut self, d: impl Into<Option<Duration>>) -> Self {
        self.config.body_read_timeout = d.into();
        self
    }

    /// The bytes all requests in flight may hold together, bodies and their parsed JSON
    /// (default 256 MiB; see [`MockConfig::max_inflight_bytes`]).
    pub fn max_inflight_bytes(mut self, n: usize) -> Self {
        self.config.max_inflight_bytes = n;
        self
    }

    /// About the most bytes the stored Responses keep (default 64 MiB; see
    /// [`MockConfig::store_max_bytes`]).
    pub fn store_max_bytes(mut self, n: usize) -> Self {
        self.config.store_max_bytes = n;
        self
    }

    /// The key the admin API requires (`Authorization: Bearer <key>`) instead of any of the
    /// [`api_key`](Self::api_key)s; see [`admin`](crate::admin).
    pub fn admin_key(mut self, key: impl Into<String>) -> Self {
        self.config.admin_key = Some(key.into());
        self
    }

    /// The most journal entries kept (default 100 000).
    pub fn journal_capacity(mut self, n: usize) -> Self {
        self.config.journal_capacity = n;
        self
    }

    /// About the most bytes the journal keeps (default 64 MiB): past it the oldest entries go,
    /// so a long load test cannot grow the server without bound.
    pub fn journal_max_bytes(mut self, n: usize) -> Self {
        self.config.journal_max_bytes = n;
        self
    }

    /// A global fault (see [`faults`](crate::faults)); a spec that does not parse fails the build.
    pub fn fault(mut self, spec: impl Into<String>) -> Self {
        self.faults.push(spec.into());
        self
    }

    /// The responder for unmatched requests (default [`Synthetic`]; [`NoSynthesis`](crate::NoSynthesis)
    /// answers nothing).
    pub fn responder(mut self, responder: impl Responder) -> Self {
        self.responder = Arc::new(responder);
        self
    }

    /// Uses the [`Synthetic`] responder accepting these model names (see [`ModelPolicy`]).
    pub fn models(self, models: ModelPolicy) -> Self {
        self.responder(Synthetic::new().models(models))
    }

    /// Record mode: forward to `upstream`, write cassettes under `dir`.
    pub fn record(mut self, upstream: impl Into<String>, dir: impl Into<PathBuf>) -> Self {
        self.record = Some((upstream.into(), dir.into()));
        self
    }

    /// How long [`MockServer`]'s drop lets open requests finish before it cuts them (default
    /// 1 s, so a test that leaves a stalled stream open does not wait long; the binary's default
    /// is 10 s). See [`Limits::shutdown_grace`].
    pub fn shutdown_grace(mut self, d: Duration) -> Self {
        self.limits.shutdown_grace = d;
        self
    }

    /// The cap on request heads in bytes (default 64 KiB); larger heads get 431.
    pub fn max_header_bytes(mut self, n: usize) -> Self {
        self.limits.max_header_bytes = n;
        self
    }

    /// The cap on request header fields (default 100); more get 431.
    pub fn max_headers(mut self, n: usize) -> Self {
        self.limits.max_headers = n;
        self
    }

    /// How long a connection has to send a complete request head (default 30 s; `None` or
    /// zero: no limit). Slow and idle connections are closed after it.
    pub fn header_read_timeout(mut self, d: impl Into<Option<Duration>>) -> Self {
        self.limits.header_read_timeout = d.into();
        self
    }

    /// The most connections served at once (default 10 000); more wait to be accepted.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.limits.max_connections = n;
        self
    }

    /// Replaces every connection-level limit at once (see [`Limits`]).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The connection-level limits [`start`](Self::start) will use.
    pub fn current_limits(&self) -> &Limits {
        &self.limits
    }

    /// The address [`start`](Self::start) binds (default `127.0.0.1`, port 0).
    pub fn bind(mut self, host: impl Into<String>, port: u16) -> Self {
        self.host = host.into();
        self.port = port;
        self
    }

    /// Builds the state: loads the cassettes (embedded, directories, given), parses faults,
    /// sets up record mode.
    ///
    /// # Errors
    ///
    /// [`BuildError`] for a fixture, fault or record set-up that fails. Embedded fixtures that
    /// do not parse are skipped with a warning instead.
    pub fn build_state(&self) -> Result<MockState, BuildError> {
        let mut set = CassetteSet::new();
        if self.defaults {
            let (ok, bad) = fixtures::embedded();
            for e in bad {
                tracing::warn!("skipping an embedded fixture: {e}");
            }
            for f in ok {
                set.add(f.cassette, Some(&f.raw), Layer::Embedded);
            }
        }
        for dir in &self.dirs {
            for f in fixtures::load_dir(dir)? {
                set.add(f.cassette, Some(&f.raw), Layer::Directory);
            }
        }
        for f in &self.cassettes {
            set.add(f.cassette.clone(), Some(&f.raw), Layer::Runtime);
        }
        for text in &self.cassette_texts {
            let f = fixtures::parse("builder", text)?;
            set.add(f.cassette, Some(&f.raw), Layer::Runtime);
        }
        let specs = self
            .faults
            .iter()
            .map(|s| FaultSpec::parse(s))
            .collect::<Result<Vec<_>, _>>()?;
        let recorder = match &self.record {
            Some((upstream, dir)) => Some(Recorder::new(upstream, dir.clone())?),
            None => None,
        };
        let state = MockState::with_parts(
            self.config.clone(),
            set,
            Arc::clone(&self.responder),
            recorder,
        );
        state.with_faults(|faults| {
            specs
                .into_iter()
                .try_for_each(|spec| faults.add(spec).map(drop))
        })?;
        Ok(state)
    }

    /// Builds the state and starts a server on its own thread and tokio runtime.
    ///
    /// # Errors
    ///
    /// [`BuildError`] as [`build_state`](Self::build_state), or when binding fails.
    pub fn start(self) -> Result<MockServer, BuildError> {
        let state = self.build_state()?;
        MockServer::spawn(state, &self.host, self.port, self.limits)
    }
}

/// A mock server on `127.0.0.1` and a free port, with its own thread and tokio runtime: use
/// it from async tests and plain `#[test]` functions alike. Dropping it stops the server.
///
/// ```no_run
/// let server = dashscope_mock::MockServer::start();
/// let base_url = format!("{}/compatible-mode/v1", server.uri());
/// // … point a client at base_url …
/// assert!(server.journal().len() <= 1);
/// ```
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    state: MockState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MockServer {
    /// Starts a server with the embedded fixtures and default settings.
    ///
    /// # Panics
    ///
    /// When no local port can be bound or no runtime started (see
    /// [`MockServerBuilder::start`] for the fallible form).
    pub fn start() -> MockServer {
        match MockServer::builder().start() {
            Ok(s) => s,
            Err(e) => panic!("dashscope-mock: {e}"),
        }
    }

    /// A builder.
    pub fn builder() -> MockServerBuilder {
        MockServerBuilder::default()
    }

    fn spawn(
        state: MockState,
        host: &str,
        port: u16,
        limits: Limits,
    ) -> Result<MockServer, BuildError> {
        let std_listener = std::net::TcpListener::bind((host, port))?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("dashscope-mock")
            .enable_all()
            .build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<()>>();
        let served = state.clone();
        let thread = std::thread::Builder::new()
            .name("dashscope-mock".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match TcpListener::from_std(std_listener) {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    // Bounded by the grace period: serve_with cuts what is still open then.
                    let _ = serve_with(listener, served, limits, async move {
                        let _ = stopped.await;
                    })
                    .await;
                });
                runtime.shutdown_timeout(Duration::from_millis(200));
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => return Err(io::Error::other("the server thread ended early").into()),
        }
        Ok(MockServer {
            addr,
            state,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The base URI, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn uri(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn address(&self) -> SocketAddr {
        self.addr
    }

    /// The shared state (journal, cassettes, faults).
    pub fn state(&self) -> &MockState {
        &self.state
    }

    /// The requests received so far (secrets redacted), oldest first.
    pub fn journal(&self) -> Vec<JournalEntry> {
        self.state.journal()
    }

    /// Adds a cassette at run time.
    pub fn add_cassette(&self, cassette: Cassette) {
        let raw = serde_json::to_value(&cassette).unwrap_or_default();
        self.state.add_fixture(Fixture {
            origin: "runtime".to_owned(),
            cassette,
            raw,
        });
    }

    /// Adds a cassette from its JSON text at run time.
    ///
    /// # Errors
    ///
    /// [`FixtureError::Cassette`] when the text is not a cassette.
    pub fn add_cassette_json(&self, text: &str) -> Result<(), FixtureError> {
        self.state.add_fixture(fixtures::parse("runtime", text)?);
        Ok(())
    }

    /// Adds a global fault; returns its id.
    ///
    /// # Errors
    ///
    /// [`FaultParseError`] when the spec does not parse.
    pub fn add_fault(&self, spec: &str) -> Result<u64, FaultParseError> {
        self.state.add_fault(spec)
    }

    /// Removes every global fault.
    pub fn clear_faults(&self) {
        self.state.clear_faults();
    }

    /// Resets the server (see [`MockState::reset`]).
    pub fn reset(&self) {
        self.state.reset();
    }

    /// Stops the server and waits for its thread (what dropping it does).
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for MockServer {
    /// Stops accepting at once, lets open requests finish for the grace period
    /// ([`MockServerBuilder::shutdown_grace`]), cuts what is left, and joins the server thread.
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            if let Err(panic) = thread.join() {
                if !std::thread::panicking() {
                    std::panic::resume_unwind(panic);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handler::Route;

    /// [`Route::of`] sends every path where [`router`]'s route table does.
    #[tokio::test]
    async fn dispatch_routes_like_the_router() {
        let marker = |m: &'static str| any(move || async move { m });
        let mut table: Router = Router::new();
        for e in Endpoint::ALL {
            table = table.route(e.path(), marker("generation"));
        }
        for p in RESPONSES_PREFIXES {
            table = table
                .route(&format!("{p}/{{id}}"), marker("stored"))
                .route(&format!("{p}/{{id}}/input_items"), marker("stored"));
        }
        let table = table
            .route(ADMIN_PREFIX, marker("admin"))
            .route(&format!("{ADMIN_PREFIX}/{{*rest}}"), marker("admin"))
            .fallback(|| async { "unknown" });
        let mut paths: Vec<String> = [
            "/",
            "//",
            "/__mock",
            "/__mock/",
            "/__mock//",
            "/__mock/health",
            "/__mock/faults/1",
            "/__mock/a/b/",
            "/__mockx",
            "/__MOCK/health",
            "/compatible-mode/v1/chat/completions/",
            "/compatible-mode/v1/chat/completions//",
            "/compatible-mode/v1/models",
            "/api/v1/services/aigc/text-generation/generation/x",
            "/api/v1/tasks/0",
        ]
        .iter()
        .map(|p| (*p).to_owned())
        .collect();
        for e in Endpoint::ALL {
            paths.push(e.path().to_owned());
        }
        for p in RESPONSES_PREFIXES {
            for tail in [
                "",
                "/",
                "//",
                "/r",
                "/r/",
                "/r//",
                "/r/input_items",
                "/r/input_items/",
                "//input_items",
                "/r/x",
                "/r/x/input_items",
                "/r/input_itemsx",
                "/input_items",
                "/input_items/input_items",
                "x",
                "/%2F",
                "/r%2Finput_items",
            ] {
                paths.push(format!("{p}{tail}"));
            }
        }
        // Every short combination of separators and segments after each prefix.
        let tokens = ["/", "r", "input_items", "%2F", "/input_items"];
        for prefix in [
            RESPONSES_PREFIXES[0],
            RESPONSES_PREFIXES[1],
            ADMIN_PREFIX,
            "/api/v1",
        ] {
            for a in tokens {
                for b in tokens {
                    for c in tokens {
                        paths.push(format!("{prefix}{a}{b}{c}"));
                        paths.push(format!("{prefix}{a}{b}"));
                    }
                }
            }
        }
        for path in paths {
            let req = http::Request::get(path.as_str())
                .body(axum::body::Body::empty())
                .unwrap();
            let resp = tower::ServiceExt::oneshot(table.clone(), req)
                .await
                .unwrap();
            let bytes = axum::body::to_bytes(resp.into_body(), 64).await.unwrap();
            let want = std::str::from_utf8(&bytes).unwrap();
            let got = match Route::of(&path) {
                Route::Generation => "generation",
                Route::Stored => "stored",
                Route::Admin => "admin",
                Route::Unknown => "unknown",
            };
            assert_eq!(got, want, "{path}");
        }
    }
}
