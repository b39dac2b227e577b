"""Each example request of seed 001 as written there (ids replaced by real ones, paths by the
test's project directory), and its answer checked against the seed's example and interfaces:
every field the seed's response shows is there with its type, and the values that do not depend
on time or randomness are equal."""
import asyncio
import json
import re

from conftest import run, ws_connect
from platform_common import Client, add_user, is_error, next_event, start_platform

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_login_example(start_server, tmp_path):
    s = start_platform(start_server, tmp_path, users=(("user@example.com", "session:create,task:submit"),))
    st, body, _ = s.http("POST", "/v1/auth/login", {"email": "user@example.com", "password": "secret-password"})
    assert st == 200 and body["success"] is True
    d = body["data"]
    assert d["token"].startswith("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.")  # the seed's token starts so
    assert d["refreshToken"].startswith("rt_") and d["expiresIn"] == 3600
    u = d["user"]
    assert u["email"] == "user@example.com" and u["id"].startswith("user_") and isinstance(u["name"], str)
    assert u["permissions"] == ["session:create", "task:submit"]


def test_refresh_and_logout_examples(start_server, tmp_path):
    s = start_platform(start_server, tmp_path)
    c = Client(s)
    st, body, _ = s.http("POST", "/v1/auth/refresh", {"refreshToken": c.refresh})
    assert st == 200 and body["success"] is True
    assert isinstance(body["data"]["token"], str) and body["data"]["expiresIn"] == 3600
    c.token = body["data"]["token"]
    st, body, _ = c.call("POST", "/auth/logout")
    assert st == 200 and body["success"] is True and isinstance(body["message"], str)


def test_sessions_list_example(start_server, tmp_path):
    s = start_platform(start_server, tmp_path)
    c = Client(s)
    for i in range(12):
        c.session(f"React 專案重構 {i}", metadata={"language": "typescript"})
    data = c.ok("GET", "/sessions?page=1&limit=10&status=active")
    assert data["pagination"] == {"total": 12, "page": 1, "limit": 10, "totalPages": 2}
    sess = data["sessions"][0]
    assert set(sess) >= {"id", "name", "status", "agent", "createdAt", "updatedAt", "lastActivity", "taskCount", "metadata"}
    assert sess["id"].startswith("sess_") and sess["status"] == "active"
    assert sess["agent"] == {"id": "build", "name": "Build Agent", "type": "build"}
    assert all(ISO.match(sess[k]) for k in ("createdAt", "updatedAt", "lastActivity"))
    assert sess["taskCount"] == 0
    assert sess["metadata"] == {"projectPath": str(s.root), "language": "typescript"}


def test_create_session_example(start_server, tmp_path):
    s = start_platform(start_server, tmp_path)
    c = Client(s)
    project = s.root / "new-project"
    project.mkdir()
    st, body, _ = c.call("POST", "/sessions", {"name": "新專案開發", "agentId": "build",
                                              "config": {"projectPath": str(project),
                                                         "rules": ["follow-typescript-style"],
                                                         "skills": ["code-review", "testing"]}})
    assert st == 201 and body["success"] is True
    sess = body["data"]["session"]
    assert sess["name"] == "新專案開發" and sess["agent"]["type"] == "build"
    detail = c.ok("GET", f"/sessions/{sess['id']}")["session"]
    assert detail["tasks"] == []
    conf = detail["configuration"]
    assert conf["rules"] == ["follow-typescript-style"] and conf["skills"] == ["code-review", "testing"]
    assert set(conf["agent"]) >= {"model", "maxTokens", "temperature", "tools", "permissions"}
    assert "session:create" in conf["permissions"]
    stats = detail["statistics"]
    assert set(stats) >= {"totalTasks", "completedTasks", "failedTasks", "averageTaskDuration", "totalExecutionTime"}
    st, body, _ = c.call("DELETE", f"/sessions/{sess['id']}")
    assert st == 200 and body["success"] is True and isinstance(body["message"], str)


def test_submit_task_example_and_get_task(start_server, tmp_path):
    s = start_platform(start_server, tmp_path)
    c = Client(s)
    sess = c.session()
    content = "幫我重構這個 React 組件，加上 TypeScript 類型"
    st, body, _ = c.call("POST", "/tasks", {"sessionId": sess["id"], "content": content, "type": "file_operation",
                                           "context": {"files": ["src/components/Button.jsx"],
                                                       "workingDirectory": str(s.root)},
                                           "options": {"priority": "normal", "async": False}})
    assert st == 201 and body["success"] is True
    task = body["data"]["task"]
    assert task["id"].startswith("task_") and task["sessionId"] == sess["id"] and task["content"] == content
    assert task["type"] == "file_operation" and task["status"] == "completed"  # async false: answered when done
    assert task["executionPath"] in ("fast", "agent") and ISO.match(task["createdAt"])
    assert isinstance(task["metadata"], dict)
    got = c.ok("GET", f"/tasks/{task['id']}")["task"]
    assert set(got) >= {"id", "sessionId", "status", "progress", "executionPath", "startedAt", "completedAt"}
    assert got["progress"]["percentage"] == 100
    r = got["result"]
    assert r["success"] is True and r["output"] == f"echo: {content}"
    assert set(r["metrics"]) >= {"executionTime", "toolsUsed", "resourceUsage"}
    st, body, _ = c.call("POST", f"/tasks/{task['id']}/cancel")
    assert st == 200 and body["success"] is True and isinstance(body["message"], str)
    assert body["data"]["task"]["status"] == "completed"  # finished: a cancel changes nothing
    lst = c.ok("GET", f"/tasks?sessionId={sess['id']}&status=completed&type=file_operation&page=1&limit=5"
                      "&sortBy=createdAt&sortOrder=desc")
    assert [t["id"] for t in lst["tasks"]] == [task["id"]]
    assert lst["pagination"] == {"total": 1, "page": 1, "limit": 5, "totalPages": 1}


