"""Agent platform (seed 001), tools: GET /tools, GET /tools/servers, POST /tools/execute with the
built-in local-filesystem server (confined to the session's projectPath), the CLI's own tools (from
the init message of a --max-turns 0 probe), restart, permissions."""
import base64
import json
import os
import time

from platform_common import Client, is_error, start_platform, wait_until


def server_of(data, sid):
    return next(s for s in data["servers"] if s["id"] == sid)


def cli_online(c):
    return server_of(c.ok("GET", "/tools/servers"), "claude-code")["status"] == "online"


def test_tools_list_has_every_server_and_the_cli_tools_from_its_init(start_server, tmp_path):
    s = start_platform(start_server, tmp_path)
    c = Client(s)
    assert wait_until(lambda: cli_online(c)), c.ok("GET", "/tools/servers")
    data = c.ok("GET", "/tools")
    ids = {t["id"]: t for t in data["tools"]}
    # The fake CLI's init lists Bash and Write; the built-in server has its three tools.
    assert {"Bash", "Write", "read_file", "write_file", "list_files"} <= set(ids), ids.keys()
    assert ids["Bash"]["category"] == "shell" and ids["Bash"]["server"] == "claude-code"
    assert ids["Bash"]["status"] == "restricted"
    assert ids["read_file"]["category"] == "file" and ids["read_file"]["status"] == "available"
    assert ids["read_file"]["schema"]["parameters"]["properties"]["path"]["required"] is True
    assert ids["read_file"]["permissions"] == ["tool:execute"]
    # Every tool belongs to a listed server, and each server lists exactly its tools.
    for srv in data["servers"]:
        assert sorted(srv["tools"]) == sorted(t["id"] for t in data["tools"] if t["server"] == srv["id"])
    fs = server_of(data, "local-filesystem")
    assert fs == {"id": "local-filesystem", "name": "Local Filesystem", "type": "local", "status": "online",
                  "capabilities": ["read", "write", "list"], "tools": ["read_file", "write_file", "list_files"]}


def test_the_seed_example_get_tools_category_file(start_server, tmp_path):
    s = start_platform(start_server, tmp_path)
    c = Client(s)
    wait_until(lambda: cli_online(c))
    data = c.ok("GET", "/tools?category=file")
    assert data["tools"] and all(t["category"] == "file" for t in data["tools"])
    assert "Write" in {t["id"] for t in data["tools"]}  # the CLI's Write is a file tool too
    assert {t["id"] for t in c.ok("GET", "/tools?server=local-filesystem")["tools"]} == \
        {"read_file", "write_file", "list_files"}
    assert all(t["status"] == "available" for t in c.ok("GET", "/tools?available=true")["tools"])
    assert {t["id"] for t in c.ok("GET", "/tools?available=false")["tools"]} >= {"Bash", "Write"}
    for bad in ("category=files", "available=yes"):
        st, body, _ = c.call("GET", "/tools?" + bad)
        assert st == 422 and is_error(body, "INVALID_INPUT"), body


def test_servers_summary(start_server, tmp_path):
    s = start_platform(start_server, tmp_path)
    c = Client(s)
    wait_until(lambda: cli_online(c))
    data = c.ok("GET", "/tools/servers")
    assert data["summary"] == {"total": 2, "online": 2, "offline": 0, "error": 0}


def test_the_seed_example_read_file(start_server, tmp_path):
    s = start_platform(start_server, tmp_path)
    c = Client(s)
    sess = c.session()
    (s.root / "src").mkdir()
    app = "import React from 'react';\n\nfunction App() {\n  return (\n    <div>Hello World</div>\n  );\n}\n"
    (s.root / "src" / "App.tsx").write_text(app)
    data = c.ok("POST", "/tools/execute", {"toolId": "read_file", "server": "local-filesystem",
                                           "parameters": {"path": str(s.root / "src" / "App.tsx")}, "sessionId": sess["id"]})
    assert data["result"] == app and data["toolUsed"] == "read_file" and data["server"] == "local-filesystem"
    assert isinstance(data["executionTime"], int) and data["executionTime"] >= 0
    # Relative to the project too, and without naming the server.
    assert c.ok("POST", "/tools/execute", {"toolId": "read_file", "parameters": {"path": "src/App.tsx"},
                                           "sessionId": sess["id"]})["result"] == app


