"""Agent platform (seed 001, profile "platform") with the fake CLI: sessions, tasks and their
progress, the queue, cancel and timeout, agents, the chat WebSocket (several clients, resume by
event id), and that no CLI outlives its session. Auth and the permission matrix are in
test_platform_auth.py; the seed's workflow against the real CLI in realcli_platform.py."""
import asyncio
import json
import subprocess
import time

from conftest import CCB, run, ws_connect
from platform_common import Client, add_user, is_error, next_event, start_platform

HANG_TURN = "wait_user\nemit {\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"11111111-2222-4333-8444-555555555555\"}\nhang"


def test_a_sync_task_answers_when_done_with_the_cli_answer(start_server, tmp_path):
    s = start_platform(start_server, tmp_path)
    c = Client(s)
    sess = c.session("first")
    assert sess["status"] == "active" and sess["agent"] == {"id": "build", "name": "Build Agent", "type": "build"}
    assert sess["metadata"]["projectPath"] == str(s.root)
    task = c.ok("POST", "/tasks", {"sessionId": sess["id"], "content": "hello", "options": {"async": False}}, 201)["task"]
    assert task["status"] == "completed"
    assert task["result"]["success"] is True and task["result"]["output"] == "echo: hello"
    assert task["executionPath"] == "fast" and task["progress"]["percentage"] == 100
    assert "userId" not in task["metadata"]
    # the second task is the same conversation (one CLI process)
    task2 = c.ok("POST", "/tasks", {"sessionId": sess["id"], "content": "again"}, 201)["task"]
    assert task2["result"]["output"] == "echo: again"
    detail = c.ok("GET", f"/sessions/{sess['id']}")["session"]
    assert [t["id"] for t in detail["tasks"]] == [task["id"], task2["id"]]
    assert detail["taskCount"] == 2
    assert detail["statistics"]["completedTasks"] == 2 and detail["statistics"]["totalTasks"] == 2
    assert detail["configuration"]["agent"]["permissionMode"] == "acceptEdits"


def test_an_async_task_is_pending_at_once_and_completes(start_server, tmp_path):
    s = start_platform(start_server, tmp_path)
    c = Client(s)
    sess = c.session()
    task = c.ok("POST", "/tasks", {"sessionId": sess["id"], "content": "x", "options": {"async": True}}, 201)["task"]
    assert task["status"] == "pending"
    deadline = time.time() + 10
    while time.time() < deadline:
        t = c.ok("GET", f"/tasks/{task['id']}")["task"]
        if t["status"] == "completed":
            break
        time.sleep(0.05)
    assert t["status"] == "completed" and t["result"]["output"] == "echo: x"


def test_cancel_is_immediate_and_the_queue_goes_on(start_server, tmp_path):
    s = start_platform(start_server, tmp_path, script=HANG_TURN)
    c = Client(s)
    sess = c.session()
    t1 = c.ok("POST", "/tasks", {"sessionId": sess["id"], "content": "slow", "options": {"async": True}}, 201)["task"]
    t2 = c.ok("POST", "/tasks", {"sessionId": sess["id"], "content": "next", "options": {"async": True}}, 201)["task"]
    deadline = time.time() + 10
    while c.ok("GET", f"/tasks/{t1['id']}")["task"]["status"] == "pending" and time.time() < deadline:
        time.sleep(0.05)
    t0 = time.time()
    done = c.ok("POST", f"/tasks/{t1['id']}/cancel")
    assert done["task"]["status"] == "cancelled" and time.time() - t0 < 1
    assert c.ok("GET", f"/tasks/{t1['id']}")["task"]["status"] == "cancelled"
    # a queued task is cancelled too, and cancelling again changes nothing
    assert c.ok("POST", f"/tasks/{t2['id']}/cancel")["task"]["status"] == "cancelled"
    again = c.ok("POST", f"/tasks/{t1['id']}/cancel")
    assert again["task"]["status"] == "cancelled"


def test_a_timeout_fails_the_task_with_timeout_error(start_server, tmp_path):
    s = start_platform(start_server, tmp_path, script=HANG_TURN)
    c = Client(s)
    sess = c.session()
    t = c.ok("POST", "/tasks", {"sessionId": sess["id"], "content": "slow", "options": {"timeout": 300}}, 201)["task"]
    assert t["status"] == "failed"
    assert t["result"]["error"]["code"] == "TIMEOUT_ERROR"


