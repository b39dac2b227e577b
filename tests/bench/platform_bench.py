#!/usr/bin/env python3
"""Agent platform (issue 16, profile "platform", seed 001) benchmark on the fake CLI. Run it through
tests/bench/platform.sh, which builds what it needs.

Three parts, each on a fresh `ccbridge serve --profiles platform` on loopback, R rounds each:
  latency  one session, one chat WebSocket, N tasks one after the other (task:submit over the
           socket). Each turn of the fake CLI writes a TodoWrite tool_use whose todo text is
           "t=<CLOCK_REALTIME ns>" (the fake CLI's {{now_ns}}), then a result. That line moves the
           task to executing, so its task:progress carries the stamp as progress.currentStep: the
           time from the CLI writing its first line to the client reading the event it causes is
           what ccbridge adds. Also: submit -> the first task:progress (status planning, sent when
           the task starts, before the CLI has the prompt), submit -> the CLI's line, submit ->
           task:complete. The first task of a round (it starts the CLI) is left out.
  load     1,000 sessions (over U users: the per-user rate limit is 1,000 requests an hour), 100
           chat WebSockets on 100 of them, tasks submitted over those sockets at 10/s for W
           seconds, round-robin (the first task of a session starts its CLI: "cold"). Completed
           tasks/s, submit -> task:complete p50/p99, the server's RSS (from /proc, the server
           process only, not its CLIs) at start, with the sessions and sockets, and at its peak.
  auth     the server pinned to one core (taskset), the clients on the other: logins/s at
           scrypt cost 15 (the default) and 10 with a few concurrent clients, and authenticated
           GET /v1/agents/s (JWT verify, rate limiter, store) with C client processes (a new
           connection per request: the server closes each after its answer). While the logins
           run, the driver times one GET /v1/agents every 20 ms: scrypt runs on the server's
           thread, so a login holds up every other request and socket for its duration. Also per second of the server's own CPU (utime + stime), which the
           clients' speed does not cap.
Every wait has a deadline; the report (commit, date, machine, per-round values, medians) goes to --out.
"""
import argparse
import asyncio
import json
import math
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import finish, provenance, section, sut  # noqa: E402
from cc_control_bench import cpu_s, fmt_row  # noqa: E402
from gateway_bench import Impl, rss_kb  # noqa: E402

SECRET = "platform-bench-secret-0123456789abcdef"
PASSWORD = "bench-password"
TODO = ('emit {"type":"assistant","message":{"id":"msg_b","type":"message","role":"assistant","model":"claude-fake",'
        '"content":[{"type":"tool_use","id":"toolu_b","name":"TodoWrite","input":{"todos":[{"content":"t={{now_ns}}",'
        '"status":"in_progress","activeForm":"t={{now_ns}}"}]}}],"stop_reason":null,"stop_sequence":null,'
        '"usage":{"input_tokens":1,"output_tokens":1}},"parent_tool_use_id":null,"session_id":"fake-session"}')
RESULT = ('emit {"type":"result","subtype":"success","is_error":false,"duration_ms":1,"duration_api_ms":1,'
          '"num_turns":1,"result":"done","session_id":"fake-session","total_cost_usd":0.001,'
          '"usage":{"input_tokens":1,"output_tokens":1},"permission_denials":[],"terminal_reason":"completed"}')


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def pct(vals, p):
    """The p-th percentile (nearest rank) of vals."""
    s = sorted(vals)
    return s[min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))] if s else None


# ---- the server ----------------------------------------------------------------------------------