def test_write_and_list_files(start_server, tmp_path):
    s = start_platform(start_server, tmp_path)
    c = Client(s)
    sess = c.session()
    (s.root / "d").mkdir()
    w = c.ok("POST", "/tools/execute", {"toolId": "write_file", "parameters": {"path": "d/new.txt", "content": "héllo"},
                                        "sessionId": sess["id"]})
    assert w["result"] == {"path": "d/new.txt", "bytesWritten": len("héllo".encode())}
    assert (s.root / "d" / "new.txt").read_text() == "héllo"
    raw = bytes(range(256))
    c.ok("POST", "/tools/execute", {"toolId": "write_file", "parameters": {
        "path": "d/bin", "content": base64.b64encode(raw).decode(), "encoding": "base64"}, "sessionId": sess["id"]})
    assert (s.root / "d" / "bin").read_bytes() == raw
    st, body, _ = c.call("POST", "/tools/execute", {"toolId": "read_file", "parameters": {"path": "d/bin"},
                                                    "sessionId": sess["id"]})
    assert st == 422 and "base64" in body["error"]["message"], body
    r = c.ok("POST", "/tools/execute", {"toolId": "read_file", "parameters": {"path": "d/bin", "encoding": "base64"},
                                        "sessionId": sess["id"]})
    assert base64.b64decode(r["result"]) == raw
    (s.root / "d" / "sub").mkdir()
    (s.root / "d" / "sub" / "x").write_text("x")
    os.symlink("/etc", s.root / "d" / "out")
    listing = c.ok("POST", "/tools/execute", {"toolId": "list_files", "parameters": {"path": "d", "recursive": True},
                                              "sessionId": sess["id"]})["result"]
    entries = {e["path"]: e for e in listing["entries"]}
    assert entries["d/new.txt"]["type"] == "file" and entries["d/new.txt"]["size"] == len("héllo".encode())
    assert entries["d/sub"]["type"] == "directory" and "d/sub/x" in entries
    assert entries["d/out"]["type"] == "symlink" and not any(p.startswith("d/out/") for p in entries)
    assert listing["truncated"] is False
    top = c.ok("POST", "/tools/execute", {"toolId": "list_files", "parameters": {}, "sessionId": sess["id"]})["result"]
    assert "d" in {e["name"] for e in top["entries"]}


def fs_call(c, sess, tool, path, **params):
    return c.call("POST", "/tools/execute", {"toolId": tool, "parameters": {"path": path, **params},
                                             "sessionId": sess["id"]})


def test_confinement_of_local_filesystem(start_server, tmp_path):
    s = start_platform(start_server, tmp_path)
    c = Client(s)
    proj = s.root / "proj"
    proj.mkdir()
    sess = c.session(projectPath=str(proj))
    sibling = s.root / "proj-x"
    sibling.mkdir()
    (sibling / "secret").write_text("s")
    (proj / "in.txt").write_text("inside")
    os.symlink(sibling / "secret", proj / "link-out")
    os.symlink(proj / "in.txt", proj / "link-in-abs")
    os.symlink("in.txt", proj / "link-in-rel")
    os.symlink(sibling / "new-file", proj / "dangling-out")
    os.symlink("../proj-x", proj / "dir-out")
    os.symlink("loop", proj / "loop")
    outside = ["../proj-x/secret", str(sibling / "secret"), "/etc/passwd", "link-out", "dangling-out",
               "dir-out/secret", "dir-out/../proj-x/secret", "/nonexistent/x", "../../../../etc/shadow", "loop"]
    for tool in ("read_file", "write_file", "list_files"):
        for p in outside:
            st, body, _ = fs_call(c, sess, tool, p, content="pwned")
            assert st == 403 and is_error(body, "RESOURCE_FORBIDDEN"), (tool, p, st, body)
    assert (sibling / "secret").read_text() == "s" and not (sibling / "new-file").exists()
    # Symlinks that resolve inside are followed; `..` inside stays inside.
    for p in ("link-in-abs", "link-in-rel", "./x/../in.txt", str(proj / "in.txt")):
        st, body, _ = fs_call(c, sess, "read_file", p)
        assert st == 200 and body["data"]["result"] == "inside", (p, body)
    # Missing inside: 404, not 403.
    st, body, _ = fs_call(c, sess, "read_file", "nope.txt")
    assert st == 404 and is_error(body, "INVALID_INPUT"), body
    # Writing through a symlink inside writes its target.
    st, body, _ = fs_call(c, sess, "write_file", "link-in-rel", content="new")
    assert st == 200 and (proj / "in.txt").read_text() == "new" and os.path.islink(proj / "link-in-rel")


