#!/usr/bin/env bash
# Agent platform (issue 16, profile "platform", seed 001) on the fake CLI: task submit -> task:progress
# latency (what ccbridge adds over the CLI's first line), load (1,000 sessions, 100 chat WebSockets,
# 10 tasks/s: throughput, p99, RSS), and auth on one core (logins/s at scrypt cost 15 and 10,
# authenticated GET /v1/agents/s, JWT verify/s).
#   tests/bench/platform.sh [--quick|--smoke] [--rounds R] [--tasks N] [--sessions S] [--clients C] [--rate T]
#                           [--window W] [--users U] [--auth-seconds A] [--skip latency,load,auth] [--out FILE]
# Builds ccbridge, ccb_fake_cli and ccb_platform_jwt (RelWithDebInfo, in CCB_BENCH_BUILD_DIR or
# build-bench) and runs tests/bench/platform_bench.py with the test venv's Python (it needs
# websockets). Loopback only; every wait has a deadline. The report (commit, date, machine,
# per-round values, medians) goes to --out, by default docs/bench-results/<date>-platform-<commit>.md.
#   --quick   1 round, 100 tasks, a 10 s load window, 5 s per auth figure
#   --smoke   1 round of every part at a tiny size (10 tasks, 10 sessions, 5 sockets, 1 s per auth figure),
#             the report under the build dir (tests/bench/common.sh); exits non-zero when a row has no value
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bench_args platform "$@"
set -- "${BENCH_REST[@]}"
ARGS=()
while (($#)); do
  case "$1" in
    --quick) ARGS+=(--rounds 1 --tasks 100 --window 10 --auth-seconds 5) ;;
    --tasks|--sessions|--clients|--rate|--window|--users|--auth-seconds|--skip) ARGS+=("$1" "$2"); shift ;;
    *) echo "platform.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if ((SMOKE)); then
  ARGS+=(--rounds 1 --tasks 10 --sessions 10 --clients 5 --window 3 --users 2 --auth-seconds 1 --max-logins 5
         --login-clients 2 --get-clients 2)
fi
[[ -z "$ROUNDS" ]] || ARGS+=(--rounds "$ROUNDS")
bench_build ccbridge_app ccb_fake_cli ccb_platform_jwt
ulimit -n "$(ulimit -Hn)"
PY="$("$ROOT/tests/support/test-venv.sh")"
exec "$PY" "$ROOT/tests/bench/platform_bench.py" --build "$BUILD" --out "$OUT" --cmdline "$CMDLINE" "${ARGS[@]}"
