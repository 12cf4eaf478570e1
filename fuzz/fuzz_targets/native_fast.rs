//! Fuzz target `native_fast`: the native event fast path against the serde path it shortcuts.
//!
//! The input bytes (made UTF-8 with `from_utf8_lossy`, as a `data:` payload always is) go to
//! `native::__decode_fast` and to `serde_json::from_str::<GenerationResponse>`. Whenever the fast path
//! returns an event it must equal serde's (members, `extra`, explicit `null`s), and whenever serde
//! fails the fast path must give up. Neither may panic.
#![no_main]

use dashscope_protocol::native::{__decode_fast, GenerationResponse};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let fast = __decode_fast(&text);
    match serde_json::from_str::<GenerationResponse>(&text) {
        Ok(want) => {
            if let Some(got) = fast {
                assert_eq!(got, want, "the fast path differs from serde on {text:?}");
            }
        }
        Err(e) => assert!(
            fast.is_none(),
            "serde rejects {text:?} ({e}) but the fast path accepted it: {fast:?}"
        ),
    }
});
