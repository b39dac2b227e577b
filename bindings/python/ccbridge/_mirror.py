"""The SessionStore write path: the CLI's ``transcript_mirror`` frames (``--session-mirror``) to
``SessionStore.append``.

The engine keeps the frames out of the message stream (bindings/python/src/module.cpp,
``take_mirror``); a run's ``MirrorRun`` moves them to a ``TranscriptMirrorBatcher``, which appends
them to the store in order, grouped by transcript file: when a ``result`` is about to be yielded
(so a consumer that sees it can read the turn from the store), when too much is pending (or after
every frame with ``session_store_flush="eager"``), and when the run ends. A store that fails is
retried a little, then reported as a ``MirrorErrorMessage`` in the stream; the run goes on, as the
CLI's own transcript on disk is complete anyway.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Deque, Dict, List, Optional, Tuple

import anyio

from ._aio import spawn_detached
# MAX_PENDING_*: what may wait before a flush starts on its own.
from .session_store import MAX_PENDING_BYTES, MAX_PENDING_ENTRIES, SessionKey, SessionStore, SessionStoreEntry

log = logging.getLogger("ccbridge")

# One append's time limit; an append that runs out is not tried again (it may still land).
SEND_TIMEOUT_SECONDS = 60.0
# Attempts per batch, and the waits between them.
MIRROR_APPEND_MAX_ATTEMPTS = 3
MIRROR_APPEND_BACKOFF_S = (0.2, 0.8)

OnError = Callable[[Optional[SessionKey], str], Awaitable[None]]


def file_path_to_session_key(file_path: str, projects_dir: str) -> Optional[SessionKey]:
    """The store key of a transcript file: ``<projects>/<project>/<session>.jsonl`` is a session,
    ``<projects>/<project>/<session>/<dirs...>/<name>.jsonl`` (at least two levels down) one of its
    subagent transcripts (``subpath`` "/"-joined, without ".jsonl"). None for any other path."""
    try:
        rel = os.path.relpath(file_path, projects_dir)
    except ValueError:  # no relative path between them (Windows: another drive)
        return None
    parts = list(Path(rel).parts)
    if len(parts) < 2 or parts[0] == ".." or Path(rel).is_absolute():
        return None
    project_key, session_part = parts[0], parts[1]
    if len(parts) == 2:
        if not session_part.endswith(".jsonl"):
            return None
        return {"project_key": project_key, "session_id": session_part[: -len(".jsonl")]}
    if len(parts) == 3:
        return None
    sub = parts[2:]
    if sub[-1].endswith(".jsonl"):
        sub[-1] = sub[-1][: -len(".jsonl")]
    return {"project_key": project_key, "session_id": session_part, "subpath": "/".join(sub)}


class _FlushHandle:
    """A background flush, awaitable with wait()."""

    def __init__(self) -> None:
        self._done = anyio.Event()

    async def wait(self) -> None:
        await self._done.wait()


@dataclass
class _Frame:
    file_path: str
    entries: List[SessionStoreEntry]
    size: int


@dataclass
class TranscriptMirrorBatcher:
    """Frames in, ``store.append`` calls out, in the order the frames came.

    ``enqueue`` never waits; ``flush`` sends everything pending (after any flush still under way)
    and never raises: an append that fails is tried ``MIRROR_APPEND_MAX_ATTEMPTS`` times in all,
    one that times out only once, and then ``on_error(key, text)`` is told and the batch dropped.
    Must be used from one event loop's thread.
    """

    store: SessionStore
    projects_dir: str
    on_error: OnError
    send_timeout: float = SEND_TIMEOUT_SECONDS
    max_pending_entries: int = MAX_PENDING_ENTRIES
    max_pending_bytes: int = MAX_PENDING_BYTES

    _pending: List[_Frame] = field(default_factory=list)
    _pending_entries: int = 0
    _pending_bytes: int = 0
    _flush_task: Optional[_FlushHandle] = None
    _lock: anyio.Lock = field(default_factory=anyio.Lock)

    def enqueue(self, file_path: str, entries: List[SessionStoreEntry]) -> None:
        """Keeps a frame; starts a flush in the background once over a limit."""
        size = len(json.dumps(entries))  # about its size on the wire, once per frame
        self._pending.append(_Frame(file_path, entries, size))
        self._pending_entries += len(entries)
        self._pending_bytes += size
        if self._pending_entries > self.max_pending_entries or self._pending_bytes > self.max_pending_bytes:
            handle = _FlushHandle()

            async def background() -> None:
                try:
                    await self._drain()
                finally:
                    handle._done.set()

            spawn_detached(background)
            self._flush_task = handle

    async def flush(self) -> None:
        """Sends what is pending, after any flush under way."""
        await self._drain()

    async def close(self) -> None:
        """The last flush; it completes even in a cancelled task, and never raises."""
        try:
            with anyio.CancelScope(shield=True):
                await self.flush()
        except Exception as e:  # noqa: BLE001 - flush() does not raise; a last guard at teardown
            log.debug("transcript mirror: the last flush failed: %s", e)

    async def _drain(self) -> None:
        # The frames are taken before the lock, so that new ones gather while a flush runs, and
        # one drain's appends all come before the next one's.
        frames, self._pending = self._pending, []
        self._pending_entries = self._pending_bytes = 0
        failed: List[Tuple[SessionKey, str]] = []
        async with self._lock:
            if not frames:
                return
            try:
                await self._do_flush(frames, failed)
            except Exception as e:  # noqa: BLE001 - never raises (see flush())
                log.error("transcript mirror: flush failed: %s", e)
                return
        # Reported outside the lock: a slow on_error does not hold up the next flush.
        for key, text in failed:
            try:
                await self.on_error(key, text)
            except Exception as e:  # noqa: BLE001 - reporting must not end the run
                log.error("transcript mirror: on_error raised: %s", e)

    async def _do_flush(self, frames: List[_Frame], failed: List[Tuple[SessionKey, str]]) -> None:
        by_file: Dict[str, List[SessionStoreEntry]] = {}  # first-seen order of the files
        for f in frames:
            by_file.setdefault(f.file_path, []).extend(f.entries)
        for file_path, entries in by_file.items():
            if not entries:
                continue  # append([]) could create a key in some stores
            key = file_path_to_session_key(file_path, self.projects_dir)
            if key is None:
                log.warning("[SessionStore] dropping mirror frame: filePath %s is not under %s -- the CLI's "
                            "CLAUDE_CONFIG_DIR is not the one the SDK expects (custom env?)", file_path,
                            self.projects_dir)
                continue
            error = await self._append(key, entries, file_path)
            if error is not None:
                log.error("transcript mirror: append failed for %s: %s", file_path, error)
                failed.append((key, error))

    async def _append(self, key: SessionKey, entries: List[SessionStoreEntry], file_path: str) -> Optional[str]:
        """None once stored, else the last error's text."""
        last: Optional[BaseException] = None
        for attempt in range(MIRROR_APPEND_MAX_ATTEMPTS):
            if attempt:
                await anyio.sleep(MIRROR_APPEND_BACKOFF_S[attempt - 1])
            try:
                with anyio.fail_after(self.send_timeout):
                    await self.store.append(key, entries)
                return None
            except TimeoutError as e:
                # The call may still land (cancellation is best effort in a store): a second
                # attempt could write the batch twice, at once.
                log.debug("transcript mirror: append timed out after %.1fs for %s", self.send_timeout, file_path)
                last = e
                break
            except Exception as e:  # noqa: BLE001 - the store is the user's code
                log.debug("transcript mirror: append attempt %d/%d failed for %s: %s", attempt + 1,
                          MIRROR_APPEND_MAX_ATTEMPTS, file_path, e)
                last = e
        return str(last)


