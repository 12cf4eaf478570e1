//! The admin API under `/__mock/` (no key needed; answers are JSON).
//!
//! | request | answer |
//! |---|---|
//! | `GET /__mock/health` | `{"status":"ok","cassettes":N,"recording":bool,"strict":bool,"seed":N}` |
//! | `GET /__mock/journal` | the journal: an array of entries (method, path, query, headers with secrets redacted, body, status, outcome, cassette, faults) |
//! | `DELETE /__mock/journal` | clears the journal |
//! | `POST /__mock/reset` | clears journal, stored responses, faults and their counters; re-arms `once` cassettes; drops cassettes added at run time |
//! | `GET /__mock/cassettes` | `[{"name","layer","priority","once","served","path"}]` |
//! | `POST /__mock/cassettes` | adds a cassette (or an array of them) at run time; `201 {"added":[names]}` |
//! | `GET /__mock/faults` | the global faults `[{"id","spec","applied","remaining"}]` |
//! | `POST /__mock/faults` | adds a global fault: `{"spec":"status=503;times=2"}` or the spec as plain text; `201 {"id":N,"spec":…}` |
//! | `DELETE /__mock/faults` | removes every global fault |
//! | `DELETE /__mock/faults/{id}` | removes one |

use axum::body::{Body as AxumBody, Bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use http::{HeaderValue, Method, StatusCode};
use serde_json::{Value, json};

use crate::fixtures;
use crate::matching::Layer;
use crate::state::{MockState, lock};

/// The prefix of the admin API.
pub const ADMIN_PREFIX: &str = "/__mock";

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
    let bytes = match axum::body::to_bytes(body, state.config().max_body_bytes).await {
        Ok(b) => b,
        Err(_) => return fail(StatusCode::PAYLOAD_TOO_LARGE, "body too large"),
    };
    let method = parts.method.clone();
    if method == Method::HEAD {
        let mut r = Response::new(AxumBody::empty());
        *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        return r;
    }
    match (method, path.as_str()) {
        (Method::GET, "/health") => reply(
            StatusCode::OK,
            &json!({
                "status": "ok",
                "cassettes": state.cassette_count(),
                "recording": state.inner.recorder.is_some(),
                "strict": state.config().strict,
                "seed": state.seed(),
            }),
        ),
        (Method::GET, "/journal") => reply(
            StatusCode::OK,
            &serde_json::to_value(state.journal()).unwrap_or(Value::Null),
        ),
        (Method::DELETE, "/journal") => {
            lock(&state.inner.journal).clear();
            reply(StatusCode::OK, &json!({"cleared": true}))
        }
        (Method::POST, "/reset") => {
            state.reset();
            reply(StatusCode::OK, &json!({"reset": true}))
        }
        (Method::GET, "/cassettes") => {
            let set = lock(&state.inner.cassettes);
            let list: Vec<Value> = set
                .entries()
                .iter()
                .map(|e| {
                    json!({
                        "name": e.cassette.name,
                        "layer": e.layer,
                        "priority": e.cassette.priority,
                        "once": e.cassette.once,
                        "served": e.served,
                        "path": format!("{} {}", e.cassette.request.method, e.cassette.request.path),
                    })
                })
                .collect();
            reply(StatusCode::OK, &Value::Array(list))
        }
        (Method::POST, "/cassettes") => add_cassettes(&state, &bytes),
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

fn add_cassettes(state: &MockState, bytes: &Bytes) -> Response {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return fail(StatusCode::BAD_REQUEST, "the body is not UTF-8");
    };
    let docs: Vec<String> = match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => items.iter().map(Value::to_string).collect(),
        Ok(_) => vec![text.to_owned()],
        Err(e) => {
            return fail(
                StatusCode::BAD_REQUEST,
                format!("the body is not JSON: {e}"),
            );
        }
    };
    let mut parsed = Vec::new();
    for doc in &docs {
        match fixtures::parse("admin", doc) {
            Ok(f) => parsed.push(f),
            Err(e) => return fail(StatusCode::BAD_REQUEST, e.to_string()),
        }
    }
    let names: Vec<String> = parsed.iter().map(|f| f.cassette.name.clone()).collect();
    {
        let mut set = lock(&state.inner.cassettes);
        for f in parsed {
            set.add(f.cassette, Some(&f.raw), Layer::Runtime);
        }
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
