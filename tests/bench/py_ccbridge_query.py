#!/usr/bin/env python3
"""End-to-end benchmark for ccbridge's Python package: the peer of peers/py_query.py (the official
Python SDK) with ccbridge in its place.

    py_ccbridge_query.py --cli <fake_cli> --messages N [--mode sync|async]

Drives ccbridge.query() with a short prompt against the given CLI (the caller sets
CCB_FAKE_SCRIPT_TEXT, passed on in the options' env exactly as py_query.py does), reads every
message the iterator yields as py_query.py does (peers/py_reading.py: type, assistant text, session
id, usage) and times it from just before query() to the end of the stream: with `for` (--mode sync,
the default) or `async for` inside asyncio.run() (--mode async).
ccbridge defaults otherwise. Prints one JSON line:
    {"impl":"ccbridge (Python, sync)","what":"query","mode":"sync","messages":M,"seconds":S,...}
Exits 1 if fewer than N messages arrived.
"""
import argparse
import asyncio
import json
import os
import sys
import time

import ccbridge
from ccbridge import AssistantMessage, ClaudeAgentOptions, ResultMessage, TextBlock, query

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
from py_reading import Reading  # noqa: E402


def make_options(cli: str) -> ClaudeAgentOptions:
    env = {}
    if "CCB_FAKE_SCRIPT_TEXT" in os.environ:  # inherited anyway; explicit for clarity
        env["CCB_FAKE_SCRIPT_TEXT"] = os.environ["CCB_FAKE_SCRIPT_TEXT"]
    return ClaudeAgentOptions(cli_path=cli, env=env)


def run_sync(cli: str) -> tuple:
    options = make_options(cli)
    read = Reading(AssistantMessage, ResultMessage, TextBlock)
    t0 = time.perf_counter()
    for message in query(prompt="benchmark", options=options):
        read(message)
    return read, time.perf_counter() - t0


async def run_async(cli: str) -> tuple:
    options = make_options(cli)
    read = Reading(AssistantMessage, ResultMessage, TextBlock)
    t0 = time.perf_counter()
    async for message in query(prompt="benchmark", options=options):
        read(message)
    return read, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--messages", type=int, default=0, help="expected message count (a floor)")
    ap.add_argument("--mode", choices=("sync", "async"), default="sync")
    args = ap.parse_args()
    if args.mode == "sync":
        read, seconds = run_sync(args.cli)
    else:
        read, seconds = asyncio.run(run_async(args.cli))
    print(json.dumps({
        "impl": f"ccbridge (Python, {args.mode})", "what": "query", "mode": args.mode, **read.fields(),
        "seconds": round(seconds, 6), "ccbridge_version": ccbridge.__version__,
    }, separators=(",", ":")))
    return 1 if args.messages > 0 and read.messages < args.messages else 0


if __name__ == "__main__":
    sys.exit(main())
