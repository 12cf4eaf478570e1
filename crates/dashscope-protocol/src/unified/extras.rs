//! [`Extras`], and the small toolkit every conversion is written with.
//!
//! Reading a wire object ([`In`]) takes out the members the unified model holds and leaves the
//! rest; what is left becomes the object's extras for that dialect. Writing ([`Out`]) starts from
//! those extras and puts the unified values over them. The rules, in one place:
//!
//! * A member is taken out only when the canonical writer gives back exactly the same value.
//!   Anything else (an explicit `null`, a form the writer would not choose, an unknown member)
//!   stays in the extras verbatim and is written back as is.
//! * `"$absent": [keys]` lists members the canonical writer always writes that the wire lacked.
//! * `"$form": {…}` holds notes about the wire form (string or list content, an id without its
//!   prefix, the layout of Responses output items, …).
//! * `"$<key>": {…}` holds the extras of a nested object `<key>` that the model reads partly
//!   (`"$function"` for a tool's `function` object, `"$parameters"` for native parameters, …).
//! * A wire member whose name starts with `$` is kept under one more `$` (`"$$x"` for `"$x"`).
//! * Values the writer fills from elsewhere are marked `{"$unified": …}` inside kept layouts
//!   and stream templates (see [`MARK`]).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::cassette::Dialect;

/// A JSON object's members.
pub type Fields = Map<String, Value>;

/// The key of a marker object: `{"$unified": …}` stands for a value the writer fills in (the
/// text of event `k`, a run of `len` bytes of the answer text, …).
pub const MARK: &str = "$unified";

/// What a dialect's wire form held that the unified model has no place for, kept per dialect.
///
/// Each unified object (conversation, message, part, tool call, response, candidate, usage)
/// has one. Converting from dialect D fills only `D`'s map; converting to dialect D reads only
/// `D`'s map, so extras never leak from one dialect into another. The map holds wire members
/// verbatim plus a few `$`-prefixed notes (see the [module docs](super)).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Extras {
    /// Chat Completions members.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub chat: Fields,
    /// Responses members.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub responses: Fields,
    /// Native members.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub native: Fields,
}

impl Extras {
    /// Extras holding `fields` for `dialect`.
    pub fn of(dialect: Dialect, fields: Fields) -> Self {
        let mut e = Extras::default();
        *e.get_mut(dialect) = fields;
        e
    }

    /// Whether no dialect has any extra.
    pub fn is_empty(&self) -> bool {
        self.chat.is_empty() && self.responses.is_empty() && self.native.is_empty()
    }

    /// The extras of `dialect`.
    pub fn get(&self, dialect: Dialect) -> &Fields {
        match dialect {
            Dialect::Chat => &self.chat,
            Dialect::Responses => &self.responses,
            Dialect::Native => &self.native,
        }
    }

    /// The extras of `dialect`, for changing.
    pub fn get_mut(&mut self, dialect: Dialect) -> &mut Fields {
        match dialect {
            Dialect::Chat => &mut self.chat,
            Dialect::Responses => &mut self.responses,
            Dialect::Native => &mut self.native,
        }
    }

    /// Drops every dialect's extras.
    pub fn clear(&mut self) {
        *self = Extras::default();
    }

    /// Keeps only `dialect`'s extras.
    pub fn retain(&mut self, dialect: Dialect) {
        let keep = std::mem::take(self.get_mut(dialect));
        self.clear();
        *self.get_mut(dialect) = keep;
    }
}

/// Whether `v` is a marker object (`{"$unified": …}`).
pub(crate) fn marker(v: &Value) -> Option<&Fields> {
    v.as_object().filter(|m| m.contains_key(MARK))
}

/// A marker for the value of event `k` of a stream group (optionally one field of it).
pub(crate) fn event_mark(k: usize, field: Option<&str>) -> Value {
    let mut m = Fields::new();
    m.insert(MARK.to_owned(), Value::from(k));
    if let Some(f) = field {
        m.insert("field".to_owned(), Value::from(f));
    }
    Value::Object(m)
}

/// A marker for `len` bytes of the `kind` text (`text` or `reasoning`).
pub(crate) fn len_mark(kind: &str, len: usize) -> Value {
    let mut m = Fields::new();
    m.insert(MARK.to_owned(), Value::from(kind));
    m.insert("len".to_owned(), Value::from(len));
    Value::Object(m)
}

/// Replaces every marker in `v` (depth first, in document order) by what `fill` returns for it;
/// a marker `fill` declines stays as is.
pub(crate) fn fill_markers(v: &mut Value, fill: &mut impl FnMut(&Fields) -> Option<Value>) {
    if let Some(m) = marker(v) {
        if let Some(new) = fill(m) {
            *v = new;
        }
        return;
    }
    match v {
        Value::Array(items) => items.iter_mut().for_each(|i| fill_markers(i, fill)),
        Value::Object(map) => map.values_mut().for_each(|i| fill_markers(i, fill)),
        _ => {}
    }
}

