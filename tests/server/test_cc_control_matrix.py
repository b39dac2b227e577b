"""cc-control (seed 004): the role matrix (every route and /ws/client frame against each kind of
token) and the tenant isolation matrix (every route and frame, a caller of the owning tenant and
one of another tenant), one test per cell (issue 14).

The expected answers are written out below, from seed 004 and CC-CONTROL.md sections 2.6, 3 and
4; where ccbridge deliberately differs from the original, docs/SERVER.md's "Differences" table
applies and the row says which item. One server serves the whole module: each cell is a request
or two, and a cell that changes something (stop, delete, revoke, rotate, forget, answer) makes
its own victim first, so that the cells are independent of each other and of their order."""
import itertools
import json
import time
import uuid

import pytest
import websockets
from websockets.sync.client import connect

from cc_control_common import ADMIN, b64, bearer, cc_args, fake_terminal, make_token, metric, unb64
from conftest import Server, stop_cleanly

UNKNOWN = "00000000-0000-4000-8000-000000000000"  # an id that names nothing
REMOTE = "srv-a"  # tenant A's remote agent, connected for the whole module

# ---- the role matrix ----------------------------------------------------------------------------

KINDS = ("none", "viewer", "operator", "owner", "agent", "tenant", "admin")
CREATE = {"server_id": "srv-local", "cwd": "{root}"}
ROTATE = ("POST", "/tenant/tokens")  # revokes its tenant's ui and agent tokens: a tenant of its own per cell

