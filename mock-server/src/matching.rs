//! The cassettes, and which one answers a request: wiremock-style matching on method, path, a
//! partial JSON body, headers and the conversation, with priorities and one-shot cassettes.
//!
//! # Conditions
//!
//! A wire cassette (one dialect's recorded bytes) answers a request when all of these hold:
//!
//! * **method** and **path**: `match.method` / `match.path`, else the recorded ones. A cassette
//!   recorded on one of the two Responses paths also answers the other, but only when no
//!   cassette matches on the exact path.
//! * **body**: `match.body`, else the recorded `request.body`, is a *partial* JSON body: every
//!   member it gives must be in the request with an equal value (objects recursively; arrays
//!   element by element with the same length; numbers compared by value). `{}` matches any
//!   JSON object.
//! * **headers**: `match.headers` (names case-insensitive, values compared case-insensitively
//!   after trimming); without `match.headers`, a recorded `x-dashscope-sse: enable`.
//! * **stream-ness**: a streamed cassette answers only stream requests and vice versa
//!   (`"stream": true` in a compat body, `X-DashScope-SSE: enable` on a native request),
//!   unless the body or header conditions already speak about it.
//! * **shape knobs**: `enable_thinking`, `tools`, `response_format`, `n`,
//!   `incremental_output`, `result_format`, `modalities` (see [`KNOBS`]): a request may set one
//!   the body condition is silent on only to the value the recorded request had (any tools, if
//!   it had tools), else only to its default, unless `match.any` lists it.
//! * **the conversation**: extra members of `match` that the protocol crate's
//!   [`Matcher`](dashscope_protocol::cassette::Matcher) does not name are read as a
//!   [`UnifiedMatcher`] and compared with the request's conversation: `last_user_message`
//!   (exact text), `last_user_message_contains`, `tools_present`, `model`, `last_role`,
//!   `dialects`; `stream` (a bool) replaces the derived stream condition.
//!
//! A unified cassette (`fixtures/unified/`, see [`dashscope_protocol::cassette`]) answers a
//! `POST` on any generation path, in any dialect, when its [`UnifiedMatcher`] (`match`, else
//! derived from its `request`) holds for the request's conversation. It ranks as a match on the
//! exact path, its matcher's conditions as its specificity; its answer is rendered in the
//! request's dialect.
//!
//! # Choice
//!
//! Among the cassettes that match, a match on the exact path beats one on the alias path; then
//! the highest `priority` wins; then the most specific (the most body members, header and
//! conversation conditions); then a success over an error (real traffic holds the same request
//! answered both ways, say 401 with a bad key and 200 with a good one; the mock checks keys
//! itself); then a later layer (cassettes added at run time over those given to the builder over
//! `--fixtures` directories over the embedded ones); then, within a layer, the first loaded (files load in name order). A
//! `once` cassette steps aside after answering, so a run of them answers a multi-turn
//! conversation turn by turn; a reset re-arms them.
//!
//! One evaluation decides both the choice and, for an unmatched request, the nearest cassettes
//! and why each failed. Wire cassettes are indexed by path and stream-ness, and a unified
//! cassette is evaluated only when it could still outrank the best match so far, so a request a
//! wire cassette answers never pays for reading its conversation.
//!
//! The embedded cassettes are parsed, indexed and rendered for replay once per process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use dashscope_protocol::cassette::{
    AnyCassette, CassetteError, Dialect, UnifiedCassette, UnifiedMatcher,
};
use dashscope_protocol::dialect::{Endpoint, SSE_HEADER};
use serde::Serialize;
use serde_json::{Value, json};

use crate::handler::{Ctx, header_str};
use crate::replay::Prepared;
use crate::server::BuildError;

mod generated {
    include!(concat!(env!("OUT_DIR"), "/embedded_fixtures.rs"));
}

/// Where a cassette came from; later layers win ties.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Layer {
    /// Embedded at build time.
    Embedded,
    /// Loaded from a `--fixtures` directory.
    Directory,
    /// Given to the builder (kept by a reset, as the directories are).
    Builder,
    /// Added at run time.
    Runtime,
}

