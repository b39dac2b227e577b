"""Options whose types came with the official SDK's names reach the CLI as the SDK sends them.

Each case runs the same query through claude_agent_sdk and through ccbridge on the fake CLI
(tests/support/FAKE_CLI.md), which records its argv (dump_invocation) and every stdin line
(CCB_FAKE_STDIN_LOG); the test compares what the CLI got: agents (AgentDefinition) in the
initialize request, sandbox merged into --settings, thinking and task_budget flags. Also:
CanUseToolShadowedWarning is issued when and as the SDK issues it, and a Transport is refused.
"""

import asyncio
import json
import warnings

import pytest

sdk = pytest.importorskip("claude_agent_sdk")
import ccbridge  # noqa: E402
from conftest import FAKE  # noqa: E402

RUN_TIMEOUT = 30.0


@pytest.fixture
def run_both(tmp_path, tag):
    """run_both(**fields) -> {"sdk": (argv, stdin lines), "ccbridge": (...)}, one query each; a
    field given as a function of the module (sdk or ccbridge) is called with it."""
    if not FAKE:
        pytest.skip("the fake CLI is not built (set CCB_FAKE_CLI)")
    count = [0]

    def run(**fields):
        out = {}
        for label, mod in (("sdk", sdk), ("ccbridge", ccbridge)):
            count[0] += 1
            inv, log = tmp_path / f"inv{count[0]}.json", tmp_path / f"stdin{count[0]}.log"
            env = {"CCB_FAKE_SCRIPT_TEXT": f"dump_invocation {inv}\nserve_turns", "CCB_FAKE_STDIN_LOG": str(log),
                   "CCB_TEST_TAG": tag}
            own = {k: (v(mod) if callable(v) else v) for k, v in fields.items()}
            opts = mod.ClaudeAgentOptions(cli_path=FAKE, env=env, cwd=str(tmp_path), **own)

            async def main():
                return [m async for m in mod.query(prompt="hi", options=opts)]

            messages = asyncio.run(asyncio.wait_for(main(), RUN_TIMEOUT))
            assert type(messages[-1]).__name__ == "ResultMessage", label
            lines = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
            out[label] = (json.loads(inv.read_text())["argv"], lines)
        return out

    return run


def flag_values(argv, name):
    """The values given to --name, as `--name value` or `--name=value`."""
    out = []
    for i, a in enumerate(argv):
        if a.startswith(f"--{name}="):
            out.append(a.split("=", 1)[1])
        elif a == f"--{name}":
            out.append(argv[i + 1])
    return out


def initialize_request(lines):
    return next(x["request"] for x in lines if x.get("type") == "control_request"
                and x["request"].get("subtype") == "initialize")


# ---- agents --------------------------------------------------------------------------------


def agents_for(mod):
    return {
        "reviewer": mod.AgentDefinition(
            description="Reviews code", prompt="You review code.", tools=["Read", "Grep"], model="sonnet",
            mcpServers=["github", {"local": {"command": "srv"}}], maxTurns=3, effort="high",
            permissionMode="plan", memory="project",
        ),
        "writer": mod.AgentDefinition(description="Writes", prompt="You write."),
    }


def test_agents_reach_the_cli_in_initialize_as_the_sdk_sends_them(run_both):
    got = {}
    for label, (argv, lines) in run_both(agents=agents_for).items():
        assert flag_values(argv, "agents") == [], label
        got[label] = initialize_request(lines)["agents"]
    assert got["ccbridge"] == got["sdk"]
    assert got["sdk"]["writer"] == {"description": "Writes", "prompt": "You write."}


def test_an_agent_of_another_type_is_refused(fake_options):
    options = fake_options("serve_turns", agents={"x": "not an agent"})
    with pytest.raises(ccbridge.InvalidOptionError, match=r"agents\['x'\] must be an AgentDefinition"):
        list(ccbridge.query(prompt="hi", options=options))


def test_agents_given_as_dicts_are_sent_as_they_are(fake_options, tmp_path):
    log = tmp_path / "stdin.log"
    options = fake_options("serve_turns", env={"CCB_FAKE_STDIN_LOG": str(log)},
                           agents={"a": {"description": "d", "prompt": "p", "model": None}})
    list(ccbridge.query(prompt="hi", options=options))
    lines = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
    assert initialize_request(lines)["agents"] == {"a": {"description": "d", "prompt": "p"}}


# ---- sandbox, thinking, task budget --------------------------------------------------------

SANDBOX = {
    "enabled": True,
    "autoAllowBashIfSandboxed": False,
    "excludedCommands": ["docker"],
    "network": {"allowUnixSockets": ["/var/run/docker.sock"], "allowLocalBinding": True, "httpProxyPort": 8080},
    "ignoreViolations": {"*": ["/etc/hosts"]},
}


