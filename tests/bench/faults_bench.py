#!/usr/bin/env python3
"""Runs tests/server/test_faults.py R times with CCB_FAULT_FIGURES and reports every figure the tests
write, round by round, with medians (run it through tests/bench/faults.sh, which builds what it needs).
A test's figures are named by its non-numeric fields (test, profile, fault, point, how, host)."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import ROOT, figure, finish, fmt_value as fmt, provenance, sut  # noqa: E402


def one_round(a, rnd, work):
    """{row: {field: value}} of one pytest run, and its exit status."""
    path = os.path.join(work, f"figures-{rnd}.jsonl")
    env = dict(os.environ, CCB_FAULT_FIGURES=path, CCB_BIN=sut(a.build, "ccbridge"),
               CCB_FAULT_HOST=sut(a.build, "tests/ccb_fault_host"), CCB_FAKE_CLI=os.path.join(a.build, "tests/ccb_fake_cli"),
               CCB_FIXED_RANDOM=os.path.join(a.build, "tests/libccb_fixed_random.so"),
               CCB_MCP_TEST_SERVER=os.path.join(a.build, "tests/ccb_mcp_test_server"), CCB_SOURCE_DIR=ROOT, CCB_SANITIZED="")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/server/test_faults.py", *a.k]
    rc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=sys.stderr).returncode
    rows = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                d = json.loads(line)
                name = ", ".join(str(v) for v in d.values() if not isinstance(v, (int, float)) or isinstance(v, bool))
                rows[name] = {k: v for k, v in d.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return rows, rc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cmdline", default="tests/bench/faults.sh")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("-k", dest="select", help="pytest -k expression")
    a = ap.parse_args()
    a.k = ["-k", a.select] if a.select else []
    rounds, failed = [], []
    with tempfile.TemporaryDirectory(prefix="ccb-faults-bench-") as work:
        for rnd in range(1, a.rounds + 1):
            rows, rc = one_round(a, rnd, work)
            rounds.append(rows)
            if rc:
                failed.append(f"round {rnd}: pytest exit {rc}")
    names = list(dict.fromkeys(n for r in rounds for n in r))
    lines = ["# Gateway fault injection: the figures of tests/server/test_faults.py", "", *provenance(a.cmdline),
             f"- {a.rounds} rounds, each one run of `pytest tests/server/test_faults.py{' ' + ' '.join(a.k) if a.k else ''}` "
             "with CCB_FAULT_FIGURES; medians over the rounds (min – max, then every round). What each test does and "
             "asserts: docs/RELIABILITY.md, Fault injection (gateway). RSS in kB, times in seconds.",
             "- Failed rounds: " + ("; ".join(failed) if failed else "none"), "",
             "| test | figure | median | min – max | per round |", "|---|---|---:|---:|---|"]
    for name in names:
        fields = list(dict.fromkeys(f for r in rounds for f in r.get(name, {})))
        for field in fields:
            vals = [r.get(name, {}).get(field) for r in rounds]
            figure(f"{name}: {field}", vals)
            got = [v for v in vals if v is not None]
            med = statistics.median(got) if got else None
            rng = f"{fmt(min(got))} – {fmt(max(got))}" if got else "–"
            lines.append(f"| {name} | {field} | {fmt(med)} | {rng} | {', '.join(fmt(v) for v in vals)} |")
    finish(a.out, "\n".join(lines) + "\n", a.cmdline)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
