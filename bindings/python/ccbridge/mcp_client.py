"""McpClient: the tools of an external Model Context Protocol server, from asyncio.

    from ccbridge import McpClient
    async with McpClient(command="npx", args=["-y", "@modelcontextprotocol/server-everything"]) as mcp:
        for tool in await mcp.list_tools():
            print(tool.name, tool.input_schema)
        result = await mcp.call_tool("add", {"a": 1, "b": 2}, timeout=5)
        print(result.content, result.structured_content, result.is_error)

The engine's ccbridge::McpClient (docs/MCP.md) does the work on its own I/O threads: no call here
blocks the event loop or holds an executor thread while it waits, except close(), which waits for
the server to end on an executor thread. Cancelling the task that awaits call_tool() cancels the
call at the server (notifications/cancelled). Errors are the package's exceptions with the
engine's code on ``.code``: ControlTimeoutError ("timeout"), ProcessError ("process_failed": the
server exited, or answered with a JSON-RPC error), CLIConnectionError ("closed", "io_error",
"spawn_failed"), CLINotFoundError (the command), InvalidOptionError (a bad spec or arguments).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from . import _ccbridge
from ._engine import call, track
from ._errors import ClaudeSDKError, InvalidOptionError, from_engine


@dataclass(frozen=True)
class McpServerSpec:
    """How to reach one MCP server: ``command`` (stdio: a child process) or ``url`` (Streamable
    HTTP), not both. Timeouts are in seconds."""

    name: str = "mcp"
    command: Optional[str] = None
    args: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Optional[str] = None
    url: Optional[str] = None
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 60.0  # default for each request
    connect_timeout: float = 10.0  # start + initialize
    max_message_bytes: int = 16 * 1024 * 1024

    def to_json(self) -> str:
        """The engine's spec (ccbridge::mcp_server_spec_from_json)."""
        d = asdict(self)
        for key in ("timeout", "connect_timeout"):
            value = d.pop(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise InvalidOptionError(f"McpServerSpec.{key} must be a positive number of seconds")
            d["request_timeout_ms" if key == "timeout" else "connect_timeout_ms"] = max(1, int(value * 1000))
        d["args"] = list(self.args)
        d["env"] = dict(self.env)
        d["headers"] = dict(self.headers)
        return json.dumps(d, ensure_ascii=False)


@dataclass(frozen=True)
class McpTool:
    """One tool of ``tools/list``."""

    name: str
    title: Optional[str]
    description: Optional[str]
    input_schema: Dict[str, Any]
    output_schema: Optional[Dict[str, Any]]
    annotations: Optional[Dict[str, Any]]


@dataclass(frozen=True)
class McpCallResult:
    """One ``tools/call`` result. A tool that failed is a result with ``is_error``, not an exception."""

    content: List[Dict[str, Any]]
    structured_content: Any
    is_error: bool
    elapsed: float  # seconds, request to answer


@dataclass(frozen=True)
class McpInitializeResult:
    """What ``initialize`` answered."""

    protocol_version: str
    name: str
    version: str
    capabilities: Dict[str, Any]
    instructions: str


def _settle(fut: "asyncio.Future[Any]", err: Any, value: Any) -> None:
    if fut.done():  # cancelled meanwhile
        return
    if err is not None:
        fut.set_exception(from_engine(err))
    else:
        fut.set_result(value)


def _bridge(loop: asyncio.AbstractEventLoop, fut: "asyncio.Future[Any]") -> Callable[[Any, Any], None]:
    """The engine's done(error, value), run on a ccbridge I/O thread: hands over to the loop."""

    def done(err: Any, value: Any) -> None:
        try:
            loop.call_soon_threadsafe(_settle, fut, err, value)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    return done


def _timeout(timeout: Optional[float]) -> Optional[float]:
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0):
        raise InvalidOptionError("timeout must be a positive number of seconds (or None: the spec's timeout)")
    return None if timeout is None else float(timeout)


