"""The pytest plugin (registered by the package's `pytest11` entry point).

Fixtures:

* `dashscope_mock`: the session's server, reset before the test (journal, faults and their
  counters, stored responses, cassettes added at run time): what most tests ask for.
* `openai_client`, `async_openai_client`: `openai.OpenAI` / `openai.AsyncOpenAI` on the
  mock's compatible-mode base URL.
* `dashscope_sdk`: the `dashscope` module pointed at the mock for the test (its base URLs and
  key, and the `DASHSCOPE_*` variables the 2.x `Client` reads), restored afterwards.
* `dashscope_mock_server`: the session-scoped `MockServer` itself (not reset).
* `dashscope_mock_options`: the keyword arguments of that `MockServer`; override it in a
  `conftest.py` to pass fixtures directories, `strict`, `seed`, `record`, …

`openai` and `dashscope` are imported only by the fixtures that need them. When a test fails,
its report gets a section listing what the mock received during the test.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from .server import MockServer, MockServerError

#: Journal entries shown in the report of a failed test.
REPORT_ENTRIES = 20


@pytest.fixture(scope="session")
def dashscope_mock_options() -> dict[str, Any]:
    """Keyword arguments for the session's `MockServer` (none by default)."""
    return {}


@pytest.fixture(scope="session")
def dashscope_mock_server(dashscope_mock_options: dict[str, Any]) -> Iterator[MockServer]:
    """The `MockServer` of the whole session, stopped (gracefully) at its end."""
    with MockServer(**dashscope_mock_options) as server, pytest.MonkeyPatch.context() as mp:
        # Clients must reach the local server directly, whatever HTTP(S)_PROXY says.
        host = urlsplit(server.url).hostname or "127.0.0.1"
        for name in ("NO_PROXY", "no_proxy"):
            kept = os.environ.get(name)
            mp.setenv(name, f"{host},localhost" + (f",{kept}" if kept else ""))
        yield server


@pytest.fixture
def dashscope_mock(dashscope_mock_server: MockServer) -> MockServer:
    """The session's server, reset for this test."""
    dashscope_mock_server.reset()
    return dashscope_mock_server


def _sdk(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as e:
        pytest.fail(
            f"this fixture needs the {name!r} package (pip install {name}): {e}", pytrace=False
        )


@pytest.fixture
def openai_client(dashscope_mock: MockServer) -> Iterator[Any]:
    """An `openai.OpenAI` on the mock (its own retry settings kept)."""
    openai = _sdk("openai")
    client = openai.OpenAI(
        base_url=dashscope_mock.compatible_base_url, api_key=dashscope_mock.api_key
    )
    yield client
    client.close()


@pytest.fixture
def async_openai_client(dashscope_mock: MockServer) -> Any:
    """An `openai.AsyncOpenAI` on the mock, for async tests under any async plugin
    (pytest-asyncio, anyio).

    It keeps no idle connection: each test runs on its own event loop, and a pooled
    connection of a finished loop could not be closed later (a sync fixture cannot await
    `close()`, and an async one would tie this fixture to one async plugin)."""
    openai = _sdk("openai")
    limits = type(openai.DEFAULT_CONNECTION_LIMITS)(max_keepalive_connections=0)
    return openai.AsyncOpenAI(
        base_url=dashscope_mock.compatible_base_url,
        api_key=dashscope_mock.api_key,
        http_client=openai.DefaultAsyncHttpxClient(limits=limits),
    )


@pytest.fixture
def dashscope_sdk(dashscope_mock: MockServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The `dashscope` module, pointed at the mock until the test ends."""
    dashscope = _sdk("dashscope")
    native, compatible, key = (
        dashscope_mock.native_base_url,
        dashscope_mock.compatible_base_url,
        dashscope_mock.api_key,
    )
    monkeypatch.setattr(dashscope, "base_http_api_url", native)
    monkeypatch.setattr(dashscope, "base_compatible_api_url", compatible, raising=False)
    monkeypatch.setattr(dashscope, "api_key", key)
    for name, value in (
        ("DASHSCOPE_BASE_URL", native),
        ("DASHSCOPE_HTTP_BASE_URL", native),
        ("DASHSCOPE_COMPATIBLE_BASE_URL", compatible),
        ("DASHSCOPE_API_KEY", key),
    ):
        monkeypatch.setenv(name, value)
    return dashscope


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    server = getattr(item, "funcargs", {}).get("dashscope_mock")
    if report.when != "call" or not report.failed or not isinstance(server, MockServer):
        return
    try:
        entries = server.journal()
    except MockServerError as e:
        report.sections.append(("dashscope-mock journal", f"unavailable: {e}"))
        return
    lines = [
        f"{e.get('seq')}. {e.get('method')} {e.get('path')} -> {e.get('status')} {e.get('outcome')}"
        + (f" [{e['cassette']}]" if e.get("cassette") else "")
        + (f" faults={e['faults']}" if e.get("faults") else "")
        for e in entries[-REPORT_ENTRIES:]
    ]
    shown = f" (last {REPORT_ENTRIES} of {len(entries)})" if len(entries) > REPORT_ENTRIES else ""
    report.sections.append(
        (f"dashscope-mock journal{shown}", "\n".join(lines) or "no requests received")
    )
