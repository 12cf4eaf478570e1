//! Fault injection: per request by the `x-mock-fault` header, globally through the admin API
//! (`POST /__mock/faults`) or the CLI (`--fault`).
//!
//! The grammar and every item are documented in the crate docs (`lib.rs`, "Faults"). Every
//! value is checked (a bad one is a 400 `MockInvalidFault` naming the item). Counters (`times`)
//! and buckets (`rate-limit`) of header specs are kept per spec text, bounded by
//! [`MAX_HEADER_COUNTERS`] and [`MAX_HEADER_COUNTER_BYTES`] (the oldest forgotten first); at
//! most [`MAX_GLOBAL_FAULTS`] global faults are set at once.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashscope_protocol::cassette::Dialect;
use http::HeaderMap;
use serde::Serialize;

use crate::errors::{Envelope, ErrorReply};

/// The request header that carries per-request fault specs.
pub(crate) const FAULT_HEADER: &str = "x-mock-fault";

/// The longest delay an item (or the sum of several) asks for: an hour.
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(3600);
const MAX_MS: u64 = MAX_DELAY.as_secs() * 1000;
const MAX_BYTES: u64 = 64 * 1024 * 1024;
/// The smallest `speed` (and `--speed`, besides 0): recorded delays at most 1000 times longer.
pub(crate) const MIN_SPEED: f64 = 0.001;
/// The largest `speed` (and `--speed`).
pub(crate) const MAX_SPEED: f64 = 1_000_000.0;
/// The longest spec, in bytes.
pub(crate) const MAX_SPEC_BYTES: usize = 16 * 1024;
/// The most global faults set at once.
pub(crate) const MAX_GLOBAL_FAULTS: usize = 256;
/// The most header specs whose counters (`times`, `rate-limit`) are kept.
pub(crate) const MAX_HEADER_COUNTERS: usize = 4096;
/// The most bytes of spec text those counters are kept under.
pub(crate) const MAX_HEADER_COUNTER_BYTES: usize = 1024 * 1024;

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

/// One parsed fault spec.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct FaultSpec {
    /// The spec as given (trimmed); also the key of its counters.
    pub(crate) text: String,
    /// `latency=MS`.
    pub(crate) latency_ms: Option<u64>,
    /// `ttfb=MS`.
    pub(crate) ttfb_ms: Option<u64>,
    /// `chunk-delay=MS`.
    pub(crate) chunk_delay_ms: Option<u64>,
    /// `speed=F`.
    pub(crate) speed: Option<f64>,
    /// `status=CODE`.
    pub(crate) status: Option<u16>,
    /// `code=TEXT`.
    pub(crate) code: Option<String>,
    /// `message=TEXT`.
    pub(crate) message: Option<String>,
    /// `retry-after=VALUE`.
    pub(crate) retry_after: Option<String>,
    /// `envelope=200|status`.
    pub(crate) envelope: Option<Envelope>,
    /// `rate-limit=R` (requests per second).
    pub(crate) rate_limit: Option<f64>,
    /// `burst=B`.
    pub(crate) burst: Option<u32>,
    /// `reset`.
    pub(crate) reset: bool,
    /// `cut-after=N`.
    pub(crate) cut_after: Option<u64>,
    /// `stall-after=N`.
    pub(crate) stall_after: Option<u64>,
    /// `stall-ms=MS`.
    pub(crate) stall_ms: Option<u64>,
    /// `partial`.
    pub(crate) partial: bool,
    /// `no-blank-lines`.
    pub(crate) no_blank_lines: bool,
    /// `invalid-utf8[=N]`.
    pub invalid_utf8: Option<u64>,
    /// `malformed-json[=N]`.
    pub(crate) malformed_json: Option<u64>,
    /// `oversized-chunk=BYTES`.
    pub(crate) oversized_chunk: Option<u64>,
    /// `times=N`.
    pub(crate) times: Option<u64>,
    /// `dialect=…`.
    pub(crate) dialect: Option<Dialect>,
}

