"""Profile cc-control (seed 004): REST and /ws/client as the seed and CC-CONTROL.md describe them,
with the original's gaps fixed, against a fake terminal program in a real PTY. The role and tenant
matrices (every route and frame, one test per cell) are in test_cc_control_matrix.py."""
import asyncio
import json

from cc_control_common import (ADMIN, Client, api, b64, bearer, client, create_session, make_token, metric, running_session,
                               saved_state, start_cc, unb64, wait_status)
from conftest import read_until_close, recv_json, run, wait_until, ws_connect


def test_health_tokens_and_plain_text_errors(start_server, tmp_path):
    s = start_cc(start_server, tmp_path)
    assert s.http("GET", "/api/healthz") [:2] == (200, {"ok": True})
    status, body, hdrs = s.http("GET", "/api/servers")
    assert status == 401 and body == "unauthorized\n"
    assert hdrs["Content-Type"].startswith("text/plain") and hdrs["X-Content-Type-Options"] == "nosniff"
    ui = make_token(s, "ui", "viewer", name="v")
    assert len(ui["token"]) == 64 and ui["type"] == "ui" and ui["role"] == "viewer" and ui["tenant_id"]
    status, body, _ = api(s, "GET", "/api/servers", ui["token"])
    assert status == 200
    [srv] = body["servers"]
    assert srv["server_id"] == "srv-local" and srv["status"] == "online"
    assert api(s, "GET", "/admin/verify", ADMIN)[1] == {"ok": True, "token_id": api(s, "GET", "/admin/verify", ADMIN)[1]["token_id"],
                                                          "type": "admin", "tenant_id": ""}
    # The token list never shows a hash or a plaintext.
    toks = api(s, "GET", "/admin/tokens", ADMIN)[1]["tokens"]
    assert any(t["token_id"] == ui["token_id"] for t in toks)
    assert all("token" not in t and "token_hash" not in t for t in toks)
    assert api(s, "POST", "/admin/tokens", ADMIN, {"type": "admin"})[:2] == (400, "invalid token type\n")
    assert api(s, "POST", "/admin/tokens", ADMIN, {"type": "ui", "role": "king"})[:2] == (400, "invalid role\n")
    assert s.http("POST", "/admin/tokens", raw=b"{nope", headers=bearer(ADMIN))[:2] == (400, "bad request\n")


def test_session_lifecycle_output_input_and_stop(start_server, tmp_path):
    s = start_cc(start_server, tmp_path)
    op = make_token(s, "ui", "operator")["token"]
    sess = create_session(s, op, s.root, cols=100, rows=30, env={"CC_PROFILE": "e2e", "SECRET": "x"})
    sid = sess["session_id"]
    assert sess["status"] == "starting" and sess["env_keys"] == ["CC_PROFILE", "SECRET"]
    assert sess["created_by"].startswith("ui:") and sess["awaiting_approval"] is False
    wait_status(s, op, sid, {"running"})

    async def go():
        async with client(s, op) as ws:
            c = Client(ws)
            assert (await c.next())["type"] == "debug_probe"
            await c.send(type="attach", data={"session_id": sid, "since_seq": 0})
            ok = await c.until(lambda f: f["type"] == "attach_ok")
            assert ok["data"]["session_id"] == sid and ok["data"]["latest_seq"] >= 1
            snap = await c.until(lambda f: f["type"] == "term_out")
            assert b"fake-claude ready" in unb64(snap) and snap["seq"] == ok["data"]["latest_seq"]
            await c.send(type="term_in", session_id=sid, data_b64=b64("hello\r"))
            assert b"got:hello" in await c.output_until(sid, b"got:hello")
            await c.send(type="term_in", data_b64=b64("env\r"))  # the attached session by default
            env = await c.output_until(sid, b"TERM=")
            assert b"CC_PROFILE=e2e" in env and b"\nSECRET=" not in env and b"COLUMNS=100" in env
            await c.send(type="action", session_id=sid, data={"kind": "stop"})
            upd = await c.until(lambda f: f["type"] == "session_update" and f["data"]["status"] == "exited", 20)
            assert set(upd["data"]) == {"session_id", "status", "exit_code", "exit_reason", "resume_id",
                                        "awaiting_approval", "pending_event_id"}

    run(go())
    done = wait_status(s, op, sid, {"exited"})
    assert done["exit_code"] == -1 and done["exit_reason"]
    assert api(s, "GET", f"/api/sessions/{sid}/events", op)[:2] == (200, {"events": []})
    # Stopping a finished session changes nothing (the original made it "stopping", then "error").
    assert api(s, "POST", f"/api/sessions/{sid}/stop", op)[:2] == (200, {"ok": True})
    assert wait_status(s, op, sid, {"exited"})["status"] == "exited"


