#!/usr/bin/env python3
"""Offline mock of the Anthropic Messages API, scripted by markers in the prompt.

Usage:
    python3 mock_anthropic.py [--host 127.0.0.1] [--port 0] [--log FILE]
                              [--exit-on-stdin-eof] [--verbose] [--script FILE]

The first line on stdout is always ``PORT <n>`` (flushed); nothing else is ever written to
stdout, so the caller may close its end of the pipe after reading that line. Diagnostics go to
stderr (request lines only with --verbose).

Endpoints:
    HEAD / , GET /                          200
    GET  /v1/models[/<id>]                  a models list / one model
    POST /v1/messages[?beta=true]           SSE when body.stream is true, else one JSON message
    POST /v1/messages/count_tokens[?...]    {"input_tokens": N}

Behaviour is driven by markers in the last real user text of the request. Skipped on the way:
``role:"system"`` entries, text blocks starting with ``<system-reminder>``, ``<local-command``,
``<command-name>`` / ``<command-message>`` / ``<command-args>`` (local slash-command echoes) and
``[Request interrupted by user``. Markers (combine freely):

    (none)                       text "Hello from the mock. You said: <prompt without markers>"
    [[reply: TEXT]]              text TEXT exactly
    [[bash: COMMAND]]            tool_use Bash {"command": COMMAND, "description": "run a command"}
    [[tool: NAME :: JSON]]       tool_use NAME with the JSON object as input
    [[write: PATH :: CONTENT]]   tool_use Write {"file_path": PATH, "content": CONTENT}
    [[status: CODE]]             every request with this prompt fails with HTTP CODE
    [[status-once: CODE]]        the first request with this exact prompt fails with CODE
    [[slow: MS]]                 one text_delta per word, MS milliseconds apart (>= 40 words)
    [[stall: MS]]                the first word of the text at once, the rest MS milliseconds later
                                 (an interrupt in between always cuts the reply after that word)
    [[thinking]]                 a thinking block (thinking_delta + signature_delta) first

--script FILE (a JSON object {substring: marker text}) adds the marker text to every prompt that
contains the substring, so a prompt typed as a person would ("create file x") can drive a tool call.

When the last user message carries tool_result blocks (and no real text), the request is a tool
follow-up: the reply is ``Tool result: <tool_result text>`` with stop_reason end_turn. When it is
only the CLI's notification that a background task ended (a system reminder holding
``<task-notification>``), the reply is ``Noted: <the notification's summary>``, with end_turn
(answering the earlier prompt again would start the same task again, without end).

Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

# ----------------------------------------------------------------------------------------------
# Shared state

_lock = threading.Lock()
_counters = {"msg": 0, "toolu": 0, "req": 0}
_status_once_seen: dict[str, int] = {}
_log_file = None
_verbose = False
# --script: {substring: marker text}; a prompt containing the substring gets the marker text added.
_script: dict[str, str] = {}

LOGGED_HEADERS = (
    "content-type",
    "x-api-key",
    "authorization",
    "anthropic-version",
    "anthropic-beta",
    "user-agent",
    "x-app",
    "x-claude-code-session-id",
    "x-stainless-retry-count",
)

MOCK_MODELS = [
    {"type": "model", "id": "mock-model", "display_name": "Mock Model",
     "created_at": "2025-01-01T00:00:00Z"},
    {"type": "model", "id": "claude-opus-5-5", "display_name": "Claude Opus (mock)",
     "created_at": "2025-01-01T00:00:00Z"},
    {"type": "model", "id": "claude-sonnet-4-5", "display_name": "Claude Sonnet (mock)",
     "created_at": "2025-01-01T00:00:00Z"},
    {"type": "model", "id": "claude-haiku-4-5", "display_name": "Claude Haiku (mock)",
     "created_at": "2025-01-01T00:00:00Z"},
]

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


EXTRA_REASONS = {529: "Overloaded", 520: "Unknown Error", 522: "Connection Timed Out"}


def next_id(kind: str) -> int:
    with _lock:
        _counters[kind] += 1
        return _counters[kind]


def eprint(*args) -> None:
    try:
        print("mock_anthropic:", *args, file=sys.stderr, flush=True)
    except Exception:  # stderr closed: nothing useful left to do
        pass


def write_log(entry: dict) -> None:
    if _log_file is None:
        return
    line = json.dumps(entry, ensure_ascii=False)
    with _lock:
        try:
            _log_file.write(line + "\n")
            _log_file.flush()
        except Exception as e:  # never let logging kill a request
            eprint("log write failed:", e)


# ----------------------------------------------------------------------------------------------
# Reading the request

_REMINDER_RE = re.compile(r"<system-reminder>.*?</system-reminder>", re.S)
# CLI-generated text blocks that are not the user's words: context reminders, local slash-command
# echoes (<local-command-caveat>, <local-command-stdout>, <command-name>, <command-message>,
# <command-args>) and interrupt markers.
_SKIP_PREFIXES = ("<system-reminder>", "<local-command", "<command-name>", "<command-message>",
                  "<command-args>", "[Request interrupted by user")


def _blocks(content) -> list:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [b for b in content if isinstance(b, dict)]
    return []


def _real_texts(blocks: list) -> list[str]:
    out = []
    for b in blocks:
        if b.get("type") != "text" or not isinstance(b.get("text"), str):
            continue
        t = b["text"]
        if t.lstrip().startswith(_SKIP_PREFIXES):
            continue
        t = _REMINDER_RE.sub("", t).strip()
        if t:
            out.append(t)
    return out


def _tool_result_text(block: dict) -> str:
    c = block.get("content")
    if isinstance(c, str):
        return c
    if isinstance(c, list):
        parts = []
        for item in c:
            if isinstance(item, dict) and item.get("type") == "text":
                parts.append(str(item.get("text", "")))
            elif isinstance(item, dict):
                parts.append("[" + str(item.get("type", "?")) + "]")
        return "\n".join(parts)
    return "" if c is None else json.dumps(c)


_NOTIFICATION_RE = re.compile(r"<task-notification>.*?<summary>(.*?)</summary>", re.S)


def task_notification(body: dict) -> str | None:
    """The summary of a background task's notification when that is all the last user message
    holds (no real text, no tool_result), else None."""
    messages = body.get("messages")
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"] if isinstance(messages, list) else []
    if not users:
        return None
    blocks = _blocks(users[-1].get("content"))
    if _real_texts(blocks) or any(b.get("type") == "tool_result" for b in blocks):
        return None
    for b in blocks:
        m = _NOTIFICATION_RE.search(b.get("text", "")) if isinstance(b.get("text"), str) else None
        if m:
            return m.group(1).strip()
    return None


def analyse(body: dict) -> tuple[str, list | None]:
    """Returns (prompt, tool_results). tool_results is a list of texts for a tool follow-up."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return "", None
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    for idx in range(len(users) - 1, -1, -1):
        blocks = _blocks(users[idx].get("content"))
        texts = _real_texts(blocks)
        if idx == len(users) - 1:
            results = [b for b in blocks if b.get("type") == "tool_result"]
            if results and not texts:
                return "", [_tool_result_text(b) for b in results]
        if texts:
            return "\n".join(texts), None
    return "", None