# Placeholders: {tenant} the callers' tenant, {sid} a running session of it, {root} the allowed
# cwd; a victim per cell: {fresh_sid} a running session, {fresh_token} a ui token's id,
# {offline_server} a remote server whose agent has gone. Auth comes first (401 `unauthorized`),
# then the route (405 `method not allowed` for a wrong method, whatever the role), then the role
# (403 `forbidden`), as CC-CONTROL.md 3 says. WS 101: the upgrade is accepted.
#
#  method    path                                        body                         none viewer operator owner agent tenant admin
ROLE_MATRIX = [
    # public (CC-CONTROL.md 3.1); `/` is the console (docs/CC-CONTROL-CONSOLE.md), not a file server
    ("GET",    "/api/healthz",                             None,                        (200, 200, 200, 200, 200, 200, 200)),
    ("POST",   "/api/healthz",                             None,                        (200, 200, 200, 200, 200, 200, 200)),
    ("GET",    "/",                                        None,                        (200, 200, 200, 200, 200, 200, 200)),
    # the original's admin.html and tenant.html pages are not served: /admin/ and /tenant/ stay
    # the token-guarded REST prefixes (docs/CC-CONTROL-CONSOLE.md)
    ("GET",    "/admin/",                                  None,                        (401, 401, 401, 401, 401, 401, 404)),
    ("GET",    "/tenant/",                                 None,                        (401, 401, 401, 401, 401, 404, 401)),
    # /api: ui tokens with a least role (3.2, seed 004)
    ("GET",    "/api/servers",                             None,                        (401, 200, 200, 200, 401, 401, 401)),
    ("GET",    "/api/sessions",                            None,                        (401, 200, 200, 200, 401, 401, 401)),
    ("GET",    "/api/sessions?server_id=srv-local",        None,                        (401, 200, 200, 200, 401, 401, 401)),
    ("POST",   "/api/sessions",                            CREATE,                      (401, 403, 201, 201, 401, 401, 401)),
    ("POST",   "/api/sessions/{fresh_sid}/stop",           None,                        (401, 403, 200, 200, 401, 401, 401)),
    ("DELETE", "/api/sessions/{fresh_sid}",                None,                        (401, 403, 403, 200, 401, 401, 401)),
    ("GET",    "/api/sessions/{sid}/events",               None,                        (401, 200, 200, 200, 401, 401, 401)),
    # ccbridge only (SERVER.md, item 34): forgetting an offline remote server needs owner
    ("DELETE", "/api/servers/{offline_server}",            None,                        (401, 403, 403, 200, 401, 401, 401)),
    # /api routing before roles: wrong methods, unknown sub-routes, an empty id
    ("PUT",    "/api/sessions",                            None,                        (401, 405, 405, 405, 401, 401, 401)),
    ("POST",   "/api/servers",                             None,                        (401, 405, 405, 405, 401, 401, 401)),
    ("GET",    "/api/sessions/{fresh_sid}/stop",           None,                        (401, 405, 405, 405, 401, 401, 401)),
    ("GET",    "/api/sessions/{sid}/nope",                 None,                        (401, 404, 404, 404, 401, 401, 401)),
    ("GET",    "/api/sessions/",                           None,                        (401, 400, 400, 400, 401, 401, 401)),
    # /admin: the admin token only (3.3); token creation answers 200, not 201
    ("GET",    "/admin/verify",                            None,                        (401, 401, 401, 401, 401, 401, 200)),
    ("POST",   "/admin/verify",                            None,                        (401, 401, 401, 401, 401, 401, 200)),
    ("GET",    "/admin/tokens",                            None,                        (401, 401, 401, 401, 401, 401, 200)),
    ("GET",    "/admin/tokens?tenant_id={tenant}",         None,                        (401, 401, 401, 401, 401, 401, 200)),
    ("POST",   "/admin/tokens",  {"type": "ui", "role": "viewer", "tenant_id": "{tenant}"}, (401, 401, 401, 401, 401, 401, 200)),
    ("POST",   "/admin/tokens/{fresh_token}/revoke",       None,                        (401, 401, 401, 401, 401, 401, 200)),
    ("GET",    "/admin/servers",                           None,                        (401, 401, 401, 401, 401, 401, 200)),
    ("GET",    "/admin/servers?tenant_id={tenant}",        None,                        (401, 401, 401, 401, 401, 401, 200)),
    ("GET",    "/admin/sessions",                          None,                        (401, 401, 401, 401, 401, 401, 200)),
    ("GET",    "/admin/sessions?tenant_id={tenant}&server_id=srv-local", None,          (401, 401, 401, 401, 401, 401, 200)),
    ("POST",   "/admin/sessions/{fresh_sid}/stop",         None,                        (401, 401, 401, 401, 401, 401, 200)),
    # /admin: the path's shape before the method (3.3)
    ("GET",    "/admin/tokens/{fresh_token}/revoke",       None,                        (401, 401, 401, 401, 401, 401, 405)),
    ("GET",    "/admin/sessions/{fresh_sid}/stop",         None,                        (401, 401, 401, 401, 401, 401, 405)),
    ("POST",   "/admin/servers",                           None,                        (401, 401, 401, 401, 401, 401, 405)),
    ("GET",    "/admin/nope",                              None,                        (401, 401, 401, 401, 401, 401, 404)),
    # /tenant: tenant tokens only (3.4)
    ("GET",    "/tenant/verify?tenant_id={tenant}",        None,                        (401, 401, 401, 401, 401, 200, 401)),
    ("POST",   "/tenant/verify",                           {"tenant_id": "{tenant}"},   (401, 401, 401, 401, 401, 200, 401)),
    ("POST",   "/tenant/tokens",                           {},                          (401, 401, 401, 401, 401, 200, 401)),
    ("GET",    "/tenant/tokens",                           None,                        (401, 401, 401, 401, 401, 405, 401)),
    # WebSockets (4.1; docs/AGENT-PROTOCOL.md): /ws/client for ui tokens, /ws/agent for agent tokens
    ("WS",     "/ws/client",                               None,                        (401, 101, 101, 101, 401, 401, 401)),
    ("WS",     "/ws/agent",                                None,                        (401, 401, 401, 401, 101, 401, 401)),
]

# /ws/client frames by role (4.2, 4.6): a viewer may only attach; the rest gets error `forbidden`
# with the frame's session_id echoed, and nothing is done. "typed": the terminal got the bytes;
# "resized": it has the new size; "stopped": the session is stopping; "answered": the approval is
# resolved with that decision.
#
#  frame               viewer       operator     owner
FRAME_ROLES = [
    ("attach",         ("attach_ok", "attach_ok", "attach_ok")),
    ("term_in",        ("forbidden", "typed",     "typed")),
    ("resize",         ("forbidden", "resized",   "resized")),
    ("action stop",    ("forbidden", "stopped",   "stopped")),
    ("action approve", ("forbidden", "answered",  "answered")),
    ("action reject",  ("forbidden", "answered",  "answered")),
]