def test_the_exit_code_and_reason_of_a_program_that_exits(start_server, tmp_path):
    s, op, sid = running_session(start_server, tmp_path)

    async def go():
        async with client(s, op) as ws:
            c = Client(ws)
            await c.send(type="term_in", session_id=sid, data_b64=b64("quit\r"))
            await c.until(lambda f: f["type"] == "session_update" and f["data"]["status"] == "exited")

    run(go())
    done = wait_status(s, op, sid, {"exited"})
    assert done["exit_code"] == 3 and done["exit_reason"] == "exited"


def test_validation_errors_are_400_and_unknowns_404(start_server, tmp_path):
    s = start_cc(start_server, tmp_path)
    op = make_token(s, "ui", "owner")["token"]
    assert api(s, "POST", "/api/sessions", op, {"server_id": "srv-local"})[:2] == (400, "server_id and cwd are required\n")
    assert api(s, "POST", "/api/sessions", op, {"server_id": 5, "cwd": "/"})[:2] == (400, "bad request\n")
    assert api(s, "POST", "/api/sessions", op, {"server_id": "srv-local", "cwd": "/", "resume_id": "a b"})[0] == 400
    assert api(s, "POST", "/api/sessions", op, {"server_id": "nope", "cwd": "/"})[:2] == (503, "server offline\n")
    assert api(s, "GET", "/api/sessions/nope/events", op)[:2] == (404, "session not found\n")
    assert api(s, "POST", "/api/sessions/nope/stop", op)[:2] == (404, "session not found\n")
    assert api(s, "DELETE", "/api/sessions/nope", op)[:2] == (404, "session not found\n")
    assert api(s, "GET", "/api/sessions/x/nope", op)[:2] == (404, "not found\n")
    assert api(s, "PUT", "/api/sessions", op)[:2] == (405, "method not allowed\n")
    assert api(s, "GET", "/api/sessions/", op)[:2] == (400, "bad path\n")
    # A cwd outside the allowed roots: created, then refused by the agent, as in the original.
    sid = create_session(s, op, "/")["session_id"]
    bad = wait_status(s, op, sid, {"error"})
    assert bad["exit_reason"].startswith("reject_cwd:")


def test_replay_since_seq_exact_then_snapshot_beyond_the_ring(start_server, tmp_path):
    s, op, sid = running_session(start_server, tmp_path, "--ring-buffer-bytes", "65536")

    async def attach(since):
        async with client(s, op) as ws:
            c = Client(ws)
            await c.send(type="attach", data={"session_id": sid, "since_seq": since})
            ok = await c.until(lambda f: f["type"] == "attach_ok")
            return ok["data"]["latest_seq"], [f for f in await c.quiet(0.5) if f["type"] == "term_out"]

    async def go():
        async with client(s, op) as ws:
            c = Client(ws)
            await c.send(type="attach", data={"session_id": sid})
            await c.send(type="term_in", session_id=sid, data_b64=b64("flood 200\r"))
            live = await c.output_until(sid, b"flood done", 20)
        latest, frames = await attach(0)
        assert len(frames) == 1 and frames[0]["seq"] == latest  # the whole ring, as the original
        whole = unb64(frames[0])
        assert whole.endswith(live[-1000:]) and b"fake-claude ready" in whole
        _, frames = await attach(latest)
        assert frames == []  # nothing newer
        _, frames = await attach(latest - 3)
        assert [f["seq"] for f in frames] == [latest - 2, latest - 1, latest]
        assert b"".join(unb64(f) for f in frames) == whole[-sum(len(unb64(f)) for f in frames):]
        assert all("data" not in f for f in frames)
        # Push the start out of the ring: a since_seq it no longer covers gets a flagged snapshot.
        async with client(s, op) as ws:
            c = Client(ws)
            await c.send(type="attach", data={"session_id": sid})
            await c.send(type="term_in", session_id=sid, data_b64=b64("flood 2000\r"))
            # Up to its last output (the "flood done" after line 2000; the ring replayed at attach
            # holds the first flood's): anything later would reach the next attach as a live frame.
            out = await c.output_until(sid, b"line 002000", 30)
            while b"flood done" not in out[out.index(b"line 002000"):]:
                out += await c.output_until(sid, b"flood done", 30)
        latest, frames = await attach(1)
        assert len(frames) == 1 and frames[0]["data"]["snapshot"] is True and frames[0]["data"]["first_seq"] > 2
        assert len(unb64(frames[0])) <= 65536

    run(go(), 120)


