"""Profile sdk-ws (seed 003): WS /ws and GET /sessions. One conversation (one CLI process) per
connection; query / interrupt / input / define_tool / get_tools / ping / permission_response from
the client; bad input answers with an error frame and never closes the connection."""
import asyncio
import json
import os
import time

import pytest
import websockets

from conftest import read_until_close, recv_json, run, until, wait_detached, ws_connect

CAPABILITIES = {"concurrent_input": True, "tool_definition": True, "interrupt_query": True, "permission_requests": True, "resume": False}
RESULT_KEYS = {"subtype", "cost_usd", "duration_ms", "session_id", "total_cost_usd", "num_turns", "usage", "is_error", "result"}
INIT = '{"type":"system","subtype":"init","session_id":"fake-session"}'
RESULT_LINE = ('emit {"type":"result","subtype":"success","is_error":false,"duration_ms":1,"duration_api_ms":1,'
               '"num_turns":1,"result":"done","session_id":"fake-session","total_cost_usd":0.001}')
PERMISSIONS = (
    'permission_turn Bash {"command":"ls"}\n'
    'permission_turn Bash {"command":"rm -rf /"}\n'
    'permission_turn Write {"file_path":"/tmp/x","content":"a"}\n'
    "wait_eof"
)


async def connect(server, path="/ws", **kw):
    """Opens /ws and returns (ws, connection_established frame)."""
    ws = await ws_connect(server.ws_url(path), **kw)
    hello = await recv_json(ws)
    assert hello["type"] == "connection_established", hello
    return ws, hello


async def query(ws, prompt, timeout=10, **options):
    """Sends a query and returns its frames up to and including query_end."""
    msg = {"type": "query", "prompt": prompt}
    if options:
        msg["options"] = options
    await ws.send(json.dumps(msg))
    return await until(ws, "query_end", timeout)


async def expect_error(ws, message, timeout=10):
    """Sends a message (dict or raw text) and returns the error frame's text; the connection must stay open."""
    await ws.send(message if isinstance(message, str) else json.dumps(message))
    f = await recv_json(ws, timeout)
    assert f["type"] == "error", f
    assert set(f) == {"type", "data"} and isinstance(f["data"]["error"], str) and f["data"]["error"], f
    return f["data"]["error"]


async def ping(ws, timeout=10):
    await ws.send(json.dumps({"type": "ping"}))
    assert await recv_json(ws, timeout) == {"type": "pong"}


def types(frames):
    return [f["type"] for f in frames]


