//! A thinking model: the reasoning arrives apart from the answer, both while streaming and in
//! the accumulated response.
//!
//! Reads `DASHSCOPE_API_KEY` and `DASHSCOPE_BASE_URL`; runs against the mock server (see
//! `quickstart_chat.rs`).

use std::io::Write;

use dashscope_provider::Client;
use dashscope_provider::protocol::chat::{ChatRequest, Message};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), dashscope_provider::Error> {
    let client = Client::from_env()?;
    let request = ChatRequest::new(
        "qwen3.6-plus",
        vec![Message::user("Reply with a JSON object.")],
    );
    let mut stream = client.chat().create_stream(request).await?;
    let mut answering = false;
    while let Some(chunk) = stream.next_chunk().await {
        let chunk = chunk?;
        if let Some(thought) = chunk.reasoning().filter(|t| !t.is_empty()) {
            print!("{thought}");
        }
        if let Some(text) = chunk.content().filter(|t| !t.is_empty()) {
            if !answering {
                println!("\n--- answer ---");
                answering = true;
            }
            print!("{text}");
        }
        std::io::stdout().flush().ok();
    }
    let done = stream.snapshot();
    println!(
        "\n[{} reasoning characters, {} answer characters]",
        done.reasoning().unwrap_or_default().chars().count(),
        done.text().unwrap_or_default().chars().count()
    );
    Ok(())
}
