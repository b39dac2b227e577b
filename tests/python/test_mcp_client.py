"""ccbridge.McpClient against the MCP test server (tests/support/mcp_test_server.cpp) over stdio
and Streamable HTTP: connect, typed tools, calls and results, a timeout and a cancelled task both
cancelled at the server, a crash and restart, closing, bad input, and no process left behind."""

import asyncio
import os
import subprocess

import pytest

import ccbridge
from ccbridge import McpClient, McpServerSpec
from conftest import MCP_SERVER


def run(coro, timeout=30):
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.fixture
def server(tag):
    """McpServerSpec fields for the stdio test server; its processes carry the test's tag."""
    if not MCP_SERVER or not os.path.exists(MCP_SERVER):
        pytest.skip("the MCP test server is not built (set CCB_MCP_TEST_SERVER)")
    return {"name": "test", "command": MCP_SERVER, "env": {"CCB_TEST_TAG": tag}}


@pytest.fixture
def http_url(tag):
    """The test server on Streamable HTTP (a free port); killed after the test."""
    if not MCP_SERVER or not os.path.exists(MCP_SERVER):
        pytest.skip("the MCP test server is not built (set CCB_MCP_TEST_SERVER)")
    p = subprocess.Popen([MCP_SERVER, "--http", "0"], stdout=subprocess.PIPE, env={**os.environ, "CCB_TEST_TAG": tag})
    line = p.stdout.readline().decode()
    assert line.startswith("listening "), line
    yield f"http://127.0.0.1:{line.split()[1]}/mcp"
    p.kill()
    p.wait()


async def server_stat(mcp, key, want):
    """The test server's stats[key] (cancelled: slow calls cancelled so far; sleeping: those under
    way) once it reaches `want` (or 5 s pass)."""
    seen = -1
    for _ in range(500):
        seen = (await mcp.call_tool("stats")).structured_content[key]
        if seen >= want:
            break
        await asyncio.sleep(0.01)
    return seen


async def core_cases(mcp):
    assert mcp.state == "ready"
    info = mcp.server_info
    assert (info.protocol_version, info.name, info.version, info.instructions) == ("2025-06-18", "ccb-test", "1.2", "for tests")
    assert "tools" in info.capabilities

    tools = await mcp.list_tools()
    assert [t.name for t in tools][:3] == ["echo", "add", "slow"]
    add = tools[1]
    assert isinstance(add, ccbridge.McpTool)
    assert add.title == "Add" and add.description == "Adds a and b."
    assert add.input_schema["required"] == ["a", "b"]
    assert add.output_schema == {"type": "object", "properties": {"sum": {"type": "number"}}}
    assert add.annotations == {"readOnlyHint": True}
    assert tools[0].title is None and tools[0].output_schema is None and tools[0].annotations is None

    r = await mcp.call_tool("add", {"a": 2, "b": 3})
    assert r.structured_content == {"sum": 5} and r.is_error is False and r.elapsed > 0
    assert r.content[0]["type"] == "text"
    echo = await mcp.call_tool("echo", {"x": [1, "two"], "u": "é"})
    assert echo.content == [{"type": "text", "text": '{"x":[1,"two"],"u":"é"}'}] and echo.structured_content is None
    assert (await mcp.call_tool("fail")).is_error is True
    with pytest.raises(ccbridge.ProcessError) as e:  # a JSON-RPC error
        await mcp.call_tool("nope", {})
    assert e.value.code == "process_failed" and "unknown tool nope" in str(e.value)
    assert await mcp.ping() > 0

    # Several calls in flight at once, answered independently.
    sums = await asyncio.gather(*(mcp.call_tool("add", {"a": i, "b": 1}) for i in range(20)))
    assert [s.structured_content["sum"] for s in sums] == [i + 1 for i in range(20)]

    # A timeout: ControlTimeoutError here, notifications/cancelled at the server.
    with pytest.raises(ccbridge.ControlTimeoutError) as e:
        await mcp.call_tool("slow", {"ms": 10000}, timeout=0.2)
    assert e.value.code == "timeout"
    assert await server_stat(mcp, "cancelled", 1) == 1

    # Cancelling the awaiting task cancels the call at the server.
    task = asyncio.ensure_future(mcp.call_tool("slow", {"ms": 10000}))
    assert await server_stat(mcp, "sleeping", 1) == 1  # the call is under way at the server
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await server_stat(mcp, "cancelled", 2) == 2
    with pytest.raises(asyncio.TimeoutError):  # wait_for cancels the inner call the same way
        await asyncio.wait_for(mcp.call_tool("slow", {"ms": 10000}), 0.2)
    assert await server_stat(mcp, "cancelled", 3) == 3
    assert mcp.state == "ready"