@pytest.mark.parametrize("settings", [None, "inline", "file"])
def test_sandbox_is_merged_into_settings_as_the_sdk_merges_it(run_both, tmp_path, settings):
    value = None
    if settings == "inline":
        value = json.dumps({"model": "m", "sandbox": {"enabled": False}, "permissions": {"allow": ["Read"]}})
    elif settings == "file":
        (tmp_path / "s.json").write_text(json.dumps({"env": {"A": "1"}}))
        value = "s.json"  # relative to cwd
    got = run_both(sandbox=SANDBOX, settings=value)
    sent = {label: [json.loads(v) for v in flag_values(argv, "settings")] for label, (argv, _) in got.items()}
    assert sent["ccbridge"] == sent["sdk"]
    assert sent["sdk"][0]["sandbox"] == SANDBOX


def test_settings_without_a_sandbox_pass_as_they_are(run_both):
    got = run_both(settings="my-settings.json")
    assert flag_values(got["ccbridge"][0], "settings") == flag_values(got["sdk"][0], "settings") == ["my-settings.json"]


THINKING_FLAGS = ("thinking", "max-thinking-tokens", "thinking-display")


@pytest.mark.parametrize("fields", [
    {"thinking": {"type": "adaptive"}},
    {"thinking": {"type": "adaptive", "display": "summarized"}},
    {"thinking": {"type": "enabled", "budget_tokens": 2048, "display": "omitted"}},
    {"thinking": {"type": "disabled"}},
    {"max_thinking_tokens": 1000},
    {"thinking": {"type": "disabled"}, "max_thinking_tokens": 1000},
    {"task_budget": {"total": 5000}},
], ids=lambda f: json.dumps(f))
def test_thinking_and_task_budget_flags_match_the_sdk(run_both, fields):
    got = run_both(**fields)
    flags = {label: {f: flag_values(argv, f) for f in THINKING_FLAGS + ("task-budget",)}
             for label, (argv, _) in got.items()}
    assert flags["ccbridge"] == flags["sdk"]
    assert any(flags["sdk"].values()), "the case sets no flag at all"


# ---- CanUseToolShadowedWarning -------------------------------------------------------------


async def _allow(tool_name, tool_input, context):
    return None  # never asked: serve_turns asks for no permission


def _shadow_warnings(mod, options):
    async def main():
        return [m async for m in mod.query(prompt="hi", options=options)]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(asyncio.wait_for(main(), RUN_TIMEOUT))
    return [str(w.message) for w in caught if issubclass(w.category, mod.CanUseToolShadowedWarning)]


@pytest.mark.parametrize("fields, warns", [
    ({"allowed_tools": ["Read", "Read(*)", "Bash(ls:*)", "Grep()", "(x)", " "]}, True),
    ({"permission_mode": "bypassPermissions", "allowed_tools": ["Read"]}, True),
    ({"skills": "all"}, True),
    ({"allowed_tools": ["Bash(ls:*)", "Read(/tmp/*)"]}, False),
], ids=["whole-tools", "bypass", "skills-all", "none"])
def test_can_use_tool_shadowed_warning_as_the_sdk_issues_it(tag, fields, warns):
    if not FAKE:
        pytest.skip("the fake CLI is not built (set CCB_FAKE_CLI)")
    env = {"CCB_FAKE_SCRIPT_TEXT": "serve_turns", "CCB_TEST_TAG": tag}
    got = {}
    for mod in (sdk, ccbridge):
        got[mod.__name__] = _shadow_warnings(mod, mod.ClaudeAgentOptions(cli_path=FAKE, env=env, can_use_tool=_allow,
                                                                            **fields))
    assert got["ccbridge"] == got["claude_agent_sdk"]
    assert len(got["claude_agent_sdk"]) == int(warns), got


def test_the_client_warns_on_connect(fake_options):
    options = fake_options("serve_turns", can_use_tool=_allow, allowed_tools=["Write"])

    async def main():
        async with ccbridge.ClaudeSDKClient(options):
            pass

    with pytest.warns(ccbridge.CanUseToolShadowedWarning, match="not be invoked for: Write"):
        asyncio.run(asyncio.wait_for(main(), RUN_TIMEOUT))


# ---- Transport -----------------------------------------------------------------------------


class _Nowhere(ccbridge.Transport):
    async def connect(self):
        pass

    async def write(self, data):
        pass

    def read_messages(self):
        raise AssertionError("never read")

    async def close(self):
        pass

    def is_ready(self):
        return False

    async def end_input(self):
        pass


def test_transport_is_abstract_like_the_sdks():
    with pytest.raises(TypeError):
        ccbridge.Transport()  # type: ignore[abstract]
    assert isinstance(_Nowhere(), ccbridge.Transport)


def test_a_custom_transport_is_refused_with_the_reason():
    with pytest.raises(NotImplementedError, match="Transport.*C\\+\\+ engine"):
        ccbridge.query(prompt="hi", transport=_Nowhere())
    with pytest.raises(NotImplementedError, match="Transport.*C\\+\\+ engine"):
        ccbridge.ClaudeSDKClient(transport=_Nowhere())
