//! Building blocks for forward-compatible wire types.
//!
//! Every JSON object type in this crate is declared with [`wire_struct!`](crate::wire_struct),
//! which generates a struct plus hand-rolled `Serialize` / `Deserialize` impls with three
//! properties that `#[derive(Deserialize)]` with `#[serde(flatten)]` cannot give cheaply:
//!
//! * **Unknown members are kept.** Anything the type does not know lands in `extra` and is
//!   written back on serialization, so a new field from the service survives a round trip.
//! * **Explicit `null`s are kept.** A known member the service sent as `null` is remembered (one
//!   bit in the struct's [`Nulls`], no allocation) and written back as `null`, while an absent
//!   member stays absent. This makes `parse → serialize` give the same keys, values and nulls the
//!   service sent, for `Option` members and plain ones (a `null` index comes back as `null`, not
//!   as `0`).
//! * **No buffering.** Members are decoded straight from the input without an intermediate
//!   `serde_json::Value` (which `flatten` forces), which keeps stream-chunk parsing fast.
//!
//! String enums use [`string_enum!`](crate::string_enum) (unknown values become `Unknown(String)`)
//! and `"type"`-tagged unions use [`tagged_enum!`](crate::tagged_enum) (unknown tags become
//! `Unknown(serde_json::Value)`).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// Whether `v` is its type's default (for `skip_serializing_if`).
pub(crate) fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// Members of a JSON object that a wire type does not know, kept verbatim.
pub type Extra = serde_json::Map<String, serde_json::Value>;

/// Serializes a wire struct's members into a map that is already open.
///
/// Implemented by every [`wire_struct!`](crate::wire_struct) type; [`tagged_enum!`](crate::tagged_enum)
/// uses it to write the `"type"` tag and the variant's members into one object.
pub trait WireFields {
    /// Writes every present member (known ones first, then `extra`) into `map`.
    ///
    /// # Errors
    ///
    /// Returns the serializer's error.
    fn serialize_fields<M: serde::ser::SerializeMap>(&self, map: &mut M) -> Result<(), M::Error>;
}

/// Decodes a wire struct's members one at a time from a map that is already open.
///
/// Implemented by every [`wire_struct!`](crate::wire_struct) type; [`tagged_enum!`](crate::tagged_enum)
/// uses it to decode a variant's members straight from the input once it has read the `"type"`
/// tag, without buffering the object.
pub trait WireVisit<'de>: Sized {
    /// Decodes the value of the member `key` from `map` into `self` (an unknown member goes to
    /// `extra`).
    ///
    /// # Errors
    ///
    /// Returns the deserializer's error (for example a value of the wrong type).
    fn visit_member<A: de::MapAccess<'de>>(
        &mut self,
        key: KeyStr<'de>,
        map: &mut A,
    ) -> Result<(), A::Error>;

    /// Decodes every remaining member of `map` into `self`.
    ///
    /// # Errors
    ///
    /// Returns the deserializer's error.
    fn visit_members<A: de::MapAccess<'de>>(&mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<KeyStr<'de>>()? {
            self.visit_member(key, &mut map)?;
        }
        Ok(())
    }
}

/// A tagged union's variant, from the members buffered before its `"type"` (usually none),
/// decoded through `serde_json::Value`.
#[doc(hidden)]
pub fn replay_members<T: serde::de::DeserializeOwned + Default, E: de::Error>(
    buffered: Extra,
) -> Result<T, E> {
    if buffered.is_empty() {
        return Ok(T::default());
    }
    T::deserialize(serde_json::Value::Object(buffered)).map_err(E::custom)
}

/// Decodes the rest of a map into `buffered` (used for objects whose tag is unknown).
#[doc(hidden)]
pub fn collect_rest<'de, A: de::MapAccess<'de>>(
    buffered: &mut Extra,
    mut map: A,
) -> Result<(), A::Error> {
    while let Some(key) = map.next_key::<KeyStr<'de>>()? {
        let v = map.next_value::<serde_json::Value>()?;
        buffered.insert(key.into_owned(), v);
    }
    Ok(())
}

/// An object key, borrowed from the input when it holds no escapes.
#[doc(hidden)]
#[derive(Debug)]
pub enum KeyStr<'de> {
    /// Borrowed from the input.
    Borrowed(&'de str),
    /// Owned (the key had escapes, or the input is not contiguous).
    Owned(String),
}

