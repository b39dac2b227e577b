"""The official SDK's dict shapes (TypedDicts) and value sets (Literals): hook inputs and outputs,
MCP status and context usage answers, sandbox and thinking options, the fields of a system/init
message. They only describe the dicts the CLI and the callbacks exchange; ccbridge passes those
dicts through as they are. Re-exported by ccbridge.types.

No `from __future__ import annotations` here: TypedDict reads NotRequired/Required from evaluated
annotations only (with string annotations every key would count as required)."""

import sys
from typing import Any, Dict, FrozenSet, List, Literal, Optional, Union

if sys.version_info >= (3, 11):
    from typing import NotRequired, Required, TypedDict
else:  # before 3.11 the stdlib TypedDict ignores NotRequired and Required
    from typing_extensions import NotRequired, Required, TypedDict

__all__ = [
    "PermissionMode", "SettingSource", "EffortLevel", "SdkBeta", "SystemPromptPreset", "SystemPromptCustom",
    "SystemPromptFile", "ToolsPreset", "TaskBudget", "ThinkingDisplay", "ThinkingConfigAdaptive",
    "ThinkingConfigEnabled", "ThinkingConfigDisabled", "ThinkingConfig", "SandboxNetworkConfig",
    "SandboxIgnoreViolations", "SandboxSettings", "HookEffort", "BaseHookInput", "PreToolUseHookInput",
    "PostToolUseHookInput", "PostToolUseFailureHookInput", "UserPromptSubmitHookInput", "BackgroundTaskSummary",
    "SessionCronSummary", "StopHookInput", "SubagentStopHookInput", "PreCompactHookInput", "NotificationHookInput",
    "SubagentStartHookInput", "PermissionRequestHookInput", "HookInput", "PreToolUseHookSpecificOutput",
    "PostToolUseHookSpecificOutput", "PostToolUseFailureHookSpecificOutput", "UserPromptSubmitHookSpecificOutput",
    "UserPromptExpansionHookSpecificOutput", "SessionStartHookSpecificOutput", "NotificationHookSpecificOutput",
    "SubagentStartHookSpecificOutput", "PermissionRequestHookSpecificOutput", "PostToolBatchHookSpecificOutput",
    "StopHookSpecificOutput", "SubagentStopHookSpecificOutput", "PermissionDeniedHookSpecificOutput",
    "PreModelSwitchHookSpecificOutput", "PostModelSwitchHookSpecificOutput", "ElicitationHookSpecificOutput",
    "ElicitationResultHookSpecificOutput", "CwdChangedHookSpecificOutput", "FileChangedHookSpecificOutput",
    "WorktreeCreateHookSpecificOutput", "MessageDisplayHookSpecificOutput", "HookSpecificOutput",
    "AsyncHookJSONOutput", "SyncHookJSONOutput", "HookJSONOutput", "McpStdioServerConfig", "McpSSEServerConfig",
    "McpHttpServerConfig", "McpSdkServerConfig", "McpServerConfig", "McpSdkServerConfigStatus",
    "McpClaudeAIProxyServerConfig", "McpServerStatusConfig", "McpToolAnnotations", "McpToolInfo", "McpServerInfo",
    "McpServerConnectionStatus", "McpServerStatus", "McpStatusResponse", "ContextUsageCategory",
    "ContextUsageResponse", "AssistantMessageError", "ServerToolName", "MessageOriginKind",
    "TaskNotificationOriginSubkind", "MessageOrigin", "SystemInitMcpServer", "SystemInitPlugin",
    "SystemInitPluginError", "FastModeState", "FastModeDisabledReason", "SystemInitData", "TaskUsage",
    "TaskNotificationStatus", "TaskUpdatedStatus", "TERMINAL_TASK_STATUSES", "ModelUsage", "RateLimitStatus",
    "RateLimitType",
]

