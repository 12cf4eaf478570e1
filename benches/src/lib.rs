//! Workloads and pipelines for the criterion benches in `benches/`.
//!
//! Everything here is deterministic (fixed seeds, no clock), so every run measures the same
//! bytes:
//!
//! * [`script::Conversation`]: one assistant turn (thinking, a Chinese and English answer,
//!   parallel tool calls with argument fragments), independent of the dialect.
//! * [`streams`]: that turn as each dialect's stream body, built from the protocol crate's own
//!   types and framed with its [`sse::Encoder`](dashscope_protocol::sse::Encoder).
//! * [`payloads`]: request specs (small, a 100-message conversation, multimodal) built into each
//!   dialect's request type, and non-stream response bodies per dialect.
//! * [`pipeline`]: our stream pipelines (SSE decoding, typed decoding, accumulation) and the
//!   floor they are compared with.
//! * [`serve`]: the servers the end-to-end and throughput benches talk to (a bare axum server,
//!   the mock, wiremock-rs) and what they answer.

#![deny(missing_docs)]

pub mod payloads;
pub mod pipeline;
pub mod script;
pub mod serve;
pub mod streams;
pub mod text;

/// The piece sizes the stream is fed in: a typical socket read and a pathological small one.
pub const PIECES: [(usize, &str); 2] = [(4 * 1024, "4KiB"), (64, "64B")];

/// The protocol crate's README example, compiled and run as a doctest (kept here because the
/// protocol crate's code is another change's to make; it could move to that crate's `lib.rs`).
#[cfg(doctest)]
#[doc = include_str!("../../crates/dashscope-protocol/README.md")]
pub struct ProtocolReadme;