def test_priority_orders_the_queue(start_server, tmp_path):
    gate = tmp_path / "go"
    first = ('wait_user\nemit {"type":"system","subtype":"init","session_id":"11111111-2222-4333-8444-555555555555"}\n'
             f'wait_file {gate}\n'
             'emit {"type":"result","subtype":"success","is_error":false,"result":"first","session_id":"11111111-2222-4333-8444-555555555555"}\n'
             'serve_turns')
    stdin_log = tmp_path / "stdin.log"
    s = start_platform(start_server, tmp_path, script=first, env={"CCB_FAKE_STDIN_LOG": str(stdin_log)})
    c = Client(s)
    sess = c.session()
    body = lambda content, prio: {"sessionId": sess["id"], "content": content,
                                  "options": {"async": True, "priority": prio}}
    ids = [c.ok("POST", "/tasks", body(n, p), 201)["task"]["id"] for n, p in
           [("a", "normal"), ("low", "low"), ("high", "high"), ("b", "normal")]]
    gate.write_text("")  # the first task ends once the others are queued
    deadline = time.time() + 15
    while time.time() < deadline:
        tasks = {t["id"]: t for t in c.ok("GET", f"/tasks?sessionId={sess['id']}&limit=100")["tasks"]}
        if all(tasks[i]["status"] == "completed" for i in ids):
            break
        time.sleep(0.05)
    # the order the CLI got them in: the first had started before the others were queued; then
    # high, normal, low
    # (the tools' probe of the CLI, at start, sent "." through the same fake CLI: not a task)
    prompts = [json.loads(line)["message"]["content"] for line in stdin_log.read_text().splitlines()
               if line.startswith("{") and json.loads(line).get("type") == "user"]
    assert [p for p in prompts if p != "."] == ["a", "high", "b", "low"]
    by_prio = c.ok("GET", f"/tasks?sessionId={sess['id']}&sortBy=priority&sortOrder=desc")["tasks"]
    assert by_prio[0]["id"] == ids[2]


def test_sessions_list_filters_paginates_and_hides_other_users(start_server, tmp_path):
    s = start_platform(start_server, tmp_path, users=(("dev@example.com", "all"), ("other@example.com", "all")))
    c, other = Client(s), Client(s, "other@example.com")
    for i in range(5):
        c.session(f"alpha {i}" if i % 2 else f"beta {i}", agent="plan" if i == 4 else "build")
    theirs = other.session("theirs")
    page = c.ok("GET", "/sessions?page=2&limit=2")
    assert page["pagination"] == {"total": 5, "page": 2, "limit": 2, "totalPages": 3}
    assert len(page["sessions"]) == 2
    assert {x["name"] for x in c.ok("GET", "/sessions?search=ALPHA")["sessions"]} == {"alpha 1", "alpha 3"}
    assert [x["name"] for x in c.ok("GET", "/sessions?agent=plan")["sessions"]] == ["beta 4"]
    st, body, _ = c.call("GET", f"/sessions/{theirs['id']}")
    assert st == 404 and is_error(body, "SESSION_NOT_FOUND")
    st, body, _ = c.call("POST", "/tasks", {"sessionId": theirs["id"], "content": "x"})
    assert st == 404 and is_error(body, "SESSION_NOT_FOUND")
    st, body, _ = c.call("GET", "/sessions?limit=0")
    assert st == 422 and is_error(body, "INVALID_INPUT") and body["error"]["details"]["field"] == "limit"


def test_a_project_path_outside_the_roots_is_refused(start_server, tmp_path):
    s = start_platform(start_server, tmp_path)
    c = Client(s)
    st, body, _ = c.call("POST", "/sessions", {"name": "x", "agentId": "build", "config": {"projectPath": "/etc"}})
    assert st == 403 and is_error(body, "RESOURCE_FORBIDDEN")
    st, body, _ = c.call("POST", "/sessions", {"name": "x", "agentId": "nope"})
    assert st == 404 and is_error(body, "AGENT_NOT_FOUND")
    assert c.ok("GET", "/sessions")["pagination"]["total"] == 0


def test_deleting_a_session_stops_its_cli(start_server, tmp_path):
    s = start_platform(start_server, tmp_path, script=HANG_TURN)
    c = Client(s)
    sess = c.session()
    t = c.ok("POST", "/tasks", {"sessionId": sess["id"], "content": "slow", "options": {"async": True}}, 201)["task"]
    deadline = time.time() + 10
    while not s.processes() and time.time() < deadline:
        time.sleep(0.05)
    assert s.processes()
    c.ok("DELETE", f"/sessions/{sess['id']}")
    assert s.wait_no_processes()
    st, body, _ = c.call("GET", f"/tasks/{t['id']}")
    assert st == 404 and is_error(body, "TASK_NOT_FOUND")


