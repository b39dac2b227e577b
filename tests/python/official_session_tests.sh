#!/usr/bin/env bash
# Runs the official SDK's session-history tests (tests/test_sessions.py and
# tests/test_session_mutations.py of an unpacked claude-agent-sdk sdist) against ccbridge, from a
# temporary copy: `from claude_agent_sdk import` becomes `from ccbridge import`, and the imports
# of its private modules (claude_agent_sdk._internal.*) come from a stand-in whose helpers skip
# the test that calls them ("not applicable"), except _sanitize_path (fixtures name project
# directories with it: ccbridge's public project_key_for_directory) and get_session_messages.
# TestHelpers::test_sanitize_path_basic tests that private helper on a relative path and is
# deselected. Nothing of the SDK is committed here.
#   tests/python/official_session_tests.sh SDK_DIR [pytest args...]
# with ccbridge importable (installed, or PYTHONPATH=<build>/bindings/python).
set -euo pipefail
sdk=${1:?usage: $0 SDK_DIR [pytest args...]}
shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$sdk/tests/test_sessions.py" "$sdk/tests/test_session_mutations.py" "$work/"
sed -i -E -e 's/^from claude_agent_sdk import/from ccbridge import/' \
  -e 's/^from claude_agent_sdk\._internal\.[a-z_]+ import/from _sdk_private import/' \
  "$work/test_sessions.py" "$work/test_session_mutations.py"
if grep -n "claude_agent_sdk" "$work"/test_*.py; then
  echo "official_session_tests.sh: imports left that the rewrite does not know" >&2
  exit 1
fi
cat > "$work/_sdk_private.py" <<'PY'
"""Stand-ins for the official SDK's private helpers that its session tests import."""
import pytest

import ccbridge

_sanitize_path = ccbridge.project_key_for_directory
get_session_messages = ccbridge.get_session_messages


def __getattr__(name):
    def private(*args, **kwargs):
        pytest.skip(f"not applicable: calls the official SDK's private {name}")

    return private
PY
cd "$work"
PYTHONPATH="$work${PYTHONPATH:+:$PYTHONPATH}" python -m pytest -p no:cacheprovider -rs \
  --deselect test_sessions.py::TestHelpers::test_sanitize_path_basic \
  test_sessions.py test_session_mutations.py "$@"
