//! The `mock_router` fuzz corpus, replayed in CI (issue 7): every file of
//! `fuzz/corpus/mock_router/` is decoded into a request exactly as
//! `fuzz/fuzz_targets/mock_router.rs` does and sent through the same in-process path (the
//! embedded fixtures, `speed(0)`, a fixed seed, one key, `router(state)` with
//! `tower::ServiceExt::oneshot` on a current-thread runtime, the state reset before every
//! input).
//!
//! Each answer must be well formed: the fuzz target's checks (no panic, a status in
//! `100..=599`, at most one numeric `content-length` and it matches the body, no body on
//! `1xx`/`204`/`304`, the body read to its end within 2 s, a body that fails only under a fault
//! header) and, for an answer no fault header touched, its shape: an admin answer is JSON, an
//! error parses as the dialect's error (JSON or SSE-framed), a success on a generation path
//! parses as the dialect's response, or every event of its stream as the dialect's chunk. The
//! whole replay has a deadline, so a hang fails the test instead of the CI run.
//!
//! The test reads the files from disk (relative to `CARGO_MANIFEST_DIR`), so the mock crate
//! does not depend on the fuzz crate; it fails when the corpus directory is missing or empty.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dashscope_mock::{MockServer, MockState, router};
use dashscope_protocol::dialect::{Endpoint, RESPONSES_LEGACY_PATH, RESPONSES_PATH};
use dashscope_protocol::error::ApiError;
use dashscope_protocol::unified::{DialectChunk, DialectResponse};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::Value;
use tower::ServiceExt;

// The request layout, shared with `fuzz/fuzz_targets/mock_router.rs`.
#[path = "../../fuzz/src/mock_router_input.rs"]
mod input;
use input::{KEY, request};

/// The bound on reading one response body (the fuzz target's).
const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// The bound on one answer's head.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// The bound on the whole replay.
const DEADLINE: Duration = Duration::from_secs(120);
/// The most body bytes read.
const BODY_CAP: usize = 4 * 1024 * 1024;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/mock_router")
}

/// What reading a body gave.
enum Read {
    /// Read to its end.
    Done(Vec<u8>),
    /// Stopped at [`BODY_CAP`].
    Capped,
    /// Ended with an error after this many bytes.
    Failed(usize),
}

async fn read_body(body: axum::body::Body) -> Read {
    let mut body = body;
    let mut out = Vec::new();
    loop {
        match body.frame().await {
            None => return Read::Done(out),
            Some(Err(_)) => return Read::Failed(out.len()),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    out.extend_from_slice(&data);
                    if out.len() > BODY_CAP {
                        return Read::Capped;
                    }
                }
            }
        }
    }
}

/// The `data:` payloads of an SSE body, each with its event's `event:` name (if any).
fn sse_events(body: &str) -> Vec<(Option<String>, String)> {
    let mut out = Vec::new();
    for block in body.replace("\r\n", "\n").split("\n\n") {
        let mut name = None;
        let mut data: Vec<&str> = Vec::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                name = Some(v.trim().to_owned());
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push(v.strip_prefix(' ').unwrap_or(v));
            }
        }
        if !data.is_empty() {
            out.push((name, data.join("\n")));
        }
    }
    out
}

/// Checks the shape of an answer no fault touched; `Err` says what is wrong. `replayed`: a
/// cassette answered, so its headers are as recorded (a recording may lack a content type:
/// then an SSE body is recognised by its first line).
fn check_shape(
    path: &str,
    method: &Method,
    status: StatusCode,
    content_type: &str,
    body: &[u8],
    replayed: bool,
) -> Result<(), String> {
    let route = path.split('?').next().unwrap_or(path);
    if *method == Method::HEAD || body.is_empty() {
        return Ok(());
    }
    let sse_lines = [&b"id:"[..], b"data:", b"event:", b":"];
    let stream = if content_type.is_empty() {
        if !replayed {
            return Err("a body without a content type".to_owned());
        }
        sse_lines.iter().any(|p| body.starts_with(p))
    } else {
        content_type.starts_with("text/event-stream")
    };
    if route == "/__mock" || route.starts_with("/__mock/") && route.len() > "/__mock/".len() {
        return serde_json::from_slice::<Value>(body)
            .map(drop)
            .map_err(|e| format!("an admin answer that is not JSON: {e}"));
    }
    let text = std::str::from_utf8(body).map_err(|e| format!("a body that is not UTF-8: {e}"))?;
    let native_error = text.starts_with("id:1\nevent:error");
    if status.as_u16() >= 400 || native_error {
        return ApiError::from_body(Some(status.as_u16()), body)
            .map(drop)
            .ok_or_else(|| "an error that is not in the dialect's shape".to_owned());
    }
    let Some(endpoint) = Endpoint::from_path(route) else {
        // A success off the generation paths: a stored response (a JSON object).
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let stored = route.starts_with(RESPONSES_PATH) || route.starts_with(RESPONSES_LEGACY_PATH);
        return if v.is_object() && stored {
            Ok(())
        } else {
            Err(format!("an unexpected success on {route}"))
        };
    };
    let dialect = endpoint.dialect();
    if !stream {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        return DialectResponse::from_json(dialect, &v)
            .map(drop)
            .map_err(|e| format!("not a {} response: {e}", dialect.as_str()));
    }
    let events = sse_events(text);
    if events.is_empty() {
        return Err("a stream without events".to_owned());
    }
    for (name, data) in events {
        if data == "[DONE]" {
            continue;
        }
        if name.as_deref() == Some("error") {
            ApiError::from_body(Some(status.as_u16()), data.as_bytes())
                .ok_or_else(|| format!("an error event not in the dialect's shape: {data}"))?;
            continue;
        }
        let v: Value =
            serde_json::from_str(&data).map_err(|e| format!("an event that is not JSON: {e}"))?;
        if v.get("error").is_some() {
            ApiError::from_body(Some(status.as_u16()), data.as_bytes())
                .ok_or_else(|| format!("an error event not in the dialect's shape: {data}"))?;
            continue;
        }
        DialectChunk::from_json(dialect, &v).map_err(|e| {
            format!(
                "an event that is not a {} chunk: {e}: {data}",
                dialect.as_str()
            )
        })?;
    }
    Ok(())
}

