#!/usr/bin/env python3
"""Agent platform tools benchmark (issue 17; run it through tests/bench/platform_tools.sh): the `echo`
tool of ONE MCP test server (tests/support/mcp_test_server.cpp, over stdio) called
  ccbridge   POST /v1/tools/execute on `ccbridge serve --profiles platform` (the server configured with
             tools.mcpServers = {t: the test server}), by ccb_platform_tools http (C++, a keep-alive
             client, one thread and connection each; the server closes every plain HTTP connection after
             its answer, so each call connects anew, as the report counts; the client's CPU per call is
             reported to show that it is not the bottleneck)
  http-get   for reference, GET /v1/tools/servers on the same server and connections: the HTTP layer
             (parse, JWT, route, a small JSON answer) without the tool
  python     the official Python MCP SDK (PyPI `mcp`): stdio_client + ClientSession.call_tool, C asyncio
             tasks on one session
  c++        the core McpClient directly (ccb_platform_tools mcp, C threads on one client): the floor
             that the HTTP layer adds to
each sequentially (1 client) and with C concurrent clients, in R interleaved rounds. The same
arguments (one 64-byte string) in every row; every answer is checked. Reports calls/s, p50 and p99
latency and the CPU time per call of each process (client, ccbridge serve, MCP server), medians of
the rounds, the per-round values, commit, date, machine and load average, written to --out.
"""
import argparse
import asyncio
import http.client
import importlib.metadata
import json
import math
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import figure, finish, load_average, provenance, sut  # noqa: E402

TEXT = "ccbridge tools benchmark: a trivial echo of sixty-four bytes....."  # as in platform_tools.cpp
ARGS = {"text": TEXT}
SECRET = "bench-secret-0123456789abcdef0123456789"
PASSWORD = "bench-password"
IMPLS = [("ccbridge", "ccbridge POST /tools/execute"), ("http-get", "ccbridge GET /tools/servers"),
         ("python", f"Python SDK (mcp {importlib.metadata.version('mcp')})"), ("c++", "C++ McpClient")]


def pct(sorted_vals, p):
    return sorted_vals[min(len(sorted_vals) - 1, max(0, math.ceil(p / 100 * len(sorted_vals)) - 1))]


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_ticks():
    """(busy, total) clock ticks of all cores from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4], sum(v)  # idle and iowait are not busy


def our_cpu_seconds(srv):
    """The CPU time of this benchmark: this process, its ended children, the platform and its MCP server."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system + cpu_seconds(srv.proc.pid) + cpu_seconds(srv.mcp_pid)


def others_share(before, srv):
    """How busy the machine was with everything but this benchmark since `before`, in % of all cores."""
    (busy0, total0), ours0 = before
    busy1, total1 = cpu_ticks()
    hz = os.sysconf("SC_CLK_TCK")
    return max(0.0, 100 * ((busy1 - busy0) / hz - (our_cpu_seconds(srv) - ours0)) / ((total1 - total0) / hz))


