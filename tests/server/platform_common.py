"""Shared by the agent platform's tests (profile "platform", seed 001): a server with users in its
database, logged-in clients, and small helpers over the seed's envelopes."""
import json
import subprocess
import time

from conftest import CCB

SECRET = "platform-test-secret-0123456789abcdef"


def add_user(db, email, permissions="all", password="secret-password", name=None):
    cmd = [CCB, "users", "add", email, "--password-stdin", "--permissions", permissions, "--password-cost", "10",
           "--db", str(db)]
    if name:
        cmd += ["--name", name]
    r = subprocess.run(cmd, input=password + "\n", capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def start_platform(start_server, tmp_path, script="serve_turns", users=(("dev@example.com", "all"),), args=(), **kw):
    db = tmp_path / "platform.db"
    for email, perms in users:
        add_user(db, email, perms)
    s = start_server(script=script, args=["--profiles", "platform", "--db", str(db), "--jwt-secret", SECRET,
                                          "--password-cost", "10", *args], **kw)
    s.db = db
    return s


class Client:
    """A logged-in user of server `s`."""

    def __init__(self, s, email="dev@example.com", password="secret-password"):
        self.s = s
        status, body, _ = s.http("POST", "/v1/auth/login", {"email": email, "password": password})
        assert status == 200, body
        self.token = body["data"]["token"]
        self.refresh = body["data"]["refreshToken"]
        self.user = body["data"]["user"]

    def call(self, method, path, body=None, headers=None):
        h = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        if body is not None:
            h["Content-Type"] = "application/json"
        return self.s.http(method, "/v1" + path, body, headers=h)

    def ok(self, method, path, body=None, status=200):
        st, b, _ = self.call(method, path, body)
        assert st == status, (st, b)
        assert b["success"] is True
        return b.get("data")

    def session(self, name="s", agent="build", **config):
        cfg = {"projectPath": str(self.s.root), **config}
        return self.ok("POST", "/sessions", {"name": name, "agentId": agent, "config": cfg}, 201)["session"]

    def ws_url(self, session_id, **extra):
        q = "&".join(f"{k}={v}" for k, v in {"token": self.token, "sessionId": session_id, **extra}.items())
        return self.s.ws_url(f"/ws/v1/chat?{q}")


def is_error(body, code):
    e = body["error"]
    return body["success"] is False and e["code"] == code and e["message"] and e["timestamp"] and \
        e["requestId"].startswith("req_")


async def next_event(ws, type_, timeout=10):
    """The next event of `type_` (others are skipped)."""
    import asyncio
    while True:
        ev = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if ev["type"] == type_:
            return ev


def wait_until(cond, timeout=10):
    """cond()'s first true value, polled until `timeout` seconds passed (then its last value)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    return cond()
