"""In-process MCP tools: @tool and create_sdk_mcp_server(), as in the official SDK. The CLI lists
and calls them through the control protocol; ccbridge runs the handlers on its callback threads
(async handlers on the caller's event loop)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, Generic, List, Optional, Tuple, TypeVar, get_type_hints

from .types import McpSdkServerConfig

T = TypeVar("T")

_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array", dict: "object"}


@dataclass
class SdkMcpTool(Generic[T]):
    name: str
    description: str
    input_schema: Any
    handler: Callable[[T], Awaitable[Dict[str, Any]]]
    annotations: Optional[Dict[str, Any]] = None


def tool(name: str, description: str, input_schema: Any, annotations: Optional[Dict[str, Any]] = None
         ) -> Callable[[Callable[[Any], Awaitable[Dict[str, Any]]]], SdkMcpTool[Any]]:
    """Decorator: an async function taking the arguments dict and returning
    {"content": [{"type": "text", "text": ...}], "is_error": bool}."""

    def wrap(handler: Callable[[Any], Awaitable[Dict[str, Any]]]) -> SdkMcpTool[Any]:
        return SdkMcpTool(name=name, description=description, input_schema=input_schema, handler=handler,
                          annotations=annotations)

    return wrap


def json_schema(input_schema: Any) -> Dict[str, Any]:
    """A JSON Schema from the SDK's accepted forms: a JSON Schema dict, {"param": type}, or a
    TypedDict class."""
    if isinstance(input_schema, dict) and "type" in input_schema and isinstance(input_schema.get("properties", {}), dict):
        return input_schema
    fields = get_type_hints(input_schema) if isinstance(input_schema, type) else dict(input_schema)
    props = {k: {"type": _JSON_TYPES.get(v, "string")} for k, v in fields.items()}
    return {"type": "object", "properties": props, "required": list(props)}


class SdkMcpServer:
    """The instance inside McpSdkServerConfig."""

    def __init__(self, name: str, version: str, tools: List[SdkMcpTool[Any]]):
        self.name = name
        self.version = version
        self.tools = list(tools)

    def _engine_spec(self, name: str, loop: Optional[asyncio.AbstractEventLoop]
                     ) -> Tuple[str, str, List[Tuple[str, str, str, Callable[[Dict[str, Any]], Tuple[str, bool]]]]]:
        from ._engine import run_callable

        def handler_for(t: SdkMcpTool[Any]) -> Callable[[Dict[str, Any]], Tuple[str, bool]]:
            def run(args: Dict[str, Any]) -> Tuple[str, bool]:
                try:
                    out = run_callable(t.handler, loop, args) or {}
                except Exception as e:  # noqa: BLE001 - the model sees the error, as with the SDK
                    return json.dumps([{"type": "text", "text": f"{type(e).__name__}: {e}"}]), True
                return json.dumps(out.get("content", [])), bool(out.get("is_error", False))

            return run

        return name, self.version, [(t.name, t.description, json.dumps(json_schema(t.input_schema)), handler_for(t))
                                    for t in self.tools]


def create_sdk_mcp_server(name: str, version: str = "1.0.0", tools: Optional[List[SdkMcpTool[Any]]] = None
                          ) -> McpSdkServerConfig:
    """An in-process MCP server for ClaudeAgentOptions.mcp_servers; the model sees its tools as
    mcp__<name>__<tool>."""
    return McpSdkServerConfig(type="sdk", name=name, instance=SdkMcpServer(name, version, tools or []))
