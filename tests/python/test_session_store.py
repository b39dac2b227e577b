"""The SessionStore helpers (ccbridge/session_store.py over the C++ core's from-text functions),
beyond the official tests: a transcript read from a store gives what the same transcript gives
read from its file; the summary kept by fold_session_summary gives what the transcript gives; the
writers' entries, and the store-less paths' errors."""

import json
import uuid

import anyio
import pytest

import ccbridge
from ccbridge import (
    InMemorySessionStore,
    fold_session_summary,
    fork_session,
    fork_session_via_store,
    get_session_info,
    get_session_info_from_store,
    get_session_messages,
    get_session_messages_from_store,
    get_subagent_messages,
    get_subagent_messages_from_store,
    import_session_to_store,
    list_sessions,
    list_sessions_from_store,
    list_subagents,
    list_subagents_from_store,
    project_key_for_directory,
    tag_session_via_store,
)
from ccbridge.session_store import _summary_info

SID = "11111111-2222-4333-8444-555555555555"


def run(fn, *args, **kwargs):
    return anyio.run(lambda: fn(*args, **kwargs))


def U(name):
    """A fixed UUID for a readable name (fork needs UUIDs)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def line(kind, uid, parent, content=None, **extra):
    e = {"type": kind, "uuid": U(uid), "parentUuid": parent and U(parent), "sessionId": SID, **extra}
    if content is not None:
        e["message"] = {"role": kind, "content": content}
    return e


# A transcript with what the readers look at: a slash command before the first prompt, a title,
# a branch, a tag, a rewound branch, a parallel tool turn and non-ASCII text.
TRANSCRIPT = [
    line("user", "u0", None, "<command-name>/init</command-name>", cwd="/w", timestamp="2026-01-15T10:30:00.000Z",
         gitBranch="main"),
    line("user", "u1", "u0", [{"type": "text", "text": "Bitte prüfe  \n das"}], timestamp="2026-01-15T10:30:01.000Z"),
    line("assistant", "a-old", "u1", "abandoned"),
    line("assistant", "a1", "u1", [{"type": "tool_use", "id": "t1", "name": "Read", "input": {}}],
         timestamp="2026-01-15T10:30:02.000Z"),
    {"type": "custom-title", "customTitle": "Prüfung", "sessionId": SID},
    line("user", "r1", "a1", [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}],
         timestamp="2026-01-15T10:30:03.000Z"),
    line("assistant", "a2", "r1", "fertig ✓", timestamp="2026-01-15T10:30:04.000Z", gitBranch="feature"),
    {"type": "tag", "tag": "review", "sessionId": SID},
    {"type": "progress", "uuid": U("p1"), "parentUuid": U("a2"), "sessionId": SID, "timestamp": "2026-01-15T10:30:05.000Z"},
]


def on_disk(config, tmp_path, entries=TRANSCRIPT):
    work = tmp_path / "proj"
    work.mkdir()
    storage = config / "projects" / project_key_for_directory(work)
    storage.mkdir()
    (storage / f"{SID}.jsonl").write_text("".join(json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n" for e in entries))
    return str(work), storage


def test_a_stored_transcript_reads_as_its_file(config, tmp_path):
    work, storage = on_disk(config, tmp_path)
    sub = [line("user", "s1", None, "task"), line("assistant", "s2", "s1", "done")]
    (storage / SID / "subagents").mkdir(parents=True)
    (storage / SID / "subagents" / "agent-x1.jsonl").write_text("".join(json.dumps(e) + "\n" for e in sub))
    (storage / SID / "subagents" / "agent-x1.meta.json").write_text('{"toolUseId": "t9", "parentAgentId": "p"}')
    store = InMemorySessionStore()
    run(import_session_to_store, SID, store, directory=work)

    file_info, store_info = get_session_info(SID, work), run(get_session_info_from_store, store, SID, work)
    assert store_info is not None and file_info is not None
    # The store has no file: the time is the last line's.
    assert store_info.last_modified == ccbridge.session_store._iso_ms("2026-01-15T10:30:05.000Z")
    for field in ("summary", "custom_title", "first_prompt", "git_branch", "cwd", "tag", "created_at"):
        assert getattr(store_info, field) == getattr(file_info, field), field
    assert (store_info.summary, store_info.first_prompt, store_info.tag) == ("Prüfung", "Bitte prüfe    das", "review")

    for limit, offset in ((None, 0), (2, 1), (1, 3), (None, 9)):
        assert (run(get_session_messages_from_store, store, SID, work, limit, offset)
                == get_session_messages(SID, work, limit, offset)), (limit, offset)
    assert [m.uuid for m in get_session_messages(SID, work)] == [U(n) for n in ("u0", "u1", "a1", "r1", "a2")]

    assert run(list_subagents_from_store, store, SID, work) == list_subagents(SID, work) == ["x1"]
    assert run(get_subagent_messages_from_store, store, SID, "x1", work) == get_subagent_messages(SID, "x1", work)
    assert get_subagent_messages(SID, "x1", work)[0].parent_tool_use_id == "t9"

    listed = run(list_sessions_from_store, store, work)
    assert [(i.session_id, i.summary, i.tag) for i in listed] == [(s.session_id, s.summary, s.tag) for s in list_sessions(work)]


def test_the_kept_summary_gives_what_the_transcript_gives(config, tmp_path):
    """fold_session_summary, batch by batch, against the C++ reader over the whole text."""
    key = {"project_key": "p", "session_id": SID}
    for entries in (TRANSCRIPT, TRANSCRIPT[:2], TRANSCRIPT[:1], [TRANSCRIPT[2]],
                    TRANSCRIPT + [{"type": "tag", "tag": "", "sessionId": SID}]):
        summary = None
        for i in range(0, len(entries), 2):
            summary = fold_session_summary(summary, key, entries[i:i + 2])
        summary["mtime"] = 7
        text = ccbridge.session_store._to_jsonl(entries)
        expected = ccbridge._ccbridge.session_info_from_text(SID, text, 7, "/proj")
        got = _summary_info(summary, "/proj")
        if expected is None:
            assert got is None
            continue
        expected = ccbridge.SDKSessionInfo(*expected)
        expected.file_size = None
        assert got == expected


def test_fork_via_store_is_the_file_fork(config, tmp_path):
    work, _ = on_disk(config, tmp_path)
    store = InMemorySessionStore()
    run(import_session_to_store, SID, store, directory=work)
    via_store = run(fork_session_via_store, store, SID, work, U("a1"), None).session_id
    on_file = fork_session(SID, work, U("a1")).session_id
    ours = run(get_session_messages_from_store, store, via_store, work)
    theirs = get_session_messages(on_file, work)
    assert [(m.type, m.message) for m in ours] == [(m.type, m.message) for m in theirs]
    assert {m.session_id for m in ours} == {via_store}
    assert run(get_session_info_from_store, store, via_store, work).custom_title == "Prüfung (fork)"
    with pytest.raises(FileNotFoundError, match="not found"):
        run(fork_session_via_store, store, str(uuid.uuid4()), work)
    with pytest.raises(ValueError, match="Invalid up_to_message_id"):
        run(fork_session_via_store, store, SID, work, "nope")
    with pytest.raises(ValueError, match="not found in session"):
        run(fork_session_via_store, store, SID, work, str(uuid.uuid4()))


def test_tag_via_store_removes_invisible_characters_as_the_file_tag_does(config, tmp_path):
    store = InMemorySessionStore()
    run(tag_session_via_store, store, SID, "  \u200bre\ufeffview\u202e ", "/x")
    run(tag_session_via_store, store, SID, None, "/x")
    entries = store.get_entries({"project_key": project_key_for_directory("/x"), "session_id": SID})
    assert [(e["type"], e["tag"]) for e in entries] == [("tag", "review"), ("tag", "")]
    with pytest.raises(ValueError, match="tag must be non-empty"):
        run(tag_session_via_store, store, SID, "\u200b \u2060", "/x")


def test_store_without_listing_and_bad_ids():
    class Minimal:
        async def append(self, key, entries):
            pass

        async def load(self, key):
            return None

    with pytest.raises(ValueError, match="neither list_session_summaries"):
        run(list_sessions_from_store, Minimal())
    with pytest.raises(ValueError, match="list_subkeys"):
        run(list_subagents_from_store, Minimal(), SID)
    assert run(get_session_info_from_store, Minimal(), "nope") is None
    assert run(get_session_messages_from_store, Minimal(), SID) == []
    with pytest.raises(FileNotFoundError):
        run(import_session_to_store, SID, Minimal(), directory="/no/such/dir")
    with pytest.raises(ValueError, match="Invalid session_id"):
        run(import_session_to_store, "nope", Minimal())
