#!/usr/bin/env python3
"""The report of tests/bench/ab.sh: the figures of every run (each run's JSON, bench_common.finish)
side by side, OLD and NEW, round by round, with the medians and NEW ÷ OLD."""
import argparse
import json
import os
import statistics

from bench_common import figure, finish, fmt_value as fmt, git, provenance


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--cmdline", required=True)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--runs-dir", required=True)
    ap.add_argument("runs", nargs="+", help="SIDE:ROUND:EXIT:JSON for every run, in the order they ran")
    a = ap.parse_args()

    rounds = max(int(r.split(":")[1]) for r in a.runs)
    values = {"old": {}, "new": {}}  # side -> label -> [value per round]
    failed, labels = [], []
    for run in a.runs:
        side, rnd, rc, path = run.split(":", 3)
        rnd = int(rnd)
        figures = {}
        if os.path.exists(path):
            with open(path) as f:
                figures = json.load(f)["figures"]
        if rc != "0" or not figures:
            failed.append(f"round {rnd}, {side}: exit {rc}" + ("" if figures else ", no figures"))
        for label, vals in figures.items():
            if label not in labels:
                labels.append(label)
            values[side].setdefault(label, [None] * rounds)[rnd - 1] = vals[0] if vals else None

    short = {"old": a.old[:7], "new": a.new[:7]}
    table = [f"| Figure | OLD {short['old']}, median | NEW {short['new']}, median | NEW ÷ OLD (per-round range) |",
             "|---|---:|---:|---:|"]
    per_round = ["| Figure | " + " | ".join(f"round {i + 1}: OLD / NEW" for i in range(rounds)) + " |",
                 "|---|" + "---:|" * rounds]
    for label in labels:
        old = values["old"].get(label, [None] * rounds)
        new = values["new"].get(label, [None] * rounds)
        figure(f"OLD: {label}", old)
        figure(f"NEW: {label}", new)
        mo = statistics.median([v for v in old if v is not None]) if any(v is not None for v in old) else None
        mn = statistics.median([v for v in new if v is not None]) if any(v is not None for v in new) else None
        ratios = [n / o for o, n in zip(old, new) if o and n is not None]
        ratio = f"{mn / mo:.2f}×" if mo and mn is not None else "–"
        if len(ratios) > 1:
            ratio += f" ({min(ratios):.2f}–{max(ratios):.2f})"
        table.append(f"| {label} | {fmt(mo)} | {fmt(mn)} | {ratio} |")
        per_round.append(f"| {label} | " + " | ".join(f"{fmt(o)} / {fmt(n)}" for o, n in zip(old, new)) + " |")

    subject = lambda sha: git("log", "-1", "--format=%s", sha)[:90]  # noqa: E731
    lines = [f"# A/B: {a.bench}, {short['old']} (OLD) against {short['new']} (NEW)", "",
             *provenance(a.cmdline),
             f"- OLD: {a.old} (\"{subject(a.old)}\"); NEW: {a.new} (\"{subject(a.new)}\"); each built by "
             "tests/bench/ab.sh in a worktree of its own (RelWithDebInfo). The commit above is the harness's: the "
             "benchmark's driver, fake CLI and load clients, the same for both.",
             f"- {rounds} rounds; each round one run of the benchmark (`--rounds 1`) for each commit, OLD first in odd "
             "rounds and NEW first in even ones. Medians over the rounds; NEW ÷ OLD is the ratio of the medians of "
             "the raw values (above 1: NEW's value is higher, better for a rate, worse for a time or a size), in "
             "brackets the lowest and highest per-round ratio (a round's two runs are neighbours and share its noise).",
             f"- Each run's own report: {a.runs_dir}/round<R>-<old|new>.md",
             "- Failed runs: " + ("; ".join(failed) if failed else "none"), "",
             *table, "", "## Every round", "", *per_round, ""]
    finish(a.out, "\n".join(lines), a.cmdline)
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