impl FaultSpec {
    /// Parses one spec (`status=429;retry-after=1;times=2`).
    ///
    /// # Errors
    ///
    /// [`FaultParseError`] for an empty spec, an unknown key, a missing or out-of-range value.
    pub(crate) fn parse(spec: &str) -> Result<Self, FaultParseError> {
        let text = spec.trim();
        if text.len() > MAX_SPEC_BYTES {
            let mut cut = MAX_SPEC_BYTES;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            return Err(FaultParseError {
                spec: text[..cut].to_owned(),
                reason: format!("the spec is {} bytes, over {MAX_SPEC_BYTES}", text.len()),
                param: None,
            });
        }
        let err = |reason: String| FaultParseError {
            spec: text.to_owned(),
            reason,
            param: None,
        };
        let mut out = FaultSpec {
            text: text.to_owned(),
            ..FaultSpec::default()
        };
        let mut any = false;
        for item in text.split(';') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            any = true;
            let (key, value) = match item.split_once('=') {
                Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim())),
                None => (item.to_ascii_lowercase(), None),
            };
            // Every error below names its item.
            let err = |reason: String| FaultParseError {
                param: Some(key.clone()),
                ..err(reason)
            };
            let need = |v: Option<&'_ str>| -> Result<String, FaultParseError> {
                v.filter(|v| !v.is_empty())
                    .map(str::to_owned)
                    .ok_or_else(|| err(format!("{key} needs a value")))
            };
            let num = |v: Option<&str>, max: u64| -> Result<u64, FaultParseError> {
                let v = need(v)?;
                let n: u64 = v
                    .parse()
                    .map_err(|_| err(format!("{key}: {v:?} is not a whole number")))?;
                if n > max {
                    return Err(err(format!("{key}: {n} is over the limit {max}")));
                }
                Ok(n)
            };
            let flag = |v: Option<&str>| -> Result<bool, FaultParseError> {
                match v.map(str::to_ascii_lowercase).as_deref() {
                    None | Some("" | "true" | "1" | "yes" | "on") => Ok(true),
                    Some("false" | "0" | "no" | "off") => Ok(false),
                    Some(other) => Err(err(format!("{key}: {other:?} is not a boolean"))),
                }
            };
            let ratio = |v: Option<&str>, min: f64, max: f64| -> Result<f64, FaultParseError> {
                let v = need(v)?;
                let f: f64 = v
                    .parse()
                    .map_err(|_| err(format!("{key}: {v:?} is not a number")))?;
                if !(min..=max).contains(&f) {
                    return Err(err(format!("{key}: {v} is not from {min} to {max}")));
                }
                Ok(f)
            };
            match key.as_str() {
                "latency" => out.latency_ms = Some(num(value, MAX_MS)?),
                "ttfb" => out.ttfb_ms = Some(num(value, MAX_MS)?),
                "chunk-delay" => out.chunk_delay_ms = Some(num(value, MAX_MS)?),
                "speed" => out.speed = Some(ratio(value, MIN_SPEED, MAX_SPEED)?),
                "status" => {
                    let n = num(value, 599)?;
                    if n < 400 {
                        return Err(err(format!("status: {n} is not an error status (400-599)")));
                    }
                    out.status = Some(n as u16);
                }
                "code" => out.code = Some(need(value)?),
                "message" => out.message = Some(need(value)?),
                "retry-after" => {
                    let v = need(value)?;
                    if http::HeaderValue::from_str(&v).is_err() {
                        return Err(err(format!("retry-after: {v:?} is not a header value")));
                    }
                    out.retry_after = Some(v);
                }
                "envelope" => {
                    out.envelope = Some(match need(value)?.to_ascii_lowercase().as_str() {
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
                "rate-limit" => out.rate_limit = Some(ratio(value, MIN_SPEED, MAX_SPEED)?),
                "burst" => out.burst = Some(num(value, 1_000_000)? as u32),
                "reset" => out.reset = flag(value)?,
                "cut-after" => out.cut_after = Some(num(value, MAX_BYTES)?),
                "stall-after" => out.stall_after = Some(num(value, MAX_BYTES)?),
                "stall-ms" => out.stall_ms = Some(num(value, MAX_MS)?),
                "partial" => out.partial = flag(value)?,
                "no-blank-lines" => out.no_blank_lines = flag(value)?,
                "invalid-utf8" => {
                    out.invalid_utf8 = Some(if value.is_some() {
                        num(value, MAX_BYTES)?.max(1)
                    } else {
                        1
                    })
                }
                "malformed-json" => {
                    out.malformed_json = Some(if value.is_some() {
                        num(value, MAX_BYTES)?.max(1)
                    } else {
                        1
                    })
                }
                "oversized-chunk" => out.oversized_chunk = Some(num(value, MAX_BYTES)?),
                "times" => out.times = Some(num(value, u64::MAX)?),
                "dialect" => {
                    let d = need(value)?.parse::<Dialect>();
                    out.dialect = Some(d.map_err(|e| err(format!("dialect: {e}")))?);
                }
                other => return Err(err(format!("unknown item {other:?}"))),
            }
        }
        if !any {
            return Err(err("empty spec".to_owned()));
        }
        Ok(out)
    }

    /// Parses every spec in the `x-mock-fault` headers of a request.
    ///
    /// # Errors
    ///
    /// The first spec that does not parse, or a header value that is not visible ASCII/UTF-8.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Result<Vec<FaultSpec>, FaultParseError> {
        let mut out = Vec::new();
        for value in headers.get_all(FAULT_HEADER) {
            let text = value.to_str().map_err(|_| FaultParseError {
                spec: String::from_utf8_lossy(value.as_bytes()).into_owned(),
                reason: "not visible ASCII".to_owned(),
                param: None,
            })?;
            for spec in text.split(',') {
                if !spec.trim().is_empty() {
                    out.push(FaultSpec::parse(spec)?);
                }
            }
        }
        Ok(out)
    }
}