# ----------------------------------------------------------------------------------------------
# Marker language

_MARKER_START = re.compile(r"\[\[\s*([A-Za-z][A-Za-z0-9_-]*)\s*(:)?")


def parse_markers(prompt: str) -> tuple[list[tuple[str, object]], str]:
    """Returns ([(name, arg)], prompt with the markers removed)."""
    markers: list[tuple[str, object]] = []
    stripped: list[str] = []
    pos = 0
    decoder = json.JSONDecoder()
    while True:
        m = _MARKER_START.search(prompt, pos)
        if not m:
            stripped.append(prompt[pos:])
            break
        name = m.group(1).lower()
        start = m.end()
        arg: object = None
        end = None
        if name == "tool" and m.group(2):
            sep = prompt.find("::", start)
            close = prompt.find("]]", start)
            if sep != -1 and (close == -1 or sep < close):
                tool_name = prompt[start:sep].strip()
                rest = sep + 2
                while rest < len(prompt) and prompt[rest].isspace():
                    rest += 1
                try:
                    value, after = decoder.raw_decode(prompt, rest)
                    close = prompt.find("]]", after)
                    if close != -1 and prompt[after:close].strip() == "":
                        arg = (tool_name, value)
                        end = close + 2
                except ValueError:
                    pass
            close = prompt.find("]]", m.end())
            if end is None and close != -1:
                # NAME :: <not JSON> or just NAME: empty input
                body = prompt[m.end():close]
                tool_name, _, raw = body.partition("::")
                arg = (tool_name.strip(), raw.strip())
                end = close + 2
        else:
            close = prompt.find("]]", start)
            if close != -1:
                arg = prompt[start:close].strip() if m.group(2) else None
                end = close + 2
        if end is None:  # unterminated: literal text
            stripped.append(prompt[pos:m.end()])
            pos = m.end()
            continue
        stripped.append(prompt[pos:m.start()])
        markers.append((name, arg))
        pos = end
    return markers, re.sub(r"\s+", " ", "".join(stripped)).strip()


