#!/usr/bin/env bash
# The gateway benchmark: ccbridge serve beside ccbridge's Python package (its seed-003 server both
# ways: all-native and server.app, the FastAPI app under uvicorn), a Python FastAPI/uvicorn server and
# a Node ws server implementing the same sdk-ws mapping over the official SDKs, on the same fake CLI,
# in one run.
#   tests/bench/gateway.sh [--quick | --smoke] [--rounds R] [--messages N] [--baseline COMMIT] [--skip-peers] [--out FILE]
# Builds ccbridge, ccb_fake_cli and ccb_ws_load (RelWithDebInfo, CCB_BENCH_BUILD_DIR or build-bench),
# installs the pinned peers (tests/bench/peers/setup.sh) and this tree's Python package into the
# peers' venv (`pip install '.[websocket]'`, as tests/python/run.sh does; the engine is built by
# scikit-build-core in build/<wheel tag>), runs tests/bench/gateway_bench.py. The report (table,
# command, commit, date, machine, every round's values) goes to --out, by default
# docs/bench-results/<date>-gateway-<commit>.md.
#   --baseline COMMIT  also build ccbridge at COMMIT (a detached worktree in <build>/baseline-src, built
#                      into <build>/baseline with the same flags; reused while it is at that commit) and
#                      measure it in the same run, its rounds interleaved with this tree's; the report
#                      gains a "this ÷ baseline" column. Both use this tree's fake CLI and load client.
#   --skip-peers       leave out the Python and Node servers and ccbridge's Python package (nothing
#                      installed); the report says so.
#   --smoke            one round at the smallest sizes that run every row (N = 2000, 10 clients), the
#                      report in <build>/bench/gateway-smoke.md unless --out says otherwise; for CI.
# Exits non-zero if a run failed or a check did not hold (gateway_bench.py: frames identical across
# servers, fan-out live and replay as labelled, the FastAPI peer on uvloop and httptools).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CMDLINE="tests/bench/gateway.sh${*:+ $*}"
ROUNDS=3
MESSAGES=100000
BASELINE=""
SKIP_PEERS=0
SMOKE=0
OUT=""
while (($#)); do
  case "$1" in
    --quick) ROUNDS=1; MESSAGES=20000 ;;
    --smoke) SMOKE=1; ROUNDS=1; MESSAGES=2000 ;;
    --rounds) ROUNDS="$2"; shift ;;
    --messages) MESSAGES="$2"; shift ;;
    --baseline) [[ -n "${2:-}" ]] || { echo "gateway.sh: --baseline needs a commit" >&2; exit 2; }
                BASELINE="$2"; shift ;;
    --skip-peers) SKIP_PEERS=1 ;;
    --out) [[ -n "${2:-}" ]] || { echo "gateway.sh: --out needs a file" >&2; exit 2; }
           OUT="$2"; shift ;;
    *) echo "gateway.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
BUILD="${CCB_BENCH_BUILD_DIR:-$ROOT/build-bench}"
CMAKE_FLAGS=(-G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCCB_BUILD_BENCH=ON -DCCB_REQUIRE_TEST_TOOLS=OFF)  # (see common.sh)
cmake -S "$ROOT" -B "$BUILD" "${CMAKE_FLAGS[@]}" >/dev/null
ninja -C "$BUILD" ccbridge_app ccb_fake_cli ccb_ws_load >&2
BUILD="$(cd "$BUILD" && pwd)"

# Builds ccbridge at commit $1 into $BUILD/baseline; prints the full hash.
build_baseline() {
  local sha src="$BUILD/baseline-src" out="$BUILD/baseline"
  sha="$(git -C "$ROOT" rev-parse --verify --quiet "$1^{commit}")" \
    || { echo "gateway.sh: --baseline $1 is not a commit" >&2; exit 2; }
  if [[ -f "$out/ccbridge" && "$(cat "$out/.ccb-baseline-commit" 2>/dev/null)" == "$sha" ]]; then
    echo "gateway.sh: baseline $sha already built in $out" >&2
  else
    if [[ -e "$src/.git" ]]; then
      git -C "$src" checkout --quiet --detach "$sha" >&2
    else
      # -f: the worktree may still be registered from a build dir that was deleted since.
      git -C "$ROOT" worktree add -f --detach "$src" "$sha" >&2
    fi
    rm -f "$out/.ccb-baseline-commit"
    cmake -S "$src" -B "$out" "${CMAKE_FLAGS[@]}" >/dev/null
    ninja -C "$out" ccbridge_app >&2
    echo "$sha" >"$out/.ccb-baseline-commit"
  fi
  echo "$sha"
}

if [[ -z "$OUT" ]] && ((SMOKE)); then
  OUT="$BUILD/bench/gateway-smoke.md"
elif [[ -z "$OUT" ]]; then
  OUT="$ROOT/docs/bench-results/$(date -u +%Y-%m-%d)-gateway-$(git -C "$ROOT" rev-parse --short HEAD).md"
fi
ARGS=(--build "$BUILD" --rounds "$ROUNDS" --messages "$MESSAGES" --out "$OUT" --cmdline "$CMDLINE")
((SMOKE)) && ARGS+=(--smoke)
if [[ -n "$BASELINE" ]]; then
  SHA="$(build_baseline "$BASELINE")"
  ARGS+=(--baseline-build "$BUILD/baseline" --baseline-label "$(git -C "$ROOT" rev-parse --short "$SHA")")
fi
if ((SKIP_PEERS)); then
  PYTHON=python3
  ARGS+=(--skip-peers)
else
  SETUP_OUT="$(bash "$ROOT/tests/bench/peers/setup.sh")"
  PYTHON="$(sed -n 's/^venv=//p' <<<"$SETUP_OUT")/bin/python"
  ARGS+=(--node-prefix "$(sed -n 's/^node=//p' <<<"$SETUP_OUT")")
  # pip rebuilds and reinstalls a local directory every time (incrementally, in build/<wheel tag>).
  echo "gateway.sh: pip install '.[websocket]' (this tree's Python package) into $(dirname "$(dirname "$PYTHON")")" >&2
  (cd "$ROOT" && "$PYTHON" -m pip install --quiet --disable-pip-version-check '.[websocket]') >&2
fi
mkdir -p "$BUILD/bench"
exec "$PYTHON" "$ROOT/tests/bench/gateway_bench.py" "${ARGS[@]}"
