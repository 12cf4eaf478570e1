//! Cookbook: tool calling, a whole round trip on Chat Completions. The model asks for a
//! function call, the program runs the function, sends the result back as a `tool` message,
//! and the model answers with it. (`any_dialect` does the same on any of the three dialects.)
//!
//! ```sh
//! cargo run -p dashscope-provider --example tool_call
//! ```

use dashscope_provider::Client;
use dashscope_provider::protocol::chat::{ChatRequest, Message, Tool};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct WeatherArgs {
    location: String,
}

/// The function the model may call.
fn get_current_weather(args: &WeatherArgs) -> String {
    format!("{}: sunny, 24 °C", args.location)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::from_env()?;
    let weather = Tool::function(
        "get_current_weather",
        "Gets the current weather in a city.",
        json!({
            "type": "object",
            "properties": {"location": {"type": "string", "description": "The city."}},
            "required": ["location"],
        }),
    );
    let mut messages = vec![Message::user("What is the weather like in Hangzhou today?")];

    let first = client
        .chat()
        .create(ChatRequest::new("qwen-plus", messages.clone()).tool(weather.clone()))
        .await?;
    let calls = first.tool_calls().to_vec();
    if calls.is_empty() {
        println!("{}", first.text().unwrap_or_default());
        return Ok(());
    }
    messages.push(Message::assistant_tool_calls(calls.clone()));
    for call in &calls {
        let args: WeatherArgs = serde_json::from_str(call.arguments().unwrap_or("{}"))?;
        let output = get_current_weather(&args);
        println!(
            "call {}({}) = {output}",
            call.name().unwrap_or("?"),
            args.location
        );
        messages.push(Message::tool_result(
            call.call_id().unwrap_or_default(),
            output,
        ));
    }

    let answer = client
        .chat()
        .create(ChatRequest::new("qwen-plus", messages).tool(weather))
        .await?;
    println!("{}", answer.text().unwrap_or_default());
    Ok(())
}
