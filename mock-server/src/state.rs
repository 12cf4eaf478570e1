//! The server's shared state: settings, cassettes, journal, faults, stored responses.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dashscope_protocol::cassette::{AnyCassette, Cassette, UnifiedCassette};
use tokio::sync::watch;

use crate::budget::Budget;
use crate::expect::{Mock, Mounts, VerifyError};
use crate::faults::{FaultParseError, FaultRegistry, FaultSpec};
use crate::journal::{Journal, JournalEntry};
use crate::matching::{CassetteSet, Layer};
#[cfg(feature = "record")]
pub(crate) use crate::record::Recorder;
use crate::server::{BuildError, Limits};
use crate::store::ResponseStore;
use crate::synth::Responder;
use dashscope_transport::secrets::{Secrets, request_keys};

/// Without the `record` feature there is no recorder (`Inner::recorder` is always `None`).
#[cfg(not(feature = "record"))]
#[derive(Debug)]
pub(crate) enum Recorder {}

#[cfg(not(feature = "record"))]
impl Recorder {
    pub(crate) async fn forward(
        &self,
        _: &crate::handler::Ctx,
        _: Option<&crate::handler::BodyError>,
    ) -> axum::response::Response {
        match *self {}
    }
}

/// Settings fixed when the server starts (the bounds are in [`Limits`]). No `Debug`: it holds
/// the keys.
#[derive(Clone, Default)]
pub(crate) struct MockConfig {
    /// Answer unmatched requests with a 404 listing the nearest cassettes, never the responder.
    pub(crate) strict: bool,
    /// Accepted API keys; empty: any non-empty Bearer key.
    pub(crate) api_keys: Vec<String>,
    /// The key the admin API requires instead of one of `api_keys`.
    pub(crate) admin_key: Option<String>,
    /// Delay before every response.
    pub(crate) latency: Duration,
    /// Speed factor for recorded delays (0: none), and an extra delay between chunks.
    pub(crate) speed: f64,
    pub(crate) chunk_delay: Duration,
    /// The seed for request ids and the synthetic responder; `None`: from the clock.
    pub(crate) seed: Option<u64>,
    /// Whether the responder is not the default [`Synthetic`](crate::Synthetic).
    pub(crate) custom_responder: bool,
    pub(crate) limits: Limits,
}

pub(crate) struct Inner {
    pub(crate) config: MockConfig,
    pub(crate) cassettes: Mutex<CassetteSet>,
    pub(crate) journal: Mutex<Journal>,
    pub(crate) faults: Mutex<FaultRegistry>,
    /// The global faults given at start-up (a reset brings them back).
    start_faults: Vec<FaultSpec>,
    /// How many global faults `faults` holds: a request without an `x-mock-fault` header
    /// skips the registry while it is zero.
    global_faults: AtomicUsize,
    pub(crate) store: Mutex<ResponseStore>,
    /// The mounted mocks and the scenarios' states.
    pub(crate) mounts: Mutex<Mounts>,
    /// The bytes requests in flight hold (see [`budget`](crate::budget)).
    pub(crate) budget: Budget,
    seed: u64,
    next_id: AtomicU64,
    pub(crate) responder: Arc<dyn Responder>,
    pub(crate) recorder: Option<Recorder>,
    pub(crate) shutdown: watch::Sender<bool>,
    /// The searchers of the last set of request keys seen (clients send the same key again).
    secrets: Mutex<Option<(Vec<String>, Arc<Secrets>)>>,
}

