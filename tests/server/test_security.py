"""Security regressions of issue 12 (docs/RELIABILITY.md "Hostile input", `X:` rows): what a
hostile client did to the gateway before each fix, and what it gets now. Each test failed on the
code before its fix."""
import asyncio
import json
import os
import threading
import time

from conftest import alive, metric, read_until_close, recv_json, run, until, wait_detached, wait_until, ws_connect

FIXED_RANDOM = os.environ.get("CCB_FIXED_RANDOM", "")
# What the ids are made of when every random byte is 0xAB (UUID v4: version and variant bits set).
ID_FROM_AB = "abababab-abab-4bab-abab-abababababab"
HANG_AFTER_REPLY = ('wait_user\nemit {"type":"system","subtype":"init","session_id":"x"}\n'
                    'emit {"type":"assistant","message":{"content":[{"type":"text","text":"up"}]}}\n'
                    'ignore_sigterm\nhang')


def preloaded_env():
    env = {"LD_PRELOAD": FIXED_RANDOM}
    # Sanitizer builds: the shim comes before the runtime in the library list, which is fine here.
    env["ASAN_OPTIONS"] = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS", ""), "verify_asan_link_order=0"]))
    return env


async def hello(ws):
    f = await recv_json(ws)
    assert f["type"] == "connection_established", f
    return f["data"]


async def refused(server, path):
    async with ws_connect(server.ws_url(path)) as ws:
        return await read_until_close(ws)


# ---- 3: ids a client can use to reach something come from the OS's CSPRNG ----------------------


def test_run_ids_session_ids_and_resume_tokens_come_from_the_os_csprng(start_server):
    # Failed before: opcode ids came from a thread-local mt19937_64 (seeded once; a client that
    # harvested a few hundred ids predicted the next one), and sdk-ws ids had 32 random bits.
    assert FIXED_RANDOM, "CCB_FIXED_RANDOM (tests/support/fixed_random.c) is not set"
    s = start_server(script="serve_turns", env=preloaded_env())
    status, body, _ = s.http("POST", "/claude/execute", {"project_path": str(s.root), "prompt": "hi"})
    assert status == 200 and body["session_id"] == ID_FROM_AB

    async def go():
        async with ws_connect(s.ws_url("/ws?resumable=1")) as ws:
            return await hello(ws)

    data = run(go())
    assert data["session_id"] == "session_" + ID_FROM_AB
    assert data["resume_token"] == "ab" * 32


def test_ids_are_uuid4_with_122_random_bits(start_server):
    s = start_server(script="serve_turns")
    ids = set()
    for _ in range(20):
        status, body, _ = s.http("POST", "/claude/execute", {"project_path": str(s.root), "prompt": "hi"})
        assert status == 200
        sid = body["session_id"]
        assert len(sid) == 36 and sid[14] == "4" and sid[19] in "89ab", sid
        ids.add(sid)
    assert len(ids) == 20


# ---- 4: --max-sessions holds until the process is reaped -------------------------------------------


def test_max_sessions_counts_a_process_until_it_is_reaped(start_server):
    # Failed before: with --max-sessions 4, 30 clients that sent a query and left at once had up
    # to 30 CLI processes running (the count dropped when the client left, the process ended
    # seconds later).
    s = start_server(script=HANG_AFTER_REPLY, args=["--max-sessions", "4"])
    most, stop = [0], threading.Event()

    def sample():
        while not stop.is_set():
            most[0] = max(most[0], len(s.processes()))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()

    async def hit_and_run():
        async with ws_connect(s.ws_url("/ws")) as ws:
            await hello(ws)
            await ws.send(json.dumps({"type": "query", "prompt": "go"}))

    async def go():
        for _ in range(3):
            await asyncio.gather(*(hit_and_run() for _ in range(10)))

    try:
        run(go(), timeout=120)
        # Sampled until the last process is reaped: none starts for a client that has left.
        ended = s.wait_no_processes(timeout=30)
    finally:
        stop.set()
        sampler.join()
    assert 1 <= most[0] <= 4, f"{most[0]} CLI processes ran at once with --max-sessions 4"
    assert ended


