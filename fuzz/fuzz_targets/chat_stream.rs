//! Fuzz target `chat_stream`: see `dashscope_fuzz::bodies::chat_stream` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dashscope_fuzz::bodies::chat_stream(data));
