"""The official `dashscope` Python SDK against dashscope-mock, with nothing changed but the base
URL and the key: Generation.call (message and text formats, incremental and cumulative
streams), MultiModalConversation.call, a bad key, and the 2.x Client in its native and openai
protocols."""

from http import HTTPStatus

import dashscope
import pytest
from dashscope import Generation, MultiModalConversation

QUESTION = "How far is the Moon?"
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": QUESTION}]


@pytest.fixture(scope="module", autouse=True)
def configure(base_url, api_key):
    dashscope.base_http_api_url = f"{base_url}/api/v1"
    dashscope.api_key = api_key


def ok(r):
    assert r.status_code == HTTPStatus.OK, (r.code, r.message)
    return r


def test_generation_message_format():
    r = ok(Generation.call(model="qwen-plus", messages=MESSAGES, result_format="message"))
    choice = r.output.choices[0]
    assert choice.finish_reason == "stop"
    assert f'You asked: "{QUESTION}"' in choice.message.content
    assert r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens
    assert r.request_id


def test_generation_text_format():
    r = ok(Generation.call(model="qwen-plus", prompt=QUESTION, result_format="text"))
    assert f'You asked: "{QUESTION}"' in r.output.text
    assert r.output.finish_reason == "stop"


def test_generation_stream_incremental():
    whole = ok(Generation.call(model="qwen-plus", messages=MESSAGES, result_format="message"))
    parts, last = [], None
    for r in Generation.call(
        model="qwen-plus",
        messages=MESSAGES,
        result_format="message",
        stream=True,
        incremental_output=True,
    ):
        ok(r)
        parts.append(r.output.choices[0].message.content)
        last = r
    assert len(parts) > 3
    assert "".join(parts) == whole.output.choices[0].message.content
    assert last.output.choices[0].finish_reason == "stop"
    assert last.usage.output_tokens == whole.usage.output_tokens


def test_generation_stream_cumulative():
    whole = ok(Generation.call(model="qwen-plus", messages=MESSAGES, result_format="message"))
    seen = []
    for r in Generation.call(
        model="qwen-plus",
        messages=MESSAGES,
        result_format="message",
        stream=True,
        incremental_output=False,
    ):
        ok(r)
        seen.append(r.output.choices[0].message.content)
    assert len(seen) > 3
    assert all(b.startswith(a) for a, b in zip(seen, seen[1:])), "each chunk holds all so far"
    assert seen[-1] == whole.output.choices[0].message.content


def test_generation_thinking_stream():
    reasoning, answer = "", ""
    for r in Generation.call(
        model="qwen-plus",
        messages=[{"role": "user", "content": "Is 7 prime?"}],
        result_format="message",
        stream=True,
        incremental_output=True,
        enable_thinking=True,
    ):
        msg = ok(r).output.choices[0].message
        reasoning += msg.get("reasoning_content") or ""
        answer += msg.content or ""
    assert reasoning and answer


def test_generation_tool_call():
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather in a city.",
                "parameters": {
                    "type": "object",
                    "properties": {"location": {"type": "string"}},
                    "required": ["location"],
                },
            },
        }
    ]
    r = ok(
        Generation.call(
            model="qwen-plus",
            messages=[{"role": "user", "content": "Weather in Shanghai?"}],
            tools=tools,
            result_format="message",
        )
    )
    choice = r.output.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call["function"]["name"] == "get_weather"
    assert '"location":"Shanghai"' in call["function"]["arguments"]


def test_multimodal_conversation():
    r = ok(
        MultiModalConversation.call(
            model="qwen-vl-plus",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"image": "https://example.com/pictures/cat_on_sofa.png"},
                        {"text": "What is in the picture?"},
                    ],
                }
            ],
        )
    )
    content = r.output.choices[0].message.content
    assert isinstance(content, list)
    assert "cat_on_sofa.png" in content[0]["text"]


def test_bad_key_gives_invalid_api_key():
    r = Generation.call(model="qwen-plus", prompt="hi", api_key="sk-wrong-key")
    assert r.status_code == 401
    assert r.code == "InvalidApiKey"


def test_validation_error_in_the_native_shape():
    r = Generation.call(model="qwen-plus", prompt="hi", temperature=5.0)
    assert r.status_code == 400
    assert r.code == "InvalidParameter"
    assert "temperature" in r.message


def test_v2_client_native_protocol(base_url, api_key):
    client = dashscope.Client(api_key=api_key, base_url=f"{base_url}/api/v1", protocol="native", max_retries=0)
    r = client.chat.completions.create(model="qwen-plus", messages=MESSAGES)
    text = r.choices[0].message.content
    assert f'You asked: "{QUESTION}"' in text
    streamed = "".join(
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(model="qwen-plus", messages=MESSAGES, stream=True)
        if c.choices
    )
    assert streamed == text


def test_v2_client_openai_protocol(base_url, api_key):
    client = dashscope.Client(
        api_key=api_key, base_url=f"{base_url}/compatible-mode/v1", protocol="openai", max_retries=0
    )
    r = client.chat.completions.create(model="qwen-plus", messages=MESSAGES)
    text = r.choices[0].message.content
    assert f'You asked: "{QUESTION}"' in text
    streamed = "".join(
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(model="qwen-plus", messages=MESSAGES, stream=True)
        if c.choices
    )
    assert streamed == text
    native = ok(Generation.call(model="qwen-plus", messages=MESSAGES, result_format="message"))
    assert native.output.choices[0].message.content == text, "one answer in every dialect"
