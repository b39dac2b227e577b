"""One happy path per profile with the real, pinned Claude Code CLI against the offline mock of the
Messages API. Run by ctest through netns-run.sh and with-mock-api.sh, which provide the loopback-only
network namespace and the offline environment (ANTHROPIC_BASE_URL, scratch HOME ...); the server
passes that environment on to the CLI.
"""
import asyncio
import glob
import json
import os
import time

from conftest import read_until_close, recv_json, run, until, ws_connect

REAL = os.environ.get("CCB_REAL_CLI", "")


def test_opcode_real_cli(start_server):
    s = start_server(cli=REAL)
    status, r, _ = s.http("POST", "/claude/execute", {"project_path": str(s.root), "prompt": "[[reply: hello from the mock]]"})
    assert status == 200, r

    async def go():
        async with ws_connect(s.ws_url(r["websocket_url"])) as ws:
            return await read_until_close(ws)

    frames, code, _ = run(go(), timeout=120)
    types = [f["type"] for f in frames]
    assert types[0] == "system" and frames[0]["subtype"] == "init"
    texts = [b["text"] for f in frames if f["type"] == "assistant" for b in f["message"]["content"] if b["type"] == "text"]
    assert "hello from the mock" in texts
    result = next(f for f in frames if f["type"] == "result")
    assert result["subtype"] == "success" and not result["is_error"]
    assert frames[-1] == {"type": "complete", "success": True, "code": 0}
    assert code == 1000


def test_tasks_ui_real_cli(start_server):
    s = start_server(cli=REAL)

    async def go():
        async with ws_connect(s.ws_url("/ws/claude")) as ws:
            greeting = await recv_json(ws)
            await ws.send(json.dumps({"prompt": "[[reply: tasks hello]]", "meta": "TASK-1"}))
            frames, code, _ = await read_until_close(ws)
            return greeting, frames, code

    greeting, frames, code = run(go(), timeout=120)
    assert greeting == {"info": "send {prompt,meta}"}
    messages = [f for f in frames if isinstance(f, dict) and f.get("type") == "message"]
    assert any(b.get("text") == "tasks hello" for m in messages for b in m["content"])
    assert code == 1000


def test_sdk_ws_real_cli_two_turns_a_client_tool_and_a_permission(start_server):
    s = start_server(cli=REAL)

    async def turn(ws, query):
        await ws.send(json.dumps(query))
        frames = []
        while True:
            f = await recv_json(ws, timeout=90)
            frames.append(f)
            if f["type"] == "tool_call":
                d = f["data"]
                assert d["tool_name"] == "Formatter" and d["input"] == {"text": "abc", "style": "bold"}
                await ws.send(json.dumps({"type": "tool_result", "call_id": d["call_id"], "content": "**abc**"}))
            if f["type"] == "permission_request":
                d = f["data"]
                assert d["tool_name"] == "Bash" and d["tool_use_id"]
                await ws.send(json.dumps({"type": "permission_response", "request_id": d["request_id"], "behavior": "allow"}))
            if f["type"] == "query_end":
                return frames

    def texts(frames):
        return [b.get("text", "") for f in frames if f["type"] == "assistant_message" for b in f["data"]["content"]]

    async def go():
        async with ws_connect(s.ws_url("/ws")) as ws:
            hello = await recv_json(ws)
            assert hello["type"] == "connection_established"
            await ws.send(json.dumps({"type": "define_tool", "tool": {
                "name": "Formatter", "description": "Formats text",
                "parameters": {"text": {"type": "string", "required": True}, "style": {"type": "string", "enum": ["bold", "italic"]}}}}))
            assert (await recv_json(ws))["type"] == "tool_defined"
            opts = {"permission_requests": True}
            t1 = await turn(ws, {"type": "query", "prompt": "[[reply: first turn]]", "options": opts})
            t2 = await turn(ws, {"type": "query", "prompt": '[[tool: mcp__ccbridge__Formatter :: {"text":"abc","style":"bold"}]]', "options": opts})
            # A command the CLI asks about (echo would be allowed as read-only without asking).
            t3 = await turn(ws, {"type": "query", "prompt": "[[bash: node -e 'console.log(6*7)']]", "options": opts})
            return t1, t2, t3

    t1, t2, t3 = run(go(), timeout=300)
    assert t1[0]["type"] == "query_start" and "first turn" in texts(t1)
    assert t1[-2]["type"] == "result_message" and t1[-2]["data"]["subtype"] == "success"
    # The model called the client's tool; the client's answer came back to it.
    assert any(f["type"] == "tool_call" for f in t2)
    assert any("**abc**" in t for t in texts(t2))
    # The Bash call was asked for, allowed, and ran.
    assert any(f["type"] == "permission_request" for f in t3)
    results = [b for f in t3 if f["type"] == "assistant_message" for b in f["data"]["content"] if b.get("type") == "tool_result"]
    assert results and not results[0]["is_error"] and "42" in json.dumps(results[0]["content"])
    # All three turns ran in one CLI process: the same Claude session id throughout.
    ids = {f["data"]["session_id"] for f in t1 + t2 + t3 if f["type"] == "result_message"}
    assert len(ids) == 1


