//! Cookbook: streaming. Chat Completions chunk by chunk, then a Responses stream event by event;
//! each stream folds what it received into the final answer as it goes.
//!
//! ```sh
//! cargo run -p dashscope-provider --example streaming
//! ```

use std::io::Write;

use dashscope_provider::Client;
use dashscope_provider::protocol::chat::{ChatRequest, Message};
use dashscope_provider::protocol::responses::{ResponseRequest, ResponseStreamEvent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), dashscope_provider::Error> {
    let client = Client::from_env()?;

    // Chat Completions: `create_stream` sets `stream: true` and asks for the usage chunk.
    let request = ChatRequest::new("qwen-plus", vec![Message::user("你是谁？")]);
    let mut stream = client.chat().create_stream(request).await?;
    while let Some(chunk) = stream.next_chunk().await {
        print!("{}", chunk?.content().unwrap_or_default());
        std::io::stdout().flush().ok();
    }
    let answer = stream.snapshot();
    println!(
        "\n[{} completion tokens]",
        answer.usage.map_or(0, |u| u.completion_tokens)
    );

    // Responses: typed events; `accumulate` would fold them the same way.
    let request = ResponseRequest::new("qwen-plus", "Introduce Rust in two sentences.");
    let mut stream = client.responses().create_stream(request).await?;
    while let Some(event) = stream.next_chunk().await {
        match event? {
            ResponseStreamEvent::OutputTextDelta(d) => print!("{}", d.delta),
            ResponseStreamEvent::Completed(_) => println!("\n[completed]"),
            _ => {}
        }
        std::io::stdout().flush().ok();
    }
    Ok(())
}
