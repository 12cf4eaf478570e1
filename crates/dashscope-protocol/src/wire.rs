//! Building blocks for forward-compatible wire types.
//!
//! Every JSON object type in this crate is declared with [`wire_struct!`](crate::wire_struct),
//! which generates a struct plus hand-rolled `Serialize` / `Deserialize` impls with three
//! properties that `#[derive(Deserialize)]` with `#[serde(flatten)]` cannot give cheaply:
//!
//! * **Unknown members are kept.** Anything the type does not know lands in `extra` and is
//!   written back on serialization, so a new field from the service survives a round trip.
//! * **Explicit `null`s are kept.** A known member the service sent as `null` is remembered (as a
//!   `null` in `extra`) and written back as `null`, while an absent member stays absent. This
//!   makes `parse → serialize` give the same keys, values and nulls the service sent.
//! * **No buffering.** Members are decoded straight from the input without an intermediate
//!   `serde_json::Value` (which `flatten` forces), which keeps stream-chunk parsing fast.
//!
//! String enums use [`string_enum!`](crate::string_enum) (unknown values become `Unknown(String)`)
//! and `"type"`-tagged unions use [`tagged_enum!`](crate::tagged_enum) (unknown tags become
//! `Unknown(serde_json::Value)`).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

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

/// Wraps a field for the "is it absent?" probe used by the generated serializers.
///
/// `Option` fields are absent when `None`; every other field is always written. The choice is
/// made at compile time by method resolution (autoref specialization): [`AbsentOption`] is
/// implemented on `Probe<Option<T>>` and wins over the blanket [`AbsentAny`] on `&Probe<T>`.
#[doc(hidden)]
pub struct Probe<'a, T>(pub &'a T);

/// See [`Probe`].
#[doc(hidden)]
pub trait AbsentOption {
    /// Whether the member should be left out of the output.
    fn wire_is_absent(&self) -> bool;
}

impl<T> AbsentOption for Probe<'_, Option<T>> {
    #[inline]
    fn wire_is_absent(&self) -> bool {
        self.0.is_none()
    }
}

/// See [`Probe`].
#[doc(hidden)]
pub trait AbsentAny {
    /// Whether the member should be left out of the output.
    fn wire_is_absent(&self) -> bool;
}

