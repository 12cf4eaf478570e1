//! Shared helpers for the integration tests: the mock server, recorded fixtures, runtime
//! cassettes, and the known key that must never leak.
#![allow(dead_code)]

pub mod hostile;

use std::path::PathBuf;
use std::time::Duration;

use dashscope_mock::{JournalEntry, MockServer};
use dashscope_protocol::cassette::{Body, Cassette, Chunk, RecordedResponse};
use dashscope_provider::{Config, ConfigBuilder, RetryPolicy};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The API key every test client uses; no Debug, Display or log may contain it.
pub const KEY: &str = "sk-test-KNOWN-key-4f9a1c07e2";

/// The longest any test may run.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A mock server with the embedded fixtures.
pub fn server() -> MockServer {
    MockServer::builder()
        .start()
        .expect("the mock server starts")
}

/// A configuration pointing at `server`, with fast retries (the budget stays at 2).
pub fn config(server: &MockServer) -> ConfigBuilder {
    Config::builder()
        .api_key(KEY)
        .base_url(server.uri())
        .retry(RetryPolicy {
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(100),
            ..RetryPolicy::default()
        })
}

/// A recorded fixture, `dialect/scenario`.
pub fn fixture(name: &str) -> Cassette {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    Cassette::from_json(&text).unwrap_or_else(|e| panic!("parsing {name}: {e}"))
}

/// The recorded request body of a fixture, as the typed request.
pub fn request<T: DeserializeOwned>(name: &str) -> T {
    let body = fixture(name)
        .request
        .body
        .unwrap_or_else(|| panic!("{name} has no request body"));
    serde_json::from_value(body)
        .unwrap_or_else(|e| panic!("{name}: the body is not the request type: {e}"))
}

/// The requests the mock received on dialect paths.
pub fn journal(server: &MockServer) -> Vec<JournalEntry> {
    server.journal()
}

/// A runtime cassette answering `POST path` requests whose body contains `match_body` with
/// `response`. Marked synthetic.
pub fn cassette(
    name: &str,
    dialect: &str,
    path: &str,
    match_body: Value,
    stream_headers: bool,
    response: RecordedResponse,
) -> Cassette {
    let headers = if stream_headers {
        serde_json::json!({"x-dashscope-sse": "enable"})
    } else {
        serde_json::json!({})
    };
    let text = serde_json::json!({
        "version": 1,
        "name": name,
        "description": "test-only cassette",
        "source": "synthetic (dashscope-provider integration tests)",
        "dialect": dialect,
        "request": {"method": "POST", "path": path, "headers": headers, "body": match_body},
        // These stand in for a server answering the model whatever the request's shape knobs
        // (tools, incremental_output, result_format, …) say.
        "match": {"any": ["*"]},
        "priority": 10,
        "response": response,
    });
    Cassette::from_json(&text.to_string()).expect("a valid cassette")
}

/// A 200 JSON response with `x-request-id`.
pub fn json_response(request_id: &str, body: &str) -> RecordedResponse {
    RecordedResponse {
        status: 200,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("x-request-id".into(), request_id.into()),
        ],
        body: Body::Text(body.to_owned()),
    }
}

/// A 200 event-stream response with `x-request-id`, one chunk per event.
pub fn sse_response(request_id: &str, events: &[String]) -> RecordedResponse {
    RecordedResponse {
        status: 200,
        headers: vec![
            (
                "content-type".into(),
                "text/event-stream;charset=UTF-8".into(),
            ),
            ("x-request-id".into(), request_id.into()),
        ],
        body: Body::Chunks(
            events
                .iter()
                .map(|e| Chunk {
                    delay_ms: 0,
                    data: e.clone(),
                })
                .collect(),
        ),
    }
}

/// Asserts that `text` does not hold the known key.
#[track_caller]
pub fn assert_no_key(what: &str, text: &str) {
    assert!(!text.contains(KEY), "{what} shows the API key: {text}");
    assert!(
        !text.contains("4f9a1c07e2"),
        "{what} shows part of the API key: {text}"
    );
}

/// Asserts that an error's Display, Debug and whole source chain hold no key.
#[track_caller]
pub fn assert_error_has_no_key(e: &(dyn std::error::Error + 'static)) {
    assert_no_key("Display", &e.to_string());
    assert_no_key("Debug", &format!("{e:?}"));
    let mut source = e.source();
    while let Some(s) = source {
        assert_no_key("a source's Display", &s.to_string());
        assert_no_key("a source's Debug", &format!("{s:?}"));
        source = s.source();
    }
}

/// The header `name` of a journal entry.
pub fn header<'a>(entry: &'a JournalEntry, name: &str) -> Option<&'a str> {
    entry
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Runs `body` on its own thread and fails the test if it takes longer than [`TEST_TIMEOUT`]
/// (a panic in `body` fails the test with its message).
pub fn with_timeout(name: &str, body: impl FnOnce() + Send + 'static) {
    let (done, finished) = std::sync::mpsc::channel();
    let handle = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            body();
            let _ = done.send(());
        })
        .expect("a test thread");
    match finished.recv_timeout(TEST_TIMEOUT) {
        Ok(()) => handle.join().expect("the test thread"),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = handle.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("{name} timed out"),
    }
}

/// The marker variable of a child test process.
pub const CHILD_ENV: &str = "DASHSCOPE_PROVIDER_TEST_CHILD";

/// Runs the test `name` of the current test binary in a child process with a cleared
/// environment plus `envs` (and [`CHILD_ENV`] set to `mode`); returns its combined output.
/// Fails if the child fails or outlives [`TEST_TIMEOUT`].
pub fn run_child(name: &str, mode: &str, envs: &[(&str, String)]) -> String {
    use std::process::{Command, Stdio};
    let exe = std::env::current_exe().expect("the test binary");
    let mut child = Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env_clear()
        .env(CHILD_ENV, mode)
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the child starts");
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("the child runs") {
            let out = child.wait_with_output().expect("the child's output");
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(status.success(), "the child failed: {text}");
            assert!(text.contains("1 passed"), "the child ran no test: {text}");
            return text;
        }
        if started.elapsed() > TEST_TIMEOUT {
            let _ = child.kill();
            panic!("the child test {name} timed out");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