def child_running(pid, exe):
    """The pid of the child of process pid that runs the program exe."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/children") as f:
            for child in f.read().split():
                if os.path.realpath(f"/proc/{child}/exe") == os.path.realpath(exe):
                    return int(child)
    raise RuntimeError(f"no child of {pid} runs {exe}")


# ---- the platform server ---------------------------------------------------------------------------

class Platform:
    """`ccbridge serve --profiles platform` with one user, the test server configured as MCP server "t"."""

    def __init__(self, a, work):
        db = os.path.join(work, "platform.db")
        subprocess.run([a.ccbridge, "users", "add", "bench@bench.example", "--password-stdin", "--permissions", "all",
                        "--password-cost", "10", "--db", db], input=PASSWORD + "\n", check=True, capture_output=True,
                       text=True, timeout=120)
        self.log = open(os.path.join(work, "serve.log"), "w")
        self.proc = subprocess.Popen(
            [a.ccbridge, "serve", "--port", "0", "--profiles", "platform", "--db", db, "--jwt-secret", SECRET,
             "--password-cost", "10", "--cli", a.fake, "--root", work, "--log-level", "warn",
             "--requests-per-hour", "100000000"],
            stdout=subprocess.PIPE, stderr=self.log, cwd=work, start_new_session=True)
        try:
            self.set_up(a, work)
        except BaseException:
            self.stop()
            raise

    def set_up(self, a, work):
        """Waits for the port, logs in, configures the MCP server and waits until it is online."""
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline().decode() if ready else "(nothing in 30 s)"
        if "listening on http://" not in line:
            with open(os.path.join(work, "serve.log")) as f:
                raise RuntimeError(f"ccbridge serve did not start: {line!r} {f.read()[-2000:]}")
        self.port = int(line.rsplit(":", 1)[1].split()[0])
        self.token = self.ok("POST", "/v1/auth/login", {"email": "bench@bench.example", "password": PASSWORD})["token"]
        tools = {"mcpServers": {"t": {"type": "stdio", "command": a.server, "args": []}}, "maxConcurrent": 256}
        self.ok("PUT", "/v1/config", {"section": "tools", "config": {"tools": tools}})
        deadline = time.monotonic() + 20
        while not self.mcp_online():
            if time.monotonic() > deadline:
                raise RuntimeError(f"MCP server t not online: {self.ok('GET', '/v1/tools/servers')}")
            time.sleep(0.05)
        self.mcp_pid = child_running(self.proc.pid, a.server)

    def ok(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Content-Type": "application/json"}
        if getattr(self, "token", None):
            headers["Authorization"] = f"Bearer {self.token}"
        conn.request(method, path, json.dumps(body) if body is not None else None, headers)
        r = conn.getresponse()
        data = json.loads(r.read())
        conn.close()
        if r.status != 200:
            raise RuntimeError(f"{method} {path}: {r.status} {data}")
        return data["data"]

    def mcp_online(self):
        return any(s["id"] == "t" and s["status"] == "online" for s in self.ok("GET", "/v1/tools/servers")["servers"])

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


# ---- the rows ---------------------------------------------------------------------------------------

def run_load(a, mode, calls, clients, extra, cpu_of=None):
    """ccb_platform_tools MODE, plus the CPU time per call of the processes in cpu_of ({field: pid})."""
    cpu_of = cpu_of or {}
    before = {k: cpu_seconds(p) for k, p in cpu_of.items()}
    out = subprocess.run([a.load, mode, "--calls", str(calls), "--clients", str(clients), "--warmup", str(a.warmup),
                          *extra], capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"ccb_platform_tools {mode}: {out.stderr.strip()}")
    r = json.loads(out.stdout)
    r.update({k: (cpu_seconds(p) - before[k]) * 1e6 / calls for k, p in cpu_of.items()})
    if "connects" in r:
        r["connects_per_call"] = r["connects"] / calls
    return r


def check(result):
    if result.is_error or len(result.content) != 1 or json.loads(result.content[0].text) != ARGS:
        raise RuntimeError(f"unexpected result {result!r}")


async def sdk_row(server, calls, clients, warmup):
    """The official SDK: one stdio session, `clients` asyncio tasks calling echo."""
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client
    async with stdio_client(StdioServerParameters(command=server)) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            for _ in range(warmup):
                check(await session.call_tool("echo", ARGS))
            mcp_pid = child_running(os.getpid(), server)
            lat = []

            async def client(n):
                for _ in range(n):
                    t0 = time.perf_counter()
                    check(await session.call_tool("echo", ARGS))
                    lat.append((time.perf_counter() - t0) * 1e6)
            shares = [calls // clients + (1 if i < calls % clients else 0) for i in range(clients)]
            cpu0, srv0, t0 = time.process_time(), cpu_seconds(mcp_pid), time.perf_counter()
            await asyncio.gather(*(client(n) for n in shares))
            seconds = time.perf_counter() - t0
            cpu, srv = time.process_time() - cpu0, cpu_seconds(mcp_pid) - srv0
    lat.sort()
    return {"calls": calls, "seconds": seconds, "per_s": calls / seconds, "p50_us": pct(lat, 50), "p99_us": pct(lat, 99),
            "p999_us": pct(lat, 99.9), "max_us": lat[-1], "cpu_us": cpu * 1e6 / calls, "server_cpu_us": srv * 1e6 / calls}


def one_round(a, srv):
    """{(impl, clients): result} for every row, in a fixed order."""
    http = ["--port", str(srv.port), "--token", srv.token]
    res = {}
    for c in (1, a.clients):
        res[("http-get", c)] = run_load(a, "http", a.calls, c, http + ["--get", "/v1/tools/servers"],
                                        {"ccbridge_cpu_us": srv.proc.pid})
        res[("ccbridge", c)] = run_load(a, "http", a.calls, c, http,
                                        {"ccbridge_cpu_us": srv.proc.pid, "server_cpu_us": srv.mcp_pid})
        res[("python", c)] = asyncio.run(sdk_row(a.server, a.calls, c, a.warmup))
        res[("c++", c)] = run_load(a, "mcp", a.calls, c, ["--server", a.server])
        print(f"  clients {c}: " + ", ".join(f"{k[0]} {v['per_s']:.0f}/s" for k, v in res.items() if k[1] == c),
              file=sys.stderr)
    return res


# ---- the report -------------------------------------------------------------------------------------

MEASURES = [("calls/s", "per_s", "{:.0f}"), ("p50 µs", "p50_us", "{:.0f}"), ("p99 µs", "p99_us", "{:.0f}"),
            ("client CPU µs/call", "cpu_us", "{:.1f}"), ("ccbridge serve CPU µs/call", "ccbridge_cpu_us", "{:.1f}"),
            ("MCP server CPU µs/call", "server_cpu_us", "{:.1f}"),
            ("TCP connects per call", "connects_per_call", "{:.2f}")]


def median_of(rounds, key, field):
    vals = [r[key][field] for r in rounds if field in r[key]]
    return statistics.median(vals) if vals else None


def table(a, rounds):
    lines = ["| Measure | " + " | ".join(name for _, name in IMPLS) + " | ccbridge ÷ Python | ccbridge ÷ C++ |",
             "|---|" + "---:|" * (len(IMPLS) + 2)]
    for c in (1, a.clients):
        for label, field, fmt in MEASURES:
            meds = {k: median_of(rounds, (k, c), field) for k, _ in IMPLS}
            if all(v is None for v in meds.values()):
                continue
            for k, name in IMPLS:
                if meds[k] is not None:
                    figure(f"{label}, {c} client{'s' if c > 1 else ''}: {name}", [r[(k, c)].get(field) for r in rounds])
            cells = [fmt.format(meds[k]) if meds[k] is not None else "" for k, _ in IMPLS]
            ratios = ["", ""]
            if field == "per_s":
                ratios = [f"{meds['ccbridge'] / meds[o]:.2f}" for o in ("python", "c++")]
            elif field in ("p50_us", "p99_us"):
                ratios = [f"{meds[o] / meds['ccbridge']:.2f}" for o in ("python", "c++")]
            lines.append(f"| {label}, {c} client{'s' if c > 1 else ''} | " + " | ".join(cells + ratios) + " |")
    return lines


def per_round(a, rounds):
    lines = ["| Row | clients | " + " | ".join(f"round {i + 1}: calls/s, p50, p99 µs" for i in range(len(rounds))) + " |",
             "|---|---:|" + "---|" * len(rounds)]
    for c in (1, a.clients):
        for k, name in IMPLS:
            cells = [f"{r[(k, c)]['per_s']:.0f}, {r[(k, c)]['p50_us']:.0f}, {r[(k, c)]['p99_us']:.0f}" for r in rounds]
            lines.append(f"| {name} | {c} | " + " | ".join(cells) + " |")
    return lines


def report(a, rounds, loads):
    return [f"# Agent platform: tools/execute of a trivial MCP tool ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
            "", *provenance(a.cmdline), f"- Load average before each round, and (others N %) how busy all cores were with everything "
            f"but this benchmark during it: {'; '.join(loads)}",
            f"- Python {sys.version.split()[0]}, mcp {importlib.metadata.version('mcp')}",
            f"- Work: `echo` of one ccb_mcp_test_server over stdio with arguments {json.dumps(ARGS)}; "
            f"{a.calls} checked calls per row and round, after {a.warmup} untimed ones; {a.rounds} interleaved rounds; "
            f"concurrent rows: {a.clients} clients (C++ threads on keep-alive connections or on one McpClient, "
            "asyncio tasks on one SDK session)",
            "- ccbridge rows: ccb_platform_tools http (C++) against `ccbridge serve --profiles platform`, "
            "tools.maxConcurrent 256; the server closes each plain HTTP connection after its answer, so every "
            "call includes a TCP connect; the GET row is the same server's HTTP layer without the tool",
            "", "Medians of the rounds. Ratios: above 1 means ccbridge is better (calls/s ccbridge ÷ other, "
            "latency other ÷ ccbridge):", "", *table(a, rounds), "", "Per round:", "", *per_round(a, rounds), "",
            "Every value of every round (CPU times from /proc in clock ticks of 10 ms, so rough; connects and "
            "retries are the HTTP client's):", "", "```", *raw(rounds), "```", ""]


def raw(rounds):
    return [json.dumps({"round": i + 1, "row": k, "clients": c, **{f: round(v, 2) for f, v in r.items()}})
            for i, res in enumerate(rounds) for (k, c), r in res.items()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cmdline", default="")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--calls", type=int, default=10000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=200)
    a = ap.parse_args()
    a.ccbridge = sut(a.build, "ccbridge")
    a.fake = os.path.join(a.build, "tests", "ccb_fake_cli")
    a.server = os.path.join(a.build, "tests", "ccb_mcp_test_server")
    # The load client is also the C++ McpClient row, so it is the library's too.
    a.load = sut(a.build, "tests/bench/ccb_platform_tools")
    with tempfile.TemporaryDirectory(prefix="ccb-tools-bench-") as work:
        srv = Platform(a, work)
        try:
            rounds, loads = [], []
            for i in range(a.rounds):
                load = load_average()
                print(f"round {i + 1}/{a.rounds} (load {load})", file=sys.stderr)
                before = cpu_ticks(), our_cpu_seconds(srv)
                rounds.append(one_round(a, srv))
                loads.append(f"{load} (others {others_share(before, srv):.0f} %)")
        finally:
            srv.stop()
    finish(a.out, "\n".join(report(a, rounds, loads)), a.cmdline)


if __name__ == "__main__":
    main()
