"""The async API under trio, directly and through anyio, as the official SDK supports it: query()
and ClaudeSDKClient, with async permission callbacks, hooks and in-process tools running on the
trio loop, cancellation, and no process left behind."""

import pytest

trio = pytest.importorskip("trio")
anyio = pytest.importorskip("anyio")

from ccbridge import (  # noqa: E402  (after the skips)
    AssistantMessage,
    ClaudeSDKClient,
    HookMatcher,
    PermissionResultAllow,
    PermissionResultDeny,
    ResultMessage,
    TextBlock,
    ToolResultBlock,
    UserMessage,
    create_sdk_mcp_server,
    query,
    tool,
)

from conftest import tagged_pids  # noqa: E402

PERMISSION = 'permission_turn Bash {"command":"ls"}'
TIMEOUT = 30


def texts(messages):
    return [b.text for m in messages if isinstance(m, AssistantMessage) for b in m.content if isinstance(b, TextBlock)]


def tool_results(messages):
    return [b for m in messages if isinstance(m, UserMessage) for b in m.content if isinstance(b, ToolResultBlock)]


def on_trio(fn, *args):
    async def bounded():
        with trio.fail_after(TIMEOUT):
            return await fn(*args)

    return trio.run(bounded)


@pytest.mark.parametrize("runner", ["trio", "anyio-trio"])
def test_query_under_trio(fake_options, tag, runner):
    async def main():
        plain = [m async for m in query(prompt="hello", options=fake_options("serve_turns"))]
        seen = []

        async def deny(name, tool_input, ctx):
            await trio.sleep(0.01)  # a trio-only call: this runs on the trio loop
            seen.append(name)
            return PermissionResultDeny(message="not under trio")

        asked = [m async for m in query(prompt="go", options=fake_options(PERMISSION, can_use_tool=deny))]
        return plain, seen, asked

    if runner == "trio":
        plain, seen, asked = on_trio(main)
    else:
        plain, seen, asked = anyio.run(main, backend="trio")
    assert texts(plain) == ["echo: hello"] and isinstance(plain[-1], ResultMessage)
    assert seen == ["Bash"]
    assert tool_results(asked)[0].content == "not under trio" and tool_results(asked)[0].is_error
    assert tagged_pids(tag) == []


def test_client_under_trio_two_turns_hooks_and_tools(fake_options, tag, tmp_path):
    calls = []

    @tool("add", "Adds", {"a": int, "b": int})
    async def add(args):
        await trio.sleep(0.01)
        return {"content": [{"type": "text", "text": str(args["a"] + args["b"])}]}

    async def pre(data, tool_use_id, ctx):
        await trio.sleep(0.01)
        calls.append(data.get("hook_event_name"))
        return {}

    server = create_sdk_mcp_server("calc", tools=[add])
    script = "\n".join([
        'send_control {"subtype":"hook_callback","callback_id":"hook_0","input":{"hook_event_name":"PreToolUse"}}',
        'send_control {"subtype":"mcp_message","server_name":"calc","message":{"jsonrpc":"2.0","id":1,'
        '"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3}}}}',
        "serve_turns",
    ])

    stdin_log = tmp_path / "stdin.log"

    async def main():
        options = fake_options(script, mcp_servers={"calc": server}, env={"CCB_FAKE_STDIN_LOG": str(stdin_log)},
                               hooks={"PreToolUse": [HookMatcher(matcher=None, hooks=[pre])]})
        async with ClaudeSDKClient(options=options) as client:
            await client.query("first")
            first = [m async for m in client.receive_response()]
            await client.query("second")
            second = [m async for m in client.receive_response()]
        return first, second

    first, second = on_trio(main)
    assert texts(first) == ["echo: first"] and texts(second) == ["echo: second"]
    assert calls == ["PreToolUse"]
    # The tool's answer, computed on the trio loop, reached the CLI.
    assert any('"text":"5"' in line and '"mcp_response"' in line for line in stdin_log.read_text().splitlines())
    assert tagged_pids(tag) == []


def test_a_cancelled_trio_query_ends_its_process(fake_options, tag):
    async def main():
        got = []
        with trio.move_on_after(0.5):
            async for m in query(prompt="go", options=fake_options("serve_turns\nhang",
                                                                     can_use_tool=lambda *a: PermissionResultAllow())):
                got.append(m)
        return got

    got = on_trio(main)
    assert isinstance(got[-1], ResultMessage)  # the turn came, then the CLI hung until cancelled
    assert tagged_pids(tag) == []
