"""Profile opcode (seed 000): POST /claude/execute, WS /ws/claude/{session_id}, POST /claude/cancel/{id}."""
import asyncio
import json
import socket
import time

import websockets

from conftest import metric, read_until_close, run, wait_until, ws_connect

FLOOD = 'wait_user\nflood {n} 400\nemit {{"type":"result","subtype":"success","is_error":false,"result":"done"}}\nexit 0'


def execute(server, prompt="hello", **fields):
    body = {"project_path": str(server.root), "prompt": prompt}
    body.update(fields)
    return server.http("POST", "/claude/execute", body)


def test_execute_then_stream_verbatim_lines_and_complete(start_server):
    s = start_server()
    status, r, _ = execute(s)
    assert status == 200
    assert r["status"] == "started"
    assert r["websocket_url"] == "/ws/claude/" + r["session_id"]

    async def go():
        async with ws_connect(s.ws_url(r["websocket_url"])) as ws:
            return await read_until_close(ws)

    frames, code, _ = run(go())
    assert [f["type"] for f in frames] == ["system", "assistant", "result", "complete"]
    assert frames[0]["subtype"] == "init" and frames[0]["cwd"] == str(s.root.resolve())
    assert frames[1]["message"]["content"][0]["text"] == "echo: hello"
    assert frames[3] == {"type": "complete", "success": True, "code": 0}
    assert code == 1000  # the socket closes after the process ends


def test_late_attach_replays_everything_and_since_seq_resumes(start_server):
    s = start_server(script=FLOOD.format(n=500))
    _, r, _ = execute(s)
    url = s.ws_url(r["websocket_url"])

    async def watch(path_suffix=""):
        async with ws_connect(url + path_suffix) as ws:
            return await read_until_close(ws)

    async def go():
        live = await watch()  # attached from the start, until the close that follows the process's end
        late = await watch()  # so these attach after the run
        resumed = await watch("?since_seq=200")
        return live, late, resumed

    (live, _, _), (late, code, _), (resumed, _, _) = run(go())
    assert len(live) == 502  # 500 events, result, complete
    assert late == live  # same frames, same order, nothing missing or doubled
    assert resumed == live[200:]
    assert [f["seq"] for f in live if f.get("type") == "stream_event"] == list(range(500))
    assert code == 1000


def test_fifty_clients_on_one_run_receive_identical_streams(start_server):
    s = start_server(script="wait_user\nsleep 300\n" + FLOOD.format(n=2000).removeprefix("wait_user\n"))
    _, r, _ = execute(s)
    url = s.ws_url(r["websocket_url"])

    async def watch():
        async with ws_connect(url) as ws:
            return await read_until_close(ws)

    async def go():
        return await asyncio.gather(*[watch() for _ in range(50)])

    results = run(go(), timeout=120)
    first = results[0][0]
    assert len(first) == 2002
    for frames, code, _ in results:
        assert code == 1000
        assert frames == first


def test_cancel_mid_run_stops_the_process(start_server):
    s = start_server(script='wait_user\nemit {"type":"system","subtype":"init"}\nignore_sigterm\nhang')
    _, r, _ = execute(s)
    sid = r["session_id"]

    async def go():
        async with ws_connect(s.ws_url(r["websocket_url"])) as ws:
            first = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert first["subtype"] == "init"
            assert len(s.processes()) == 1
            status, body, _ = await asyncio.to_thread(s.http, "POST", f"/claude/cancel/{sid}")
            assert status == 200 and body == {"session_id": sid, "cancelled": True}
            return await read_until_close(ws)

    frames, code, _ = run(go())
    assert frames[-1] == {"type": "cancelled", "session_id": sid}
    assert code == 1000
    assert s.wait_no_processes()
    # A second cancel, and a cancel of an unknown id, find nothing to cancel.
    assert s.http("POST", f"/claude/cancel/{sid}")[1] == {"session_id": sid, "cancelled": False}
    assert s.http("POST", "/claude/cancel/nope")[1] == {"session_id": "nope", "cancelled": False}


def test_failed_run_reports_stderr_and_exit_code(start_server):
    s = start_server(script="wait_user\nstderr something broke\nexit 3")
    _, r, _ = execute(s)

    async def go():
        async with ws_connect(s.ws_url(r["websocket_url"])) as ws:
            return await read_until_close(ws)

    frames, code, _ = run(go())
    assert {"type": "error", "message": "something broke"} in frames
    assert frames[-1] == {"type": "complete", "success": False, "code": 3}
    assert code == 1000


