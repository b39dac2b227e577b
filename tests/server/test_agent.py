"""`ccbridge agent` (docs/AGENT-PROTOCOL.md) against a small fake control plane: registration,
sessions, the resume handshake across a cut link, an original control plane's fallback, the stop
on SIGTERM (with and without draining), the refusals at start, and no process left behind."""
import asyncio
import base64
import json
import os
import signal
import ssl
import stat
import subprocess
import time

import pytest
from websockets.asyncio.server import serve

from cc_control_common import Client
from conftest import CCB, alive, read_pid, run

# The terminal's stand-in: writes its pid, prints a banner, answers each line. "flood N" prints
# N numbered lines; "floodquit N" does and exits 3; "size" prints the window size.
STAND_IN = r"""#!/bin/sh
echo $$ > "$PID_FILE"
printf 'stand-in ready\r\n'
while IFS= read -r line; do
  case "$line" in
    flood*) n=${line#* }; i=1; while [ "$i" -le "$n" ]; do printf 'line %06d\r\n' "$i"; i=$((i+1)); done
            printf 'flood done\r\n'; [ "${line%% *}" = floodquit ] && exit 3 ;;
    size) stty size ;;
    quit) exit 3 ;;
    *) printf 'got:%s\r\n' "$line" ;;
  esac
done
"""

TOKEN = "t" * 40


class Link(Client):
    """One agent connection as the fake control plane sees it (frames kept in `frames`)."""

    async def output(self, sid, needle, timeout=10):
        """pty_out frames of `sid` until `needle` is in their bytes."""
        got = []
        while needle not in b"".join(unb64(f) for f in got):
            got.append(await self.until(lambda f: f["type"] == "pty_out" and f["session_id"] == sid, timeout))
        return got


def unb64(f):
    return base64.b64decode(f.get("data_b64", ""))


class Control:
    """A fake control plane: each agent connection is put on `links`, open until the test ends it."""

    def __init__(self, tls=None):
        self.links = asyncio.Queue()
        self.server = None
        self.tls = tls

    async def handler(self, ws):
        link = Link(ws)
        link.auth = ws.request.headers.get("Authorization")
        await self.links.put(link)
        await ws.wait_closed()

    async def __aenter__(self):
        self.server = await serve(self.handler, "127.0.0.1", 0, ssl=self.tls)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc):
        self.server.close()

    async def accept(self, timeout=15):
        return await asyncio.wait_for(self.links.get(), timeout)

    async def registered(self, resume=True, heartbeat_ms=5000, timeout=15):
        """The next connection, its register frame answered with register_ok."""
        link = await self.accept(timeout)
        reg = await link.next()
        assert reg["type"] == "register", reg
        data = {"heartbeat_interval_ms": heartbeat_ms, "server_time_ms": int(time.time() * 1000)}
        if resume:
            data["resume"] = True
        await link.send(type="register_ok", server_id=reg["server_id"], data=data)
        link.register = reg
        return link


class Agent:
    def __init__(self, tmp_path, port, *extra, env=None):
        self.root = tmp_path / "root"
        self.root.mkdir(exist_ok=True)
        cli = tmp_path / "stand-in"
        cli.write_text(STAND_IN)
        cli.chmod(cli.stat().st_mode | stat.S_IXUSR)
        self.pid_file = tmp_path / "cli.pid"
        self.log_path = tmp_path / "agent.log"
        e = {k: v for k, v in os.environ.items() if k not in ("AGENT_TOKEN", "ALLOW_ROOT", "CONTROL_URL", "SERVER_ID")}
        e.update(env or {})
        url = port if isinstance(port, str) else f"http://127.0.0.1:{port}/ws/agent"
        cmd = [CCB, "agent", "-control-url", url, "--token", TOKEN,
               "--allow-root", str(self.root), "--server-id", "build-1", "--tags", "a,b", "-claude-path", str(cli),
               "--env-allow-keys", "PID_FILE", "--log-level", "debug", *extra]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(self.log_path, "wb"), env=e)

    def log(self):
        return self.log_path.read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def agent(tmp_path):
    made = []

    def start(port, *extra, **kw):
        a = Agent(tmp_path, port, *extra, **kw)
        made.append(a)
        return a

    yield start
    for a in made:
        a.stop()


