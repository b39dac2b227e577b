"""In-process MCP tools side by side: the same tools, declared with every input_schema form the
official SDK accepts (a dict of types, TypedDicts, JSON Schema dicts) and with annotations, run
through claude_agent_sdk and through ccbridge against the same fake CLI, which sends the
`mcp_message` requests the real CLI sends (initialize, tools/list, tools/call; see
tests/support/FAKE_CLI.md). Every JSON-RPC answer must be the same: the listed tools (schemas,
annotations, _meta), and for each call (valid arguments, missing required ones, wrong types, extra
keys, nulls, unknown tools, handlers that raise or return odd content) the result and its text.

Run: PYTHONPATH=<build>/bindings/python CCB_FAKE_CLI=<build>/tests/ccb_fake_cli python -m pytest -q tests/python/test_compat_tools.py
"""

import asyncio
import json
import sys
from typing import Annotated, Any, Dict, List, Optional, TypedDict, Union

import pytest

sdk = pytest.importorskip("claude_agent_sdk")
import ccbridge  # noqa: E402  (after the skip: without the SDK there is nothing to compare with)

if sys.version_info >= (3, 11):
    from typing import NotRequired
else:
    from typing_extensions import NotRequired

RUN_TIMEOUT = 30.0


class Point(TypedDict):
    x: int
    y: Annotated[float, "the y coordinate"]


class Order(TypedDict):
    item: str
    count: Annotated[int, "how many"]
    tags: List[str]
    note: NotRequired[str]
    where: NotRequired[Point]


class Loose(TypedDict, total=False):
    a: int
    b: Optional[str]


SCHEMA = {
    "type": "object",
    "properties": {
        "n": {"type": "integer", "minimum": 1, "maximum": 10},
        "mode": {"enum": ["fast", "slow"]},
        "name": {"type": "string", "minLength": 2, "pattern": "^[a-z]+$"},
        "ids": {"type": "array", "items": {"type": "integer"}, "minItems": 1, "uniqueItems": True},
        "ratio": {"type": "number", "exclusiveMaximum": 1, "multipleOf": 0.25},
        "either": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        "one": {"oneOf": [{"type": "integer"}, {"type": "number"}]},
        "p": {"$ref": "#/$defs/P"},
        "k": {"const": "K"},
    },
    "required": ["n"],
    "additionalProperties": False,
    "$defs": {"P": {"type": "object", "properties": {"q": {"type": "boolean"}}, "required": ["q"]}},
}

class Kw(dict):
    """Keyword arguments of ToolAnnotations (a plain dict is passed as it is)."""


# (name, input_schema, annotations, handler kind, argument sets)
TOOLS = [
    ("types", {"a": int, "b": list[int], "c": Annotated[str, "desc c"], "d": Optional[float], "e": dict,
               "f": Union[int, str], "g": bool, "h": list, "i": Dict[str, int], "j": List[Point], "type": str},
     None, "echo",
     [{}, {"a": 1}, {"a": "x", "b": [1]}, {"a": 1, "b": [1, "2"], "c": "s", "d": 1.5, "e": {}, "f": 1.5, "g": True,
                                          "h": [], "i": {}, "j": [], "type": "t"},
      {"a": 1, "b": [1], "c": "s", "d": None, "e": {}, "f": "x", "g": 1, "h": [], "i": {}, "j": [{"x": "1"}], "type": 2},
      {"a": 1.0, "b": [], "c": "", "d": 2, "e": {"z": 1}, "f": 3, "g": False, "h": [1], "i": {"k": 1},
       "j": [{"x": 1, "y": 2}], "type": "t", "extra": True}]),
    ("typed", Order, Kw(readOnlyHint=True, maxResultSizeChars=5000, title="Orders"), "echo",
     [{"item": "a", "count": 1, "tags": []}, {"item": "a", "tags": []}, {"item": "a", "count": True, "tags": ["x", 2]},
      {"item": "a", "count": 2, "tags": [], "where": {"x": 1}}, {"item": "a", "count": 2, "tags": [], "note": None}]),
    ("loose", Loose, Kw(destructive_hint=False, open_world_hint=True, max_result_size_chars=7), "echo",
     [{}, {"a": "1"}, {"b": None}, {"b": 3}]),
    ("schema", SCHEMA, Kw(idempotentHint=True, custom=1), "echo",
     [{"n": 5}, {}, {"n": 0}, {"n": 11}, {"n": 5.5}, {"n": 5, "mode": "medium"}, {"n": 5, "zzz": 1, "aaa": 2},
      {"n": 5, "name": "a"}, {"n": 5, "name": "Ab1"}, {"n": 5, "ids": []}, {"n": 5, "ids": [1, 1]},
      {"n": 5, "ids": [1, "x"]}, {"n": 5, "ratio": 1}, {"n": 5, "ratio": 0.3}, {"n": 5, "either": "s"},
      {"n": 5, "one": 3}, {"n": 5, "p": {}}, {"n": 5, "p": {"q": "yes"}}, {"n": 5, "k": "k"}, {"n": "5", "mode": 1}]),
    ("param_named_type", {"type": str, "name": str}, {"readOnlyHint": True, "maxResultSizeChars": 9}, "echo", [{"type": "t", "name": "n"}, {"type": 1}]),
    ("type_without_properties", {"type": "object"}, None, "echo", [{}, {"type": "x"}]),
    ("empty", {}, Kw(), "echo", [{}, {"anything": [1]}]),
    ("not_a_schema", "just text", None, "echo", [{}, {"x": 1}]),
    ("raises_key", {"b": int}, None, "raise_key", [{"b": 1}, {}]),
    ("raises_value", {}, None, "raise_value", [{}]),
    ("content", {}, None, "content", [{}]),
    ("returns_none", {}, None, "none", [{}]),
    ("missing_text", {}, None, "missing_text", [{}]),
    ("error_result", {}, None, "error_result", [{}]),
]


