//! Cookbook: partial mode. End the messages with the start of the answer (an assistant
//! message marked `partial`) and the model continues it; the reply holds only the
//! continuation. Chat Completions and native alike; not with thinking on.
//!
//! ```sh
//! cargo run -p dashscope-provider --example partial_mode
//! ```

use dashscope_provider::Client;
use dashscope_provider::protocol::chat::{ChatRequest, Message};
use dashscope_provider::protocol::native::{self, GenerationRequest, ResultFormat};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), dashscope_provider::Error> {
    let client = Client::from_env()?;
    let prefix = "def fibonacci(n):";

    let request = ChatRequest::new(
        "qwen-plus",
        vec![
            Message::user("Write a Python function for the n-th Fibonacci number."),
            Message::assistant_prefix(prefix),
        ],
    );
    let reply = client.chat().create(request).await?;
    println!("chat:\n{prefix}{}\n", reply.text().unwrap_or_default());

    let request = GenerationRequest::new(
        "qwen-plus",
        vec![
            native::Message::user("Write a Python function for the n-th Fibonacci number."),
            native::Message::assistant_prefix(prefix),
        ],
    )
    .result_format(ResultFormat::Message);
    let reply = client.native().generate(request).await?;
    println!("native:\n{prefix}{}", reply.text().unwrap_or_default());
    Ok(())
}
