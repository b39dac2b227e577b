"""Between the SDK-shaped Python API and the C++ engine: options to JSON, Python callbacks (sync
or async) made callable from ccbridge threads, and message pumping for sync and async iteration."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import logging
import os
import re
import weakref
from pathlib import Path
import warnings
from typing import Any, AsyncIterator, Callable, Dict, Iterator, List, Optional, Tuple, cast

from . import _ccbridge
from ._aio import Loop, in_thread
from ._errors import ClaudeSDKError, CLIJSONDecodeError, InvalidOptionError, ProcessError, ResultError, from_engine, normalize_errors
from ._parse import parse_message
from .types import (
    AgentDefinition,
    AssistantMessage,
    ServerToolResultBlock,
    ServerToolUseBlock,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    CanUseToolShadowedWarning,
    ClaudeAgentOptions,
    Message,
    PermissionResultAllow,
    PermissionResultDeny,
    PermissionUpdate,
    ToolPermissionContext,
)

log = logging.getLogger("ccbridge")

# Fields that are not JSON options: callbacks, and settings the Python layer handles itself.
_NOT_JSON = {
    "debug_stderr", "stderr", "can_use_tool", "hooks", "agents", "load_timeout_ms", "control_timeout_ms", "mcp_servers",
    "session_store", "session_store_flush",
}
_DEFAULTS = {f.name: (f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default)
             for f in dataclasses.fields(ClaudeAgentOptions)}

BATCH = 512  # messages taken from the engine per call

TRANSPORT_REFUSED = (
    "ccbridge does not take a Transport: its C++ engine starts the Claude Code CLI and speaks the control protocol "
    "itself, so there is no Python transport to replace (see docs/PYTHON.md, deliberate differences)"
)

# Every engine run and session still open, so that none outlives the interpreter.
_live: "weakref.WeakSet[Any]" = weakref.WeakSet()


def track(obj: Any) -> Any:
    _live.add(obj)
    return obj


def close_all() -> None:
    """Ends every run and session still open (at interpreter exit)."""
    for obj in list(_live):
        try:
            obj.close()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


def call(fn: Callable[..., Any], *args: Any) -> Any:
    """Calls the engine, turning its errors into the SDK's exception classes."""
    try:
        return fn(*args)
    except _ccbridge.Error as e:
        raise from_engine(e) from None


