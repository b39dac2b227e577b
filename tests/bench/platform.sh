#!/usr/bin/env bash
# Agent platform (issue 16, profile "platform", seed 001) on the fake CLI: task submit -> task:progress
# latency (what ccbridge adds over the CLI's first line), load (1,000 sessions, 100 chat WebSockets,
# 10 tasks/s: throughput, p99, RSS), and auth on one core (logins/s at scrypt cost 15 and 10,
# authenticated GET /v1/agents/s, JWT verify/s).
#   tests/bench/platform.sh [--quick] [--rounds R] [--tasks N] [--sessions S] [--clients C] [--rate T]
#                           [--window W] [--users U] [--auth-seconds A] [--skip latency,load,auth] [--out FILE]
# Builds ccbridge, ccb_fake_cli and ccb_platform_jwt (RelWithDebInfo, in CCB_BENCH_BUILD_DIR or
# build-bench) and runs tests/bench/platform_bench.py with the test venv's Python (it needs
# websockets). Loopback only; every wait has a deadline. The report (commit, date, machine,
# per-round values, medians) goes to --out, by default docs/bench-results/<date>-platform-<commit>.md.
#   --quick   1 round, 100 tasks, a 10 s load window, 5 s per auth figure
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CMDLINE="tests/bench/platform.sh${*:+ $*}"
ARGS=()
OUT=""
while (($#)); do
  case "$1" in
    --quick) ARGS+=(--rounds 1 --tasks 100 --window 10 --auth-seconds 5) ;;
    --rounds|--tasks|--sessions|--clients|--rate|--window|--users|--auth-seconds|--skip) ARGS+=("$1" "$2"); shift ;;
    --out) OUT="$2"; shift ;;
    *) echo "platform.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
BUILD="${CCB_BENCH_BUILD_DIR:-$ROOT/build-bench}"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCCB_BUILD_BENCH=ON >/dev/null
ninja -C "$BUILD" ccbridge_app ccb_fake_cli ccb_platform_jwt >&2
if [[ -z "$OUT" ]]; then
  OUT="$ROOT/docs/bench-results/$(date -u +%Y-%m-%d)-platform-$(git -C "$ROOT" rev-parse --short HEAD).md"
fi
ulimit -n "$(ulimit -Hn)"
PY="$("$ROOT/tests/support/test-venv.sh")"
exec "$PY" "$ROOT/tests/bench/platform_bench.py" --build "$BUILD" --out "$OUT" --cmdline "$CMDLINE" "${ARGS[@]}"
