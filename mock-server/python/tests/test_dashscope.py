"""The `dashscope` SDK through the plugin's `dashscope_sdk` fixture: `Generation.call` (plain and
streamed) and `MultiModalConversation.call`, with nothing configured by the test."""

from http import HTTPStatus

QUESTION = "How far is the Moon?"
MESSAGES = [{"role": "user", "content": QUESTION}]


def test_generation_call(dashscope_sdk, dashscope_mock):
    r = dashscope_sdk.Generation.call(model="qwen-plus", messages=MESSAGES, result_format="message")
    assert r.status_code == HTTPStatus.OK, (r.code, r.message)
    assert f'You asked: "{QUESTION}"' in r.output.choices[0].message.content
    [entry] = dashscope_mock.journal()
    assert entry["path"] == "/api/v1/services/aigc/text-generation/generation"
    assert entry["body"]["input"]["messages"] == MESSAGES
    # The key the SDK sent is never kept.
    assert dict(entry["headers"])["authorization"] == "Bearer [REDACTED]"


def test_generation_stream(dashscope_sdk):
    from dashscope import Generation  # what code under test imports sees the mock too

    whole = Generation.call(model="qwen-plus", messages=MESSAGES, result_format="message")
    parts = [
        r.output.choices[0].message.content
        for r in Generation.call(
            model="qwen-plus",
            messages=MESSAGES,
            result_format="message",
            stream=True,
            incremental_output=True,
        )
    ]
    assert len(parts) > 3
    assert "".join(parts) == whole.output.choices[0].message.content


def test_multimodal_conversation_call(dashscope_sdk):
    r = dashscope_sdk.MultiModalConversation.call(
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
    assert r.status_code == HTTPStatus.OK, (r.code, r.message)
    assert "cat_on_sofa.png" in r.output.choices[0].message.content[0]["text"]