def test_agents_builtin_and_custom(start_server, tmp_path):
    s = start_platform(start_server, tmp_path)
    c = Client(s)
    agents = {a["id"]: a for a in c.ok("GET", "/agents")["agents"]}
    assert {"build", "plan", "general"} <= set(agents)
    assert agents["plan"]["configuration"]["permissionMode"] == "plan"
    made = c.ok("POST", "/agents", {"name": "Frontend Specialist", "description": "React",
                                    "configuration": {"model": "claude-3-5-sonnet", "maxTokens": 6000,
                                                      "temperature": 0.2, "tools": ["bash", "edit", "read"],
                                                      "permissions": ["tool:execute"], "systemPrompt": "You know React"},
                                    "skills": ["react-development"], "rules": ["use-typescript"]}, 201)["agent"]
    assert made["type"] == "custom" and made["configuration"]["temperature"] == 0.2
    assert set(made["metadata"]["notApplied"]) == {"maxTokens", "temperature"}
    upd = c.ok("PUT", f"/agents/{made['id']}", {"configuration": {"maxTokens": 100}, "status": "offline"})["agent"]
    assert upd["configuration"]["maxTokens"] == 100 and upd["configuration"]["model"] == "claude-3-5-sonnet"
    assert upd["status"] == "offline"
    st, body, _ = c.call("DELETE", "/agents/build")
    assert st == 403 and is_error(body, "RESOURCE_FORBIDDEN")
    c.ok("DELETE", f"/agents/{made['id']}")
    st, body, _ = c.call("GET", f"/agents/{made['id']}")
    assert st == 404 and is_error(body, "AGENT_NOT_FOUND")


def test_a_custom_agent_reaches_the_cli_as_options(start_server, tmp_path):
    s = start_platform(start_server, tmp_path, script=f"dump_invocation {tmp_path}/inv.json\nserve_turns")
    c = Client(s)
    a = c.ok("POST", "/agents", {"name": "Reviewer", "description": "d",
                                 "configuration": {"model": "opus", "tools": ["read", "search"],
                                                   "permissionMode": "plan", "systemPrompt": "Be brief"},
                                 "rules": ["no emojis"]}, 201)["agent"]
    sess = c.session(agent=a["id"], rules=["cite files"])
    c.ok("POST", "/tasks", {"sessionId": sess["id"], "content": "hi"}, 201)
    argv = json.loads((tmp_path / "inv.json").read_text())["argv"]
    text = " ".join(argv)
    assert "--model=opus" in argv or ("--model" in argv and argv[argv.index("--model") + 1] == "opus")
    assert "plan" in text and "Read,Grep" in text.replace(" ", "")
    assert "Be brief" in text and "no emojis" in text and "cite files" in text


def test_chat_streams_to_every_client_and_a_reconnect_resumes(start_server, tmp_path):
    s = start_platform(start_server, tmp_path)
    c = Client(s)
    sess = c.session()

    async def go():
        async with ws_connect(c.ws_url(sess["id"])) as a, ws_connect(c.ws_url(sess["id"])) as b:
            est = await next_event(a, "connection:established")
            assert est["sessionId"] == sess["id"] and est["data"]["message"]
            await next_event(b, "connection:established")
            await next_event(a, "system:status")
            await a.send(json.dumps({"type": "chat:message", "id": "msg_1", "timestamp": "2026-01-22T12:00:00Z",
                                     "sessionId": sess["id"], "data": {"content": "hi there", "type": "text"}}))
            got = {}
            for ws, name in ((a, "a"), (b, "b")):
                events = []
                while True:
                    ev = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    events.append(ev)
                    if ev["type"] == "chat:response" and not ev["data"].get("partial"):
                        break
                got[name] = events
            kinds = [e["type"] for e in got["a"] if e["type"] != "system:status"]
            assert "task:progress" in kinds and "task:complete" in kinds
            final = got["a"][-1]
            assert final["data"]["content"] == "echo: hi there" and final["data"]["metadata"]["agent"] == "build"
            assert [e["id"] for e in got["a"] if e["id"].startswith("evt_")] == \
                [e["id"] for e in got["b"] if e["id"].startswith("evt_")]
            return [e for e in got["a"] if e["id"].startswith("evt_")]

    events = run(go())
    first = events[0]["id"]
    # a client that saw only the first event gets the rest again, marked restored
    async def resume():
        async with ws_connect(c.ws_url(sess["id"], lastEventId=first)) as ws:
            assert (await next_event(ws, "connection:restored"))["data"]["lastEventId"] == first
            replay = []
            while len(replay) < len(events) - 1:
                ev = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if ev["id"].startswith("evt_"):
                    replay.append(ev)
            return replay

    replay = run(resume())
    assert [e["id"] for e in replay] == [e["id"] for e in events[1:]]