# ---- the tenant matrix --------------------------------------------------------------------------

# Tenant A owns every object; the caller is of tenant A ("own") or of tenant B ("other"): an ui
# owner on /api and /ws/client, the tenant's token on /tenant, the admin filtering by the caller's
# tenant on /admin. "listed": A's object is in the list; "absent": it is not; in both every item
# is the caller's tenant's (or the built-in local agent's, which serves every tenant, with only
# the caller's sessions counted). Seed 004: "cross-tenant resources return not found"; an "other"
# cell also checks that its answer is exactly that for an id that names nothing (no existence leak).
#
#  method    path                                   body                                     own           other
TENANT_REST = [
    ("GET",    "/api/servers",                        None,                                    (200, "listed"), (200, "absent")),
    ("GET",    "/api/sessions",                       None,                                    (200, "listed"), (200, "absent")),
    ("GET",    "/api/sessions?server_id=srv-local",   None,                                    (200, "listed"), (200, "absent")),
    ("GET",    f"/api/sessions?server_id={REMOTE}",   None,                                    (200, "listed"), (200, "absent")),
    # original: 500 `server not in tenant`, which tells the id exists (SERVER.md, item 24)
    ("POST",   "/api/sessions",                       {"server_id": "{server}", "cwd": "/w"},  (201, None),     (503, "server offline\n")),
    # original: 200 {"events":null} (item 25)
    ("GET",    "/api/sessions/{sid}/events",          None,                                    (200, None),     (404, "session not found\n")),
    ("POST",   "/api/sessions/{fresh_sid}/stop",      None,                                    (200, None),     (404, "session not found\n")),
    ("DELETE", "/api/sessions/{fresh_sid}",           None,                                    (200, None),     (404, "session not found\n")),
    # ccbridge only (item 34); server ids are per tenant (item 5)
    ("DELETE", "/api/servers/{offline_server}",       None,                                    (200, None),     (404, "server not found\n")),
    ("GET",    "/tenant/verify?tenant_id={tenant}",   None,                                    (200, None),     (401, "unauthorized\n")),
    ("POST",   "/tenant/verify",                      {"tenant_id": "{tenant}"},               (200, None),     (401, "unauthorized\n")),
    ("POST",   "/tenant/tokens",                      {"tenant_id": "{tenant}"},               (200, None),     (403, "forbidden\n")),
    ("GET",    "/admin/tokens?tenant_id={caller}",    None,                                    (200, "listed"), (200, "absent")),
    ("GET",    "/admin/servers?tenant_id={caller}",   None,                                    (200, "listed"), (200, "absent")),
    ("GET",    "/admin/sessions?tenant_id={caller}",  None,                                    (200, "listed"), (200, "absent")),
    ("GET",    "/admin/sessions?tenant_id={caller}&server_id=srv-local", None,                 (200, "listed"), (200, "absent")),
]

# /ws/client (2.6, 4): a frame about another tenant's session is answered as for an unknown one;
# the broadcasts reach the owning tenant's clients only (the original sent session_update and
# approval events to every tenant: SERVER.md, items 2 and 3). "received": a client of the caller's
# tenant gets the frame; "none": it gets no frame about that session at all.
#
#  frame                             own          other
TENANT_WS = [
    ("attach",                       "attach_ok", "session not found"),
    ("term_in",                      "typed",     "session not found"),
    ("resize",                       "resized",   "session not found"),
    ("action stop",                  "stopped",   "session not found"),
    ("action approve",               "answered",  "session not found"),
    ("action reject",                "answered",  "session not found"),
    ("session_update broadcast",     "received",  "none"),
    ("approval event broadcast",     "received",  "none"),
    ("pending approvals on connect", "received",  "none"),
]

