//! A profiling driver: runs one stream pipeline over the standard workload in a loop, so a
//! profiler sees nothing but that pipeline.
//!
//! ```sh
//! CARGO_PROFILE_RELEASE_DEBUG=line-tables-only cargo build --release -p dashscope-benches --example profile
//! perf record -e cpu-clock -g target/release/examples/profile compat parse 4096 200
//! valgrind --tool=callgrind target/release/examples/profile compat parse 4096 3
//! ```
//!
//! Arguments: `<compat|native|responses> <parse|acc|floor|sse|async-openai> [piece bytes]
//! [iterations]`, or `compare [rounds]`: every pipeline of every dialect at both piece sizes,
//! interleaved round by round, reporting the fastest and the median pass of each (the fastest
//! pass is the figure least disturbed by other processes on a busy machine). `sse` is our SSE decoder alone; `async-openai` (compat only) is async-openai's
//! pipeline as the `stream_parse` bench runs it. Two what-ifs measure a possible change in the
//! protocol crate on today's code: `<pipeline>-no-nulls` (e.g. `parse-no-nulls`) runs the
//! pipeline over the same stream with every explicit `null` member removed (what parsing costs when nulls cost nothing), and, for
//! Responses, `events-enum` / `events-direct` time the JSON step alone, through
//! `ResponseStreamEvent` (buffered in a `serde_json::Value` by `tagged_enum!`) or straight into
//! the event struct the SSE `event:` line names (for the three delta events). For compat,
//! `json-ours` / `json-async-openai` time the JSON step alone (`serde_json::from_str` of every
//! payload into `ChatChunk` / `CreateChatCompletionStreamResponse`, value dropped).
//!
//! Instructions per pass, which the machine's load does not disturb, are the difference of two
//! callgrind runs divided by the difference of their iteration counts:
//!
//! ```sh
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/profile compat parse 4096 1
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/profile compat parse 4096 3
//! ```

use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use async_openai::types::chat::CreateChatCompletionStreamResponse;
use dashscope_benches::pipeline::{self, PipelineError};
use dashscope_benches::streams::{Dialect, StreamWorkload};
use dashscope_protocol::sse::Decoder;
use futures_util::StreamExt as _;

/// async-openai's pipeline, as in `benches/stream_parse.rs`.
fn async_openai(bytes: &[u8], piece: usize) -> Result<usize, PipelineError> {
    let pieces = futures_util::stream::iter(bytes.chunks(piece).map(Ok::<&[u8], std::io::Error>));
    let mut events = eventsource_stream::EventStream::new(pieces);
    futures_executor::block_on(async {
        let mut chunks = 0;
        while let Some(event) = events.next().await {
            let event = event.map_err(|e| PipelineError::Json(e.to_string()))?;
            if event.data == "[DONE]" {
                break;
            }
            if event.event == "keepalive" {
                continue;
            }
            let chunk: CreateChatCompletionStreamResponse = serde_json::from_str(&event.data)
                .map_err(|e| PipelineError::Json(e.to_string()))?;
            black_box(chunk);
            chunks += 1;
        }
        Ok(chunks)
    })
}

/// Our SSE decoder alone: every event pulled and dropped.
fn sse_only(dialect: Dialect, bytes: &[u8], piece: usize) -> Result<usize, PipelineError> {
    let mut d = Decoder::with_mode(dialect.sse_mode());
    let mut n = 0;
    for p in bytes.chunks(piece.max(1)) {
        d.feed(p);
        while let Some(ev) = d.next_event() {
            black_box(ev.map_err(PipelineError::Sse)?);
            n += 1;
        }
    }
    d.finish();
    while let Some(ev) = d.next_event() {
        black_box(ev.map_err(PipelineError::Sse)?);
        n += 1;
    }
    Ok(n)
}

/// `bytes` re-framed with every `null` object member removed from every payload.
fn without_nulls(dialect: Dialect, bytes: &[u8]) -> Vec<u8> {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.retain(|_, x| !x.is_null());
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut out = Vec::with_capacity(bytes.len());
    let text = String::from_utf8_lossy(bytes);
    for line in text.split_inclusive('\n') {
        match line.strip_prefix("data:") {
            Some(payload) if payload.trim() != "[DONE]" => {
                let sep = if dialect == Dialect::Compat { " " } else { "" };
                match serde_json::from_str::<serde_json::Value>(payload.trim()) {
                    Ok(mut v) => {
                        strip(&mut v);
                        out.extend_from_slice(format!("data:{sep}{v}\n").as_bytes());
                    }
                    Err(_) => out.extend_from_slice(line.as_bytes()),
                }
            }
            _ => out.extend_from_slice(line.as_bytes()),
        }
    }
    out
}

/// Every `data:` payload with the SSE event name before it (if any).
fn payloads_of(bytes: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(bytes);
    let mut name = "";
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("event:") {
            name = n;
        } else if let Some(d) = line.strip_prefix("data:") {
            out.push((name.to_owned(), d.to_owned()));
        }
    }
    out
}

/// The Responses JSON step alone: through the tagged enum, or dispatched on the event name.
fn responses_events(payloads: &[(String, String)], direct: bool) -> Result<usize, PipelineError> {
    use dashscope_protocol::responses::{
        FunctionCallArgumentsDeltaEvent, OutputTextDeltaEvent, ReasoningTextDeltaEvent,
        ResponseStreamEvent,
    };
    fn parse<T: serde::de::DeserializeOwned>(d: &str) -> Result<(), PipelineError> {
        black_box(serde_json::from_str::<T>(d).map_err(|e| PipelineError::Json(e.to_string()))?);
        Ok(())
    }
    for (name, d) in payloads {
        match name.as_str() {
            "response.output_text.delta" if direct => parse::<OutputTextDeltaEvent>(d)?,
            "response.reasoning_text.delta" if direct => parse::<ReasoningTextDeltaEvent>(d)?,
            "response.function_call_arguments.delta" if direct => {
                parse::<FunctionCallArgumentsDeltaEvent>(d)?;
            }
            _ => parse::<ResponseStreamEvent>(d)?,
        }
    }
    Ok(payloads.len())
}

