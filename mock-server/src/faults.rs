//! Fault injection: per request by the `x-mock-fault` header, globally through the admin API,
//! the builder or `--fault`. The grammar and every item are documented in the crate docs.
//!
//! Every value is checked (a bad one is a 400 `MockInvalidFault` naming the item). Counters
//! (`times`) and buckets (`rate-limit`) of header specs are kept per spec text, at most
//! [`MAX_HEADER_COUNTERS`] of them and [`MAX_HEADER_COUNTER_BYTES`] of text (the oldest
//! forgotten first); at most [`MAX_GLOBAL_FAULTS`] global faults are set at once.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashscope_protocol::cassette::Dialect;
use http::HeaderMap;
use serde::Serialize;

use crate::errors::{Envelope, ErrorReply};

/// The request header that carries per-request fault specs.
const FAULT_HEADER: &str = "x-mock-fault";
/// The longest delay an item (or the sum of several) asks for: an hour.
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(3600);
const MAX_MS: u64 = MAX_DELAY.as_secs() * 1000;
const MAX_BYTES: u64 = 64 * 1024 * 1024;
/// The smallest `speed` (and `--speed`, besides 0): recorded delays at most 1000 times longer.
pub(crate) const MIN_SPEED: f64 = 0.001;
/// The largest `speed` (and `--speed`).
pub(crate) const MAX_SPEED: f64 = 1_000_000.0;
/// The longest spec, in bytes.
const MAX_SPEC_BYTES: usize = 16 * 1024;
/// The most global faults set at once.
const MAX_GLOBAL_FAULTS: usize = 256;
/// The most header specs whose counters (`times`, `rate-limit`) are kept.
const MAX_HEADER_COUNTERS: usize = 4096;
/// The most bytes of spec text those counters are kept under.
const MAX_HEADER_COUNTER_BYTES: usize = 1024 * 1024;

/// A fault spec could not be parsed (or not be added).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid fault spec {spec:?}: {reason}")]
pub struct FaultParseError {
    /// The spec as given (cut at 16 KiB).
    pub spec: String,
    /// What is wrong with it.
    pub reason: String,
    /// The item at fault (`speed`, `status`, …), when one is.
    pub param: Option<String>,
}

/// The faults that apply to one request: one spec's effect, or the merge of every spec that
/// fired.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct FaultPlan {
    /// Wait before the response starts, before its first body byte, before each later chunk.
    pub(crate) latency: Duration,
    pub(crate) ttfb: Duration,
    pub(crate) chunk_delay: Duration,
    /// Speed factor for recorded delays (1 = as recorded).
    pub(crate) speed: f64,
    /// An error to answer instead.
    pub(crate) error: Option<ErrorReply>,
    /// Reset the connection instead of answering.
    pub(crate) reset: bool,
    /// Close after this many chunks (or bytes of a single body).
    pub(crate) cut_after: Option<u64>,
    /// Stop after this many chunks, for `stall` (`None`: until the client leaves or the server
    /// stops).
    pub(crate) stall_after: Option<u64>,
    pub(crate) stall: Option<Duration>,
    /// Answer 200 with `x-dashscope-partialresponse: true`.
    pub(crate) partial: bool,
    /// Drop the blank line after each event.
    pub(crate) no_blank_lines: bool,
    /// Corrupt the UTF-8 / truncate the JSON of this event (1-based).
    pub(crate) invalid_utf8: Option<u64>,
    pub(crate) malformed_json: Option<u64>,
    /// Pad the first event's JSON by this many bytes.
    pub(crate) oversized_chunk: Option<u64>,
    /// The specs that fired (for the journal).
    pub(crate) fired: Vec<String>,
}

/// One parsed fault spec: what it does, and when it applies.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct FaultSpec {
    /// The spec as given (trimmed); also the key of its counters.
    text: String,
    /// Its effect (its error is made when it applies: a throttled request gets a 429).
    effect: FaultPlan,
    status: Option<u16>,
    code: Option<String>,
    message: Option<String>,
    retry_after: Option<String>,
    envelope: Option<Envelope>,
    /// `rate-limit=R` (requests per second) and `burst=B`.
    rate_limit: Option<f64>,
    burst: Option<u32>,
    times: Option<u64>,
    dialect: Option<Dialect>,
}

