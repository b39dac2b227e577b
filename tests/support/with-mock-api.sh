#!/usr/bin/env bash
# with-mock-api.sh CMD ARGS...: starts the offline mock of the Messages API on 127.0.0.1, runs CMD
# with the environment the real CLI needs to stay offline (scratch HOME, ANTHROPIC_BASE_URL on the
# mock, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1), and stops the mock afterwards.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/ccbridge-mock.XXXXXX")
# The mock exits when this script's pipe to it closes, whatever happens to us.
exec 3> >(exec python3 "$here/mock_anthropic.py" --host 127.0.0.1 --port 0 --exit-on-stdin-eof > "$scratch/mock.out")
for _ in $(seq 1 200); do
  [[ -s "$scratch/mock.out" ]] && break
  sleep 0.05
done
port=$(awk '/^PORT /{print $2; exit}' "$scratch/mock.out")
if [[ -z "$port" ]]; then
  echo "with-mock-api: the mock did not start" >&2
  exit 1
fi
mkdir -p "$scratch/home"
# The interactive UI (cc-control's terminals) asks first-run questions in a fresh HOME; these two
# are answered (onboarding, and the mock's key); "trust this folder?" is left to the person.
printf '{"hasCompletedOnboarding":true,"customApiKeyResponses":{"approved":["%s"],"rejected":[]}}\n' \
  "$(printf %s sk-mock | tail -c 20)" > "$scratch/home/.claude.json"
status=0
env HOME="$scratch/home" ANTHROPIC_BASE_URL="http://127.0.0.1:$port" ANTHROPIC_API_KEY=sk-mock \
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_TELEMETRY=1 DISABLE_AUTOUPDATER=1 \
    "$@" || status=$?
exec 3>&-
rm -rf "$scratch"
exit "$status"
