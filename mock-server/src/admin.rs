//! The admin API under `/__mock/` (answers are JSON; the endpoints are listed in the crate
//! docs).
//!
//! # Protection
//!
//! So that no web page open in a browser can read or change the mock (a browser sends any
//! page's requests to any address it can reach), every request under `/__mock/` passes these
//! checks first, in this order:
//!
//! 1. **403** when the server is bound to a loopback address and the `Host` is not a loopback
//!    name or address (`localhost`, `*.localhost`, `127.0.0.0/8`, `::1`): a DNS-rebinding page.
//! 2. **403** when an `Origin` is sent whose host (and port) is not the request's own `Host`,
//!    nor, when bound to a loopback address, a loopback name: a cross-origin page.
//! 3. **401** when API keys are configured (`--api-key`) and the request does not carry one as
//!    `Authorization: Bearer <key>`; with `--admin-key KEY`, exactly that key. `/__mock/health`
//!    needs no key (readiness probes). Without keys the admin API is open.
//! 4. **415** for a request that can change state (any method but `GET`, `HEAD` and `OPTIONS`)
//!    without `Content-Type: application/json`, bodiless ones (`POST /__mock/reset`) included:
//!    a browser cannot send that content type across origins without a preflight, which the
//!    mock never grants.
//!
//! A refused request changes nothing. Served in-process (not through
//! [`serve`](crate::serve)) the bound address is unknown and check 1 is skipped.
//!
//! # Bounds
//!
//! The journal is written out entry by entry, a body in pieces of 64 KiB, each entry held
//! (from the in-flight budget) only while it is written: reading it costs about one entry,
//! whatever the journal's size. Cassettes added at run time hold at most
//! [`MAX_RUNTIME_CASSETTE_BYTES`] together.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::{Body as AxumBody, Bytes};
use axum::extract::{Request, State};
use axum::response::{IntoResponse as _, Response};
use futures_util::StreamExt as _;
use http::request::Parts;
use http::{HeaderValue, Method, StatusCode};
use serde_json::{Value, json};

use crate::budget::{Held, json_text_cost};
use crate::handler::{bearer, header_str, read_body};
use crate::journal::Record;
use crate::matching::{Layer, parse_value};
use crate::state::{MockState, lock};

/// The prefix of the admin API.
pub(crate) const ADMIN_PREFIX: &str = "/__mock";

/// The most bytes the cassettes added through `POST /__mock/cassettes` hold together (counted
/// as what their JSON costs parsed, plus their text); `POST /__mock/reset` drops them.
pub(crate) const MAX_RUNTIME_CASSETTE_BYTES: usize = 64 * 1024 * 1024;

/// The address the serving listener is bound to, put in each request's extensions by
/// [`serve`](crate::serve) (the admin API's loopback checks need it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Bound(pub(crate) SocketAddr);

fn reply(status: StatusCode, body: impl Into<AxumBody>) -> Response {
    let json = HeaderValue::from_static("application/json");
    (status, [(http::header::CONTENT_TYPE, json)], body.into()).into_response()
}

fn ok(body: &Value) -> Response {
    reply(StatusCode::OK, body.to_string())
}

fn fail(status: StatusCode, message: impl Into<String>) -> Response {
    reply(status, json!({"error": message.into()}).to_string())
}

/// Every request under `/__mock/`.
pub(crate) async fn admin(State(state): State<MockState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().strip_prefix(ADMIN_PREFIX).unwrap_or("");
    let path = path.trim_end_matches('/').to_owned();
    if let Some(refused) = guard(&state, &parts, &path) {
        return refused;
    }
    if parts.method == Method::HEAD {
        return reply(StatusCode::METHOD_NOT_ALLOWED, AxumBody::empty());
    }
    let adds_cassettes = parts.method == Method::POST && path == "/cassettes";
    let mut read = read_body(&state, body, adds_cassettes).await;
    let json = read.json.take();
    if let Some(e) = &read.error {
        let e = e.reply();
        let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
        return fail(status, e.message);
    }
    let faults = || serde_json::to_value(lock(&state.inner.faults).list()).unwrap_or_default();
    match (parts.method, path.as_str()) {
        (Method::GET, "/health") => ok(&json!({
            "status": "ok",
            "cassettes": lock(&state.inner.cassettes).len(),
            "recording": state.inner.recorder.is_some(),
            "strict": state.config().strict,
            "seed": state.seed(),
        })),
        (Method::GET, "/journal") => journal(&state),
        (Method::DELETE, "/journal") => {
            lock(&state.inner.journal).clear();
            ok(&json!({"cleared": true}))
        }
        (Method::POST, "/reset") => {
            state.reset();
            ok(&json!({"reset": true}))
        }
        (Method::GET, "/cassettes") => ok(&Value::Array(lock(&state.inner.cassettes).list())),
        (Method::POST, "/cassettes") => add_cassettes(&state, &read.bytes, json),
        (Method::GET, "/faults") => ok(&faults()),
        (Method::POST, "/faults") => add_fault(&state, &read.bytes),
        (Method::DELETE, "/faults") => {
            state.clear_faults();
            ok(&json!({"cleared": true}))
        }
        (Method::DELETE, p) if p.starts_with("/faults/") => {
            match p["/faults/".len()..].parse::<u64>() {
                Err(_) => fail(StatusCode::BAD_REQUEST, "the fault id must be a number"),
                Ok(id) if state.with_faults(|f| f.remove(id)) => ok(&json!({"removed": id})),
                Ok(id) => fail(StatusCode::NOT_FOUND, format!("no fault {id}")),
            }
        }
        (m, p)
            if ["/health", "/journal", "/reset", "/cassettes", "/faults"].contains(&p)
                || p.starts_with("/faults/") =>
        {
            fail(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{m} is not allowed on {ADMIN_PREFIX}{p}"),
            )
        }
        (_, p) => fail(
            StatusCode::NOT_FOUND,
            format!("no admin endpoint {ADMIN_PREFIX}{p}"),
        ),
    }
}

