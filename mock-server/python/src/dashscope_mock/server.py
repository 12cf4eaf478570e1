"""`MockServer`: the `dashscope-mock` binary as a child process, and its admin API.

Bounds (all explicit):

* start: the binary must print its URL and answer `GET /__mock/health` within
  `start_timeout` seconds (default 30), else the start fails with its stderr;
* stop: SIGTERM (the binary's graceful shutdown, bounded by `shutdown_grace`), then at most
  `shutdown_grace` + 5 seconds of waiting before SIGKILL;
* every admin request: `ADMIN_TIMEOUT` seconds;
* the child's output kept in memory: its last `OUTPUT_LINES` lines of at most `LINE_BYTES`
  characters each (stdout and stderr are drained on threads, so a chatty server never blocks).
"""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import subprocess
import sysconfig
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import weakref
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Union

#: Set to a `dashscope-mock` executable to use it instead of the installed one.
BINARY_ENV = "DASHSCOPE_MOCK_BIN"
#: The key clients send when the server accepts any key (no `api_keys`).
DEFAULT_API_KEY = "sk-dashscope-mock"
#: The request header that carries per-request faults (the binary's `x-mock-fault`).
FAULT_HEADER = "x-mock-fault"
#: Seconds one admin request may take.
ADMIN_TIMEOUT = 10.0
#: Lines of the child's stdout and stderr kept (each).
OUTPUT_LINES = 200
#: Characters per kept line; longer lines are split.
LINE_BYTES = 8192

_URL = re.compile(r"https?://\S+")
# A direct connection, whatever HTTP(S)_PROXY says: the server is local.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

PathLike = Union[str, "os.PathLike[str]"]


class MockServerError(RuntimeError):
    """The server did not start, has stopped, or refused an admin request.

    `status` is the HTTP status of a refused admin request (else None); `output` the tail of
    the server's stderr when it is relevant (a failed start, an unexpected exit).
    """

    def __init__(self, message: str, *, status: int | None = None, output: str = "") -> None:
        if output:
            message = f"{message}\n--- dashscope-mock stderr (last lines) ---\n{output}"
        super().__init__(message)
        self.status = status
        self.output = output


def find_binary() -> str:
    """The `dashscope-mock` executable: `$DASHSCOPE_MOCK_BIN`, else the one the wheel put in
    this interpreter's scripts directory, else the first on `PATH`."""
    override = os.environ.get(BINARY_ENV)
    if override:
        if not os.access(override, os.X_OK):
            raise MockServerError(f"{BINARY_ENV}={override!r} is not an executable file")
        return override
    name = "dashscope-mock.exe" if os.name == "nt" else "dashscope-mock"
    scripts = sysconfig.get_path("scripts")
    candidate = os.path.join(scripts, name) if scripts else ""
    if candidate and os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which(name)
    if found:
        return found
    raise MockServerError(
        f"no {name} executable: it is not in {scripts} nor on PATH "
        f"(pip install dashscope-mock, or set {BINARY_ENV})"
    )


class _Output:
    """The last `OUTPUT_LINES` lines of one of the child's pipes, read on a daemon thread."""

    def __init__(self, pipe: Any) -> None:
        self.lines: collections.deque = collections.deque(maxlen=OUTPUT_LINES)
        self.cond = threading.Condition()
        self.closed = False
        self.thread = threading.Thread(target=self._drain, args=(pipe,), daemon=True)
        self.thread.start()

    def _drain(self, pipe: Any) -> None:
        try:
            for line in iter(lambda: pipe.readline(LINE_BYTES), ""):
                with self.cond:
                    self.lines.append(line.rstrip("\r\n"))
                    self.cond.notify_all()
        except (OSError, ValueError):
            pass  # closed under us: stop() gave up waiting for the end
        finally:
            with self.cond:
                self.closed = True
                self.cond.notify_all()

    def text(self) -> str:
        with self.cond:
            return "\n".join(self.lines)


