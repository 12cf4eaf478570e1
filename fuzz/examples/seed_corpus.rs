//! Seeds the fuzz corpora from the fixtures (`mock-server/fixtures/**/*.json`).
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --example seed_corpus [-- <fixtures dir> <corpus dir>]
//! ```
//!
//! Writes `<corpus dir>/<target>/<fixture>-<what>` files (default: `mock-server/fixtures` and
//! `fuzz/corpus`); run `cargo fuzz cmin <target>` afterwards to keep only the inputs that add
//! coverage. Stream targets get each body behind the header `dashscope_fuzz::bodies` describes,
//! once in one piece and once cut into small pieces; `responses_json` gets every request body,
//! non-stream body and stream event payload behind the byte that selects its type. The
//! expander's seeds (`bodies::expand_seeds`) go to every stream target.

use std::fs;
use std::path::{Path, PathBuf};

use dashscope_fuzz::bodies::{FLAG_CUMULATIVE, FLAG_LAZY, FLAG_SMALL_LIMIT, expand_seeds};
use dashscope_protocol::cassette::{Cassette, Dialect};
use dashscope_protocol::sse::{Decoder, Mode};
use serde_json::Value;

/// The `responses_json` selector bytes (indices into `bodies::JSON_TYPES`).
mod sel {
    pub const CHAT_REQUEST: u8 = 0;
    pub const CHAT_COMPLETION: u8 = 1;
    pub const CHAT_CHUNK: u8 = 2;
    pub const CHAT_ERROR: u8 = 3;
    pub const RESPONSES_REQUEST: u8 = 4;
    pub const RESPONSE: u8 = 5;
    pub const RESPONSES_EVENT: u8 = 6;
    pub const INPUT_ITEM: u8 = 7;
    pub const OUTPUT_ITEM: u8 = 8;
    pub const NATIVE_REQUEST: u8 = 9;
    pub const NATIVE_RESPONSE: u8 = 10;
    pub const NATIVE_ERROR: u8 = 11;
    pub const FROM_BODY: u8 = 12;
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut args = std::env::args_os().skip(1);
    let fixtures = args
        .next()
        .map_or_else(|| root.join("../mock-server/fixtures"), PathBuf::from);
    let corpus = args
        .next()
        .map_or_else(|| root.join("corpus"), PathBuf::from);

    let mut files = Vec::new();
    collect(&fixtures, &mut files)?;
    files.sort();
    let mut written = 0usize;
    let mut put = |target: &str, name: &str, bytes: &[u8]| -> std::io::Result<()> {
        let dir = corpus.join(target);
        fs::create_dir_all(&dir)?;
        fs::write(dir.join(name), bytes)?;
        written += 1;
        Ok(())
    };
    for file in &files {
        let cassette = Cassette::from_json(&fs::read_to_string(file)?)?;
        let name = cassette.name.replace('/', "_");
        let body = cassette.response.body.to_bytes();
        let (stream_target, mode) = match cassette.dialect {
            Dialect::Chat => ("chat_stream", Mode::Standard),
            Dialect::Responses => ("responses_stream", Mode::Standard),
            Dialect::Native => ("native_stream", Mode::DataLineIsEvent),
        };
        let cumulative = cassette
            .request
            .body
            .as_ref()
            .and_then(|b| b.pointer("/parameters/incremental_output"))
            == Some(&Value::Bool(false));
        let flags = if cumulative { FLAG_CUMULATIVE } else { 0 };

        // Stream targets: the body in one piece, and in small pieces (lazily pulled).
        for target in ["sse_decoder", stream_target] {
            put(
                target,
                &format!("{name}-whole"),
                &framed(&[flags, 0, 0], &body),
            )?;
            put(
                target,
                &format!("{name}-split"),
                &framed(&[flags | FLAG_LAZY, 0, 4, 1, 5, 33, 200], &body),
            )?;
        }
        put(
            "sse_decoder",
            &format!("{name}-small-limit"),
            &framed(&[FLAG_SMALL_LIMIT, 48, 1, 3], &body),
        )?;

        // responses_json: the request, its input items, the body, each stream payload.
        let (req_sel, resp_sel, chunk_sel, err_sel) = match cassette.dialect {
            Dialect::Chat => (
                sel::CHAT_REQUEST,
                sel::CHAT_COMPLETION,
                sel::CHAT_CHUNK,
                sel::CHAT_ERROR,
            ),
            Dialect::Responses => (
                sel::RESPONSES_REQUEST,
                sel::RESPONSE,
                sel::RESPONSES_EVENT,
                sel::CHAT_ERROR,
            ),
            Dialect::Native => (
                sel::NATIVE_REQUEST,
                sel::NATIVE_RESPONSE,
                sel::NATIVE_RESPONSE,
                sel::NATIVE_ERROR,
            ),
        };
        if let Some(req) = &cassette.request.body {
            put(
                "responses_json",
                &format!("{name}-request"),
                &framed(&[req_sel], serde_json::to_string(req)?.as_bytes()),
            )?;
            if let Some(items) = req.get("input").and_then(Value::as_array) {
                for (i, item) in items.iter().enumerate() {
                    let json = serde_json::to_string(item)?;
                    put(
                        "responses_json",
                        &format!("{name}-input-{i}"),
                        &framed(&[sel::INPUT_ITEM], json.as_bytes()),
                    )?;
                }
            }
        }
        put(
            "responses_json",
            &format!("{name}-from-body"),
            &framed(&[sel::FROM_BODY], &body),
        )?;
        if cassette.response.body.is_stream() || body.starts_with(b"id:") {
            let mut d = Decoder::with_mode(mode);
            d.feed(&body);
            d.finish();
            let mut i = 0;
            while let Some(ev) = d.next_event() {
                let Ok(ev) = ev else { continue };
                put(
                    "responses_json",
                    &format!("{name}-event-{i}"),
                    &framed(&[chunk_sel], ev.data.as_bytes()),
                )?;
                i += 1;
            }
        } else {
            let is_error = cassette.response.status >= 400;
            put(
                "responses_json",
                &format!("{name}-body"),
                &framed(&[if is_error { err_sel } else { resp_sel }], &body),
            )?;
            let parsed = serde_json::from_slice::<Value>(&body).ok();
            let items = parsed.as_ref().and_then(|v| v.get("output")?.as_array());
            for (i, item) in items.into_iter().flatten().enumerate() {
                let json = serde_json::to_string(item)?;
                put(
                    "responses_json",
                    &format!("{name}-output-{i}"),
                    &framed(&[sel::OUTPUT_ITEM], json.as_bytes()),
                )?;
            }
        }
    }
    // The expander's programs: long events, many data lines, huge comments.
    for (name, data) in expand_seeds() {
        for target in [
            "sse_decoder",
            "chat_stream",
            "responses_stream",
            "native_stream",
        ] {
            put(target, name, &data)?;
        }
    }
    println!(
        "wrote {written} seeds from {} fixtures under {}",
        files.len(),
        corpus.display()
    );
    Ok(())
}

/// `header` followed by `body`.
fn framed(header: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = header.to_vec();
    out.extend_from_slice(body);
    out
}

/// Every `*.json` file under `dir`, recursively.
fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}
