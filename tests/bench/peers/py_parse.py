#!/usr/bin/env python3
"""Parse benchmark for the Python Claude Agent SDK (peer of `ccb_bench parse`).

    py_parse.py <corpus.jsonl>

Reads the corpus into memory, then times: UTF-8 decode, split into lines, json.loads of every
non-empty line and the SDK's own parse_message(dict) -> typed Message. Lines the SDK does not
model (control_* and other unknown types: parse_message returns None) or rejects
(MessageParseError) are still counted as processed. Prints one JSON line on stdout:
    {"impl":"claude-agent-sdk (Python)","what":"parse","messages":N,"bytes":B,"seconds":S,...}
"""
import json
import sys
import time

from claude_agent_sdk._internal.message_parser import parse_message

try:
    from importlib.metadata import version as _dist_version

    SDK_VERSION = _dist_version("claude-agent-sdk")
except Exception:  # pragma: no cover
    SDK_VERSION = "unknown"


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: py_parse.py <corpus.jsonl>", file=sys.stderr)
        return 2
    with open(sys.argv[1], "rb") as f:
        data = f.read()

    loads = json.loads
    parse = parse_message
    messages = typed = skipped = errors = 0

    t0 = time.perf_counter()
    for line in data.decode("utf-8").split("\n"):
        if not line.strip():
            continue
        messages += 1
        try:
            m = parse(loads(line))
        except Exception:  # MessageParseError, or JSON that is not an object
            errors += 1
            continue
        if m is None:
            skipped += 1
        else:
            typed += 1
    seconds = time.perf_counter() - t0

    print(json.dumps({
        "impl": "claude-agent-sdk (Python)", "what": "parse", "messages": messages,
        "bytes": len(data), "seconds": round(seconds, 6), "typed": typed,
        "skipped": skipped, "errors": errors, "sdk_version": SDK_VERSION,
    }, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
