"""The Python package with the real, pinned Claude Code CLI against the offline mock of the
Messages API (run by tests/python/run.sh through netns-run.sh and with-mock-api.sh, which provide
the loopback-only namespace and the offline environment)."""

import asyncio
import json
import os
import tempfile

import pytest

import ccbridge
from ccbridge import AssistantMessage, ClaudeAgentOptions, ClaudeSDKClient, PermissionResultDeny, ResultMessage, TextBlock

REAL = os.environ.get("CCB_REAL_CLI", "")
pytestmark = pytest.mark.skipif(not REAL, reason="CCB_REAL_CLI is not set")


def options(**kw):
    return ClaudeAgentOptions(cli_path=REAL, cwd=tempfile.mkdtemp(), env={"CLAUDE_CODE_MAX_RETRIES": "0"}, **kw)


def texts(msgs):
    return [b.text for m in msgs if isinstance(m, AssistantMessage) for b in m.content if isinstance(b, TextBlock)]


def test_query_real_cli():
    msgs = list(ccbridge.query(prompt="[[reply: hello from the mock]]", options=options(max_turns=1)))
    assert msgs[0].subtype == "init" and msgs[0].data["claude_code_version"] == "2.1.330"
    assert "hello from the mock" in texts(msgs)
    assert isinstance(msgs[-1], ResultMessage) and not msgs[-1].is_error


def test_client_and_permission_callback_real_cli():
    asked = []

    async def deny(name, tool_input, ctx):
        asked.append((name, tool_input.get("command"), ctx.tool_use_id))
        return PermissionResultDeny(message="not in tests")

    async def main():
        async with ClaudeSDKClient(options(can_use_tool=deny, max_turns=2)) as c:
            await c.query("[[reply: first turn]]")
            one = [m async for m in c.receive_response()]
            await c.query("[[bash: touch denied.txt]]")
            two = [m async for m in c.receive_response()]
            return one, two

    one, two = asyncio.run(asyncio.wait_for(main(), 120))
    assert "first turn" in texts(one)
    assert asked and asked[0][:2] == ("Bash", "touch denied.txt") and asked[0][2]
    assert isinstance(two[-1], ResultMessage) and two[-1].permission_denials


def test_session_store_mirror_and_resume_real_cli():
    """The CLI's transcript reaches an InMemorySessionStore through --session-mirror, and a resume
    from the store works with the local transcript gone (the CLI reads the temporary copy)."""
    store = ccbridge.InMemorySessionStore()
    opts = options(max_turns=1, session_store=store)
    first = list(ccbridge.query(prompt="[[reply: stored turn]]", options=opts))
    result = first[-1]
    assert isinstance(result, ResultMessage) and not result.is_error
    key = {"project_key": ccbridge.project_key_for_directory(opts.cwd), "session_id": result.session_id}
    stored = asyncio.run(store.load(key))
    assert stored and any(e.get("type") == "assistant" and "stored turn" in str(e.get("message")) for e in stored)
    # The CLI's own copy goes: only the store has the session now.
    local = os.path.join(os.environ["HOME"], ".claude", "projects", key["project_key"], f"{result.session_id}.jsonl")
    os.remove(local)
    again = list(ccbridge.query(prompt="[[reply: resumed turn]]", options=ClaudeAgentOptions(
        cli_path=REAL, cwd=opts.cwd, env=opts.env, max_turns=1, session_store=store, resume=result.session_id)))
    assert again[0].data["session_id"] == result.session_id
    assert "resumed turn" in texts(again) and not again[-1].is_error
    after = asyncio.run(store.load(key))
    assert len(after) > len(stored) and "stored turn" in json.dumps(after) and "resumed turn" in json.dumps(after)
