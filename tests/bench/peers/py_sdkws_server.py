#!/usr/bin/env python3
"""Peer for the gateway benchmark: the seed-003 sdk-ws mapping (connection_established, query ->
query_start, assistant_message, system_message, result_message, query_end; ping -> pong) as a
FastAPI + uvicorn server over the official Python SDK's ClaudeSDKClient, one client (one CLI
process) per connection, like ccbridge's sdk-ws profile. Its frames are those of ccbridge's sdk-ws
profile byte for byte (tests/bench/gateway_bench.py checks it), connection_established aside.

uvicorn runs as deployed (`uvicorn[standard]`: loop and http "auto", which pick uvloop and httptools
when installed); GET /runtime says what it runs on, so the benchmark can check and record it.
Backpressure: each send_json waits for the socket (uvicorn's websockets protocol drains), and the
SDK's message queue is bounded, so a slow client holds the CLI back.

    py_sdkws_server.py --cli <fake_cli>      prints "PORT <n>", serves until SIGTERM
"""
import argparse
import asyncio
import importlib.metadata
import socket

import uvicorn
from claude_agent_sdk import (AssistantMessage, ClaudeAgentOptions, ClaudeSDKClient, ResultMessage, SystemMessage,
                              TextBlock, ToolResultBlock, ToolUseBlock, UserMessage)
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

app = FastAPI()
CLI = ""
CONFIG = None


@app.get("/runtime")
async def runtime():
    loop = type(asyncio.get_running_loop())
    versions = {n: importlib.metadata.version(n) for n in ("uvicorn", "uvloop", "httptools", "websockets", "fastapi",
                                                           "starlette", "claude-agent-sdk")}
    return {"loop": f"{loop.__module__}.{loop.__qualname__}", "http": CONFIG.http_protocol_class.__name__,
            "ws": CONFIG.ws_protocol_class.__name__, "versions": versions}


def blocks(content):
    out = []
    for b in content:
        if isinstance(b, TextBlock):
            out.append({"type": "text", "text": b.text})
        elif isinstance(b, ToolUseBlock):
            out.append({"type": "tool_use", "id": b.id, "name": b.name, "input": b.input})
        elif isinstance(b, ToolResultBlock):
            out.append({"type": "tool_result", "tool_use_id": b.tool_use_id, "content": b.content, "is_error": b.is_error})
    return out


@app.websocket("/ws")
async def ws_endpoint(ws: WebSocket):
    await ws.accept()
    await ws.send_json({"type": "connection_established", "data": {"session_id": f"session_{id(ws)}", "capabilities": {
        "concurrent_input": True, "tool_definition": False, "interrupt_query": True}}})
    client = None
    try:
        while True:
            data = await ws.receive_json()
            kind = data.get("type")
            if kind == "ping":
                await ws.send_json({"type": "pong"})
            elif kind == "query":
                if client is None:
                    client = ClaudeSDKClient(ClaudeAgentOptions(cli_path=CLI))
                    await client.connect()
                await ws.send_json({"type": "query_start", "data": {"prompt": data["prompt"]}})
                await client.query(data["prompt"])
                async for m in client.receive_response():
                    if isinstance(m, AssistantMessage):
                        await ws.send_json({"type": "assistant_message", "data": {"content": blocks(m.content)}})
                    elif isinstance(m, UserMessage) and isinstance(m.content, list):
                        b = [x for x in blocks(m.content) if x["type"] == "tool_result"]
                        if b:
                            await ws.send_json({"type": "assistant_message", "data": {"content": b}})
                    elif isinstance(m, SystemMessage):
                        await ws.send_json({"type": "system_message", "data": {"subtype": m.subtype, **m.data}})
                    elif isinstance(m, ResultMessage):
                        await ws.send_json({"type": "result_message", "data": {
                            "subtype": m.subtype, "cost_usd": m.total_cost_usd, "duration_ms": m.duration_ms,
                            "session_id": m.session_id, "total_cost_usd": m.total_cost_usd, "num_turns": m.num_turns,
                            "usage": m.usage, "is_error": m.is_error, "result": m.result}})
                await ws.send_json({"type": "query_end"})
    except WebSocketDisconnect:
        pass
    finally:
        if client is not None:
            await client.disconnect()


def main():
    global CLI, CONFIG
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    CLI = ap.parse_args().cli
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)  # clients may connect before uvicorn accepts
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    CONFIG = uvicorn.Config(app, log_level="warning", ws_max_size=64 * 1024 * 1024)
    uvicorn.Server(CONFIG).run(sockets=[sock])


if __name__ == "__main__":
    main()
