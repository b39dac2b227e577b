"""ccbridge.query() and ClaudeSDKClient against the fake CLI: message types and fields, sync and
async iteration, errors with the SDK's exception classes, callbacks from C++ threads (permissions,
hooks, in-process tools), streamed prompts, early exits, Ctrl-C and interpreter exit."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import ccbridge
from ccbridge import (
    AssistantMessage,
    ClaudeSDKClient,
    HookMatcher,
    PermissionResultAllow,
    PermissionResultDeny,
    ResultMessage,
    SystemMessage,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
    create_sdk_mcp_server,
    query,
    tool,
)

from conftest import FAKE, tagged_pids


def texts(messages):
    return [b.text for m in messages if isinstance(m, AssistantMessage) for b in m.content if isinstance(b, TextBlock)]


def run_async(coro, timeout=30):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def test_sync_query_gives_typed_messages(fake_options):
    msgs = list(query(prompt="hello", options=fake_options("serve_turns")))
    assert [type(m).__name__ for m in msgs] == ["SystemMessage", "AssistantMessage", "ResultMessage"]
    assert msgs[0].subtype == "init" and msgs[0].data["type"] == "system"
    assert texts(msgs) == ["echo: hello"]
    r = msgs[-1]
    assert isinstance(r, ResultMessage)
    assert (r.subtype, r.is_error, r.result, r.terminal_reason) == ("success", False, "echo: hello", "completed")
    assert isinstance(r.duration_ms, int) and isinstance(r.session_id, str)


def test_async_query_gives_the_same_messages(fake_options):
    async def main():
        return [m async for m in query(prompt="hello", options=fake_options("serve_turns"))]

    msgs = run_async(main())
    sync = list(query(prompt="hello", options=fake_options("serve_turns")))
    assert [type(m) for m in msgs] == [type(m) for m in sync]
    assert texts(msgs) == texts(sync)


def test_many_messages_none_lost(fake_options):
    line = json.dumps({"type": "assistant", "message": {"id": "m", "model": "x", "role": "assistant",
                                                        "content": [{"type": "text", "text": "x" * 1200}]},
                       "session_id": "s", "uuid": "u", "parent_tool_use_id": None})
    n = 20000
    count = sum(1 for m in query(prompt="go", options=fake_options(f"repeat_line {n} {line}")))
    assert count == n

    async def main():
        c = 0
        async for _ in query(prompt="go", options=fake_options(f"repeat_line {n} {line}")):
            c += 1
        return c

    assert run_async(main()) == n


def test_a_failed_run_raises_process_error_with_exit_code_and_stderr(fake_options):
    with pytest.raises(ccbridge.ProcessError) as e:
        list(query(prompt="x", options=fake_options("stderr something broke\nexit 3")))
    assert e.value.exit_code == 3
    assert "something broke" in (e.value.stderr or "")


def test_an_error_result_then_exit_1_raises_result_error(fake_options):
    result = json.dumps({"type": "result", "subtype": "error_max_turns", "is_error": True, "duration_ms": 1,
                         "duration_api_ms": 1, "num_turns": 2, "session_id": "s", "terminal_reason": "max_turns",
                         "errors": ["Reached maximum number of turns (1)"]})
    seen = []
    with pytest.raises(ccbridge.ResultError) as e:
        for m in query(prompt="x", options=fake_options(f"emit {result}\nexit 1")):
            seen.append(m)
    assert isinstance(seen[-1], ResultMessage) and seen[-1].is_error  # the result is yielded first
    assert e.value.subtype == "error_max_turns" and e.value.terminal_reason == "max_turns"
    assert isinstance(e.value, ccbridge.ProcessError) and e.value.exit_code == 1


def test_missing_cli_bad_cwd_and_bad_options_have_the_sdk_exception_classes(fake_options, tmp_path):
    with pytest.raises(ccbridge.CLINotFoundError):
        list(query(prompt="x", options=ccbridge.ClaudeAgentOptions(cli_path=str(tmp_path / "no-claude"))))
    with pytest.raises(ccbridge.CLIConnectionError):
        list(query(prompt="x", options=fake_options("serve_turns", cwd=str(tmp_path / "missing"))))
    with pytest.raises(ValueError, match="max_turns"):
        list(query(prompt="x", options=fake_options("serve_turns", max_turns="three")))
    with pytest.raises(ccbridge.ClaudeSDKError):
        list(query(prompt="bad \udcff utf-8", options=fake_options("serve_turns")))


def test_a_line_that_is_not_json_raises_cli_json_decode_error(fake_options):
    with pytest.raises(ccbridge.CLIJSONDecodeError):
        list(query(prompt="x", options=fake_options('emit {"type":"assistant", broken\nexit 0')))


def test_unknown_message_types_are_skipped_like_the_sdk(fake_options):
    msgs = list(query(prompt="x", options=fake_options('emit {"type":"brand_new_thing","x":1}\nserve_turns')))
    assert [type(m).__name__ for m in msgs] == ["SystemMessage", "AssistantMessage", "ResultMessage"]


def test_stderr_lines_reach_the_callback(fake_options):
    lines = []
    list(query(prompt="x", options=fake_options("stderr first line\nstderr second line\nserve_turns", stderr=lines.append)))
    assert lines == ["first line", "second line"]


def test_breaking_out_early_ends_the_process(fake_options, tag):
    for m in query(prompt="x", options=fake_options("serve_turns\nhang")):
        break
    # The conftest's tag check proves the process is gone; check it here too, at once.
    deadline = time.monotonic() + 5
    while tagged_pids(tag) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tagged_pids(tag) == []


def test_streamed_prompt_sends_every_message_then_ends_input(fake_options):
    prompts = [{"type": "user", "message": {"role": "user", "content": "one"}},
               {"type": "user", "message": {"role": "user", "content": [{"type": "text", "text": "two"}]}}]
    msgs = list(query(prompt=iter(prompts), options=fake_options("serve_turns")))
    assert [m.result for m in msgs if isinstance(m, ResultMessage)] == ["echo: one", "echo: two"]

    async def gen():
        for p in prompts:
            yield p

    async def main():
        return [m async for m in query(prompt=gen(), options=fake_options("serve_turns"))]

    assert [m.result for m in run_async(main()) if isinstance(m, ResultMessage)] == ["echo: one", "echo: two"]


PERMISSION = 'permission_turn Bash {"command":"ls"}'


def test_can_use_tool_allow_with_edited_input_sync_callback(fake_options):
    seen = []

    def allow(name, tool_input, ctx):
        seen.append((name, tool_input, ctx.tool_use_id, [s.type for s in ctx.suggestions]))
        return PermissionResultAllow(updated_input={"command": "ls -la"})

    msgs = list(query(prompt="go", options=fake_options(PERMISSION, can_use_tool=allow)))
    assert seen and seen[0][:3] == ("Bash", {"command": "ls"}, "toolu_fake_1")
    results = [b for m in msgs if isinstance(m, UserMessage) for b in m.content if isinstance(b, ToolResultBlock)]
    assert results[0].content == 'ran Bash with {"command":"ls -la"}' and not results[0].is_error


def test_can_use_tool_async_callback_runs_on_the_event_loop_and_can_deny(fake_options):
    async def main():
        loop = asyncio.get_running_loop()
        where = []

        async def deny(name, tool_input, ctx):
            where.append(asyncio.get_running_loop() is loop)
            await asyncio.sleep(0.05)
            return PermissionResultDeny(message="not today")

        msgs = [m async for m in query(prompt="go", options=fake_options(PERMISSION, can_use_tool=deny))]
        return msgs, where

    msgs, where = run_async(main())
    assert where == [True]
    results = [b for m in msgs if isinstance(m, UserMessage) for b in m.content if isinstance(b, ToolResultBlock)]
    assert results[0].content == "not today" and results[0].is_error
    assert msgs[-1].permission_denials


# The CLI reports "running" from the start of the turn; a background agent finishes a while after
# the first result and wakes it for a second turn that asks for a permission; then "idle".
WOKEN_TURN = "\n".join([
    'emit {"type":"system","subtype":"session_state_changed","state":"running","sdk_host_only":true}',
    'permission_turn Bash {"command":"ls"}',
    "sleep 200",
    'send_control {"subtype":"can_use_tool","tool_name":"Read","input":{},"tool_use_id":"t2"}',
    'emit {"type":"system","subtype":"session_state_changed","state":"idle","sdk_host_only":true}',
    "wait_eof",
    'emit {"type":"system","subtype":"fake_saw_eof"}',
])


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_query_keeps_input_open_for_a_turn_woken_after_the_result_until_idle(fake_options, mode, tmp_path):
    asked = []

    def allow(name, tool_input, ctx):
        asked.append(name)
        return PermissionResultAllow()

    stdin_log = tmp_path / "stdin.log"
    options = fake_options(WOKEN_TURN, can_use_tool=allow, env={"CCB_FAKE_STDIN_LOG": str(stdin_log)})
    if mode == "sync":
        msgs = list(query(prompt="go", options=options))
    else:
        async def main():
            return [m async for m in query(prompt="go", options=options)]

        msgs = run_async(main())
    assert asked == ["Bash", "Read"]
    answers = [line for line in stdin_log.read_text().splitlines() if '"behavior":"allow"' in line]
    assert len(answers) == 2  # the second turn's answer reached the CLI ...
    subtypes = [m.subtype for m in msgs if isinstance(m, SystemMessage)]
    assert subtypes[-1] == "fake_saw_eof"  # ... and input ended after "idle"
    assert "session_state_changed" not in subtypes  # frames only ccbridge asked for


def test_query_is_an_async_generator_for_anext_and_aclosing(fake_options, tag):
    import contextlib

    async def main():
        q = query(prompt="hello", options=fake_options("serve_turns"))
        first = await anext(q)
        async with contextlib.aclosing(query(prompt="hi", options=fake_options("serve_turns"))) as q2:
            async for m in q2:
                break  # aclosing ends the run
        rest = [m async for m in q]
        await q.aclose()
        await q.aclose()  # idempotent
        return first, rest

    first, rest = run_async(main())
    assert isinstance(first, SystemMessage) and isinstance(rest[-1], ResultMessage)
    assert texts(rest) == ["echo: hello"]
    assert tagged_pids(tag) == []


def test_a_permission_callback_that_raises_gives_the_cli_an_error_answer(fake_options):
    def boom(name, tool_input, ctx):
        raise RuntimeError("callback exploded")

    msgs = list(query(prompt="go", options=fake_options(PERMISSION, can_use_tool=boom)))
    results = [b for m in msgs if isinstance(m, UserMessage) for b in m.content if isinstance(b, ToolResultBlock)]
    assert results[0].is_error and "callback exploded" in results[0].content


def test_an_async_permission_callback_that_raises_gives_the_cli_an_error_answer(fake_options):
    # It used to be logged and never answered: the CLI waited for ever (query() and the client).
    async def boom(name, tool_input, ctx):
        await asyncio.sleep(0.01)
        raise RuntimeError("async callback exploded")

    async def with_query():
        return [m async for m in query(prompt="go", options=fake_options(PERMISSION, can_use_tool=boom))]

    async def with_client():
        async with ClaudeSDKClient(fake_options(PERMISSION, can_use_tool=boom)) as client:
            await client.query("go")
            return [m async for m in client.receive_response()]

    for main in (with_query, with_client):
        msgs = run_async(main(), timeout=20)
        results = [b for m in msgs if isinstance(m, UserMessage) for b in m.content if isinstance(b, ToolResultBlock)]
        assert results and results[0].is_error and "async callback exploded" in results[0].content, (main, msgs)
        assert isinstance(msgs[-1], ResultMessage)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_hook_that_raises_gives_the_cli_an_error_answer(fake_options, tmp_path, kind):
    log = tmp_path / "stdin.log"

    def sync_hook(input_data, tool_use_id, context):
        raise ValueError("hook exploded")

    async def async_hook(input_data, tool_use_id, context):
        await asyncio.sleep(0.01)
        raise ValueError("hook exploded")

    hook_req = json.dumps({"subtype": "hook_callback", "callback_id": "hook_0", "tool_use_id": "toolu_9",
                           "input": {"hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": {}}})
    hook = sync_hook if kind == "sync" else async_hook
    options = fake_options(f"send_control {hook_req}\nserve_turns", env={"CCB_FAKE_STDIN_LOG": str(log)},
                           hooks={"PreToolUse": [HookMatcher(matcher="Bash", hooks=[hook])]})

    async def main():
        return [m async for m in query(prompt="go", options=options)]

    msgs = run_async(main(), timeout=20)
    assert isinstance(msgs[-1], ResultMessage)
    answers = [json.loads(l)["response"] for l in log.read_text().splitlines() if '"control_response"' in l]
    hook_answer = next(a for a in answers if a["request_id"] == "fake_req_1")
    assert hook_answer["subtype"] == "error" and "hook exploded" in hook_answer["error"], hook_answer


def test_hooks_and_in_process_tools_answer_through_the_control_protocol(fake_options, tmp_path):
    log = tmp_path / "stdin.log"
    calls = []

    async def pre_tool(input_data, tool_use_id, context):
        calls.append(("hook", input_data["tool_name"], tool_use_id))
        return {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny",
                                       "permissionDecisionReason": "hooks say no"}}

    @tool("add", "Adds two numbers", {"a": float, "b": float})
    async def add(args):
        calls.append(("tool", args))
        return {"content": [{"type": "text", "text": str(args["a"] + args["b"])}]}

    hook_req = json.dumps({"subtype": "hook_callback", "callback_id": "hook_0", "tool_use_id": "toolu_9",
                           "input": {"hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": {}}})
    tool_req = json.dumps({"subtype": "mcp_message", "server_name": "calc",
                           "message": {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                                       "params": {"name": "add", "arguments": {"a": 1, "b": 2}}}})
    script = f"send_control {hook_req}\nsend_control {tool_req}\nserve_turns"
    options = fake_options(script, env={"CCB_FAKE_STDIN_LOG": str(log)},
                           hooks={"PreToolUse": [HookMatcher(matcher="Bash", hooks=[pre_tool])]},
                           mcp_servers={"calc": create_sdk_mcp_server("calc", tools=[add])})

    async def main():
        return [m async for m in query(prompt="go", options=options)]

    msgs = run_async(main())
    assert isinstance(msgs[-1], ResultMessage)
    assert calls == [("hook", "Bash", "toolu_9"), ("tool", {"a": 1, "b": 2})]
    answers = [json.loads(l) for l in log.read_text().splitlines() if '"control_response"' in l]
    by_kind = {a["response"]["request_id"]: a["response"] for a in answers}
    hook_answer, tool_answer = by_kind["fake_req_1"], by_kind["fake_req_2"]
    assert hook_answer["response"]["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert tool_answer["response"]["mcp_response"]["result"]["content"] == [{"type": "text", "text": "3"}]
    init = [json.loads(l) for l in log.read_text().splitlines() if '"initialize"' in l][0]
    assert init["request"]["hooks"]["PreToolUse"][0]["matcher"] == "Bash"


def test_client_two_turns_control_requests_and_disconnect(fake_options, tag):
    async def main():
        async with ClaudeSDKClient(fake_options("serve_turns")) as client:
            info = await client.get_server_info()
            assert info["pid"] > 0
            await client.query("first")
            turn1 = [m async for m in client.receive_response()]
            await client.set_permission_mode("acceptEdits")
            await client.set_model("claude-other")
            usage = await client.get_context_usage()
            await client.interrupt()
            await client.query("second")
            turn2 = [m async for m in client.receive_response()]
            return turn1, turn2, usage, info["pid"]

    turn1, turn2, usage, pid = run_async(main())
    assert turn1[-1].result == "echo: first" and turn2[-1].result == "echo: second"
    assert usage["maxTokens"] > 0
    assert tagged_pids(tag) == []  # disconnect waited for the process


def test_client_misuse_and_a_control_request_the_cli_refuses(fake_options):
    async def main():
        client = ClaudeSDKClient(fake_options("serve_turns"))
        with pytest.raises(ccbridge.CLIConnectionError):
            await client.query("not connected")
        await client.connect()
        with pytest.raises(ccbridge.ClaudeSDKError, match="Unsupported control request"):
            await client.control("no_such_request")
        await client.disconnect()
        await client.disconnect()  # idempotent

    run_async(main())


def _waiting(pid):
    """Whether the main thread of `pid` sleeps on a futex: in the binding's wait for the next
    message (the child has no other Python thread that could hold the GIL it would wait for)."""
    try:
        with open(f"/proc/{pid}/wchan") as f:
            return "futex" in f.read()
    except OSError:
        return False


def _threads(pid):
    """Each thread of `pid`: its name and where it sleeps in the kernel."""
    out = []
    for tid in sorted(os.listdir(f"/proc/{pid}/task")):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as c, open(f"/proc/{pid}/task/{tid}/wchan") as w:
                out.append(f"{tid} {c.read().strip()}: {w.read().strip()}")
        except OSError:
            pass
    return "\n".join(out)


def _child(code, tag, timeout=30, sig=None, until=None):
    """Runs `code` in a fresh interpreter; with `sig`, sends it once the child prints READY (and
    `until(pid)` is true, when given). A child still running after `timeout` fails the test with
    its threads' states and Python stacks (faulthandler, on SIGUSR1), and is killed."""
    code = "import faulthandler, signal\nfaulthandler.register(signal.SIGUSR1, all_threads=True)\n" + textwrap.dedent(code)
    env = {**os.environ, "CCB_FAKE_CLI": FAKE, "TEST_TAG": tag, "PYTHONPATH": os.pathsep.join(sys.path)}
    # As a terminal starts a program: SIGINT at its default, so the child's Python turns it into
    # KeyboardInterrupt. (Inherited, it may be ignored: a non-interactive shell starts background
    # jobs so, and an ignored SIGINT stays ignored in Python; CI run that way hung here.)
    p = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    if sig is not None:
        line = p.stdout.readline()
        assert line.strip() == "READY", line + p.stderr.read()
        deadline = time.monotonic() + 20
        while until and not until(p.pid):
            assert time.monotonic() < deadline, "the child never reached the state to signal it in"
            time.sleep(0.01)
        p.send_signal(sig)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        threads = _threads(p.pid)
        p.send_signal(signal.SIGUSR1)
        try:
            out, err = p.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        p.kill()
        p.wait()
        raise AssertionError(f"the child still ran after {timeout} s\nthreads:\n{threads}\nstdout:\n{out}\nstderr:\n{err}")
    return p.returncode, out, err


