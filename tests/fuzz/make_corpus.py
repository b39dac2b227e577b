#!/usr/bin/env python3
"""Builds the seed corpora of the fuzz targets (tests/fuzz) into OUT/<target>/.

Seeds come from the real CLI transcripts (tests/fixtures/transcripts: stdout and stdin lines) and
from the protocols of the seed documents (/work/shared/seeds, summarised in docs/PROTOCOL.md):
HTTP requests and WebSocket messages of each profile. Nothing here is committed as files: run
  tests/fuzz/make_corpus.py OUT
(tests/fuzz/run.sh does, and the build for the replay tests: tests/unit/CMakeLists.txt). Deterministic:
the same tree gives the same corpus.
"""
import hashlib
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRANSCRIPTS = os.path.join(ROOT, "tests", "fixtures", "transcripts")
PROJ = "/tmp/ccb-fuzz-root/proj"  # fuzz_server.cpp creates it; inside the allowed root
MAX_SEED = 48 * 1024
DEPTH = 512  # ccbridge::max_json_depth: the seeds nest to it and one beyond


def write(out, target, data):
    if isinstance(data, str):
        data = data.encode()
    data = data[:MAX_SEED]
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def nested(levels):
    return "[" * levels + "]" * levels


def transcript_files(suffix):
    for name in sorted(os.listdir(TRANSCRIPTS)):
        if name.endswith(suffix):
            with open(os.path.join(TRANSCRIPTS, name), "rb") as f:
                yield name, f.read()


def stdout_transcripts():
    for name, data in transcript_files(".jsonl"):
        if name.endswith(".stdin.jsonl") or name.endswith(".timeline.jsonl"):
            continue
        yield name, data


def lines(data):
    return [l for l in data.split(b"\n") if l.strip()]


def framer(out):
    t = "fuzz_framer"
    for name, data in stdout_transcripts():
        ls = lines(data)
        for i in range(0, len(ls), 16):  # groups of lines, each seed small
            write(out, t, b"\n".join(ls[i:i + 16]) + b"\n")
    for name, data in transcript_files(".stdin.jsonl"):
        write(out, t, data)
    # Framing edge cases: CRLF, blank and noise lines, no final newline, a long line, NUL, bad UTF-8.
    write(out, t, b'{"type":"system","subtype":"init"}\r\n\r\n  \t\nnoise\n{"type":"result","subtype":"success","is_error":true}')
    write(out, t, b'{"type":"assistant","message":{"content":"' + b"x" * 600 + b'"}}\n{"a":1}\n')
    write(out, t, b'{"type":"user","x":"\xc3\x28"}\n{"t":"\x00"}\n{"n":1e400,"m":-0.0,"k":123456789012345678901234567890}\n')
    write(out, t, b'{"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a"}}}\n')
    write(out, t, b'{"type":"ty\\u0070e","subtype":"\\ud83d\\ude00"}\n{"type":"result","subtype":"success","permission_denials":[{"tool_name":"Bash","tool_input":{}}]}\n')
    # At the nesting limit and one beyond (the line's object is level 1).
    for levels in (DEPTH, DEPTH + 1):
        write(out, t, '{"type":"assistant","message":{"content":[{"type":"tool_use","input":{"a":%s}}]}}\n' % nested(levels - 5))


def json_depth(out):
    """fuzz_json_depth: a mode byte (levels: 496 + mode % 32; 0xFE, 0xFF: 65,536, 200,000), shape
    bytes per level, or 0xFF, a position and a replacement byte to corrupt the text."""
    t = "fuzz_json_depth"
    for levels in (DEPTH - 3, DEPTH - 2, DEPTH - 1, DEPTH, DEPTH + 1):
        mode = bytes([levels - (DEPTH - 16)])
        for shape in (b"", b"\x00", b"\x01", b"\x2b\x36\x13", b"\x0f\x1e\x2d\x3c\x01"):
            write(out, t, mode + shape)
        write(out, t, mode + b"\xff\x00\x07\x00\x01\x02")  # a character deleted
        write(out, t, mode + b"\xff\x01\x00\x7b\x01")      # a '{' written in
    write(out, t, b"\xfe\x2b")
    write(out, t, b"\xff\x01")