async def start_session(link, a, sid="s1", **extra):
    data = {"cwd": str(a.root), "cmd": ["claude"], "env": {"PID_FILE": str(a.pid_file)}, "cols": 100, "rows": 30}
    data.update(extra)
    await link.send(type="start_session", server_id="build-1", session_id=sid, data=data)
    return await link.output(sid, b"stand-in ready")


async def wait_gone(pid, timeout=15):
    deadline = time.time() + timeout
    while alive(pid) and time.time() < deadline:
        await asyncio.sleep(0.05)
    assert not alive(pid), f"process {pid} is still there"


async def wait_log(a, needle, timeout=10):
    deadline = time.time() + timeout
    while needle not in a.log() and time.time() < deadline:
        await asyncio.sleep(0.02)
    assert needle in a.log(), a.log()


def lines_of(frames):
    text = b"".join(unb64(f) for f in frames).decode()
    return [l.strip("\r") for l in text.split("\n") if l.startswith("line ")]


def test_register_session_and_stop(agent):
    async def go():
        async with Control() as cp:
            a = agent(cp.port)
            link = await cp.registered(heartbeat_ms=200)
            reg = link.register
            assert link.auth == f"Bearer {TOKEN}"
            d = reg["data"]
            assert reg["server_id"] == d["server_id"] == "build-1"
            assert d["tags"] == ["a", "b"] and d["allow_roots"] == [os.path.realpath(a.root)]
            assert d["sessions"] == [] and len(d["instance_id"]) == 36
            assert d["os"] == "linux" and d["hostname"] and d["agent_version"] and d["claude_path"].endswith("stand-in")
            await link.until(lambda f: f["type"] == "heartbeat", 3)

            out = await start_session(link, a)
            assert [f["seq"] for f in out] == list(range(1, len(out) + 1))
            await link.send(type="pty_in", server_id="build-1", session_id="s1", data_b64=base64.b64encode(b"hi\n").decode())
            await link.output("s1", b"got:hi")
            await link.send(type="resize", server_id="build-1", session_id="s1", data={"cols": 91, "rows": 27})
            await link.send(type="pty_in", server_id="build-1", session_id="s1", data_b64=base64.b64encode(b"size\n").decode())
            await link.output("s1", b"27 91")
            # A cwd outside the roots: one error frame, as the original's second one is not sent.
            await link.send(type="start_session", server_id="build-1", session_id="s2", data={"cwd": "/", "cols": 80, "rows": 24})
            err = await link.until(lambda f: f["type"] == "error")
            assert err["session_id"] == "s2" and err["data"]["message"].startswith("reject_cwd:")
            await link.send(type="stop_session", server_id="build-1", session_id="s1",
                            data={"grace_ms": 500, "kill_after_ms": 1000, "signal": "SIGTERM"})
            ex = await link.until(lambda f: f["type"] == "pty_exit", 10)
            outs = [f for f in link.frames if f["type"] == "pty_out" and f["session_id"] == "s1"]
            assert ex["data"]["last_seq"] == outs[-1]["seq"] and link.frames[-1] is ex
            assert ex["data"]["signal"] == "terminated" and ex["data"]["exit_code"] == -1
            errors = [f for f in link.frames if f["type"] == "error"]
            assert len(errors) == 1, errors

    run(go())