def wait_for_processes(server, n=1, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        procs = server.processes()
        if len(procs) >= n:
            return procs
        time.sleep(0.02)
    return server.processes()


def read_invocation(path, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline and not path.exists():
        time.sleep(0.02)
    return json.loads(path.read_text())


# ---- connection ------------------------------------------------------------------------------------


def test_connection_established_frame(start_server):
    s = start_server()

    async def go():
        async with ws_connect(s.ws_url("/ws")) as ws:
            return json.loads(await asyncio.wait_for(ws.recv(), 10))

    hello = run(go(), timeout=20)
    assert set(hello) == {"type", "data"} and hello["type"] == "connection_established"
    assert set(hello["data"]) == {"session_id", "capabilities"}
    assert hello["data"]["session_id"].startswith("session_") and len(hello["data"]["session_id"]) > len("session_")
    assert hello["data"]["capabilities"] == CAPABILITIES


def test_each_connection_gets_its_own_session_id(start_server):
    s = start_server()

    async def go():
        a, ha = await connect(s)
        b, hb = await connect(s)
        await a.close()
        await b.close()
        return ha["data"]["session_id"], hb["data"]["session_id"]

    a, b = run(go(), timeout=20)
    assert a != b


def test_ping_gets_pong(start_server):
    s = start_server()

    async def go():
        ws, _ = await connect(s)
        async with ws:
            for _ in range(3):
                await ping(ws)

    run(go(), timeout=20)


# ---- query ------------------------------------------------------------------------------------------


def test_query_streams_start_system_assistant_result_end(start_server):
    s = start_server(script="serve_turns")

    async def go():
        ws, _ = await connect(s)
        async with ws:
            frames = await query(ws, "hi")
            await ping(ws)  # the connection is still open after the query
            return frames

    frames = run(go(), timeout=20)
    assert types(frames) == ["query_start", "system_message", "assistant_message", "result_message", "query_end"]
    start, system, assistant, result, end = frames
    assert start == {"type": "query_start", "data": {"prompt": "hi"}}
    assert system["data"]["type"] == "system" and system["data"]["subtype"] == "init"
    assert system["data"]["session_id"] == "fake-session" and "cwd" in system["data"]
    assert assistant == {"type": "assistant_message", "data": {"content": [{"type": "text", "text": "echo: hi"}]}}
    data = result["data"]
    assert set(data) == RESULT_KEYS
    assert data["subtype"] == "success" and data["is_error"] is False and data["result"] == "echo: hi"
    assert data["session_id"] == "fake-session" and data["num_turns"] == 1 and data["duration_ms"] == 1
    assert data["total_cost_usd"] == data["cost_usd"] == 0.001
    assert isinstance(data["usage"], dict)
    assert end == {"type": "query_end"}


def test_two_queries_are_served_by_one_process(start_server):
    s = start_server(script="serve_turns")

    async def go():
        ws, _ = await connect(s)
        async with ws:
            first = await query(ws, "first")
            procs1 = s.processes()
            second = await query(ws, "second prompt")
            procs2 = s.processes()
            return first, second, procs1, procs2

    first, second, procs1, procs2 = run(go(), timeout=30)
    assert len(procs1) == 1 and procs2 == procs1
    assert [f for f in first if f["type"] == "assistant_message"][0]["data"]["content"][0]["text"] == "echo: first"
    assert types(second) == ["query_start", "system_message", "assistant_message", "result_message", "query_end"]
    assert second[0]["data"]["prompt"] == "second prompt"
    assert second[2]["data"]["content"] == [{"type": "text", "text": "echo: second prompt"}]
    assert second[3]["data"]["result"] == "echo: second prompt"
    assert s.wait_no_processes()


def test_query_while_one_runs_is_refused(start_server):
    s = start_server(script=f"wait_user\nemit {INIT}\nwait_eof")

    async def go():
        ws, _ = await connect(s)
        async with ws:
            await ws.send(json.dumps({"type": "query", "prompt": "one"}))
            frames = await until(ws, "system_message")
            err = await expect_error(ws, {"type": "query", "prompt": "two"})
            try:
                extra = await recv_json(ws, 0.5)
            except asyncio.TimeoutError:
                extra = None
            return frames, err, extra, s.processes()

    frames, err, extra, procs = run(go(), timeout=20)
    assert types(frames) == ["query_start", "system_message"]
    assert err == "A query is already in progress. Use interrupt to stop it."
    assert extra is None  # no second query_start
    assert len(procs) == 1
    assert s.wait_no_processes()


@pytest.mark.parametrize(
    "message",
    [
        {"type": "query"},
        {"type": "query", "prompt": ""},
        {"type": "query", "prompt": None},
        {"type": "query", "prompt": 5},
        {"type": "query", "prompt": ["hi"]},
    ],
    ids=["missing", "empty", "null", "number", "array"],
)
def test_query_without_a_usable_prompt_is_refused(start_server, message):
    s = start_server(script="serve_turns")

    async def go():
        ws, _ = await connect(s)
        async with ws:
            await expect_error(ws, message)
            await ping(ws)

    run(go(), timeout=20)
    assert not s.processes()


@pytest.mark.parametrize(
    "options",
    [
        "not an object",
        [1, 2],
        {"allowed_tools": "Bash"},
        {"allowed_tools": ["Bash", 1]},
        {"permission_mode": 5},
        {"max_thinking_tokens": -1},
        {"max_thinking_tokens": "1000"},
        {"max_thinking_tokens": 1.5},
        {"max_thinking_tokens": True},
        {"model": 5},
        {"cwd": 5},
        {"continue_conversation": "yes"},
        {"continue_conversation": 1},
        {"resume": 5},
        {"permission_requests": "yes"},
    ],
    ids=[
        "options-string", "options-array", "allowed_tools-string", "allowed_tools-number-item", "permission_mode-number",
        "max_thinking_tokens-negative", "max_thinking_tokens-string", "max_thinking_tokens-float", "max_thinking_tokens-bool",
        "model-number", "cwd-number", "continue-string", "continue-number", "resume-number", "permission_requests-string",
    ],
)
def test_options_of_the_wrong_type_are_refused(start_server, options):
    s = start_server(script="serve_turns")

    async def go():
        ws, _ = await connect(s)
        async with ws:
            await expect_error(ws, {"type": "query", "prompt": "hi", "options": options})
            await ping(ws)  # no query_start came before the pong, and the connection lives
            # The refusal left no half-started query: a valid query works.
            frames = await query(ws, "after")
            return frames

    frames = run(go(), timeout=20)
    assert types(frames)[0] == "query_start" and types(frames)[-1] == "query_end"
    assert frames[2]["data"]["content"][0]["text"] == "echo: after"


def test_bypass_permissions_is_refused_by_default(start_server):
    s = start_server(script="serve_turns")

    async def go():
        ws, _ = await connect(s)
        async with ws:
            err = await expect_error(ws, {"type": "query", "prompt": "hi", "options": {"permission_mode": "bypassPermissions"}})
            await ping(ws)
            return err

    err = run(go(), timeout=20)
    assert "bypassPermissions" in err
    assert not s.processes()


def test_unknown_permission_mode_is_refused(start_server):
    s = start_server(script="serve_turns")

    async def go():
        ws, _ = await connect(s)
        async with ws:
            return await expect_error(ws, {"type": "query", "prompt": "hi", "options": {"permission_mode": "yolo"}})

    assert "yolo" in run(go(), timeout=20)


def test_bypass_permissions_is_allowed_when_the_server_enables_it(start_server, tmp_path):
    inv = tmp_path / "invocation.json"
    s = start_server(script=f"dump_invocation {inv}\nserve_turns", args=["--permission-modes", "default,bypassPermissions"])

    async def go():
        ws, _ = await connect(s)
        async with ws:
            return await query(ws, "hi", permission_mode="bypassPermissions")

    frames = run(go(), timeout=20)
    assert types(frames) == ["query_start", "system_message", "assistant_message", "result_message", "query_end"]
    assert "--permission-mode=bypassPermissions" in read_invocation(inv)["argv"]


def test_options_reach_the_cli(start_server, tmp_path):
    inv = tmp_path / "invocation.json"
    # Bash only because the operator lets clients pre-approve it (the default is read-only tools).
    s = start_server(script=f"dump_invocation {inv}\nserve_turns", args=["--client-allowed-tools", "Bash,Read"])

    async def go():
        ws, _ = await connect(s)
        async with ws:
            return await query(ws, "hi", allowed_tools=["Bash", "Read"], permission_mode="acceptEdits",
                               max_thinking_tokens=1000, model="claude-test-model")

    frames = run(go(), timeout=20)
    assert types(frames)[-1] == "query_end"
    argv = read_invocation(inv)["argv"]
    allowed = [a for a in argv if a.startswith("--allowedTools=")]
    assert len(allowed) == 1 and {"Bash", "Read"} <= set(allowed[0].split("=", 1)[1].split(","))
    assert "--permission-mode=acceptEdits" in argv
    assert "--max-thinking-tokens=1000" in argv
    assert "--model=claude-test-model" in argv


@pytest.mark.parametrize("where", ["root-parent", "slash", "relative", "missing", "dotdot", "symlink-out"])
def test_cwd_outside_the_root_is_refused(start_server, tmp_path, where):
    s = start_server(script="serve_turns")
    outside = tmp_path / "outside"
    outside.mkdir()
    link = s.root / "escape"
    os.symlink(outside, link)
    cwd = {
        "root-parent": str(tmp_path),
        "slash": "/",
        "relative": "root",
        "missing": str(s.root / "does-not-exist"),
        "dotdot": str(s.root) + "/../outside",
        "symlink-out": str(link),
    }[where]

    async def go():
        ws, _ = await connect(s)
        async with ws:
            err = await expect_error(ws, {"type": "query", "prompt": "hi", "options": {"cwd": cwd}})
            await ping(ws)
            return err

    err = run(go(), timeout=20)
    assert "cwd" in err
    assert not s.processes()


def test_cwd_inside_the_root_is_used(start_server):
    s = start_server(script="serve_turns")
    sub = s.root / "project" / "sub"
    sub.mkdir(parents=True)

    async def go():
        ws, _ = await connect(s)
        async with ws:
            return await query(ws, "hi", cwd=str(sub))

    frames = run(go(), timeout=20)
    system = [f for f in frames if f["type"] == "system_message"][0]
    assert system["data"]["cwd"] == str(sub.resolve())


def test_cli_that_cannot_start_gives_error_then_query_end(start_server):
    s = start_server(cli="/nonexistent/claude")

    async def go():
        ws, _ = await connect(s)
        async with ws:
            frames = await query(ws, "hi")
            await ping(ws)
            return frames

    frames = run(go(), timeout=20)
    assert types(frames) == ["query_start", "error", "query_end"]
    assert frames[1]["data"]["error"]


def test_cli_that_dies_mid_query_gives_error_then_query_end(start_server):
    s = start_server(script=f"wait_user\nemit {INIT}\nstderr dying\nexit 5")

    async def go():
        ws, _ = await connect(s)
        async with ws:
            frames = await query(ws, "hi")
            await ping(ws)
            return frames

    frames = run(go(), timeout=20)
    assert types(frames) == ["query_start", "system_message", "error", "query_end"]
    assert s.wait_no_processes()


# ---- interrupt, input ---------------------------------------------------------------------------------


def test_interrupt_without_a_query_is_an_error(start_server):
    s = start_server()

    async def go():
        ws, _ = await connect(s)
        async with ws:
            err = await expect_error(ws, {"type": "interrupt"})
            await ping(ws)
            return err

    assert "no query is running" in run(go(), timeout=20)


def test_input_without_a_query_is_an_error(start_server):
    s = start_server(script="serve_turns")

    async def go():
        ws, _ = await connect(s)
        async with ws:
            before = await expect_error(ws, {"type": "input", "text": "hello"})
            await query(ws, "hi")
            after = await expect_error(ws, {"type": "input", "text": "hello"})  # the query has ended
            await ping(ws)
            procs = s.processes()
            second = await query(ws, "again")  # the input did not disturb the conversation
            return procs, second

    procs, second = run(go(), timeout=20)
    assert len(procs) == 1
    assert second[2]["data"]["content"] == [{"type": "text", "text": "echo: again"}]


# The CLI takes the query's prompt, says it is ready, then waits for a second user message (the
# input) and answers with it.
INPUT_SCRIPT = (
    f"wait_user\nemit {INIT}\nwait_user\n"
    'emit {"type":"assistant","message":{"type":"message","role":"assistant","content":[{"type":"text","text":"got {{prompt}}"}]}}\n'
    'emit {"type":"result","subtype":"success","is_error":false,"duration_ms":1,"num_turns":1,"result":"got {{prompt}}",'
    '"session_id":"fake-session","total_cost_usd":0,"usage":{}}\n'
    "wait_eof"
)


def test_input_during_a_query_is_acknowledged_and_reaches_the_conversation(start_server):
    s = start_server(script=INPUT_SCRIPT)

    async def go():
        ws, _ = await connect(s)
        async with ws:
            await ws.send(json.dumps({"type": "query", "prompt": "start"}))
            head = await until(ws, "system_message")
            await ws.send(json.dumps({"type": "input", "text": "more context"}))
            rest = await until(ws, "query_end")
            return head, rest

    head, rest = run(go(), timeout=20)
    assert types(head) == ["query_start", "system_message"]
    assert rest[0] == {"type": "input_acknowledged", "data": {"text": "more context"}}
    assert types(rest) == ["input_acknowledged", "assistant_message", "result_message", "query_end"]
    assert rest[1]["data"]["content"] == [{"type": "text", "text": "got more context"}]


def test_input_sent_right_after_query_start_is_acknowledged(start_server):
    s = start_server(script=INPUT_SCRIPT)

    async def go():
        ws, _ = await connect(s)
        async with ws:
            await ws.send(json.dumps({"type": "query", "prompt": "start"}))
            start = await recv_json(ws)
            assert start["type"] == "query_start"
            # The query is running from query_start on, even if the CLI is still starting.
            await ws.send(json.dumps({"type": "input", "text": "early"}))
            frames = []
            while not frames or frames[-1]["type"] not in ("query_end", "error"):
                frames.append(await recv_json(ws))
            return frames

    frames = run(go(), timeout=20)
    assert "error" not in types(frames), frames
    assert {"type": "input_acknowledged", "data": {"text": "early"}} in frames
    assistant = [f for f in frames if f["type"] == "assistant_message"]
    assert assistant and assistant[0]["data"]["content"] == [{"type": "text", "text": "got early"}]


@pytest.mark.parametrize("message", [{"type": "input"}, {"type": "input", "text": ""}, {"type": "input", "text": 5}],
                         ids=["missing", "empty", "number"])
def test_input_without_usable_text_is_an_error(start_server, message):
    s = start_server(script=f"wait_user\nemit {INIT}\nwait_eof")

    async def go():
        ws, _ = await connect(s)
        async with ws:
            await ws.send(json.dumps({"type": "query", "prompt": "start"}))
            await until(ws, "system_message")
            await expect_error(ws, message)
            await ping(ws)

    run(go(), timeout=20)


# ---- tools ---------------------------------------------------------------------------------------------

TOOL = {"name": "echo_text", "description": "Echoes its text", "parameters": {"text": {"type": "string", "required": True}}}


def test_define_tool_before_the_first_query(start_server):
    s = start_server()

    async def go():
        ws, _ = await connect(s)
        async with ws:
            await ws.send(json.dumps({"type": "define_tool", "tool": TOOL}))
            defined = await recv_json(ws)
            await ws.send(json.dumps({"type": "get_tools"}))
            listed = await recv_json(ws)
            return defined, listed

    defined, listed = run(go(), timeout=20)
    schema = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
    assert defined == {
        "type": "tool_defined",
        "data": {"tool_id": "mcp__ccbridge__echo_text", "tool_name": "echo_text", "status": "success",
                 "details": {"input_schema": schema}},
    }
    assert listed == {
        "type": "tools_list",
        "data": {"tools": [{"name": "echo_text", "description": "Echoes its text", "input_schema": schema}],
                 "source": "connection"},
    }


def test_get_tools_on_a_fresh_connection_is_empty(start_server):
    s = start_server()

    async def go():
        ws, _ = await connect(s)
        async with ws:
            await ws.send(json.dumps({"type": "get_tools"}))
            return await recv_json(ws)

    assert run(go(), timeout=20) == {"type": "tools_list", "data": {"tools": [], "source": "connection"}}


def test_defined_tool_is_offered_to_the_cli(start_server, tmp_path):
    inv = tmp_path / "invocation.json"
    s = start_server(script=f"dump_invocation {inv}\nserve_turns")

    async def go():
        ws, _ = await connect(s)
        async with ws:
            await ws.send(json.dumps({"type": "define_tool", "tool": TOOL}))
            assert (await recv_json(ws))["type"] == "tool_defined"
            return await query(ws, "hi")

    frames = run(go(), timeout=20)
    assert types(frames)[-1] == "query_end"
    argv = read_invocation(inv)["argv"]
    allowed = [a for a in argv if a.startswith("--allowedTools=")]
    assert allowed and "mcp__ccbridge__echo_text" in allowed[0].split("=", 1)[1].split(",")
    assert any(a.startswith("--mcp-config=") and "ccbridge" in a for a in argv)


def test_define_tool_duplicate_name_is_an_error(start_server):
    s = start_server()

    async def go():
        ws, _ = await connect(s)
        async with ws:
            await ws.send(json.dumps({"type": "define_tool", "tool": TOOL}))
            assert (await recv_json(ws))["type"] == "tool_defined"
            err = await expect_error(ws, {"type": "define_tool", "tool": TOOL})
            await ws.send(json.dumps({"type": "get_tools"}))
            listed = await recv_json(ws)
            return err, listed

    err, listed = run(go(), timeout=20)
    assert "echo_text" in err
    assert len(listed["data"]["tools"]) == 1


@pytest.mark.parametrize(
    "tool",
    [
        {"description": "no name"},
        {"name": ""},
        {"name": "has space"},
        {"name": "dot.name"},
        {"name": "a" * 65},
        {"name": 5},
        {"name": "ok_name", "parameters": "text"},
        {"name": "ok_name", "description": 5},
        "not an object",
    ],
    ids=["missing-name", "empty-name", "space", "dot", "too-long", "number", "bad-parameters", "bad-description", "not-object"],
)
def test_define_tool_with_bad_definition_is_an_error(start_server, tool):
    s = start_server()

    async def go():
        ws, _ = await connect(s)
        async with ws:
            await expect_error(ws, {"type": "define_tool", "tool": tool})
            await ws.send(json.dumps({"type": "get_tools"}))
            return await recv_json(ws)

    assert run(go(), timeout=20)["data"]["tools"] == []


def test_define_tool_after_the_first_query_is_an_error(start_server):
    s = start_server(script="serve_turns")

    async def go():
        ws, _ = await connect(s)
        async with ws:
            await query(ws, "hi")
            err = await expect_error(ws, {"type": "define_tool", "tool": TOOL})
            await ws.send(json.dumps({"type": "get_tools"}))
            listed = await recv_json(ws)
            return err, listed

    err, listed = run(go(), timeout=20)
    assert listed["data"]["tools"] == []


# The CLI calls the client-defined tool echo_text once (the call waits for the answer), ends the turn,
# then runs a turn that asks for a permission.
TOOL_CALL = ('send_control {"subtype":"mcp_message","server_name":"ccbridge","message":{"jsonrpc":"2.0","id":7,'
             '"method":"tools/call","params":{"name":"echo_text","arguments":{"text":"hi"}}}}')
TOOL_THEN_PERMISSION = f'wait_user\n{TOOL_CALL}\n{RESULT_LINE}\npermission_turn Bash {{"command":"ls"}}\nwait_eof'


def mcp_answers(log_path):
    """The JSON-RPC answers to tools/call that reached the CLIs, from the shared stdin log."""
    out = []
    for line in log_path.read_text().splitlines():
        try:
            m = json.loads(line)
        except ValueError:
            continue
        r = m.get("response", {}).get("response", {}) if m.get("type") == "control_response" else {}
        if isinstance(r, dict) and "mcp_response" in r:
            out.append(r["mcp_response"])
    return out


async def start_tool_query(server):
    """A connection that defines echo_text and starts a query; returns (ws, its tool_call frame)."""
    ws, _ = await connect(server)
    await ws.send(json.dumps({"type": "define_tool", "tool": TOOL}))
    assert (await recv_json(ws))["type"] == "tool_defined"
    await ws.send(json.dumps({"type": "query", "prompt": "use the tool", "options": {"permission_requests": True}}))
    frames = await until(ws, "tool_call", timeout=5)
    return ws, frames[-1]


def test_pending_tool_calls_do_not_hold_up_other_connections(start_server, tmp_path):
    # More tool calls wait for their clients than the runtime has callback threads (2): with a
    # handler that blocked a callback thread per call, the later tool_call frames and every other
    # connection's tool call and permission request would wait behind them (for up to 120 s).
    log = tmp_path / "stdin.log"
    s = start_server(script=TOOL_THEN_PERMISSION, env={"CCB_FAKE_STDIN_LOG": str(log)})
    waiting = 5

    async def go():
        pending = [await start_tool_query(s) for _ in range(waiting)]
        t0 = time.monotonic()
        ws, call = await start_tool_query(s)
        async with ws:
            await ws.send(json.dumps({"type": "tool_result", "call_id": call["data"]["call_id"], "content": "prompt answer"}))
            first = await until(ws, "query_end", timeout=5)
            await ws.send(json.dumps({"type": "query", "prompt": "list files", "options": {"permission_requests": True}}))
            head = await until(ws, "permission_request", timeout=5)
            await ws.send(json.dumps({"type": "permission_response", "request_id": head[-1]["data"]["request_id"], "behavior": "allow"}))
            second = await until(ws, "query_end", timeout=5)
        elapsed = time.monotonic() - t0
        # Now the waiting clients answer, each with its own text, and their turns finish.
        tails = []
        for i, (pws, pcall) in enumerate(pending):
            await pws.send(json.dumps({"type": "tool_result", "call_id": pcall["data"]["call_id"],
                                       "content": [{"type": "text", "text": f"late answer {i}"}]}))
        for pws, _ in pending:
            tails.append(await until(pws, "query_end", timeout=5))
            await pws.close()
        return [c for _, c in pending], call, first, second, elapsed, tails

    calls, call, first, second, elapsed, tails = run(go(), timeout=60)
    assert elapsed < 5, elapsed
    for c in calls + [call]:
        assert c["data"]["tool_name"] == "echo_text" and c["data"]["input"] == {"text": "hi"}
    assert len({c["data"]["call_id"] for c in calls + [call]}) == waiting + 1
    assert types(first)[-2:] == ["result_message", "query_end"] and first[-2]["data"]["subtype"] == "success"
    assert "ran Bash" in tool_results(second)[0]["content"]
    for tail in tails:
        assert types(tail)[-2:] == ["result_message", "query_end"] and tail[-2]["data"]["subtype"] == "success"
    # Every answer reached its CLI as the tools/call result (the late ones in any order: each CLI
    # appends to the shared log when it reads its own stdin).
    answers = mcp_answers(log)
    texts = [a["result"]["content"][0]["text"] for a in answers if a.get("id") == 7]
    assert texts[0] == "prompt answer"
    assert sorted(texts[1:]) == [f"late answer {i}" for i in range(waiting)]
    assert not any(a.get("result", {}).get("isError") for a in answers)


def test_tool_result_with_is_error_and_unknown_call_id(start_server, tmp_path):
    log = tmp_path / "stdin.log"
    s = start_server(script=TOOL_THEN_PERMISSION, env={"CCB_FAKE_STDIN_LOG": str(log)})

    async def go():
        ws, call = await start_tool_query(s)
        async with ws:
            unknown = await expect_error(ws, {"type": "tool_result", "call_id": "call_nope", "content": "x"})
            bad = await expect_error(ws, {"type": "tool_result", "call_id": call["data"]["call_id"], "content": 5})
            # The call still waits after those, and is answered once.
            await ws.send(json.dumps({"type": "tool_result", "call_id": call["data"]["call_id"], "content": "it broke",
                                      "is_error": True}))
            tail = await until(ws, "query_end", timeout=5)
            again = await expect_error(ws, {"type": "tool_result", "call_id": call["data"]["call_id"], "content": "x"})
            return unknown, bad, tail, again, call["data"]["call_id"]

    unknown, bad, tail, again, call_id = run(go(), timeout=30)
    assert "call_nope" in unknown and "content" in bad and call_id in again
    assert types(tail)[-2:] == ["result_message", "query_end"]
    answers = [a for a in mcp_answers(log) if a.get("id") == 7]
    assert answers == [{"jsonrpc": "2.0", "id": 7, "result": {"content": [{"type": "text", "text": "it broke"}], "isError": True}}]


def test_a_tool_call_withdrawn_by_the_cli_refuses_a_late_answer(start_server, tmp_path):
    log = tmp_path / "stdin.log"
    cancel = 'emit {"type":"control_cancel_request","request_id":"fake_req_1"}'
    s = start_server(script=f"wait_user\n{TOOL_CALL.replace('send_control', 'send_control_nowait', 1)}\nsleep 100\n{cancel}\n"
                            f"{RESULT_LINE}\nwait_eof", env={"CCB_FAKE_STDIN_LOG": str(log)})

    async def go():
        ws, call = await start_tool_query(s)
        async with ws:
            tail = await until(ws, "query_end", timeout=5)
            late = await expect_error(ws, {"type": "tool_result", "call_id": call["data"]["call_id"], "content": "too late"})
            await ping(ws)
            return tail, late

    tail, late = run(go(), timeout=30)
    assert types(tail)[-2:] == ["result_message", "query_end"]
    assert "withdrawn" in late
    assert mcp_answers(log) == []


# ---- permissions ----------------------------------------------------------------------------------------


async def permission_query(ws, prompt):
    """Sends a query with permission requests on; returns (frames so far, the permission_request frame)."""
    await ws.send(json.dumps({"type": "query", "prompt": prompt, "options": {"permission_requests": True}}))
    frames = await until(ws, "permission_request")
    return frames, frames[-1]


def tool_results(frames):
    return [b for f in frames if f["type"] == "assistant_message" for b in f["data"]["content"] if b.get("type") == "tool_result"]


def test_permission_requests_allow_deny_and_allow_with_updated_input(start_server):
    s = start_server(script=PERMISSIONS)

    async def go():
        ws, _ = await connect(s)
        async with ws:
            head1, req1 = await permission_query(ws, "list files")
            await ws.send(json.dumps({"type": "permission_response", "request_id": req1["data"]["request_id"], "behavior": "allow"}))
            tail1 = await until(ws, "query_end")

            head2, req2 = await permission_query(ws, "delete everything")
            await ws.send(json.dumps({"type": "permission_response", "request_id": req2["data"]["request_id"],
                                      "behavior": "deny", "message": "no"}))
            tail2 = await until(ws, "query_end")

            head3, req3 = await permission_query(ws, "write a file")
            await ws.send(json.dumps({"type": "permission_response", "request_id": req3["data"]["request_id"], "behavior": "allow",
                                      "updated_input": {"file_path": "/tmp/x", "content": "edited"}}))
            tail3 = await until(ws, "query_end")
            return (head1, req1, tail1), (head2, req2, tail2), (head3, req3, tail3), s.processes()

    one, two, three, procs = run(go(), timeout=30)
    assert len(procs) == 1  # one conversation for the three queries

    head1, req1, tail1 = one
    assert types(head1) == ["query_start", "system_message", "assistant_message", "permission_request"]
    tool_use = head1[2]["data"]["content"][0]
    assert tool_use["type"] == "tool_use" and tool_use["name"] == "Bash" and tool_use["input"] == {"command": "ls"}
    d = req1["data"]
    assert set(d) == {"request_id", "tool_name", "input", "tool_use_id", "decision_reason", "suggestions"}
    assert isinstance(d["request_id"], str) and d["request_id"]
    assert d["tool_name"] == "Bash" and d["input"] == {"command": "ls"}
    assert d["tool_use_id"] == tool_use["id"]
    assert d["decision_reason"] == "This command requires approval"
    assert isinstance(d["suggestions"], list) and d["suggestions"]
    r1 = tool_results(tail1)
    assert len(r1) == 1 and r1[0]["is_error"] is False and r1[0]["tool_use_id"] == tool_use["id"]
    assert "ran Bash" in r1[0]["content"] and "ls" in r1[0]["content"]
    assert types(tail1)[-2:] == ["result_message", "query_end"]
    assert tail1[-2]["data"]["subtype"] == "success"

    _, req2, tail2 = two
    assert req2["data"]["input"] == {"command": "rm -rf /"} and req2["data"]["request_id"] != d["request_id"]
    r2 = tool_results(tail2)
    assert len(r2) == 1 and r2[0]["is_error"] is True and "no" in r2[0]["content"]
    assert "ran Bash" not in r2[0]["content"]
    assert types(tail2)[-2:] == ["result_message", "query_end"]

    _, req3, tail3 = three
    assert req3["data"]["tool_name"] == "Write" and req3["data"]["input"] == {"file_path": "/tmp/x", "content": "a"}
    r3 = tool_results(tail3)
    assert len(r3) == 1 and r3[0]["is_error"] is False
    assert "ran Write" in r3[0]["content"] and "edited" in r3[0]["content"]
    assert types(tail3)[-2:] == ["result_message", "query_end"]


def test_permission_response_with_unknown_request_id_is_an_error(start_server):
    s = start_server(script=PERMISSIONS)

    async def go():
        ws, _ = await connect(s)
        async with ws:
            idle = await expect_error(ws, {"type": "permission_response", "request_id": "perm_nope", "behavior": "allow"})
            _, req = await permission_query(ws, "list files")
            pending = await expect_error(ws, {"type": "permission_response", "request_id": "perm_nope", "behavior": "allow"})
            # The real request is still waiting and can be answered.
            await ws.send(json.dumps({"type": "permission_response", "request_id": req["data"]["request_id"], "behavior": "allow"}))
            tail = await until(ws, "query_end")
            again = await expect_error(ws, {"type": "permission_response", "request_id": req["data"]["request_id"], "behavior": "allow"})
            return idle, pending, tail, again

    idle, pending, tail, again = run(go(), timeout=20)
    assert "perm_nope" in idle and "perm_nope" in pending
    assert "ran Bash" in tool_results(tail)[0]["content"]


def test_permission_requests_are_not_sent_unless_asked_for(start_server):
    s = start_server(script='permission_turn Bash {"command":"ls"}\nwait_eof')

    async def go():
        ws, _ = await connect(s)
        async with ws:
            return await query(ws, "list files")

    frames = run(go(), timeout=20)
    assert "permission_request" not in types(frames)
    assert types(frames)[-1] == "query_end"


def test_interrupt_while_a_permission_request_is_pending(start_server):
    s = start_server(script='permission_turn Bash {"command":"sleep 100"}\nwait_eof')

    async def go():
        ws, _ = await connect(s)
        async with ws:
            head, req = await permission_query(ws, "sleep")
            await ws.send(json.dumps({"type": "interrupt"}))
            tail = await until(ws, "query_end")
            # The CLI withdrew the request: a late answer is refused, not silently dropped.
            late = await expect_error(ws, json.dumps({"type": "permission_response", "request_id": req["data"]["request_id"],
                                                      "behavior": "allow"}))
            await ping(ws)
            return head, req, tail, late

    head, req, tail, late = run(go(), timeout=20)
    assert "withdrawn" in json.dumps(late)
    assert req["data"]["input"] == {"command": "sleep 100"}
    assert tail[0] == {"type": "interrupt_acknowledged"}
    assert types(tail)[-3:] == ["result_message", "query_interrupted", "query_end"]
    assert tail[-3]["data"]["subtype"] == "error_during_execution"
    assert types(tail).count("query_end") == 1
    r = tool_results(tail)
    assert r and r[0]["is_error"] is True


# ---- bad input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ["not json", "{\"type\":", "[1, 2, 3]", "\"ping\"", "42", "null", json.dumps({}), json.dumps({"prompt": "hi"}),
     json.dumps({"type": 5}), json.dumps({"type": "no_such_type"}), json.dumps({"type": ""})],
    ids=["invalid-json", "truncated", "array", "string", "number", "null", "empty-object", "missing-type",
         "number-type", "unknown-type", "empty-type"],
)
def test_bad_messages_get_an_error_frame_and_the_connection_keeps_working(start_server, raw):
    s = start_server(script="serve_turns")

    async def go():
        ws, _ = await connect(s)
        async with ws:
            await expect_error(ws, raw)
            await ping(ws)
            return await query(ws, "still here")

    frames = run(go(), timeout=20)
    assert frames[2]["data"]["content"][0]["text"] == "echo: still here"


