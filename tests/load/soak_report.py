#!/usr/bin/env python3
"""The report of a soak (tests/load/run.sh runs it after tests/load/ccb_soak): the provenance
(tests/bench/bench_common.py), the driver's summary, a table with the median of every sample in each
minute of the load, and every sample (samples.csv as the driver wrote it, one line per 5 s)."""
import argparse
import csv
import math
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
import bench_common  # noqa: E402
from bench_common import fmt_value as fmt, provenance  # noqa: E402

# (heading, column of samples.csv, how a minute's samples become one value, scale)
COLUMNS = [("server RSS (MiB)", "rss_kb", statistics.median, 1 / 1024),
           ("fds", "fds", statistics.median, 1),
           ("threads", "threads", statistics.median, 1),
           ("live CLIs", "cli_procs", statistics.median, 1),
           ("frames/s delivered", "frames_per_s", statistics.median, 1),
           ("relay p99 (ms)", "lat_p99_ms", statistics.median, 1),
           ("slowest execute (ms)", "execute_max_ms", max, 1)]
LOADED = {"frames_per_s", "lat_p99_ms", "execute_max_ms"}  # no meaning in the idle server's samples


def minute_rows(samples):
    """(label, samples) for the idle server, each minute of the load, the drain, the end sample and
    after the linger, in that order; empty groups left out."""
    groups = [("0 (idle)", [r for r in samples if r["phase"] == "idle"])]
    load = [r for r in samples if r["phase"] == "load"]
    last = max((math.ceil(float(r["t_s"]) / 60) for r in load), default=0)
    for m in range(1, last + 1):
        groups.append((str(m), [r for r in load if max(1, math.ceil(float(r["t_s"]) / 60)) == m]))
    groups += [("drain", [r for r in samples if r["phase"] == "drain"]),
               ("end", [r for r in samples if r["phase"] == "end"]),
               ("after the linger", [r for r in samples if r["phase"] == "linger"][-1:])]
    return [(label, rows) for label, rows in groups if rows]


def minute_table(samples):
    lines = ["| minute | " + " | ".join(h for h, *_ in COLUMNS) + " | samples |",
             "|---:|" + "---:|" * len(COLUMNS) + "---:|"]
    for label, rows in minute_rows(samples):
        idle = rows[0]["phase"] not in ("load", "drain")
        cells = ["–" if idle and col in LOADED else fmt(how([float(r[col]) for r in rows]) * scale)
                 for _, col, how, scale in COLUMNS]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {len(rows)} |")
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True, help="the driver's output (samples.csv, summary.txt)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--cmdline", required=True)
    ap.add_argument("--load-at-start", required=True, help="/proc/loadavg's first three fields when the soak started")
    ap.add_argument("--status", type=int, required=True, help="ccb_soak's exit status")
    a = ap.parse_args()
    bench_common.LOAD_AT_START = a.load_at_start
    with open(os.path.join(a.dir, "samples.csv")) as f:
        samples = list(csv.DictReader(f))
    summary_path = os.path.join(a.dir, "summary.txt")
    summary = open(summary_path).read() if os.path.exists(summary_path) else "(no summary: the driver stopped early)\n"
    verdict = {0: "pass", 1: "FAIL"}.get(a.status, "setup error")
    def shown(path):  # relative to the repository when inside it
        rel = os.path.relpath(os.path.abspath(path), bench_common.ROOT)
        return path if rel.startswith("..") else rel
    md = ["# Load and soak: `ccbridge serve` (opcode) with the fake CLI", "", *provenance(a.cmdline),
          f"- Build: {shown(os.path.dirname(a.dir))} (RelWithDebInfo); the driver's files: {shown(a.dir)}",
          f"- Verdict: {verdict} (ccb_soak exit {a.status}). What is judged: docs/RELIABILITY.md, Load and soak.", "",
          "## Per minute", "",
          "The median of the samples (one every 5 s) in each minute of the load (minute m: the samples of its "
          "seconds (60 (m-1), 60 m]); slowest execute: the largest of the minute. Idle: after the warm-up run; drain: "
          "no new run, the runs in flight finishing; end: the sample once every run is over (the settled figures after the load are in the summary).", "",
          *minute_table(samples), "", "## The driver's summary", "", "```", summary.rstrip("\n"), "```", "",
          "## Every sample (samples.csv)", "", "```csv"]
    with open(os.path.join(a.dir, "samples.csv")) as f:
        md.append(f.read().rstrip("\n"))
    md.append("```")
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        f.write("\n".join(md) + "\n")
    print(f"soak report: {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
