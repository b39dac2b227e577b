"""SessionStore: mirroring session transcripts to storage of your own, with the official SDK's names.

The types an adapter implements and receives (``SessionStore`` and its key and entry dicts); the
helpers that work on a store (``*_from_store``, ``*_via_store``, ``import_session_to_store``,
``InMemorySessionStore``, ``fold_session_summary``) follow below them.

No `from __future__ import annotations` here: TypedDict reads NotRequired/Required from evaluated
annotations only (see _shapes.py); annotations that do not evaluate on Python 3.9 are strings.
"""

import json
import os
import sys
import time
import unicodedata
import uuid as _uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Literal, Optional, Protocol, Tuple, Union

import anyio

from . import _ccbridge
from .sessions import (
    ForkSessionResult,
    SDKSessionInfo,
    SessionMessage,
    _call,
    _directory,
    _sanitize_tag,
    project_key_for_directory,
)

if sys.version_info >= (3, 11):
    from typing import NotRequired, Required, TypedDict
else:  # before 3.11 the stdlib TypedDict ignores NotRequired and Required
    from typing_extensions import NotRequired, Required, TypedDict

TYPES = [
    "SessionKey", "SessionStoreEntry", "SessionStoreListEntry", "SessionSummaryEntry", "SessionListSubkeysKey",
    "SessionStoreFlushMode", "SessionStore",
]
__all__ = TYPES + [
    "InMemorySessionStore", "fold_session_summary", "import_session_to_store", "list_sessions_from_store",
    "get_session_info_from_store", "get_session_messages_from_store", "list_subagents_from_store",
    "get_subagent_messages_from_store", "rename_session_via_store", "tag_session_via_store",
    "delete_session_via_store", "fork_session_via_store",
]

# An append (of a mirror flush or an import) carries at most this many entries or line bytes.
MAX_PENDING_ENTRIES = 500
MAX_PENDING_BYTES = 1 << 20
# list_sessions_from_store loads at most this many sessions at once.
_LIST_LOAD_CONCURRENCY = 16


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


# ---- helpers -----------------------------------------------------------------------------------


def _store_implements(store: Any, method: str) -> bool:
    """Whether ``store`` has ``method`` of its own (not SessionStore's default, which raises)."""
    if getattr(store, method, None) is None:
        return False
    return getattr(type(store), method, None) is not getattr(SessionStore, method, None)


def _project_path(directory: Optional[str]) -> str:
    """The project's working directory as the CLI records it (realpath, NFC)."""
    d = _directory(directory) or "."
    try:
        return unicodedata.normalize("NFC", os.path.realpath(d))
    except OSError:
        return d


def _key(directory: Optional[str], session_id: str, subpath: Optional[str] = None) -> SessionKey:
    key: SessionKey = {"project_key": project_key_for_directory(directory), "session_id": session_id}
    if subpath is not None:
        key["subpath"] = subpath
    return key


def _require_uuid(value: str, what: str) -> None:
    if not _ccbridge.is_session_uuid(value):
        raise ValueError(f"Invalid {what}: {value}")


def _to_jsonl(entries: List[Any]) -> str:
    """Store entries as transcript text for the engine: one compact line each, ``type`` first (a
    store may reorder keys; tag lines are recognised by their start, as the CLI writes them)."""
    lines = []
    for e in entries:
        if isinstance(e, dict) and "type" in e:
            e = {"type": e["type"], **e}
        lines.append(json.dumps(e, separators=(",", ":")))
    return "\n".join(lines) + "\n"


def _iso_ms(value: Any) -> Optional[int]:
    """Milliseconds since the epoch of an ISO 8601 timestamp, or None."""
    if not isinstance(value, str):
        return None
    try:
        return int(datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value).timestamp() * 1000)
    except ValueError:
        return None


def _iso_now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def _info(row: Any) -> Optional[SDKSessionInfo]:
    return SDKSessionInfo(*row) if row is not None else None


async def _load_jsonl(store: Any, directory: Optional[str], session_id: str) -> Optional[str]:
    entries = await store.load(_key(directory, session_id))
    return _to_jsonl(entries) if entries else None


