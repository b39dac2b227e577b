"""query(): one prompt (or a stream of messages), one Claude Code run, its messages.

    for message in query(prompt="Hi", options=ClaudeAgentOptions(max_turns=1)): ...
    async for message in query(prompt="Hi"): ...

Without callbacks a string prompt takes the engine's direct path (prompt on stdin, stdin closed).
With can_use_tool, hooks or in-process tools the run needs the control protocol, so it goes
through a session, and input ends after the first result, as the official SDK does.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any, AsyncIterable, AsyncIterator, Dict, Iterable, Iterator, Optional, Union

from ._engine import TRANSPORT_REFUSED, Prepared, Tracker, apump, call, pump, raise_for_outcome, text
from .types import ClaudeAgentOptions, Message, ResultMessage

Prompt = Union[str, Iterable[Dict[str, Any]], AsyncIterable[Dict[str, Any]]]


def send_user_message(session: Any, message: Dict[str, Any]) -> None:
    """Sends one SDK-style user message dict ({"type": "user", "message": {"content": ...}})."""
    if message.get("type", "user") != "user":
        raise ValueError(f"only user messages can be sent, not {message.get('type')!r}")
    content = message.get("message", {}).get("content")
    if isinstance(content, str):
        call(session.send, text(content, "the message"))
    else:
        call(session.send_content, json.dumps(content))


class Query:
    """The messages of one run; iterate it once, with `for` or `async for`."""

    def __init__(self, prompt: Prompt, options: Optional[ClaudeAgentOptions] = None):
        self._prompt = prompt
        self._options = options or ClaudeAgentOptions()
        self._used = False

    def _claim(self) -> None:
        if self._used:
            raise RuntimeError("a query can be iterated only once")
        self._used = True

    # ---- sync ---------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Message]:
        self._claim()
        prep = Prepared(self._options, loop=None)
        if isinstance(self._prompt, str) and not prep.needs_session:
            stream = prep.start_query(self._prompt)
            tracker = Tracker()
            try:
                yield from pump(stream, tracker)
                raise_for_outcome(stream.outcome(), tracker)
            finally:
                stream.close()
            return
        if not isinstance(self._prompt, (str, Iterable)):
            raise TypeError("an async iterable prompt needs `async for`")
        session = prep.open_session()
        first_result = threading.Event()
        tracker = Tracker()
        try:
            feeder = threading.Thread(target=self._feed, args=(session, prep.needs_session, first_result), daemon=True)
            feeder.start()
            for m in pump(session, tracker):
                if isinstance(m, ResultMessage):
                    first_result.set()
                yield m
            feeder.join(timeout=5)
            raise_for_outcome(call(session.close), tracker)
        finally:
            first_result.set()
            session.close()

    def _feed(self, session: Any, wait_for_result: bool, first_result: threading.Event) -> None:
        try:
            if isinstance(self._prompt, str):
                call(session.send, text(self._prompt, "the prompt"))
            else:
                for message in self._prompt:  # type: ignore[union-attr]
                    send_user_message(session, message)
            if wait_for_result:
                first_result.wait()
            session.end_input()
        except Exception:  # noqa: BLE001 - the session closed under us: the reader reports it
            pass

    # ---- async --------------------------------------------------------------------------
    def __aiter__(self) -> AsyncIterator[Message]:
        self._claim()
        return self._arun()

    async def _arun(self) -> AsyncIterator[Message]:
        loop = asyncio.get_running_loop()
        prep = Prepared(self._options, loop=loop)
        if isinstance(self._prompt, str) and not prep.needs_session:
            stream = await loop.run_in_executor(None, prep.start_query, self._prompt)
            tracker = Tracker()
            try:
                async for m in apump(stream, tracker):
                    yield m
                raise_for_outcome(stream.outcome(), tracker)
            finally:
                await loop.run_in_executor(None, stream.close)
            return
        session = await loop.run_in_executor(None, prep.open_session)
        first_result = asyncio.Event()
        feeder = asyncio.ensure_future(self._afeed(session, prep.needs_session, first_result))
        tracker = Tracker()
        try:
            async for m in apump(session, tracker):
                if isinstance(m, ResultMessage):
                    first_result.set()
                yield m
            raise_for_outcome(await loop.run_in_executor(None, call, session.close), tracker)
        finally:
            feeder.cancel()
            await loop.run_in_executor(None, session.close)

    async def _afeed(self, session: Any, wait_for_result: bool, first_result: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        try:
            if isinstance(self._prompt, str):
                await loop.run_in_executor(None, call, session.send, text(self._prompt, "the prompt"))
            elif isinstance(self._prompt, AsyncIterable):
                async for message in self._prompt:
                    await loop.run_in_executor(None, send_user_message, session, message)
            else:
                for message in self._prompt:
                    await loop.run_in_executor(None, send_user_message, session, message)
            if wait_for_result:
                await first_result.wait()
            session.end_input()
        except Exception:  # noqa: BLE001 - the session closed under us: the reader reports it
            pass


def query(*, prompt: Prompt, options: Optional[ClaudeAgentOptions] = None, transport: Any = None) -> Query:
    """Runs Claude Code on `prompt` and yields its messages (sync or async iteration)."""
    if transport is not None:
        raise NotImplementedError(TRANSPORT_REFUSED)
    return Query(prompt, options)