class Platform:
    """`ccbridge serve --profiles platform` with its users made first."""

    def __init__(self, a, work, users, cost=10, script=None, cpu=None, extra=()):
        self.db = os.path.join(work, f"platform-{time.time_ns()}.db")
        self.emails = [f"u{i}@bench.example" for i in range(users)]
        for e in self.emails:
            r = subprocess.run([a.ccbridge, "users", "add", e, "--password-stdin", "--permissions", "all",
                                "--password-cost", str(cost), "--db", self.db],
                               input=PASSWORD + "\n", capture_output=True, text=True, timeout=120)
            if r.returncode != 0:
                raise RuntimeError(f"ccbridge users add: {r.stderr.strip()}")
        cmd = [a.ccbridge, "serve", "--port", "0", "--profiles", "platform", "--db", self.db, "--jwt-secret", SECRET,
               "--password-cost", str(cost), "--login-attempts", "10000000", "--cli", a.fake, "--pass-env", "CCB_*", "--root", work,
               "--log-level", "warn", "--max-sessions", "400", "--max-connections", "2048", *extra]
        if cpu is not None:
            cmd = ["taskset", "-c", str(cpu), *cmd]
        env = dict(os.environ)
        env.pop("CCB_FAKE_SCRIPT_TEXT", None)
        if script:
            path = os.path.join(work, f"script-{time.time_ns()}.txt")
            with open(path, "w") as f:
                f.write(script)
            env["CCB_FAKE_SCRIPT"] = path
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=work, env=env,
                                     start_new_session=True)
        self.root = work
        line = self.proc.stdout.readline().decode()
        if "listening on http://" not in line:
            raise RuntimeError(f"ccbridge serve did not start: {line!r}")
        self.port = int(line.rsplit(":", 1)[1].split()[0])

    @property
    def pid(self):
        return self.proc.pid

    def http(self, method, path, body=None, token=None):
        """(status, parsed body) over one keep-alive connection."""
        data = json.dumps(body).encode() if body is not None else b""
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(data)}\r\n"
        if body is not None:
            head += "Content-Type: application/json\r\n"
        if token:
            head += f"Authorization: Bearer {token}\r\n"
        status, raw = request(self.port, (head + "\r\n").encode() + data)
        return status, json.loads(raw) if raw else None

    def ok(self, method, path, body=None, token=None, status=(200, 201)):
        st, b = self.http(method, path, body, token)
        if st not in status:
            raise RuntimeError(f"{method} {path}: {st} {b}")
        return b["data"]

    def login(self, email):
        return self.ok("POST", "/v1/auth/login", {"email": email, "password": PASSWORD})["token"]

    def ws_url(self, token, session):
        return f"ws://127.0.0.1:{self.port}/ws/v1/chat?token={token}&sessionId={session}"

    stop = Impl.stop  # SIGTERM to the process group, SIGKILL after 20 s