impl FaultSpec {
    /// Parses one spec (`status=429;retry-after=1;times=2`).
    pub(crate) fn parse(spec: &str) -> Result<Self, FaultParseError> {
        let text = spec.trim();
        let error = |reason: String, param: Option<&str>| FaultParseError {
            spec: text[..text.floor_char_boundary(MAX_SPEC_BYTES)].to_owned(),
            reason,
            param: param.map(str::to_owned),
        };
        if text.len() > MAX_SPEC_BYTES {
            return Err(error(
                format!("the spec is {} bytes, over {MAX_SPEC_BYTES}", text.len()),
                None,
            ));
        }
        let mut out = FaultSpec {
            text: text.to_owned(),
            effect: FaultPlan::none(),
            ..FaultSpec::default()
        };
        let e = &mut out.effect;
        for item in text.split(';').map(str::trim).filter(|i| !i.is_empty()) {
            let (key, value) = match item.split_once('=') {
                Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim())),
                None => (item.to_ascii_lowercase(), None),
            };
            // Every error below names its item.
            let err = |reason: String| error(reason, Some(&key));
            let need = || {
                value
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned)
                    .ok_or_else(|| err(format!("{key} needs a value")))
            };
            let num = |max: u64| -> Result<u64, FaultParseError> {
                let v = need()?;
                match v.parse::<u64>() {
                    Ok(n) if n <= max => Ok(n),
                    Ok(n) => Err(err(format!("{key}: {n} is over the limit {max}"))),
                    Err(_) => Err(err(format!("{key}: {v:?} is not a whole number"))),
                }
            };
            let ms = |max| num(max).map(Duration::from_millis);
            let ratio = || -> Result<f64, FaultParseError> {
                let v = need()?;
                let range = || err(format!("{key}: {v} is not from {MIN_SPEED} to {MAX_SPEED}"));
                match v.parse::<f64>() {
                    Ok(f) if (MIN_SPEED..=MAX_SPEED).contains(&f) => Ok(f),
                    Ok(_) => Err(range()),
                    Err(_) => Err(err(format!("{key}: {v:?} is not a number"))),
                }
            };
            let flag = || match value.map(str::to_ascii_lowercase).as_deref() {
                None | Some("" | "true" | "1" | "yes" | "on") => Ok(true),
                Some("false" | "0" | "no" | "off") => Ok(false),
                Some(other) => Err(err(format!("{key}: {other:?} is not a boolean"))),
            };
            // An event number (1-based, default 1).
            let event = || value.map_or(Ok(1), |_| num(MAX_BYTES).map(|n| n.max(1)));
            match key.as_str() {
                "latency" => e.latency = ms(MAX_MS)?,
                "ttfb" => e.ttfb = ms(MAX_MS)?,
                "chunk-delay" => e.chunk_delay = ms(MAX_MS)?,
                "speed" => e.speed = ratio()?,
                "status" => match num(599)? {
                    n @ 400.. => out.status = Some(n as u16),
                    n => return Err(err(format!("status: {n} is not an error status (400-599)"))),
                },
                "code" => out.code = Some(need()?),
                "message" => out.message = Some(need()?),
                "retry-after" => {
                    let v = need()?;
                    if http::HeaderValue::from_str(&v).is_err() {
                        return Err(err(format!("retry-after: {v:?} is not a header value")));
                    }
                    out.retry_after = Some(v);
                }
                "envelope" => {
                    out.envelope = Some(match need()?.to_ascii_lowercase().as_str() {
                        "200" | "ok" => Envelope::Ok,
                        "status" => Envelope::Status,
                        "auto" => Envelope::Auto,
                        other => {
                            return Err(err(format!(
                                "envelope: {other:?} is not 200, status or auto"
                            )));
                        }
                    });
                }
                "rate-limit" => out.rate_limit = Some(ratio()?),
                "burst" => out.burst = Some(num(1_000_000)? as u32),
                "reset" => e.reset = flag()?,
                "cut-after" => e.cut_after = Some(num(MAX_BYTES)?),
                "stall-after" => e.stall_after = Some(num(MAX_BYTES)?),
                "stall-ms" => e.stall = Some(ms(MAX_MS)?),
                "partial" => e.partial = flag()?,
                "no-blank-lines" => e.no_blank_lines = flag()?,
                "invalid-utf8" => e.invalid_utf8 = Some(event()?),
                "malformed-json" => e.malformed_json = Some(event()?),
                "oversized-chunk" => e.oversized_chunk = Some(num(MAX_BYTES)?),
                "times" => out.times = Some(num(u64::MAX)?),
                "dialect" => {
                    let d = need()?.parse::<Dialect>();
                    out.dialect = Some(d.map_err(|e| err(format!("dialect: {e}")))?);
                }
                other => return Err(err(format!("unknown item {other:?}"))),
            }
        }
        if out.text.split(';').all(|i| i.trim().is_empty()) {
            return Err(error("empty spec".to_owned(), None));
        }
        Ok(out)
    }

    /// Parses every spec in the `x-mock-fault` headers of a request (comma-separated, in any
    /// number of headers).
    pub(crate) fn from_headers(headers: &HeaderMap) -> Result<Vec<FaultSpec>, FaultParseError> {
        let mut out = Vec::new();
        for value in headers.get_all(FAULT_HEADER) {
            let text = value.to_str().map_err(|_| FaultParseError {
                spec: String::from_utf8_lossy(value.as_bytes()).into_owned(),
                reason: "not visible ASCII".to_owned(),
                param: None,
            })?;
            for spec in text.split(',').filter(|s| !s.trim().is_empty()) {
                out.push(FaultSpec::parse(spec)?);
            }
        }
        Ok(out)
    }
}