PRELUDE = """
import os, ccbridge
opts = ccbridge.ClaudeAgentOptions(cli_path=os.environ["CCB_FAKE_CLI"],
    env={"CCB_FAKE_SCRIPT_TEXT": "serve_turns\\nhang", "CCB_TEST_TAG": os.environ["TEST_TAG"]},
    shutdown={"exit_wait_ms": 500, "term_wait_ms": 500})
"""


def test_ctrl_c_interrupts_a_blocking_wait_and_leaves_no_process(tag):
    code = PRELUDE + """
try:
    for m in ccbridge.query(prompt="x", options=opts):
        if isinstance(m, ccbridge.ResultMessage):
            print("READY", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""
    # Interrupted while it waits (a hang would time out in _child).
    rc, out, err = _child(code, tag, sig=signal.SIGINT, until=_waiting)
    assert "interrupted" in out, err
    assert rc == 0
    assert tagged_pids(tag) == []


def test_interpreter_exit_with_runs_still_open_leaves_no_process(tag):
    code = PRELUDE + """
import asyncio
it = iter(ccbridge.query(prompt="x", options=opts))
next(it)                                   # a run left open mid-stream
async def main():
    c = ccbridge.ClaudeSDKClient(opts)     # a client never disconnected
    await c.connect()
asyncio.run(main())
print("bye", flush=True)
"""
    rc, out, err = _child(code, tag)
    assert rc == 0 and "bye" in out, err
    deadline = time.monotonic() + 5
    while tagged_pids(tag) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tagged_pids(tag) == []


def test_interpreter_exit_while_callbacks_run_on_ccbridge_threads_is_clean(tag):
    """Exit while the CLI floods stderr into a Python callback: the callback threads stop calling
    into Python before the interpreter goes away (one that asked for the GIL during finalization
    was ended by Python with pthread_exit, and the process aborted). Repeated, the race is likely."""
    code = """
