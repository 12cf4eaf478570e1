//! Cookbook: plain chat. Chat Completions, one answer.
//!
//! Every example reads `DASHSCOPE_API_KEY` (and `DASHSCOPE_REGION`, `DASHSCOPE_WORKSPACE` or
//! `DASHSCOPE_BASE_URL` when set). Against the mock server instead of the service:
//!
//! ```sh
//! cargo run -p dashscope-mock &   # listens on 127.0.0.1:8089 by default
//! DASHSCOPE_BASE_URL=http://127.0.0.1:8089 DASHSCOPE_API_KEY=sk-test \
//!     cargo run -p dashscope-provider --example quickstart_chat
//! ```

use dashscope_provider::Client;
use dashscope_provider::protocol::chat::{ChatRequest, Message};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), dashscope_provider::Error> {
    let client = Client::from_env()?;
    let request = ChatRequest::new("qwen-plus", vec![Message::user("你是谁？")]);
    let reply = client.chat().create(request).await?;
    println!("{}", reply.text().unwrap_or_default());
    if let Some(usage) = &reply.usage {
        println!(
            "[{} prompt + {} completion tokens; request id {}]",
            usage.prompt_tokens,
            usage.completion_tokens,
            reply.request_id().unwrap_or("?")
        );
    }
    Ok(())
}
