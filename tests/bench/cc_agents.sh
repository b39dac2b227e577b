#!/usr/bin/env bash
# Agents on many hosts (issue 15): 50 agents x 20 sessions on one cc-control control plane, 200
# attached clients (relay bytes/s, p99 latency from the agent's PTY read to the client,
# control-plane CPU and RSS), then a reconnect storm (every agent drops its connection at once):
# time to recover and what was lost.
#   tests/bench/cc_agents.sh [--quick] [--rounds R] [--agents A] [--sessions S] [--clients M]
#                            [--interval-ms I] [--chunk-bytes B] [--window W] [--down-ms D]
#                            [--original BIN] [--skip-ccbridge] [--legacy] [--state-in-memory]
#                            [--max-messages-per-second N] [--out FILE]
# Builds ccbridge and ccb_agent_load (RelWithDebInfo, in CCB_BENCH_BUILD_DIR or build-bench) and
# runs tests/bench/cc_agents_bench.py: a fresh control plane per round, on loopback. --original
# BIN runs the original Go cc-control too, round by round (build it yourself from its public
# source; docs/PERFORMANCE.md). --legacy: the agents behave as the original cc-agent (no replay).
# --state-in-memory: ccbridge with --token-db :memory:, so without its state file and its flush.
# --max-messages-per-second N: ccbridge's per-connection pacing, which /ws/agent connections get too.
# The report (commit, date, machine, per-round values, medians) goes to --out, by default
# docs/bench-results/<date>-cc-agents-<commit>.md. Bounded: every wait has a deadline.
#   --quick   1 round, a 5 s window
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CMDLINE="tests/bench/cc_agents.sh${*:+ $*}"
ARGS=()
OUT=""
while (($#)); do
  case "$1" in
    --quick) ARGS+=(--rounds 1 --window 5) ;;
    --rounds|--agents|--sessions|--clients|--interval-ms|--chunk-bytes|--window|--down-ms|--max-messages-per-second)
      ARGS+=("$1" "$2"); shift ;;
    --original) ARGS+=(--original "$(realpath "$2")"); shift ;;
    --skip-ccbridge|--legacy|--state-in-memory) ARGS+=("$1") ;;
    --out) OUT="$2"; shift ;;
    *) echo "cc_agents.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
BUILD="${CCB_BENCH_BUILD_DIR:-$ROOT/build-bench}"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCCB_BUILD_BENCH=ON >/dev/null
ninja -C "$BUILD" ccbridge_app ccb_agent_load >&2
if [[ -z "$OUT" ]]; then
  OUT="$ROOT/docs/bench-results/$(date -u +%Y-%m-%d)-cc-agents-$(git -C "$ROOT" rev-parse --short HEAD).md"
fi
ulimit -n "$(ulimit -Hn)"
exec python3 "$ROOT/tests/bench/cc_agents_bench.py" --build "$BUILD" --out "$OUT" --cmdline "$CMDLINE" "${ARGS[@]}"