impl KeyStr<'_> {
    /// The key as a string slice.
    #[inline]
    pub fn as_str(&self) -> &str {
        match self {
            KeyStr::Borrowed(s) => s,
            KeyStr::Owned(s) => s,
        }
    }

    /// The key as an owned string.
    #[inline]
    pub fn into_owned(self) -> String {
        match self {
            KeyStr::Borrowed(s) => s.to_owned(),
            KeyStr::Owned(s) => s,
        }
    }
}

impl<'de> Deserialize<'de> for KeyStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(KeyStr::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(KeyStr::Owned(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(KeyStr::Owned(v))
            }
        }
        d.deserialize_str(V)
    }
}

/// The known members of a wire type that the input sent as an explicit `null`.
///
/// One bit per known member, in declaration order (a [`wire_struct!`](crate::wire_struct) type
/// has at most 64 known members). Remembering a `null` costs no allocation, and it is written
/// back as `null` while the member still holds what the `null` decoded to: `None` for an
/// `Option` member, the default value for any other member. Setting a value wins over the
/// remembered `null`. Every wire type also has accessors by wire name: `is_explicit_null`,
/// `set_explicit_null` and `explicit_nulls`.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Nulls(u64);

impl Nulls {
    /// Whether no member is marked.
    #[inline]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether the member at `index` (declaration order) is marked.
    #[inline]
    pub fn contains(self, index: usize) -> bool {
        index < 64 && self.0 & (1 << index) != 0
    }

    /// Marks or unmarks the member at `index`; indexes past 63 are ignored.
    #[inline]
    pub fn set(&mut self, index: usize, null: bool) {
        if index < 64 {
            if null {
                self.0 |= 1 << index;
            } else {
                self.0 &= !(1 << index);
            }
        }
    }

    /// The marked indexes, lowest first.
    pub fn indexes(self) -> impl Iterator<Item = usize> {
        (0..64).filter(move |i| self.0 & (1 << i) != 0)
    }
}

impl fmt::Debug for Nulls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.indexes()).finish()
    }
}

/// Shows a [`Nulls`] set by member names (used by the generated `Debug` impls).
#[doc(hidden)]
pub struct NullNames(pub &'static [&'static str], pub Nulls);

impl fmt::Debug for NullNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.1.indexes().filter_map(|i| self.0.get(i)))
            .finish()
    }
}