def control(out):
    t = "fuzz_control"
    for name, data in stdout_transcripts():
        if b"control_" in data or name.startswith("d_"):
            ls = lines(data)
            for i in range(0, len(ls), 24):
                write(out, t, b"\n".join(ls[i:i + 24]) + b"\n")
    req = lambda rid, body: json.dumps({"type": "control_request", "request_id": rid, "request": body}) + "\n"
    resp_ok = lambda rid, body: json.dumps({"type": "control_response", "response": {"subtype": "success", "request_id": rid, "response": body}}) + "\n"
    resp_err = lambda rid, msg: json.dumps({"type": "control_response", "response": {"subtype": "error", "request_id": rid, "error": msg}}) + "\n"
    cancel = lambda rid: json.dumps({"type": "control_cancel_request", "request_id": rid}) + "\n"
    cut = lambda name, inp: {"subtype": "can_use_tool", "tool_name": name, "input": inp, "tool_use_id": "toolu_1",
                             "permission_suggestions": [{"type": "setMode", "mode": "acceptEdits", "destination": "session"}],
                             "decision_reason": "This command requires approval"}
    call = lambda tool, args: {"subtype": "mcp_message", "server_name": "calc",
                               "message": {"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": tool, "arguments": args}}}
    seeds = [
        resp_ok("REQ1", {"still_queued": []}) + resp_err("REQ2", "no such model"),
        resp_ok("REQ2", {}) + resp_ok("REQ1", {}) + resp_ok("REQ1", {}),
        req("c1", cut("allow", {"command": "ls"})) + req("c2", cut("edit", {"command": "pwd"})),
        req("c3", cut("deny", {"x": 1})) + req("c4", cut("throw", {})) + req("c5", cut("never", {})),
        req("c6", cut("later", {})) + req("c7", cut("later2", {})) + cancel("c6"),
        req("h1", {"subtype": "hook_callback", "callback_id": "hook_0", "input": {"hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": {"command": "ls"}}, "tool_use_id": "t"}),
        req("h2", {"subtype": "hook_callback", "callback_id": "hook_0", "input": {"hook_event_name": "Stop", "reason": "r", "hookSpecificOutput": {"hookEventName": "Stop"}}})
        + req("h3", {"subtype": "hook_callback", "callback_id": "hook_1", "input": {}}) + req("h4", {"subtype": "hook_callback", "callback_id": "nope"}),
        req("m1", {"subtype": "mcp_message", "server_name": "calc", "message": {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18"}}})
        + req("m2", {"subtype": "mcp_message", "server_name": "calc", "message": {"jsonrpc": "2.0", "id": "x", "method": "tools/list"}}),
        req("m3", {"subtype": "mcp_message", "server_name": "calc", "message": {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "add", "arguments": {"a": 2, "b": 3}}}})
        + req("m4", {"subtype": "mcp_message", "server_name": "calc", "message": {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "bad", "arguments": {"content": "[1"}}}})
        + req("m5", {"subtype": "mcp_message", "server_name": "other", "message": {"id": 4}}),
        req("a1", call("async", {"x": 1})) + req("a2", call("async", {"later": True})) + req("a3", call("async", {"later": 2}))
        + req("a4", call("async", {"throw": True})) + cancel("a3"),
        req("u1", {"subtype": "no_such_subtype"}) + req(5, {"subtype": "can_use_tool"}) + '{"type":"control_request"}\n',
        '{"type":"system","subtype":"init"}\n' * 10 + resp_ok("REQ1", {}),
        "#oneshot\n" + req("o1", {"subtype": "can_use_tool", "tool_name": "Bash"}) + resp_ok("x", {}) + cancel("o1"),
    ]
    for s in seeds:
        write(out, t, s)


def options(out):
    t = "fuzz_options"
    seeds = [
        {"model": "claude-sonnet-4-5", "allowed_tools": ["Bash", "Read"], "permission_mode": "acceptEdits", "max_turns": 3},
        {"system_prompt": {"type": "preset", "preset": "claude_code", "append": "be brief"}, "tools": {"type": "preset", "preset": "claude_code"}},
        {"system_prompt": {"type": "file", "path": "/tmp/p.txt"}, "skills": "all", "thinking": {"type": "enabled", "budget_tokens": 1000, "display": "summarized"}},
        {"mcp_servers": {"fs": {"type": "stdio", "command": "mcp-fs", "args": ["/tmp"]}}, "strict_mcp_config": True, "setting_sources": ["user", "project"]},
        {"mcp_servers": "/tmp/mcp.json", "extra_args": {"debug-to-stderr": None, "foo": "bar"}, "env": {"A": "1", "B": ""}},
        {"output_format": {"type": "json_schema", "schema": {"type": "object"}}, "task_budget": {"total": 100}, "max_budget_usd": 0.5},
        {"plugins": [{"type": "local", "path": "/tmp/plugin"}], "plugin_dirs": ["/tmp/x"], "add_dirs": ["/a", "/b"], "betas": ["b1"]},
        {"resume": "abc", "fork_session": True, "resume_session_at": "u1", "continue_conversation": False, "session_id": "s"},
        {"shutdown": {"exit_wait_ms": 100, "term_wait_ms": 0, "drain_wait_ms": 5}, "max_line_bytes": 4096, "max_buffered_messages": 1, "stderr_tail_bytes": 0},
        {"fallback_model": "claude-sonnet-4-5", "model": "claude-sonnet-4-5", "effort": "high", "max_thinking_tokens": 0, "cwd": "/tmp", "user": "nobody"},
        {"listeners": [{"host": "127.0.0.1", "port": 0, "profiles": ["sdk-ws"]}], "cli": {"model": "m", "cli_path": "/bin/true"},
         "allowed_roots": ["/tmp"], "allowed_permission_modes": ["default", "plan"], "default_permission_mode": "plan", "token": "t",
         "allowed_origins": ["*"], "cors": True, "tasks_ui_timeout_ms": 1000, "sdk_ws_session_timeout_ms": 1, "sdk_ws_reconnect_grace_ms": 0,
         "limits": {"max_connections": 1, "max_sessions": 2, "max_body_bytes": 3, "max_ws_message_bytes": 4, "send_buffer_bytes": 5,
                    "slow_client_timeout_ms": 6, "run_log_bytes": 7, "finished_run_grace_ms": 8, "idle_timeout_ms": 9},
         "log_level": "debug", "log_json": True},
        {"model": None, "tools": [], "skills": None, "thinking": None, "sandbox": {"enabled": True}, "settings": "{\"a\":1}"},
        {"permission_prompt_tool_name": "stdio", "include_partial_messages": True, "include_hook_events": True, "enable_file_checkpointing": True, "session_mirror": True},
    ]
    for s in seeds:
        write(out, t, json.dumps(s))
    write(out, t, '[{"type":"text","text":"hi"}]')
    write(out, t, '{"model":"\\u0000x","env":{"A=B":"1"}}')
    write(out, t, '{"max_turns":1e400,"max_budget_usd":-1}')


def http_request(method, target, headers=(), body=None):
    h = ["%s %s HTTP/1.1" % (method, target), "Host: 127.0.0.1:3000"]
    h += list(headers)
    if body is not None:
        body = body if isinstance(body, str) else json.dumps(body)
        h += ["Content-Type: application/json", "Content-Length: %d" % len(body.encode())]
    return "\r\n".join(h) + "\r\n\r\n" + (body or "")


UPGRADE = ["Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="]
AUTH = ["Authorization: Bearer fuzz-token"]
ORIGIN_OK = ["Origin: http://allowed.example"]
ORIGIN_BAD = ["Origin: http://evil.example"]


def common_http():
    r = http_request
    return [
        r("GET", "/health") + r("GET", "/healthz") + r("GET", "/metrics"),
        r("GET", "/nope") + r("DELETE", "/health") + r("OPTIONS", "/metrics", ORIGIN_OK),
        "!" + r("GET", "/metrics") + r("GET", "/metrics?token=fuzz-token") + r("GET", "/metrics", AUTH),
        "!" + r("OPTIONS", "/claude/execute", ORIGIN_OK) + r("OPTIONS", "/", ORIGIN_BAD),
    ]


def http_targets(out):
    r = http_request
    execute = {"project_path": PROJ, "prompt": "你想要 Claude 执行的任务", "model": "claude-3-5-sonnet-20241022",
               "session_type": "new", "session_id": "optional-for-resume"}
    opcode = common_http() + [
        r("POST", "/claude/execute", body=execute) + r("POST", "/claude/cancel/{sid}") + r("GET", "/ws/claude/{sid}", UPGRADE),
        r("POST", "/claude/execute", body=dict(execute, session_type="resume", session_id="abc")),
        r("POST", "/claude/execute", body=dict(execute, session_type="continue", project_path="/tmp/ccb-fuzz-root/escape/etc")),
        r("POST", "/claude/execute", body={"prompt": "", "project_path": 1}) + r("POST", "/claude/execute", body="[1,2"),
        r("POST", "/claude/execute", ORIGIN_BAD, body=execute) + r("POST", "/claude/cancel/x%2Fy%FF"),
        "!" + r("POST", "/claude/execute", AUTH + ORIGIN_OK, body=execute),
        r("GET", "/") + r("GET", "/demo") + r("GET", "/demo/config") + r("GET", "/ws/claude/nope?since_seq=-1", UPGRADE),
        r("GET", "/ws/claude/abc?since_seq=18446744073709551616", UPGRADE + ORIGIN_BAD),
        r("POST", "/claude/execute", body='{"project_path":"%s","prompt":"x","x":%s}' % (PROJ, nested(DEPTH - 1)))
        + r("POST", "/claude/execute", body='{"project_path":"%s","prompt":"x","x":%s}' % (PROJ, nested(DEPTH))),
    ]
    tasks = common_http() + [
        r("GET", "/ws/claude", UPGRADE) + r("GET", "/ws/claude?x=%zz&&=1&a=b+c", UPGRADE + ORIGIN_OK),
        "!" + r("GET", "/ws/claude?token=fuzz-token", UPGRADE) + r("GET", "/ws/claude", UPGRADE),
        r("POST", "/ws/claude", body={"prompt": "Hello Claude", "meta": "TASK-123"}),
    ]
    sdk = common_http() + [
        r("GET", "/sessions") + r("GET", "/ws?resumable=1", UPGRADE) + r("GET", "/sessions"),
        r("GET", "/ws?session_id={sid}&since_seq=0", UPGRADE) + r("GET", "/ws?session_id=%FF&since_seq=1", UPGRADE),
        "!" + r("GET", "/sessions", AUTH) + r("GET", "/ws", UPGRADE + ["Authorization: Bearer wrong"]),
    ]
    for name, seeds in (("fuzz_http_opcode", opcode), ("fuzz_http_tasks_ui", tasks), ("fuzz_http_sdk_ws", sdk)):
        for s in seeds:
            write(out, name, s)


def ws_seed(target, headers, messages):
    head = "GET %s HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n" % target
    head += "".join(h + "\r\n" for h in headers)
    return head + "\r\n" + "\n".join(m if isinstance(m, str) else json.dumps(m) for m in messages) + "\n"


def ws_targets(out):
    w = ws_seed
    q = lambda prompt, **opts: {"type": "query", "prompt": prompt, "options": opts}
    tasks = [
        w("/ws/claude", [], [{"prompt": "Hello Claude", "meta": "TASK-123"}]),
        w("/ws/claude", [], [{"prompt": "hi"}, {"prompt": "again"}]),
        w("/ws/claude", [], [{"prompt": "x" * 9000}]),
        w("/ws/claude", [], [{"prompt": "hi", "meta": "bad meta!"}, "!open /ws/claude", "not json", "!close 1000"]),
        w("/ws/claude", [], [[1, 2], "!open /ws/claude", {"prompt": 5}, "!open /ws/claude", {"meta": None, "prompt": "p"}, "!wait"]),
        "!" + w("/ws/claude?token=fuzz-token", [], [{"prompt": "hi", "meta": "A-1"}]),
    ]
    sdk = [
        w("/ws", [], [q("Hello", allowed_tools=["Read"], permission_mode="default", max_thinking_tokens=100, model="m", cwd=PROJ),
                      {"type": "interrupt"}, {"type": "ping"}]),
        w("/ws", [], [{"type": "define_tool", "tool": {"name": "t1", "description": "d", "parameters": {"x": {"type": "string", "required": True}}}},
                      {"type": "define_tool", "tool": {"name": "t2", "parameters": {"type": "object", "properties": {}}}},
                      {"type": "get_tools"}, q("use the tool"), {"type": "tool_result", "call_id": "{call}", "content": "ok"}]),
        w("/ws?resumable=1", [], [q("hi", permission_requests=True), "!wait",
                                  {"type": "permission_response", "request_id": "{perm}", "behavior": "allow", "updated_input": {"command": "pwd"}},
                                  "!close 1001", "!open /ws?session_id={sid}&since_seq=1", {"type": "input", "text": "more"}]),
        w("/ws", [], [q("a", permission_mode="bypassPermissions"), q("b", cwd="/etc"), q("c", cwd="relative"), q("d", continue_conversation=True, resume="r")]),
        w("/ws", [], [{"type": "input", "text": "x"}, {"type": "interrupt"}, {"type": "unknown"}, {}, [], "{", {"type": "tool_result", "call_id": "nope"}]),
        w("/ws", [], [{"type": "permission_response", "request_id": "p", "behavior": "maybe"}, {"type": "query", "prompt": "p", "options": [1]}, "!shutdown"]),
        "!" + w("/ws?token=fuzz-token", [], [q("p"), {"type": "get_tools"}]),
        w("/ws", [], ['{"type":"define_tool","tool":{"name":"d%d","parameters":{"a":{"type":%s}}}}' % (n, nested(DEPTH + n - 4))
                      for n in (0, 1)] + [{"type": "get_tools"}]),
    ]
    opcode = [
        w("/ws/claude/{sid}", [], ["hello", "!close"]),
        w("/ws/claude/{sid}?since_seq=2", [], ["!open /ws/claude/{sid}?since_seq=0", "!wait"]),
        w("/ws/claude/nope?since_seq=x", [], []),
    ]
    for name, seeds in (("fuzz_ws_tasks_ui", tasks), ("fuzz_ws_sdk_ws", sdk), ("fuzz_ws_opcode", opcode)):
        for s in seeds:
            write(out, name, s)
            write(out, name + "_cli", s)
    # With the fake CLI: scripts, and a run to attach to (opcode: started by an HTTP request first).
    for s in ("turns", "perm", "tool", "crash", "noise"):
        write(out, "fuzz_ws_sdk_ws_cli", w("/ws?resumable=1", [], ["!script " + s, q("Hello", permission_requests=(s == "perm")), "!wait",
                                                                  {"type": "tool_result", "call_id": "{call}", "content": [{"type": "text", "text": "r"}]},
                                                                  {"type": "permission_response", "request_id": "{perm}", "behavior": "deny", "message": "no"},
                                                                  q("again", model="other"), {"type": "input", "text": "more"}, {"type": "interrupt"}, "!wait"]))
        write(out, "fuzz_ws_tasks_ui_cli", w("/ws/claude", [], ["!script " + s, {"prompt": "Hello Claude", "meta": "TASK-1"}, "!wait"]))
        write(out, "fuzz_ws_opcode_cli", w("/ws/claude/{sid}", [], ["!script " + s, "!execute", "!open /ws/claude/{sid}", "!wait", "!open /ws/claude/{sid}?since_seq=1"]))
    # The three profiles on one port; handshakes reset over the real transport (!reset CUT STEPS
    # [TARGET]): at once, mid-request, after a few server steps (the upgrade accepted, its 101
    # written, the connection open), ending every way (accepted, 1008 for the token, 403, 404, 426).
    resets = ["!reset 9999 %d" % n for n in (0, 1, 2, 3, 5, 64)] + ["!reset 30 2", "!reset 0 0"]
    for s in (w("/ws", [], resets + ["!reset 9999 4 /nowhere", "!reset 9999 4 /ws/claude", {"type": "ping"}]),
              w("/ws/claude", [], resets + [{"prompt": "hi"}]),
              w("/ws/claude/nope", ORIGIN_BAD, resets),
              w("/ws/claude/{sid}", ["Sec-WebSocket-Version: 8"], resets + ["!reset 9999 3 /ws/claude/x?since_seq=1"]),
              "!" + w("/ws?token=fuzz-token", [], resets + ["!reset 9999 3 /ws", "!reset 9999 64 /ws/claude"])):
        write(out, "fuzz_ws_handshake", s)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_corpus.py OUT")
    out = sys.argv[1]
    framer(out)
    json_depth(out)
    control(out)
    options(out)
    http_targets(out)
    ws_targets(out)


if __name__ == "__main__":
    main()