import os, sys, ccbridge
lines = []
opts = ccbridge.ClaudeAgentOptions(cli_path=os.environ["CCB_FAKE_CLI"], stderr=lines.append,
    env={"CCB_FAKE_SCRIPT_TEXT": "emit {\\"type\\":\\"system\\",\\"subtype\\":\\"init\\"}\\nstderr_flood 200000000\\nhang",
         "CCB_TEST_TAG": os.environ["TEST_TAG"]},
    shutdown={"exit_wait_ms": 200, "term_wait_ms": 200})
it = iter(ccbridge.query(prompt="x", options=opts))
next(it)
while len(lines) < 1000:
    pass
print("bye", len(lines) > 0, flush=True)
"""
    for _ in range(15):
        rc, out, err = _child(code, tag)
        assert rc == 0 and "bye True" in out, (rc, err[-2000:])
    deadline = time.monotonic() + 5
    while tagged_pids(tag) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tagged_pids(tag) == []


def test_build_cli_args_match_the_sdk_flags():
    from ccbridge import _ccbridge

    args = _ccbridge.build_cli_args(json.dumps({"model": "m", "max_turns": 2, "allowed_tools": ["Read", "Bash"]}))
    assert "--model=m" in args and "--max-turns=2" in args and "--allowedTools=Read,Bash" in args


def test_numbers_arrive_exactly_as_json_loads_reads_them(fake_options):
    line = ('{"type":"system","subtype":"numbers","big":123456789012345678901234567890,"neg":-9223372036854775809,'
            '"cost":0.021892000000000002,"delay":2267.6083286100998,"tiny":5e-324,"huge":1.8e308,"zero":0e-400,'
            '"negzero":-0.0,"int":42,"exp":1E2}')
    msgs = list(query(prompt="x", options=fake_options(f"emit {line}\nexit 0")))
    assert msgs[0].data == json.loads(line)
    assert [type(msgs[0].data[k]) for k in ("big", "int", "exp")] == [int, int, float]


def test_sigkilled_interpreter_leaves_no_cli_and_no_grandchild(tag, tmp_path):
    # The CLI dies by its parent-death signal; what it started in its process group is killed by
    # the host's guard (lib/process/guard.hpp), which a SIGKILLed host cannot do itself.
    code = PRELUDE.replace("serve_turns", f"grandchild {tmp_path / 'gc.pid'}\\nignore_sigterm\\nserve_turns") + """
