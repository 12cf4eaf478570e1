//! Load: 10,000 requests from 64 concurrent keep-alive connections, mixed dialects, streams
//! and errors, every answer checked byte for byte. Bounded in time; no timing assertion.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use dashscope_mock::MockServer;
use serde_json::{Value, json};

const TOTAL: usize = 10_000;
const CONNECTIONS: usize = 64;

/// One kind of request and what must come back.
struct Case {
    path: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Value,
    status: u16,
    expect: Expect,
}

enum Expect {
    Bytes(Vec<u8>),
    ErrorCode(&'static str),
}

#[test]
fn ten_thousand_requests_from_64_connections() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = MockServer::builder()
        .speed(0.0)
        .strict(true)
        .start()
        .expect("server");
    let stream = cassette(&chat_stream("chat/load-stream", "load", 6, 0));
    let json_c = cassette(&chat_json(
        "chat/load-json",
        "load",
        r#"{"object":"chat.completion","id":"chatcmpl-load"}"#,
    ));
    let native = cassette(&native_stream("native/load", "load", 4));
    for c in [&stream, &json_c, &native] {
        server.add_cassette(c.clone());
    }
    let embedded = wire_fixtures();
    let fixture = embedded.iter().find(|f| {
        f.dialect == dashscope_protocol::cassette::Dialect::Responses && f.is_stream_request()
    });
    let auth = format!("Bearer {KEY}");
    let mut cases = vec![
        Case {
            path: CHAT,
            headers: vec![],
            body: json!({"model": "load", "stream": true}),
            status: 200,
            expect: Expect::Bytes(stream.response.body.to_bytes()),
        },
        Case {
            path: CHAT,
            headers: vec![],
            body: json!({"model": "load"}),
            status: 200,
            expect: Expect::Bytes(json_c.response.body.to_bytes()),
        },
        Case {
            path: NATIVE,
            headers: vec![("x-dashscope-sse", "enable".to_owned())],
            body: json!({"model": "load", "input": {"prompt": "p"}}),
            status: 200,
            expect: Expect::Bytes(native.response.body.to_bytes()),
        },
        Case {
            path: NATIVE,
            headers: vec![("authorization", String::new())],
            body: json!({"model": "load"}),
            status: 401,
            expect: Expect::ErrorCode("InvalidApiKey"),
        },
        Case {
            path: RESPONSES,
            headers: vec![],
            body: json!({"model": "unknown", "stream": true}),
            status: 404,
            expect: Expect::ErrorCode("mock_no_match"),
        },
        Case {
            path: CHAT,
            headers: vec![("x-mock-fault", "status=503".to_owned())],
            body: json!({"model": "load"}),
            status: 503,
            expect: Expect::ErrorCode("service_unavailable"),
        },
    ];
    if let Some(f) = fixture {
        let c = f;
        let mut headers: Vec<(&'static str, String)> = vec![("x-mock-cassette", c.name.clone())];
        headers.extend(
            c.request
                .headers
                .iter()
                .filter(|(k, _)| k.as_str() == "accept")
                .map(|(_, v)| ("accept", v.clone())),
        );
        cases.push(Case {
            path: RESPONSES,
            headers,
            body: c.request.body.clone().unwrap_or(json!({})),
            status: c.response.status,
            expect: Expect::Bytes(c.response.body.to_bytes()),
        });
    }
    let cases = Arc::new(cases);
    let base = server.uri();
    let ok = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for conn in 0..CONNECTIONS {
            let (cases, base, ok, failures, auth) = (
                cases.clone(),
                base.clone(),
                ok.clone(),
                failures.clone(),
                auth.clone(),
            );
            let n = TOTAL / CONNECTIONS + usize::from(conn < TOTAL % CONNECTIONS);
            tasks.push(tokio::spawn(async move {
                // One client per task, one pooled connection each.
                let client = reqwest::Client::builder()
                    .http1_only()
                    .no_proxy()
                    .pool_max_idle_per_host(1)
                    .build()
                    .unwrap();
                for i in 0..n {
                    let case = &cases[(conn + i) % cases.len()];
                    let mut req = client
                        .post(format!("{base}{}", case.path))
                        .header("content-type", "application/json");
                    let mut has_auth = false;
                    for (k, v) in &case.headers {
                        has_auth |= *k == "authorization";
                        if !v.is_empty() {
                            req = req.header(*k, v);
                        }
                    }
                    if !has_auth {
                        req = req.header("authorization", &auth);
                    }
                    let result = async {
                        let resp = req
                            .body(case.body.to_string())
                            .send()
                            .await
                            .map_err(|e| e.to_string())?;
                        let status = resp.status().as_u16();
                        let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
                        Ok::<_, String>((status, bytes))
                    }
                    .await;
                    let verdict = match result {
                        Err(e) => Err(e),
                        Ok((status, _)) if status != case.status => {
                            Err(format!("status {status}, want {}", case.status))
                        }
                        Ok((_, bytes)) => match &case.expect {
                            Expect::Bytes(want) if bytes.as_ref() == want.as_slice() => Ok(()),
                            Expect::Bytes(_) => Err("body bytes differ".to_owned()),
                            Expect::ErrorCode(code) => {
                                let e = dashscope_protocol::error::ApiError::from_body(
                                    Some(case.status),
                                    &bytes,
                                );
                                if e.and_then(|e| e.code).as_deref() == Some(*code) {
                                    Ok(())
                                } else {
                                    Err(format!("no {code} in the body"))
                                }
                            }
                        },
                    };
                    match verdict {
                        Ok(()) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => failures
                            .lock()
                            .unwrap()
                            .push(format!("{} {}: {e}", case.path, case.body)),
                    }
                }
            }));
        }
        let all = futures_util::future::join_all(tasks);
        tokio::time::timeout(Duration::from_secs(240), all)
            .await
            .expect("the load test took over 240 s");
    });
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} failures, first: {:?}",
        failures.len(),
        failures.iter().take(5).collect::<Vec<_>>()
    );
    assert_eq!(ok.load(Ordering::Relaxed), TOTAL);
    assert_eq!(server.journal().len(), TOTAL);
}
