"""The ccbridge-guard loop (lib/process/guard.cpp, kScript), run by /bin/sh as the library runs it,
with `kill` replaced by a function that reports instead of killing: at end of input exactly the
groups still listed are killed, whatever the churn before, and no line but "+digits"/"-digits"
has any effect. The groups here are numbers only; no process is touched.

Also: with 1,000 groups live and 8,000 random removals and adds, exactly the groups still listed are
killed. How long the loop takes for that is a figure of tests/bench/gateway_bench.py (the first
version of the loop took about 33 ms a removal at that size), not a bound of this test."""
import os
import random
import re
import subprocess

SOURCE = os.path.join(os.environ.get("CCB_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")),
                      "lib", "process", "guard.cpp")


def guard_script():
    """kScript's text, decoded from its C string literal lines, run in the foreground."""
    text = open(SOURCE).read()
    body = text[text.index("constexpr const char *kScript ="):]
    body = body[:body.index(";\n")]
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', body)
    script = "".join(bytes(p, "utf-8").decode("unicode_escape") for p in parts)
    assert script.rstrip().endswith("} 0<&3 3<&- >/dev/null 2>&1 &"), script
    # As the library starts it, minus the background and the redirections; kill only reports.
    return 'kill() { echo "KILL $*"; }\n' + script.rstrip()[:-len("0<&3 3<&- >/dev/null 2>&1 &")]


def run_guard(lines, cgroup="", pids=None, timeout=600):
    """Runs the loop on `lines` ($1 = `cgroup`, $2 = a host pid, as the library starts it);
    returns the groups it killed (and the pids it killed one by one into `pids`). A loop still
    running after `timeout` seconds fails (subprocess.TimeoutExpired)."""
    p = subprocess.run(["/bin/sh", "-c", guard_script(), "ccbridge-guard", cgroup, "1"],
                       input=("\n".join(lines) + "\n").encode(), capture_output=True, env={}, timeout=timeout)
    assert p.returncode == 0, p.stderr
    killed = []
    for line in p.stdout.decode().splitlines():
        m = re.fullmatch(r"KILL -s KILL -- -(\d+)", line)
        if m is None and pids is not None and re.fullmatch(r"KILL -s KILL \d+", line):
            pids.add(int(line.split()[-1]))
            continue
        assert m, f"unexpected output: {line!r}"
        killed.append(int(m.group(1)))
    return sorted(killed)


def test_at_the_end_the_host_cgroups_are_killed_and_removed(tmp_path):
    # Stand-ins for the host's cgroups (process/cgroup.hpp; $1 is their prefix): each cgroup.kill
    # gets "1" and the (empty) cgroups under them are removed (the host's cgroups too on
    # cgroupfs, where cgroup.kill is no file); another host's are left alone.
    cg, other = tmp_path / "ccbridge-1-0", tmp_path / "ccbridge-11-0"
    (cg / "run-0").mkdir(parents=True)
    (other / "run-0").mkdir(parents=True)
    killed = run_guard(["+301"], cgroup=str(tmp_path / "ccbridge-1-"))
    assert killed == [301]
    assert (cg / "cgroup.kill").read_text() == "1\n" and not (cg / "run-0").exists()
    assert (other / "run-0").exists() and not (other / "cgroup.kill").exists()
    (cg / "cgroup.kill").unlink()
    probe = tmp_path / "ccbridge-1-1" / "probe"  # a host killed while it probed
    probe.mkdir(parents=True)
    run_guard([], cgroup=str(tmp_path / "ccbridge-1-"))
    assert not probe.exists()
    for c in (cg, tmp_path / "ccbridge-1-1"):
        (c / "cgroup.kill").unlink()
    (tmp_path / "ccbridge-1-1").rmdir()
    # Without cgroup.kill (Linux < 5.14; here: a directory in its place, so writing it fails),
    # every pid listed in a run cgroup is killed one by one.
    (cg / "cgroup.kill").mkdir(parents=True)
    for i, pids in enumerate(("11\n12\n", "13\n")):
        (cg / f"run-{i}").mkdir()
        (cg / f"run-{i}" / "cgroup.procs").write_text(pids)
    pids = set()
    # Not a cgroup, so never empty: the loop must give up on it (after a second), not wait forever.
    killed = run_guard([], cgroup=str(tmp_path / "ccbridge-1-"), pids=pids, timeout=60)
    assert killed == [] and pids == {11, 12, 13}
    assert cg.exists()


def test_kills_exactly_the_groups_still_listed():
    lines = ["+101", "+102", "+103", "-102", "+104", "-104", "+104", "-999", "+101", "-103"]
    assert run_guard(lines) == [101, 104]


def test_lines_that_are_not_a_sign_and_digits_do_nothing():
    hostile = ["+", "-", "", "garbage", "+12x", "+$(touch /tmp/ccb-guard-pwned)", "+1;kill -s KILL -- -1",
               "+`id`", "-*", "+ 5", "*", "+-5", "g_7=1"]
    assert run_guard(["+201"] + hostile + ["+202", "-201"]) == [202]
    assert not os.path.exists("/tmp/ccb-guard-pwned")


def churn(seed=4):
    """1,000 groups added, then 4,000 random removals each followed by an add: (lines, groups live at the end)."""
    rnd = random.Random(seed)
    live = list(range(100000, 101000))
    lines = [f"+{g}" for g in live]
    nxt = 200000
    for _ in range(4000):
        g = live.pop(rnd.randrange(len(live)))
        lines.append(f"-{g}")
        live.append(nxt)
        lines.append(f"+{nxt}")
        nxt += 1
    return lines, sorted(live)


def test_a_thousand_live_groups_and_heavy_churn():
    lines, live = churn()
    assert run_guard(lines) == live
