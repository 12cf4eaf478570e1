//! One conversation, any dialect: a unified chat model with lossless conversions to and from
//! the Chat Completions, Responses and native dialects.