def test_revoking_a_token_closes_its_sockets(start_server, tmp_path):
    s = start_cc(start_server, tmp_path)
    ui = make_token(s, "ui", "viewer")

    async def go():
        async with client(s, ui["token"]) as ws:
            assert json.loads(await ws.recv())["type"] == "debug_probe"
            assert api(s, "POST", f"/admin/tokens/{ui['token_id']}/revoke", ADMIN)[:2] == (200, {"ok": True})
            _, code, reason = await read_until_close(ws)
            assert code == 1008 and "revoked" in reason
        assert api(s, "GET", "/api/servers", ui["token"])[0] == 401

    run(go())
    audit = [json.loads(l) for l in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert {"token_create", "token_revoke"} <= {r["kind"] for r in audit}
    assert oct((tmp_path / "audit.jsonl").stat().st_mode & 0o777) == "0o600"


def test_tenant_rotation_revokes_and_closes(start_server, tmp_path):
    s = start_cc(start_server, tmp_path)
    ten = make_token(s, "tenant")
    old = make_token(s, "ui", "owner", tenant_id=ten["tenant_id"])
    status, body, _ = api(s, "POST", "/tenant/tokens", ten["token"], {"role": "operator"})
    assert status == 200 and body["tenant_id"] == ten["tenant_id"] and body["revoked_count"] == 1
    assert body["ui"]["role"] == "operator" and body["agent"]["type"] == "agent" and "role" not in body["agent"]
    assert api(s, "GET", "/api/servers", old["token"])[0] == 401
    assert api(s, "GET", "/api/servers", body["ui"]["token"])[0] == 200
    assert api(s, "POST", "/tenant/tokens", ten["token"], {"tenant_id": "other"})[:2] == (403, "forbidden\n")


def test_state_survives_a_restart(start_server, tmp_path):
    s = start_cc(start_server, tmp_path)
    op = make_token(s, "ui", "owner")["token"]
    done = create_session(s, op, s.root)["session_id"]
    live = create_session(s, op, s.root)["session_id"]
    wait_status(s, op, done, {"running"})
    wait_status(s, op, live, {"running"})

    async def finish():
        async with client(s, op) as ws:
            c = Client(ws)
            await c.send(type="term_in", session_id=done, data_b64=b64("marker-before-restart\r"))
            await c.send(type="term_in", session_id=done, data_b64=b64("quit\r"))
            await c.until(lambda f: f["type"] == "session_update" and f["session_id"] == done
                          and f["data"]["status"] == "exited")

    run(finish())

    def flushed():  # the state store has the exit and the output before it (flushed on a timer)
        saved = saved_state(tmp_path)
        return done in saved and saved[done][0] == "exited" and b"got:marker-before-restart" in saved[done][2]

    wait_until(flushed, "the ended session flushed to the state store")
    assert s.stop() == 0
    s2 = start_cc(start_server, tmp_path)
    assert api(s2, "GET", "/api/servers", op)[0] == 200  # the same token works
    byid = {x["session_id"]: x for x in api(s2, "GET", "/api/sessions", op)[1]["sessions"]}
    assert byid[done]["status"] == "exited" and byid[done]["exit_code"] == 3
    assert byid[live]["status"] == "error" and "restarted" in byid[live]["exit_reason"]

    async def replay():
        async with client(s2, op) as ws:
            c = Client(ws)
            await c.send(type="attach", data={"session_id": done})
            assert b"got:marker-before-restart" in await c.output_until(done, b"got:marker-before-restart")

    run(replay())


def test_rate_limit_answers_429_with_retry_after(start_server, tmp_path):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"cc_control": {"requests_per_minute": 5}}))
    s = start_cc(start_server, tmp_path, "--config", str(cfg))
    ui = make_token(s, "ui", "viewer")["token"]
    statuses = [api(s, "GET", "/api/servers", ui) for _ in range(7)]
    assert [x[0] for x in statuses[:5]] == [200] * 5
    status, body, hdrs = statuses[5]
    assert status == 429 and body == "rate limited\n" and 1 <= int(hdrs["Retry-After"]) <= 60


