"""ClaudeAgentOptions.session_store against the fake CLI: the transcript_mirror frames reach the
store and never the messages, the store is up to date when a result is yielded and after the
run, a failing store becomes a MirrorErrorMessage, and a resume from the store runs the CLI on a
temporary config directory that is gone afterwards, however the run ends."""

import json
import os

import anyio
import pytest

import ccbridge
from ccbridge import (
    AssistantMessage, ClaudeAgentOptions, ClaudeSDKClient, InMemorySessionStore, MirrorErrorMessage, ProcessError,
    ResultMessage, SystemMessage, project_key_for_directory,
)
from ccbridge import _mirror

TIMEOUT = 60  # a hang guard only


def frame(session, *entries, project="proj"):
    """A fake-CLI line: a transcript_mirror frame for a session under the CLI's CLAUDE_CONFIG_DIR."""
    return "emit " + json.dumps({"type": "transcript_mirror", "entries": list(entries),
                                 "filePath": f"@@/projects/{project}/{session}.jsonl"}).replace(
        "@@", "{{env:CLAUDE_CONFIG_DIR}}")


INIT = 'emit {"type":"system","subtype":"init","session_id":"sess"}'
ASSISTANT = ('emit {"type":"assistant","message":{"role":"assistant","model":"m","content":[{"type":"text",'
             '"text":"hi"}]},"parent_tool_use_id":null,"session_id":"sess"}')
RESULT = ('emit {"type":"result","subtype":"success","is_error":false,"duration_ms":1,"duration_api_ms":1,'
          '"num_turns":1,"session_id":"sess"}')
KEY = {"project_key": "proj", "session_id": "sess"}
SID = "550e8400-e29b-41d4-a716-446655440000"


class Recording(InMemorySessionStore):
    def __init__(self):
        super().__init__()
        self.calls = []
        self.appended = None  # an anyio.Event, set at each append

    async def append(self, key, entries):
        self.calls.append((dict(key), list(entries)))
        await super().append(key, entries)
        if self.appended is not None:
            self.appended.set()


def run(fn, backend="asyncio"):
    async def bounded():
        with anyio.fail_after(TIMEOUT):
            return await fn()

    return anyio.run(bounded, backend=backend)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_frames_reach_the_store_before_the_result_and_never_the_messages(fake_options, config, tmp_path, backend):
    go = tmp_path / "go"
    script = "\n".join(["wait_user", INIT, frame("sess", {"type": "user", "uuid": "u1"}), ASSISTANT,
                        frame("sess", {"type": "assistant", "uuid": "a1"}), RESULT, f"wait_file {go}",
                        frame("sess", {"type": "cost-state"}), "exit 0"])
    store = Recording()

    async def main():
        seen, at_result = [], None
        async for m in ccbridge.query(prompt="hi", options=fake_options(script, session_store=store)):
            seen.append(type(m).__name__)
            if isinstance(m, ResultMessage):
                at_result = await store.load(KEY)
                go.touch()  # only now the CLI writes its last frame
        return seen, at_result

    seen, at_result = run(main, backend)
    assert seen == ["SystemMessage", "AssistantMessage", "ResultMessage"]
    assert at_result == [{"type": "user", "uuid": "u1"}, {"type": "assistant", "uuid": "a1"}]
    assert len(store.calls) == 2  # one flush per file before the result, one at the end
    assert run(lambda: store.load(KEY))[-1] == {"type": "cost-state"}


def test_sync_iteration_mirrors_too(fake_options, config, tmp_path):
    go = tmp_path / "go"
    script = "\n".join(["wait_user", frame("sess", {"type": "user", "uuid": "u1"}), RESULT, f"wait_file {go}",
                        frame("sess", {"type": "cost-state"}), "exit 0"])
    store = Recording()
    at_result = None
    msgs = []
    for m in ccbridge.query(prompt="hi", options=fake_options(script, session_store=store)):
        msgs.append(m)
        if isinstance(m, ResultMessage):
            at_result = [e for _, entries in store.calls for e in entries]
            go.touch()
    assert [type(m) for m in msgs] == [ResultMessage]
    assert at_result == [{"type": "user", "uuid": "u1"}]
    assert [e for _, entries in store.calls for e in entries] == [{"type": "user", "uuid": "u1"}, {"type": "cost-state"}]


