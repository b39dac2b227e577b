#!/usr/bin/env bash
# The Python package's suite as a user gets it: a fresh virtual environment, `pip install .` (the
# C++ engine and the pybind11 module built by scikit-build-core), the test tools and the official
# claude-agent-sdk (pinned, for the compatibility test), then pytest on tests/python.
#   tests/python/run.sh FAKE_CLI [pytest args...]
# Env: CCB_REAL_CLI (optional: the pinned real CLI, for the real-CLI test inside a loopback-only
# network namespace), PYTHON (default python3), CCB_PY_VENV (default build/py-venv; recreated).
set -euo pipefail
cd "$(dirname "$0")/../.."
fake=$1
shift
venv="$(realpath -m "${CCB_PY_VENV:-build/py-venv}")"
PINS=(pytest==8.3.5 websockets==15.0.1 claude-agent-sdk==0.2.187)

rm -rf "$venv"
"${PYTHON:-python3}" -m venv "$venv"
py="$venv/bin/python"
"$py" -m pip install --quiet --disable-pip-version-check "${PINS[@]}"
echo "== pip install . (builds the engine and the module)" >&2
"$py" -m pip install --quiet --disable-pip-version-check .
# Run from tests/python so that the installed package, not the source tree, is imported.
cd tests/python
export CCB_FAKE_CLI="$fake"
"$py" -m pytest -q -p no:cacheprovider "$@" .
if [[ -n "${CCB_REAL_CLI:-}" ]]; then
  ../support/netns-run.sh ../support/with-mock-api.sh "$py" -m pytest -q -p no:cacheprovider realcli_python.py
fi
