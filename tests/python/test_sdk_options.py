"""Options whose types came with the official SDK's names reach the CLI as the SDK sends them.

Each case runs the same query through claude_agent_sdk and through ccbridge on the fake CLI
(tests/support/FAKE_CLI.md), which records its argv (dump_invocation) and every stdin line
(CCB_FAKE_STDIN_LOG); the test compares what the CLI got: agents (AgentDefinition) in the
initialize request, sandbox merged into --settings, thinking and task_budget flags, client_app in
the environment, verbatim_prompts on the user messages, forward_subagent_text in initialize. Also:
CanUseToolShadowedWarning and the verbatim_prompts warning are issued when and as the SDK issues
them, and a Transport is refused.
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

    def run(prompt="hi", extra_env=None, with_env=False, **fields):
        """`prompt`: a string, or a function of the module giving a list of message dicts (streamed);
        with_env: (argv, stdin lines, env) for each."""
        out = {}
        for label, mod in (("sdk", sdk), ("ccbridge", ccbridge)):
            count[0] += 1
            inv, log = tmp_path / f"inv{count[0]}.json", tmp_path / f"stdin{count[0]}.log"
            env = {"CCB_FAKE_SCRIPT_TEXT": f"dump_invocation {inv}\nserve_turns", "CCB_FAKE_STDIN_LOG": str(log),
                   "CCB_TEST_TAG": tag, **(extra_env or {})}
            own = {k: (v(mod) if callable(v) else v) for k, v in fields.items()}
            opts = mod.ClaudeAgentOptions(cli_path=FAKE, env=env, cwd=str(tmp_path), **own)

            async def stream(messages):
                for m in messages:
                    yield m

            async def main():
                p = prompt if isinstance(prompt, str) else stream(prompt(mod))
                return [m async for m in mod.query(prompt=p, options=opts)]

            messages = asyncio.run(asyncio.wait_for(main(), RUN_TIMEOUT))
            assert type(messages[-1]).__name__ == "ResultMessage", label
            lines = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
            invocation = json.loads(inv.read_text())
            out[label] = (invocation["argv"], lines) + ((invocation["env"],) if with_env else ())
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


# ---- client_app, verbatim_prompts, forward_subagent_text -----------------------------------

APP_VARS = ("CLAUDE_AGENT_SDK_CLIENT_APP", "CLAUDE_AGENT_SDK_DERIVED_CLIENT_APP")


@pytest.mark.parametrize("client_app, extra_env", [
    ("my-app/1.2.3", {}),
    ("my-app/1.2.3", {"CLAUDE_AGENT_SDK_CLIENT_APP": "from-env/1", "CLAUDE_AGENT_SDK_DERIVED_CLIENT_APP": "x/1"}),
    ("", {}),
    (None, {"CLAUDE_AGENT_SDK_CLIENT_APP": "from-env/1"}),
    (None, {}),
], ids=["set", "wins-over-env", "empty", "env-only", "unset"])
def test_client_app_reaches_the_cli_env_as_the_sdk_sets_it(run_both, monkeypatch, client_app, extra_env):
    """client_app wins over env; a derived label is dropped, inherited or given in env."""
    monkeypatch.setenv("CLAUDE_AGENT_SDK_DERIVED_CLIENT_APP", "outer-app/9")
    got = run_both(client_app=client_app, extra_env=extra_env, with_env=True)
    seen = {label: {k: env.get(k) for k in APP_VARS} for label, (_, _, env) in got.items()}
    assert seen["ccbridge"] == seen["sdk"]
    expected = client_app if client_app is not None else extra_env.get(APP_VARS[0])
    assert seen["sdk"] == {APP_VARS[0]: expected, APP_VARS[1]: None}


def user_lines(lines):
    """Each user message sent: its text and its client_composed value (absent: None)."""
    return [(x["message"]["content"], x.get("client_composed")) for x in lines if x.get("type") == "user"]


def streamed(mod):
    return [{"type": "user", "message": {"role": "user", "content": "plain"}},
            {"type": "user", "message": {"role": "user", "content": "composed"}, "client_composed": True}]


@pytest.mark.parametrize("verbatim", [True, False])
@pytest.mark.parametrize("prompt", ["hi @/etc/passwd", streamed], ids=["string", "streamed"])
def test_verbatim_prompts_mark_the_user_messages_as_the_sdk_marks_them(run_both, verbatim, prompt):
    got = run_both(prompt=prompt, verbatim_prompts=verbatim)
    sent = {label: user_lines(lines) for label, (_, lines) in got.items()}
    assert sent["ccbridge"] == sent["sdk"]
    if isinstance(prompt, str):
        assert sent["sdk"] == [(prompt, True if verbatim else None)]
    else:
        assert sent["sdk"] == [("plain", True if verbatim else None), ("composed", True)]


def test_verbatim_prompts_through_the_client(fake_options, tmp_path):
    log = tmp_path / "stdin.log"
    options = fake_options("serve_turns", env={"CCB_FAKE_STDIN_LOG": str(log)}, verbatim_prompts=True)

    async def main():
        async with ccbridge.ClaudeSDKClient(options) as client:
            for prompt in ("one", "two"):
                await client.query(prompt)
                [m async for m in client.receive_response()]

    asyncio.run(asyncio.wait_for(main(), RUN_TIMEOUT))
    lines = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
    assert user_lines(lines) == [("one", True), ("two", True)]


@pytest.mark.parametrize("fields", [
    {"forward_subagent_text": True},
    {"forward_subagent_text": True, "agents": agents_for},
    {"forward_subagent_text": False, "agents": agents_for},  # agents: initialize is sent by both
], ids=["alone", "with-agents", "off"])
def test_forward_subagent_text_goes_in_initialize_as_the_sdk_sends_it(run_both, fields):
    got = run_both(**fields)
    requests = {label: initialize_request(lines) for label, (_, lines) in got.items()}
    assert requests["ccbridge"] == requests["sdk"]
    assert requests["sdk"].get("forwardSubagentText") is (True if fields["forward_subagent_text"] else None)
    assert list(requests["ccbridge"]) == list(requests["sdk"]), "the members' order"


INIT_2_1_330 = ('{"type":"system","subtype":"init","session_id":"s","uuid":"u1","cwd":"/","tools":[],'
                '"model":"m","permissionMode":"default","claude_code_version":"2.1.330"}')
DONE = ('{"type":"result","subtype":"success","is_error":false,"duration_ms":1,"duration_api_ms":1,"num_turns":1,'
        '"session_id":"s","result":"ok","uuid":"u2"}')


@pytest.mark.parametrize("script, warns", [
    ("serve_turns", True),  # its init names no version: counted as too old, as the SDK counts it
    (f"wait_user\nemit {INIT_2_1_330}\nemit {DONE}\nwait_eof", False),
], ids=["old-cli", "new-cli"])
def test_verbatim_prompts_on_an_old_cli_warn_as_the_sdk_warns(tag, caplog, script, warns):
    if not FAKE:
        pytest.skip("the fake CLI is not built (set CCB_FAKE_CLI)")
    got = {}
    for mod in (sdk, ccbridge):
        options = mod.ClaudeAgentOptions(cli_path=FAKE, env={"CCB_FAKE_SCRIPT_TEXT": script, "CCB_TEST_TAG": tag},
                                         verbatim_prompts=True)

        async def main():
            return [m async for m in mod.query(prompt="hi", options=options)]

        caplog.clear()
        with caplog.at_level("WARNING"):
            asyncio.run(asyncio.wait_for(main(), RUN_TIMEOUT))
        got[mod.__name__] = [r.getMessage() for r in caplog.records if "verbatim_prompts" in r.getMessage()]
    assert got["ccbridge"] == got["claude_agent_sdk"]
    assert len(got["claude_agent_sdk"]) == int(warns)


def test_forward_subagent_text_is_refused_by_the_engines_one_shot_query():
    """The C++ engine's plain run sends no initialize, so it refuses the option (the package
    takes a session for it, as above)."""
    from ccbridge import _ccbridge

    with pytest.raises(_ccbridge.Error, match="forward_subagent_text.*Session"):
        _ccbridge.query("hi", False, json.dumps({"forward_subagent_text": True, "cli_path": FAKE or "/bin/true"}), None)