def test_without_a_store_frames_are_dropped(fake_options, config):
    script = "\n".join(["wait_user", frame("sess", {"type": "user"}), ASSISTANT, RESULT, "exit 0"])
    msgs = list(ccbridge.query(prompt="hi", options=fake_options(script, extra_args={"session-mirror": None})))
    assert [type(m) for m in msgs] == [AssistantMessage, ResultMessage]


def test_eager_mode_appends_each_frame_as_it_comes(fake_options, config, tmp_path):
    go = tmp_path / "go"
    script = "\n".join(["wait_user", frame("sess", {"type": "user", "uuid": "u1"}), ASSISTANT, f"wait_file {go}",
                        frame("sess", {"type": "assistant", "uuid": "a1"}), RESULT, "exit 0"])
    store = Recording()

    async def main():
        store.appended = anyio.Event()
        calls_at_result = None
        async for m in ccbridge.query(prompt="hi", options=fake_options(script, session_store=store,
                                                                        session_store_flush="eager")):
            if isinstance(m, AssistantMessage):
                await store.appended.wait()  # no result yet: the frame went out on its own
                go.touch()
            if isinstance(m, ResultMessage):
                calls_at_result = len(store.calls)
        return calls_at_result

    assert run(main) == 2
    assert [entries for _, entries in store.calls] == [[{"type": "user", "uuid": "u1"}],
                                                       [{"type": "assistant", "uuid": "a1"}]]


def test_a_failing_store_becomes_a_mirror_error_message(fake_options, config, monkeypatch):
    monkeypatch.setattr(_mirror, "MIRROR_APPEND_BACKOFF_S", (0.0, 0.0))
    attempts = []

    class Failing(InMemorySessionStore):
        async def append(self, key, entries):
            attempts.append(1)
            raise RuntimeError("disk full")

    script = "\n".join(["wait_user", frame("sess", {"type": "user"}), RESULT, "exit 0"])
    msgs = list(ccbridge.query(prompt="hi", options=fake_options(script, session_store=Failing())))
    assert [type(m) for m in msgs] == [MirrorErrorMessage, ResultMessage]
    err = msgs[0]
    assert isinstance(err, SystemMessage) and err.subtype == "mirror_error"
    assert "disk full" in err.error and err.key == KEY and err.data["session_id"] == "sess"
    assert len(attempts) == _mirror.MIRROR_APPEND_MAX_ATTEMPTS


def test_a_frame_outside_the_projects_directory_is_dropped(fake_options, config):
    script = "\n".join(["wait_user",
                        'emit {"type":"transcript_mirror","filePath":"/elsewhere/p/s.jsonl","entries":[{"type":"x"}]}',
                        'emit {"type":"transcript_mirror","filePath":7}', RESULT, "exit 0"])
    store = Recording()
    msgs = list(ccbridge.query(prompt="hi", options=fake_options(script, session_store=store)))
    assert [type(m) for m in msgs] == [ResultMessage] and store.calls == []


def test_client_keeps_what_the_cli_writes_as_it_exits(fake_options, config):
    script = "\n".join(["wait_user", frame("sess", {"type": "user", "uuid": "u1"}), RESULT, "wait_eof",
                        frame("sess", {"type": "last-prompt"}), "exit 0"])
    store = Recording()

    async def main():
        async with ClaudeSDKClient(fake_options(script, session_store=store)) as c:
            await c.query("hi")
            got = [m async for m in c.receive_response()]
            at_result = await store.load(KEY)
        return got, at_result, await store.load(KEY)

    got, at_result, after = run(main)
    assert isinstance(got[-1], ResultMessage)
    assert at_result == [{"type": "user", "uuid": "u1"}]
    assert after == [{"type": "user", "uuid": "u1"}, {"type": "last-prompt"}]


@pytest.mark.parametrize("bad", [dict(enable_file_checkpointing=True), dict(continue_conversation=True)])
def test_invalid_store_options_fail_before_the_cli_starts(fake_options, tmp_path, bad):
    class Minimal:  # no list_sessions: continue_conversation cannot find a session
        async def append(self, key, entries):
            pass

        async def load(self, key):
            return None

    log = tmp_path / "inv.json"
    opts = fake_options(f"dump_invocation {log}", session_store=Minimal(), **bad)
    with pytest.raises(ValueError, match="session_store"):
        list(ccbridge.query(prompt="hi", options=opts))

    async def connect():
        with pytest.raises(ValueError, match="session_store"):
            await ClaudeSDKClient(opts).connect()

    run(connect)
    assert not log.exists()


# ---- resume from the store ----------------------------------------------------------------------