class McpClient:
    """A client of one MCP server: ``await McpClient.connect(...)``, or ``async with
    McpClient(...) as mcp`` (connects on entry, closes on exit). Use it from one event loop at a
    time; any number of calls may be in flight at once."""

    def __init__(
        self,
        spec: Optional[McpServerSpec] = None,
        *,
        name: str = "mcp",
        command: Optional[str] = None,
        args: Sequence[str] = (),
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        url: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        max_message_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        """Not connected yet: see start(). Either a spec or its fields (timeouts in seconds)."""
        if spec is None:
            spec = McpServerSpec(name=name, command=command, args=tuple(args), env=dict(env or {}), cwd=cwd, url=url,
                                 headers=dict(headers or {}), timeout=timeout, connect_timeout=connect_timeout,
                                 max_message_bytes=max_message_bytes)
        elif command is not None or url is not None:
            raise InvalidOptionError("pass either a McpServerSpec or its fields, not both")
        self.spec = spec
        self._spec_json = spec.to_json()
        self._started = False
        self._engine = track(_ccbridge.McpClient())

    @classmethod
    async def connect(cls, spec: Optional[McpServerSpec] = None, **fields: Any) -> "McpClient":
        """A started client: ``McpClient(spec, **fields)``, then start()."""
        client = cls(spec, **fields)
        await client.start()
        return client

    async def start(self) -> McpInitializeResult:
        """Starts (or reaches) the server and initializes it. Once only."""
        if self._started:
            raise InvalidOptionError("this McpClient was started already (restart() starts over)")
        self._started = True
        try:
            await self._request(lambda done: self._engine.connect(self._spec_json, done))
        except BaseException:
            self._engine.close()  # a connect still under way drops its client when it completes
            raise
        return self.server_info

    async def _request(self, start: Callable[[Callable[[Any, Any], None]], Any],
                       on_cancel: Optional[Callable[[Any], None]] = None) -> Any:
        loop = asyncio.get_running_loop()
        fut: "asyncio.Future[Any]" = loop.create_future()
        handle = call(start, _bridge(loop, fut))
        try:
            return await fut
        except asyncio.CancelledError:
            if on_cancel is not None:
                on_cancel(handle)
            raise

    async def list_tools(self, timeout: Optional[float] = None) -> List[McpTool]:
        """Every tool (all pages); ``timeout`` (seconds) covers all pages together."""
        t = _timeout(timeout)
        tools = await self._request(lambda done: self._engine.list_tools(done, t))
        return [McpTool(**d) for d in tools]

    async def call_tool(self, name: str, arguments: Optional[Mapping[str, Any]] = None,
                        timeout: Optional[float] = None) -> McpCallResult:
        """Calls a tool. On timeout the call is cancelled at the server and ControlTimeoutError is
        raised; cancelling the awaiting task cancels it at the server too."""
        if not isinstance(name, str):
            raise InvalidOptionError(f"the tool name must be a str, not {type(name).__name__}")
        if arguments is not None and not isinstance(arguments, Mapping):
            raise InvalidOptionError(f"arguments must be a dict, not {type(arguments).__name__}")
        try:
            args_json = json.dumps(dict(arguments or {}), ensure_ascii=False)
        except (TypeError, ValueError) as e:
            raise InvalidOptionError(f"arguments are not JSON-serializable: {e}") from None
        t = _timeout(timeout)
        r = await self._request(lambda done: self._engine.call_tool(name, args_json, done, t),
                                on_cancel=lambda handle: handle.cancel())
        return McpCallResult(**r)

    async def ping(self, timeout: Optional[float] = None) -> float:
        """Round trip time of a ``ping``, in seconds."""
        t = _timeout(timeout)
        rtt: float = await self._request(lambda done: self._engine.ping(done, t))
        return rtt

    async def restart(self) -> McpInitializeResult:
        """Ends the server and connects again with the same spec (calls in flight fail with
        CLIConnectionError, code "closed")."""
        await self._request(lambda done: self._engine.restart(done))
        return self.server_info

    async def close(self) -> None:
        """Ends the server (stdio: stdin closed, SIGTERM, SIGKILL, reaped; HTTP: DELETE of the
        session). Idempotent; calls in flight fail with CLIConnectionError."""
        await asyncio.get_running_loop().run_in_executor(None, call, self._engine.close)

    @property
    def state(self) -> str:
        """"connecting", "ready", "failed" (see last_error) or "closed"."""
        return str(self._engine.state)

    @property
    def last_error(self) -> str:
        """Why the state is "failed" (the server exited, ...), else ""."""
        return str(self._engine.last_error)

    @property
    def server_info(self) -> McpInitializeResult:
        info = self._engine.server_info()
        if info is None:
            raise ClaudeSDKError("the MCP client is not connected")
        return McpInitializeResult(**info)

    async def __aenter__(self) -> "McpClient":
        if not self._started:
            await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> bool:
        await self.close()
        return False


__all__ = ["McpClient", "McpServerSpec", "McpTool", "McpCallResult", "McpInitializeResult"]