# /ws/agent (docs/AGENT-PROTOCOL.md; SERVER.md items 4 and 5): server ids are per tenant, and an
# agent reports only its own tenant's sessions on its own server id. The caller is an agent of
# tenant A or of tenant B, registered as A's server id REMOTE; the object is a session of A on
# REMOTE. "refused": closed as a duplicate (A's agent for REMOTE is connected); "registered": its
# own server, A's untouched; "shown": the output reaches A's clients; "exited": the session ends;
# "dropped": the frame is counted as rejected and the session is unchanged.
#
#  agent frame          own          other
TENANT_AGENT = [
    ("register",        "refused",   "registered"),
    ("pty_out",         "shown",     "dropped"),
    ("pty_exit",        "exited",    "dropped"),
    ("error",           "error",     "dropped"),
]

TEXT = {400: "bad path\n", 401: "unauthorized\n", 403: "forbidden\n", 404: "not found\n", 405: "method not allowed\n"}


# ---- the module's server and its objects --------------------------------------------------------


class Ws:
    """A blocking /ws/client or /ws/agent connection that keeps the frames it reads."""

    def __init__(self, ws):
        self.ws = ws
        self.frames = []

    def send(self, **frame):
        self.ws.send(json.dumps(frame))

    def next(self, timeout=10):
        f = json.loads(self.ws.recv(timeout))
        self.frames.append(f)
        return f

    def until(self, pred, timeout=10):
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError(f"timed out; last frames: {self.frames[-5:]}")
            try:
                f = self.next(left)
            except TimeoutError:
                continue
            if pred(f):
                return f

    def barrier(self):
        """The frames the server had queued for this client before now: a frame of an unknown type
        is answered with an error after them (one writer per socket, requests handled in order)."""
        tag = "barrier-" + uuid.uuid4().hex
        start = len(self.frames)
        self.send(type="barrier", session_id=tag)
        self.until(lambda f: f["type"] == "error" and f.get("session_id") == tag)
        return self.frames[start:-1]

    def output_until(self, sid, needle, timeout=10):
        out = b""
        while needle not in out:
            out += unb64(self.until(lambda f: f["type"] == "term_out" and f.get("session_id") == sid, timeout))
        return out

    def close(self):
        self.ws.close()


