"""ccbridge against the official Python SDK (claude-agent-sdk), message for message.

The same scenarios are driven through `claude_agent_sdk` and through `ccbridge` (with `async for`
and with `for`) against the same fake CLI (tests/support/FAKE_CLI.md), and must yield messages of
the same class names with equal fields (`type(m).__name__`, `dataclasses.asdict(m)`), the same
callback arguments and the same exception classes and attributes:

  (a) query() replaying the CLI stdout transcripts in tests/fixtures/transcripts/ (plain text,
      tool_use/tool_result, thinking, stream_event with include_partial_messages, system/api_retry,
      task_* subagent events, error results; rate_limit_event from a transcript with one line added);
  (b) ClaudeSDKClient on `serve_turns`: connect, query + receive_response twice, disconnect;
  (c) can_use_tool on `permission_turn`: allow with updated_input, and deny;
  (d) exceptions: missing CLI (CLINotFoundError), CLI exiting non-zero (ProcessError, exit_code),
      error results (ResultError and its attributes);
  (e) the client's control methods (stop_task, toggle_mcp_server, reconnect_mcp_server,
      rewind_files): the requests the CLI gets, the results and errors;
  (f) texts and types users match on (PermissionUpdate validation, CLINotFoundError, ResultError);
  (g) an unknown resume: no ResultMessage, a ResultError.

The fake CLI's output is deterministic (fixed uuids and session ids; cwd is the same for both), so
nothing is masked unless a comment says why. Every run is bounded in time (asyncio.wait_for, thread
joins) and every process started is tagged (CCB_TEST_TAG) and must be gone after the test.

Run: PYTHONPATH=<build>/bindings/python CCB_FAKE_CLI=<build>/tests/ccb_fake_cli python -m pytest -q tests/python/test_compat_sdk.py
"""

import asyncio
import dataclasses
import glob
import importlib
import json
import os
import re
import threading
import time
import uuid

import pytest

sdk = pytest.importorskip("claude_agent_sdk")
import ccbridge  # noqa: E402  (after the skip: without the SDK there is nothing to compare with)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
TRANSCRIPTS = os.path.join(FIXTURES, "transcripts")
RUN_TIMEOUT = 30.0  # seconds for any single run through either library


def _find_fake() -> str:
    if os.environ.get("CCB_FAKE_CLI"):
        return os.environ["CCB_FAKE_CLI"]
    found = sorted(glob.glob(os.path.join(ROOT, "build*", "tests", "ccb_fake_cli")), key=os.path.getmtime)
    return found[-1] if found else ""


FAKE = _find_fake()

# ---- harness ----------------------------------------------------------------------------------


