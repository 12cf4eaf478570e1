//! `dashscope-mock`: a standalone mock of Alibaba Cloud Model Studio (DashScope) text
//! generation that replays recorded fixtures byte for byte, injects faults, and keeps a journal.
//!
//! The recorded fixtures it replays live in `fixtures/` beside this crate, in the format of
//! [`dashscope_protocol::cassette`]; they are embedded at build time, so the server works with
//! no files at all.
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
//! In-process, without a socket: `router(state).oneshot(request)` (tower's `ServiceExt`), with
//! a state from [`MockServerBuilder::build_state`].
//!
//! # What it serves
//!
//! | path | |
//! |---|---|
//! | `POST /compatible-mode/v1/chat/completions` | Chat Completions |
//! | `POST /compatible-mode/v1/responses`, `POST /api/v2/apps/protocols/compatible-mode/v1/responses` | Responses |
//! | `GET`/`DELETE …/responses/{id}`, `GET …/responses/{id}/input_items` | responses the mock served |
//! | `POST /api/v1/services/aigc/text-generation/generation`, `…/multimodal-generation/generation` | native |
//! | `/__mock/…` | the [`admin`] API |
//! | anything else | 404 in the path's dialect error shape |
//!
//! A generation request goes through the pipeline in [`handler`]: [`faults`], auth, envelope
//! checks, [`matching`] against the cassettes, then a [`Responder`] for what no cassette
//! matched: by default [`Synthetic`], which [validates](validate) the request like the service
//! and answers deterministically in the request's dialect (see [`synth`]). In strict mode, or
//! with [`NoSynthesis`], an unmatched request gets a 404 that lists the nearest cassettes (see
//! [`errors`]).

#![deny(missing_docs)]

pub mod admin;
pub mod budget;
pub mod conn;
pub mod endpoint;
pub mod errors;
pub mod faults;
pub mod fixtures;
pub mod handler;
pub mod ids;
pub mod journal;
pub mod matching;
pub mod models;
pub mod record;
pub mod replay;
pub mod responder;
pub mod schema;
pub mod secrets;
pub mod server;
pub mod state;
pub mod store;
pub mod synth;
pub mod validate;

pub use endpoint::Endpoint;
pub use errors::ErrorReply;
pub use faults::{FaultParseError, FaultSpec};
pub use journal::JournalEntry;
pub use models::ModelPolicy;
pub use responder::{MockRequest, NoSynthesis, Responder, responder_fn};
pub use server::{BuildError, Limits, MockServer, MockServerBuilder, router, serve, serve_with};
pub use state::{MockConfig, MockState};
pub use synth::Synthetic;
