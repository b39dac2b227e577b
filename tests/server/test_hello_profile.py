"""Profile hello: the example of docs/ARCHITECTURE.md, "How to add a profile". One route and one
WebSocket message, served only when asked for (--profiles hello)."""
import json
import subprocess

from conftest import CCB, read_until_close, recv_json, run, ws_connect


def test_the_route_answers(start_server):
    s = start_server(args=["--profiles", "hello"])
    status, body, _ = s.http("GET", "/hello")
    assert status == 200
    assert body["hello"] == "ccbridge"
    assert "hello" in body["profiles"] and "sdk-ws" in body["profiles"]


def test_the_websocket_message_is_answered_and_a_wrong_one_closes_1008(start_server):
    s = start_server(args=["--profiles", "hello"])

    async def go():
        async with ws_connect(s.ws_url("/ws/hello")) as ws:
            await ws.send(json.dumps({"type": "hello", "name": "Ada"}))
            assert await recv_json(ws) == {"type": "greeting", "text": "Hello, Ada"}
            await ws.send("not json")
            frames, code, _ = await read_until_close(ws)
            assert frames == [] and code == 1008

    run(go())


def test_it_is_not_served_unless_asked_for(start_server):
    s = start_server()
    assert s.http("GET", "/hello")[0] == 404
    s2 = start_server(args=["--profiles", "hello"])
    assert s2.http("GET", "/claude/execute")[0] == 404  # and it brings no other profile along


def test_an_unknown_profile_is_refused_naming_the_known_ones():
    r = subprocess.run([CCB, "serve", "--port", "0", "--profiles", "nosuch"], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "unknown profile 'nosuch'" in r.stderr and "opcode, tasks-ui, sdk-ws, cc-control, platform, hello" in r.stderr
