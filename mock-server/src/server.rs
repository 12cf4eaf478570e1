//! The route table ([`router`]), the serve loop ([`serve`]), and [`MockServer`]: one serving
//! path for the binary, `MockServer` and in-process use.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::any;
use dashscope_protocol::cassette::{AnyCassette, CassetteError};
use dashscope_protocol::dialect::{Endpoint, RESPONSES_LEGACY_PATH, RESPONSES_PATH};
use futures_util::FutureExt as _;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tower::ServiceExt as _;

use crate::admin::{ADMIN_PREFIX, Bound, admin};
use crate::conn::MockIo;
use crate::faults::{FaultParseError, FaultSpec, MAX_SPEED, MIN_SPEED};
use crate::handler;
use crate::matching::{CassetteSet, Layer, parse};
use crate::state::{MockConfig, MockState, Recorder};
use crate::synth::{Responder, Synthetic};

/// The mock's routes: the five generation paths, the stored-response paths, the admin API
/// under `/__mock/`, and a 404 in the path's dialect shape for everything else.
///
/// [`serve`] serves exactly this router on each connection. Served any other way (in-process
/// with tower's `oneshot`, or `axum::serve`), a `reset` fault degrades to a body that fails at
/// once, and the admin API, which does not know the address it is bound to, skips its
/// DNS-rebinding check; everything else is the same.
pub fn router(state: MockState) -> Router {
    let mut r = Router::new();
    for e in Endpoint::ALL {
        r = r.route(e.path(), any(handler::generation));
    }
    for p in [RESPONSES_PATH, RESPONSES_LEGACY_PATH] {
        r = r
            .route(&format!("{p}/{{id}}"), any(handler::stored))
            .route(&format!("{p}/{{id}}/input_items"), any(handler::stored));
    }
    r.route(MODELS_PATH, any(handler::models))
        .route(ADMIN_PREFIX, any(admin))
        .route(&format!("{ADMIN_PREFIX}/{{*rest}}"), any(admin))
        .fallback(handler::unknown)
        .with_state(state)
}

/// The OpenAI-style model list (see [`handler::models`]).
const MODELS_PATH: &str = "/compatible-mode/v1/models";

/// Every bound of a server, with its default and what happens past it.
///
/// | limit | default | over it |
/// |---|---|---|
/// | [`max_body_bytes`](Self::max_body_bytes) | 16 MiB | 413 `BadRequest.TooLarge` in the request's dialect |
/// | [`body_read_timeout`](Self::body_read_timeout) | 30 s | 408 |
/// | [`max_inflight_bytes`](Self::max_inflight_bytes) | 256 MiB | requests wait for their share (within the body-read timeout); one costing more than all of it: 413 |
/// | [`max_header_bytes`](Self::max_header_bytes) | 64 KiB | `431`, empty body, connection closed |
/// | [`max_headers`](Self::max_headers) | 100 | the same 431 |
/// | [`header_read_timeout`](Self::header_read_timeout) | 30 s | the connection is closed without an answer |
/// | [`max_connections`](Self::max_connections) | 10 000 | new connections wait in the listen backlog |
/// | [`shutdown_grace`](Self::shutdown_grace) | 10 s ([`MockServer`]: 1 s) | open requests are cut |
/// | [`journal_capacity`](Self::journal_capacity) | 100 000 | the oldest entries go |
/// | [`journal_max_bytes`](Self::journal_max_bytes) | 64 MiB | the oldest entries go |
/// | [`store_max_bytes`](Self::store_max_bytes) | 64 MiB | the oldest stored Responses go |
///
/// The 431 is hyper's own answer (no dialect is known before the head is parsed). A
/// connection closed with request bytes unread (after a 413 or a 431) first reads and drops
/// them for at most 5 s, so a client still writing reads the answer rather than a reset.
///
/// ```
/// use std::time::Duration;
/// let mut limits = dashscope_mock::Limits::default();
/// limits.header_read_timeout = Some(Duration::from_secs(5));
/// assert_eq!(limits.max_headers, 100);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The most bytes a request body may have.
    pub max_body_bytes: usize,
    /// How long a request body may take to arrive, from the end of the head (waits for the
    /// in-flight budget included). `None` (or zero): no limit.
    pub body_read_timeout: Option<Duration>,
    /// The bytes all requests in flight may hold together: their bodies as they arrive, and
    /// what parsing a JSON body costs (an upper bound read from its text, up to about 90 times
    /// its length for `[{"a":0},…]`). Raised to at least twice `max_body_bytes`.
    pub max_inflight_bytes: usize,
    /// The most bytes a request head (request line and header fields) may take.
    pub max_header_bytes: usize,
    /// The most header fields a request may carry.
    pub max_headers: usize,
    /// How long a connection has to send a complete request head, counted from the first
    /// read of each head; an idle keep-alive connection is closed after the same time.
    /// `None` (or zero): no limit.
    pub header_read_timeout: Option<Duration>,
    /// The most connections served at once (at least 1).
    pub max_connections: usize,
    /// After shutdown starts: how long open requests (streams included) may take to finish;
    /// then delayed and stalled streams are cut and every connection still open is dropped
    /// (shutdown ends within the grace period plus about 100 ms).
    pub shutdown_grace: Duration,
    /// The most journal entries kept (at least 1).
    pub journal_capacity: usize,
    /// About the most bytes the journal keeps (the newest entry is always kept).
    pub journal_max_bytes: usize,
    /// About the most bytes the stored Responses keep (responses, inputs and conversation
    /// histories); a response larger than this is not stored.
    pub store_max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 16 * 1024 * 1024,
            body_read_timeout: Some(Duration::from_secs(30)),
            max_inflight_bytes: 256 * 1024 * 1024,
            max_header_bytes: 64 * 1024,
            max_headers: 100,
            header_read_timeout: Some(Duration::from_secs(30)),
            max_connections: 10_000,
            shutdown_grace: Duration::from_secs(10),
            journal_capacity: 100_000,
            journal_max_bytes: 64 * 1024 * 1024,
            store_max_bytes: 64 * 1024 * 1024,
        }
    }
}

