//! Soak: many long streams from the mock server through the clients, with the process's
//! resident memory (`VmRSS` in `/proc/self/status`) and open file descriptors (`/proc/self/fd`)
//! sampled at the start, after a warm-up, half-way and at the end.
//!
//! The streams are the recorded chat, Responses and native streams with their text events
//! repeated to [`EVENTS_PER_STREAM`] events, served by an in-process mock server, read through
//! one async and one blocking client (each reused, as an application would), all three dialects
//! in turn. Every stream must complete with the expected number of chunks and the expected
//! answer; after the warm-up, memory may grow by at most [`RSS_GROWTH_BOUND_KIB`] and the open
//! descriptors by at most [`FD_GROWTH_BOUND`].
//!
//! * [`soak_200k`] (runs by default): 200,000 events, about 8 s in a debug build:
//!   `cargo test -p dashscope-provider --all-features --test soak -- --nocapture`.
//! * [`soak_2m`] (ignored: about 80 s in a debug build): 2,000,000 events, same bounds:
//!   `cargo test -p dashscope-provider --all-features --test soak -- --ignored --nocapture`.
//!
//! With 180 streams after the warm-up of the 200k run, the memory bound catches a leak of about
//! 35 bytes per event or 35 KiB per stream; the descriptor bound, one descriptor per 45 streams.

#![cfg(all(feature = "reqwest", feature = "blocking"))]

mod support;

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use dashscope_mock::MockServer;
use dashscope_protocol::cassette::{Body, Cassette, Chunk};
use dashscope_protocol::chat::{ChatRequest, Message};
use dashscope_protocol::native::{self, GenerationRequest};
use dashscope_protocol::responses::{self, ResponseRequest, ResponseStreamEvent};
use dashscope_provider::{Config, RetryPolicy};
use serde_json::json;
use support::{KEY, cassette, fixture};

/// Events (chunks) per stream.
const EVENTS_PER_STREAM: usize = 1_000;
/// The default run.
const DEFAULT_EVENTS: u64 = 200_000;
/// The long run.
const LONG_EVENTS: u64 = 2_000_000;
/// The sample labels: one every tenth of the run. The first tenth is the warm-up (allocator
/// arenas, connection pools, lazy statics); growth is measured from its end.
const TENTHS: [&str; 10] = [
    "10% (warm-up done)",
    "20%",
    "30%",
    "40%",
    "50% (middle)",
    "60%",
    "70%",
    "80%",
    "90%",
    "100% (end)",
];
/// The most resident memory may grow between the end of the warm-up and the end.
const RSS_GROWTH_BOUND_KIB: u64 = 6 * 1024;
/// The most the open file descriptors may grow between the end of the warm-up and the end (a
/// stream's connection may be being replaced when a sample is taken).
const FD_GROWTH_BOUND: usize = 4;
/// The longest the default run may take.
const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);
/// The longest the long run may take.
const LONG_DEADLINE: Duration = Duration::from_secs(240);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dia {
    Chat,
    Responses,
    Native,
}

/// A long stream made from a recorded one: its opening events, its text events repeated, its
/// closing events.
struct LongStream {
    cassette: Cassette,
    /// Chunks the client yields for it.
    chunks: usize,
    /// The answer the deltas spell (chat, native); Responses takes its final text from the
    /// recorded `output_text.done`.
    text: Option<String>,
}

fn chunks_of(name: &str) -> (dashscope_protocol::cassette::RecordedResponse, Vec<String>) {
    let recorded = fixture(name).response;
    let Body::Chunks(chunks) = &recorded.body else {
        panic!("{name} is not a stream")
    };
    let data = chunks.iter().map(|c| c.data.clone()).collect();
    (recorded, data)
}

fn with_chunks(
    mut recorded: dashscope_protocol::cassette::RecordedResponse,
    events: Vec<String>,
) -> dashscope_protocol::cassette::RecordedResponse {
    recorded.body = Body::Chunks(
        events
            .into_iter()
            .map(|data| Chunk { delay_ms: 0, data })
            .collect(),
    );
    recorded
}

/// The text of a chat delta event, a native event or a Responses delta event.
fn event_text(event: &str, field: &str) -> String {
    let json = event
        .lines()
        .find_map(|l| l.strip_prefix("data:"))
        .map(str::trim)
        .unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    let found = match field {
        "chat" => v["choices"][0]["delta"]["content"].as_str(),
        "native" => v["output"]["text"].as_str(),
        _ => v["delta"].as_str(),
    };
    found.unwrap_or_default().to_owned()
}

