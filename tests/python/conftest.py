"""Harness for the Python package's tests: the fake CLI, options that tag every process a test
starts (CCB_TEST_TAG in the child's environment), and a check after each test that none of them
is left."""

import glob
import os
import time
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def _find_fake() -> str:
    if os.environ.get("CCB_FAKE_CLI"):
        return os.environ["CCB_FAKE_CLI"]
    found = sorted(glob.glob(os.path.join(ROOT, "build*", "tests", "ccb_fake_cli")), key=os.path.getmtime)
    return found[-1] if found else ""


FAKE = _find_fake()
# The MCP test server (tests/support/mcp_test_server.cpp) is built next to the fake CLI.
MCP_SERVER = os.environ.get("CCB_MCP_TEST_SERVER") or (os.path.join(os.path.dirname(FAKE), "ccb_mcp_test_server") if FAKE else "")


def tagged_pids(tag):
    """Live processes (zombies excluded) whose environment holds CCB_TEST_TAG=tag."""
    needle = f"CCB_TEST_TAG={tag}".encode()
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                env = f.read()
            with open(f"/proc/{d}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in env.split(b"\0") and state != "Z":
            out.append(int(d))
    return out


@pytest.fixture
def tag():
    """A tag for this test's processes; after the test, none may be left (waits up to 10 s, the
    longest shutdown ladder the tests configure)."""
    t = str(uuid.uuid4())
    yield t
    deadline = time.monotonic() + 10
    while tagged_pids(t) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tagged_pids(t) == [], "processes left behind"


@pytest.fixture
def fake_options(tag):
    """fake_options(script, **fields) -> ClaudeAgentOptions running the fake CLI on `script`."""
    import ccbridge

    if not FAKE:
        pytest.skip("the fake CLI is not built (set CCB_FAKE_CLI)")

    def make(script="", **fields):
        env = {"CCB_FAKE_SCRIPT_TEXT": script, "CCB_TEST_TAG": tag, **fields.pop("env", {})}
        fields.setdefault("shutdown", {"exit_wait_ms": 1000, "term_wait_ms": 1000, "drain_wait_ms": 500})
        return ccbridge.ClaudeAgentOptions(cli_path=FAKE, env=env, **fields)

    return make


@pytest.fixture
def config(tmp_path, monkeypatch):
    """A CLAUDE_CONFIG_DIR with an empty projects directory (the session-history tests)."""
    cfg = tmp_path / ".claude"
    (cfg / "projects").mkdir(parents=True)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(cfg))
    return cfg
