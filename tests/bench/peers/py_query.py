#!/usr/bin/env python3
"""End-to-end benchmark for the Python Claude Agent SDK (peer of `ccb_bench query`).

    py_query.py --cli <fake_cli> --messages N

Drives claude_agent_sdk.query() with a short prompt against the given CLI (the caller sets
CCB_FAKE_SCRIPT_TEXT, which the SDK passes on with the rest of the environment), counts every
message the iterator yields (all types) and times it from just before query() to the end of
the stream. SDK defaults otherwise (no max_buffer_size change: the lines are ~1.35 KB).
Prints one JSON line:
    {"impl":"claude-agent-sdk (Python)","what":"query","messages":M,"seconds":S,...}
Exits 1 if fewer than N messages arrived.
"""
import argparse
import json
import os
import sys
import time

import anyio
from claude_agent_sdk import ClaudeAgentOptions, query

try:
    from importlib.metadata import version as _dist_version

    SDK_VERSION = _dist_version("claude-agent-sdk")
except Exception:  # pragma: no cover
    SDK_VERSION = "unknown"


async def run(cli: str) -> tuple[int, float]:
    env = {}
    if "CCB_FAKE_SCRIPT_TEXT" in os.environ:  # inherited anyway; explicit for clarity
        env["CCB_FAKE_SCRIPT_TEXT"] = os.environ["CCB_FAKE_SCRIPT_TEXT"]
    options = ClaudeAgentOptions(cli_path=cli, env=env)
    count = 0
    t0 = time.perf_counter()
    async for _message in query(prompt="benchmark", options=options):
        count += 1
    return count, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--messages", type=int, default=0, help="expected message count (a floor)")
    args = ap.parse_args()
    count, seconds = anyio.run(run, args.cli)
    print(json.dumps({
        "impl": "claude-agent-sdk (Python)", "what": "query", "messages": count,
        "seconds": round(seconds, 6), "sdk_version": SDK_VERSION,
    }, separators=(",", ":")))
    return 1 if args.messages > 0 and count < args.messages else 0


if __name__ == "__main__":
    sys.exit(main())