fn long_stream(dia: Dia, events: usize) -> LongStream {
    match dia {
        Dia::Chat => {
            // role, 6 text deltas, finish, usage, [DONE]
            let (recorded, ev) = chunks_of("chat/stream-include-usage");
            assert_eq!(ev.len(), 10);
            let deltas = &ev[1..7];
            let mut out = vec![ev[0].clone()];
            out.extend(deltas.iter().cycle().take(events - 4).cloned());
            out.extend(ev[7..].iter().cloned());
            let text = out.iter().map(|e| event_text(e, "chat")).collect();
            LongStream {
                cassette: cassette(
                    "chat/soak",
                    "chat",
                    "/compatible-mode/v1/chat/completions",
                    json!({"model": "qwen-soak-chat", "stream": true}),
                    false,
                    with_chunks(recorded, out),
                ),
                chunks: events - 1,
                text: Some(text),
            }
        }
        Dia::Native => {
            // 4 text events, then the finishing one; ids renumbered
            let (recorded, ev) = chunks_of("native/text-sse");
            assert_eq!(ev.len(), 5);
            let renumber = |e: &str, id: usize| {
                let rest = e.split_once('\n').map_or("", |(_, r)| r);
                format!("id:{id}\n{rest}")
            };
            let mut out: Vec<String> = ev[..4]
                .iter()
                .cycle()
                .take(events - 1)
                .enumerate()
                .map(|(i, e)| renumber(e, i + 1))
                .collect();
            out.push(renumber(&ev[4], events));
            let text = out.iter().map(|e| event_text(e, "native")).collect();
            LongStream {
                cassette: cassette(
                    "native/soak",
                    "native",
                    native::TEXT_GENERATION_PATH,
                    json!({"model": "qwen-soak-native"}),
                    true,
                    with_chunks(recorded, out),
                ),
                chunks: events,
                text: Some(text),
            }
        }
        Dia::Responses => {
            // created, in_progress, item added, part added, 2 deltas, text done, part done,
            // item done, completed
            let (recorded, ev) = chunks_of("responses/intro-stream");
            assert_eq!(ev.len(), 10);
            let mut out: Vec<String> = ev[..4].to_vec();
            out.extend(ev[4..6].iter().cycle().take(events - 8).cloned());
            out.extend(ev[6..].iter().cloned());
            LongStream {
                cassette: cassette(
                    "responses/soak",
                    "responses",
                    responses::PATH,
                    json!({"model": "qwen-soak-responses", "stream": true}),
                    false,
                    with_chunks(recorded, out),
                ),
                chunks: events,
                text: None,
            }
        }
    }
}

/// One sample of the process.
#[derive(Clone, Debug)]
struct Sample {
    label: &'static str,
    events: u64,
    at: Duration,
    rss_kib: u64,
    fds: usize,
}

impl fmt::Display for Sample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "| {} | {} | {:.1} | {} | {} |",
            self.label,
            self.events,
            self.at.as_secs_f64(),
            self.rss_kib,
            self.fds
        )
    }
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line")
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

fn sample(label: &'static str, events: u64, started: Instant) -> Sample {
    Sample {
        label,
        events,
        at: started.elapsed(),
        rss_kib: rss_kib(),
        fds: open_fds(),
    }
}

/// The soak's figures.
struct Report {
    samples: Vec<Sample>,
    streams: u64,
    events: u64,
    elapsed: Duration,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "| sample | events | seconds | VmRSS (KiB) | open fds |")?;
        writeln!(f, "|---|---|---|---|---|")?;
        for s in &self.samples {
            writeln!(f, "{s}")?;
        }
        write!(
            f,
            "\n{} streams, {} events in {:.1} s ({:.0} events/s)",
            self.streams,
            self.events,
            self.elapsed.as_secs_f64(),
            self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
        )
    }
}

fn config(server: &MockServer) -> Config {
    Config::builder()
        .api_key(KEY)
        .base_url(server.uri())
        .idle_timeout(Duration::from_secs(10))
        .retry(RetryPolicy::none())
        .build()
        .expect("a configuration")
}