def test_many_bad_messages_in_a_row_do_not_close_the_connection(start_server):
    s = start_server()

    async def go():
        ws, _ = await connect(s)
        async with ws:
            for raw in ["x", "[]", "{}", '{"type":"nope"}'] * 10:
                await ws.send(raw)
            errors = [await recv_json(ws) for _ in range(40)]
            await ping(ws)
            return errors

    errors = run(go(), timeout=20)
    assert all(e["type"] == "error" for e in errors)


# ---- lifetime ---------------------------------------------------------------------------------------------


def test_disconnect_mid_query_leaves_no_process(start_server):
    s = start_server(script="wait_user\nhang")

    async def go():
        ws, _ = await connect(s)
        await ws.send(json.dumps({"type": "query", "prompt": "hi"}))
        assert (await recv_json(ws))["type"] == "query_start"
        procs = await asyncio.to_thread(wait_for_processes, s)
        await ws.close()
        return procs

    procs = run(go(), timeout=30)
    assert len(procs) == 1
    assert s.wait_no_processes(10), f"left behind: {s.processes()}"


def test_disconnect_after_a_query_ends_the_conversation_process(start_server):
    s = start_server(script="serve_turns")

    async def go():
        ws, _ = await connect(s)
        await query(ws, "hi")
        procs = s.processes()
        await ws.close()
        return procs

    procs = run(go(), timeout=20)
    assert len(procs) == 1
    assert s.wait_no_processes(10)