/// What a cassette answers with.
#[derive(Debug)]
pub(crate) enum Answer {
    /// A wire cassette's recorded response, rendered for replay.
    Recorded(Prepared),
    /// A unified cassette: its answer, rendered in the request's dialect.
    Unified(Box<UnifiedCassette>),
}

/// One cassette: its conditions, read once, and its answer.
#[derive(Debug)]
pub(crate) struct Entry {
    /// Its name (shared with every journal entry it answers).
    pub(crate) name: Arc<str>,
    pub(crate) answer: Answer,
    /// `match.method`, else the recorded method (unified: `POST`).
    method: String,
    /// `match.path`, else the recorded path (unified: any generation path).
    path: Option<String>,
    /// The stream-ness a request must have.
    stream: Option<bool>,
    headers: Vec<(String, String)>,
    body: Option<Value>,
    /// Conditions on the request's conversation.
    conv: Option<UnifiedMatcher>,
    /// The shape knobs the body condition is silent on (and not in `match.any`), each with
    /// the value the recording implies, if known (see [`KNOBS`]).
    knobs: Vec<(&'static str, Option<Value>)>,
    priority: i32,
    once: bool,
    success: bool,
    /// Body leaves plus header and conversation conditions.
    specificity: usize,
    layer: Layer,
    order: u64,
}

impl Entry {
    fn new(cassette: AnyCassette, layer: Layer, order: u64) -> Entry {
        let c = match cassette {
            AnyCassette::Unified(u) => {
                let conv = u.effective_matcher();
                return Entry {
                    name: Arc::from(u.name.as_str()),
                    method: "POST".to_owned(),
                    path: None,
                    stream: None,
                    headers: Vec::new(),
                    body: None,
                    specificity: conv.conditions(),
                    conv: Some(conv),
                    knobs: Vec::new(),
                    priority: u.priority,
                    once: u.once,
                    success: true,
                    layer,
                    order,
                    answer: Answer::Unified(Box::new(u)),
                };
            }
            AnyCassette::Wire(c) => c,
        };
        let recorded_stream = c.is_stream_request();
        let (request, response) = (c.request, c.response);
        let m = c.matcher.unwrap_or_default();
        let headers: Vec<(String, String)> = if m.headers.is_empty() {
            let sse = |(k, v): &(&String, &String)| {
                k.eq_ignore_ascii_case(SSE_HEADER) && v.trim().eq_ignore_ascii_case("enable")
            };
            request
                .headers
                .iter()
                .filter(sse)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        } else {
            m.headers.into_iter().collect()
        };
        let body = m.body.or_else(|| request.body.clone());
        // The conversation conditions: the members of `match` the protocol's matcher keeps in
        // `extra`.
        let mut conv = UnifiedMatcher::deserialize(Value::Object(m.extra.clone()))
            .ok()
            .filter(|m| *m != UnifiedMatcher::default());
        let ext_stream = conv.as_mut().and_then(|m| m.stream.take());
        let said = headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(SSE_HEADER))
            || body.as_ref().is_some_and(|b| b.get("stream").is_some());
        let stream = ext_stream.or((!said).then_some(recorded_stream));
        let path = m.path.unwrap_or(request.path);
        let any: Vec<&str> = (m.extra.get("any").and_then(Value::as_array))
            .map_or_else(Vec::new, |a| a.iter().filter_map(Value::as_str).collect());
        let native = Endpoint::from_path(&path).is_some_and(|e| e.dialect() == Dialect::Native);
        // A native answer shows its `result_format`: `output.choices` or `output.text`.
        let shape = (native && response.status < 400).then(|| {
            let message = memchr::memmem::find(&response.body.to_bytes(), b"\"choices\"");
            Value::from(if message.is_some() { "message" } else { "text" })
        });
        let knobs = KNOBS
            .into_iter()
            .filter(|k| !any.iter().any(|a| a == k || *a == "*"))
            .filter(|&k| k != "tools" || conv.as_ref().is_none_or(|c| c.tools_present.is_none()))
            .filter(|k| body.as_ref().and_then(|b| knob(b, k)).is_none())
            .filter_map(|k| match request.body.as_ref().and_then(|b| knob(b, k)) {
                // Recorded with tools: any tools (their answer is the recording's).
                Some(_) if k == "tools" => None,
                Some(recorded) => Some((k, Some(recorded.clone()))),
                None => Some((k, shape.clone().filter(|_| k == "result_format"))),
            })
            .collect();
        let specificity = body.as_ref().map_or(0, |b| leaf_score(b, None).1)
            + headers.len()
            + conv.as_ref().map_or(0, UnifiedMatcher::conditions);
        Entry {
            name: Arc::from(c.name.as_str()),
            method: m.method.unwrap_or(request.method),
            path: Some(path),
            stream,
            headers,
            body,
            conv,
            knobs,
            priority: c.priority,
            once: c.once,
            success: response.status < 400,
            specificity,
            layer,
            order,
            answer: Answer::Recorded(Prepared::new(response)),
        }
    }