def test_a_slow_teardown_does_not_delay_another_clients_query(start_server):
    # Six conversations whose CLIs ignore stdin's end and SIGTERM take 8 s each to end. Failed
    # before: their teardowns held every worker that opens sessions, and a new client's query
    # waited for them (8 s).
    s = start_server(script=HANG_AFTER_REPLY, args=["--max-sessions", "20", "--exit-wait-ms", "4000", "--term-wait-ms", "4000"])

    async def open_and_leave():
        async with ws_connect(s.ws_url("/ws")) as ws:
            await hello(ws)
            await ws.send(json.dumps({"type": "query", "prompt": "go"}))
            await until(ws, "assistant_message")

    async def go():
        await asyncio.gather(*(open_and_leave() for _ in range(6)))
        # The server has seen the six go: their teardowns are under way.
        await asyncio.to_thread(wait_until, lambda: metric(s, "ccbridge_ws_clients") == 0, "the six clients gone")
        old = s.processes()
        assert len(old) == 6
        async with ws_connect(s.ws_url("/ws")) as ws:
            await hello(ws)
            await ws.send(json.dumps({"type": "query", "prompt": "go"}))
            await until(ws, "assistant_message", timeout=20)
            # Answered while the six CLIs were still being torn down (they are killed 8 s after
            # their clients left); behind their teardowns it came once they were gone.
            assert all(alive(p) for p in old), "the query waited for other conversations' teardowns"

    run(go(), timeout=60)
    assert s.wait_no_processes(timeout=30)


# ---- 5: replies are not replayable; an ended conversation is not held -------------------------------


def test_pongs_are_not_held_for_replay(start_server):
    # Failed before: every pong entered the conversation's replay log (2,000,000 pings held 517 MB)
    # and was replayed to a reconnecting client.
    s = start_server(script="serve_turns")

    async def go():
        async with ws_connect(s.ws_url("/ws?resumable=1")) as ws:
            d = await hello(ws)
            await ws.send(json.dumps({"type": "query", "prompt": "one"}))
            first = await until(ws, "query_end")
            for _ in range(200):
                await ws.send(json.dumps({"type": "ping"}))
                assert await recv_json(ws) == {"type": "pong"}
            ws.transport.abort()
        await asyncio.to_thread(wait_detached, s, d["session_id"])
        async with ws_connect(s.ws_url(f"/ws?session_id={d['session_id']}&since_seq=0&resume_token={d['resume_token']}")) as ws:
            again = await hello(ws)
            assert again["resumed"] is True
            replay = [await recv_json(ws) for _ in range(len(first))]
            await ws.send(json.dumps({"type": "ping"}))
            after = await recv_json(ws)
        return first, replay, after

    first, replay, after = run(go())
    assert replay == first  # the conversation's frames, and no pong among them
    assert after == {"type": "pong"}


def test_an_ended_conversation_is_not_held_after_its_client_left(start_server):
    # Failed before: a sdk-ws conversation's frames stayed in memory for the 300 s finished-run
    # grace after its client left, although nobody can attach to it any more.
    s = start_server(script="serve_turns")

    async def go():
        async with ws_connect(s.ws_url("/ws")) as ws:
            await hello(ws)
            await ws.send(json.dumps({"type": "query", "prompt": "x" * 100000}))
            await until(ws, "query_end")

    run(go())
    wait_until(lambda: metric(s, "ccbridge_runs_held") == 0, "no run held", 10)


def test_errors_do_not_echo_a_megabyte_of_client_text(start_server):
    # Failed before: an unknown `type` of 1 MB came back whole in the error frame (and was held for
    # replay): 70 such messages held 134 MB.
    s = start_server(script="serve_turns")

    async def go():
        async with ws_connect(s.ws_url("/ws")) as ws:
            await hello(ws)
            await ws.send(json.dumps({"type": "t" * 1000000}))
            return await recv_json(ws)

    f = run(go())
    assert f["type"] == "error" and len(f["data"]["error"]) < 200 and "1000000 bytes" in f["data"]["error"]


# ---- 8: resuming a conversation needs the secret given to the client that opened it -----------------


