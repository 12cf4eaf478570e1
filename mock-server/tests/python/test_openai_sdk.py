"""The official `openai` Python SDK against dashscope-mock, with nothing changed but the base
URL and the key: Chat Completions (plain, streamed, tools, the streaming helper) and Responses
(plain, streamed, the streaming helper, multi-turn through previous_response_id)."""

import json

import openai
import pytest
from openai import OpenAI

QUESTION = "What is the capital of France?"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location"],
        },
    },
}


@pytest.fixture(scope="module")
def client(base_url, api_key) -> OpenAI:
    return OpenAI(api_key=api_key, base_url=f"{base_url}/compatible-mode/v1", max_retries=0)


def ask(text):
    return [{"role": "user", "content": text}]


def test_chat_completion(client):
    raw = client.chat.completions.with_raw_response.create(model="qwen-plus", messages=ask(QUESTION))
    r = raw.parse()
    assert r.object == "chat.completion"
    assert r.id == "chatcmpl-" + raw.headers["x-request-id"]
    assert f'You asked: "{QUESTION}"' in r.choices[0].message.content
    assert r.choices[0].finish_reason == "stop"
    u = r.usage
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens > 0


def test_chat_stream_gives_the_non_stream_answer(client):
    whole = client.chat.completions.create(model="qwen-plus", messages=ask(QUESTION))
    stream = client.chat.completions.create(
        model="qwen-plus",
        messages=ask(QUESTION),
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage, finish, chunks = "", None, None, 0
    for chunk in stream:
        chunks += 1
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
        if chunk.usage is not None:
            usage = chunk.usage
    assert chunks > 3
    assert text == whole.choices[0].message.content
    assert finish == "stop"
    assert usage.completion_tokens == whole.usage.completion_tokens
    assert usage.total_tokens == whole.usage.total_tokens


def test_chat_thinking_streams_reasoning_first(client):
    stream = client.chat.completions.create(
        model="qwen-plus",
        messages=ask("Think first, then answer: is 7 prime?"),
        stream=True,
        extra_body={"enable_thinking": True},
    )
    order = []
    for chunk in stream:
        delta = chunk.choices[0].delta
        if getattr(delta, "reasoning_content", None):
            order.append("reasoning")
        if delta.content:
            order.append("answer")
    assert order and order[0] == "reasoning" and order[-1] == "answer"
    assert order.index("answer") > max(i for i, k in enumerate(order) if k == "reasoning")


def test_chat_tool_call_and_tool_result(client):
    messages = ask("What's the weather in Hangzhou?")
    r = client.chat.completions.create(model="qwen-plus", messages=messages, tools=[WEATHER_TOOL])
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather"
    args = json.loads(call.function.arguments)
    assert args["location"] == "Hangzhou"
    assert args.get("unit", "celsius") in ("celsius", "fahrenheit")
    messages += [
        {"role": "assistant", "content": "", "tool_calls": [call.model_dump(exclude_none=True)]},
        {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 24 degrees"},
    ]
    r = client.chat.completions.create(model="qwen-plus", messages=messages, tools=[WEATHER_TOOL])
    assert r.choices[0].finish_reason == "stop"
    assert "Sunny, 24 degrees" in r.choices[0].message.content


def test_chat_streaming_helper_accumulates_the_final_completion(client):
    whole = client.chat.completions.create(model="qwen-plus", messages=ask(QUESTION))
    with client.chat.completions.stream(
        model="qwen-plus", messages=ask(QUESTION), stream_options={"include_usage": True}
    ) as stream:
        deltas = [e.delta for e in stream if e.type == "content.delta"]
        final = stream.get_final_completion()
    assert "".join(deltas) == whole.choices[0].message.content
    assert final.choices[0].message.content == whole.choices[0].message.content
    assert final.usage.total_tokens == whole.usage.total_tokens

    tools_whole = client.chat.completions.create(
        model="qwen-plus", messages=ask("Weather in Tokyo?"), tools=[WEATHER_TOOL]
    )
    with client.chat.completions.stream(
        model="qwen-plus", messages=ask("Weather in Tokyo?"), tools=[WEATHER_TOOL]
    ) as stream:
        final = stream.get_final_completion()
    got = final.choices[0].message.tool_calls[0]
    want = tools_whole.choices[0].message.tool_calls[0]
    assert (got.id, got.function.name, got.function.arguments) == (
        want.id,
        want.function.name,
        want.function.arguments,
    )


def test_chat_json_mode(client):
    r = client.chat.completions.create(
        model="qwen-plus",
        messages=ask("Answer in JSON: what is 2+2?"),
        response_format={"type": "json_object"},
    )
    assert isinstance(json.loads(r.choices[0].message.content), dict)


def test_chat_recorded_fixture_replays(client):
    r = client.chat.completions.create(model="qwen-plus", messages=ask("Hello!"))
    assert r.choices[0].message.content == "Hello! ٩(◕‿◕｡)۶ How can I assist you today?"
    assert r.id == "chatcmpl-120e5847-3394-923c-a494-8eb9f81cb36e"


def test_errors_raise_the_sdk_exceptions(client, base_url):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="qwen-plus", messages=ask("hi"), temperature=3)
    assert e.value.code == "invalid_parameter_error"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-4o", messages=ask("hi"))
    bad = OpenAI(api_key="sk-wrong", base_url=f"{base_url}/compatible-mode/v1", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as e:
        bad.chat.completions.create(model="qwen-plus", messages=ask("hi"))
    assert e.value.code == "invalid_api_key"


def test_responses_create(client):
    r = client.responses.create(model="qwen-plus", input=QUESTION)
    assert r.status == "completed"
    assert f'You asked: "{QUESTION}"' in r.output_text
    assert r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens
    chat = client.chat.completions.create(model="qwen-plus", messages=ask(QUESTION))
    assert r.output_text == chat.choices[0].message.content, "one answer in every dialect"


def test_responses_stream_gives_the_non_stream_answer(client):
    whole = client.responses.create(model="qwen-plus", input=QUESTION)
    text, types, completed = "", [], None
    for event in client.responses.create(model="qwen-plus", input=QUESTION, stream=True):
        types.append(event.type)
        if event.type == "response.output_text.delta":
            text += event.delta
        if event.type == "response.completed":
            completed = event.response
    assert types[0] == "response.created" and types[-1] == "response.completed"
    assert text == whole.output_text
    assert completed.output_text == whole.output_text
    assert completed.usage.total_tokens == whole.usage.total_tokens


def test_responses_streaming_helper_with_thinking_and_a_tool(client):
    tool = {"type": "function", "name": "get_weather", "parameters": WEATHER_TOOL["function"]["parameters"]}
    with client.responses.stream(
        model="qwen-plus",
        input="What's the weather in Paris?",
        tools=[tool],
        extra_body={"enable_thinking": True},
    ) as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()
    kinds = [item.type for item in final.output]
    assert kinds == ["reasoning", "function_call"]
    call = final.output[-1]
    assert call.name == "get_weather"
    assert json.loads(call.arguments)["location"] == "Paris"


def test_responses_multi_turn(client):
    first = client.responses.create(model="qwen-plus", input="My name is Ada.")
    second = client.responses.create(
        model="qwen-plus", input="What is my name?", previous_response_id=first.id
    )
    assert 'Earlier you said: "My name is Ada."' in second.output_text
    third = client.responses.create(
        model="qwen-plus", input="Thanks!", previous_response_id=second.id, stream=True
    )
    text = "".join(e.delta for e in third if e.type == "response.output_text.delta")
    assert 'Earlier you said: "What is my name?"' in text
    assert client.responses.retrieve(first.id).output_text == first.output_text
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="qwen-plus", input="x", previous_response_id="resp_unknown")