# ---- the in-memory store -----------------------------------------------------------------------


class InMemorySessionStore(SessionStore):
    """A SessionStore in a dict, for tests and development (gone when the process ends). Keeps
    each session's summary with ``fold_session_summary`` as it appends."""

    def __init__(self) -> None:
        self._entries: Dict[Tuple[str, str, str], List[Any]] = {}  # (project, session, subpath)
        self._mtimes: Dict[Tuple[str, str, str], int] = {}
        self._summaries: Dict[Tuple[str, str], SessionSummaryEntry] = {}
        self._last_mtime = 0

    @staticmethod
    def _slot(key: Any) -> Tuple[str, str, str]:
        return (key["project_key"], key["session_id"], key.get("subpath") or "")

    def _now(self) -> int:
        # Strictly increasing: two appends in the same millisecond still differ.
        self._last_mtime = max(int(time.time() * 1000), self._last_mtime + 1)
        return self._last_mtime

    async def append(self, key: SessionKey, entries: List[SessionStoreEntry]) -> None:
        slot = self._slot(key)
        self._entries.setdefault(slot, []).extend(entries)
        now = self._now()
        self._mtimes[slot] = now
        if key.get("subpath") is None:  # subagent transcripts do not make the session's summary
            session = slot[:2]
            summary = fold_session_summary(self._summaries.get(session), key, entries)
            summary["mtime"] = now
            self._summaries[session] = summary

    async def load(self, key: SessionKey) -> Optional[List[SessionStoreEntry]]:
        entries = self._entries.get(self._slot(key))
        return None if entries is None else list(entries)

    async def list_sessions(self, project_key: str) -> List[SessionStoreListEntry]:
        return [
            {"session_id": s, "mtime": self._mtimes.get((p, s, sub), 0)}
            for (p, s, sub) in self._entries
            if p == project_key and not sub
        ]

    async def list_session_summaries(self, project_key: str) -> List[SessionSummaryEntry]:
        return [summary for (p, _), summary in self._summaries.items() if p == project_key]

    async def delete(self, key: SessionKey) -> None:
        project, session, subpath = self._slot(key)
        if key.get("subpath") is not None:
            doomed = [(project, session, subpath)]
        else:  # the whole session: its subagent transcripts too
            doomed = [k for k in self._entries if k[:2] == (project, session)]
            self._summaries.pop((project, session), None)
        for k in doomed:
            self._entries.pop(k, None)
            self._mtimes.pop(k, None)

    async def list_subkeys(self, key: SessionListSubkeysKey) -> List[str]:
        return [sub for (p, s, sub) in self._entries if (p, s) == (key["project_key"], key["session_id"]) and sub]

    def get_entries(self, key: SessionKey) -> List[SessionStoreEntry]:
        """The entries stored under ``key`` (empty if none)."""
        return list(self._entries.get(self._slot(key), []))

    @property
    def size(self) -> int:
        """How many sessions (main transcripts) it holds."""
        return sum(1 for (_, _, sub) in self._entries if not sub)

    def clear(self) -> None:
        """Forgets everything."""
        self._entries.clear()
        self._mtimes.clear()
        self._summaries.clear()
        self._last_mtime = 0


# ---- summaries ---------------------------------------------------------------------------------

# Entry fields whose latest string value the summary keeps, and under which name.
_LATEST = {"customTitle": "custom_title", "aiTitle": "ai_title", "lastPrompt": "last_prompt",
           "summary": "summary_hint", "gitBranch": "git_branch"}