    fn rank(&self, path: PathFit) -> Rank {
        let order = std::cmp::Reverse(self.order);
        (
            path,
            self.priority,
            self.specificity,
            self.success,
            self.layer,
            order,
        )
    }

    /// `METHOD /path`, as listed and explained.
    fn route(&self) -> String {
        match &self.path {
            Some(p) => format!("{} {p}", self.method),
            None => "POST (any generation path)".to_owned(),
        }
    }
}

use serde::Deserialize as _;

/// The request members that change the shape of an answer (compat: at the top level; native:
/// under `parameters`). A wire cassette whose body condition does not name one answers only
/// requests that leave it out, give the recorded request's value (any tools, if it had
/// tools), or, when the recording did not set it, its default (`false`, no tools,
/// `{"type":"text"}`, `1`, `["text"]`), unless `match.any` lists it (or `"*"`); a native
/// `result_format` the recording did not set must be the one the recorded answer shows.
/// `stream` is the stream condition's.
const KNOBS: [&str; 7] = [
    "enable_thinking",
    "tools",
    "response_format",
    "n",
    "incremental_output",
    "result_format",
    "modalities",
];

/// A knob's value in a request body (not `null`).
fn knob<'a>(body: &'a Value, name: &str) -> Option<&'a Value> {
    let v = body
        .get(name)
        .or_else(|| body.get("parameters")?.get(name))?;
    (!v.is_null()).then_some(v)
}

/// Whether `v` is the value the service assumes when knob `name` is left out.
fn knob_default(name: &str, v: &Value) -> bool {
    match (name, v) {
        ("enable_thinking" | "incremental_output", Value::Bool(b)) => !b,
        ("tools", Value::Array(a)) => a.is_empty(),
        ("modalities", Value::Array(a)) => a.is_empty() || a == &[json!("text")],
        ("n", n) => n.as_f64() == Some(1.0),
        ("response_format", f) => f.get("type").and_then(Value::as_str) == Some("text"),
        _ => false,
    }
}

/// The rank of a match (higher wins): path fit, priority, specificity, success, layer, and
/// the earlier load.
type Rank = (PathFit, i32, usize, bool, Layer, std::cmp::Reverse<u64>);

/// How a request's path relates to a cassette's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum PathFit {
    Other,
    Alias,
    Exact,
}

/// How one cassette fits one request.
struct Fit {
    path: PathFit,
    method_ok: bool,
    /// Matching leaves of the body condition, and their total.
    body_leaves: (usize, usize),
    /// Every condition that failed, in words (without `explain`, the first, unworded).
    reasons: Vec<String>,
}