PermissionMode = Literal["default", "acceptEdits", "plan", "bypassPermissions", "dontAsk", "auto"]
SettingSource = Literal["user", "project", "local"]
EffortLevel = Literal["low", "medium", "high", "xhigh", "max"]
# Beta headers ClaudeAgentOptions.betas may name.
SdkBeta = Literal["context-1m-2025-08-07"]

# ---- options -------------------------------------------------------------------------------


class SystemPromptPreset(TypedDict):
    type: Literal["preset"]
    preset: Literal["claude_code"]
    append: NotRequired[str]
    exclude_dynamic_sections: NotRequired[bool]
    snapshot: NotRequired[bool]


class SystemPromptCustom(TypedDict):
    type: Literal["custom"]
    prompt: str
    snapshot: NotRequired[bool]


class SystemPromptFile(TypedDict):
    type: Literal["file"]
    path: str


class ToolsPreset(TypedDict):
    type: Literal["preset"]
    preset: Literal["claude_code"]


class TaskBudget(TypedDict):
    """A token budget the model is told about (--task-budget)."""

    total: int


ThinkingDisplay = Literal["summarized", "omitted"]


class ThinkingConfigAdaptive(TypedDict):
    type: Literal["adaptive"]
    display: NotRequired[ThinkingDisplay]


class ThinkingConfigEnabled(TypedDict):
    type: Literal["enabled"]
    budget_tokens: int
    display: NotRequired[ThinkingDisplay]


class ThinkingConfigDisabled(TypedDict):
    type: Literal["disabled"]


ThinkingConfig = Union[ThinkingConfigAdaptive, ThinkingConfigEnabled, ThinkingConfigDisabled]


class SandboxNetworkConfig(TypedDict, total=False):
    """The network isolation of sandboxed commands (SandboxSettings["network"])."""

    allowedDomains: List[str]
    deniedDomains: List[str]
    allowManagedDomainsOnly: bool
    allowUnixSockets: List[str]
    allowAllUnixSockets: bool
    allowLocalBinding: bool
    allowMachLookup: List[str]
    httpProxyPort: int
    socksProxyPort: int


# Command pattern ("*": every command) -> substrings of violation texts not to report.
SandboxIgnoreViolations = dict[str, list[str]]  # the builtin generics: equal to the SDK's alias


class SandboxSettings(TypedDict, total=False):
    """ClaudeAgentOptions.sandbox: sent to the CLI as the "sandbox" key of --settings."""

    enabled: bool
    autoAllowBashIfSandboxed: bool
    excludedCommands: List[str]
    allowUnsandboxedCommands: bool
    network: SandboxNetworkConfig
    ignoreViolations: SandboxIgnoreViolations
    enableWeakerNestedSandbox: bool


# ---- hook inputs ---------------------------------------------------------------------------


class HookEffort(TypedDict):
    level: str


class BaseHookInput(TypedDict):
    session_id: str
    transcript_path: str
    cwd: str
    permission_mode: NotRequired[str]
    prompt_id: NotRequired[str]
    effort: NotRequired[HookEffort]


class _SubagentContext(TypedDict, total=False):
    """Set on tool hooks that fire inside a subagent (agent_type also under --agent)."""

    agent_id: str
    agent_type: str


class PreToolUseHookInput(BaseHookInput, _SubagentContext):
    hook_event_name: Literal["PreToolUse"]
    tool_name: str
    tool_input: Dict[str, Any]
    tool_use_id: str


class PostToolUseHookInput(BaseHookInput, _SubagentContext):
    hook_event_name: Literal["PostToolUse"]
    tool_name: str
    tool_input: Dict[str, Any]
    tool_response: Any
    tool_use_id: str
    duration_ms: NotRequired[int]


class PostToolUseFailureHookInput(BaseHookInput, _SubagentContext):
    hook_event_name: Literal["PostToolUseFailure"]
    tool_name: str
    tool_input: Dict[str, Any]
    tool_use_id: str
    error: str
    is_interrupt: NotRequired[bool]
    duration_ms: NotRequired[int]


