"""TLS on every profile (`--tls-cert`, `--tls-key`): https:// and wss:// only, verified with a test CA
made at test time (testca.py); what is not TLS is closed without harming the server; a client that
says nothing holds nothing for long; bad files stop the server at start with a message naming them."""
import asyncio
import json
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import pytest
import websockets

import testca
from cc_control_common import api, cc_args, fake_terminal, make_token
from conftest import CCB, FAKE, read_until_close, recv_json, run, until, ws_connect


@pytest.fixture
def pki(tmp_path):
    return testca.make_pki(tmp_path / "pki")


def tls_args(pki, key=None):
    return ["--tls-cert", str(pki.cert), "--tls-key", str(key or pki.key)]


def start_tls(start_server, pki, *extra, **kw):
    s = start_server(args=[*tls_args(pki), *extra], ca=pki.ca, **kw)
    assert s.scheme == "https"
    return s


def until_closed(sock, timeout=20):
    """Bytes the server sends until it closes the connection; fails if it is still open after `timeout`."""
    sock.settimeout(timeout)
    got = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            chunk = sock.recv(4096)
            if not chunk:
                return got
            got += chunk
    except (ConnectionResetError, ssl.SSLError):
        return got
    except socket.timeout:
        pass
    raise AssertionError(f"the server kept the connection open for {timeout} s")


def get(url, context, timeout=10):
    with urllib.request.urlopen(url, context=context, timeout=timeout) as r:
        return r.status, json.loads(r.read())


def test_https_rest_and_wss_stream_of_opcode_verify_with_the_ca_only(start_server, pki):
    s = start_tls(start_server, pki)
    assert s.http("GET", "/health")[0] == 200
    status, r, _ = s.http("POST", "/claude/execute", {"project_path": str(s.root), "prompt": "hello"})
    assert status == 200 and r["status"] == "started"

    async def stream():
        async with ws_connect(s.ws_url(r["websocket_url"]), ssl=s.ssl) as ws:
            return await read_until_close(ws)

    frames, code, _ = run(stream())
    assert [f["type"] for f in frames] == ["system", "assistant", "result", "complete"] and code == 1000
    # The certificate names localhost too (its SAN), and without the CA it is not trusted.
    assert get(f"https://localhost:{s.port}/health", s.ssl)[0] == 200
    with pytest.raises(urllib.error.URLError) as e:
        get(f"https://127.0.0.1:{s.port}/health", ssl.create_default_context())
    assert isinstance(e.value.reason, ssl.SSLCertVerificationError)


def test_https_on_cc_control_with_a_token(start_server, tmp_path, pki):
    s = start_server(args=cc_args(tmp_path, *tls_args(pki)), cli=fake_terminal(tmp_path), ca=pki.ca)
    assert s.scheme == "https"
    assert s.http("GET", "/api/healthz")[:2] == (200, {"ok": True})
    status, body, _ = api(s, "GET", "/api/servers", make_token(s, "ui", "viewer")["token"])
    assert status == 200 and [x["server_id"] for x in body["servers"]] == ["srv-local"]
    with pytest.raises(urllib.error.URLError) as e:
        get(f"https://127.0.0.1:{s.port}/api/healthz", ssl.create_default_context())
    assert isinstance(e.value.reason, ssl.SSLCertVerificationError)


def test_wss_on_sdk_ws_query_and_websocket_pings(start_server, pki):
    s = start_tls(start_server, pki, script="serve_turns")

    async def go():
        async with ws_connect(s.ws_url("/ws"), ssl=s.ssl) as ws:
            assert (await recv_json(ws))["type"] == "connection_established"
            # The server answers a WebSocket ping over TLS (websockets waits for the pong).
            await asyncio.wait_for(await ws.ping(b"probe"), 10)
            await ws.send(json.dumps({"type": "query", "prompt": "hi"}))
            frames = await until(ws, "query_end")
        with pytest.raises(ssl.SSLCertVerificationError):
            await ws_connect(s.ws_url("/ws"), ssl=ssl.create_default_context())
        return frames

    frames = run(go(), timeout=30)
    assert [f["type"] for f in frames] == ["query_start", "system_message", "assistant_message", "result_message",
                                           "query_end"]


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated")
def test_tls_1_2_at_least_aead_suites_and_no_compression(start_server, pki):
    s = start_tls(start_server, pki)

    def handshake(ctx):
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as t:
                return t.version(), t.cipher()[0], t.compression()

    assert handshake(s.ssl)[0] == "TLSv1.3" and handshake(s.ssl)[2] is None
    tls12 = ssl.create_default_context(cafile=str(pki.ca))
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    version, cipher, compression = handshake(tls12)
    assert version == "TLSv1.2" and cipher.startswith("ECDHE-") and ("GCM" in cipher or "CHACHA20" in cipher)
    assert compression is None
    # A client that offers TLS 1.1 at most is refused by the server (its own OpenSSL is told to
    # offer it: security level 0).
    old = ssl.create_default_context(cafile=str(pki.ca))
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    old.minimum_version = ssl.TLSVersion.TLSv1_1
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(ssl.SSLError) as e:
        handshake(old)
    assert "NO_PROTOCOLS_AVAILABLE" not in str(e.value), "the client did not even offer TLS 1.1"
    assert "PROTOCOL_VERSION" in str(e.value), e.value  # the server's alert


