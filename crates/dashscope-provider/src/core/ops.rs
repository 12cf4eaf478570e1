//! How each group method shapes its request. Shared by both clients.

use dashscope_protocol::chat::{ChatAccumulator, ChatRequest, StreamOptions};
use dashscope_protocol::native::{
    GenerationRequest, NativeAccumulator, SSE_HEADER, SSE_HEADER_ENABLE,
};
use dashscope_protocol::responses::{ResponseRequest, ResponsesAccumulator};
use http::Method;

use super::{Call, CallBuilder, encode_component};
use crate::config::Config;
use crate::endpoint::{NativeEndpoint, ResponsesPath};
use crate::error::Error;
use crate::responses_extra::ListQuery;

/// `POST /compatible-mode/v1/chat/completions`, non-stream: a `stream: true` (and its
/// `stream_options`) is dropped.
pub(crate) fn chat_create(config: &Config, mut req: ChatRequest) -> Result<Call, Error> {
    if req.stream == Some(true) {
        req.stream = None;
        req.stream_options = None;
    }
    CallBuilder::new(
        config,
        "chat",
        "create",
        Method::POST,
        crate::endpoint::CHAT_PATH,
    )
    .model(&req.model)
    .json(&req)?
    .build()
}

/// The streaming twin: `stream: true`, and `stream_options.include_usage: true` unless the
/// caller set it (without it the stream carries no usage at all).
pub(crate) fn chat_create_stream(
    config: &Config,
    mut req: ChatRequest,
) -> Result<(Call, ChatAccumulator), Error> {
    req.stream = Some(true);
    let options = req
        .stream_options
        .get_or_insert_with(StreamOptions::default);
    if options.include_usage.is_none() {
        options.include_usage = Some(true);
    }
    let call = CallBuilder::new(
        config,
        "chat",
        "create_stream",
        Method::POST,
        crate::endpoint::CHAT_PATH,
    )
    .model(&req.model)
    .json(&req)?
    .stream()
    .build()?;
    Ok((call, ChatAccumulator::new()))
}

/// `POST …/responses`, non-stream.
pub(crate) fn responses_create(
    config: &Config,
    path: ResponsesPath,
    mut req: ResponseRequest,
) -> Result<Call, Error> {
    if req.stream == Some(true) {
        req.stream = None;
    }
    CallBuilder::new(config, "responses", "create", Method::POST, path.as_str())
        .model(&req.model)
        .json(&req)?
        .build()
}

/// `POST …/responses` with `stream: true`.
pub(crate) fn responses_create_stream(
    config: &Config,
    path: ResponsesPath,
    mut req: ResponseRequest,
) -> Result<(Call, ResponsesAccumulator), Error> {
    req.stream = Some(true);
    let call = CallBuilder::new(
        config,
        "responses",
        "create_stream",
        Method::POST,
        path.as_str(),
    )
    .model(&req.model)
    .json(&req)?
    .stream()
    .build()?;
    Ok((call, ResponsesAccumulator::new()))
}

fn response_id_path(path: ResponsesPath, id: &str, suffix: &str) -> Result<String, Error> {
    if id.is_empty() {
        return Err(Error::InvalidRequest {
            message: "the response id is empty".to_owned(),
            source: None,
        });
    }
    Ok(format!(
        "{}/{}{suffix}",
        path.as_str(),
        encode_component(id)
    ))
}

/// `GET …/responses/{id}`.
pub(crate) fn responses_retrieve(
    config: &Config,
    path: ResponsesPath,
    id: &str,
) -> Result<Call, Error> {
    let p = response_id_path(path, id, "")?;
    CallBuilder::new(config, "responses", "retrieve", Method::GET, p).build()
}

/// `DELETE …/responses/{id}`.
pub(crate) fn responses_delete(
    config: &Config,
    path: ResponsesPath,
    id: &str,
) -> Result<Call, Error> {
    let p = response_id_path(path, id, "")?;
    CallBuilder::new(config, "responses", "delete", Method::DELETE, p).build()
}

/// `GET …/responses/{id}/input_items[?query]`.
pub(crate) fn responses_input_items(
    config: &Config,
    path: ResponsesPath,
    id: &str,
    query: &ListQuery,
) -> Result<Call, Error> {
    let mut p = response_id_path(path, id, "/input_items")?;
    let q = query.to_query();
    if !q.is_empty() {
        p.push('?');
        p.push_str(&q);
    }
    CallBuilder::new(config, "responses", "input_items", Method::GET, p).build()
}

/// `POST /api/v1/services/aigc/{text,multimodal}-generation/generation`, non-stream.
pub(crate) fn native_generate(
    config: &Config,
    endpoint: NativeEndpoint,
    req: &GenerationRequest,
) -> Result<Call, Error> {
    CallBuilder::new(
        config,
        "native",
        "generate",
        Method::POST,
        endpoint.path_for(req),
    )
    .model(&req.model)
    .json(req)?
    .build()
}

/// The streaming twin: `X-DashScope-SSE: enable` and `Accept: text/event-stream`, and
/// `parameters.incremental_output: true` unless the caller set it. The accumulator folds
/// cumulative chunks when the caller asked for `incremental_output: false`.
pub(crate) fn native_generate_stream(
    config: &Config,
    endpoint: NativeEndpoint,
    mut req: GenerationRequest,
) -> Result<(Call, NativeAccumulator), Error> {
    let params = req.parameters_mut();
    if params.incremental_output.is_none() {
        params.incremental_output = Some(true);
    }
    let call = CallBuilder::new(
        config,
        "native",
        "generate_stream",
        Method::POST,
        endpoint.path_for(&req),
    )
    .model(&req.model)
    .json(&req)?
    .stream()
    .header(SSE_HEADER, SSE_HEADER_ENABLE)
    .build()?;
    Ok((call, NativeAccumulator::for_request(&req)))
}

