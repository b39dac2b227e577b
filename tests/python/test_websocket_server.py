"""ccbridge.websocket_server.EnhancedClaudeWebSocketServer: seed 003's server class from Python, served by
the C++ gateway. Driven with the fake CLI (tests/support/FAKE_CLI.md) and real clients (websockets,
urllib), as tests/server/ does for `ccbridge serve`.

Needs `import ccbridge` to work (PYTHONPATH=<build>/bindings/python) and the fake CLI: CCB_FAKE_CLI, or
<build>/tests/ccb_fake_cli next to the imported extension. Every process a server starts carries
CCB_TEST_TAG=<uuid> in its environment, so leftovers are found in /proc whoever their parent is.
"""
from __future__ import annotations

import ast
import asyncio
import json
import os
import select
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import websockets

import ccbridge
from ccbridge import _ccbridge
from ccbridge.websocket_server import EnhancedClaudeWebSocketServer, NoASGIAppError

ENV_NAMES = ("WEBSOCKET_HOST", "WEBSOCKET_PORT", "MAX_SESSIONS", "SESSION_TIMEOUT_MINUTES", "CORS", "CCBRIDGE_TOKEN")
INIT = '{"type":"system","subtype":"init","session_id":"fake-session"}'
HOLD = f"wait_user\nemit {INIT}\nwait_eof"  # one conversation that stays open until its stdin closes
RESULT_KEYS = {"subtype", "cost_usd", "duration_ms", "session_id", "total_cost_usd", "num_turns", "usage", "is_error", "result"}
PACKAGE_DIR = str(Path(ccbridge.__file__).resolve().parent.parent)

# The seed's "3. Python Client Example", verbatim (seed 003, lines 70-101, trailing blanks included).
SEED_CLIENT_EXAMPLE = r'''import asyncio
import websockets
import json

async def claude_client():
    async with websockets.connect('ws://localhost:8000/ws') as websocket:
        # Connection established message
        message = await websocket.recv()
        data = json.loads(message)
        print(f"Connected: {data}")
        
        # Send a query
        await websocket.send(json.dumps({
            'type': 'query',
            'prompt': 'Write a Python function to calculate factorial',
            'options': {
                'allowed_tools': ['Write'],
                'permission_mode': 'acceptEdits'
            }
        }))
        
        # Receive responses
        while True:
            message = await websocket.recv()
            data = json.loads(message)
            
            if data['type'] == 'query_end':
                break
                
            print(f"Message: {data}")

asyncio.run(claude_client())
'''


def _fake_cli() -> str:
    path = os.environ.get("CCB_FAKE_CLI", "")
    if not path:
        # <build>/bindings/python/ccbridge/_ccbridge*.so -> <build>/tests/ccb_fake_cli
        path = str(Path(_ccbridge.__file__).resolve().parents[3] / "tests" / "ccb_fake_cli")
    return path


FAKE = _fake_cli()


