#!/usr/bin/env python3
"""Gateway benchmark (tests/bench/gateway.sh): ccbridge's Python mirror of seed 003,
``EnhancedClaudeWebSocketServer``, served one of its two ways:

    py_ccbridge_server.py --cli <fake_cli> --root DIR            all-native: the C++ engine's sdk-ws
                                                                 listener, no Python per frame
    py_ccbridge_server.py --cli <fake_cli> --root DIR --app      server.app: the FastAPI app under uvicorn
                                                                 (relaying to the engine's loopback listener)

Prints "PORT <n>" once it listens and serves until SIGTERM or SIGINT, then stops gracefully: what
``server.run()`` does, with the port announced. The settings are those the benchmark gives
``ccbridge serve``: 1,000 sessions, DIR as the allowed root, the CLI's environment allow-listing
CCB_* (the fake CLI's script), warnings only. With --app the seed's "Programmatic Configuration"
middleware is added (it acts on HTTP requests only; the WebSockets pass through it), which is what
makes the server serve its FastAPI app; uvicorn runs with its defaults, which pick uvloop and
httptools when they are installed, as for the FastAPI peer (peers/py_sdkws_server.py).

Thread safety: a script; the server runs on its own threads, the main thread waits for a signal.
"""
import argparse
import signal

from ccbridge.websocket_server import EnhancedClaudeWebSocketServer


def make_server(cli, root, app):
    server = EnhancedClaudeWebSocketServer(max_sessions=1000, cli_path=cli, allowed_roots=[root],
                                           options={"pass_env": ["CCB_*"]})
    if app:
        @server.app.middleware("http")
        async def add_custom_header(request, call_next):  # the seed's example
            response = await call_next(request)
            response.headers["X-Custom-Header"] = "value"
            return response
    return server


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--app", action="store_true", help="serve server.app (FastAPI + uvicorn)")
    a = ap.parse_args()
    server = make_server(a.cli, a.root, a.app)
    stop = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)  # before start(): the server's threads inherit the mask
    server.start(host="127.0.0.1", port=0, log_level="warning")
    try:
        print(f"PORT {server.port}", flush=True)
        signal.sigwait(stop)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
