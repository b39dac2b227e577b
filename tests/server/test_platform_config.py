"""Agent platform (seed 001): GET/PUT /v1/config, GET /v1/monitoring/health and /metrics, and the
system:status events fed by the same health checks."""
import asyncio
import json
import time

import websockets

from platform_common import Client, is_error, next_event, start_platform, wait_until

USERS = (("dev@example.com", "all"), ("reader@example.com", "config:read,session:read"),
         ("nobody@example.com", "session:read,session:create"))
FAST = ["--metrics-interval-ms", "100"]  # metrics written every 100 ms instead of every minute


def server(start_server, tmp_path, args=()):
    return start_platform(start_server, tmp_path, users=USERS, args=[*FAST, *args])


def put(c, section, patch):
    return c.call("PUT", "/config", {"section": section, "config": {section: patch}})


# ---- the seed's examples ---------------------------------------------------------------------------

def test_seed_get_config_platform(start_server, tmp_path):
    s = server(start_server, tmp_path)
    conf = Client(s).ok("GET", "/config?section=platform")["config"]
    assert set(conf) == {"platform"}
    p = conf["platform"]
    assert p["mode"] in ("development", "production")
    assert p["version"] and all(isinstance(v, bool) for v in p["features"].values())
    assert p["features"]["agentOrchestration"] is True and p["features"]["webInterface"] is False


def test_seed_put_config_agents(start_server, tmp_path):
    s = server(start_server, tmp_path)
    c = Client(s)
    st, body, _ = c.call("PUT", "/config", {"section": "agents", "config": {"agents": {
        "default": "build", "configurations": {"build": {"model": "claude-3-5-sonnet", "maxTokens": 8000,
                                                         "temperature": 0.1}}}}})
    assert st == 200, body
    assert body["success"] is True and body["message"]
    build = body["data"]["config"]["agents"]["configurations"]["build"]
    assert build["model"] == "claude-3-5-sonnet" and build["maxTokens"] == 8000 and build["temperature"] == 0.1
    assert build["tools"], "merged into the agent's configuration, not replacing it"
    agent = c.ok("GET", "/agents/build")["agent"]
    assert agent["configuration"]["model"] == "claude-3-5-sonnet"  # written through to the agent


def test_seed_health(start_server, tmp_path):
    s = server(start_server, tmp_path)
    c = Client(s)
    h = c.ok("GET", "/monitoring/health")
    assert h["status"] in ("healthy", "degraded", "unhealthy")
    for name in ("api", "database", "claude-cli", "store-disk"):
        assert h["services"][name]["status"] in ("online", "offline", "degraded"), name
        assert h["services"][name]["lastCheck"]
    assert h["services"]["database"]["status"] == "online"
    assert isinstance(h["services"]["database"]["responseTime"], (int, float))
    assert h["overall"]["version"] == c.ok("GET", "/config?section=platform")["config"]["platform"]["version"]
    assert h["overall"]["uptime"] >= 0 and h["overall"]["environment"] == "production"
    # the CLI's version is asked off the server thread; it comes soon
    assert wait_until(lambda: c.ok("GET", "/monitoring/health")["services"]["claude-cli"]["status"] == "online", 15)
    h = c.ok("GET", "/monitoring/health")
    assert h["services"]["claude-cli"]["details"]["version"]
    assert (h["status"] == "healthy") == all(v["status"] == "online" for v in h["services"].values())


