#!/usr/bin/env bash
# Load and soak of `ccbridge serve` (opcode profile) with the fake CLI: builds what it needs in
# build-load/ (RelWithDebInfo, configured like scripts/test's normal suite, only the three targets
# the soak uses), then runs tests/load/ccb_soak. Everything stays on 127.0.0.1.
#
#   tests/load/run.sh                                   # the issue's soak: 500 runs x 10 clients, 10 min
#   tests/load/run.sh --runs 50 --clients 500 --seconds 60
#   tests/load/run.sh --runs 500 --clients 5000 --seconds 600 --interval-ms 250   # more messages
#
# Any other ccb_soak option passes through (tests/load/ccb_soak --help). Writes samples.csv (one
# line per 5 s), summary.txt, driver.log and server.log into build-load/soak-<UTC date>/, then the
# report (tests/load/soak_report.py: command, commit, date, machine, load average, the summary, the
# median of each minute's samples, every sample) to --out FILE, by default
# docs/bench-results/<date>-soak-<commit>.md, and exits with the soak's verdict (0 pass, 1 fail,
# 2 setup error).
set -euo pipefail

# (Before the cd below: --out FILE is relative to the caller's directory.)
runs=500 clients=5000 seconds=600
report=""
cmdline="tests/load/run.sh${*:+ $*}"
args=()
while (($#)); do
  case "$1" in
    --out) [[ -n "${2:-}" ]] || { echo "run.sh: --out needs a file" >&2; exit 2; }
           report=$(realpath -m "$2"); shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done

cd "$(dirname "$0")/../.."
src=$PWD
build=${CCB_LOAD_BUILD:-$src/build-load}

echo "== build ($build, RelWithDebInfo)" >&2
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCCB_BUILD_TESTS=ON -DCCB_REQUIRE_TEST_TOOLS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target ccbridge_app ccb_fake_cli ccb_soak >&2

out=$build/soak-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
: "${report:=$src/docs/bench-results/$(date -u +%Y-%m-%d)-soak-$(git -C "$src" rev-parse --short HEAD).md}"
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)

# 5000 client sockets here; in the server one per client plus 4 per CLI (3 pipes and a pidfd).
# ccb_soak raises its own soft limit to the hard one and the server inherits it; raise the hard
# limit too when it is short (root can).
need=$((clients + 5 * runs + 512))
if [[ $(ulimit -Hn) != unlimited && $(ulimit -Hn) -lt $need ]]; then
  ulimit -Hn "$need" 2>/dev/null || { echo "open file hard limit $(ulimit -Hn) < $need: raise it (ulimit -Hn, limits.conf)" >&2; exit 2; }
fi

echo "== soak: $runs runs x $((clients / runs)) clients, $seconds s -> $out" >&2
{
  echo "command: tests/load/run.sh --runs $runs --clients $clients --seconds $seconds ${args[*]}"
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(uname -sr); load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "ccbridge: $(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$src" diff --quiet 2>/dev/null || echo ' (with local changes)')"
} >"$out/about.txt"
set +e
"$build/tests/ccb_soak" --server "$build/ccbridge" --fake-cli "$build/tests/ccb_fake_cli" \
  --runs "$runs" --clients "$clients" --seconds "$seconds" --out "$out" "${args[@]}" 2> >(tee "$out/driver.log" >&2)
rc=$?
set -e
echo "== $out (exit $rc)" >&2
if [[ -s "$out/samples.csv" ]]; then
  python3 "$src/tests/load/soak_report.py" --dir "$out" --out "$report" --cmdline "$cmdline" \
    --load-at-start "$load_at_start" --status "$rc"
else
  echo "== no samples: no report" >&2
fi
exit $rc
