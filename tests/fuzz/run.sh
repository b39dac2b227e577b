#!/usr/bin/env bash
# Builds (if needed) and runs the libFuzzer targets of tests/fuzz (docs/RELIABILITY.md, "Fuzzing").
#
#   tests/fuzz/run.sh --seconds 10            each target for 10 s (the CI run, scripts/test)
#   tests/fuzz/run.sh --runs 2000000          each target for 2,000,000 executions (a long run)
#
# Options:
#   --seconds S | --runs N     how long each target runs (default: --seconds 20)
#   --targets "a b ..."        only these targets (default: all, see TARGETS below)
#   --parallel P               run up to P targets at once (default 1; the machine has 2 cores)
#   --build-dir DIR            default: build-fuzz (configured with clang if missing)
#   --no-build                 use the binaries as they are
#   --keep-corpus              keep what earlier runs found (DIR/corpus); default: start from the seeds
#
# Before fuzzing, every file in tests/fuzz/regressions/<target>/ is replayed (each one a crash
# found earlier and fixed). Fails on any crash, sanitizer report, leak, timeout (-timeout) or
# memory limit (-rss_limit_mb), and prints per target: executions, exec/s, coverage, findings.
# Needs clang and libFuzzer's runtime (Debian: clang libclang-rt-14-dev).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BUILD="$ROOT/build-fuzz"
SECONDS_PER=20
RUNS=""
PARALLEL=1
DO_BUILD=1
KEEP=0
TARGETS="fuzz_framer fuzz_control fuzz_options fuzz_json_depth fuzz_http_opcode fuzz_http_tasks_ui fuzz_http_sdk_ws fuzz_ws_opcode fuzz_ws_tasks_ui fuzz_ws_sdk_ws fuzz_ws_opcode_cli fuzz_ws_tasks_ui_cli fuzz_ws_sdk_ws_cli fuzz_ws_handshake"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) SECONDS_PER="$2"; RUNS=""; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --targets) TARGETS="$2"; shift 2 ;;
    --parallel) PARALLEL="$2"; shift 2 ;;
    --build-dir) BUILD="$(mkdir -p "$2" && cd "$2" && pwd)"; shift 2 ;;
    --no-build) DO_BUILD=0; shift ;;
    --keep-corpus) KEEP=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

START=$SECONDS
if [[ $DO_BUILD == 1 ]]; then
  mkdir -p "$BUILD"
  if [[ ! -f "$BUILD/build.ninja" ]]; then
    command -v clang++ >/dev/null || { echo "run.sh: clang++ not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }
    CC=clang CXX=clang++ cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCCB_BUILD_FUZZ=ON \
      -DCCB_BUILD_TESTS=OFF -DCCB_BUILD_EXAMPLES=OFF -DCCB_BUILD_APP=OFF -DCCB_BUILD_BENCH=OFF -DCCB_BUILD_CAPI=OFF \
      -DCCB_INSTALL=OFF >"$BUILD/configure.log" 2>&1 || { cat "$BUILD/configure.log"; exit 1; }
  fi
  # shellcheck disable=SC2086
  cmake --build "$BUILD" --target $TARGETS -- -j2 >"$BUILD/fuzz-build.log" 2>&1 || { tail -50 "$BUILD/fuzz-build.log"; exit 1; }
  echo "built in $((SECONDS - START)) s"
fi

BIN="$BUILD/tests/fuzz"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$HERE/ubsan.supp:${UBSAN_OPTIONS:-}"

# Seeds, rebuilt from the transcripts and the seed documents' protocols each time.
rm -rf "$BUILD/corpus-seed"
python3 "$HERE/make_corpus.py" "$BUILD/corpus-seed"
[[ $KEEP == 1 ]] || rm -rf "$BUILD/corpus"
mkdir -p "$BUILD/corpus" "$BUILD/artifacts" "$BUILD/logs"

settings() {  # target -> dictionary, max_len, timeout
  case "$1" in
    fuzz_framer|fuzz_control) echo "json 4096 20" ;;
    fuzz_options) echo "options 4096 20" ;;
    fuzz_json_depth) echo "json 1024 20" ;;
    fuzz_*_cli) echo "server 4096 60" ;;
    *) echo "server 8192 40" ;;
  esac
}

