#!/usr/bin/env bash
# The figures of the gateway's fault injection (docs/RELIABILITY.md, "Fault injection (gateway)"):
# tests/server/test_faults.py run R times (default 3) with CCB_FAULT_FIGURES, which makes each test
# write what it measured (descriptors and RSS before and after, peak RSS, times, MB/s) as a JSON line.
#   tests/bench/faults.sh [--smoke] [--rounds R] [-k EXPR] [--out FILE]
# Builds ccbridge, ccb_fake_cli, ccb_fault_host, ccb_fixed_random and ccb_mcp_test_server
# (RelWithDebInfo, in CCB_BENCH_BUILD_DIR or build-bench; tests/bench/common.sh) and runs
# tests/bench/faults_bench.py with the test venv's Python. -k EXPR: only the tests pytest selects by
# it. The report (every figure per round, medians, commit, date, machine, load) goes to --out, by
# default docs/bench-results/<date>-faults-<commit>.md. Exits non-zero when a test fails.
#   --smoke   1 round of the tests that SIGKILL a host and of the 200 MB line (about 15 s), the
#             report under the build dir
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bench_args faults "$@"
set -- "${BENCH_REST[@]}"
SELECT=()
while (($#)); do
  case "$1" in
    -k) [[ -n "${2:-}" ]] || { echo "faults.sh: -k needs an expression" >&2; exit 2; }
        SELECT=(-k "$2"); shift ;;
    *) echo "faults.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if ((SMOKE)); then
  ((${#SELECT[@]})) || SELECT=(-k "sigkilled or 200_mb")
  : "${ROUNDS:=1}"
fi
bench_build ccbridge_app ccb_fake_cli ccb_fault_host ccb_fixed_random ccb_mcp_test_server
PY="$("$ROOT/tests/support/test-venv.sh")"
exec "$PY" "$ROOT/tests/bench/faults_bench.py" --build "$BUILD" --out "$OUT" --cmdline "$CMDLINE" \
  --rounds "${ROUNDS:-3}" "${SELECT[@]}"
