//! How each group method shapes its request. Shared by both clients.

use dashscope_protocol::chat::{ChatAccumulator, ChatRequest, StreamOptions};
use dashscope_protocol::dialect::{Dialect, Endpoint, SSE_HEADER, SSE_HEADER_ENABLE};
use dashscope_protocol::native::{GenerationRequest, NativeAccumulator};
use dashscope_protocol::responses::{ResponseRequest, ResponsesAccumulator};
use http::Method;

use super::{Call, CallBuilder, encode_component};
use crate::config::Config;
use crate::error::Error;
use crate::options::RequestOptions;
use crate::responses_extra::ListQuery;

/// Where a call goes and with what: the client's configuration and the group's options.
pub(crate) type Target<'a> = (&'a Config, &'a RequestOptions);

/// The path of `dialect`'s endpoint: the one the options choose, else `default`.
fn path(t: Target<'_>, dialect: Dialect, default: impl FnOnce() -> &'static str) -> &'static str {
    t.1.endpoint_for(dialect)
        .map_or_else(default, Endpoint::path)
}

fn chat_path(t: Target<'_>) -> &'static str {
    path(t, Dialect::Chat, || Endpoint::ChatCompletions.path())
}

fn responses_path(t: Target<'_>) -> &'static str {
    path(t, Dialect::Responses, || Endpoint::Responses.path())
}

/// The native endpoint chosen in the options, else the one for the request's content.
fn native_path(t: Target<'_>, req: &GenerationRequest) -> &'static str {
    path(t, Dialect::Native, || req.path())
}

/// `POST /compatible-mode/v1/chat/completions`, non-stream: a `stream: true` (and its
/// `stream_options`) is dropped.
pub(crate) fn chat_create(t: Target<'_>, mut req: ChatRequest) -> Result<Call, Error> {
    if req.stream == Some(true) {
        req.stream = None;
        req.stream_options = None;
    }
    CallBuilder::new(t, Dialect::Chat, "create", Method::POST, chat_path(t))
        .model(&req.model)
        .json(&req)?
        .build()
}

/// The streaming twin: `stream: true`, and `stream_options.include_usage: true` unless the
/// caller set it (without it the stream carries no usage at all).
pub(crate) fn chat_create_stream(
    t: Target<'_>,
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
        t,
        Dialect::Chat,
        "create_stream",
        Method::POST,
        chat_path(t),
    )
    .model(&req.model)
    .json(&req)?
    .stream()
    .build()?;
    Ok((call, ChatAccumulator::new()))
}

/// `POST …/responses`, non-stream.
pub(crate) fn responses_create(t: Target<'_>, mut req: ResponseRequest) -> Result<Call, Error> {
    if req.stream == Some(true) {
        req.stream = None;
    }
    CallBuilder::new(
        t,
        Dialect::Responses,
        "create",
        Method::POST,
        responses_path(t),
    )
    .model(&req.model)
    .json(&req)?
    .build()
}

/// `POST …/responses` with `stream: true`.
pub(crate) fn responses_create_stream(
    t: Target<'_>,
    mut req: ResponseRequest,
) -> Result<(Call, ResponsesAccumulator), Error> {
    req.stream = Some(true);
    let path = responses_path(t);
    let call = CallBuilder::new(t, Dialect::Responses, "create_stream", Method::POST, path)
        .model(&req.model)
        .json(&req)?
        .stream()
        .build()?;
    Ok((call, ResponsesAccumulator::new()))
}

/// `method …/responses/{id}{suffix}`.
fn response_by_id(
    t: Target<'_>,
    operation: &'static str,
    method: Method,
    id: &str,
    suffix: &str,
) -> Result<Call, Error> {
    if id.is_empty() {
        return Err(Error::InvalidRequest {
            message: "the response id is empty".to_owned(),
            source: None,
        });
    }
    let path = format!("{}/{}{suffix}", responses_path(t), encode_component(id));
    CallBuilder::new(t, Dialect::Responses, operation, method, path).build()
}

/// `GET …/responses/{id}`.
pub(crate) fn responses_retrieve(t: Target<'_>, id: &str) -> Result<Call, Error> {
    response_by_id(t, "retrieve", Method::GET, id, "")
}

/// `DELETE …/responses/{id}`.
pub(crate) fn responses_delete(t: Target<'_>, id: &str) -> Result<Call, Error> {
    response_by_id(t, "delete", Method::DELETE, id, "")
}

/// `GET …/responses/{id}/input_items[?query]`.
pub(crate) fn responses_input_items(
    t: Target<'_>,
    id: &str,
    query: ListQuery,
) -> Result<Call, Error> {
    let q = query.to_query();
    let suffix = if q.is_empty() {
        "/input_items".to_owned()
    } else {
        format!("/input_items?{q}")
    };
    response_by_id(t, "input_items", Method::GET, id, &suffix)
}

/// `POST /api/v1/services/aigc/{text,multimodal}-generation/generation`, non-stream.
pub(crate) fn native_generate(t: Target<'_>, req: GenerationRequest) -> Result<Call, Error> {
    CallBuilder::new(
        t,
        Dialect::Native,
        "generate",
        Method::POST,
        native_path(t, &req),
    )
    .model(&req.model)
    .json(&req)?
    .build()
}

/// The streaming twin: `X-DashScope-SSE: enable` and `Accept: text/event-stream`, and
/// `parameters.incremental_output: true` unless the caller set it. The accumulator folds
/// cumulative chunks when the caller asked for `incremental_output: false`.
pub(crate) fn native_generate_stream(
    t: Target<'_>,
    mut req: GenerationRequest,
) -> Result<(Call, NativeAccumulator), Error> {
    let params = req.parameters_mut();
    if params.incremental_output.is_none() {
        params.incremental_output = Some(true);
    }
    let path = native_path(t, &req);
    let call = CallBuilder::new(t, Dialect::Native, "generate_stream", Method::POST, path)
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
        let (c, o) = (config(), RequestOptions::new());
        let t = (&c, &o);
        let req = ChatRequest::new("qwen-plus", vec![Message::user("hi")]);
        let (call, _) = chat_create_stream(t, req.clone()).unwrap();
        let b = body(&call);
        assert_eq!(b["stream"], true);
        assert_eq!(b["stream_options"]["include_usage"], true);
        assert_eq!(
            call.request().uri().path(),
            Endpoint::ChatCompletions.path()
        );

        let (call, _) = chat_create_stream(t, req.clone().include_usage(false)).unwrap();
        assert_eq!(body(&call)["stream_options"]["include_usage"], false);

        let call = chat_create(t, req.stream(true).include_usage(true)).unwrap();
        let b = body(&call);
        assert!(b.get("stream").is_none() && b.get("stream_options").is_none());
    }

    #[test]
    fn native_stream_header_and_incremental() {
        let (c, o) = (config(), RequestOptions::new());
        let t = (&c, &o);
        let req = GenerationRequest::new("qwen-plus", vec![native::Message::user("hi")]);
        let (call, acc) = native_generate_stream(t, req.clone()).unwrap();
        let r = call.request();
        assert_eq!(r.headers()["x-dashscope-sse"], "enable");
        assert_eq!(r.headers()["accept"], "text/event-stream");
        assert_eq!(body(&call)["parameters"]["incremental_output"], true);
        assert!(acc.is_incremental());
        assert_eq!(r.uri().path(), Endpoint::NativeText.path());

        let (call, acc) = native_generate_stream(t, req.clone().incremental_output(false)).unwrap();
        assert_eq!(body(&call)["parameters"]["incremental_output"], false);
        assert!(!acc.is_incremental());

        let call = native_generate(t, req).unwrap();
        assert!(call.request().headers().get("x-dashscope-sse").is_none());
        assert!(
            body(&call)["parameters"]
                .get("incremental_output")
                .is_none()
        );
    }

    #[test]
    fn native_path_from_content_or_options() {
        let c = config();
        let auto = RequestOptions::new();
        let vl = GenerationRequest::new(
            "qwen-vl-plus",
            vec![native::Message::user_multimodal(vec![
                ContentItem::image("https://x/y.png"),
                ContentItem::text("what?"),
            ])],
        );
        let path = |o: &RequestOptions, r: &GenerationRequest| {
            let call = native_generate((&c, o), r.clone()).unwrap();
            call.request().uri().path().to_owned()
        };
        assert_eq!(path(&auto, &vl), Endpoint::NativeMultimodal.path());
        let text = GenerationRequest::new("qwen-vl-plus", vec![native::Message::user("hi")]);
        assert_eq!(path(&auto, &text), Endpoint::NativeText.path());
        let multimodal = RequestOptions::new().endpoint(Endpoint::NativeMultimodal);
        assert_eq!(path(&multimodal, &text), Endpoint::NativeMultimodal.path());
        let text_only = RequestOptions::new().endpoint(Endpoint::NativeText);
        assert_eq!(path(&text_only, &vl), Endpoint::NativeText.path());
        // Another dialect's endpoint does not move native requests.
        let other = RequestOptions::new().endpoint(Endpoint::ResponsesLegacy);
        assert_eq!(path(&other, &text), Endpoint::NativeText.path());
    }

    #[test]
    fn responses_paths() {
        let c = config();
        let (current, legacy) = (
            RequestOptions::new(),
            RequestOptions::new().endpoint(Endpoint::ResponsesLegacy),
        );
        let req = ResponseRequest::new("qwen3-max", "hi");
        let call = responses_create((&c, &legacy), req.clone()).unwrap();
        assert_eq!(
            call.request().uri().path(),
            Endpoint::ResponsesLegacy.path()
        );
        let (call, _) = responses_create_stream((&c, &current), req).unwrap();
        assert_eq!(body(&call)["stream"], true);
        assert_eq!(call.request().uri().path(), Endpoint::Responses.path());

        let call = responses_retrieve((&c, &current), "resp_1").unwrap();
        assert_eq!(call.request().method(), Method::GET);
        assert_eq!(
            call.request().uri().path(),
            "/compatible-mode/v1/responses/resp_1"
        );
        let call = responses_delete((&c, &legacy), "resp_1").unwrap();
        assert_eq!(call.request().method(), Method::DELETE);
        assert_eq!(
            call.request().uri().path(),
            "/api/v2/apps/protocols/compatible-mode/v1/responses/resp_1"
        );
        let call =
            responses_input_items((&c, &current), "resp/1", ListQuery::default().limit(2)).unwrap();
        assert_eq!(
            call.request().uri().to_string(),
            "http://h/compatible-mode/v1/responses/resp%2F1/input_items?limit=2"
        );
        assert!(matches!(
            responses_retrieve((&c, &current), ""),
            Err(Error::InvalidRequest { .. })
        ));
    }
}
