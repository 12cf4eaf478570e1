//! Which cassette answers a request: wiremock-style matching on method, path, a partial JSON
//! body and header conditions, with priorities and one-shot cassettes.
//!
//! # Conditions
//!
//! A cassette answers a request when all of these hold:
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
//!   unless the body or header conditions already speak about it, or the mock extension
//!   `match.stream` says otherwise.
//! * **mock extensions**, extra members of `match` that the protocol crate's
//!   [`Matcher`](dashscope_protocol::cassette::Matcher) ignores (see [`MatchExt`]):
//!   `last_user_message` (exact text), `last_user_message_contains` (a substring),
//!   `tools_present` (bool), `stream` (bool).
//!
//! # Unified cassettes
//!
//! A unified cassette (see [`fixtures`](crate::fixtures)) answers a request on any generation
//! path, in any dialect, stream or not: the request body is read as its dialect's request and
//! then as a [`Conversation`], and the cassette's
//! [`UnifiedMatcher`] (`match`, else derived
//! from its `request`: model, last user text, last message role) must hold for it. It ranks as
//! a match on the exact path, with its matcher's conditions as its specificity. The handler
//! renders its answer in the request's dialect ([`Served::Unified`]).
//!
//! # Choice
//!
//! Among the cassettes that match, a match on the exact path beats one on the alias path; then
//! the highest `priority` wins; then the most specific (the most body members, header and
//! extension conditions); then a success over an error (real traffic holds the same request
//! answered both ways, say 401 with a bad key and 200 with a good one; the mock checks keys
//! itself); then a later layer (cassettes added at run time over `--fixtures`
//! directories over the embedded defaults); then, within a layer, the first loaded (files load
//! in name order). A `once` cassette steps aside
//! after answering, so a run of `once` cassettes answers a multi-turn conversation turn by turn;
//! [`CassetteSet::rearm`] brings them back.

use std::cell::OnceCell;
use std::sync::Arc;

use dashscope_protocol::cassette::{
    self as cassette_format, Cassette, UnifiedCassette, UnifiedMatcher,
};
use dashscope_protocol::unified::{Conversation, DialectRequest};
use http::HeaderMap;
use serde::Serialize;
use serde_json::Value;

use crate::endpoint::Endpoint;

/// Where a cassette came from; later layers win ties.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// Embedded in the binary at build time.
    Embedded,
    /// Loaded from a `--fixtures` directory.
    Directory,
    /// Added at run time (admin API, builder, [`MockServer::add_cassette`](crate::MockServer::add_cassette)).
    Runtime,
}

/// Mock-side matcher extensions, read from extra members of a cassette's `match` object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MatchExt {
    /// The text of the last user message must equal this.
    pub last_user_message: Option<String>,
    /// The text of the last user message must contain this.
    pub last_user_message_contains: Option<String>,
    /// Whether the request must (true) or must not (false) carry a non-empty `tools` list.
    pub tools_present: Option<bool>,
    /// Whether the request must be a stream request (overrides the derived condition).
    pub stream: Option<bool>,
}

impl MatchExt {
    /// Reads the extensions from a cassette's raw JSON (its `match` object); absent or
    /// ill-typed members are ignored.
    pub fn from_cassette_json(raw: &Value) -> Self {
        let Some(m) = raw.get("match").and_then(Value::as_object) else {
            return MatchExt::default();
        };
        let s = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
        let b = |k: &str| m.get(k).and_then(Value::as_bool);
        MatchExt {
            last_user_message: s("last_user_message"),
            last_user_message_contains: s("last_user_message_contains"),
            tools_present: b("tools_present"),
            stream: b("stream"),
        }
    }
}

/// The parts of a request that matching looks at.
#[derive(Clone, Copy, Debug)]
pub struct RequestView<'a> {
    /// The method (`POST`).
    pub method: &'a str,
    /// The path, without the query.
    pub path: &'a str,
    /// The headers.
    pub headers: &'a HeaderMap,
    /// The body, if it is JSON.
    pub json: Option<&'a Value>,
    /// Whether the request asks for a stream.
    pub stream: bool,
}

/// One cassette in a set, with its matching state.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The cassette (for a unified cassette: its [stand-in](crate::fixtures::stand_in)).
    pub cassette: Arc<Cassette>,
    /// The unified cassette, with its effective matcher, when this is one.
    pub unified: Option<(Arc<UnifiedCassette>, UnifiedMatcher)>,
    /// Its mock-side matcher extensions.
    pub ext: MatchExt,
    /// Where it came from.
    pub layer: Layer,
    /// Load order (ties within a layer go to the lower).
    pub order: u64,
    /// How often it answered.
    pub served: u64,
    /// What matching and replay work out once per cassette.
    pub(crate) info: Arc<Info>,
}

/// What the set works out once per cassette, when it is added: the conditions matching reads
/// on every request, the rank it would have, and its recorded response rendered for replay.
#[derive(Debug)]
pub(crate) struct Info {
    /// The cassette's name (shared with every journal entry it answers).
    pub(crate) name: Arc<str>,
    /// Its effective path (`match.path`, else the recorded one; unified: none).
    path: Option<String>,
    /// The stream-ness a request must have, if any (wire cassettes).
    stream: Option<bool>,
    /// The header conditions (wire cassettes).
    headers: Vec<(String, String)>,
    /// How specific it is: body leaves plus header and extension conditions (wire), the
    /// matcher's conditions (unified).
    specificity: usize,
    /// A success (status under 400).
    success: bool,
    /// The cassette's `priority` and `once`, kept here beside the rest of what matching reads
    /// on every request.
    priority: i32,
    once: bool,
    /// Its method is `POST` (case-insensitively): the usual case, checked without reading
    /// the cassette.
    post: bool,
    /// The recorded response rendered for replay (wire cassettes).
    pub(crate) prepared: Option<crate::replay::Prepared>,
}

