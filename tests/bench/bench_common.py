"""What every benchmark report carries (the scripts run through tests/bench/*.sh, which source
common.sh): the provenance (command, commit, date, machine, load average), the figures of every row
round by round in a JSON file beside the report (tests/bench/ab.sh reads it), and the exit status:
non-zero when a row lacks a value in some round, so that a smoke run fails when a row breaks."""
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def git(*args):
    out = subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else "?"


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({model}), {mem_gib:.0f} GiB, Linux {os.uname().release}"


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


LOAD_AT_START = load_average()


def sut(build, rel):
    """A program of the system under test (ccbridge, or a bench program linked with the library): from
    CCB_BENCH_SUT_DIR when tests/bench/ab.sh measures another commit's build, else from build. The
    harness (fake CLI, stand-in terminal, load clients) always comes from build."""
    return os.path.join(os.environ.get("CCB_BENCH_SUT_DIR") or build, rel)


def provenance(cmdline):
    """The report's first lines: command, commit (and whether the tree differs), date, machine, load."""
    dirty = " with uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else ""
    lines = [f"- Command: `{cmdline}`",
             f"- Commit: {git('rev-parse', '--short', 'HEAD')}{dirty} (\"{git('log', '-1', '--format=%s')[:90]}\")",
             f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
             f"- Machine: {machine()}",
             f"- Load average (1, 5, 15 min) at the start: {LOAD_AT_START}; at the end: {load_average()}"]
    if os.environ.get("CCB_BENCH_SUT_DIR"):
        lines.append(f"- Measured: the ccbridge of {os.environ.get('CCB_BENCH_SUT_COMMIT', '?')} "
                     f"({os.environ['CCB_BENCH_SUT_DIR']}); the harness (fake CLI, load clients) of this tree")
    return lines


def fmt_value(v):
    """A figure in a table: 3 significant digits, thousands separated; – for none."""
    return "–" if v is None else (f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}")


FIGURES = {}  # row label -> its value in each round (None: that round gave none)
_section = ""


def section(name):
    """Labels of the rows recorded from now on start with name (tables with the same row labels)."""
    global _section
    _section = f"{name}: " if name else ""


def figure(label, values):
    key = _section + label.replace("**", "")
    assert key not in FIGURES, f"two rows named {key!r}"
    FIGURES[key] = [v if v is None else float(v) for v in values]


def finish(out, markdown, cmdline):
    """Writes the report and its figures (OUT with .json for .md), prints the report; exits 1 naming the
    rows without a value in some round."""
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        f.write(markdown)
    with open(os.path.splitext(out)[0] + ".json", "w") as f:
        json.dump({"provenance": provenance(cmdline), "figures": FIGURES}, f, indent=1)
    sys.stdout.write(markdown)
    failed = [label for label, vals in FIGURES.items() if not vals or any(v is None for v in vals)]
    if failed:
        print(f"{len(failed)} row(s) without a value in some round: " + "; ".join(failed), file=sys.stderr)
        sys.exit(1)
