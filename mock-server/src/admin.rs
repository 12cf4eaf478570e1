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

use axum::body::{Body as AxumBody, Bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::{Value, json};

use crate::budget::{Held, json_text_cost};
use crate::handler::{bearer, read_body};
use crate::journal::Record;
use crate::matching::{Layer, parse};
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

fn reply(status: StatusCode, body: &Value) -> Response {
    let mut r = Response::new(AxumBody::from(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn fail(status: StatusCode, message: impl Into<String>) -> Response {
    reply(status, &json!({"error": message.into()}))
}

/// Every request under `/__mock/`.
pub(crate) async fn admin(State(state): State<MockState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts
        .uri
        .path()
        .strip_prefix(ADMIN_PREFIX)
        .unwrap_or("")
        .trim_end_matches('/')
        .to_owned();
    if let Some(refused) = guard(&state, &parts, &path) {
        return refused;
    }
    let method = parts.method.clone();
    if method == Method::HEAD {
        let mut r = Response::new(AxumBody::empty());
        *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        return r;
    }
    let mut read = read_body(&state, body).await;
    let json = match (&method, path.as_str()) {
        (&Method::POST, "/cassettes") => read.json(&state).await,
        _ => None,
    };
    if let Some(e) = &read.error {
        let e = e.reply();
        let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
        return fail(status, e.message);
    }
    let bytes = std::mem::take(&mut read.bytes);
    match (method, path.as_str()) {
        (Method::GET, "/health") => reply(
            StatusCode::OK,
            &json!({
                "status": "ok",
                "cassettes": lock(&state.inner.cassettes).len(),
                "recording": state.inner.recorder.is_some(),
                "strict": state.config().strict,
                "seed": state.seed(),
            }),
        ),
        (Method::GET, "/journal") => journal(&state),
        (Method::DELETE, "/journal") => {
            lock(&state.inner.journal).clear();
            reply(StatusCode::OK, &json!({"cleared": true}))
        }
        (Method::POST, "/reset") => {
            state.reset();
            reply(StatusCode::OK, &json!({"reset": true}))
        }
        (Method::GET, "/cassettes") => reply(
            StatusCode::OK,
            &Value::Array(lock(&state.inner.cassettes).list()),
        ),
        (Method::POST, "/cassettes") => add_cassettes(&state, &bytes, json),
        (Method::GET, "/faults") => reply(
            StatusCode::OK,
            &serde_json::to_value(lock(&state.inner.faults).list()).unwrap_or(Value::Null),
        ),
        (Method::POST, "/faults") => add_fault(&state, &bytes),
        (Method::DELETE, "/faults") => {
            state.clear_faults();
            reply(StatusCode::OK, &json!({"cleared": true}))
        }
        (Method::DELETE, p) if p.starts_with("/faults/") => {
            let Ok(id) = p["/faults/".len()..].parse::<u64>() else {
                return fail(StatusCode::BAD_REQUEST, "the fault id must be a number");
            };
            if state.with_faults(|f| f.remove(id)) {
                reply(StatusCode::OK, &json!({"removed": id}))
            } else {
                fail(StatusCode::NOT_FOUND, format!("no fault {id}"))
            }
        }
        (m, p) => {
            let known = ["/health", "/journal", "/reset", "/cassettes", "/faults"].contains(&p)
                || p.starts_with("/faults/");
            if known {
                fail(
                    StatusCode::METHOD_NOT_ALLOWED,
                    format!("{m} is not allowed on {ADMIN_PREFIX}{p}"),
                )
            } else {
                fail(
                    StatusCode::NOT_FOUND,
                    format!("no admin endpoint {ADMIN_PREFIX}{p}"),
                )
            }
        }
    }
}

fn add_cassettes(state: &MockState, bytes: &Bytes, json: Option<Value>) -> Response {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return fail(StatusCode::BAD_REQUEST, "the body is not UTF-8");
    };
    let docs: Vec<String> = match json {
        Some(Value::Array(items)) => items.iter().map(Value::to_string).collect(),
        Some(_) => vec![text.to_owned()],
        None => {
            let e = serde_json::from_str::<Value>(text).err();
            let detail = e.map_or_else(|| "unreadable".to_owned(), |e| e.to_string());
            return fail(
                StatusCode::BAD_REQUEST,
                format!("the body is not JSON: {detail}"),
            );
        }
    };
    let mut parsed = Vec::new();
    for doc in &docs {
        match parse("admin", doc) {
            Ok(f) => parsed.push(f),
            Err(e) => return fail(StatusCode::BAD_REQUEST, e.to_string()),
        }
    }
    let names: Vec<String> = parsed.iter().map(|(c, _)| c.name().to_owned()).collect();
    let cost = json_text_cost(bytes).saturating_add(bytes.len());
    {
        let mut set = lock(&state.inner.cassettes);
        let held = set.runtime_bytes;
        if held.saturating_add(cost) > MAX_RUNTIME_CASSETTE_BYTES {
            return fail(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the cassettes added at run time would hold about {} bytes, over the bound of {MAX_RUNTIME_CASSETTE_BYTES}; POST {ADMIN_PREFIX}/reset drops them",
                    held.saturating_add(cost)
                ),
            );
        }
        for (c, raw) in parsed {
            set.add(c, Some(&raw), Layer::Runtime);
        }
        set.runtime_bytes = set.runtime_bytes.saturating_add(cost);
    }
    reply(StatusCode::CREATED, &json!({"added": names}))
}

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
        Ok(id) => reply(StatusCode::CREATED, &json!({"id": id, "spec": spec.trim()})),
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
    let host = headers
        .get(http::header::HOST)
        .map(|h| {
            String::from_utf8_lossy(h.as_bytes())
                .trim()
                .to_ascii_lowercase()
        })
        .or_else(|| {
            parts
                .uri
                .authority()
                .map(|a| a.as_str().to_ascii_lowercase())
        });
    if loopback {
        if let Some(h) = &host {
            if !is_loopback_name(host_name(h)) {
                return Some(fail(
                    StatusCode::FORBIDDEN,
                    "the admin API of a mock bound to a loopback address answers loopback host names only",
                ));
            }
        }
    }
    if let Some(origin) = headers.get(http::header::ORIGIN) {
        let origin = String::from_utf8_lossy(origin.as_bytes())
            .trim()
            .to_ascii_lowercase();
        let same = origin_authority(&origin).is_some_and(|(name, port)| {
            host.as_deref()
                .is_some_and(|h| (host_name(h), host_port(h).unwrap_or(80)) == (name, port))
                || (loopback && is_loopback_name(name))
        });
        if !same {
            return Some(fail(
                StatusCode::FORBIDDEN,
                "cross-origin requests to the admin API are refused",
            ));
        }
    }
    if path != "/health" && !admin_authorized(state, headers) {
        let mut r = fail(
            StatusCode::UNAUTHORIZED,
            "the admin API needs Authorization: Bearer <key> (one of --api-key, or --admin-key)",
        );
        r.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer"),
        );
        return Some(r);
    }
    let reads = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !reads && !is_json(headers) {
        return Some(fail(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "admin requests that change state need Content-Type: application/json",
        ));
    }
    None
}