def fold_session_summary(
    prev: Optional[SessionSummaryEntry],
    key: SessionKey,
    entries: List[SessionStoreEntry],
) -> SessionSummaryEntry:
    """``prev`` (None for a new session) updated with the entries just appended under ``key`` (a
    main transcript: do not fold subagent keys). Stores call it in ``append`` and keep the result
    as it is; ``data`` is ccbridge's, ``mtime`` is left as it was (0 for a new session): the store
    stamps its write time."""
    if prev is not None:
        summary: SessionSummaryEntry = {"session_id": prev["session_id"], "mtime": prev["mtime"], "data": dict(prev["data"])}
    else:
        summary = {"session_id": key["session_id"], "mtime": 0, "data": {}}
    data = summary["data"]
    for entry in entries:
        e: Dict[str, Any] = dict(entry) if isinstance(entry, dict) else {}
        data.setdefault("is_sidechain", e.get("isSidechain") is True)
        if "created_at" not in data:
            ms = _iso_ms(e.get("timestamp"))
            if ms is not None:
                data["created_at"] = ms
        cwd = e.get("cwd")
        if "cwd" not in data and isinstance(cwd, str) and cwd:
            data["cwd"] = cwd
        if not data.get("first_prompt_locked") and e.get("type") == "user":
            # The engine's first-prompt rule (as for a transcript's head) on this one entry.
            prompt, command = _ccbridge.first_prompt_of_entry(_to_jsonl([e]))
            if prompt is not None:
                data["first_prompt"] = prompt
                data["first_prompt_locked"] = True
            elif command is not None and not data.get("command_fallback"):
                data["command_fallback"] = command
        for field, name in _LATEST.items():
            if isinstance(e.get(field), str):
                data[name] = e[field]
        if e.get("type") == "tag":
            tag = e.get("tag")
            if isinstance(tag, str) and tag:
                data["tag"] = tag
            else:
                data.pop("tag", None)
    return summary


def _summary_info(entry: SessionSummaryEntry, project_path: Optional[str]) -> Optional[SDKSessionInfo]:
    """The SDKSessionInfo of a kept summary (as from the transcript); None for a sidechain or a
    session with nothing to show."""
    data = entry["data"]
    if data.get("is_sidechain"):
        return None
    first_prompt = (data.get("first_prompt") if data.get("first_prompt_locked") else data.get("command_fallback")) or None
    custom_title = data.get("custom_title") or data.get("ai_title") or None
    summary = custom_title or data.get("last_prompt") or data.get("summary_hint") or first_prompt
    if not summary:
        return None
    return SDKSessionInfo(
        session_id=entry["session_id"], summary=summary, last_modified=entry["mtime"], file_size=None,
        custom_title=custom_title, first_prompt=first_prompt, git_branch=data.get("git_branch") or None,
        cwd=data.get("cwd") or project_path or None, tag=data.get("tag") or None, created_at=data.get("created_at"),
    )


# ---- readers -----------------------------------------------------------------------------------


async def _infos_by_loading(store: Any, listing: List[Any], directory: Optional[str], project_path: str) -> List[SDKSessionInfo]:
    """Each listed session's info from its loaded transcript (16 loads at a time). A load that
    fails gives a row with an empty summary; sidechains and sessions with nothing to show are
    left out."""
    limiter = anyio.CapacityLimiter(_LIST_LOAD_CONCURRENCY)
    loaded: List[Any] = [None] * len(listing)

    async def load(i: int, session_id: str) -> None:
        async with limiter:
            try:
                loaded[i] = await _load_jsonl(store, directory, session_id)
            except Exception as e:  # noqa: BLE001 - the store is the caller's code
                loaded[i] = e

    async with anyio.create_task_group() as tg:
        for i, row in enumerate(listing):
            tg.start_soon(load, i, row["session_id"])
    out = []
    for row, text in zip(listing, loaded):
        if isinstance(text, Exception):
            out.append(SDKSessionInfo(session_id=row["session_id"], summary="", last_modified=row["mtime"]))
        elif text is not None:
            info = _info(_ccbridge.session_info_from_text(row["session_id"], text, row["mtime"], project_path))
            if info is not None:
                out.append(info)
    return out


def _page(items: List[Any], limit: Optional[int], offset: int) -> List[Any]:
    if offset > 0:
        items = items[offset:]
    return items[:limit] if limit is not None and limit > 0 else items