#[cfg(test)]
mod tests {
    use dashscope_protocol::chat::Message;
    use dashscope_protocol::native::{self, ContentItem};

    use super::*;

    fn config() -> Config {
        Config::builder()
            .api_key("k")
            .base_url("http://h")
            .build()
            .unwrap()
    }

    fn body(call: &Call) -> serde_json::Value {
        serde_json::from_slice(call.request().body()).unwrap()
    }

    #[test]
    fn chat_stream_flags() {
        let c = config();
        let req = ChatRequest::new("qwen-plus", vec![Message::user("hi")]);
        let (call, _) = chat_create_stream(&c, req.clone()).unwrap();
        let b = body(&call);
        assert_eq!(b["stream"], true);
        assert_eq!(b["stream_options"]["include_usage"], true);
        assert_eq!(
            call.request().uri().path(),
            "/compatible-mode/v1/chat/completions"
        );

        let (call, _) = chat_create_stream(&c, req.clone().include_usage(false)).unwrap();
        assert_eq!(body(&call)["stream_options"]["include_usage"], false);

        let call = chat_create(&c, req.stream(true).include_usage(true)).unwrap();
        let b = body(&call);
        assert!(b.get("stream").is_none() && b.get("stream_options").is_none());
    }

    #[test]
    fn native_stream_header_and_incremental() {
        let c = config();
        let req = GenerationRequest::new("qwen-plus", vec![native::Message::user("hi")]);
        let (call, acc) = native_generate_stream(&c, NativeEndpoint::Auto, req.clone()).unwrap();
        let r = call.request();
        assert_eq!(r.headers()["x-dashscope-sse"], "enable");
        assert_eq!(r.headers()["accept"], "text/event-stream");
        assert_eq!(body(&call)["parameters"]["incremental_output"], true);
        assert!(acc.is_incremental());
        assert_eq!(r.uri().path(), native::TEXT_GENERATION_PATH);

        let (call, acc) = native_generate_stream(
            &c,
            NativeEndpoint::Auto,
            req.clone().incremental_output(false),
        )
        .unwrap();
        assert_eq!(body(&call)["parameters"]["incremental_output"], false);
        assert!(!acc.is_incremental());

        let call = native_generate(&c, NativeEndpoint::Auto, &req).unwrap();
        assert!(call.request().headers().get("x-dashscope-sse").is_none());
        assert!(
            body(&call)["parameters"]
                .get("incremental_output")
                .is_none()
        );
    }

    #[test]
    fn native_path_from_content_or_override() {
        let c = config();
        let vl = GenerationRequest::new(
            "qwen-vl-plus",
            vec![native::Message::user_multimodal(vec![
                ContentItem::image("https://x/y.png"),
                ContentItem::text("what?"),
            ])],
        );
        let call = native_generate(&c, NativeEndpoint::Auto, &vl).unwrap();
        assert_eq!(
            call.request().uri().path(),
            native::MULTIMODAL_GENERATION_PATH
        );
        let text = GenerationRequest::new("qwen-vl-plus", vec![native::Message::user("hi")]);
        let call = native_generate(&c, NativeEndpoint::MultimodalGeneration, &text).unwrap();
        assert_eq!(
            call.request().uri().path(),
            native::MULTIMODAL_GENERATION_PATH
        );
        let call = native_generate(&c, NativeEndpoint::TextGeneration, &vl).unwrap();
        assert_eq!(call.request().uri().path(), native::TEXT_GENERATION_PATH);
    }

    #[test]
    fn responses_paths() {
        let c = config();
        let req = ResponseRequest::new("qwen3-max", "hi");
        let call = responses_create(&c, ResponsesPath::Legacy, req.clone()).unwrap();
        assert_eq!(
            call.request().uri().path(),
            "/api/v2/apps/protocols/compatible-mode/v1/responses"
        );
        let (call, _) = responses_create_stream(&c, ResponsesPath::Current, req).unwrap();
        assert_eq!(body(&call)["stream"], true);
        assert_eq!(call.request().uri().path(), "/compatible-mode/v1/responses");

        let call = responses_retrieve(&c, ResponsesPath::Current, "resp_1").unwrap();
        assert_eq!(call.request().method(), Method::GET);
        assert_eq!(
            call.request().uri().path(),
            "/compatible-mode/v1/responses/resp_1"
        );
        let call = responses_delete(&c, ResponsesPath::Current, "resp_1").unwrap();
        assert_eq!(call.request().method(), Method::DELETE);
        let call = responses_input_items(
            &c,
            ResponsesPath::Current,
            "resp/1",
            &ListQuery::default().limit(2),
        )
        .unwrap();
        assert_eq!(
            call.request().uri().to_string(),
            "http://h/compatible-mode/v1/responses/resp%2F1/input_items?limit=2"
        );
        assert!(matches!(
            responses_retrieve(&c, ResponsesPath::Current, ""),
            Err(Error::InvalidRequest { .. })
        ));
    }
}