/// Checks one cassette against one request: the one place the conditions are written. With
/// `explain`, every failed condition is put into words; without, it stops at the first.
fn evaluate(e: &Entry, used_up: bool, req: &Ctx, explain: bool) -> Fit {
    let alias = |p: &str| Endpoint::from_path(p).and_then(Endpoint::alias);
    let path = match &e.path {
        Some(p) if p == req.path() => PathFit::Exact,
        Some(p) if alias(p).is_some_and(|a| a.path() == req.path()) => PathFit::Alias,
        None if req.endpoint.is_some() => PathFit::Exact,
        _ => PathFit::Other,
    };
    let mut fit = Fit {
        path,
        method_ok: e.method.eq_ignore_ascii_case(req.parts.method.as_str()),
        body_leaves: (0, 0),
        reasons: Vec::new(),
    };
    // Records a failed condition; without `explain`, stops at the first.
    macro_rules! miss {
        ($($why:tt)*) => {{
            if !explain {
                fit.reasons.push(String::new());
                return fit;
            }
            fit.reasons.push(format!($($why)*));
        }};
    }
    if used_up {
        miss!("once: already served");
    }
    if fit.path == PathFit::Other {
        let want = e.path.as_deref().unwrap_or("a generation path");
        miss!("path: expected {want}, got {}", req.path());
    }
    if !fit.method_ok {
        miss!("method: expected {}, got {}", e.method, req.parts.method);
    }
    if e.stream.is_some_and(|want| want != req.stream) {
        let kind = if req.stream { "non-stream" } else { "stream" };
        miss!("stream: the cassette answers {kind} requests");
    }
    if let Some(json) = &req.json {
        for (name, implied) in &e.knobs {
            let Some(got) = knob(json, name) else {
                continue;
            };
            if implied.as_ref().is_none_or(|i| !values_equal(i, got))
                && (implied.is_some() || !knob_default(name, got))
            {
                let was = implied
                    .as_ref()
                    .map_or("without it".to_owned(), |i| format!("with {i}"));
                miss!(
                    "{name}: the cassette was recorded {was}, got {}",
                    short(got)
                );
            }
        }
    }
    for (name, want) in &e.headers {
        let got = header_str(&req.parts.headers, name.as_str());
        if !got.is_some_and(|g| g.eq_ignore_ascii_case(want.trim())) {
            miss!("header {name}: expected {want:?}, got {got:?}");
        }
    }
    if let Some(expected) = &e.body {
        // Without `explain`, the allocation-free test.
        let why = match &req.json {
            Some(actual) if !explain => (!json_contains(expected, actual)).then(String::new),
            Some(actual) => first_mismatch(expected, actual, "body"),
            None => Some("body: expected JSON".to_owned()),
        };
        if let Some(why) = why {
            miss!("{why}");
        }
        fit.body_leaves = leaf_score(expected, req.json.as_ref());
    }
    if let (Some(m), Some(endpoint)) = (&e.conv, req.endpoint) {
        match req.conversation() {
            Some(c) => {
                for why in m.mismatches(c, endpoint.dialect(), req.stream) {
                    miss!("{why}");
                }
            }
            None => miss!("body: not a {} request", endpoint.dialect()),
        }
    } else if e.conv.is_some() {
        miss!("path: expected a generation path, got {}", req.path());
    }
    fit
}

/// A cassette close to an unmatched request, and why it did not match.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Nearest {
    pub(crate) name: String,
    path: String,
    mismatch: Vec<String>,
}

/// The cassettes a server answers from (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct CassetteSet {
    entries: Vec<Arc<Entry>>,
    /// How often each entry answered (for `once`).
    served: Vec<u64>,
    next_order: u64,
    /// Wire entries by path (indices into `entries`, in load order): for each path, those a
    /// non-stream request can match and those a stream request can.
    by_path: HashMap<String, [Vec<usize>; 2]>,
    /// Unified entries (indices, in load order).
    unified: Vec<usize>,
    /// About what the cassettes added through the admin API hold (see
    /// [`MAX_RUNTIME_CASSETTE_BYTES`](crate::admin::MAX_RUNTIME_CASSETTE_BYTES)).
    pub(crate) runtime_bytes: usize,
}