/// The position of `name` in `names` (a compile-time lookup for the generated code).
#[doc(hidden)]
pub const fn name_index(names: &[&str], name: &str) -> usize {
    let mut i = 0;
    while i < names.len() {
        let a = names[i].as_bytes();
        let b = name.as_bytes();
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("wire_struct!: member name not found")
}

/// The position of `name` in `names` (for the generated code).
#[doc(hidden)]
pub fn member_position(names: &[&str], name: &str) -> Option<usize> {
    names.iter().position(|m| *m == name)
}

/// Picks how the generated code handles a member, by its type (autoref specialization):
/// [`OptionMember`] is implemented on `Member<Option<T>>` and wins over the blanket
/// [`AnyMember`] on `&Member<T>`, so `(&Member::<T>(PhantomData)).wire_…(…)` resolves at
/// compile time. An `Option` member is absent when `None` and decodes `null` as `None`; any other member is
/// always written and decodes `null` as its default. (`fast.rs` picks its readers the same way.)
#[doc(hidden)]
pub struct Member<T>(pub std::marker::PhantomData<T>);

macro_rules! member_trait {
    ($name:ident) => {
        /// See [`Member`].
        #[doc(hidden)]
        pub trait $name {
            /// The member's type.
            type Out;
            /// Whether the member is left out of the output.
            fn wire_is_absent(&self, v: &Self::Out) -> bool;
            /// Whether the member holds what an explicit `null` decodes to (so a remembered
            /// `null` is written back instead of it).
            fn wire_is_null_like(&self, v: &Self::Out) -> bool;
            /// Decodes the next value of `map`; `true` when it was `null`.
            ///
            /// # Errors
            ///
            /// Returns the deserializer's error.
            fn wire_decode<'de, A: de::MapAccess<'de>>(
                &self,
                map: &mut A,
            ) -> Result<(Self::Out, bool), A::Error>
            where
                Self::Out: Deserialize<'de>;
        }
    };
}

member_trait!(OptionMember);
member_trait!(AnyMember);

impl<T> OptionMember for Member<Option<T>> {
    type Out = Option<T>;
    #[inline]
    fn wire_is_absent(&self, v: &Option<T>) -> bool {
        v.is_none()
    }
    #[inline]
    fn wire_is_null_like(&self, v: &Option<T>) -> bool {
        v.is_none()
    }
    #[inline]
    fn wire_decode<'de, A: de::MapAccess<'de>>(
        &self,
        map: &mut A,
    ) -> Result<(Option<T>, bool), A::Error>
    where
        Option<T>: Deserialize<'de>,
    {
        let v = map.next_value::<Option<T>>()?;
        let null = v.is_none();
        Ok((v, null))
    }
}

impl<T: Default + PartialEq> AnyMember for &Member<T> {
    type Out = T;
    #[inline]
    fn wire_is_absent(&self, _: &T) -> bool {
        false
    }
    #[inline]
    fn wire_is_null_like(&self, v: &T) -> bool {
        *v == T::default()
    }
    #[inline]
    fn wire_decode<'de, A: de::MapAccess<'de>>(&self, map: &mut A) -> Result<(T, bool), A::Error>
    where
        T: Deserialize<'de>,
    {
        Ok(match map.next_value::<Option<T>>()? {
            Some(v) => (v, false),
            None => (T::default(), true),
        })
    }
}

/// The wire name of a member: the explicit literal if given, else the field name.
#[doc(hidden)]
#[macro_export]
macro_rules! __wire_name {
    ($field:ident) => {
        stringify!($field)
    };
    ($field:ident, $wire:literal) => {
        $wire
    };
}

/// What a generated setter (`@setters` in [`wire_struct!`](crate::wire_struct)) accepts for a
/// member of type `M`: the value itself for a number or a bool (so `max_tokens(100)` needs no
/// suffix), anything that converts `Into` the member's type otherwise (`stop("END")`); an
/// `Option` member is set to `Some`.
pub trait Arg<M> {
    /// The member's new value.
    fn into_member(self) -> M;
}

/// Marks the types whose setters take anything `Into` them: every
/// [`wire_struct!`](crate::wire_struct), [`string_enum!`](crate::string_enum) and
/// [`tagged_enum!`](crate::tagged_enum) type, the hand-written wire enums, strings, lists and
/// JSON values (numbers and bools are taken as they are, see [`Arg`]).
pub trait WireValue {}

impl<A: Into<T>, T: WireValue> Arg<T> for A {
    #[inline]
    fn into_member(self) -> T {
        self.into()
    }
}

impl<A: Into<T>, T: WireValue> Arg<Option<T>> for A {
    #[inline]
    fn into_member(self) -> Option<T> {
        Some(self.into())
    }
}

macro_rules! plain_args {
    ($($t:ty),*) => {$(
        impl Arg<$t> for $t {
            #[inline]
            fn into_member(self) -> $t {
                self
            }
        }
        impl Arg<Option<$t>> for $t {
            #[inline]
            fn into_member(self) -> Option<$t> {
                Some(self)
            }
        }
    )*};
}

plain_args!(bool, u32, u64, i64, f64);

/// A float member (`temperature`, `fps`, `logprob`, …) is a [`serde_json::Number`], so that an
/// integer the service or a caller sent (`"fps": 2`) is written back as it came (`2`, not
/// `2.0`). Its setter takes an `f64`; a non-finite one, which JSON cannot carry, clears it.
impl Arg<Option<serde_json::Number>> for f64 {
    #[inline]
    fn into_member(self) -> Option<serde_json::Number> {
        serde_json::Number::from_f64(self)
    }
}

impl WireValue for String {}
impl<T> WireValue for Vec<T> {}
impl WireValue for serde_json::Value {}
impl WireValue for Extra {}

/// Marks the [`string_enum!`](crate::string_enum) types (and `String`): read from a JSON string.
#[doc(hidden)]
pub trait WireStr: for<'a> From<&'a str> + From<String> {}

impl WireStr for String {}

/// The options of [`wire_struct!`](crate::wire_struct), one at a time.
#[doc(hidden)]
#[macro_export]
macro_rules! __wire_options {
    ([] $($rest:tt)*) => {};
    ([setters $($opts:tt)*] $name:ident $fields:tt) => {
        $crate::__wire_setters! { $name, $name, [] $fields }
        $crate::__wire_options! { [$($opts)*] $name $fields }
    };
    ([forward($target:ident . $via:ident) $($opts:tt)*] $name:ident $fields:tt) => {
        $crate::__wire_setters! { $target, $name, [$via] $fields }
        $crate::__wire_options! { [$($opts)*] $name $fields }
    };
    ([fast $($opts:tt)*] $name:ident $fields:tt) => {
        $crate::__wire_fast! { $name $fields }
        $crate::__wire_options! { [$($opts)*] $name $fields }
    };
}

/// The setters of `@setters` (`[]`: on the type itself) and `@forward` (`[accessor]`).
#[doc(hidden)]
#[macro_export]
macro_rules! __wire_setters {
    ($target:ident, $name:ident, $via:tt {
        $( [$($flag:ident)?] $field:ident : $ty:ty $(=> $wire:literal)? ),*
    }) => {
        impl $target {
            $( $crate::__wire_setter! { [$($flag)?] $name $via $field : $ty } )*
        }
    };
}

/// One setter (none for a member marked `@manual`).
#[doc(hidden)]
#[macro_export]
macro_rules! __wire_setter {
    ([manual] $($rest:tt)*) => {};
    ([] $name:ident [] $field:ident : $ty:ty) => {
        #[doc = concat!("Sets [`", stringify!($field), "`](field@", stringify!($name), "::", stringify!($field), ").")]
        pub fn $field(mut self, v: impl $crate::wire::Arg<$ty>) -> Self {
            self.$field = $crate::wire::Arg::into_member(v);
            self
        }
    };
    ([] $name:ident [$via:ident] $field:ident : $ty:ty) => {
        #[doc = concat!("Sets [`", stringify!($field), "`](field@", stringify!($name), "::", stringify!($field), ") (in `", stringify!($via), "()`).")]
        pub fn $field(mut self, v: impl $crate::wire::Arg<$ty>) -> Self {
            self.$via().$field = $crate::wire::Arg::into_member(v);
            self
        }
    };
}

/// Declares a JSON object type that keeps unknown members and explicit nulls.
///
/// ```
/// dashscope_protocol::wire_struct! {
///     /// A point.
///     pub struct Point {
///         /// Horizontal.
///         pub x: Option<i64>,
///         /// The kind, named `type` on the wire.
///         pub kind: Option<String> => "type",
///         /// Always written, even when empty.
///         pub tags: Vec<String>,
///     }
/// }
///
/// let p: Point = serde_json::from_str(r#"{"x":1,"type":null,"tags":[],"new":true}"#).unwrap();
/// assert_eq!(p.x, Some(1));
/// assert_eq!(p.kind, None);
/// assert_eq!(p.extra["new"], serde_json::json!(true));
/// let back = serde_json::to_value(&p).unwrap();
/// assert_eq!(back, serde_json::json!({"x":1,"type":null,"tags":[],"new":true}));
/// ```
///
/// Rules: `Option<T>` members are written only when `Some` (or when the input had an explicit
/// `null`); every other member is always written and must implement `Default` and `PartialEq`
/// (the default is used when the member is absent or `null`; a `null` is written back while the
/// member still equals its default). The generated struct derives `Clone`, `Default` and
/// `PartialEq`, implements `Debug` (its explicit `null`s shown by name), and gets a public
/// `extra: Extra` member (unknown members) and a public `nulls: Nulls` member (explicit `null`s).
/// Build one with `..Default::default()` so that both start empty.
///
/// Options, written before `struct` (after the doc comment):
///
/// * `@setters`: a chainable setter per member, `fn member(self, v) -> Self`, which takes the
///   member's own type for numbers and bools and anything `Into` it otherwise (see [`Arg`]). A
///   member marked `@manual` gets none (its hand-written setter does more than set it).
/// * `@forward = Target.accessor`: the same setters on `Target`, setting the member of the
///   `&mut Self` that `Target::accessor` returns (native `GenerationRequest` → `parameters`).
/// * `@fast` (crate-internal): a fast-path reader generated from the member list, for stream
///   payload types (see `fast.rs`).
///
/// ```
/// dashscope_protocol::wire_struct! {
///     /// Sampling settings.
///     @setters
///     pub struct Sampling {
///         /// Temperature.
///         pub temperature: Option<f64>,
///         /// The most tokens.
///         pub max_tokens: Option<u32>,
///         /// A stop word.
///         pub stop: Option<String>,
///     }
/// }
///
/// let s = Sampling::default().temperature(0.5).max_tokens(100).stop("END");
/// assert_eq!(serde_json::to_string(&s).unwrap(), r#"{"temperature":0.5,"max_tokens":100,"stop":"END"}"#);
/// ```
#[macro_export]
macro_rules! wire_struct {
    (
        $(#[$meta:meta])*
        $(@$opt:ident $(= $target:ident . $via:ident)?)*
        $vis:vis struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $(@$flag:ident)?
                $fvis:vis $field:ident : $ty:ty $(=> $wire:literal)?
            ),* $(,)?
        }
    ) => {
        $crate::__wire_options! {
            [$($opt $(($target . $via))?)*] $name { $( [$($flag)?] $field : $ty $(=> $wire)? ),* }
        }

        $(#[$meta])*
        #[derive(Clone, Default, PartialEq)]
        $vis struct $name {
            $(
                $(#[$fmeta])*
                $fvis $field: $ty,
            )*
            /// Members this type does not know, kept verbatim and written back on serialization.
            pub extra: $crate::wire::Extra,
            /// Known members the input sent as an explicit `null` (see [`Nulls`]).
            ///
            /// [`Nulls`]: $crate::wire::Nulls
            pub nulls: $crate::wire::Nulls,
        }

        impl $crate::wire::WireValue for $name {}

        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                let mut d = f.debug_struct(stringify!($name));
                $( d.field(stringify!($field), &self.$field); )*
                d.field("extra", &self.extra);
                d.field("nulls", &$crate::wire::NullNames(Self::WIRE_MEMBERS, self.nulls));
                d.finish()
            }
        }

        #[allow(dead_code)]
        impl $name {
            /// The wire names of the known members, in declaration order.
            pub const WIRE_MEMBERS: &'static [&'static str] =
                &[$($crate::__wire_name!($field $(, $wire)?)),*];

            const __WIRE_FITS: () = assert!(
                Self::WIRE_MEMBERS.len() <= 64,
                "wire_struct!: at most 64 known members"
            );

            /// Whether the known member `member` (its wire name) was an explicit `null` that is
            /// still written back as `null`.
            pub fn is_explicit_null(&self, member: &str) -> bool {
                match $crate::wire::member_position(Self::WIRE_MEMBERS, member) {
                    Some(i) => self.nulls.contains(i) && self.__wire_state(i).1,
                    None => false,
                }
            }

            /// Marks (or unmarks) the known member `member` (its wire name) as an explicit
            /// `null`. Returns `false` when the type has no such member.
            pub fn set_explicit_null(&mut self, member: &str, null: bool) -> bool {
                match $crate::wire::member_position(Self::WIRE_MEMBERS, member) {
                    Some(i) => {
                        self.nulls.set(i, null);
                        true
                    }
                    None => false,
                }
            }

            /// The wire names of the members written back as explicit `null`s.
            pub fn explicit_nulls(&self) -> impl Iterator<Item = &'static str> + '_ {
                Self::WIRE_MEMBERS
                    .iter()
                    .copied()
                    .filter(move |m| self.is_explicit_null(m))
            }

            /// Whether a known member named `key` is written (a value or a remembered `null`).
            fn __wire_writes(&self, key: &str) -> bool {
                match $crate::wire::member_position(Self::WIRE_MEMBERS, key) {
                    Some(i) => {
                        let (absent, null_like) = self.__wire_state(i);
                        !absent || (self.nulls.contains(i) && null_like)
                    }
                    None => false,
                }
            }

            /// Whether the member at `index` is left out of the output, and whether it holds
            /// what an explicit `null` decodes to (see `wire::Member`).
            #[allow(unused_imports, unused_variables)]
            fn __wire_state(&self, index: usize) -> (bool, bool) {
                use $crate::wire::{AnyMember as _, OptionMember as _};
                $(
                    if index == const {
                        $crate::wire::name_index($name::WIRE_MEMBERS, $crate::__wire_name!($field $(, $wire)?))
                    } {
                        let m = &$crate::wire::Member::<$ty>(::core::marker::PhantomData);
                        return (m.wire_is_absent(&self.$field), m.wire_is_null_like(&self.$field));
                    }
                )*
                (true, false)
            }
        }

        impl $crate::wire::WireFields for $name {
            #[allow(unused_imports, unused_variables, clippy::let_unit_value)]
            fn serialize_fields<M: ::serde::ser::SerializeMap>(
                &self,
                map: &mut M,
            ) -> ::core::result::Result<(), M::Error> {
                use $crate::wire::{AnyMember as _, OptionMember as _};
                let () = Self::__WIRE_FITS;
                let nulls = self.nulls;
                $(
                    if !nulls.is_empty()
                        && nulls.contains(const {
                            $crate::wire::name_index(
                                $name::WIRE_MEMBERS,
                                $crate::__wire_name!($field $(, $wire)?),
                            )
                        })
                        && (&$crate::wire::Member::<$ty>(::core::marker::PhantomData)).wire_is_null_like(&self.$field)
                    {
                        map.serialize_entry($crate::__wire_name!($field $(, $wire)?), &())?;
                    } else if !(&$crate::wire::Member::<$ty>(::core::marker::PhantomData)).wire_is_absent(&self.$field) {
                        map.serialize_entry($crate::__wire_name!($field $(, $wire)?), &self.$field)?;
                    }
                )*
                for (k, v) in &self.extra {
                    // A known member put into `extra` by hand is shadowed by the member itself.
                    if self.__wire_writes(k) {
                        continue;
                    }
                    map.serialize_entry(k, v)?;
                }
                Ok(())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> ::core::result::Result<S::Ok, S::Error> {
                use ::serde::ser::SerializeMap as _;
                let mut map = s.serialize_map(None)?;
                $crate::wire::WireFields::serialize_fields(self, &mut map)?;
                map.end()
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::core::result::Result<Self, D::Error> {
                struct V;
                impl<'de> ::serde::de::Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                        f.write_str(concat!("a JSON object (", stringify!($name), ")"))
                    }
                    fn visit_map<A: ::serde::de::MapAccess<'de>>(
                        self,
                        map: A,
                    ) -> ::core::result::Result<$name, A::Error> {
                        let mut out = <$name as ::core::default::Default>::default();
                        $crate::wire::WireVisit::visit_members(&mut out, map)?;
                        Ok(out)
                    }
                }
                d.deserialize_map(V)
            }
        }

        impl<'de> $crate::wire::WireVisit<'de> for $name {
            fn visit_member<A: ::serde::de::MapAccess<'de>>(
                &mut self,
                key: $crate::wire::KeyStr<'de>,
                map: &mut A,
            ) -> ::core::result::Result<(), A::Error> {
                match key.as_str() {
                    $(
                        $crate::__wire_name!($field $(, $wire)?) => {
                            const I: usize = $crate::wire::name_index(
                                $name::WIRE_MEMBERS,
                                $crate::__wire_name!($field $(, $wire)?),
                            );
                            // The last occurrence of a duplicated member wins.
                            #[allow(unused_imports)]
                            use $crate::wire::{AnyMember as _, OptionMember as _};
                            let (v, null) = (&$crate::wire::Member::<$ty>(::core::marker::PhantomData)).wire_decode(map)?;
                            self.$field = v;
                            self.nulls.set(I, null);
                        }
                    )*
                    _ => {
                        let v = map.next_value::<::serde_json::Value>()?;
                        self.extra.insert(key.into_owned(), v);
                    }
                }
                Ok(())
            }
        }
    };
}

