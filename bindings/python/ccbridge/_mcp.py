"""In-process MCP tools: @tool and create_sdk_mcp_server(), as in the official SDK. The CLI lists
and calls them through the control protocol. A call starts on a ccbridge callback thread, which
only schedules an async handler on the caller's event loop and returns: the answer goes back from
the loop when the coroutine is done, so a slow tool holds no callback thread. (Without a running
loop, as in a synchronous query(), the handler runs to completion on the callback thread.)"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import sys
import types
import typing
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, Generic, List, Optional, Tuple, TypeVar, Union

if sys.version_info >= (3, 11):
    from typing import get_type_hints, is_typeddict
else:  # NotRequired / Required inside a TypedDict need typing_extensions' versions before 3.11
    from typing_extensions import get_type_hints, is_typeddict

import anyio

from . import _ccbridge
from ._aio import Loop
from .types import McpSdkServerConfig

T = TypeVar("T")

log = logging.getLogger("ccbridge")

# How often a running tool coroutine checks whether the CLI withdrew its call (seconds).
CANCEL_POLL_S = 0.1

_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}


# ToolAnnotations' attributes (the SDK's, on mcp 2.x) and their wire names, and every spelling taken.
_HINTS = {
    "title": "title",
    "read_only_hint": "readOnlyHint",
    "destructive_hint": "destructiveHint",
    "idempotent_hint": "idempotentHint",
    "open_world_hint": "openWorldHint",
    "maxResultSizeChars": "maxResultSizeChars",
}
# The hints of MCP's ToolAnnotations: the only ones that go out under "annotations".
_MCP_HINTS = {"title", "readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"}
_SPELLINGS = {**{a: a for a in _HINTS}, **{w: a for a, w in _HINTS.items()}, "max_result_size_chars": "maxResultSizeChars"}


class ToolAnnotations:
    """Hints about a tool for @tool(annotations=...): ToolAnnotations(readOnlyHint=True) and
    ToolAnnotations(read_only_hint=True) are the same; maxResultSizeChars is Claude Code's (the
    result size kept inline). Unknown keywords are kept as extras. The official SDK's class is a
    pydantic model (mcp.types.ToolAnnotations); ccbridge depends on neither, so this is a plain
    class with the same constructor, attributes (those of mcp 2.x; the other spellings read too)
    and model_dump()."""

    def __init__(self, **data: Any) -> None:
        values: Dict[str, Any] = {a: None for a in _HINTS}
        wire = set(_HINTS.values())
        for key, value in data.items():
            attr = _SPELLINGS.get(key)
            # Given both spellings of a hint, the wire name wins, as in the SDK.
            if attr is not None and (key in wire or _HINTS[attr] not in data):
                values[attr] = value
        extra = {k: v for k, v in data.items() if k not in _SPELLINGS}
        self.__dict__.update(values)
        self.__dict__.update(extra)
        self._extra = list(extra)

    def __getattr__(self, name: str) -> Any:  # only for names not set: the other spellings
        attr = _SPELLINGS.get(name)
        if attr is None or attr == name:
            raise AttributeError(f"'ToolAnnotations' object has no attribute '{name}'")
        return self.__dict__[attr]

    def model_dump(self, *, by_alias: bool = False, exclude_none: bool = False) -> Dict[str, Any]:
        """The hints as a dict, under the attribute names, or the wire names with by_alias=True."""
        out = {(_HINTS[a] if by_alias else a): self.__dict__[a] for a in _HINTS}
        out.update({k: self.__dict__[k] for k in self._extra})
        return {k: v for k, v in out.items() if not (exclude_none and v is None)}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ToolAnnotations) and self.model_dump() == other.model_dump()

    def __repr__(self) -> str:
        return "ToolAnnotations(" + ", ".join(f"{k}={v!r}" for k, v in self.model_dump().items()) + ")"


@dataclass
class SdkMcpTool(Generic[T]):
    name: str
    description: str
    input_schema: Any
    handler: Callable[[T], Awaitable[Dict[str, Any]]]
    annotations: Optional[ToolAnnotations] = None


def tool(name: str, description: str, input_schema: Any, annotations: Optional[ToolAnnotations] = None
         ) -> Callable[[Callable[[Any], Awaitable[Dict[str, Any]]]], SdkMcpTool[Any]]:
    """Decorator: an async function taking the arguments dict and returning
    {"content": [{"type": "text", "text": ...}], "is_error": bool}."""

    def wrap(handler: Callable[[Any], Awaitable[Dict[str, Any]]]) -> SdkMcpTool[Any]:
        return SdkMcpTool(name=name, description=description, input_schema=input_schema, handler=handler,
                          annotations=annotations)

    return wrap


def _type_schema(t: Any) -> Dict[str, Any]:
    """The JSON Schema of one parameter's type, as the SDK writes it: scalars, list[X] (items),
    dict, Optional[X] (as X), unions (anyOf), nested TypedDicts, Annotated[X, "description"];
    anything else is a string."""
    origin = typing.get_origin(t)
    if getattr(origin, "_name", None) in ("NotRequired", "Required", "ReadOnly"):
        return _type_schema(typing.get_args(t)[0])
    if origin is typing.Annotated:
        inner, *meta = typing.get_args(t)
        schema = _type_schema(inner)
        description = next((m for m in meta if isinstance(m, str)), None)
        if description is not None:
            schema["description"] = description
        return schema
    if t in _SCALARS:
        return {"type": _SCALARS[t]}
    if origin is Union or isinstance(t, getattr(types, "UnionType", ())):
        members = [a for a in typing.get_args(t) if a is not type(None)]
        return _type_schema(members[0]) if len(members) == 1 else {"anyOf": [_type_schema(a) for a in members]}
    if origin is list or t is list:
        args = typing.get_args(t)
        return {"type": "array", "items": _type_schema(args[0])} if args else {"type": "array"}
    if origin is dict or t is dict:
        return {"type": "object"}
    if is_typeddict(t):
        return _typeddict_schema(t)
    return {"type": "string"}


def _typeddict_schema(td: Any) -> Dict[str, Any]:
    props = {k: _type_schema(v) for k, v in get_type_hints(td, include_extras=True).items()}
    schema: Dict[str, Any] = {"type": "object", "properties": props}
    required = getattr(td, "__required_keys__", set(props))
    if required:
        schema["required"] = sorted(required)
    return schema


def json_schema(input_schema: Any) -> Dict[str, Any]:
    """The JSON Schema sent for a tool's input_schema, as the SDK builds it: a dict with a string
    "type" and "properties" is a JSON Schema already; any other dict maps parameter names to
    types (all required); a TypedDict class lists its fields (NotRequired ones optional)."""
    if isinstance(input_schema, dict):
        if "type" in input_schema and "properties" in input_schema and isinstance(input_schema["type"], str):
            return input_schema
        props = {k: _type_schema(v) for k, v in input_schema.items()}
        return {"type": "object", "properties": props, "required": list(props)}
    if is_typeddict(input_schema):
        return _typeddict_schema(input_schema)
    return {"type": "object", "properties": {}}


def _annotations(t: "SdkMcpTool[Any]") -> Tuple[str, str]:
    """The tool's annotations and _meta in tools/list, as JSON ("" for none): the MCP hints that
    are set, and maxResultSizeChars in _meta (Claude Code reads it there), as the SDK sends them."""
    a = t.annotations
    if a is None:
        return "", ""
    # A plain dict is read as MCP's ToolAnnotations would read it; like the SDK, no _meta from it.
    size = None if isinstance(a, dict) else getattr(a, "maxResultSizeChars", None)
    if isinstance(a, dict):
        a = ToolAnnotations(**a)
    hints = {k: v for k, v in a.model_dump(by_alias=True, exclude_none=True).items() if k in _MCP_HINTS}
    return json.dumps(hints), "" if size is None else json.dumps({"anthropic/maxResultSizeChars": size})


class SdkMcpServer:
    """The instance inside McpSdkServerConfig."""

    def __init__(self, name: str, version: str, tools: List[SdkMcpTool[Any]]):
        self.name = name
        self.version = version
        self.tools = list(tools)

    def _engine_spec(self, name: str, loop: Optional[Loop]
                     ) -> Tuple[str, str, List[Tuple[str, str, str, Callable[[Dict[str, Any], _ccbridge.ToolReply], None],
                                                     str, str]]]:
        def handler_for(t: SdkMcpTool[Any]) -> Callable[[Dict[str, Any], _ccbridge.ToolReply], None]:
            return lambda args, reply: _start_call(t, loop, args, reply)

        return name, self.version, [(t.name, t.description, json.dumps(json_schema(t.input_schema)), handler_for(t),
                                     *_annotations(t)) for t in self.tools]


# ---- one tool call -------------------------------------------------------------------------------


def _content(items: Any) -> List[Dict[str, Any]]:
    """A handler's content as the SDK sends it: text and image blocks with their own fields only,
    resource links and text resources as text, other blocks dropped (with a warning)."""
    out: List[Dict[str, Any]] = []
    for item in items:
        kind = item.get("type")
        if kind == "text":
            out.append({"type": "text", "text": item["text"]})
        elif kind == "image":
            out.append({"type": "image", "data": item["data"], "mimeType": item["mimeType"]})
        elif kind == "resource_link":
            parts = [str(item.get(k)) for k in ("name", "uri", "description") if item.get(k)]
            out.append({"type": "text", "text": "\n".join(parts) if parts else "Resource link"})
        elif kind == "resource" and "text" in (item.get("resource") or {}):
            out.append({"type": "text", "text": item["resource"]["text"]})
        elif kind == "resource":
            log.warning("Binary embedded resource cannot be converted to text, skipping")
        else:
            log.warning("Unsupported content type %r in tool result, skipping", kind)
    return out


def _answer(reply: _ccbridge.ToolReply, out: Any) -> None:
    """Sends a handler's result ({"content": [...], "is_error": bool}) to the CLI."""
    try:
        content_json, is_error = json.dumps(_content(out.get("content", []))), bool(out.get("is_error", False))
    except Exception as e:  # noqa: BLE001 - a malformed result is the tool's error, as an exception is
        _answer_error(reply, e)
        return
    reply(content_json, is_error)


