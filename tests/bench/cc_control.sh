#!/usr/bin/env bash
# The cc-control (seed 004) benchmark: terminal output relayed by `ccbridge serve --profiles
# cc-control` from a PTY to 1 and to 100 /ws/client clients, against a raw PTY read loop on the same
# machine; then 1,000 sessions with 5 clients each (memory per session and per client, CPU per MB).
#   tests/bench/cc_control.sh [--quick] [--rounds R] [--scale-rounds R] [--sessions S] [--tick-ms T] [--skip-scale]
#                             [--skip-relay] [--out FILE]
# Builds ccbridge, ccb_term_standin, ccb_pty_ceiling and ccb_cc_load (RelWithDebInfo, in
# CCB_BENCH_BUILD_DIR or build-bench), raises the open-file limit (the scale run holds about
# S x 9 descriptors), and runs tests/bench/cc_control_bench.py. The report (table, commit, date,
# machine, every round's values) goes to --out, by default
# docs/bench-results/<date>-cc-control-<commit>.md. Bounded: every run stops by itself.
#   --quick   1 round, smaller floods, 200 sessions
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CMDLINE="tests/bench/cc_control.sh${*:+ $*}"
ARGS=()
OUT=""
while (($#)); do
  case "$1" in
    --quick) ARGS+=(--rounds 1 --flood-bytes 50000000 --flood-bytes-100 5000000 --sessions 200 --window 5 --quiet 3) ;;
    --rounds|--scale-rounds|--sessions|--tick-ms) ARGS+=("$1" "$2"); shift ;;
    --skip-scale|--skip-relay) ARGS+=("$1") ;;
    --out) OUT="$2"; shift ;;
    *) echo "cc_control.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
BUILD="${CCB_BENCH_BUILD_DIR:-$ROOT/build-bench}"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCCB_BUILD_BENCH=ON >/dev/null
ninja -C "$BUILD" ccbridge_app ccb_term_standin ccb_pty_ceiling ccb_cc_load >&2
if [[ -z "$OUT" ]]; then
  OUT="$ROOT/docs/bench-results/$(date -u +%Y-%m-%d)-cc-control-$(git -C "$ROOT" rev-parse --short HEAD).md"
fi
ulimit -n "$(ulimit -Hn)"
exec python3 "$ROOT/tests/bench/cc_control_bench.py" --build "$BUILD" --out "$OUT" --cmdline "$CMDLINE" "${ARGS[@]}"
