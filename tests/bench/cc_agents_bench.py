#!/usr/bin/env python3
"""Agents on many hosts (issue 15) benchmark: A synthetic agents x S sessions each on one cc-control
control plane, M clients attached; then a reconnect storm. Run it through tests/bench/cc_agents.sh,
which builds what it needs.

ccb_agent_load (tests/bench/agent_load.cpp) is every agent and every client, in one process: the
agents speak /ws/agent (docs/AGENT-PROTOCOL.md) and print one stamped line per session every I ms;
the clients attach over /ws/client, check each session's seqs and time each line from the agent to
them. This driver starts the control plane, makes the tokens (admin API, tenant "bench"), creates
the sessions through POST /api/sessions, samples the control plane's CPU (utime + stime from
/proc/PID/stat) and RSS, and sends the load its commands (mark, storm).

Each round, on a fresh control plane: register the agents, create A x S sessions, attach M
clients, warm up, measure a window (relay bytes/s, latency, CPU, RSS), then the storm: every agent
drops its connection at once and dials again; the round records how long until every client reads
output made after its agent came back, and what was lost (missing, reported as a gap, replaced by
a snapshot, duplicated). Peers: ccbridge (`ccbridge serve --profiles cc-control`), and with
--original BIN the original Go cc-control, built by hand from its public source (not here).
"""
import argparse
import json
import os
import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from bench_common import finish, provenance, section, sut
from cc_control_bench import Server, cpu_s, fmt_row
from gateway_bench import rss_kb

ADMIN = "c" * 64
TENANT = "bench"
PER_TOKEN = 100  # REST requests per UI token and round: the original limits a token to 1,200 a minute


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ControlPlane(Server):
    """One control plane on a free loopback port, with its own token db, audit log and state
    (cc_control_bench's Server, started otherwise: its http() and stop() as they are)."""

    def __init__(self, a, peer, work):  # pylint: disable=super-init-not-called
        self.token = None
        for name in os.listdir(work):
            os.remove(os.path.join(work, name))
        if peer == "ccbridge":
            self.proc, self.port = self.start_ccbridge(a, work)
        else:
            self.proc, self.port = self.start_original(a, work)
        self.wait_healthy()

    def start_ccbridge(self, a, work):
        cfg = os.path.join(work, "cc-agents.json")
        with open(cfg, "w") as f:
            json.dump({"cc_control": {"max_subscribers": a.clients + 256}}, f)
        total = a.agents * a.sessions
        # --state-in-memory: tokens in memory, so no state file either (docs/SERVER.md, State)
        db = ":memory:" if a.state_in_memory else os.path.join(work, "cc.db")
        cmd = [sut(a.build, "ccbridge"), "serve", "--port", "0", "--profiles", "cc-control",
               "--admin-token", ADMIN, "--token-db", db,
               "--audit-path", os.path.join(work, "audit.jsonl"), "--config", cfg, "--root", work,
               "--log-level", "warn", "--max-sessions", str(total + 16),
               "--max-connections", str(a.agents + a.clients + 256)]
        if a.max_messages_per_second is not None:
            cmd += ["--max-messages-per-second", str(a.max_messages_per_second)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=work, start_new_session=True)
        line = proc.stdout.readline().decode()
        if "listening on http://" not in line:
            raise RuntimeError(f"ccbridge serve did not start: {line!r}")
        return proc, int(line.rsplit(":", 1)[1].split()[0])

    def start_original(self, a, work):
        port = free_port()
        cmd = [a.original, "-addr", f"127.0.0.1:{port}", "-admin-token", ADMIN, "-ui-token", "", "-agent-token", "",
               "-audit-path", os.path.join(work, "audit.jsonl"), "-ui-dir", work]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work, start_new_session=True)
        return proc, port

    def wait_healthy(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/healthz", timeout=2):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the control plane never answered /api/healthz")

    def new_token(self, type_, role=""):
        return self.http("POST", "/admin/tokens", {"type": type_, "role": role, "tenant_id": TENANT, "name": "bench"}, ADMIN)["token"]


