#!/usr/bin/env bash
# Builds the `dashscope-mock` wheel and runs the pytest plugin's suite against it, installed
# the way a Python team would install it (part of `cargo xtask test`):
#
#   bash mock-server/python/ci.sh [pytest args…]
#
# 1. a build venv with maturin (reused; reinstalled when the pin changes);
# 2. the wheel, `maturin build --release` into the workspace's target dir, so the release build
#    of the mock is made once and reused by later runs;
# 3. a fresh venv with only the wheel, pytest, openai and dashscope (the pins of the SDK suite,
#    mock-server/tests/python/requirements.txt; anyio's pytest plugin comes with openai);
# 4. tests/ copied to a temporary directory outside the repository and run there with a
#    minimal environment (no cargo on PATH, no DASHSCOPE_MOCK_BIN): the binary must come from
#    the wheel;
# 5. the wheel's size and the median time from `MockServer()` to ready, for the README.
#
# Environment: PYTHON (default: python3), CARGO (default: cargo).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"
cargo="${CARGO:-cargo}"
maturin_pin="maturin==1.16.0"
target_dir="$(cd "$root" && "$cargo" metadata --format-version 1 --no-deps |
    "$python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
work="$target_dir/python-wheel"
mkdir -p "$work"

# 1. The build venv.
build_venv="$work/build-venv"
if [ "$(cat "$build_venv/.pin" 2>/dev/null)" != "$maturin_pin" ]; then
    rm -rf "$build_venv"
    "$python" -m venv "$build_venv"
    "$build_venv/bin/python" -m pip install --disable-pip-version-check --quiet "$maturin_pin"
    echo "$maturin_pin" >"$build_venv/.pin"
fi

# 2. The wheel.
rm -rf "$work/wheels"
(cd "$here" && CARGO_TARGET_DIR="$target_dir" "$build_venv/bin/maturin" build --release --out "$work/wheels")
wheel="$(ls "$work"/wheels/dashscope_mock-*.whl)"

# 3. A fresh venv with the wheel and the test dependencies only.
venv="$work/test-venv"
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --disable-pip-version-check --quiet \
    "$wheel" -r "$root/mock-server/tests/python/requirements.txt"

# 4. The suite, away from the repository, in a minimal environment.
suite="$(mktemp -d)"
trap 'rm -rf "$suite"' EXIT
cp "$here"/tests/*.py "$suite/"
(
    cd "$suite"
    exec env -i HOME="$HOME" PATH=/usr/bin:/bin LANG=C.UTF-8 TMPDIR="${TMPDIR:-/tmp}" \
        PYTHONDONTWRITEBYTECODE=1 \
        "$venv/bin/python" -m pytest -p pytester -p no:cacheprovider -q -rfEs "$@"
)

# 5. The README's figures.
echo "python-plugin: wheel $(basename "$wheel"): $(du -k "$wheel" | cut -f1) KiB"
env -i HOME="$HOME" PATH=/usr/bin:/bin "$venv/bin/python" -c '
import statistics, time
from dashscope_mock import MockServer
times = []
for _ in range(9):
    t = time.perf_counter()
    with MockServer():
        times.append(time.perf_counter() - t)
print(f"python-plugin: MockServer() to ready: median {statistics.median(times) * 1000:.1f} ms of 9 starts")
'
