"""The mock's own features through the plugin and `MockServer`: faults, the journal, cassettes
added from a test, recording and replaying, isolation between tests, start and stop, where the
binary comes from, and the admin API's request contract."""

import json
import os
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from pathlib import Path

import openai
import pytest

from dashscope_mock import BINARY_ENV, FAULT_HEADER, MockServer, MockServerError, find_binary


def ask(text):
    return [{"role": "user", "content": text}]


def test_429_then_success_through_the_sdk_retry(openai_client, dashscope_mock):
    dashscope_mock.add_fault("status=429;retry-after=1", times=1)
    r = openai_client.chat.completions.create(model="qwen-plus", messages=ask("hi"))
    assert r.choices[0].finish_reason == "stop"
    first, second = dashscope_mock.journal()
    assert (first["status"], first["outcome"], first["faults"]) == (
        429,
        "fault",
        ["status=429;retry-after=1;times=1"],
    )
    assert (second["status"], second["outcome"]) == (200, "responder")
    [fault] = dashscope_mock.faults()
    assert (fault["applied"], fault["remaining"]) == (1, 0)


def test_fault_on_one_request_by_header(openai_client, dashscope_mock):
    with pytest.raises(openai.InternalServerError) as e:
        openai_client.with_options(max_retries=0).chat.completions.create(
            model="qwen-plus", messages=ask("hi"), extra_headers={FAULT_HEADER: "status=503"}
        )
    assert e.value.status_code == 503
    openai_client.chat.completions.create(model="qwen-plus", messages=ask("hi"))
    assert [e["status"] for e in dashscope_mock.journal()] == [503, 200]


def summarize(client, text):
    """Stands for the code under test."""
    r = client.chat.completions.create(
        model="qwen-turbo",
        temperature=0.2,
        messages=[
            {"role": "system", "content": "Summarize in one line."},
            {"role": "user", "content": text},
        ],
    )
    return r.choices[0].message.content


def test_the_journal_shows_what_the_code_sent(openai_client, dashscope_mock):
    summarize(openai_client, "A long text.")
    [sent] = dashscope_mock.journal()
    assert (sent["method"], sent["path"]) == ("POST", "/compatible-mode/v1/chat/completions")
    assert sent["body"]["model"] == "qwen-turbo"
    assert sent["body"]["temperature"] == 0.2
    assert sent["body"]["messages"][0] == {"role": "system", "content": "Summarize in one line."}
    headers = dict(sent["headers"])
    assert headers["authorization"] == "Bearer [REDACTED]"
    assert headers["user-agent"].startswith("OpenAI/Python")


RELEASE = {
    "version": 1,
    "name": "unified/release-date",
    "description": "One answer, written in the test, replayed in every dialect",
    "request": {
        "model": "qwen-plus",
        "messages": [{"role": "user", "parts": [{"type": "text", "text": "When is the release?"}]}],
    },
    "response": {
        "unified": {
            "model": "qwen-plus",
            "candidates": [{"index": 0, "text": "Friday at noon.", "finish_reason": "stop"}],
            "usage": {"input_tokens": 5, "output_tokens": 4, "total_tokens": 9},
        }
    },
}


def test_a_cassette_added_from_the_test(openai_client, dashscope_sdk, dashscope_mock):
    assert dashscope_mock.add_cassette(RELEASE) == ["unified/release-date"]
    chat = openai_client.chat.completions.create(
        model="qwen-plus", messages=ask("When is the release?")
    )
    assert chat.choices[0].message.content == "Friday at noon."
    native = dashscope_sdk.Generation.call(
        model="qwen-plus", messages=ask("When is the release?"), result_format="message"
    )
    assert native.output.choices[0].message.content == "Friday at noon."
    assert [e["cassette"] for e in dashscope_mock.journal()] == ["unified/release-date"] * 2


def test_a_cassette_file(openai_client, dashscope_mock, tmp_path):
    body = {
        "id": "chatcmpl-refunds-1",
        "object": "chat.completion",
        "created": 1766635350,
        "model": "qwen-plus",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Within 30 days."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6},
    }
    cassette = {
        "version": 1,
        "name": "chat/refunds",
        "description": "A wire cassette written as a file",
        "dialect": "chat",
        "request": {
            "method": "POST",
            "path": "/compatible-mode/v1/chat/completions",
            "body": {"model": "qwen-plus", "messages": ask("Refunds?")},
        },
        "response": {
            "status": 200,
            "headers": [["content-type", "application/json"]],
            "body": {"json": body},
        },
    }
    path = tmp_path / "refunds.json"
    path.write_text(json.dumps(cassette))
    assert dashscope_mock.add_cassette(path) == ["chat/refunds"]
    r = openai_client.chat.completions.create(model="qwen-plus", messages=ask("Refunds?"))
    assert (r.id, r.choices[0].message.content) == ("chatcmpl-refunds-1", "Within 30 days.")


