//! The fast path for stream payloads, generated from the wire types' own member lists.
//!
//! A stream payload type declared with `@fast` in [`wire_struct!`](crate::wire_struct) (the compat
//! chunk, the native event, the hot Responses events, and the types they hold) gets a reader
//! ([`FastStruct`]) that decodes the common shape of a `data:` payload straight into the type,
//! without serde's per-member machinery (keys parsed as strings for a visitor, one `Deserialize`
//! call per member, `Option` layers, structs moved through layers). It is a shortcut, not a
//! second definition of the format:
//!
//! * whenever it returns `Some(v)`, `v` equals what `serde_json::from_str` gives for the same
//!   payload (the same members, the same `extra`, the same `nulls`);
//! * whenever serde fails, it returns `None`;
//! * anything it does not handle exactly also gives `None`, and the caller runs the serde path on
//!   the same data: a member whose type has no fast reader and is not `null` (a float, a JSON
//!   value, a list of bytes, a struct not declared `@fast`: `usage` and `logprobs` objects in
//!   compat chunks, `search_info` in native ones), a number that is not a plain non-negative
//!   integer in range for its member, a key with an escape, an unknown member nested more than
//!   [`MAX_UNKNOWN_DEPTH`] deep.
//!
//! Unknown members are decoded by serde_json itself (a `Value` read from where the member
//! starts), so `extra` holds exactly what the serde path puts there; so is a string with a `\u`
//! escape for a surrogate (an emoji pair, or a lone one serde rejects). Other escapes are decoded
//! here. Whitespace between tokens is the four bytes serde_json accepts. Members follow
//! `wire_struct!`: the last occurrence wins (an object is decoded afresh), a value clears the
//! member's `null` bit, a `null` sets its default (or `None`) and the bit.
//!
//! Because the readers come from the member lists, a type can gain, lose or change a member
//! without touching this module: the new member is read if its type has a reader, and left to
//! serde otherwise. The differential tests (`tests/{chat,native,responses}_fast.rs`, and the fuzz
//! targets of the same names) check the contract on every fixture and on generated and mutated
//! payloads, and check that ordinary payloads really take the fast path.
//!
//! The fast types are not recursive, so the depth of what the fast path reads is bounded by
//! their nesting (at most 7 objects) plus [`MAX_UNKNOWN_DEPTH`].

use std::borrow::Cow;

use serde_json::Value;

use crate::wire::{Extra, Member, WireStr};

/// How deep an unknown member's value may nest (serde_json allows 127 levels in all, counted
/// from the top of the payload; the chunk's own objects take at most 7 of them).
pub(crate) const MAX_UNKNOWN_DEPTH: usize = 64;

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

