"""GET /v1/monitoring/metrics over D days of seeded minute samples (see platform_metrics.sh):
response time per time range and granularity (all eight metrics), and the store's size."""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import figure, finish, provenance, sut  # noqa: E402

CASES = [("1h", "1m"), ("1h", "5m"), ("6h", "5m"), ("24h", "5m"), ("24h", "1h"), ("7d", "1h"), ("30d", "1h"),
         ("30d", "1d")]
SECRET = "bench-secret-0123456789abcdef0123456789"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url, token=None, body=None):
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cmdline", default="")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--requests", type=int, default=50)
    ap.add_argument("--days", type=int, default=30)
    a = ap.parse_args()
    ccb = sut(a.build, "ccbridge")
    seed = sut(a.build, "tests/bench/ccb_platform_metrics_seed")
    tmp = tempfile.mkdtemp(prefix="ccb-metrics-bench-")
    db = os.path.join(tmp, "platform.db")
    seeded = json.loads(subprocess.run([seed, db, str(a.days)], check=True, capture_output=True, text=True).stdout)
    subprocess.run([ccb, "users", "add", "bench@example.com", "--password-stdin", "--permissions", "all",
                    "--password-cost", "10", "--db", db], input="bench-password\n", check=True, capture_output=True, text=True)
    port = free_port()
    srv = subprocess.Popen([ccb, "serve", "--profiles", "platform", "--port", str(port), "--db", db, "--jwt-secret", SECRET,
                            "--requests-per-hour", "100000000"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                token = call(base + "/auth/login", body={"email": "bench@example.com", "password": "bench-password"})["data"]["token"]
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        rows = {}
        for rng, g in CASES:
            url = f"{base}/monitoring/metrics?timeRange={rng}&granularity={g}"
            points = sum(len(v) for v in call(url, token)["data"]["metrics"].values())
            per_round = []
            for _ in range(a.rounds):
                t = []
                for _ in range(a.requests):
                    t0 = time.perf_counter()
                    call(url, token)
                    t.append((time.perf_counter() - t0) * 1000)
                per_round.append(statistics.median(t))
            rows[(rng, g)] = (points, per_round)
    finally:
        srv.terminate()
        srv.wait(timeout=30)
    lines = [f"# /v1/monitoring/metrics over {a.days} days of minute samples", "", *provenance(a.cmdline),
             f"- seeded: {seeded['minutes']} minutes x 8 metrics in {seeded['seed_s']} s (one transaction a minute); "
             f"roll-up and pruning {seeded['rollup_prune_s']} s in {seeded['rollup_calls']} calls",
             f"- store: {seeded['bytes_all_minutes'] / 1e6:.1f} MB with every minute row, "
             f"{seeded['bytes_after_prune'] / 1e6:.1f} MB after pruning (file pages are reused, not returned)", "",
             f"Median response time (ms) of {a.requests} sequential requests per round, all eight metrics:", "",
             "| timeRange | granularity | points | " + " | ".join(f"round {i + 1}" for i in range(a.rounds)) + " | median |",
             "|---|---|---|" + "---|" * (a.rounds + 1)]
    for (rng, g), (points, per_round) in rows.items():
        figure(f"timeRange={rng} granularity={g}: median ms", per_round)
        lines.append(f"| {rng} | {g} | {points} | " + " | ".join(f"{v:.2f}" for v in per_round) +
                     f" | {statistics.median(per_round):.2f} |")
    finish(a.out, "\n".join(lines) + "\n", a.cmdline)


if __name__ == "__main__":
    main()
