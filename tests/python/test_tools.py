"""In-process MCP tools (@tool, create_sdk_mcp_server) against the fake CLI, which calls them with
`mcp_message` control requests: results, error results and exceptions as the SDK encodes them,
sync and async handlers with and without a running event loop, a call the CLI withdraws, and more
async calls outstanding at once than the runtime has callback threads while another session's
permission callback must still run."""

import asyncio
import json

import pytest

from ccbridge import (
    ClaudeSDKClient,
    PermissionResultAllow,
    ResultMessage,
    ToolResultBlock,
    UserMessage,
    create_sdk_mcp_server,
    query,
    tool,
)

# The runtime's callback pool (lib/detail/runtime_impl.hpp): permission callbacks, hooks and tools
# of every session of the process share these threads.
CALLBACK_THREADS = 2


def call_line(rpc_id, name, arguments=None, wait=True):
    """A script line: the CLI calls tool `name` of MCP server "calc" (send_control waits for the answer)."""
    request = {"subtype": "mcp_message", "server_name": "calc",
               "message": {"jsonrpc": "2.0", "id": rpc_id, "method": "tools/call",
                           "params": {"name": name, "arguments": arguments or {}}}}
    return f"{'send_control' if wait else 'send_control_nowait'} {json.dumps(request)}\n"


def mcp_answers(log):
    """The JSON-RPC answers the host wrote to the CLI, by JSON-RPC id."""
    out = {}
    if not log.exists():
        return out
    for line in log.read_text().splitlines():
        if '"control_response"' not in line:
            continue
        mcp = json.loads(line)["response"].get("response", {}).get("mcp_response")
        if mcp is not None:
            out[mcp["id"]] = mcp
    return out


async def collect(messages):
    return [m async for m in messages]


def calc_server(*tools):
    return {"calc": create_sdk_mcp_server("calc", tools=list(tools))}


@tool("add", "Adds two numbers", {"a": float, "b": float})
async def add(args):
    await asyncio.sleep(0.01)
    return {"content": [{"type": "text", "text": str(args["a"] + args["b"])}]}


@tool("refuse", "Answers with an error result", {})
async def refuse(args):
    return {"content": [{"type": "text", "text": "no can do"}], "is_error": True}


@tool("boom", "Raises", {})
async def boom(args):
    await asyncio.sleep(0)
    raise ValueError("kaput")


@tool("sync_add", "A plain def handler", {"a": int, "b": int})
def sync_add(args):
    return {"content": [{"type": "text", "text": str(args["a"] + args["b"])}]}


@tool("sync_boom", "A plain def handler that raises", {})
def sync_boom(args):
    raise KeyError("missing")


@tool("not_a_dict", "Returns something that is not a result", {})
async def not_a_dict(args):
    return ["oops"]


TOOLS = (add, refuse, boom, sync_add, sync_boom, not_a_dict)
CALLS = [(1, "add", {"a": 1, "b": 2}), (2, "refuse", {}), (3, "boom", {}), (4, "sync_add", {"a": 2, "b": 40}),
         (5, "sync_boom", {}), (6, "not_a_dict", {})]


def check_encoded_answers(answers):
    """As the official SDK answers (isError always present, an exception's str(e) as the text)."""
    assert sorted(answers) == [1, 2, 3, 4, 5, 6]
    assert answers[1]["result"] == {"content": [{"type": "text", "text": "3"}], "isError": False}
    assert answers[2]["result"] == {"content": [{"type": "text", "text": "no can do"}], "isError": True}
    assert answers[3]["result"] == {"content": [{"type": "text", "text": "kaput"}], "isError": True}
    assert answers[4]["result"] == {"content": [{"type": "text", "text": "42"}], "isError": False}
    assert answers[5]["result"] == {"content": [{"type": "text", "text": "'missing'"}], "isError": True}
    assert answers[6]["result"] == {"content": [{"type": "text", "text": "'list' object has no attribute 'get'"}],
                                    "isError": True}


def test_results_error_results_and_exceptions_on_the_event_loop(fake_options, tmp_path):
    log = tmp_path / "stdin.log"
    script = "".join(call_line(*c) for c in CALLS) + "serve_turns"
    options = fake_options(script, env={"CCB_FAKE_STDIN_LOG": str(log)}, mcp_servers=calc_server(*TOOLS))

    async def main():
        return [m async for m in query(prompt="go", options=options)]

    msgs = asyncio.run(asyncio.wait_for(main(), 30))
    assert isinstance(msgs[-1], ResultMessage) and msgs[-1].result == "echo: go"
    check_encoded_answers(mcp_answers(log))


