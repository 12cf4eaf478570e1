//! Request validation like the service's, before the synthetic responder answers.
//!
//! Each rule answers 400 in the request's dialect: native `InvalidParameter` (or the
//! `BadRequest.*` code the service uses), compat `invalid_parameter_error` /
//! `invalid_request_error`; stream requests get the SSE-framed form (see [`errors`](crate::errors)).
//!
//! | rule | chat | Responses | native |
//! |---|---|---|---|
//! | the model is known (`Synthetic::models`) | `model` | `model` | `model` |
//! | the conversation is there and not empty | `messages` | `input` | `input.messages` / `input.prompt` (`BadRequest.EmptyInput` when `input` is missing) |
//! | each message is an object with a known role | `system`, `user`, `assistant`, `tool`, `function` (and `developer`) | items: `user`, `assistant`, `system`, `developer` | as chat |
//! | `content` is a string, a list of parts or null; chat parts carry `type` | yes | yes | yes |
//! | `temperature` in [0, 2) | yes | yes | `parameters.temperature` |
//! | `top_p` in (0, 1] | yes | yes | yes |
//! | `top_logprobs` in [0, 5] | yes | yes | yes |
//! | `n` in [1, 4] | yes | — | yes |
//! | `max_tokens` / `max_completion_tokens` ≥ 1; Responses `max_output_tokens` ≥ 16 | yes | yes | yes |
//! | `thinking_budget` ≥ 1 | yes | yes | yes |
//! | `json_object` needs the word "json" in the messages | `response_format` | `text.format` | `parameters.response_format` |
//! | `tool_choice` `required` or a function is refused in thinking mode | yes | — | yes |
//! | an Omni model (`*omni*`) or `modalities` with `audio` needs `stream: true` | yes | — | — |
//!
//! Missing model, malformed JSON, wrong content type, the API key, `X-DashScope-Async` and an
//! unknown `previous_response_id` are checked earlier by the [`handler`](crate::handler).

use serde_json::Value;

use dashscope_protocol::dialect::Endpoint;

use crate::errors::ErrorReply;

const ROLES: &str = "system user assistant tool function developer";
const ITEM_ROLES: [&str; 4] = ["user", "assistant", "system", "developer"];

fn bad(message: impl Into<String>) -> Box<ErrorReply> {
    Box::new(ErrorReply::invalid_parameter(message))
}

/// Checks a request body of `endpoint`'s dialect.
///
/// # Errors
///
/// The [`ErrorReply`] the service would answer with (boxed: it is large).
pub(crate) fn validate(
    endpoint: Endpoint,
    body: &Value,
    allows: impl Fn(&str) -> bool,
) -> Result<(), Box<ErrorReply>> {
    let Some(obj) = body.as_object() else {
        return Err(bad("The request body must be a JSON object."));
    };
    let model = obj.get("model").and_then(Value::as_str);
    if let Some(model) = model.filter(|m| !allows(m)) {
        let mut e = bad("Model not exist.");
        e.compat_message = Some(format!("model `{model}` is not supported."));
        return Err(e);
    }
    let text = || conversation_text(body, endpoint);
    match endpoint {
        Endpoint::ChatCompletions => {
            messages(obj.get("messages"), "messages", true)?;
            params(body, false)?;
            json_word(obj.get("response_format"), text)?;
            tool_choice_in_thinking(body)?;
            omni_streams(body)?;
        }
        Endpoint::Responses | Endpoint::ResponsesLegacy => {
            responses_input(body)?;
            params(body, true)?;
            json_word(obj.get("text").and_then(|t| t.get("format")), text)?;
        }
        Endpoint::NativeText | Endpoint::NativeMultimodal => {
            native_input(body)?;
            let p = obj.get("parameters").unwrap_or(&Value::Null);
            if !p.is_null() && !p.is_object() {
                return Err(bad("\"parameters\" must be an object."));
            }
            params(p, false)?;
            json_word(p.get("response_format"), text)?;
            tool_choice_in_thinking(p)?;
        }
    }
    Ok(())
}

