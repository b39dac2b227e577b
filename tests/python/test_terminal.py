"""ccbridge.Terminal: small programs on a PTY (no CLI needed): output, exit, input, resize, stop,
the environment allow-list, errors, and the GIL released while the engine reads."""

import threading
import time

import pytest

import ccbridge
from ccbridge import Terminal, TerminalExit


def sh(script, tag, **kw):
    kw.setdefault("extra_env", {})["CCB_TEST_TAG"] = tag
    return Terminal.start(cli_path="/bin/sh", args=["-c", script], start_timeout=0, **kw)


def test_output_then_exit(tag):
    with sh("printf hello; exit 3", tag) as t:
        assert b"".join(t) == b"hello"
        assert t.last_seq >= 1
        assert t.exit == TerminalExit(exit_code=3, signal="", reason="exited", error="")
        assert not t.running
        assert t.read() is None  # stays at the end


def test_input_resize_and_stop(tag):
    with sh("stty size; cat", tag, cols=100, rows=30) as t:
        seen = b""
        while b"30 100" not in seen:
            seen += t.read(timeout=10)
        assert t.pid > 0 and t.running
        t.resize(120, 40)
        t.write("ping\n")
        while seen.count(b"ping") < 2:  # the terminal's echo and cat's copy
            seen += t.read(timeout=10)
        t.stop(grace=0.1, kill_after=0.2)
        x = t.wait(timeout=10)
        assert (x.exit_code, x.signal, x.reason) == (-1, "terminated", "exited")


def test_environment_allow_list(tag):
    with sh("env", tag, env={"CC_A": "1", "OTHER": "2", "K": "3"}, env_allow_keys=["K"]) as t:
        out = b"".join(t).replace(b"\r", b"").split(b"\n")
    assert b"CC_A=1" in out and b"K=3" in out
    assert not any(line.startswith(b"OTHER=") for line in out)


def test_start_timeout_and_read_timeout(tag):
    t = Terminal.start(cli_path="/bin/sh", args=["-c", "exec sleep 30"], start_timeout=0.2,
                       extra_env={"CCB_TEST_TAG": tag})
    with pytest.raises(TimeoutError):
        t.read(timeout=0.05)
    x = t.wait(timeout=10)
    assert (x.reason, x.signal) == ("start_timeout", "terminated")
    t.close()


def test_errors(tag, tmp_path):
    with pytest.raises(ccbridge.CLINotFoundError):
        Terminal.start(cli_path="/nonexistent/claude")
    with pytest.raises(ccbridge.CLIConnectionError):
        Terminal.start(cli_path="/bin/sh", cwd="/nonexistent/dir")
    with pytest.raises(ccbridge.InvalidOptionError, match="resume_id"):
        Terminal.start(cli_path="/bin/sh", resume_id="a b")
    f = tmp_path / "not-executable"
    f.write_text("data\n")
    f.chmod(0o644)
    with Terminal.start(cli_path=str(f)) as t:
        x = t.wait(timeout=10)
    assert x.exit_code is None and x.error == "spawn_failed" and "not-executable" in x.reason


def test_megabytes_in_order_with_backpressure(tag):
    # More than the 1 MiB the binding keeps unread (2 MB): the engine pauses until Python reads.
    with sh("seq 1 300000", tag) as t:
        deadline = time.monotonic() + 20
        while t.unread < 1 << 20:
            assert time.monotonic() < deadline, f"{t.unread} bytes unread, never the 1 MiB limit"
            time.sleep(0.01)
        # Held there: the program cannot have written the rest, and no chunk came past the limit.
        assert t.running and t.unread < (1 << 20) + 4096
        out = b"".join(t).replace(b"\r", b"")
    assert out == b"".join(b"%d\n" % i for i in range(1, 300001))
    assert t.exit.exit_code == 0


def test_reading_releases_the_gil(tag):
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.01)

    th = threading.Thread(target=ticker)
    th.start()
    with sh("sleep 0.5; printf done", tag) as t:
        assert t.read(timeout=10) == b"done"
    stop.set()
    th.join()
    assert len(ticks) > 10


def test_close_stops_the_program(tag):
    t = sh("printf up; exec sleep 30", tag)
    assert t.read(timeout=10) == b"up"
    t.close()  # the tag fixture checks that the program is gone
    t.close()