/// The embedded cassettes, parsed and rendered once per process.
fn embedded() -> &'static [Arc<Entry>] {
    static EMBEDDED: OnceLock<Vec<Arc<Entry>>> = OnceLock::new();
    EMBEDDED.get_or_init(|| {
        let warn = |e: &BuildError| tracing::warn!("skipping an embedded fixture: {e}");
        let parsed = generated::EMBEDDED
            .iter()
            .map(|(path, text)| parse(path, text));
        let parsed = parsed.filter_map(|c| c.inspect_err(warn).ok()).enumerate();
        let entry = |(order, c)| Arc::new(Entry::new(c, Layer::Embedded, order as u64));
        parsed.map(entry).collect()
    })
}

/// Parses one cassette of either kind.
pub(crate) fn parse(origin: &str, text: &str) -> Result<AnyCassette, BuildError> {
    AnyCassette::from_json(text).map_err(|e| cassette_error(origin, e))
}

/// Reads one cassette of either kind from its JSON.
pub(crate) fn parse_value(origin: &str, raw: &Value) -> Result<AnyCassette, BuildError> {
    AnyCassette::from_value(raw).map_err(|e| cassette_error(origin, e))
}

fn cassette_error(origin: &str, source: CassetteError) -> BuildError {
    BuildError::Cassette {
        origin: origin.to_owned(),
        source,
    }
}

impl CassetteSet {
    /// A set holding the embedded cassettes, or none.
    pub(crate) fn new(defaults: bool) -> Self {
        let mut set = CassetteSet::default();
        if defaults {
            set.entries = embedded().to_vec();
            set.next_order = set.entries.len() as u64;
            set.reindex();
        }
        set
    }

    /// Adds a cassette.
    pub(crate) fn add(&mut self, cassette: AnyCassette, layer: Layer) {
        let entry = Arc::new(Entry::new(cassette, layer, self.next_order));
        self.next_order += 1;
        self.index(self.entries.len(), &entry);
        self.entries.push(entry);
        self.served.resize(self.entries.len(), 0);
    }