def text(value: Any, what: str) -> str:
    """`value` as a str that can be sent (valid UTF-8), or InvalidOptionError saying why not."""
    if not isinstance(value, str):
        raise InvalidOptionError(f"{what} must be a str, not {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise InvalidOptionError(f"{what} is not valid Unicode text (lone surrogate at {e.start})") from None
    return value


def _plain(v: Any) -> Any:
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


class Prepared:
    """What the engine needs for one run: options JSON and the callbacks."""

    def __init__(self, options: ClaudeAgentOptions, loop: Optional[Loop]):
        o = options
        data: Dict[str, Any] = {}
        for name, default in _DEFAULTS.items():
            if name in _NOT_JSON:
                continue
            value = getattr(o, name)
            if value != default:
                data[name] = _plain(value)
        external: Dict[str, Any] = {}
        self.tool_servers: List[Tuple[str, str, List[Tuple[str, str, str, Callable[..., Any], str, str]]]] = []
        if isinstance(o.mcp_servers, (str, Path)):
            data["mcp_servers"] = str(o.mcp_servers)
        else:
            for name, cfg in (o.mcp_servers or {}).items():
                if isinstance(cfg, dict) and cfg.get("type") == "sdk":
                    instance: Any = cast(Dict[str, Any], cfg).get("instance")
                    if not hasattr(instance, "_engine_spec"):
                        raise TypeError(
                            f"mcp_servers[{name!r}]: the instance of an in-process server must come from "
                            f"create_sdk_mcp_server() (ccbridge serves its tools itself and does not run "
                            f"{type(instance).__name__} objects such as mcp.server.Server)")
                    self.tool_servers.append(instance._engine_spec(name, loop))
                else:
                    external[name] = _plain(cfg)
            if external:
                data["mcp_servers"] = external
        # Subagents go in the initialize request, as the SDK sends them: without the fields left None.
        init: Dict[str, Any] = {}
        if o.agents:
            init["agents"] = {name: _agent_fields(name, a) for name, a in o.agents.items()}
        self.initialize_fields = json.dumps(init) if init else ""
        self.forward_subagent_text = o.forward_subagent_text  # sent in initialize by the engine
        self.options_json = text(json.dumps(data, ensure_ascii=False), "the options")
        self.on_stderr = o.stderr
        if o.can_use_tool:
            _warn_if_can_use_tool_shadowed(o)
        self.can_use_tool = _permission_bridge(o.can_use_tool, loop) if o.can_use_tool else None
        self.hooks = _hooks_bridge(o.hooks or {}, loop)
        self.mirror = o.session_store is not None  # --session-mirror, its frames kept for the store
        self.initialize_timeout = max(o.load_timeout_ms, 1) / 1000.0
        self.control_timeout = max(o.control_timeout_ms, 1) / 1000.0

    @property
    def needs_session(self) -> bool:
        """Callbacks and initialize's fields need the control protocol, so a Session rather than a
        plain run."""
        return bool(self.can_use_tool or self.hooks or self.tool_servers or self.initialize_fields
                    or self.forward_subagent_text)

    def open_session(self) -> Any:
        try:
            session = _ccbridge.open_session(
                self.options_json, self.on_stderr, self.can_use_tool, self.hooks, self.tool_servers,
                True, self.initialize_timeout, self.control_timeout, self.initialize_fields, self.mirror,
            )
        except _ccbridge.Error as e:
            # The CLI exited before it answered initialize (an unknown resume id): the SDK's
            # initialize fails with the run's error, a ResultError if it ended on an error result.
            outcome = e.args[4] if len(e.args) > 4 else None
            exc = outcome_error(outcome, outcome["last_error_result"]) if outcome else None
            raise (exc or from_engine(e)) from None
        return track(session)

    def start_query(self, prompt: str) -> Any:
        return track(call(_ccbridge.query, text(prompt, "the prompt"), False, self.options_json, self.on_stderr,
                          self.mirror))


def _agent_fields(name: str, agent: Any) -> Dict[str, Any]:
    """An AgentDefinition (or a dict of its fields) as the CLI takes it."""
    if isinstance(agent, AgentDefinition):
        fields = dataclasses.asdict(agent)
    elif isinstance(agent, dict):
        fields = dict(agent)
    else:
        raise InvalidOptionError(f"agents[{name!r}] must be an AgentDefinition, not {type(agent).__name__}")
    return {k: _plain(v) for k, v in fields.items() if v is not None}


def _whole_tool(entry: str) -> Optional[str]:
    """The tool an allowed_tools entry allows for every input ("Read", "Read()", "Read(*)"), as the
    CLI reads rules; None for an entry with a real specifier ("Bash(ls:*)") or a malformed one."""
    if not entry.strip():
        return None
    open_at = entry.find("(")
    if open_at == -1:
        return entry
    if open_at == 0 or not entry.endswith(")"):
        return None
    return entry[:open_at] if entry[open_at + 1:-1] in ("", "*") else None


def _warn_if_can_use_tool_shadowed(o: ClaudeAgentOptions) -> None:
    """CanUseToolShadowedWarning when options visibly approve tool calls before can_use_tool is
    asked, with the SDK's texts (a warning filter may match them)."""
    if o.permission_mode == "bypassPermissions":
        message = ("can_use_tool will not be invoked: permission_mode 'bypassPermissions' auto-approves every tool "
                   "call (except explicit deny rules) before the callback is consulted. To gate every tool call, "
                   "use a PreToolUse hook instead.")
    else:
        allowed = list(o.allowed_tools)
        if o.skills == "all" and "Skill" not in allowed:
            allowed.append("Skill")  # skills="all" allows the whole Skill tool
        shadowed = list(dict.fromkeys(t for t in map(_whole_tool, allowed) if t is not None))
        if not shadowed:
            return
        message = (f"can_use_tool will not be invoked for: {', '.join(shadowed)}. An allowed_tools entry that "
                   "allows a whole tool auto-approves it before the callback is consulted. To gate every tool "
                   "call, use a PreToolUse hook; or narrow the entry so calls fall through to can_use_tool. Allow "
                   "rules from settings files can also shadow the callback but are not visible here.")
    warnings.warn(message, CanUseToolShadowedWarning, stacklevel=3)


# ---- running Python callables from ccbridge threads -------------------------------------------


def run_callable(fn: Callable[..., Any], loop: Optional[Loop], *args: Any) -> Any:
    """Calls fn on this (ccbridge callback) thread; an awaitable result is run on the caller's
    event loop when there is one (so it may touch loop-bound objects), else on a private loop.
    Blocking here is fine: callback threads are not I/O threads."""
    r = fn(*args)
    if not inspect.isawaitable(r):
        return r
    if loop is not None:
        return loop.run(r)

    async def wait() -> Any:
        return await r

    return asyncio.run(wait())


def _permission_bridge(user_cb: Callable[..., Any], loop: Optional[Loop]) -> Callable[..., None]:
    def answer(reply: Any, result: Any) -> None:
        if isinstance(result, PermissionResultAllow):
            perms = None
            if result.updated_permissions:
                perms = json.dumps([u.to_dict() for u in result.updated_permissions])
            reply.allow(None if result.updated_input is None else json.dumps(result.updated_input), perms)
        elif isinstance(result, PermissionResultDeny):
            reply.deny(result.message, result.interrupt)
        else:
            raise TypeError(f"can_use_tool must return PermissionResultAllow or PermissionResultDeny, not {type(result).__name__}")

    def bridge(tool_name: str, tool_input: Dict[str, Any], request: Dict[str, Any], reply: Any) -> None:
        ctx = ToolPermissionContext(
            signal=None,
            suggestions=[PermissionUpdate.from_dict(s) for s in request.get("permission_suggestions") or [] if isinstance(s, dict)],
            tool_use_id=request.get("tool_use_id"),
            agent_id=request.get("agent_id"),
            blocked_path=request.get("blocked_path"),
            decision_reason=request.get("decision_reason"),
            title=request.get("title"),
            display_name=request.get("display_name"),
            description=request.get("description"),
        )
        r = user_cb(tool_name, tool_input, ctx)
        if not inspect.isawaitable(r):
            answer(reply, r)
            return
        if loop is None:
            async def wait() -> Any:
                return await r

            answer(reply, asyncio.run(wait()))
            return

        def done(result: Any, error: Optional[BaseException]) -> None:
            # On the loop once the coroutine is over (this thread is free meanwhile). The CLI waits
            # for an answer: a failure is answered too (an error response with its text, as for a
            # synchronous callback that raises), cancellation included (e.g. the loop is closing).
            if error is None:
                try:
                    answer(reply, result)
                    return
                except Exception as e:  # noqa: BLE001 - answered below, then logged
                    error = e
            if isinstance(error, Exception):
                reply.fail(str(error) or type(error).__name__)
                log.error("can_use_tool failed for %s", tool_name, exc_info=error)
            else:
                log.debug("can_use_tool for %s was cancelled", tool_name)
                reply.fail("the permission callback was cancelled")

        loop.submit(r, done)

    return bridge


def _hook_output(out: Any) -> Optional[Dict[str, Any]]:
    if out is None:
        return None
    if not isinstance(out, dict):
        raise TypeError(f"a hook must return a dict, not {type(out).__name__}")
    wire: Dict[str, Any] = {}
    for k, v in out.items():
        key = {"continue_": "continue", "async_": "async"}.get(str(k), str(k))
        wire[key] = json.dumps(v) if key == "hookSpecificOutput" else v
    return wire


def _hooks_bridge(hooks: Dict[str, List[Any]], loop: Optional[Loop]) -> Dict[str, List[Tuple[Any, ...]]]:
    out: Dict[str, List[Tuple[Any, ...]]] = {}
    for event, matchers in hooks.items():
        for m in matchers:
            def wrap(cb: Callable[..., Any]) -> Callable[[Dict[str, Any], Optional[str]], Any]:
                return lambda data, tool_use_id: _hook_output(run_callable(cb, loop, data, tool_use_id, {"signal": None}))

            out.setdefault(event, []).append((m.matcher, [wrap(cb) for cb in m.hooks], m.timeout))
    return out


# ---- messages ----------------------------------------------------------------------------------


# The engine makes AssistantMessage instances itself (bindings/python/src/py_messages.hpp, with
# _parse.py's rules); every other message comes as the line's dict and is parsed here.
_ccbridge._set_message_classes(AssistantMessage, TextBlock, ThinkingBlock, ToolUseBlock, ServerToolUseBlock,
                               ServerToolResultBlock)


def convert(item: Any) -> Optional[Message]:
    if type(item) is AssistantMessage:
        return item
    if isinstance(item, tuple):  # ("invalid_line", error id, description, line)
        raise CLIJSONDecodeError(item[3], ValueError(f"{item[1]}: {item[2]}"))
    return parse_message(item)


# The first Claude Code that honours client_composed (ClaudeAgentOptions.verbatim_prompts).
VERBATIM_PROMPTS_MINIMUM_CLI = "2.1.248"


def _version_below(version: Any, minimum: str) -> bool:
    """Whether a CLI version ("2.1.330 (Claude Code)", "2.1.330") is below `minimum`; one that
    reads as no version at all counts as below, as the SDK counts it."""
    m = re.match(r"(\d{1,9})\.(\d{1,9})\.(\d{1,9})", str(version))
    return not m or [int(x) for x in m.groups()] < [int(x) for x in minimum.split(".")]


class Tracker:
    """What the end of a run needs to know about its messages: the error result it ended on, if
    any. Like the SDK, only a result with is_error that nothing else followed (but the CLI's
    session_state_changed marker) counts; then a non-zero exit becomes a ResultError. With
    verbatim_prompts it also warns, as the SDK does, when the CLI's first system/init shows a
    version that ignores them."""

    def __init__(self, options: Optional[ClaudeAgentOptions] = None) -> None:
        self.last_error_result: Optional[Dict[str, Any]] = None
        self._options = options if options is not None and options.verbatim_prompts else None
        # An error result that comes first on a resume is held back (see release()).
        self._hold_first = bool(options is not None and options.resume)
        self.held: Optional[Dict[str, Any]] = None

    def release(self, outcome: Optional[Dict[str, Any]]) -> Iterator[Message]:
        """The held error result at the end of the run, unless the resume failed: the CLI reports
        an unknown resume id before it answers initialize, so the SDK's initialize fails and it
        yields nothing (its ResultError carries the result)."""
        held, self.held = self.held, None
        if held is not None and not (outcome and outcome["error"] == "session_not_found"):
            m = convert(held)
            if m is not None:
                yield m

    def observe(self, item: Any) -> None:
        if type(item) is AssistantMessage:  # made by the engine: neither a result nor an init
            self._hold_first = False
            self.last_error_result = None
            return
        if not isinstance(item, dict):
            return
        t = item.get("type")
        if self._hold_first:
            self._hold_first = False
            if t == "result" and item.get("is_error"):
                self.held = item
        if self._options is not None and t == "system" and item.get("subtype") == "init":
            o, self._options = self._options, None  # the first init only
            version = item.get("claude_code_version")
            if _version_below(version, VERBATIM_PROMPTS_MINIMUM_CLI):
                log.warning(
                    "verbatim_prompts is enabled, but Claude Code version %s at %s ignores it: prompts will still "
                    "have @path mentions expanded and slash commands dispatched. Claude Code %s or later is "
                    "required.", version or "unknown", o.cli_path or "claude", VERBATIM_PROMPTS_MINIMUM_CLI)
        if t == "result":
            self.last_error_result = item if item.get("is_error") else None
        elif not (t == "system" and item.get("subtype") == "session_state_changed"):
            self.last_error_result = None


def _error_result_text(d: Dict[str, Any]) -> str:
    errors = normalize_errors(d.get("errors"))
    if errors:
        return "; ".join(errors)
    result = d.get("result")
    if isinstance(result, str) and result.strip():
        return result.strip()
    sub = d.get("subtype")
    if isinstance(sub, str) and sub and sub != "success":
        return sub
    if d.get("api_error_status") is not None:
        return f"API error (HTTP {d['api_error_status']})"
    return "unknown error"


def raise_for_outcome(outcome: Optional[Dict[str, Any]], tracker: Optional[Tracker] = None) -> None:
    """The SDK's error at the end of a failed run."""
    exc = outcome_error(outcome, tracker.last_error_result if tracker else None)
    if exc is not None:
        raise exc


def outcome_error(outcome: Optional[Dict[str, Any]], last: Optional[Dict[str, Any]]) -> Optional[ClaudeSDKError]:
    """The SDK's error for a run's outcome (None: it did not fail); `last`: the error result the
    run ended on, if any."""
    if not outcome or outcome["ok"] or outcome["error"] == "cancelled":
        return None
    # As the SDK reports it: the exit code, or minus the signal that killed the CLI.
    code = -outcome["signal"] if outcome["signal"] else outcome["exit_code"]
    exc: ClaudeSDKError
    # session_not_found is the engine's name for one kind of non-zero exit (resume of an unknown id).
    if outcome["error"] in ("process_failed", "session_not_found"):
        if last is not None:
            exc = ResultError(f"Claude Code returned an error result: {_error_result_text(last)}", data=last, exit_code=code)
        else:
            exc = ProcessError(outcome["message"] or "Command failed", exit_code=code, stderr=outcome["stderr_tail"] or None)
        exc.code = outcome["error"]
        return exc
    exc = ClaudeSDKError(outcome["message"])
    exc.code = outcome["error"]
    return exc


def is_result(item: Any) -> bool:
    return isinstance(item, dict) and item.get("type") == "result"


def mirror_errors(mirror: Any) -> Iterator[Message]:
    """The MirrorErrorMessages of a session_store's failed appends, reported since last asked."""
    for d in mirror.pop_errors():
        m = convert(d)
        if m is not None:
            yield m


def pump(source: Any, tracker: Tracker, timeout: float = -1.0, mirror: Any = None) -> Iterator[Message]:
    """Typed messages from an engine Stream or Session until it ends. `mirror`: the run's
    session_store mirror (a BlockingMirror), flushed before a result is yielded and at the end."""
    while True:
        batch = call(source.next_batch, BATCH, timeout)
        if batch is None:
            if mirror is not None:
                mirror.flush(source)  # the CLI is gone: its last frames too
                yield from mirror_errors(mirror)
            return
        if mirror is not None:
            mirror.take(source)
        for item in batch:
            tracker.observe(item)
            if tracker.held is not None:
                if tracker.held is item:
                    continue
                yield from tracker.release(None)  # something followed: it goes out first
            if mirror is not None:
                if is_result(item):
                    mirror.flush(source)  # whoever sees the result finds the turn in the store
                yield from mirror_errors(mirror)
            m = convert(item)
            if m is not None:
                yield m


async def apump(source: Any, tracker: Tracker, mirror: Any = None) -> AsyncIterator[Message]:
    """The same for async code (asyncio or trio): the engine waits on a worker thread (without the
    GIL), in slices so that a cancelled task never leaves a thread blocked for long. `mirror`: a
    MirrorRun on this loop."""
    while True:
        # What is already there is taken on the loop (a non-blocking call); only an empty queue
        # costs a trip to a worker thread.
        batch = call(source.next_batch, BATCH, 0.0)
        if batch == []:
            batch = await in_thread(call, source.next_batch, BATCH, 0.25, abandon=True)
        if batch is None:
            if mirror is not None:
                await mirror.flush(source)
                for e in mirror_errors(mirror):
                    yield e
            return
        if mirror is not None:
            mirror.take(source)
        for item in batch:
            tracker.observe(item)
            if tracker.held is not None:
                if tracker.held is item:
                    continue
                for h in tracker.release(None):  # something followed: it goes out first
                    yield h
            if mirror is not None:
                if is_result(item):
                    await mirror.flush(source)
                for e in mirror_errors(mirror):
                    yield e
            m = convert(item)
            if m is not None:
                yield m


def env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false", "False")
