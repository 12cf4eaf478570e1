//! `dashscope-mock`: a standalone mock of Alibaba Cloud Model Studio (DashScope) text
//! generation that replays recorded cassettes byte for byte, answers the rest synthetically,
//! injects faults, and keeps a journal.
//!
//! The cassettes it replays live in `fixtures/` beside this crate, in the format of
//! [`dashscope_protocol::cassette`]; they are embedded at build time (and parsed once per
//! process), so the server works with no files at all.
//!
//! # In tests
//!
//! ```no_run
//! use dashscope_mock::MockServer;
//!
//! // Its own thread and runtime: works from `#[test]` and `#[tokio::test]` alike.
//! let server = MockServer::builder().strict(true).seed(7).start().expect("mock server");
//! let chat_url = format!("{}/compatible-mode/v1/chat/completions", server.uri());
//! // Fail the first two requests with 503, then answer normally:
//! server.add_fault("status=503;times=2").expect("valid spec");
//! // … send requests to chat_url …
//! for entry in server.journal() {
//!     println!("{} {} -> {}", entry.method, entry.path, entry.status);
//! }
//! // Dropping the server stops it.
//! ```
//!
//! Every answer names where it came from in the `x-mock-source` header and the journal's
//! `source` (`cassette NAME`, `mock NAME`, `synthetic`, …, then `; fault SPEC` per fault).
//! [`Mock`]s mounted on a server answer, count and verify the requests their [`Match`]
//! conditions accept, with scenario state for multi-turn tests. The default features `cli` (the
//! binary) and `record` (record mode) can be left out: the in-process server stays.
//!
//! In-process, without a socket: `router(state).oneshot(request)` (tower's `ServiceExt`), with
//! a state from [`MockServerBuilder::build_state`]. [`serve`] serves the same router on a
//! listener (the binary and [`MockServer`] use it): one route table, one handler per route.
//!
//! # What it serves
//!
//! | path | |
//! |---|---|
//! | `POST /compatible-mode/v1/chat/completions` | Chat Completions |
//! | `POST /compatible-mode/v1/responses`, `POST /api/v2/apps/protocols/compatible-mode/v1/responses` | Responses |
//! | `GET`/`DELETE …/responses/{id}`, `GET …/responses/{id}/input_items` | responses the mock served |
//! | `GET /compatible-mode/v1/models` | the cassettes' and the main models, OpenAI list shape (the service's is unconfirmed) |
//! | `POST /api/v1/services/aigc/text-generation/generation`, `…/multimodal-generation/generation` | native |
//! | `/__mock/…` | the admin API (below) |
//! | anything else | 404 in the path's dialect error shape |
//!
//! A generation request is read once (its body parsed as JSON, and, when a step needs it, as
//! its dialect's typed request and a unified conversation), then goes through faults, record
//! mode, auth, envelope checks (413, 408, 400 for a body that is not JSON or not
//! `application/json`), the **cassettes**, `X-DashScope-Async` (403) and `model` (400)
//! checks, the [`Responder`] for what no cassette matched (by default [`Synthetic`], which
//! validates the request like the service and answers deterministically in its dialect; not in
//! strict mode), and last a 404 that lists the nearest cassettes and why each failed.
//!
//! # Cassettes
//!
//! A wire cassette answers a request on its method and path (a Responses path also answers
//! the other, as a fallback), a partial JSON body (`match.body`, else the recorded body: every
//! member given must be there with an equal value), headers (`match.headers`, else a recorded
//! `x-dashscope-sse: enable`) and stream-ness. Extra members of `match` are conditions on the
//! request's conversation, as a unified cassette's `match`: `last_user_message`,
//! `last_user_message_contains`, `tools_present`, `model`, `last_role`, `dialects`, and
//! `stream` (which replaces the derived stream condition). A request that sets a shape knob
//! (`enable_thinking`, `tools`, `response_format`, `n`, `incremental_output`, `result_format`,
//! `modalities`) the body condition does not name, to other than the recorded request's value
//! (any tools, if it had tools) or, when the recording left it out, its default, is not
//! answered, unless `match.any` lists the knob (or `"*"`). A unified cassette answers its
//! conversation in any dialect, stream or not. Among the matches: the exact path, then the
//! highest `priority`, the most specific, a success over an error, a later layer (run time over
//! `--fixtures` directories over the embedded ones), the first loaded. A `once` cassette steps
//! aside after answering. The `x-mock-cassette: NAME` header picks one by name.
//!
//! # Faults
//!
//! Per request with the `x-mock-fault` header, globally with [`MockState::add_fault`], the
//! builder's `fault`, `--fault` or `POST /__mock/faults`: `spec *( "," spec )`, each spec
//! `item *( ";" item )`, each item `key [ "=" value ]`.
//!
//! | item | effect |
//! |---|---|
//! | `latency=MS` | wait before the response starts |
//! | `ttfb=MS` | wait between the headers and the first body byte |
//! | `chunk-delay=MS` | wait before every chunk after the first |
//! | `speed=F` | replay recorded chunk delays at F times the speed |
//! | `status=CODE` | answer CODE (4xx/5xx) in the dialect's error shape |
//! | `code=TEXT`, `message=TEXT` | override the error's code and message |
//! | `retry-after=VALUE` | add `Retry-After: VALUE` to the error |
//! | `envelope=200\|status` | native stream errors: HTTP 200 + `event:error`, or the error's status |
//! | `rate-limit=R` | a token bucket of R requests per second (`burst=B`, default R) per spec; over it: 429 |
//! | `reset` | reset the TCP connection instead of answering |
//! | `cut-after=N` | close after N chunks of a stream, or N bytes of a body |
//! | `stall-after=N` | stop after N chunks (`stall-ms=MS` resumes after MS; default: until the client leaves or the server stops) |
//! | `partial` | answer 200 with `x-dashscope-partialresponse: true` |
//! | `no-blank-lines` | drop the blank line after each event |
//! | `invalid-utf8[=N]`, `malformed-json[=N]` | corrupt the UTF-8 / truncate the JSON of event N (default 1) |
//! | `oversized-chunk=BYTES` | pad the JSON of the first event with a member BYTES long |
//! | `times=N` | the spec applies to the first N requests it sees, then steps aside |
//! | `dialect=chat\|responses\|native` | the spec applies to that dialect only |
//!
//! Every value is checked (a bad one is a 400 `MockInvalidFault` naming the item): delays at
//! most an hour, `speed` and `rate-limit` from 0.001 to 1,000,000, sizes and counts at most 64
//! MiB, a spec at most 16 KiB, at most 256 global faults.
//!
//! # The admin API
//!
//! | request | answer |
//! |---|---|
//! | `GET /__mock/health` | `{"status":"ok","cassettes":N,"recording":bool,"strict":bool,"seed":N}` |
//! | `GET /__mock/journal` | the journal (keys redacted) |
//! | `DELETE /__mock/journal` | clears the journal |
//! | `POST /__mock/reset` | back to the start-up configuration ([`MockState::reset`]) |
//! | `GET /__mock/cassettes` | `[{"name","layer","priority","once","served","path"}]` |
//! | `POST /__mock/cassettes` | adds a cassette (or an array of them); `201 {"added":[names]}` |
//! | `GET /__mock/faults`, `POST /__mock/faults`, `DELETE /__mock/faults[/{id}]` | lists, adds (`{"spec":"…"}`), removes global faults |
//!
//! It refuses DNS-rebinding and cross-origin requests, changes without `Content-Type:
//! application/json` (415), and, when API keys are configured, requests without one (401;
//! `--admin-key` sets its own; `health` needs none).
//!
//! # Bounds and secrets
//!
//! Every bound is a field of [`Limits`]. The journal never holds a key: every key a request
//! carries (secret headers and query parameters, the configured keys), in every encoding
//! (JSON escapes, percent-encoding, base64 at any alignment), and any `sk-…` string are
//! redacted on the way in; record mode scrubs cassettes the same way and refuses to write one
//! that still holds a key. Both redact through [`dashscope_transport::secrets`], the module the
//! SDK's client scrubs responses with.

#![deny(missing_docs)]

mod admin;
mod budget;
mod conn;
mod errors;
mod expect;
mod faults;
mod handler;
mod journal;
mod matching;
#[cfg(feature = "record")]
mod record;
mod replay;
mod secrets;
mod server;
mod state;
mod store;
mod synth;

pub use dashscope_protocol::cassette::{Cassette, RecordedResponse, UnifiedCassette};
pub use expect::{Match, Mock, Times, VerifyError};
pub use faults::FaultParseError;
pub use journal::JournalEntry;
pub use server::{BuildError, Limits, MockServer, MockServerBuilder, router, serve};
pub use state::MockState;
pub use synth::{MockRequest, NoSynthesis, Responder, Synthetic};