def test_reconnect_replays_what_was_missed_once_in_order(agent):
    async def go():
        async with Control() as cp:
            a = agent(cp.port)
            link = await cp.registered()
            await start_session(link, a)
            await link.send(type="pty_in", server_id="build-1", session_id="s1",
                            data_b64=base64.b64encode(b"floodquit 2000\n").decode())
            await link.output("s1", b"line 000050")
            have = [f for f in link.frames if f["type"] == "pty_out"]
            link.ws.transport.abort()  # the link is cut mid-output
            # Not answered until the CLI has ended: it ends while the agent is away.
            link2 = await cp.accept()
            reg = await link2.next()
            pid = read_pid(a.pid_file)
            await wait_gone(pid)
            await link2.send(type="register_ok", server_id="build-1", data={"heartbeat_interval_ms": 5000, "resume": True})
            listed = reg["data"]["sessions"]
            assert [s["session_id"] for s in listed] == ["s1"] and listed[0]["last_seq"] >= have[-1]["seq"]
            # The register is sent at once: the exit may or may not be known then.
            await link2.send(type="replay", server_id="build-1", session_id="s1", seq=have[-1]["seq"])
            ex = await link2.until(lambda f: f["type"] == "pty_exit", 15)
            rest = [f for f in link2.frames if f["type"] == "pty_out"]
            assert [f["seq"] for f in rest] == list(range(have[-1]["seq"] + 1, ex["data"]["last_seq"] + 1))
            assert lines_of(have + rest) == [f"line {i:06d}" for i in range(1, 2001)]
            assert ex["data"]["exit_code"] == 3
            # Released: the next registration no longer lists it.
            await link2.send(type="release", server_id="build-1", session_id="s1")
            # The release is handled before the cut: a frame sent after it is answered (in order).
            await link2.send(type="pty_in", server_id="build-1", session_id="zz", data_b64="")
            await link2.until(lambda f: f["type"] == "error" and f["session_id"] == "zz")
            link2.ws.transport.abort()
            link3 = await cp.registered()
            assert link3.register["data"]["sessions"] == []

    run(go())


def test_original_control_plane_gets_the_buffer_again(agent):
    async def go():
        async with Control() as cp:
            a = agent(cp.port)
            link = await cp.registered(resume=False)
            await start_session(link, a)
            link.ws.transport.abort()
            link2 = await cp.registered(resume=False)
            again = await link2.output("s1", b"stand-in ready")
            assert again[0]["seq"] == 1

    run(go())


def test_a_session_the_control_plane_does_not_know_is_stopped(agent):
    async def go():
        async with Control() as cp:
            a = agent(cp.port)
            link = await cp.registered()
            await start_session(link, a)
            pid = read_pid(a.pid_file)
            link.ws.transport.abort()
            link2 = await cp.registered()
            assert [s["session_id"] for s in link2.register["data"]["sessions"]] == ["s1"]
            await link2.send(type="stop_session", server_id="build-1", session_id="s1",
                             data={"grace_ms": 200, "kill_after_ms": 500})
            await wait_gone(pid)
            await link2.send(type="pty_in", server_id="build-1", session_id="zz", data_b64="")
            f = await link2.until(lambda f: f["type"] == "error")  # frames are in order: nothing of s1 came
            assert f["session_id"] == "zz" and not [x for x in link2.frames if x.get("session_id") == "s1"]
            link2.ws.transport.abort()
            link3 = await cp.registered()
            assert link3.register["data"]["sessions"] == []

    run(go())


@pytest.mark.parametrize("drain", [False, True])
def test_sigterm_stops_sessions_and_exits_0(agent, drain):
    async def go():
        async with Control() as cp:
            a = agent(cp.port, *(["--drain-sec", "20"] if drain else []))
            link = await cp.registered()
            await start_session(link, a)
            a.proc.send_signal(signal.SIGTERM)
            if drain:
                await wait_log(a, "agent_stopping")
                await link.send(type="start_session", server_id="build-1", session_id="s2", data={"cwd": str(a.root)})
                err = await link.until(lambda f: f["type"] == "error")
                assert err["data"]["message"] == "agent draining"
                await link.send(type="pty_in", server_id="build-1", session_id="s1", data_b64=base64.b64encode(b"floodquit 20\n").decode())
            ex = await link.until(lambda f: f["type"] == "pty_exit", 20)
            assert ex["data"]["exit_code"] == (3 if drain else -1)
            if drain:
                assert b"flood done" in b"".join(unb64(f) for f in link.frames if f["type"] == "pty_out")
            await asyncio.wait_for(link.ws.wait_closed(), 10)
            assert link.ws.close_code == 1001
        assert a.proc.wait(10) == 0, a.log()

    run(go())


