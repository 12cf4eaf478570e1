//! Cookbook: errors and retries. The client retries 408, 409, 429, 5xx and connections that
//! failed before sending (honouring `Retry-After`), never a request the service refused; every
//! failure is one typed `Error` with the status, code, message and request id; a stream that
//! breaks keeps what it received.
//!
//! The `x-mock-fault` header asks the mock server for a fault (the service ignores it), so
//! against the mock this shows a retried 429 and a cut stream; against the service, the calls
//! simply succeed.
//!
//! ```sh
//! cargo run -p dashscope-provider --example errors_retries
//! ```

use std::io::Write;

use dashscope_provider::protocol::chat::{ChatRequest, Message};
use dashscope_provider::{Client, Error, RequestOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // Two retries by default: `Config::builder().max_retries(n)` or `DASHSCOPE_MAX_RETRIES`
    // for the client, `RequestOptions::max_retries` for one call.
    let client = Client::from_env()?;
    let question = || ChatRequest::new("qwen-plus", vec![Message::user("Tell me a joke.")]);

    // 1. A 429 with `Retry-After: 1`, retried after the wait.
    let options = RequestOptions::new()
        .max_retries(4)
        .header("x-mock-fault", "status=429;retry-after=1;times=1");
    let reply = client
        .chat()
        .with_options(options)
        .create(question())
        .await?;
    println!(
        "answered after {} attempt(s): {}",
        reply.attempts(),
        reply.text().unwrap_or_default()
    );

    // 2. A request the service refuses (temperature must be below 2): not retried.
    match client.chat().create(question().temperature(5.0)).await {
        Ok(_) => println!("accepted"),
        Err(e @ Error::Api { .. }) => println!(
            "refused: HTTP {} {}: {} (request id {})",
            e.status().unwrap_or_default(),
            e.code().unwrap_or("-"),
            e.message().unwrap_or("-"),
            e.request_id().unwrap_or("-"),
        ),
        Err(e) => return Err(e),
    }

    // 3. A stream cut after three events: the error carries the partial answer.
    let options = RequestOptions::new().header("x-mock-fault", "cut-after=3");
    let mut stream = client
        .chat()
        .with_options(options)
        .create_stream(question())
        .await?;
    loop {
        match stream.next_chunk().await {
            Some(Ok(chunk)) => print!("{}", chunk.content().unwrap_or_default()),
            Some(Err(e)) => {
                let kept = e.partial().map_or(0, |p| p.text().chars().count());
                println!("\nthe stream broke ({e}); {kept} characters were kept");
                break;
            }
            None => {
                println!("\nthe stream ended normally");
                break;
            }
        }
        std::io::stdout().flush().ok();
    }
    Ok(())
}
