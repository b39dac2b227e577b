"""Session history: the Claude Code CLI's own transcripts, with the official SDK's functions.

The CLI keeps one JSONL transcript per session under ``$CLAUDE_CONFIG_DIR/projects`` (default
``~/.claude/projects``), in a directory named after the session's working directory. These
functions list, read, rename, tag, delete and fork them; the work is done by the C++ core
(``<ccbridge/session_history.hpp>``), the same code C++ and C users call.

Readers return an empty result for what they cannot find or use; writers raise ``ValueError``
(an invalid id, a blank title or tag) or ``FileNotFoundError`` (no such session), like the
official SDK.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from . import _ccbridge

__all__ = [
    "SDKSessionInfo", "SessionMessage", "ForkSessionResult", "list_sessions", "get_session_info",
    "get_session_messages", "list_subagents", "get_subagent_messages", "rename_session", "tag_session",
    "delete_session", "fork_session", "project_key_for_directory",
]


@dataclass
class SDKSessionInfo:
    """Session metadata returned by ``list_sessions()`` (from a stat and the transcript's ends).

    ``summary`` is the custom title, else the latest summary, else the first prompt;
    ``last_modified`` and ``created_at`` are milliseconds since the epoch.
    """

    session_id: str
    summary: str
    last_modified: int
    file_size: int | None = None
    custom_title: str | None = None
    first_prompt: str | None = None
    git_branch: str | None = None
    cwd: str | None = None
    tag: str | None = None
    created_at: int | None = None


@dataclass
class SessionMessage:
    """A user or assistant message of a transcript (``message`` is the API message dict)."""

    type: Literal["user", "assistant"]
    uuid: str
    session_id: str
    message: Any
    parent_tool_use_id: str | None = None
    parent_agent_id: str | None = None


@dataclass
class ForkSessionResult:
    """Result of a fork operation."""

    session_id: str
    """UUID of the new forked session."""


def _directory(directory: str | os.PathLike[str] | None) -> str:
    # The CLI names project directories after NFC paths (macOS may hand out decomposed ones).
    return unicodedata.normalize("NFC", os.fspath(directory)) if directory else ""


def _engine_error(err: BaseException) -> Exception:
    """The official SDK's exception for an engine error: ValueError, FileNotFoundError or OSError."""
    code, message = (list(err.args) + [None, None])[:2]
    text = str(message or code)
    if text.startswith("[ccbridge.") and "] " in text:
        text = text.split("] ", 1)[1]
    if code == "invalid_argument":
        return ValueError(text)
    if code == "session_not_found":
        return FileNotFoundError(text)
    return OSError(text)


def _sanitize_tag(tag: str | None) -> str | None:
    """A tag without format, private-use and unassigned characters (zero-width, bidi controls,
    BOM, ...), after NFKC; repeated until stable, as NFKC may expose more. (The engine removes
    format and private-use characters too, and the surrounding whitespace; NFKC and unassigned
    code points need Python's Unicode database.)"""
    if tag is None:
        return None
    for _ in range(10):
        previous = tag
        tag = "".join(c for c in unicodedata.normalize("NFKC", tag) if unicodedata.category(c) not in ("Cf", "Co", "Cn"))
        if tag == previous:
            break
    return tag


def _call(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except _ccbridge.Error as e:
        raise _engine_error(e) from None


def list_sessions(
    directory: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    include_worktrees: bool = True,
) -> list[SDKSessionInfo]:
    """Sessions newest first: of ``directory`` (and its git worktrees), or of every project."""
    rows = _ccbridge.list_sessions(_directory(directory), limit, offset, include_worktrees)
    return [SDKSessionInfo(*row) for row in rows]


def get_session_info(session_id: str, directory: str | None = None) -> SDKSessionInfo | None:
    """One session's metadata, or ``None`` if not found, a sidechain, or without anything to show."""
    row = _ccbridge.get_session_info(session_id, _directory(directory))
    return SDKSessionInfo(*row) if row is not None else None


def get_session_messages(
    session_id: str,
    directory: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[SessionMessage]:
    """A session's conversation in order, rebuilt from its transcript's ``parentUuid`` chain."""
    rows = _ccbridge.get_session_messages(session_id, _directory(directory), limit, offset)
    return [SessionMessage(*row) for row in rows]


def list_subagents(session_id: str, directory: str | None = None) -> list[str]:
    """The ids of a session's subagents (their transcripts under ``<session>/subagents/``)."""
    return list(_ccbridge.list_subagents(session_id, _directory(directory)))


def get_subagent_messages(
    session_id: str,
    agent_id: str,
    directory: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[SessionMessage]:
    """A subagent's conversation; ``parent_tool_use_id``/``parent_agent_id`` from its metadata."""
    rows = _ccbridge.get_subagent_messages(session_id, agent_id, _directory(directory), limit, offset)
    return [SessionMessage(*row) for row in rows]


def rename_session(session_id: str, title: str, directory: str | None = None) -> None:
    """Appends a custom-title entry (the title, trimmed); the latest one is the session's title."""
    _call(_ccbridge.rename_session, session_id, title, _directory(directory))


def tag_session(session_id: str, tag: str | None, directory: str | None = None) -> None:
    """Appends a tag entry; ``None`` clears the tag. Invisible characters are removed first."""
    _call(_ccbridge.tag_session, session_id, _sanitize_tag(tag), _directory(directory))


def delete_session(session_id: str, directory: str | None = None) -> None:
    """Removes the transcript and its subagent transcripts (a hard delete)."""
    _call(_ccbridge.delete_session, session_id, _directory(directory))


def fork_session(
    session_id: str,
    directory: str | None = None,
    up_to_message_id: str | None = None,
    title: str | None = None,
) -> ForkSessionResult:
    """Copies a session (up to and including ``up_to_message_id``) into a new one with fresh ids."""
    new_id = _call(_ccbridge.fork_session, session_id, _directory(directory), up_to_message_id or None, title)
    return ForkSessionResult(session_id=new_id)


def project_key_for_directory(directory: str | Path | None = None) -> str:
    """The CLI's directory name for a project (default: the current directory), realpath'd."""
    return _ccbridge.project_key_for_directory(_directory(directory) or ".")
