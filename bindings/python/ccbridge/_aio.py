"""The caller's event loop, asyncio or trio (through anyio, as the official SDK), seen from
ccbridge's own threads: the engine calls Python callbacks on its callback threads, and an async
callback must run on the loop of the code that started the run, where its objects live."""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any, Awaitable, Callable, Coroutine, Optional

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
import sniffio

log = logging.getLogger("ccbridge")

# Done(result, error): how a coroutine submitted from another thread reports back, on the loop.
Done = Callable[[Any, Optional[BaseException]], None]


class Loop:
    """A handle on a running event loop, usable from any thread."""

    def __init__(self) -> None:
        self._token = anyio.lowlevel.current_token()
        self.library = sniffio.current_async_library()

    def run(self, awaitable: Awaitable[Any]) -> Any:
        """From a thread that is not the loop's: awaits `awaitable` on the loop and returns its
        result (or raises its exception). RuntimeError if the loop is gone."""

        async def wait() -> Any:
            return await awaitable

        return anyio.from_thread.run(wait, token=self._token)

    def submit(self, awaitable: Awaitable[Any], done: Done) -> None:
        """From a thread that is not the loop's, without waiting for it: awaits `awaitable` in a
        task of its own on the loop, then calls done(result, error) there. If the loop is gone,
        done(None, RuntimeError) runs here, at once."""

        async def task() -> None:
            try:
                result = await awaitable
            except BaseException as e:  # noqa: BLE001 - reported, cancellation included
                _call_done(done, None, e)
                if not isinstance(e, Exception):
                    raise
                return
            _call_done(done, result, None)

        try:
            anyio.from_thread.run_sync(spawn_detached, task, token=self._token)
        except BaseException as e:  # noqa: BLE001 - the loop closed (or is closing)
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            _call_done(done, None, e if isinstance(e, RuntimeError) else RuntimeError(str(e)))


def _call_done(done: Done, result: Any, error: Optional[BaseException]) -> None:
    try:
        done(result, error)
    except BaseException:  # noqa: BLE001 - a reply that cannot be sent is logged, never raised into the loop
        log.exception("ccbridge: answering a callback failed")


def spawn_detached(fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """On the loop's thread: starts fn() as a task that belongs to no task group (what a callback
    from the engine needs: it outlives the code that received it, and nothing waits for it)."""
    if sniffio.current_async_library() == "trio":
        import trio

        trio.lowlevel.spawn_system_task(fn)
    else:
        task = asyncio.get_running_loop().create_task(fn())
        _background.add(task)
        task.add_done_callback(_background.discard)


# Strong references to detached asyncio tasks until they end (the loop keeps only weak ones).
_background: "set[asyncio.Task[None]]" = set()


async def in_thread(fn: Callable[..., Any], *args: Any, abandon: bool = False) -> Any:
    """fn(*args) on a worker thread, awaited. abandon: a cancellation returns at once and leaves
    the call to finish on its own (for bounded waits); otherwise it waits for the call to end."""
    return await anyio.to_thread.run_sync(fn, *args, abandon_on_cancel=abandon)


class Task:
    """fn() as a detached task on the current loop (see spawn_detached), cancellable from the loop's
    thread: an async generator cannot hold a task group across its yields."""

    def __init__(self, fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._scope = anyio.CancelScope()

        async def run() -> None:
            with self._scope:
                await fn()

        spawn_detached(run)

    def cancel(self) -> None:
        self._scope.cancel()


async def finally_in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """in_thread() for cleanup: shielded, so that it completes in a task being cancelled (trio
    cancels every later await of a cancelled task, asyncio only the first)."""
    with anyio.CancelScope(shield=True):
        return await in_thread(fn, *args)
