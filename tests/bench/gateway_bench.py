#!/usr/bin/env python3
"""Gateway benchmark: the same sdk-ws mapping (seed 003) served by `ccbridge serve`, by a Python
FastAPI/uvicorn server over claude-agent-sdk, and by a Node `ws` server over the TypeScript SDK,
all driving the same fake CLI, measured by the same C++ WebSocket client (ccb_ws_load) in one run.
Run it through tests/bench/gateway.sh, which builds and installs what it needs.

For each implementation, R interleaved rounds of:
  relay-1     1 client, one query of N assistant messages (1.35 KB) written as fast as the fake can
  relay-100   100 clients at once, N/100 messages each
  latency     1 client, 5,000 messages at 1,000 messages/s: p50/p99 from the fake CLI writing a
              line (CLOCK_REALTIME stamp in the text) to the client receiving its frame
  memory      server RSS (the server process only, not the CLIs) idle, with 100 connected idle
              clients, and with 100 idle conversations (one query done on each, CLI still up)
Prints a Markdown table (also written to --out).
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
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
    """Runs ws_load; its last stdout line (JSON) with "ok" set from its exit status."""
    out = subprocess.run([load_bin, *args], capture_output=True, text=True, timeout=timeout)
    line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else "{}"
    r = json.loads(line)
    r["ok"] = out.returncode == 0
    return r


def load(load_bin, port, clients, extra=(), timeout=600):
    return run_load(load_bin, ["--url", f"ws://127.0.0.1:{port}/ws", "--clients", str(clients), *extra], timeout)


def fanout(impl, load_bin, clients, timeout=600):
    """One opcode run (POST /claude/execute), `clients` WebSocket subscribers attached to it."""
    body = json.dumps({"prompt": "bench", "project_path": impl.cwd}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{impl.port}/claude/execute", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        ws_path = json.loads(r.read())["websocket_url"]
    return run_load(load_bin, ["--attach", "--url", f"ws://127.0.0.1:{impl.port}{ws_path}", "--clients", str(clients)],
                    timeout)


def measure_memory(impl, load_bin, clients=100):
    """(idle RSS, per connected client, per idle conversation), KB, server process only."""
    impl.start(script(10, 0))
    try:
        time.sleep(1.0)
        base = rss_kb(impl.proc.pid)
        p = subprocess.Popen([load_bin, "--url", f"ws://127.0.0.1:{impl.port}/ws", "--clients", str(clients),
                              "--idle-seconds", "3"], stdout=subprocess.PIPE, text=True)
        p.stdout.readline()  # connected
        time.sleep(1.0)
        connected = rss_kb(impl.proc.pid)
        p.wait(30)
        p = subprocess.Popen([load_bin, "--url", f"ws://127.0.0.1:{impl.port}/ws", "--clients", str(clients),
                              "--hold-seconds", "3"], stdout=subprocess.PIPE, text=True)
        p.stdout.readline()  # every query answered; conversations now idle
        time.sleep(1.0)
        sessions = rss_kb(impl.proc.pid)
        p.wait(60)
        return base, (connected - base) / clients, (sessions - base) / clients
    finally:
        impl.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--node-prefix", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--messages", type=int, default=100000)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cmdline", default="tests/bench/gateway.sh")
    a = ap.parse_args()
    fake = os.path.join(a.build, "tests", "ccb_fake_cli")
    load_bin = os.path.join(a.build, "tests", "bench", "ccb_ws_load")
    work = os.path.join(a.build, "bench", "gateway-root")
    os.makedirs(work, exist_ok=True)
    impls = [
        Impl("ccbridge", "ccbridge serve (sdk-ws)",
             [os.path.join(a.build, "ccbridge"), "serve", "--port", "0", "--profiles", "sdk-ws", "--cli", fake, "--pass-env", "CCB_*",
              "--root", work, "--log-level", "warn", "--max-sessions", "1000"], {}, work),
        Impl("python", "FastAPI + uvicorn + claude-agent-sdk (Python)",
             [sys.executable, os.path.join(ROOT, "tests/bench/peers/py_sdkws_server.py"), "--cli", fake], {}, work),
        Impl("node", "Node ws + @anthropic-ai/claude-agent-sdk",
             ["node", os.path.join(ROOT, "tests/bench/peers/node_sdkws_server.mjs"), "--cli", fake],
             {"CCB_BENCH_NODE_PREFIX": a.node_prefix}, work),
    ]
    opcode = Impl("ccbridge-opcode", "ccbridge serve (opcode)",
                  [os.path.join(a.build, "ccbridge"), "serve", "--port", "0", "--profiles", "opcode", "--cli", fake, "--pass-env", "CCB_*",
                   "--root", work, "--log-level", "warn"], {}, work)
    n = a.messages
    runs = {}
    for rnd in range(1, a.rounds + 1):
        for impl in impls:
            for task, clients, per, rate in (("relay-1", 1, n, 0), ("relay-100", 100, max(n // 100, 1000), 0), ("latency", 1, 5000, 1000)):
                impl.start(script(per, rate))
                try:
                    r = load(load_bin, impl.port, clients)
                finally:
                    impl.stop()
                r["expected"] = clients * per
                runs.setdefault((task, impl.key), []).append(r)
                print(f"round {rnd}: {impl.key} {task}: {json.dumps(r)}", file=sys.stderr, flush=True)
        # Fan-out (ccbridge only: the peers implement sdk-ws, one conversation per connection).
        opcode.start(script(max(n // 5, 1000), 0).replace("wait_eof", "exit 0"))
        try:
            r = fanout(opcode, load_bin, 100)
        finally:
            opcode.stop()
        r["expected"] = 100 * max(n // 5, 1000)
        runs.setdefault(("fanout-100", "ccbridge"), []).append(r)
        print(f"round {rnd}: ccbridge-opcode fanout-100: {json.dumps(r)}", file=sys.stderr, flush=True)
    mem = {}
    for impl in impls:
        mem[impl.key] = measure_memory(impl, load_bin)
        print(f"memory {impl.key}: {mem[impl.key]}", file=sys.stderr, flush=True)

    def med(task, key, f):
        vals = [f(r) for r in runs.get((task, key), []) if r["ok"] and r["messages"] >= r["expected"]]
        return (statistics.median(vals), len(vals)) if vals else (None, 0)

    lines = ["| Measure | " + " | ".join(i.name for i in impls) + " | ccbridge ÷ Python | ccbridge ÷ Node |",
             "|---|" + "---:|" * (len(impls) + 2)]

    def row(label, task, f, fmt, higher_better=True):
        vals = [med(task, i.key, f) for i in impls]
        cells = [(fmt(v) + (f" ({k}/{a.rounds})" if k != a.rounds else "")) if v is not None else "failed" for v, k in vals]
        c, p, nd = (v for v, _ in vals)
        def ratio(x, y):
            if x is None or y is None or y == 0 or x == 0:
                return "–"
            return f"{(x / y if higher_better else y / x):.1f}×"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {ratio(c, p)} | {ratio(c, nd)} |")

    msgs = lambda r: r["messages"] / r["seconds"]
    mbs = lambda r: r["bytes"] / 1e6 / r["seconds"]
    row("relay, 1 client: messages/s", "relay-1", msgs, lambda v: f"{v:,.0f}")
    row("relay, 1 client: MB/s", "relay-1", mbs, lambda v: f"{v:,.1f}")
    row("relay, 100 clients: messages/s (all clients)", "relay-100", msgs, lambda v: f"{v:,.0f}")
    row("relay, 100 clients: MB/s", "relay-100", mbs, lambda v: f"{v:,.1f}")
    fan, k = med("fanout-100", "ccbridge", msgs)
    if fan is not None:
        fan_mb, _ = med("fanout-100", "ccbridge", mbs)
        lines.append(f"| fan-out, 100 clients on one run (opcode): messages/s delivered (all clients) | {fan:,.0f}"
                     + (f" ({k}/{a.rounds})" if k != a.rounds else "") + f" ({fan_mb:,.1f} MB/s) | – | – | – | – |")
    row("latency at 1,000 msgs/s: p50", "latency", lambda r: r["p50_us"], lambda v: f"{v / 1000:.2f} ms", False)
    row("latency at 1,000 msgs/s: p99", "latency", lambda r: r["p99_us"], lambda v: f"{v / 1000:.2f} ms", False)
    row("relay, 1 client, saturated: p99", "relay-1", lambda r: r["p99_us"], lambda v: f"{v / 1000:.1f} ms", False)
    lines.append("| server RSS idle | " + " | ".join(f"{mem[i.key][0] / 1024:.1f} MB" for i in impls) + " | – | – |")
    lines.append("| RSS per connected idle client | " + " | ".join(f"{mem[i.key][1]:.0f} KB" for i in impls) + " | – | – |")
    lines.append("| RSS per idle conversation (server only) | " + " | ".join(f"{mem[i.key][2]:.0f} KB" for i in impls) + " | – | – |")
    lines.append("")
    lines.append(f"- {a.rounds} rounds, interleaved; medians over rounds; messages of 1.35 KB (N = {n:,} for one client, "
                 f"{max(n // 100, 1000):,} per client for 100, their CLI start-ups included; fan-out: one opcode run of {max(n // 5, 1000):,} messages read by 100 clients). A round counts only if every message arrived. Ratios: throughput "
                 "ccbridge ÷ peer; latency and memory: lower is better, ratio peer ÷ ccbridge.")
    lines.append("- Same fake CLI (tests/support/fake_cli.cpp `timed_text`) and the same client (tests/bench/ws_load.cpp, "
                 "plain sockets) for all three; the servers run one at a time. Memory: VmRSS of the server process, "
                 "100 clients.")
    lines.append(f"- Command: `{a.cmdline}`; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    md = "\n".join(lines) + "\n"
    with open(a.out, "w") as f:
        f.write(md)
    sys.stdout.write(md)


if __name__ == "__main__":
    main()
