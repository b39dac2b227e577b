"""server.app: the seed-003 server's FastAPI app (the extra ccbridge[websocket]), whose /ws, /health and
/sessions hand every conversation to the C++ engine. The seed's own examples for programmatic
configuration (middleware) and the JWT-protected /ws run against it, unchanged but for the import
line, with real clients (websockets, urllib) and the fake CLI.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest
import websockets

from test_websocket_server import (FAKE, RESULT_KEYS, arun, clean_env, connect, http, make_server,  # noqa: F401
                                   port_is_free, recv_json, tagged_pids, types, until, wait_no_processes)

pytest.importorskip("fastapi")
jose = pytest.importorskip("jose")

# The seed's "Programmatic Configuration" (seed 003, lines 292-307), the import line made ccbridge's.
SEED_PROGRAMMATIC = r'''from ccbridge.websocket_server import EnhancedClaudeWebSocketServer

server = EnhancedClaudeWebSocketServer(
    enable_cors=True,
    max_sessions=50,
    session_timeout_minutes=60
)

# Add custom middleware
@server.app.middleware("http")
async def add_custom_header(request, call_next):
    response = await call_next(request)
    response.headers["X-Custom-Header"] = "value"
    return response

server.run(host="0.0.0.0", port=8000, log_level="info")
'''

# The seed's "Security Considerations" / "Authentication" (seed 003, lines 501-518), verbatim; it uses a
# `server` and a `SECRET_KEY` defined elsewhere (whitespace-only line included).
SEED_JWT = r'''from fastapi import WebSocket, Query, HTTPException
from jose import jwt

@server.app.websocket("/ws")
async def websocket_endpoint(
    websocket: WebSocket,
    token: str = Query(...)
):
    try:
        # Verify JWT token
        payload = jwt.decode(token, SECRET_KEY, algorithms=["HS256"])
        user_id = payload.get("sub")
    except Exception:
        await websocket.close(code=1008, reason="Invalid authentication")
        return
    
    # Continue with authenticated connection
    await server._handle_websocket(websocket, user_id=user_id)
'''


def _claude_on_path(tmp_path, tag):
    """A directory holding `claude`: the fake CLI on the serve_turns script, its processes tagged."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "claude"
    wrapper.write_text(f"#!/bin/sh\nexport CCB_TEST_TAG={tag} CCB_FAKE_SCRIPT_TEXT=serve_turns\nexec {FAKE} \"$@\"\n")
    wrapper.chmod(0o755)
    return str(bin_dir)


def _wait_http(base, path, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the example exited: " + proc.stderr.read()
        try:
            return http(base, path)
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.05)
    raise AssertionError(f"{base}{path} did not answer within {timeout} s")


async def _one_query(url, prompt="Hello, Claude!", **kw):
    async with connect(url, **kw) as ws:
        hello = await recv_json(ws)
        await ws.send(json.dumps({"type": "query", "prompt": prompt, "options": {"allowed_tools": ["Read"]}}))
        return hello, await until(ws, "query_end")


def _assert_seed_sequence(hello, frames, prompt="Hello, Claude!"):
    assert hello["type"] == "connection_established" and hello["data"]["session_id"].startswith("session_")
    assert types(frames) == ["query_start", "system_message", "assistant_message", "result_message", "query_end"]
    assert frames[0] == {"type": "query_start", "data": {"prompt": prompt}}
    assert frames[2] == {"type": "assistant_message", "data": {"content": [{"type": "text", "text": f"echo: {prompt}"}]}}
    assert set(frames[3]["data"]) == RESULT_KEYS and frames[3]["data"]["result"] == f"echo: {prompt}"


