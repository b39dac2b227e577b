#!/usr/bin/env bash
# The cc-control (seed 004) benchmark: terminal output relayed by `ccbridge serve --profiles
# cc-control` from a PTY to 1 and to 100 /ws/client clients, against a raw PTY read loop on the same
# machine; then 1,000 sessions with 5 clients each (memory per session and per client, CPU per MB).
#   tests/bench/cc_control.sh [--quick|--smoke] [--rounds R] [--scale-rounds R] [--sessions S] [--tick-ms T]
#                             [--skip-scale] [--skip-relay] [--out FILE]
# Builds ccbridge, ccb_term_standin, ccb_pty_ceiling and ccb_cc_load (RelWithDebInfo, in
# CCB_BENCH_BUILD_DIR or build-bench), raises the open-file limit (the scale run holds about
# S x 9 descriptors), and runs tests/bench/cc_control_bench.py. The report (table, commit, date,
# machine, every round's values) goes to --out, by default
# docs/bench-results/<date>-cc-control-<commit>.md. Bounded: every run stops by itself.
#   --quick   1 round, smaller floods, 200 sessions
#   --smoke   1 round of everything at a tiny size (20 sessions), the report under the build dir
#             (tests/bench/common.sh); exits non-zero when a row has no value
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bench_args cc-control "$@"
set -- "${BENCH_REST[@]}"
ARGS=()
while (($#)); do
  case "$1" in
    --quick) ARGS+=(--rounds 1 --flood-bytes 50000000 --flood-bytes-100 5000000 --sessions 200 --window 5 --quiet 3) ;;
    --scale-rounds|--sessions|--tick-ms) ARGS+=("$1" "$2"); shift ;;
    --skip-scale|--skip-relay) ARGS+=("$1") ;;
    *) echo "cc_control.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if ((SMOKE)); then
  ARGS+=(--rounds 1 --scale-rounds 1 --flood-bytes 2000000 --flood-bytes-100 500000 --paced-lines 200 --sessions 20
         --per-session 2 --quiet 1 --window 2)
fi
[[ -z "$ROUNDS" ]] || ARGS+=(--rounds "$ROUNDS")
bench_build ccbridge_app ccb_term_standin ccb_pty_ceiling ccb_cc_load
ulimit -n "$(ulimit -Hn)"
exec python3 "$ROOT/tests/bench/cc_control_bench.py" --build "$BUILD" --out "$OUT" --cmdline "$CMDLINE" "${ARGS[@]}"
