"""cc-control's /ws/agent (docs/AGENT-PROTOCOL.md), the control plane's side: a scripted agent
speaks the protocol (the original's messages and ccbridge's additions) while UI clients watch.
What `ccbridge agent` does on its side is tested in test_agent.py; both together across network
namespaces in test_multihost.py."""
import asyncio
import json
import time

import pytest
import websockets

from cc_control_common import (ADMIN, Client, api, b64, bearer, client, make_token, metric, saved_state, start_cc, unb64,
                               wait_status)
from conftest import recv_json, wait_until, ws_connect


class FakeAgent(Client):
    """One /ws/agent connection driven by the test (Client's reading helpers, an agent's sends)."""

    def __init__(self, ws, server_id):
        super().__init__(ws)
        self.server_id = server_id

    @classmethod
    async def connect(cls, s, token, server_id, sessions=None, **data):
        ws = await ws_connect(s.ws_url("/ws/agent"), additional_headers={"Authorization": f"Bearer {token}"})
        agent = cls(ws, server_id)
        reg = {"server_id": server_id, "hostname": "h-" + server_id, "tags": None, "os": "linux", "arch": "amd64",
               "agent_version": "test", "allow_roots": ["/w"], "claude_path": "claude", **data}
        if sessions is not None:
            reg["sessions"] = sessions
        await agent.send("register", data=reg)
        return agent

    @classmethod
    async def registered(cls, s, token, server_id="build-1"):
        """A ccbridge-like agent (it lists its sessions: none), past register_ok."""
        agent = await cls.connect(s, token, server_id, sessions=[])
        await agent.expect("register_ok")
        return agent

    async def send(self, type_, **fields):
        await self.ws.send(json.dumps({"type": type_, "server_id": self.server_id, **fields}))

    async def out(self, sid, seq, text):
        await self.send("pty_out", session_id=sid, seq=seq, data_b64=b64(text))

    async def expect(self, type_, timeout=10):
        return await self.until(lambda f: f["type"] == type_, timeout)


def setup(start_server, tmp_path, *extra):
    s = start_cc(start_server, tmp_path, *extra)
    ui = make_token(s, "ui", "owner")
    agent = make_token(s, "agent", tenant_id=ui["tenant_id"])["token"]
    return s, ui["token"], agent, ui["tenant_id"]


def create(s, ui, server_id, cwd="/w/p", **kw):
    status, out, _ = api(s, "POST", "/api/sessions", ui, {"server_id": server_id, "cwd": cwd, **kw})
    assert status == 201, out
    return out["session_id"]


async def started(s, ui, agent, **kw):
    """A session created on `agent`'s server, its start_session, and its first output seen."""
    sid = create(s, ui, agent.server_id, **kw)
    start = await agent.expect("start_session")
    assert start["session_id"] == sid
    await agent.out(sid, 1, "hello\r\n")
    wait_status(s, ui, sid, {"running"})
    return sid, start


