"""`client.models.list()` of the official `openai` SDK against the mock's
`GET /compatible-mode/v1/models` (issue 16, item 6)."""

from openai import OpenAI


def test_models_list(base_url, api_key):
    client = OpenAI(api_key=api_key, base_url=f"{base_url}/compatible-mode/v1", max_retries=0)
    raw = client.models.with_raw_response.list()
    assert raw.headers["x-mock-source"] == "models"
    ids = [m.id for m in raw.parse()]
    # The models of the embedded cassettes and the main ones the mock lists itself.
    assert "qwen-plus" in ids and "qwen-vl-plus" in ids and "qwen3-max" in ids
    assert ids == sorted(set(ids))
    assert all(m.object == "model" and m.owned_by == "system" for m in raw.parse())


def test_models_list_needs_the_key(base_url):
    import openai
    import pytest

    client = OpenAI(api_key="sk-wrong", base_url=f"{base_url}/compatible-mode/v1", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.models.list()
