"""A mock DashScope (Alibaba Cloud Model Studio, Qwen) server for tests.

The wheel installs the `dashscope-mock` binary (the same command, flags and embedded fixtures
as the Rust crate's); this package starts it (`MockServer`) and registers a pytest plugin
(`dashscope_mock.pytest_plugin`: the `dashscope_mock` fixture and friends).
"""

from .server import (
    BINARY_ENV,
    DEFAULT_API_KEY,
    FAULT_HEADER,
    MockServer,
    MockServerError,
    find_binary,
)

__all__ = [
    "BINARY_ENV",
    "DEFAULT_API_KEY",
    "FAULT_HEADER",
    "MockServer",
    "MockServerError",
    "find_binary",
]