/// The `len` of every `kind` length marker in `v`, in document order.
fn len_marks(v: &Value, kind: &str, out: &mut Vec<usize>) {
    if let Some(m) = marker(v) {
        if m.get(MARK).and_then(Value::as_str) == Some(kind) {
            let len = m.get("len").and_then(Value::as_u64).unwrap_or(0);
            out.push(usize::try_from(len).unwrap_or(usize::MAX));
        }
        return;
    }
    match v {
        Value::Array(items) => items.iter().for_each(|i| len_marks(i, kind, out)),
        Value::Object(map) => map.values().for_each(|i| len_marks(i, kind, out)),
        _ => {}
    }
}

/// Cuts `text` into pieces of the given byte lengths (moved back to a character boundary when
/// needed); the last piece takes whatever is left.
pub(crate) fn split_by_lens(text: &str, lens: &[usize]) -> Vec<String> {
    let mut out = Vec::with_capacity(lens.len());
    let mut rest = text;
    for (i, &len) in lens.iter().enumerate() {
        if i + 1 == lens.len() {
            out.push(rest.to_owned());
            rest = "";
        } else {
            let mut cut = len.min(rest.len());
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            out.push(rest[..cut].to_owned());
            rest = &rest[cut..];
        }
    }
    out
}

/// Fills the `kind` length markers of `v` with consecutive runs of `text`. Returns whether there
/// was any such marker.
pub(crate) fn fill_len_marks(v: &mut Value, kind: &str, text: &str) -> bool {
    let mut lens = Vec::new();
    len_marks(v, kind, &mut lens);
    if lens.is_empty() {
        return false;
    }
    let mut pieces = split_by_lens(text, &lens).into_iter();
    fill_markers(v, &mut |m| {
        (m.get(MARK).and_then(Value::as_str) == Some(kind))
            .then(|| pieces.next().map(Value::String))
            .flatten()
    });
    true
}

/// Whether `v` is what a wire type's plain member decodes an explicit `null` to.
fn is_empty_like(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_u64() == Some(0) || n.as_i64() == Some(0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
    }
}

/// Reads one wire object: modeled members are taken out, the rest become extras.
#[derive(Debug, Default)]
pub(crate) struct In {
    rest: Fields,
    hints: Fields,
}

impl In {
    /// Reads `map`.
    pub(crate) fn of(map: Fields) -> Self {
        In {
            rest: map,
            hints: Fields::new(),
        }
    }

    /// Reads `v` when it is an object (anything else reads as an empty object).
    pub(crate) fn value(v: Value) -> Self {
        match v {
            Value::Object(m) => In::of(m),
            _ => In::default(),
        }
    }

    /// The member `k`, left in place.
    pub(crate) fn peek(&self, k: &str) -> Option<&Value> {
        self.rest.get(k)
    }

    /// Whether the member `k` is present.
    pub(crate) fn has(&self, k: &str) -> bool {
        self.rest.contains_key(k)
    }

    /// Takes `k` out when `f` accepts its value.
    pub(crate) fn take_if<T>(&mut self, k: &str, f: impl FnOnce(&Value) -> Option<T>) -> Option<T> {
        let out = f(self.rest.get(k)?)?;
        self.rest.remove(k);
        Some(out)
    }

    /// Takes `k` out unconditionally.
    pub(crate) fn take(&mut self, k: &str) -> Option<Value> {
        self.rest.remove(k)
    }

    /// Takes a string.
    pub(crate) fn str(&mut self, k: &str) -> Option<String> {
        self.take_if(k, |v| v.as_str().map(str::to_owned))
    }

    /// Takes a non-empty string.
    pub(crate) fn nonempty_str(&mut self, k: &str) -> Option<String> {
        self.take_if(k, |v| {
            v.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
        })
    }

    /// Takes an unsigned integer.
    pub(crate) fn u64(&mut self, k: &str) -> Option<u64> {
        self.take_if(k, Value::as_u64)
    }

    /// Takes an unsigned integer that fits `u32`.
    pub(crate) fn u32(&mut self, k: &str) -> Option<u32> {
        self.take_if(k, |v| v.as_u64().and_then(|n| u32::try_from(n).ok()))
    }

    /// Takes a float (written back as a float: only values that are JSON floats are taken).
    pub(crate) fn f64(&mut self, k: &str) -> Option<f64> {
        self.take_if(k, |v| if v.is_f64() { v.as_f64() } else { None })
    }

    /// Takes a boolean.
    pub(crate) fn bool(&mut self, k: &str) -> Option<bool> {
        self.take_if(k, Value::as_bool)
    }

