//! The two clients of the end-to-end bench and the memory example, with the same HTTP settings:
//! reqwest 0.13 underneath both, HTTP/1.1 (plain HTTP: no ALPN, so no HTTP/2), reqwest's
//! default pool (keep-alive, no limit on idle connections per host, 90 s idle timeout),
//! `TCP_NODELAY`, no proxy, no redirects, no retries.
//!
//! * **dashscope**: `Client::new(config)` with `max_retries(0)` (its transport builds the
//!   reqwest client with the settings above, gzip accepted).
//! * **async-openai** 0.43: `Client::with_config(..).with_http_client(..)`, given a reqwest
//!   client built with the same settings. Its retry layer acts only on 429 and 5xx answers,
//!   which no bench server sends.

#![allow(dead_code)] // the memory example reads streams only

use std::sync::Arc;
use std::time::Duration;

use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestMessage, ChatCompletionRequestUserMessage, CreateChatCompletionRequest,
};
use dashscope_benches::serve::{MODEL, PROMPT};
use dashscope_provider::protocol::chat::{ChatRequest, Message};
use dashscope_provider::{Client, Config};
use futures_util::StreamExt as _;

/// Who reads the answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader {
    /// Our client: `create_stream` then `next_chunk()` to the end (every chunk folded into
    /// the stream's snapshot, as it always is unless opted out).
    Dashscope,
    /// The same after `without_snapshot()` (nothing folded). A non-stream call has no
    /// snapshot: there it is [`Reader::Dashscope`].
    DashscopeNoSnapshot,
    /// async-openai's client: `create_stream` then `StreamExt::next` to the end.
    AsyncOpenai,
}

impl Reader {
    /// Every reader of a stream.
    pub const ALL: [Reader; 3] = [
        Reader::Dashscope,
        Reader::DashscopeNoSnapshot,
        Reader::AsyncOpenai,
    ];

    /// The benchmark function name (`dashscope` is what the report compares with).
    pub fn name(self) -> &'static str {
        match self {
            Reader::Dashscope => "dashscope",
            Reader::DashscopeNoSnapshot => "dashscope-nosnap",
            Reader::AsyncOpenai => "async-openai",
        }
    }
}

/// Both clients, pointed at one server.
pub struct Clients {
    ours: Client,
    theirs: async_openai::Client<OpenAIConfig>,
}

impl Clients {
    /// Both clients for the server at `uri` (`http://127.0.0.1:PORT`).
    pub fn new(uri: &str) -> Arc<Clients> {
        // Plain HTTP on loopback: no handshake is made, but reqwest's rustls needs a provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = Config::builder()
            .api_key("sk-bench")
            .base_url(uri)
            .max_retries(0)
            .build()
            .expect("config");
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .build()
            .expect("reqwest client");
        let theirs = async_openai::Client::with_config(
            OpenAIConfig::new()
                .with_api_key("sk-bench")
                .with_api_base(format!("{uri}/compatible-mode/v1")),
        )
        .with_http_client(http);
        Arc::new(Clients {
            ours: Client::new(config).expect("client"),
            theirs,
        })
    }

    /// Reads one stream to the end: the chunks seen.
    pub async fn stream(self: Arc<Self>, reader: Reader) -> usize {
        let mut n = 0;
        match reader {
            Reader::Dashscope => {
                let mut s = self
                    .ours
                    .chat()
                    .create_stream(our_request())
                    .await
                    .expect("opens");
                while let Some(chunk) = s.next_chunk().await {
                    std::hint::black_box(chunk.expect("valid chunk"));
                    n += 1;
                }
            }
            Reader::DashscopeNoSnapshot => {
                let s = self
                    .ours
                    .chat()
                    .create_stream(our_request())
                    .await
                    .expect("opens");
                let mut s = s.without_snapshot();
                while let Some(chunk) = s.next_chunk().await {
                    std::hint::black_box(chunk.expect("valid chunk"));
                    n += 1;
                }
            }
            Reader::AsyncOpenai => {
                let mut s = self
                    .theirs
                    .chat()
                    .create_stream(their_request())
                    .await
                    .expect("opens");
                while let Some(chunk) = s.next().await {
                    std::hint::black_box(chunk.expect("valid chunk"));
                    n += 1;
                }
            }
        }
        n
    }

    /// `calls` non-stream calls one after the other: the `choices` entries seen.
    pub async fn unary(self: Arc<Self>, reader: Reader, calls: usize) -> usize {
        let mut n = 0;
        for _ in 0..calls {
            n += match reader {
                Reader::Dashscope | Reader::DashscopeNoSnapshot => {
                    let reply = self.ours.chat().create(our_request()).await;
                    reply.expect("answer").choices.len()
                }
                Reader::AsyncOpenai => {
                    let reply = self.theirs.chat().create(their_request()).await;
                    reply.expect("answer").choices.len()
                }
            };
        }
        n
    }
}

fn our_request() -> ChatRequest {
    ChatRequest::new(MODEL, vec![Message::user(PROMPT)])
}

fn their_request() -> CreateChatCompletionRequest {
    CreateChatCompletionRequest {
        model: MODEL.to_owned(),
        messages: vec![ChatCompletionRequestMessage::User(
            ChatCompletionRequestUserMessage::from(PROMPT),
        )],
        ..Default::default()
    }
}
