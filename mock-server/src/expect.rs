//! Expectations for Rust tests, as wiremock-rs has them: a [`Mock`] mounted on a server
//! answers the requests its [`Match`] conditions accept, counts them, and checks the count
//! against what it [`expect`](Mock::expect)s when the server is dropped or
//! [`verify`](crate::MockState::verify) is called; scenarios give mocks state, for
//! multi-turn tests.

use std::collections::HashMap;
use std::fmt;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use dashscope_protocol::cassette::{Cassette, RecordedResponse, UnifiedCassette};

use crate::journal::JournalEntry;
use crate::synth::{MockRequest, Responder};

/// A condition on a request (see [`Mock::given`]). A closure
/// `Fn(&MockRequest<'_>) -> bool` is one. It runs while the server holds its mounted mocks:
/// it must not mount mocks or verify.
pub trait Match: Send + Sync + 'static {
    /// Whether the request meets the condition.
    fn matches(&self, request: &MockRequest<'_>) -> bool;
}

impl<F> Match for F
where
    F: Fn(&MockRequest<'_>) -> bool + Send + Sync + 'static,
{
    fn matches(&self, request: &MockRequest<'_>) -> bool {
        self(request)
    }
}

/// A recorded response answers as it is.
impl Responder for RecordedResponse {
    fn respond(&self, _: &MockRequest<'_>) -> Option<RecordedResponse> {
        Some(self.clone())
    }
}

/// A wire cassette answers with its recorded response (its conditions are not checked).
impl Responder for Cassette {
    fn respond(&self, _: &MockRequest<'_>) -> Option<RecordedResponse> {
        Some(self.response.clone())
    }
}

/// A unified cassette answers in the request's dialect, stream or not.
impl Responder for UnifiedCassette {
    fn respond(&self, request: &MockRequest<'_>) -> Option<RecordedResponse> {
        Some(request.render(self.answer()))
    }
}

/// How many requests a [`Mock`] expects: a number (`2`) or a range (`1..=3`, `1..`, `..4`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Times {
    min: u64,
    max: u64,
}

impl From<u64> for Times {
    fn from(n: u64) -> Times {
        Times { min: n, max: n }
    }
}

macro_rules! times_from_range {
    ($($range:ty),*) => {$(
        impl From<$range> for Times {
            fn from(r: $range) -> Times {
                let min = match r.start_bound() {
                    Bound::Included(&n) => n,
                    Bound::Excluded(&n) => n.saturating_add(1),
                    Bound::Unbounded => 0,
                };
                let max = match r.end_bound() {
                    Bound::Included(&n) => n,
                    Bound::Excluded(&n) => n.saturating_sub(1),
                    Bound::Unbounded => u64::MAX,
                };
                Times { min, max }
            }
        }
    )*};
}
times_from_range!(
    std::ops::Range<u64>,
    std::ops::RangeInclusive<u64>,
    std::ops::RangeFrom<u64>,
    std::ops::RangeTo<u64>,
    std::ops::RangeToInclusive<u64>
);

impl fmt::Display for Times {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (a, b) if a == b => write!(f, "exactly {a}"),
            (a, u64::MAX) => write!(f, "at least {a}"),
            (a, b) => write!(f, "from {a} to {b}"),
        }
    }
}

/// A mock for one test: conditions, an answer, an expected number of calls, and scenario
/// state. Mount it with [`MockState::mount`](crate::MockState::mount); a mounted mock is
/// checked before the cassettes, the first mounted first.
///
/// ```
/// use dashscope_mock::{Cassette, Mock, MockRequest, MockServer};
///
/// let server = MockServer::builder().no_defaults().start().expect("mock server");
/// let asks_weather = |r: &MockRequest<'_>| r.json["messages"].to_string().contains("weather");
/// // The first weather question is answered synthetically, and counted; the test fails
/// // when the server drops unless exactly one arrived.
/// server.mount(Mock::given(asks_weather).named("weather").expect(1).set_state("chat", "asked"));
/// // After it, the scenario's second step answers.
/// server.mount(Mock::given(|_: &MockRequest<'_>| true).when_state("chat", "asked").expect(0..=1));
/// # server.reset();
/// ```
pub struct Mock {
    matchers: Vec<Box<dyn Match>>,
    responder: Option<Box<dyn Responder>>,
    times: Option<Times>,
    name: Option<String>,
    when: Option<(String, String)>,
    then: Option<(String, String)>,
}

impl fmt::Debug for Mock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mock")
            .field("name", &self.name)
            .field("times", &self.times)
            .field("when", &self.when)
            .field("then", &self.then)
            .finish_non_exhaustive()
    }
}

impl Mock {
    /// A mock for the requests `matcher` accepts.
    pub fn given(matcher: impl Match) -> Mock {
        Mock {
            matchers: vec![Box::new(matcher)],
            responder: None,
            times: None,
            name: None,
            when: None,
            then: None,
        }
    }