def test_mcp_stdio_list_call_timeout_cancel(server):
    async def main():
        async with McpClient(**server) as mcp:
            await core_cases(mcp)
        assert mcp.state == "closed"

    run(main())


def test_mcp_http_list_call_timeout_cancel(http_url):
    async def main():
        mcp = await McpClient.connect(McpServerSpec(name="http", url=http_url, headers={"X-Test": "1"}))
        try:
            await core_cases(mcp)
            assert (await mcp.restart()).name == "ccb-test"  # a new HTTP session
            assert (await mcp.call_tool("add", {"a": 20, "b": 22})).structured_content == {"sum": 42}
        finally:
            await mcp.close()

    run(main())


def test_mcp_crash_and_restart(server):
    async def main():
        mcp = await McpClient.connect(**server)
        slow = asyncio.ensure_future(mcp.call_tool("slow", {"ms": 10000}))
        with pytest.raises(ccbridge.ProcessError) as e:
            await mcp.call_tool("crash")
        assert e.value.code == "process_failed" and "crashing on purpose" in str(e.value)
        with pytest.raises(ccbridge.ProcessError):  # the call in flight fails with it
            await slow
        assert mcp.state == "failed" and "exit code 3" in mcp.last_error
        with pytest.raises(ccbridge.ProcessError, match="restart"):
            await mcp.list_tools()

        info = await mcp.restart()
        assert info.name == "ccb-test" and mcp.state == "ready" and mcp.last_error == ""
        assert (await mcp.call_tool("add", {"a": 1, "b": 1})).structured_content == {"sum": 2}

        # Restart of a ready client with a call in flight: the call fails with "closed".
        slow = asyncio.ensure_future(mcp.call_tool("slow", {"ms": 10000}))
        await asyncio.sleep(0.1)
        await mcp.restart()
        with pytest.raises(ccbridge.CLIConnectionError) as e:
            await slow
        assert e.value.code == "closed"

        await mcp.close()
        await mcp.close()  # idempotent
        assert mcp.state == "closed"
        with pytest.raises(ccbridge.CLIConnectionError):
            await mcp.call_tool("echo")

    run(main())


def test_mcp_bad_input(server, tmp_path):
    async def main():
        with pytest.raises(ccbridge.CLINotFoundError):
            await McpClient.connect(command=str(tmp_path / "no-such-server"))
        with pytest.raises(ccbridge.InvalidOptionError, match="exactly one of command"):
            await McpClient.connect(name="neither")
        with pytest.raises(ccbridge.InvalidOptionError, match="timeout"):
            McpClient(command="x", timeout=0)
        with pytest.raises(ccbridge.InvalidOptionError, match="either a McpServerSpec"):
            McpClient(McpServerSpec(command="x"), command="y")
        with pytest.raises(ccbridge.InvalidOptionError, match="https"):
            await McpClient.connect(url="https://127.0.0.1:1/mcp")
        with pytest.raises(ccbridge.ProcessError):  # exits before answering initialize
            await McpClient.connect(command="/bin/false")

        async with McpClient(**server) as mcp:
            with pytest.raises(ccbridge.InvalidOptionError):
                await mcp.call_tool("echo", ["not", "a", "dict"])  # type: ignore[arg-type]
            with pytest.raises(ccbridge.InvalidOptionError):
                await mcp.call_tool("echo", {"x": object()})
            with pytest.raises(ccbridge.InvalidOptionError):
                await mcp.call_tool("echo", {}, timeout=-1)
            with pytest.raises(ccbridge.InvalidOptionError, match="started already"):
                await mcp.start()
            assert (await mcp.call_tool("echo", {"still": "fine"})).is_error is False

    run(main())


def test_mcp_cancelled_connect_leaves_nothing(server):
    async def main():
        task = asyncio.ensure_future(McpClient.connect(**server))
        await asyncio.sleep(0)  # the connect is under way
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())  # the tag fixture checks that the server did not outlive its client