def test_a_resumable_conversation_cannot_be_taken_over_without_its_token(start_server):
    # Failed before: GET /sessions listed the id and /ws?session_id=ID&since_seq=0 handed the
    # victim's history and process to anyone.
    s = start_server(script="serve_turns")

    async def victim():
        async with ws_connect(s.ws_url("/ws?resumable=1")) as ws:
            d = await hello(ws)
            await ws.send(json.dumps({"type": "query", "prompt": "secret plans"}))
            await until(ws, "query_end")
            ws.transport.abort()
        return d

    d = run(victim())
    wait_detached(s, d["session_id"])
    _, sessions, _ = s.http("GET", "/sessions")
    listed = json.dumps(sessions)
    assert d["session_id"] in listed and d["resume_token"] not in listed
    for path in (f"/ws?session_id={d['session_id']}&since_seq=0",
                 f"/ws?session_id={d['session_id']}&since_seq=0&resume_token=" + "0" * 64,
                 f"/ws?session_id={d['session_id']}&since_seq=0&resume_token=" + d["resume_token"][:-1]):
        frames, code, _ = run(refused(s, path))
        assert code == 1008 and len(frames) == 1 and frames[0]["type"] == "error", frames
        assert "secret plans" not in json.dumps(frames)

    async def owner():
        async with ws_connect(s.ws_url(f"/ws?session_id={d['session_id']}&since_seq=0&resume_token={d['resume_token']}")) as ws:
            again = await hello(ws)
            replay = await until(ws, "query_end")
            return again, replay

    again, replay = run(owner())
    assert again["resumed"] is True and "resume_token" not in again
    assert replay[0] == {"type": "query_start", "data": {"prompt": "secret plans"}}


# ---- 9: allowed_tools cannot go around the permission policy ---------------------------------------


def test_clients_may_pre_approve_only_the_tools_the_operator_lists(start_server, tmp_path):
    # Failed before: a client could pre-approve Bash(*), and "Read,Bash" added Bash.
    inv = tmp_path / "inv.json"
    script = f"dump_invocation {inv}\nserve_turns"
    s = start_server(script=script)

    async def ask(tools):
        async with ws_connect(s.ws_url("/ws")) as ws:
            await hello(ws)
            await ws.send(json.dumps({"type": "query", "prompt": "hi", "options": {"allowed_tools": tools}}))
            return await recv_json(ws)

    for tools in (["Bash(*)"], ["Bash"], ["Read,Bash"], ["Read Bash"], ["Read", "Write"], ["Read(a,b)"], ["Read(x"], [""]):
        f = run(ask(tools))
        assert f["type"] == "error" and "allowed_tools" in f["data"]["error"], (tools, f)
    assert not inv.exists()  # no process was started for any of them

    async def whole_turn(options):
        async with ws_connect(s.ws_url("/ws")) as ws:
            await hello(ws)
            await ws.send(json.dumps({"type": "query", "prompt": "hi", "options": options}))
            return [f["type"] for f in await until(ws, "query_end")]

    assert "error" not in run(whole_turn({"allowed_tools": ["Read", "Grep", "Read(/etc/**)"]}))
    assert "--allowedTools=Read,Grep,Read(/etc/**)" in json.loads(inv.read_text())["argv"]

    # The seed's client example asks for ["Write"] with acceptEdits: the mode grants edits inside
    # the working directory already, so it is accepted but not passed on as an allow rule.
    inv.unlink()
    assert "error" not in run(whole_turn({"allowed_tools": ["Write", "Read"], "permission_mode": "acceptEdits"}))
    argv = json.loads(inv.read_text())["argv"]
    assert "--allowedTools=Read" in argv and "--permission-mode=acceptEdits" in argv

    s2 = start_server(script=script, args=["--client-allowed-tools", "Read,Bash(git log:*)"])

    async def ask2(tools, last):
        async with ws_connect(s2.ws_url("/ws")) as ws:
            await hello(ws)
            await ws.send(json.dumps({"type": "query", "prompt": "hi", "options": {"allowed_tools": tools}}))
            return await until(ws, last)

    assert "error" not in [f["type"] for f in run(ask2(["Bash(git log:*)"], "query_end"))]
    argv = json.loads(inv.read_text())["argv"]
    assert "--allowedTools=Bash(git log:*)" in argv
    assert len(run(ask2(["Bash(rm:*)"], "error"))) == 1


# ---- 11: values that reach the CLI have the shape they must have -------------------------------------


def test_resume_session_id_and_model_are_checked_before_they_reach_the_cli(start_server, tmp_path):
    inv = tmp_path / "inv.json"
    s = start_server(script=f"dump_invocation {inv}\nserve_turns")
    for body in ({"session_type": "resume", "session_id": "../../etc/passwd"},
                 {"session_type": "resume", "session_id": "--help"},
                 {"model": "--dangerously-skip-permissions"},
                 {"model": "a b"}):
        status, r, _ = s.http("POST", "/claude/execute", {"project_path": str(s.root), "prompt": "hi", **body})
        assert status == 400, (body, status, r)

    async def ask(options):
        async with ws_connect(s.ws_url("/ws")) as ws:
            await hello(ws)
            await ws.send(json.dumps({"type": "query", "prompt": "hi", "options": options}))
            return await recv_json(ws)

    for options in ({"resume": "../../etc/passwd"}, {"resume": "x"}, {"model": "-x"}, {"model": "m" * 200}):
        f = run(ask(options))
        assert f["type"] == "error", (options, f)
    assert not inv.exists()
    ok = "0b7c8f2e-1d3a-4c5b-9e6f-7a8b9c0d1e2f"
    status, _, _ = s.http("POST", "/claude/execute", {"project_path": str(s.root), "prompt": "hi", "session_type": "resume",
                                                      "session_id": ok, "model": "us.anthropic.claude-sonnet-4-5@2025:0[1m]"})
    assert status == 200