def test_ws_events_are_checked(start_server, tmp_path):
    s = start_platform(start_server, tmp_path)
    c = Client(s)
    sess = c.session()

    async def go():
        async with ws_connect(c.ws_url(sess["id"])) as ws:
            await next_event(ws, "connection:established")
            await ws.send("not json")
            err = await next_event(ws, "error")
            assert err["data"]["code"] == "INVALID_INPUT"
            await ws.send(json.dumps({"type": "nope", "id": "m1", "data": {}}))
            err = await next_event(ws, "error")
            assert err["data"]["originalEvent"] == "nope" and err["data"]["details"]["eventId"] == "m1"
            await ws.send(json.dumps({"type": "task:submit", "id": "m2", "data": {"content": ""}}))
            err = await next_event(ws, "error")
            assert err["data"]["originalEvent"] == "task:submit" and err["data"]["code"] == "INVALID_INPUT"
            await ws.send(json.dumps({"type": "agent:switch", "id": "m3", "data": {"agentId": "plan"}}))
            st = await next_event(ws, "agent:status")
            assert st["data"]["agentId"] == "plan"

    run(go())
    assert c.ok("GET", f"/sessions/{sess['id']}")["session"]["agent"]["id"] == "plan"


def test_the_ws_handshake_is_refused_without_a_valid_token_or_session(start_server, tmp_path):
    s = start_platform(start_server, tmp_path)
    c = Client(s)
    sess = c.session()
    import websockets

    async def status(url):
        try:
            async with ws_connect(url):
                return 101
        except websockets.exceptions.InvalidStatus as e:
            return e.response.status_code

    assert run(status(s.ws_url(f"/ws/v1/chat?sessionId={sess['id']}"))) == 401
    assert run(status(s.ws_url(f"/ws/v1/chat?token=garbage&sessionId={sess['id']}"))) == 401
    assert run(status(s.ws_url(f"/ws/v1/chat?token={c.token}&sessionId=sess_nope"))) == 404
    assert run(status(s.ws_url(f"/ws/v1/chat?token={c.token}"))) == 422