    /// Takes a non-empty array.
    pub(crate) fn nonempty_array(&mut self, k: &str) -> Option<Vec<Value>> {
        match self.rest.get(k) {
            Some(Value::Array(a)) if !a.is_empty() => match self.rest.remove(k) {
                Some(Value::Array(a)) => Some(a),
                _ => None,
            },
            _ => None,
        }
    }

    /// Takes an array (empty or not).
    pub(crate) fn array(&mut self, k: &str) -> Option<Vec<Value>> {
        match self.rest.get(k) {
            Some(Value::Array(_)) => match self.rest.remove(k) {
                Some(Value::Array(a)) => Some(a),
                _ => None,
            },
            _ => None,
        }
    }

    /// Takes an object, to be read in turn.
    pub(crate) fn obj(&mut self, k: &str) -> Option<In> {
        match self.rest.get(k) {
            Some(Value::Object(_)) => match self.rest.remove(k) {
                Some(Value::Object(m)) => Some(In::of(m)),
                _ => None,
            },
            _ => None,
        }
    }

    /// Takes an object the writer always puts; notes its absence when missing.
    pub(crate) fn obj_or_absent(&mut self, k: &str) -> Option<In> {
        if !self.has(k) {
            self.absent(k);
        }
        self.obj(k)
    }

    /// A constant member the writer always puts: taken when equal to `expected`, noted as absent
    /// when missing, kept verbatim otherwise.
    pub(crate) fn konst(&mut self, k: &str, expected: &str) {
        match self.rest.get(k) {
            None => self.absent(k),
            Some(v) if v.as_str() == Some(expected) => {
                self.rest.remove(k);
            }
            Some(_) => {}
        }
    }

    /// Notes that the member `k`, which the canonical writer puts, was missing.
    pub(crate) fn absent(&mut self, k: &str) {
        let list = self
            .hints
            .entry("$absent")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(a) = list {
            a.push(Value::from(k));
        }
    }

    /// Notes a fact about the wire form.
    pub(crate) fn form(&mut self, k: &str, v: Value) {
        let forms = self
            .hints
            .entry("$form")
            .or_insert_with(|| Value::Object(Fields::new()));
        if let Value::Object(f) = forms {
            f.insert(k.to_owned(), v);
        }
    }

    /// Keeps what is left of the nested object `k`: when anything is left, or when the canonical
    /// writer would not put the object at all (so its presence is remembered).
    pub(crate) fn nested(&mut self, k: &str, inner: In, canonical_present: bool) {
        let left = inner.finish();
        if !left.is_empty() || !canonical_present {
            self.hints.insert(format!("${k}"), Value::Object(left));
        }
    }

    /// What is left: unknown members (names starting with `$` escaped) and the notes.
    pub(crate) fn finish(self) -> Fields {
        let mut out = Fields::new();
        for (k, v) in self.rest {
            if k.starts_with('$') {
                out.insert(format!("${k}"), v);
            } else {
                out.insert(k, v);
            }
        }
        out.extend(self.hints);
        out
    }
}

/// Writes one wire object: the extras first, the unified values over them.
#[derive(Debug)]
pub(crate) struct Out<'a> {
    map: Fields,
    extras: Option<&'a Fields>,
    /// Whether a value from the unified model (not a constant or default) was put.
    wrote: bool,
}

impl<'a> Out<'a> {
    /// Starts from the plain members of `extras`.
    pub(crate) fn new(extras: Option<&'a Fields>) -> Self {
        let mut map = Fields::new();
        for (k, v) in extras.into_iter().flatten() {
            if let Some(rest) = k.strip_prefix("$$") {
                map.insert(format!("${rest}"), v.clone());
            } else if !k.starts_with('$') {
                map.insert(k.clone(), v.clone());
            }
        }
        Out {
            map,
            extras,
            wrote: false,
        }
    }

    /// Starts from the plain members of `extras` (an owned-or-empty convenience).
    pub(crate) fn from(extras: &'a Fields) -> Self {
        Out::new(Some(extras))
    }

    /// Puts a value that comes from the unified model (it wins over a kept member).
    ///
    /// A kept explicit `null` wins over an empty value (`[]`, `""`, `0`, `false`, `{}`): that is
    /// what the wire type decodes a `null` to, and the wire type writes it back as `null` while
    /// it stays so (see [`Nulls`](crate::wire::Nulls)).
    pub(crate) fn put(&mut self, k: &str, v: impl Into<Value>) {
        self.wrote = true;
        let v = v.into();
        if is_empty_like(&v) && self.map.get(k).is_some_and(Value::is_null) {
            return;
        }
        self.map.insert(k.to_owned(), v);
    }

    /// Puts a value when there is one.
    pub(crate) fn put_opt<T: Into<Value>>(&mut self, k: &str, v: Option<T>) {
        if let Some(v) = v {
            self.put(k, v);
        }
    }