def request(port, raw):
    """One HTTP/1.1 exchange (Content-Length bodies only) on a new connection: the server closes
    every plain HTTP connection after its answer (websocketpp has no keep-alive). Cheap enough
    that the client is not what is measured: (status, body bytes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(raw)
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += recv_some(sock)
        head, body = buf.split(b"\r\n\r\n", 1)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        while len(body) < length:
            body += recv_some(sock)
        return int(head[9:12]), body[:length]


def recv_some(sock):
    chunk = sock.recv(65536)
    if not chunk:
        raise ConnectionError("the server closed the connection before its answer was complete")
    return chunk


def new_session(srv, token, name):
    body = {"name": name, "agentId": "build", "config": {"projectPath": srv.root}}
    return srv.ok("POST", "/v1/sessions", body, token)["session"]["id"]


async def recv_json(ws, deadline):
    left = deadline - time.time()
    if left <= 0:
        raise TimeoutError("no event before the deadline")
    return json.loads(await asyncio.wait_for(ws.recv(), left))


# ---- latency -------------------------------------------------------------------------------------

def latency_round(a, work):
    srv = Platform(a, work, users=1, script="\n".join(["wait_user", TODO, RESULT] * (a.tasks + 1) + ["wait_eof"]))
    try:
        token = srv.login(srv.emails[0])
        sess = new_session(srv, token, "latency")
        samples = asyncio.run(latency_tasks(a, srv, token, sess))
    finally:
        srv.stop()
    cols = list(zip(*samples[1:]))  # the first task started the CLI
    names = ("submit_progress_us", "submit_line_us", "line_progress_us", "submit_complete_us")
    r = {}
    for name, vals in zip(names, cols):
        r[name.replace("_us", "_p50_us")] = pct(vals, 50)
        r[name.replace("_us", "_p99_us")] = pct(vals, 99)
    r["tasks"] = len(cols[0])
    return r


async def latency_tasks(a, srv, token, sess):
    """(submit -> planning progress, submit -> CLI line, CLI line -> its progress, submit -> complete)
    per task, microseconds, from CLOCK_REALTIME on both sides."""
    out = []
    deadline = time.time() + a.timeout
    async with websockets.connect(srv.ws_url(token, sess), max_size=None) as ws:
        while (await recv_json(ws, deadline))["type"] != "connection:established":
            pass
        for i in range(a.tasks + 1):
            t0 = time.time_ns()
            await ws.send(json.dumps({"type": "task:submit", "id": f"m{i}", "data": {"content": f"task {i}"}}))
            first = stamp = seen = None
            while True:
                ev = await recv_json(ws, deadline)
                now = time.time_ns()
                if ev["type"] == "error":
                    raise RuntimeError(f"task:submit refused: {ev['data']}")
                if ev["type"] == "task:progress" and first is None:
                    first = now
                step = ev["data"].get("progress", {}).get("currentStep", "") if ev["type"] == "task:progress" else ""
                if step.startswith("t=") and stamp is None:
                    stamp, seen = int(step[2:]), now
                if ev["type"] == "task:complete":
                    break
            if stamp is None:
                raise RuntimeError("no task:progress carried the CLI's stamp")
            out.append(((first - t0) / 1e3, (stamp - t0) / 1e3, (seen - stamp) / 1e3, (now - t0) / 1e3))
    return out


# ---- load ----------------------------------------------------------------------------------------

def load_round(a, work):
    srv = Platform(a, work, users=a.users, script="serve_turns")
    try:
        r = {"rss_start_kb": rss_kb(srv.pid)}
        tokens = [srv.login(e) for e in srv.emails]
        t0 = time.time()
        sessions = [new_session(srv, tokens[i % len(tokens)], f"s{i}") for i in range(a.sessions)]
        r["create_per_s"] = a.sessions / (time.time() - t0)
        step = max(1, a.sessions // a.clients)
        chosen = [(tokens[(i * step) % len(tokens)], sessions[i * step]) for i in range(a.clients)]
        r.update(asyncio.run(load_window(a, srv, chosen)))
    finally:
        srv.stop()
    return r


async def load_window(a, srv, chosen):
    deadline = time.time() + a.window + a.timeout
    socks = []
    for token, sess in chosen:
        ws = await websockets.connect(srv.ws_url(token, sess), max_size=None)
        while (await recv_json(ws, deadline))["type"] != "connection:established":
            pass
        socks.append(ws)
    r = {"rss_ready_kb": rss_kb(srv.pid)}
    submitted, done, lat = {}, {}, []  # socket index -> [submit ns], task id -> submit ns
    cold = set()
    readers = [asyncio.ensure_future(load_reader(i, ws, submitted, done, lat, cold)) for i, ws in enumerate(socks)]
    peak, c0, t0 = r["rss_ready_kb"], cpu_s(srv.pid), time.time()
    n = 0
    while time.time() - t0 < a.window:
        due = t0 + n / a.rate
        await asyncio.sleep(max(0, due - time.time()))
        i = n % len(socks)
        submitted.setdefault(i, []).append((time.time_ns(), n < len(socks)))
        await socks[i].send(json.dumps({"type": "task:submit", "id": f"m{n}", "data": {"content": f"task {n}"}}))
        n += 1
        if n % 5 == 0:
            peak = max(peak, rss_kb(srv.pid))
    window = time.time() - t0
    while len(lat) < n and time.time() < deadline:
        await asyncio.sleep(0.05)
        peak = max(peak, rss_kb(srv.pid))
    busy = time.time() - t0
    r["cpu_pct"] = (cpu_s(srv.pid) - c0) / busy * 100
    for t in readers:
        t.cancel()
    for ws in socks:
        await ws.close()
    warm = [v for v, c in lat if not c]
    r.update({"submitted": n, "completed": len(lat), "window_s": window, "drain_s": busy - window,
              "tasks_per_s": len(lat) / busy, "p50_ms": pct([v for v, _ in lat], 50), "p99_ms": pct([v for v, _ in lat], 99),
              "warm_p50_ms": pct(warm, 50), "warm_p99_ms": pct(warm, 99), "rss_peak_kb": peak})
    return r


async def load_reader(i, ws, submitted, done, lat, cold):
    """Matches a socket's tasks in order (its session runs one at a time, in submission order)."""
    started = {}
    async for raw in ws:
        ev = json.loads(raw)
        if ev["type"] == "task:progress":
            tid = ev["data"]["taskId"]
            if tid not in started and submitted.get(i):
                started[tid] = submitted[i].pop(0)
        elif ev["type"] == "task:complete" and ev["data"]["taskId"] in started:
            t, is_cold = started.pop(ev["data"]["taskId"])
            lat.append(((time.time_ns() - t) / 1e6, is_cold))


