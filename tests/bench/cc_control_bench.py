#!/usr/bin/env python3
"""cc-control (seed 004) benchmark: terminal output relayed from a PTY to /ws/client clients by
`ccbridge serve --profiles cc-control`, against a raw PTY read loop on the same machine, and 1,000
sessions with 5 clients each. Run it through tests/bench/cc_control.sh, which builds what it needs.

Programs (tests/bench): ccb_term_standin, the terminal program (C; floods lines or prints one every
T µs, each stamped with CLOCK_MONOTONIC); ccb_pty_ceiling, the ceiling (forkpty of the same stand-in,
4 KiB reads of the master, bytes counted, nothing decoded); ccb_cc_load, the clients (epoll; each
decodes the base64 of every term_out and reads the stand-in's lines from it, stamps included).

Each round, in this order:
  ceiling        ccb_pty_ceiling: the stand-in floods F bytes in lines of L; bytes/s
  relay-1        one server, one session flooding F bytes, 1 client attached; bytes/s decoded by it
  relay-100      a session flooding F100 bytes, 100 clients attached; bytes/s per client and in all
  paced-ceiling  the stand-in prints a line every ms (P lines), read by the ceiling loop: latency
  paced-1/-100   the same through the server to 1 and to 100 clients: latency (receive - write)
and, --scale-rounds times, scale: a fresh server, S sessions printing one L-byte line every T ms,
K clients attached to each (S*K WebSocket connections): server RSS idle, with the sessions, with the
clients (memory per session, per client); server CPU (utime+stime from /proc) per MB relayed.
Writes a Markdown report (the table, per-round values, the raw JSON lines) to --out.
"""
import argparse
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from bench_common import figure, finish, provenance, sut
from gateway_bench import rss_kb

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ADMIN = "b" * 64
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def cpu_s(pid):
    """utime + stime of every thread of the process, seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class Server:
    """ccbridge serve --profiles cc-control on a free port, with its own token db and audit log."""

    def __init__(self, build, work, sessions=64, connections=1024):
        self.work = work
        cfg = os.path.join(work, "cc-bench.json")
        with open(cfg, "w") as f:
            json.dump({"cc_control": {"requests_per_minute": 1_000_000, "max_subscribers": connections}}, f)
        for name in ("cc.db", "audit.jsonl"):
            if os.path.exists(os.path.join(work, name)):
                os.remove(os.path.join(work, name))
        cmd = [sut(build, "ccbridge"), "serve", "--port", "0", "--profiles", "cc-control",
               "--admin-token", ADMIN, "--token-db", os.path.join(work, "cc.db"),
               "--audit-path", os.path.join(work, "audit.jsonl"), "--config", cfg,
               "--cli", os.path.join(build, "tests", "bench", "ccb_term_standin"), "--root", work,
               "--log-level", "warn", "--max-sessions", str(sessions), "--max-connections", str(connections)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=work,
                                     start_new_session=True)
        line = self.proc.stdout.readline().decode()
        if "listening on http://" not in line:
            raise RuntimeError(f"ccbridge serve did not start: {line!r}")
        self.port = int(line.rsplit(":", 1)[1].split()[0])
        self.token = self.http("POST", "/admin/tokens", {"type": "ui", "role": "owner", "name": "bench"}, ADMIN)["token"]

    def http(self, method, path, body=None, token=None):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {token or self.token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read().decode()
        return json.loads(text) if text.strip() else None

    def create(self, standin):
        body = {"server_id": "srv-local", "cwd": self.work, "env": {"CC_STANDIN": standin}}
        return self.http("POST", "/api/sessions", body)["session_id"]

    def wait_running(self, ids, timeout=180):
        want, deadline = set(ids), time.time() + timeout
        while time.time() < deadline:
            running = {s["session_id"] for s in self.http("GET", "/api/sessions")["sessions"] if s["status"] == "running"}
            if want <= running:
                return
            time.sleep(0.2)
        raise RuntimeError(f"{len(want - running)} of {len(want)} sessions never ran")

    def delete(self, sid):
        self.http("DELETE", f"/api/sessions/{sid}")

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass


def last_json(out):
    lines = [l for l in out.strip().splitlines() if l.startswith("{")]
    return json.loads(lines[-1]) if lines else {"ok": False}


def ceiling(a, words, stamps=False):
    cmd = [os.path.join(a.bench, "ccb_pty_ceiling"), *(["--stamps"] if stamps else []),
           os.path.join(a.bench, "ccb_term_standin"), *words.split()]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    return last_json(out.stdout)


def relay(a, srv, words, clients):
    """One session running `words`, `clients` attached, flood until END; adds the server's CPU."""
    sid = srv.create(words)
    srv.wait_running([sid], 60)
    cpu0 = cpu_s(srv.proc.pid)
    out = subprocess.run([os.path.join(a.bench, "ccb_cc_load"), "--port", str(srv.port), "--token", srv.token,
                          "--sessions", sid, "--per-session", str(clients), "--go", "--timeout", "600"],
                         capture_output=True, text=True, timeout=660)
    r = last_json(out.stdout)
    r["server_cpu_s"] = cpu_s(srv.proc.pid) - cpu0
    if out.stderr.strip():
        r["stderr"] = out.stderr.strip()[-500:]
    srv.delete(sid)
    return r