def test_gate_register_and_server_listing(start_server, tmp_path):
    s, ui, agent_tok, tenant = setup(start_server, tmp_path)

    async def go():
        for headers in ({}, {"Authorization": f"Bearer {ui}"}, {"Authorization": "Bearer nope"}):
            with pytest.raises(websockets.InvalidStatus) as e:
                await ws_connect(s.ws_url("/ws/agent"), additional_headers=headers)
            assert e.value.response.status_code == 401 and e.value.response.body == b"unauthorized\n"
        # Anything but a register first: closed.
        ws = await ws_connect(s.ws_url("/ws/agent"), additional_headers={"Authorization": f"Bearer {agent_tok}"})
        await ws.send(json.dumps({"type": "heartbeat", "server_id": "x"}))
        with pytest.raises(websockets.ConnectionClosed) as e:
            await recv_json(ws)
        assert e.value.rcvd.code == 1008
        # The local agent's id is not for a remote agent.
        a = await FakeAgent.connect(s, agent_tok, "srv-local")
        with pytest.raises(websockets.ConnectionClosed) as e:
            await a.next()
        assert e.value.rcvd.code == 1008 and "local agent" in e.value.rcvd.reason

        a = await FakeAgent.connect(s, agent_tok, "build-1", tags=["gpu"], sessions=[])
        ok = await a.expect("register_ok")
        assert ok["server_id"] == "build-1"
        assert ok["data"]["heartbeat_interval_ms"] == 5000 and ok["data"]["resume"] is True
        status, out, _ = api(s, "GET", "/api/servers", ui)
        srv = {x["server_id"]: x for x in out["servers"]}
        assert srv["build-1"]["status"] == "online" and srv["build-1"]["tenant_id"] == tenant
        assert srv["build-1"]["hostname"] == "h-build-1" and srv["build-1"]["tags"] == ["gpu"]
        assert srv["build-1"]["allow_roots"] == ["/w"]
        assert metric(s, 'ccbridge_cc_control_agents{state="online"}') == 1
        # Another tenant neither sees it nor can start sessions on it.
        other = make_token(s, "ui", "owner")["token"]
        status, out, _ = api(s, "GET", "/api/servers", other)
        assert "build-1" not in [x["server_id"] for x in out["servers"]]
        assert api(s, "POST", "/api/sessions", other, {"server_id": "build-1", "cwd": "/w"})[:2] == (503, "server offline\n")
        await a.ws.close()
        deadline = time.time() + 10
        while time.time() < deadline:
            status, out, _ = api(s, "GET", "/api/servers", ui)
            if {x["server_id"]: x for x in out["servers"]}["build-1"]["status"] == "offline":
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("server never went offline")
        audit = [json.loads(l) for l in open(tmp_path / "audit.jsonl")]
        kinds = [(a["kind"], a.get("server_id")) for a in audit]
        assert ("register", "build-1") in kinds and ("agent_disconnected", "build-1") in kinds

    asyncio.run(go())


def test_a_session_on_a_remote_agent(start_server, tmp_path):
    s, ui, agent_tok, _ = setup(start_server, tmp_path)

    async def go():
        a = await FakeAgent.registered(s, agent_tok)
        sid, start = await started(s, ui, a, env={"CC_X": "1"}, cols=100, rows=30)
        assert start["data"] == {"cwd": "/w/p", "cmd": ["claude"], "env": {"CC_X": "1"}, "cols": 100, "rows": 30}
        async with client(s, ui) as ws:
            c = Client(ws)
            await c.send(type="attach", data={"session_id": sid, "since_seq": 0})
            assert b"hello" in await c.output_until(sid, b"hello")
            await a.out(sid, 2, "world\r\n")
            f = await c.until(lambda f: f.get("type") == "term_out" and f.get("seq") == 2)
            assert unb64(f) == b"world\r\n" and f["server_id"] == "build-1"
            await c.send(type="term_in", session_id=sid, data_b64=b64("ls\r"))
            f = await a.expect("pty_in")
            assert f["session_id"] == sid and f["data_b64"] == b64("ls\r")
            await c.send(type="resize", session_id=sid, data={"cols": 120, "rows": 40})
            assert (await a.expect("resize"))["data"] == {"cols": 120, "rows": 40}
            await c.send(type="action", session_id=sid, data={"kind": "stop"})
            stop = await a.expect("stop_session")
            assert stop["data"] == {"grace_ms": 4000, "kill_after_ms": 9000, "signal": "SIGTERM"}
            await a.out(sid, 3, "bye\r\n")
            await a.send("pty_exit", session_id=sid, data={"exit_code": 0, "reason": "exited", "last_seq": 3})
            f = await c.until(lambda f: f.get("type") == "session_update" and f["data"]["status"] == "exited")
            assert f["data"]["exit_code"] == 0 and f["data"]["exit_reason"] == "exited"
            assert [x["seq"] for x in c.frames if x.get("type") == "term_out"][-1] == 3
        assert (await a.expect("release"))["session_id"] == sid

    asyncio.run(go())


