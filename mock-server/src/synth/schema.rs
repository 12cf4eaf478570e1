//! Deterministic instances of JSON Schemas, for tool-call arguments and `json_schema` answers.
//!
//! [`instance`] covers the subset tool definitions use: `type` (one or a list), `enum`,
//! `const`, `properties` (every listed one filled in), `required`, `additionalProperties`,
//! `minProperties`, `items` (a schema or a tuple), `prefixItems`, `minItems`, `maxItems`,
//! `uniqueItems`, numeric bounds (draft 4 booleans too), `multipleOf`, `minLength`,
//! `maxLength`, `format` (`date`, `date-time`, `time`, `email`, `uri`, `url`, `uuid`, `ipv4`,
//! `hostname`), `anyOf`/`oneOf` (the first usable branch), `allOf` (merged), local `$ref`s;
//! `not` and `pattern` are not honoured. It is bounded: at most [`MAX_VALUES`] values and
//! [`MAX_PADDING`] bytes of padding, [`MAX_DEPTH`] levels deep.

use serde_json::{Map, Number, Value};

use crate::state::{RequestId, splitmix64};

/// How deep [`instance`] follows nested schemas and `$ref`s.
const MAX_DEPTH: usize = 32;

/// Below this depth [`instance`] fills in required members only (recursive schemas end).
const OPTIONAL_DEPTH: usize = 8;

/// The most values [`instance`] makes: past it, `null` (so a schema that multiplies, such as
/// arrays of 16 items 32 deep, cannot make an answer without bound).
const MAX_VALUES: usize = 4096;

/// The most characters of the user's words [`instance`] puts in a query-like string.
const MAX_SAID: usize = 200;

/// The most string bytes [`instance`] pads strings with to reach their `minLength`.
const MAX_PADDING: usize = 256 * 1024;

/// A small deterministic generator (SplitMix64).
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(splitmix64(seed))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        splitmix64(self.0)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (self.next_u64() % n as u64) as usize
    }

    /// One element of a non-empty slice.
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len())])
    }
}

/// A value that satisfies `schema` (within the subset in the module docs), the same for the
/// same schema and seed. Strings come from `said` (the user's words) when it has them: the
/// place it names ([`place_in`]) for location-like members (`location`, `city`, …), its first
/// [`MAX_SAID`] characters for query-like ones (`query`, `keyword`, `q`, …); else from word
/// lists, picked by the seed.
pub(crate) fn instance(schema: &Value, seed: u64, said: Option<&str>) -> Value {
    let mut g = Gen {
        root: schema,
        rng: Rng::new(seed),
        place: said.and_then(place_in),
        said: said
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.chars().take(MAX_SAID).collect()),
        values_left: MAX_VALUES,
        padding_left: MAX_PADDING,
    };
    g.value(schema, "", 0)
}

/// A place the text names, in the user's words: a known city (in Latin or CJK script), else
/// the run of CJK letters before a word for weather (`杭州天气`, `東京の天気`, `서울 날씨`; time
/// words such as `明天` left out), else the capitalised word after " in ".
pub(crate) fn place_in(text: &str) -> Option<String> {
    let lower = text.to_lowercase();
    let known = CITIES.iter().copied().chain(CJK_CITIES.split(' '));
    if let Some(c) = known.clone().find(|c| lower.contains(&c.to_lowercase())) {
        return Some(c.to_owned());
    }
    let cjk = |c: char| c.is_alphabetic() && !c.is_ascii() && !"的の在".contains(c);
    let before = WEATHER.iter().find_map(|w| Some(&text[..text.find(w)?]));
    let before = before.map_or("", |b| b.trim_end().trim_end_matches(['的', 'の']));
    let mut run = before
        .rsplit(|c| !cjk(c))
        .next()
        .unwrap_or_default()
        .to_owned();
    for time in "今天 明天 后天 现在 今日 明日 오늘 내일".split(' ') {
        run = run.replace(time, "");
    }
    if !run.is_empty() {
        return Some(run);
    }
    let at = text.find(" in ")?;
    let word: String = text[at + 4..]
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '-')
        .collect();
    word.chars()
        .next()
        .is_some_and(char::is_uppercase)
        .then_some(word)
}

/// Resolves a local `$ref` (`#`, `#/$defs/x`, `#/definitions/x`, any `#/…` pointer).
/// (serde_json's `pointer("")` is the whole document.)
fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    root.pointer(reference.strip_prefix('#')?)
}

/// The types a schema allows, from `type` (a string or a list).
fn types_of(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// `schema` with its `$ref`s followed, at most `hops` of them.
fn follow<'a>(root: &'a Value, mut schema: &'a Value, hops: usize) -> &'a Value {
    for _ in 0..hops {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) if let Some(target) = resolve(root, r) => schema = target,
            _ => break,
        }
    }
    schema
}