def test_record_then_replay_strictly(tmp_path):
    question = ask("Name three prime numbers.")

    def run(server):
        client = openai.OpenAI(
            base_url=server.compatible_base_url, api_key=server.api_key, max_retries=0
        )
        whole = client.chat.completions.create(model="qwen-plus", messages=question)
        stream = client.chat.completions.create(model="qwen-plus", messages=question, stream=True)
        streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        return whole.id, whole.choices[0].message.content, streamed

    cassettes = tmp_path / "cassettes"  # created by the first recording
    # A second mock stands for https://dashscope.aliyuncs.com.
    with MockServer(seed=1) as upstream:
        with MockServer(record=upstream.url, fixtures=[cassettes]) as recorder:
            recorded = run(recorder)
            key = recorder.api_key
        # Leaving the block stopped the recorder gracefully: its cassettes are written.
        assert run(upstream)[1:] == recorded[1:], "the recorder passes the answers through"
    files = sorted(cassettes.rglob("*.json"))
    assert [f.parent.name for f in files] == ["chat", "chat"]
    for f in files:
        assert key not in f.read_text()

    with MockServer(fixtures=[cassettes], strict=True, seed=2) as replay:
        assert run(replay) == recorded
        assert [e["outcome"] for e in replay.journal()] == ["cassette", "cassette"]
        client = openai.OpenAI(
            base_url=replay.compatible_base_url, api_key=replay.api_key, max_retries=0
        )
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model="qwen-plus", messages=ask("Something else."))


def test_state_left_behind_by_a_test(openai_client, dashscope_mock):
    dashscope_mock.add_cassette(RELEASE)
    dashscope_mock.add_fault("latency=1")
    openai_client.chat.completions.create(model="qwen-plus", messages=ask("hi"))
    assert dashscope_mock.journal() and dashscope_mock.faults()


def test_each_test_starts_clean(dashscope_mock):
    # Runs after the test above, on the same session server.
    assert dashscope_mock.journal() == []
    assert dashscope_mock.faults() == []
    assert "unified/release-date" not in [c["name"] for c in dashscope_mock.cassettes()]


def test_the_binary_comes_from_the_wheel(dashscope_mock):
    if os.environ.get(BINARY_ENV):
        pytest.skip(f"{BINARY_ENV} chooses the binary")
    assert Path(dashscope_mock.binary).parent == Path(sysconfig.get_path("scripts"))
    assert dashscope_mock.health()["status"] == "ok"