def test_gaps_are_told_live_and_on_replay(start_server, tmp_path):
    s, ui, agent_tok, _ = setup(start_server, tmp_path)

    async def go():
        a = await FakeAgent.registered(s, agent_tok)
        sid, _ = await started(s, ui, a)
        async with client(s, ui) as ws:
            c = Client(ws)
            await c.send(type="attach", data={"session_id": sid, "since_seq": 1})
            await a.out(sid, 2, "two")
            await a.out(sid, 5, "five")
            await a.out(sid, 5, "five again")  # a repeat is dropped
            await a.out(sid, 6, "six")
            await c.until(lambda f: f.get("type") == "term_out" and f.get("seq") == 6)
            live = [(f["type"], f.get("seq")) for f in c.frames if f["type"] in ("term_out", "gap")]
            assert live == [("term_out", 2), ("gap", 5), ("term_out", 5), ("term_out", 6)]
            g = next(f for f in c.frames if f["type"] == "gap")
            assert g["data"] == {"from_seq": 3, "to_seq": 4} and g["session_id"] == sid
        async with client(s, ui) as ws:
            c = Client(ws)
            await c.send(type="attach", data={"session_id": sid, "since_seq": 1})
            await c.until(lambda f: f.get("type") == "term_out" and f.get("seq") == 6)
            again = [(f["type"], f.get("seq")) for f in c.frames if f["type"] in ("term_out", "gap")]
            assert again == live
        # An exit that says output is missing is a gap too.
        await a.send("pty_exit", session_id=sid, data={"exit_code": 0, "reason": "exited", "last_seq": 8})
        wait_status(s, ui, sid, {"exited"})
        assert metric(s, "ccbridge_cc_control_output_gaps_total") == 2

    asyncio.run(go())


def test_another_tenants_agent_cannot_touch_a_session(start_server, tmp_path):
    s, ui, agent_tok, _ = setup(start_server, tmp_path)
    intruder_tok = make_token(s, "agent")["token"]  # a new tenant's agent

    async def go():
        a = await FakeAgent.registered(s, agent_tok)
        sid, _ = await started(s, ui, a)
        # Same server id, other tenant: its own server, not this one.
        x = await FakeAgent.connect(s, intruder_tok, "build-1", sessions=[])
        await x.expect("register_ok")
        await x.out(sid, 2, "injected")
        await x.send("pty_exit", session_id=sid, data={"exit_code": 9, "reason": "exited"})
        await x.send("error", session_id=sid, data={"message": "boom"})
        # And a same-tenant agent with another server id cannot either.
        y = await FakeAgent.connect(s, agent_tok, "build-2", sessions=[])
        await y.expect("register_ok")
        await y.out(sid, 3, "injected")
        await y.send("pty_exit", session_id=sid, data={"exit_code": 9, "reason": "exited"})
        async with client(s, ui) as ws:
            c = Client(ws)
            await c.send(type="attach", data={"session_id": sid, "since_seq": 0})
            got = await c.quiet(0.5)
            assert b"injected" not in b"".join(unb64(f) for f in got if f["type"] == "term_out")
        sess = wait_status(s, ui, sid, {"running"})
        assert sess["status"] == "running"
        assert metric(s, "ccbridge_cc_control_agent_frames_rejected_total") >= 5

    asyncio.run(go())


def test_reconnect_replays_what_was_missed_and_reconciles(start_server, tmp_path):
    s, ui, agent_tok, _ = setup(start_server, tmp_path)

    async def go():
        a = await FakeAgent.registered(s, agent_tok)
        keep, _ = await started(s, ui, a)
        ended, _ = await started(s, ui, a)
        forgotten, _ = await started(s, ui, a)
        deleted, _ = await started(s, ui, a)
        assert api(s, "DELETE", f"/api/sessions/{deleted}", ui)[0] == 200
        await a.expect("stop_session")
        async with client(s, ui) as ws:
            c = Client(ws)
            await c.send(type="attach", data={"session_id": keep, "since_seq": 1})
            await a.ws.close()
            wait_status(s, ui, keep, {"running"})  # still running: within the grace
            # Back: `keep` went on to seq 4, `ended` ended at seq 2 while away, `forgotten` is
            # not listed (the agent lost it), `stray` is unknown here, `deleted` was deleted here.
            b = await FakeAgent.connect(s, agent_tok, "build-1", sessions=[
                {"session_id": keep, "last_seq": 4},
                {"session_id": ended, "last_seq": 2, "exit": {"exit_code": 1, "reason": "exited"}},
                {"session_id": "stray", "last_seq": 7},
                {"session_id": deleted, "last_seq": 1}])
            await b.expect("register_ok")
            asks = await b.quiet(0.5)
            got = {(f["type"], f["session_id"]) for f in asks}
            assert got == {("replay", keep), ("replay", ended), ("stop_session", "stray"), ("stop_session", deleted)}
            assert {f["session_id"]: f.get("seq", 0) for f in asks if f["type"] == "replay"} == {keep: 1, ended: 1}
            await b.out(keep, 2, "two")
            await b.out(keep, 3, "three")
            await b.out(keep, 4, "four")
            await b.out(ended, 2, "last words")
            await b.send("pty_exit", session_id=ended, data={"exit_code": 1, "reason": "exited", "last_seq": 2})
            await c.until(lambda f: f.get("type") == "term_out" and f.get("seq") == 4)
            seqs = [f["seq"] for f in c.frames if f["type"] == "term_out"]
            assert seqs == [2, 3, 4]  # once each, in order
            assert (await b.expect("release"))["session_id"] == ended
        assert wait_status(s, ui, ended, {"exited"})["exit_code"] == 1
        lost = wait_status(s, ui, forgotten, {"exited"})
        assert lost["exit_reason"] == "lost_by_agent"
        assert wait_status(s, ui, keep, {"running"})

    asyncio.run(go())


