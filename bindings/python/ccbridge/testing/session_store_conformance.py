"""The behaviour every SessionStore adapter must have, checked with plain asserts.

    from ccbridge.testing import run_session_store_conformance

    async def test_my_store():
        await run_session_store_conformance(MyStore)

``make_store`` (plain or async) is called for a fresh store per check. The checks of an optional
method (list_sessions, list_session_summaries, delete, list_subkeys) run only when the store has
its own and it is not named in ``skip_optional``.
"""

from __future__ import annotations

import inspect
import math
from typing import Any, Awaitable, Callable, FrozenSet, Union

from ..session_store import SessionKey, SessionStore, _store_implements, fold_session_summary

__all__ = ["run_session_store_conformance"]

_OPTIONAL = frozenset({"list_sessions", "list_session_summaries", "delete", "list_subkeys"})
_KEY: SessionKey = {"project_key": "proj", "session_id": "sess"}
_SUB1: SessionKey = {**_KEY, "subpath": "subagents/agent-1"}
_SUB2: SessionKey = {**_KEY, "subpath": "subagents/agent-2"}


def _entry(**fields: Any) -> Any:
    """An entry: ``type`` is required; its value does not matter to a store."""
    return {"type": "x", **fields}


def _key(project: str, session: str, subpath: str = "") -> SessionKey:
    key: SessionKey = {"project_key": project, "session_id": session}
    if subpath:
        key["subpath"] = subpath
    return key


