//! Cookbook: testing your own code with the in-process mock server.
//!
//! `dashscope_mock::MockServer::start()` runs the mock on 127.0.0.1 (a free port), on its own
//! thread and runtime, so it works from `#[test]` and `#[tokio::test]` alike; point the client's
//! base URL at `server.uri()`. It answers every dialect (recorded cassettes first, a
//! deterministic synthetic answer otherwise), injects faults, keeps a journal of what it
//! received, and stops when dropped. In your crate:
//!
//! ```sh
//! cargo add --dev dashscope-mock --no-default-features
//! ```

use dashscope_mock::MockServer;
use dashscope_provider::protocol::chat::{ChatRequest, Message};
use dashscope_provider::{Client, Config, Error};

/// The code under test: a one-line summary of `text`.
async fn summarize(client: &Client, text: &str) -> Result<String, Error> {
    let request = ChatRequest::new(
        "qwen-plus",
        vec![
            Message::system("Summarize the user's text in one line."),
            Message::user(text),
        ],
    );
    let reply = client.chat().create(request).await?;
    Ok(reply.text().unwrap_or_default().to_owned())
}

/// A client of the mock: any key will do unless the mock was given one.
fn client_of(server: &MockServer, key: &str) -> Client {
    let config = Config::builder()
        .api_key(key)
        .base_url(server.uri())
        .build()
        .expect("a valid configuration");
    Client::new(config).expect("a client")
}

#[tokio::test]
async fn summarize_is_retried_after_a_rate_limit() {
    let server = MockServer::start();
    // The next request gets a 429 with `Retry-After: 1`; the client waits and tries again.
    server
        .add_fault("status=429;retry-after=1;times=1")
        .expect("a valid fault");
    let client = client_of(&server, "sk-test");

    let summary = summarize(&client, "Rust is a systems programming language.")
        .await
        .expect("an answer after one retry");
    assert!(!summary.is_empty());

    let journal = server.journal();
    let statuses: Vec<u16> = journal.iter().map(|e| e.status).collect();
    assert_eq!(statuses, [429, 200]);
    assert!(
        journal
            .iter()
            .all(|e| e.path == "/compatible-mode/v1/chat/completions")
    );
}

#[tokio::test]
async fn summarize_reports_a_wrong_key() {
    // Given keys, the mock refuses any other one, as the service does.
    let server = MockServer::builder()
        .api_key("sk-right")
        .start()
        .expect("mock server");
    let client = client_of(&server, "sk-wrong");

    let err = summarize(&client, "Hello").await.expect_err("a 401");
    assert_eq!(err.status(), Some(401));
    assert!(!err.is_retryable());
    assert_eq!(server.journal().len(), 1, "a 401 is not retried");
}