class World:
    """The server, tenants A and B with their tokens, and A's objects."""

    def __init__(self, s):
        self.s = s
        owner = make_token(s, "ui", "owner")
        self.tenant_a = owner["tenant_id"]
        self.a = self.kinds(self.tenant_a, owner)
        self.a_owner_id = owner["token_id"]
        b = make_token(s, "ui", "owner")
        self.tenant_b = b["tenant_id"]
        self.b = {"owner": b["token"], "tenant": make_token(s, "tenant", tenant_id=self.tenant_b)["token"],
                  "agent": make_token(s, "agent", tenant_id=self.tenant_b)["token"]}
        self.agent = self.agent_conn(self.a["agent"], REMOTE)  # stays connected: A's online server
        status, out, _ = self.call("POST", "/api/sessions", self.a["owner"], {"server_id": REMOTE, "cwd": "/w"})
        assert status == 201, out
        self.remote_sid = out["session_id"]
        self.sid = self.fresh_sid()
        self.pending_sid, self.pending_event = self.pending_session()
        self.counter = itertools.count(1)

    def kinds(self, tenant, owner=None):
        """A token of every kind in `tenant` (None: a new tenant; owner: its ui owner token, if made
        already)."""
        owner = owner or make_token(self.s, "ui", "owner", tenant_id=tenant)
        tenant = owner["tenant_id"]
        k = {r: make_token(self.s, "ui", r, tenant_id=tenant)["token"] for r in ("viewer", "operator")}
        k.update(owner=owner["token"], none=None, admin=ADMIN,
                 agent=make_token(self.s, "agent", tenant_id=tenant)["token"],
                 tenant=make_token(self.s, "tenant", tenant_id=tenant)["token"], tenant_id=tenant)
        return k

    def call(self, method, path, token, body=None):
        headers = bearer(token) if token else {"Content-Type": "application/json"}
        return self.s.http(method, path, body, headers)

    def client(self, token):
        ws = Ws(connect(self.s.ws_url(f"/ws/client?token={token}"), open_timeout=10, max_size=2**26))
        assert ws.next()["type"] == "debug_probe"
        return ws

    def agent_conn(self, token, server_id):
        ws = Ws(connect(self.s.ws_url("/ws/agent"), additional_headers={"Authorization": f"Bearer {token}"},
                        open_timeout=10))
        ws.send(type="register", server_id=server_id,
                data={"server_id": server_id, "hostname": "h", "tags": None, "os": "linux", "arch": "amd64",
                      "agent_version": "test", "allow_roots": ["/w"], "claude_path": "claude", "sessions": []})
        ws.until(lambda f: f["type"] == "register_ok")
        return ws

    def session(self, sid):
        """Tenant A's record of session `sid`, or None."""
        out = self.call("GET", "/api/sessions", self.a["owner"])[1]["sessions"]
        return next((x for x in out if x["session_id"] == sid), None)

    def servers(self):
        return {x["server_id"]: x for x in self.call("GET", "/api/servers", self.a["owner"])[1]["servers"]}

    def wait(self, cond, what, timeout=15):
        deadline = time.time() + timeout
        while not cond():
            assert time.time() < deadline, f"never: {what}"
            time.sleep(0.02)

    # ---- victims: each made for one cell ----

    def fresh_sid(self):
        status, out, _ = self.call("POST", "/api/sessions", self.a["owner"],
                                   {"server_id": "srv-local", "cwd": str(self.s.root)})
        assert status == 201, out
        sid = out["session_id"]
        self.wait(lambda: self.session(sid)["status"] == "running", f"{sid} running")
        return sid

    def pending_session(self):
        """A running session of A waiting for an approval (the screen detector saw a menu)."""
        sid = self.fresh_sid()
        c = self.client(self.a["owner"])
        try:
            c.send(type="attach", data={"session_id": sid})
            c.send(type="term_in", session_id=sid, data_b64=b64("menu\r"))
            ev = c.until(lambda f: f["type"] == "event" and f.get("session_id") == sid, 15)
        finally:
            c.close()
        return sid, ev["data"]["event_id"]

    def fresh_token(self):
        return make_token(self.s, "ui", "viewer", tenant_id=self.tenant_a)["token_id"]

    def offline_server(self):
        server_id = "gone-" + uuid.uuid4().hex[:8]
        self.agent_conn(self.a["agent"], server_id).close()
        self.wait(lambda: self.servers()[server_id]["status"] == "offline", f"{server_id} offline")
        return server_id

    def token_revoked(self, token_id):
        return next(t for t in self.call("GET", "/admin/tokens", ADMIN)[1]["tokens"] if t["token_id"] == token_id)["revoked"]

    def event(self, sid, event_id):
        return next(e for e in self.call("GET", f"/api/sessions/{sid}/events", self.a["owner"])[1]["events"]
                    if e["event_id"] == event_id)

    def typed_output(self, sid, *lines):
        """Tenant A's owner types `lines` and then a marker into `sid`: the ring's replay (what the
        session printed before) and the output up to the marker's answer."""
        marker = "mark-" + uuid.uuid4().hex
        c = self.client(self.a["owner"])
        try:
            c.send(type="attach", data={"session_id": sid, "since_seq": 0})
            ok = c.until(lambda f: f["type"] == "attach_ok")
            before = unb64(c.until(lambda f: f["type"] == "term_out" and f.get("seq") == ok["data"]["latest_seq"]))
            for line in (*lines, marker):
                c.send(type="term_in", session_id=sid, data_b64=b64(line + "\r"))
            return before, c.output_until(sid, b"got:" + marker.encode())
        finally:
            c.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cc-matrix")
    cfg = tmp / "cfg.json"
    cfg.write_text(json.dumps({"cc_control": {"requests_per_minute": 100000}}))  # the cells share tokens
    # Screen approvals (a "menu" raises one); A's remote agent answers pings but sends no
    # heartbeats, so staleness is off; the victims that a refused cell leaves running add up.
    s = Server(tmp, args=cc_args(tmp, "--config", str(cfg), "--enable-prompt-detection", "--no-exact-approvals",
                                 "--offline-after-sec", "3600", "--max-sessions", "1000"), cli=fake_terminal(tmp))
    try:
        w = World(s)
        yield w
        w.agent.close()
    finally:
        stop_cleanly(s)


def fill(template, values):
    """`template` (a string, a dict of strings, or None) with its {placeholders} replaced."""
    if template is None:
        return None
    if isinstance(template, dict):
        return {k: fill(v, values) for k, v in template.items()}
    return template.format(**values)


