"""The agent platform's (seed 001) "complete workflow" example, step by step, with the real pinned
Claude Code CLI against the offline mock of the Messages API (run by ctest through netns-run.sh and
with-mock-api.sh): log in, create a session, open the chat WebSocket, send a chat message that
makes the model write a file, receive task:progress while it works and task:complete with the
file in result.files, then read the task and the session back over REST."""
import asyncio
import json
import os

from conftest import run, ws_connect
from platform_common import Client, next_event, start_platform

REAL = os.environ.get("CCB_REAL_CLI", "")


def test_the_seeds_complete_workflow(start_server, tmp_path):
    s = start_platform(start_server, tmp_path, script="", users=(("developer@example.com", "all"),), cli=REAL)
    # 1. login
    c = Client(s, "developer@example.com")
    assert c.user["email"] == "developer@example.com" and "task:submit" in c.user["permissions"]
    # 2. a session on the project
    (s.root / "src" / "components").mkdir(parents=True)
    (s.root / "src" / "components" / "Button.jsx").write_text("export default () => <button/>;\n")
    sess = c.ok("POST", "/sessions", {"name": "React refactor", "agentId": "build",
                                      "config": {"projectPath": str(s.root)}}, 201)["session"]
    content = ("Convert this JavaScript component to TypeScript "
               "[[tool: TaskCreate :: {\"subject\": \"Add TypeScript interfaces\", \"description\": \"types\", "
               "\"activeForm\": \"Adding TypeScript interfaces\"}]] "
               "[[write: " + str(s.root) + "/src/components/Button.tsx :: export default (): JSX.Element => <button/>;]]")

    async def go():
        # 3. the WebSocket, 4. the chat message, 5. progress, 6. completion
        async with ws_connect(c.ws_url(sess["id"])) as ws:
            await next_event(ws, "connection:established")
            await ws.send(json.dumps({"type": "chat:message", "id": "msg_001", "timestamp": "2026-01-22T12:00:00Z",
                                      "sessionId": sess["id"],
                                      "data": {"content": content, "type": "command",
                                               "context": {"files": ["src/components/Button.jsx"],
                                                           "workingDirectory": str(s.root)}}}))
            events = []
            while True:
                ev = json.loads(await asyncio.wait_for(ws.recv(), 120))
                events.append(ev)
                if ev["type"] in ("task:complete", "task:error"):
                    return events

    events = run(go(), timeout=180)
    progress = [e for e in events if e["type"] == "task:progress"]
    statuses = [e["data"]["status"] for e in progress]
    assert statuses[0] == "planning" and "executing" in statuses
    assert all(0 <= e["data"]["progress"]["percentage"] <= 100 for e in progress)
    assert statuses == sorted(statuses, key=["planning", "executing", "reviewing"].index)
    done = events[-1]
    assert done["type"] == "task:complete", done
    result = done["data"]["result"]
    assert result["success"] is True
    assert {"path": str(s.root / "src/components/Button.tsx"), "action": "created"}.items() <= result["files"][0].items()
    assert "Write" in result["metrics"]["toolsUsed"]
    assert (s.root / "src/components/Button.tsx").read_text().startswith("export default")
    task_id = done["data"]["taskId"]
    task = c.ok("GET", f"/tasks/{task_id}")["task"]
    assert task["status"] == "completed" and task["executionPath"] == "agent"
    detail = c.ok("GET", f"/sessions/{sess['id']}")["session"]
    stats = detail["statistics"]
    assert stats["completedTasks"] == 1 and detail["tasks"][0]["id"] == task_id
    assert stats["toolCalls"]["Write"] == 1 and stats["inputTokens"] > 0 and stats["outputTokens"] > 0


def test_the_cli_tools_come_from_the_real_clis_init_without_a_model_request(start_server, tmp_path):
    # The probe runs the CLI with --max-turns 0: it prints init (its tool list) and ends with a
    # synthetic result before any request to the Messages API.
    import time
    s = start_platform(start_server, tmp_path, script="", cli=REAL)
    c = Client(s)
    deadline = time.time() + 30
    while time.time() < deadline:
        data = c.ok("GET", "/tools?server=claude-code")
        if data["servers"][0]["status"] != "offline":
            break
        time.sleep(0.1)
    srv = data["servers"][0]
    assert srv["status"] == "online" and srv["name"].startswith("Claude Code 2."), srv
    tools = {t["id"]: t for t in data["tools"]}
    assert {"Bash", "Read", "Write", "Edit", "WebFetch"} <= set(tools), tools.keys()
    assert tools["Bash"]["category"] == "shell" and tools["Read"]["category"] == "file"
    assert tools["WebFetch"]["category"] == "network"
