"""SessionStore: mirroring session transcripts to storage of your own, with the official SDK's names.

The types an adapter implements and receives (``SessionStore`` and its key and entry dicts); the
helpers that work on a store (``*_from_store``, ``*_via_store``, ``import_session_to_store``,
``InMemorySessionStore``, ``fold_session_summary``) follow below them.

No `from __future__ import annotations` here: TypedDict reads NotRequired/Required from evaluated
annotations only (see _shapes.py); annotations that do not evaluate on Python 3.9 are strings.
"""

import sys
from typing import Any, Dict, List, Literal, Optional, Protocol

if sys.version_info >= (3, 11):
    from typing import NotRequired, Required, TypedDict
else:  # before 3.11 the stdlib TypedDict ignores NotRequired and Required
    from typing_extensions import NotRequired, Required, TypedDict

TYPES = [
    "SessionKey", "SessionStoreEntry", "SessionStoreListEntry", "SessionSummaryEntry", "SessionListSubkeysKey",
    "SessionStoreFlushMode", "SessionStore",
]
__all__ = TYPES + []


class SessionKey(TypedDict):
    """A session's transcript in a store, or (with ``subpath``, e.g. ``"subagents/agent-<id>"``) one
    of its subagent transcripts. ``project_key`` is the caller's scope (default: the directory's
    project key); an empty ``subpath`` is invalid: leave it out for the main transcript."""

    project_key: str
    session_id: str
    subpath: NotRequired[str]


class SessionStoreEntry(TypedDict, total=False):
    """One transcript line (a JSON object). Adapters pass entries through unchanged; a JSON round
    trip must give back an equal entry."""

    type: Required[str]
    uuid: str
    timestamp: str


class SessionStoreListEntry(TypedDict):
    """One row of ``SessionStore.list_sessions``: ``mtime`` in milliseconds since the epoch."""

    session_id: str
    mtime: int


class SessionSummaryEntry(TypedDict):
    """A session's summary kept by the store: ``data`` comes from ``fold_session_summary`` and is
    stored as it is; ``mtime`` is the store's write time (the clock of ``list_sessions``), stamped
    by the store after it persists the summary."""

    session_id: str
    mtime: int
    data: Dict[str, Any]


class SessionListSubkeysKey(TypedDict):
    """The key ``SessionStore.list_subkeys`` takes (a session, without ``subpath``)."""

    project_key: str
    session_id: str


SessionStoreFlushMode = Literal["batched", "eager"]
"""When mirrored entries reach the store: ``"batched"`` (once per turn, or when 500 entries or 1 MiB
are pending) or ``"eager"`` (a flush after every mirrored frame, still in order)."""


class SessionStore(Protocol):
    """A store for session transcripts (the CLI still writes its own files; the store gets a copy).

    ``append`` and ``load`` are required. The other methods are optional: callers look for them
    and treat one that raises ``NotImplementedError`` (as these defaults do) as absent. A store
    need not subclass this class.
    """

    async def append(self, key: SessionKey, entries: List[SessionStoreEntry]) -> None:
        """Store a batch of entries, in call order. An entry's ``uuid``, when it has one, is an
        idempotency key; entries without one are appended as they are."""
        ...

    async def load(self, key: SessionKey) -> Optional[List[SessionStoreEntry]]:
        """Every entry stored under ``key`` in order (equal to what was appended), or ``None``
        for a key never written."""
        ...

    async def list_sessions(self, project_key: str) -> List[SessionStoreListEntry]:
        """The sessions of a project with their modification times (any order)."""
        raise NotImplementedError

    async def list_session_summaries(self, project_key: str) -> List[SessionSummaryEntry]:
        """The summaries kept by ``append`` (through ``fold_session_summary``) for the sessions of
        a project, main transcripts only."""
        raise NotImplementedError

    async def delete(self, key: SessionKey) -> None:
        """Delete a transcript; without ``subpath`` also every subkey of the session."""
        raise NotImplementedError

    async def list_subkeys(self, key: SessionListSubkeysKey) -> List[str]:
        """The subpaths stored under a session (its subagent transcripts)."""
        raise NotImplementedError
