//! A hand-written decoder for the common shape of a compat stream chunk.
//!
//! [`decode_fast`] reads a `data:` payload straight into a [`ChatChunk`], without serde's
//! per-member machinery (keys parsed as strings for a visitor, one `Deserialize` call per
//! member, `Option` layers, structs moved through layers). It is a shortcut, not a second
//! definition of the format: whenever it returns `Some(chunk)`, `chunk` equals what
//! `serde_json::from_str::<ChatChunk>` gives for the same payload (the same members, the same
//! `extra`, the same `nulls`), and whenever serde fails it returns `None`. Anything it does not
//! handle exactly also gives `None`, and the caller then runs the serde path on the same data:
//!
//! * a `usage` or `logprobs` object (the usage chunk is one in thousands);
//! * a number that is not a plain non-negative integer in range for its member;
//! * a key with an escape;
//! * an unknown member nested more than [`MAX_UNKNOWN_DEPTH`] deep.
//!
//! Unknown members are decoded by serde_json itself (a `Value` read from where the member
//! starts), so `extra` holds exactly what the serde path puts there; so is a string with a
//! `\u` escape for a surrogate (an emoji pair, or a lone one serde rejects). Other escapes are
//! decoded here. Whitespace between tokens
//! is the four bytes serde_json accepts; duplicate members follow `wire_struct!`: the last one
//! wins, a value clears the member's `null` bit and a `null` sets its default and the bit.

use crate::fast::{Parser, decode_object, keys_are, set_null};
use crate::wire::name_index;

use super::request::{Role, ToolType};
use super::response::{
    ChatChunk, ChunkChoice, Delta, FinishReason, FunctionCallDelta, ToolCallDelta,
};

// The `nulls` bit of every member, from the types' own member lists (a renamed or removed
// member fails to compile here).
const CHUNK_ID: usize = name_index(ChatChunk::WIRE_MEMBERS, "id");
const CHUNK_OBJECT: usize = name_index(ChatChunk::WIRE_MEMBERS, "object");
const CHUNK_CREATED: usize = name_index(ChatChunk::WIRE_MEMBERS, "created");
const CHUNK_MODEL: usize = name_index(ChatChunk::WIRE_MEMBERS, "model");
const CHUNK_FINGERPRINT: usize = name_index(ChatChunk::WIRE_MEMBERS, "system_fingerprint");
const CHUNK_CHOICES: usize = name_index(ChatChunk::WIRE_MEMBERS, "choices");
const CHUNK_USAGE: usize = name_index(ChatChunk::WIRE_MEMBERS, "usage");
const CHOICE_INDEX: usize = name_index(ChunkChoice::WIRE_MEMBERS, "index");
const CHOICE_DELTA: usize = name_index(ChunkChoice::WIRE_MEMBERS, "delta");
const CHOICE_FINISH: usize = name_index(ChunkChoice::WIRE_MEMBERS, "finish_reason");
const CHOICE_LOGPROBS: usize = name_index(ChunkChoice::WIRE_MEMBERS, "logprobs");
const DELTA_ROLE: usize = name_index(Delta::WIRE_MEMBERS, "role");
const DELTA_CONTENT: usize = name_index(Delta::WIRE_MEMBERS, "content");
const DELTA_REASONING: usize = name_index(Delta::WIRE_MEMBERS, "reasoning_content");
const DELTA_TOOL_CALLS: usize = name_index(Delta::WIRE_MEMBERS, "tool_calls");
const CALL_INDEX: usize = name_index(ToolCallDelta::WIRE_MEMBERS, "index");
const CALL_ID: usize = name_index(ToolCallDelta::WIRE_MEMBERS, "id");
const CALL_TYPE: usize = name_index(ToolCallDelta::WIRE_MEMBERS, "type");
const CALL_FUNCTION: usize = name_index(ToolCallDelta::WIRE_MEMBERS, "function");
const FUNCTION_NAME: usize = name_index(FunctionCallDelta::WIRE_MEMBERS, "name");
const FUNCTION_ARGUMENTS: usize = name_index(FunctionCallDelta::WIRE_MEMBERS, "arguments");

