//! Bad input never takes the server down: random methods, paths, headers and bodies at every
//! route, in-process through `tower::ServiceExt::oneshot`; every request gets a well-formed
//! answer within a bound.

use std::time::Duration;

use axum::body::Body;
use dashscope_mock::{MockServer, router};
use dashscope_protocol::error::ApiError;
use http::{Request, Response};
use proptest::prelude::*;
use serde_json::{Value, json};
use tower::ServiceExt;

const PATHS: [&str; 14] = [
    "/compatible-mode/v1/chat/completions",
    "/compatible-mode/v1/responses",
    "/api/v2/apps/protocols/compatible-mode/v1/responses",
    "/api/v1/services/aigc/text-generation/generation",
    "/api/v1/services/aigc/multimodal-generation/generation",
    "/compatible-mode/v1/responses/resp_1",
    "/compatible-mode/v1/responses/resp_1/input_items",
    "/compatible-mode/v1/responses/",
    "/__mock/journal",
    "/__mock/health",
    "/__mock/cassettes",
    "/__mock/faults",
    "/__mock/faults/1",
    "/",
];

fn method() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "GET", "POST", "POST", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS",
    ])
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(PATHS.to_vec()).prop_map(str::to_owned),
        1 => "/[a-zA-Z0-9_./%-]{0,40}",
        1 => (prop::sample::select(PATHS.to_vec()), "[a-z0-9/]{1,8}").prop_map(|(p, s)| format!("{p}{s}")),
    ]
}

/// Fault specs that stay fast (bounded waits; stalls always end).
fn fault() -> impl Strategy<Value = String> {
    let item = prop_oneof![
        (0u64..20).prop_map(|n| format!("latency={n}")),
        (0u64..20).prop_map(|n| format!("ttfb={n}")),
        (0u64..5).prop_map(|n| format!("chunk-delay={n}")),
        (400u16..600).prop_map(|n| format!("status={n}")),
        Just("retry-after=1".to_owned()),
        Just("reset".to_owned()),
        (0u64..4).prop_map(|n| format!("cut-after={n}")),
        (0u64..3).prop_map(|n| format!("stall-after={n};stall-ms=5")),
        Just("partial".to_owned()),
        Just("no-blank-lines".to_owned()),
        (1u64..4).prop_map(|n| format!("invalid-utf8={n}")),
        (1u64..4).prop_map(|n| format!("malformed-json={n}")),
        (0u64..2000).prop_map(|n| format!("oversized-chunk={n}")),
        (0u64..3).prop_map(|n| format!("times={n}")),
        Just("envelope=200".to_owned()),
        Just("rate-limit=1".to_owned()),
        "[a-z=;,0-9 -]{0,20}",
    ];
    prop::collection::vec(item, 1..4).prop_map(|items| items.join(";"))
}

fn header() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        prop::sample::select(vec![
            "Bearer k",
            "Bearer ",
            "Basic x",
            "bearer sk-1",
            "",
            "Bearer k k"
        ])
        .prop_map(|v| ("authorization".to_owned(), v.to_owned())),
        prop::sample::select(vec![
            "application/json",
            "text/plain",
            "application/json; charset=utf-8",
            "x",
            "application/vnd+json"
        ])
        .prop_map(|v| ("content-type".to_owned(), v.to_owned())),
        prop::sample::select(vec!["enable", "disable", "ENABLE", "x"])
            .prop_map(|v| ("x-dashscope-sse".to_owned(), v.to_owned())),
        prop::sample::select(vec!["enable", "disable"])
            .prop_map(|v| ("x-dashscope-async".to_owned(), v.to_owned())),
        fault().prop_map(|v| ("x-mock-fault".to_owned(), v)),
        prop::sample::select(vec!["chat/basic-nonstream", "native/text-sse", "nope"])
            .prop_map(|v| ("x-mock-cassette".to_owned(), v.to_owned())),
        ("x-[a-z]{1,8}", "[ -~]{0,16}"),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-z ]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        (prop::option::of("[a-z-]{0,10}"), prop::option::of(any::<bool>()), json_value()).prop_map(|(model, stream, extra)| {
            let mut b = json!({"messages": [{"role": "user", "content": "hi"}], "input": {"prompt": "p"}, "extra": extra});
            if let Some(m) = model {
                b["model"] = json!(m);
            }
            if let Some(s) = stream {
                b["stream"] = json!(s);
            }
            b.to_string().into_bytes()
        }),
    ]
}