/// hyper's smallest read buffer; a header cap below it is enforced on the parsed head instead.
const MIN_READ_BUFFER: usize = 8192;
/// After the grace period, how long cut streams get to flush what they sent before their
/// connections are dropped.
const CUT_FLUSH: Duration = Duration::from_millis(100);

/// Serves `state` on `listener` under `limits` until `shutdown` resolves: [`router`] on each
/// connection, HTTP/1.1, each connection on its own task (a slow or stalled client holds only
/// its own). Accept errors (out of file descriptors) are logged and retried after 20 ms.
///
/// When `shutdown` resolves the listener is closed at once, idle connections are closed, and
/// open requests may finish for [`Limits::shutdown_grace`]; then streams are cut and the
/// remaining connections dropped. It returns when every connection is gone.
///
/// # Errors
///
/// None in practice; the `Result` is kept for callers that treat serving as fallible.
pub async fn serve<F>(
    listener: TcpListener,
    state: MockState,
    limits: Limits,
    shutdown: F,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout.filter(|d| !d.is_zero()))
        .max_headers(limits.max_headers.max(1))
        .max_header_size(limits.max_header_bytes.max(1))
        // A head that has not ended when the buffer is full is over the limit as well.
        .max_buf_size(limits.max_header_bytes.max(MIN_READ_BUFFER));
    let permits = Arc::new(Semaphore::new(
        limits.max_connections.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let (closing_tx, closing_rx) = watch::channel(false);
    let mut conns: JoinSet<()> = JoinSet::new();
    // The admin API's loopback checks need the bound address.
    let bound = listener.local_addr().ok().map(Bound);
    let routes = router(state.clone());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => None,
            // A permit first: at the cap, connections wait in the backlog, not in memory.
            permit = Arc::clone(&permits).acquire_owned() => Some(permit),
        };
        let Some(Ok(permit)) = accepted else { break };
        let (stream, remote) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    tracing::debug!("accept error: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        while conns.try_join_next().is_some() {}
        let (io, handle) = MockIo::new(stream);
        let routes = routes.clone();
        let service = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
            req.extensions_mut().insert(handle.clone());
            if let Some(b) = bound {
                req.extensions_mut().insert(b);
            }
            let call = routes.clone().oneshot(req.map(axum::body::Body::new));
            async move { Ok::<_, Infallible>(call.await.unwrap_or_else(|never| match never {})) }
        });
        let conn = http.serve_connection(TokioIo::new(io), service);
        let mut closing = closing_rx.clone();
        conns.spawn(async move {
            let _permit = permit;
            let mut conn = std::pin::pin!(conn);
            let served = tokio::select! {
                r = conn.as_mut() => r,
                () = async { let _ = closing.wait_for(|c| *c).await; } => {
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
    let drain = async |conns: &mut JoinSet<()>| while conns.join_next().await.is_some() {};
    if tokio::time::timeout(limits.shutdown_grace, drain(&mut conns))
        .await
        .is_err()
    {
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

/// A mock server could not be built or started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A cassette file or directory could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A text is not a cassette.
    #[error("{origin}: {source}")]
    Cassette {
        /// Where the text came from (a path, `builder`, `admin`, `runtime`).
        origin: String,
        /// Why it is not a cassette.
        #[source]
        source: CassetteError,
    },
    /// A fault spec does not parse.
    #[error(transparent)]
    Fault(#[from] FaultParseError),
    /// A setting is out of range, or record mode could not be set up.
    #[error("{0}")]
    Config(String),
    /// Binding or starting the runtime failed.
    #[error("cannot start the mock server: {0}")]
    Io(#[from] io::Error),
}

/// Configures a [`MockServer`] (or a [`MockState`] for [`router`] and [`serve`]).
pub struct MockServerBuilder {
    config: MockConfig,
    defaults: bool,
    dirs: Vec<PathBuf>,
    cassettes: Vec<(String, Option<AnyCassette>)>,
    faults: Vec<String>,
    responder: Arc<dyn Responder>,
    #[cfg(feature = "record")]
    record: Option<(String, PathBuf)>,
    host: String,
    port: u16,
}

impl std::fmt::Debug for MockServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServerBuilder")
            .field("limits", &self.config.limits)
            .field("dirs", &self.dirs)
            .finish_non_exhaustive()
    }
}

impl Default for MockServerBuilder {
    fn default() -> Self {
        MockServerBuilder {
            config: MockConfig {
                speed: 1.0,
                limits: Limits {
                    shutdown_grace: Duration::from_secs(1),
                    ..Limits::default()
                },
                ..MockConfig::default()
            },
            defaults: true,
            dirs: Vec::new(),
            cassettes: Vec::new(),
            faults: Vec::new(),
            responder: Arc::new(Synthetic::default()),
            #[cfg(feature = "record")]
            record: None,
            host: "127.0.0.1".to_owned(),
            port: 0,
        }
    }
}

/// Setters of [`Limits`] fields on the builder.
macro_rules! limit_setters {
    ($($name:ident: $ty:ty;)*) => {$(
        #[doc = concat!("Sets [`Limits::", stringify!($name), "`] (see its default there).")]
        pub fn $name(mut self, v: $ty) -> Self {
            self.config.limits.$name = v.into();
            self
        }
    )*};
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

    /// Loads every `*.json` cassette under `dir` too (recursively, in path order).
    pub fn fixtures_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dirs.push(dir.into());
        self
    }

    /// Adds a wire cassette (it wins ties over files; a reset keeps it).
    pub fn cassette(mut self, cassette: crate::Cassette) -> Self {
        self.cassettes
            .push((String::new(), Some(AnyCassette::Wire(cassette))));
        self
    }

    /// Adds a cassette of either kind from its JSON text (the conversation conditions in
    /// `match` count); a text that does not parse fails the build.
    pub fn cassette_json(mut self, text: impl Into<String>) -> Self {
        self.cassettes.push((text.into(), None));
        self
    }

    /// Strict mode: unmatched requests get the 404 with the nearest cassettes, never the
    /// responder.
    pub fn strict(mut self, yes: bool) -> Self {
        self.config.strict = yes;
        self
    }

    /// Accepts this API key (once any key is given, only the given keys are accepted, and the
    /// admin API needs one too).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.config.api_keys.push(key.into());
        self
    }

    /// The key the admin API requires (`Authorization: Bearer <key>`) instead of an
    /// [`api_key`](Self::api_key).
    pub fn admin_key(mut self, key: impl Into<String>) -> Self {
        self.config.admin_key = Some(key.into());
        self
    }

    /// A delay before every response.
    pub fn latency(mut self, d: Duration) -> Self {
        self.config.latency = d;
        self
    }

    /// An extra delay before every chunk after the first.
    pub fn chunk_delay(mut self, d: Duration) -> Self {
        self.config.chunk_delay = d;
        self
    }

    /// Replays recorded delays at `factor` times the speed: 0 (no recorded delays) or from
    /// 0.001 to 1,000,000 (else the build fails).
    pub fn speed(mut self, factor: f64) -> Self {
        self.config.speed = factor;
        self
    }

    /// The seed for request ids and synthetic answers; a seeded server also fixes the
    /// `created` times of its answers, so they are byte-identical across runs.
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = Some(seed);
        self
    }

    /// A global fault in the `x-mock-fault` grammar (see the crate docs); a spec that does not
    /// parse fails the build. A reset brings the start-up faults back.
    pub fn fault(mut self, spec: impl Into<String>) -> Self {
        self.faults.push(spec.into());
        self
    }

    /// The responder for unmatched requests (default [`Synthetic`]; [`NoSynthesis`](crate::NoSynthesis)
    /// answers nothing; a closure `Fn(&MockRequest<'_>) -> Option<RecordedResponse>` is one).
    pub fn responder(mut self, responder: impl Responder) -> Self {
        self.responder = Arc::new(responder);
        self.config.custom_responder = true;
        self
    }

    /// Record mode: forward to `upstream`, write cassettes under `dir` (created when missing;
    /// the `record` feature).
    #[cfg(feature = "record")]
    pub fn record(mut self, upstream: impl Into<String>, dir: impl Into<PathBuf>) -> Self {
        self.record = Some((upstream.into(), dir.into()));
        self
    }

    /// Replaces every bound at once (see [`Limits`]).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.config.limits = limits;
        self
    }

    limit_setters! {
        max_body_bytes: usize;
        body_read_timeout: impl Into<Option<Duration>>;
        max_inflight_bytes: usize;
        max_header_bytes: usize;
        max_headers: usize;
        header_read_timeout: impl Into<Option<Duration>>;
        max_connections: usize;
        shutdown_grace: Duration;
        journal_capacity: usize;
        journal_max_bytes: usize;
        store_max_bytes: usize;
    }

    /// The address [`start`](Self::start) binds (default `127.0.0.1`, port 0).
    pub fn bind(mut self, host: impl Into<String>, port: u16) -> Self {
        self.host = host.into();
        self.port = port;
        self
    }

    /// Builds the state: loads the cassettes (embedded, directories, given), parses the
    /// faults, sets up record mode.
    ///
    /// # Errors
    ///
    /// [`BuildError`] for a cassette, fault, setting or record set-up that fails.
    pub fn build_state(&self) -> Result<MockState, BuildError> {
        let speed = self.config.speed;
        if !(speed == 0.0 || (MIN_SPEED..=MAX_SPEED).contains(&speed)) {
            let e = format!(
                "--speed must be 0 (no recorded delays) or from {MIN_SPEED} to {MAX_SPEED}, got {speed}"
            );
            return Err(BuildError::Config(e));
        }
        // Record mode first: it creates its directory, which may be a `--fixtures` one.
        #[cfg(feature = "record")]
        let recorder = (self.record.as_ref())
            .map(|(upstream, dir)| Recorder::new(upstream, dir.clone()))
            .transpose()?;
        #[cfg(not(feature = "record"))]
        let recorder: Option<Recorder> = None;
        let mut set = CassetteSet::new(self.defaults);
        for dir in &self.dirs {
            set.load_dir(dir)?;
        }
        for (text, cassette) in &self.cassettes {
            let c = match cassette {
                Some(c) => c.clone(),
                None => parse("builder", text)?,
            };
            set.add(c, Layer::Builder);
        }
        let faults = self
            .faults
            .iter()
            .map(|s| FaultSpec::parse(s))
            .collect::<Result<_, _>>()?;
        Ok(MockState::new(
            self.config.clone(),
            set,
            faults,
            Arc::clone(&self.responder),
            recorder,
        )?)
    }

    /// Builds the state and starts a server on its own thread (see [`MockServer`]).
    ///
    /// # Errors
    ///
    /// [`BuildError`] as [`build_state`](Self::build_state), or when binding fails.
    pub fn start(self) -> Result<MockServer, BuildError> {
        let state = self.build_state()?;
        MockServer::spawn(state, &self.host, self.port)
    }
}