def test_continue_and_resume_reach_the_cli(start_server, tmp_path):
    dump = tmp_path / "argv.txt"
    s = start_server(script=f"dump_invocation {dump}\nwait_user\nexit 0")
    for fields, flag in (({"session_type": "continue"}, "--continue"),
                         ({"session_type": "resume", "session_id": "0b7c8f2e-1d3a-4c5b-9e6f-7a8b9c0d1e2f"},
                          "--resume=0b7c8f2e-1d3a-4c5b-9e6f-7a8b9c0d1e2f"),
                         ({"model": "claude-x"}, "--model=claude-x")):
        status, r, _ = execute(s, **fields)
        assert status == 200, r
        for _ in range(100):
            if dump.exists() and flag in dump.read_text():
                break
            time.sleep(0.05)
        assert flag in dump.read_text()
        dump.unlink()


def test_bad_requests_get_documented_errors(start_server, tmp_path):
    s = start_server()
    cases = [
        (b"not json", 400),
        (b"[1,2]", 400),
        (json.dumps({"project_path": str(s.root)}).encode(), 400),               # no prompt
        (json.dumps({"project_path": str(s.root), "prompt": ""}).encode(), 400),
        (json.dumps({"project_path": str(s.root), "prompt": 5}).encode(), 400),
        (json.dumps({"prompt": "x"}).encode(), 400),                             # no project_path
        (json.dumps({"project_path": str(s.root), "prompt": "x", "session_type": "resume"}).encode(), 400),
        (json.dumps({"project_path": str(s.root), "prompt": "x", "session_type": "other"}).encode(), 400),
        (json.dumps({"project_path": str(s.root), "prompt": "x", "model": 7}).encode(), 400),
    ]
    for raw, want in cases:
        status, body, _ = s.http("POST", "/claude/execute", raw=raw, headers={"Content-Type": "application/json"})
        assert status == want, (raw, status, body)
        assert "error" in body
    # An invalid project path: HTTP 500 "Failed to spawn Claude process", as the seed documents.
    status, body, _ = s.http("POST", "/claude/execute", {"project_path": str(s.root / "missing"), "prompt": "x"})
    assert status == 500 and body["error"] == "Failed to spawn Claude process"
    # Outside the allowed roots, including through a symlink and "..": refused.
    (s.root / "link").symlink_to(tmp_path)
    for p in (str(tmp_path), str(s.root / "link"), str(s.root) + "/../", "relative/path"):
        status, body, _ = s.http("POST", "/claude/execute", {"project_path": p, "prompt": "x"})
        assert status in (403, 500) and body["error"] == "Failed to spawn Claude process", (p, status, body)
    assert s.http("GET", "/claude/execute")[0] == 405
    assert s.http("GET", "/nope")[0] == 404
    assert not s.processes()


def test_missing_cli_is_http_500_claude_binary_not_found(start_server):
    s = start_server(cli="/nonexistent/claude")
    status, body, _ = execute(s)
    assert status == 500 and body["error"] == "Claude binary not found"


def test_unknown_session_socket_gets_error_then_1008(start_server):
    s = start_server()

    async def go():
        async with ws_connect(s.ws_url("/ws/claude/no-such-id")) as ws:
            return await read_until_close(ws)

    frames, code, _ = run(go())
    assert frames == [{"type": "error", "message": "session not found: no-such-id"}]
    assert code == 1008
    _, r, _ = execute(s)

    async def bad_seq():
        async with ws_connect(s.ws_url(r["websocket_url"] + "?since_seq=-1")) as ws:
            return await read_until_close(ws)

    frames, code, _ = run(bad_seq())
    assert code == 1008 and frames[0]["type"] == "error"


def test_replay_gap_is_reported_explicitly(start_server):
    # A log of ~40 KB keeps only the newest events of a 500 x 400-byte run.
    s = start_server(script=FLOOD.format(n=500), args=["--run-log-bytes", "40000"])
    _, r, _ = execute(s)
    wait_until(lambda: metric(s, "ccbridge_runs_finished_total") == 1, "the run's end: its log has overflowed")

    async def go():
        async with ws_connect(s.ws_url(r["websocket_url"])) as ws:
            return await read_until_close(ws)

    frames, code, _ = run(go())
    gap = frames[0]
    assert gap["type"] == "error" and gap["code"] == "replay_gap"
    first = gap["first_seq"]
    assert first > 1
    events = [f for f in frames[1:] if f.get("type") == "stream_event"]
    assert events[0]["seq"] == first - 1  # seq counts from 1, the fake's from 0: nothing after the gap is missing
    assert [e["seq"] for e in events] == list(range(first - 1, 500))
    assert frames[-1]["type"] == "complete" and code == 1000


