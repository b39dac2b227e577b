"""Message, content-block, permission and option types, with the official Python SDK's names and
fields (claude-agent-sdk), so code written for it works with small edits: change the import."""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, List, Literal, Optional, TypedDict, Union

from . import _shapes
from ._shapes import *  # noqa: F401,F403 - the SDK exports these at the top level too
from ._shapes import (
    AssistantMessageError,
    EffortLevel,
    HookInput,
    HookJSONOutput,
    McpServerConfig,
    MessageOrigin,
    ModelUsage,
    PermissionMode,
    RateLimitStatus,
    RateLimitType,
    SandboxSettings,
    SdkBeta,
    ServerToolName,
    SettingSource,
    SystemPromptCustom,
    SystemPromptFile,
    SystemPromptPreset,
    TaskBudget,
    TaskNotificationStatus,
    TaskUpdatedStatus,
    TaskUsage,
    ThinkingConfig,
    ToolsPreset,
)

__all__ = [
    "TextBlock", "ThinkingBlock", "ToolUseBlock", "ToolResultBlock", "ServerToolUseBlock", "ServerToolResultBlock",
    "ContentBlock", "UserMessage", "AssistantMessage", "SystemMessage", "TaskStartedMessage", "TaskProgressMessage",
    "TaskNotificationMessage", "TaskUpdatedMessage", "HookEventMessage", "MirrorErrorMessage", "DeferredToolUse",
    "ResultMessage",
    "StreamEvent", "RateLimitInfo", "RateLimitEvent", "ConversationResetMessage", "Message", "PermissionRuleValue",
    "PermissionUpdate", "ToolPermissionContext", "PermissionResultAllow", "PermissionResultDeny",
    "PermissionResult", "CanUseToolShadowedWarning", "CanUseTool", "HookEvent", "HookContext", "HookCallback",
    "HookMatcher", "SdkPluginConfig", "AgentDefinition", "ClaudeAgentOptions", "Transport",
]
__all__ += _shapes.__all__

# SessionStore types (the official SDK's types module has them too).
from . import session_store as _session_store  # noqa: E402
from .session_store import (  # noqa: E402,F401
    SessionKey,
    SessionListSubkeysKey,
    SessionStore,
    SessionStoreEntry,
    SessionStoreFlushMode,
    SessionStoreListEntry,
    SessionSummaryEntry,
)

__all__ += _session_store.TYPES

# ---- content blocks ------------------------------------------------------------------------


@dataclass
class TextBlock:
    text: str


@dataclass
class ThinkingBlock:
    thinking: str
    signature: str


@dataclass
class ToolUseBlock:
    id: str
    name: str
    input: Dict[str, Any]


@dataclass
class ToolResultBlock:
    tool_use_id: str
    content: Union[str, List[Dict[str, Any]], None] = None
    is_error: Optional[bool] = None


@dataclass
class ServerToolUseBlock:
    """A tool the API runs on the model's behalf (web_search, advisor, ...)."""

    id: str
    name: ServerToolName
    input: Dict[str, Any]


@dataclass
class ServerToolResultBlock:
    tool_use_id: str
    content: Dict[str, Any]


ContentBlock = Union[TextBlock, ThinkingBlock, ToolUseBlock, ToolResultBlock, ServerToolUseBlock, ServerToolResultBlock]

# ---- messages ------------------------------------------------------------------------------


@dataclass
class UserMessage:
    content: Union[str, List[ContentBlock]]
    uuid: Optional[str] = None
    parent_tool_use_id: Optional[str] = None
    tool_use_result: Optional[Dict[str, Any]] = None
    origin: Optional[MessageOrigin] = None


@dataclass
class AssistantMessage:
    content: List[ContentBlock]
    model: str
    parent_tool_use_id: Optional[str] = None
    error: Optional[AssistantMessageError] = None
    usage: Optional[Dict[str, Any]] = None
    message_id: Optional[str] = None
    stop_reason: Optional[str] = None
    session_id: Optional[str] = None
    uuid: Optional[str] = None
    user_message_uuid: Optional[str] = None
    user_message_uuids: Optional[List[str]] = None


@dataclass
class SystemMessage:
    """``data`` is the whole message; for subtype "init" it holds the session's metadata."""

    subtype: str
    data: Dict[str, Any]


@dataclass
class TaskStartedMessage(SystemMessage):
    task_id: str
    description: str
    uuid: str
    session_id: str
    tool_use_id: Optional[str] = None
    task_type: Optional[str] = None