impl Info {
    fn new(
        cassette: &Cassette,
        unified: Option<&(Arc<UnifiedCassette>, UnifiedMatcher)>,
        ext: &MatchExt,
    ) -> Info {
        let success = cassette.response.status < 400;
        let (priority, once) = (cassette.priority, cassette.once);
        if let Some((u, m)) = unified {
            return Info {
                specificity: m.conditions(),
                success,
                priority,
                once,
                ..Info::empty(&u.name)
            };
        }
        // The same reading of the cassette as `evaluate` does, done once.
        let headers: Vec<(String, String)> = header_conditions(cassette)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let body_leaves = cassette_body(cassette).map_or(0, |b| leaf_score(b, None).1);
        let conditions = headers.len()
            + usize::from(ext.last_user_message.is_some())
            + usize::from(ext.last_user_message_contains.is_some())
            + usize::from(ext.tools_present.is_some());
        Info {
            name: Arc::from(cassette.name.as_str()),
            path: Some(cassette_path(cassette).to_owned()),
            stream: stream_requirement(cassette, ext),
            headers,
            specificity: body_leaves + conditions,
            success,
            priority,
            once,
            post: cassette_method(cassette).eq_ignore_ascii_case("POST"),
            prepared: Some(crate::replay::Prepared::new(&cassette.response)),
        }
    }

    fn empty(name: &str) -> Info {
        Info {
            name: Arc::from(name),
            path: None,
            stream: None,
            headers: Vec::new(),
            specificity: 0,
            success: true,
            priority: 0,
            once: false,
            post: true,
            prepared: None,
        }
    }
}

impl Entry {
    fn served_as(&self) -> Served {
        match &self.unified {
            Some((u, _)) => Served::Unified(Arc::clone(u)),
            None => Served::Recorded(Arc::clone(&self.cassette)),
        }
    }

    fn used_up(&self) -> bool {
        self.info.once && self.served > 0
    }

    fn method(&self) -> &str {
        cassette_method(&self.cassette)
    }

    fn path(&self) -> &str {
        cassette_path(&self.cassette)
    }

    fn body(&self) -> Option<&Value> {
        cassette_body(&self.cassette)
    }

    /// The header conditions: `match.headers`, else a recorded `x-dashscope-sse: enable`.
    fn header_conditions(&self) -> Vec<(&str, &str)> {
        header_conditions(&self.cassette)
    }

    /// The stream-ness the request must have, if any.
    fn stream_requirement(&self) -> Option<bool> {
        stream_requirement(&self.cassette, &self.ext)
    }
}

fn cassette_method(c: &Cassette) -> &str {
    c.matcher
        .as_ref()
        .and_then(|m| m.method.as_deref())
        .unwrap_or(&c.request.method)
}

fn cassette_path(c: &Cassette) -> &str {
    c.matcher
        .as_ref()
        .and_then(|m| m.path.as_deref())
        .unwrap_or(&c.request.path)
}

fn cassette_body(c: &Cassette) -> Option<&Value> {
    c.matcher
        .as_ref()
        .and_then(|m| m.body.as_ref())
        .or(c.request.body.as_ref())
}

/// The header conditions: `match.headers`, else a recorded `x-dashscope-sse: enable`.
fn header_conditions(c: &Cassette) -> Vec<(&str, &str)> {
    if let Some(m) = &c.matcher {
        if !m.headers.is_empty() {
            return m
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
        }
    }
    c.request
        .headers
        .iter()
        .filter(|(k, v)| {
            k.eq_ignore_ascii_case("x-dashscope-sse") && v.trim().eq_ignore_ascii_case("enable")
        })
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// The stream-ness the request must have, if any.
fn stream_requirement(c: &Cassette, ext: &MatchExt) -> Option<bool> {
    if let Some(s) = ext.stream {
        return Some(s);
    }
    let headers_say = header_conditions(c)
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("x-dashscope-sse"));
    let body_says = cassette_body(c).and_then(|b| b.get("stream")).is_some();
    if headers_say || body_says {
        None
    } else {
        Some(c.is_stream_request())
    }
}

/// How a request's path relates to a cassette's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum PathFit {
    Other,
    Alias,
    Exact,
}

fn path_fit(cassette_path: &str, request_path: &str) -> PathFit {
    if cassette_path == request_path {
        return PathFit::Exact;
    }
    let alias = Endpoint::from_path(cassette_path)
        .and_then(Endpoint::alias)
        .is_some_and(|a| a.path() == request_path);
    if alias {
        PathFit::Alias
    } else {
        PathFit::Other
    }
}

/// The outcome of checking one cassette against one request.
#[derive(Clone, Debug)]
struct Evaluation {
    path: PathFit,
    method_ok: bool,
    /// Matching leaves of the body condition, and their total.
    body_leaves: (usize, usize),
    /// Every condition that failed, in words.
    reasons: Vec<String>,
    /// How many header and extension conditions the cassette sets (for specificity).
    conditions: usize,
}

impl Evaluation {
    #[cfg(test)]
    fn matches(&self) -> bool {
        self.reasons.is_empty()
    }
}

/// What a cassette answers with.
#[derive(Clone, Debug)]
pub enum Served {
    /// A wire cassette: its recorded response, byte for byte.
    Recorded(Arc<Cassette>),
    /// A unified cassette: its answer, rendered in the request's dialect.
    Unified(Arc<UnifiedCassette>),
}

