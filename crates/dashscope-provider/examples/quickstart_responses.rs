//! Cookbook: the Responses API. One answer, then a follow-up that continues it on the server
//! side (`previous_response_id`: only the new input is sent), then a stream of typed events.
//!
//! ```sh
//! cargo run -p dashscope-provider --example quickstart_responses
//! ```

use std::io::Write;

use dashscope_provider::Client;
use dashscope_provider::protocol::responses::{ResponseRequest, ResponseStreamEvent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), dashscope_provider::Error> {
    let client = Client::from_env()?;

    let request = ResponseRequest::new("qwen-plus", "Name three uses of Rust.");
    let first = client.responses().create(request).await?;
    println!("{}\n", first.output_text());

    let follow_up = ResponseRequest::new("qwen-plus", "Which of them is the most common?")
        .previous_response_id(first.id.clone());
    let second = client.responses().create(follow_up).await?;
    println!("{}\n", second.output_text());

    let mut stream = client
        .responses()
        .create_stream(ResponseRequest::new("qwen-plus", "Say hello in French."))
        .await?;
    while let Some(event) = stream.next_chunk().await {
        if let ResponseStreamEvent::OutputTextDelta(delta) = event? {
            print!("{}", delta.delta);
            std::io::stdout().flush().ok();
        }
    }
    let done = stream.snapshot();
    println!("\n[response {}]", done.id);
    Ok(())
}