def test_hostile_frames_get_errors_not_crashes(start_server, tmp_path):
    s, op, sid = running_session(start_server, tmp_path)

    async def go():
        async with client(s, op) as ws:
            c = Client(ws)
            cases = [("not json", "bad_message"), ('{"type":"nope"}', "unknown_type"),
                     ('{"type":"attach","data":{}}', "bad_attach_payload"),
                     ('{"type":"attach","data":{"session_id":"x","since_seq":-1}}', "bad_attach_payload"),
                     ('{"type":"term_in","data_b64":"x"}', "no_attached_session"),
                     (json.dumps({"type": "term_in", "session_id": sid, "data_b64": "!!!"}), "bad_term_in_payload"),
                     (json.dumps({"type": "resize", "session_id": sid, "data": {"cols": 0, "rows": 9}}), "bad_resize_payload"),
                     (json.dumps({"type": "action", "session_id": sid, "data": {"kind": "dance"}}), "invalid action"),
                     (json.dumps({"type": "action", "session_id": sid, "data": {"kind": "approve"}}), "no pending approval")]
            for text, want in cases:
                await ws.send(text)
                err = await c.until(lambda f: f["type"] == "error", 5)
                assert err["data"]["message"] == want, (text, err)
            # Bad base64 did not reach the terminal, and the session still runs (bug 14 of the original).
            await c.send(type="attach", data={"session_id": sid})
            await c.send(type="term_in", session_id=sid, data_b64=b64("still-alive\r"))
            await c.output_until(sid, b"got:still-alive")

    run(go())
    assert wait_status(s, op, sid, {"running"})


def test_a_terminal_that_prints_nothing_is_stopped(start_server, tmp_path):
    silent = tmp_path / "silent"
    silent.write_text("#!/bin/sh\nexec sleep 300\n")
    silent.chmod(0o755)
    s = start_cc(start_server, tmp_path, "--start-timeout-seconds", "1", cli=str(silent))
    op = make_token(s, "ui", "owner")["token"]
    sid = create_session(s, op, s.root)["session_id"]
    done = wait_status(s, op, sid, {"exited", "error"}, 20)
    assert done["status"] == "exited" and done["exit_reason"] == "start_timeout"


def test_metrics_count_sessions_by_state_and_replays(start_server, tmp_path):
    s, op, sid = running_session(start_server, tmp_path)

    async def go():
        async with client(s, op) as ws:
            c = Client(ws)
            await c.send(type="attach", data={"session_id": sid})
            await c.until(lambda f: f["type"] == "attach_ok")

    run(go())
    text = s.http("GET", "/metrics")[1]
    assert 'ccbridge_cc_control_sessions{state="running"} 1' in text
    assert "ccbridge_cc_control_attach_replays_total 1" in text
    assert "ccbridge_cc_control_approvals_raised_total 0" in text


async def flood_unread(s, ws, sid, until):
    """Attached to `sid`, has it print 1.5 M lines and reads nothing until the server's gauge
    `until` is 1: the kernel's and the server's buffers are full (the connection was opened with a
    small max_queue), and the server held the session's output, or left this client behind."""
    c = Client(ws)
    await c.send(type="attach", data={"session_id": sid})
    await c.until(lambda f: f["type"] == "attach_ok")
    await c.send(type="term_in", session_id=sid, data_b64=b64("seq 1500000\r"))
    await asyncio.to_thread(wait_until, lambda: metric(s, until) == 1, until, 60)
    return c


