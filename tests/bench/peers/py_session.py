#!/usr/bin/env python3
"""Session benchmarks for the Python Claude Agent SDK's ClaudeSDKClient (peer of `ccb_bench session-*`).

    py_session.py open    --cli <fake_cli> --requests K   K times: connect (initialize), query, first
                                                          message; median seconds (disconnect untimed)
    py_session.py control --cli <fake_cli> --requests K   K sequential set_permission_mode round trips
    py_session.py stream  --cli <fake_cli> --messages N   one turn through receive_response(), every
                                                          message read (py_reading.Reading)

The caller sets CCB_FAKE_SCRIPT_TEXT for the fake CLI (the SDK passes the environment on).
Prints one JSON line like ccb_bench. Exits 1 if a stream delivered fewer than N messages.
"""
import argparse
import json
import statistics
import sys
import time

import anyio
from claude_agent_sdk import AssistantMessage, ClaudeAgentOptions, ClaudeSDKClient, ResultMessage, TextBlock
from py_reading import Reading

IMPL = "claude-agent-sdk (Python)"


async def bench_open(cli: str, k: int) -> dict:
    secs = []
    for _ in range(k):
        t0 = time.perf_counter()
        client = ClaudeSDKClient(ClaudeAgentOptions(cli_path=cli))
        await client.connect()
        await client.query("benchmark")
        async for _message in client.receive_messages():
            break
        secs.append(time.perf_counter() - t0)
        await client.disconnect()
    return {"impl": IMPL, "what": "session-open", "opens": k, "median_seconds": round(statistics.median(secs), 6)}


async def bench_control(cli: str, k: int) -> dict:
    client = ClaudeSDKClient(ClaudeAgentOptions(cli_path=cli))
    await client.connect()
    t0 = time.perf_counter()
    for _ in range(k):
        await client.set_permission_mode("default")
    secs = time.perf_counter() - t0
    await client.disconnect()
    return {"impl": IMPL, "what": "session-control", "requests": k, "seconds": round(secs, 6)}


async def bench_stream(cli: str) -> dict:
    client = ClaudeSDKClient(ClaudeAgentOptions(cli_path=cli))
    await client.connect()
    read = Reading(AssistantMessage, ResultMessage, TextBlock)
    t0 = time.perf_counter()
    await client.query("benchmark")
    async for message in client.receive_response():
        read(message)
    secs = time.perf_counter() - t0
    await client.disconnect()
    return {"impl": IMPL, "what": "session-stream", **read.fields(), "seconds": round(secs, 6)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["open", "control", "stream"])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--messages", type=int, default=0, help="expected message count (a floor)")
    args = ap.parse_args()
    if args.mode == "open":
        out = anyio.run(bench_open, args.cli, args.requests)
    elif args.mode == "control":
        out = anyio.run(bench_control, args.cli, args.requests)
    else:
        out = anyio.run(bench_stream, args.cli)
    print(json.dumps(out, separators=(",", ":")))
    return 1 if args.mode == "stream" and args.messages > 0 and out["messages"] < args.messages else 0


if __name__ == "__main__":
    sys.exit(main())