def test_execute_errors(start_server, tmp_path):
    s = start_platform(start_server, tmp_path, users=(("dev@example.com", "all"), ("other@example.com", "all")))
    c = Client(s)
    wait_until(lambda: cli_online(c))
    sess = c.session()
    cases = [
        ({"toolId": "nope", "parameters": {}}, 404, "INVALID_INPUT", "toolId"),
        ({"toolId": "read_file", "server": "nope", "parameters": {}}, 404, "INVALID_INPUT", "server"),
        ({"toolId": "Bash", "parameters": {"command": "id"}}, 422, "INVALID_INPUT", "toolId"),
        ({"toolId": "read_file", "parameters": {"path": "x"}}, 422, "MISSING_REQUIRED_FIELD", "sessionId"),
        ({"toolId": "read_file", "parameters": {"path": "x"}, "sessionId": "sess_nope"}, 404, "SESSION_NOT_FOUND", None),
        ({"toolId": "read_file", "sessionId": sess["id"]}, 422, "MISSING_REQUIRED_FIELD", "parameters"),
        ({"toolId": "read_file", "parameters": [], "sessionId": sess["id"]}, 422, "INVALID_INPUT", "parameters"),
        ({"toolId": "read_file", "parameters": {}, "sessionId": sess["id"]}, 422, "MISSING_REQUIRED_FIELD",
         "parameters.path"),
        ({"toolId": "read_file", "parameters": {"path": "x"}, "sessionId": sess["id"], "timeout": 0}, 422,
         "INVALID_INPUT", "timeout"),
        ({"toolId": "write_file", "parameters": {"path": "x"}, "sessionId": sess["id"]}, 422, "MISSING_REQUIRED_FIELD",
         "parameters.content"),
    ]
    for body, status, code, field in cases:
        st, answer, _ = c.call("POST", "/tools/execute", body)
        assert st == status and is_error(answer, code), (body, st, answer)
        if field:
            assert answer["error"]["details"]["field"] == field, (body, answer)
    # Another user's session is not found either.
    theirs = Client(s, "other@example.com").session()
    st, answer, _ = c.call("POST", "/tools/execute", {"toolId": "list_files", "parameters": {}, "sessionId": theirs["id"]})
    assert st == 404 and is_error(answer, "SESSION_NOT_FOUND"), answer


def test_permissions_and_restart(start_server, tmp_path):
    s = start_platform(start_server, tmp_path, users=(("dev@example.com", "all"), ("ro@example.com", "tool:read")))
    ro = Client(s, "ro@example.com")
    assert ro.ok("GET", "/tools")["servers"]
    for method, path, body in (("POST", "/tools/execute", {"toolId": "read_file", "parameters": {}}),
                               ("POST", "/tools/servers/local-filesystem/restart", None)):
        st, answer, _ = ro.call(method, path, body)
        assert st == 403 and is_error(answer, "INSUFFICIENT_PERMISSIONS"), (path, answer)
    c = Client(s)
    st, answer, _ = c.call("POST", "/tools/servers/nope/restart")
    assert st == 404 and is_error(answer, "INVALID_INPUT") and answer["error"]["details"]["field"] == "serverId"
    wait_until(lambda: cli_online(c))
    st, answer, _ = c.call("POST", "/tools/servers/claude-code/restart")
    assert st == 200 and answer["message"] and answer["data"]["server"]["id"] == "claude-code", answer
    assert wait_until(lambda: cli_online(c))


# ---- configured MCP servers (tests/support/mcp_test_server.cpp) ---------------------------------

MCP = os.environ.get("CCB_MCP_TEST_SERVER", "")


def put_mcp(c, servers, **tools):
    return c.ok("PUT", "/config", {"section": "tools", "config": {"tools": {"mcpServers": servers, **tools}}})


def mcp_online(c, sid):
    srv = [s for s in c.ok("GET", "/tools/servers")["servers"] if s["id"] == sid]
    return srv and srv[0]["status"] == "online" and srv[0]


def execute(c, tool, params, **extra):
    return c.call("POST", "/tools/execute", {"toolId": tool, "server": "t", "parameters": params, **extra})


