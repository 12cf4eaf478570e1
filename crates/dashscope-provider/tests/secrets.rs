//! Secret hygiene: a known API key never shows in any `Debug` or `Display` (configuration,
//! clients, streams, every error variant produced for real), in any log line (a global tracing
//! subscriber captures everything at TRACE: the clients, and the mock servers in this process),
//! in the mock's journal (`GET /__mock/journal`), or in cassettes recorded through record mode;
//! and record mode refuses to write a cassette that still holds the key.
//!
//! The mock servers answer with recorded fixtures and with runtime cassettes that echo the key
//! back in every field a misbehaving gateway might put it in (the `x-request-id` header, error
//! code, message, param, type, request id, an HTML error page, a malformed event, an answer's
//! text that ends up in a partial answer; and, in record mode, a response header and the answer
//! text).
//!
//! The blocking client's HTTP library logs through the `log` crate: a `log` logger at TRACE
//! captures it too, and its wire dump of an honest exchange shows the key in no encoding.

#![cfg(all(feature = "reqwest", feature = "blocking"))]

mod support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use dashscope_mock::MockServer;
use dashscope_protocol::cassette::{Body, Cassette, RecordedResponse};
use dashscope_protocol::chat::{ChatChunk, ChatRequest, Message};
use dashscope_protocol::native::{self, GenerationRequest};
use dashscope_protocol::responses::ResponseRequest;
use dashscope_provider::transport::TransportError;
use dashscope_provider::{
    ApiKey, Config, ConfigBuilder, ConfigError, Error, RetryPolicy, StreamErrorKind,
};
use serde_json::{Value, json};
use support::{KEY, cassette, request, sse_response};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;

/// The longest any test here may run.
const DEADLINE: Duration = Duration::from_secs(60);
/// A distinctive fragment of [`KEY`]: a partial leak counts too.
const KEY_FRAGMENT: &str = "4f9a1c07e2";
const CHAT_PATH: &str = "/compatible-mode/v1/chat/completions";

fn shows_key(text: &str) -> bool {
    text.contains(KEY) || text.contains(KEY_FRAGMENT)
}

// ---------------------------------------------------------------------------------------------
// Everything logged in this process, at TRACE.

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

static CAPTURE: OnceLock<Capture> = OnceLock::new();

/// Every `log` record of this process (the blocking client's HTTP library logs through `log`),
/// with the name of the thread that logged it.
struct LogCapture(Mutex<Vec<(String, String)>>);

impl log::Log for LogCapture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let thread = std::thread::current().name().unwrap_or("").to_owned();
        let line = format!("{} {}: {}", record.level(), record.target(), record.args());
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((thread, line));
    }

    fn flush(&self) {}
}

impl LogCapture {
    /// The lines logged on the thread `name`.
    fn lines_of(&self, name: &str) -> Vec<String> {
        let lines = self.0.lock().unwrap_or_else(|p| p.into_inner());
        lines
            .iter()
            .filter(|(thread, _)| thread == name)
            .map(|(_, line)| line.clone())
            .collect()
    }
}

static LOG_CAPTURE: OnceLock<&'static LogCapture> = OnceLock::new();

/// The process-wide `log` logger, at TRACE.
fn log_capture() -> &'static LogCapture {
    LOG_CAPTURE.get_or_init(|| {
        let capture: &'static LogCapture = Box::leak(Box::new(LogCapture(Mutex::new(Vec::new()))));
        log::set_logger(capture).expect("the only `log` logger of this test binary");
        log::set_max_level(log::LevelFilter::Trace);
        capture
    })
}

/// The process-wide subscriber (every thread: clients, runtimes, mock servers) and `log`
/// logger. Every test calls it first, so whatever any test logs is captured.
fn capture() -> &'static Capture {
    log_capture();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(capture.clone())
            .with_max_level(tracing::Level::TRACE)
            .with_span_events(FmtSpan::FULL)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("the only global subscriber of this test binary");
        capture
    })
}

// ---------------------------------------------------------------------------------------------
// Configuration and the echoing cassettes the scenarios use.

/// A configuration for `uri` with the known key, no retries, a short idle timeout (stall
/// scenarios) and an optional fault.
fn config_builder(uri: &str, fault: Option<&str>) -> ConfigBuilder {
    let b = Config::builder()
        .api_key(KEY)
        .base_url(uri)
        .idle_timeout(Duration::from_millis(500))
        .total_timeout(Some(Duration::from_secs(10)))
        .retry(RetryPolicy::none());
    match fault {
        Some(f) => b.header("x-mock-fault", f),
        None => b,
    }
}

fn config_for(uri: &str, fault: Option<&str>) -> Config {
    config_builder(uri, fault)
        .build()
        .expect("a valid configuration")
}

fn response(status: u16, headers: &[(&str, &str)], body: String) -> RecordedResponse {
    RecordedResponse {
        status,
        headers: headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        body: Body::Text(body),
    }
}

