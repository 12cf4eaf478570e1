//! The server's shared state: configuration, cassettes, journal, faults, stored responses.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

use crate::budget::Budget;
use crate::faults::FaultRegistry;
use crate::fixtures::Fixture;
use crate::ids::IdGen;
use crate::journal::{Journal, JournalEntry};
use crate::matching::{CassetteSet, Layer};
use crate::record::Recorder;
use crate::replay::Timing;
use crate::responder::Responder;
use crate::store::{ResponseStore, STORE_CAPACITY};

/// The default request body limit (bytes); larger bodies get 413 `BadRequest.TooLarge`.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// The default time a request body may take to arrive, from its first byte to its last: 30 s.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The default budget of bytes all requests in flight hold together (bodies and their parsed
/// JSON, see [`budget`](crate::budget)): 256 MiB.
pub const DEFAULT_MAX_INFLIGHT_BYTES: usize = 256 * 1024 * 1024;

/// Settings fixed when the server starts.
#[derive(Clone)]
pub struct MockConfig {
    /// Answer unmatched requests with a 404 listing the nearest cassettes, never the responder.
    pub strict: bool,
    /// Accepted API keys; empty: any non-empty Bearer key.
    pub api_keys: Vec<String>,
    /// Delay before every response.
    pub latency: Duration,
    /// Speed factor for recorded delays, and an extra delay between chunks.
    pub timing: Timing,
    /// The seed for request ids (and the synthetic responder); `None`: from the clock.
    pub seed: Option<u64>,
    /// Request bodies over this many bytes get 413.
    pub max_body_bytes: usize,
    /// How long a request body may take to arrive, from its first byte to its last (waits for
    /// the in-flight budget included); past it the request gets 408. `None`: no limit.
    pub body_read_timeout: Option<Duration>,
    /// The bytes all requests in flight may hold together: their bodies as they arrive, and
    /// what parsing a JSON body costs (see [`budget`](crate::budget)). A request waits for its
    /// share (within [`body_read_timeout`](Self::body_read_timeout)); one whose body alone
    /// costs more gets 413. Raised to at least twice [`max_body_bytes`](Self::max_body_bytes).
    pub max_inflight_bytes: usize,
    /// About the most bytes the stored Responses keep (responses, inputs and conversation
    /// histories); the oldest go first, and a response larger than this is not stored.
    /// Default [`DEFAULT_STORE_MAX_BYTES`](crate::store::DEFAULT_STORE_MAX_BYTES).
    pub store_max_bytes: usize,
    /// The key the admin API (`/__mock/`, except `health`) requires as a Bearer key instead of
    /// one of [`api_keys`](Self::api_keys). Without it and without `api_keys` the admin API
    /// is open.
    pub admin_key: Option<String>,
    /// The most journal entries kept.
    pub journal_capacity: usize,
    /// About the most bytes the journal keeps (entries and their bodies); the oldest entries
    /// go first. Default [`DEFAULT_JOURNAL_MAX_BYTES`](crate::journal::DEFAULT_JOURNAL_MAX_BYTES).
    pub journal_max_bytes: usize,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            strict: false,
            api_keys: Vec::new(),
            latency: Duration::ZERO,
            timing: Timing::default(),
            seed: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            body_read_timeout: Some(DEFAULT_BODY_READ_TIMEOUT),
            max_inflight_bytes: DEFAULT_MAX_INFLIGHT_BYTES,
            store_max_bytes: crate::store::DEFAULT_STORE_MAX_BYTES,
            admin_key: None,
            journal_capacity: 100_000,
            journal_max_bytes: crate::journal::DEFAULT_JOURNAL_MAX_BYTES,
        }
    }
}

impl fmt::Debug for MockConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the keys themselves.
        f.debug_struct("MockConfig")
            .field("strict", &self.strict)
            .field(
                "api_keys",
                &format_args!("[{} redacted]", self.api_keys.len()),
            )
            .field("latency", &self.latency)
            .field("timing", &self.timing)
            .field("seed", &self.seed)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("body_read_timeout", &self.body_read_timeout)
            .field("max_inflight_bytes", &self.max_inflight_bytes)
            .field("store_max_bytes", &self.store_max_bytes)
            .field("admin_key", &self.admin_key.as_ref().map(|_| "[redacted]"))
            .field("journal_capacity", &self.journal_capacity)
            .field("journal_max_bytes", &self.journal_max_bytes)
            .finish()
    }
}

pub(crate) struct Inner {
    pub(crate) config: MockConfig,
    pub(crate) cassettes: Mutex<CassetteSet>,
    pub(crate) journal: Mutex<Journal>,
    pub(crate) faults: Mutex<FaultRegistry>,
    /// How many global faults `faults` holds (kept by [`MockState::with_faults`]): a request
    /// without an `x-mock-fault` header skips the fault registry while it is zero.
    pub(crate) global_faults: AtomicUsize,
    pub(crate) store: Mutex<ResponseStore>,
    /// The bytes requests in flight hold (see [`budget`](crate::budget)).
    pub(crate) budget: Budget,
    pub(crate) ids: IdGen,
    pub(crate) responder: Arc<dyn Responder>,
    pub(crate) recorder: Option<Recorder>,
    pub(crate) shutdown: watch::Sender<bool>,
}

