"""What a CLI started by `ccbridge serve` gets, and what it leaves behind (issue 12): its
environment holds none of the host's secrets (only an allow-list plus what the operator passes);
it starts in exactly the directory that was checked, even while that path is being swapped for a
symlink out of the root; and nothing it starts outlives its run, not even a daemon that left its
process group (setsid), when the host gives the server cgroups (/health says which containment
is active). docs/RELIABILITY.md "Hostile input" lists each case with the test that checks it.
"""
import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import CCB, FAKE, Server, alive, read_pid, read_until_close, recv_json, run, ws_connect

SECRETS = {"CCBRIDGE_TOKEN": "gateway-secret", "AWS_SECRET_ACCESS_KEY": "aws-secret", "FOO_SECRET": "foo-secret"}
AUTH = {"Authorization": "Bearer gateway-secret"}


def wait_invocation(path, timeout=10):
    """The fake CLI's dump_invocation record, once it is there."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"the CLI never wrote {path}"
        time.sleep(0.02)
    return json.loads(path.read_text())


def opcode_env(s, inv):
    status, body, _ = s.http("POST", "/claude/execute", {"project_path": str(s.root), "prompt": "x"}, headers=AUTH)
    assert status == 200, body
    env = wait_invocation(inv)["env"]
    inv.unlink()
    return env


def sdk_ws_env(s, inv):
    async def go():
        async with ws_connect(s.ws_url("/ws?token=gateway-secret")) as ws:
            await recv_json(ws)
            await ws.send(json.dumps({"type": "query", "prompt": "hi"}))
            while (await recv_json(ws))["type"] != "query_end":
                pass

    run(go(), timeout=20)
    env = wait_invocation(inv)["env"]
    inv.unlink()
    return env


# ---- the CLI's environment ----------------------------------------------------------------------


def test_the_cli_gets_no_secret_of_the_gateway_host(start_server, tmp_path):
    inv = tmp_path / "invocation.json"
    s = start_server(script=f"dump_invocation {inv}\nserve_turns",
                     env={**SECRETS, "ANTHROPIC_API_KEY": "sk-test", "CLAUDE_CODE_MAX_RETRIES": "1"})
    for env in (opcode_env(s, inv), sdk_ws_env(s, inv)):  # a one-shot run and a Session
        leaked = sorted(k for k in SECRETS if k in env)
        assert not leaked, f"the CLI got the host's {leaked}"
        assert env["PATH"] == os.environ["PATH"] and env["HOME"] == os.environ["HOME"]
        assert env["ANTHROPIC_API_KEY"] == "sk-test" and env["CLAUDE_CODE_MAX_RETRIES"] == "1"
        assert env["CLAUDE_CODE_ENTRYPOINT"] == "sdk-cli"


def test_pass_env_passes_what_the_operator_lists_but_never_the_token(start_server, tmp_path):
    inv = tmp_path / "invocation.json"
    s = start_server(script=f"dump_invocation {inv}\nserve_turns", env=SECRETS,
                     args=["--pass-env", "FOO_SECRET", "--pass-env", "CC*"])
    env = opcode_env(s, inv)
    assert env["FOO_SECRET"] == "foo-secret"
    assert "CCBRIDGE_TOKEN" not in env and "AWS_SECRET_ACCESS_KEY" not in env


def test_pass_env_naming_the_gateways_own_variable_is_refused(tmp_path):
    p = subprocess.run([CCB, "serve", "--port", "0", "--root", str(tmp_path), "--cli", FAKE,
                        "--pass-env", "CCBRIDGE_TOKEN"], capture_output=True, timeout=20, cwd=tmp_path)
    assert p.returncode != 0
    assert b"CCBRIDGE_TOKEN" in p.stderr and b"never passed" in p.stderr, p.stderr


# ---- the CLI's working directory ----------------------------------------------------------------

# Swaps <root>/w (a directory) and <root>/w.link (a symlink to a directory outside the root) with
# renameat2(RENAME_EXCHANGE), as fast as it can, until killed: <root>/w is now one, now the other.
SWAPPER = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
a, b = (os.fsencode(p) for p in sys.argv[1:3])
print("swapping", flush=True)
while True:
    if libc.renameat2(-100, a, -100, b, 2) != 0:  # AT_FDCWD, RENAME_EXCHANGE
        sys.exit("renameat2: " + os.strerror(ctypes.get_errno()))
"""


