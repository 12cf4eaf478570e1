//! The blocking client against the mock server over TCP, from plain `#[test]` functions: every
//! behaviour of `support/scenarios.rs`, with streams as iterators.

// The shared scenarios pull items with `while let Some(x) = next!(stream)`, which is
// `stream.next()` here.
#![allow(clippy::while_let_on_iterator)]

mod support;

use dashscope_provider::Config;
use dashscope_provider::blocking::Client;
use support::*;

macro_rules! w {
    ($e:expr) => {
        $e
    };
}

macro_rules! next {
    ($s:expr) => {
        $s.next()
    };
}

macro_rules! scenario {
    (fn $name:ident() $body:block) => {
        #[test]
        fn $name() {
            with_timeout(stringify!($name), move || $body);
        }
    };
}

fn make_client(config: Config) -> Client {
    Client::new(config).expect("a client")
}

include!("support/scenarios.rs");

#[test]
fn streams_are_iterators() {
    with_timeout("streams_are_iterators", || {
        let server = server();
        let client = make_client(config(&server).build().unwrap());
        let req: ChatRequest = request("chat/stream-include-usage-twin");
        let stream = client.chat().create_stream(req.clone()).unwrap();
        let text: String = stream
            .map(|c| c.unwrap().content().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(text, "我是来自阿里云的超大规模语言模型，我叫通义千问。");
        let mut stream = client.chat().create_stream(req).unwrap();
        assert!(stream.next().is_some());
        drop(stream);
    });
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
            let client = Client::from_env().expect("a client from the environment");
            assert_no_key("Client Debug", &format!("{client:?}"));
            let req: ChatRequest = request("chat/stream-include-usage-twin");
            client
                .chat()
                .create(req)
                .expect("an answer from DASHSCOPE_BASE_URL");
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