def test_sigterm_with_a_client_connected_closes_1001_and_exits_0(start_server):
    s = start_server(script="wait_user\nhang")

    async def go():
        idle, _ = await connect(s)
        busy, _ = await connect(s)
        await busy.send(json.dumps({"type": "query", "prompt": "hi"}))
        assert (await recv_json(busy))["type"] == "query_start"
        await asyncio.to_thread(wait_for_processes, s)
        rc = await asyncio.to_thread(s.stop)
        return rc, await read_until_close(idle), await read_until_close(busy)

    rc, (_, idle_code, _), (_, busy_code, _) = run(go(), timeout=40)
    assert rc == 0
    assert idle_code == 1001 and busy_code == 1001
    assert s.wait_no_processes()


# ---- HTTP, token, origin -------------------------------------------------------------------------------------


def test_sessions_lists_a_connected_client(start_server):
    s = start_server(script=f"wait_user\nemit {INIT}\nwait_eof", args=["--max-sessions", "5"])

    async def go():
        ws, hello = await connect(s)
        sid = hello["data"]["session_id"]
        _, idle, _ = await asyncio.to_thread(s.http, "GET", "/sessions")
        await ws.send(json.dumps({"type": "query", "prompt": "hi"}))
        await until(ws, "system_message")
        _, busy, _ = await asyncio.to_thread(s.http, "GET", "/sessions")
        await ws.close()
        return sid, idle, busy

    sid, idle, busy = run(go(), timeout=20)
    assert idle["count"] == 1 and idle["max_sessions"] == 5
    assert idle["sessions"] == [{"session_id": sid, "query_active": False, "connected": True}]
    assert busy["sessions"] == [{"session_id": sid, "query_active": True, "connected": True}]
    deadline = time.time() + 10
    while time.time() < deadline and s.http("GET", "/sessions")[1]["count"]:
        time.sleep(0.05)
    assert s.http("GET", "/sessions")[1] == {"sessions": [], "count": 0, "max_sessions": 5}