/// A mock server on `127.0.0.1` and a free port, on its own thread: use it from async tests
/// and plain `#[test]` functions alike. It dereferences to its [`MockState`] (journal,
/// cassettes, faults, reset). Dropping it stops the server.
///
/// The server runs on one thread with a current-thread tokio runtime, as wiremock-rs's does:
/// a test server's work per request is small, and waking other threads would cost more than
/// it saves. Starting a server binds a socket and hands it to an idle server thread from a
/// process-wide pool (at most 8 idle threads are kept, each with its runtime);
/// dropping it waits for its shutdown, then gives the thread back. The embedded cassettes are
/// parsed once per process.
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
    /// Stops the server, and the worker serving it (until then).
    running: Option<(tokio::sync::oneshot::Sender<()>, Worker)>,
}

/// The most idle server threads [`MockServer`] keeps for later servers.
const POOL_SIZE: usize = 8;

/// Idle server threads.
static POOL: std::sync::Mutex<Vec<Worker>> = std::sync::Mutex::new(Vec::new());

/// A server thread with its current-thread runtime: it serves one job after another, and says
/// when each is done.
#[derive(Debug)]
struct Worker {
    jobs: std::sync::mpsc::Sender<Job>,
    done: std::sync::mpsc::Receiver<()>,
    thread: std::thread::JoinHandle<()>,
}