class UserPromptSubmitHookInput(BaseHookInput):
    hook_event_name: Literal["UserPromptSubmit"]
    prompt: str


class BackgroundTaskSummary(TypedDict):
    """A background task still running, as Stop and SubagentStop inputs list them."""

    id: str
    type: str
    status: str
    description: str
    command: NotRequired[str]
    agent_type: NotRequired[str]
    server: NotRequired[str]
    tool: NotRequired[str]
    name: NotRequired[str]


class SessionCronSummary(TypedDict):
    """A scheduled wakeup of the session, as Stop and SubagentStop inputs list them."""

    id: str
    schedule: str
    recurring: bool
    prompt: str


class _StopContext(TypedDict, total=False):
    """What Stop and SubagentStop inputs add: the last text, and the work still pending."""

    last_assistant_message: str
    background_tasks: List[BackgroundTaskSummary]
    session_crons: List[SessionCronSummary]


class StopHookInput(BaseHookInput, _StopContext):
    hook_event_name: Literal["Stop"]
    stop_hook_active: bool


class SubagentStopHookInput(BaseHookInput, _StopContext):
    hook_event_name: Literal["SubagentStop"]
    stop_hook_active: bool
    agent_id: str
    agent_transcript_path: str
    agent_type: str


class PreCompactHookInput(BaseHookInput):
    hook_event_name: Literal["PreCompact"]
    trigger: Literal["manual", "auto"]
    custom_instructions: Optional[str]


class NotificationHookInput(BaseHookInput):
    hook_event_name: Literal["Notification"]
    message: str
    title: NotRequired[str]
    notification_type: str


class SubagentStartHookInput(BaseHookInput):
    hook_event_name: Literal["SubagentStart"]
    agent_id: str
    agent_type: str


class PermissionRequestHookInput(BaseHookInput, _SubagentContext):
    hook_event_name: Literal["PermissionRequest"]
    tool_name: str
    tool_input: Dict[str, Any]
    permission_suggestions: NotRequired[List[Any]]


HookInput = Union[
    PreToolUseHookInput,
    PostToolUseHookInput,
    PostToolUseFailureHookInput,
    UserPromptSubmitHookInput,
    StopHookInput,
    SubagentStopHookInput,
    PreCompactHookInput,
    NotificationHookInput,
    SubagentStartHookInput,
    PermissionRequestHookInput,
]

# ---- hook outputs --------------------------------------------------------------------------


class PreToolUseHookSpecificOutput(TypedDict):
    hookEventName: Literal["PreToolUse"]
    permissionDecision: NotRequired[Literal["allow", "deny", "ask", "defer"]]
    permissionDecisionReason: NotRequired[str]
    updatedInput: NotRequired[Dict[str, Any]]
    additionalContext: NotRequired[str]


class PostToolUseHookSpecificOutput(TypedDict):
    hookEventName: Literal["PostToolUse"]
    additionalContext: NotRequired[str]
    updatedToolOutput: NotRequired[Any]
    updatedMCPToolOutput: NotRequired[Any]


class PostToolUseFailureHookSpecificOutput(TypedDict):
    hookEventName: Literal["PostToolUseFailure"]
    additionalContext: NotRequired[str]


class UserPromptSubmitHookSpecificOutput(TypedDict):
    hookEventName: Literal["UserPromptSubmit"]
    additionalContext: NotRequired[str]
    sessionTitle: NotRequired[str]
    suppressOriginalPrompt: NotRequired[bool]


class UserPromptExpansionHookSpecificOutput(TypedDict):
    hookEventName: Literal["UserPromptExpansion"]
    additionalContext: NotRequired[str]
    suppressOriginalPrompt: NotRequired[bool]


class SessionStartHookSpecificOutput(TypedDict):
    hookEventName: Literal["SessionStart"]
    additionalContext: NotRequired[str]
    initialUserMessage: NotRequired[str]
    sessionTitle: NotRequired[str]
    watchPaths: NotRequired[List[str]]
    reloadSkills: NotRequired[bool]


