#!/bin/bash
# Runs the Autobahn|Testsuite fuzzing client (sections 1-10) against the gateway's transport with an
# echo handler (ws_echo.cpp). Not part of ctest: it needs Python 2.7 (autobahntestsuite is Python 2
# only; under Python 3 it installs but fails at import: "No module named '_version'") and PyPI.
#
#   tests/server/autobahn/run.sh [BUILD_DIR]      (default: build; must hold lib/libccbridge*.a)
#
# Passes when every case is OK, NON-STRICT or INFORMATIONAL, except binary messages (1.2.x, 9.2.x,
# 9.4.x, 9.6.x, 9.8.x), which the gateway refuses by design: those must be closed with 1003.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
work=${CCB_AUTOBAHN_DIR:-$HOME/.cache/ccbridge/autobahn}
mkdir -p "$work"

py2=
for c in python2.7 "$HOME"/.pyenv/versions/2.7*/bin/python2.7; do
  if "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (2, 7))' 2>/dev/null; then py2=$c; break; fi
done
[ -n "$py2" ] || { echo "no Python 2.7 found (autobahntestsuite needs it)" >&2; exit 2; }
if [ ! -d "$work/site/autobahntestsuite" ]; then
  "$py2" -m pip install -q --target "$work/site" autobahntestsuite
fi

g++ -std=c++17 -O1 -DASIO_STANDALONE -DFMT_HEADER_ONLY=1 -DRAPIDJSON_HAS_STDSTRING=1 -D_WEBSOCKETPP_CPP11_STL_ \
  -I"$src/include" -I"$build/include" -I"$src/lib" "$here/ws_echo.cpp" -o "$work/ws_echo" \
  "$build/lib/libccbridge-server.a" "$build/lib/libccbridge.a" -lsqlite3 -lssl -lcrypto -lpthread

port=$((20000 + RANDOM % 20000))
"$work/ws_echo" "$port" $((20 * 1024 * 1024)) > "$work/ws_echo.out" &
echo_pid=$!
trap 'kill $echo_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q listening "$work/ws_echo.out" && break; sleep 0.1; done

rm -rf "$work/reports"
cat > "$work/fuzzingclient.json" <<JSON
{"outdir": "$work/reports", "servers": [{"agent": "ccbridge-transport", "url": "ws://127.0.0.1:$port/ws"}],
 "cases": ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "8.*", "9.*", "10.*"], "exclude-cases": [], "exclude-agent-cases": {}}
JSON
(cd "$work" && timeout 900 "$py2" -c "import site, sys; site.addsitedir('$work/site'); from autobahntestsuite.wstest import run; sys.exit(run())" \
  -m fuzzingclient -s "$work/fuzzingclient.json" > "$work/wstest.log" 2>&1)

python3 - "$work/reports" <<'PY'
import glob, json, os, sys
binary = ("1.2.", "9.2.", "9.4.", "9.6.", "9.8.")
ok = bad = 0
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*_case_*.json"))):
    d = json.load(open(f))
    case, b, bc = d["id"], d["behavior"], d["behaviorClose"]
    if case.startswith(binary):
        good = d["remoteCloseCode"] == 1003
    else:
        good = b in ("OK", "NON-STRICT", "INFORMATIONAL") and bc in ("OK", "INFORMATIONAL")
    ok += good
    bad += not good
    if not good:
        print(f"FAILED {case}: {b}/{bc} close {d['remoteCloseCode']} {d['remoteCloseReason']}: {d['result']}")
print(f"autobahn: {ok} passed, {bad} failed")
sys.exit(1 if bad or not ok else 0)
PY