def test_token_is_required_on_the_socket(start_server):
    s = start_server(script="serve_turns", args=["--token", "T0ken"])

    async def go():
        async with ws_connect(s.ws_url("/ws")) as ws:
            missing = await read_until_close(ws)
        async with ws_connect(s.ws_url("/ws?token=wrong")) as ws:
            wrong = await read_until_close(ws)
        ws, _ = await connect(s, "/ws?token=T0ken")
        async with ws:
            await ping(ws)
            frames = await query(ws, "hi")
        ws, _ = await connect(s, "/ws", additional_headers={"Authorization": "Bearer T0ken"})
        async with ws:
            await ping(ws)
        return missing, wrong, frames

    (m_frames, m_code, m_reason), (w_frames, w_code, w_reason), frames = run(go(), timeout=20)
    assert m_code == 1008 and m_reason == "Invalid authentication"
    assert w_code == 1008 and w_reason == "Invalid authentication"
    assert not any(isinstance(f, dict) and f.get("type") == "connection_established" for f in m_frames + w_frames)
    assert types(frames)[-1] == "query_end"


def test_token_is_required_on_http_except_health(start_server):
    s = start_server(args=["--token", "T0ken"])
    assert s.http("GET", "/sessions")[0] == 401
    assert s.http("GET", "/sessions", headers={"Authorization": "Bearer wrong"})[0] == 401
    status, body, _ = s.http("GET", "/sessions", headers={"Authorization": "Bearer T0ken"})
    assert status == 200 and body["count"] == 0
    assert s.http("GET", "/sessions?token=T0ken")[0] == 200
    status, body, _ = s.http("GET", "/health")
    assert status == 200 and body["status"] == "healthy"


