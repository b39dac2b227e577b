"""Profile tasks-ui (seed 002): WS /ws/claude. One {prompt, meta} per connection, one CLI run, one
frame per CLI line, then the close code tells how the run ended (1000 ok, 1011 failure/timeout,
1008 bad input)."""
import asyncio
import json
import time

import pytest
import websockets

from conftest import read_until_close, recv_json, run, ws_connect

GREETING = {"info": "send {prompt,meta}"}
INIT = '{"type":"system","subtype":"init","session_id":"fake-session"}'


async def _open(server):
    """Connects to /ws/claude and checks the greeting; returns the socket."""
    ws = await ws_connect(server.ws_url("/ws/claude"))
    assert await recv_json(ws) == GREETING
    return ws


async def _send_and_read(server, payload, raw=False):
    """Sends one message (a dict as JSON, or a raw string) and reads every frame until the close."""
    async with ws_connect(server.ws_url("/ws/claude")) as ws:
        assert await recv_json(ws) == GREETING
        await ws.send(payload if raw else json.dumps(payload))
        return await read_until_close(ws)


def _wait_for_process(server, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        procs = server.processes()
        if procs:
            return procs
        time.sleep(0.02)
    return server.processes()


def test_greeting_is_the_exact_info_frame(start_server):
    s = start_server()

    async def go():
        async with ws_connect(s.ws_url("/ws/claude")) as ws:
            return await asyncio.wait_for(ws.recv(), 10)

    text = run(go(), timeout=20)
    assert json.loads(text) == GREETING


def test_prompt_with_meta_streams_each_line_and_closes_1000(start_server):
    s = start_server()
    frames, code, _ = run(_send_and_read(s, {"prompt": "hi", "meta": "TASK-1"}), timeout=20)
    assert code == 1000
    assert [f["type"] for f in frames] == ["system", "message", "result"]
    init, assistant, result = frames
    assert init["subtype"] == "init" and init["session_id"] == "fake-session"
    # The assistant line is sent as its inner "message" object only.
    assert assistant["type"] == "message" and assistant["role"] == "assistant"
    assert assistant["content"] == [{"type": "text", "text": "echo: hi\n\n[meta:TASK-1]"}]
    assert "parent_tool_use_id" not in assistant and "message" not in assistant
    assert result["subtype"] == "success" and result["is_error"] is False
    assert result["result"] == "echo: hi\n\n[meta:TASK-1]"
    assert s.wait_no_processes()


def test_prompt_without_meta_is_sent_unchanged(start_server):
    s = start_server()
    frames, code, _ = run(_send_and_read(s, {"prompt": "plain prompt"}), timeout=20)
    assert code == 1000
    assistant = [f for f in frames if f.get("type") == "message"]
    assert len(assistant) == 1
    assert assistant[0]["content"][0]["text"] == "echo: plain prompt"


def test_meta_with_every_allowed_character_class_is_accepted(start_server):
    s = start_server()
    frames, code, _ = run(_send_and_read(s, {"prompt": "p", "meta": "AB_09-Z"}), timeout=20)
    assert code == 1000
    assistant = [f for f in frames if f.get("type") == "message"]
    assert assistant[0]["content"][0]["text"] == "echo: p\n\n[meta:AB_09-Z]"


def test_non_assistant_lines_are_forwarded_verbatim(start_server):
    custom = '{"type":"custom_event","nested":{"a":[1,2,3]},"s":"caf\\u00e9 \\"q\\"","n":1.5e3}'
    result = '{"type":"result","subtype":"success","is_error":false,"result":"ok","session_id":"fake-session"}'
    s = start_server(script=f"wait_user\nemit {INIT}\nemit {custom}\nemit {result}\nexit 0")

    async def go():
        async with ws_connect(s.ws_url("/ws/claude")) as ws:
            assert await recv_json(ws) == GREETING
            await ws.send(json.dumps({"prompt": "x"}))
            texts = []
            try:
                while True:
                    texts.append(await asyncio.wait_for(ws.recv(), 10))
            except websockets.ConnectionClosed as e:  # the server closes when the run ends
                return texts, e.rcvd.code if e.rcvd else None

    texts, code = run(go(), timeout=20)
    assert texts == [INIT, custom, result]
    assert code == 1000


def test_stderr_lines_become_error_frames_and_success_still_closes_1000(start_server):
    result = '{"type":"result","subtype":"success","is_error":false,"result":"ok"}'
    s = start_server(script=f"wait_user\nstderr warning one\nsleep 100\nstderr warning two\nsleep 100\nemit {result}\nexit 0")
    frames, code, _ = run(_send_and_read(s, {"prompt": "x"}), timeout=20)
    assert code == 1000
    assert {"error": "warning one"} in frames
    assert {"error": "warning two"} in frames
    assert frames.index({"error": "warning one"}) < frames.index({"error": "warning two"})
    assert frames[-1]["type"] == "result"


def test_prompt_of_exactly_8192_bytes_is_accepted(start_server):
    s = start_server()
    prompt = "a" * 8192
    frames, code, _ = run(_send_and_read(s, {"prompt": prompt}), timeout=20)
    assert code == 1000
    assistant = [f for f in frames if f.get("type") == "message"]
    assert assistant[0]["content"][0]["text"] == "echo: " + prompt


def test_prompt_of_8192_bytes_in_multibyte_characters_is_accepted(start_server):
    s = start_server()
    prompt = "\u00e9" * 4096  # 4096 characters, 8192 UTF-8 bytes
    frames, code, _ = run(_send_and_read(s, {"prompt": prompt}), timeout=20)
    assert code == 1000
    assistant = [f for f in frames if f.get("type") == "message"]
    assert assistant[0]["content"][0]["text"] == "echo: " + prompt


@pytest.mark.parametrize("prompt", ["a" * 8193, "\u00e9" * 4096 + "a"], ids=["ascii", "multibyte"])
def test_prompt_of_8193_bytes_is_refused_with_1008(start_server, prompt):
    s = start_server()
    frames, code, _ = run(_send_and_read(s, {"prompt": prompt}), timeout=20)
    assert code == 1008
    assert len(frames) == 1 and isinstance(frames[0].get("error"), str) and frames[0]["error"]
    assert "8192" in frames[0]["error"]
    assert not s.processes()


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        "{\"prompt\": \"x\"",
        "[1, 2]",
        "\"just a string\"",
        "42",
        "null",
        json.dumps({}),
        json.dumps({"meta": "TASK-1"}),
        json.dumps({"prompt": ""}),
        json.dumps({"prompt": None}),
        json.dumps({"prompt": 5}),
        json.dumps({"prompt": ["x"]}),
        json.dumps({"prompt": {"text": "x"}}),
        json.dumps({"prompt": "x", "meta": "task-1"}),
        json.dumps({"prompt": "x", "meta": "TASK 1"}),
        json.dumps({"prompt": "x", "meta": "TASK.1"}),
        json.dumps({"prompt": "x", "meta": ""}),
        json.dumps({"prompt": "x", "meta": 7}),
        json.dumps({"prompt": "x", "meta": ["A"]}),
        json.dumps({"prompt": "x", "meta": "TASK-1\n"}),
    ],
    ids=[
        "invalid-json", "truncated-json", "array", "string", "number", "null",
        "empty-object", "missing-prompt", "empty-prompt", "null-prompt", "number-prompt", "array-prompt", "object-prompt",
        "meta-lowercase", "meta-space", "meta-dot", "meta-empty", "meta-number", "meta-array", "meta-newline",
    ],
)
def test_bad_input_gets_error_frame_then_1008_and_starts_nothing(start_server, payload):
    s = start_server()
    frames, code, _ = run(_send_and_read(s, payload, raw=True), timeout=20)
    assert code == 1008
    assert len(frames) == 1, frames
    assert set(frames[0]) == {"error"} and isinstance(frames[0]["error"], str) and frames[0]["error"]
    assert not s.processes()
    # (tasks-ui runs are not the hub's: ccbridge_runs_started_total does not count them; a start is logged)
    assert " run_start profile=tasks-ui " not in s.log_text()