fn chat_chunk(content: &str) -> String {
    format!(
        "data: {{\"choices\":[{{\"delta\":{{\"content\":\"{content}\"}},\"index\":0,\"finish_reason\":null}}],\"object\":\"chat.completion.chunk\",\"model\":\"qwen-plus\",\"id\":\"chatcmpl-echo\"}}\n\n"
    )
}

/// Cassettes that answer with the key echoed back in every field a gateway might put it in.
fn add_echo_cassettes(server: &MockServer) {
    let json = ("content-type", "application/json");
    // A gateway that echoes the key into the request id: every error falls back on it.
    let echo_rid = format!("r-{KEY}");
    let echo_id = ("x-request-id", echo_rid.as_str());
    let chat = |model: &str, stream: bool, r: RecordedResponse| {
        let body = if stream {
            json!({"model": model, "stream": true})
        } else {
            json!({"model": model})
        };
        cassette(&format!("chat/{model}"), "chat", CHAT_PATH, body, false, r)
    };
    let native = |model: &str, stream: bool, r: RecordedResponse| {
        cassette(
            &format!("native/{model}"),
            "native",
            native::TEXT_GENERATION_PATH,
            json!({"model": model}),
            stream,
            r,
        )
    };
    for c in [
        native(
            "qwen-echo-native-401",
            false,
            response(
                401,
                &[json, echo_id],
                format!(
                    r#"{{"code":"InvalidApiKey {KEY}","message":"Invalid API-key provided: {KEY}","request_id":"{KEY}"}}"#
                ),
            ),
        ),
        chat(
            "qwen-echo-chat-401",
            false,
            response(
                401,
                &[json, echo_id],
                format!(
                    r#"{{"error":{{"code":"invalid_api_key {KEY}","param":"{KEY}","message":"Incorrect API key provided: {KEY}","type":"{KEY}"}},"request_id":"{KEY}"}}"#
                ),
            ),
        ),
        chat(
            "qwen-echo-502",
            false,
            response(
                502,
                &[("content-type", "text/html"), echo_id],
                format!(
                    "<html><body><h1>502 Bad Gateway</h1><pre>Authorization: Bearer {KEY}</pre></body></html>"
                ),
            ),
        ),
        chat(
            "qwen-echo-decode",
            false,
            response(
                200,
                &[json, echo_id],
                format!("<html>upstream maintenance; you sent Bearer {KEY}</html>"),
            ),
        ),
        native(
            "qwen-echo-native-first",
            true,
            sse_response(
                &echo_rid,
                &[format!(
                    "id:1\nevent:error\n:HTTP_STATUS/401\ndata:{{\"code\":\"InvalidApiKey {KEY}\",\"message\":\"Invalid API-key provided: {KEY}\",\"request_id\":\"{KEY}\"}}\n\n"
                )],
            ),
        ),
        chat(
            "qwen-echo-chat-stream",
            true,
            sse_response(
                &echo_rid,
                &[
                    chat_chunk("Hel"),
                    chat_chunk("lo"),
                    // The answer echoes the key: the partial answer of the error holds it.
                    chat_chunk(&format!(" {KEY}")),
                    format!(
                        "data: {{\"error\":{{\"code\":\"data_inspection_failed {KEY}\",\"param\":\"{KEY}\",\"message\":\"Output may contain {KEY}\",\"type\":\"{KEY}\"}},\"id\":\"chatcmpl-{KEY}\"}}\n\n"
                    ),
                ],
            ),
        ),
        native(
            "qwen-echo-native-stream",
            true,
            sse_response(
                &echo_rid,
                &[
                    "id:1\nevent:result\n:HTTP_STATUS/200\ndata:{\"output\":{\"choices\":[{\"message\":{\"content\":\"Hi\",\"role\":\"assistant\"},\"finish_reason\":\"null\"}]},\"request_id\":\"r-echo\"}\n\n".to_owned(),
                    format!(
                        "id:2\nevent:error\n:HTTP_STATUS/500\ndata:{{\"code\":\"InternalError {KEY}\",\"message\":\"oops {KEY}\",\"request_id\":\"{KEY}\"}}\n\n"
                    ),
                ],
            ),
        ),
        chat(
            "qwen-echo-malformed",
            true,
            sse_response(
                &echo_rid,
                &[
                    chat_chunk("Hel"),
                    format!(
                        "data: {{\"error\":{{\"code\":\"invalid_api_key\",\"message\":\"Incorrect API key provided: {KEY}\"\n\n"
                    ),
                ],
            ),
        ),
        chat(
            "qwen-echo-end",
            true,
            sse_response(&echo_rid, &[chat_chunk("Hel"), chat_chunk("lo")]),
        ),
    ] {
        server.add_cassette(c);
    }
}

// ---------------------------------------------------------------------------------------------
// The scenarios, once per client.

