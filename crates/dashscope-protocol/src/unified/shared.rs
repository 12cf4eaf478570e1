//! Pieces chat and native write the same way (tools, tool choice, response format, tool calls,
//! sampling and thinking parameters), and helpers every dialect uses.

use serde_json::{Value, json};

use super::ConvertError;
use super::extras::{Extras, In, Out, float};
use super::model::{
    DialectValue, FunctionTool, JsonSchemaFormat, Part, ReasoningEffort, ResponseFormat, Sampling,
    Thinking, Tool, ToolCall, ToolChoice,
};
use crate::cassette::Dialect;

/// The error for something `dialect` cannot carry.
pub(crate) fn unsupported(dialect: Dialect, what: impl Into<String>) -> ConvertError {
    ConvertError::Unsupported {
        dialect,
        what: what.into(),
    }
}

/// Deserializes the wire value built by a writer into the dialect's type.
pub(crate) fn typed<T: serde::de::DeserializeOwned>(
    dialect: Dialect,
    v: Value,
) -> Result<T, ConvertError> {
    serde_json::from_value(v).map_err(|source| ConvertError::Wire { dialect, source })
}

/// The content as a plain string when the parts allow it: no parts is `""`, one text part with
/// a non-empty text and no `dialect` extras is its text.
pub(crate) fn string_form(parts: &[Part], dialect: Dialect) -> Option<&str> {
    match parts {
        [] => Some(""),
        [Part::Text(t)] if !t.text.is_empty() && t.extras.get(dialect).is_empty() => {
            Some(t.text.as_str())
        }
        _ => None,
    }
}

/// The unified part for a value the unified model does not know.
pub(crate) fn dialect_part(dialect: Dialect, value: Value) -> Part {
    Part::Dialect(DialectValue { dialect, value })
}

/// A [`Part::Dialect`] written back to `dialect`.
pub(crate) fn dialect_value(
    dv: &DialectValue,
    dialect: Dialect,
    what: &str,
) -> Result<Value, ConvertError> {
    if dv.dialect == dialect {
        Ok(dv.value.clone())
    } else {
        Err(unsupported(
            dialect,
            format!("a {what} of the {} dialect", dv.dialect.as_str()),
        ))
    }
}

/// Reads `{"type":"function","function":{name, description, parameters, strict}}`.
pub(crate) fn tool_from_nested(v: Value, dialect: Dialect) -> Tool {
    let is_function = v.get("type").and_then(Value::as_str) == Some("function")
        && v.get("function")
            .and_then(|f| f.get("name"))
            .is_some_and(Value::is_string);
    if !is_function {
        return Tool::Dialect(DialectValue { dialect, value: v });
    }
    let mut r = In::value(v);
    r.take("type");
    let mut f = r.obj("function").unwrap_or_default();
    let name = f.str("name").unwrap_or_default();
    let description = f.str("description");
    let parameters = f.take_if("parameters", |p| (!p.is_null()).then(|| p.clone()));
    let strict = f.bool("strict");
    r.nested("function", f, true);
    Tool::Function(FunctionTool {
        name,
        description,
        parameters,
        strict,
        extras: Extras::of(dialect, r.finish()),
    })
}

/// Writes a tool as `{"type":"function","function":{…}}`.
pub(crate) fn tool_to_nested(t: &Tool, dialect: Dialect) -> Result<Value, ConvertError> {
    match t {
        Tool::Function(f) => {
            let mut o = Out::from(f.extras.get(dialect));
            o.put("type", "function");
            let mut c = o.child("function");
            c.put("name", f.name.as_str());
            c.put_opt("description", f.description.as_deref());
            c.put_opt("parameters", f.parameters.clone());
            c.put_opt("strict", f.strict);
            o.put_child("function", c, true);
            Ok(o.finish())
        }
        Tool::Dialect(dv) => dialect_value(dv, dialect, "tool"),
    }
}

/// Reads a chat/native `tool_choice` (`"auto"`, `"none"`, `"required"` or
/// `{"type":"function","function":{"name":…}}` exactly).
pub(crate) fn tool_choice_from_nested(v: &Value) -> Option<ToolChoice> {
    match v {
        Value::String(s) => mode_choice(s),
        Value::Object(m) if m.len() == 2 && m.get("type") == Some(&json!("function")) => {
            let f = m.get("function")?.as_object()?;
            if f.len() != 1 {
                return None;
            }
            Some(ToolChoice::Function(f.get("name")?.as_str()?.to_owned()))
        }
        _ => None,
    }
}