impl<T> AbsentAny for &Probe<'_, T> {
    #[inline]
    fn wire_is_absent(&self) -> bool {
        false
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
/// `null`); every other member is always written and must implement `Default` (used when the
/// member is absent from the input). The generated struct derives `Clone`, `Debug`, `Default`
/// and `PartialEq`, and gets a public `extra: Extra` member.
#[macro_export]
macro_rules! wire_struct {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $fvis:vis $field:ident : $ty:ty $(=> $wire:literal)?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq)]
        $vis struct $name {
            $(
                $(#[$fmeta])*
                $fvis $field: $ty,
            )*
            /// Members this type does not know (and explicit `null`s of known ones), kept verbatim
            /// and written back on serialization.
            pub extra: $crate::wire::Extra,
        }

        impl $name {
            /// Whether a known member named `key` holds a value that will be written.
            #[allow(unused_imports, dead_code)]
            fn __wire_has_value(&self, key: &str) -> bool {
                use $crate::wire::{AbsentAny as _, AbsentOption as _};
                match key {
                    $(
                        $crate::__wire_name!($field $(, $wire)?) =>
                            !(&$crate::wire::Probe(&self.$field)).wire_is_absent(),
                    )*
                    _ => false,
                }
            }
        }

        impl $crate::wire::WireFields for $name {
            #[allow(unused_imports)]
            fn serialize_fields<M: ::serde::ser::SerializeMap>(
                &self,
                map: &mut M,
            ) -> ::core::result::Result<(), M::Error> {
                use $crate::wire::{AbsentAny as _, AbsentOption as _};
                $(
                    if !(&$crate::wire::Probe(&self.$field)).wire_is_absent() {
                        map.serialize_entry($crate::__wire_name!($field $(, $wire)?), &self.$field)?;
                    }
                )*
                for (k, v) in &self.extra {
                    // A remembered explicit null is shadowed by a value set since.
                    if v.is_null() && self.__wire_has_value(k) {
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
                        mut map: A,
                    ) -> ::core::result::Result<$name, A::Error> {
                        let mut out = <$name as ::core::default::Default>::default();
                        while let Some(key) = map.next_key::<$crate::wire::KeyStr<'de>>()? {
                            match key.as_str() {
                                $(
                                    $crate::__wire_name!($field $(, $wire)?) => {
                                        // The last occurrence of a duplicated member wins.
                                        match map.next_value::<::core::option::Option<$ty>>()? {
                                            Some(v) => {
                                                out.$field = v;
                                                if !out.extra.is_empty() {
                                                    out.extra.remove(key.as_str());
                                                }
                                            }
                                            None => {
                                                out.$field = ::core::default::Default::default();
                                                out.extra.insert(key.into_owned(), ::serde_json::Value::Null);
                                            }
                                        }
                                    }
                                )*
                                _ => {
                                    let v = map.next_value::<::serde_json::Value>()?;
                                    out.extra.insert(key.into_owned(), v);
                                }
                            }
                        }
                        Ok(out)
                    }
                }
                d.deserialize_map(V)
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
                let mut value = <::serde_json::Value as ::serde::Deserialize>::deserialize(d)?;
                let tag = match &value {
                    ::serde_json::Value::Object(map) => match map.get("type") {
                        Some(::serde_json::Value::String(t)) => Some(t.clone()),
                        _ => None,
                    },
                    _ => {
                        return Err(<D::Error as ::serde::de::Error>::custom(concat!(
                            "expected a JSON object (", stringify!($name), ")"
                        )))
                    }
                };
                match tag.as_deref() {
                    $(
                        Some($wire) => {
                            if let ::serde_json::Value::Object(map) = &mut value {
                                map.remove("type");
                            }
                            <$inner as ::serde::Deserialize>::deserialize(value)
                                .map($name::$variant)
                                .map_err(<D::Error as ::serde::de::Error>::custom)
                        }
                    )*
                    _ => Ok($name::Unknown(value)),
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    crate::wire_struct! {
        /// Inner.
        pub struct Inner {
            /// A number.
            pub n: Option<u32>,
        }
    }

    crate::wire_struct! {
        /// Outer.
        pub struct Outer {
            /// Name.
            pub name: Option<String>,
            /// Nested, may be null.
            pub inner: Option<Inner>,
            /// Always written.
            pub list: Vec<Inner>,
            /// Renamed.
            pub kind: Option<String> => "type",
            /// Nullable option of option.
            pub maybe: Option<Option<String>>,
        }
    }

    #[test]
    fn keeps_unknown_members_and_nulls() {
        let src = json!({"name":"a","inner":null,"list":[{"n":1,"z":[1,2]}],"type":"t","new":{"deep":true}});
        let v: Outer = serde_json::from_value(src.clone()).unwrap();
        assert_eq!(v.name.as_deref(), Some("a"));
        assert_eq!(v.inner, None);
        assert_eq!(v.list[0].n, Some(1));
        assert_eq!(v.kind.as_deref(), Some("t"));
        assert_eq!(serde_json::to_value(&v).unwrap(), src);
        // And from a string (borrowed keys path).
        let v2: Outer = serde_json::from_str(&src.to_string()).unwrap();
        assert_eq!(v, v2);
    }

    #[test]
    fn absent_stays_absent_and_required_is_written() {
        let v: Outer = serde_json::from_str("{}").unwrap();
        assert_eq!(serde_json::to_value(&v).unwrap(), json!({"list":[]}));
    }

    #[test]
    fn value_set_after_null_shadows_the_null() {
        let mut v: Outer = serde_json::from_str(r#"{"name":null}"#).unwrap();
        v.name = Some("x".into());
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"name":"x","list":[]}"#
        );
    }

    #[test]
    fn escaped_keys_match() {
        let v: Outer = serde_json::from_str(r#"{"n\u0061me":"q"}"#).unwrap();
        assert_eq!(v.name.as_deref(), Some("q"));
    }

    #[test]
    fn option_of_option_distinguishes_null() {
        let v: Outer = serde_json::from_str(r#"{"maybe":"s"}"#).unwrap();
        assert_eq!(v.maybe, Some(Some("s".into())));
        let v: Outer = serde_json::from_str(r#"{"maybe":null}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"list":[],"maybe":null}"#
        );
    }

    #[test]
    fn wrong_type_is_an_error_not_a_panic() {
        let e = serde_json::from_str::<Outer>(r#"{"name":5}"#).unwrap_err();
        assert!(e.to_string().contains("invalid type"), "{e}");
        let e = serde_json::from_str::<Outer>(r#"[1]"#).unwrap_err();
        assert!(e.to_string().contains("Outer"), "{e}");
    }
}