def test_foreign_origin_is_refused_at_the_handshake(start_server):
    s = start_server()

    async def go():
        with pytest.raises(websockets.InvalidStatus) as err:
            async with ws_connect(s.ws_url("/ws"), origin="http://evil.example"):
                pass
        return err.value.response.status_code

    assert run(go(), timeout=20) == 403
    assert s.http("GET", "/sessions")[1]["count"] == 0


def test_no_origin_own_origin_and_allowed_origin_are_accepted(start_server):
    s = start_server(args=["--allow-origin", "http://good.example"])

    async def go():
        for origin in (None, f"http://127.0.0.1:{s.port}", "http://good.example"):
            kw = {"origin": origin} if origin else {}
            ws, hello = await connect(s, **kw)
            async with ws:
                await ping(ws)
        with pytest.raises(websockets.InvalidStatus) as err:
            async with ws_connect(s.ws_url("/ws"), origin="http://evil.example"):
                pass
        return err.value.response.status_code

    assert run(go(), timeout=20) == 403


# ---- reconnect and resume (?resumable=1, ?session_id=&since_seq=) ---------------------------------------


def test_a_resumable_conversation_survives_a_dropped_connection_with_nothing_lost(start_server):
    # 3,000 messages at 2,000/s: the client drops the connection mid-turn, reconnects, and gets the
    # rest from where it was, with no gap and no duplicate, from the same CLI process.
    s = start_server(script="wait_user\ntimed_text 3000 2000 300\n" + RESULT_LINE + "\nwait_eof")

    async def go():
        first = []
        async with ws_connect(s.ws_url("/ws?resumable=1")) as ws:
            hello = await recv_json(ws)
            assert hello["data"]["capabilities"]["resume"] is True
            sid, token = hello["data"]["session_id"], hello["data"]["resume_token"]
            await ws.send(json.dumps({"type": "query", "prompt": "go"}))
            while len(first) < 500:
                first.append(await recv_json(ws))
            ws.transport.abort()  # no close frame: a dropped network
        # The server has seen the connection go, and keeps the conversation for the reconnect.
        await asyncio.to_thread(wait_detached, s, sid)
        assert len(s.processes()) == 1
        rest = []
        async with ws_connect(s.ws_url(f"/ws?session_id={sid}&since_seq={len(first)}&resume_token={token}")) as ws:
            hello2 = await recv_json(ws)
            while True:
                f = await recv_json(ws)
                rest.append(f)
                if f["type"] == "query_end":
                    break
            # The same conversation goes on: a second turn in the same process.
            await ws.send(json.dumps({"type": "ping"}))
            assert (await recv_json(ws))["type"] == "pong"
        return sid, hello2, first, rest

    sid, hello2, first, rest = run(go(), timeout=60)
    assert hello2["data"]["session_id"] == sid and hello2["data"]["resumed"] is True
    frames = first + rest
    texts = [f["data"]["content"][0]["text"] for f in frames if f["type"] == "assistant_message"]
    assert len(texts) == 3000
    stamps = [int(t.split()[0][2:]) for t in texts]
    assert stamps == sorted(stamps)  # in order; with the count: no gap, no duplicate
    assert [f["type"] for f in frames].count("query_end") == 1