@dataclass
class TaskProgressMessage(SystemMessage):
    task_id: str
    description: str
    usage: TaskUsage
    uuid: str
    session_id: str
    tool_use_id: Optional[str] = None
    last_tool_name: Optional[str] = None


@dataclass
class TaskNotificationMessage(SystemMessage):
    task_id: str
    status: TaskNotificationStatus
    output_file: str
    summary: str
    uuid: str
    session_id: str
    tool_use_id: Optional[str] = None
    usage: Optional[TaskUsage] = None


@dataclass
class TaskUpdatedMessage(SystemMessage):
    task_id: str
    patch: Dict[str, Any]
    status: Optional[TaskUpdatedStatus] = None
    session_id: Optional[str] = None
    uuid: Optional[str] = None


@dataclass
class HookEventMessage(SystemMessage):
    """system/hook_started and system/hook_response (with include_hook_events)."""

    hook_event_name: str = ""
    session_id: Optional[str] = None
    uuid: Optional[str] = None


@dataclass
class MirrorErrorMessage(SystemMessage):
    """A batch of transcript entries that ClaudeAgentOptions.session_store did not take (its
    append failed on every attempt, or timed out): the store may lack it, the run goes on (the
    CLI's own transcript is complete). Made by ccbridge, never sent by the CLI; subtype
    "mirror_error", ``data`` the whole message."""

    key: Optional[SessionKey] = None
    error: str = ""


@dataclass
class DeferredToolUse:
    id: str
    name: str
    input: Dict[str, Any]


@dataclass
class ResultMessage:
    subtype: str
    duration_ms: int
    duration_api_ms: int
    is_error: bool
    num_turns: int
    session_id: str
    stop_reason: Optional[str] = None
    total_cost_usd: Optional[float] = None
    usage: Optional[Dict[str, Any]] = None
    result: Optional[str] = None
    structured_output: Any = None
    model_usage: Optional[Dict[str, ModelUsage]] = None
    permission_denials: Optional[List[Any]] = None
    deferred_tool_use: Optional[DeferredToolUse] = None
    errors: Optional[List[str]] = None
    api_error_status: Optional[int] = None
    uuid: Optional[str] = None
    terminal_reason: Optional[str] = None
    origin: Optional[MessageOrigin] = None
    user_message_uuid: Optional[str] = None
    user_message_uuids: Optional[List[str]] = None


@dataclass
class StreamEvent:
    """A raw API streaming event (include_partial_messages)."""

    uuid: str
    session_id: str
    event: Dict[str, Any]
    parent_tool_use_id: Optional[str] = None
    user_message_uuid: Optional[str] = None
    user_message_uuids: Optional[List[str]] = None


@dataclass
class RateLimitInfo:
    status: RateLimitStatus
    resets_at: Optional[int] = None
    rate_limit_type: Optional[RateLimitType] = None
    utilization: Optional[float] = None
    overage_status: Optional[RateLimitStatus] = None
    overage_resets_at: Optional[int] = None
    overage_disabled_reason: Optional[str] = None
    raw: Dict[str, Any] = field(default_factory=dict)


@dataclass
class RateLimitEvent:
    rate_limit_info: RateLimitInfo
    uuid: str
    session_id: str


@dataclass
class ConversationResetMessage:
    new_conversation_id: str
    uuid: str
    session_id: str


Message = Union[
    UserMessage, AssistantMessage, SystemMessage, ResultMessage, StreamEvent, RateLimitEvent, ConversationResetMessage
]

# ---- permissions ---------------------------------------------------------------------------


@dataclass
class PermissionRuleValue:
    tool_name: str
    rule_content: Optional[str] = None


