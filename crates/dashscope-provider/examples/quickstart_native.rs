//! DashScope native generation, one answer (text format, with the sampling parameters of the
//! recorded request the mock server replays).
//!
//! Reads `DASHSCOPE_API_KEY` and `DASHSCOPE_BASE_URL`; runs against the mock server (see
//! `quickstart_chat.rs`).

use dashscope_provider::Client;
use dashscope_provider::protocol::native::{GenerationRequest, ResultFormat, Stop};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), dashscope_provider::Error> {
    let client = Client::from_env()?;
    let request = GenerationRequest::prompt("qwen-max", "请问 1+1 是多少？")
        .result_format(ResultFormat::Text)
        .seed(1234)
        .max_tokens(1500)
        .top_p(0.8)
        .top_k(100)
        .repetition_penalty(1.1)
        .temperature(0.85)
        .stop(Stop::from(vec![vec![37763, 367]]))
        .enable_search(false)
        .incremental_output(false);
    let reply = client.native().generate(request).await?;
    println!("{}", reply.text().unwrap_or_default());
    println!(
        "[finish reason {:?}; request id {}]",
        reply.finish_reason(),
        reply.request_id.as_deref().unwrap_or("?")
    );
    Ok(())
}