import time
it = iter(ccbridge.query(prompt="x", options=opts))
next(it)
print("READY", flush=True)
time.sleep(60)
"""
    rc, out, err = _child(code, tag, sig=signal.SIGKILL)
    assert rc == -signal.SIGKILL
    assert (tmp_path / "gc.pid").exists(), err
    deadline = time.monotonic() + 3
    while tagged_pids(tag) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tagged_pids(tag) == [], "the CLI or its grandchild outlived the interpreter"


def test_the_cli_sees_the_python_sdks_entry_point_and_version(fake_options, tmp_path):
    # An entry point the CLI does not know as an SDK's ("sdk-py-ccbridge") made it describe its
    # agents in every request; the official SDK sets sdk-py (a default) and its version (always).
    for env, entrypoint in (({}, "sdk-py"), ({"CLAUDE_CODE_ENTRYPOINT": "mine", "CLAUDE_AGENT_SDK_VERSION": "x"}, "mine")):
        inv = tmp_path / f"inv-{entrypoint}.json"
        list(query(prompt="hi", options=fake_options(f"dump_invocation {inv}\nserve_turns", env=env)))
        seen = json.loads(inv.read_text())["env"]
        assert seen["CLAUDE_CODE_ENTRYPOINT"] == entrypoint
        assert seen["CLAUDE_AGENT_SDK_VERSION"] == ccbridge.__version__
