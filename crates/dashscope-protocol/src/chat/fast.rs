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

use std::borrow::Cow;

use serde_json::Value;

use crate::wire::{Extra, Nulls, name_index};

use super::request::{Role, ToolType};
use super::response::{
    ChatChunk, ChunkChoice, Delta, FinishReason, FunctionCallDelta, ToolCallDelta,
};

/// How deep an unknown member's value may nest (serde_json allows 127 levels in all, counted
/// from the top of the payload; the chunk's own objects take at most 7 of them).
const MAX_UNKNOWN_DEPTH: usize = 64;

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

/// Whether `keys` are exactly `names`, quoted, in the same order.
const fn keys_are(keys: &[&[u8]], names: &[&str]) -> bool {
    if keys.len() != names.len() {
        return false;
    }
    let mut i = 0;
    while i < keys.len() {
        let (k, n) = (keys[i], names[i].as_bytes());
        if k.len() != n.len() + 2 || k[0] != b'"' || k[k.len() - 1] != b'"' {
            return false;
        }
        let mut j = 0;
        while j < n.len() {
            if k[j + 1] != n[j] {
                return false;
            }
            j += 1;
        }
        i += 1;
    }
    true
}

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
    let mut p = Parser {
        s: data,
        b: data.as_bytes(),
        i: 0,
    };
    if p.tok()? != b'{' {
        return None;
    }
    let mut chunk = ChatChunk::default();
    p.object(&CHUNK_KEYS, |p, key| p.chunk_member(&mut chunk, key))?;
    // Only whitespace may follow the object (as `serde_json::from_str` requires).
    if p.tok().is_some() {
        return None;
    }
    Some(chunk)
}

/// [`decode_fast`], for the differential fuzz target and tests; not a stable API.
///
/// `Some(c)` only when `c == serde_json::from_str::<ChatChunk>(data).unwrap()`; `None` for any
/// payload it leaves to serde (including every one serde rejects).
#[doc(hidden)]
pub fn __decode_fast(data: &str) -> Option<ChatChunk> {
    decode_fast(data)
}

/// Marks or clears a member's `null` bit.
#[inline]
fn set_null(nulls: &mut Nulls, index: usize, null: bool) {
    nulls.set(index, null);
}

/// The index of the first `"`, `\` or control byte (< 0x20) at or after `i`, or `b.len()`.
///
/// Eight bytes at a time, the way serde_json's `skip_to_escape` does it: for each byte class a
/// word has its high bit set in every byte that may match; the lowest set bit is always a real
/// match (a false positive can only follow a real one), so `trailing_zeros` finds the first.
#[inline]
fn string_stop(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES << 7;
    while let Some(word) = b.get(i..i + 8) {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let x = u64::from_le_bytes(bytes);
        let ctrl = x.wrapping_sub(ONES * 0x20) & !x;
        let q = x ^ (ONES * u64::from(b'"'));
        let quote = q.wrapping_sub(ONES) & !q;
        let s = x ^ (ONES * u64::from(b'\\'));
        let slash = s.wrapping_sub(ONES) & !s;
        let hits = (ctrl | quote | slash) & HIGH;
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            return i;
        }
        i += 1;
    }
    i
}

/// The value of four hex digits (either case, as serde_json accepts them).
#[inline]
fn hex4(digits: &[u8]) -> Option<u32> {
    let mut n = 0;
    for &d in digits {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => return None,
        };
        n = n * 16 + u32::from(v);
    }
    Some(n)
}

/// How deep `v` nests (a scalar is 0), stopping early past `limit`.
fn depth(v: &Value, limit: usize) -> usize {
    let Some(inner) = limit.checked_sub(1) else {
        return usize::from(v.is_array() || v.is_object());
    };
    1 + match v {
        Value::Array(a) => a.iter().map(|x| depth(x, inner)).max().unwrap_or(0),
        Value::Object(o) => o.values().map(|x| depth(x, inner)).max().unwrap_or(0),
        _ => return 0,
    }
}

/// A string enum from a decoded string, without a copy when it was borrowed.
#[inline]
fn enum_of<E: for<'x> From<&'x str> + From<String>>(s: Cow<'_, str>) -> E {
    match s {
        Cow::Borrowed(s) => E::from(s),
        Cow::Owned(s) => E::from(s),
    }
}

