#!/usr/bin/env bash
# Agents on many hosts (issue 15): 50 agents x 20 sessions on one cc-control control plane, 200
# attached clients (relay bytes/s, p99 latency from the agent's PTY read to the client,
# control-plane CPU and RSS), then a reconnect storm (every agent drops its connection at once):
# time to recover and what was lost.
#   tests/bench/cc_agents.sh [--quick|--smoke] [--rounds R] [--agents A] [--sessions S] [--clients M]
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
#   --smoke   1 round of 2 agents x 3 sessions, 4 clients, a 2 s window, the report under the build dir
#             (tests/bench/common.sh); exits non-zero when a row has no value or the round failed
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bench_args cc-agents "$@"
set -- "${BENCH_REST[@]}"
ARGS=()
while (($#)); do
  case "$1" in
    --quick) ARGS+=(--rounds 1 --window 5) ;;
    --agents|--sessions|--clients|--interval-ms|--chunk-bytes|--window|--down-ms|--max-messages-per-second)
      ARGS+=("$1" "$2"); shift ;;
    --original) ARGS+=(--original "$(realpath "$2")"); shift ;;
    --skip-ccbridge|--legacy|--state-in-memory) ARGS+=("$1") ;;
    *) echo "cc_agents.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
((SMOKE)) && ARGS+=(--rounds 1 --agents 2 --sessions 3 --clients 4 --warm 1 --window 2 --settle 1 --down-ms 200)
[[ -z "$ROUNDS" ]] || ARGS+=(--rounds "$ROUNDS")
bench_build ccbridge_app ccb_agent_load
ulimit -n "$(ulimit -Hn)"
exec python3 "$ROOT/tests/bench/cc_agents_bench.py" --build "$BUILD" --out "$OUT" --cmdline "$CMDLINE" "${ARGS[@]}"