def test_a_client_that_stops_reading_is_resynced_never_fed_a_gap(start_server, tmp_path):
    """Live output to a client that does not read while another keeps up: once its buffer is full
    it is left behind and gets no more live term_out; when it reads again it is resynced (a
    snapshot flagged as such, or the exact chunks), so every term_out it gets either continues the
    previous seq by one or says it is a snapshot. (Alone, it would hold the output instead: the
    next test.)"""
    # A ring far smaller than what is missed, so that the resync is a snapshot whatever the
    # machine's speed (with the default 128 KiB ring a loaded machine sometimes still covered it).
    s, op, sid = running_session(start_server, tmp_path, "--send-buffer-bytes", "65536", "--ring-buffer-bytes", "4096")

    async def keep_up(ws):
        tail = b""
        while b"seq done" not in tail:
            f = await recv_json(ws, 30)
            if f["type"] == "term_out":
                tail = (tail + unb64(f))[-64:]

    async def go():
        async with client(s, op) as fast_ws, ws_connect(s.ws_url(f"/ws/client?token={op}"), max_queue=2) as ws:
            fast = Client(fast_ws)
            await fast.send(type="attach", data={"session_id": sid})
            await fast.until(lambda f: f["type"] == "attach_ok")
            reader = asyncio.ensure_future(keep_up(fast_ws))
            c = await flood_unread(s, ws, sid, "ccbridge_cc_control_subscribers_behind")
            prev, snapshots, tail = None, 0, b""
            while b"seq done" not in tail:
                f = await c.until(lambda f: f["type"] == "term_out", 30)
                if f.get("data", {}).get("snapshot"):
                    snapshots += 1
                else:
                    assert prev is None or f["seq"] == prev + 1, (prev, f["seq"])
                prev = f["seq"]
                tail = (tail + unb64(f))[-64:]
            assert snapshots >= 1
            await reader

    run(go(), 120)
    assert metric(s, "ccbridge_cc_control_resyncs_total") >= 1


def test_reconnecting_mid_stream_with_since_seq_gets_every_byte_once_in_order(start_server, tmp_path):
    s, op, sid = running_session(start_server, tmp_path)

    async def go():
        got, last = b"", 0
        async with client(s, op) as ws:
            c = Client(ws)
            await c.send(type="attach", data={"session_id": sid, "since_seq": 0})
            ok = await c.until(lambda f: f["type"] == "attach_ok")
            # 6000 lines: 84 KB, within the 128 KiB ring, so the missed part is still there.
            await c.send(type="term_in", session_id=sid, data_b64=b64("seq 6000\r"))
            while b"line 0002000" not in got:  # leave in the middle of the stream
                f = await c.until(lambda f: f["type"] == "term_out")
                assert f["seq"] == last + 1 or last == 0, (last, f["seq"])
                got, last = got + unb64(f), f["seq"]
        while b"seq done" not in got:
            async with client(s, op) as ws:
                c = Client(ws)
                await c.send(type="attach", data={"session_id": sid, "since_seq": last})
                await c.until(lambda f: f["type"] == "attach_ok")
                for _ in range(500):  # some frames per connection, then leave again
                    f = await c.until(lambda f: f["type"] == "term_out", 20)
                    assert "data" not in f and f["seq"] == last + 1, (last, f)
                    got, last = got + unb64(f), f["seq"]
                    if b"seq done" in got:
                        break
        lines = [l for l in got.split(b"\r\n") if l.startswith(b"line ")]
        assert lines == [b"line %07d" % i for i in range(1, 6001)]

    run(go(), 120)


def test_a_first_start_without_tokens_makes_one_admin_token_and_no_defaults(start_server, tmp_path):
    s = start_server(args=["--profiles", "cc-control", "--token-db", str(tmp_path / "t.db"),
                           "--audit-path", str(tmp_path / "a.jsonl")])
    file = tmp_path / "t.db.admin-token"
    token = file.read_text().strip()
    assert len(token) == 64 and oct(file.stat().st_mode & 0o777) == "0o600"
    assert token in s.log_text()  # printed once, on stderr
    assert api(s, "GET", "/admin/verify", token)[0] == 200
    for well_known in ("admin-dev-token", "agent-dev-token"):
        assert api(s, "GET", "/api/servers", well_known)[0] == 401
    assert s.stop() == 0
    s2 = start_server(args=["--profiles", "cc-control", "--token-db", str(tmp_path / "t.db"),
                            "--audit-path", str(tmp_path / "a.jsonl"), "--dev"])
    assert token not in s2.log_text()  # not made again
    assert api(s2, "GET", "/admin/verify", token)[0] == 200
    assert api(s2, "GET", "/api/servers", "admin-dev-token")[0] == 200  # only with --dev


