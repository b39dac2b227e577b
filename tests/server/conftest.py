"""Harness for the gateway's protocol tests: starts `ccbridge serve` on a free port with the fake
CLI, speaks to it with a real HTTP and WebSocket client (Python's urllib and websockets) from this
second process, and checks at the end that the server stopped cleanly (exit 0 on SIGTERM) and that
no process it started is left behind.

Every process the server starts inherits CCB_TEST_TAG=<uuid>, so leftovers are found by scanning
/proc/*/environ for the tag, whoever their parent is by then.
"""
import asyncio
import json
import os
import select
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import pytest
import websockets

CCB = os.environ.get("CCB_BIN", "")
FAKE = os.environ.get("CCB_FAKE_CLI", "")


def tagged_pids(tag):
    """Live processes (zombies excluded) whose environment holds CCB_TEST_TAG=tag."""
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


def alive(pid):
    """Whether `pid` is a live process (a zombie is not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def read_pid(path, timeout=5):
    """The pid a fake CLI's grandchild or daemon wrote to `path`, once it is there."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            return int(path.read_text())
        except (OSError, ValueError):
            time.sleep(0.02)
    raise AssertionError(f"no pid in {path}")


def guard_pids(host_pid):
    """The live guard of a host (lib/process/guard.hpp): a shell whose argv[0] is ccbridge-guard
    and whose last argument is the host's pid. Its environment is empty, so tagged_pids() never
    sees it."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            with open(f"/proc/{d}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if argv[0] == b"ccbridge-guard" and len(argv) >= 2 and argv[-2] == str(host_pid).encode() and state != "Z":
            out.append(int(d))
    return out


class Server:
    """`ca`: a server started with --tls-cert/--tls-key is spoken to over https:// and wss://,
    verifying its certificate with this CA file (the context is `ssl`, for ws_connect(ssl=...)).
    `port`: every profile on this port (0: any free one); None: the profiles' own ports (the
    first listener's is spoken to, on its address)."""

    def __init__(self, tmp_path, script="", args=(), env=None, cli=None, ca=None, port=0):
        self.tag = str(uuid.uuid4())
        self.root = tmp_path / "root"
        self.root.mkdir(exist_ok=True)
        self.log_path = tmp_path / f"server-{self.tag[:8]}.log"
        e = dict(os.environ)
        e.update({"CCB_TEST_TAG": self.tag, "CCB_FAKE_SCRIPT_TEXT": script})
        for k in ("WEBSOCKET_HOST", "WEBSOCKET_PORT", "MAX_SESSIONS", "SESSION_TIMEOUT_MINUTES", "CORS", "CCBRIDGE_TOKEN"):
            e.pop(k, None)
        e.update(env or {})
        # Short shutdown waits keep the tests quick; the ladder's order is the same. The CLI gets
        # only an allow-listed environment: the fake CLI's script and the tag are passed on.
        cmd = [CCB, "serve", *(["--port", str(port)] if port is not None else []), "--root", str(self.root), "--cli", cli or FAKE, "--log-level", "debug",
               "--exit-wait-ms", "1000", "--term-wait-ms", "1000", "--pass-env", "CCB_*", *args]
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, cwd=self.root, env=e)
        line = self._readline(10)
        assert "listening on http://" in line or "listening on https://" in line, \
            f"server did not start: {line!r}\n{self.log_text()}"
        self.port = int(line.rsplit(":", 1)[1].split()[0])
        self.host = line.split("://", 1)[1].rsplit(":", 1)[0]
        self.scheme = "https" if "https://" in line else "http"
        self.ssl = ssl.create_default_context(cafile=str(ca)) if ca else None
        self.stopped = None

    def _readline(self, timeout):
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        return self.proc.stdout.readline().decode() if r else ""

    def log_text(self):
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def url(self, path):
        return f"{self.scheme}://{self.host}:{self.port}{path}"

    def ws_url(self, path):
        return f"{'wss' if self.scheme == 'https' else 'ws'}://{self.host}:{self.port}{path}"

    def http(self, method, path, body=None, headers=None, raw=None):
        """Returns (status, parsed JSON or text, headers)."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.url(path), data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10, context=self.ssl) as r:
                status, text, hdrs = r.status, r.read().decode(), r.headers
        except urllib.error.HTTPError as err:
            status, text, hdrs = err.code, err.read().decode(), err.headers
        try:
            return status, json.loads(text), hdrs
        except ValueError:
            return status, text, hdrs

    def processes(self):
        return [p for p in tagged_pids(self.tag) if p != self.proc.pid]

    def wait_no_processes(self, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.processes():
                return True
            time.sleep(0.05)
        return not self.processes()

    def stop(self, timeout=30):
        if self.stopped is None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.stopped = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.stopped = "hung"
            self.log.close()
        return self.stopped


@pytest.fixture
def start_server(tmp_path):
    servers = []

    def start(**kw):
        s = Server(tmp_path, **kw)
        servers.append(s)
        return s

    yield start
    for s in servers:
        stop_cleanly(s)


def stop_cleanly(s):
    """Stops a server and checks that it exited 0 and left no process (nor its guard) behind."""
    rc = s.stop()
    assert rc == 0, f"server exit status {rc}\n{s.log_text()[-3000:]}"
    assert s.wait_no_processes(), f"processes left behind: {s.processes()}"
    deadline = time.time() + 5
    while guard_pids(s.proc.pid) and time.time() < deadline:
        time.sleep(0.02)
    assert not guard_pids(s.proc.pid), "the server's guard outlived it"


def run(coro, timeout=60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def wait_until(cond, what, timeout=20):
    """Polls cond() until it is true (returns its value); fails naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def wait_detached(server, sid):
    """Waits until the server lists conversation `sid` as not connected: it has seen its client go."""
    def detached():
        return [x["connected"] for x in server.http("GET", "/sessions")[1]["sessions"] if x["session_id"] == sid] == [False]
    wait_until(detached, f"conversation {sid} listed as not connected")


def metric(server, name, headers=None):
    """The value of `name` in the server's /metrics: an unlabelled series, or its first labelled sample."""
    _, text, _ = server.http("GET", "/metrics", headers=headers)
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric {name}")


async def read_until_close(ws, limit=None):
    """Frames (parsed JSON, or text when not JSON) until the server closes; returns (frames, code, reason)."""
    frames = []
    try:
        while limit is None or len(frames) < limit:
            m = await ws.recv()
            try:
                frames.append(json.loads(m))
            except ValueError:
                frames.append(m)
    except websockets.ConnectionClosed as e:
        rc = e.rcvd
        return frames, (rc.code if rc else None), (rc.reason if rc else None)
    return frames, None, None


async def recv_json(ws, timeout=10):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def until(ws, kind, timeout=10):
    """Frames up to and including the first one of type `kind`."""
    frames = []
    while True:
        f = await recv_json(ws, timeout)
        frames.append(f)
        if f.get("type") == kind:
            return frames


def ws_connect(url, **kw):
    kw.setdefault("max_size", 64 * 1024 * 1024)
    kw.setdefault("open_timeout", 10)
    return websockets.connect(url, **kw)