/// Chat and native message lists.
fn messages(v: Option<&Value>, name: &str, chat: bool) -> Result<(), Box<ErrorReply>> {
    let list = match v {
        None | Some(Value::Null) => return Err(Box::new(ErrorReply::missing(name))),
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(bad(format!(
                "\"{name}\" must be a list of message objects."
            )));
        }
    };
    if list.is_empty() {
        return Err(if chat {
            bad(format!("\"{name}\" must not be empty."))
        } else {
            bad("Role must be user or assistant and Content length must be greater than 0")
        });
    }
    for (i, m) in list.iter().enumerate() {
        let Some(m) = m.as_object() else {
            return Err(bad(format!("{name}[{i}] must be an object.")));
        };
        let role = match m.get("role") {
            Some(Value::String(r)) => r.as_str(),
            Some(_) => return Err(bad(format!("{name}[{i}].role must be a string."))),
            None => return Err(bad(format!("{name}[{i}] has no role."))),
        };
        if !ROLES.split(' ').any(|r| r == role) {
            return Err(bad(format!(
                "Invalid role '{role}' in {name}[{i}]: the role must be one of system, assistant, user, tool, function."
            )));
        }
        // A part is an object (with a `type`, in chat).
        let part = |p: &Value| {
            p.as_object()
                .is_some_and(|o| !chat || o.contains_key("type"))
        };
        match m.get("content") {
            None | Some(Value::Null | Value::String(_)) => {}
            Some(Value::Array(parts)) if parts.iter().all(part) => {}
            Some(Value::Array(_)) => {
                return Err(bad(
                    "if content is list. item must be dict and key[type] should in dict",
                ));
            }
            Some(_) => {
                return Err(bad(format!(
                    "{name}[{i}].content must be a string or a list of content parts."
                )));
            }
        }
        if m.get("tool_calls")
            .is_some_and(|c| !c.is_array() && !c.is_null())
        {
            return Err(bad(format!("{name}[{i}].tool_calls must be a list.")));
        }
    }
    Ok(())
}

fn native_input(body: &Value) -> Result<(), Box<ErrorReply>> {
    let input = match body.get("input") {
        None | Some(Value::Null) => {
            let m = "Required input parameter missing from request.";
            let e = ErrorReply::invalid_parameter(m).param("input");
            let native_code = "BadRequest.EmptyInput".to_owned();
            return Err(Box::new(ErrorReply { native_code, ..e }));
        }
        Some(Value::Object(i)) => i,
        Some(_) => return Err(bad("\"input\" must be an object.")),
    };
    let prompt = input.get("prompt").filter(|p| !p.is_null());
    let msgs = input.get("messages").filter(|m| !m.is_null());
    match (prompt, msgs) {
        (None, None) => Err(bad(
            "Either \"prompt\" or \"messages\" must exist and cannot both be none",
        )),
        (_, Some(m)) => messages(Some(m), "messages", false),
        (Some(Value::String(p)), None) if !p.is_empty() => Ok(()),
        (Some(Value::String(_)), None) => Err(bad(
            "Role must be user or assistant and Content length must be greater than 0",
        )),
        (Some(_), None) => Err(bad("\"prompt\" must be a string.")),
    }
}

fn responses_input(body: &Value) -> Result<(), Box<ErrorReply>> {
    match body.get("input") {
        None | Some(Value::Null) => Err(Box::new(ErrorReply::missing("input"))),
        Some(Value::String(s)) if s.is_empty() => Err(bad("\"input\" must not be empty.")),
        Some(Value::String(_)) => Ok(()),
        Some(Value::Array(items)) if items.is_empty() => Err(bad("\"input\" must not be empty.")),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let Some(o) = item.as_object() else {
                    return Err(bad(format!("input[{i}] must be an object.")));
                };
                let ty = o.get("type").and_then(Value::as_str);
                let message = matches!(ty, None | Some("message"));
                if !message {
                    continue;
                }
                match o.get("role") {
                    Some(Value::String(r)) if ITEM_ROLES.contains(&r.as_str()) => {}
                    Some(Value::String(r)) => {
                        return Err(bad(format!(
                            "Invalid role '{r}' in input[{i}]: the role must be one of user, assistant, system, developer."
                        )));
                    }
                    _ => return Err(bad(format!("input[{i}] has no role."))),
                }
                let typed = |p: &Value| p.as_object().is_some_and(|o| o.contains_key("type"));
                match o.get("content") {
                    Some(Value::String(_)) => {}
                    Some(Value::Array(parts)) if parts.iter().all(typed) => {}
                    Some(Value::Array(_)) => {
                        return Err(bad(format!(
                            "input[{i}].content: each part must be an object with a type."
                        )));
                    }
                    _ => {
                        return Err(bad(format!(
                            "input[{i}].content must be a string or a list of content parts."
                        )));
                    }
                }
            }
            let instructions = body.get("instructions");
            if instructions.is_some_and(|i| !i.is_string() && !i.is_null()) {
                return Err(bad("\"instructions\" must be a string."));
            }
            Ok(())
        }
        Some(_) => Err(bad("\"input\" must be a string or a list of input items.")),
    }
}

/// A number member, if present and not null.
fn number(p: &Value, key: &str) -> Result<Option<f64>, Box<ErrorReply>> {
    match p.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(_) => Err(bad(format!("\"{key}\" must be a number."))),
    }
}

/// An integer member, if present and not null (a whole float counts; a number over
/// `i64::MAX` reads as `i64::MAX`).
fn integer(p: &Value, key: &str) -> Result<Option<i64>, Box<ErrorReply>> {
    let Some(v) = p.get(key).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let whole = v.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15);
    let n = (v.as_i64().or(whole.map(|f| f as i64))).or(v.is_u64().then_some(i64::MAX));
    n.map(Some)
        .ok_or_else(|| bad(format!("\"{key}\" must be an integer.")))
}