def test_screen_approval_first_answer_wins_and_stays_in_its_tenant(start_server, tmp_path):
    s, op, sid = running_session(start_server, tmp_path, "--enable-prompt-detection", "--no-exact-approvals")
    other = make_token(s, "ui", "owner")["token"]

    async def go():
        async with client(s, op) as wa, client(s, other) as wb:
            a, b = Client(wa), Client(wb)
            await a.send(type="attach", data={"session_id": sid})
            await a.send(type="term_in", session_id=sid, data_b64=b64("menu\r"))
            ev = await a.until(lambda f: f["type"] == "event", 15)
            data = ev["data"]
            assert data["kind"] == "approval_needed" and data["source"] == "screen" and not data["resolved"]
            assert "Do you want to proceed?" in data["prompt_excerpt"] and "1. Yes" in data["prompt_excerpt"]
            upd = await a.until(lambda f: f["type"] == "session_update")
            assert upd["data"]["awaiting_approval"] is True and upd["data"]["pending_event_id"] == data["event_id"]
            # A new client of the tenant is told of the pending approval on connect; the other tenant is not.
            async with client(s, op) as wc:
                c = Client(wc)
                assert (await c.next())["type"] == "debug_probe"
                assert (await c.next())["data"]["event_id"] == data["event_id"]
                await a.send(type="action", session_id=sid, data={"kind": "approve"})
                await a.until(lambda f: f["type"] == "session_update" and f["data"]["awaiting_approval"] is False)
                # The second answer, without and with the event's id, is refused.
                await c.send(type="action", session_id=sid, data={"kind": "reject"})
                assert (await c.until(lambda f: f["type"] == "error"))["data"]["message"] == "no pending approval"
                await c.send(type="action", session_id=sid, data={"kind": "reject", "event_id": data["event_id"]})
                assert (await c.until(lambda f: f["type"] == "error"))["data"]["message"] == "approval already resolved"
            # The menu's answer is Enter, typed once the menu has been up a moment: the fake echoes it.
            out = await a.output_until(sid, b"got:", 10)
            assert b"got:\r" in out, out  # an empty line: Enter
            assert not [f for f in b.frames + await b.quiet() if f["type"] in ("event", "session_update")]
            return data["event_id"]

    event_id = run(go())
    [ev] = api(s, "GET", f"/api/sessions/{sid}/events", op)[1]["events"]
    assert ev["event_id"] == event_id and ev["resolved"] is True and ev["decision"] == "approve"
    assert ev["actor"].startswith("ui:")
    kinds = [json.loads(l)["kind"] for l in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert "approval_needed" in kinds and "action_approve" in kinds


def test_a_lone_slow_client_holds_the_output_and_then_gets_all_of_it(start_server, tmp_path):
    """Its only client not reading, a session's output waits (the program blocks on its writes, as
    on a slow line) instead of being dropped: when the client reads again it gets every line,
    in order, with no snapshot."""
    s, op, sid = running_session(start_server, tmp_path)

    async def go():
        async with ws_connect(s.ws_url(f"/ws/client?token={op}"), max_queue=2) as ws:
            c = await flood_unread(s, ws, sid, "ccbridge_cc_control_sessions_held")
            got, prev = bytearray(), None
            while b"seq done" not in got[-64:]:
                f = await c.until(lambda f: f["type"] == "term_out", 30)
                assert "data" not in f, "a snapshot: output was lost to this client"
                assert prev is None or f["seq"] == prev + 1
                prev = f["seq"]
                got += unb64(f)
            lines = [l for l in bytes(got).split(b"\r\n") if l.startswith(b"line ")]
            assert len(lines) == 1500000 and lines[0] == b"line 0000001" and lines[-1] == b"line 1500000"

    run(go(), 120)
