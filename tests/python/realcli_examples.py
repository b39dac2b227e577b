"""The official SDK's own examples, run unchanged against the real, pinned Claude Code CLI and the
offline mock of the Messages API: once with the official claude-agent-sdk, once with ccbridge
(only the import lines rewritten), and the two runs must receive the same messages and print the
same output (issue 19). Run by tests/python/run.sh inside netns-run.sh and with-mock-api.sh.

The examples come from the pinned sdist on PyPI (downloaded once into CCB_OFFICIAL_SDK_CACHE,
default ~/.cache/ccbridge/official-sdk; never committed). Each run of an example gets, at the same
paths for both SDKs so that no path needs normalising:
- a fresh copy of the sdist's tree, with the example's working directory at its root (the
  examples that look for the SDK's repository use Path(__file__).parent.parent);
- a fresh HOME (onboarding done, the mock's key approved), and a fresh mock (its message and tool
  ids then count from 1 in both runs) started with --script EXAMPLE_SCRIPT, which turns the
  examples' prompts into the tool calls, delays and thinking they ask for;
- the CLI as `claude` on PATH: a shim that records each command line, then execs the pinned CLI;
- stdin from /dev/null (tool_permission_callback.py asks with input() for an unknown tool), and
  one hash seed (streaming_mode.py prints a set).

examples_runner.py records every message each example receives (class and every field, through
query(), receive_messages() and receive_response()): the sequences are compared after
normalize(), which only masks what differs from run to run whatever the SDK: the ids the CLI makes
up, its process id, timings and clock times. Costs are not masked: the CLI computes them from the mock's token counts,
so a different cost would mean a different request. stdout is compared with the same masking.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "examples_runner.py"
MOCK = HERE.parent / "support" / "mock_anthropic.py"
REAL = os.environ.get("CCB_REAL_CLI", "")
VERSION = "0.2.187"
CACHE = Path(os.environ.get("CCB_OFFICIAL_SDK_CACHE") or Path.home() / ".cache" / "ccbridge" / "official-sdk")
# The longest example (streaming_mode.py async_iterable_prompt) waits 30 s for a result that
# never comes, by design; no run should take near this.
RUN_TIMEOUT = 300

pytestmark = pytest.mark.skipif(not REAL, reason="CCB_REAL_CLI is not set")


@dataclasses.dataclass(frozen=True)
class Case:
    example: str
    args: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return " ".join((self.example, *self.args))


def sub(example: str, *names: str) -> list[Case]:
    return [Case(example, (n,)) for n in names]


# Every example of the sdist, and each sub-example of those that take its name as an argument.
CASES = [
    Case("agents.py"),
    Case("filesystem_agents.py"),
    *sub("hooks.py", "PreToolUse", "UserPromptSubmit", "PostToolUse", "DecisionFields", "ContinueControl"),
    Case("include_partial_messages.py"),
    Case("max_budget_usd.py"),
    Case("mcp_calculator.py"),
    Case("plugin_example.py"),
    Case("quick_start.py"),
    *sub("setting_sources.py", "default", "disable_all", "user_only", "project_and_user"),
    Case("stderr_callback_example.py"),
    *sub("streaming_mode.py", "basic_streaming", "multi_turn_conversation", "concurrent_responses",
         "with_interrupt", "manual_message_handling", "with_options", "async_iterable_prompt",
         "bash_command", "control_protocol", "error_handling"),
    Case("streaming_mode_ipython.py"),
    Case("streaming_mode_trio.py"),
    Case("system_prompt.py"),
    Case("tool_permission_callback.py"),
    Case("tools_option.py"),
]

# What under examples/ is not run, with the reason (also in docs/PYTHON.md).
NOT_APPLICABLE = {
    "session_stores/": "SessionStore adapters (Postgres, Redis, S3) and their README: modules, not scripts "
                       "(the official tests load the Redis and S3 ones with fakeredis and moto)",
    "plugins/": "the demo plugin's files, which plugin_example.py loads",
}

# The examples that end with an exception from the official SDK: the exception, which ccbridge's
# run must end with too.
ENDS_WITH = {
    # The third query's error result (the budget is spent) is yielded, then raised as ResultError.
    "max_budget_usd.py": "<sdk>._errors.ResultError: Claude Code returned an error result: "
                         "Reached maximum budget ($0.0001) (exit code: 1)",
}

# The mock's --script: a prompt containing the key is answered as if it also carried the markers
# (tests/support/mock_anthropic.py), so that the examples' prompts drive what they are about.
# {cwd} is the examples' working directory (the Write tool wants an absolute path).
# agents.py: the main thread hands each task to the custom agent, which runs against the mock too:
# the first two in the foreground, the third in the background (the CLI then wakes the main
# thread when it ends: a second turn before query() ends), with a reply streamed over about 4 s,
# long after the main thread's own reply, so the messages come in one order.
_AGENT = ('[[tool: Task :: {{"subagent_type": "{name}", "description": "{name} task", '
          '"prompt": "Do the {name} task{extra}", "run_in_background": {background}}}]]')
EXAMPLE_SCRIPT = {
    # quick_start.py
    "Create a file called hello.txt with 'Hello, World!' in it": "[[write: {cwd}/hello.txt :: Hello, World!]]",
    # agents.py
    "Use the code-reviewer agent": _AGENT.format(name="code-reviewer", extra="", background="false"),
    "Use the doc-writer agent": _AGENT.format(name="doc-writer", extra="", background="false"),
    "Use the analyzer agent": _AGENT.format(name="analyzer", extra=" [[slow: 100]]", background="true"),
    # hooks.py
    "Run the bash command: ./foo.sh --help": "[[bash: ./foo.sh --help]]",
    "Run the bash command: echo 'Hello from hooks example!'": "[[bash: echo 'Hello from hooks example!']]",
    "Run this command: ls /nonexistent_directory": "[[bash: ls /nonexistent_directory]]",
    "to a file called important_config.txt": "[[write: {cwd}/important_config.txt :: test data]]",
    "to a file called regular_file.txt": "[[write: {cwd}/regular_file.txt :: test data]]",
    "echo 'CRITICAL ERROR: system failure'": "[[bash: echo 'CRITICAL ERROR: system failure']]",
    # include_partial_messages.py
    "Think of three jokes, then tell one": "[[thinking]]",
    # max_budget_usd.py (the tight budget is spent by the first request)
    "Read the README.md file and summarize it": '[[tool: Read :: {"file_path": "{cwd}/README.md"}]]',
    # mcp_calculator.py
    "Calculate 15 + 27": '[[tool: mcp__calc__add :: {"a": 15, "b": 27}]]',
    "What is 100 divided by 7?": '[[tool: mcp__calc__divide :: {"a": 100, "b": 7}]]',
    "Calculate the square root of 144": '[[tool: mcp__calc__sqrt :: {"n": 144}]]',
    "What is 2 raised to the power of 8?": '[[tool: mcp__calc__power :: {"base": 2, "exponent": 8}]]',
    "Calculate (12 + 8) * 3 - 10": '[[tool: mcp__calc__add :: {"a": 12, "b": 8}]]',
    # streaming_mode.py: the interrupts come 2 s after the query, between the reply's first word
    # and the rest (30 s later), so that the interrupted reply is that word whatever the timing;
    # the timeout comes 3 s after the query, during a reply streamed over 12 s
    "Count from 1 to 100 slowly": "[[stall: 30000]]",
    "Count from 1 to 20 slowly": "[[stall: 30000]]",
    "Run a bash sleep command for 5 seconds not in the background": "[[slow: 300]]",
    "Create a simple hello.txt file with a greeting message": "[[write: {cwd}/hello.txt :: Hello there!]]",
    "Run a bash echo command that says 'Hello from bash!'": "[[bash: echo 'Hello from bash!']]",
    # streaming_mode_ipython.py: the interrupt comes 10 s after the query, between the reply's
    # first word and the rest (60 s later); the CLI refuses the sleep it asks for
    "Count from 1 to 100, run bash sleep for 1 second in between": "[[stall: 60000]]",
    "Run a bash sleep command for 60 seconds": "[[bash: sleep 60]]",
    # tool_permission_callback.py: the callback allows the Bash command (one that writes: the CLI
    # allows a read-only one itself), and, the Write's path being in the scratch directory under
    # /tmp/ (which it neither refuses nor redirects), asks with input(): stdin is /dev/null, so the
    # callback raises EOFError, which both SDKs must report to the CLI
    "1. List the files in the current directory": "[[bash: ls > files.txt]] [[write: hello.py :: print('Hello, world!')]]",
}

_IMPORT = re.compile(r"^(\s*)(from|import) claude_agent_sdk\b", re.M)


def rewrite_imports(source: str) -> str:
    """The example for ccbridge: only the import lines change (`claude_agent_sdk` in a prompt stays)."""
    return _IMPORT.sub(r"\1\2 ccbridge", source)


# What the CLI makes up anew in every run: UUIDs (session ids, message uuids), the ids of the
# agents it starts (a + 16 hex digits) and of their runs, and the process id in its messaging
# socket's name; and the timings and clock times it reports.
_IDS = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\ba[0-9a-f]{16}\b"), "<agent>"),
    (re.compile(r"\b[0-9a-z]{9}-[0-9a-f]{8}\b"), "<run>"),
    (re.compile(r"(/cc-socks/)\d+(\.sock)"), r"\1<pid>\2"),
    (re.compile(r"\b(duration_ms|duration_api_ms|Duration)(['\"]?[:=] ?)\d+"), r"\1\2<ms>"),
]
_TIMING_KEYS = {"duration_ms", "duration_api_ms", "totalDurationMs", "start_time", "end_time"}


def normalize(value):
    """Masks what differs between two runs of the same example whatever the SDK (_IDS, _TIMING_KEYS)."""
    if isinstance(value, dict):
        return {k: "<time>" if k in _TIMING_KEYS and isinstance(v, (int, float)) else normalize(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, str):
        for pattern, replacement in _IDS:
            value = pattern.sub(replacement, value)
    return value


def fetch_sdist() -> Path:
    spec = importlib.util.spec_from_file_location("official_run", HERE / "official" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.fetch_sdist(VERSION, CACHE)


@pytest.fixture(scope="module")
def sdk_tree(tmp_path_factory) -> Path:
    """The sdist's tree (examples/ and the rest), unpacked once."""
    sdist = fetch_sdist()
    dest = tmp_path_factory.mktemp("sdist")
    with tarfile.open(sdist) as tar:
        tar.extractall(dest, filter="data")
    (root,) = dest.iterdir()
    return root