def tagged_pids(tag):
    """Live processes (zombies excluded) whose environment holds CCB_TEST_TAG=tag (as tests/server/conftest.py)."""
    needle = f"CCB_TEST_TAG={tag}".encode()
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                env = f.read()
            with open(f"/proc/{d}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in env.split(b"\0") and state != "Z":
            out.append(int(d))
    return out


def wait_no_processes(tag, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not tagged_pids(tag):
            return True
        time.sleep(0.05)
    return not tagged_pids(tag)


def wait_processes(tag, n, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline and len(tagged_pids(tag)) < n:
        time.sleep(0.02)
    return tagged_pids(tag)


def stop_bounded(server, timeout=30):
    """server.stop() in a thread: a stop that hangs fails the test instead of hanging it."""
    t = threading.Thread(target=server.stop, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), f"stop() did not return within {timeout} s"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds (TIME_WAIT does not count)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def http(base, path, headers=None, method="GET"):
    """(status, parsed JSON or text, headers) of a request to base+path; 10 s timeout."""
    req = urllib.request.Request(base + path, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, text, hdrs = r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as err:
        status, text, hdrs = err.code, err.read().decode(), err.headers
    try:
        return status, json.loads(text), hdrs
    except ValueError:
        return status, text, hdrs


def arun(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def recv_json(ws, timeout=10):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def until(ws, kind, timeout=10):
    frames = []
    while True:
        frames.append(await recv_json(ws, timeout))
        if frames[-1].get("type") == kind:
            return frames


async def read_until_close(ws, timeout=15):
    """Frames until the server closes; returns (frames, close code, reason)."""
    frames = []
    try:
        while True:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), timeout)))
    except websockets.ConnectionClosed as e:
        rc = e.rcvd
        return frames, (rc.code if rc else None), (rc.reason if rc else None)


def connect(url, **kw):
    return websockets.connect(url, open_timeout=10, close_timeout=5, **kw)


def types(frames):
    return [f["type"] for f in frames]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def make_server(tmp_path):
    """make_server(script=..., **constructor args) -> an unstarted server with the fake CLI; at the end
    every server is stopped (bounded) and none may leave a process behind."""
    assert os.access(FAKE, os.X_OK), f"fake CLI not found at {FAKE!r}: build ccb_fake_cli or set CCB_FAKE_CLI"
    made = []

    def make(script="serve_turns", **kw):
        tag = str(uuid.uuid4())
        kw.setdefault("cli_path", FAKE)
        kw.setdefault("allowed_roots", [str(tmp_path)])
        kw.setdefault("options", {
            "env": {"CCB_TEST_TAG": tag, "CCB_FAKE_SCRIPT_TEXT": script},
            "shutdown": {"exit_wait_ms": 1000, "term_wait_ms": 1000},
        })
        server = EnhancedClaudeWebSocketServer(**kw)
        server.test_tag = tag
        made.append(server)
        return server

    yield make
    for server in made:
        stop_bounded(server)
        assert wait_no_processes(server.test_tag), f"processes left behind: {tagged_pids(server.test_tag)}"


# ---- the protocol ----------------------------------------------------------------------------------


def test_query_streams_the_seed_sequence_and_http_routes_answer(make_server):
    server = make_server(max_sessions=4).start(host="127.0.0.1", port=0)
    assert server.port > 0 and server.url == f"ws://127.0.0.1:{server.port}/ws"

    async def go():
        async with connect(server.url) as ws:
            hello = await recv_json(ws)
            await ws.send(json.dumps({"type": "query", "prompt": "Hello, Claude!",
                                      "options": {"allowed_tools": ["Read", "Write"], "max_thinking_tokens": 8000,
                                                  "permission_mode": "acceptEdits"}}))
            frames = await until(ws, "query_end")
            await ws.send(json.dumps({"type": "ping"}))
            pong = await recv_json(ws)
            _, sessions, _ = await asyncio.to_thread(http, server.http_url, "/sessions")
            return hello, frames, pong, sessions

    hello, frames, pong, sessions = arun(go(), timeout=30)
    assert hello["type"] == "connection_established" and hello["data"]["session_id"].startswith("session_")
    caps = hello["data"]["capabilities"]
    assert caps["concurrent_input"] is True and caps["tool_definition"] is True and caps["interrupt_query"] is True
    assert types(frames) == ["query_start", "system_message", "assistant_message", "result_message", "query_end"]
    assert frames[0] == {"type": "query_start", "data": {"prompt": "Hello, Claude!"}}
    assert frames[1]["data"]["subtype"] == "init"
    assert frames[2] == {"type": "assistant_message", "data": {"content": [{"type": "text", "text": "echo: Hello, Claude!"}]}}
    result = frames[3]["data"]
    assert set(result) == RESULT_KEYS and result["subtype"] == "success" and result["is_error"] is False
    assert result["result"] == "echo: Hello, Claude!"
    assert frames[4] == {"type": "query_end"}
    assert pong == {"type": "pong"}
    assert sessions["count"] == 1 and sessions["max_sessions"] == 4
    assert sessions["sessions"][0]["session_id"] == hello["data"]["session_id"]

    status, health, _ = http(server.http_url, "/health")
    assert status == 200 and health["status"] == "healthy" and health["max_sessions"] == 4
    deadline = time.time() + 10  # the connection is closed: its conversation goes
    while time.time() < deadline and http(server.http_url, "/sessions")[1]["count"]:
        time.sleep(0.05)
    assert http(server.http_url, "/sessions")[1] == {"sessions": [], "count": 0, "max_sessions": 4}
    assert wait_no_processes(server.test_tag)


def test_the_seeds_python_client_example_runs_unchanged(make_server):
    # The example hard-codes ws://localhost:8000/ws. The server takes port 8000 when it is free;
    # otherwise (or if it is taken meanwhile) a free port, and only the port in the example's URL is
    # substituted. Nothing else in the text changes.
    server = make_server()
    port = 0
    if port_is_free(8000):
        try:
            server.start(host="127.0.0.1", port=8000)
            port = 8000
        except OSError:
            pass
    if port == 0:
        server.start(host="127.0.0.1", port=0)
    example = SEED_CLIENT_EXAMPLE
    if server.port != 8000:
        example = example.replace("ws://localhost:8000/ws", f"ws://localhost:{server.port}/ws")
    assert example.count(f"ws://localhost:{server.port}/ws") == 1

    proc = subprocess.run([sys.executable, "-c", example], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"port {server.port}: {proc.stderr}"

    lines = proc.stdout.splitlines()
    assert lines[0].startswith("Connected: ")
    hello = ast.literal_eval(lines[0][len("Connected: "):])
    assert hello["type"] == "connection_established" and hello["data"]["session_id"].startswith("session_")
    messages = [ast.literal_eval(line[len("Message: "):]) for line in lines[1:]]
    assert all(line.startswith("Message: ") for line in lines[1:])
    assert types(messages) == ["query_start", "system_message", "assistant_message", "result_message"]
    assert messages[0]["data"]["prompt"] == "Write a Python function to calculate factorial"
    assert messages[2]["data"]["content"][0]["text"] == "echo: Write a Python function to calculate factorial"
    assert messages[3]["data"]["subtype"] == "success"


# ---- settings: environment, constructor, defaults --------------------------------------------------


def test_defaults_follow_the_seed():
    server = EnhancedClaudeWebSocketServer()
    assert (server.max_sessions, server.session_timeout_minutes, server.enable_cors, server.token) == (100, 30, False, None)
    with pytest.raises(RuntimeError):
        server.port


def test_environment_variables_are_honoured_and_the_session_limit_refuses_a_second(make_server, monkeypatch):
    port = free_port()
    monkeypatch.setenv("WEBSOCKET_HOST", "127.0.0.1")
    monkeypatch.setenv("WEBSOCKET_PORT", str(port))
    monkeypatch.setenv("MAX_SESSIONS", "1")
    monkeypatch.setenv("SESSION_TIMEOUT_MINUTES", "7")
    monkeypatch.setenv("CORS", "1")
    monkeypatch.setenv("CCBRIDGE_TOKEN", "env-token")
    server = make_server(script=HOLD, allowed_origins=["http://good.example"]).start()
    assert (server.host, server.port) == ("127.0.0.1", port)
    assert (server.max_sessions, server.session_timeout_minutes, server.enable_cors) == (1, 7, True)
    auth = {"Authorization": "Bearer env-token"}
    assert http(server.http_url, "/sessions")[0] == 401
    status, body, _ = http(server.http_url, "/sessions", auth)
    assert status == 200 and body["max_sessions"] == 1
    _, _, hdrs = http(server.http_url, "/health", {"Origin": "http://good.example"})
    assert hdrs.get("Access-Control-Allow-Origin") == "http://good.example"

    async def go():
        async with connect(server.url + "?token=env-token") as a, connect(server.url + "?token=env-token") as b:
            await recv_json(a)
            await recv_json(b)
            await a.send(json.dumps({"type": "query", "prompt": "first"}))
            first = await until(a, "system_message")
            await b.send(json.dumps({"type": "query", "prompt": "second"}))
            second = await until(b, "query_end")
            procs = tagged_pids(server.test_tag)
            await b.send(json.dumps({"type": "ping"}))  # the refused connection stays usable
            pong = await recv_json(b)
            return first, second, procs, pong

    first, second, procs, pong = arun(go(), timeout=30)
    assert types(first) == ["query_start", "system_message"]
    # docs/SERVER.md, docs/RELIABILITY.md: beyond --max-sessions sdk-ws answers an error frame, nothing starts.
    assert types(second) == ["query_start", "error", "query_end"]
    assert "too many sessions" in second[1]["data"]["error"]
    assert len(procs) == 1 and pong == {"type": "pong"}


def test_constructor_and_run_arguments_beat_the_environment(make_server, monkeypatch):
    env_port = free_port()
    monkeypatch.setenv("WEBSOCKET_PORT", str(env_port))
    monkeypatch.setenv("MAX_SESSIONS", "1")
    monkeypatch.setenv("SESSION_TIMEOUT_MINUTES", "7")
    monkeypatch.setenv("CORS", "1")
    monkeypatch.setenv("CCBRIDGE_TOKEN", "env-token")
    server = make_server(max_sessions=3, session_timeout_minutes=9, enable_cors=False, token="ctor-token",
                         allowed_origins=["http://good.example"]).start(host="127.0.0.1", port=0)
    assert server.port != env_port
    assert (server.max_sessions, server.session_timeout_minutes, server.enable_cors) == (3, 9, False)
    assert http(server.http_url, "/sessions", {"Authorization": "Bearer env-token"})[0] == 401
    status, body, _ = http(server.http_url, "/sessions", {"Authorization": "Bearer ctor-token"})
    assert status == 200 and body["max_sessions"] == 3
    _, _, hdrs = http(server.http_url, "/health", {"Origin": "http://good.example"})
    assert hdrs.get("Access-Control-Allow-Origin") is None
    stop_bounded(server)
    # An explicit empty token turns the variable's token off.
    open_server = make_server(token="").start(host="127.0.0.1", port=0)
    assert http(open_server.http_url, "/sessions")[0] == 200


@pytest.mark.parametrize("name, value", [("MAX_SESSIONS", "lots"), ("MAX_SESSIONS", "0"), ("WEBSOCKET_PORT", "70000"),
                                         ("SESSION_TIMEOUT_MINUTES", "-1")])
def test_bad_environment_values_are_refused_by_name(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        EnhancedClaudeWebSocketServer(cli_path=FAKE).start(host="127.0.0.1")


def test_session_timeout_reaches_the_engine(make_server):
    server = make_server(session_timeout_minutes=0.02).start(host="127.0.0.1", port=0)  # 1.2 s

    async def go():
        async with connect(server.url) as ws:
            await recv_json(ws)
            await ws.send(json.dumps({"type": "query", "prompt": "hi"}))
            await until(ws, "query_end")
            return await read_until_close(ws, timeout=15)

    _, code, reason = arun(go(), timeout=30)
    assert (code, reason) == (1000, "session timed out")


def test_claude_agent_options_are_the_base_of_every_conversation(make_server, tmp_path):
    inv = tmp_path / "invocation.json"
    tag = str(uuid.uuid4())
    options = ccbridge.ClaudeAgentOptions(
        model="claude-base-model", max_turns=3,
        env={"CCB_TEST_TAG": tag, "CCB_FAKE_SCRIPT_TEXT": f"dump_invocation {inv}\nserve_turns"},
        shutdown={"exit_wait_ms": 1000, "term_wait_ms": 1000})
    server = make_server(options=options).start(host="127.0.0.1", port=0)
    server.test_tag = tag

    async def go():
        async with connect(server.url) as ws:
            await recv_json(ws)
            await ws.send(json.dumps({"type": "query", "prompt": "hi", "options": {"allowed_tools": ["Read"]}}))
            return await until(ws, "query_end")

    frames = arun(go(), timeout=30)
    assert types(frames)[-1] == "query_end" and "error" not in types(frames)
    deadline = time.time() + 10
    while time.time() < deadline and not inv.exists():
        time.sleep(0.02)
    argv = json.loads(inv.read_text())["argv"]
    assert "--model=claude-base-model" in argv and "--max-turns=3" in argv
    assert any(a.startswith("--allowedTools=") for a in argv)  # the client's options come on top


def test_client_allowed_tools_is_what_clients_may_pre_approve(make_server):
    # Bash is not a read-only tool: refused unless the operator lists it.
    async def ask(server):
        async with connect(server.url) as ws:
            await recv_json(ws)
            await ws.send(json.dumps({"type": "query", "prompt": "hi", "options": {"allowed_tools": ["Bash"]}}))
            return await recv_json(ws)

    default = make_server().start(host="127.0.0.1", port=0)
    f = arun(ask(default), timeout=30)
    assert f["type"] == "error" and "allowed_tools" in f["data"]["error"]
    listed = make_server(client_allowed_tools=["Read", "Bash"]).start(host="127.0.0.1", port=0)
    assert arun(ask(listed), timeout=30)["type"] == "query_start"


@pytest.mark.parametrize("options", [
    {"can_use_tool": lambda *a: None},
    ccbridge.ClaudeAgentOptions(stderr=print),
], ids=["dict-can_use_tool", "ClaudeAgentOptions-stderr"])
def test_python_callbacks_in_options_are_refused(options):
    with pytest.raises(TypeError, match="callback"):
        EnhancedClaudeWebSocketServer(options=options)


# ---- the seed's FastAPI hooks -----------------------------------------------------------------------


def test_without_the_websocket_extra_app_hooks_raise_the_documented_error(monkeypatch):
    # With ccbridge[websocket] installed server.app is a FastAPI app (test_websocket_app.py); without
    # FastAPI every attribute of it says how to get it and what the constructor offers instead.
    monkeypatch.setitem(sys.modules, "ccbridge._asgi", None)  # as if FastAPI were not installed
    monkeypatch.delattr(ccbridge, "_asgi", raising=False)
    server = EnhancedClaudeWebSocketServer()
    with pytest.raises(NoASGIAppError) as err:
        @server.app.middleware("http")
        async def add_custom_header(request, call_next):  # the seed's example
            return await call_next(request)
    message = str(err.value)
    assert isinstance(err.value, AttributeError)
    assert "app.middleware" in message and "pip install 'ccbridge[websocket]'" in message
    for replacement in ("token=", "allowed_origins=", "enable_cors=", "log_level="):
        assert replacement in message
    with pytest.raises(NoASGIAppError, match="app.debug"):
        server.app.debug = True
    with pytest.raises(NoASGIAppError, match="app.mount"):
        server.app.mount("/metrics", object())
    assert not hasattr(server.app, "websocket")


# ---- life cycle -----------------------------------------------------------------------------------------


def test_context_manager_start_stop_and_logging(make_server, caplog):
    caplog.set_level("DEBUG", logger="ccbridge.websocket_server")
    server = make_server()
    with server.start(host="127.0.0.1", port=0, log_level="debug") as s:
        assert s is server and s.running
        url, base = s.url, s.http_url
        assert http(base, "/health")[0] == 200
    assert not server.running
    with pytest.raises(RuntimeError):
        server.url
    with pytest.raises(OSError):
        urllib.request.urlopen(base + "/health", timeout=5)
    records = [r for r in caplog.records if r.name == "ccbridge.websocket_server"]
    listening = [r for r in records if r.getMessage().startswith("listening host=127.0.0.1")]
    assert listening and listening[0].levelname == "INFO"
    assert any(r.getMessage().startswith("stopped") for r in records)
    assert any(url in r.getMessage() for r in records)
    # stop() twice, and a second start() while running is refused.
    server.stop()
    server.start(host="127.0.0.1", port=0, log_level="off")
    with pytest.raises(RuntimeError, match="already running"):
        server.start(host="127.0.0.1", port=0)


def test_start_on_a_busy_port_raises_oserror_and_does_not_hang(make_server):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        server = make_server()
        box = {}

        def attempt():
            # Only the exception's type and text leave the thread, so that whatever the failed
            # start() left behind is released here, inside the bounded thread.
            try:
                server.start(host="127.0.0.1", port=busy.getsockname()[1])
            except Exception as e:  # noqa: BLE001 - reported below
                box["error"] = (type(e), str(e))
            box["done"] = True

        t = threading.Thread(target=attempt, daemon=True)
        t.start()
        t.join(20)
        assert not t.is_alive() and box.get("done"), "start() on a busy port hung"
    kind, text = box["error"]
    assert issubclass(kind, OSError) and "Address already in use" in text
    assert not server.running


def test_tls_serves_wss_and_https_and_refuses_a_key_that_does_not_match(make_server, tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))
    import testca  # tests/server/testca.py: a CA made with the openssl command

    pki = testca.make_pki(tmp_path / "pki")
    server = make_server(tls_cert=pki.cert, tls_key=pki.key).start(host="127.0.0.1", port=0)
    assert server.url == f"wss://127.0.0.1:{server.port}/ws" and server.http_url.startswith("https://")
    ctx = ssl.create_default_context(cafile=str(pki.ca))

    async def go():
        async with connect(server.url, ssl=ctx) as ws:
            return await recv_json(ws)

    assert arun(go())["type"] == "connection_established"
    with urllib.request.urlopen(server.http_url + "/health", context=ctx, timeout=10) as r:
        assert r.status == 200
    other = testca.make_server_cert(testca.make_ca(tmp_path / "ca2"), tmp_path / "ca2")
    bad = make_server(tls_cert=pki.cert, tls_key=other.key)
    with pytest.raises(ValueError, match="does not match the certificate"):
        bad.start(host="127.0.0.1", port=0)
    assert not bad.running


RUNNER = textwrap.dedent("""
    import sys
    from ccbridge.websocket_server import EnhancedClaudeWebSocketServer
    server = EnhancedClaudeWebSocketServer(cli_path=sys.argv[1], allowed_roots=[sys.argv[2]],
                                           options={"shutdown": {"exit_wait_ms": 1000, "term_wait_ms": 1000},
                                                    "pass_env": ["CCB_*"]})
    server.run(host="127.0.0.1", port=0, log_level="info")
    print("run returned", flush=True)
""")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_run_returns_after_a_signal_and_leaves_no_process(tmp_path, sig):
    assert os.access(FAKE, os.X_OK), f"fake CLI not found at {FAKE!r}"
    tag = str(uuid.uuid4())
    env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    env.update(CCB_TEST_TAG=tag, CCB_FAKE_SCRIPT_TEXT=HOLD,
               PYTHONPATH=os.pathsep.join([PACKAGE_DIR, env.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, FAKE, str(tmp_path)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # Raw reads on the pipe (a buffered readline could hide a second line from select()).
        url, seen, deadline = None, b"", time.time() + 20
        while url is None and time.time() < deadline:
            ready, _, _ = select.select([proc.stderr], [], [], 1)
            if ready:
                chunk = os.read(proc.stderr.fileno(), 65536)
                if not chunk:
                    break
                seen += chunk
                for line in seen.decode(errors="replace").splitlines():
                    if "serving the seed-003 WebSocket protocol on ws://" in line:
                        url = line.split(" on ", 1)[1].split()[0]
        assert url, "run() did not report where it listens:\n" + seen.decode(errors="replace")

        async def go():
            async with connect(url) as ws:
                await recv_json(ws)
                await ws.send(json.dumps({"type": "query", "prompt": "hold"}))
                await until(ws, "system_message")
                procs = [p for p in tagged_pids(tag) if p != proc.pid]  # the server's process has the tag too
                proc.send_signal(sig)
                _, code, _ = await read_until_close(ws, timeout=20)
                return procs, code

        procs, code = arun(go(), timeout=40)
        assert len(procs) == 1  # the conversation's CLI was running when the signal came
        assert code == 1001
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err.decode()
        assert out.decode().strip() == "run returned"
        assert f"{sig.name} received, stopping" in (seen + err).decode(errors="replace")
        assert wait_no_processes(tag), f"processes left behind: {tagged_pids(tag)}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_interpreter_exits_after_a_failed_start():
    # A start() that threw must leave an engine whose destruction (here at exit) does not wait.
    code = textwrap.dedent("""
        import socket, sys
        from ccbridge.websocket_server import EnhancedClaudeWebSocketServer
        busy = socket.socket(); busy.bind(("127.0.0.1", 0)); busy.listen()
        try:
            EnhancedClaudeWebSocketServer(cli_path=sys.argv[1]).start(host="127.0.0.1", port=busy.getsockname()[1])
        except OSError as e:
            print("OSError", flush=True)
    """)
    env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    env["PYTHONPATH"] = os.pathsep.join([PACKAGE_DIR, env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", code, FAKE], env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "OSError"
