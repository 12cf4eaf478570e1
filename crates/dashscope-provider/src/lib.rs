//! A typed client for Alibaba Cloud Model Studio (DashScope / Qwen) text generation.
//!
//! The wire types are re-exported from [`dashscope_protocol`] as [`protocol`].

#![deny(missing_docs)]

pub use dashscope_protocol as protocol;

pub mod config;
pub mod retry;

pub use config::{ApiKey, Config, ConfigBuilder, ConfigError, Region, Timeouts};
pub use retry::RetryPolicy;
