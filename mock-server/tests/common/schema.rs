//! A JSON Schema checker for the tests: the subset tool definitions use (`type`, `enum`,
//! `const`, `properties`, `required`, `additionalProperties`, `minProperties`,
//! `maxProperties`, `items`, `prefixItems`, `minItems`, `maxItems`, `uniqueItems`, numeric
//! bounds, `multipleOf`, `minLength`, `maxLength`, `anyOf`, `oneOf`, `allOf`, `not`, local
//! `$ref`, `nullable`). It checks the arguments the mock's synthetic responder generates.

use serde_json::{Map, Value};

const MAX_DEPTH: usize = 32;

/// A value that fails its schema: where, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SchemaError {
    /// A JSON pointer to the failing value (`""` is the whole value).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Checks `value` against `schema` (within the subset in the module docs).
///
/// # Errors
///
/// The first [`SchemaError`] found.
pub fn check(schema: &Value, value: &Value) -> Result<(), SchemaError> {
    Checker { root: schema }.check(schema, value, "", 0)
}

/// Resolves a local `$ref` (`#`, `#/$defs/x`, `#/definitions/x`, any `#/…` pointer).
fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    if pointer.is_empty() {
        return Some(root);
    }
    root.pointer(pointer)
}

/// The types a schema allows, from `type` (a string or a list).
fn types_of(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

struct Checker<'a> {
    root: &'a Value,
}

fn fail(path: &str, message: impl Into<String>) -> Result<(), SchemaError> {
    Err(SchemaError {
        path: path.to_owned(),
        message: message.into(),
    })
}

fn type_ok(ty: &str, v: &Value) -> bool {
    match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "number" => v.is_number(),
        "integer" => match v {
            Value::Number(n) => {
                n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            _ => false,
        },
        _ => true,
    }
}

/// JSON equality with numbers compared by value (`1` equals `1.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

