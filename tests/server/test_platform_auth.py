"""The platform profile (seed 001) over HTTP: the permission matrix of every documented route, JWT
attacks with tokens made here, refresh-token rotation and reuse, logout, rate-limit headers, the
error envelope, and that the OpenAPI document and the routes agree (every documented route exists,
an undocumented method on a documented path is 405)."""
import asyncio
import base64
import hashlib
import hmac
import json
import subprocess
import time
import uuid

import pytest
import websockets

from conftest import CCB, run

SECRET = "platform-test-secret-of-enough-bytes-0123456789"
PASSWORD = "correct horse battery"
ALL_PERMISSIONS = ["session:read", "session:create", "session:delete", "task:submit", "task:read", "task:cancel",
                   "agent:read", "agent:create", "agent:configure", "tool:read", "tool:execute", "config:read",
                   "config:write", "admin:monitoring", "admin:users"]
METHODS = ["get", "post", "put", "patch", "delete"]


def add_user(db, email, permissions):
    r = subprocess.run([CCB, "users", "add", email, "--password-stdin", "--permissions", permissions,
                        "--password-cost", "10", "--db", str(db)],
                       input=PASSWORD + "\n", capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


class Platform:
    """A started platform server with users: "all", "none", "chatter" (session:read and
    session:create only) and one per permission ("p:<permission>")."""

    def __init__(self, start_server, tmp_path):
        db = tmp_path / "platform.db"
        self.ids = {"all": add_user(db, "all@example.com", "all"), "none": add_user(db, "none@example.com", ""),
                    "chatter": add_user(db, "chatter@example.com", "session:read,session:create")}
        for p in ALL_PERMISSIONS:
            self.ids["p:" + p] = add_user(db, self.email("p:" + p), p)
        self.server = start_server(args=["--profiles", "platform", "--db", str(db), "--jwt-secret", SECRET,
                                         "--password-cost", "10"], script="serve_turns")
        self.tokens = {}

    @staticmethod
    def email(who):
        return who.replace(":", "-") + "@example.com"

    def login(self, who):
        st, body, _ = self.http("POST", "/v1/auth/login", {"email": self.email(who), "password": PASSWORD})
        assert st == 200, body
        return body["data"]

    def token(self, who):
        if who not in self.tokens:
            self.tokens[who] = self.login(who)["token"]
        return self.tokens[who]

    def http(self, method, path, body=None, token=None, headers=None, raw=None):
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        if body is not None or raw is not None:
            h.setdefault("Content-Type", "application/json")
        return self.server.http(method, path, body=body, headers=h, raw=raw)

    def as_user(self, who, method, path, body=None):
        return self.http(method, path, body, token=self.token(who))


@pytest.fixture
def plat(start_server, tmp_path):
    return Platform(start_server, tmp_path)


def assert_error(status, body, want_status, code):
    assert status == want_status, body
    assert isinstance(body, dict) and body.get("success") is False, body
    err = body["error"]
    assert err["code"] == code, body
    for k in ("message", "timestamp", "requestId"):
        assert isinstance(err.get(k), str) and err[k], body


# ---- the permission matrix -----------------------------------------------------------------------

def openapi(plat):
    st, doc, _ = plat.http("GET", "/v1/openapi.json")
    assert st == 200, doc
    return doc


def create_objects(plat, who):
    """Real objects of `who`: a session, a task in it, a custom agent."""
    st, s, _ = plat.as_user(who, "POST", "/v1/sessions", {"name": "s", "agentId": "general"})
    assert st == 201, s
    sid = s["data"]["session"]["id"]
    st, t, _ = plat.as_user(who, "POST", "/v1/tasks", {"sessionId": sid, "content": "hi", "options": {"async": True}})
    assert st == 201, t
    st, a, _ = plat.as_user(who, "POST", "/v1/agents", {"name": "a", "description": "d", "configuration": {"model": "m"}})
    assert st == 201, a
    return {"sessionId": sid, "taskId": t["data"]["task"]["id"], "agentId": a["data"]["agent"]["id"]}


def body_for(plat, method, path, ids):
    """A body a handler accepts (for the permitted caller), or None."""
    if method == "post" and path == "/sessions":
        return {"name": "n", "agentId": "general"}
    if method == "post" and path == "/tasks":
        return {"sessionId": ids["sessionId"], "content": "hello", "options": {"async": True}}
    if method == "post" and path == "/agents":
        return {"name": "x", "description": "d", "configuration": {"model": "m"}}
    if method == "post" and path == "/tools/execute":
        return {"toolId": "list_files", "server": "local-filesystem", "parameters": {}, "sessionId": ids["sessionId"]}
    if method == "put" and path == "/config":
        return {"section": "platform", "config": {"platform": {"mode": "production"}}}
    if method == "put":
        return {"description": "changed"}
    if method == "post" and path == "/users":
        return {"email": f"u{uuid.uuid4().hex[:8]}@example.com", "password": "password123"}
    if method == "patch":
        return {"name": "renamed"}
    if method == "post":
        return {}
    return None


def fill(path, ids):
    for k, v in ids.items():
        path = path.replace("{" + k + "}", v)
    return "/v1" + path


def test_permission_matrix(plat):
    doc = openapi(plat)
    assert len(doc["paths"]) >= 10
    dummies = {"sessionId": "sess_missing", "taskId": "task_missing", "agentId": "agent_missing", "userId": "user_missing",
               "serverId": "local-filesystem"}
    checked = 0
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            secured = bool(op.get("security"))
            perm = op.get("x-permission")
            body_fn = lambda ids: body_for(plat, method, path, ids)
            if not secured:
                st, body, _ = plat.http(method.upper(), fill(path, dummies), body_fn(dummies))
                assert st not in (401, 403, 404, 405), (method, path, st, body)
                continue
            # no token: AUTH_REQUIRED
            st, body, _ = plat.http(method.upper(), fill(path, dummies), body_fn(dummies))
            assert_error(st, body, 401, "AUTH_REQUIRED")
            if path == "/auth/logout":
                st, body, _ = plat.http("POST", "/v1/auth/logout", token=plat.login("none")["token"])
                assert st == 200, body
                continue
            assert perm in ALL_PERMISSIONS, (method, path, op)
            # without the permission: 403, before anything is read
            for who in ["none"] + ["p:" + p for p in ALL_PERMISSIONS if p != perm]:
                st, body, _ = plat.as_user(who, method.upper(), fill(path, dummies), body_fn(dummies))
                assert_error(st, body, 403, "INSUFFICIENT_PERMISSIONS")
                assert body["error"]["details"]["required"] == perm, body
            # with only that permission (dummy ids: 404 or 2xx, never 401/403)
            st, body, _ = plat.as_user("p:" + perm, method.upper(), fill(path, dummies), body_fn(dummies))
            assert st not in (401, 403, 405), (perm, method, path, st, body)
            # with all permissions, on real objects: it exists and succeeds
            ids = dict(create_objects(plat, "all"), userId=plat.ids["none"], serverId="local-filesystem")
            st, body, _ = plat.as_user("all", method.upper(), fill(path, ids), body_fn(ids))
            assert st not in (401, 403, 404, 405), (method, path, st, body)
            assert st < 300 and body["success"] is True, (method, path, st, body)
            checked += 1
    assert checked >= 15


def test_undocumented_methods_are_405(plat):
    doc = openapi(plat)
    dummies = {"sessionId": "s1", "taskId": "t1", "agentId": "a1", "userId": "u1"}
    for path, ops in doc["paths"].items():
        for method in METHODS:
            if method in ops:
                continue
            st, body, h = plat.as_user("all", method.upper(), fill(path, dummies), {} if method != "get" else None)
            assert_error(st, body, 405, "INVALID_INPUT")
            assert sorted(h.get("Allow", "").split(", ")) == sorted(m.upper() for m in ops), (path, method, dict(h))
            # refused before the token is looked at
            st, body, _ = plat.http(method.upper(), fill(path, dummies))
            assert st == 405, (path, method, body)


async def ws_chat(plat, token, session_id):
    url = plat.server.ws_url(f"/ws/v1/chat?token={token}&sessionId={session_id}")
    async with websockets.connect(url) as ws:
        first = json.loads(await ws.recv())
        assert first["type"] == "connection:established", first
        await ws.send(json.dumps({"type": "chat:message", "id": "m1", "data": {"content": "hello"}}))
        while True:
            ev = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if ev["type"] == "error":
                return ev


def test_ws_chat_permissions(plat):
    st, s, _ = plat.as_user("chatter", "POST", "/v1/sessions", {"name": "c", "agentId": "general"})
    assert st == 201, s
    sid = s["data"]["session"]["id"]
    ev = run(ws_chat(plat, plat.token("chatter"), sid))
    assert ev["data"]["originalEvent"] == "chat:message", ev
    assert ev["data"]["code"] == "INSUFFICIENT_PERMISSIONS", ev

    async def refused(token):
        with pytest.raises(websockets.InvalidStatus) as e:
            async with websockets.connect(plat.server.ws_url(f"/ws/v1/chat?token={token}&sessionId={sid}")):
                pass
        return e.value.response.status_code

    assert run(refused(plat.token("none"))) == 403
    assert run(refused(plat.token("p:task:submit"))) == 403
    assert run(refused("garbage")) == 401


# ---- JWT attacks ---------------------------------------------------------------------------------

def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(payload, key=SECRET, header=None, digest=hashlib.sha256):
    h = b64(json.dumps(header or {"alg": "HS256", "typ": "JWT"}).encode())
    p = b64((payload if isinstance(payload, str) else json.dumps(payload)).encode())
    sig = hmac.new(key.encode(), f"{h}.{p}".encode(), digest).digest()
    return f"{h}.{p}.{b64(sig)}"


def claims(plat, **over):
    now = int(time.time())
    c = {"sub": plat.ids["all"], "iat": now, "exp": now + 600, "iss": "ccbridge", "permissions": ALL_PERMISSIONS,
         "jti": "jti_" + uuid.uuid4().hex}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def get_sessions(plat, token):
    return plat.http("GET", "/v1/sessions", token=token)


def test_jwt_attacks(plat):
    st, body, _ = get_sessions(plat, None)
    assert_error(st, body, 401, "AUTH_REQUIRED")
    good = make_jwt(claims(plat))
    st, body, _ = get_sessions(plat, good)
    assert st == 200 and body["success"] is True, body

    h, p, s = good.split(".")
    tampered_claims = claims(plat, sub=plat.ids["none"])
    now = int(time.time())
    bad = {
        "garbage": "garbage",
        "two parts": f"{h}.{p}",
        "tampered payload": f"{h}.{b64(json.dumps(tampered_claims).encode())}.{s}",
        "alg none": make_jwt(claims(plat), header={"alg": "none", "typ": "JWT"}).rsplit(".", 1)[0] + ".",
        "alg RS256": make_jwt(claims(plat), header={"alg": "RS256", "typ": "JWT"}),
        "alg HS512": make_jwt(claims(plat), header={"alg": "HS512", "typ": "JWT"}, digest=hashlib.sha512),
        "other key": make_jwt(claims(plat), key="another-secret-of-at-least-32-bytes-xxxxx"),
        "wrong issuer": make_jwt(claims(plat, iss="someone-else")),
        "no issuer": make_jwt(claims(plat, iss=None)),
        "nbf in the future": make_jwt(claims(plat, nbf=now + 3600)),
        "iat in the future": make_jwt(claims(plat, iat=now + 3600, exp=now + 7200)),
        "no exp": make_jwt(claims(plat, exp=None)),
        "no sub": make_jwt(claims(plat, sub=None)),
        "no jti": make_jwt(claims(plat, jti=None)),
        "exp not a number": make_jwt(claims(plat, exp="tomorrow")),
        "duplicate claim": make_jwt('{"sub":"user_other",' + json.dumps(claims(plat))[1:]),
        "unknown user": make_jwt(claims(plat, sub="user_nobody")),
    }
    for name, token in bad.items():
        st, body, _ = get_sessions(plat, token)
        assert st == 401, (name, body)
        assert_error(st, body, 401, "INVALID_TOKEN")

    st, body, _ = plat.http("GET", "/v1/sessions", headers={"Authorization": "Basic abc"})
    assert_error(st, body, 401, "INVALID_TOKEN")

    # a token of the "none" user claiming every permission gets none: the user's row decides
    st, body, _ = get_sessions(plat, make_jwt(claims(plat, sub=plat.ids["none"])))
    assert_error(st, body, 403, "INSUFFICIENT_PERMISSIONS")
    # within the 30 s leeway an expired token still passes
    st, body, _ = get_sessions(plat, make_jwt(claims(plat, iat=now - 100, exp=now - 5)))
    assert st == 200, body

    expired = make_jwt(claims(plat, iat=now - 7200, exp=now - 3600))
    st, body, _ = get_sessions(plat, expired)
    assert_error(st, body, 401, "TOKEN_EXPIRED")
    assert body["error"]["details"]["expiredAt"].startswith(time.strftime("%Y-%m-%dT", time.gmtime(now - 3600))), body


def test_refresh_rotation_and_reuse(plat):
    first = plat.login("all")
    st, b, _ = plat.http("POST", "/v1/auth/refresh", {"refreshToken": first["refreshToken"]})
    assert st == 200, b
    second = b["data"]
    assert second["refreshToken"] != first["refreshToken"] and second["token"] != first["token"]
    st, b, _ = plat.http("POST", "/v1/auth/refresh", {"refreshToken": second["refreshToken"]})
    assert st == 200, b
    third = b["data"]
    assert get_sessions(plat, third["token"])[0] == 200
    # the first token was rotated already: refused, and the whole login is revoked
    st, b, _ = plat.http("POST", "/v1/auth/refresh", {"refreshToken": first["refreshToken"]})
    assert_error(st, b, 401, "INVALID_TOKEN")
    st, b, _ = plat.http("POST", "/v1/auth/refresh", {"refreshToken": third["refreshToken"]})
    assert_error(st, b, 401, "INVALID_TOKEN")
    st, b, _ = get_sessions(plat, third["token"])
    assert_error(st, b, 401, "INVALID_TOKEN")
    # another login of the same user is not affected
    assert get_sessions(plat, plat.login("all")["token"])[0] == 200


def test_rotated_token_is_refused(plat):
    first = plat.login("all")
    st, b, _ = plat.http("POST", "/v1/auth/refresh", {"refreshToken": first["refreshToken"]})
    assert st == 200, b
    st, b, _ = plat.http("POST", "/v1/auth/refresh", {"refreshToken": first["refreshToken"]})
    assert_error(st, b, 401, "INVALID_TOKEN")
    st, b, _ = plat.http("POST", "/v1/auth/refresh", {"refreshToken": "not-a-token"})
    assert_error(st, b, 401, "INVALID_TOKEN")


def test_logout_revokes_both_tokens(plat):
    t = plat.login("all")
    assert get_sessions(plat, t["token"])[0] == 200
    st, b, _ = plat.http("POST", "/v1/auth/logout", token=t["token"])
    assert st == 200 and b["success"] is True, b
    st, b, _ = get_sessions(plat, t["token"])
    assert_error(st, b, 401, "INVALID_TOKEN")
    st, b, _ = plat.http("POST", "/v1/auth/refresh", {"refreshToken": t["refreshToken"]})
    assert_error(st, b, 401, "INVALID_TOKEN")
    st, b, _ = plat.http("POST", "/v1/auth/logout", token=t["token"])
    assert_error(st, b, 401, "INVALID_TOKEN")


def test_wrong_password_and_unknown_email_look_the_same(plat):
    st1, b1, _ = plat.http("POST", "/v1/auth/login", {"email": "all@example.com", "password": "wrong password"})
    st2, b2, _ = plat.http("POST", "/v1/auth/login", {"email": "nobody@example.com", "password": "wrong password"})
    assert st1 == st2 == 401, (b1, b2)
    assert b1["error"]["code"] == b2["error"]["code"], (b1, b2)
    assert b1["error"]["message"] == b2["error"]["message"], (b1, b2)
    assert_error(st1, b1, 401, b1["error"]["code"])
    # the email is not case-sensitive
    st, b, _ = plat.http("POST", "/v1/auth/login", {"email": "ALL@Example.com", "password": PASSWORD})
    assert st == 200, b


# ---- rate limit ----------------------------------------------------------------------------------

def test_rate_limit_headers(plat):
    token = plat.token("p:session:read")
    seen = []
    for _ in range(3):
        st, b, h = get_sessions(plat, token)
        assert st == 200, b
        values = {k: h.get(k) for k in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")}
        for k, v in values.items():
            assert v is not None and v.isdigit(), (k, v)
        seen.append(int(values["X-RateLimit-Remaining"]))
        assert int(values["X-RateLimit-Reset"]) > time.time() - 5
        assert int(values["X-RateLimit-Limit"]) >= seen[-1]
    assert seen[1] == seen[0] - 1 and seen[2] == seen[1] - 1, seen


# ---- errors --------------------------------------------------------------------------------------

def test_error_envelopes(plat):
    for path in ("/v1/nothing-here", "/v1/sessions/x/y/z", "/v2/sessions", "/nothing-here", "/v1x"):
        st, b, _ = plat.as_user("all", "GET", path)
        assert st == 404, (path, b)
        assert_error(st, b, 404, b["error"]["code"])
    st, b, h = plat.http("GET", "/v1/sessions", token=plat.token("all"), headers={"API-Version": "v9"})
    assert_error(st, b, 400, "INVALID_INPUT")
    st, b, h = plat.http("GET", "/v1/sessions", token=plat.token("all"))
    assert st == 200 and h.get("API-Version"), (b, dict(h))
    st, b, _ = plat.http("POST", "/v1/sessions", token=plat.token("all"), raw=b"this is not json")
    assert_error(st, b, 422, "INVALID_INPUT")
    st, b, _ = plat.http("POST", "/v1/sessions", token=plat.token("all"), raw=b"[1,2]")
    assert_error(st, b, 422, "INVALID_INPUT")
    st, b, _ = plat.as_user("all", "POST", "/v1/sessions", {"agentId": "general"})
    assert_error(st, b, 422, "MISSING_REQUIRED_FIELD")
    assert b["error"]["details"]["field"] == "name", b
    st, b, _ = plat.http("POST", "/v1/auth/login", {"email": "all@example.com"})
    assert_error(st, b, 422, "MISSING_REQUIRED_FIELD")
    assert b["error"]["details"]["field"] == "password", b
    st, b, _ = plat.http("POST", "/v1/auth/login", raw=b"{bad json")
    assert_error(st, b, 422, "INVALID_INPUT")


def test_disabled_user_and_changed_permissions_apply_at_once(plat):
    t = plat.login("chatter")
    st, b, _ = plat.as_user("all", "PATCH", "/v1/users/" + plat.ids["chatter"], {"disabled": True})
    assert st == 200, b
    assert_error(*get_sessions(plat, t["token"])[:2], 401, "INVALID_TOKEN")
    st, b, _ = plat.http("POST", "/v1/auth/refresh", {"refreshToken": t["refreshToken"]})
    assert_error(st, b, 401, "INVALID_TOKEN")
    st, b, _ = plat.http("POST", "/v1/auth/login", {"email": "chatter@example.com", "password": PASSWORD})
    _, wrong, _ = plat.http("POST", "/v1/auth/login", {"email": "chatter@example.com", "password": "wrong password"})
    assert_error(st, b, 401, wrong["error"]["code"])
    # a permission taken away is refused with the token issued before
    token = plat.token("p:session:read")
    assert get_sessions(plat, token)[0] == 200
    st, b, _ = plat.as_user("all", "PATCH", "/v1/users/" + plat.ids["p:session:read"], {"permissions": []})
    assert st == 200, b
    assert_error(*get_sessions(plat, token)[:2], 403, "INSUFFICIENT_PERMISSIONS")