def test_sigkill_of_the_agent_leaves_no_process(agent):
    async def go():
        async with Control() as cp:
            a = agent(cp.port)
            link = await cp.registered()
            await start_session(link, a)
            pid = read_pid(a.pid_file)
            a.proc.kill()
            a.proc.wait()
            await wait_gone(pid)

    run(go())


def test_duplicate_server_id_refusal_is_logged(agent):
    async def go():
        async with Control() as cp:
            a = agent(cp.port)
            link = await cp.accept()
            await link.next()
            await link.ws.close(1008, 'duplicate server_id "build-1": already connected; rename via -server-id')
            await cp.accept()  # it dials again (after 1 s)
            assert "duplicate server_id" in a.log() and "agent_refused" in a.log()

    run(go())


@pytest.mark.parametrize("args,env,why", [
    (["--allow-root", "ROOT"], {}, "no agent token"),
    (["--allow-root", "ROOT"], {"AGENT_TOKEN": ""}, "no agent token"),
    (["--token", "x"], {}, "no allowed root"),
    (["--token", "x", "--allow-root", "ROOT/missing"], {}, "does not exist"),
    (["-agent-token=x", "-allow-root=ROOT", "--bogus"], {}, "unknown option --bogus"),
])
def test_refuses_to_start(tmp_path, args, env, why):
    e = {k: v for k, v in os.environ.items() if k not in ("AGENT_TOKEN", "ALLOW_ROOT")}
    e.update(env)
    args = [x.replace("ROOT", str(tmp_path)) for x in args]
    p = subprocess.run([CCB, "agent", *args], capture_output=True, text=True, env=e, timeout=10)
    assert p.returncode == 2 and why in p.stderr, p.stderr


def test_env_fallbacks(agent, tmp_path):
    async def go():
        async with Control() as cp:
            root = tmp_path / "envroot"
            root.mkdir()
            e = {"AGENT_TOKEN": "from-env", "ALLOW_ROOT": str(root), "TAGS": "x,y", "SERVER_ID": "env-id",
                 "CONTROL_URL": f"ws://127.0.0.1:{cp.port}/ws/agent", "TLS_SKIP_VERIFY": "yes"}
            env = {k: v for k, v in os.environ.items() if k not in ("AGENT_TOKEN", "ALLOW_ROOT")}
            env.update(e)
            p = subprocess.Popen([CCB, "agent"], stderr=subprocess.DEVNULL, env=env)
            try:
                link = await cp.accept()
                reg = await link.next()
                assert link.auth == "Bearer from-env" and reg["server_id"] == "env-id"
                assert reg["data"]["tags"] == ["x", "y"] and reg["data"]["allow_roots"] == [os.path.realpath(root)]
            finally:
                p.kill()
                p.wait()

    run(go())


def make_ca(tmp_path, host_san):
    """A test CA and a server certificate for `host_san` ("IP:127.0.0.1", "DNS:other.example")."""
    def ossl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=tmp_path)
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
         "-subj", "/CN=ccbridge test CA")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=control")
    (tmp_path / "ext.cnf").write_text(f"subjectAltName={host_san}\n")
    ossl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "srv.pem",
         "-days", "2", "-extfile", "ext.cnf")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "srv.pem", tmp_path / "srv.key")
    return ctx, str(tmp_path / "ca.pem")


@pytest.mark.parametrize("san,args,ok", [
    ("IP:127.0.0.1", ["--ca-file", "CA"], True),
    ("IP:127.0.0.1", [], False),                       # the system's roots do not know the test CA
    ("DNS:other.example", ["--ca-file", "CA"], False),  # the name does not match
    ("DNS:other.example", ["--tls-skip-verify"], True),
])
def test_wss_checks_the_certificate(agent, tmp_path, san, args, ok):
    async def go():
        tls, ca = make_ca(tmp_path, san)
        async with Control(tls) as cp:
            a = agent(f"https://127.0.0.1:{cp.port}/ws/agent", *[x.replace("CA", ca) for x in args])
            if ok:
                link = await cp.registered()
                assert link.register["server_id"] == "build-1"
            else:
                await wait_log(a, "agent_dial_failed")
                assert cp.links.empty()  # refused before any WebSocket was opened

    run(go())
