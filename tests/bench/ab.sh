#!/usr/bin/env bash
# A/B: one benchmark, its rounds interleaved, against the builds of two commits.
#   tests/bench/ab.sh OLD NEW [--rounds R] [--out FILE] -- BENCH [ARGS...]
#   tests/bench/ab.sh --smoke
# BENCH is a script of this tree built on tests/bench/common.sh (cc_control.sh, cc_agents.sh,
# platform.sh, platform_metrics.sh, platform_tools.sh), or run.sh --ccbridge-only. ab.sh asks it which targets it builds, builds
# them at OLD and at NEW (common.sh bench_build_commit: detached worktrees in
# ${CCB_CACHE_DIR:-~/.cache/ccbridge}/ab/<commit>, each built into its own build/, RelWithDebInfo,
# ccache), then runs `BENCH ARGS --rounds 1` R times for each commit (default 5), OLD and NEW taking
# turns to go first, with CCB_BENCH_SUT_DIR set to that commit's build: what is measured (ccbridge,
# and the bench programs linked with the library) is the commit's, the harness (fake CLI, stand-in
# terminal, load clients, the driver) is this tree's for both, as `gateway.sh --baseline` does.
# The report (both commits, every figure's per-round values, the medians, NEW ÷ OLD of the medians
# and the range of the per-round ratios, command, date, machine, load) goes to --out, by default
# docs/bench-results/<date>-ab-<bench>-<old>-<new>.md, its figures beside it (.json); each run's own
# report stays in the cache (named in the report). Exits non-zero when a run failed.
#   --smoke   HEAD against HEAD, one round of `cc_agents.sh --smoke`; the worktree, its build and
#             the reports under the build dir (CCB_BENCH_BUILD_DIR, default build-bench), one place reused
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
usage() { echo "usage: tests/bench/ab.sh OLD NEW [--rounds R] [--out FILE] -- BENCH [ARGS...] | --smoke" >&2; exit 2; }
CMDLINE_AB="tests/bench/ab.sh${*:+ $*}"
ROUNDS_AB=5
OUT_AB=""
SIDES=()
CACHE="${CCB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ccbridge}/ab"
SMOKE_DIR=""
if [[ "${1:-}" == --smoke ]]; then
  (($# == 1)) || usage
  SIDES=(HEAD HEAD)
  ROUNDS_AB=1
  SMOKE_DIR="$(realpath -m "${CCB_BENCH_BUILD_DIR:-$ROOT/build-bench}")/bench-smoke"
  OUT_AB="$SMOKE_DIR/ab.md"
  set -- -- "$ROOT/tests/bench/cc_agents.sh" --smoke
fi
# Where a commit is built: by its hash in the cache (kept for the next A/B of it); a smoke reuses one place.
src_dir() { if [[ -n "$SMOKE_DIR" ]]; then echo "$SMOKE_DIR/ab-src"; else echo "$CACHE/$1"; fi; }
while (($#)); do
  case "$1" in
    --rounds) [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || usage; ROUNDS_AB="$2"; shift ;;
    --out) [[ -n "${2:-}" ]] || usage; OUT_AB="$(realpath -m "$2")"; shift ;;
    --) shift; break ;;
    -*) usage ;;
    *) SIDES+=("$1") ;;
  esac
  shift
done
((${#SIDES[@]} == 2 && $# >= 1)) || usage
BENCH="$(realpath "$1")"
shift
BENCH_ARGS=("$@")
NAME="$(basename "$BENCH" .sh)"

# Only a script that answers CCB_BENCH_LIST_TARGETS (those on common.sh, and run.sh); another
# would run in full here.
grep -q -e '^source .*/common.sh"$' -e 'CCB_BENCH_LIST_TARGETS' "$BENCH" ||
  { echo "ab.sh: $BENCH does not answer CCB_BENCH_LIST_TARGETS (tests/bench/common.sh)" >&2; exit 2; }
TARGETS="$(CCB_BENCH_LIST_TARGETS=1 "$BENCH" "${BENCH_ARGS[@]}")" || { echo "ab.sh: $BENCH cannot say what to build" >&2; exit 2; }
read -r -a TARGETS <<<"$TARGETS"
SHAS=()
for side in "${SIDES[@]}"; do
  sha="$(git -C "$ROOT" rev-parse --verify --quiet "$side^{commit}")" || { echo "ab.sh: $side is not a commit" >&2; exit 2; }
  if [[ ${#SHAS[@]} -eq 0 || "${SHAS[0]}" != "$sha" ]]; then
    echo "ab.sh: building ${TARGETS[*]} at ${sha:0:7} in $(src_dir "$sha")" >&2
    bench_build_commit "$sha" "$(src_dir "$sha")" "${TARGETS[@]}" >/dev/null
  fi
  SHAS+=("$sha")
done
OLD="${SHAS[0]}"
NEW="${SHAS[1]}"
if [[ -z "$OUT_AB" ]]; then
  OUT_AB="$ROOT/docs/bench-results/$(date -u +%Y-%m-%d)-ab-$NAME-${OLD:0:7}-${NEW:0:7}.md"
fi
RUNS="$CACHE/runs/$(date -u +%Y%m%d-%H%M%S)-$NAME"
[[ -z "$SMOKE_DIR" ]] || RUNS="$SMOKE_DIR/ab-runs"
mkdir -p "$RUNS"

# Round r: OLD then NEW when r is odd, NEW then OLD when it is even. A failed run is recorded, not fatal.
RESULTS=()
for ((r = 1; r <= ROUNDS_AB; r++)); do
  order=(old new)
  ((r % 2)) || order=(new old)
  for side in "${order[@]}"; do
    if [[ $side == old ]]; then sha=$OLD; else sha=$NEW; fi
    out="$RUNS/round$r-$side.md"
    echo "ab.sh: round $r/$ROUNDS_AB, $side (${sha:0:7})" >&2
    rc=0
    CCB_BENCH_SUT_DIR="$(src_dir "$sha")/build" CCB_BENCH_SUT_COMMIT="${sha:0:7}" \
      "$BENCH" "${BENCH_ARGS[@]}" --rounds 1 --out "$out" >/dev/null || rc=$?
    RESULTS+=("$side:$r:$rc:${out%.md}.json")
  done
done
exec python3 "$ROOT/tests/bench/ab_report.py" --out "$OUT_AB" --cmdline "$CMDLINE_AB" --bench "$NAME" \
  --old "$OLD" --new "$NEW" --runs-dir "$RUNS" "${RESULTS[@]}"
