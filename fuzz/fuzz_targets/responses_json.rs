//! Fuzz target `responses_json`: see `dashscope_fuzz::bodies::responses_json` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| dashscope_fuzz::bodies::responses_json(data));