def test_a_configured_mcp_server_lists_runs_times_out_crashes_and_restarts(start_server, tmp_path):
    s = start_platform(start_server, tmp_path)
    c = Client(s)
    put_mcp(c, {"t": {"type": "stdio", "command": MCP, "args": []}})
    srv = wait_until(lambda: mcp_online(c, "t"))
    assert srv and srv["type"] == "local" and "echo" in srv["tools"] and srv["lastPing"], c.ok("GET", "/tools/servers")
    tools = {t["id"]: t for t in c.ok("GET", "/tools?server=t")["tools"]}
    assert tools["add"]["server"] == "t" and tools["add"]["category"] == "custom"
    assert tools["add"]["schema"]["parameters"]["properties"]["a"]["type"] == "number"
    assert tools["add"]["schema"]["parameters"]["properties"]["a"]["required"] is True
    # echo answers text; add answers structuredContent.
    st, body, _ = execute(c, "echo", {"x": 1})
    assert st == 200 and body["data"]["toolUsed"] == "echo" and body["data"]["server"] == "t", body
    assert '"x"' in body["data"]["result"] and isinstance(body["data"]["executionTime"], int)
    st, body, _ = execute(c, "add", {"a": 2, "b": 3})
    assert st == 200 and body["data"]["result"] == {"sum": 5}, body
    st, body, _ = execute(c, "fail", {})
    assert st == 200 and body["data"]["isError"] is True, body
    # Past its timeout: 504, and the server was told (its slow call was cancelled).
    t0 = time.time()
    st, body, _ = execute(c, "slow", {"ms": 10000}, timeout=300)
    assert st == 504 and is_error(body, "TIMEOUT_ERROR") and time.time() - t0 < 5, body
    assert wait_until(lambda: execute(c, "stats", {})[1]["data"]["result"]["cancelled"] >= 1)
    # A crash: 503 for the call, the server in error, then a restart brings it back.
    st, body, _ = execute(c, "crash", {})
    assert st == 503 and is_error(body, "SERVICE_UNAVAILABLE"), body
    st, body, _ = execute(c, "echo", {})
    assert st == 503, body
    srv = wait_until(lambda: [x for x in c.ok("GET", "/tools/servers")["servers"] if x["id"] == "t"
                            and x["status"] == "error"])
    assert srv and srv[0]["error"], srv
    st, body, _ = c.call("POST", "/tools/servers/t/restart")
    assert st == 200 and body["data"]["server"]["status"] == "online" and "restarted" in body["message"], body
    assert execute(c, "echo", {"y": 2})[0] == 200


def test_mcp_servers_follow_the_configuration_and_the_cli_gets_them(start_server, tmp_path):
    inv = tmp_path / "inv.json"
    s = start_platform(start_server, tmp_path, script=f"dump_invocation {inv}\nserve_turns")
    c = Client(s)
    put_mcp(c, {"t": {"type": "stdio", "command": MCP}, "off": {"type": "stdio", "command": MCP, "enabled": False}})
    assert wait_until(lambda: mcp_online(c, "t"))
    off = [x for x in c.ok("GET", "/tools/servers")["servers"] if x["id"] == "off"][0]
    assert off["status"] == "offline" and "disabled" in off["error"]
    health = c.ok("GET", "/monitoring/health")
    assert health["services"]["mcp:t"]["status"] == "online", health
    # The session's CLI gets the enabled server in --mcp-config.
    sess = c.session()
    c.ok("POST", "/tasks", {"sessionId": sess["id"], "content": "hi", "options": {"async": False}}, 201)
    argv = json.loads(inv.read_text())["argv"]
    conf = next(a for a in argv if a.startswith("--mcp-config"))
    assert '"t"' in conf and '"off"' not in conf and "enabled" not in conf, conf
    # Removed from the configuration (a merge patch: null removes): gone from the listing.
    put_mcp(c, {"t": None, "off": None})
    assert wait_until(lambda: not [x for x in c.ok("GET", "/tools/servers")["servers"] if x["id"] in ("t", "off")])
    assert "mcp:t" not in c.ok("GET", "/monitoring/health")["services"]


def test_a_server_that_cannot_start_is_in_error_and_an_unknown_one_is_not_found(start_server, tmp_path):
    s = start_platform(start_server, tmp_path)
    c = Client(s)
    put_mcp(c, {"bad": {"type": "stdio", "command": str(tmp_path / "no-such-server")}})
    srv = wait_until(lambda: [x for x in c.ok("GET", "/tools/servers")["servers"] if x["id"] == "bad"
                            and x["status"] == "error"])
    assert srv and "does not exist" in srv[0]["error"], srv
    st, body, _ = c.call("POST", "/tools/execute", {"toolId": "echo", "server": "nope", "parameters": {}})
    assert st == 404 and body["error"]["details"]["field"] == "server", body