/// The state a [`router`](crate::router) serves from; cheap to clone (an `Arc`).
#[derive(Clone)]
pub struct MockState {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for MockState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockState")
            .field("config", &self.inner.config)
            .field("cassettes", &self.cassette_count())
            .field("recording", &self.inner.recorder.is_some())
            .finish_non_exhaustive()
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MockState {
    /// A state with these settings and cassettes, the [`Synthetic`](crate::Synthetic)
    /// responder and no record mode. [`MockServer::builder`](crate::MockServer::builder) builds
    /// richer ones.
    pub fn new(config: MockConfig, cassettes: CassetteSet) -> Self {
        Self::with_parts(
            config,
            cassettes,
            Arc::new(crate::synth::Synthetic::new()),
            None,
        )
    }

    pub(crate) fn with_parts(
        config: MockConfig,
        cassettes: CassetteSet,
        responder: Arc<dyn Responder>,
        recorder: Option<Recorder>,
    ) -> Self {
        let (shutdown, _) = watch::channel(false);
        let journal = Journal::with_limits(config.journal_capacity, config.journal_max_bytes);
        let ids = IdGen::new(config.seed);
        let budget = Budget::new(
            config
                .max_inflight_bytes
                .max(config.max_body_bytes.saturating_mul(2)),
        );
        let store = ResponseStore::with_limits(STORE_CAPACITY, config.store_max_bytes);
        MockState {
            inner: Arc::new(Inner {
                config,
                cassettes: Mutex::new(cassettes),
                journal: Mutex::new(journal),
                faults: Mutex::new(FaultRegistry::new()),
                global_faults: AtomicUsize::new(0),
                store: Mutex::new(store),
                budget,
                ids,
                responder,
                recorder,
                shutdown,
            }),
        }
    }

    /// The settings.
    pub fn config(&self) -> &MockConfig {
        &self.inner.config
    }

    /// The seed in use (the configured one, or the one drawn from the clock).
    pub fn seed(&self) -> u64 {
        self.inner.ids.seed()
    }

    /// The journal, oldest first.
    pub fn journal(&self) -> Vec<JournalEntry> {
        lock(&self.inner.journal).entries()
    }

    /// The number of cassettes loaded.
    pub fn cassette_count(&self) -> usize {
        lock(&self.inner.cassettes).len()
    }

    /// The names of the cassettes loaded, in load order.
    pub fn cassette_names(&self) -> Vec<String> {
        lock(&self.inner.cassettes)
            .entries()
            .iter()
            .map(|e| e.cassette.name.clone())
            .collect()
    }

    /// Adds a cassette at run time (it wins ties over loaded fixtures).
    pub fn add_fixture(&self, fixture: Fixture) {
        lock(&self.inner.cassettes).add(fixture.cassette, Some(&fixture.raw), Layer::Runtime);
    }

    /// Adds a unified cassette at run time: it answers its conversation in every dialect
    /// (and wins ties over loaded fixtures).
    pub fn add_unified(&self, cassette: dashscope_protocol::cassette::UnifiedCassette) {
        lock(&self.inner.cassettes).add_unified(cassette, Layer::Runtime);
    }

    /// Adds a global fault (the `x-mock-fault` grammar); returns its id.
    ///
    /// # Errors
    ///
    /// [`FaultParseError`](crate::faults::FaultParseError) when the spec does not parse, or
    /// [`MAX_GLOBAL_FAULTS`](crate::faults::MAX_GLOBAL_FAULTS) are set already.
    pub fn add_fault(&self, spec: &str) -> Result<u64, crate::faults::FaultParseError> {
        let spec = crate::faults::FaultSpec::parse(spec)?;
        self.with_faults(|f| f.add(spec))
    }

    /// Removes every global fault.
    pub fn clear_faults(&self) {
        self.with_faults(FaultRegistry::clear);
    }

    /// Runs `f` on the fault registry, then records how many global faults it holds.
    pub(crate) fn with_faults<R>(&self, f: impl FnOnce(&mut FaultRegistry) -> R) -> R {
        let mut faults = lock(&self.inner.faults);
        let r = f(&mut faults);
        self.inner
            .global_faults
            .store(faults.global_len(), Ordering::Release);
        r
    }

    /// Whether any global fault is set (a cheap check before taking the registry's lock).
    pub(crate) fn has_global_faults(&self) -> bool {
        self.inner.global_faults.load(Ordering::Acquire) > 0
    }

    /// Clears the journal, stored responses, fault counters and global faults, re-arms the
    /// `once` cassettes, removes cassettes added at run time, and restarts request ids.
    pub fn reset(&self) {
        lock(&self.inner.journal).clear();
        lock(&self.inner.store).clear();
        self.with_faults(|faults| {
            faults.clear();
            faults.reset_counters();
        });
        {
            let mut set = lock(&self.inner.cassettes);
            set.remove_layer(Layer::Runtime);
            set.rearm();
        }
        self.inner.ids.reset();
    }

    /// Tells open streams the server is stopping: stalled and delayed streams end.
    pub fn stop_streams(&self) {
        self.inner.shutdown.send_replace(true);
    }

    pub(crate) fn shutdown_receiver(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }
}