/// A mock's state: what [`router`](crate::router) and [`serve`](crate::serve) answer from,
/// and what a test inspects and changes (journal, cassettes, faults). Cheap to clone (an
/// `Arc`); [`MockServer`](crate::MockServer) dereferences to its state.
#[derive(Clone)]
pub struct MockState {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for MockState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockState")
            .field("limits", &self.inner.config.limits)
            .field("cassettes", &lock(&self.inner.cassettes).len())
            .field("recording", &self.inner.recorder.is_some())
            .finish_non_exhaustive()
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// SplitMix64: a small, well-mixed 64-bit generator step.
pub(crate) fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A request id (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`), held inline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RequestId([u8; 36]);

impl RequestId {
    /// The id of two 64-bit halves (version 4, RFC 4122 variant bits set).
    pub(crate) fn from_parts(hi: u64, lo: u64) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let bits = (u128::from((hi & !0xF000) | 0x4000) << 64)
            | u128::from((lo & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000);
        let mut out = [b'-'; 36];
        let mut digit = 0;
        for (pos, byte) in out.iter_mut().enumerate() {
            if !matches!(pos, 8 | 13 | 18 | 23) {
                *byte = HEX[(bits >> (124 - 4 * digit)) as usize & 0xF];
                digit += 1;
            }
        }
        RequestId(out)
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII hex digits and dashes are ever written.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl MockState {
    pub(crate) fn new(
        config: MockConfig,
        cassettes: CassetteSet,
        start_faults: Vec<FaultSpec>,
        responder: Arc<dyn Responder>,
        recorder: Option<Recorder>,
    ) -> Result<Self, FaultParseError> {
        let l = &config.limits;
        let journal = Journal::new(l.journal_capacity, l.journal_max_bytes);
        let budget = Budget::new(l.max_inflight_bytes.max(l.max_body_bytes.saturating_mul(2)));
        let store = ResponseStore::new(l.store_max_bytes);
        let seed = config.seed.unwrap_or_else(|| {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            splitmix64(nanos ^ (u64::from(std::process::id()) << 32))
        });
        let state = MockState {
            inner: Arc::new(Inner {
                config,
                cassettes: Mutex::new(cassettes),
                journal: Mutex::new(journal),
                faults: Mutex::new(FaultRegistry::default()),
                start_faults,
                global_faults: AtomicUsize::new(0),
                store: Mutex::new(store),
                mounts: Mutex::default(),
                budget,
                seed,
                next_id: AtomicU64::new(0),
                responder,
                recorder,
                shutdown: watch::channel(false).0,
                secrets: Mutex::default(),
            }),
        };
        state.with_faults(|f| f.reset_to(&state.inner.start_faults))?;
        Ok(state)
    }

    pub(crate) fn config(&self) -> &MockConfig {
        &self.inner.config
    }

    /// The seed in use (the configured one, or the one drawn from the clock).
    pub fn seed(&self) -> u64 {
        self.inner.seed
    }

    /// The next request id: with a seed, the n-th id is a pure function of the seed and n.
    pub(crate) fn next_request_id(&self) -> RequestId {
        let n = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let half = |k: u64| splitmix64(self.inner.seed ^ splitmix64(n.wrapping_mul(2) + k));
        RequestId::from_parts(half(0), half(1))
    }

    /// The requests received so far (keys redacted), oldest first.
    pub fn journal(&self) -> Vec<JournalEntry> {
        lock(&self.inner.journal).entries()
    }

    /// Adds a wire cassette at run time (it wins ties over loaded ones).
    pub fn add_cassette(&self, cassette: Cassette) {
        lock(&self.inner.cassettes).add(AnyCassette::Wire(cassette), Layer::Runtime);
    }

    /// Adds a unified cassette at run time: it answers its conversation in every dialect.
    pub fn add_unified(&self, cassette: UnifiedCassette) {
        lock(&self.inner.cassettes).add(AnyCassette::Unified(cassette), Layer::Runtime);
    }

    /// Adds a cassette of either kind from its JSON text (the mock's matcher extensions in
    /// `match` count, see [`router`](crate::router)).
    ///
    /// # Errors
    ///
    /// [`BuildError::Cassette`] when the text is not a cassette.
    pub fn add_cassette_json(&self, text: &str) -> Result<(), BuildError> {
        let cassette = crate::matching::parse("runtime", text)?;
        lock(&self.inner.cassettes).add(cassette, Layer::Runtime);
        Ok(())
    }

    /// Mounts a [`Mock`]: it is checked before the cassettes, after the mocks mounted before
    /// it. A [`reset`](Self::reset) unmounts every mock.
    pub fn mount(&self, mock: Mock) {
        lock(&self.inner.mounts).mount(mock);
    }

    /// Checks the expected request counts of the mounted mocks (what dropping a
    /// [`MockServer`](crate::MockServer) does, panicking with the report).
    ///
    /// # Errors
    ///
    /// [`VerifyError`], whose `Display` lists the unmet expectations and the requests that
    /// arrived.
    pub fn verify(&self) -> Result<(), VerifyError> {
        let mounts = lock(&self.inner.mounts);
        crate::expect::verify(&mounts, &self.journal())
    }

    /// Adds a global fault (the `x-mock-fault` grammar); returns its id.
    ///
    /// # Errors
    ///
    /// [`FaultParseError`] when the spec does not parse or 256 global faults are set already.
    pub fn add_fault(&self, spec: &str) -> Result<u64, FaultParseError> {
        let spec = FaultSpec::parse(spec)?;
        self.with_faults(|f| f.add(spec))
    }

    /// Removes every global fault (those given at start-up too, until the next
    /// [`reset`](Self::reset)).
    pub fn clear_faults(&self) {
        self.with_faults(FaultRegistry::clear);
    }

    /// Runs `f` on the fault registry, then records how many global faults it holds.
    pub(crate) fn with_faults<R>(&self, f: impl FnOnce(&mut FaultRegistry) -> R) -> R {
        let mut faults = lock(&self.inner.faults);
        let r = f(&mut faults);
        let n = faults.global_len();
        self.inner.global_faults.store(n, Ordering::Release);
        r
    }

    /// Whether any global fault is set (a cheap check before taking the registry's lock).
    pub(crate) fn has_global_faults(&self) -> bool {
        self.inner.global_faults.load(Ordering::Acquire) > 0
    }

    /// Back to the start-up configuration: clears the journal and the stored responses,
    /// removes the cassettes, faults and mounted mocks added at run time, brings back the global faults given
    /// at start-up (with fresh counters), forgets the counters of header faults, re-arms the
    /// `once` cassettes and restarts request ids.
    pub fn reset(&self) {
        lock(&self.inner.journal).clear();
        lock(&self.inner.store).clear();
        // The start-up faults parsed once already: they are added again as they were.
        let _ = self.with_faults(|f| f.reset_to(&self.inner.start_faults));
        lock(&self.inner.cassettes).reset();
        *lock(&self.inner.mounts) = Mounts::default();
        self.inner.next_id.store(0, Ordering::Relaxed);
    }

    /// The forms of every key a request carries and of the server's keys, to redact (built
    /// once per distinct set of request keys in a row).
    pub(crate) fn secrets(&self, parts: &http::request::Parts) -> Arc<Secrets> {
        let keys = request_keys(&parts.headers, parts.uri.query());
        let mut cache = lock(&self.inner.secrets);
        match &*cache {
            Some((seen, secrets)) if *seen == keys => Arc::clone(secrets),
            _ => {
                let all = keys
                    .iter()
                    .chain(&self.inner.config.api_keys)
                    .map(String::as_str);
                let secrets = Arc::new(crate::secrets::for_keys(all));
                *cache = Some((keys, Arc::clone(&secrets)));
                secrets
            }
        }
    }

    /// Tells open streams the server is stopping: stalled and delayed streams end.
    pub(crate) fn stop_streams(&self) {
        self.inner.shutdown.send_replace(true);
    }

    pub(crate) fn shutdown_receiver(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }
}
