//! The async client against the mock server over TCP: every behaviour of
//! `support/scenarios.rs`, plus what only the async shell has.

mod support;

use dashscope_provider::{Client, Config};
use support::*;

macro_rules! w {
    ($e:expr) => {
        $e.await
    };
}

macro_rules! next {
    ($s:expr) => {
        $s.next_chunk().await
    };
}

macro_rules! scenario {
    (fn $name:ident() $body:block) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            tokio::time::timeout(TEST_TIMEOUT, async move $body)
                .await
                .expect(concat!(stringify!($name), " timed out"));
        }
    };
}

fn make_client(config: Config) -> Client {
    Client::new(config).expect("a client")
}

include!("support/scenarios.rs");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_are_futures_streams_and_dropping_one_is_fine() {
    use futures_util::StreamExt;
    tokio::time::timeout(TEST_TIMEOUT, async {
        let server = server();
        let client = make_client(config(&server).build().unwrap());
        let req: ChatRequest = request("chat/stream-include-usage-twin");
        let stream = client.chat().create_stream(req.clone()).await.unwrap();
        let chunks: Vec<_> = stream.collect().await;
        assert!(chunks.len() >= 3);
        assert!(chunks.iter().all(Result::is_ok));
        // A stream dropped after its first chunk: the client stays usable.
        let mut stream = client.chat().create_stream(req.clone()).await.unwrap();
        assert!(stream.next().await.is_some());
        drop(stream);
        let again = client.chat().create(req).await.unwrap();
        assert!(again.text().is_some());
        // Spawnable: the futures are Send.
        let c = client.clone();
        let handle = tokio::spawn(async move {
            let req: ChatRequest = request("chat/stream-include-usage-twin");
            c.chat()
                .create_stream(req)
                .await
                .unwrap()
                .accumulate()
                .await
                .unwrap()
        });
        assert!(handle.await.unwrap().text().is_some());
    })
    .await
    .expect("timed out");
}

#[test]
fn from_env_without_key_fails_naming_the_variable_and_sends_nothing() {
    const NAME: &str = "from_env_without_key_fails_naming_the_variable_and_sends_nothing";
    match std::env::var(CHILD_ENV).as_deref() {
        Ok("no-key") => {
            let e = Client::from_env().unwrap_err();
            assert!(
                matches!(e, dashscope_provider::Error::InvalidRequest { .. }),
                "{e:?}"
            );
            assert!(e.to_string().contains("DASHSCOPE_API_KEY"), "{e}");
            return;
        }
        Ok("key") => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let client = Client::from_env().expect("a client from the environment");
                assert_no_key("Client Debug", &format!("{client:?}"));
                let req: ChatRequest = request("chat/stream-include-usage-twin");
                client
                    .chat()
                    .create(req)
                    .await
                    .expect("an answer from DASHSCOPE_BASE_URL");
            });
            return;
        }
        _ => {}
    }
    let server = server();
    run_child(NAME, "no-key", &[("DASHSCOPE_BASE_URL", server.uri())]);
    assert!(server.journal().is_empty(), "no request was sent");
    run_child(
        NAME,
        "key",
        &[
            ("DASHSCOPE_BASE_URL", server.uri()),
            ("DASHSCOPE_API_KEY", KEY.to_owned()),
        ],
    );
    assert_eq!(server.journal().len(), 1, "the key and base URL were read");
}