def test_reconnect_errors(start_server):
    s = start_server(script="serve_turns", args=["--reconnect-grace-seconds", "1"])

    async def refused(path):
        async with ws_connect(s.ws_url(path)) as ws:
            return await read_until_close(ws)

    frames, code, _ = run(refused("/ws?session_id=nope"))
    assert code == 1008 and "no conversation" in frames[0]["data"]["error"]

    async def go():
        async with ws_connect(s.ws_url("/ws?resumable=1")) as ws:
            hello = (await recv_json(ws))["data"]
            sid, token = hello["session_id"], hello["resume_token"]
            await query(ws, "hi")
            # While a client is attached, nobody else can take the conversation, even with its token.
            frames, code, _ = await refused(f"/ws?session_id={sid}&resume_token={token}")
            assert code == 1008 and "already has a client" in frames[0]["data"]["error"]
        return sid, token

    sid, token = run(go())
    frames, code, _ = run(refused(f"/ws?session_id={sid}&since_seq=x&resume_token={token}"))
    assert code == 1008
    # After the grace period the conversation and its process are gone.
    assert s.wait_no_processes(timeout=10)
    frames, code, _ = run(refused(f"/ws?session_id={sid}&resume_token={token}"))
    assert code == 1008 and "no conversation" in frames[0]["data"]["error"]


def test_without_resumable_a_dropped_connection_ends_the_conversation(start_server):
    s = start_server(script="wait_user\nhang")

    async def go():
        async with ws_connect(s.ws_url("/ws")) as ws:
            sid = (await recv_json(ws))["data"]["session_id"]
            await ws.send(json.dumps({"type": "query", "prompt": "go"}))
            await recv_json(ws)  # query_start
            await asyncio.sleep(0.3)
        return sid

    sid = run(go())
    assert s.wait_no_processes()
    assert s.http("GET", "/sessions")[1]["count"] == 0


# ---- options across queries (seed 003 sends options with every query) ---------------------------

# The seed's own options, as its examples send them: the quick start, the Python client, the React
# example and its "Query Message" (whose cwd, "/path/to/working/directory", this host lacks).
SEED_QUICK_START = {"allowed_tools": ["Read", "Write"], "max_thinking_tokens": 8000}
SEED_PYTHON = {"allowed_tools": ["Write"], "permission_mode": "acceptEdits"}
SEED_REACT = {"allowed_tools": ["Read", "Write"]}
SEED_QUERY_MESSAGE = {"allowed_tools": ["Read", "Write", "Edit"], "permission_mode": "default",
                      "max_thinking_tokens": 8000, "model": "claude-3-opus-20240229"}


def flag(argv, name):
    """The value of --name=value in argv, or None."""
    values = [a.split("=", 1)[1] for a in argv if a.startswith(f"--{name}=")]
    assert len(values) <= 1, argv
    return values[0] if values else None


def control_requests(log_path):
    """The subtypes of the control requests the CLIs got, from the shared stdin log."""
    out = []
    for line in log_path.read_text().splitlines():
        m = json.loads(line) if line.strip() else {}
        if m.get("type") == "control_request":
            out.append(m["request"])
    return out


def test_the_seeds_per_query_options_keep_one_conversation(start_server, tmp_path):
    inv, log = tmp_path / "invocation.json", tmp_path / "stdin.log"
    s = start_server(script=f"dump_invocation {inv}\nserve_turns", env={"CCB_FAKE_STDIN_LOG": str(log)},
                     args=["--client-allowed-tools", "Read,Write,Edit"])

    async def go():
        ws, _ = await connect(s)
        seen = []  # per query: its frames, the invocation of the process that answered, the processes
        async with ws:
            for prompt, options in [("one", SEED_QUICK_START), ("two", SEED_PYTHON), ("three", SEED_REACT),
                                    ("four", {}), ("five", SEED_QUERY_MESSAGE)]:
                frames = await query(ws, prompt, **options) if options else await query(ws, prompt, options={})
                seen.append((frames, read_invocation(inv), s.processes()))
        return seen

    seen = run(go(), timeout=60)
    for (frames, _, procs), prompt in zip(seen, ["one", "two", "three", "four", "five"]):
        assert types(frames) == ["query_start", "system_message", "assistant_message", "result_message", "query_end"], frames
        assert frames[2]["data"]["content"][0]["text"] == f"echo: {prompt}"
        assert len(procs) == 1
    argv = [inv["argv"] for _, inv, _ in seen]
    # The first process: the quick start's options.
    assert set(flag(argv[0], "allowedTools").split(",")) == {"Read", "Write"}
    assert flag(argv[0], "max-thinking-tokens") == "8000" and flag(argv[0], "resume") is None
    # New tools need a new process: it resumes the first one's conversation, with the Python
    # example's tools and mode, and the thinking tokens it did not mention kept.
    assert flag(argv[1], "allowedTools") == "Write" and flag(argv[1], "permission-mode") == "acceptEdits"
    assert flag(argv[1], "max-thinking-tokens") == "8000" and flag(argv[1], "resume") == "fake-session"
    assert seen[1][2] != seen[0][2]
    # The React example's tools: again a new process, the mode kept.
    assert set(flag(argv[2], "allowedTools").split(",")) == {"Read", "Write"}
    assert flag(argv[2], "permission-mode") == "acceptEdits" and flag(argv[2], "resume") == "fake-session"
    # options: {} keeps everything: the same process. So does the Query Message, whose changes
    # beyond the tools (Edit) ... need a new process once more.
    assert seen[3][2] == seen[2][2]
    assert set(flag(argv[4], "allowedTools").split(",")) == {"Read", "Write", "Edit"}
    assert flag(argv[4], "model") == "claude-3-opus-20240229" and flag(argv[4], "permission-mode") == "default"
    assert flag(argv[4], "resume") == "fake-session"