/// `auto`, `none`, `required`.
pub(crate) fn mode_choice(s: &str) -> Option<ToolChoice> {
    match s {
        "auto" => Some(ToolChoice::Auto),
        "none" => Some(ToolChoice::None),
        "required" => Some(ToolChoice::Required),
        _ => None,
    }
}

/// The string of a mode choice.
pub(crate) fn mode_str(c: &ToolChoice) -> Option<&'static str> {
    match c {
        ToolChoice::Auto => Some("auto"),
        ToolChoice::None => Some("none"),
        ToolChoice::Required => Some("required"),
        ToolChoice::Function(_) => None,
    }
}

/// Writes a chat/native `tool_choice`.
pub(crate) fn tool_choice_to_nested(c: &ToolChoice) -> Value {
    match c {
        ToolChoice::Function(name) => json!({"type": "function", "function": {"name": name}}),
        other => Value::from(mode_str(other).unwrap_or("auto")),
    }
}

/// Reads the members of a JSON Schema format (`name`, `description`, `schema`, `strict`, and
/// nothing else).
pub(crate) fn json_schema_members(
    m: &serde_json::Map<String, Value>,
    skip: &[&str],
) -> Option<JsonSchemaFormat> {
    let mut out = JsonSchemaFormat::default();
    for (k, v) in m {
        match k.as_str() {
            "name" => out.name = Some(v.as_str()?.to_owned()),
            "description" => out.description = Some(v.as_str()?.to_owned()),
            "schema" if !v.is_null() => out.schema = Some(v.clone()),
            "strict" => out.strict = Some(v.as_bool()?),
            k if skip.contains(&k) => {}
            _ => return None,
        }
    }
    Some(out)
}

/// Reads a chat/native `response_format` (`{"type":"json_schema","json_schema":{…}}` shape);
/// `chat` maps the required-but-empty `name` to none.
pub(crate) fn response_format_from_nested(v: &Value, chat: bool) -> Option<ResponseFormat> {
    let m = v.as_object()?;
    match m.get("type")?.as_str()? {
        "text" if m.len() == 1 => Some(ResponseFormat::Text),
        "json_object" if m.len() == 1 => Some(ResponseFormat::JsonObject),
        "json_schema" if m.len() == 2 => {
            let mut f = json_schema_members(m.get("json_schema")?.as_object()?, &[])?;
            if chat {
                if f.name.as_deref() == Some("") {
                    f.name = None;
                } else if f.name.is_none() {
                    return None;
                }
            }
            Some(ResponseFormat::JsonSchema(f))
        }
        _ => None,
    }
}

/// The members of a JSON Schema format; `chat` always writes a `name` (`""` for none).
pub(crate) fn json_schema_object(
    f: &JsonSchemaFormat,
    chat: bool,
) -> serde_json::Map<String, Value> {
    let mut o = serde_json::Map::new();
    match (&f.name, chat) {
        (Some(n), _) => {
            o.insert("name".into(), Value::from(n.as_str()));
        }
        (None, true) => {
            o.insert("name".into(), Value::from(""));
        }
        (None, false) => {}
    }
    if let Some(d) = &f.description {
        o.insert("description".into(), Value::from(d.as_str()));
    }
    if let Some(s) = &f.schema {
        o.insert("schema".into(), s.clone());
    }
    if let Some(s) = f.strict {
        o.insert("strict".into(), Value::from(s));
    }
    o
}

/// Writes a chat/native `response_format`.
pub(crate) fn response_format_to_nested(f: &ResponseFormat, chat: bool) -> Value {
    match f {
        ResponseFormat::Text => json!({"type": "text"}),
        ResponseFormat::JsonObject => json!({"type": "json_object"}),
        ResponseFormat::JsonSchema(s) => {
            json!({"type": "json_schema", "json_schema": Value::Object(json_schema_object(s, chat))})
        }
    }
}

/// Reads `{"id","type":"function","function":{"name","arguments"}}` (chat, native).
pub(crate) fn tool_call_from_nested(v: Value, dialect: Dialect) -> ToolCall {
    let mut r = In::value(v);
    let id = r.str("id").unwrap_or_else(|| {
        if !r.has("id") {
            r.absent("id");
        }
        String::new()
    });
    r.konst("type", "function");
    let (mut name, mut arguments) = (String::new(), String::new());
    match r.obj("function") {
        Some(mut f) => {
            name = f.str("name").unwrap_or_else(|| {
                if !f.has("name") {
                    f.absent("name");
                }
                String::new()
            });
            arguments = f.str("arguments").unwrap_or_else(|| {
                if !f.has("arguments") {
                    f.absent("arguments");
                }
                String::new()
            });
            r.nested("function", f, true);
        }
        None if !r.has("function") => r.absent("function"),
        None => {}
    }
    ToolCall {
        id,
        name,
        arguments,
        extras: Extras::of(dialect, r.finish()),
    }
}