impl Served {
    /// The cassette's name.
    pub fn name(&self) -> &str {
        match self {
            Served::Recorded(c) => &c.name,
            Served::Unified(u) => &u.name,
        }
    }
}

/// The conversation of a request, read once (for the unified cassettes) when first needed.
struct Conv<'a> {
    req: &'a RequestView<'a>,
    cell: OnceCell<Option<Conversation>>,
}

impl<'a> Conv<'a> {
    fn new(req: &'a RequestView<'a>) -> Self {
        Conv {
            req,
            cell: OnceCell::new(),
        }
    }

    fn get(&self) -> Option<&Conversation> {
        self.cell
            .get_or_init(|| {
                let endpoint = Endpoint::from_path(self.req.path)?;
                let request = DialectRequest::from_json(endpoint.dialect(), self.req.json?).ok()?;
                Some(Conversation::from_request(&request))
            })
            .as_ref()
    }
}

/// Checks a unified cassette against one request.
fn evaluate_unified(
    matcher: &UnifiedMatcher,
    used_up: bool,
    req: &RequestView<'_>,
    conv: &Conv<'_>,
) -> Evaluation {
    let endpoint = Endpoint::from_path(req.path);
    let mut ev = Evaluation {
        path: if endpoint.is_some() {
            PathFit::Exact
        } else {
            PathFit::Other
        },
        method_ok: req.method.eq_ignore_ascii_case("POST"),
        body_leaves: (0, 0),
        reasons: Vec::new(),
        conditions: matcher.conditions(),
    };
    if used_up {
        ev.reasons.push("once: already served".to_owned());
    }
    let Some(endpoint) = endpoint else {
        ev.reasons.push(format!(
            "path: expected a generation path, got {}",
            req.path
        ));
        return ev;
    };
    if !ev.method_ok {
        ev.reasons
            .push(format!("method: expected POST, got {}", req.method));
    }
    match conv.get() {
        Some(c) => ev
            .reasons
            .extend(matcher.mismatches(c, endpoint.dialect(), req.stream)),
        None => ev.reasons.push(format!(
            "body: not a {} request",
            endpoint.dialect().as_str()
        )),
    }
    ev
}

/// Checks one cassette against one request. With `explain`, every failed condition is put
/// into words; without, the check stops at the first one. [`CassetteSet::take`] uses
/// [`wire_matches`] and [`unified_matches`], which decide the same without words.
fn evaluate(entry: &Entry, req: &RequestView<'_>, conv: &Conv<'_>, explain: bool) -> Evaluation {
    if let Some((_, matcher)) = &entry.unified {
        return evaluate_unified(matcher, entry.used_up(), req, conv);
    }
    let mut ev = Evaluation {
        path: path_fit(entry.path(), req.path),
        method_ok: entry.method().eq_ignore_ascii_case(req.method),
        body_leaves: (0, 0),
        reasons: Vec::new(),
        conditions: 0,
    };
    // Records a failed condition; without `explain`, stops at the first.
    macro_rules! miss {
        ($($why:tt)*) => {{
            if !explain {
                ev.reasons.push(String::new());
                return ev;
            }
            ev.reasons.push(format!($($why)*));
        }};
    }
    if entry.used_up() {
        miss!("once: already served");
    }
    if ev.path == PathFit::Other {
        miss!("path: expected {}, got {}", entry.path(), req.path);
    }
    if !ev.method_ok {
        miss!("method: expected {}, got {}", entry.method(), req.method);
    }
    if let Some(want) = entry.stream_requirement() {
        if want != req.stream {
            let kind = if want { "stream" } else { "non-stream" };
            miss!("stream: the cassette answers {kind} requests");
        }
    }
    let headers = entry.header_conditions();
    for (name, want) in &headers {
        let got = req
            .headers
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim);
        if !got.is_some_and(|g| g.eq_ignore_ascii_case(want.trim())) {
            miss!("header {name}: expected {want:?}, got {got:?}");
        }
    }
    if let Some(expected) = entry.body() {
        match req.json {
            Some(actual) => {
                if let Some(why) = first_mismatch(expected, actual, "body") {
                    miss!("{why}");
                }
            }
            None => miss!("body: expected JSON"),
        }
        ev.body_leaves = leaf_score(expected, req.json);
    }
    let ext = &entry.ext;
    if ext.last_user_message.is_some() || ext.last_user_message_contains.is_some() {
        let last = req.json.and_then(last_user_text);
        if let Some(want) = &ext.last_user_message {
            if last.as_deref() != Some(want.as_str()) {
                miss!("last user message: expected {want:?}, got {last:?}");
            }
        }
        if let Some(want) = &ext.last_user_message_contains {
            if !last.as_deref().is_some_and(|l| l.contains(want.as_str())) {
                miss!("last user message: expected to contain {want:?}, got {last:?}");
            }
        }
    }
    if let Some(want) = ext.tools_present {
        if want != req.json.is_some_and(tools_present) {
            miss!("tools: expected {}", if want { "some" } else { "none" });
        }
    }
    ev.conditions = headers.len()
        + usize::from(ext.last_user_message.is_some())
        + usize::from(ext.last_user_message_contains.is_some())
        + usize::from(ext.tools_present.is_some());
    ev
}

/// Whether `expected` is contained in `actual` (partial JSON match).
pub fn json_contains(expected: &Value, actual: &Value) -> bool {
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
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                x == y
            } else if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
                x == y
            } else {
                x.as_f64() == y.as_f64()
            }
        }
        _ => a == b,
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() <= 60 {
        return s;
    }
    let mut end = 57;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// The first place where `actual` does not contain `expected`, in words.