    /// Loads every `*.json` cassette under `dir` (recursively, in path order; hidden files and
    /// directories are skipped).
    pub(crate) fn load_dir(&mut self, dir: &Path) -> Result<(), BuildError> {
        fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), BuildError> {
            let io = |source| BuildError::Read {
                path: dir.to_path_buf(),
                source,
            };
            for entry in std::fs::read_dir(dir).map_err(io)? {
                let path = entry.map_err(io)?.path();
                let name = path.file_name().and_then(|n| n.to_str());
                if name.is_some_and(|n| n.starts_with('.')) {
                    continue;
                }
                if path.is_dir() {
                    walk(&path, files)?;
                } else if path.extension().is_some_and(|e| e == "json") {
                    files.push(path);
                }
            }
            Ok(())
        }
        let mut files = Vec::new();
        walk(dir, &mut files)?;
        files.sort();
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(|source| BuildError::Read {
                path: path.clone(),
                source,
            })?;
            let c = parse(&path.display().to_string(), &text)?;
            self.add(c, Layer::Directory);
        }
        Ok(())
    }

    /// Files entry `i` under its path and the stream-ness it accepts (or as unified).
    fn index(&mut self, i: usize, e: &Entry) {
        let Some(path) = &e.path else {
            self.unified.push(i);
            return;
        };
        let lists = self.by_path.entry(path.clone()).or_default();
        for stream in [false, true] {
            if e.stream.is_none_or(|want| want == stream) {
                lists[usize::from(stream)].push(i);
            }
        }
    }

    fn reindex(&mut self) {
        self.by_path.clear();
        self.unified.clear();
        self.served = vec![0; self.entries.len()];
        for (i, e) in self.entries.clone().iter().enumerate() {
            self.index(i, e);
        }
    }

    /// The number of cassettes.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Drops the cassettes added at run time and re-arms the `once` ones.
    pub(crate) fn reset(&mut self) {
        self.entries.retain(|e| e.layer != Layer::Runtime);
        self.runtime_bytes = 0;
        self.reindex();
    }

    /// The models the cassettes were recorded with (or match on), in load order.
    pub(crate) fn models(&self) -> Vec<String> {
        let model = |e: &Arc<Entry>| match &e.answer {
            Answer::Unified(u) => Some(u.request.model.clone()),
            Answer::Recorded(_) => Some(e.body.as_ref()?.get("model")?.as_str()?.to_owned()),
        };
        let names = self.entries.iter().filter_map(model);
        names.filter(|m| !m.trim().is_empty()).collect()
    }

    /// The cassettes, as the admin API lists them.
    pub(crate) fn list(&self) -> Vec<Value> {
        let list = self.entries.iter().zip(&self.served);
        list.map(|(e, served)| {
            json!({"name": &*e.name, "layer": e.layer, "priority": e.priority, "once": e.once,
                   "served": served, "path": e.route()})
        })
        .collect()
    }

    fn used_up(&self, i: usize) -> bool {
        self.entries[i].once && self.served[i] > 0
    }

    /// The cassette that answers `req`, counted as served.
    pub(crate) fn take(&mut self, req: &Ctx) -> Option<Arc<Entry>> {
        // The wire cassettes on the exact path, then on its alias, then the unified ones (on a
        // generation path), each evaluated only when it could outrank the best match so far.
        let lists = |path: &str, fit| {
            let list = self.by_path.get(path).map(|l| &l[usize::from(req.stream)]);
            list.into_iter().flatten().map(move |&i| (i, fit))
        };
        let alias = req.endpoint.and_then(Endpoint::alias).map(Endpoint::path);
        let wire = lists(req.path(), PathFit::Exact)
            .chain(alias.into_iter().flat_map(|a| lists(a, PathFit::Alias)));
        let unified = self.unified.iter().filter(|_| req.endpoint.is_some());
        let mut best: Option<(usize, Rank)> = None;
        for (i, fit) in wire.chain(unified.map(|&i| (i, PathFit::Exact))) {
            let rank = self.entries[i].rank(fit);
            if best.as_ref().is_none_or(|(_, r)| rank > *r)
                && evaluate(&self.entries[i], self.used_up(i), req, false)
                    .reasons
                    .is_empty()
            {
                best = Some((i, rank));
            }
        }
        let (i, _) = best?;
        self.served[i] += 1;
        Some(Arc::clone(&self.entries[i]))
    }

    /// The cassette named `name` (the `x-mock-cassette` header), counted as served; a
    /// used-up `once` cassette is not returned.
    pub(crate) fn take_named(&mut self, name: &str) -> Option<Arc<Entry>> {
        let i = (0..self.entries.len())
            .rev()
            .find(|&i| &*self.entries[i].name == name && !self.used_up(i))?;
        self.served[i] += 1;
        Some(Arc::clone(&self.entries[i]))
    }

    /// The cassettes nearest to an unmatched request (same path first, then by how much of
    /// the body condition holds), at most `limit`, and why each failed.
    pub(crate) fn nearest(&self, req: &Ctx, limit: usize) -> Vec<Nearest> {
        let fit = |i: usize| evaluate(&self.entries[i], self.used_up(i), req, true);
        let scored = (0..self.entries.len()).map(|i| (fit(i), &*self.entries[i]));
        let mut scored: Vec<(Fit, &Entry)> = scored.collect();
        let frac = |(m, t): (usize, usize)| if t == 0 { 1.0 } else { m as f64 / t as f64 };
        scored.sort_by(|(a, ea), (b, eb)| {
            (b.path.cmp(&a.path))
                .then(b.method_ok.cmp(&a.method_ok))
                .then(frac(b.body_leaves).total_cmp(&frac(a.body_leaves)))
                .then(a.reasons.len().cmp(&b.reasons.len()))
                .then(ea.order.cmp(&eb.order))
        });
        scored
            .into_iter()
            .take(limit)
            .map(|(fit, e)| Nearest {
                name: e.name.to_string(),
                path: e.route(),
                mismatch: fit.reasons,
            })
            .collect()
    }
}