def test_a_directory_swapped_for_a_symlink_never_starts_a_cli_outside_the_root(start_server, tmp_path):
    # Each CLI writes its invocation (with its real cwd, from getcwd) into the directory it
    # started in: a file in `outside` is a run that started outside the root.
    s = start_server(script="dump_invocation here.json\nserve_turns")
    outside = tmp_path / "outside"
    outside.mkdir()
    (s.root / "w").mkdir()
    (s.root / "w.link").symlink_to(outside)
    swapper = subprocess.Popen([sys.executable, "-c", SWAPPER, str(s.root / "w"), str(s.root / "w.link")],
                               stdout=subprocess.PIPE)
    try:
        assert swapper.stdout.readline() == b"swapping\n"

        async def opcode():
            status, _, _ = await asyncio.to_thread(
                s.http, "POST", "/claude/execute", {"project_path": str(s.root / "w"), "prompt": "x"})
            return status == 200

        async def sdk_ws():
            async with ws_connect(s.ws_url("/ws")) as ws:
                await recv_json(ws)
                await ws.send(json.dumps({"type": "query", "prompt": "x", "options": {"cwd": str(s.root / "w")}}))
                while True:
                    f = await recv_json(ws)
                    if f["type"] == "error":
                        return False
                    if f["type"] == "query_end":
                        return True

        async def go():
            started, deadline = 0, time.monotonic() + 30
            for _ in range(15):  # 15 rounds of 4 opcode runs and 2 sdk-ws conversations at once
                if time.monotonic() > deadline or (outside / "here.json").exists():
                    break
                done = await asyncio.gather(*[opcode() for _ in range(4)], sdk_ws(), sdk_ws())
                started += sum(done)
            return started

        started = run(go(), timeout=60)
    finally:
        swapper.kill()
        swapper.wait()
    assert s.wait_no_processes()
    escaped = outside / "here.json"
    assert not escaped.exists(), f"a CLI started outside the root, in {json.loads(escaped.read_text())['cwd']}"
    assert started >= 5, f"only {started} runs started: the test proved nothing"


# ---- what the CLI leaves behind ------------------------------------------------------------------

INIT = 'emit {"type":"system","subtype":"init","session_id":"fake-session"}'
RESULT = 'emit {"type":"result","subtype":"success","is_error":false,"result":"ok","session_id":"fake-session"}'


def wait_dead(pid, timeout=5):
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not alive(pid)


def host_cgroups(pid):
    """The cgroups a server made for its CLIs (lib/process/cgroup.hpp: ccbridge-<pid>-<n> beside
    the server in its own cgroup), as paths; [] without cgroup v2."""
    mount = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            if post.startswith("cgroup2 "):
                mount = pre.split()[4]
                break
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            own = next(line[3:].strip() for line in f if line.startswith("0::"))
    except (OSError, StopIteration):
        return []
    if mount is None:
        return []
    parent = mount + ("" if own == "/" else own)
    return [os.path.join(parent, d) for d in os.listdir(parent) if d.startswith(f"ccbridge-{pid}-")]


def wait_gone(paths, timeout=5):
    deadline = time.monotonic() + timeout
    while any(os.path.exists(p) for p in paths) and time.monotonic() < deadline:
        time.sleep(0.02)
    return [p for p in paths if os.path.exists(p)]


def containment(s):
    status, health, _ = s.http("GET", "/health")
    assert status == 200
    return health.get("containment")