def relay_round(a, rnd, runs):
    flood = f"flood {a.flood_bytes} {a.line}"
    flood100 = f"flood {a.flood_bytes_100} {a.line}"
    paced = f"wait tick 1000 {a.line} {a.paced_lines}"
    tasks = [("ceiling", lambda s: ceiling(a, flood)),
             ("relay-1", lambda s: relay(a, s, flood, 1)),
             ("relay-100", lambda s: relay(a, s, flood100, 100)),
             ("paced-ceiling", lambda s: ceiling(a, paced, stamps=True)),
             ("paced-1", lambda s: relay(a, s, paced, 1)),
             ("paced-100", lambda s: relay(a, s, paced, 100))]
    srv = Server(a.build, a.work)
    try:
        for name, f in tasks:
            r = f(srv)
            r["round"] = rnd
            runs.setdefault(name, []).append(r)
            log(f"round {rnd}: {name}: {json.dumps(r)}")
    finally:
        srv.stop()


class Loader:
    """ccb_cc_load --marks on every session: K clients each; mark() returns the counters."""

    def __init__(self, a, srv, ids):
        self.ids_file = os.path.join(a.work, "sessions.txt")
        with open(self.ids_file, "w") as f:
            f.write("\n".join(ids) + "\n")
        self.p = subprocess.Popen([os.path.join(a.bench, "ccb_cc_load"), "--port", str(srv.port), "--token", srv.token,
                                   "--sessions-file", self.ids_file, "--per-session", str(a.per_session), "--marks", "--batch", "50",
                                   "--timeout", "900"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.attached = json.loads(self.p.stdout.readline() or '{"attached":0}')

    def mark(self):
        self.p.stdin.write("\n")
        self.p.stdin.flush()
        return json.loads(self.p.stdout.readline())

    def close(self):
        self.p.stdin.close()
        try:
            self.p.wait(60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def scale_round(a, rnd):
    s, k = a.sessions, a.per_session
    srv = Server(a.build, a.work, sessions=s + 16, connections=s * k + 256)
    r = {"round": rnd, "sessions": s, "clients": s * k}
    try:
        pid = srv.proc.pid
        time.sleep(1.0)
        r["rss_idle_kb"] = rss_kb(pid)
        t = time.time()
        ids = [srv.create(f"tick {a.tick_ms * 1000} {a.line} 0") for _ in range(s)]
        srv.wait_running(ids)
        r["start_sessions_s"] = time.time() - t
        time.sleep(2.0)
        # Sessions only: what reading the PTYs costs, and how fast the rings grow.
        t1, rss1, cpu1 = time.time(), rss_kb(pid), cpu_s(pid)
        time.sleep(a.quiet)
        t2, rss2, cpu2 = time.time(), rss_kb(pid), cpu_s(pid)
        r["rss_sessions_kb"], r["rss_sessions_later_kb"] = rss1, rss2
        r["ring_growth_kb_s"] = (rss2 - rss1) / (t2 - t1)
        r["pty_mb"] = s * a.line * (1000 / a.tick_ms) * (t2 - t1) / 1e6
        r["cpu_no_clients_s"] = cpu2 - cpu1
        loader = Loader(a, srv, ids)
        try:
            r["attached"], r["attach_s"] = loader.attached.get("attached", 0), loader.attached.get("seconds")
            time.sleep(2.0)
            t3, rss3 = time.time(), rss_kb(pid)
            r["rss_clients_kb"] = rss3
            r["ring_correction_kb"] = r["ring_growth_kb_s"] * (t3 - t2)
            m0, c0, w0 = loader.mark(), cpu_s(pid), time.time()
            time.sleep(a.window)
            m1, c1, w1 = loader.mark(), cpu_s(pid), time.time()
            r["window_s"] = w1 - w0
            r["delivered_mb"] = (m1["bytes"] - m0["bytes"]) / 1e6
            r["cpu_window_s"] = c1 - c0
            r["p50_us"], r["p99_us"], r["max_us"] = m1["p50_us"], m1["p99_us"], m1["max_us"]
            r["snapshots"], r["errors"], r["open"] = m1["snapshots"], m1["errors"], m1["open"]
            r["rss_end_kb"] = rss_kb(pid)
        finally:
            loader.close()
    finally:
        t = time.time()
        srv.stop()
        r["stop_s"] = time.time() - t
    log(f"scale round {rnd}: {json.dumps(r)}")
    return r


def med(vals):
    vals = [v for v in vals if v is not None]
    return (statistics.median(vals), min(vals), max(vals)) if vals else (None, None, None)


def fmt_row(label, vals, f, key=None):
    figure(key or label, vals)
    m, lo, hi = med(vals)
    if m is None:
        return f"| {label} | failed | |"
    return f"| {label} | {f(m)} | {f(lo)} – {f(hi)} |"


def ok(r):
    return r.get("ok") and r.get("bytes", 0) > 0


def relay_table(a, runs):
    mb = lambda v: f"{v / 1e6:,.1f} MB/s"
    us = lambda v: f"{v / 1000:,.2f} ms"
    x = lambda v: f"{v:.2f}×"
    pct = lambda v: f"{v * 100:.1f} %"
    total = lambda flood: flood // a.line * a.line + len("END\r\n")
    rate = lambda r: r["bytes"] / r["seconds"] if ok(r) else None
    get = lambda task, f: [f(r) if ok(r) else None for r in runs.get(task, [])]
    rounds = list(zip(runs["ceiling"], runs["relay-1"], runs["relay-100"]))
    ratio = lambda c, r: rate(c) / r if ok(c) and r else None
    rows = ["| Measure | median | min – max (per round) |", "|---|---:|---:|",
            fmt_row("raw PTY read loop (ceiling): bytes/s read", get("ceiling", rate), mb),
            fmt_row("relay, 1 client: bytes/s decoded by the client", get("relay-1", rate), mb),
            fmt_row("**ceiling ÷ relay, 1 client** (goal ≤ 2)", [ratio(c, rate(r1)) for c, r1, _ in rounds], x),
            fmt_row("relay, 1 client: share of the output it was sent (the rest skipped by resyncs)",
                    get("relay-1", lambda r: r["bytes"] / total(a.flood_bytes)), pct),
            fmt_row("relay, 1 client: PTY output consumed by the server (all of it ÷ time to the client's END)",
                    get("relay-1", lambda r: total(a.flood_bytes) / r["seconds"]), mb),
            fmt_row("relay, 100 clients: bytes/s per client (median client)", get("relay-100", lambda r: r["client_median_bps"]), mb),
            fmt_row("relay, 100 clients: bytes/s per client (slowest client)", get("relay-100", lambda r: r["client_min_bps"]), mb),
            fmt_row("relay, 100 clients: bytes/s, all clients", get("relay-100", rate), mb),
            fmt_row("relay, 100 clients: share of the output each was sent (mean)",
                    get("relay-100", lambda r: r["bytes"] / r["clients"] / total(a.flood_bytes_100)), pct),
            fmt_row("**ceiling ÷ relay, 100 clients, per client** (median client)",
                    [ratio(c, r100.get("client_median_bps")) if ok(r100) else None for c, _, r100 in rounds], x),
            fmt_row("server CPU per MB delivered, 1 client", get("relay-1", lambda r: r["server_cpu_s"] / (r["bytes"] / 1e6)), lambda v: f"{v * 1000:.2f} ms/MB"),
            fmt_row("server CPU per MB delivered, 100 clients", get("relay-100", lambda r: r["server_cpu_s"] / (r["bytes"] / 1e6)), lambda v: f"{v * 1000:.2f} ms/MB")]
    # The ceiling's flood reads no stamps (it only counts), so the flood latency has no ceiling row.
    rows += [fmt_row("flood: p99 write → receive, 1 client", get("relay-1", lambda r: r["p99_us"]), us),
             fmt_row("flood: p99 write → receive, 100 clients", get("relay-100", lambda r: r["p99_us"]), us)]
    for task, label in (("paced-ceiling", "ceiling"), ("paced-1", "1 client"), ("paced-100", "100 clients")):
        rows.append(fmt_row(f"1,000 lines/s: p50 write → receive, {label}", get(task, lambda r: r["p50_us"]), us))
        rows.append(fmt_row(f"1,000 lines/s: p99 write → receive, {label}", get(task, lambda r: r["p99_us"]), us))
    added = [r["p99_us"] - c["p99_us"] if ok(r) and ok(c) else None for c, r in zip(runs["paced-ceiling"], runs["paced-1"])]
    rows.append(fmt_row("1,000 lines/s: p99 added by the relay (1 client − ceiling, same round)", added, us))
    added = [r["p99_us"] - c["p99_us"] if ok(r) and ok(c) else None for c, r in zip(runs["paced-ceiling"], runs["paced-100"])]
    rows.append(fmt_row("1,000 lines/s: p99 added by the relay (100 clients − ceiling)", added, us))
    snaps = sum(r.get("snapshots", 0) for task in ("relay-1", "relay-100", "paced-1", "paced-100") for r in runs.get(task, []))
    failed = sum(1 for task in runs for r in runs[task] if not ok(r))
    return rows, snaps, failed


def scale_table(a, scale):
    kb = lambda v: f"{v:,.0f} KB"
    per_session = [(r["rss_sessions_kb"] - r["rss_idle_kb"]) / r["sessions"] for r in scale]
    per_client = [(r["rss_clients_kb"] - r["rss_sessions_later_kb"] - r["ring_correction_kb"]) / r["clients"] for r in scale]
    chunk_b = [r["ring_growth_kb_s"] * 1024 / (r["sessions"] * 1000 / a.tick_ms) for r in scale]
    ring_full = [b * (131072 / a.line) / 1024 for b in chunk_b]
    return ["| Measure | median | min – max (per round) |", "|---|---:|---:|",
            fmt_row("server RSS idle", [r["rss_idle_kb"] for r in scale], kb),
            fmt_row(f"server RSS with {a.sessions:,} sessions", [r["rss_sessions_kb"] for r in scale], kb),
            fmt_row(f"server RSS with {a.sessions:,} sessions and {a.sessions * a.per_session:,} clients", [r["rss_clients_kb"] for r in scale], kb),
            fmt_row("**memory per session** (2 s after start)", per_session, lambda v: f"{v:,.1f} KB"),
            fmt_row("ring growth per output chunk kept (RSS growth ÷ chunks appended)", chunk_b, lambda v: f"{v:,.0f} B"),
            fmt_row(f"per session once its ring is full (estimate: 128 KiB ring of {a.line}-byte chunks)", ring_full, lambda v: f"{v:,.0f} KB"),
            fmt_row("**memory per client** (attached, receiving)", per_client, lambda v: f"{v:,.1f} KB"),
            fmt_row("**server CPU per MB relayed** (MB decoded by the clients)", [r["cpu_window_s"] / r["delivered_mb"] if r["delivered_mb"] else None for r in scale], lambda v: f"{v:.3f} s/MB"),
            fmt_row("server CPU per MB of terminal output, no clients attached", [r["cpu_no_clients_s"] / r["pty_mb"] for r in scale], lambda v: f"{v:.3f} s/MB"),
            fmt_row("server CPU, share of one core, with the clients", [r["cpu_window_s"] / r["window_s"] * 100 for r in scale], lambda v: f"{v:.0f} %"),
            fmt_row("delivered to all clients", [r["delivered_mb"] / r["window_s"] for r in scale], lambda v: f"{v:.2f} MB/s"),
            fmt_row("p99 write → receive", [r["p99_us"] for r in scale], lambda v: f"{v / 1000:,.2f} ms"),
            fmt_row(f"start {a.sessions:,} sessions (create + running)", [r["start_sessions_s"] for r in scale], lambda v: f"{v:.1f} s"),
            fmt_row(f"attach {a.sessions * a.per_session:,} clients", [r["attach_s"] for r in scale], lambda v: f"{v:.1f} s"),
            fmt_row("stop the server (and its sessions)", [r["stop_s"] for r in scale], lambda v: f"{v:.1f} s")]


def report(a, runs, scale):
    out = [f"# cc-control (seed 004) benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", ""]
    out += provenance(a.cmdline) + [""]
    if runs:
        rows, snaps, failed = relay_table(a, runs)
        out += ["## Relay: PTY → 1 and 100 attached clients", ""] + rows + [""]
        out += [f"- {a.rounds} rounds; each: ceiling, relay 1, relay 100, then the paced runs; one server per round, "
                f"one session per run (deleted after it). Flood: {a.flood_bytes:,} bytes (1 client) and "
                f"{a.flood_bytes_100:,} bytes (100 clients) in lines of {a.line} bytes; paced: {a.paced_lines:,} lines "
                f"of {a.line} bytes, one per ms.",
                "- Not equal work: the ceiling only reads the PTY in 4 KiB reads and counts bytes; every client decodes "
                "the base64 of every term_out and splits the decoded bytes into lines (reading each line's stamp). "
                "The 100 clients are one process (ccb_cc_load, epoll) on the same 2 cores as the server.",
                "- Latency: the stand-in stamps each line with CLOCK_MONOTONIC as it makes it (a flood: once per write "
                "of ~4 KiB); the reader subtracts it from its clock on receipt. Under a flood this is mostly queueing "
                "(the PTY, the agent's 1 MiB in flight, the socket buffers); at 1,000 lines/s it is the relay's own delay.",
                f"- Resyncs (a client that fell behind and got a snapshot of the ring instead of the chunks): {snaps}; "
                f"runs that failed (not every client read to the end): {failed}.", ""]
    if scale:
        out += [f"## Scale: {a.sessions:,} sessions × {a.per_session} clients", ""] + scale_table(a, scale) + [""]
        out += [f"- {len(scale)} rounds, each on a fresh server (--max-sessions {a.sessions + 16}, --max-connections "
                f"{a.sessions * a.per_session + 256}, max_subscribers alike): {a.sessions:,} sessions of ccb_term_standin "
                f"printing one {a.line}-byte line every {a.tick_ms} ms, then {a.per_session} clients attached to each "
                f"(one WebSocket each, {a.sessions * a.per_session:,} in all, one ccb_cc_load process).",
                "- Memory: VmRSS of the server process. Per session: (RSS 2 s after all sessions run − RSS idle) ÷ sessions "
                "(their rings then hold ~2 s of output). The rings keep growing until full (128 KiB of output each), so "
                f"per client = (RSS with clients − RSS before them − ring growth over the same time, measured over "
                f"{a.quiet:g} s without clients) ÷ clients.",
                f"- CPU: utime + stime of the server (all threads) over a {a.window:g} s window with every client attached, "
                "divided by the MB the clients decoded in it; and over "
                f"{a.quiet:g} s before the clients, divided by the MB the sessions printed (reading the PTYs, the ring).", ""]
    out += ["## Per round", ""]
    for task, rs in list(runs.items()) + [("scale", scale)]:
        for r in rs:
            out.append(f"- {task}, round {r['round']}: `{json.dumps({k: v for k, v in r.items() if k != 'round'})}`")
    return "\n".join(out) + "\n"


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cmdline", default="tests/bench/cc_control.sh")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--scale-rounds", type=int, default=None, help="default: --rounds")
    ap.add_argument("--flood-bytes", type=int, default=200_000_000)
    ap.add_argument("--flood-bytes-100", type=int, default=20_000_000)
    ap.add_argument("--line", type=int, default=100)
    ap.add_argument("--paced-lines", type=int, default=3000)
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--per-session", type=int, default=5)
    ap.add_argument("--tick-ms", type=int, default=100)
    ap.add_argument("--quiet", type=float, default=5.0, help="seconds measured with sessions and no clients")
    ap.add_argument("--window", type=float, default=10.0, help="seconds measured with every client attached")
    ap.add_argument("--skip-relay", action="store_true")
    ap.add_argument("--skip-scale", action="store_true")
    a = ap.parse_args()
    a.build = os.path.abspath(a.build)
    a.bench = os.path.join(a.build, "tests", "bench")
    if a.scale_rounds is None:
        a.scale_rounds = a.rounds
    return a


def raise_fd_limit(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < need:
        sys.exit(f"cc_control_bench: {need} file descriptors needed, the hard limit (ulimit -Hn) is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main():
    a = parse_args()
    raise_fd_limit(a.sessions * (a.per_session + 4) + 1024)
    with tempfile.TemporaryDirectory(prefix="ccb-cc-bench-") as work:
        a.work = work
        runs, scale = {}, []
        for rnd in range(1, a.rounds + 1):
            if not a.skip_relay:
                relay_round(a, rnd, runs)
        for rnd in range(1, a.scale_rounds + 1):
            if not a.skip_scale:
                scale.append(scale_round(a, rnd))
    finish(a.out, report(a, runs, scale), a.cmdline)


if __name__ == "__main__":
    main()
