//! Cookbook: JSON output. JSON mode (`json_object`: any JSON object; the prompt must mention
//! JSON) and JSON schema (`json_schema`: an object of the given schema, read here into a Rust
//! type).
//!
//! ```sh
//! cargo run -p dashscope-provider --example json_output
//! ```

use dashscope_provider::Client;
use dashscope_provider::protocol::chat::{ChatRequest, Message, ResponseFormat};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct Person {
    name: String,
    age: u32,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::from_env()?;

    // JSON mode.
    let request = ChatRequest::new(
        "qwen-plus",
        vec![Message::user(
            "Give the name and age of a fictional detective as a JSON object.",
        )],
    )
    .response_format(ResponseFormat::json_object());
    let reply = client.chat().create(request).await?;
    let value: serde_json::Value = serde_json::from_str(reply.text().unwrap_or_default())?;
    println!("json_object: {value}");

    // JSON schema.
    let schema = json!({
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
        "required": ["name", "age"],
        "additionalProperties": false,
    });
    let request = ChatRequest::new(
        "qwen-plus",
        vec![Message::user("Invent a fictional detective.")],
    )
    .response_format(ResponseFormat::json_schema("person", schema));
    let reply = client.chat().create(request).await?;
    let person: Person = serde_json::from_str(reply.text().unwrap_or_default())?;
    println!("json_schema: {} is {} years old", person.name, person.age);
    Ok(())
}
