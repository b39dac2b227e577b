#!/bin/bash
# Runs the Autobahn|Testsuite fuzzing client (sections 1-10; 12-13 need permessage-deflate, which the
# gateway does not offer) against
#   1. the gateway's transport with an echo handler (ws_echo.cpp): every verdict means what Autobahn
#      says, as the suite expects an echo;
#   2. each profile's real WebSocket endpoint, served by `ccbridge serve` with the fake CLI
#      (sdk-ws /ws, tasks-ui /ws/claude, opcode /ws/claude/{id} of a run that stays open), sections
#      1-8 and 10. These endpoints do not echo and each sends a first frame of its own (sdk-ws
#      connection_established, tasks-ui its greeting, opcode the run's events), so Autobahn's own
#      verdicts fail most cases there. What is graded instead, per case:
#        - binary messages (1.2.x): closed with 1003 (the gateway refuses them by design);
#        - cases that send no text message (pings 2.x, reserved bits, opcodes and fragmentation
#          errors, invalid UTF-8, close handling: their expected outcomes hold no message): the
#          close verdict (code, which side failed the connection, cleanly) and the ping/pong
#          verdict, recomputed with the endpoint's own text frames left out;
#        - cases that send text (echo cases): only that the opening handshake completed. Their
#          message verdict is not graded (no echo comes) nor their close (an endpoint may close on
#          a message that is not its protocol: tasks-ui with 1008). Their bytes on the wire are still
#          the suite's, so a crash or a hang of the server fails the run (it must stop with exit 0).
#      Section 9 (large echoed messages, timed) is left out: with no echo each case waits up to
#      1,000 s for one.
# Not part of ctest: it needs Python 2.7 (autobahntestsuite is Python 2 only; under Python 3 it
# installs but fails at import: "No module named '_version'") and PyPI. scripts/test runs it when
# `run.sh --check` finds a Python 2.7 (python2.7 on PATH, or pyenv's; scripts/setup.sh --tests
# installs Debian's python2.7 where it is packaged, which Debian 12 does not), and says why not.
#
#   tests/server/autobahn/run.sh [--out FILE] [BUILD_DIR]
#       BUILD_DIR (default build) must hold lib/libccbridge*.a, ccbridge and tests/ccb_fake_cli;
#       --out writes the summary with the commit, date and machine (docs/bench-results/).
#   tests/server/autobahn/run.sh --check       exit 0 if a Python 2.7 is found, else 3 with the reason
#
# Reports: $CCB_AUTOBAHN_DIR (default ~/.cache/ccbridge/autobahn)/reports/<agent>/index.html, graded
# by grade.py.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../.." && pwd)

work=${CCB_AUTOBAHN_DIR:-$HOME/.cache/ccbridge/autobahn}
py2= why="no Python 2.7 on PATH nor under ~/.pyenv (Debian 12 does not package one)"
for c in python2.7 python2 "$HOME"/.pyenv/versions/2.7*/bin/python2.7; do
  if "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (2, 7))' 2>/dev/null; then
    if [ -d "$work/site/autobahntestsuite" ] || "$c" -m pip --version >/dev/null 2>&1; then py2=$c; break; fi
    why="$c has no pip to install autobahntestsuite with"
  fi
done
if [ -z "$py2" ]; then
  echo "autobahn: $why; autobahntestsuite needs Python 2.7" >&2
  exit 3
fi
if [[ "${1:-}" == "--check" ]]; then echo "$py2"; exit 0; fi
out=
if [[ "${1:-}" == "--out" ]]; then out=$(realpath -m "$2"); shift 2; fi

build=$(cd "${1:-$src/build}" && pwd)
mkdir -p "$work"
if [ ! -d "$work/site/autobahntestsuite" ]; then
  "$py2" -m pip install -q --target "$work/site" autobahntestsuite
fi

g++ -std=c++17 -O1 -DASIO_STANDALONE -DFMT_HEADER_ONLY=1 -DRAPIDJSON_HAS_STDSTRING=1 -D_WEBSOCKETPP_CPP11_STL_ \
  -I"$src/include" -I"$build/include" -I"$src/lib" "$here/ws_echo.cpp" -o "$work/ws_echo" \
  "$build/lib/libccbridge-server.a" "$build/lib/libccbridge.a" -lsqlite3 -lssl -lcrypto -lpthread

pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

wait_line() {  # wait_line FILE PATTERN: the line, within 10 s
  for _ in $(seq 100); do
    grep -m1 "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "no '$2' in $1 within 10 s" >&2
  return 1
}

port=$((20000 + RANDOM % 20000))
"$work/ws_echo" "$port" $((20 * 1024 * 1024)) > "$work/ws_echo.out" &
pids+=($!)
wait_line "$work/ws_echo.out" listening >/dev/null

