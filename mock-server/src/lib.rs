//! `dashscope-mock`: a standalone mock DashScope server.
//!
//! The recorded fixtures it replays live in `fixtures/` beside this crate, in the format of
//! [`dashscope_protocol::cassette`].

#![deny(missing_docs)]
