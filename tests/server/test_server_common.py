"""What every profile shares: limits, the config file and environment, session timeout, shutdown."""
import asyncio
import json

from conftest import read_until_close, recv_json, run, ws_connect

HANG = 'wait_user\nemit {"type":"system","subtype":"init"}\nhang'


def test_session_limit_is_enforced_across_profiles(start_server):
    s = start_server(script=HANG, args=["--max-sessions", "1"])
    status, r, _ = s.http("POST", "/claude/execute", {"project_path": str(s.root), "prompt": "x"})
    assert status == 200
    status, body, _ = s.http("POST", "/claude/execute", {"project_path": str(s.root), "prompt": "x"})
    assert status == 503 and "too many sessions" in body["error"]

    async def tasks():
        async with ws_connect(s.ws_url("/ws/claude")) as ws:
            await recv_json(ws)
            await ws.send(json.dumps({"prompt": "x"}))
            return await read_until_close(ws)

    frames, code, _ = run(tasks())
    assert code == 1011 and "too many sessions" in frames[-1]["error"]
    assert s.http("GET", "/health")[1]["active_sessions"] == 1
    assert s.http("POST", f"/claude/cancel/{r['session_id']}")[1]["cancelled"]
    assert s.wait_no_processes()


def test_environment_and_config_file(start_server, tmp_path):
    cfg = tmp_path / "ccbridge.json"
    cfg.write_text(json.dumps({"token": "from-file", "max_sessions": 7}))
    s = start_server(args=["--config", str(cfg)], env={"MAX_SESSIONS": "3", "CCBRIDGE_TOKEN": "from-env"})
    # The file wins over the environment.
    assert s.http("GET", "/sessions")[0] == 401
    assert s.http("GET", "/sessions", headers={"Authorization": "Bearer from-env"})[0] == 401
    status, body, _ = s.http("GET", "/sessions", headers={"Authorization": "Bearer from-file"})
    assert status == 200 and body["max_sessions"] == 7
    assert s.http("GET", "/health")[1]["max_sessions"] == 7


def test_sdk_ws_session_times_out_when_idle(start_server):
    s = start_server(script="serve_turns", args=["--session-timeout-seconds", "1"])

    async def go():
        async with ws_connect(s.ws_url("/ws")) as ws:
            await recv_json(ws)
            await ws.send(json.dumps({"type": "query", "prompt": "hi"}))
            while (await recv_json(ws))["type"] != "query_end":
                pass
            assert len(s.processes()) == 1
            return await read_until_close(ws)

    frames, code, reason = run(go(), timeout=30)
    assert code == 1000 and reason == "session timed out"
    assert s.wait_no_processes()


def test_graceful_stop_ends_every_profile(start_server):
    s = start_server(script=HANG)
    _, r, _ = s.http("POST", "/claude/execute", {"project_path": str(s.root), "prompt": "x"})

    async def go():
        async with ws_connect(s.ws_url(r["websocket_url"])) as a, ws_connect(s.ws_url("/ws/claude")) as b, \
                ws_connect(s.ws_url("/ws")) as c:
            await recv_json(b)
            await b.send(json.dumps({"prompt": "x"}))
            await recv_json(c)
            await c.send(json.dumps({"type": "query", "prompt": "x"}))
            await recv_json(a)
            await asyncio.sleep(0.5)
            assert len(s.processes()) == 3
            await asyncio.to_thread(s.stop)
            return [await read_until_close(ws) for ws in (a, b, c)]

    results = run(go(), timeout=60)
    assert [code for _, code, _ in results] == [1001, 1001, 1001]
    assert s.stopped == 0
    assert s.wait_no_processes()


def test_metrics_count_runs_messages_and_clients(start_server):
    s = start_server()
    _, r, _ = s.http("POST", "/claude/execute", {"project_path": str(s.root), "prompt": "x"})

    async def go():
        async with ws_connect(s.ws_url(r["websocket_url"])) as ws:
            return await read_until_close(ws)

    run(go())
    _, text, _ = s.http("GET", "/metrics")
    metrics = {line.split()[0]: float(line.split()[1]) for line in text.splitlines() if line and not line.startswith("#")}
    assert metrics["ccbridge_runs_started_total"] == 1
    assert metrics["ccbridge_runs_finished_total"] == 1
    assert metrics["ccbridge_cli_messages_total"] == 3
    assert metrics["ccbridge_messages_relayed_total"] == 4  # 3 lines + complete
    assert metrics["ccbridge_ws_connections_total"] == 1
    assert metrics['ccbridge_relay_latency_seconds_bucket{le="+Inf"}'] == 3


def test_idle_websocket_is_closed_after_the_idle_timeout(start_server):
    s = start_server(args=["--idle-timeout-seconds", "1"])

    async def go():
        async with ws_connect(s.ws_url("/ws")) as ws:
            await recv_json(ws)
            t0 = asyncio.get_running_loop().time()
            await asyncio.sleep(0.6)
            await ws.send(json.dumps({"type": "ping"}))  # traffic resets the clock
            assert (await recv_json(ws))["type"] == "pong"
            frames, code, reason = await read_until_close(ws)
            return asyncio.get_running_loop().time() - t0, code, reason

    took, code, reason = run(go(), timeout=30)
    assert code == 1000 and reason == "idle timeout"
    assert took >= 1.5  # 0.6 s, then a full second without traffic