/// Whether `expected` is contained in `actual` (partial JSON match), without allocating.
fn json_contains(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        // Scalar members first: they are cheap to compare and most often tell cassettes apart.
        (Value::Object(e), Value::Object(a)) => {
            let holds =
                |(k, ev): (&String, &Value)| a.get(k).is_some_and(|av| json_contains(ev, av));
            let compound = |v: &Value| matches!(v, Value::Object(_) | Value::Array(_));
            e.iter().filter(|(_, v)| !compound(v)).all(holds)
                && e.iter().filter(|(_, v)| compound(v)).all(holds)
        }
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(ev, av)| json_contains(ev, av))
        }
        (e, a) => values_equal(e, a),
    }
}

fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(x), Some(y), _, _) => x == y,
                (_, _, Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            }
        }
        _ => a == b,
    }
}

/// A value in at most about 60 characters.
fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() <= 60 {
        return s;
    }
    format!("{}...", &s[..s.floor_char_boundary(57)])
}

/// The first place where `actual` does not contain `expected`, in words.
fn first_mismatch(expected: &Value, actual: &Value, at: &str) -> Option<String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e.iter().find_map(|(k, ev)| {
            let dot = if at.is_empty() { "" } else { "." };
            let here = format!("{at}{dot}{k}");
            match a.get(k) {
                Some(av) => first_mismatch(ev, av, &here),
                None => Some(format!("{here}: missing (expected {})", short(ev))),
            }
        }),
        (Value::Array(e), Value::Array(a)) if e.len() != a.len() => Some(format!(
            "{at}: expected {} elements, got {}",
            e.len(),
            a.len()
        )),
        (Value::Array(e), Value::Array(a)) => e
            .iter()
            .zip(a)
            .enumerate()
            .find_map(|(i, (ev, av))| first_mismatch(ev, av, &format!("{at}[{i}]"))),
        (e, a) if values_equal(e, a) => None,
        (e, a) => Some(format!("{at}: expected {}, got {}", short(e), short(a))),
    }
}

/// (matching leaves, total leaves) of `expected` against `actual`.
fn leaf_score(expected: &Value, actual: Option<&Value>) -> (usize, usize) {
    let sum = |(m, t): (usize, usize), (m2, t2): (usize, usize)| (m + m2, t + t2);
    match expected {
        Value::Object(e) => e
            .iter()
            .map(|(k, ev)| leaf_score(ev, actual.and_then(|a| a.get(k))))
            .fold((0, 0), sum),
        Value::Array(e) if !e.is_empty() => {
            let arr = actual.and_then(Value::as_array);
            e.iter()
                .enumerate()
                .map(|(i, ev)| leaf_score(ev, arr.and_then(|a| a.get(i))))
                .fold((0, 0), sum)
        }
        leaf => (
            usize::from(actual.is_some_and(|a| values_equal(leaf, a))),
            1,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-2i64..3).prop_map(|n| json!(n)),
            (-2i64..3).prop_map(|n| json!(n as f64)),
            "[ab]{0,2}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 16, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::btree_map("[xyz]", inner, 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// The allocation-free containment test agrees with the explaining one.
        #[test]
        fn json_contains_agrees_with_first_mismatch(e in small_json(), a in small_json()) {
            proptest::prop_assert_eq!(json_contains(&e, &a), first_mismatch(&e, &a, "").is_none());
            proptest::prop_assert!(json_contains(&a, &a));
        }
    }

    /// Every set shares the embedded cassettes, parsed once per process.
    #[test]
    fn the_embedded_cassettes_are_parsed_once() {
        let (a, b) = (CassetteSet::new(true), CassetteSet::new(true));
        assert!(a.len() > 60);
        assert!(
            a.entries
                .iter()
                .zip(&b.entries)
                .all(|(x, y)| Arc::ptr_eq(x, y))
        );
    }

    #[test]
    fn partial_json() {
        assert!(json_contains(&json!({"a": 1}), &json!({"a": 1.0, "b": 2})));
        assert!(!json_contains(
            &json!({"a": [1, 2]}),
            &json!({"a": [1, 2, 3]})
        ));
        assert!(json_contains(&json!({}), &json!({"anything": true})));
        assert_eq!(
            first_mismatch(&json!({"m": "a"}), &json!({"m": "b"}), "body").as_deref(),
            Some("body.m: expected \"a\", got \"b\"")
        );
    }
}
