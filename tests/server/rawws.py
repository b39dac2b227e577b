"""A raw-socket WebSocket client (RFC 6455) for conformance and hostile-input tests.

Independent of websocketpp (the server's library) and of the `websockets` package: every frame is
built by hand here, so a test can send what no well-behaved client library would (unmasked frames,
reserved bits, bad lengths, fragmented control frames, invalid UTF-8 ...). Every read has a
deadline, so a test can fail but never hang.
"""
import base64
import hashlib
import os
import socket
import struct
import time

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class Closed(Exception):
    """The server closed the TCP connection (EOF or reset) while a frame was expected."""


def frame(opcode, payload=b"", fin=True, rsv=0, mask=True, key=None, length=None):
    """One frame as bytes. rsv: the three reserved bits as a number 0..7. length: lie about the length."""
    if isinstance(payload, str):
        payload = payload.encode()
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)
    n = len(payload) if length is None else length
    m = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, m | n)
    elif n <= 0xFFFF:
        head = struct.pack("!BBH", b0, m | 126, n)
    else:
        head = struct.pack("!BBQ", b0, m | 127, n)
    if not mask:
        return head + payload
    key = key if key is not None else os.urandom(4)
    return head + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


def close_payload(code=None, reason=b""):
    if code is None:
        return b""
    if isinstance(reason, str):
        reason = reason.encode()
    return struct.pack("!H", code) + reason


class RawWs:
    """A WebSocket connection over a plain socket. recv_frame() returns (fin, rsv, opcode, payload)."""

    def __init__(self, port, path, headers=None, host="127.0.0.1", timeout=10):
        self.port = port
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.peer_closed = False  # the server ended the TCP connection (seen while sending)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket", "Connection: Upgrade",
                 f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.status_line, *hdrs = head.decode("latin-1").split("\r\n")
        self.status = int(self.status_line.split()[1])
        self.headers = {h.split(":", 1)[0].strip().lower(): h.split(":", 1)[1].strip() for h in hdrs if ":" in h}
        if self.status == 101:
            want = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
            assert self.headers.get("sec-websocket-accept") == want, self.headers

    def _fill(self, deadline):
        if self.peer_closed:
            raise Closed()
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no data from the server in time")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        except socket.timeout:
            raise TimeoutError("no data from the server in time") from None
        if not chunk:
            raise Closed()
        self.buf += chunk

    def _take(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, data):
        """Sends, like a peer that stops sending once the server has failed the connection: what
        the server already sent is read first (so a close frame is not lost to a TCP reset), and a
        send to a closed connection is dropped (see peer_closed)."""
        if self.peer_closed:
            return
        self._drain()
        if self.peer_closed:
            return
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            self.peer_closed = True

    def _drain(self):
        """Moves whatever has already arrived into the buffer, without waiting."""
        self.sock.setblocking(False)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    self.peer_closed = True
                    break
                self.buf += chunk
        except (BlockingIOError, InterruptedError):
            pass
        except ConnectionResetError:
            self.peer_closed = True
        finally:
            self.sock.setblocking(True)

    def send_frame(self, opcode, payload=b"", **kw):
        self.send(frame(opcode, payload, **kw))

    def recv_frame(self, timeout=10):
        deadline = time.monotonic() + timeout
        b0, b1 = self._take(2, deadline)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._take(2, deadline))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._take(8, deadline))[0]
        assert not (b1 & 0x80), "a server must never mask its frames (RFC 6455 5.1)"
        payload = self._take(n, deadline)
        return bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF, payload

    def recv_data(self, timeout=10):
        """The next frame that is not a ping/pong: (opcode, payload)."""
        deadline = time.monotonic() + timeout
        while True:
            fin, rsv, op, payload = self.recv_frame(max(0.01, deadline - time.monotonic()))
            if op not in (PING, PONG):
                return op, payload

    def expect_close(self, timeout=10, reply=True):
        """Reads (skipping data frames) until the server's close frame; returns (code, reason bytes,
        skipped frames). Answers the close when `reply`. Raises Closed if TCP ends first."""
        deadline = time.monotonic() + timeout
        skipped = []
        while True:
            fin, rsv, op, payload = self.recv_frame(max(0.01, deadline - time.monotonic()))
            if op == CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                if reply:
                    try:
                        self.send_frame(CLOSE, payload[:2])
                    except OSError:
                        pass
                return code, payload[2:], skipped
            skipped.append((op, payload))

    def expect_pong(self, payload, timeout=10):
        """Skips data frames until a pong; asserts its payload; returns the skipped data frames."""
        deadline = time.monotonic() + timeout
        skipped = []
        while True:
            fin, rsv, op, got = self.recv_frame(max(0.01, deadline - time.monotonic()))
            if op == PONG:
                assert got == payload, f"pong payload {got[:40]!r} != ping payload {payload[:40]!r}"
                return skipped
            assert op != CLOSE, f"server closed instead of answering the ping: {got!r}"
            skipped.append((op, got))

    def wait_eof(self, timeout=10):
        """True when the server closes TCP within `timeout` (discarding whatever else arrives)."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self.buf = b""
                self._fill(deadline)
        except Closed:
            return True
        except TimeoutError:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def raw_http(port, data, timeout=10, host="127.0.0.1"):
    """Sends raw bytes, returns everything the server sends until it closes (or the deadline)."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except OSError:
            pass  # the server may answer and close before it has read everything (oversize bodies)
        out = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out:
                head, body = out.split(b"\r\n\r\n", 1)
                cl = [h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")]
                if cl and len(body) >= int(cl[0].split(b":")[1]):
                    break
        return out
    finally:
        s.close()
