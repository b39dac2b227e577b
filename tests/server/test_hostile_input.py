"""Hostile input at every endpoint of `ccbridge serve`: the classes not already covered by the
profile tests (test_opcode, test_tasks_ui, test_sdk_ws) and the WebSocket conformance cases
(test_ws_conformance). docs/RELIABILITY.md "Hostile input" lists every class per endpoint with the
observed response and the test that checks it.

Raw HTTP and WebSocket bytes come from tests/server/rawws.py (hand-built requests and frames).
Every wait has a deadline; slowloris clients are bounded in bytes and seconds.
"""
import json
import select
import socket
import struct
import time
import urllib.request

import pytest

from conftest import metric, read_until_close, recv_json, run, ws_connect
from rawws import PING, TEXT, RawWs, frame, raw_http

HANG = 'wait_user\nemit {"type":"system","subtype":"init","session_id":"h"}\nhang'


def split_response(out):
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP/1.1 ") else None
    return status, lines[1:], body


def execute_raw(port, body, headers=""):
    req = (f"POST /claude/execute HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(body)}\r\n{headers}\r\n").encode() + body
    return split_response(raw_http(port, req))


# ---- oversize and malformed HTTP ----------------------------------------------------------------------


def test_oversize_body_is_refused_with_413_and_starts_nothing(start_server):
    s = start_server(args=["--max-body-bytes", "4096"])
    body = json.dumps({"project_path": str(s.root), "prompt": "x" * 5000}).encode()
    status, _, _ = execute_raw(s.port, body)
    assert status == 413
    # A Content-Length far beyond the limit is refused from the header, before any body arrives.
    t0 = time.monotonic()
    out = raw_http(s.port, f"POST /claude/execute HTTP/1.1\r\nHost: 127.0.0.1:{s.port}\r\n"
                           "Content-Length: 99999999999999999999\r\n\r\n".encode(), timeout=5)
    assert split_response(out)[0] == 413 and time.monotonic() - t0 < 2
    # Just under the limit is served.
    ok = json.dumps({"project_path": str(s.root), "prompt": "y" * 3900}).encode()
    assert len(ok) <= 4096 and execute_raw(s.port, ok)[0] == 200
    assert metric(s, "ccbridge_runs_started_total") == 1


