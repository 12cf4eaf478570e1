//! Cookbook: the blocking client. No async runtime (this build has no tokio at all); streams
//! are iterators. It needs the `blocking` feature:
//!
//! ```sh
//! cargo run -p dashscope-provider --no-default-features --features blocking --example blocking
//! ```

use std::io::Write;

use dashscope_provider::blocking::Client;
use dashscope_provider::protocol::chat::{ChatRequest, Message};
use dashscope_provider::protocol::native::{GenerationRequest, ResultFormat, Stop};

fn main() -> Result<(), dashscope_provider::Error> {
    let client = Client::from_env()?;

    let reply = client.chat().create(ChatRequest::new(
        "qwen-plus",
        vec![Message::user("你是谁？")],
    ))?;
    println!("{}", reply.text().unwrap_or_default());

    // A native stream (`X-DashScope-SSE: enable` and `incremental_output: true` are set for you).
    let request = GenerationRequest::prompt("qwen-max", "请问 1+1 是多少？")
        .result_format(ResultFormat::Text)
        .seed(1234)
        .max_tokens(1500)
        .top_p(0.8)
        .top_k(100)
        .repetition_penalty(1.1)
        .temperature(0.85)
        .stop(Stop::from(vec![vec![37763, 367]]))
        .enable_search(false);
    for chunk in client.native().generate_stream(request)? {
        print!("{}", chunk?.text().unwrap_or_default());
        std::io::stdout().flush().ok();
    }
    println!();
    Ok(())
}
