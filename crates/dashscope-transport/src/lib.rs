//! HTTP transports for the DashScope SDK.
//!
//! The async `Transport` trait with its reqwest backend and the blocking backend arrive with the
//! transport work; this crate is a workspace member from the start so the layout is stable.

#![deny(missing_docs)]
