//! Cookbook: concurrent requests. One client (cheap to clone, one connection pool) sends
//! several requests at once; `buffered(n)` keeps at most `n` in flight (mind your rate limit)
//! and hands the answers back in order.
//!
//! ```sh
//! cargo run -p dashscope-provider --example concurrent
//! ```

use dashscope_provider::Client;
use dashscope_provider::protocol::chat::{ChatRequest, Message};
use futures_util::{StreamExt, stream};

#[tokio::main]
async fn main() -> Result<(), dashscope_provider::Error> {
    let client = Client::from_env()?;
    let questions = [
        "What is the capital of France?",
        "What is 17 times 23?",
        "Name a prime number larger than 100.",
        "Translate 'good morning' into Chinese.",
    ];
    let answers: Vec<_> = stream::iter(questions)
        .map(|question| {
            let client = &client;
            async move {
                let request = ChatRequest::new("qwen-plus", vec![Message::user(question)]);
                client.chat().create(request).await
            }
        })
        .buffered(2)
        .collect()
        .await;
    for (question, answer) in questions.iter().zip(answers) {
        println!("> {question}\n{}\n", answer?.text().unwrap_or_default());
    }
    Ok(())
}