# ---- auth ----------------------------------------------------------------------------------------

def login_round(a, work, cost):
    srv = Platform(a, work, users=1, cost=cost, cpu=0)
    try:
        probe = f"GET /v1/agents HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {srv.login(srv.emails[0])}\r\n\r\n"
        c0, t0 = cpu_s(srv.pid), time.time()
        waits = []
        with client_pool(a.login_clients) as pool:
            res = pool.starmap_async(login_client, [(srv.port, srv.emails[0], a.auth_seconds, a.max_logins)] * a.login_clients)
            while not res.ready() and len(waits) < 900:  # the rate limit: 1,000 requests an hour per user
                t = time.perf_counter()
                request(srv.port, probe.encode())
                waits.append((time.perf_counter() - t) * 1e3)
                time.sleep(0.02)
            counts = res.get(a.auth_seconds + a.timeout)
        dt, cpu = time.time() - t0, cpu_s(srv.pid) - c0
    finally:
        srv.stop()
    n = sum(counts)
    return {"cost": cost, "logins": n, "per_s": n / dt, "per_cpu_s": n / cpu if cpu else None,
            "probe_p50_ms": pct(waits, 50), "probe_p99_ms": pct(waits, 99), "probe_max_ms": max(waits, default=None)}


def agents_round(a, work):
    srv = Platform(a, work, users=a.users, cpu=0)
    try:
        tokens = [srv.login(e) for e in srv.emails]
        per = [tokens[i::a.get_clients] for i in range(a.get_clients)]
        c0, t0 = cpu_s(srv.pid), time.time()
        counts = run_clients(a.get_clients, agents_client, [(srv.port, per[i], a.auth_seconds) for i in range(a.get_clients)])
        dt, cpu = time.time() - t0, cpu_s(srv.pid) - c0
    finally:
        srv.stop()
    ok = sum(c[0] for c in counts)
    other = sum(c[1] for c in counts)
    return {"requests": ok, "not_200": other, "per_s": ok / dt, "per_cpu_s": ok / cpu if cpu else None,
            "server_cpu_pct": cpu / dt * 100}


def client_pool(n):
    """n client processes on the second core."""
    return multiprocessing.get_context("fork").Pool(n, initializer=os.sched_setaffinity, initargs=(0, {1}))


def run_clients(n, fn, args):
    """Runs fn(*args[i]) in n client processes; their results."""
    with client_pool(n) as pool:
        return pool.starmap(fn, args, chunksize=1)