impl Checker<'_> {
    fn check(
        &self,
        schema: &Value,
        v: &Value,
        path: &str,
        depth: usize,
    ) -> Result<(), SchemaError> {
        if depth > MAX_DEPTH {
            return fail(path, "schema nesting too deep");
        }
        let obj = match schema {
            Value::Bool(true) => return Ok(()),
            Value::Bool(false) => return fail(path, "the schema `false` accepts nothing"),
            Value::Object(o) => o,
            _ => return Ok(()),
        };
        if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
            match resolve(self.root, r) {
                Some(target) => self.check(target, v, path, depth + 1)?,
                None => return fail(path, format!("unresolvable $ref {r:?}")),
            }
        }
        if v.is_null() && obj.get("nullable").and_then(Value::as_bool) == Some(true) {
            return Ok(());
        }
        let types = types_of(schema);
        if !types.is_empty() && !types.iter().any(|t| type_ok(t, v)) {
            return fail(
                path,
                format!("expected type {}, got {v}", types.join(" or ")),
            );
        }
        if let Some(c) = obj.get("const") {
            if !same(c, v) {
                return fail(path, format!("expected the constant {c}"));
            }
        }
        if let Some(options) = obj.get("enum").and_then(Value::as_array) {
            if !options.iter().any(|o| same(o, v)) {
                return fail(
                    path,
                    format!("{v} is not one of {}", Value::Array(options.clone())),
                );
            }
        }
        for b in obj
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.check(b, v, path, depth + 1)?;
        }
        if let Some(branches) = obj.get("anyOf").and_then(Value::as_array) {
            if !branches
                .iter()
                .any(|b| self.check(b, v, path, depth + 1).is_ok())
            {
                return fail(path, "matches no anyOf branch");
            }
        }
        if let Some(branches) = obj.get("oneOf").and_then(Value::as_array) {
            let n = branches
                .iter()
                .filter(|b| self.check(b, v, path, depth + 1).is_ok())
                .count();
            if n != 1 {
                return fail(path, format!("matches {n} oneOf branches, not exactly one"));
            }
        }
        if let Some(not) = obj.get("not") {
            if self.check(not, v, path, depth + 1).is_ok() {
                return fail(path, "matches the `not` schema");
            }
        }
        match v {
            Value::Object(map) => self.object(obj, map, path, depth)?,
            Value::Array(items) => self.array(obj, items, path, depth)?,
            Value::String(s) => {
                let n = s.chars().count() as u64;
                if let Some(min) = obj.get("minLength").and_then(Value::as_u64) {
                    if n < min {
                        return fail(path, format!("shorter than {min} characters"));
                    }
                }
                if let Some(max) = obj.get("maxLength").and_then(Value::as_u64) {
                    if n > max {
                        return fail(path, format!("longer than {max} characters"));
                    }
                }
            }
            Value::Number(num) => {
                let x = num.as_f64().unwrap_or(0.0);
                let f = |k: &str| obj.get(k).and_then(Value::as_f64);
                let draft4 = |k: &str| obj.get(k).and_then(Value::as_bool) == Some(true);
                if let Some(min) = f("minimum") {
                    if x < min || (draft4("exclusiveMinimum") && x <= min) {
                        return fail(path, format!("{x} is below the minimum {min}"));
                    }
                }
                if let Some(max) = f("maximum") {
                    if x > max || (draft4("exclusiveMaximum") && x >= max) {
                        return fail(path, format!("{x} is above the maximum {max}"));
                    }
                }
                if let Some(min) = f("exclusiveMinimum") {
                    if x <= min {
                        return fail(path, format!("{x} is not above {min}"));
                    }
                }
                if let Some(max) = f("exclusiveMaximum") {
                    if x >= max {
                        return fail(path, format!("{x} is not below {max}"));
                    }
                }
                if let Some(m) = f("multipleOf") {
                    if m > 0.0 {
                        let q = x / m;
                        if (q - q.round()).abs() > 1e-9 {
                            return fail(path, format!("{x} is not a multiple of {m}"));
                        }
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn object(
        &self,
        obj: &Map<String, Value>,
        map: &Map<String, Value>,
        path: &str,
        depth: usize,
    ) -> Result<(), SchemaError> {
        for r in obj
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !map.contains_key(r) {
                return fail(path, format!("missing the required member {r:?}"));
            }
        }
        let props = obj.get("properties").and_then(Value::as_object);
        for (k, val) in map {
            let here = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
            match props.and_then(|p| p.get(k)) {
                Some(s) => self.check(s, val, &here, depth + 1)?,
                None => match obj.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        return fail(path, format!("the member {k:?} is not allowed"));
                    }
                    Some(s @ Value::Object(_)) => self.check(s, val, &here, depth + 1)?,
                    _ => {}
                },
            }
        }
        let n = map.len() as u64;
        if obj
            .get("minProperties")
            .and_then(Value::as_u64)
            .is_some_and(|m| n < m)
        {
            return fail(path, "too few members");
        }
        if obj
            .get("maxProperties")
            .and_then(Value::as_u64)
            .is_some_and(|m| n > m)
        {
            return fail(path, "too many members");
        }
        Ok(())
    }

    fn array(
        &self,
        obj: &Map<String, Value>,
        items: &[Value],
        path: &str,
        depth: usize,
    ) -> Result<(), SchemaError> {
        let n = items.len() as u64;
        if let Some(min) = obj.get("minItems").and_then(Value::as_u64) {
            if n < min {
                return fail(path, format!("fewer than {min} items"));
            }
        }
        if let Some(max) = obj.get("maxItems").and_then(Value::as_u64) {
            if n > max {
                return fail(path, format!("more than {max} items"));
            }
        }
        let tuple = obj
            .get("prefixItems")
            .and_then(Value::as_array)
            .or_else(|| obj.get("items").and_then(Value::as_array));
        for (i, item) in items.iter().enumerate() {
            let here = format!("{path}/{i}");
            let s = match tuple {
                Some(t) => t.get(i).or_else(|| {
                    obj.get("items")
                        .filter(|s| !s.is_array())
                        .or(obj.get("additionalItems"))
                }),
                None => obj.get("items"),
            };
            if let Some(s) = s {
                self.check(s, item, &here, depth + 1)?;
            }
        }
        if obj.get("uniqueItems").and_then(Value::as_bool) == Some(true) {
            for (i, a) in items.iter().enumerate() {
                if items[..i].iter().any(|b| same(a, b)) {
                    return fail(path, "items are not unique");
                }
            }
        }
        Ok(())
    }
}