class NotificationHookSpecificOutput(TypedDict):
    hookEventName: Literal["Notification"]
    additionalContext: NotRequired[str]


class SubagentStartHookSpecificOutput(TypedDict):
    hookEventName: Literal["SubagentStart"]
    additionalContext: NotRequired[str]


class PermissionRequestHookSpecificOutput(TypedDict):
    hookEventName: Literal["PermissionRequest"]
    decision: Dict[str, Any]


class PostToolBatchHookSpecificOutput(TypedDict):
    hookEventName: Literal["PostToolBatch"]
    additionalContext: NotRequired[str]


class StopHookSpecificOutput(TypedDict):
    hookEventName: Literal["Stop"]
    additionalContext: NotRequired[str]


class SubagentStopHookSpecificOutput(TypedDict):
    hookEventName: Literal["SubagentStop"]
    additionalContext: NotRequired[str]


class PermissionDeniedHookSpecificOutput(TypedDict):
    hookEventName: Literal["PermissionDenied"]
    retry: NotRequired[bool]


class PreModelSwitchHookSpecificOutput(TypedDict):
    hookEventName: Literal["PreModelSwitch"]
    permissionDecision: NotRequired[Literal["allow", "deny", "ask"]]
    permissionDecisionReason: NotRequired[str]


class PostModelSwitchHookSpecificOutput(TypedDict):
    hookEventName: Literal["PostModelSwitch"]
    additionalContext: NotRequired[str]


class ElicitationHookSpecificOutput(TypedDict):
    hookEventName: Literal["Elicitation"]
    action: NotRequired[Literal["accept", "decline", "cancel"]]
    content: NotRequired[Dict[str, Any]]


class ElicitationResultHookSpecificOutput(TypedDict):
    hookEventName: Literal["ElicitationResult"]
    action: NotRequired[Literal["accept", "decline", "cancel"]]
    content: NotRequired[Dict[str, Any]]


class CwdChangedHookSpecificOutput(TypedDict):
    hookEventName: Literal["CwdChanged"]
    watchPaths: NotRequired[List[str]]


class FileChangedHookSpecificOutput(TypedDict):
    hookEventName: Literal["FileChanged"]
    watchPaths: NotRequired[List[str]]


class WorktreeCreateHookSpecificOutput(TypedDict):
    hookEventName: Literal["WorktreeCreate"]
    worktreePath: str


class MessageDisplayHookSpecificOutput(TypedDict):
    hookEventName: Literal["MessageDisplay"]
    displayContent: NotRequired[str]


HookSpecificOutput = Union[
    PreToolUseHookSpecificOutput,
    PostToolUseHookSpecificOutput,
    PostToolUseFailureHookSpecificOutput,
    UserPromptSubmitHookSpecificOutput,
    SessionStartHookSpecificOutput,
    NotificationHookSpecificOutput,
    SubagentStartHookSpecificOutput,
    PermissionRequestHookSpecificOutput,
    UserPromptExpansionHookSpecificOutput,
    PostToolBatchHookSpecificOutput,
    StopHookSpecificOutput,
    SubagentStopHookSpecificOutput,
    PermissionDeniedHookSpecificOutput,
    PreModelSwitchHookSpecificOutput,
    PostModelSwitchHookSpecificOutput,
    ElicitationHookSpecificOutput,
    ElicitationResultHookSpecificOutput,
    CwdChangedHookSpecificOutput,
    FileChangedHookSpecificOutput,
    WorktreeCreateHookSpecificOutput,
    MessageDisplayHookSpecificOutput,
]


# `async_` and `continue_` (Python keywords without the underscore) reach the CLI as "async" and
# "continue".
class AsyncHookJSONOutput(TypedDict):
    async_: Literal[True]
    asyncTimeout: NotRequired[int]