def _tagged_pids(tag):
    """Live processes (zombies excluded) whose environment holds CCB_TEST_TAG=tag."""
    needle = f"CCB_TEST_TAG={tag}".encode()
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                env = f.read()
            with open(f"/proc/{d}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in env.split(b"\0") and state != "Z":
            out.append(int(d))
    return out


@pytest.fixture
def env_for(tmp_path):
    """env_for(script) -> the env dict for a fake CLI run; after the test, no tagged process may be
    left (waits up to 10 s)."""
    if not FAKE or not os.access(FAKE, os.X_OK):
        pytest.skip("the fake CLI is not built (set CCB_FAKE_CLI)")
    tag = str(uuid.uuid4())

    def make(script):
        return {"CCB_FAKE_SCRIPT_TEXT": script, "CCB_FAKE_FIXTURES": FIXTURES, "CCB_TEST_TAG": tag}

    yield make
    deadline = time.monotonic() + 10
    while _tagged_pids(tag) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _tagged_pids(tag) == [], "processes left behind"


def options(mod, env, cwd, **fields):
    return mod.ClaudeAgentOptions(cli_path=FAKE, env=env, cwd=str(cwd), **fields)


def dump(messages):
    return [(type(m).__name__, dataclasses.asdict(m)) for m in messages]


def run_async(coro, timeout=RUN_TIMEOUT):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def run_sync(fn, timeout=RUN_TIMEOUT):
    """fn() on a thread, bounded in time: a hang fails the test instead of blocking the suite."""
    box = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            box["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        pytest.fail(f"sync iteration did not finish within {timeout} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


class Outcome:
    """The messages a run yielded and the exception that ended it (None: it ended normally)."""

    def __init__(self, messages, error):
        self.messages = dump(messages)
        self.error = error

    def error_summary(self):
        e = self.error
        if e is None:
            return None
        out = {"class": type(e).__name__, "exit_code": getattr(e, "exit_code", None)}
        if type(e).__name__ == "ResultError":
            for k in ("subtype", "errors", "result", "api_error_status", "terminal_reason", "session_id", "data"):
                out[k] = getattr(e, k)
        return out


async def _collect_async(mod, prompt, opts):
    got = []
    try:
        async for m in mod.query(prompt=prompt, options=opts):
            got.append(m)
    except Exception as e:  # noqa: BLE001 - compared by the test
        return Outcome(got, e)
    return Outcome(got, None)


def _collect_sync(prompt, opts):
    got = []
    try:
        for m in ccbridge.query(prompt=prompt, options=opts):
            got.append(m)
    except Exception as e:  # noqa: BLE001 - compared by the test
        return Outcome(got, e)
    return Outcome(got, None)


def three_ways(env, cwd, prompt="hi", **fields):
    """The same run through the SDK (async for), ccbridge (async for) and ccbridge (for)."""
    ref = run_async(_collect_async(sdk, prompt, options(sdk, env, cwd, **fields)))
    ccb_async = run_async(_collect_async(ccbridge, prompt, options(ccbridge, env, cwd, **fields)))
    ccb_sync = run_sync(lambda: _collect_sync(prompt, options(ccbridge, env, cwd, **fields)))
    return ref, ccb_async, ccb_sync


def first_difference(a, b):
    """A readable description of where two dumps differ (pytest's diff of long lists is unreadable)."""
    if len(a) != len(b):
        return f"{len(a)} vs {len(b)} messages: {[n for n, _ in a]} vs {[n for n, _ in b]}"
    for i, ((na, da), (nb, db)) in enumerate(zip(a, b)):
        if na != nb:
            return f"message {i}: class {na} vs {nb}"
        if da != db:
            keys = [k for k in sorted(set(da) | set(db)) if da.get(k) != db.get(k)]
            return "message %d (%s), fields %s: SDK %s | ccbridge %s" % (
                i, na, keys, {k: da.get(k) for k in keys}, {k: db.get(k) for k in keys})
    return None


def assert_same(ref, other, label):
    diff = first_difference(ref.messages, other.messages)
    assert diff is None, f"{label}: {diff}"
    assert other.error_summary() == ref.error_summary(), f"{label}: exceptions differ"


# ---- (a) replayed transcripts -------------------------------------------------------------------


def _exit_code(name):
    """The recorded exit code of a transcript: `# exit=N` or `# exit={"code":N,"sig":null}`."""
    with open(os.path.join(TRANSCRIPTS, name + ".cmd")) as f:
        text = f.read()
    m = re.search(r"exit=(\{[^}]*\}|\d+)", text)
    if not m:
        return None
    v = json.loads(m.group(1))
    return v["code"] if isinstance(v, dict) else v


def _replayable():
    """Every CLI stdout transcript that has a recorded exit code, except those whose stdout holds
    a can_use_tool request (they need an answer, which (c) covers with permission_turn)."""
    names = []
    for path in sorted(glob.glob(os.path.join(TRANSCRIPTS, "*.jsonl"))):
        base = os.path.basename(path)[: -len(".jsonl")]
        if base.endswith((".stdin", ".timeline")) or base.startswith("sdk_wire_"):
            continue
        if not os.path.exists(os.path.join(TRANSCRIPTS, base + ".cmd")) or _exit_code(base) is None:
            continue
        with open(path, encoding="utf-8") as f:
            if '"subtype":"can_use_tool"' in f.read():
                continue
        names.append(base)
    return names


REPLAYABLE = _replayable() if os.path.isdir(TRANSCRIPTS) else []


def _has(name, needle):
    with open(os.path.join(TRANSCRIPTS, name + ".jsonl"), encoding="utf-8") as f:
        return needle in f.read()


def test_the_transcripts_cover_the_message_kinds():
    """The replayed set holds what the brief asks for: text answers, tool_use/tool_result,
    thinking, stream_event, an error result."""
    joined = "".join(open(os.path.join(TRANSCRIPTS, n + ".jsonl"), encoding="utf-8").read() for n in REPLAYABLE)
    for needle in ('"type":"tool_use"', '"type":"tool_result"', '"type":"thinking"', '"type":"stream_event"',
                   '"is_error":true', '"subtype":"api_retry"', '"subtype":"task_started"'):
        assert needle in joined, needle


@pytest.mark.parametrize("name", REPLAYABLE)
def test_replayed_transcript(name, env_for, tmp_path):
    code = _exit_code(name)
    script = f"wait_user\nreplay transcripts/{name}.jsonl\nexit {code}"
    partial = _has(name, '"type":"stream_event"')
    ref, a, s = three_ways(env_for(script), tmp_path, include_partial_messages=partial)
    if code != 0:
        assert ref.error is not None, "the SDK raised nothing for a non-zero exit"
    assert_same(ref, a, "async for")
    assert_same(ref, s, "for")


def test_rate_limit_event(env_for, tmp_path):
    """No recorded transcript holds a rate_limit_event, so one (in the shape the CLI sends) is
    inserted before the result of a real transcript."""
    with open(os.path.join(TRANSCRIPTS, "a_oneshot_say_hi__v2.1.330.jsonl"), encoding="utf-8") as f:
        lines = [line for line in f.read().splitlines() if line.strip()]
    session = json.loads(lines[0])["session_id"]
    events = [
        {"type": "rate_limit_event", "rate_limit_info": {"status": "allowed_warning", "resetsAt": 1767225600,
                                                         "rateLimitType": "five_hour", "utilization": 0.91,
                                                         "overageStatus": "rejected", "overageResetsAt": 1767312000,
                                                         "overageDisabledReason": "org_level_disabled",
                                                         "isUsingOverage": False},
         "uuid": "7c1b3f7e-0d7e-4d4b-9a57-5f0f4e0b2c11", "session_id": session},
        {"type": "rate_limit_event", "rate_limit_info": {"status": "allowed"},
         "uuid": "7c1b3f7e-0d7e-4d4b-9a57-5f0f4e0b2c12", "session_id": session},
    ]
    path = tmp_path / "rate_limit.jsonl"
    path.write_text("\n".join(lines[:-1] + [json.dumps(e) for e in events] + lines[-1:]) + "\n", encoding="utf-8")
    ref, a, s = three_ways(env_for(f"wait_user\nreplay {path}\nexit 0"), tmp_path)
    assert [n for n, _ in ref.messages].count("RateLimitEvent") == 2
    assert_same(ref, a, "async for")
    assert_same(ref, s, "for")


def test_float_values_are_parsed_like_json_loads(env_for, tmp_path):
    """Numbers reach Python with the value json.loads gives them (the SDK's parser). Real CLI
    output has such values: total_cost_usd 0.021892000000000002 (c_tool_bash_bypass__v2.1.330),
    retry_delay_ms 2267.6083286100998 (f_http401_default_retries_killed_by_timeout120)."""
    values = [0.021892000000000002, 2267.6083286100998, 0.30000000000000004, 0.010291999999999999, 1e-7, 5e-324]
    result = {"type": "result", "subtype": "success", "is_error": False, "duration_ms": 1, "duration_api_ms": 1,
              "num_turns": 1, "session_id": "s", "total_cost_usd": values[0], "result": "ok",
              "modelUsage": {"m": {"costUSD": values[0]}}, "usage": {"values": values[1:]}, "uuid": "u"}
    line = json.dumps(result)
    assert json.loads(line)["total_cost_usd"] == 0.021892000000000002
    ref, a, s = three_ways(env_for(f"wait_user\nemit {line}\nexit 0"), tmp_path)
    assert ref.messages[0][1]["total_cost_usd"] == values[0]
    assert ref.messages[0][1]["usage"]["values"] == values[1:]
    assert_same(ref, a, "async for")
    assert_same(ref, s, "for")


# ---- (b) ClaudeSDKClient --------------------------------------------------------------------------


async def _client_turns(mod, opts, prompts):
    client = mod.ClaudeSDKClient(options=opts)
    await client.connect()
    turns = []
    try:
        for p in prompts:
            await client.query(p)
            turns.append(dump([m async for m in client.receive_response()]))
    finally:
        await client.disconnect()
    return turns


def test_client_serve_turns(env_for, tmp_path):
    env = env_for("serve_turns")
    prompts = ["first question", 'second "quoted" question \u00e9']
    ref = run_async(_client_turns(sdk, options(sdk, env, tmp_path), prompts))
    got = run_async(_client_turns(ccbridge, options(ccbridge, env, tmp_path), prompts))
    assert [[n for n, _ in t] for t in ref] == [["SystemMessage", "AssistantMessage", "ResultMessage"]] * 2
    for i, (r, g) in enumerate(zip(ref, got)):
        assert first_difference(r, g) is None, f"turn {i + 1}: {first_difference(r, g)}"
    assert len(got) == len(ref)


# ---- (c) can_use_tool ------------------------------------------------------------------------------

TOOL_INPUT = {"command": "rm -rf build", "description": "Remove the build directory"}
PERMISSION_SCRIPT = "permission_turn Bash " + json.dumps(TOOL_INPUT) + "\nwait_eof"


def _normalized_tool_results(messages):
    """The fake CLI echoes the updatedInput it received verbatim ("ran Bash with <JSON text>"), and
    the SDK writes its JSON with json.dumps' default separators (", ", ": ") where ccbridge writes
    compact JSON. Both are the same JSON value, which is what the real CLI acts on, so that echoed
    text is compared as parsed JSON; everything else is compared as is."""
    out = []
    for name, d in messages:
        d = json.loads(json.dumps(d))
        if name == "UserMessage" and isinstance(d["content"], list):
            for b in d["content"]:
                c = b.get("content")
                if isinstance(c, str) and c.startswith("ran Bash with "):
                    b["content"] = ["ran Bash with", json.loads(c[len("ran Bash with "):])]
        out.append((name, d))
    return out


def _permission_callback(mod, decision, seen):
    async def can_use_tool(tool_name, tool_input, context):
        seen.append({"tool_name": tool_name, "input": tool_input, "context_class": type(context).__name__,
                     "context": dataclasses.asdict(context),
                     "suggestion_classes": [type(s).__name__ for s in context.suggestions]})
        return decision(mod)

    return can_use_tool


@pytest.mark.parametrize("kind", ["allow_updated_input", "deny"])
def test_can_use_tool(kind, env_for, tmp_path):
    if kind == "allow_updated_input":
        def decision(mod):
            return mod.PermissionResultAllow(updated_input={"command": "rm -rf build/tmp", "description": "narrower"})
    else:
        def decision(mod):
            return mod.PermissionResultDeny(message="not in this repository")
    env = env_for(PERMISSION_SCRIPT)
    runs = {}
    for label, mod, how in (("sdk", sdk, "async"), ("ccbridge async for", ccbridge, "async"),
                            ("ccbridge for", ccbridge, "sync")):
        seen = []
        opts = options(mod, env, tmp_path, can_use_tool=_permission_callback(mod, decision, seen))
        if how == "async":
            outcome = run_async(_collect_async(mod, "run it", opts))
        else:
            outcome = run_sync(lambda: _collect_sync("run it", opts))
        runs[label] = (outcome, seen)
    ref, ref_seen = runs["sdk"]
    assert ref.error is None
    assert len(ref_seen) == 1 and ref_seen[0]["context"]["tool_use_id"] == "toolu_fake_1"
    assert ref_seen[0]["context"]["suggestions"], "the fake CLI sends a permission suggestion"
    names = [n for n, _ in ref.messages]
    assert names == ["SystemMessage", "AssistantMessage", "UserMessage", "AssistantMessage", "ResultMessage"]
    result = ref.messages[-1][1]
    if kind == "deny":
        assert ref.messages[2][1]["content"][0]["is_error"] is True
        assert result["permission_denials"] and result["permission_denials"][0]["tool_use_id"] == "toolu_fake_1"
    else:
        assert result["permission_denials"] == []
    for label in ("ccbridge async for", "ccbridge for"):
        outcome, seen = runs[label]
        assert outcome.error is None, f"{label}: {outcome.error!r}"
        assert seen == ref_seen, f"{label}: the callback got different arguments"
        diff = first_difference(_normalized_tool_results(ref.messages), _normalized_tool_results(outcome.messages))
        assert diff is None, f"{label}: {diff}"


def test_can_use_tool_through_client(env_for, tmp_path):
    """The same allow through ClaudeSDKClient (connect, query, receive_response, disconnect)."""
    env = env_for(PERMISSION_SCRIPT)

    async def run(mod, seen):
        def decision(m):
            return m.PermissionResultAllow(updated_input={"command": "true"})
        opts = options(mod, env, tmp_path, can_use_tool=_permission_callback(mod, decision, seen))
        return await _client_turns(mod, opts, ["run it"])

    ref_seen, seen = [], []
    ref = run_async(run(sdk, ref_seen))
    got = run_async(run(ccbridge, seen))
    assert len(ref_seen) == 1 and seen == ref_seen
    assert [n for n, _ in ref[0]][-1] == "ResultMessage"
    diff = first_difference(_normalized_tool_results(ref[0]), _normalized_tool_results(got[0]))
    assert diff is None, diff


# ---- (d) exceptions ---------------------------------------------------------------------------------


def test_missing_cli_is_cli_not_found(env_for, tmp_path):
    env = env_for("")
    missing = str(tmp_path / "no-such-dir" / "claude")
    for mod in (sdk, ccbridge):
        opts = mod.ClaudeAgentOptions(cli_path=missing, env=env, cwd=str(tmp_path))
        out = run_async(_collect_async(mod, "hi", opts))
        assert type(out.error).__name__ == "CLINotFoundError", f"{mod.__name__}: {out.error!r}"
        assert isinstance(out.error, mod.CLIConnectionError)
        assert out.messages == []

        async def connect(mod=mod, opts=opts):
            client = mod.ClaudeSDKClient(options=opts)
            try:
                await client.connect()
            finally:
                await client.disconnect()

        with pytest.raises(mod.CLINotFoundError):
            run_async(connect())
    out = run_sync(lambda: _collect_sync("hi", ccbridge.ClaudeAgentOptions(cli_path=missing, cwd=str(tmp_path))))
    assert type(out.error).__name__ == "CLINotFoundError"


# The exception messages are not compared: ccbridge's explain the failure (and carry the CLI's real
# stderr in .stderr), while the SDK's say "Command failed with exit code N" and set .stderr to the
# placeholder "Check stderr output for details". Class, exit_code and a ResultError's fields are.
# Every script reads the prompt before it exits: the SDK has then written all it writes before the
# end of the run, so its outcome does not depend on when the process dies.
@pytest.mark.parametrize("script", [
    "wait_user\nexit 3",
    "wait_user\nstderr something broke\nexit 2",
    'wait_user\nemit {"type":"system","subtype":"init","session_id":"s","uuid":"u1"}\nexit 77',
    "wait_user\nexit 143",
], ids=["after-prompt", "with-stderr", "mid-stream", "exit-143"])
def test_nonzero_exit_is_process_error(script, env_for, tmp_path):
    ref, a, s = three_ways(env_for(script), tmp_path)
    assert type(ref.error).__name__ == "ProcessError"
    assert isinstance(a.error, ccbridge.ProcessError)
    assert_same(ref, a, "async for")
    assert_same(ref, s, "for")


def test_exit_before_initialize_is_process_error(env_for, tmp_path):
    """A CLI that exits before it reads anything. Not compared with the SDK: there it races with
    the SDK's first write (initialize), so 0.2.187 raises ProcessError(exit_code=3) or, when the
    write comes second, CLIConnectionError("Cannot write to terminated process")."""
    env = env_for("stderr something broke\nexit 3")
    a = run_async(_collect_async(ccbridge, "hi", options(ccbridge, env, tmp_path)))
    s = run_sync(lambda: _collect_sync("hi", options(ccbridge, env, tmp_path)))
    for out in (a, s):
        assert type(out.error).__name__ == "ProcessError" and out.error.exit_code == 3, repr(out.error)
        assert out.messages == []


@pytest.mark.parametrize("signal", ["KILL", "TERM"])
def test_killed_cli_exit_code(signal, env_for, tmp_path):
    """A CLI killed by a signal: the SDK reports exit_code = -signal (asyncio's returncode)."""
    script = 'wait_user\nemit {"type":"system","subtype":"init","session_id":"s","uuid":"u1"}\nkill ' + signal
    ref, a, s = three_ways(env_for(script), tmp_path)
    assert type(ref.error).__name__ == "ProcessError"
    assert ref.error.exit_code == {"KILL": -9, "TERM": -15}[signal]
    assert_same(ref, a, "async for")
    assert_same(ref, s, "for")


ERROR_RESULT = {
    "type": "result", "subtype": "error_max_turns", "is_error": True, "duration_ms": 5, "duration_api_ms": 4,
    "num_turns": 2, "stop_reason": None, "session_id": "s1", "total_cost_usd": 0.5, "usage": {}, "modelUsage": {},
    "permission_denials": [], "errors": ["  Reached maximum number of turns (1)  ", ""],
    "terminal_reason": "max_turns", "uuid": "u-9",
}
LATER_ASSISTANT = {
    "type": "assistant", "message": {"id": "m", "type": "message", "role": "assistant", "model": "x",
                                     "content": [{"type": "text", "text": "later"}]},
    "parent_tool_use_id": None, "session_id": "s1", "uuid": "u-10",
}


def test_error_result_then_exit_1_is_result_error(env_for, tmp_path):
    """ResultError with the SDK's fields; its errors are the SDK's normalized strings (stripped,
    blanks dropped)."""
    ref, a, s = three_ways(env_for(f"wait_user\nemit {json.dumps(ERROR_RESULT)}\nexit 1"), tmp_path)
    assert type(ref.error).__name__ == "ResultError"
    assert ref.error.errors == ["Reached maximum number of turns (1)"]
    assert_same(ref, a, "async for")
    assert_same(ref, s, "for")


def test_result_error_message_uses_the_errors_text(env_for, tmp_path):
    """The SDK's ResultError text is the result's errors[] prose (then result, then subtype): an
    error_max_turns run reads "...: Reached maximum number of turns (1)", not "...: error_max_turns"."""
    result = dict(ERROR_RESULT, errors=["Reached maximum number of turns (1)"])
    ref, a, s = three_ways(env_for(f"wait_user\nemit {json.dumps(result)}\nexit 1"), tmp_path)
    assert "Reached maximum number of turns (1)" in str(ref.error)
    for label, out in (("async for", a), ("for", s)):
        assert type(out.error).__name__ == "ResultError"
        assert "Reached maximum number of turns (1)" in str(out.error), f"{label}: {out.error}"


def test_error_result_not_last_is_process_error(env_for, tmp_path):
    """The SDK raises ResultError only when the error result is the last message before the exit;
    anything after it (here an assistant message) means a fresh failure: plain ProcessError."""
    script = f"wait_user\nemit {json.dumps(ERROR_RESULT)}\nemit {json.dumps(LATER_ASSISTANT)}\nexit 1"
    ref, a, s = three_ways(env_for(script), tmp_path)
    assert type(ref.error).__name__ == "ProcessError"
    assert_same(ref, a, "async for")
    assert_same(ref, s, "for")


def test_error_result_then_exit_0_raises_nothing(env_for, tmp_path):
    ref, a, s = three_ways(env_for(f"wait_user\nemit {json.dumps(ERROR_RESULT)}\nexit 0"), tmp_path)
    assert ref.error is None and [n for n, _ in ref.messages] == ["ResultMessage"]
    assert_same(ref, a, "async for")
    assert_same(ref, s, "for")


@pytest.mark.parametrize("line,expected", [
    ('{"type":"system","subtype":"init","x":1', "CLIJSONDecodeError"),  # cut-off JSON
    ('{"type":"assistant"}', "MessageParseError"),                         # a required field missing
], ids=["bad-json", "missing-field"])
def test_bad_lines(line, expected, env_for, tmp_path):
    ref, a, s = three_ways(env_for(f"wait_user\nemit {line}\nexit 0"), tmp_path)
    assert type(ref.error).__name__ == expected
    assert_same(ref, a, "async for")
    assert_same(ref, s, "for")


def test_non_json_lines_and_unknown_types_are_skipped(env_for, tmp_path):
    script = ('wait_user\nemit [SandboxDebug] not json\nemit {"type":"some_future_type","x":1}\n'
              'emit {"type":"system","subtype":"init","session_id":"s","uuid":"u1"}\nexit 0')
    ref, a, s = three_ways(env_for(script), tmp_path)
    assert ref.error is None and [n for n, _ in ref.messages] == ["SystemMessage"]
    assert_same(ref, a, "async for")
    assert_same(ref, s, "for")


def test_same_exception_classes_and_hierarchy():
    for name in ("ClaudeSDKError", "CLIConnectionError", "CLINotFoundError", "ProcessError", "ResultError",
                 "CLIJSONDecodeError"):
        ours, theirs = getattr(ccbridge, name), getattr(sdk, name)
        assert [c.__name__ for c in ours.__mro__ if c.__module__ != "builtins"] == \
            [c.__name__ for c in theirs.__mro__ if c.__module__ != "builtins"], name


def test_message_types_have_the_sdks_fields():
    """Field names and order of every message and block type (values are compared above)."""
    for name in ("TextBlock", "ThinkingBlock", "ToolUseBlock", "ToolResultBlock", "ServerToolUseBlock",
                 "ServerToolResultBlock", "UserMessage", "AssistantMessage", "SystemMessage", "ResultMessage",
                 "StreamEvent", "RateLimitEvent", "RateLimitInfo", "TaskStartedMessage", "TaskProgressMessage",
                 "TaskNotificationMessage", "TaskUpdatedMessage", "HookEventMessage", "ConversationResetMessage",
                 "DeferredToolUse", "ToolPermissionContext", "PermissionUpdate", "PermissionResultAllow",
                 "PermissionResultDeny"):
        ours = [f.name for f in dataclasses.fields(getattr(ccbridge, name))]
        theirs = [f.name for f in dataclasses.fields(getattr(sdk, name))]
        assert ours == theirs, name


# ---- (e) the client's control methods ----------------------------------------------------------

METHOD_CALLS = [
    ("stop_task", ("task-abc123",)),
    ("toggle_mcp_server", ("my-server", False)),
    ("toggle_mcp_server", ("my-server", True)),
    ("reconnect_mcp_server", ("my-server",)),
    ("rewind_files", ("00000000-0000-4000-8000-000000000002",)),
]
METHOD_SUBTYPES = {"stop_task", "mcp_toggle", "mcp_reconnect", "rewind_files"}


async def _call_methods(mod, opts):
    """Each method's result, or its exception as (class names of its MRO, text)."""
    out = []
    async with mod.ClaudeSDKClient(options=opts) as client:
        for name, args in METHOD_CALLS:
            try:
                out.append(("returned", await getattr(client, name)(*args)))
            except Exception as e:  # noqa: BLE001 - compared by the test
                out.append(("raised", type(e), str(e)))
    return out


def _method_requests(log):
    return [json.loads(x)["request"] for x in log.read_text().splitlines()
            if x.strip() and json.loads(x).get("type") == "control_request"
            and json.loads(x)["request"]["subtype"] in METHOD_SUBTYPES]


@pytest.mark.parametrize("answered", [True, False], ids=["cli-answers", "cli-refuses"])
def test_client_control_methods(answered, env_for, tmp_path):
    """stop_task, toggle_mcp_server, reconnect_mcp_server and rewind_files send the SDK's control
    requests (subtype and fields) and return what it returns (None). A refusal raises: the SDK a
    plain Exception with the CLI's text, ccbridge a ClaudeSDKError (an Exception too) whose text
    holds the CLI's."""
    answers = "".join(f"control_answer {s} {{}}\n" for s in sorted(METHOD_SUBTYPES)) if answered else ""
    got = {}
    for label, mod in (("sdk", sdk), ("ccbridge", ccbridge)):
        log = tmp_path / f"{label}.log"
        env = dict(env_for(answers + "serve_turns"), CCB_FAKE_STDIN_LOG=str(log))
        got[label] = (run_async(_call_methods(mod, options(mod, env, tmp_path))), _method_requests(log))
    (ref, ref_requests), (ours, our_requests) = got["sdk"], got["ccbridge"]
    assert our_requests == ref_requests
    assert ref_requests[0] == {"subtype": "stop_task", "task_id": "task-abc123"}
    assert len(ref_requests) == len(METHOD_CALLS)
    if answered:
        assert ours == ref == [("returned", None)] * len(METHOD_CALLS)
        return
    for (_, ref_class, ref_text), (_, our_class, our_text) in zip(ref, ours):
        assert ref_class is Exception and ref_text.startswith("Unsupported control request subtype: ")
        assert issubclass(our_class, ccbridge.ClaudeSDKError) and ref_text in our_text


# ---- (f) texts and types users match on -------------------------------------------------------


def _permission_update_cases(mod):
    rules = [importlib.import_module(mod.__name__ + ".types").PermissionRuleValue(tool_name="Read")]
    return [
        mod.PermissionUpdate(type="addRules", behavior="allow"),
        mod.PermissionUpdate(type="replaceRules", rules=rules),
        mod.PermissionUpdate(type="removeRules", rules=rules),
        mod.PermissionUpdate(type="setMode"),
        mod.PermissionUpdate(type="addDirectories"),
        mod.PermissionUpdate(type="removeDirectories"),
        mod.PermissionUpdate(type="addSomething", destination="session"),  # type: ignore[arg-type]
    ]


def test_permission_update_validation_texts_are_the_sdks():
    def texts(mod):
        out = []
        for update in _permission_update_cases(mod):
            with pytest.raises(ValueError) as info:
                update.to_dict()
            out.append(str(info.value))
        return out

    assert texts(ccbridge) == texts(sdk)


def test_result_error_attributes_have_the_sdks_types():
    """A value of the wrong type in the result reads as None, as in the SDK (api_error_status is
    an int or None, never the string some proxies send)."""
    data = {"subtype": 7, "result": ["x"], "api_error_status": "529", "terminal_reason": 1, "session_id": None,
            "errors": "overloaded"}
    fields = ("subtype", "errors", "result", "api_error_status", "terminal_reason", "session_id")
    ours, theirs = ccbridge.ResultError("m", data=data), sdk.ResultError("m", data=data)
    assert {k: getattr(ours, k) for k in fields} == {k: getattr(theirs, k) for k in fields}
    assert theirs.api_error_status is None
    good = dict(data, api_error_status=529, subtype="error_during_execution")
    assert ccbridge.ResultError("m", data=good).api_error_status == sdk.ResultError("m", data=good).api_error_status == 529


def test_result_error_from_a_run_with_an_odd_status(env_for, tmp_path):
    result = dict(ERROR_RESULT, api_error_status="529")
    ref, a, s = three_ways(env_for(f"wait_user\nemit {json.dumps(result)}\nexit 1"), tmp_path)
    assert type(ref.error).__name__ == "ResultError" and ref.error.api_error_status is None
    assert_same(ref, a, "async for")
    assert_same(ref, s, "for")


def test_cli_not_found_text_starts_as_the_sdks(env_for, tmp_path):
    """The SDK says "Claude Code not found at: <path>"; ccbridge says so (after its error's tag,
    "[ccbridge.cli_not_found]"), then how to fix it."""
    missing = str(tmp_path / "no-such-dir" / "claude")
    texts = {}
    for mod in (sdk, ccbridge):
        opts = mod.ClaudeAgentOptions(cli_path=missing, env=env_for(""), cwd=str(tmp_path))
        texts[mod.__name__] = str(run_async(_collect_async(mod, "hi", opts)).error)
    assert texts["claude_agent_sdk"] == f"Claude Code not found at: {missing}"
    assert texts["ccbridge"].startswith("[ccbridge.cli_not_found] " + texts["claude_agent_sdk"])


# ---- (g) an unknown resume ----------------------------------------------------------------------

# What Claude Code 2.1.330 does on an unknown --resume id in stream-json mode: an error result
# before it answers anything, then exit 1 (transcript e_resume_5_unknown_id, here without reading
# stdin first). read_line takes the first line written (initialize, or ccbridge's prompt) unanswered.
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
NO_CONVERSATION = dict(ERROR_RESULT, subtype="error_during_execution", num_turns=0, terminal_reason=None,
                       session_id=UNKNOWN_ID, errors=[f"No conversation found with session ID: {UNKNOWN_ID}"])
UNKNOWN_RESUME_SCRIPT = f"emit {json.dumps(NO_CONVERSATION)}\nread_line\nexit 1"


def test_unknown_resume_yields_no_result_message(env_for, tmp_path):
    """The SDK's initialize fails with the run's ResultError, so the error result is never yielded."""
    ref, a, s = three_ways(env_for(UNKNOWN_RESUME_SCRIPT), tmp_path, resume=UNKNOWN_ID)
    assert ref.messages == [] and type(ref.error).__name__ == "ResultError"
    assert ref.error.errors == NO_CONVERSATION["errors"] and ref.error.exit_code == 1
    assert_same(ref, a, "async for")
    assert_same(ref, s, "for")


def test_unknown_resume_through_the_client_and_with_callbacks(env_for, tmp_path):
    """connect(), and query() with a can_use_tool (both take ccbridge's session path), raise the
    SDK's ResultError too."""
    env = env_for(UNKNOWN_RESUME_SCRIPT)

    async def allow(*_):
        return None

    async def connect(mod):
        client = mod.ClaudeSDKClient(options=options(mod, env, tmp_path, resume=UNKNOWN_ID))
        try:
            await client.connect()
        except Exception as e:  # noqa: BLE001 - compared by the test
            return Outcome([], e)
        finally:
            await client.disconnect()
        return Outcome([], None)

    async def streamed():
        yield {"type": "user", "message": {"role": "user", "content": "hi"}}

    ref = run_async(connect(sdk))
    assert type(ref.error).__name__ == "ResultError"
    assert run_async(connect(ccbridge)).error_summary() == ref.error_summary()
    ref = run_async(_collect_async(sdk, streamed(), options(sdk, env, tmp_path, resume=UNKNOWN_ID, can_use_tool=allow)))
    got = run_async(_collect_async(ccbridge, streamed(),
                                   options(ccbridge, env, tmp_path, resume=UNKNOWN_ID, can_use_tool=allow)))
    assert type(ref.error).__name__ == "ResultError"
    assert_same(ref, got, "with can_use_tool")


def test_an_error_result_first_on_a_resume_that_worked_is_yielded(env_for, tmp_path):
    """Only a failed resume loses the result: one the CLI ends on with exit 0 is yielded."""
    ref, a, s = three_ways(env_for(f"wait_user\nemit {json.dumps(ERROR_RESULT)}\nexit 0"), tmp_path, resume=UNKNOWN_ID)
    assert [n for n, _ in ref.messages] == ["ResultMessage"] and ref.error is None
    assert_same(ref, a, "async for")
    assert_same(ref, s, "for")