def login_client(port, email, seconds, max_logins):
    body = json.dumps({"email": email, "password": PASSWORD}).encode()
    raw = (f"POST /v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    n, end = 0, time.time() + seconds
    while time.time() < end and n < max_logins:
        status, _ = request(port, raw)
        if status != 200:
            raise RuntimeError(f"login answered {status}")
        n += 1
    return n


def agents_client(port, tokens, seconds, per_user=990):
    """GET /v1/agents with each token in turn, at most per_user times each (the rate limit is
    1,000 requests an hour per user): (200 answers, others)."""
    raws = [f"GET /v1/agents HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {t}\r\n\r\n".encode() for t in tokens]
    ok = other = 0
    end = time.time() + seconds
    while time.time() < end and ok + other < per_user * len(raws):
        status, _ = request(port, raws[(ok + other) % len(raws)])
        if status == 200:
            ok += 1
        else:
            other += 1
    return ok, other


# ---- the report ----------------------------------------------------------------------------------

def jwt_micro(a):
    out = subprocess.run([a.jwt_bench, "--seconds", str(min(a.auth_seconds, 5))], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"ccb_platform_jwt: exit {out.returncode}: {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def rounds_cell(vals, f):
    return ", ".join(f(v) if v is not None else "—" for v in vals)


def report(a, lat, load, logins, agents, jwts):
    us = lambda v: f"{v:.0f} µs"  # noqa: E731
    ms = lambda v: f"{v:.1f} ms"  # noqa: E731
    mb = lambda v: f"{v / 1024:.1f} MiB"  # noqa: E731
    rate = lambda v: f"{v:,.0f}/s"  # noqa: E731
    lines = [f"## Agent platform (issue 16), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", ""]
    lines += provenance(a.cmdline)
    lines += ["", "| figure | median | min – max | per round |", "|---|---|---|---|"]

    last = [""]

    def row(label, rs, key, f):
        vals = [r.get(key) for r in rs]
        # "… p99" continues the row above it: its figure is named after that row.
        if not label.startswith("…"):
            last[0] = label
        cell = fmt_row(label, vals, f, key=label if label == last[0] else f"{last[0]} {label}")
        lines.append(f"{cell} {rounds_cell(vals, f)} |")

    if lat:
        section("latency")
        lines.append(f"| *latency: {a.tasks} tasks a round on one session and socket (warm CLI)* | | | |")
        row("CLI writes its first line → client reads its task:progress, p50", lat, "line_progress_p50_us", us)
        row("… p99", lat, "line_progress_p99_us", us)
        row("submit → first task:progress (planning), p50", lat, "submit_progress_p50_us", us)
        row("… p99", lat, "submit_progress_p99_us", us)
        row("submit → the CLI writes its first line, p50", lat, "submit_line_p50_us", us)
        row("submit → task:complete, p50", lat, "submit_complete_p50_us", us)
        row("… p99", lat, "submit_complete_p99_us", us)
    if load:
        section("load")
        lines.append(f"| *load: {a.sessions} sessions, {a.clients} sockets, {a.rate} tasks/s for {a.window} s* | | | |")
        row("completed tasks/s (submitted, then drained)", load, "tasks_per_s", lambda v: f"{v:.2f}/s")
        row("tasks completed", load, "completed", lambda v: f"{v:.0f}")
        row("submit → task:complete, p50 (all)", load, "p50_ms", ms)
        row("… p99 (all; the first task of a session starts its CLI)", load, "p99_ms", ms)
        row("… p99 (CLI already running)", load, "warm_p99_ms", ms)
        row("server CPU, share of one core", load, "cpu_pct", lambda v: f"{v:.0f} %")
        row("sessions created/s (POST /v1/sessions, one client)", load, "create_per_s", rate)
        row("server RSS at start", load, "rss_start_kb", mb)
        row("… with the sessions and sockets", load, "rss_ready_kb", mb)
        row("… peak", load, "rss_peak_kb", mb)
    for cost in sorted({r["cost"] for r in logins}, reverse=True):
        rs = [r for r in logins if r["cost"] == cost]
        section(f"logins at cost {cost}")
        lines.append(f"| *auth: server on one core, {a.login_clients} login clients, scrypt cost {cost}* | | | |")
        row(f"logins/s (N = 2^{cost})", rs, "per_s", rate)
        row("… per second of server CPU", rs, "per_cpu_s", rate)
        row("meanwhile, one GET /v1/agents every 20 ms: p50", rs, "probe_p50_ms", ms)
        row("… p99", rs, "probe_p99_ms", ms)
        row("… max", rs, "probe_max_ms", ms)
    if agents:
        section("GET /v1/agents")
        lines.append(f"| *auth: server on one core, {a.get_clients} client processes on the other, {a.users} users* | | | |")
        row("GET /v1/agents/s (JWT verify + rate limiter + store)", agents, "per_s", rate)
        row("… per second of server CPU", agents, "per_cpu_s", rate)
        row("server CPU, share of one core", agents, "server_cpu_pct", lambda v: f"{v:.0f} %")
        row("answers other than 200", agents, "not_200", lambda v: f"{v:.0f}")
    if jwts:
        section("JWT")
        lines.append(f"| *JWT micro benchmark (tests/bench/platform_jwt.cpp, one thread, {min(a.auth_seconds, 5):g} s each)* | | | |")
        row("HS256 verify/s", jwts, "verify_per_s", rate)
        row("HS256 sign/s", jwts, "sign_per_s", rate)
    return "\n".join(lines) + "\n"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--cmdline", default="tests/bench/platform_bench.py")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--tasks", type=int, default=200, help="latency: tasks a round")
    p.add_argument("--sessions", type=int, default=1000)
    p.add_argument("--clients", type=int, default=100)
    p.add_argument("--rate", type=float, default=10)
    p.add_argument("--window", type=float, default=30)
    p.add_argument("--users", type=int, default=40, help="load and GET /v1/agents: users (rate limit per user)")
    p.add_argument("--auth-seconds", type=float, default=10)
    p.add_argument("--max-logins", type=int, default=2000, help="per login client and round")
    p.add_argument("--login-clients", type=int, default=4)
    p.add_argument("--get-clients", type=int, default=4)
    p.add_argument("--timeout", type=float, default=120, help="deadline of every wait, seconds")
    p.add_argument("--skip", default="", help="comma-separated parts to leave out: latency,load,auth")
    a = p.parse_args()
    a.ccbridge = sut(a.build, "ccbridge")
    a.fake = os.path.join(a.build, "tests", "ccb_fake_cli")
    a.jwt_bench = sut(a.build, "tests/bench/ccb_platform_jwt")
    return a


def main():
    a = parse_args()
    skip = set(filter(None, a.skip.split(",")))
    lat, load, logins, agents, jwts = [], [], [], [], []
    with tempfile.TemporaryDirectory(prefix="ccb-platform-bench-") as work:
        work = os.path.realpath(work)
        for rnd in range(1, a.rounds + 1):
            parts = [("latency", lambda: lat.append(latency_round(a, work))),
                     ("load", lambda: load.append(load_round(a, work))),
                     ("auth", lambda: (logins.append(login_round(a, work, 15)), logins.append(login_round(a, work, 10)),
                                       agents.append(agents_round(a, work)), jwts.append(jwt_micro(a))))]
            for name, fn in parts:
                if name in skip:
                    continue
                fn()
                log(f"round {rnd} {name}: " + json.dumps({"latency": lat, "load": load, "auth": logins + agents}[name][-1]))
    finish(a.out, report(a, lat, load, logins, agents, jwts), a.cmdline)


if __name__ == "__main__":
    main()