    /// Puts a constant: not when a kept member already holds `k`, nor when the wire lacked it.
    pub(crate) fn konst(&mut self, k: &str, v: impl Into<Value>) {
        if !self.map.contains_key(k) && !self.absent(k) {
            self.map.insert(k.to_owned(), v.into());
        }
    }

    /// Puts a value; a default value (what the reader fills in for a missing or unreadable
    /// member) is put like a constant, so a kept member or a noted absence wins.
    pub(crate) fn put_default(&mut self, k: &str, v: impl Into<Value>, is_default: bool) {
        if is_default {
            self.konst(k, v);
        } else {
            self.put(k, v);
        }
    }

    /// Whether the wire lacked `k`.
    pub(crate) fn absent(&self, k: &str) -> bool {
        self.extras
            .and_then(|e| e.get("$absent"))
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(k)))
    }

    /// A note about the wire form.
    pub(crate) fn form(&self, k: &str) -> Option<&'a Value> {
        self.extras?.get("$form")?.get(k)
    }

    /// A string note about the wire form.
    pub(crate) fn form_str(&self, k: &str) -> Option<&'a str> {
        self.form(k).and_then(Value::as_str)
    }

    /// The kept extras of the nested object `k`.
    pub(crate) fn nested(&self, k: &str) -> Option<&'a Fields> {
        self.extras?.get(&format!("${k}"))?.as_object()
    }

    /// A writer for the nested object `k`.
    pub(crate) fn child(&self, k: &str) -> Out<'a> {
        Out::new(self.nested(k))
    }

    /// Puts the nested object `k` when the canonical writer puts it or the wire had it; a
    /// kept member `k` that is not an object (an explicit `null`) stays, unless the unified
    /// model put something inside.
    pub(crate) fn put_child(&mut self, k: &str, child: Out<'_>, canonical_present: bool) {
        if !child.wrote && (self.map.contains_key(k) || self.absent(k)) {
            return;
        }
        if canonical_present || self.nested(k).is_some() {
            self.wrote |= child.wrote;
            self.map.insert(k.to_owned(), Value::Object(child.map));
        }
    }

    /// Whether nothing is set so far.
    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Whether `k` is set so far.
    pub(crate) fn has(&self, k: &str) -> bool {
        self.map.contains_key(k)
    }

    /// The object.
    pub(crate) fn finish(self) -> Value {
        Value::Object(self.map)
    }
}

/// Serializes a wire type into its members (a non-object serializes to no members).
pub(crate) fn to_fields<T: Serialize>(v: &T) -> Fields {
    match serde_json::to_value(v) {
        Ok(Value::Object(m)) => m,
        _ => Fields::new(),
    }
}

/// `Some(v)` as a JSON value for `f64`s (non-finite ones become `null`).
pub(crate) fn float(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn split_keeps_char_boundaries_and_gives_the_rest_to_the_last() {
        assert_eq!(split_by_lens("abcdef", &[2, 1, 0]), ["ab", "c", "def"]);
        assert_eq!(split_by_lens("é", &[1, 5]), ["", "é"]);
        assert_eq!(split_by_lens("ab", &[5, 5]), ["ab", ""]);
        assert!(split_by_lens("ab", &[]).is_empty());
    }

    #[test]
    fn reader_and_writer_agree() {
        let mut r =
            In::value(json!({"a": 1.5, "b": null, "$odd": 1, "t": "x", "n": {"k": 1, "z": 2}}));
        assert_eq!(r.f64("a"), Some(1.5));
        assert_eq!(r.str("b"), None);
        r.konst("t", "x");
        r.konst("missing", "y");
        let mut n = r.obj("n").expect("object");
        assert_eq!(n.u64("k"), Some(1));
        r.nested("n", n, true);
        let extras = r.finish();
        assert_eq!(
            Value::Object(extras.clone()),
            json!({"b": null, "$$odd": 1, "$absent": ["missing"], "$n": {"z": 2}})
        );
        let mut o = Out::from(&extras);
        o.put("a", 1.5);
        o.konst("t", "x");
        o.konst("missing", "y");
        let mut c = o.child("n");
        c.put("k", 1);
        o.put_child("n", c, true);
        assert_eq!(
            o.finish(),
            json!({"a": 1.5, "b": null, "$odd": 1, "t": "x", "n": {"k": 1, "z": 2}})
        );
    }

    #[test]
    fn length_markers_are_filled_in_order() {
        let mut v = json!([{"t": len_mark("text", 2)}, len_mark("reasoning", 9), {"t": len_mark("text", 1)}]);
        assert!(fill_len_marks(&mut v, "text", "abcd"));
        assert!(!fill_len_marks(&mut json!([]), "text", "x"));
        assert_eq!(
            v,
            json!([{"t": "ab"}, len_mark("reasoning", 9), {"t": "cd"}])
        );
    }
}
