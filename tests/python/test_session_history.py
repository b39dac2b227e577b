"""The session-history API (ccbridge/sessions.py over the C++ core) on transcripts written to a
temporary CLAUDE_CONFIG_DIR: listing and metadata, the conversation chain, subagents, and the
writers with the official SDK's exceptions. Where the official SDK is installed, the signatures
and dataclass fields are compared with its own."""

import dataclasses
import inspect
import json
import os
import uuid

import pytest

import ccbridge
from ccbridge import (
    ForkSessionResult,
    SDKSessionInfo,
    SessionMessage,
    delete_session,
    fork_session,
    get_session_info,
    get_session_messages,
    get_subagent_messages,
    list_sessions,
    list_subagents,
    project_key_for_directory,
    rename_session,
    tag_session,
)

NAMES = [
    "list_sessions", "get_session_info", "get_session_messages", "list_subagents", "get_subagent_messages",
    "rename_session", "tag_session", "delete_session", "fork_session", "project_key_for_directory",
    "SDKSessionInfo", "SessionMessage", "ForkSessionResult",
]


def project(config, tmp_path, name="proj"):
    """(working directory, its storage directory), both created."""
    work = tmp_path / name
    work.mkdir()
    storage = config / "projects" / project_key_for_directory(work)
    storage.mkdir()
    return str(work), storage


def entry(kind, uid, parent, text=None, sid="", **extra):
    e = {"type": kind, "uuid": uid, "parentUuid": parent, "sessionId": sid, **extra}
    if text is not None:
        e["message"] = {"role": kind, "content": text}
    return e


def write(path, entries):
    path.write_text("".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in entries), encoding="utf-8")


def test_exported_in_all():
    for name in NAMES:
        assert name in ccbridge.__all__
        assert getattr(ccbridge, name) is not None


def test_signatures_and_fields_match_the_official_sdk():
    sdk = pytest.importorskip("claude_agent_sdk")
    for name in NAMES:
        ours, theirs = getattr(ccbridge, name), getattr(sdk, name)
        if dataclasses.is_dataclass(theirs):
            assert [(f.name, f.default) for f in dataclasses.fields(ours)] == [
                (f.name, f.default) for f in dataclasses.fields(theirs)
            ]
        else:
            ours_p = [(p.name, p.default, p.kind) for p in inspect.signature(ours).parameters.values()]
            theirs_p = [(p.name, p.default, p.kind) for p in inspect.signature(theirs).parameters.values()]
            assert ours_p == theirs_p, name


def test_listing_and_metadata(config, tmp_path):
    work, storage = project(config, tmp_path)
    old, new = str(uuid.uuid4()), str(uuid.uuid4())
    write(storage / f"{old}.jsonl", [
        {"type": "user", "message": {"content": "<command-name>/init</command-name>"}},
        {"type": "user", "message": {"content": "first question"}, "gitBranch": "dev",
         "timestamp": "2026-01-15T10:30:00.000Z", "cwd": "/somewhere"},
        "garbage {{{",
        {"type": "summary", "summary": "the summary", "gitBranch": "main"},
    ])
    write(storage / f"{new}.jsonl", [{"type": "user", "message": {"content": "x" * 300}}])
    write(storage / f"{uuid.uuid4()}.jsonl", [{"type": "user", "isSidechain": True, "message": {"content": "s"}}])
    (storage / f"{uuid.uuid4()}.jsonl").write_text("")
    os.utime(storage / f"{old}.jsonl", (1000, 1000))
    os.utime(storage / f"{new}.jsonl", (2000, 2000))

    sessions = list_sessions(directory=work)
    assert [s.session_id for s in sessions] == [new, old]
    s = sessions[1]
    assert isinstance(s, SDKSessionInfo)
    assert (s.summary, s.first_prompt, s.git_branch, s.cwd, s.tag, s.custom_title) == (
        "the summary", "first question", "main", "/somewhere", None, None)
    assert (s.last_modified, s.created_at) == (1_000_000, 1768473000000)
    assert s.file_size == (storage / f"{old}.jsonl").stat().st_size
    assert sessions[0].first_prompt == "x" * 200 + "\u2026"
    assert sessions[0].cwd == os.path.realpath(work)
    assert [x.session_id for x in list_sessions(limit=1, offset=1)] == [old]
    assert len(list_sessions(directory=work, limit=0)) == 2
    assert get_session_info(old, directory=work) == s
    assert get_session_info(old).summary == "the summary"
    assert get_session_info("not-a-uuid") is None


def test_missing_things_are_empty(tmp_path, monkeypatch):
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "none"))
    sid = str(uuid.uuid4())
    assert list_sessions() == []
    assert get_session_info(sid) is None
    assert get_session_messages(sid) == []
    assert list_subagents(sid) == []
    assert get_subagent_messages(sid, "a") == []
    with pytest.raises(FileNotFoundError, match="no projects directory"):
        rename_session(sid, "t")