/// The sampling and length parameters; `responses`: by the Responses rules (no `n`,
/// `max_output_tokens` instead of `max_tokens`).
fn params(p: &Value, responses: bool) -> Result<(), Box<ErrorReply>> {
    let out_of = |key: &str, range: &str| bad(format!("Range of {key} should be {range}"));
    if number(p, "temperature")?.is_some_and(|t| !(0.0..2.0).contains(&t)) {
        return Err(out_of("temperature", "[0.0, 2.0)"));
    }
    if number(p, "top_p")?.is_some_and(|t| !(t > 0.0 && t <= 1.0)) {
        return Err(out_of("top_p", "(0.0, 1.0]"));
    }
    if integer(p, "top_logprobs")?.is_some_and(|t| !(0..=5).contains(&t)) {
        return Err(out_of("top_logprobs", "[0, 5]"));
    }
    // The length limits, each with its least value (the greatest is not checked).
    let lengths: &[(&str, i64)] = if responses {
        &[("max_output_tokens", 16)]
    } else {
        if integer(p, "n")?.is_some_and(|n| !(1..=4).contains(&n)) {
            return Err(out_of("n", "[1, 4]"));
        }
        &[("max_tokens", 1), ("max_completion_tokens", 1)]
    };
    for &(key, least) in lengths {
        if integer(p, key)?.is_some_and(|m| m < least) {
            return Err(out_of(key, &format!("[{least}, 2147483647]")));
        }
    }
    if integer(p, "thinking_budget")?.is_some_and(|b| b < 1) {
        return Err(bad(
            "The thinking_budget parameter must be a positive integer and not greater than 2147483647",
        ));
    }
    Ok(())
}

/// Everything the messages say, lower-cased (for the "json" rule).
fn conversation_text(body: &Value, endpoint: Endpoint) -> String {
    let mut out = String::new();
    let walk_content = |c: Option<&Value>, out: &mut String| match c {
        Some(Value::String(s)) => out.push_str(s),
        Some(Value::Array(parts)) => {
            for p in parts {
                if let Some(t) = p.get("text").and_then(Value::as_str) {
                    out.push_str(t);
                    out.push(' ');
                }
            }
        }
        _ => {}
    };
    let list = match endpoint {
        Endpoint::ChatCompletions => body.get("messages"),
        Endpoint::NativeText | Endpoint::NativeMultimodal => {
            if let Some(p) = body.pointer("/input/prompt").and_then(Value::as_str) {
                out.push_str(p);
                out.push(' ');
            }
            body.pointer("/input/messages")
        }
        Endpoint::Responses | Endpoint::ResponsesLegacy => {
            if let Some(i) = body.get("instructions").and_then(Value::as_str) {
                out.push_str(i);
                out.push(' ');
            }
            if let Some(s) = body.get("input").and_then(Value::as_str) {
                out.push_str(s);
            }
            body.get("input")
        }
    };
    for m in list.and_then(Value::as_array).into_iter().flatten() {
        walk_content(m.get("content"), &mut out);
        out.push(' ');
    }
    out.to_lowercase()
}

/// A `json_object` format needs the word "json" in the conversation (`text`, read only then).
fn json_word(format: Option<&Value>, text: impl Fn() -> String) -> Result<(), Box<ErrorReply>> {
    let json_object =
        format.and_then(|f| f.get("type")).and_then(Value::as_str) == Some("json_object");
    if json_object && !text().contains("json") {
        return Err(bad(
            "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
        ));
    }
    Ok(())
}

/// Omni models answer in a stream only (protocol_notes §2.6): a real refusal reads 400
/// `invalid_request_error` "qwen-omni-turbo-2025-01-19 only support with stream=true" (its
/// `code` was `null` there; the mock sends `invalid_parameter_error` like other parameter
/// errors; uncertain).
fn omni_streams(body: &Value) -> Result<(), Box<ErrorReply>> {
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let modalities = body.get("modalities").and_then(Value::as_array);
    let audio = modalities.is_some_and(|m| m.iter().any(|m| m == "audio"));
    let omni = model.to_ascii_lowercase().contains("omni");
    if (omni || audio) && body.get("stream") != Some(&Value::Bool(true)) {
        return Err(bad(format!("{model} only support with stream=true")));
    }
    Ok(())
}

/// `tool_choice` `required` or a named function is refused when thinking is on.
fn tool_choice_in_thinking(p: &Value) -> Result<(), Box<ErrorReply>> {
    let thinking = p.get("enable_thinking").and_then(Value::as_bool) == Some(true);
    let forced = match p.get("tool_choice") {
        Some(Value::String(s)) => s == "required",
        Some(Value::Object(_)) => true,
        _ => false,
    };
    if thinking && forced {
        return Err(bad(
            "The tool_choice parameter does not support being set to required or object in thinking mode",
        ));
    }
    Ok(())
}
