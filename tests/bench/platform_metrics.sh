#!/usr/bin/env bash
# Agent platform (issue 17): GET /v1/monitoring/metrics over 30 days of minute samples.
#   tests/bench/platform_metrics.sh [--smoke] [--rounds R] [--requests N] [--days D] [--out FILE]
# Builds ccbridge and ccb_platform_metrics_seed (RelWithDebInfo, in CCB_BENCH_BUILD_DIR or
# build-bench), seeds a fresh database with D days (30) of per-minute samples of every metric
# (rolled up and pruned as the server does: minute rows 48 h, hour rows 35 days, day rows), then
# starts `ccbridge serve --profiles platform` on it and times N requests (50) per time range and
# granularity, R rounds (5). Loopback only. The report (commit, date, machine, per-round medians,
# store size) goes to --out, by default docs/bench-results/<date>-platform-metrics-<commit>.md.
#   --smoke   1 round of 3 requests per row over 2 days, the report under the build dir
#             (tests/bench/common.sh); exits non-zero when a row has no value
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bench_args platform-metrics "$@"
set -- "${BENCH_REST[@]}"
ARGS=()
while (($#)); do
  case "$1" in
    --requests|--days) ARGS+=("$1" "$2"); shift ;;
    *) echo "platform_metrics.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
((SMOKE)) && ARGS+=(--rounds 1 --requests 3 --days 2)
[[ -z "$ROUNDS" ]] || ARGS+=(--rounds "$ROUNDS")
bench_build ccbridge_app ccb_platform_metrics_seed
exec python3 "$ROOT/tests/bench/platform_metrics_bench.py" --build "$BUILD" --out "$OUT" --cmdline "$CMDLINE" "${ARGS[@]}"