def test_oversize_headers_and_uri_are_refused_with_431(start_server):
    s = start_server()
    big_header = f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{s.port}\r\nX-Big: {'a' * 20000}\r\n\r\n".encode()
    big_uri = f"GET /health?{'a' * 20000} HTTP/1.1\r\nHost: 127.0.0.1:{s.port}\r\n\r\n".encode()
    big_ws = (f"GET /ws?{'a' * 20000} HTTP/1.1\r\nHost: 127.0.0.1:{s.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
    for req in (big_header, big_uri, big_ws):
        assert split_response(raw_http(s.port, req))[0] == 431
    assert s.http("GET", "/health")[0] == 200


@pytest.mark.parametrize("raw", [
    b"GARBAGE\r\n\r\n",
    b"GET /health HTTP/1.1\r\nHost\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 100,   # a TLS ClientHello
    b"\x00" * 64 + b"\r\n\r\n",
], ids=["not-http", "header-without-colon", "tls-hello", "nul-bytes"])
def test_malformed_http_is_refused_and_the_server_keeps_serving(start_server, raw):
    s = start_server()
    status, _, _ = split_response(raw_http(s.port, raw, timeout=8))
    assert status in (None, 400), status  # 400, or the connection closed without an answer
    assert s.http("GET", "/health")[0] == 200


def test_chunked_body_is_not_taken_for_json(start_server):
    s = start_server()
    req = (f"POST /claude/execute HTTP/1.1\r\nHost: 127.0.0.1:{s.port}\r\nTransfer-Encoding: chunked\r\n\r\n"
           "5\r\nabcde\r\n0\r\n\r\n").encode()
    status, _, body = split_response(raw_http(s.port, req))
    assert status == 400 and "error" in json.loads(body)
    assert not s.processes()


def execute_framed(port, head_lines, body):
    req = (f"POST /claude/execute HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
           f"{head_lines}\r\n").encode() + body
    return split_response(raw_http(port, req, timeout=8))


# Request smuggling: a proxy in front may frame a body by Transfer-Encoding where websocketpp reads
# Content-Length (RFC 9112 6.1, 6.3). Any Transfer-Encoding, and a Content-Length that is not one
# decimal number, is refused with 400 before a route sees the request.
SMUGGLING = [("cl-te", "Content-Length: {n}\r\nTransfer-Encoding: chunked\r\n"),
             ("te-cl", "Transfer-Encoding: chunked\r\nContent-Length: {n}\r\n"),
             ("te-identity", "Content-Length: {n}\r\nTransfer-Encoding: identity\r\n"),
             ("te-list", "Content-Length: {n}\r\nTransfer-Encoding: gzip, chunked\r\n"),
             ("te-lowercase-empty", "Content-Length: {n}\r\ntransfer-encoding: \r\n"),
             ("cl-twice", "Content-Length: {n}\r\nContent-Length: 2\r\n"),
             ("cl-plus", "Content-Length: +{n}\r\n")]


@pytest.mark.parametrize("headers", [h for _, h in SMUGGLING], ids=[n for n, _ in SMUGGLING])
def test_ambiguous_body_framing_is_refused_with_400_and_starts_nothing(start_server, headers):
    s = start_server(script=HANG)
    body = json.dumps({"project_path": str(s.root), "prompt": "x"}).encode()
    status, _, answer = execute_framed(s.port, headers.format(n=len(body)), body)
    assert status == 400 and "error" in json.loads(answer), (status, answer)
    assert metric(s, "ccbridge_runs_started_total") == 0


def test_transfer_encoding_is_answered_at_once_on_every_route(start_server):
    s = start_server(script=HANG)
    # CL.TE: a Content-Length the chunked body never fills. websocketpp waited for the missing bytes
    # and cut the connection after 5 s without an answer.
    t0 = time.monotonic()
    status, _, answer = execute_framed(s.port, "Content-Length: 100\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n")
    assert status == 400 and "Transfer-Encoding" in json.loads(answer)["error"], (status, answer)
    assert time.monotonic() - t0 < 2
    # Any route, also the token-free /health and a WebSocket upgrade.
    for req in (f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{s.port}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{s.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nContent-Length: 5\r\n"
                "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"):
        status, headers, answer = split_response(raw_http(s.port, req.encode(), timeout=8))
        assert status == 400 and "Transfer-Encoding" in json.loads(answer)["error"], (req[:20], status, answer)
    assert metric(s, "ccbridge_runs_started_total") == 0
    assert s.http("GET", "/health")[0] == 200


# ---- paths: traversal, symlinks, NUL bytes ----------------------------------------------------------


def test_project_path_symlink_loop_file_and_overlong_path_are_refused(start_server):
    s = start_server()
    (s.root / "loop").symlink_to(s.root / "loop")
    (s.root / "afile").write_text("x")
    for p in (s.root / "loop", s.root / "afile", s.root / ("a" * 5000)):
        status, body, _ = s.http("POST", "/claude/execute", {"project_path": str(p), "prompt": "x"})
        assert status in (403, 500) and body["error"] == "Failed to spawn Claude process", (str(p)[:80], status, body)
    assert not s.processes()


def test_project_path_with_a_nul_byte_is_refused(start_server):
    # "<root>\0/../../etc" is not a directory name; it must be refused, not cut at the NUL and
    # run in <root> (the start of Context::resolve_cwd, lib/server/server.cpp, uses c_str()).
    s = start_server()
    status, body, _ = s.http("POST", "/claude/execute", {"project_path": str(s.root) + "\u0000/../../etc", "prompt": "x"})
    assert status in (400, 403, 500) and body["error"] == "Failed to spawn Claude process", (status, body)
    assert metric(s, "ccbridge_runs_started_total") == 0


def test_sdk_ws_cwd_with_a_nul_byte_is_refused(start_server):
    s = start_server(script="serve_turns")

    async def go():
        async with ws_connect(s.ws_url("/ws")) as ws:
            await recv_json(ws)
            await ws.send(json.dumps({"type": "query", "prompt": "hi", "options": {"cwd": str(s.root) + "\u0000/.."}}))
            return await recv_json(ws)

    f = run(go(), timeout=20)
    assert f["type"] == "error" and "cwd" in f["data"]["error"], f
    assert not s.processes()


def test_traversal_in_url_paths_reaches_nothing(start_server):
    s = start_server()
    for method, path in [("POST", "/claude/cancel/..%2F..%2Fetc%2Fpasswd"), ("GET", "/%2e%2e/%2e%2e/etc/passwd"),
                         ("GET", "/claude/../health/../../etc/passwd"), ("GET", "/demo/..%2F..%2Fetc%2Fpasswd")]:
        req = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{s.port}\r\nContent-Length: 0\r\n\r\n".encode()
        status, _, body = split_response(raw_http(s.port, req))
        assert status == 404 and b"root:" not in body, (path, status, body[:100])
    with RawWs(s.port, "/ws/claude/..%2F..%2Fetc%2Fpasswd") as ws:  # decoded, it is no route at all
        assert ws.status == 404


# ---- header injection ----------------------------------------------------------------------------------


INJECTED = [("bare-cr", "Origin: http://a\rSet-Cookie: injected=1"), ("bare-lf", "Origin: http://a\nSet-Cookie: injected=1"),
            ("nul", "X-Note: a\x00Set-Cookie: injected=1")]


@pytest.mark.parametrize("name,header", INJECTED, ids=[n for n, _ in INJECTED])
@pytest.mark.parametrize("target", ["GET /health", "OPTIONS /claude/execute", "POST /claude/cancel/x", "WS /ws"])
def test_cr_lf_nul_in_a_header_value_is_refused_with_400(start_server, name, header, target):
    # With --cors and "*" the Origin is echoed in Access-Control-Allow-Origin: a CR or LF in it
    # would split the response (RFC 9110 5.5: such field values are invalid).
    s = start_server(args=["--cors", "--allow-origin", "*"])
    method, path = target.split()
    extra = ("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             "Sec-WebSocket-Version: 13\r\n") if method == "WS" else "Content-Length: 0\r\n"
    req = (f"{'GET' if method == 'WS' else method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{s.port}\r\n{header}\r\n{extra}\r\n")
    out = raw_http(s.port, req.encode("latin-1"))
    status, headers, _ = split_response(out)
    assert status == 400, out[:300]
    assert not any("injected" in h.lower() for h in headers), headers
    assert b"\r\nSet-Cookie" not in out and b"\nSet-Cookie" not in out and b"\rSet-Cookie" not in out


def test_crlf_in_the_url_is_never_reflected_into_response_headers(start_server):
    s = start_server(script=HANG)
    for path in ("/claude/cancel/abc%0d%0aSet-Cookie:%20injected=1", "/nope%0d%0aSet-Cookie:%20injected=1",
                 "/sessions?x=%0d%0aSet-Cookie:%20injected=1"):
        req = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{s.port}\r\nContent-Length: 0\r\n\r\n".encode()
        status, headers, body = split_response(raw_http(s.port, req))
        assert status in (200, 404, 405), (path, status)
        assert not any("injected" in h.lower() for h in headers), (path, headers)
    with RawWs(s.port, "/ws/claude/x%0d%0aSet-Cookie:%20injected=1") as ws:
        assert ws.status == 101 and not any("injected" in v for v in ws.headers.values())
        code, _, _ = ws.expect_close()
        assert code == 1008


def test_demo_page_refuses_to_be_framed(start_server):
    # Clickjacking: a foreign page could frame the demo (it runs prompts) under a decoy. Every
    # demo route forbids framing, in the CSP the page already sends and for older browsers.
    s = start_server()
    for path in ("/", "/demo", "/demo/config"):
        status, _, headers = s.http("GET", path)
        directives = [d.strip() for d in headers.get("Content-Security-Policy", "").split(";")]
        assert status == 200 and headers.get("X-Frame-Options") == "DENY", (path, dict(headers))
        assert "frame-ancestors 'none'" in directives, (path, directives)
        if path != "/demo/config":
            assert "default-src 'self'" in directives and "connect-src 'self' ws: wss:" in directives, directives


# ---- Origin spoofing ------------------------------------------------------------------------------------


def look_alikes(port):
    return ["http://evil.example", "null", f"http://127.0.0.1:{port}.evil.example", f"http://127.0.0.1:{port}@evil.example",
            f"http://evil.example/http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}", f"ws://127.0.0.1:{port}",
            "http://good.example.evil.example", "http://evil.example#http://good.example"]


def test_foreign_and_look_alike_origins_are_refused_on_every_websocket_and_post(start_server):
    s = start_server(script=HANG, args=["--allow-origin", "http://good.example"])
    _, r, _ = s.http("POST", "/claude/execute", {"project_path": str(s.root), "prompt": "x"})
    paths = ["/ws", "/ws/claude", r["websocket_url"]]
    refused = []
    for origin in look_alikes(s.port):
        for path in paths:
            with RawWs(s.port, path, headers={"Origin": origin}) as ws:
                refused.append((origin, path, ws.status))
        for path in ("/claude/execute", f"/claude/cancel/{r['session_id']}"):
            status, _, _ = s.http("POST", path, {"project_path": str(s.root), "prompt": "x"}, headers={"Origin": origin})
            refused.append((origin, path, status))
    assert all(status == 403 for _, _, status in refused), [x for x in refused if x[2] != 403]
    assert metric(s, "ccbridge_runs_started_total") == 1  # only the first execute
    # The allowed one and the server's own are accepted.
    for origin in ("http://good.example", f"http://127.0.0.1:{s.port}"):
        with RawWs(s.port, "/ws", headers={"Origin": origin}) as ws:
            assert ws.status == 101


def test_cors_preflight_from_a_foreign_origin_gets_no_allow_headers(start_server):
    s = start_server(args=["--cors", "--allow-origin", "http://good.example"])
    for origin, want in (("http://evil.example", 403), ("null", 403), ("http://good.example", 204)):
        req = (f"OPTIONS /claude/execute HTTP/1.1\r\nHost: 127.0.0.1:{s.port}\r\nOrigin: {origin}\r\n"
               "Access-Control-Request-Method: POST\r\n\r\n").encode()
        status, headers, _ = split_response(raw_http(s.port, req))
        allow = [h for h in headers if h.lower().startswith("access-control-allow-origin:")]
        assert status == want, (origin, status)
        assert (allow == [f"Access-Control-Allow-Origin: {origin}"]) if want == 204 else not allow, (origin, headers)


def test_foreign_origin_post_is_refused_also_when_cors_is_on(start_server):
    # A cross-site form or fetch with Content-Type text/plain is a "simple request": the browser
    # sends it without a preflight. CORS only decides whether the page may read the answer, so the
    # CSRF check must still refuse it. lib/server/server.cpp skips that check when --cors is on.
    s = start_server(args=["--cors", "--allow-origin", "http://good.example"])
    status, body, _ = s.http("POST", "/claude/execute", raw=json.dumps({"project_path": str(s.root), "prompt": "x"}).encode(),
                             headers={"Origin": "http://evil.example", "Content-Type": "text/plain"})
    assert status == 403, (status, body)
    assert metric(s, "ccbridge_runs_started_total") == 0


def test_origin_matching_a_spoofed_host_is_taken_for_the_servers_own(start_server):
    # Documented: the server's own Origin is http://<Host>. A page whose host name resolves to
    # 127.0.0.1 (DNS rebinding) therefore passes the Origin check; only --token stops it
    # (Known gaps in RELIABILITY.md).
    s = start_server(script=HANG)
    host = f"rebind.example:{s.port}"
    req = (f"POST /claude/execute HTTP/1.1\r\nHost: {host}\r\nOrigin: http://{host}\r\nContent-Type: application/json\r\n")
    body = json.dumps({"project_path": str(s.root), "prompt": "x"}).encode()
    status, _, _ = split_response(raw_http(s.port, (req + f"Content-Length: {len(body)}\r\n\r\n").encode() + body))
    assert status == 200
    t = start_server(script=HANG, args=["--token", "T0ken"])
    req = req.replace(str(s.port), str(t.port))
    status, _, _ = split_response(raw_http(t.port, (req + f"Content-Length: {len(body)}\r\n\r\n").encode() + body))
    assert status == 401


# ---- tokens -----------------------------------------------------------------------------------------------


def test_wrong_token_forms_are_refused_on_every_http_route(start_server):
    s = start_server(script=HANG, args=["--token", "T0ken"])
    good = {"Authorization": "Bearer T0ken"}
    _, r, _ = s.http("POST", "/claude/execute", {"project_path": str(s.root), "prompt": "x"}, headers=good)
    bad_headers = [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer T0ke"}, {"Authorization": "Bearer T0kenX"},
                   {"Authorization": "Basic T0ken"}, {"Authorization": "Bearer "}, {"Authorization": "Bearer  T0ken"},
                   {"Authorization": "T0ken"}, {"X-Token": "T0ken"}]
    routes = [("POST", "/claude/execute"), ("POST", f"/claude/cancel/{r['session_id']}"), ("GET", "/sessions"),
              ("GET", "/metrics"), ("GET", "/demo/config"), ("GET", "/"), ("GET", "/no-such-route")]
    seen = []
    for method, path in routes:
        body = {"project_path": str(s.root), "prompt": "x"} if method == "POST" else None
        for h in bad_headers:
            seen.append((method, path, str(h), s.http(method, path, body, headers=h)[0]))
        # A wrong header is not rescued by a right ?token= (the header wins), nor a wrong query param.
        sep = "&" if "?" in path else "?"
        seen.append((method, path, "hdr-wrong+query-right", s.http(method, path + sep + "token=T0ken", body,
                                                                     headers={"Authorization": "Bearer wrong"})[0]))
        seen.append((method, path, "query-wrong", s.http(method, path + sep + "token=wrong", body)[0]))
        seen.append((method, path, "query-name", s.http(method, path + sep + "tok=T0ken", body)[0]))
    assert all(status == 401 for *_, status in seen), [x for x in seen if x[-1] != 401]
    assert s.http("GET", "/health")[0] == 200
    assert metric_with_token(s) == 1  # only the first execute started a run


def metric_with_token(s):
    _, text, _ = s.http("GET", "/metrics", headers={"Authorization": "Bearer T0ken"})
    return float([line for line in text.splitlines() if line.startswith("ccbridge_runs_started_total ")][0].split()[1])


# ---- slowloris ------------------------------------------------------------------------------------------


def _health_time(port):
    t0 = time.monotonic()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=3) as r:
        assert r.status == 200
    return time.monotonic() - t0


def _closed_by_server(sock):
    r, _, _ = select.select([sock], [], [], 0)
    if not r:
        return False
    return True  # EOF, a reset, or an error answer before the close


def _still_open_after(socks, seconds):
    """The sockets the server has not closed within `seconds`."""
    deadline = time.monotonic() + seconds
    socks = list(socks)
    while socks and time.monotonic() < deadline:
        socks = [c for c in socks if not _closed_by_server(c)]
        time.sleep(0.1)
    return socks


@pytest.mark.parametrize("request_bytes", [
    "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: {pad}\r\n\r\n",
    "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Pad: {pad}\r\n\r\n",
    "POST /claude/execute HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 200\r\n\r\n{pad}",
], ids=["http-headers", "ws-handshake", "http-body"])
def test_slowloris_one_byte_per_second_is_cut_off_without_blocking_others(start_server, request_bytes):
    s = start_server()
    data = request_bytes.format(pad="a" * 200).encode()
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
    t0 = time.monotonic()
    cut_after = None
    checked = False
    try:
        for i, b in enumerate(data):
            if _closed_by_server(sock):
                cut_after = time.monotonic() - t0
                break
            try:
                sock.sendall(bytes([b]))
            except OSError:
                cut_after = time.monotonic() - t0
                break
            if i == 2 and not checked:  # meanwhile, others are served at once
                assert _health_time(s.port) < 1.0
                checked = True
            if time.monotonic() - t0 > 20:
                break
            time.sleep(1.0)
    finally:
        sock.close()
    assert checked
    assert cut_after is not None and cut_after < 12, f"slow client still connected after {time.monotonic() - t0:.1f}s"
    assert metric(s, "ccbridge_runs_started_total") == 0


def test_a_hundred_slowloris_connections_do_not_block_others(start_server):
    s = start_server(script="serve_turns")
    socks = []
    try:
        for _ in range(100):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=5)
            c.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            socks.append(c)
        assert _health_time(s.port) < 1.0

        async def ws_ok():
            async with ws_connect(s.ws_url("/ws")) as ws:
                await recv_json(ws)
                await ws.send(json.dumps({"type": "ping"}))
                return await recv_json(ws)

        assert run(ws_ok(), timeout=10) == {"type": "pong"}
        open_socks = _still_open_after(socks, 15)
        assert not open_socks, f"{len(open_socks)} slow connections still open after 15 s"
    finally:
        for c in socks:
            c.close()


# ---- WebSocket handshakes that end early ----------------------------------------------------------------


def upgrade_bytes(port, path, headers=""):
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{headers}\r\n").encode()


def reset(sock):
    """Closes with SO_LINGER 0: the kernel sends a TCP RST instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def read_head(sock, timeout=5):
    """The response's status line and headers (or what came before EOF)."""
    out = b""
    deadline = time.monotonic() + timeout
    while b"\r\n\r\n" not in out and time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(4096)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        out += chunk
    return out


def settled_health(server, timeout=10):
    """/health once no WebSocket is open (or the last answer at the deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        _, h, _ = server.http("GET", "/health")
        if (h["connections"] == 0 and h.get("pending_handshakes") == 0) or time.monotonic() > deadline:
            return h
        time.sleep(0.05)


def test_handshakes_reset_at_any_moment_give_their_connection_slot_back(start_server):
    # A client that sends an upgrade request and resets the TCP connection (SO_LINGER 0) took a
    # connection slot for good: websocketpp marks the connection closed before it calls the fail
    # handler, which gave the slot back only while "connecting". ~1,040 resets and every
    # WebSocket on every port answered 503, while /health said connections: 0.
    s = start_server(script="serve_turns", args=["--max-connections", "8", "--token", "T0ken",
                                                 "--allow-origin", "http://good.example"])
    v13 = "Sec-WebSocket-Version: 13\r\n"
    requests = [  # every way out of a handshake: accepted, refused by token (1008), Origin, path, version
        upgrade_bytes(s.port, "/ws?token=T0ken", v13), upgrade_bytes(s.port, "/ws/claude?token=T0ken", v13),
        upgrade_bytes(s.port, "/ws/claude/nope?token=T0ken", v13), upgrade_bytes(s.port, "/ws", v13),
        upgrade_bytes(s.port, "/ws?token=T0ken", v13 + "Origin: http://evil.example\r\n"),
        upgrade_bytes(s.port, "/nowhere?token=T0ken", v13),
        upgrade_bytes(s.port, "/ws?token=T0ken", "Sec-WebSocket-Version: 8\r\n"),
    ]
    moments = ["at-once", "after-response", "half-request", "after-a-frame"]
    seen = set()
    for i in range(200):
        req, moment = requests[i % len(requests)], moments[(i // len(requests)) % len(moments)]
        c = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        if moment == "half-request":
            c.sendall(req[:len(req) // 2])
        else:
            c.sendall(req + (frame(TEXT, b'{"type":"ping"}') if moment == "after-a-frame" else b""))
        if moment == "after-response":
            head = read_head(c)
            seen.add(head.split(b"\r\n", 1)[0])
        reset(c)
    assert {b"HTTP/1.1 101 Switching Protocols", b"HTTP/1.1 403 Forbidden", b"HTTP/1.1 404 Not Found",
            b"HTTP/1.1 426 Upgrade Required"} <= seen, seen
    h = settled_health(s)
    assert h["connections"] == 0, h
    # All 8 slots are free: 8 WebSockets open at once (before the fix: 503 "too many connections").
    socks = [RawWs(s.port, "/ws?token=T0ken") for _ in range(8)]
    try:
        assert [w.status for w in socks] == [101] * 8
        assert s.http("GET", "/health")[1]["connections"] == 8
        with RawWs(s.port, "/ws?token=T0ken") as ninth:
            assert ninth.status == 503
    finally:
        for w in socks:
            reset(w.sock)
    h = settled_health(s)
    assert h["connections"] == 0 and h["pending_handshakes"] == 0, h
    _, text, _ = s.http("GET", "/metrics", headers={"Authorization": "Bearer T0ken"})
    assert "ccbridge_ws_handshakes_pending 0\n" in text and "ccbridge_ws_clients 0\n" in text


def test_half_a_handshake_holds_no_slot_and_is_cut_off(start_server):
    # The open-handshake timeout path: a client that sends half an upgrade request and waits.
    # Until its request is complete it is no WebSocket and holds no slot; websocketpp cuts it
    # after 5 s; nothing is left counted.
    s = start_server(script="serve_turns", args=["--max-connections", "2"])
    req = upgrade_bytes(s.port, "/ws", "Sec-WebSocket-Version: 13\r\n")
    halves = []
    try:
        for _ in range(4):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=5)
            c.sendall(req[:len(req) // 2])
            halves.append(c)
        with RawWs(s.port, "/ws") as a, RawWs(s.port, "/ws") as b:
            assert (a.status, b.status) == (101, 101)
        still_open = _still_open_after(halves, 12)
        assert not still_open, f"{len(still_open)} half handshakes still open after 12 s"
    finally:
        for c in halves:
            c.close()
    h = settled_health(s)
    assert h["connections"] == 0 and h["pending_handshakes"] == 0, h
    with RawWs(s.port, "/ws") as a, RawWs(s.port, "/ws") as b:
        assert (a.status, b.status) == (101, 101)


# ---- the opcode socket ignores client text -------------------------------------------------------------


def test_opcode_socket_ignores_whatever_the_client_sends(start_server):
    # Seed 000's server only logs client text: garbage, bad JSON and big messages change nothing.
    s = start_server(script='wait_user\nemit {"type":"system","subtype":"init"}\nsleep 3000\n'
                            'emit {"type":"result","subtype":"success","is_error":false,"result":"done"}\nexit 0')
    _, r, _ = s.http("POST", "/claude/execute", {"project_path": str(s.root), "prompt": "x"})
    with RawWs(s.port, r["websocket_url"]) as ws:
        for payload in (b"not json", b"{", b'{"type":"cancel"}', b'{"type":"input","text":"x"}', b"x" * 500_000):
            ws.send_frame(TEXT, payload)
        ws.send_frame(PING, b"alive")
        before = ws.expect_pong(b"alive")
        code, _, frames = ws.expect_close(timeout=15)
    types = [json.loads(p)["type"] for op, p in before + frames if op == TEXT]
    assert types == ["system", "result", "complete"] and code == 1000, (types, code)
    assert s.wait_no_processes()


# ---- JSON nested deeper than the limit (512 levels) ----------------------------------------------------

DEEP = 200_000  # 400 KB of brackets: far beyond any stack when walked recursively


def deep_arrays(levels=DEEP):
    return "[" * levels + "]" * levels


def test_sdk_ws_define_tool_nested_200000_deep_gets_an_error_frame_and_the_server_keeps_serving(start_server):
    # Was: the server died of SIGSEGV (stack overflow serialising the parameters), and every
    # client's runs with it.
    s = start_server(script="serve_turns")

    async def go():
        async with ws_connect(s.ws_url("/ws")) as attacker, ws_connect(s.ws_url("/ws")) as other:
            await recv_json(attacker)
            await recv_json(other)
            errors = []
            for params in ('{"a":' + deep_arrays() + '}', '{"a":{"type":' + deep_arrays() + '}}'):
                await attacker.send('{"type":"define_tool","tool":{"name":"t","parameters":' + params + '}}')
                errors.append(await recv_json(attacker))
            await attacker.send(json.dumps({"type": "ping"}))
            pong = await recv_json(attacker)
            await other.send(json.dumps({"type": "query", "prompt": "still here"}))
            frames = [await recv_json(other)]
            while frames[-1]["type"] != "query_end":
                frames.append(await recv_json(other))
            return errors, pong, frames

    errors, pong, frames = run(go(), timeout=30)
    for f in errors:
        assert f["type"] == "error" and "invalid JSON" in f["data"]["error"], f
        assert "nested deeper than 512 levels" in f["data"]["error"], f
    assert pong["type"] == "pong"
    assert any(f["type"] == "result_message" and f["data"]["result"] == "echo: still here" for f in frames), frames
    assert s.proc.poll() is None


def test_execute_body_nested_200000_deep_is_refused_with_400(start_server):
    s = start_server()
    body = ('{"project_path":' + json.dumps(str(s.root)) + ',"prompt":"x","x":' + deep_arrays() + "}").encode()
    status, _, out = execute_raw(s.port, body)
    assert status == 400 and "nested deeper than 512 levels" in json.loads(out)["error"], (status, out[:300])
    # 512 levels (the body's object and 511 arrays) are JSON like any other.
    ok = ('{"project_path":' + json.dumps(str(s.root)) + ',"prompt":"x","x":' + deep_arrays(511) + "}").encode()
    assert execute_raw(s.port, ok)[0] == 200
    assert metric(s, "ccbridge_runs_started_total") == 1


@pytest.mark.parametrize("profile", ["opcode", "sdk-ws"])
def test_cli_line_nested_200000_deep_is_skipped_like_any_invalid_line(start_server, tmp_path, profile):
    # Was: opcode forwarded the 400 KB line to its clients; sdk-ws died of SIGSEGV turning the
    # result's usage into a frame.
    line = tmp_path / "deep.jsonl"
    line.write_text('{"type":"result","subtype":"success","is_error":false,"result":"deep","usage":{"a":'
                    + deep_arrays() + "}}\n")
    s = start_server(script=f'wait_user\nemit {{"type":"system","subtype":"init"}}\nreplay {line}\n'
                            'emit {"type":"result","subtype":"success","is_error":false,"result":"done"}\nexit 0')
    if profile == "opcode":
        _, r, _ = s.http("POST", "/claude/execute", {"project_path": str(s.root), "prompt": "x"})

        async def go():
            async with ws_connect(s.ws_url(r["websocket_url"])) as ws:
                return (await read_until_close(ws))[0]

        frames = run(go(), timeout=30)
        assert [f["type"] for f in frames] == ["system", "error", "result", "complete"], [str(f)[:100] for f in frames]
        assert frames[1]["message"].startswith("the CLI wrote a line that was skipped: stdout line 2 is not valid "
                                               "JSON: nested deeper than 512 levels"), frames[1]
        assert frames[2]["result"] == "done" and frames[3]["success"]
    else:
        async def go():
            async with ws_connect(s.ws_url("/ws")) as ws:
                await recv_json(ws)
                await ws.send(json.dumps({"type": "query", "prompt": "x"}))
                frames = [await recv_json(ws)]
                while frames[-1]["type"] != "query_end":
                    frames.append(await recv_json(ws))
                return frames

        frames = run(go(), timeout=30)
        results = [f["data"]["result"] for f in frames if f["type"] == "result_message"]
        assert results == ["done"], [str(f)[:100] for f in frames]
    assert s.proc.poll() is None and s.http("GET", "/health")[0] == 200


# A request the transport refuses (a NUL in a header value, a chunked body) is answered in the words
# of the profile that serves the path: platform clients parse the seed's error envelope on every
# answer, cc-control clients read plain text. The gateway's {"error":...} reached both before.
REFUSED = [("nul-header", "X-Note: a\x00b\r\nContent-Length: 2\r\n", "a header value contains CR, LF or NUL"),
           ("chunked", "Transfer-Encoding: chunked\r\n", "Transfer-Encoding is not supported")]


@pytest.mark.parametrize("head,why", [(h, w) for _, h, w in REFUSED], ids=[n for n, _, _ in REFUSED])
def test_a_refused_request_gets_the_platform_error_envelope(start_server, tmp_path, head, why):
    from platform_common import start_platform
    s = start_platform(start_server, tmp_path)
    for path in ("/v1/auth/login", "/api/v1/sessions", "/elsewhere"):
        req = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{s.port}\r\nContent-Type: application/json\r\n{head}\r\n{{}}"
        status, headers, body = split_response(raw_http(s.port, req.encode("latin-1"), timeout=8))
        answer = json.loads(body)
        assert status == 400 and answer["success"] is False, (path, status, body)
        assert answer["error"]["code"] == "INVALID_INPUT" and why in answer["error"]["message"], answer
        assert answer["error"]["requestId"] and answer["error"]["timestamp"], answer
        assert any(h.lower().startswith("x-request-id: ") for h in headers), headers


@pytest.mark.parametrize("head,why", [(h, w) for _, h, w in REFUSED], ids=[n for n, _, _ in REFUSED])
def test_a_refused_request_gets_cc_controls_plain_text(start_server, tmp_path, head, why):
    from cc_control_common import start_cc
    s = start_cc(start_server, tmp_path)
    for path in ("/api/sessions", "/admin/tokens"):
        req = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{s.port}\r\n{head}\r\n{{}}"
        status, headers, body = split_response(raw_http(s.port, req.encode("latin-1"), timeout=8))
        assert status == 400 and why in body.decode(), (path, status, body)
        assert any(h.lower().startswith("content-type: text/plain") for h in headers), headers
