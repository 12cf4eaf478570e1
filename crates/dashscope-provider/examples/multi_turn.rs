//! Cookbook: multi-turn conversation. The model keeps no state between calls: send the whole
//! history each time, with the model's earlier answers as assistant messages.
//!
//! ```sh
//! cargo run -p dashscope-provider --example multi_turn
//! ```

use dashscope_provider::Client;
use dashscope_provider::protocol::chat::{ChatRequest, Message};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), dashscope_provider::Error> {
    let client = Client::from_env()?;
    let mut history = vec![Message::system("You are a helpful assistant. Be brief.")];
    for question in [
        "Recommend one science-fiction novel.",
        "Who wrote it, and when was it published?",
    ] {
        history.push(Message::user(question));
        let request = ChatRequest::new("qwen-plus", history.clone());
        let reply = client.chat().create(request).await?;
        let answer = reply.text().unwrap_or_default().to_owned();
        println!("> {question}\n{answer}\n");
        history.push(Message::assistant(answer));
    }
    Ok(())
}
