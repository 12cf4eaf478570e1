//! Wire types, the sans-IO SSE codec, per-dialect stream decoding and pure accumulators for
//! Alibaba Cloud Model Studio (DashScope / Bailian) text generation.
//!
//! Three dialects share one host:
//!
//! | module | dialect | path |
//! |---|---|---|
//! | [`chat`] | OpenAI-compatible Chat Completions | `/compatible-mode/v1/chat/completions` |
//! | [`responses`] | OpenAI-compatible Responses | `/compatible-mode/v1/responses` |
//! | [`native`] | DashScope native generation | `/api/v1/services/aigc/{text,multimodal}-generation/generation` |
//!
//! [`dialect`] names the dialects and their endpoints. A wire type the dialects share (tools,
//! tool calls, tool choice, `stop`, response formats, search options, token breakdowns, log
//! probabilities, roles, finish reasons, reasoning effort) is declared once and re-exported by
//! each dialect module that uses it, so `chat::Tool` and `native::Tool` are the same type.
//!
//! This crate does no I/O. Bytes go in through [`sse::Decoder`]; each dialect's stream decoder
//! ([`stream::StreamDecode`]) turns SSE events into typed chunks; each dialect's accumulator
//! ([`stream::Accumulate`]) folds the chunks into the final response and exposes its partial
//! state at any point.
//!
//! Every type keeps what it does not know: unknown members ride in an `extra` map and are
//! written back, unknown enum values and event types become an `Unknown` variant. See [`wire`].
//!
//! The wire facts this crate is built on, each with its source and a confidence tag, ship with
//! it as [`protocol_notes`].

#![deny(missing_docs)]

pub mod wire;

pub mod cassette;
pub mod chat;
mod common;
pub mod dialect;
pub mod error;
mod fast;
pub mod native;

/// The protocol notes: the HTTP wire protocol of the three dialects, every fact with its source
/// and a confidence tag (`[C]` confirmed, `[S]` one source, `[U]` uncertain). Shipped with the
/// crate; its sections are linked from the types they describe.
pub mod protocol_notes {
    #![allow(rustdoc::broken_intra_doc_links)]
    #![doc = include_str!("../PROTOCOL.md")]
}

pub mod responses;
pub mod sse;
pub mod stream;
pub mod unified;
