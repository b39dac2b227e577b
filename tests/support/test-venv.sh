#!/usr/bin/env bash
# Creates (once) the Python virtual environment the protocol tests run in, with pinned packages
# from PyPI, and prints its python. Cached in ${CCB_CACHE_DIR:-~/.cache/ccbridge}/test-venv.
set -euo pipefail
CACHE="${CCB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ccbridge}"
VENV="$CACHE/test-venv"
PINS=(websockets==15.0.1 pytest==8.3.5 schemathesis==4.10.2 hypothesis==6.150.0)
stamp="$VENV/.ccbridge-pins"
if [[ ! -x "$VENV/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "${PINS[*]}" ]]; then
  echo "test-venv: installing ${PINS[*]} into $VENV" >&2
  mkdir -p "$CACHE"
  python3 -m venv "$VENV" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}" >&2
  echo "${PINS[*]}" >"$stamp"
fi
echo "$VENV/bin/python"
