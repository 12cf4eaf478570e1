//! Errors, dialects and cassettes: the cases of their public API (each error shape, every
//! endpoint path, cassette round trips and the unified cassette kind).

use dashscope_protocol::cassette::{
    AnyCassette, Cassette, CassetteError, Dialect, UnifiedCassette, UnifiedMatcher,
};
use dashscope_protocol::dialect::Endpoint;
use dashscope_protocol::error::ApiError;
use dashscope_protocol::unified::Role;
use serde_json::Value;

#[test]
fn compat_body() {
    let b = br#"{"error":{"code":"invalid_api_key","param":null,"message":"Incorrect API key provided. ","type":"invalid_request_error"},"id":"chatcmpl-abc","request_id":"abc"}"#;
    let e = ApiError::from_body(Some(401), b).unwrap();
    assert_eq!(e.code.as_deref(), Some("invalid_api_key"));
    assert_eq!(e.kind.as_deref(), Some("invalid_request_error"));
    assert_eq!(e.request_id.as_deref(), Some("abc"));
    assert_eq!(e.param, None);
}

#[test]
fn compat_id_gives_request_id() {
    let b = br#"{"error":{"code":"x","message":"m"},"id":"chatcmpl-1-2-3"}"#;
    assert_eq!(
        ApiError::from_body(None, b).unwrap().request_id.as_deref(),
        Some("1-2-3")
    );
}