replay() {  # every regression input of a target, once each
  local t="$1" dir="$HERE/regressions/$1"
  [[ -d "$dir" ]] || return 0
  local files=("$dir"/*)
  [[ -e "${files[0]}" ]] || return 0
  if ! "$BIN/$t" -runs=1 "${files[@]}" >"$BUILD/logs/$t.regressions.log" 2>&1; then
    echo "FAIL $t: a regression input crashes again (see $BUILD/logs/$t.regressions.log)"
    tail -30 "$BUILD/logs/$t.regressions.log"
    return 1
  fi
  echo "ok   $t: ${#files[@]} regression input(s) replayed"
}

fuzz() {  # one target; writes $BUILD/logs/<t>.log and .status
  local t="$1" dict maxlen timeout
  read -r dict maxlen timeout <<<"$(settings "$t")"
  local corpus="$BUILD/corpus/$t" seeds="$BUILD/corpus-seed/$t" art="$BUILD/artifacts/$t/"
  mkdir -p "$corpus" "$seeds" "$art"
  local limit=(-max_total_time="$SECONDS_PER")
  [[ -n "$RUNS" ]] && limit=(-runs="$RUNS")
  local start=$SECONDS rc=0
  "$BIN/$t" "${limit[@]}" -timeout="$timeout" -rss_limit_mb=2560 -max_len="$maxlen" \
    -dict="$HERE/dict/$dict.dict" -print_final_stats=1 -artifact_prefix="$art" -close_fd_mask=1 \
    "$corpus" "$seeds" >"$BUILD/logs/$t.log" 2>&1 || rc=$?
  echo "$rc $((SECONDS - start))" >"$BUILD/logs/$t.status"
}

failed=0
for t in $TARGETS; do replay "$t" || failed=1; done

running=0
for t in $TARGETS; do
  fuzz "$t" &
  running=$((running + 1))
  if [[ $running -ge $PARALLEL ]]; then wait -n || true; running=$((running - 1)); fi
done
wait || true

printf '\n%-22s %12s %9s %7s %7s %8s %s\n' target executions exec/s cov ft seconds result
total=0
for t in $TARGETS; do
  log="$BUILD/logs/$t.log"
  read -r rc secs <"$BUILD/logs/$t.status"
  execs=$(grep -ao 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}' || true)
  rate=$(( ${execs:-0} / (secs > 0 ? secs : 1) ))
  cov=$(grep -aoE '^#[0-9]+.*cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 | sed -E 's/.*cov: ([0-9]+) ft: ([0-9]+)/\1 \2/' || true)
  execs=${execs:-0}; rate=${rate:-0}; cov=${cov:-"? ?"}
  total=$((total + execs))
  result=ok
  if [[ $rc != 0 ]]; then
    result="FAILED (exit $rc; see $log and ${BUILD}/artifacts/$t/)"
    failed=1
  fi
  # shellcheck disable=SC2086
  printf '%-22s %12s %9s %7s %7s %8s %s\n' "$t" "$execs" "$rate" $cov "$secs" "$result"
done
echo "total executions: $total; wall time $((SECONDS - START)) s"
if [[ $failed != 0 ]]; then
  for t in $TARGETS; do
    read -r rc _ <"$BUILD/logs/$t.status"
    [[ $rc == 0 ]] && continue
    echo "---- $t ----"
    grep -aE 'ERROR|CHECK FAILED|detail|SUMMARY|runtime error|Test unit written|timeout|out-of-memory' "$BUILD/logs/$t.log" | head -12 || true
  done
  exit 1
fi
