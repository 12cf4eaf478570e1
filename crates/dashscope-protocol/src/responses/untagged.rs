//! Serde for the dialect's "a string, or something richer" members (`input`, message
//! `content`, `tool_choice`, `conversation`), decoded without buffering.

/// Implements `Serialize`/`Deserialize` for `enum $name { $s(String-like), $l(Vec<T>) }`.
macro_rules! string_or_seq {
    ($name:ident, $s:ident, $l:ident, $expecting:literal) => {
        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    $name::$s(v) => ::serde::Serialize::serialize(v, s),
                    $name::$l(v) => ::serde::Serialize::serialize(v, s),
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
                    fn visit_seq<A: ::serde::de::SeqAccess<'de>>(
                        self,
                        seq: A,
                    ) -> Result<$name, A::Error> {
                        ::serde::Deserialize::deserialize(
                            ::serde::de::value::SeqAccessDeserializer::new(seq),
                        )
                        .map($name::$l)
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

/// Implements `Serialize`/`Deserialize` for `enum $name { $s(String-like), $o(Object) }`.
macro_rules! string_or_map {
    ($name:ident, $s:ident, $o:ident, $expecting:literal) => {
        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    $name::$s(v) => ::serde::Serialize::serialize(v, s),
                    $name::$o(v) => ::serde::Serialize::serialize(v, s),
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
                    fn visit_map<A: ::serde::de::MapAccess<'de>>(
                        self,
                        map: A,
                    ) -> Result<$name, A::Error> {
                        ::serde::Deserialize::deserialize(
                            ::serde::de::value::MapAccessDeserializer::new(map),
                        )
                        .map($name::$o)
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

pub(crate) use {string_or_map, string_or_seq};