def test_plain_http_and_garbage_on_the_tls_port_are_closed_and_the_server_keeps_serving(start_server, pki):
    s = start_tls(start_server, pki)
    for junk in (b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                 b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                 bytes(range(256)) * 8,
                 b"\x16\x03\x01\x00\x10" + b"\xff" * 16):  # a handshake record that is no ClientHello
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as c:
            c.sendall(junk)
            assert b"HTTP/" not in until_closed(c)  # nothing is served in the clear
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(f"http://127.0.0.1:{s.port}/health", timeout=10)

    async def plain_ws():
        with pytest.raises((websockets.InvalidHandshake, ConnectionError, EOFError)):
            await ws_connect(f"ws://127.0.0.1:{s.port}/ws")

    run(plain_ws())
    assert s.proc.poll() is None
    assert s.http("GET", "/health")[0] == 200


def test_silent_clients_hold_no_slot_and_are_cut(start_server, pki):
    s = start_tls(start_server, pki, "--max-connections", "1")
    addr = ("127.0.0.1", s.port)
    silent = socket.create_connection(addr, timeout=10)  # TCP only
    half = socket.create_connection(addr, timeout=10)  # the start of a ClientHello, then nothing
    half.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    mute = s.ssl.wrap_socket(socket.create_connection(addr, timeout=10), server_hostname="127.0.0.1")  # no request

    async def others():
        async with ws_connect(s.ws_url("/ws"), ssl=s.ssl) as ws:  # the one WebSocket slot is free
            assert (await recv_json(ws))["type"] == "connection_established"
            await ws.send(json.dumps({"type": "ping"}))
            assert await recv_json(ws) == {"type": "pong"}

    assert s.http("GET", "/health")[0] == 200
    run(others())
    # websocketpp's timeouts (5 s for the TLS handshake, 5 s for the request) end each of them.
    for sock in (silent, half, mute):
        with sock:
            until_closed(sock)
    assert s.http("GET", "/health")[0] == 200


def test_traditional_key_and_the_config_file_keys(start_server, tmp_path, pki):
    trad = testca.traditional_key(pki.key, tmp_path / "trad.key")
    assert trad.read_text().startswith("-----BEGIN EC PRIVATE KEY-----")
    config = tmp_path / "serve.json"
    config.write_text(json.dumps({"tls_cert": str(pki.cert), "tls_key": str(trad)}))
    s = start_server(args=["--config", str(config)], ca=pki.ca)
    assert s.scheme == "https" and s.http("GET", "/health")[0] == 200


def serve_error(tmp_path, *args):
    """`ccbridge serve` with these flags must stop at start: returns its stderr."""
    r = subprocess.run([CCB, "serve", "--port", "0", "--root", str(tmp_path), "--cli", FAKE, *args],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert r.returncode != 0 and "listening" not in r.stdout, (r.returncode, r.stdout, r.stderr)
    return r.stderr


def test_bad_files_stop_the_server_at_start_naming_them(tmp_path, pki):
    other = testca.make_server_cert(testca.make_ca(tmp_path / "ca2"), tmp_path / "ca2")
    missing = tmp_path / "missing.pem"
    encrypted = tmp_path / "encrypted.key"
    subprocess.run(["openssl", "pkey", "-in", str(pki.key), "-aes256", "-passout", "pass:secret", "-out",
                    str(encrypted)], check=True)
    cases = [
        (["--tls-cert", str(missing), "--tls-key", str(pki.key)], [f"'{missing}' cannot be read", "No such file"]),
        (["--tls-cert", str(pki.cert), "--tls-key", str(missing)], [f"'{missing}' cannot be read"]),
        (["--tls-cert", str(pki.cert)], ["TLS needs both a certificate and a key", "tls_key"]),
        (["--tls-key", str(pki.key)], ["TLS needs both a certificate and a key", "tls_cert"]),
        (tls_args(pki, key=other.key), [f"the TLS key in '{other.key}' does not match the certificate in '{pki.cert}'"]),
        (["--tls-cert", str(pki.key), "--tls-key", str(pki.key)], [f"certificate file '{pki.key}' holds no usable"]),
        (["--tls-cert", str(pki.cert), "--tls-key", str(pki.cert)], [f"key file '{pki.cert}' holds no usable"]),
        (tls_args(pki, key=encrypted), [f"key file '{encrypted}' holds no usable private key", "unencrypted"]),
    ]
    for args, wanted in cases:
        err = serve_error(tmp_path, *args)
        for w in wanted:
            assert w in err, (args, err)