def test_orphaned_after_the_grace_then_stopped_and_back(start_server, tmp_path):
    s, ui, agent_tok, _ = setup(start_server, tmp_path, "--orphan-after-sec", "1")

    async def go():
        a = await FakeAgent.registered(s, agent_tok)
        stop_me, _ = await started(s, ui, a)
        come_back, _ = await started(s, ui, a)
        await a.ws.close()
        wait_status(s, ui, stop_me, {"orphaned"}, timeout=10)
        wait_status(s, ui, come_back, {"orphaned"}, timeout=10)
        assert metric(s, 'ccbridge_cc_control_sessions{state="orphaned"}') == 2
        # Orphaned sessions can be stopped (ended here, stopped there when the agent returns).
        assert api(s, "POST", f"/api/sessions/{stop_me}/stop", ui)[0] == 200
        gone = wait_status(s, ui, stop_me, {"exited"})
        assert gone["exit_reason"] == "stopped while its agent was away"
        b = await FakeAgent.connect(s, agent_tok, "build-1", sessions=[
            {"session_id": stop_me, "last_seq": 1}, {"session_id": come_back, "last_seq": 1}])
        await b.expect("register_ok")
        asks = {(f["type"], f["session_id"]) for f in await b.quiet(0.5)}
        assert asks == {("stop_session", stop_me), ("replay", come_back)}
        wait_status(s, ui, come_back, {"running"})

    asyncio.run(go())


def test_an_original_agent_without_replay(start_server, tmp_path):
    """The original cc-agent lists nothing when it registers: its sessions are taken as running
    and probed with an empty pty_in, which it answers `session not found` for a session it lost;
    what was stopped while it was away is stopped when it is back."""
    s, ui, agent_tok, _ = setup(start_server, tmp_path, "--orphan-after-sec", "1")

    async def go():
        a = await FakeAgent.connect(s, agent_tok, "build-1")
        await a.expect("register_ok")
        kept, _ = await started(s, ui, a)
        lost, _ = await started(s, ui, a)
        stopped, _ = await started(s, ui, a)
        await a.ws.close()
        for sid in (kept, lost, stopped):
            wait_status(s, ui, sid, {"orphaned"}, timeout=10)
        assert api(s, "POST", f"/api/sessions/{stopped}/stop", ui)[0] == 200
        b = await FakeAgent.connect(s, agent_tok, "build-1")
        await b.expect("register_ok")
        asks = await b.quiet(0.5)
        assert {(f["type"], f["session_id"]) for f in asks} == {("stop_session", stopped), ("pty_in", kept), ("pty_in", lost)}
        assert all("data_b64" not in f for f in asks if f["type"] == "pty_in")  # zero bytes
        assert not [f for f in asks if f["type"] in ("replay", "release", "hold")]  # no additions
        wait_status(s, ui, kept, {"running"})
        await b.send("error", session_id=lost, data={"message": "session not found"})
        assert wait_status(s, ui, lost, {"exited"})["exit_reason"] == "lost_by_agent"
        await b.out(kept, 5, "still here")
        await b.send("pty_exit", session_id=kept, data={"exit_code": 0, "reason": "exited"})
        wait_status(s, ui, kept, {"exited"})
        assert [f["type"] for f in await b.quiet(0.3)] == []  # no release to an original agent

    asyncio.run(go())


