"""Qwen-Omni spoken output through the official `openai` SDK: the official docs' example
(collect every chunk's `delta.audio["data"]`, base64-decode once, write a WAV file) gives a
file the standard library's `wave` module opens; a non-stream Omni request is refused."""

import base64
import wave

import openai
import pytest
from openai import OpenAI

MODEL = "qwen3-omni-flash"


@pytest.fixture(scope="module")
def client(base_url, api_key) -> OpenAI:
    return OpenAI(api_key=api_key, base_url=f"{base_url}/compatible-mode/v1", max_retries=0)


def member(audio, name):
    """`delta.audio[name]` as the docs' example reads it (a dict in older SDKs), or the typed
    `ChoiceDeltaAudio` member of newer ones; "" when absent."""
    value = audio.get(name) if isinstance(audio, dict) else getattr(audio, name, None)
    return value or ""


def speak(client, text):
    completion = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": text}],
        modalities=["text", "audio"],
        audio={"voice": "Cherry", "format": "wav"},
        stream=True,
        stream_options={"include_usage": True},
    )
    audio_string, transcript, content, usage = "", "", "", None
    for chunk in completion:
        if not chunk.choices:
            usage = chunk.usage
            continue
        delta = chunk.choices[0].delta
        content += delta.content or ""
        if hasattr(delta, "audio") and delta.audio:
            audio_string += member(delta.audio, "data")
            transcript += member(delta.audio, "transcript")
    return base64.b64decode(audio_string), transcript, content, usage


def test_the_docs_example_writes_a_wav_that_opens(client, tmp_path):
    wav_bytes, transcript, content, usage = speak(client, "Who are you? Answer in one breath.")
    path = tmp_path / "audio_assistant.wav"
    path.write_bytes(wav_bytes)
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 24000)
        assert w.getnframes() > 0
        assert len(w.readframes(w.getnframes())) == 2 * w.getnframes()
    assert content and transcript == content
    assert usage is not None and usage.completion_tokens > 0
    # Deterministic: the same request speaks the same bytes.
    assert speak(client, "Who are you? Answer in one breath.")[0] == wav_bytes


def test_a_non_stream_omni_request_is_refused(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Hello"}],
            modalities=["text", "audio"],
            audio={"voice": "Cherry", "format": "wav"},
        )
    assert e.value.status_code == 400
    assert f"{MODEL} only support with stream=true" in str(e.value)