/// Declares a string-valued enum whose unknown values become `Unknown(String)`.
///
/// ```
/// dashscope_protocol::string_enum! {
///     /// A colour.
///     pub enum Colour {
///         /// Red.
///         Red = "red",
///         /// Light blue.
///         LightBlue = "light_blue",
///     }
/// }
///
/// let c: Colour = serde_json::from_str(r#""light_blue""#).unwrap();
/// assert_eq!(c, Colour::LightBlue);
/// let u: Colour = serde_json::from_str(r#""ultraviolet""#).unwrap();
/// assert_eq!(u, Colour::Unknown("ultraviolet".into()));
/// assert_eq!(serde_json::to_string(&u).unwrap(), r#""ultraviolet""#);
/// ```
#[macro_export]
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $wire:literal
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        $vis enum $name {
            $(
                $(#[$vmeta])*
                $variant,
            )*
            /// A value this version does not know, kept verbatim.
            Unknown(::std::string::String),
        }

        impl $crate::wire::WireValue for $name {}
        impl $crate::wire::WireStr for $name {}

        impl $name {
            /// The value as it appears on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $wire, )*
                    $name::Unknown(s) => s.as_str(),
                }
            }
        }

        impl ::core::convert::From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $( $wire => $name::$variant, )*
                    other => $name::Unknown(other.to_owned()),
                }
            }
        }

        impl ::core::convert::From<::std::string::String> for $name {
            fn from(s: ::std::string::String) -> Self {
                match s.as_str() {
                    $( $wire => $name::$variant, )*
                    _ => $name::Unknown(s),
                }
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> ::core::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::core::result::Result<Self, D::Error> {
                let key = <$crate::wire::KeyStr<'de> as ::serde::Deserialize>::deserialize(d)?;
                Ok(match key {
                    $crate::wire::KeyStr::Borrowed(s) => $name::from(s),
                    $crate::wire::KeyStr::Owned(s) => $name::from(s),
                })
            }
        }
    };
}