/// The compat JSON step alone, into our chunk type or async-openai's.
fn compat_json(payloads: &[(String, String)], ours: bool) -> Result<usize, PipelineError> {
    for (_, d) in payloads.iter().filter(|(_, d)| d.trim() != "[DONE]") {
        let d = d.trim_start();
        let r = if ours {
            serde_json::from_str::<dashscope_protocol::chat::ChatChunk>(d).map(|c| {
                black_box(c);
            })
        } else {
            serde_json::from_str::<CreateChatCompletionStreamResponse>(d).map(|c| {
                black_box(c);
            })
        };
        r.map_err(|e| PipelineError::Json(e.to_string()))?;
    }
    Ok(payloads.len())
}

/// Runs one pass of pipeline `what` over `bytes`; returns the chunk (or line) count.
fn run_once(
    dialect: Dialect,
    what: &str,
    bytes: &[u8],
    piece: usize,
) -> Option<Result<usize, PipelineError>> {
    Some(match what {
        "parse" => pipeline::parse(dialect, black_box(bytes), piece).map(|t| t.chunks),
        "floor" => pipeline::floor(black_box(bytes), piece),
        "sse" => sse_only(dialect, black_box(bytes), piece),
        "async-openai" if dialect == Dialect::Compat => async_openai(black_box(bytes), piece),
        "acc" => match dialect {
            Dialect::Compat => pipeline::compat_accumulate(bytes, piece).map(|(t, r)| {
                black_box(r);
                t.chunks
            }),
            Dialect::Native => pipeline::native_accumulate(bytes, piece).map(|(t, r)| {
                black_box(r);
                t.chunks
            }),
            Dialect::Responses => pipeline::responses_accumulate(bytes, piece).map(|(t, r)| {
                black_box(r);
                t.chunks
            }),
        },
        _ => return None,
    })
}

/// Every pipeline, interleaved: fastest and median pass, and the ratios of the fastest passes.
fn compare(rounds: usize) -> ExitCode {
    println!(
        "| dialect | piece | pipeline | fastest | median | MiB/s (fastest) | events/s (fastest) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for dialect in Dialect::ALL {
        let w = StreamWorkload::standard(dialect);
        for piece in [4096, 64] {
            let mut names = vec!["parse", "acc", "floor"];
            if dialect == Dialect::Compat {
                names.push("async-openai");
            }
            let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(rounds); names.len()];
            for _ in 0..rounds {
                for (i, name) in names.iter().enumerate() {
                    let start = Instant::now();
                    match run_once(dialect, name, &w.bytes, piece) {
                        Some(Ok(n)) => {
                            black_box(n);
                        }
                        Some(Err(e)) => {
                            eprintln!("{e}");
                            return ExitCode::FAILURE;
                        }
                        None => return ExitCode::FAILURE,
                    }
                    times[i].push(start.elapsed());
                }
            }
            for (name, t) in names.iter().zip(&mut times) {
                t.sort();
                let (fastest, median) = (t[0], t[t.len() / 2]);
                let secs = fastest.as_secs_f64();
                println!(
                    "| {} | {piece} | {name} | {fastest:.2?} | {median:.2?} | {:.1} | {:.0} |",
                    dialect.name(),
                    w.bytes.len() as f64 / secs / (1024.0 * 1024.0),
                    w.events as f64 / secs
                );
            }
        }
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dialect = match args.first().map(String::as_str) {
        Some("compat") => Dialect::Compat,
        Some("native") => Dialect::Native,
        Some("responses") => Dialect::Responses,
        Some("compare") => {
            return compare(
                args.get(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(30)
                    .max(1),
            );
        }
        _ => {
            eprintln!(
                "usage: profile <compat|native|responses> <parse|acc|floor|sse|async-openai> [piece] [iterations] | profile compare [rounds]"
            );
            return ExitCode::FAILURE;
        }
    };
    let what = args.get(1).map_or("parse", String::as_str);
    let piece: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(4096);
    let iterations: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(100);
    let w = StreamWorkload::standard(dialect);
    let base = what.strip_suffix("-no-nulls");
    let stripped = base.map(|_| without_nulls(dialect, &w.bytes));
    let payloads =
        (what.starts_with("events-") || what.starts_with("json-")).then(|| payloads_of(&w.bytes));
    let start = Instant::now();
    for _ in 0..iterations {
        let outcome = match (&stripped, &payloads) {
            (Some(bytes), _) => run_once(dialect, base.unwrap_or("parse"), bytes, piece),
            (_, Some(p)) if what.starts_with("json-") => Some(compat_json(p, what == "json-ours")),
            (_, Some(p)) => Some(responses_events(p, what == "events-direct")),
            _ => run_once(dialect, what, &w.bytes, piece),
        };
        match outcome {
            Some(Ok(n)) => {
                black_box(n);
            }
            Some(Err(e)) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
            None => {
                eprintln!("unknown pipeline {what} for {}", dialect.name());
                return ExitCode::FAILURE;
            }
        }
    }
    let per = start.elapsed() / u32::try_from(iterations.max(1)).unwrap_or(u32::MAX);
    eprintln!(
        "{} {what} piece={piece}: {:?} per pass, {} bytes, {} events",
        dialect.name(),
        per,
        w.bytes.len(),
        w.events
    );
    ExitCode::SUCCESS
}