async def list_sessions_from_store(
    session_store: SessionStore,
    directory: Optional[str] = None,
    limit: Optional[int] = None,
    offset: int = 0,
) -> List[SDKSessionInfo]:
    """``list_sessions`` over a store, for the project of ``directory`` (default: the current
    directory), newest first. With ``list_session_summaries``, from the kept summaries (a session
    whose summary is missing or older than its ``list_sessions`` mtime is loaded instead, once
    paged); otherwise each session is loaded. Raises ValueError when the store has neither
    ``list_session_summaries`` nor ``list_sessions``."""
    project_path = _project_path(directory)
    project_key = project_key_for_directory(directory)
    has_listing = _store_implements(session_store, "list_sessions")
    if _store_implements(session_store, "list_session_summaries"):
        try:
            summaries = await session_store.list_session_summaries(project_key)
        except NotImplementedError:
            pass
        else:
            listing = list(await session_store.list_sessions(project_key)) if has_listing else []
            mtimes = {row["session_id"]: row["mtime"] for row in listing}
            slots: List[Dict[str, Any]] = []  # {"mtime", "info"} or {"mtime", "session_id", "info": None}
            settled = set()
            for s in summaries:
                sid = s["session_id"]
                if has_listing and (sid not in mtimes or s["mtime"] < mtimes[sid]):
                    continue  # gone, or stale: loaded below when listed
                settled.add(sid)
                info = _summary_info(s, project_path)
                if info is not None:
                    slots.append({"mtime": s["mtime"], "info": info})
            slots += [{"mtime": row["mtime"], "session_id": row["session_id"], "info": None}
                      for row in listing if row["session_id"] not in settled]
            slots.sort(key=lambda slot: slot["mtime"], reverse=True)
            page = _page(slots, limit, offset)
            missing = [slot for slot in page if slot["info"] is None]
            if missing:
                found = {i.session_id: i for i in await _infos_by_loading(session_store, missing, directory, project_path)}
                for slot in missing:
                    slot["info"] = found.get(slot["session_id"])
            return [slot["info"] for slot in page if slot["info"] is not None]
    if not has_listing:
        raise ValueError(
            "session_store implements neither list_session_summaries() nor list_sessions() -- cannot list "
            "sessions. Provide a store with at least one of those methods."
        )
    listing = list(await session_store.list_sessions(project_key))
    infos = await _infos_by_loading(session_store, listing, directory, project_path)
    infos.sort(key=lambda i: i.last_modified, reverse=True)
    return _page(infos, limit, offset)


def _last_entry_ms(text: str) -> int:
    """The last line's timestamp, else now (a store has no file mtime)."""
    last = text.rstrip()
    try:
        entry = json.loads(last[last.rfind("\n") + 1:])
    except ValueError:
        entry = None
    ms = _iso_ms(entry.get("timestamp")) if isinstance(entry, dict) else None
    return ms if ms is not None else int(time.time() * 1000)


async def get_session_info_from_store(
    session_store: SessionStore,
    session_id: str,
    directory: Optional[str] = None,
) -> Optional[SDKSessionInfo]:
    """``get_session_info`` over a store; ``last_modified`` is the last entry's timestamp."""
    if not _ccbridge.is_session_uuid(session_id):
        return None
    text = await _load_jsonl(session_store, directory, session_id)
    if text is None:
        return None
    return _info(_ccbridge.session_info_from_text(session_id, text, _last_entry_ms(text), _project_path(directory)))


async def get_session_messages_from_store(
    session_store: SessionStore,
    session_id: str,
    directory: Optional[str] = None,
    limit: Optional[int] = None,
    offset: int = 0,
) -> List[SessionMessage]:
    """``get_session_messages`` over a store: the same conversation from the loaded entries."""
    if not _ccbridge.is_session_uuid(session_id):
        return []
    text = await _load_jsonl(session_store, directory, session_id)
    if text is None:
        return []
    return [SessionMessage(*row) for row in _ccbridge.session_messages_from_text(text, limit, offset)]


