# Sourced by the benchmark scripts (tests/bench/*.sh): the options every one takes, its build, where
# its report goes.
#   bench_args NAME "$@"   takes --rounds R, --out FILE and --smoke out of the arguments and leaves the
#                          others in BENCH_REST, for the script. Sets ROOT, CMDLINE, ROUNDS ("": the
#                          script's default), SMOKE (0/1), BUILD and OUT: by default
#                          docs/bench-results/<date>-NAME-<commit>.md; with --smoke
#                          <build>/bench-smoke/NAME.md (a smoke never writes to docs/).
#   bench_build TARGET...  configures BUILD (RelWithDebInfo, CCB_BUILD_BENCH=ON) and builds the targets;
#                          with CCB_BENCH_LIST_TARGETS=1 it prints them and exits instead (tests/bench/ab.sh
#                          asks a benchmark what to build at another commit this way).
#   bench_build_commit COMMIT DIR TARGET...
#                          a detached worktree of COMMIT in DIR (kept, moved when COMMIT changes), built
#                          into DIR/build with the same flags; targets the commit lacks are left out (named
#                          on stderr). Prints the full hash.
# --smoke means one round at the smallest size that still gives every row a value; the script adds its
# own smallest sizes. Environment: CCB_BENCH_BUILD_DIR (default <repo>/build-bench); CCB_BENCH_SUT_DIR and
# CCB_BENCH_SUT_COMMIT (set by ab.sh: the build whose ccbridge and library-linked programs are measured,
# tests/bench/bench_common.py sut()).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# CCB_REQUIRE_TEST_TOOLS=OFF: a bench build needs the test programs (fake CLI, load clients), not the
# test tools, so CI=true must not refuse it (tests/CMakeLists.txt).
BENCH_CMAKE_FLAGS=(-G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCCB_BUILD_BENCH=ON -DCCB_REQUIRE_TEST_TOOLS=OFF)

bench_args() {
  local name=$1 script
  script="$(basename "${BASH_SOURCE[1]}")"
  shift
  CMDLINE="tests/bench/$script${*:+ $*}"
  ROUNDS=""
  SMOKE=0
  OUT=""
  BENCH_REST=()
  while (($#)); do
    case "$1" in
      --rounds) [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || { echo "$script: --rounds needs a positive number" >&2; exit 2; }
                ROUNDS="$2"; shift ;;
      --out) [[ -n "${2:-}" ]] || { echo "$script: --out needs a file" >&2; exit 2; }
             OUT="$(realpath -m "$2")"; shift ;;
      --smoke) SMOKE=1 ;;
      *) BENCH_REST+=("$1") ;;
    esac
    shift
  done
  BUILD="$(realpath -m "${CCB_BENCH_BUILD_DIR:-$ROOT/build-bench}")"
  if [[ -z "$OUT" ]]; then
    if ((SMOKE)); then
      OUT="$BUILD/bench-smoke/$name.md"
    else
      OUT="$ROOT/docs/bench-results/$(date -u +%Y-%m-%d)-$name-$(git -C "$ROOT" rev-parse --short HEAD).md"
    fi
  fi
}

bench_build() {
  if [[ "${CCB_BENCH_LIST_TARGETS:-}" == 1 ]]; then
    echo "$@"
    exit 0
  fi
  cmake -S "$ROOT" -B "$BUILD" "${BENCH_CMAKE_FLAGS[@]}" >/dev/null
  ninja -C "$BUILD" "$@" >&2
}

bench_build_commit() {
  local sha dir=$2 t have=()
  sha="$(git -C "$ROOT" rev-parse --verify --quiet "$1^{commit}")" || { echo "bench: $1 is not a commit" >&2; exit 2; }
  shift 2
  if [[ -e "$dir/.git" ]]; then
    [[ "$(git -C "$dir" rev-parse HEAD)" == "$sha" ]] || git -C "$dir" checkout --quiet --detach "$sha" >&2
  else
    # -f: the worktree may still be registered from a directory deleted since.
    git -C "$ROOT" worktree add -f --detach "$dir" "$sha" >&2
  fi
  # The compiler cache hashes paths under DIR relative to it, so the same sources built elsewhere
  # (with the same relative build directory) are hits.
  (
    if command -v ccache >/dev/null; then
      export CMAKE_C_COMPILER_LAUNCHER=ccache CMAKE_CXX_COMPILER_LAUNCHER=ccache CCACHE_BASEDIR="$dir" CCACHE_NOHASHDIR=1
    fi
    cmake -S "$dir" -B "$dir/build" "${BENCH_CMAKE_FLAGS[@]}" >/dev/null
    for t in "$@"; do
      if ninja -C "$dir/build" -t query "$t" >/dev/null 2>&1; then have+=("$t"); else echo "bench: ${sha:0:7} has no target $t" >&2; fi
    done
    ninja -C "$dir/build" "${have[@]}" >&2
  )
  echo "$sha"
}