def test_since_seq_beyond_the_last_event_is_refused_and_never_wraps(start_server):
    # Failed before: since_seq=2^64-1 wrapped to 0 inside the server (a replay_gap error naming
    # events "18446744073709551616 to 0", then the whole log).
    s = start_server(script="serve_turns")
    _, r, _ = s.http("POST", "/claude/execute", {"project_path": str(s.root), "prompt": "hi"})
    for since in ("18446744073709551615", "1000"):
        frames, code, _ = run(refused(s, r["websocket_url"] + "?since_seq=" + since))
        assert code == 1008 and len(frames) == 1 and "beyond the last event" in frames[0]["message"], frames

    async def victim():
        async with ws_connect(s.ws_url("/ws?resumable=1")) as ws:
            d = await hello(ws)
            ws.transport.abort()
        return d

    d = run(victim())
    wait_detached(s, d["session_id"])
    frames, code, _ = run(refused(s, f"/ws?session_id={d['session_id']}&since_seq=18446744073709551615&resume_token={d['resume_token']}"))
    assert code == 1008 and "beyond the last frame" in frames[0]["data"]["error"]


# ---- 5: an inbound message rate limit per connection --------------------------------------------------


def test_a_flooding_client_is_slowed_to_the_rate_limit_and_loses_nothing(start_server):
    # 400 pings at once against the default of 100 messages a second per connection. Failed
    # before: all answered at once (no limit; 2,000,000 pings went through in seconds).
    s = start_server(script="serve_turns")

    async def go():
        async with ws_connect(s.ws_url("/ws")) as flood, ws_connect(s.ws_url("/ws")) as other:
            await hello(flood)
            await hello(other)
            t0 = time.monotonic()
            for _ in range(400):
                await flood.send('{"type":"ping"}')
            pongs = []

            async def read_flood():
                while len(pongs) < 400:
                    pongs.append(await recv_json(flood, 15))

            reader = asyncio.ensure_future(read_flood())
            # Meanwhile another connection is served: before the flood's last pong.
            await other.send('{"type":"ping"}')
            assert await recv_json(other) == {"type": "pong"}
            flood_answered = len(pongs)
            await reader
            return time.monotonic() - t0, flood_answered, pongs

    took, flood_answered, pongs = run(go())
    assert pongs == [{"type": "pong"}] * 400  # nothing dropped
    assert took >= 2.5, f"400 messages were handled in {took:.2f} s, over 100 a second"
    assert flood_answered < 400, "the other connection waited behind the flood"


def test_a_path_outside_the_roots_gets_one_answer_whether_it_exists_or_not(start_server, tmp_path):
    # Failed before: outside the roots, an existing directory answered 403 and a missing one 500,
    # so a client could map what exists outside (also through a symlink inside the root).
    s = start_server(script="serve_turns")
    outside = tmp_path / "outside"
    (outside / "there").mkdir(parents=True)
    (s.root / "link-out").symlink_to(outside)

    def status(path):
        code, body, _ = s.http("POST", "/claude/execute", {"project_path": str(path), "prompt": "hi"})
        return code, body["detail"]

    there, missing = status(outside / "there"), status(outside / "missing")
    assert there == missing and there[0] == 403
    assert status(s.root / "link-out" / "there") == status(s.root / "link-out" / "missing") == there
    assert status(f"{s.root}/../outside/missing") == there
    # Inside the roots a missing directory is still the seed's 500.
    assert status(s.root / "missing")[0] == 500

    async def ask(cwd):
        async with ws_connect(s.ws_url("/ws")) as ws:
            await hello(ws)
            await ws.send(json.dumps({"type": "query", "prompt": "hi", "options": {"cwd": cwd}}))
            return (await recv_json(ws))["data"]["error"]

    assert run(ask(str(outside / "there"))) == run(ask(str(outside / "missing")))
