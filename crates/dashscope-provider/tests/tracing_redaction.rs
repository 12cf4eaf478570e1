//! Every request runs in a `dashscope.request` span with its dialect, model, status, request id
//! and attempts; at TRACE level, nothing logged anywhere holds the API key.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use dashscope_protocol::chat::ChatRequest;
use dashscope_protocol::native::GenerationRequest;
use dashscope_provider::Client;
use support::*;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

#[test]
fn spans_carry_the_request_and_never_the_key() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(capture.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // One thread: the runtime's tasks (connections included) log to this subscriber.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(TEST_TIMEOUT, async {
            let server = server();
            let client = Client::new(
                config(&server)
                    .header("x-mock-fault", "status=503;times=1;dialect=native")
                    .build()
                    .unwrap(),
            )
            .unwrap();
            let req: ChatRequest = request("chat/stream-include-usage-twin");
            client.chat().create(req.clone()).await.unwrap();
            client
                .chat()
                .create_stream(req)
                .await
                .unwrap()
                .accumulate()
                .await
                .unwrap();
            let bad: ChatRequest = request("chat/error-401-invalid-api-key");
            client.chat().create(bad).await.unwrap_err();
            let native: GenerationRequest = request("native/text-sse-twin");
            client.native().generate(native.clone()).await.unwrap();
        })
        .await
        .expect("timed out");
    });
    drop(rt);

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert_no_key("the TRACE logs", &logs);
    assert!(!logs.contains("Bearer"), "a header was logged: {logs}");

    let spans: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("dashscope.request{") && l.contains("close"))
        .collect();
    assert_eq!(spans.len(), 4, "one span per call: {logs}");
    assert!(
        spans[0].contains("dialect=\"chat\"") || spans[0].contains("dialect=chat"),
        "{}",
        spans[0]
    );
    assert!(
        spans[0].contains("model=\"qwen-plus\"") || spans[0].contains("model=qwen-plus"),
        "{}",
        spans[0]
    );
    assert!(spans[0].contains("status=200"), "{}", spans[0]);
    assert!(spans[0].contains("attempts=1"), "{}", spans[0]);
    assert!(spans[0].contains("request_id="), "{}", spans[0]);
    assert!(
        spans[1].contains("operation=\"create_stream\"")
            || spans[1].contains("operation=create_stream"),
        "{}",
        spans[1]
    );
    assert!(spans[2].contains("status=401"), "{}", spans[2]);
    assert!(
        spans[2].contains("request_id=d4dea040-7e62-9e43-857f-a723792def05")
            || spans[2].contains("request_id=\"d4dea040-7e62-9e43-857f-a723792def05\""),
        "{}",
        spans[2]
    );
    assert!(
        spans[3].contains("attempts=2"),
        "the native call was retried once: {}",
        spans[3]
    );
    assert!(logs.contains("retrying"), "{logs}");
}
