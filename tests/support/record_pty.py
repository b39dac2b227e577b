#!/usr/bin/env python3
"""Records the real Claude Code CLI's interactive UI in a PTY, offline, against mock_anthropic.py.

Usage (from the repository root; netns-run.sh keeps everything on loopback when it can):
    tests/support/netns-run.sh python3 tests/support/record_pty.py \
        --cli "$(tests/support/claude-cli.sh)" --scenario approve --out tests/fixtures/pty/approve.jsonl

Scenarios (the CLI runs with --permission-mode default in a scratch HOME and cwd):
    approve   types "create file approve_click_fix_case" (the mock answers with a Bash tool_use
              `touch approve_click_fix_case`), waits for the permission menu, presses Enter
    reject    the same, but presses Esc
    source    asks for code; the mock answers with source code full of words the original
              detector took for prompts (approve, reject, confirm, continue?, "Do you want to")
Each run ends with Ctrl-C twice (the CLI exits and may print its resume hint).

Output: JSON lines. The first is a header {"format": "ccbridge-pty/1", scenario, cols, rows,
argv, cli_version}; then one object per event, in order:
    {"t": ms, "out": base64}   one read() of the PTY master (at most 4096 bytes, as the agent reads)
    {"t": ms, "in": base64}    bytes written to the PTY (keystrokes)
    {"t": ms, "mark": name}    a step of the scenario ("ready", "menu", "answered", "done")
Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time

HERE = os.path.dirname(os.path.abspath(__file__))
API_KEY = "sk-mock-recording-key-0123456789"

SOURCE_CODE = """Here is the review helper:

def approve(request):
    # confirm the reviewer before we continue
    if not request.confirmed:
        return reject(request, "not confirmed")
    should_continue = request.retries < 3
    label = "Continue?" if should_continue else "Stop"
    print("Do you want to merge this change?")
    print("Proceed (y/n)", "[y/N]")
    return approve_all(request) if should_continue else None

Run it with: python3 review.py --approve"""

SCENARIOS = {
    "approve": {"prompt": "create file approve_click_fix_case", "answer": "\r"},
    "reject": {"prompt": "create file approve_click_fix_case", "answer": "\x1b"},
    "source": {"prompt": "show me the review helper", "answer": None},
}
MOCK_SCRIPT = {
    "create file approve_click_fix_case": "[[bash: touch approve_click_fix_case]]",
    "show me the review helper": "[[reply: " + SOURCE_CODE + "]]",
}

_ESC_RE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|"
                     r"\x1b[PX^_].*?\x1b\\|\x1b[()*+].|\x1b[ -/]*[0-~]", re.S)


def plain(data: bytes) -> str:
    """Rough text of the output, for the scenario's waits only."""
    return _ESC_RE.sub(" ", data.decode("utf-8", "replace"))


