//! A tool-call round trip on the Responses API: the model calls a function, the program runs
//! it, and the model answers with the result.
//!
//! Reads `DASHSCOPE_API_KEY` and `DASHSCOPE_BASE_URL`; runs against the mock server (see
//! `quickstart_chat.rs`), which replays both recorded turns.

use dashscope_provider::Client;
use dashscope_provider::protocol::responses::{InputItem, OutputItem, ResponseRequest, Tool};
use serde_json::json;

fn get_current_weather(arguments: &str) -> String {
    let location = serde_json::from_str::<serde_json::Value>(arguments)
        .ok()
        .and_then(|v| v["location"].as_str().map(str::to_owned))
        .unwrap_or_default();
    if location.contains("北京") {
        "北京今天是晴天。".to_owned()
    } else {
        format!("{location}：暂无数据。")
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), dashscope_provider::Error> {
    let client = Client::from_env()?;
    let weather = Tool::function(
        "get_current_weather",
        "当你想查询指定城市的天气时非常有用。",
        json!({
            "type": "object",
            "properties": {"location": {"type": "string", "description": "城市或县区，比如北京市、杭州市、余杭区等。"}},
            "required": ["location"],
        }),
    );
    let question = InputItem::user("北京天气咋样");
    let first = client
        .responses()
        .create(ResponseRequest::new("qwen3.8-max", vec![question.clone()]).tool(weather.clone()))
        .await?;

    let mut input = vec![question];
    for call in first.function_calls() {
        println!("→ {}({})", call.name, call.arguments);
        let output = get_current_weather(&call.arguments);
        println!("← {output}");
        input.push(InputItem::from(OutputItem::FunctionCall(call.clone())));
        input.push(InputItem::function_call_output(
            call.call_id.clone(),
            output,
        ));
    }
    let answer = client
        .responses()
        .create(ResponseRequest::new("qwen3.8-max", input).tool(weather))
        .await?;
    println!("{}", answer.output_text());
    Ok(())
}