/// Whether the request carries the key the admin API wants (any, when none is configured).
fn admin_authorized(state: &MockState, headers: &HeaderMap) -> bool {
    let config = state.config();
    let wanted: Vec<&str> = match &config.admin_key {
        Some(k) => vec![k.as_str()],
        None => config.api_keys.iter().map(String::as_str).collect(),
    };
    if wanted.is_empty() {
        return true;
    }
    bearer(headers).is_some_and(|g| wanted.contains(&g))
}

/// Whether the content type is `application/json` (parameters aside).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// The host name of an authority (`[::1]:80` gives `::1`, `a.b:80` gives `a.b`), without a
/// final dot.
fn host_name(authority: &str) -> &str {
    let name = match authority.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => authority.rsplit_once(':').map_or(authority, |(h, p)| {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                authority
            }
        }),
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

/// `GET /__mock/journal`: the journal as a JSON array, written out entry by entry (see the
/// module docs). Entries that arrive while it is written are left out; entries that leave
/// the journal meanwhile are left out unless they are being written.
fn journal(state: &MockState) -> Response {
    let last = lock(&state.inner.journal).last_seq();
    let out = JournalOut {
        state: state.clone(),
        next: 1,
        last,
        current: None,
        opened: false,
        any: false,
        done: false,
    };
    let stream = futures_util::stream::unfold(out, |mut out| async move {
        let piece = out.next_piece().await?;
        Some((Ok::<_, std::convert::Infallible>(Bytes::from(piece)), out))
    });
    let mut r = Response::new(AxumBody::from_stream(stream));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Where a journal read is.
struct JournalOut {
    state: MockState,
    /// The number of the next entry to write.
    next: u64,
    /// The number of the newest entry when the read began.
    last: u64,
    /// The entry being written, what it holds of the budget, and the offset in its body.
    current: Option<(std::sync::Arc<Record>, Held, usize)>,
    /// Whether `[` was written; whether an entry was.
    opened: bool,
    any: bool,
    done: bool,
}

impl JournalOut {
    async fn next_piece(&mut self) -> Option<Vec<u8>> {
        if self.done {
            return None;
        }
        if let Some((record, _, offset)) = &mut self.current {
            let (piece, end) = record.json_body_piece(*offset);
            *offset = end;
            if end >= record.body_len() {
                self.current = None;
            }
            return Some(piece);
        }
        let found = lock(&self.state.inner.journal)
            .record_from(self.next)
            .filter(|r| r.seq() <= self.last);
        let mut out = if self.opened {
            Vec::new()
        } else {
            self.opened = true;
            b"[".to_vec()
        };
        let Some(record) = found else {
            self.done = true;
            out.push(b']');
            return Some(out);
        };
        self.next = record.seq() + 1;
        if std::mem::replace(&mut self.any, true) {
            out.push(b',');
        }
        out.extend_from_slice(&record.json_head());
        if record.body_len() > 0 {
            // Held while it is written, so that readers stalled on entries that have left the
            // journal stay within the in-flight budget.
            let mut held = Held::default();
            let size = record.size();
            if self
                .state
                .inner
                .budget
                .take(&mut held, size, None)
                .await
                .is_err()
            {
                // Larger than the whole budget (it cannot be: the journal's entries are at
                // most a body and a head): write it all the same.
                held = Held::default();
            }
            self.current = Some((record, held, 0));
        }
        Some(out)
    }
}
