#!/usr/bin/env python3
"""Grades the Autobahn|Testsuite reports of tests/server/autobahn/run.sh (REPORTS/<agent>/*.json), as its
header describes: Autobahn's own verdicts for the echo harness, for the real endpoints only what
means something without an echo. Prints each failure and a line per agent; exit 1 on any failure
or a missing agent.

  tests/server/autobahn/grade.py REPORTS
"""
import glob, json, os, sys

BINARY = ("1.2.", "9.2.", "9.4.", "9.6.", "9.8.")
GOOD = ("OK", "NON-STRICT", "INFORMATIONAL")


def echo_case(d):
    return any(ev[0] == "message" for outcome in d["expected"].values() for ev in outcome)


def grade(agent, d):
    """None when the case passes, else why not."""
    case, b, bc = d["id"], d["behavior"], d["behaviorClose"]
    if case.startswith(BINARY):
        return None if d["remoteCloseCode"] == 1003 else "binary message not closed with 1003"
    if agent == "transport-echo":  # Autobahn's own verdicts
        return None if b in GOOD and bc in ("OK", "INFORMATIONAL") else f"{b}/{bc}"
    if "opening handshake was never completed" in d.get("resultClose", ""):
        return "no WebSocket connection"
    if echo_case(d):
        return None  # no echo to compare; the handshake and the server's survival are what counts
    # Pings, pongs and close handling: the endpoint's own text frames left out of what was received.
    received = [ev for ev in d["received"] if ev[0] != "message"]
    if not any(received == outcome for outcome in d["expected"].values()):
        return f"received {received}, expected one of {list(d['expected'].values())}"
    return None if bc in ("OK", "INFORMATIONAL") else f"close {bc}: {d.get('resultClose')}"


failed = 0
for agent in ("transport-echo", "sdk-ws", "tasks-ui", "opcode"):
    files = sorted(glob.glob(os.path.join(sys.argv[1], agent, "*_case_*.json")))
    if not files:
        print(f"FAILED {agent}: no reports in {os.path.join(sys.argv[1], agent)}")
        failed += 1
        continue
    ok = bad = echo = 0
    for f in files:
        d = json.load(open(f))
        why = grade(agent, d)
        if why:
            bad += 1
            print(f"FAILED {agent} {d['id']}: {why} (close {d['remoteCloseCode']} {d['remoteCloseReason']!r})")
        else:
            ok += 1
            echo += agent != "transport-echo" and echo_case(d) and not d["id"].startswith(BINARY)
    graded = f" (of which {echo} echo cases: handshake only)" if agent != "transport-echo" else ""
    print(f"autobahn {agent}: {ok} passed{graded}, {bad} failed")
    failed += bad
sys.exit(1 if failed else 0)