def _agent_id(subpath: str) -> Optional[str]:
    """The agent id of a subagent subpath (``subagents/.../agent-<id>``), else None."""
    if not subpath.startswith("subagents/"):
        return None
    last = subpath.rsplit("/", 1)[-1]
    return last[len("agent-"):] if last.startswith("agent-") else None


async def list_subagents_from_store(
    session_store: SessionStore,
    session_id: str,
    directory: Optional[str] = None,
) -> List[str]:
    """``list_subagents`` over a store (from ``list_subkeys``, which it must have: ValueError)."""
    if not _ccbridge.is_session_uuid(session_id):
        return []
    if not _store_implements(session_store, "list_subkeys"):
        raise ValueError(
            "session_store does not implement list_subkeys() -- cannot list subagents. Provide a store with a "
            "list_subkeys() method."
        )
    subkeys = await session_store.list_subkeys(_key(directory, session_id))
    ids: List[str] = []
    for subpath in subkeys:
        agent = _agent_id(subpath)
        if agent is not None and agent not in ids:
            ids.append(agent)
    return ids


async def get_subagent_messages_from_store(
    session_store: SessionStore,
    session_id: str,
    agent_id: str,
    directory: Optional[str] = None,
    limit: Optional[int] = None,
    offset: int = 0,
) -> List[SessionMessage]:
    """``get_subagent_messages`` over a store: the subagent's transcript is found with
    ``list_subkeys`` (nested ones too) or, without it, at ``subagents/agent-<id>``; its parent
    ids come from its ``agent_metadata`` entry (the last one)."""
    if not _ccbridge.is_session_uuid(session_id) or not agent_id:
        return []
    subpath: Optional[str] = f"subagents/agent-{agent_id}"
    if _store_implements(session_store, "list_subkeys"):
        subkeys = await session_store.list_subkeys(_key(directory, session_id))
        subpath = next((sk for sk in subkeys if _agent_id(sk) == agent_id), None)
        if subpath is None:
            return []
    entries = await session_store.load(_key(directory, session_id, subpath))
    if not entries:
        return []
    meta: Dict[str, Any] = {}
    transcript = []
    for e in entries:
        if isinstance(e, dict) and e.get("type") == "agent_metadata":
            meta = dict(e)
        else:
            transcript.append(e)
    if not transcript:
        return []
    tool_use_id, parent_agent_id = (v if isinstance(v, str) else None for v in (meta.get("toolUseId"), meta.get("parentAgentId")))
    rows = _ccbridge.subagent_messages_from_text(_to_jsonl(transcript), tool_use_id, parent_agent_id, limit, offset)
    return [SessionMessage(*row) for row in rows]


# ---- writers -----------------------------------------------------------------------------------


async def rename_session_via_store(
    session_store: SessionStore,
    session_id: str,
    title: str,
    directory: Optional[str] = None,
) -> None:
    """``rename_session`` over a store: appends a custom-title entry (the title trimmed)."""
    _require_uuid(session_id, "session_id")
    title = title.strip()
    if not title:
        raise ValueError("title must be non-empty")
    entry = {"type": "custom-title", "customTitle": title, "sessionId": session_id, "uuid": str(_uuid.uuid4()),
             "timestamp": _iso_now()}
    await session_store.append(_key(directory, session_id), [entry])  # type: ignore[list-item]


async def tag_session_via_store(
    session_store: SessionStore,
    session_id: str,
    tag: Optional[str],
    directory: Optional[str] = None,
) -> None:
    """``tag_session`` over a store: appends a tag entry; None clears the tag."""
    _require_uuid(session_id, "session_id")
    if tag is not None:
        tag = (_sanitize_tag(tag) or "").strip()
        if not tag:
            raise ValueError("tag must be non-empty (use None to clear)")
    entry = {"type": "tag", "tag": tag or "", "sessionId": session_id, "uuid": str(_uuid.uuid4()),
             "timestamp": _iso_now()}
    await session_store.append(_key(directory, session_id), [entry])  # type: ignore[list-item]


