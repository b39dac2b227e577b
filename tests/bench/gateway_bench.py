#!/usr/bin/env python3
"""Gateway benchmark: the same sdk-ws mapping (seed 003) served by `ccbridge serve`, by ccbridge's
Python package (EnhancedClaudeWebSocketServer all-native, and its server.app: the FastAPI app under
uvicorn relaying to the engine), by a Python FastAPI/uvicorn server over claude-agent-sdk (the seed's
original design, on the official SDK), and by a Node `ws` server over the TypeScript SDK, all driving
the same fake CLI (one CLI process per connection), measured by the same C++ WebSocket client
(ccb_ws_load) in one run. Run it through tests/bench/gateway.sh, which builds and installs what it needs.

For each implementation, R interleaved rounds of:
  relay-1     1 client, one query of N assistant messages (1.35 KB) written as fast as the fake can
  relay-100   100 clients at once, N/100 messages each
  latency     1 client, 5,000 messages at 1,000 messages/s: p50/p99 from the fake CLI writing a
              line (CLOCK_REALTIME stamp in the text) to the client receiving its frame
  memory      server RSS (the server process only, not the CLIs) idle, with 100 connected idle
              clients, and with 100 idle conversations (one query done on each, CLI still up)
and for ccbridge (the opcode profile; the peers have no fan-out):
  fanout-live   100 clients attached to one run of N/5 messages before it starts (the fake CLI waits
                for a file that ws_load creates once every client is attached), reading it live
  fanout-replay 100 clients attaching to such a run after it ended (one client read it to its end
                first): the replay from the run's memory
Checks, each of which fails the benchmark (exit 1, after the report is written) when it does not hold:
every run completes with every message; every client of a run got the same frames, and every server
the same frames as the others for the same workload (ws_load's hash of every frame after
connection_established, the "t=" stamps zeroed), so the servers did the same work whatever their
code does inside; fanout-live: every client's first frame came after the run's start and before the
CLI wrote its last line (the clients read live, not a replay); fanout-replay: every client's first
frame came after the CLI's last line; the FastAPI peer runs on uvloop and httptools (its GET /runtime).
Once a round, the host's guard loop (lib/process/guard.cpp, run by /bin/sh as the library runs
it) on tests/server/test_guard_script.py's churn: 1,000 process groups live, 8,000 removals and adds.
Prints a Markdown report (also written to --out): the table, the checks, the command, commit, date and
machine, the Python servers' package versions, and every round's raw values.

--smoke: the least that still runs every row (10 clients instead of 100, 500 latency messages, short
memory waits); for CI, not for figures.

--baseline-build DIR (gateway.sh --baseline COMMIT) adds the ccbridge of an older commit's build as one
more implementation (sdk-ws and fan-out), run in the same rounds with the two ccbridges swapping places
every other round; the report gains "this ÷ baseline" (ratio of medians and the range of the per-round
ratios), a per-round table, and both commits. --skip-peers leaves out every Python and Node server.
"""
import argparse
import importlib.metadata
import importlib.util
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

from bench_common import git, load_average, machine

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# What the Python servers need; uvicorn's defaults (loop and http "auto") then run on uvloop and httptools.
PY_MODULES = ("ccbridge", "fastapi", "uvicorn", "uvloop", "httptools", "websockets", "claude_agent_sdk")
RESULT = ('emit {"type":"result","subtype":"success","is_error":false,"duration_ms":1,"duration_api_ms":1,'
          '"num_turns":1,"result":"done","session_id":"fake-session","total_cost_usd":0.001,'
          '"usage":{"input_tokens":1,"output_tokens":1}}')


def script(n, rate):
    return f"wait_user\ntimed_text {n} {rate} 1350\n{RESULT}\nwait_eof"


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Impl:
    def __init__(self, key, name, cmd, env_extra, cwd):
        self.key, self.name, self.cmd, self.env_extra, self.cwd = key, name, cmd, env_extra, cwd

    def start(self, fake_script):
        env = dict(os.environ, CCB_FAKE_SCRIPT_TEXT=fake_script, **self.env_extra)
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                                     cwd=self.cwd, start_new_session=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            line = self.proc.stdout.readline().decode()
            if not line:
                break
            if line.startswith("PORT "):
                self.port = int(line.split()[1])
                return
            if "listening on http://" in line:
                self.port = int(line.rsplit(":", 1)[1].split()[0])
                return
        raise RuntimeError(f"{self.name} did not start")

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(20)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()