SLOW_WORDS = 40


def apply_script(prompt: str) -> str:
    """Adds the --script marker text of every substring the prompt contains (a typed prompt
    can then look like a person's, e.g. "create file x", and still drive a tool call)."""
    extra = [markers for needle, markers in _script.items() if needle in prompt]
    return prompt if not extra else prompt + " " + " ".join(extra)


def build_plan(body: dict) -> dict:
    """Decides the reply. Keys: status (int|None), blocks [..], stop_reason, slow_ms, stall_ms, prompt."""
    prompt, tool_results = analyse(body)
    plan = {"status": None, "blocks": [], "stop_reason": "end_turn", "slow_ms": 0, "stall_ms": 0, "prompt": prompt}
    if tool_results is not None:
        plan["blocks"].append({"type": "text", "text": "Tool result: " + "\n".join(tool_results)})
        return plan
    notification = task_notification(body)
    if notification is not None:
        plan["blocks"].append({"type": "text", "text": "Noted: " + notification})
        return plan

    markers, rest = parse_markers(apply_script(prompt))
    reply = None
    thinking = False
    tools: list[tuple[str, object]] = []
    for name, arg in markers:
        if name == "reply":
            reply = "" if arg is None else str(arg)
        elif name == "bash":
            tools.append(("Bash", {"command": "" if arg is None else str(arg),
                                   "description": "run a command"}))
        elif name == "write":
            path, _, content = ("" if arg is None else str(arg)).partition("::")
            tools.append(("Write", {"file_path": path.strip(), "content": content.strip()}))
        elif name == "tool" and isinstance(arg, tuple):
            tool_name, value = arg
            if isinstance(value, str):
                try:
                    value = json.loads(value) if value else {}
                except ValueError:
                    value = {"input": value}
            if not isinstance(value, dict):
                value = {"value": value}
            tools.append((tool_name or "unknown_tool", value))
        elif name in ("status", "status-once"):
            try:
                code = int(str(arg).strip())
            except (TypeError, ValueError):
                continue
            if name == "status":
                plan["status"] = code
            else:
                with _lock:
                    seen = _status_once_seen.get(prompt, 0)
                    _status_once_seen[prompt] = seen + 1
                if seen == 0 and plan["status"] is None:
                    plan["status"] = code
        elif name == "slow":
            try:
                plan["slow_ms"] = max(0, int(str(arg).strip()))
            except (TypeError, ValueError):
                plan["slow_ms"] = 100
        elif name == "stall":
            try:
                plan["stall_ms"] = max(0, int(str(arg).strip()))
            except (TypeError, ValueError):
                plan["stall_ms"] = 1000
        elif name == "thinking":
            thinking = True

    if thinking:
        plan["blocks"].append({"type": "thinking",
                               "thinking": "Let me think about this mock request step by step.",
                               "signature": "bW9jay1zaWduYXR1cmUtZm9yLXRoaW5raW5nLWJsb2Nr"})
    if reply is not None:
        plan["blocks"].append({"type": "text", "text": reply})
    elif plan["slow_ms"] and not tools:
        words = ["This is a slow streamed reply from the mock:"]
        words += [f"word{i}" for i in range(1, SLOW_WORDS + 1)]
        plan["blocks"].append({"type": "text", "text": " ".join(words) + "."})
    elif not tools:
        plan["blocks"].append({"type": "text",
                               "text": "Hello from the mock. You said: " + (rest or prompt)})
    for tool_name, tool_input in tools:
        plan["blocks"].append({"type": "tool_use", "id": f"toolu_mock_{next_id('toolu')}",
                               "name": tool_name, "input": tool_input})
    if tools:
        plan["stop_reason"] = "tool_use"
    return plan