/// Writes a tool call as `{"id","type":"function","function":{…}}`.
pub(crate) fn tool_call_to_nested(t: &ToolCall, dialect: Dialect) -> Value {
    let mut o = Out::from(t.extras.get(dialect));
    o.put_default("id", t.id.as_str(), t.id.is_empty());
    o.konst("type", "function");
    let empty = t.name.is_empty() && t.arguments.is_empty();
    if !(empty && (o.absent("function") || o.has("function"))) {
        let mut f = o.child("function");
        f.put_default("name", t.name.as_str(), t.name.is_empty());
        f.put_default("arguments", t.arguments.as_str(), t.arguments.is_empty());
        o.put_child("function", f, true);
    }
    o.finish()
}

/// Reads the sampling members chat and native share (top level in chat, `parameters` in
/// native).
pub(crate) fn read_sampling(r: &mut In) -> Sampling {
    let stop = match r.peek("stop") {
        Some(Value::String(_)) => r.str("stop").map(|s| {
            r.form("stop", Value::from("string"));
            vec![s]
        }),
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => r.array("stop").map(|a| {
            a.into_iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        }),
        _ => None,
    };
    Sampling {
        temperature: r.f64("temperature"),
        top_p: r.f64("top_p"),
        top_k: r.u32("top_k"),
        max_tokens: r.u64("max_tokens"),
        max_completion_tokens: r.u64("max_completion_tokens"),
        seed: r.u64("seed"),
        stop,
        n: r.u32("n"),
        presence_penalty: r.f64("presence_penalty"),
        repetition_penalty: r.f64("repetition_penalty"),
    }
}

/// Writes the sampling members chat and native share.
pub(crate) fn write_sampling(o: &mut Out<'_>, s: &Sampling) {
    o.put_opt("temperature", s.temperature.map(float));
    o.put_opt("top_p", s.top_p.map(float));
    o.put_opt("top_k", s.top_k);
    o.put_opt("max_tokens", s.max_tokens);
    o.put_opt("max_completion_tokens", s.max_completion_tokens);
    o.put_opt("seed", s.seed);
    if let Some(stop) = &s.stop {
        match stop.as_slice() {
            [one] if o.form_str("stop") == Some("string") => o.put("stop", one.as_str()),
            list => o.put("stop", Value::from(list.to_vec())),
        }
    }
    o.put_opt("n", s.n);
    o.put_opt("presence_penalty", s.presence_penalty.map(float));
    o.put_opt("repetition_penalty", s.repetition_penalty.map(float));
}

/// Reads `enable_thinking`, `thinking_budget` and `reasoning_effort` (chat, native).
pub(crate) fn read_thinking(r: &mut In) -> Thinking {
    Thinking {
        enabled: r.bool("enable_thinking"),
        budget: r.u32("thinking_budget"),
        effort: r.str("reasoning_effort").map(ReasoningEffort::from),
    }
}

/// Writes `enable_thinking`, `thinking_budget` and `reasoning_effort` (chat, native).
pub(crate) fn write_thinking(o: &mut Out<'_>, t: &Thinking) {
    o.put_opt("enable_thinking", t.enabled);
    o.put_opt("thinking_budget", t.budget);
    o.put_opt(
        "reasoning_effort",
        t.effort.as_ref().map(ReasoningEffort::as_str),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_calls_with_missing_members_round_trip() {
        for v in [
            json!({"index": 0, "id": "", "type": "function", "function": {"arguments": "x"}}),
            json!({"index": 1}),
            json!({"id": null, "type": "other", "function": {"name": "f", "arguments": null}}),
            json!({"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}),
        ] {
            let t = tool_call_from_nested(v.clone(), Dialect::Native);
            assert_eq!(tool_call_to_nested(&t, Dialect::Native), v);
        }
    }

    #[test]
    fn tool_choice_and_format_shapes() {
        assert_eq!(
            tool_choice_from_nested(&json!({"type": "function", "function": {"name": "f"}})),
            Some(ToolChoice::Function("f".into()))
        );
        assert_eq!(tool_choice_from_nested(&json!({"type": "function"})), None);
        assert_eq!(tool_choice_from_nested(&json!("sometimes")), None);
        let f = json!({"type": "json_schema", "json_schema": {"name": "", "schema": {"type": "object"}}});
        let rf = response_format_from_nested(&f, true).expect("fits");
        assert_eq!(response_format_to_nested(&rf, true), f);
        assert_eq!(
            response_format_from_nested(&json!({"type": "text", "x": 1}), true),
            None
        );
    }
}