#[test]
fn native_body_and_msg() {
    let b = br#"{"code":"InvalidApiKey","message":"Invalid API-key provided.","request_id":"r1"}"#;
    let e = ApiError::from_body(Some(401), b).unwrap();
    assert_eq!(e.code.as_deref(), Some("InvalidApiKey"));
    assert_eq!(e.request_id.as_deref(), Some("r1"));
    let e = ApiError::from_body(None, br#"{"code":"X","msg":"old"}"#).unwrap();
    assert_eq!(e.message, "old");
}

#[test]
fn not_an_error() {
    assert!(ApiError::from_body(Some(200), br#"{"output":{"text":"hi"},"code":""}"#).is_none());
    assert!(ApiError::from_body(Some(200), b"garbage").is_none());
    assert!(ApiError::from_body(Some(200), br#"{"object":"response","error":null}"#).is_none());
}

#[test]
fn sse_framed() {
    let b = b"id:1\nevent:error\n:HTTP_STATUS/400\ndata:{\"code\":\"InvalidParameter\",\"message\":\"bad\",\"request_id\":\"q\"}\n\n";
    let e = ApiError::from_body(None, b).unwrap();
    assert_eq!(e.status, Some(400));
    assert_eq!(e.code.as_deref(), Some("InvalidParameter"));
    let b = b"data: {\"error\":{\"code\":\"invalid_parameter_error\",\"message\":\"m\"},\"id\":\"chatcmpl-z\"}\n\n";
    let e = ApiError::from_body(Some(400), b).unwrap();
    assert_eq!(e.request_id.as_deref(), Some("z"));
}

#[test]
fn responses_events() {
    let v: Value = serde_json::from_str(
        r#"{"type":"error","code":"c","message":"m","param":null,"sequence_number":3}"#,
    )
    .unwrap();
    assert_eq!(
        ApiError::from_json(None, &v).unwrap().code.as_deref(),
        Some("c")
    );
    let v: Value = serde_json::from_str(r#"{"type":"response.failed","response":{"id":"resp_1","error":{"code":"server_error","message":"boom"}}}"#).unwrap();
    let e = ApiError::from_json(None, &v).unwrap();
    assert_eq!(e.message, "boom");
    assert_eq!(e.request_id.as_deref(), Some("resp_1"));
}

#[test]
fn paths_round_trip_and_dialects_agree() {
    for e in Endpoint::ALL {
        assert_eq!(Endpoint::from_path(e.path()), Some(e));
        assert_eq!(
            e.alias().map(Endpoint::dialect).unwrap_or(e.dialect()),
            e.dialect()
        );
    }
    assert_eq!(Endpoint::from_path("/compatible-mode/v1/models"), None);
    for d in Dialect::ALL {
        assert_eq!(d.endpoint().dialect(), d);
        assert_eq!(d.to_string().parse::<Dialect>(), Ok(d));
    }
}

#[test]
fn round_trip() {
    let text = r#"{"version":1,"name":"chat/x","description":"d","dialect":"chat",
        "request":{"method":"POST","path":"/compatible-mode/v1/chat/completions","body":{"stream":true}},
        "response":{"status":200,"headers":[["Content-Type","text/event-stream"]],
          "body":{"chunks":[{"delay_ms":5,"data":"data: 1\n\n"},{"data":"data: [DONE]\n\n"}]}}}"#;
    let c = Cassette::from_json(text).unwrap();
    assert!(c.is_stream_request());
    assert_eq!(c.response.header("content-type"), Some("text/event-stream"));
    assert_eq!(c.response.body.to_bytes(), b"data: 1\n\ndata: [DONE]\n\n");
    let again = Cassette::from_json(&c.to_json_pretty()).unwrap();
    assert_eq!(c, again);
}

#[test]
fn newer_version_refused() {
    let text = r#"{"version":99,"name":"n","description":"d","dialect":"native",
        "request":{"method":"POST","path":"/"},"response":{"status":200,"body":{"text":""}}}"#;
    assert!(matches!(
        Cassette::from_json(text),
        Err(CassetteError::Version { found: 99 })
    ));
}

fn unified_text() -> String {
    serde_json::json!({
        "version": 1, "name": "unified/x", "description": "d", "source": "synthetic",
        "request": {"model": "qwen-plus", "messages": [
            {"role": "system", "parts": [{"type": "text", "text": "Be brief."}]},
            {"role": "user", "parts": [{"type": "text", "text": "Hi there"}]}]},
        "response": {"unified": {"id": "u-1", "candidates": [{"index": 0, "text": "Hello!", "finish_reason": "stop"}],
                                 "usage": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}}}
    })
    .to_string()
}

#[test]
fn unified_cassettes_are_told_apart() {
    let text = unified_text();
    match Cassette::from_json(&text) {
        Err(CassetteError::Unified { name }) => assert_eq!(name, "unified/x"),
        other => panic!("expected the unified error, got {other:?}"),
    }
    let u = UnifiedCassette::from_json(&text).unwrap();
    assert_eq!(u.answer().text(), "Hello!");
    assert_eq!(UnifiedCassette::from_json(&u.to_json_pretty()).unwrap(), u);
    let any = AnyCassette::from_json(&text).unwrap();
    assert_eq!(any.name(), "unified/x");
    assert!(matches!(any, AnyCassette::Unified(_)));
    // A wire cassette is read as one, and is not a unified cassette.
    let wire = r#"{"version":1,"name":"chat/y","description":"d","dialect":"chat",
        "request":{"method":"POST","path":"/p"},"response":{"status":200,"body":{"text":""}}}"#;
    assert!(matches!(
        AnyCassette::from_json(wire),
        Ok(AnyCassette::Wire(_))
    ));
    assert!(UnifiedCassette::from_json(wire).is_err());
    // Malformed JSON stays a JSON error.
    assert!(matches!(
        Cassette::from_json("{"),
        Err(CassetteError::Json(_))
    ));
    let newer = text.replace("\"version\":1", "\"version\":7");
    assert!(matches!(
        AnyCassette::from_json(&newer),
        Err(CassetteError::Version { found: 7 })
    ));
}

#[test]
fn unified_matcher_reads_the_conversation() {
    let u = UnifiedCassette::from_json(&unified_text()).unwrap();
    let m = u.effective_matcher();
    assert_eq!(m.model.as_deref(), Some("qwen-plus"));
    assert_eq!(m.last_user_message.as_deref(), Some("Hi there"));
    assert_eq!(m.last_role, Some(Role::User));
    assert_eq!(m.conditions(), 3);
    assert!(m.matches(&u.request, Dialect::Native, true));
    let other = u.request.clone().tool_result("call_1", "sunny");
    let why = m.mismatches(&other, Dialect::Chat, false);
    assert_eq!(why.len(), 1, "{why:?}");
    assert!(why[0].starts_with("last message"), "{why:?}");
    let strict = UnifiedMatcher {
        model: Some("qwen-max".into()),
        last_user_message_contains: Some("there".into()),
        tools_present: Some(true),
        stream: Some(false),
        dialects: vec![Dialect::Chat],
        ..Default::default()
    };
    let why = strict.mismatches(&u.request, Dialect::Responses, true);
    assert_eq!(why.len(), 4, "{why:?}");
    assert!(
        !strict.matches(&u.request, Dialect::Chat, false),
        "model and tools still fail"
    );
}