def _answer_error(reply: _ccbridge.ToolReply, e: BaseException) -> None:
    """The model sees a handler's exception as an error result with str(e), as with the SDK."""
    reply(json.dumps([{"type": "text", "text": str(e)}]), True)


async def _watched(awaitable: Awaitable[Any], reply: _ccbridge.ToolReply) -> Any:
    """Awaits a tool's coroutine and cancels it if the CLI withdraws the call (an interrupt), as the
    SDK does on control_cancel_request; its answer would be dropped anyway."""
    result: Any = None
    error: Optional[Exception] = None
    async with anyio.create_task_group() as tg:

        async def watch() -> None:
            while not reply.cancelled:
                await anyio.sleep(CANCEL_POLL_S)
            tg.cancel_scope.cancel()

        tg.start_soon(watch)
        try:
            result = await awaitable
        except Exception as e:  # noqa: BLE001 - raised below as itself, not in an ExceptionGroup
            error = e
        finally:
            tg.cancel_scope.cancel()  # the watcher
    if error is not None:
        raise error
    if reply.cancelled:
        raise _Withdrawn("the CLI withdrew the call")
    return result


class _Withdrawn(Exception):
    """A call the CLI cancelled: its answer is dropped (ToolReply ignores it)."""


def _start_call(t: SdkMcpTool[Any], loop: Optional[Loop], args: Dict[str, Any],
                reply: _ccbridge.ToolReply) -> None:
    """Runs on a ccbridge callback thread: answers a synchronous handler at once, and runs a
    coroutine on the caller's event loop (asyncio or trio), answering from there when it is done."""
    try:
        r = t.handler(args)
    except Exception as e:  # noqa: BLE001
        _answer_error(reply, e)
        return
    if not inspect.isawaitable(r):
        _answer(reply, r)
        return
    if loop is None:
        # No loop of the caller's to run on: run here, on this callback thread, until done.
        try:
            out = asyncio.run(_watched(r, reply))
        except BaseException as e:  # noqa: BLE001 - includes a cancelled call (its answer is dropped)
            _answer_error(reply, e)
            return
        _answer(reply, out)
        return

    def done(result: Any, error: Optional[BaseException]) -> None:  # on the loop
        if error is not None:
            # A withdrawn call, or a loop shutting down: the CLI still gets an answer.
            _answer_error(reply, error if isinstance(error, Exception)
                          else RuntimeError(f"tool '{t.name}' was cancelled"))
        else:
            _answer(reply, result)

    loop.submit(_watched(r, reply), done)


def create_sdk_mcp_server(name: str, version: str = "1.0.0", tools: Optional[List[SdkMcpTool[Any]]] = None
                          ) -> McpSdkServerConfig:
    """An in-process MCP server for ClaudeAgentOptions.mcp_servers; the model sees its tools as
    mcp__<name>__<tool>."""
    return McpSdkServerConfig(type="sdk", name=name, instance=SdkMcpServer(name, version, tools or []))