def handler_for(kind):
    async def handler(args):
        if kind == "raise_key":
            raise KeyError("b")
        if kind == "raise_value":
            raise ValueError("kaput")
        if kind == "none":
            return None
        if kind == "missing_text":
            return {"content": [{"type": "text"}]}
        if kind == "error_result":
            return {"content": [{"type": "text", "text": "no"}], "is_error": True}
        if kind == "content":
            return {"content": [{"type": "text", "text": "t", "extra": 1}, {"type": "resource_link", "name": "n", "uri": "u"},
                                {"type": "resource_link"}, {"type": "resource", "resource": {"text": "rt"}},
                                {"type": "resource", "resource": {"blob": "AA=="}}, {"type": "weird"},
                                {"type": "image", "data": "AA==", "mimeType": "image/png", "x": 1}]}
        return {"content": [{"type": "text", "text": json.dumps(args, sort_keys=True)}]}

    return handler


def server(mod):
    tools = []
    for name, schema, annotations, kind, _ in TOOLS:
        if isinstance(annotations, Kw):
            annotations = mod.ToolAnnotations(**annotations)
        tools.append(mod.tool(name, f"the {name} tool", schema, annotations=annotations)(handler_for(kind)))
    return mod.create_sdk_mcp_server("s", version="2.0.0", tools=tools)


def messages():
    out = [{"jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "claude-code", "version": "2"}}},
           {"jsonrpc": "2.0", "method": "notifications/initialized"},
           {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}]
    calls = [(name, args) for name, _, _, _, sets in TOOLS for args in sets]
    for i, (name, args) in enumerate(calls):
        out.append({"jsonrpc": "2.0", "id": 100 + i, "method": "tools/call", "params": {"name": name, "arguments": args}})
    out.append({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "nope", "arguments": {}}})
    out.append({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "types"}})
    out.append({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "schema", "arguments": None}})
    return out


def run(mod, fake_options, tmp_path):
    log = tmp_path / f"{mod.__name__}.log"
    script = "".join("send_control " + json.dumps({"subtype": "mcp_message", "server_name": "s", "message": m}) + "\n"
                     for m in messages()) + "serve_turns"
    options = fake_options(script, env={"CCB_FAKE_STDIN_LOG": str(log)})
    # The SDK's options take none of ccbridge's extras (fake_options sets shutdown).
    options = mod.ClaudeAgentOptions(cli_path=options.cli_path, env=options.env, mcp_servers={"s": server(mod)})

    async def main():
        return [m async for m in mod.query(prompt="go", options=options)]

    asyncio.run(asyncio.wait_for(main(), RUN_TIMEOUT))
    answers = []
    for line in log.read_text().splitlines():
        if '"mcp_response"' in line:
            answers.append(json.loads(line)["response"]["response"]["mcp_response"])
    return answers


def test_tools_list_and_calls_answer_as_the_sdk(fake_options, tmp_path):
    official = run(sdk, fake_options, tmp_path)
    ours = run(ccbridge, fake_options, tmp_path)
    assert len(official) == len(messages())  # every message answered (the notification with {})
    by_id = {a.get("id"): a for a in ours}
    for want in official:
        assert by_id.get(want.get("id")) == want, json.dumps(want.get("id"))
    assert len(ours) == len(official)
    # The comparison covers what the issue names, so it would catch each regression.
    listed = {t["name"]: t for t in next(a for a in official if a.get("id") == 1)["result"]["tools"]}
    assert listed["types"]["inputSchema"]["properties"]["b"] == {"type": "array", "items": {"type": "integer"}}
    assert listed["typed"]["inputSchema"]["required"] == ["count", "item", "tags"]
    assert listed["typed"]["_meta"] == {"anthropic/maxResultSizeChars": 5000}
    assert listed["typed"]["annotations"] == {"readOnlyHint": True, "title": "Orders"}
    texts = {a["id"]: a["result"]["content"][0]["text"] for a in official if isinstance(a.get("id"), int) and a["id"] >= 100}
    assert "Input validation error: 'b' is a required property" in texts.values()
    assert "'b'" in texts.values()


def test_an_instance_not_from_create_sdk_mcp_server_is_refused(fake_options):
    options = fake_options("serve_turns", mcp_servers={"s": {"type": "sdk", "name": "s", "instance": object()}})

    async def main():
        return [m async for m in ccbridge.query(prompt="go", options=options)]

    with pytest.raises(TypeError, match=r"mcp_servers\['s'\].*create_sdk_mcp_server\(\)"):
        asyncio.run(asyncio.wait_for(main(), RUN_TIMEOUT))
