//! The Responses API, one answer.
//!
//! Reads `DASHSCOPE_API_KEY` and `DASHSCOPE_BASE_URL`; runs against the mock server (see
//! `quickstart_chat.rs`).

use dashscope_provider::Client;
use dashscope_provider::protocol::responses::ResponseRequest;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), dashscope_provider::Error> {
    let client = Client::from_env()?;
    let reply = client
        .responses()
        .create(ResponseRequest::new("qwen3.8-max", "你能做些什么？"))
        .await?;
    println!("{}", reply.output_text());
    println!("[response id {}, status {:?}]", reply.id, reply.status);
    Ok(())
}