def test_sdk_ws_real_cli_options_change_resumes_the_conversation_in_a_new_process(start_server):
    s = start_server(cli=REAL)

    def cmdlines():
        out = []
        for pid in s.processes():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    out.append([a.decode(errors="replace") for a in f.read().split(b"\0") if a])
            except OSError:
                pass
        return out

    async def turn(ws, prompt, options):
        await ws.send(json.dumps({"type": "query", "prompt": prompt, "options": options}))
        frames = []
        while not frames or frames[-1]["type"] != "query_end":
            frames.append(await recv_json(ws, timeout=90))
        return frames

    async def go():
        async with ws_connect(s.ws_url("/ws")) as ws:
            assert (await recv_json(ws))["type"] == "connection_established"
            t1 = await turn(ws, "[[reply: the first answer]]", {"max_thinking_tokens": 1024})
            # New thinking tokens cannot change in the running CLI: a new process resumes the conversation.
            t2 = await turn(ws, "[[reply: the second answer]]", {"max_thinking_tokens": 2048})
            return t1, t2, cmdlines()

    t1, t2, procs = run(go(), timeout=300)
    for t, text in ((t1, "the first answer"), (t2, "the second answer")):
        assert "error" not in [f["type"] for f in t], t
        assert any(b.get("text") == text for f in t if f["type"] == "assistant_message" for b in f["data"]["content"])
    (sid,) = {f["data"]["session_id"] for f in t1 + t2 if f["type"] == "result_message"}  # one conversation
    argv = [a for p in procs for a in p]
    assert f"--resume={sid}" in argv or sid in argv, procs
    assert "--max-thinking-tokens=2048" in argv, procs
    # The CLI's transcript of that conversation holds both turns.
    (transcript,) = glob.glob(os.path.join(os.environ["HOME"], ".claude", "projects", "*", f"{sid}.jsonl"))
    text = open(transcript, encoding="utf-8").read()
    assert "the first answer" in text and "the second answer" in text


def _mock_port():
    return int(os.environ["ANTHROPIC_BASE_URL"].rsplit(":", 1)[1].strip("/"))


def _connected_to_mock():
    """Whether a TCP connection to the mock of the Messages API is established (a request under way)."""
    port = f"{_mock_port():04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[2].rsplit(":", 1)[1] == port and fields[3] == "01":  # rem_address, ESTABLISHED
                return True
    return False


async def _until_mock_request(timeout=60):
    deadline = time.monotonic() + timeout
    while not _connected_to_mock():
        assert time.monotonic() < deadline, "the CLI never sent its request to the mock"
        await asyncio.sleep(0.02)


def test_opcode_real_cli_cancel_mid_request_stops_the_run_now(start_server):
    # The default exit_wait (5 s), under which the CLI used to finish its turn before it was stopped.
    s = start_server(cli=REAL, args=["--exit-wait-ms", "5000", "--term-wait-ms", "5000"])
    # [[slow: 250]]: the mock streams its answer over ~10 s.
    status, r, _ = s.http("POST", "/claude/execute", {"project_path": str(s.root), "prompt": "[[slow: 250]]"})
    assert status == 200, r
    sid = r["session_id"]

    async def go():
        async with ws_connect(s.ws_url(r["websocket_url"])) as ws:
            first = await recv_json(ws, timeout=60)
            assert first["type"] == "system" and first["subtype"] == "init"
            await _until_mock_request()
            t0 = time.monotonic()
            status, body, _ = await asyncio.to_thread(s.http, "POST", f"/claude/cancel/{sid}")
            assert status == 200 and body == {"session_id": sid, "cancelled": True}
            frames, code, _ = await read_until_close(ws)
            return frames, code, time.monotonic() - t0

    frames, code, took = run(go(), timeout=120)
    assert frames[-1] == {"type": "cancelled", "session_id": sid}
    assert not any(f.get("type") in ("result", "complete") for f in frames if isinstance(f, dict)), frames
    assert code == 1000
    # The bound is 1 s; 2 s leaves room for a loaded machine and is still far below exit_wait.
    assert took < 2, f"the cancelled frame and the close came {took:.2f} s after the cancel"
    assert s.wait_no_processes(5)


def test_sdk_ws_real_cli_interrupt_mid_answer_ends_the_query_and_keeps_the_conversation(start_server):
    s = start_server(cli=REAL)

    async def go():
        async with ws_connect(s.ws_url("/ws")) as ws:
            assert (await recv_json(ws))["type"] == "connection_established"
            await ws.send(json.dumps({"type": "query", "prompt": "[[slow: 250]]", "options": {}}))
            assert (await recv_json(ws, timeout=60))["type"] == "query_start"
            await _until_mock_request()
            t0 = time.monotonic()
            await ws.send(json.dumps({"type": "interrupt"}))
            first = await until(ws, "query_end", timeout=30)
            took = time.monotonic() - t0
            await ws.send(json.dumps({"type": "query", "prompt": "[[reply: after the interrupt]]", "options": {}}))
            second = await until(ws, "query_end", timeout=90)
            return first, took, second

    first, took, second = run(go(), timeout=240)
    types = [f["type"] for f in first]
    assert "interrupt_acknowledged" in types
    assert types[-2:] == ["query_interrupted", "query_end"], types
    results = [f["data"] for f in first if f["type"] == "result_message"]
    assert results, types
    assert took < 2, f"query_end came {took:.2f} s after the interrupt"
    texts = [b.get("text", "") for f in second if f["type"] == "assistant_message" for b in f["data"]["content"]]
    assert "after the interrupt" in texts
    second_results = [f["data"] for f in second if f["type"] == "result_message"]
    assert second_results and second_results[0]["subtype"] == "success"
    # The same conversation: the second answer came from the same Claude session.
    assert second_results[0]["session_id"] == results[0]["session_id"]