impl FaultPlan {
    /// A plan with no faults.
    pub(crate) fn none() -> Self {
        FaultPlan {
            speed: 1.0,
            ..FaultPlan::default()
        }
    }

    /// Adds what `spec` does (as a 429 when its rate limit throttled the request).
    fn absorb(&mut self, spec: &FaultSpec, throttled: bool) {
        let e = &spec.effect;
        self.fired.push(spec.text.clone());
        self.latency = (self.latency + e.latency).min(MAX_DELAY);
        self.ttfb = (self.ttfb + e.ttfb).min(MAX_DELAY);
        self.chunk_delay = (self.chunk_delay + e.chunk_delay).min(MAX_DELAY);
        self.speed *= e.speed;
        let status = if throttled { Some(429) } else { spec.status };
        if let (None, Some(status)) = (&self.error, status) {
            let mut error = ErrorReply::for_status(status);
            if let Some(code) = &spec.code {
                error.native_code.clone_from(code);
                error.compat_code.clone_from(code);
            }
            if let Some(m) = &spec.message {
                error.message.clone_from(m);
                error.compat_message = None;
            }
            error.retry_after.clone_from(&spec.retry_after);
            error.envelope = spec.envelope.unwrap_or(error.envelope);
            self.error = Some(error);
        }
        self.reset |= e.reset;
        let min = |a: Option<u64>, b: Option<u64>| a.zip(b).map(|(a, b)| a.min(b)).or(a).or(b);
        self.cut_after = min(self.cut_after, e.cut_after);
        if e.stall_after.is_some() {
            self.stall_after = min(self.stall_after, e.stall_after);
            self.stall = e.stall;
        }
        self.partial |= e.partial;
        self.no_blank_lines |= e.no_blank_lines;
        self.invalid_utf8 = self.invalid_utf8.or(e.invalid_utf8);
        self.malformed_json = self.malformed_json.or(e.malformed_json);
        self.oversized_chunk = self.oversized_chunk.or(e.oversized_chunk);
    }
}

/// The state of one spec across requests: how often it applied, its token bucket (tokens,
/// last refill).
#[derive(Clone, Debug, Default)]
struct Counter {
    uses: u64,
    bucket: Option<(f64, Instant)>,
}

/// A global fault, as the admin API lists it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct GlobalFault {
    id: u64,
    spec: String,
    /// How many requests it applied to, and how many more it will (`None`: unlimited).
    applied: u64,
    remaining: Option<u64>,
}

/// Global faults, and the counters and buckets of the header specs that have them (bounded,
/// see the module docs).
#[derive(Debug, Default)]
pub(crate) struct FaultRegistry {
    global: Vec<(u64, FaultSpec, Counter)>,
    next_id: u64,
    header: HashMap<Arc<str>, Counter>,
    /// The spec texts of `header`, oldest first, and their bytes.
    header_order: VecDeque<Arc<str>>,
    header_bytes: usize,
}

impl FaultRegistry {
    /// Adds a global fault; returns its id.
    pub(crate) fn add(&mut self, spec: FaultSpec) -> Result<u64, FaultParseError> {
        if self.global.len() >= MAX_GLOBAL_FAULTS {
            return Err(FaultParseError {
                spec: spec.text,
                reason: format!("{MAX_GLOBAL_FAULTS} global faults are set already"),
                param: None,
            });
        }
        self.next_id += 1;
        self.global.push((self.next_id, spec, Counter::default()));
        Ok(self.next_id)
    }