def test_conversation_chain(config, tmp_path):
    work, storage = project(config, tmp_path)
    sid = str(uuid.uuid4())
    write(storage / f"{sid}.jsonl", [
        entry("user", "u1", None, "hello", sid),
        entry("user", "m", "u1", "meta", sid, isMeta=True),
        entry("progress", "p", "m", sid=sid),
        entry("assistant", "a1", "p", [{"type": "text", "text": "hi"}], sid),
        entry("user", "rewound", "a1", "abandoned", sid),
        entry("user", "u2", "a1", "again", sid, big=123456789012345678901234567890),
        entry("system", "s", "u2", sid=sid),
    ])
    messages = get_session_messages(sid, directory=work)
    assert [m.uuid for m in messages] == ["u1", "a1", "u2"]
    assert all(isinstance(m, SessionMessage) for m in messages)
    assert messages[0] == SessionMessage("user", "u1", sid, {"role": "user", "content": "hello"}, None, None)
    assert messages[1].message["content"] == [{"type": "text", "text": "hi"}]
    assert [m.uuid for m in get_session_messages(sid, limit=1, offset=1)] == ["a1"]
    assert get_session_messages(sid, offset=5) == []
    assert get_session_messages("nope") == []


def test_subagents(config, tmp_path):
    work, storage = project(config, tmp_path)
    sid = str(uuid.uuid4())
    write(storage / f"{sid}.jsonl", [entry("user", "u", None, "hi", sid)])
    nested = storage / sid / "subagents" / "workflows" / "r1"
    nested.mkdir(parents=True)
    write(nested / "agent-abc.jsonl", [entry("user", "s1", None, "task", sid), entry("assistant", "s2", "s1", "ok", sid)])
    (nested / "agent-abc.meta.json").write_text(json.dumps({"toolUseId": "toolu_1", "parentAgentId": "p"}))
    assert list_subagents(sid, directory=work) == ["abc"]
    messages = get_subagent_messages(sid, "abc", directory=work)
    assert [(m.uuid, m.parent_tool_use_id, m.parent_agent_id) for m in messages] == [
        ("s1", "toolu_1", "p"), ("s2", "toolu_1", "p")]


def test_rename_tag_delete(config, tmp_path):
    work, storage = project(config, tmp_path)
    sid = str(uuid.uuid4())
    path = storage / f"{sid}.jsonl"
    write(path, [entry("user", "u", None, "hello", sid)])
    rename_session(sid, "  Title \u00e9  ", directory=work)
    tag_session(sid, "\ufb01x\u200b", directory=work)  # NFKC: "ﬁ" -> "fi"; the zero-width space goes
    lines = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[-2]) == {"type": "custom-title", "customTitle": "Title \u00e9", "sessionId": sid}
    assert lines[-1] == f'{{"type":"tag","tag":"fix","sessionId":"{sid}"}}'
    info = get_session_info(sid, directory=work)
    assert (info.summary, info.custom_title, info.tag) == ("Title \u00e9", "Title \u00e9", "fix")
    tag_session(sid, None)
    assert get_session_info(sid).tag is None

    with pytest.raises(ValueError, match="Invalid session_id: nope"):
        rename_session("nope", "t")
    with pytest.raises(ValueError, match="title must be non-empty"):
        rename_session(sid, " \n")
    with pytest.raises(ValueError, match="tag must be non-empty"):
        tag_session(sid, "\u200b\ufeff")
    with pytest.raises(FileNotFoundError, match="not found in project directory for"):
        tag_session(str(uuid.uuid4()), "t", directory=work)

    (storage / sid / "subagents").mkdir(parents=True)
    delete_session(sid, directory=work)
    assert not path.exists() and not (storage / sid).exists()
    with pytest.raises(FileNotFoundError, match="not found"):
        delete_session(sid)


def test_fork(config, tmp_path):
    work, storage = project(config, tmp_path)
    sid = str(uuid.uuid4())
    ids = [str(uuid.uuid4()) for _ in range(4)]
    write(storage / f"{sid}.jsonl", [
        entry("user", ids[0], None, "Question", sid, timestamp="2026-03-01T00:00:00Z"),
        entry("assistant", ids[1], ids[0], "Answer", sid, timestamp="2026-03-01T00:00:01Z"),
        entry("user", ids[2], ids[1], "Again", sid),
        entry("assistant", ids[3], ids[2], "Sure", sid),
    ])
    result = fork_session(sid, directory=work)
    assert isinstance(result, ForkSessionResult) and result.session_id != sid
    forked = [json.loads(line) for line in (storage / f"{result.session_id}.jsonl").read_text().splitlines()]
    assert all(e["sessionId"] == result.session_id for e in forked)
    assert [e["forkedFrom"]["messageUuid"] for e in forked[:4]] == ids
    assert not set(ids) & {e["uuid"] for e in forked}
    assert forked[1]["parentUuid"] == forked[0]["uuid"]
    assert forked[-1]["customTitle"] == "Question (fork)"
    assert [m.message["content"] for m in get_session_messages(result.session_id)] == ["Question", "Answer", "Again", "Sure"]

    part = fork_session(sid, up_to_message_id=ids[1], title="Mine")
    assert len(get_session_messages(part.session_id, directory=work)) == 2
    assert get_session_info(part.session_id).custom_title == "Mine"
    with pytest.raises(ValueError, match="Invalid up_to_message_id"):
        fork_session(sid, up_to_message_id="x")
    with pytest.raises(ValueError, match="not found in session"):
        fork_session(sid, up_to_message_id=str(uuid.uuid4()))
    with pytest.raises(FileNotFoundError, match="not found"):
        fork_session(str(uuid.uuid4()))