def ws_status(w, path, token):
    """The answer to a WebSocket upgrade: 101 once the socket works (a ui client gets its
    debug_probe, an agent its register_ok), else the refusal's status."""
    try:
        if path == "/ws/client":
            w.client(token).close()
        else:
            w.agent_conn(token, "agent-" + uuid.uuid4().hex[:8]).close()
        return 101, ""
    except websockets.InvalidStatus as e:
        return e.response.status_code, e.response.body.decode()


# ---- role matrix cells --------------------------------------------------------------------------


def victims(w, method, path, body):
    """The placeholder values of a row: its victims made now, for this cell only."""
    text = path + json.dumps(body)
    v = {"tenant": w.tenant_a, "sid": w.sid, "root": str(w.s.root)}
    if "{fresh_sid}" in text:
        v["fresh_sid"] = w.fresh_sid()
    if "{fresh_token}" in text:
        v["fresh_token"] = w.fresh_token()
    if "{offline_server}" in text:
        v["offline_server"] = w.offline_server()
    return v


def changed(w, v, tokens, method, path):
    """Whether this cell's victim was changed: stopped, deleted, revoked, forgotten or rotated."""
    if (method, path) == ROTATE:
        assert w.call("GET", "/api/servers", w.a["owner"])[0] == 200  # another tenant's tokens stay
        return w.call("GET", "/api/servers", tokens["owner"])[0] == 401
    if "fresh_sid" in v:
        rec = w.session(v["fresh_sid"])
        return rec is None or rec["status"] != "running"
    if "fresh_token" in v:
        return w.token_revoked(v["fresh_token"])
    if "offline_server" in v:
        return v["offline_server"] not in w.servers()
    return None


ROLE_CELLS = [pytest.param(m, p, b, kind, want[i], id=f"{m} {p} | {kind}")
              for m, p, b, want in ROLE_MATRIX for i, kind in enumerate(KINDS)]


@pytest.mark.parametrize("method,path,body,kind,want", ROLE_CELLS)
def test_role_matrix(world, method, path, body, kind, want):
    w = world
    tokens = w.kinds(None) if (method, path) == ROTATE else w.a
    v = victims(w, method, path, body)
    if method == "WS":
        status, text = ws_status(w, path, tokens[kind])
    else:
        status, text, _ = w.call(method, fill(path, v), tokens[kind], fill(body, v))
    assert status == want, (status, text)
    if want in TEXT:
        assert text == TEXT[want]
    # A mutating route changed its victim exactly when it was allowed to.
    done = changed(w, v, tokens, method, path)
    if done is not None:
        assert done == (want < 300), f"victim changed: {done}"


# ---- /ws/client frame cells (role and tenant matrices) ------------------------------------------

BROADCASTS = {"session_update broadcast", "approval event broadcast", "pending approvals on connect"}


def frame_outcome(w, token, name, unknown=False):
    """Sends frame `name` from a new client of `token` about a session of tenant A (or, with
    `unknown`, about an id that names nothing) and says what came of it: the error message it got
    back, else what the frame did (the names of FRAME_ROLES), else "nothing"."""
    target, event_id = w.sid, None
    if unknown:
        target = UNKNOWN
    elif name == "action stop":
        target = w.fresh_sid()
    elif name in ("action approve", "action reject"):
        target, event_id = w.pending_session()
    n = next(w.counter)
    marker, cols, rows = "in-" + uuid.uuid4().hex, 90 + n, 20 + n
    kind = name.split()[-1]
    frame = {"attach": dict(type="attach", data={"session_id": target, "since_seq": 0}),
             "term_in": dict(type="term_in", session_id=target, data_b64=b64(marker + "\r")),
             "resize": dict(type="resize", session_id=target, data={"cols": cols, "rows": rows}),
             }.get(name) or dict(type="action", session_id=target, data={"kind": kind, "event_id": event_id})
    c = w.client(token)
    try:
        c.send(**frame)
        got = c.barrier()
    finally:
        c.close()
    errors = [f["data"]["message"] for f in got if f["type"] == "error"]
    assert all(f.get("session_id") == target for f in got if f["type"] == "error"), got  # echoed
    if unknown:
        return errors[0] if errors else "nothing"
    if name == "attach":
        done = any(f["type"] == "attach_ok" and f["data"]["session_id"] == target for f in got) and "attach_ok"
    elif name == "term_in":
        before, after = w.typed_output(target)
        done = b"got:" + marker.encode() in before + after and "typed"
    elif name == "resize":
        done = f"size:{rows} {cols}".encode() in w.typed_output(target, "size")[1] and "resized"
    elif name == "action stop":
        done = w.session(target)["status"] != "running" and "stopped"
    else:
        ev = w.event(target, event_id)
        done = ev["resolved"] and ev.get("decision") == kind and "answered"
    assert not (errors and done), (errors, done)  # refused means nothing was done
    return errors[0] if errors else done or "nothing"