async def delete_session_via_store(
    session_store: SessionStore,
    session_id: str,
    directory: Optional[str] = None,
) -> None:
    """``delete_session`` over a store: its ``delete`` (whether subagent transcripts go too is
    the store's choice); a store without ``delete`` keeps everything."""
    _require_uuid(session_id, "session_id")
    if _store_implements(session_store, "delete"):
        await session_store.delete(_key(directory, session_id))


async def fork_session_via_store(
    session_store: SessionStore,
    session_id: str,
    directory: Optional[str] = None,
    up_to_message_id: Optional[str] = None,
    title: Optional[str] = None,
) -> ForkSessionResult:
    """``fork_session`` over a store: the fork of the loaded transcript, appended under its new id."""
    _require_uuid(session_id, "session_id")
    if up_to_message_id:
        _require_uuid(up_to_message_id, "up_to_message_id")
    text = await _load_jsonl(session_store, directory, session_id)
    if text is None:
        raise FileNotFoundError(f"Session {session_id} not found")
    fork_id, fork_text = _call(_ccbridge.fork_transcript, session_id, text, up_to_message_id or None, title)
    entries = [json.loads(line) for line in fork_text.splitlines() if line]
    await session_store.append(_key(directory, fork_id), entries)
    return ForkSessionResult(session_id=fork_id)


# ---- import ------------------------------------------------------------------------------------


def _jsonl_files(directory: Path) -> Iterator[Path]:
    """Every ``*.jsonl`` under ``directory``, depth first in name order."""
    try:
        children = sorted(directory.iterdir(), key=lambda p: p.name)
    except OSError:
        return
    for child in children:
        if child.is_dir():
            yield from _jsonl_files(child)
        elif child.is_file() and child.name.endswith(".jsonl"):
            yield child


async def _append_file(path: Path, key: SessionKey, store: Any, batch_size: int) -> None:
    batch: List[Any] = []
    size = 0
    with path.open(encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            batch.append(json.loads(line))
            size += len(line)
            if len(batch) >= batch_size or size >= MAX_PENDING_BYTES:
                await store.append(key, batch)
                batch, size = [], 0
    if batch:
        await store.append(key, batch)


def _agent_metadata(transcript: Path) -> Optional[Dict[str, Any]]:
    """The ``agent-<id>.meta.json`` beside a subagent transcript; None when it is missing or not
    a JSON object (other read errors are raised)."""
    try:
        meta = json.loads(transcript.with_name(transcript.name[: -len(".jsonl")] + ".meta.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


async def import_session_to_store(
    session_id: str,
    store: SessionStore,
    *,
    directory: Optional[str] = None,
    include_subagents: bool = True,
    batch_size: int = MAX_PENDING_ENTRIES,
) -> None:
    """Copies a session's transcript from disk into ``store`` (as the mirror would have), in
    appends of ``batch_size`` entries or 1 MiB; with ``include_subagents`` also its subagent
    transcripts and their metadata (an ``agent_metadata`` entry). The key's project is the
    directory the transcript was found in. Raises ValueError for an invalid id and
    FileNotFoundError when there is no such transcript."""
    _require_uuid(session_id, "session_id")
    found = _ccbridge.session_transcript_path(session_id, _directory(directory))
    if found is None:
        raise FileNotFoundError(f"Session {session_id} not found")
    path = Path(found)
    if batch_size <= 0:
        batch_size = MAX_PENDING_ENTRIES
    project_key = path.parent.name
    await _append_file(path, {"project_key": project_key, "session_id": session_id}, store, batch_size)
    if not include_subagents:
        return
    session_dir = path.with_suffix("")
    for file in _jsonl_files(session_dir / "subagents"):
        parts = list(file.relative_to(session_dir).parts)
        parts[-1] = parts[-1][: -len(".jsonl")]
        key: SessionKey = {"project_key": project_key, "session_id": session_id, "subpath": "/".join(parts)}
        await _append_file(file, key, store, batch_size)
        meta = _agent_metadata(file)
        if meta is not None:
            # The marker last: a "type" in the sidecar must not hide it.
            marked: Any = {**meta, "type": "agent_metadata"}
            await store.append(key, [marked])