class Recorder:
    def __init__(self, fd: int, out):
        self.fd, self.out, self.t0, self.buf = fd, out, time.monotonic(), b""

    def emit(self, **kv):
        kv = {"t": int((time.monotonic() - self.t0) * 1000), **kv}
        self.out.write(json.dumps(kv) + "\n")

    def pump(self, timeout: float) -> bool:
        """Reads what arrives within timeout; False when nothing did (or the child is gone)."""
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return False
        try:
            data = os.read(self.fd, 4096)
        except OSError:
            data = b""
        if not data:
            raise EOFError
        self.buf += data
        self.emit(out=base64.b64encode(data).decode())
        return True

    def send(self, data: str):
        raw = data.encode()
        self.emit(**{"in": base64.b64encode(raw).decode()})
        os.write(self.fd, raw)

    def wait_for(self, needles, since: int, timeout: float = 60.0):
        deadline = time.monotonic() + timeout
        while not all(n in plain(self.buf[since:]) for n in needles):
            if time.monotonic() > deadline:
                raise TimeoutError(f"waiting for {needles!r}; got {plain(self.buf[since:])[-2000:]!r}")
            self.pump(0.2)

    def drain(self, seconds: float):
        """Reads for `seconds` (a settled screen; the UI blinks a bullet while it waits, so
        waiting for silence would not end)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.pump(left)


def start_mock(workdir: str):
    script = os.path.join(workdir, "mock-script.json")
    with open(script, "w", encoding="utf-8") as f:
        json.dump(MOCK_SCRIPT, f)
    mock = subprocess.Popen([sys.executable, os.path.join(HERE, "mock_anthropic.py"), "--port", "0",
                             "--exit-on-stdin-eof", "--script", script],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    port = mock.stdout.readline().split()[1]
    return mock, port


def prepare_home(home: str, cwd: str):
    """The ~/.claude.json entries that skip the first-run screens (CLI-OBSERVED.md)."""
    os.makedirs(home, exist_ok=True)
    cfg = {"hasCompletedOnboarding": True,
           "projects": {cwd: {"hasTrustDialogAccepted": True}},
           "customApiKeyResponses": {"approved": [API_KEY[-20:]], "rejected": []}}
    with open(os.path.join(home, ".claude.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f)


def child_env(home: str, port: str) -> dict:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "TERM": "xterm-256color",
            "LANG": "C.UTF-8", "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}",
            "ANTHROPIC_API_KEY": API_KEY, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1", "CLAUDE_CODE_MAX_RETRIES": "0"}


def spawn(argv, env, cwd, cols, rows):
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(cwd)
        os.execve(argv[0], argv, env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    return pid, fd


def run_scenario(rec: Recorder, name: str, cwd: str):
    sc = SCENARIOS[name]
    rec.wait_for(["\u276f"], 0)
    rec.drain(1.0)
    rec.emit(mark="ready")
    start = len(rec.buf)
    rec.send(sc["prompt"])
    time.sleep(0.12)
    rec.send("\r")
    if sc["answer"] is None:
        rec.wait_for(["approve_all"], start)
    else:
        rec.wait_for(["Do you want", "Esc to cancel"], start)
        rec.drain(1.0)
        rec.emit(mark="menu")
        rec.send(sc["answer"])
        rec.emit(mark="answered")
        if name == "approve":
            rec.wait_for(["Tool result"], start)
    rec.drain(1.5)
    rec.emit(mark="done")


def finish(rec: Recorder, pid: int):
    """Ctrl-C twice: the CLI exits (and may print how to resume)."""
    try:
        for _ in range(2):
            rec.send("\x03")
            rec.drain(0.5)
        while rec.pump(5.0):
            pass
    except (EOFError, OSError):
        pass
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    ap.add_argument("--out", required=True)
    ap.add_argument("--cols", type=int, default=120)
    ap.add_argument("--rows", type=int, default=40)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ccb-record-") as work:
        home, cwd = os.path.join(work, "home"), os.path.join(work, "project")
        os.makedirs(cwd)
        prepare_home(home, cwd)
        mock, port = start_mock(work)
        argv = [args.cli, "--permission-mode", "default"]
        version = subprocess.run([args.cli, "--version"], capture_output=True, text=True).stdout.strip()
        with open(args.out, "w", encoding="utf-8") as out:
            out.write(json.dumps({"format": "ccbridge-pty/1", "scenario": args.scenario, "cols": args.cols,
                                  "rows": args.rows, "argv": ["claude", *argv[1:]],
                                  "cli_version": version}) + "\n")
            pid, fd = spawn(argv, child_env(home, port), cwd, args.cols, args.rows)
            rec = Recorder(fd, out)
            try:
                run_scenario(rec, args.scenario, cwd)
            finally:
                finish(rec, pid)
        mock.stdin.close()
        mock.wait(timeout=10)
        created = os.path.exists(os.path.join(cwd, "approve_click_fix_case"))
        print(f"record_pty: {args.scenario}: {args.out} (file created: {created})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