@dataclass
class PermissionUpdate:
    type: Literal["addRules", "replaceRules", "removeRules", "setMode", "addDirectories", "removeDirectories"]
    rules: Optional[List[PermissionRuleValue]] = None
    behavior: Optional[Literal["allow", "deny", "ask"]] = None
    mode: Optional[PermissionMode] = None
    directories: Optional[List[str]] = None
    destination: Optional[Literal["userSettings", "projectSettings", "localSettings", "session"]] = None

    def to_dict(self) -> Dict[str, Any]:
        """The wire form. Raises ValueError when a field the type needs is missing (the CLI would
        reject the update, and every other update in the same answer with it); the texts are the
        SDK's, which callers match on ("has no rules", "which this version")."""
        def missing(field: str, hint: str) -> ValueError:
            return ValueError(f"PermissionUpdate(type={self.type!r}) has no {field}. {hint}")

        out: Dict[str, Any] = {"type": self.type, "destination": self.destination or "session"}
        if self.type in ("addRules", "replaceRules", "removeRules"):
            if self.rules is None:
                raise missing("rules", "Set rules to a list of PermissionRuleValue.")
            if self.behavior is None:
                raise missing("behavior", "Set behavior to 'allow', 'deny' or 'ask'.")
            out["rules"] = [
                {"toolName": r.tool_name, **({} if r.rule_content is None else {"ruleContent": r.rule_content})}
                for r in self.rules
            ]
            out["behavior"] = self.behavior
        elif self.type == "setMode":
            if self.mode is None:
                raise missing("mode", "Set mode to a permission mode such as 'acceptEdits'.")
            out["mode"] = self.mode
        elif self.type in ("addDirectories", "removeDirectories"):
            if self.directories is None:
                raise missing("directories", "Set directories to a list of paths.")
            out["directories"] = list(self.directories)
        else:
            raise ValueError(f"PermissionUpdate has type {self.type!r}, which this version of the SDK cannot send. "
                             "Use one of addRules, replaceRules, removeRules, setMode, addDirectories or "
                             "removeDirectories, or upgrade the SDK if this update came from Claude Code.")
        return out

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "PermissionUpdate":
        rules = data.get("rules")
        return cls(
            type=data["type"],
            rules=None
            if rules is None
            else [PermissionRuleValue(tool_name=r["toolName"], rule_content=r.get("ruleContent")) for r in rules],
            behavior=data.get("behavior"),
            mode=data.get("mode"),
            directories=data.get("directories"),
            destination=data.get("destination"),
        )


@dataclass
class ToolPermissionContext:
    signal: Any = None
    suggestions: List[PermissionUpdate] = field(default_factory=list)
    tool_use_id: Optional[str] = None
    agent_id: Optional[str] = None
    blocked_path: Optional[str] = None
    decision_reason: Optional[str] = None
    title: Optional[str] = None
    display_name: Optional[str] = None
    description: Optional[str] = None


@dataclass
class PermissionResultAllow:
    behavior: Literal["allow"] = "allow"
    updated_input: Optional[Dict[str, Any]] = None
    updated_permissions: Optional[List[PermissionUpdate]] = None


@dataclass
class PermissionResultDeny:
    behavior: Literal["deny"] = "deny"
    message: str = ""
    interrupt: bool = False


PermissionResult = Union[PermissionResultAllow, PermissionResultDeny]


class CanUseToolShadowedWarning(UserWarning):
    """Issued when a run starts with can_use_tool and options that approve some tool calls before
    the callback is asked (permission_mode "bypassPermissions", or allowed_tools entries that allow
    a whole tool). Silence it with warnings.filterwarnings("ignore", category=CanUseToolShadowedWarning)."""
CanUseTool = Callable[[str, Dict[str, Any], ToolPermissionContext], Union[Awaitable[PermissionResult], PermissionResult]]

# ---- hooks ---------------------------------------------------------------------------------

HookEvent = str


class HookContext(TypedDict):
    signal: Any


# ccbridge also takes a plain function (returning the output rather than an awaitable).
HookCallback = Callable[[HookInput, Optional[str], HookContext], Union[Awaitable[HookJSONOutput], HookJSONOutput]]


@dataclass
class HookMatcher:
    matcher: Optional[str] = None
    hooks: List[HookCallback] = field(default_factory=list)
    timeout: Optional[float] = None
    on_failure: Optional[Literal["continue", "block"]] = None


# ---- plugins, agents ------------------------------------------------------------------------


class SdkPluginConfig(TypedDict):
    type: Literal["local"]
    path: str


@dataclass
class AgentDefinition:
    """A subagent for ClaudeAgentOptions.agents; sent in the initialize request, without the
    fields left None. The camelCase names are the CLI's."""

    description: str
    prompt: str
    tools: Optional[List[str]] = None
    disallowedTools: Optional[List[str]] = None  # noqa: N815
    model: Optional[str] = None  # an alias ("sonnet", "opus", "haiku", "inherit") or a model id
    skills: Optional[List[str]] = None
    memory: Optional[Literal["user", "project", "local"]] = None
    mcpServers: Optional[List[Union[str, Dict[str, Any]]]] = None  # noqa: N815 - names or {name: config}
    initialPrompt: Optional[str] = None  # noqa: N815
    maxTurns: Optional[int] = None  # noqa: N815
    background: Optional[bool] = None
    effort: Union[EffortLevel, int, None] = None
    permissionMode: Optional[PermissionMode] = None  # noqa: N815


# ---- options -------------------------------------------------------------------------------