def test_seed_metrics(start_server, tmp_path):
    s = server(start_server, tmp_path)
    c = Client(s)
    sess = c.session()
    c.ok("POST", "/tasks", {"sessionId": sess["id"], "content": "hello", "options": {"async": True}}, 201)
    for _ in range(5):
        c.ok("GET", "/sessions")

    def seen():
        m = c.ok("GET", "/monitoring/metrics?timeRange=1h&metrics=api_latency,task_count")
        return m if m["metrics"]["api_latency"] and sum(p["value"] for p in m["metrics"]["task_count"]) >= 1 else None
    assert wait_until(seen, 15)
    m = seen()
    assert m["timeRange"] == "1h" and m["granularity"] == "5m"
    assert set(m["metrics"]) == {"api_latency", "task_count"}
    now = time.time()
    for series in m["metrics"].values():
        stamps = [p["timestamp"] for p in series]
        assert stamps == sorted(stamps)
        for p in series:
            t = time.mktime(time.strptime(p["timestamp"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
            assert t % 300 == 0 and now - 3600 - 1 <= t <= now + 1
    assert m["metrics"]["api_latency"][-1]["value"] > 0


# ---- permissions -----------------------------------------------------------------------------------

def test_permissions(start_server, tmp_path):
    s = server(start_server, tmp_path)
    reader, nobody = Client(s, "reader@example.com"), Client(s, "nobody@example.com")
    for c, method, path, body in ((nobody, "GET", "/config", None),
                                  (reader, "PUT", "/config", {"section": "platform", "config": {"platform": {"mode": "development"}}}),
                                  (reader, "GET", "/config?includeSecrets=true", None),
                                  (reader, "GET", "/monitoring/health", None),
                                  (nobody, "GET", "/monitoring/metrics", None)):
        st, b, _ = c.call(method, path, body)
        assert st == 403 and is_error(b, "INSUFFICIENT_PERMISSIONS"), (method, path, st, b)
    assert reader.ok("GET", "/config?section=platform")["config"]["platform"]["mode"] == "production"


# ---- merge patch, validation, secrets --------------------------------------------------------------

def test_merge_patch_and_null_removes(start_server, tmp_path):
    s = server(start_server, tmp_path)
    c = Client(s)
    st, b, _ = put(c, "tools", {"mcpServers": {
        "files": {"type": "stdio", "command": "mcp-files", "args": ["--root", "/tmp"]},
        "web": {"type": "http", "url": "https://example.com/mcp", "enabled": False, "timeout": 5000}}})
    assert st == 200, b
    st, b, _ = put(c, "tools", {"maxConcurrent": 8, "mcpServers": {"files": {"args": ["-v"]}, "web": None}})
    assert st == 200, b
    tools = c.ok("GET", "/config?section=tools")["config"]["tools"]
    assert tools["maxConcurrent"] == 8 and tools["defaultTimeout"] == 30000
    assert tools["mcpServers"] == {"files": {"type": "stdio", "command": "mcp-files", "args": ["-v"]}}
    st, b, _ = put(c, "tools", {"maxConcurrent": None})  # null: back to the default
    assert st == 200 and b["data"]["config"]["tools"]["maxConcurrent"] == 4


def test_invalid_is_422_and_changes_nothing(start_server, tmp_path):
    s = server(start_server, tmp_path)
    c = Client(s)
    assert put(c, "tools", {"maxConcurrent": 3})[0] == 200
    before = c.ok("GET", "/config")
    bad = [
        ("tools", {"maxConcurrent": 9, "mcpServers": {"x": {"type": "stdio"}}}, "tools.mcpServers.x.command"),
        ("tools", {"mcpServers": {"x": {"type": "ftp", "url": "ftp://a"}}}, "tools.mcpServers.x.type"),
        ("tools", {"mcpServers": {"x": {"type": "http", "url": "file:///etc"}}}, "tools.mcpServers.x.url"),
        ("tools", {"mcpServers": {"x": {"type": "stdio", "command": "a", "url": "http://a"}}}, "tools.mcpServers.x.url"),
        ("tools", {"mcpServers": {"x": {"type": "stdio", "command": "a", "env": {"A": 1}}}}, "tools.mcpServers.x.env.A"),
        ("tools", {"mcpServers": {"bad name": {"type": "stdio", "command": "a"}}}, "tools.mcpServers.bad name"),
        ("tools", {"defaultTimeout": -1}, "tools.defaultTimeout"),
        ("tools", {"surprise": 1}, "tools.surprise"),
        ("platform", {"version": "9.9.9"}, "platform.version"),
        ("platform", {"mode": "chaos"}, "platform.mode"),
        ("agents", {"default": "no-such-agent"}, "agents.default"),
        ("agents", {"configurations": {"build": {"model": "bad model!"}}}, "agents.configurations.build.model"),
        ("agents", {"configurations": {"ghost": {"model": "x"}}}, "agents.configurations.ghost"),
        ("agents", {"configurations": {"plan": None}}, "agents.configurations.plan"),
        ("security", {"authentication": False}, "security.authentication"),
        ("security", {"auditLevel": "loud"}, "security.auditLevel"),
    ]
    for section, patch, field in bad:
        st, b, _ = put(c, section, patch)
        assert st == 422 and b["error"]["code"] in ("INVALID_INPUT", "MISSING_REQUIRED_FIELD"), (patch, b)
        assert b["error"]["details"]["field"] == field, (patch, b)
    for body in ({"section": "nope", "config": {}}, {"section": "tools"}, {"section": "tools", "config": {"platform": {}}},
                 {"section": "tools", "config": {"tools": 5}}):
        st, b, _ = c.call("PUT", "/config", body)
        assert st == 422, (body, b)
    assert c.ok("GET", "/config") == before


def test_secrets_masked_and_kept(start_server, tmp_path):
    s = server(start_server, tmp_path)
    admin, reader = Client(s), Client(s, "reader@example.com")
    key, auth = "sk-test-VERY-SECRET-1234", "Bearer hdr-SECRET-5678"
    st, b, _ = put(admin, "tools", {"mcpServers": {
        "gh": {"type": "stdio", "command": "gh-mcp", "env": {"GITHUB_TOKEN": key, "PLAIN": "also-masked"}},
        "web": {"type": "http", "url": "https://example.com/mcp", "headers": {"Authorization": auth}}}})
    assert st == 200 and key not in json.dumps(b) and auth not in json.dumps(b)
    for c in (admin, reader):
        servers = c.ok("GET", "/config?section=tools")["config"]["tools"]["mcpServers"]
        assert servers["gh"]["env"] == {"GITHUB_TOKEN": "********", "PLAIN": "********"}
        assert servers["web"]["headers"] == {"Authorization": "********"}
    clear = admin.ok("GET", "/config?section=tools&includeSecrets=true")["config"]["tools"]["mcpServers"]
    assert clear["gh"]["env"]["GITHUB_TOKEN"] == key and clear["web"]["headers"]["Authorization"] == auth
    # what GET showed, sent back with one change: the masked values keep their secrets
    shown = admin.ok("GET", "/config?section=tools")["config"]["tools"]
    shown["mcpServers"]["gh"]["args"] = ["--verbose"]
    assert put(admin, "tools", shown)[0] == 200
    clear = admin.ok("GET", "/config?section=tools&includeSecrets=true")["config"]["tools"]["mcpServers"]
    assert clear["gh"]["env"]["GITHUB_TOKEN"] == key and clear["gh"]["args"] == ["--verbose"]
    # a mask where nothing is stored is refused
    st, b, _ = put(admin, "tools", {"mcpServers": {"gh": {"env": {"NEW": "********"}}}})
    assert st == 422 and b["error"]["details"]["field"] == "tools.mcpServers.gh.env.NEW"
    s.stop()
    log = s.log_path.read_text(errors="replace")
    assert "platform_audit" in log  # the audit lines exist, without the values
    assert key not in log and "hdr-SECRET" not in log


def test_persists_across_restart(start_server, tmp_path):
    s = server(start_server, tmp_path)
    c = Client(s)
    assert put(c, "platform", {"mode": "development"})[0] == 200
    assert put(c, "tools", {"mcpServers": {"a": {"type": "stdio", "command": "x", "env": {"K": "v"}}}})[0] == 200
    s.stop()
    s2 = start_server(script="serve_turns", args=["--profiles", "platform", "--db", str(s.db), "--jwt-secret",
                                                  "platform-test-secret-0123456789abcdef", "--password-cost", "10", *FAST])
    c2 = Client(s2)
    conf = c2.ok("GET", "/config?includeSecrets=true")["config"]
    assert conf["platform"]["mode"] == "development"
    assert conf["tools"]["mcpServers"]["a"]["env"] == {"K": "v"}
    assert c2.ok("GET", "/monitoring/health")["overall"]["environment"] == "development"


# ---- metrics queries -------------------------------------------------------------------------------

def test_metrics_bad_queries_are_422(start_server, tmp_path):
    s = server(start_server, tmp_path)
    c = Client(s)
    for q in ("metrics=nope", "metrics=api_latency,,task_count", "timeRange=2h", "granularity=2m",
              "timeRange=7d&granularity=1m", "timeRange=30d&granularity=5m", "timeRange=1h&granularity=1d"):
        st, b, _ = c.call("GET", "/monitoring/metrics?" + q)
        assert st == 422 and is_error(b, "INVALID_INPUT"), (q, b)
    for rng, g in (("1h", "5m"), ("6h", "5m"), ("24h", "1h"), ("7d", "1h"), ("30d", "1d")):
        m = c.ok("GET", f"/monitoring/metrics?timeRange={rng}")
        assert m["granularity"] == g and set(m["metrics"]) == {
            "api_latency", "request_count", "error_rate", "task_count", "active_sessions", "active_connections",
            "tokens_used", "cost_usd"}


# ---- system:status ---------------------------------------------------------------------------------

def test_system_status_is_the_health_check(start_server, tmp_path):
    s = server(start_server, tmp_path)
    c = Client(s)
    sess = c.session()

    def connections():
        m = c.ok("GET", "/monitoring/metrics?timeRange=1h&granularity=1m&metrics=active_connections")
        return any(p["value"] > 0 for p in m["metrics"]["active_connections"])

    async def go():
        async with websockets.connect(c.ws_url(sess["id"])) as ws:
            ev = await next_event(ws, "system:status")
            assert {"api", "database", "claude-cli", "store-disk"} <= set(ev["data"]["services"])
            assert ev["data"]["status"] in ("healthy", "degraded", "unhealthy")
            # the CLI's version arrives: a change, pushed at once
            if ev["data"]["services"]["claude-cli"]["status"] != "online":
                ev = await next_event(ws, "system:status", timeout=15)
                assert ev["data"]["services"]["claude-cli"]["status"] == "online"
            assert wait_until(connections, 10)  # sampled while it is open
    asyncio.run(go())
