"""What every profile shares: limits, the config file and environment, session timeout, shutdown."""
import asyncio
import json
import os
import subprocess

import pytest

from conftest import CCB, read_until_close, recv_json, run, wait_until, ws_connect

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


def refused(tmp_path, args, env=None):
    """Runs `ccbridge serve ARGS`, which must refuse to start (exit 2); returns its first line."""
    e = {k: v for k, v in os.environ.items()
         if k not in ("WEBSOCKET_HOST", "WEBSOCKET_PORT", "MAX_SESSIONS", "SESSION_TIMEOUT_MINUTES", "CORS")}
    e.update(env or {})
    try:
        p = subprocess.run([CCB, "serve", "--port", "0", *args], cwd=tmp_path, env=e, capture_output=True, text=True,
                           timeout=5)
    except subprocess.TimeoutExpired:
        pytest.fail(f"ccbridge serve {args} started instead of refusing")
    assert p.returncode == 2, (args, p.returncode, p.stderr[-500:])
    return p.stderr.splitlines()[0]


@pytest.mark.parametrize("config, error", [
    ({"max_sesions": 3}, "unknown key 'max_sesions'"),
    ({"limits": {"max_sessions": 3}}, "unknown key 'limits'"),
    ({"port": 70000}, "'port' must be an integer from 0 to 65535, not 70000"),
    ({"sdk_ws_port": -1}, "'sdk_ws_port' must be an integer from 0 to 65535, not -1"),
    ({"max_sessions": 0}, "'max_sessions' must be an integer from 1 to 1000000, not 0"),
    ({"max_sessions": "7"}, "'max_sessions' must be an integer from 1 to 1000000, not \"7\""),
    ({"max_connections": 0}, "'max_connections' must be an integer from 1 to 1000000, not 0"),
    ({"session_timeout_minutes": -5}, "'session_timeout_minutes' must be an integer from 1 to 100000, not -5"),
    ({"tasks_timeout_seconds": 1e20}, "'tasks_timeout_seconds' must be an integer from 1 to 86400, not "),
    ({"idle_timeout_seconds": 604801}, "'idle_timeout_seconds' must be an integer from 0 to 604800, not 604801"),
    ({"run_log_bytes": 2**63}, "'run_log_bytes' must be an integer from 1 to 1099511627776, not 9223372036854775808"),
    ({"exit_wait_ms": 1.5}, "'exit_wait_ms' must be an integer from 0 to 3600000, not 1.5"),
    ({"roots": "/tmp"}, "'roots' must be an array of strings"),
    ({"allowed_origins": ["x", 1]}, "'allowed_origins' must be an array of strings"),
    ({"cors": 1}, "'cors' must be true or false"),
    ({"token": None}, "'token' must be a string"),
    ({"log_level": "loud"}, "'log_level' must be debug, info, warn or error, not 'loud'"),
    ({"max_messages_per_second": -1}, "'max_messages_per_second' must be an integer from 0 to 1000000, not -1"),
    ({"client_allowed_tools": "Read,Bash"}, "'client_allowed_tools' must be an array of strings"),
], ids=lambda v: json.dumps(v)[:40] if isinstance(v, dict) else None)
def test_config_file_refuses_unknown_keys_wrong_kinds_and_out_of_range_values_naming_the_key(tmp_path, config, error):
    # Was: all of these were ignored silently (or, for ports and counts, wrapped around) and the
    # server started.
    cfg = tmp_path / "bad.json"
    cfg.write_text(json.dumps(config))
    line = refused(tmp_path, ["--config", str(cfg)])
    assert line.startswith(f"ccbridge serve: config file '{cfg}': ") and error in line, line


def test_config_file_refuses_json_nested_deeper_than_512_levels(tmp_path):
    cfg = tmp_path / "deep.json"
    cfg.write_text('{"roots":' + "[" * 200_000 + "]" * 200_000 + "}")
    line = refused(tmp_path, ["--config", str(cfg)])
    assert "is not valid JSON" in line and "nested deeper than 512 levels" in line, line


def test_config_file_takes_every_numeric_flag_by_its_snake_case_name(start_server, tmp_path):
    # Was: only a few keys were read (max_body_bytes, for one, was ignored).
    cfg = tmp_path / "ccbridge.json"
    cfg.write_text(json.dumps({"max_sessions": 7, "max_body_bytes": 4096, "max_connections": 50,
                               "run_grace_seconds": 10, "reconnect_grace_seconds": 5, "max_messages_per_second": 0,
                               "client_allowed_tools": ["Read"], "log_json": False}))
    s = start_server(args=["--config", str(cfg)])
    assert s.http("GET", "/health")[1]["max_sessions"] == 7
    status, _, _ = s.http("POST", "/claude/execute", {"project_path": str(s.root), "prompt": "x" * 5000})
    assert status == 413


@pytest.mark.parametrize("args, error", [
    (["--port", "70000"], "--port must be a number from 0 to 65535, not '70000'"),
    (["--opcode-port", "-1"], "--opcode-port must be a number from 0 to 65535, not '-1'"),
    (["--max-sessions", "0"], "--max-sessions must be a number from 1 to 1000000, not '0'"),
    (["--max-connections", "0"], "--max-connections must be a number from 1 to 1000000, not '0'"),
    (["--session-timeout-seconds", "-1"], "--session-timeout-seconds must be a number from 1 to 6000000, not '-1'"),
    (["--tasks-timeout-seconds", "99999999999999999999"], "--tasks-timeout-seconds must be a number from 1 to 86400"),
    (["--max-body-bytes", "1e3"], "--max-body-bytes must be a number from 1 to 4294967296, not '1e3'"),
    (["--idle-timeout-seconds", "604801"], "--idle-timeout-seconds must be a number from 0 to 604800"),
    (["--exit-wait-ms", ""], "--exit-wait-ms must be a number from 0 to 3600000, not ''"),
    (["--term-wait-ms"], "--term-wait-ms needs a value"),
    (["--log-level", "loud"], "--log-level must be debug, info, warn or error, not 'loud'"),
    (["--max-sesions", "3"], "unknown option --max-sesions"),
], ids=lambda v: " ".join(v)[:40] if isinstance(v, list) else None)
def test_flags_out_of_range_are_refused_naming_the_flag_and_the_range(tmp_path, args, error):
    line = refused(tmp_path, args)
    assert error in line, line


def test_environment_out_of_range_is_refused_naming_the_variable(tmp_path):
    line = refused(tmp_path, [], env={"MAX_SESSIONS": "0"})
    assert "MAX_SESSIONS must be a number from 1 to 1000000, not '0'" in line, line


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
            await asyncio.to_thread(wait_until, lambda: len(s.processes()) == 3, "three CLIs running")
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