/// `POST /__mock/cassettes`: one cassette, or an array of them.
fn add_cassettes(state: &MockState, bytes: &Bytes, json: Option<Value>) -> Response {
    let docs = match json {
        Some(Value::Array(items)) => items,
        Some(one) => vec![one],
        None => {
            let e = serde_json::from_slice::<Value>(bytes).err();
            let detail = e.map_or_else(|| "unreadable".to_owned(), |e| e.to_string());
            return fail(
                StatusCode::BAD_REQUEST,
                format!("the body is not JSON: {detail}"),
            );
        }
    };
    let parsed: Result<Vec<_>, _> = docs.iter().map(|d| parse_value("admin", d)).collect();
    let parsed = match parsed {
        Ok(p) => p,
        Err(e) => return fail(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let names: Vec<String> = parsed.iter().map(|c| c.name().to_owned()).collect();
    let mut set = lock(&state.inner.cassettes);
    let held = set
        .runtime_bytes
        .saturating_add(json_text_cost(bytes))
        .saturating_add(bytes.len());
    if held > MAX_RUNTIME_CASSETTE_BYTES {
        let e = format!(
            "the cassettes added at run time would hold about {held} bytes, over the bound of {MAX_RUNTIME_CASSETTE_BYTES}; POST {ADMIN_PREFIX}/reset drops them"
        );
        return fail(StatusCode::PAYLOAD_TOO_LARGE, e);
    }
    for c in parsed {
        set.add(c, Layer::Runtime);
    }
    set.runtime_bytes = held;
    reply(StatusCode::CREATED, json!({"added": names}).to_string())
}

/// `POST /__mock/faults`: `{"spec": "…"}`, or the spec as plain text.
fn add_fault(state: &MockState, bytes: &Bytes) -> Response {
    let text = String::from_utf8_lossy(bytes);
    let spec = match serde_json::from_str::<Value>(&text) {
        Ok(v) => match v.get("spec").and_then(Value::as_str) {
            Some(s) => s.to_owned(),
            None => {
                return fail(
                    StatusCode::BAD_REQUEST,
                    "expected {\"spec\": \"…\"} or the spec as plain text",
                );
            }
        },
        Err(_) => text.trim().to_owned(),
    };
    match state.add_fault(&spec) {
        Ok(id) => reply(
            StatusCode::CREATED,
            json!({"id": id, "spec": spec.trim()}).to_string(),
        ),
        Err(e) => fail(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

/// The checks every admin request passes first (see the module docs); `Some` is the refusal.
fn guard(state: &MockState, parts: &Parts, path: &str) -> Option<Response> {
    let headers = &parts.headers;
    let loopback = parts
        .extensions
        .get::<Bound>()
        .is_some_and(|b| b.0.ip().is_loopback());
    let lower = |v: &[u8]| String::from_utf8_lossy(v).trim().to_ascii_lowercase();
    let host = match headers.get(http::header::HOST) {
        Some(h) => Some(lower(h.as_bytes())),
        None => parts.uri.authority().map(|a| lower(a.as_str().as_bytes())),
    };
    let foreign = |h: &str| !is_loopback_name(host_name(h));
    if loopback && host.as_deref().is_some_and(foreign) {
        let e =
            "the admin API of a mock bound to a loopback address answers loopback host names only";
        return Some(fail(StatusCode::FORBIDDEN, e));
    }
    let origin = headers
        .get(http::header::ORIGIN)
        .map(|o| lower(o.as_bytes()));
    if let Some(origin) = origin {
        let same = origin_authority(&origin).is_some_and(|(name, port)| {
            let own = |h: &str| (host_name(h), host_port(h).unwrap_or(80)) == (name, port);
            host.as_deref().is_some_and(own) || (loopback && is_loopback_name(name))
        });
        if !same {
            let e = "cross-origin requests to the admin API are refused";
            return Some(fail(StatusCode::FORBIDDEN, e));
        }
    }
    let config = state.config();
    let wanted: Vec<&str> = match &config.admin_key {
        Some(k) => vec![k.as_str()],
        None => config.api_keys.iter().map(String::as_str).collect(),
    };
    if path != "/health"
        && !wanted.is_empty()
        && !bearer(headers).is_some_and(|g| wanted.contains(&g))
    {
        let e =
            "the admin API needs Authorization: Bearer <key> (one of --api-key, or --admin-key)";
        let challenge = [(
            http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer"),
        )];
        return Some((challenge, fail(StatusCode::UNAUTHORIZED, e)).into_response());
    }
    let json = header_str(headers, http::header::CONTENT_TYPE)
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) && !json {
        let e = "admin requests that change state need Content-Type: application/json";
        return Some(fail(StatusCode::UNSUPPORTED_MEDIA_TYPE, e));
    }
    None
}

/// The host name of an authority (`[::1]:80` gives `::1`, `a.b:80` gives `a.b`), without a
/// final dot.
fn host_name(authority: &str) -> &str {
    let name = match authority.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => match authority.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => authority,
        },
    };
    name.strip_suffix('.').unwrap_or(name)
}

/// The port of an authority, if it names one.
fn host_port(authority: &str) -> Option<u16> {
    let rest = match authority.strip_prefix('[') {
        Some(r) => r.split_once(']')?.1,
        None => authority,
    };
    rest.rsplit_once(':')?.1.parse().ok()
}

/// The host name and port of an `Origin` (`scheme://host[:port]`), the port defaulting by
/// scheme; `None` for an opaque origin (`null`) or anything else.
fn origin_authority(origin: &str) -> Option<(&str, u16)> {
    let (scheme, authority) = origin.split_once("://")?;
    let default = match scheme {
        "http" | "ws" => 80,
        "https" | "wss" => 443,
        _ => return None,
    };
    Some((
        host_name(authority),
        host_port(authority).unwrap_or(default),
    ))
}

/// Whether a host name is a loopback name or address.
fn is_loopback_name(name: &str) -> bool {
    name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Where a journal read is: the newest entry when it began, the next entry to write, and the
/// entry being written (with the budget it holds and the offset in its body).
struct Reading {
    state: MockState,
    last: u64,
    next: u64,
    current: Option<(Arc<Record>, Held, usize)>,
}

/// `GET /__mock/journal`: the journal as a JSON array, written out entry by entry. Entries
/// that arrive while it is written are left out; entries that leave the journal meanwhile are
/// left out unless they are being written.
fn journal(state: &MockState) -> Response {
    let last = lock(&state.inner.journal).last_seq();
    let start = Reading {
        state: state.clone(),
        last,
        next: 0,
        current: None,
    };
    let pieces = futures_util::stream::unfold(Some(start), |r| async move {
        let mut r = r?;
        if let Some((record, _, offset)) = &mut r.current {
            let (piece, end) = record.json_body_piece(*offset);
            *offset = end;
            if end >= record.body().len() {
                r.current = None;
            }
            return Some((Bytes::from(piece), Some(r)));
        }
        let found = lock(&r.state.inner.journal)
            .record_from(r.next)
            .filter(|x| x.seq() <= r.last);
        let Some(record) = found else {
            let end: &'static [u8] = if r.next == 0 { b"[]" } else { b"]" };
            return Some((Bytes::from_static(end), None));
        };
        // The opening bracket before the first entry, a comma before every other.
        let mut out = Vec::from(if r.next == 0 { "[" } else { "," });
        r.next = record.seq() + 1;
        out.extend_from_slice(&record.json_head());
        if !record.body().is_empty() {
            // Held while it is written, so that readers stalled on entries that have left the
            // journal stay within the in-flight budget (an entry is never larger than it).
            let mut held = Held::default();
            let budget = &r.state.inner.budget;
            let _ = budget.take(&mut held, record.size(), None).await;
            r.current = Some((record, held, 0));
        }
        Some((Bytes::from(out), Some(r)))
    });
    let pieces = pieces.map(Ok::<_, std::convert::Infallible>);
    reply(StatusCode::OK, AxumBody::from_stream(pieces))
}