    /// Removes one global fault; whether it existed.
    pub(crate) fn remove(&mut self, id: u64) -> bool {
        let before = self.global.len();
        self.global.retain(|(i, _, _)| *i != id);
        before != self.global.len()
    }

    pub(crate) fn global_len(&self) -> usize {
        self.global.len()
    }

    /// Removes every global fault.
    pub(crate) fn clear(&mut self) {
        self.global.clear();
    }

    /// Back to `start`: these global faults only (numbered from 1, fresh counts), no header
    /// counters.
    pub(crate) fn reset_to(&mut self, start: &[FaultSpec]) -> Result<(), FaultParseError> {
        *self = FaultRegistry::default();
        start.iter().try_for_each(|s| self.add(s.clone()).map(drop))
    }

    /// The global faults.
    pub(crate) fn list(&self) -> Vec<GlobalFault> {
        let fault = |(id, spec, c): &(u64, FaultSpec, Counter)| GlobalFault {
            id: *id,
            spec: spec.text.clone(),
            applied: c.uses,
            remaining: spec.times.map(|t| t.saturating_sub(c.uses)),
        };
        self.global.iter().map(fault).collect()
    }

    /// The counter of a header spec, kept (the oldest forgotten past the bounds).
    fn header_counter(&mut self, text: &str) -> &mut Counter {
        if !self.header.contains_key(text) {
            while self.header_order.len() >= MAX_HEADER_COUNTERS
                || (!self.header_order.is_empty()
                    && self.header_bytes + text.len() > MAX_HEADER_COUNTER_BYTES)
            {
                if let Some(old) = self.header_order.pop_front() {
                    self.header_bytes -= old.len();
                    self.header.remove(&old);
                }
            }
            let key: Arc<str> = Arc::from(text);
            self.header_bytes += key.len();
            self.header_order.push_back(Arc::clone(&key));
            self.header.insert(key, Counter::default());
        }
        self.header
            .get_mut(text)
            .expect("a counter that is kept is found")
    }

    /// Decides which faults apply to one request (global specs first, then the header's) and
    /// counts them.
    pub(crate) fn plan(
        &mut self,
        header_specs: &[FaultSpec],
        dialect: Dialect,
        now: Instant,
    ) -> FaultPlan {
        let mut plan = FaultPlan::none();
        for (_, spec, counter) in &mut self.global {
            apply(spec, counter, dialect, now, &mut plan);
        }
        for spec in header_specs {
            if spec.times.is_some() || spec.rate_limit.is_some() {
                let counter = self.header_counter(&spec.text);
                apply(spec, counter, dialect, now, &mut plan);
            } else {
                // Nothing to count: the spec applies every time.
                apply(spec, &mut Counter::default(), dialect, now, &mut plan);
            }
        }
        plan
    }
}

/// Applies one spec to a request's plan, if its dialect, count and bucket let it.
fn apply(spec: &FaultSpec, c: &mut Counter, dialect: Dialect, now: Instant, plan: &mut FaultPlan) {
    if spec.dialect.is_some_and(|d| d != dialect) || spec.times.is_some_and(|t| c.uses >= t) {
        return;
    }
    let mut throttled = false;
    if let Some(rate) = spec.rate_limit {
        let burst = f64::from(spec.burst.unwrap_or(0)).max(rate.ceil()).max(1.0);
        let (tokens, last) = c.bucket.get_or_insert((burst, now));
        *tokens = (*tokens + now.saturating_duration_since(*last).as_secs_f64() * rate).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            // Under the limit: the bucket's spec does nothing to this request.
            return;
        }
        throttled = true;
    }
    c.uses += 1;
    plan.absorb(spec, throttled);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bucket() {
        let mut reg = FaultRegistry::default();
        let id = reg
            .add(FaultSpec::parse("rate-limit=2;burst=2").unwrap())
            .unwrap();
        let t0 = Instant::now();
        let got: Vec<bool> = (0..3)
            .map(|_| reg.plan(&[], Dialect::Native, t0).error.is_some())
            .collect();
        assert_eq!(got, [false, false, true]);
        // Half a second later one token is back.
        let t1 = t0 + Duration::from_millis(500);
        assert!(reg.plan(&[], Dialect::Native, t1).error.is_none());
        assert!(reg.plan(&[], Dialect::Native, t1).error.is_some());
        assert_eq!(reg.list()[0].applied, 2);
        assert!(reg.remove(id));
        assert!(reg.plan(&[], Dialect::Native, t1).error.is_none());
    }
}
