"""Shared fixtures: the mock's base URL (DASHSCOPE_MOCK_URL, set by run.sh) and its API key."""

import os

import pytest

# The only key the mock started by run.sh accepts (--api-key); any other gets 401.
API_KEY = os.environ.get("DASHSCOPE_MOCK_KEY", "sk-mock-python-suite")

# The least number of tests this suite must run; fewer means files were not collected.
MIN_TESTS = 20


@pytest.fixture(scope="session")
def base_url() -> str:
    url = os.environ.get("DASHSCOPE_MOCK_URL")
    if not url:
        pytest.fail("DASHSCOPE_MOCK_URL is not set: run mock-server/tests/python/run.sh")
    return url.rstrip("/")


@pytest.fixture(scope="session")
def api_key() -> str:
    return API_KEY


def pytest_collection_finish(session):
    # run.sh asks for the whole suite; a developer running a subset (-k) is not held to it.
    if os.environ.get("DASHSCOPE_MOCK_FULL_SUITE") != "1":
        return
    if len(session.items) < MIN_TESTS:
        raise pytest.UsageError(
            f"only {len(session.items)} tests collected, expected at least {MIN_TESTS}"
        )