fn first_mismatch(expected: &Value, actual: &Value, at: &str) -> Option<String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let here = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                match a.get(k) {
                    Some(av) => {
                        if let Some(why) = first_mismatch(ev, av, &here) {
                            return Some(why);
                        }
                    }
                    None => return Some(format!("{here}: missing (expected {})", short(ev))),
                }
            }
            None
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Some(format!(
                    "{at}: expected {} elements, got {}",
                    e.len(),
                    a.len()
                ));
            }
            e.iter()
                .zip(a)
                .enumerate()
                .find_map(|(i, (ev, av))| first_mismatch(ev, av, &format!("{at}[{i}]")))
        }
        (e, a) if values_equal(e, a) => None,
        (e, a) => Some(format!("{at}: expected {}, got {}", short(e), short(a))),
    }
}

/// (matching leaves, total leaves) of `expected` against `actual`.
fn leaf_score(expected: &Value, actual: Option<&Value>) -> (usize, usize) {
    match expected {
        Value::Object(e) => e.iter().fold((0, 0), |(m, t), (k, ev)| {
            let (m2, t2) = leaf_score(ev, actual.and_then(|a| a.get(k)));
            (m + m2, t + t2)
        }),
        Value::Array(e) if !e.is_empty() => {
            let arr = actual.and_then(Value::as_array);
            e.iter().enumerate().fold((0, 0), |(m, t), (i, ev)| {
                let (m2, t2) = leaf_score(ev, arr.and_then(|a| a.get(i)));
                (m + m2, t + t2)
            })
        }
        leaf => (
            usize::from(actual.is_some_and(|a| values_equal(leaf, a))),
            1,
        ),
    }
}

/// The text of a message `content`: a string, or the `text` members of a list of parts.
fn content_text(content: &Value) -> Option<String> {
    match content {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => {
            let texts: Vec<&str> = parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect();
            Some(texts.concat())
        }
        _ => None,
    }
}

fn last_user_in(messages: &[Value]) -> Option<String> {
    messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .and_then(|m| m.get("content"))
        .and_then(content_text)
}

/// The text of the last user message of a request in any dialect: chat `messages`, native
/// `input.messages` or `input.prompt`, Responses `input` (a string or a list of items).
pub fn last_user_text(body: &Value) -> Option<String> {
    if let Some(messages) = body.get("messages").and_then(Value::as_array) {
        return last_user_in(messages);
    }
    match body.get("input")? {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => last_user_in(items),
        Value::Object(input) => {
            if let Some(messages) = input.get("messages").and_then(Value::as_array) {
                if let Some(t) = last_user_in(messages) {
                    return Some(t);
                }
            }
            input
                .get("prompt")
                .and_then(Value::as_str)
                .map(str::to_owned)
        }
        _ => None,
    }
}

/// Whether a request carries a non-empty `tools` list (top level, or native `parameters.tools`).
pub fn tools_present(body: &Value) -> bool {
    let non_empty = |v: Option<&Value>| v.and_then(Value::as_array).is_some_and(|a| !a.is_empty());
    non_empty(body.get("tools")) || non_empty(body.get("parameters").and_then(|p| p.get("tools")))
}

/// A cassette close to an unmatched request, and why it did not match.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Nearest {
    /// The cassette's name.
    pub name: String,
    /// Its method and path.
    pub path: String,
    /// The conditions that failed.
    pub mismatch: Vec<String>,
}

/// The cassettes the mock answers from.
///
/// Wire cassettes are indexed by their path, so a request is checked only against the
/// cassettes of its own path and of its alias, plus the unified cassettes; and a unified
/// cassette, whose rank does not depend on the request, is checked only when it could still
/// outrank the best match so far (so a request a wire cassette answers never pays for
/// reading its conversation).
#[derive(Clone, Debug, Default)]
pub struct CassetteSet {
    entries: Vec<Entry>,
    next_order: u64,
    /// Wire entries by effective path (indices into `entries`, in load order): for each
    /// path, the entries a non-stream request can match and those a stream request can.
    by_path: Vec<(String, [Vec<usize>; 2])>,
    /// Unified entries (indices into `entries`, in load order).
    unified: Vec<usize>,
    /// What the cassettes added through the admin API hold (see
    /// [`MAX_RUNTIME_CASSETTE_BYTES`](crate::admin::MAX_RUNTIME_CASSETTE_BYTES)).
    runtime_bytes: usize,
}

/// The rank of a match (higher wins): path fit, priority, specificity, success, layer, and
/// the earlier load.
type Rank = (PathFit, i32, usize, bool, Layer, std::cmp::Reverse<u64>);

/// Whether a wire entry on the request's path (or its alias) matches it: [`evaluate`]'s
/// conditions, checked in the same order, without putting any failure into words.
fn wire_matches(e: &Entry, req: &RequestView<'_>) -> bool {
    let method_ok = if e.info.post {
        req.method.eq_ignore_ascii_case("POST")
    } else {
        e.method().eq_ignore_ascii_case(req.method)
    };
    if e.used_up() || !method_ok {
        return false;
    }
    if e.info.stream.is_some_and(|want| want != req.stream) {
        return false;
    }
    for (name, want) in &e.info.headers {
        let got = req
            .headers
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
            .map(str::trim);
        if !got.is_some_and(|g| g.eq_ignore_ascii_case(want.trim())) {
            return false;
        }
    }
    if let Some(expected) = e.body() {
        if !req
            .json
            .is_some_and(|actual| json_contains(expected, actual))
        {
            return false;
        }
    }
    let ext = &e.ext;
    if ext.last_user_message.is_some() || ext.last_user_message_contains.is_some() {
        let last = req.json.and_then(last_user_text);
        if let Some(want) = &ext.last_user_message {
            if last.as_deref() != Some(want.as_str()) {
                return false;
            }
        }
        if let Some(want) = &ext.last_user_message_contains {
            if !last.as_deref().is_some_and(|l| l.contains(want.as_str())) {
                return false;
            }
        }
    }
    if let Some(want) = ext.tools_present {
        if want != req.json.is_some_and(tools_present) {
            return false;
        }
    }
    true
}

