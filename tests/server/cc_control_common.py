"""Shared pieces of the cc-control (seed 004) tests: a server with its own token database, tokens
made through the admin API, a fake terminal program, and a /ws/client reader."""
import asyncio
import base64
import json
import os
import sqlite3
import stat
import time

from conftest import metric, recv_json, ws_connect  # noqa: F401 (metric: for the cc-control tests)

ADMIN = "a" * 64  # the admin token these tests configure

# A stand-in for the interactive CLI: prints a banner, then answers each line it reads. Its
# tty echoes the input too. "flood N" prints N numbered lines (slowly, a shell loop), "seq N" N
# short ones fast; "size" the terminal's rows and columns; "menu" prints a Claude Code style
# permission menu; "quit" exits 3.
FAKE_TERMINAL = r"""#!/bin/sh
printf 'fake-claude ready\r\n'
while IFS= read -r line; do
  case "$line" in
    flood*) n=${line#flood }; i=1; while [ "$i" -le "$n" ]; do printf 'line %06d xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n' "$i"; i=$((i+1)); done; printf 'flood done\r\n' ;;
    menu) printf ' Bash command\r\n   touch f\r\n Do you want to proceed?\r\n \342\235\257 1. Yes\r\n   2. No\r\n\r\n Esc to cancel \302\267 Tab to amend\r\n' ;;
    env) env | sort | sed 's/$/\r/' ;;
    size) printf 'size:%s\r\n' "$(stty size)" ;;
    seq*) seq -f 'line %07.0f' 1 "${line#seq }"; printf 'seq done\r\n' ;;
    quit) exit 3 ;;
    *) printf 'got:%s\r\n' "$line" ;;
  esac
done
"""


def fake_terminal(tmp_path):
    p = tmp_path / "fake-claude"
    p.write_text(FAKE_TERMINAL)
    p.chmod(p.stat().st_mode | stat.S_IXUSR)
    return str(p)


def cc_args(tmp_path, *extra):
    return ["--profiles", "cc-control", "--admin-token", ADMIN, "--token-db", str(tmp_path / "cc.db"),
            "--audit-path", str(tmp_path / "audit.jsonl"), *extra]


def start_cc(start_server, tmp_path, *extra, cli=None):
    return start_server(args=cc_args(tmp_path, *extra), cli=cli or fake_terminal(tmp_path))


def saved_state(tmp_path):
    """Session id -> (status, seq of its saved output tail, the tail's bytes) as the control plane
    with its token database in `tmp_path` (cc_args) last flushed them to its state database."""
    try:
        db = sqlite3.connect(f"file:{tmp_path / 'cc-state.db'}?mode=ro", uri=True, timeout=5)
    except sqlite3.OperationalError:  # not made yet
        return {}
    try:
        rows = db.execute("SELECT s.session_id, s.status, COALESCE(t.latest_seq, 0), COALESCE(t.bytes, x'') "
                          "FROM cc_sessions s LEFT JOIN cc_ring_tails t USING (session_id)").fetchall()
        return {sid: (status, seq, bytes(tail)) for sid, status, seq, tail in rows}
    except sqlite3.OperationalError:  # no table yet
        return {}
    finally:
        db.close()


def bearer(token):
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def make_token(s, type_, role="", tenant_id="", name=""):
    body = {"type": type_, "role": role, "tenant_id": tenant_id, "name": name}
    status, out, _ = s.http("POST", "/admin/tokens", body, bearer(ADMIN))
    assert status == 200, out
    return out


def api(s, method, path, token, body=None):
    return s.http(method, path, body, bearer(token))


def create_session(s, token, cwd, **kw):
    status, out, _ = api(s, "POST", "/api/sessions", token, {"server_id": "srv-local", "cwd": str(cwd), **kw})
    assert status == 201, out
    return out


def wait_status(s, token, sid, want, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, out, _ = api(s, "GET", "/api/sessions", token)
        for sess in out["sessions"]:
            if sess["session_id"] == sid and sess["status"] in want:
                return sess
        time.sleep(0.05)
    raise AssertionError(f"session {sid} never reached {want}: {out}")


def running_session(start_server, tmp_path, *extra):
    """A server, an owner token and a session of the fake terminal that is running."""
    s = start_cc(start_server, tmp_path, *extra)
    op = make_token(s, "ui", "owner")["token"]
    sid = create_session(s, op, s.root)["session_id"]
    wait_status(s, op, sid, {"running"})
    return s, op, sid


def b64(text):
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def unb64(frame):
    return base64.b64decode(frame.get("data_b64", ""))


class Client:
    """A /ws/client connection that keeps every frame it reads."""

    def __init__(self, ws):
        self.ws = ws
        self.frames = []

    async def send(self, **frame):
        await self.ws.send(json.dumps(frame))

    async def next(self, timeout=10):
        f = await recv_json(self.ws, timeout)
        self.frames.append(f)
        return f

    async def until(self, pred, timeout=10):
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError(f"timed out; last frames: {self.frames[-5:]}")
            f = await self.next(left)
            if pred(f):
                return f

    async def output_until(self, sid, needle, timeout=10):
        """Terminal bytes of session `sid` until `needle` appears; returns them."""
        out = b""
        while needle not in out:
            f = await self.until(lambda f: f.get("type") == "term_out" and f.get("session_id") == sid, timeout)
            out += unb64(f)
        return out

    async def quiet(self, seconds=0.3):
        """Frames that arrive within `seconds` of silence."""
        got = []
        try:
            while True:
                got.append(await self.next(seconds))
        except asyncio.TimeoutError:
            return got


def client(s, token):
    return ws_connect(s.ws_url(f"/ws/client?token={token}"))