def test_without_an_event_loop_async_tools_run_on_the_callback_thread(fake_options, tmp_path):
    log = tmp_path / "stdin.log"
    script = "".join(call_line(*c) for c in CALLS) + "serve_turns"
    options = fake_options(script, env={"CCB_FAKE_STDIN_LOG": str(log)}, mcp_servers=calc_server(*TOOLS))
    msgs = list(query(prompt="go", options=options))
    assert isinstance(msgs[-1], ResultMessage) and msgs[-1].result == "echo: go"
    check_encoded_answers(mcp_answers(log))


def test_a_call_the_cli_withdraws_cancels_the_coroutine_and_sends_no_answer(fake_options, tmp_path):
    log = tmp_path / "stdin.log"
    cancel = json.dumps({"type": "control_cancel_request", "request_id": "fake_req_1"})
    # The call stays outstanding until the test's first message; then the CLI withdraws it.
    script = call_line(1, "slow", wait=False) + f"wait_user\nemit {cancel}\nserve_turns"

    async def main():
        started, cancelled = asyncio.Event(), asyncio.Event()

        @tool("slow", "Waits until cancelled", {})
        async def slow(args):
            started.set()
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                cancelled.set()
                raise
            return {"content": [{"type": "text", "text": "too late"}]}

        options = fake_options(script, env={"CCB_FAKE_STDIN_LOG": str(log)}, mcp_servers=calc_server(slow))
        async with ClaudeSDKClient(options) as client:
            await asyncio.wait_for(started.wait(), 10)
            await client.query("withdraw it")
            await asyncio.wait_for(cancelled.wait(), 10)
            await client.query("after")
            return [m async for m in client.receive_response()]

    turn = asyncio.run(asyncio.wait_for(main(), 30))
    assert turn[-1].result == "echo: after"
    assert mcp_answers(log) == {}
    assert "too late" not in log.read_text() and "CancelledError" not in log.read_text()


def test_async_calls_outstanding_at_once_hold_no_callback_thread(fake_options, tmp_path):
    """More tool calls wait on the event loop than the runtime has callback threads, in several
    sessions; another session's permission callback must still run before any of them is answered.
    (With handlers that held a callback thread until done, at most CALLBACK_THREADS calls would
    start and the permission request would stay queued: this test would time out.)"""
    n = CALLBACK_THREADS + 1
    logs = [tmp_path / f"tools{i}.log" for i in range(n)]

    async def main():
        release, all_started = asyncio.Event(), asyncio.Event()
        started = []

        @tool("slow", "Waits for the test", {"n": int})
        async def slow(args):
            started.append(args["n"])
            if len(started) == n:
                all_started.set()
            await release.wait()
            return {"content": [{"type": "text", "text": f"answer {args['n']}"}]}

        clients = [ClaudeSDKClient(fake_options(call_line(7, "slow", {"n": i}) + "serve_turns",
                                                env={"CCB_FAKE_STDIN_LOG": str(logs[i])}, mcp_servers=calc_server(slow)))
                   for i in range(n)]
        asked = []

        async def allow(name, tool_input, ctx):
            asked.append(name)
            return PermissionResultAllow()

        try:
            for c in clients:
                await c.connect()
            try:
                await asyncio.wait_for(all_started.wait(), 10)
            except asyncio.TimeoutError:
                pytest.fail(f"only {len(started)} of {n} tool calls started: the others wait for a callback thread")
            try:
                permission_turn = await asyncio.wait_for(collect(query(prompt="go", options=fake_options(
                    'permission_turn Bash {"command":"ls"}', can_use_tool=allow))), 10)
            except asyncio.TimeoutError:
                pytest.fail("the permission callback did not run while the tool calls waited")
            outstanding = {i for i in range(n) if not mcp_answers(logs[i])}
            release.set()
            turns = []
            for c in clients:
                await c.query("after")
                turns.append(await collect(c.receive_response()))
            return permission_turn, asked, outstanding, sorted(started), turns
        finally:
            release.set()  # on failure too, so that everything unwinds
            for c in clients:
                await c.disconnect()

    permission_turn, asked, outstanding, started, turns = asyncio.run(asyncio.wait_for(main(), 30))
    assert asked == ["Bash"]
    results = [b for m in permission_turn if isinstance(m, UserMessage) for b in m.content if isinstance(b, ToolResultBlock)]
    assert results[0].content == 'ran Bash with {"command":"ls"}' and not results[0].is_error
    assert outstanding == set(range(n))  # the permission flow completed while every call waited
    assert started == list(range(n))
    for i in range(n):
        assert turns[i][-1].result == "echo: after"
        assert mcp_answers(logs[i])[7]["result"] == {"content": [{"type": "text", "text": f"answer {i}"}], "isError": False}
