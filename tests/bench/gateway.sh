#!/usr/bin/env bash
# The gateway benchmark: ccbridge serve beside a Python FastAPI/uvicorn server and a Node ws server
# implementing the same sdk-ws mapping over the official SDKs, on the same fake CLI, in one run.
#   tests/bench/gateway.sh [--quick] [--rounds R] [--messages N]
# Builds ccbridge, ccb_fake_cli and ccb_ws_load (RelWithDebInfo, CCB_BENCH_BUILD_DIR or build-bench),
# installs the pinned peers (tests/bench/peers/setup.sh), runs tests/bench/gateway_bench.py.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CMDLINE="tests/bench/gateway.sh${*:+ $*}"
ROUNDS=3
MESSAGES=100000
while (($#)); do
  case "$1" in
    --quick) ROUNDS=1; MESSAGES=20000 ;;
    --rounds) ROUNDS="$2"; shift ;;
    --messages) MESSAGES="$2"; shift ;;
    *) echo "gateway.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
BUILD="${CCB_BENCH_BUILD_DIR:-$ROOT/build-bench}"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCCB_BUILD_BENCH=ON >/dev/null
ninja -C "$BUILD" ccbridge_app ccb_fake_cli ccb_ws_load >&2
SETUP_OUT="$(bash "$ROOT/tests/bench/peers/setup.sh")"
VENV="$(sed -n 's/^venv=//p' <<<"$SETUP_OUT")"
NODE_PREFIX="$(sed -n 's/^node=//p' <<<"$SETUP_OUT")"
mkdir -p "$BUILD/bench"
exec "$VENV/bin/python" "$ROOT/tests/bench/gateway_bench.py" --build "$BUILD" --node-prefix "$NODE_PREFIX" \
  --rounds "$ROUNDS" --messages "$MESSAGES" --out "$BUILD/bench/gateway.md" --cmdline "$CMDLINE"