def test_second_prompt_while_running_is_refused_and_starts_no_second_process(start_server):
    s = start_server(script=f"wait_user\nemit {INIT}\nhang")

    async def go():
        async with ws_connect(s.ws_url("/ws/claude")) as ws:
            assert await recv_json(ws) == GREETING
            await ws.send(json.dumps({"prompt": "first"}))
            assert (await recv_json(ws))["type"] == "system"  # the run is going
            before = s.processes()
            await ws.send(json.dumps({"prompt": "second"}))
            refusal = await recv_json(ws)
            # One connection's messages are handled in order, each to its end: once the third is
            # answered, whatever the second started exists. The next frame being that answer also
            # shows the connection stayed open and usable, nothing else sent.
            await ws.send(json.dumps({"prompt": "third"}))
            again = await recv_json(ws)
            after = s.processes()
            return before, refusal, again, after

    before, refusal, again, after = run(go(), timeout=30)
    assert len(before) == 1
    assert refusal["error"].startswith("a prompt is already running on this connection")
    assert again == refusal
    assert after == before
    assert s.log_text().count(" run_start profile=tasks-ui ") == 1
    assert s.wait_no_processes()  # closing the socket ended the run


def test_timeout_sends_error_then_closes_1011_and_kills_the_process(start_server):
    s = start_server(script="hang", args=["--tasks-timeout-seconds", "1"])

    async def go():
        t0 = time.monotonic()
        result = await _send_and_read(s, {"prompt": "slow"})
        return result, time.monotonic() - t0

    (frames, code, _), elapsed = run(go(), timeout=30)
    assert code == 1011
    assert frames, "no frame before the close"
    assert frames[-1]["error"].startswith("timeout: ")
    assert 0.9 <= elapsed < 10
    assert s.wait_no_processes(5)