/// The faults that apply to one request, merged from every spec that fired.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct FaultPlan {
    /// Wait before the response starts.
    pub(crate) latency: Duration,
    /// Wait before the first body byte.
    pub(crate) ttfb: Duration,
    /// Extra wait before each chunk after the first.
    pub(crate) chunk_delay: Duration,
    /// Speed factor for recorded delays (1 = as recorded).
    pub(crate) speed: f64,
    /// An error to answer instead.
    pub(crate) error: Option<ErrorReply>,
    /// Reset the connection instead of answering.
    pub(crate) reset: bool,
    /// Close after this many chunks (or bytes of a single body).
    pub(crate) cut_after: Option<u64>,
    /// Stop after this many chunks …
    pub(crate) stall_after: Option<u64>,
    /// … for this long (`None`: until the client leaves or the server stops).
    pub(crate) stall: Option<Duration>,
    /// Answer 200 with `x-dashscope-partialresponse: true`.
    pub(crate) partial: bool,
    /// Drop the blank line after each event.
    pub(crate) no_blank_lines: bool,
    /// Corrupt the UTF-8 of this event (1-based).
    pub invalid_utf8: Option<u64>,
    /// Truncate the JSON of this event (1-based).
    pub(crate) malformed_json: Option<u64>,
    /// Pad the first event's JSON by this many bytes.
    pub(crate) oversized_chunk: Option<u64>,
    /// The specs that fired (for the journal).
    pub(crate) fired: Vec<String>,
}

impl FaultPlan {
    /// A plan with no faults.
    pub(crate) fn none() -> Self {
        FaultPlan {
            speed: 1.0,
            ..FaultPlan::default()
        }
    }

    fn absorb(&mut self, spec: &FaultSpec, throttled: bool) {
        self.fired.push(spec.text.clone());
        let ms = Duration::from_millis;
        let add = |d: Duration, more: Option<u64>| (d + ms(more.unwrap_or(0))).min(MAX_DELAY);
        self.latency = add(self.latency, spec.latency_ms);
        self.ttfb = add(self.ttfb, spec.ttfb_ms);
        self.chunk_delay = add(self.chunk_delay, spec.chunk_delay_ms);
        if let Some(s) = spec.speed {
            self.speed *= s;
        }
        let status = if throttled { Some(429) } else { spec.status };
        if let (None, Some(status)) = (&self.error, status) {
            let mut e = ErrorReply::for_status(status);
            if let Some(code) = &spec.code {
                e.native_code = code.clone();
                e.compat_code = code.clone();
            }
            if let Some(m) = &spec.message {
                e.message = m.clone();
                e.compat_message = None;
            }
            e.retry_after = spec.retry_after.clone();
            if let Some(env) = spec.envelope {
                e.envelope = env;
            }
            self.error = Some(e);
        }
        self.reset |= spec.reset;
        let min = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.cut_after = min(self.cut_after, spec.cut_after);
        if spec.stall_after.is_some() {
            self.stall_after = min(self.stall_after, spec.stall_after);
            self.stall = spec.stall_ms.map(ms);
        }
        self.partial |= spec.partial;
        self.no_blank_lines |= spec.no_blank_lines;
        self.invalid_utf8 = self.invalid_utf8.or(spec.invalid_utf8);
        self.malformed_json = self.malformed_json.or(spec.malformed_json);
        self.oversized_chunk = self.oversized_chunk.or(spec.oversized_chunk);
    }
}