mod with_async {
    use super::*;

    pub(crate) type Client = dashscope_provider::Client;

    pub(crate) fn make_client(config: Config) -> Client {
        Client::new(config).expect("a client")
    }

    macro_rules! w {
        ($e:expr) => {
            $e.await
        };
    }

    macro_rules! shell_fn {
        ($(#[$m:meta])* fn $name:ident($($args:tt)*) -> $ret:ty $body:block) => {
            $(#[$m])* pub(crate) async fn $name($($args)*) -> $ret $body
        };
    }

    include!("fault_support/secret_scenarios.rs");
}

mod with_blocking {
    use super::*;

    pub(crate) type Client = dashscope_provider::blocking::Client;

    pub(crate) fn make_client(config: Config) -> Client {
        Client::new(config).expect("a client")
    }

    macro_rules! w {
        ($e:expr) => {
            $e
        };
    }

    macro_rules! shell_fn {
        ($(#[$m:meta])* fn $name:ident($($args:tt)*) -> $ret:ty $body:block) => {
            $(#[$m])* pub(crate) fn $name($($args)*) -> $ret $body
        };
    }

    include!("fault_support/secret_scenarios.rs");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Runs `body` on its own thread; a hang fails the test after [`DEADLINE`].
fn bounded<T: Send + 'static>(name: &str, body: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let _ = tx.send(body());
        })
        .expect("a test thread");
    match rx.recv_timeout(DEADLINE) {
        Ok(v) => {
            let _ = handle.join();
            v
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("{name}: over {DEADLINE:?}"),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => panic!("{name}: ended without a result"),
        },
    }
}

/// Every rendering of an error a program might print or log: Display, Debug (plain and
/// pretty), the source chain, and the accessors.
fn renderings(e: &Error) -> Vec<(String, String)> {
    let mut out = vec![
        ("Display".to_owned(), e.to_string()),
        ("Debug".to_owned(), format!("{e:?}")),
        ("pretty Debug".to_owned(), format!("{e:#?}")),
        ("message()".to_owned(), format!("{:?}", e.message())),
        ("code()".to_owned(), format!("{:?}", e.code())),
        ("request_id()".to_owned(), format!("{:?}", e.request_id())),
    ];
    let mut source = std::error::Error::source(e);
    let mut depth = 0;
    while let Some(s) = source {
        depth += 1;
        out.push((format!("source #{depth} Display"), s.to_string()));
        out.push((format!("source #{depth} Debug"), format!("{s:?}")));
        source = s.source();
    }
    out
}

/// The leaks in `errors`, and the errors that are not the variant they should be.
fn leaks(errors: &[(&'static str, bool, Error)]) -> Vec<String> {
    let mut bad = Vec::new();
    for (what, expected, e) in errors {
        if !expected {
            bad.push(format!("{what}: not the expected variant: {e:?}"));
        }
        for (how, text) in renderings(e) {
            if shows_key(&text) {
                bad.push(format!("{what}: {how} shows the key: {text}"));
            }
        }
    }
    bad
}

// ---------------------------------------------------------------------------------------------
// Debug and Display.

#[test]
fn config_clients_and_streams_never_show_the_key() {
    capture();
    let key = ApiKey::new(KEY);
    assert!(!shows_key(&format!("{key:?} {key} {key:#?}")));
    assert_eq!(key.expose(), KEY, "the key is kept, only hidden");

    let builder = Config::builder()
        .api_key(KEY)
        .base_url("http://127.0.0.1:9")
        .header("x-extra", "1");
    assert!(!shows_key(&format!("{builder:?} {builder:#?}")));
    let config = builder.build().expect("a configuration");
    assert!(!shows_key(&format!("{config:?} {config:#?}")));
    assert!(!shows_key(&format!(
        "{:?} {}",
        config.api_key(),
        config.api_key()
    )));

    // A key that cannot be sent is refused without being shown.
    let bad_key = format!("{KEY}\n");
    let e = Config::builder()
        .api_key(bad_key.as_str())
        .build()
        .unwrap_err();
    assert_eq!(e, ConfigError::InvalidApiKey);
    assert!(!shows_key(&format!("{e} {e:?}")));
    let e = Error::from(e);
    assert!(matches!(e, Error::InvalidRequest { .. }));
    assert!(leaks(&[("InvalidRequest (unsendable key)", true, e)]).is_empty());

    bounded("debug", || {
        let server = support::server();
        let rt = runtime();
        let client = dashscope_provider::Client::new(config_for(&server.uri(), None)).unwrap();
        let blocking =
            dashscope_provider::blocking::Client::new(config_for(&server.uri(), None)).unwrap();
        assert!(!shows_key(&format!("{client:?} {client:#?}")));
        assert!(!shows_key(&format!("{blocking:?} {blocking:#?}")));
        let req: ChatRequest = request("chat/stream-include-usage-twin");
        rt.block_on(async {
            let reply = client.chat().create(req.clone()).await.unwrap();
            assert!(!shows_key(&format!("{reply:?}")));
            let stream = client.chat().create_stream(req.clone()).await.unwrap();
            assert!(!shows_key(&format!("{stream:?} {stream:#?}")));
        });
        let stream = blocking.chat().create_stream(req).unwrap();
        assert!(!shows_key(&format!("{stream:?} {stream:#?}")));
    });
}

#[test]
fn every_error_variant_hides_the_key_async() {
    capture();
    let errors = bounded("errors async", || {
        let server = support::server();
        runtime().block_on(with_async::every_error(&server))
    });
    assert_eq!(errors.len(), 18, "every scenario produced an error");
    let bad = leaks(&errors);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn every_error_variant_hides_the_key_blocking() {
    capture();
    let errors = bounded("errors blocking", || {
        let server = support::server();
        with_blocking::every_error(&server)
    });
    assert_eq!(errors.len(), 18, "every scenario produced an error");
    let bad = leaks(&errors);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Logs.

#[test]
fn trace_logs_never_show_the_key() {
    let capture = capture();
    bounded("logs", || {
        let server = support::server();
        let rt = runtime();
        rt.block_on(async {
            with_async::every_error(&server).await;
            assert_eq!(with_async::every_success(&server).await, 6);
        });
        with_blocking::every_error(&server);
        assert_eq!(with_blocking::every_success(&server), 6);
        // Record mode logs too (the recorder and its upstream are in this process).
        let dir = temp_dir("logs");
        let files = record_exchanges(KEY, &dir, 6);
        assert!(!files.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    });
    let logs = capture.text();
    let lines: Vec<&str> = logs.lines().filter(|l| shows_key(l)).collect();
    assert!(
        lines.is_empty(),
        "{} log line(s) show the key:\n{}",
        lines.len(),
        lines.join("\n")
    );
    assert!(
        !logs.contains("Bearer sk-"),
        "an Authorization header was logged"
    );
    // The capture saw the whole run: spans of every dialect, retries, failures, broken streams,
    // and the recorder.
    for needle in [
        "dashscope.request",
        "dialect=\"chat\"",
        "dialect=\"responses\"",
        "dialect=\"native\"",
        "retrying",
        "request failed",
        "stream broke",
        "record: wrote",
    ] {
        assert!(logs.contains(needle), "the logs lack {needle:?}");
    }
}

/// Standard base64 of `bytes`.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// The forms the key could take in a log line: as it is, a distinctive fragment, hex (either
/// case), and base64 at each of the three alignments it can have inside a longer encoding
/// (the characters that depend on its neighbours left out).
fn key_encodings() -> Vec<String> {
    let hex: String = KEY.bytes().map(|b| format!("{b:02x}")).collect();
    let mut out = vec![
        KEY.to_owned(),
        KEY_FRAGMENT.to_owned(),
        hex.to_uppercase(),
        hex,
    ];
    for lead in 0..3 {
        let encoded = base64(&[&b"xx"[..lead], KEY.as_bytes()].concat());
        let start = if lead == 0 { 0 } else { 4 };
        out.push(encoded[start..encoded.len() - 4].to_owned());
    }
    out
}

/// The bytes of ureq's hex wire dump in `lines` (rows of `6175 7468 …  auth…`), in order.
fn wire_dump(lines: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in lines {
        let Some(row) = line.split(": ").nth(1) else {
            continue;
        };
        for group in row.split(' ').take(8) {
            let group = group.trim_end_matches('-');
            if group.is_empty() || group.len() % 2 != 0 {
                break;
            }
            let Ok(bytes) = (0..group.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&group[i..i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
            else {
                break;
            };
            out.extend(bytes);
        }
    }
    out
}

/// The blocking client with a `log` logger at TRACE: its HTTP library (ureq) dumps every byte
/// it writes and reads, yet the key shows in no encoding, against an honest server, stream and
/// not, every dialect.
#[test]
fn blocking_wire_logs_never_show_the_key() {
    capture();
    const THREAD: &str = "blocking-wire-log";
    bounded(THREAD, || {
        let server = support::server();
        assert_eq!(with_blocking::every_success(&server), 6);
        // Errors the service reports without echoing anything.
        let client = with_blocking::make_client(config_for(&server.uri(), None));
        let recorded: ChatRequest = request("chat/error-401-invalid-api-key");
        assert!(client.chat().create(recorded).is_err());
    });
    let lines = log_capture().lines_of(THREAD);
    let dump = wire_dump(&lines);
    let dumped = String::from_utf8_lossy(&dump);
    // The capture saw ureq's wire dump of the requests, the header among them.
    assert!(
        dumped.contains("POST /compatible-mode/v1/chat/completions"),
        "{dumped}"
    );
    assert!(dumped.contains("authorization: sealed."), "{dumped}");
    let text = lines.join("\n");
    for form in key_encodings() {
        assert!(
            !text.contains(&form),
            "the `log` lines show the key as {form:?}"
        );
        assert!(
            !dumped.contains(&form),
            "ureq's wire dump shows the key as {form:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The mock's journal and admin API.

/// `GET path` on the mock's address, raw: the journal as a client of the admin API sees it.
fn http_get(server: &MockServer, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(server.address()).expect("the mock listens");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        server.address()
    )
    .expect("the request is sent");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("the answer");
    String::from_utf8_lossy(&buf).into_owned()
}

#[test]
fn journal_never_shows_the_key() {
    capture();
    bounded("journal", || {
        let server = support::server();
        runtime().block_on(async {
            with_async::every_error(&server).await;
            with_async::every_success(&server).await;
        });
        with_blocking::every_success(&server);
        let entries = server.journal();
        assert!(entries.len() >= 30, "{} entries", entries.len());
        let journal = http_get(&server, "/__mock/journal");
        assert!(journal.starts_with("HTTP/1.1 200"), "{journal}");
        assert!(!shows_key(&journal), "the journal shows the key: {journal}");
        assert!(
            journal.contains("Bearer [REDACTED]"),
            "the journal keeps the header, redacted"
        );
        assert_eq!(
            journal.matches("\"seq\":").count(),
            entries.len(),
            "every request is in the journal"
        );
        assert!(!shows_key(&format!("{entries:?}")));
        for path in ["/__mock/health", "/__mock/cassettes", "/__mock/faults"] {
            let text = http_get(&server, path);
            assert!(text.starts_with("HTTP/1.1 200"), "{path}: {text}");
            assert!(!shows_key(&text), "{path} shows the key: {text}");
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Record mode.

fn temp_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!(
        "dashscope-secrets-{tag}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(json_files(&p));
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Waits until `dir` holds `n` cassettes (the recorder writes them after the body ends), then a
/// little longer so that a write that should not happen has had its chance.
fn wait_for_cassettes(dir: &Path, n: usize) -> Vec<PathBuf> {
    let started = Instant::now();
    while json_files(dir).len() < n && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    json_files(dir)
}

/// Upstream cassettes whose answers echo `key`: in a response header, in a JSON answer (JSON-
/// escaped, as any JSON encoder writes it) and in a streamed answer.
fn upstream_echoes(upstream: &MockServer, key: &str) {
    let quoted = serde_json::to_string(&format!("You sent the key {key}.")).expect("a string");
    let body = format!(
        r#"{{"choices":[{{"message":{{"role":"assistant","content":{quoted}}},"finish_reason":"stop","index":0}}],"object":"chat.completion","usage":{{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}},"created":1,"model":"qwen-plus","id":"chatcmpl-echo-record"}}"#
    );
    let header = format!("Bearer {key}");
    upstream.add_cassette(cassette(
        "chat/echo-record",
        "chat",
        CHAT_PATH,
        json!({"model": "qwen-echo-record"}),
        false,
        response(
            200,
            &[
                ("content-type", "application/json"),
                ("x-request-id", "echo-record"),
                ("x-echo-authorization", &header),
            ],
            body,
        ),
    ));
    let chunk = |content: &str| {
        let quoted = serde_json::to_string(content).expect("a string");
        format!(
            "data: {{\"choices\":[{{\"delta\":{{\"content\":{quoted}}},\"index\":0,\"finish_reason\":null}}],\"object\":\"chat.completion.chunk\",\"model\":\"qwen-plus\",\"id\":\"chatcmpl-echo-stream\"}}\n\n"
        )
    };
    upstream.add_cassette(cassette(
        "chat/echo-record-stream",
        "chat",
        CHAT_PATH,
        json!({"model": "qwen-echo-record-stream", "stream": true}),
        false,
        sse_response(
            "echo-record-stream",
            &[
                chunk("Your key: "),
                chunk(key),
                "data: {\"choices\":[{\"delta\":{\"content\":\"\"},\"index\":0,\"finish_reason\":\"stop\"}],\"object\":\"chat.completion.chunk\",\"model\":\"qwen-plus\",\"id\":\"chatcmpl-echo-stream\"}\n\n".to_owned(),
                "data: [DONE]\n\n".to_owned(),
            ],
        ),
    ));
}

/// Sends, with `key`, through a recorder whose upstream is another mock server: the two
/// exchanges whose answers echo the key, then four recorded exchanges (every dialect, stream
/// and non-stream). Returns the cassettes written under `dir`, once at least `written` are.
fn record_exchanges(key: &str, dir: &Path, written: usize) -> Vec<PathBuf> {
    let upstream = support::server();
    upstream_echoes(&upstream, key);
    let recorder = MockServer::builder()
        .record(upstream.uri(), dir)
        .start()
        .expect("the recorder starts");
    let client = dashscope_provider::blocking::Client::new(
        Config::builder()
            .api_key(key)
            .base_url(recorder.uri())
            .retry(RetryPolicy::none())
            .build()
            .expect("a configuration"),
    )
    .expect("a client");
    // The client scrubs the key out of what it receives (but not a key too short to tell
    // from ordinary text): the echo arrives with the key replaced.
    let echoed = if key.len() >= 8 { "[REDACTED]" } else { key };
    {
        let r = client
            .chat()
            .create(ChatRequest::new(
                "qwen-echo-record",
                vec![Message::user("echo")],
            ))
            .expect("the echo answer is forwarded");
        assert!(
            r.text().is_some_and(|t| t.contains(echoed)),
            "{:?}",
            r.text()
        );
        let s = client
            .chat()
            .create_stream(ChatRequest::new(
                "qwen-echo-record-stream",
                vec![Message::user("echo")],
            ))
            .expect("the echo stream is forwarded");
        let answer = s.accumulate().expect("the echo stream completes");
        assert!(
            answer.text().is_some_and(|t| t.contains(echoed)),
            "{:?}",
            answer.text()
        );
    }
    let chat: ChatRequest = request("chat/stream-include-usage-twin");
    client.chat().create(chat.clone()).expect("chat");
    client
        .chat()
        .create_stream(chat)
        .expect("chat stream")
        .accumulate()
        .expect("chat stream");
    let native_req: GenerationRequest = request("native/text-sse-twin");
    client
        .native()
        .generate_stream(native_req)
        .expect("native stream")
        .accumulate()
        .expect("native stream");
    let responses: ResponseRequest = request("responses/intro");
    client.responses().create(responses).expect("responses");
    let files = wait_for_cassettes(dir, written);
    // The journals: the recorder's, and the upstream's (which received the key).
    for (who, server) in [("recorder", &recorder), ("upstream", &upstream)] {
        let journal = http_get(server, "/__mock/journal");
        assert!(journal.contains("Bearer [REDACTED]"), "{who}: {journal}");
        assert!(
            !journal.contains(key),
            "the {who}'s journal shows the key: {journal}"
        );
    }
    files
}

/// Every string in a cassette, decoded: the file's JSON strings, and in turn the JSON inside
/// them (a recorded body, each `data:` line of a recorded event).
fn decoded_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            out.push(s.clone());
            let nested = std::iter::once(s.as_str()).chain(
                s.lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim),
            );
            for text in nested {
                if let Ok(inner) = serde_json::from_str::<Value>(text) {
                    if inner.is_object() || inner.is_array() {
                        decoded_strings(&inner, out);
                    }
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| decoded_strings(i, out)),
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                decoded_strings(v, out);
            }
        }
        _ => {}
    }
}

/// Where `key` shows in a cassette file: its text, or any string decoded from it.
fn key_in_cassette(path: &Path, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).expect("a readable cassette");
    if text.contains(key) {
        return Some("the file's text".to_owned());
    }
    let v: Value = serde_json::from_str(&text).expect("a JSON cassette");
    let mut strings = Vec::new();
    decoded_strings(&v, &mut strings);
    strings
        .into_iter()
        .find(|s| s.contains(key))
        .map(|s| format!("a decoded string: {s}"))
}

#[test]
fn recorded_cassettes_never_show_the_key() {
    capture();
    let dir = temp_dir("record");
    let d = dir.clone();
    let files = bounded("record", move || record_exchanges(KEY, &d, 6));
    let mut bad = Vec::new();
    let mut redacted = 0;
    for f in &files {
        if let Some(where_) = key_in_cassette(f, KEY) {
            bad.push(format!("{}: the key is in {where_}", f.display()));
        }
        let text = std::fs::read_to_string(f).expect("a cassette");
        if shows_key(&text) {
            bad.push(format!("{}: part of the key shows", f.display()));
        }
        Cassette::from_json(&text).expect("a valid cassette");
        if text.contains("sk-REDACTED") {
            redacted += 1;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(files.len(), 6, "a cassette per exchange: {files:?}");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert_eq!(
        redacted, 2,
        "both echoes were recorded with the key replaced by the placeholder"
    );
}

#[test]
fn record_mode_refuses_a_cassette_that_still_holds_the_key() {
    capture();
    // Keys shorter than 8 bytes are not scrubbed (they would match too much): the guard
    // that checks the finished cassette is what keeps them out.
    const SHORT_KEY: &str = "Kq!";
    let dir = temp_dir("refuse");
    let d = dir.clone();
    let files = bounded("refuse", move || record_exchanges(SHORT_KEY, &d, 4));
    let holding: Vec<&PathBuf> = files
        .iter()
        .filter(|f| key_in_cassette(f, SHORT_KEY).is_some())
        .collect();
    let n = files.len();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(holding.is_empty(), "written with the key: {holding:?}");
    assert_eq!(
        n, 4,
        "the four exchanges without the key are written, the two echoes are refused"
    );
}

#[test]
fn record_mode_scrubs_a_json_escaped_key() {
    capture();
    const ESCAPED_KEY: &str = r"sk-test\KNOWN-escaped-5e1b";
    let dir = temp_dir("escaped");
    let d = dir.clone();
    let files = bounded("escaped", move || record_exchanges(ESCAPED_KEY, &d, 4));
    let holding: Vec<String> = files
        .iter()
        .filter_map(|f| key_in_cassette(f, ESCAPED_KEY).map(|w| format!("{}: {w}", f.display())))
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(holding.is_empty(), "{}", holding.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Encoded echoes, over a raw socket.

/// `s` percent-encoded, every byte.
fn percent_all(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// `s` percent-decoded (leniently).
fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The forms a hostile gateway echoes the key in: `Basic base64("user:" + key)`, the key
/// percent-encoded whole, and with only its dashes percent-encoded.
fn echoed_forms() -> [String; 3] {
    [
        format!("Basic {}", base64(format!("user:{KEY}").as_bytes())),
        percent_all(KEY),
        KEY.replace('-', "%2D"),
    ]
}

/// Whether `text` shows the key in any form: as it is (also once percent-decoded), in the
/// forms [`key_encodings`] lists (base64 at every alignment, hex), or as echoed.
fn shows_any_form(text: &str) -> bool {
    let [basic, pct, dashes] = echoed_forms();
    shows_key(text)
        || shows_key(&percent_decoded(text))
        || key_encodings().iter().any(|f| text.contains(f.as_str()))
        || [&basic["Basic ".len()..], &pct, &dashes]
            .iter()
            .any(|f| text.contains(*f))
}

/// A gateway that answers `401` echoing the key base64-encoded (inside `Basic …`) and
/// percent-encoded, in the error body and in `x-request-id`.
fn encoded_echo_401() -> support::hostile::Hostile {
    support::hostile::Hostile::start(|conn| {
        let [basic, pct, dashes] = echoed_forms();
        let body = format!(
            r#"{{"error":{{"code":"invalid_api_key","message":"Incorrect API key provided: {pct}; you sent Authorization: {basic}","type":"invalid_request_error","param":"{dashes}"}},"request_id":"{dashes}"}}"#
        );
        let head = format!(
            "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-request-id: rid-{pct}\r\nx-echo-authorization: {basic}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        let _ = conn.raw(format!("{head}{body}").as_bytes());
    })
}

/// The event stream [`encoded_echo_stream`] sends: an answer that echoes the key in every
/// encoding, then an error event that echoes it again.
fn encoded_echo_events() -> String {
    let [basic, pct, dashes] = echoed_forms();
    format!(
        "{}{}data: {{\"error\":{{\"code\":\"data_inspection_failed\",\"message\":\"Output may contain {pct} {basic}\"}},\"id\":\"chatcmpl-{dashes}\"}}\n\n",
        chat_chunk("Hel"),
        chat_chunk(&format!(" {basic} and {pct} and {dashes}")),
    )
}

/// A gateway whose `200` event stream echoes the key base64- and percent-encoded (the request
/// id too), each form cut across body chunks that arrive apart.
fn encoded_echo_stream() -> support::hostile::Hostile {
    support::hostile::Hostile::start(|conn| {
        let [_, _, dashes] = echoed_forms();
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\nx-request-id: rid-{dashes}\r\nconnection: close\r\n\r\n"
        );
        if conn.raw(head.as_bytes()).is_err() {
            return;
        }
        let events = encoded_echo_events();
        // Cut inside every occurrence of every form: in its middle, and three bytes on (inside
        // a `%XX` of the percent-encoded ones).
        let mut cuts = Vec::new();
        for form in echoed_forms() {
            for (at, _) in events.match_indices(form.as_str()) {
                cuts.push(at + form.len() / 2);
                cuts.push(at + form.len() / 2 + 3);
            }
        }
        cuts.sort_unstable();
        cuts.dedup();
        let mut from = 0;
        for cut in cuts.into_iter().chain([events.len()]) {
            if conn.chunk(&events.as_bytes()[from..cut]).is_err() {
                return;
            }
            from = cut;
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = conn.raw(b"0\r\n\r\n");
    })
}

/// What one client saw of the two gateways: the 401's error, the stream's request id, its
/// chunks' text and its error.
struct Seen {
    error: Error,
    stream_request_id: Option<String>,
    contents: Vec<String>,
    stream_error: Error,
}

impl Seen {
    /// What a client saw: the failed call's error, and the stream's request id and items
    /// (its chunks' contents, then the error it ends with).
    fn new(
        error: Error,
        stream_request_id: Option<String>,
        items: impl IntoIterator<Item = Result<ChatChunk, Error>>,
    ) -> Seen {
        let mut contents = Vec::new();
        let mut stream_error = None;
        for item in items {
            match item {
                Ok(c) => contents.push(c.content().unwrap_or_default().to_owned()),
                Err(e) => stream_error = Some(e),
            }
        }
        Seen {
            error,
            stream_request_id,
            contents,
            stream_error: stream_error.expect("the stream fails"),
        }
    }

    /// Every way the key might show, with what it is.
    fn leaks(&self) -> Vec<String> {
        let mut texts: Vec<(String, String)> = renderings(&self.error);
        texts.extend(
            renderings(&self.stream_error)
                .into_iter()
                .map(|(how, t)| (format!("stream error {how}"), t)),
        );
        texts.push((
            "the stream's request id".to_owned(),
            format!("{:?}", self.stream_request_id),
        ));
        texts.push((
            "the partial answer".to_owned(),
            format!("{:?}", self.stream_error.partial().map(|p| p.text())),
        ));
        for c in &self.contents {
            texts.push(("a chunk".to_owned(), c.clone()));
        }
        texts
            .into_iter()
            .filter(|(_, t)| shows_any_form(t))
            .map(|(how, t)| format!("{how} shows the key: {t}"))
            .collect()
    }

    fn check(&self) {
        let bad = self.leaks();
        assert!(bad.is_empty(), "{}", bad.join("\n"));
        assert_eq!(self.error.status(), Some(401), "{:?}", self.error);
        assert!(
            matches!(
                &self.stream_error,
                Error::Stream {
                    kind: StreamErrorKind::ErrorEvent,
                    ..
                }
            ),
            "{:?}",
            self.stream_error
        );
        // The echoes arrived, scrubbed.
        assert_eq!(self.stream_request_id.as_deref(), Some("rid-[REDACTED]"));
        let answer = self.contents.concat();
        assert!(answer.starts_with("Hel "), "{answer}");
        assert_eq!(answer.matches("[REDACTED]").count(), 3, "{answer}");
        let partial = self.stream_error.partial().map(|p| p.text());
        assert_eq!(partial.as_deref(), Some(answer.as_str()));
        assert!(
            format!("{} {:?}", self.error, self.error).contains("[REDACTED]"),
            "{:?}",
            self.error
        );
    }
}

/// Checks that the log lines of this process show no form of the key, and that the runs'
/// (scrubbed) request ids were logged.
fn check_logs(capture: &Capture) {
    let logs = capture.text();
    let lines: Vec<&str> = logs.lines().filter(|l| shows_any_form(l)).collect();
    assert!(
        lines.is_empty(),
        "{} log line(s) show a form of the key:\n{}",
        lines.len(),
        lines.join("\n")
    );
    assert!(
        logs.contains("rid-[REDACTED]"),
        "the request ids were logged"
    );
}

/// A gateway that echoes the key base64-encoded (as `Basic base64("user:" + key)`) and
/// percent-encoded, in an error body, in `x-request-id` and in a stream's events cut across
/// chunks: the async client's errors, request ids, chunks and logs show no form of it.
#[test]
fn encoded_echoes_over_a_socket_never_show_the_key_async() {
    let capture = capture();
    let seen = bounded("encoded echoes async", || {
        let (e401, stream) = (encoded_echo_401(), encoded_echo_stream());
        let req = ChatRequest::new("qwen-plus", vec![Message::user("hi")]);
        runtime().block_on(async {
            let client = dashscope_provider::Client::new(config_for(&e401.uri(), None)).unwrap();
            let error = client.chat().create(req.clone()).await.unwrap_err();
            let client = dashscope_provider::Client::new(config_for(&stream.uri(), None)).unwrap();
            let mut s = client.chat().create_stream(req).await.expect("a stream");
            let stream_request_id = s.request_id().map(str::to_owned);
            let mut items = Vec::new();
            while let Some(item) = s.next_chunk().await {
                items.push(item);
            }
            Seen::new(error, stream_request_id, items)
        })
    });
    seen.check();
    check_logs(capture);
}

/// [`encoded_echoes_over_a_socket_never_show_the_key_async`] with the blocking client.
#[test]
fn encoded_echoes_over_a_socket_never_show_the_key_blocking() {
    let capture = capture();
    let seen = bounded("encoded echoes blocking", || {
        let (e401, stream) = (encoded_echo_401(), encoded_echo_stream());
        let req = ChatRequest::new("qwen-plus", vec![Message::user("hi")]);
        let client =
            dashscope_provider::blocking::Client::new(config_for(&e401.uri(), None)).unwrap();
        let error = client.chat().create(req.clone()).unwrap_err();
        let client =
            dashscope_provider::blocking::Client::new(config_for(&stream.uri(), None)).unwrap();
        let mut s = client.chat().create_stream(req).expect("a stream");
        let stream_request_id = s.request_id().map(str::to_owned);
        Seen::new(error, stream_request_id, s.by_ref())
    });
    seen.check();
    check_logs(capture);
}