class SyncHookJSONOutput(TypedDict):
    continue_: NotRequired[bool]
    suppressOutput: NotRequired[bool]
    stopReason: NotRequired[str]
    decision: NotRequired[Literal["block"]]
    systemMessage: NotRequired[str]
    reason: NotRequired[str]
    hookSpecificOutput: NotRequired[HookSpecificOutput]


HookJSONOutput = Union[AsyncHookJSONOutput, SyncHookJSONOutput]

# ---- MCP servers and their status ----------------------------------------------------------


class McpStdioServerConfig(TypedDict):
    type: NotRequired[Literal["stdio"]]
    command: str
    args: NotRequired[List[str]]
    env: NotRequired[Dict[str, str]]


class McpSSEServerConfig(TypedDict):
    type: Literal["sse"]
    url: str
    headers: NotRequired[Dict[str, str]]


class McpHttpServerConfig(TypedDict):
    type: Literal["http"]
    url: str
    headers: NotRequired[Dict[str, str]]


class McpSdkServerConfig(TypedDict):
    """An in-process MCP server, made by create_sdk_mcp_server()."""

    type: Literal["sdk"]
    name: str
    instance: Any


McpServerConfig = Union[McpStdioServerConfig, McpSSEServerConfig, McpHttpServerConfig, McpSdkServerConfig]


class McpSdkServerConfigStatus(TypedDict):
    """An in-process server's config as a status answer shows it (without the instance)."""

    type: Literal["sdk"]
    name: str


class McpClaudeAIProxyServerConfig(TypedDict):
    type: Literal["claudeai-proxy"]
    url: str
    id: str


McpServerStatusConfig = Union[
    McpStdioServerConfig, McpSSEServerConfig, McpHttpServerConfig, McpSdkServerConfigStatus, McpClaudeAIProxyServerConfig
]


class McpToolAnnotations(TypedDict, total=False):
    readOnly: bool
    destructive: bool
    openWorld: bool


class McpToolInfo(TypedDict):
    name: str
    description: NotRequired[str]
    annotations: NotRequired[McpToolAnnotations]


class McpServerInfo(TypedDict):
    name: str
    version: str


McpServerConnectionStatus = Literal["connected", "failed", "needs-auth", "pending", "disabled"]


class McpServerStatus(TypedDict):
    """One server of ClaudeSDKClient.get_mcp_status()'s answer, with the CLI's key names."""

    name: str
    status: McpServerConnectionStatus
    serverInfo: NotRequired[McpServerInfo]
    error: NotRequired[str]
    config: NotRequired[McpServerStatusConfig]
    scope: NotRequired[str]
    tools: NotRequired[List[McpToolInfo]]


class McpStatusResponse(TypedDict):
    """ClaudeSDKClient.get_mcp_status()'s answer."""

    mcpServers: List[McpServerStatus]


class ContextUsageCategory(TypedDict):
    name: str
    tokens: int
    color: str
    isDeferred: NotRequired[bool]


class ContextUsageResponse(TypedDict):
    """ClaudeSDKClient.get_context_usage()'s answer (what the CLI's /context shows)."""

    categories: List[ContextUsageCategory]
    totalTokens: int
    maxTokens: int
    rawMaxTokens: int
    percentage: float
    model: str
    isAutoCompactEnabled: bool
    memoryFiles: List[Dict[str, Any]]
    mcpTools: List[Dict[str, Any]]
    agents: List[Dict[str, Any]]
    gridRows: List[List[Dict[str, Any]]]
    autoCompactThreshold: NotRequired[int]
    deferredBuiltinTools: NotRequired[List[Dict[str, Any]]]
    systemTools: NotRequired[List[Dict[str, Any]]]
    systemPromptSections: NotRequired[List[Dict[str, Any]]]
    slashCommands: NotRequired[Dict[str, Any]]
    skills: NotRequired[Dict[str, Any]]
    messageBreakdown: NotRequired[Dict[str, Any]]
    apiUsage: NotRequired[Optional[Dict[str, Any]]]


# ---- message fields ------------------------------------------------------------------------

