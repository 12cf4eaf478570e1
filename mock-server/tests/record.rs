//! Record mode against an upstream that is itself a mock server: the client sees the
//! upstream's answer, the cassette written holds no key, and replaying it gives the client the
//! same bytes.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use dashscope_mock::MockServer;
use dashscope_protocol::cassette::Cassette;
use serde_json::{Value, json};

fn temp_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "dashscope-mock-record-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in ["chat", "native", "responses"] {
        if let Ok(rd) = std::fs::read_dir(dir.join(sub)) {
            out.extend(
                rd.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "json")),
            );
        }
    }
    out.sort();
    out
}

/// A path, extra headers and a body.
type Request = (&'static str, Vec<(&'static str, &'static str)>, Value);

/// What a client sees, minus per-connection framing.
fn seen(raw: &Raw) -> (u16, Vec<String>, Vec<u8>) {
    // Each mock names its own source (the upstream here is a mock too).
    let mut lines = raw.header_lines.clone();
    lines.retain(|l| !l.starts_with("x-mock-source:"));
    (raw.status, lines, raw.body.clone())
}

#[test]
fn record_then_replay_gives_identical_bytes_and_no_key() {
    within(Duration::from_secs(60), || {
        // The upstream: a mock with a chat stream, a chat JSON answer that echoes key-like
        // strings, and a native stream without blank lines.
        let upstream = MockServer::builder()
            .no_defaults()
            .start()
            .expect("upstream");
        upstream.add_cassette(cassette(&chat_stream("chat/up-stream", "m", 4, 20)));
        upstream.add_cassette(cassette(&chat_json(
            "chat/up-json",
            "m",
            r#"{"note":"a key sk-abcdefghijklmnop1234 and sk-test0123456789abcdef"}"#,
        )));
        let mut native = native_stream("native/up", "m", 3);
        for c in native["response"]["body"]["chunks"].as_array_mut().unwrap() {
            let d = c["data"]
                .as_str()
                .unwrap()
                .trim_end_matches('\n')
                .to_owned()
                + "\n";
            c["data"] = json!(d);
        }
        upstream.add_cassette(cassette(&native));

        let dir = temp_dir();
        let recorder = MockServer::builder()
            .no_defaults()
            .record(upstream.uri(), &dir)
            .start()
            .expect("recorder");
        let requests: Vec<Request> = vec![
            (
                CHAT,
                vec![],
                json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
            ),
            (
                CHAT,
                vec![],
                json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
            ),
            (
                NATIVE,
                vec![
                    ("x-dashscope-sse", "enable"),
                    ("accept", "text/event-stream"),
                ],
                json!({"model": "m", "input": {"prompt": "p"}}),
            ),
        ];
        let recorded: Vec<Raw> = requests
            .iter()
            .map(|(p, h, b)| post(recorder.address(), p, h, b))
            .collect();
        assert_eq!(
            recorded.iter().map(|r| r.status).collect::<Vec<_>>(),
            [200, 200, 200]
        );
        assert!(recorded[0].text().ends_with("data: [DONE]\n\n"));
        assert_eq!(recorder.journal()[0].outcome, "record");
        // The upstream saw the client's key.
        let upstream_auth = upstream.journal()[0]
            .headers
            .iter()
            .find(|(n, _)| n == "authorization")
            .cloned();
        assert_eq!(
            upstream_auth.map(|(_, v)| v).as_deref(),
            Some("Bearer [REDACTED]")
        );

        // Each cassette is written before its answer ends: a client that has read an answer
        // finds its cassette (a JSON answer's last bytes wait for it, a stream's end too).
        let written = files(&dir);
        assert_eq!(written.len(), 3, "{written:?}");
        for path in &written {
            let text = std::fs::read_to_string(path).unwrap();
            assert!(!text.contains(KEY), "{} holds the key", path.display());
            assert!(
                !text.contains("sk-abcdefghijklmnop1234"),
                "{} holds a key-like string",
                path.display()
            );
            assert!(
                !text.to_ascii_lowercase().contains("authorization"),
                "{}",
                path.display()
            );
            let f = Cassette::from_json(&text).expect("a valid cassette");
            assert!(f.source.as_deref().unwrap_or("").contains("raw"));
        }

        // Replay from the written cassettes: the client sees the same thing.
        let replayer = MockServer::builder()
            .no_defaults()
            .strict(true)
            .fixtures_dir(&dir)
            .start()
            .expect("replayer");
        for ((path, headers, body), first) in requests.iter().zip(&recorded) {
            let again = post(replayer.address(), path, headers, body);
            assert_eq!(replayer.journal().last().unwrap().outcome, "cassette");
            let (s1, h1, b1) = seen(first);
            let (s2, h2, b2) = seen(&again);
            assert_eq!(s1, s2);
            if b1
                .windows(b"sk-abcdefghijklmnop1234".len())
                .any(|w| w == b"sk-abcdefghijklmnop1234")
            {
                // Scrubbing changed these bytes on purpose, and the content-length with them.
                let scrubbed = r#"{"note":"a key sk-REDACTED and sk-REDACTED"}"#;
                assert_eq!(String::from_utf8_lossy(&b2), scrubbed);
                let fix = |h: &[String]| -> Vec<String> {
                    h.iter()
                        .map(|l| {
                            if l.starts_with("content-length:") {
                                "content-length: N".to_owned()
                            } else {
                                l.clone()
                            }
                        })
                        .collect()
                };
                assert_eq!(fix(&h1), fix(&h2), "headers differ for {path}");
                assert!(h2.contains(&format!("content-length: {}", scrubbed.len())));
            } else {
                assert_eq!(h1, h2, "headers differ for {path}");
                assert_eq!(b1, b2, "body differs for {path}");
            }
        }
        // Streams are stored one event per chunk.
        let ok: Vec<Cassette> = written
            .iter()
            .map(|p| Cassette::from_json(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect();
        let native = ok
            .iter()
            .find(|f| f.dialect == dashscope_protocol::cassette::Dialect::Native)
            .unwrap();
        match &native.response.body {
            dashscope_protocol::cassette::Body::Chunks(c) => assert_eq!(c.len(), 3),
            other => panic!("not chunks: {other:?}"),
        }
        assert_eq!(
            native
                .request
                .headers
                .get("x-dashscope-sse")
                .map(String::as_str),
            Some("enable")
        );
        let _ = std::fs::remove_dir_all(&dir);
    });
}

#[test]
fn record_mode_reports_an_unreachable_upstream() {
    within(Duration::from_secs(30), || {
        // A directory that does not exist yet, given as a fixtures directory too (as the
        // binary's `--fixtures DIR --record URL` does): record mode creates it.
        let dir = temp_dir().join("not-yet");
        // A port nothing listens on: bind, read the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let recorder = MockServer::builder()
            .no_defaults()
            .record(format!("http://127.0.0.1:{port}"), &dir)
            .fixtures_dir(&dir)
            .start()
            .expect("recorder");
        assert!(dir.is_dir());
        let raw = post(recorder.address(), CHAT, &[], &json!({"model": "m"}));
        assert_eq!(raw.status, 502);
        assert_eq!(raw.json()["error"]["code"], "bad_gateway");
        assert!(files(&dir).is_empty());
        assert!(
            MockServer::builder()
                .record("ftp://x", &dir)
                .start()
                .is_err()
        );
        let _ = std::fs::remove_dir_all(&dir);
    });
}
