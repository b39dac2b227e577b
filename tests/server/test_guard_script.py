"""The ccbridge-guard loop (lib/process/guard.cpp, kScript), run by /bin/sh as the library runs it,
with `kill` replaced by a function that reports instead of killing: at end of input exactly the
groups still listed are killed, whatever the churn before, and no line but "+digits"/"-digits"
has any effect. The groups here are numbers only; no process is touched.

Also: with 1,000 groups live, 8,000 random removals and adds take a fraction of a second. The
first version of the loop took about 33 ms a removal at that size (a whole core at 33 CLI starts
a second), so its pipe filled and the host's spawns blocked; this test prints the figure and, with
that version, took minutes."""
import os
import random
import re
import subprocess
import time

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


def run_guard(lines):
    t0 = time.monotonic()
    p = subprocess.run(["/bin/sh", "-c", guard_script()], input=("\n".join(lines) + "\n").encode(),
                       capture_output=True, env={}, timeout=600)
    elapsed = time.monotonic() - t0
    assert p.returncode == 0, p.stderr
    killed = []
    for line in p.stdout.decode().splitlines():
        m = re.fullmatch(r"KILL -s KILL -- -(\d+)", line)
        assert m, f"unexpected output: {line!r}"
        killed.append(int(m.group(1)))
    return sorted(killed), elapsed


def test_kills_exactly_the_groups_still_listed():
    lines = ["+101", "+102", "+103", "-102", "+104", "-104", "+104", "-999", "+101", "-103"]
    killed, _ = run_guard(lines)
    assert killed == [101, 104]


def test_lines_that_are_not_a_sign_and_digits_do_nothing():
    hostile = ["+", "-", "", "garbage", "+12x", "+$(touch /tmp/ccb-guard-pwned)", "+1;kill -s KILL -- -1",
               "+`id`", "-*", "+ 5", "*", "+-5", "g_7=1"]
    killed, _ = run_guard(["+201"] + hostile + ["+202", "-201"])
    assert killed == [202]
    assert not os.path.exists("/tmp/ccb-guard-pwned")


def test_a_thousand_live_groups_and_heavy_churn():
    random.seed(4)
    live = list(range(100000, 101000))
    lines = [f"+{g}" for g in live]
    nxt = 200000
    for _ in range(4000):
        g = live.pop(random.randrange(len(live)))
        lines.append(f"-{g}")
        live.append(nxt)
        lines.append(f"+{nxt}")
        nxt += 1
    killed, elapsed = run_guard(lines)
    assert killed == sorted(live)
    print(f"guard loop: 1,000 groups live, 8,000 changes in {elapsed:.3f} s ({elapsed / 9000 * 1e6:.1f} us a line)")
