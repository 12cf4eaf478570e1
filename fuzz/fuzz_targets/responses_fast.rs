//! Fuzz target `responses_fast`: the Responses event fast path against the serde path it
//! shortcuts.
//!
//! Byte 0 picks the SSE `event:` name handed to the fast path as a hint (none, one of the hot
//! event types, or another name); the rest (made UTF-8 with `from_utf8_lossy`, as a `data:`
//! payload always is) goes to `responses::__decode_fast` and to
//! `serde_json::from_str::<ResponseStreamEvent>`. Whenever the fast path returns an event it must
//! equal serde's (members, `extra`, explicit `null`s), and whenever serde fails the fast path must
//! give up. Neither may panic. The hint may only make the fast path give up, never change what
//! it returns.
#![no_main]

use dashscope_protocol::responses::{__decode_fast, ResponseStreamEvent};

/// The hints byte 0 picks from.
const HINTS: [Option<&str>; 11] = [
    None,
    Some("response.output_text.delta"),
    Some("response.output_text.done"),
    Some("response.reasoning_text.delta"),
    Some("response.reasoning_text.done"),
    Some("response.reasoning_summary_text.delta"),
    Some("response.reasoning_summary_text.done"),
    Some("response.function_call_arguments.delta"),
    Some("response.function_call_arguments.done"),
    Some("response.completed"),
    Some("message"),
];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let hint = HINTS[usize::from(sel) % HINTS.len()];
    let text = String::from_utf8_lossy(rest);
    let fast = __decode_fast(&text, hint);
    match serde_json::from_str::<ResponseStreamEvent>(&text) {
        Ok(want) => {
            if let Some(got) = fast {
                assert_eq!(
                    got, want,
                    "the fast path differs from serde on {text:?} ({hint:?})"
                );
            }
        }
        Err(e) => assert!(
            fast.is_none(),
            "serde rejects {text:?} ({e}) but the fast path accepted it ({hint:?}): {fast:?}"
        ),
    }
});
