"""Runs one of the official SDK's examples and records every message it receives (for
realcli_examples.py).

    python examples_runner.py SDK LOG EXAMPLE [ARGS...]

SDK is the package the example imports (claude_agent_sdk or ccbridge). Before the example runs,
the SDK's public entry points that hand messages to the caller (query(), and ClaudeSDKClient's
receive_messages() and receive_response()) are wrapped to append one JSON line per message to
LOG: which entry point the example iterated, the message's class and every field, nested
dataclasses (content blocks) with their class too. Only the outermost entry point logs (the
SDK's receive_response() may iterate its own receive_messages()). The example itself runs as it
is, as __main__ with sys.argv = [EXAMPLE, *ARGS]; a file with top-level `await` (an IPython
snippet file) is compiled with top-level await allowed and awaited under asyncio, as IPython's
autoawait runs it.

The official SDK prefers the CLI bundled in its wheel: that lookup is turned off here so that
both SDKs find the pinned CLI as `claude` on PATH, as ccbridge does.
"""

from __future__ import annotations

import ast
import asyncio
import contextvars
import dataclasses
import functools
import importlib
import json
import os
import runpy
import sys
from typing import Any

_inside: contextvars.ContextVar[bool] = contextvars.ContextVar("inside", default=False)


def jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {"__class__": type(value).__name__}
        for f in dataclasses.fields(value):
            out[f.name] = jsonable(getattr(value, f.name))
        return out
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def main() -> None:
    sdk, log_path, example, *args = sys.argv[1:]
    log = open(log_path, "a", encoding="utf-8")

    def record(via: str, message: Any) -> None:
        log.write(json.dumps({"via": via, "message": jsonable(message)}, ensure_ascii=False) + "\n")
        log.flush()

    def logging(via: str, make):
        """An async generator yielding what make(...) yields, recording it when outermost."""

        @functools.wraps(make)
        async def wrapper(*a: Any, **kw: Any):
            outer = not _inside.get()
            it = make(*a, **kw).__aiter__()
            try:
                while True:
                    token = _inside.set(True)
                    try:
                        message = await it.__anext__()
                    except StopAsyncIteration:
                        return
                    finally:
                        _inside.reset(token)
                    if outer:
                        record(via, message)
                    yield message
            finally:
                close = getattr(it, "aclose", None)
                if close is not None:
                    await close()

        return wrapper

    package = importlib.import_module(sdk)
    package.query = logging("query", package.query)
    client = package.ClaudeSDKClient
    client.receive_messages = logging("receive_messages", client.receive_messages)
    client.receive_response = logging("receive_response", client.receive_response)
    if sdk == "claude_agent_sdk":
        from claude_agent_sdk._internal.transport import subprocess_cli

        subprocess_cli.SubprocessCLITransport._find_bundled_cli = lambda self: None

    sys.argv = [example, *args]
    sys.path[0] = os.path.dirname(os.path.abspath(example))
    with open(example, encoding="utf-8") as f:
        source = f.read()
    try:
        compile(source, example, "exec")
    except SyntaxError:
        code = compile(source, example, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        scope = {"__name__": "__main__", "__file__": example}

        async def top_level() -> None:
            result = eval(code, scope)  # noqa: S307 - the example's own code, as IPython runs it
            if result is not None:
                await result

        asyncio.run(top_level())
        return
    runpy.run_path(example, run_name="__main__")


if __name__ == "__main__":
    main()