def _stop_process(proc: subprocess.Popen, wait: float) -> None:
    """SIGTERM (graceful), at most `wait` seconds, then SIGKILL. Used by `stop()` and by the
    finalizer that runs when a started server is garbage-collected or the interpreter exits."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class MockServer:
    """The `dashscope-mock` binary on a free port, for a test or a whole test session.

    ```python
    from openai import OpenAI
    from dashscope_mock import MockServer

    with MockServer(seed=7) as server:
        client = OpenAI(base_url=server.compatible_base_url, api_key=server.api_key)
        client.chat.completions.create(
            model="qwen-plus", messages=[{"role": "user", "content": "hi"}]
        )
        assert server.journal()[-1]["body"]["model"] == "qwen-plus"
    ```

    The options are the binary's flags: `fixtures` (`--fixtures DIR`, repeatable; in record
    mode the first receives the recorded cassettes), `no_defaults`, `strict`, `seed`,
    `api_keys` (`--api-key`, repeatable; none: any non-empty key is accepted), `admin_key`
    (`--admin-key`, passed only when set), `latency_ms`, `chunk_delay_ms`, `speed`, `record`
    (`--record UPSTREAM`), `faults` (`--fault SPEC`, global; `reset()` brings them back),
    `models` (`--model PATTERN`), `host`, `port` (0: a free one), `shutdown_grace` (seconds),
    and `args` for any other flag. `binary` overrides `find_binary()`; `env` adds variables
    to the child's environment (e.g. `RUST_LOG`); `start_timeout` bounds the start (seconds).

    `start()` (or `with`) returns once the server answers; `stop()` (or leaving the `with`
    block, also on an exception) shuts it down gracefully (`returncode` is then 0). A
    started server that is never stopped is stopped when it is garbage-collected or the
    interpreter exits.
    """

    def __init__(
        self,
        *,
        fixtures: Iterable[PathLike] = (),
        no_defaults: bool = False,
        strict: bool = False,
        seed: int | None = None,
        api_keys: Sequence[str] = (),
        admin_key: str | None = None,
        latency_ms: int = 0,
        chunk_delay_ms: int = 0,
        speed: float | None = None,
        record: str | None = None,
        faults: Sequence[str] = (),
        models: Sequence[str] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        shutdown_grace: int = 10,
        args: Sequence[str] = (),
        binary: PathLike | None = None,
        env: Mapping[str, str] | None = None,
        start_timeout: float = 30.0,
    ) -> None:
        if isinstance(api_keys, str):
            raise TypeError("api_keys is a list of keys, not one string")
        self.binary = os.fspath(binary) if binary is not None else find_binary()
        fixtures = [os.fspath(d) for d in fixtures]
        if record is not None and fixtures:
            # The binary loads every fixtures directory, the one recording writes into too,
            # and refuses one that does not exist: on a first recording it does not yet.
            os.makedirs(fixtures[0], exist_ok=True)
        # `--flag=value`: a value may start with "-" (a key, a negative number).
        argv = [self.binary, f"--host={host}", f"--port={int(port)}"]
        argv += [f"--fixtures={d}" for d in fixtures]
        argv += ["--no-defaults"] if no_defaults else []
        argv += ["--strict"] if strict else []
        argv += [f"--seed={int(seed)}"] if seed is not None else []
        argv += [f"--api-key={key}" for key in api_keys]
        argv += [f"--admin-key={admin_key}"] if admin_key is not None else []
        argv += [f"--latency={int(latency_ms)}"] if latency_ms else []
        argv += [f"--chunk-delay={int(chunk_delay_ms)}"] if chunk_delay_ms else []
        argv += [f"--speed={float(speed)}"] if speed is not None else []
        argv += [f"--record={record}"] if record is not None else []
        argv += [f"--fault={spec}" for spec in faults]
        argv += [f"--model={pattern}" for pattern in models]
        argv += [f"--shutdown-grace={int(shutdown_grace)}"]
        # The server's stdin is a pipe this process holds: when this process ends, even by
        # SIGKILL, the pipe closes and the server stops instead of living on orphaned.
        argv += ["--exit-on-stdin-eof"]
        argv += list(args)
        self._argv = argv
        self._env = dict(env) if env is not None else None
        self._admin_key = admin_key or (api_keys[0] if api_keys else None)
        if api_keys:
            self._client_key = api_keys[0]
        elif record is not None:
            # Recording forwards the client's key upstream: it must be the real one.
            self._client_key = os.environ.get("DASHSCOPE_API_KEY") or DEFAULT_API_KEY
        else:
            self._client_key = DEFAULT_API_KEY
        self._start_timeout = float(start_timeout)
        self._stop_wait = int(shutdown_grace) + 5.0
        self._proc: subprocess.Popen | None = None
        self._stdout: _Output | None = None
        self._stderr: _Output | None = None
        self._finalizer: weakref.finalize | None = None
        self.url = ""
        # The binary's exit status once stopped: 0 when it shut down by itself on SIGTERM.
        self.returncode: int | None = None

    # Never the keys: they are secrets in record mode.
    def __repr__(self) -> str:
        state = f"url={self.url!r}" if self.running else "stopped"
        return f"<MockServer {state}>"

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the child process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def api_key(self) -> str:
        """The key for clients: the first of `api_keys`; in record mode without `api_keys`,
        `$DASHSCOPE_API_KEY` (the upstream needs the real key); else `DEFAULT_API_KEY`."""
        return self._client_key

    @property
    def compatible_base_url(self) -> str:
        """The OpenAI-compatible base URL (Chat Completions and Responses), for
        `openai.OpenAI(base_url=…)`."""
        return f"{self.url}/compatible-mode/v1"

    @property
    def native_base_url(self) -> str:
        """The native base URL, for `dashscope.base_http_api_url` and
        `DASHSCOPE_HTTP_BASE_URL`."""
        return f"{self.url}/api/v1"

    @property
    def stderr(self) -> str:
        """The last lines the server wrote to stderr (its log)."""
        return self._stderr.text() if self._stderr else ""

    def start(self) -> MockServer:
        """Starts the binary and waits until it answers `/__mock/health`; returns self.

        Raises `MockServerError` (with the server's stderr) when it exits, prints no URL or
        does not answer within `start_timeout` seconds."""
        if self._proc is not None:
            raise MockServerError("this MockServer was already started")
        deadline = time.monotonic() + self._start_timeout
        proc = subprocess.Popen(
            self._argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=None if self._env is None else {**os.environ, **self._env},
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self._proc = proc
        self._stdout, self._stderr = _Output(proc.stdout), _Output(proc.stderr)
        self._finalizer = weakref.finalize(self, _stop_process, proc, self._stop_wait)
        try:
            self.url = self._wait_for_url(deadline)
            self._wait_for_health(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_for_url(self, deadline: float) -> str:
        out = self._stdout
        assert out is not None and self._proc is not None
        with out.cond:
            while True:
                for line in out.lines:
                    m = _URL.search(line)
                    if m:
                        return _client_url(m.group(0))
                left = deadline - time.monotonic()
                if out.closed:
                    try:
                        code = self._proc.wait(max(left, 0.0))
                    except subprocess.TimeoutExpired:
                        raise self._failure(
                            "dashscope-mock closed its stdout without a URL"
                        ) from None
                    raise self._failure(
                        f"dashscope-mock exited with code {code} before it was ready"
                    )
                if left <= 0:
                    raise self._failure(
                        f"dashscope-mock printed no URL within {self._start_timeout:g} s"
                    )
                out.cond.wait(left)

    def _wait_for_health(self, deadline: float) -> None:
        # The port is bound before the URL is printed, so this normally answers at once;
        # retry only while the connection itself fails.
        while True:
            try:
                self.health()
                return
            except MockServerError as e:
                if e.status is not None or not self.running or time.monotonic() >= deadline:
                    raise
            time.sleep(0.01)

    def _failure(self, message: str) -> MockServerError:
        if self._stderr is not None and self._proc is not None and self._proc.poll() is not None:
            self._stderr.thread.join(1.0)  # the rest of what it wrote before exiting
        return MockServerError(message, output=self.stderr)

    def stop(self) -> None:
        """Stops the server gracefully (SIGTERM; SIGKILL after `shutdown_grace` + 5 s).
        Idempotent; its log stays readable through `stderr`."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if self._finalizer is not None:
            self._finalizer.detach()
        _stop_process(proc, self._stop_wait)
        self.returncode = proc.returncode
        # The pipes reach their end with the process; the readers stop there.
        for out, pipe in ((self._stdout, proc.stdout), (self._stderr, proc.stderr)):
            if out is not None:
                out.thread.join(1.0)
            if pipe is not None:
                pipe.close()

    # The admin API (`/__mock/…`).

    def _admin(self, method: str, path: str, body: Any = None, raw: bytes | None = None) -> Any:
        if not self.running:
            raise self._failure("the mock server is not running")
        headers = {"Accept": "application/json"}
        data = None
        if method != "GET":
            # Every write sends a JSON body, `{}` when there is nothing to send.
            data = raw if raw is not None else json.dumps({} if body is None else body).encode()
            headers["Content-Type"] = "application/json"
        if self._admin_key:
            headers["Authorization"] = f"Bearer {self._admin_key}"
        req = urllib.request.Request(
            f"{self.url}/__mock{path}", data=data, headers=headers, method=method
        )
        try:
            with _OPENER.open(req, timeout=ADMIN_TIMEOUT) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            text = e.read().decode("utf-8", "replace")
            try:
                text = json.loads(text).get("error", text)
            except (ValueError, AttributeError):
                pass
            raise MockServerError(
                f"{method} /__mock{path}: HTTP {e.code}: {text}", status=e.code
            ) from None
        except OSError as e:  # URLError included
            reason = getattr(e, "reason", e)
            if not self.running:
                raise self._failure(f"the mock server has exited ({reason})") from None
            raise MockServerError(f"{method} /__mock{path}: {reason}") from None

    def health(self) -> dict:
        """`GET /__mock/health`: status, cassette count, recording, strict, seed."""
        return self._admin("GET", "/health")

    def journal(self) -> list[dict]:
        """Every request received since the start or the last reset, oldest first: `method`,
        `path`, `headers` (secrets redacted), `body` (parsed JSON), `status`, `outcome`
        (`cassette`, `responder`, `error`, `fault`, `no_match`, `record`, `store`),
        `cassette`, `faults`."""
        return self._admin("GET", "/journal")

    def clear_journal(self) -> None:
        """Empties the journal."""
        self._admin("DELETE", "/journal")

    def reset(self) -> None:
        """Back to the start-up configuration: clears the journal and stored responses, drops
        the cassettes and faults added at run time, brings back the `faults` given at start
        (fresh counters), forgets header fault counters, re-arms `once` cassettes."""
        self._admin("POST", "/reset")

    def add_cassette(
        self, cassette: Mapping[str, Any] | Sequence[Mapping[str, Any]] | PathLike
    ) -> list[str]:
        """Adds a cassette (a dict in the cassette format, wire or unified), a list of them, or
        the JSON file at a path; returns the names added. Until the next `reset()`."""
        if isinstance(cassette, (str, os.PathLike)):
            raw = Path(cassette).read_bytes()
            return self._admin("POST", "/cassettes", raw=raw)["added"]
        return self._admin("POST", "/cassettes", cassette)["added"]

    def cassettes(self) -> list[dict]:
        """Every loaded cassette: name, layer, priority, once, served, path."""
        return self._admin("GET", "/cassettes")

    def add_fault(self, spec: str, *, times: int | None = None) -> int:
        """Adds a global fault (the `x-mock-fault` grammar, e.g. `status=429;retry-after=1`)
        for the next `times` requests (None: until removed or reset); returns its id.

        To fault one request the test sends itself, send the spec in the `x-mock-fault`
        header instead (`extra_headers={"x-mock-fault": spec}`)."""
        if times is not None:
            spec = f"{spec};times={int(times)}"
        return self._admin("POST", "/faults", {"spec": spec})["id"]

    def faults(self) -> list[dict]:
        """The global faults: id, spec, applied, remaining."""
        return self._admin("GET", "/faults")

    def remove_fault(self, fault_id: int) -> None:
        """Removes one global fault."""
        self._admin("DELETE", f"/faults/{int(fault_id)}")

    def clear_faults(self) -> None:
        """Removes every global fault."""
        self._admin("DELETE", "/faults")


def _client_url(printed: str) -> str:
    """The URL clients use: the printed one, with a wildcard bind address made loopback."""
    return (
        printed.replace("://0.0.0.0:", "://127.0.0.1:").replace("://[::]:", "://[::1]:").rstrip("/")
    )