def test_the_seeds_programmatic_configuration_example_serves_with_its_middleware(tmp_path):
    # Run as a user would: a script, the CLI found on PATH, stopped with Ctrl-C. It listens on port
    # 8000 as written when that is free; otherwise only the port in its run() line is changed.
    assert os.access(FAKE, os.X_OK), f"fake CLI not found at {FAKE!r}"
    tag = str(uuid.uuid4())
    example, port = SEED_PROGRAMMATIC, 8000
    if not port_is_free(8000):
        with __import__("socket").socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        example = example.replace("port=8000", f"port={port}")
    env = dict(os.environ, PATH=_claude_on_path(tmp_path, tag) + os.pathsep + os.environ["PATH"])
    for name in ("WEBSOCKET_HOST", "WEBSOCKET_PORT", "MAX_SESSIONS", "SESSION_TIMEOUT_MINUTES", "CORS", "CCBRIDGE_TOKEN"):
        env.pop(name, None)
    proc = subprocess.Popen([sys.executable, "-c", example], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        status, health, headers = _wait_http(base, "/health", proc)
        assert status == 200 and health["status"] == "healthy" and health["max_sessions"] == 50
        assert headers["X-Custom-Header"] == "value"
        hello, frames = arun(_one_query(f"ws://127.0.0.1:{port}/ws"), timeout=30)
        _assert_seed_sequence(hello, frames)
        status, sessions, headers = http(base, "/sessions")
        assert status == 200 and headers["X-Custom-Header"] == "value" and sessions["max_sessions"] == 50
        status, _, headers = http(base, "/health", headers={"Origin": "http://example.test", "Access-Control-Request-Method": "GET"},
                                  method="OPTIONS")
        assert status == 200 and headers["Access-Control-Allow-Origin"] in ("*", "http://example.test")  # enable_cors=True
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "FastAPI app" in err
    assert wait_no_processes(tag), f"processes left behind: {tagged_pids(tag)}"


def test_the_seeds_jwt_protected_endpoint_replaces_ws_and_hands_the_conversation_to_the_engine(make_server, caplog):
    server = make_server(max_sessions=4)
    secret_key = "seed-003-test-secret"
    exec(compile(SEED_JWT, "seed-003-authentication", "exec"), {"server": server, "SECRET_KEY": secret_key})
    caplog.set_level("INFO", logger="ccbridge.websocket_server")
    server.start(host="127.0.0.1", port=0)
    good = jose.jwt.encode({"sub": "alice"}, secret_key, algorithm="HS256")
    forged = jose.jwt.encode({"sub": "mallory"}, "another-key", algorithm="HS256")

    async def refused(query):
        with pytest.raises(websockets.InvalidStatus) as err:
            async with connect(server.url + query):
                pass
        return err.value.response.status_code

    # The user's /ws, not the built-in one, answers: no token and a forged one are refused before
    # the handshake completes (a close before accept is HTTP 403), and no CLI starts.
    assert arun(refused(""), timeout=30) == 403
    assert arun(refused(f"?token={forged}"), timeout=30) == 403
    assert tagged_pids(server.test_tag) == []

    hello, frames = arun(_one_query(f"{server.url}?token={good}"), timeout=30)
    _assert_seed_sequence(hello, frames)
    assert any("user_id=alice" in r.getMessage() for r in caplog.records)
    status, health, _ = http(server.http_url, "/health")
    assert status == 200 and health["max_sessions"] == 4
    assert wait_no_processes(server.test_tag)


def test_the_app_relays_the_engines_frames_unchanged_and_keeps_the_conversation(make_server):
    # The built-in /ws of the app: two queries on one connection, a ping, /sessions while it is open,
    # and the engine's close when the client leaves (its CLI ends).
    server = make_server(max_sessions=4)
    assert server.app is server.app  # made once
    server.start(host="127.0.0.1", port=0)

    async def go():
        async with connect(server.url) as ws:
            hello = await recv_json(ws)
            out = []
            for prompt in ("one", "two"):
                await ws.send(json.dumps({"type": "query", "prompt": prompt}))
                out.append(await until(ws, "query_end"))
            await ws.send(json.dumps({"type": "ping"}))
            pong = await recv_json(ws)
            _, sessions, _ = await asyncio.to_thread(http, server.http_url, "/sessions")
            return hello, out, pong, sessions

    hello, (first, second), pong, sessions = arun(go(), timeout=30)
    _assert_seed_sequence(hello, first, "one")
    assert types(second) == types(first) and second[2]["data"]["content"][0]["text"] == "echo: two"
    assert pong == {"type": "pong"}
    assert sessions["count"] == 1 and sessions["sessions"][0]["session_id"] == hello["data"]["session_id"]
    assert wait_no_processes(server.test_tag)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and http(server.http_url, "/sessions")[1]["count"]:
        time.sleep(0.05)
    assert http(server.http_url, "/sessions")[1]["count"] == 0


def test_a_token_guards_the_apps_routes_but_health(make_server):
    server = make_server(token="s3cret")
    server.app  # serve the app
    server.start(host="127.0.0.1", port=0)
    assert http(server.http_url, "/health")[0] == 200
    assert http(server.http_url, "/sessions")[0] == 401
    assert http(server.http_url, "/sessions", headers={"Authorization": "Bearer s3cret"})[0] == 200

    async def refused():
        with pytest.raises(websockets.InvalidStatus) as err:
            async with connect(server.url + "?token=wrong"):
                pass
        return err.value.response.status_code

    assert arun(refused(), timeout=30) == 403
    hello, frames = arun(_one_query(server.url + "?token=s3cret"), timeout=30)
    _assert_seed_sequence(hello, frames)