#[derive(Clone, Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// The state of one spec across requests: how often it applied, its token bucket.
#[derive(Clone, Debug, Default)]
struct Counter {
    uses: u64,
    bucket: Option<Bucket>,
}

/// A global fault, as the admin API lists it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct GlobalFault {
    /// Its id (for `DELETE /__mock/faults/{id}`).
    pub(crate) id: u64,
    /// The spec.
    pub(crate) spec: String,
    /// How many requests it applied to.
    pub(crate) applied: u64,
    /// How many more it will apply to (`None`: unlimited).
    pub(crate) remaining: Option<u64>,
}

/// Global faults, and the counters and buckets of the header specs that have them (bounded,
/// see the module docs).
#[derive(Debug, Default)]
pub(crate) struct FaultRegistry {
    global: Vec<(u64, FaultSpec, Counter)>,
    next_id: u64,
    header: HashMap<Arc<str>, Counter>,
    /// The spec texts of `header`, oldest first.
    header_order: VecDeque<Arc<str>>,
    header_bytes: usize,
}

impl FaultRegistry {
    /// Adds a global fault; returns its id.
    ///
    /// # Errors
    ///
    /// [`FaultParseError`] when [`MAX_GLOBAL_FAULTS`] are set already.
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

    /// How many global faults are set.
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
        self.global
            .iter()
            .map(|(id, spec, c)| GlobalFault {
                id: *id,
                spec: spec.text.clone(),
                applied: c.uses,
                remaining: spec.times.map(|t| t.saturating_sub(c.uses)),
            })
            .collect()
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
            return self.header.entry(key).or_default();
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
            if spec.dialect.is_some_and(|d| d != dialect) {
                continue;
            }
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
        let b = c.bucket.get_or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
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
    fn grammar() {
        let s = FaultSpec::parse(" status=429 ; retry-after=1;times=2 ").unwrap();
        assert_eq!(
            (s.status, s.retry_after.as_deref(), s.times),
            (Some(429), Some("1"), Some(2))
        );
        let s = FaultSpec::parse("cut-after=3;no-blank-lines;invalid-utf8;dialect=native").unwrap();
        assert_eq!(
            (s.cut_after, s.no_blank_lines, s.invalid_utf8),
            (Some(3), true, Some(1))
        );
        assert_eq!(s.dialect, Some(Dialect::Native));
        for bad in [
            "",
            "  ;",
            "status=200",
            "status=abc",
            "bogus",
            "latency",
            "speed=0",
            "latency=99999999999",
        ] {
            assert!(FaultSpec::parse(bad).is_err(), "{bad:?} should not parse");
        }
        let mut h = HeaderMap::new();
        h.append(FAULT_HEADER, "latency=5, status=500".parse().unwrap());
        h.append(FAULT_HEADER, "reset".parse().unwrap());
        assert_eq!(FaultSpec::from_headers(&h).unwrap().len(), 3);
    }

    #[test]
    fn times_counts_per_spec_text() {
        let mut reg = FaultRegistry::default();
        let spec = FaultSpec::parse("status=503;times=2").unwrap();
        let now = Instant::now();
        let statuses: Vec<Option<u16>> = (0..3)
            .map(|_| {
                reg.plan(std::slice::from_ref(&spec), Dialect::Chat, now)
                    .error
                    .map(|e| e.status)
            })
            .collect();
        assert_eq!(statuses, [Some(503), Some(503), None]);
        reg.reset_to(&[]).unwrap();
        assert!(reg.plan(&[spec], Dialect::Chat, now).error.is_some());
    }

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

    #[test]
    fn dialect_filter_and_merge() {
        let mut reg = FaultRegistry::default();
        reg.add(FaultSpec::parse("latency=10;dialect=chat").unwrap())
            .unwrap();
        let h = [FaultSpec::parse("latency=5;status=500;code=X").unwrap()];
        let p = reg.plan(&h, Dialect::Chat, Instant::now());
        assert_eq!(p.latency, Duration::from_millis(15));
        assert_eq!(p.error.as_ref().map(|e| e.native_code.as_str()), Some("X"));
        let p = reg.plan(&[], Dialect::Native, Instant::now());
        assert_eq!(p, FaultPlan::none());
    }
}