/// One soak at a time: they measure the whole process.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Streams `total` events and samples the process; panics on a wrong stream or on growth past
/// the bounds.
fn soak(total: u64) -> Report {
    let started = Instant::now();
    let mut samples = vec![sample("start", 0, started)];
    let server = MockServer::builder()
        .journal_capacity(16)
        .shutdown_grace(Duration::from_millis(100))
        .start()
        .expect("the mock server starts");
    let streams = [Dia::Chat, Dia::Responses, Dia::Native].map(|d| {
        let s = long_stream(d, EVENTS_PER_STREAM);
        server.add_cassette(s.cassette.clone());
        (d, s)
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let async_client = dashscope_provider::Client::new(config(&server)).expect("a client");
    let blocking_client =
        dashscope_provider::blocking::Client::new(config(&server)).expect("a client");
    let chat = ChatRequest::new("qwen-soak-chat", vec![Message::user("soak")]);
    // `store: false`: the mock keeps no stored response for it (the mock shares the process).
    let mut responses = ResponseRequest::new("qwen-soak-responses", "soak");
    responses.store = Some(false);
    let native = GenerationRequest::new("qwen-soak-native", vec![native::Message::user("soak")]);

    let (mut events, mut count, mut next_tenth) = (0u64, 0u64, 1u64);
    let mut responses_text: Option<String> = None;
    while events < total {
        let (dia, expected) = &streams[(count % 3) as usize];
        let blocking = (count / 3) % 2 == 1;
        let (chunks, text) = match (dia, blocking) {
            (Dia::Chat, false) => rt.block_on(async {
                let mut s = async_client
                    .chat()
                    .create_stream(chat.clone())
                    .await
                    .unwrap();
                let mut n = 0;
                while let Some(c) = s.next_chunk().await {
                    c.unwrap();
                    n += 1;
                }
                (n, s.snapshot().text().unwrap_or_default().to_owned())
            }),
            (Dia::Chat, true) => {
                let mut s = blocking_client.chat().create_stream(chat.clone()).unwrap();
                let n = s.by_ref().map(Result::unwrap).count();
                (n, s.snapshot().text().unwrap_or_default().to_owned())
            }
            (Dia::Responses, false) => rt.block_on(async {
                let mut s = async_client
                    .responses()
                    .create_stream(responses.clone())
                    .await
                    .unwrap();
                let mut n = 0;
                while let Some(ev) = s.next_chunk().await {
                    assert!(!matches!(ev.unwrap(), ResponseStreamEvent::Unknown(_)));
                    n += 1;
                }
                (n, s.snapshot().output_text())
            }),
            (Dia::Responses, true) => {
                let mut s = blocking_client
                    .responses()
                    .create_stream(responses.clone())
                    .unwrap();
                let n = s.by_ref().map(Result::unwrap).count();
                (n, s.snapshot().output_text())
            }
            (Dia::Native, false) => rt.block_on(async {
                let mut s = async_client
                    .native()
                    .generate_stream(native.clone())
                    .await
                    .unwrap();
                let mut n = 0;
                while let Some(c) = s.next_chunk().await {
                    c.unwrap();
                    n += 1;
                }
                // Everything was pulled: `accumulate` folds nothing more and returns the answer.
                let out = s.accumulate().await.unwrap();
                (n, out.text().map(|t| t.into_owned()).unwrap_or_default())
            }),
            (Dia::Native, true) => {
                let mut s = blocking_client
                    .native()
                    .generate_stream(native.clone())
                    .unwrap();
                let n = s.by_ref().map(Result::unwrap).count();
                let text = s.snapshot().text().map(|t| t.into_owned());
                (n, text.unwrap_or_default())
            }
        };
        assert_eq!(
            chunks, expected.chunks,
            "{dia:?} stream #{count}: chunk count"
        );
        match &expected.text {
            Some(t) => assert_eq!(&text, t, "{dia:?} stream #{count}: answer"),
            None => {
                assert!(!text.is_empty());
                let first = responses_text.get_or_insert_with(|| text.clone());
                assert_eq!(&text, first, "{dia:?} stream #{count}: answer");
            }
        }
        events += chunks as u64;
        count += 1;
        // A sample every tenth of the run; the first closes the warm-up.
        while next_tenth <= 10 && events >= total * next_tenth / 10 {
            samples.push(sample(TENTHS[next_tenth as usize - 1], events, started));
            next_tenth += 1;
        }
    }
    let elapsed = started.elapsed();
    drop((async_client, blocking_client));
    rt.shutdown_timeout(Duration::from_secs(1));
    assert!(
        server.journal().len() <= 16,
        "the journal is bounded by its capacity"
    );
    drop(server);
    let report = Report {
        samples,
        streams: count,
        events,
        elapsed,
    };
    println!("{report}");

    assert_eq!(report.samples.len(), 11, "start and every tenth");
    let warm = &report.samples[1];
    let end = &report.samples[10];
    let grown = end.rss_kib.saturating_sub(warm.rss_kib);
    assert!(
        grown <= RSS_GROWTH_BOUND_KIB,
        "VmRSS grew by {grown} KiB after the warm-up (bound {RSS_GROWTH_BOUND_KIB} KiB):\n{report}"
    );
    assert!(
        end.fds <= warm.fds + FD_GROWTH_BOUND,
        "open descriptors grew from {} to {} after the warm-up:\n{report}",
        warm.fds,
        end.fds
    );
    report
}

/// Runs the soak on its own thread (one soak at a time); a hang fails the test after
/// `deadline`.
fn soak_within(total: u64, deadline: Duration) -> Report {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let _ = tx.send(soak(total));
    });
    match rx.recv_timeout(deadline) {
        Ok(report) => {
            let _ = handle.join();
            report
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("the soak did not finish within {deadline:?}")
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => panic!("the soak thread ended without a report"),
        },
    }
}

#[test]
fn soak_200k() {
    let report = soak_within(DEFAULT_EVENTS, DEFAULT_DEADLINE);
    assert!(report.events >= DEFAULT_EVENTS);
    assert!(
        report.elapsed < DEFAULT_DEADLINE,
        "took {:?}, over {DEFAULT_DEADLINE:?}",
        report.elapsed
    );
}

#[test]
#[ignore = "about 80 s in a debug build; run with --ignored"]
fn soak_2m() {
    let report = soak_within(LONG_EVENTS, LONG_DEADLINE);
    assert!(report.events >= LONG_EVENTS);
    assert!(
        report.elapsed < LONG_DEADLINE,
        "took {:?}, over {LONG_DEADLINE:?}",
        report.elapsed
    );
}