def test_agents_examples(start_server, tmp_path):
    s = start_platform(start_server, tmp_path)
    c = Client(s)
    agents = {a["id"]: a for a in c.ok("GET", "/agents")["agents"]}
    for a in agents.values():
        assert set(a) >= {"id", "name", "type", "description", "capabilities", "configuration", "status", "metadata"}
        assert set(a["configuration"]) >= {"model", "maxTokens", "temperature", "tools", "permissions"}
        assert a["status"] in ("available", "busy", "offline") and isinstance(a["metadata"]["version"], str)
    assert agents["build"]["name"] == "Build Agent" and agents["plan"]["name"] == "Plan Agent"
    assert agents["plan"]["type"] == "plan"
    st, body, _ = c.call("POST", "/agents", {
        "name": "Frontend Specialist", "description": "專精前端開發的客製化 Agent",
        "configuration": {"model": "claude-3-5-sonnet", "maxTokens": 6000, "temperature": 0.2,
                          "tools": ["bash", "edit", "read"], "permissions": ["tool:execute"],
                          "systemPrompt": "你是前端開發專家，熟悉 React、TypeScript、TailwindCSS"},
        "skills": ["react-development", "typescript-migration"], "rules": ["prefer-functional-components", "use-typescript"]})
    assert st == 201 and body["success"] is True
    made = body["data"]["agent"]
    assert made["name"] == "Frontend Specialist" and made["type"] == "custom"
    assert made["configuration"]["tools"] == ["bash", "edit", "read"]
    st, body, _ = c.call("PUT", f"/agents/{made['id']}", {"description": "x", "configuration": {"temperature": 0.3},
                                                         "status": "busy"})
    assert st == 200 and body["data"]["agent"]["status"] == "busy"
    assert body["data"]["agent"]["configuration"]["maxTokens"] == 6000
    st, body, _ = c.call("DELETE", f"/agents/{made['id']}")
    assert st == 200 and body["success"] is True and isinstance(body["message"], str)


def test_ws_chat_example(start_server, tmp_path):
    s = start_platform(start_server, tmp_path)
    c = Client(s)
    sess = c.session()

    async def go():
        async with ws_connect(c.ws_url(sess["id"])) as ws:
            await next_event(ws, "connection:established")
            await ws.send(json.dumps({"type": "chat:message", "id": "msg_123", "timestamp": "2026-01-22T11:40:00Z",
                                      "sessionId": sess["id"],
                                      "data": {"content": "幫我建立一個 React 組件", "type": "command",
                                               "context": {"workingDirectory": str(s.root / "src")}}}))
            while True:
                ev = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if ev["type"] == "chat:response" and not ev["data"].get("partial"):
                    return ev

    ev = run(go())
    assert set(ev) >= {"type", "id", "timestamp", "sessionId", "data"} and ev["sessionId"] == sess["id"]
    assert ISO.match(ev["timestamp"])
    d = ev["data"]
    assert d["content"] == "echo: 幫我建立一個 React 組件" and d["type"] in ("text", "markdown", "code")
    assert d["metadata"]["agent"] == "build" and isinstance(d["metadata"]["executionTime"], int)
    assert isinstance(d["metadata"]["toolsUsed"], list)


def test_error_example_token_expired(start_server, tmp_path):
    import base64
    import hashlib
    import hmac
    import time
    from platform_common import SECRET

    s = start_platform(start_server, tmp_path)
    c = Client(s)

    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    now = int(time.time())
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64(json.dumps({"sub": c.user["id"], "iat": now - 7200, "exp": now - 3600, "iss": "ccbridge",
                              "permissions": [], "jti": "jti_x"}).encode())
    sig = b64(hmac.new(SECRET.encode(), f"{head}.{payload}".encode(), hashlib.sha256).digest())
    st, body, _ = s.http("GET", "/v1/sessions", headers={"Authorization": f"Bearer {head}.{payload}.{sig}"})
    assert st == 401 and is_error(body, "TOKEN_EXPIRED")
    assert body["error"]["message"] == "JWT token has expired"
    assert ISO.match(body["error"]["details"]["expiredAt"]) and ISO.match(body["error"]["timestamp"])