# The timings the CLI writes into the conversation (a subagent's report: "duration_ms: 94", or
# "<duration_ms>94</duration_ms>") count as one digit, so that the estimate does not vary with them.
_DURATION_RE = re.compile(r"(duration_ms(?::\s*|>))\d+")


def estimate_input_tokens(body: dict, include_system: bool = False) -> int:
    chars = 0
    for m in body.get("messages") or []:
        if isinstance(m, dict):
            chars += len(_DURATION_RE.sub(r"\g<1>0", json.dumps(m.get("content", ""), ensure_ascii=False)))
    if include_system:
        chars += len(json.dumps(body.get("system", ""), ensure_ascii=False))
        chars += len(json.dumps(body.get("tools", []), ensure_ascii=False)) // 8
    return max(1, 8 + chars // 4)


def words_of(text: str) -> list[str]:
    """Splits text in chunks of one word with its trailing whitespace; ''.join() == text."""
    return re.findall(r"\s*\S+\s*", text) or [text]


def output_tokens(blocks: list) -> int:
    n = 0
    for b in blocks:
        if b["type"] == "text":
            n += len(b["text"].split())
        elif b["type"] == "thinking":
            n += len(b["thinking"].split())
        elif b["type"] == "tool_use":
            n += 5 + len(json.dumps(b["input"])) // 4
    return max(1, n)


# ----------------------------------------------------------------------------------------------
# HTTP

class ClientGone(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock-anthropic/1.0"
    sys_version = ""

    # -- plumbing --------------------------------------------------------------------------------

    def version_string(self):
        return self.server_version

    def send_response(self, code, message=None):
        if message is None and code not in self.responses:
            message = EXTRA_REASONS.get(code, "Error")
        super().send_response(code, message)

    def log_message(self, fmt, *args):  # noqa: N802 (stdlib name)
        if _verbose:
            eprint(self.address_string(), fmt % args)

    def handle(self):
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            self.close_connection = True
        except Exception as e:  # never take the server down
            eprint("handler error:", repr(e))
            self.close_connection = True

    def _write(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, OSError) as e:
            self.close_connection = True
            raise ClientGone() from e

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = bytearray()
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    break
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                out += self.rfile.read(size)
                self.rfile.readline(65537)
            return bytes(out)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _common_headers(self, request_id: str | None = None) -> None:
        self.send_header("request-id", request_id or f"req_mock_{next_id('req')}")
        self.send_header("anthropic-organization-id", "00000000-0000-0000-0000-000000000000")

    def _send_json(self, status: int, obj, request_id: str | None = None) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self._common_headers(request_id)
        self.end_headers()
        if self.command != "HEAD":
            self._write(data)

    def _send_error_json(self, status: int, message: str) -> None:
        etype = ERROR_TYPES.get(status, "api_error")
        self._send_json(status, {"type": "error", "error": {"type": etype, "message": message}})

    def _log(self, body_raw: bytes, body, status: int | None) -> None:
        if _log_file is None:
            return
        headers = {k: self.headers[k] for k in LOGGED_HEADERS if self.headers.get(k) is not None}
        if body is None and body_raw:
            body = body_raw.decode("utf-8", "replace")
        write_log({"time": round(time.time(), 3), "method": self.command, "path": self.path,
                   "headers": headers, "body": body, "status": status})

    # -- verbs -----------------------------------------------------------------------------------

    def do_HEAD(self):  # noqa: N802
        self._route_get()

    def do_GET(self):  # noqa: N802
        self._route_get()

    def _route_get(self):
        path = urlsplit(self.path).path.rstrip("/") or "/"
        status = 200
        try:
            if path == "/":
                self._log(b"", None, 200)
                self._send_json(200, {"ok": True, "service": "mock-anthropic"})
            elif path == "/v1/models":
                self._log(b"", None, 200)
                self._send_json(200, {"data": MOCK_MODELS, "has_more": False,
                                      "first_id": MOCK_MODELS[0]["id"],
                                      "last_id": MOCK_MODELS[-1]["id"]})
            elif path.startswith("/v1/models/"):
                mid = path[len("/v1/models/"):]
                model = next((m for m in MOCK_MODELS if m["id"] == mid),
                             {"type": "model", "id": mid, "display_name": mid,
                              "created_at": "2025-01-01T00:00:00Z"})
                self._log(b"", None, 200)
                self._send_json(200, model)
            else:
                status = 404
                self._log(b"", None, status)
                self._send_error_json(404, f"mock: no route for {self.command} {path}")
        except ClientGone:
            pass

    def do_POST(self):  # noqa: N802
        try:
            self._post()
        except ClientGone:
            pass

    def do_PUT(self):  # noqa: N802
        self._not_allowed()

    def do_DELETE(self):  # noqa: N802
        self._not_allowed()

    def do_PATCH(self):  # noqa: N802
        self._not_allowed()

    def _not_allowed(self):
        try:
            raw = self._read_body()
            self._log(raw, None, 405)
            self._send_error_json(405, f"mock: method {self.command} not allowed")
        except ClientGone:
            pass

    def _post(self):
        path = urlsplit(self.path).path.rstrip("/")
        raw = self._read_body()
        if path not in ("/v1/messages", "/v1/messages/count_tokens"):
            self._log(raw, None, 404)
            self._send_error_json(404, f"mock: no route for POST {path}")
            return
        try:
            body = json.loads(raw.decode("utf-8")) if raw else None
            if not isinstance(body, dict):
                raise ValueError("the body is not a JSON object")
        except (ValueError, UnicodeDecodeError) as e:
            self._log(raw, None, 400)
            self._send_error_json(400, f"mock: invalid JSON body: {e}")
            return

        if path == "/v1/messages/count_tokens":
            self._log(raw, body, 200)
            self._send_json(200, {"input_tokens": estimate_input_tokens(body, include_system=True)})
            return

        plan = build_plan(body)
        if plan["status"] is not None and plan["status"] != 200:
            code = plan["status"]
            self._log(raw, body, code)
            self._send_error_json(code, f"mock error {code}")
            return
        self._log(raw, body, 200)

        model = body.get("model") if isinstance(body.get("model"), str) else "mock-model"
        msg_id = f"msg_mock_{next_id('msg')}"
        request_id = f"req_mock_{next_id('req')}"
        in_tokens = estimate_input_tokens(body)
        out_tokens = output_tokens(plan["blocks"])
        if body.get("stream") is True:
            self._stream(plan, model, msg_id, request_id, in_tokens, out_tokens)
        else:
            if plan["slow_ms"]:
                n = sum(len(words_of(b["text"])) for b in plan["blocks"] if b["type"] == "text")
                time.sleep(plan["slow_ms"] * n / 1000.0)
            time.sleep(plan["stall_ms"] / 1000.0)
            self._send_json(200, {
                "id": msg_id, "type": "message", "role": "assistant", "model": model,
                "content": plan["blocks"], "stop_reason": plan["stop_reason"],
                "stop_sequence": None,
                "usage": {"input_tokens": in_tokens, "cache_creation_input_tokens": 0,
                          "cache_read_input_tokens": 0, "output_tokens": out_tokens,
                          "service_tier": "standard"},
            }, request_id)

    # -- SSE -------------------------------------------------------------------------------------

    def _chunk(self, data: bytes) -> None:
        self._write(b"%x\r\n%s\r\n" % (len(data), data))

    def _event(self, name: str, obj: dict) -> None:
        self._chunk(b"event: " + name.encode() + b"\ndata: "
                    + json.dumps(obj, ensure_ascii=False).encode() + b"\n\n")

    def _stream(self, plan, model, msg_id, request_id, in_tokens, out_tokens) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self._common_headers(request_id)
        self.end_headers()
        delay = plan["slow_ms"] / 1000.0

        self._event("message_start", {"type": "message_start", "message": {
            "id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": in_tokens, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0, "output_tokens": 1,
                      "service_tier": "standard"}}})
        self._event("ping", {"type": "ping"})

        for index, block in enumerate(plan["blocks"]):
            kind = block["type"]
            if kind == "text":
                self._event("content_block_start", {"type": "content_block_start", "index": index,
                                                    "content_block": {"type": "text", "text": ""}})
                pieces = words_of(block["text"]) if delay else _split(block["text"], 3)
                stall = plan["stall_ms"] / 1000.0
                if stall:
                    words = words_of(block["text"])
                    pieces = words[:1] + ["".join(words[1:])] if len(words) > 1 else words
                for i, piece in enumerate(pieces):
                    if delay:
                        time.sleep(delay)
                    if stall and i == 1:
                        time.sleep(stall)
                    self._event("content_block_delta", {
                        "type": "content_block_delta", "index": index,
                        "delta": {"type": "text_delta", "text": piece}})
            elif kind == "thinking":
                self._event("content_block_start", {
                    "type": "content_block_start", "index": index,
                    "content_block": {"type": "thinking", "thinking": "", "signature": ""}})
                for piece in _split(block["thinking"], 2):
                    if delay:
                        time.sleep(delay)
                    self._event("content_block_delta", {
                        "type": "content_block_delta", "index": index,
                        "delta": {"type": "thinking_delta", "thinking": piece}})
                self._event("content_block_delta", {
                    "type": "content_block_delta", "index": index,
                    "delta": {"type": "signature_delta", "signature": block["signature"]}})
            elif kind == "tool_use":
                self._event("content_block_start", {
                    "type": "content_block_start", "index": index,
                    "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"],
                                      "input": {}}})
                self._event("content_block_delta", {
                    "type": "content_block_delta", "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": ""}})
                js = json.dumps(block["input"], ensure_ascii=False)
                step = max(1, (len(js) + 2) // 3)
                for i in range(0, len(js), step):
                    if delay:
                        time.sleep(delay)
                    self._event("content_block_delta", {
                        "type": "content_block_delta", "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": js[i:i + step]}})
            self._event("content_block_stop", {"type": "content_block_stop", "index": index})

        self._event("message_delta", {
            "type": "message_delta",
            "delta": {"stop_reason": plan["stop_reason"], "stop_sequence": None},
            "usage": {"input_tokens": in_tokens, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0, "output_tokens": out_tokens}})
        self._event("message_stop", {"type": "message_stop"})
        self._write(b"0\r\n\r\n")


