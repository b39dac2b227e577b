#!/usr/bin/env bash
# The Python package's suite as a user gets it: a fresh virtual environment, `pip install '.[websocket]'`
# (the C++ engine and the pybind11 module built by scikit-build-core, and the extra for the
# WebSocket server's FastAPI app), the test tools, python-jose (the seed's JWT example) and the
# official claude-agent-sdk (pinned, for the compatibility test), then pytest on tests/python, mypy,
# and the official SDK's own tests against ccbridge (tests/python/official).
#   tests/python/run.sh FAKE_CLI [pytest args...]     (FAKE_CLI: <build>/tests/ccb_fake_cli; the MCP
#   test server, ccb_mcp_test_server, is taken from the same directory unless CCB_MCP_TEST_SERVER says)
# Env: CCB_REAL_CLI (optional: the pinned real CLI, for the real-CLI tests inside a loopback-only
# network namespace; CCB_OFFICIAL_SDK_CACHE, default ~/.cache/ccbridge/official-sdk, keeps the
# official sdist whose examples they run), PYTHON (default python3), CCB_PY_VENV (default build/py-venv; recreated).
set -euo pipefail
cd "$(dirname "$0")/../.."
fake=$1
shift
venv="$(realpath -m "${CCB_PY_VENV:-build/py-venv}")"
PINS=(pytest==8.3.5 websockets==15.0.1 claude-agent-sdk==0.2.187 mypy==2.4.1 anyio==4.16.0 trio==0.35.0
      fastapi==0.165.0 uvicorn==0.55.0 python-jose==3.5.0
      # the official SessionStore adapters' tests (Redis and S3 served in-process by fakeredis and
      # moto; the Postgres one needs a live server and skips itself)
      redis==8.2.0 fakeredis==2.41.0 boto3==1.44.18 'moto[s3]==5.2.6')

rm -rf "$venv"
"${PYTHON:-python3}" -m venv "$venv"
py="$venv/bin/python"
"$py" -m pip install --quiet --disable-pip-version-check "${PINS[@]}"
echo "== pip install '.[websocket]' (builds the engine and the module; the extra from PyPI)" >&2
"$py" -m pip install --quiet --disable-pip-version-check ".[websocket]"
# A wheel builds too (reusing the build directory), and it carries the typing files.
wheels="$(dirname "$venv")/wheels"
rm -rf "$wheels"
"$py" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$wheels" .
"$py" - "$wheels" <<'PY'
import glob, sys, zipfile
names = zipfile.ZipFile(glob.glob(sys.argv[1] + "/ccbridge-*.whl")[0]).namelist()
missing = [n for n in ("ccbridge/py.typed", "ccbridge/_ccbridge.pyi", "ccbridge/websocket_server.py") if n not in names]
assert not missing and any(n.startswith("ccbridge/_ccbridge.") and n.endswith(".so") for n in names), missing
print("wheel ok:", len(names), "files", file=sys.stderr)
PY
# Run from tests/python so that the installed package, not the source tree, is imported.
cd tests/python
export CCB_FAKE_CLI="$fake"
# The MCP client's tests run the MCP test server, built next to the fake CLI.
export CCB_MCP_TEST_SERVER="${CCB_MCP_TEST_SERVER:-$(dirname "$fake")/ccb_mcp_test_server}"
"$py" -m pytest -q -p no:cacheprovider "$@" .
# The installed package type-checks strictly (py.typed and the extension's stub ship with it).
"$py" -m mypy --strict --no-incremental -p ccbridge
# The official SDK's own tests, rewritten to import ccbridge (sdist from PyPI, cached; see
# official/run.py): all pass but those official/expected.txt lists with their reasons.
"$py" official/run.py --report "$(dirname "$venv")/official-tests.json"
if [[ -n "${CCB_REAL_CLI:-}" ]]; then
  # realcli_examples.py runs the official SDK's examples from its sdist, fetched here (the namespace
  # has no network; the cache, kept across runs, is named explicitly: HOME changes inside).
  export CCB_OFFICIAL_SDK_CACHE="${CCB_OFFICIAL_SDK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ccbridge/official-sdk}"
  "$py" -c 'import realcli_examples; realcli_examples.fetch_sdist()'
  ../support/netns-run.sh ../support/with-mock-api.sh "$py" -m pytest -q -p no:cacheprovider realcli_python.py \
    realcli_examples.py
fi
