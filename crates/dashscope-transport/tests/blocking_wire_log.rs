//! ureq logs every byte it writes and reads at TRACE through the `log` crate. With a `log`
//! logger at TRACE capturing every record, a request through [`UreqTransport`] shows its
//! sensitive header values nowhere (plain, as the hex of the wire dump, in base64), while the
//! server receives them intact.
//!
//! One test per binary: a `log` logger is process-wide.

mod support;

use std::sync::{Mutex, OnceLock};

use bytes::Bytes;
use dashscope_transport::{BlockingTransport, UreqTransport};
use support::*;

/// Every record logged in this process.
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let line = format!("{} {}: {}", record.level(), record.target(), record.args());
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(line);
    }

    fn flush(&self) {}
}

fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture: &'static Capture = Box::leak(Box::new(Capture(Mutex::new(Vec::new()))));
        log::set_logger(capture).expect("the only logger of this test binary");
        log::set_max_level(log::LevelFilter::Trace);
        capture
    })
}

/// The bytes of ureq's hex wire dump (`7b22 6d6f …  {"mo…` rows), in order.
fn dumped_bytes(lines: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in lines {
        let Some(row) = line.split(": ").nth(1) else {
            continue;
        };
        for group in row.split(' ').take(8) {
            let group = group.trim_end_matches('-');
            if group.len() % 2 != 0 || !group.bytes().all(|b| b.is_ascii_hexdigit()) {
                break;
            }
            for i in (0..group.len()).step_by(2) {
                out.push(u8::from_str_radix(&group[i..i + 2], 16).expect("hex"));
            }
        }
    }
    out
}

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

#[test]
fn the_wire_log_never_shows_a_sensitive_header() {
    let capture = capture();
    bounded_blocking(|| {
        let (server, seen) = header_echo();
        let t = UreqTransport::builder().no_proxy().build();
        let mut custom = http::HeaderValue::from_static("custom-SECRETKEY-value");
        custom.set_sensitive(true);
        let mut req = http::Request::post(server.url("/x"))
            .header("authorization", format!("Bearer {API_KEY}"))
            .header("content-type", "application/json")
            .body(Bytes::from_static(b"{\"model\":\"qwen-plus\"}"))
            .expect("request");
        req.headers_mut().insert("x-custom-secret", custom);
        // Twice: the second request reuses the pooled connection.
        for _ in 0..2 {
            let res = t.send(req.clone()).expect("a response");
            assert_eq!(res.status(), 201);
            res.into_body().bytes(1024).expect("the body");
            let (_, _, headers, body) = seen.recv().expect("the server saw the request");
            assert_eq!(
                headers["authorization"],
                format!("Bearer {API_KEY}").as_str()
            );
            assert_eq!(headers["x-custom-secret"], "custom-SECRETKEY-value");
            assert_eq!(body, "{\"model\":\"qwen-plus\"}");
        }
    });
    let lines = capture.0.lock().expect("the capture").clone();
    let text = lines.join("\n");
    let dumped = dumped_bytes(&lines);
    // The capture saw ureq's wire dump of the request head, with the placeholders in it.
    let dumped_text = String::from_utf8_lossy(&dumped);
    assert!(dumped_text.contains("POST /x HTTP/1.1"), "{text}");
    assert!(
        dumped_text.contains("authorization: sealed."),
        "{dumped_text}"
    );
    for secret in [API_KEY, "SECRETKEY", "custom-SECRETKEY-value"] {
        assert!(!text.contains(secret), "the log shows {secret:?}:\n{text}");
        assert!(
            !dumped_text.contains(secret),
            "the wire dump shows {secret:?}"
        );
        let b64 = base64(format!("Bearer {secret}").as_bytes());
        assert!(
            !text.contains(&b64[..b64.len() - 4]),
            "base64 of {secret:?}"
        );
        assert!(
            !text.contains(&base64(secret.as_bytes())[..8]),
            "base64 of {secret:?}"
        );
    }
}
