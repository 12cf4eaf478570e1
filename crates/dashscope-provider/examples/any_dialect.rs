//! Cookbook: one conversation, any dialect. The dialect is the only argument (`chat`,
//! `responses` or `native`; default `chat`). The program streams the model's thinking and
//! answer, runs the tool the model calls, and sends the result back, all in the unified model.
//!
//! ```sh
//! cargo run -p dashscope-provider --example any_dialect -- native
//! ```

use std::io::Write;

use dashscope_provider::Client;
use dashscope_provider::conversation::{Conversation, Dialect, FunctionTool, UnifiedEvent};
use serde_json::json;

fn get_current_weather(arguments: &str) -> String {
    let args: serde_json::Value = serde_json::from_str(arguments).unwrap_or_default();
    let city = args["location"].as_str().unwrap_or("somewhere");
    format!("{city}: sunny, 24 °C")
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), dashscope_provider::Error> {
    let arg = std::env::args().nth(1).unwrap_or_else(|| "chat".to_owned());
    let dialect: Dialect = match arg.parse() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let client = Client::from_env()?;
    let weather = FunctionTool::new(
        "get_current_weather",
        "Gets the current weather in a city.",
        json!({
            "type": "object",
            "properties": {"location": {"type": "string", "description": "The city."}},
            "required": ["location"],
        }),
    );
    let mut conv = Conversation::new("qwen-plus")
        .system("You are a helpful assistant.")
        .user("What is the weather like in Hangzhou? Use get_current_weather.")
        .tool(weather)
        .thinking(true);

    // First turn, streamed: thinking and text as they arrive.
    let mut stream = client.conversation(dialect).stream(conv.clone()).await?;
    let mut heading = "";
    while let Some(event) = stream.next_event().await {
        let (next, text) = match event? {
            UnifiedEvent::ReasoningDelta { text, .. } => ("Thinking:", text),
            UnifiedEvent::TextDelta { text, .. } => ("Answer:", text),
            _ => continue,
        };
        if heading != next {
            if !heading.is_empty() {
                println!();
            }
            heading = next;
            println!("{heading}");
        }
        print!("{text}");
        std::io::stdout().flush().ok();
    }
    let answer = stream.accumulate().await?;
    println!();

    // Run the tools the model called, then send the results back (non-stream this time).
    if !answer.tool_calls().is_empty() {
        conv = conv.answer(&answer);
        for call in answer.tool_calls() {
            let output = get_current_weather(&call.arguments);
            println!("call {}({}) = {output}", call.name, call.arguments);
            conv = conv.tool_result(call.id.clone(), output);
        }
        let reply = client.conversation(dialect).send(conv).await?;
        println!("{}", reply.text());
        if let Some(u) = &reply.usage {
            println!(
                "[{dialect}: {} in + {} out tokens; request id {}]",
                u.input_tokens,
                u.output_tokens,
                reply.request_id().unwrap_or("?")
            );
        }
    }
    Ok(())
}
