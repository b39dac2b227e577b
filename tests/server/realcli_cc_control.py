"""cc-control (seed 004) with the real, pinned Claude Code CLI in a PTY, offline: the seed's
"minimal automation flow" (and CC-CONTROL.md 9, the original's e2e approve script): create a
session, attach, type a command that needs a permission, get approval_needed, approve without an
event_id, see awaiting_approval go false, the event resolved, the tool run and the states converge.
Run by ctest inside netns-run.sh (a loopback-only network namespace); the test starts its own mock
of the Messages API, scripted so that the typed request becomes a Bash tool call.
"""
import json
import os
import subprocess
import sys
import time

import pytest

from cc_control_common import ADMIN, Client, api, b64, client, create_session, make_token, unb64, wait_status
from conftest import run

REAL = os.environ.get("CCB_REAL_CLI", "")
SOURCE = os.environ.get("CCB_SOURCE_DIR", "")
KEY = "sk-ant-mock-key-for-the-cc-control-test"
COMMAND = "create file approve_click_fix_case"


@pytest.fixture
def mock_api(tmp_path):
    script = tmp_path / "script.json"
    script.write_text(json.dumps({COMMAND: "[[bash: touch approve_click_fix_case]]"}))
    p = subprocess.Popen([sys.executable, os.path.join(SOURCE, "tests/support/mock_anthropic.py"), "--host", "127.0.0.1",
                          "--port", "0", "--script", str(script), "--exit-on-stdin-eof"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line.startswith("PORT "), line
    yield int(line.split()[1])
    p.stdin.close()
    p.wait(10)


def offline_home(tmp_path, cwd):
    """A scratch HOME whose ~/.claude.json says the first-run questions were answered
    (CLI-OBSERVED.md, "The interactive UI in a PTY")."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".claude.json").write_text(json.dumps({
        "hasCompletedOnboarding": True,
        "projects": {str(cwd): {"hasTrustDialogAccepted": True}},
        "customApiKeyResponses": {"approved": [KEY[-20:]], "rejected": []},
    }))
    return home


def start(start_server, tmp_path, port, *extra):
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    env = {"HOME": str(offline_home(tmp_path, root.resolve())), "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}",
           "ANTHROPIC_API_KEY": KEY, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1",
           "CLAUDE_CODE_MAX_RETRIES": "0"}
    passed = [a for k in env if k != "HOME" for a in ("--pass-env", k)]
    return start_server(cli=REAL, env=env, args=["--profiles", "cc-control", "--admin-token", ADMIN,
                                                 "--token-db", str(tmp_path / "cc.db"), "--audit-path",
                                                 str(tmp_path / "audit.jsonl"), *passed, *extra])


def minimal_flow(s, expect_source):
    op = make_token(s, "ui", "operator")["token"]
    sid = create_session(s, op, s.root, env={"CC_PROFILE": "e2e"}, cols=120, rows=30)["session_id"]
    target = s.root / "approve_click_fix_case"

    async def go():
        async with client(s, op) as ws:
            c = Client(ws)
            assert (await c.next())["type"] == "debug_probe"
            await c.send(type="attach", data={"session_id": sid, "since_seq": 0})
            await c.until(lambda f: f["type"] == "attach_ok")
            await c.output_until(sid, "❯".encode(), 60)  # the UI's prompt is up
            await c.send(type="term_in", session_id=sid, data_b64=b64(COMMAND))
            await asyncio_sleep(0.3)
            await c.send(type="term_in", session_id=sid, data_b64=b64("\r"))
            ev = await c.until(lambda f: f["type"] == "event" and f["data"]["kind"] == "approval_needed"
                               and f["session_id"] == sid, 120)
            assert ev["data"]["source"] == expect_source and not ev["data"]["resolved"]
            if expect_source == "hook":
                assert ev["data"]["tool_name"] == "Bash" and "approve_click_fix_case" in json.dumps(ev["data"]["tool_input"])
            assert not target.exists()  # nothing runs before the approval
            await c.send(type="action", session_id=sid, data={"kind": "approve"})  # no event_id, as a UI click
            await c.until(lambda f: f["type"] == "session_update" and f["session_id"] == sid
                          and f["data"]["awaiting_approval"] is False, 45)
            assert not [f for f in c.frames if f["type"] == "error"], c.frames
            return ev["data"]["event_id"]

    event_id = run(go(), 240)
    sess = next(x for x in api(s, "GET", f"/api/sessions?server_id=srv-local", op)[1]["sessions"] if x["session_id"] == sid)
    assert sess["awaiting_approval"] is False and sess["status"] == "running"
    events = api(s, "GET", f"/api/sessions/{sid}/events", op)[1]["events"]
    assert [e["resolved"] for e in events if e["event_id"] == event_id] == [True]
    deadline = time.time() + 60
    while not target.exists() and time.time() < deadline:
        time.sleep(0.1)
    assert target.exists(), "the approved tool did not run"
    assert api(s, "DELETE", f"/api/sessions/{sid}", make_token(s, "ui", "owner", tenant_id=sess["tenant_id"])["token"])[0] == 200


async def asyncio_sleep(t):
    import asyncio
    await asyncio.sleep(t)


def test_the_seed_flow_with_exact_approvals(start_server, tmp_path, mock_api):
    minimal_flow(start(start_server, tmp_path, mock_api), "hook")


def test_the_seed_flow_with_the_screen_detector(start_server, tmp_path, mock_api):
    minimal_flow(start(start_server, tmp_path, mock_api, "--no-exact-approvals", "--enable-prompt-detection"), "screen")