@pytest.fixture
def stored(tmp_path):
    """A store holding session SID of the project in tmp_path/project, and that directory."""
    cwd = tmp_path / "project"
    cwd.mkdir()
    store = Recording()
    key = {"project_key": project_key_for_directory(cwd), "session_id": SID}
    run(lambda: store.append(key, [{"type": "user", "uuid": "old"}]))
    store.calls.clear()
    return store, cwd, key


def resumed_dirs(tmp_path):
    return list(tmp_path.glob("tmp/claude-resume-*"))


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """mkdtemp() under tmp_path/tmp, so a test can see every resume directory left behind."""
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)


def test_resume_runs_the_cli_on_the_stored_session_then_removes_it(fake_options, stored, tmp_path, private_tmp):
    store, cwd, key = stored
    inv, go = tmp_path / "inv.json", tmp_path / "go"
    script = "\n".join([f"dump_invocation {inv}", "wait_user", INIT, f"wait_file {go}",
                        frame(SID, {"type": "user", "uuid": "new"}, project=key["project_key"]), RESULT, "exit 0"])
    opts = fake_options(script, session_store=store, resume=SID, cwd=cwd)

    async def main():
        during = None
        async for m in ccbridge.query(prompt="again", options=opts):
            if isinstance(m, SystemMessage) and m.subtype == "init":
                invocation = json.loads(inv.read_text())
                config_dir = invocation["env"]["CLAUDE_CONFIG_DIR"]
                transcript = os.path.join(config_dir, "projects", key["project_key"], f"{SID}.jsonl")
                during = invocation["argv"], config_dir, open(transcript).read()
                go.touch()
        return during

    argv, config_dir, transcript = run(main)
    assert f"--resume={SID}" in argv and "--session-mirror" in argv
    assert transcript == '{"type":"user","uuid":"old"}\n'
    assert not os.path.exists(config_dir) and resumed_dirs(tmp_path) == []
    assert run(lambda: store.load(key)) == [{"type": "user", "uuid": "old"}, {"type": "user", "uuid": "new"}]
    assert opts.resume == SID and "CLAUDE_CONFIG_DIR" not in opts.env  # the caller's options are left alone


def test_continue_resumes_the_newest_stored_session(fake_options, stored, tmp_path, private_tmp):
    store, cwd, key = stored
    inv = tmp_path / "inv.json"
    msgs = list(ccbridge.query(prompt="again", options=fake_options(
        f"dump_invocation {inv}\nwait_user\n{RESULT}\nexit 0", session_store=store, continue_conversation=True,
        cwd=cwd)))
    argv = json.loads(inv.read_text())["argv"]
    assert isinstance(msgs[-1], ResultMessage)
    assert f"--resume={SID}" in argv and "--continue" not in argv
    assert resumed_dirs(tmp_path) == []


@pytest.mark.parametrize("how", ["error", "break", "client-error"])
def test_the_resume_directory_is_removed_however_the_run_ends(fake_options, stored, tmp_path, private_tmp, how):
    store, cwd, key = stored
    if how == "error":
        opts = fake_options("wait_user\nstderr boom\nexit 3", session_store=store, resume=SID, cwd=cwd)
        with pytest.raises(ProcessError):
            list(ccbridge.query(prompt="hi", options=opts))
    elif how == "break":
        opts = fake_options(f"wait_user\n{INIT}\nhang", session_store=store, resume=SID, cwd=cwd)

        async def main():
            q = ccbridge.query(prompt="hi", options=opts)
            async for _ in q:
                assert resumed_dirs(tmp_path) != []
                break
            await q.aclose()

        run(main)
    else:  # the CLI exits before it answers initialize
        opts = fake_options("exit 1", session_store=store, resume=SID, cwd=cwd)

        async def main():
            with pytest.raises(ccbridge.ClaudeSDKError):
                await ClaudeSDKClient(opts).connect()

        run(main)
    assert resumed_dirs(tmp_path) == []


def test_a_failing_load_fails_the_run_with_the_stores_error(fake_options, tmp_path, private_tmp):
    class Broken(InMemorySessionStore):
        async def load(self, key):
            raise OSError("network down")

    log = tmp_path / "inv.json"
    opts = fake_options(f"dump_invocation {log}", session_store=Broken(), resume=SID, cwd=tmp_path)
    with pytest.raises(RuntimeError, match="network down"):
        list(ccbridge.query(prompt="hi", options=opts))
    assert not log.exists() and resumed_dirs(tmp_path) == []