def needs_cgroups(s):
    if containment(s) == "process-group":
        pytest.skip("this host gives the server no cgroup (no writable cgroup v2 subtree: see docs/SERVER.md); "
                    "/health says process-group, and a daemon that calls setsid can outlive its run")


class Daemon:
    """The pid of the daemon a fake CLI started (`daemon <pidfile>`), SIGKILLed at the end if it
    is still there, so that a failing test leaves nothing behind."""

    def __init__(self, pidfile):
        self.pidfile = pidfile
        self.pid = None

    def __enter__(self):
        return self

    def wait(self):
        self.pid = read_pid(self.pidfile)
        assert alive(self.pid)
        return self.pid

    def __exit__(self, *exc):
        if self.pid and alive(self.pid):
            os.kill(self.pid, signal.SIGKILL)


def test_health_says_which_containment_is_active(start_server):
    s = start_server()
    assert containment(s) in ("cgroup", "process-group")
    cgroups = host_cgroups(s.proc.pid)
    assert len(cgroups) == (1 if containment(s) == "cgroup" else 0)
    assert s.stop() == 0
    assert not wait_gone(cgroups), "the server's cgroup outlived it"
    t = start_server(env={"CCBRIDGE_NO_CGROUP": "1"})
    assert containment(t) == "process-group" and not host_cgroups(t.proc.pid)


@pytest.mark.parametrize("end", ["normal", "cancel", "client-gone"])
def test_a_daemon_that_left_the_process_group_ends_with_its_run(start_server, tmp_path, end):
    pidfile, go_on = tmp_path / "daemon.pid", tmp_path / "go-on"
    last = f"wait_file {go_on}\n{RESULT}\nexit 0" if end == "normal" else "hang"  # ends once the daemon is seen
    s = start_server(script=f"wait_user\ndaemon {pidfile}\n{INIT}\n{last}")
    needs_cgroups(s)
    with Daemon(pidfile) as d:
        if end == "client-gone":  # an sdk-ws conversation whose client leaves
            async def go():
                async with ws_connect(s.ws_url("/ws")) as ws:
                    await recv_json(ws)
                    await ws.send(json.dumps({"type": "query", "prompt": "go"}))
                    await asyncio.to_thread(d.wait)

            run(go(), timeout=30)
        else:
            status, r, _ = s.http("POST", "/claude/execute", {"project_path": str(s.root), "prompt": "go"})
            assert status == 200, r
            d.wait()
            go_on.touch()
            if end == "cancel":
                assert s.http("POST", f"/claude/cancel/{r['session_id']}")[1]["cancelled"]

            async def follow():
                async with ws_connect(s.ws_url(r["websocket_url"])) as ws:
                    return await read_until_close(ws)

            frames, _, _ = run(follow(), timeout=30)
            assert frames[-1]["type"] == ("complete" if end == "normal" else "cancelled"), frames[-3:]
        assert wait_dead(d.pid), f"daemon {d.pid} (setsid) outlived its run"
        assert s.wait_no_processes()


def test_a_daemon_that_left_the_process_group_dies_with_a_sigkilled_server(tmp_path):
    pidfile = tmp_path / "daemon.pid"
    s = Server(tmp_path, script=f"wait_user\ndaemon {pidfile}\n{INIT}\nhang")
    try:
        needs_cgroups(s)
        with Daemon(pidfile) as d:
            status, r, _ = s.http("POST", "/claude/execute", {"project_path": str(s.root), "prompt": "go"})
            assert status == 200, r
            d.wait()
            cgroups = host_cgroups(s.proc.pid)
            assert cgroups
            s.proc.kill()
            s.proc.wait(10)
            assert wait_dead(d.pid), f"daemon {d.pid} (setsid) outlived its SIGKILLed server"
            assert s.wait_no_processes()
            assert not wait_gone(cgroups), "the guard left the server's cgroups behind"
    finally:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()
        s.log.close()