// Each type's keys as they appear on the wire (quoted), in `WIRE_MEMBERS` order, so that a key's
// position is its `nulls` bit. A member added to one of these types (which would land in `extra`
// here and in its field on the serde path) fails the checks below until this decoder handles it.
const CHUNK_KEYS: [&[u8]; 7] = [
    b"\"id\"",
    b"\"object\"",
    b"\"created\"",
    b"\"model\"",
    b"\"system_fingerprint\"",
    b"\"choices\"",
    b"\"usage\"",
];
const CHOICE_KEYS: [&[u8]; 4] = [
    b"\"index\"",
    b"\"delta\"",
    b"\"finish_reason\"",
    b"\"logprobs\"",
];
const DELTA_KEYS: [&[u8]; 4] = [
    b"\"role\"",
    b"\"content\"",
    b"\"reasoning_content\"",
    b"\"tool_calls\"",
];
const CALL_KEYS: [&[u8]; 4] = [b"\"index\"", b"\"id\"", b"\"type\"", b"\"function\""];
const FUNCTION_KEYS: [&[u8]; 2] = [b"\"name\"", b"\"arguments\""];

const _: () = assert!(keys_are(&CHUNK_KEYS, ChatChunk::WIRE_MEMBERS));
const _: () = assert!(keys_are(&CHOICE_KEYS, ChunkChoice::WIRE_MEMBERS));
const _: () = assert!(keys_are(&DELTA_KEYS, Delta::WIRE_MEMBERS));
const _: () = assert!(keys_are(&CALL_KEYS, ToolCallDelta::WIRE_MEMBERS));
const _: () = assert!(keys_are(&FUNCTION_KEYS, FunctionCallDelta::WIRE_MEMBERS));

/// Decodes one compat `data:` payload, or `None` when it is not the common chunk shape (or not
/// JSON at all): then `serde_json::from_str::<ChatChunk>` must decide.
///
/// When it returns `Some(c)`, `c == serde_json::from_str::<ChatChunk>(data).unwrap()`.
pub(crate) fn decode_fast(data: &str) -> Option<ChatChunk> {
    decode_object(data, &CHUNK_KEYS, |p, out, key| p.chunk_member(out, key))
}

/// [`decode_fast`], for the differential fuzz target and tests; not a stable API.
///
/// `Some(c)` only when `c == serde_json::from_str::<ChatChunk>(data).unwrap()`; `None` for any
/// payload it leaves to serde (including every one serde rejects).
#[doc(hidden)]
pub fn __decode_fast(data: &str) -> Option<ChatChunk> {
    decode_fast(data)
}

impl<'a> Parser<'a> {
    fn chunk_member(&mut self, c: &mut ChatChunk, key: Result<usize, &str>) -> Option<()> {
        match key {
            Ok(CHUNK_ID) => {
                self.opt_string_into(&mut c.id, &mut c.nulls, CHUNK_ID)?;
            }
            Ok(CHUNK_OBJECT) => {
                self.opt_string_into(&mut c.object, &mut c.nulls, CHUNK_OBJECT)?;
            }
            Ok(CHUNK_CREATED) => {
                let (v, null) = match self.tok()? {
                    b'n' => self.null().map(|()| (None, true))?,
                    _ => (Some(i64::try_from(self.uint()?).ok()?), false),
                };
                c.created = v;
                set_null(&mut c.nulls, CHUNK_CREATED, null);
            }
            Ok(CHUNK_MODEL) => {
                self.opt_string_into(&mut c.model, &mut c.nulls, CHUNK_MODEL)?;
            }
            Ok(CHUNK_FINGERPRINT) => {
                self.opt_string_into(&mut c.system_fingerprint, &mut c.nulls, CHUNK_FINGERPRINT)?;
            }
            Ok(CHUNK_CHOICES) => {
                let null = match self.tok()? {
                    b'n' => {
                        self.null()?;
                        c.choices = Vec::new();
                        true
                    }
                    b'[' => {
                        // Almost every chunk has one choice.
                        let mut choices = Vec::with_capacity(1);
                        self.array(&mut choices, Self::choice)?;
                        c.choices = choices;
                        false
                    }
                    _ => return None,
                };
                set_null(&mut c.nulls, CHUNK_CHOICES, null);
            }
            Ok(CHUNK_USAGE) => {
                self.only_null()?;
                c.usage = None;
                set_null(&mut c.nulls, CHUNK_USAGE, true);
            }
            Ok(_) => return None,
            Err(key) => self.unknown(&mut c.extra, key)?,
        }
        Some(())
    }

