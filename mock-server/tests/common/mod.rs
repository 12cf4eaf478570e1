//! Test helpers: a raw HTTP/1.1 client over `std::net::TcpStream` (byte-exact, bounded by
//! timeouts) and cassette builders.

#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dashscope_protocol::cassette::{AnyCassette, Cassette};
use serde_json::{Value, json};

pub mod schema;

pub const KEY: &str = "sk-test0123456789abcdef";
pub const CHAT: &str = "/compatible-mode/v1/chat/completions";
pub const RESPONSES: &str = "/compatible-mode/v1/responses";
pub const NATIVE: &str = "/api/v1/services/aigc/text-generation/generation";

/// A response read off the wire.
#[derive(Debug, Clone)]
pub struct Raw {
    pub status: u16,
    /// Header lines as sent (`Name: value`).
    pub header_lines: Vec<String>,
    /// The body with HTTP framing removed.
    pub body: Vec<u8>,
    /// Whether the body framing completed (the final chunk, or all content-length bytes).
    pub complete: bool,
    /// The read error that ended the connection, if any.
    pub error: Option<io::ErrorKind>,
    /// Every read: when it arrived (since the request was written) and how many raw bytes.
    pub reads: Vec<(Duration, usize)>,
    /// The raw bytes.
    pub raw: Vec<u8>,
    /// Where the head ends in `raw`.
    pub head_len: usize,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<String> {
        self.header_lines.iter().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// When the raw byte at `offset` (0-based, body offsets counted in raw bytes) arrived.
    pub fn arrival_of_raw_offset(&self, offset: usize) -> Duration {
        let mut seen = 0;
        for (t, n) in &self.reads {
            seen += n;
            if seen > offset {
                return *t;
            }
        }
        self.reads.last().map_or(Duration::ZERO, |(t, _)| *t)
    }
}

/// Sends one request on a fresh connection (`Connection: close`) and reads the whole answer.
pub fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Raw {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.set_nodelay(true).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    let has_ct = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-length"));
    if !has_ct {
        req.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    let started = Instant::now();
    let _ = stream.write_all(&bytes);
    let mut raw = Vec::new();
    let mut reads = Vec::new();
    let mut buf = [0u8; 65536];
    let mut error = None;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                reads.push((started.elapsed(), n));
                raw.extend_from_slice(&buf[..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                error = Some(e.kind());
                break;
            }
        }
    }
    parse(raw, reads, error)
}

fn parse(raw: Vec<u8>, reads: Vec<(Duration, usize)>, error: Option<io::ErrorKind>) -> Raw {
    let head_len = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(raw.len(), |p| p + 4);
    let head = String::from_utf8_lossy(&raw[..head_len.min(raw.len())]).into_owned();
    let mut lines = head.split("\r\n").filter(|l| !l.is_empty());
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let header_lines: Vec<String> = lines.map(str::to_owned).collect();
    let rest = &raw[head_len.min(raw.len())..];
    let find = |name: &str| {
        header_lines.iter().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    };
    let (body, complete) =
        if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            dechunk(rest)
        } else if let Some(n) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
            (rest[..n.min(rest.len())].to_vec(), rest.len() >= n)
        } else {
            (rest.to_vec(), error.is_none())
        };
    Raw {
        status,
        header_lines,
        body,
        complete,
        error,
        reads,
        raw,
        head_len,
    }
}

/// Removes chunked framing; `complete` when the last chunk was seen.
pub fn dechunk(mut b: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    loop {
        let Some(nl) = b.windows(2).position(|w| w == b"\r\n") else {
            return (out, false);
        };
        let size = std::str::from_utf8(&b[..nl])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok());
        let Some(size) = size else {
            return (out, false);
        };
        b = &b[nl + 2..];
        if size == 0 {
            return (out, true);
        }
        if b.len() < size + 2 {
            out.extend_from_slice(&b[..size.min(b.len())]);
            return (out, false);
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

/// A POST with a Bearer key and a JSON content type.
pub fn post(addr: SocketAddr, path: &str, extra: &[(&str, &str)], body: &Value) -> Raw {
    let auth = format!("Bearer {KEY}");
    let mut headers = vec![
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    headers.extend_from_slice(extra);
    send(addr, "POST", path, &headers, body.to_string().as_bytes())
}

pub fn cassette(v: &Value) -> Cassette {
    Cassette::from_json(&v.to_string()).expect("test cassette")
}

/// A chat stream cassette answering `{"model": model, "stream": true}` with `n` events.
pub fn chat_stream(name: &str, model: &str, n: usize, delay_ms: u64) -> Value {
    let mut chunks: Vec<Value> = (0..n)
        .map(|i| {
            json!({"delay_ms": if i == 0 { 0 } else { delay_ms },
                   "data": format!("data: {{\"id\":\"chatcmpl-x\",\"choices\":[{{\"delta\":{{\"content\":\"part{i}\"}},\"index\":0}}]}}\n\n")})
        })
        .collect();
    chunks.push(json!({"delay_ms": delay_ms, "data": "data: [DONE]\n\n"}));
    json!({
        "version": 1, "name": name, "description": "test stream", "dialect": "chat",
        "request": {"method": "POST", "path": CHAT, "body": {"model": model, "stream": true}},
        "match": {"body": {"model": model, "stream": true}},
        "response": {"status": 200,
            "headers": [["Content-Type", "text/event-stream;charset=UTF-8"], ["X-Request-ID", "r-1"], ["x-dashscope-call-gateway", "true"]],
            "body": {"chunks": chunks}}
    })
}

/// A non-stream chat cassette answering `{"model": model}` with `text`.
pub fn chat_json(name: &str, model: &str, text: &str) -> Value {
    json!({
        "version": 1, "name": name, "description": "test", "dialect": "chat",
        "request": {"method": "POST", "path": CHAT, "body": {"model": model, "messages": [{"role": "user", "content": "hi"}]}},
        "match": {"body": {"model": model}},
        "response": {"status": 200,
            "headers": [["vary", "Origin"], ["X-Request-ID", "r-2"], ["content-type", "application/json"]],
            "body": {"text": text}}
    })
}

/// A native stream cassette (events with blank lines).
pub fn native_stream(name: &str, model: &str, n: usize) -> Value {
    let chunks: Vec<Value> = (1..=n)
        .map(|i| {
            let fin = if i == n { "stop" } else { "null" };
            json!({"delay_ms": 0, "data": format!(
                "id:{i}\nevent:result\n:HTTP_STATUS/200\ndata:{{\"output\":{{\"text\":\"t{i}\",\"finish_reason\":\"{fin}\"}},\"request_id\":\"q\"}}\n\n")})
        })
        .collect();
    json!({
        "version": 1, "name": name, "description": "test native stream", "dialect": "native",
        "request": {"method": "POST", "path": NATIVE, "headers": {"x-dashscope-sse": "enable", "accept": "text/event-stream"},
                    "body": {"model": model, "input": {"prompt": "p"}, "parameters": {}}},
        "match": {"body": {"model": model}},
        "response": {"status": 200, "headers": [["content-type", "text/event-stream;charset=UTF-8"], ["x-request-id", "q"]],
                     "body": {"chunks": chunks}}
    })
}

/// Runs `f` on a thread and fails if it takes longer than `limit`.
pub fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let r = f();
        let _ = tx.send(());
        r
    });
    match rx.recv_timeout(limit) {
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("test step took longer than {limit:?}")
        }
        _ => match handle.join() {
            Ok(r) => r,
            Err(p) => std::panic::resume_unwind(p),
        },
    }
}