def test_duplicate_and_stale_registrations(start_server, tmp_path):
    s, ui, agent_tok, _ = setup(start_server, tmp_path)

    async def go():
        a = await FakeAgent.registered(s, agent_tok)
        # A second agent with the same id while the first answers pings: refused, as the original.
        b = await FakeAgent.connect(s, agent_tok, "build-1", sessions=[])
        with pytest.raises(websockets.ConnectionClosed) as e:
            await b.next(10)
        assert e.value.rcvd.code == 1008 and "duplicate server_id" in e.value.rcvd.reason
        # The first stops reading (a half-open link): the next registration takes its place.
        a.ws.transport.pause_reading()
        c = await FakeAgent.connect(s, agent_tok, "build-1", sessions=[])
        assert (await c.expect("register_ok", timeout=10))["server_id"] == "build-1"
        sid, _ = await started(s, ui, c)
        assert metric(s, "ccbridge_cc_control_agents_replaced_total") == 1
        assert metric(s, "ccbridge_cc_control_agents_refused_total") >= 1
        a.ws.transport.abort()

    asyncio.run(go())


def test_an_agent_that_goes_silent_is_dropped(start_server, tmp_path):
    s, ui, agent_tok, _ = setup(start_server, tmp_path, "--agent-ping-sec", "1", "--agent-idle-sec", "2")

    async def go():
        a = await FakeAgent.registered(s, agent_tok)
        a.ws.transport.pause_reading()  # no pongs, no frames
        deadline = time.time() + 15
        while time.time() < deadline:
            status, out, _ = api(s, "GET", "/api/servers", ui)
            if {x["server_id"]: x for x in out["servers"]}["build-1"]["status"] == "offline":
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("a silent agent stayed online")
        a.ws.transport.abort()

    asyncio.run(go())


def test_remote_sessions_survive_a_control_plane_restart(start_server, tmp_path):
    s, ui, agent_tok, _ = setup(start_server, tmp_path)

    async def go():
        a = await FakeAgent.registered(s, agent_tok)
        sid, _ = await started(s, ui, a)
        await a.out(sid, 2, "two")
        # The state store has seq 2 (flushed on a timer) when the control plane is killed.
        await asyncio.to_thread(wait_until, lambda: saved_state(tmp_path).get(sid, (0, 0))[1] == 2, "seq 2 saved")
        s.proc.kill()
        s.proc.wait()
        s.log.close()
        s.stopped = 0  # killed on purpose: the fixture's clean-exit check does not apply
        await a.ws.close()
        return sid

    sid = asyncio.run(go())
    s2 = start_cc(start_server, tmp_path)

    async def back():
        wait_status(s2, ui, sid, {"running"})  # not turned into an error: its agent may return
        b = await FakeAgent.connect(s2, agent_tok, "build-1", sessions=[{"session_id": sid, "last_seq": 3}])
        await b.expect("register_ok")
        rp = await b.expect("replay")
        assert rp["session_id"] == sid and rp["seq"] == 2
        # A client that had seen seq 3 before the restart comes back before the agent resends it.
        async with client(s2, ui) as ws:
            ahead = Client(ws)
            await ahead.send(type="attach", data={"session_id": sid, "since_seq": 3})
            await ahead.until(lambda f: f.get("type") == "attach_ok")
            await b.out(sid, 3, "three")
            await b.out(sid, 4, "four")
            await ahead.until(lambda f: f.get("type") == "term_out" and f.get("seq") == 4)
            assert [f["seq"] for f in ahead.frames if f["type"] == "term_out"] == [4]
        async with client(s2, ui) as ws:
            c = Client(ws)
            await c.send(type="attach", data={"session_id": sid, "since_seq": 0})
            out = await c.output_until(sid, b"four")
            assert out.count(b"two") == 1 and out.count(b"three") == 1
        # Since a seq inside the saved tail: the exact chunks after it (the tail kept its chunks).
        async with client(s2, ui) as ws:
            c = Client(ws)
            await c.send(type="attach", data={"session_id": sid, "since_seq": 1})
            await c.until(lambda f: f.get("type") == "term_out" and f.get("seq") == 4)
            got = [(f["type"], f.get("seq"), (f.get("data") or {}).get("snapshot")) for f in c.frames if f["type"] in ("term_out", "gap")]
            assert got == [("term_out", 2, None), ("term_out", 3, None), ("term_out", 4, None)]

    asyncio.run(back())


