#!/usr/bin/env bash
# Runs the official Python `openai` and `dashscope` SDKs against the dashscope-mock binary.
#
#   bash mock-server/tests/python/run.sh [pytest args…]
#
# Creates (or reuses) a virtual environment, installs the pinned SDKs and pytest from
# requirements.txt, builds and starts `dashscope-mock --port 0`, runs the pytest suite against
# it, stops it, and exits non-zero on any failure (pytest's exit 5, "no tests ran", included).
#
# Environment: DASHSCOPE_MOCK_VENV (default: <repo>/.venv), PYTHON (default: python3),
# CARGO (default: cargo).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
venv="${DASHSCOPE_MOCK_VENV:-$root/.venv}"
python="${PYTHON:-python3}"
cargo="${CARGO:-cargo}"
key="sk-mock-python-suite"

# 1. The virtual environment, reinstalled only when requirements.txt changed.
if [ ! -x "$venv/bin/python" ]; then
    echo "python-clients: creating $venv"
    "$python" -m venv "$venv"
fi
stamp="$venv/.dashscope-mock-requirements"
if ! cmp -s "$here/requirements.txt" "$stamp"; then
    echo "python-clients: installing $(grep -v '^#' "$here/requirements.txt" | tr '\n' ' ')"
    "$venv/bin/python" -m pip install --disable-pip-version-check --quiet -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$stamp"
fi

# 2. The mock server, on a free port.
(cd "$root" && "$cargo" build --quiet -p dashscope-mock --bin dashscope-mock)
target_dir="$(cd "$root" && "$cargo" metadata --format-version 1 --no-deps |
    "$venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
bin="$target_dir/debug/dashscope-mock"
logs="$(mktemp -d)"
"$bin" --port 0 --api-key "$key" --speed 0 >"$logs/out" 2>"$logs/err" &
pid=$!
cleanup() {
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -rf "$logs"
}
trap cleanup EXIT
url=""
for _ in $(seq 1 300); do
    url="$(grep -o 'http://[0-9.:]*' "$logs/out" 2>/dev/null | head -n 1 || true)"
    [ -n "$url" ] && break
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "python-clients: dashscope-mock exited early:" >&2
        cat "$logs/err" >&2
        exit 1
    fi
    sleep 0.1
done
if [ -z "$url" ]; then
    echo "python-clients: dashscope-mock printed no URL within 30 s" >&2
    cat "$logs/err" >&2
    exit 1
fi
echo "python-clients: dashscope-mock at $url"

# 3. The suite. Loopback traffic must not go through a proxy.
status=0
(
    cd "$here"
    export DASHSCOPE_MOCK_URL="$url" DASHSCOPE_MOCK_KEY="$key" DASHSCOPE_MOCK_FULL_SUITE=1
    export DASHSCOPE_HTTP_BASE_URL="$url/api/v1" DASHSCOPE_API_KEY="$key"
    export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"
    export PYTHONDONTWRITEBYTECODE=1
    exec "$venv/bin/python" -m pytest -p no:cacheprovider -q "$@"
) || status=$?
if [ "$status" -eq 5 ]; then
    echo "python-clients: pytest collected no tests" >&2
    exit 1
fi
if [ "$status" -ne 0 ]; then
    echo "python-clients: FAILED (pytest exit $status); server log:" >&2
    tail -n 50 "$logs/err" >&2
fi
exit "$status"
