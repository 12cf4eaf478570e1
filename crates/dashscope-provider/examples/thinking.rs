//! Cookbook: thinking. A hybrid model with `enable_thinking`: its reasoning streams first, then
//! the answer; both are kept apart in the accumulated response too.
//!
//! ```sh
//! cargo run -p dashscope-provider --example thinking
//! ```

use std::io::Write;

use dashscope_provider::Client;
use dashscope_provider::protocol::chat::{ChatRequest, Message};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), dashscope_provider::Error> {
    let client = Client::from_env()?;
    let request = ChatRequest::new("qwen-plus", vec![Message::user("Is 9.11 larger than 9.9?")])
        .enable_thinking(true);
    let mut stream = client.chat().create_stream(request).await?;
    let mut answering = false;
    println!("Thinking:");
    while let Some(chunk) = stream.next_chunk().await {
        let chunk = chunk?;
        if let Some(thought) = chunk.reasoning() {
            print!("{thought}");
        }
        if let Some(text) = chunk.content().filter(|t| !t.is_empty()) {
            if !answering {
                println!("\n\nAnswer:");
                answering = true;
            }
            print!("{text}");
        }
        std::io::stdout().flush().ok();
    }
    let done = stream.snapshot();
    println!(
        "\n\n[{} reasoning characters, {} answer characters]",
        done.reasoning().unwrap_or_default().chars().count(),
        done.text().unwrap_or_default().chars().count()
    );
    Ok(())
}