/// Sends one request and checks its answer; `Err` says what is wrong.
async fn replay(
    state: &MockState,
    app: &axum::Router,
    req: Request<Full<Bytes>>,
    faulted: bool,
) -> Result<(), String> {
    state.reset();
    let method = req.method().clone();
    let path = req.uri().to_string();
    let resp = tokio::time::timeout(ANSWER_TIMEOUT, app.clone().oneshot(req))
        .await
        .map_err(|_| format!("no answer within {ANSWER_TIMEOUT:?}"))?
        .unwrap_or_else(|never| match never {});
    let status = resp.status();
    if !(100..=599).contains(&status.as_u16()) {
        return Err(format!("status {status} out of range"));
    }
    let mut lengths = resp.headers().get_all(http::header::CONTENT_LENGTH).iter();
    let content_length = match lengths.next() {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| format!("content-length {v:?} is not a number"))?,
        ),
    };
    if lengths.next().is_some() {
        return Err("two content-length headers".to_owned());
    }
    let content_type = resp
        .headers()
        .get(http::header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).to_ascii_lowercase())
        .unwrap_or_default();
    let read = tokio::time::timeout(READ_TIMEOUT, read_body(resp.into_body()))
        .await
        .map_err(|_| format!("reading the body ({status}) took over {READ_TIMEOUT:?}"))?;
    let body = match read {
        Read::Capped => return Ok(()),
        Read::Failed(n) if faulted => {
            let _ = n;
            return Ok(());
        }
        Read::Failed(n) => {
            return Err(format!(
                "the body ({status}) failed after {n} bytes without a fault"
            ));
        }
        Read::Done(body) => body,
    };
    if let Some(cl) = content_length.filter(|_| method != Method::HEAD) {
        if cl != body.len() as u64 {
            return Err(format!(
                "content-length {cl} but a body of {} bytes",
                body.len()
            ));
        }
    }
    let bodiless = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    if bodiless && !body.is_empty() {
        return Err(format!("a {status} answer with a body"));
    }
    if faulted {
        // Faults corrupt bodies on purpose; the fault matrix checks them.
        return Ok(());
    }
    let replayed = state
        .journal()
        .last()
        .is_some_and(|e| e.outcome == "cassette");
    check_shape(&path, &method, status, &content_type, &body, replayed)
        .map_err(|e| format!("{status}: {e}: {}", String::from_utf8_lossy(&body)))
}

#[test]
fn every_corpus_input_gets_a_well_formed_answer_in_time() {
    let dir = corpus_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the mock_router corpus {} is missing: {e}", dir.display()))
        .map(|e| e.expect("a corpus entry").path())
        .filter(|p| p.is_file())
        .collect();
    assert!(
        !files.is_empty(),
        "the mock_router corpus {} is empty",
        dir.display()
    );
    files.sort();
    let state = MockServer::builder()
        .speed(0.0)
        .chunk_delay(Duration::ZERO)
        .latency(Duration::ZERO)
        .seed(7)
        .api_key(KEY)
        .journal_capacity(64)
        .build_state()
        .expect("the mock state builds from the embedded fixtures");
    let app = router(state.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime");
    let started = Instant::now();
    let (mut sent, mut skipped, mut generation) = (0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    for file in &files {
        assert!(
            started.elapsed() < DEADLINE,
            "the replay took over {DEADLINE:?} ({sent} of {} inputs sent)",
            files.len()
        );
        let data = std::fs::read(file).expect("a corpus file");
        let Some((req, faulted)) = request(&data) else {
            skipped += 1;
            continue;
        };
        sent += 1;
        generation += usize::from(Endpoint::from_path(req.uri().path()).is_some());
        let what = format!("{} {}", req.method(), req.uri());
        // A panic inside the router fails the test here, naming nothing: catch it to name
        // the input.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt.block_on(replay(&state, &app, req, faulted))
        }));
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(format!("{name:?} ({what}): {e}")),
            Err(_) => failures.push(format!("{name:?} ({what}): panicked")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {sent} inputs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Most of the corpus is real requests, not skipped inputs.
    assert!(
        sent * 2 > files.len(),
        "only {sent} of {} inputs sent ({skipped} skipped)",
        files.len()
    );
    assert!(generation > 100, "only {generation} generation requests");
    eprintln!(
        "{sent} corpus inputs replayed ({generation} on generation paths), {skipped} skipped, in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
