"""The environment seed 003 documents for its server (WEBSOCKET_HOST, WEBSOCKET_PORT,
SESSION_TIMEOUT_MINUTES, CORS), honoured by `ccbridge serve` as by the Python wrapper
(tests/python/test_websocket_server.py), and the flags that win over it."""
import asyncio
import json
import socket
import time
import urllib.error
import urllib.request

from conftest import read_until_close, recv_json, run, ws_connect

GOOD_ORIGIN = "http://good.example"


def free_port(host):
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def preflight(server):
    """The Access-Control-Allow-Origin of a CORS preflight for /sessions from GOOD_ORIGIN (None if absent)."""
    req = urllib.request.Request(server.url("/sessions"), method="OPTIONS", headers={
        "Origin": GOOD_ORIGIN, "Access-Control-Request-Method": "GET"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.headers.get("Access-Control-Allow-Origin")
    except urllib.error.HTTPError as err:
        return err.headers.get("Access-Control-Allow-Origin")


def refuses_connections(host, port):
    try:
        socket.create_connection((host, port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_the_seeds_environment_places_sdk_ws_times_out_idle_sessions_and_turns_cors_on(start_server):
    # 127.0.0.2 is loopback too, and not the address the other profiles bind (--host, 127.0.0.1).
    port = free_port("127.0.0.2")
    s = start_server(script="serve_turns", port=None, args=["--profiles", "sdk-ws", "--allow-origin", GOOD_ORIGIN],
                     env={"WEBSOCKET_HOST": "127.0.0.2", "WEBSOCKET_PORT": str(port), "SESSION_TIMEOUT_MINUTES": "1",
                          "CORS": "1"})
    assert (s.host, s.port) == ("127.0.0.2", port)
    assert refuses_connections("127.0.0.1", port)
    assert preflight(s) == GOOD_ORIGIN

    async def go():
        async with ws_connect(s.ws_url("/ws")) as ws:
            assert (await recv_json(ws))["type"] == "connection_established"
            await ws.send(json.dumps({"type": "query", "prompt": "hi"}))
            while (await recv_json(ws))["type"] != "query_end":
                pass
            idle_from = time.monotonic()
            frames, code, reason = await read_until_close(ws)
            return frames, code, reason, time.monotonic() - idle_from

    # A minute of nothing from the client ends the conversation: not sooner, and not much later.
    frames, code, reason, idle = run(go(), timeout=120)
    assert (frames, code, reason) == ([], 1000, "session timed out")
    assert 59 <= idle < 75, idle
    assert s.wait_no_processes()


def test_flags_win_over_the_environment(start_server):
    env_port = free_port("127.0.0.2")
    s = start_server(script="serve_turns", port=None,
                     args=["--profiles", "sdk-ws", "--sdk-ws-port", "0", "--allow-origin", GOOD_ORIGIN,
                           "--session-timeout-seconds", "1"],
                     env={"WEBSOCKET_HOST": "127.0.0.2", "WEBSOCKET_PORT": str(env_port), "SESSION_TIMEOUT_MINUTES": "30"})
    assert s.host == "127.0.0.2" and s.port != env_port
    assert preflight(s) is None  # no CORS without CORS=1 or --cors

    async def go():
        async with ws_connect(s.ws_url("/ws")) as ws:
            await recv_json(ws)
            return await asyncio.wait_for(read_until_close(ws), 15)

    _, code, reason = run(go(), timeout=30)
    assert (code, reason) == (1000, "session timed out")


def test_cors_off_values_and_an_unset_host_keep_the_defaults(start_server):
    s = start_server(port=None, args=["--profiles", "sdk-ws", "--sdk-ws-port", "0", "--allow-origin", GOOD_ORIGIN],
                     env={"CORS": "false", "WEBSOCKET_HOST": ""})
    assert s.host == "127.0.0.1"
    assert preflight(s) is None
