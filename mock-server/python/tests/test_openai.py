"""The `openai` SDK through the plugin's fixtures: Chat Completions and Responses, sync and
async, stream and not. Async tests run under anyio's pytest plugin (installed with openai)."""

import pytest

QUESTION = "What is the capital of France?"
MESSAGES = [{"role": "user", "content": QUESTION}]


def test_chat(openai_client, dashscope_mock):
    r = openai_client.chat.completions.create(model="qwen-plus", messages=MESSAGES)
    assert r.object == "chat.completion"
    assert f'You asked: "{QUESTION}"' in r.choices[0].message.content
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    [entry] = dashscope_mock.journal()
    assert (entry["path"], entry["status"], entry["outcome"]) == (
        "/compatible-mode/v1/chat/completions",
        200,
        "responder",
    )


def test_chat_stream(openai_client):
    whole = openai_client.chat.completions.create(model="qwen-plus", messages=MESSAGES)
    stream = openai_client.chat.completions.create(
        model="qwen-plus", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert len(chunks) > 3
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert chunks[-1].usage.total_tokens == whole.usage.total_tokens


def test_responses(openai_client):
    r = openai_client.responses.create(model="qwen-plus", input=QUESTION)
    assert r.status == "completed"
    assert f'You asked: "{QUESTION}"' in r.output_text
    events = list(openai_client.responses.create(model="qwen-plus", input=QUESTION, stream=True))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert (
        "".join(e.delta for e in events if e.type == "response.output_text.delta") == r.output_text
    )


@pytest.mark.anyio
async def test_async_chat(async_openai_client):
    whole = await async_openai_client.chat.completions.create(model="qwen-plus", messages=MESSAGES)
    assert f'You asked: "{QUESTION}"' in whole.choices[0].message.content
    stream = await async_openai_client.chat.completions.create(
        model="qwen-plus", messages=MESSAGES, stream=True
    )
    text = ""
    async for chunk in stream:
        text += "".join(c.delta.content or "" for c in chunk.choices)
    assert text == whole.choices[0].message.content


@pytest.mark.anyio
async def test_async_responses(async_openai_client, dashscope_mock):
    whole = await async_openai_client.responses.create(model="qwen-plus", input=QUESTION)
    assert whole.status == "completed"
    text = ""
    async with async_openai_client.responses.stream(model="qwen-plus", input=QUESTION) as stream:
        async for event in stream:
            if event.type == "response.output_text.delta":
                text += event.delta
        final = await stream.get_final_response()
    assert text == final.output_text == whole.output_text
    paths = [e["path"] for e in dashscope_mock.journal()]
    assert paths == ["/compatible-mode/v1/responses"] * 2