    /// A `ChunkChoice` object into `ch` (a fresh default). The cursor is on the element.
    fn choice(&mut self, ch: &mut ChunkChoice) -> Option<()> {
        if *self.b.get(self.i)? != b'{' {
            return None;
        }
        let mut delta_seen = false;
        self.object(&CHOICE_KEYS, |p, key| {
            match key {
                Ok(CHOICE_INDEX) => {
                    let (v, null) = p.u32_or_null()?;
                    ch.index = v;
                    set_null(&mut ch.nulls, CHOICE_INDEX, null);
                }
                Ok(CHOICE_DELTA) => {
                    if delta_seen {
                        ch.delta = Delta::default();
                    }
                    delta_seen = true;
                    let null = match p.tok()? {
                        b'n' => {
                            p.null()?;
                            true
                        }
                        b'{' => {
                            p.object(&DELTA_KEYS, |p, key| p.delta_member(&mut ch.delta, key))?;
                            false
                        }
                        _ => return None,
                    };
                    set_null(&mut ch.nulls, CHOICE_DELTA, null);
                }
                Ok(CHOICE_FINISH) => {
                    let (v, null) = p.opt_enum::<FinishReason>()?;
                    ch.finish_reason = v;
                    set_null(&mut ch.nulls, CHOICE_FINISH, null);
                }
                Ok(CHOICE_LOGPROBS) => {
                    p.only_null()?;
                    ch.logprobs = None;
                    set_null(&mut ch.nulls, CHOICE_LOGPROBS, true);
                }
                Ok(_) => return None,
                Err(key) => p.unknown(&mut ch.extra, key)?,
            }
            Some(())
        })
    }

    fn delta_member(&mut self, d: &mut Delta, key: Result<usize, &str>) -> Option<()> {
        match key {
            Ok(DELTA_ROLE) => {
                let (v, null) = self.opt_enum::<Role>()?;
                d.role = v;
                set_null(&mut d.nulls, DELTA_ROLE, null);
            }
            Ok(DELTA_CONTENT) => {
                self.opt_string_into(&mut d.content, &mut d.nulls, DELTA_CONTENT)?;
            }
            Ok(DELTA_REASONING) => {
                self.opt_string_into(&mut d.reasoning_content, &mut d.nulls, DELTA_REASONING)?;
            }
            Ok(DELTA_TOOL_CALLS) => {
                let (v, null) = match self.tok()? {
                    b'n' => self.null().map(|()| (None, true))?,
                    b'[' => {
                        let mut calls = Vec::with_capacity(1);
                        self.array(&mut calls, Self::tool_call)?;
                        (Some(calls), false)
                    }
                    _ => return None,
                };
                d.tool_calls = v;
                set_null(&mut d.nulls, DELTA_TOOL_CALLS, null);
            }
            Ok(_) => return None,
            Err(key) => self.unknown(&mut d.extra, key)?,
        }
        Some(())
    }

    /// A `ToolCallDelta` object into `t` (a fresh default). The cursor is on the element.
    fn tool_call(&mut self, t: &mut ToolCallDelta) -> Option<()> {
        if *self.b.get(self.i)? != b'{' {
            return None;
        }
        self.object(&CALL_KEYS, |p, key| {
            match key {
                Ok(CALL_INDEX) => {
                    let (v, null) = p.u32_or_null()?;
                    t.index = v;
                    set_null(&mut t.nulls, CALL_INDEX, null);
                }
                Ok(CALL_ID) => {
                    p.opt_string_into(&mut t.id, &mut t.nulls, CALL_ID)?;
                }
                Ok(CALL_TYPE) => {
                    let (v, null) = p.opt_enum::<ToolType>()?;
                    t.kind = v;
                    set_null(&mut t.nulls, CALL_TYPE, null);
                }
                Ok(CALL_FUNCTION) => {
                    let (v, null) = match p.tok()? {
                        b'n' => p.null().map(|()| (None, true))?,
                        b'{' => {
                            let mut f = FunctionCallDelta::default();
                            p.object(&FUNCTION_KEYS, |p, key| p.function_member(&mut f, key))?;
                            (Some(f), false)
                        }
                        _ => return None,
                    };
                    t.function = v;
                    set_null(&mut t.nulls, CALL_FUNCTION, null);
                }
                Ok(_) => return None,
                Err(key) => p.unknown(&mut t.extra, key)?,
            }
            Some(())
        })
    }