def mirror_error(key: Optional[SessionKey], error: str) -> Dict[str, Any]:
    """The system message a dropped batch becomes (a MirrorErrorMessage once parsed)."""
    return {
        "type": "system", "subtype": "mirror_error", "error": error, "key": key, "uuid": str(uuid.uuid4()),
        "session_id": key.get("session_id", "") if key else "",
    }


class MirrorRun:
    """One run's mirror: frames from the engine to the batcher, and the batcher's errors as
    messages for the stream. Its methods run on the thread of the batcher's event loop."""

    def __init__(self, make_batcher: Callable[[OnError], TranscriptMirrorBatcher]) -> None:
        self.errors: Deque[Dict[str, Any]] = deque()
        self.batcher = make_batcher(self._report)

    async def _report(self, key: Optional[SessionKey], error: str) -> None:
        self.errors.append(mirror_error(key, error))

    def take(self, source: Any) -> None:
        """Hands the engine's frames received so far to the batcher."""
        for frame in source.take_mirror():
            path, entries = frame.get("filePath"), frame.get("entries")
            if isinstance(path, str) and isinstance(entries, list):
                self.batcher.enqueue(path, entries)
            else:
                log.warning("transcript mirror: dropping a frame without a filePath string and an entries list")

    async def flush(self, source: Any) -> None:
        self.take(source)
        await self.batcher.flush()

    async def close(self, source: Any) -> None:
        """The end of the run (its process gone): the last frames, then the last flush."""
        if source is not None:
            self.take(source)
        await self.batcher.close()

    def pop_errors(self) -> List[Dict[str, Any]]:
        """The errors reported so far (from any thread: an eager flush may be reporting)."""
        out = []
        while self.errors:
            out.append(self.errors.popleft())
        return out
