//! The router, the serve loop, and [`MockServer`]: a server on its own thread for tests.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::any;
use dashscope_protocol::cassette::Cassette;
use tokio::net::TcpListener;

use crate::admin::{ADMIN_PREFIX, admin};
use crate::conn::{MockConn, MockListener};
use crate::endpoint::{Endpoint, RESPONSES_PREFIXES};
use crate::faults::{FaultParseError, FaultSpec};
use crate::fixtures::{self, Fixture, FixtureError};
use crate::handler;
use crate::journal::JournalEntry;
use crate::matching::{CassetteSet, Layer};
use crate::models::ModelPolicy;
use crate::record::{RecordError, Recorder};
use crate::responder::Responder;
use crate::state::{MockConfig, MockState, lock};
use crate::synth::Synthetic;

/// The mock's routes: the five generation paths, the stored-response paths, the admin API
/// under `/__mock/`, and a JSON 404 for everything else.
pub fn router(state: MockState) -> Router {
    let mut r = Router::new();
    for e in Endpoint::ALL {
        r = r.route(e.path(), any(handler::generation));
    }
    for p in RESPONSES_PREFIXES {
        r = r
            .route(&format!("{p}/{{id}}"), any(handler::stored_response))
            .route(
                &format!("{p}/{{id}}/input_items"),
                any(handler::stored_response),
            );
    }
    r.route(ADMIN_PREFIX, any(admin))
        .route(&format!("{ADMIN_PREFIX}/{{*rest}}"), any(admin))
        .fallback(handler::unknown)
        .with_state(state)
}

/// Serves `state` on `listener` until `shutdown` resolves, then waits for open connections.
///
/// Responses keep their recorded header-name case and `reset` faults reset the connection
/// (see [`conn`](crate::conn)). To bound the wait for open streams, call
/// [`MockState::stop_streams`] after a grace period.
///
/// # Errors
///
/// The serve loop's I/O error.
pub async fn serve<F>(listener: TcpListener, state: MockState, shutdown: F) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let app = router(state).into_make_service_with_connect_info::<MockConn>();
    axum::serve(MockListener::new(listener), app)
        .with_graceful_shutdown(shutdown)
        .await
}

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
    grace: Duration,
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
            grace: Duration::from_secs(1),
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

    /// The most journal entries kept (default 100 000).
    pub fn journal_capacity(mut self, n: usize) -> Self {
        self.config.journal_capacity = n;
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

    /// How long [`MockServer`]'s drop waits for open connections (default 1 s).
    pub fn shutdown_grace(mut self, d: Duration) -> Self {
        self.grace = d;
        self
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
        {
            let mut faults = lock(&state.inner.faults);
            for spec in specs {
                faults.add(spec);
            }
        }
        Ok(state)
    }

    /// Builds the state and starts a server on its own thread and tokio runtime.
    ///
    /// # Errors
    ///
    /// [`BuildError`] as [`build_state`](Self::build_state), or when binding fails.
    pub fn start(self) -> Result<MockServer, BuildError> {
        let state = self.build_state()?;
        MockServer::spawn(state, &self.host, self.port, self.grace)
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
        grace: Duration,
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
                    let mut streams_stopped = served.shutdown_receiver();
                    let serving = serve(listener, served, async move {
                        let _ = stopped.await;
                    });
                    tokio::select! {
                        _ = serving => {}
                        () = async {
                            let _ = streams_stopped.wait_for(|s| *s).await;
                            tokio::time::sleep(grace).await;
                        } => {}
                    }
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
    fn drop(&mut self) {
        self.state.stop_streams();
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
