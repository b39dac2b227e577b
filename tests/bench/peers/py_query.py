#!/usr/bin/env python3
"""End-to-end benchmark for the Python Claude Agent SDK (peer of `ccb_bench query`).

    py_query.py --cli <fake_cli> --messages N

Drives claude_agent_sdk.query() with a short prompt against the given CLI (the caller sets
CCB_FAKE_SCRIPT_TEXT, which the SDK passes on with the rest of the environment), reads every
message the iterator yields as a caller would (py_reading.Reading: type, assistant text, session
id, usage) and times it from just before query() to the end of the stream. SDK defaults otherwise
(no max_buffer_size change: the lines are ~1.35 KB). Prints one JSON line:
    {"impl":"claude-agent-sdk (Python)","what":"query","messages":M,"seconds":S,"text_chars":...}
Exits 1 if fewer than N messages arrived.
"""
import argparse
import json
import os
import sys
import time

import anyio
from claude_agent_sdk import AssistantMessage, ClaudeAgentOptions, ResultMessage, TextBlock, query
from py_reading import Reading

try:
    from importlib.metadata import version as _dist_version

    SDK_VERSION = _dist_version("claude-agent-sdk")
except Exception:  # pragma: no cover
    SDK_VERSION = "unknown"


async def run(cli: str) -> tuple[Reading, float]:
    env = {}
    if "CCB_FAKE_SCRIPT_TEXT" in os.environ:  # inherited anyway; explicit for clarity
        env["CCB_FAKE_SCRIPT_TEXT"] = os.environ["CCB_FAKE_SCRIPT_TEXT"]
    options = ClaudeAgentOptions(cli_path=cli, env=env)
    read = Reading(AssistantMessage, ResultMessage, TextBlock)
    t0 = time.perf_counter()
    async for message in query(prompt="benchmark", options=options):
        read(message)
    return read, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--messages", type=int, default=0, help="expected message count (a floor)")
    args = ap.parse_args()
    read, seconds = anyio.run(run, args.cli)
    print(json.dumps({
        "impl": "claude-agent-sdk (Python)", "what": "query", **read.fields(),
        "seconds": round(seconds, 6), "sdk_version": SDK_VERSION,
    }, separators=(",", ":")))
    return 1 if args.messages > 0 and read.messages < args.messages else 0


if __name__ == "__main__":
    sys.exit(main())