def broadcast_outcome(w, token, name):
    """Whether a client of `token` (not attached to anything) is told of something happening to
    a session of tenant A: "received" the frame, "none" no frame about that session at all."""
    want = "session_update" if name == "session_update broadcast" else "event"
    if name == "pending approvals on connect":
        sid = w.pending_sid
        c = w.client(token)
    else:
        sid = w.fresh_sid()
        c = w.client(token)
        if name == "session_update broadcast":
            assert w.call("POST", f"/api/sessions/{sid}/stop", w.a["owner"])[0] == 200
        else:
            a = w.client(w.a["owner"])
            try:
                a.send(type="attach", data={"session_id": sid})
                a.send(type="term_in", session_id=sid, data_b64=b64("menu\r"))
                a.until(lambda f: f["type"] == "event" and f.get("session_id") == sid, 15)
            finally:
                a.close()
    try:
        about = [f for f in c.frames + c.barrier() if f.get("session_id") == sid]
    finally:
        c.close()
    if not about:
        return "none"
    if name == "pending approvals on connect":
        about = [f for f in about if f["data"].get("event_id") == w.pending_event]
    return "received" if [f for f in about if f["type"] == want] else f"other frames: {about}"


FRAME_CELLS = [pytest.param(name, kind, want[i], id=f"{name} | {kind}")
               for name, want in FRAME_ROLES for i, kind in enumerate(("viewer", "operator", "owner"))]


@pytest.mark.parametrize("name,kind,want", FRAME_CELLS)
def test_frame_role_matrix(world, name, kind, want):
    assert frame_outcome(world, world.a[kind], name) == want


# ---- tenant matrix cells ------------------------------------------------------------------------

TENANT_REST_CELLS = [pytest.param(m, p, b, side, want, id=f"{m} {p} | {side}")
                     for m, p, b, own, other in TENANT_REST for side, want in (("own", own), ("other", other))]


def listed(w, path, out, caller_tenant):
    """Whether tenant A's object is in the list `out`; checks that every item is the caller's."""
    (key, items), = out.items()
    id_key = {"servers": "server_id", "sessions": "session_id", "tokens": "token_id"}[key]
    for x in items:
        if key == "servers" and x["server_id"] == "srv-local":
            # The local agent serves every tenant: its count is of the caller's sessions only.
            if caller_tenant == w.tenant_b:
                assert x["active_sessions"] == 0, x
            continue
        assert x["tenant_id"] == caller_tenant, (path, x)
    mine = {"servers": REMOTE, "tokens": w.a_owner_id,
            "sessions": w.remote_sid if f"server_id={REMOTE}" in path else w.sid}[key]
    return mine in [x[id_key] for x in items]


@pytest.mark.parametrize("method,path,body,side,want", TENANT_REST_CELLS)
def test_tenant_matrix_rest(world, method, path, body, side, want):
    w = world
    # Tenant A owns the objects; a rotation (it revokes its tenant's tokens) gets a tenant of its own.
    owner = w.kinds(None) if (method, path) == ROTATE else w.a
    owner_tenant = owner["tenant_id"]
    caller = owner if side == "own" else w.b
    caller_tenant = owner_tenant if side == "own" else w.tenant_b
    token = ADMIN if path.startswith("/admin") else caller["tenant" if path.startswith("/tenant") else "owner"]
    v = {**victims(w, method, path, body), "tenant": owner_tenant, "caller": caller_tenant, "server": REMOTE}
    status, out, _ = w.call(method, fill(path, v), token, fill(body, v))
    assert status == want[0], (status, out)
    if want[1] in ("listed", "absent"):
        assert listed(w, path, out, caller_tenant) == (want[1] == "listed"), out
    elif want[1] is not None:
        assert out == want[1]
    done = changed(w, v, owner, method, path)
    if done is not None:
        assert done == (side == "own"), f"victim changed: {done}"
    if side == "other" and want[1] not in ("listed", "absent"):
        # The same answer as for an object that does not exist: another tenant's does not show.
        nothing = {**v, **{k: UNKNOWN for k in ("tenant", "sid", "fresh_sid", "offline_server", "server")}}
        assert w.call(method, fill(path, nothing), token, fill(body, nothing))[:2] == (status, out)


