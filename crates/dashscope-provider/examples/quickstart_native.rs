//! Cookbook: the DashScope native API, in both result formats: `text` (the answer in
//! `output.text`) and `message` (`output.choices[].message`, needed for tools and thinking);
//! `reply.text()` reads either. Then a native stream, whose chunks are deltas
//! (`X-DashScope-SSE: enable` and `incremental_output: true` are set for you).
//!
//! ```sh
//! cargo run -p dashscope-provider --example quickstart_native
//! ```

use std::io::Write;

use dashscope_provider::Client;
use dashscope_provider::protocol::native::{GenerationRequest, Message, ResultFormat};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), dashscope_provider::Error> {
    let client = Client::from_env()?;

    let request =
        GenerationRequest::prompt("qwen-plus", "What is 1 + 1?").result_format(ResultFormat::Text);
    let reply = client.native().generate(request).await?;
    println!("text format: {}", reply.text().unwrap_or_default());

    let request = GenerationRequest::new(
        "qwen-plus",
        vec![
            Message::system("Be brief."),
            Message::user("What is 2 + 2?"),
        ],
    )
    .result_format(ResultFormat::Message);
    let reply = client.native().generate(request).await?;
    println!("message format: {}", reply.text().unwrap_or_default());
    println!(
        "[request id {}]",
        reply.request_id.as_deref().unwrap_or("?")
    );

    let request = GenerationRequest::new("qwen-plus", vec![Message::user("Count to five.")])
        .result_format(ResultFormat::Message);
    let mut stream = client.native().generate_stream(request).await?;
    while let Some(chunk) = stream.next_chunk().await {
        print!("{}", chunk?.text().unwrap_or_default());
        std::io::stdout().flush().ok();
    }
    println!();
    Ok(())
}
