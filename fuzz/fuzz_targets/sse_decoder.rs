//! Fuzz target `sse_decoder`: see `dashscope_fuzz::bodies::sse_decoder` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dashscope_fuzz::bodies::sse_decoder(data));