def run_load(load_bin, args, timeout=600):
    """Runs ws_load; its last stdout line (JSON) with "ok" set from its exit status. A run that does not
    end within timeout seconds is a failed one ({"ok": false, "timeout": true})."""
    try:
        out = subprocess.run([load_bin, *args], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"ok": False, "timeout": True, "messages": 0, "seconds": timeout}
    line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else "{}"
    r = json.loads(line)
    r["ok"] = out.returncode == 0
    return r


def load(load_bin, port, clients, extra=(), timeout=600):
    return run_load(load_bin, ["--url", f"ws://127.0.0.1:{port}/ws", "--clients", str(clients), *extra], timeout)


class Sizes:
    """The workload of each task; --smoke shrinks it to the least that still runs every row."""

    def __init__(self, a):
        n = a.messages
        self.n = n
        self.many = 10 if a.smoke else 100              # clients of relay-many, fan-out and memory
        self.per_many = max(n // 100, 100 if a.smoke else 1000)
        self.latency_n = 500 if a.smoke else 5000
        # fan-out: well over what the server holds for its clients (4 MB), so that the CLI is still writing
        # while they read
        self.fanout_n = max(n // 5, 10000)
        # memory: seconds for RSS to settle before a reading, idle/hold seconds of the clients
        self.settle, self.idle, self.hold = (0.3, 1, 1) if a.smoke else (1.0, 3, 3)
        self.relay_many = f"relay-{self.many}"


def execute(impl):
    """Starts one opcode run (POST /claude/execute); its WebSocket URL."""
    body = json.dumps({"prompt": "bench", "project_path": impl.cwd}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{impl.port}/claude/execute", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return f"ws://127.0.0.1:{impl.port}" + json.loads(r.read())["websocket_url"]


def fanout_live(impl, load_bin, clients, start_file, timeout=600):
    """`clients` subscribers attached to one opcode run before it starts: the run's CLI waits for
    start_file, which ws_load creates once every client is attached. Valid if every client's first
    frame came after that start and before the CLI wrote its last line (they read live)."""
    r = run_load(load_bin, ["--attach", "--url", execute(impl), "--clients", str(clients), "--start-file", start_file],
                 timeout)
    if r.get("ok"):
        first, last_line = r["first_frame_us"], r["last_line_us"]
        if not 0 < first[0] <= first[1] < last_line:
            r["invalid"] = (f"not live: first frames {first[0]:,.0f}–{first[1]:,.0f} µs after the start, the CLI's "
                            f"last line at {last_line:,.0f} µs")
    return r


def fanout_replay(impl, load_bin, clients, timeout=600):
    """One opcode run read to its end by one client, then `clients` subscribers attaching to it: the replay
    from memory. Valid if every client's first frame came after the CLI wrote its last line."""
    url = execute(impl)
    first = run_load(load_bin, ["--attach", "--url", url, "--clients", "1"], timeout)
    if not first.get("ok"):
        first["invalid"] = "the run did not end (its first client failed)"
        return first
    r = run_load(load_bin, ["--attach", "--url", url, "--clients", str(clients)], timeout)
    if r.get("ok") and not r["first_frame_us"][0] > r["last_line_us"]:
        r["invalid"] = (f"not a replay: a first frame at {r['first_frame_us'][0]:,.0f} µs, the CLI's last line at "
                        f"{r['last_line_us']:,.0f} µs")
    return r


def peer_runtime(impl):
    """What the FastAPI peer runs on (its GET /runtime), and whether that is uvloop and httptools."""
    impl.start(script(10, 0))
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{impl.port}/runtime", timeout=30) as r:
            rt = json.loads(r.read())
    finally:
        impl.stop()
    return rt, rt["loop"] == "uvloop.Loop" and rt["http"] == "HttpToolsProtocol"


def measure_memory(impl, load_bin, sizes):
    """(idle RSS, per connected client, per idle conversation), KB, server process only."""
    clients = sizes.many
    impl.start(script(10, 0))
    try:
        time.sleep(sizes.settle)
        base = rss_kb(impl.proc.pid)
        p = subprocess.Popen([load_bin, "--url", f"ws://127.0.0.1:{impl.port}/ws", "--clients", str(clients),
                              "--idle-seconds", str(sizes.idle)], stdout=subprocess.PIPE, text=True)
        p.stdout.readline()  # connected
        time.sleep(sizes.settle)
        connected = rss_kb(impl.proc.pid)
        p.wait(30)
        p = subprocess.Popen([load_bin, "--url", f"ws://127.0.0.1:{impl.port}/ws", "--clients", str(clients),
                              "--hold-seconds", str(sizes.hold)], stdout=subprocess.PIPE, text=True)
        p.stdout.readline()  # every query answered; conversations now idle
        time.sleep(sizes.settle)
        sessions = rss_kb(impl.proc.pid)
        p.wait(60)
        return base, (connected - base) / clients, (sessions - base) / clients
    finally:
        impl.stop()


def guard_loop(rounds):
    """Seconds the guard loop takes for the churn of tests/server/test_guard_script.py, one value a round
    (each run also checks that exactly the groups still listed are killed)."""
    spec = importlib.util.spec_from_file_location("guard_script", os.path.join(ROOT, "tests", "server", "test_guard_script.py"))
    g = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(g)
    lines, live = g.churn()
    out = []
    for _ in range(rounds):
        t0 = time.monotonic()
        assert g.run_guard(lines) == live
        out.append(time.monotonic() - t0)
    return out, len(lines)


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--node-prefix", help="the peers' npm prefix (required unless --skip-peers)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--messages", type=int, default=100000)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cmdline", default="tests/bench/gateway.sh")
    ap.add_argument("--baseline-build", help="a build dir of an older commit: its ccbridge is measured too")
    ap.add_argument("--baseline-label", help="the baseline's commit, for the report")
    ap.add_argument("--skip-peers", action="store_true", help="leave out the Python and Node servers")
    ap.add_argument("--smoke", action="store_true", help="the smallest sizes that run every row (CI)")
    a = ap.parse_args()
    if not a.skip_peers and not a.node_prefix:
        ap.error("--node-prefix is required unless --skip-peers")
    if a.baseline_build and not a.baseline_label:
        ap.error("--baseline-build needs --baseline-label")
    missing = [m for m in PY_MODULES if not a.skip_peers and importlib.util.find_spec(m) is None]
    if missing:
        ap.error(f"{sys.executable} lacks {', '.join(missing)} (gateway.sh installs them)")
    return a


def serve(key, name, binary, profile, fake, work, *extra):
    return Impl(key, name, [binary, "serve", "--port", "0", "--profiles", profile, "--cli", fake, "--pass-env", "CCB_*",
                            "--root", work, "--log-level", "warn", *extra], {}, work)


def make_impls(a, fake, work):
    """(sdk-ws implementations, {key: opcode server}); this tree's ccbridge first, then the baseline's."""
    builds = [("ccbridge", "ccbridge serve (sdk-ws)", a.build)]
    if a.baseline_build:
        builds.append(("baseline", f"ccbridge serve (sdk-ws) at baseline {a.baseline_label}", a.baseline_build))
    impls = [serve(key, name, os.path.join(b, "ccbridge"), "sdk-ws", fake, work, "--max-sessions", "1000")
             for key, name, b in builds]
    opcodes = {key: serve(key + "-opcode", "ccbridge serve (opcode)", os.path.join(b, "ccbridge"), "opcode", fake, work)
               for key, _, b in builds}
    if not a.skip_peers:
        py_server = [sys.executable, os.path.join(ROOT, "tests/bench/py_ccbridge_server.py"), "--cli", fake, "--root", work]
        impls += [
            Impl("py-native", "ccbridge Python, native", py_server, {}, work),
            Impl("py-app", "ccbridge Python, server.app (FastAPI + uvicorn)", py_server + ["--app"], {}, work),
            Impl("python", "FastAPI + uvicorn + claude-agent-sdk (Python)",
                 [sys.executable, os.path.join(ROOT, "tests/bench/peers/py_sdkws_server.py"), "--cli", fake], {}, work),
            Impl("node", "Node ws + @anthropic-ai/claude-agent-sdk",
                 ["node", os.path.join(ROOT, "tests/bench/peers/node_sdkws_server.mjs"), "--cli", fake],
                 {"CCB_BENCH_NODE_PREFIX": a.node_prefix}, work),
        ]
    return impls, opcodes


def in_round_order(rnd, items):
    """With a baseline, this tree and the baseline swap places every other round (the first two items)."""
    items = list(items)
    if rnd % 2 == 0 and len(items) > 1 and items[1].key.startswith("baseline"):
        items[0], items[1] = items[1], items[0]
    return items


def run_rounds(a, sizes, impls, opcodes, load_bin, work):
    n, many = sizes.n, sizes.many
    runs = {}

    def record(task, key, r, expected, rnd):
        r["expected"], r["round"] = expected, rnd
        runs.setdefault((task, key), []).append(r)
        print(f"round {rnd}: {key} {task}: {json.dumps(r)}", file=sys.stderr, flush=True)

    for rnd in range(1, a.rounds + 1):
        for impl in in_round_order(rnd, impls):
            for task, clients, per, rate in (("relay-1", 1, n, 0), (sizes.relay_many, many, sizes.per_many, 0),
                                             ("latency", 1, sizes.latency_n, 1000)):
                impl.start(script(per, rate))
                try:
                    r = load(load_bin, impl.port, clients)
                finally:
                    impl.stop()
                record(task, impl.key, r, clients * per, rnd)
        # Fan-out (ccbridge only: the peers implement sdk-ws, one conversation per connection).
        run = script(sizes.fanout_n, 0).replace("wait_eof", "exit 0")
        for opcode in in_round_order(rnd, opcodes.values()):
            key = opcode.key[:-len("-opcode")]
            start_file = os.path.join(work, f"fanout-start-{key}-{rnd}")
            if os.path.exists(start_file):
                os.unlink(start_file)
            opcode.start(run.replace("wait_user\n", f"wait_user\nwait_file {start_file}\n"))
            try:
                r = fanout_live(opcode, load_bin, many, start_file)
            finally:
                opcode.stop()
            record("fanout-live", key, r, many * sizes.fanout_n, rnd)
            opcode.start(run)
            try:
                r = fanout_replay(opcode, load_bin, many)
            finally:
                opcode.stop()
            record("fanout-replay", key, r, many * sizes.fanout_n, rnd)
    return runs


def same_frames(runs):
    """The frames check: within each run every client got the same frames, and for each workload (task)
    every server sent the same frames in every round. Returns (report lines, passed)."""
    lines, passed = [], True
    # Live and replayed fan-out are one workload: a replay must hold what the live clients got.
    workload = lambda t: "fan-out (live and replay)" if t.startswith("fanout") else t
    for task in dict.fromkeys(workload(t) for t, _ in runs):
        by_hash = {}
        for (t, key), rs in runs.items():
            if workload(t) != task:
                continue
            for r in rs:
                if not r.get("ok"):
                    continue  # failed already
                h = r["frames_hash"] if r.get("hashes_agree") else "clients differ"
                by_hash.setdefault(h, []).append(f"{key} {t} round {r['round']}" if t != task else f"{key} round {r['round']}")
        if len(by_hash) == 1 and "clients differ" not in by_hash:
            (h, who), = by_hash.items()
            servers = sorted({w.split(" ")[0] for w in who})
            lines.append(f"{task}: the same frames from {', '.join(servers)} ({len(who)} runs, hash {h})")
        elif by_hash:
            passed = False
            lines.append(f"{task}: **frames differ**: " + "; ".join(f"{h}: {', '.join(w)}" for h, w in by_hash.items()))
    return lines, passed


def provenance(cmdline):
    """The report's first lines: the command, the commit (and whether the tree differs), the machine."""
    dirty = " with uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else ""
    return [f"- Command: `{cmdline}`",
            f"- Commit: {git('rev-parse', '--short', 'HEAD')}{dirty} (\"{git('log', '-1', '--format=%s')[:90]}\")",
            f"- Machine: {machine()}"]


def python_versions():
    """The Python servers' interpreter and packages, for the report."""
    def version(name):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "missing"
    names = ("ccbridge", "fastapi", "starlette", "uvicorn", "uvloop", "httptools", "websockets", "claude-agent-sdk")
    return f"Python {sys.version.split()[0]}; " + ", ".join(f"{n} {version(n)}" for n in names)


class Report:
    """The Markdown table. Ratio columns compare this tree's ccbridge serve with the baseline and the peers,
    and the Python package's two servers with the FastAPI peer; above 1 always means the first named is
    better (throughput first ÷ other, latency and memory other ÷ first)."""

    def __init__(self, a, sizes, impls, runs, mem, load_before, checks, guard):
        self.a, self.sizes, self.impls, self.runs, self.mem, self.load_before = a, sizes, impls, runs, mem, load_before
        self.checks = checks
        self.guard = guard  # (seconds a round, lines a run)
        self.keys = [i.key for i in impls]
        # (header, first, other)
        self.ratios = [("this ÷ baseline", "ccbridge", "baseline")] if a.baseline_build else []
        if not a.skip_peers:
            self.ratios += [("ccbridge ÷ Python", "ccbridge", "python"), ("ccbridge ÷ Node", "ccbridge", "node"),
                            ("Python native ÷ Python", "py-native", "python"),
                            ("server.app ÷ Python", "py-app", "python")]
        self.lines = ["| " + " | ".join(["Measure"] + [i.name for i in impls] + [h for h, _, _ in self.ratios]) + " |",
                      "|---|" + "---:|" * (len(impls) + len(self.ratios))]

    def ok(self, task, key):
        """Per-round values of this run: the result, or None where not every message arrived or the round
        was not what it claims to measure (fan-out: "invalid")."""
        return [r if r["ok"] and r["messages"] >= r["expected"] and not r.get("invalid") else None
                for r in self.runs.get((task, key), [])]

    def med(self, task, key, f):
        vals = [f(r) for r in self.ok(task, key) if r is not None]
        return (statistics.median(vals), len(vals)) if vals else (None, 0)

    def cell(self, v, k, fmt):
        return (fmt(v) + (f" ({k}/{self.a.rounds})" if k != self.a.rounds else "")) if v is not None else "failed"

    @staticmethod
    def quotient(x, y, higher_better):
        if x is None or y is None or y == 0 or x == 0:
            return None
        return x / y if higher_better else y / x

    def per_round(self, task, f, higher_better):
        """this ÷ baseline for each round, from the two runs of that round (None where either failed)."""
        pairs = zip(self.ok(task, "ccbridge"), self.ok(task, "baseline"))
        return [self.quotient(f(x), f(y), higher_better) if x and y else None for x, y in pairs]

    def ratio_cell(self, first, other, meds, higher_better, task=None, f=None):
        q = self.quotient(meds.get(first), meds.get(other), higher_better)
        if other != "baseline":
            return f"{q:.1f}×" if q is not None else "–"
        text = f"{q:.2f}×" if q is not None else "–"
        rounds = [x for x in self.per_round(task, f, higher_better) if x is not None] if task else []
        return text + (f" ({min(rounds):.2f}–{max(rounds):.2f})" if len(rounds) > 1 else "")

    def row(self, label, task, f, fmt, higher_better=True):
        vals = {k: self.med(task, k, f) for k in self.keys}
        meds = {k: v for k, (v, _) in vals.items()}
        cells = [self.cell(v, n, fmt) for v, n in vals.values()]
        ratios = [self.ratio_cell(m, o, meds, higher_better, task, f) for _, m, o in self.ratios]
        self.lines.append(f"| {label} | " + " | ".join(cells + ratios) + " |")

    def fanout_row(self, label, task, msgs, mbs):
        vals = {k: self.med(task, k, msgs) for k in ("ccbridge", "baseline") if k in self.keys}
        if all(v is None for v, _ in vals.values()) and not any(self.runs.get((task, k)) for k in vals):
            return
        cells = [self.cell(vals[k][0], vals[k][1], lambda v: f"{v:,.0f}") + f" ({self.med(task, k, mbs)[0]:,.1f} MB/s)"
                 if k in vals and vals[k][0] is not None else ("failed" if k in vals else "–") for k in self.keys]
        meds = {k: v for k, (v, _) in vals.items()}
        ratios = [self.ratio_cell(m, o, meds, True, task, msgs) if o == "baseline" else "–"
                  for _, m, o in self.ratios]
        self.lines.append(f"| {label} | " + " | ".join(cells + ratios) + " |")

    def memory_row(self, label, idx, fmt):
        cells = [fmt(self.mem[k][idx]) for k in self.keys]
        meds = {k: self.mem[k][idx] for k in self.keys}
        ratios = [self.ratio_cell(m, o, meds, False) if o == "baseline" else "–" for _, m, o in self.ratios]
        self.lines.append(f"| {label} | " + " | ".join(cells + ratios) + " |")

    def table(self):
        msgs = lambda r: r["messages"] / r["seconds"]
        mbs = lambda r: r["bytes"] / 1e6 / r["seconds"]
        self.row("relay, 1 client: messages/s", "relay-1", msgs, lambda v: f"{v:,.0f}")
        self.row("relay, 1 client: MB/s", "relay-1", mbs, lambda v: f"{v:,.1f}")
        many, rm = self.sizes.many, self.sizes.relay_many
        self.row(f"relay, {many} clients: messages/s (all clients)", rm, msgs, lambda v: f"{v:,.0f}")
        self.row(f"relay, {many} clients: MB/s", rm, mbs, lambda v: f"{v:,.1f}")
        self.fanout_row(f"fan-out, live: {many} clients attached before the run starts (opcode): messages/s delivered "
                        "(all clients)", "fanout-live", msgs, mbs)
        self.fanout_row(f"fan-out, replay: {many} clients attaching after the run ended (opcode): messages/s delivered "
                        "(all clients)", "fanout-replay", msgs, mbs)
        self.row("latency at 1,000 msgs/s: p50", "latency", lambda r: r["p50_us"], lambda v: f"{v / 1000:.2f} ms", False)
        self.row("latency at 1,000 msgs/s: p99", "latency", lambda r: r["p99_us"], lambda v: f"{v / 1000:.2f} ms", False)
        self.row("relay, 1 client, saturated: p99", "relay-1", lambda r: r["p99_us"], lambda v: f"{v / 1000:.1f} ms", False)
        self.memory_row("server RSS idle", 0, lambda v: f"{v / 1024:.1f} MB")
        self.memory_row("RSS per connected idle client", 1, lambda v: f"{v:.0f} KB")
        self.memory_row("RSS per idle conversation (server only)", 2, lambda v: f"{v:.0f} KB")
        return self

    def round_table(self):
        """Each round's pair of values, this tree / baseline, and their quotient."""
        rows = (("relay, 1 client: messages/s", "relay-1", lambda r: r["messages"] / r["seconds"], "{:,.0f}", True),
                (f"relay, {self.sizes.many} clients: messages/s", self.sizes.relay_many,
                 lambda r: r["messages"] / r["seconds"], "{:,.0f}", True),
                (f"fan-out, live, {self.sizes.many} clients (opcode): messages/s", "fanout-live",
                 lambda r: r["messages"] / r["seconds"], "{:,.0f}", True),
                (f"fan-out, replay, {self.sizes.many} clients (opcode): messages/s", "fanout-replay",
                 lambda r: r["messages"] / r["seconds"], "{:,.0f}", True),
                ("latency at 1,000 msgs/s: p50 (µs)", "latency", lambda r: r["p50_us"], "{:,.0f}", False),
                ("latency at 1,000 msgs/s: p99 (µs)", "latency", lambda r: r["p99_us"], "{:,.0f}", False),
                ("relay, 1 client, saturated: p99 (µs)", "relay-1", lambda r: r["p99_us"], "{:,.0f}", False))
        out = ["| Per round: this / baseline (this ÷ baseline) | "
               + " | ".join(f"round {i}" for i in range(1, self.a.rounds + 1)) + " |",
               "|---|" + "---:|" * self.a.rounds]
        for label, task, f, fmt, hb in rows:
            pairs = zip(self.ok(task, "ccbridge"), self.ok(task, "baseline"), self.per_round(task, f, hb))
            cells = [(fmt.format(f(x)) if x else "failed") + " / " + (fmt.format(f(y)) if y else "failed")
                     + (f" ({q:.2f}×)" if q is not None else "") for x, y, q in pairs]
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        return out

    def notes(self):
        a, n, z = self.a, self.a.messages, self.sizes
        both = f"this tree and the baseline {a.baseline_label} swap places every other round; " if a.baseline_build else ""
        ratios = ("" if not self.ratios else
                  "Ratios: throughput first ÷ other (ccbridge serve, or one of the Python package's servers, ÷ the "
                  "peer); latency and memory: lower is better, ratio other ÷ first."
                  if not a.baseline_build else
                  "Ratios: above 1 means this tree is better (throughput this ÷ other; latency and memory: other ÷ "
                  "this); this ÷ baseline is the ratio of the medians, in brackets the lowest and highest of the "
                  "per-round ratios (each round's two runs are neighbours and share that round's noise).")
        count = {1: "the one server", 2: "both"}.get(len(self.impls), f"all {len(self.impls)}")
        out = [f"- {a.rounds} rounds, interleaved; {both}medians over rounds; messages of 1.35 KB (N = {n:,} for one client, "
               f"{z.per_many:,} per client for {z.many}, their CLI start-ups included; latency: {z.latency_n:,} messages; "
               f"fan-out: one opcode run of {z.fanout_n:,} messages read by {z.many} clients). A round counts only if "
               "every message arrived (and, for fan-out, if it was what its row says: see the checks)."
               + (" " + ratios if ratios else ""),
               "- Same fake CLI (tests/support/fake_cli.cpp `timed_text`) and the same client (tests/bench/ws_load.cpp, "
               f"plain sockets) for {count}; the servers run one at a time. Memory: VmRSS of the server process, "
               f"{z.many} clients.",
               "- Fan-out, live: the clients attach to the run before it starts (the fake CLI waits for a file that "
               "the client creates once all are attached; time from then to the last client's `complete`). Fan-out, "
               "replay: one client reads the run to its end, then the clients attach and get it from the run's memory "
               "(time from their first connect)."]
        if a.smoke:
            out.append("- **Smoke run** (--smoke): the smallest sizes, to check that every row runs; not figures.")
        if a.skip_peers:
            out.append("- Peers skipped (--skip-peers): the Python and Node servers, and ccbridge's Python package, were not measured.")
        else:
            out.append("- ccbridge Python: the package's EnhancedClaudeWebSocketServer (installed from this tree with "
                       "`pip install '.[websocket]'`), started by tests/bench/py_ccbridge_server.py: native = without "
                       "server.app (the C++ engine's own listener); server.app = the seed's http middleware added, so "
                       "the FastAPI app is served by uvicorn on a thread of the same process and relays each "
                       "connection to the engine's loopback listener there. Its memory is that one process (Python, "
                       "uvicorn and the engine). Both FastAPI servers run uvicorn's defaults (loop and http \"auto\", as "
                       "`uvicorn[standard]` deploys: uvloop and httptools when installed; the peer's GET /runtime shows "
                       f"what it ran on, in the checks below). {python_versions()}.")
            out.append("- Backpressure: ccbridge holds the CLI back while a client's socket is full; the FastAPI peer "
                       "awaits each send (uvicorn's websockets protocol drains) and the Python SDK's message queue is "
                       "bounded (100); the Node peer stops reading the CLI's stdout while `ws`'s bufferedAmount is over "
                       "1 MiB, until the send callback of the frame that crossed it.")
        if a.baseline_build:
            dirty = " with uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else ""
            subject = git("log", "-1", "--format=%s", a.baseline_label)
            subject = subject if len(subject) <= 90 else subject[:89] + "…"
            out.append(f"- This tree: {git('rev-parse', '--short', 'HEAD')}{dirty}; baseline: {a.baseline_label} "
                       f"(\"{subject}\"), built side by side with the "
                       f"same flags; machine: {machine()}.")
        out.append(f"- Load average (1, 5, 15 min) before the first round: {self.load_before}; after the last: "
                   f"{load_average()} (2 cores; anything above what the benchmark itself adds is other work).")
        out.append(f"- Command: `{a.cmdline}`; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        return out

    def raw(self):
        """Every run's values as measured (the JSON line of ws_load), round by round, then the memory."""
        out = ["## Every round's values", ""]
        for rnd in range(1, self.a.rounds + 1):
            for (task, key), rs in self.runs.items():
                out += [f"- round {rnd}, {key}, {task}: `{json.dumps(r)}`" for r in rs if r.get("round") == rnd]
        out += [f"- memory, {k}: idle {v[0]:,} KB; per connected idle client {v[1]:.1f} KB; per idle conversation "
                f"{v[2]:.1f} KB" for k, v in self.mem.items()]
        return out

    def markdown(self):
        title = f"# Gateway benchmark (seed 003, sdk-ws), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        lines = [title, ""] + provenance(self.a.cmdline) + [""] + self.lines + [""] + self.notes()
        lines += ["", "## Checks", ""] + [f"- {c}" for c in self.checks]
        if self.a.baseline_build:
            lines += [""] + self.round_table()
        secs, n = self.guard
        med = statistics.median(secs)
        lines += ["", "## The host's guard loop", "",
                  f"- 1,000 process groups live, {n - 1000:,} removals and adds ({n:,} lines; "
                  f"tests/server/test_guard_script.py's churn): median {med:.3f} s, {med / n * 1e6:.1f} µs a line; "
                  "rounds: " + ", ".join(f"{x:.3f} s" for x in secs)]
        lines += [""] + self.raw()
        return "\n".join(lines) + "\n"


def main():
    a = parse_args()
    fake = os.path.join(a.build, "tests", "ccb_fake_cli")
    load_bin = os.path.join(a.build, "tests", "bench", "ccb_ws_load")
    work = os.path.join(a.build, "bench", "gateway-root")
    os.makedirs(work, exist_ok=True)
    impls, opcodes = make_impls(a, fake, work)
    sizes = Sizes(a)
    checks, passed = [], True
    for impl in impls:
        if impl.key == "python":
            rt, deployed = peer_runtime(impl)
            passed &= deployed
            checks.append(("" if deployed else "**FAILED**: ") + f"the FastAPI peer runs on loop {rt['loop']}, http "
                          f"{rt['http']}, ws {rt['ws']} (" + ", ".join(f"{k} {v}" for k, v in rt["versions"].items()) + ")")
    load_before = load_average()
    runs = run_rounds(a, sizes, impls, opcodes, load_bin, work)
    mem = {}
    for impl in impls:
        mem[impl.key] = measure_memory(impl, load_bin, sizes)
        print(f"memory {impl.key}: {mem[impl.key]}", file=sys.stderr, flush=True)
    guard = guard_loop(a.rounds)
    failed = [f"{key} {task} round {r['round']}: " + (r.get("invalid") or ("timed out" if r.get("timeout") else
              f"{r.get('messages', 0):,} of {r['expected']:,} messages, {r.get('errors', '?')} errors"))
              for (task, key), rs in runs.items() for r in rs
              if not (r["ok"] and r["messages"] >= r["expected"]) or r.get("invalid")]
    passed &= not failed
    checks += ([f"**FAILED**: {f}" for f in failed] if failed else
               ["every run completed with every message, every fan-out round was what its row says"])
    frames, same = same_frames(runs)
    passed &= same
    checks.append("Frames: every client of a run, and every server for the same workload, got the same frames "
                  "(ws_load's hash of every frame after connection_established, the `t=` stamps zeroed): the peers' "
                  "decoding and re-encoding of `content` gives the bytes ccbridge forwards." if same else
                  "**FAILED**, frames: the servers, or the clients of a run, did not all get the same frames.")
    checks += frames
    fan = [(key, r) for (task, key), rs in runs.items() if task == "fanout-live" for r in rs if r["ok"]]
    checks += [f"fan-out, live, {key} round {r['round']}: first frames {r['first_frame_us'][0] / 1e3:,.2f}–"
               f"{r['first_frame_us'][1] / 1e3:,.2f} ms after the start, last frames {r['last_frame_us'][0] / 1e3:,.2f}–"
               f"{r['last_frame_us'][1] / 1e3:,.2f} ms; the CLI wrote its first line at "
               f"{r['first_line_us'] / 1e3:,.2f} ms and its last at {r['last_line_us'] / 1e3:,.2f} ms" for key, r in fan]
    fan = [(key, r) for (task, key), rs in runs.items() if task == "fanout-replay" for r in rs if r["ok"]]
    checks += [f"fan-out, replay, {key} round {r['round']}: the CLI wrote its last line {-r['last_line_us'] / 1e3:,.2f} ms "
               f"before the clients' start; first frames {r['first_frame_us'][0] / 1e3:,.2f}–"
               f"{r['first_frame_us'][1] / 1e3:,.2f} ms after it" for key, r in fan]
    md = Report(a, sizes, impls, runs, mem, load_before, checks, guard).table().markdown()
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        f.write(md)
    sys.stdout.write(md)
    if not passed:
        print("gateway_bench: a check failed (see the report's Checks)", file=sys.stderr)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