/// Declares a union of objects told apart by their `"type"` member.
///
/// Each variant wraps a [`wire_struct!`](crate::wire_struct) type that does not itself declare
/// the `type` member. An unknown or missing tag becomes `Unknown(serde_json::Value)` holding the
/// whole object.
///
/// ```
/// dashscope_protocol::wire_struct! {
///     /// Text.
///     pub struct TextPart {
///         /// The text.
///         pub text: String,
///     }
/// }
/// dashscope_protocol::tagged_enum! {
///     /// A part.
///     pub enum Part {
///         /// Text.
///         Text(TextPart) = "text",
///     }
/// }
///
/// let p: Part = serde_json::from_str(r#"{"type":"text","text":"hi"}"#).unwrap();
/// assert!(matches!(&p, Part::Text(t) if t.text == "hi"));
/// let u: Part = serde_json::from_str(r#"{"type":"hologram","x":1}"#).unwrap();
/// assert_eq!(u.type_name(), Some("hologram"));
/// assert_eq!(serde_json::to_string(&u).unwrap(), r#"{"type":"hologram","x":1}"#);
/// ```
#[macro_export]
macro_rules! tagged_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident($inner:ty) = $wire:literal
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq)]
        $vis enum $name {
            $(
                $(#[$vmeta])*
                $variant($inner),
            )*
            /// An object whose `type` this version does not know (or that has none), kept verbatim.
            Unknown(::serde_json::Value),
        }

        impl $crate::wire::WireValue for $name {}

        impl $name {
            /// The `type` tag, as on the wire (`None` for an untagged unknown object).
            pub fn type_name(&self) -> ::core::option::Option<&str> {
                match self {
                    $( $name::$variant(_) => Some($wire), )*
                    $name::Unknown(v) => v.get("type").and_then(|t| t.as_str()),
                }
            }
        }

        $(
            impl ::core::convert::From<$inner> for $name {
                fn from(v: $inner) -> Self {
                    $name::$variant(v)
                }
            }
        )*

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> ::core::result::Result<S::Ok, S::Error> {
                use ::serde::ser::SerializeMap as _;
                match self {
                    $(
                        $name::$variant(inner) => {
                            let mut map = s.serialize_map(None)?;
                            map.serialize_entry("type", $wire)?;
                            $crate::wire::WireFields::serialize_fields(inner, &mut map)?;
                            map.end()
                        }
                    )*
                    $name::Unknown(v) => ::serde::Serialize::serialize(v, s),
                }
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::core::result::Result<Self, D::Error> {
                struct V;
                impl<'de> ::serde::de::Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                        f.write_str(concat!("a JSON object (", stringify!($name), ")"))
                    }
                    fn visit_map<A: ::serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> ::core::result::Result<$name, A::Error> {
                        // Members before the tag are buffered (usually none: the tag comes first);
                        // once the tag is known the variant decodes the rest straight from the input.
                        let mut buffered = $crate::wire::Extra::new();
                        while let Some(key) = map.next_key::<$crate::wire::KeyStr<'de>>()? {
                            if key.as_str() != "type" {
                                let v = map.next_value::<::serde_json::Value>()?;
                                buffered.insert(key.into_owned(), v);
                                continue;
                            }
                            let tag = map.next_value::<::serde_json::Value>()?;
                            match tag.as_str() {
                                $(
                                    Some($wire) => {
                                        let mut inner: $inner = $crate::wire::replay_members::<_, A::Error>(buffered)?;
                                        while let Some(key) = map.next_key::<$crate::wire::KeyStr<'de>>()? {
                                            if key.as_str() != "type" {
                                                $crate::wire::WireVisit::visit_member(&mut inner, key, &mut map)?;
                                                continue;
                                            }
                                            // A repeated tag: harmless when it repeats the value; a
                                            // different one makes the object ambiguous (the members
                                            // read so far were decoded for the first), so it is an error.
                                            let again = map.next_value::<::serde_json::Value>()?;
                                            if again.as_str() == Some($wire) {
                                                continue;
                                            }
                                            return Err(<A::Error as ::serde::de::Error>::custom(concat!(
                                                "a `type` member given twice with different values (",
                                                stringify!($name), ")"
                                            )));
                                        }
                                        return Ok($name::$variant(inner));
                                    }
                                )*
                                _ => {
                                    let first = tag.clone();
                                    buffered.insert("type".to_owned(), tag);
                                    $crate::wire::collect_rest(&mut buffered, map)?;
                                    if buffered.get("type") != Some(&first) {
                                        // A repeated tag: the last one wins, and it may be known.
                                        return <$name as ::serde::Deserialize>::deserialize(
                                            ::serde_json::Value::Object(buffered),
                                        )
                                        .map_err(<A::Error as ::serde::de::Error>::custom);
                                    }
                                    return Ok($name::Unknown(::serde_json::Value::Object(buffered)));
                                }
                            }
                        }
                        Ok($name::Unknown(::serde_json::Value::Object(buffered)))
                    }
                }
                d.deserialize_map(V)
            }
        }
    };
}