/// A cursor over the payload; every method returns `None` to give up.
struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    /// The next byte that is not JSON whitespace (not consumed); `None` at the end.
    #[inline]
    fn tok(&mut self) -> Option<u8> {
        let c = *self.b.get(self.i)?;
        if c > b' ' {
            return Some(c);
        }
        while let Some(&c) = self.b.get(self.i) {
            if !matches!(c, b' ' | b'\n' | b'\t' | b'\r') {
                return Some(c);
            }
            self.i += 1;
        }
        None
    }

    /// Consumes a `null` literal at the cursor.
    #[inline]
    fn null(&mut self) -> Option<()> {
        if self.b.get(self.i..self.i + 4)? == b"null" {
            self.i += 4;
            Some(())
        } else {
            None
        }
    }

    /// Runs `member` for each member of the object at the cursor (at its `{`), with the cursor
    /// on the member's value (whitespace not yet skipped): `Ok(position in keys)` for a known
    /// key, `Err(key)` for any other.
    #[inline(always)]
    fn object<const N: usize>(
        &mut self,
        keys: &[&[u8]; N],
        mut member: impl FnMut(&mut Self, Result<usize, &'a str>) -> Option<()>,
    ) -> Option<()> {
        self.i += 1;
        let mut c = self.tok()?;
        if c == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            if c != b'"' {
                return None;
            }
            let key = self.which_key(keys)?;
            if self.tok()? != b':' {
                return None;
            }
            self.i += 1;
            member(self, key)?;
            c = self.tok()?;
            self.i += 1;
            match c {
                b',' => c = self.tok()?,
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }

    /// The key at the cursor (on its `"`), consumed: its position in `keys` (quoted keys), or
    /// the key itself when it is none of them.
    #[inline(always)]
    fn which_key<const N: usize>(&mut self, keys: &[&[u8]; N]) -> Option<Result<usize, &'a str>> {
        let rest = self.b.get(self.i..)?;
        let first = rest.get(1).copied();
        for (n, k) in keys.iter().enumerate() {
            if k.get(1).copied() == first && rest.starts_with(k) {
                self.i += k.len();
                return Some(Ok(n));
            }
        }
        self.key().map(Err)
    }

    /// Runs `element` for each element of the array at the cursor (at its `[`), with the cursor
    /// on the element (whitespace skipped) and a fresh default element pushed onto `out`.
    #[inline]
    fn array<T: Default>(
        &mut self,
        out: &mut Vec<T>,
        mut element: impl FnMut(&mut Self, &mut T) -> Option<()>,
    ) -> Option<()> {
        self.i += 1;
        if self.tok()? == b']' {
            self.i += 1;
            return Some(());
        }
        loop {
            self.tok()?;
            out.push(T::default());
            element(self, out.last_mut()?)?;
            let c = self.tok()?;
            self.i += 1;
            match c {
                b',' => {}
                b']' => return Some(()),
                _ => return None,
            }
        }
    }

    /// An object key without escapes. The cursor is on its `"`.
    #[cold]
    fn key(&mut self) -> Option<&'a str> {
        let start = self.i + 1;
        let end = string_stop(self.b, start);
        if *self.b.get(end)? != b'"' {
            return None;
        }
        let key = self.s.get(start..end)?;
        self.i = end + 1;
        Some(key)
    }

    /// A string value. The cursor is on its `"`.
    #[inline]
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let start = self.i + 1;
        let end = string_stop(self.b, start);
        match *self.b.get(end)? {
            b'"' => {
                self.i = end + 1;
                Some(Cow::Borrowed(self.s.get(start..end)?))
            }
            b'\\' => self.escaped(start, end).map(Cow::Owned),
            _ => None,
        }
    }

    /// The rest of a string with escapes: `start` is its first byte, `j` its first `\`.
    #[cold]
    fn escaped(&mut self, start: usize, mut j: usize) -> Option<String> {
        let b = self.b;
        let mut out = String::with_capacity(j - start + 16);
        out.push_str(self.s.get(start..j)?);
        loop {
            let e = *b.get(j + 1)?;
            j += 2;
            match e {
                b'"' => out.push('"'),
                b'\\' => out.push('\\'),
                b'/' => out.push('/'),
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => {
                    let n = hex4(b.get(j..j + 4)?)?;
                    j += 4;
                    match char::from_u32(n) {
                        Some(c) => out.push(c),
                        // A surrogate: pairs, lone ones and their errors are serde_json's call.
                        None => return self.serde_string(start - 1),
                    }
                }
                _ => return None,
            }
            let k = string_stop(b, j);
            out.push_str(self.s.get(j..k)?);
            match *b.get(k)? {
                b'"' => {
                    self.i = k + 1;
                    return Some(out);
                }
                b'\\' => j = k,
                _ => return None,
            }
        }
    }

    /// The string whose `"` is at `quote`, decoded by serde_json.
    #[cold]
    fn serde_string(&mut self, quote: usize) -> Option<String> {
        let mut it = serde_json::Deserializer::from_str(self.s.get(quote..)?).into_iter::<String>();
        let s = it.next()?.ok()?;
        self.i = quote + it.byte_offset();
        Some(s)
    }

    /// A plain non-negative integer (no sign, fraction, exponent or leading zero).
    #[inline]
    fn uint(&mut self) -> Option<u64> {
        let b = self.b;
        let mut i = self.i;
        let first = *b.get(i)?;
        if !first.is_ascii_digit() {
            return None;
        }
        let mut n = u64::from(first - b'0');
        i += 1;
        if first != b'0' {
            while let Some(&d) = b.get(i) {
                if !d.is_ascii_digit() {
                    break;
                }
                n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
                i += 1;
            }
        }
        if matches!(b.get(i), Some(b'0'..=b'9' | b'.' | b'e' | b'E')) {
            return None;
        }
        self.i = i;
        Some(n)
    }

    /// An `Option<String>` member: the value and whether it was `null`.
    #[inline]
    fn opt_string(&mut self) -> Option<(Option<String>, bool)> {
        match self.tok()? {
            b'"' => Some((Some(self.string()?.into_owned()), false)),
            b'n' => self.null().map(|()| (None, true)),
            _ => None,
        }
    }

    /// An `Option<E>` member for a string enum: the value and whether it was `null`.
    #[inline]
    fn opt_enum<E: for<'x> From<&'x str> + From<String>>(&mut self) -> Option<(Option<E>, bool)> {
        match self.tok()? {
            b'"' => Some((Some(enum_of(self.string()?)), false)),
            b'n' => self.null().map(|()| (None, true)),
            _ => None,
        }
    }

    /// A `u32` member: the value (0 for `null`) and whether it was `null`.
    #[inline]
    fn u32_or_null(&mut self) -> Option<(u32, bool)> {
        match self.tok()? {
            b'n' => self.null().map(|()| (0, true)),
            _ => Some((u32::try_from(self.uint()?).ok()?, false)),
        }
    }

    /// A member whose only accepted value here is `null` (`usage`, `logprobs`).
    #[inline]
    fn only_null(&mut self) -> Option<()> {
        if self.tok()? != b'n' {
            return None;
        }
        self.null()
    }

    /// An unknown member, decoded by serde_json into `extra` (the last occurrence wins).
    #[cold]
    fn unknown(&mut self, extra: &mut Extra, key: &str) -> Option<()> {
        self.tok()?;
        let mut it = serde_json::Deserializer::from_str(self.s.get(self.i..)?).into_iter::<Value>();
        let v = it.next()?.ok()?;
        if depth(&v, MAX_UNKNOWN_DEPTH) > MAX_UNKNOWN_DEPTH {
            return None;
        }
        self.i += it.byte_offset();
        extra.insert(key.to_owned(), v);
        Some(())
    }

    fn chunk_member(&mut self, c: &mut ChatChunk, key: Result<usize, &str>) -> Option<()> {
        match key {
            Ok(CHUNK_ID) => {
                let (v, null) = self.opt_string()?;
                c.id = v;
                set_null(&mut c.nulls, CHUNK_ID, null);
            }
            Ok(CHUNK_OBJECT) => {
                let (v, null) = self.opt_string()?;
                c.object = v;
                set_null(&mut c.nulls, CHUNK_OBJECT, null);
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
                let (v, null) = self.opt_string()?;
                c.model = v;
                set_null(&mut c.nulls, CHUNK_MODEL, null);
            }
            Ok(CHUNK_FINGERPRINT) => {
                let (v, null) = self.opt_string()?;
                c.system_fingerprint = v;
                set_null(&mut c.nulls, CHUNK_FINGERPRINT, null);
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
                let (v, null) = self.opt_string()?;
                d.content = v;
                set_null(&mut d.nulls, DELTA_CONTENT, null);
            }
            Ok(DELTA_REASONING) => {
                let (v, null) = self.opt_string()?;
                d.reasoning_content = v;
                set_null(&mut d.nulls, DELTA_REASONING, null);
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
                    let (v, null) = p.opt_string()?;
                    t.id = v;
                    set_null(&mut t.nulls, CALL_ID, null);
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
                let (v, null) = self.opt_string()?;
                f.name = v;
                set_null(&mut f.nulls, FUNCTION_NAME, null);
            }
            Ok(FUNCTION_ARGUMENTS) => {
                let (v, null) = self.opt_string()?;
                f.arguments = v;
                set_null(&mut f.nulls, FUNCTION_ARGUMENTS, null);
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
