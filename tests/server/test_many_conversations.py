"""500 sdk-ws conversations opened at once: every one gets its answer, no process is left behind,
and the server thread keeps answering /health meanwhile (it never waits on a session: opening,
turns, interrupts and closing are asynchronous). A second process polls /health, so the client's
own event loop, busy with 500 sockets, does not stand in the way.

On two cores, 500 CLIs starting and a client driving 500 sockets leave the kernel many runnable
threads: the clients and the CLIs run at a lower priority (nice 10) than the server and the
poller, as an operator would run them.

No time bound is asserted: how fast /health answers under this load is a latency figure, and it
belongs to the gateway benchmark (tests/bench/gateway_bench.py), not to a test."""
import asyncio
import json
import os
import subprocess
import sys
import textwrap

from conftest import FAKE, recv_json, run, until, ws_connect

N = 500
POLLER = textwrap.dedent("""
    import socket, sys, time
    port, stop_file = int(sys.argv[1]), sys.argv[2]
    import os
    count = 0
    while not os.path.exists(stop_file):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET /health HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        assert data.startswith(b"HTTP/1.1 200"), data[:100]
        count += 1
        time.sleep(0.005)
    print(count)
""")


def test_500_conversations_at_once_while_health_answers(start_server, tmp_path):
    niced_cli = tmp_path / "niced-cli"
    niced_cli.write_text(f'#!/bin/sh\nexec nice -n 10 "{FAKE}" "$@"\n')
    niced_cli.chmod(0o755)
    s = start_server(script="serve_turns", cli=str(niced_cli),
                     args=["--max-sessions", str(N + 10), "--max-connections", str(2 * N)])
    stop_file = tmp_path / "stop"
    poller = subprocess.Popen([sys.executable, "-c", POLLER, str(s.port), str(stop_file)], stdout=subprocess.PIPE, text=True)
    os.nice(10)  # this test's own process, the client (pytest runs one file per process here)

    async def conversation(i):
        async with ws_connect(s.ws_url("/ws"), max_queue=None) as ws:
            assert (await recv_json(ws, 120))["type"] == "connection_established"
            await ws.send(json.dumps({"type": "query", "prompt": f"hello {i}"}))
            frames = await until(ws, "query_end", 180)
            assert [f["type"] for f in frames if f["type"] == "error"] == [], frames
            assert "result_message" in [f["type"] for f in frames]

    async def all_at_once():
        await asyncio.gather(*(conversation(i) for i in range(N)))

    try:
        run(all_at_once(), timeout=300)
    finally:
        stop_file.write_text("")
        out, _ = poller.communicate(timeout=30)
    assert poller.returncode == 0  # every /health answered 200 (within the poller's 10 s socket timeout)
    assert int(out) > 0
    assert s.wait_no_processes(30), f"processes left behind: {s.processes()}"