def test_slow_client_is_dropped_while_a_fast_one_gets_everything(start_server):
    s = start_server(script=FLOOD.format(n=40000), args=["--slow-client-timeout-ms", "500", "--send-buffer-bytes", "65536"])
    _, r, _ = execute(s)
    path = r["websocket_url"]

    # The slow client: a raw socket that completes the handshake, then reads nothing for a while.
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", s.port))
    slow.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{s.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())

    async def fast():
        async with ws_connect(s.ws_url(path)) as ws:
            return await read_until_close(ws)

    frames, code, _ = run(fast(), timeout=120)
    assert len(frames) == 40002 and code == 1000  # the fast client got everything at full speed
    # Now the slow client reads: a prefix of the stream, then the close frame 1013 telling it
    # where to resume.
    slow.settimeout(5)
    data = b""
    while True:
        chunk = slow.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    slow.close()
    close_at = data.rfind(b"\x88")
    assert close_at > 0, "no close frame"
    assert int.from_bytes(data[close_at + 2:close_at + 4], "big") == 1013
    assert b"since_seq=" in data[close_at:]
    assert data.count(b'"type":"stream_event"') < 40000
    status, metrics, _ = s.http("GET", "/metrics")
    assert "ccbridge_clients_dropped_total 1" in metrics


def test_health_and_metrics(start_server):
    s = start_server()
    status, h, _ = s.http("GET", "/health")
    assert status == 200 and h["status"] == "healthy"
    execute(s)
    wait_until(lambda: metric(s, "ccbridge_runs_finished_total") == 1, "the run's end")
    status, text, headers = s.http("GET", "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert "ccbridge_runs_started_total 1" in text
    assert "# TYPE ccbridge_relay_latency_seconds histogram" in text


def test_token_protects_every_route_but_health(start_server):
    s = start_server(args=["--token", "s3cret"])
    assert s.http("GET", "/health")[0] == 200
    assert s.http("POST", "/claude/execute", {"project_path": str(s.root), "prompt": "x"})[0] == 401
    status, r, _ = s.http("POST", "/claude/execute", {"project_path": str(s.root), "prompt": "x"},
                          headers={"Authorization": "Bearer s3cret"})
    assert status == 200

    async def go(q):
        async with ws_connect(s.ws_url(r["websocket_url"] + q)) as ws:
            return await read_until_close(ws)

    assert run(go(""))[1:] == (1008, "Invalid authentication")
    frames, code, _ = run(go("?token=s3cret"))
    assert code == 1000 and frames[-1]["type"] == "complete"


def test_foreign_browser_origin_is_refused(start_server):
    s = start_server()
    _, r, _ = execute(s)

    async def go(origin):
        async with ws_connect(s.ws_url(r["websocket_url"]), origin=origin) as ws:
            return await read_until_close(ws)

    try:
        run(go("http://evil.example"))
        raise AssertionError("a foreign Origin was accepted")
    except websockets.InvalidStatus as e:
        assert e.response.status_code == 403
    # The server's own pages (Origin = http://<Host>) are fine.
    frames, code, _ = run(go(f"http://127.0.0.1:{s.port}"))
    assert code == 1000
    # A cross-site POST is refused too (CSRF).
    status, _, _ = s.http("POST", "/claude/execute", {"project_path": str(s.root), "prompt": "x"},
                          headers={"Origin": "http://evil.example"})
    assert status == 403


def test_sigterm_ends_runs_and_closes_sockets_with_1001(start_server):
    s = start_server(script='wait_user\nemit {"type":"system","subtype":"init"}\nhang')
    _, r, _ = execute(s)

    async def go():
        async with ws_connect(s.ws_url(r["websocket_url"])) as ws:
            await asyncio.wait_for(ws.recv(), 10)
            await asyncio.to_thread(s.stop)
            return await read_until_close(ws)

    frames, code, _ = run(go())
    assert code == 1001
    assert s.stopped == 0
    assert s.wait_no_processes()


def test_a_burst_larger_than_the_log_reaches_a_lone_client_in_full(start_server):
    # 8 MB of output against a 200 KB log: with a client attached the CLI is held back instead
    # of events being dropped.
    s = start_server(script="wait_user\nsleep 500\n" + FLOOD.format(n=20000).removeprefix("wait_user\n"),
                     args=["--run-log-bytes", "200000"])
    _, r, _ = execute(s)

    async def go():
        async with ws_connect(s.ws_url(r["websocket_url"])) as ws:
            return await read_until_close(ws)

    frames, code, _ = run(go(), timeout=120)
    assert code == 1000
    assert [f["seq"] for f in frames if f.get("type") == "stream_event"] == list(range(20000))
    assert frames[-1]["type"] == "complete"