class LoadProc:
    """ccb_agent_load: its JSON lines through a queue, so that every wait has a deadline."""

    def __init__(self, a, port, agent_token, ui_token):
        cmd = [os.path.join(a.bench, "ccb_agent_load"), "--port", str(port), "--agent-token", agent_token,
               "--ui-token", ui_token, "--agents", str(a.agents), "--sessions-per-agent", str(a.sessions),
               "--clients", str(a.clients), "--interval-ms", str(a.interval_ms), "--chunk-bytes", str(a.chunk_bytes),
               "--down-ms", str(a.down_ms), "--storm-timeout", str(a.storm_timeout), "--timeout", "900",
               *(["--legacy"] if a.legacy else [])]
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.err = []
        threading.Thread(target=self.pump, args=(self.p.stdout, self.lines.put), daemon=True).start()
        threading.Thread(target=self.pump, args=(self.p.stderr, self.err.append), daemon=True).start()

    @staticmethod
    def pump(stream, put):
        for line in stream:
            put(line.strip())
        put(None)

    def expect(self, key, timeout):
        deadline = time.time() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.time()))
            except queue.Empty:
                raise RuntimeError(f"ccb_agent_load: no {key!r} within {timeout} s; stderr: {self.err[-5:]}")
            if line is None:
                raise RuntimeError(f"ccb_agent_load ended before {key!r}; stderr: {self.err[-5:]}")
            msg = json.loads(line)
            if key in msg:
                return msg

    def command(self, cmd, key, timeout=30):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        return self.expect(key, timeout)

    def close(self):
        try:
            self.p.stdin.close()
            self.p.wait(30)
        except (subprocess.TimeoutExpired, BrokenPipeError):
            self.p.kill()
            self.p.wait()