def test_api_keys_are_enforced_for_clients():
    with MockServer(api_keys=["sk-first", "sk-second"]) as server:
        assert server.api_key == "sk-first"
        assert "sk-first" not in repr(server)
        good = openai.OpenAI(
            base_url=server.compatible_base_url, api_key="sk-second", max_retries=0
        )
        good.chat.completions.create(model="qwen-plus", messages=ask("hi"))
        bad = openai.OpenAI(base_url=server.compatible_base_url, api_key="sk-other", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            bad.chat.completions.create(model="qwen-plus", messages=ask("hi"))


def test_a_failed_start_raises_with_the_server_stderr():
    with pytest.raises(MockServerError, match="--speed must be") as e:
        MockServer(speed=-1).start()
    assert "exited with code" in str(e.value)


def test_stop_is_graceful_even_when_the_test_fails():
    server = MockServer()
    with pytest.raises(RuntimeError, match="the test failed"):
        with server:
            url = server.url
            raise RuntimeError("the test failed")
    assert not server.running
    assert "shutting down" in server.stderr  # the binary's SIGTERM path, not a kill
    assert server.returncode == 0  # it exited by itself (a SIGKILL after the wait shows -9)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/__mock/health", timeout=5)
    with pytest.raises(MockServerError, match="not running"):
        server.journal()


def test_a_server_never_stopped_is_stopped_when_python_exits():
    script = (
        "from dashscope_mock import MockServer\nserver = MockServer().start()\nprint(server.url)"
    )
    url = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    assert url.startswith("http://127.0.0.1:")
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/__mock/health", timeout=5)


def test_a_server_whose_parent_was_killed_stops():
    script = (
        "import sys, time\nfrom dashscope_mock import MockServer\n"
        "server = MockServer().start()\nprint(server.url, flush=True)\ntime.sleep(600)"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        url = parent.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        urllib.request.urlopen(f"{url}/__mock/health", timeout=5)
    finally:
        parent.kill()  # SIGKILL: no finalizer runs
        parent.wait(30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/__mock/health", timeout=1)
        except (urllib.error.URLError, ConnectionError):
            return
        time.sleep(0.1)
    pytest.fail("the orphaned server is still answering")


def test_admin_key():
    """With a binary that has `--admin-key`, the admin API needs it; with one that has not,
    asking for it fails to start with the binary's own error."""
    has_flag = (
        "--admin-key"
        in subprocess.run(
            [find_binary(), "--help"], capture_output=True, text=True, check=True
        ).stdout
    )
    if not has_flag:
        with pytest.raises(MockServerError, match="admin-key"):
            MockServer(admin_key="adm-secret").start()
        return
    with MockServer(admin_key="adm-secret") as server:
        assert server.health()["status"] == "ok"
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"{server.url}/__mock/journal", timeout=5)
        assert e.value.code in (401, 403)


# A stand-in binary for the contract test: an admin API that enforces the hardened rules
# (Bearer key, JSON writes, no Origin) and logs its argv and every request.
FAKE_BINARY = """
import http.server, json, os, sys
argv = sys.argv[1:]
flags = {}
for a in argv:
    name, _, value = a.partition("=")
    flags.setdefault(name, value)
key = flags.get("--admin-key") or flags.get("--api-key")
log = open(os.environ["FAKE_LOG"], "a")
log.write(json.dumps({"argv": argv}) + "\\n"); log.flush()

class Admin(http.server.BaseHTTPRequestHandler):
    def handle_one(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        log.write(json.dumps({"method": self.command, "path": self.path, "body": body.decode(),
                              "headers": {k.lower(): v for k, v in self.headers.items()}}) + "\\n")
        log.flush()
        status, answer = 200, {"status": "ok", "added": ["x"], "id": 1}
        if key and self.headers.get("authorization") != "Bearer " + key:
            status, answer = 401, {"error": "admin key required"}
        elif self.headers.get("origin"):
            status, answer = 403, {"error": "cross-origin"}
        elif self.command != "GET" and (self.headers.get("content-type") != "application/json"
                                        or not isinstance(json.loads(body), (dict, list))):
            status, answer = 415, {"error": "JSON only"}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    do_GET = do_POST = do_DELETE = handle_one
    def log_message(self, *args):
        pass

server = http.server.HTTPServer(("127.0.0.1", 0), Admin)
print("fake listening on http://127.0.0.1:%d" % server.server_port, flush=True)
server.serve_forever()
"""


@pytest.mark.parametrize(
    ("options", "bearer", "admin_flag"),
    [
        ({"api_keys": ["sk-client"], "admin_key": "adm-secret"}, "adm-secret", True),
        ({"api_keys": ["sk-client", "sk-other"]}, "sk-client", False),
        ({}, None, False),
    ],
)
def test_admin_requests_follow_the_contract(tmp_path, options, bearer, admin_flag):
    fake = tmp_path / "fake-dashscope-mock"
    fake.write_text(f"#!{sys.executable}\n{FAKE_BINARY}")
    fake.chmod(0o755)
    log = tmp_path / "log.jsonl"
    with MockServer(binary=fake, env={"FAKE_LOG": str(log)}, **options) as server:
        server.journal()
        server.clear_journal()
        server.reset()
        server.add_cassette(RELEASE)
        server.add_fault("status=500", times=2)
        server.faults()
        server.remove_fault(1)
        server.clear_faults()
    first, *requests = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(a.startswith("--admin-key=") for a in first["argv"]) == admin_flag
    assert [(r["method"], r["path"]) for r in requests] == [
        ("GET", "/__mock/health"),
        ("GET", "/__mock/journal"),
        ("DELETE", "/__mock/journal"),
        ("POST", "/__mock/reset"),
        ("POST", "/__mock/cassettes"),
        ("POST", "/__mock/faults"),
        ("GET", "/__mock/faults"),
        ("DELETE", "/__mock/faults/1"),
        ("DELETE", "/__mock/faults"),
    ]
    for r in requests:
        assert "origin" not in r["headers"]
        assert r["headers"].get("authorization") == (f"Bearer {bearer}" if bearer else None)
        if r["method"] != "GET":
            assert r["headers"]["content-type"] == "application/json"
    bodies = {r["path"]: json.loads(r["body"]) for r in requests if r["method"] != "GET"}
    assert bodies["/__mock/reset"] == {} and bodies["/__mock/journal"] == {}
    assert bodies["/__mock/faults"] == {}  # the DELETE, which came last
    assert bodies["/__mock/cassettes"] == RELEASE


def test_a_failed_test_shows_the_journal(pytester):
    pytester.makepyfile(
        """
        def test_fails(openai_client):
            openai_client.chat.completions.create(
                model="qwen-plus", messages=[{"role": "user", "content": "hi"}]
            )
            assert False
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*dashscope-mock journal*",
            "1. POST /compatible-mode/v1/chat/completions -> 200 responder",
        ]
    )