    /// Another condition: every one must hold.
    pub fn and(mut self, matcher: impl Match) -> Mock {
        self.matchers.push(Box::new(matcher));
        self
    }

    /// The answer: a [`Cassette`], a [`UnifiedCassette`], a [`RecordedResponse`] or any
    /// [`Responder`]. Without one (or when it returns `None`), a matching request is counted
    /// and goes on to the cassettes and the responder.
    pub fn respond_with(mut self, responder: impl Responder) -> Mock {
        self.responder = Some(Box::new(responder));
        self
    }

    /// The number of requests it must match: checked by
    /// [`verify`](crate::MockState::verify) and when the [`MockServer`](crate::MockServer)
    /// drops.
    pub fn expect(mut self, times: impl Into<Times>) -> Mock {
        self.times = Some(times.into());
        self
    }

    /// Its name in the journal, the `x-mock-source` header and reports (default `#N`, its
    /// place among the mounted mocks).
    pub fn named(mut self, name: impl Into<String>) -> Mock {
        self.name = Some(name.into());
        self
    }

    /// Matches only while `scenario` is in `state` (every scenario starts in `"started"`).
    pub fn when_state(mut self, scenario: impl Into<String>, state: impl Into<String>) -> Mock {
        self.when = Some((scenario.into(), state.into()));
        self
    }

    /// Moves `scenario` to `state` when it matches.
    pub fn set_state(mut self, scenario: impl Into<String>, state: impl Into<String>) -> Mock {
        self.then = Some((scenario.into(), state.into()));
        self
    }
}

/// A mounted mock and how many requests it matched.
#[derive(Debug)]
struct Mounted {
    mock: Mock,
    name: Arc<str>,
    calls: u64,
}

/// The mocks mounted on a server, and the state of each scenario.
#[derive(Debug, Default)]
pub(crate) struct Mounts {
    mocks: Vec<Mounted>,
    states: HashMap<String, String>,
}

impl Mounts {
    pub(crate) fn mount(&mut self, mock: Mock) {
        let name = mock
            .name
            .clone()
            .unwrap_or_else(|| format!("#{}", self.mocks.len() + 1));
        self.mocks.push(Mounted {
            mock,
            name: Arc::from(name),
            calls: 0,
        });
    }

    /// The first mounted mock that matches the request (in its scenario's state), counted; its
    /// scenario moves on. Its name and answer, when it answers. `request` is only made when a
    /// mock is mounted.
    pub(crate) fn hit<'r>(
        &mut self,
        request: impl FnOnce() -> MockRequest<'r>,
    ) -> Option<(Arc<str>, RecordedResponse)> {
        if self.mocks.is_empty() {
            return None;
        }
        let request = &request();
        let states = &self.states;
        let in_state = |(sc, want): &(String, String)| {
            states.get(sc).map_or("started", String::as_str) == want
        };
        let m = self.mocks.iter_mut().find(|m| {
            m.mock.when.as_ref().is_none_or(in_state)
                && m.mock.matchers.iter().all(|x| x.matches(request))
        })?;
        m.calls += 1;
        if let Some((sc, next)) = &m.mock.then {
            self.states.insert(sc.clone(), next.clone());
        }
        let answer = m.mock.responder.as_ref()?.respond(request)?;
        Some((Arc::clone(&m.name), answer))
    }

    /// The mocks whose expected count does not hold.
    fn unmet(&self) -> Vec<String> {
        let check = |m: &Mounted| {
            let t = m.mock.times?;
            let got = m.calls;
            let ok = (t.min..=t.max).contains(&got);
            (!ok).then(|| format!("mock {}: expected {t} requests, got {got}", m.name))
        };
        self.mocks.iter().filter_map(check).collect()
    }
}

/// Expectations of mounted [`Mock`]s that did not hold; its `Display` is the report: each
/// unmet expectation, then the requests that arrived (method, path, body excerpt, status,
/// source).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{report}")]
pub struct VerifyError {
    report: String,
}

/// The report for `mounts`, if an expectation does not hold.
pub(crate) fn verify(mounts: &Mounts, journal: &[JournalEntry]) -> Result<(), VerifyError> {
    let unmet = mounts.unmet();
    if unmet.is_empty() {
        return Ok(());
    }
    let mut report = format!("dashscope-mock: {} expectation(s) not met:\n", unmet.len());
    for line in &unmet {
        report.push_str(&format!("  - {line}\n"));
    }
    report.push_str(&format!("requests received ({}):\n", journal.len()));
    for e in journal {
        let body = e.body.as_ref().map(ToString::to_string);
        let body = body.or_else(|| e.body_text.clone()).unwrap_or_default();
        let mut excerpt: String = body.chars().take(120).collect();
        if excerpt.len() < body.len() {
            excerpt.push('…');
        }
        report.push_str(&format!(
            "  {}. {} {} {excerpt} -> {} ({})\n",
            e.seq, e.method, e.path, e.status, e.source
        ));
    }
    Err(VerifyError { report })
}