def test_the_users_command(tmp_path):
    db = tmp_path / "u.db"
    add_user(db, "A@Example.com", "session:read,task:read", name="Ada")
    r = subprocess.run([CCB, "users", "list", "--db", str(db)], capture_output=True, text=True, timeout=30)
    assert "a@example.com\tAda\tactive\tsession:read,task:read" in r.stdout
    r = subprocess.run([CCB, "users", "add", "b@example.com", "--password-stdin", "--permissions", "task:write",
                        "--db", str(db)], input="secret-password\n", capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "task:write" in r.stderr
    r = subprocess.run([CCB, "users", "add", "a@example.com", "--password-stdin", "--password-cost", "10",
                        "--db", str(db)], input="secret-password\n", capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "exists" in r.stderr
    assert subprocess.run([CCB, "users", "set-permissions", "a@example.com", "all", "--db", str(db)], timeout=30).returncode == 0
    assert subprocess.run([CCB, "users", "disable", "a@example.com", "--db", str(db)], timeout=30).returncode == 0
    r = subprocess.run([CCB, "users", "list", "--db", str(db)], capture_output=True, text=True, timeout=30)
    assert "\tdisabled\t" in r.stdout and "admin:users" in r.stdout
    r = subprocess.run([CCB, "users", "passwd", "a@example.com", "--password-stdin", "--password-cost", "10",
                        "--db", str(db)], input="another-password\n", capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def test_a_fresh_database_gets_one_admin_whose_password_is_shown_once(start_server, tmp_path):
    s = start_platform(start_server, tmp_path, users=())
    deadline = time.time() + 5
    while "admin@localhost" not in s.log_text() and time.time() < deadline:
        time.sleep(0.05)
    password = s.log_text().split("admin@localhost with every permission")[1].splitlines()[1].strip()
    admin = Client(s, "admin@localhost", password)
    assert "admin:users" in admin.user["permissions"]
    assert len(admin.ok("GET", "/users")["users"]) == 1


def test_a_disabled_user_cannot_log_in_and_its_token_stops_working(start_server, tmp_path):
    s = start_platform(start_server, tmp_path, users=(("dev@example.com", "all"), ("u@example.com", "session:read")))
    admin, u = Client(s), Client(s, "u@example.com")
    u.ok("GET", "/sessions")
    admin.ok("PATCH", f"/users/{u.user['id']}", {"disabled": True})
    st, body, _ = u.call("GET", "/sessions")
    assert st == 401 and is_error(body, "INVALID_TOKEN")
    st, body, _ = s.http("POST", "/v1/auth/login", {"email": "u@example.com", "password": "secret-password"})
    assert st == 401


def test_password_guessing_is_limited_per_email(start_server, tmp_path):
    s = start_platform(start_server, tmp_path)
    for _ in range(30):
        st, body, _ = s.http("POST", "/v1/auth/login", {"email": "dev@example.com", "password": "wrong-guess"})
        assert st == 401 and is_error(body, "INVALID_TOKEN")
    st, body, hdrs = s.http("POST", "/v1/auth/login", {"email": "dev@example.com", "password": "secret-password"})
    assert st == 429 and is_error(body, "SERVICE_UNAVAILABLE") and body["error"]["details"]["retryAfter"] >= 1
    # another user is not locked out by it
    add_user(s.db, "other@example.com")
    Client(s, "other@example.com")


def test_the_seeds_api_v1_url_form_is_served_deprecated(start_server, tmp_path):
    s = start_platform(start_server, tmp_path)
    c = Client(s)
    st, body, hdrs = s.http("GET", "/api/v1/agents", headers={"Authorization": f"Bearer {c.token}"})
    assert st == 200 and body["success"] is True
    assert hdrs["Deprecation"] == "true" and hdrs["Sunset"].endswith("GMT")
    assert hdrs["Link"] == '</v1/agents>; rel="successor-version"'
    st, body, hdrs = c.call("GET", "/agents")
    assert st == 200 and "Deprecation" not in hdrs and hdrs["API-Version"] == "v1.0"


def test_agent_switch_changes_model_and_mode_in_place_and_the_rest_by_resuming(start_server, tmp_path):
    stdin_log = tmp_path / "stdin.log"
    s = start_platform(start_server, tmp_path, script=f"dump_invocation {tmp_path}/inv.json\nserve_turns",
                       env={"CCB_FAKE_STDIN_LOG": str(stdin_log)})
    c = Client(s)
    sess = c.session()
    c.ok("POST", "/tasks", {"sessionId": sess["id"], "content": "one"}, 201)
    first = json.loads((tmp_path / "inv.json").read_text())["argv"]
    assert not any(a.startswith("--model") for a in first)

    async def switch(data):
        async with ws_connect(c.ws_url(sess["id"])) as ws:
            await next_event(ws, "connection:established")
            await ws.send(json.dumps({"type": "agent:switch", "id": "m", "data": data}))
            ev = json.loads(await asyncio.wait_for(ws.recv(), 10))
            while ev["type"] == "system:status":
                ev = json.loads(await asyncio.wait_for(ws.recv(), 10))
            return ev

    assert run(switch({"agentId": "plan", "configuration": {"model": "haiku"}}))["type"] == "agent:status"
    bad = run(switch({"agentId": "plan", "configuration": {"temperature": "hot"}}))
    assert bad["type"] == "error" and bad["data"]["details"]["field"] == "configuration.temperature"
    assert c.ok("POST", "/tasks", {"sessionId": sess["id"], "content": "two"}, 201)["task"]["result"]["output"] == "echo: two"
    # model and mode changed in the running CLI, by control requests, without a new process
    requests = [json.loads(l)["request"] for l in stdin_log.read_text().splitlines()
                if l.startswith("{") and json.loads(l).get("type") == "control_request"]
    assert {"subtype": "set_model", "model": "haiku"}.items() <= next(r for r in requests if r["subtype"] == "set_model").items()
    assert next(r for r in requests if r["subtype"] == "set_permission_mode")["mode"] == "plan"
    assert json.loads((tmp_path / "inv.json").read_text())["argv"] == first

    # a custom agent's system prompt cannot change in a running CLI: the conversation is resumed
    a = c.ok("POST", "/agents", {"name": "Terse", "description": "d",
                                 "configuration": {"model": "opus", "systemPrompt": "Answer tersely"}}, 201)["agent"]
    assert run(switch({"agentId": a["id"]}))["type"] == "agent:status"
    assert c.ok("POST", "/tasks", {"sessionId": sess["id"], "content": "three"}, 201)["task"]["result"]["output"] == "echo: three"
    argv = json.loads((tmp_path / "inv.json").read_text())["argv"]
    assert "Answer tersely" in " ".join(argv) and any(x.startswith("--resume") for x in argv)
