#!/usr/bin/env bash
# Agent platform (issue 17): GET /v1/monitoring/metrics over 30 days of minute samples.
#   tests/bench/platform_metrics.sh [--rounds R] [--requests N] [--days D] [--out FILE]
# Builds ccbridge and ccb_platform_metrics_seed (RelWithDebInfo, in CCB_BENCH_BUILD_DIR or
# build-bench), seeds a fresh database with D days (30) of per-minute samples of every metric
# (rolled up and pruned as the server does: minute rows 48 h, hour rows 35 days, day rows), then
# starts `ccbridge serve --profiles platform` on it and times N requests (50) per time range and
# granularity, R rounds (5). Loopback only. The report (commit, date, machine, per-round medians,
# store size) goes to --out, by default docs/bench-results/<date>-platform-metrics-<commit>.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CMDLINE="tests/bench/platform_metrics.sh${*:+ $*}"
ARGS=()
OUT=""
while (($#)); do
  case "$1" in
    --rounds|--requests|--days) ARGS+=("$1" "$2"); shift ;;
    --out) OUT="$2"; shift ;;
    *) echo "platform_metrics.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
BUILD="${CCB_BENCH_BUILD_DIR:-$ROOT/build-bench}"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCCB_BUILD_BENCH=ON >/dev/null
ninja -C "$BUILD" ccbridge_app ccb_platform_metrics_seed >&2
if [[ -z "$OUT" ]]; then
  OUT="$ROOT/docs/bench-results/$(date -u +%Y-%m-%d)-platform-metrics-$(git -C "$ROOT" rev-parse --short HEAD).md"
fi
exec python3 "$ROOT/tests/bench/platform_metrics_bench.py" --build "$BUILD" --out "$OUT" --cmdline "$CMDLINE" "${ARGS[@]}"