# Two servers, as tests/server/test_ws_conformance.py has them: the fake CLI's default script
# (sdk-ws, tasks-ui) and a run that waits for ever (opcode: its socket stays open).
serve() {  # serve NAME SCRIPT: starts `ccbridge serve`; its port in port_NAME
  mkdir -p "$work/$1/root"
  CCB_FAKE_SCRIPT_TEXT="$2" "$build/ccbridge" serve --port 0 --root "$work/$1/root" --cli "$build/tests/ccb_fake_cli" \
    --pass-env 'CCB_*' --max-sessions 1000 --exit-wait-ms 1000 --term-wait-ms 1000 \
    > "$work/$1/stdout" 2> "$work/$1/server.log" &
  pids+=($!)
  local line
  line=$(wait_line "$work/$1/stdout" "listening on http://")
  printf -v "port_$1" '%s' "$(sed -E 's/.*:([0-9]+).*/\1/' <<<"$line")"
}
serve plain ""
serve hang $'wait_user\nemit {"type":"system","subtype":"init","session_id":"autobahn"}\nhang'
# shellcheck disable=SC2154  # port_plain, port_hang: set by serve
opcode_path=$(python3 - "$port_hang" "$work/hang/root" <<'PY'
import json, sys, urllib.request
body = json.dumps({"project_path": sys.argv[2], "prompt": "x"}).encode()
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/claude/execute", data=body,
                             headers={"Content-Type": "application/json"})
print(json.load(urllib.request.urlopen(req, timeout=10))["websocket_url"])
PY
)

rm -rf "$work/reports"
run_wstest() {  # run_wstest AGENT URL CASES...: one fuzzing client, its report in reports/AGENT
  local agent=$1 url=$2
  shift 2
  local cases
  cases=$(printf '"%s.*",' "$@")
  cat > "$work/$agent.json" <<JSON
{"outdir": "$work/reports/$agent", "servers": [{"agent": "$agent", "url": "$url"}],
 "cases": [${cases%,}], "exclude-cases": [], "exclude-agent-cases": {}}
JSON
  (cd "$work" && timeout 1200 "$py2" -c "import site, sys; site.addsitedir('$work/site'); from autobahntestsuite.wstest import run; sys.exit(run())" \
    -m fuzzingclient -s "$work/$agent.json" > "$work/$agent.log" 2>&1)
}
start=$SECONDS
# All four at once: against an endpoint that does not echo, most of the time is Autobahn waiting
# (a second per echo case), not work.
clients=()
run_wstest transport-echo "ws://127.0.0.1:$port/ws" 1 2 3 4 5 6 7 8 9 10 &
clients+=($!)
run_wstest sdk-ws "ws://127.0.0.1:$port_plain/ws" 1 2 3 4 5 6 7 8 10 &
clients+=($!)
run_wstest tasks-ui "ws://127.0.0.1:$port_plain/ws/claude" 1 2 3 4 5 6 7 8 10 &
clients+=($!)
run_wstest opcode "ws://127.0.0.1:$port_hang$opcode_path" 1 2 3 4 5 6 7 8 10 &
clients+=($!)
for c in "${clients[@]}"; do wait "$c"; done
wall=$((SECONDS - start))
echo "autobahn: fuzzing clients took $wall s"

# The servers must still be up, then stop cleanly.
for p in "${pids[@]}"; do kill -0 "$p" || { echo "autobahn: a server died during the run (see $work/*/server.log)" >&2; exit 1; }; done
for p in "${pids[@]:1}"; do
  kill -TERM "$p"
  exited() { [[ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null || true)" =~ ^(Z|)$ ]]; }  # gone, or a zombie
  for _ in $(seq 300); do exited && break; sleep 0.1; done  # 30 s at most
  exited || { echo "autobahn: ccbridge serve (pid $p) still running 30 s after SIGTERM" >&2; exit 1; }
  rc=0
  wait "$p" || rc=$?
  [ "$rc" = 0 ] || { echo "autobahn: ccbridge serve (pid $p) exited with $rc (see $work/*/server.log)" >&2; exit 1; }
done

summary=$(python3 "$here/grade.py" "$work/reports") || { echo "$summary"; exit 1; }
echo "$summary"
if [ -n "$out" ]; then
  {
    echo "# Autobahn|Testsuite against the gateway, $(date -u '+%Y-%m-%d %H:%M') UTC"
    echo
    echo "- Command: \`tests/server/autobahn/run.sh --out ${out#"$src"/}${1:+ $1}\`"
    echo "- Commit: $(git -C "$src" rev-parse --short HEAD) (\"$(git -C "$src" log -1 --format=%s | cut -c1-80)\")$(git -C "$src" diff --quiet HEAD || echo ', with uncommitted changes')"
    echo "- Machine: $(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), $(awk '/MemTotal/ {printf "%d GiB", $2 / 1048576 + 0.5}' /proc/meminfo), Linux $(uname -r)"
    echo "- autobahntestsuite $("$py2" -c "import site; site.addsitedir('$work/site'); from autobahntestsuite import __version__; print(__version__)"), $("$py2" --version 2>&1)"
    echo "- The four fuzzing clients, run at once, took $wall s"
    echo
    echo '```'
    echo "$summary"
    echo '```'
  } > "$out"
  echo "autobahn: results in $out"
fi