@dataclass
class ClaudeAgentOptions:
    """The options of a run, with the SDK's names and defaults. ccbridge's own knobs are at the end."""

    tools: Union[List[str], ToolsPreset, None] = None
    allowed_tools: List[str] = field(default_factory=list)
    system_prompt: Union[str, SystemPromptPreset, SystemPromptCustom, SystemPromptFile, None] = None
    mcp_servers: Union[Dict[str, McpServerConfig], str, Path] = field(default_factory=dict)
    strict_mcp_config: bool = False
    permission_mode: Optional[PermissionMode] = None
    continue_conversation: bool = False
    resume: Optional[str] = None
    session_id: Optional[str] = None
    max_turns: Optional[int] = None
    max_budget_usd: Optional[float] = None
    disallowed_tools: List[str] = field(default_factory=list)
    model: Optional[str] = None
    fallback_model: Optional[str] = None
    betas: List[SdkBeta] = field(default_factory=list)
    permission_prompt_tool_name: Optional[str] = None
    cwd: Union[str, Path, None] = None
    cli_path: Union[str, Path, None] = None
    settings: Optional[str] = None
    add_dirs: List[Union[str, Path]] = field(default_factory=list)
    env: Dict[str, str] = field(default_factory=dict)
    extra_args: Dict[str, Optional[str]] = field(default_factory=dict)
    max_buffer_size: Optional[int] = None
    debug_stderr: Any = sys.stderr  # accepted for compatibility; use `stderr`
    stderr: Optional[Callable[[str], None]] = None
    can_use_tool: Optional[CanUseTool] = None
    hooks: Optional[Dict[HookEvent, List[HookMatcher]]] = None
    user: Optional[str] = None
    include_partial_messages: bool = False
    include_hook_events: bool = False
    forward_subagent_text: bool = False  # in initialize, so the run goes through a session
    verbatim_prompts: bool = False  # every user message sent is marked client_composed
    fork_session: bool = False
    resume_session_at: Optional[str] = None
    resume_drops_turn: Optional[str] = None
    agents: Optional[Dict[str, AgentDefinition]] = None
    setting_sources: Optional[List[SettingSource]] = None
    skills: Union[List[str], Literal["all"], None] = None
    sandbox: Optional[SandboxSettings] = None
    plugins: List[SdkPluginConfig] = field(default_factory=list)
    max_thinking_tokens: Optional[int] = None
    thinking: Optional[ThinkingConfig] = None
    effort: Optional[EffortLevel] = None
    output_format: Optional[Dict[str, Any]] = None
    enable_file_checkpointing: bool = False
    # A copy of every transcript line the CLI saves goes to session_store.append() (see
    # _mirror.py); resume and continue_conversation load the session from it.
    session_store: Optional[SessionStore] = None
    session_store_flush: SessionStoreFlushMode = "batched"  # or "eager": a flush after every frame
    load_timeout_ms: int = 60_000  # also each store call of a resume from session_store
    task_budget: Optional[TaskBudget] = None
    client_app: Optional[str] = None  # env CLAUDE_AGENT_SDK_CLIENT_APP (wins over env)
    # ccbridge's own
    inherit_env: Optional[Literal["all", "allow_list"]] = None  # None: "all", like the SDK
    pass_env: List[str] = field(default_factory=list)  # with "allow_list": more names, or prefixes "X_*"
    control_timeout_ms: int = 60_000
    max_buffered_messages: Optional[int] = None
    max_buffered_bytes: Optional[int] = None
    shutdown: Optional[Dict[str, int]] = None


# ---- transport -----------------------------------------------------------------------------


class Transport(ABC):
    """The official SDK's interface for carrying the CLI's stream-json to another place (a remote
    CLI, say). ccbridge's C++ engine starts and talks to the CLI itself, so it accepts no
    Transport: query() and ClaudeSDKClient refuse one (see docs/PYTHON.md). The class is here so
    that code defining one still imports."""

    @abstractmethod
    async def connect(self) -> None:
        """Starts the connection (a process, a socket)."""

    @abstractmethod
    async def write(self, data: str) -> None:
        """Sends raw text (JSON lines)."""

    @abstractmethod
    def read_messages(self) -> AsyncIterator[Dict[str, Any]]:
        """The parsed JSON messages that arrive."""

    @abstractmethod
    async def close(self) -> None:
        """Ends the connection; must not wait without bound."""

    @abstractmethod
    def is_ready(self) -> bool:
        """Whether messages can be sent and received."""

    @abstractmethod
    async def end_input(self) -> None:
        """Ends the input (closes stdin for a process)."""