    fn function_member(
        &mut self,
        f: &mut FunctionCallDelta,
        key: Result<usize, &str>,
    ) -> Option<()> {
        match key {
            Ok(FUNCTION_NAME) => {
                self.opt_string_into(&mut f.name, &mut f.nulls, FUNCTION_NAME)?;
            }
            Ok(FUNCTION_ARGUMENTS) => {
                self.opt_string_into(&mut f.arguments, &mut f.nulls, FUNCTION_ARGUMENTS)?;
            }
            Ok(_) => return None,
            Err(key) => self.unknown(&mut f.extra, key)?,
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fast::string_stop;

    fn same(data: &str) -> bool {
        let fast = decode_fast(data);
        match serde_json::from_str::<ChatChunk>(data) {
            Ok(want) => fast.is_none_or(|got| got == want),
            Err(_) => fast.is_none(),
        }
    }

    #[test]
    fn string_stop_finds_the_first_special_byte() {
        for (s, want) in [
            ("", 0),
            ("abc", 3),
            ("abcdefghij\"", 10),
            ("abcdefgh\\ij", 8),
            ("a\u{1}", 1),
            ("\u{7f}\u{80}é\"", 5),
            ("abcdefghijklmnopq\u{1f}\"", 17),
        ] {
            assert_eq!(string_stop(s.as_bytes(), 0), want, "{s:?}");
        }
    }

    #[test]
    fn common_shapes_take_the_fast_path() {
        for data in [
            r#"{"choices":[{"delta":{"content":null,"reasoning_content":"用户","role":"assistant"},"finish_reason":null,"index":0,"logprobs":null}],"object":"chat.completion.chunk","usage":null,"created":1776307217,"system_fingerprint":null,"model":"qwen3.5-flash","id":"chatcmpl-34d8"}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"","type":"function","function":{"arguments":"{\"a\":\"\\u00e9\\n\"}"}}]},"index":0}],"x":[1,{"y":null}]}"#,
            r#" { "choices" : [ ] , "id" : "a\ud83d\ude00b" } "#,
            "{}",
        ] {
            assert!(decode_fast(data).is_some(), "{data}");
            assert!(same(data), "{data}");
        }
    }

    #[test]
    fn unusual_input_bails_or_agrees() {
        for data in [
            r#"{"choices":[{"index":01}]}"#,
            r#"{"choices":[{"index":1.0}]}"#,
            r#"{"choices":[{"index":4294967296}]}"#,
            r#"{"choices":[{"index":-1}]}"#,
            r#"{"created":9223372036854775808}"#,
            r#"{"id":"a\x"}"#,
            "{\"id\":\"a\u{1}\"}",
            r#"{"id":"\ud800"}"#,
            r#"{"i\u0064":"a"}"#,
            r#"{"id":"a"} x"#,
            r#"{"id":"a",}"#,
            r#"{"choices":[,]}"#,
            r#"{"choices":[null]}"#,
            r#"{"usage":{"total_tokens":1}}"#,
            r#"{"id":nul}"#,
            r#"{"id":null,"id":"b","model":"m","model":null}"#,
            r#"{"choices":[{"delta":{"content":"a"},"delta":null}]}"#,
            r#"{"choices":[{"delta":{"content":"a"},"delta":{"role":"user"}}]}"#,
            r#"{"z":1,"z":[true]}"#,
        ] {
            assert!(same(data), "{data}");
        }
        let deep = format!("{{\"z\":{}{}}}", "[".repeat(126), "]".repeat(126));
        assert!(same(&deep));
        assert!(decode_fast(&deep).is_none());
    }
}