/// Whether a unified entry matches a request on a generation path: [`evaluate_unified`]'s
/// conditions, the ones that need no conversation first.
fn unified_matches(
    e: &Entry,
    matcher: &UnifiedMatcher,
    endpoint: Endpoint,
    req: &RequestView<'_>,
    conv: &Conv<'_>,
) -> bool {
    if e.used_up() || !req.method.eq_ignore_ascii_case("POST") {
        return false;
    }
    let dialect = endpoint.dialect();
    if !matcher.dialects.is_empty() && !matcher.dialects.contains(&dialect) {
        return false;
    }
    if matcher.stream.is_some_and(|want| want != req.stream) {
        return false;
    }
    conv.get()
        .is_some_and(|c| matcher.mismatches(c, dialect, req.stream).is_empty())
}

impl CassetteSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a cassette. `raw` is its JSON (for the mock's matcher extensions), if known; when
    /// `raw` is a unified cassette, the entry answers in every dialect (and `cassette` is its
    /// stand-in).
    pub fn add(&mut self, cassette: Cassette, raw: Option<&Value>, layer: Layer) {
        let unified = raw
            .filter(|r| cassette_format::is_unified(r))
            .and_then(|r| UnifiedCassette::from_value(r).ok())
            .map(|u| {
                let m = u.effective_matcher();
                (Arc::new(u), m)
            });
        let ext = match (&unified, raw) {
            (None, Some(raw)) => MatchExt::from_cassette_json(raw),
            _ => MatchExt::default(),
        };
        let info = Arc::new(Info::new(&cassette, unified.as_ref(), &ext));
        self.index(self.entries.len(), &info);
        self.entries.push(Entry {
            cassette: Arc::new(cassette),
            unified,
            ext,
            layer,
            order: self.next_order,
            served: 0,
            info,
        });
        self.next_order += 1;
    }

    /// Files entry `i` under its path and the stream-ness it accepts (or as unified).
    fn index(&mut self, i: usize, info: &Info) {
        let Some(path) = &info.path else {
            self.unified.push(i);
            return;
        };
        let slot = match self.by_path.iter().position(|(p, _)| p == path) {
            Some(k) => k,
            None => {
                self.by_path.push((path.clone(), [Vec::new(), Vec::new()]));
                self.by_path.len() - 1
            }
        };
        for stream in [false, true] {
            if info.stream.is_none_or(|want| want == stream) {
                self.by_path[slot].1[usize::from(stream)].push(i);
            }
        }
    }

    fn reindex(&mut self) {
        self.by_path.clear();
        self.unified.clear();
        let infos: Vec<Arc<Info>> = self.entries.iter().map(|e| Arc::clone(&e.info)).collect();
        for (i, info) in infos.iter().enumerate() {
            self.index(i, info);
        }
    }

    /// The wire entries on `path` that a request of this stream-ness can match.
    fn on_path(&self, path: &str, stream: bool) -> Option<&[usize]> {
        self.by_path
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, lists)| lists[usize::from(stream)].as_slice())
    }

    /// The number of cassettes.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every entry, in load order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Removes the cassettes of a layer.
    pub fn remove_layer(&mut self, layer: Layer) {
        self.entries.retain(|e| e.layer != layer);
        if layer == Layer::Runtime {
            self.runtime_bytes = 0;
        }
        self.reindex();
    }

    /// What the cassettes added through the admin API hold, about.
    pub(crate) fn runtime_bytes(&self) -> usize {
        self.runtime_bytes
    }

    /// Counts `n` more bytes held by cassettes added through the admin API.
    pub(crate) fn add_runtime_bytes(&mut self, n: usize) {
        self.runtime_bytes = self.runtime_bytes.saturating_add(n);
    }

    /// Makes every `once` cassette answer again.
    pub fn rearm(&mut self) {
        for e in &mut self.entries {
            e.served = 0;
        }
    }

    /// Adds a unified cassette (it answers in every dialect).
    pub fn add_unified(&mut self, unified: UnifiedCassette, layer: Layer) {
        let f = crate::fixtures::Fixture::from_unified("runtime", &unified);
        self.add(f.cassette, Some(&f.raw), layer);
    }

    /// Finds the cassette that answers `req` and counts it as served (a unified cassette
    /// comes back as its stand-in: use [`take_served`](Self::take_served) to render it).
    pub fn take(&mut self, req: &RequestView<'_>) -> Option<Arc<Cassette>> {
        let i = self.pick(req)?;
        Some(Arc::clone(&self.entries[i].cassette))
    }

    /// Finds the cassette that answers `req`, counts it as served, and says what it answers
    /// with.
    pub fn take_served(&mut self, req: &RequestView<'_>) -> Option<Served> {
        let i = self.pick(req)?;
        Some(self.entries[i].served_as())
    }

    /// As [`take_served`](Self::take_served), with what the set worked out for the cassette
    /// (its shared name and its pre-rendered response).
    pub(crate) fn take_for(&mut self, req: &RequestView<'_>) -> Option<(Served, Arc<Info>)> {
        let i = self.pick(req)?;
        let e = &self.entries[i];
        Some((e.served_as(), Arc::clone(&e.info)))
    }

    /// As [`take_named_served`](Self::take_named_served), with what the set worked out for
    /// the cassette.
    pub(crate) fn take_named_for(&mut self, name: &str) -> Option<(Served, Arc<Info>)> {
        let e = self.named(name)?;
        Some((e.served_as(), Arc::clone(&e.info)))
    }

    /// The choice of [`pick`](Self::pick) made by checking every entry (the reference the
    /// index is tested against); counts nothing.
    #[cfg(test)]
    fn pick_by_scan(&self, req: &RequestView<'_>) -> Option<usize> {
        let conv = Conv::new(req);
        let mut best: Option<(usize, Rank)> = None;
        for (i, e) in self.entries.iter().enumerate() {
            let ev = evaluate(e, req, &conv, false);
            if !ev.matches() {
                continue;
            }
            let key = (
                ev.path,
                e.cassette.priority,
                ev.body_leaves.1 + ev.conditions,
                e.cassette.response.status < 400,
                e.layer,
                std::cmp::Reverse(e.order),
            );
            if best.as_ref().is_none_or(|(_, k)| key > *k) {
                best = Some((i, key));
            }
        }
        best.map(|(i, _)| i)
    }

    fn rank(e: &Entry, path: PathFit) -> Rank {
        (
            path,
            e.info.priority,
            e.info.specificity,
            e.info.success,
            e.layer,
            std::cmp::Reverse(e.order),
        )
    }

    /// The entry that answers `req`, counted as served.
    ///
    /// The same choice as checking every entry with [`evaluate`]: an entry off the request's
    /// path and its alias fails the path condition, a unified entry fails off the generation
    /// paths, and a unified entry ranked below the best match so far cannot be chosen.
    fn pick(&mut self, req: &RequestView<'_>) -> Option<usize> {
        let mut best: Option<(usize, Rank)> = None;
        let endpoint = Endpoint::from_path(req.path);
        let alias = endpoint.and_then(Endpoint::alias).map(Endpoint::path);
        let exact = self
            .on_path(req.path, req.stream)
            .map(|v| (v, PathFit::Exact));
        let aliased = alias
            .and_then(|a| self.on_path(a, req.stream))
            .map(|v| (v, PathFit::Alias));
        for (list, fit) in exact.into_iter().chain(aliased) {
            for &i in list {
                let e = &self.entries[i];
                if !wire_matches(e, req) {
                    continue;
                }
                let rank = Self::rank(e, fit);
                if best.as_ref().is_none_or(|(_, r)| rank > *r) {
                    best = Some((i, rank));
                }
            }
        }
        if let Some(endpoint) = endpoint {
            let conv = Conv::new(req);
            for &i in &self.unified {
                let e = &self.entries[i];
                let rank = Self::rank(e, PathFit::Exact);
                if best.as_ref().is_some_and(|(_, r)| *r >= rank) {
                    continue;
                }
                let Some((_, matcher)) = &e.unified else {
                    continue;
                };
                if unified_matches(e, matcher, endpoint, req, &conv) {
                    best = Some((i, rank));
                }
            }
        }
        let (i, _) = best?;
        self.entries[i].served += 1;
        Some(i)
    }

    /// Finds the cassette named `name` (the `x-mock-cassette` request header) and counts it as
    /// served; a used-up `once` cassette is not returned (a unified cassette comes back as its
    /// stand-in: use [`take_named_served`](Self::take_named_served) to render it).
    pub fn take_named(&mut self, name: &str) -> Option<Arc<Cassette>> {
        let e = self.named(name)?;
        Some(Arc::clone(&e.cassette))
    }

    /// As [`take_named`](Self::take_named), saying what the cassette answers with.
    pub fn take_named_served(&mut self, name: &str) -> Option<Served> {
        Some(self.named(name)?.served_as())
    }

    fn named(&mut self, name: &str) -> Option<&Entry> {
        let e = self
            .entries
            .iter_mut()
            .rev()
            .find(|e| e.cassette.name == name && !e.used_up())?;
        e.served += 1;
        Some(e)
    }

    /// The cassettes nearest to an unmatched request (same path first, then by how much of
    /// the body condition holds), at most `limit`.
    pub fn nearest(&self, req: &RequestView<'_>, limit: usize) -> Vec<Nearest> {
        let conv = Conv::new(req);
        let mut scored: Vec<(Evaluation, &Entry)> = self
            .entries
            .iter()
            .map(|e| (evaluate(e, req, &conv, true), e))
            .collect();
        scored.sort_by(|(a, ea), (b, eb)| {
            let frac = |(m, t): (usize, usize)| if t == 0 { 1.0 } else { m as f64 / t as f64 };
            b.path
                .cmp(&a.path)
                .then(b.method_ok.cmp(&a.method_ok))
                .then(frac(b.body_leaves).total_cmp(&frac(a.body_leaves)))
                .then(a.reasons.len().cmp(&b.reasons.len()))
                .then(ea.order.cmp(&eb.order))
        });
        scored
            .into_iter()
            .take(limit)
            .map(|(ev, e)| Nearest {
                name: e.cassette.name.clone(),
                path: if e.unified.is_some() {
                    "POST (any generation path)".to_owned()
                } else {
                    format!("{} {}", e.method(), e.path())
                },
                mismatch: ev.reasons,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cassette(raw: &Value) -> Cassette {
        Cassette::from_json(&raw.to_string()).unwrap()
    }

    fn chat(name: &str, body: Value, extra: Value) -> Value {
        let mut c = json!({
            "version": 1, "name": name, "description": "d", "dialect": "chat",
            "request": {"method": "POST", "path": "/compatible-mode/v1/chat/completions", "body": body},
            "response": {"status": 200, "headers": [], "body": {"text": name}}
        });
        if let (Some(o), Some(x)) = (c.as_object_mut(), extra.as_object()) {
            for (k, v) in x {
                o.insert(k.clone(), v.clone());
            }
        }
        c
    }

    fn view<'a>(json: Option<&'a Value>, headers: &'a HeaderMap, stream: bool) -> RequestView<'a> {
        RequestView {
            method: "POST",
            path: "/compatible-mode/v1/chat/completions",
            headers,
            json,
            stream,
        }
    }

    #[test]
    fn partial_json() {
        assert!(json_contains(&json!({"a": 1}), &json!({"a": 1.0, "b": 2})));
        assert!(!json_contains(
            &json!({"a": [1, 2]}),
            &json!({"a": [1, 2, 3]})
        ));
        assert!(json_contains(
            &json!({"a": [{"x": 1}]}),
            &json!({"a": [{"x": 1, "y": 2}]})
        ));
        assert!(!json_contains(&json!({"a": {"b": "c"}}), &json!({"a": {}})));
        assert!(json_contains(&json!({}), &json!({"anything": true})));
        assert_eq!(
            first_mismatch(&json!({"m": "a"}), &json!({"m": "b"}), "body").as_deref(),
            Some("body.m: expected \"a\", got \"b\"")
        );
    }

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

    #[test]
    fn priority_layers_and_once() {
        let mut set = CassetteSet::new();
        let body = json!({"model": "m"});
        for (name, extra, layer) in [
            ("chat/low", json!({}), Layer::Embedded),
            ("chat/runtime", json!({}), Layer::Runtime),
            (
                "chat/once-1",
                json!({"once": true, "priority": 5}),
                Layer::Embedded,
            ),
            (
                "chat/once-2",
                json!({"once": true, "priority": 5}),
                Layer::Embedded,
            ),
        ] {
            let raw = chat(name, body.clone(), extra);
            set.add(cassette(&raw), Some(&raw), layer);
        }
        let headers = HeaderMap::new();
        let req = json!({"model": "m", "messages": []});
        let v = view(Some(&req), &headers, false);
        let names: Vec<String> = (0..4).map(|_| set.take(&v).unwrap().name.clone()).collect();
        assert_eq!(
            names,
            ["chat/once-1", "chat/once-2", "chat/runtime", "chat/runtime"]
        );
        set.rearm();
        assert_eq!(set.take(&v).unwrap().name, "chat/once-1");
        // A stream request does not get a non-stream cassette.
        let sreq = json!({"model": "m", "stream": true});
        assert!(set.take(&view(Some(&sreq), &headers, true)).is_none());
    }

    #[test]
    fn extensions_and_nearest() {
        let mut set = CassetteSet::new();
        let raw = chat(
            "chat/tools",
            json!({"model": "m"}),
            json!({"match": {"body": {"model": "m"}, "last_user_message_contains": "weather", "tools_present": true}}),
        );
        set.add(cassette(&raw), Some(&raw), Layer::Embedded);
        let raw2 = chat("chat/other", json!({"model": "x"}), json!({}));
        set.add(cassette(&raw2), Some(&raw2), Layer::Embedded);
        let headers = HeaderMap::new();
        let yes = json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "the weather?"}]}],
                         "tools": [{"type": "function"}]});
        assert_eq!(
            set.take(&view(Some(&yes), &headers, false)).unwrap().name,
            "chat/tools"
        );
        let no = json!({"model": "m", "messages": [{"role": "user", "content": "hello"}]});
        assert!(set.take(&view(Some(&no), &headers, false)).is_none());
        let near = set.nearest(&view(Some(&no), &headers, false), 3);
        assert_eq!(near[0].name, "chat/tools");
        assert!(
            near[0]
                .mismatch
                .iter()
                .any(|m| m.contains("last user message"))
        );
        assert!(near[0].mismatch.iter().any(|m| m.starts_with("tools")));
        assert_eq!(near[1].name, "chat/other");
    }

    #[test]
    fn last_user_text_in_every_dialect() {
        assert_eq!(
            last_user_text(&json!({"input": "hi"})).as_deref(),
            Some("hi")
        );
        assert_eq!(
            last_user_text(&json!({"input": [{"role": "user", "content": [{"type": "input_text", "text": "a"}]}]}))
                .as_deref(),
            Some("a")
        );
        assert_eq!(
            last_user_text(&json!({"input": {"messages": [{"role": "user", "content": [{"text": "b"}, {"image": "u"}]}]}}))
                .as_deref(),
            Some("b")
        );
        assert_eq!(
            last_user_text(&json!({"input": {"prompt": "p"}})).as_deref(),
            Some("p")
        );
        assert!(tools_present(&json!({"parameters": {"tools": [{}]}})));
        assert!(!tools_present(&json!({"tools": []})));
    }

    #[test]
    fn unified_cassettes_match_the_conversation_in_any_dialect() {
        let mut set = CassetteSet::new();
        let unified = json!({
            "version": 1, "name": "unified/u", "description": "d",
            "request": {"model": "m", "messages": [{"role": "user", "parts": [{"type": "text", "text": "hi"}]}]},
            "response": {"unified": {"candidates": [{"index": 0, "text": "hello"}]}}
        });
        let u = UnifiedCassette::from_value(&unified).unwrap();
        set.add_unified(u, Layer::Embedded);
        // A wire cassette for the same chat request, one priority higher, answers chat only.
        let raw = chat("chat/w", json!({"model": "m"}), json!({"priority": 1}));
        set.add(cassette(&raw), Some(&raw), Layer::Embedded);
        let headers = HeaderMap::new();
        let chat_body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        let v = view(Some(&chat_body), &headers, false);
        assert!(matches!(set.take_served(&v), Some(Served::Recorded(c)) if c.name == "chat/w"));
        let native_body = json!({"model": "m", "input": {"prompt": "hi"}});
        let native = RequestView {
            path: crate::endpoint::NATIVE_TEXT_PATH,
            ..view(Some(&native_body), &headers, true)
        };
        assert!(
            matches!(set.take_served(&native), Some(Served::Unified(u)) if u.name == "unified/u")
        );
        // `take` gives the stand-in, a chat cassette of the same name.
        let stand_in = set.take(&native).unwrap();
        assert_eq!(stand_in.name, "unified/u");
        assert_eq!(
            stand_in.dialect,
            dashscope_protocol::cassette::Dialect::Chat
        );
        // Another question: no match, and the reason is given.
        let other = json!({"model": "m", "input": {"prompt": "bye"}});
        let miss = RequestView {
            path: crate::endpoint::NATIVE_TEXT_PATH,
            ..view(Some(&other), &headers, false)
        };
        assert!(set.take_served(&miss).is_none());
        let near = set.nearest(&miss, 1);
        assert_eq!(near[0].name, "unified/u");
        assert!(
            near[0].mismatch[0].starts_with("last user message"),
            "{near:?}"
        );
    }

    /// The index picks what checking every cassette picks: every embedded fixture's own
    /// request and variations of it (stream flipped, on every generation path, another model,
    /// no JSON, with and without the native SSE header), and every unified cassette's
    /// conversation in every dialect, stream or not, twice over (so used-up `once` cassettes
    /// count too).
    #[test]
    fn the_index_picks_what_a_full_scan_picks() {
        use dashscope_protocol::cassette::Dialect;
        let (fixtures, bad) = crate::fixtures::embedded();
        assert!(bad.is_empty());
        let mut set = CassetteSet::new();
        for f in &fixtures {
            set.add(f.cassette.clone(), Some(&f.raw), Layer::Embedded);
        }
        // A runtime twin of one fixture and a `once` cassette, so layers and `once` matter.
        let twin = &fixtures[0];
        set.add(twin.cassette.clone(), Some(&twin.raw), Layer::Runtime);
        let once = chat(
            "chat/once",
            json!({"model": "qwen-plus"}),
            json!({"once": true, "priority": 3}),
        );
        set.add(cassette(&once), Some(&once), Layer::Runtime);
        // A catch-all wire cassette, and the unified cassettes again in a later layer: these
        // outrank it, so the skipping of unified cassettes is tested too.
        let any_plus = chat("chat/any-plus", json!({"model": "qwen-plus"}), json!({}));
        set.add(cassette(&any_plus), Some(&any_plus), Layer::Embedded);
        for f in fixtures.iter().filter(|f| f.unified().is_some()) {
            set.add(f.cassette.clone(), Some(&f.raw), Layer::Runtime);
        }
        let mut bodies: Vec<Option<Value>> = Vec::new();
        for f in &fixtures {
            if let Some(u) = f.unified() {
                for dialect in [Dialect::Chat, Dialect::Responses, Dialect::Native] {
                    if let Ok(r) = u.request.to_request(dialect) {
                        bodies.push(Some(r.to_json()));
                    }
                }
            }
            let Some(body) = f.cassette.request.body.clone() else {
                continue;
            };
            let mut other_model = body.clone();
            if let Some(o) = other_model.as_object_mut() {
                o.insert("model".to_owned(), json!("qwen-other"));
            }
            let mut streamed = body.clone();
            if let Some(o) = streamed.as_object_mut() {
                let s = o.get("stream").and_then(Value::as_bool) == Some(true);
                o.insert("stream".to_owned(), json!(!s));
            }
            bodies.extend([Some(body), Some(other_model), Some(streamed)]);
        }
        bodies.push(None);
        let mut sse = HeaderMap::new();
        sse.insert("x-dashscope-sse", "enable".parse().unwrap());
        let plain = HeaderMap::new();
        let mut checked = 0;
        let mut matched = 0;
        for _round in 0..2 {
            for body in &bodies {
                for endpoint in Endpoint::ALL {
                    for headers in [&plain, &sse] {
                        for stream in [false, true] {
                            let req = RequestView {
                                method: "POST",
                                path: endpoint.path(),
                                headers,
                                json: body.as_ref(),
                                stream,
                            };
                            let want = set.pick_by_scan(&req);
                            let got = set.pick(&req);
                            assert_eq!(
                                got.map(|i| &set.entries[i].cassette.name),
                                want.map(|i| &set.entries[i].cassette.name),
                                "{} {:?} stream={stream}",
                                endpoint.path(),
                                body
                            );
                            checked += 1;
                            matched += usize::from(got.is_some());
                        }
                    }
                }
            }
        }
        assert!(
            matched > 100,
            "only {matched} of {checked} requests matched"
        );
        assert!(matched < checked);
    }

    #[test]
    fn responses_alias_path_is_a_fallback() {
        let mut set = CassetteSet::new();
        let raw = json!({
            "version": 1, "name": "responses/x", "description": "d", "dialect": "responses",
            "request": {"method": "POST", "path": "/compatible-mode/v1/responses", "body": {"model": "m"}},
            "response": {"status": 200, "body": {"text": "{}"}}
        });
        set.add(cassette(&raw), Some(&raw), Layer::Embedded);
        let headers = HeaderMap::new();
        let body = json!({"model": "m"});
        let v = RequestView {
            method: "POST",
            path: crate::endpoint::RESPONSES_LEGACY_PATH,
            headers: &headers,
            json: Some(&body),
            stream: false,
        };
        assert_eq!(set.take(&v).unwrap().name, "responses/x");
    }
}