def _split(text: str, parts: int) -> list[str]:
    """Splits text at word boundaries into at most `parts` pieces (''.join() == text)."""
    words = words_of(text)
    if len(words) <= parts:
        return words
    size = -(-len(words) // parts)
    return ["".join(words[i:i + size]) for i in range(0, len(words), size)]


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)):
            return
        eprint("error serving", client_address, repr(exc))


# ----------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    global _log_file, _verbose, _script
    ap = argparse.ArgumentParser(description="Offline mock of the Anthropic Messages API")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log", help="append one JSON line per request to this file")
    ap.add_argument("--exit-on-stdin-eof", action="store_true",
                    help="exit when stdin reaches EOF (ties the mock's life to its parent)")
    ap.add_argument("--verbose", action="store_true", help="log each request line to stderr")
    ap.add_argument("--script", help="JSON file {substring: marker text}: prompts containing the "
                    "substring are answered as if they also carried the marker text")
    args = ap.parse_args(argv)
    _verbose = args.verbose
    if args.script:
        with open(args.script, encoding="utf-8") as f:
            _script = {str(k): str(v) for k, v in json.load(f).items()}
    if args.log:
        _log_file = open(args.log, "a", encoding="utf-8")

    server = Server((args.host, args.port), Handler)
    port = server.server_address[1]
    try:
        sys.stdout.write(f"PORT {port}\n")
        sys.stdout.flush()
    except (BrokenPipeError, OSError):
        pass
    # Nothing else goes to stdout: the parent may close the pipe after the PORT line.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    except OSError:
        pass

    if args.exit_on_stdin_eof:
        def watch_stdin():
            try:
                while os.read(0, 65536):
                    pass
            except OSError:
                pass
            if _log_file is not None:
                with _lock:
                    try:
                        _log_file.flush()
                    except Exception:
                        pass
            os._exit(0)
        threading.Thread(target=watch_stdin, name="stdin-eof", daemon=True).start()

    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