/// The wire traits of a "a string, or something richer" member (message `content`, `input`,
/// `tool_choice`, `conversation`): `enum $name { $s(String-like), $o($ty) }`, read without
/// buffering from a JSON string or (`$visit` `visit_seq` / `visit_map`, with the matching
/// `$access` and `$deser`) a list or an object; with `else $u`, any other JSON value (an
/// object, a number, a bool) becomes `$u(serde_json::Value)` (native `content`). Plus
/// `WireValue` and `From` a string and a `$ty`.
macro_rules! string_or {
    ($name:ident, $s:ident, $o:ident($ty:ty), $visit:ident, $access:ident, $deser:ident, $expecting:literal $(, else $u:ident)?) => {
        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    $name::$s(v) => ::serde::Serialize::serialize(v, s),
                    $name::$o(v) => ::serde::Serialize::serialize(v, s),
                    $( $name::$u(v) => ::serde::Serialize::serialize(v, s), )?
                }
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> ::serde::de::Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: ::serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        Ok($name::$s(v.into()))
                    }
                    fn visit_string<E: ::serde::de::Error>(self, v: String) -> Result<$name, E> {
                        Ok($name::$s(v.into()))
                    }
                    fn $visit<A: ::serde::de::$access<'de>>(self, a: A) -> Result<$name, A::Error> {
                        ::serde::Deserialize::deserialize(::serde::de::value::$deser::new(a))
                            .map($name::$o)
                    }
                    $(
                        fn visit_map<A: ::serde::de::MapAccess<'de>>(self, a: A) -> Result<$name, A::Error> {
                            let d = ::serde::de::value::MapAccessDeserializer::new(a);
                            ::serde::Deserialize::deserialize(d).map($name::$u)
                        }
                        fn visit_bool<E: ::serde::de::Error>(self, v: bool) -> Result<$name, E> {
                            Ok($name::$u(v.into()))
                        }
                        fn visit_i64<E: ::serde::de::Error>(self, v: i64) -> Result<$name, E> {
                            Ok($name::$u(v.into()))
                        }
                        fn visit_u64<E: ::serde::de::Error>(self, v: u64) -> Result<$name, E> {
                            Ok($name::$u(v.into()))
                        }
                        fn visit_f64<E: ::serde::de::Error>(self, v: f64) -> Result<$name, E> {
                            Ok($name::$u(v.into()))
                        }
                    )?
                }
                d.deserialize_any(V)
            }
        }

        impl $crate::wire::WireValue for $name {}

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name::$s(s.into())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name::$s(s.into())
            }
        }

        impl From<$ty> for $name {
            fn from(v: $ty) -> Self {
                $name::$o(v)
            }
        }
    };
}

pub(crate) use string_or;
