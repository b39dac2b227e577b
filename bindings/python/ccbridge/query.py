"""query(): one prompt (or a stream of messages), one Claude Code run, its messages.

    for message in query(prompt="Hi", options=ClaudeAgentOptions(max_turns=1)): ...
    async for message in query(prompt="Hi"): ...

Without callbacks a string prompt takes the engine's direct path (prompt on stdin, stdin closed).
With can_use_tool, hooks or in-process tools the run needs the control protocol, so it goes
through a session, and input ends once the run is over (Session::end_input_when_done: after a
result, when the CLI reports it idle), as the official SDK does: a result ends a turn, and a
background agent that finishes later wakes the CLI for another turn whose requests need stdin.

Like the official `query()`, the object returned is an async iterator with the async generator's
methods (`anext()`, `aclose()`, `asend()`, `athrow()`, so `contextlib.aclosing` works); it can
also be iterated with a plain `for`.
"""

from __future__ import annotations

import json
import threading
from typing import Any, AsyncGenerator, AsyncIterable, Awaitable, Dict, Iterable, Iterator, Optional, Union

from ._aio import Loop, Task, finally_in_thread, in_thread
from ._engine import TRANSPORT_REFUSED, Prepared, Tracker, apump, call, pump, raise_for_outcome, text
from ._session_resume import BlockingStoreRun, StoreRun
from .types import ClaudeAgentOptions, Message

Prompt = Union[str, Iterable[Dict[str, Any]], AsyncIterable[Dict[str, Any]]]


def send_user_message(session: Any, message: Dict[str, Any]) -> None:
    """Sends one SDK-style user message dict ({"type": "user", "message": {"content": ...}})."""
    if message.get("type", "user") != "user":
        raise ValueError(f"only user messages can be sent, not {message.get('type')!r}")
    content = message.get("message", {}).get("content")
    # The SDK's per-message form of verbatim_prompts (the option marks every message anyway).
    composed = message.get("client_composed") is True
    if isinstance(content, str):
        call(session.send, text(content, "the message"), composed)
    else:
        call(session.send_content, json.dumps(content), composed)


class Query:
    """The messages of one run; iterate it once, with `for` or `async for`."""

    def __init__(self, prompt: Prompt, options: Optional[ClaudeAgentOptions] = None):
        self._prompt = prompt
        self._options = options or ClaudeAgentOptions()
        self._used = False
        self._gen: Optional[AsyncGenerator[Message, None]] = None

    def _claim(self) -> None:
        if self._used:
            raise RuntimeError("a query can be iterated only once")
        self._used = True

    # ---- sync ---------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Message]:
        self._claim()
        if not isinstance(self._prompt, (str, Iterable)):
            raise TypeError("an async iterable prompt needs `async for`")
        store = BlockingStoreRun(self._options)
        options = store.start()
        source: Any = None
        try:
            prep = Prepared(options, loop=None)
            tracker = Tracker(options)
            if isinstance(self._prompt, str) and not prep.needs_session:
                source = stream = prep.start_query(self._prompt)
                try:
                    yield from pump(stream, tracker, mirror=store.mirror)
                    yield from tracker.release(stream.outcome())
                    raise_for_outcome(stream.outcome(), tracker)
                finally:
                    stream.close()
                return
            source = session = prep.open_session()
            try:
                feeder = threading.Thread(target=self._feed, args=(session,), daemon=True)
                feeder.start()
                yield from pump(session, tracker, mirror=store.mirror)
                feeder.join(timeout=5)
                outcome = call(session.close)
                yield from tracker.release(outcome)
                raise_for_outcome(outcome, tracker)
            finally:
                session.close()
        finally:
            store.end(source)  # the CLI is gone: the last flush, the resume's directory removed

    def _feed(self, session: Any) -> None:
        try:
            if isinstance(self._prompt, str):
                call(session.send, text(self._prompt, "the prompt"))
            else:
                for message in self._prompt:  # type: ignore[union-attr]
                    send_user_message(session, message)
            session.end_input_when_done()
        except Exception:  # noqa: BLE001 - the session closed under us: the reader reports it
            pass

    # ---- async: the async generator's protocol ---------------------------------------------
    def __aiter__(self) -> "Query":
        return self

    def _agen(self) -> AsyncGenerator[Message, None]:
        if self._gen is None:
            self._claim()
            self._gen = self._arun()
        return self._gen

    def __anext__(self) -> Awaitable[Message]:
        return self._agen().__anext__()

    def asend(self, value: Any) -> Awaitable[Message]:
        return self._agen().asend(value)

    def athrow(self, *args: Any) -> Awaitable[Message]:
        return self._agen().athrow(*args)

    async def aclose(self) -> None:
        """Ends the run (the CLI is stopped if it is still going); idempotent."""
        if self._gen is None:
            self._used = True  # never started: nothing to stop, and it cannot start any more
            return
        await self._gen.aclose()

    async def _arun(self) -> AsyncGenerator[Message, None]:
        store = StoreRun(self._options)
        options = await store.start()
        source: Any = None
        try:
            prep = Prepared(options, loop=Loop())
            tracker = Tracker(options)
            if isinstance(self._prompt, str) and not prep.needs_session:
                source = stream = await in_thread(prep.start_query, self._prompt)
                try:
                    async for m in apump(stream, tracker, store.mirror):
                        yield m
                    for m in tracker.release(stream.outcome()):
                        yield m
                    raise_for_outcome(stream.outcome(), tracker)
                finally:
                    await finally_in_thread(stream.close)
                return
            source = session = await in_thread(prep.open_session)
            feeder = Task(lambda: self._afeed(session))
            try:
                async for m in apump(session, tracker, store.mirror):
                    yield m
                outcome = await in_thread(call, session.close)
                for m in tracker.release(outcome):
                    yield m
                raise_for_outcome(outcome, tracker)
            finally:
                feeder.cancel()
                await finally_in_thread(session.close)
        finally:
            await store.end(source)  # the CLI is gone: the last flush, the resume's directory removed

    async def _afeed(self, session: Any) -> None:
        try:
            if isinstance(self._prompt, str):
                await in_thread(call, session.send, text(self._prompt, "the prompt"))
            elif isinstance(self._prompt, AsyncIterable):
                async for message in self._prompt:
                    await in_thread(send_user_message, session, message)
            else:
                for message in self._prompt:
                    await in_thread(send_user_message, session, message)
            session.end_input_when_done()
        except Exception:  # noqa: BLE001 - the session closed under us: the reader reports it
            pass


def query(*, prompt: Prompt, options: Optional[ClaudeAgentOptions] = None, transport: Any = None) -> Query:
    """Runs Claude Code on `prompt` and yields its messages (sync or async iteration)."""
    if transport is not None:
        raise NotImplementedError(TRANSPORT_REFUSED)
    return Query(prompt, options)
