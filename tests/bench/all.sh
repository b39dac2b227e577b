#!/usr/bin/env bash
# Every figure of docs/PERFORMANCE.md and docs/RELIABILITY.md, in one command: each benchmark at the
# sizes the docs quote, one after another (never two at once: they would measure each other), each
# writing its report with its provenance to docs/bench-results/<date>-<name>-<commit>.md.
#   tests/bench/all.sh [--only NAME[,NAME...]] [--skip NAME[,NAME...]] [--soak]
# NAMEs: core python gateway cc-control cc-agents platform platform-metrics platform-tools faults
# autobahn, and soak (the 10-minute soak of tests/load/run.sh, only with --soak or --only soak).
# A benchmark that fails is reported at the end and the others still run; the exit status is 1 then.
# About an hour on the 2-core machines, 10 minutes more with --soak. Run it on an otherwise idle
# machine: every report records the load average before and after.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
only="" skip="" soak=0
while (($#)); do
  case "$1" in
    --only) only=",$2,"; shift ;;
    --skip) skip=",$2,"; shift ;;
    --soak) soak=1 ;;
    --smoke) echo "all.sh: each benchmark it runs has its own --smoke (scripts/test runs them)" >&2; exit 0 ;;
    -h|--help) sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "all.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
commit=$(git rev-parse --short HEAD)
day=$(date -u +%F)

# name | command (the sizes docs/PERFORMANCE.md and docs/RELIABILITY.md quote)
benches=(
  "core|tests/bench/run.sh"
  "gateway|tests/bench/gateway.sh"
  "python|tests/bench/python.sh"  # (the package gateway.sh installed into the bench venv)
  "cc-control|tests/bench/cc_control.sh --rounds 3 --scale-rounds 1 --sessions 1000 --tick-ms 100"
  "cc-agents|tests/bench/cc_agents.sh --rounds 3"
  "platform|tests/bench/platform.sh --rounds 3"
  "platform-metrics|tests/bench/platform_metrics.sh --rounds 3"
  "platform-tools|tests/bench/platform_tools.sh --rounds 3"
  "faults|tests/bench/faults.sh --rounds 3"
  "autobahn|tests/server/autobahn/run.sh --out docs/bench-results/$day-autobahn-$commit.md build"
  "soak|tests/load/run.sh"
)
failed=()
start=$SECONDS
for b in "${benches[@]}"; do
  name=${b%%|*} cmd=${b#*|}
  if [[ -n "$only" ]]; then [[ "$only" == *",$name,"* ]] || continue
  elif [[ "$name" == soak ]] && ((!soak)); then continue
  fi
  [[ "$skip" == *",$name,"* ]] && continue
  echo "== $name: $cmd ($(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  t0=$SECONDS
  # shellcheck disable=SC2086  # the command's words
  if ! $cmd >"/tmp/ccb-bench-$name.log" 2>&1; then
    failed+=("$name")
    echo "== $name FAILED after $((SECONDS - t0)) s; the last lines of its output:" >&2
    tail -n 15 "/tmp/ccb-bench-$name.log" >&2
  else
    echo "== $name: $((SECONDS - t0)) s" >&2
  fi
done
echo "== all: $((SECONDS - start)) s; reports in docs/bench-results/ ($day, $commit)" >&2
if ((${#failed[@]})); then echo "== failed: ${failed[*]}" >&2; exit 1; fi
