//! One declaration per wire concept: the type names declared in more than one of the dialect
//! modules (`chat/`, `native/`, `responses/`) and the shared module (`common.rs`).
//!
//! A wire type the dialects share is declared once in `common.rs` and re-exported by each
//! dialect. The names below are declared twice on purpose: their wire forms differ, and each
//! declaration's doc comment says how. A new name declared twice fails this test until it is
//! either shared or added here with its reason.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Names declared in more than one module because the wire forms differ.
const DIFFERENT_WIRE_FORMS: &[(&str, &str)] = &[
    ("Choice", "chat and native choices hold their own Message"),
    (
        "ContentPart",
        "chat parts (text, image_url, …) vs Responses parts (input_text, …)",
    ),
    (
        "FunctionCall",
        "a tool call's function (chat, native) vs a Responses output item",
    ),
    (
        "FunctionTool",
        "nested under `function` (chat, native) vs flat (Responses)",
    ),
    (
        "Input",
        "native {messages, prompt} vs Responses string-or-items",
    ),
    (
        "InputAudio",
        "chat's nested {data, format} vs Responses' flat part",
    ),
    (
        "Message",
        "chat's tagged parts vs native's single-key items",
    ),
    ("MessageContent", "chat parts vs Responses parts"),
    (
        "TextFormat",
        "the empty {\"type\":\"text\"} body vs Responses' text.format union",
    ),
    (
        "Tool",
        "chat/native function tools vs Responses built-ins and flat functions",
    ),
    (
        "ToolChoice",
        "chat/native nested function vs Responses flat function and allowed_tools",
    ),
    (
        "Usage",
        "prompt/completion tokens (chat), media counts (native), billing lines (Responses)",
    ),
];

/// The `pub struct|enum|type` names declared in the `.rs` files under `path`.
fn declared(path: &Path, out: &mut BTreeSet<String>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).expect("readable source dir") {
            declared(&entry.expect("dir entry").path(), out);
        }
        return;
    }
    if path.extension().is_none_or(|e| e != "rs") {
        return;
    }
    let text = std::fs::read_to_string(path).expect("readable source");
    for line in text.lines() {
        let line = line.trim_start();
        for kind in ["pub struct ", "pub enum ", "pub type "] {
            if let Some(rest) = line.strip_prefix(kind) {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if name.starts_with(|c: char| c.is_ascii_uppercase()) {
                    out.insert(name);
                }
            }
        }
    }
}

#[test]
fn a_type_name_is_declared_once_unless_its_wire_form_differs() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for module in ["chat", "native", "responses", "common.rs"] {
        let mut names = BTreeSet::new();
        declared(&src.join(module), &mut names);
        assert!(!names.is_empty(), "{module} declares nothing?");
        for name in names {
            modules.entry(name).or_default().insert(module);
        }
    }
    let twice: BTreeSet<&str> = modules
        .iter()
        .filter(|(_, m)| m.len() > 1)
        .map(|(n, _)| n.as_str())
        .collect();
    let allowed: BTreeSet<&str> = DIFFERENT_WIRE_FORMS.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        twice,
        allowed,
        "declared in more than one module: {:?}",
        modules
            .iter()
            .filter(|(_, m)| m.len() > 1)
            .collect::<Vec<_>>()
    );
}

/// The shared types are the same type under every dialect's path (this fails to compile
/// otherwise), so a value built for one dialect serves the other.
#[test]
fn shared_types_are_one_type_in_every_dialect() {
    use dashscope_protocol::{chat, native, responses};
    fn same<T: PartialEq + std::fmt::Debug>(a: T, b: T) {
        assert_eq!(a, b);
    }
    let schema = serde_json::json!({"type": "object"});
    same(
        chat::Tool::function("f", "d", schema.clone()),
        native::Tool::function("f", "d", schema),
    );
    same(
        chat::ToolCallDelta::function("c", "f", "{}"),
        native::ToolCall::function("c", "f", "{}"),
    );
    same(
        chat::ToolChoice::function("f"),
        native::ToolChoice::function("f"),
    );
    same(chat::Stop::from("END"), native::Stop::from("END"));
    same(
        chat::ResponseFormat::json_object(),
        native::ResponseFormat::json_object(),
    );
    same(
        chat::ReasoningEffort::High,
        responses::ReasoningEffort::High,
    );
    same(chat::Role::User, responses::Role::default());
    same(chat::ToolChoiceMode::Auto, responses::ToolChoiceMode::Auto);
    same(chat::TokenLogprob::default(), responses::Logprob::default());
    same(
        native::PromptTokensDetails::default(),
        responses::InputTokensDetails::default(),
    );
    same(
        chat::CompletionTokensDetails::default(),
        native::OutputTokensDetails::default(),
    );
    same(
        chat::JsonSchema::default(),
        native::JsonSchemaSpec::default(),
    );
    same(
        chat::SearchOptions::default(),
        native::SearchOptions::default(),
    );
    same(
        chat::CacheControl::ephemeral(),
        native::CacheControl::ephemeral(),
    );
    same(chat::FinishReason::Stop, native::FinishReason::Stop);
}
