#!/usr/bin/env bash
# Agent platform (issue 17): POST /v1/tools/execute of a trivial MCP tool (`echo` of one
# ccb_mcp_test_server over stdio) against the official Python MCP SDK (PyPI `mcp`, pinned in
# tests/bench/peers/setup.sh) and the core C++ McpClient calling the same server directly:
# calls/s, p50/p99 and CPU per call, sequential and with C concurrent clients, R interleaved rounds.
#   tests/bench/platform_tools.sh [--quick|--smoke] [--rounds R] [--calls N] [--clients C] [--warmup W] [--out FILE]
# Builds ccbridge, ccb_fake_cli (the platform's CLI, never used by a tool call), ccb_mcp_test_server and
# ccb_platform_tools (RelWithDebInfo, in CCB_BENCH_BUILD_DIR or build-bench), installs the peers
# (peers/setup.sh) and runs tests/bench/platform_tools_bench.py with the bench venv's Python.
# Loopback only; every call is bounded (N calls, 600 s per row). The report (commit, date, machine,
# load average, per-round values, medians) goes to --out, by default
# docs/bench-results/<date>-platform-tools-<commit>.md.
#   --quick   1 round of 500 calls per row
#   --smoke   1 round of 50 calls per row, 2 concurrent clients, the report under the build dir
#             (tests/bench/common.sh); exits non-zero when a row fails
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bench_args platform-tools "$@"
set -- "${BENCH_REST[@]}"
ARGS=()
while (($#)); do
  case "$1" in
    --quick) ARGS+=(--rounds 1 --calls 500 --warmup 50) ;;
    --calls|--clients|--warmup) ARGS+=("$1" "$2"); shift ;;
    *) echo "platform_tools.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
((SMOKE)) && ARGS+=(--rounds 1 --calls 50 --clients 2 --warmup 5)
[[ -z "$ROUNDS" ]] || ARGS+=(--rounds "$ROUNDS")
bench_build ccbridge_app ccb_fake_cli ccb_mcp_test_server ccb_platform_tools
VENV="$("$ROOT/tests/bench/peers/setup.sh" | sed -n 's/^venv=//p')"
exec "$VENV/bin/python" "$ROOT/tests/bench/platform_tools_bench.py" --build "$BUILD" --out "$OUT" --cmdline "$CMDLINE" "${ARGS[@]}"