def test_failing_cli_sends_stderr_error_then_closes_1011(start_server):
    s = start_server(script="wait_user\nstderr boom\nexit 3")
    frames, code, _ = run(_send_and_read(s, {"prompt": "x"}), timeout=20)
    assert code == 1011
    assert frames[0] == {"error": "boom"}
    assert all(set(f) == {"error"} for f in frames)
    assert s.wait_no_processes()


def test_cli_killed_by_a_signal_closes_1011_after_an_error_frame(start_server):
    s = start_server(script=f"wait_user\nemit {INIT}\nkill 9")
    frames, code, _ = run(_send_and_read(s, {"prompt": "x"}), timeout=20)
    assert code == 1011
    assert frames[0]["type"] == "system"
    assert "error" in frames[-1] and frames[-1]["error"]


def test_cli_that_cannot_start_sends_error_then_closes_1011(start_server):
    s = start_server(cli="/nonexistent/claude")
    frames, code, _ = run(_send_and_read(s, {"prompt": "x"}), timeout=20)
    assert code == 1011
    assert len(frames) == 1 and set(frames[0]) == {"error"} and frames[0]["error"]


def test_client_disconnect_mid_run_kills_the_process(start_server):
    s = start_server(script="wait_user\nhang")

    async def go():
        ws = await _open(s)
        await ws.send(json.dumps({"prompt": "x"}))
        procs = await asyncio.to_thread(_wait_for_process, s)
        await ws.close()
        return procs

    procs = run(go(), timeout=30)
    assert len(procs) == 1
    assert s.wait_no_processes(10), f"left behind: {s.processes()}"
    assert s.http("GET", "/health")[1]["active_sessions"] == 0


def test_client_disconnect_stops_the_process_after_the_cancel_grace_not_exit_wait(start_server):
    # A cancel: SIGTERM after --cancel-grace-ms, where ending a run gracefully would wait 5 s first.
    s = start_server(script="wait_user\nhang", args=["--exit-wait-ms", "5000", "--cancel-grace-ms", "200"])

    async def go():
        ws = await _open(s)
        await ws.send(json.dumps({"prompt": "x"}))
        await asyncio.to_thread(_wait_for_process, s)
        t0 = time.monotonic()
        await ws.close()
        return t0

    t0 = run(go(), timeout=30)
    assert s.wait_no_processes(10), f"left behind: {s.processes()}"
    took = time.monotonic() - t0
    assert took < 2, f"the CLI was stopped {took:.2f} s after the client left"


def test_abrupt_tcp_drop_mid_run_kills_the_process(start_server):
    s = start_server(script="wait_user\nhang")

    async def go():
        ws = await _open(s)
        await ws.send(json.dumps({"prompt": "x"}))
        procs = await asyncio.to_thread(_wait_for_process, s)
        ws.transport.abort()  # no close frame: the TCP connection just goes
        return procs

    procs = run(go(), timeout=30)
    assert len(procs) == 1
    assert s.wait_no_processes(10), f"left behind: {s.processes()}"


def test_token_is_required_on_the_tasks_socket(start_server):
    s = start_server(args=["--token", "sekrit"])

    async def go():
        async with ws_connect(s.ws_url("/ws/claude")) as ws:
            refused = await read_until_close(ws)
        async with ws_connect(s.ws_url("/ws/claude?token=sekrit")) as ws:
            assert await recv_json(ws) == GREETING
            await ws.send(json.dumps({"prompt": "hi"}))
            allowed = await read_until_close(ws)
        return refused, allowed

    (frames, code, reason), (ok_frames, ok_code, _) = run(go(), timeout=20)
    assert code == 1008 and reason == "Invalid authentication"
    assert GREETING not in frames
    assert ok_code == 1000
    assert [f["type"] for f in ok_frames] == ["system", "message", "result"]