/// The answer a unified stream's events describe: text, reasoning and arguments concatenated
/// per candidate and call (`ToolCallDone` replaces the arguments); the last meta, finish reason
/// and usage win.
pub fn fold(
    events: &[dashscope_protocol::unified::UnifiedEvent],
) -> dashscope_protocol::unified::UnifiedResponse {
    use dashscope_protocol::unified::{Candidate, ToolCall, UnifiedEvent as E, UnifiedResponse};
    use std::collections::BTreeMap;
    let mut r = UnifiedResponse::default();
    let mut cands: BTreeMap<u32, (Candidate, BTreeMap<u32, ToolCall>)> = BTreeMap::new();
    for e in events {
        match e {
            E::Meta { id, model } => {
                r.id = id.clone().or(r.id.take());
                r.model = model.clone().or(r.model.take());
            }
            E::TextDelta { candidate, text } => {
                cands.entry(*candidate).or_default().0.text.push_str(text);
            }
            E::ReasoningDelta { candidate, text } => {
                cands
                    .entry(*candidate)
                    .or_default()
                    .0
                    .reasoning
                    .push_str(text);
            }
            E::ToolCallStart {
                candidate,
                index,
                id,
                name,
            } => {
                let call = cands
                    .entry(*candidate)
                    .or_default()
                    .1
                    .entry(*index)
                    .or_default();
                call.id.clone_from(id);
                call.name.clone_from(name);
            }
            E::ToolCallArguments {
                candidate,
                index,
                delta,
            } => {
                let call = cands
                    .entry(*candidate)
                    .or_default()
                    .1
                    .entry(*index)
                    .or_default();
                call.arguments.push_str(delta);
            }
            E::ToolCallDone {
                candidate,
                index,
                arguments,
            } => {
                let call = cands
                    .entry(*candidate)
                    .or_default()
                    .1
                    .entry(*index)
                    .or_default();
                call.arguments.clone_from(arguments);
            }
            E::Finish { candidate, reason } => {
                cands.entry(*candidate).or_default().0.finish_reason = Some(reason.clone());
            }
            E::Usage(u) => r.usage = Some(u.clone()),
            E::Passthrough(_) | E::AudioDelta { .. } => {}
        }
    }
    r.candidates = cands
        .into_iter()
        .map(|(index, (c, calls))| Candidate {
            index,
            tool_calls: calls.into_values().collect(),
            ..c
        })
        .collect();
    r
}

/// The cassette files under `fixtures/` (what the mock embeds): `(path under fixtures/,
/// text, cassette)`, in path order.
pub fn fixture_files() -> Vec<(String, String, AnyCassette)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).expect("the fixtures directory") {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "json") {
                out.push(p);
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let c =
                AnyCassette::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let rel = p
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (rel, text, c)
        })
        .collect()
}

/// The wire cassettes under `fixtures/`.
pub fn wire_fixtures() -> Vec<Cassette> {
    fixture_files()
        .into_iter()
        .filter_map(|(_, _, c)| match c {
            AnyCassette::Wire(c) => Some(c),
            AnyCassette::Unified(_) => None,
        })
        .collect()
}

/// Spawns the binary `command` runs (its stdin a pipe held open, its stderr dropped) and waits
/// until it prints its URL: the child and the address it listens on.
pub fn listening(command: &mut Command) -> (Child, SocketAddr) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the binary");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("dashscope-mock listening on http://")
        .unwrap_or_else(|| panic!("{line}"))
        .parse()
        .unwrap();
    (child, addr)
}