/// What a worker runs on its runtime: a server until it stops.
type Job = Box<dyn FnOnce(&tokio::runtime::Runtime) + Send>;

impl Worker {
    /// A new thread, running `job` first.
    fn new(job: Job) -> io::Result<Worker> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (jobs, rx) = std::sync::mpsc::channel::<Job>();
        let (done_tx, done) = std::sync::mpsc::channel();
        let _ = jobs.send(job);
        let thread = std::thread::Builder::new()
            .name("dashscope-mock".to_owned())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job(&runtime);
                    let _ = done_tx.send(());
                }
            })?;
        Ok(Worker { jobs, done, thread })
    }
}

impl MockServer {
    /// Starts a server with the embedded fixtures and default settings.
    ///
    /// # Panics
    ///
    /// When no local port can be bound or no runtime started (see
    /// [`MockServerBuilder::start`] for the fallible form).
    pub fn start() -> MockServer {
        MockServer::builder()
            .start()
            .unwrap_or_else(|e| panic!("dashscope-mock: {e}"))
    }

    /// A builder.
    pub fn builder() -> MockServerBuilder {
        MockServerBuilder::default()
    }

    /// Serves `state` on a pooled worker (a new one when none is idle or its thread ended).
    fn spawn(state: MockState, host: &str, port: u16) -> Result<MockServer, BuildError> {
        let listener = bind(host, port)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = state.clone();
        let job: Job = Box::new(move |runtime| {
            let limits = served.config().limits.clone();
            // Bounded by the grace period: `serve` cuts what is still open then.
            runtime.block_on(async move {
                let stop = stopped.map(|_| ());
                match TcpListener::from_std(listener) {
                    Ok(l) => drop(serve(l, served, limits, stop).await),
                    Err(e) => tracing::error!("cannot serve: {e}"),
                }
            });
        });
        let pooled = crate::state::lock(&POOL).pop();
        let worker = match pooled {
            Some(w) => match w.jobs.send(job) {
                Ok(()) => w,
                // Its thread has ended: a new one.
                Err(back) => Worker::new(back.0)?,
            },
            None => Worker::new(job)?,
        };
        Ok(MockServer {
            addr,
            state,
            running: Some((stop, worker)),
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

    /// The shared state (what the server dereferences to).
    pub fn state(&self) -> &MockState {
        &self.state
    }

    /// Stops the server and waits for its thread (what dropping it does).
    pub fn shutdown(self) {
        drop(self);
    }

    fn stop(&mut self) {
        let Some((stop, worker)) = self.running.take() else {
            return;
        };
        let _ = stop.send(());
        if worker.done.recv().is_ok() {
            let mut pool = crate::state::lock(&POOL);
            if pool.len() < POOL_SIZE {
                pool.push(worker);
            }
            return;
        }
        // The thread ended without finishing the job: it panicked.
        drop(worker.jobs);
        if let Err(panic) = worker.thread.join() {
            if !std::thread::panicking() {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

/// Binds a listener with `SO_REUSEADDR` on Unix, as tokio's `TcpListener::bind` does: without
/// it, picking a free port steps over every port that earlier servers' closed connections hold
/// in TIME_WAIT, which takes milliseconds once a test process has run a few thousand servers.
fn bind(host: &str, port: u16) -> io::Result<std::net::TcpListener> {
    let mut last = None;
    for addr in std::net::ToSocketAddrs::to_socket_addrs(&(host, port))? {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM,
            None,
        )?;
        #[cfg(unix)]
        socket.set_reuse_address(true)?;
        match socket.bind(&addr.into()).and_then(|()| socket.listen(1024)) {
            Ok(()) => return Ok(socket.into()),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address")))
}

impl Deref for MockServer {
    type Target = MockState;

    fn deref(&self) -> &MockState {
        &self.state
    }
}

impl Drop for MockServer {
    /// Stops accepting at once, lets open requests finish for the grace period
    /// ([`MockServerBuilder::shutdown_grace`]), cuts what is left, and waits for that; then
    /// gives the server thread back to the pool. Then, unless the thread is panicking
    /// already, panics with the report of [`verify`](MockState::verify) when a mounted
    /// mock's expectation does not hold.
    fn drop(&mut self) {
        // Unless the test is failing already.
        let unmet = (!std::thread::panicking())
            .then(|| self.state.verify().err())
            .flatten();
        self.stop();
        if let Some(report) = unmet {
            panic!("{report}");
        }
    }
}