def test_a_new_model_or_mode_is_set_in_the_running_cli(start_server, tmp_path):
    log = tmp_path / "stdin.log"
    s = start_server(script="serve_turns", env={"CCB_FAKE_STDIN_LOG": str(log)})

    async def go():
        ws, _ = await connect(s)
        async with ws:
            first = await query(ws, "one", allowed_tools=["Read"])
            procs = s.processes()
            second = await query(ws, "two", model="claude-other", permission_mode="plan")
            third = await query(ws, "three", allowed_tools=["Read"], model="claude-other")  # nothing changes
            return first, second, third, procs, s.processes()

    first, second, third, procs1, procs2 = run(go(), timeout=30)
    assert "error" not in types(first) + types(second) + types(third)
    assert len(procs1) == 1 and procs2 == procs1
    changes = [r for r in control_requests(log) if r["subtype"] in ("set_model", "set_permission_mode")]
    assert changes == [{"subtype": "set_model", "model": "claude-other"}, {"subtype": "set_permission_mode", "mode": "plan"}]


def test_changed_options_still_pass_the_server_policy(start_server, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    s = start_server(script="serve_turns")
    inside = s.root / "sub"
    inside.mkdir()

    async def go():
        ws, _ = await connect(s)
        async with ws:
            first = await query(ws, "one", allowed_tools=["Read"])
            errors = [await expect_error(ws, {"type": "query", "prompt": "x", "options": o}) for o in
                      [{"allowed_tools": ["Bash"]}, {"permission_mode": "bypassPermissions"}, {"cwd": str(outside)}]]
            await ping(ws)  # no query_start for any of them
            after = await query(ws, "after", cwd=str(inside))
            return first, errors, after

    first, errors, after = run(go(), timeout=30)
    assert "error" not in types(first)
    assert "Bash" in errors[0] and "bypassPermissions" in errors[1] and errors[2].startswith("cwd:")
    # The refused options were not kept; the allowed cwd was applied (in a new process).
    assert types(after) == ["query_start", "system_message", "assistant_message", "result_message", "query_end"]
    assert after[1]["data"]["cwd"] == str(inside.resolve())


def test_interrupt_while_the_process_is_replaced_ends_the_query_and_the_next_resumes(start_server, tmp_path):
    inv = tmp_path / "invocation.json"
    # Each process takes 300 ms to exit after its stdin closes: the interrupt comes in that gap.
    s = start_server(script=f"dump_invocation {inv}\nserve_turns\nsleep 300")

    async def go():
        ws, _ = await connect(s)
        async with ws:
            await query(ws, "one", max_thinking_tokens=1000)
            await ws.send(json.dumps({"type": "query", "prompt": "two", "options": {"max_thinking_tokens": 2000}}))
            await ws.send(json.dumps({"type": "interrupt"}))
            interrupted = await until(ws, "query_end")
            third = await query(ws, "three")
            return interrupted, third, read_invocation(inv)["argv"]

    interrupted, third, argv = run(go(), timeout=30)
    assert types(interrupted) == ["query_start", "interrupt_acknowledged", "query_interrupted", "query_end"]
    assert third[2]["data"]["content"][0]["text"] == "echo: three"
    assert flag(argv, "max-thinking-tokens") == "2000" and flag(argv, "resume") == "fake-session"


def test_a_later_query_may_not_resume_another_conversation(start_server):
    s = start_server(script="serve_turns")

    async def go():
        ws, _ = await connect(s)
        async with ws:
            first = await query(ws, "one", allowed_tools=["Read"])
            resumed = await query(ws, "two", resume="0b7c8f2e-1d3a-4c5b-9e6f-7a8b9c0d1e2f")
            cont = await query(ws, "three", continue_conversation=True)
            after = await query(ws, "four")
            assert len(s.processes()) == 1  # still the first query's process
            return first, resumed, cont, after

    first, resumed, cont, after = run(go(), timeout=30)
    assert types(first)[-1] == "query_end" and "error" not in types(first)
    for refused in (resumed, cont):
        assert types(refused) == ["query_start", "error", "query_end"] and "first query" in refused[1]["data"]["error"]
    assert "error" not in types(after)


# ---- batch ---------------------------------------------------------------------------------------


def test_a_batch_is_its_messages_in_order_each_with_its_own_errors(start_server):
    s = start_server(script="serve_turns", args=["--client-allowed-tools", "Read,Write"])

    async def go():
        ws, _ = await connect(s)
        async with ws:
            # What the seed's MessageBatcher sends once its queue is full (batchSize 5) ...
            await ws.send(json.dumps({"type": "batch", "messages": [
                {"type": "ping"},
                {"type": "warp"},
                {"type": "query", "prompt": "hi", "options": SEED_REACT},
                {"type": "query", "prompt": "too soon"},
                {"type": "batch", "messages": [{"type": "ping"}]},
            ]}))
            frames = await until(ws, "query_end")
            # ... and a message that is not an object, between good ones.
            await ws.send(json.dumps({"type": "batch", "messages": [{"type": "ping"}, 5, {"type": "get_tools"}]}))
            more = [await recv_json(ws) for _ in range(3)]
            return frames, more

    frames, more = run(go(), timeout=30)
    assert types(frames) == ["pong", "error", "query_start", "error", "error", "system_message", "assistant_message",
                             "result_message", "query_end"]
    assert frames[1]["data"]["error"] == "unknown message type 'warp'"
    assert frames[3]["data"]["error"] == "A query is already in progress. Use interrupt to stop it."
    assert "batch" in frames[4]["data"]["error"]
    assert frames[6]["data"]["content"][0]["text"] == "echo: hi"
    assert types(more) == ["pong", "error", "tools_list"]


@pytest.mark.parametrize("batch, error", [
    ({"type": "batch"}, "'messages' must be an array"),
    ({"type": "batch", "messages": {"type": "ping"}}, "'messages' must be an array"),
    ({"type": "batch", "messages": [{"type": "ping"}] * 101}, "at most 100 messages"),
], ids=["missing", "object", "too-many"])
def test_a_bad_batch_is_one_error_and_nothing_of_it_runs(start_server, batch, error):
    s = start_server(script="serve_turns")

    async def go():
        ws, _ = await connect(s)
        async with ws:
            err = await expect_error(ws, batch)
            await ping(ws)  # the next frame is this pong: none of the batch's came
            return err

    assert error in run(go(), timeout=20)


def test_an_empty_batch_does_nothing(start_server):
    s = start_server(script="serve_turns")

    async def go():
        ws, _ = await connect(s)
        async with ws:
            await ws.send(json.dumps({"type": "batch", "messages": []}))
            await ping(ws)

    run(go(), timeout=20)


def test_metrics_count_conversations_open_and_waiting_for_their_client(start_server):
    s = start_server(script="serve_turns")

    def gauges():
        _, text, _ = s.http("GET", "/metrics")
        m = {line.split()[0]: float(line.split()[1]) for line in text.splitlines() if line and not line.startswith("#")}
        return m["ccbridge_sdk_ws_conversations"], m["ccbridge_sdk_ws_conversations_detached"]

    async def go():
        assert gauges() == (0, 0)
        ws, _ = await connect(s, "/ws?resumable=1")
        ws2, _ = await connect(s)
        assert gauges() == (2, 0)
        await ws.close()
        deadline = time.time() + 5
        while gauges() != (2, 1) and time.time() < deadline:
            await asyncio.sleep(0.02)
        assert gauges() == (2, 1)  # the resumable one waits for a reconnect
        await ws2.close()

    run(go())