/// The value of four hex digits (either case, as serde_json accepts them; no sign).
#[inline]
pub(crate) fn hex4(digits: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(digits).ok()?;
    digits
        .iter()
        .all(u8::is_ascii_hexdigit)
        .then(|| u32::from_str_radix(text, 16).ok())?
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

    /// Reads the members of the object at the cursor (at its `{`) into `out`: a member of `T`
    /// by [`FastStruct::fast_member`], any other by `other` (with the cursor on its value,
    /// whitespace not yet skipped).
    #[inline(always)]
    pub(crate) fn members<T: FastStruct>(
        &mut self,
        out: &mut T,
        mut other: impl FnMut(&mut Self, &mut T, &'a str) -> Option<()>,
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
            let key = self.which_member(T::WIRE_MEMBERS)?;
            if self.tok()? != b':' {
                return None;
            }
            self.i += 1;
            match key {
                Ok(index) => out.fast_member(self, index)?,
                Err(key) => other(self, out, key)?,
            }
            c = self.tok()?;
            self.i += 1;
            match c {
                b',' => c = self.tok()?,
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }

    /// The key at the cursor (on its `"`), consumed: its position in `names`, or the key itself
    /// when it is none of them.
    #[inline(always)]
    pub(crate) fn which_member(&mut self, names: &[&str]) -> Option<Result<usize, &'a str>> {
        let rest = self.b.get(self.i + 1..)?;
        let first = rest.first().copied();
        for (n, name) in names.iter().enumerate() {
            let name = name.as_bytes();
            if name.first().copied() == first
                && rest.get(name.len()) == Some(&b'"')
                && rest.starts_with(name)
            {
                self.i += name.len() + 2;
                return Some(Ok(n));
            }
        }
        self.key().map(Err)
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

/// Decodes `data` as one `T` object, then checks that only whitespace follows, as
/// `serde_json::from_str` requires. `None` gives up.
#[inline]
pub(crate) fn decode<T: FastStruct>(data: &str) -> Option<T> {
    let mut p = Parser {
        s: data,
        b: data.as_bytes(),
        i: 0,
    };
    if p.tok()? != b'{' {
        return None;
    }
    // Filled where it is returned from, so the (large) value is not moved on the way out.
    let mut out = T::default();
    fill(&mut p, &mut out)?;
    if p.tok().is_some() {
        return None;
    }
    Some(out)
}

/// A value the fast path reads itself. The cursor is on its first byte (whitespace skipped);
/// `null` is handled by the member (see [`ReadOption`]), so a reader gives up on it.
///
/// `read` gives the value; the other methods put it straight into its place (a struct is
/// filled there rather than built and moved, which matters for the large ones).
pub(crate) trait FastValue: Sized {
    /// The value at the cursor, consumed; `None` gives up.
    fn read(p: &mut Parser<'_>) -> Option<Self>;

    /// The value at the cursor into `slot`, replacing what it holds.
    #[inline(always)]
    fn read_into(p: &mut Parser<'_>, slot: &mut Self) -> Option<()> {
        *slot = Self::read(p)?;
        Some(())
    }

    /// The value at the cursor into `slot` as `Some`.
    #[inline(always)]
    fn read_some(p: &mut Parser<'_>, slot: &mut Option<Self>) -> Option<()> {
        *slot = Some(Self::read(p)?);
        Some(())
    }

    /// The value at the cursor, appended to `list`.
    #[inline(always)]
    fn read_push(p: &mut Parser<'_>, list: &mut Vec<Self>) -> Option<()> {
        list.push(Self::read(p)?);
        Some(())
    }
}

/// A `@fast` wire struct: its members by position in `WIRE_MEMBERS` (which is also their
/// `nulls` bit), generated by `wire_struct!`.
pub(crate) trait FastStruct: Default {
    /// The wire names of the known members, in declaration order.
    const WIRE_MEMBERS: &'static [&'static str];

    /// Reads the value of the known member at `index` (the cursor on the value, whitespace not
    /// yet skipped) into its field, with its `null` bit.
    fn fast_member(&mut self, p: &mut Parser<'_>, index: usize) -> Option<()>;

    /// Where unknown members go.
    fn fast_extra(&mut self) -> &mut Extra;
}

/// Fills `out` (a default value) from the object at the cursor (on its `{`), unknown members
/// into `extra`.
#[inline]
pub(crate) fn fill<T: FastStruct>(p: &mut Parser<'_>, out: &mut T) -> Option<()> {
    if *p.b.get(p.i)? != b'{' {
        return None;
    }
    p.members(out, |p, out, key| p.unknown(out.fast_extra(), key))
}

impl<E: WireStr> FastValue for E {
    #[inline]
    fn read(p: &mut Parser<'_>) -> Option<E> {
        if *p.b.get(p.i)? != b'"' {
            return None;
        }
        p.string().map(|s| match s {
            Cow::Borrowed(s) => E::from(s),
            Cow::Owned(s) => E::from(s),
        })
    }
}

impl FastValue for bool {
    #[inline]
    fn read(p: &mut Parser<'_>) -> Option<bool> {
        let rest = p.b.get(p.i..)?;
        let (v, len) = if rest.starts_with(b"true") {
            (true, 4)
        } else if rest.starts_with(b"false") {
            (false, 5)
        } else {
            return None;
        };
        p.i += len;
        Some(v)
    }
}

macro_rules! fast_uint {
    ($($t:ty),*) => {$(
        impl FastValue for $t {
            #[inline]
            fn read(p: &mut Parser<'_>) -> Option<$t> {
                <$t>::try_from(p.uint()?).ok()
            }
        }
    )*};
}

fast_uint!(u32, u64, i64);

impl<T: FastValue> FastValue for Vec<T> {
    #[inline]
    fn read(p: &mut Parser<'_>) -> Option<Vec<T>> {
        let mut out = Vec::new();
        read_list(p, &mut out)?;
        Some(out)
    }

    #[inline]
    fn read_into(p: &mut Parser<'_>, slot: &mut Vec<T>) -> Option<()> {
        slot.clear();
        read_list(p, slot)
    }

    #[inline]
    fn read_some(p: &mut Parser<'_>, slot: &mut Option<Vec<T>>) -> Option<()> {
        read_list(p, slot.insert(Vec::new()))
    }
}

/// The elements of the array at the cursor (on its `[`), appended to `out`.
#[inline]
fn read_list<T: FastValue>(p: &mut Parser<'_>, out: &mut Vec<T>) -> Option<()> {
    if *p.b.get(p.i)? != b'[' {
        return None;
    }
    p.i += 1;
    if p.tok()? == b']' {
        p.i += 1;
        return Some(());
    }
    // Almost every list in a stream payload has one element.
    out.reserve_exact(1);
    loop {
        p.tok()?;
        T::read_push(p, out)?;
        let c = p.tok()?;
        p.i += 1;
        match c {
            b',' => {}
            b']' => return Some(()),
            _ => return None,
        }
    }
}

/// Picks how a member of type `T` is read, by its type (autoref specialization on
/// [`wire::Member`](crate::wire::Member), as for serde), calling
/// `(&&&Member::<T>(PhantomData)).read_member(p, &mut slot)`:
///
/// * `Option<V>` with a reader for `V` ([`ReadOption`]): `null` is `None`;
/// * `V` with a reader ([`ReadValue`]): `null` is the default;
/// * any other type ([`ReadNull`]): only `null` (the default) is read, anything else gives up.
///
/// Each puts the value in the slot and says whether it was `null` (the member's bit).
/// See [`ReadOption`].
pub(crate) trait ReadOption {
    type Out;
    fn read_member(&self, p: &mut Parser<'_>, slot: &mut Self::Out) -> Option<bool>;
}

/// See [`ReadOption`].
pub(crate) trait ReadValue {
    type Out;
    fn read_member(&self, p: &mut Parser<'_>, slot: &mut Self::Out) -> Option<bool>;
}

/// See [`ReadOption`].
pub(crate) trait ReadNull {
    type Out;
    fn read_member(&self, p: &mut Parser<'_>, slot: &mut Self::Out) -> Option<bool>;
}

impl<T: FastValue> ReadOption for &&Member<Option<T>> {
    type Out = Option<T>;
    #[inline(always)]
    fn read_member(&self, p: &mut Parser<'_>, slot: &mut Option<T>) -> Option<bool> {
        if p.tok()? == b'n' {
            p.null()?;
            *slot = None;
            return Some(true);
        }
        T::read_some(p, slot)?;
        Some(false)
    }
}

impl<T: FastValue + Default> ReadValue for &Member<T> {
    type Out = T;
    #[inline(always)]
    fn read_member(&self, p: &mut Parser<'_>, slot: &mut T) -> Option<bool> {
        if p.tok()? == b'n' {
            p.null()?;
            *slot = T::default();
            return Some(true);
        }
        T::read_into(p, slot)?;
        Some(false)
    }
}

impl<T: Default> ReadNull for Member<T> {
    type Out = T;
    #[inline(always)]
    fn read_member(&self, p: &mut Parser<'_>, slot: &mut T) -> Option<bool> {
        if p.tok()? != b'n' {
            return None;
        }
        p.null()?;
        *slot = T::default();
        Some(true)
    }
}

/// The `@fast` option of [`wire_struct!`](crate::wire_struct): [`FastStruct`] and
/// [`FastValue`] from the member list.
#[doc(hidden)]
#[macro_export]
macro_rules! __wire_fast {
    ($name:ident { $( [$($flag:ident)?] $field:ident : $ty:ty $(=> $wire:literal)? ),* }) => {
        impl $crate::fast::FastStruct for $name {
            const WIRE_MEMBERS: &'static [&'static str] = $name::WIRE_MEMBERS;

            #[inline]
            #[allow(unused_variables)]
            fn fast_member(&mut self, p: &mut $crate::fast::Parser<'_>, index: usize) -> Option<()> {
                #[allow(unused_imports)]
                use $crate::fast::{ReadNull as _, ReadOption as _, ReadValue as _};
                $(
                    if index == const {
                        $crate::wire::name_index($name::WIRE_MEMBERS, $crate::__wire_name!($field $(, $wire)?))
                    } {
                        let null = (&&&$crate::wire::Member::<$ty>(::core::marker::PhantomData))
                            .read_member(p, &mut self.$field)?;
                        self.nulls.set(index, null);
                        return Some(());
                    }
                )*
                None
            }

            #[inline]
            fn fast_extra(&mut self) -> &mut $crate::wire::Extra {
                &mut self.extra
            }
        }

        impl $crate::fast::FastValue for $name {
            #[inline]
            fn read(p: &mut $crate::fast::Parser<'_>) -> Option<Self> {
                let mut v = Self::default();
                $crate::fast::fill(p, &mut v)?;
                Some(v)
            }

            #[inline]
            fn read_into(p: &mut $crate::fast::Parser<'_>, slot: &mut Self) -> Option<()> {
                *slot = Self::default();
                $crate::fast::fill(p, slot)
            }

            #[inline]
            fn read_some(p: &mut $crate::fast::Parser<'_>, slot: &mut Option<Self>) -> Option<()> {
                $crate::fast::fill(p, slot.insert(Self::default()))
            }

            #[inline]
            fn read_push(p: &mut $crate::fast::Parser<'_>, list: &mut Vec<Self>) -> Option<()> {
                list.push(Self::default());
                $crate::fast::fill(p, list.last_mut()?)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::{decode, string_stop};

    crate::wire_struct! {
        /// Any `@fast` type gets a reader from its member list.
        @fast
        pub struct Leaf {
            /// A number.
            pub n: Option<u32>,
            /// Strings.
            pub tags: Vec<String>,
            /// A float: only `null` is read here.
            pub weight: Option<f64>,
        }
    }

    crate::wire_struct! {
        /// An outer object.
        @fast
        pub struct Root {
            /// Renamed.
            pub kind: String => "type",
            /// Nested, may be null.
            pub inner: Option<Leaf>,
            /// Always written.
            pub list: Vec<Leaf>,
            /// A flag.
            pub flag: Option<bool>,
            /// A plain number.
            pub count: i64,
        }
    }

    #[test]
    fn a_generated_reader_agrees_with_serde_or_gives_up() {
        for (data, taken) in [
            (
                r#"{"type":"a","inner":{"n":1,"tags":["x","y"],"weight":null},"flag":true}"#,
                true,
            ),
            (
                r#"{"list":[{"n":null},{}],"count":null,"z":{"q":[1]}}"#,
                true,
            ),
            (
                r#"{"inner":null,"inner":{"n":2},"type":null,"count":3,"count":4}"#,
                true,
            ),
            (r#" { "flag" : false , "list" : [ ] } "#, true),
            ("{}", true),
            (r#"{"inner":{"weight":0.5}}"#, false),
            (r#"{"count":-1}"#, false),
            (r#"{"typ\u0065":"a"}"#, false),
            (r#"{"list":[null]}"#, false),
            (r#"{"flag":1}"#, false),
            (r#"{"inner":{"n":4294967296}}"#, false),
            (r#"{"type":"a"} x"#, false),
        ] {
            let fast = decode::<Root>(data);
            match serde_json::from_str::<Root>(data) {
                Ok(want) => assert!(fast.as_ref().is_none_or(|got| *got == want), "{data}"),
                Err(_) => assert!(fast.is_none(), "{data}"),
            }
            assert_eq!(fast.is_some(), taken, "{data}: {fast:?}");
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
}