async fn collect(resp: Response<Body>) -> Result<Vec<u8>, String> {
    let body = resp.into_body();
    match tokio::time::timeout(
        Duration::from_secs(5),
        axum::body::to_bytes(body, 64 * 1024 * 1024),
    )
    .await
    {
        Ok(Ok(b)) => Ok(b.to_vec()),
        Ok(Err(e)) => Err(format!("body error: {e}")),
        Err(_) => Err("body timed out".to_owned()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_request_gets_a_well_formed_answer(
        method in method(),
        path in path(),
        headers in prop::collection::vec(header(), 0..6),
        body in body(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let Ok(uri) = path.parse::<http::Uri>() else { return Ok(()) };
        let mut req = Request::builder().method(method).uri(uri);
        for (n, v) in &headers {
            if let (Ok(n), Ok(v)) = (http::HeaderName::try_from(n.as_str()), http::HeaderValue::try_from(v.as_str())) {
                req = req.header(n, v);
            }
        }
        let Ok(req) = req.body(Body::from(body)) else { return Ok(()) };
        let faulty = headers.iter().any(|(n, v)| {
            n == "x-mock-fault" && (v.contains("reset") || v.contains("cut-after"))
        });
        let state = MockServer::builder().speed(0.0).max_body_bytes(4096).build_state().unwrap();
        let app = router(state.clone());
        let (status, resp_headers, outcome) = rt.block_on(async {
            let resp = tokio::time::timeout(Duration::from_secs(5), app.oneshot(req)).await
                .expect("an answer within 5 s").expect("infallible");
            let status = resp.status();
            let headers = resp.headers().clone();
            (status, headers, collect(resp).await)
        });
        let bytes = match outcome {
            Ok(b) => b,
            Err(e) => {
                prop_assert!(faulty, "{method} {path}: {e} without a reset/cut fault");
                return Ok(());
            }
        };
        prop_assert!(!resp_headers.keys().any(|n| n.as_str().starts_with("x-dashscope-mock")), "no internal headers");
        if method == "HEAD" {
            prop_assert!(bytes.is_empty());
            return Ok(());
        }
        if path.starts_with("/__mock") {
            prop_assert!(serde_json::from_slice::<Value>(&bytes).is_ok(), "admin answers are JSON");
            return Ok(());
        }
        if state.journal().last().is_some_and(|e| e.outcome == "cassette") {
            // A replay is as recorded.
            return Ok(());
        }
        // A `malformed-json` fault truncates the JSON it applies to and an `invalid-utf8` fault
        // corrupts its bytes, an error body included.
        let malformed = headers.iter().any(|(n, v)| {
            n == "x-mock-fault" && (v.contains("malformed-json") || v.contains("invalid-utf8"))
        });
        if !malformed && (status.as_u16() >= 400 || bytes.starts_with(b"id:1\nevent:error")) {
            // Errors come in the dialect's shape, JSON or SSE-framed, with the header id.
            let err = ApiError::from_body(Some(status.as_u16()), &bytes);
            let text = String::from_utf8_lossy(&bytes).into_owned();
            prop_assert!(err.is_some(), "{method} {path} -> {status}: {text}");
            if let Some(e) = err {
                if let (Some(id), Some(h)) = (e.request_id, resp_headers.get("x-request-id")) {
                    if resp_headers.contains_key("x-dashscope-call-gateway") {
                        prop_assert_eq!(id.as_str(), h.to_str().unwrap_or(""));
                    }
                }
            }
        }
        if !bytes.is_empty() {
            prop_assert!(resp_headers.contains_key(http::header::CONTENT_TYPE), "{method} {path}: no content type");
        }
    }
}