TENANT_WS_CELLS = [pytest.param(name, side, want, id=f"{name} | {side}")
                   for name, own, other in TENANT_WS for side, want in (("own", own), ("other", other))]


@pytest.mark.parametrize("name,side,want", TENANT_WS_CELLS)
def test_tenant_matrix_ws(world, name, side, want):
    w = world
    token = w.a["owner"] if side == "own" else w.b["owner"]
    if name in BROADCASTS:
        assert broadcast_outcome(w, token, name) == want
        return
    assert frame_outcome(w, token, name) == want
    if side == "other":
        # The same answer as for a session that does not exist.
        assert frame_outcome(w, token, name, unknown=True) == want


REJECTED = "ccbridge_cc_control_agent_frames_rejected_total"


def agent_outcome(w, side, name):
    """What came of agent frame `name` sent by an agent of tenant A ("own", the module's agent for
    REMOTE) or of tenant B ("other", registered as REMOTE too) about a session of A on REMOTE."""
    if name == "register":
        try:
            w.agent_conn(w.a["agent"] if side == "own" else w.b["agent"], REMOTE).close()
        except websockets.ConnectionClosed as e:
            assert e.rcvd.code == 1008 and "duplicate" in e.rcvd.reason, e
            return "refused"
        srv = w.servers()[REMOTE]  # A's server is still A's, online, with its agent
        assert srv["tenant_id"] == w.tenant_a and srv["status"] == "online", srv
        return "registered"
    status, out, _ = w.call("POST", "/api/sessions", w.a["owner"], {"server_id": REMOTE, "cwd": "/w"})
    assert status == 201, out
    sid, marker = out["session_id"], "out-" + uuid.uuid4().hex
    agent = w.agent if side == "own" else w.agent_conn(w.b["agent"], REMOTE)
    rejected = metric(w.s, REJECTED)
    try:
        if name == "pty_out":
            agent.send(type="pty_out", server_id=REMOTE, session_id=sid, seq=1, data_b64=b64(marker))
        elif name == "pty_exit":
            agent.send(type="pty_exit", server_id=REMOTE, session_id=sid, data={"exit_code": 9, "reason": "exited"})
        else:
            agent.send(type="error", server_id=REMOTE, session_id=sid, data={"message": marker})
        w.wait(lambda: w.session(sid)["status"] != "starting" or metric(w.s, REJECTED) > rejected,
               f"{name} about {sid} taken or rejected")
    finally:
        if agent is not w.agent:
            agent.close()
    rec = w.session(sid)
    if rec["status"] == "starting":
        return "dropped"
    if name == "pty_out":
        c = w.client(w.a["owner"])
        try:
            c.send(type="attach", data={"session_id": sid, "since_seq": 0})
            return "shown" if marker.encode() in c.output_until(sid, marker.encode()) else rec["status"]
        finally:
            c.close()
    if name == "pty_exit":
        return "exited" if (rec["status"], rec.get("exit_code")) == ("exited", 9) else str(rec)
    return "error" if rec["status"] == "error" and marker in rec["exit_reason"] else str(rec)


TENANT_AGENT_CELLS = [pytest.param(name, side, want, id=f"{name} | {side}")
                      for name, own, other in TENANT_AGENT for side, want in (("own", own), ("other", other))]


@pytest.mark.parametrize("name,side,want", TENANT_AGENT_CELLS)
def test_tenant_matrix_agent(world, name, side, want):
    assert agent_outcome(world, side, name) == want