def test_an_agent_is_not_held_to_the_clients_message_rate(start_server, tmp_path):
    # Clients get 2 messages a second here; an agent streaming output must not (400 frames would
    # take over three minutes).
    s, ui, agent_tok, _ = setup(start_server, tmp_path, "--max-messages-per-second", "2")

    async def go():
        a = await FakeAgent.registered(s, agent_tok)
        sid, _ = await started(s, ui, a)
        async with client(s, ui) as ws:
            c = Client(ws)
            await c.send(type="attach", data={"session_id": sid, "since_seq": 1})
            for seq in range(2, 402):
                await a.out(sid, seq, f"line {seq}\r\n")
            await c.until(lambda f: f.get("type") == "term_out" and f.get("seq") == 401, timeout=20)
            assert [f["seq"] for f in c.frames if f["type"] == "term_out"] == list(range(2, 402))

    asyncio.run(go())


def test_permission_asks_of_a_remote_agent(start_server, tmp_path):
    s, ui, agent_tok, _ = setup(start_server, tmp_path)

    async def go():
        a = await FakeAgent.registered(s, agent_tok)
        sid, _ = await started(s, ui, a)
        async with client(s, ui) as ws:
            c = Client(ws)
            ask = {"ask_id": "7", "tool_name": "Bash", "tool_input": {"command": "touch f"}}
            await a.send("permission_ask", session_id=sid, data=ask)
            ev = await c.until(lambda f: f.get("type") == "event")
            assert ev["data"]["source"] == "hook" and ev["data"]["tool_name"] == "Bash"
            assert ev["data"]["tool_input"] == {"command": "touch f"}
            # Asked again (as after a reconnect): still one event.
            await a.send("permission_ask", session_id=sid, data=ask)
            assert [f for f in await c.quiet(0.5) if f.get("type") == "event"] == []
            assert len(api(s, "GET", f"/api/sessions/{sid}/events", ui)[1]["events"]) == 1
            await c.send(type="action", session_id=sid, data={"kind": "approve"})
            answer = await a.expect("permission_answer")
            assert answer["session_id"] == sid and answer["data"] == {"ask_id": "7", "allow": True}
            await c.until(lambda f: f.get("type") == "session_update" and f["data"]["awaiting_approval"] is False)
            # Nothing is asked a second time once it is answered.
            assert [f for f in await c.quiet(0.5) if f.get("type") == "event"] == []
            assert len(api(s, "GET", f"/api/sessions/{sid}/events", ui)[1]["events"]) == 1

    asyncio.run(go())


def test_servers_show_their_sessions_and_offline_ones_can_be_forgotten(start_server, tmp_path):
    s, ui, agent_tok, tenant = setup(start_server, tmp_path)

    async def go():
        a = await FakeAgent.connect(s, agent_tok, 'we"ird', sessions=[])
        await a.expect("register_ok")
        await started(s, ui, a)
        await started(s, ui, a)
        srv = {x["server_id"]: x for x in api(s, "GET", "/api/servers", ui)[1]["servers"]}
        assert srv['we"ird']["active_sessions"] == 2 and srv["srv-local"]["active_sessions"] == 0
        line = f'ccbridge_cc_control_agent_sessions{{tenant_id="{tenant}",server_id="we\\"ird",status="online"}} 2'
        assert line in s.http("GET", "/metrics", headers=bearer(ADMIN))[1].splitlines()
        # Tenant and server ids are for the admin: not on an open /metrics, nor for a ui token.
        for headers in (None, bearer(ui)):
            text = s.http("GET", "/metrics", headers=headers)[1]
            assert "ccbridge_cc_control_agents{" in text and "ccbridge_cc_control_agent_sessions{" not in text
        assert api(s, "DELETE", "/api/servers/we%22ird", ui)[:2] == (409, "server online\n")
        await a.ws.close()
        deadline = time.time() + 10
        while api(s, "DELETE", "/api/servers/we%22ird", ui)[0] != 200:
            assert time.time() < deadline, "never forgotten"
            await asyncio.sleep(0.05)
        assert 'we"ird' not in [x["server_id"] for x in api(s, "GET", "/api/servers", ui)[1]["servers"]]
        assert api(s, "DELETE", "/api/servers/we%22ird", ui)[:2] == (404, "server not found\n")
        assert api(s, "DELETE", "/api/servers/srv-local", ui)[:2] == (404, "server not found\n")

    asyncio.run(go())