async def run_session_store_conformance(
    make_store: Callable[[], Union[SessionStore, Awaitable[SessionStore]]],
    *,
    skip_optional: FrozenSet[str] = frozenset(),
) -> None:
    """Asserts the store contracts (see the module docstring)."""
    unknown = skip_optional - _OPTIONAL
    assert not unknown, f"unknown optional methods in skip_optional: {unknown}"

    async def fresh() -> Any:
        store = make_store()
        return await store if inspect.isawaitable(store) else store

    probe = await fresh()
    has = {m: m not in skip_optional and _store_implements(probe, m) for m in _OPTIONAL}
    e = _entry

    # Entries come back equal (deep, not byte for byte) and in order.
    store = await fresh()
    await store.append(_KEY, [e(uuid="b", n=1), e(uuid="a", n=2)])
    assert await store.load(_KEY) == [e(uuid="b", n=1), e(uuid="a", n=2)]

    # A key never written loads as None, a subpath of a written session too.
    store = await fresh()
    assert await store.load(_key("proj", "nope")) is None
    await store.append(_KEY, [e(uuid="x", n=1)])
    assert await store.load(_key("proj", "sess", "nope")) is None

    # Appends keep call order.
    store = await fresh()
    await store.append(_KEY, [e(uuid="z", n=1)])
    await store.append(_KEY, [e(uuid="a", n=2), e(uuid="m", n=3)])
    await store.append(_KEY, [e(uuid="b", n=4)])
    assert await store.load(_KEY) == [e(uuid="z", n=1), e(uuid="a", n=2), e(uuid="m", n=3), e(uuid="b", n=4)]

    # An empty append changes nothing.
    store = await fresh()
    await store.append(_KEY, [e(uuid="a", n=1)])
    await store.append(_KEY, [])
    assert await store.load(_KEY) == [e(uuid="a", n=1)]

    # A subpath is a transcript of its own.
    store = await fresh()
    await store.append(_KEY, [e(uuid="m", n=1)])
    await store.append(_SUB1, [e(uuid="s", n=1)])
    assert await store.load(_KEY) == [e(uuid="m", n=1)]
    assert await store.load(_SUB1) == [e(uuid="s", n=1)]

    # Projects do not share sessions.
    store = await fresh()
    await store.append(_key("A", "s1"), [e(origin="A")])
    await store.append(_key("B", "s1"), [e(origin="B")])
    assert await store.load(_key("A", "s1")) == [e(origin="A")]
    assert await store.load(_key("B", "s1")) == [e(origin="B")]
    if has["list_sessions"]:
        assert len(await store.list_sessions("A")) == 1
        assert len(await store.list_sessions("B")) == 1

    if has["list_sessions"]:
        # A project's sessions with epoch-millisecond mtimes (> 1e12 rules out seconds).
        store = await fresh()
        for project, session in (("proj", "a"), ("proj", "b"), ("other", "c")):
            await store.append(_key(project, session), [e(n=1)])
        sessions = await store.list_sessions("proj")
        assert sorted(s["session_id"] for s in sessions) == ["a", "b"]
        assert all(math.isfinite(s["mtime"]) and s["mtime"] > 1e12 for s in sessions)
        assert await store.list_sessions("never-appended-project") == []

        # Subagent transcripts are not sessions.
        store = await fresh()
        await store.append(_key("proj", "main"), [e(n=1)])
        await store.append(_key("proj", "main", "subagents/agent-1"), [e(n=1)])
        assert [s["session_id"] for s in await store.list_sessions("proj")] == ["main"]

    if has["list_session_summaries"]:
        # The summaries are the folds, kept as they are, stamped with the store's write time.
        store = await fresh()
        key = _key("proj", "summ-sess")
        await store.append(key, [e(timestamp="2024-01-01T00:00:00.000Z", customTitle="first"),
                                 e(timestamp="2024-01-01T00:00:01.000Z")])
        await store.append(key, [e(timestamp="2024-01-01T00:00:02.000Z", customTitle="second")])
        await store.append(_key("other", "elsewhere"), [e(timestamp="2024-01-01T00:00:00.000Z")])
        summaries = {s["session_id"]: s for s in await store.list_session_summaries("proj")}
        assert set(summaries) == {"summ-sess"}
        summary = summaries["summ-sess"]
        assert math.isfinite(summary["mtime"]) and summary["mtime"] > 1e12
        if has["list_sessions"]:
            # The same clock as list_sessions: an older summary would always look stale.
            listed = {s["session_id"]: s["mtime"] for s in await store.list_sessions("proj")}
            assert summary["mtime"] >= listed["summ-sess"]
        assert isinstance(summary["data"], dict)
        refolded = fold_session_summary(summary, key, [e(timestamp="2024-01-01T00:00:03.000Z")])
        assert refolded["session_id"] == "summ-sess" and refolded["mtime"] == summary["mtime"]
        # A subagent's entries leave the session's summary alone.
        await store.append(_key("proj", "summ-sess", "subagents/agent-1"),
                           [e(timestamp="2024-01-01T00:00:09.000Z", customTitle="subagent")])
        after = {s["session_id"]: s for s in await store.list_session_summaries("proj")}
        assert after["summ-sess"]["data"] == summary["data"]
        assert await store.list_session_summaries("never-appended-project") == []
        if has["delete"]:
            await store.delete(key)
            assert await store.list_session_summaries("proj") == []

    if has["delete"]:
        # Deleting a session never written is fine; a deleted one loads as None.
        store = await fresh()
        await store.delete(_key("proj", "never-written"))
        await store.append(_KEY, [e(n=1)])
        await store.delete(_KEY)
        assert await store.load(_KEY) is None

        # Deleting a session takes its subkeys, nothing else.
        store = await fresh()
        other, other_project = _key("proj", "sess2"), _key("other-proj", _KEY["session_id"])
        for key in (_KEY, _SUB1, _SUB2, other, other_project):
            await store.append(key, [e(n=1)])
        await store.delete(_KEY)
        for key in (_KEY, _SUB1, _SUB2):
            assert await store.load(key) is None
        for key in (other, other_project):
            kept = await store.load(key)
            assert kept is not None and len(kept) == 1
        if has["list_subkeys"]:
            assert await store.list_subkeys(_KEY) == []
        if has["list_sessions"]:
            assert _KEY["session_id"] not in [s["session_id"] for s in await store.list_sessions("proj")]

        # Deleting a subkey takes only it.
        store = await fresh()
        for key in (_KEY, _SUB1, _SUB2):
            await store.append(key, [e(n=1)])
        await store.delete(_SUB1)
        assert await store.load(_SUB1) is None
        for key in (_SUB2, _KEY):
            kept = await store.load(key)
            assert kept is not None and len(kept) == 1
        if has["list_subkeys"]:
            assert await store.list_subkeys(_KEY) == ["subagents/agent-2"]

    if has["list_subkeys"]:
        # A session's subpaths, not another session's.
        store = await fresh()
        for key in (_KEY, _SUB1, _SUB2, _key("proj", "other-sess", "subagents/agent-x")):
            await store.append(key, [e(n=1)])
        subkeys = await store.list_subkeys(_KEY)
        assert sorted(subkeys) == ["subagents/agent-1", "subagents/agent-2"]

        # The main transcript is not a subkey.
        store = await fresh()
        await store.append(_KEY, [e(n=1)])
        assert await store.list_subkeys(_KEY) == []
        assert await store.list_subkeys(_key("proj", "never-appended")) == []