@dataclasses.dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    messages: list
    cli_calls: list


def start_mock(script: Path, log: Path) -> tuple[subprocess.Popen, int]:
    mock = subprocess.Popen([sys.executable, str(MOCK), "--host", "127.0.0.1", "--port", "0", "--exit-on-stdin-eof",
                             "--script", str(script), "--log", str(log)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = mock.stdout.readline()
    if not line.startswith("PORT "):
        mock.kill()
        mock.wait()
        raise RuntimeError(f"the mock did not start: {line!r}")
    return mock, int(line.split()[1])


def run_example(sdk: str, case: Case, tree: Path, work: Path, keep: Path) -> Run:
    """Runs the example with `sdk` in `work` (emptied first); keeps its files under `keep`."""
    if work.exists():
        shutil.rmtree(work)
    cwd, home, shim = work / "sdk", work / "home", work / "bin"
    shutil.copytree(tree, cwd)
    example = cwd / "examples" / case.example
    if sdk == "ccbridge":
        example.write_text(rewrite_imports(example.read_text()))
    home.mkdir()
    (home / ".claude.json").write_text(json.dumps(
        {"hasCompletedOnboarding": True, "customApiKeyResponses": {"approved": ["sk-mock"], "rejected": []}}))
    shim.mkdir()
    calls = work / "cli-calls.jsonl"
    (shim / "claude").write_text(
        "#!/bin/sh\n"
        f"\"{sys.executable}\" -c 'import json, sys; print(json.dumps(sys.argv[1:]))' \"$@\" >> '{calls}'\n"
        f"exec '{REAL}' \"$@\"\n")
    (shim / "claude").chmod(0o755)
    script = work / "mock-script.json"
    script.write_text(json.dumps({k: v.replace("{cwd}", str(cwd)) for k, v in EXAMPLE_SCRIPT.items()}))
    log = work / "messages.jsonl"
    log.touch()

    env = dict(os.environ, PATH=f"{shim}{os.pathsep}{os.environ.get('PATH', '')}", HOME=str(home),
               ANTHROPIC_API_KEY="sk-mock", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", DISABLE_TELEMETRY="1",
               DISABLE_AUTOUPDATER="1", PYTHONUNBUFFERED="1",
               # streaming_mode.py prints a set of class names, in an order that follows the hash seed
               PYTHONHASHSEED="0")
    mock, port = start_mock(script, work / "mock-requests.jsonl")
    env["ANTHROPIC_BASE_URL"] = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, str(RUNNER), sdk, str(log), str(example), *case.args], cwd=cwd, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        err += f"\n[killed after {RUN_TIMEOUT} s]"
    finally:
        mock.stdin.close()
        mock.wait()
    # Whatever the example started (its CLIs) must have ended with it.
    try:
        os.killpg(proc.pid, 0)
        leftover = True
    except ProcessLookupError:
        leftover = False
    if leftover:
        os.killpg(proc.pid, signal.SIGKILL)

    if keep.exists():
        shutil.rmtree(keep)
    keep.mkdir(parents=True)
    for name in ("messages.jsonl", "cli-calls.jsonl", "mock-requests.jsonl"):
        if (work / name).exists():
            shutil.copy(work / name, keep / name)
    (keep / "stdout.txt").write_text(out)
    (keep / "stderr.txt").write_text(err)
    messages = [json.loads(line) for line in log.read_text().splitlines()]
    cli = [json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else []
    return Run(proc.returncode if not leftover else -999, out, err, messages, cli)


def test_every_example_is_covered(sdk_tree):
    present = {p.name + ("/" if p.is_dir() else "") for p in (sdk_tree / "examples").iterdir()}
    covered = {c.example for c in CASES} | set(NOT_APPLICABLE)
    assert present == covered


def test_rewrite_touches_only_import_lines(sdk_tree):
    for case in {c.example for c in CASES}:
        before = (sdk_tree / "examples" / case).read_text().splitlines()
        after = rewrite_imports("\n".join(before)).splitlines()
        changed = [(a, b) for a, b in zip(before, after) if a != b]
        assert changed and all(re.match(r"\s*(from|import) ccbridge\b", b) for _, b in changed), case
        assert len(before) == len(after)


def error(run: Run) -> str:
    """The exception that ended a failed run (the traceback's last line, the SDK's package name masked)."""
    if run.returncode == 0:
        return ""
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    return re.sub(r"^(claude_agent_sdk|ccbridge)\.", "<sdk>.", lines[-1]) if lines else ""


def _diff(name: str, a, b) -> str:
    if not isinstance(a, str):
        a, b = (json.dumps(x, indent=1, ensure_ascii=False) for x in (a, b))
    return "\n".join(difflib.unified_diff(a.splitlines(), b.splitlines(), "official " + name, "ccbridge " + name,
                                          lineterm="", n=2))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_example_same_as_official(case, sdk_tree, tmp_path):
    work = tmp_path / "run"
    official = run_example("claude_agent_sdk", case, sdk_tree, work, tmp_path / "official")
    ours = run_example("ccbridge", case, sdk_tree, work, tmp_path / "ccbridge")
    where = f"(both runs' output, messages and CLI command lines are under {tmp_path})"
    # Both found the pinned CLI through the shim.
    assert official.cli_calls and ours.cli_calls, where
    assert official.messages, where
    # The official run ends as it should (some examples end with the SDK's exception), and ours
    # the same way.
    assert (official.returncode, error(official)) == ((1, ENDS_WITH[case.id]) if case.id in ENDS_WITH else (0, "")), \
        f"the official SDK's run did not end as expected {where}:\n{official.stderr[-3000:]}"
    assert (ours.returncode, error(ours)) == (official.returncode, error(official)), \
        f"ccbridge's run did not end as the official one {where}:\n{ours.stderr[-3000:]}"
    a, b = normalize(official.messages), normalize(ours.messages)
    assert a == b, f"the messages differ {where}:\n{_diff('messages', a, b)}"
    a, b = normalize(official.stdout), normalize(ours.stdout)
    assert a == b, f"stdout differs {where}:\n{_diff('stdout', a, b)}"
