//! The building blocks of the hand-written fast paths for stream payloads.
//!
//! A fast path reads one `data:` payload of the common shape straight into the wire type, and
//! gives up (`None`) on anything it does not handle exactly, so that the serde path decides; see
//! [`chat::fast`](crate::chat) for the contract and how it is tested. This module has what every
//! fast path needs: a cursor over the payload ([`Parser`]) that reads tokens, objects with a
//! fixed key list (a key's position is its `nulls` bit), arrays, strings (escapes decoded, or
//! handed to serde_json for surrogates), plain integers, `null`, and unknown members (decoded by
//! serde_json into `extra`, exactly as the serde path does).

use std::borrow::Cow;

use serde_json::Value;

use crate::wire::{Extra, Nulls};

/// How deep an unknown member's value may nest (serde_json allows 127 levels in all, counted
/// from the top of the payload; the chunk's own objects take at most 7 of them).
pub(crate) const MAX_UNKNOWN_DEPTH: usize = 64;

/// Whether `keys` are exactly `names`, quoted, in the same order.
pub(crate) const fn keys_are(keys: &[&[u8]], names: &[&str]) -> bool {
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

/// Marks or clears a member's `null` bit.
#[inline]
pub(crate) fn set_null(nulls: &mut Nulls, index: usize, null: bool) {
    nulls.set(index, null);
}

/// The index of the first `"`, `\` or control byte (< 0x20) at or after `i`, or `b.len()`.
///
/// Eight bytes at a time, the way serde_json's `skip_to_escape` does it: for each byte class a
/// word has its high bit set in every byte that may match; the lowest set bit is always a real
/// match (a false positive can only follow a real one), so `trailing_zeros` finds the first.
#[inline]
pub(crate) fn string_stop(b: &[u8], mut i: usize) -> usize {
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
pub(crate) fn hex4(digits: &[u8]) -> Option<u32> {
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
pub(crate) fn depth(v: &Value, limit: usize) -> usize {
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
pub(crate) fn enum_of<E: for<'x> From<&'x str> + From<String>>(s: Cow<'_, str>) -> E {
    match s {
        Cow::Borrowed(s) => E::from(s),
        Cow::Owned(s) => E::from(s),
    }
}

/// Decodes `data` as one object with the member list `keys` into a fresh `T` (`member` reads each
/// member's value), then checks that only whitespace follows, as `serde_json::from_str`
/// requires. `None` gives up.
#[inline]
pub(crate) fn decode_object<'a, T: Default, const N: usize>(
    data: &'a str,
    keys: &[&[u8]; N],
    mut member: impl FnMut(&mut Parser<'a>, &mut T, Result<usize, &'a str>) -> Option<()>,
) -> Option<T> {
    let mut p = Parser {
        s: data,
        b: data.as_bytes(),
        i: 0,
    };
    if p.tok()? != b'{' {
        return None;
    }
    let mut out = T::default();
    p.object(keys, |p, key| member(p, &mut out, key))?;
    if p.tok().is_some() {
        return None;
    }
    Some(out)
}

/// A cursor over the payload; every method returns `None` to give up.
pub(crate) struct Parser<'a> {
    /// The payload.
    pub(crate) s: &'a str,
    /// The payload's bytes.
    pub(crate) b: &'a [u8],
    /// The cursor.
    pub(crate) i: usize,
}

impl<'a> Parser<'a> {
    /// The next byte that is not JSON whitespace (not consumed); `None` at the end.
    #[inline]
    pub(crate) fn tok(&mut self) -> Option<u8> {
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
    pub(crate) fn null(&mut self) -> Option<()> {
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
    pub(crate) fn object<const N: usize>(
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
    pub(crate) fn which_key<const N: usize>(
        &mut self,
        keys: &[&[u8]; N],
    ) -> Option<Result<usize, &'a str>> {
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
    pub(crate) fn array<T: Default>(
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
    pub(crate) fn key(&mut self) -> Option<&'a str> {
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
    pub(crate) fn string(&mut self) -> Option<Cow<'a, str>> {
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
    pub(crate) fn escaped(&mut self, start: usize, mut j: usize) -> Option<String> {
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
    pub(crate) fn serde_string(&mut self, quote: usize) -> Option<String> {
        let mut it = serde_json::Deserializer::from_str(self.s.get(quote..)?).into_iter::<String>();
        let s = it.next()?.ok()?;
        self.i = quote + it.byte_offset();
        Some(s)
    }

    /// A plain non-negative integer (no sign, fraction, exponent or leading zero).
    #[inline]
    pub(crate) fn uint(&mut self) -> Option<u64> {
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
    pub(crate) fn opt_string(&mut self) -> Option<(Option<String>, bool)> {
        match self.tok()? {
            b'"' => Some((Some(self.string()?.into_owned()), false)),
            b'n' => self.null().map(|()| (None, true)),
            _ => None,
        }
    }

    /// An `Option<E>` member for a string enum: the value and whether it was `null`.
    #[inline]
    pub(crate) fn opt_enum<E: for<'x> From<&'x str> + From<String>>(
        &mut self,
    ) -> Option<(Option<E>, bool)> {
        match self.tok()? {
            b'"' => Some((Some(enum_of(self.string()?)), false)),
            b'n' => self.null().map(|()| (None, true)),
            _ => None,
        }
    }

    /// A `u32` member: the value (0 for `null`) and whether it was `null`.
    #[inline]
    pub(crate) fn u32_or_null(&mut self) -> Option<(u32, bool)> {
        match self.tok()? {
            b'n' => self.null().map(|()| (0, true)),
            _ => Some((u32::try_from(self.uint()?).ok()?, false)),
        }
    }

    /// A member whose only accepted value here is `null` (`usage`, `logprobs`).
    #[inline]
    pub(crate) fn only_null(&mut self) -> Option<()> {
        if self.tok()? != b'n' {
            return None;
        }
        self.null()
    }

    /// An unknown member, decoded by serde_json into `extra` (the last occurrence wins).
    #[cold]
    pub(crate) fn unknown(&mut self, extra: &mut Extra, key: &str) -> Option<()> {
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
}

// Primitives added for the native fast path (`native::fast`).
impl Parser<'_> {
    /// An `Option<u64>` member: the value and whether it was `null`.
    #[inline]
    pub(crate) fn opt_u64(&mut self) -> Option<(Option<u64>, bool)> {
        match self.tok()? {
            b'n' => self.null().map(|()| (None, true)),
            _ => Some((Some(self.uint()?), false)),
        }
    }

    /// An `Option<u32>` member: the value and whether it was `null`.
    #[inline]
    pub(crate) fn opt_u32(&mut self) -> Option<(Option<u32>, bool)> {
        match self.tok()? {
            b'n' => self.null().map(|()| (None, true)),
            _ => Some((Some(u32::try_from(self.uint()?).ok()?), false)),
        }
    }

    /// An `Option<bool>` member: the value and whether it was `null`.
    #[inline]
    pub(crate) fn opt_bool(&mut self) -> Option<(Option<bool>, bool)> {
        self.tok()?;
        let rest = self.b.get(self.i..)?;
        let (v, len) = if rest.starts_with(b"true") {
            (Some(true), 4)
        } else if rest.starts_with(b"false") {
            (Some(false), 5)
        } else if rest.starts_with(b"null") {
            (None, 4)
        } else {
            return None;
        };
        self.i += len;
        Some((v, v.is_none()))
    }
}

// Members read straight into their slot, with their `null` bit.
impl Parser<'_> {
    /// An `Option<String>` member into `slot`, with its `null` bit.
    #[inline]
    pub(crate) fn opt_string_into(
        &mut self,
        slot: &mut Option<String>,
        nulls: &mut Nulls,
        index: usize,
    ) -> Option<()> {
        let (v, null) = self.opt_string()?;
        *slot = v;
        set_null(nulls, index, null);
        Some(())
    }

    /// A `String` member into `slot` (`null` leaves it empty and sets its bit).
    #[inline]
    pub(crate) fn string_into(
        &mut self,
        slot: &mut String,
        nulls: &mut Nulls,
        index: usize,
    ) -> Option<()> {
        let (v, null) = self.opt_string()?;
        *slot = v.unwrap_or_default();
        set_null(nulls, index, null);
        Some(())
    }

    /// An `Option<u32>` member into `slot`, with its `null` bit.
    #[inline]
    pub(crate) fn opt_u32_into(
        &mut self,
        slot: &mut Option<u32>,
        nulls: &mut Nulls,
        index: usize,
    ) -> Option<()> {
        let (v, null) = self.opt_u32()?;
        *slot = v;
        set_null(nulls, index, null);
        Some(())
    }

    /// An `Option<u64>` member into `slot`, with its `null` bit.
    #[inline]
    pub(crate) fn opt_u64_into(
        &mut self,
        slot: &mut Option<u64>,
        nulls: &mut Nulls,
        index: usize,
    ) -> Option<()> {
        let (v, null) = self.opt_u64()?;
        *slot = v;
        set_null(nulls, index, null);
        Some(())
    }
}