/// Merges the object keywords of `allOf` branches (and the schema itself) into one schema.
fn merge_all_of(schema: &Value, root: &Value, depth: usize) -> Value {
    let (mut merged, mut properties, mut required) = (Map::new(), Map::new(), Vec::new());
    let branches = schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    let hops = MAX_DEPTH.saturating_sub(depth);
    let all = std::iter::once(schema).chain(branches.map(|b| follow(root, b, hops)));
    for (k, v) in all.filter_map(Value::as_object).flatten() {
        match k.as_str() {
            "allOf" => {}
            "properties" => {
                let p = v.as_object().into_iter().flatten();
                properties.extend(p.map(|(pk, pv)| (pk.clone(), pv.clone())));
            }
            "required" => {
                for r in v.as_array().into_iter().flatten() {
                    if !required.contains(r) {
                        required.push(r.clone());
                    }
                }
            }
            _ => {
                merged.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    if !properties.is_empty() {
        merged.insert("properties".to_owned(), Value::Object(properties));
    }
    if !required.is_empty() {
        merged.insert("required".to_owned(), Value::Array(required));
    }
    Value::Object(merged)
}

const CITIES: [&str; 8] = [
    "Hangzhou",
    "Beijing",
    "Shanghai",
    "Shenzhen",
    "Chengdu",
    "Singapore",
    "Tokyo",
    "Paris",
];
/// Known cities in CJK script (a place the user names in these words is kept as written).
const CJK_CITIES: &str = "杭州 北京 上海 深圳 成都 新加坡 东京 東京 巴黎";
const WEATHER: [&str; 5] = ["天气", "天氣", "天気", "날씨", "气温"];
const WORDS: [&str; 12] = [
    "alpha", "bravo", "cedar", "delta", "ember", "fjord", "grove", "harbor", "indigo", "juniper",
    "kestrel", "lumen",
];
const NAMES: [&str; 6] = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank"];

struct Gen<'a> {
    root: &'a Value,
    rng: Rng,
    place: Option<String>,
    said: Option<String>,
    /// Values still to be made (see [`MAX_VALUES`]), padding still to be added.
    values_left: usize,
    padding_left: usize,
}

impl Gen<'_> {
    fn value(&mut self, schema: &Value, key: &str, depth: usize) -> Value {
        if depth > MAX_DEPTH || self.values_left == 0 {
            return Value::Null;
        }
        self.values_left -= 1;
        let Some(obj) = schema.as_object() else {
            // `true` (or anything that is not an object) accepts anything.
            return Value::String(self.word(key));
        };
        let reference = obj.get("$ref").and_then(Value::as_str);
        if let Some(target) = reference.and_then(|r| resolve(self.root, r)) {
            return self.value(target, key, depth + 1);
        }
        if let Some(c) = obj.get("const") {
            return c.clone();
        }
        let options = obj.get("enum").and_then(Value::as_array);
        if let Some(v) = options.and_then(|o| self.rng.pick(o)) {
            return v.clone();
        }
        if obj.contains_key("allOf") {
            let merged = merge_all_of(schema, self.root, depth);
            return self.value(&merged, key, depth + 1);
        }
        for keyword in ["anyOf", "oneOf"] {
            if let Some(branches) = obj.get(keyword).and_then(Value::as_array) {
                // The first branch that is not just `null`; else the first.
                let chosen = branches
                    .iter()
                    .find(|b| types_of(b) != ["null"])
                    .or_else(|| branches.first());
                if let Some(b) = chosen {
                    // Sibling keywords (a `type`, `properties`) apply as well: merge them in.
                    let mut merged = b.as_object().cloned().unwrap_or_default();
                    for (k, v) in obj {
                        if k != keyword {
                            merged.entry(k.clone()).or_insert_with(|| v.clone());
                        }
                    }
                    return self.value(&Value::Object(merged), key, depth + 1);
                }
            }
        }
        let types = types_of(schema);
        let ty = types
            .iter()
            .copied()
            .find(|t| *t != "null")
            .or_else(|| types.first().copied())
            .unwrap_or_else(|| infer_type(obj));
        match ty {
            "object" => self.object(obj, depth),
            "array" => self.array(obj, key, depth),
            "integer" => self.integer(obj),
            "number" => self.number(obj),
            "boolean" => Value::Bool(self.rng.next_u64() % 2 == 0),
            "null" => Value::Null,
            _ => self.string(obj, key),
        }
    }

    fn object(&mut self, obj: &Map<String, Value>, depth: usize) -> Value {
        let mut out = Map::new();
        let required: Vec<&str> = obj
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if let Some(props) = obj.get("properties").and_then(Value::as_object) {
            for (k, s) in props {
                // Deep down (a recursive schema), only what is required.
                if depth >= OPTIONAL_DEPTH && !required.contains(&k.as_str()) {
                    continue;
                }
                let v = self.value(s, k, depth + 1);
                out.insert(k.clone(), v);
            }
        }
        // Required members the properties do not describe, then `key1`, … up to
        // `minProperties`: instances of `additionalProperties` (words when it is no schema).
        let min = count(obj, "minProperties").unwrap_or(0);
        let padding = (1..=64).map(|i| format!("key{i}"));
        let extra = required.iter().map(|r| (*r).to_owned());
        for (i, k) in extra.chain(padding).enumerate() {
            if i >= required.len() && out.len() as u64 >= min {
                break;
            }
            if !out.contains_key(&k) {
                let v = match obj.get("additionalProperties") {
                    Some(s @ Value::Object(_)) => self.value(s, &k, depth + 1),
                    _ => Value::String(self.word(&k)),
                };
                out.insert(k, v);
            }
        }
        Value::Object(out)
    }

    fn array(&mut self, obj: &Map<String, Value>, key: &str, depth: usize) -> Value {
        let min = count(obj, "minItems").unwrap_or(0);
        let max = count(obj, "maxItems").unwrap_or(u64::MAX);
        let tuple: Option<&Vec<Value>> = obj
            .get("prefixItems")
            .and_then(Value::as_array)
            .or_else(|| obj.get("items").and_then(Value::as_array));
        let item_schema = obj.get("items").filter(|i| i.is_object() || i.is_boolean());
        let want = match tuple {
            Some(t) => (t.len() as u64).max(min),
            None => min.max(1 + self.rng.below(2) as u64),
        }
        .min(max)
        .min(16);
        let unique = obj.get("uniqueItems").and_then(Value::as_bool) == Some(true);
        let mut out: Vec<Value> = Vec::new();
        let mut tries = 0;
        while (out.len() as u64) < want && tries < 64 {
            tries += 1;
            let i = out.len();
            let v = match tuple.and_then(|t| t.get(i)) {
                Some(s) => self.value(s, key, depth + 1),
                None => match item_schema {
                    Some(s) => self.value(s, key, depth + 1),
                    None => Value::String(self.word(key)),
                },
            };
            if unique && out.contains(&v) {
                continue;
            }
            out.push(v);
        }
        Value::Array(out)
    }

    /// The lower and upper bounds, each with whether it is exclusive (a draft 4 boolean, or
    /// a draft 6 number that is as tight or tighter).
    fn bounds(&self, obj: &Map<String, Value>) -> (Option<f64>, bool, Option<f64>, bool) {
        let bound = |inclusive: &str, exclusive: &str, tighter: fn(f64, f64) -> bool| {
            let b = obj.get(inclusive).and_then(Value::as_f64);
            match obj.get(exclusive) {
                Some(Value::Bool(true)) => (b, true),
                Some(v) => match v.as_f64() {
                    Some(x) if b.is_none_or(|b| tighter(x, b)) => (Some(x), true),
                    _ => (b, false),
                },
                None => (b, false),
            }
        };
        let (lo, lo_ex) = bound("minimum", "exclusiveMinimum", |x, l| x >= l);
        let (hi, hi_ex) = bound("maximum", "exclusiveMaximum", |x, h| x <= h);
        (lo, lo_ex, hi, hi_ex)
    }

    fn integer(&mut self, obj: &Map<String, Value>) -> Value {
        let (lo, lo_ex, hi, hi_ex) = self.bounds(obj);
        let mut lo_i = lo.map_or(1, |l| {
            let c = l.ceil();
            let c = if lo_ex && c == l { c + 1.0 } else { c };
            c.clamp(-9.0e15, 9.0e15) as i64
        });
        let mut hi_i = hi.map_or(lo_i.saturating_add(99).max(100), |h| {
            let f = h.floor();
            let f = if hi_ex && f == h { f - 1.0 } else { f };
            f.clamp(-9.0e15, 9.0e15) as i64
        });
        if lo.is_none() && hi_i < lo_i {
            lo_i = hi_i.saturating_sub(99);
        }
        hi_i = hi_i.max(lo_i);
        let span = (hi_i - lo_i).unsigned_abs().min(1_000_000) + 1;
        let mut n = lo_i + (self.rng.next_u64() % span) as i64;
        let whole = |m: &f64| *m >= 1.0 && m.fract() == 0.0;
        if let Some(m) = obj.get("multipleOf").and_then(Value::as_f64).filter(whole) {
            let m = m as i64;
            let up = n.div_euclid(m) * m;
            n = if up >= lo_i { up } else { up + m };
        }
        Value::Number(Number::from(n))
    }

    fn number(&mut self, obj: &Map<String, Value>) -> Value {
        let multiple = obj.get("multipleOf").and_then(Value::as_f64);
        if multiple.is_some_and(|m| m > 0.0 && m.fract() == 0.0) {
            return self.integer(obj);
        }
        let (lo, lo_ex, hi, hi_ex) = self.bounds(obj);
        let lo_v = lo.unwrap_or(0.0);
        let hi_v = hi.unwrap_or(lo_v + 100.0);
        let (a, b) = (lo_v.min(hi_v), lo_v.max(hi_v));
        // A point strictly inside (a, b) when either end is exclusive, two decimals.
        let t = (self.rng.below(80) as f64 + 10.0) / 100.0;
        let mut x = ((a + (b - a) * t) * 100.0).round() / 100.0;
        if (lo_ex && x <= a) || (hi_ex && x >= b) || x < a || x > b {
            x = (a + b) / 2.0;
        }
        Number::from_f64(x).map_or(Value::Null, Value::Number)
    }

    fn word(&mut self, key: &str) -> String {
        let k = key.to_ascii_lowercase();
        let has = |words: &str| words.split(' ').any(|w| k.contains(w));
        let (said, list): (_, &[&str]) = if has("city location place address region country") {
            (&self.place, &CITIES)
        } else if has("query keyword question search prompt topic") || k == "q" {
            (&self.said, &WORDS)
        } else if has("name user person") {
            (&None, &NAMES)
        } else {
            (&None, &WORDS)
        };
        match said {
            Some(s) => s.clone(),
            None => self.rng.pick(list).copied().unwrap_or("value").to_owned(),
        }
    }

    fn string(&mut self, obj: &Map<String, Value>, key: &str) -> Value {
        let format = obj.get("format").and_then(Value::as_str).unwrap_or("");
        let day = 1 + self.rng.below(28);
        let mut s = match format {
            "date" => format!("2026-01-{day:02}"),
            "date-time" => format!("2026-01-{day:02}T08:30:00Z"),
            "time" => "08:30:00".to_owned(),
            "email" | "idn-email" => format!("{}@example.com", self.word("user").to_lowercase()),
            "uri" | "url" | "iri" | "uri-reference" => {
                format!("https://example.com/{}", self.word(""))
            }
            "uuid" => {
                let (a, b) = (self.rng.next_u64(), self.rng.next_u64());
                // A version 4 UUID: the variant digit 8, then `b`'s top 12 bits and low 48.
                let b = ((b >> 52) << 48) | (b & 0xFFFF_FFFF_FFFF);
                RequestId::from_parts(a, b).as_str().to_owned()
            }
            "ipv4" => "192.0.2.1".to_owned(),
            "ipv6" => "2001:db8::1".to_owned(),
            "hostname" | "idn-hostname" => "example.com".to_owned(),
            _ => self.word(key),
        };
        let min = count(obj, "minLength").unwrap_or(0).min(4096) as usize;
        let max = count(obj, "maxLength").map(|m| m.min(4096) as usize);
        let len = s.chars().count();
        if len < min {
            let pad = (min - len).min(self.padding_left);
            self.padding_left -= pad;
            s.extend(std::iter::repeat_n('x', pad));
        }
        if let Some(max) = max {
            s = s.chars().take(max).collect();
        }
        Value::String(s)
    }
}

/// A whole-number keyword of a schema (`minItems`, `maxLength`, …).
fn count(obj: &Map<String, Value>, key: &str) -> Option<u64> {
    obj.get(key).and_then(Value::as_u64)
}

/// The type a schema without `type` describes, from its other keywords.
fn infer_type(obj: &Map<String, Value>) -> &'static str {
    if obj.contains_key("properties")
        || obj.contains_key("required")
        || obj.contains_key("additionalProperties")
    {
        "object"
    } else if obj.contains_key("items") || obj.contains_key("prefixItems") {
        "array"
    } else if obj.contains_key("minimum") || obj.contains_key("maximum") {
        "number"
    } else {
        "string"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schemas_that_multiply_make_bounded_instances() {
        let mut nested = json!({"type": "string", "minLength": 4096});
        for _ in 0..8 {
            nested = json!({"type": "array", "minItems": 16, "items": nested});
        }
        let recursive = json!({"type": "object", "properties": {"a": {"$ref": "#"}, "b": {"$ref": "#"}, "c": {"type": "array", "minItems": 16, "items": {"$ref": "#"}}}, "required": ["a", "b", "c"]});
        for schema in [nested, recursive] {
            // On a thread, so that a generator without bound fails the test rather than hang it.
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let _ = tx.send(instance(&schema, 1, None).to_string().len());
            });
            let len = rx
                .recv_timeout(std::time::Duration::from_secs(60))
                .expect("an instance within a minute");
            assert!(len < 2 * MAX_PADDING + 64 * MAX_VALUES, "{len} bytes");
        }
    }
}