AssistantMessageError = Literal[
    "authentication_failed", "billing_error", "rate_limit", "invalid_request", "server_error", "unknown"
]

# The tools the API runs itself (ServerToolUseBlock.name).
ServerToolName = Literal[
    "advisor",
    "web_search",
    "web_fetch",
    "code_execution",
    "bash_code_execution",
    "text_editor_code_execution",
    "tool_search_tool_regex",
    "tool_search_tool_bm25",
]

# MessageOrigin["kind"] values known today; newer CLIs may send others.
MessageOriginKind = Literal[
    "human",
    "channel",
    "peer",
    "task-notification",
    "coordinator",
    "unclassified",
    "observer",
    "auto-continuation",
    "observer-activity",
]
TaskNotificationOriginSubkind = Literal["scheduled-trigger", "peer-send-message"]

# Where a user message (or the turn of a ResultMessage) came from. The functional form because
# "from" is a keyword; only "kind" is always there.
MessageOrigin = TypedDict(
    "MessageOrigin",
    {
        "kind": Required[MessageOriginKind],
        "server": str,
        "from": str,
        "name": str,
        "fromSession": str,
        "senderTaskId": str,
        "body": str,
        "verifiedPeerPid": int,
        "subkind": TaskNotificationOriginSubkind,
    },
    total=False,
)


class SystemInitMcpServer(TypedDict):
    name: str
    status: str
    source: NotRequired[str]


class SystemInitPlugin(TypedDict):
    name: str
    path: str
    version: NotRequired[str]


class SystemInitPluginError(TypedDict):
    plugin: str
    type: str
    message: str
    path: NotRequired[str]


FastModeState = Literal["off", "cooldown", "on"]
FastModeDisabledReason = Literal[
    "free",
    "preference",
    "extra_usage_disabled",
    "network_error",
    "unknown",
    "not_first_party",
    "disabled_by_env",
    "model_not_allowed",
    "sdk_opt_in_required",
    "pending",
]


class SystemInitData(TypedDict):
    """SystemMessage.data of a system/init message (not validated: what the CLI sends)."""

    type: Literal["system"]
    subtype: Literal["init"]
    uuid: str
    session_id: str
    agents: NotRequired[List[str]]
    apiKeySource: str
    betas: NotRequired[List[str]]
    claude_code_version: str
    cwd: str
    tools: List[str]
    mcp_servers: List[SystemInitMcpServer]
    model: str
    permissionMode: PermissionMode
    slash_commands: List[str]
    terminal_slash_commands: NotRequired[List[str]]
    output_style: str
    skills: List[str]
    plugins: List[SystemInitPlugin]
    plugin_errors: NotRequired[List[SystemInitPluginError]]
    fast_mode_state: NotRequired[FastModeState]
    fast_mode_disabled_reason: NotRequired[FastModeDisabledReason]
    capabilities: NotRequired[List[str]]


class TaskUsage(TypedDict):
    total_tokens: int
    tool_uses: int
    duration_ms: int


TaskNotificationStatus = Literal["completed", "failed", "stopped"]
# task_updated reports a stopped task as "killed"; task_notification as "stopped".
TaskUpdatedStatus = Literal["pending", "running", "paused", "completed", "failed", "killed"]
# A task with one of these statuses (from either message) has ended.
TERMINAL_TASK_STATUSES: FrozenSet[str] = frozenset({"completed", "failed", "stopped", "killed"})


class ModelUsage(TypedDict):
    """One model's entry in ResultMessage.model_usage, with the CLI's key names."""

    inputTokens: int
    outputTokens: int
    cacheReadInputTokens: int
    cacheCreationInputTokens: int
    webSearchRequests: int
    costUSD: float
    contextWindow: int
    maxOutputTokens: int
    canonicalModel: NotRequired[str]
    provider: NotRequired[str]


RateLimitStatus = Literal["allowed", "allowed_warning", "rejected"]
RateLimitType = Literal["five_hour", "seven_day", "seven_day_opus", "seven_day_sonnet", "overage"]