def create_sessions(a, cp, tokens, work):
    """A x S sessions, agent by agent, each token used for at most PER_TOKEN of them."""
    n = 0
    for i in range(a.agents):
        for _ in range(a.sessions):
            body = {"server_id": f"bench-agent-{i:02d}", "cwd": work, "cols": 120, "rows": 40}
            cp.http("POST", "/api/sessions", body, tokens[n // PER_TOKEN])
            n += 1


def window(a, cp, load):
    """The steady state: counters and CPU over a.window seconds, RSS sampled every second."""
    pid = cp.proc.pid
    m0, c0, t0 = load.command("mark", "bytes"), cpu_s(pid), time.time()
    rss = []
    while time.time() - t0 < a.window:
        time.sleep(min(1.0, a.window - (time.time() - t0)))
        rss.append(rss_kb(pid))
    m1, c1, t1 = load.command("mark", "bytes"), cpu_s(pid), time.time()
    dt = t1 - t0
    r = {"window_s": dt, "in_bps": (m1["bytes_out"] - m0["bytes_out"]) / dt, "relay_bps": (m1["bytes"] - m0["bytes"]) / dt,
         "frames_in_s": (m1["frames_out"] - m0["frames_out"]) / dt, "frames_out_s": (m1["frames"] - m0["frames"]) / dt,
         "p50_us": m1["p50_us"], "p90_us": m1["p90_us"], "p99_us": m1["p99_us"], "max_us": m1["max_us"], "cpu_pct": (c1 - c0) / dt * 100,
         "rss_kb": max(rss), "rss_end_kb": rss[-1]}
    for k in ("missing", "gap_reported", "dupes", "resync_skipped"):
        r[f"steady_{k}"] = m1[k] - m0[k]
    return r, m1


def storm(a, cp, load, before):
    """The reconnect storm, then a few quiet seconds for what arrives late; returns its record."""
    pid = cp.proc.pid
    c0 = cpu_s(pid)
    s = load.command("storm", "storm", timeout=a.storm_timeout + 30)
    r = {"storm_cpu_s": cpu_s(pid) - c0, "storm_rss_kb": rss_kb(pid)}
    r.update({f"storm_{k}": v for k, v in s.items() if k != "storm"})
    time.sleep(a.settle)
    m = load.command("mark", "bytes")
    for k in ("missing", "gap_reported", "dupes", "resync_skipped"):
        r[f"after_{k}"] = m[k] - before[k]  # from the storm to a.settle s after recovery
    r["after_p99_us"], r["after_max_us"] = m["p99_us"], m["max_us"]
    return r


def run_round(a, peer, rnd, work):
    cp = ControlPlane(a, peer, work)
    r = {"peer": peer, "round": rnd}
    load = None
    try:
        agent_token = cp.new_token("agent")
        ui = [cp.new_token("ui", "owner") for _ in range(1 + (a.agents * a.sessions + PER_TOKEN - 1) // PER_TOKEN)]
        r["rss_idle_kb"] = rss_kb(cp.proc.pid)
        load = LoadProc(a, cp.port, agent_token, ui[0])
        r["register_s"] = load.expect("registered", 60)["seconds"]
        t = time.time()
        create_sessions(a, cp, ui[1:], work)
        r["create_s"] = time.time() - t
        load.expect("sessions", 120)
        r["attach_s"] = load.expect("attached", 120)["seconds"]
        time.sleep(a.warm)
        w, m = window(a, cp, load)
        r.update(w)
        r.update(storm(a, cp, load, m))
    except RuntimeError as e:
        r["failed"] = str(e)[:300]
    finally:
        if load:
            load.close()
        cp.stop()
    log(f"round {rnd} ({peer}): {json.dumps(r)}")
    return r


def table(a, rs):
    # A failed round has no value in any row (so the report and the exit status say so).
    get = lambda k: [r.get(k) if "failed" not in r else None for r in rs]
    mb = lambda v: f"{v / 1e6:,.2f} MB/s"
    ms = lambda v: f"{v / 1000:,.2f} ms"
    s = lambda v: f"{v:,.2f} s"
    n = lambda v: f"{v:,.0f}"
    mib = lambda v: f"{v / 1024:,.0f} MiB"
    rows = ["| Measure | median | min – max (per round) |", "|---|---:|---:|",
            fmt_row("output the agents sent (pty_out, decoded bytes)", get("in_bps"), mb),
            fmt_row("**relay: bytes/s decoded by the clients** (all clients)", get("relay_bps"), mb),
            fmt_row("pty_out frames/s the agents sent (queued on their sockets)", get("frames_in_s"), n),
            fmt_row("term_out frames/s read by the clients", get("frames_out_s"), n),
            fmt_row("p50 agent PTY read → client", get("p50_us"), ms),
            fmt_row("p90 agent PTY read → client", get("p90_us"), ms),
            fmt_row("**p99 agent PTY read → client**", get("p99_us"), ms),
            fmt_row("max agent PTY read → client", get("max_us"), ms),
            fmt_row("**control-plane CPU** (share of one core)", get("cpu_pct"), lambda v: f"{v:.0f} %"),
            fmt_row("control-plane RSS idle", get("rss_idle_kb"), mib),
            fmt_row("**control-plane RSS under load** (max sampled)", get("rss_kb"), mib),
            fmt_row("steady state: seqs missing / reported as gaps / duplicated",
                    [r["steady_missing"] + r["steady_gap_reported"] + r["steady_dupes"] if "failed" not in r else None for r in rs], n),
            fmt_row(f"register {a.agents} agents", get("register_s"), s),
            fmt_row(f"create {a.agents * a.sessions:,} sessions (REST, one at a time)", get("create_s"), s),
            fmt_row("storm: every agent registered again", get("storm_agents_back_s"), s),
            fmt_row("**storm: time to recover** (every client past its agent's return)", get("storm_recover_s"), s),
            fmt_row("storm: clients recovered", get("storm_clients_recovered"), n),
            fmt_row("storm: registrations refused (1008 duplicate) and retried", get("storm_refused"), n),
            fmt_row("storm: chunks the agents resent or replayed", get("storm_resent"), n),
            fmt_row("**storm: seqs lost without notice** (missing at the clients)", get("after_missing"), n),
            fmt_row("storm: seqs reported lost (gap frames)", get("after_gap_reported"), n),
            fmt_row("storm: seqs replaced by a snapshot (resync)", get("after_resync_skipped"), n),
            fmt_row("storm: seqs duplicated", get("after_dupes"), n),
            fmt_row("storm: control-plane CPU from the storm to recovery", get("storm_cpu_s"), s),
            fmt_row("after the storm: p99 (replayed lines count from when they were made)", get("after_p99_us"), ms)]
    return rows


def report(a, results):
    out = [f"# cc-control: agents on many hosts, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", ""]
    out += provenance(a.cmdline) + [
            f"- Load: {a.agents} agents x {a.sessions} sessions, each printing one {a.chunk_bytes}-byte line every "
            f"{a.interval_ms} ms ({a.agents * a.sessions * 1000 // a.interval_ms:,} pty_out/s); {a.clients} clients, one "
            f"session each (one session in {a.agents * a.sessions // max(1, a.clients)}; /ws/client attaches one session per "
            f"socket); warm-up {a.warm:g} s, window {a.window:g} s; storm: every agent drops its TCP connection at once "
            f"(no close frame) and dials again after {a.down_ms} ms{'; agents as the original cc-agent (--legacy)' if a.legacy else ''}.",
            *([f"- ccbridge with `--max-messages-per-second {a.max_messages_per_second}`."] if a.max_messages_per_second is not None else []),
            *(["- ccbridge with `--token-db :memory:` (--state-in-memory): no state file, so no state flush."] if a.state_in_memory else []),
            "- All of it on loopback, one ccb_agent_load process (every agent and client, one thread) on the same "
            "cores as the control plane.", ""]
    for peer in a.peers:
        rs = [r for r in results if r["peer"] == peer]
        failed = [r for r in rs if "failed" in r]
        title = "ccbridge (`ccbridge serve --profiles cc-control`)" if peer == "ccbridge" else "original Go cc-control"
        section(peer)
        out += [f"## {title}", ""] + table(a, rs) + [""]
        out += [f"- Rounds: {len(rs)}, failed: {len(failed)}" + "".join(f"; round {r['round']}: {r['failed']}" for r in failed), ""]
    out += ["## Per round", ""]
    out += [f"- {r['peer']}, round {r['round']}: `{json.dumps({k: v for k, v in r.items() if k not in ('peer', 'round')})}`"
            for r in results]
    return "\n".join(out) + "\n"


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cmdline", default="tests/bench/cc_agents.sh")
    ap.add_argument("--original", help="the original Go cc-control binary, to run side by side")
    ap.add_argument("--skip-ccbridge", action="store_true")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--agents", type=int, default=50)
    ap.add_argument("--sessions", type=int, default=20, help="per agent")
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--interval-ms", type=int, default=250)
    ap.add_argument("--chunk-bytes", type=int, default=200)
    ap.add_argument("--down-ms", type=int, default=0)
    ap.add_argument("--warm", type=float, default=3.0)
    ap.add_argument("--window", type=float, default=20.0)
    ap.add_argument("--settle", type=float, default=3.0)
    ap.add_argument("--storm-timeout", type=int, default=60)
    ap.add_argument("--legacy", action="store_true")
    ap.add_argument("--state-in-memory", action="store_true", help="ccbridge without its state file (no flush)")
    ap.add_argument("--max-messages-per-second", type=int, help="ccbridge's per-connection pacing (default: its own, 100)")
    a = ap.parse_args()
    a.build = os.path.abspath(a.build)
    a.bench = os.path.join(a.build, "tests", "bench")
    a.peers = ([] if a.skip_ccbridge else ["ccbridge"]) + (["original"] if a.original else [])
    return a


def main():
    a = parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="ccb-agents-bench-") as work:
        for rnd in range(1, a.rounds + 1):
            for peer in a.peers:
                results.append(run_round(a, peer, rnd, work))
    finish(a.out, report(a, results), a.cmdline)


if __name__ == "__main__":
    main()
